"""Hunt 15's mixed-precision fuzz of array code against JAX (x64): constants narrower than the
output, and cotangents narrower than the output, are taken at the output's precision. References
are hand formulas in float64, never diffkit."""

from __future__ import annotations

import numpy as np
import pytest

import diffkit as dk
from diffkit import nn

METHODS = ["reverse", "forward", "compiled"]


def _rel(g, want):
    return np.abs(np.asarray(g) - want).max() / np.abs(want).max()


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("shape", [(4, 4), (6, 3)])
def test_lstsq_with_a_float32_matrix_differentiates_in_float64(method, shape):
    """pinv of the raw float32 matrix in lstsq's rules: 5e-8 off in every method."""
    rng = np.random.default_rng(1)
    a32 = rng.standard_normal(shape).astype(np.float32)
    b = rng.standard_normal(shape[0])
    pinv = np.linalg.pinv(a32.astype(np.float64))

    def f(b):
        return np.sum(np.sin(np.linalg.lstsq(a32, b, rcond=None)[0]))

    want = np.cos(pinv @ b) @ pinv  # d/db Σ sin(P b) = Pᵀ cos(P b)
    (g,) = dk.grad(f, method=method)(b)
    assert g.dtype == np.float64 and _rel(g, want) < 1e-13


@pytest.mark.parametrize("method", [*METHODS, "symbolic"])
def test_cross_entropy_with_float32_targets_differentiates_in_float64(method):
    """The rule summed float32 targets in float32 (Σt = 1 there, 0.99999998 in float64)."""
    rng = np.random.default_rng(0)
    z = rng.standard_normal(4)
    t32 = rng.random(4).astype(np.float32)
    t32 /= t32.sum()
    t = t32.astype(np.float64)
    p = np.exp(z - z.max())
    p /= p.sum()
    want = p * t.sum() - t  # d/dz of −Σ t·log_softmax(z)
    (g,) = dk.grad(lambda z: dk.softmax_cross_entropy(z, t32), method=method)(z)
    assert _rel(g, want) < 1e-14
    (g,) = dk.grad(lambda z: nn.cross_entropy(z[None], t32[None]), method=method)(z)
    assert _rel(g, want) < 1e-14


@pytest.mark.parametrize("method", METHODS)
def test_float32_cotangent_of_a_float64_output_is_read_at_float64(method):
    """ct·A ran in float32 beside a float32 constant in reverse and compiled, not in forward."""
    rng = np.random.default_rng(2)
    a32 = rng.standard_normal((3, 4)).astype(np.float32)
    x = rng.standard_normal(3)
    ct32 = rng.standard_normal(4).astype(np.float32)
    _, pullback = dk.vjp(lambda x: x @ a32, x, method=method)
    (g,) = pullback(ct32)
    want = a32.astype(np.float64) @ ct32.astype(np.float64)
    assert g.dtype == np.float64 and _rel(g, want) < 1e-15
