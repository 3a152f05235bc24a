"""THE rule table: one record per primitive, read by every engine, the printer and the tests.

A record declares together: evaluation (through the array module ``xp``, so NumPy and CuPy both
work), the derivative rules, the SymPy translation, the display symbols and the test domain.

* **Element-wise** primitives declare only their local partials ``∂out/∂input_i`` as functions of
  the inputs and the output. The forward engine forms ``ṫ = Σ ∂out/∂xᵢ · ẋᵢ``; the reverse engine
  memoizes the partials in its forward sweep and forms ``x̄ᵢ += ȳ · ∂out/∂xᵢ``; the trace printer
  shows them on edges. Broadcasting is undone once, in the reverse driver.
* **Other** primitives (linear and structural ops, matmul, reductions) declare a batched JVP (tangents
  carry a leading axis of k directions, so a Jacobian takes one pass) and a VJP.

Rules are written with Python operators and diffkit's own operations (``-op.sin(x)``, ``1.0 / x``):
on arrays they run at NumPy speed, on traced Tensors they record nodes, so rules can be differentiated
again. That is how second derivatives work in every engine.

Values at kinks (documented convention, also the SymPy one): relu'(0) = 0, abs'(0) = sign(0) = 0,
maximum/minimum split the derivative equally at ties (½, ½), ∂(x**y)/∂y = 0 where x = 0.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import sympy as sp

from .ir import bind

#: Marker partials that the engines apply without multiplying.
ONE = 1
MINUS_ONE = -1

Rule = Callable[..., Any]


@dataclass(frozen=True, eq=False)
class Primitive:
    """One primitive operation and everything every engine needs to know about it.

    Attributes:
        name: the operation's name (also its ``dk.<name>`` function and its parser name).
        nargs: number of array arguments (None: any number, e.g. concatenate).
        impl: ``impl(xp, *values, **params)`` evaluates it with array module ``xp``.
        kind: "elementwise" (rules from ``partials``) or "structural" (``jvp``/``vjp`` given).
        partials: element-wise only: one ``(*inputs, out) -> ∂out/∂input_i`` per input (None: the
            input is not differentiable, e.g. where's condition).
        jvp: structural only: ``jvp(tangents, k, inputs, out, **params)``; each tangent has a
            leading axis of k directions or is None (zero).
        vjp: structural only: ``vjp(ct, inputs, out, **params)`` -> one cotangent per input;
            a cotangent may be a zero-argument function, called only if that input needs one.
        differentiable: False for comparisons, sign, stop_gradient: their outputs are constants.
        sympy: the SymPy translation: element-wise, a function of scalar expressions; structural,
            a function of NumPy object arrays of expressions.
        symbol: how listings print it: an infix operator ("+") or a function name.
        latex: its LaTeX symbol.
        domain: per input, the interval (lo, hi) tests sample from.
        domain_text: the domain in words, for error messages.
        holomorphic: complex-analytic, so the complex-step method may pass through it.
        special: documented values at special points: ``(point, expected partials)``, or
            ``(point, "nondifferentiable")``.
        vjp_needs_values: structural only: False when the VJP reads only the shapes of its
            inputs (sums, reshapes, indexing), so a replay may skip computing them.
    """

    name: str
    nargs: int | None
    impl: Rule
    kind: str
    sympy: Rule
    symbol: str
    latex: str
    partials: tuple[Rule | None, ...] | None = None
    jvp: Rule | None = None
    vjp: Rule | None = None
    differentiable: bool = True
    domain: tuple[tuple[float, float], ...] = ()
    domain_text: str = ""
    holomorphic: bool = True
    special: tuple[tuple[tuple[float, ...], Any], ...] = field(default=())
    vjp_needs_values: bool = True

    @property
    def infix(self) -> bool:
        return self.symbol in ("+", "-", "*", "/", "**", "@")

    def __call__(self, *args: Any, **params: Any) -> Any:
        return bind(self, *args, **params)

    def __repr__(self) -> str:
        return f"<primitive {self.name}>"


REGISTRY: dict[str, Primitive] = {}


def _register(p: Primitive) -> Primitive:
    REGISTRY[p.name] = p
    return p


def elementwise(
    name: str,
    impl: Rule,
    partials: tuple[Rule | None, ...] | None,
    sympy: Rule,
    *,
    symbol: str | None = None,
    latex: str | None = None,
    domain: tuple[tuple[float, float], ...] | None = None,
    domain_text: str = "",
    holomorphic: bool = True,
    special: tuple = (),
) -> Primitive:
    """Declare an element-wise primitive from its local partial derivatives."""
    nargs = len(partials) if partials is not None else (domain and len(domain)) or 1
    return _register(
        Primitive(
            name=name,
            nargs=nargs,
            impl=impl,
            kind="elementwise",
            sympy=sympy,
            symbol=symbol or name,
            latex=latex if latex is not None else rf"\operatorname{{{name}}}",
            partials=partials,
            differentiable=partials is not None,
            domain=domain or ((-2.0, 2.0),) * nargs,
            domain_text=domain_text,
            holomorphic=holomorphic,
            special=special,
        )
    )


def structural(
    name: str,
    impl: Rule,
    jvp: Rule,
    vjp: Rule,
    *,
    nargs: int | None = 1,
    sympy: Rule | None = None,
    symbol: str | None = None,
    latex: str | None = None,
    vjp_needs_values: bool = True,
) -> Primitive:
    """Declare a non-element-wise primitive from its batched JVP and its VJP.

    Without an explicit ``sympy`` rule, the NumPy implementation is applied to object arrays of
    SymPy expressions (sums, reshapes, matmul and indexing all work that way).
    """
    return _register(
        Primitive(
            name=name,
            nargs=nargs,
            impl=impl,
            kind="structural",
            sympy=sympy or (lambda *a, **p: impl(np, *a, **p)),
            symbol=symbol or name,
            latex=latex if latex is not None else rf"\operatorname{{{name}}}",
            jvp=jvp,
            vjp=vjp,
            vjp_needs_values=vjp_needs_values,
        )
    )


def _sigmoid(xp: Any, x: Any) -> Any:
    if xp.iscomplexobj(x):  # the complex-step method needs the analytic formula
        return 1.0 / (1.0 + xp.exp(-x))
    e = xp.exp(-xp.abs(x))
    return xp.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def _step(out: Any) -> Any:
    """relu'(x) from relu's output: 1 where x > 0, else 0 (the documented relu'(0) = 0).

    sign(relu(x)) is exactly that, and keeps the array's dtype (float32 stays float32)."""
    return op.sign(out)


def _tie_split(a: Any, b: Any) -> Any:
    """∂max(a, b)/∂a: 1 where a > b, ½ at ties, 0 elsewhere — as ½(1 + sign(a − b)), in a's dtype."""
    return 0.5 + 0.5 * op.sign(a - b)


def _pow_dexp(x: Any, y: Any, out: Any) -> Any:
    """∂(x**y)/∂y = x**y · ln x, taken as 0 where x = 0."""
    safe = op.where(op.equal(x, 0.0), 1.0, x)
    return out * op.log(safe)


# ----- element-wise arithmetic ----------------------------------------------------------------
elementwise("add", lambda xp, a, b: xp.add(a, b), (lambda a, b, o: ONE, lambda a, b, o: ONE),
            lambda a, b: a + b, symbol="+", latex="+")
elementwise("sub", lambda xp, a, b: xp.subtract(a, b), (lambda a, b, o: ONE, lambda a, b, o: MINUS_ONE),
            lambda a, b: a - b, symbol="-", latex="-")
elementwise("mul", lambda xp, a, b: xp.multiply(a, b), (lambda a, b, o: b, lambda a, b, o: a),
            lambda a, b: a * b, symbol="*", latex=r"\times")
elementwise("div", lambda xp, a, b: xp.divide(a, b),
            (lambda a, b, o: 1.0 / b, lambda a, b, o: -(o / b)),
            lambda a, b: a / b, symbol="/", latex="/",
            domain=((-2.0, 2.0), (0.5, 2.0)), domain_text="the divisor must not be 0")
elementwise("neg", lambda xp, a: xp.negative(a), (lambda a, o: MINUS_ONE,), lambda a: -a,
            symbol="-", latex="-")
elementwise("pow", lambda xp, a, b: xp.power(a, b),
            (lambda a, b, o: b * a ** (b - 1.0), _pow_dexp),
            lambda a, b: a**b, symbol="**", latex="^",
            domain=((0.5, 2.0), (-2.0, 2.0)),
            domain_text="a negative base needs an integer exponent",
            special=(((0.0, 2.0), (0.0, 0.0)), ((0.0, 3.0), (0.0, 0.0)), ((2.0, 0.0), (0.0, np.log(2.0)))))

# ----- element-wise functions ------------------------------------------------------------------
elementwise("exp", lambda xp, x: xp.exp(x), (lambda x, o: o,), sp.exp, latex=r"\exp")
elementwise("log", lambda xp, x: xp.log(x), (lambda x, o: 1.0 / x,), sp.log, latex=r"\ln",
            domain=((0.2, 4.0),), domain_text="log needs x > 0")
elementwise("log1p", lambda xp, x: xp.log1p(x), (lambda x, o: 1.0 / (x + 1.0),),
            lambda x: sp.log(1 + x), domain=((-0.5, 3.0),), domain_text="log1p needs x > -1")
elementwise("sqrt", lambda xp, x: xp.sqrt(x), (lambda x, o: 0.5 / o,), sp.sqrt, latex=r"\sqrt",
            domain=((0.2, 4.0),), domain_text="sqrt needs x >= 0",
            special=(((0.0,), "nondifferentiable"),))
elementwise("sin", lambda xp, x: xp.sin(x), (lambda x, o: op.cos(x),), sp.sin, latex=r"\sin")
elementwise("cos", lambda xp, x: xp.cos(x), (lambda x, o: -op.sin(x),), sp.cos, latex=r"\cos")
elementwise("tan", lambda xp, x: xp.tan(x), (lambda x, o: 1.0 + o * o,), sp.tan,
            latex=r"\tan", domain=((-1.2, 1.2),))
elementwise("sinh", lambda xp, x: xp.sinh(x), (lambda x, o: op.cosh(x),), sp.sinh, latex=r"\sinh")
elementwise("cosh", lambda xp, x: xp.cosh(x), (lambda x, o: op.sinh(x),), sp.cosh, latex=r"\cosh")
elementwise("tanh", lambda xp, x: xp.tanh(x), (lambda x, o: 1.0 - o * o,), sp.tanh,
            latex=r"\tanh")
elementwise("arcsin", lambda xp, x: xp.arcsin(x),
            (lambda x, o: 1.0 / op.sqrt(1.0 - x * x),), sp.asin,
            latex=r"\arcsin", domain=((-0.9, 0.9),), domain_text="arcsin needs -1 <= x <= 1")
elementwise("arccos", lambda xp, x: xp.arccos(x),
            (lambda x, o: -1.0 / op.sqrt(1.0 - x * x),), sp.acos,
            latex=r"\arccos", domain=((-0.9, 0.9),), domain_text="arccos needs -1 <= x <= 1")
elementwise("arctan", lambda xp, x: xp.arctan(x), (lambda x, o: 1.0 / (1.0 + x * x),),
            sp.atan, latex=r"\arctan")
elementwise("sigmoid", _sigmoid, (lambda x, o: o * (1.0 - o),),
            lambda x: 1 / (1 + sp.exp(-x)), latex=r"\sigma")
elementwise("softplus", lambda xp, x: xp.logaddexp(0.0, x), (lambda x, o: op.sigmoid(x),),
            lambda x: sp.log(1 + sp.exp(x)), holomorphic=False)
elementwise("relu", lambda xp, x: xp.maximum(x, 0.0), (lambda x, o: _step(o),),
            lambda x: sp.Piecewise((x, x > 0), (0, True)), holomorphic=False,
            special=(((0.0,), (0.0,)),))
elementwise("abs", lambda xp, x: xp.abs(x), (lambda x, o: op.sign(x),), sp.Abs, latex=r"\operatorname{abs}",
            holomorphic=False, special=(((0.0,), (0.0,)),))
elementwise("maximum", lambda xp, a, b: xp.maximum(a, b),
            (lambda a, b, o: _tie_split(a, b), lambda a, b, o: _tie_split(b, a)), sp.Max,
            latex=r"\max", holomorphic=False, special=(((1.0, 1.0), (0.5, 0.5)),))
elementwise("minimum", lambda xp, a, b: xp.minimum(a, b),
            (lambda a, b, o: _tie_split(b, a), lambda a, b, o: _tie_split(a, b)), sp.Min,
            latex=r"\min", holomorphic=False, special=(((1.0, 1.0), (0.5, 0.5)),))
elementwise("where", lambda xp, c, a, b: xp.where(c, a, b),
            (None, lambda c, a, b, o: c, lambda c, a, b, o: op.equal(c, False)),  # boolean masks:
            # ȳ·mask keeps ȳ's dtype
            lambda c, a, b: sp.Piecewise((a, c), (b, True)), holomorphic=False,
            domain=((-1.0, 1.0), (-2.0, 2.0), (-2.0, 2.0)))

# ----- non-differentiable element-wise (outputs are constants to every engine) ------------------
elementwise("greater", lambda xp, a, b: xp.greater(a, b), None, sp.StrictGreaterThan, symbol=">",
            latex=">", domain=((-2.0, 2.0),) * 2, holomorphic=False)
elementwise("less", lambda xp, a, b: xp.less(a, b), None, sp.StrictLessThan, symbol="<", latex="<",
            domain=((-2.0, 2.0),) * 2, holomorphic=False)
elementwise("equal", lambda xp, a, b: xp.equal(a, b), None, sp.Eq, symbol="==", latex="=",
            domain=((-2.0, 2.0),) * 2, holomorphic=False)
elementwise("greater_equal", lambda xp, a, b: xp.greater_equal(a, b), None, sp.GreaterThan,
            symbol=">=", latex=r"\geq", domain=((-2.0, 2.0),) * 2, holomorphic=False)
elementwise("less_equal", lambda xp, a, b: xp.less_equal(a, b), None, sp.LessThan, symbol="<=",
            latex=r"\leq", domain=((-2.0, 2.0),) * 2, holomorphic=False)
elementwise("sign", lambda xp, x: xp.sign(x), None, sp.sign, holomorphic=False)
elementwise("stop_gradient", lambda xp, x: x, None, lambda x: x, holomorphic=True)


# ----- structural primitives: reductions, shape ops, indexing, matmul --------------------------
# Parameters arrive normalized by diffkit.ops: axes are tuples of non-negative ints (or None),
# shapes are concrete tuples, indices are tuples.


def shape_of(v: Any) -> tuple[int, ...]:
    return tuple(getattr(v, "shape", ()))


def _batch_axes(axis: tuple[int, ...] | None, ndim: int) -> tuple[int, ...]:
    """Axes of a reduction moved past the leading tangent axis."""
    return tuple(range(1, ndim + 1)) if axis is None else tuple(a + 1 for a in axis)


def _kept_shape(shape: tuple[int, ...], axis: tuple[int, ...] | None) -> tuple[int, ...]:
    return tuple(1 if axis is None or i in axis else s for i, s in enumerate(shape))


def _count(shape: tuple[int, ...], axis: tuple[int, ...] | None) -> int:
    sizes = shape if axis is None else [shape[a] for a in axis]
    return math.prod(sizes)


def _expand_back(ct: Any, x: Any, axis: tuple[int, ...] | None, keepdims: bool) -> Any:
    """Reshape a reduction's cotangent to broadcast against its input."""
    return ct if keepdims else op.reshape(ct, _kept_shape(shape_of(x), axis))


structural(
    "sum",
    lambda xp, x, axis=None, keepdims=False: xp.sum(x, axis=axis, keepdims=keepdims),
    jvp=lambda ts, k, xs, out, axis=None, keepdims=False: op.sum(
        ts[0], axis=_batch_axes(axis, len(shape_of(xs[0]))), keepdims=keepdims),
    vjp=lambda ct, xs, out, axis=None, keepdims=False: (
        op.broadcast_to(_expand_back(ct, xs[0], axis, keepdims), shape_of(xs[0])),),
    symbol="sum", latex=r"\sum", vjp_needs_values=False,
)
structural(
    "mean",
    lambda xp, x, axis=None, keepdims=False: xp.mean(x, axis=axis, keepdims=keepdims),
    jvp=lambda ts, k, xs, out, axis=None, keepdims=False: op.mean(
        ts[0], axis=_batch_axes(axis, len(shape_of(xs[0]))), keepdims=keepdims),
    vjp=lambda ct, xs, out, axis=None, keepdims=False: (op.broadcast_to(
        op.mul(_expand_back(ct, xs[0], axis, keepdims), 1.0 / _count(shape_of(xs[0]), axis)),
        shape_of(xs[0])),),
    symbol="mean", latex=r"\operatorname{mean}", vjp_needs_values=False,
)


def _max_weights(x: Any, out: Any, axis: tuple[int, ...] | None, keepdims: bool) -> Any:
    """Where x attains the maximum, 1/(number of ties); elsewhere 0 (in x's dtype)."""
    hit = 1.0 - op.sign(_expand_back(out, x, axis, keepdims) - x)
    return op.div(hit, op.sum(hit, axis=axis, keepdims=True))


def _amax_sympy(x: Any, axis: tuple[int, ...] | None = None, keepdims: bool = False) -> Any:
    reduce = np.frompyfunc(lambda a, b: sp.Max(a, b), 2, 1).reduce
    out = x
    for a in sorted(axis if axis is not None else range(x.ndim), reverse=True):
        out = reduce(out, axis=a, keepdims=keepdims)
    return out


structural(
    "amax",
    lambda xp, x, axis=None, keepdims=False: xp.max(x, axis=axis, keepdims=keepdims),
    jvp=lambda ts, k, xs, out, axis=None, keepdims=False: op.sum(
        op.mul(ts[0], _max_weights(xs[0], out, axis, keepdims)),
        axis=_batch_axes(axis, len(shape_of(xs[0]))), keepdims=keepdims),
    vjp=lambda ct, xs, out, axis=None, keepdims=False: (op.mul(
        _expand_back(ct, xs[0], axis, keepdims), _max_weights(xs[0], out, axis, keepdims)),),
    sympy=_amax_sympy, symbol="max", latex=r"\max",
)
structural(
    "reshape",
    lambda xp, x, shape: xp.reshape(x, shape),
    jvp=lambda ts, k, xs, out, shape: op.reshape(ts[0], (k, *shape)),
    vjp=lambda ct, xs, out, shape: (op.reshape(ct, shape_of(xs[0])),),
    vjp_needs_values=False,
)
structural(
    "transpose",
    lambda xp, x, axes: xp.transpose(x, axes),
    jvp=lambda ts, k, xs, out, axes: op.transpose(ts[0], (0, *(a + 1 for a in axes))),
    vjp=lambda ct, xs, out, axes: (op.transpose(ct, tuple(int(i) for i in np.argsort(axes))),),
    latex=r"^\top", vjp_needs_values=False,
)


def _broadcast_jvp(ts: Any, k: int, xs: Any, out: Any, shape: tuple[int, ...]) -> Any:
    xshape = shape_of(xs[0])
    t = op.reshape(ts[0], (k,) + (1,) * (len(shape) - len(xshape)) + xshape)
    return op.broadcast_to(t, (k, *shape))


structural(
    "broadcast_to",
    lambda xp, x, shape: xp.broadcast_to(x, shape),
    jvp=_broadcast_jvp,
    vjp=lambda ct, xs, out, shape: (op.sum_to(ct, shape_of(xs[0])),),
    vjp_needs_values=False,
)


def _is_advanced(i: Any) -> bool:
    return hasattr(i, "shape") or isinstance(i, list)


def _batched_index(index: tuple[Any, ...]) -> tuple[Any, ...] | None:
    """The index with a leading full slice, or None where NumPy would move the advanced axes."""
    adv = [j for j, i in enumerate(index) if _is_advanced(i)]
    if len(adv) > 1 and adv[-1] - adv[0] != len(adv) - 1:
        return None
    return (slice(None), *index)


def _getitem_jvp(ts: Any, k: int, xs: Any, out: Any, index: tuple[Any, ...]) -> Any:
    batched = _batched_index(index)
    if batched is not None:
        return op.getitem(ts[0], batched)
    rows = [op.reshape(op.getitem(op.getitem(ts[0], (i,)), index), (1, *shape_of(out))) for i in range(k)]
    return op.concatenate(rows, axis=0)


def _getitem_sympy(x: Any, index: tuple[Any, ...]) -> Any:
    return np.asarray(x[index], dtype=object)


structural(
    "getitem",
    lambda xp, x, index: x[index],
    jvp=_getitem_jvp,
    vjp=lambda ct, xs, out, index: (op.index_add(ct, index, shape_of(xs[0])),),
    sympy=_getitem_sympy, symbol="[]", latex="[]", vjp_needs_values=False,
)


def _index_add_impl(xp: Any, v: Any, index: tuple[Any, ...], shape: tuple[int, ...]) -> Any:
    from .backend import scatter_add

    z = xp.zeros(shape, dtype=getattr(v, "dtype", float))
    return scatter_add(xp, z, index, v)


def _index_add_jvp(ts: Any, k: int, xs: Any, out: Any, index: Any, shape: Any) -> Any:
    batched = _batched_index(index)
    if batched is not None:
        return op.index_add(ts[0], batched, (k, *shape))
    rows = [op.reshape(op.index_add(op.getitem(ts[0], (i,)), index, shape), (1, *shape)) for i in range(k)]
    return op.concatenate(rows, axis=0)


structural(
    "index_add",
    _index_add_impl,
    jvp=_index_add_jvp,
    vjp=lambda ct, xs, out, index, shape: (op.getitem(ct, index),),
    sympy=lambda v, index, shape: _index_add_impl(np, np.asarray(v, dtype=object), index, shape),
    vjp_needs_values=False,
)


def _concat_jvp(ts: Any, k: int, xs: Any, out: Any, axis: int) -> Any:
    parts = [t if t is not None else np.zeros((k, *shape_of(x))) for t, x in zip(ts, xs, strict=True)]
    return op.concatenate(parts, axis=axis + 1)


def _concat_vjp(ct: Any, xs: Any, out: Any, axis: int) -> tuple[Any, ...]:
    cts, start = [], 0
    for x in xs:
        stop = start + shape_of(x)[axis]
        cts.append(op.getitem(ct, (slice(None),) * axis + (slice(start, stop),)))
        start = stop
    return tuple(cts)


structural(
    "concatenate",
    lambda xp, *xs, axis=0: xp.concatenate(xs, axis=axis),
    jvp=_concat_jvp,
    vjp=_concat_vjp,
    nargs=None,
    sympy=lambda *xs, axis=0: np.concatenate([np.asarray(x, dtype=object) for x in xs], axis=axis),
    vjp_needs_values=False,
)


def _roll_jvp(ts: Any, k: int, xs: Any, out: Any, shift: Any, axis: Any) -> Any:
    if axis is None:
        flat = op.reshape(ts[0], (k, math.prod(shape_of(xs[0]))))
        return op.reshape(op.roll(flat, shift, (1,)), (k, *shape_of(xs[0])))
    return op.roll(ts[0], shift, tuple(a + 1 for a in axis))


def _negate_shift(shift: Any) -> Any:
    return tuple(-s for s in shift) if isinstance(shift, tuple) else -shift


structural(
    "roll",
    lambda xp, x, shift, axis=None: xp.roll(x, shift, axis=axis),
    jvp=_roll_jvp,
    vjp=lambda ct, xs, out, shift, axis=None: (op.roll(ct, _negate_shift(shift), axis),),
    vjp_needs_values=False,
)


def _as_matrices(a: Any, b: Any) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """Shapes of a and b with 1-D operands promoted to matrices, as matmul does."""
    sa, sb = shape_of(a), shape_of(b)
    return (sa if len(sa) > 1 else (1, *sa)), (sb if len(sb) > 1 else (*sb, 1))


def _swap_last(x: Any) -> Any:
    n = len(shape_of(x))
    return op.transpose(x, (*range(n - 2), n - 1, n - 2))


def _matmul_vjp(ct: Any, xs: Any, out: Any) -> tuple[Any, Any]:
    a, b = xs
    sa, sb = _as_matrices(a, b)
    a2, b2 = op.reshape(a, sa), op.reshape(b, sb)
    ct2 = op.reshape(ct, _matmul_shape(sa, sb))
    da = op.matmul(ct2, _swap_last(b2))
    db = op.matmul(_swap_last(a2), ct2)
    return (op.reshape(op.sum_to(da, sa), shape_of(a)), op.reshape(op.sum_to(db, sb), shape_of(b)))


def _matmul_shape(sa: tuple[int, ...], sb: tuple[int, ...]) -> tuple[int, ...]:
    batch = np.broadcast_shapes(sa[:-2], sb[:-2])
    return (*batch, sa[-2], sb[-1])


def _matmul_jvp(ts: Any, k: int, xs: Any, out: Any) -> Any:
    """(a + ȧ)(b + ḃ) − ab = ȧb + aḃ, with the k tangent axis kept in front of every batch axis."""
    a, b = xs
    sa, sb = _as_matrices(a, b)
    nb = max(len(sa), len(sb)) - 2  # batch axes of the product

    def lead(shape: tuple[int, ...], tangent: bool) -> tuple[int, ...]:
        pad = (1,) * (nb - (len(shape) - 2))
        return (k, *pad, *shape) if tangent else (1, *pad, *shape)

    total = None
    if ts[0] is not None:
        total = op.matmul(op.reshape(ts[0], lead(sa, True)), op.reshape(b, lead(sb, False)))
    if ts[1] is not None:
        term = op.matmul(op.reshape(a, lead(sa, False)), op.reshape(ts[1], lead(sb, True)))
        total = term if total is None else op.add(total, term)
    return op.reshape(total, (k, *shape_of(out)))


structural(
    "matmul",
    lambda xp, a, b: xp.matmul(a, b),
    jvp=_matmul_jvp,
    vjp=_matmul_vjp,
    nargs=2,
    symbol="@",
    latex=r"\cdot",
)

# ----- neural-net primitives ------------------------------------------------------------------
# Fused operations that diffkit.nn builds layers and losses from: one node instead of many keeps
# the eager tape short, and their rules stay in float32 when the inputs are float32.


def _linear_jvp(ts: Any, k: int, xs: Any, out: Any) -> Any:
    x, w, _ = xs
    n_in, n_out = shape_of(w)[1], shape_of(w)[0]
    total = None
    if ts[0] is not None:
        total = op.matmul(ts[0], op.transpose(w))
    if ts[1] is not None:
        x2 = op.reshape(x, (-1, n_in))
        term = op.reshape(op.matmul(x2, op.transpose(ts[1], (0, 2, 1))), (k, *shape_of(out)))
        total = term if total is None else op.add(total, term)
    if ts[2] is not None:
        term = op.reshape(ts[2], (k,) + (1,) * (len(shape_of(out)) - 1) + (n_out,))
        total = term if total is None else op.add(total, term)
    return op.broadcast_to(total, (k, *shape_of(out)))


def _linear_vjp(ct: Any, xs: Any, out: Any) -> tuple[Any, Any, Any]:
    x, w, _ = xs
    ct2 = op.reshape(ct, (-1, shape_of(w)[0]))
    return (lambda: op.matmul(ct, w),  # x̄ (not needed for a network's data input)
            lambda: op.matmul(op.transpose(ct2), op.reshape(x, (-1, shape_of(w)[1]))),
            lambda: op.sum(ct2, axis=0))


structural(
    "linear",
    lambda xp, x, weight, bias: xp.matmul(x, weight.T) + bias,
    jvp=_linear_jvp,
    vjp=_linear_vjp,
    nargs=3,
    latex=r"\operatorname{linear}",
)


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
    """(k, n, ...) -> (k*n, ...): the tangent directions become extra batch rows."""
    s = shape_of(t)
    return op.reshape(t, (k * s[1], *s[2:]))


structural(
    "im2col",
    _im2col_impl,
    jvp=lambda ts, k, xs, out, kernel_size, stride, padding: op.reshape(
        op.im2col(_merge_k(ts[0], k), kernel_size, stride, padding), (k, *shape_of(out))),
    vjp=lambda ct, xs, out, kernel_size, stride, padding: (
        op.col2im(ct, kernel_size, stride, padding, shape_of(xs[0])),),
    latex=r"\operatorname{im2col}",
)
structural(
    "col2im",
    _col2im_impl,
    jvp=lambda ts, k, xs, out, kernel_size, stride, padding, shape: op.reshape(
        op.col2im(_merge_k(ts[0], k), kernel_size, stride, padding,
                  (k * shape[0], *shape[1:])), (k, *shape)),
    vjp=lambda ct, xs, out, kernel_size, stride, padding, shape: (
        op.im2col(ct, kernel_size, stride, padding),),
    latex=r"\operatorname{col2im}",
)


def _xent_impl(xp: Any, z: Any, t: Any) -> Any:
    m = xp.max(z, axis=-1, keepdims=True)
    log_p = z - (m + xp.log(xp.sum(xp.exp(z - m), axis=-1, keepdims=True)))
    return -xp.sum(t * log_p, axis=-1)


def _xent_vjp(ct: Any, xs: Any, out: Any) -> tuple[Any, Any]:
    z, t = xs
    log_p = op.log_softmax(z, axis=-1)
    ct1 = op.reshape(ct, (*shape_of(ct), 1))
    return (lambda: op.mul(ct1, op.sub(op.mul(op.exp(log_p), op.sum(t, axis=-1, keepdims=True)), t)),
            lambda: op.mul(ct1, op.neg(log_p)))  # t̄: only for learned targets


def _xent_jvp(ts: Any, k: int, xs: Any, out: Any) -> Any:
    rules = _xent_vjp(op.broadcast_to(1.0, shape_of(out)), xs, out)
    total = None
    for tan, d in zip(ts, rules):
        if tan is not None:
            term = op.sum(op.mul(tan, d()), axis=-1)
            total = term if total is None else op.add(total, term)
    return total


def _xent_sympy(z: Any, t: Any) -> Any:
    z, t = np.asarray(z, dtype=object), np.asarray(t, dtype=object)
    lse = np.frompyfunc(lambda *row: sp.log(sum(sp.exp(v) for v in row)), z.shape[-1], 1)
    lse_z = np.asarray(lse(*np.moveaxis(z, -1, 0)), dtype=object)  # 0-d for 1-D logits
    return np.sum(t * (lse_z[..., None] - z), axis=-1)


structural(
    "softmax_cross_entropy",
    _xent_impl,
    jvp=_xent_jvp,
    vjp=_xent_vjp,
    nargs=2,
    sympy=_xent_sympy,
    latex=r"\operatorname{CE}",
)

#: log(max(p, e^-100)) = max(log p, -100): the clamp PyTorch's binary cross-entropy applies.
_BCE_FLOOR = math.exp(-100.0)


def _bce_dp(p: Any, y: Any, o: Any) -> Any:
    return (p - y) / op.maximum(p * (1.0 - p), 1e-12)


def _bce_dy(p: Any, y: Any, o: Any) -> Any:
    return op.log(op.maximum(1.0 - p, _BCE_FLOOR)) - op.log(op.maximum(p, _BCE_FLOOR))


elementwise(
    "binary_cross_entropy",
    lambda xp, p, y: -(y * xp.log(xp.maximum(p, _BCE_FLOOR))
                       + (1.0 - y) * xp.log(xp.maximum(1.0 - p, _BCE_FLOOR))),
    (_bce_dp, _bce_dy),
    lambda p, y: -(y * sp.log(p) + (1 - y) * sp.log(1 - p)),
    latex=r"\operatorname{BCE}",
    domain=((0.05, 0.95), (0.0, 1.0)),
    domain_text="binary_cross_entropy needs 0 <= p <= 1 (logs are clamped at -100)",
    holomorphic=False,
)

from . import ops as op
