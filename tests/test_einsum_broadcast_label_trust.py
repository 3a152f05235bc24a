"""np.einsum with a label of size 1 in one operand and n in another (NumPy broadcasts it): the
reverse rule summed the cotangent to the operand's shape but could not broadcast it up, a
ShapeError ("cannot reshape (3, 1) into (3, 4)") in reverse mode, dk.jit and Jacobians, where
forward and symbolic answered. Checked against the hand-derived gradient."""

from __future__ import annotations

import numpy as np
import pytest

import diffkit as dk

A = np.array([[0.5], [1.0], [1.5]])  # label j of size 1
B = np.arange(12.0).reshape(3, 4) / 10  # label j of size 4


def f(a, b):
    return np.sum(np.einsum("ij,kj->ik", a, b) ** 2)


def hand():
    """y_ik = a_i0 Σ_j b_kj; f = Σ y²: ∂a_i0 = Σ_k 2 y_ik s_k, ∂b_kj = Σ_i 2 y_ik a_i0."""
    s = B.sum(axis=1)
    y = A[:, 0][:, None] * s[None, :]
    ga = (2 * y * s[None, :]).sum(axis=1)[:, None]
    gb = np.repeat((2 * y * A).sum(axis=0)[:, None], 4, axis=1)
    return ga, gb


@pytest.mark.parametrize("method", ["reverse", "forward", "symbolic", "auto"])
def test_broadcast_label(method: str) -> None:
    ga, gb = dk.grad(f, method=method)(A, B)
    want_a, want_b = hand()
    np.testing.assert_allclose(ga, want_a, rtol=1e-13)
    np.testing.assert_allclose(gb, want_b, rtol=1e-13)


def test_under_jit_and_jacobian() -> None:
    g = dk.grad(dk.jit(f))
    for _ in range(3):
        ga, gb = g(A, B)
    np.testing.assert_allclose(ga, hand()[0], rtol=1e-13)
    np.testing.assert_allclose(gb, hand()[1], rtol=1e-13)
    J = dk.jacobian(lambda b: np.einsum("ij,kj->ik", A, b), method="reverse")(B)
    Jf = dk.jacobian(lambda b: np.einsum("ij,kj->ik", A, b), method="forward")(B)
    np.testing.assert_allclose(J, Jf, rtol=1e-14)
