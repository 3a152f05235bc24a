"""Trust: higher derivatives of gammainc and betainc in x near 0.

Their x-partial, the density x^(a−1)·e^(−x)/Γ(a) (resp. x^(a−1)(1 − x)^(b−1)/B(a, b)), was written
exp((a − 1)·log x − …) everywhere: its k-th derivative sums terms ~x^(−k) that cancel to
~x^(a−1−k), so at x = 1e-9 the fourth derivative of gammainc(2, x) was −128 (forward) and 4
(reverse) for 3, and betainc(2, 3, x)'s 2048 and 656 for 72. The reference is mpmath at 50 digits:
P⁽ⁿ⁾ is the (n − 1)-th derivative of the density, differentiated by mpmath."""

from __future__ import annotations

import pytest

import diffkit as dk

mp = pytest.importorskip("mpmath")
pytest.importorskip("scipy.special")

GAMMA = [(a, x) for a in (2.0, 2.5, 7.0) for x in (1e-9, 1e-3, 0.3, 40.0)]
BETA = [(a, b, x) for a, b in ((2.0, 3.0), (0.5, 0.7), (2.5, 1.5)) for x in (1e-9, 1e-3, 0.3, 0.999)]


def _close(got: float, want: float) -> None:
    assert abs(got - want) <= 1e-7 * abs(want) + 1e-250, (got, want)


@pytest.mark.parametrize("method", ["forward", "reverse"])
@pytest.mark.parametrize("a, x", GAMMA)
def test_gammainc_derivatives_in_x(method: str, a: float, x: float) -> None:
    f = dk.parse(f"gammainc({a!r}, x)")
    with mp.workdps(50):
        def density(t: object) -> object:
            return t ** (a - 1) * mp.exp(-t) / mp.gamma(a)

        for n in (1, 2, 3, 4):
            _close(dk.derivative(f, n=n, method=method)(x),
                   float(mp.diff(density, mp.mpf(x), n - 1)))


@pytest.mark.parametrize("method", ["forward", "reverse"])
@pytest.mark.parametrize("a, b, x", BETA)
def test_betainc_derivatives_in_x(method: str, a: float, b: float, x: float) -> None:
    f = dk.parse(f"betainc({a!r}, {b!r}, x)")
    with mp.workdps(50):
        def density(t: object) -> object:
            return t ** (a - 1) * (1 - t) ** (b - 1) / mp.beta(a, b)

        for n in (1, 2, 3, 4):
            _close(dk.derivative(f, n=n, method=method)(x),
                   float(mp.diff(density, mp.mpf(x), n - 1)))


@pytest.mark.parametrize("a", [2.0, 10.0, 30.0, 50.0])
def test_gammainc_float32_derivative_where_the_powers_leave_float32(a: float) -> None:
    """x^(a−1) overflows float32 for a ≳ 28 while e^(−x − ln Γ(a)) underflows: the power form
    must stay inside float32's range (a NumericOverflowError for 30 at x = 30 otherwise). The
    reference is the density x^(a−1)e^(−x)/Γ(a) by mpmath."""
    np = pytest.importorskip("numpy")
    special = pytest.importorskip("scipy.special")
    for x in (a / 2, a, 1.5 * a):
        got = dk.grad(lambda t: special.gammainc(np.float32(a), t))(np.float32(x))[0]
        want = float(mp.mpf(x) ** (a - 1) * mp.exp(-x) / mp.gamma(a))
        assert got.dtype == np.float32
        assert abs(float(got) - want) <= 2e-5 * want
