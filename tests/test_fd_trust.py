"""Finite differences answer right or refuse by name: the complex step through NumPy operations
that are not complex-analytic, float16 inputs, points where the derivative is infinite, and the
shapes of tangents and cotangents. Values are checked against hand formulas."""

from __future__ import annotations

import numpy as np
import pytest

import diffkit as dk

FD = ("fd", "fd-forward", "fd-central", "fd-complex", "fd-richardson")
X = np.array([0.5, -1.2, 2.0])
C = np.array([1.0, 2.0, 3.0])
M = np.array([[2.0, 0.3], [0.3, 1.0]])  # symmetric positive definite
R = np.array([[2.0, 0.3], [0.1, 1.0], [0.5, -0.7]])

# ----- 1. the complex step needs every operation it performs to be complex-analytic ------------

# On real inputs each of these looks analytic; at x + ih NumPy conjugates, takes a modulus, reads a
# Hermitian matrix or drops the imaginary part, and Im f(x + ih)/h is silently wrong.
NOT_ANALYTIC = {
    "norm": (lambda x: np.linalg.norm(x), X, "euclidean_norm"),
    "vector_norm": (lambda x: np.linalg.vector_norm(x), X, "euclidean_norm"),
    "matrix_norm": (lambda a: np.linalg.matrix_norm(a), M, "euclidean_norm"),
    "var": (lambda x: np.var(x), X, "conj"),
    "std": (lambda x: np.std(x), X, "conj"),
    "astype": (lambda x: np.sum(x.astype(np.float64) ** 2), X, "astype"),
    "vdot": (lambda x: np.vdot(x, C), X, "conj"),  # vdot is inner(conj(a), b)
    "slogdet": (lambda a: np.linalg.slogdet(a)[1], M, "(logabsdet|slogdet)"),
    "cholesky": (lambda a: np.sum(np.linalg.cholesky(a)), M, "cholesky"),
    "eigvalsh": (lambda a: np.sum(np.linalg.eigvalsh(a) ** 2), M, "eigvalsh"),
    "eigh": (lambda a: np.sum(np.linalg.eigh(a)[1]), M, "eigh"),
    "svd_s": (lambda a: np.sum(np.linalg.svd(a, full_matrices=False)[1]), R, "svd"),
    "svd_u": (lambda a: np.sum(np.linalg.svd(a, full_matrices=False)[0] * C[:, None]), R,
              "svd"),
    "qr": (lambda a: np.sum(np.linalg.qr(a)[1]), R, "qr"),
    "pinv": (lambda a: np.sum(np.linalg.pinv(a)), R, "pinv"),
}


@pytest.mark.parametrize("name", NOT_ANALYTIC)
def test_complex_step_refuses_operations_that_are_not_analytic_on_complex_numbers(name):
    f, x, op = NOT_ANALYTIC[name]
    with pytest.raises(dk.MissingRuleError, match=f"complex-analytic.*{op}"):
        dk.grad(f, method="fd-complex")(x)
    with pytest.raises(dk.MissingRuleError, match="complex-analytic"):
        dk.jacobian(lambda x: f(x) * x, method="fd-complex")(x)


def test_complex_step_keeps_the_analytic_operations():
    """det′ = det·A⁻ᵀ, d Σ A⁻¹ = −A⁻ᵀ 1 1ᵀ A⁻ᵀ, d Σ A⁻¹c, vdot(c, x)′ = c (c real)."""
    inv = np.linalg.inv(M)
    ones = np.ones((2, 2))
    cases = [
        (lambda a: np.linalg.det(a), M, np.linalg.det(M) * inv.T),
        (lambda a: np.sum(np.linalg.inv(a)), M, -inv.T @ ones @ inv.T),
        (lambda a: np.sum(np.linalg.pinv(a)), M, -inv.T @ ones @ inv.T),
        (lambda a: np.sum(np.linalg.solve(a, C[:2])),
         M, -np.outer(inv.T @ np.ones(2), inv @ C[:2])),
        (lambda x: np.vdot(C, x), X, C),
        (lambda x: np.sum(np.sort(x) * C), X, np.array([2.0, 1.0, 3.0])),
    ]
    for f, x, expected in cases:
        (g,) = dk.grad(f, method="fd-complex")(x)
        np.testing.assert_allclose(g, expected, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("name", ["polygamma", "kn", "yn"])
def test_complex_step_names_functions_that_take_no_complex_numbers(name):
    op = getattr(dk, name)
    with pytest.raises(dk.MissingRuleError, match=f"complex-analytic.*{name}"):
        dk.grad(lambda x: op(1, x), method="fd-complex")(1.3)


# ----- 2. float16: differences in float32, the derivative in float16 -----------------------------


@pytest.mark.parametrize("method", FD)
def test_float16_inputs_get_float16_derivatives_that_are_right(method):
    f = dk.parse("x^2")
    x = np.float16(1.5)
    (g,) = dk.grad(f, method=method)(x)
    assert type(g) is np.float16 and g == np.float16(3.0)  # 2x, exact in float16
    (ga,) = dk.grad(lambda x: np.sum(x**2), method=method)(np.array([1.5, 0.25], np.float16))
    assert ga.dtype == np.float16
    np.testing.assert_allclose(ga.astype(float), [3.0, 0.5], rtol=1e-3)
    d = dk.derivative(f, method=method)(x)
    assert type(d) is np.float16 and d == np.float16(3.0)
    assert dk.hessian(f, method=method)(x).dtype == np.float16
    np.testing.assert_allclose(dk.hessian(f, method=method)(x).astype(float), [[2.0]], rtol=1e-3)
    _, t = dk.jvp(f, (x,), (np.float16(1.0),), method=method)
    assert t == 3.0
    _, t = dk.jvp(lambda x: x**2, (np.array([1.5], np.float16),), (np.ones(1, np.float16),),
                  method=method)
    assert t.dtype == np.float16 and t[0] == np.float16(3.0)


# ----- 3. where the derivative is infinite, the one-sided and complex steps refuse ------------

INFINITE = [("sqrt(x)", 0.0), ("arcsin(x)", 1.0), ("arccos(x)", -1.0), ("x^(1/3)", 0.0)]


@pytest.mark.parametrize("method", ["fd-forward", "fd-complex"])
@pytest.mark.parametrize(("text", "x"), INFINITE)
def test_infinite_derivatives_are_refused_by_name(method, text, x):
    f = dk.parse(text)
    with pytest.raises((dk.NonDifferentiableError, dk.DomainError)):
        dk.grad(f, method="reverse")(x)
    with pytest.raises((dk.NonDifferentiableError, dk.DomainError)):
        dk.grad(f, method=method)(x)
    with pytest.raises((dk.NonDifferentiableError, dk.DomainError)):
        dk.jvp(f, (x,), (1.0,), method=method)


def test_the_checks_keep_finite_derivatives_near_those_points():
    """relu(x)**0.5 at −1 is constant nearby (0·∞ = 0); sqrt(relu(x)) + x there has slope 1."""
    assert dk.grad(dk.parse("relu(x)^0.5"), method="fd-forward")(-1.0) == (0.0,)
    (g,) = dk.grad(dk.parse("sqrt(relu(x)) + x"), method="fd-forward")(-1.0)
    assert g == pytest.approx(1.0, rel=1e-7)
    for method, rel in (("fd-forward", 1e-4), ("fd-complex", 1e-12)):  # sqrt′ = 1/(2√x)
        (g,) = dk.grad(dk.parse("sqrt(x)"), method=method)(1e-4)
        assert g == pytest.approx(50.0, rel=rel)


# ----- 4. tangents and cotangents are checked as forward and reverse mode check them -----------


@pytest.mark.parametrize("method", FD)
def test_jvp_refuses_a_complex_tangent_for_a_real_input(method):
    with pytest.raises(dk.ShapeError, match="complex"):
        dk.jvp(dk.parse("x^2"), (1.5,), (1j,), method=method)
    with pytest.raises(dk.ShapeError, match="complex"):
        dk.jvp(lambda x: x**2, (np.ones(3),), (np.full(3, 1j),), method=method)


@pytest.mark.parametrize("method", FD)
def test_jvp_refuses_a_tangent_of_another_shape(method):
    with pytest.raises(dk.ShapeError, match="tangent of shape"):
        dk.jvp(lambda x: x**2, (np.ones(3),), (1.0,), method=method)
    _, t = dk.jvp(lambda x: x**2, (np.array([1.0, 2.0, 3.0]),), (np.array([1.0, 0.0, 2.0]),),
                  method=method)
    np.testing.assert_allclose(t, [2.0, 0.0, 12.0], rtol=1e-5)  # 2x·ẋ


@pytest.mark.parametrize("method", ["fd", "fd-forward", "fd-complex", "fd-richardson"])
def test_vjp_refuses_a_cotangent_of_another_shape(method):
    _, pullback = dk.vjp(lambda x: x**2, np.array([1.0, 2.0]), method=method)
    with pytest.raises(dk.ShapeError, match="cotangent of shape"):
        pullback(np.ones((1, 2)))
    np.testing.assert_allclose(pullback(np.array([1.0, 3.0]))[0], [2.0, 12.0], rtol=1e-5)
    _, pullback = dk.vjp(dk.parse("x^2"), 3.0, method=method)
    assert pullback(1.0)[0] == pytest.approx(6.0, rel=1e-5)  # a scalar output takes a number


def test_a_forward_difference_evaluates_the_function_n_plus_one_times() -> None:
    """f(x) is shared by the n columns of a forward difference: n + 1 difference evaluations of a
    Python function of n inputs, as `evaluations` (the comparison's column) counts them — it
    evaluated f(x) again for every column (2n)."""
    from diffkit.engines.finite import FiniteDifferenceEngine

    calls = []

    def f(a, b, c):
        calls.append(1)
        return a * b + dk.sin(c)

    engine = FiniteDifferenceEngine(scheme="forward")
    fn = dk.function(f)
    before = len(calls)
    value, jac = engine.jacobian(fn, [1.0, 2.0, 3.0], [0, 1, 2])
    # f(x) — the value call, reused as the differences' base — one step per input, and the
    # trace the one-sided check reads: every call of f is counted
    assert engine.evaluations == len(calls) - before == 5
    assert value == 2.0 + np.sin(3.0)
    np.testing.assert_allclose(np.ravel(jac), [2.0, 1.0, np.cos(3.0)], rtol=1e-6)
