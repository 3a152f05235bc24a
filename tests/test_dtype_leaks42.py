"""Dtype leaks of np.linspace, np.gradient with coordinates and np.select once traced, and the
symbolic engine's NaN closure constant (hunt42_4, findings 1 and 2).

References: NumPy's own result (dtype and value, bit for bit) on the plain arrays; JAX x64 for
the derivatives; for the NaN constant, the other engines' refusal (docs/design.md, NaN-ignoring
reductions)."""

import numpy as np
import pytest

import diffkit as dk
from diffkit.errors import NonDifferentiableError


def _jax():
    """JAX with 64-bit floats, or a skip where it is not installed (CI does not install it)."""
    jax = pytest.importorskip("jax")
    jax.config.update("jax_enable_x64", True)
    return jax, jax.numpy

RNG = np.random.default_rng(42)
DTYPES = [np.float16, np.float32, np.float64, np.complex64]
COORDS = np.array([0.0, 0.1, 0.5, 1.3, 1.4, 2.9])

PROGRAMS = {
    "linspace": lambda a: np.linspace(a[0], a[1], 7),
    "linspace_python_stop": lambda a: np.linspace(a[0], 1.3, 7),
    "linspace_no_endpoint": lambda a: np.linspace(a[0], a[1], 7, endpoint=False),
    "linspace_vector": lambda a: np.linspace(a[:2], a[2:4], 5),
    "linspace_float64_start": lambda a: np.linspace(np.float64(0.3), a[1], 5),
    "gradient_coords": lambda a: np.gradient(a, COORDS),
    "gradient_coords_edge2": lambda a: np.gradient(a, COORDS, edge_order=2),
    "gradient_int_coords": lambda a: np.gradient(a, np.array([0, 1, 3, 4, 7, 8])),
    "gradient_float64_spacing": lambda a: np.gradient(a, np.float64(0.1)),
    "gradient_uniform_coords": lambda a: np.gradient(a, np.arange(6) * 0.7, edge_order=2),
    "select_default": lambda a: np.select([a.real > 1], [a], default=0.1),
    "select_implicit_default": lambda a: np.select([a.real > 1], [a]),
    "select_python_choice": lambda a: np.select([a.real > 1, a.real < -1], [a, 0.5], default=2),
}


def _data(dtype):
    a = (RNG.standard_normal(6) * 3).astype(dtype)
    if np.dtype(dtype).kind == "c":
        a = a + 1j * RNG.standard_normal(6).astype(dtype)
    return a


def _same(got, want):
    got, want = np.asarray(got), np.asarray(want)
    assert got.dtype == want.dtype, (got.dtype, want.dtype)
    assert got.shape == want.shape
    np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("name", sorted(PROGRAMS))
def test_traced_value_is_numpys(name, dtype):
    """The jit call, vjp's and jvp's primal and value_and_grad's value are NumPy's own result:
    its dtype (float32 stays float32) and its value bit for bit."""
    f = PROGRAMS[name]
    a = _data(dtype)
    want = f(a)
    jitted = dk.jit(f)
    jitted(a)
    _same(jitted(a), want)
    _same(dk.vjp(f, a)[0], want)
    _same(dk.jvp(f, (a,), (np.ones_like(a),))[0], want)
    if np.dtype(dtype).kind == "f":
        value = dk.value_and_grad(lambda t: np.sum(f(t)))(a)[0]
        _same(value, np.sum(want))


JAX_PROGRAMS = {  # (the NumPy program, the same in jax.numpy: jnp, a)
    "linspace": (lambda a: np.linspace(a[0], a[1], 7),
                 lambda jnp, a: jnp.linspace(a[0], a[1], 7)),
    "gradient_coords": (lambda a: np.gradient(a, COORDS),
                        lambda jnp, a: jnp.gradient(a, jnp.asarray(COORDS))),
    "select_default": (lambda a: np.select([a > 1], [a], default=0.1),
                       lambda jnp, a: jnp.select([a > 1], [a], default=0.1)),
}


@pytest.mark.parametrize("method", ["reverse", "forward", "compiled"])
@pytest.mark.parametrize("name", sorted(JAX_PROGRAMS))
def test_float32_jacobian_matches_jax(name, method):
    """The rules on the float32 program: JAX x64's Jacobian (at the same float32 point) within
    float32's rounding, in float32."""
    jax, jnp = _jax()
    f, g = JAX_PROGRAMS[name]
    a = _data(np.float32)
    want = np.asarray(jax.jacobian(lambda v: g(jnp, v))(jnp.asarray(a, dtype=jnp.float64)))
    got = dk.jacobian(f, method=method)(a)
    got = got[0] if isinstance(got, tuple) else got
    assert np.asarray(got).dtype == np.float32
    np.testing.assert_allclose(got, want, rtol=2e-6, atol=2e-6)


def test_linspace_float32_hand_values():
    """float32 linspace by hand: i·step + start in float32, the last sample stop."""
    a = np.array([0.3, 0.9], dtype=np.float32)
    step = np.float32((a[1] - a[0]) / np.float32(3))
    want = np.array([np.float32(i) * step + a[0] for i in range(3)] + [a[1]], dtype=np.float32)
    _same(dk.jit(lambda a: np.linspace(a[0], a[1], 4))(a), want)


# ----- the symbolic engine and a NaN closure constant ---------------------------------------

D = np.array([0.5, np.nan, 2.0])
W = np.array([1.0, 2.0, 3.0])

NAN_PROGRAMS = {
    "nansum": lambda w: np.nansum(w * D),
    "nanmean": lambda w: np.nanmean(w * D),
    "masked_where": lambda w: np.sum(np.where(np.isnan(D), 0.0, w * D)),
    "nansum_sin": lambda w: np.nansum(np.sin(w) * D),
    "nansum_pow": lambda w: np.nansum(w**D),
    "nansum_matmul": lambda w: np.nansum(np.array([[1.0, np.nan, 2.0], [2.0, 3.0, 1.0]]) @ w),
    "nansum_einsum": lambda w: np.nansum(np.einsum("i,j->ij", w, D)),
}


@pytest.mark.parametrize("name", sorted(NAN_PROGRAMS))
def test_symbolic_refuses_nan_constant_as_the_other_engines(name):
    """design.md: where a NaN meets a differentiated value the derivative is NaN (JAX: nan), a
    NonDifferentiableError; reverse refuses, and symbolic now too (it answered [0.5, 0, 2])."""
    f = NAN_PROGRAMS[name]
    with pytest.raises(NonDifferentiableError):
        dk.grad(f, method="reverse")(W)
    with pytest.raises(NonDifferentiableError):
        dk.grad(f, method="symbolic")(W)
    with pytest.raises(NonDifferentiableError):
        dk.grad(dk.jit(f), method="symbolic")(W)


def test_symbolic_nan_constant_hessian_and_jax():
    """JAX x64's gradient holds the NaN; the symbolic Hessian (all zeros before) refuses."""
    with pytest.raises(NonDifferentiableError):
        dk.hessian(NAN_PROGRAMS["nansum"], method="symbolic")(W)
    jax, jnp = _jax()  # (the reference part: skipped where JAX is not installed)
    g = jax.grad(lambda w: jnp.nansum(w * jnp.asarray(D)))(jnp.asarray(W))
    assert np.isnan(np.asarray(g)[1])


def test_symbolic_still_answers_where_the_partial_is_finite():
    """An absorbed NaN whose partial in the variable is finite (w + d: 1) and an absorbed ∞ that
    f maps to a finite value are differentiated as before, as reverse mode does."""
    for f, want in ((lambda w: np.nansum(w + D), [1.0, 0.0, 1.0]),
                    (lambda w: np.nansum(np.sum(np.stack([w, D]), axis=0)), [1.0, 0.0, 1.0]),
                    (lambda w: np.sum(np.exp(w - np.inf)), [0.0, 0.0, 0.0])):
        np.testing.assert_array_equal(dk.grad(f, method="symbolic")(W)[0], want)
        np.testing.assert_array_equal(dk.grad(f, method="reverse")(W)[0], want)
