"""scipy.special.beta and betaln derivatives near poles of Γ and at small arguments, against
mpmath at 50 digits on Γ(a)Γ(b)/Γ(a + b) (hunt 42/q2 findings 1 and 5)."""

import numpy as np
import pytest
import scipy.special as sc

import diffkit as dk

mp = pytest.importorskip("mpmath")
mp.mp.dps = 50


def _beta(a, b):
    return mp.gamma(a) * mp.gamma(b) * mp.rgamma(a + b)


def _betaln(a, b):
    return mp.log(abs(_beta(a, b)))


def _reference(fn, a, b):
    point = (mp.mpf(a), mp.mpf(b))
    grad = [float(mp.diff(fn, point, (1, 0))), float(mp.diff(fn, point, (0, 1)))]
    mixed = float(mp.diff(fn, point, (1, 1)))
    hess = [[float(mp.diff(fn, point, (2, 0))), mixed], [mixed, float(mp.diff(fn, point, (0, 2)))]]
    return np.array(grad), np.array(hess)


# b near a pole of Γ(b) and a + b near a pole of Γ(a + b) (a an integer: B is rational there),
# a (and b, and a + b) near poles together, and small a, b
DOUBLE_POLES = [(2.0, -2.999999999999), (1.0, -1.999999999), (2.0, -2.99999999),
                (-1.999999999, 1.0), (-0.999999999, -0.999999998), (0.5, -1.4999999999)]
SMALL = [(1e-8, 1e-8), (1e-6, 1e-6), (1e-4, 1e-4), (1e-4, 1e-3), (1e-12, -1e-12 + 1e-20),
         (0.04, -0.03), (0.05, 0.05), (0.051, 0.051)]


@pytest.mark.parametrize("method", ["reverse", "forward", "compiled"])
@pytest.mark.parametrize("a, b", DOUBLE_POLES)
def test_beta_gradient_near_two_poles(method, a, b):
    f = dk.function(lambda a, b: sc.beta(a, b))
    grad, _ = _reference(_beta, a, b)
    np.testing.assert_allclose(dk.grad(f, method=method)(a, b), grad, rtol=1e-13)


@pytest.mark.parametrize("method", ["reverse", "forward", "compiled"])
@pytest.mark.parametrize("a, b", [(1.0, -1.999999999), (2.0, -2.99999999), (-1.999999999, 1.0)])
def test_beta_hessian_near_two_poles(method, a, b):
    f = dk.function(lambda a, b: sc.beta(a, b))
    _, hess = _reference(_beta, a, b)
    got = dk.hessian(f, method=method)(a, b)
    i = 1 if a > 0 else 0  # the entries of the argument near its pole (finding 1's H[1, 1])
    np.testing.assert_allclose(got[i, i], hess[i, i], rtol=1e-12)
    np.testing.assert_allclose(got[1 - i, i], hess[1 - i, i], rtol=1e-12)


@pytest.mark.parametrize("method", ["reverse", "forward", "compiled"])
@pytest.mark.parametrize("a, b", [(2.0, -2.999999999999), (1.0, -1.999999999), (2.0, -0.999999999)])
def test_betaln_gradient_near_two_poles(method, a, b):
    f = dk.function(lambda a, b: sc.betaln(a, b))
    grad, _ = _reference(_betaln, a, b)
    np.testing.assert_allclose(dk.grad(f, method=method)(a, b), grad, rtol=1e-13)


@pytest.mark.parametrize("method", ["reverse", "forward", "compiled"])
def test_gamma_derivative_near_a_pole_reads_psi_by_reflection(method):
    # SciPy's digamma is 1e-7 off within 1e-9 of -1: Γ′ = Γ·ψ was too
    x = -0.999999999
    ref = float(mp.diff(mp.gamma, mp.mpf(x)))
    assert dk.derivative(dk.function(lambda t: sc.gamma(t)), method=method)(x) == pytest.approx(
        ref, rel=1e-14)
    f = dk.function(lambda a, b: sc.beta(a, b))
    grad, _ = _reference(_beta, x, 0.5)
    np.testing.assert_allclose(dk.grad(f, method=method)(x, 0.5), grad, rtol=1e-14)


@pytest.mark.parametrize("method", ["reverse", "forward", "compiled"])
@pytest.mark.parametrize("a, b", SMALL)
def test_beta_hessian_at_small_arguments(method, a, b):
    f = dk.function(lambda a, b: sc.beta(a, b))
    grad, hess = _reference(_beta, a, b)
    got = dk.hessian(f, method=method)(a, b)
    if method != "compiled":  # (reverse over reverse: its two rows round apart, by an ulp)
        assert got[0, 1] == got[1, 0]  # symmetric
    np.testing.assert_allclose(got[0, 1], hess[0, 1], rtol=1e-13)  # 2ζ(3) near the origin
    np.testing.assert_allclose(got, hess, rtol=1e-13)
    np.testing.assert_allclose(dk.grad(f, method=method)(a, b), grad, rtol=1e-14)


def test_beta_values_stay_scipys():
    a = np.array([2.0, 1.0, 1e-8, -0.999999999, 0.05])
    b = np.array([-2.999999999999, -1.999999999, 1e-8, 0.5, 0.05])
    f = dk.function(lambda a, b: sc.beta(a, b))
    value, _ = dk.value_and_grad(dk.function(lambda a, b: dk.sum(sc.beta(a, b))))(a, b)
    np.testing.assert_array_equal(f(a, b), sc.beta(a, b))
    assert value == np.sum(sc.beta(a, b))
