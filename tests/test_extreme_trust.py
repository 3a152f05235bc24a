"""Exact methods at extreme but finite arguments: rules whose own derivatives keep their digits.

References: mpmath at 50 digits and hand formulas, computed in each test. Each case was a silent
wrong number before (hunt h6_4): second derivatives near 0 that cancelled in the table's
first-derivative rules, intermediates of a rule's derivative that underflowed, the norm's
direction at tiny vectors, logsumexp's 1 − p, and the symbolic engine's silent overflows.
"""

import mpmath as mp
import numpy as np
import pytest

import diffkit as dk

mp.mp.dps = 50


def _close(v, ref, rtol=1e-12):
    v, ref = float(v), float(ref)
    return abs(v - ref) <= rtol * abs(ref)


def _d2(f, x, method):
    if method == "jit":
        return dk.jit(dk.derivative(f, 2))(x)
    return dk.derivative(f, 2, method=method)(x)


def _sig(x):
    return 1 / (1 + mp.exp(-x))


def _sigmoid2(x):  # σ'' = σ(x)σ(−x)(σ(−x) − σ(x)), with no 1 − σ to round at 50 digits
    return _sig(x) * _sig(-x) * (_sig(-x) - _sig(x))


# ---- second derivatives near 0 (the first-derivative rules were built for ±1 / large |x|) -----

_NEAR_ZERO = [
    ("tanh", dk.tanh, lambda x: -2 * mp.tanh(x) / mp.cosh(x) ** 2),
    ("arctanh", dk.arctanh, lambda x: 2 * x / (1 - x * x) ** 2),
    ("arcsin", dk.arcsin, lambda x: x / (1 - x * x) ** mp.mpf(1.5)),
    ("arccos", dk.arccos, lambda x: -x / (1 - x * x) ** mp.mpf(1.5)),
    ("sigmoid", dk.sigmoid, _sigmoid2),
    ("expit", dk.expit, _sigmoid2),
]


@pytest.mark.parametrize("method", ["reverse", "forward", "jit"])
@pytest.mark.parametrize("name,f,d2", _NEAR_ZERO, ids=[c[0] for c in _NEAR_ZERO])
@pytest.mark.parametrize("x", [1e-12, 1e-20, -3e-9])
def test_second_derivative_near_zero_keeps_its_digits(name, f, d2, x, method):
    # tanh''(1e-20) = -2e-20, arcsin''(1e-20) = 1e-20, sigmoid''(1e-20) = -1.25e-21: these were 0
    # (and ~1e-4 relative error at 1e-12)
    assert _close(_d2(f, x, method), d2(mp.mpf(x)), 1e-10), (name, x, method)


@pytest.mark.parametrize("name,f,d2", _NEAR_ZERO, ids=[c[0] for c in _NEAR_ZERO])
@pytest.mark.parametrize("x", [0.3, 0.7, -0.999999])
def test_second_derivative_away_from_zero_too(name, f, d2, x):
    # both sides of the rules' branch at |x| = ½, and near the edge of the domain
    assert _close(dk.derivative(f, 2)(x), d2(mp.mpf(x)), 1e-9), (name, x)


def test_softplus_third_derivative_near_zero():
    assert _close(dk.derivative(dk.softplus, 3)(1e-20), _sigmoid2(mp.mpf(1e-20)), 1e-10)


@pytest.mark.parametrize("x", [-700.0, -40.0, 40.0, 700.0])
def test_sigmoid_first_and_second_derivative_far_out(x):
    # the σ′ = ¼ sech²(x/2) form keeps σ(x)σ(−x)'s accuracy where σ rounds to 0 or 1
    xm = mp.mpf(x)
    assert _close(dk.derivative(dk.sigmoid)(x), _sig(xm) * _sig(-xm))
    assert _close(dk.derivative(dk.expit, 2)(x), _sigmoid2(xm), 1e-10)


# ---- arctan'' at large x: 1/(1 + x²)² underflowed before the factor 2x ---------------------

@pytest.mark.parametrize("method", ["reverse", "forward", "jit"])
@pytest.mark.parametrize("x", [1e80, 1e100, -1e100, 3.0])
def test_arctan_second_derivative_at_large_x(x, method):
    xm = mp.mpf(x)
    assert _close(_d2(dk.arctan, x, method), -2 * xm / (1 + xm * xm) ** 2), (x, method)


def test_arctan_third_derivative_both_branches():
    for x in [0.5, 2.0, -7.0]:
        xm = mp.mpf(x)
        assert _close(dk.derivative(dk.arctan, 3)(x), (6 * xm * xm - 2) / (1 + xm * xm) ** 3, 1e-10)


# ---- hypot's and the norm's second derivative: y²/r³, not 1/r − x²/r³ -----------------------

@pytest.mark.parametrize("method", ["reverse", "forward"])
@pytest.mark.parametrize("x,y", [(1.0, 1e-8), (-1e-8, 2.0), (3.0, -4.0)])
def test_hypot_hessian(x, y, method):
    H = dk.hessian(lambda v: dk.hypot(v[0], v[1]), method=method)(np.array([x, y]))
    xm, ym = mp.mpf(x), mp.mpf(y)
    r3 = (xm * xm + ym * ym) ** mp.mpf(1.5)
    ref = np.array([[float(ym * ym / r3), float(-xm * ym / r3)],
                    [float(-xm * ym / r3), float(xm * xm / r3)]])
    np.testing.assert_allclose(H, ref, rtol=1e-10)


@pytest.mark.parametrize("method", ["reverse", "forward", "jit"])
def test_hypot_second_derivative_large_x(method):
    # d²/dx² hypot(x, 1) = 1/(1+x²)^{3/2} = 1e-24 at 1e8; it was 0
    v = _d2(lambda x: dk.hypot(x, 1.0), 1e8, method)
    assert _close(v, 1 / (1 + mp.mpf(1e8) ** 2) ** mp.mpf(1.5), 1e-10), float(v)


@pytest.mark.parametrize("method", ["reverse", "forward"])
@pytest.mark.parametrize("v", [[1.0, 1e-8], [1.0, -2.0, 2.0], [1e-9, 3.0, -1e-9]])
def test_norm_hessian(v, method):
    # (‖v‖²I − vvᵀ)/‖v‖³, entry by entry with mpmath
    H = dk.hessian(lambda u: np.linalg.norm(u), method=method)(np.array(v))
    vm = [mp.mpf(a) for a in v]
    r = mp.sqrt(sum(a * a for a in vm))
    ref = [[float(((r * r if i == j else 0) - vm[i] * vm[j]) / r ** 3) for j in range(len(v))]
           for i in range(len(v))]
    np.testing.assert_allclose(H, ref, rtol=1e-10, atol=0)


# ---- the norm's gradient at a tiny (nonzero) vector --------------------------------------------

@pytest.mark.parametrize("method", ["reverse", "forward", "symbolic"])
@pytest.mark.parametrize("scale", [1e-160, 1e-170, 1e-300])
def test_norm_gradient_of_tiny_vector(scale, method):
    # ∇‖v‖ = v/‖v‖ = (0.6, 0.8); it was (0, 0) at 1e-170 (‖v‖ underflowed: "the origin")
    (g,) = dk.grad(lambda u: np.linalg.norm(u), method=method)(np.array([3.0, 4.0]) * scale)
    np.testing.assert_allclose(g, [0.6, 0.8], rtol=1e-12)


def test_norm_gradient_of_tiny_vector_jit_and_axes():
    g = dk.jit(dk.grad(lambda u: np.linalg.norm(u)))(np.array([3e-170, 4e-170]))
    np.testing.assert_allclose(np.reshape(g, -1), [0.6, 0.8], rtol=1e-12)
    a = np.array([[3e-170, 1.0], [4e-170, 0.0]])
    J = dk.jacobian(lambda u: np.linalg.norm(u, axis=0))(a)
    np.testing.assert_allclose(np.reshape(J, (2, 4)), [[0.6, 0, 0.8, 0], [0, 1, 0, 0]], rtol=1e-12)
    (g0,) = dk.grad(lambda u: np.linalg.norm(u))(np.zeros(3))  # the subgradient 0 at 0 stays
    np.testing.assert_array_equal(g0, np.zeros(3))


# ---- logsumexp / log_softmax / softmax: 1 − p where p → 1 --------------------------------------

@pytest.mark.parametrize("method", ["reverse", "forward", "symbolic"])
@pytest.mark.parametrize("t", [20.0, 40.0, 0.5])
def test_logsumexp_hessian_large_gap(t, method):
    # lse(0, t): H = σ(t)σ(−t)·[[1, −1], [−1, 1]]; H[1,1] was 0 at t = 40, 4e-8 off at 20
    H = dk.hessian(lambda v: dk.logsumexp(v), method=method)(np.array([0.0, t]))
    ref = float(_sig(mp.mpf(t)) * _sig(-mp.mpf(t)))
    np.testing.assert_allclose(H, [[ref, -ref], [-ref, ref]], rtol=1e-12)


@pytest.mark.parametrize("method", ["reverse", "forward"])
@pytest.mark.parametrize("x", [40.0, -40.0])
def test_logsumexp_second_derivative_along_a_line(x, method):
    # lse(x, 2x) = x + softplus(x): second derivative σ(x)σ(−x) (reverse had −4.25e-18 at 40)
    f = lambda t: dk.logsumexp(dk.stack([t, 2.0 * t]))
    xm = mp.mpf(x)
    assert _close(dk.derivative(f, 2, method=method)(x), _sig(xm) * _sig(-xm), 1e-10)


@pytest.mark.parametrize("method", ["reverse", "forward"])
def test_softmax_and_log_softmax_jacobians_with_a_dominant_entry(method):
    v = np.array([0.0, 40.0, 1.0])
    vm = [mp.mpf(a) for a in v]
    z = sum(mp.exp(a) for a in vm)
    p = [mp.exp(a) / z for a in vm]
    Jp = dk.jacobian(lambda u: dk.softmax(u), method=method)(v)
    Jl = dk.jacobian(lambda u: dk.log_softmax(u), method=method)(v)
    ref_p = [[float(p[i] * ((1 if i == j else 0) - p[j])) for j in range(3)] for i in range(3)]
    ref_l = [[float((1 if i == j else 0) - p[j]) for j in range(3)] for i in range(3)]
    np.testing.assert_allclose(Jp, ref_p, rtol=1e-12)
    np.testing.assert_allclose(Jl, ref_l, rtol=1e-12)
    # the dominant entry's diagonal, 1 − p = 1.58e-17, was 0
    assert _close(Jp[1, 1], p[1] * (1 - p[1]))


def test_logsumexp_values_unchanged():
    x = np.array([[1.0, 2.0, 30.0], [0.0, 0.0, 0.0], [-1e300, 5.0, 4.0]])
    ref = [float(mp.log(sum(mp.exp(mp.mpf(a)) for a in row))) for row in x]
    np.testing.assert_allclose(dk.logsumexp(x, axis=1), ref, rtol=1e-15)
    np.testing.assert_allclose(np.sum(dk.softmax(x, axis=1), axis=1), 1.0, rtol=1e-15)


# ---- the symbolic engine: no silent overflow of an intermediate --------------------------------

@pytest.mark.parametrize("x", [400.0, 700.0])
def test_symbolic_quotient_with_overflowing_square(x):
    # d/dx eˣ/cosh x ≈ 1e-347 at 400: the symbolic program answered 2.0 (cosh⁻² was 0 while eˣ
    # was huge). An honest answer is ~0 or a NumericOverflowError, as docs/design.md promises.
    xm = mp.mpf(x)
    ref = 4 * mp.exp(-2 * xm) / (1 + mp.exp(-2 * xm)) ** 2
    try:
        v = dk.derivative(lambda t: dk.exp(t) / dk.cosh(t), method="symbolic")(x)
    except dk.errors.NumericOverflowError:
        return
    assert abs(float(v) - float(ref)) <= 1e-300, float(v)


def test_symbolic_coth_derivative_with_overflowing_square():
    # d/dx cosh/sinh = −1/sinh² ≈ −1e-347 at 400; the symbolic program answered 1.0
    try:
        v = dk.derivative(lambda t: dk.cosh(t) / dk.sinh(t), method="symbolic")(400.0)
    except dk.errors.NumericOverflowError:
        return
    assert abs(float(v)) <= 1e-300, float(v)


@pytest.mark.parametrize("x", [1e160, 1e200, -1e300])
def test_symbolic_arcsinh_derivative_at_large_x_is_not_silently_zero(x):
    # 1/√(1 + x²) = 1e-160 …; the symbolic program answered 0.0 (x² overflowed to inf)
    ref = 1 / mp.sqrt(1 + mp.mpf(x) ** 2)
    try:
        v = dk.derivative(dk.arcsinh, method="symbolic")(x)
    except dk.errors.NumericOverflowError:
        return
    assert _close(v, ref)


@pytest.mark.parametrize("x", [1000.0, -1000.0, 30.0])
def test_symbolic_overflow_in_an_unused_branch_is_no_error(x):
    # sigmoid's translation has exp(x) in the branch not taken for x > 0: its overflow must not
    # be an error, as the value is not used
    xm = mp.mpf(x)
    ref = _sig(xm) * _sig(-xm)  # 5e-435 at ±1000: 0.0 in float64
    v = dk.derivative(dk.sigmoid, method="symbolic")(x)
    assert _close(v, ref, 1e-12) if float(ref) else v == 0.0
