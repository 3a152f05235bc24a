"""The course seeds' worked examples, exactly: Baydin's ln(x1)+x1·x2−sin(x2), x²y+y+2, a·x²+b·x+c,
the backprop δ-recursion of a sigmoid network, node reuse, and very deep chains."""

from __future__ import annotations

import math

import numpy as np
import pytest
from conftest import ALL_METHODS, ENGINES, EXACT, assert_close

import diffkit as dk

BAYDIN = "ln(x1) + x1*x2 - sin(x2)"
BAYDIN_F = 11.652071455223084
BAYDIN_GRAD = (5.5, 1.7163378145367738)


@pytest.mark.parametrize("method", ALL_METHODS)
def test_baydin_example(method: str) -> None:
    value, grads = dk.value_and_grad(dk.parse(BAYDIN), method=method)(2.0, 5.0)
    assert value == BAYDIN_F
    # independent: the hand derivative 1/x1 + x2, x1 − cos(x2), in plain floats
    assert (1 / 2.0 + 5.0, 2.0 - math.cos(5.0)) == BAYDIN_GRAD
    if method in EXACT:
        assert grads == BAYDIN_GRAD
        assert all(type(g) is float for g in grads)
    else:
        assert_close(grads, BAYDIN_GRAD, method)


def test_baydin_listing_is_the_seeds_trace() -> None:
    listing = dk.parse(BAYDIN).listing(2.0, 5.0)
    lines = [line.split("=")[0].strip() + " = " + line.split("=")[1].strip()
             for line in listing.splitlines()[:7]]
    assert lines == ["v-1 = x1", "v0 = x2", "v1 = log(v-1)", "v2 = v-1 * v0", "v3 = sin(v0)",
                     "v4 = v1 + v2", "v5 = v4 - v3"]
    assert "11.6521" in listing


@pytest.mark.parametrize("method", ALL_METHODS)
def test_seed003_x2y_plus_y_plus_2(method: str) -> None:
    f = dk.parse("x^2*y + y + 2")
    assert f(3.0, 4.0) == 42.0
    grads = dk.grad(f, method=method)(3.0, 4.0)
    if method in EXACT:
        assert grads == (24.0, 10.0)
    else:
        assert_close(grads, (24.0, 10.0), method)


@pytest.mark.parametrize("method", ENGINES)
@pytest.mark.parametrize("point", [(1.5, 2.0, -3.0, 0.5), (-0.25, 0.75, 4.0, -2.0)])
def test_seed004_quadratic_graph(method: str, point: tuple[float, ...]) -> None:
    x, a, b, c = point
    f = dk.parse("a*x^2 + b*x + c", inputs=["x", "a", "b", "c"])
    grads = dk.grad(f, method=method)(x, a, b, c)
    assert_close(grads, (2 * a * x + b, x**2, x, 1.0), method)
    by_name = dk.grad(f, method=method, wrt=["a", "c"])(x, a, b, c)
    assert_close(by_name, (x**2, 1.0), method)
    if method in EXACT:
        assert dk.derivative(dk.parse(f"{a}*x^2 + {b}*x + {c}"), 2, method=method)(x) \
            == pytest.approx(2 * a, abs=1e-12)


# ----- backprop: the δ-recursion of a sigmoid network with the seeds' cross-entropy ------------


def _network(x: np.ndarray, y: np.ndarray):
    @dk.function
    def loss(t1, t2, t3):
        a2 = dk.sigmoid(t1 @ x)
        a3 = dk.sigmoid(t2 @ a2)
        a4 = dk.sigmoid(t3 @ a3)
        # the seeds' sign convention: L = y log ŷ + (1 − y) log(1 − ŷ)
        return dk.sum(y * dk.log(a4) + (1.0 - y) * dk.log(1.0 - a4))

    return loss


def _backprop_by_hand(thetas: list[np.ndarray], x: np.ndarray, y: np.ndarray) -> list[np.ndarray]:
    """δ^(L+1) = y − a^(L+1);  δ^(l) = a^(l)(1 − a^(l)) · Θ^(l)ᵀ δ^(l+1);  ∂L/∂Θ^(l) = δ^(l+1) a^(l)ᵀ."""
    acts = [x]
    for t in thetas:
        acts.append(1.0 / (1.0 + np.exp(-(t @ acts[-1]))))
    delta = y - acts[-1]
    grads: list[np.ndarray] = []
    for layer in range(len(thetas) - 1, -1, -1):
        grads.insert(0, np.outer(delta, acts[layer]))
        a = acts[layer]
        delta = a * (1 - a) * (thetas[layer].T @ delta)
    return grads


@pytest.mark.parametrize("method", ENGINES)
def test_backprop_delta_recursion(method: str) -> None:
    rng = np.random.default_rng(4)
    x = rng.normal(size=3)
    y = np.array([1.0, 0.0])
    thetas = [rng.normal(size=(4, 3)), rng.normal(size=(3, 4)), rng.normal(size=(2, 3))]
    expected = _backprop_by_hand(thetas, x, y)
    got = dk.grad(_network(x, y), method=method)(*thetas)
    for g, e in zip(got, expected, strict=True):
        assert g.shape == e.shape
        assert_close(g, e, method, 1, "∂L/∂Θ")


# ----- node reuse and deep graphs -------------------------------------------------------------


@pytest.mark.parametrize("method", ALL_METHODS)
def test_node_reuse(method: str) -> None:
    @dk.function
    def f(a):
        b = a + a
        return b + b

    g = dk.grad(f, method=method)(1.0)
    if method in EXACT:
        assert g == (4.0,)
    else:
        assert_close(g, (4.0,), method)
    assert dk.parse("(a + a) + (a + a)").listing().count("+") == 3
    assert dk.derivative(f, 2, method="reverse")(1.0) == 0.0


@pytest.mark.parametrize("method", ("reverse", "forward"))
def test_chain_of_100k_operations(method: str) -> None:
    @dk.function
    def chain(x):
        for _ in range(50_000):
            x = x * 1.00001
            x = x + 0.001
        return x

    (g,) = dk.grad(chain, method=method)(0.5)
    assert g == pytest.approx(1.00001**50_000, rel=1e-11)


def test_chain_of_100k_distinct_functions_reverse() -> None:
    """10^5 nonlinear steps: d/dx of sin∘sin∘…∘sin is the product of the cosines on the way."""
    n = 100_000

    @dk.function
    def deep(x):
        for _ in range(n):
            x = dk.sin(x)
        return x

    x, expected = 0.3, 1.0
    for _ in range(n):
        expected *= math.cos(x)
        x = math.sin(x)
    (g,) = dk.grad(deep, method="reverse")(0.3)
    assert g == pytest.approx(expected, rel=1e-9)
    assert dk.grad(deep, method="forward")(0.3)[0] == pytest.approx(expected, rel=1e-9)
