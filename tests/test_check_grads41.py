"""Fix 41a: dk.check_grads cannot pass a wrong gradient — finite differences are held to their
own error estimate (no fixed absolute tolerance), every AD method to the exact tolerance, empty or
unknown methods are named errors before any work, and argnums=/wrt= choose the inputs."""

from __future__ import annotations

import math

import numpy as np
import pytest

import diffkit as dk
from diffkit import engines
from diffkit.engines import METHODS, ReverseEngine

FD = ("fd", "fd-forward", "fd-central", "fd-complex", "fd-richardson")


def _direction(n: int, seed: int = 0) -> np.ndarray:
    """check_grads's random direction, drawn the same way (an independent copy)."""
    v = np.random.default_rng(seed).normal(size=n)
    return v / np.linalg.norm(v)


def _kink(x):
    """1e-7·|x − 1e-9|: at 0 the derivative is −1e-7, but the kink lies inside fd's step."""
    return 1e-7 * abs(x - 1e-9)


# ----- finding 1: no absolute tolerance for finite differences ---------------------------------

def test_a_small_gradient_fd_misses_is_a_failure_naming_both_numbers() -> None:
    with pytest.raises(AssertionError, match="disagree") as info:
        dk.check_grads(_kink, [0.0], methods=("reverse", "fd"))
    text = str(info.value)
    assert "-1.e-07" in text  # reverse's (right) number
    assert "-1.65" in text  # fd's (wrong) one, ~−1e-7·1e-9/h with h = ε^(1/3)


@pytest.mark.parametrize("method", ["fd-central", "fd-forward", "fd-richardson"])
def test_every_subtracting_scheme_is_caught_at_the_kink(method: str) -> None:
    with pytest.raises(AssertionError, match="disagree"):
        dk.check_grads(_kink, [0.0], methods=("reverse", method))


class _Doubled(ReverseEngine):
    """Reverse mode with every Jacobian twice too large: a wrong AD engine."""

    def jacobian(self, fn, args, wrt):
        out, jac = super().jacobian(fn, args, wrt)
        return out, 2 * np.asarray(jac)


@pytest.mark.parametrize("method", FD)
def test_a_wrong_small_exact_gradient_is_caught_by_fd(method: str, monkeypatch) -> None:
    """An AD engine that answers 2e-8 for d/dx 1e-8·sin x = 1e-8 at 0: every fd scheme's own
    error is far below 1e-8, so fd catches it (a fixed absolute 1e-6 let it pass)."""
    monkeypatch.setitem(METHODS, "compiled", _Doubled)
    f = dk.Function(lambda x: 1e-8 * dk.sin(x), ["x"])
    with pytest.raises(AssertionError, match="disagree"):
        dk.check_grads(f, [0.0], methods=("compiled", method))
    got = dk.check_grads(f, [0.0], methods=("reverse", method))  # the right one passes
    assert got[method] == pytest.approx(1e-8, rel=1e-4)


@pytest.mark.parametrize("method", FD)
@pytest.mark.parametrize("order", [1, 2])
@pytest.mark.parametrize(("text", "point"), [
    ("x**2", [0.0]), ("cos(x)", [0.0]), ("sin(x)*y", [0.5, 2.0]), ("exp(x)", [0.3]),
    ("log(x)", [1.7]), ("log(x)*y", [1e3, 3.0])])
def test_correct_gradients_pass_every_scheme(text: str, point: list[float], order: int,
                                             method: str) -> None:
    dk.check_grads(text, point, methods=("reverse", method), order=order)


def test_x_squared_at_zero_forward_difference_passes() -> None:
    """D(h) = h, D(2h) = 2h: the estimate h covers the truncation error, with ref = 0."""
    got = dk.check_grads("x**2", [0.0], methods=("reverse", "fd-forward"))
    assert got["reverse"] == 0.0 and 0.0 < got["fd-forward"] < 1e-7


# ----- finding 2: compiled and auto (every non-fd method) at the exact tolerance ---------------

class _SlightlyWrong(ReverseEngine):
    """Reverse mode with every Jacobian 1e-7 too large (relative): a wrong AD engine."""

    def jacobian(self, fn, args, wrt):
        out, jac = super().jacobian(fn, args, wrt)
        return out, np.asarray(jac) * (1 + 1e-7)


@pytest.mark.parametrize("name", ["compiled", "auto"])
def test_compiled_and_auto_are_held_to_the_exact_tolerance(name: str, monkeypatch) -> None:
    monkeypatch.setitem(METHODS, name, _SlightlyWrong)
    assert engines.METHODS[name] is _SlightlyWrong
    with pytest.raises(AssertionError, match=name):
        dk.check_grads("sin(x) * y", [0.5, 2.0], methods=("reverse", name))


def test_an_ad_method_is_the_reference_before_fd() -> None:
    """methods=("fd", "compiled"): compiled (exact) is the reference, and fd's kink is caught."""
    with pytest.raises(AssertionError, match="fd vs compiled"):
        dk.check_grads(_kink, [0.0], methods=("fd", "compiled"))


# ----- finding 3: methods= checked before any work ----------------------------------------------

def test_empty_methods_is_a_value_error_naming_the_argument() -> None:
    with pytest.raises(ValueError, match="methods"):
        dk.check_grads("x", [1.0], methods=())


def test_methods_as_one_string_is_named() -> None:
    with pytest.raises(TypeError, match=r"methods=\('reverse',\)"):
        dk.check_grads("x", [1.0], methods="reverse")


def test_an_unknown_method_is_refused_before_f_is_called() -> None:
    calls = []

    def f(x):
        calls.append(x)
        return x * x

    with pytest.raises(ValueError, match="unknown method 'revrese'"):
        dk.check_grads(f, [1.0], methods=("reverse", "revrese"))
    assert calls == []


# ----- finding 4: argnums= / wrt= ----------------------------------------------------------------

def test_argnums_keeps_an_integer_index_and_spans_only_x() -> None:
    x = np.array([1.0, 2.0, 3.0])
    got = dk.check_grads(lambda x, i: x[i] ** 2, [x, 1], argnums=0,
                         methods=("reverse", "forward", "compiled", "auto", "fd"))
    v = _direction(3)
    hand = 2 * x[1] * v[1]  # ∇(x₁²) = (0, 2x₁, 0)
    for val in got.values():
        assert val == pytest.approx(hand, rel=1e-8)
    got2 = dk.check_grads(lambda x, i: x[i] ** 3, [x, 2], argnums=0, order=2,
                          methods=("reverse", "fd"))
    assert got2["reverse"] == pytest.approx(6 * x[2] * v[2] ** 2, rel=1e-12)


def test_wrt_by_name_holds_the_others() -> None:
    got = dk.check_grads("x * y + z**2", [1.0, 2.0, 3.0], wrt=["x", "z"],
                         methods=("reverse", "fd"))
    v = _direction(2)
    assert got["reverse"] == pytest.approx(2.0 * v[0] + 6.0 * v[1], rel=1e-12)


# ----- every method against a hand formula, orders 1 and 2 ---------------------------------------

def test_every_method_agrees_with_the_hand_formula() -> None:
    """f = sin(x)·y + exp(x·y) at (0.5, 2): ∇f and H by hand."""
    x, y = 0.5, 2.0
    e = math.exp(x * y)
    grad = np.array([y * math.cos(x) + y * e, math.sin(x) + x * e])
    hess = np.array([[-y * math.sin(x) + y * y * e, math.cos(x) + e + x * y * e],
                     [math.cos(x) + e + x * y * e, x * x * e]])
    v = _direction(2)
    methods = tuple(METHODS)
    first = dk.check_grads("sin(x) * y + exp(x*y)", [x, y], methods=methods)
    second = dk.check_grads("sin(x) * y + exp(x*y)", [x, y], methods=methods, order=2)
    for m in methods:
        fd = m.startswith("fd")
        assert first[m] == pytest.approx(v @ grad, rel=1e-6 if fd else 1e-12), m
        assert second[m] == pytest.approx(v @ hess @ v, rel=1e-4 if fd else 1e-12), m


def test_step_scale_doubles_the_default_steps_and_refuses_an_explicit_step() -> None:
    """x² at 1 by forward differences: D(h) = 2 + h exactly (up to rounding), h = √ε."""
    h = math.sqrt(np.finfo(float).eps)
    one = dk.grad("x**2", method="fd-forward")(1.0)[0]
    two = dk.grad("x**2", method="fd-forward", step_scale=2.0)(1.0)[0]
    assert one - 2 == pytest.approx(h, rel=1e-3)
    assert two - 2 == pytest.approx(2 * h, rel=1e-3)
    with pytest.raises(ValueError, match="step_scale"):
        dk.grad("x**2", method="fd", step=0.1, step_scale=2.0)
    with pytest.raises(ValueError, match="step_scale"):
        dk.grad("x**2", method="fd", step_scale=-1.0)
