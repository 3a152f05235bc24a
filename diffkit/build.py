"""Every way in, one Function: a Function as it is, math text, a SymPy expression or a callable."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from . import function as _functions
from .function import Function
from .parse import parse


def _text_or_sympy(f: Any, inputs: Sequence[str] | None) -> Function | None:
    """Math text parsed (never evaluated) or a SymPy expression translated; None otherwise."""
    if isinstance(f, str):
        return parse(f, inputs)
    if type(f).__module__.startswith("sympy"):
        from .sympy_bridge import from_sympy  # imports SymPy: only for SymPy input

        return from_sympy(f, inputs=inputs) if inputs else from_sympy(f)
    return None


def function(fn: Any = None, *, inputs: Sequence[str] | None = None) -> Any:
    """``dk.function``: :func:`diffkit.function.function` (a decorator making a Python function a
    Function, traced afresh at every call), which also takes math text and SymPy expressions, as
    every transformation does.

    Example:
        >>> import diffkit as dk
        >>> dk.grad(dk.function("x^2*y"))(3.0, 2.0)
        (12.0, 9.0)
    """
    def wrap(f: Any) -> Function:
        made = _text_or_sympy(f, inputs)
        return made if made is not None else _functions.function(f, inputs=inputs)

    return wrap(fn) if fn is not None else wrap


def jit(fn: Any = None, *, inputs: Sequence[str] | None = None) -> Any:
    """``dk.jit``: :func:`diffkit.function.jit` (trace reuse, JAX's contract), which also takes
    math text and SymPy expressions.

    Example:
        >>> import diffkit as dk
        >>> dk.grad(dk.jit("x^2*y"))(3.0, 2.0)
        (12.0, 9.0)
    """
    def wrap(f: Any) -> Function:
        made = _text_or_sympy(f, inputs)
        return _functions.jit(made if made is not None else f, inputs=inputs)

    return wrap(fn) if fn is not None else wrap


def as_function(f: Any) -> Function:
    """A Function from a Function, math text, a SymPy expression or a Python callable.

    Example:
        >>> import diffkit as dk
        >>> from diffkit.build import as_function
        >>> as_function("x*y").inputs
        ('x', 'y')
    """
    if isinstance(f, Function):
        return f
    if (made := _text_or_sympy(f, None)) is not None:
        return made
    if callable(f):
        return _functions.function(f)
    raise TypeError(f"cannot differentiate a {type(f).__name__}: pass a Function, text, SymPy or "
                    "a callable")
