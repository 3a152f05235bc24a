"""The SymPy bridge against hand references: every answer right, or a named error — never a
silent inf or nan."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
import sympy as sp

import diffkit as dk
from diffkit.errors import ParseError

x = sp.Symbol("x")


@pytest.mark.parametrize("constant", [sp.oo, -sp.oo, sp.zoo, sp.nan, sp.oo * sp.I,
                                      sp.Integer(10) ** 400])
def test_from_sympy_refuses_a_constant_that_is_not_finite(constant: sp.Expr) -> None:
    # x + oo used to become x + (inf+0j): a complex function returning inf, silently
    with pytest.raises(ParseError, match="not a finite number"):
        dk.from_sympy(x + constant)


def test_from_sympy_input_named_by_text_is_the_symbol_with_assumptions() -> None:
    xp = sp.Symbol("x", positive=True)
    f = dk.from_sympy(sp.log(xp) + xp**2, ["x"])
    assert f(2.0) == pytest.approx(4 + math.log(2), rel=1e-15)
    (g,) = dk.grad(f, method="symbolic")(2.0)
    assert g == pytest.approx(4.5, rel=1e-15)
    with pytest.raises(ParseError, match="not among the inputs"):
        dk.from_sympy(sp.log(xp) + sp.Symbol("z"), ["x"])


# ----- SymPy's own special functions: the parents of the table's translations -------------------

_y = sp.Symbol("y")


def _mp_reference(fn: Any, point: tuple[float, ...]) -> tuple[float, list[float]]:
    """fn's value and gradient at `point`, by mpmath at 50 digits."""
    import mpmath

    with mpmath.workdps(50):
        args = [mpmath.mpf(p) for p in point]
        value = fn(*args)
        grad = []
        for i in range(len(args)):
            def partial(t: Any, i: int = i) -> Any:
                return fn(*(t if j == i else a for j, a in enumerate(args)))
            grad.append(float(mpmath.diff(partial, args[i])))
        return float(value), grad


def _mp(name: str) -> Any:  # an mpmath function, looked up when the test runs
    import mpmath

    return getattr(mpmath, name)


_PARENTS = [  # (SymPy expression, its mpmath reference, points)
    (sp.erf(x), lambda t: _mp("erf")(t), [(-1.3,), (0.2,), (2.5,)]),
    (sp.erfc(x), lambda t: _mp("erfc")(t), [(-1.3,), (0.2,), (4.0,)]),
    (sp.erfinv(x), lambda t: _mp("erfinv")(t), [(-0.9,), (0.1,), (0.6,)]),
    (sp.erfcinv(x), lambda t: _mp("erfinv")(1 - t), [(0.05,), (0.7,), (1.8,)]),
    (sp.gamma(x), lambda t: _mp("gamma")(t), [(-2.5,), (0.3,), (4.7,)]),
    (sp.beta(x, _y), lambda a, b: _mp("beta")(a, b), [(0.5, 1.5), (2.3, 3.1), (-0.5, 2.2)]),
    (sp.besselj(2, x), lambda t: _mp("besselj")(2, t), [(-1.7,), (0.9,), (6.0,)]),
    (sp.besselj(sp.Rational(1, 3), x), lambda t: _mp("besselj")(_mp("mpf")(1) / 3, t), [(0.4,), (3.0,)]),
    (sp.bessely(1, x), lambda t: _mp("bessely")(1, t), [(0.4,), (2.0,), (7.5,)]),
    (sp.besseli(3, x), lambda t: _mp("besseli")(3, t), [(-1.2,), (0.5,), (3.0,)]),
    (sp.besselk(0, x), lambda t: _mp("besselk")(0, t), [(0.3,), (1.0,), (5.0,)]),
    (sp.floor(x), lambda t: _mp("floor")(t), [(-2.5,), (0.3,), (3.7,)]),
    (sp.ceiling(x), lambda t: _mp("ceil")(t), [(-2.5,), (0.3,), (3.7,)]),
    # Mod: the sign of the divisor (Python's %, NumPy's mod) in both; ∂/∂y = −floor(x/y)
    (sp.Mod(x, _y), lambda a, b: a - b * _mp("floor")(a / b), [(7.3, 2.0), (-7.3, 2.0), (7.3, -2.0)]),
]


@pytest.mark.parametrize("expr, reference, point",
                         [(e, r, p) for e, r, ps in _PARENTS for p in ps],
                         ids=lambda v: str(v) if isinstance(v, sp.Expr | tuple) else "")
def test_from_sympy_accepts_sympy_special_functions(expr: sp.Expr, reference: Any,
                                                    point: tuple[float, ...]) -> None:
    # SymPy's own erf, gamma, besselj, Mod, … are the table's translations' parents: same meaning
    f = dk.from_sympy(expr)
    value, grad = _mp_reference(reference, point)
    assert f(*point) == pytest.approx(value, rel=1e-13, abs=1e-15)
    for method in ("reverse", "symbolic"):
        g = dk.grad(f, method=method)(*point)
        g = g if isinstance(g, tuple) else (g,)
        assert list(g) == pytest.approx(grad, rel=1e-11, abs=1e-14), method


def test_from_sympy_refuses_sympys_loggamma_by_name() -> None:
    # SymPy's loggamma is complex below 0, where diffkit's gammaln is log|Γ|: not the same function
    with pytest.raises(dk.MissingRuleError, match="loggamma"):
        dk.from_sympy(sp.loggamma(x))


def test_from_sympy_bessel_outside_the_real_domain_is_a_named_error() -> None:
    # SymPy's besselj(1/3, −1) is complex; diffkit's jv refuses it rather than giving a real number
    with pytest.raises(dk.DomainError):
        dk.from_sympy(sp.besselj(sp.Rational(1, 3), x))(-1.0)


@pytest.mark.skipif(np.finfo(np.longdouble).eps >= np.finfo(np.float64).eps,
                    reason="np.longdouble is float64 on this platform")
@pytest.mark.parametrize("order", [1, 2])
def test_symbolic_derivative_keeps_long_double_precision(order):
    """The symbolic engine's fast code runs on Python floats: a np.longdouble input was computed
    in float64 and returned as a long double (d/dx x·sin x at 0.1 off by 7e-17 relative, where
    long double holds 1e-19). Long double inputs run the NumPy program, in long double; the
    reference is mpmath at 40 digits."""
    import mpmath

    x = np.longdouble("0.1")
    got = dk.derivative(lambda x: np.sin(x) * x, n=order, method="symbolic")(x)
    assert type(got) is np.longdouble
    with mpmath.workdps(40):
        # the long double nearest 0.1, read exactly (x·2⁶⁷ is an integer below 2⁶⁴)
        xm = mpmath.mpf(int(x * np.longdouble(2) ** 67)) / mpmath.mpf(2) ** 67
        want = mpmath.diff(lambda t: mpmath.sin(t) * t, xm, order)
        rel = abs((mpmath.mpf(str(got)) - want) / want)
    assert rel < 8 * float(np.finfo(np.longdouble).eps), float(rel)


def test_a_remainder_times_a_number_is_printed_in_parentheses():
    """The math-module code printed c·Mod(x, y) as `c*x % y`, which Python reads as (c·x) % y:
    floor_divide's rint((x − x mod y)/y) took the remainder of the wrong number, and d/dx
    atan2(x, floor_divide(tanh x, c)) was −0.2669 for −1/(x² + 1) = −0.2226 (by hand: the
    floor is −1 near this point, a constant)."""
    c = 2.0 + np.sin(np.logaddexp(0.0, -0.771))
    x = -1.8689945156831542

    def f(x):
        return np.arctan2(x, np.floor_divide(np.tanh(x), c))

    (g,) = dk.grad(f, method="symbolic")(x)
    assert g == pytest.approx(-1.0 / (x * x + 1.0), rel=1e-14)
