"""Reductions with axis and keepdims (min, prod, var, std, cumsum, …), sorting and selection.

Conventions (shared by every engine; the tests check each):

* **Ties share the derivative equally**, as for ``amax``: ``amin`` gives each tied minimum
  1/(number of ties); ``sort`` and ``partition`` give an output element the mean of the tangents of
  the input elements of equal value in its lane, so ``sort(x)[-1]`` has ``amax``'s derivative and
  ``median`` of ``[1, 2, 2]`` shares its derivative ½–½ between the two 2s. Without ties this is
  the permutation applied to the tangent.
* **Products are exact at zeros**, at every order: ∂prod/∂xᵢ is the product of the others (exclusive
  cumulative products from both sides, never prod/xᵢ), so with one zero factor the zero's partial
  is the product of the rest and with two zeros every partial is 0. ``cumprod`` differentiates
  by a division-free scan (a polynomial in the inputs), so its second derivatives are exact there
  too.
* **std at zero variance** (all elements of a group equal): std is a norm of the deviations, and 0
  is its smallest subgradient there; every engine returns 0 (its root is ``norm_sqrt``, whose
  partial at 0 is that convention), as abs′(0) = 0, and no second derivative (a kink).
* **Indices have no derivative.** ``argmax``, ``argmin``, ``argsort``, ``argpartition`` return plain
  integer arrays, also for traced values, and the trace then holds at this point only, exactly as
  ``Tensor.argmax`` (``x[np.argmax(x)]`` keeps its derivative). ``all``, ``any`` and
  ``count_nonzero`` are recorded, with constant (boolean, integer) values.
* ``sort``, ``partition`` (and ``median``, built on ``sort``) have no SymPy translation: the order
  of symbols is unknown, so the symbolic engine refuses them by name.

NumPy's values exactly: each record evaluates with NumPy's own function, and the composites
(``var``, ``std``, ``average``, ``ptp``, ``median``) repeat NumPy's arithmetic step by step.
"""

from __future__ import annotations

import builtins
import math
import operator
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..backend import array_namespace, to_numpy
from ..errors import DomainError, InputTypeError, ShapeError, TracingError
from ..ir import Traced, held_value
from ..primitive import Primitive, bind, from_objects
from .declare import _declare, composite, declared_in, shape_of, structural
from .declare import dtype_of as _dtype
from .declare import normalize_axes as _axes
from .declare import plain_value as _peek  # nothing marked: for checks that only raise
from .declare import xp_of as _xp
from .elementwise import abs as _abs
from .elementwise import conj, norm_sqrt, not_equal, real
from .elementwise import where as _where
from .structure import (
    TIE_SHARED_RULES,
    _amax_sympy,
    _batch_axes,
    _count,
    _expand_back,
    _given,
    _kept_shape,
    _reduce_in,
    _refuse,
    amax,
    at_kink,
    broadcast_to,
    concatenate,
    getitem,
    index_add,
    mean,
    reshape,
    transpose,
)
from .structure import sum as _sum

_NOVALUE = np._NoValue  # NumPy's "argument not given"

# ----- helpers -----------------------------------------------------------------------------------


def _plain(v: Any) -> Any:
    """The plain value of `v`, read out of traced values like ``Tensor.argmax`` does: what is
    computed from it (indices, an order, tie groups) holds at this point only, so each trace it
    passes through is marked value-dependent (a branch on the values)."""
    while isinstance(v, Traced):
        v.tape.value_dependent = True
        v = held_value(v)
    return v


def _const(values: Any, like: Any) -> Any:
    """A constant array in `like`'s array module and floating dtype."""
    return _xp(like).asarray(values, dtype=_dtype(like))


def _array(a: Any) -> Any:
    """A composite's array argument: traced values and arrays as they are, the rest via NumPy."""
    if isinstance(a, Traced) or hasattr(a, "shape") and hasattr(a, "dtype"):
        return from_objects(a)
    return np.asarray(a)


def _flag(v: Any) -> bool:
    """keepdims as NumPy passes it (np._NoValue: not given)."""
    return False if v is _NOVALUE else builtins.bool(v)


def _check_dtype(name: str, x: Any, dtype: Any) -> None:
    if _given(dtype) and np.dtype(dtype) != _dtype(x):
        raise TracingError(
            f"numpy.{name} with dtype={np.dtype(dtype)} on {_dtype(x)} values is not supported by "
            "diffkit: convert the input instead (x.astype(...))")


def _one_axis(name: str, axis: Any, ndim: int) -> int:
    """A single axis (cumsum, sort, argmax take one), normalized to be non-negative."""
    if not isinstance(axis, int | np.integer):
        try:
            axis = operator.index(axis)
        except TypeError:
            raise ShapeError(f"{name} takes one axis (an int), got {axis!r}") from None
    ax = _axes(axis, ndim)
    return ax[0] if ax else 0


def _flip(v: Any, axis: int) -> Any:
    return getitem(v, (slice(None),) * axis + (slice(None, None, -1),))


def _shift(v: Any, d: int, axis: int, reverse: bool = False, fill: float = 0.0) -> Any:
    """`v` moved by `d` places along `axis` (towards the end, or the start when `reverse`), with
    `fill` coming in: v[j−d] (or v[j+d]) at j."""
    shape = shape_of(v)
    n = shape[axis]
    d = builtins.min(d, n)
    pad = _xp(v).full(shape[:axis] + (d,) + shape[axis + 1:], fill, dtype=_dtype(v))
    lead = (slice(None),) * axis
    if reverse:
        return concatenate([getitem(v, lead + (slice(d, None),)), pad], axis=axis)
    return concatenate([pad, getitem(v, lead + (slice(0, n - d),))], axis=axis)


def _scan(a: Any, b: Any, axis: int, reverse: bool = False) -> Any:
    """h with h_j = b_j + a_j·h_{j−1} along `axis` (h_{−1} = 0), or h_j = b_j + a_j·h_{j+1} when
    `reverse`; `a` broadcasts against `b`, which may have extra leading axes (k directions).

    Recursive doubling (Hillis–Steele): ⌈log₂ n⌉ rounds of shifted products and sums. The result is
    a polynomial in `a` and `b` — no division — so it and its derivatives are exact everywhere,
    at zeros of `a` included."""
    bax = axis + len(shape_of(b)) - len(shape_of(a))
    n = shape_of(b)[bax]
    d = 1
    while d < n:
        b = b + a * _shift(b, d, bax, reverse)
        if 2 * d < n:
            a = a * _shift(a, d, axis, reverse)
        d *= 2
    return b


def _reduce_groups(x: Any, axis: tuple[int, ...] | None, keepdims: bool, fn: Any) -> np.ndarray:
    """A SymPy translation of a reduction: `fn` applied to each reduced group of the object array."""
    x = np.asarray(x, dtype=object)
    axes = tuple(range(x.ndim)) if axis is None else axis
    moved = np.moveaxis(x, axes, tuple(range(-len(axes), 0)))
    kept = moved.shape[:moved.ndim - len(axes)]
    groups = moved.reshape(kept + (-1,))
    out = np.empty(kept, dtype=object)
    for idx in np.ndindex(*kept):
        out[idx] = fn(list(groups[idx]))
    return out.reshape(_kept_shape(x.shape, axis)) if keepdims else out


def _truth(sp: Any, e: Any) -> Any:
    """An element as a SymPy condition (numbers: ≠ 0), as NumPy's truth value of it."""
    if isinstance(e, sp.logic.boolalg.Boolean) and not isinstance(e, sp.Expr):
        return e
    if isinstance(e, bool | np.bool_):
        return sp.true if e else sp.false
    return sp.Ne(e, 0)


def _prepare_reduce(name: str, x: Any, axis: Any, keepdims: Any, **unsupported: Any) -> Any:
    _refuse(name, **unsupported)
    return (x,), {"axis": _axes(axis, len(shape_of(x))), "keepdims": _flag(keepdims)}


# ----- min ----------------------------------------------------------------------------------------


def _prepare_amin(x: Any, axis: Any = None, out: Any = None, keepdims: Any = False,
                  initial: Any = _NOVALUE, where: Any = _NOVALUE) -> Any:
    return _prepare_reduce("min", x, axis, keepdims, out=out, initial=initial, where=where)


def _amin_sympy(sp: Any, x: Any, axis: tuple[int, ...] | None = None, keepdims: bool = False) -> Any:
    """min = −max(−x): a TieMax, whose derivative shares 1 equally among the tied entries."""
    negated = np.negative(np.asarray(x, dtype=object))  # (unary minus of a 0-d object array is
    return -_amax_sympy(sp, np.asarray(negated, dtype=object), axis, keepdims)  # no array)


amin = structural(
    "amin", lambda xp, x, axis=None, keepdims=False: xp.min(x, axis=axis, keepdims=keepdims),
    prepare=_prepare_amin, numpy=("amin", "min"), symbol="min", latex=r"\min",
    # amax's rules: the tie weights of x == min, a convention at a tie that a second
    # derivative refuses (at_kink; min(x)² at [1, 1, 3] had a Hessian that neither side has)
    **TIE_SHARED_RULES,
    sympy=_amin_sympy,
    holomorphic=True,
    doc="Minimum over `axis` (np.min, x.min()); the derivative is shared equally among ties.")

# ----- prod, cumsum, cumprod ---------------------------------------------------------------------


def _prepare_prod(x: Any, axis: Any = None, dtype: Any = None, out: Any = None,
                  keepdims: Any = False, initial: Any = _NOVALUE, where: Any = _NOVALUE) -> Any:
    return _prepare_reduce("prod", _reduce_in(x, dtype), axis, keepdims, out=out,
                           initial=initial, where=where)


def _others_product(x: Any, axis: tuple[int, ...] | None) -> Any:
    """∂prod/∂x: for each element the product of the other elements of its reduced group, as
    (exclusive cumulative product from the left) × (from the right): no division, so one zero
    factor leaves the product of the rest and two zeros give 0 — exactly, at every order."""
    nd = len(shape_of(x))
    axes = tuple(range(nd)) if axis is None else axis
    kept = tuple(i for i in range(nd) if i not in axes)
    perm = kept + axes
    xt = transpose(x, perm)
    tshape = shape_of(xt)
    lead = tshape[:len(kept)]
    n = math.prod(tshape[len(kept):])
    if n == 0:
        return x * 0.0
    x2 = reshape(xt, (*lead, n))
    last = len(lead)
    left = _shift(bind(cumprod, x2, axis=last), 1, last, fill=1.0)
    right = _shift(_flip(bind(cumprod, _flip(x2, last), axis=last), last), 1, last, reverse=True,
                   fill=1.0)
    w = reshape(left * right, tshape)
    return transpose(w, tuple(int(i) for i in np.argsort(perm)))


prod = structural(
    "prod", lambda xp, x, axis=None, keepdims=False: xp.prod(x, axis=axis, keepdims=keepdims),
    prepare=_prepare_prod, numpy=("prod",), symbol="prod", unicode="∏", latex=r"\prod",
    jvp=lambda ts, k, xs, out, axis=None, keepdims=False: bind(
        _sum, ts[0] * _others_product(xs[0], axis),
        axis=_batch_axes(axis, len(shape_of(xs[0]))), keepdims=keepdims),
    vjp=lambda ct, xs, out, axis=None, keepdims=False: (
        _expand_back(ct, xs[0], axis, keepdims) * _others_product(xs[0], axis),),
    holomorphic=True,
    doc="Product over `axis` (all axes when None); exact derivatives at zero factors.")


def _prepare_cumulative(name: str) -> Any:
    def prepare(x: Any, axis: Any = None, dtype: Any = None, out: Any = None) -> Any:
        _refuse(name, out=out)
        x = _reduce_in(x, dtype)  # NumPy accumulates in dtype= (as add.accumulate does)
        nd = len(shape_of(x))
        if axis is None or nd == 0:  # NumPy works on the flattened array
            if axis is not None:
                _one_axis(name, axis, nd)
            return (reshape(x, (-1,)),), {"axis": 0}
        return (x,), {"axis": _one_axis(name, axis, nd)}

    return prepare


cumsum = structural(
    "cumsum", lambda xp, x, axis: xp.cumsum(x, axis=axis), linear=True,
    prepare=_prepare_cumulative("cumsum"), numpy=("cumsum",), unicode="cumΣ",
    batch=lambda ts, k, xs, out, axis: bind(cumsum, ts[0], axis=axis + 1),
    vjp=lambda ct, xs, out, axis: (_flip(bind(cumsum, _flip(ct, axis), axis=axis), axis),),
    holomorphic=True,
    doc="Cumulative sums along `axis` (of the flattened array when None).")


def _cumprod_jvp(ts: Any, k: int, xs: Any, out: Any, axis: int) -> Any:
    """ẏ_j = x_j·ẏ_{j−1} + y_{j−1}·ẋ_j (y_{−1} = 1): a linear recurrence, solved by a scan."""
    before = _shift(out, 1, axis, fill=1.0)  # y_{j−1}: the exclusive cumulative product
    return _scan(xs[0], ts[0] * before, axis)


def _cumprod_vjp(ct: Any, xs: Any, out: Any, axis: int) -> tuple[Any]:
    """x̄_i = y_{i−1}·g_i with g_i = ȳ_i + x_{i+1}·g_{i+1} (a scan from the end)."""
    x = xs[0]
    before = _shift(out, 1, axis, fill=1.0)
    return (before * _scan(_shift(x, 1, axis, reverse=True), ct, axis, reverse=True),)


cumprod = structural(
    "cumprod", lambda xp, x, axis: xp.cumprod(x, axis=axis),
    prepare=_prepare_cumulative("cumprod"), numpy=("cumprod",), unicode="cum∏",
    jvp=_cumprod_jvp, vjp=_cumprod_vjp,
    holomorphic=True,
    doc="Cumulative products along `axis` (of the flattened array when None); exact derivatives "
        "at zeros, at every order.")

# ----- sorting and selection ---------------------------------------------------------------------


def _value_groups(v: np.ndarray, axis: int) -> tuple[np.ndarray, bool]:
    """For each element of `v` (flattened, in `v`'s own order), a label shared by the elements of
    equal value in the same lane along `axis` (lane·n + rank of the value within the lane), and
    whether all values of every lane are distinct."""
    moved = np.moveaxis(v, axis, -1)
    n = moved.shape[-1]
    flat = moved.reshape(math.prod(moved.shape[:-1]), n)  # (lanes, n), also when empty
    order = np.argsort(flat, axis=-1, kind="stable")
    ordered = np.take_along_axis(flat, order, axis=-1)
    new = np.ones(flat.shape, dtype=bool)
    new[:, 1:] = ordered[:, 1:] != ordered[:, :-1]
    rank = np.cumsum(new, axis=-1) - 1 + (np.arange(flat.shape[0]) * n)[:, None]
    labels = np.empty_like(rank)
    np.put_along_axis(labels, order, rank, axis=-1)
    return np.moveaxis(labels.reshape(moved.shape), -1, axis).reshape(-1), builtins.bool(new.all())


class _Reorder:
    """The derivative of an output that reorders its input along one axis (sort, partition): the
    output's tangent at each element is the mean of the input tangents of equal value in its lane
    (the permutation itself where the values are distinct). Read from the values, like an index;
    complex values are ordered as NumPy orders them (lexicographically), and the map is complex
    linear."""

    def __init__(self, x: Any, out: Any, axis: int) -> None:
        xv = np.asarray(to_numpy(_plain(x)))
        ov = np.asarray(to_numpy(_plain(out)))
        self.shape = xv.shape
        self.size = xv.size
        self.groups = self.size  # labels run over lanes × n
        self.lab_in, self.distinct = _value_groups(xv, axis)
        self.lab_out, _ = _value_groups(ov, axis)
        if self.distinct:
            where_in = np.empty(self.groups, dtype=np.intp)
            where_in[self.lab_in] = np.arange(self.size)
            self.src = where_in[self.lab_out]  # the input element each output element is
            where_out = np.empty(self.groups, dtype=np.intp)
            where_out[self.lab_out] = np.arange(self.size)
            self.dst = where_out[self.lab_in]  # where each input element went
        else:
            counts = np.bincount(self.lab_in, minlength=self.groups)
            self.share = 1.0 / counts[self.lab_out]

    def jvp(self, t: Any, k: int, like: Any) -> Any:
        t2 = reshape(t, (k, self.size))
        if self.distinct:
            moved = getitem(t2, (slice(None), self.src))
        else:  # tied values share their tangents: a convention (see at_kink)
            sums = index_add(t2, (slice(None), self.lab_in), (k, self.groups))
            moved = at_kink(getitem(sums, (slice(None), self.lab_out)) * _const(self.share, like),
                            _tied, "sort/partition at tied values", like)
        return reshape(moved, (k, *self.shape))

    def vjp(self, ct: Any, like: Any) -> Any:
        c = reshape(ct, (self.size,))
        if self.distinct:
            return reshape(getitem(c, (self.dst,)), self.shape)
        sums = index_add(c * _const(self.share, like), (self.lab_out,), (self.groups,))
        return reshape(at_kink(getitem(sums, (self.lab_in,)), _tied,
                               "sort/partition at tied values", like), self.shape)


def _tied() -> Any:
    """The smoothness mask of a reordering with ties: false (see at_kink)."""
    return np.False_


def _reorder_jvp(ts: Any, k: int, xs: Any, out: Any, axis: int, **_: Any) -> Any:
    return _Reorder(xs[0], out, axis).jvp(ts[0], k, xs[0])


def _reorder_vjp(ct: Any, xs: Any, out: Any, axis: int, **_: Any) -> tuple[Any]:
    return (lambda: _Reorder(xs[0], out, axis).vjp(ct, xs[0]),)


def _sortable(name: str, x: Any, axis: Any, order: Any) -> tuple[Any, int]:
    """(x, axis) with axis=None as NumPy's flattened array along axis 0."""
    _refuse(name, order=order)
    nd = len(shape_of(x))
    if axis is None:
        return reshape(x, (-1,)), 0
    if nd == 0:
        raise ShapeError(f"{name}: axis {axis} is out of bounds for an array with 0 dimensions")
    return x, _one_axis(name, axis, nd)


def _prepare_sort(x: Any, axis: Any = -1, kind: Any = None, order: Any = None, *,
                  stable: Any = None) -> Any:
    _sort_keywords(kind, stable)  # checked: they cannot change the sorted values
    x, ax = _sortable("sort", x, axis, order)
    return (x,), {"axis": ax}


def _sorted(xp: Any, x: Any, axis: Any) -> Any:
    """``xp.sort(x, axis)``, its NaNs quiet: NumPy 2.4's AVX-512 sort of float16 gives each NaN
    back as 0x7C01, a signalling NaN (its input's was quiet), which the next arithmetic turns
    into an invalid-value error (median · 2 of float16 data holding NaN raised where NumPy's
    median, a partition, gives NaN)."""
    out = xp.sort(x, axis=axis)
    if out.dtype == np.float16 and xp is np:
        nan = np.isnan(out)
        if nan.any():
            out[nan] = np.nan
    return out


sort = structural(
    "sort", _sorted, prepare=_prepare_sort, numpy=("sort",),
    jvp=_reorder_jvp, vjp=_reorder_vjp, sympy=False,
    holomorphic=True,
    doc="Sorted copy along `axis` (flattened when None). Derivative: the permutation; tied values "
        "share their tangents equally.")


def _prepare_partition(x: Any, kth: Any, axis: Any = -1, kind: str = "introselect",
                       order: Any = None) -> Any:
    x, ax = _sortable("partition", x, axis, order)
    if kind != "introselect":
        raise TracingError(f"numpy.partition with kind={kind!r} is not supported")
    n = shape_of(x)[ax]
    ks = (kth,) if isinstance(kth, int | np.integer) else tuple(np.asarray(kth).reshape(-1))
    for k in ks:
        if not -n <= int(k) < n:
            raise ShapeError(f"partition: kth={int(k)} is out of bounds for length {n}")
    kth = int(kth) if isinstance(kth, int | np.integer) else tuple(int(k) for k in ks)
    return (x,), {"kth": kth, "axis": ax}


partition = structural(
    "partition", lambda xp, x, kth, axis: xp.partition(x, kth, axis=axis),
    prepare=_prepare_partition, numpy=("partition",), jvp=_reorder_jvp, vjp=_reorder_vjp,
    sympy=False,
    holomorphic=True,
    doc="NumPy's partition (the k-th smallest at position k, smaller before, larger after). "
        "Derivative: the permutation; tied values share their tangents equally.")


@dataclass(frozen=True, eq=False)
class IndexRecord(Primitive):
    """A record whose values are indices (argmax, argsort): integers, with no derivative.

    On traced values it returns the plain integer array and marks the trace value-dependent, as
    ``Tensor.argmax`` does: reading an index loses no derivative (``x[np.argmax(x)]`` keeps its
    derivative), so it is allowed even on values being differentiated, and the trace holds at this
    point only (a jit function that reads one is traced again at every call)."""

    def __call__(self, *args: Any, **params: Any) -> Any:
        args = tuple(from_objects(a) for a in args)
        args, params = self.prepare(*args, **params)
        if builtins.any(isinstance(a, Traced) for a in args):
            values = [_plain(a) for a in args]
            return self.evaluate(array_namespace(*values), values, params)
        return bind(self, *args, **params)


def _index_record(name: str, impl: Any, prepare: Any, doc: str) -> IndexRecord:
    return _declare(IndexRecord(
        name=name, nargs=1, impl=impl, kind="structural", vjp=lambda ct, xs, out, **p: (None,),
        differentiable=False, holomorphic=False,  # integer indices: no derivative to promise
        prepare=prepare, sympy=False, numpy=(name,), symbol=name,
        unicode=name, latex=rf"\operatorname{{{name}}}", doc=doc))


def _prepare_argext(name: str) -> Any:
    def prepare(x: Any, axis: Any = None, out: Any = None, *, keepdims: Any = False) -> Any:
        _refuse(name, out=out)
        nd = len(shape_of(x))
        return (x,), {"axis": None if axis is None else _one_axis(name, axis, nd),
                      "keepdims": _flag(keepdims)}

    return prepare


argmax = _index_record(
    "argmax", lambda xp, x, axis=None, keepdims=False: xp.argmax(x, axis=axis, keepdims=keepdims),
    _prepare_argext("argmax"),
    "Indices of the largest values along `axis` (of the flattened array when None): plain "
    "integers, no derivative; on a traced value the trace holds at this point only.")
argmin = _index_record(
    "argmin", lambda xp, x, axis=None, keepdims=False: xp.argmin(x, axis=axis, keepdims=keepdims),
    _prepare_argext("argmin"),
    "Indices of the smallest values along `axis` (see argmax).")


def _sort_keywords(kind: Any, stable: Any) -> dict[str, Any]:
    """NumPy's sorting keywords: `kind` or `stable`, not both (NumPy's ValueError)."""
    if kind is not None and stable is not None:
        raise ShapeError("`kind` and keyword parameters can't be provided at the same time. "
                         "Use only one of them.")
    return {k: v for k, v in (("kind", kind), ("stable", stable)) if v is not None}


def _prepare_argsort(x: Any, axis: Any = -1, kind: Any = None, order: Any = None, *,
                     stable: Any = None) -> Any:
    _refuse("argsort", order=order)
    nd = len(shape_of(x))
    if axis is not None and nd == 0:
        raise ShapeError(f"argsort: axis {axis} is out of bounds for an array with 0 dimensions")
    return (x,), {"axis": None if axis is None else _one_axis("argsort", axis, nd),
                  **_sort_keywords(kind, stable)}


argsort = _index_record(
    "argsort", lambda xp, x, axis=-1, **kw: xp.argsort(x, axis=axis, **kw), _prepare_argsort,
    "Indices that sort along `axis` (NumPy's, ties included): plain integers, no derivative.")


def _prepare_argpartition(x: Any, kth: Any, axis: Any = -1, kind: str = "introselect",
                          order: Any = None) -> Any:
    _refuse("argpartition", order=order)
    if kind != "introselect":
        raise TracingError(f"numpy.argpartition with kind={kind!r} is not supported")
    nd = len(shape_of(x))
    kth = int(kth) if isinstance(kth, int | np.integer) else tuple(
        int(k) for k in np.asarray(kth).reshape(-1))
    return (x,), {"kth": kth, "axis": None if axis is None else _one_axis("argpartition", axis, nd)}


argpartition = _index_record(
    "argpartition", lambda xp, x, kth, axis=-1: xp.argpartition(x, kth, axis=axis),
    _prepare_argpartition,
    "Indices that partition along `axis` (NumPy's): plain integers, no derivative.")

# ----- truth values and counts (constants) -------------------------------------------------------


def _prepare_logical(name: str) -> Any:
    def prepare(x: Any, axis: Any = None, out: Any = None, keepdims: Any = False, *,
                where: Any = _NOVALUE) -> Any:
        return _prepare_reduce(name, x, axis, keepdims, out=out, where=where)

    return prepare


def _logical_sympy(combine: str) -> Any:
    def translate(sp: Any, x: Any, axis: Any = None, keepdims: bool = False) -> Any:
        return _reduce_groups(x, axis, keepdims,
                              lambda g: getattr(sp, combine)(*[_truth(sp, e) for e in g]))

    return translate


def _no_derivative(ct: Any, xs: Any, out: Any, **params: Any) -> tuple[None]:
    return (None,)


all = structural(
    "all", lambda xp, x, axis=None, keepdims=False: xp.all(x, axis=axis, keepdims=keepdims),
    prepare=_prepare_logical("all"), numpy=("all",), vjp=_no_derivative, differentiable=False,
    sympy=_logical_sympy("And"), unicode="∀", latex=r"\forall",
    holomorphic=True,
    doc="True where every element along `axis` is nonzero (a constant: no derivative).")
any = structural(
    "any", lambda xp, x, axis=None, keepdims=False: xp.any(x, axis=axis, keepdims=keepdims),
    prepare=_prepare_logical("any"), numpy=("any",), vjp=_no_derivative, differentiable=False,
    sympy=_logical_sympy("Or"), unicode="∃", latex=r"\exists",
    holomorphic=True,
    doc="True where some element along `axis` is nonzero (a constant: no derivative).")


def _count_nonzero_impl(xp: Any, x: Any, axis: Any = None, keepdims: bool = False) -> Any:
    out = xp.count_nonzero(x, axis=axis)  # (CuPy's has no keepdims)
    if keepdims:
        out = xp.reshape(out, _kept_shape(tuple(x.shape), axis))
    return out if hasattr(out, "dtype") else np.intp(out)


def _count_nonzero_sympy(sp: Any, x: Any, axis: Any = None, keepdims: bool = False) -> Any:
    return _reduce_groups(x, axis, keepdims, lambda g: sp.Add(
        *[sp.Piecewise((1, _truth(sp, e)), (0, True)) for e in g]))


count_nonzero = structural(
    "count_nonzero", _count_nonzero_impl,
    prepare=lambda x, axis=None, *, keepdims=False: _prepare_reduce(
        "count_nonzero", x, axis, keepdims),
    numpy=("count_nonzero",), vjp=_no_derivative, differentiable=False,
    sympy=_count_nonzero_sympy, unicode="#≠0", latex=r"\#_{\neq 0}",
    holomorphic=True,
    doc="The number of nonzero elements along `axis` (an integer constant: no derivative).")

# ----- composites: statistics --------------------------------------------------------------------


def _ddof(ddof: Any, correction: Any) -> Any:
    """The delta degrees of freedom: `ddof`, or NumPy's `correction` (its Array API name)."""
    if _given(correction):
        if isinstance(ddof, Traced) or ddof != 0:
            raise DomainError("ddof and correction can't be provided simultaneously.")
        ddof, name = correction, "correction"
    else:
        name = "ddof"
    if not isinstance(ddof, Traced) and np.asarray(ddof).dtype.kind not in "biuf":
        raise InputTypeError(f"{name} must be a real number, got {ddof!r} (NumPy's TypeError)")
    return ddof


@composite(numpy=("var",))
def var(x: Any, axis: Any = None, dtype: Any = None, out: Any = None, ddof: Any = 0,
        keepdims: Any = False, *, where: Any = _NOVALUE, mean: Any = _NOVALUE,
        correction: Any = _NOVALUE) -> Any:
    """Variance over `axis`: Σ|x − mean|² / (n − ddof), NumPy's arithmetic step by step (its exact
    values). ``ddof`` (or ``correction``) ≥ n is a DomainError (NumPy warns and returns inf/nan)."""
    return _variance(x, axis, dtype, out, ddof, keepdims, where, mean, correction)[0]


def _variance(x: Any, axis: Any, dtype: Any, out: Any, ddof: Any, keepdims: Any, where: Any,
              mean: Any, correction: Any) -> tuple[Any, Any, tuple[int, ...]]:
    """var's value, the deviations x − mean it squared, and its axes (std reads all three)."""
    x = _array(x)
    _refuse("var", out=out, where=where, mean=mean)
    _check_dtype("var", x, dtype)
    ddof = _ddof(ddof, correction)
    axes = _axes(axis, len(shape_of(x)))
    n = _count(shape_of(x), axes)
    if ddof >= n:
        raise DomainError(f"var/std: ddof={ddof} leaves no degrees of freedom for groups of {n} "
                          "element(s)")
    d = x - _mean(x, axes, keepdims=True)
    sq = real(d * conj(d)) if _dtype(x).kind == "c" else d * d
    return _sum(sq, axes, keepdims=_flag(keepdims)) / (n - ddof), d, axes


_mean = mean  # the record (var's keyword `mean` is NumPy's)


@composite(numpy=("std",))
def std(x: Any, axis: Any = None, dtype: Any = None, out: Any = None, ddof: Any = 0,
        keepdims: Any = False, *, where: Any = _NOVALUE, mean: Any = _NOVALUE,
        correction: Any = _NOVALUE) -> Any:
    """Standard deviation: sqrt(var). Where a group's variance is 0 (its elements are equal) the
    derivative is 0, the smallest subgradient of this norm of the deviations (as abs′(0) = 0):
    the root is ``norm_sqrt``, whose partial at 0 says so, not sqrt's ∞ (whose 0·∞ with the
    variance's derivative 0 would be refused: that zero holds at the point only)."""
    v, d, axes = _variance(x, axis, dtype, out, ddof, keepdims, where, mean, correction)
    # the largest deviation: 0 exactly where the group's elements are equal (v = 0 by
    # underflow alone keeps sqrt′(0) = ∞: no derivative, a named error, not a silent 0)
    return norm_sqrt(v, amax(_abs(d), axes, keepdims=_flag(keepdims)))


def _given_axes(axis: Any, ndim: int) -> tuple[int, ...] | None:
    """Axes in the order given (np.average pairs the weights' axes with them)."""
    if axis is None:
        return None
    _axes(axis, ndim, lists=True)  # checks the range and repeats
    items = tuple(axis) if isinstance(axis, tuple | list) else (operator.index(axis),)
    return tuple(operator.index(a) % builtins.max(ndim, 1) for a in items)


@composite(numpy=("average",))
def average(a: Any, axis: Any = None, weights: Any = None, returned: bool = False, *,
            keepdims: Any = _NOVALUE) -> Any:
    """Weighted average Σ a·w / Σ w over `axis` (NumPy's steps and values; the plain mean without
    weights), differentiable in `a` and in `weights`. Weights summing to 0 are a DomainError."""
    a = _array(a)
    nd = len(shape_of(a))
    order = _given_axes(axis, nd)
    axes = _axes(order, nd) if order is not None else None
    keep = _flag(keepdims)
    if weights is None:
        avg = _mean(a, axes, keepdims=keep)
        if not returned:
            return avg
        scale = math.prod(shape_of(a)) / builtins.max(math.prod(shape_of(avg)), 1)
        return avg, _xp(avg).full(shape_of(avg), scale, dtype=_dtype(avg))[()]
    w = _array(weights)
    if shape_of(w) != shape_of(a):
        if order is None:
            raise ShapeError("average: give axis= when the shapes of a and weights differ "
                             f"({shape_of(a)} and {shape_of(w)})")
        if shape_of(w) != tuple(shape_of(a)[i] for i in order):
            raise ShapeError(f"average: weights of shape {shape_of(w)} do not fit a of shape "
                             f"{shape_of(a)} along axes {order}")
        w = transpose(w, tuple(int(i) for i in np.argsort(order)))
        w = reshape(w, tuple(s if i in order else 1 for i, s in enumerate(shape_of(a))))
    a_kind = _dtype(a).kind
    result = np.result_type(_dtype(a), _dtype(w), *(["f8"] if a_kind in "biu" else []))
    a, w = _as_dtype(a, result), _as_dtype(w, result)
    scale = _sum(w, axes, keepdims=keep)
    if np.any(np.asarray(to_numpy(_peek(scale))) == 0):
        raise DomainError("average: the weights sum to 0, so they cannot be normalized")
    avg = _sum(a * w, axes, keepdims=keep) / scale
    if not returned:
        return avg
    if shape_of(scale) != shape_of(avg):
        scale = broadcast_to(scale, shape_of(avg))
    return avg, scale


def _as_dtype(v: Any, dtype: np.dtype) -> Any:
    """`v` in `dtype` (a float dtype at least as wide): exact, and differentiable for traced values."""
    if _dtype(v) == dtype:
        return v
    if isinstance(v, Traced):
        return v * _xp(v).ones((), dtype=dtype)
    return v.astype(dtype)


@composite(numpy=("ptp",))
def ptp(x: Any, axis: Any = None, out: Any = None, keepdims: Any = False) -> Any:
    """Peak to peak, max − min over `axis`; ties share the derivative equally (as amax, amin)."""
    x = _array(x)
    _refuse("ptp", out=out)
    keep = _flag(keepdims)
    return amax(x, axis=axis, keepdims=keep) - amin(x, axis=axis, keepdims=keep)


def _invalid(name: str, bad: Any, what: str, warning: str | None) -> bool:
    """Whether some slice is `bad` (a boolean array, maybe traced; only read here: the graph
    must not depend on it, so callers put nan where `bad` whatever it is — a replay of the
    trace at other values then gives NumPy's nan there too). Under NumPy's
    ``errstate(invalid="raise")`` — set by dk.grad & co. — such a slice is a DomainError, as
    ``np.mean`` of an empty array is; elsewhere NumPy's RuntimeWarning (when it gives one)."""
    if not np.any(np.asarray(to_numpy(_peek(bad)))):
        return False
    if np.geterr()["invalid"] == "raise":
        raise DomainError(
            f"point outside the domain: numpy.{name} of {what} is nan (NumPy's value, "
            "as for np.mean of an empty array); diffkit differentiates at finite points only: "
            "drop those slices, or fill them first (np.where)")
    if warning is not None:
        warnings.warn(warning, RuntimeWarning, stacklevel=4)
    return True


def _scalar(v: Any) -> Any:
    """A plain 0-d result as NumPy returns it (a NumPy scalar); traced values as they are."""
    return v[()] if not isinstance(v, Traced) and getattr(v, "ndim", None) == 0 else v


@composite(numpy=("median",))
def median(a: Any, axis: Any = None, out: Any = None, overwrite_input: bool = False,
           keepdims: Any = False) -> Any:
    """Median over `axis` (NumPy's values: the middle element, or the mean of the two middle
    ones, of the sorted group). The derivative goes to the middle element(s); tied values share
    it equally (``sort``'s convention). A group holding NaN has NumPy's median, that NaN (sorted
    last; a DomainError inside dk.grad & co.: use nanmedian). No SymPy translation (see sort)."""
    a = _array(a)
    _refuse("median", out=out)
    nd = len(shape_of(a))
    if nd == 0:
        return _scalar(a)
    axes = _axes(axis, nd, lists=True)
    axes = tuple(range(nd)) if axes is None else axes
    kept = tuple(i for i in range(nd) if i not in axes)
    n = _count(shape_of(a), axes)
    if n == 0:
        raise DomainError("median of an empty group")
    lead = tuple(shape_of(a)[i] for i in kept)
    lanes = reshape(transpose(a, kept + axes), (*lead, n))
    last = len(lead)
    ordered = sort(lanes, axis=last)
    half = n // 2
    middle = slice(half, half + 1) if n % 2 else slice(half - 1, half + 1)
    out_ = _mean(getitem(ordered, (slice(None),) * last + (middle,)), last)
    if _dtype(a).kind in "fc":  # NumPy's _median_nancheck, whatever the values (see _invalid)
        top = getitem(ordered, (slice(None),) * last + (-1,))  # NaN sorts last
        has_nan = not_equal(top, top)  # NaN alone differs from itself
        _invalid("median", has_nan, "a slice holding NaN (use numpy.nanmedian)", None)
        out_ = _where(has_nan, top, out_)
    if _flag(keepdims):
        out_ = reshape(out_, _kept_shape(shape_of(a), axes))
    return _scalar(out_)


# ----- differences ---------------------------------------------------------------------------------


def _along(axis: int, nd: int, index: Any) -> tuple[Any, ...]:
    return (slice(None),) * axis + (index,) + (slice(None),) * (nd - axis - 1)


def _plain_number(v: Any, what: str) -> Any:
    """A spacing or coordinate argument: plain numbers (differences are not differentiated by
    their spacing here)."""
    if isinstance(v, Traced):
        return v.concrete(what)
    return v


@composite(numpy=("diff",))
def diff(a: Any, n: int = 1, axis: int = -1, prepend: Any = _NOVALUE,
         append: Any = _NOVALUE) -> Any:
    """n-th differences along `axis`: out[i] = a[i+1] − a[i], n times (NumPy's values); `prepend`
    and `append` are joined first (scalars broadcast to one slice). A boolean array differs by
    a[i+1] ≠ a[i], as NumPy's diff does (a constant mask, no derivative)."""
    a = _array(a)
    nd = len(shape_of(a))
    if nd == 0:
        raise ShapeError("diff requires an input that is at least one dimensional")
    n = operator.index(n)
    if n < 0:
        raise ShapeError(f"diff: the order n must be non-negative, got {n}")
    (ax,) = _axes(axis, nd)
    if n == 0:  # NumPy returns `a` before it reads prepend/append (joined, they made n = 0
        return a  # a different array: 9 where NumPy gives 7)
    parts = []
    for extra in (prepend, append):
        if extra is _NOVALUE:
            parts.append(None)
            continue
        e = _array(extra)
        if not shape_of(e):
            shape = list(shape_of(a))
            shape[ax] = 1
            e = broadcast_to(e, tuple(shape))
        parts.append(e)
    if parts[0] is not None or parts[1] is not None:
        a = concatenate([p for p in (parts[0], a, parts[1]) if p is not None], axis=ax)
    step = not_equal if _dtype(a) == np.bool_ else operator.sub  # NumPy's op for a boolean mask
    for _ in range(n):
        a = step(getitem(a, _along(ax, nd, slice(1, None))),
                 getitem(a, _along(ax, nd, slice(None, -1))))
    return a


@composite(numpy=("ediff1d",))
def ediff1d(ary: Any, to_end: Any = None, to_begin: Any = None) -> Any:
    """Differences of the flattened array, with optional values before and after, in its dtype.

    NumPy's dtype: `to_begin` and `to_end` are cast to the array's (same_kind casting)."""
    flat = reshape(_array(ary), (-1,))
    out = getitem(flat, (slice(1, None),)) - getitem(flat, (slice(None, -1),))
    ends = []
    for v, name in ((to_begin, "to_begin"), (to_end, "to_end")):
        if v is None:
            ends.append([])
            continue
        e = _array(v)
        if not np.can_cast(_dtype(e), _dtype(flat), casting="same_kind"):
            raise InputTypeError(f"numpy.ediff1d: dtype of `{name}` ({_dtype(e)}) must be "
                                 f"compatible with input `ary` ({_dtype(flat)}) under the "
                                 "`same_kind` rule (NumPy's TypeError)")
        ends.append([_reduce_in(reshape(e, (-1,)), _dtype(flat))])
    parts = [*ends[0], out, *ends[1]]
    return concatenate(parts, axis=0) if len(parts) > 1 else out


def _gradient_spacing(spacing: Any, n: int) -> Any:
    """One axis's spacing as NumPy's gradient holds it: a scalar as given (a Python number stays
    weak, a NumPy scalar or 0-d array strong), coordinates as their differences in their own
    dtype (integers as float64), and those reduced to their first when all are equal."""
    h = _plain_number(spacing, "a gradient spacing")
    if np.ndim(h) == 0:
        return h
    coords = np.asarray(h)
    if coords.ndim != 1 or coords.shape != (n,):
        raise ShapeError(f"gradient: coordinates of length {coords.size} for an axis of "
                         f"length {n}")
    if np.issubdtype(coords.dtype, np.integer):
        coords = coords.astype(np.float64)
    dx = np.diff(coords)
    return dx[0] if np.all(dx == dx[0]) else dx


def _gradient_axis(f: Any, ax: int, spacing: Any, edge_order: int) -> Any:
    """NumPy's second-order central differences along one axis (one-sided at the edges).

    NumPy's arithmetic and dtypes: the coefficients in the spacing's type, each piece computed
    in the type f and the coefficients promote to, then written (cast) into a result of f's
    inexact dtype, so float32 data with float64 coordinates is computed in float64 and rounded
    to float32, as NumPy's ``out[...] = ...`` does."""
    nd = len(shape_of(f))
    n = shape_of(f)[ax]
    if n < edge_order + 1:
        raise ShapeError("gradient: the shape of the array should be at least edge_order + 1 "
                         f"along each axis, got {n}")
    otype = _dtype(f) if _dtype(f).kind in "fc" else np.dtype(np.float64)

    def at(index: Any) -> Any:
        return getitem(f, _along(ax, nd, index))

    def out(piece: Any) -> Any:
        return piece if _dtype(piece) == otype else _reduce_in(piece, otype)

    dx = _gradient_spacing(spacing, n)
    if np.ndim(dx) == 0:
        interior = (at(slice(2, None)) - at(slice(None, -2))) / (2.0 * dx)
        if edge_order == 1:
            first = (at(slice(1, 2)) - at(slice(0, 1))) / dx
            last = (at(slice(n - 1, n)) - at(slice(n - 2, n - 1))) / dx
        else:
            first = (-1.5 / dx * at(slice(0, 1)) + 2.0 / dx * at(slice(1, 2))
                     + -0.5 / dx * at(slice(2, 3)))
            last = (0.5 / dx * at(slice(n - 3, n - 2)) + -2.0 / dx * at(slice(n - 2, n - 1))
                    + 1.5 / dx * at(slice(n - 1, n)))
        return concatenate([out(first), out(interior), out(last)], axis=ax)
    shape = [1] * nd
    shape[ax] = -1
    dx1, dx2 = dx[:-1], dx[1:]
    a = (-dx2 / (dx1 * (dx1 + dx2))).reshape(shape)
    b = ((dx2 - dx1) / (dx1 * dx2)).reshape(shape)
    c = (dx1 / (dx2 * (dx1 + dx2))).reshape(shape)
    interior = a * at(slice(None, -2)) + b * at(slice(1, -1)) + c * at(slice(2, None))
    if edge_order == 1:
        first = (at(slice(1, 2)) - at(slice(0, 1))) / dx[0]
        last = (at(slice(n - 1, n)) - at(slice(n - 2, n - 1))) / dx[-1]
    else:
        d1, d2 = dx[0], dx[1]
        first = (-(2.0 * d1 + d2) / (d1 * (d1 + d2)) * at(slice(0, 1))
                 + (d1 + d2) / (d1 * d2) * at(slice(1, 2))
                 + -d1 / (d2 * (d1 + d2)) * at(slice(2, 3)))
        d1, d2 = dx[-2], dx[-1]
        last = (d2 / (d1 * (d1 + d2)) * at(slice(n - 3, n - 2))
                + -(d2 + d1) / (d1 * d2) * at(slice(n - 2, n - 1))
                + (2.0 * d2 + d1) / (d2 * (d1 + d2)) * at(slice(n - 1, n)))
    return concatenate([out(first), out(interior), out(last)], axis=ax)


@composite(numpy=("gradient",))
def gradient(f: Any, *varargs: Any, axis: Any = None, edge_order: int = 1) -> Any:
    """NumPy's gradient: second-order central differences inside, first- or second-order
    one-sided differences at the edges; spacing by scalars or coordinate arrays per axis. One
    array for one axis, else a tuple (NumPy's return)."""
    f = _array(f)
    if _dtype(f).kind in "iu":  # NumPy's: integers as float64 (no modular differences)
        f = _reduce_in(f, np.float64)
    nd = len(shape_of(f))
    if edge_order not in (1, 2):
        raise ShapeError(f"gradient: edge_order must be 1 or 2, got {edge_order}")
    if axis is None:
        given = tuple(range(nd))
    elif isinstance(axis, int | np.integer):
        given = (operator.index(axis) % builtins.max(nd, 1),)
    else:
        given = tuple(operator.index(a) % builtins.max(nd, 1) for a in axis)
    if not varargs:
        spacings = [1.0] * len(given)
    elif len(varargs) == 1 and np.ndim(_plain_number(varargs[0], "a gradient spacing")) == 0:
        spacings = [varargs[0]] * len(given)
    elif len(varargs) == len(given):
        spacings = list(varargs)
    else:
        raise ShapeError(f"gradient: {len(varargs)} spacings for {len(given)} axes")
    out = tuple(_gradient_axis(f, ax, h, edge_order) for ax, h in zip(given, spacings))
    return out[0] if len(out) == 1 else out


@composite(numpy=("trapezoid",))
def trapezoid(y: Any, x: Any = None, dx: float = 1.0, axis: int = -1) -> Any:
    """∫ y by the trapezoidal rule along `axis` (sample points `x`, or spacing `dx`)."""
    y = _array(y)
    nd = len(shape_of(y))
    (ax,) = _axes(axis, nd)
    lo, hi = getitem(y, _along(ax, nd, slice(None, -1))), getitem(y, _along(ax, nd, slice(1, None)))
    if x is None:
        d: Any = dx
    else:
        x = _array(x)
        d = diff(x, axis=-1) if len(shape_of(x)) == 1 else diff(x, axis=ax)
        if len(shape_of(x)) == 1 and nd > 1:
            shape = [1] * nd
            shape[ax] = -1
            d = reshape(d, tuple(shape))
    return _sum(d * (hi + lo) / 2.0, axis=ax)


__all__ = declared_in(__name__)
