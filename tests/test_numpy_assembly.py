"""NumPy's shapes-and-assembly functions, written in plain NumPy on traced values.

Three kinds of checks:

* ``SPECS`` go through the shared checker (tests/numpy_check.py): values equal NumPy's, Jacobians
  of a vector output and gradients and Hessians of a weighted square loss by reverse, forward,
  symbolic and finite differences against an mpmath reference, float32 Jacobians. The reference
  of pure data movement is NumPy's own function applied to object arrays of mpf (tril/triu/where/
  select through NumPy's object loops too).
* ``SWEEP`` covers many parameter combinations (axes, negative axes, k, modes, widths) of the
  linear ones cheaply: values (``dk.<name>`` on plain arrays and the NumPy spelling traced) equal
  NumPy's bit for bit with the same shape and dtype, and the Jacobians of reverse, forward and
  symbolic equal exactly the matrix whose columns are NumPy's function of the unit vectors.
* Errors, dispatch (``np.<name>``, ``dk.<name>``, array methods), constants, complex values.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from numpy_check import Spec, check, grid

import diffkit as dk
from diffkit.primitive import NUMPY_NAMES, PUBLIC

#: every name this family added (read by the registry completeness test), and the records of
#: other modules whose NumPy spelling it extends (np.where's one-argument form, concatenate's
#: axis=None)
COVERS = {
    "stack", "vstack", "row_stack", "hstack", "dstack", "column_stack", "atleast_1d",
    "atleast_2d", "atleast_3d", "expand_dims", "squeeze", "ravel", "flatten", "swapaxes",
    "moveaxis", "rollaxis", "flip", "fliplr", "flipud", "rot90", "repeat", "tile", "pad", "split",
    "array_split", "hsplit", "vsplit", "dsplit", "diag", "diagonal", "trace", "tril", "triu",
    "take", "take_along_axis", "select", "append", "insert", "delete", "zeros_like", "ones_like",
    "full_like", "empty_like", "copy", "where", "concatenate", "apply_along_axis",
}

# NumPy 2 warns that row_stack is deprecated; the name still has to work
pytestmark = pytest.mark.filterwarnings("ignore:`row_stack`:DeprecationWarning")


def _weights(shape: tuple[int, ...]) -> np.ndarray:
    n = int(np.prod(shape))
    return (np.arange(n) % 5 * 0.25 + 0.5).reshape(shape)


def _loss(op: Callable[..., Any]) -> Callable[..., Any]:
    """Σ w·op(x)²: a scalar with a nonzero Hessian, for gradients and second derivatives."""

    def f(*xs: Any) -> Any:
        y = op(*xs)
        return np.sum(y * y * _weights(getattr(y, "shape", ())))

    return f


def _specs(name: str, op: Callable[..., Any], *shapes: tuple[int, ...], seed: int = 0,
           loss: bool = True, **kw: Any) -> list[Spec]:
    """op's Jacobian (its output as it is) and, with `loss`, the loss's gradient and Hessian."""
    points = grid(*[(s, (-2.0, 2.0)) for s in shapes], count=1, seed=seed)
    out = [Spec(name, op, points, ref=op, **kw)]
    if loss:
        out.append(Spec(f"{name} (loss)", _loss(op), points, ref=_loss(op), order=2, **kw))
    return out


SPECS = [
    *_specs("stack", lambda x, y: np.stack([x, y, x], axis=-1), (2, 3), (2, 3)),
    *_specs("vstack", lambda x, y: np.vstack([x, y[0], y]), (2, 3), (2, 3), loss=False),
    *_specs("row_stack", lambda x: np.row_stack((x, x[::-1])), (2, 3), loss=False),
    *_specs("hstack", lambda x, y: np.hstack([x, y[:, :1]]), (2, 3), (2, 3)),
    *_specs("dstack", lambda x, y: np.dstack([x, y]), (2, 3), (2, 3), loss=False),
    *_specs("column_stack", lambda x: np.column_stack([x[0], x.T, x[1]]), (3, 3),
            loss=False),
    *_specs("atleast_nd", lambda x: np.concatenate(
        [np.atleast_1d(x[0, 0]).ravel(), np.atleast_2d(x[0]).ravel(),
         np.atleast_3d(x).ravel()]), (2, 3), loss=False),
    *_specs("expand_dims+squeeze", lambda x: np.squeeze(np.expand_dims(x, (0, -1)) * 2.0, 0),
            (2, 3)),
    *_specs("ravel-F", lambda x: np.ravel(x, order="F") + x.flatten(), (2, 3), loss=False),
    *_specs("swapaxes", lambda x: x.swapaxes(0, -1) * np.swapaxes(x, 2, 0), (2, 3, 2)),
    *_specs("moveaxis", lambda x: np.moveaxis(x, [0, 1], [-1, 0]), (2, 3, 2), loss=False),
    *_specs("rollaxis", lambda x: np.rollaxis(x, 2, 1), (2, 3, 2), loss=False),
    *_specs("flip", lambda x: np.flip(x, (0, -1)) * np.flip(x), (3, 4)),
    *_specs("fliplr/flipud", lambda x: np.fliplr(x) - 2 * np.flipud(x), (3, 4), loss=False),
    *_specs("rot90", lambda x: np.rot90(x) @ np.rot90(x, -1, axes=(1, 0)), (3, 3)),
    *_specs("repeat", lambda x: np.repeat(x, 2, axis=-1), (2, 3)),
    *_specs("repeat-each", lambda x: x.repeat([2, 0, 1], axis=1), (2, 3)),
    *_specs("tile", lambda x: np.tile(x, (2, 1, 2)), (2, 3)),
    *_specs("pad-constant", lambda x: np.pad(x, ((1, 2), (0, 1)), constant_values=((1.5, -1.0),
                                                                                 (2.0, 0.5))),
            (2, 3)),
    *_specs("pad-traced-constant", lambda x, c: np.pad(x, 1, constant_values=c), (2, 3), ()),
    *_specs("pad-edge", lambda x: np.pad(x, ((2, 1), (1, 3)), mode="edge"), (2, 3)),
    *_specs("pad-reflect", lambda x: np.pad(x, (4, 1), mode="reflect"), (3, 2)),
    *_specs("pad-symmetric", lambda x: np.pad(x, ((0, 3), (2, 2)), mode="symmetric"), (2, 3)),
    *_specs("pad-wrap", lambda x: np.pad(x, (5, 2), mode="wrap"), (2, 3)),
    *_specs("split", lambda x: np.split(x, 2, axis=1)[1] * np.split(x, [1])[0][:, 1:3], (2, 4)),
    *_specs("array_split", lambda x: np.concatenate(np.array_split(x, 3)[::-1]), (7,)),
    *_specs("hsplit/vsplit/dsplit", lambda x: np.hsplit(x, 2)[0] + np.vsplit(x, [1])[1]
            + np.dsplit(x, [1])[0], (2, 2, 2), loss=False),
    *_specs("diag-vector", lambda v: np.diag(v, -1) @ np.diag(v[::-1], 1), (3,)),
    *_specs("diag-matrix", lambda x: np.diag(x, 1), (3, 4)),
    *_specs("diagonal", lambda x: x.diagonal(1, 2, 0), (3, 2, 3)),
    *_specs("trace", lambda x: x.trace() * np.trace(x, -1) + np.trace(x, 1, 1, 0), (3, 3),
            loss=False),
    *_specs("trace-3d", lambda x: np.trace(x, 0, 2, 0), (2, 3, 3)),
    *_specs("tril/triu", lambda x: np.tril(x, 1) * np.triu(x, -1) + np.tril(x[0]), (3, 3)),
    *_specs("take", lambda x: np.take(x, [[0, 2], [2, 2]], axis=1) * x.take(-1), (2, 3)),
    *_specs("take-wrap", lambda x: np.take(x, [5, -4, 1], axis=0, mode="wrap"), (3, 2)),
    *_specs("take-clip", lambda x: x.take([7, -1], mode="clip"), (2, 3), loss=False),
    *_specs("take_along_axis", lambda x: np.take_along_axis(
        x, np.array([[2, 0, 0], [1, 1, 2]]), axis=1), (2, 3)),
    *_specs("where", lambda x, y: np.where(x > 0, x * y, y[0]), (3, 3), (3, 3)),
    *_specs("select", lambda x: np.select([x > 0.5, x < -0.5], [x * x, x * x * x], default=-x),
            (3, 3), seed=1),
    *_specs("select-broadcast", lambda x: np.select([x > 0, x < -1], [2.0, x[0] * x],
                                                    default=x[:, :1]), (3, 3), seed=2, loss=False),
    *_specs("append", lambda x: np.append(x, x[0] * 2)[:7] + np.append(x, x[:1], 0).ravel()[2:9],
            (2, 3)),
    *_specs("insert", lambda x, y: np.insert(x, [1, 3, 3], y[0], axis=1), (2, 3), (2, 3)),
    *_specs("insert-flat", lambda x: np.insert(x, 2, 0.5), (2, 3), loss=False),
    *_specs("delete", lambda x: np.delete(x, [0, 2], axis=1) + np.delete(x, 1), (2, 3)),
    *_specs("zeros/ones_like", lambda x: (np.zeros_like(x) + 1.5) * x + np.ones_like(x) * x[0],
            (2, 3), loss=False),
    *_specs("full_like", lambda x, c: np.full_like(x, c) * x + np.empty_like(x).shape[0], (2, 3),
            (), loss=False),
    *_specs("copy", lambda x: np.copy(x) * x.copy()[::-1], (2, 3), loss=False),
    *_specs("concatenate-axis-None", lambda x, y: np.concatenate([x, y[0], y], axis=None),
            (2, 3), (2, 3), loss=False),
    *_specs("apply_along_axis", lambda x: np.apply_along_axis(
        lambda r: r[::-1] * r[0] + r * r, 1, x), (2, 3, 4)),
    *_specs("apply_along_axis-scalar", lambda x, y: np.apply_along_axis(
        lambda r, c: np.sum(r * r) * r[1] * c, 0, x, y[0]), (3, 2), (2,)),
    *_specs("apply_along_axis-matrix", lambda x: np.apply_along_axis(
        lambda r: np.outer(r, r[:2]), -1, x), (2, 3), loss=False),
]


def test_apply_along_axis_refusals() -> None:
    """NumPy's own rules, by name: results of different shapes, an empty iteration, a 0-d array,
    an axis out of bounds."""
    x = np.arange(6.0).reshape(2, 3)

    def grad_of(body):
        return dk.grad(lambda x: np.sum(body(x)))(x)

    lengths = iter([1, 2])
    with pytest.raises(dk.ShapeError, match="every lane's result must have one shape"):
        grad_of(lambda x: np.apply_along_axis(lambda r: r[:next(lengths)], 1, x))
    with pytest.raises(dk.ShapeError, match="iteration dimension is 0"):
        grad_of(lambda x: np.apply_along_axis(np.sum, 1, x[:0]))
    with pytest.raises(dk.ShapeError, match="out of bounds"):
        grad_of(lambda x: np.apply_along_axis(np.sum, 2, x))
    with pytest.raises(dk.ShapeError, match="at least one axis"):
        dk.apply_along_axis(np.sum, 0, 1.0)


@pytest.mark.parametrize("spec", [pytest.param(s, id=s.name) for s in SPECS])
def test_spec(spec: Spec) -> None:
    check(spec)


# ----- parameter sweeps: exact Jacobians of the linear data movement -----------------------------


def _arange(*shape: int) -> np.ndarray:
    """Distinct values, so that any misplaced element shows."""
    return np.arange(1.0, 1.0 + int(np.prod(shape))).reshape(shape) * 0.5 - 1.25


SWEEP: list[tuple[str, Callable[[Any], Any], tuple[int, ...]]] = [
    *[(f"stack-axis{a}", lambda x, a=a: np.stack([x, -x], axis=a), (2, 3)) for a in (0, 1, 2, -1,
                                                                                    -3)],
    ("vstack-1d", lambda x: np.vstack([x, x]), (3,)),
    ("vstack-0d", lambda x: np.vstack([x[0], x[1]]), (2,)),
    ("vstack-array", lambda x: np.vstack(x), (2, 3, 2)),
    ("hstack-0d", lambda x: np.hstack([x[0], x[1]]), (2,)),
    ("hstack-3d", lambda x: np.hstack([x, x[:, :1]]), (2, 3, 2)),
    ("dstack-1d", lambda x: np.dstack([x, x]), (3,)),
    ("dstack-2d", lambda x: np.dstack([x, x * 2]), (2, 3)),
    ("column_stack-2d", lambda x: np.column_stack([x, x[:, 0]]), (3, 2)),
    *[(f"atleast_{n}d-{k}d", lambda x, n=n, k=k: getattr(np, f"atleast_{n}d")(x[(0,) * k]),
       (2, 3, 2)) for n in (1, 2, 3) for k in (0, 1, 2, 3)],
    ("atleast-tuple", lambda x: np.concatenate([a.ravel() for a in np.atleast_3d(x[0], x)]),
     (2, 3)),
    *[(f"expand_dims-{a}", lambda x, a=a: np.expand_dims(x, a), (2, 3))
      for a in (0, 1, 2, -1, -3, (0, 1), (0, -1), (3, 1))],
    *[(f"squeeze-{a}", lambda x, a=a: np.squeeze(x, a), (1, 2, 1, 3, 1))
      for a in (None, 0, -1, 2, (0, 4), (0, 2, -1))],
    ("squeeze-method", lambda x: x.squeeze(), (1, 3, 1)),
    ("squeeze-0d", lambda x: np.squeeze(x), (1, 1)),
    *[(f"ravel-{o}", lambda x, o=o: np.ravel(x, order=o), (2, 3, 2)) for o in "CF"],
    ("ravel-method", lambda x: x.ravel(), (2, 3)),
    *[(f"swapaxes-{a}-{b}", lambda x, a=a, b=b: np.swapaxes(x, a, b), (2, 3, 4))
      for a, b in ((0, 1), (0, 2), (1, -1), (-1, -3), (1, 1))],
    *[(f"moveaxis-{s}-{d}", lambda x, s=s, d=d: np.moveaxis(x, s, d), (2, 3, 4))
      for s, d in ((0, -1), (-1, 0), (1, 2), ((0, 1), (-1, -2)), ([2, 0], [0, 1]), ((), ()))],
    *[(f"rollaxis-{a}-{s}", lambda x, a=a, s=s: np.rollaxis(x, a, s), (2, 3, 4))
      for a, s in ((2, 0), (0, 3), (-1, 1), (1, 1), (1, 2), (0, -1), (2, -3))],
    *[(f"flip-{a}", lambda x, a=a: np.flip(x, a), (2, 3, 2)) for a in (None, 0, 1, -1, (0, 2),
                                                                      (0, 1, 2))],
    ("flip-0d", lambda x: np.flip(x[0, 0]), (2, 2)),
    ("fliplr-3d", lambda x: np.fliplr(x), (2, 3, 2)),
    ("flipud-1d", lambda x: np.flipud(x), (4,)),
    *[(f"rot90-k{k}-{ax}", lambda x, k=k, ax=ax: np.rot90(x, k, ax), (2, 3, 4))
      for k in (-1, 0, 1, 2, 3, 5) for ax in ((0, 1), (1, 0), (2, 1), (-1, 0))],
    *[(f"repeat-{r}-{a}", lambda x, r=r, a=a: np.repeat(x, r, axis=a), (2, 3))
      for r in (0, 1, 3, [2], np.int64(2)) for a in (None, 0, -1)],
    ("repeat-each-flat", lambda x: np.repeat(x, [1, 2, 0, 3, 1, 1]), (2, 3)),
    ("repeat-each-axis0", lambda x: x.repeat(np.array([3, 1]), 0), (2, 3)),
    ("repeat-0d", lambda x: np.repeat(x[0, 0], 3), (2, 3)),
    *[(f"tile-{r}", lambda x, r=r: np.tile(x, r), (2, 3))
      for r in (1, 2, 0, (2,), (2, 1), (1, 1), (3, 1, 2), [2, 2])],
    ("tile-0d", lambda x: np.tile(x[0, 0], (2, 2)), (2, 3)),
    *[(f"pad-constant-{w}", lambda x, w=w: np.pad(x, w, constant_values=-3.5), (2, 3))
      for w in (0, 1, (1, 2), ((1, 0), (0, 2)), [[2], [1]], ((0, 0), (0, 0)), np.int8(2))],
    ("pad-constant-pairs", lambda x: np.pad(x, 1, constant_values=((1, 2), (3, 4))), (2, 3)),
    ("pad-constant-1d-pair", lambda x: np.pad(x, (2, 1), constant_values=(7.0, 8.0)), (3,)),
    ("pad-empty-axis", lambda x: np.pad(x[:, :0], 1), (2, 3)),
    *[(f"pad-{m}-{w}", lambda x, m=m, w=w: np.pad(x, w, mode=m), (3, 2))
      for m in ("edge", "reflect", "symmetric", "wrap")
      for w in (1, (0, 2), ((3, 0), (1, 4)), 7)],
    ("pad-reflect-length1", lambda x: np.pad(x, 3, mode="reflect"), (1,)),
    ("pad-symmetric-even", lambda x: np.pad(x, 2, mode="symmetric", reflect_type="even"), (3,)),
    *[(f"split-{s}-{a}", lambda x, s=s, a=a: np.concatenate(np.split(x, s, axis=a)[::-1], axis=a),
       (4, 6)) for s in (1, 2, [1, 3], [3, 1, 5], [-2], [0, 0, 9]) for a in (0, 1, -1)],
    *[(f"array_split-{s}", lambda x, s=s: np.concatenate(np.array_split(x, s, 1)[::-1], 1),
       (2, 7)) for s in (3, 4, 7, 9, [2, 5])],
    ("hsplit-1d", lambda x: np.hsplit(x, 3)[2], (6,)),
    ("vsplit-piece", lambda x: np.vsplit(x, [1, 3])[1], (4, 2)),
    ("dsplit-piece", lambda x: np.dsplit(x, 2)[1], (2, 2, 4)),
    *[(f"diag-vector-k{k}", lambda x, k=k: np.diag(x, k), (3,)) for k in (-3, -1, 0, 1, 2, 4)],
    ("diag-length1", lambda x: np.diag(x, 1), (1,)),
    *[(f"diag-matrix-k{k}", lambda x, k=k: np.diag(x, k), (3, 4)) for k in (-3, -1, 0, 2, 4, 9)],
    *[(f"diagonal-{o}-{a}-{b}", lambda x, o=o, a=a, b=b: np.diagonal(x, o, a, b), (2, 3, 4))
      for o in (-2, 0, 1, 5) for a, b in ((0, 1), (1, 0), (0, 2), (2, -2), (-1, 0))],
    *[(f"trace-{o}-{a}-{b}", lambda x, o=o, a=a, b=b: np.trace(x, o, a, b), (3, 2, 3))
      for o in (-1, 0, 2) for a, b in ((0, 1), (2, 0), (1, 2))],
    *[(f"{t}-k{k}", lambda x, t=t, k=k: getattr(np, t)(x, k), (2, 3, 4))
      for t in ("tril", "triu") for k in (-2, -1, 0, 1, 3, 9)],
    ("tril-1d", lambda x: np.tril(x, -1), (3,)),
    ("triu-1d", lambda x: np.triu(x), (3,)),
    *[(f"take-{i}-{a}-{m}", lambda x, i=i, a=a, m=m: np.take(x, i, axis=a, mode=m), (2, 3, 4))
      for i in ([0, 1, 1], 1, [[1, -1], [0, 0]]) for a in (None, 0, 2, -2)
      for m in ("raise", "wrap", "clip")],
    *[(f"take-out-of-range-{m}", lambda x, m=m: x.take([-7, 5, 12], 1, mode=m), (2, 4))
      for m in ("wrap", "clip")],
    *[(f"take_along_axis-{a}", lambda x, a=a: np.take_along_axis(
        x, np.argsort((_arange(3, 4) * 7.3) % 3, axis=a)[:2] if a == 0 else
        np.argsort((_arange(3, 4) * 7.3) % 3, axis=a), axis=a), (3, 4)) for a in (0, 1, -1)],
    ("take_along_axis-None", lambda x: np.take_along_axis(x, np.array([5, 0, 0, 11]), None),
     (3, 4)),
    *[(f"append-{a}", lambda x, a=a: np.append(x, x[:1] * 2, axis=a), (2, 3)) for a in (None, 0)],
    ("append-1d", lambda x: np.append(x, 4.0), (3,)),
    *[(f"insert-{o}-{a}", lambda x, o=o, a=a: np.insert(x, o, [-9.0], axis=a), (2, 3))
      for o in (0, 2, -1, [0, 1, 1], slice(0, 2)) for a in (None, 0, 1)],
    ("insert-array-values", lambda x: np.insert(x, 1, x[:, 0] * 3, axis=1), (2, 3)),
    ("insert-rows", lambda x: np.insert(x, [1, 2], x[:1], axis=0), (2, 3)),
    *[(f"delete-{o}-{a}", lambda x, o=o, a=a: np.delete(x, o, axis=a), (2, 3))
      for o in (0, -1, [0, 2], slice(None, None, 2)) for a in (None, 1)],
    ("delete-mask", lambda x: np.delete(x, np.array([True, False, True]), axis=1), (2, 3)),
    ("copy", lambda x: np.copy(x), (2, 3)),
    ("concatenate-None-mixed", lambda x: np.concatenate((x[0], x, x[1, 1]), axis=None), (2, 3)),
]


def _unit_jacobian(op: Callable[[Any], Any], shape: tuple[int, ...], dtype: Any = float
                   ) -> np.ndarray:
    """The Jacobian of an affine op: NumPy's op of the unit vectors less its value at 0, as
    columns (exact)."""
    n = int(np.prod(shape))
    at0 = np.ravel(op(np.zeros(shape, dtype)))
    cols = [np.ravel(op(np.eye(n, dtype=dtype)[j].reshape(shape))) - at0 for j in range(n)]
    return np.stack(cols, axis=1) if cols else np.zeros((0, 0))


@pytest.mark.parametrize("name, op, shape", [pytest.param(*c, id=c[0]) for c in SWEEP])
def test_sweep(name: str, op: Callable[[Any], Any], shape: tuple[int, ...]) -> None:
    x = _arange(*shape)
    want = op(x)
    f = dk.function(op, inputs=["x"])
    got = f(x)
    assert np.asarray(got).shape == np.shape(want) and np.asarray(got).dtype == want.dtype
    np.testing.assert_array_equal(got, want)
    ref = _unit_jacobian(op, shape)
    # the symbolic engine cannot compile a function with an empty output (it writes "return (,)")
    for method in ("reverse", "forward", "symbolic")[:3 if np.size(want) else 2]:
        jac = dk.jacobian(f, method=method)(x)
        np.testing.assert_array_equal(np.reshape(jac, ref.shape), ref, err_msg=method)
    x32 = x.astype(np.float32)
    assert np.ndim(want) == 0 or np.asarray(f(x32)).dtype == op(x32).dtype
    np.testing.assert_array_equal(f(x32), op(x32))


# ----- dk.<name> on plain arrays: NumPy's values, shapes and dtypes -------------------------------

A = _arange(2, 3)
A32 = A.astype(np.float32)
V = _arange(4)
Z = A + 1j * A[::-1]
CALLS = [
    ("stack", ([A, A32],), {"axis": 1}), ("stack", ([A32, A32],), {"dtype": np.float64}),
    ("vstack", ([A, A[0]],), {}), ("row_stack", ([A, A[0]],), {}), ("hstack", ((A, A),), {}),
    ("dstack", ([A, A],), {}), ("column_stack", ([A[0], A[1]],), {}),
    ("atleast_1d", (1.5,), {}), ("atleast_2d", ([1.0, 2.0],), {}), ("atleast_3d", (A,), {}),
    ("expand_dims", (A32, 1), {}), ("squeeze", (A[None],), {}), ("ravel", (A.T, "K"), {}),
    ("ravel", (np.asfortranarray(A), "A"), {}), ("ravel", (_arange(2, 3, 2)[::-1].T, "K"), {}),
    ("flatten", (A.T, "F"), {}), ("swapaxes", (A, 0, 1), {}),
    ("moveaxis", (A, 0, 1), {}), ("rollaxis", (A, 1), {}), ("flip", (Z, 1), {}),
    ("fliplr", (A,), {}), ("flipud", (A,), {}), ("rot90", (A, 3), {}), ("repeat", (Z, 2), {}),
    ("tile", (A32, 2), {}), ("pad", (A32, 1), {"mode": "reflect"}),
    ("pad", (A, 1), {"mode": "linear_ramp", "end_values": 2.0}), ("pad", (Z, 2), {"mode": "wrap"}),
    ("pad", (np.arange(6).reshape(2, 3), 1), {"constant_values": 1.7}),
    ("split", (A, 3, 1), {}), ("array_split", (A, 2, 1), {}), ("hsplit", (A, 3), {}),
    ("vsplit", (A, 2), {}), ("dsplit", (A[..., None], 1), {}), ("diag", (A32[0], 1), {}),
    ("diag", (Z[0],), {}), ("diag", (A, -1), {}), ("diagonal", (A,), {"offset": 1}),
    ("tril", (A32,), {}), ("triu", (Z, 1), {}), ("take", (A, [0, 4]), {}),
    ("take_along_axis", (A, np.array([[0], [2]]), 1), {}),
    ("select", ([A > 0, A < -1], [A, Z]), {"default": 1.0}),
    ("append", (A32, A32), {"axis": 0}), ("insert", (A, 1, 7.0), {}), ("delete", (A, 1, 1), {}),
    ("zeros_like", (A32,), {}), ("ones_like", (A,), {"dtype": np.float32}),
    ("full_like", (A, 2.5), {"shape": (4,)}), ("copy", (A32,), {}),
    ("concatenate", ([A, V, 2.0],), {"axis": None}),
]


@pytest.mark.parametrize("name, args, kwargs", [pytest.param(*c, id=f"{c[0]}-{i}")
                                                for i, c in enumerate(CALLS)])
def test_dk_function_on_plain_arrays_is_numpys(name: str, args: tuple[Any, ...],
                                               kwargs: dict[str, Any]) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        numpy_fn = getattr(np, name, None) or getattr(np.ndarray, name)  # flatten: a method
        want = numpy_fn(*args, **kwargs)
    got = getattr(dk, name)(*args, **kwargs)
    for g, w in zip(*(v if isinstance(v, list | tuple) else [v] for v in (got, want)),
                    strict=True):
        assert np.shape(g) == np.shape(w) and np.asarray(g).dtype == np.asarray(w).dtype, name
        np.testing.assert_array_equal(g, w)


def test_empty_like_and_dispatch_only_names() -> None:
    assert dk.empty_like(A32).shape == A32.shape and dk.empty_like(A32).dtype == np.float32
    assert dk.flatten(np.asfortranarray(A)).tolist() == A.flatten().tolist()
    # dk.trace is the tracing tool; np.trace and x.trace() reach the assembly record
    assert dk.trace is not PUBLIC["trace"] and callable(dk.trace)
    assert PUBLIC["trace"] is NUMPY_NAMES["trace"]
    assert PUBLIC["trace"](A, 1) == np.trace(A, 1)
    assert type(dk.trace("x*y", 2.0, 3.0)).__name__ == "Trace"
    assert NUMPY_NAMES["where"].name == "where" and dk.where(A > 0, A, 0.0).shape == A.shape


# ----- traced values: methods, dispatch, constants, indices --------------------------------------


def test_array_methods_on_traced_values() -> None:
    x = _arange(1, 3, 3)

    def f(x: Any) -> Any:
        parts = [x.squeeze(), x.squeeze(0).swapaxes(0, 1), x[0].repeat(2, axis=1)[:, :3],
                 x[0].take([[0, 4, 8]]).reshape(1, 3).repeat(3, 0), x.copy()[0]]
        return sum(p * (i + 1.0) for i, p in enumerate(parts)) * x[0].diagonal() * x[0].trace()

    g = dk.function(f, inputs=["x"])
    np.testing.assert_array_equal(g(x), f(x))
    ref = dk.jacobian(g, method="fd")(x)
    for method in ("reverse", "forward", "symbolic"):
        np.testing.assert_allclose(dk.jacobian(g, method=method)(x), ref, rtol=1e-7, atol=1e-7)


def test_dk_names_on_traced_values() -> None:
    def f(x: Any) -> Any:
        y = dk.stack([x, dk.flip(x, 0)], axis=1)
        y = dk.pad(dk.tile(y, (1, 1, 2)), 1, mode="edge")
        return dk.sum(dk.diagonal(y, 0, 0, 2) ** 2) + dk.sum(dk.take(x, [1, 1]))

    x = _arange(2, 3)
    (g,) = dk.grad(f, method="reverse")(x)
    np.testing.assert_allclose(g, dk.grad(f, method="fd")(x)[0], rtol=1e-7, atol=1e-8)
    np.testing.assert_allclose(g, dk.grad(f, method="forward")(x)[0], rtol=1e-13)


def test_one_argument_where_gives_plain_nonzero_indices_and_marks_a_branch() -> None:
    seen = []

    def f(x: Any) -> Any:
        idx = np.where(x > 0)
        seen.append(idx)
        return np.sum(x[idx] ** 2) + np.sum(x[np.where(x)] * 0.5)

    x = np.array([[1.5, -2.0, 0.0], [0.5, 0.0, -1.0]])
    fn = dk.function(f, inputs=["x"])
    (g,) = dk.grad(fn)(x)
    np.testing.assert_array_equal(g, 2 * x * (x > 0) + 0.5 * (x != 0))
    rows, cols = seen[-1]
    assert type(rows) is np.ndarray and rows.tolist() == [0, 1] and cols.tolist() == [0, 0]
    assert fn.trace(x).value_dependent
    # a jit function that reads indices is traced again at its next point: still right
    j = dk.jit(f)
    dk.grad(j)(x)
    np.testing.assert_array_equal(dk.grad(j)(-x)[0], 2 * -x * (-x > 0) + 0.5 * (x != 0))


def test_like_constants_do_not_depend_on_values() -> None:
    kinds = []

    def f(x: Any) -> Any:
        z, o = np.zeros_like(x), np.ones_like(x, dtype=np.float64, shape=(3,))
        e, full = np.empty_like(x), np.full_like(x, 7)
        kinds.extend((type(z), z.dtype, z.shape, o.dtype, o.shape, e.shape, full.dtype))
        return np.sum((z + full) * x) + np.sum(o)

    x32 = _arange(2, 2).astype(np.float32)
    (g,) = dk.grad(f)(x32)
    assert g.dtype == np.float32 and np.all(g == 7.0)
    assert kinds == [np.ndarray, np.float32, (2, 2), np.float64, (3,), (2, 2), np.float32]
    assert dk.grad(lambda x: np.sum(np.zeros_like(x)))(x32)[0].tolist() == [[0, 0], [0, 0]]


def test_complex_values_pass_through() -> None:
    z = _arange(2, 3) + 1j * _arange(2, 3)[::-1] ** 2
    ops = [lambda v: np.pad(v, ((1, 0), (2, 1)), mode="reflect"), lambda v: np.rot90(v),
           lambda v: np.diag(v[0], 1), lambda v: np.tril(v), lambda v: np.repeat(v, [1, 2], 0),
           lambda v: np.stack([v, v[::-1]], 2), lambda v: np.pad(v, 1, constant_values=2j)]
    for op in ops:
        f = dk.function(op, inputs=["z"])
        np.testing.assert_array_equal(f(z), op(z))
        # holomorphic f(z) = Σ w·op(z)²: f'(z) = Jᵀ(2 w ⊙ J z + ...) with J the op's linear part
        J = _unit_jacobian(op, z.shape, z.dtype)
        y = np.ravel(op(z))
        w = _weights(y.shape)  # _loss's weights, in the flat order
        (grad,) = dk.grad(dk.function(_loss(op), inputs=["z"]))(z)
        np.testing.assert_allclose(np.ravel(grad), J.T @ (2 * w * y), rtol=1e-13)


def test_float32_stays_float32() -> None:
    x = _arange(3, 3).astype(np.float32)
    for op in (lambda v: np.diag(v[0], -1), lambda v: np.pad(v, 1, constant_values=0.1),
               lambda v: np.triu(v), lambda v: np.select([v > 0], [v], 0.5),
               lambda v: np.insert(v, 1, 0.3)):
        f = dk.function(lambda v, op=op: np.sum(op(v) ** 2), inputs=["v"])
        assert np.asarray(op(x)).dtype == np.float32
        assert dk.grad(f)(x)[0].dtype == np.float32


def test_pad_mode_empty_pads_with_zeros_on_traced_values() -> None:
    x = _arange(2, 3)
    seen = []

    def f(v: Any) -> Any:
        p = np.pad(v, ((1, 0), (0, 2)), mode="empty")
        seen.append(p)
        return np.sum(p * p)

    (g,) = dk.grad(f)(x)
    np.testing.assert_array_equal(g, 2 * x)
    padded = seen[-1].value
    assert padded.shape == (3, 5) and np.all(padded[1:, :3] == x) and not np.any(padded[0])


def test_unsupported_pad_mode_names_fd_and_fd_works() -> None:
    x = _arange(2, 3)
    f = dk.function(lambda v: np.sum(np.pad(v, 1, mode="mean") ** 2), inputs=["v"])
    with pytest.raises(dk.MissingRuleError, match="method='fd'"):
        dk.grad(f)(x)
    with pytest.raises(dk.MissingRuleError, match="reflect_type='odd'.*method='fd'"):
        dk.grad(lambda v: np.sum(np.pad(v, 1, mode="reflect", reflect_type="odd")))(x)
    with pytest.raises(dk.MissingRuleError, match="method='fd'"):
        dk.grad(lambda v: np.sum(np.pad(v, 1, mode=lambda *a, **k: None)))(x)
    (g,) = dk.grad(f, method="fd")(x)
    assert g.shape == x.shape and np.all(np.isfinite(g))


# ----- errors: the table's errors, naming what does not fit ---------------------------------------

ERRORS = [
    (lambda: dk.stack([]), ValueError, "at least one array"),
    (lambda: dk.stack([A, V]), ValueError, r"same shape.*\(2, 3\).*\(4,\)"),
    (lambda: dk.stack([A, A], axis=3), IndexError, "axis 3 is out of bounds"),
    (lambda: dk.vstack([]), ValueError, "at least one array"),
    (lambda: dk.hstack([A, V]), ValueError, "do not fit"),
    (lambda: dk.expand_dims(A, (0, 0)), ValueError, "repeated axis"),
    (lambda: dk.expand_dims(A, 4), IndexError, "out of bounds"),
    (lambda: dk.squeeze(A[None], 1), ValueError, r"size not equal to one \(axis 1 of shape"),
    (lambda: dk.squeeze(A, 2), IndexError, "out of bounds"),
    (lambda: dk.ravel(A, "X"), ValueError, "order"),
    (lambda: dk.swapaxes(A, 0, 2), IndexError, "axis2 2 is out of bounds"),
    (lambda: dk.moveaxis(A, (0, 1), 0), ValueError, "same number of elements"),
    (lambda: dk.moveaxis(A, (0, 0), (0, 1)), ValueError, "repeated axis in `source`"),
    (lambda: dk.rollaxis(A, 0, 3), IndexError, "'start' arg requires"),
    (lambda: dk.flip(A, (0, -2)), ValueError, "repeated axis"),
    (lambda: dk.fliplr(V), ValueError, r">= 2-d, got shape \(4,\)"),
    (lambda: dk.flipud(np.float64(1.0)), ValueError, ">= 1-d"),
    (lambda: dk.rot90(A, axes=(0,)), ValueError, "len\\(axes\\) must be 2"),
    (lambda: dk.rot90(A, axes=(1, -1)), ValueError, "Axes must be different"),
    (lambda: dk.rot90(A, axes=(0, 3)), IndexError, "out of range"),
    (lambda: dk.pad(A, 1.0), TypeError, "integral type"),
    (lambda: dk.repeat(A, -1), ValueError, "negative"),
    (lambda: dk.repeat(A, [1, 2], axis=1), ValueError, r"2 repeats do not fit an axis of length 3"),
    (lambda: dk.repeat(A, 1.5), TypeError, "integers"),
    (lambda: dk.repeat(A, [[1]]), ValueError, "1-D"),
    (lambda: dk.tile(A, -1), ValueError, "negative"),
    (lambda: dk.pad(A, -1), ValueError, "negative"),
    (lambda: dk.pad(A, ((1, 2, 3),)), ValueError, r"pad_width of shape \(1, 3\)"),
    (lambda: dk.pad(A, 1, mode="edge", constant_values=2), ValueError, "unsupported keyword"),
    (lambda: dk.pad(A[:, :0], 1, mode="wrap"), ValueError, "can't extend empty axis 1"),
    (lambda: dk.split(A, 2, axis=1), ValueError, "equal division"),
    (lambda: dk.array_split(A, 0), ValueError, "larger than 0"),
    (lambda: dk.hsplit(np.float64(1.0), 1), ValueError, "1 or more dimensions"),
    (lambda: dk.vsplit(V, 2), ValueError, "2 or more dimensions"),
    (lambda: dk.dsplit(A, 2), ValueError, "3 or more dimensions"),
    (lambda: dk.diag(A[None]), ValueError, "1- or 2-d"),
    (lambda: dk.diagonal(V), ValueError, "at least two dimensions"),
    (lambda: dk.diagonal(A, 0, 1, -1), ValueError, "cannot be the same"),
    (lambda: dk.tril(np.float64(2.0)), ValueError, "at least one dimension"),
    (lambda: dk.take(A, [6]), IndexError, "does not fit shape"),
    (lambda: dk.take(A, [0], axis=1, mode="bad"), ValueError, "mode must be one of"),
    (lambda: dk.take(A, [0.5]), TypeError, "integers"),
    (lambda: dk.take(A[:, :0], [1], axis=1, mode="wrap"), IndexError, "empty axis"),
    (lambda: dk.take_along_axis(A, np.array([0]), 1), ValueError, "same number of dimensions"),
    (lambda: dk.take_along_axis(A, np.array([[0]]), None), ValueError, "single dimension"),
    (lambda: dk.select([A > 0], [A, A]), ValueError, "same length"),
    (lambda: dk.select([], []), ValueError, "empty condition list"),
    (lambda: dk.select([A], [A]), TypeError, "should be boolean"),
    (lambda: dk.delete(A, 7, axis=1), IndexError, "out of bounds"),
    (lambda: dk.stack([A], out=np.empty((1, 2, 3))), dk.TracingError, "out="),
    (lambda: PUBLIC["trace"](V), ValueError, "at least two dimensions"),
    (lambda: NUMPY_NAMES["where"](A > 0, A), ValueError, "both or neither"),
]


@pytest.mark.parametrize("call, kind, match", [pytest.param(*e, id=str(i))
                                               for i, e in enumerate(ERRORS)])
def test_errors(call: Callable[[], Any], kind: type, match: str) -> None:
    with pytest.raises(kind, match=match):
        call()


def test_errors_on_traced_values_are_the_same() -> None:
    x = _arange(2, 3)
    with pytest.raises(ValueError, match="size not equal to one"):
        dk.grad(lambda v: np.sum(np.squeeze(v, 0)))(x)
    with pytest.raises(ValueError, match="equal division"):
        dk.grad(lambda v: np.sum(np.split(v, 4, axis=1)[0]))(x)
    with pytest.raises(IndexError):
        dk.grad(lambda v: np.sum(np.take(v, [9])))(x)
    with pytest.raises(dk.TracingError, match="out="):
        dk.grad(lambda v: np.trace(v, out=np.zeros(())))(x)
    with pytest.raises(dk.TracingError):  # a differentiated value cannot be a repeat count
        dk.grad(lambda v: np.sum(np.repeat(v, v[0, 0])))(x)
