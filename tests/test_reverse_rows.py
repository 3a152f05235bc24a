"""Reverse-mode Jacobians in one adjoint sweep: m cotangent rows carried together.

References are independent: hand-derived Jacobians, forward mode (tangent sweep) and central
finite differences (a black box).
"""

from __future__ import annotations

import numpy as np
import pytest

import diffkit as dk
from diffkit.primitive import ElementwiseLinearization, StructuralLinearization

RNG = np.random.default_rng(7)


def test_tanh_of_a_matrix_product_matches_the_hand_jacobian() -> None:
    for n, m in ((100, 100), (1, 300), (7, 3)):
        A = RNG.normal(size=(m, n))
        x = RNG.normal(size=n)
        f = dk.function(lambda x: dk.tanh(A @ x))  # noqa: B023 - used at once
        J = dk.jacobian(f, method="reverse")(x)
        np.testing.assert_allclose(J, (1 - np.tanh(A @ x) ** 2)[:, None] * A, rtol=1e-13,
                                   atol=1e-15)


def test_the_jacobian_takes_one_sweep_not_one_per_output(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = {"elementwise": 0, "structural": 0}
    e_vjp, s_rows = ElementwiseLinearization.vjp, StructuralLinearization.vjp_rows

    def counted_e(self, ct):
        calls["elementwise"] += 1
        return e_vjp(self, ct)

    def counted_s(self, cts, k):
        calls["structural"] += 1
        return s_rows(self, cts, k)

    monkeypatch.setattr(ElementwiseLinearization, "vjp", counted_e)
    monkeypatch.setattr(StructuralLinearization, "vjp_rows", counted_s)
    A = RNG.normal(size=(50, 4))
    dk.jacobian(dk.function(lambda x: dk.sin(A @ x) * 2.0), method="reverse")(np.ones(4))
    assert calls == {"elementwise": 2, "structural": 1}  # sin, mul; matmul: once each, not 50×


CASES = {
    "sum-mean-broadcast": (lambda x: dk.sum(x * x, axis=0)[:, None] + dk.mean(x, 1, keepdims=True).T,
                           (3, 4)),
    "reshape-transpose": (lambda x: dk.reshape(dk.transpose(x) * dk.exp(x.T), (2, 6)), (3, 4)),
    "getitem-basic": (lambda x: x[1:, ::2] * x[0, 0], (3, 4)),
    "getitem-advanced-apart": (lambda x: dk.sin(x[[0, 2], :, [1, 0]]), (3, 2, 2)),
    "concatenate-roll": (lambda x: dk.concatenate([dk.roll(x, 2), x * x]), (5,)),
    "amax-ties": (lambda x: dk.amax(x * np.array([1.0, 1.0, 2.0]), axis=0), (4, 3)),
    "batched-matmul": (lambda x: dk.tanh(x @ np.arange(12.0).reshape(2, 3, 2) / 10), (2, 4, 3)),
    "vector-matmul": (lambda x: x @ np.arange(12.0).reshape(3, 4) + x[0] * x[1:2] @ np.ones((1, 4)),
                      (3,)),
    "no-rows-rule (cumsum, sort)": (lambda x: dk.cumsum(x, axis=1) * dk.sort(x, axis=1), (2, 4)),
    "linear": (lambda x: dk.linear(x, np.arange(6.0).reshape(2, 3), np.ones(2)) ** 2, (4, 3)),
}


def _central(f, x, h=1e-6):
    out = np.asarray(f(x))
    J = np.zeros((out.size, x.size))
    for j in range(x.size):
        e = np.zeros(x.size)
        e[j] = h
        J[:, j] = (np.asarray(f(x + e.reshape(x.shape))) - np.asarray(f(x - e.reshape(x.shape)))
                   ).reshape(-1) / (2 * h)
    return J


@pytest.mark.parametrize("name", sorted(CASES))
def test_reverse_rows_agree_with_forward_and_finite_differences(name: str) -> None:
    body, shape = CASES[name]
    f = dk.function(body)
    x = RNG.uniform(0.5, 1.5, size=shape)
    if name.startswith("amax"):
        x[0, 0] = x[1, 0]  # a tie: the derivative is shared (the table's convention)
    J_rev = dk.jacobian(f, method="reverse")(x)
    J_fwd = dk.jacobian(f, method="forward")(x)
    np.testing.assert_allclose(J_rev, J_fwd, rtol=1e-12, atol=1e-13)
    if not name.startswith("amax"):
        np.testing.assert_allclose(J_rev, _central(lambda v: f(v), x), rtol=1e-6, atol=1e-7)


def test_hessian_by_reverse_over_reverse_rows_matches_the_hand_hessian() -> None:
    # f(x) = Σ sin(x_i) x_{i+1}: ∂²f/∂x_i² = -sin(x_i) x_{i+1}, ∂²f/∂x_i∂x_{i+1} = cos(x_i)
    f = dk.function(lambda x: dk.sum(dk.sin(x[:-1]) * x[1:]))
    x = RNG.normal(size=5)
    H = np.zeros((5, 5))
    for i in range(4):
        H[i, i] = -np.sin(x[i]) * x[i + 1]
        H[i, i + 1] = H[i + 1, i] = np.cos(x[i])
    np.testing.assert_allclose(dk.hessian(f, method="reverse")(x), H, rtol=1e-13, atol=1e-15)


def test_several_inputs_and_a_complex_holomorphic_output() -> None:
    f = dk.function(lambda a, b: dk.exp(a * b))
    a, b = np.array([0.3 + 0.2j, -0.1j]), np.array([1.0 + 0j, 2.0 - 1j])
    J = dk.jacobian(f, method="reverse")(a, b)
    e = np.exp(a * b)
    np.testing.assert_allclose(J, np.hstack([np.diag(e * b), np.diag(e * a)]), rtol=1e-14)


@pytest.mark.parametrize("n, m", [(3, 40), (40, 3)])
def test_auto_runs_a_python_function_once_per_jacobian(n: int, m: int) -> None:
    """auto traces the function to estimate the costs; the engine it picks reuses that trace."""
    rng = np.random.default_rng(1)
    A = rng.normal(size=(m, n))
    calls = []

    def f(x):
        calls.append(1)
        return dk.tanh(A @ x)

    x = rng.normal(size=n)
    jac = dk.jacobian(f, method="auto")
    J = jac(x)
    assert len(calls) == 1
    np.testing.assert_allclose(J, (1 - np.tanh(A @ x) ** 2)[:, None] * A, rtol=1e-13, atol=1e-15)
    assert jac.engine.last_choice == ("forward" if n < m else "reverse")
    jac(x)
    assert len(calls) == 2  # a Python function is traced afresh at every call
