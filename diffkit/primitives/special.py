"""Special functions composed of primitives: logsumexp, softmax, log_softmax (stable forms)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .declare import composite, declared_in, shape_of
from .elementwise import exp, log, stop_gradient, sub
from .structure import amax, reshape, sum


@composite
def logsumexp(x: Any, axis: int | Sequence[int] | None = None, keepdims: bool = False) -> Any:
    """log Σ exp(x), computed stably as m + log Σ exp(x − m) with m = max x (a constant to the
    derivative, which then is softmax(x) exactly)."""
    m = stop_gradient(amax(x, axis=axis, keepdims=True))
    out = log(sum(exp(sub(x, m)), axis=axis, keepdims=True)) + m
    if keepdims:
        return out
    nd = len(shape_of(x))
    drop = set(range(nd)) if axis is None else {
        a % max(nd, 1) for a in ((axis,) if isinstance(axis, int) else tuple(axis))}
    return reshape(out, tuple(n for i, n in enumerate(shape_of(out)) if i not in drop))


@composite
def log_softmax(x: Any, axis: int = -1) -> Any:
    """x − logsumexp(x) along `axis` (stable)."""
    return sub(x, logsumexp(x, axis=axis, keepdims=True))


@composite
def softmax(x: Any, axis: int = -1) -> Any:
    """exp(x) / Σ exp(x) along `axis` (stable)."""
    return exp(log_softmax(x, axis=axis))


__all__ = declared_in(__name__)
