"""Trust: the symbolic path on a negative constant base and on constants below the float range.

(−2)^y is real only at whole-number y, so it has no derivative in y on the reals: the forward and
reverse engines refuse it, but SymPy folded ln(−2) to ln 2 + iπ at derivation, so
method='symbolic' gave Re((−8)(ln 2 + iπ)) = −5.545 as the gradient. from_sympy turned a nonzero
constant below the float range (10**−330, exp(−800)) into 0 without a word, where dk.parse refuses
the same number by name."""

from __future__ import annotations

import math

import pytest

import diffkit as dk

sp = pytest.importorskip("sympy")


@pytest.mark.parametrize("text", ["(-2)^y", "(-0.5)^y", "(-1)^y", "y^2*(-3)^y"])
@pytest.mark.parametrize("method", ["symbolic", "forward", "reverse"])
def test_negative_constant_base_has_no_derivative_in_the_exponent(text: str, method: str) -> None:
    f = dk.parse(text)
    for call in (dk.derivative, dk.grad, dk.hessian):
        with pytest.raises(dk.NonDifferentiableError):
            call(f, method=method)(3.0)


def test_positive_constant_base_still_differentiates() -> None:
    f = dk.parse("2^y")
    assert dk.derivative(f, method="symbolic")(3.0) == pytest.approx(8 * math.log(2), rel=1e-14)
    assert dk.derivative(f, n=2, method="symbolic")(3.0) == pytest.approx(
        8 * math.log(2) ** 2, rel=1e-14)


@pytest.mark.parametrize("constant", [sp.Rational(1, 10**330), sp.exp(-800)],
                         ids=["1e-330", "exp(-800)"])
def test_from_sympy_refuses_a_constant_that_would_be_zero(constant: object) -> None:
    x = sp.Symbol("x")
    with pytest.raises(dk.ParseError, match="too small for a float"):
        dk.from_sympy(sp.exp(x) * constant)


def test_from_sympy_keeps_small_representable_constants_and_exact_zero() -> None:
    x = sp.Symbol("x")
    assert dk.from_sympy(x * sp.Rational(1, 10**300))(2.0) == pytest.approx(2e-300, rel=1e-15)
    assert dk.from_sympy(x + sp.sin(sp.pi))(2.0) == 2.0  # sin(π) is exactly 0
