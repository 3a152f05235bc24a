"""``dk.jit``: one trace per signature, the one a fresh trace makes, for its call and every
derivative.

1. An integer argument that is not differentiated reaches the body as given (NumPy's integer
   arithmetic: int8 ``k**3`` wraps), in the jit function's frozen trace too, by every method;
   one that is differentiated is read as float64, and neither trace stands in for the other.
2. A call at a signature that is not compiled (complex arguments, an output that does not
   depend on the inputs) evaluates the frozen first trace, as the derivatives do: after a
   closed-over value changes, value and gradient still agree.

References: NumPy's own integer arithmetic, hand-written derivatives, and the same function
traced afresh (``dk.function``), which is the definition of what one trace gives."""

from __future__ import annotations

import numpy as np
import pytest

import diffkit as dk

METHODS = ["reverse", "forward", "symbolic", "compiled", "fd"]
K8 = np.array([100, 3], np.int8)


def _close(got, want, method: str) -> None:
    """fd to 1e-6 relative, the AD methods to 1e-12."""
    rtol = 1e-6 if method == "fd" else 1e-12
    np.testing.assert_allclose(np.asarray(got, dtype=complex), np.asarray(want, dtype=complex),
                               rtol=rtol, atol=0)


def _cube_sum(x, k):
    return np.sum(x * k**3)


# ----- 1. integer arguments that are not differentiated ------------------------------------


@pytest.mark.parametrize("method", METHODS)
def test_an_int8_argument_not_differentiated_wraps_as_numpy_computes(method: str) -> None:
    cubes = K8**3  # NumPy's int8: [64, 27] (1e6 wraps)
    assert cubes.tolist() == [64, 27]
    slope, value = float(np.sum(cubes)), 2.0 * float(np.sum(cubes))  # d/dx of x·Σk³ = Σk³
    f = dk.jit(_cube_sum)
    (g,) = dk.grad(f, argnums=0, method=method)(2.0, K8)
    _close(g, slope, method)
    v, (g2,) = dk.value_and_grad(f, argnums=0, method=method)(2.0, K8)
    assert v == value == f(2.0, K8)
    _close(g2, slope, method)


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize(("body", "k", "x"), [
    (lambda x, k: np.sum(x * (k - np.uint8(5))), np.array([3, 200], np.uint8), 2.0),
    (lambda x, k: np.sum(x * (k * k)), np.array([100_000, 3], np.int32), 1.5),
    (lambda x, k: x * k**2, np.int8(12), 0.5),
], ids=["uint8-minus", "int32-square", "int8-scalar-square"])
def test_integer_wraparound_of_data_reaches_every_method(method: str, body, k, x) -> None:
    with np.errstate(over="ignore"):
        data = body(1.0, k)  # NumPy's own integer arithmetic: the slope in x
    assert float(data) != float(body(1.0, np.asarray(k, float)))  # it did wrap
    f = dk.jit(body)
    v, (g,) = dk.value_and_grad(f, argnums=0, method=method)(x, k)
    _close(g, float(data), method)
    assert v == pytest.approx(x * float(data), rel=1e-15)
    assert f(x, k) == pytest.approx(x * float(data), rel=1e-15)


def test_the_jit_trace_for_data_is_not_reused_for_a_derivative_wrt_it_nor_back() -> None:
    f, fresh = dk.jit(_cube_sum), dk.function(_cube_sum)
    k_float = K8.astype(float)
    # w.r.t. k: the documented decision, an integer array differentiated is read as float64
    want_k = 2.0 * 3 * k_float**2
    for order in range(2):  # both orders of first use
        f = dk.jit(_cube_sum)
        argnums = [0, 1] if order == 0 else [1, 0]
        for i in argnums * 2:
            dk.grad(f, argnums=i)(2.0, K8)
        (g0,) = dk.grad(f, argnums=0)(2.0, K8)
        (g1,) = dk.grad(f, argnums=1)(2.0, K8)
        assert g0 == 91.0 == dk.grad(fresh, argnums=0)(2.0, K8)[0]
        np.testing.assert_array_equal(g1, want_k)
        np.testing.assert_array_equal(g1, dk.grad(fresh, argnums=1)(2.0, K8)[0])
        both = dk.grad(f, argnums=(0, 1))(2.0, K8)  # k differentiated: float, no wrap
        assert both[0] == float(np.sum(k_float**3))
        np.testing.assert_array_equal(both[1], want_k)


def test_vjp_and_jacobian_of_a_jit_function_see_the_data_as_given() -> None:
    f = dk.jit(_cube_sum)
    value, pullback = dk.vjp(f, 2.0, K8, argnums=0)
    assert value == 182.0 and pullback(1.0) == (91.0,)
    np.testing.assert_array_equal(dk.jacobian(f, argnums=0)(2.0, K8), [[91.0]])


def test_data_given_as_is_is_read_at_each_call_by_value_and_gradient_alike() -> None:
    scale = [2.0]
    f = dk.jit(lambda x, n: x * scale[0] * n)  # n an int: its trace holds at n only
    for s in (2.0, 5.0):
        scale[0] = s
        assert f(0.5, 3) == 0.5 * s * 3
        v, (g,) = dk.value_and_grad(f, argnums=0)(0.5, 3)
        assert (v, g) == (0.5 * s * 3, s * 3)


# ----- 2. non-compiled signatures evaluate the frozen first trace -------------------------


@pytest.mark.parametrize("x", [0.7 + 0j, np.complex64(0.7 + 0.1j),
                               np.array([0.5 + 1j, -1.0 + 0.25j])],
                         ids=["complex128", "complex64", "complex-array"])
def test_a_complex_call_stays_at_the_first_trace_as_its_gradient_does(x) -> None:
    c = [2.0]
    f = dk.jit(lambda z: dk.sum(z * c[0]))
    first = f(x)
    np.testing.assert_allclose(first, np.sum(x) * 2.0, rtol=1e-6)
    (g_first,) = dk.grad(f)(x)
    for later in (5.0, 7.0):
        c[0] = later
        assert f(x) == first  # frozen: the value the gradient's trace has
        (g,) = dk.grad(f)(x)
        np.testing.assert_array_equal(g, g_first)
        np.testing.assert_allclose(g, np.full(np.shape(x), 2.0), rtol=1e-6)


def test_a_complex_jit_function_agrees_with_a_fresh_trace_while_nothing_changes() -> None:
    z = np.array([0.5 + 1j, -1.0 + 0.25j])
    def body(z):
        return dk.sum(dk.sin(z) * 3.0)

    f, fresh = dk.jit(body), dk.function(body)
    np.testing.assert_allclose(f(z), 3.0 * np.sum(np.sin(z)), rtol=1e-14)
    for _ in range(2):
        assert f(z) == fresh(z)
        np.testing.assert_allclose(dk.grad(f)(z)[0], dk.grad(fresh)(z)[0], rtol=1e-14)


def test_a_constant_output_is_frozen_at_the_first_trace_too() -> None:
    c = [2.0]
    f = dk.jit(lambda x: np.float64(c[0]))  # no operation on x: no code is made
    assert f(np.float64(1.0)) == 2.0
    c[0] = 5.0
    assert f(np.float64(1.0)) == 2.0  # jit's contract: a constant of the first trace
    assert dk.function(lambda x: np.float64(c[0]))(1.0) == 5.0  # a fresh trace reads it


def test_a_real_signature_stays_compiled_and_frozen() -> None:
    c = [2.0]
    f = dk.jit(lambda x: x * c[0])
    assert f(0.7) == pytest.approx(1.4, rel=1e-15)
    c[0] = 5.0
    assert f(0.7) == pytest.approx(1.4, rel=1e-15)
    assert dk.grad(f)(0.7) == (2.0,)


def test_compile_gradient_refuses_integer_data_it_would_read_as_floats():
    k = np.array([100, 3], np.int8)
    with pytest.raises(dk.TracingError, match="int8 data that is not differentiated"):
        dk.compile_gradient(lambda x, k: np.sum(x * k**3), 2.0, k, wrt=0)
    # the public path passes it as given: NumPy's wrapped k³ = [64, 27]
    assert dk.grad(lambda x, k: np.sum(x * k**3), argnums=0, method="compiled")(2.0, k) == (91.0,)


def test_compile_gradient_still_reads_int64_labels_as_it_did():
    y = np.array([0, 2, 1])
    W = np.ones((3, 3))
    cg = dk.compile_gradient(lambda W, y: np.sum(W * (y[:, None] == np.arange(3))), W, y, wrt=[0])
    np.testing.assert_array_equal(cg.grad(W, y)[0], (y[:, None] == np.arange(3)).astype(float))
