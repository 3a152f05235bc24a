"""gamma, gammaln, beta and betaln derivatives of orders 1 to 3 where ψ is reflected near the
poles of Γ, against mpmath at 50 digits (hunt 43/r1 findings 1 and 2, regressions of 7d49472):
at and near the negative half-integers and just below ½ (the pole part was π/tan(π·r) up to
|r| = ½, where tan is 1.6e16 and its derivatives cancel: gammaln‴(−0.5) was −83.45 for
−0.8288), at the ¼ switch between the reflection and SciPy's ψ, and near a pole of a with a + b
far from one (betaln's ∂²/∂a∂b 3.7e-6 off, the Hessian asymmetric); and dk.symbolic(f)(x) called
with one number (finding 5). The references are closed forms in mpmath's polygamma: d/dx ln|Γ| =
ψ, Γ⁽ⁿ⁾ = Γ·Bₙ(ψ, ψ₁, ψ₂) (complete Bell polynomials), and along a line (a + u·t, b + v·t)
betaln⁽ⁿ⁾ = κₙ = uⁿψ⁽ⁿ⁻¹⁾(a) + vⁿψ⁽ⁿ⁻¹⁾(b) − (u + v)ⁿψ⁽ⁿ⁻¹⁾(a + b), beta⁽ⁿ⁾ = B·Bₙ(κ)."""

import numpy as np
import pytest
import scipy.special as sc

import diffkit as dk
from diffkit.errors import InputTypeError, ShapeError

mp = pytest.importorskip("mpmath")
mp.mp.dps = 50

METHODS = ["reverse", "forward", "compiled"]


def _bell(k1, k2, k3):
    """The first three derivatives of exp(K) over exp(K), from K′, K″, K‴."""
    return [k1, k1 * k1 + k2, k1 ** 3 + 3 * k1 * k2 + k3]


def _psi(n, x):
    return mp.polygamma(n, x)


def _gamma_reference(x):
    x = mp.mpf(x)
    return [float(mp.gamma(x) * d) for d in _bell(*[_psi(k, x) for k in range(3)])]


def _gammaln_reference(x):
    return [float(_psi(k, mp.mpf(x))) for k in range(3)]


def _line_reference(p, q, u, v):
    """[beta′, beta″, beta‴], [betaln′, betaln″, betaln‴] along t ↦ (p + u·t, q + v·t) at t = 0."""
    a, b = mp.mpf(p), mp.mpf(q)
    kappa = [u ** n * _psi(n - 1, a) + v ** n * _psi(n - 1, b) - (u + v) ** n * _psi(n - 1, a + b)
             for n in (1, 2, 3)]
    beta = mp.gamma(a) * mp.gamma(b) * mp.rgamma(a + b)
    return [float(beta * d) for d in _bell(*kappa)], [float(k) for k in kappa]


def _assert_orders(f, x, reference, method, rtol):
    got = [float(dk.derivative(f, n=n, method=method)(x)) for n in (1, 2, 3)]
    np.testing.assert_allclose(got, reference, rtol=rtol, atol=0)


# the negative half-integers (finding 1's table), beside them and just below ½, where the
# reflection switches to SciPy's ψ (¼ from a pole: both sides), and near and far from poles
HALF = [-0.5, -1.5, -2.5, -100.5, -170.5, -0.4999999999, -0.5000000001, 0.4999999999, -0.49,
        -0.45, -1.4, -0.25, -0.2500000001, -0.2499999999, -1.75, -1.7500000001, -1.7499999999,
        0.25, 0.2500000001, 0.2499999999, -3.9999999999, -0.999999999, -1e-8, 1e-8, 0.1, 0.3,
        -60.00000001, -149.75]


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("x", HALF)
def test_gammaln_orders_1_to_3(method, x):
    f = dk.function(lambda t: sc.gammaln(t))
    _assert_orders(f, x, _gammaln_reference(x), method, rtol=2e-15)


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("x", HALF)
def test_gamma_orders_1_to_3(method, x):
    f = dk.function(lambda t: sc.gamma(t))
    # Γ(−170.5) = 3.3e-309 is subnormal (14 digits); Γ near −150 carries 20 ulps of ψ's
    rtol = 2e-14 if x < -100 else 5e-15
    _assert_orders(f, x, _gamma_reference(x), method, rtol=rtol)


def test_gamma_first_derivative_at_minus_half_to_the_last_bits():
    # the pole part was cot(π/2) = 1/tan(π/2) = 1.9e-16 beside ψ(−0.5) = 0.0365: 25 ulps
    ref = _gamma_reference(-0.5)[0]
    for method in METHODS:
        got = dk.derivative(dk.function(lambda t: sc.gamma(t)), method=method)(-0.5)
        assert got == pytest.approx(ref, rel=5e-16, abs=0)
    g = dk.derivative(dk.function(lambda t: sc.gammaln(t)), method="reverse")(np.float32(-0.5))
    assert g.dtype == np.float32
    assert abs(float(g) - _gammaln_reference(-0.5)[0]) <= float(np.spacing(np.float32(0.0365)))


# t ↦ beta(p + t/2, q − t/4), betaln likewise (finding 1's beta rows)
LINE = [(-0.5, 2.0), (2.0, -2.5), (-0.4999999999, 3.0), (0.4999999999, 0.2), (-0.5, 0.3),
        (-1.5, 0.7), (-2.5, 1.25), (-0.2500000001, 3.0), (-0.75, -0.75)]


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("p, q", LINE)
def test_beta_and_betaln_orders_1_to_3_along_a_line(method, p, q):
    beta_ref, betaln_ref = _line_reference(p, q, 0.5, -0.25)
    f = dk.function(lambda t: sc.beta(t * 0.5 + p, q - t * 0.25))
    g = dk.function(lambda t: sc.betaln(t * 0.5 + p, q - t * 0.25))
    _assert_orders(f, 0.0, beta_ref, method, rtol=1e-13)
    _assert_orders(g, 0.0, betaln_ref, method, rtol=1e-13)


# a near a pole, a + b not (finding 2), or near one at a distance far from a's; where a + b
# rounds, ψ⁽ᵏ⁾(b) − ψ⁽ᵏ⁾(a + b) (∂ᵏ⁺¹/∂bᵏ⁺¹) is a small difference (a near an integer)
NEAR_A = [(-2.99999999999, 1.3), (-2.9999999, -79.9), (-2.9999999, 0.3), (-0.9999999, 0.3),
          (-2.9999999, -0.5), (-0.9999999, -0.2), (-2.9999999, -80.3), (-2.9999999, -99.7)]


def _betaln_tensors(a, b):
    a, b = mp.mpf(a), mp.mpf(b)
    s = a + b
    grad = [_psi(0, a) - _psi(0, s), _psi(0, b) - _psi(0, s)]
    m1, m2 = -_psi(1, s), -_psi(2, s)
    hess = [[_psi(1, a) + m1, m1], [m1, _psi(1, b) + m1]]
    third = [[[_psi(2, a) + m2, m2], [m2, m2]], [[m2, m2], [m2, _psi(2, b) + m2]]]
    return [np.array(t, dtype=float) for t in ([float(g) for g in grad],
                                                [[float(h) for h in r] for r in hess],
                                                [[[float(t) for t in r] for r in m] for m in third])]


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("a, b", NEAR_A)
def test_betaln_orders_1_to_3_near_a_pole_of_a(method, a, b):
    f = dk.function(lambda a, b: sc.betaln(a, b))
    grad, hess, third = _betaln_tensors(a, b)
    np.testing.assert_allclose(dk.grad(f, method=method)(a, b), grad, rtol=1e-13, atol=0)
    got = np.asarray(dk.hessian(f, method=method)(a, b))
    np.testing.assert_allclose(got, hess, rtol=1e-12, atol=0)  # H[0, 1] was 3.7e-6 off
    np.testing.assert_allclose(got[0, 1], got[1, 0], rtol=1e-13, atol=0)
    for i in (0, 1):  # the Hessian of ∂betaln/∂a and of ∂betaln/∂b: the third derivatives
        partial = dk.function(lambda a, b, i=i: dk.grad(f, wrt=i)(a, b))
        np.testing.assert_allclose(dk.hessian(partial, method=method)(a, b), third[i],
                                   rtol=1e-12, atol=0)


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("a, b", NEAR_A)
def test_beta_hessian_near_a_pole_of_a(method, a, b):
    f = dk.function(lambda a, b: sc.beta(a, b))
    grad, hess, _ = _betaln_tensors(a, b)
    value = float(mp.gamma(mp.mpf(a)) * mp.gamma(mp.mpf(b)) * mp.rgamma(mp.mpf(a) + mp.mpf(b)))
    ref = value * (np.outer(grad, grad) + hess)  # B's Hessian: B·(g gᵀ + H), g, H betaln's
    got = np.asarray(dk.hessian(f, method=method)(a, b))
    np.testing.assert_allclose(got[0, 1], got[1, 0], rtol=1e-13, atol=0)  # was 2.4e-12 apart
    np.testing.assert_allclose(got[0], ref[0], rtol=1e-12, atol=0)
    # ∂²B/∂b² = B·((ψ(b) − ψ(s))² + ψ₁(b) − ψ₁(s)): near a pole of Γ(a) B is nearly linear in b,
    # and the two terms cancel by 2e5 at (−0.9999999, 0.3) (77.18 from two 1.4e7): 2.4e-11
    np.testing.assert_allclose(got[1, 1], ref[1, 1], rtol=1e-10, atol=0)


def test_arrays_mixing_the_branches():
    # reflected and SciPy's ψ in one array, each element as at a scalar (reverse and forward)
    x = np.array([-0.5, -1.25, -0.2, 0.4999999999, -2.9999999, 3.3, -100.5])
    f = dk.function(lambda t: dk.sum(sc.gammaln(t)))
    ref = np.array([_gammaln_reference(v)[1] for v in x])
    for method in ("reverse", "forward"):
        np.testing.assert_allclose(np.diag(dk.hessian(f, method=method)(x)), ref, rtol=2e-15)


# ----- dk.symbolic(f)(x) with one number (finding 5) ---------------------------------------------


def test_symbolic_call_takes_one_number_for_one_scalar_input():
    plain = dk.symbolic(lambda t: np.sin(t) * t)
    ref = np.sin(1.7) + 1.7 * np.cos(1.7)
    for x in (1.7, np.float64(1.7), np.array(1.7), [1.7], (1.7,), np.array([1.7])):
        np.testing.assert_allclose(np.asarray(plain(x)).ravel(), [ref], rtol=1e-15)
    # a graph whose points are checked (gamma's symbolic_inexact): the check reads the number too
    checked = dk.symbolic(lambda t: sc.gamma(t), 2.5)
    np.testing.assert_allclose(np.asarray(checked(2.5)).ravel(), [_gamma_reference(2.5)[0]],
                               rtol=1e-14)
    signed = dk.symbolic(lambda t: np.copysign(1.0, np.ceil(t / 2)) * t, 1.3)
    np.testing.assert_array_equal(np.asarray(signed(1.3)).ravel(), [1.0])


def test_symbolic_call_refuses_by_name_what_does_not_fit():
    two = dk.symbolic(lambda x, y: np.copysign(1.0, np.ceil(x / 2)) * y, 1.0, 2.0)
    np.testing.assert_array_equal(np.asarray(two([1.0, 2.0])).ravel(), [0.0, 1.0])
    for bad in (1.0, [1.0], [1.0, 2.0, 3.0], [[1.0, 2.0]], [1.0, [2.0]]):
        with pytest.raises(ShapeError, match="flat sequence of 2 number"):
            two(bad)
    with pytest.raises(InputTypeError, match="flat sequence"):
        two("12")
    vector = dk.symbolic(lambda t, u: np.sin(t) * u, 1.0, np.array([1.0, 2.0]))
    assert np.asarray(vector([1.0, 2.0, 3.0])).shape == (2, 3)
    with pytest.raises(ShapeError, match=r"3 number\(s\).*\[t, u_0, u_1\]"):
        vector(1.0)
