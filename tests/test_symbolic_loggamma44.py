"""gammaln and betaln in the symbolic engine and in ``to_sympy`` are log|Γ| (SciPy's gammaln), not
SymPy's complex ``loggamma`` (hunt 44/sym, findings 1 and 2): SymPy folded loggamma(−0.5) to
log(2√π) − iπ, so d/dx exp(betaln(x, −0.5)) at 1.3 came out −2.1747 (right: +2.1747), and SymPy's
value of ``to_sympy()`` at x < 0 was off by −iπ·k. The reference is mpmath at 50 digits."""

from __future__ import annotations

import warnings

import mpmath as mp
import numpy as np
import pytest
import sympy as sp

import diffkit as dk

FAST = {"repeat": 1, "budget": 0.001}


def _lgamma_abs(x: mp.mpf) -> mp.mpf:
    """log|Γ(x)| from mpmath's Γ (not its loggamma: an independent path)."""
    return mp.log(abs(mp.gamma(x)))


def _mp_derivatives(fn, x: float, n: int = 2) -> list[mp.mpf]:
    """The derivatives of orders 1..n of fn at x, mpmath at 50 digits."""
    with mp.workdps(50):
        return [mp.diff(fn, mp.mpf(x), k) for k in range(1, n + 1)]


def _close(value: float, reference: mp.mpf, rel: float = 1e-12) -> bool:
    return abs(value - float(reference)) <= rel * abs(float(reference))


def _symbolic(f: dk.Function, x: float) -> tuple[float, float, object]:
    """grad, hessian and derivative(n=2) by method='symbolic'."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        g = dk.grad(f, method="symbolic")(x)[0]
        h = np.asarray(dk.hessian(f, method="symbolic")(x)).item()
        d2 = dk.derivative(f, n=2, method="symbolic")(x)
    return g, h, d2


# ----- finding 1: a constant negative argument of betaln/gammaln in the symbolic engine --------

CASES = [(1.3, -0.5), (1.3, -2.5), (2.7, -1.5), (1.3, -0.3), (0.4, -3.25)]


@pytest.mark.parametrize(("x", "c"), CASES)
@pytest.mark.parametrize("order", ["x first", "constant first"])
def test_exp_betaln_with_negative_constant(x: float, c: float, order: str) -> None:
    """exp(betaln(x, c)) = |B(x, c)|: the symbolic gradient, Hessian and derivative(n=2) equal
    mpmath's (before: the sign was flipped, and derivative(n=2) was complex)."""
    if order == "x first":
        f = dk.function(lambda t: dk.exp(dk.betaln(t, c)))
        ref = _mp_derivatives(lambda t: abs(mp.beta(t, c)), x)
    else:
        f = dk.function(lambda t: dk.exp(dk.betaln(c, t)))
        ref = _mp_derivatives(lambda t: abs(mp.beta(c, t)), x)
    g, h, d2 = _symbolic(f, x)
    assert _close(g, ref[0]), (g, ref[0])
    assert _close(h, ref[1]), (h, ref[1])
    assert isinstance(d2, float), d2  # no complex number
    assert _close(d2, ref[1]), (d2, ref[1])


@pytest.mark.parametrize(("x", "c"), CASES)
@pytest.mark.parametrize("order", ["x first", "constant first"])
def test_cos_betaln_with_negative_constant(x: float, c: float, order: str) -> None:
    """cos(betaln(x, c)) (before: cos of a complex constant, −7.79 for −0.672 at (1.3, −0.5))."""
    if order == "x first":
        f = dk.function(lambda t: dk.cos(dk.betaln(t, c)))
        ref = _mp_derivatives(lambda t: mp.cos(mp.log(abs(mp.beta(t, c)))), x)
    else:
        f = dk.function(lambda t: dk.cos(dk.betaln(c, t)))
        ref = _mp_derivatives(lambda t: mp.cos(mp.log(abs(mp.beta(c, t)))), x)
    g, h, d2 = _symbolic(f, x)
    assert _close(g, ref[0]), (g, ref[0])
    assert _close(h, ref[1]), (h, ref[1])
    assert isinstance(d2, float) and _close(d2, ref[1]), (d2, ref[1])


@pytest.mark.parametrize("c", [-2.5, -0.5, -4.75])
def test_gammaln_of_a_folded_negative_constant(c: float) -> None:
    """exp(gammaln(x·0 + c) + x) = |Γ(c)|·eˣ: SymPy folds x·0.0 to 0 (before: −1.5586 at c = −2.5,
    x = 0.5, for +1.5586)."""
    f = dk.function(lambda x: dk.exp(dk.gammaln(x * 0.0 + c) + x))
    with mp.workdps(50):
        ref = abs(mp.gamma(mp.mpf(c))) * mp.exp(mp.mpf(0.5))
    g, h, d2 = _symbolic(f, 0.5)
    assert _close(g, ref) and _close(h, ref) and isinstance(d2, float) and _close(d2, ref)


def test_symbolic_expressions_are_real() -> None:
    """dk.symbolic's expressions hold no imaginary unit (before: exp(… − 3.14159·I))."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        s = dk.symbolic(dk.function(lambda x: dk.exp(dk.betaln(x, -0.5))), 1.3)
    for e in s.expressions:
        assert not sp.sympify(e).has(sp.I), e


# ----- finding 2: to_sympy's value at x < 0 is log|Γ|; compare's reference is exact ------------

@pytest.mark.parametrize("x", ["-2.5", "-0.5", "-7.125", "-1.0000001", "3.75"])
def test_to_sympy_gammaln_value_is_log_abs_gamma(x: str) -> None:
    """SymPy's N of gammaln's SymPy form at 50 digits is log|Γ(x)| (before: log|Γ| − iπ·k)."""
    e = dk.function(lambda t: dk.gammaln(t)).to_sympy()
    (s,) = e.free_symbols
    point = sp.Rational(x)
    value = sp.N(e.subs(s, point), 50)
    with mp.workdps(60):
        ref = _lgamma_abs(mp.mpf(point.p) / point.q)
        assert value.is_real, value
        assert abs(mp.mpf(str(value)) - ref) <= mp.mpf(10) ** -45 * max(1, abs(ref))
    folded = e.subs(s, sp.Float(float(x)))  # a Float argument folds, to the real value
    assert folded.is_Float, folded
    with mp.workdps(60):
        ref = _lgamma_abs(mp.mpf(float(x)))
    assert float(folded) == pytest.approx(float(ref), rel=1e-15)


def test_to_sympy_betaln_value_at_negative_arguments() -> None:
    """betaln's SymPy form at (−2.5, 1.3) and (1.3, −0.5) is log|B| (mpmath at 50 digits)."""
    e = dk.function(lambda a, b: dk.betaln(a, b)).to_sympy()
    a, b = sorted(e.free_symbols, key=str)
    for pa, pb in [("-2.5", "1.3"), ("1.3", "-0.5"), ("-0.25", "-0.5")]:
        value = sp.N(e.subs({a: sp.Rational(pa), b: sp.Rational(pb)}), 50)
        with mp.workdps(60):
            ref = mp.log(abs(mp.beta(mp.mpf(sp.Rational(pa).p) / sp.Rational(pa).q,
                                     mp.mpf(sp.Rational(pb).p) / sp.Rational(pb).q)))
            assert value.is_real, value
            assert abs(mp.mpf(str(value)) - ref) <= mp.mpf(10) ** -45 * max(1, abs(ref))


def test_to_sympy_gammaln_derivative_and_poles() -> None:
    """SymPy's derivative of the form is ψ (mpmath at 50 digits, at x = −2.5), and its value at a
    pole is +∞ (SciPy's gammaln(−2) is inf)."""
    e = dk.function(lambda t: dk.gammaln(t)).to_sympy()
    (s,) = e.free_symbols
    d = sp.N(sp.diff(e, s).subs(s, sp.Rational(-5, 2)), 50)
    with mp.workdps(60):
        assert abs(mp.mpf(str(d)) - mp.digamma(mp.mpf(-2.5))) <= mp.mpf(10) ** -45
    assert e.subs(s, -2) == sp.oo and e.subs(s, 0) == sp.oo


def test_compare_reference_is_exact_at_negative_x() -> None:
    """dk.compare of x·gammaln(x) at −2.5: the exact (mpmath) reference again (before: 'did not
    settle', the reverse engine's float64 value), equal to log|Γ(x)| + x·ψ(x)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cmp = dk.compare(dk.function(lambda x: dk.gammaln(x) * x), -2.5,
                         methods=["symbolic", "reverse"], **FAST)
    assert cmp.reference_kind.startswith("exact"), cmp.reference_kind
    with mp.workdps(50):
        x = mp.mpf(-2.5)
        ref = _lgamma_abs(x) + x * mp.digamma(x)
    assert float(np.ravel(cmp.reference)[0]) == float(ref)
    assert _close(float(np.ravel(cmp.row("symbolic").value)[0]), ref, 1e-14)


def test_round_trip_and_sympys_loggamma_still_refused() -> None:
    """The form maps back to gammaln (values at x < 0 as mpmath's log|Γ|), while SymPy's own
    loggamma, another function below 0, is still refused by name (coverage: as before)."""
    e = dk.function(lambda t: dk.gammaln(t) * t).to_sympy()
    g = dk.from_sympy(e)
    with mp.workdps(50):
        ref = _lgamma_abs(mp.mpf(-2.5)) * -2.5
    assert g(-2.5) == pytest.approx(float(ref), rel=1e-15)
    x = sp.Symbol("x", real=True)
    with pytest.raises(dk.MissingRuleError, match="loggamma"):
        dk.from_sympy(sp.loggamma(x))
