"""The symbolic engine's norms (stop 38's hunt): SymPy's quotient rule on x/‖x‖ gives the
Hessian's diagonal as 1/‖x‖ − xᵢ²/‖x‖³, which cancels to 0 where xᵢ dominates (‖(1, 1e-9,
2e-9)‖: 0 for 5e-18); the direction xᵢ/‖x‖ now differentiates as ‖x without xᵢ‖²/‖x‖³. And a
max of many arguments keeps its tie convention with its tie indicators made once. References
by hand (the Hessian of ‖x‖ is (I − x̂x̂ᵀ)/‖x‖)."""

from __future__ import annotations

import numpy as np
import pytest

import diffkit as dk


def _norm_hessian(x: np.ndarray) -> np.ndarray:
    """(‖x‖² I − x xᵀ)/‖x‖³, its diagonal as Σ_{k≠i} x_k²/‖x‖³ (no cancellation)."""
    n = np.linalg.norm(x)
    h = -np.outer(x, x) / n ** 3
    for i in range(x.size):
        h[i, i] = np.sum(np.delete(x, i) ** 2) / n ** 3
    return h


@pytest.mark.parametrize("x", [np.array([1.0, 1e-9, 2e-9]), np.array([0.3, -1.2, 2.0]),
                               np.array([-5.0, 1e-7])])
def test_the_hessian_of_a_norm_keeps_its_small_diagonal(x):
    got = dk.hessian(lambda v: np.linalg.norm(v), method="symbolic")(x)
    np.testing.assert_allclose(got, _norm_hessian(x), rtol=1e-12, atol=0)


@pytest.mark.parametrize("x", [np.array([1.0, 1e-9]), np.array([3.0, 4.0])])
def test_the_hessian_of_hypot_keeps_its_small_diagonal(x):
    got = dk.hessian(lambda v: np.hypot(v[0], v[1]), method="symbolic")(x)
    np.testing.assert_allclose(got, _norm_hessian(x), rtol=1e-12, atol=0)


def test_norm_and_hypot_derivatives_of_higher_order_agree_with_forward_mode():
    for f in (dk.parse("hypot(x, 2)"), dk.function(lambda x: np.linalg.norm(
            np.stack([x, 2.0, -0.5])))):
        for n in (1, 2, 3):
            got = dk.derivative(f, n, method="symbolic")(1.5)
            want = dk.derivative(f, n, method="forward")(1.5)
            assert got == pytest.approx(want, rel=1e-12)


def test_the_origin_keeps_the_zero_convention():
    assert dk.grad(lambda a, b: np.hypot(a, b), method="symbolic", argnums=(0, 1))(0.0, 0.0) \
        == (0.0, 0.0)
    np.testing.assert_array_equal(
        dk.grad(lambda v: np.linalg.norm(v), method="symbolic")(np.zeros(3))[0], np.zeros(3))


@pytest.mark.parametrize(("x", "want"), [
    (np.array([1.0, 3.0, 3.0, 2.0]), [0.0, 0.5, 0.5, 0.0]),
    (np.array([4.0, 4.0, 4.0]), [1 / 3, 1 / 3, 1 / 3]),
    (np.array([-1.0, 2.0, 0.5]), [0.0, 1.0, 0.0]),
])
def test_a_max_shares_its_derivative_among_ties(x, want):
    np.testing.assert_allclose(dk.grad(lambda v: np.max(v), method="symbolic")(x)[0], want,
                               rtol=1e-15)
