"""Finite differences that span what they cannot resolve are a warning, not a silent number
(stop 38's hunts of the finite-difference engine).

A first derivative by default steps is compared with the derivative of the operations traced
at the point (no evaluation of f added): 1/x at 1e-6, whose central step of 6e-6 spans the
pole, answered +2.8e10 for −1e12 (the wrong sign); a jump within the step (floor at 2, abs
beside 1e-8) gave numbers of size 1/h; a feature narrower than the step (tanh(1e21·x) at 0;
sin at 1e8 by Richardson's 0.05·|x|) an error estimate of 0; a one-sided step along a domain
edge (log at 1e-10) 97 % off — all without a word. A Richardson Hessian at |x| = 1e6 settled
its estimate in x's units against max(1, |H|), so a wrong answer near 0 passed, and a
finite-difference derivative at an array x took any f of x's shape for an element-wise one
(x[::-1]**2 answered [18, 4, 0.67]). References are hand formulas."""

from __future__ import annotations

import math
import subprocess
import sys
import warnings

import numpy as np
import pytest

import diffkit as dk
from diffkit.errors import ShapeError

FAR = "lies far from the derivative of the operations traced"


def _warned(thunk) -> tuple[object, list[str]]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        value = thunk()
    return value, [str(w.message) for w in caught]


@pytest.mark.parametrize(("label", "thunk", "exact"), [
    ("1/x across its pole", lambda: dk.grad(dk.parse("1/x"), method="fd")(1e-6)[0], -1e12),
    ("a jump at the point", lambda: dk.grad(dk.parse("x*floor(x)"), method="fd")(2.0)[0], 2.0),
    ("a feature narrower than the step",
     lambda: dk.grad(dk.parse("tanh(x*1e21)"), method="fd")(0.0)[0], 1e21),
    ("a one-sided step along a domain edge",
     lambda: dk.derivative(dk.function(lambda x: dk.log(x)), method="fd-forward")(1e-10), 1e10),
    ("Richardson's 0.05·|x| at 1e8",
     lambda: dk.derivative(lambda x: np.sin(x), method="fd-richardson")(1e8), math.cos(1e8)),
    ("Richardson over a narrow bump",
     lambda: dk.derivative(lambda x: np.exp(-(x - 1e6) ** 2), method="fd-richardson")(1e6 + 0.5),
     -math.exp(-0.25)),
    ("the complex step at |x| below its step",
     lambda: dk.grad(dk.parse("x^x"), method="fd-complex")(1e-300)[0],
     (1e-300) ** 1e-300 * (math.log(1e-300) + 1)),
    ("a kink beside the point", lambda: dk.grad(lambda a: np.abs(a), method="fd")(1e-8)[0], 1.0),
    ("a traced branch", lambda: dk.grad(lambda x: x ** 2 if x > 1 else 5 * x, method="fd")(1.0)[0],
     5.0),
])
def test_a_quotient_far_from_the_derivative_warns(label, thunk, exact):
    value, messages = _warned(thunk)
    assert abs(value - exact) > 1e-3 * max(1.0, abs(exact))  # (the answer itself is wrong)
    assert any(FAR in m for m in messages), (label, value, messages)


def test_array_paths_warn_and_name_the_entries():
    x = np.array([1e-8, 1 + 1e-7, 0.5])
    f = lambda a: np.abs(a) + 3 * np.floor(a) + np.maximum(a - 0.5 - 1e-9, 0)
    _, messages = _warned(lambda: dk.jacobian(f, method="fd")(x))
    assert any(FAR in m for m in messages)
    _, messages = _warned(lambda: dk.jvp(np.floor, (np.array([1.0, -2.0, 3.0]),),
                                         (np.ones(3),), method="fd"))
    assert any(FAR in m and "3 of 3 entries" in m for m in messages)
    _, pull = dk.vjp(lambda a: 1 / a, np.array([1e-6, 1.0]), method="fd")
    _, messages = _warned(lambda: pull(np.ones(2)))
    assert any(FAR in m for m in messages)


@pytest.mark.parametrize(("thunk", "exact"), [
    (lambda: dk.grad(dk.parse("sin(x)"), method="fd")(1.0), (math.cos(1.0),)),
    (lambda: dk.grad(dk.parse("exp(x)"), method="fd")(20.0), (math.exp(20.0),)),
    (lambda: dk.grad(dk.parse("exp(x)"), method="fd-forward")(20.0), (math.exp(20.0),)),
    (lambda: dk.grad(dk.parse("x^2"), method="fd")(0.0), (0.0,)),
    (lambda: dk.grad(dk.parse("abs(x)"), method="fd")(0.0), (0.0,)),  # both sides: 0
    (lambda: dk.grad(dk.parse("ln(x1) + x1*x2 - sin(x2)"), method="fd")(2.0, 5.0),
     (5.5, 2.0 - math.cos(5.0))),
    (lambda: dk.grad(dk.parse("sin(x)"), method="fd-complex")(1.0), (math.cos(1.0),)),
    (lambda: dk.grad(dk.parse("sin(x)"), method="fd-richardson")(1.0), (math.cos(1.0),)),
    (lambda: dk.derivative(lambda x: np.sin(x), method="fd")(np.array([0.0, 1.0, 2.0])),
     np.cos([0.0, 1.0, 2.0])),
    (lambda: dk.grad(dk.parse("1/x"), method="fd", step=1e-9)(1e-6), (-1e12,)),
])
def test_smooth_functions_answer_without_a_word(thunk, exact):
    value, messages = _warned(thunk)
    assert not messages
    np.testing.assert_allclose(np.asarray(value, dtype=float), np.asarray(exact), rtol=1e-4)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("method", ["fd", "fd-forward", "fd-richardson", "fd-complex"])
def test_vector_functions_in_both_precisions_answer_without_a_word(method, dtype):
    x = np.linspace(0.1, 3.0, 40).astype(dtype)
    value, messages = _warned(lambda: dk.grad(lambda a: np.sum(np.sin(a) * a), method=method)(x))
    assert not [m for m in messages if FAR in m]  # (float32's Richardson may not settle)
    want = np.sin(x.astype(float)) + x.astype(float) * np.cos(x.astype(float))
    np.testing.assert_allclose(np.asarray(value[0], dtype=float), want,
                               rtol=1e-6 if dtype == np.float64 else 2e-2,
                               atol=1e-6 if dtype == np.float64 else 5e-2)


def test_an_explicit_step_is_used_as_given():
    value, messages = _warned(lambda: dk.grad(dk.parse("1/x"), method="fd", step=6e-6)(1e-6))
    assert not messages and value[0] > 0  # the step across the pole, as asked


def test_the_check_evaluates_nothing_more():
    from diffkit.engines.finite import FiniteDifferenceEngine

    f = dk.parse("ln(x1) + x1*x2 - sin(x2)")
    engine = FiniteDifferenceEngine("central")
    engine.jacobian(f, [2.0, 5.0], [0, 1])  # (the first call per signature traces once more)
    engine.evaluations = 0
    engine.jacobian(f, [2.0, 5.0], [0, 1])
    assert engine.evaluations == 2 * 2 + 1


def test_a_pure_function_is_checked_at_every_call():
    g = dk.grad(dk.parse("1/x"), method="fd")
    for _ in range(2):
        _, messages = _warned(lambda: g(1e-6))
        assert any(FAR in m for m in messages)


def test_the_cli_prints_the_warning_as_one_line():
    run = subprocess.run([sys.executable, "-m", "diffkit", "grad", "1/x", "--at", "x=1e-6",
                          "--method", "fd"], check=False, capture_output=True, text=True,
                         timeout=120)
    lines = [ln for ln in run.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("diffkit grad: warning: finite differences")


def test_a_richardson_hessian_settles_in_the_steps_units():
    """sin(x)·y at (1e6, 1): H = [[−sin 1e6, cos 1e6], [cos 1e6, 0]]; 0.05·1e6 steps average
    the oscillation away, which the estimate in x's units hid."""
    h, messages = _warned(lambda: dk.hessian(lambda x, y: np.sin(x) * y,
                                             method="fd-richardson")(1e6, 1.0))
    assert abs(h[0][1] - math.cos(1e6)) > 0.5  # wrong ...
    assert any("did not settle" in m or FAR in m for m in messages)  # ... and said so

    def f(x, y):
        return np.exp(x * y) + x ** 3 * np.sin(y)

    x, y = 0.7, 1.3
    exact = np.array([[y * y * math.exp(x * y) + 6 * x * math.sin(y),
                       math.exp(x * y) * (1 + x * y) + 3 * x * x * math.cos(y)],
                      [0.0, x * x * math.exp(x * y) - x ** 3 * math.sin(y)]])
    exact[1, 0] = exact[0, 1]
    for point, want in [((0.7, 1.3), exact),
                        ((1e4, 3e-3), np.array([[2 * 9e-6, 4 * 1e4 * 3e-3],
                                                [4 * 1e4 * 3e-3, 2 * 1e8]]))]:
        g = f if point == (0.7, 1.3) else (lambda x, y: x ** 2 * y ** 2)
        h, messages = _warned(lambda g=g, point=point: dk.hessian(
            g, method="fd-richardson")(*point))
        assert not messages
        np.testing.assert_allclose(np.asarray(h, dtype=float), want, rtol=1e-8, atol=1e-8)


@pytest.mark.parametrize("method", ["fd", "fd-forward", "fd-richardson", "fd-complex"])
@pytest.mark.parametrize("f", [lambda x: x[::-1] ** 2, lambda x: np.cumsum(x ** 2),
                               lambda x: x * np.sum(x)], ids=["reversed", "cumsum", "x*sum"])
def test_a_derivative_at_an_array_needs_an_element_wise_function(method, f):
    with pytest.raises(ShapeError, match="element-wise"):
        dk.derivative(f, method=method)(np.array([1.0, 2.0, 3.0]))


def test_a_second_derivative_at_an_array_needs_an_element_wise_function():
    with pytest.raises(ShapeError, match="element-wise"):
        dk.derivative(lambda x: np.cumsum(x ** 3), 2, method="fd")(np.array([1.0, 2.0]))
    x = np.array([0.5, 1.5])
    got = dk.derivative(lambda a: np.sin(a) * a, 2, method="fd-richardson")(x)
    np.testing.assert_allclose(got, 2 * np.cos(x) - x * np.sin(x), rtol=1e-7)


@pytest.mark.parametrize("method", ["fd", "fd-forward", "fd-richardson", "fd-complex"])
def test_element_wise_functions_at_an_array_still_answer(method):
    x = np.array([1.0, 2.0, 3.0])
    got = dk.derivative(lambda a: np.sin(a) + np.ones(3), method=method)(x)
    np.testing.assert_allclose(got, np.cos(x), rtol=1e-6)


def test_compare_notes_the_warning_in_the_row():
    cmp, messages = _warned(lambda: dk.compare("1/x", 1e-6, methods=["fd-central", "reverse"]))
    assert not [m for m in messages if FAR in m]  # the table says it, not the console
    assert "warned: far from the traced derivative" in cmp.row("fd-central").notes
    assert "warned" not in cmp.row("reverse").notes
    assert cmp.row("fd-central").rel_error > 0.5  # (the error column measures it)


EPS = float(np.finfo(float).eps)


@pytest.mark.parametrize(("label", "thunk", "exact"), [
    # Richardson's first step 0.05·2ⁿ⁻¹·|x| spans whole periods: a clean, wrong limit
    ("sin'' at 1000", lambda: dk.derivative(np.sin, 2, method="fd-richardson")(1000.0),
     -math.sin(1000.0)),
    ("sin'''' at 250", lambda: dk.derivative(np.sin, 4, method="fd-richardson")(250.0),
     math.sin(250.0)),
    ("(t sin t)'' at 1000",
     lambda: dk.derivative(lambda t: t * np.sin(t), 2, method="fd-richardson")(1000.0),
     2 * math.cos(1000.0) - 1000.0 * math.sin(1000.0)),
    ("a Hessian of sin at 1000",
     lambda: dk.hessian(lambda x, y: np.sin(x) + y ** 2, method="fd-richardson")(1000.0,
                                                                                 1.0)[0, 0],
     -math.sin(1000.0)),
    # odd n: the stencil leaves x out and sees a narrow bump's flat sides only
    ("a bump's third derivative",
     lambda: dk.derivative(lambda t: np.exp(-1e10 * (t - 0.3) ** 2), 3, method="fd")(0.30001),
     # d³/dt³ e^(−a u²) = (12a²u − 8a³u³) e^(−a u²), a = 1e10, u = 1e-5
     (12e20 * 1e-5 - 8e30 * 1e-15) * math.exp(-1.0)),
    ("a bump's cross derivative",
     lambda: dk.hessian(lambda x, y: np.exp(-1e10 * ((x - 0.3) ** 2 + (y - 0.2) ** 2)),
                        method="fd")(0.30001, 0.20001)[0, 1],
     4e20 * 1e-10 * math.exp(-2.0)),
    # a kink at a third of the step: D(h) = D(h/2), an estimate of 0
    ("a kink at h/3", lambda: dk.derivative(lambda t: np.abs(t - (0.5 + EPS ** 0.25 / 3)), 2,
                                            method="fd")(0.5), 0.0),
])
def test_a_higher_derivative_far_from_the_trace_warns(label, thunk, exact):
    value, messages = _warned(thunk)
    assert abs(value - exact) > 1e-3 * max(1.0, abs(exact))  # (the answer is wrong)
    assert sum(FAR in m for m in messages) == 1, (label, value, messages)


@pytest.mark.parametrize(("thunk", "exact"), [
    (lambda: dk.derivative(np.sin, 2, method="fd")(1.0), -math.sin(1.0)),
    (lambda: dk.derivative(np.sin, 4, method="fd-richardson")(1.0), math.sin(1.0)),
    (lambda: dk.derivative(np.exp, 3, method="fd-richardson")(50.0), math.exp(50.0)),
    (lambda: dk.derivative(lambda t: t ** 5, 2, method="fd-forward")(1.5), 20 * 1.5 ** 3),
    (lambda: dk.hessian(lambda x, y: (1 - x) ** 2 + 100 * (y - x * x) ** 2, method="fd")(1.2, 0.7),
     [[2 - 400 * (0.7 - 3 * 1.44), -480.0], [-480.0, 200.0]]),
    (lambda: dk.hessian(lambda x, y: np.exp(x * y), method="fd-forward")(0.3, 0.5),
     [[0.25 * math.exp(0.15), math.exp(0.15) * 1.15], [math.exp(0.15) * 1.15,
                                                      0.09 * math.exp(0.15)]]),
])
def test_smooth_higher_derivatives_answer_without_a_word(thunk, exact):
    value, messages = _warned(thunk)
    assert not messages
    np.testing.assert_allclose(np.asarray(value, dtype=float), np.asarray(exact), rtol=1e-4)


def test_one_warning_per_answer():
    """An answer whose own estimate warned is not warned about again."""
    _, messages = _warned(lambda: dk.grad(dk.parse("1/x"), method="fd-richardson")(1e-6))
    assert len(messages) == 1


@pytest.mark.parametrize(("label", "thunk", "exact"), [
    # a large value elsewhere in the trace (multiplied by 0, cancelled) hides nothing
    ("a pole beside a large dead value",
     lambda: dk.grad(lambda x: 1 / x + 0 * (x * 1e30), method="fd")(1e-6)[0], -1e12),
    ("a jump beside a cancelled exp(600)",
     lambda: dk.grad(lambda x: dk.exp(x) / dk.exp(x) + dk.floor(x), method="fd")(600.0)[0], 0.0),
    ("a float32 pole",
     lambda: float(dk.grad(lambda x: dk.log(1 + ((1.738 / x) ** 3) ** 2), method="fd")(
         np.float32(1.652e-4))[0]),
     # d/dx log(1 + (a/x)^6) = −6 (a/x)^6 / (x (1 + (a/x)^6))
     -6 * (1.738 / 1.652e-4) ** 6 / (1.652e-4 * (1 + (1.738 / 1.652e-4) ** 6))),
])
def test_nothing_in_the_trace_switches_the_check_off(label, thunk, exact):
    value, messages = _warned(thunk)
    assert abs(value - exact) > 1e-3 * max(1.0, abs(exact))
    assert any(FAR in m for m in messages), (label, value, messages)


def test_each_entry_is_checked_not_only_their_sum():
    """A wrong entry beside a large right one; errors of two inputs that cancel along one
    direction."""
    _, messages = _warned(lambda: dk.grad(lambda x, y: 1e8 * x + abs(y), argnums=(0, 1),
                                          method="fd")(1.0, 1e-9))
    assert any(FAR in m for m in messages)
    x = np.ones(1000)
    x[0] = 1e-9
    (g,), messages = _warned(lambda: dk.grad(lambda x: dk.sum(x ** 2) + abs(x[0]),
                                             method="fd")(x))
    assert abs(g[0] - 1.0) > 0.5 and any(FAR in m for m in messages)
    _, messages = _warned(lambda: dk.grad(lambda x, y: dk.floor(x) - 0.74755 * dk.floor(y),
                                          argnums=(0, 1), method="fd")(2.0, 2.0))
    assert any(FAR in m for m in messages)
    _, messages = _warned(lambda: dk.jacobian(
        lambda x: np.stack([np.floor(x[0]) - 0.74755 * np.floor(x[1]), x[0] * 1e8]),
        method="fd")(np.array([2.0, 2.0])))
    assert any(FAR in m for m in messages)


@pytest.mark.parametrize("method", ["fd", "fd-forward"])
def test_a_quotient_swamped_by_rounding_warns(method):
    """float32 Σx² − (Σx)²/n at x ~ 30: a step moves f by about its own rounding."""
    x = (np.random.default_rng(0).normal(size=1000) * 30).astype(np.float32)
    (g,), messages = _warned(lambda: dk.grad(
        lambda a: dk.sum(a ** 2) - dk.sum(a) ** 2 / a.shape[0], method=method)(x))
    want = 2 * (x.astype(float) - x.astype(float).mean())
    assert np.max(np.abs(g - want) / np.maximum(1, np.abs(want))) > 0.5
    assert any(FAR in m and "rounding" in m for m in messages)


@pytest.mark.parametrize(("thunk", "exact"), [
    # the trace's float32 derivative is what the AD engines give, and no finer
    (lambda: dk.grad(lambda x: (2.016 * x) / x, method="fd")(np.float32(3.6229e-7))[0], 0.0),
    (lambda: dk.grad(lambda x: dk.sin(2.556 * x), method="fd-complex")(
        np.float32(425110.3125))[0], 2.556 * math.cos(2.556 * 425110.3125)),
])
def test_float32_quotients_that_are_right_pass(thunk, exact):
    value, messages = _warned(thunk)
    assert not [m for m in messages if FAR in m]
    assert abs(float(value) - exact) <= 1e-3 * max(1.0, abs(exact))


@pytest.mark.parametrize("scale", [1e-3, 1.0, 30.0])
def test_float64_sums_that_cancel_pass(scale):
    x = np.random.default_rng(1).normal(size=1000) * scale
    (g,), messages = _warned(lambda: dk.grad(
        lambda a: dk.sum(a ** 2) - dk.sum(a) ** 2 / a.shape[0], method="fd")(x))
    assert not messages
    np.testing.assert_allclose(g, 2 * (x - x.mean()), rtol=1e-4, atol=1e-4)


def test_an_answer_whose_local_derivative_overflows_is_refused_as_ad_refuses_it():
    """1/(0.07x)³ in float32 at −1.65e-6: div's local partial −o/b = −4e41 overflows float32,
    where reverse and forward mode raise NumericOverflowError. 'fd' answered +4.97e12 with a
    "could not be checked" warning — its central points x ± 5e-3 straddle the pole at 0; the
    derivative is −3·0.07/(0.07x)⁴ = −1.18e27 by hand. Finite differences refuse where AD
    refuses (hunt 43/r6 F4)."""
    x = np.float32(-1.6503216e-06)
    exact = -3 * 0.07 / (0.07 * float(x)) ** 4
    for method in ("reverse", "forward", "fd"):
        with pytest.raises(dk.errors.NumericOverflowError, match="overflows"):
            dk.grad(lambda x: 1 / ((0.07 * x) ** 3), method=method)(x)
    assert exact < -1e27  # (what the refused number, +4.97e12, was far from)


def test_a_dead_sqrt_of_x_minus_x_is_refused_as_the_ad_engines_refuse_it():
    """1/x + sqrt(x − x) at 1e-6: sqrt′(0) = ∞ passes back along both paths of x − x, which
    meet as ∞ − ∞ — reverse mode names sqrt there (it said NumPy's "invalid value"), and finite
    differences refuse where AD does (they answered with a "could not be checked" warning)."""
    f = dk.function(lambda x: 1 / x + dk.sqrt(x - x))
    for method in ("reverse", "fd"):
        with pytest.raises(dk.errors.NonDifferentiableError, match="sqrt is not differentiable"):
            dk.grad(f, method=method)(1e-6)


@pytest.mark.parametrize("n", [64, 65, 100])
def test_every_entry_of_a_wide_jacobian_is_checked(n):
    """x³ + 0.3·Σx at 1.5e6: the off-diagonal 0.3 is lost in the diagonal's rounding."""
    J, messages = _warned(lambda: dk.jacobian(lambda x: x ** 3 + 0.3 * dk.sum(x),
                                              method="fd")(np.full(n, 1.5e6)))
    assert abs(J[0, 1] - 0.3) > 0.05 and any(FAR in m for m in messages)


def test_a_small_direction_does_not_hide_an_error():
    """J·t with t = 1e-4 is measured against |t|, not against 1."""
    _, messages = _warned(lambda: dk.jvp(dk.sin, (1e14,), (1e-4,), method="fd"))
    assert any(FAR in m for m in messages)
    _, pullback = dk.vjp(dk.sin, 1e14, method="fd")
    _, messages = _warned(lambda: pullback(1e-4))
    assert any(FAR in m for m in messages)


def test_a_reference_that_cancels_in_the_trace_is_no_reason_to_warn():
    """(x/(−1.37x))³ is constant: 0 is right, and the float32 sweep's 256 is its own rounding;
    x/(−0.929x)'s second derivative likewise (forward and reverse references disagree)."""
    value, messages = _warned(lambda: dk.grad(lambda x: (x / (-1.37 * x)) ** 3, method="fd")(
        np.float32(-2.8131114e-10)))
    assert float(value[0]) == 0.0 and not [m for m in messages if FAR in m]
    value, messages = _warned(lambda: dk.derivative(lambda x: x / (-0.929 * x), 2,
                                                    method="fd")(5.18e-11))
    assert not [m for m in messages if FAR in m]


def test_higher_derivatives_at_an_array_are_checked():
    value, messages = _warned(lambda: dk.derivative(dk.sin, 2, method="fd-richardson")(
        np.array([1000.0, 1000.0])))
    assert abs(value[0] + math.sin(1000.0)) > 0.5 and any(FAR in m for m in messages)
    value, messages = _warned(lambda: dk.derivative(np.sin, 2, method="fd")(
        np.array([0.5, 1.0, 2.0])))
    assert not messages
    np.testing.assert_allclose(value, -np.sin([0.5, 1.0, 2.0]), rtol=1e-6)


def test_derivative_at_an_array_is_measured_per_element():
    """cos(1.616x)/x + tanh(x) at −153580.678: −3.69e-6 for −5.56e-6 is within 1e-3 of the
    scale max(1, |f′|) of each element."""
    value, messages = _warned(lambda: dk.derivative(
        lambda x: dk.cos(1.616 * x) / x + dk.tanh(x), method="fd")(np.full(3, -153580.678)))
    assert not messages
    assert np.all(np.abs(value - (-5.555e-6)) < 1e-3)


@pytest.mark.parametrize("thunk", [
    # an estimate whose rounding bound is pessimistic: 3.2e-4 for an error of 2.6e-5
    lambda: dk.hessian(lambda x: np.sum(x ** 2) + 10, method="fd-forward")(np.array([0.3, 0.7])),
    lambda: dk.derivative(lambda x: x ** 2 + 10, 2, method="fd-forward")(0.3),
])
def test_an_unsettled_estimate_the_trace_confirms_is_not_a_warning(thunk):
    value, messages = _warned(thunk)
    assert not messages
    np.testing.assert_allclose(np.diagonal(np.atleast_2d(value)), 2.0, rtol=1e-4)


def test_an_unsettled_estimate_of_a_black_box_still_warns():
    """No trace to confirm it (math.sin): the estimate's own warning stands."""
    _, messages = _warned(lambda: dk.derivative(
        lambda t: np.sin(5e3 * t), method="fd-richardson")(np.array([1000.0, 0.1])))
    assert len(messages) == 1
    import math as m

    _, messages = _warned(lambda: dk.derivative(
        lambda t: m.sin(5e3 * float(t)), method="fd-richardson")(1000.0))
    assert any("did not settle" in msg for msg in messages)
