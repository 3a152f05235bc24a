"""Every way in, one Function: a Function as it is, math text, a SymPy expression or a callable."""

from __future__ import annotations

from typing import Any

from .function import Function, function
from .parse import parse


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
    if isinstance(f, str):
        return parse(f)
    if type(f).__module__.startswith("sympy"):
        from .sympy_bridge import from_sympy  # imports SymPy: only for SymPy input

        return from_sympy(f)
    if callable(f):
        return function(f)
    raise TypeError(f"cannot differentiate a {type(f).__name__}: pass a Function, text, SymPy or "
                    "a callable")
