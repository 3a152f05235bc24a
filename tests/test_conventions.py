"""Conventions users bring from PyTorch, torchviz and JAX: ``.argmax(1)``, ``.detach()``,
``dk.draw(loss)`` on a value computed with diffkit.nn, ``argnums=``."""

from __future__ import annotations

import re

import numpy as np
import pytest

import diffkit as dk
from diffkit import nn
from diffkit.traces import DrawingTooLargeError


def _model_and_data():
    nn.manual_seed(0)
    X, y = nn.make_moons(16, noise=0.1, seed=0)
    return nn.MLP([2, 3, 2]), X.astype(np.float32), y


# ----- argmax / argmin ---------------------------------------------------------------------


def test_argmax_and_argmin_on_model_outputs_are_plain_index_arrays():
    model, X, _ = _model_and_data()
    logits = model(X)
    assert type(logits) is dk.Tensor
    pred = logits.argmax(1)
    assert type(pred) is np.ndarray and pred.dtype.kind == "i"
    np.testing.assert_array_equal(pred, np.argmax(logits.value, axis=1))
    np.testing.assert_array_equal(logits.argmin(axis=1), np.argmin(logits.value, axis=1))
    assert logits.argmax() == np.argmax(logits.value)
    assert logits.argmax(-1, keepdims=True).shape == (16, 1)
    assert logits.argmin(keepdims=True).shape == (1, 1)


def test_argmax_inside_a_traced_function_keeps_the_derivative_and_marks_the_trace():
    def pick_largest(x):
        return x[x.argmax()] * 2.0

    (g,) = dk.grad(pick_largest)(np.array([1.0, 3.0, 2.0]))
    np.testing.assert_array_equal(g, [0.0, 2.0, 0.0])
    graph = dk.function(pick_largest).trace(np.array([1.0, 3.0, 2.0]))
    assert graph.value_dependent  # the index came from the values: the trace holds here only
    # a jit function that reads an index is traced again at each call, so it is never stale
    f = dk.jit(pick_largest)
    for x, want in (([1.0, 3.0, 2.0], [0, 2, 0]), ([5.0, 3.0, 2.0], [2, 0, 0]),
                    ([0.0, 1.0, 7.0], [0, 0, 2])):
        np.testing.assert_array_equal(dk.grad(f, method="compiled")(np.array(x))[0], want)
        np.testing.assert_array_equal(dk.grad(f)(np.array(x))[0], want)


def test_argmin_in_nested_tracing_reads_through_every_tape():
    def f(x):
        return dk.sum(x**3) * x[x.argmin()]

    x = np.array([2.0, -1.0, 0.5])
    h = dk.hessian(f, method="forward")(x)
    np.testing.assert_allclose(h, dk.hessian(f, method="reverse")(x))
    np.testing.assert_allclose(h, dk.hessian(f, method="fd")(x), rtol=1e-4, atol=1e-4)


# ----- detach ------------------------------------------------------------------------------


def test_detach_on_the_eager_tape_and_in_traced_functions():
    w = dk.tensor(np.array([1.0, 2.0]), requires_grad=True)
    y = (w * 2.0).detach()
    assert not y.requires_grad
    (y * w).sum().backward()
    np.testing.assert_array_equal(w.grad, [2.0, 4.0])  # y is a constant 2w
    model, X, _ = _model_and_data()
    out = model(X).detach()
    assert not out.requires_grad and out.numpy().shape == (16, 2)
    assert dk.grad(lambda x: x * x.detach())(3.0) == (3.0,)


# ----- argnums -----------------------------------------------------------------------------


def test_argnums_is_jax_name_for_wrt_everywhere():
    def f(x, y, z):
        return x * y**2 + dk.sin(z) * x

    args = (1.5, 2.0, 0.3)
    assert dk.grad(f, argnums=1)(*args) == pytest.approx((2 * 1.5 * 2.0,))
    assert dk.grad(f, argnums=(0, 2))(*args) == pytest.approx(
        (2.0**2 + np.sin(0.3), np.cos(0.3) * 1.5))
    value, grads = dk.value_and_grad(f, argnums=[2])(*args)
    assert value == pytest.approx(f(*args)) and grads == pytest.approx((np.cos(0.3) * 1.5,))
    np.testing.assert_allclose(dk.jacobian(f, argnums=(1,))(*args), [[2 * 1.5 * 2.0]])
    np.testing.assert_allclose(dk.hessian(f, argnums=(0, 1))(*args), [[0.0, 4.0], [4.0, 3.0]])
    _, pullback = dk.vjp(f, *args, argnums=0)
    assert pullback(1.0) == pytest.approx((2.0**2 + np.sin(0.3),))
    with pytest.raises(dk.ArityError, match="not both"):
        dk.grad(f, wrt=0, argnums=0)


# ----- dk.draw(tensor) ---------------------------------------------------------------------


def test_draw_accepts_a_loss_computed_with_diffkit_nn():
    model, X, y = _model_and_data()
    loss = nn.cross_entropy(model(X), y)
    g = dk.draw(loss)
    assert "nodes, reverse mode" in repr(g)
    # the parameters are the inputs, named after them; the data is a constant
    # distinct names, printed as written where a subscript could read as another name's
    for name in ("weight", "bias", "weight_2", "bias_2"):
        assert re.search(rf"<B>v\S+ = {name}</B>", g.source), name
    assert "const(16, 2)" in g.source
    # the adjoints drawn are the gradients backward() computes
    t = dk.trace(loss)
    loss.backward()
    params = list(model.parameters())
    assert t.function.inputs == ("weight", "bias", "weight_2", "bias_2")
    for grad, p in zip(t.derivative, params, strict=True):
        # float32 sums over the batch whose terms cancel: relative to the largest entry
        np.testing.assert_allclose(grad, p.grad, rtol=1e-6,
                                   atol=1e-6 * float(np.max(np.abs(p.grad))))
    assert t.value == pytest.approx(float(loss))
    assert t.title().endswith("(reverse mode, y\u0304 = 1)")


def test_draw_a_non_scalar_tensor_seeds_with_ones_and_leaves_without_grad_are_constants():
    w = dk.tensor(np.array([1.0, 2.0, 3.0]), requires_grad=True, name="w")
    data = dk.tensor(np.array([4.0, 5.0, 6.0]), name="data")  # a leaf that needs no gradient
    out = w * data
    t = dk.trace(out)
    assert t.function.inputs == ("w",)
    np.testing.assert_array_equal(t.derivative[0], [4.0, 5.0, 6.0])
    source = dk.draw(out).source
    assert "<B>v₀ = w</B>" in source and "y\u0304 = [1, 1, 1]" in source
    assert 'c0 [label="const(3,)"' in source and "= data" not in source  # data: a constant


def test_draw_a_tensor_refuses_large_graphs_with_the_usual_message():
    x = dk.tensor(1.0, requires_grad=True, name="x")
    y = x
    for _ in range(250):
        y = y * 1.001
    # 1 input, 250 products and their 250 constants
    with pytest.raises(DrawingTooLargeError, match=r"has 501 nodes, more than max_nodes=200"):
        dk.draw(y)
    assert "501 nodes" in repr(dk.draw(y, max_nodes=None))


def test_draw_a_tensor_rejects_a_point_and_a_tensor_with_nothing_to_differentiate():
    x = dk.tensor(2.0, requires_grad=True, name="x")
    assert "1 node, reverse mode" in repr(dk.draw(x))  # a leaf alone is a graph too
    with pytest.raises(TypeError, match="no point"):
        dk.draw(x * x, 3.0)
    with pytest.raises(ValueError, match="requires a gradient"):
        dk.draw(dk.tensor(2.0) * 3.0)


@pytest.mark.parametrize("method", ["reverse", "forward", "auto"])
def test_a_gradient_traced_inside_jit_keeps_float32(method: str) -> None:
    """A functional float32 training step: dk.grad of the loss inside dk.jit is float32 as it is
    outside (the pullback's seed 1 is in the loss's dtype), so the updated parameters stay
    float32. It was float64: a Python 1.0 seed made cross-entropy's cotangent a float64 array."""
    rng = np.random.default_rng(7)
    w = rng.normal(size=(3, 4)).astype(np.float32)
    x = rng.normal(size=(5, 4)).astype(np.float32)
    t = np.eye(3, dtype=np.float32)[[0, 2, 1, 1, 0]]

    def loss(w, x, t):
        return dk.mean(dk.softmax_cross_entropy(x @ dk.transpose(w), t)) + dk.mean(w**2)

    def step(w, x, t):
        return w - 0.1 * dk.grad(loss, wrt=0, method=method)(w, x, t)[0]

    new = dk.jit(step)(w, x, t)
    assert new.dtype == np.float32
    assert dk.function(step)(w, x, t).dtype == np.float32
    z = x.astype(np.float64) @ w.T.astype(np.float64)  # by hand, in float64
    p = np.exp(z - z.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    g = ((p - t) / len(x)).T @ x + 2 * w / w.size
    np.testing.assert_allclose(new, w - 0.1 * g, rtol=2e-6)


@pytest.mark.parametrize("method", ["symbolic", "reverse", "forward", "auto", "compiled", "fd"])
@pytest.mark.parametrize("n", [1, 2, 3])
# float32 second and third differences do not settle to 1e-4: FD says so (a RuntimeWarning);
# this test is about the dtype
@pytest.mark.filterwarnings("ignore:finite differences:RuntimeWarning")
def test_derivative_keeps_the_inputs_dtype_for_every_method(method: str, n: int) -> None:
    """dⁿ(x³)/dxⁿ at x = 1.5 (hand: 6.75, 9, 6) comes back in the input's dtype and kind, as
    grad's do: method="symbolic" returned float64 for a float32 scalar or 0-d array (SymPy's
    code runs in float64)."""
    hand = {1: 6.75, 2: 9.0, 3: 6.0}[n]
    d = dk.derivative(dk.parse("x^3"), n=n, method=method)
    for x in (np.float32(1.5), np.array(1.5, np.float32), 1.5):
        got = d(x)
        assert type(got) is type(x) and np.result_type(got) == np.result_type(x)
        assert got == pytest.approx(hand, rel=1e-6 if method != "fd" else 1e-2)


def test_forward_mode_cross_entropy_keeps_float32_under_an_outer_derivative() -> None:
    """Cross-entropy's JVP seeded its rows with a Python 1.0 broadcast to a float64 array, so a
    forward-mode gradient of a float32 loss taken while an outer trace differentiates its inputs
    came out float64 (the rows' unit cotangents are now in the output's dtype)."""
    rng = np.random.default_rng(7)
    w = rng.normal(size=(3, 4)).astype(np.float32)
    x = rng.normal(size=(5, 4)).astype(np.float32)
    t = np.eye(3, dtype=np.float32)[[0, 2, 1, 1, 0]]

    def loss(w, x, t):
        return dk.mean(dk.softmax_cross_entropy(x @ dk.transpose(w), t))

    def inner(w, x, t):
        return dk.grad(loss, wrt=0, method="forward")(w, x, t)[0]

    graph = dk.function(inner).trace(w, x, t)  # every input differentiated by the outer trace
    assert graph.output.value.dtype == np.float32
