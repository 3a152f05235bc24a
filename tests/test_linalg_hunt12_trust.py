"""np.linalg found refusing what has a derivative (this session's hunt). References: JAX float64
(skipped without it) and a hand-derived relation."""

from __future__ import annotations

import numpy as np
import pytest

import diffkit as dk

W = np.random.default_rng(0).normal(size=(5, 3))
C = np.random.default_rng(1).normal(size=(5, 3))


def complete_r(a):
    return np.sum(np.linalg.qr(a, mode="complete")[1] * C)


@pytest.mark.parametrize("method", ["reverse", "forward", "compiled"])
def test_complete_qr_r_is_the_reduced_r_with_zero_rows(method):
    # it was refused, blaming complete Q's last columns, which the function does not use
    reduced = dk.grad(lambda a: np.sum(np.linalg.qr(a, mode="reduced")[1] * C[:3]),
                      method=method)(W)[0]
    np.testing.assert_allclose(dk.grad(complete_r, method=method)(W)[0], reduced, atol=1e-13)
    jac = dk.jacobian(lambda a: np.linalg.qr(a, mode="complete")[1], method=method)(W)
    assert np.all(jac.reshape(5, 3, 5, 3)[3:] == 0.0)   # R's zero rows do not move


def test_complete_qr_r_against_jax():
    jax = pytest.importorskip("jax")
    jax.config.update("jax_enable_x64", True)
    jnp = jax.numpy
    ref = lambda a: jnp.sum(jnp.linalg.qr(a, mode="reduced")[1] * C[:3])
    np.testing.assert_allclose(dk.grad(complete_r)(W)[0], jax.grad(ref)(W), atol=1e-13)
    np.testing.assert_allclose(dk.hessian(complete_r)(W).reshape(15, 15),
                               np.asarray(jax.hessian(ref)(W)).reshape(15, 15), atol=1e-12)
    stack = np.random.default_rng(2).normal(size=(2, 5, 3))
    ref2 = jax.grad(lambda a: jnp.sum(jnp.linalg.qr(a, mode="reduced")[1] ** 2))(stack)
    got = dk.grad(lambda a: np.sum(np.linalg.qr(a, mode="complete")[1] ** 2),
                  method="forward")(stack)[0]
    np.testing.assert_allclose(got, ref2, atol=1e-13)


def test_complete_qr_q_stays_refused_by_name():
    with pytest.raises(dk.MissingRuleError, match="not unique"):
        dk.grad(lambda a: np.sum(np.linalg.qr(a, mode="complete")[0]))(W)


A1 = np.array([[1.0, 2.0], [2.0, 4.0]])   # rank 1
B2 = np.array([[2.0, 1.0], [1.0, 3.0]])   # cond = (5 + √5)/(5 − √5)


@pytest.mark.parametrize("method", ["reverse", "forward", "compiled", "symbolic"])
def test_a_numpy_function_without_a_rule_on_constants_is_a_constant(method):
    # matrix_rank and cond of values not being differentiated were refused (MissingRuleError
    # advising method='fd'), though NumPy gives a number that has nothing to differentiate
    g = dk.grad(lambda a: np.sum(a) * np.linalg.matrix_rank(dk.stop_gradient(a)), method=method)
    np.testing.assert_array_equal(g(A1)[0], np.ones((2, 2)))
    cond = (5 + np.sqrt(5)) / (5 - np.sqrt(5))
    g = dk.grad(lambda x, a: np.sum(x) * np.linalg.cond(a), wrt=0, method=method)
    np.testing.assert_allclose(g(np.ones(2), B2)[0], [cond, cond], rtol=1e-14)


def test_a_constant_read_this_way_holds_at_its_point_only():
    f = dk.jit(lambda x, a: np.sum(x) * np.linalg.matrix_rank(a))
    assert f(np.ones(2), A1) == 2.0
    assert f(np.ones(2), B2) == 4.0          # not the first call's rank
    np.testing.assert_array_equal(dk.grad(f, wrt=0)(np.ones(2), B2)[0], [2.0, 2.0])


def test_a_function_without_a_rule_of_a_differentiated_value_stays_refused():
    with pytest.raises(dk.MissingRuleError, match="cond"):
        dk.grad(lambda a: np.linalg.cond(a))(B2)
