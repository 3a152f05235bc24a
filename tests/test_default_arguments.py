"""A Python function's defaulted parameters may be left out, as Python's own call allows
(``def loss(w, X, lam=1e-2)`` called as ``loss(w, X)``; JAX fills them the same way): the
default is then the function's constant — held, not differentiated, unless wrt= names it.
Before, every method refused the call (ArityError). References by hand:
∇_w (‖Xw‖² + λ‖w‖²) = 2Xᵀ(Xw) + 2λw."""

from __future__ import annotations

import numpy as np
import pytest

import diffkit as dk
from diffkit.errors import ArityError

W = np.array([0.5, -1.0])
X = np.array([[1.0, 2.0], [3.0, -1.0]])


def loss(w, X, lam=1e-2):
    return np.sum((X @ w) ** 2) + lam * np.sum(w ** 2)


def _hand(lam: float = 1e-2) -> np.ndarray:
    return 2 * X.T @ (X @ W) + 2 * lam * W


@pytest.mark.parametrize("method", ["reverse", "forward", "symbolic", "fd", "auto", "compiled"])
def test_a_defaulted_input_left_out_is_its_default(method):
    g = dk.grad(loss, wrt=0, method=method)
    for _ in range(3):  # (the compiled path learns the signature after two calls)
        (d,) = g(W, X)
        np.testing.assert_allclose(d, _hand(), rtol=1e-6)
    value, _ = dk.value_and_grad(loss, wrt=0, method=method)(W, X)
    assert value == pytest.approx(float(np.sum((X @ W) ** 2) + 1e-2 * np.sum(W ** 2)))
    (d,) = g(W, X, 0.5)  # given, it is the caller's
    np.testing.assert_allclose(d, _hand(0.5), rtol=1e-6)


def test_a_default_is_held_unless_named():
    grads = dk.grad(loss)(W, X)
    assert len(grads) == 2  # w and X: the default is the function's constant
    np.testing.assert_allclose(grads[0], _hand(), rtol=1e-12)
    dw, dlam = dk.grad(loss, wrt=(0, 2))(W, X)  # named: differentiated at its default
    np.testing.assert_allclose(dw, _hand(), rtol=1e-12)
    assert dlam == pytest.approx(float(np.sum(W ** 2)))
    assert len(dk.grad(loss)(W, X, 1e-2)) == 3


def test_every_derivative_and_the_plain_call_take_the_default():
    np.testing.assert_allclose(dk.jacobian(lambda w, s=2.0: s * w)(W), 2 * np.eye(2))
    np.testing.assert_allclose(dk.hessian(loss, wrt=0)(W, X), 2 * X.T @ X + 2e-2 * np.eye(2),
                               rtol=1e-12)
    _, t = dk.jvp(loss, (W, X), (np.ones(2), None))
    assert t == pytest.approx(float(np.sum(_hand())))
    _, pullback = dk.vjp(loss, W, X, argnums=0)
    np.testing.assert_allclose(pullback(1.0)[0], _hand(), rtol=1e-12)
    want = float(np.sum((X @ W) ** 2) + 1e-2 * np.sum(W ** 2))
    for f in (dk.function(loss), dk.jit(loss)):
        assert f(W, X) == pytest.approx(want)
        assert f(W, X=X) == pytest.approx(want)
    jf = dk.jit(loss)
    for _ in range(3):
        np.testing.assert_allclose(dk.grad(jf, wrt=0)(W, X)[0], _hand(), rtol=1e-12)


def test_an_input_without_a_default_is_still_needed():
    with pytest.raises(ArityError, match="takes 3 input"):
        dk.grad(loss, wrt=0)(W)


def test_vjp_holds_a_default_as_the_others_do():
    """One cotangent per given input (the default's was a third, made a float and
    differentiated, or an InputTypeError for a str default)."""
    _, pullback = dk.vjp(loss, W, X)
    assert len(pullback(1.0)) == 2
    _, pullback = dk.vjp(lambda x, n=2: x ** 3 * n, 2.0)
    assert pullback(1.0) == (pytest.approx(24.0),)
    _, pullback = dk.vjp(lambda x, mode="sq": x ** 2 if mode == "sq" else x, 2.0)
    assert pullback(1.0) == (pytest.approx(4.0),)


def test_symbolic_derivative_derivative_and_compare_hold_a_default():
    def h(x, lam=0.5):
        return x ** 3 * lam

    assert len(dk.symbolic(h, 2.0).expressions) == 1
    assert dk.derivative(lambda x, k=3: x ** k)(2.0) == pytest.approx(12.0)
    assert dk.derivative(lambda x, k=3: x ** k, 2, method="symbolic")(2.0) == pytest.approx(12.0)
    assert dk.compare(h, 2.0, methods=["reverse"]).row("reverse").value == pytest.approx([6.0])


def test_nothing_given_to_differentiate_is_an_error():
    def only(x=2.0):
        return x ** 3

    for call in (lambda: dk.grad(only)(), lambda: dk.value_and_grad(only)(),
                 lambda: dk.hessian(only)(), lambda: dk.jacobian(only)()):
        with pytest.raises(ArityError, match="no input to differentiate"):
            call()
    assert dk.grad(only, wrt=0)() == (pytest.approx(12.0),)  # named: at its default
