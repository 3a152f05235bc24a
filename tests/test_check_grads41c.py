"""check_grads' rounding floor of a finite difference scales with the values f computes.

−z₀ + log Σ exp z at [20, 0, 0] is about 4e-9, but it is computed from values near 20, so its
finite differences round like 20's: fd's 7.8932e-10 against the exact 7.950675577e-10 was held
to ±8e-16 (a floor from |f(x)| alone) and failed a correct gradient. The floor now uses the fd
engine's own measure of f's rounding (Σ|adjoint|·|value| over f's traced operations, per
output entry); a wrong gradient still fails.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

import diffkit as dk


def _logsumexp_loss(z):
    return -z[0] + np.log(np.sum(np.exp(z)))


def _hand_gradient(z):
    """∇(−z₀ + log Σ exp z) = softmax(z) − e₀ (hand formula, stable form)."""
    e = np.exp(z - np.max(z))
    g = e / e.sum()
    g[0] -= 1.0
    return g


def test_the_hand_gradient_is_tiny_and_reverse_matches_it():
    z = np.array([20.0, 0.0, 0.0])
    g = _hand_gradient(z)
    assert abs(g[1] - math.exp(-20) / (1 + 2 * math.exp(-20))) < 1e-24
    np.testing.assert_allclose(dk.grad(_logsumexp_loss)(z)[0], g, rtol=1e-6, atol=1e-24)


@pytest.mark.parametrize("order", [1, 2])
def test_a_correct_gradient_of_a_cancelling_function_passes(order):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # fd may not resolve 8e-10: it says so
        report = dk.check_grads(_logsumexp_loss, [np.array([20.0, 0.0, 0.0])], order=order)
    assert set(report) == {"reverse", "forward", "symbolic", "fd"}


def test_a_wrong_gradient_of_a_cancelling_function_still_fails():
    calls = [0]

    def drifting(z):  # its later evaluations (the finite differences) add 1e-3·z₁ (a guard)
        calls[0] += 1
        extra = 0.0 if calls[0] == 1 else 1e-3
        return _logsumexp_loss(z) + extra * z[1]

    with pytest.raises(AssertionError, match="disagree"):
        dk.check_grads(drifting, [np.array([20.0, 0.0, 0.0])], methods=("reverse", "fd"))


def test_a_small_output_beside_a_large_one_keeps_its_own_floor():
    # entry 1 is computed from values near 1e-3 only: a 1e-7 error in it (relative 1e-4,
    # past FD_RTOL) must still fail (a guard: it failed before too)
    calls = [0]

    def drifting(x):
        calls[0] += 1
        c = 1.0 if calls[0] == 1 else 1.0 + 1e-4
        return np.stack([1e8 + 0 * x, 1e-3 * c * np.sin(x)])

    with pytest.raises(AssertionError, match="disagree"):
        dk.check_grads(drifting, [0.3], methods=("reverse", "fd"))
