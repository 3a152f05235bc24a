"""The eager tape's scalar-code paths give exactly what the general paths give.

Scalar code (float64 numbers, no arrays) records through Python operators on NumPy scalars and
is differentiated by a fused sweep without linearization objects (:func:`scalar_adjoints`).
Each test compares against the general sweeps bit for bit, or against a hand-derived
derivative, and covers the cases the fast path must hand back to the general one.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import diffkit as dk
from diffkit.sweeps import adjoint_sweep, linearize_all, scalar_adjoints

UNARY = [dk.sin, dk.cos, dk.exp, dk.tanh, dk.log1p, dk.sigmoid]
BINARY = ["+", "-", "*", "/"]


def _general(graph):
    wrt = list(graph.inputs)
    _, lins = linearize_all(graph.nodes, wrt)
    adj = adjoint_sweep(graph.nodes, lins, graph.output, np.float64(1.0), wrt)
    return [adj.get(n) for n in wrt]


def _program(ops):
    def body(x, y):
        v = x
        for kind, arg in ops:
            if kind == "u":
                v = UNARY[arg % len(UNARY)](v * 0.3)
            else:
                sym = BINARY[arg % len(BINARY)]
                other = y if arg % 3 else 1.25
                v = {"+": v + other, "-": other - v, "*": v * other, "/": v / (other * other + 1.0)
                     }[sym]
        return v
    return body


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.sampled_from("ub"), st.integers(0, 11)), min_size=1, max_size=25),
       st.floats(-1.5, 1.5), st.floats(-1.5, 1.5))
def test_fused_scalar_sweep_is_the_general_sweep_bit_for_bit(ops, x, y) -> None:
    graph = dk.function(_program(ops), inputs=["x", "y"]).trace(x, y)
    fused = scalar_adjoints(graph.nodes, list(graph.inputs), graph.output, np.float64(1.0))
    general = _general(graph)
    assert fused is not None
    for node, want in zip(graph.inputs, general):
        got = fused.get(node)
        if want is None:
            assert got is None
        else:
            assert type(got) is np.float64 and got == want


def test_recorded_scalar_arithmetic_is_the_ufunc() -> None:
    def f(x):
        return (x * 1.1 + 0.3) / 0.7 - 2.0

    graph = dk.function(f).trace(0.9)
    want = np.subtract(np.divide(np.add(np.multiply(np.float64(0.9), 1.1), 0.3), 0.7), 2.0)
    assert type(graph.output.value) is np.float64 and graph.output.value == want


def test_chain_gradient_matches_the_hand_derivative() -> None:
    def body(x):
        for _ in range(300):
            x = dk.sin(x) * 1.0001 + 0.01
        return x

    v, d = 0.3, 1.0
    for _ in range(300):  # hand reverse-mode of the same recurrence, forward accumulated
        d *= math.cos(v) * 1.0001
        v = math.sin(v) * 1.0001 + 0.01
    (g,) = dk.grad(dk.function(body))(0.3)
    assert isinstance(g, float)  # a Python float in, a float out
    assert g == pytest.approx(d, rel=1e-13)


def test_float32_scalars_keep_their_dtype_off_the_fast_path() -> None:
    g = dk.grad(dk.function(lambda x: dk.sin(x) * 1.5 + 0.25))(np.float32(0.5))[0]
    assert g.dtype == np.float32
    assert g == pytest.approx(1.5 * math.cos(0.5), rel=1e-6)


def test_zero_upstream_times_infinite_partial_falls_back_to_the_general_rule() -> None:
    # relu(x)**0.5 at x = -1: the partial of sqrt is infinite, the upstream is exactly 0
    assert dk.grad(dk.function(lambda x: dk.relu(x) ** 0.5))(-1.0)[0] == 0.0


def test_a_singular_point_is_still_a_named_error() -> None:
    with pytest.raises(dk.NonDifferentiableError, match="sqrt"):
        dk.grad(dk.function(lambda x: dk.sqrt(x * 1.0)))(0.0)


def test_division_by_zero_is_still_named() -> None:
    with pytest.raises(dk.DiffkitError):
        dk.grad(dk.function(lambda x: x / 0.0))(1.0)


def test_eager_backward_on_scalars_matches_the_hand_derivative() -> None:
    x = dk.tensor(0.7, requires_grad=True)
    y = dk.exp(x * 2.0) - x / 3.0
    y.backward()
    assert x.grad == pytest.approx(2.0 * math.exp(1.4) - 1.0 / 3.0, rel=1e-14)


def test_arrays_take_the_general_sweep() -> None:
    x = np.array([0.1, 0.2, 0.3])
    (g,) = dk.grad(dk.function(lambda v: dk.sum(dk.sin(v) * 2.0)))(x)
    np.testing.assert_allclose(g, 2.0 * np.cos(x), rtol=1e-15)
