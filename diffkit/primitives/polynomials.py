"""Polynomials, convolution, interpolation and grids, as composites of the table's primitives.

Every function here repeats NumPy's arithmetic step by step with the table's records (``mul``,
``add``, ``getitem``, ``concatenate``, ``where``, ``reshape``, ``broadcast_to``), so every engine
differentiates it through those records, in every argument that carries values: coefficients and
points of ``polyval``, both operands of ``convolve`` and ``correlate``, and ``x``, ``xp``, ``fp``
(and ``left``, ``right``) of ``interp``.

Conventions (the tests check each):

* **Values.** ``polyval``, ``polyder``, ``polyint``, ``polyadd``, ``polysub``, ``meshgrid`` and
  ``interp`` give NumPy's values bit for bit (``polyval`` runs NumPy's Horner loop from
  ``zeros_like(x)``). ``convolve``, ``correlate`` and ``polymul`` (a full convolution) add the
  shifted products in NumPy's order, one term of the shorter operand after another: NumPy's
  values bit for bit where NumPy adds them so, in float64 while the shorter operand has at most
  15 elements; NumPy hands longer sums (and float32 sums at the edges of 'same' and 'full') to
  BLAS's dot, whose blocked order cannot be reproduced: there the values agree within a few ulps
  of the sum of the magnitudes of the products. A result that is exactly zero may differ from
  NumPy's in the sign of the zero.
* **Indices from values.** ``interp``'s segment of each point (np.searchsorted on the plain
  values) and ``polymul``'s trimming of leading zero coefficients (NumPy's poly1d) are read from
  the values: they are constants, and a trace they read is marked value-dependent (it holds at
  this point only), exactly as ``Tensor.argmax``. Trimmed leading zeros have derivative 0.
* **interp at knots.** NumPy returns ``fp[j]`` at a knot ``x == xp[j]``; its derivative is the
  one-sided derivative of the segment that starts there (the right-hand derivative,
  ∂/∂x = slope of segment j); at the last knot, the derivative of the last segment (the
  left-hand one). Outside ``[xp[0], xp[-1]]`` the value is ``left``/``right`` (default ``fp[0]``,
  ``fp[-1]``), with derivative 0 in ``x``. Finite differences straddle a knot and see the mean of
  both sides there: test them between knots.
"""

from __future__ import annotations

import builtins
import operator
from typing import Any

import numpy as np

from ..errors import MissingRuleError, ShapeError
from ..ir import Traced
from ..primitive import read_plain
from .assembly import _as_array
from .declare import composite, declared_in, shape_of
from .declare import dtype_of as _dtype
from .declare import xp_of as _xp
from .elementwise import conj, equal, where
from .reductions import _as_dtype
from .structure import broadcast_to, concatenate, getitem, reshape
from .ufuncs import isfinite, isnan, logical_and, mod

# ----- helpers ------------------------------------------------------------------------------------


def _one_d(name: str, v: Any, what: str) -> Any:
    """`v` as a 1-d array (0-d becomes shape (1,), as NumPy's atleast_1d); more axes refused."""
    v = _as_array(v)
    nd = len(shape_of(v))
    if nd == 0:
        return reshape(v, (1,))
    if nd > 1:
        raise ShapeError(f"{name}: {what} must be 1-d, got shape {shape_of(v)}: apply it to each "
                         "row (a loop over the 1-d rows)")
    return v


def _order(name: str, m: Any, other: str) -> int:
    m = operator.index(m) if not isinstance(m, float) else int(m)
    if m < 0:
        raise ShapeError(f"{name}: the order m must be non-negative, got {m} (see {other})")
    return m


def _scalar_result(out: Any, *args: Any) -> Any:
    """A 0-d plain result as NumPy returns it (a NumPy scalar)."""
    if not builtins.any(isinstance(a, Traced) for a in (out, *args)) and not shape_of(out):
        return np.asarray(out)[()]
    return out


# ----- polynomials --------------------------------------------------------------------------------


@composite(numpy=("polyval",))
def polyval(p: Any, x: Any) -> Any:
    """The polynomial p[0]·xᴺ⁻¹ + … + p[N−1] at `x`, by NumPy's Horner loop: y = zeros_like(x),
    then y = y·x + p[i] for each coefficient in turn, so the values are NumPy's bit for bit.
    ``p`` and ``x`` are both differentiable; ``p`` may have more axes (each p[i] broadcasts
    against x, as in NumPy)."""
    p, x = _as_array(p), _as_array(x)
    if not shape_of(p):
        raise ShapeError("polyval: p must be an array of coefficients (at least 1-d), got a 0-d "
                         "value: pass [c] for a constant polynomial")
    y = _xp(x).zeros(shape_of(x), dtype=_dtype(x))  # NumPy's zeros_like(x)
    for i in range(shape_of(p)[0]):
        y = y * x + p[i]
    return y


@composite(numpy=("polyder",))
def polyder(p: Any, m: int = 1) -> Any:
    """The coefficients of the m-th derivative of the polynomial p (highest power first), NumPy's
    steps: p[:-1]·[n, n−1, …, 1], m times (an empty array once the degree is exhausted)."""
    m = _order("polyder", m, "polyint")
    p = _as_array(p)
    if len(shape_of(p)) != 1:
        raise ShapeError(f"polyder: p must be a 1-d array of coefficients, got shape "
                         f"{shape_of(p)}")
    for _ in range(m):
        n = shape_of(p)[0] - 1
        p = getitem(p, (slice(None, -1),)) * np.arange(n, 0, -1)
    return p


@composite(numpy=("polyint",))
def polyint(p: Any, m: int = 1, k: Any = None) -> Any:
    """The coefficients of the m-th antiderivative of the polynomial p, NumPy's steps:
    concatenate(p / [n, n−1, …, 1], [k[i]]) for i = 0 … m−1; the integration constants `k` (0 by
    default; one value for every step) are differentiable too."""
    m = _order("polyint", m, "polyder")
    k = np.zeros(m, float) if k is None else k
    k = _as_array(k)
    if not shape_of(k):
        k = reshape(k, (1,))
    if len(shape_of(k)) != 1:
        raise ShapeError(f"polyint: k must be a scalar or a 1-d array, got shape {shape_of(k)}")
    if shape_of(k)[0] == 1 and m > 1:
        k = k[0] * np.ones(m, float)
    if shape_of(k)[0] < m:
        raise ShapeError("polyint: k must be a scalar or a rank-1 array of length 1 or >m "
                         f"(got {shape_of(k)[0]} constants for m={m})")
    p = _as_array(p)
    if len(shape_of(p)) != 1:
        raise ShapeError(f"polyint: p must be a 1-d array of coefficients, got shape "
                         f"{shape_of(p)}")
    for i in range(m):
        p = concatenate([p / np.arange(shape_of(p)[0], 0, -1), reshape(k[i], (1,))], axis=0)
    return p


def _aligned(name: str, a1: Any, a2: Any) -> tuple[Any, Any]:
    """a1 and a2 (atleast_1d) with the shorter one preceded by zeros of its dtype (NumPy's
    polyadd/polysub steps)."""
    a1, a2 = _one_d(name, a1, "a1"), _one_d(name, a2, "a2")
    diff = shape_of(a2)[0] - shape_of(a1)[0]
    if diff > 0:
        a1 = concatenate([_xp(a1).zeros(diff, _dtype(a1)), a1], axis=0)
    elif diff < 0:
        a2 = concatenate([_xp(a2).zeros(-diff, _dtype(a2)), a2], axis=0)
    return a1, a2


@composite(numpy=("polyadd",))
def polyadd(a1: Any, a2: Any) -> Any:
    """The sum of two polynomials (coefficients, highest power first): the shorter is preceded by
    zeros, then the arrays are added (NumPy's steps; no trimming)."""
    a1, a2 = _aligned("polyadd", a1, a2)
    return a1 + a2


@composite(numpy=("polysub",))
def polysub(a1: Any, a2: Any) -> Any:
    """The difference a1 − a2 of two polynomials (coefficients, highest power first): the shorter
    is preceded by zeros, then the arrays are subtracted (NumPy's steps; no trimming)."""
    a1, a2 = _aligned("polysub", a1, a2)
    return a1 - a2


def _trimmed(a: Any) -> Any:
    """NumPy's poly1d(a) coefficients: leading zeros dropped (read from the values: the trace is
    marked value-dependent), [0] when nothing is left."""
    a = _one_d("polymul", a, "each polynomial")
    values = read_plain(a)
    nonzero = np.flatnonzero(values != 0)
    if nonzero.size == 0:
        return _xp(a).zeros(1, dtype=_dtype(a))
    return getitem(a, (slice(int(nonzero[0]), None),)) if nonzero[0] else a


@composite(numpy=("polymul",))
def polymul(a1: Any, a2: Any) -> Any:
    """The product of two polynomials: NumPy's convolve of their coefficients after poly1d's
    trimming of leading zeros (read from the values; the trimmed zeros get derivative 0)."""
    return convolve(_trimmed(a1), _trimmed(a2))


# ----- convolution --------------------------------------------------------------------------------

_MODES = {"valid": 0, "same": 1, "full": 2, 0: 0, 1: 1, 2: 2}


def _mode(name: str, mode: Any) -> int:
    key = mode if isinstance(mode, str) else operator.index(mode) if isinstance(
        mode, int | np.integer) else None
    if key not in _MODES:
        raise ShapeError(f"{name}: mode must be one of 'valid', 'same', or 'full' (got {mode!r})")
    return _MODES[key]


def _operand(name: str, v: Any, what: str) -> Any:
    v = _one_d(name, v, what)
    if shape_of(v)[0] == 0:
        raise ShapeError(f"{name}: {what} cannot be empty")
    return v


def _correlated(long: Any, short: Any, mode: int) -> Any:
    """NumPy's _pyarray_correlate of 1-d `long` (n₁ elements) and `short` (n₂ ≤ n₁):
    out[t] = Σⱼ long[t − left + j]·short[j], the sum over the j where the index is in range, in
    increasing j; left = 0, n₂ // 2, n₂ − 1 for the modes 'valid', 'same', 'full'.

    One slice, one product, one sum per element of `short` (a concatenation with zeros where the
    term covers only part of the output)."""
    n1, n2 = shape_of(long)[0], shape_of(short)[0]
    left = (0, n2 // 2, n2 - 1)[mode]
    right = (0, n2 - left - 1, n2 - 1)[mode]
    size = n1 - n2 + 1 + left + right
    dtype = np.result_type(_dtype(long), _dtype(short))
    zeros = _xp(long, short).zeros
    out: Any = zeros(size, dtype=dtype)  # NumPy's sum starts at 0
    for j in range(n2):
        lo, hi = builtins.max(0, j - left), builtins.min(n1, size + j - left)
        if hi <= lo:
            continue
        term = getitem(long, (slice(lo, hi),)) * short[j]
        start = lo + left - j  # where long[lo] lands in the output
        if start > 0 or start + hi - lo < size:
            parts = [zeros(start, dtype=dtype)] if start > 0 else []
            parts.append(term)
            if start + hi - lo < size:
                parts.append(zeros(size - start - hi + lo, dtype=dtype))
            term = concatenate(parts, axis=0)
        out = out + term
    return out


def _reversed(v: Any) -> Any:
    return getitem(v, (slice(None, None, -1),))


@composite(numpy=("convolve",))
def convolve(a: Any, v: Any, mode: Any = "full") -> Any:
    """The discrete linear convolution (a ∗ v)[k] = Σₘ a[m]·v[k − m] of two 1-d arrays, in
    NumPy's modes: 'full' (all n + m − 1 overlaps), 'same' (max(n, m) values, centred as NumPy
    centres them), 'valid' (full overlaps only). NumPy's steps: the longer operand correlated
    with the reversed shorter one; both are differentiable (complex values too: only products
    and sums). See the module docstring for how the values compare with NumPy's."""
    a, v = _operand("convolve", a, "a"), _operand("convolve", v, "v")
    m = _mode("convolve", mode)
    if shape_of(v)[0] > shape_of(a)[0]:
        a, v = v, a
    return _correlated(a, _reversed(v), m)


@composite(numpy=("correlate",))
def correlate(a: Any, v: Any, mode: Any = "valid") -> Any:
    """The cross-correlation c[k] = Σₙ a[n + k]·conj(v[n]) of two 1-d arrays, in NumPy's modes
    ('valid' by default, 'same', 'full'). NumPy's steps: when v is longer the roles swap and the
    result is reversed. Both operands are differentiable. See the module docstring for how the
    values compare with NumPy's."""
    a, v = _operand("correlate", a, "a"), _operand("correlate", v, "v")
    m = _mode("correlate", mode)
    if _dtype(v).kind == "c":
        v = conj(v)
    if shape_of(v)[0] > shape_of(a)[0]:
        return _reversed(_correlated(v, a, m))
    return _correlated(a, v, m)


# ----- interpolation ------------------------------------------------------------------------------


def _float64(v: Any) -> Any:
    """`v` in float64, as NumPy's interp computes (exact: a widening)."""
    if isinstance(v, Traced):
        return _as_dtype(v, np.dtype(np.float64))
    return _xp(v).asarray(v, dtype=np.float64)


def _end_value(name: str, given: Any, default: Any) -> Any:
    """left or right: a scalar (differentiable), or fp's end value."""
    if given is None:
        return default
    v = _as_array(given)
    if shape_of(v):
        raise ShapeError(f"interp: {name} must be a scalar, got shape {shape_of(v)}")
    if _dtype(v).kind == "c":
        raise MissingRuleError(f"interp: a complex {name} is not supported by diffkit: "
                               "interpolate the real and imaginary parts separately")
    return _float64(v)


@composite(numpy=("interp",))
def interp(x: Any, xp: Any, fp: Any, left: Any = None, right: Any = None,
           period: Any = None) -> Any:
    """Piecewise linear interpolation of the points (xp, fp), xp increasing, at `x`, NumPy's
    values bit for bit: with j the segment of x (xp[j] ≤ x < xp[j+1]), slope·(x − xp[j]) + fp[j]
    with slope = (fp[j+1] − fp[j]) / (xp[j+1] − xp[j]) (NumPy's fallbacks where that is NaN
    included); fp[j] at a knot, fp[−1] at the last one; `left` (default fp[0]) below xp[0],
    `right` (default fp[−1]) above xp[−1]; NaN at a NaN x. With `period`, x and xp are reduced
    modulo the period and xp sorted, as NumPy does (left and right are then ignored).

    x, xp, fp, left and right are all differentiable; the segment index is read from the values
    (the trace is marked value-dependent). At a knot the derivative is that of the segment
    starting there (at the last knot, of the last segment): see the module docstring. Complex
    values are refused by name (MissingRuleError)."""
    x, xp, fp = _as_array(x), _as_array(xp), _as_array(fp)
    for what, v in (("x", x), ("xp", xp), ("fp", fp)):
        if _dtype(v).kind == "c":
            raise MissingRuleError(
                f"interp: complex {what} is not supported by diffkit: interpolate the real and "
                "imaginary parts separately (np.interp(x, xp, fp.real) + 1j * np.interp(x, xp, "
                "fp.imag))")
    if len(shape_of(xp)) != 1 or len(shape_of(fp)) != 1:
        raise ShapeError(f"interp: xp and fp must be 1-d sequences, got shapes {shape_of(xp)} "
                         f"and {shape_of(fp)}")
    if shape_of(xp)[0] == 0:
        raise ShapeError("interp: the array of sample points xp is empty")
    if shape_of(xp)[0] != shape_of(fp)[0]:
        raise ShapeError(f"interp: fp and xp are not of the same length ({shape_of(fp)[0]} and "
                         f"{shape_of(xp)[0]})")
    x, xp, fp = _float64(x), _float64(xp), _float64(fp)
    if period is not None:
        x, xp, fp = _periodic(x, xp, fp, period)
        left = right = None
    out = _interpolated(x, xp, fp, _end_value("left", left, fp[0]),
                        _end_value("right", right, fp[-1]))
    return _scalar_result(out, x, xp, fp, left, right)


def _periodic(x: Any, xp: Any, fp: Any, period: Any) -> tuple[Any, Any, Any]:
    """NumPy's periodic normalization: x and xp modulo the period, xp sorted (the order read
    from the values), one knot added at each end from the other end."""
    if isinstance(period, Traced):
        period = period.concrete("interp's period")
    period = builtins.abs(float(period))
    if period == 0:
        raise ShapeError("interp: period must be a non-zero value")
    x, xp = mod(x, period), mod(xp, period)
    order = np.argsort(read_plain(xp))
    xp, fp = getitem(xp, (order,)), getitem(fp, (order,))
    xp = concatenate([getitem(xp, (slice(-1, None),)) - period, xp,
                      getitem(xp, (slice(0, 1),)) + period], axis=0)
    fp = concatenate([getitem(fp, (slice(-1, None),)), fp, getitem(fp, (slice(0, 1),))], axis=0)
    return x, xp, fp


def _interpolated(x: Any, xp: Any, fp: Any, lval: Any, rval: Any) -> Any:
    """NumPy's compiled interp, element by element as whole-array steps (see interp)."""
    xv, xpv = read_plain(x), read_plain(xp)
    n = xpv.shape[0]
    below, above, nan_x = xv < xpv[0], xv > xpv[-1], np.isnan(xv)
    if n == 1:  # NumPy: left below, right above, fp[0] elsewhere (NaN x included)
        out = broadcast_to(fp[0], xv.shape)
    else:
        j = np.clip(np.searchsorted(xpv, xv, side="right") - 1, 0, n - 2)
        xl, xr = getitem(xp, (j,)), getitem(xp, (j + 1,))
        fl, fr = getitem(fp, (j,)), getitem(fp, (j + 1,))
        with np.errstate(divide="ignore", invalid="ignore"):
            slope = (fr - fl) / (xr - xl)
            r1 = slope * (x - xl) + fl
            r2 = slope * (x - xr) + fr  # the same line, written from its right end
            # NumPy: r1; where that is NaN, r2; where that is NaN too and fp[j] == fp[j+1], fp[j]
            out = where(isnan(r1), where(logical_and(isnan(r2), equal(fl, fr)), fl, r2), r1)
            finite = isfinite(slope)
        last = xv == xpv[-1]
        knot = (xv == xpv[j]) & ~last
        if knot.any():  # NumPy's fp[j] (r1 there, where the slope is finite: its derivative)
            out = where(knot, where(finite, r1, fl), out)
        if last.any():  # NumPy's fp[-1] (r2 of the last segment, where its slope is finite)
            out = where(last, where(finite, r2, fr), out)
        if nan_x.any():
            out = where(nan_x, x, out)
    if below.any():
        out = where(below, lval, out)
    if above.any():
        out = where(above, rval, out)
    return out


# ----- grids --------------------------------------------------------------------------------------


@composite(numpy=("meshgrid",))
def meshgrid(*xi: Any, copy: bool = True, sparse: bool = False, indexing: str = "xy") -> Any:
    """Coordinate arrays from 1-d coordinate vectors (each input is flattened), NumPy's shapes:
    with indexing 'xy' (Cartesian) the first two axes are swapped, (len(x2), len(x1), …); with
    'ij' (matrix), (len(x1), len(x2), …); `sparse` keeps each one reshaped (length 1 along the
    other axes) instead of broadcast. A tuple of reshape/broadcast_to results (NumPy's list for
    sparse=True, copy=False); `copy` changes nothing (a traced value is never written in
    place)."""
    if indexing not in ("xy", "ij"):
        raise ShapeError(f"meshgrid: valid values for `indexing` are 'xy' and 'ij' (got "
                         f"{indexing!r})")
    ndim = len(xi)
    ones = (1,) * ndim
    out = [reshape(_as_array(x), ones[:i] + (-1,) + ones[i + 1:]) for i, x in enumerate(xi)]
    if indexing == "xy" and ndim > 1:
        out[0] = reshape(out[0], (1, -1) + ones[2:])
        out[1] = reshape(out[1], (-1, 1) + ones[2:])
    if not sparse:
        shape = np.broadcast_shapes(*(shape_of(o) for o in out))
        out = [o if shape_of(o) == shape else broadcast_to(o, shape) for o in out]
    elif not copy:
        return out
    return tuple(out)


__all__ = declared_in(__name__)
