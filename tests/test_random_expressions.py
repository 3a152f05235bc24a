"""Random expression trees: every exact engine against an independent 50-digit mpmath reference.

This module is the main guard against silently wrong derivatives. It generates seeded random
expression trees over every primitive in ``diffkit.primitives.REGISTRY`` (more than 2,000 trees,
two points each, per run) and checks, at every point, that

* the value diffkit computes in float64 (``f(*x)`` and ``value_and_grad``) equals the mpmath value;
* the gradient (``dk.grad`` / ``dk.value_and_grad``) or Jacobian (``dk.jacobian``) by "reverse",
  "forward" and "symbolic" each equals the mpmath derivative;
* the three engines agree with each other tightly.

Design
------
*Trees.* A tree is a DAG of :class:`Node` (a primitive name, children, dk keyword parameters);
shared children are shared nodes. Every tree is rendered three ways from the same nodes:

* a Python callable over ``dk`` operations for ``dk.function`` (Python operators on traced values
  for some arithmetic, ``x[i]``, ``x.T`` and ``@`` for some structural nodes);
* math text for ``dk.parse`` (scalar trees whose primitives all have a parser name), mixing infix
  and call spellings, ``^`` and ``**``, and the parser's documented aliases (ln, max, asin, ...);
* an mpmath evaluation through :data:`REFERENCE`, a table written here from the mathematical
  definitions (never from diffkit's implementations, rules or SymPy translations); diffkit's
  registry is read only for names, arities, kinds and sampling domains.

``test_scalar_trees[p]`` (one per element-wise primitive p) builds scalar trees with 1-3 inputs and
depth 2-5 over all element-wise primitives, with p forced into every tree; the non-differentiable
ones appear as where-conditions (``where(greater(u, v), a, b)``), sign factors and stop_gradient.
``test_array_trees[p]`` (one per structural primitive) grows trees bottom-up from inputs shaped
(3,), (2, 3), (2, 2) or () by 2-3 random operations (structural and element-wise) plus p, then
reduces them to a scalar for the gradient; every fourth tree keeps a short vector output for
``dk.jacobian`` instead.

Each tree is checked at two points. Its gradient functions are kept across the points and the
reverse one is called once more at the second point: that third call runs diffkit's compiled code
("reverse#3"). The symbolic engine runs at the first point, on one front door (alternating), and
on half of the array trees (every variant test: all trees), as it costs ~10 ms per scalar tree
and ~0.1 s per array tree.

*Domains.* An argument of a primitive with a restricted domain is either an input whose
sampling interval is narrowed to the primitive's ``domain``, or wrapped in a transform that lands
in the domain (``log(1 + c*c)``, ``sqrt(exp(c))``, ``arcsin(tanh(c)*0.9)``, ``pow(0.5 + c*c, y)``,
``binary_cross_entropy(sigmoid(c), y)``, ...). Integer powers take any base.

*Reference derivatives.* Central differences of the mpmath evaluation at 80 working digits with
step 2**-90 (~8e-28): truncation error ~1e-55 and rounding error ~1e-53 relative, so the reference
derivative carries more than 50 correct digits (the value is evaluated at 50 digits); one partial
per input element. ``stop_gradient`` follows its definition: its argument is frozen at its value
at the unperturbed point.

*Conditioning.* The output of every float-valued node (inputs included) is multiplied by
``1 + 1e-20*w`` (w standard normal, per element) and the reference value and derivative are
recomputed; ``S`` = (largest change over two such trials) / 1e-20 is the absolute sensitivity of
the value or of each derivative element to relative rounding errors anywhere in the tree, so
``1e-13*S`` (~450 ulp times the condition) is an attainable accuracy in float64.

Tolerances (element-wise; r the reference, G the largest |derivative|)
-----------------------------------------------------------------------
* value: ``|v - r| <= 1e-13 * max(|r|, S_value)``;
* each engine against the reference: ``|g - r| <= 1e-9*|r| + 1e-13*S + atol``,
  ``atol = 1e-13 * max(1, G)``;
* the engines against each other: ``|g1 - g2| <= 1e-10*|r| + 1e-14*S + atol``.

Documented exclusions (counted per test; each test asserts that at most 10 % of its cases are
excluded, and so does the whole run, so the exclusions cannot hide everything)
--------------------------------------------------------------------------------------------
* K, kink or tie: the argument of abs/relu/sign, the gap of maximum/minimum or of an amax's top
  two values, the gap of a comparison in a where-condition, or a float where-condition, is within
  1e-6 (relative to max(1, |operands|)) of its switching point but not exactly on it. A gap of
  exactly 0 at 50 digits comes from structurally identical operands (``maximum(u, u)``, amax over
  a broadcast, a dead relu feeding abs): the function is differentiable there and the documented
  tie conventions are checked, not excluded.
* B, domain boundary: an argument within 1e-8 of the edge of a restricted domain (log and sqrt at
  0, log1p at -1, arcsin/arccos at ±1, a divisor or a non-integer power's base at 0, a tangent
  pole, a cross-entropy probability at 0 or 1).
* D, large values: some reference derivative exceeds 1e8 in magnitude, or some value in the tree
  exceeds 1e300 (float64 overflow).
* C, cancellation: some derivative element has ``1e-13*S > 1e-7*max(|r|, G) + atol``, i.e. its
  attainable accuracy is worse than 1e-7 of the gradient's scale.
* R, rejected: the reference evaluation left a primitive's domain despite the transforms.

Known bugs
----------
Each entry of :data:`KNOWN_BUGS` is a variant with a test of its own, marked
``xfail(strict=True, raises=AssertionError)``, so a fix turns it into an XPASS failure that asks
for the entry to be deleted. The other tests stay clear of it (:data:`AVOID`): variants whose
trees are wrong everywhere are not generated; for the others only the affected engine is skipped
in the cases that trigger them (counted as X, not as exclusions: the other engines are still
checked there).
"""

from __future__ import annotations

import itertools
import math
import zlib
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pytest
from mpmath import MPContext

import diffkit as dk
from diffkit.primitives import REGISTRY

# ----- the mpmath context: private, so no other test's global mp.dps can change it ------------

MP = MPContext()
MP.dps = 50
VALUE_DPS = 50
DIFF_DPS = 80
STEP = MP.ldexp(MP.mpf(1), -90)  # ~8.1e-28, a power of two: x ± STEP is exact at 80 digits
NOISE = MP.mpf("1e-20")
ZERO = MP.mpf(0)

# ----- tolerances and exclusion thresholds (see the module docstring) -------------------------

VALUE_RTOL = 1e-13
GRAD_RTOL = 1e-9
AGREE_RTOL = 1e-10
ATOL_REL = 1e-13
COND_TOL = 1e-13  # times S: the attainable accuracy (~450 ulp) of a derivative element
AGREE_COND_TOL = 1e-14  # the same for the engines against each other
LOOSEST = 1e-7  # a conditioning term above this (relative to the gradient's scale): excluded
KINK_DIST = 1e-6
BOUNDARY_DIST = 1e-8
BIG_DERIVATIVE = 1e8
FLOAT_LIMIT = 1e300  # a value beyond this overflows float64 (or nearly): excluded as D
EXP_OVERFLOW = 700.0  # exp of more than this overflows float64
MAX_EXCLUDED = 0.10  # of all cases together (test_zz_totals)
#: of one focus's 100 cases: kinks and boundaries come in clusters for a few foci (signbit is a
#: step at 0), so one focus may exclude a little more, while the totals keep 10 %
MAX_EXCLUDED_FOCUS = 0.15

EXACT_METHODS = ("reverse", "forward", "symbolic")
SEED = 20240917

# ----- counts (trees per test and points per tree) --------------------------------------------

SCALAR_TREES = 50
ARRAY_TREES = 22
VARIANT_SHARE = 0.5  # a variant's own test checks this share of the trees of a primitive's test
MIN_TREES = 2000  # trees per run in the primitives' own tests (variants not counted)
POINTS = 2  # per tree; the reverse gradient is called once more at the last point: that third
#             call runs diffkit's compiled code


class OutOfDomain(ArithmeticError):
    """The reference evaluation left a primitive's mathematical domain."""


# ============================================================================================
# The independent reference: one mpmath implementation per primitive, from its definition
# ============================================================================================


def _is_integer(v: Any) -> bool:
    return v == MP.floor(v)


def _ref_div(a: Any, b: Any) -> Any:
    if b == 0:
        raise OutOfDomain("division by 0")
    return a / b


def _ref_pow(a: Any, b: Any) -> Any:
    if a > 0:
        return MP.exp(b * MP.log(a))  # a^b = e^(b ln a)
    if _is_integer(b) and (a != 0 or b > 0):
        return a ** int(b)
    raise OutOfDomain(f"pow({a}, {b})")


def _ref_log(x: Any) -> Any:
    if x <= 0:
        raise OutOfDomain("log of x <= 0")
    return MP.log(x)


def _ref_log1p(x: Any) -> Any:
    if x <= -1:
        raise OutOfDomain("log1p of x <= -1")
    return MP.log(1 + x)


def _ref_sqrt(x: Any) -> Any:
    if x < 0:
        raise OutOfDomain("sqrt of x < 0")
    return MP.sqrt(x)


def _ref_arcsin(x: Any) -> Any:
    if abs(x) > 1:
        raise OutOfDomain("arcsin of |x| > 1")
    return MP.asin(x)


def _ref_arccos(x: Any) -> Any:
    if abs(x) > 1:
        raise OutOfDomain("arccos of |x| > 1")
    return MP.acos(x)


def _clamped_log(v: Any) -> Any:
    """max(log v, -100), with log 0 = -inf: the clamp of binary cross-entropy."""
    return MP.mpf(-100) if v == 0 else max(MP.log(v), MP.mpf(-100))


def _ref_bce(p: Any, y: Any) -> Any:
    if not 0 <= p <= 1:
        raise OutOfDomain("binary_cross_entropy needs 0 <= p <= 1")
    return -(y * _clamped_log(p) + (1 - y) * _clamped_log(1 - p))


def _obj(x: Any) -> np.ndarray:
    return np.asarray(x, dtype=object)


def _axes_of(axis: Any, ndim: int) -> tuple[int, ...]:
    if axis is None:
        return tuple(range(ndim))
    items = (axis,) if isinstance(axis, int) else tuple(axis)
    return tuple(sorted({a % ndim for a in items}))


def _ref_sum(x: Any, axis: Any = None, keepdims: bool = False) -> Any:
    return _obj(np.sum(_obj(x), axis=axis, keepdims=keepdims))


def _ref_mean(x: Any, axis: Any = None, keepdims: bool = False) -> Any:
    x = _obj(x)
    count = math.prod(x.shape[a] for a in _axes_of(axis, x.ndim))
    return _obj(_ref_sum(x, axis, keepdims) / count)


def _amax_groups(x: Any, axis: Any) -> tuple[np.ndarray, tuple[int, ...]]:
    """The reduced groups of an amax as rows, and the shape of the result without keepdims."""
    x = _obj(x)
    red = _axes_of(axis, x.ndim)
    rest = [a for a in range(x.ndim) if a not in red]
    out_shape = tuple(x.shape[a] for a in rest)
    moved = np.transpose(x, rest + list(red))
    return moved.reshape(-1, math.prod(x.shape[a] for a in red)), out_shape


def _ref_amax(x: Any, axis: Any = None, keepdims: bool = False) -> Any:
    rows, out_shape = _amax_groups(x, axis)
    best = [max(row) for row in rows]
    out = np.empty(len(best), dtype=object)
    out[:] = best
    out = out.reshape(out_shape)
    if keepdims:
        x = _obj(x)
        red = _axes_of(axis, x.ndim)
        out = out.reshape(tuple(1 if a in red else n for a, n in enumerate(x.shape)))
    return out


def _ref_reduce(fn: Callable[[list[Any]], Any]) -> Callable[..., Any]:
    """A reduction by `fn` of each reduced group (a list of mpf), as _ref_amax."""

    def ref(x: Any, axis: Any = None, keepdims: bool = False) -> Any:
        rows, out_shape = _amax_groups(x, axis)
        out = np.empty(len(rows), dtype=object)
        out[:] = [fn(list(row)) for row in rows]
        out = out.reshape(out_shape)
        if keepdims:
            x = _obj(x)
            red = _axes_of(axis, x.ndim)
            out = out.reshape(tuple(1 if a in red else n for a, n in enumerate(x.shape)))
        return out

    return ref


def _ref_along(fn: Callable[[list[Any]], list[Any]]) -> Callable[..., Any]:
    """`fn` (a list of mpf to a list as long) along one axis; the flattened array for None."""

    def ref(x: Any, axis: Any = -1, **params: Any) -> Any:
        x = _obj(x)
        if axis is None or x.ndim == 0:
            x, axis = x.reshape(-1), 0
        moved = np.moveaxis(x, axis, -1)
        out = np.empty(moved.shape, dtype=object)
        for idx in np.ndindex(*moved.shape[:-1]):
            out[idx] = fn(list(moved[idx]), **params)
        return np.moveaxis(out, -1, axis)

    return ref


def _running(row: list[Any], op: Callable[[Any, Any], Any]) -> list[Any]:
    out = [row[0]]
    for v in row[1:]:
        out.append(op(out[-1], v))
    return out


def _partitioned(row: list[Any], kth: Any) -> list[Any]:
    """NumPy's arrangement (its partition of the float values, an order that is piecewise
    constant in the values), filled with the mpf elements of those values."""
    floats = [float(v) for v in row]
    return [row[floats.index(float(v))] for v in np.partition(np.array(floats), kth)]


def _ref_cumulative(op: Callable[[Any, Any], Any]) -> Callable[..., Any]:
    along = _ref_along(lambda row: _running(row, op))
    return lambda x, axis=None: along(x, axis)


def _ref_index_add(v: Any, index: Any, shape: Sequence[int]) -> Any:
    """zeros(shape), then v[k] added at the k-th position that `index` selects (repeats add up)."""
    out = np.empty(math.prod(shape), dtype=object)
    out[:] = [ZERO] * out.size
    positions = np.arange(out.size).reshape(tuple(shape))[index]
    values = np.broadcast_to(_obj(v), np.shape(positions))
    for p, val in zip(np.ravel(positions), np.ravel(values), strict=True):
        out[p] = out[p] + val
    return out.reshape(tuple(shape))


def _pair(k: Any) -> tuple[int, int]:
    return (int(k), int(k)) if isinstance(k, int) else (int(k[0]), int(k[1]))


def _conv_size(n: int, k: int, stride: int, padding: int) -> int:
    return (n + 2 * padding - k) // stride + 1


def _ref_im2col(x: Any, kernel_size: Any, stride: int = 1, padding: int = 0) -> Any:
    """cols[n, a, b, (c*kh + i)*kw + j] = x[n, c, a*stride + i - padding, b*stride + j - padding]
    (0 outside the image)."""
    x = _obj(x)
    n, c, h, w = x.shape
    kh, kw = _pair(kernel_size)
    oh, ow = _conv_size(h, kh, stride, padding), _conv_size(w, kw, stride, padding)
    out = np.empty((n, oh, ow, c * kh * kw), dtype=object)
    for b_ in range(n):
        for a in range(oh):
            for b in range(ow):
                for ch in range(c):
                    for i in range(kh):
                        for j in range(kw):
                            r, q = a * stride + i - padding, b * stride + j - padding
                            inside = 0 <= r < h and 0 <= q < w
                            k = (ch * kh + i) * kw + j
                            out[b_, a, b, k] = x[b_, ch, r, q] if inside else ZERO
    return out


def _ref_col2im(cols: Any, kernel_size: Any, stride: int, padding: int,
                shape: Sequence[int]) -> Any:
    """The adjoint of im2col: every patch entry is added back where im2col read it from."""
    cols = _obj(cols)
    n, c, h, w = shape
    kh, kw = _pair(kernel_size)
    oh, ow = cols.shape[1], cols.shape[2]
    out = np.empty(tuple(shape), dtype=object)
    out.reshape(-1)[:] = [ZERO] * out.size
    for b_ in range(n):
        for a in range(oh):
            for b in range(ow):
                for ch in range(c):
                    for i in range(kh):
                        for j in range(kw):
                            r, q = a * stride + i - padding, b * stride + j - padding
                            if 0 <= r < h and 0 <= q < w:
                                k = (ch * kh + i) * kw + j
                                out[b_, ch, r, q] = out[b_, ch, r, q] + cols[b_, a, b, k]
    return out


def _ref_softmax_cross_entropy(z: Any, t: Any) -> Any:
    """-Σ_k t_k (z_k - log Σ_j exp z_j) over the last axis."""
    z, t = _obj(z), _obj(t)
    rows_z, rows_t = z.reshape(-1, z.shape[-1]), t.reshape(-1, t.shape[-1])
    out = []
    for zr, tr in zip(rows_z, rows_t, strict=True):
        lse = MP.log(MP.fsum(MP.exp(v) for v in zr))
        out.append(-MP.fsum(tk * (zk - lse) for zk, tk in zip(zr, tr, strict=True)))
    res = np.empty(len(out), dtype=object)
    res[:] = out
    return res.reshape(z.shape[:-1])


def _ref_softmax_cross_entropy_grad(z: Any, t: Any) -> Any:
    """Σ_k t_k · softmax(z) − t over the last axis (cross-entropy's gradient in its logits)."""
    z, t = _obj(z), _obj(t)
    rows_z, rows_t = z.reshape(-1, z.shape[-1]), t.reshape(-1, t.shape[-1])
    out = np.empty(rows_z.shape, dtype=object)
    for i, (zr, tr) in enumerate(zip(rows_z, rows_t, strict=True)):
        total, mass = MP.fsum(MP.exp(v) for v in zr), MP.fsum(tr)
        for k, (zk, tk) in enumerate(zip(zr, tr, strict=True)):
            out[i, k] = mass * MP.exp(zk) / total - tk
    return out.reshape(z.shape)


def _ref_linear(x: Any, weight: Any, bias: Any) -> Any:
    return _obj(np.matmul(_obj(x), np.transpose(_obj(weight))) + _obj(bias))


#: primitive name -> mpmath implementation. Element-wise ones take mpf scalars (comparisons
#: return Python bools); structural ones take NumPy object arrays of mpf and keyword parameters
#: with NumPy's meaning (as the user passes them to dk.<name>).
REFERENCE: dict[str, Callable[..., Any]] = {
    "add": lambda a, b: a + b,
    "sub": lambda a, b: a - b,
    "mul": lambda a, b: a * b,
    "div": _ref_div,
    "neg": lambda a: -a,
    "pow": _ref_pow,
    "exp": MP.exp,
    "log": _ref_log,
    "log1p": _ref_log1p,
    "sqrt": _ref_sqrt,
    "norm_sqrt": lambda v, s: _ref_sqrt(v),
    "sin": MP.sin,
    "cos": MP.cos,
    "tan": MP.tan,
    "sinh": MP.sinh,
    "cosh": MP.cosh,
    "tanh": MP.tanh,
    "arcsin": _ref_arcsin,
    "arccos": _ref_arccos,
    "arctan": MP.atan,
    "sigmoid": lambda x: 1 / (1 + MP.exp(-x)),
    "softplus": lambda x: MP.log(1 + MP.exp(x)),
    "relu": lambda x: x if x > 0 else ZERO,
    "abs": lambda x: x if x >= 0 else -x,
    "maximum": max,
    "minimum": min,
    "where": lambda c, a, b: a if c else b,  # a float condition is true where it is nonzero
    "greater": lambda a, b: bool(a > b),
    "less": lambda a, b: bool(a < b),
    "equal": lambda a, b: bool(a == b),
    "greater_equal": lambda a, b: bool(a >= b),
    "less_equal": lambda a, b: bool(a <= b),
    "not_equal": lambda a, b: bool(a != b),
    "conj": lambda x: x,  # real arguments: the conjugate is the number itself
    "real": lambda x: x,
    "imag": lambda x: ZERO,
    "sign": lambda x: MP.mpf(1) if x > 0 else (MP.mpf(-1) if x < 0 else ZERO),
    "stop_gradient": lambda x: x,  # the evaluator freezes it at the unperturbed point
    "binary_cross_entropy": _ref_bce,
    "sum": _ref_sum,
    "mean": _ref_mean,
    "amax": _ref_amax,
    "reshape": lambda x, shape: _obj(np.reshape(_obj(x), shape)),
    "transpose": lambda x, axes=None: _obj(np.transpose(_obj(x), axes)),
    "broadcast_to": lambda x, shape: np.array(np.broadcast_to(_obj(x), shape), dtype=object),
    "getitem": lambda x, index: _obj(_obj(x)[index]),
    "index_add": _ref_index_add,
    "concatenate": lambda *xs, axis=0: _obj(np.concatenate([_obj(x) for x in xs], axis=axis)),
    "roll": lambda x, shift, axis=None: _obj(np.roll(_obj(x), shift, axis=axis)),
    "matmul": lambda a, b: _obj(np.matmul(_obj(a), _obj(b))),
    "linear": _ref_linear,
    "im2col": _ref_im2col,
    "col2im": _ref_col2im,
    "softmax_cross_entropy": _ref_softmax_cross_entropy,
    "softmax_cross_entropy_grad": _ref_softmax_cross_entropy_grad,
    # reductions, sorting and selection
    "amin": _ref_reduce(min),
    "prod": _ref_reduce(MP.fprod),
    "cumsum": _ref_cumulative(lambda a, b: a + b),
    "cumprod": _ref_cumulative(lambda a, b: a * b),
    "sort": _ref_along(sorted),
    "partition": lambda x, kth, axis=-1: _ref_along(_partitioned)(x, axis, kth=kth),
}



# ----- the NumPy ufuncs of diffkit/primitives/ufuncs.py, from their definitions ----------------


def _sgn(x: Any) -> Any:
    return MP.mpf(1) if x > 0 else (MP.mpf(-1) if x < 0 else ZERO)


def _trunc(x: Any) -> Any:
    return MP.floor(x) if x >= 0 else MP.ceil(x)


def _rint(x: Any) -> Any:
    """The nearest integer, ties to even."""
    f = MP.floor(x)
    d = x - f
    if d != MP.mpf(0.5):
        return f + 1 if d > MP.mpf(0.5) else f
    return f if f % 2 == 0 else f + 1


def _divisor(b: Any) -> Any:
    if b == 0:
        raise OutOfDomain("a remainder or quotient by 0")
    return b


def _ref_log_base(base: int) -> Callable[[Any], Any]:
    def f(x: Any) -> Any:
        if x <= 0:
            raise OutOfDomain(f"log{base} of x <= 0")
        return MP.log(x, base)

    return f


def _ref_arccosh(x: Any) -> Any:
    if x < 1:
        raise OutOfDomain("arccosh of x < 1")
    return MP.acosh(x)


def _ref_arctanh(x: Any) -> Any:
    if abs(x) >= 1:
        raise OutOfDomain("arctanh of |x| >= 1")
    return MP.atanh(x)


def _ref_astype(x: Any, dtype: Any) -> Any:
    kind = np.dtype(dtype).kind

    def one(v: Any) -> Any:
        if isinstance(v, bool | np.bool_):
            return MP.mpf(int(v)) if kind != "b" else bool(v)
        return _trunc(v) if kind in "iu" else (v != 0 if kind == "b" else v)

    if np.ndim(x):
        return _elementwise(one, [_obj(x)])
    return one(x[()] if isinstance(x, np.ndarray) else x)  # (a 0-d object array: its number)


REFERENCE.update({
    "exp2": lambda x: MP.power(2, x),
    "expm1": MP.expm1,
    "log2": _ref_log_base(2),
    "log10": _ref_log_base(10),
    "arcsinh": MP.asinh,
    "arccosh": _ref_arccosh,
    "arctanh": _ref_arctanh,
    "reciprocal": lambda x: 1 / _divisor(x),
    "cbrt": lambda x: _sgn(x) * MP.cbrt(abs(x)),
    "sinc": lambda x: MP.mpf(1) if x == 0 else MP.sin(MP.pi * x) / (MP.pi * x),
    "deg2rad": lambda x: x * MP.pi / 180,
    "rad2deg": lambda x: x * 180 / MP.pi,
    "positive": lambda x: x,
    "arctan2": MP.atan2,
    "hypot": MP.hypot,
    "logaddexp": lambda a, b: MP.log(MP.exp(a) + MP.exp(b)),
    "logaddexp2": lambda a, b: MP.log(MP.power(2, a) + MP.power(2, b), 2),
    "copysign": lambda x, y: abs(x) if y >= 0 else -abs(x),
    "float_power": _ref_pow,
    "arg": lambda x: MP.pi if x < 0 else ZERO,
    "fmax": max,
    "fmin": min,
    "clip": lambda x, lo, hi: min(max(x, lo), hi),
    "floor": MP.floor,
    "ceil": MP.ceil,
    "rint": _rint,
    "trunc": _trunc,
    "floor_divide": lambda a, b: MP.floor(a / _divisor(b)),
    "mod": lambda a, b: a - b * MP.floor(a / _divisor(b)),
    "fmod": lambda a, b: a - b * _trunc(a / _divisor(b)),
    "heaviside": lambda x, h: ZERO if x < 0 else (h if x == 0 else MP.mpf(1)),
    "logical_and": lambda a, b: bool(a) and bool(b),
    "logical_or": lambda a, b: bool(a) or bool(b),
    "logical_xor": lambda a, b: bool(a) != bool(b),
    "logical_not": lambda a: not a,
    "bitwise_and": lambda a, b: bool(a) and bool(b),  # on conditions (booleans) only
    "bitwise_or": lambda a, b: bool(a) or bool(b),
    "bitwise_xor": lambda a, b: bool(a) != bool(b),
    "invert": lambda a: not a,
    "isfinite": lambda x: bool(MP.isfinite(x)),
    "isnan": lambda x: bool(MP.isnan(x)),
    "isinf": lambda x: bool(MP.isinf(x)),
    "signbit": lambda x: bool(x < 0),
    "astype": _ref_astype,
})
# ----- scipy.special (diffkit/primitives/scipy_special.py), from their definitions --------------


def _open_interval(name: str, lo: Any, hi: Any, f: Callable[[Any], Any]) -> Callable[[Any], Any]:
    def g(x: Any) -> Any:
        if not lo < x < hi:
            raise OutOfDomain(f"{name} needs {lo} < x < {hi}")
        return f(x)

    return g


def _off_poles(name: str, f: Callable[..., Any]) -> Callable[..., Any]:
    """f where no argument is a pole of Γ (0, −1, −2, …)."""
    def g(*xs: Any) -> Any:
        if any(x <= 0 and x == MP.nint(x) for x in xs):
            raise OutOfDomain(f"{name} at a pole of the gamma function")
        return f(*xs)

    return g


def _pole_distance(*xs: Any) -> Any:
    return min(x if x > 0 else abs(x - MP.nint(x)) for x in xs)


def _ref_xlogy(x: Any, y: Any) -> Any:
    if x == 0:
        return ZERO
    if y <= 0:
        raise OutOfDomain("xlogy needs y > 0 where x != 0")
    return x * MP.log(y)


def _ref_xlog1py(x: Any, y: Any) -> Any:
    if x == 0:
        return ZERO
    if y <= -1:
        raise OutOfDomain("xlog1py needs y > -1 where x != 0")
    return x * MP.log1p(y)


REFERENCE.update({
    "erf": MP.erf,
    "erfc": MP.erfc,
    "erfinv": _open_interval("erfinv", -1, 1, MP.erfinv),
    "erfcinv": _open_interval("erfcinv", 0, 2, lambda x: MP.erfinv(1 - x)),
    "ndtr": MP.ncdf,
    "log_ndtr": lambda x: MP.log(MP.ncdf(x)) if x < 0 else MP.log1p(-MP.ncdf(-x)),
    "gamma": _off_poles("gamma", MP.gamma),
    "gammaln": _off_poles("gammaln", lambda x: MP.log(abs(MP.gamma(x)))),
    "digamma": _off_poles("digamma", MP.digamma),
    "beta": _off_poles("beta", MP.beta),
    "betaln": _off_poles("betaln", lambda a, b: MP.log(abs(MP.beta(a, b)))),
    "logit": _open_interval("logit", 0, 1, lambda p: MP.log(p / (1 - p))),
    "expit": lambda x: 1 / (1 + MP.exp(-x)),
    "xlogy": _ref_xlogy,
    "xlog1py": _ref_xlog1py,
})
EXCLUDED_SPECIAL = {"polygamma": "its order is an integer parameter, not an operand; checked "
                                 "against mpmath in tests/test_scipy_special.py"}
EXCLUDED_SPECIAL.update({name: "an order or shape parameter that is never differentiated (a "
                               "MissingRuleError names method='fd'); checked against mpmath in "
                               "tests/test_scipy_special_more.py" for name in (
    "jv", "yv", "iv", "ive", "kv", "yn", "kn", "gammainc", "gammaincc", "betainc")})
EXCLUDED_SPECIAL["log_ndtr_derivative"] = ("its order is an integer parameter, not an operand "
                                           "(log_ndtr's own rule); checked against mpmath in "
                                           "tests/test_special_trust.py")
EXCLUDED_SPECIAL["signum"] = ("the derivative rules' sign, a constant to differentiation: the "
                              "values of sign, which the trees use")
EXCLUDED_SPECIAL["gammasgn"] = ("a constant (the sign of Γ, derivative 0 as sign's); checked in "
                                "tests/test_scipy_special_more.py")


def _bessel(kind: str, order: int, positive: bool = False) -> Callable[[Any], Any]:
    def f(x: Any) -> Any:
        if positive and x <= 0:
            raise OutOfDomain(f"{kind}{order} needs x > 0")
        return getattr(MP, kind)(order, x)

    return f


def _scaled_i(order: int) -> Callable[[Any], Any]:
    return lambda x: MP.besseli(order, x) * MP.exp(-abs(x))


REFERENCE.update({
    "j0": _bessel("besselj", 0), "j1": _bessel("besselj", 1),
    "y0": _bessel("bessely", 0, positive=True), "y1": _bessel("bessely", 1, positive=True),
    "i0": _bessel("besseli", 0), "i1": _bessel("besseli", 1), "numpy_i0": _bessel("besseli", 0),
    "i0e": _scaled_i(0), "i1e": _scaled_i(1),
    "rgamma": MP.rgamma,
})


#: the non-differentiable ufuncs with a boolean value: conditions of where (NUMERIC: of numbers)
BOOLEAN = ("logical_and", "logical_or", "logical_xor", "logical_not", "bitwise_and", "bitwise_or",
           "bitwise_xor", "invert", "isfinite", "isnan", "isinf", "signbit")
NUMERIC_BOOLEAN = ("logical_and", "logical_or", "logical_xor", "logical_not", "isfinite", "isnan",
                   "isinf", "signbit")

#: primitives without a reference, and why (the non-differentiable element-wise ones have
#: references and appear in trees as where-conditions, sign factors and stop_gradient).
EXCLUDED: dict[str, str] = {
    **{name: "its values are indices, plain integers that never enter a graph (checked in "
             "tests/test_numpy_reductions.py)"
       for name in ("argmax", "argmin", "argsort", "argpartition")},
    **{name: "a constant (boolean or integer) reduction, never differentiated (checked in "
             "tests/test_numpy_reductions.py)" for name in ("all", "any", "count_nonzero")},
}
EXCLUDED.update(EXCLUDED_SPECIAL)
EXCLUDED["subgradient"] = ("the identity on its first operand, whose derivative is a "
                           "NonDifferentiableError where its mask is false: a rule's marker, "
                           "checked in tests/test_second_order_kinks_trust.py")
#: primitives the symbolic engine refuses by name (no SymPy translation): their trees are
#: checked in reverse and forward mode only
NO_SYMBOLIC = {"sort", "partition"}

COMPARISONS = ("greater", "less", "equal", "greater_equal", "less_equal", "not_equal")

#: products and linear algebra are checked against mpmath in tests/test_numpy_products.py and
#: tests/test_numpy_linalg.py: they need operands of matching shapes, square, symmetric or
#: well-conditioned matrices, and decompositions defined up to the signs of their vectors
EXCLUDED.update({name: "checked against mpmath in tests/test_numpy_products.py" for name in (
    "einsum", "inner", "outer", "tensordot", "kron", "cross")})
EXCLUDED.update({name: "checked against mpmath in tests/test_numpy_linalg.py" for name in (
    "inv", "solve", "det", "slogdet_packed", "slogdet_sign", "logabsdet", "cholesky",
    "eigh_packed", "eigh_values", "eigh_vectors", "eigvalsh", "svd_packed", "svd_s", "svd_u",
    "svd_vh", "svdvals", "qr_packed", "qr_q", "qr_r", "pinv", "euclidean_norm",
    "lstsq_solution")})
EXCLUDED.update({name: "a discrete Fourier transform (complex values, sizes and axes as "
                       "parameters): checked against an mpmath DFT in tests/test_numpy_fft.py"
                 for name in ("fft_c2c", "fft_r2c", "fft_c2r")})


def _rel_gap(a: Any, b: Any) -> Any:
    return abs(a - b) / max(MP.mpf(1), abs(a), abs(b))


def _signed_zero(x: Any) -> Any:
    """|x| as a kink distance where the sign of a zero decides (signbit, angle, copysign,
    arctan2's cut): an exact zero counts as 1e-300, so it is excluded — mpmath has no −0.0, while
    NumPy's trunc(−0.2), −1·0.0 or 0·(−1) are −0.0."""
    return abs(x) if x != 0 else MP.mpf("1e-300")


#: element-wise kinks: the distance of the arguments from a switching point
KINKS: dict[str, Callable[..., Any]] = {
    "relu": lambda x: abs(x),
    "abs": lambda x: abs(x),
    "sign": lambda x: abs(x),
    "maximum": _rel_gap,
    "minimum": _rel_gap,
    "where": lambda c, a, b: None if isinstance(c, bool | np.bool_) else abs(c),
    **{name: _rel_gap for name in COMPARISONS},
    # the ufuncs: jumps, kinks and branch cuts
    **{name: (lambda x: abs(x - MP.nint(x))) for name in ("floor", "ceil", "trunc")},
    "rint": lambda x: abs(abs(x - MP.floor(x)) - MP.mpf(0.5)),
    **{name: (lambda a, b: None if b == 0 else abs(a / b - MP.nint(a / b)))
       for name in ("mod", "fmod", "floor_divide")},
    "heaviside": lambda x, h: abs(x),
    "i0e": lambda x: abs(x), "i1e": lambda x: abs(x),
    "copysign": lambda x, y: min(abs(x), _signed_zero(y)),
    "hypot": lambda x, y: max(abs(x), abs(y)),
    "arctan2": lambda y, x: _signed_zero(y) if x < 0 else None,  # the cut (the origin: B)
    "arg": _signed_zero,
    "signbit": _signed_zero,
    "fmax": _rel_gap,
    "fmin": _rel_gap,
    "clip": lambda x, lo, hi: min(_rel_gap(x, lo), _rel_gap(max(x, lo), hi)),
    **{name: (lambda *args: min((abs(a) for a in args if not isinstance(a, bool | np.bool_)),
                                default=None))
       for name in ("logical_and", "logical_or", "logical_xor", "logical_not")},
}

#: element-wise domain boundaries: the distance of the arguments from the edge of the domain
BOUNDARIES: dict[str, Callable[..., Any]] = {
    "log": lambda x: x,
    "sqrt": lambda x: x,
    "norm_sqrt": lambda v, s: v,
    "log1p": lambda x: 1 + x,
    "arcsin": lambda x: 1 - abs(x),
    "arccos": lambda x: 1 - abs(x),
    "div": lambda a, b: abs(b),
    "tan": lambda x: abs(MP.cos(x)),
    "pow": lambda a, b: None if _is_integer(b) and b >= 0 else abs(a),
    "binary_cross_entropy": lambda p, y: min(p, 1 - p),
    "log2": lambda x: x,
    "log10": lambda x: x,
    "arccosh": lambda x: x - 1,
    "arctanh": lambda x: 1 - abs(x),
    "reciprocal": lambda x: abs(x),
    "cbrt": lambda x: abs(x),  # an infinite derivative at 0
    **{name: (lambda a, b: abs(b)) for name in ("mod", "fmod", "floor_divide")},
    "float_power": lambda a, b: None if _is_integer(b) and b >= 0 else abs(a),
    "arctan2": lambda y, x: max(abs(x), abs(y)),  # not differentiable at the origin
    # NumPy's sinc rounds πx: near its zeros (the nonzero integers) it is accurate to ~1e-17 only
    # absolutely, which a constant argument (no rounding noise of its own) does not account for
    "sinc": lambda x: None if MP.nint(x) == 0 else abs(x - MP.nint(x)),
    "erfinv": lambda x: 1 - abs(x),
    "erfcinv": lambda x: min(x, 2 - x),
    "logit": lambda p: min(p, 1 - p),
    **{name: _pole_distance for name in ("gamma", "gammaln", "digamma", "beta", "betaln")},
    "xlogy": lambda x, y: None if x == 0 else y,
    "y0": lambda x: x, "y1": lambda x: x,
    "xlog1py": lambda x, y: None if x == 0 else 1 + y,
}


# ============================================================================================
# Trees
# ============================================================================================


class Node:
    """One node: an input, a constant, or a primitive applied to children with parameters.

    style "op": written with a Python operator in the dk callable (a + b, -a, x[i], x.T, a @ b)
    and infix in math text; alias: another parser spelling (ln, max, ...); caret: ^ for **.
    """

    __slots__ = ("_mp", "alias", "args", "caret", "op", "params", "shape", "style", "value")

    def __init__(self, op: str, args: Sequence[Node] = (), params: dict[str, Any] | None = None,
                 value: Any = None, style: str = "call", alias: str | None = None,
                 caret: bool = False, shape: tuple[int, ...] | None = None) -> None:
        self.op = op
        self.args = tuple(args)
        self.params = params or {}
        self.value = value
        self.style = style
        self.alias = alias
        self.caret = caret
        self._mp: Any = None
        if shape is None:
            if op == "const":
                shape = tuple(np.shape(value))
            elif op in REGISTRY and REGISTRY[op].kind == "elementwise":
                shape = tuple(np.broadcast_shapes(*(a.shape for a in self.args)))
            else:
                raise ValueError(f"node {op} needs a shape")
        self.shape = shape

    @property
    def size(self) -> int:
        return math.prod(self.shape)

    @property
    def ndim(self) -> int:
        return len(self.shape)


def E(op: str, *args: Node, **kw: Any) -> Node:
    return Node(op, args, **kw)


def C(v: Any) -> Node:
    return Node("const", value=float(v) if np.ndim(v) == 0 else np.asarray(v, dtype=float))


def nodes_of(root: Node) -> list[Node]:
    """Every node once, children before parents."""
    order: list[Node] = []
    seen: set[int] = set()
    stack: list[tuple[Node, bool]] = [(root, False)]
    while stack:
        node, done = stack.pop()
        if done:
            order.append(node)
            continue
        if id(node) in seen:
            continue
        seen.add(id(node))
        stack.append((node, True))
        stack.extend((c, False) for c in reversed(node.args) if id(c) not in seen)
    return order


# ----- the dk front door ------------------------------------------------------------------------

_OPERATORS: dict[str, Callable[..., Any]] = {
    "add": lambda a, b: a + b,
    "sub": lambda a, b: a - b,
    "mul": lambda a, b: a * b,
    "div": lambda a, b: a / b,
    "pow": lambda a, b: a**b,
    "neg": lambda a: -a,
}


def build_dk(root: Node, xs: Sequence[Any]) -> Any:
    """Apply the tree with dk operations to xs (Tensors while tracing)."""
    vals: dict[int, Any] = {}
    for node in nodes_of(root):
        if node.op == "input":
            v = xs[node.value]
        elif node.op == "const":
            v = node.value
        else:
            a = [vals[id(c)] for c in node.args]
            if node.style == "op" and node.op in _OPERATORS:
                v = _OPERATORS[node.op](*a)
            elif node.style == "op" and node.op == "getitem":
                v = a[0][node.params["index"]]
            elif node.style == "op" and node.op == "transpose":
                v = a[0].T
            elif node.style == "op" and node.op == "matmul":
                v = a[0] @ a[1]
            elif node.op == "concatenate":
                v = dk.concatenate(a, **node.params)
            elif node.style == "numpy":  # NumPy's function, dispatching to dk's on traced values
                v = getattr(np, node.op)(*a, **node.params)
            else:
                v = getattr(dk, node.op)(*a, **node.params)
        vals[id(node)] = v
    return vals[id(root)]


def dk_function(root: Node, n_inputs: int) -> dk.Function:
    names = [f"x{i}" for i in range(n_inputs)]
    return dk.function(lambda *xs: build_dk(root, xs), inputs=names)


# ----- text: math text for dk.parse, and a readable form of any tree --------------------------

_SYMBOLS = {"add": "+", "sub": "-", "mul": "*", "div": "/"}
#: every element-wise primitive that dk.parse can call by name (where needs a condition, which
#: math text cannot write; the non-differentiable primitives are not offered by the parser)
PARSEABLE = {n for n, p in REGISTRY.items()
             if p.kind == "elementwise" and p.differentiable and p.parseable and n != "where"}


def _const_text(v: Any) -> str:
    if np.ndim(v) == 0:
        s = repr(float(v))
        return f"({s})" if s.startswith("-") else s
    return "array(" + np.array2string(np.asarray(v), separator=", ").replace("\n", "") + ")"


def _index_text(index: Any) -> str:
    items = index if isinstance(index, tuple) else (index,)
    out = []
    for i in items:
        if isinstance(i, slice):
            parts = ["" if v is None else str(v) for v in (i.start, i.stop, i.step)]
            out.append(":".join(parts[:2]) + (f":{parts[2]}" if parts[2] else ""))
        elif i is Ellipsis:
            out.append("...")
        elif isinstance(i, np.ndarray):
            out.append(repr(i.tolist()))
        else:
            out.append(repr(i))
    text = ", ".join(out)
    return text + "," if isinstance(index, tuple) and len(items) == 1 else text


def to_text(root: Node) -> str:
    """Math text (exactly what dk.parse gets for parseable trees); readable for any tree."""
    memo: dict[int, str] = {}
    for node in nodes_of(root):
        a = [memo[id(c)] for c in node.args]
        op = node.op
        if op == "input":
            s = f"x{node.value}"
        elif op == "const":
            s = _const_text(node.value)
        elif node.style == "op" and op in _SYMBOLS:
            s = f"({a[0]} {_SYMBOLS[op]} {a[1]})"
        elif node.style == "op" and op == "pow":
            s = f"({a[0]} {'^' if node.caret else '**'} {a[1]})"
        elif node.style == "op" and op == "neg":
            s = f"(-{a[0]})"
        elif op == "getitem":
            s = f"{a[0]}[{_index_text(node.params['index'])}]"
        elif op == "concatenate":
            s = f"concatenate([{', '.join(a)}], axis={node.params['axis']})"
        else:
            params = [f"{k}={_index_text(v) if k == 'index' else repr(v)}"
                      for k, v in node.params.items()]
            s = f"{node.alias or op}({', '.join(a + params)})"
        memo[id(node)] = s
    return memo[id(root)]


def parseable(root: Node) -> bool:
    return all(n.op in ("input", "const") or n.op in PARSEABLE for n in nodes_of(root))


# ============================================================================================
# The mpmath evaluation of a tree
# ============================================================================================


def to_mp(v: Any) -> Any:
    if np.ndim(v) == 0:
        return MP.mpf(float(v))
    a = np.asarray(v, dtype=float)
    out = np.empty(a.shape, dtype=object)
    out.reshape(-1)[:] = [MP.mpf(float(t)) for t in a.reshape(-1)]
    return out


def flat(v: Any) -> list[Any]:
    return list(np.asarray(v, dtype=object).reshape(-1)) if isinstance(v, np.ndarray) else [v]


def _elementwise(fn: Callable[..., Any], args: Sequence[Any]) -> Any:
    if not any(isinstance(a, np.ndarray) for a in args):
        return fn(*args)
    out = np.frompyfunc(fn, len(args), 1)(*args)
    return _obj(out)


class Watch:
    """The smallest kink distance (exact ties aside) and domain-boundary distance seen."""

    def __init__(self) -> None:
        self.kink = math.inf
        self.boundary = math.inf
        self.amax_ties = 1  # the most entries exactly tied for an amax's maximum
        self.largest = 0.0  # the largest magnitude of any value in the tree
        self.exp_overflow = False  # exp(|argument|) of sigmoid/softplus/cross-entropy > 1e304

    def _note(self, kind: str, dist: Any) -> None:
        if dist is None:
            return
        d = float(dist)
        if kind == "kink" and dist != 0:  # (a nonzero mpf that underflows float64 is tiny, not 0)
            self.kink = min(self.kink, d if d > 0 else 5e-324)
        if kind == "boundary":
            self.boundary = min(self.boundary, d)

    def value(self, v: Any) -> None:
        for t in flat(v):
            if not isinstance(t, bool | np.bool_):
                self.largest = max(self.largest, float(abs(t)))

    def check(self, node: Node, args: Sequence[Any]) -> None:
        if node.op in ("sigmoid", "softplus", "softmax_cross_entropy"):
            self.exp_overflow |= any(abs(float(t)) > EXP_OVERFLOW for t in flat(args[0]))
        for kind, table in (("kink", KINKS), ("boundary", BOUNDARIES)):
            fn = table.get(node.op)
            if fn is not None:
                for d in flat(_elementwise(fn, args)):
                    self._note(kind, d)
        if node.op == "astype" and np.dtype(node.params["dtype"]).kind in "iu":
            for v in flat(args[0]):
                if not isinstance(v, bool | np.bool_):
                    self._note("kink", abs(v - MP.nint(v)))
        if node.op == "amin":
            rows, _ = _amax_groups(args[0], node.params.get("axis"))
            for row in rows:
                low = min(row)
                above = [v for v in row if v != low]
                if above:
                    self._note("kink", _rel_gap(low, min(above)))
        if node.op in ("sort", "partition"):  # any two values of a lane swapping places
            x = _obj(args[0])
            axis = node.params.get("axis", -1)
            lanes = x.reshape(1, -1) if axis is None else np.moveaxis(x, axis, -1).reshape(
                -1, x.shape[axis])
            for lane in lanes:
                ordered = sorted(lane)
                for a, b in itertools.pairwise(ordered):
                    self._note("kink", _rel_gap(a, b))
        if node.op == "amax":
            rows, _ = _amax_groups(args[0], node.params.get("axis"))
            for row in rows:
                top = max(row)
                below = [v for v in row if v != top]
                if below:
                    self._note("kink", _rel_gap(top, max(below)))
                self.amax_ties = max(self.amax_ties, sum(1 for v in row if v == top))


class MpTree:
    """Evaluates a tree through REFERENCE at the precision of the enclosing MP context."""

    def __init__(self, root: Node) -> None:
        self.root = root
        self.order = nodes_of(root)
        for node in self.order:
            if node.op == "const":
                node._mp = to_mp(node.value)

    def run(self, xs: Sequence[Any], noise: dict[int, Any] | None = None,
            frozen: dict[int, Any] | None = None, watch: Watch | None = None
            ) -> tuple[Any, dict[int, Any]]:
        vals: dict[int, Any] = {}
        for node in self.order:
            key = id(node)
            if node.op == "input":
                v = xs[node.value]
            elif node.op == "const":
                v = node._mp
            elif node.op == "stop_gradient" and frozen is not None:
                vals[key] = frozen[key]  # already carries its noise
                continue
            else:
                args = [vals[id(c)] for c in node.args]
                if watch is not None:
                    watch.check(node, args)
                if REGISTRY[node.op].kind == "elementwise":
                    v = _elementwise(REFERENCE[node.op], args)
                else:
                    v = REFERENCE[node.op](*args, **node.params)
            if noise is not None and key in noise:
                v = v * noise[key]
            if watch is not None:
                watch.value(v)
            vals[key] = v
        return vals[id(self.root)], vals

    def noise(self, vals: dict[int, Any], rng: np.random.Generator) -> dict[int, Any]:
        """1 + 1e-20*w, w standard normal, per element of every float-valued, non-constant node.

        (Gaussian rather than ±1 weights: two equal terms of opposite sign would cancel exactly
        for half of all sign choices, hiding the very cancellation this is meant to measure.)
        """
        out: dict[int, Any] = {}
        for node in self.order:
            if node.op in ("const", "sign", *COMPARISONS, *BOOLEAN):
                continue
            v = vals[id(node)]
            w = rng.standard_normal(np.shape(v))
            if isinstance(v, np.ndarray):
                m = np.empty(v.shape, dtype=object)
                m.reshape(-1)[:] = [1 + NOISE * MP.mpf(float(t)) for t in w.reshape(-1)]
                out[id(node)] = m
            else:
                out[id(node)] = 1 + NOISE * MP.mpf(float(w))
        return out

    def jacobian(self, xs: Sequence[Any], noise: dict[int, Any] | None = None
                 ) -> tuple[list[Any], list[list[Any]]]:
        """(flat output, J[output][input element]) by central differences at DIFF_DPS."""
        with MP.workdps(DIFF_DPS):
            out, vals = self.run(xs, noise)
            frozen = {id(n): vals[id(n)] for n in self.order if n.op == "stop_gradient"}
            base = flat(out)
            cols = []
            for i, x in enumerate(xs):
                for idx in np.ndindex(*np.shape(x)):
                    pair = []
                    for sign in (1, -1):
                        moved = list(xs)
                        if isinstance(x, np.ndarray):
                            y = x.copy()
                            y[idx] = y[idx] + sign * STEP
                            moved[i] = y
                        else:
                            moved[i] = x + sign * STEP
                        pair.append(flat(self.run(moved, noise, frozen)[0]))
                    cols.append([(p - m) / (2 * STEP) for p, m in zip(*pair, strict=True)])
            jac = [[col[r] for col in cols] for r in range(len(base))]
        return base, jac


class Reference:
    """The reference at one point: value, derivatives, sensitivities and the exclusion, if any."""

    def __init__(self, tree: MpTree, point: Sequence[Any], rng: np.random.Generator) -> None:
        xs = [to_mp(p) for p in point]
        self.watch = Watch()
        with MP.workdps(VALUE_DPS):
            value, _ = tree.run(xs, watch=self.watch)
        self.value = [float(v) for v in flat(value)]
        self.shape = np.shape(value)
        base, jac = tree.jacobian(xs)
        with MP.workdps(DIFF_DPS):
            _, vals = tree.run(xs)
            s_val = [ZERO] * len(base)
            s_jac = [[ZERO] * len(row) for row in jac]
            for _ in range(2):
                noisy_out, noisy_jac = tree.jacobian(xs, tree.noise(vals, rng))
                for r, (a, b) in enumerate(zip(noisy_out, base, strict=True)):
                    s_val[r] = max(s_val[r], abs(a - b) / NOISE)
                for r, (row_n, row) in enumerate(zip(noisy_jac, jac, strict=True)):
                    for c, (a, b) in enumerate(zip(row_n, row, strict=True)):
                        s_jac[r][c] = max(s_jac[r][c], abs(a - b) / NOISE)
        self.jac = np.array([[float(v) for v in row] for row in jac], dtype=float)
        self.s_val = np.array([float(v) for v in s_val])
        self.s_jac = np.array([[float(v) for v in row] for row in s_jac], dtype=float)
        self.scale = float(np.max(np.abs(self.jac), initial=0.0))
        self.atol = ATOL_REL * max(1.0, self.scale)
        self.exclusion = self._exclusion()

    def _exclusion(self) -> str | None:
        if self.watch.boundary < BOUNDARY_DIST:
            return "B"
        if self.watch.kink < KINK_DIST:
            return "K"
        if not self.scale <= BIG_DERIVATIVE or not self.watch.largest < FLOAT_LIMIT:
            return "D"
        worst = LOOSEST * np.maximum(np.abs(self.jac), self.scale) + self.atol
        if np.any(COND_TOL * self.s_jac > worst):
            return "C"
        return None

    def tolerance(self, rtol: float, cond_tol: float = 0.0) -> np.ndarray:
        """Element-wise: rtol*|r| + cond_tol*S + atol (cond_tol*S: the attainable accuracy)."""
        return rtol * np.abs(self.jac) + (cond_tol or COND_TOL) * self.s_jac + self.atol


# ============================================================================================
# Tree generation
# ============================================================================================

DIFFERENTIABLE_ELEMENTWISE = [n for n, p in REGISTRY.items()
                              if p.kind == "elementwise" and p.differentiable and n not in EXCLUDED]
# sign (derivative 0, a kink at 0) keeps its own place in the trees, sign(a)·b: see the generator
UNARY = [n for n in DIFFERENTIABLE_ELEMENTWISE if REGISTRY[n].nargs == 1 and n != "sign"]
BINARY = [n for n in DIFFERENTIABLE_ELEMENTWISE if REGISTRY[n].nargs == 2]
TERNARY = [n for n in DIFFERENTIABLE_ELEMENTWISE if REGISTRY[n].nargs == 3 and n != "where"]
NONDIFF = [n for n, p in REGISTRY.items()
           if p.kind == "elementwise" and not p.differentiable and n not in EXCLUDED] + ["sign"]
STRUCTURAL = [n for n, p in REGISTRY.items() if p.kind == "structural" and n not in EXCLUDED]
ALIASES = {"log": "ln", "maximum": "max", "minimum": "min", "arcsin": "asin", "arccos": "acos",
           "arctan": "atan", "pow": "power"}


def _sq(c: Node) -> Node:
    return E("mul", c, c)


#: transforms that land an arbitrary argument c in a restricted primitive's domain
GUARDS: dict[tuple[str, int], list[Callable[[Node], Node]]] = {
    ("log", 0): [lambda c: E("add", C(1.0), _sq(c)), lambda c: E("exp", c),
                 lambda c: E("cosh", c), lambda c: E("add", C(0.5), E("sigmoid", c))],
    ("sqrt", 0): [lambda c: E("exp", c), lambda c: E("add", C(0.25), _sq(c)),
                  lambda c: E("add", E("softplus", c), C(0.5))],
    ("norm_sqrt", 0): [lambda c: E("exp", c), lambda c: E("add", C(0.25), _sq(c))],
    ("log1p", 0): [_sq, lambda c: E("sub", E("exp", c), C(0.5)),
                   lambda c: E("mul", C(0.9), E("tanh", c))],
    ("arcsin", 0): [lambda c: E("mul", E("tanh", c), C(0.9)),
                    lambda c: E("mul", C(0.9), E("sin", c)),
                    lambda c: E("sub", E("sigmoid", c), C(0.5))],
    ("arccos", 0): [lambda c: E("mul", E("tanh", c), C(0.9)),
                    lambda c: E("mul", C(0.9), E("cos", c))],
    ("tan", 0): [lambda c: E("mul", C(1.2), E("tanh", c)), lambda c: E("sin", c)],
    ("div", 1): [lambda c: E("add", C(1.0), _sq(c)), lambda c: E("exp", c), lambda c: E("cosh", c),
                 lambda c: E("add", C(2.0), E("sin", c)),
                 lambda c: E("neg", E("add", C(1.0), _sq(c)))],
    ("pow", 0): [lambda c: E("add", C(0.5), _sq(c)), lambda c: E("exp", c),
                 lambda c: E("add", C(0.5), E("sigmoid", c))],
    ("pow", 1): [lambda c: E("mul", C(1.5), E("tanh", c)), lambda c: E("mul", C(2.0), E("sin", c))],
    ("exp", 0): [lambda c: E("mul", C(2.0), E("tanh", c)), lambda c: E("sin", c)],
    ("sinh", 0): [lambda c: E("mul", C(2.0), E("tanh", c)), lambda c: E("cos", c)],
    ("cosh", 0): [lambda c: E("mul", C(2.0), E("tanh", c)), lambda c: E("sin", c)],
    ("binary_cross_entropy", 0): [lambda c: E("sigmoid", c),
                                  lambda c: E("add", C(0.05), E("mul", C(0.9), E("sigmoid", c)))],
    ("binary_cross_entropy", 1): [lambda c: E("sigmoid", c), lambda c: C(0.0), lambda c: C(1.0),
                                  lambda c: E("mul", C(0.5), E("add", C(1.0), E("sin", c)))],
}
_POSITIVE = GUARDS[("log", 0)]
_DIVISOR = GUARDS[("div", 1)]
GUARDS.update({
    ("log2", 0): _POSITIVE,
    ("log10", 0): _POSITIVE,
    ("reciprocal", 0): _DIVISOR,
    ("mod", 1): _DIVISOR,
    ("fmod", 1): _DIVISOR,
    ("floor_divide", 1): _DIVISOR,
    ("arccosh", 0): [lambda c: E("add", C(1.5), _sq(c)), lambda c: E("add", C(1.1), E("exp", c)),
                     lambda c: E("add", C(0.5), E("cosh", c))],
    ("arctanh", 0): GUARDS[("arcsin", 0)],
    ("float_power", 0): GUARDS[("pow", 0)],
    ("float_power", 1): GUARDS[("pow", 1)],
    ("exp2", 0): GUARDS[("exp", 0)],
    ("expm1", 0): GUARDS[("exp", 0)],
    # (not a domain: keeps the sign's argument off exact zeros, trunc(−0.2) = −0.0 being common)
    ("copysign", 1): [lambda c: E("add", c, C(0.25)), lambda c: E("sub", c, C(0.375))],
})
#: into (0.5, 3.5): away from the poles of Γ and from its overflow
_GAMMA_ARG = [lambda c: E("add", C(0.5), E("mul", C(3.0), E("sigmoid", c))),
              lambda c: E("add", C(0.75), E("exp", E("mul", C(0.5), E("tanh", c))))]
GUARDS.update({
    ("erfinv", 0): [lambda c: E("mul", C(0.9), E("tanh", c)), lambda c: E("mul", C(0.8), E("sin", c))],
    ("erfcinv", 0): [lambda c: E("add", C(1.0), E("mul", C(0.9), E("tanh", c)))],
    ("logit", 0): GUARDS[("binary_cross_entropy", 0)][1:] + [lambda c: E("sigmoid", c)],
    **{(name, i): _GAMMA_ARG for name, n in (("gamma", 1), ("gammaln", 1), ("digamma", 1),
                                             ("beta", 2), ("betaln", 2)) for i in range(n)},
    ("xlogy", 1): _POSITIVE,
    ("y0", 0): _POSITIVE, ("y1", 0): _POSITIVE,
    **{(name, 0): [lambda c: E("mul", C(3.0), E("tanh", c)), lambda c: E("sin", c)]
       for name in ("i0", "i1", "numpy_i0")},
    ("rgamma", 0): [lambda c: E("mul", C(3.0), E("tanh", c)), lambda c: E("sin", c)],
    ("xlog1py", 1): [lambda c: E("sub", E("exp", c), C(0.5)), lambda c: E("mul", C(0.9), E("tanh", c))],
})

#: arguments that may also be left unguarded (an overflow then counts as a D exclusion)
UNGUARDED_OK = {("exp", 0), ("sinh", 0), ("cosh", 0), ("tan", 0), ("exp2", 0), ("expm1", 0)}

#: known bugs in the current diffkit: variant -> reason. Each variant is an xfail(strict) test of
#: its own, and the other tests stay clear of it (see AVOID). Delete an entry once it is fixed.
KNOWN_BUGS: dict[str, str] = {}  # all six found so far are fixed (their variants still run)
#: variants of a primitive with a test of their own (each found a bug, since fixed)
VARIANTS = ("where[float-cond]", "where[negated]", "roll[unsorted-axes]", "compiled[slices]",
            "amax[exact-ties]", "exp-overflow[symbolic]")
#: how the other tests stay clear of each variant while it is a known bug: "generate" keeps it
#: out of their trees; an engine name skips just that engine (reverse#3: the compiled third
#: call) in the cases that trigger it, counted as X, while the other engines are still checked
AVOID = {"where[float-cond]": "generate", "roll[unsorted-axes]": "generate",
         "where[negated]": "reverse#3", "compiled[slices]": "reverse#3",
         "amax[exact-ties]": "symbolic", "exp-overflow[symbolic]": "symbolic"}


class Generator:
    """Shared machinery of the scalar and array generators: leaves, guards, element-wise nodes."""

    def __init__(self, rng: np.random.Generator, shapes: Sequence[tuple[int, ...]],
                 disabled: set[str]) -> None:
        self.rng = rng
        self.shapes = list(shapes)
        self.intervals = [(-2.0, 2.0) for _ in shapes]
        self.inputs = [Node("input", value=i, shape=tuple(s)) for i, s in enumerate(shapes)]
        self.disabled = disabled

    def chance(self, p: float) -> bool:
        return bool(self.rng.random() < p)

    def pick(self, items: Sequence[Any]) -> Any:
        return items[int(self.rng.integers(len(items)))]

    def const(self, shape: tuple[int, ...] = (), exact: bool = False) -> Node:
        """A constant; of the given shape when exact, else sometimes a broadcasting scalar."""
        if shape and (exact or self.chance(0.7)):
            return C(np.round(self.rng.uniform(-2.0, 2.0, size=shape), 3))
        v = float(np.round(self.rng.uniform(-2.0, 2.0), 3)) or 0.5
        return C(self.pick([v, v, 0.5, 2.0, -1.0, 3.0]))

    def raw_input(self, op: str, i: int, want: tuple[int, ...] | None = None) -> Node | None:
        """An input usable as argument i of op, its sampling interval narrowed to op's domain."""
        lo, hi = REGISTRY[op].domain[i]
        order = self.rng.permutation(len(self.inputs))
        for j in order:
            if want is not None and self.inputs[j].shape != want:
                continue
            a, b = self.intervals[j]
            a, b = max(a, lo), min(b, hi)
            if b - a >= 0.2:
                self.intervals[j] = (a, b)
                return self.inputs[j]
        return None

    def guard(self, op: str, i: int, child: Node) -> Node:
        guards = GUARDS.get((op, i))
        if guards is None or ((op, i) in UNGUARDED_OK and self.chance(0.4)):
            return child
        return self.pick(guards)(child)

    def elementwise(self, op: str, children: Sequence[Node]) -> Node:
        """op applied to children (already guarded), with a random spelling."""
        style = "op" if op in _OPERATORS and self.chance(0.5) else "call"
        alias = ALIASES.get(op) if style == "call" and self.chance(0.3) else None
        return Node(op, children, style=style, alias=alias, caret=self.chance(0.5))

    def point(self) -> list[Any]:
        out: list[Any] = []
        for (lo, hi), s in zip(self.intervals, self.shapes, strict=True):
            v = self.rng.uniform(lo, hi, size=s)
            out.append(float(v) if s == () else v)
        return out


class ScalarGenerator(Generator):
    """Scalar trees over the element-wise primitives, with a forced focus primitive."""

    def __init__(self, rng: np.random.Generator, focus: str, disabled: set[str]) -> None:
        n = int(rng.integers(1, 4))
        super().__init__(rng, [()] * n, disabled)
        self.focus = focus
        self.ops = [o for o in (*UNARY, *BINARY, *TERNARY, "where", *NONDIFF)
                    if o not in disabled]
        weights = np.array([1.0 if o in UNARY or o in BINARY or o in TERNARY else 0.4
                            for o in self.ops])
        self.weights = weights / weights.sum()

    def tree(self) -> Node:
        for _ in range(100):
            self.intervals = [(-2.0, 2.0) for _ in self.inputs]
            depth = int(self.rng.choice([2, 3, 4, 5], p=[0.3, 0.35, 0.25, 0.1]))
            at_root = self.focus == "where[negated]"
            root = self.expr(depth, force=0 if at_root else int(self.rng.integers(0, depth)))
            ops = nodes_of(root)
            if (has_focus(ops, self.focus) and acceptable(ops, self.disabled)
                    and any(n.op == "input" for n in ops)):
                return root
        raise RuntimeError(f"no tree with {self.focus}")

    def boolean(self, op: str, sub: Callable[[int], Node], depth: int) -> Node:
        """where(op(conditions), a, b): a boolean ufunc as a where-condition. Its arguments are
        comparisons (always for the bitwise ones, which need booleans) or numbers (NumPy's
        truth)."""
        n = REGISTRY[op].nargs
        args = []
        for k in range(n):
            u = sub(k)
            if op not in NUMERIC_BOOLEAN or (op.startswith("logical") and self.chance(0.5)):
                u = E(self.pick(COMPARISONS), u, self.const()) if self.chance(0.5) else E(
                    self.pick(COMPARISONS), self.const(), u)
            args.append(u)
        return E("where", E(op, *args), sub(n), sub(n + 1))

    def leaf(self) -> Node:
        if self.chance(0.15):
            return self.const()
        return self.pick(self.inputs)

    def expr(self, depth: int, force: int | None = None) -> Node:
        """A subtree; force: the focus goes this many levels further down (None: not here)."""
        if force == 0:
            return self.apply(self.focus, depth, None)
        if force is None and (depth <= 0 or self.chance(0.3)):
            return self.leaf()
        op = str(self.rng.choice(self.ops, p=self.weights))
        return self.apply(op, depth, None if force is None else force - 1)

    def arg(self, op: str, i: int, depth: int, force: int | None) -> Node:
        """Argument i of op: a raw input inside op's domain, or a guarded subtree."""
        if force is None and (op, i) in GUARDS and self.chance(0.3):
            raw = self.raw_input(op, i)
            if raw is not None:
                return raw
        child = self.expr(depth - 1, force)
        return self.guard(op, i, child) if (op, i) in GUARDS else child

    def apply(self, op: str, depth: int, force: int | None) -> Node:
        """op at this node; a pending focus goes to one random child."""
        if op == "where[negated]":
            w = self.apply("where", depth - 1, None)
            how = self.pick(["neg", "sub", "mul"])
            if how == "neg":
                return self.elementwise("neg", [w])
            if how == "sub":
                return self.elementwise("sub", [self.expr(depth - 1), w])
            return self.elementwise("mul", [C(-1.0), w])
        if op.startswith("where") or op in COMPARISONS:
            n_children = 3
        elif op in UNARY or op == "stop_gradient":
            n_children = 1
        elif op in BOOLEAN:  # the condition's arguments, then where's two branches
            n_children = REGISTRY[op].nargs + 2
        elif op in TERNARY:
            n_children = 3
        else:
            n_children = 2
        carry: list[int | None] = [None] * n_children
        if force is not None:
            carry[int(self.rng.integers(n_children))] = force

        def sub(k: int) -> Node:
            return self.expr(depth - 1, carry[k])

        if op.startswith("where") or op in COMPARISONS:
            float_cond = op == "where[float-cond]" or (
                op == "where" and "where[float-cond]" not in self.disabled and self.chance(0.3))
            if float_cond:
                raw = self.raw_input("where", 0) if carry[0] is None and self.chance(0.5) else None
                cond = raw or sub(0)
            else:
                cmp = op if op in COMPARISONS else self.pick(COMPARISONS)
                u = sub(0)
                r = self.rng.random()
                v = u if r < 0.15 else (self.const() if r < 0.45 else self.expr(depth - 1))
                cond = E(cmp, u, v) if self.chance(0.5) else E(cmp, v, u)
            return E("where", cond, sub(1), sub(2))
        if op in BOOLEAN:
            return self.boolean(op, sub, depth)
        if op == "sign":
            return self.elementwise(self.pick(["mul", "add"]), [E("sign", sub(0)), sub(1)])
        if op == "stop_gradient":
            return E("stop_gradient", sub(0))
        if op == "pow" and self.chance(0.3):  # integer exponent: any base, negative included
            base = self.expr(depth - 1, carry[0] if carry[0] is not None else carry[1])
            return self.elementwise("pow", [base, C(self.pick([2.0, 3.0]))])
        if op in ("maximum", "minimum") and self.chance(0.1):  # an exact, structural tie
            u = self.expr(depth - 1, carry[0] if carry[0] is not None else carry[1])
            return self.elementwise(op, [u, u])
        return self.elementwise(op, [self.arg(op, i, depth, carry[i]) for i in range(n_children)])


def has_focus(nodes: Sequence[Node], focus: str) -> bool:
    """Whether the tree's nodes contain the focus primitive (or variant)."""
    if focus == "where[float-cond]":
        return any(n.op == "where" and n.args[0].op not in COMPARISONS for n in nodes)
    if focus == "where":
        return any(n.op == "where" and n.args[0].op in COMPARISONS for n in nodes)
    if focus == "roll[unsorted-axes]":
        return any(n.op == "roll" and _unsorted(n) for n in nodes)
    if focus == "where[negated]":
        return negated_where(nodes[-1])
    if focus == "exp-overflow[symbolic]":
        return any(n.op in ("sigmoid", "softplus", "softmax_cross_entropy")
                   and any(c.op == "const" and np.ndim(c.value) == 0 and abs(c.value) == LARGE
                           for c in n.args[0].args) for n in nodes)
    if focus == "compiled[slices]":
        return any((n.op in ("getitem", "index_add") and _open_slice(n.params["index"]))
                   or (n.op == "concatenate" and n.params["axis"] % len(n.shape) != 0)
                   for n in nodes)
    if focus == "amax[exact-ties]":
        return any(n.op == "amax" and any(c.op in ("broadcast_to", "concatenate")
                                          for c in n.args[0].args) for n in nodes)
    return any(n.op == focus for n in nodes)


def acceptable(nodes: Sequence[Node], disabled: set[str]) -> bool:
    """Whether a tree avoids every disabled variant that is kept out of the trees."""
    return not any(has_focus(nodes, v) for v in disabled if AVOID.get(v) == "generate")


def triggers(variant: str, nodes: Sequence[Node], ref: Reference) -> bool:
    """Whether a case (tree and reference point) runs into a variant."""
    if variant == "amax[exact-ties]":
        return ref.watch.amax_ties >= 3
    if variant == "exp-overflow[symbolic]":
        return ref.watch.exp_overflow
    return has_focus(nodes, variant)


def _open_slice(index: Any) -> bool:
    items = index if isinstance(index, tuple) else (index,)
    return any(isinstance(i, slice) and i.stop is None and i.step is None for i in items)


def _linear_factors(node: Node) -> list[float | None]:
    """d(node)/d(child) where it is a constant (the same for every element), else None."""
    op, args = node.op, node.args

    def scalar_const(n: Node) -> float | None:
        return float(n.value) if n.op == "const" and np.ndim(n.value) == 0 else None

    if op == "add":
        return [1.0, 1.0]
    if op == "sub":
        return [1.0, -1.0]
    if op == "neg":
        return [-1.0]
    if op == "mul":
        return [scalar_const(args[1]), scalar_const(args[0])]
    if op == "div":
        c = scalar_const(args[1])
        return [None if not c else 1.0 / c, None]
    if op in ("sum", "reshape", "transpose", "roll", "concatenate"):
        return [1.0] * len(args)
    if op == "mean":
        return [node.size / args[0].size]
    if op == "broadcast_to":
        return [node.size / args[0].size]
    return [None] * len(args)


def negated_where(root: Node) -> bool:
    """Whether some where node's adjoint is the constant -1 (reached from the output through
    sums, negations and products with constants only)."""
    order = nodes_of(root)
    adj: dict[int, float | None] = {id(n): 0.0 for n in order}
    adj[id(root)] = 1.0
    for node in reversed(order):
        a = adj[id(node)]
        for child, f in zip(node.args, _linear_factors(node), strict=True):
            b = adj[id(child)]
            adj[id(child)] = None if a is None or f is None or b is None else b + a * f
    return any(n.op == "where" and adj[id(n)] == -1.0 for n in order)


def _unsorted(node: Node) -> bool:
    axis = node.params.get("axis")
    if not isinstance(axis, tuple):
        return False
    nd = len(node.args[0].shape)
    norm = [a % nd for a in axis]
    return norm != sorted(norm)


# ----- array trees -------------------------------------------------------------------------------

MAX_SIZE = 16
LARGE = 750.0  # an argument whose exp overflows float64
ARRAY_SHAPES = [(3,), (2, 3), (2, 2)]


def _factor_shapes(size: int) -> list[tuple[int, ...]]:
    out = [(size,)]
    for a in range(1, size + 1):
        if size % a == 0:
            out.append((a, size // a))
            for b in range(1, size // a + 1):
                if (size // a) % b == 0 and a * b > 1 and size // (a * b) > 1:
                    out.append((a, b, size // (a * b)))
    return out


def _conv_configs() -> list[dict[str, Any]]:
    """Small im2col configurations whose patches fit MAX_SIZE elements."""
    out = []
    for n in (1, 2):
        for c in (1, 2):
            for h in (1, 2, 3, 4):
                for w in (1, 2, 3, 4):
                    if n * c * h * w > 12:
                        continue
                    for kh in (1, 2, 3):
                        for kw in (1, 2, 3):
                            for s in (1, 2):
                                for p in (0, 1):
                                    oh, ow = _conv_size(h, kh, s, p), _conv_size(w, kw, s, p)
                                    if oh < 1 or ow < 1 or n * oh * ow * c * kh * kw > MAX_SIZE:
                                        continue
                                    ks: Any = kh if kh == kw else (kh, kw)
                                    out.append({"image": (n, c, h, w), "kernel_size": ks,
                                                "stride": s, "padding": p,
                                                "cols": (n, oh, ow, c * kh * kw)})
    return out


CONV_CONFIGS = _conv_configs()


class ArrayGenerator(Generator):
    """Array trees grown bottom-up: every step applies an operation to nodes of the pool."""

    def __init__(self, rng: np.random.Generator, focus: str, disabled: set[str],
                 vector: bool) -> None:
        n = int(rng.integers(1, 4))
        shapes = [(() if rng.random() < 0.1 else ARRAY_SHAPES[int(rng.integers(3))])
                  for _ in range(n)]
        if all(s == () for s in shapes):
            shapes[0] = (3,)
        super().__init__(rng, shapes, disabled)
        self.focus = focus
        self.vector = vector
        self.pool: list[Node] = list(self.inputs)
        self.used: set[int] = set()
        self.unary = [o for o in UNARY if o not in disabled]
        self.binary = [o for o in (*BINARY, *TERNARY) if o not in disabled]
        self.structural = [o for o in STRUCTURAL if o not in disabled]

    # -- helpers
    def take(self, cond: Callable[[Node], bool] = lambda n: True) -> Node | None:
        """A pool node satisfying cond, recent ones preferred."""
        cands = [n for n in self.pool if cond(n) and n.size <= MAX_SIZE]
        if not cands:
            return None
        w = np.arange(1, len(cands) + 1, dtype=float) ** 2
        return cands[int(self.rng.choice(len(cands), p=w / w.sum()))]

    def add(self, node: Node) -> Node:
        for c in node.args:
            self.used.add(id(c))
        self.pool.append(node)
        return node

    def S(self, op: str, args: Sequence[Node], out_shape: tuple[int, ...], style: str = "call",
          **params: Any) -> Node:
        """A structural node with its output shape and dk keyword parameters."""
        return Node(op, args, params=params, shape=tuple(out_shape), style=style)

    def reshape(self, x: Node, shape: tuple[int, ...]) -> Node:
        return x if x.shape == tuple(shape) else self.S("reshape", [x], shape, shape=tuple(shape))

    def partner(self, a: Node) -> Node:
        """Another argument for an element-wise operation on a: a itself, a constant, or a pool
        node that broadcasts with it."""
        r = self.rng.random()
        if r < 0.15:
            return a
        if r < 0.35:
            return self.const(a.shape if self.chance(0.5) else ())
        cands = [n for n in self.pool if n.size <= MAX_SIZE and self._broadcasts(a.shape, n.shape)]
        if cands:
            return self.pick(cands)
        return self.const(a.shape)

    @staticmethod
    def _broadcasts(s: tuple[int, ...], t: tuple[int, ...]) -> bool:
        try:
            return math.prod(np.broadcast_shapes(s, t)) <= MAX_SIZE
        except ValueError:
            return False

    def guarded_arg(self, op: str, i: int, x: Node) -> Node:
        if (op, i) in GUARDS and x.op == "input" and self.chance(0.4):
            raw = self.raw_input(op, i, want=x.shape)
            if raw is not None:
                return raw
        return self.guard(op, i, x)

    # -- element-wise steps
    def step_unary(self, op: str | None = None) -> Node | None:
        x = self.take()
        op = op or self.pick(self.unary)
        return self.elementwise(op, [self.guarded_arg(op, 0, x)])

    def step_binary(self, op: str | None = None) -> Node | None:
        a = self.take()
        op = op or self.pick(self.binary)
        if op == "pow" and self.chance(0.3):
            return self.elementwise("pow", [a, C(self.pick([2.0, 3.0]))])
        b = self.partner(a)
        args = [a, b] if self.chance(0.6) else [b, a]
        if all(x.op == "const" for x in args):
            args[0] = a
        if op in TERNARY:
            c = self.partner(a)
            args.append(c if self._broadcasts(np.broadcast_shapes(a.shape, b.shape), c.shape)
                        else self.const())
        return self.elementwise(op, [self.guarded_arg(op, i, x) for i, x in enumerate(args)])

    def step_where(self, float_cond: bool = False) -> Node | None:
        a = self.take()
        b = self.partner(a)
        if float_cond or ("where[float-cond]" not in self.disabled and self.chance(0.3)):
            cond = self.partner(a)
        else:
            u = self.partner(a)
            cmp = self.pick(COMPARISONS)
            cond = E(cmp, a, u) if self.chance(0.5) else E(cmp, u, self.const())
        return E("where", cond, a, b) if self.chance(0.5) else E("where", cond, b, a)

    def step_stop_gradient(self) -> Node | None:
        a, b = self.take(), self.take()
        if not self._broadcasts(a.shape, b.shape):
            b = a
        return self.elementwise("mul", [E("stop_gradient", b), a])

    def step_astype(self) -> Node | None:
        """x·mask with the mask a comparison with a constant cast to floats, x·n with n a multiple
        of x cast to integers (both constants to the derivative), or a cast to the same type (no
        node at all)."""
        a = self.take()
        r = self.rng.random()
        if r < 0.5:
            cmp = E(self.pick(COMPARISONS), a, self.const(a.shape if self.chance(0.5) else ()))
            cast = self.S("astype", [cmp], cmp.shape, dtype="float64")
        elif r < 0.8:
            cast = self.S("astype", [E("mul", C(2.5), a)], a.shape, dtype="int64")
        else:
            return self.S("astype", [a], a.shape, dtype="float64")
        return self.elementwise("mul", [cast, a])

    def step_sign(self) -> Node | None:
        a, b = self.take(), self.take()
        if not self._broadcasts(a.shape, b.shape):
            b = a
        return E("mul", E("sign", b), a)

    # -- structural steps
    def step_reduce(self, op: str) -> Node | None:
        x = self.take(lambda n: n.ndim >= 1)
        if x is None:
            return None
        r = self.rng.random()
        if r < 0.3:
            axis: Any = None
        elif r < 0.75 or x.ndim == 1:
            axis = int(self.rng.integers(-x.ndim, x.ndim))
        else:
            axis = tuple(int(a) for a in self.rng.choice(x.ndim, size=2, replace=False))
            axis = tuple(a - x.ndim if self.chance(0.3) else a for a in axis)
        keepdims = self.chance(0.4)
        params: dict[str, Any] = {"keepdims": keepdims}
        if axis is not None or self.chance(0.5):
            params["axis"] = axis
        shape = np.sum(np.zeros(x.shape), axis=axis, keepdims=keepdims).shape
        style = "numpy" if op in ("amin", "prod") and self.chance(0.5) else "call"
        return self.S(op, [x], shape, style=style, **params)

    def _one_axis(self, x: Node, none_ok: bool = True) -> dict[str, Any]:
        """{"axis": a} for an operation along one axis (None: the flattened array), or {}."""
        r = self.rng.random()
        if r < 0.25 and none_ok:
            return {"axis": None}
        if r < 0.4 or x.ndim == 0:
            return {}
        return {"axis": int(self.rng.integers(-x.ndim, x.ndim))}

    def step_cumulative(self, op: str) -> Node | None:
        x = self.take()
        params = self._one_axis(x)
        if x.ndim == 0 or "axis" not in params:
            params = {"axis": params.get("axis")} if x.ndim <= 1 else {"axis": None}
        shape = getattr(np, op)(np.zeros(x.shape), **params).shape
        style = "numpy" if self.chance(0.5) else "call"
        return self.S(op, [x], shape, style=style, **params)

    def step_cumsum(self) -> Node | None:
        return self.step_cumulative("cumsum")

    def step_cumprod(self) -> Node | None:
        return self.step_cumulative("cumprod")

    def step_sort(self) -> Node | None:
        x = self.take(lambda n: n.ndim >= 1)
        if x is None:
            return None
        params = self._one_axis(x)
        shape = np.sort(np.zeros(x.shape), **params).shape
        style = "numpy" if self.chance(0.5) else "call"
        return self.S("sort", [x], shape, style=style, **params)

    def step_partition(self) -> Node | None:
        x = self.take(lambda n: n.ndim >= 1)
        if x is None:
            return None
        params = self._one_axis(x)
        n = x.size if params.get("axis", -1) is None else x.shape[params.get("axis", -1)]
        kth: Any = int(self.rng.integers(-n, n))
        if n >= 3 and self.chance(0.3):
            kth = (0, int(self.rng.integers(1, n)))
        shape = np.partition(np.zeros(x.shape), kth, **params).shape
        style = "numpy" if self.chance(0.5) else "call"
        return self.S("partition", [x], shape, style=style, kth=kth, **params)

    def step_open_slice(self) -> Node | None:
        """x[:, j] or a concatenation along the last axis of a matrix."""
        x = self.take(lambda n: n.ndim == 2)
        if x is None:
            return None
        if self.chance(0.5):
            j = int(self.rng.integers(x.shape[1]))
            return self.S("getitem", [x], (x.shape[0],), style="op" if self.chance(0.5) else "call",
                          index=(slice(None), j))
        return self.S("concatenate", [x, E("sin", x)], (x.shape[0], 2 * x.shape[1]),
                      axis=self.pick([1, -1]))

    def step_large_argument(self) -> Node | None:
        """sigmoid, softplus or softmax_cross_entropy of arguments beyond 709 in magnitude."""
        x = self.take()
        op = self.pick(["sigmoid", "softplus", "softmax_cross_entropy"])
        if op == "sigmoid":
            return E("sigmoid", E("sub", C(-LARGE), _sq(x)))
        if op == "softplus":
            return E("softplus", E("add", C(LARGE), _sq(x)))
        z = self.reshape(x, (x.size,)) if x.ndim == 0 else x
        if z.shape[-1] < 2:
            z = self.S("broadcast_to", [z], (*z.shape[:-1], 2), shape=(*z.shape[:-1], 2))
        t = C(np.full(z.shape, 1.0 / z.shape[-1]))
        return self.S("softmax_cross_entropy", [E("add", C(LARGE), z), t], z.shape[:-1])

    def step_amax_ties(self) -> Node | None:
        """amax over three equal entries computed separately: f(copies of x)."""
        x = self.take(lambda n: n.size <= 2)  # SymPy's Max of many compound entries is slow
        if x is None:
            return None
        k = 3
        if x.ndim == 0 or self.chance(0.5):
            copies = self.S("broadcast_to", [x], (k, *x.shape), shape=(k, *x.shape))
            axis: Any = 0 if self.chance(0.5) else None
        else:
            copies = self.S("concatenate", [x] * k, (k * x.shape[0], *x.shape[1:]), axis=0)
            axis = None
        f = self.pick([lambda c: E("sin", c), lambda c: E("add", c, C(1.0)),
                       lambda c: E("mul", c, C(-1.5)), lambda c: E("tanh", c)])
        entries = f(copies)
        shape = np.max(np.zeros(entries.shape), axis=axis).shape
        return self.S("amax", [entries], shape, axis=axis)

    def step_reshape(self) -> Node | None:
        x = self.take(lambda n: n.size >= 2)
        if x is None:
            return None
        options = [s for s in _factor_shapes(x.size) if s != x.shape]
        shape = list(self.pick(options))
        if self.chance(0.3):
            shape[int(self.rng.integers(len(shape)))] = -1
        out = np.reshape(np.zeros(x.shape), shape).shape
        return self.S("reshape", [x], out, shape=tuple(shape))

    def step_transpose(self) -> Node | None:
        x = self.take(lambda n: n.ndim >= 2)
        if x is None:
            return None
        if self.chance(0.4):
            shape = x.shape[::-1]
            return self.S("transpose", [x], shape, style="op" if self.chance(0.5) else "call")
        perm = [int(a) for a in self.rng.permutation(x.ndim)]
        perm = [a - x.ndim if self.chance(0.2) else a for a in perm]
        out = np.transpose(np.zeros(x.shape), perm).shape
        return self.S("transpose", [x], out, axes=tuple(perm))

    def step_broadcast_to(self) -> Node | None:
        x = self.take(lambda n: 2 * n.size <= MAX_SIZE)
        if x is None:
            return None
        if 1 in x.shape and self.chance(0.6):
            shape = tuple(3 if d == 1 and self.chance(0.7) else d for d in x.shape)
            if shape == x.shape:
                shape = (2, *x.shape)
        else:
            shape = (2, *x.shape)
        return self.S("broadcast_to", [x], shape, shape=shape)

    def _index(self, shape: tuple[int, ...]) -> Any:
        n0 = shape[0]
        kinds = ["int", "slice", "array", "list", "mask"]
        if len(shape) >= 2:
            kinds += ["slice-int", "slice-array", "pair", "ellipsis", "int-slice"]
        kind = self.pick(kinds)
        rng = self.rng
        if kind == "int":
            return int(rng.integers(-n0, n0))
        if kind == "slice":
            start = self.pick([None, 0, 1, -2])
            stop = self.pick([None, n0, -1, 2])
            step = self.pick([None, 1, 2, -1])
            return slice(start, stop, step)
        if kind == "array":
            return np.array(rng.integers(-n0, n0, size=int(rng.integers(1, 5))))
        if kind == "list":
            return [int(i) for i in rng.integers(0, n0, size=int(rng.integers(1, 4)))]
        if kind == "mask":
            mask = rng.random(n0) < 0.6
            mask[int(rng.integers(n0))] = True
            return mask
        n1 = shape[1]
        if kind == "slice-int":
            return (slice(None), int(rng.integers(-n1, n1)))
        if kind == "slice-array":
            return (slice(None), np.array(rng.integers(0, n1, size=int(rng.integers(1, 4)))))
        if kind == "pair":
            k = int(rng.integers(1, 4))
            return (np.array(rng.integers(0, n0, size=k)), np.array(rng.integers(-n1, n1, size=k)))
        if kind == "ellipsis":
            return (Ellipsis, int(rng.integers(0, shape[-1])))
        return (int(rng.integers(0, n0)), slice(None, None, self.pick([1, -1])))

    def step_getitem(self) -> Node | None:
        x = self.take(lambda n: n.ndim >= 1)
        if x is None:
            return None
        index = self._index(x.shape)
        shape = np.zeros(x.shape)[index].shape
        if math.prod(shape) == 0:
            return None
        style = "op" if self.chance(0.5) else "call"
        return self.S("getitem", [x], shape, style=style, index=index)

    def step_index_add(self) -> Node | None:
        v = self.take(lambda n: n.size <= 12)
        if v is None:
            return None
        if v.ndim == 0:
            target: tuple[int, ...] = self.pick([(3,), (2, 2)])
            index: Any = tuple(int(self.rng.integers(0, d)) for d in target)
            if len(index) == 1 and self.chance(0.5):
                index = index[0]
        else:
            extra = int(self.rng.integers(0, 2))
            target = (v.shape[0] + extra, *v.shape[1:])
            r = self.rng.random()
            if r < 0.6:
                index = np.array(self.rng.integers(0, target[0], size=v.shape[0]))
                if v.shape[0] >= 2 and self.chance(0.5):
                    index[1] = index[0]  # a repeated index accumulates
                index = (index,) if self.chance(0.5) else index
            elif r < 0.8 or v.ndim < 2:
                index = (slice(extra, None),)
            else:
                target = (v.shape[0], v.shape[1] + extra, *v.shape[2:])
                index = (slice(None), np.array(self.rng.integers(0, target[1], size=v.shape[1])))
        if np.zeros(target)[index].shape != v.shape:
            return None
        return self.S("index_add", [v], target, index=index, shape=target)

    def step_concatenate(self) -> Node | None:
        a = self.take(lambda n: n.ndim >= 1 and 2 * n.size <= MAX_SIZE)
        if a is None:
            return None
        axis = int(self.rng.integers(-a.ndim, a.ndim))
        ax = axis % a.ndim
        parts = [a]
        for _ in range(int(self.rng.integers(1, 3))):
            cands = [n for n in self.pool if n.ndim == a.ndim and all(
                d == e for k, (d, e) in enumerate(zip(n.shape, a.shape, strict=True)) if k != ax)]
            r = self.rng.random()
            if r < 0.5 and cands:
                parts.append(self.pick(cands))
            elif r < 0.75:
                parts.append(self.elementwise(self.pick(["sin", "exp", "tanh", "neg"]), [a]))
            else:
                parts.append(a)
        shape = list(a.shape)
        shape[ax] = sum(p.shape[ax] for p in parts)
        if math.prod(shape) > MAX_SIZE:
            parts = parts[:2]
            shape[ax] = sum(p.shape[ax] for p in parts)
        return self.S("concatenate", parts, tuple(shape), axis=axis)

    def step_roll(self) -> Node | None:
        want_unsorted = self.focus == "roll[unsorted-axes]"
        x = self.take(lambda n: n.ndim >= (2 if want_unsorted else 1))
        if x is None:
            return None
        r = self.rng.random()
        if r < 0.3 and not want_unsorted:
            params: dict[str, Any] = {"shift": int(self.rng.integers(-4, 5))}
        elif (r < 0.7 or x.ndim < 2) and not want_unsorted:
            params = {"shift": int(self.rng.integers(-4, 5)),
                      "axis": int(self.rng.integers(-x.ndim, x.ndim))}
        else:
            axes = [int(a) for a in self.rng.choice(x.ndim, size=2, replace=False)]
            if want_unsorted:
                axes.sort(reverse=True)
            elif "roll[unsorted-axes]" in self.disabled:
                axes.sort()
            axes = [a - x.ndim if self.chance(0.2) else a for a in axes]
            shift = [int(t) for t in self.rng.integers(-3, 4, size=2)]
            if want_unsorted and x.shape[axes[0]] > 1 and shift[0] % x.shape[axes[0]] == 0:
                shift[0] = 1
            params = {"shift": tuple(shift), "axis": tuple(axes)}
        return self.S("roll", [x], x.shape, **params)

    def step_matmul(self) -> Node | None:
        a = self.take(lambda n: 1 <= n.ndim <= 2)
        if a is None:
            return None
        k = a.shape[-1]
        cands = [n for n in self.pool if 1 <= n.ndim <= 2 and n.shape[0] == k]
        r = self.rng.random()
        if r < 0.45 and cands:
            b = self.pick(cands)
        elif r < 0.7 and a.ndim == 2:
            b = self.S("transpose", [a], a.shape[::-1], style="op")
        elif r < 0.85:
            b = a if a.ndim == 1 else self.const((k, int(self.rng.integers(1, 4))), exact=True)
        else:
            b = self.const((k,) if self.chance(0.5) else (k, 2), exact=True)
        shape = np.matmul(np.zeros(a.shape), np.zeros(b.shape)).shape
        if math.prod(shape) > MAX_SIZE:
            return None
        args = [a, b]
        if self.chance(0.3) and b.ndim == 2 and a.ndim == 2 and b.op != "const":
            args = [b, a] if b.shape[-1] == a.shape[0] else args
        shape = np.matmul(np.zeros(args[0].shape), np.zeros(args[1].shape)).shape
        return self.S("matmul", args, shape, style="op" if self.chance(0.4) else "call")

    def step_linear(self) -> Node | None:
        x = self.take(lambda n: 1 <= n.ndim <= 2)
        if x is None:
            return None
        i = x.shape[-1]
        o = int(self.rng.integers(1, 4))
        ws = [n for n in self.pool if n.size == o * i]
        w = (self.reshape(self.pick(ws), (o, i)) if ws and self.chance(0.7)
             else self.const((o, i), exact=True))
        bs = [n for n in self.pool if n.shape == (o,)]
        b = self.pick(bs) if bs and self.chance(0.7) else self.const((o,), exact=True)
        if b.op == "const" and self.chance(0.5):
            sel = self.take(lambda n: n.ndim >= 1 and n.shape[-1] >= 1)
            if sel is not None and sel.ndim == 1:
                idx = np.array(self.rng.integers(0, sel.shape[0], size=o))
                b = self.S("getitem", [sel], (o,), index=idx)
        shape = (*x.shape[:-1], o)
        if math.prod(shape) > MAX_SIZE:
            return None
        return self.S("linear", [x, w, b], shape)

    def step_softmax_cross_entropy(self) -> Node | None:
        z = self.take(lambda n: n.ndim >= 1 and n.shape[-1] >= 2)
        if z is None:
            return None
        r = self.rng.random()
        if r < 0.4:
            t = E("sigmoid", z)
        elif r < 0.7:
            same = [n for n in self.pool if n.shape == z.shape]
            t = E("sigmoid", self.pick(same))
        else:
            p = self.rng.random(z.shape) + 0.1
            t = C(np.round(p / p.sum(axis=-1, keepdims=True), 4))
        return self.S("softmax_cross_entropy", [z, t], z.shape[:-1])

    def step_softmax_cross_entropy_grad(self) -> Node | None:
        z = self.take(lambda n: n.ndim >= 1 and n.shape[-1] >= 2)
        if z is None:
            return None
        p = self.rng.random(z.shape) + 0.1
        t = C(np.round(p / p.sum(axis=-1, keepdims=True), 4))
        return self.S("softmax_cross_entropy_grad", [z, t], z.shape)

    def step_im2col(self) -> Node | None:
        sizes = {math.prod(c["image"]) for c in CONV_CONFIGS}
        x = self.take(lambda n: n.size in sizes)
        if x is None:
            return None
        cfg = self.pick([c for c in CONV_CONFIGS if math.prod(c["image"]) == x.size])
        img = self.reshape(x, cfg["image"])
        return self.S("im2col", [img], cfg["cols"], kernel_size=cfg["kernel_size"],
                      stride=cfg["stride"], padding=cfg["padding"])

    def step_col2im(self) -> Node | None:
        sizes = {math.prod(c["cols"]) for c in CONV_CONFIGS}
        x = self.take(lambda n: n.size in sizes)
        if x is None:
            return None
        cfg = self.pick([c for c in CONV_CONFIGS if math.prod(c["cols"]) == x.size])
        cols = self.reshape(x, cfg["cols"])
        return self.S("col2im", [cols], cfg["image"], kernel_size=cfg["kernel_size"],
                      stride=cfg["stride"], padding=cfg["padding"], shape=cfg["image"])

    def step(self, op: str) -> Node | None:
        """One operation (a primitive, a variant, "unary" or "binary") on nodes of the pool."""
        special: dict[str, Callable[[], Node | None]] = {
            "unary": self.step_unary, "binary": self.step_binary,
            "where[float-cond]": lambda: self.step_where(float_cond=True),
            "roll[unsorted-axes]": self.step_roll, "compiled[slices]": self.step_open_slice,
            "amax[exact-ties]": self.step_amax_ties,
            "exp-overflow[symbolic]": self.step_large_argument,
        }
        if op in special:
            return special[op]()
        if op in ("sum", "mean", "amax", "amin", "prod"):
            return self.step_reduce(op)
        return getattr(self, f"step_{op}")()

    def tree(self) -> Node:
        choices = ["unary", "binary", "unary", "binary", "where", "sign", "stop_gradient",
                   *self.structural]
        for _ in range(200):  # (a focus that needs a matrix may wait for one in the pool)
            self.pool = list(self.inputs)
            self.used = set()
            self.intervals = [(-2.0, 2.0) for _ in self.inputs]
            n_steps = int(self.rng.integers(2, 4))
            at = int(self.rng.integers(n_steps))
            for k in range(n_steps):
                for _ in range(10):
                    node = self.step(self.focus if k == at else self.pick(choices))
                    if node is not None and node.size <= 2 * MAX_SIZE:
                        self.add(node)
                        break
            root = self.output()
            ops = nodes_of(root)
            if has_focus(ops, self.focus) and acceptable(ops, self.disabled):
                return root
        raise RuntimeError(f"no tree with {self.focus}")

    def output(self) -> Node:
        """A scalar (or, for Jacobian trees, a short vector) from the pool's unused nodes."""
        last = self.pool[-1]
        sinks = ([last] + [n for n in self.pool[len(self.inputs):-1] if id(n) not in self.used])[:3]
        if self.vector:
            parts = []
            for s in sinks[:2]:
                v = self.reshape(s, (s.size,))
                if s.size > 8:
                    v = self.S("getitem", [v], (8,), index=slice(None, 8))
                parts.append(v)
            if len(parts) == 1:
                return parts[0]
            return self.S("concatenate", parts, (sum(p.size for p in parts),), axis=0)
        out: Node | None = None
        for s in sinks:
            term = self.reduce(s)
            if out is None:
                out = term
            else:
                out = self.elementwise("add", [out, self.elementwise("mul", [self.const(), term])])
        assert out is not None
        return out

    def reduce(self, x: Node) -> Node:
        if x.ndim == 0:
            return x
        r = self.rng.random()
        if r < 0.35:
            return self.S("sum", [x], ())
        if r < 0.6:
            return self.S("mean", [x], (), axis=None)
        if r < 0.65:
            return self.S("amax", [x], ())
        if r < 0.85:
            return self.S("sum", [E("mul", x, self.const(x.shape))], ())
        flat_x = self.reshape(x, (x.size,))
        if x.size < 2:
            return self.S("sum", [x], ())
        p = self.rng.random(x.size) + 0.1
        return self.S("softmax_cross_entropy", [flat_x, C(np.round(p / p.sum(), 4))], ())


# ============================================================================================
# Running the engines and comparing
# ============================================================================================

STATS: dict[str, Counter[str]] = {}


def _fmt(a: Any) -> str:
    return np.array2string(np.asarray(a, dtype=float), precision=17, separator=", ",
                           max_line_width=200)


class Checker:
    """Checks one tree at several points, with gradient functions kept across the points."""

    def __init__(self, label: str, root: Node, gen: Generator, doors: list[tuple[str, Any]],
                 symbolic_door: str, vector: bool) -> None:
        self.label = label
        self.root = root
        self.gen = gen
        self.vector = vector
        self.tree = MpTree(root)
        self.doors = doors
        self.calls: dict[tuple[str, str], Any] = {}
        for door, fn in doors:
            for m in EXACT_METHODS:
                if m == "symbolic" and door != symbolic_door:
                    continue
                self.calls[(door, m)] = (dk.jacobian(fn, method=m) if vector
                                         else dk.value_and_grad(fn, method=m))

    def describe(self, point: Sequence[Any]) -> str:
        lines = [f"case {self.label}", f"tree: {to_text(self.root)}",
                 "point: " + ", ".join(f"x{i}={_fmt(p)}" for i, p in enumerate(point))]
        return "\n  ".join(lines)

    def check(self, point: Sequence[Any], ref: Reference, skip: set[str], again: bool) -> list[str]:
        """Every front door's value and every engine's derivative at one point.

        skip: methods not run here; again: call each reverse gradient a second time (its
        third call overall, which runs diffkit's compiled code) and check that too.
        """
        problems: list[str] = []
        want_v = np.array(ref.value)

        def value_ok(v: np.ndarray) -> bool:
            # below the smallest normal float64 (2.2e-308) values are subnormal: fewer digits,
            # and SciPy flushes some to 0 (erfc(27.07) is 1.17e-320, SciPy says 0.0)
            err = np.abs(v.reshape(-1) - want_v)
            return bool(np.all(err <= VALUE_RTOL * np.maximum(np.abs(want_v), ref.s_val)
                               + np.finfo(np.float64).tiny))

        for door, fn in self.doors:
            try:
                v = np.asarray(fn(*point), dtype=float)
            except Exception as exc:  # noqa: BLE001 - a raise inside the domain is a failure
                problems.append(f"{door} value raised {type(exc).__name__}: {exc}")
                continue
            if v.shape != ref.shape:
                problems.append(f"{door} value has shape {v.shape}, reference {ref.shape}")
            elif not value_ok(v):
                cond = ref.s_val / np.maximum(np.abs(want_v), 1e-300)
                problems.append(f"{door} value {_fmt(v)} != reference {_fmt(want_v)} "
                                f"(condition {_fmt(cond)})")
        got: dict[str, np.ndarray] = {}
        runs = [(door, m, call) for (door, m), call in self.calls.items() if m not in skip]
        if again and "reverse#3" not in skip:
            runs += [(door, "reverse#3", call) for door, m, call in runs if m == "reverse"]
        for door, m, call in runs:
            name = f"{door}/{m}"
            try:
                if self.vector:
                    res = np.asarray(call(*point), dtype=float)
                else:
                    value, grads = call(*point)
                    res = np.concatenate([np.reshape(np.asarray(g, dtype=float), -1)
                                          for g in grads]).reshape(1, -1)
                    if not value_ok(np.asarray(value, dtype=float)):
                        problems.append(f"{name} value {value!r} != reference {_fmt(want_v)}")
            except Exception as exc:  # noqa: BLE001
                problems.append(f"{name} raised {type(exc).__name__}: {exc}")
                continue
            if res.shape != ref.jac.shape:
                problems.append(f"{name} derivative shape {res.shape} != {ref.jac.shape}")
                continue
            got[name] = res
            if not np.all(np.abs(res - ref.jac) <= ref.tolerance(GRAD_RTOL)):
                problems.append(f"{name} derivative {_fmt(res)} != reference {_fmt(ref.jac)}")
        names = list(got)
        for i, a in enumerate(names):
            for b in names[i + 1:]:
                if not np.all(np.abs(got[a] - got[b]) <= ref.tolerance(AGREE_RTOL, AGREE_COND_TOL)):
                    problems.append(f"{a} and {b} disagree: {_fmt(got[a])} vs {_fmt(got[b])}")
        if problems:
            return [self.describe(point) + f"\n  reference value {_fmt(want_v)}, derivative "
                    f"{_fmt(ref.jac)}\n  " + "\n  ".join(problems)]
        return []


def run_trees(test: str, make: Callable[[np.random.Generator, int], tuple[Node, Generator, bool]],
              n_trees: int, n_points: int) -> None:
    """Generate and check n_trees trees at n_points points each; fail with every problem."""
    stats: Counter[str] = Counter()
    failures: list[str] = []
    disabled = _disabled(test.split(":", 1)[1])
    for t in range(n_trees):
        rng = np.random.default_rng([SEED, zlib.crc32(test.encode()), t])
        root, gen, vector = make(rng, t)
        names = [f"x{i}" for i in range(len(gen.inputs))]
        doors: list[tuple[str, Any]] = [("function", dk_function(root, len(names)))]
        if not vector and all(s == () for s in gen.shapes) and parseable(root):
            doors.append(("parse", dk.parse(to_text(root), inputs=names)))
        # the symbolic engine on one front door per tree, alternating; on half of the array trees
        # (t % 4 == 3 are the Jacobian ones), as it costs ~0.1 s per array tree
        every = all(s == () for s in gen.shapes) or test.split(":", 1)[1] in VARIANTS
        symbolic_door = doors[t % len(doors)][0] if every or t % 4 in (0, 3) else ""
        if any(n.op in NO_SYMBOLIC for n in nodes_of(root)):
            symbolic_door = ""  # refused by name: checked in tests/test_numpy_reductions.py
        checker = Checker(f"{test} tree {t}", root, gen, doors, symbolic_door, vector)
        nodes = nodes_of(root)
        stats["trees"] += 1
        for k in range(n_points):
            point = gen.point()
            stats["cases"] += 1
            try:
                ref = Reference(checker.tree, point, np.random.default_rng([SEED, t, k]))
            except OutOfDomain:
                stats["R"] += 1
                continue
            if ref.exclusion is not None:
                stats[ref.exclusion] += 1
                continue
            skip = set() if k == 0 else {"symbolic"}  # symbolic derives anew at every point
            avoided = {AVOID[v] for v in disabled if AVOID[v] != "generate"
                       and AVOID[v] not in skip and triggers(v, nodes, ref)}
            stats["X"] += bool(avoided)
            skip |= avoided
            stats["checked"] += 1
            failures += checker.check(point, ref, skip, again=k == n_points - 1)
    STATS[test] = stats
    excluded = sum(stats[k] for k in "KBDCR")
    assert not failures, (f"{len(failures)} failing case(s) of {stats['cases']}:\n"
                          + "\n".join(failures[:6]))
    assert excluded <= MAX_EXCLUDED_FOCUS * stats["cases"], f"too many exclusions: {dict(stats)}"


# ============================================================================================
# Tests
# ============================================================================================


def _disabled(focus: str) -> set[str]:
    return {k for k in KNOWN_BUGS if k != focus}


def _marks(name: str) -> Any:
    if name in KNOWN_BUGS:
        mark = pytest.mark.xfail(strict=True, raises=AssertionError, reason=KNOWN_BUGS[name])
        return pytest.param(name, marks=mark)
    return name


SCALAR_FOCUS = [*UNARY, *BINARY, *TERNARY, "where", "where[float-cond]", "where[negated]",
                *NONDIFF]
ARRAY_FOCUS = [*STRUCTURAL, "roll[unsorted-axes]", "compiled[slices]", "amax[exact-ties]",
               "exp-overflow[symbolic]"]


def test_reference_covers_registry() -> None:
    missing = [n for n in REGISTRY if n not in REFERENCE and n not in EXCLUDED]
    assert not missing, f"primitives without an mpmath reference or an EXCLUDED reason: {missing}"
    stale = [n for n in (*REFERENCE, *EXCLUDED) if n not in REGISTRY]
    assert not stale, f"references for primitives that no longer exist: {stale}"
    assert PARSEABLE, "the parser offers no primitive"
    every = set(SCALAR_FOCUS) | set(ARRAY_FOCUS)
    assert {n.split("[")[0] for n in every} >= set(REGISTRY) - set(EXCLUDED)


def test_reference_sanity() -> None:
    """The reference itself against values known in closed form (so it can be trusted)."""
    mpf = MP.mpf
    assert REFERENCE["sigmoid"](mpf(0)) == mpf("0.5")
    assert abs(REFERENCE["softplus"](mpf(0)) - MP.log(2)) < mpf("1e-45")
    assert REFERENCE["binary_cross_entropy"](mpf(0), mpf(1)) == 100
    assert REFERENCE["pow"](mpf(-2), mpf(3)) == -8
    x = to_mp(np.arange(9.0).reshape(1, 1, 3, 3))
    cols = REFERENCE["im2col"](x, 2, 1, 0)
    assert cols.shape == (1, 2, 2, 4)
    assert [float(v) for v in cols[0, 1, 0]] == [3.0, 4.0, 6.0, 7.0]
    padded = REFERENCE["im2col"](x, 2, 2, 1)
    assert [float(v) for v in padded[0, 0, 0]] == [0.0, 0.0, 0.0, 0.0]
    for cfg in CONV_CONFIGS[::7]:  # col2im is im2col's adjoint: <im2col(x), c> = <x, col2im(c)>
        rng = np.random.default_rng(len(CONV_CONFIGS))
        xi, ci = to_mp(rng.random(cfg["image"])), to_mp(rng.random(cfg["cols"]))
        params = {k: cfg[k] for k in ("kernel_size", "stride", "padding")}
        lhs = MP.fsum(flat(REFERENCE["im2col"](xi, **params) * ci))
        rhs = MP.fsum(flat(xi * REFERENCE["col2im"](ci, shape=cfg["image"], **params)))
        assert abs(lhs - rhs) < mpf("1e-40")
    v = to_mp(np.array([1.0, 2.0, 4.0]))
    added = REFERENCE["index_add"](v, (np.array([0, 2, 0]),), (3,))
    assert [float(t) for t in added] == [5.0, 0.0, 2.0]
    z = to_mp(np.array([0.0, 0.0]))
    xent = REFERENCE["softmax_cross_entropy"](z, to_mp(np.array([1.0, 0.0])))
    assert abs(xent - MP.log(2)) < 1e-45
    rows = REFERENCE["amax"](to_mp(np.array([[1.0, 5.0], [7.0, 2.0]])), 1)
    assert [float(t) for t in rows] == [5, 7]
    x0 = Node("input", value=0, shape=())
    tree = MpTree(E("mul", x0, E("stop_gradient", E("sin", x0))))
    _, jac = tree.jacobian([MP.mpf(0.5)])
    assert abs(jac[0][0] - MP.sin(0.5)) < mpf("1e-45")  # d/dx [x * sg(sin x)] = sin x


def _scalar_maker(focus: str) -> Callable[[np.random.Generator, int], tuple[Node, Generator, bool]]:
    def make(rng: np.random.Generator, t: int) -> tuple[Node, Generator, bool]:
        gen = ScalarGenerator(rng, focus, _disabled(focus))
        return gen.tree(), gen, False
    return make


def _array_maker(focus: str) -> Callable[[np.random.Generator, int], tuple[Node, Generator, bool]]:
    def make(rng: np.random.Generator, t: int) -> tuple[Node, Generator, bool]:
        gen = ArrayGenerator(rng, focus, _disabled(focus), vector=t % 4 == 3)
        return gen.tree(), gen, gen.vector
    return make


def _trees(n: int, focus: str) -> int:
    return round(n * VARIANT_SHARE) if focus in VARIANTS else n


@pytest.mark.parametrize("focus", [_marks(n) for n in SCALAR_FOCUS])
def test_scalar_trees(focus: str) -> None:
    run_trees(f"scalar:{focus}", _scalar_maker(focus), _trees(SCALAR_TREES, focus), POINTS)


@pytest.mark.parametrize("focus", [_marks(n) for n in ARRAY_FOCUS])
def test_array_trees(focus: str) -> None:
    run_trees(f"array:{focus}", _array_maker(focus), _trees(ARRAY_TREES, focus), POINTS)


def test_zz_totals() -> None:
    """Over the whole module (when it ran whole): enough trees, and few exclusions."""
    if len(STATS) < len(SCALAR_FOCUS) + len(ARRAY_FOCUS):
        pytest.skip("only part of the module ran")
    total: Counter[str] = Counter()
    for test, stats in STATS.items():
        if test.split(":", 1)[1] not in VARIANTS:
            total.update(stats)
    print("\nrandom-expression totals (variants' own tests not counted):", dict(total))
    assert total["trees"] >= MIN_TREES
    assert sum(total[k] for k in "KBDCR") <= MAX_EXCLUDED * total["cases"]
