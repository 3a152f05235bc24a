"""Shapes and assembly: stack, split, pad, flip, repeat, tile, diag, take, …

Every function here is a *composite*: an exact composition of the table's structural records
(``reshape``, ``transpose``, ``broadcast_to``, ``getitem``, ``concatenate``, ``sum``) and the
element-wise ``where``. They move data and never round, so their values are NumPy's bit for bit,
and every engine differentiates them through the records they apply: reverse and forward mode
through the records' rules, the symbolic engine through the records' SymPy translations, finite
differences as a black box. Each docstring names the records it is made of.

Arguments that are not differentiable (axes, repeats, indices, split points, pad widths) are read
as plain numbers; an index array read out of a traced value counts as a branch (the trace holds
at that point only), as ``x.argmax()`` does. Index arrays are built with NumPy, also for CuPy
data (the ``getitem`` record accepts NumPy indices); constants (zero blocks, masks) are built
with the array module of the data. Where NumPy would raise, the composites raise the table's
errors naming the shapes: ``ShapeError`` (a ``ValueError``) for shapes and bad parameters,
``IndexOutOfRangeError`` (a ``ShapeError`` and an ``IndexError``, as NumPy's ``AxisError``) for
an axis or an index out of range, ``MemoryOrderError`` (a ``ShapeError``) for order 'A' or 'K' of
a traced value whose C and F orders differ (it has no memory layout to read).

Two NumPy names dispatch here without a ``dk.<name>`` of their own: ``np.trace`` and
``x.trace()`` (``dk.trace`` is diffkit's tracing tool, :mod:`diffkit.traces`), and ``np.where``
(three arguments: the element-wise ``where`` record; one argument: the indices of the nonzero
elements, which have no derivative).
"""

from __future__ import annotations

import builtins
import itertools
import operator
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..backend import array_namespace
from ..errors import (
    IndexOutOfRangeError,
    MemoryOrderError,
    MissingRuleError,
    ShapeError,
    TracingError,
)
from ..ir import Traced, held_value
from ..primitive import PUBLIC, Composite, dispatch_numpy, from_objects
from .declare import composite, declared_in, shape_of
from .declare import dtype_of as _dtype
from .declare import xp_of as _xp
from .elementwise import where
from .structure import broadcast_to, concatenate, getitem, reshape, transpose
from .structure import sum as _sum

# ----- helpers ------------------------------------------------------------------------------------


def _as_array(x: Any) -> Any:
    """A traced value as it is; NumPy/CuPy arrays as they are (object arrays of traced elements
    stacked into one traced array); Python numbers and (nested) lists as NumPy arrays."""
    if isinstance(x, Traced):
        return x
    if type(x) is np.ndarray:
        return from_objects(x) if x.dtype.kind == "O" else x
    if hasattr(x, "shape") and hasattr(x, "dtype"):  # NumPy scalars, CuPy arrays
        return x
    a = np.asarray(x)
    return from_objects(a) if a.dtype.kind == "O" else a


def _weak(x: Any) -> Any:
    """What NumPy's result_type reads of `x`: a Python int, float or complex as it is (a weak
    scalar, NEP 50), else the dtype of the (traced) array."""
    if type(x) in (int, float, complex):
        return x
    return _dtype(x) if isinstance(x, Traced) or hasattr(x, "dtype") else np.asarray(x).dtype


def _zeros(shape: tuple[int, ...], like: Any) -> Any:
    """Zeros of `like`'s dtype, in `like`'s array module (a constant)."""
    return _xp(like).zeros(shape, dtype=_dtype(like))


def _axis(axis: Any, ndim: int, what: str = "axis") -> int:
    """One axis as a non-negative int (NumPy's AxisError is IndexOutOfRangeError here)."""
    a = operator.index(axis)
    if not -ndim <= a < ndim:
        raise IndexOutOfRangeError(
            f"{what} {a} is out of bounds for an array of dimension {ndim}")
    return a % ndim


def _axis_list(axis: Any, ndim: int, what: str = "axis") -> list[int]:
    """An int or a sequence of ints as non-negative axes, in the order given; repeats refused."""
    items = [axis] if isinstance(axis, int | np.integer) else list(axis)
    out = [_axis(a, ndim, what) for a in items]
    if len(set(out)) != len(out):
        raise ShapeError(f"repeated axis in `{what}` argument: {tuple(items)}")
    return out


def _ints(values: Any, what: str) -> np.ndarray:
    """Non-differentiable integer arguments (repeats, indices) as a plain NumPy integer array."""
    if isinstance(values, Traced):
        values = values.concrete(what)
    arr = np.asarray(values.get() if hasattr(values, "get") else values)
    if arr.dtype.kind not in "iub":
        raise TypeError(f"{what} must be integers, got an array of dtype {arr.dtype}")
    return arr


def _along(axis: int, index: Any) -> tuple[Any, ...]:
    """An index applying `index` along `axis` (full slices before it)."""
    return (slice(None),) * axis + (index,)


def _cast(x: Any, dtype: Any) -> Any:
    """`x` in `dtype`, as NumPy writes it into a result array of that dtype: a traced value
    through the ``astype`` record (its rules cast the tangent and the cotangent back), a
    constant by its array module, a Python number by NumPy. NumPy's ``dtype=`` of ``np.trace``
    (the stacking functions pass theirs to concatenate, which checks NumPy's ``casting=``
    rule), select's and linspace's result dtype."""
    if type(x) in (builtins.bool, int, float, complex):
        return np.asarray(x, dtype=dtype)  # as NumPy writes a Python number into its result
    if dtype is None or np.dtype(dtype) == _dtype(x):
        return x
    if not isinstance(x, Traced):
        return x.astype(dtype)
    astype = PUBLIC.get("astype")
    if astype is None:
        raise MissingRuleError(f"dtype={np.dtype(dtype)} changes the type of a traced value, "
                               "which diffkit cannot differentiate yet: cast the inputs instead, "
                               "or use method='fd'")
    return astype(x, dtype)


def _no_out(out: Any, name: str) -> None:
    if out is not None:
        raise TracingError(f"np.{name}(..., out=...) writes into an existing array, which diffkit "
                           "cannot record: drop out= and use the result")


# ----- joining ------------------------------------------------------------------------------------


@composite(numpy=("stack",))
def stack(arrays: Sequence[Any], axis: int = 0, out: Any = None, *, dtype: Any = None,
          casting: str = "same_kind") -> Any:
    """Join arrays of one shape along a new axis (NumPy's ``stack``). A composite of reshape and
    concatenate."""
    _no_out(out, "stack")
    arrays = [_as_array(a) for a in arrays]
    if not arrays:
        raise ShapeError("need at least one array to stack")
    shapes = [shape_of(a) for a in arrays]
    if len(set(shapes)) != 1:
        raise ShapeError(f"stack: all input arrays must have the same shape, got {shapes}")
    shape = shapes[0]
    ax = _axis(axis, len(shape) + 1)
    new = shape[:ax] + (1,) + shape[ax:]
    return concatenate([reshape(a, new) for a in arrays], axis=ax, dtype=dtype, casting=casting)


def _joined(arrays: Any, axis: int, name: str, dtype: Any = None, casting: str = "same_kind"
            ) -> Any:
    """concatenate of the arrays, cast to `dtype` under NumPy's `casting` rule."""
    arrays = arrays if isinstance(arrays, tuple) else (arrays,)
    if not arrays:
        raise ShapeError(f"{name}: need at least one array to concatenate")
    return concatenate(list(arrays), axis=axis, dtype=dtype, casting=casting)


@composite(numpy=("vstack",))
def vstack(tup: Sequence[Any], *, dtype: Any = None, casting: str = "same_kind") -> Any:
    """Stack arrays row-wise: concatenate along axis 0 after atleast_2d (NumPy's ``vstack``). A
    composite of reshape and concatenate."""
    return _joined(atleast_2d(*tup), 0, "vstack", dtype, casting)


@composite(numpy=("row_stack",) if hasattr(np, "row_stack") else ())
def row_stack(tup: Sequence[Any], *, dtype: Any = None, casting: str = "same_kind") -> Any:
    """NumPy's old name of vstack (a composite of reshape and concatenate)."""
    return vstack(tup, dtype=dtype, casting=casting)


@composite(numpy=("hstack",))
def hstack(tup: Sequence[Any], *, dtype: Any = None, casting: str = "same_kind") -> Any:
    """Stack arrays column-wise: along axis 1, or axis 0 for 1-D arrays, after atleast_1d (NumPy's
    ``hstack``). A composite of reshape and concatenate."""
    arrs = atleast_1d(*tup)
    arrs = arrs if isinstance(arrs, tuple) else (arrs,)
    axis = 0 if arrs and len(shape_of(arrs[0])) == 1 else 1
    return _joined(arrs, axis, "hstack", dtype, casting)


@composite(numpy=("dstack",))
def dstack(tup: Sequence[Any]) -> Any:
    """Stack arrays depth-wise: along axis 2 after atleast_3d (NumPy's ``dstack``). A composite of
    reshape and concatenate."""
    return _joined(atleast_3d(*tup), 2, "dstack")


@composite(numpy=("column_stack",))
def column_stack(tup: Sequence[Any]) -> Any:
    """Stack 1-D arrays as columns (0-D as 1×1; 2-D arrays as they are) along axis 1 (NumPy's
    ``column_stack``). A composite of reshape and concatenate."""
    cols = []
    for v in tup:
        a = _as_array(v)
        s = shape_of(a)
        cols.append(reshape(a, (s[0] if s else 1, 1)) if len(s) < 2 else a)
    return _joined(tuple(cols), 1, "column_stack")


def _atleast(a: Any, n: int) -> Any:
    a = _as_array(a)
    s = shape_of(a)
    if len(s) >= n:
        return a
    if n == 1:
        return reshape(a, (1,))
    if n == 2:
        return reshape(a, (1, *s) if s else (1, 1))
    return reshape(a, {0: (1, 1, 1), 1: (1, *s, 1), 2: (*s, 1)}[len(s)])


def _one_or_tuple(res: tuple[Any, ...]) -> Any:
    return res[0] if len(res) == 1 else res


@composite(numpy=("atleast_1d",))
def atleast_1d(*arys: Any) -> Any:
    """Each argument with at least one dimension (a 0-D array becomes shape (1,)); one array for
    one argument, else a tuple (NumPy's ``atleast_1d``). A composite of reshape."""
    return _one_or_tuple(tuple(_atleast(a, 1) for a in arys))


@composite(numpy=("atleast_2d",))
def atleast_2d(*arys: Any) -> Any:
    """Each argument with at least two dimensions ((n,) becomes (1, n)); one array for one
    argument, else a tuple (NumPy's ``atleast_2d``). A composite of reshape."""
    return _one_or_tuple(tuple(_atleast(a, 2) for a in arys))


@composite(numpy=("atleast_3d",))
def atleast_3d(*arys: Any) -> Any:
    """Each argument with at least three dimensions ((n,) becomes (1, n, 1), (m, n) becomes
    (m, n, 1)); one array for one argument, else a tuple (NumPy's ``atleast_3d``). A composite of
    reshape."""
    return _one_or_tuple(tuple(_atleast(a, 3) for a in arys))


@composite(numpy=("append",))
def append(arr: Any, values: Any, axis: int | None = None) -> Any:
    """`values` appended to `arr` along `axis`; both flattened when axis is None (NumPy's
    ``append``). A composite of reshape and concatenate."""
    arr, values = _as_array(arr), _as_array(values)
    if axis is None:
        if len(shape_of(arr)) != 1:
            arr = reshape(arr, (-1,))
        values = reshape(values, (-1,))
        axis = 0
    return concatenate([arr, values], axis=axis)


# ----- shapes -------------------------------------------------------------------------------------


@composite(numpy=("expand_dims",))
def expand_dims(a: Any, axis: int | Sequence[int]) -> Any:
    """New axes of length 1 at the positions `axis` of the result (NumPy's ``expand_dims``). A
    composite of reshape."""
    a = _as_array(a)
    s = shape_of(a)
    n = len(s) + (1 if isinstance(axis, int | np.integer) else len(tuple(axis)))
    new = set(_axis_list(axis, n))
    rest = iter(s)
    return reshape(a, tuple(1 if i in new else next(rest) for i in range(n)))


@composite(numpy=("squeeze",))
def squeeze(a: Any, axis: int | Sequence[int] | None = None) -> Any:
    """Drop axes of length 1: all of them, or those named by `axis` (each must have length 1)
    (NumPy's ``squeeze``; also ``x.squeeze()``). A composite of reshape."""
    a = _as_array(a)
    s = shape_of(a)
    if axis is None:
        return reshape(a, tuple(n for n in s if n != 1))
    axes = _axis_list(axis, len(s))
    bad = [ax for ax in axes if s[ax] != 1]
    if bad:
        raise ShapeError(f"squeeze: cannot select an axis to squeeze out which has size not equal "
                         f"to one (axis {bad[0]} of shape {s})")
    return reshape(a, tuple(n for i, n in enumerate(s) if i not in axes))


def _memory_order(a: Any, order: str, name: str) -> str:
    """The order NumPy's 'A' or 'K' means for traced `a`: 'C' where C and F order read the same
    elements (at most one axis longer than 1, so any layout reads them in index order), else a
    MemoryOrderError. A traced value has no memory layout diffkit could trust: its trace is
    replayed and compiled for every argument of the same shape and dtype, C- or F-ordered (x.T,
    np.asfortranarray(x)), and reading it in C order would silently permute the elements."""
    s = shape_of(a)
    if builtins.sum(n > 1 for n in s) > 1:
        raise MemoryOrderError(
            f"{name}(order={order!r}) of a traced value of shape {tuple(s)}: the memory order of "
            "a traced value is not defined (NumPy reads how the array is laid out: F order for "
            "x.T or np.asfortranarray(x)); pass order='C' or order='F'")
    return "C"


def _flat(a: Any, order: str, name: str) -> Any:
    a = _as_array(a)
    if order not in ("C", "F", "A", "K"):
        raise ShapeError(f"{name}: order must be one of 'C', 'F', 'A', 'K', got {order!r}")
    if order in ("A", "K"):
        if not isinstance(a, Traced):  # a plain array's memory order
            return _xp(a).ravel(a, order)
        order = _memory_order(a, order, name)
    if order == "F":
        a = transpose(a)
    return reshape(a, (-1,))


def _numpy_reshape(a: Any, shape: int | Sequence[int], order: str = "C", *,
                   copy: bool | None = None) -> Any:
    """NumPy's ``reshape(a, shape, order, *, copy)`` through the ``reshape`` record.

    Order 'F' reads and writes the elements column-major: reshape(aᵀ, reversed shape)ᵀ; 'A' (the
    memory order) is 'C' for a traced value with at most one axis longer than 1 and a
    MemoryOrderError otherwise (:func:`_memory_order`); `copy` changes nothing (a traced value
    is never written in place). A composite of reshape (and transpose for 'F')."""
    if order not in ("C", "F", "A"):
        raise ShapeError(f"reshape: order must be one of 'C', 'F', 'A', got {order!r}")
    a = _as_array(a)
    if order == "A":
        if not isinstance(a, Traced):  # a plain array's memory order
            return _xp(a).reshape(a, shape, order="A")
        order = _memory_order(a, order, "reshape")
    if order != "F":
        return reshape(a, shape)
    dims = (shape,) if isinstance(shape, int | np.integer) else tuple(shape)
    return transpose(reshape(transpose(a), dims[::-1]))


@composite(numpy=("ravel",))
def ravel(a: Any, order: str = "C") -> Any:
    """The elements as a 1-D array, in C order (row-major) or 'F' (column-major) (NumPy's
    ``ravel``; 'A' and 'K', the memory order: NumPy's for a plain array; for a traced value, C
    where C and F agree, else a MemoryOrderError). A composite of reshape (and transpose for
    'F')."""
    return _flat(a, order, "ravel")


@composite
def flatten(a: Any, order: str = "C") -> Any:
    """The elements as a 1-D array (NumPy's ``x.flatten()``; the same values as ravel). A
    composite of reshape (and transpose for order 'F')."""
    return _flat(a, order, "flatten")


@composite(numpy=("swapaxes",))
def swapaxes(a: Any, axis1: int, axis2: int) -> Any:
    """Exchange two axes (NumPy's ``swapaxes``; also ``x.swapaxes(i, j)``). A composite of
    transpose."""
    a = _as_array(a)
    n = len(shape_of(a))
    i, j = _axis(axis1, n, "axis1"), _axis(axis2, n, "axis2")
    perm = list(range(n))
    perm[i], perm[j] = j, i
    return transpose(a, tuple(perm))


@composite(numpy=("moveaxis",))
def moveaxis(a: Any, source: int | Sequence[int], destination: int | Sequence[int]) -> Any:
    """Move axes to new positions, the others keeping their order (NumPy's ``moveaxis``). A
    composite of transpose."""
    a = _as_array(a)
    n = len(shape_of(a))
    src = _axis_list(source, n, "source")
    dst = _axis_list(destination, n, "destination")
    if len(src) != len(dst):
        raise ShapeError("moveaxis: `source` and `destination` arguments must have the same number "
                         f"of elements, got {len(src)} and {len(dst)}")
    order = [i for i in range(n) if i not in src]
    for d, s in sorted(zip(dst, src)):
        order.insert(d, s)
    return transpose(a, tuple(order))


@composite(numpy=("rollaxis",))
def rollaxis(a: Any, axis: int, start: int = 0) -> Any:
    """Move `axis` to sit before position `start` (NumPy's ``rollaxis``). A composite of
    transpose."""
    a = _as_array(a)
    n = len(shape_of(a))
    axis = _axis(axis, n)
    s = operator.index(start)
    pos = s + n if s < 0 else s
    if not 0 <= pos < n + 1:
        raise IndexOutOfRangeError(f"rollaxis: 'start' arg requires {-n} <= start < {n + 1}, "
                                   f"got {s}")
    if axis < pos:
        pos -= 1
    if axis == pos:
        return a
    axes = [i for i in range(n) if i != axis]
    axes.insert(pos, axis)
    return transpose(a, tuple(axes))


# ----- reordering ---------------------------------------------------------------------------------


@composite(numpy=("flip",))
def flip(m: Any, axis: int | Sequence[int] | None = None) -> Any:
    """Reverse the order of the elements along `axis` (all axes when None) (NumPy's ``flip``). A
    composite of getitem (a ``::-1`` slice; its transpose is index_add)."""
    m = _as_array(m)
    n = len(shape_of(m))
    axes = range(n) if axis is None else _axis_list(axis, n)
    if not axes:
        return m
    rev = slice(None, None, -1)
    return getitem(m, tuple(rev if i in axes else slice(None) for i in range(n)))


@composite(numpy=("fliplr",))
def fliplr(m: Any) -> Any:
    """Reverse the columns (axis 1) of an array of at least 2 dimensions (NumPy's ``fliplr``). A
    composite of getitem."""
    m = _as_array(m)
    if len(shape_of(m)) < 2:
        raise ShapeError(f"fliplr: Input must be >= 2-d, got shape {shape_of(m)}")
    return flip(m, 1)


@composite(numpy=("flipud",))
def flipud(m: Any) -> Any:
    """Reverse the rows (axis 0) of an array of at least 1 dimension (NumPy's ``flipud``). A
    composite of getitem."""
    m = _as_array(m)
    if len(shape_of(m)) < 1:
        raise ShapeError(f"flipud: Input must be >= 1-d, got shape {shape_of(m)}")
    return flip(m, 0)


@composite(numpy=("rot90",))
def rot90(m: Any, k: int = 1, axes: Sequence[int] = (0, 1)) -> Any:
    """Rotate by 90° k times in the plane of `axes`, from the first axis towards the second
    (NumPy's ``rot90``). A composite of getitem (flips) and transpose."""
    m = _as_array(m)
    n = len(shape_of(m))
    axes = tuple(operator.index(a) for a in axes)
    if len(axes) != 2:
        raise ShapeError(f"rot90: len(axes) must be 2, got {axes}")
    if axes[0] == axes[1] or builtins.abs(axes[0] - axes[1]) == n:
        raise ShapeError(f"rot90: Axes must be different, got {axes}")
    if not all(-n <= a < n for a in axes):
        raise IndexOutOfRangeError(f"rot90: Axes={axes} out of range for array of ndim={n}")
    k = operator.index(k) % 4
    if k == 0:
        return m
    if k == 2:
        return flip(flip(m, axes[0]), axes[1])
    perm = list(range(n))
    perm[axes[0]], perm[axes[1]] = perm[axes[1]], perm[axes[0]]
    if k == 1:
        return transpose(flip(m, axes[1]), tuple(perm))
    return flip(transpose(m, tuple(perm)), axes[1])


# ----- repeating ----------------------------------------------------------------------------------


@composite(numpy=("repeat",))
def repeat(a: Any, repeats: Any, axis: int | None = None) -> Any:
    """Repeat each element `repeats` times along `axis` (of the flattened array when None);
    `repeats` is one count or one per element (NumPy's ``repeat``; also ``x.repeat(...)``). One
    count: a composite of reshape and broadcast_to (its transpose sums the copies); one count per
    element: getitem with an index array (its transpose, index_add, sums them)."""
    a = _as_array(a)
    if axis is None:
        a, ax = reshape(a, (-1,)), 0
    else:
        ax = _axis(axis, len(shape_of(a)))
    s = shape_of(a)
    r = _ints(repeats, "repeats")
    if r.ndim > 1:
        raise ShapeError(f"repeat: repeats must be a number or a 1-D array, got shape {r.shape}")
    if np.any(r < 0):
        raise ShapeError("repeat: repeats may not contain negative values")
    if r.size == 1:
        count = int(r.reshape(-1)[0])
        t = broadcast_to(reshape(a, s[:ax + 1] + (1,) + s[ax + 1:]),
                         s[:ax + 1] + (count,) + s[ax + 1:])
        return reshape(t, s[:ax] + (s[ax] * count,) + s[ax + 1:])
    if r.size != s[ax]:
        raise ShapeError(f"repeat: {r.size} repeats do not fit an axis of length {s[ax]} "
                         f"(shape {s}, axis {ax})")
    return getitem(a, _along(ax, np.repeat(np.arange(s[ax]), r)))


@composite(numpy=("tile",))
def tile(A: Any, reps: int | Sequence[int]) -> Any:
    """`A` repeated `reps` times along each axis (NumPy's ``tile``: missing axes are added in
    front, of `A` or of `reps`). A composite of reshape and broadcast_to (its transpose sums the
    copies)."""
    A = _as_array(A)
    tup = tuple(operator.index(r) for r in (reps if isinstance(reps, Sequence | np.ndarray)
                                             else (reps,)))
    if any(r < 0 for r in tup):
        raise ShapeError(f"tile: negative dimensions are not allowed, got reps {tup}")
    s = shape_of(A)
    n = builtins.max(len(tup), len(s))
    s = (1,) * (n - len(s)) + s
    tup = (1,) * (n - len(tup)) + tup
    inter = tuple(v for d in s for v in (1, d))
    spread = tuple(v for r, d in zip(tup, s) for v in (r, d))
    return reshape(broadcast_to(reshape(A, inter), spread), tuple(r * d for r, d in zip(tup, s)))


# ----- padding ------------------------------------------------------------------------------------

_PAD_MODES = {"constant": ("constant_values",), "empty": (), "edge": (),
              "reflect": ("reflect_type",), "symmetric": ("reflect_type",), "wrap": ()}


def _pairs(x: Any, ndim: int, what: str) -> np.ndarray:
    """NumPy's (before, after) pairs per axis, from one number, one pair or one pair per axis."""
    a = np.asarray(x)
    if a.dtype.kind != "i":
        raise TypeError(f"pad: `{what}` must be of integral type, got {x!r}")
    a = a.astype(np.intp)
    if a.ndim < 3 and (a.size == 1 or a.size == 2 and a.shape != (2, 1)):
        a = a.reshape(-1)
    try:
        pairs = np.broadcast_to(a, (ndim, 2))
    except ValueError:
        raise ShapeError(f"pad: {what} of shape {a.shape} does not fit ({ndim}, 2) "
                         "(one (before, after) pair per axis)") from None
    if pairs.size and pairs.min() < 0:
        raise ShapeError(f"pad: {what} can't contain negative values, got {x!r}")
    return pairs


def _constant_pairs(values: Any, ndim: int) -> Any:
    """constant_values as an (ndim, 2) array of the pad value per side (traced values too)."""
    if not isinstance(values, Traced):
        a = np.asarray(values)
        if a.dtype.kind != "O":
            if a.ndim < 3 and (a.size == 1 or a.size == 2 and a.shape != (2, 1)):
                a = a.reshape(-1)
            return np.broadcast_to(a, (ndim, 2))
        values = from_objects(a)
    s = shape_of(values)
    if len(s) < 3 and (int(np.prod(s)) == 1 or int(np.prod(s)) == 2 and s != (2, 1)):
        values = reshape(values, (-1,))
    return broadcast_to(values, (ndim, 2))


def _resized(shape: tuple[int, ...], axis: int, n: int) -> tuple[int, ...]:
    return shape[:axis] + (n,) + shape[axis + 1:]


def _block(value: Any, shape: tuple[int, ...], like: Any) -> Any:
    """A constant pad block: `value` everywhere, in `like`'s dtype (a traced value broadcast)."""
    if isinstance(value, Traced):
        return broadcast_to(value, shape)
    return _xp(like).full(shape, value, dtype=_dtype(like))


@composite(numpy=("pad",))
def pad(array: Any, pad_width: Any, mode: str = "constant", **kwargs: Any) -> Any:
    """Pad an array (NumPy's ``pad``). Modes with derivatives: 'constant' (``constant_values``, a
    number, a pair or a pair per axis, possibly traced: the pad is then differentiable in it) —
    a composite of concatenate (and broadcast_to for traced values); 'edge', 'reflect',
    'symmetric' (``reflect_type='even'``) and 'wrap' — getitem with NumPy's own index map of each
    padded axis (``np.pad(np.arange(n), ...)``), whose transpose (index_add) sums the cotangents
    of every copy back onto the element copied; 'empty' pads with zeros (NumPy leaves the values
    undefined). Other modes (and ``reflect_type='odd'``) evaluate plain arrays with NumPy and
    raise MissingRuleError naming method='fd' on traced values."""
    x = _as_array(array)
    name = mode if isinstance(mode, str) else getattr(mode, "__name__", "a function")
    odd = mode in ("reflect", "symmetric") and kwargs.get("reflect_type", "even") != "even"
    if not isinstance(mode, str) or mode not in _PAD_MODES or odd:
        if not isinstance(x, Traced):
            return _xp(x).pad(x, pad_width, mode, **kwargs)
        what = f"reflect_type={kwargs['reflect_type']!r}" if odd else f"mode={name!r}"
        raise MissingRuleError(f"pad with {what} has no derivative rule in diffkit: use "
                               "method='fd' (finite differences treat the function as a black "
                               "box), or the modes 'constant', 'edge', 'reflect', 'symmetric', "
                               "'wrap'")
    unknown = sorted(set(kwargs) - set(_PAD_MODES[mode]))
    if unknown:
        raise ValueError(f"pad: unsupported keyword arguments for mode {mode!r}: {unknown}")
    ndim = len(shape_of(x))
    widths = _pairs(pad_width, ndim, "pad_width")
    if mode in ("constant", "empty"):
        values = _constant_pairs(kwargs.get("constant_values", 0) if mode == "constant" else 0,
                                 ndim)
        for ax in range(ndim):
            before, after = (int(w) for w in widths[ax])
            if not (before or after):
                continue
            parts = [x]
            if before:
                parts.insert(0, _block(values[ax, 0], _resized(shape_of(x), ax, before), x))
            if after:
                parts.append(_block(values[ax, 1], _resized(shape_of(x), ax, after), x))
            x = concatenate(parts, axis=ax)
        return x
    for ax in range(ndim):
        before, after = (int(w) for w in widths[ax])
        if not (before or after):
            continue
        n = shape_of(x)[ax]
        if n == 0:
            raise ShapeError(f"pad: can't extend empty axis {ax} (shape {shape_of(x)}) using "
                             "modes other than 'constant' or 'empty'")
        index = np.pad(np.arange(n), (before, after), mode=mode, **kwargs)
        x = getitem(x, _along(ax, index))
    return x


# ----- splitting ----------------------------------------------------------------------------------


def _split_points(n: int, indices_or_sections: Any) -> list[int]:
    if isinstance(indices_or_sections, Traced):
        indices_or_sections = indices_or_sections.concrete("split points")
    try:
        points = [operator.index(i) for i in indices_or_sections]
    except TypeError:
        sections = operator.index(indices_or_sections)
        if sections <= 0:
            raise ShapeError(f"array_split: number sections must be larger than 0, got "
                             f"{sections}") from None
        each, extras = divmod(n, sections)
        sizes = [0] + extras * [each + 1] + (sections - extras) * [each]
        return [int(v) for v in np.cumsum(sizes)]
    return [0, *points, n]


@composite(numpy=("array_split",))
def array_split(ary: Any, indices_or_sections: Any, axis: int = 0) -> list[Any]:
    """Split into a list of sub-arrays along `axis`: at the given indices, or into a number of
    sections whose lengths differ by at most one (NumPy's ``array_split``). A composite of getitem
    (slices)."""
    ary = _as_array(ary)
    s = shape_of(ary)
    ax = _axis(axis, len(s))
    points = _split_points(s[ax], indices_or_sections)
    return [getitem(ary, _along(ax, slice(a, b))) for a, b in itertools.pairwise(points)]


@composite(numpy=("split",))
def split(ary: Any, indices_or_sections: Any, axis: int = 0) -> list[Any]:
    """Split into a list of sub-arrays along `axis`, at the given indices or into equal sections
    (NumPy's ``split``: sections that do not divide the axis are an error). A composite of getitem
    (slices)."""
    ary = _as_array(ary)
    if isinstance(indices_or_sections, int | np.integer):
        s = shape_of(ary)
        n = s[_axis(axis, len(s))]
        if indices_or_sections <= 0 or n % indices_or_sections:
            raise ShapeError(f"split: array split does not result in an equal division ({n} "
                             f"along axis {axis} of shape {s} into {indices_or_sections})")
    return array_split(ary, indices_or_sections, axis)


@composite(numpy=("hsplit",))
def hsplit(ary: Any, indices_or_sections: Any) -> list[Any]:
    """Split along axis 1 (axis 0 for 1-D arrays) (NumPy's ``hsplit``). A composite of getitem."""
    ary = _as_array(ary)
    n = len(shape_of(ary))
    if n == 0:
        raise ShapeError("hsplit only works on arrays of 1 or more dimensions")
    return split(ary, indices_or_sections, 1 if n > 1 else 0)


def _split_at_least(name: str, ary: Any, indices_or_sections: Any, ndim: int, axis: int
                    ) -> list[Any]:
    """NumPy's vsplit/dsplit: `split` along `axis` of an array of at least `ndim` dimensions."""
    ary = _as_array(ary)
    if len(shape_of(ary)) < ndim:
        raise ShapeError(f"{name} only works on arrays of {ndim} or more dimensions, got shape "
                         f"{shape_of(ary)}")
    return split(ary, indices_or_sections, axis)


@composite(numpy=("vsplit",))
def vsplit(ary: Any, indices_or_sections: Any) -> list[Any]:
    """Split along axis 0 an array of at least 2 dimensions (NumPy's ``vsplit``). A composite of
    getitem."""
    return _split_at_least("vsplit", ary, indices_or_sections, 2, 0)


@composite(numpy=("dsplit",))
def dsplit(ary: Any, indices_or_sections: Any) -> list[Any]:
    """Split along axis 2 an array of at least 3 dimensions (NumPy's ``dsplit``). A composite of
    getitem."""
    return _split_at_least("dsplit", ary, indices_or_sections, 3, 2)


# ----- diagonals and triangles --------------------------------------------------------------------


@composite(numpy=("diagonal",))
def diagonal(a: Any, offset: int = 0, axis1: int = 0, axis2: int = 1) -> Any:
    """The diagonal ``a[i, i + offset]`` of the planes (axis1, axis2), as the last axis of the
    result, the other axes in order (NumPy's ``diagonal``; also ``x.diagonal()``). A composite of
    transpose and getitem (two index arrays; the transpose is index_add)."""
    a = _as_array(a)
    s = shape_of(a)
    n = len(s)
    if n < 2:
        raise ShapeError(f"diagonal requires an array of at least two dimensions, got shape {s}")
    i, j = _axis(axis1, n, "axis1"), _axis(axis2, n, "axis2")
    if i == j:
        raise ShapeError(f"diagonal: axis1 and axis2 cannot be the same, got {axis1} and {axis2}")
    rest = [d for d in range(n) if d not in (i, j)]
    off = operator.index(offset)
    rows, cols = s[i], s[j]
    count = builtins.max(0, builtins.min(rows, cols - off) if off >= 0
                         else builtins.min(rows + off, cols))
    moved = transpose(a, (*rest, i, j))
    index = (slice(None),) * len(rest) + (np.arange(count) + builtins.max(0, -off),
                                          np.arange(count) + builtins.max(0, off))
    return getitem(moved, index)


def _trace(a: Any, offset: int = 0, axis1: int = 0, axis2: int = 1, dtype: Any = None,
           out: Any = None) -> Any:
    """Σ of the diagonal ``a[i, i + offset]`` of the planes (axis1, axis2) (NumPy's ``trace``:
    ``np.trace(x)`` and ``x.trace()`` dispatch here; ``dk.trace`` is the tracing tool). A
    composite of diagonal and sum."""
    _no_out(out, "trace")
    return _cast(_sum(diagonal(a, offset, axis1, axis2), axis=-1), dtype)


@composite(numpy=("diag",))
def diag(v: Any, k: int = 0) -> Any:
    """For a 1-D `v`, the square matrix with `v` on its k-th diagonal; for a 2-D `v`, its k-th
    diagonal (NumPy's ``diag``). Vector to matrix: a composite of reshape, concatenate (with zero
    blocks) and getitem (a slice), laying `v` every n + |k| + 1 elements of the flat matrix — its
    transpose only slices; matrix to vector: diagonal."""
    v = _as_array(v)
    s = shape_of(v)
    k = operator.index(k)
    if len(s) == 2:
        return diagonal(v, k)
    if len(s) != 1:
        raise ShapeError(f"diag: Input must be 1- or 2-d, got shape {s}")
    n = s[0]
    m = n + builtins.abs(k)
    if n == 0:
        return _zeros((m, m), v)
    rows = concatenate([reshape(v, (n, 1)), _zeros((n, m), v)], axis=1)  # v[i], then m zeros
    parts = [reshape(rows, (n * (m + 1),))]
    start = k if k >= 0 else -k * m  # the flat position of v[0]
    if start:
        parts.insert(0, _zeros((start,), v))
    total = start + n * (m + 1)
    if total < m * m:
        parts.append(_zeros((m * m - total,), v))
    flat = concatenate(parts, axis=0) if len(parts) > 1 else parts[0]
    if total > m * m:
        flat = getitem(flat, (slice(0, m * m),))
    return reshape(flat, (m, m))


def _triangle(m: Any, k: int, lower: bool) -> Any:
    m = _as_array(m)
    s = shape_of(m)
    if not s:
        raise ShapeError("tril/triu need an array of at least one dimension, got a 0-d array")
    keep = np.tri(*s[-2:], k=operator.index(k) - (0 if lower else 1), dtype=bool)
    if not lower:
        keep = ~keep
    if _dtype(m).kind != "c":
        xp = _xp(m)
        return where(xp.asarray(keep), m, xp.zeros(1, dtype=_dtype(m)))
    # the where record refuses complex values: gather from the elements and one zero instead
    shape = np.broadcast_shapes(s, keep.shape)
    size = int(np.prod(s))
    index = np.where(keep, np.broadcast_to(np.arange(size).reshape(s), shape), size)
    return getitem(concatenate([reshape(m, (-1,)), _zeros((1,), m)], axis=0), (index,))


@composite(numpy=("tril",))
def tril(m: Any, k: int = 0) -> Any:
    """The lower triangle of the last two axes: zeros above the k-th diagonal (NumPy's ``tril``;
    a 1-D input is broadcast to a square matrix first, as NumPy does). A composite of where with a
    constant mask (complex values: getitem of the elements and a zero, with an index map)."""
    return _triangle(m, k, True)


@composite(numpy=("triu",))
def triu(m: Any, k: int = 0) -> Any:
    """The upper triangle of the last two axes: zeros below the k-th diagonal (NumPy's ``triu``).
    A composite of where with a constant mask (complex values: getitem with an index map)."""
    return _triangle(m, k, False)


# ----- taking and choosing ------------------------------------------------------------------------


@composite(numpy=("take",))
def take(a: Any, indices: Any, axis: int | None = None, out: Any = None,
         mode: str = "raise") -> Any:
    """Elements at `indices` along `axis` (of the flattened array when None); mode 'raise' (out of
    range is an IndexError), 'wrap' or 'clip' (NumPy's ``take``; also ``x.take(...)``). A
    composite of getitem with an index array (its transpose, index_add, sums repeated picks)."""
    _no_out(out, "take")
    a = _as_array(a)
    idx = _ints(indices, "indices")
    if axis is None:
        a, ax = reshape(a, (-1,)), 0
    else:
        ax = _axis(axis, len(shape_of(a)))
    n = shape_of(a)[ax]
    if mode in ("wrap", "clip"):
        if n == 0 and idx.size:
            raise IndexOutOfRangeError("take: cannot do a non-empty take from an empty axis")
        idx = np.mod(idx, n) if mode == "wrap" else np.clip(idx, 0, builtins.max(n - 1, 0))
    elif mode != "raise":
        raise ValueError(f"take: mode must be one of 'clip', 'raise', or 'wrap', got {mode!r}")
    return getitem(a, _along(ax, int(idx) if idx.ndim == 0 else idx))


def _ruler(n: int, axis: int, ndim: int) -> np.ndarray:
    """arange(n) along `axis` of an `ndim`-dimensional index (length 1 elsewhere)."""
    return np.arange(n).reshape((1,) * axis + (n,) + (1,) * (ndim - axis - 1))


@composite(numpy=("take_along_axis",))
def take_along_axis(arr: Any, indices: Any, axis: int | None = -1) -> Any:
    """``arr`` indexed by `indices` along `axis`, matching the other axes position by position
    (NumPy's ``take_along_axis``: the inverse of argsort's permutation, the values at argmax with
    keepdims, …). A composite of getitem with broadcast index arrays."""
    arr = _as_array(arr)
    idx = _ints(indices, "indices")
    if axis is None:
        if idx.ndim != 1:
            raise ShapeError(f"take_along_axis: when axis=None, `indices` must have a single "
                             f"dimension, got shape {idx.shape}")
        arr, ax = reshape(arr, (-1,)), 0
    else:
        ax = _axis(axis, len(shape_of(arr)))
    s = shape_of(arr)
    if idx.ndim != len(s):
        raise ShapeError(f"take_along_axis: `indices` and `arr` must have the same number of "
                         f"dimensions, got shapes {idx.shape} and {s}")
    fancy = tuple(idx if d == ax else _ruler(n, d, len(s))
                  for d, n in enumerate(s))
    return getitem(arr, fancy)


@composite(numpy=("select",))
def select(condlist: Sequence[Any], choicelist: Sequence[Any], default: Any = 0) -> Any:
    """For each element, the choice of the first true condition, else `default` (NumPy's
    ``select``; conditions are boolean arrays, everything broadcasts). A composite of where."""
    condlist, choicelist = list(condlist), list(choicelist)
    if len(condlist) != len(choicelist):
        raise ShapeError(f"select: list of cases must be same length as list of conditions, got "
                         f"{len(choicelist)} and {len(condlist)}")
    if not condlist:
        raise ShapeError("select with an empty condition list is not possible")
    conds = [_as_array(c) for c in condlist]
    for i, c in enumerate(conds):
        if _dtype(c) != np.bool_:
            raise TypeError(f"select: invalid entry {i} in condlist: should be boolean ndarray, "
                            f"got dtype {_dtype(c)}")
    # NumPy's result dtype: of the choices and the default, Python numbers weak (NEP 50), so
    # a float32 choice with default=0 or default=0.1 stays float32; every one is cast to it
    values = [c if type(c) in (int, float, complex) else _as_array(c)
              for c in (*choicelist, default)]
    try:
        dtype = np.result_type(*(_weak(v) for v in values))
    except TypeError as e:
        raise TypeError(f"select: choicelist and default value do not have a common dtype: "
                        f"{e}") from None
    *choices, out = [_cast(v, dtype) for v in values]
    shape = np.broadcast_shapes(*(shape_of(v) for v in (*conds, *choices, out)))
    for c, v in zip(reversed(conds), reversed(choices)):
        out = where(c, v, out)
    return broadcast_to(out, shape)


def _numpy_where(condition: Any, *xy: Any) -> Any:
    """NumPy's ``where``: with x and y, the element-wise ``where`` record (NumPy's broadcasting);
    with the condition alone, the tuple of indices of its nonzero elements (plain integer arrays:
    an index has no derivative; reading it from a traced value is a branch, as ``x.argmax()``)."""
    if len(xy) == 2:
        return where(condition, *xy)
    if xy:
        raise ValueError("np.where: either both or neither of x and y should be given")
    if isinstance(condition, Traced):
        v = condition
        while isinstance(v, Traced):
            v.tape.value_dependent = True  # the indices come from the values: a branch
            v = held_value(v)
        condition = v
    return array_namespace(condition).nonzero(condition)


@composite(numpy=("delete",))
def delete(arr: Any, obj: Any, axis: int | None = None) -> Any:
    """`arr` without the entries `obj` (indices, a slice or a boolean mask) along `axis` (of the
    flattened array when None) (NumPy's ``delete``). A composite of getitem with the index array
    NumPy's own ``delete`` leaves of ``arange(n)``."""
    arr = _as_array(arr)
    if axis is None:
        if len(shape_of(arr)) != 1:
            arr = reshape(arr, (-1,))
        ax = 0
    else:
        ax = _axis(axis, len(shape_of(arr)))
    if isinstance(obj, Traced):
        obj = obj.concrete("the entries to delete")
    keep = np.delete(np.arange(shape_of(arr)[ax]), obj)
    return getitem(arr, _along(ax, keep))


@composite(numpy=("insert",))
def insert(arr: Any, obj: Any, values: Any, axis: int | None = None) -> Any:
    """`values` inserted into `arr` before the indices `obj` along `axis` (of the flattened array
    when None) (NumPy's ``insert``, values broadcast and cast to `arr`'s dtype). A composite of
    reshape, concatenate and getitem: NumPy's own ``insert`` applied to the element numbers of
    `arr` and `values` gives the index map, so repeated values' cotangents are summed."""
    arr, values = _as_array(arr), _as_array(values)
    if axis is None:
        if len(shape_of(arr)) != 1:
            arr = reshape(arr, (-1,))
        ax = 0
    else:
        ax = _axis(axis, len(shape_of(arr)))
    if isinstance(obj, Traced):
        obj = obj.concrete("the insertion points")
    if not isinstance(values, Traced) and _dtype(values) != _dtype(arr):
        values = values.astype(_dtype(arr))
    sa, sv = shape_of(arr), shape_of(values)
    size = int(np.prod(sa))
    mine = np.arange(size).reshape(sa)
    theirs = size + np.arange(int(np.prod(sv))).reshape(sv)
    index = np.insert(mine, obj, theirs, axis=ax)
    pool = concatenate([reshape(arr, (-1,)), reshape(values, (-1,))], axis=0)
    return getitem(pool, (index,))


# ----- constants and copies ---------------------------------------------------------------------


def _like(a: Any, fill: Any, dtype: Any, order: str, subok: bool, shape: Any) -> Any:
    if not isinstance(a, Traced):
        xp = array_namespace(a)
        if xp is np:
            return np.full_like(a, fill, dtype=dtype, order=order, subok=subok, shape=shape)
        return xp.full_like(a, fill, dtype=dtype, shape=shape)
    shape = a.shape if shape is None else (
        (operator.index(shape),) if isinstance(shape, int | np.integer) else tuple(shape))
    dtype = a.dtype if dtype is None else dtype
    if isinstance(fill, Traced):  # a traced fill value: the result depends on it, not on `a`
        return broadcast_to(fill, shape)
    return _xp(a).full(shape, fill, dtype=dtype)


@composite(numpy=("zeros_like",))
def zeros_like(a: Any, dtype: Any = None, order: str = "K", subok: bool = True,
               shape: Any = None, *, device: Any = None) -> Any:
    """Zeros of `a`'s shape and dtype (NumPy's ``zeros_like``): a constant — it does not depend
    on the values of `a`, so a traced `a` gives a plain array."""
    return _like(a, 0, dtype, order, subok, shape)


@composite(numpy=("ones_like",))
def ones_like(a: Any, dtype: Any = None, order: str = "K", subok: bool = True,
              shape: Any = None, *, device: Any = None) -> Any:
    """Ones of `a`'s shape and dtype (NumPy's ``ones_like``): a constant (a plain array)."""
    return _like(a, 1, dtype, order, subok, shape)


@composite(numpy=("empty_like",))
def empty_like(prototype: Any, dtype: Any = None, order: str = "K", subok: bool = True,
               shape: Any = None, *, device: Any = None) -> Any:
    """An array of `prototype`'s shape and dtype (NumPy's ``empty_like``; for a traced prototype,
    zeros where NumPy leaves the values undefined): a constant (a plain array)."""
    if not isinstance(prototype, Traced):
        xp = array_namespace(prototype)
        if xp is np:
            return np.empty_like(prototype, dtype=dtype, order=order, subok=subok, shape=shape)
        return xp.empty_like(prototype, dtype=dtype, shape=shape)
    return _like(prototype, 0, dtype, order, subok, shape)


@composite(numpy=("full_like",))
def full_like(a: Any, fill_value: Any, dtype: Any = None, order: str = "K", subok: bool = True,
              shape: Any = None, *, device: Any = None) -> Any:
    """`fill_value` in `a`'s shape and dtype (NumPy's ``full_like``): a constant with respect to
    `a`; a traced `fill_value` is broadcast (a composite of broadcast_to) and differentiable."""
    return _like(a, fill_value, dtype, order, subok, shape)


@composite(numpy=("copy",))
def copy(a: Any, order: str = "K", subok: bool = False) -> Any:
    """A copy (NumPy's ``copy``): for a traced value a new Tensor of the same value (sharing
    its node, which never changes: an in-place operator changes only the Tensor it is applied
    to, so the copy and the original stay apart as NumPy's do); a plain array is copied."""
    if isinstance(a, Traced):
        return a._copy()
    xp = array_namespace(a)
    return np.copy(a, order=order, subok=subok) if xp is np else xp.copy(a)


# ----- NumPy names without a dk.<name> of their own ---------------------------------------------

#: ``np.trace`` and ``x.trace()`` (``dk.trace`` is the tracing tool of :mod:`diffkit.traces`)
trace = Composite(name="trace", fn=_trace, numpy=("trace",), doc=_trace.__doc__ or "")
#: ``np.where``: three arguments, the element-wise ``where`` record; one, nonzero indices
numpy_where = Composite(name="where", fn=_numpy_where, numpy=("where",),
                        doc=_numpy_where.__doc__ or "")
#: ``np.reshape`` (and ``x.reshape``): NumPy's order= and copy= around the ``reshape`` record
numpy_reshape = Composite(name="reshape", fn=_numpy_reshape, numpy=("reshape",),
                          doc=_numpy_reshape.__doc__ or "")
PUBLIC["trace"] = trace
dispatch_numpy("trace", trace)
dispatch_numpy("reshape", numpy_reshape)
dispatch_numpy("where", numpy_where)

# ----- queries and ranges --------------------------------------------------------------------------


@composite(numpy=("ndim",))
def ndim(a: Any) -> int:
    """The number of axes (a plain int: shapes are never traced)."""
    return len(shape_of(a)) if hasattr(a, "shape") else int(np.ndim(a))


@composite(numpy=("shape",))
def shape(a: Any) -> tuple[int, ...]:
    """The shape (a plain tuple)."""
    return tuple(shape_of(a)) if hasattr(a, "shape") else np.shape(a)


@composite(numpy=("size",))
def size(a: Any, axis: int | Sequence[int] | None = None) -> int:
    """The number of elements (along `axis`: one axis or several, NumPy 2), a plain int."""
    s = tuple(shape_of(a)) if hasattr(a, "shape") else np.shape(a)
    if axis is None:
        return int(np.prod(s, dtype=np.int64))
    return int(np.prod([s[i] for i in _axis_list(axis, len(s))], dtype=np.int64))


@composite(numpy=("linspace",))
def linspace(start: Any, stop: Any, num: int = 50, endpoint: bool = True, retstep: bool = False,
             dtype: Any = None, axis: int = 0) -> Any:
    """`num` evenly spaced values from `start` to `stop` (NumPy's arithmetic: i·step + start,
    the last one set to `stop`); differentiable in `start` and `stop`."""
    num = operator.index(num)
    if num < 0:
        raise ShapeError(f"linspace: the number of samples must be non-negative, got {num}")
    if dtype is not None or axis != 0:
        raise MissingRuleError("linspace with dtype= or axis= on traced values: diffkit cannot "
                               "differentiate it yet; use method='fd'")
    start, stop = from_objects(start), from_objects(stop)
    # NumPy computes in the result dtype of start and stop (Python numbers weak), made inexact:
    # float32 ends give float32 steps, delta and samples
    dt = np.result_type(_weak(start), _weak(stop))
    if dt.kind not in "fc":
        dt = np.dtype(np.float64)
    start, stop = _cast(start, dt), _cast(stop, dt)
    div = num - 1 if endpoint else num
    shape = np.broadcast_shapes(shape_of(start), shape_of(stop))
    steps = _xp(start, stop).arange(num, dtype=dt).reshape((num,) + (1,) * len(shape))
    delta = stop - start
    step = delta / div if div > 0 else delta * np.nan
    y = steps * step + start if div > 0 else steps * delta + start
    if endpoint and num > 1:
        y = concatenate([getitem(y, (slice(0, num - 1),)),
                         reshape(broadcast_to(stop, shape), (1, *shape))], axis=0)
    return (y, step) if retstep else y


@composite(numpy=("apply_along_axis",))
def apply_along_axis(func1d: Any, axis: int, arr: Any, *args: Any, **kwargs: Any) -> Any:
    """``func1d(lane, *args, **kwargs)`` on every 1-d lane of `arr` along `axis`, the results
    assembled as NumPy's ``apply_along_axis`` does: the lanes in C order of the other axes, each
    result's axes put where `axis` was. `func1d` runs on traced lanes (your code, traced as any
    function of diffkit's), so its results are differentiable in `arr` and in what it reads.
    Every result must have the first one's shape (NumPy's rule too)."""
    arr = _as_array(arr)
    nd = len(shape_of(arr))
    if nd == 0:
        raise ShapeError("apply_along_axis: arr must have at least one axis, got a 0-d value")
    axis = operator.index(axis)
    if not -nd <= axis < nd:
        raise ShapeError(f"apply_along_axis: axis {axis} is out of bounds for an array of "
                         f"dimension {nd}")
    axis %= nd
    lanes = transpose(arr, (*[i for i in range(nd) if i != axis], axis))
    outer = shape_of(lanes)[:-1]
    if 0 in outer:
        raise ShapeError("apply_along_axis: cannot apply it when any iteration dimension is 0 "
                         f"(the other axes of an array of shape {shape_of(arr)})")
    results = [_as_array(from_objects(func1d(getitem(lanes, idx), *args, **kwargs)))
               for idx in np.ndindex(*outer)]
    first = shape_of(results[0])
    for i, r in enumerate(results):
        if shape_of(r) != first:
            raise ShapeError(f"apply_along_axis: func1d returned shape {shape_of(r)} for lane "
                             f"{np.unravel_index(i, outer)}, after {first} for the first: every "
                             "lane's result must have one shape")
    out = reshape(stack(results, axis=0), (*outer, *first))
    k = len(outer)  # NumPy's permutation: the result's axes where `axis` was
    return transpose(out, (*range(axis), *range(k, k + len(first)), *range(axis, k)))


__all__ = declared_in(__name__)
