"""dk.jit of a derivative refuses where a fresh call refuses (hunt 43/r3 findings 0, 0b, 1).

A replay of a derivative's trace keeps the domain checks of the primal's primitives whose
values the derivative does not need (log x: the gradient reads 1/x only) and the finiteness
check of the inputs it differentiates; a jit jvp's tangent has its primal's dtype. The
references are hand formulas (log is undefined below 0; d/dx x² = 2x; inv(A)ᵀ for log det)."""

import numpy as np
import pytest

import diffkit as dk


def _log_det(A):
    return np.log(np.linalg.det(A))


def _sum_log(x):
    return dk.sum(np.log(x))


@pytest.mark.parametrize("make", [
    lambda f: dk.grad(f), lambda f: dk.hessian(f), lambda f: dk.jacobian(f),
    lambda f: dk.grad(f, method="forward"), lambda f: dk.grad(f, method="compiled")])
def test_jit_derivative_refuses_log_of_a_negative(make):
    g = dk.jit(make(_sum_log))
    g(np.array([0.5, 2.0]))  # a first call at a valid point
    with pytest.raises(dk.DomainError):
        g(np.array([-0.5, 2.0]))  # log(-0.5) is undefined: no number (was -2, 1/x)
    # and a valid point still answers the hand formula 1/x (grad) after the refusal
    got = dk.jit(dk.grad(_sum_log))(np.array([0.25, 4.0]))[0]
    np.testing.assert_allclose(got, [4.0, 0.25], rtol=1e-15)


def test_jit_grad_of_log_det_refuses_a_negative_determinant():
    g = dk.jit(dk.grad(_log_det))
    A = np.array([[2.0, 1.0], [1.0, 3.0]])
    np.testing.assert_allclose(g(A)[0], np.array([[3.0, -1.0], [-1.0, 2.0]]) / 5.0, rtol=1e-14)
    with pytest.raises(dk.DomainError):
        g(np.diag([-1.0, 2.0]))  # det = -2: was inv(A)ᵀ, the gradient of log|det A|


@pytest.mark.parametrize("f, x0, bad", [
    (lambda x: dk.sum(np.log1p(-x)), 0.5, 1.5),
    (lambda x: dk.sum(np.log2(x)), 0.5, -0.5),
    (lambda x: dk.sum(np.arctanh(x)), 0.5, 1.5),
    (lambda x: dk.sum(np.log(1.0 + x)), 0.5, -3.0),
])
def test_jit_grad_refuses_outside_the_domain(f, x0, bad):
    g = dk.jit(dk.grad(f))
    g(np.array([x0, 0.25]))
    with pytest.raises(dk.DomainError):
        g(np.array([bad, 0.25]))


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_jit_derivative_refuses_a_non_finite_input(bad):
    g = dk.jit(dk.grad(lambda x: dk.sum(dk.relu(x))))
    np.testing.assert_array_equal(g(np.array([0.5, -2.0]))[0], [1.0, 0.0])  # hand: step(x)
    with pytest.raises(dk.DomainError, match="not finite"):
        g(np.array([bad, 2.0]))  # was [nan, 1] / [1, 1]
    h = dk.jit(dk.hessian(lambda x: dk.sum(x * 0.0 + x * x)))
    np.testing.assert_array_equal(h(np.array([0.5, 2.0])), 2.0 * np.eye(2))
    with pytest.raises(dk.DomainError, match="not finite"):
        h(np.array([bad, 2.0]))  # was 2·I: a curvature at a NaN point
    s = dk.jit(dk.grad(lambda x: dk.sum(x)))  # a gradient that needs no value of x at all
    np.testing.assert_array_equal(s(np.array([0.5, 2.0]))[0], [1.0, 1.0])
    with pytest.raises(dk.DomainError, match="not finite"):
        s(np.array([bad, 2.0]))


def test_jit_grad_checks_only_the_differentiated_input():
    g = dk.jit(dk.grad(lambda x, y: dk.sum(x * 2.0) + dk.sum(y), wrt=0))
    np.testing.assert_array_equal(g(np.array([1.0]), np.array([1.0]))[0], [2.0])
    np.testing.assert_array_equal(g(np.array([1.0]), np.array([np.nan]))[0], [2.0])  # data
    with pytest.raises(dk.DomainError, match="not finite"):
        g(np.array([np.nan]), np.array([1.0]))


@pytest.mark.parametrize("method", ["reverse", "compiled", "auto", "forward", "symbolic"])
@pytest.mark.parametrize("dtype", [np.float32, np.float16])
def test_jit_jvp_tangent_keeps_the_input_dtype(method, dtype):
    x = np.array([1.0, 2.0], dtype)
    t = np.array([0.5, 1.0], dtype)
    g = dk.jit(lambda a, b: dk.jvp(lambda u: u * u, (a,), (b,), method=method))
    for _ in range(2):  # the first call and a replay
        _, tangent = g(x, t)
        assert tangent.dtype == dtype
        np.testing.assert_array_equal(tangent, (2 * x * t).astype(dtype))  # hand: 2·x·t
