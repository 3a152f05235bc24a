"""SymPy functions behind the translations of :mod:`diffkit.primitives.ufuncs` (imported only when
SymPy is used: the translations import this module when they run).

SymPy leaves ``diff(floor(x), x)`` and ``diff(Mod(x, y), y)`` unevaluated, and its ``sinc`` has no
value for its derivative at 0; the classes here carry the table's conventions instead, so that
``sympy.diff`` of a translation (what the symbolic engine and the tests differentiate) agrees with
the rules of the records:

* ``floor``, ``ceiling``, ``rint`` and ``trunc``: derivative 0 (almost everywhere; the table's
  value at the jumps too);
* ``heaviside(x1, x2)``: NumPy's, with derivatives 0 in x1 and [x1 = 0] in x2, each a kink at
  x1 = 0 (differentiated again there, a NonDifferentiableError);
* ``Mod`` (Python's and NumPy's sign: the sign of the divisor) and ``fmod`` (C's: the sign of the
  dividend): ∂/∂x = 1, ∂/∂y = −floor(x/y) (fmod: −trunc(x/y));
* ``hypot``: ∂/∂x = x/hypot(x, y), taken as 0 at the origin (as abs′(0) = 0);
* ``copysign``: ∂/∂x = sign(x)·copysign(1, y), ∂/∂y = 0;
* ``tanh``: derivative sech²x (SymPy's 1 − tanh²x cancels for large |x|), and ``sech``'s
  −tanh·sech with that tanh;
* ``sinc`` (SymPy's unnormalized sin(u)/u, applied to πx): its derivative for |u| < ½ (around
  the removable point u = 0, where (cos u − sinc u)/u cancels) is its Taylor series to u¹⁵, so
  derivatives of every order up to 8 are right at and near 0 as well.
* ``clip``: Min(Max(x, lo), hi) kept unevaluated where SymPy would drop a bound equal to lo
  (clip(x, c, c) is c), so that its derivative keeps the table's tie splits (¼, ¼, ½);
* ``ShiftMax``: max as a shift whose derivative is 0 (logsumexp's m, whose ties are no kink);
* ``expm1`` and ``log1p`` (SymPy's ``sympy.codegen.cfunctions`` classes): stay functions —
  never ``exp(x) − 1`` or ``log(1 + x)``, which cancel near 0 — whose derivatives are eˣ and
  1/(1 + x), printed as ``numpy.expm1``/``math.expm1`` (``log1p`` likewise) and evaluated by
  mpmath's expm1/log1p at any precision (numbers are not rewritten on construction).

Classes named like SymPy's own (``floor``, ``ceiling``, ``Mod``, ``sinc``, ``tanh``, ``sech``) print as those do (code,
LaTeX, text); the others print themselves (``numpy.hypot``/``math.hypot``, …).
"""

from __future__ import annotations

from typing import Any

import sympy as sp
from sympy.codegen import cfunctions


def _zero(self: Any, argindex: int = 1) -> sp.Expr:
    return sp.S.Zero


class floor(sp.floor):  # named as SymPy's: every printer prints it as floor
    """SymPy's floor with the derivative 0 (the table's convention, also at the integers)."""

    fdiff = _zero


class ceiling(sp.ceiling):
    """SymPy's ceiling with the derivative 0."""

    fdiff = _zero


def trunc(x: sp.Expr) -> sp.Expr:
    """Rounding towards 0, with derivative 0."""
    return sp.Piecewise((floor(x), x >= 0), (ceiling(x), True))


class _Printed(sp.Function):
    """A function that prints itself: ``numpy_name`` and ``python_name`` name the function called
    in NumPy and in math-module code, ``latex_format`` formats the printed arguments."""

    numpy_name = python_name = latex_format = ""

    def _args_code(self, printer: Any) -> str:
        return ", ".join(printer._print(a) for a in self.args)

    def _numpycode(self, printer: Any) -> str:
        return f"{printer._module_format(self.numpy_name)}({self._args_code(printer)})"

    def _pythoncode(self, printer: Any) -> str:
        return f"{self.python_name}({self._args_code(printer)})"

    def _latex(self, printer: Any) -> str:
        return self.latex_format.format(*(printer._print(a) for a in self.args))

    def _eval_evalf(self, prec: int) -> sp.Expr | None:
        """Numerically through ``eval`` (not through mpmath's function of the same name: mpmath's
        fmod has Python's sign convention); None where it has no value (fmod(x, 0))."""
        args = [a.evalf(prec) for a in self.args]
        if not all(a.is_Number for a in args):
            return None
        value = self.func.eval(*args)
        return None if value is None else value.evalf(prec)


class heaviside(_Printed):
    """NumPy's heaviside(x1, x2): 0, x2 or 1 by the sign of x1 (NaN for NaN). Its derivative in
    x1 is 0 and in x2 the indicator [x1 = 0], each a convention at x1 = 0 (``AtKink``: the value
    x2 is no side's), so that a second derivative through the jump is refused, as the AD
    engines refuse it. x2 is read only where x1 = 0 (x2 = NaN elsewhere multiplies nothing)."""

    nargs = 2
    numpy_name = "numpy.heaviside"
    latex_format = r"\operatorname{{heaviside}}\left({0}, {1}\right)"

    @classmethod
    def eval(cls, x1: sp.Expr, x2: sp.Expr) -> sp.Expr | None:
        if not x1.is_Number:
            return None
        if x1 is sp.nan:
            return sp.nan
        return sp.S.Zero if x1 < 0 else sp.S.One if x1 > 0 else x2

    def _pythoncode(self, printer: Any) -> str:
        x1, x2 = (printer._print(a) for a in self.args)
        return f"({x2} if {x1} == 0 else (1.0 if {x1} > 0 else (0.0 if {x1} < 0 else {x1})))"

    def fdiff(self, argindex: int = 1) -> sp.Expr:
        from ..sympy_program import AtKink

        x1 = self.args[0]
        if argindex == 1:
            return AtKink(sp.S.Zero, x1)
        return AtKink(sp.Piecewise((1, sp.Eq(x1, 0)), (0, True)), x1)


def _rint_number(x: sp.Expr) -> sp.Expr:
    f = sp.floor(x)
    d = x - f
    if d > sp.S.Half:
        return f + 1
    if d < sp.S.Half:
        return f
    return f if f % 2 == 0 else f + 1


class rint(_Printed):
    """Rounding to the nearest integer, ties to even (NumPy's rint), with derivative 0."""

    nargs = 1
    numpy_name, python_name, latex_format = "numpy.rint", "round", r"\operatorname{{rint}}\left({0}\right)"
    fdiff = _zero

    @classmethod
    def eval(cls, x: sp.Expr) -> sp.Expr | None:
        if x.is_Number and x.is_finite:
            return _rint_number(x)
        if x.is_integer:
            return x
        return None


class Mod(sp.Mod):
    """x mod y with the sign of y (Python's %, NumPy's mod): ∂/∂x = 1, ∂/∂y = −q with q the
    quotient of the value, rint((x − x mod y)/y) (what NumPy's floor_divide computes; floor(x/y)
    in floating point can be one more: 1.0/0.1 rounds up to 10, 1.0 // 0.1 is 9)."""

    def fdiff(self, argindex: int = 1) -> sp.Expr:
        p, q = self.args
        return sp.S.One if argindex == 1 else -floor_divide(p, q)


def floor_divide(p: sp.Expr, q: sp.Expr) -> sp.Expr:
    """NumPy's floor_divide, the quotient of Mod: rint((x − x mod y)/y), derivative 0."""
    return rint((p - Mod(p, q)) / q)


class fmod(_Printed):
    """x − y·trunc(x/y) (C's fmod: the sign of x): ∂/∂x = 1, ∂/∂y = −trunc(x/y), the quotient
    read off the value."""

    nargs = 2
    numpy_name, python_name = "numpy.fmod", "math.fmod"
    latex_format = r"\operatorname{{fmod}}\left({0}, {1}\right)"

    @classmethod
    def eval(cls, p: sp.Expr, q: sp.Expr) -> sp.Expr | None:
        if p.is_Number and q.is_Number and q.is_finite and p.is_finite and not q.is_zero:
            return p - q * sp.Integer(int(p / q))
        return None

    def fdiff(self, argindex: int = 1) -> sp.Expr:
        p, q = self.args  # the quotient of the value (trunc(x/y) rounds up at fmod(1, 0.1))
        return sp.S.One if argindex == 1 else -rint((p - fmod(p, q)) / q)


class hypot(_Printed):
    """√(x² + y²); its partials x/hypot and y/hypot are 0 at the origin (as abs′(0) = 0)."""

    nargs = 2
    numpy_name, python_name = "numpy.hypot", "math.hypot"
    latex_format = r"\operatorname{{hypot}}\left({0}, {1}\right)"

    @classmethod
    def eval(cls, x: sp.Expr, y: sp.Expr) -> sp.Expr | None:
        if x.is_Number and y.is_Number:
            return sp.sqrt(x**2 + y**2)
        return None

    def fdiff(self, argindex: int = 1) -> sp.Expr:
        x, y = self.args
        a = self.args[argindex - 1]
        from ..sympy_program import AtKink

        # 0 at the origin: a convention, with no derivative there
        along = hypot_direction(a, y if argindex == 1 else x)
        return AtKink(sp.Piecewise((0, sp.And(sp.Eq(x, 0), sp.Eq(y, 0))), (along, True)), self)


class hypot_direction(sp.Function):
    """a/hypot(a, b), whose derivative in a is b²/hypot³ and in b −ab/hypot³ (SymPy's quotient
    rule, 1/h − a²/h³, cancels to 0 where a dominates: hypot's Hessian at (1, 1e-9) lost its
    1e-18). Printed, and evaluated, as its value."""

    nargs = 2

    @classmethod
    def eval(cls, a: sp.Expr, b: sp.Expr) -> sp.Expr | None:
        if a.is_Number and b.is_Number:
            return sp.S.Zero if a == 0 and b == 0 else a / sp.sqrt(a**2 + b**2)
        return None

    def fdiff(self, argindex: int = 1) -> sp.Expr:
        a, b = self.args
        h = hypot(a, b)
        return b**2 / h**3 if argindex == 1 else -a * b / h**3

    def _value(self) -> sp.Expr:
        return self.args[0] / hypot(*self.args)

    def _eval_evalf(self, prec: int) -> sp.Expr:
        return self._value().evalf(prec)

    def _numpycode(self, printer: Any) -> str:
        return f"({printer._print(self._value())})"

    _pythoncode = _numpycode

    def _sympystr(self, printer: Any) -> str:
        return printer._print(self._value())

    def _latex(self, printer: Any) -> str:
        return printer._print(self._value())


class norm_sqrt(_Printed):
    """√v for v a sum of squares of terms whose largest size is s (std's root): sqrt's values;
    its derivative where s = 0 is the norm's convention 0 (a kink: no second derivative)."""

    nargs = 2
    numpy_name, python_name = "numpy.sqrt", "math.sqrt"
    latex_format = r"\sqrt{{{0}}}"

    @classmethod
    def eval(cls, v: sp.Expr, s: sp.Expr) -> sp.Expr | None:
        # a number v: nothing left to differentiate, and s never changes the value
        return sp.sqrt(v) if v.is_Number else None

    def _args_code(self, printer: Any) -> str:
        return printer._print(self.args[0])  # s only decides the derivative

    def _latex(self, printer: Any) -> str:
        return self.latex_format.format(printer._print(self.args[0]))

    def fdiff(self, argindex: int = 1) -> sp.Expr:
        v, s = self.args
        if argindex == 2:
            return sp.S.Zero
        from ..sympy_program import AtKink

        # the kink: s = 0 and v = 0 (|s| + √v = 0)
        return AtKink(sp.Piecewise((0, sp.And(sp.Eq(s, 0), sp.Eq(v, 0))), (1 / (2 * self), True)),
                      sp.Abs(s) + self)


class copysign(_Printed):
    """|x| with the sign of y: ∂/∂x = sign(x)·copysign(1, y), ∂/∂y = 0."""

    nargs = 2
    numpy_name, python_name = "numpy.copysign", "math.copysign"
    latex_format = r"\operatorname{{copysign}}\left({0}, {1}\right)"

    @classmethod
    def eval(cls, x: sp.Expr, y: sp.Expr) -> sp.Expr | None:
        if x.is_Number and y.is_Number and y.is_extended_real:
            return sp.Abs(x) if y >= 0 else -sp.Abs(x)
        return None

    def fdiff(self, argindex: int = 1) -> sp.Expr:
        from ..sympy_program import AtKink

        x, y = self.args
        if argindex != 1:
            return sp.S.Zero
        return AtKink(sp.sign(x) * copysign(sp.S.One, y), x, x)  # sign(0) = 0: a convention


#: Taylor coefficients of sinc′(u) = (u cos u − sin u)/u² at 0: Σₖ (−1)ᵏ 2k/(2k+1)! u²ᵏ⁻¹, to
#: u¹⁵ (the AD rule's series: below 1e-20 relative for |u| < ½)
_SINC_PRIME_TAYLOR = [(-1) ** k * sp.Rational(2 * k, sp.factorial(2 * k + 1)) for k in range(1, 9)]


class ShiftMax(sp.Max):
    """max(a₁, …, aₙ) as a shift that derivatives do not see (∂/∂aᵢ = 0): the m of
    m + log Σ exp(aᵢ − m), which has the same value for every m — it only keeps exp from
    overflowing — so its derivatives are right to every order without the kink that Max′
    (Heaviside) has at a tie of the largest aᵢ. Only for expressions that are independent of
    it so; printed as max (code) and Max (LaTeX, text), and read back by ``dk.from_sympy`` as one."""

    def fdiff(self, argindex: int = 1) -> sp.Expr:
        return sp.S.Zero

    def _numpycode(self, printer: Any) -> str:  # (code printers look functions up by name)
        return f"max({', '.join(printer._print(a) for a in self.args)})"

    _pythoncode = _numpycode


class sinc(sp.sinc):  # named as SymPy's: NumPy code is numpy.sinc(u/π)
    """sin(u)/u, 1 at u = 0, whose derivative for |u| < ½ is its Taylor series (as the AD rule:
    (cos u − sinc u)/u cancels there, catastrophically in the higher derivatives, and is not
    defined at 0) and (cos u − sinc u)/u elsewhere."""

    def fdiff(self, argindex: int = 1) -> sp.Expr:
        u = self.args[0]
        taylor = sp.Add(*[c * u ** (2 * k + 1) for k, c in enumerate(_SINC_PRIME_TAYLOR)])
        return sp.Piecewise((taylor, sp.Abs(u) < sp.S.Half), ((sp.cos(u) - sinc(u)) / u, True))

    def _pythoncode(self, printer: Any) -> str:
        u = self.args[0]
        return printer._print(sp.Piecewise((sp.S.One, sp.Eq(u, 0)), (sp.sin(u) / u, True)))


class tanh(sp.tanh):  # named as SymPy's: every printer prints it as tanh
    """SymPy's tanh whose derivative is sech²x, not SymPy's 1 − tanh²x (which cancels: 0 at
    x = 20, where sech² = 1.7e-17): its derivatives of every order are then products of tanh and
    sech, with no cancellation and nothing that overflows."""

    def fdiff(self, argindex: int = 1) -> sp.Expr:
        return sech(self.args[0]) ** 2


class sech(sp.sech):
    """SymPy's sech = 1/cosh whose derivative −tanh·sech uses the :class:`tanh` above (so the
    third and higher derivatives of tanh do not cancel either)."""

    def fdiff(self, argindex: int = 1) -> sp.Expr:
        u = self.args[0]
        return -tanh(u) * sech(u)


class _Exact(sp.Function):
    """A function kept as written on numbers (SymPy's classes rewrite ``expm1(Float)`` as
    ``exp(Float) − 1`` at the Float's precision): its value comes from ``mpmath_name`` at the
    precision evalf asks for; printers print it by name (``numpy.<name>``, ``math.<name>``)."""

    mpmath_name = ""
    latex_name = ""

    @classmethod
    def eval(cls, x: sp.Expr) -> sp.Expr | None:
        return sp.S.Zero if x.is_zero else None  # both vanish at 0

    def _eval_mpmath(self) -> tuple[Any, tuple[sp.Expr, ...]]:
        import mpmath

        return getattr(mpmath, self.mpmath_name), self.args

    def _latex(self, printer: Any) -> str:
        return rf"\operatorname{{{self.latex_name}}}\left({printer._print(self.args[0])}\right)"


class expm1(_Exact, cfunctions.expm1):  # named as SymPy's: printed as numpy.expm1, math.expm1
    """eˣ − 1 without cancellation near 0; derivative eˣ."""

    mpmath_name = latex_name = "expm1"


class log1p(_Exact, cfunctions.log1p):
    """log(1 + x) without cancellation near 0; derivative 1/(1 + x)."""

    mpmath_name = latex_name = "log1p"


def logaddexp(x: sp.Expr, y: sp.Expr, base: Any = None) -> sp.Expr:
    """log(eˣ + eʸ) (base 2: log₂(2ˣ + 2ʸ)), in the form that overflows nowhere: the larger argument
    plus log1p(e^−|x − y|); at a tie each partial is ½."""
    if base is None:
        return sp.Piecewise((x + log1p(sp.exp(y - x)), x >= y), (y + log1p(sp.exp(x - y)), True))
    return sp.Piecewise((x + log1p(base ** (y - x)) / sp.log(base), x >= y),
                        (y + log1p(base ** (x - y)) / sp.log(base), True))


def nan_aware(extremum: Any, a: Any, b: Any) -> Any:
    """fmax/fmin: the other argument where one is NaN (a constant of the data), else Max/Min."""
    if b is sp.nan:
        return a
    if a is sp.nan:
        return b
    return extremum(a, b)


def clip(x: Any, lo: Any, hi: Any) -> Any:
    """clip as minimum(maximum(x, lo), hi) with maximum's and minimum's ½–½ at each tie (the
    table's rule, JAX's). SymPy evaluates Min(Max(x, c), c) to c and Min(Max(y, x), x) to x,
    dropping the tie split of the bound equal to lo (derivative 0 and (0, 1) where every other
    engine gives ¼ and (¼, ¾)): where evaluation drops the inner Max for the bound, the Min is
    kept unevaluated, whose derivative SymPy takes through Min's and Max's own rules."""
    inner = sp.Max(x, lo)
    out = sp.Min(inner, hi)
    if out == hi and inner != hi:  # hi was found ≤ max(x, lo): it may tie with it
        return sp.Min(inner, hi, evaluate=False)
    return out


def truth(v: Any) -> Any:
    """A value as a condition: a Boolean as it is, a number as v ≠ 0 (NumPy's truthiness)."""
    if isinstance(v, sp.logic.boolalg.Boolean) and not isinstance(v, sp.Expr):
        return v
    return sp.Ne(v, 0)


def bitwise(op: str, *args: Any) -> Any:
    """NumPy's & | ^ ~: on integers bit by bit, on conditions (and, as a fallback, on other
    values by their truth) logical."""
    if all(isinstance(a, sp.Integer) for a in args):
        ints = [int(a) for a in args]
        value = {"and": lambda: ints[0] & ints[1], "or": lambda: ints[0] | ints[1],
                 "xor": lambda: ints[0] ^ ints[1], "not": lambda: ~ints[0]}[op]()
        return sp.Integer(value)
    conds = [truth(a) for a in args]
    return {"and": sp.And, "or": sp.Or, "xor": sp.Xor, "not": sp.Not}[op](*conds)


def isfinite(x: sp.Expr) -> Any:
    if x is sp.nan or x.is_finite is False:
        return sp.false
    if x.is_finite:
        return sp.true
    return sp.Ne(sp.Abs(x), sp.oo)


def isnan(x: sp.Expr) -> Any:
    return sp.true if x is sp.nan else sp.false


def isinf(x: sp.Expr) -> Any:
    if x is sp.nan or x.is_finite:
        return sp.false
    if x.is_infinite:
        return sp.true
    return sp.Eq(sp.Abs(x), sp.oo)


def cast(sp_: Any, x: Any, dtype: Any) -> Any:
    """astype on an object array of SymPy expressions: a float or complex cast is the number
    itself (a condition becomes 1 or 0), an integer cast truncates, a bool cast is x ≠ 0."""
    import numpy as np

    kind = np.dtype(dtype).kind

    def one(e: Any) -> Any:
        boolean = isinstance(e, sp.logic.boolalg.Boolean) and not isinstance(e, sp.Expr)
        if kind == "b":
            return truth(e)
        if boolean:
            return sp.Piecewise((sp.S.One, e), (sp.S.Zero, True))
        return trunc(e) if kind in "iu" else e

    arr = np.asarray(x, dtype=object)
    out = np.empty(arr.shape, dtype=object)
    for idx in np.ndindex(*arr.shape):
        out[idx] = one(arr[idx])
    return out
