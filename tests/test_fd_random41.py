"""Finite differences of a function that draws at every call but repeats its value at the point.

f(x) = (x − 1)·u + 3 with a fresh u at each call gives 3 at x = 1 for every draw, so the
repeatability check at x passed, and each stencil point was another draw's function: fd-central
answered 0.5 for derivatives in {0, 1} silently (step=1e-6), and hand-written dropout at zero
weights gave a gradient that is no mask's, with a warning that blamed the step. Now a Python
function is called twice at one point the quotient uses (a NotRepeatableError where the two
disagree), and a warning that the answer lies far from the trace's derivative first repeats that
check twice more. References are hand formulas, never diffkit."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

import diffkit as dk
from diffkit.engines.finite import FiniteDifferenceEngine

FD = ("fd", "fd-forward", "fd-central", "fd-richardson", "fd-complex")

RNG = np.random.default_rng(0)
X = RNG.normal(size=(8, 3))
Y = RNG.normal(size=8)


def _warned(thunk) -> tuple[object, list[str]]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        value = thunk()
    return value, [str(w.message) for w in caught]


def scaled(x):
    """(x − 1)·u + 3, u ~ uniform(1, 2) drawn at each call: 3 at x = 1 for every draw."""
    return (x - 1.0) * np.random.uniform(1.0, 2.0) + 3.0


def dropout(w):
    """A loss with a continuous dropout-like mask drawn at each call: sum(y²) at w = 0 always."""
    mask = np.random.uniform(0.5, 1.5, size=8)
    return np.sum((mask * (X @ w) - Y) ** 2)


def squared(x):
    """Σ u·(x − 1)² + 3: 3 at x = 1 for every draw; its Hessian there is 2u·I for one draw."""
    return np.sum(np.random.uniform(1.0, 2.0) * (x - 1.0) ** 2) + 3.0


@pytest.mark.parametrize("method", FD)
@pytest.mark.parametrize("step", [None, 1e-6, 1e-9])
def test_a_draw_at_every_call_is_refused_at_a_stencil_point(method: str, step) -> None:
    np.random.seed(0)
    options = {} if step is None else {"step": step}
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # an error, not a warning that blames the step
        with pytest.raises(dk.NotRepeatableError, match="called again at a"):
            dk.grad(scaled, method=method, **options)(1.0)


@pytest.mark.parametrize("method", FD)
def test_dropout_at_zero_weights_is_refused(method: str) -> None:
    np.random.seed(1)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(dk.NotRepeatableError, match="differs between calls"):
            dk.grad(dropout, method=method)(np.zeros(3))


def test_dropout_with_an_explicit_small_step_is_refused() -> None:
    """Following the old warning's advice (step=1e-9) returned the same wrong gradient."""
    np.random.seed(1)
    with pytest.raises(dk.NotRepeatableError):
        dk.grad(dropout, method="fd", step=1e-9)(np.zeros(3))


@pytest.mark.parametrize("method", ["fd", "fd-forward", "fd-richardson"])
def test_a_hessian_by_fd_of_a_drawing_function_is_refused(method: str) -> None:
    np.random.seed(2)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(dk.NotRepeatableError):
            dk.hessian(squared, method=method)(np.ones(2))


@pytest.mark.parametrize("method", ["fd", "fd-forward", "fd-richardson"])
def test_a_second_derivative_by_fd_of_a_drawing_function_is_refused(method: str) -> None:
    np.random.seed(3)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(dk.NotRepeatableError):
            dk.derivative(squared, n=2, method=method)(1.0)


def test_a_black_box_that_draws_is_refused() -> None:
    """float(x) makes f untraceable: it had no repeatability check at all."""
    np.random.seed(4)
    f = lambda x: (float(x) - 1.0) * np.random.uniform(1.0, 2.0) + 3.0
    with pytest.raises(dk.NotRepeatableError):
        dk.grad(f, method="fd", step=1e-6)(1.0)


def _stateful(changes: dict[int, float]):
    """(x − 1)·c + 3 where c is 1 except at the calls numbered in `changes`: state, not a draw,
    so the order of calls decides. fd-central at x = 1 calls it: 1 trace, 2 plain check at x,
    3–4 the stencil-point check, 5 x + h, 6 x − h, then 7–10 the re-checks before a warning."""
    calls = [0]

    def f(x):
        calls[0] += 1
        return (x - 1.0) * changes.get(calls[0], 1.0) + 3.0

    return f


def test_a_warning_that_blames_the_step_rechecks_and_refuses() -> None:
    # the two stencil points differ (0.5 for a derivative of 1), and the re-check at call 8 too
    f = _stateful({6: 0.0, 8: 0.0})
    with pytest.raises(dk.NotRepeatableError, match="called again at a point the quotient uses"):
        dk.grad(f, method="fd-central")(1.0)


def test_a_warning_whose_rechecks_agree_names_calls_that_differ() -> None:
    f = _stateful({6: 0.0})  # only x − h saw another function
    value, messages = _warned(lambda: dk.grad(f, method="fd-central")(1.0))
    assert value[0] == pytest.approx(0.5, rel=1e-6)  # the mixed quotient, now warned about
    assert len(messages) == 1 and "differs between calls (random draws, state)" in messages[0]


# ----- guards: what repeats answers as before -----------------------------------------------


@pytest.mark.parametrize("method", FD)
def test_a_deterministic_python_function_answers_without_a_warning(method: str) -> None:
    f = lambda x: np.sum(np.sin(x) * x[::-1]) + 3.0
    x = np.array([0.3, -1.2, 2.0])
    exact = np.cos(x) * x[::-1] + np.sin(x[::-1])  # d/dxᵢ Σ sin(xⱼ)·x₍₂₋ⱼ₎
    value, messages = _warned(lambda: dk.grad(f, method=method)(x)[0])
    assert not messages
    np.testing.assert_allclose(value, exact, rtol=1e-5)


def test_a_function_that_draws_but_repeats_its_value_answers() -> None:
    def f(x):
        np.random.uniform()  # drawn, not used: the same function at every call
        return x**3

    np.random.seed(5)
    value, messages = _warned(lambda: dk.grad(f, method="fd", step=1e-6)(2.0)[0])
    assert not messages and value == pytest.approx(12.0, rel=1e-8)


def test_the_ad_methods_differentiate_one_draw() -> None:
    np.random.seed(6)
    d = dk.grad(scaled, method="reverse")(1.0)[0]
    assert 1.0 <= d <= 2.0


def test_a_pure_function_pays_no_extra_evaluations() -> None:
    f = dk.parse("ln(x1) + x1*x2 - sin(x2)")
    engine = FiniteDifferenceEngine("central")
    engine.jacobian(f, [2.0, 5.0], [0, 1])  # (the first call per signature traces once more)
    engine.evaluations = 0
    _, jac = engine.jacobian(f, [2.0, 5.0], [0, 1])
    assert engine.evaluations == 2 * 2 + 1  # the value and 2n steps, as before
    np.testing.assert_allclose(np.ravel(jac), [1 / 2.0 + 5.0, 2.0 - math.cos(5.0)], rtol=1e-8)


def test_a_python_function_pays_two_evaluations_at_one_stencil_point() -> None:
    calls = [0]

    def f(a, b):
        calls[0] += 1
        return np.log(a) + a * b - np.sin(b)

    engine = FiniteDifferenceEngine("central")
    _, jac = engine.jacobian(dk.function(f), [2.0, 5.0], [0, 1])
    # the trace, the plain call at x, two calls at a stencil point, 2n steps
    assert calls[0] == engine.evaluations == 1 + 1 + 2 + 2 * 2
    np.testing.assert_allclose(np.ravel(jac), [1 / 2.0 + 5.0, 2.0 - math.cos(5.0)], rtol=1e-8)


def test_a_domain_edge_below_the_point_stays_out_of_reach() -> None:
    """fd-forward steps up only: the check's point is x + h, never x − h (log at 1e-10)."""
    value, _ = _warned(lambda: dk.grad(lambda x: np.log(x), method="fd-forward")(1e-10)[0])
    assert np.isfinite(value)
