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


def _taking_text(make: Any) -> Any:
    """`make` (``diffkit.function.function`` or ``jit``, decorators of Python functions) as a
    decorator that also takes math text (parsed, never evaluated) and SymPy expressions."""
    def public(fn: Any = None, *, inputs: Sequence[str] | None = None) -> Any:
        def wrap(f: Any) -> Function:
            made = _text_or_sympy(f, inputs)  # in the order of `inputs` already
            return make(made) if made is not None else make(f, inputs=inputs)

        return wrap(fn) if fn is not None else wrap

    public.__name__ = public.__qualname__ = make.__name__
    public.__doc__ = make.__doc__
    return public


#: ``dk.function``: a Python function, math text or a SymPy expression as a Function (a Python
#: function is traced afresh at every call)
function = _taking_text(_functions.function)

#: ``dk.jit``: trace reuse (JAX's contract) for a Python function, math text or SymPy
jit = _taking_text(_functions.jit)


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
