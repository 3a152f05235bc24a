"""Hunt 43/r5 findings 1, 3 and 6: weighted_logsumexp's zero weights; dk.jit of a derivative
runs every check dk.grad runs at a call; a jit Hessian names the primal's domain first.

References: hand values, mpmath (values and derivatives), JAX x64's
``jax.scipy.special.logsumexp(a, b=b)``; for the refusals, the hand fact that the derivative
is NaN (a NaN datum meets the point) or that log is undefined below 0."""

import math

import mpmath
import numpy as np
import pytest

import diffkit as dk

# ----- finding 1: weighted_logsumexp masks entries of weight 0 (SciPy's documented rule) -----

_MASKED = [
    (np.array([800.0, 1.0]), np.array([0.0, 1.0]), 1.0),  # was -inf (sign 0)
    (np.array([np.inf, 1.0]), np.array([0.0, 1.0]), 1.0),  # was NaN
    (np.array([np.nan, 1.0]), np.array([0.0, 1.0]), 1.0),  # was NaN
    (np.array([-np.inf, 1.0]), np.array([0.0, 1.0]), 1.0),
    (np.array([800.0, 1.0, 2.0]), np.array([0.0, 1.0, 1.0]), math.log(math.e + math.e ** 2)),
    (np.array([800.0, 1.0, 2.0]), np.array([0.0, -1.0, 3.0]),
     math.log(3 * math.e ** 2 - math.e)),
]


@pytest.mark.parametrize(("a", "b", "hand"), _MASKED)
def test_weighted_logsumexp_masks_zero_weights(a, b, hand):
    assert dk.weighted_logsumexp(a, b=b) == pytest.approx(hand, rel=1e-15)
    value, sign = dk.weighted_logsumexp(a, b=b, return_sign=True)
    assert float(value) == pytest.approx(hand, rel=1e-15) and float(sign) == 1.0


def test_weighted_logsumexp_masks_rows_like_jax():
    jax = pytest.importorskip("jax")
    jax.config.update("jax_enable_x64", True)
    from jax.scipy.special import logsumexp as jlse
    a = np.array([[800.0, 1.0, 2.0], [np.inf, -3.0, 0.5], [4.0, np.nan, 7.0], [1.0, 2.0, 3.0]])
    b = np.array([[0.0, 1.0, 1.0], [0.0, 2.0, 1.0], [1.0, 0.0, 0.0], [0.0, 0.0, 0.0]])
    for axis in (1, -1):
        got = dk.weighted_logsumexp(a, b=b, axis=axis)
        want = np.asarray(jlse(a, axis=axis, b=b))
        np.testing.assert_allclose(got, want, rtol=1e-15)  # the last row: -inf in both
    got, sign = dk.weighted_logsumexp(a[:3], b=b[:3], axis=1, return_sign=True)
    want, wsign = jlse(a[:3], axis=1, b=b[:3], return_sign=True)
    np.testing.assert_allclose(got, np.asarray(want), rtol=1e-15)
    np.testing.assert_array_equal(sign, np.asarray(wsign))


def _mp_lse(a, b):
    return mpmath.log(mpmath.fsum(bi * mpmath.exp(ai) for ai, bi in zip(a, b)))


@pytest.mark.parametrize("method", ["reverse", "forward", "compiled"])
def test_weighted_logsumexp_derivatives_at_a_zero_weight(method):
    mpmath.mp.dps = 40
    a, b = np.array([3.0, 1.0, -2.0]), np.array([0.0, 1.0, 2.0])
    ga, gb = dk.grad(lambda a, b: dk.weighted_logsumexp(a, b=b), method=method)(a, b)
    A, B = [mpmath.mpf(v) for v in a], [mpmath.mpf(v) for v in b]
    for i in range(3):  # ∂/∂b_i = e^(a_i)/Σ, also at b_i = 0 (e² at the first entry)
        da = mpmath.diff(lambda t, i=i: _mp_lse([*A[:i], t, *A[i + 1:]], B), A[i])
        db = mpmath.diff(lambda t, i=i: _mp_lse(A, [*B[:i], t, *B[i + 1:]]), B[i])
        assert ga[i] == pytest.approx(float(da), rel=1e-14, abs=1e-300)
        assert gb[i] == pytest.approx(float(db), rel=1e-14)
    assert gb[0] == pytest.approx(math.exp(3.0) / (math.exp(1.0) + 2 * math.exp(-2.0)))


def test_weighted_logsumexp_b_derivative_at_a_masked_infinity_is_refused():
    # ∂/∂b₀ log(b₀·e^∞ + e) = e^∞/e is infinite: no number (the value, 1, stays)
    a, b = np.array([np.inf, 1.0]), np.array([0.0, 1.0])
    with pytest.raises(dk.NonDifferentiableError):
        dk.grad(lambda b: dk.weighted_logsumexp(a, b=b))(b)
    # by a alone the masked entry's partial is b₀·e^a₀/Σ = 0 (a finite a₀ = 800: no overflow)
    g = dk.grad(lambda a: dk.weighted_logsumexp(a, b=b))(np.array([800.0, 1.0]))[0]
    np.testing.assert_array_equal(g, [0.0, 1.0])


# ----- finding 3: a jit derivative runs dk.grad's final checks (non-finite data, result) -----

def _quad(w, X):
    return dk.sum((X @ w) ** 2)


_W = np.array([1.0, 2.0])
_X = np.array([[1.0, 2.0], [3.0, 4.0]])
_XNAN = np.array([[np.nan, 2.0], [3.0, 4.0]])


@pytest.mark.parametrize("method", ["reverse", "forward", "compiled", "auto"])
@pytest.mark.parametrize("make", [dk.grad, dk.value_and_grad])
def test_jit_derivative_names_nan_data(make, method):
    g = dk.jit(make(_quad, wrt=0, method=method))
    got = g(_W, _X)
    grad = got[1][0] if make is dk.value_and_grad else got[0]
    np.testing.assert_allclose(grad, 2 * _X.T @ _X @ _W, rtol=1e-15)  # hand: 2XᵀXw
    with pytest.raises(dk.NonDifferentiableError, match="'X', not differentiated, hold NaN"):
        g(_W, _XNAN)  # 2XᵀXw with a NaN in X is NaN (was [nan, nan], silently)


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_jit_body_with_a_derivative_at_a_held_point(bad):
    # d/dt Σ t·x at t = 1 is Σ x: NaN/inf where x holds one (the fresh call refuses)
    def body(x):
        return dk.grad(lambda t: dk.sum(t * x))(1.0)[0]

    h = dk.jit(body)
    assert h(np.array([1.0, 2.0])) == 3.0
    with pytest.raises(dk.NonDifferentiableError):
        h(np.array([bad, 2.0]))  # was nan / inf
    with pytest.raises(dk.NonDifferentiableError):  # also where the output masks it
        dk.jit(lambda x: np.nan_to_num(dk.grad(lambda t: dk.sum(t * x))(np.ones(2))[0]))(
            np.array([bad, 2.0]))
    assert h(np.array([4.0, 2.0])) == 6.0  # and later calls at valid points answer


@pytest.mark.parametrize("make", [
    lambda x: dk.derivative(lambda t: dk.sum(t * x))(1.0),
    lambda x: dk.jvp(lambda t: t * x, (np.ones(2),), (np.ones(2),))[1],
    lambda x: dk.jacobian(lambda t: t * x)(np.ones(2)),
])
def test_jit_derivative_kinds_refuse_nan(make):
    h = dk.jit(make)
    h(np.array([1.0, 2.0]))
    with pytest.raises(dk.NonDifferentiableError):
        h(np.array([np.nan, 2.0]))


# ----- finding 6: a jit Hessian of log names log's domain first, as a fresh call -------------

@pytest.mark.parametrize("make", [
    dk.hessian, lambda f: dk.hessian(f, method="forward"),
    lambda f: (lambda x: dk.derivative(lambda t: f(x * t), 2)(1.0))])
def test_jit_second_derivative_of_log_names_the_domain(make):
    g = dk.jit(make(lambda x: dk.sum(np.log(x))))
    g(np.array([0.5, 2.0, 0.3]))
    with pytest.raises(dk.DomainError, match="log"):  # was NumericOverflowError from 1/x²
        g(np.array([-1e-300, 3.0, 0.5]))
    x = np.array([0.5, 2.0, 0.3])
    got = np.asarray(g(x))
    want = np.diag(-1 / x ** 2) if got.ndim == 2 else -3.0  # hand: −1/x²; Σ −(x/(x t))² = −3
    np.testing.assert_allclose(got, want, rtol=1e-14)
