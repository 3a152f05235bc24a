"""Hunt 15's differential fuzz of scalar code (10,000 random programs against mpmath): the
silent and bare failures it found. References are hand formulas, never diffkit."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

import diffkit as dk

# ----- a jit gradient first called outside the domain -------------------------------------------


@pytest.mark.parametrize(("f", "bad", "good", "hand"), [
    (lambda x: np.log10(-x), 0.4, -1.86, lambda x: 1.0 / (x * math.log(10.0))),
    (lambda x: np.sqrt(x - 3.0), 1.0, 4.0, lambda x: 0.5 / math.sqrt(x - 3.0)),
])
def test_jit_gradient_first_called_outside_the_domain_is_the_named_error_and_recovers(
        f, bad, good, hand):
    """The first trace froze NaNs at the bad point, whose generated code then failed its own
    check with a bare ValueError — at that call and at every later one, for that signature."""
    gj = dk.grad(dk.jit(f))
    with pytest.raises(dk.DomainError):
        gj(bad)
    assert gj(good)[0] == pytest.approx(hand(good), rel=1e-14)
    assert gj(good)[0] == pytest.approx(hand(good), rel=1e-14)  # later calls: generated code
    jf = dk.jit(f)
    with pytest.raises(dk.DomainError):
        dk.grad(jf)(bad)
    for method in ("reverse", "compiled", "forward"):
        assert dk.grad(jf, method=method)(good)[0] == pytest.approx(hand(good), rel=1e-14)
    _, (g,) = dk.value_and_grad(jf)(good)
    assert g == pytest.approx(hand(good), rel=1e-14)


def test_jit_gradient_at_a_pole_gives_the_named_error_without_warnings():
    """A RuntimeWarning leaked on the way (and replaced the error under warnings-as-errors)."""
    f = dk.jit(lambda x: x / (x - x))
    for mode in ("always", "error"):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter(mode)
            with pytest.raises(dk.DomainError):
                dk.grad(f)(2.0)
            with pytest.raises(dk.DomainError):
                dk.value_and_grad(f)(2.0)
        assert not [w for w in caught if issubclass(w.category, RuntimeWarning)]


# ----- a float64 scalar beside a float32 constant: the partials in float64 ---------------------


@pytest.mark.parametrize(("f", "hand"), [
    (lambda x: np.arctan2(x * 1.0, np.float32(3.0)), lambda x: 3.0 / (x * x + 9.0)),
    (lambda x: np.hypot(x * 1.0, np.float32(3.0)), lambda x: x / math.hypot(x, 3.0)),
    (lambda x: np.power(x * 1.0, np.float32(2.5)), lambda x: 2.5 * x ** 1.5),
    (lambda x: (x * 1.0) ** np.float32(2.5), lambda x: 2.5 * x ** 1.5),
    (lambda x: np.logaddexp(x * 1.0, np.float32(0.25)), lambda x: 1.0 / (1.0 + math.exp(0.25 - x))),
    (lambda x: (x * 1.0) / np.float32(3.0), lambda x: 1.0 / 3.0),
])
@pytest.mark.parametrize("method", ["reverse", "forward", "compiled"])
def test_float32_constant_does_not_round_a_float64_gradient(f, hand, method):
    """x·1.0 makes the traced value a Python float; the rule then met the float32 constant
    under NumPy's weak promotion and ran in float32 (3·10⁻⁸ off in every AD method)."""
    assert dk.grad(f, method=method)(0.42)[0] == pytest.approx(hand(0.42), rel=1e-15)


# ----- second derivatives through 0 ** (negative) on Python floats ------------------------------


@pytest.mark.parametrize("method", ["reverse", "forward"])
def test_second_derivative_through_zero_to_a_negative_power_is_not_a_bare_error(method):
    """(x − x)**1.5 + x: its Hessian rule took 0.0 ** −0.5 on Python floats, a bare
    ZeroDivisionError; now NumPy's infinity, decided by the strong-zero audit: the truth 0 or a
    NonDifferentiableError naming pow."""
    f = lambda x: (x - x) ** 1.5 + x
    try:
        h = dk.hessian(f, method=method)(0.8)
    except dk.NonDifferentiableError as exc:
        assert "pow" in str(exc)
    else:
        assert np.asarray(h).item() == 0.0
