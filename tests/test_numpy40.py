"""NumPy's long tail (hunt 40): np.diff of a boolean mask, np.polynomial's fit/roots/division
named as np.polyfit is, NumPy's internal in-place writes named as NumPy's, nanmedian/nanquantile
refusing a NaN of a differentiated value in every engine, dtype= of the cumulative reductions,
ediff1d's dtype, np.poly1d named. References by hand (a linear function's gradient is its
coefficients) and NumPy's own values and dtypes."""

from __future__ import annotations

import numpy as np
import pytest

import diffkit as dk
from diffkit.errors import InputTypeError, MissingRuleError, NonDifferentiableError

MODES = ("reverse", "forward")

# ----- 1. np.diff of a traced boolean mask is NumPy's not_equal (a constant) ----------------------

X4 = np.array([0.3, -1.2, 2.5, 0.7])


@pytest.mark.parametrize("method", MODES)
def test_diff_of_a_boolean_mask_is_a_constant_mask(method):
    f = lambda x: np.sum(np.diff(x > 0) * x[1:])
    mask = np.array([True, True, False])  # (x > 0) = [T, F, T, T]: changes at 1, 2
    assert f(X4) == pytest.approx(1.3)
    np.testing.assert_array_equal(dk.grad(f, method=method)(X4)[0], [0.0, 1.0, 1.0, 0.0])
    assert dk.jit(f)(X4) == pytest.approx(1.3)
    out = dk.jit(lambda x: np.diff(x > 0))(X4)
    assert out.dtype == np.bool_
    np.testing.assert_array_equal(out, mask)


def test_diff_of_a_mask_twice_and_prepended_as_numpy():
    f = lambda x: np.sum(np.diff(x > 0, n=2, prepend=True) * x[1:])
    # [T, T, F, T, T] → [F, T, T, F] → [T, F, T]: x1 + x3
    assert dk.jit(f)(X4) == pytest.approx(f(X4)) == pytest.approx(-0.5)
    np.testing.assert_array_equal(dk.grad(f)(X4)[0], [0.0, 1.0, 0.0, 1.0])
    _, t = dk.jvp(f, (X4,), (np.ones(4),))
    assert t == pytest.approx(2.0)


# ----- 2. np.polynomial's fit, roots, companion and division: named, as np.polyfit --------------

XS = np.linspace(0.0, 1.0, 6)
C3 = np.array([0.5, -1.2, 0.8])


@pytest.mark.parametrize(("f", "name"), [
    (lambda y: np.sum(np.polynomial.Polynomial.fit(XS, y, 2).coef),
     r"numpy\.polynomial\.polynomial\.polyfit \(Polynomial\.fit\)"),
    (lambda y: np.sum(np.polynomial.chebyshev.chebfit(XS, y, 2)),
     r"numpy\.polynomial\.chebyshev\.chebfit"),
    (lambda y: np.sum(np.polynomial.hermite_e.hermefit(XS, y, 1)),
     r"numpy\.polynomial\.hermite_e\.hermefit"),
])
def test_polynomial_fits_are_missing_rules_naming_them_and_lstsq(f, name):
    with pytest.raises(MissingRuleError, match=name + r".*method='fd'.*np\.linalg\.lstsq"):
        dk.grad(f)(np.sin(XS))


@pytest.mark.parametrize(("f", "name"), [
    (lambda c: np.sum(np.polynomial.Polynomial(c).roots()),
     r"polynomial\.polyroots \(Polynomial\.roots\)"),
    (lambda c: np.sum(np.polynomial.Chebyshev(c).roots()), r"chebyshev\.chebroots"),
    (lambda c: np.sum(np.polynomial.legendre.legroots(c)), r"legendre\.legroots"),
    (lambda c: np.sum(np.polynomial.laguerre.lagcompanion(c)), r"laguerre\.lagcompanion"),
    (lambda c: np.sum(np.polynomial.polynomial.polydiv(c, c[:2])[0]), r"polynomial\.polydiv"),
])
def test_polynomial_roots_and_division_are_missing_rules_naming_them(f, name):
    with pytest.raises(MissingRuleError, match=name + r".*method='fd'") as info:
        dk.grad(f)(C3)
    assert "a = a -" not in str(info.value)  # no line of NumPy's to rewrite


def test_the_fit_the_message_suggests_is_differentiated():
    """Least squares on the Vandermonde matrix is linear in y: its gradient is the column sums
    of the pseudo-inverse (computed here by NumPy on plain numbers)."""
    vander = np.polynomial.chebyshev.chebvander(XS, 2)
    f = lambda y: np.sum(np.linalg.lstsq(vander, y, rcond=None)[0])
    np.testing.assert_allclose(dk.grad(f)(np.sin(XS))[0], np.linalg.pinv(vander).sum(axis=0),
                               atol=1e-12)


def test_untraced_polynomial_functions_are_numpys():
    y = np.sin(XS)
    original = np.polynomial.chebyshev.chebfit.numpy_function
    np.testing.assert_array_equal(np.polynomial.chebyshev.chebfit(XS, y, 2), original(XS, y, 2))
    np.testing.assert_allclose(np.polynomial.Polynomial([2.0, -3.0, 1.0]).roots(), [1.0, 2.0])


def test_an_in_place_write_inside_numpy_names_numpys_function_and_the_users_call():
    original = np.polynomial.chebyshev.chebcompanion.numpy_function  # NumPy's, unwrapped

    def f(c):
        return np.sum(original(c))

    with pytest.raises(MissingRuleError, match=(
            r"NumPy's numpy\.polynomial\.chebyshev\.chebcompanion writes a traced value into a "
            r"NumPy array in place internally \(at chebyshev\.py:\d+\).*the call at "
            r"test_numpy40\.py:\d+ \(return np\.sum\(original\(c\)\)\).*method='fd'")) as info:
        dk.grad(f)(C3)
    assert "a = a -" not in str(info.value)


def test_an_in_place_write_in_the_users_code_still_says_how_to_rewrite_it():
    def f(c):
        a = np.zeros(3)
        a -= c
        return np.sum(a)

    with pytest.raises(dk.TracingError, match=r"a -= c.*`a = a - x`"):
        dk.grad(f)(C3)


@pytest.mark.parametrize("f", [lambda c: np.poly1d(c)(0.5), lambda c: np.sum(np.poly1d(c).r)])
def test_poly1d_is_named_not_the_trim_zeros_it_calls(f):
    with pytest.raises(MissingRuleError, match=r"numpy\.poly1d \(called at .*numpy\.trim_zeros"):
        dk.grad(f)(C3)


def test_np_polyval_still_differentiates_a_polynomial():
    """d/dc (c0·x² + c1·x + c2) at x = 0.5 is (x², x, 1)."""
    np.testing.assert_allclose(dk.grad(lambda c: np.polyval(c, 0.5))(C3)[0], [0.25, 0.5, 1.0])


# ----- 3. a NaN of a differentiated value in nanmedian/nanquantile: refused in every engine -----

D = np.array([1.0, np.nan, 2.0, 0.5])
W = np.array([0.3, -1.2, 2.5, 0.7])


@pytest.mark.parametrize("f", [
    lambda w: np.nanmedian(w * D),
    lambda w: np.nanquantile(w * D, 0.3),
    lambda w: np.sum(np.nanquantile(w * D, [0.3, 0.6])),
    lambda w: np.nanpercentile(w * D, 40.0),
    lambda w: np.nansum(w * D),  # (refused before too: the reference behaviour)
], ids=["nanmedian", "nanquantile", "nanquantile q array", "nanpercentile", "nansum"])
@pytest.mark.parametrize("how", ["reverse", "forward", "jvp", "jacobian forward"])
def test_a_nan_times_a_differentiated_value_is_refused_by_every_engine(f, how):
    with pytest.raises(NonDifferentiableError):
        if how == "jvp":
            dk.jvp(f, (W,), (np.ones(4),))
        elif how == "jacobian forward":
            dk.jacobian(f, method="forward")(W)
        else:
            dk.grad(f, method=how)(W)


@pytest.mark.parametrize("method", MODES)
def test_a_constant_nan_is_skipped_with_the_derivative_of_the_rest(method):
    """w + D: D's NaN is a constant; of the numbers (w0 + 1, w2 + 2, w3 + 0.5) = (1.3, 4.5,
    1.2) the median is w0 + 1 and the 0.3-quantile (index 0.6 between 1.2 and 1.3) is
    0.4·(w3 + 0.5) + 0.6·(w0 + 1)."""
    np.testing.assert_allclose(dk.grad(lambda w: np.nanmedian(w + D), method=method)(W)[0],
                               [1.0, 0.0, 0.0, 0.0])
    np.testing.assert_allclose(
        dk.grad(lambda w: np.nanquantile(w + D, 0.3), method=method)(W)[0],
        [0.6, 0.0, 0.0, 0.4], atol=1e-15)
    assert dk.jit(lambda w: np.nanquantile(w + D, 0.3))(W) == np.nanquantile(W + D, 0.3)


def test_nanmedian_of_minus_zero_stays_minus_zero():
    out = dk.jit(lambda w: np.nanmedian(w[:2] * 0.0 - np.array([0.0, np.nan])))(W)
    expected = np.nanmedian(W[:2] * 0.0 - np.array([0.0, np.nan]))
    assert out == expected and np.signbit(out) == np.signbit(expected)


# ----- 4. dtype= of cumsum, cumprod, prod and their nan-versions; ediff1d's dtype ---------------

X3 = np.array([0.1, 0.7, 1.3])
N3 = np.array([0.0, np.nan, 0.0])


@pytest.mark.parametrize(("f", "grad"), [
    (lambda x: np.cumsum(x, dtype=np.float32), [3.0, 2.0, 1.0]),
    (lambda x: np.cumprod(x, dtype=np.float32),
     [1 + 0.7 + 0.7 * 1.3, 0.1 + 0.1 * 1.3, 0.1 * 0.7]),
    (lambda x: np.prod(x, dtype=np.float32), [0.7 * 1.3, 0.1 * 1.3, 0.1 * 0.7]),
    (lambda x: np.cumsum(x, dtype=np.float16), [3.0, 2.0, 1.0]),
    (lambda x: np.nansum(x + N3, dtype=np.float32), [1.0, 0.0, 1.0]),
    (lambda x: np.nancumsum(x + N3, dtype=np.float32), [3.0, 0.0, 1.0]),
    (lambda x: np.nanprod(x + N3, dtype=np.float32), [1.3, 0.0, 0.1]),
    (lambda x: np.nancumprod(x + N3, dtype=np.float32), [1 + 1 + 1.3, 0.0, 0.1]),
    (lambda x: np.nanmean(x + N3, dtype=np.float32), [0.5, 0.0, 0.5]),
], ids=["cumsum", "cumprod", "prod", "cumsum f16", "nansum", "nancumsum", "nanprod",
        "nancumprod", "nanmean"])
@pytest.mark.parametrize("method", MODES)
def test_dtype_is_numpys_accumulation_dtype(f, grad, method):
    value = dk.jit(f)(X3)
    assert np.asarray(value).dtype == f(X3).dtype
    np.testing.assert_array_equal(value, f(X3))
    g = dk.grad(lambda x: np.sum(f(x)).astype(np.float64), method=method)(X3)[0]
    np.testing.assert_allclose(g, grad, rtol=1e-3)  # float16/float32 partials


def test_cumsum_dtype_agrees_with_add_accumulate():
    a = dk.jit(lambda x: np.cumsum(x, dtype=np.float32))(X3)
    b = dk.jit(lambda x: np.add.accumulate(x, dtype=np.float32))(X3)
    assert a.dtype == b.dtype == np.float32
    np.testing.assert_array_equal(a, b)


def test_nanmean_with_an_integer_dtype_is_numpys_type_error():
    with pytest.raises(InputTypeError, match="dtype must be inexact"):
        dk.grad(lambda x: np.nanmean(x, dtype=np.int64))(X3)


@pytest.mark.parametrize("f", [
    lambda x: np.ediff1d(x, to_begin=np.array([1.0])),
    lambda x: np.ediff1d(x, to_begin=np.array([1.0]), to_end=[2.0, 3.0]),
    lambda x: np.ediff1d(x, to_end=x[:1] * 2.0),
    lambda x: np.ediff1d(x),
])
def test_ediff1d_gives_the_arrays_dtype(f):
    x = np.array([0.3, -1.2, 2.5], dtype=np.float32)
    out = dk.jit(f)(x)
    assert out.dtype == f(x).dtype == np.float32
    np.testing.assert_array_equal(out, f(x))


def test_ediff1d_gradient_by_hand():
    """Σ k·out_k of out = [1, x1 − x0, x2 − x1, 2, 3]: (−1, 1 − 2, 2)."""
    x = np.array([0.3, -1.2, 2.5], dtype=np.float32)
    f = lambda x: np.sum(np.ediff1d(x, to_begin=[1.0], to_end=[2.0, 3.0]) * np.arange(5.0))
    for method in MODES:
        np.testing.assert_array_equal(dk.grad(f, method=method)(x)[0], [-1.0, -1.0, 2.0])


def test_ediff1d_refuses_what_numpy_cannot_cast():
    with pytest.raises(InputTypeError, match=r"ediff1d.*to_begin.*same_kind"):
        dk.grad(lambda x: np.sum(np.ediff1d(x, to_begin=1j)))(X3)


# ----- 5. np.asarray of a float32 traced array: documented, NumPy's promotion of its elements ---

def test_asarray_of_a_float64_traced_array_promotes_as_numpy():
    """The documented limit concerns float32/float16/complex64 elements only: float64 elements
    lose nothing (the float64 operand is float64 either way). f = Σ((x + 1e8) − 1e8)², 2x."""
    x = np.array([0.1, 0.7])
    f = lambda x: np.sum(((np.asarray(x) + np.float64(1e8)) - np.float64(1e8)) ** 2)
    np.testing.assert_allclose(dk.grad(f)(x)[0], 2 * x, rtol=1e-7)
