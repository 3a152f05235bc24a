"""numpy.polynomial's series objects meeting traced values (hand-derived references).

A series class sets ``__array_ufunc__ = None``: by NumPy's rule (NEP 13) a traced operand's
operator answers NotImplemented and the series' reflected method does the arithmetic. Series
division by a one-term series is traced; a long division is refused by name (NumPy's ``//``
used to swallow that error into a bare "unsupported operand" TypeError).
"""

import numpy as np
import pytest
from numpy.polynomial import Chebyshev, Polynomial

import diffkit as dk

METHODS = ("reverse", "forward")
X = 1.5

# (function of x, its derivative by hand): a series' coef sum is its value at t = 1
CASES = {
    # x·(1 + 2t): coefficients sum to 3x
    "number times series": (lambda x: (x * Polynomial([1.0, 2.0])).coef.sum(), lambda x: 3.0),
    # (1 + 2t) + x²: 3 + x²
    "series plus number": (lambda x: (Polynomial([1.0, 2.0]) + x * x).coef.sum(), lambda x: 2 * x),
    # x − (1 + 2t): x − 3
    "number minus series": (lambda x: (x - Polynomial([1.0, 2.0])).coef.sum(), lambda x: 1.0),
    # x·T0 + 2·T1 + 3·T2 = (x − 3) + 2t + 6t²: coefficients sum to x + 5
    "convert": (lambda x: Chebyshev([x, 2.0, 3.0]).convert(kind=Polynomial).coef.sum(),
                lambda x: 1.0),
    # x + 2t + x²(2t² − 1): sums to x + 2 + x²
    "cast": (lambda x: Polynomial.cast(Chebyshev([x, 2.0, x * x])).coef.sum(),
             lambda x: 1 + 2 * x),
    # x + 2q + 3q² at q = 1 + t, t = 1: x + 16
    "composition": (lambda x: Polynomial([x, 2.0, 3.0])(Polynomial([1.0, 1.0])).coef.sum(),
                    lambda x: 1.0),
    # (1 + 2t + 3t²) // x: coefficients sum to 6/x
    "floor division by a number": (lambda x: (Polynomial([1.0, 2.0, 3.0]) // x).coef.sum(),
                                   lambda x: -6 / x**2),
    # (x + 2t) / 2: (x + 2) / 2
    "true division by a number": (lambda x: (Polynomial([x, 2.0]) / 2.0).coef.sum(),
                                  lambda x: 0.5),
    # (x + 2t) % (1 + 2t + 3t²): a shorter dividend is its own remainder
    "shorter dividend": (lambda x: (Polynomial([x, 2.0]) % Polynomial([1.0, 2.0, 3.0])).coef.sum(),
                         lambda x: 1.0),
}


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("case", sorted(CASES))
def test_series_arithmetic_on_traced_values(case, method):
    f, df = CASES[case]
    (g,) = dk.grad(f, method=method)(X)
    assert g == pytest.approx(df(X), rel=1e-14, abs=1e-15)


def test_series_of_a_traced_array_divided_by_a_number():
    w = np.array([1.0, 2.0, 3.0])
    (g,) = dk.grad(lambda c: (Polynomial(c) // 2.0).coef.sum())(w)
    np.testing.assert_allclose(g, [0.5, 0.5, 0.5], rtol=0, atol=0)


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("spelling", ["//", "%", "divmod", "reflected //"])
def test_long_division_of_traced_series_is_refused_by_name(spelling, method):
    def f(x):
        a, b = Chebyshev([x, 2.0, 3.0]), Chebyshev([1.0, 1.0])
        if spelling == "//":
            out = a // b
        elif spelling == "%":
            out = a % b
        elif spelling == "divmod":
            out = divmod(a, b)[0]
        else:
            out = Chebyshev([1.0, 2.0, 3.0]) // Chebyshev([x, 1.0])
        return out.coef.sum()

    with pytest.raises(dk.MissingRuleError, match="chebdiv"):
        dk.grad(f, method=method)(X)


def test_untraced_series_division_is_numpys():
    q, r = divmod(Polynomial([1.0, 2.0, 3.0]), Polynomial([1.0, 1.0]))
    np.testing.assert_array_equal(q.coef, [-1.0, 3.0])
    np.testing.assert_array_equal(r.coef, [2.0])
    with pytest.raises(ZeroDivisionError):
        Polynomial([1.0, 2.0]) // Polynomial([0.0])


@pytest.mark.parametrize("method", METHODS)
def test_true_division_by_a_traced_number(method):
    # (1 + 2t + 3t²)/x: coefficients sum to 6/x; NumPy's / takes numbers.Number only
    p = Polynomial([1.0, 2.0, 3.0])
    (g,) = dk.grad(lambda x: (p / x).coef.sum(), method=method)(X)
    assert g == pytest.approx(-6 / X**2, rel=1e-14)


def test_true_division_by_an_array_stays_numpys_type_error():
    with pytest.raises(TypeError, match="unsupported types for true division"):
        Polynomial([1.0, 2.0]) / np.array([1.0, 2.0])
