"""dk.jvp answers alike in every method: the same tangent checks and the output's dtype.

Before, the methods that build J·t from a Jacobian (reverse, symbolic, compiled) let a complex
tangent for a real input through (3j for x² at 1.5), gave a bare NumPy matmul error for a tangent
of the wrong size, and answered float64 (symbolic: even for a float32 tangent) where forward mode
and finite differences answered in the primal's float32.
"""

import numpy as np
import pytest

import diffkit as dk

METHODS = ["forward", "reverse", "symbolic", "compiled", "fd-central"]


def f(x):
    return dk.sin(x) * 2.0


@pytest.mark.parametrize("method", METHODS)
def test_complex_tangent_for_a_real_input_is_refused(method):
    with pytest.raises(dk.ShapeError, match="complex"):
        dk.jvp(f, (np.array([1.5, 0.5]),), (np.array([1j, 0.0]),), method=method)


@pytest.mark.parametrize("method", METHODS)
def test_tangent_of_the_wrong_size_is_a_named_error(method):
    with pytest.raises(dk.ShapeError, match="tangent of shape"):
        dk.jvp(f, (np.ones(3),), (np.ones(4),), method=method)


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("tangent_dtype", [np.float32, np.float64])
def test_jvp_has_the_outputs_dtype(method, tangent_dtype):
    x = np.array([0.25, 1.0, 2.0], np.float32)
    t = np.array([1.0, -2.0, 0.5], tangent_dtype)
    _, jt = dk.jvp(f, (x,), (t,), method=method)
    assert jt.dtype == np.float32
    want = 2.0 * np.cos(x.astype(np.float64)) * t.astype(np.float64)  # hand formula
    np.testing.assert_allclose(jt, want, rtol=2e-3 if method.startswith("fd") else 1e-6)


@pytest.mark.parametrize("method", ["reverse", "symbolic", "compiled"])
def test_jvp_of_a_complex_input_keeps_complex(method):
    z = np.array([1.0 + 0.5j, -0.3 + 2.0j])
    t = np.array([0.5 - 1.0j, 2.0 + 0.0j])
    _, jt = dk.jvp(lambda z: z * z, (z,), (t,), method=method)
    np.testing.assert_allclose(jt, 2 * z * t, rtol=1e-12)  # holomorphic: f'(z)·t
