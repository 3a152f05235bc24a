"""numpy.polynomial's evaluation functions (``polyval``, ``chebval``, …) on traced values.

Each of them gives the coefficients ``c`` one trailing axis per axis of ``x`` — so that a 2-D
``c`` (one polynomial per column) is evaluated at every point of ``x``, shape
``c.shape[1:] + x.shape`` (``tensor=True``, the default) — only ``if isinstance(x, np.ndarray)``.
A traced x is no ndarray, so that layout was skipped and another function, the column-by-point
one of ``tensor=False``, was traced and differentiated: a silent wrong value and gradient.
NumPy does not dispatch these functions (they are not array functions), so diffkit wraps them
in their modules when it is imported: on a traced x the coefficients get the layout NumPy gives
them for an array x; on anything else NumPy's own function runs, unchanged. (A name imported
from numpy.polynomial before diffkit was is NumPy's function, unwrapped; NumPy's original held
elsewhere, as ``Polynomial._val``, no longer pickles by name.)

NumPy's fitting, root-finding, companion-matrix and division functions (``chebfit``,
``Polynomial.fit``, ``polyroots``, ``Polynomial.roots``, ``polydiv``, …) compute with LAPACK and
in-place writes that a trace cannot follow: on a traced argument they raise a MissingRuleError
naming the function, as ``np.polyfit`` and ``np.roots`` do (an error from inside NumPy named a
line the user never wrote). Division by a one-term series (``p / 2.0``, ``p // x``) runs no long
division and is traced (``p / x`` of a traced scalar x too, which NumPy's ``/`` takes for a number
only); the series' ``//``, ``%`` and ``divmod``, which turn the division's error
into Python's bare "unsupported operand", raise it instead.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any

import numpy as np
import numpy.polynomial as npp

from .errors import MissingRuleError
from .ir import Traced

#: (submodule of numpy.polynomial, function) whose layout depends on isinstance(x, np.ndarray)
EVALUATORS = (("polynomial", "polyval"), ("polynomial", "polyvalfromroots"),
              ("chebyshev", "chebval"), ("legendre", "legval"), ("laguerre", "lagval"),
              ("hermite", "hermval"), ("hermite_e", "hermeval"))


#: prefix of each submodule's functions, and the class whose static methods (_fit, _roots, _div)
#: hold them
PREFIXES = (("polynomial", "poly", "Polynomial"), ("chebyshev", "cheb", "Chebyshev"),
            ("legendre", "leg", "Legendre"), ("laguerre", "lag", "Laguerre"),
            ("hermite", "herm", "Hermite"), ("hermite_e", "herme", "HermiteE"))
#: (suffix of the function, the class's static method holding it, the method users call)
UNTRACEABLE = (("fit", "_fit", "fit"), ("roots", "_roots", "roots"), ("div", "_div", "//"),
               ("companion", None, None))


def _holds_traced(a: Any) -> bool:
    """A traced value, or an object array of them (a polynomial's coef built from traced values)."""
    if isinstance(a, np.ndarray) and a.dtype == object:
        return any(isinstance(v, Traced) for v in a.flat)
    return isinstance(a, Traced)


def _terms(c: Any) -> int:
    """How many coefficients series `c` has as given (a number: one)."""
    shape = getattr(c, "shape", None)
    if shape is not None:
        return shape[0] if len(shape) else 1
    return len(c) if isinstance(c, list | tuple) else 1


def _no_long_division(c1: Any, c2: Any, *_: Any) -> bool:
    """True where NumPy's division of series c1 by c2 runs no long division (whose in-place
    writes a trace cannot follow): a one-term divisor (c1 / c2[-1]) or a shorter dividend."""
    return _terms(c2) == 1 or _terms(c1) < _terms(c2)


def refusing_traced(original: Callable[..., Any], label: str, hint: str = "",
                    traceable: Callable[..., bool] | None = None) -> Callable[..., Any]:
    """`original`, raising a MissingRuleError naming `label` (and `hint`, another way) when an
    argument is traced, unless `traceable` says NumPy computes these arguments with operations
    a trace follows."""

    @functools.wraps(original)
    def call(*args: Any, **kwargs: Any) -> Any:
        if any(_holds_traced(a) for a in (*args, *kwargs.values())) and \
                not (traceable is not None and traceable(*args, **kwargs)):
            raise MissingRuleError(
                f"diffkit cannot differentiate {label} yet (NumPy computes it on plain arrays, "
                "with LAPACK or in-place writes, which a trace cannot follow): use method='fd', which treats "
                f"the function as a black box{hint}")
        return original(*args, **kwargs)

    call.numpy_function = original  # type: ignore[attr-defined]
    return call


def with_tensor_layout(original: Callable[..., Any]) -> Callable[..., Any]:
    """`original` (x, c, tensor=True) — its second parameter named as NumPy names it (c, or r for
    polyvalfromroots) — giving c the trailing axes of a traced x itself. Untraced calls go
    straight to NumPy's function (one type test)."""
    signature = inspect.signature(original)

    @functools.wraps(original)
    def evaluate(*args: Any, **kwargs: Any) -> Any:
        x = args[0] if args else kwargs.get("x")
        if not isinstance(x, Traced):
            return original(*args, **kwargs)
        bound = signature.bind(*args, **kwargs)
        bound.apply_defaults()
        x, c, tensor = bound.args
        if tensor:
            c = c if isinstance(c, Traced) else np.asarray(c)
            c = c.reshape(tuple(c.shape) + (1,) * len(x.shape)) if len(c.shape) else c
        return original(x, c, tensor)

    evaluate.numpy_function = original  # type: ignore[attr-defined]
    return evaluate


def reraising(original: Callable[..., Any], divide: Callable[[Any, Any], Any]) -> Callable[..., Any]:
    """ABCPolyBase's ``__divmod__`` (`original`; ``//``, ``%`` and ``/`` call it), which turns
    any error of the division into NotImplemented — Python's bare "unsupported operand" — made to
    raise that error (the MissingRuleError naming the division) where traced values are divided:
    `divide(series, other)` runs the division again outside NumPy's ``except``."""

    @functools.wraps(original)
    def divmod_(self: Any, other: Any) -> Any:
        out = original(self, other)
        if out is NotImplemented and (_holds_traced(self.coef) or
                                      _holds_traced(getattr(other, "coef", other))):
            divide(self, other)  # raises the error NumPy's method swallowed
        return out

    divmod_.numpy_function = original  # type: ignore[attr-defined]
    return divmod_


def dividing_by_traced(original: Callable[..., Any]) -> Callable[..., Any]:
    """ABCPolyBase's ``__truediv__`` (`original`), which takes a ``numbers.Number`` only (a
    traced value is none): a traced scalar divides as a number does, by ``//`` (NumPy's body)."""

    @functools.wraps(original)
    def truediv(self: Any, other: Any) -> Any:
        if isinstance(other, Traced) and len(other.shape) == 0:
            return self.__floordiv__(other)
        return original(self, other)

    truediv.numpy_function = original  # type: ignore[attr-defined]
    return truediv


#: ABCPolyBase's division methods, and how each divides (series, other) (as NumPy's body does)
DIVISIONS = (("__divmod__", lambda s, o: s._div(s.coef, s._get_coefficients(o))),
             ("__rdivmod__", lambda s, o: s._div(o, s.coef)))


def install() -> None:
    """Wrap each of :data:`EVALUATORS` and :data:`UNTRACEABLE` in its module (once)."""
    for module_name, name in EVALUATORS:
        module = getattr(npp, module_name)
        fn = getattr(module, name)
        if not hasattr(fn, "numpy_function"):
            setattr(module, name, with_tensor_layout(fn))
    for module_name, prefix, class_name in PREFIXES:
        module = getattr(npp, module_name)
        cls = getattr(npp, class_name)
        for suffix, static, method in UNTRACEABLE:
            fn = getattr(module, prefix + suffix)
            if hasattr(fn, "numpy_function"):
                continue
            name = f"numpy.polynomial.{module_name}.{prefix}{suffix}"
            hint = (f", or fit by np.linalg.lstsq(numpy.polynomial.{module_name}.{prefix}vander("
                    "x, deg), y, rcond=None)[0], which diffkit differentiates"
                    if suffix == "fit" else "")
            traceable = _no_long_division if suffix == "div" else None
            setattr(module, prefix + suffix, refusing_traced(fn, name, hint, traceable))
            if static is not None:
                via = f"{class_name}.{method}" if method[0].isalpha() else f"{class_name} {method}"
                setattr(cls, static, staticmethod(
                    refusing_traced(fn, f"{name} ({via})", hint, traceable)))
    base = npp._polybase.ABCPolyBase
    for name, divide in DIVISIONS:
        if not hasattr(getattr(base, name), "numpy_function"):
            setattr(base, name, reraising(getattr(base, name), divide))
    if not hasattr(base.__truediv__, "numpy_function"):
        base.__truediv__ = dividing_by_traced(base.__truediv__)


install()
