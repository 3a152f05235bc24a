"""Reductions that ignore NaN, and quantiles, as composites of the table's primitives.

Conventions (shared by every engine; tests/test_numpy_nanfunctions.py checks each):

* **NaN entries are replaced through a constant mask**, as NumPy's nan-functions do (replace,
  then reduce): ``where(isnan(x), identity, x)`` with the operation's identity (0 for sums, 1 for
  products, ∓∞ for max/min; sorted last for medians and quantiles). ``isnan`` is a constant to
  every engine, so a NaN entry gets derivative 0 and the others the derivative of the reduction
  of the rest. The values are NumPy's, step by step.
* **All-NaN slices** (and, for ``nanvar``/``nanstd``, slices with ddof or fewer numbers; for
  ``quantile``/``percentile``, slices holding a NaN): NumPy answers nan (with a RuntimeWarning,
  except for quantile's propagated NaN). diffkit treats such a slice as NumPy's *invalid*
  operation, as it treats ``np.mean`` of an empty array or ``log(-1)``: where NumPy's errstate
  says ``invalid="raise"`` — inside ``dk.grad`` & co., ``dk.function(...)(x)`` and their traces
  — it is a ``DomainError`` naming the function; elsewhere (plain arrays through ``dk.nanmax``,
  the eager Tensor tape) it is NumPy's nan and NumPy's RuntimeWarning.
* **Quantiles** sort each slice (``sort``: tied values share the derivative equally) and then
  repeat NumPy's ``_quantile``/``_lerp`` arithmetic: the virtual index (n − 1)·q, its floor and
  the next index clipped to the slice, γ its fractional part, and ``a + (b − a)·γ`` where
  γ < ½, ``b − (b − a)·(1 − γ)`` where γ ≥ ½. ``q`` is not differentiated (a traced ``q`` is
  refused by name). Methods: "linear" (NumPy's default), "lower", "higher", "nearest",
  "midpoint"; the others are refused by name. The nan-versions sort NaN last and use each
  slice's count of numbers, which is read from the values: their traces hold at this point only.
"""

from __future__ import annotations

import builtins
import math
from typing import Any

import numpy as np

from ..errors import DomainError, InputTypeError, ShapeError, TracingError
from ..ir import Traced
from ..primitive import read_plain
from .declare import composite, declared_in, shape_of
from .declare import dtype_of as _dtype
from .declare import normalize_axes as _axes
from .declare import xp_of as _xp
from .elementwise import abs as _abs
from .elementwise import conj, equal, norm_sqrt, real
from .elementwise import where as _where  # (NumPy's keyword `where` is a parameter below)
from .reductions import (
    _array,
    _check_dtype,
    _ddof,
    _flag,
    _invalid,
    _scalar,
    amin,
    cumprod,
    cumsum,
    median,
    prod,
    sort,
    std,
    var,
)
from .structure import _kept_shape, _reduce_in, _refuse, amax, getitem, mean, reshape, transpose
from .structure import sum as _sum
from .ufuncs import isnan, logical_not

_NOVALUE = np._NoValue  # NumPy's "argument not given"

# ----- helpers -----------------------------------------------------------------------------------


def _inexact(x: Any) -> bool:
    """Whether `x` can hold NaN (NumPy's nan-functions are the plain ones otherwise)."""
    return _dtype(x).kind in "fc"


def _const(value: Any, like: Any) -> Any:
    """A 0-d constant in `like`'s array module and dtype."""
    return _xp(like).asarray(value, dtype=_dtype(like))


def _filled(x: Any, value: float) -> tuple[Any, Any]:
    """NumPy's ``_replace_nan``: (x with its NaN entries replaced by `value`, the NaN mask). The
    mask is a constant (``isnan`` has no derivative), so a NaN entry's derivative is 0."""
    mask = isnan(x)
    return _where(mask, _const(value, x), x), mask


def _counts(mask: Any, axes: tuple[int, ...] | None, keepdims: bool, like: Any) -> Any:
    """The number of non-NaN entries of each reduced group, in `like`'s real dtype (a constant;
    exact below 2**24 in float32, where NumPy's float64 division rounds to the same value)."""
    dt = np.finfo(_dtype(like)).dtype
    ones = _where(mask, np.zeros((), dt), np.ones((), dt))
    return _sum(ones, axes, keepdims=keepdims)


def _nan_where(bad: Any, value: Any) -> Any:
    """`value` with nan where `bad` (a constant: nothing to differentiate there); a plain 0-d
    result as the NumPy scalar NumPy returns."""
    return _scalar(_where(bad, _xp(value).asarray(np.nan, dtype=_dtype(value)), value))


def _finish_keywords(name: str, x: Any, dtype: Any, out: Any, **unsupported: Any) -> None:
    _refuse(name, out=out, **unsupported)
    if dtype is not None:
        _check_dtype(name, x, dtype)


# ----- sums, products, means ---------------------------------------------------------------------


def _nan_reduce(name: str, reduce: Any, fill: float, a: Any, axis: Any, dtype: Any, out: Any,
                keepdims: Any, initial: Any, where_: Any) -> Any:
    """`reduce` over `axis` with NaN entries replaced by `fill` (the reduction's identity)."""
    x = _array(a)
    _refuse(name, out=out, initial=initial, where=where_)
    axes, keep = _axes(axis, len(shape_of(x))), _flag(keepdims)
    return reduce(_filled(x, fill)[0] if _inexact(x) else x, axes, dtype, keepdims=keep)


@composite(numpy=("nansum",))
def nansum(a: Any, axis: Any = None, dtype: Any = None, out: Any = None, keepdims: Any = _NOVALUE,
           initial: Any = _NOVALUE, where: Any = _NOVALUE) -> Any:
    """Σ over `axis` of the entries that are not NaN (NaN counted as 0), NumPy's values.

    NumPy's steps: ``sum(where(isnan(a), 0, a))``. A NaN entry has derivative 0; an all-NaN
    slice sums to 0 (NumPy's value)."""
    return _nan_reduce("nansum", _sum, 0.0, a, axis, dtype, out, keepdims, initial, where)


@composite(numpy=("nanprod",))
def nanprod(a: Any, axis: Any = None, dtype: Any = None, out: Any = None,
            keepdims: Any = _NOVALUE, initial: Any = _NOVALUE, where: Any = _NOVALUE) -> Any:
    """Π over `axis` of the entries that are not NaN (NaN counted as 1), NumPy's values.

    NumPy's steps: ``prod(where(isnan(a), 1, a))``, with ``prod``'s derivatives, exact at zero
    factors. A NaN entry has derivative 0; an all-NaN slice has product 1 (NumPy's value)."""
    return _nan_reduce("nanprod", prod, 1.0, a, axis, dtype, out, keepdims, initial, where)


@composite(numpy=("nanmean",))
def nanmean(a: Any, axis: Any = None, dtype: Any = None, out: Any = None,
            keepdims: Any = _NOVALUE, *, where: Any = _NOVALUE) -> Any:
    """Mean over `axis` of the entries that are not NaN, Σ xᵢ / (their count), NumPy's values.

    NumPy's steps: the sum with NaN replaced by 0, divided by the count. A NaN entry has
    derivative 0. An all-NaN slice: NumPy's nan and "Mean of empty slice" (a DomainError inside
    dk.grad & co., as np.mean of an empty array: see the module's conventions)."""
    x = _array(a)
    _refuse("nanmean", out=out, where=where)
    axes, keep = _axes(axis, len(shape_of(x))), _flag(keepdims)
    if not _inexact(x):
        return mean(x, axes, dtype, keepdims=keep)
    if dtype is not None and np.dtype(dtype).kind not in "fc":
        raise InputTypeError("numpy.nanmean: if a is inexact, then dtype must be inexact "
                             f"(NumPy's TypeError), got dtype={np.dtype(dtype)}")
    arr, mask = _filled(x, 0.0)
    total = _sum(arr, axes, dtype, keepdims=keep)  # NumPy sums in dtype= and divides there
    cnt = _counts(mask, axes, keep, total)
    empty = equal(cnt, 0.0)
    _invalid("nanmean", empty, "an all-NaN slice", "Mean of empty slice")
    return _nan_where(empty, total / _where(empty, _const(1.0, cnt), cnt))


def _nan_variance(name: str, a: Any, axis: Any, dtype: Any, out: Any, ddof: Any, keepdims: Any,
                  where_: Any, mean_: Any, correction: Any) -> tuple[Any, Any, Any, Any]:
    """nanvar's steps: (Σ|d|² with d = x − mean over the numbers and 0 at NaN, its divisor
    n − ddof made safe, the bad slices (n − ddof ≤ 0), the axes)."""
    x = _array(a)
    _finish_keywords(name, x, dtype, out, where=where_, mean=mean_)
    ddof = _ddof(ddof, correction)
    axes, keep = _axes(axis, len(shape_of(x))), _flag(keepdims)
    arr, mask = _filled(x, 0.0)
    cnt = _counts(mask, axes, True, x)
    avg = _sum(arr, axes, keepdims=True) / _where(equal(cnt, 0.0), _const(1.0, cnt), cnt)
    d = _where(mask, _const(0.0, x), arr - avg)
    sq = real(d * conj(d)) if _dtype(x).kind == "c" else d * d
    dof = _counts(mask, axes, keep, x) - float(ddof)
    bad = logical_not(dof > 0.0)
    _invalid(name, bad, f"a slice with ddof={ddof} or fewer numbers",
             "Degrees of freedom <= 0 for slice.")
    total = _sum(sq, axes, keepdims=keep)
    return total / _where(bad, _const(1.0, dof), dof), d, bad, axes


@composite(numpy=("nanvar",))
def nanvar(a: Any, axis: Any = None, dtype: Any = None, out: Any = None, ddof: Any = 0,
           keepdims: Any = _NOVALUE, *, where: Any = _NOVALUE, mean: Any = _NOVALUE,
           correction: Any = _NOVALUE) -> Any:
    """Variance over `axis` of the entries that are not NaN, Σ|xᵢ − m|² / (n − ddof).

    m is their mean and n their count; NumPy's steps (deviations from the NaN-free mean, 0 at
    NaN) and values. A NaN entry has derivative 0. Slices with n − ddof ≤ 0: NumPy's nan and
    "Degrees of freedom <= 0 for slice." (a DomainError inside dk.grad & co.)."""
    if not _inexact(_array(a)):
        return var(a, axis, dtype, out, ddof, keepdims, where=where, mean=mean,
                   correction=correction)
    v, _, bad, _ = _nan_variance("nanvar", a, axis, dtype, out, ddof, keepdims, where, mean,
                                 correction)
    return _nan_where(bad, v)


@composite(numpy=("nanstd",))
def nanstd(a: Any, axis: Any = None, dtype: Any = None, out: Any = None, ddof: Any = 0,
           keepdims: Any = _NOVALUE, *, where: Any = _NOVALUE, mean: Any = _NOVALUE,
           correction: Any = _NOVALUE) -> Any:
    """Standard deviation over `axis` of the entries that are not NaN: sqrt(nanvar).

    NumPy's values. As ``std``: where the numbers of a slice are all equal, the derivative is 0
    (the norm's smallest subgradient) and there is no second derivative (a named error)."""
    if not _inexact(_array(a)):
        return std(a, axis, dtype, out, ddof, keepdims, where=where, mean=mean,
                   correction=correction)
    v, d, bad, axes = _nan_variance("nanstd", a, axis, dtype, out, ddof, keepdims, where, mean,
                                    correction)
    root = norm_sqrt(v, amax(_abs(d), axes, keepdims=_flag(keepdims)))
    return _nan_where(bad, root)


# ----- max, min ----------------------------------------------------------------------------------


def _nan_extreme(name: str, reduce: Any, fill: float, a: Any, axis: Any, out: Any, keepdims: Any,
                 initial: Any, where_: Any) -> Any:
    x = _array(a)
    _refuse(name, out=out, initial=initial, where=where_)
    axes, keep = _axes(axis, len(shape_of(x))), _flag(keepdims)
    if not _inexact(x):
        return reduce(x, axes, keepdims=keep)
    arr, mask = _filled(x, fill)
    value = reduce(arr, axes, keepdims=keep)
    numbers = _counts(mask, axes, keep, x)
    empty = equal(numbers, 0.0)
    _invalid(name, empty, "an all-NaN slice", "All-NaN slice encountered")
    return _nan_where(empty, value)


@composite(numpy=("nanmax",))
def nanmax(a: Any, axis: Any = None, out: Any = None, keepdims: Any = _NOVALUE,
           initial: Any = _NOVALUE, where: Any = _NOVALUE) -> Any:
    """Maximum over `axis` of the entries that are not NaN, NumPy's values.

    ``max(where(isnan(a), −∞, a))``: ties share the derivative equally (as ``amax``); a NaN
    entry has derivative 0. An all-NaN slice: NumPy's nan and "All-NaN slice encountered" (a
    DomainError inside dk.grad & co.)."""
    return _nan_extreme("nanmax", amax, -np.inf, a, axis, out, keepdims, initial, where)


@composite(numpy=("nanmin",))
def nanmin(a: Any, axis: Any = None, out: Any = None, keepdims: Any = _NOVALUE,
           initial: Any = _NOVALUE, where: Any = _NOVALUE) -> Any:
    """Minimum over `axis` of the entries that are not NaN, NumPy's values.

    ``min(where(isnan(a), +∞, a))``; ties, NaN entries and all-NaN slices as for nanmax."""
    return _nan_extreme("nanmin", amin, np.inf, a, axis, out, keepdims, initial, where)


# ----- cumulative sums and products --------------------------------------------------------------


@composite(numpy=("nancumsum",))
def nancumsum(a: Any, axis: Any = None, dtype: Any = None, out: Any = None) -> Any:
    """Cumulative sums along `axis` with NaN counted as 0, NumPy's values.

    ``cumsum(where(isnan(a), 0, a))``, of the flattened array when `axis` is None. A NaN entry
    has derivative 0."""
    x = _array(a)
    _refuse("nancumsum", out=out)
    return cumsum(_filled(x, 0.0)[0] if _inexact(x) else x, axis, dtype)


@composite(numpy=("nancumprod",))
def nancumprod(a: Any, axis: Any = None, dtype: Any = None, out: Any = None) -> Any:
    """Cumulative products along `axis` with NaN counted as 1, NumPy's values.

    ``cumprod(where(isnan(a), 1, a))``, of the flattened array when `axis` is None; derivatives
    exact at zeros, as ``cumprod``'s. A NaN entry has derivative 0."""
    x = _array(a)
    _refuse("nancumprod", out=out)
    return cumprod(_filled(x, 1.0)[0] if _inexact(x) else x, axis, dtype)


# ----- medians and quantiles ---------------------------------------------------------------------


def _lanes(x: Any, axis: Any) -> tuple[Any, tuple[int, ...], tuple[int, ...]]:
    """(the reduced groups as rows, shape (L, n); the shape of the kept axes; the keepdims shape),
    as NumPy's _ureduce arranges them (the reduced axes last, flattened)."""
    nd = len(shape_of(x))
    axes = _axes(axis, nd, lists=True)  # a list too, as NumPy's _ureduce (and median) take
    axes = tuple(range(nd)) if axes is None else axes
    kept = tuple(i for i in range(nd) if i not in axes)
    lead = tuple(shape_of(x)[i] for i in kept)
    n = math.prod(shape_of(x)[i] for i in axes)
    rows = reshape(transpose(x, kept + axes), (math.prod(lead), n))
    return rows, lead, _kept_shape(shape_of(x), axes if nd else None)


def _gather(rows: Any, index: np.ndarray) -> Any:
    """rows[l, index[..., l]] for each row l: shape index.shape."""
    lane = np.broadcast_to(np.arange(index.shape[-1]), index.shape)
    return getitem(rows, (lane, index))


def _meeting_dropped(value: Any, rows: Any) -> Any:
    """`value` (selected from sorted `rows`), its tangent also meeting 0 × each tangent of
    `rows`: a NaN entry's tangent (a NaN of a differentiated value, such as w·NaN) reaches it as
    NaN, as the reverse sweep's 0·NaN does, so every engine refuses it by name (docs/design.md);
    where every tangent is finite this adds 0. The value is unchanged (v − 0 is v, −0.0 too)."""
    never = np.zeros(shape_of(rows), dtype=bool)
    return value - _sum(_where(never, rows, _const(0.0, rows)), (1,), keepdims=False)


def _row_counts(rows: Any) -> np.ndarray:
    """The number of non-NaN entries of each row, read from the values (the trace holds at
    this point only)."""
    return np.count_nonzero(~np.isnan(read_plain(rows)), axis=-1)


@composite(numpy=("nanmedian",))
def nanmedian(a: Any, axis: Any = None, out: Any = None, overwrite_input: bool = False,
              keepdims: Any = _NOVALUE) -> Any:
    """Median over `axis` of the entries that are not NaN, NumPy's values.

    Of each slice's c numbers sorted, the middle one (c odd) or the mean of the middle two. The
    derivative goes to the middle entries, tied values sharing it equally (``sort``'s
    convention); NaN entries get 0. An all-NaN slice: NumPy's nan and "All-NaN slice
    encountered" (a DomainError inside dk.grad & co.). `overwrite_input` changes nothing here.
    No SymPy translation (see sort)."""
    x = _array(a)
    _refuse("nanmedian", out=out)
    if not _inexact(x):
        return median(x, axis, keepdims=_flag(keepdims))
    rows, lead, kept = _lanes(x, axis)
    if not shape_of(rows)[0]:  # no groups at all: NumPy's empty result
        return reshape(_sum(rows, (1,)), kept if _flag(keepdims) else lead)
    if shape_of(rows)[1] == 0:
        raise DomainError("nanmedian of an empty group")
    ordered = sort(rows, axis=1)  # NaN last
    c = _row_counts(rows)
    empty = c == 0
    _invalid("nanmedian", empty, "an all-NaN slice", "All-NaN slice encountered")
    lo, hi = np.maximum((c - 1) // 2, 0), c // 2
    value = _meeting_dropped((_gather(ordered, lo[None]) + _gather(ordered, hi[None])) / 2.0, rows)
    if empty.any():
        value = _nan_where(empty[None], value)
    return _scalar(reshape(value, kept if _flag(keepdims) else lead))


_METHODS = ("linear", "lower", "higher", "nearest", "midpoint")
#: every method NumPy's quantile knows (the others are NumPy's ValueError)
_NUMPY_METHODS = (*_METHODS, "inverted_cdf", "averaged_inverted_cdf", "closest_observation",
                  "interpolated_inverted_cdf", "hazen", "weibull", "median_unbiased",
                  "normal_unbiased")


def _positions(n: int, q: np.ndarray, method: str) -> tuple[np.ndarray, np.ndarray, Any]:
    """NumPy's indexes and weight of the `q`-quantiles of n sorted numbers: (previous, next,
    gamma), the indexes non-negative, gamma None where no interpolation is done (NumPy takes
    the element: "lower", "higher", "nearest", and "linear" at integer virtual indexes)."""
    if method == "lower":
        vi = np.floor((n - 1) * q).astype(np.intp)
    elif method == "higher":
        vi = np.ceil((n - 1) * q).astype(np.intp)
    elif method == "nearest":
        vi = np.around((n - 1) * q).astype(np.intp)
    elif method == "midpoint":
        vi = np.asanyarray(0.5 * (np.floor((n - 1) * q) + np.ceil((n - 1) * q)))
    else:
        vi = np.asanyarray((n - 1) * q)
    vi = np.asarray(vi)
    if np.issubdtype(vi.dtype, np.integer):
        idx = np.asarray(vi, dtype=np.intp) % builtins.max(n, 1)
        return idx, idx, None
    prev = np.array(np.floor(vi))
    nxt = np.array(prev + 1)
    prev[vi >= n - 1] = -1  # NumPy's _get_indexes: the last element above the bounds
    nxt[vi >= n - 1] = -1
    prev[vi < 0] = 0
    nxt[vi < 0] = 0
    prev, nxt = prev.astype(np.intp), nxt.astype(np.intp)
    if method == "midpoint":
        gamma = np.full(vi.shape, 0.5)
        gamma[vi % 1 == 0] = 0.0
    else:
        gamma = np.asanyarray(vi - prev)
    gamma = np.asanyarray(gamma, dtype=vi.dtype)
    return prev % builtins.max(n, 1), nxt % builtins.max(n, 1), gamma


def _lerp(lo: Any, hi: Any, gamma: np.ndarray, weak: bool, like: Any) -> Any:
    """NumPy's ``_lerp``: lo + (hi − lo)·γ where γ < ½, hi − (hi − lo)·(1 − γ) where γ ≥ ½.
    A weak γ (q a Python number) rounds to the data's dtype as NumPy's Python float does."""
    diff = hi - lo
    if weak:
        t = np.asarray(gamma, dtype=np.float64)
        dt = _dtype(like) if _dtype(like).kind == "f" else np.dtype(np.float64)
        up, down = t.astype(dt), (1.0 - t).astype(dt)
    else:
        up, down = gamma, 1 - gamma
    return _where(np.asarray(gamma >= 0.5), hi - diff * down, lo + diff * up)


def _q_value(name: str, q: Any, scale: float) -> tuple[np.ndarray, bool]:
    """`q` as NumPy reads it (divided by 100 for percentiles), whether it is a Python number
    (NumPy's weak promotion), checked: a plain number or a 1-d array within range."""
    if isinstance(q, Traced):
        raise TracingError(f"numpy.{name}: q is not differentiated by diffkit; pass q as a plain "
                           "number or array (np.asarray of its value, outside the function)")
    weak = type(q) in (int, float)
    if np.asarray(q).dtype.kind not in "biuf":  # NumPy's TypeError (its ufuncs' loops)
        raise InputTypeError(f"numpy.{name}: q must be a real number or an array of them, got "
                             f"{q!r}")
    qv = np.true_divide(q, scale, out=...) if scale != 1.0 else np.asanyarray(q)
    if qv.ndim > 1:
        raise ShapeError(f"numpy.{name}: q must be a scalar or 1d")
    if qv.size and not (np.min(qv) >= 0 and np.max(qv) <= 1):
        what = "Percentiles must be in the range [0, 100]" if scale != 1.0 else (
            "Quantiles must be in the range [0, 1]")
        raise DomainError(f"numpy.{name}: {what}")
    return qv, weak


def _quantiles(name: str, a: Any, q: Any, axis: Any, out: Any, method: str, keepdims: Any,
               weights: Any, scale: float, skip_nan: bool) -> Any:
    """The quantiles of NumPy's percentile/quantile and their nan-versions (see the module)."""
    x = _array(a)
    _refuse(name, out=out)
    if weights is not None:
        raise TracingError(f"numpy.{name} with weights= is not supported by diffkit (NumPy takes "
                           "them for method='inverted_cdf' only): leave it out")
    if method not in _NUMPY_METHODS:
        raise DomainError(f"numpy.{name}: {method!r} is not a valid method (as in NumPy): use one "
                          f"of {', '.join(map(repr, _METHODS))}")
    if method not in _METHODS:
        raise TracingError(f"numpy.{name} with method={method!r} is not supported by diffkit: "
                           f"use one of {', '.join(map(repr, _METHODS))}")
    if _dtype(x).kind == "c":
        raise TypeError("a must be an array of real numbers")
    qv, weak = _q_value(name, q, scale)
    rows, lead, kept = _lanes(x, axis)
    count, n = shape_of(rows)
    if n == 0:
        raise DomainError(f"numpy.{name} of an empty group")
    ordered = sort(rows, axis=1)  # NaN last
    if skip_nan and _inexact(x):
        c = _row_counts(rows)
    else:
        c = np.full(count, n, dtype=np.intp)
    shape = (*qv.shape, count)
    prev, nxt = np.zeros(shape, dtype=np.intp), np.zeros(shape, dtype=np.intp)
    gamma = None
    for size in np.unique(c):
        at = c == size
        p, nx, g = _positions(int(size), qv, method)
        prev[..., at], nxt[..., at] = p[..., None], nx[..., None]
        if g is not None:
            if gamma is None:
                gamma = np.zeros(shape, dtype=g.dtype)
            gamma[..., at] = g[..., None]
    lo = _gather(ordered, prev)
    value = lo if gamma is None else _lerp(lo, _gather(ordered, nxt), gamma, weak, x)
    if skip_nan:
        value = _meeting_dropped(value, rows) if _inexact(x) else value
        bad = np.broadcast_to(c == 0, shape)
        _invalid(name, bad, "an all-NaN slice", "All-NaN slice encountered")
        if bad.any():
            value = _nan_where(bad, value)
    elif _inexact(x):
        has_nan = getitem(isnan(ordered), (slice(None), -1))  # NaN sorts last
        _invalid(name, has_nan, "a slice holding NaN (use numpy.nan" + name + ")", None)
        value = _nan_where(has_nan, value)  # whatever the values (see _invalid)
        if qv.ndim == 0 and count == 1 and _dtype(value) != _dtype(x) and read_plain(
                has_nan).any():  # NumPy returns the slice's NaN itself, in x's dtype: a
            value = _reduce_in(value, _dtype(x))  # dtype read from the values (marked)
    return _scalar(reshape(value, (*qv.shape, *(kept if _flag(keepdims) else lead))))


@composite(numpy=("quantile",))
def quantile(a: Any, q: Any, axis: Any = None, out: Any = None, overwrite_input: bool = False,
             method: str = "linear", keepdims: Any = False, *, weights: Any = None) -> Any:
    """The `q`-quantiles over `axis` (q in [0, 1], a number or a 1-d array), NumPy's values.

    NumPy's arithmetic: with the slice's n values sorted, the virtual index (n − 1)·q
    interpolated linearly between its neighbours ("linear"), or the lower/higher/nearest
    neighbour or their midpoint; q's axis comes first. The derivative goes to the neighbours by
    their weights, tied values sharing it (``sort``'s convention); q has none. A slice holding
    NaN gives nan (NumPy's value; a DomainError inside dk.grad & co.: use nanquantile)."""
    return _quantiles("quantile", a, q, axis, out, method, keepdims, weights, 1.0, False)


@composite(numpy=("percentile",))
def percentile(a: Any, q: Any, axis: Any = None, out: Any = None, overwrite_input: bool = False,
               method: str = "linear", keepdims: Any = False, *, weights: Any = None) -> Any:
    """The `q`-th percentiles over `axis` (q in [0, 100]), NumPy's values.

    ``quantile(a, q / 100)`` as NumPy computes it (see quantile)."""
    return _quantiles("percentile", a, q, axis, out, method, keepdims, weights, 100.0, False)


@composite(numpy=("nanquantile",))
def nanquantile(a: Any, q: Any, axis: Any = None, out: Any = None, overwrite_input: bool = False,
                method: str = "linear", keepdims: Any = _NOVALUE, *, weights: Any = None) -> Any:
    """The `q`-quantiles over `axis` of the entries that are not NaN, NumPy's values.

    ``quantile`` of each slice's c numbers (see quantile); NaN entries get derivative 0. An
    all-NaN slice: NumPy's nan and "All-NaN slice encountered" (a DomainError inside dk.grad &
    co.)."""
    return _quantiles("nanquantile", a, q, axis, out, method, keepdims, weights, 1.0, True)


@composite(numpy=("nanpercentile",))
def nanpercentile(a: Any, q: Any, axis: Any = None, out: Any = None,
                  overwrite_input: bool = False, method: str = "linear",
                  keepdims: Any = _NOVALUE, *, weights: Any = None) -> Any:
    """The `q`-th percentiles over `axis` of the entries that are not NaN, NumPy's values.

    ``nanquantile(a, q / 100)`` as NumPy computes it (see nanquantile)."""
    return _quantiles("nanpercentile", a, q, axis, out, method, keepdims, weights, 100.0, True)


__all__ = declared_in(__name__)
