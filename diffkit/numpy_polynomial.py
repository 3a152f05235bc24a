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
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any

import numpy as np
import numpy.polynomial as npp

from .ir import Traced

#: (submodule of numpy.polynomial, function) whose layout depends on isinstance(x, np.ndarray)
EVALUATORS = (("polynomial", "polyval"), ("polynomial", "polyvalfromroots"),
              ("chebyshev", "chebval"), ("legendre", "legval"), ("laguerre", "lagval"),
              ("hermite", "hermval"), ("hermite_e", "hermeval"))


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


def install() -> None:
    """Wrap each of :data:`EVALUATORS` in its module (once)."""
    for module_name, name in EVALUATORS:
        module = getattr(npp, module_name)
        fn = getattr(module, name)
        if not hasattr(fn, "numpy_function"):
            setattr(module, name, with_tensor_layout(fn))


install()
