"""np.array([...]) of traced numbers makes an object array; NumPy code that computes on numbers
only (linear algebra, FFT, interp, a ufunc over a plain float element) raised NumPy's bare
TypeError from deep inside. It is now ObjectArrayError, naming the fix (one traced array by
np.stack / dk.stack), and the fix gives the hand-derived gradient."""

from __future__ import annotations

import numpy as np
import pytest

import diffkit as dk

X, Y = 1.5, 0.5

BODIES = {
    "det": lambda x, y: np.linalg.det(np.array([[x, y], [y, 2.0]])),
    "inv": lambda x, y: np.linalg.inv(np.array([[x, y], [y, 2.0]])).sum(),
    "solve": lambda x, y: np.linalg.solve(np.array([[x, y], [y, 2.0]]), np.ones(2)).sum(),
    "fft": lambda x, y: np.fft.fft(np.array([x, y])).real.sum(),
    "sin beside a float": lambda x, y: np.sin(np.array([x, y, 2.0])).sum(),
    "interp": lambda x, y: np.interp(1.0, [0.0, 2.0], np.array([x, y])),
}


@pytest.mark.parametrize("method", ["reverse", "forward", "symbolic", "auto"])
@pytest.mark.parametrize("name", sorted(BODIES))
def test_object_array_is_named(name: str, method: str) -> None:
    with pytest.raises(dk.ObjectArrayError, match=r"np\.stack|dk\.stack"):
        dk.grad(BODIES[name], method=method)(X, Y)


@pytest.mark.parametrize("name", ["det", "fft"])
def test_object_array_is_named_under_jit(name: str) -> None:
    with pytest.raises(dk.ObjectArrayError):
        dk.grad(dk.jit(BODIES[name]))(X, Y)


def test_object_array_error_is_a_type_error() -> None:
    """Code that caught NumPy's TypeError still catches it."""
    with pytest.raises(TypeError):
        dk.grad(BODIES["det"])(X, Y)


def test_plain_call_and_finite_differences_unchanged() -> None:
    assert BODIES["det"](X, Y) == pytest.approx(2 * X - Y * Y)
    g = dk.grad(BODIES["det"], method="fd-central")(X, Y)
    assert g == pytest.approx((2.0, -2 * Y), rel=1e-7)


@pytest.mark.parametrize("method", ["reverse", "forward", "symbolic"])
def test_the_named_fix_gives_the_hand_gradient(method: str) -> None:
    """det [[x, y], [y, 2]] = 2x − y²: gradient (2, −2y)."""
    f = lambda x, y: np.linalg.det(dk.stack([[x, y], [y, 2.0]]))
    assert dk.grad(f, method=method)(X, Y) == pytest.approx((2.0, -2 * Y), rel=1e-12)


def test_the_body_own_type_error_passes_unchanged() -> None:
    def f(x: float) -> float:
        raise TypeError("the body's own")

    with pytest.raises(TypeError, match="the body's own") as info:
        dk.grad(f)(1.0)
    assert not isinstance(info.value, dk.DiffkitError)
