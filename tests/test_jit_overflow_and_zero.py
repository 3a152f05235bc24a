"""Generated scalar code and the public call's fast path (stop 38's hunt of the fast path).

pow's float form squares by x * x and takes the reciprocal by 1.0 / x (NumPy's power), which
overflow to inf silently on Python floats; the generator did not count pow among the silent
overflows, so an inf absorbed later (a divisor: y·(x/x²)·x) gave a finite wrong value after
the first call, which raised NumericOverflowError. And the gradient of an input the output
does not reach was 0.0·x in generated code: −0.0 at a negative x."""

from __future__ import annotations

import math

import numpy as np
import pytest

import diffkit as dk
from diffkit.errors import NumericOverflowError

CASES = [
    (lambda: dk.grad(dk.parse("y*(x/x^2)*x"), wrt=0), 1e200),
    (lambda: dk.value_and_grad(dk.parse("y*(x/x^2)*x"), wrt=0), 1e200),
    (lambda: dk.grad(dk.jit(lambda y, x: y * (x / x ** 2) * x), wrt=0), 1e200),
    (lambda: dk.value_and_grad(dk.jit(lambda y, x: y * (x / x ** 2) * x), wrt=0), 1e200),
    (lambda: dk.grad(dk.parse("y*exp(x)/exp(x)^2*exp(x)"), wrt=0), 400.0),
]


@pytest.mark.parametrize(("make", "x"), CASES)
def test_an_overflow_in_a_square_is_named_on_every_call(make, x):
    g = make()
    for _ in range(5):  # the float signature learned: later calls take the generated code
        g(1.0, 1.0)
    for _ in range(2):
        with pytest.raises(NumericOverflowError):
            g(1.0, x)


def test_an_overflow_in_a_reciprocal_is_named_on_every_call():
    g = dk.grad(dk.jit(lambda y, x: y * (x * x ** -1.0) / x * x), wrt=0)
    for _ in range(5):
        g(1.0, 1.0)
    assert g(1.0, 3.0) == pytest.approx((1.0,))
    with pytest.raises(NumericOverflowError):
        g(1.0, 5e-324)


@pytest.mark.parametrize("x", [-2.0, 2.0, -1e-300])
def test_the_gradient_of_an_unreached_input_is_plus_zero(x):
    for g in (dk.grad(dk.jit(lambda x: 3.0)), dk.grad(lambda x: 3.0)):
        for _ in range(3):
            (d,) = g(x)
            assert d == 0.0 and math.copysign(1.0, d) == 1.0
    g = dk.grad(dk.jit(lambda x, y: np.sum(y * 2.0)), argnums=(0, 1))
    for _ in range(3):
        dx, dy = g(np.array([x, 1.0]), np.ones(2))
        assert np.all(np.copysign(1.0, dx) == 1.0) and not np.any(dx)
        np.testing.assert_array_equal(dy, [2.0, 2.0])
