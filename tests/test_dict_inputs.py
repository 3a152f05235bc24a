"""dk.grad and dk.value_and_grad of a function of a dict of parameters (JAX's habit): refused
before (InputTypeError); now differentiated leaf by leaf, the gradient a dict of the same keys,
nesting, shapes and types. Checked in every method against JAX's jax.grad of the same dict, or
against the hand-derived gradient where JAX is not installed."""

from __future__ import annotations

import numpy as np
import pytest

import diffkit as dk

RNG = np.random.default_rng(0)
W, B, X = RNG.standard_normal((3, 2)), RNG.standard_normal(2), RNG.standard_normal((4, 3))
S, V = 0.7, [1.0, 2.0]


def params():
    return {"W": W.copy(), "b": B.copy(), "extra": {"s": S, "v": list(V)}}


def loss(p, x):
    return (np.sum(np.tanh(x @ p["W"] + p["b"]) ** 2) * p["extra"]["s"]
            + np.sum(np.asarray(p["extra"]["v"]) ** 3))


def hand_gradient():
    """d/dθ of s·Σ tanh(z)² + Σ v³, z = xW + b: dz = 2 s tanh(z)(1 − tanh²(z))."""
    t = np.tanh(X @ W + B)
    dz = 2 * S * t * (1 - t**2)
    return {"W": X.T @ dz, "b": dz.sum(axis=0),
            "extra": {"s": float(np.sum(t**2)), "v": 3 * np.asarray(V) ** 2}}


def _assert_same_tree(got, want, rtol):
    assert type(got) is dict and list(got) == list(want)
    for k in want:
        if type(want[k]) is dict:
            _assert_same_tree(got[k], want[k], rtol)
        else:
            np.testing.assert_allclose(got[k], want[k], rtol=rtol, atol=rtol)


@pytest.mark.parametrize("method", ["reverse", "forward", "symbolic", "auto", "fd-central"])
def test_gradient_of_a_dict_is_a_dict(method: str) -> None:
    (g,) = dk.grad(loss, method=method, wrt=0)(params(), X)
    _assert_same_tree(g, hand_gradient(), 1e-7 if method.startswith("fd") else 1e-12)
    assert np.shape(g["W"]) == W.shape and type(g["extra"]["s"]) is float
    assert isinstance(g["extra"]["v"], np.ndarray) and g["extra"]["v"].shape == (2,)


def test_against_jax() -> None:
    jax = pytest.importorskip("jax")
    jax.config.update("jax_enable_x64", True)
    jnp = jax.numpy

    def jloss(p, x):
        return (jnp.sum(jnp.tanh(x @ p["W"] + p["b"]) ** 2) * p["extra"]["s"]
                + jnp.sum(p["extra"]["v"] ** 3))

    want = jax.grad(jloss)({"W": W, "b": B, "extra": {"s": S, "v": jnp.asarray(V)}}, X)
    (g,) = dk.grad(loss, wrt=0)(params(), X)
    _assert_same_tree(g, {"W": want["W"], "b": want["b"],
                          "extra": {"s": want["extra"]["s"], "v": want["extra"]["v"]}}, 1e-12)


def test_value_and_grad_and_the_other_inputs() -> None:
    value, (g, gx) = dk.value_and_grad(loss)(params(), X)
    assert value == pytest.approx(loss(params(), X), rel=1e-15)
    _assert_same_tree(g, hand_gradient(), 1e-12)
    t = np.tanh(X @ W + B)
    np.testing.assert_allclose(gx, (2 * S * t * (1 - t**2)) @ W.T, rtol=1e-12)


def test_the_callers_dict_is_left_as_it_was() -> None:
    def writes(p):
        p["W"] = p["W"] * 2  # the body's own dict: the caller's is not it
        return np.sum(p["W"])

    p = params()
    (g,) = dk.grad(writes)(p)
    assert p["W"] is not None and np.array_equal(p["W"], W)
    np.testing.assert_array_equal(g["W"], np.full(W.shape, 2.0))


def test_refusals_are_named() -> None:
    with pytest.raises(dk.InputTypeError, match="empty dict"):
        dk.grad(loss)({}, X)
    with pytest.raises(dk.InputTypeError, match="dk.jit"):
        dk.grad(dk.jit(loss))(params(), X)
    with pytest.raises(dk.InputTypeError, match="dk.grad and dk.value_and_grad"):
        dk.jacobian(lambda p: p["W"] * 2)({"W": W})
    with pytest.raises(dk.InputTypeError, match="str"):
        dk.grad(lambda p: p["W"])({"W": "text"})
