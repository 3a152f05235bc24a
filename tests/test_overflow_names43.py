"""A derivative that is finite in exact arithmetic but too large for float64 is named
NumericOverflowError by every method (hunt 43/r6 findings F4, F5): the decision is that finite
differences refuse where AD refuses, and that "not differentiable" is kept for a derivative
that is infinite in exact arithmetic (sqrt at 0). References: mpmath at 50 digits."""

import warnings

import mpmath as mp
import numpy as np
import pytest

import diffkit as dk
from diffkit.errors import NonDifferentiableError, NumericOverflowError

ALL = ["reverse", "forward", "symbolic", "compiled", "fd-forward", "fd-complex", "fd-central",
       "fd-richardson", "fd"]
BIG = mp.mpf(float(np.finfo(np.float64).max))


def _overflows(d):
    """Whether an exact derivative (an mpmath number) is finite and beyond float64."""
    return mp.isfinite(d) and abs(d) > BIG


@pytest.mark.parametrize("method", ["fd-central", "fd-richardson", "fd"])
def test_central_schemes_refuse_an_overflowing_derivative(method):
    # was: 2.7e10 (central, 'fd': the wrong sign, the points straddle the pole) and 136400.0
    # (richardson), with only a warning that the answer could not be checked
    with mp.workdps(50):  # (1/x)′ = −1/x² by hand, in mpmath: −1e320, finite, beyond float64
        assert _overflows(-1 / mp.mpf(1e-160) ** 2)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no number with a warning: the error
        with pytest.raises(NumericOverflowError, match="overflows"):
            dk.grad("1/x", method=method)(1e-160)
        with pytest.raises(NumericOverflowError, match="overflows"):
            dk.grad(lambda x: 1 / x, method=method)(1e-160)


@pytest.mark.parametrize("method", ALL)
def test_every_method_names_the_overflow_of_a_finite_derivative(method):
    # 1/x² at 1e-110: −2e330 in exact arithmetic. Was NonDifferentiableError (reverse, forward,
    # symbolic, compiled, fd-central, fd-richardson, 'fd'), NotRepeatableError (fd-complex)
    with mp.workdps(50):  # (x⁻²)′ = −2/x³ by hand, in mpmath
        assert _overflows(-2 / mp.mpf(1e-110) ** 3)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(NumericOverflowError, match="overflows"):
            dk.grad("1/x^2", method=method)(1e-110)


@pytest.mark.parametrize("method", ["reverse", "forward", "fd-central", "fd-complex"])
def test_python_function_overflow_is_named_too(method):
    with pytest.raises(NumericOverflowError):
        dk.grad(lambda x: 1 / x**2, method=method)(1e-110)


def test_forward_jvp_and_jacobian_name_it():
    with pytest.raises(NumericOverflowError):
        dk.jvp("1/x^2", (1e-110,), (1.0,))
    with pytest.raises(NumericOverflowError):
        dk.jacobian("1/x^2", method="forward")(1e-110)


@pytest.mark.parametrize("method", ["reverse", "forward", "symbolic", "compiled"])
def test_an_infinite_derivative_stays_not_differentiable(method):
    # sqrt′ = 1/(2√t) is unbounded as t → 0⁺ (mpmath: beyond any float at t = 1e-1000):
    # infinite in exact arithmetic at 0, not an overflow
    with mp.workdps(50):
        assert 1 / (2 * mp.sqrt(mp.mpf("1e-1000"))) > BIG
    with pytest.raises(NonDifferentiableError):
        dk.grad("sqrt(x)", method=method)(0.0)


@pytest.mark.parametrize("method", ["reverse", "forward", "symbolic", "compiled"])
def test_a_large_representable_derivative_is_answered(method):
    # 1/x at 1e-150: −1e300 fits float64 and is answered (no refusal by size)
    with mp.workdps(50):
        exact = -1 / mp.mpf(1e-150) ** 2
    (got,) = dk.grad("1/x", method=method)(1e-150)
    assert float(got) == pytest.approx(float(exact), rel=1e-13)
