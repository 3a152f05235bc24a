"""User-facing operations: one function per primitive (generated from the table), composites, and
the operators of :class:`~diffkit.ir.Tensor`.

Every function works on plain NumPy/CuPy arrays (it evaluates), on Tensors (it records a node while
tracing), and on Python scalars::

    >>> import diffkit as dk
    >>> float(dk.sin(0.0) + dk.exp(0.0))
    1.0
"""

from __future__ import annotations

import builtins
import math
import operator
from collections.abc import Sequence
from typing import Any

import numpy as np

from .errors import ShapeError
from .ir import Tensor, bind
from .primitives import REGISTRY, Primitive, shape_of

__all__: list[str] = []


def _export(fn: Any, name: str | None = None) -> Any:
    __all__.append(name or fn.__name__)
    return fn


def _elementwise_op(prim: Primitive) -> Any:
    """``dk.<name>`` for an element-wise primitive, with named parameters (so it can be traced)."""
    if prim.nargs == 1:
        def op(x: Any) -> Any:
            return bind(prim, x)
    elif prim.nargs == 2:
        def op(a: Any, b: Any) -> Any:  # type: ignore[misc]
            return bind(prim, a, b)
    else:
        def op(*args: Any) -> Any:  # type: ignore[misc]
            return bind(prim, *args)

    op.__name__ = op.__qualname__ = prim.name
    kind = "non-differentiable " if not prim.differentiable else ""
    op.__doc__ = f"Element-wise {kind}``{prim.name}`` (a primitive; see diffkit.primitives)."
    return op


# One function per element-wise primitive, straight from the table: adding a primitive adds its op.
for _prim in REGISTRY.values():
    if _prim.kind == "elementwise":
        globals()[_prim.name] = _export(_elementwise_op(_prim))

power = pow
__all__.append("power")


# ----- normalizers for structural primitives ---------------------------------------------------


def _axes(axis: int | Sequence[int] | None, ndim: int) -> tuple[int, ...] | None:
    if axis is None:
        return None
    items = (axis,) if isinstance(axis, int | np.integer) else tuple(axis)
    out = []
    for a in items:
        a = operator.index(a)
        if not -ndim <= a < builtins.max(ndim, 1) or (ndim == 0 and a not in (0, -1)):
            raise ShapeError(f"axis {a} is out of bounds for an array with {ndim} dimension(s)")
        out.append(a % builtins.max(ndim, 1))
    return tuple(sorted(set(out)))


@_export
def sum(x: Any, axis: int | Sequence[int] | None = None, keepdims: bool = False) -> Any:
    """Σ over `axis` (all axes when None)."""
    return bind(REGISTRY["sum"], x, axis=_axes(axis, len(shape_of(x))), keepdims=keepdims)


@_export
def mean(x: Any, axis: int | Sequence[int] | None = None, keepdims: bool = False) -> Any:
    """Arithmetic mean over `axis` (all axes when None)."""
    return bind(REGISTRY["mean"], x, axis=_axes(axis, len(shape_of(x))), keepdims=keepdims)


@_export
def amax(x: Any, axis: int | Sequence[int] | None = None, keepdims: bool = False) -> Any:
    """Maximum over `axis`; the derivative is shared equally among ties."""
    return bind(REGISTRY["amax"], x, axis=_axes(axis, len(shape_of(x))), keepdims=keepdims)


@_export
def reshape(x: Any, shape: int | Sequence[int]) -> Any:
    """Same elements, new shape (one entry may be -1)."""
    old = shape_of(x)
    new = [shape] if isinstance(shape, int | np.integer) else [int(s) for s in shape]
    if tuple(new) == old:
        return x
    size = math.prod(old)
    if new.count(-1) > 1:
        raise ShapeError(f"reshape: at most one -1 in the shape, got {tuple(new)}")
    if -1 in new:
        known = math.prod(s for s in new if s != -1)
        new[new.index(-1)] = size // known if known else 0
    if math.prod(new) != size:
        raise ShapeError(f"cannot reshape an array of shape {old} (size {size}) into {tuple(new)}")
    new_t = tuple(new)
    return x if new_t == old else bind(REGISTRY["reshape"], x, shape=new_t)


@_export
def transpose(x: Any, axes: Sequence[int] | None = None) -> Any:
    """Permute axes (reverse them when None)."""
    ndim = len(shape_of(x))
    perm = tuple(range(ndim))[::-1] if axes is None else tuple(int(a) % builtins.max(ndim, 1) for a in axes)
    if sorted(perm) != list(range(ndim)):
        raise ShapeError(f"transpose: {tuple(axes or ())} is not a permutation of {ndim} axes")
    return bind(REGISTRY["transpose"], x, axes=perm)


@_export
def broadcast_to(x: Any, shape: Sequence[int]) -> Any:
    """Broadcast to `shape` (NumPy rules)."""
    shape = tuple(int(s) for s in shape)
    try:
        np.broadcast_shapes(shape_of(x), shape)
    except ValueError:
        raise ShapeError(f"cannot broadcast shape {shape_of(x)} to {shape}") from None
    if shape_of(x) == shape:
        return x
    return bind(REGISTRY["broadcast_to"], x, shape=shape)


@_export
def sum_to(x: Any, shape: Sequence[int]) -> Any:
    """Sum a broadcast array back down to `shape` (the adjoint of broadcasting)."""
    shape = tuple(shape)
    xs = shape_of(x)
    if xs == shape:
        return x
    lead = len(xs) - len(shape)
    axes = tuple(range(lead)) + tuple(
        lead + i for i, s in enumerate(shape) if s == 1 and xs[lead + i] != 1
    )
    return reshape(bind(REGISTRY["sum"], x, axis=axes, keepdims=True), shape)


def _index(index: Any) -> tuple[Any, ...]:
    items = index if isinstance(index, tuple) else (index,)
    out = []
    for i in items:
        if isinstance(i, Tensor):
            i.tape.value_dependent = True
            i = i.value
        if isinstance(i, list):
            i = np.asarray(i)
        out.append(i)
    return tuple(out)


@_export
def getitem(x: Any, index: Any) -> Any:
    """x[index]: basic slicing and integer/boolean array indexing."""
    idx = _index(index)
    try:
        np.empty(shape_of(x), dtype=np.bool_)[idx]
    except IndexError as exc:
        raise ShapeError(f"index {index!r} does not fit shape {shape_of(x)}: {exc}") from None
    return bind(REGISTRY["getitem"], x, index=idx)


@_export
def index_add(v: Any, index: Any, shape: Sequence[int]) -> Any:
    """zeros(shape) with `v` added at `index` (repeated indices accumulate): the adjoint of x[index]."""
    return bind(REGISTRY["index_add"], v, index=_index(index), shape=tuple(shape))


@_export
def concatenate(arrays: Sequence[Any], axis: int = 0) -> Any:
    """Join arrays along an existing axis."""
    arrays = list(arrays)
    if not arrays:
        raise ShapeError("concatenate needs at least one array")
    ndim = len(shape_of(arrays[0]))
    ax = _axes(axis, ndim)
    return bind(REGISTRY["concatenate"], *arrays, axis=ax[0] if ax else 0)


@_export
def roll(x: Any, shift: int | Sequence[int], axis: int | Sequence[int] | None = None) -> Any:
    """Shift elements cyclically along `axis` (of the flattened array when None)."""
    ax = _axes(axis, len(shape_of(x)))
    sh = tuple(int(s) for s in shift) if isinstance(shift, Sequence) else int(shift)
    return bind(REGISTRY["roll"], x, shift=sh, axis=ax)


@_export
def matmul(a: Any, b: Any) -> Any:
    """Matrix product a @ b (NumPy rules for 1-D and batched operands)."""
    sa, sb = shape_of(a), shape_of(b)
    if not sa or not sb:
        raise ShapeError(f"matmul needs arrays of at least 1 dimension, got shapes {sa} and {sb}")
    if sa[-1] != sb[-2 if len(sb) > 1 else 0]:
        raise ShapeError(f"matmul: shapes {sa} and {sb} do not align ({sa[-1]} != {sb[-2 if len(sb) > 1 else 0]})")
    return bind(REGISTRY["matmul"], a, b)


# ----- composites -----------------------------------------------------------------------------


@_export
def square(x: Any) -> Any:
    """x²."""
    return mul(x, x)  # noqa: F821


@_export
def dot(a: Any, b: Any) -> Any:
    """Inner product of 1-D arrays (matmul otherwise)."""
    return matmul(a, b)


@_export
def leaky_relu(x: Any, negative_slope: float = 0.01) -> Any:
    """x where x > 0, else negative_slope·x (derivative at 0: negative_slope)."""
    return where(greater(x, 0.0), x, mul(negative_slope, x))  # noqa: F821


@_export
def logsumexp(x: Any, axis: int | Sequence[int] | None = None, keepdims: bool = False) -> Any:
    """log Σ exp(x), computed stably as m + log Σ exp(x − m) with m = max x."""
    m = stop_gradient(amax(x, axis=axis, keepdims=True))  # noqa: F821
    s = log(sum(exp(sub(x, m)), axis=axis, keepdims=True))  # noqa: F821
    out = add(s, m)  # noqa: F821
    if keepdims:
        return out
    ax = _axes(axis, len(shape_of(x)))
    return reshape(out, tuple(n for i, n in enumerate(shape_of(out)) if ax is not None and i not in ax))


@_export
def log_softmax(x: Any, axis: int = -1) -> Any:
    """x − logsumexp(x) along `axis` (stable)."""
    return sub(x, logsumexp(x, axis=axis, keepdims=True))  # noqa: F821


@_export
def softmax(x: Any, axis: int = -1) -> Any:
    """exp(x) / Σ exp(x) along `axis` (stable)."""
    return exp(log_softmax(x, axis=axis))  # noqa: F821


# ----- neural-net operations (diffkit.nn builds on these) -----------------------------------


@_export
def linear(x: Any, weight: Any, bias: Any) -> Any:
    """x @ weight.T + bias, PyTorch's layout: weight (out_features, in_features), bias (out,).

    Example:
        >>> import diffkit as dk, numpy as np
        >>> dk.linear(np.ones((2, 3)), np.ones((4, 3)), np.zeros(4)).shape
        (2, 4)
    """
    sx, sw, sb = shape_of(x), shape_of(weight), shape_of(bias)
    if len(sw) != 2 or not sx or sx[-1] != sw[1] or sb != (sw[0],):
        raise ShapeError(f"linear: input {sx}, weight {sw} and bias {sb} do not fit "
                         "(need input (..., in), weight (out, in), bias (out,))")
    return bind(REGISTRY["linear"], x, weight, bias)


def _pair(k: int | Sequence[int]) -> tuple[int, int]:
    return (int(k), int(k)) if isinstance(k, int | np.integer) else (int(k[0]), int(k[1]))


@_export
def im2col(x: Any, kernel_size: int | Sequence[int], stride: int = 1, padding: int = 0) -> Any:
    """Patches of an (N, C, H, W) batch as rows: (N, OH, OW, C·kh·kw). Linear; adjoint col2im.

    Example:
        >>> import diffkit as dk, numpy as np
        >>> dk.im2col(np.zeros((2, 3, 8, 8)), 3).shape
        (2, 6, 6, 27)
    """
    ks = _pair(kernel_size)
    s = shape_of(x)
    if len(s) != 4 or s[2] + 2 * padding < ks[0] or s[3] + 2 * padding < ks[1] or stride < 1:
        raise ShapeError(f"im2col: input {s} does not fit kernel {ks}, stride {stride}, "
                         f"padding {padding} (need an (N, C, H, W) batch)")
    return bind(REGISTRY["im2col"], x, kernel_size=ks, stride=int(stride), padding=int(padding))


@_export
def col2im(cols: Any, kernel_size: int | Sequence[int], stride: int, padding: int,
           shape: Sequence[int]) -> Any:
    """Sum patches (N, OH, OW, C·kh·kw) back into an image batch of `shape`: im2col's adjoint.

    Example:
        >>> import diffkit as dk, numpy as np
        >>> float(dk.col2im(np.ones((1, 2, 2, 4)), 2, 1, 0, (1, 1, 3, 3))[0, 0, 1, 1])
        4.0
    """
    return bind(REGISTRY["col2im"], cols, kernel_size=_pair(kernel_size), stride=int(stride),
                padding=int(padding), shape=tuple(int(n) for n in shape))


@_export
def softmax_cross_entropy(logits: Any, target: Any) -> Any:
    """−Σ target · log_softmax(logits) over the last axis (stable); target: probabilities/one-hot.

    Example:
        >>> import diffkit as dk, numpy as np
        >>> round(float(dk.softmax_cross_entropy(np.zeros(4), np.eye(4)[0])), 6)
        1.386294
    """
    if shape_of(logits) != shape_of(target) or not shape_of(logits):
        raise ShapeError(f"softmax_cross_entropy: logits {shape_of(logits)} and target "
                         f"{shape_of(target)} must have the same (non-scalar) shape")
    return bind(REGISTRY["softmax_cross_entropy"], logits, target)


# ----- Tensor operators and methods -----------------------------------------------------------


def _install_tensor_methods() -> None:
    g = globals()
    binary = {"add": "add", "sub": "sub", "mul": "mul", "truediv": "div", "pow": "pow"}
    for dunder, name in binary.items():  # straight to bind: operators are the hot path of tracing
        prim = REGISTRY[name]
        setattr(Tensor, f"__{dunder}__", lambda a, b, prim=prim: bind(prim, a, b))
        setattr(Tensor, f"__r{dunder}__", lambda a, b, prim=prim: bind(prim, b, a))
    Tensor.__matmul__ = lambda a, b: matmul(a, b)
    Tensor.__rmatmul__ = lambda a, b: matmul(b, a)
    neg_prim = REGISTRY["neg"]
    Tensor.__neg__ = lambda a: bind(neg_prim, a)
    Tensor.__pos__ = lambda a: a
    Tensor.__abs__ = lambda a: g["abs"](a)
    Tensor.__gt__ = lambda a, b: g["greater"](a, b)
    Tensor.__lt__ = lambda a, b: g["less"](a, b)
    Tensor.__ge__ = lambda a, b: g["greater_equal"](a, b)
    Tensor.__le__ = lambda a, b: g["less_equal"](a, b)
    Tensor.__getitem__ = lambda a, i: getitem(a, i)
    Tensor.T = property(lambda a: transpose(a))
    Tensor.sum = lambda a, axis=None, keepdims=False: sum(a, axis, keepdims)
    Tensor.mean = lambda a, axis=None, keepdims=False: mean(a, axis, keepdims)
    Tensor.max = lambda a, axis=None, keepdims=False: amax(a, axis, keepdims)
    Tensor.reshape = lambda a, *shape: reshape(a, shape[0] if len(shape) == 1 else shape)
    Tensor.transpose = lambda a, *axes: transpose(a, axes or None)
    for name in ("exp", "log", "sqrt", "sin", "cos", "tanh", "sigmoid", "relu", "abs"):
        setattr(Tensor, name, lambda a, fn=g[name]: fn(a))
    Tensor.__array_ufunc__ = _array_ufunc
    Tensor.__array_function__ = _array_function


_UFUNCS = {
    "add": "add", "subtract": "sub", "multiply": "mul", "divide": "div", "true_divide": "div",
    "negative": "neg", "power": "pow", "exp": "exp", "log": "log", "log1p": "log1p", "sqrt": "sqrt",
    "sin": "sin", "cos": "cos", "tan": "tan", "sinh": "sinh", "cosh": "cosh", "tanh": "tanh",
    "arcsin": "arcsin", "arccos": "arccos", "arctan": "arctan", "absolute": "abs", "fabs": "abs",
    "maximum": "maximum", "minimum": "minimum", "greater": "greater", "less": "less", "equal": "equal",
    "greater_equal": "greater_equal", "less_equal": "less_equal", "sign": "sign", "matmul": "matmul",
    "square": "square",
}


def _array_ufunc(self: Tensor, ufunc: Any, method: str, *inputs: Any, **kwargs: Any) -> Any:
    """np.sin(tensor) and friends record diffkit primitives instead of failing."""
    name = _UFUNCS.get(ufunc.__name__)
    if method != "__call__" or kwargs or name is None:
        return NotImplemented
    return globals()[name](*inputs)


_FUNCTIONS = {
    np.sum: sum, np.mean: mean, np.max: amax, np.amax: amax, np.reshape: reshape,
    np.transpose: transpose, np.broadcast_to: broadcast_to, np.roll: roll, np.dot: dot,
    np.matmul: matmul, np.concatenate: concatenate,
}


def _array_function(self: Tensor, func: Any, types: Any, args: Any, kwargs: Any) -> Any:
    fn = _FUNCTIONS.get(func)
    if fn is None:
        return NotImplemented
    return fn(*args, **kwargs)


_install_tensor_methods()
