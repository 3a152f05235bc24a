"""betaln's second derivatives by reverse over reverse (method='compiled', its generated code under
dk.jit, and dk.grad of a reverse gradient) at b and a + b equally far from poles on opposite sides,
against mpmath at 50 digits (fix 44A: ∂²betaln/∂b² was 0 there for 0.3611)."""
import mpmath as mp
import numpy as np
import pytest
import scipy.special as sc

import diffkit as dk


def _ref_hessian(a, b):
    with mp.workdps(50):
        a, b = mp.mpf(a), mp.mpf(b)
        s = a + b
        return np.array([[float(mp.psi(1, a) - mp.psi(1, s)), float(-mp.psi(1, s))],
                         [float(-mp.psi(1, s)), float(mp.psi(1, b) - mp.psi(1, s))]])


def _ref_third(a, b):
    """∂/∂b of the Hessian: [[−ψ₂(s), −ψ₂(s)], [−ψ₂(s), ψ₂(b) − ψ₂(s)]]."""
    with mp.workdps(50):
        a, b = mp.mpf(a), mp.mpf(b)
        m2 = -mp.psi(2, a + b)
        return np.array([[float(m2), float(m2)], [float(m2), float(mp.psi(2, b) + m2)]])


# b = n + d and a + b = m − d: the pole parts of ψ₁(b) − ψ₁(a + b) cancel exactly
_OPPOSITE = [(2 - 2.0**-30, -3 + 2.0**-31), (-1 - 2.0**-30, -1 + 2.0**-31),
             (-3 - 2.0**-30, -3 + 2.0**-31), (2 - 2.0**-20, -3 + 2.0**-21)]
_OPPOSITE += [(float(a0 - 2 * d), float(b0 + d))
              for a0, b0 in [(1, -2), (0, -1), (-2, -1), (1, -3)]
              for d in (2.0**-31, -(2.0**-31), 2.0**-12)]


@pytest.mark.parametrize("make", [dk.function, dk.jit])
@pytest.mark.parametrize("a, b", _OPPOSITE)
def test_betaln_hessian_by_compiled_at_opposite_pole_distances(a, b, make):
    f = make(lambda a, b: sc.betaln(a, b))
    hessian = dk.hessian(f, method="compiled")
    got = np.asarray(hessian(a, b), dtype=float)
    if make is dk.jit:  # the generated code gave it (not the interpreter)
        assert hessian.engine.last is not None
    np.testing.assert_allclose(got, _ref_hessian(a, b), rtol=1e-9, atol=0)  # H[1, 1] was 0


@pytest.mark.parametrize("a, b", _OPPOSITE[:4])
def test_betaln_second_derivative_by_reverse_over_reverse(a, b):
    f = dk.function(lambda a, b: sc.betaln(a, b))
    db = dk.function(lambda a, b: dk.grad(f, wrt=1)(a, b))
    got = np.asarray(dk.grad(db, method="reverse")(a, b), dtype=float)
    np.testing.assert_allclose(got, _ref_hessian(a, b)[1], rtol=1e-9, atol=0)


@pytest.mark.parametrize("a, b", _OPPOSITE[:4])
def test_jit_of_compiled_hessian_and_third_derivatives(a, b):
    f = dk.jit(lambda a, b: sc.betaln(a, b))
    np.testing.assert_allclose(dk.jit(dk.hessian(f, method="compiled"))(a, b),
                               _ref_hessian(a, b), rtol=1e-9, atol=0)
    db = dk.jit(lambda a, b: dk.grad(f, wrt=1)(a, b))
    np.testing.assert_allclose(dk.hessian(db, method="compiled")(a, b), _ref_third(a, b),
                               rtol=1e-12, atol=0)


# beta's branches (tests/test_beta_branches43.py, test_beta_poles43.py) by generated code
_BETA_POINTS = [(-3.25, 2.0**-31), (2 - 2.0**-30, 2.0**-31), (7.5, 2.0**-40), (-0.375, 1e-12),
                (1.0, -1.999999999), (-1.999999999, 1.0), (1e-8, 1e-8),
                (0.04, -0.03), (-1 + 2.0**-31, 0.9999), (-(2.0**-31), -1 + 2.0**-20)]


def _ref_beta_hessian(a, b):
    with mp.workdps(50):
        a, b = mp.mpf(a), mp.mpf(b)
        s = a + b
        g = [mp.psi(0, a) - mp.psi(0, s), mp.psi(0, b) - mp.psi(0, s)]
        h = [[mp.psi(1, a) - mp.psi(1, s), -mp.psi(1, s)],
             [-mp.psi(1, s), mp.psi(1, b) - mp.psi(1, s)]]
        big = mp.beta(a, b)
        return np.array([[float(big * (g[i] * g[j] + h[i][j])) for j in range(2)]
                         for i in range(2)])


@pytest.mark.parametrize("a, b", _BETA_POINTS)
def test_beta_hessian_by_generated_code(a, b):
    f = dk.jit(lambda a, b: sc.beta(a, b))
    hessian = dk.hessian(f, method="compiled")
    got = np.asarray(hessian(a, b), dtype=float)
    assert hessian.engine.last is not None
    np.testing.assert_allclose(got, _ref_beta_hessian(a, b), rtol=1e-6 if b == 0.9999 else 1e-9)
