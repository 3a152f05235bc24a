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

    def counting(cls, name, kind):
        rule = getattr(cls, name)

        def counted(self, *args):
            calls[kind] += 1
            return rule(self, *args)

        monkeypatch.setattr(cls, name, counted)

    for name in ("vjp", "vjp_diagonal"):
        counting(ElementwiseLinearization, name, "elementwise")
    for name in ("vjp_rows", "vjp_diagonal"):
        counting(StructuralLinearization, name, "structural")
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


DIAGONAL_CASES = {
    "tanh(A @ x)": (lambda x: dk.tanh(_A @ x), (4,)),
    "exp(x @ B)": (lambda x: dk.exp(x @ _A.T), (4,)),
    "x * x and constants": (lambda x: dk.sin(x) * x * 1.5 - x / 3.0, (5,)),
    "matrix output": (lambda x: dk.tanh(x) * dk.cos(x), (2, 3)),
    "broadcast input": (lambda x: dk.sin(x + np.ones((4, 3))), (3,)),
    "complex output": (lambda x: dk.exp(1j * x), (3,)),
    "after a reduction": (lambda x: dk.tanh(dk.sum(x, axis=0)) * 2.0, (3, 2)),
}
_A = np.arange(12.0).reshape(3, 4) / 7.0


@pytest.mark.parametrize("method", ["reverse", "forward"])
@pytest.mark.parametrize("name", sorted(DIAGONAL_CASES))
def test_diagonal_seeds_give_the_dense_seeds_jacobian_bit_for_bit(name, method, monkeypatch) -> None:
    """The identity kept as its diagonal (DiagonalRows: reverse mode's cotangent rows, forward
    mode's tangents) against the dense identity: the same products in the same order, so the
    same bits; and both modes agree."""
    from diffkit.primitive import Linearization

    fn, shape = DIAGONAL_CASES[name]
    x = np.random.default_rng(7).uniform(-1, 1, size=shape)
    fast = dk.jacobian(dk.function(fn), method=method)(x)
    other = dk.jacobian(dk.function(fn), method="forward" if method == "reverse" else "reverse")(x)
    for cls in (ElementwiseLinearization, StructuralLinearization):  # always dense
        monkeypatch.setattr(cls, "vjp_diagonal", Linearization.vjp_diagonal)
        monkeypatch.setattr(cls, "jvp_diagonal", Linearization.jvp_diagonal)
    dense = dk.jacobian(dk.function(fn), method=method)(x)
    np.testing.assert_array_equal(fast, dense)
    np.testing.assert_allclose(fast, other, rtol=1e-13, atol=1e-15)


def test_hessians_through_diagonal_tangents_match_the_hand_hessian() -> None:
    """Forward over reverse: the forward pass with diagonal seeds runs through the recorded
    reverse sweep."""
    A = np.arange(6.0).reshape(2, 3) / 5.0
    x = np.array([0.2, -0.4, 0.7])
    H = dk.hessian(dk.function(lambda x: dk.sum(dk.tanh(A @ x)) + dk.sum(x * x * x)))(x)
    t = np.tanh(A @ x)
    want = A.T @ np.diag(-2 * t * (1 - t * t)) @ A + np.diag(6 * x)
    np.testing.assert_allclose(H, want, rtol=1e-13, atol=1e-15)


def test_a_tall_jacobian_never_builds_the_identity(monkeypatch) -> None:
    """(n, m) = (2, 2000): the diagonal rows go through tanh and the matrix product as vectors;
    no 2000 × 2000 array is made (and (2000, 2) in forward mode)."""
    from diffkit.primitive import DiagonalRows

    def refuse(self):
        raise AssertionError("a dense identity was built")

    monkeypatch.setattr(DiagonalRows, "dense", refuse)
    A = np.random.default_rng(8).normal(size=(2000, 2))
    x = np.array([0.3, -0.2])
    J = dk.jacobian(dk.function(lambda x: dk.tanh(A @ x)), method="reverse")(x)
    np.testing.assert_allclose(J, (1 - np.tanh(A @ x) ** 2)[:, None] * A, rtol=1e-13)
    B = A.T.copy()  # and its mirror image: a wide Jacobian in forward mode
    y = np.linspace(-1, 1, 2000) / 50
    J = dk.jacobian(dk.function(lambda y: dk.tanh(B @ y)), method="forward")(y)
    np.testing.assert_allclose(J, (1 - np.tanh(B @ y) ** 2)[:, None] * B, rtol=1e-13)


def test_a_singular_partial_under_diagonal_seeds_is_still_named() -> None:
    with pytest.raises(dk.NonDifferentiableError, match="sqrt"):
        dk.jacobian(dk.function(lambda x: dk.sqrt(x * 1.0)), method="reverse")(np.array([0.0, 1.0]))


def test_diagonal_and_dense_cotangents_meeting_at_a_node_add_up() -> None:
    """x reaches the output through an element-wise path (diagonal rows) and a structural one
    (cumsum: dense rows); the dense one arrives first in the sweep, and the two are summed as
    arrays (NumPy once made an object array of ndarray + DiagonalRows)."""
    x = np.arange(1.0, 7.0).reshape(2, 3) / 10

    def f(x):
        return dk.sin(x) + dk.cumsum(x, axis=1) * 2.0

    J = dk.jacobian(dk.function(f), method="reverse")(x)
    block = np.tril(np.ones((3, 3)))  # d cumsum_j / d x_k = [k <= j]
    want = np.diag(np.cos(x).ravel()) + 2.0 * np.kron(np.eye(2), block)
    assert J.dtype == np.float64
    np.testing.assert_allclose(J, want, rtol=1e-15)
    np.testing.assert_allclose(dk.jacobian(dk.function(f), method="forward")(x), want, rtol=1e-15)
