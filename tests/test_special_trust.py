"""Bug hunt (area: text functions and scipy special functions). Each test asserts the RIGHT answer
against an independent reference (mpmath at 50 digits or a hand-derived closed form), so each one
fails on the current code."""

import warnings

import mpmath as mp
import numpy as np
import pytest

import diffkit as dk

mp.mp.dps = 50
AD = ["forward", "reverse"]


def _mp_diff(f, x, n):
    with mp.workdps(50):
        return float(mp.diff(f, mp.mpf(x), n))


def _log_ndtr_ref(x, n):
    return _mp_diff(lambda t: mp.log(mp.ncdf(t)), x, n)


# log_ndtr's derivatives far in the left tail are silently wrong (cancellation in exp(-x²/2 - log_ndtr)):
# at x=-1000 the 2nd derivative is -1.0000329 (true -0.999999), in every engine
@pytest.mark.parametrize("method", ["forward", "reverse", "symbolic"])
def test_log_ndtr_second_derivative_left_tail(method):
    f = dk.parse("log_ndtr(x)")
    got = dk.derivative(f, n=2, method=method)(-1000.0)
    assert got == pytest.approx(_log_ndtr_ref(-1000.0, 2), rel=1e-9)


# log_ndtr's 4th derivative at x=-100 has the wrong sign and is 350x too large (-2.1e-5, true +6.0e-8)
@pytest.mark.parametrize("method", ["forward", "reverse", "symbolic"])
def test_log_ndtr_fourth_derivative_left_tail(method):
    f = dk.parse("log_ndtr(x)")
    got = dk.derivative(f, n=4, method=method)(-100.0)
    assert got == pytest.approx(_log_ndtr_ref(-100.0, 4), rel=1e-6)


# log_ndtr's FIRST derivative at x=-1e5 is off in the 7th digit (100000.074, true 100000.00001)
@pytest.mark.parametrize("method", ["forward", "reverse", "symbolic"])
def test_log_ndtr_first_derivative_far_left_tail(method):
    f = dk.parse("log_ndtr(x)")
    (got,) = dk.grad(f, method=method)(-1e5)
    assert got == pytest.approx(_log_ndtr_ref(-1e5, 1), rel=1e-12)


# expit/sigmoid'''(0) is 0 in forward and reverse mode (true -1/8): the rule e/(1+e)², e = exp(-|x|),
# loses h''(0)·sign(0)² when differentiated twice more
@pytest.mark.parametrize("method", AD)
@pytest.mark.parametrize("name", ["expit", "sigmoid"])
def test_logistic_third_derivative_at_zero(name, method):
    f = dk.parse(f"{name}(x)")
    assert dk.derivative(f, n=3, method=method)(0.0) == pytest.approx(-0.125, rel=1e-12)


# softplus''''(0) = sigmoid'''(0) = -1/8, but forward/reverse give 0 (same root cause)
@pytest.mark.parametrize("method", AD)
def test_softplus_fourth_derivative_at_zero(method):
    f = dk.parse("softplus(x)")
    assert dk.derivative(f, n=4, method=method)(0.0) == pytest.approx(-0.125, rel=1e-12)


# logaddexp(x, 1)'''' at the tie x = 1 is -1/8 (mpmath), forward/reverse give 0 (∂/∂x = sigmoid(x-y))
@pytest.mark.parametrize("method", AD)
def test_logaddexp_fourth_derivative_at_tie(method):
    f = dk.parse("logaddexp(x, 1)")
    ref = _mp_diff(lambda t: mp.log(mp.exp(t) + mp.e), 1.0, 4)
    assert ref == pytest.approx(-0.125, rel=1e-12)
    assert dk.derivative(f, n=4, method=method)(1.0) == pytest.approx(ref, rel=1e-9)


# logaddexp2(x, 1)'''' at the tie x = 1 is -0.0416281 (mpmath), forward/reverse give 0
@pytest.mark.parametrize("method", AD)
def test_logaddexp2_fourth_derivative_at_tie(method):
    f = dk.parse("logaddexp2(x, 1)")
    ref = _mp_diff(lambda t: mp.log(2**t + 2) / mp.log(2), 1.0, 4)
    assert dk.derivative(f, n=4, method=method)(1.0) == pytest.approx(ref, rel=1e-9)


# tanh'''(0) = -2, forward/reverse give 0 (_sech2 with exp(-2|x|): same root cause as sigmoid)
@pytest.mark.parametrize("method", AD)
def test_tanh_third_derivative_at_zero(method):
    f = dk.parse("tanh(x)")
    assert dk.derivative(f, n=3, method=method)(0.0) == pytest.approx(-2.0, rel=1e-12)


# symbolic sinc derivatives near (not at) 0 cancel catastrophically: sinc'(1e-9) = 0.0, sinc''(1e-9) = -9.87
# (true -3.29e-9 and -π²/3 = -3.29); only u == 0 exactly gets the Taylor series
@pytest.mark.parametrize("n", [1, 2, 3])
def test_symbolic_sinc_derivatives_near_zero(n):
    f = dk.parse("sinc(x)")
    x = 1e-9
    ref = _mp_diff(lambda t: mp.sinc(mp.pi * t), x, n)
    assert dk.derivative(f, n=n, method="symbolic")(x) == pytest.approx(ref, rel=1e-6, abs=1e-300)


# gammainc/gammaincc/betainc ∂/∂x at x = 0 (a >= 1... here a = 2.5) is 0 (x^(a-1)e^(-x)/Γ(a)), symbolic
# says 0, forward/reverse raise NonDifferentiableError "its local derivative is not finite" (xlogy(1.5, 0) = -inf)
@pytest.mark.parametrize("method", AD)
@pytest.mark.parametrize("text", ["gammainc(2.5, x)", "gammaincc(3, x)", "betainc(2, 3.5, x)"])
def test_incomplete_functions_derivative_at_x_zero(text, method):
    f = dk.parse(text)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        (got,) = dk.grad(f, method=method)(0.0)
    assert got == 0.0


# ----- added by the fix: the same findings over more points and orders ---------------------------


def _log_ndtr_ref_any(x, n):
    """mpmath's n-th derivative of log Φ (log(1 − Φ(−x)) for x > 0: no cancellation near Φ = 1)."""
    if x > 0:
        return _mp_diff(lambda t: mp.log1p(-mp.ncdf(-t)), x, n)
    return _log_ndtr_ref(x, n)


@pytest.mark.parametrize("method", ["forward", "reverse", "symbolic"])
@pytest.mark.parametrize("x", [-1e5, -1000.0, -100.0, -30.0, -5.0, -1.0, -0.5, 0.0, 3.0, 20.0])
def test_log_ndtr_derivatives_orders_one_to_four(x, method):
    f = dk.parse("log_ndtr(x)")
    for n in (1, 2, 3, 4):
        got = dk.derivative(f, n=n, method=method)(x)
        assert got == pytest.approx(_log_ndtr_ref_any(x, n), rel=1e-12), n


def test_log_ndtr_derivative_record_higher_orders_and_order_checks():
    xs = [-1e5, -50.0, -2.0, -1.0, -0.99, 0.7, 8.0]
    for n in range(1, 9):
        got = dk.log_ndtr_derivative(n, np.array(xs))
        for x, g in zip(xs, got):
            assert g == pytest.approx(_log_ndtr_ref_any(x, n), rel=1e-10), (n, x)
    with pytest.raises(dk.DomainError, match="integer order"):
        dk.grad(lambda x: dk.log_ndtr_derivative(1.5, x))(0.3)
    with pytest.raises(dk.DomainError, match="n >= 1"):
        dk.grad(lambda x: dk.log_ndtr_derivative(0, x))(0.3)
    g32 = dk.grad(lambda x: dk.log_ndtr(x))(np.float32(-40.0))[0]
    assert g32.dtype == np.float32 and g32 == pytest.approx(_log_ndtr_ref(-40.0, 1), rel=1e-6)


@pytest.mark.parametrize("method", AD)
@pytest.mark.parametrize("name", ["expit", "sigmoid", "tanh", "softplus"])
def test_logistic_family_all_orders_at_zero(name, method):
    f = dk.parse(f"{name}(x)")
    ref_fn = {"expit": lambda t: 1 / (1 + mp.exp(-t)), "sigmoid": lambda t: 1 / (1 + mp.exp(-t)),
              "tanh": mp.tanh, "softplus": lambda t: mp.log1p(mp.exp(t))}[name]
    for x in (0.0, 0.3, -2.0):
        for n in (1, 2, 3, 4, 5):
            want = _mp_diff(ref_fn, x, n)
            assert dk.derivative(f, n=n, method=method)(x) == pytest.approx(
                want, rel=1e-10, abs=1e-15), (x, n)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", ["expit", "sigmoid", "tanh", "softplus"])
def test_logistic_family_derivatives_finite_far_out(name, dtype):
    f = dk.parse(f"{name}(x)")
    big = [1000.0, -1000.0, 3e38] + ([1e300, -1e300] if dtype is np.float64 else [])
    for x in big:
        for n in (1, 2, 3, 4):
            for method in AD:
                with warnings.catch_warnings():
                    warnings.simplefilter("error")
                    got = dk.derivative(f, n=n, method=method)(dtype(x))
                assert np.isfinite(got), (x, n, method)
    # far out the derivatives are tiny, not 0 where σ(x) rounds to 1: σ′(40) = e^(−40)/(1+e^(−40))²
    (g,) = dk.grad(f)(40.0)
    want = {"expit": mp.exp(-40), "sigmoid": mp.exp(-40), "tanh": 4 * mp.exp(-80),
            "softplus": mp.mpf(1)}[name]
    assert g == pytest.approx(float(want), rel=1e-14)


def test_symbolic_sinc_fourth_derivative_near_zero():
    f = dk.parse("sinc(x)")
    ref = _mp_diff(lambda t: mp.sinc(mp.pi * t), 1e-9, 4)
    assert dk.derivative(f, n=4, method="symbolic")(1e-9) == pytest.approx(ref, rel=1e-9)
    assert ref == pytest.approx(19.48181820680, rel=1e-9)


@pytest.mark.parametrize("method", ["forward", "reverse", "symbolic"])
def test_incomplete_functions_at_the_boundary(method):
    """∂/∂x of the integrands' powers at the boundary: 0 for a power > 0, finite for 0, and a
    NonDifferentiableError naming the function only where it is infinite."""
    def grad(text, x):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return dk.grad(dk.parse(text), method=method)(x)[0]

    assert grad("gammainc(1, x)", 0.0) == 1.0
    assert grad("gammaincc(1, x)", 0.0) == -1.0
    assert grad("betainc(1, 3.5, x)", 0.0) == pytest.approx(3.5, rel=1e-14)  # 1/B(1, b) = b
    assert grad("betainc(2, 3.5, x)", 1.0) == 0.0
    assert grad("betainc(2.5, 1, x)", 1.0) == pytest.approx(2.5, rel=1e-14)  # 1/B(a, 1) = a
    for text, x in [("gammainc(0.5, x)", 0.0), ("betainc(0.5, 2, x)", 0.0),
                    ("betainc(2, 0.5, x)", 1.0)]:
        with pytest.raises(dk.NonDifferentiableError):
            grad(text, x)
    # the second derivative at x = 0 is the power's: P″(2, 0) = 1 (x·e^(−x)), Q″(3, 0) = 0
    assert dk.derivative(dk.parse("gammainc(2, x)"), n=2, method=method)(0.0) == pytest.approx(1.0)
    assert dk.derivative(dk.parse("gammaincc(3, x)"), n=2, method=method)(0.0) == 0.0


@pytest.mark.parametrize("method", AD)
@pytest.mark.parametrize(("fn", "x", "n"), [
    (lambda x: dk.gamma(x), 171.5, 1),
    (lambda x: dk.iv(2, x), 713.9, 2),
    (lambda x: dk.kv(5, x), 1e-60, 1),
])
def test_an_overflowing_derivative_is_a_numeric_overflow(fn, x, n, method):
    with pytest.raises(dk.NumericOverflowError, match="overflows"):
        dk.derivative(fn, n=n, method=method)(x)


def test_a_kink_is_still_not_differentiable():
    with pytest.raises(dk.NonDifferentiableError, match="sqrt"):
        dk.grad(dk.parse("sqrt(x)"))(0.0)


@pytest.mark.parametrize("ch", ["\u3164", "\u115f", "\u1160", "\uffa0", "\ufe00", "\u034f"])
def test_invisible_identifier_characters_are_refused(ch):
    for text in (ch, f"x{ch}", f"x + {ch}y"):
        with pytest.raises(dk.ParseError, match=f"U\\+{ord(ch):04X}"):
            dk.parse(text)
    with pytest.raises(dk.ParseError, match="invisible"):
        dk.parse("x", inputs=["x", f"y{ch}"])
    assert dk.parse("é + x_1")(1.0, 2.0) == 3.0  # visible letters stay names


# log_ndtr_derivative(0, x) was a NaN with a RuntimeWarning, while order 1.5 was a DomainError
def test_log_ndtr_derivative_order_zero_is_a_domain_error():
    with pytest.raises(dk.DomainError, match="n >= 1"):
        dk.log_ndtr_derivative(0, 0.5)
