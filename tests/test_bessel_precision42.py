"""ive's derivatives at large x and kv/kn near their underflow, against mpmath at 50 digits."""

import mpmath as mp
import numpy as np
import pytest

import diffkit as dk

ORDERS = (0.0, 0.5, 1.0, 2.0, 2.5, -0.5, -2.5, 3.0, 10.0)
POINTS = (1e-3, 0.5, 5.0, 36.0, 100.0, 1e3, 1e5, 1e10)


def _nth(f, n, method):
    return dk.derivative(f, n=n, method=method)


def _ive_reference(v, x, n):
    with mp.workdps(50):
        return mp.diff(lambda y: mp.besseli(v, y) * mp.exp(-abs(y)), mp.mpf(x), n)


@pytest.mark.parametrize("method", ["reverse", "forward"])
@pytest.mark.parametrize("n", [1, 2, 3])
@pytest.mark.parametrize("v", ORDERS)
def test_ive_derivatives_match_mpmath_from_small_to_huge_x(v, n, method):
    # before: ive″(0, 1e10) = 0.0 (true 2.99e-26), ive‴ of the wrong sign, ive′ off by 1.8e-7
    f = _nth(lambda y: dk.ive(v, y), n, method)
    for x in POINTS:
        want = float(_ive_reference(v, x, n))
        assert float(f(x)) == pytest.approx(want, rel=1e-9, abs=0.0), (v, x, n)


@pytest.mark.parametrize("x", [-1e10, -1e3, -40.0, 40.0, 1e3, 1e10])
def test_ive_at_order_0_and_1_agrees_with_i0e_i1e(x):
    for v, g in ((0.0, dk.i0e), (1.0, dk.i1e)):
        for n in (1, 2, 3):
            assert float(_nth(lambda y, v=v: dk.ive(v, y), n, "reverse")(x)) == pytest.approx(
                float(_nth(g, n, "reverse")(x)), rel=1e-13, abs=0.0)
            want = float(_ive_reference(v, x, n))
            assert float(_nth(g, n, "reverse")(x)) == pytest.approx(want, rel=1e-9, abs=0.0)


@pytest.mark.parametrize("v", [0.0, 2.5])
def test_ive_second_derivative_by_the_symbolic_engine_at_large_x(v):
    want = float(_ive_reference(v, 1e10, 2))
    got = dk.derivative(lambda y: dk.ive(v, y), n=2, method="symbolic")(1e10)
    assert float(got) == pytest.approx(want, rel=1e-9, abs=0.0)


K_POINTS = (698.0, 700.0, 703.0, 705.0, 705.3)


@pytest.mark.parametrize("v", [0.0, 1.0, 2.5, -0.5, 5.0])
def test_kv_is_not_zero_where_its_value_is_a_normal_float(v):
    # before: kv(0, 700) = 0.0, true K₀(700) = 4.67e-306, and zero derivatives
    for x in K_POINTS:
        with mp.workdps(50):
            want = [float(mp.diff(lambda y: mp.besselk(v, y), mp.mpf(x), n)) for n in (0, 1, 2)]
        assert float(dk.kv(v, x)) == pytest.approx(want[0], rel=1e-13, abs=0.0)
        assert float(dk.derivative(lambda y: dk.kv(v, y))(x)) == pytest.approx(want[1], rel=1e-13, abs=0.0)
        second = dk.derivative(dk.derivative(lambda y: dk.kv(v, y)))(x)
        assert float(second) == pytest.approx(want[2], rel=1e-12, abs=0.0)


@pytest.mark.parametrize("n", [0, 1, 2, 5])
def test_kn_is_not_zero_where_its_value_is_a_normal_float(n):
    xs = np.array(K_POINTS)
    with mp.workdps(50):
        want = np.array([float(mp.besselk(n, x)) for x in K_POINTS])
        slope = np.array([float(mp.diff(lambda y: mp.besselk(n, y), mp.mpf(x)))
                          for x in K_POINTS])
    np.testing.assert_allclose(dk.kn(n, xs), want, rtol=1e-13)
    for method in ("reverse", "symbolic"):
        got = [float(dk.derivative(lambda y: dk.kn(n, y), method=method)(x)) for x in K_POINTS]
        np.testing.assert_allclose(got, slope, rtol=1e-13)


def test_kv_by_the_symbolic_engine_near_the_underflow():
    with mp.workdps(50):
        want = float(mp.diff(lambda y: mp.besselk(0.5, y), mp.mpf(700), 2))
    got = dk.derivative(lambda y: dk.kv(0.5, y), n=2, method="symbolic")(700.0)
    assert float(got) == pytest.approx(want, rel=1e-12, abs=0.0)
