"""0-d values through the generated code, finite differences and the symbolic engine (a fuzz
against JAX found each a bare error where the eager engines answered): np.prod of a 0-d value in
dk.jit's gradient (math.prod took keepdims), a 0-d value indexed with [None] in dk.jit's gradient
(a Python float is not subscriptable), a 0-d array input under method='fd' (handed in as a
NumPy scalar, without x.dot), np.min of a 0-d value under method='symbolic'. References by hand."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

import diffkit as dk


def test_jit_gradient_of_prod_of_a_zero_d_value() -> None:
    def f(x: Any) -> Any:
        return np.sin(np.prod(np.max(x)))

    x = np.array([0.3, -1.2, 0.7])
    want = [0.0, 0.0, math.cos(0.7)]  # d sin(max x)/dx: cos at the largest entry
    np.testing.assert_allclose(dk.grad(dk.jit(f))(x)[0], want, rtol=1e-15)
    np.testing.assert_allclose(dk.grad(f)(x)[0], want, rtol=1e-15)


def test_jit_gradient_of_a_zero_d_value_indexed_with_none() -> None:
    def f(x: Any) -> Any:
        return np.max(np.tanh(x)[None])

    x = np.array(-0.2357)
    want = 1 - math.tanh(-0.2357) ** 2
    assert float(dk.grad(dk.jit(f))(x)[0]) == pytest.approx(want, rel=1e-15)


def test_fd_keeps_a_zero_d_array_input_an_array() -> None:
    def f(x: Any) -> Any:
        return np.sum(x.dot(np.ones(2)))

    x = np.array(0.7)
    assert float(dk.grad(f, method="fd")(x)[0]) == pytest.approx(2.0, rel=1e-7)


@pytest.mark.parametrize("method", ["symbolic", "reverse", "forward"])
def test_min_of_a_zero_d_value(method: str) -> None:
    x = np.array([0.3, -1.2])
    (g,) = dk.grad(lambda x: np.min(np.sum(x * x)), method=method)(x)
    np.testing.assert_allclose(g, 2 * x, rtol=1e-15)
