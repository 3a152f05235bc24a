"""The differentiation engines and the registry that maps ``method=`` names to them."""

from __future__ import annotations

import difflib
from collections.abc import Callable
from typing import Any

from .base import Engine
from .finite import FiniteDifferenceEngine
from .forward import ForwardEngine
from .reverse import ReverseEngine


def _symbolic(**options: Any) -> Engine:
    from .symbolic import SymbolicEngine  # imports SymPy: only when asked for

    return SymbolicEngine(**options)


def _auto(**options: Any) -> Engine:
    from .auto import AutoEngine

    return AutoEngine(**options)


def _compiled(**options: Any) -> Engine:
    from .compiled import CompiledEngine

    return CompiledEngine(**options)


def _fd(scheme: str) -> Callable[..., Engine]:
    def make(**options: Any) -> Engine:
        if "scheme" in options:
            raise TypeError(f"method 'fd-{scheme}' fixes the scheme: use method='fd', scheme=...")
        return FiniteDifferenceEngine(scheme=scheme, **options)

    return make


#: method name -> engine factory. "fd" takes scheme=/step=; the fd-* names fix the scheme.
METHODS: dict[str, Callable[..., Engine]] = {
    "reverse": ReverseEngine,
    "forward": ForwardEngine,
    "symbolic": _symbolic,
    "fd": FiniteDifferenceEngine,
    "fd-forward": _fd("forward"),
    "fd-central": _fd("central"),
    "fd-complex": _fd("complex"),
    "fd-richardson": _fd("richardson"),
    "auto": _auto,
    "compiled": _compiled,
}

#: The four engines, one name each (what "all" means on the command line).
BASE_METHODS = ("fd", "symbolic", "forward", "reverse")


def get_engine(method: str | Engine, **options: Any) -> Engine:
    """The engine for a method name (or an Engine passed through); unknown options are an error."""
    if isinstance(method, Engine):
        if options:
            raise TypeError(f"options {sorted(options)} cannot be applied to an engine instance")
        return method
    factory = METHODS.get(method) if isinstance(method, str) else None
    if factory is None:
        close = difflib.get_close_matches(str(method), METHODS, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise ValueError(f"unknown method {method!r}: choose from {', '.join(METHODS)}{hint}")
    try:
        return factory(**options)
    except TypeError as exc:
        raise TypeError(f"method {method!r} does not take the option(s) {sorted(options)} "
                        f"({exc})") from None


__all__ = [
    "BASE_METHODS",
    "METHODS",
    "Engine",
    "FiniteDifferenceEngine",
    "ForwardEngine",
    "ReverseEngine",
    "get_engine",
]
