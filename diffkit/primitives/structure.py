"""Structural primitives: reductions, reshapes, broadcasting, indexing, concatenation, roll.

``prepare`` normalizes what users pass: axes become sorted tuples of non-negative ints (or None),
shapes concrete tuples, indices tuples of slices, ints and integer/boolean arrays.
"""

from __future__ import annotations

import builtins
import math
import operator
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..errors import IndexOutOfRangeError, MissingRuleError, ShapeError, TracingError
from ..ir import Traced
from ..primitive import IDENTITY, PUBLIC, at_kink, bind, require_smooth
from .declare import check_casting, declared_in, dtype_of, shape_of, structural
from .declare import normalize_axes as _axes
from .elementwise import equal, where

_NOVALUE = np._NoValue  # NumPy's "argument not given"


def _given(v: Any) -> bool:
    return v is not None and v is not _NOVALUE


def _refuse(name: str, **keywords: Any) -> None:
    """NumPy keywords diffkit does not support with a value (out=, initial=, where=)."""
    bad = [k for k, v in keywords.items() if _given(v) and not (k == "where" and v is True)]
    if bad:
        raise TracingError(
            f"numpy.{name} with {', '.join(k + '=' for k in bad)} is not supported by diffkit: "
            "leave it out (write the result to a new variable; mask with np.where)")


def _reduce_in(x: Any, dtype: Any) -> Any:
    """NumPy's ``dtype=`` of a reduction: accumulate in `dtype`, i.e. reduce ``x.astype(dtype)``
    (exact for every dtype NumPy accepts; a cast of a traced value records ``astype``). Also
    concatenate's ``dtype=``: each input cast first."""
    if dtype is None or np.dtype(dtype) == dtype_of(x):
        return x
    if not isinstance(x, Traced):
        return np.asarray(x).astype(dtype)
    return PUBLIC["astype"](x, dtype)


def _reduction_params(x: Any, axis: Any, keepdims: Any) -> Any:
    keep = False if keepdims is _NOVALUE else builtins.bool(keepdims)
    return (x,), {"axis": _axes(axis, len(shape_of(x))), "keepdims": keep}


def _prepare_sum(x: Any, axis: Any = None, dtype: Any = None, out: Any = None,
                 keepdims: Any = False, initial: Any = _NOVALUE, where: Any = _NOVALUE) -> Any:
    """NumPy's signature ``sum(a, axis, dtype, out, keepdims, initial, where)``."""
    _refuse("sum", out=out, initial=initial, where=where)
    return _reduction_params(_reduce_in(x, dtype), axis, keepdims)


def _prepare_mean(x: Any, axis: Any = None, dtype: Any = None, out: Any = None,
                  keepdims: Any = False, *, where: Any = _NOVALUE) -> Any:
    """NumPy's signature ``mean(a, axis, dtype, out, keepdims, *, where)``."""
    _refuse("mean", out=out, where=where)
    return _reduction_params(_reduce_in(x, dtype), axis, keepdims)


def _prepare_amax(x: Any, axis: Any = None, out: Any = None, keepdims: Any = False,
                  initial: Any = _NOVALUE, where: Any = _NOVALUE) -> Any:
    """NumPy's signature ``max(a, axis, out, keepdims, initial, where)``."""
    _refuse("max", out=out, initial=initial, where=where)
    return _reduction_params(x, axis, keepdims)


def _batch_axes(axis: tuple[int, ...] | None, ndim: int) -> tuple[int, ...]:
    """Axes of a reduction moved past the leading batch axis."""
    return tuple(range(1, ndim + 1)) if axis is None else tuple(a + 1 for a in axis)


def _kept_shape(shape: tuple[int, ...], axis: tuple[int, ...] | None) -> tuple[int, ...]:
    return tuple(1 if axis is None or i in axis else s for i, s in enumerate(shape))


def _expand_back(ct: Any, x: Any, axis: tuple[int, ...] | None, keepdims: bool) -> Any:
    """Reshape a reduction's cotangent to broadcast against its input."""
    return ct if keepdims else reshape(ct, _kept_shape(shape_of(x), axis))


def sum_to(x: Any, shape: Sequence[int]) -> Any:
    """Sum a broadcast array back down to `shape` (the transpose of broadcasting): `shape` must
    broadcast to x's shape (a ShapeError names both where it does not)."""
    shape = tuple(shape)
    xs = shape_of(x)
    if xs == shape:
        return x
    lead = len(xs) - len(shape)
    if lead < 0 or any(s != 1 and s != xs[lead + i] for i, s in enumerate(shape)):
        raise ShapeError(f"sum_to: shape {shape} does not broadcast to the array's shape {xs}, "
                         "so there is no broadcast to sum back")
    axes = tuple(range(lead)) + tuple(lead + i for i, s in enumerate(shape)
                                      if s == 1 and xs[lead + i] != 1)
    return reshape(bind(sum, x, axis=axes, keepdims=True), shape)


def _expand_rows(cts: Any, k: int, x: Any, axis: tuple[int, ...] | None) -> Any:
    """k stacked cotangents of a reduction, shaped to broadcast against (k, *x.shape)."""
    return reshape(cts, (k, *_kept_shape(shape_of(x), axis)))


def _sum_rows_to(cts: Any, k: int, shape: tuple[int, ...]) -> Any:
    """k stacked cotangents of a broadcast, summed back to k × `shape`."""
    cs = shape_of(cts)
    lead = len(cs) - 1 - len(shape)
    axes = tuple(range(1, 1 + lead)) + tuple(1 + lead + i for i, s in enumerate(shape)
                                             if s == 1 and cs[1 + lead + i] != 1)
    return reshape(bind(sum, cts, axis=axes, keepdims=True), (k, *shape)) if axes else cts


def _count(shape: tuple[int, ...], axis: tuple[int, ...] | None) -> int:
    return math.prod(shape if axis is None else [shape[a] for a in axis])


def _sum_sympy(sp: Any, x: Any, axis: Any = None, keepdims: bool = False) -> Any:
    """Σ of SymPy expressions as one ``Add`` per result entry: NumPy's reduction adds them
    one by one, and SymPy flattens the growing sum at every step (quadratic in the terms)."""
    a = np.asarray(x, dtype=object)
    axes = tuple(range(a.ndim)) if axis is None else tuple(
        i % a.ndim for i in (axis if isinstance(axis, tuple) else (axis,)))
    kept = [i for i in range(a.ndim) if i not in axes]
    rows = np.transpose(a, [*kept, *axes]).reshape(*[a.shape[i] for i in kept],
                                                   math.prod(a.shape[i] for i in axes))
    out = np.empty(rows.shape[:-1], dtype=object)
    for at in np.ndindex(*out.shape):
        out[at] = sp.Add(*rows[at])
    if keepdims:
        out = out.reshape([1 if i in axes else n for i, n in enumerate(a.shape)])
    return out if out.ndim else out[()]


sum = structural(
    "sum", lambda xp, x, axis=None, keepdims=False: xp.sum(x, axis=axis, keepdims=keepdims),
    linear=True, prepare=_prepare_sum, numpy=("sum",), latex=r"\sum", parseable=True,
    sympy=_sum_sympy,
    batch=lambda ts, k, xs, out, axis=None, keepdims=False: bind(
        sum, ts[0], axis=_batch_axes(axis, len(shape_of(xs[0]))), keepdims=keepdims),
    vjp=lambda ct, xs, out, axis=None, keepdims=False: (
        broadcast_to(_expand_back(ct, xs[0], axis, keepdims), shape_of(xs[0])),),
    vjp_rows=lambda cts, k, xs, out, axis=None, keepdims=False: (
        broadcast_to(_expand_rows(cts, k, xs[0], axis), (k, *shape_of(xs[0]))),),
    holomorphic=True,
    doc="Σ over `axis` (all axes when None).")
def _mean_scale(x: Any, axis: Any) -> Any:
    """1/n for a mean of `x` over n elements, in x's precision: a Python float (weak, so the
    cotangent keeps its dtype) up to float64, a longdouble 1/n for a longdouble x (the float64
    1/3 was 512 ε(longdouble) off, in every engine's mean, var and std). Over an empty axis the
    input has no elements, so its cotangent is empty whatever the scale (1/0 was a bare
    ZeroDivisionError in backward())."""
    n = max(_count(shape_of(x), axis), 1)
    if getattr(x, "dtype", None) in _LONG:
        return np.longdouble(1) / n
    return 1.0 / n


#: the dtypes wider than float64, whose 1/n a Python float would round
_LONG = frozenset({np.dtype(np.longdouble), np.dtype(np.clongdouble)}) - {
    np.dtype(np.float64), np.dtype(np.complex128)}


mean = structural(
    "mean", lambda xp, x, axis=None, keepdims=False: xp.mean(x, axis=axis, keepdims=keepdims),
    linear=True, prepare=_prepare_mean, numpy=("mean",), latex=r"\operatorname{mean}",
    parseable=True,
    batch=lambda ts, k, xs, out, axis=None, keepdims=False: bind(
        mean, ts[0], axis=_batch_axes(axis, len(shape_of(xs[0]))), keepdims=keepdims),
    vjp=lambda ct, xs, out, axis=None, keepdims=False: (broadcast_to(
        _expand_back(ct, xs[0], axis, keepdims) * _mean_scale(xs[0], axis),
        shape_of(xs[0])),),
    vjp_rows=lambda cts, k, xs, out, axis=None, keepdims=False: (broadcast_to(
        _expand_rows(cts, k, xs[0], axis) * _mean_scale(xs[0], axis),
        (k, *shape_of(xs[0]))),),
    holomorphic=True,
    doc="Arithmetic mean over `axis` (all axes when None).")


def _real_only(name: str, x: Any) -> None:
    """Orderings (max, min, sort) have derivatives for real numbers only: NumPy orders complex
    numbers lexicographically, which no complex derivative follows."""
    if np.dtype(getattr(x, "dtype", None) or np.result_type(x)).kind == "c":
        raise MissingRuleError(
            f"{name} orders its inputs, which complex numbers do not have: differentiate "
            "dk.real(z) or dk.abs(z) instead, or use method='fd'")


# ----- kinks: derivatives taken by a convention --------------------------------------------------

def _subgradient_prepare(g: Any, smooth: Any, at: Any = 0.0, seed: Any = 1.0, *,
                         what: str = "subgradient") -> Any:
    return (g, smooth, at, seed), {"what": str(what)}


def _subgradient_jvp(ts: Any, k: int, xs: Any, out: Any, what: str = "subgradient") -> Any:
    require_smooth(xs[1], xs[3], what)
    return ts[0]  # ∂/∂at = 0: None where only `at` moves


subgradient = structural(
    "subgradient", lambda xp, g, smooth, at, seed, what="subgradient": g, nargs=4,
    prepare=_subgradient_prepare, jvp=_subgradient_jvp,
    vjp=lambda ct, xs, out, what="subgradient": (
        require_smooth(xs[1], xs[3], what), (ct, None, None, None))[1],
    sympy=lambda sp, g, smooth, at, seed, what="subgradient": g, holomorphic=True,
    doc="subgradient(g, smooth, at, seed) is g, a derivative at the point `at`; where `smooth` "
        "is false it is a convention at a kink (abs′(0) = 0, ½–½ at ties), and differentiating "
        "it again is a NonDifferentiableError, unless `seed`, the derivative it multiplied, is "
        "exactly 0 there (design.md: second derivatives at kinks).")


def _tie_weights(x: Any, out: Any, axis: tuple[int, ...] | None, keepdims: bool) -> Any:
    """Where x equals the reduction's value (max, min), 1/(number of ties); elsewhere 0, in x's
    real dtype. Complex x (NumPy orders complex numbers lexicographically): the selected element
    carries the derivative — near the point the reduction is that element, a holomorphic map."""
    dt = np.dtype(getattr(x, "dtype", None) or np.result_type(x))
    real = np.finfo(dt).dtype if dt.kind in "fc" else np.dtype(np.float64)
    hit = where(equal(_expand_back(out, x, axis, keepdims), x), np.ones((), real),
                np.zeros((), real))
    return hit / bind(sum, hit, axis=axis, keepdims=True)


_max_weights = _tie_weights



#: what a second derivative through amax/amin at tied values names; the max-shift of a stable
#: logsumexp or softmax, max(x) + log Σ exp(x − max(x)), meets it at equal logits (zeros)
_TIED_MAX = ("max/min at tied values (where it is the shift of a stable logsumexp or softmax, "
             "x − max(x), use dk.logsumexp / dk.softmax / dk.log_softmax, whose second "
             "derivatives are defined at ties)")

def _shared(term: Any, x: Any, out: Any, axis: tuple[int, ...] | None, keepdims: bool) -> Any:
    """``term(w)`` with w the max's tie weights; at a tie (a weight strictly between 0 and 1)
    a convention, marked where it is differentiated again (:func:`at_kink`)."""
    w = _max_weights(x, out, axis, keepdims)
    return at_kink(term(w), lambda: equal(w * (1.0 - w), 0.0), _TIED_MAX, x)


def _amax_sympy(sp: Any, x: Any, axis: tuple[int, ...] | None = None, keepdims: bool = False) -> Any:
    """The maximum of each reduced group as one SymPy function whose derivative shares 1 equally
    among the tied entries (the table's convention), not nested two-way maxima."""
    from ..sympy_program import TieMax

    axes = tuple(range(x.ndim)) if axis is None else axis
    moved = np.moveaxis(np.asarray(x, dtype=object), axes, tuple(range(-len(axes), 0)))
    kept = moved.shape[:moved.ndim - len(axes)]
    # the group size written out: reshape cannot infer a -1 when the kept axes hold no element
    groups = moved.reshape(kept + (math.prod(moved.shape[len(kept):]),))
    out = np.empty(kept, dtype=object)
    for idx in np.ndindex(*kept):
        out[idx] = TieMax(*groups[idx])
    if keepdims:
        out = out.reshape(_kept_shape(x.shape, axis))
    return out


#: the rules of a reduction to one of its entries (max, min): the derivative goes to the entries
#: equal to the result, shared equally among ties (a convention at a tie: :func:`_shared`); which
#: entries those are is the float64 program's decision (``affine_pieces``)
TIE_SHARED_RULES: dict[str, Any] = {
    "affine_pieces": True,
    "jvp": lambda ts, k, xs, out, axis=None, keepdims=False: _shared(
        lambda w: bind(sum, ts[0] * w, axis=_batch_axes(axis, len(shape_of(xs[0]))),
                       keepdims=keepdims), xs[0], out, axis, keepdims),
    "vjp": lambda ct, xs, out, axis=None, keepdims=False: (_shared(
        lambda w: _expand_back(ct, xs[0], axis, keepdims) * w, xs[0], out, axis, keepdims),),
    "vjp_rows": lambda cts, k, xs, out, axis=None, keepdims=False: (_shared(
        lambda w: _expand_rows(cts, k, xs[0], axis) * w, xs[0], out, axis, keepdims),),
}

amax = structural(
    "amax", lambda xp, x, axis=None, keepdims=False: xp.max(x, axis=axis, keepdims=keepdims),
    prepare=_prepare_amax, numpy=("amax", "max"), symbol="max", latex=r"\max",
    **TIE_SHARED_RULES, sympy=_amax_sympy, holomorphic=True,
                       doc="Maximum over `axis`; the derivative is shared equally among ties.")


def _prepare_reshape(x: Any, shape: int | Sequence[int]) -> Any:
    old = shape_of(x)
    new = [shape] if isinstance(shape, int | np.integer) else [int(s) for s in shape]
    size = math.prod(old)
    if new.count(-1) > 1:
        raise ShapeError(f"reshape: at most one -1 in the shape, got {tuple(new)}")
    if -1 in new:
        known = math.prod(s for s in new if s != -1)
        new[new.index(-1)] = size // known if known else 0
    if math.prod(new) != size or builtins.any(s < 0 for s in new):
        raise ShapeError(f"cannot reshape an array of shape {old} (size {size}) into {tuple(new)}")
    return IDENTITY if tuple(new) == old else ((x,), {"shape": tuple(new)})


reshape = structural(
    "reshape", lambda xp, x, shape: xp.reshape(x, shape), linear=True, prepare=_prepare_reshape,
    batch=lambda ts, k, xs, out, shape: reshape(ts[0], (k, *shape)),
    vjp=lambda ct, xs, out, shape: (reshape(ct, shape_of(xs[0])),),
    vjp_rows=lambda cts, k, xs, out, shape: (reshape(cts, (k, *shape_of(xs[0]))),),
    holomorphic=True,
    doc="Same elements, new shape (one entry may be -1).")


def _prepare_transpose(x: Any, axes: Sequence[int] | None = None) -> Any:
    ndim = len(shape_of(x))
    perm = tuple(range(ndim))[::-1] if axes is None else tuple(
        operator.index(a) % builtins.max(ndim, 1) for a in axes)
    if sorted(perm) != list(range(ndim)):
        raise ShapeError(f"transpose: {tuple(axes or ())} is not a permutation of {ndim} axes")
    return IDENTITY if perm == tuple(range(ndim)) else ((x,), {"axes": perm})


transpose = structural(
    "transpose", lambda xp, x, axes: xp.transpose(x, axes), linear=True,
    prepare=_prepare_transpose, numpy=("transpose",), latex=r"^\top",
    batch=lambda ts, k, xs, out, axes: transpose(ts[0], (0, *(a + 1 for a in axes))),
    vjp=lambda ct, xs, out, axes: (transpose(ct, tuple(int(i) for i in np.argsort(axes))),),
    vjp_rows=lambda cts, k, xs, out, axes: (
        transpose(cts, (0, *(int(i) + 1 for i in np.argsort(axes)))),),
    holomorphic=True,
    doc="Permute axes (reverse them when None).")


def _prepare_broadcast(x: Any, shape: int | Sequence[int], subok: bool = False) -> Any:
    """NumPy's signature ``broadcast_to(array, shape, subok)`` (`subok` keeps an ndarray
    subclass, which a traced value is not: it changes nothing)."""
    shape = (int(shape),) if isinstance(shape, int | np.integer) else tuple(int(s) for s in shape)
    try:
        if np.broadcast_shapes(shape_of(x), shape) != shape:
            raise ValueError
    except ValueError:
        raise ShapeError(f"cannot broadcast shape {shape_of(x)} to {shape}") from None
    return IDENTITY if shape_of(x) == shape else ((x,), {"shape": shape})


def _broadcast_batch(ts: Any, k: int, xs: Any, out: Any, shape: tuple[int, ...]) -> Any:
    xshape = shape_of(xs[0])
    t = reshape(ts[0], (k,) + (1,) * (len(shape) - len(xshape)) + xshape)
    return broadcast_to(t, (k, *shape))


broadcast_to = structural(
    "broadcast_to", lambda xp, x, shape: xp.broadcast_to(x, shape), linear=True,
    prepare=_prepare_broadcast, numpy=("broadcast_to",), batch=_broadcast_batch,
    vjp=lambda ct, xs, out, shape: (sum_to(ct, shape_of(xs[0])),),
    vjp_rows=lambda cts, k, xs, out, shape: (_sum_rows_to(cts, k, shape_of(xs[0])),),
    holomorphic=True,
    doc="Broadcast to `shape` (NumPy rules).")


def _index(index: Any) -> tuple[Any, ...]:
    """An index as a tuple of slices, ints, None, Ellipsis, np.bool_ and integer/boolean arrays:
    the one normalization of index items every rule reads. A Python bool becomes np.bool_ (it
    adds an axis and uses none, as a 0-d mask: not the integer 0 or 1 that ``isinstance(True,
    int)`` would say), and a list or tuple inside the index the array NumPy reads it as."""
    items = index if isinstance(index, tuple) else (index,)
    out = []
    for i in items:
        if isinstance(i, Traced):
            i = i.concrete("an index")
        if isinstance(i, bool):
            i = np.bool_(i)
        elif isinstance(i, list | tuple):  # NumPy: [] is an empty integer index, not floats
            i = np.asarray(i) if len(i) else np.asarray(i, dtype=np.intp)
        out.append(i)
    return tuple(out)


def _axes_used(item: Any) -> int:
    """How many axes of x one normalized index item (`_index`) consumes: a boolean mask its
    ndim (0 for np.bool_ and 0-d masks), None and Ellipsis none, anything else one."""
    if item is None or item is Ellipsis:
        return 0
    return np.ndim(item) if getattr(item, "dtype", None) == np.bool_ else 1


def _expand_ellipsis(index: tuple[Any, ...], ndim: int) -> tuple[Any, ...]:
    """The index with ``...`` replaced by full slices (so an extra trailing axis stays last)."""
    pos = [j for j, i in enumerate(index) if i is Ellipsis]
    if not pos:
        return index
    used = builtins.sum(_axes_used(i) for i in index)
    return index[:pos[0]] + (slice(None),) * (ndim - used) + index[pos[0] + 1:]


def _last_to_first(t: Any) -> Any:
    n = len(shape_of(t))
    return transpose(t, (n - 1, *range(n - 1)))


def _first_to_last(t: Any) -> Any:
    n = len(shape_of(t))
    return transpose(t, (*range(1, n), 0))


def _selects_all(index: tuple[Any, ...]) -> bool:
    """x[()] and x[...] are x itself (the same elements in the same shape)."""
    return len(index) == 0 or (len(index) == 1 and index[0] is Ellipsis)


def _prepare_getitem(x: Any, index: Any) -> Any:
    idx = _index(index)
    if _selects_all(idx):
        return IDENTITY
    try:
        np.empty(shape_of(x), dtype=np.bool_)[idx]
    except IndexError as exc:
        raise IndexOutOfRangeError(f"index {index!r} does not fit shape {shape_of(x)}: {exc}"
                                   ) from None
    return (x,), {"index": idx}


def _getitem_batch(ts: Any, k: int, xs: Any, out: Any, index: tuple[Any, ...]) -> Any:
    """x[index] for k stacked x: the stack axis goes last, where indexing leaves it in place."""
    moved = _first_to_last(ts[0])
    return _last_to_first(getitem(moved, _expand_ellipsis(index, len(shape_of(xs[0])))))


def _getitem_impl(xp: Any, x: Any, index: tuple[Any, ...]) -> Any:
    """x[index]; a Python number (a 0-d cotangent in a nested sweep) read as a 0-d array."""
    if isinstance(x, float | int | complex):
        x = xp.asarray(x)
    return x[index]


getitem = structural(
    "getitem", _getitem_impl, linear=True, prepare=_prepare_getitem,
    batch=_getitem_batch, vjp=lambda ct, xs, out, index: (index_add(ct, index, shape_of(xs[0])),),
    vjp_rows=lambda cts, k, xs, out, index: (
        _index_add_batch([cts], k, None, None, index, shape_of(xs[0])),),
    sympy=lambda sp, x, index: np.asarray(x[index], dtype=object), symbol="[]", latex="[]",
    holomorphic=True,
    doc="x[index]: basic slicing and integer/boolean array indexing.")


def _index_add_impl(xp: Any, v: Any, index: tuple[Any, ...], shape: tuple[int, ...]) -> Any:
    from ..backend import scatter_add

    z = xp.zeros(shape, dtype=getattr(v, "dtype", None) or np.result_type(v))
    if z.dtype != object and not builtins.any(getattr(i, "ndim", 0) and i.dtype.kind in "iu"
                                              for i in index):
        z[index] = v  # slices, ints and masks name each element once: no accumulation needed
        return z
    return scatter_add(xp, z, index, v)


def _index_add_batch(ts: Any, k: int, xs: Any, out: Any, index: Any, shape: Any) -> Any:
    moved = _first_to_last(ts[0]) if len(shape_of(ts[0])) > 1 else ts[0]
    return _last_to_first(index_add(moved, _expand_ellipsis(index, len(shape)), (*shape, k)))


def _index_add_place(in_shape: tuple[int, ...], index: tuple[Any, ...], shape: tuple[int, ...]
                     ) -> Any:
    """Slices and integers name each element once: out[index] = v, zeros elsewhere."""
    if not builtins.all(isinstance(k, slice | int | np.integer) for k in index):
        return None
    return [(index, None)], False


def _prepare_index_add(v: Any, index: Any, shape: Sequence[int]) -> Any:
    idx, shape = _index(index), tuple(shape)
    if _selects_all(idx) and shape == shape_of(v):
        return IDENTITY
    return (v,), {"index": idx, "shape": shape}


index_add = structural(
    "index_add", _index_add_impl, linear=True, batch=_index_add_batch, place=_index_add_place,
    prepare=_prepare_index_add,
    vjp=lambda ct, xs, out, index, shape: (getitem(ct, index),),
    vjp_rows=lambda cts, k, xs, out, index, shape: (
        _last_to_first(getitem(_first_to_last(cts), _expand_ellipsis(index, len(shape)))),),
    sympy=lambda sp, v, index, shape: _index_add_impl(np, np.asarray(v, dtype=object), index, shape),
    holomorphic=True,
    doc="zeros(shape) with `v` added at `index` (repeated indices accumulate): getitem's transpose.")


def _prepare_concatenate(arrays: Sequence[Any], axis: int | None = 0, out: Any = None, *,
                         dtype: Any = None, casting: str = "same_kind") -> Any:
    """NumPy's signature ``concatenate(arrays, axis, out, *, dtype, casting)``: the arrays are
    cast to `dtype` (their result type when None) if `casting` allows it (np.can_cast)."""
    _refuse("concatenate", out=out)
    arrays = tuple(arrays)
    if not arrays:
        raise ShapeError("concatenate needs at least one array")
    target = check_casting([dtype_of(a) for a in arrays], dtype, casting)
    if dtype is not None:
        arrays = tuple(_reduce_in(a, target) for a in arrays)
    if axis is None:  # NumPy: the arrays are flattened first
        return tuple(reshape(a, (-1,)) for a in arrays), {"axis": 0}
    ax = _axes(axis, len(shape_of(arrays[0])))
    return arrays, {"axis": ax[0] if ax else 0}


def _concat_vjp(ct: Any, xs: Any, out: Any, axis: int, lead: int = 0) -> tuple[Any, ...]:
    cts, start = [], 0
    for x in xs:
        stop = start + shape_of(x)[axis]
        cts.append(getitem(ct, (slice(None),) * (axis + lead) + (slice(start, stop),)))
        start = stop
    return tuple(cts)


concatenate = structural(
    "concatenate", lambda xp, *xs, axis=0: xp.concatenate(xs, axis=axis), linear=True, nargs=None,
    prepare=_prepare_concatenate, numpy=("concatenate",),
    batch=lambda ts, k, xs, out, axis: bind(concatenate, *ts, axis=axis + 1), vjp=_concat_vjp,
    vjp_rows=lambda cts, k, xs, out, axis: _concat_vjp(cts, xs, out, axis, lead=1),
    sympy=lambda sp, *xs, axis=0: np.concatenate([np.asarray(x, dtype=object) for x in xs], axis),
    holomorphic=True,
    doc="Join arrays along an existing axis.")


def _roll_batch(ts: Any, k: int, xs: Any, out: Any, shift: Any, axis: Any) -> Any:
    if axis is None:
        flat = reshape(ts[0], (k, math.prod(shape_of(xs[0]))))
        return reshape(roll(flat, shift, 1), (k, *shape_of(xs[0])))
    return roll(ts[0], shift, tuple(a + 1 for a in axis))


def _prepare_roll(x: Any, shift: int | Sequence[int], axis: Any = None) -> Any:
    """Shifts pair with axes in the order given (not sorted, unlike a reduction's axes)."""
    ndim = len(shape_of(x))
    sh = tuple(int(s) for s in shift) if isinstance(shift, Sequence) else int(shift)
    if axis is None:
        if isinstance(sh, tuple):
            raise ShapeError("roll: a tuple of shifts needs a matching tuple of axes")
        return (x,), {"shift": sh, "axis": None}
    axes = (axis,) if isinstance(axis, int | np.integer) else tuple(axis)
    norm = []
    for a in axes:
        a = operator.index(a)
        if not -ndim <= a < builtins.max(ndim, 1):
            raise ShapeError(f"axis {a} is out of bounds for an array with {ndim} dimension(s)")
        norm.append(a % builtins.max(ndim, 1))
    if isinstance(sh, tuple) and len(sh) != len(norm):
        raise ShapeError(f"roll: {len(sh)} shifts for {len(norm)} axes")
    return (x,), {"shift": sh, "axis": tuple(norm)}


def _negate_shift(shift: Any) -> Any:
    return tuple(-s for s in shift) if isinstance(shift, tuple) else -shift


def _roll_place(in_shape: tuple[int, ...], shift: Any, axis: Any = None) -> Any:
    """Along one axis, k = shift mod n: out[k:] = x[:n-k] and out[:k] = x[n-k:], which cover
    the output. None for several axes, or a flattened roll of more than one dimension."""
    if isinstance(shift, tuple):
        if len(shift) != 1:
            return None
        shift = shift[0]
    if axis is None and len(in_shape) != 1 or axis is not None and len(axis) != 1:
        return None
    ax = 0 if axis is None else axis[0]
    n = in_shape[ax]
    k = int(shift) % n if n else 0
    if k == 0:
        return [(None, None)], True
    lead = (slice(None),) * ax
    return [(lead + (slice(k, None),), lead + (slice(None, n - k),)),
            (lead + (slice(None, k),), lead + (slice(n - k, None),))], True


roll = structural(
    "roll", lambda xp, x, shift, axis=None: xp.roll(x, shift, axis=axis), linear=True,
    prepare=_prepare_roll, numpy=("roll",), batch=_roll_batch, place=_roll_place,
    vjp=lambda ct, xs, out, shift, axis=None: (roll(ct, _negate_shift(shift), axis),),
    vjp_rows=lambda cts, k, xs, out, shift, axis=None: (
        _roll_batch([cts], k, xs, out, _negate_shift(shift), axis),),
    holomorphic=True,
    doc="Shift elements cyclically along `axis` (of the flattened array when None).")

__all__ = declared_in(__name__)
