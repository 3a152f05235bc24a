"""Inputs passed as given beside differentiated ones (stop 38's hunt of dicts and pytrees).

A body that adds a key to the caller's parameter dict shifted every later leaf's gradient onto
the next input (the layout was read from the caller's dict again: a silent misattribution);
the first derivative call of a dk.jit function given a dict, a str, None or a ragged tuple
outside argnums was an InputTypeError (its replay read every input as a float), as was a vjp
pullback by forward or symbolic mode. References by hand."""

from __future__ import annotations

import numpy as np
import pytest

import diffkit as dk


@pytest.mark.parametrize("method", ["reverse", "forward", "fd"])
def test_a_key_added_to_the_callers_dict_moves_no_gradient(method):
    params = {"layer": {"w": np.array([1.0, 2.0])}, "b": 3.0}

    def loss(q, x):
        params["layer"].setdefault("calls", 0)  # bookkeeping in the caller's dict
        params["n"] = params.get("n", 0) + 1
        return (q["layer"]["w"] * x).sum() + 5.0 * q["b"]

    gp, gx = dk.grad(loss, method=method, argnums=(0, 1))(params, np.array([10.0, 20.0]))
    assert set(gp) == {"layer", "b"} and set(gp["layer"]) == {"w"}
    np.testing.assert_allclose(gp["layer"]["w"], [10.0, 20.0], rtol=1e-8)
    np.testing.assert_allclose(gp["b"], 5.0, rtol=1e-8)
    np.testing.assert_allclose(gx, [1.0, 2.0], rtol=1e-8)


GIVEN = [{"s": 2.0}, "relu", None, (np.ones((2, 2)), np.ones(2))]


@pytest.mark.parametrize("method", ["reverse", "forward", "symbolic", "auto", "compiled"])
@pytest.mark.parametrize("cfg", GIVEN, ids=["dict", "str", "None", "ragged tuple"])
def test_a_jit_function_takes_an_object_outside_argnums_at_its_first_call(method, cfg):
    f = dk.jit(lambda x, c: (x ** 2).sum() * 2.0)
    x = np.array([1.0, 2.0])
    g = dk.grad(f, argnums=0, method=method)
    for _ in range(3):
        (d,) = g(x, cfg)
        np.testing.assert_allclose(d, 4 * x, rtol=1e-10)
    value, (d,) = dk.value_and_grad(dk.jit(lambda x, c: (x ** 2).sum() * 2.0), argnums=0,
                                    method=method)(x, cfg)
    assert value == pytest.approx(10.0)
    h = dk.hessian(dk.jit(lambda x, c: (x ** 3).sum()), argnums=0, method=method)(x, cfg)
    np.testing.assert_allclose(h, np.diag(6 * x), rtol=1e-10)


@pytest.mark.parametrize("method", ["reverse", "forward", "symbolic", "auto", "compiled"])
@pytest.mark.parametrize("c", GIVEN, ids=["dict", "str", "None", "ragged tuple"])
def test_a_vjp_pullback_takes_an_object_outside_argnums(method, c):
    x = np.array([1.0, 2.0])
    _, pullback = dk.vjp(lambda x, c: x ** 3 * 3.0, x, c, method=method, argnums=0)
    (d,) = pullback(np.ones(2))
    np.testing.assert_allclose(d, 9 * x ** 2, rtol=1e-10)


@pytest.mark.parametrize("method", ["reverse", "forward", "symbolic", "compiled"])
def test_an_object_outside_argnums_that_changes_between_calls_is_followed(method):
    """The replay takes the object as given, it does not freeze it: each call's cfg counts, as
    a fresh trace's would (d/dx Σx²·s = 2s·x, by hand)."""
    f = dk.jit(lambda x, c: (x ** 2).sum() * c["s"])
    g = dk.grad(f, argnums=0, method=method)
    x = np.array([1.0, 2.0])
    for s in (2.0, 3.0, 2.0, 5.0):
        np.testing.assert_allclose(g(x, {"s": s})[0], 2 * s * x, rtol=1e-12)
    h = dk.grad(dk.jit(lambda x, mode: (x ** 2).sum() if mode == "sq" else x.sum()), argnums=0,
                method=method)
    for mode, want in (("sq", 2 * x), ("lin", np.ones(2)), ("sq", 2 * x)):
        np.testing.assert_allclose(h(x, mode)[0], want, rtol=1e-12)
