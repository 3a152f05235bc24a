"""What a derivative keeps is its own: arrays updated in place afterwards do not reach it.

* A ``dk.jit`` function freezes what its body reads at its first trace per signature (README,
  design.md; JAX copies what a jit function captures). An array it read and the caller then
  updated in place (``W[0] = 100``) reached its call and some derivatives but not others:
  ``dk.grad(f)`` said [1, 2] while ``dk.value_and_grad(f)`` said (102, [100, 2]) — now every
  use is the first trace's (3, [1, 2]).
* ``dk.vjp``'s pullback runs later than the call: an optimizer's in-place step on the primal
  made it multiply old partials by the new point (a gradient at no point at all).
References: hand-derived gradients at the point of the first trace / of the vjp call.
"""

from __future__ import annotations

import numpy as np
import pytest

import diffkit as dk

METHODS = ("reverse", "forward", "symbolic", "compiled", "fd-central", "auto")


@pytest.mark.parametrize("method", METHODS)
def test_a_jit_function_keeps_the_array_it_read(method):
    W = np.array([1.0, 2.0])
    f = dk.jit(lambda x: np.sum(W * x))
    x = np.ones(2)
    assert f(x) == 3.0
    dk.grad(f)(x)
    W[0] = 100.0                       # the caller updates, in place, what the trace read
    assert f(x) == 3.0
    value, (g,) = dk.value_and_grad(f, method=method)(x)
    assert value == 3.0
    np.testing.assert_allclose(g, [1.0, 2.0], rtol=1e-9)
    np.testing.assert_allclose(dk.grad(f, method=method)(np.array([3.0, 5.0]))[0], [1.0, 2.0],
                               rtol=1e-9)


def test_a_jit_functions_symbolic_gradient_and_value_agree_after_an_update():
    K = np.array([2.0, 3.0])
    g = dk.jit(lambda x: np.sum(K * x ** 2))
    x = np.ones(2)
    dk.value_and_grad(g, method="symbolic")(x)
    K *= 10.0
    value, (grad,) = dk.value_and_grad(g, method="symbolic")(x)
    assert value == 5.0                # Σ K x² at the first trace's K
    np.testing.assert_array_equal(grad, [4.0, 6.0])


def test_a_jit_function_keeps_its_index_array():
    idx = np.array([0, 1])
    h = dk.jit(lambda x: np.sum(x[idx] ** 2))
    x = np.array([1.0, 2.0, 3.0])
    assert h(x) == 5.0
    idx[1] = 2
    assert h(x) == 5.0
    np.testing.assert_array_equal(dk.grad(h)(x)[0], [2.0, 4.0, 0.0])


@pytest.mark.parametrize("method", METHODS)
def test_a_pullback_is_at_the_point_of_its_call(method):
    w = np.array([1.0, 2.0])
    _, pullback = dk.vjp(lambda w: np.sin(w) * w, w, method=method)
    w -= 0.5                           # an optimizer's in-place step before the pullback runs
    expected = np.cos([1.0, 2.0]) * [1.0, 2.0] + np.sin([1.0, 2.0])
    np.testing.assert_allclose(pullback(np.ones(2))[0], expected, rtol=1e-8)


def test_a_pullback_of_two_inputs_keeps_both():
    W, X = np.array([1.0, 2.0]), np.array([3.0, 4.0])
    _, pullback = dk.vjp(lambda w, x: w * x, W, X)
    X[...] = 100.0
    W[...] = 50.0
    gw, gx = pullback(np.ones(2))
    np.testing.assert_array_equal(gw, [3.0, 4.0])
    np.testing.assert_array_equal(gx, [1.0, 2.0])
