"""Element-wise NumPy ufuncs beyond the elementary functions (exp2, hypot, mod, clip, rounding, …).

Every record here computes NumPy's own value (``impl`` calls the NumPy ufunc of the same name, so
values, dtypes, signed zeros and NaNs are NumPy's) and declares its derivative. The conventions
where a derivative does not exist in the ordinary sense, shared by every engine (the SymPy
translations carry the same ones, see :mod:`diffkit.primitives._ufunc_sympy`):

* **piecewise-constant functions** (floor, ceil, rint, trunc, fix, round, floor_divide, and
  heaviside in its first argument) are differentiable records with derivative 0 everywhere, the
  jumps included (as in JAX): ``x - floor(x)`` has derivative 1. ``heaviside(x1, x2)`` has the
  derivative 1 in ``x2`` where ``x1 == 0`` (the value is ``x2`` there), 0 elsewhere;
* **mod / remainder** (the sign of the divisor: Python's ``%``) and **fmod** (the sign of the
  dividend: C's): ∂/∂x = 1, ∂/∂y = −q with q the integer quotient of NumPy's own division
  (``floor_divide(x, y)`` for mod, the exact ``rint((x − fmod(x, y))/y)`` for fmod). At a jump
  (x a multiple of y) these are the partials of the branch NumPy's value lies on: mod(3, 1.5) = 0
  gets ∂/∂y = −2, as does every point just above 3;
* **copysign(x, y)** = ±|x| by the sign bit of y: ∂/∂x = sign(x)·(±1), which is 0 at x = 0 (as
  abs′(0) = 0); ∂/∂y = 0 (a jump at y = 0, as in JAX);
* **fmax / fmin** split the derivative ½–½ at ties, as maximum and minimum; where one argument is
  NaN the other gets the whole derivative (it is the value);
* **clip(x, lo, hi)** is minimum(maximum(x, lo), hi), NumPy's definition: derivative 1 inside, 0
  outside, the bound's 1 where it is the value, and ½–½ on a boundary (x == lo), the tie convention
  of maximum/minimum (JAX's too);
* **nan_to_num** has derivative 1 where x is finite, 0 where it replaces NaN or ±inf;
* **hypot** has partials 0 at the origin (a cone, as abs′(0) = 0); **arctan2** is not
  differentiable at the origin (a NonDifferentiableError);
* **sinc** is NumPy's normalized sin(πx)/(πx), with the value 1 and derivative 0 at x = 0 (its
  derivatives at 0 are those of its Taylor series, also the second, −π²/3);
* **angle / arg** of a complex number follows JAX's convention through Wirtinger derivatives
  (arg z = Im log z: ∂/∂z = 1/(2iz), ∂/∂z̄ = −1/(2i z̄)); of a real number it is 0 or π (by the sign
  bit: angle(−0.0) = π), with derivative 0;
* **the boolean ufuncs** (logical_and/or/xor/not, isfinite, isnan, isinf, signbit, and
  bitwise_and/or/xor and invert, which NumPy's ``&``, ``|``, ``^``, ``~`` on masks call) are not
  differentiable: their outputs are constants to every engine;
* **astype**: a cast between floating (or complex) types is differentiable, its cotangent cast
  back to the input's type (a complex cotangent projected on the reals for a real input); a cast to
  an integer or bool type, or from one, is a constant to every engine;
* **float_power** casts its inputs to float64 (complex128) first, as NumPy computes it, so float32
  inputs get float32 gradients; its derivatives are pow's.

Where the sign of a zero decides (copysign(x, −0.0), angle(−0.0), signbit), the AD engines follow
NumPy's value; SymPy has one unsigned 0, so the symbolic engine refuses by name at a point where
such an argument holds a zero (the records' ``signed_zero``), rather than computing with +0.

Records whose derivative depends on a keyword are composites over the records: ``round(a,
decimals)`` (NumPy's rint(a·10ᵈ)/10ᵈ), ``angle(z, deg)`` (``arg`` in radians or degrees), ``fix``,
``divmod``, ``nan_to_num``, ``real_if_close``. ``clip`` takes NumPy's spellings of its bounds
(``a_min``/``a_max``, ``min``/``max``, None for an open side) through its ``prepare``.
"""

from __future__ import annotations

import builtins
import math
import operator
from typing import Any

import numpy as np

from ..errors import InputTypeError, TracingError
from ..ir import Traced
from ..primitive import IDENTITY, ONE, Constant, moves
from .declare import composite, cut, declared_in, elementwise, flat_everywhere, structural
from .declare import dtype_of as _dtype_of
from .declare import sympy_classes as _S
from .elementwise import (
    _pow_dbase,
    _pow_dexp,
    _pow_smooth,
    _tie_split,
    _zero_base,
    abs,
    conj,
    cos,
    equal,
    exp,
    greater_equal,
    imag,
    less,
    maximum,
    not_equal,
    one_minus_square,
    plus_real,
    real,
    sigmoid,
    signum,
    sin,
    sqrt,
    stop_gradient,
    where,
)

_LN2 = Constant(math.log(2.0), "0.693147180559945309417232121458176568")
_LN10 = Constant(math.log(10.0), "2.30258509299404568401799145468436421")
_DEG = Constant(math.pi / 180.0,  # what NumPy's deg2rad multiplies by
                "0.0174532925199432957692369076848861271")
_RAD = Constant(180.0 / math.pi, "57.2957795130823208767981548141051703")  # and rad2deg
_PI = Constant(math.pi, "3.14159265358979323846264338327950288")


def _zero(*args: Any) -> float:
    """A partial that is 0 everywhere (a Python float: it keeps the cotangent's dtype and shape)."""
    return 0.0


def _np(*names: str) -> tuple[str, ...]:
    """The NumPy names among `names` that this NumPy has (asinh, atan2, bitwise_invert and
    astype are NumPy 2's)."""
    return tuple(n for n in names if hasattr(np, n))


# ----- non-differentiable: the boolean ufuncs NumPy code uses around masks -----------------------
_BOOL = {"holomorphic": False}

logical_and = elementwise(
    "logical_and", lambda xp, a, b: xp.logical_and(a, b), None,
    lambda sp, a, b: sp.And(_S().truth(a), _S().truth(b)), nargs=2, **_BOOL,
    doc="Element-wise a and b (NumPy's truth: nonzero is true); a constant to every engine.")
logical_or = elementwise(
    "logical_or", lambda xp, a, b: xp.logical_or(a, b), None,
    lambda sp, a, b: sp.Or(_S().truth(a), _S().truth(b)), nargs=2, **_BOOL,
    doc="Element-wise a or b; a constant to every engine.")
logical_xor = elementwise(
    "logical_xor", lambda xp, a, b: xp.logical_xor(a, b), None,
    lambda sp, a, b: sp.Xor(_S().truth(a), _S().truth(b)), nargs=2, **_BOOL,
    doc="Element-wise a xor b; a constant to every engine.")
logical_not = elementwise(
    "logical_not", lambda xp, a: xp.logical_not(a), None,
    lambda sp, a: sp.Not(_S().truth(a)), nargs=1, **_BOOL,
    doc="Element-wise not a (``~mask`` on a traced mask); a constant to every engine.")
isfinite = elementwise("isfinite", lambda xp, x: xp.isfinite(x), None,
                       lambda sp, x: _S().isfinite(x), nargs=1, **_BOOL,
                       doc="Where x is neither infinite nor NaN; a constant to every engine.")
isnan = elementwise("isnan", lambda xp, x: xp.isnan(x), None, lambda sp, x: _S().isnan(x),
                    nargs=1, **_BOOL, doc="Where x is NaN; a constant to every engine.")
isinf = elementwise("isinf", lambda xp, x: xp.isinf(x), None, lambda sp, x: _S().isinf(x),
                    nargs=1, **_BOOL, doc="Where x is ±inf; a constant to every engine.")
signbit = elementwise("signbit", lambda xp, x: xp.signbit(x), None,
                      lambda sp, x: sp.false if x is sp.nan else x < 0,
                      nargs=1, ties=lambda active, x, o: x == 0.0, **_BOOL,
                      doc="Where the sign bit of x is set (x < 0, and −0.0); a constant.",
                      signed_zero=(True,))

def _bitwise(name: str, logical: str) -> Any:
    """NumPy's bitwise ufunc on booleans and integers; floating and complex operands are
    refused as NumPy refuses them (a TypeError naming the fix: it computed the logical one, by
    their truth, a value where NumPy has none); other operands (object arrays) by their truth."""
    def impl(xp: Any, *args: Any) -> Any:
        kinds = [_dtype_of(a).kind for a in args]
        if all(k in "biu" for k in kinds):
            return getattr(xp, name)(*args)
        if any(k in "fc" for k in kinds):
            types = ", ".join(str(_dtype_of(a)) for a in args)
            raise InputTypeError(
                f"numpy.{name} takes booleans or integers, not {types} (NumPy refuses them): "
                f"compare first (x > 0), or use np.{logical} for the truth of numbers")
        return getattr(xp, logical)(*args)

    return impl


#: NumPy's & | ^ ~ on arrays (``mask & traced_mask`` from an ndarray on the left): bitwise on
#: integers, logical on booleans, as NumPy computes them
bitwise_and = elementwise(
    "bitwise_and", _bitwise("bitwise_and", "logical_and"), None,
    lambda sp, a, b: _S().bitwise("and", a, b), nargs=2, **_BOOL,
    doc="NumPy's bitwise_and (a & b on masks); a constant to every engine.")
bitwise_or = elementwise(
    "bitwise_or", _bitwise("bitwise_or", "logical_or"), None,
    lambda sp, a, b: _S().bitwise("or", a, b), nargs=2, **_BOOL,
    doc="NumPy's bitwise_or (a | b on masks); a constant to every engine.")
bitwise_xor = elementwise(
    "bitwise_xor", _bitwise("bitwise_xor", "logical_xor"), None,
    lambda sp, a, b: _S().bitwise("xor", a, b), nargs=2, **_BOOL,
    doc="NumPy's bitwise_xor (a ^ b on masks); a constant to every engine.")
invert = elementwise(
    "invert", _bitwise("invert", "logical_not"), None, lambda sp, a: _S().bitwise("not", a),
    nargs=1, numpy=_np("invert", "bitwise_not", "bitwise_invert"), **_BOOL,
    doc="NumPy's invert (~a on masks); a constant to every engine.")

# ----- piecewise constant: derivative 0 everywhere (as JAX) -------------------------------------
_STEP = {"holomorphic": False, "flat": flat_everywhere}


def _floor_jumps(active: Any, x: Any, o: Any) -> tuple[Any, Any, Any]:
    """``ties`` of floor: it jumps where x is an integer n (the output equals x), from n − 1 to n."""
    return o == x, o - 1.0, o


def _ceil_jumps(active: Any, x: Any, o: Any) -> tuple[Any, Any, Any]:
    """``ties`` of ceil: it jumps where x is an integer n (the output equals x), from n to n + 1."""
    return o == x, o, o + 1.0


def _quotient_jumps(active: Any, x: Any, y: Any, o: Any) -> Any:
    """``ties`` of x // y and x mod y: they jump where x/y is an integer (the remainder is 0),
    by x, or by y unless x = 0 (0/y stays 0)."""
    return ((x % y) == 0.0) & (active[0] | (x != 0.0))


def _floor_divide_jumps(active: Any, x: Any, y: Any, o: Any) -> Any:
    """``ties`` of x // y (:func:`_quotient_jumps`); with y fixed, its sides at x/y = k: k − 1 and
    k (y > 0), k and k − 1 (y < 0)."""
    tie = _quotient_jumps(active, x, y, o)
    return tie if active[1] else (tie, o - (y > 0.0), o - (y < 0.0))


floor = elementwise("floor", lambda xp, x: xp.floor(x), (_zero,), lambda sp, x: _S().floor(x),
                    scalar="np.floor({0})", latex=r"\operatorname{floor}",
                    domain=((-1.9, -1.1),), special=(((2.0,), (0.0,)),), **_STEP,
                    ties=_floor_jumps, doc="NumPy's floor; derivative 0 (also at the integers).")
ceil = elementwise("ceil", lambda xp, x: xp.ceil(x), (_zero,), lambda sp, x: _S().ceiling(x),
                   scalar="np.ceil({0})", domain=((-1.9, -1.1),), special=(((2.0,), (0.0,)),),
                   **_STEP, ties=_ceil_jumps,
                   doc="NumPy's ceil; derivative 0 (also at the integers).")
rint = elementwise("rint", lambda xp, x: xp.rint(x), (_zero,), lambda sp, x: _S().rint(x),
                   domain=((0.6, 1.4),), special=(((0.5,), (0.0,)),), **_STEP,
                   ties=lambda active, x, o: (abs(x - o) == 0.5, x - 0.5, x + 0.5),  # at k + ½: k to k + 1
                   doc="NumPy's rint (nearest integer, ties to even); derivative 0.")
trunc = elementwise("trunc", lambda xp, x: xp.trunc(x), (_zero,), lambda sp, x: _S().trunc(x),
                    scalar="np.trunc({0})", domain=((-1.9, -1.1),),
                    special=(((-1.0,), (0.0,)),), **_STEP,
                    ties=lambda active, x, o: ((o == x) & (x != 0.0), o - (x > 0.0), o + (x < 0.0)),  # not at 0
                    doc="NumPy's trunc (towards 0); derivative 0.")
floor_divide = elementwise(
    "floor_divide", lambda xp, x, y: xp.floor_divide(x, y), (_zero, _zero),
    lambda sp, x, y: _S().floor_divide(x, y), domain=((2.1, 2.9), (1.5, 2.0)),
    domain_text="the divisor must not be 0", **_STEP, ties=_floor_divide_jumps,
    doc="NumPy's floor_divide (x // y, the floor of the quotient); derivative 0.",
    signed_zero=(False, True))


def _heaviside_smooth(x1: Any, x2: Any, o: Any) -> Any:
    """Where heaviside's partials are no convention: everywhere but at x1 = 0 where x1 moves —
    there its value x2 is no side's (0 and 1) and its x2-partial [x1 = 0] jumps, so a derivative
    through it is not differentiated again. With x1 fixed, heaviside(0, x2) = x2 is smooth."""
    if not moves(x1):
        return True
    return not_equal(x1, 0.0)


def _heaviside_jumps(active: Any, x1: Any, x2: Any, o: Any) -> Any:
    """``ties`` of heaviside: it jumps by x1 at 0, from 0 to 1 (its value there is x2, which
    must be fixed for the sides to say where it can be)."""
    tie = active[0] & (x1 == 0.0)
    return tie if active[1] else (tie, 0.0, 1.0)


heaviside = elementwise(
    "heaviside", lambda xp, x1, x2: xp.heaviside(x1, x2),
    (_zero, lambda x1, x2, o: equal(x1, 0.0)),  # the value is x2 exactly where x1 == 0
    lambda sp, x1, x2: _S().heaviside(x1, x2),
    domain=((0.2, 2.0), (-2.0, 2.0)), special=(((0.0, 0.5), (0.0, 1.0)), ((1.0, 0.5), (0.0, 0.0))),
    kinks=_heaviside_smooth, **_STEP,
    ties=_heaviside_jumps,
    doc="NumPy's heaviside(x1, x2): 0, x2 or 1 by the sign of x1; ∂/∂x2 = [x1 == 0].")

# ----- remainders ---------------------------------------------------------------------------------


def _fmod_quotient(x: Any, y: Any, o: Any) -> Any:
    """The integer q with fmod(x, y) = x − q·y, from NumPy's own remainder (trunc(x/y) rounds the
    wrong way where x/y rounds up to an integer: fmod(1, 0.1) = 0.0999… has q = 9, not 10)."""
    return rint((x - o) / y)


mod = elementwise("mod", lambda xp, x, y: xp.mod(x, y),
                  (lambda x, y, o: ONE, lambda x, y, o: -floor_divide(x, y)),
                  lambda sp, x, y: _S().Mod(x, y), numpy=("mod", "remainder"),
                  aliases=("remainder",), domain=((2.1, 2.9), (1.5, 2.0)),
                  domain_text="the divisor must not be 0", holomorphic=False,
                  special=(((3.0, 1.5), (1.0, -2.0)), ((-3.0, 1.5), (1.0, 2.0))),
                  ties=_quotient_jumps, affine_pieces=True,
                  doc="NumPy's mod/remainder (x % y, the sign of y): ∂/∂x = 1, ∂/∂y = −(x // y).")
fmod = elementwise("fmod", lambda xp, x, y: xp.fmod(x, y),
                   (lambda x, y, o: ONE, lambda x, y, o: -_fmod_quotient(x, y, o)),
                   lambda sp, x, y: _S().fmod(x, y), domain=((-2.9, -2.1), (1.5, 2.0)),
                   domain_text="the divisor must not be 0", holomorphic=False,
                   special=(((3.0, 1.5), (1.0, -2.0)), ((-3.0, 1.5), (1.0, 2.0))),
                   ties=lambda active, x, y, o: (o == 0.0) & (x != 0.0),  # x/y = k ≠ 0
                   affine_pieces=True, doc="NumPy's fmod (C's remainder, the sign of x): ∂/∂x = 1, ∂/∂y = −trunc(x/y).")


@composite(numpy=("divmod",), nargs=2)
def divmod(x: Any, y: Any) -> tuple[Any, Any]:
    """NumPy's divmod: (floor_divide(x, y), mod(x, y))."""
    return floor_divide(x, y), mod(x, y)


# ----- exponentials, logarithms, inverse hyperbolic functions -----------------------------------
exp2 = elementwise("exp2", lambda xp, x: xp.exp2(x), (lambda x, o: o * _LN2(o),),
                   lambda sp, x: 2**x, doc="2**x (NumPy's exp2).")
expm1 = elementwise("expm1", lambda xp, x: xp.expm1(x), (lambda x, o: exp(x),),
                    lambda sp, x: _S().expm1(x), scalar="math.expm1({0})",
                    doc="exp(x) − 1, exact for small x (NumPy's expm1).")
log2 = elementwise("log2", lambda xp, x: xp.log2(x), (lambda x, o: 1.0 / (x * _LN2(x)),),
                   lambda sp, x: sp.log(x, 2), scalar="math.log2({0})", domain=((0.2, 4.0),),
                   domain_text="log2 needs x > 0", valid=lambda x: x > 0.0, latex=r"\log_2",
                   doc="Base-2 logarithm.", signed_zero=(cut(below=0.0),))
log10 = elementwise("log10", lambda xp, x: xp.log10(x), (lambda x, o: 1.0 / (x * _LN10(x)),),
                    lambda sp, x: sp.log(x, 10), scalar="math.log10({0})", domain=((0.2, 4.0),),
                    domain_text="log10 needs x > 0", valid=lambda x: x > 0.0, latex=r"\log_{10}",
                    doc="Base-10 logarithm.", signed_zero=(cut(below=0.0),))
def _arcsinh_prime(x: Any, o: Any) -> Any:
    """1/√(1 + x²): as 1/hypot(x, 1) for real x (no overflow of x² for |x| > 1e154)."""
    if _dtype_of(x).kind == "c":
        return 1.0 / sqrt(plus_real(1.0, x * x))
    return 1.0 / hypot(x, 1.0)


arcsinh = elementwise("arcsinh", lambda xp, x: xp.arcsinh(x), (_arcsinh_prime,), "asinh",
                      latex=r"\operatorname{arsinh}", numpy=_np("arcsinh", "asinh"),
                      aliases=("asinh",), scalar="math.asinh({0})",
                      doc="Inverse hyperbolic sine.",
                      signed_zero=(cut(-1.0, 1.0, imaginary=True),))
arccosh = elementwise("arccosh", lambda xp, x: xp.arccosh(x),
                      # √(x−1)·√(x+1), not √(x²−1): the principal branch also for complex x
                      (lambda x, o: 1.0 / (sqrt(x - 1.0) * sqrt(plus_real(1.0, x))),), "acosh",
                      latex=r"\operatorname{arcosh}", numpy=_np("arccosh", "acosh"),
                      aliases=("acosh",), scalar="math.acosh({0})", domain=((1.2, 4.0),),
                      domain_text="arccosh needs x >= 1",
                      special=(((1.0,), "nondifferentiable"),),
                      doc="Inverse hyperbolic cosine (not differentiable at 1).",
                      signed_zero=(cut(below=1.0),))
arctanh = elementwise("arctanh", lambda xp, x: xp.arctanh(x),
                      (lambda x, o: 1.0 / one_minus_square(x),), "atanh",
                      latex=r"\operatorname{artanh}", numpy=_np("arctanh", "atanh"),
                      aliases=("atanh",), scalar="math.atanh({0})", domain=((-0.9, 0.9),),
                      domain_text="arctanh needs -1 < x < 1", doc="Inverse hyperbolic tangent.",
                      signed_zero=(cut(-1.0, 1.0),))
reciprocal = elementwise("reciprocal", lambda xp, x: xp.reciprocal(x), (lambda x, o: -(o * o),),
                         lambda sp, x: 1 / x, domain=((0.5, 2.0),),
                         domain_text="the reciprocal of 0 is infinite", doc="1/x.",
                         signed_zero=(True,))


def _cbrt_sympy(sp: Any, x: Any) -> Any:
    third = sp.Rational(1, 3)
    return sp.Piecewise((x**third, x >= 0), (-((-x) ** third), True))


cbrt = elementwise("cbrt", lambda xp, x: xp.cbrt(x), (lambda x, o: 1.0 / (3.0 * (o * o)),),
                   _cbrt_sympy, latex=r"\sqrt[3]", holomorphic=False, domain=((-2.0, 1.5),),
                   special=(((0.0,), "nondifferentiable"),),
                   doc="The real cube root (negative for negative x); not differentiable at 0.")


def _logaddexp_sympy(base: Any = None) -> Any:
    return lambda sp, x, y: _S().logaddexp(x, y, base)


logaddexp = elementwise("logaddexp", lambda xp, x, y: xp.logaddexp(x, y),
                        (lambda x, y, o: sigmoid(x - y), lambda x, y, o: sigmoid(y - x)),
                        _logaddexp_sympy(), holomorphic=False,
                        special=(((1.0, 1.0), (0.5, 0.5)),),
                        doc="log(exp(x) + exp(y)) without overflow; ∂/∂x = σ(x − y).")
logaddexp2 = elementwise("logaddexp2", lambda xp, x, y: xp.logaddexp2(x, y),
                         (lambda x, y, o: sigmoid((x - y) * _LN2(o)),
                          lambda x, y, o: sigmoid((y - x) * _LN2(o))),
                         _logaddexp_sympy(2), holomorphic=False,
                         special=(((1.0, 1.0), (0.5, 0.5)),),
                         doc="log2(2**x + 2**y) without overflow; ∂/∂x = σ((x − y)·ln 2).")

# ----- trigonometric helpers ----------------------------------------------------------------------


def _hypot_partial(a: Any, b: Any, o: Any) -> Any:
    """∂hypot(a, b)/∂a = a/r, taken as 0 at the origin (a cone's apex, as abs′(0) = 0). Written with
    the ratio q of the shorter leg to the longer (|q| <= 1): sign(a)/hypot(1, q) where |a| >= |b|,
    sign(b)·q/hypot(1, q) elsewhere, so that its derivatives b²/r³ and −ab/r³ come without the
    difference 1/r − a²/r³ (all digits lost for |b| < 1e-8·|a|) and without underflow."""
    origin = equal(o, 0.0)
    longer_a = greater_equal(abs(a), abs(b))
    q = where(longer_a, b, a) / where(origin, 1.0, where(longer_a, a, b))
    h = hypot(1.0, q)
    return where(origin, 0.0, where(longer_a, signum(a) / h, signum(b) * q / h))


hypot = elementwise("hypot", lambda xp, x, y: xp.hypot(x, y),
                    (lambda x, y, o: _hypot_partial(x, y, o), lambda x, y, o: _hypot_partial(y, x, o)),
                    lambda sp, x, y: _S().hypot(x, y), scalar="np.hypot({0}, {1})",
                    holomorphic=False, special=(((0.0, 0.0), (0.0, 0.0)),),
                    kinks=lambda x, y, o: not_equal(o, 0.0),
                    doc="√(x² + y²) without overflow; partials 0 at the origin.")


def _atan2_dy(y: Any, x: Any, o: Any) -> Any:
    """∂atan2(y, x)/∂y = x/(x² + y²), as (x/r)/r with r = hypot(y, x): no overflow."""
    r = hypot(y, x)
    return (x / r) / r


def _atan2_dx(y: Any, x: Any, o: Any) -> Any:
    r = hypot(y, x)
    return -((y / r) / r)


arctan2 = elementwise("arctan2", lambda xp, y, x: xp.arctan2(y, x), (_atan2_dy, _atan2_dx),
                      "atan2", latex=r"\operatorname{atan2}", numpy=_np("arctan2", "atan2"),
                      aliases=("atan2",), scalar="math.atan2({0}, {1})", holomorphic=False,
                      domain=((0.2, 2.0), (-2.0, 2.0)),
                      special=(((0.0, 0.0), "nondifferentiable"),),
                      doc="The angle of the point (x, y): arctan2(y, x), in (−π, π].",
                      # a zero y with x <= 0 (±π), a zero x with y zero (0 or π)
                      signed_zero=(lambda y, x: (np.asarray(y) == 0) & (np.asarray(x) <= 0),
                                   lambda y, x: (np.asarray(y) == 0) & (np.asarray(x) == 0)))


def _deg2rad(xp: Any, x: Any) -> Any:
    return x * _DEG(x) if xp.iscomplexobj(x) else xp.deg2rad(x)  # NumPy has no complex loop


def _rad2deg(xp: Any, x: Any) -> Any:
    return x * _RAD(x) if xp.iscomplexobj(x) else xp.rad2deg(x)


deg2rad = elementwise("deg2rad", _deg2rad, (lambda x, o: _DEG(x),), lambda sp, x: x * sp.pi / 180,
                      numpy=("deg2rad", "radians"), aliases=("radians",),
                      doc="Degrees to radians (NumPy's deg2rad and radians).")
rad2deg = elementwise("rad2deg", _rad2deg, (lambda x, o: _RAD(x),), lambda sp, x: x * 180 / sp.pi,
                      numpy=("rad2deg", "degrees"), aliases=("degrees",),
                      doc="Radians to degrees (NumPy's rad2deg and degrees).")

#: Taylor coefficients of g(t) = (t cos t − sin t)/t² = Σₖ cₖ t²ᵏ⁻¹, the derivative of sin(t)/t
_SINC_TAYLOR = [(-1) ** k * 2 * k / math.factorial(2 * k + 1) for k in range(1, 9)]
_SINC_TAYLOR_LONG = [np.longdouble((-1) ** k * 2 * k) / math.factorial(2 * k + 1)
                     for k in range(1, 9)]  # (the same, rounded to a long double x's precision)


def _sinc_prime(x: Any, o: Any) -> Any:
    """sinc′(x) = (cos πx − sinc x)/x, and near 0 (|πx| < ½, where that difference cancels) its
    Taylor series π·g(πx) to the 17th power (error below 1e-20 relative): 0 at x = 0."""
    pi = _PI(x)
    t = x * pi
    small = less(abs(t), 0.5)
    u = t * t
    taylor = _SINC_TAYLOR if type(pi) is float else _SINC_TAYLOR_LONG
    poly: Any = taylor[-1]
    for c in reversed(taylor[:-1]):
        poly = poly * u + c
    series = (t * pi) * poly
    if type(pi) is not float:  # NumPy's long double sinc multiplies by the float64 π (its
        o = sin(t) / where(small, 1.0, t)  # value is 360 ε off): sinc at this x's precision
    direct = (cos(t) - o) / where(small, 1.0, x)
    return where(small, series, direct)


sinc = elementwise("sinc", lambda xp, x: xp.sinc(x), (_sinc_prime,),
                   lambda sp, x: _S().sinc(sp.pi * x), latex=r"\operatorname{sinc}",
                   special=(((0.0,), (0.0,)),),
                   doc="NumPy's normalized sinc, sin(πx)/(πx), 1 at 0 (derivative 0 there).")

# ----- signs --------------------------------------------------------------------------------------
copysign = elementwise(
    "copysign", lambda xp, x, y: xp.copysign(x, y),
    # sign(out) is the sign bit of y wherever x ≠ 0; at x = 0 the partial is 0 (as abs′(0))
    (lambda x, y, o: signum(x) * signum(o), _zero), lambda sp, x, y: _S().copysign(x, y),
    scalar="math.copysign({0}, {1})", holomorphic=False, domain=((-2.0, 2.0), (-2.0, -0.2)),
    special=(((0.0, -1.0), (0.0, 0.0)), ((2.0, -1.0), (-1.0, 0.0))),
    kinks=lambda x, y, o: not_equal(x, 0.0), flat=lambda active, steady, x, y, o: (False, True),
    doc="|x| with the sign (bit) of y: ∂/∂x = ±sign(x), ∂/∂y = 0.", signed_zero=(False, True),
    affine_pieces=True)
positive = elementwise("positive", lambda xp, x: xp.positive(x), (lambda x, o: ONE,),
                       lambda sp, x: x, doc="+x (NumPy's positive: a copy of x).")


def _arg_sympy(sp: Any, x: Any) -> Any:
    if x.is_extended_real:  # 0 or π (as a piecewise constant: printable as math-module code)
        return sp.Piecewise((sp.pi, x < 0), (0, True))
    return sp.arg(x)


arg = elementwise("arg", lambda xp, x: xp.angle(x), (_zero,), _arg_sympy, numpy=(),
                  wirtinger=lambda z, o: (-0.5j / z, 0.5j / conj(z)), holomorphic=False,
                  domain=((-2.0, -0.2),), special=(((0.0,), (0.0,)), ((-1.0,), (0.0,))),
                  doc="The argument (angle) of z in radians: JAX's complex convention; 0 or π "
                      "for real z, with derivative 0 (NumPy's angle: see dk.angle).",
                  signed_zero=(lambda z: (np.asarray(z) == 0) | cut(below=0.0)(z),))


@composite(numpy=("angle",), parseable=True, nargs=1)
def angle(z: Any, deg: bool = False) -> Any:
    """NumPy's angle: the argument of z (``dk.arg``), in degrees if `deg`."""
    a = arg(z)
    return a * _RAD(a) if deg else a


def _plain(v: Any, what: str) -> Any:
    """The value of `v`, which must not carry a derivative (a test on values: a branch)."""
    return v.concrete(what) if isinstance(v, Traced) else v


@composite(numpy=("real_if_close",))
def real_if_close(a: Any, tol: float = 100) -> Any:
    """NumPy's real_if_close: the real part where all imaginary parts are ~0, else a (as it is).

    "~0" is within `tol` machine epsilons (a branch on the values); real input is returned as it
    is."""
    dt = _dtype_of(a)
    if dt.kind != "c":
        return a
    if tol > 1:
        tol = np.finfo(dt).eps * tol
    close = _plain(less(abs(imag(a)), tol), "real_if_close")
    return real(a) if bool(np.all(close)) else a


# ----- NaN-aware extrema, clip, nan_to_num --------------------------------------------------------


def _fmax_partial(a: Any, b: Any) -> Any:
    """∂fmax(a, b)/∂a: 1 where b is NaN (a is the value), 0 where only a is, else maximum's."""
    return where(isnan(b), 1.0, where(isnan(a), 0.0, _tie_split(a, b)))


fmax = elementwise("fmax", lambda xp, a, b: xp.fmax(a, b),
                   (lambda a, b, o: _fmax_partial(a, b), lambda a, b, o: _fmax_partial(b, a)),
                   lambda sp, a, b: _S().nan_aware(sp.Max, a, b), holomorphic=False,
                   special=(((1.0, 1.0), (0.5, 0.5)),), kinks=lambda a, b, o: not_equal(a, b),
                   flat=flat_everywhere, doc="NumPy's fmax: the larger, ignoring NaN; ½–½ at ties.")
def _fmin_partial(a: Any, b: Any) -> Any:
    """∂fmin(a, b)/∂a: 1 where b is NaN, 0 where only a is, else minimum's (½ at ties)."""
    return where(isnan(b), 1.0, where(isnan(a), 0.0, _tie_split(b, a)))


fmin = elementwise("fmin", lambda xp, a, b: xp.fmin(a, b),
                   (lambda a, b, o: _fmin_partial(a, b), lambda a, b, o: _fmin_partial(b, a)),
                   lambda sp, a, b: _S().nan_aware(sp.Min, a, b), holomorphic=False,
                   special=(((1.0, 1.0), (0.5, 0.5)),), kinks=lambda a, b, o: not_equal(a, b),
                   flat=flat_everywhere, doc="NumPy's fmin: the smaller, ignoring NaN; ½–½ at ties.")


_UNSET = object()


def _prepare_clip(a: Any, a_min: Any = _UNSET, a_max: Any = _UNSET, out: Any = None, *,
                  min: Any = _UNSET, max: Any = _UNSET, **kwargs: Any) -> Any:
    """NumPy's ways to pass the bounds (a_min/a_max or min/max, None for an open side); an open
    side becomes ∓inf (the extreme integers for integer arrays), which clips nothing."""
    if out is not None or kwargs:
        raise TracingError("clip with out= (or other keywords) is not supported on traced values")
    if min is not _UNSET:
        if a_min is not _UNSET:
            raise TypeError("clip: pass the lower bound as a_min or as min, not both")
        a_min = min
    if max is not _UNSET:
        if a_max is not _UNSET:
            raise TypeError("clip: pass the upper bound as a_max or as max, not both")
        a_max = max
    lo = None if a_min is _UNSET else a_min
    hi = None if a_max is _UNSET else a_max
    if lo is None and hi is None:
        return IDENTITY
    dt = _dtype_of(a)
    if dt.kind in "iu":
        info = np.iinfo(dt)
        open_lo, open_hi = dt.type(info.min), dt.type(info.max)
    else:
        open_lo, open_hi = -math.inf, math.inf
    return (a, open_lo if lo is None else lo, open_hi if hi is None else hi), {}


def _clip_dx(x: Any, lo: Any, hi: Any, o: Any) -> Any:
    """∂clip/∂x of clip = minimum(maximum(x, lo), hi): maximum's then minimum's tie split."""
    return _tie_split(x, lo) * _tie_split(hi, maximum(x, lo))


clip = elementwise(
    "clip", lambda xp, x, lo, hi: xp.clip(x, lo, hi),
    (_clip_dx, lambda x, lo, hi, o: _tie_split(lo, x) * _tie_split(hi, maximum(x, lo)),
     lambda x, lo, hi, o: _tie_split(maximum(x, lo), hi)),
    lambda sp, x, lo, hi: _S().clip(x, lo, hi), prepare=_prepare_clip, holomorphic=False,
    domain=((-2.0, 2.0), (-1.5, -0.5), (0.5, 1.5)),
    special=(((1.0, 1.0, 2.0), (0.5, 0.5, 0.0)), ((2.0, 1.0, 2.0), (0.5, 0.0, 0.5)),
             ((1.0, 1.0, 1.0), (0.25, 0.25, 0.5)), ((0.0, -1.0, 1.0), (1.0, 0.0, 0.0))),
    kinks=lambda x, lo, hi, o: logical_and(not_equal(x, lo), not_equal(maximum(x, lo), hi)),
    flat=flat_everywhere,
    doc="NumPy's clip(a, a_min, a_max) (None: that side open): minimum(maximum(a, a_min), a_max); "
        "derivative 1 inside, 0 outside, ½–½ with the bound on the boundary.")


@composite(numpy=("nan_to_num",))
def nan_to_num(x: Any, copy: bool = True, nan: float = 0.0, posinf: float | None = None,
               neginf: float | None = None) -> Any:
    """NumPy's nan_to_num; derivative 1 where x is finite, 0 where a value is replaced.

    NaN becomes `nan`, ±inf `posinf`/`neginf` (by default the largest finite numbers of the
    type)."""
    dt = _dtype_of(x)
    if dt.kind == "c":
        parts = [nan_to_num(p, copy, nan, posinf, neginf) for p in (real(x), imag(x))]
        return parts[0] + 1j * parts[1]
    if dt.kind != "f":
        return x
    big = float(np.finfo(dt).max)
    hi = big if posinf is None else posinf
    lo = -big if neginf is None else neginf
    out = where(isnan(x), nan, x)
    out = where(logical_and(isinf(x), logical_not(signbit(x))), hi, out)
    return where(logical_and(isinf(x), signbit(x)), lo, out)


# ----- rounding with NumPy's arguments ------------------------------------------------------------


@composite(numpy=("fix",), parseable=True, nargs=1)
def fix(x: Any, out: Any = None) -> Any:
    """NumPy's fix: rounding towards 0 (trunc); derivative 0."""
    if out is not None:
        raise TracingError("fix with out= is not supported on traced values")
    return trunc(x)


@composite(numpy=_np("round", "around"), aliases=("around",), parseable=True, nargs=1)
def round(a: Any, decimals: int = 0, out: Any = None) -> Any:
    """NumPy's round/around to `decimals` places (ties to even); derivative 0.

    Computed as NumPy does: rint(a·10^d)/10^d (rint(a/10^−d)·10^−d for d < 0)."""
    if out is not None:
        raise TracingError("round with out= is not supported on traced values")
    d = operator.index(decimals)
    dt = _dtype_of(a)
    if dt.kind in "iub":
        if d >= 0:
            return a
        f = 10.0 ** (-d)
        return astype(rint(a / f) * f, dt)
    if d == 0:
        return rint(a)
    if d > 0:
        f = 10.0**d
        return rint(a * f) / f
    f = 10.0 ** (-d)
    return rint(a / f) * f


# ----- float_power and casts -----------------------------------------------------------------------


def _prepare_astype(x: Any, dtype: Any, order: str = "K", casting: str = "unsafe",
                    subok: bool = True, copy: bool = True, device: Any = None) -> Any:
    target = np.dtype(dtype)
    source = _dtype_of(x)
    if target == source:
        return IDENTITY
    if source.kind not in "fc" or target.kind not in "fc":
        x = stop_gradient(x)  # a count, a mask, an index: a constant to every engine
    return (x,), {"dtype": target}


def _astype_vjp(ct: Any, xs: Any, out: Any, dtype: np.dtype) -> tuple[Any]:
    source = _dtype_of(xs[0])
    if source.kind != "c" and _dtype_of(ct).kind == "c":
        # a real value cast into complex keeps its complex adjoint, as one multiplied by a
        # complex constant does: a complex output's Jacobian needs it (its rows were 0); a real
        # input's cotangent is made real where it leaves (the API's projection), not here
        return (astype(ct, np.result_type(source, np.complex64)),)
    return (astype(ct, source),)


astype = structural(
    "astype", lambda xp, x, dtype: xp.asarray(x).astype(dtype), linear=True,
    prepare=_prepare_astype, numpy=_np("astype"),
    batch=lambda ts, k, xs, out, dtype: astype(ts[0], dtype), vjp=_astype_vjp,
    sympy=lambda sp, x, dtype: _S().cast(sp, x, dtype),
    holomorphic=False,  # complex to real drops the imaginary part
    doc="x cast to `dtype` (NumPy's astype): between floating types the cotangent is cast back; "
        "to or from an integer or bool type the result is a constant.")


def _at_least_64(v: Any) -> Any:
    """v as float64 (complex128 if complex), or longdouble kept: what NumPy's float_power
    computes in (its loops dd->d, DD->D, gg->g, GG->G; a longdouble cast to float64 lost its
    digits in generated code, whose dtype the jit call then returned)."""
    if isinstance(v, builtins.bool | int | float | complex):
        return np.complex128(v) if isinstance(v, complex) else np.float64(v)
    dt = _dtype_of(v)
    return astype(v, np.result_type(dt, np.complex128 if dt.kind == "c" else np.float64))


float_power = elementwise(
    "float_power", lambda xp, x1, x2: xp.float_power(x1, x2), (_pow_dbase, _pow_dexp),
    lambda sp, a, b: a**b, prepare=lambda x1, x2: ((_at_least_64(x1), _at_least_64(x2)), {}),
    domain=((0.5, 2.0), (-2.0, 2.0)), domain_text="a negative base needs an integer exponent",
    special=(((0.0, 2.0), (0.0, 0.0)), ((2.0, 0.0), (0.0, math.log(2.0))), ((0.0, 0.0), "nondifferentiable")),
    kinks=_pow_smooth,  # pow's zero-base conventions (its SymPy form is pow's too)
    doc="NumPy's float_power: x1**x2 computed in float64 (complex128), the inputs cast first (so "
        "float32 inputs get float32 gradients); derivatives as pow's.",
    signed_zero=(_zero_base, False))


__all__ = declared_in(__name__)
