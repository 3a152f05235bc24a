"""The public call on Python floats: after it learns a signature, ``dk.grad(f)(x, y)`` is one
generated function with its guards printed in. Everything it does not answer itself — other
types and arities, non-finite values, points outside the domain — still gets the full path's
answer or named error. References: hand-derived gradients."""

from __future__ import annotations

import math

import numpy as np
import pytest

import diffkit as dk

F = "ln(x1) + x1*x2 - sin(x2)"


def _hand(x1: float, x2: float) -> tuple[float, float]:
    return (1 / x1 + x2, x1 - math.cos(x2))


def _learned(g):
    for _ in range(4):
        g(2.0, 5.0)
    assert type(g).__call__ is not dk.api.GradientFunction.__call__, "the entry is in place"
    return g


@pytest.mark.parametrize("point", [(2.0, 5.0), (0.5, -3.0), (7.25, 1e-3)])
def test_learned_entry_gives_the_hand_gradient(point) -> None:
    g = _learned(dk.grad(F))
    got = g(*point)
    assert type(got) is tuple and all(type(v) is float for v in got)
    assert got == pytest.approx(_hand(*point), rel=1e-14)
    vg = _learned(dk.value_and_grad(F))
    v, grads = vg(*point)
    x1, x2 = point
    assert v == pytest.approx(math.log(x1) + x1 * x2 - math.sin(x2), rel=1e-14)
    assert grads == pytest.approx(_hand(*point), rel=1e-14)


def test_learned_entry_still_names_every_error() -> None:
    g = _learned(dk.grad(F))
    with pytest.raises(dk.DomainError, match="log"):
        g(-1.0, 5.0)
    with pytest.raises(dk.ArityError):
        g(2.0)
    with pytest.raises(dk.ArityError):
        g(2.0, 5.0, 1.0)
    with pytest.raises(dk.DomainError, match="not finite"):
        g(float("nan"), 1.0)
    with pytest.raises(dk.DomainError, match="not finite"):
        g(float("inf"), 1.0)
    for bad in (float("inf"), float("-inf"), float("nan")):  # the entry's one finiteness sum
        with pytest.raises(dk.DomainError, match="not finite"):
            g(2.0, bad)
    assert g(1e308, 5.0) == pytest.approx(_hand(1e308, 5.0), rel=1e-14)  # large but finite
    assert g(2.0, 5.0) == pytest.approx(_hand(2.0, 5.0), rel=1e-14)  # and keeps answering


def test_learned_entry_names_keyword_calls_as_the_full_path_does() -> None:
    """The learned entry took positional floats only: a keyword call raised Python's
    "entry() got an unexpected keyword argument" instead of the derivative's named error."""
    for g in (_learned(dk.grad(F)), _learned(dk.value_and_grad(F))):
        with pytest.raises(dk.ArityError, match=r"positionally.*\(x1, x2\).*'x1', 'x2'"):
            g(x1=2.0, x2=5.0)
        with pytest.raises(dk.ArityError, match=r"positionally.*'x2'"):
            g(2.0, x2=5.0)
    g = _learned(dk.grad(F))
    # finite but huge arguments and results stay on the entry (0·a·b is 0 for finite a, b)
    assert g(1e308, 1e308) == pytest.approx(_hand(1e308, 1e308), rel=1e-14)


def test_learned_entry_hands_other_types_to_the_full_path() -> None:
    g = _learned(dk.grad(F))
    got = g(np.float64(2.0), 5.0)
    assert got == pytest.approx(_hand(2.0, 5.0), rel=1e-14)
    x = np.array([2.0, 3.0])
    gx = dk.grad("sum(x*x)")
    for _ in range(3):
        gx(x)
    np.testing.assert_allclose(gx(x)[0], 2 * x, rtol=1e-15)
    assert g(2, 5) == pytest.approx(_hand(2.0, 5.0), rel=1e-14)  # ints


def test_overflowing_result_goes_to_the_full_path_and_its_named_error() -> None:
    g = dk.grad("exp(x)")
    for _ in range(4):
        g(1.0)
    assert g(1.0)[0] == pytest.approx(math.e, rel=1e-15)
    with pytest.raises(dk.DiffkitError):
        g(710.0)


def test_a_long_function_gets_an_entry_that_calls_its_code() -> None:
    """Beyond a couple of hundred lines the entry calls the generated function instead of
    copying its body (so compiling does not double); the answers are the same."""
    def body(x):
        for _ in range(400):
            x = dk.sin(x) * 1.0001 + 0.01
        return x

    g = dk.grad(dk.jit(body))
    for _ in range(3):
        g(0.3)
    assert type(g).__call__ is not dk.api.GradientFunction.__call__
    v, d = 0.3, 1.0
    for _ in range(400):
        d *= math.cos(v) * 1.0001
        v = math.sin(v) * 1.0001 + 0.01
    assert g(0.3)[0] == pytest.approx(d, rel=1e-13)
    with pytest.raises(dk.ArityError):
        g(0.3, 0.4)


@pytest.mark.parametrize(("text", "hand"), [
    ("x1*x2", lambda x1, x2: (x2, x1)),  # the gradients are the inputs: no line of code
    ("x1 + 2*x2", lambda x1, x2: (1.0, 2.0)),  # constants
    ("x1*x1*x2", lambda x1, x2: (2 * x1 * x2, x1 * x1)),  # named values
    ("x1/x2", lambda x1, x2: (1 / x2, -x1 / x2**2)),
])
def test_learned_entries_of_every_shape_of_code(text, hand) -> None:
    """Gradient code with no lines, with constants, with named values: each learned entry
    answers as the hand formula, and hands a bad point to the full path's named error."""
    g = _learned(dk.grad(text))
    for point in ((2.0, 5.0), (-1.5, 0.25)):
        assert g(*point) == pytest.approx(hand(*point), rel=1e-15)
        assert all(type(v) is float for v in g(*point))
    with pytest.raises(dk.DomainError, match="not finite"):
        g(2.0, float("nan"))
