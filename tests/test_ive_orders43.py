"""ive's higher x-derivatives for large orders between x = v and x = v², against mpmath."""

import mpmath as mp
import numpy as np
import pytest

import diffkit as dk

# before: the rule's (ive(v − 1) + ive(v + 1))/2 − ive cancelled here: ive‴(200.5, 1e4) 10 % off
# (−6.9167e-16 for −7.7150e-16), ive‴(50, 700) 1.0e-5, ive‴(20, 300) 1.2e-8, ive″(200.5, 1e4) 6.5e-6
MIDDLE = [(10.0, 100.0), (20.0, 300.0), (50.0, 700.0), (50.0, 1e3), (200.5, 700.0), (200.5, 1e4)]


def _reference(v, x, n):
    order = abs(int(v)) if v == int(v) else v  # I₋ₙ = Iₙ (mpmath's is complex at a float −n)
    with mp.workdps(60):
        return float(mp.diff(lambda y: mp.besseli(order, y) * mp.exp(-abs(y)), mp.mpf(x), n))


@pytest.mark.parametrize("method", ["reverse", "forward"])
@pytest.mark.parametrize(("v", "x"), MIDDLE)
def test_ive_derivatives_of_large_orders_between_v_and_v_squared(v, x, method):
    for n in (1, 2, 3):
        got = float(dk.derivative(lambda y: dk.ive(v, y), n=n, method=method)(x))
        assert got == pytest.approx(_reference(v, x, n), rel=1e-12, abs=0.0), (v, x, n)


@pytest.mark.parametrize(("v", "x"), [(20.0, 300.0), (50.0, 700.0), (200.5, 1e4)])
def test_ive_derivatives_of_large_orders_by_the_symbolic_engine(v, x):
    for n in (2, 3):
        got = float(dk.derivative(lambda y: dk.ive(v, y), n=n, method="symbolic")(x))
        assert got == pytest.approx(_reference(v, x, n), rel=1e-12, abs=0.0), (v, x, n)


@pytest.mark.parametrize("x", [-300.0, -40.0])
def test_ive_of_a_negative_integer_order_at_negative_x(x):
    # I₋ₙ = Iₙ and ive(n, −x) = (−1)ⁿ ive(n, x): the Debye branch reads |v| and |x|
    for v in (-20.0, 21.0):
        for n in (1, 2, 3):
            got = float(dk.derivative(lambda y, v=v: dk.ive(v, y), n=n)(x))
            assert got == pytest.approx(_reference(v, x, n), rel=1e-12, abs=0.0), (v, x, n)


def test_ive_derivative_with_orders_of_both_kinds_in_one_array():
    # elements of small and large order, below, inside and beyond the Debye branch at once
    v = np.array([2.5, 20.0, 20.0, 200.5, 50.0, 10.0, -1.5])
    x = np.array([40.0, 5.0, 300.0, 1e4, 1e5, 100.0, 36.0])
    got = dk.derivative(lambda y: dk.ive(v, y), n=3)(x)
    want = [_reference(a, b, 3) for a, b in zip(v, x)]
    np.testing.assert_allclose(got, want, rtol=1e-10)
