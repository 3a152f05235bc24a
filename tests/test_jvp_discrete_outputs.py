"""The JVP of a function whose value holds integers or booleans (a comparison, argmax) is zero
in float64 by every method: forward mode answered bool False, the symbolic engine int 0, the
others float 0.0 (stop 38's hunt; the Engine.jvp docstring promises one dtype)."""

from __future__ import annotations

import numpy as np
import pytest

import diffkit as dk

METHODS = ["fd", "reverse", "forward", "symbolic", "auto", "compiled"]


@pytest.mark.parametrize("method", METHODS)
def test_a_comparison_has_a_float_zero_tangent(method):
    x = np.array([1.0, -2.0, 3.0])
    _, t = dk.jvp(lambda a: a > 0, (x,), (np.ones(3),), method=method)
    assert isinstance(t, np.ndarray) and t.dtype == np.float64 and t.shape == (3,)
    assert not np.any(t)


@pytest.mark.parametrize("method", METHODS)
def test_argmax_has_a_float_zero_tangent(method):
    _, t = dk.jvp(lambda a: np.argmax(a), (np.array([1.0, -2.0, 3.0]),), (np.ones(3),),
                  method=method)
    assert type(t) is float and t == 0.0


@pytest.mark.parametrize("method", METHODS)
def test_a_float_output_keeps_its_tangent(method):
    _, t = dk.jvp(lambda a: (a > 0) * a * 2.0, (np.array([1.0, -2.0, 3.0]),), (np.ones(3),),
                  method=method)
    np.testing.assert_allclose(t, [2.0, 0.0, 2.0], rtol=1e-8)
