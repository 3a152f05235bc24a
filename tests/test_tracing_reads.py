"""Reading a traced value (``.value``, ``.data``, ``hash()``) never freezes a number silently.

``x.value`` inside a traced function is a number read out of a traced value, as ``.item()``: a
TracingError for a value being differentiated, otherwise a read that makes the trace valid at its
point only. ``x in {3.0}`` would compare identities, so a traced value is unhashable (a named
error). diffkit's own reads (engines, nn) have no such effect: an ordinary ``dk.jit`` function
still runs its generated code, and parameters stay hashable by identity, as in PyTorch."""

from __future__ import annotations

import numpy as np
import pytest

import diffkit as dk
from diffkit import nn
from diffkit.errors import TracedHashError, TracingError


def _compiled(fn) -> list:
    return [k for k, v in fn.cache.items() if v is not False and k[0] in ("evaluate", "compiled")]


# ----- .value and .data -------------------------------------------------------------------------


@pytest.mark.parametrize("attr", ["value", "data"])
def test_a_number_read_from_an_argument_is_not_frozen_into_a_jit_gradient(attr) -> None:
    f = dk.jit(lambda x, k: x * getattr(k, attr))  # d/dx = k, read from the argument k
    g = dk.value_and_grad(f, wrt=0)
    for x, k in ((2.0, 3.0), (2.0, 5.0), (4.0, -1.5), (2.0, 3.0)):
        # (a held np.float64 is a traced value; a held Python float reaches the body as the
        # number itself, which has no .value, as in plain Python)
        value, (dx,) = g(x, np.float64(k))
        assert value == x * k and dx == k  # hand formulas: f = x·k, ∂f/∂x = k
    assert f.trace(2.0, np.float64(3.0), wrt=[0]).value_dependent  # traced at every call


@pytest.mark.parametrize("attr", ["value", "data"])
def test_reading_the_number_of_a_value_being_differentiated_is_a_tracing_error(attr) -> None:
    f = dk.function(lambda x: x * getattr(x, attr))  # d/dx x·x = 2x: a constant copy would lose x
    for method in ("reverse", "forward"):
        with pytest.raises(TracingError, match=rf"\.{attr} of a traced value .*stop_gradient"):
            dk.grad(f, method=method)(3.0)
    with pytest.raises(TracingError):
        dk.grad(dk.jit(lambda x: x * getattr(x, attr)))(3.0)
    # the fix the message names: a constant meant as a constant
    assert dk.grad(dk.function(lambda x: x * dk.stop_gradient(x)))(3.0) == (3.0,)


def test_a_jit_call_reading_its_argument_is_never_the_first_traces_number() -> None:
    jf = dk.jit(lambda x: x * x.value)
    for x in (2.0, 3.0):  # x·x.value at 3.0 was 6.0 (2.0 frozen); plain numbers have no .value
        with pytest.raises(AttributeError, match="value"):
            jf(x)
    assert not _compiled(jf)
    # float(), the portable spelling, gives x² at every call (no derivative is asked here)
    jg = dk.jit(lambda x, k: x * float(k))
    assert [jg(2.0, 2.0), jg(2.0, 3.0)] == [4.0, 6.0]


def test_value_reads_in_a_nested_trace_follow_the_outer_trace() -> None:
    # ∂²/∂x² of x²·k with k read as a number: 2k at every call, k not being differentiated
    f = dk.jit(lambda x, k: x * x * k.value)
    d1 = dk.function(lambda x, k: dk.grad(f, wrt=0)(x, k)[0])
    k2, k7 = np.float64(2.0), np.float64(7.0)  # (held np.float64s are traced values)
    assert [dk.grad(d1, wrt=0)(1.5, k2), dk.grad(d1, wrt=0)(1.5, k7)] == [(4.0,), (14.0,)]
    with pytest.raises(TracingError):  # k differentiated by the outer trace: ∂(2xk)/∂k is lost
        dk.grad(d1)(1.5, 2.0)
    with pytest.raises(TracingError):  # x read as a number inside a second derivative
        dk.derivative(dk.function(lambda x: x * x * x.value), n=2)(1.5)


def test_values_of_parameters_and_eager_results_read_plainly() -> None:
    p = nn.Parameter(np.array([1.0, -2.0]))
    assert p.value is p.data is p.node.value
    loss = dk.sum(p * p)
    assert loss.value == 5.0 and loss.data == 5.0
    loss.backward()
    np.testing.assert_array_equal(p.grad, [2.0, -4.0])  # d Σp²/dp = 2p
    out = dk.function(lambda x: x * 2.0).trace(3.0).output  # a Node: its value is plain
    assert out.value == 6.0


# ----- diffkit's own reads do not make traces value-dependent -----------------------------------


def test_an_ordinary_jit_function_still_runs_its_generated_code() -> None:
    calls = []

    @dk.jit
    def f(x):
        calls.append(1)
        return dk.sum(dk.sin(x) * x)

    x = np.array([0.5, 1.0, 2.0])
    for k in range(4):
        assert f(x + k) == pytest.approx(np.sum(np.sin(x + k) * (x + k)), rel=1e-14)
    assert len(calls) == 1 and len(_compiled(f)) == 1  # traced once, then generated code


def test_a_jit_pullback_of_a_vector_output_compiles() -> None:
    f = dk.jit(lambda x: dk.sin(x) * x)
    x = np.array([1.0, 2.0])
    _, pullback = dk.vjp(f, x, method="compiled")
    (ct,) = pullback(np.ones(2))
    np.testing.assert_allclose(ct, np.cos(x) * x + np.sin(x), rtol=1e-14)  # (x sin x)' by hand
    # kept with the jit function's first trace at this signature, which every method uses
    assert any(type(v).__name__ == "CompiledGradient" for v in f.frozen(x).cache.values())


def test_a_jit_function_with_nn_layers_and_a_loss_compiles() -> None:
    nn.manual_seed(0)
    layer = nn.Linear(3, 2, dtype=np.float64)
    w, b = layer.weight.value, layer.bias.value
    calls = []

    def loss(W, B, X, y):
        calls.append(1)
        out = nn.functional_call(layer, {"weight": W, "bias": B}, X)
        return nn.mse_loss(out, y)

    jl = dk.jit(loss)
    X = np.array([[1.0, 2.0, 3.0], [0.5, -1.0, 0.0]])
    for k in range(3):
        y = np.full((2, 2), float(k))
        assert jl(w, b, X, y) == pytest.approx(np.mean((X @ w.T + b - y) ** 2), rel=1e-14)
    assert len(calls) == 1 and _compiled(jl)


# ----- hashing --------------------------------------------------------------------------------------


def _membership(x):
    return x * (2.0 if x in {3.0} else 1.0)


def test_set_membership_of_a_traced_value_is_a_named_error() -> None:
    f = dk.function(_membership)
    assert f(3.0) == 6.0 and f(1.0) == 1.0  # plain numbers: the set compares numbers
    for method in ("reverse", "forward"):
        with pytest.raises(TracedHashError, match="cannot be hashed.*compare identities"):
            dk.value_and_grad(f, method=method)(3.0)  # was (3.0, (1.0,)): the set missed
    with pytest.raises(TypeError):  # also Python's "unhashable"
        dk.grad(f)(3.0)
    with pytest.raises(TracingError):
        dk.grad(dk.function(lambda x: {x: 1.0}[x] * x))(3.0)


def test_a_jit_function_with_set_membership_gives_the_plain_answer() -> None:
    jf = dk.jit(_membership)
    assert [jf(3.0), jf(1.0), jf(3.0)] == [6.0, 1.0, 6.0]  # was 3.0 at 3.0 (the set missed)
    assert not _compiled(jf)


def test_list_membership_compares_numbers_and_keeps_the_derivative() -> None:
    f = dk.function(lambda x: x * (2.0 if x in [3.0] else 1.0))
    assert dk.value_and_grad(f)(3.0) == (6.0, (2.0,))  # 2x, derivative 2
    assert dk.value_and_grad(f)(1.0) == (1.0, (1.0,))


def test_parameters_and_eager_tensors_stay_hashable_by_identity() -> None:
    model = nn.Sequential(nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 1))
    params = list(model.parameters())
    assert len(set(params)) == len(params) == 4
    names = {p: n for n, p in model.named_parameters()}
    assert names[model[0].weight] == "0.weight"
    loss = dk.sum(params[0])
    assert loss in {loss} and hash(loss) == id(loss)
    opt = nn.SGD(params, lr=0.1)
    opt.zero_grad()
    loss.backward()
    opt.step()
