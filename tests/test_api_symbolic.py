"""dk.symbolic (exact derivative expressions) and the small composite ops, against hand formulas."""

from __future__ import annotations

import numpy as np
import pytest
import sympy as sp

import diffkit as dk


def test_symbolic_expressions_equal_the_hand_derivatives() -> None:
    x1, x2 = sp.symbols("x1 x2", real=True)
    exact = dk.symbolic("ln(x1) + x1*x2 - sin(x2)")
    hand = [1 / x1 + x2, x1 - sp.cos(x2)]
    for got, want in zip(exact.expressions, hand, strict=True):
        assert sp.simplify(got - want) == 0
    assert exact.latex() == [sp.latex(e) for e in exact.expressions]
    assert exact.shape == (1, 2)
    np.testing.assert_allclose(exact([2.0, 5.0]).reshape(-1), [5.5, 1.7163378145367738], rtol=1e-15)


def test_symbolic_hessian_and_expanded_form() -> None:
    x, y = sp.symbols("x y", real=True)
    hess = dk.symbolic("x^2*y + y + 2", order=2)
    assert [sp.simplify(e) for e in hess.expressions] == [2 * y, 2 * x, 2 * x, 0]
    grad = dk.symbolic("sin(x*y)")
    assert [sp.simplify(e - w) for e, w in zip(grad.expanded(), [y * sp.cos(x * y), x * sp.cos(x * y)],
                                                 strict=True)] == [0, 0]


def test_symbolic_reports_swell_of_a_shared_graph() -> None:
    def f(x):
        for _ in range(6):  # each step uses x twice: a tree doubles, the DAG grows by one
            x = dk.sin(x) * x
        return x

    sizes = dk.symbolic(dk.function(f), 0.3).sizes()
    assert sizes["tree"] > 10 * sizes["dag"]
    assert sizes["cse"] <= sizes["dag"]
    d = dk.grad(dk.function(f), method="symbolic")(0.3)[0]
    assert d == pytest.approx(dk.grad(dk.function(f), method="fd-richardson")(0.3)[0], rel=1e-10)


def test_symbolic_rejects_a_bad_order() -> None:
    with pytest.raises(ValueError, match="order"):
        dk.symbolic("x", order=3)


def test_composites_against_hand_gradients() -> None:
    a, b = np.array([0.3, -1.2, 2.0]), np.array([1.5, 0.4, -0.7])
    ga, gb = dk.grad(lambda a, b: dk.dot(a, b))(a, b)
    np.testing.assert_allclose(ga, b)
    np.testing.assert_allclose(gb, a)
    np.testing.assert_allclose(dk.grad(lambda a: dk.sum(dk.square(a)), method="forward")(a)[0], 2 * a)
    s = dk.grad(lambda a: dk.sum(dk.sum_to(a * np.ones((2, 3)), (3,)) * b))(a)[0]
    np.testing.assert_allclose(s, 2 * b)  # broadcast over 2 rows, summed back
    p = np.exp(a) / np.exp(a).sum()
    np.testing.assert_allclose(dk.grad(lambda a: dk.softmax(a)[0])(a)[0], p[0] * (np.eye(3)[0] - p))
