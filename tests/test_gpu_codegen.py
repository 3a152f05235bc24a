"""Generated gradient code on CuPy arrays: dk.grad of a dk.jit function runs the code printed
for NumPy, carried to CuPy with its element-wise runs fused. Skipped without CuPy and a GPU
(tests/test_fusion.py checks the same machinery on NumPy)."""

from __future__ import annotations

import numpy as np
import pytest

import diffkit as dk

pytestmark = pytest.mark.gpu
needs_gpu = pytest.mark.skipif(not dk.backend.gpu_available(), reason="needs CuPy and a GPU")


def f(x):
    return np.sum(np.log(x) + x * np.roll(x, 1) - np.sin(x) + np.tanh(x) ** 2)


def reference(x):
    """The hand-derived gradient of f."""
    return 1 / x + np.roll(x, 1) + np.roll(x, -1) - np.cos(x) + 2 * np.tanh(x) / np.cosh(x) ** 2


def _one(g):
    return g[0] if isinstance(g, tuple) else g


@needs_gpu
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_default_grad_of_a_jit_function_on_cupy_runs_fused_code(dtype):
    import cupy

    jf = dk.jit(f)
    x_host = np.linspace(0.5, 3.0, 1001).astype(dtype)
    x = cupy.asarray(x_host)
    grad = dk.grad(jf)
    got = [_one(grad(x)) for _ in range(4)]  # the default compiles from the third call
    code = grad.engine.last  # what the last call ran (None: interpreted)
    assert code is not None and code.fused, "the gradient should run as fused CuPy code"
    assert code.shapes == (x.shape,)
    for g in got:
        assert isinstance(g, cupy.ndarray) and g.dtype == dtype
        np.testing.assert_allclose(cupy.asnumpy(g), reference(x_host.astype(np.float64)),
                                   rtol=1e-10 if dtype == np.float64 else 2e-5)
    v, (g,) = dk.value_and_grad(jf, method="compiled")(x)
    np.testing.assert_allclose(float(v), f(x_host.astype(np.float64)),
                               rtol=1e-12 if dtype == np.float64 else 1e-5)


@needs_gpu
def test_outside_the_domain_on_cupy_is_still_an_error():
    import cupy

    jf = dk.jit(f)
    grad = dk.grad(jf, method="compiled")
    grad(cupy.linspace(0.5, 3.0, 11))
    assert grad.engine.last is not None and grad.engine.last.fused
    # log of a negative number: NumPy raises under STRICT, CuPy computes NaN silently (and
    # the derivative 1/x is finite): a DomainError as on NumPy, compiled or interpreted
    with pytest.raises(dk.DomainError, match="log"):
        grad(cupy.linspace(-0.5, 3.0, 11))
    with pytest.raises(dk.DomainError, match="log"):
        dk.grad(f)(cupy.linspace(-0.5, 3.0, 11))  # a plain function: the eager tape
