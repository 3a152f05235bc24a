"""Hunt 12 (special functions): polygamma at x < 0, the kinks of i0e/i1e/ive at 0, ive's NaN for
a large x, overflows named in finite differences, the symbolic engine's huge exact integers,
logit″ near 0, and the coverage page's scipy.special.polygamma. References are mpmath (at 60+
digits: mpmath's own polygamma at 40 digits loses digits at x = −29.5) or hand formulas."""

from __future__ import annotations

import math

import mpmath as mp
import numpy as np
import pytest
from scipy import special

import diffkit as dk
from diffkit.primitive import SCIPY_NAMES

EXACT = ("reverse", "forward", "symbolic", "compiled")


def _psi(n: int, x: float) -> float:
    with mp.workdps(80):
        return float(mp.polygamma(n, mp.mpf(x)))


# ----- polygamma(n, x) at x < 0: SciPy's value is wrong for n ≥ 8 near half-integers ------------

_NEGATIVE = sorted({float(x) for x in -np.random.default_rng(12).uniform(0.0, 30.0, 24)}
                   | {-0.5, -2.5, -2.49, -2.51, -10.25, -29.5, -0.001, -29.999, -2.5000001})


@pytest.mark.parametrize("n", range(21))
def test_polygamma_at_negative_points_matches_mpmath(n: int) -> None:
    got = dk.polygamma(n, np.array(_NEGATIVE))
    want = np.array([_psi(n, x) for x in _NEGATIVE])
    np.testing.assert_allclose(got, want, rtol=2e-14, atol=0)
    # scalars and an order array broadcasting with x take the same path
    assert dk.polygamma(n, -2.5) == pytest.approx(_psi(n, -2.5), rel=2e-14)


def test_polygamma_orders_broadcast_at_negative_points() -> None:
    n, x = np.array([[8], [12], [20]]), np.array([-2.5, -7.3, 1.5])
    want = np.array([[_psi(int(k), v) for v in x] for k in n[:, 0]])
    np.testing.assert_allclose(dk.polygamma(n, x), want, rtol=2e-14)


@pytest.mark.parametrize("method", EXACT)
def test_polygamma_derivatives_at_negative_points(method: str) -> None:
    # ∂³/∂x³ ψ⁽¹⁷⁾ = ψ⁽²⁰⁾: 45× off before, every method (symbolic printed SciPy's call)
    d3 = dk.derivative(lambda x: dk.polygamma(17, x), 3, method=method)(-2.5)
    assert d3 == pytest.approx(_psi(20, -2.5), rel=1e-13)
    d1 = dk.derivative(lambda x: dk.polygamma(12, x), 1, method=method)(-3.7)
    assert d1 == pytest.approx(_psi(13, -3.7), rel=1e-13)


def test_polygamma_parsed_and_symbolic_at_negative_points() -> None:
    f = dk.parse("polygamma(12, x)")
    assert dk.derivative(f, 1, method="symbolic")(-2.5) == pytest.approx(_psi(13, -2.5), rel=1e-13)


def test_polygamma_poles_are_unchanged() -> None:
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        assert not np.isfinite(dk.polygamma(3, -2.0))
    with pytest.raises((dk.DomainError, dk.NonDifferentiableError, dk.NumericOverflowError)):
        dk.grad(lambda x: dk.polygamma(3, x))(-2.0)


# ----- i0e, i1e, ive(v, x): e^(−|x|) has a kink at 0 -----------------------------------------------


@pytest.mark.parametrize("method", EXACT)
@pytest.mark.parametrize("f, n", [(dk.i0e, 2), (dk.i0e, 3), (dk.i1e, 2), (dk.i1e, 3),
                                  (lambda x: dk.ive(0.0, x), 2), (lambda x: dk.ive(1.0, x), 2),
                                  (lambda x: dk.ive(2.0, x), 3)])
def test_second_derivatives_through_the_kink_at_0_are_refused(f, n, method) -> None:
    # i0e′ jumps from +1 to −1 at 0 (i0e″(0) gave 0.5), i1e″ from +1 to −1 (i1e‴(0) gave 0.375)
    with pytest.raises(dk.NonDifferentiableError):
        dk.derivative(f, n, method=method)(0.0)


@pytest.mark.parametrize("method", EXACT)
def test_derivatives_that_exist_at_0_stay(method: str) -> None:
    assert dk.derivative(dk.i0e, 1, method=method)(0.0) == 0.0  # the convention, as abs′(0)
    assert dk.derivative(dk.i1e, 1, method=method)(0.0) == 0.5  # continuous: ½ from both sides
    # ive(2, x) = x²/8 − |x|·x²/8 + …: ive″(2, 0) = ¼ exists (by hand)
    assert dk.derivative(lambda x: dk.ive(2.0, x), 2, method=method)(0.0) == pytest.approx(0.25)
    # away from 0 nothing changes: i0e″(±0.5) against mpmath
    for x in (0.5, -0.5):
        with mp.workdps(40):
            want = float(mp.diff(lambda t: mp.besseli(0, t) * mp.exp(-abs(t)), x, 2))
        assert dk.derivative(dk.i0e, 2, method=method)(x) == pytest.approx(want, rel=1e-12)


# ----- i0e′, i1e′ at a large |x|: the recurrence's difference lost digits ∝ x ----------------------


def _scaled_derivative(v: int, x: float, n: int) -> float:
    """dⁿ/dxⁿ e^(−|x|)·I_v(x) by mpmath at 50 digits, in the relative variable (x·(1 + u))."""
    with mp.workdps(50):
        t = mp.mpf(x)
        return float(mp.diff(lambda u: mp.besseli(v, t * (1 + u)) * mp.exp(-abs(t * (1 + u))),
                             0, n) / t ** n)


@pytest.mark.parametrize("method", EXACT)
@pytest.mark.parametrize("name, v", [("i0e", 0), ("i1e", 1)])
@pytest.mark.parametrize("x", [40.0, -80.0, 1e3, -1e4, 1e8, 1e12])
def test_scaled_bessel_derivatives_at_large_x_match_mpmath(method, name, v, x) -> None:
    f = getattr(dk, name)
    for n in (1, 2, 3):  # before: i0e′(1e12) rel 2.9e-4, i0e‴(1e4) 2.7e-4, i0e″(1e10) = 0
        want = _scaled_derivative(v, x, n)
        got = dk.derivative(f, n, method=method)(x)
        assert got == pytest.approx(want, rel=1e-13), (n, got, want)


# ----- ive(v, x) for a large x: SciPy gives NaN for |x| ≳ 2e9 -------------------------------------


def _ive(v: float, x: float) -> float:
    with mp.workdps(40):
        return float(mp.re(mp.besseli(v, x) * mp.exp(-abs(mp.mpf(x)))))


@pytest.mark.parametrize("v", [0.0, 1.0, 2.0, 2.5, 20.0, -3.0, 100.0])
@pytest.mark.parametrize("x", [2e9, 1e10, 1e15, 1e300, -1e10])
def test_ive_at_large_x_matches_mpmath(v: float, x: float) -> None:
    if x < 0 and v != int(v):
        pytest.skip("a non-integer order needs x >= 0")
    assert math.isnan(special.ive(v, x))  # what SciPy gives (diffkit gave it on, or refused)
    assert dk.ive(v, x) == pytest.approx(_ive(v, x), rel=1e-15)


@pytest.mark.parametrize("method", EXACT)
def test_i1e_derivative_at_large_x_is_not_refused(method: str) -> None:
    # i1e′ = (i0e + ive(2, x))/2 − i1e: "not differentiable at 1e+10" before
    want = _scaled_derivative(1, 1e10, 1)
    got = dk.derivative(dk.i1e, 1, method=method)(1e10)
    assert got == pytest.approx(want, rel=1e-13)
    # ive(v, x) in x keeps the recurrence (i1e − sign·i0e form): its digits fall ∝ x
    assert dk.derivative(lambda x: dk.ive(2.0, x), 1, method=method)(1e10) == pytest.approx(
        _scaled_derivative(2, 1e10, 1), rel=1e-5)


def test_ive_error_names_scipy_where_the_expansion_does_not_apply() -> None:
    with pytest.raises(dk.DomainError, match="scipy.special.ive gives NaN"):
        dk.grad(lambda x: dk.ive(1e6, x))(1e10)
    with pytest.raises(dk.DomainError, match="not an integer"):
        dk.grad(lambda x: dk.ive(2.5, x))(-1.0)


# ----- finite differences of order n ≥ 2 at a large |x| ---------------------------------------------


@pytest.mark.parametrize("method", ["fd-central", "fd-richardson"])
def test_fd_high_orders_at_large_x_do_not_raise_a_bare_overflow(method: str) -> None:
    # f = x²·1e-200 at 1e160: f″ = 2e-200 (by hand); wⁿ = 1e320 raised a bare OverflowError
    got = dk.derivative(lambda x: (x * 1e-200) * x, 2, method=method)(1e160)
    assert got == pytest.approx(2e-200, rel=1e-6)
    # log″(1e300) = −1e-600 underflows to 0
    assert abs(dk.derivative(dk.log, 2, method=method)(1e300)) < 1e-300
    # f = x³·1e-300 at 1e103: f‴ = 6e-300 (wⁿ = 1e309)
    got = dk.derivative(lambda x: ((x * 1e-100) * (x * 1e-100)) * (x * 1e-100), 3,
                        method=method)(1e103)
    assert got == pytest.approx(6e-300, rel=1e-6)


# ----- the symbolic engine and huge exact integers (Γ(2000) has 5700 digits) -----------------------


@pytest.mark.parametrize("a", [2000.0, 5000.0])
def test_symbolic_gammainc_at_large_a_is_a_named_error(a: float) -> None:
    for f in (lambda x: dk.gammainc(a, x), lambda x: dk.gammaincc(a, x),
              dk.parse(f"gammainc({a!r}, x)")):
        try:
            got = dk.grad(f, method="symbolic")(a)[0]
        except dk.NumericOverflowError:
            continue  # named: an intermediate value too large for a float
        want = float(mp.diff(lambda t: mp.gammainc(a, 0, t, regularized=True), a))
        assert abs(got) == pytest.approx(abs(want), rel=1e-10)


def test_symbolic_int_too_large_for_a_float_is_an_overflow() -> None:
    with pytest.raises(dk.NumericOverflowError):  # was NonDifferentiableError
        dk.grad(lambda x: dk.betainc(3000.0, 3000.0, x), method="symbolic")(0.5)


# ----- logit″ near 0 overflows: not "outside the domain" ------------------------------------------


@pytest.mark.parametrize("method", ["reverse", "forward", "compiled"])
def test_logit_second_derivative_overflow_is_named(method: str) -> None:
    with pytest.raises(dk.NumericOverflowError):  # −1e600: 1e-300 is inside (0, 1)
        dk.derivative(dk.logit, 2, method=method)(1e-300)
    assert dk.derivative(dk.logit, 1, method=method)(1e-300) == pytest.approx(1e300, rel=1e-15)


@pytest.mark.parametrize("method", EXACT)
@pytest.mark.parametrize("x", [1e-100, 0.1, 0.3, 0.5 + 2.0 ** -40, 0.7, 1 - 1e-10])
def test_logit_derivatives_by_hand(method: str, x: float) -> None:
    with mp.workdps(50):
        t = mp.mpf(x)
        d1, d2 = 1 / (t * (1 - t)), -(1 - 2 * t) / (t * (1 - t)) ** 2
        d3 = 2 / t ** 3 + 2 / (1 - t) ** 3
    assert dk.derivative(dk.logit, 1, method=method)(x) == pytest.approx(float(d1), rel=1e-14)
    assert dk.derivative(dk.logit, 2, method=method)(x) == pytest.approx(float(d2), rel=1e-9)
    assert dk.derivative(dk.logit, 3, method=method)(x) == pytest.approx(float(d3), rel=1e-9)


# ----- the coverage page: scipy.special.polygamma does not dispatch -------------------------------


def test_scipy_polygamma_is_not_claimed_to_dispatch() -> None:
    from diffkit.coverage import coverage_markdown

    assert "polygamma" not in SCIPY_NAMES
    assert "`scipy.special.polygamma`" not in coverage_markdown()
    with pytest.raises(dk.TracingError, match="dk.polygamma"):
        dk.grad(lambda x: special.polygamma(1, x))(2.3)
