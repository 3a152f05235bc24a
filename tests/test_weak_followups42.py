"""Follow-ups to the held-Python-float change (a182913) and the five small fixes (69cef40),
one section per finding of the review hunt (hunt42_r1): each test names its independent
reference (a hand formula, the body run directly, mpmath at 50 digits, JAX x64).
"""

from __future__ import annotations

import math

import mpmath as mp
import numpy as np
import pytest

import diffkit as dk

METHODS = [None, "reverse", "compiled", "forward", "symbolic"]


def _kw(method):
    return {} if method is None else {"method": method}


# ----- 1. a jit body that reads a held Python float concretely -------------------------------
# dk.grad(dk.jit(f), wrt=0)(x, 0.1) raised TracingError ("'k' is itself an argument being
# differentiated") with the default method, 'reverse' and 'compiled': the compiled engine's
# weak-number guard made the first trace (k read as a float64 input) outside the fallback
# that a first trace which raises has elsewhere.

CONCRETE = [
    ("float", lambda x, k: np.sin(x) * float(k), lambda x, k: math.cos(x) * k),
    ("math.exp", lambda x, k: np.sin(x) * math.exp(k), lambda x, k: math.cos(x) * math.exp(k)),
    ("round", lambda x, k: x * round(k, 1), lambda x, k: round(k, 1)),
    ("np.float32", lambda x, k: x * x * np.float32(k), lambda x, k: 2 * x * float(np.float32(k))),
    ("int", lambda x, k: x ** int(k), lambda x, k: int(k) * x ** (int(k) - 1)),
]


@pytest.mark.parametrize("method", METHODS[:4])
@pytest.mark.parametrize("name,body,deriv", CONCRETE, ids=[c[0] for c in CONCRETE])
def test_jit_grad_of_a_body_reading_a_held_float(method, name, body, deriv):
    F = dk.jit(body)
    for _ in range(3):  # first and later calls
        (g,) = dk.grad(F, wrt=0, **_kw(method))(2.0, 3.1)
        assert g == pytest.approx(deriv(2.0, 3.1), rel=1e-14, abs=0)
        v, (g,) = dk.value_and_grad(F, wrt=0, **_kw(method))(2.0, 3.1)
        assert v == body(2.0, 3.1) and g == pytest.approx(deriv(2.0, 3.1), rel=1e-14, abs=0)


@pytest.mark.parametrize("method", METHODS[:4])
def test_jit_grad_of_a_norm_whose_order_is_a_held_float(method):
    x = np.array([0.3, -1.7, 2.2])
    (g,) = dk.grad(dk.jit(lambda x, o: np.linalg.norm(x, ord=o)), wrt=0, **_kw(method))(x, 3.0)
    ref = np.sign(x) * np.abs(x) ** 2 / np.sum(np.abs(x) ** 3) ** (2 / 3)  # hand: d‖x‖₃
    np.testing.assert_allclose(g, ref, rtol=1e-14)


@pytest.mark.parametrize("method", METHODS[:4])
def test_jit_grad_of_arange_to_a_held_float(method):
    F = dk.jit(lambda x, a: np.sum(x * np.arange(0.0, a, 0.5)))
    (g,) = dk.grad(F, wrt=0, **_kw(method))(2.0, 2.2)
    assert g == 0.0 + 0.5 + 1.0 + 1.5 + 2.0  # hand: the sum of the range


# ----- 2. the first call of a jit function whose trace holds at that call only ----------------
# A branch on a traced value (or a value-read piece, np.argmax) makes a first trace that holds
# at this call only; with a held Python float beside a float32 closure that first trace (the
# float read as float64) was returned as the call's graph: value 2.5133332411448164 where the
# body gives 2.5133333563804627, and a float64 1.3f·(1/3) gradient, on the first call only.

C32 = np.float32(1.3)


def _branches(x, k):
    if x[0] > 0:  # a branch on a traced value
        return np.sum(x * (C32 * k))
    return np.sum(x)


def _argmax_piece(x, k):
    return x * (C32 * k), np.argmax(x)


X3 = np.array([0.1, 3.0, 2.7])


def test_first_jit_call_of_a_branching_body_is_the_body():
    ref = _branches(X3, 1 / 3)  # the body itself: C32 * (1/3) is float32 (NEP 50)
    F = dk.jit(_branches)
    for _ in range(2):
        got = F(X3, 1 / 3)
        assert got == ref and np.asarray(got).dtype == np.asarray(ref).dtype
    got, ref = dk.jit(_argmax_piece)(X3, 1 / 3), _argmax_piece(X3, 1 / 3)
    np.testing.assert_array_equal(got[0], ref[0])
    assert got[1] == ref[1]


@pytest.mark.parametrize("method", METHODS + ["auto"])
def test_first_jit_gradient_of_a_branching_body_is_the_bodys(method):
    slope = C32 * (1 / 3)  # the body's own float32 product
    assert slope.dtype == np.float32
    v, (g,) = dk.value_and_grad(dk.jit(_branches), wrt=0, **_kw(method))(X3, 1 / 3)
    assert v == _branches(X3, 1 / 3)
    np.testing.assert_array_equal(g, np.full(3, float(slope)))


# ----- 3. long double constants in dk.jit's generated code ------------------------------------
# compiler._const_text printed a long double constant through .item() (a Python float) and a
# uniform long double constant array became a float64 scalar: x * (1/3 in long double) under
# dk.jit was 0.23333333333333332038 where the body gives 0.23333333333333333333, and the jit
# gradients of var/std(ddof=1), mean(x**2) were 512 ε(long double) off (1/7 printed as
# 0.14285714285714285).

LONG = np.finfo(np.longdouble).eps < np.finfo(np.float64).eps
needs_long = pytest.mark.skipif(not LONG, reason="long double is float64 on this platform")


def _mp(x):
    n, d = np.longdouble(x).as_integer_ratio()
    return mp.mpf(n) / d


def _ulps_long(got, ref):
    """|got − ref| / |ref| in ε(long double), `ref` an mpmath number (50 digits)."""
    return float(abs(_mp(got) - ref) / abs(ref) / _mp(np.finfo(np.longdouble).eps))


P = np.longdouble(1) / 3
XL = np.array([np.longdouble(v) for v in ("0.7", "1.3", "2.9", "-0.4", "5.1", "0.25", "1.0")])


@needs_long
@pytest.mark.parametrize("body", [lambda x: x * P, lambda x: x + P, lambda x: x ** P,
                                  lambda x: np.sum(x * P), lambda x: x * np.array([P] * 7)],
                         ids=["mul", "add", "pow", "sum", "uniform-array"])
def test_jit_value_with_a_long_double_constant_is_the_bodys(body):
    F = dk.jit(body)
    for x in (np.abs(XL), XL[0]):
        ref = body(x)  # the body itself, in long double
        for _ in range(3):  # first call, then the generated code
            got = F(x)
            assert np.asarray(got).dtype == np.longdouble
            np.testing.assert_array_equal(got, ref)


@needs_long
@pytest.mark.parametrize("method", [None, "reverse", "compiled"])
def test_jit_gradients_in_long_double_match_mpmath(method):
    mp.mp.dps = 50
    xs = [_mp(v) for v in XL]
    n = len(xs)
    mean = sum(xs) / n
    var = sum((v - mean) ** 2 for v in xs) / (n - 1)
    cases = [  # hand formulas evaluated in mpmath
        (lambda a: np.sum(np.sin(a) * P), [mp.cos(v) / 3 for v in xs]),
        (lambda a: np.var(a, ddof=1), [2 * (v - mean) / (n - 1) for v in xs]),
        (lambda a: np.std(a, ddof=1), [(v - mean) / ((n - 1) * mp.sqrt(var)) for v in xs]),
        (lambda a: np.mean(a ** 2), [2 * v / n for v in xs]),
    ]
    for body, ref in cases:
        G = dk.grad(dk.jit(body), **_kw(method))
        for _ in range(3):
            (g,) = G(XL)
            assert max(_ulps_long(gi, ri) for gi, ri in zip(g, ref)) <= 4


@needs_long
def test_source_of_a_never_called_jit_gradient_with_a_long_double_constant():
    G = dk.grad(dk.jit(lambda x: np.sum(x * P)))
    assert "def grad" in G.source  # was an internal TracingError (float64 literal vs long double)
    G(XL)
    assert "0.3333333333333333" not in G.source  # the constant is named, not printed


# ----- 4. long double derivatives whose rule holds a mathematical constant -------------------
# ln 10, ln 2, π/180, 180/π and π were float64 numbers in the rules (and in the symbolic
# engine's long double program, with NumPy's own long double sinc, which multiplies by the
# float64 π): log10′ was 869 ε(long double) off, log2′ 308, exp2′ 309, deg2rad′ 156 (symbolic
# 360), rad2deg′ 320, sinc′ 310, in every engine.

def _sinc_mp(t):
    return mp.sin(mp.pi * t) / (mp.pi * t)


CONSTANT_RULES = [  # (name, body, derivative in mpmath: hand formulas)
    ("log10", np.log10, lambda t: 1 / (t * mp.log(10))),
    ("log2", np.log2, lambda t: 1 / (t * mp.log(2))),
    ("exp2", np.exp2, lambda t: mp.log(2) * 2 ** t),
    ("deg2rad", np.deg2rad, lambda t: mp.pi / 180),
    ("rad2deg", np.rad2deg, lambda t: 180 / mp.pi),
    ("sinc", np.sinc, lambda t: (mp.cos(mp.pi * t) - _sinc_mp(t)) / t),
    ("logaddexp2", lambda x: np.logaddexp2(x, np.longdouble("0.25")),
     lambda t: 2 ** t / (2 ** t + 2 ** mp.mpf("0.25"))),
]


@needs_long
@pytest.mark.parametrize("method", ["reverse", "forward", "symbolic", "compiled"])
@pytest.mark.parametrize("name,body,deriv", CONSTANT_RULES, ids=[c[0] for c in CONSTANT_RULES])
def test_long_double_derivatives_with_constants_match_mpmath(method, name, body, deriv):
    mp.mp.dps = 50
    for v in ("0.7", "2.3", "0.1"):  # (sinc at 0.1: its series branch)
        x = np.longdouble(v)
        for f in (body, dk.jit(body)):
            (g,) = dk.grad(f, method=method)(x)
            assert np.asarray(g).dtype == np.longdouble
            assert _ulps_long(g, deriv(_mp(x))) <= 4, (v, g)  # (sinc′ cancels: 2.3 ε)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name,body,deriv", CONSTANT_RULES[:6], ids=[c[0] for c in CONSTANT_RULES[:6]])
def test_narrower_derivatives_with_constants_keep_their_dtype(dtype, name, body, deriv):
    mp.mp.dps = 50
    x = np.array([0.7, 2.3], dtype)
    (g,) = dk.grad(lambda x: np.sum(body(x)))(x)
    assert g.dtype == dtype  # the constant stays a weak Python float beside float32
    ref = np.array([float(deriv(_mp(v))) for v in x])
    np.testing.assert_allclose(g, ref, rtol=64 * np.finfo(dtype).eps)  # (sinc′ cancels)


# ----- 5. functools.partial of a NumPy function ----------------------------------------------
# partial(np.linalg.norm, ord=3) was refused ("cannot read the parameters"): the signature of a
# NumPy dispatcher is read through __wrapped__, which a partial does not have.


@pytest.mark.parametrize("method", ["reverse", "forward", "compiled", "symbolic"])
def test_partial_of_a_numpy_function(method):
    from functools import partial

    x = np.array([0.3, -1.7, 2.2])
    ref = np.sign(x) * np.abs(x) ** 2 / np.sum(np.abs(x) ** 3) ** (2 / 3)  # hand: d‖x‖₃
    for f in (partial(np.linalg.norm, ord=3), partial(partial(np.linalg.norm, ord=3), axis=0)):
        (g,) = dk.grad(f, method=method)(x)
        np.testing.assert_allclose(g, ref, rtol=1e-13)
    (g,) = dk.grad(partial(np.dot, x), method=method)(2 * x)  # a fixed positional argument
    np.testing.assert_array_equal(g, x)
    assert dk.jit(partial(np.linalg.norm, ord=3))(x) == np.linalg.norm(x, ord=3)


# ----- 6. scipy.special.beta near (not at) a pole of Γ(a + b) -------------------------------
# The stable form of ∂B was used only exactly at the pole: at b = −1.5 + 1e-13 (a = −2.5) the
# mixed second derivative was 6.3e11 where mpmath gives 64.657, the gradient 6e-4 relative off.

NEAR_POLES = [(-2.5, -1.5 + 1e-13), (-2.5, -1.5 - 1e-13), (-2.5, -1.5 + 1e-9),
              (-2.5, -1.5 - 1e-5), (0.5, -0.4999999999), (-0.5, -0.500000000001),
              (1.3, -2.3 + 0.2), (-3.7, 0.7 - 0.26)]


@pytest.mark.parametrize("method", ["reverse", "forward", "compiled"])
@pytest.mark.parametrize("a,b", NEAR_POLES)
def test_beta_derivatives_near_a_pole_of_gamma_of_the_sum(method, a, b):
    scipy_special = pytest.importorskip("scipy.special")
    mp.mp.dps = 50
    A, B = mp.mpf(a), mp.mpf(b)  # the binary a and b, exactly
    ga = float(mp.diff(lambda u: mp.beta(u, B), A))
    gb = float(mp.diff(lambda v: mp.beta(A, v), B))
    hab = float(mp.diff(lambda u, v: mp.beta(u, v), (A, B), (1, 1)))
    f = lambda a, b: scipy_special.beta(a, b)
    g = dk.grad(f, method=method)(a, b)
    np.testing.assert_allclose(g, (ga, gb), rtol=1e-13)
    h = dk.hessian(f, method="reverse" if method == "compiled" else method)(a, b)
    np.testing.assert_allclose(h[0, 1], hab, rtol=1e-13)
