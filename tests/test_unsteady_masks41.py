"""A mask from a comparison at its threshold is not a zero that holds near the point, and
dk.symbolic without a point refuses a function that branched on its inputs.

1. x > 0 at x = 0 flips in every neighbourhood of x, so the 0 that np.where's unselected side
   (or x·(x > 0)) gives there may not win over an infinite derivative: sqrt(where(x > 0, x, 0))
   is sqrt(relu x), whose right slope at 0 is +∞ (mpmath quotients below), and every engine
   answered 0. Now a NonDifferentiableError, as sqrt(relu x) already was; derivatives that meet
   no infinite partial keep their values (the hand values below).
2. dk.symbolic(f) traced f at a hidden x = 0.5 and returned that branch's derivative as f's.
"""

from __future__ import annotations

import warnings

import mpmath as mp
import numpy as np
import pytest

import diffkit as dk

ENGINES = ["reverse", "forward", "symbolic", "auto", "compiled"]


def _right_quotients(f, hs=("1e-10", "1e-20", "1e-40")):
    """mpmath's (f(h) − f(0))/h: the reference that the derivative at 0 does not exist."""
    return [(f(mp.mpf(h)) - f(mp.mpf(0))) / mp.mpf(h) for h in hs]


def test_the_reference_slope_is_unbounded():
    q = _right_quotients(lambda t: mp.sqrt(max(0, t)))
    assert q[0] > 1e4 and q[1] > 1e9 and q[2] > 1e19
    q = _right_quotients(lambda t: mp.cbrt(max(0, t)))
    assert q[0] > 1e6 and q[2] > 1e26


AT_A_TIE = {
    "sqrt(where(x > 0, x, 0))": lambda x: np.sqrt(np.where(x > 0, x, 0.0)),
    "sqrt(x * (x > 0))": lambda x: np.sqrt(x * (x > 0)),
    "cbrt(where(x > 0, x, 0))": lambda x: np.cbrt(np.where(x > 0, x, 0.0)),
    "where(x <= 0, 0, x)**0.5": lambda x: np.where(x <= 0, 0, x) ** 0.5,
    "where(x > 0, sqrt(x), 0)": lambda x: np.where(x > 0, np.sqrt(x), 0.0),
    "sqrt(x * logical_and(x > 0, x < 2))": lambda x: np.sqrt(
        x * np.logical_and(x > 0, x < 2).astype(np.float64)),
    "sqrt(x * ((x > 0) * 1.0))": lambda x: np.sqrt(x * ((x > 0) * 1.0)),
}


@pytest.mark.parametrize("method", ENGINES)
@pytest.mark.parametrize("name", list(AT_A_TIE))
def test_a_mask_at_its_threshold_meeting_an_infinite_derivative_is_refused(name, method):
    with pytest.raises(dk.NonDifferentiableError, match="comparison at its threshold"):
        dk.grad(AT_A_TIE[name], method=method)(0.0)


@pytest.mark.parametrize("method", ["reverse", "forward"])
def test_through_jit_too(method):
    with pytest.raises(dk.NonDifferentiableError):
        dk.grad(dk.jit(AT_A_TIE["sqrt(where(x > 0, x, 0))"]), method=method)(0.0)


@pytest.mark.parametrize("method", ["reverse", "forward", "auto"])
def test_a_vector_refuses_the_element_at_the_tie_only(method):
    def loss(w):
        return np.sum(np.sqrt(np.where(w > 0, w, 0.0)))

    w = np.array([0.0, 1.0, 4.0])
    with pytest.raises(dk.NonDifferentiableError):
        dk.grad(loss, method=method)(w)
    # a direction that does not move the element at 0: 1/(2√1) + 1/(2√4), by hand
    _, t = dk.jvp(loss, (w,), (np.array([0.0, 1.0, 1.0]),), method=method)
    assert t == pytest.approx(0.75, rel=1e-15)


def test_eager_backward_gives_nan_as_pytorch():
    x = dk.tensor(0.0, requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        np.sqrt(np.where(x > 0, x, 0.0)).backward()
    assert np.isnan(x.grad)


# no infinite partial met, or no tie: the values stay (hand values)
KEPT = {
    "where(x > 0, x, 0) at 0 (relu's one-sided 0)": (lambda x: np.where(x > 0, x, 0.0), 0.0, 0.0),
    "sqrt(where(x > 0, x, 0)) at 1": (lambda x: np.sqrt(np.where(x > 0, x, 0.0)), 1.0, 0.5),
    "sqrt(where(x > 0, x, 0)) at -1": (lambda x: np.sqrt(np.where(x > 0, x, 0.0)), -1.0, 0.0),
    "sqrt(x * (x > 0)) at 4": (lambda x: np.sqrt(x * (x > 0)), 4.0, 0.25),
    "double where at 0": (lambda x: np.where(x > 0, np.sqrt(np.where(x > 0, x, 1.0)), 0.0),
                          0.0, 0.0),
    "double where at 4": (lambda x: np.where(x > 0, np.sqrt(np.where(x > 0, x, 1.0)), 0.0),
                          4.0, 0.25),
    "where(x > 1, sqrt(x), 0) at 0 (no tie)": (lambda x: np.where(x > 1, np.sqrt(x), 0.0),
                                               0.0, 0.0),
}


@pytest.mark.parametrize("method", ENGINES)
@pytest.mark.parametrize("name", list(KEPT))
def test_derivatives_that_meet_no_infinite_partial_at_a_tie_keep_their_values(name, method):
    f, x, want = KEPT[name]
    (g,) = dk.grad(f, method=method)(x)
    assert float(g) == want


@pytest.mark.parametrize("method", ["reverse", "forward", "symbolic"])
def test_the_hessian_of_a_masked_square_at_its_threshold_is_unchanged(method):
    H = dk.hessian(lambda x: np.where(x > 0, x**2, 0.0), method=method)(0.0)
    np.testing.assert_array_equal(H, [[0.0]])  # the relu convention: the left side's 0


# ----- 2. dk.symbolic without a point -----------------------------------------------------------


def _branchy(x):
    return x**2 if x > 0.7 else np.sin(x)


def test_symbolic_without_a_point_refuses_a_function_that_branched():
    with pytest.raises(dk.TracingError, match=r"dk.symbolic\(_branchy\) without a point.*"
                                              r"dk.symbolic\(_branchy, x0\).*np.where"):
        dk.symbolic(_branchy)
    with pytest.raises(dk.TracingError, match="branched on its input values"):
        dk.symbolic(lambda x: max(x, 1.0) * x)


def test_symbolic_with_a_point_gives_that_branch_and_where_needs_no_point():
    import sympy as sp

    (e,) = dk.symbolic(_branchy, 2.0).expressions  # the branch x**2: 2x, by hand 4 at 2
    assert float(e.subs({s: 2.0 for s in e.free_symbols})) == 4.0
    (e,) = dk.symbolic(_branchy, 0.1).expressions  # the branch sin x: cos x
    assert float(e.subs({s: 0.1 for s in e.free_symbols})) == pytest.approx(np.cos(0.1))
    (e,) = dk.symbolic(lambda x: np.where(x > 0.7, x**2, np.sin(x))).expressions
    assert e.has(sp.Piecewise)
    (x,) = e.free_symbols
    assert float(e.subs(x, 2.0)) == 4.0
    assert float(e.subs(x, 0.1)) == pytest.approx(np.cos(0.1), rel=1e-15)
