"""Finite differences and the eager Tensor at the precision f computes in (ninth hunt, h9c).

Each test fails on the snapshot and passes once the defect is fixed: the right number (against
a reference independent of diffkit: a hand formula in float64, or mpmath) or a named error.
"""

from __future__ import annotations

import math
import warnings

import mpmath as mp
import numpy as np
import pytest

import diffkit as dk
from diffkit.errors import DiffkitError

mp.mp.dps = 50


# ----- finite differences ---------------------------------------------------------------------


@pytest.mark.parametrize("method, rtol", [("fd-forward", 5e-3), ("fd-central", 1e-3)])
def test_fd_step_sized_for_float64_input_when_f_computes_in_float32(method, rtol):
    """A float64 input that f casts to float32 (``x.astype(np.float32)``, as a float32 model
    does) is stepped with float64's ε: fd-forward's h ≈ 1.5e-8 rounds away in float32, so the
    columns are 0 or one float32 ulp / h (diffkit answered [0, 24.6] for [2.295, 0.802]);
    fd-central is 1.9 % off. No warning. The trace at x shows the cast, so the step can be
    sized for the narrowest dtype on the derivative's path (or the answer refused by name)."""
    x = np.array([0.7, 1.3])
    ref = 3.0 * np.cos(x.astype(np.float32).astype(np.float64))  # d/dx 3·sin(float32(x))

    def f(v):
        return np.sum(np.sin(v.astype(np.float32)) * 3.0)

    try:
        (g,) = dk.grad(f, method=method)(x)
    except DiffkitError:
        return  # a named refusal is acceptable
    np.testing.assert_allclose(g, ref, rtol=rtol)


@pytest.mark.parametrize("f, df, x", [
    (lambda t: t**3, lambda t: 3 * t * t, np.float32(0.81556875)),
    (np.sin, np.cos, np.float32(1.0423337)),
    (lambda t: t**3, lambda t: 3 * t * t, np.float32(0.81672555)),
])
def test_richardson_float32_silently_worse_than_central(f, df, x):
    """fd-richardson on a float32 input: _refine's target (error estimate ≤ 1e-9, float64's)
    is never met in float32, so it restarts from steps 16× and 256× smaller, where the central
    differences are all rounding (ε/h ≈ 1e-2 at the smallest); their tableau is flat, its
    error estimate tiny (1.7e-6), and that 'better' entry is kept: 2.3e-3 and 4.2e-3 relative
    error, ~100× worse than fd-central's, with no warning (finite.py _refine, _tableau has no
    rounding term). Either the digits float32 allows (fd-central gets ~2e-5) or a warning."""
    ref = df(np.float64(x))  # exact derivative at the float32 point, in float64
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        g = dk.derivative(f, method="fd-richardson")(x)
    if any(issubclass(w.category, RuntimeWarning) for w in caught):
        return  # an honest warning is acceptable
    assert abs(float(g) - ref) <= 2e-4 * max(1.0, abs(ref)), (g, ref)


@pytest.mark.parametrize("k", [60, 80])
def test_complex_step_float32_underflows_small_derivatives(k):
    """fd-complex steps by h = 1e-20 in every dtype. In complex64, Im f(x + ih) = h·f′(x)
    underflows below float32's smallest normal (1.2e-38) once |f′| < 1e-18: exp(−80x) at 1 has
    value 1.8e-35 and derivative −1.44e-33 (both normal float32 numbers) and diffkit answers
    −0.0; at k = 60 it answers −5.6e-25 for −5.25e-25 (7 % off). h must be sized for the
    dtype (or the step taken in complex128)."""
    x = np.float32(1.0)
    ref = -k * math.exp(-k * float(x))  # hand formula in float64
    g = dk.derivative(lambda t: np.exp(-k * t), method="fd-complex")(x)
    assert abs(float(g) - ref) <= 1e-5 * abs(ref), (g, ref)


def test_complex_step_float32_small_scale_loss():
    """The same underflow through dk.grad: a float32 loss scaled by 1e-25 (grad of
    1e-25·x² at 2 is 4e-25) comes back 4.2e-25 (5 % off) from fd-complex."""
    x = np.array([2.0], dtype=np.float32)
    (g,) = dk.grad(lambda t: np.sum(t * t * np.float32(1e-25)), method="fd-complex")(x)
    ref = 2 * float(x[0]) * float(np.float32(1e-25))
    assert abs(float(g[0]) - ref) <= 1e-5 * ref, (g, ref)


# ----- symbolic engine and np.longdouble ----------------------------------------------------


def _exact(v: np.longdouble) -> mp.mpf:
    m, e = np.frexp(v)
    return mp.mpf(int(np.ldexp(m, 64))) * mp.mpf(2) ** (int(e) - 64)




def test_richardson_float32_array_derivative():
    """The same through dk.derivative at a float32 array (the directional-derivative path):
    x³′ at [1.5704976, 2] is answered [7.3623, 11.99988] for [7.39939, 12] (0.5 % off, no
    warning); fd-central gives 4e-6."""
    a = np.array([1.5704976, 2.0], dtype=np.float32)
    ref = 3 * a.astype(np.float64) ** 2
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        g = dk.derivative(lambda t: t**3, method="fd-richardson")(a)
    if any(issubclass(w.category, RuntimeWarning) for w in caught):
        return
    np.testing.assert_allclose(g, ref, rtol=2e-4)




def test_tensor_class_called_on_array_fails_late_with_bare_attribute_error():
    """(Aside, outside the dtype front.) The PyTorch habit ``torch.Tensor(data)``:
    ``dk.Tensor(np.ones(3, np.float32), requires_grad=True)`` is accepted, and the object then
    fails at its first use — ``t + 1``, ``repr(t)``, ``nn.cross_entropy(t, y)`` — with a bare
    ``AttributeError: 'numpy.ndarray' object has no attribute 'value'`` from deep inside
    (tensor.py / nn/module.py:105). Either work as dk.tensor(data) or refuse by name at once."""
    arr = np.ones(3, np.float32)
    try:
        t = dk.Tensor(arr, requires_grad=True)
    except (TypeError, DiffkitError):
        return
    np.testing.assert_array_equal((t + 1).numpy(), arr + 1)


@pytest.mark.parametrize("method, rtol", [("fd-forward", 5e-3), ("fd-central", 1e-3),
                                          ("fd-richardson", 1e-3)])
def test_fd_step_sized_for_a_float32_stretch_inside_a_float64_function(method, rtol):
    """The cast is read off the trace, not the output's dtype: a float64 f that goes through
    float32 and back (its value is float64) is stepped for float32 too."""
    x = np.array([0.7, 1.3])
    ref = 3.0 * np.cos(x.astype(np.float32).astype(np.float64))

    def f(v):
        return np.sum(np.sin(v.astype(np.float32)).astype(np.float64) * 3.0)

    (g,) = dk.grad(f, method=method)(x)
    np.testing.assert_allclose(g, ref, rtol=rtol)
