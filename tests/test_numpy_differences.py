"""np.diff, np.ediff1d, np.gradient, np.trapezoid, np.linspace and the shape queries (ndim, shape,
size) in NumPy's spelling on traced values.

Values must equal NumPy's bit for bit (the composites repeat NumPy's arithmetic); derivatives are
checked by :func:`numpy_check.check` against mpmath versions of the same formulas, written here
from their definitions (every engine, first and second order, float32).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from numpy_check import Spec, check

import diffkit as dk

COVERS = ("diff", "ediff1d", "gradient", "trapezoid", "ndim", "shape", "size", "linspace")

RNG = np.random.default_rng(11)
X = RNG.normal(size=(4, 5))
V = RNG.normal(size=6)
W = RNG.normal(size=(4, 5))  # weights: a weighted sum of the outputs checks every element


def _diff_ref(a: Any, n: int = 1, axis: int = -1) -> Any:
    a = np.asarray(a, dtype=object)
    for _ in range(n):
        a = np.moveaxis(a, axis, 0)
        a = np.moveaxis(a[1:] - a[:-1], 0, axis)
    return a


def _gradient_ref(f: Any, h: float, axis: int, edge_order: int) -> Any:
    """Central differences inside; one-sided at the edges (first or second order)."""
    f = np.moveaxis(np.asarray(f, dtype=object), axis, 0)
    n = f.shape[0]
    out = np.empty_like(f)
    for i in range(1, n - 1):
        out[i] = (f[i + 1] - f[i - 1]) / (2 * h)
    if edge_order == 1:
        out[0] = (f[1] - f[0]) / h
        out[-1] = (f[-1] - f[-2]) / h
    else:
        out[0] = (-3 * f[0] + 4 * f[1] - f[2]) / (2 * h)
        out[-1] = (3 * f[-1] - 4 * f[-2] + f[-3]) / (2 * h)
    return np.moveaxis(out, 0, axis)


def _nonuniform_ref(f: Any, x: Any) -> Any:
    """Second-order differences on the coordinates x (the interior formula of a parabola through
    three points; first-order one-sided at the edges), along the last axis."""
    f = np.asarray(f, dtype=object)
    out = np.empty_like(f)
    n = len(x)
    for i in range(1, n - 1):
        d1, d2 = x[i] - x[i - 1], x[i + 1] - x[i]
        out[..., i] = (-d2 / (d1 * (d1 + d2)) * f[..., i - 1] + (d2 - d1) / (d1 * d2) * f[..., i]
                       + d1 / (d2 * (d1 + d2)) * f[..., i + 1])
    out[..., 0] = (f[..., 1] - f[..., 0]) / (x[1] - x[0])
    out[..., -1] = (f[..., -1] - f[..., -2]) / (x[-1] - x[-2])
    return out


def _weighted(ref_out: Any, w: Any) -> Any:
    return np.sum(np.asarray(ref_out, dtype=object) * w)


COORDS = np.array([0.0, 0.5, 1.5, 1.75, 3.0])

SPECS = [
    Spec("diff", lambda a: np.diff(a), [(X,)], ref=lambda a: _diff_ref(a)),
    Spec("diff-n2-axis0", lambda a: np.diff(a, n=2, axis=0), [(X,)],
         ref=lambda a: _diff_ref(a, 2, 0)),
    Spec("diff-prepend", lambda a: np.diff(a, prepend=0.5), [(V,)],
         ref=lambda a: _diff_ref(np.concatenate([[0.5], np.asarray(a, dtype=object)]))),
    Spec("ediff1d", lambda a: np.ediff1d(a, to_begin=[2.0]), [(V,)],
         ref=lambda a: np.concatenate([[2.0], _diff_ref(np.reshape(a, -1))])),
    Spec("gradient-axis0", lambda a: np.sum(np.gradient(a, 0.5, axis=0) * W), [(X,)],
         ref=lambda a: _weighted(_gradient_ref(a, 0.5, 0, 1), W), order=2),
    Spec("gradient-edge2", lambda a: np.gradient(a, 0.25, edge_order=2), [(V,)],
         ref=lambda a: _gradient_ref(a, 0.25, 0, 2)),
    Spec("gradient-coordinates", lambda a: np.gradient(a, COORDS, axis=1), [(X,)],
         ref=lambda a: _nonuniform_ref(a, COORDS)),
    Spec("trapezoid", lambda a: np.trapezoid(a, x=COORDS), [(X,)],
         ref=lambda a: np.array([sum((COORDS[i + 1] - COORDS[i]) * (r[i] + r[i + 1]) / 2
                                     for i in range(4)) for r in np.asarray(a, dtype=object)],
                                dtype=object), order=1),
    Spec("linspace", lambda a, b: np.linspace(a, b, 5), [(0.3, 2.0), (-1.0, 4.5)],
         ref=lambda a, b: np.array([a + (b - a) * i / 4 for i in range(5)], dtype=object)),
    Spec("shape-queries", lambda a: np.sum(a) * np.ndim(a) + np.size(a) + np.shape(a)[1], [(X,)],
         ref=lambda a: np.sum(np.asarray(a, dtype=object)) * 2 + 20 + 5, order=2),
]


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.name)
def test_engines_against_mpmath(spec: Spec) -> None:
    check(spec)


@pytest.mark.parametrize("call", [
    lambda m, a: m.diff(a, n=2, axis=0), lambda m, a: m.diff(a, prepend=0.0, append=[[1.0]] * 4),
    lambda m, a: m.gradient(a), lambda m, a: m.gradient(a, 0.5, axis=1),
    lambda m, a: m.gradient(a, edge_order=2),
    lambda m, a: m.gradient(a, np.array([0.0, 1.0, 3.0, 3.5]), COORDS, edge_order=2),
    lambda m, a: m.gradient(a, np.array([0.0, 1.0, 2.0, 3.0]), 2.0),
    lambda m, a: m.ediff1d(a, to_end=[1.0, 2.0]), lambda m, a: m.trapezoid(a, dx=0.5, axis=0),
    lambda m, a: m.linspace(a[0, 0], a[1, 1], 9), lambda m, a: m.linspace(0.0, a[0], 4, endpoint=False),
])
def test_values_are_numpys_bit_for_bit(call: Any) -> None:
    want = call(np, X)
    for got in (call(dk, X), dk.function(lambda a: call(np, a)).evaluate(X)
                if not isinstance(want, tuple) else call(dk, X)):
        for w, g in zip(want if isinstance(want, tuple) else (want,),
                        got if isinstance(got, tuple) else (got,), strict=True):
            assert np.array_equal(np.asarray(w), np.asarray(g)), (w, g)


def test_gradient_of_a_2d_array_returns_one_array_per_axis() -> None:
    out = dk.function(lambda a: np.gradient(a)[1]).evaluate(X)
    np.testing.assert_array_equal(out, np.gradient(X)[1])


def test_errors_name_the_problem() -> None:
    with pytest.raises(dk.ShapeError, match="at least one dimensional"):
        dk.diff(2.0)
    with pytest.raises(dk.ShapeError, match="edge_order"):
        dk.gradient(V, edge_order=3)
    with pytest.raises(dk.ShapeError, match="at least edge_order"):
        dk.gradient(np.ones(2), edge_order=2)
    with pytest.raises(dk.ShapeError, match="coordinates of length"):
        dk.gradient(V, np.arange(3.0))
