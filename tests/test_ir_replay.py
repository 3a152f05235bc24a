"""Tracing at every call, value-dependent tracing, nesting and NumPy interop of traced Tensors."""

from __future__ import annotations

import gc

import numpy as np
import pytest

import diffkit as dk
from diffkit.engines.reverse import ReverseEngine
from diffkit.primitive import ruled_inputs
from diffkit.primitives import REGISTRY


def vector_f(x):
    return dk.sum(dk.log(x) + x * dk.roll(x, 1) - dk.sin(x))


def vector_grad(x):
    """Hand-derived: d/dx_i of Σ log x + x·roll(x,1) − sin x."""
    return 1.0 / x + np.roll(x, 1) + np.roll(x, -1) - np.cos(x)


def test_gradient_equals_hand_formula_at_new_points():
    g = dk.grad(dk.function(vector_f))
    rng = np.random.default_rng(1)
    for _ in range(4):  # a Python function is traced afresh at every call
        x = rng.uniform(0.5, 2.0, 50)
        np.testing.assert_allclose(g(x)[0], vector_grad(x), rtol=1e-13)


def test_repeated_calls_still_report_domain_errors():
    g = dk.grad(dk.function(vector_f))
    for _ in range(4):  # interpreted replays, then compiled code
        g(np.ones(4))
        with pytest.raises(dk.DomainError, match="log"):
            g(np.array([1.0, -1.0, 2.0, 3.0]))


def test_value_and_grad_on_replay_computes_the_value():
    vg = dk.value_and_grad(dk.function(vector_f), method="reverse")
    x = np.linspace(0.5, 2.0, 6)
    for _ in range(4):  # interpreted replays, then compiled code
        val, (grad,) = vg(x)
    assert val == pytest.approx(float(np.sum(np.log(x) + x * np.roll(x, 1) - np.sin(x))))
    np.testing.assert_allclose(grad, vector_grad(x))


def test_value_dependent_branches_are_traced_again():
    @dk.function
    def f(x):
        if x > 0:  # Python control flow on a traced value
            return x**2
        return -(x**3)

    g = dk.grad(f)
    for _ in range(4):  # never cached, never compiled
        assert g(3.0) == (6.0,)
        assert g(-2.0) == (-12.0,)  # a cached graph of the first branch would give -4


def test_numpy_ufuncs_on_tensors_record_diffkit_primitives():
    f = dk.function(lambda x: np.sum(np.sin(x) * np.exp(x)))
    x = np.array([0.1, 0.2])
    np.testing.assert_allclose(dk.grad(f)(x)[0], np.exp(x) * (np.cos(x) + np.sin(x)))


def test_turning_a_tensor_into_an_array_keeps_the_graph_or_is_a_clear_error():
    assert dk.grad(dk.function(lambda x: np.asarray(x) * 2))(1.0) == (2.0,)
    f = dk.function(lambda x: np.asarray(x, dtype=float) * 2)  # numbers: the graph would be lost
    with pytest.raises(dk.TracingError, match="use diffkit's operations"):
        dk.grad(f)(1.0)


def test_nested_gradients_trace_the_engine_itself():
    f = dk.function(lambda x: dk.sin(x) * x)
    d2 = dk.grad(lambda x: dk.grad(f)(x)[0])  # reverse over reverse through the user API
    x = 0.7
    assert d2(x)[0] == pytest.approx(2 * np.cos(x) - x * np.sin(x), rel=1e-14)


def test_third_derivative_by_every_ad_engine():
    for method in ("reverse", "forward", "symbolic"):
        assert dk.derivative("sin(x) * exp(x)", n=3, method=method)(0.3) == pytest.approx(
            2 * np.exp(0.3) * (np.cos(0.3) - np.sin(0.3)), rel=1e-12)


def test_garbage_collector_is_back_on_after_tracing_and_errors():
    assert gc.isenabled()
    dk.grad("x * y")(1.0, 2.0)
    with pytest.raises(dk.DomainError):
        dk.grad("log(x)")(-1.0)
    assert gc.isenabled()


def test_broadcasting_adjoints_sum_back_to_input_shapes():
    f = dk.function(lambda a, b: dk.sum(dk.tanh(a * b + a)))
    a = np.array([0.1, -0.2, 0.3])
    b = np.array([[1.0], [2.0]])
    ga, gb = dk.grad(f)(a, b)
    assert ga.shape == (3,) and gb.shape == (2, 1)
    y = 1 - np.tanh(a * b + a) ** 2
    np.testing.assert_allclose(ga, np.sum(y * (b + 1), axis=0))
    np.testing.assert_allclose(gb, np.sum(y * a, axis=1, keepdims=True))


@pytest.mark.parametrize("method", ["reverse", "compiled", "forward"])
def test_gradients_never_alias_the_callers_arrays(method):
    a, b = np.ones(3), np.arange(3.0)
    ga, gb = dk.grad(lambda a, b: dk.sum(a * b), method=method)(a, b)
    ga[0] = 99.0
    gb[:] = -1.0
    assert b.tolist() == [0.0, 1.0, 2.0] and a.tolist() == [1.0, 1.0, 1.0]
    g = dk.grad(lambda x: dk.sum(2.0 * x), method=method)(np.ones(3))[0]
    g[0] = 5.0  # a broadcast would be read-only
    assert g.tolist() == [5.0, 2.0, 2.0]


def test_uniform_cotangent_fast_path_matches_hand_formula():
    x = np.linspace(0.5, 2.0, 7)
    g = dk.grad(dk.function(vector_f), method=ReverseEngine())
    for _ in range(3):
        np.testing.assert_allclose(g(x)[0], vector_grad(x), rtol=1e-14)


@pytest.mark.parametrize("name", sorted(
    n for n, p in REGISTRY.items() if p.kind == "elementwise" and p.differentiable
    and n not in ("where", "binary_cross_entropy")))
def test_float32_gradients_stay_float32(name):
    """Through every element-wise rule, and through the broadcast-cotangent fast path."""
    prim = REGISTRY[name]
    k = ruled_inputs(prim)[0]  # the first input with a rule (the order of jv has none)
    lo, hi = prim.domain[k]
    vals = np.linspace(lo, hi, 5)[1:-1].astype(np.float32)
    x = dk.tensor(vals, requires_grad=True)
    args = [np.float32(0.7)] * prim.nargs
    args[k] = x
    dk.sum(prim(*args) * 0.5).backward()
    assert x.grad.dtype == np.float32, name
    y = dk.tensor(vals, requires_grad=True)
    dk.sum(dk.leaky_relu(y, 0.1) + 2.0 * y).backward()
    assert y.grad.dtype == np.float32
