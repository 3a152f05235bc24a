"""Second derivatives through sign and heaviside at their jump.

sign(0) = 0 and heaviside(0, h) = h are no side's value (−1 and 1; 0 and 1): a derivative that
multiplies them there is a convention, and differentiated again it gave numbers that are no
branch's — (x·sign x)² = x² has f″ = 2 everywhere, every engine said 0 at 0; heaviside(x, ½)·x²
has no f″ at 0 (0 left, 2 right), every engine said 1. Both are now a NonDifferentiableError
in every engine, as |x|² at 0 already was; first derivatives keep the step's convention (0, as
JAX), and away from the jump the answers are the hand formulas'.
"""

from __future__ import annotations

import numpy as np
import pytest

import diffkit as dk

EXACT = ("reverse", "forward", "symbolic", "compiled")


def x_sign_squared(x):
    return (x * np.sign(x)) ** 2          # = x², f″ = 2


def step_times_square(x):
    return np.heaviside(x, 0.5) * x ** 2  # 0 left of 0, x² right of it


def sign_times_cube(x):
    return np.sign(x) * x ** 3            # = x²|x|, f″ = 6|x|


@pytest.mark.parametrize("method", EXACT)
@pytest.mark.parametrize("f", [x_sign_squared, step_times_square, sign_times_cube, np.sign])
def test_second_derivative_through_the_jump_is_refused(f, method):
    with pytest.raises(dk.NonDifferentiableError):
        dk.hessian(f, method=method)(0.0)


@pytest.mark.parametrize("method", EXACT)
@pytest.mark.parametrize("x", [-0.7, 0.3, 2.5])
def test_second_derivatives_away_from_the_jump_are_the_hand_formulas(method, x):
    assert dk.hessian(x_sign_squared, method=method)(x)[0, 0] == pytest.approx(2.0, rel=1e-14)
    assert dk.hessian(step_times_square, method=method)(x)[0, 0] == pytest.approx(
        2.0 if x > 0 else 0.0, rel=1e-14)
    assert dk.hessian(sign_times_cube, method=method)(x)[0, 0] == pytest.approx(
        6.0 * abs(x), rel=1e-13)


@pytest.mark.parametrize("method", EXACT)
def test_first_derivatives_at_the_jump_keep_the_convention(method):
    # the step's derivative 0 (JAX's, PyTorch's); x·sign x = |x| gets abs′(0) = 0
    assert dk.grad(np.sign, method=method)(0.0)[0] == 0.0
    assert dk.grad(lambda x: np.heaviside(x, 0.5), method=method)(0.0)[0] == 0.0
    assert dk.grad(x_sign_squared, method=method)(0.0)[0] == 0.0


@pytest.mark.parametrize("method", EXACT)
def test_a_fixed_step_argument_is_no_kink(method):
    # heaviside(0, t) = t: the jump is in the first argument, which does not move here
    h = dk.hessian(lambda t: np.heaviside(0.0, t) * t, method=method)(0.7)
    assert h[0, 0] == pytest.approx(2.0, rel=1e-14)
    # sign of a value that is not differentiated is a constant factor
    h = dk.hessian(lambda x, c: np.sign(c) * x ** 2, wrt=0, method=method)(0.4, 0.0)
    assert h[0, 0] == 0.0


@pytest.mark.parametrize("method", EXACT)
def test_the_rules_sign_stays_a_constant(method):
    # abs′ = sign x and maximum's tie split use the rules' own sign: a Huber loss's Hessian at a
    # zero residual (abs only in the branch not taken) and relu's at 1 are as before
    huber = lambda r: np.where(np.abs(r) < 1.0, 0.5 * r ** 2, np.abs(r) - 0.5)
    if method in ("reverse", "compiled"):
        assert dk.hessian(huber, method=method)(0.0)[0, 0] == 1.0
    assert dk.hessian(huber, method=method)(0.3)[0, 0] == 1.0
    assert dk.hessian(lambda x: np.maximum(x, 0.0) ** 2, method=method)(1.0)[0, 0] == 2.0
    assert dk.hessian(lambda x: np.abs(x) ** 3, method=method)(0.5)[0, 0] == pytest.approx(3.0)


@pytest.mark.parametrize("h", [np.nan, np.inf, 0.5])
def test_heavisides_second_argument_is_read_only_at_the_jump(h):
    # the symbolic form read x2 everywhere: with x2 = NaN, NaN·0 folded the derivative of
    # heaviside(x, nan)·x² at 1 to 0 (2 by hand); found in this session's review
    f = lambda x: np.heaviside(x, h) * x ** 2
    for method in EXACT:
        assert dk.grad(f, method=method)(1.0)[0] == 2.0
        assert dk.grad(f, method=method)(-1.0)[0] == 0.0
