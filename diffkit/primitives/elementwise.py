"""Element-wise primitives: arithmetic, the elementary functions, complex parts, comparisons.

Values at kinks (the documented convention, shared by every engine): relu′(0) = 0, abs′(0) = 0,
maximum/minimum split the derivative equally at ties (½, ½), ∂(x**y)/∂y = 0 where x = 0 and
y > 0 (its limit; at 0**0 it is −∞: x**x at 0 is not differentiable),
∂(x**y)/∂x = 0 where y = 0 (not differentiated again at x = 0, y <= 1: pow's ``kinks``);
sqrt′(0) is infinite (an error, unless the incoming derivative is 0).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import MissingRuleError
from ..primitive import MINUS_ONE, ONE, moves
from .declare import (
    composite,
    cut,
    declared_in,
    dtype_of,
    elementwise,
    flat_everywhere,
    sympy_classes,
    ties_at_equal,
)

# ----- element-wise arithmetic ----------------------------------------------------------------


def _power(a: Any, e: Any) -> Any:
    """a**e in a rule: on Python floats pow's float form (NumPy's power: x·x for 2, sqrt for ½,
    which generated code prints; Python's ``**`` is C's pow, so the partial of x**3 depended on
    whether the code was compiled), raising where it is not finite (the linearization retries
    with NumPy scalars, whose infinities are singular partials); else the operator."""
    if type(a) is float and type(e) is float:
        return pow.on_floats(a, e)
    return a ** e


def _pow_dbase(a: Any, b: Any, o: Any) -> Any:
    """∂(a**b)/∂a = b·a**(b−1), taken as 0 where b = 0 (a**0 = 1 is constant, also at a = 0)."""
    if np.isscalar(b):  # a constant exponent, the common case
        return 0.0 if b == 0 else b * _power(a, b - 1.0)
    origin = where(equal(a, 0.0), equal(b, 0.0), False)  # 0**0: the only point to override
    return where(origin, 0.0, b * _power(where(origin, 1.0, a), b - 1.0))


def _pow_dexp(a: Any, b: Any, o: Any) -> Any:
    """∂(a**b)/∂b = a**b · ln a, taken as its limit 0 where a = 0 and b > 0; at 0**0 it is −∞
    (aᵇ·ln a → −∞ as a → 0 with b = 0; 0**b jumps from 1 to 0 there), an infinite partial: x**x
    at 0 (derivative → −∞) is a NonDifferentiableError, not 0 + 0."""
    zero = equal(a, 0.0)
    origin = where(zero, less_equal(b, 0.0), False)  # (0**b for b < 0 is not finite already)
    limit = log(where(origin, 0.0, 1.0))  # −∞ at 0**0 (a divide: the singular partial), else 0
    return where(zero, limit, o * log(where(zero, 1.0, a)))


def _pow_smooth(a: Any, b: Any, o: Any) -> Any:
    """pow's ``kinks``: at a zero base its partials are limits that can be differentiated again
    only for an exponent b > 1 (∂/∂b = aᵇ·ln a → 0, whose a-derivative aᵇ⁻¹(1 + b·ln a) → 0 only
    for b > 1; b·aᵇ⁻¹ jumps at b = 1 and 0**0 is a convention): false at a = 0, b <= 1. With a
    constant exponent b·aᵇ⁻¹ is exact (x**2, x**1.0 at 0); with a constant base, 0**b = 0 is
    flat in b > 0."""
    if not moves(b):
        return True
    return where(equal(a, 0.0), greater(b, 1.0 if moves(a) else 0.0), True)


add = elementwise("add", lambda xp, a, b: xp.add(a, b), (lambda a, b, o: ONE, lambda a, b, o: ONE),
                  lambda sp, a, b: a + b, symbol="+", latex="+",
                  unit=(-0.0, -0.0))  # x + (−0.0) is x; x + 0.0 turns −0.0 into +0.0
sub = elementwise("sub", lambda xp, a, b: xp.subtract(a, b),
                  (lambda a, b, o: ONE, lambda a, b, o: MINUS_ONE), lambda sp, a, b: a - b,
                  symbol="-", latex="-", numpy=("subtract",), unit=(None, 0.0))
mul = elementwise("mul", lambda xp, a, b: xp.multiply(a, b), (lambda a, b, o: b, lambda a, b, o: a),
                  lambda sp, a, b: a * b, symbol="*", unicode="×", latex=r"\times",
                  numpy=("multiply",), unit=(1.0, 1.0),
                  # ∂(a·b)/∂a is b: a zero of it holds near the point where b is a constant
                  # that is steady there (a mask x > 0 at x = 0 is not: x·(x > 0) is relu)
                  flat=lambda active, steady, a, b, o: (not active[1] and steady[1],
                                                        not active[0] and steady[0]))
div = elementwise("div", lambda xp, a, b: xp.divide(a, b),
                  (lambda a, b, o: 1.0 / b, lambda a, b, o: -(o / b)), lambda sp, a, b: a / b,
                  symbol="/", latex="/", numpy=("divide", "true_divide"), unit=(None, 1.0), domain=((-2.0, 2.0), (0.5, 2.0)),
                  domain_text="the divisor must not be 0", signed_zero=(False, True))
neg = elementwise("neg", lambda xp, a: xp.negative(a), (lambda a, o: MINUS_ONE,), lambda sp, a: -a,
                  scalar="(-{0})",
                  symbol="-", latex="-", numpy=("negative",))
def _zero_base(a: Any, b: Any) -> Any:
    """``signed_zero`` of a power's base: a zero base with a negative exponent (0⁻¹ = ±∞, and
    (x⁻²)′ = −2x⁻³ = ∓∞ at ±0), or a complex base on the cut of its logarithm, the negative
    real axis with a zero imaginary part ((−4 ∓ 0j)^½ = ∓2j)."""
    return ((np.asarray(a) == 0) & (np.real(b) < 0)) | cut(below=0.0)(a, b)


pow = elementwise("pow", lambda xp, a, b: xp.power(a, b), (_pow_dbase, _pow_dexp),
                  lambda sp, a, b: a**b, symbol="**", unicode="^", latex="^", numpy=("power",),
                  aliases=("power",), unit=(None, 1.0),
                  # NumPy's power: its loop squares for 2, takes sqrt for ½ (−0.0 stays −0.0,
                  # as np.power gives it; Python's and a NumPy scalar's ** give C pow's +0.0:
                  # the IR has one pow, np.power's) and the reciprocal for −1; C's pow elsewhere
                  # (math.pow: a ValueError where Python's ** would give a complex number)
                  scalar="({0} * {0} if {1} == 2.0 else math.sqrt({0}) if {1} == 0.5 else "
                         "1.0 / {0} if {1} == -1.0 else math.pow({0}, {1}))",
                  domain=((0.5, 2.0), (-2.0, 2.0)),
                  domain_text="a negative base needs an integer exponent",
                  special=(((0.0, 2.0), (0.0, 0.0)), ((0.0, 3.0), (0.0, 0.0)),
                           ((2.0, 0.0), (0.0, np.log(2.0))), ((0.0, 0.0), "nondifferentiable")),
                  kinks=_pow_smooth, signed_zero=(_zero_base, False))

# ----- element-wise functions ------------------------------------------------------------------
exp = elementwise("exp", lambda xp, x: xp.exp(x), (lambda x, o: o,), "exp", latex=r"\exp",
                  scalar="math.exp({0})")
log = elementwise("log", lambda xp, x: xp.log(x), (lambda x, o: 1.0 / x,), "log", unicode="ln",
                  latex=r"\ln", aliases=("ln",), scalar="math.log({0})", domain=((0.2, 4.0),),
                  domain_text="log needs x > 0", valid=lambda x: x > 0.0,
                  signed_zero=(cut(below=0.0),))
def _sympy_log1p(sp: Any, x: Any) -> Any:
    """SymPy's log1p, kept a function (log(1 + x) cancels near 0; derivative 1/(1 + x))."""
    from ._ufunc_sympy import log1p as sympy_log1p  # imports SymPy: on first use only

    return sympy_log1p(x)


log1p = elementwise("log1p", lambda xp, x: xp.log1p(x), (lambda x, o: 1.0 / plus_real(1.0, x),),
                    _sympy_log1p, scalar="math.log1p({0})", domain=((-0.5, 3.0),),
                    domain_text="log1p needs x > -1", valid=lambda x: x > -1.0,
                    signed_zero=(cut(below=-1.0),))
sqrt = elementwise("sqrt", lambda xp, x: xp.sqrt(x), (lambda x, o: 0.5 / o,), "sqrt", unicode="√",
                   latex=r"\sqrt", scalar="math.sqrt({0})", domain=((0.2, 4.0),),
                   domain_text="sqrt needs x >= 0", special=(((0.0,), "nondifferentiable"),),
                   signed_zero=(cut(below=0.0),))


def _norm_smooth(v: Any, s: Any, o: Any) -> Any:
    """norm_sqrt's ``kinks``: false where every term is 0 (its largest size s and the root o)."""
    return where(equal(s, 0.0), not_equal(o, 0.0), True)


def _norm_sqrt_partial(v: Any, s: Any, o: Any) -> Any:
    """½/√v, and the norm's convention 0 at its kink."""
    smooth = _norm_smooth(v, s, o)
    return where(smooth, 0.5 / where(smooth, o, 1.0), 0.0)


def _norm_sqrt_value(xp: Any, v: Any, s: Any) -> Any:
    """√v, broadcast against s as every element-wise record's value is (it was v's shape)."""
    root = xp.sqrt(v)
    shape = np.broadcast_shapes(np.shape(root), np.shape(s))
    return root if np.shape(root) == shape else xp.broadcast_to(root, shape).copy()


norm_sqrt = elementwise(
    "norm_sqrt", _norm_sqrt_value, (_norm_sqrt_partial, None),
    lambda sp, v, s: sympy_classes().norm_sqrt(v, s),
    unicode="√", latex=r"\sqrt", domain=((0.2, 4.0), (0.5, 2.0)), numpy=(), parseable=False,
    domain_text="norm_sqrt needs v >= 0", special=(((0.0, 0.0), (0.0, 0.0)),),
    kinks=_norm_smooth,
    doc="√v for v a sum of squares of terms whose largest size is s (std's last step): sqrt's "
        "values; where s = 0 (every term 0) its partial is 0, the smallest subgradient of the "
        "norm √v stands for (a kink: no second derivative); where v = 0 by underflow only "
        "(s > 0) it is sqrt′(0) = ∞, as sqrt's.", signed_zero=(cut(below=0.0), False))
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
def _real_part(x: Any) -> Any:
    """Re x for complex x, x itself otherwise: what the rules below branch on."""
    return real(x) if dtype_of(x).kind == "c" else x


def _sech2(x: Any, o: Any) -> Any:
    """tanh′ = sech²x: for |x| >= ½ as 4e/(1 + e)² with e = exp(−sx)², s = ±1 the sign of x (of Re x
    for complex x), a constant to the derivative: the identity holds for either sign, so every
    higher derivative is the analytic one, with no cancellation (1 − tanh² loses every digit for
    |x| > 18) and no overflow (|e| <= 1); for |x| < ½ as 1 − tanh², whose derivative −2·tanh·tanh′
    keeps its digits near 0 (that of 4e/(1 + e)² is a difference of two equal quotients there)."""
    re = _real_part(x)
    s = signum(where(equal(re, 0.0), 1.0, re))  # ±1 in x's dtype (no bool arithmetic: the
    h = exp(-x * s)  # rule prints as float code); e = h²: −2x would overflow for float32 3e38
    e = h * h
    return where(less(abs(re), 0.5), 1.0 - o * o, 4.0 * e / ((1.0 + e) * (1.0 + e)))


def logistic_prime(x: Any) -> Any:
    """σ′(x) = σ(x)·σ(−x) = ¼·sech²(x/2), with tanh's rule: exact also where σ(x) rounds to 1, and
    its own derivative −¼·tanh(x/2)·sech²(x/2) has no σ(−x) − σ(x) to cancel near 0."""
    h = 0.5 * x
    return 0.25 * _sech2(h, tanh(h))


def plus_real(c: float, x: Any, negate: bool = False) -> Any:
    """c + x (c − x with ``negate``) for a real constant c, the sign of a zero imaginary part of
    a complex x kept: the one way a rule adds a real constant to a value that may be complex.

    NumPy adds a real c to a complex z as (c + 0j), so the imaginary part of c + z is 0 + y, which
    is +0 for y = −0: a point on a branch cut (x < −1 − 0j for √(1 − z²)) moves to the other side
    than NumPy's own function takes. z − c keeps y (−0 − 0 = −0), so for complex x this computes
    c + x as −((−x) − c) and c − x as −(x − c): the real part rounded as c ± x (round to nearest
    is symmetric), the imaginary part y (−y for c − x) bit for bit, as Kahan's (c ± Re z) ± i·Im z.
    For a real x it is NumPy's c ± x itself (no extra operations; −(x − c) would give −0.0 at
    x = c). x − c needs no helper: NumPy's z − c already keeps y."""
    if dtype_of(x).kind != "c":
        return c - x if negate else c + x
    return -(x - c) if negate else -((-x) - c)


def one_minus_square(x: Any) -> Any:
    """1 − x²: as (1 − x)(1 + x) for |x| >= ½ (no cancellation near ±1), as 1 − x·x for |x| < ½,
    whose derivative −2x keeps its digits (the product's, (1 − x) − (1 + x), loses them near 0).
    Both are written with `plus_real`, so for a complex x on a branch cut (|x| > 1 ± 0j, reached
    from a real input through x + 0j, −(x + 0j), conj(x + 0j)) the imaginary part of 1 − x² has
    the sign of −2·Re x·Im x, zero or not, wherever 1 − (Re x)² < 0, and √(1 − x²) lies on the side NumPy's arcsin and
    arccos take (their slope at −1.5 − 0j is −1/√1.25, at 1.5 + 0j +i/√1.25). For complex x the
    product is (x − 1)(−x − 1) bit for bit (negating both factors changes no rounding)."""
    return where(less(abs(_real_part(x)), 0.5), plus_real(1.0, x * x, negate=True),
                 plus_real(1.0, x, negate=True) * plus_real(1.0, x))


def _arctan_prime(x: Any, o: Any) -> Any:
    """1/(1 + x²); for |x| > 1 as (1/x)/(x + 1/x): no x² to overflow, and no 1/(1 + x²)² in its
    derivative to underflow (at |x| = 1e100 it is 0 before the factor 2x)."""
    big = greater(abs(_real_part(x)), 1.0)
    small, large = where(big, 0.0, x), where(big, x, 1.0)  # each branch finite everywhere
    r = 1.0 / large
    return where(big, r / (large + r), 1.0 / plus_real(1.0, small * small))


def _sympy_tanh(sp: Any, x: Any) -> Any:
    """SymPy's tanh with tanh′ = sech² (SymPy's own 1 − tanh² cancels for large |x|)."""
    from ._ufunc_sympy import tanh as sympy_tanh  # imports SymPy: on first use only

    return sympy_tanh(x)


tanh = elementwise("tanh", lambda xp, x: xp.tanh(x), (_sech2,), _sympy_tanh, latex=r"\tanh",
                   scalar="math.tanh({0})")
arcsin = elementwise("arcsin", lambda xp, x: xp.arcsin(x),
                     (lambda x, o: 1.0 / sqrt(one_minus_square(x)),),
                     "asin", latex=r"\arcsin", aliases=("asin",), scalar="math.asin({0})",
                     domain=((-0.9, 0.9),), domain_text="arcsin needs -1 <= x <= 1",
                     signed_zero=(cut(-1.0, 1.0),))
arccos = elementwise("arccos", lambda xp, x: xp.arccos(x),
                     (lambda x, o: -1.0 / sqrt(one_minus_square(x)),), "acos", latex=r"\arccos",
                     aliases=("acos",), scalar="math.acos({0})", domain=((-0.9, 0.9),),
                     domain_text="arccos needs -1 <= x <= 1", signed_zero=(cut(-1.0, 1.0),))
arctan = elementwise("arctan", lambda xp, x: xp.arctan(x), (_arctan_prime,),
                     "atan", latex=r"\arctan", aliases=("atan",), scalar="math.atan({0})",
                     signed_zero=(cut(-1.0, 1.0, imaginary=True),))


def _sigmoid(xp: Any, x: Any) -> Any:
    if xp.iscomplexobj(x):  # the complex-step method needs the analytic formula
        return 1.0 / (1.0 + xp.exp(-x))
    e = xp.exp(-xp.abs(x))
    out = xp.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e))
    return out[()] if out.ndim == 0 else out  # a scalar for a scalar, as NumPy's ufuncs


sigmoid = elementwise("sigmoid", _sigmoid, (lambda x, o: logistic_prime(x),),
                      lambda sp, x: sp.Piecewise((1 / (1 + sp.exp(-x)), x >= 0),  # no overflow
                                                 (sp.exp(x) / (1 + sp.exp(x)), True)),
                      unicode="σ", latex=r"\sigma", numpy=(),
                      # _sigmoid's operations on a float (e = exp(−|x|), by the sign of x)
                      scalar="(1.0 / (1.0 + math.exp(-{0})) if {0} >= 0.0 else "
                             "math.exp({0}) / (1.0 + math.exp({0})))")
softplus = elementwise("softplus", lambda xp, x: xp.logaddexp(0.0, x), (lambda x, o: sigmoid(x),),
                       lambda sp, x: sp.Piecewise((x + _sympy_log1p(sp, sp.exp(-x)), x > 0),
                                                  (_sympy_log1p(sp, sp.exp(x)), True)),  # stable
                       numpy=(), holomorphic=False)
# relu's scalar form: max keeps −0.0 and NaN, `+ 0.0` makes −0.0 NumPy's +0.0 (maximum(−0.0, 0.0))
relu = elementwise("relu", lambda xp, x: xp.maximum(x, 0.0),
                   (lambda x, o: signum(o),),  # 1 where x > 0, else 0 (relu'(0) = 0), in x's dtype
                   lambda sp, x: sp.Piecewise((x, x > 0), (0, True)), numpy=(),
                   scalar="(max({0}, 0.0) + 0.0)", holomorphic=False, special=(((0.0,), (0.0,)),),
                   flat=lambda active, steady, x, o: (not_equal(x, 0.0),),  # 0 left of 0, not at it
                   affine_pieces=True)


def _abs_wirtinger(z: Any, o: Any) -> tuple[Any, Any]:
    """|z| = √(z z̄): ∂/∂z = z̄/(2|z|), ∂/∂z̄ = z/(2|z|); both 0 at z = 0 (the kink convention)."""
    half = where(equal(o, 0.0), 0.0, 0.5 / where(equal(o, 0.0), 1.0, o))
    return conj(z) * half, z * half


abs = elementwise("abs", lambda xp, x: xp.abs(x), (lambda x, o: signum(x),), "Abs",
                  latex=r"\operatorname{abs}", numpy=("absolute", "fabs"), scalar="abs({0})",
                  wirtinger=_abs_wirtinger, holomorphic=False, special=(((0.0,), (0.0,)),),
                  kinks=lambda x, o: not_equal(x, 0.0), affine_pieces=True)


def _tie_split(a: Any, b: Any) -> Any:
    """∂max(a, b)/∂a: 1 where a > b, ½ at ties, 0 elsewhere — as ½(1 + sign(a − b)), in a's dtype."""
    return 0.5 + 0.5 * signum(a - b)


# maximum and minimum have no Python scalar form: Python's max(3.0, nan) is 3.0 where NumPy
# propagates the NaN; generated scalar code calls np.maximum / np.minimum (NumPy's own rules)
maximum = elementwise("maximum", lambda xp, a, b: xp.maximum(a, b),
                      (lambda a, b, o: _tie_split(a, b), lambda a, b, o: _tie_split(b, a)), "Max",
                      latex=r"\max", aliases=("max",), holomorphic=False,
                      special=(((1.0, 1.0), (0.5, 0.5)),),
                      kinks=lambda a, b, o: not_equal(a, b), flat=flat_everywhere)
minimum = elementwise("minimum", lambda xp, a, b: xp.minimum(a, b),
                      (lambda a, b, o: _tie_split(b, a), lambda a, b, o: _tie_split(a, b)), "Min",
                      latex=r"\min", aliases=("min",), holomorphic=False,
                      special=(((1.0, 1.0), (0.5, 0.5)),),
                      kinks=lambda a, b, o: not_equal(a, b), flat=flat_everywhere)
def _where_sympy(sp: Any, c: Any, a: Any, b: Any) -> Any:
    cond = c if isinstance(c, sp.logic.boolalg.Boolean) and not isinstance(c, sp.Expr) else sp.Ne(c, 0)
    return sp.Piecewise((a, cond), (b, True))


where = elementwise("where", lambda xp, c, a, b: xp.where(c, a, b),
                    # boolean masks (a condition is true where it is nonzero): ȳ·mask keeps ȳ's dtype
                    (None, lambda c, a, b, o: not_equal(c, 0), lambda c, a, b, o: equal(c, 0)),
                    _where_sympy, parseable=False, scalar="{1} if {0} else {2}",
                    numpy=(),  # np.where dispatches through assembly.py (one-argument form too)
                    # holomorphic in a and b: its partials are the mask's constant 0s and 1s (the
                    # condition has no derivative)
                    holomorphic=True, domain=((-1.0, 1.0), (-2.0, 2.0), (-2.0, 2.0)),
                    # the mask's zeros hold near the point where the condition is steady (not
                    # x > 0 at x = 0: sqrt(where(x > 0, x, 0)) is sqrt(relu x))
                    flat=lambda active, steady, c, a, b, o: (True, steady[0], steady[0]))

# ----- complex numbers (JAX's convention: see docs/design.md) ----------------------------------
conj = elementwise("conj", lambda xp, x: xp.conj(x), (lambda x, o: ONE,), "conjugate",
                   latex=r"\overline", numpy=("conjugate", "conj"),
                   wirtinger=lambda z, o: (0.0, 1.0), holomorphic=False)
real = elementwise("real", lambda xp, x: xp.real(x), (lambda x, o: ONE,), "re", numpy=("real",),
                   wirtinger=lambda z, o: (0.5, 0.5), holomorphic=False)
imag = elementwise("imag", lambda xp, x: xp.imag(x), (lambda x, o: 0.0 * x,), "im",
                   numpy=("imag",), wirtinger=lambda z, o: (-0.5j, 0.5j), holomorphic=False)

# ----- non-differentiable element-wise (outputs are constants to every engine) ------------------
# a comparison flips in every neighbourhood of a tie (its ``ties``: the operands are equal)
_CMP = {"domain": ((-2.0, 2.0),) * 2, "holomorphic": False, "nargs": 2, "ties": ties_at_equal}
greater = elementwise("greater", lambda xp, a, b: xp.greater(a, b), None, "StrictGreaterThan",
                      symbol=">", latex=">", scalar="({0} > {1})", **_CMP)
less = elementwise("less", lambda xp, a, b: xp.less(a, b), None, "StrictLessThan", symbol="<",
                   latex="<", scalar="({0} < {1})", **_CMP)
equal = elementwise("equal", lambda xp, a, b: xp.equal(a, b), None, "Eq", symbol="==", latex="=",
                    scalar="({0} == {1})", **_CMP)
not_equal = elementwise("not_equal", lambda xp, a, b: xp.not_equal(a, b), None, "Ne", symbol="!=",
                        unicode="≠", latex=r"\neq", scalar="({0} != {1})", **_CMP)
greater_equal = elementwise("greater_equal", lambda xp, a, b: xp.greater_equal(a, b), None,
                            "GreaterThan", symbol=">=", unicode="≥", latex=r"\geq",
                            scalar="({0} >= {1})", **_CMP)
less_equal = elementwise("less_equal", lambda xp, a, b: xp.less_equal(a, b), None, "LessThan",
                         symbol="<=", unicode="≤", latex=r"\leq", scalar="({0} <= {1})", **_CMP)


def _prepare_sign(x: Any) -> tuple[tuple[Any, ...], dict[str, Any]]:
    """sign is piecewise constant on real numbers; on complex numbers it is z/|z| (NumPy 2),
    which is not complex-analytic: a complex value being differentiated is refused by name, as
    round's is, rather than differentiated as a constant."""
    if getattr(x, "requires_grad", False) and x.node.dtype.kind == "c":
        raise MissingRuleError(
            "sign of a complex value being differentiated (z/|z|) has no derivative rule: write "
            "z / np.abs(z), which is differentiable, or dk.stop_gradient(z) if a constant is meant")
    return (x,), {}


# sign as the derivative rules use it (abs′ = signum x, relu′ = signum o): a constant to
# differentiation, so that differentiating a rule again meets only the rule's own kink
signum = elementwise("signum", lambda xp, x: xp.sign(x), None, "sign", holomorphic=False,
                     # NumPy's: ±1 by the sign, 0.0 at ±0 (no signed zero), NaN at NaN
                     scalar="(1.0 if {0} > 0.0 else -1.0 if {0} < 0.0 else 0.0 if {0} == 0.0 "
                            "else {0})",
                     numpy=(), ties=lambda active, x, o: (x == 0.0, -1.0, 1.0),  # -1 to 1 at 0
                     doc="sign(x) as a constant to differentiation (the rules' sign).")
# the user's sign: derivative 0 away from 0; at 0 its value is no side's (−1 and 1), so a
# derivative that multiplies sign(0) = 0 is a convention there — differentiated again through 0
# it is a NonDifferentiableError ((x·sign x)² at 0 would give f″ = 0 for 2)
sign = elementwise("sign", lambda xp, x: xp.sign(x), (lambda x, o: 0.0,), "sign",
                   holomorphic=False, prepare=_prepare_sign, flat=flat_everywhere,
                   kinks=lambda x, o: not_equal(x, 0.0),
                   ties=lambda active, x, o: (x == 0.0, -1.0, 1.0),  # from -1 to 1 at 0
                   doc="NumPy's sign; derivative 0, a kink at 0 for second derivatives.")
stop_gradient = elementwise("stop_gradient", lambda xp, x: x, None, lambda sp, x: x, numpy=())


@composite(numpy=("square",), parseable=True, nargs=1)
def square(x: Any) -> Any:
    """x² (a composite: mul(x, x))."""
    return mul(x, x)


power = pow  # NumPy's name for the same record

__all__ = [*declared_in(__name__), "power"]
