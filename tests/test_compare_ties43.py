"""dk.compare's exact reference takes every decision of the float64 program — which branch of a
selection, which side of a kink, which whole number of a step or remainder, a tie — and computes
only the arithmetic exactly (hunt 42/q1, finding 2). Checked against hand values of the float64
program's piece (the table's tie rules: ½–½ at a tie of maximum, abs′(0) = relu′(0) = 0), and,
away from ties, against the derivative evaluated with mpmath at the exact binary point."""

from __future__ import annotations

import mpmath as mp
import numpy as np
import pytest

import diffkit as dk

FAST = {"methods": ["reverse"], "repeat": 1, "budget": 0.001}


def _reference(f, *point):
    cmp = dk.compare(f, *point, **FAST)
    assert cmp.reference_kind.startswith("exact"), cmp.reference_kind  # not the reverse fallback
    return np.asarray(cmp.reference, dtype=float)


# 0.7 + 0.3 == 1.0 and 0.7·10 == 7.0 in float64 (exactly, 0.99999999999999994… and 6.99999…96);
# 0.1 + 0.4 == 0.5 in float64 (exactly, 0.50000000000000002…: the other side of the tie)
TIED = [
    # (what, f, point, hand value of the float64 program's piece)
    ("fmax at a tie", lambda x, y: dk.fmax(x + 0.3, y) * 3, (0.7, 1.0), [1.5, 1.5]),
    ("maximum at a tie", lambda x, y: dk.maximum(x + 0.3, y) * 3, (0.7, 1.0), [1.5, 1.5]),
    ("minimum at a tie", lambda x, y: dk.minimum(x + 0.3, y) * 3, (0.7, 1.0), [1.5, 1.5]),
    ("fmin at a tie", lambda x, y: dk.fmin(x + 0.3, y) * 3, (0.7, 1.0), [1.5, 1.5]),
    ("clip at its upper bound", lambda x, y: dk.clip(x + 0.3, 0.0, y) * 3, (0.7, 1.0),
     [1.5, 1.5]),
    ("clip at its lower bound", lambda x, y: dk.clip(x + 0.3, y, 2.0) * 3, (0.7, 1.0),
     [1.5, 1.5]),
    ("amax of a tied stack", lambda x, y: dk.amax(dk.stack([x + 0.3, y])) * 3, (0.7, 1.0),
     [1.5, 1.5]),
    ("amin of a tied stack", lambda x, y: dk.amin(dk.stack([x + 0.3, y, 2.0])) * 3, (0.7, 1.0),
     [1.5, 1.5]),
    # fmax(x·y, 7)·x at a tie: ½·y·x + fmax = 3.5 + 7, ½·x·x
    ("fmax(x·y, 7)·x at a tie", lambda x, y: dk.fmax(x * y, 7.0) * x, (0.7, 10.0),
     [10.5, 0.245]),
    ("abs at a float64 zero", lambda x, y: dk.abs(x + 0.3 - y) * 3, (0.7, 1.0), [0.0, 0.0]),
    ("abs at a float64 zero (exactly > 0)", lambda x, y: dk.abs(x + 0.4 - y) * 3, (0.1, 0.5),
     [0.0, 0.0]),
    ("relu at a float64 zero (exactly > 0)", lambda x, y: dk.relu(x + 0.4 - y) * 3, (0.1, 0.5),
     [0.0, 0.0]),
    # copysign(x, 1) = |x|: ∂/∂x = 0 at x = 0, the table's convention
    ("copysign at a float64 zero", lambda x, y: dk.copysign(x + 0.4 - y, 1.0) * 3, (0.1, 0.5),
     [0.0, 0.0]),
    # np.mod(7.0, 1) = 0: the piece x·y − 7, so (x·y − 7)·x has [2xy − 7, x²] = [7, 0.49]
    ("mod at a float64 whole number", lambda x, y: dk.mod(x * y, 1.0) * x, (0.7, 10.0),
     [7.0, 0.49]),
    ("fmod at a float64 whole number", lambda x, y: dk.fmod(x * y, 1.0) * x, (0.7, 10.0),
     [7.0, 0.49]),
    ("// at a float64 whole number", lambda x, y: dk.floor_divide(x * y, 1.0) * x, (0.7, 10.0),
     [7.0, 0.0]),
]


@pytest.mark.parametrize("what, f, point, hand", TIED, ids=[t[0] for t in TIED])
def test_reference_takes_the_float64_decision(what, f, point, hand) -> None:
    """Before: [0, 3] for the ties, [−3, 3] for abs, [8, 0.49] for mod — the exact side, where
    every method answers the float64 program's derivative (the hand value)."""
    ref = _reference(f, *point)
    np.testing.assert_allclose(ref, hand, rtol=4e-16, atol=1e-300)
    np.testing.assert_allclose(ref, np.asarray(dk.grad(f)(*point), dtype=float), rtol=4e-16,
                               atol=1e-300)


def test_mod_reference_keeps_exact_arithmetic_on_its_piece() -> None:
    """The piece is decided (q = 7) but computed exactly: 2·(0.7·10) − 7 with 0.7's binary value
    is 6.999999999999999112, which rounds to 6.999999999999999, one ulp below the float64 7."""
    with mp.workdps(50):
        x, y = mp.mpf(0.7), mp.mpf(10)
        exact = [float(2 * x * y - 7), float(x * x)]
    assert _reference(lambda x, y: dk.mod(x * y, 1.0) * x, 0.7, 10.0).tolist() == exact


def test_amax_along_an_axis_shares_only_float64_ties() -> None:
    """amax over rows: the first row ties in float64 (shared ½–½), the second does not."""
    def f(x, y):
        m = dk.amax(dk.stack([dk.stack([x + 0.3, y]), dk.stack([x, 2.0 * y])]), axis=1)
        return m[0] * 3 + m[1] * 5

    # row 0: tie → 1.5, 1.5; row 1: max(0.7, 2) = 2y → ∂y = 10
    np.testing.assert_allclose(_reference(f, 0.7, 1.0), [1.5, 11.5], rtol=4e-16)


AWAY = [
    # (f, point, exact derivative as mpmath functions of the exact binary point)
    (lambda x, y: dk.fmax(x + 0.3, y) * 3, (0.7, 1.5), lambda x, y: [0, 3]),
    (lambda x, y: dk.maximum(x * y, 2.0) * x, (0.3, 7.0), lambda x, y: [2 * x * y, x * x]),
    (lambda x, y: dk.clip(x * y, 0.0, 5.0) * x, (0.3, 7.0), lambda x, y: [2 * x * y, x * x]),
    (lambda x, y: dk.abs(x * y - 1.0) * x, (0.3, 2.0), lambda x, y: [1 - 2 * x * y, -x * x]),
    (lambda x, y: dk.relu(x * y - 1.0) * x, (0.3, 7.0), lambda x, y: [2 * x * y - 1, x * x]),
    # 0.3·7 = 2.0999…: q = 2 exactly and in float64
    (lambda x, y: dk.mod(x * y, 1.0) * x, (0.3, 7.0), lambda x, y: [2 * x * y - 2, x * x]),
    (lambda x, y: dk.fmod(-x * y, 1.0) * x, (0.3, 7.0), lambda x, y: [-2 * x * y + 2, -x * x]),
    (lambda x, y: dk.amin(dk.stack([x * y, y, 3.0])) * dk.sin(x), (0.3, 7.0),
     lambda x, y: [y * mp.sin(x) + x * y * mp.cos(x), x * mp.sin(x)]),
    (lambda x, y: dk.floor(10.0 * y) * dk.exp(x), (0.3, 0.77),
     lambda x, y: [7 * mp.exp(x), 0]),
]


@pytest.mark.parametrize("k", range(len(AWAY)))
def test_reference_away_from_ties_is_the_exact_derivative(k) -> None:
    """Off a tie the decided piece is the exact one: the reference is the exact derivative at
    the binary point, correctly rounded (mpmath at 50 digits, written out by hand)."""
    f, point, d = AWAY[k]
    with mp.workdps(50):
        exact = [float(mp.mpf(v)) for v in d(*(mp.mpf(p) for p in point))]
    assert _reference(f, *point).tolist() == exact


def test_piece_with_no_finite_value_falls_back_by_name() -> None:
    """An op whose piece cannot be read (its value infinite there) gives no silent exact
    reference (it said exact 0, where reverse mode answers 1): compare says the reference is
    reverse mode, and why."""
    cmp = dk.compare(lambda x: dk.maximum(x, np.inf) + x, 1.0, **FAST)
    assert cmp.reference_kind.startswith("reverse mode in float64")
    assert "cannot take maximum's piece" in cmp.reference_kind
