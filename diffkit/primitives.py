"""THE rule table: one record per primitive, read by every engine, the parser, the printers and tests.

Each record (a :class:`~diffkit.primitive.Primitive`) declares in one place how the operation is
evaluated (through the array module ``xp``, so NumPy and CuPy both work), its derivative rules,
its SymPy translation, its names (NumPy, math text, scalar code, listings, LaTeX), its algebraic
unit, its test domain and its values at special points. The record is also the public function:
``dk.sin`` *is* the ``sin`` record below. Adding a primitive means adding one record here; the
engines, the parser, ``from_sympy``, the code generator, the docs and the registry tests read it.

Rules are written with these records and Python operators (``-sin(x)``, ``1.0 / x``): on arrays
they run at NumPy speed, on traced values they record nodes, so rules can be differentiated again.
That is how second derivatives work in every engine.

Values at kinks (the documented convention, shared by every engine): relu′(0) = 0, abs′(0) = 0,
maximum/minimum split the derivative equally at ties (½, ½), ∂(x**y)/∂y = 0 where x = 0,
∂(x**y)/∂x = 0 where y = 0; sqrt′(0) is infinite (an error, unless the incoming derivative is 0).
"""

from __future__ import annotations

import builtins
import math
import operator
from collections.abc import Sequence
from typing import Any

import numpy as np

from .errors import DomainError, ShapeError
from .ir import Traced
from .primitive import IDENTITY, MINUS_ONE, ONE, REGISTRY, Primitive, Rule, bind, register

__all__: list[str] = []  # every record's name, added by _declare


def _declare(p: Primitive) -> Primitive:
    if p.name in REGISTRY:
        raise ValueError(f"primitive {p.name!r} is declared twice")
    __all__.append(p.name)
    return register(p)


def elementwise(name: str, impl: Rule, partials: tuple[Rule | None, ...] | None, sympy: Any, *,
                nargs: int | None = None, symbol: str | None = None, unicode: str | None = None,
                latex: str | None = None, numpy: tuple[str, ...] | None = None,
                aliases: tuple[str, ...] = (),
                parseable: bool = True, scalar: str | None = None,
                unit: tuple[float | None, ...] = (), wirtinger: Rule | None = None,
                domain: tuple[tuple[float, float], ...] | None = None, domain_text: str = "",
                holomorphic: bool = True, special: tuple = (), doc: str = "") -> Primitive:
    """Declare an element-wise primitive from its local partial derivatives."""
    n = nargs or (len(partials) if partials is not None else 1)
    return _declare(Primitive(
        name=name, nargs=n, impl=impl, kind="elementwise", partials=partials, wirtinger=wirtinger,
        differentiable=partials is not None, sympy=sympy,
        numpy=(name,) if numpy is None else numpy, aliases=aliases,
        parseable=parseable and partials is not None, scalar=scalar, symbol=symbol or name,
        unicode=unicode or symbol or name,
        latex=latex if latex is not None else rf"\operatorname{{{name}}}", unit=unit,
        domain=domain or ((-2.0, 2.0),) * n, domain_text=domain_text, holomorphic=holomorphic,
        special=special, doc=doc or f"Element-wise {name} (a primitive: see diffkit.primitives)."))


def structural(name: str, impl: Rule, *, vjp: Rule, jvp: Rule | None = None, linear: bool = False,
               batch: Rule | None = None, nargs: int | None = 1, prepare: Rule | None = None,
               sympy: Any = None, numpy: tuple[str, ...] = (), symbol: str | None = None,
               unicode: str | None = None, latex: str | None = None, cost: Rule | None = None,
               parseable: bool = False, doc: str = "") -> Primitive:
    """Declare a non-element-wise primitive: linear (its transpose as ``vjp``, and a ``batch`` rule)
    or not (a batched ``jvp`` and a ``vjp``). Without ``sympy``, the SymPy translation is ``impl``
    run on NumPy object arrays of SymPy expressions."""
    return _declare(Primitive(
        name=name, nargs=nargs, impl=impl, kind="structural", linear=linear, batch=batch, jvp=jvp,
        vjp=vjp, prepare=prepare, sympy=sympy, numpy=numpy, parseable=parseable,
        symbol=symbol or name,
        unicode=unicode or symbol or name,
        latex=latex if latex is not None else rf"\operatorname{{{name}}}", cost=cost,
        doc=doc or f"{name} (a primitive: see diffkit.primitives)."))


def shape_of(v: Any) -> tuple[int, ...]:
    return tuple(getattr(v, "shape", ()))


# ----- element-wise arithmetic ----------------------------------------------------------------


def _pow_dbase(a: Any, b: Any, o: Any) -> Any:
    """∂(a**b)/∂a = b·a**(b−1), taken as 0 where b = 0 (a**0 = 1 is constant, also at a = 0)."""
    if np.isscalar(b):  # a constant exponent, the common case
        return 0.0 if b == 0 else b * a ** (b - 1.0)
    origin = where(equal(a, 0.0), equal(b, 0.0), False)  # 0**0: the only point to override
    return where(origin, 0.0, b * where(origin, 1.0, a) ** (b - 1.0))


def _pow_dexp(a: Any, b: Any, o: Any) -> Any:
    """∂(a**b)/∂b = a**b · ln a, taken as 0 where a = 0."""
    zero = equal(a, 0.0)
    return where(zero, 0.0, o * log(where(zero, 1.0, a)))


add = elementwise("add", lambda xp, a, b: xp.add(a, b), (lambda a, b, o: ONE, lambda a, b, o: ONE),
                  lambda sp, a, b: a + b, symbol="+", latex="+", unit=(0.0, 0.0))
sub = elementwise("sub", lambda xp, a, b: xp.subtract(a, b),
                  (lambda a, b, o: ONE, lambda a, b, o: MINUS_ONE), lambda sp, a, b: a - b,
                  symbol="-", latex="-", numpy=("subtract",), unit=(None, 0.0))
mul = elementwise("mul", lambda xp, a, b: xp.multiply(a, b), (lambda a, b, o: b, lambda a, b, o: a),
                  lambda sp, a, b: a * b, symbol="*", unicode="×", latex=r"\times",
                  numpy=("multiply",), unit=(1.0, 1.0))
div = elementwise("div", lambda xp, a, b: xp.divide(a, b),
                  (lambda a, b, o: 1.0 / b, lambda a, b, o: -(o / b)), lambda sp, a, b: a / b,
                  symbol="/", latex="/", numpy=("divide", "true_divide"), unit=(None, 1.0), domain=((-2.0, 2.0), (0.5, 2.0)),
                  domain_text="the divisor must not be 0")
neg = elementwise("neg", lambda xp, a: xp.negative(a), (lambda a, o: MINUS_ONE,), lambda sp, a: -a,
                  symbol="-", latex="-", numpy=("negative",))
pow = elementwise("pow", lambda xp, a, b: xp.power(a, b), (_pow_dbase, _pow_dexp),
                  lambda sp, a, b: a**b, symbol="**", unicode="^", latex="^", numpy=("power",),
                  aliases=("power",), scalar="math.pow({0}, {1})", unit=(None, 1.0),
                  domain=((0.5, 2.0), (-2.0, 2.0)),
                  domain_text="a negative base needs an integer exponent",
                  special=(((0.0, 2.0), (0.0, 0.0)), ((0.0, 3.0), (0.0, 0.0)),
                           ((2.0, 0.0), (0.0, np.log(2.0))), ((0.0, 0.0), (0.0, 0.0))))

# ----- element-wise functions ------------------------------------------------------------------
exp = elementwise("exp", lambda xp, x: xp.exp(x), (lambda x, o: o,), "exp", latex=r"\exp",
                  scalar="math.exp({0})")
log = elementwise("log", lambda xp, x: xp.log(x), (lambda x, o: 1.0 / x,), "log", unicode="ln",
                  latex=r"\ln", aliases=("ln",), scalar="math.log({0})", domain=((0.2, 4.0),),
                  domain_text="log needs x > 0")
log1p = elementwise("log1p", lambda xp, x: xp.log1p(x), (lambda x, o: 1.0 / (x + 1.0),),
                    lambda sp, x: sp.log(1 + x), scalar="math.log1p({0})", domain=((-0.5, 3.0),),
                    domain_text="log1p needs x > -1")
sqrt = elementwise("sqrt", lambda xp, x: xp.sqrt(x), (lambda x, o: 0.5 / o,), "sqrt", unicode="√",
                   latex=r"\sqrt", scalar="math.sqrt({0})", domain=((0.2, 4.0),),
                   domain_text="sqrt needs x >= 0", special=(((0.0,), "nondifferentiable"),))
sin = elementwise("sin", lambda xp, x: xp.sin(x), (lambda x, o: cos(x),), "sin", latex=r"\sin",
                  scalar="math.sin({0})")
cos = elementwise("cos", lambda xp, x: xp.cos(x), (lambda x, o: -sin(x),), "cos", latex=r"\cos",
                  scalar="math.cos({0})")
tan = elementwise("tan", lambda xp, x: xp.tan(x), (lambda x, o: 1.0 + o * o,), "tan",
                  latex=r"\tan", scalar="math.tan({0})", domain=((-1.2, 1.2),))
sinh = elementwise("sinh", lambda xp, x: xp.sinh(x), (lambda x, o: cosh(x),), "sinh",
                   latex=r"\sinh", scalar="math.sinh({0})")
cosh = elementwise("cosh", lambda xp, x: xp.cosh(x), (lambda x, o: sinh(x),), "cosh",
                   latex=r"\cosh", scalar="math.cosh({0})")
def _sech2(x: Any, o: Any) -> Any:
    """tanh′ = sech²x = 4e/(1 + e)² with e = exp(−2|x|): no cancellation (1 − tanh² loses every
    digit for |x| > 18) and no overflow."""
    e = exp(-2.0 * abs(x))
    return 4.0 * e / ((1.0 + e) * (1.0 + e))


tanh = elementwise("tanh", lambda xp, x: xp.tanh(x), (_sech2,), "tanh", latex=r"\tanh",
                   scalar="math.tanh({0})")
arcsin = elementwise("arcsin", lambda xp, x: xp.arcsin(x),
                     (lambda x, o: 1.0 / sqrt((1.0 - x) * (1.0 + x)),),  # no cancellation near ±1
                     "asin", latex=r"\arcsin", aliases=("asin",), scalar="math.asin({0})",
                     domain=((-0.9, 0.9),), domain_text="arcsin needs -1 <= x <= 1")
arccos = elementwise("arccos", lambda xp, x: xp.arccos(x),
                     (lambda x, o: -1.0 / sqrt((1.0 - x) * (1.0 + x)),), "acos", latex=r"\arccos",
                     aliases=("acos",), scalar="math.acos({0})", domain=((-0.9, 0.9),),
                     domain_text="arccos needs -1 <= x <= 1")
arctan = elementwise("arctan", lambda xp, x: xp.arctan(x), (lambda x, o: 1.0 / (1.0 + x * x),),
                     "atan", latex=r"\arctan", aliases=("atan",), scalar="math.atan({0})")


def _sigmoid(xp: Any, x: Any) -> Any:
    if xp.iscomplexobj(x):  # the complex-step method needs the analytic formula
        return 1.0 / (1.0 + xp.exp(-x))
    e = xp.exp(-xp.abs(x))
    return xp.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def _sigmoid_prime(x: Any, o: Any) -> Any:
    """σ′ = σ(x)σ(−x) = e/(1 + e)² with e = exp(−|x|): exact also where σ(x) rounds to 1."""
    e = exp(-abs(x))
    return e / ((1.0 + e) * (1.0 + e))


sigmoid = elementwise("sigmoid", _sigmoid, (_sigmoid_prime,),
                      lambda sp, x: sp.Piecewise((1 / (1 + sp.exp(-x)), x >= 0),  # no overflow
                                                 (sp.exp(x) / (1 + sp.exp(x)), True)),
                      unicode="σ", latex=r"\sigma", numpy=())
softplus = elementwise("softplus", lambda xp, x: xp.logaddexp(0.0, x), (lambda x, o: sigmoid(x),),
                       lambda sp, x: sp.Piecewise((x + sp.log(1 + sp.exp(-x)), x > 0),  # stable
                                                  (sp.log(1 + sp.exp(x)), True)),
                       numpy=(), holomorphic=False)
relu = elementwise("relu", lambda xp, x: xp.maximum(x, 0.0),
                   (lambda x, o: sign(o),),  # 1 where x > 0, else 0 (relu'(0) = 0), in x's dtype
                   lambda sp, x: sp.Piecewise((x, x > 0), (0, True)), numpy=(),
                   scalar="max({0}, 0.0)", holomorphic=False, special=(((0.0,), (0.0,)),))


def _abs_wirtinger(z: Any, o: Any) -> tuple[Any, Any]:
    """|z| = √(z z̄): ∂/∂z = z̄/(2|z|), ∂/∂z̄ = z/(2|z|); both 0 at z = 0 (the kink convention)."""
    half = where(equal(o, 0.0), 0.0, 0.5 / where(equal(o, 0.0), 1.0, o))
    return conj(z) * half, z * half


abs = elementwise("abs", lambda xp, x: xp.abs(x), (lambda x, o: sign(x),), "Abs",
                  latex=r"\operatorname{abs}", numpy=("absolute", "fabs"), scalar="abs({0})",
                  wirtinger=_abs_wirtinger, holomorphic=False, special=(((0.0,), (0.0,)),))


def _tie_split(a: Any, b: Any) -> Any:
    """∂max(a, b)/∂a: 1 where a > b, ½ at ties, 0 elsewhere — as ½(1 + sign(a − b)), in a's dtype."""
    return 0.5 + 0.5 * sign(a - b)


maximum = elementwise("maximum", lambda xp, a, b: xp.maximum(a, b),
                      (lambda a, b, o: _tie_split(a, b), lambda a, b, o: _tie_split(b, a)), "Max",
                      latex=r"\max", aliases=("max",), scalar="max({0}, {1})", holomorphic=False,
                      special=(((1.0, 1.0), (0.5, 0.5)),))
minimum = elementwise("minimum", lambda xp, a, b: xp.minimum(a, b),
                      (lambda a, b, o: _tie_split(b, a), lambda a, b, o: _tie_split(a, b)), "Min",
                      latex=r"\min", aliases=("min",), scalar="min({0}, {1})", holomorphic=False,
                      special=(((1.0, 1.0), (0.5, 0.5)),))
def _where_sympy(sp: Any, c: Any, a: Any, b: Any) -> Any:
    cond = c if isinstance(c, sp.logic.boolalg.Boolean) and not isinstance(c, sp.Expr) else sp.Ne(c, 0)
    return sp.Piecewise((a, cond), (b, True))


where = elementwise("where", lambda xp, c, a, b: xp.where(c, a, b),
                    # boolean masks (a condition is true where it is nonzero): ȳ·mask keeps ȳ's dtype
                    (None, lambda c, a, b, o: not_equal(c, 0), lambda c, a, b, o: equal(c, 0)),
                    _where_sympy, parseable=False, scalar="{1} if {0} else {2}",
                    holomorphic=False, domain=((-1.0, 1.0), (-2.0, 2.0), (-2.0, 2.0)))

# ----- complex numbers (JAX's convention: see docs/design.md) ----------------------------------
conj = elementwise("conj", lambda xp, x: xp.conj(x), (lambda x, o: ONE,), "conjugate",
                   latex=r"\overline", numpy=("conjugate", "conj"),
                   wirtinger=lambda z, o: (0.0, 1.0), holomorphic=False)
real = elementwise("real", lambda xp, x: xp.real(x), (lambda x, o: ONE,), "re", numpy=("real",),
                   wirtinger=lambda z, o: (0.5, 0.5), holomorphic=False)
imag = elementwise("imag", lambda xp, x: xp.imag(x), (lambda x, o: 0.0 * x,), "im",
                   numpy=("imag",), wirtinger=lambda z, o: (-0.5j, 0.5j), holomorphic=False)

# ----- non-differentiable element-wise (outputs are constants to every engine) ------------------
_CMP = {"domain": ((-2.0, 2.0),) * 2, "holomorphic": False, "nargs": 2}
greater = elementwise("greater", lambda xp, a, b: xp.greater(a, b), None, "StrictGreaterThan",
                      symbol=">", latex=">", **_CMP)
less = elementwise("less", lambda xp, a, b: xp.less(a, b), None, "StrictLessThan", symbol="<",
                   latex="<", **_CMP)
equal = elementwise("equal", lambda xp, a, b: xp.equal(a, b), None, "Eq", symbol="==", latex="=",
                    **_CMP)
not_equal = elementwise("not_equal", lambda xp, a, b: xp.not_equal(a, b), None, "Ne", symbol="!=",
                        unicode="≠", latex=r"\neq", **_CMP)
greater_equal = elementwise("greater_equal", lambda xp, a, b: xp.greater_equal(a, b), None,
                            "GreaterThan", symbol=">=", unicode="≥", latex=r"\geq", **_CMP)
less_equal = elementwise("less_equal", lambda xp, a, b: xp.less_equal(a, b), None, "LessThan",
                         symbol="<=", unicode="≤", latex=r"\leq", **_CMP)
sign = elementwise("sign", lambda xp, x: xp.sign(x), None, "sign", holomorphic=False)
stop_gradient = elementwise("stop_gradient", lambda xp, x: x, None, lambda sp, x: x, numpy=())


# ----- structural primitives: reductions, shape ops, indexing, products --------------------------
# ``prepare`` normalizes what users pass: axes become sorted tuples of non-negative ints (or None),
# shapes concrete tuples, indices tuples of slices, ints and integer/boolean arrays.


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


def _prepare_reduction(x: Any, axis: Any = None, keepdims: bool = False) -> Any:
    return (x,), {"axis": _axes(axis, len(shape_of(x))), "keepdims": bool(keepdims)}


def _batch_axes(axis: tuple[int, ...] | None, ndim: int) -> tuple[int, ...]:
    """Axes of a reduction moved past the leading batch axis."""
    return tuple(range(1, ndim + 1)) if axis is None else tuple(a + 1 for a in axis)


def _kept_shape(shape: tuple[int, ...], axis: tuple[int, ...] | None) -> tuple[int, ...]:
    return tuple(1 if axis is None or i in axis else s for i, s in enumerate(shape))


def _expand_back(ct: Any, x: Any, axis: tuple[int, ...] | None, keepdims: bool) -> Any:
    """Reshape a reduction's cotangent to broadcast against its input."""
    return ct if keepdims else reshape(ct, _kept_shape(shape_of(x), axis))


def sum_to(x: Any, shape: Sequence[int]) -> Any:
    """Sum a broadcast array back down to `shape` (the transpose of broadcasting)."""
    shape = tuple(shape)
    xs = shape_of(x)
    if xs == shape:
        return x
    lead = len(xs) - len(shape)
    axes = tuple(range(lead)) + tuple(lead + i for i, s in enumerate(shape)
                                      if s == 1 and xs[lead + i] != 1)
    return reshape(bind(sum, x, axis=axes, keepdims=True), shape)


def _count(shape: tuple[int, ...], axis: tuple[int, ...] | None) -> int:
    return math.prod(shape if axis is None else [shape[a] for a in axis])


sum = structural(
    "sum", lambda xp, x, axis=None, keepdims=False: xp.sum(x, axis=axis, keepdims=keepdims),
    linear=True, prepare=_prepare_reduction, numpy=("sum",), latex=r"\sum", parseable=True,
    batch=lambda ts, k, xs, out, axis=None, keepdims=False: bind(
        sum, ts[0], axis=_batch_axes(axis, len(shape_of(xs[0]))), keepdims=keepdims),
    vjp=lambda ct, xs, out, axis=None, keepdims=False: (
        broadcast_to(_expand_back(ct, xs[0], axis, keepdims), shape_of(xs[0])),),
    doc="Σ over `axis` (all axes when None).")
mean = structural(
    "mean", lambda xp, x, axis=None, keepdims=False: xp.mean(x, axis=axis, keepdims=keepdims),
    linear=True, prepare=_prepare_reduction, numpy=("mean",), latex=r"\operatorname{mean}",
    parseable=True,
    batch=lambda ts, k, xs, out, axis=None, keepdims=False: bind(
        mean, ts[0], axis=_batch_axes(axis, len(shape_of(xs[0]))), keepdims=keepdims),
    vjp=lambda ct, xs, out, axis=None, keepdims=False: (broadcast_to(
        _expand_back(ct, xs[0], axis, keepdims) * (1.0 / _count(shape_of(xs[0]), axis)),
        shape_of(xs[0])),),
    doc="Arithmetic mean over `axis` (all axes when None).")


def _max_weights(x: Any, out: Any, axis: tuple[int, ...] | None, keepdims: bool) -> Any:
    """Where x attains the maximum, 1/(number of ties); elsewhere 0 (in x's dtype)."""
    hit = 1.0 - sign(_expand_back(out, x, axis, keepdims) - x)
    return hit / bind(sum, hit, axis=axis, keepdims=True)


def _amax_sympy(sp: Any, x: Any, axis: tuple[int, ...] | None = None, keepdims: bool = False) -> Any:
    """The maximum of each reduced group as one SymPy function whose derivative shares 1 equally
    among the tied entries (the table's convention), not nested two-way maxima."""
    from .sympy_program import TieMax

    axes = tuple(range(x.ndim)) if axis is None else axis
    moved = np.moveaxis(np.asarray(x, dtype=object), axes, tuple(range(-len(axes), 0)))
    kept = moved.shape[:moved.ndim - len(axes)]
    groups = moved.reshape(kept + (-1,))
    out = np.empty(kept, dtype=object)
    for idx in np.ndindex(*kept):
        out[idx] = TieMax(*groups[idx])
    if keepdims:
        out = out.reshape(_kept_shape(x.shape, axis))
    return out


amax = structural(
    "amax", lambda xp, x, axis=None, keepdims=False: xp.max(x, axis=axis, keepdims=keepdims),
    prepare=_prepare_reduction, numpy=("amax", "max"), symbol="max", latex=r"\max",
    jvp=lambda ts, k, xs, out, axis=None, keepdims=False: bind(
        sum, ts[0] * _max_weights(xs[0], out, axis, keepdims),
        axis=_batch_axes(axis, len(shape_of(xs[0]))), keepdims=keepdims),
    vjp=lambda ct, xs, out, axis=None, keepdims=False: (
        _expand_back(ct, xs[0], axis, keepdims) * _max_weights(xs[0], out, axis, keepdims),),
    sympy=_amax_sympy, doc="Maximum over `axis`; the derivative is shared equally among ties.")


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
    numpy=("reshape",), batch=lambda ts, k, xs, out, shape: reshape(ts[0], (k, *shape)),
    vjp=lambda ct, xs, out, shape: (reshape(ct, shape_of(xs[0])),),
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
    doc="Permute axes (reverse them when None).")


def _prepare_broadcast(x: Any, shape: Sequence[int]) -> Any:
    shape = tuple(int(s) for s in shape)
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
    doc="Broadcast to `shape` (NumPy rules).")


def _index(index: Any) -> tuple[Any, ...]:
    """An index as a tuple of slices, ints, None, Ellipsis and integer/boolean arrays."""
    items = index if isinstance(index, tuple) else (index,)
    out = []
    for i in items:
        if isinstance(i, Traced):
            i = i.concrete("an index")
        if isinstance(i, list):
            i = np.asarray(i)
        out.append(i)
    return tuple(out)


def _expand_ellipsis(index: tuple[Any, ...], ndim: int) -> tuple[Any, ...]:
    """The index with ``...`` replaced by full slices (so an extra trailing axis stays last)."""
    pos = [j for j, i in enumerate(index) if i is Ellipsis]
    if not pos:
        return index
    used = builtins.sum(0 if i is None or i is Ellipsis else
                        np.ndim(i) if getattr(i, "dtype", None) == np.bool_ else 1 for i in index)
    return index[:pos[0]] + (slice(None),) * (ndim - used) + index[pos[0] + 1:]


def _last_to_first(t: Any) -> Any:
    n = len(shape_of(t))
    return transpose(t, (n - 1, *range(n - 1)))


def _first_to_last(t: Any) -> Any:
    n = len(shape_of(t))
    return transpose(t, (*range(1, n), 0))


def _prepare_getitem(x: Any, index: Any) -> Any:
    idx = _index(index)
    try:
        np.empty(shape_of(x), dtype=np.bool_)[idx]
    except IndexError as exc:
        raise ShapeError(f"index {index!r} does not fit shape {shape_of(x)}: {exc}") from None
    return (x,), {"index": idx}


def _getitem_batch(ts: Any, k: int, xs: Any, out: Any, index: tuple[Any, ...]) -> Any:
    """x[index] for k stacked x: the stack axis goes last, where indexing leaves it in place."""
    moved = _first_to_last(ts[0])
    return _last_to_first(getitem(moved, _expand_ellipsis(index, len(shape_of(xs[0])))))


getitem = structural(
    "getitem", lambda xp, x, index: x[index], linear=True, prepare=_prepare_getitem,
    batch=_getitem_batch, vjp=lambda ct, xs, out, index: (index_add(ct, index, shape_of(xs[0])),),
    sympy=lambda sp, x, index: np.asarray(x[index], dtype=object), symbol="[]", latex="[]",
    doc="x[index]: basic slicing and integer/boolean array indexing.")


def _index_add_impl(xp: Any, v: Any, index: tuple[Any, ...], shape: tuple[int, ...]) -> Any:
    from .backend import scatter_add

    z = xp.zeros(shape, dtype=getattr(v, "dtype", None) or np.result_type(v))
    return scatter_add(xp, z, index, v)


def _index_add_batch(ts: Any, k: int, xs: Any, out: Any, index: Any, shape: Any) -> Any:
    moved = _first_to_last(ts[0]) if len(shape_of(ts[0])) > 1 else ts[0]
    return _last_to_first(index_add(moved, _expand_ellipsis(index, len(shape)), (*shape, k)))


index_add = structural(
    "index_add", _index_add_impl, linear=True, batch=_index_add_batch,
    prepare=lambda v, index, shape: ((v,), {"index": _index(index), "shape": tuple(shape)}),
    vjp=lambda ct, xs, out, index, shape: (getitem(ct, index),),
    sympy=lambda sp, v, index, shape: _index_add_impl(np, np.asarray(v, dtype=object), index, shape),
    doc="zeros(shape) with `v` added at `index` (repeated indices accumulate): getitem's transpose.")


def _prepare_concatenate(arrays: Sequence[Any], axis: int = 0) -> Any:
    arrays = tuple(arrays)
    if not arrays:
        raise ShapeError("concatenate needs at least one array")
    ax = _axes(axis, len(shape_of(arrays[0])))
    return arrays, {"axis": ax[0] if ax else 0}


def _concat_vjp(ct: Any, xs: Any, out: Any, axis: int) -> tuple[Any, ...]:
    cts, start = [], 0
    for x in xs:
        stop = start + shape_of(x)[axis]
        cts.append(getitem(ct, (slice(None),) * axis + (slice(start, stop),)))
        start = stop
    return tuple(cts)


concatenate = structural(
    "concatenate", lambda xp, *xs, axis=0: xp.concatenate(xs, axis=axis), linear=True, nargs=None,
    prepare=_prepare_concatenate, numpy=("concatenate",),
    batch=lambda ts, k, xs, out, axis: bind(concatenate, *ts, axis=axis + 1), vjp=_concat_vjp,
    sympy=lambda sp, *xs, axis=0: np.concatenate([np.asarray(x, dtype=object) for x in xs], axis),
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


roll = structural(
    "roll", lambda xp, x, shift, axis=None: xp.roll(x, shift, axis=axis), linear=True,
    prepare=_prepare_roll, numpy=("roll",), batch=_roll_batch,
    vjp=lambda ct, xs, out, shift, axis=None: (roll(ct, _negate_shift(shift), axis),),
    doc="Shift elements cyclically along `axis` (of the flattened array when None).")


def _as_matrices(a: Any, b: Any) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """Shapes of a and b with 1-D operands promoted to matrices, as matmul does."""
    sa, sb = shape_of(a), shape_of(b)
    return (sa if len(sa) > 1 else (1, *sa)), (sb if len(sb) > 1 else (*sb, 1))


def _swap_last(x: Any) -> Any:
    n = len(shape_of(x))
    return transpose(x, (*range(n - 2), n - 1, n - 2))


def _matmul_shape(sa: tuple[int, ...], sb: tuple[int, ...]) -> tuple[int, ...]:
    return (*np.broadcast_shapes(sa[:-2], sb[:-2]), sa[-2], sb[-1])


def _matmul_vjp(ct: Any, xs: Any, out: Any) -> tuple[Any, Any]:
    a, b = xs
    sa, sb = _as_matrices(a, b)
    a2, b2 = reshape(a, sa), reshape(b, sb)
    ct2 = reshape(ct, _matmul_shape(sa, sb))
    return (lambda: reshape(sum_to(matmul(ct2, _swap_last(b2)), sa), shape_of(a)),
            lambda: reshape(sum_to(matmul(_swap_last(a2), ct2), sb), shape_of(b)))


def _matmul_jvp(ts: Any, k: int, xs: Any, out: Any) -> Any:
    """(a + ȧ)(b + ḃ) − ab = ȧb + aḃ, with the k tangent axis kept in front of every batch axis."""
    a, b = xs
    sa, sb = _as_matrices(a, b)
    nb = builtins.max(len(sa), len(sb)) - 2  # batch axes of the product

    def lead(shape: tuple[int, ...], tangent: bool) -> tuple[int, ...]:
        pad = (1,) * (nb - (len(shape) - 2))
        return (k, *pad, *shape) if tangent else (1, *pad, *shape)

    total = None
    if ts[0] is not None:
        total = matmul(reshape(ts[0], lead(sa, True)), reshape(b, lead(sb, False)))
    if ts[1] is not None:
        term = matmul(reshape(a, lead(sa, False)), reshape(ts[1], lead(sb, True)))
        total = term if total is None else total + term
    return reshape(total, (k, *shape_of(out)))


def _prepare_matmul(a: Any, b: Any) -> Any:
    sa, sb = shape_of(a), shape_of(b)
    if not sa or not sb:
        raise ShapeError(f"matmul needs arrays of at least 1 dimension, got shapes {sa} and {sb}")
    inner = sb[-2 if len(sb) > 1 else 0]
    if sa[-1] != inner:
        raise ShapeError(f"matmul: shapes {sa} and {sb} do not align ({sa[-1]} != {inner})")
    return (a, b), {}


matmul = structural(
    "matmul", lambda xp, a, b: xp.matmul(a, b), jvp=_matmul_jvp, vjp=_matmul_vjp, nargs=2,
    prepare=_prepare_matmul, numpy=("matmul",), symbol="@", unicode="@", latex=r"\cdot",
    cost=lambda ins, out: math.prod(out) * (ins[0][-1] if ins[0] else 1),
    doc="Matrix product a @ b (NumPy rules for 1-D and batched operands).")

# ----- neural-net primitives ------------------------------------------------------------------
# Fused operations that diffkit.nn builds layers and losses from: one node instead of many keeps
# the eager tape short, and their rules stay in float32 when the inputs are float32.


def _linear_jvp(ts: Any, k: int, xs: Any, out: Any) -> Any:
    x, w, _ = xs
    n_in, n_out = shape_of(w)[1], shape_of(w)[0]
    total = None
    if ts[0] is not None:
        total = matmul(ts[0], transpose(w))
    if ts[1] is not None:
        x2 = reshape(x, (-1, n_in))
        term = reshape(matmul(x2, transpose(ts[1], (0, 2, 1))), (k, *shape_of(out)))
        total = term if total is None else total + term
    if ts[2] is not None:
        term = reshape(ts[2], (k,) + (1,) * (len(shape_of(out)) - 1) + (n_out,))
        total = term if total is None else total + term
    return broadcast_to(total, (k, *shape_of(out)))


def _linear_vjp(ct: Any, xs: Any, out: Any) -> tuple[Any, Any, Any]:
    x, w, _ = xs
    ct2 = reshape(ct, (-1, shape_of(w)[0]))
    return (lambda: matmul(ct, w),  # x̄ (not needed for a network's data input)
            lambda: matmul(transpose(ct2), reshape(x, (-1, shape_of(w)[1]))),
            lambda: bind(sum, ct2, axis=(0,), keepdims=False))


def _prepare_linear(x: Any, weight: Any, bias: Any) -> Any:
    sx, sw, sb = shape_of(x), shape_of(weight), shape_of(bias)
    if len(sw) != 2 or not sx or sx[-1] != sw[1] or sb != (sw[0],):
        raise ShapeError(f"linear: input {sx}, weight {sw} and bias {sb} do not fit "
                         "(need input (..., in), weight (out, in), bias (out,))")
    return (x, weight, bias), {}


linear = structural(
    "linear", lambda xp, x, weight, bias: xp.matmul(x, weight.T) + bias, jvp=_linear_jvp,
    vjp=_linear_vjp, nargs=3, prepare=_prepare_linear, latex=r"\operatorname{linear}",
    cost=lambda ins, out: math.prod(out) * ins[1][1],
    doc="x @ weight.T + bias, PyTorch's layout: weight (out_features, in_features), bias (out,).")


def _pair(k: int | Sequence[int]) -> tuple[int, int]:
    return (int(k), int(k)) if isinstance(k, int | np.integer) else (int(k[0]), int(k[1]))


def _conv_out(size: int, k: int, stride: int, padding: int) -> int:
    return (size + 2 * padding - k) // stride + 1


def _im2col_impl(xp: Any, x: Any, kernel_size: tuple[int, int], stride: int, padding: int) -> Any:
    n, c, h, w = x.shape
    kh, kw = kernel_size
    oh, ow = _conv_out(h, kh, stride, padding), _conv_out(w, kw, stride, padding)
    if padding:
        x = xp.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    cols = xp.empty((n, oh, ow, c, kh, kw), dtype=x.dtype)
    for i in range(kh):
        for j in range(kw):
            window = x[:, :, i:i + stride * (oh - 1) + 1:stride, j:j + stride * (ow - 1) + 1:stride]
            cols[:, :, :, :, i, j] = window.transpose(0, 2, 3, 1)
    return cols.reshape(n, oh, ow, c * kh * kw)


def _col2im_impl(xp: Any, cols: Any, kernel_size: tuple[int, int], stride: int, padding: int,
                 shape: tuple[int, int, int, int]) -> Any:
    n, c, h, w = shape
    kh, kw = kernel_size
    oh, ow = cols.shape[1], cols.shape[2]
    out = xp.zeros((n, c, h + 2 * padding, w + 2 * padding), dtype=cols.dtype)
    c6 = cols.reshape(n, oh, ow, c, kh, kw)
    for i in range(kh):
        for j in range(kw):
            out[:, :, i:i + stride * (oh - 1) + 1:stride, j:j + stride * (ow - 1) + 1:stride] += (
                c6[:, :, :, :, i, j].transpose(0, 3, 1, 2))
    return out[:, :, padding:padding + h, padding:padding + w] if padding else out


def _merge_k(t: Any, k: int) -> Any:
    """(k, n, ...) -> (k*n, ...): the k directions become extra batch rows."""
    s = shape_of(t)
    return reshape(t, (k * s[1], *s[2:]))


def _prepare_im2col(x: Any, kernel_size: int | Sequence[int], stride: int = 1,
                    padding: int = 0) -> Any:
    ks = _pair(kernel_size)
    s = shape_of(x)
    if len(s) != 4 or s[2] + 2 * padding < ks[0] or s[3] + 2 * padding < ks[1] or stride < 1:
        raise ShapeError(f"im2col: input {s} does not fit kernel {ks}, stride {stride}, "
                         f"padding {padding} (need an (N, C, H, W) batch)")
    return (x,), {"kernel_size": ks, "stride": int(stride), "padding": int(padding)}


im2col = structural(
    "im2col", _im2col_impl, linear=True, prepare=_prepare_im2col,
    batch=lambda ts, k, xs, out, kernel_size, stride, padding: reshape(
        im2col(_merge_k(ts[0], k), kernel_size, stride, padding), (k, *shape_of(out))),
    vjp=lambda ct, xs, out, kernel_size, stride, padding: (
        col2im(ct, kernel_size, stride, padding, shape_of(xs[0])),),
    latex=r"\operatorname{im2col}",
    doc="Patches of an (N, C, H, W) batch as rows: (N, OH, OW, C·kh·kw). Linear; transpose col2im.")
col2im = structural(
    "col2im", _col2im_impl, linear=True,
    prepare=lambda cols, kernel_size, stride, padding, shape: ((cols,), {
        "kernel_size": _pair(kernel_size), "stride": int(stride), "padding": int(padding),
        "shape": tuple(int(n) for n in shape)}),
    batch=lambda ts, k, xs, out, kernel_size, stride, padding, shape: reshape(
        col2im(_merge_k(ts[0], k), kernel_size, stride, padding, (k * shape[0], *shape[1:])),
        (k, *shape)),
    vjp=lambda ct, xs, out, kernel_size, stride, padding, shape: (
        im2col(ct, kernel_size, stride, padding),),
    latex=r"\operatorname{col2im}",
    doc="Sum patches (N, OH, OW, C·kh·kw) back into an image batch of `shape`: im2col's transpose.")


def _log_softmax(z: Any) -> Any:
    """z − logsumexp(z) over the last axis, stably."""
    m = stop_gradient(bind(amax, z, axis=(len(shape_of(z)) - 1,), keepdims=True))
    return z - (m + log(bind(sum, exp(z - m), axis=(len(shape_of(z)) - 1,), keepdims=True)))


def _xent_impl(xp: Any, z: Any, t: Any) -> Any:
    m = xp.max(z, axis=-1, keepdims=True)
    log_p = z - (m + xp.log(xp.sum(xp.exp(z - m), axis=-1, keepdims=True)))
    return -xp.sum(t * log_p, axis=-1)


def _xent_vjp(ct: Any, xs: Any, out: Any) -> tuple[Any, Any]:
    z, t = xs
    last = (len(shape_of(z)) - 1,)
    log_p = _log_softmax(z)
    ct1 = reshape(ct, (*shape_of(ct), 1))
    return (lambda: ct1 * (exp(log_p) * bind(sum, t, axis=last, keepdims=True) - t),
            lambda: ct1 * -log_p)  # t̄: only for learned targets


def _xent_jvp(ts: Any, k: int, xs: Any, out: Any) -> Any:
    rules = _xent_vjp(broadcast_to(1.0, shape_of(out)), xs, out)
    last = (len(shape_of(xs[0])),)
    total = None
    for tan, d in zip(ts, rules):
        if tan is not None:
            term = bind(sum, tan * d(), axis=last, keepdims=False)
            total = term if total is None else total + term
    return total


def _xent_sympy(sp: Any, z: Any, t: Any) -> Any:
    """Σ t·(logsumexp(z) − z), with logsumexp as m + log Σ exp(z − m), m = max z (no overflow; the
    derivative through m cancels, so its ties do not matter)."""
    z, t = np.asarray(z, dtype=object), np.asarray(t, dtype=object)

    def logsumexp(*row: Any) -> Any:
        m = sp.Max(*row)
        return m + sp.log(builtins.sum(sp.exp(v - m) for v in row))

    lse = np.frompyfunc(logsumexp, z.shape[-1], 1)
    lse_z = np.asarray(lse(*np.moveaxis(z, -1, 0)), dtype=object)  # 0-d for 1-D logits
    return np.sum(t * (lse_z[..., None] - z), axis=-1)


def _prepare_xent(logits: Any, target: Any) -> Any:
    if shape_of(logits) != shape_of(target) or not shape_of(logits):
        raise ShapeError(f"softmax_cross_entropy: logits {shape_of(logits)} and target "
                         f"{shape_of(target)} must have the same (non-scalar) shape")
    return (logits, target), {}


softmax_cross_entropy = structural(
    "softmax_cross_entropy", _xent_impl, jvp=_xent_jvp, vjp=_xent_vjp, nargs=2,
    prepare=_prepare_xent, sympy=_xent_sympy, latex=r"\operatorname{CE}",
    doc="−Σ target · log_softmax(logits) over the last axis (stable); target: probabilities.")

#: log(max(p, e^-100)) = max(log p, -100): the clamp PyTorch's binary cross-entropy applies.
_BCE_FLOOR = math.exp(-100.0)


def _bce_impl(xp: Any, p: Any, y: Any) -> Any:
    if bool(xp.any((p < 0) | (p > 1))):
        raise DomainError("binary_cross_entropy needs probabilities 0 <= p <= 1 (apply "
                          "dk.sigmoid to logits, or use binary_cross_entropy_with_logits)")
    return -(y * xp.log(xp.maximum(p, _BCE_FLOOR))
             + (1.0 - y) * xp.log(xp.maximum(1.0 - p, _BCE_FLOOR)))


def _bce_dp(p: Any, y: Any, o: Any) -> Any:
    """∂/∂p = −y/p + (1 − y)/(1 − p), each term 0 where its log is clamped (p or 1 − p ≤ e⁻¹⁰⁰)."""
    lo, hi = greater(p, _BCE_FLOOR), greater(1.0 - p, _BCE_FLOOR)
    return (where(hi, (1.0 - y) / where(hi, 1.0 - p, 1.0), 0.0)
            - where(lo, y / where(lo, p, 1.0), 0.0))


def _bce_dy(p: Any, y: Any, o: Any) -> Any:
    return log(maximum(1.0 - p, _BCE_FLOOR)) - log(maximum(p, _BCE_FLOOR))


def _bce_sympy(sp: Any, p: Any, y: Any) -> Any:
    floor = sp.Float(_BCE_FLOOR, 17)
    return -(y * sp.Piecewise((sp.log(p), p > floor), (-100, True))
             + (1 - y) * sp.Piecewise((sp.log(1 - p), 1 - p > floor), (-100, True)))


binary_cross_entropy = elementwise(
    "binary_cross_entropy", _bce_impl, (_bce_dp, _bce_dy), _bce_sympy,
    latex=r"\operatorname{BCE}", numpy=(), domain=((0.05, 0.95), (0.0, 1.0)),
    domain_text="binary_cross_entropy needs 0 <= p <= 1 (logs are clamped at -100)",
    holomorphic=False)
