"""Finite differences (fix 40D): a derivative the AD engines refuse as not defined is refused by
the difference quotients too; step= is validated as what it is; a forward difference at a
complex input evaluates f(x) once."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import diffkit as dk

FD = ("fd", "fd-central", "fd-forward", "fd-richardson")

#: x² for x > 0, 0 for x < 0: one-sided second derivatives 0 and 2 at 0, so no f″(0)
STEP_SQUARE = "heaviside(x, 0.5)*x^2"


@pytest.mark.parametrize("method", FD)
def test_second_derivative_that_does_not_exist_is_refused(method: str) -> None:
    f = dk.parse(STEP_SQUARE)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a refusal, not a number with a warning
        with pytest.raises(dk.NonDifferentiableError, match="may not exist"):
            dk.derivative(f, n=2, method=method)(0.0)
        with pytest.raises(dk.NonDifferentiableError, match="Hessian"):
            dk.hessian(f, method=method)(0.0)


def test_fd_complex_hessian_refused_too() -> None:
    with pytest.raises(dk.NonDifferentiableError, match="may not exist"):
        dk.hessian(dk.parse(STEP_SQUARE), method="fd-complex")(0.0)


@pytest.mark.parametrize("method", FD)
def test_second_derivative_off_the_kink_still_answers(method: str) -> None:
    # f″ = 2 for x > 0, 0 for x < 0 (hand formula)
    f = dk.parse(STEP_SQUARE)
    assert float(dk.derivative(f, n=2, method=method)(0.5)) == pytest.approx(2.0, rel=1e-3)
    assert float(dk.derivative(f, n=2, method=method)(-0.5)) == pytest.approx(0.0, abs=1e-3)
    assert float(np.asarray(dk.hessian(f, method=method)(0.5)).item()) == \
        pytest.approx(2.0, rel=1e-3)


@pytest.mark.parametrize("method", ("fd", "fd-central", "fd-richardson"))
def test_first_derivative_that_does_not_exist_is_refused(method: str) -> None:
    # sqrt(x²) = |x|: one-sided derivatives −1 and 1 at 0; the AD engines refuse (0·∞), and
    # the central quotient's 0 came with a warning only
    f = dk.parse("sqrt(x^2)")
    with pytest.raises(dk.NonDifferentiableError, match="may not exist"):
        dk.derivative(f, method=method)(0.0)
    with pytest.raises(dk.NonDifferentiableError, match="may not exist"):
        dk.grad(f, method=method)(0.0)


@pytest.mark.parametrize("method", FD)
def test_first_derivative_conventions_kept(method: str) -> None:
    # where AD answers a documented convention, finite differences keep answering:
    # abs′(0) = 0 and heaviside(x, ½)·x at 0 (one-sided 0 and 1: ½) by central quotients
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # fd-forward's one-sided quotient warns
        a = float(dk.derivative(dk.parse("abs(x)"), method=method)(0.0))
        h = float(dk.derivative(dk.parse("heaviside(x, 0.5)*x"), method=method)(0.0))
    if method == "fd-forward":
        assert (a, h) == pytest.approx((1.0, 1.0))
    else:
        assert (a, h) == pytest.approx((0.0, 0.5), abs=1e-9)


def test_explicit_step_stays_the_users_choice() -> None:
    f = dk.parse(STEP_SQUARE)
    # (f(h) − 2f(0) + f(−h))/h² = 1 for any h: the quotient as asked for
    assert float(dk.derivative(f, n=2, method="fd", step=1e-3)(0.0)) == pytest.approx(1.0)
    assert float(dk.derivative(dk.parse("sqrt(x^2)"), method="fd", step=1e-3)(0.0)) == \
        pytest.approx(0.0, abs=1e-12)


def test_compare_shows_the_refusal_as_an_error_row() -> None:
    table = dk.compare("sqrt(x^2)", 0.0, methods=["fd", "reverse"])
    fd, reverse = table.rows
    assert fd.value is None or fd.skipped
    assert "NonDifferentiableError" in str(fd.skipped)
    assert "NonDifferentiableError" in str(reverse.skipped)


@pytest.mark.parametrize("step", ["1e-3", (1e-3, 1e-3), np.array([1e-3, 1e-3]), 0.0, -1e-3,
                                  float("nan"), float("inf"), True, 1e-3 + 0j])
def test_bad_step_is_named(step: object) -> None:
    with pytest.raises(ValueError, match=r"step= must be one positive finite real number") as info:
        dk.grad(lambda x, y: x * y, method="fd", step=step)(1.0, 2.0)
    assert "does not take the option" not in str(info.value)


@pytest.mark.parametrize("step", [1e-3, 1, np.float32(1e-3), np.array(1e-3)])
def test_good_step_accepted(step: object) -> None:
    gx, gy = dk.grad(lambda x, y: x * y, method="fd", step=step)(1.0, 2.0)
    assert (float(gx), float(gy)) == pytest.approx((2.0, 1.0), rel=1e-6)


def test_forward_difference_at_complex_input_evaluates_f_once_at_the_point() -> None:
    calls = [0]

    def f(z):  # |z|², whose gradient (JAX's convention ∂f/∂x − i·∂f/∂y) is 2x − 2iy
        calls[0] += 1
        return np.abs(z) ** 2

    def count(x: object) -> int:
        calls[0] = 0
        dk.grad(f, method="fd-forward")(x)
        return calls[0]

    real, cplx = count(1.5), count(1.0 + 2.0j)
    # a trace, a plain call (reused as f(x)), and one step per axis stepped
    assert cplx == real + 1
    g = dk.grad(f, method="fd-forward")(1.0 + 2.0j)
    assert complex(np.asarray(g[0] if isinstance(g, tuple) else g)) == \
        pytest.approx(2.0 - 4.0j, rel=1e-6)


def test_a_step_beyond_a_float_is_the_named_step_error():
    """step=10**400 was a bare OverflowError (a hunt of this stop's changes)."""
    with pytest.raises(ValueError, match="step= must be one positive finite real number"):
        dk.grad(np.sin, method="fd", step=10**400)(1.0)


def test_where_the_ad_engines_refuse_the_quotient_is_refused_not_judged_by_its_sides():
    """One-sided quotients cannot certify a derivative: at |x|'' (0) both sides are exactly 0,
    at cbrt' (0) both grow as the step shrinks, yet neither exists (by hand). Refused by
    default steps; an explicit step takes the quotient as asked."""
    for f, n in ((np.abs, 2), (np.cbrt, 1), (lambda x: np.abs(x) ** 3, 4)):
        for method in ("fd", "fd-forward", "fd-central", "fd-richardson"):
            with pytest.raises(dk.NonDifferentiableError, match="may not exist"):
                dk.derivative(f, n, method=method)(0.0)
    with pytest.raises(dk.NonDifferentiableError, match="may not exist"):
        dk.hessian(lambda v: np.abs(v[0]) * np.abs(v[1]), method="fd")(np.zeros(2))
    assert dk.grad(lambda x: np.cbrt(x ** 3), method="fd", step=1e-6)(0.0)[0] == \
        pytest.approx(1.0, rel=1e-9)
