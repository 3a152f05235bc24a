"""Finite differences (fix 40D2): where the AD reference refuses with NonDifferentiableError (its
own 0·∞, a kink differentiated again), the one-sided differences decide whether the derivative
exists — answered where they agree, refused where they differ. True values by hand."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import diffkit as dk
from diffkit.engines import FiniteDifferenceEngine

FD = ("fd", "fd-central", "fd-forward", "fd-richardson")


def _quiet(thunk):
    """The answer; its 'could not be checked' warning (as before the AD refusal was consulted)
    is not what these tests are about."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = thunk()
    return np.asarray(out[0] if isinstance(out, tuple) and len(out) == 1 else out, dtype=float)


#: (name, f, derivative at 0 by hand, tolerance: the scheme's own truncation error)
FIRST = [
    ("cbrt(x**3)", lambda x: np.cbrt(x**3), 1.0, 1e-6),            # = x
    ("x*sqrt|x|", lambda x: x * np.sqrt(np.abs(x)), 0.0, 5e-3),     # |f(h)/h| = √h → 0
    ("sqrt(x**4)", lambda x: np.sqrt(x**4), 0.0, 1e-6),             # = x²
    ("sqrt(x**2)**2", lambda x: np.sqrt(x**2) ** 2, 0.0, 1e-6),     # = x²
    ("sin(sqrt(x**2))**2", lambda x: np.sin(np.sqrt(x**2)) ** 2, 0.0, 1e-6),  # = sin²|x|
    ("x**3*sqrt|x|", lambda x: x**3 * np.sqrt(np.abs(x)), 0.0, 1e-6),
]


@pytest.mark.parametrize("method", FD)
@pytest.mark.parametrize(("name", "f", "true", "tol"), FIRST, ids=[c[0] for c in FIRST])
def test_first_derivative_that_exists_is_answered(name, f, true, tol, method: str) -> None:
    assert float(_quiet(lambda: dk.grad(f, method=method)(0.0))) == pytest.approx(true, abs=tol)
    assert float(_quiet(lambda: dk.derivative(f, method=method)(0.0))) == \
        pytest.approx(true, abs=tol)


@pytest.mark.parametrize("f", [lambda x: np.sqrt(x**4), lambda x: np.sqrt(x**2) ** 2,
                               lambda x: np.sin(np.sqrt(x**2)) ** 2])
def test_complex_step_answers_where_it_applies(f) -> None:
    # x², x², sin²|x| near 0: derivative 0 (the complex step's exact 0, as before the refusal)
    assert float(_quiet(lambda: dk.grad(f, method="fd-complex")(0.0))) == 0.0


@pytest.mark.parametrize("method", FD)
def test_second_derivatives_that_exist_are_answered(method: str) -> None:
    # sqrt(x²)² = x²: f″ = 2; |x|³ and x²|x|: f″ = 6|x| = 0 at 0
    assert float(_quiet(lambda: dk.derivative(lambda x: np.sqrt(x**2) ** 2, 2,
                                              method=method)(0.0))) == pytest.approx(2.0, 1e-4)
    for f in (lambda x: np.abs(x) ** 3, lambda x: x**2 * np.abs(x)):
        assert float(_quiet(lambda f=f: dk.derivative(f, 2, method=method)(0.0))) == \
            pytest.approx(0.0, abs=1e-3)


@pytest.mark.parametrize("method", (*FD, "fd-complex"))
def test_hessians_that_exist_are_answered(method: str) -> None:
    # Σ|xᵢ|³: diag(6|xᵢ|); ‖x‖³ at 0: 0 (its Hessian 3(‖x‖I + xxᵀ/‖x‖) → 0); the stable
    # logsumexp at a tie: diag(p) − ppᵀ with p = softmax(0) = (½, ½)
    cube = _quiet(lambda: dk.hessian(lambda x: np.sum(np.abs(x) ** 3), method=method)(
        np.array([0.0, 1.0])))
    assert cube == pytest.approx(np.array([[0.0, 0.0], [0.0, 6.0]]), abs=1e-3)
    norm3 = _quiet(lambda: dk.hessian(lambda x: np.sqrt(x[0] ** 2 + x[1] ** 2) ** 3,
                                      method=method)(np.zeros(2)))
    assert norm3 == pytest.approx(np.zeros((2, 2)), abs=1e-3)
    lse = _quiet(lambda: dk.hessian(
        lambda x: np.max(x) + np.log(np.sum(np.exp(x - np.max(x)))), method=method)(np.zeros(2)))
    assert lse == pytest.approx(np.array([[0.25, -0.25], [-0.25, 0.25]]), abs=1e-4)


@pytest.mark.parametrize("method", (*FD, "fd-complex"))
def test_norm_cubed_gradient_at_zero(method: str) -> None:
    # ‖x‖³: gradient 3‖x‖x = 0 at 0
    g = _quiet(lambda: dk.grad(lambda x: np.sqrt(x[0] ** 2 + x[1] ** 2) ** 3, method=method)(
        np.zeros(2)))
    assert g == pytest.approx(np.zeros(2), abs=1e-9)


@pytest.mark.parametrize("method", FD)
def test_kinks_still_refused_with_both_sides(method: str) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a refusal, not a number with a warning
        # heaviside(x, ½)·x²: one-sided f″ 2 and 0
        f = dk.parse("heaviside(x, 0.5)*x^2")
        with pytest.raises(dk.NonDifferentiableError, match=r"does not exist.*2 from above "
                                                              r".* and 0 from below"):
            dk.derivative(f, n=2, method=method)(0.0)
        with pytest.raises(dk.NonDifferentiableError, match=r"Hessian does not exist"):
            dk.hessian(f, method=method)(0.0)
        # sin(x)·|x|: one-sided f″ ±2
        with pytest.raises(dk.NonDifferentiableError, match=r"2 from above .* -2 from below"):
            dk.derivative(lambda x: np.sin(x) * np.abs(x), 2, method=method)(0.0)


@pytest.mark.parametrize("method", (*FD, "fd-complex"))
@pytest.mark.parametrize("x", [0.0, 1e-200])
def test_abs_through_sqrt_refused(method: str, x: float) -> None:
    # sqrt(x²) = |x| at 0: one-sided ±1; at 1e-200, x² underflows and |x| is within the step:
    # the quotient said 0 where the derivative is 1 (and fd-complex said 1 at 0 with a warning)
    with pytest.raises(dk.NonDifferentiableError):
        _quiet(lambda: dk.grad(lambda x: np.sqrt(x**2), method=method)(x))


def test_refusal_names_both_sides_and_the_entry() -> None:
    with pytest.raises(dk.NonDifferentiableError, match=r"1 from above.*-1 from below"):
        dk.grad(lambda x: np.sqrt(x**2), method="fd")(0.0)
    with pytest.raises(dk.NonDifferentiableError, match=r"entry \[0, 1\].*1 from above"):
        dk.hessian(lambda x: np.abs(x[0]) * x[1], method="fd")(np.zeros(2))


def test_one_sided_evaluations_only_where_ad_refuses() -> None:
    calls = [0]

    def f(x):  # cbrt(x³) = x
        calls[0] += 1
        return np.cbrt(x**3)

    def count(x: float) -> int:
        calls[0] = 0
        _quiet(lambda: dk.grad(f, method="fd")(x))
        return calls[0]

    smooth, refused = count(2.0), count(0.0)
    assert refused == smooth + 2  # one forward and one backward point, counted
    engine = FiniteDifferenceEngine()
    _quiet(lambda: dk.grad(f, method=engine)(0.0))
    assert engine.evaluations == refused


def test_huge_step_is_a_value_error() -> None:
    with pytest.raises(ValueError, match=r"step= must be one positive finite real number"):
        dk.grad(np.sin, method="fd", step=10**400)(1.0)
