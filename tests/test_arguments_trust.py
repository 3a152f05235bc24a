"""Arguments that are not differentiated reach the function as the caller gave them: integer
labels, index arrays, boolean masks and loop counts stay integers and booleans (NumPy's and JAX's
reading), in plain calls, dk.jit calls and every method. Only differentiated values are read as
floating point. References: the plain NumPy function and hand formulas."""

from __future__ import annotations

import numpy as np
import pytest

import diffkit as dk

METHODS = ["reverse", "forward", "symbolic", "fd-central", "fd-richardson", "auto"]


def _ce(z, y):
    z = z - z.max(1, keepdims=True)
    lp = z - np.log(np.exp(z).sum(1, keepdims=True))
    return -lp[np.arange(len(y)), y].mean()


Z = np.array([[1.0, 2.0, 0.5], [0.1, -1.0, 0.3]])
Y = np.array([1, 2])


def _ce_grad(z, y):
    """(softmax − one-hot)/n by hand."""
    p = np.exp(z) / np.exp(z).sum(1, keepdims=True)
    p[np.arange(len(y)), y] -= 1
    return p / len(y)


def test_a_plain_call_passes_integer_labels_as_integers():
    assert dk.function(_ce)(Z, Y) == pytest.approx(_ce(Z, Y), rel=1e-14)
    f = dk.jit(_ce)
    for _ in range(3):  # later calls: compiled where that is sound
        assert f(Z, Y) == pytest.approx(_ce(Z, Y), rel=1e-14)


@pytest.mark.parametrize("method", METHODS)
def test_integer_labels_beside_the_differentiated_logits(method):
    rtol = 1e-6 if method.startswith("fd") else 1e-12
    for _ in range(3):
        (g,) = dk.grad(_ce, wrt=0, method=method)(Z, Y)
        np.testing.assert_allclose(g, _ce_grad(Z, Y), rtol=rtol, atol=1e-9)


@pytest.mark.parametrize("method", METHODS)
def test_a_boolean_mask_argument(method):
    def f(x, m):
        return (x[m] ** 2).sum()

    x, m = np.array([1.0, 2.0, 3.0, 4.0]), np.array([True, False, True, False])
    assert dk.function(f)(x, m) == pytest.approx(10.0)
    (g,) = dk.grad(f, wrt=0, method=method)(x, m)
    np.testing.assert_allclose(g, 2 * x * m, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("method", METHODS)
def test_an_integer_count_and_an_integer_index(method):
    def f(x, n, k):
        return sum(x[k] ** i for i in range(n))

    x = np.array([0.5, 2.0, 3.0])
    (g,) = dk.grad(f, argnums=0, method=method)(x, 3, 1)
    np.testing.assert_allclose(g, [0.0, 1 + 2 * 2.0, 0.0], rtol=1e-6, atol=1e-8)


def test_the_same_function_at_another_integer_is_not_a_replay():
    """A trace made at k = 1 is not reused at k = 2 (the integer is a constant of the trace)."""
    g = dk.grad(lambda x, k: x[k] ** 3, argnums=0)
    x = np.array([1.0, 2.0, 3.0])
    for k in (1, 2, 1, 2):
        np.testing.assert_allclose(g(x, k)[0], np.eye(3)[k] * 3 * x[k] ** 2)


def test_python_integers_keep_their_precision():
    """2**k with k = 70 as the caller's int is exact (NumPy's int64 would wrap around to 0)."""
    (g,) = dk.grad(lambda x, k: x * 2**k, argnums=0)(1.0, 70)
    assert g == 2.0**70


def test_a_differentiated_integer_is_read_as_float():
    """What is differentiated is still a float (d/dn x**n at n = 2)."""
    _, dn = dk.grad(lambda x, n: x**n)(3.0, 2)
    assert dn == pytest.approx(9 * np.log(3.0), rel=1e-14)


# ----- vjp, Hessians and huge integers (the seventh hunt) -----------------------------------------

def _plain_grad(f, x, *rest, h=1e-6):
    """Central differences in float64 on the plain NumPy function (other args as given)."""
    x = np.asarray(x, float)
    g = np.zeros_like(x)
    for i in range(x.size):
        e = np.zeros_like(x)
        e.flat[i] = h
        g.flat[i] = (f(x + e, *rest) - f(x - e, *rest)) / (2 * h)
    return g


def _plain_hessian(f, x, *rest, h=1e-4):
    x = np.asarray(x, float)
    n = x.size
    H = np.zeros((n, n))
    for i in range(n):
        e = np.zeros(n)
        e[i] = h
        H[:, i] = (_plain_grad(f, x + e, *rest) - _plain_grad(f, x - e, *rest)) / (2 * h)
    return H


def masked_cubes(x, m):
    # m is a boolean mask: NumPy's m + m is a logical OR (True), not 2
    return np.sum(x ** 3 * (m + m))


def picked_cube(x, k):
    return np.sum(x[k] ** 3)


X = np.array([1.0, 2.0, 3.0])
M = np.array([True, False, True])


# --- bug 1: vjp ignores argnums/wrt when coercing: a boolean/integer argument that is not
# --- differentiated becomes float64 (grad keeps it as given) ------------------------------------

def test_vjp_argnums_keeps_boolean_mask():
    ref = _plain_grad(masked_cubes, X, M)  # [3, 0, 27]
    assert np.allclose(ref, [3.0, 0.0, 27.0], rtol=1e-6)
    _, pull = dk.vjp(masked_cubes, X, M, argnums=0)
    (g,) = pull(1.0)
    np.testing.assert_allclose(g, ref, rtol=1e-6)  # diffkit: [6, 0, 54]


def test_vjp_argnums_keeps_integer_index():
    _, pull = dk.vjp(picked_cube, X, 1, argnums=0)  # diffkit: IndexOutOfRangeError
    (g,) = pull(1.0)
    np.testing.assert_allclose(g, [0.0, 3 * 2.0 ** 2, 0.0], rtol=1e-12)


# --- bug 2: hessian's inner gradient (engines/base.gradient_function) coerces every input --------

@pytest.mark.parametrize("method", ["reverse", "forward"])
def test_hessian_argnums_keeps_boolean_mask(method):
    ref = _plain_hessian(masked_cubes, X, M)  # diag(6x·1) = diag(6, 0, 18)
    assert np.allclose(np.diag(ref), [6.0, 0.0, 18.0], rtol=1e-5)
    H = dk.hessian(masked_cubes, method=method, argnums=0)(X, M)  # diffkit: diag(12, 0, 36)
    np.testing.assert_allclose(H, ref, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("method", ["reverse", "forward", "auto"])
def test_hessian_argnums_keeps_integer_index(method):
    H = dk.hessian(picked_cube, method=method, argnums=0)(X, 1)  # diffkit: IndexOutOfRangeError
    ref = np.zeros((3, 3))
    ref[1, 1] = 6 * 2.0  # d²/dx1² x1³ at 2
    np.testing.assert_allclose(H, ref, rtol=1e-12)


# --- bug 3: a huge Python int that is not differentiated is now passed as is, becomes an object
# --- array, and the symbolic / complex-step engines answer a bare TypeError ----------------------

@pytest.mark.parametrize("method", ["symbolic", "fd-complex"])
def test_huge_python_int_not_differentiated(method):
    k = 10 ** 30
    (g,) = dk.grad(lambda x, k: x * k, method=method, argnums=0)(2.0, k)
    assert g == pytest.approx(float(k), rel=1e-12)  # d/dx x·k = k
