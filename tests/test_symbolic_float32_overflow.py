"""A derivative the symbolic engine takes in float64 for float32 inputs, which does not fit in
float32, is a NumericOverflowError (as reverse and forward mode name it), not ±inf (stop 38's
hunt of the symbolic engine: 1/x at 1e-20 gave −inf silently)."""

from __future__ import annotations

import numpy as np
import pytest

import diffkit as dk
from diffkit.errors import NumericOverflowError

X = np.array([1e-20, 1.0], dtype=np.float32)


@pytest.mark.parametrize("call", [
    lambda m: dk.grad(lambda v: np.sum(1 / v), method=m)(X),
    lambda m: dk.value_and_grad(lambda v: np.sum(1 / v), method=m)(X),
    lambda m: dk.jacobian(lambda v: 1 / v, method=m)(X),
    lambda m: dk.hessian(lambda v: np.sum(np.log(v)), method=m)(X),
    lambda m: dk.derivative(lambda v: 1 / v, method=m)(np.float32(1e-20)),
    lambda m: dk.vjp(lambda v: 1 / v, X, method=m)[1](np.ones(2, np.float32)),
], ids=["grad", "value_and_grad", "jacobian", "hessian", "derivative", "vjp"])
@pytest.mark.parametrize("method", ["symbolic", "reverse", "forward"])
def test_a_float32_derivative_beyond_float32_is_named(call, method):
    with pytest.raises(NumericOverflowError):
        call(method)


def test_a_float32_derivative_within_float32_is_float32():
    (g,) = dk.grad(lambda v: np.sum(1 / v), method="symbolic")(
        np.array([1e-3, 1.0], dtype=np.float32))
    assert g.dtype == np.float32
    np.testing.assert_allclose(g, [-1e6, -1.0], rtol=1e-6)
