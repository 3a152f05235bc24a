"""Shapes and structure of jacobian, hessian, grad, jvp and vjp with several array arguments
(the eighth hunt): each test failed before its fix. References: hand formulas and plain NumPy
central differences."""
import numpy as np
import pytest

import diffkit as dk

# --- Bug 1: a Jacobian of a reverse-mode Jacobian with several inputs is a bare TypeError -------

def _f(x, y):
    return x * y ** 2


@pytest.mark.parametrize("inner", ["reverse", "auto"])
def test_grad_through_reverse_jacobian_of_two_inputs(inner):
    # sum(J) = y**2 + 2*x*y  ->  gradient (2y, 2y + 2x) = (4, 6) at (1, 2)  (hand formula)
    g = dk.grad(lambda x, y: np.sum(dk.jacobian(_f, method=inner)(x, y)))(1.0, 2.0)
    assert np.allclose(g, (4.0, 6.0), rtol=0, atol=1e-12)


def test_hessian_through_reverse_jacobian_of_two_inputs():
    # Hessian of y**2 + 2*x*y: [[0, 2], [2, 2]]
    H = dk.hessian(lambda x, y: np.sum(dk.jacobian(_f)(x, y)))(1.0, 2.0)
    assert np.allclose(H, [[0.0, 2.0], [2.0, 2.0]], rtol=0, atol=1e-12)


def test_jacobian_of_jacobian_two_array_inputs_matches_numpy_fd():
    x = np.array([0.3, -0.7])
    y = np.array([1.1, 0.4, 0.2])

    def f(x, y):
        return np.sin(np.outer(x, y)).ravel()[:3] * np.sum(y ** 2)

    def columns(g, z0, h):  # plain NumPy central differences of g(x, y) at z0 = (x, y), by column
        cols = []
        for k in range(z0.size):
            e = np.zeros(z0.size)
            e[k] = h
            zp, zm = z0 + e, z0 - e
            cols.append(np.ravel(g(zp[:2], zp[2:]) - g(zm[:2], zm[2:])) / (2 * h))
        return np.stack(cols, axis=1)

    # second derivatives: central differences of the NumPy Jacobian of f (its own central
    # differences), the layout JAX's jacrev of jacrev gives: (15, 5)
    z0 = np.concatenate([x, y])
    ref = columns(lambda a, b: columns(f, np.concatenate([a, b]), 1e-6), z0, 1e-4)
    got = dk.jacobian(dk.jacobian(f, method=INNER))(x, y)  # reverse over reverse (the defaults)
    assert np.shape(got) == (15, 5)
    assert np.allclose(got, ref, atol=1e-5)


# --- Bug 2: wrt=() (no input selected): bare IndexError/ValueError in reverse/forward/auto -------
# while the symbolic engine and every finite-difference method answer the empty derivative.

INNER = "reverse"
M = np.array([[1.0, 2.0], [3.0, 4.0]])
V = np.array([1.0, -1.0])


@pytest.mark.parametrize("method", ["reverse", "forward", "auto"])
def test_jacobian_wrt_empty(method):
    try:
        J = dk.jacobian(lambda A, x: A @ x, method=method, wrt=())(M, V)
    except dk.errors.DiffkitError:
        return  # a named refusal is a correct answer too
    assert np.shape(J) == (2, 0)


@pytest.mark.parametrize("method", ["forward", "auto"])
def test_grad_wrt_empty(method):
    try:
        g = dk.grad(lambda A, x: np.sum(A @ x), method=method, wrt=())(M, V)
    except dk.errors.DiffkitError:
        return
    assert g == ()


@pytest.mark.parametrize("method", ["reverse", "forward", "auto"])
def test_hessian_wrt_empty(method):
    try:
        H = dk.hessian(lambda A, x: np.sum(A @ x), method=method, wrt=())(M, V)
    except dk.errors.DiffkitError:
        return
    assert np.shape(H) == (0, 0)


# --- Bug 3: dk.jvp (default reverse, and symbolic) refuses a holomorphic f at complex64 inputs ----
# The line function x + s·t casts s·t (complex128) back to complex64 with `astype`, which is not
# declared holomorphic, so the engines' holomorphy check refuses z**2 itself.

@pytest.mark.parametrize("method", ["reverse", "symbolic"])
def test_jvp_complex64_holomorphic(method):
    z = np.array([1 + 1j, 2 - 1j], np.complex64)
    t = np.array([0.5 - 1j, 1j], np.complex64)
    _, jt = dk.jvp(lambda z: z ** 2, (z,), (t,), method=method)
    ref = 2 * z.astype(complex) * t.astype(complex)  # hand formula: (z²)' · t
    assert np.allclose(np.asarray(jt, dtype=complex), ref, rtol=1e-6, atol=0)
    assert np.asarray(jt).dtype == np.complex64  # the primal output's dtype (docs/design.md)


def test_jvp_complex64_mixed_with_real_input():
    z = np.array([1 + 1j, 2 - 1j], np.complex64)
    x = np.array([0.5, 1.5], np.float32)
    tz = np.ones(2, np.complex64)
    tx = np.ones(2, np.float32)
    _, jt = dk.jvp(lambda z, x: z * x ** 2, (z, x), (tz, tx))
    zc, xc = z.astype(complex), x.astype(float)
    ref = xc ** 2 * 1 + zc * 2 * xc * 1
    assert np.allclose(np.asarray(jt, dtype=complex), ref, rtol=1e-6, atol=0)


# --- Bug 4 (silent): reverse mode drops the imaginary part of a complex-valued f's derivative ------
# wherever a real floating astype lies on the path (astype's VJP projects a complex cotangent onto
# the reals). dk.jvp inserts such an astype itself for float32 inputs (engines/base.line_function),
# so the default jvp of a complex-valued function of float32 inputs is silently wrong.

def test_jvp_default_complex_output_of_float32_input():
    x = np.array([0.5, 1.5], np.float32)
    t = np.ones(2, np.float32)
    _, jt = dk.jvp(lambda x: np.exp(1j * x), (x,), (t,))  # method="reverse", the default
    ref = 1j * np.exp(1j * x.astype(float))  # hand formula: d/dx e^{ix} = i e^{ix}
    assert np.allclose(np.asarray(jt, dtype=complex), ref, rtol=1e-5, atol=1e-6)


def test_jvp_default_complex_constant_times_float32_scalar():
    _, jt = dk.jvp(lambda x: x * (1 + 1j), (np.float32(0.5),), (np.float32(1.0),))
    assert abs(complex(jt) - (1 + 1j)) < 1e-6


def test_jacobian_reverse_complex_output_through_astype():
    x = np.array([0.5, 1.5])
    J = dk.jacobian(lambda x: x.astype(np.float32) * (1 + 1j))(x)  # reverse, the default
    assert np.allclose(J, np.diag([1 + 1j, 1 + 1j]), atol=1e-6)


def test_derivative_reverse_complex_output_through_astype():
    d = dk.derivative(lambda x: np.exp(1j * x.astype(np.float32)))(0.5)
    ref = 1j * np.exp(0.5j)  # hand formula
    assert abs(complex(d) - ref) < 1e-6


def test_jacobian_and_jvp_reverse_real_to_complex_astype_float64():
    x = np.array([0.5, 1.5])
    J = dk.jacobian(lambda x: x.astype(np.complex128) * 1j)(x)  # reverse (default): all zeros
    assert np.allclose(J, np.diag([1j, 1j]))  # hand formula: d(i·x)/dx = i
    _, jt = dk.jvp(lambda x: x.astype(np.complex128) * 1j, (x,), (np.ones(2),))
    assert np.allclose(jt, [1j, 1j])


@pytest.mark.parametrize("call", [lambda x: np.sum(x, axis=1.0), lambda x: np.median(x, axis="a"),
                                  lambda x: np.add.reduce(x, axis=1.5),
                                  lambda x: np.nansum(x, axis=(0, 0.5))])
def test_an_axis_that_is_no_integer_is_a_named_error(call) -> None:
    """axis=1.0 reached operator.index: a bare TypeError from inside (NumPy's TypeError too)."""
    with pytest.raises(dk.InputTypeError, match="axis must be an integer or a tuple of integers"):
        dk.grad(lambda x: dk.sum(call(x)))(np.arange(6.0).reshape(2, 3))
