"""Generated scalar code runs on Python floats, whose + − × ÷ overflow to inf silently where
NumPy under STRICT raises; an operation that absorbs ±inf (a divisor, tanh, a comparison) then
turned the overflow into a finite wrong answer. Warm calls of dk.grad, dk.value_and_grad and
dk.jit answered 0.0 where the interpreted path names the overflow (exp(x)/sqrt(exp(x)² + 1) at
700 is 1.0; the jit call said 0.0). Such values are now tested finite where computed."""

from __future__ import annotations

import math

import numpy as np
import pytest

import diffkit as dk
from diffkit.primitive import REGISTRY


def _warm(g, *point):
    for _ in range(4):
        g(*point)
    return g


def test_warm_float_gradient_names_the_overflow() -> None:
    f = dk.parse("sqrt(x*x + y*y)", inputs=["x", "y"])
    g = _warm(dk.grad(f), 3.0, 4.0)
    assert g(3.0, 4.0) == pytest.approx((0.6, 0.8), rel=1e-15)
    with pytest.raises(dk.NumericOverflowError):
        g(1e300, 1.0)  # answered (0.0, 0.0)


@pytest.mark.parametrize("kind", [float, np.float64, np.array])
def test_warm_gradient_every_argument_kind(kind) -> None:
    f = dk.parse("exp(x)/sqrt(exp(x)*exp(x) + 1)")
    g = _warm(dk.grad(f), kind(1.0))
    x = 1.0  # d/dx eˣ(e²ˣ + 1)^(−1/2) = eˣ (e²ˣ + 1)^(−3/2)
    assert float(g(kind(x))[0]) == pytest.approx(math.exp(x) * (math.exp(2 * x) + 1) ** -1.5,
                                                 rel=1e-14)
    with pytest.raises(dk.NumericOverflowError):
        g(kind(700.0))


@pytest.mark.parametrize("kind", [float, np.float64, np.array])
def test_jit_call_value_names_the_overflow(kind) -> None:
    jf = dk.jit(lambda x: np.exp(x) / np.sqrt(np.exp(x) * np.exp(x) + 1))
    for _ in range(3):
        assert float(jf(kind(1.0))) == pytest.approx(math.e / math.sqrt(math.e**2 + 1), rel=1e-15)
    with pytest.raises(dk.NumericOverflowError):
        jf(kind(700.0))  # answered 0.0 (the value is 1.0)


def test_value_and_grad_of_a_jit_function() -> None:
    vg = _warm(dk.value_and_grad(dk.jit(lambda x: x / dk.sqrt(x * x + 1.0))), 1.0)
    with pytest.raises(dk.NumericOverflowError):
        vg(1e300)  # answered (0.0, (0.0,))


def test_which_operations_hand_a_non_finite_value_on() -> None:
    """The rule the code generator reads off the table's float forms."""
    from diffkit.engines.compiler import _carries

    div, add, tanh, sin, sqrt = (REGISTRY[n] for n in ("div", "add", "tanh", "sin", "sqrt"))
    assert _carries(div, 0) and not _carries(div, 1)  # inf / 2 = inf; 2 / inf = 0
    assert _carries(add, 0) and _carries(add, 1) and _carries(sqrt, 0)
    assert _carries(sin, 0)  # math.sin(inf) raises
    assert not _carries(tanh, 0)  # tanh(inf) = 1
