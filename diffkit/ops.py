"""The public operations: every primitive of the table, and composites built from them exactly.

The primitives themselves (``dk.sin``, ``dk.sum``, …) are the records of
:mod:`diffkit.primitives`, re-exported here; this module adds what is composed of them, with
NumPy's meaning. Like the primitives, every
function works on plain NumPy/CuPy arrays (it evaluates), on traced values (it records nodes) and
on Python scalars::

    >>> import diffkit as dk
    >>> float(dk.sin(0.0) + dk.exp(0.0))
    1.0
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from . import primitives as _primitives
from .primitive import NUMPY_NAMES, PUBLIC
from .primitives import *
from .primitives import (
    amax,
    exp,
    greater,
    log,
    matmul,
    mul,
    reshape,
    shape_of,
    stop_gradient,
    sub,
    sum,
    sum_to,
    transpose,
    where,
)
from .primitives import (
    pow as _pow,
)

__all__ = ["dot", "leaky_relu", "log_softmax", "logsumexp", "power", "softmax", "square", "sum_to"]
__all__ += _primitives.__all__


def _composite(*numpy: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register a composite as public and as the target of these NumPy names."""
    def register(fn: Callable[..., Any]) -> Callable[..., Any]:
        PUBLIC[fn.__name__] = fn
        for name in numpy:
            NUMPY_NAMES[name] = fn
        return fn

    return register


power = _pow
PUBLIC["sum_to"] = sum_to


@_composite("square")
def square(x: Any) -> Any:
    """x²."""
    return mul(x, x)


@_composite("dot")
def dot(a: Any, b: Any) -> Any:
    """NumPy's dot: a product for scalars, matmul up to 2-D operands, and for N-D operands the sum
    over the last axis of `a` and the second-to-last of `b`
    (``dot(a, b)[i, j, k, m] = Σ a[i, j, :]·b[k, :, m]``).

    Example:
        >>> import diffkit as dk, numpy as np
        >>> dk.dot(np.ones((2, 3)), np.ones((4, 3, 5))).shape
        (2, 4, 5)
    """
    sa, sb = shape_of(a), shape_of(b)
    if not sa or not sb:
        return mul(a, b)
    if len(sb) < 3:
        return matmul(a, b)
    n = sb[-2]
    if sa[-1] != n:
        from .errors import ShapeError

        raise ShapeError(f"dot: shapes {sa} and {sb} do not align ({sa[-1]} != {n})")
    rest = sb[:-2] + sb[-1:]
    b_first = transpose(b, (len(sb) - 2, *range(len(sb) - 2), len(sb) - 1))  # (n, *rest)
    prod = matmul(reshape(a, (-1, n)), reshape(b_first, (n, -1)))
    return reshape(prod, sa[:-1] + rest)


@_composite()
def leaky_relu(x: Any, negative_slope: float = 0.01) -> Any:
    """x where x > 0, else negative_slope·x (derivative at 0: negative_slope)."""
    return where(greater(x, 0.0), x, mul(negative_slope, x))


@_composite()
def logsumexp(x: Any, axis: int | Sequence[int] | None = None, keepdims: bool = False) -> Any:
    """log Σ exp(x), computed stably as m + log Σ exp(x − m) with m = max x."""
    m = stop_gradient(amax(x, axis=axis, keepdims=True))
    s = log(sum(exp(sub(x, m)), axis=axis, keepdims=True))
    out = s + m
    if keepdims:
        return out
    ax = axis if axis is None else ((axis,) if isinstance(axis, int) else tuple(axis))
    nd = len(shape_of(x))
    drop = set(range(nd)) if ax is None else {a % max(nd, 1) for a in ax}
    return reshape(out, tuple(n for i, n in enumerate(shape_of(out)) if i not in drop))


@_composite()
def log_softmax(x: Any, axis: int = -1) -> Any:
    """x − logsumexp(x) along `axis` (stable)."""
    return sub(x, logsumexp(x, axis=axis, keepdims=True))


@_composite()
def softmax(x: Any, axis: int = -1) -> Any:
    """exp(x) / Σ exp(x) along `axis` (stable)."""
    return exp(log_softmax(x, axis=axis))
