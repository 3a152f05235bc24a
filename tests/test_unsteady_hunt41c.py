"""Third-round hunt of the unsteady masks (c8abd85, f74dc53).

1. The symbolic engine's second and higher derivatives through relu at 0 answered 0 where the
   true value is unbounded: relu(x)**1.5 has f″(x) = 0.75/√x → +∞ as x → 0⁺ (hand formula;
   mpmath below), and reverse and forward refuse it. relu′(0) = 0 is no flat zero (relu's
   ``flat`` is x ≠ 0), so the hand-off to the reverse engine's audit covers it now.
2. A comparison of a step at its jump whose threshold the step cannot reach on either side was
   refused by every engine: near 0, floor(x) is −1 or 0, never 2 or above 5, so
   sqrt(x·(floor(x) > 5)) is 0 near 0 (derivative 0, by hand). The table's ``ties`` gives a
   step's one-sided values; a comparison of the step that gives one answer at both sides and
   at the point is steady there.
"""

from __future__ import annotations

import warnings

import mpmath as mp
import numpy as np
import pytest

import diffkit as dk

EXACT = ["reverse", "forward", "symbolic"]


def _second_quotient(f, x0, h):
    """mpmath's one-sided (f(x0 + 2h) − 2f(x0 + h) + f(x0))/h², at 60 digits."""
    with mp.workdps(60):
        x0, h = mp.mpf(x0), mp.mpf(h)
        return (f(x0 + 2 * h) - 2 * f(x0 + h) + f(x0)) / h**2


def _relu(t):
    return max(t, 0)


# ----- 1. order >= 2 through relu at 0 ------------------------------------------------------------

# f (diffkit), its mpmath twin (for the unbounded reference), order n
RELU_AT_ZERO = {
    "relu(x)**1.5 n=2": (lambda x: dk.relu(x) ** 1.5, lambda t: _relu(t) ** mp.mpf(1.5), 2),
    "relu(x)**1.5 + x**3 n=2": (lambda x: dk.relu(x) ** 1.5 + x**3,
                                lambda t: _relu(t) ** mp.mpf(1.5) + t**3, 2),
    "sqrt(relu(x))**3 n=2": (lambda x: np.sqrt(dk.relu(x)) ** 3,
                             lambda t: mp.sqrt(_relu(t)) ** 3, 2),
    "relu(x)*sqrt(relu(x)) n=2": (lambda x: dk.relu(x) * np.sqrt(dk.relu(x)),
                                  lambda t: _relu(t) * mp.sqrt(_relu(t)), 2),
    "cbrt(relu(x))**4 n=2": (lambda x: np.cbrt(dk.relu(x)) ** 4,
                             lambda t: mp.cbrt(_relu(t)) ** 4, 2),
    "relu(x)**2.5 n=3": (lambda x: dk.relu(x) ** 2.5, None, 3),
    "relu(x)**3.5 n=4": (lambda x: dk.relu(x) ** 3.5, None, 4),
}


@pytest.mark.parametrize("name", [n for n, c in RELU_AT_ZERO.items() if c[1] is not None])
def test_the_reference_second_derivative_is_unbounded(name):
    _, ref, _ = RELU_AT_ZERO[name]
    q = [_second_quotient(ref, 0, h) for h in ("1e-10", "1e-20", "1e-40")]
    assert q[0] > 1e4 and q[1] > 1e9 and q[2] > 1e19


@pytest.mark.parametrize("method", EXACT)
@pytest.mark.parametrize("name", list(RELU_AT_ZERO))
def test_a_higher_derivative_through_relu_at_zero_is_refused(name, method):
    f, _, n = RELU_AT_ZERO[name]
    with pytest.raises(dk.errors.NonDifferentiableError):
        dk.derivative(f, n=n, method=method)(0.0)


def test_parsed_relu_power_second_derivative_is_refused():
    with pytest.raises(dk.errors.NonDifferentiableError):
        dk.derivative(dk.parse("relu(x)^1.5"), n=2, method="symbolic")(0.0)


@pytest.mark.parametrize("method", EXACT)
def test_the_hessian_at_a_relu_zero_is_refused(method):
    f = lambda x: np.sum(dk.relu(x) ** 1.5)
    with pytest.raises(dk.errors.NonDifferentiableError):
        dk.hessian(f, method=method)(np.array([0.0, 1.0]))


@pytest.mark.parametrize("method", EXACT)
def test_away_from_the_kink_the_values_stand(method):
    # relu(x)**1.5 at 1: f″ = 0.75·x^-0.5 = 0.75; at [2, -1]: diag(0.75/√2, 0) (hand)
    assert dk.derivative(lambda x: dk.relu(x) ** 1.5, n=2, method=method)(1.0) == \
        pytest.approx(0.75, rel=1e-12)
    h = dk.hessian(lambda x: np.sum(dk.relu(x) ** 1.5), method=method)(np.array([2.0, -1.0]))
    np.testing.assert_allclose(h, [[0.75 / np.sqrt(2.0), 0.0], [0.0, 0.0]], rtol=1e-12,
                               atol=0)


def test_symbolic_keeps_an_unrelated_flat_zero():
    # relu(x)**0.5 + x³ is x³ near −1: f″ = 6x = −6, and near [−1, 1] the Hessian of
    # Σ relu(x)**0.5 + x³ is diag(−6, −¼ + 6) (hand)
    f = lambda x: dk.relu(x) ** 0.5 + x**3
    assert dk.derivative(f, n=2, method="symbolic")(-1.0) == pytest.approx(-6.0)
    h = dk.hessian(lambda x: np.sum(dk.relu(x) ** 0.5 + x**3), method="symbolic")(
        np.array([-1.0, 1.0]))
    np.testing.assert_allclose(h, [[-6.0, 0.0], [0.0, 5.75]], rtol=1e-12)


# ----- 2. a comparison of a step whose threshold neither side reaches -----------------------------

# f, point, the derivative by hand (f is x² there, or 0)
UNREACHED = {
    "sqrt(where(floor(x) == 2, x - 2, 0)) + x**2 at [0, 1]": (
        lambda x: np.sum(np.sqrt(np.where(np.floor(x) == 2, x - 2.0, 0.0)) + x**2),
        np.array([0.0, 1.0]), np.array([0.0, 2.0])),
    "sqrt(x * (sign(x) > 5)) at 0": (lambda x: np.sqrt(x * (np.sign(x) > 5)), 0.0, 0.0),
    "sqrt(x * (floor(x) > 5)) at 0": (lambda x: np.sqrt(x * (np.floor(x) > 5)), 0.0, 0.0),
    "sqrt(x * (floor(x) == 3)) at 0": (lambda x: np.sqrt(x * (np.floor(x) == 3)), 0.0, 0.0),
    "sqrt(x * (ceil(x) < -3)) at 0": (lambda x: np.sqrt(x * (np.ceil(x) < -3)), 0.0, 0.0),
    "sqrt(x * (5 < sign(x))) at 0": (lambda x: np.sqrt(x * (5 < np.sign(x))), 0.0, 0.0),
    "sqrt(x * (rint(x + 0.5) > 3)) at 0": (lambda x: np.sqrt(x * (np.rint(x + 0.5) > 3)),
                                           0.0, 0.0),
    "sqrt((x - 4) * (x // 2 > 7)) at 4": (lambda x: np.sqrt((x - 4) * (x // 2 > 7)), 4.0, 0.0),
    "sqrt(x * (heaviside(x, 0.5) > 2)) at 0": (
        lambda x: np.sqrt(x * (np.heaviside(x, 0.5) > 2)), 0.0, 0.0),
}


@pytest.mark.parametrize("method", EXACT)
@pytest.mark.parametrize("name", list(UNREACHED))
def test_a_comparison_no_side_of_the_step_reaches_is_steady(name, method):
    f, x0, ref = UNREACHED[name]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        (g,) = dk.grad(f, method=method)(x0)
    np.testing.assert_allclose(g, ref, rtol=1e-12, atol=0)


@pytest.mark.parametrize("method", EXACT)
def test_the_hessian_where_the_step_cannot_reach_its_threshold(method):
    # floor(x) >= 3 is false near 1: f ≡ 0 there, H = 0 (hand)
    f = lambda x: np.sum(np.where(np.floor(x) >= 3, x - 3, 0.0) ** 1.5)
    np.testing.assert_allclose(dk.hessian(f, method=method)(np.array([1.0])), [[0.0]], atol=0)


# steps whose sides straddle the threshold, or a moving operand one side meets: still refused
STRADDLED = {
    "sqrt(x * (floor(x) >= 0)) at 0": (lambda x: np.sqrt(x * (np.floor(x) >= 0)), 0.0),
    "sqrt(x * (sign(x) > 0.5)) at 0": (lambda x: np.sqrt(x * (np.sign(x) > 0.5)), 0.0),
    "sqrt((x - 2) * (floor(x) >= 3 - x)) at 2": (
        lambda x: np.sqrt((x - 2) * (np.floor(x) >= 3 - x)), 2.0),
    "sqrt((x - 4) * (x // 2 > 1.5)) at 4": (lambda x: np.sqrt((x - 4) * (x // 2 > 1.5)), 4.0),
    "sqrt((4 - x) * (x // -2 > -2.5)) at 4": (
        lambda x: np.sqrt((4 - x) * (x // -2.0 > -2.5)), 4.0),
    "sqrt(x * (floor(floor(x)) > -0.5)) at 0": (
        lambda x: np.sqrt(x * (np.floor(np.floor(x)) > -0.5)), 0.0),
}


def test_the_straddled_references_have_unbounded_slopes():
    # mpmath: the one-sided quotient on the side where the mask is 1 grows as 1/√h
    refs = [(lambda t: mp.sqrt(t * (mp.floor(t) >= 0)), 0, 1),
            (lambda t: mp.sqrt((t - 2) * (mp.floor(t) >= 3 - t)), 2, 1),
            (lambda t: mp.sqrt((t - 4) * (mp.floor(t / 2) > 1.5)), 4, 1),
            (lambda t: mp.sqrt((4 - t) * (mp.floor(t / -2) > -2.5)), 4, -1)]
    with mp.workdps(60):
        for f, x0, side in refs:
            h = mp.mpf("1e-40")
            assert abs((f(x0 + side * h) - f(x0)) / h) > 1e19


@pytest.mark.parametrize("method", EXACT)
@pytest.mark.parametrize("name", list(STRADDLED))
def test_a_straddled_or_indirect_step_comparison_stays_refused(name, method):
    f, x0 = STRADDLED[name]
    with pytest.raises(dk.errors.NonDifferentiableError):
        dk.grad(f, method=method)(x0)
