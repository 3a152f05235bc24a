"""Special functions composed of primitives: logsumexp, softmax, log_softmax (stable forms)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .declare import composite, declared_in, shape_of
from .elementwise import add, equal, exp, less, log1p, stop_gradient, sub, where
from .structure import amax, reshape, sum
from .ufuncs import logical_and


def _softmax_pieces(x: Any, axis: int | Sequence[int] | None
                    ) -> tuple[Any, Any, Any, Any, Any, Any]:
    """(d, e, ρ, m, top, below) along `axis` (kept as length-1 axes): m = max x (stopped), d = x − m,
    e = exp(d), top = where d = 0 (the maxima), below = Σ_{d<0} e, and ρ = Σ e − 1 without cancellation:
    ρ = Σ_{d<0} e + (Σ_{d=0} e − 1). The maxima's e are exactly 1, so the second sum is their
    count n − 1 exactly and ρ keeps every digit of Σ_{d<0} e, which 1 + ρ rounds away for one
    dominant maximum (logits [40, 0]: ρ = 4.2e-18). As functions of x, with m a constant, ρ is
    Σ exp(x − m) − 1 exactly, so e/(1 + ρ) = softmax(x) and log1p(ρ) = log Σ exp(x − m) have
    the right derivatives of every order, ties of the maximum included. One exp, no other
    transcendental: log_softmax(x) = d − log1p(ρ) in value."""
    m = stop_gradient(amax(x, axis=axis, keepdims=True))
    d = sub(x, m)
    e = exp(d)
    top = equal(stop_gradient(d), 0.0)
    below = sum(where(top, 0.0, e), axis=axis, keepdims=True)
    rho = add(below, sub(sum(where(top, e, 0.0), axis=axis, keepdims=True), 1.0))
    return d, e, rho, m, top, below


def _log_normalizer(x: Any, axis: int | Sequence[int] | None) -> tuple[Any, Any, Any]:
    """(c, r, dominant) with logsumexp(x) = c + r along `axis` (kept as length-1 axes) and
    log_softmax(x) = where(dominant, 0, x − c) − r, in the values of :func:`_softmax_pieces`
    (c = max x, r = log1p(ρ): cross_entropy's eager and compiled forms give the same bits) and
    with no cancellation of 1 − p in the derivatives (log_softmax's, logsumexp's Hessian
    diag(p) − ppᵀ); `dominant`: the maximum where it is alone and pₖ > ½ (ρ < 1).

    Usually c = max x is a constant to the derivative. Where xₖ dominates, c = xₖ itself and
    r = log1p(ρ) with ρ = Σ_{j≠k} exp(xⱼ − xₖ), written as (Σ_{j≠k} exp(xⱼ − m))·exp(m − xₖ)
    (value: the same ρ; one exp of a length-1 axis, not a second exp of x): then ∂/∂xₖ of
    log_softmaxₖ = −log1p(ρ) is ρ/(1 + ρ), never 1 − 1/(1 + ρ) (0 for a gap of 40)."""
    _, _, rho, m, top, below = _softmax_pieces(x, axis)
    alone = less(stop_gradient(rho), 1.0)  # one maximum, of probability > ½
    dominant = logical_and(top, alone)
    c = where(alone, sum(where(dominant, x, 0.0), axis=axis, keepdims=True), m)
    return c, log1p(where(alone, below * exp(sub(m, c)), rho)), dominant


def _log_softmax_values(x: Any, axis: int) -> Any:
    """log_softmax(x) = d − log1p(ρ) (:func:`_softmax_pieces`): the value of
    :func:`log_softmax`, bit for bit, for paths that need no derivative of it."""
    d, _, rho, _, _, _ = _softmax_pieces(x, axis)
    return sub(d, log1p(rho))


@composite
def logsumexp(x: Any, axis: int | Sequence[int] | None = None, keepdims: bool = False) -> Any:
    """log Σ exp(x), computed stably as m + log Σ exp(x − m) with m = max x (a constant to the
    derivative, which then is softmax(x) exactly).

    Where one element dominates, as xₖ + log1p(Σ_{j≠k} exp(xⱼ − xₖ)) (`_log_normalizer`)."""
    c, r, _ = _log_normalizer(x, axis)
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
    c, r, dominant = _log_normalizer(x, axis)
    # the dominant xₖ − c is 0: without it c's adjoint is not −1 + (1 − pₖ), which rounds to −1
    return sub(where(dominant, 0.0, sub(x, c)), r)


@composite
def softmax(x: Any, axis: int = -1) -> Any:
    """exp(x) / Σ exp(x) along `axis` (stable)."""
    return exp(log_softmax(x, axis=axis))


__all__ = declared_in(__name__)
