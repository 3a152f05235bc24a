"""betaln/beta derivative branches at pole-distance boundaries (hunt 43/r6 findings 2, 3),
against mpmath at 50 digits."""
import mpmath as mp
import numpy as np
import pytest
import scipy.special as sc

import diffkit as dk


def _ref_betaln_hessian(a, b):
    with mp.workdps(50):
        a, b = mp.mpf(a), mp.mpf(b)
        s = a + b
        return np.array([[float(mp.psi(1, a) - mp.psi(1, s)), float(-mp.psi(1, s))],
                         [float(-mp.psi(1, s)), float(mp.psi(1, b) - mp.psi(1, s))]])


def _ref_beta_hessian(a, b):
    with mp.workdps(50):
        a, b = mp.mpf(a), mp.mpf(b)
        s = a + b
        g = [mp.psi(0, a) - mp.psi(0, s), mp.psi(0, b) - mp.psi(0, s)]
        h = [[mp.psi(1, a) - mp.psi(1, s), -mp.psi(1, s)], [-mp.psi(1, s), mp.psi(1, b) - mp.psi(1, s)]]
        big = mp.beta(a, b)
        return np.array([[float(big * (g[i] * g[j] + h[i][j])) for j in range(2)] for i in range(2)])


# b and a + b at equal distances d from poles on opposite sides: b = n + d, a + b = m - d
_OPPOSITE = [(2 - 2.0**-30, -3 + 2.0**-31), (-1 - 2.0**-30, -1 + 2.0**-31),
             (-3 - 2.0**-30, -3 + 2.0**-31)]
_OPPOSITE += [(float(a0 - 2 * d), float(b0 + d))
              for a0, b0 in [(2, -3), (1, -2), (0, -1), (-2, -1), (1, -3)]
              for d in (2.0**-31, -(2.0**-31), 2.0**-20, -(2.0**-20), 2.0**-12)]


@pytest.mark.parametrize("method", ["reverse", "forward", "compiled"])
@pytest.mark.parametrize("a, b", _OPPOSITE)
def test_betaln_hessian_at_opposite_equal_pole_distances(a, b, method):
    f = dk.function(lambda a, b: sc.betaln(a, b))
    got = np.asarray(dk.hessian(f, method=method)(a, b), dtype=float)
    ref = _ref_betaln_hessian(a, b)
    np.testing.assert_allclose(got, ref, rtol=1e-9, atol=0)


# b tiny (at Γ(b)'s pole), a exactly 1/4 from a pole, a + b just inside 1/4: not "s's pole only"
_LONE = [(-3.25, 2.0**-31), (-3.125, 2.0**-31), (-0.25, 2.0**-31), (-1.25, 2.0**-31),
         (-3.25, 2.0**-25), (-2.25, 1e-9), (-3.0029296875, 2.0**-31), (2 - 2.0**-30, 2.0**-31),
         (-3.25, -(2.0**-31)), (7.5, 2.0**-40), (-0.375, 1e-12)]


@pytest.mark.parametrize("method", ["reverse", "forward", "compiled"])
@pytest.mark.parametrize("swap", [False, True])
@pytest.mark.parametrize("a, b", _LONE)
def test_beta_derivatives_with_one_argument_at_a_pole(a, b, swap, method):
    if swap:
        a, b = b, a
    f = dk.function(lambda a, b: sc.beta(a, b))
    ref = _ref_beta_hessian(a, b)
    got = np.asarray(dk.hessian(f, method=method)(a, b), dtype=float)
    np.testing.assert_allclose(got, ref, rtol=1e-12)  # H[0, 1] was −7589.68 for 36.24
    with mp.workdps(50):
        a_, b_ = mp.mpf(a), mp.mpf(b)
        big = mp.beta(a_, b_)
        g = [float(big * (mp.psi(0, a_) - mp.psi(0, a_ + b_))),
             float(big * (mp.psi(0, b_) - mp.psi(0, a_ + b_)))]
    np.testing.assert_allclose(np.asarray(dk.grad(f, method=method)(a, b), dtype=float), g,
                               rtol=1e-13)


# review 43/r7: a first form of the branches above took (a near a pole, b ordinary, a + b near a
# pole) off the near-pole form (∂²B/∂b² 1.7e-3 off at (−1 + 2⁻³¹, 0.9999)), and the lone-pole
# series read SciPy's ψ beside g's pole (∂²B/∂a∂b 2.3e-6 off at (−2⁻³¹, −1 + 2⁻²⁰))
@pytest.mark.parametrize(("a", "b", "tol"), [(-1 + 2.0**-31, 0.9999, 1e-6),
                                             (-3 + 2.0**-31, 2 - 2.0**-20, 1e-9),
                                             (-1 + 2.0**-20, 1.003, 1e-10),
                                             (-(2.0**-31), -1 + 2.0**-20, 1e-8)])
def test_beta_hessian_where_a_and_a_plus_b_are_near_poles(a, b, tol):
    f = dk.function(lambda x, y: sc.beta(x, y))
    h = dk.hessian(f)(a, b)
    with mp.workdps(50):
        A, B = mp.mpf(a), mp.mpf(b)

        def beta(x, y):
            return mp.gamma(x) * mp.gamma(y) * mp.rgamma(x + y)

        ref = [[float(mp.diff(beta, (A, B), (2, 0))), float(mp.diff(beta, (A, B), (1, 1)))],
               [float(mp.diff(beta, (A, B), (1, 1))), float(mp.diff(beta, (A, B), (0, 2)))]]
    for i in range(2):
        for j in range(2):
            assert abs(h[i, j] - ref[i][j]) <= tol * abs(ref[i][j]), (i, j, h, ref)
