"""A NaN or infinite tangent (dk.jvp) or cotangent (dk.vjp's pullback) is named as such: it read
"the function is not differentiable there" (a NonDifferentiableError about a smooth function)."""

from __future__ import annotations

import numpy as np
import pytest

import diffkit as dk

F = "ln(x1) + x1*x2 - sin(x2)"
METHODS = ["forward", "reverse", "symbolic", "fd"]


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_a_tangent_that_is_not_a_number_is_named(method: str, bad: float) -> None:
    with pytest.raises(dk.DomainError, match="tangent for 'x1'"):
        dk.jvp(F, (2.0, 5.0), (bad, 0.0), method=method)


@pytest.mark.parametrize("method", METHODS)
def test_a_cotangent_that_is_not_a_number_is_named(method: str) -> None:
    _, pullback = dk.vjp(F, 2.0, 5.0, method=method)
    with pytest.raises(dk.DomainError, match="cotangent"):
        pullback(np.inf)


def test_array_directions() -> None:
    def f(x: np.ndarray) -> np.ndarray:
        return np.sin(x) * 2

    x = np.array([0.1, 0.2, 0.3])
    with pytest.raises(dk.DomainError, match="tangent for"):
        dk.jvp(f, (x,), (np.array([1.0, np.nan, 0.0]),))
    _, pullback = dk.vjp(f, x)
    with pytest.raises(dk.DomainError, match="cotangent"):
        pullback(np.array([0.0, 1.0, np.inf]))
    # finite directions: by hand, J = diag(2 cos x)
    np.testing.assert_allclose(pullback(np.ones(3))[0], 2 * np.cos(x), rtol=1e-15)
