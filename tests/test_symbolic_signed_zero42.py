"""Signed zeros and the symbolic engine; comparisons in dk.compare's exact reference.

SymPy and mpmath have one unsigned 0: at a point where an argument whose value reads the sign of
a zero (the table's ``signed_zero``) holds a zero, or a complex value on the op's branch cut, the
symbolic engine refuses by name, never computes with +0 (copysign(x, −0.0) differentiated as |x|). dk.compare's exact reference takes every comparison's outcome from the
float64 program at the point (x + 1e-17 > x is False there). References: NumPy's own values at
±0.0, hand formulas, mpmath at 50 digits.
"""

from __future__ import annotations

import itertools
import math
import warnings

import mpmath
import numpy as np
import pytest

import diffkit as dk
from diffkit.errors import MissingRuleError
from diffkit.primitive import REGISTRY

ELEMENTWISE = sorted(n for n, p in REGISTRY.items() if p.kind == "elementwise")
SAMPLES = (-2.0, -1.0, -0.5, 0.0, 0.5, 1.0, 2.0, np.inf, -np.inf)
COMPLEX_ZEROS = [(complex(a, 0.0), complex(a, -0.0)) for a in (-2.0, -0.5, 0.5, 2.0)] + \
    [(complex(0.0, a), complex(-0.0, a)) for a in (-2.0, -0.5, 0.5, 2.0)]


def _differ(a: object, b: object) -> bool:
    """Whether two NumPy results differ beyond the sign of a zero (NaN equals NaN)."""
    a, b = np.asarray(a, dtype=complex), np.asarray(b, dtype=complex)
    def same(u: np.ndarray, v: np.ndarray) -> np.ndarray:
        return (u == v) | (np.isnan(u) & np.isnan(v))
    return not bool(np.all(same(a.real, b.real) & same(a.imag, b.imag)))


def _reads(prim: object, i: int, pairs: list[tuple[object, object]], others: tuple
           ) -> list[list[object]]:
    """The arguments (both zeros of a pair in argument i) where NumPy's value of `prim`
    differs for the two zeros."""
    n = prim.nargs or 1
    found = []
    for rest in itertools.product(others, repeat=n - 1):
        for zp, zm in pairs:
            ap, am = list(rest), list(rest)
            ap.insert(i, zp)
            am.insert(i, zm)
            try:
                with np.errstate(all="ignore"), warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    vp = prim.impl(np, *map(np.asarray, ap))
                    vm = prim.impl(np, *map(np.asarray, am))
            except Exception:  # noqa: BLE001, S112 - not defined for these arguments
                continue
            if _differ(vp, vm):
                found += [ap, am]
    return found


@pytest.mark.parametrize("name", ELEMENTWISE)
def test_signed_zero_flags_match_numpy(name: str) -> None:
    """The table's signed_zero flags exactly the arguments whose sign of a zero NumPy's value
    reads, and its rule (True: any zero; else a predicate such as a branch cut) holds at every
    sampled point where NumPy reads it, for both zeros (real ±0.0, complex ±0 parts)."""
    prim = REGISTRY[name]
    flags = prim.signed_zero or (False,) * (prim.nargs or 1)
    assert len(flags) == (prim.nargs or 1)
    for i, flag in enumerate(flags):
        reads = _reads(prim, i, [(0.0, -0.0)], SAMPLES) + \
            _reads(prim, i, COMPLEX_ZEROS, (-2.0, 0.5, 2.0, 1.5 + 0.5j))
        assert (flag is not False) == bool(reads), (name, i, flag, reads[:2])
        for args in reads:
            values = [np.asarray(a) for a in args]
            with np.errstate(all="ignore"):
                hit = values[i] == 0 if flag is True else flag(*values)
            assert bool(np.any(hit)), (name, i, args)


def _refused(call: object) -> None:
    with pytest.raises(MissingRuleError, match="method='reverse'"):
        call()


def test_copysign_of_a_negative_zero_constant() -> None:
    # copysign(x, -0.0) = -|x|: derivative -1 at x = 2 (hand); symbolic answered +1
    f = dk.function(lambda x: np.copysign(x, -0.0))
    assert dk.grad(f, method="reverse")(2.0)[0] == -1.0
    _refused(lambda: dk.grad(f, method="symbolic")(2.0))
    _refused(lambda: dk.jacobian(f, method="symbolic")(np.array([2.0, 3.0])))
    _refused(lambda: dk.derivative(f, n=1, method="symbolic")(2.0))
    _refused(lambda: f.to_sympy())
    # -0.0 made from a product with a positive number is refused too
    g = dk.function(lambda x: np.copysign(x, x * -0.0))
    _refused(lambda: dk.grad(g, method="symbolic")(2.0))


def test_arctan2_of_a_negative_zero_constant() -> None:
    # arctan2(-0.0, x) = -pi for x < 0 (NumPy), so d/dx (arctan2(-0.0, x)·x) = -pi at -1
    f = dk.function(lambda x: np.arctan2(-0.0, x) * x)
    assert np.arctan2(-0.0, -1.0) == -math.pi
    assert dk.grad(f, method="reverse")(-1.0)[0] == pytest.approx(-math.pi, rel=1e-15)
    _refused(lambda: dk.grad(f, method="symbolic")(-1.0))
    g = dk.function(lambda x: np.arctan2(x * -0.0, -1.0) * x)  # -pi·x: -pi at 2
    _refused(lambda: dk.grad(g, method="symbolic")(2.0))


def test_hessian_with_a_data_array_holding_negative_zero() -> None:
    y = np.round(np.array([-0.4, 0.3]))  # [-0.0, 0.0]
    h = dk.function(lambda x: np.sum(np.arctan2(y, x) * x**2))
    x = np.array([-1.0, -2.0])
    # h = -pi·x1² + pi·x2² near x (NumPy's arctan2(∓0, x<0) = ∓pi): diag(-2pi, 2pi)
    want = np.diag([2 * np.arctan2(-0.0, -1.0), 2 * np.arctan2(0.0, -1.0)])
    np.testing.assert_allclose(dk.hessian(h, method="reverse")(x), want, rtol=1e-14)
    _refused(lambda: dk.hessian(h, method="symbolic")(x))


def test_negative_zero_that_reaches_no_sign_reader_still_works() -> None:
    assert dk.grad(dk.function(lambda x: np.sin(x) + (-0.0)), method="symbolic")(1.0)[0] == \
        pytest.approx(math.cos(1.0), rel=1e-15)
    y = np.array([-0.0, 3.0])
    g = dk.grad(dk.function(lambda x: np.sum(x * y)), method="symbolic")(np.array([1.0, 2.0]))
    np.testing.assert_array_equal(g[0], y)
    # where arctan2 does not read it (x > 0), a zero y is an ordinary number
    f = dk.function(lambda x: np.arctan2(0.0, x) * x)
    assert dk.grad(f, method="symbolic")(2.0)[0] == 0.0


def test_a_zero_of_either_sign_at_a_sign_reader_is_refused() -> None:
    # (was: these two answered, right by luck of SymPy's conventions; the rule is now the value
    # at the point, and SymPy's one 0 is unsigned, so a zero of either sign is refused)
    # arctan2(+0.0, x)·x at -1: NumPy's arctan2(0, -1) = +pi
    f = dk.function(lambda x: np.arctan2(0.0, x) * x)
    assert dk.grad(f, method="reverse")(-1.0)[0] == pytest.approx(np.arctan2(0.0, -1.0))
    _refused(lambda: dk.grad(f, method="symbolic")(-1.0))
    # an input holding -0.0 (or +0.0) at copysign's y
    k = dk.function(lambda x, y: np.copysign(1.0, x) * y)
    assert dk.grad(k, method="reverse")(-0.0, 2.0)[1] == np.copysign(1.0, -0.0)
    _refused(lambda: dk.grad(k, method="symbolic")(-0.0, 2.0))
    _refused(lambda: dk.grad(k, method="symbolic")(0.0, 2.0))
    # x held (not differentiated): the body computes copysign(1.0, -0.0) = -1 itself, a constant
    assert dk.grad(k, wrt=1, method="symbolic")(-0.0, 2.0)[0] == -1.0


def test_compare_reference_with_negative_zero() -> None:
    cmp = dk.compare(dk.function(lambda x: np.arctan2(-0.0, x) * x), -1.0,
                     methods=["reverse", "symbolic"])
    assert float(np.reshape(cmp.reference, -1)[0]) == pytest.approx(-math.pi, rel=1e-15)
    assert cmp.row("reverse").abs_error == pytest.approx(0.0, abs=1e-15)
    # an input at -0.0: mpmath reads it as 0, so the exact reference steps aside there
    cmp = dk.compare(dk.function(lambda x, y: np.copysign(1.0, x) * y), -0.0, 2.0,
                     methods=["reverse"])
    np.testing.assert_array_equal(np.reshape(cmp.reference, -1), [0.0, np.copysign(1.0, -0.0)])


def _mp_derivative(f: object, x: float) -> float:
    with mpmath.workdps(50):
        return float(mpmath.diff(f, mpmath.mpf(x)))


def test_compare_reference_takes_comparisons_from_float64() -> None:
    # x + 1e-17 > x is False in float64 near 1.5 (not a tie): f = x**3 there, f' = 3x² = 6.75
    f = dk.function(lambda x: np.where(x + 1e-17 > x, x**2, x**3))
    cmp = dk.compare(f, 1.5, methods=["fd-central", "reverse", "symbolic"])
    want = _mp_derivative(lambda t: t**3, 1.5)
    assert cmp.reference_kind.startswith("exact")
    assert float(np.reshape(cmp.reference, -1)[0]) == want
    assert cmp.row("reverse").abs_error == 0.0
    assert cmp.row("symbolic").abs_error == 0.0


@pytest.mark.parametrize(("x", "branch"), [(1.5, lambda t: t**2), (0.5, lambda t: t**3)])
def test_compare_reference_away_from_a_tie_is_unchanged(x: float, branch: object) -> None:
    f = dk.function(lambda x: np.where(x > 1.0, x**2, x**3))
    cmp = dk.compare(f, x, methods=["reverse"])
    assert cmp.reference_kind.startswith("exact")
    assert float(np.reshape(cmp.reference, -1)[0]) == _mp_derivative(branch, x)
    v = np.array([0.5, 2.0])
    g = dk.function(lambda v: np.sum(np.where(v > 1.0, np.sin(v), v**3)))
    cmp = dk.compare(g, v, methods=["reverse"])
    assert cmp.reference_kind.startswith("exact")
    np.testing.assert_allclose(np.reshape(cmp.reference, -1),
                               [_mp_derivative(lambda t: t**3, 0.5),
                                _mp_derivative(mpmath.sin, 2.0)], rtol=1e-16)
