"""The tapes' scalar-code paths give exactly what the general paths give.

Scalar code (float64 numbers, no arrays) records on Python floats on a tracing tape (NumPy
scalars on the eager tape), memoizes each node's local partials, and is differentiated by a
fused sweep without linearization objects (:func:`scalar_adjoints`). Each test compares against
the general sweeps bit for bit, or against a hand-derived derivative, and covers the cases the
fast path must hand back to the general one.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import diffkit as dk
from diffkit.primitive import REGISTRY
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
            assert type(got) in (float, np.float64) and got == want


def test_recorded_scalar_arithmetic_is_the_ufunc() -> None:
    def f(x):
        return (x * 1.1 + 0.3) / 0.7 - 2.0

    graph = dk.function(f).trace(0.9)
    want = np.subtract(np.divide(np.add(np.multiply(np.float64(0.9), 1.1), 0.3), 0.7), 2.0)
    assert type(graph.output.value) is float and graph.output.value == want  # IEEE: the same


def test_memoized_partials_are_the_rules_at_the_recorded_point() -> None:
    graph = dk.function(lambda x, y: dk.tanh(x * y) / y, inputs=["x", "y"]).trace(0.4, 1.7)
    mul, tanh, div = (n for n in graph.nodes if n.prim is not None)
    assert mul.partials == (1.7, 0.4)
    e = math.exp(-2.0 * abs(0.4 * 1.7))  # tanh' = 4e/(1+e)^2 with e = exp(-2|u|)
    assert tanh.partials == pytest.approx((4.0 * e / (1.0 + e) ** 2,), rel=1e-15)
    assert div.partials == pytest.approx((1.0 / 1.7, -math.tanh(0.68) / 1.7 ** 2), rel=1e-15)


def test_a_trace_that_is_not_differentiated_memoizes_nothing() -> None:
    graph = dk.function(lambda x, y: dk.sin(x) * y, inputs=["x", "y"]).trace(0.4, 1.7, wrt=[])
    assert all(n.partials is None for n in graph.nodes)


def test_only_what_depends_on_the_differentiated_input_is_memoized() -> None:
    graph = dk.function(lambda x, y: dk.sin(y) * x, inputs=["x", "y"]).trace(
        0.4, np.float64(1.7), wrt=[0])  # (a held Python float reaches the body as a constant)
    sin, mul = (n for n in graph.nodes if n.prim is not None)
    assert sin.partials is None and mul.partials == (0.4, math.sin(1.7))  # (b, a)
    assert dk.grad(lambda x, y: dk.sin(y) * x, wrt=1)(0.4, 1.7)[0] == pytest.approx(
        math.cos(1.7) * 0.4, rel=1e-15)


@pytest.mark.parametrize(("f", "x", "error"), [
    (lambda x: dk.log(x * 0.0), 1.0, dk.DomainError),
    (lambda x: dk.exp(x * 1000.0), 1.0, dk.NumericOverflowError),
    (lambda x: (x * 1e200) * 1e200, 1.0, dk.NumericOverflowError),
    (lambda x: dk.sqrt(x - 2.0), 1.0, dk.DomainError),
    (lambda x: dk.arcsin(x + 1.0), 0.5, dk.DomainError),
])
def test_python_float_errors_are_numpy_named_errors(f, x, error) -> None:
    with pytest.raises(error):
        dk.grad(dk.function(f))(x)


def test_a_partial_rule_that_fails_on_floats_is_derived_by_numpy() -> None:
    # sqrt at 0 under a zero upstream: 0.5/0.0 fails on floats, is inf on NumPy, 0·∞ = 0
    assert dk.grad(dk.function(lambda x: dk.sqrt(x * 0.0) * 0.0 + x))(1.0)[0] == 1.0


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


FLOAT_PRIMS = sorted((p for p in REGISTRY.values() if p.on_floats is not None),
                     key=lambda p: p.name)


@pytest.mark.parametrize("prim", FLOAT_PRIMS, ids=lambda p: p.name)
def test_the_python_float_form_is_the_numpy_impl(prim) -> None:
    # the Python-float path is read off the record's `scalar` code: it must compute the impl
    rng = np.random.default_rng(0)
    domain = prim.domain or ((-2.0, 2.0),) * prim.nargs
    for _ in range(50):
        xs = [float(rng.uniform(lo, hi)) for lo, hi in domain]
        want = prim.impl(np, *(np.float64(x) for x in xs))
        got = prim.on_floats(*xs)
        assert type(got) is (bool if np.asarray(want).dtype == bool else float)  # (comparisons)
        # NumPy's SIMD loops are accurate to a few ulp (up to 4 where it uses SVML): a wrong
        # function would be off by far more
        assert got == pytest.approx(float(want), rel=2e-15, abs=1e-300), (prim.name, xs)


def test_python_floats_in_give_python_floats_out() -> None:
    assert type(dk.sin(0.5)) is float and dk.sin(0.5) == math.sin(0.5)
    assert type(dk.sin(np.float64(0.5))) is np.float64  # a NumPy scalar stays one
    assert type(dk.sin(np.float32(0.5))) is np.float32
    with np.errstate(all="ignore"):
        assert dk.log(0.0) == -math.inf  # NumPy's value where math raises
