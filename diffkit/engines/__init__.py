"""The differentiation engines and the registry that maps ``method=`` names to them."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .base import Engine
from .finite import FiniteDifferenceEngine
from .forward import ForwardEngine
from .reverse import ReverseEngine


def _symbolic(**options: Any) -> Engine:
    from .symbolic import SymbolicEngine

    return SymbolicEngine(**options)


def _auto(**options: Any) -> Engine:
    from .auto import AutoEngine

    return AutoEngine(**options)


#: method name -> engine factory. "fd" takes scheme=/step=; the fd-* names fix the scheme.
METHODS: dict[str, Callable[..., Engine]] = {
    "reverse": ReverseEngine,
    "forward": ForwardEngine,
    "symbolic": _symbolic,
    "fd": FiniteDifferenceEngine,
    "fd-forward": lambda **o: FiniteDifferenceEngine(scheme="forward", **o),
    "fd-central": lambda **o: FiniteDifferenceEngine(scheme="central", **o),
    "fd-complex": lambda **o: FiniteDifferenceEngine(scheme="complex", **o),
    "fd-richardson": lambda **o: FiniteDifferenceEngine(scheme="richardson", **o),
    "auto": _auto,
    "compiled": lambda **o: __import__("diffkit.engines.compiled", fromlist=["_"]).CompiledEngine(**o),
}

#: The four engines, one name each (what "all" means on the command line).
BASE_METHODS = ("fd", "symbolic", "forward", "reverse")


def get_engine(method: str | Engine, **options: Any) -> Engine:
    """The engine for a method name (or an Engine passed through)."""
    if isinstance(method, Engine):
        return method
    factory = METHODS.get(method)
    if factory is None:
        import difflib

        close = difflib.get_close_matches(str(method), METHODS, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise ValueError(f"unknown method {method!r}: choose from {', '.join(METHODS)}{hint}")
    try:
        return factory(**options)
    except TypeError as exc:
        raise TypeError(f"method {method!r} does not take these options: {sorted(options)} ({exc})") from None


__all__ = [
    "BASE_METHODS",
    "METHODS",
    "Engine",
    "FiniteDifferenceEngine",
    "ForwardEngine",
    "ReverseEngine",
    "get_engine",
]
