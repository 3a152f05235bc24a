"""Special functions composed of primitives: logsumexp, softmax, log_softmax (stable forms)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .declare import composite, declared_in, shape_of
from .elementwise import exp, greater, less, log, log1p, neg, stop_gradient, sub, where
from .structure import amax, reshape, sum


def _log_normalizer(x: Any, axis: int | Sequence[int] | None) -> tuple[Any, Any, Any, Any]:
    """(c, r, dominant, rho) with logsumexp(x) = c + r along `axis` (kept as length-1 axes), and
    no cancellation of 1 − p in the derivatives (log_softmax = x − c − r, logsumexp's Hessian
    diag(p) − ppᵀ); `dominant`: where pᵢ = softmax(x)ᵢ > ½ (at most one element of a group).

    Usually c = max x, a constant to the derivative, and r = log Σ exp(x − c). Where one element
    xₖ dominates (pₖ > ½: then Σ exp(x − max) < 2), c = xₖ itself and r = log1p(ρ), ρ =
    Σ_{j≠k} exp(xⱼ − xₖ): 1 − pₖ = ρ/(1 + ρ) is then computed as such, never as 1 − e/Σ (0 for a
    gap of 40 instead of 4e-18). `rho` is that ρ where one dominates (elsewhere Σ exp(x − max),
    not needed there): :func:`_softmax_minus_one` forms pₖ − 1 from it."""
    m = stop_gradient(amax(x, axis=axis, keepdims=True))
    e = exp(sub(x, m))
    total = sum(e, axis=axis, keepdims=True)
    # the masks choose between two forms of one smooth function: constants to the derivative
    # (a tie may go either way), compared on stopped values
    dominant = greater(stop_gradient(e), stop_gradient(0.5 * total))
    alone = less(stop_gradient(total), 2.0)  # one dominates (its term 1 > total/2)
    c = where(alone, sum(where(dominant, x, 0.0), axis=axis, keepdims=True), m)
    rest = sum(where(dominant, 0.0, exp(sub(x, c))), axis=axis, keepdims=True)
    return c, where(alone, log1p(rest), log(total)), dominant, rest


def _log_softmax_parts(x: Any, axis: int) -> tuple[Any, Any, Any]:
    """(log_softmax(x), dominant, rho) along `axis`: :func:`log_softmax` and the pieces of
    :func:`_log_normalizer` that :func:`_softmax_minus_one` needs."""
    c, r, dominant, rho = _log_normalizer(x, axis)
    # the dominant xₖ − c is 0: without it c's adjoint is not −1 + (1 − pₖ), which rounds to −1
    return sub(where(dominant, 0.0, sub(x, c)), r), dominant, rho


def _softmax_minus_one(rho: Any) -> Any:
    """pₖ − 1 = −ρ/(1 + ρ) for the dominant entry (pₖ > ½) of `_log_softmax_parts`, never
    1/(1 + ρ) − 1: that is 0 for logits [40, 0] (not −4.2e-18) and for float32 [20, 0] (not
    −2.06e-9). Meaningful only in a group that has a dominant entry."""
    return neg(rho / (1.0 + rho))


@composite
def logsumexp(x: Any, axis: int | Sequence[int] | None = None, keepdims: bool = False) -> Any:
    """log Σ exp(x), computed stably as m + log Σ exp(x − m) with m = max x (a constant to the
    derivative, which then is softmax(x) exactly).

    Where one element dominates, as xₖ + log1p(Σ_{j≠k} exp(xⱼ − xₖ)) (`_log_normalizer`)."""
    c, r, _, _ = _log_normalizer(x, axis)
    out = c + r
    if keepdims:
        return out
    nd = len(shape_of(x))
    drop = set(range(nd)) if axis is None else {
        a % max(nd, 1) for a in ((axis,) if isinstance(axis, int) else tuple(axis))}
    return reshape(out, tuple(n for i, n in enumerate(shape_of(out)) if i not in drop))


@composite
def log_softmax(x: Any, axis: int = -1) -> Any:
    """x − logsumexp(x) along `axis` (stable).

    The dominant element's entry is −log1p(ρ) (`_log_normalizer`): its 1 − p is not cancelled."""
    return _log_softmax_parts(x, axis)[0]


@composite
def softmax(x: Any, axis: int = -1) -> Any:
    """exp(x) / Σ exp(x) along `axis` (stable)."""
    return exp(log_softmax(x, axis=axis))


__all__ = declared_in(__name__)
