"""NumPy's ufunc methods on traced values: ``reduce``, ``accumulate`` and ``outer`` of every binary
ufunc diffkit dispatches, as exact compositions of the table's records (no primitive of their own).

What each method records (NumPy's values exactly, at C-ordered inputs):

* ``outer(a, b)`` = ufunc(a reshaped to a.shape + (1,)·b.ndim, b): the ufunc's record, broadcast.
* ``reduce``: ``add``, ``multiply``, ``maximum``, ``minimum`` are the records ``sum``, ``prod``,
  ``amax``, ``amin`` (np.add.reduce *is* np.sum's pairwise summation). Every other binary ufunc is a
  left fold r = f(…f(f(s, x₀), x₁)…, xₙ₋₁) over the reduced elements in C order, starting from
  ``initial``, else the ufunc's identity (np.hypot.reduce([-3.0]) = hypot(0, −3) = 3), else x₀ —
  NumPy's own loop. With ``initial``: ``multiply`` folds too (NumPy multiplies in sequence from it);
  ``add`` adds the pairwise sum of each innermost block (the reduced axes after the last kept axis
  longer than 1) to the running value, block by block in C order, as NumPy's inner loop does;
  ``maximum``/``minimum`` are f(initial, amax(x)) (max and min do not round).
* ``accumulate``: ``add`` and ``multiply`` are ``cumsum`` and ``cumprod``; every other binary ufunc
  is the fold along the axis with its partial results stacked (the first is x₀ itself, as NumPy).

Derivatives are those of the composed records, so their conventions carry over: ties in
``maximum.reduce``/``minimum.reduce`` share the derivative equally (amax's rule); ``multiply.reduce``
is exact at zero factors (prod's rule); a fold takes each step's rule, so ``maximum.accumulate``
at a tie splits ½–½ between the running maximum and the new element (maximum's rule: over the
ties [1, 1, 1] the last partial result gives ¼, ¼, ½); ``outer``'s cotangents are summed over the
broadcast axes by the driver. Where SymPy cannot express a composed record (sort-like ones), the
symbolic engine refuses by name, as for the record itself.

Types are NumPy's: ``reduce`` and ``accumulate`` cast the operand into the dtype of NumPy's loop
(NumPy's result dtype: ``np.add.reduce`` of booleans or int8 counts in int64, ``logaddexp`` of
integers works in floats, ``logical_and`` of floats in booleans; ``dtype=`` chooses it, as
``np.sum``'s, the reduction of ``x.astype(dtype)``) and ``initial`` into that dtype as NumPy
converts it (``np.add.reduce(x > 0, initial=5)`` starts from 5, not from True); an ``initial``
that dtype cannot hold is a named error (NumericOverflowError, DomainError, InputTypeError).

``reduceat`` and ``at`` (which changes its operand in place) are refused by name, with what to
write instead; so are ``out=`` and ``where=`` other than True.
"""

from __future__ import annotations

import functools
import math
import sys
from typing import Any

import numpy as np

from . import primitives as P
from .errors import (
    DomainError,
    InputTypeError,
    MissingRuleError,
    NumericOverflowError,
    ShapeError,
    TracingError,
)
from .ir import Traced
from .primitive import from_objects
from .primitives.declare import dtype_of, shape_of, xp_of
from .primitives.declare import normalize_axes as _axes
from .primitives.structure import _reduce_in
from .primitives.structure import _refuse as refuse_keywords

_NOVALUE = np._NoValue  # NumPy's "argument not given"

#: ufuncs whose reduce and accumulate are records of the table (NumPy's values exactly)
_REDUCTIONS = {np.add: P.sum, np.multiply: P.prod, np.maximum: P.amax, np.minimum: P.amin}
_CUMULATIVE = {np.add: P.cumsum, np.multiply: P.cumprod}



def ufunc_label(ufunc: Any) -> str:
    """'numpy.sin', 'scipy.special.entr': where the ufunc lives (for messages); a ufunc of
    another library by its name alone."""
    name = ufunc.__name__
    if getattr(np, name, None) is ufunc:
        return f"numpy.{name}"
    special = sys.modules.get("scipy.special")
    if special is not None and getattr(special, name, None) is ufunc:
        return f"scipy.special.{name}"
    return f"the ufunc {name}"

def call(ufunc: np.ufunc, method: str, fn: Any, inputs: tuple[Any, ...],
         kwargs: dict[str, Any]) -> Any:
    """``ufunc.<method>(*inputs, **kwargs)`` with traced inputs, `fn` the ufunc's diffkit function
    (what ``Tensor.__array_ufunc__`` calls for any method but ``__call__``). NumPy itself refuses
    the methods of a ufunc that is not binary or returns two values, before dispatching here."""
    name = f"{ufunc_label(ufunc)}.{method}"
    if method == "reduceat":
        raise MissingRuleError(
            f"{name} is not supported on traced values: reduce each piece and stack the results, "
            f"np.stack([np.{ufunc.__name__}.reduce(x[i:j]) for i, j in …]), or use method='fd'")
    if method == "at":
        raise MissingRuleError(
            f"{name} changes its first argument in place, which a traced value cannot do: compute "
            "a new value instead (np.where(mask, f(x, v), x), or for add x + dk.index_add(v, "
            "indices, x.shape)), or use method='fd'")
    methods = {"reduce": reduce, "accumulate": accumulate, "outer": outer}
    if method not in methods:
        raise MissingRuleError(f"diffkit cannot differentiate {name}: use method='fd'")
    return methods[method](ufunc, fn, *inputs, **kwargs)


# ----- outer --------------------------------------------------------------------------------------


def outer(ufunc: np.ufunc, fn: Any, a: Any, b: Any, **kwargs: Any) -> Any:
    """f(aᵢ, bⱼ) for every pair: f(a reshaped to a.shape + (1,)·b.ndim, b), broadcast."""
    if kwargs:
        raise TracingError(f"{ufunc_label(ufunc)}.outer with {', '.join(kwargs)}= is not "
                           "supported on traced values (no out=, where= or dtype=)")
    a, b = _operand(a), _operand(b)
    return fn(P.reshape(a, shape_of(a) + (1,) * len(shape_of(b))), b)


# ----- reduce -------------------------------------------------------------------------------------


def reduce(ufunc: np.ufunc, fn: Any, array: Any, axis: Any = 0, dtype: Any = None,
           out: Any = None, keepdims: bool = False, initial: Any = _NOVALUE,
           where: Any = True) -> Any:
    """f folded over `axis` (all axes when None; several only where NumPy may reorder f)."""
    name = ufunc.__name__
    x = _operand(array)
    refuse_keywords(f"{name}.reduce", out=out, where=where)
    result_dtype = _check_types(ufunc, "reduce", dtype_of(x), _dtype_arg(name, "reduce", dtype))
    x = _reduce_in(x, result_dtype)  # NumPy's loop casts the operand (add of bools: int64)
    scalar = not shape_of(x)
    if scalar:  # NumPy reduces a 0-d array as one of one element (axis 0, -1, None, ())
        x = P.reshape(x, (1,))
    nd = len(shape_of(x))
    axes = _axes(axis, nd)
    axes = tuple(range(nd)) if axes is None else axes
    if len(axes) > 1 and not _reorderable(ufunc, dtype_of(x)):
        raise ShapeError(f"reduction operation {name!r} is not reorderable, so at most one axis "
                         "may be specified (reduce one axis at a time, or reshape the axes into "
                         "one, if that is what you mean)")
    result = _as_dtype(_reduced(ufunc, fn, x, axes, _start(ufunc, x, initial),
                                initial is _NOVALUE), result_dtype)
    if scalar:
        return P.reshape(result, ())
    if keepdims:
        return P.reshape(result, tuple(1 if i in axes else s for i, s in enumerate(shape_of(x))))
    return result


def _reduced(ufunc: np.ufunc, fn: Any, x: Any, axes: tuple[int, ...], start: Any,
             plain: bool) -> Any:
    """The reduction of `x` over `axes` (a sorted tuple) from `start`, without keepdims; `plain`:
    no initial= was given (the records then are NumPy's reductions)."""
    shape = shape_of(x)
    kept = tuple(s for i, s in enumerate(shape) if i not in axes)
    if math.prod(shape[i] for i in axes) == 0:
        if start is None:
            raise ShapeError(f"zero-size array to reduction operation {ufunc.__name__} which has "
                             "no identity: give initial= (the value of an empty reduction)")
        return P.broadcast_to(start, kept) if isinstance(start, Traced) else \
            xp_of(x).full(kept, start, dtype=dtype_of(x))
    record = _REDUCTIONS.get(ufunc)
    if record is not None and (plain or start is None):
        return record(x, axis=axes)
    if ufunc is np.add:
        return _sum_from(x, axes, start)
    if ufunc is np.maximum or ufunc is np.minimum:
        return fn(start, record(x, axis=axes))
    return _fold(fn, start, _slices(x, axes))


def _sum_from(x: Any, axes: tuple[int, ...], start: Any) -> Any:
    """np.add.reduce with initial=`start`, NumPy's additions: the innermost block (the reduced
    axes after the last kept axis longer than 1: one pairwise sum in NumPy's inner loop) summed
    first, then added to the running value from `start`, block by block in C order."""
    shape = shape_of(x)
    inner: list[int] = []
    for a in reversed(range(len(shape))):
        if a in axes:
            inner.insert(0, a)
        elif shape[a] != 1:
            break
    outer_axes = tuple(a for a in axes if a not in inner)
    blocks = P.sum(x, axis=tuple(inner), keepdims=True) if inner else x
    kept = tuple(s for i, s in enumerate(shape) if i not in axes)
    return P.reshape(_fold(P.add, start, _slices(blocks, outer_axes)), kept)


def _slices(x: Any, axes: tuple[int, ...]) -> list[Any]:
    """The sub-arrays x[i] over the positions i of `axes`, in C order (one axis: x[…, i, …]; more:
    those axes moved to the front and merged first)."""
    shape = shape_of(x)
    if len(axes) == 1:
        lead = (slice(None),) * axes[0]
        return [P.getitem(x, lead + (i,)) for i in range(shape[axes[0]])]
    kept = tuple(i for i in range(len(shape)) if i not in axes)
    n = math.prod(shape[i] for i in axes)
    if axes + kept != tuple(range(len(shape))):
        x = P.transpose(x, axes + kept)
    rows = P.reshape(x, (n, *(shape[i] for i in kept)))
    return [P.getitem(rows, (i,)) for i in range(n)]


def _fold(fn: Any, start: Any, parts: list[Any]) -> Any:
    """f(…f(f(start, p₀), p₁)…, pₙ₋₁), or from p₀ when `start` is None (NumPy's order)."""
    acc, rest = (parts[0], parts[1:]) if start is None else (start, parts)
    for p in rest:
        acc = fn(acc, p)
    return acc


def _start(ufunc: np.ufunc, x: Any, initial: Any) -> Any:
    """What a reduction starts from: `initial`, else the ufunc's identity, else None (x₀), as
    NumPy's loop: in `x`'s dtype (the loop's: NumPy converts a plain start as the dtype's scalar
    type does, int("5") or float(2), and casts a traced one, which must be 0-d)."""
    dtype = dtype_of(x)
    if initial is _NOVALUE:
        return _identity(ufunc, dtype)
    if initial is None:  # NumPy: "no initial value", the same as leaving it out for a non-empty x
        return None
    if isinstance(initial, Traced):
        if shape_of(initial):
            raise ShapeError(f"initial must be a scalar, got shape {shape_of(initial)}")
        return _as_dtype(initial, dtype)
    if np.ndim(initial):
        raise ShapeError(f"initial must be a scalar, got shape {np.shape(initial)}")
    what = f"{ufunc_label(ufunc)}.reduce: initial={initial!r} as {dtype} (its loop's dtype)"
    try:
        return dtype.type(initial)
    except OverflowError as exc:
        raise NumericOverflowError(f"{what} overflows: {exc} (as in NumPy)") from None
    except ValueError as exc:
        raise DomainError(f"{what}: {exc} (as in NumPy)") from None
    except TypeError as exc:
        raise InputTypeError(f"{what}: {exc} (as in NumPy)") from None


@functools.cache
def _identity(ufunc: np.ufunc, dtype: np.dtype) -> Any:
    """The ufunc's identity in `dtype` (None: it has none), cast as NumPy casts it (bitwise_and's
    -1 is 255 in uint8)."""
    return None if ufunc.identity is None else np.asarray(ufunc.identity).astype(dtype)[()]


# ----- accumulate ---------------------------------------------------------------------------------


def accumulate(ufunc: np.ufunc, fn: Any, array: Any, axis: Any = 0, dtype: Any = None,
               out: Any = None) -> Any:
    """The partial results r₀ = x₀, rⱼ = f(rⱼ₋₁, xⱼ) along one `axis`."""
    name = ufunc.__name__
    x = _operand(array)
    refuse_keywords(f"{name}.accumulate", out=out)
    result_dtype = _check_types(ufunc, "accumulate", dtype_of(x),
                                _dtype_arg(name, "accumulate", dtype))
    nd = len(shape_of(x))
    if nd == 0:
        raise InputTypeError(f"numpy.{name}.accumulate cannot accumulate on a scalar (a 0-d "
                             "array), as in NumPy: give an array of at least one dimension")
    if axis is None or isinstance(axis, tuple) and len(axis) != 1:
        raise ShapeError(f"numpy.{name}.accumulate does not allow multiple axes (axis={axis!r}): "
                         "accumulate along one axis, or flatten first (x.reshape(-1))")
    (ax,) = _axes(axis, nd)
    x = _reduce_in(x, result_dtype)  # NumPy's loop casts the operand (as reduce)
    record = _CUMULATIVE.get(ufunc)
    if record is not None:  # (cumsum of booleans counts in int64: add's bool loop is `or`)
        return _as_dtype(record(x, axis=ax), result_dtype)
    if shape_of(x)[ax] == 0:
        return x
    slices = _slices(x, (ax,))
    partials = slices[:1]
    for p in slices[1:]:
        partials.append(fn(partials[-1], p))
    return _as_dtype(P.stack(partials, axis=ax), result_dtype)


# ----- checks -------------------------------------------------------------------------------------


def _operand(v: Any) -> Any:
    """A traced value or an array as it is; numbers and lists (of traced values too) as arrays."""
    if isinstance(v, Traced) or hasattr(v, "shape") and hasattr(v, "dtype"):
        return from_objects(v)
    return from_objects(np.asarray(v))


def _dtype_arg(name: str, method: str, dtype: Any) -> np.dtype | None:
    """The ``dtype=`` argument as a NumPy dtype (None: not given); NumPy's TypeError for what is
    no dtype as an InputTypeError."""
    if dtype is None:
        return None
    try:
        return np.dtype(dtype)
    except TypeError as exc:
        raise InputTypeError(f"numpy.{name}.{method}: dtype={dtype!r}: {exc} (as in NumPy)"
                             ) from None


@functools.cache
def _numpy_says(ufunc: np.ufunc, method: str, dtype: np.dtype, loop: np.dtype | None
                ) -> tuple[str | None, np.dtype]:
    """NumPy's own TypeError for this method at this dtype and ``dtype=`` `loop` (np.equal.reduce
    of floats) or None, and its result's dtype, which is its loop's (np.add.reduce of booleans:
    int64; np.logical_and.accumulate of floats: bool): asked of NumPy on a 1×1 array."""
    with np.errstate(all="ignore"):
        try:
            out = getattr(ufunc, method)(np.zeros((1, 1), dtype=dtype), axis=0, dtype=loop)
        except TypeError as exc:
            return str(exc), dtype
    return None, np.asarray(out).dtype


def _check_types(ufunc: np.ufunc, method: str, dtype: np.dtype,
                 loop: np.dtype | None = None) -> np.dtype:
    """The dtype of NumPy's result (and loop), or NumPy's TypeError as an InputTypeError."""
    refusal, result = _numpy_says(ufunc, method, dtype, loop)
    if refusal is not None:
        given = "" if loop is None else f" with dtype={loop}"
        raise InputTypeError(f"{ufunc_label(ufunc)}.{method} of {dtype} values{given}: "
                             f"{refusal} (as in NumPy)")
    return result


def _as_dtype(v: Any, dtype: np.dtype) -> Any:
    """`v` in NumPy's result dtype (a fold's first element is x₀ itself: NumPy casts it)."""
    if dtype_of(v) == dtype:
        return v
    return P.astype(v, dtype) if isinstance(v, Traced) else np.asarray(v).astype(dtype)


@functools.cache
def _reorderable(ufunc: np.ufunc, dtype: np.dtype) -> bool:
    """Whether NumPy reduces `ufunc` over several axes at once at this (loop) dtype (add,
    maximum, logaddexp, …; not subtract or power, nor not_equal of booleans): asked of NumPy
    itself, on a 1×1 array."""
    with np.errstate(all="ignore"):
        try:
            ufunc.reduce(np.zeros((1, 1), dtype=dtype), axis=(0, 1))
        except ValueError as exc:
            return "reorderable" not in str(exc)
        except TypeError:
            return True  # a type NumPy refuses anyway (_check_types says which)
    return True


__all__ = ["accumulate", "call", "outer", "reduce"]
