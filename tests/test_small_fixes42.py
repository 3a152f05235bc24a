"""Five small fixes of hunts 42/2 and 42/5, each against an independent reference: NumPy's own
values, mpmath at 50 digits, JAX x64, hand formulas (1/n in long double, 100·100 mod 256)."""

from __future__ import annotations

import cmath

import mpmath as mp
import numpy as np
import pytest
import scipy.special as ss

import diffkit as dk

AD = ("reverse", "forward", "symbolic", "compiled")
LONG = np.finfo(np.longdouble).eps < np.finfo(np.float64).eps
needs_long = pytest.mark.skipif(not LONG, reason="np.longdouble is float64 here")


def _mp(v: np.longdouble) -> mp.mpf:
    """A long double's exact value (its 64-bit significand, scaled)."""
    m, e = np.frexp(v)
    return mp.ldexp(mp.mpf(int(np.ldexp(m, 64))), int(e) - 64)


# ----- 1. integer scalar overflow in the body: one named error on every path ---------------------

def _k_squared(x, k):
    return x * (k * k)


@pytest.mark.parametrize("call", [
    lambda: dk.function(lambda k: k * k)(np.int8(100)),
    lambda: dk.grad(_k_squared, wrt=0)(2.0, np.int8(100)),
    lambda: dk.grad(_k_squared, wrt=0, method="forward")(2.0, np.int8(100)),
    lambda: dk.grad(_k_squared, wrt=0, method="symbolic")(2.0, np.int8(100)),
    lambda: dk.grad(_k_squared, wrt=0, method="fd")(2.0, np.int8(100)),
    lambda: dk.grad(dk.function(_k_squared), wrt=0)(1.5, np.int64(2**40)),
    lambda: dk.jit(_k_squared)(1.5, np.int64(2**40)),
    lambda: dk.grad(dk.jit(_k_squared), wrt=0)(1.5, np.int64(2**40)),
    lambda: dk.value_and_grad(dk.jit(_k_squared), wrt=0)(1.5, np.int64(2**40)),
    lambda: dk.jacobian(dk.jit(_k_squared), wrt=0, method="forward")(1.5, np.int64(2**40)),
    lambda: dk.grad(dk.jit(lambda x, n: x * (n + 1)), wrt=0)(1.5, np.int8(127)),
])
def test_integer_scalar_overflow_is_named_alike(call):
    # NumPy's scalar arithmetic reports the int8 wrap as a floating-point overflow; under
    # diffkit's errors that is one NumericOverflowError (an OverflowError) naming NumPy's scalar
    # operation — never a bare FloatingPointError, never a floating-point *derivative*
    with pytest.raises(dk.NumericOverflowError) as info:
        call()
    text = str(info.value)
    assert "NumPy scalar operation" in text and "np.asarray" in text
    assert "derivative overflows" not in text and "floating-point type" not in text


def test_integer_arrays_wrap_as_numpy():
    k = np.array(100, np.int8)
    with np.errstate(over="ignore"):
        assert (k * k) == 16  # NumPy's own value: 10000 mod 256
    assert repr(dk.function(lambda k: k * k)(k)) == "np.int8(16)"
    for m in ("reverse", "forward", "compiled", "symbolic"):
        assert dk.grad(_k_squared, wrt=0, method=m)(2.0, k) == (16.0,)
        np.testing.assert_array_equal(
            dk.grad(lambda x, k: np.sum(x * (k * k)), wrt=0, method=m)(
                np.ones(2), np.array([100, 3], np.int8))[0],
            [16.0, 9.0])


# ----- 2. long double: 1/n, rationals and float_power kept in long double ------------------------

@needs_long
@pytest.mark.parametrize("method", AD)
def test_longdouble_mean_var_std_cbrt(method):
    x = np.array([1.2345678901234567890, 1.52415787532388, 0.5], dtype=np.longdouble)
    mp.mp.dps = 50
    X = [_mp(v) for v in x]
    m = sum(X) / 3
    sd = mp.sqrt(sum((a - m) ** 2 for a in X) / 3)
    expect = {
        "mean": (lambda x: np.mean(x), [mp.mpf(1) / 3] * 3),
        "var": (lambda x: np.var(x), [2 * (a - m) / 3 for a in X]),
        "std": (lambda x: np.std(x), [(a - m) / (3 * sd) for a in X]),
        "cbrt": (lambda x: np.cbrt(x[0]), [1 / (3 * mp.cbrt(X[0]) ** 2), 0, 0]),
    }
    eps = mp.mpf(float(np.finfo(np.longdouble).eps))
    for name, (f, ref) in expect.items():
        g = dk.grad(f, method=method)(x)[0]
        assert g.dtype == np.longdouble, name
        for gi, ri in zip(g, ref, strict=True):
            # a float64 1/3 was 512 ε(longdouble) off; the rounding of a few operations is left
            assert abs(_mp(gi) - ri) <= 8 * eps * max(abs(ri), 1e-30), (name, gi, ri)


@needs_long
def test_jit_float_power_keeps_longdouble():
    x = np.array([0.3, 1.7], dtype=np.longdouble)
    def f(x):
        return np.float_power(x, 2.1)

    want = f(x)  # NumPy's loop gg->g
    assert want.dtype == np.longdouble
    j = dk.jit(f)
    for got in (dk.function(f)(x), j(x), j(x)):
        assert got.dtype == np.longdouble
        np.testing.assert_array_equal(got, want)


# ----- 3. NumPy functions passed directly (array_function_dispatch wrappers) ---------------------

def test_numpy_dispatched_functions_are_differentiated():
    jax = pytest.importorskip("jax")
    jax.config.update("jax_enable_x64", True)
    jnp = jax.numpy
    x = np.array([1.0, 2.0, -0.5])
    for f, jf in ((np.linalg.norm, jnp.linalg.norm), (np.sum, jnp.sum), (np.mean, jnp.mean),
                  (np.std, jnp.std)):
        np.testing.assert_allclose(dk.grad(f)(x)[0], np.asarray(jax.grad(jf)(x)), rtol=1e-14)
    np.testing.assert_allclose(dk.derivative(np.sinc)(0.3), float(jax.grad(jnp.sinc)(0.3)),
                               rtol=1e-13)
    z = np.array([1 + 2j, 3 - 1j])
    jac = dk.jacobian(np.angle)(z)
    for i in range(2):  # a real output of complex inputs: JAX's gradient convention, per element
        np.testing.assert_allclose(jac[i], np.asarray(jax.grad(lambda z, i=i: jnp.angle(z)[i])(z)),
                                   atol=1e-15)


def test_own_signature_of_a_wraps_wrapper_is_kept():
    import functools

    def inner(x, y):
        return x * y

    @functools.wraps(inner)
    def fixed(x):  # fixes an argument: its own inputs (commit b13e426), not inner's
        return inner(x, 3.0)

    assert list(dk.function(fixed).inputs) == ["x"]
    assert dk.derivative(fixed)(2.0) == 3.0


# ----- 4. dk.derivative by finite differences at complex points ----------------------------------

@pytest.mark.parametrize("method", ["fd", "fd-central", "fd-richardson"])
def test_fd_derivative_at_complex_points(method):
    z = 0.3 + 0.4j
    for f, fp in ((np.sin, cmath.cos), (np.exp, cmath.exp), (np.log, lambda z: 1 / z)):
        d = dk.derivative(f, method=method)(z)
        assert d == dk.grad(f, method=method)(z)[0]  # grad's numbers
        assert abs(d - fp(z)) < 1e-7 * abs(fp(z))
    d = dk.derivative(np.abs, method=method)(z)  # real-valued: JAX's ∂x − i∂y = z̄/|z|
    assert abs(d - (0.6 - 0.8j)) < 1e-7
    zz = np.array([0.3 + 0.4j, -1 + 0.2j])
    np.testing.assert_allclose(dk.derivative(np.sin, method=method)(zz), np.cos(zz), rtol=1e-7)
    with pytest.raises(dk.ShapeError):
        dk.derivative(lambda z: np.cumsum(z), method=method)(zz)
    with pytest.raises(dk.MissingRuleError):
        dk.derivative(np.sin, method=method, n=2)(z)


# ----- 5. beta where a + b is a pole of Γ --------------------------------------------------------

@pytest.mark.parametrize("method", ["reverse", "forward", "compiled", "fd-richardson"])
@pytest.mark.parametrize("point", [(-2.5, -1.5), (-0.5, -0.5), (-2.25, -0.75), (0.7, 1.3)])
def test_beta_where_a_plus_b_is_a_pole(method, point):
    mp.mp.dps = 50
    a, b = point

    def B(a, b):
        return mp.gamma(a) * mp.gamma(b) * mp.rgamma(a + b)

    want = [mp.diff(B, point, (1, 0)), mp.diff(B, point, (0, 1))]
    f = dk.function(lambda a, b: ss.beta(a, b))
    got = dk.grad(f, method=method)(a, b)
    tol = 1e-8 if method.startswith("fd") else 1e-13
    for g, w in zip(got, want, strict=True):
        assert abs(g - float(w)) <= tol * abs(float(w)), (g, w)
    if method in ("reverse", "forward"):
        H = dk.hessian(f, method=method)(a, b)
        Hw = [[mp.diff(B, point, (2, 0)), mp.diff(B, point, (1, 1))],
              [mp.diff(B, point, (1, 1)), mp.diff(B, point, (0, 2))]]
        np.testing.assert_allclose(H, np.array(Hw, dtype=float), rtol=1e-12)
