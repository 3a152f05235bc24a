"""Higher-order and nested derivatives (the 11th bug hunt, higher order): a real function
computed through complex values differentiated twice, indexing a 0-d value twice, and the 0·∞ of
a derivative that is differentiated again. References: hand formulas (H = 2·Re(Fᴴ diag(w) F) for
Σ w·|fft(x)|²). Each test failed before its fix."""

from __future__ import annotations

import numpy as np
import pytest

import diffkit as dk

W = np.arange(1.0, 5.0)
X0 = np.array([0.3, -1.2, 0.7, 2.0])
V = np.array([1.0, 0.5, -0.3, 0.2])


def _power(x):
    return np.sum(np.abs(np.fft.fft(x)) ** 2 * W)  # real, through complex values


def _hessian_by_hand() -> np.ndarray:
    n = len(X0)
    F = np.exp(-2j * np.pi * np.outer(np.arange(n), np.arange(n)) / n)
    return 2 * np.real(F.conj().T @ np.diag(W) @ F)


# ---- an inner reverse gradient of a real function through complex values came out complex:
# H·v by jvp of it had junk imaginary parts, and dk.hessian (default method) refused the function
# as "complex-valued" --------------------------------------------------------------------------

@pytest.mark.parametrize("inner", ["reverse", "compiled", "auto"])
def test_hessian_vector_product_through_complex_values_is_real(inner):
    _, hv = dk.jvp(lambda x: dk.grad(_power, method=inner)(x)[0], (X0,), (V,), method="forward")
    assert hv.dtype == np.float64
    np.testing.assert_allclose(hv, _hessian_by_hand() @ V, rtol=1e-12)


@pytest.mark.parametrize("method", ["reverse", "forward", "auto", "compiled"])
def test_hessian_through_complex_values(method):
    np.testing.assert_allclose(dk.hessian(_power, method=method)(X0), _hessian_by_hand(),
                               rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("inner", ["reverse", "compiled", "auto"])
def test_nested_gradients_of_abs_squared_are_real(inner):
    g = lambda x: np.abs(x * (1 + 2j)) ** 2  # 5x², g'' = 10
    assert dk.derivative(g, 2)(0.7) == pytest.approx(10.0, rel=1e-14)
    primal, tangent = dk.jvp(lambda x: dk.value_and_grad(g, method=inner)(x)[1][0], (0.7,),
                             (1.0,), method="forward")
    assert isinstance(primal, float) and primal == pytest.approx(7.0, rel=1e-14)
    assert isinstance(tangent, float) and tangent == pytest.approx(10.0, rel=1e-14)
    (g2,) = dk.grad(lambda x: dk.vjp(g, x, method=inner)[1](1.0)[0])(0.7)
    assert g2 == pytest.approx(10.0, rel=1e-14)


def test_second_derivative_of_a_real_part_of_an_fft():
    f = lambda x: np.sum(np.real(np.fft.fft(np.atleast_1d(x))) ** 3)  # x³
    assert dk.derivative(f, 2)(0.3) == pytest.approx(1.8, rel=1e-14)


# ---- reverse over reverse through x[None] or a mask of a 0-d value: the inner sweep's float
# cotangent was indexed (TypeError: 'float' object is not subscriptable) ----------------------

@pytest.mark.parametrize("f, want", [
    (lambda x: x[None][0] ** 3, 1.8),
    (lambda x: dk.sum(x[x > 0] ** 3), 1.8),
    (lambda x: np.piecewise(x, [x < 0, x >= 0], [lambda t: t**2, lambda t: 2 * t**2]), 4.0),
])
@pytest.mark.parametrize("method", ["reverse", "compiled"])
def test_second_derivative_through_indexing_a_0d_value(f, want, method):
    assert dk.derivative(f, 2, method=method)(0.3) == pytest.approx(want, rel=1e-14)
    assert dk.grad(lambda x: dk.grad(f, method=method)(x)[0])(0.3)[0] == pytest.approx(
        want, rel=1e-14)


# ---- d/da of an inner gradient that meets 0·∞: a bare TypeError in the audit (inner forward)
# or "point outside the domain" (inner reverse) for a point inside every domain -----------------

def _inner(method):
    return lambda a: dk.grad(lambda x: a * dk.relu(x) ** 0.5, method=method)(-1.0)[0]


@pytest.mark.parametrize("inner", ["forward", "auto"])
@pytest.mark.parametrize("outer", ["reverse", "forward"])
def test_outer_derivative_of_an_inner_forward_strong_zero(inner, outer):
    # a·sqrt(relu(x)) is 0 near x = −1 for every a: d/da of its x-derivative is 0
    assert dk.grad(_inner(inner), method=outer)(2.0) == (0.0,)


@pytest.mark.parametrize("inner", ["reverse", "compiled"])
@pytest.mark.parametrize("outer", ["reverse", "forward"])
def test_outer_derivative_of_an_inner_reverse_zero_times_infinity_is_named(inner, outer):
    with pytest.raises(dk.NonDifferentiableError, match="differentiated again"):
        dk.grad(_inner(inner), method=outer)(2.0)
