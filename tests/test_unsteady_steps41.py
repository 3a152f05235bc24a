"""A step's jump is unsteady as a comparison's tie is; the symbolic Hessian audits its 0·∞;
an infinite derivative that sort cannot carry back is named.

1. sign/heaviside at 0, floor/ceil at the integers, rint/round at the halves, trunc/fix at the
   nonzero integers, x // y, mod and fmod where x/y is an integer jump there, so a comparison
   of them (sign(x) > 0.5, ceil(x) > 0.5) flips in every neighbourhood though its operands do
   not tie: the 0 of the mask it makes may not win over an infinite derivative
   (sqrt(x·(sign(x) > 0.5)) is sqrt(relu x), right slope +∞: mpmath below). Every engine
   answered 0. Steps away from their jumps keep their values (hand values).
2. The symbolic Hessian (and derivative(n ≥ 2)) took 0·∞ = 0 through a mask at its threshold
   with no audit: where(x > 0, x, 0)**1.5 at 0 has f′(h)/h = 1.5/√h → ∞, and it answered 0.
3. sqrt's infinite derivative at 0 sent back through sort's tied entries (0 and −0) was a
   DomainError "point outside the domain: index_add(...)" by reverse mode.
"""

from __future__ import annotations

import warnings

import mpmath as mp
import numpy as np
import pytest

import diffkit as dk

ENGINES = ["reverse", "forward", "symbolic", "auto", "compiled"]


def _quotients(f, x0, side=1, hs=("1e-10", "1e-20", "1e-40")):
    """mpmath's one-sided |f(x0 ± h) − f(x0)|/h, at 60 digits (1 − 1e-40 is not 1)."""
    with mp.workdps(60):
        x0 = mp.mpf(x0)
        return [abs((f(x0 + side * mp.mpf(h)) - f(x0)) / mp.mpf(h)) for h in hs]


def _rint(t):  # NumPy's rint: ties to even (mpmath's nint rounds half to even as well)
    return mp.nint(t)


# f (NumPy), its mpmath twin, the jump point, the side whose slope is unbounded
AT_A_JUMP = {
    "sqrt(x * (sign(x) > 0.5)) at 0": (lambda x: np.sqrt(x * (np.sign(x) > 0.5)),
                                       lambda t: mp.sqrt(t * (mp.sign(t) > 0.5)), 0.0, 1),
    "sqrt(x * (sign(x) == 1)) at 0": (lambda x: np.sqrt(x * (np.sign(x) == 1)),
                                      lambda t: mp.sqrt(t * (mp.sign(t) == 1)), 0.0, 1),
    "sqrt(where(heaviside(x, 0) > 0.5, x, 0)) at 0": (
        lambda x: np.sqrt(np.where(np.heaviside(x, 0.0) > 0.5, x, 0.0)),
        lambda t: mp.sqrt(max(0, t)), 0.0, 1),
    "sqrt(x * (ceil(x) > 0.5)) at 0": (lambda x: np.sqrt(x * (np.ceil(x) > 0.5)),
                                       lambda t: mp.sqrt(t * (mp.ceil(t) > 0.5)), 0.0, 1),
    "sqrt(-x * (floor(x) < -0.5)) at 0": (lambda x: np.sqrt(-x * (np.floor(x) < -0.5)),
                                          lambda t: mp.sqrt(-t * (mp.floor(t) < -0.5)), 0.0, -1),
    "sqrt(x * (round(x + 0.5) > 0.5)) at 0": (
        lambda x: np.sqrt(x * (np.round(x + 0.5) > 0.5)),
        lambda t: mp.sqrt(t * (_rint(t + mp.mpf("0.5")) > 0.5)), 0.0, 1),
    "sqrt((1 - x) * (fix(x) < 0.5)) at 1": (
        lambda x: np.sqrt((1 - x) * (np.fix(x) < 0.5)),
        lambda t: mp.sqrt((1 - t) * (int(t) < 0.5)), 1.0, -1),
    "sqrt((2 - x) * (x // 2 < 0.5)) at 2": (
        lambda x: np.sqrt((2 - x) * (x // 2 < 0.5)),
        lambda t: mp.sqrt((2 - t) * (mp.floor(t / 2) < 0.5)), 2.0, -1),
    "sqrt((1 - x) * (mod(x, 1) > 0.5)) at 1": (
        lambda x: np.sqrt((1 - x) * (np.mod(x, 1.0) > 0.5)),
        lambda t: mp.sqrt((1 - t) * ((t - mp.floor(t)) > 0.5)), 1.0, -1),
    "sqrt((1 - x) * (fmod(x, 1) > 0.5)) at 1": (
        lambda x: np.sqrt((1 - x) * (np.fmod(x, 1.0) > 0.5)),
        lambda t: mp.sqrt((1 - t) * ((t - int(t)) > 0.5)), 1.0, -1),
}


@pytest.mark.parametrize("name", list(AT_A_JUMP))
def test_the_reference_slope_is_unbounded(name):
    _, ref, x0, side = AT_A_JUMP[name]
    q = _quotients(ref, x0, side)
    assert q[0] > 1e4 and q[1] > 1e9 and q[2] > 1e19


@pytest.mark.parametrize("method", ENGINES)
@pytest.mark.parametrize("name", list(AT_A_JUMP))
def test_a_step_at_its_jump_feeding_a_mask_is_refused(name, method):
    f, _, x0, _ = AT_A_JUMP[name]
    with pytest.raises(dk.NonDifferentiableError, match="threshold"):
        dk.grad(f, method=method)(x0)


def test_eager_backward_gives_nan_as_pytorch():
    x = dk.tensor(0.0, requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        np.sqrt(x * (np.sign(x) > 0.5)).backward()
    assert np.isnan(x.grad)


# away from their jumps (or not moving across them) steps are steady: the values stay (by hand)
KEPT = {
    "sqrt(x * (sign(x) > 0.5)) at 4": (lambda x: np.sqrt(x * (np.sign(x) > 0.5)), 4.0, 0.25),
    "sqrt(x * (sign(x) > 0.5)) at -1 (0 near -1)": (
        lambda x: np.sqrt(x * (np.sign(x) > 0.5)), -1.0, 0.0),
    "sqrt(x * (rint(x) > 0.5)) at 0 (rint jumps at ±0.5)": (
        lambda x: np.sqrt(x * (np.rint(x) > 0.5)), 0.0, 0.0),
    "sqrt(-x * (trunc(x) < -0.5)) at 0 (trunc is 0 on (-1, 1))": (
        lambda x: np.sqrt(-x * (np.trunc(x) < -0.5)), 0.0, 0.0),
    "sqrt(x * (heaviside(0, x) > 0.5)) at 0.25 (only x2 moves: heaviside(0, x) = x)": (
        lambda x: np.sqrt(x * (np.heaviside(0.0, x) > 0.5) + 0.0 * x), 0.25, 0.0),
    "sqrt(y * (mod(0, y) > 0.5)) at 1 (0 mod y stays 0)": (
        lambda y: np.sqrt(y * (np.mod(0.0, y) > 0.5)), 1.0, 0.0),
}


@pytest.mark.parametrize("method", ENGINES)
@pytest.mark.parametrize("name", list(KEPT))
def test_steady_steps_keep_their_values(name, method):
    f, x, want = KEPT[name]
    (g,) = dk.grad(f, method=method)(x)
    assert float(g) == want


# ----- 2. the symbolic Hessian through a mask at its threshold --------------------------------

HESSIAN_AT_A_TIE = {
    "where(x > 0, x, 0)**1.5 at 0": (lambda x: np.where(x > 0, x, 0.0) ** 1.5, 0.0),
    "sqrt(x * (x > 0)) at 0": (lambda x: np.sqrt(x * (x > 0)), 0.0),
    "sum(sqrt(where(x > 0, x, 0))) at [0, 1]": (
        lambda x: np.sum(np.sqrt(np.where(x > 0, x, 0.0))), np.array([0.0, 1.0])),
}


def test_the_reference_second_derivative_is_unbounded():
    # f′(h) = 1.5·√h for h > 0, f′(0) = 0 (one-sided): the quotient f′(h)/h = 1.5/√h
    q = _quotients(lambda t: 1.5 * mp.sqrt(max(t, 0)), 0.0)
    assert q[0] > 1e4 and q[2] > 1e19


@pytest.mark.parametrize("method", ["symbolic", "reverse", "forward"])
@pytest.mark.parametrize("name", list(HESSIAN_AT_A_TIE))
def test_a_hessian_through_a_mask_at_its_threshold_is_refused(name, method):
    f, x0 = HESSIAN_AT_A_TIE[name]
    with pytest.raises(dk.NonDifferentiableError):
        dk.hessian(f, method=method)(x0)


@pytest.mark.parametrize("n", [2, 3])
def test_symbolic_derivative_n_through_a_mask_at_its_threshold_is_refused(n):
    with pytest.raises(dk.NonDifferentiableError):
        dk.derivative(lambda x: np.where(x > 0, x, 0.0) ** 1.5, n=n, method="symbolic")(0.0)


@pytest.mark.parametrize("x, want", [(-1.0, 0.0), (1.0, 0.75), (4.0, 0.375)])
def test_the_symbolic_hessian_away_from_the_threshold_is_kept(x, want):
    # by hand: (x^1.5)″ = 0.75/√x for x > 0, 0 left of 0
    H = dk.hessian(lambda x: np.where(x > 0, x, 0.0) ** 1.5, method="symbolic")(x)
    np.testing.assert_array_equal(H, [[want]])


def test_the_symbolic_hessian_with_no_mask_at_its_threshold_keeps_its_flat_zeros():
    # sum(sqrt(where(x > 0, x, 0))) is sqrt(x1) near [-1, 1]: diag(0, -¼·x1^-1.5) by hand
    H = dk.hessian(lambda x: np.sum(np.sqrt(np.where(x > 0, x, 0.0))),
                   method="symbolic")(np.array([-1.0, 1.0]))
    np.testing.assert_array_equal(H, [[0.0, 0.0], [0.0, -0.25]])


# ----- 3. an infinite derivative that sort's ties cannot carry back ----------------------------


@pytest.mark.parametrize("method", ["reverse", "auto", "compiled", "forward"])
def test_sqrt_at_zero_through_sorted_ties_names_sqrt(method):
    def f(x):
        return np.sum(np.sqrt(np.sort(np.concatenate([x, -x]))[1:]))

    with pytest.raises(dk.NonDifferentiableError, match="sqrt is not differentiable"):
        dk.grad(f, method=method)(np.array([0.0, 1.0]))
