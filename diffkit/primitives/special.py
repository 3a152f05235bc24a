"""Special functions composed of primitives: logsumexp, softmax, log_softmax (stable forms)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..errors import ShapeError
from .declare import composite, declared_in, normalize_axes, shape_of
from .elementwise import add, equal, exp, less, log1p, stop_gradient, sub, where
from .structure import amax, reshape, sum
from .ufuncs import isfinite, logical_and


def _row_axes(name: str, x: Any, axis: int | Sequence[int] | None
              ) -> tuple[int | Sequence[int] | None, bool]:
    """(axis, empty) for a reduction of `name` (logsumexp, softmax, log_softmax) over `axis`:
    a 0-d x is one row of one element, as SciPy and PyTorch read it, so its axis 0 or −1 is
    all axes (None); `empty` where the reduction is over no element (log Σ of an empty sum).
    An axis out of bounds is a ShapeError naming `name` and the shape."""
    shape = shape_of(x)
    if not shape and axis is not None and any(axis == a for a in (0, -1, (0,), (-1,))):
        axis = None
    try:
        axes = normalize_axes(axis, len(shape))
    except ShapeError as e:
        raise ShapeError(f"{name}: {e} (shape {shape})") from None
    reduced = shape if axes is None else tuple(shape[a] for a in axes)
    return axis, 0 in reduced


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

    Where one element dominates, as xₖ + log1p(Σ_{j≠k} exp(xⱼ − xₖ)) (`_log_normalizer`).
    Where the maximum is not finite the value is that maximum, as in SciPy, PyTorch and JAX:
    −∞ for a row of −∞ only (a fully masked row), +∞ where a +∞ is present, NaN for a NaN; such
    rows are replaced by zeros before the stable form, which would take ∞ − ∞ there (no NaN, no
    RuntimeWarning); their derivative is where's strong zero (PyTorch, JAX: NaN). An empty
    reduction is −∞ (the log of an empty sum); a 0-d x is a row of one element."""
    axis, empty = _row_axes("logsumexp", x, axis)
    if empty:  # Σ over no element: 0 of the reduced shape (x's dtype), whose log is −∞
        out = sum(x, axis=axis, keepdims=True) + float("-inf")
    else:
        m = stop_gradient(amax(x, axis=axis, keepdims=True))
        finite = isfinite(m)
        c, r, _ = _log_normalizer(where(finite, x, 0.0), axis)
        out = where(finite, c + r, m)
    if keepdims:
        return out
    nd = len(shape_of(x))
    drop = set(range(nd)) if axis is None else {
        a % max(nd, 1) for a in ((axis,) if isinstance(axis, int) else tuple(axis))}
    return reshape(out, tuple(n for i, n in enumerate(shape_of(out)) if i not in drop))


@composite
def log_softmax(x: Any, axis: int = -1) -> Any:
    """x − logsumexp(x) along `axis` (stable).

    The dominant element's entry is −log1p(ρ) (`_log_normalizer`): its 1 − p is not cancelled.
    A 0-d x is a row of one element (0); an empty row is empty."""
    axis, empty = _row_axes("log_softmax", x, axis)
    if empty:
        return sub(x, logsumexp(x, axis=axis, keepdims=True))
    c, r, dominant = _log_normalizer(x, axis)
    # the dominant xₖ − c is 0: without it c's adjoint is not −1 + (1 − pₖ), which rounds to −1
    return sub(where(dominant, 0.0, sub(x, c)), r)


@composite
def softmax(x: Any, axis: int = -1) -> Any:
    """exp(x) / Σ exp(x) along `axis` (stable); a 0-d x is a row of one element (1)."""
    _row_axes("softmax", x, axis)  # names softmax in an error about the axis
    return exp(log_softmax(x, axis=axis))


__all__ = declared_in(__name__)
