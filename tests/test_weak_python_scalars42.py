"""A Python float or complex argument that is not differentiated stays weak (NumPy 2's NEP 50,
JAX's weakly typed Python scalars): with x a float32 array, ``x * 0.1`` is float32 and
``x * (1+2j)`` complex64, in a plain call of ``dk.function`` and ``dk.jit`` (first and later
calls), in the value of a derivative that holds it, and in a Jacobian's — the body's own result,
dtype and value bit for bit. A NumPy float64 scalar stays strong (float64), a float32 0-d array
is float32, and the three are three jit signatures. Before the fix ``as_input`` made every
Python float ``np.float64`` (strong): ``dk.function(f)(x32, 0.1)`` was float64.
"""

from __future__ import annotations

import numpy as np
import pytest

import diffkit as dk

X32 = np.array([0.1, 3.0, -7.25], np.float32)


def mul(x, k):
    return x * k


def scaled_sum(x, k):
    return (x * k).sum()


def poly(x, k):
    return (x * k) ** 2 + x * (k + 1.5)


def same(got, ref):
    """The body's result, bit for bit: its type (a NumPy scalar or an array), dtype and bytes."""
    got, ref = np.asarray(got), np.asarray(ref)
    assert got.dtype == ref.dtype, (got.dtype, ref.dtype)
    assert got.shape == ref.shape
    assert got.tobytes() == ref.tobytes(), (got, ref)


HELD = [0.1, 1 + 2j, 3, True, -2.5e-3]


@pytest.mark.parametrize("k", HELD, ids=repr)
@pytest.mark.parametrize("body", [mul, poly], ids=lambda f: f.__name__)
def test_function_call_is_the_body(body, k):
    same(dk.function(body)(X32, k), body(X32, k))


@pytest.mark.parametrize("k", HELD, ids=repr)
@pytest.mark.parametrize("body", [mul, poly, scaled_sum], ids=lambda f: f.__name__)
def test_jit_first_and_later_calls_are_the_body(body, k):
    f = dk.jit(body)
    ref = body(X32, k)
    for _ in range(3):  # the first call traces, the later ones reuse what it made
        same(f(X32, k), ref)
    other = -0.75 if not isinstance(k, bool | int) else 5  # another value, same signature
    same(f(X32, other), body(X32, other))


def test_numpy_and_jax_agree_on_the_dtypes():
    """The reference itself: NumPy's body and JAX x64 (weak Python scalars) give float32 and
    complex64, a NumPy float64 scalar float64."""
    jax = pytest.importorskip("jax")
    jax.config.update("jax_enable_x64", True)
    j = jax.jit(mul)
    for k, dtype in [(0.1, np.float32), (1 + 2j, np.complex64), (3, np.float32),
                     (np.float64(0.1), np.float64)]:
        assert mul(X32, k).dtype == dtype
        assert np.asarray(j(X32, k)).dtype == dtype
        assert dk.function(mul)(X32, k).dtype == dtype
        assert dk.jit(mul)(X32, k).dtype == dtype


def test_three_kinds_of_scalar_are_three_signatures():
    """A Python float (weak), np.float64 (strong) and a float32 0-d array, in either order,
    each give the body's dtype and value through one jit function."""
    f = dk.jit(mul)
    ks = [0.1, np.float64(0.1), np.array(0.1, np.float32), np.array(0.1), 0.1, np.float64(0.1)]
    for k in ks + ks[::-1]:
        same(f(X32, k), mul(X32, k))
    assert f(X32, 0.1).dtype == np.float32
    assert f(X32, np.float64(0.1)).dtype == np.float64
    # float32(0.1) * x and 0.1 * x rounded in float32 are the same numbers here, the float64
    # product is not: the value differs as the dtype does
    assert not np.array_equal(f(X32, np.float64(0.1)), f(X32, 0.1).astype(np.float64))


@pytest.mark.parametrize("jit", [False, True])
@pytest.mark.parametrize("method", ["reverse", "forward", "compiled", "symbolic", "fd-central"])
def test_value_of_a_derivative_holding_a_python_float(method, jit):
    """value_and_grad(wrt=0): the value is the body's (float32: Σ x·0.1 rounded in float32), the
    gradient d/dx Σ x·k = k, in x's dtype (float32)."""
    f = (dk.jit if jit else dk.function)(scaled_sum)
    for _ in range(3):
        value, grads = dk.value_and_grad(f, wrt=0, method=method)(X32, 0.1)
        same(value, scaled_sum(X32, 0.1))
        (g,) = grads if isinstance(grads, tuple) else (grads,)
        assert g.dtype == np.float32
        if method == "fd-central":
            np.testing.assert_allclose(g, np.full(3, 0.1), rtol=1e-3)
        else:
            same(g, np.full(3, 0.1, np.float32))


@pytest.mark.parametrize("jit", [False, True])
def test_jacobian_holding_a_python_float(jit):
    """The Jacobian of x ↦ (x·k)² + x·(k + 1.5) in x, k = 0.1 held: diag(2k²x + k + 1.5), in
    float32, against JAX x64 (which reads k weakly: its Jacobian is float32 too); its value
    (dk.jvp's primal) is the body's float32."""
    jax = pytest.importorskip("jax")
    jax.config.update("jax_enable_x64", True)
    f = (dk.jit if jit else dk.function)(poly)
    for _ in range(2):
        jac = dk.jacobian(f, wrt=0)(X32, 0.1)
        ref = np.asarray(jax.jacfwd(poly)(X32, 0.1))
        assert ref.dtype == np.float32
        assert np.asarray(jac).dtype == np.float32
        np.testing.assert_allclose(jac, ref, rtol=1e-6)
        np.testing.assert_allclose(np.diag(jac), 2 * 0.01 * X32.astype(float) + 1.6, rtol=1e-6)
        value, tangent = dk.jvp(f, (X32, 0.1), (np.ones(3, np.float32), None))
        same(value, poly(X32, 0.1))
        np.testing.assert_allclose(tangent, np.diag(ref), rtol=1e-6)


def test_held_complex_scalar_in_a_derivative():
    """A held Python complex: the value is complex64 as the body's; d/dx Re Σ x·k = Re k."""
    def f(x, k):
        return np.real((x * k).sum())

    value, (g,) = dk.value_and_grad(f, wrt=0)(X32, 1 + 2j)
    same(value, f(X32, 1 + 2j))
    np.testing.assert_array_equal(g, np.ones(3, np.float32))
    assert g.dtype == np.float32


def test_a_differentiated_python_float_stays_float64():
    """The decision kept (docs/design.md, dtypes): a Python float being differentiated is a
    float64 traced scalar (its gradient a Python float), whatever is beside it; JAX would read
    it weakly (float32 here)."""
    w = np.float32(3.0)

    def f(k):
        return k * w

    value, (g,) = dk.value_and_grad(f)(0.1)
    assert type(g) is float and g == 3.0
    assert np.asarray(value).dtype == np.float64
    assert value == np.float64(0.1) * np.float64(3.0)


def test_closure_float32_with_a_held_python_float_in_jit():
    """A float32 value the jit body closes over meets the held Python number (no argument is
    float32): the call, the gradient's value and the learned fast path of dk.grad are the
    body's (float32 k·w), also after a np.float64 call compiled the same float64 signature."""
    w = np.float32(3.0)

    def body(x, k):
        return x * x + k * w

    f = dk.jit(body)
    vg = dk.value_and_grad(f, wrt=0)
    for k in (np.float64(0.1), 0.1, np.float64(0.1), 0.1, 0.1, 0.1):
        value, (g,) = vg(0.5, k)
        same(value, body(np.float64(0.5), k))  # x differentiated: a float64 traced scalar
        assert g == 1.0
        same(f(0.5, k), body(0.5, k))
    grad = dk.grad(f, wrt=0)
    for _ in range(4):
        assert grad(0.5, 0.1) == (1.0,) or grad(0.5, 0.1) == 1.0


def test_all_float64_jit_keeps_its_code():
    """Where nothing narrow is in the trace a held Python float and its float64 promote alike:
    the jit call still runs its generated code, at the float64 signature, and dk.grad learns its
    fast path (no new per-call work there)."""
    f = dk.jit(lambda x, k: x * k * x + 1.0)
    for _ in range(3):
        assert f(0.5, 0.1) == 0.5 * 0.1 * 0.5 + 1.0
    assert any(key[0] == "evaluate" and f.cache[key] for key in f.cache)
    grad = dk.grad(f, wrt=0)
    for _ in range(4):
        grad(0.5, 0.1)
    assert type(grad).__call__ is not dk.api.GradientFunction.__call__
