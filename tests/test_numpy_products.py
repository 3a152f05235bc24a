"""NumPy's products on traced values: einsum, inner, outer, vdot, tensordot, kron, cross, matmul.

Each function is written in plain NumPy spelling and checked by ``numpy_check.check``: values equal
NumPy's, and reverse / forward / symbolic / finite-difference derivatives (Hessians where the output
is a scalar) agree with an mpmath reference written here — einsum's reference is a brute-force sum
over every assignment of its labels, written below, not NumPy's einsum.
"""

from __future__ import annotations

import itertools
import warnings

import numpy as np
import pytest
from numpy_check import Spec, check, grid

import diffkit as dk

COVERS = {"einsum", "inner", "outer", "vdot", "tensordot", "kron", "cross", "matmul"}


# ----- references -------------------------------------------------------------------------------


def ref_einsum(subscripts: str, *arrays: np.ndarray) -> np.ndarray:
    """Explicit subscripts (no '...'), evaluated as Σ over every label assignment of the product of
    the operands' entries (size-1 axes broadcast)."""
    lhs, out = subscripts.split("->")
    terms = lhs.split(",")
    arrays = [np.asarray(a, dtype=object) for a in arrays]
    sizes: dict[str, int] = {}
    for term, a in zip(terms, arrays):
        for c, n in zip(term, a.shape):
            sizes[c] = max(sizes.get(c, 1), n)
    labels = sorted(sizes)
    result = np.zeros(tuple(sizes[c] for c in out), dtype=object)
    for values in itertools.product(*(range(sizes[c]) for c in labels)):
        at = dict(zip(labels, values))
        prod = 1
        for term, a in zip(terms, arrays):
            prod = prod * a[tuple(at[c] if n > 1 else 0 for c, n in zip(term, a.shape))]
        result[tuple(at[c] for c in out)] += prod
    return result if result.shape else result[()]


def ref_cross3(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a = list(a) + [0] * (3 - len(a))
    b = list(b) + [0] * (3 - len(b))
    return np.array([a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2],
                     a[0] * b[1] - a[1] * b[0]], dtype=object)


def ref_kron(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    nd = max(a.ndim, b.ndim)
    a = a.reshape((1,) * (nd - a.ndim) + a.shape)
    b = b.reshape((1,) * (nd - b.ndim) + b.shape)
    out = np.empty(tuple(m * n for m, n in zip(a.shape, b.shape)), dtype=object)
    for i in np.ndindex(*a.shape):
        for j in np.ndindex(*b.shape):
            out[tuple(p * n + q for p, n, q in zip(i, b.shape, j))] = a[i] * b[j]
    return out


def _pt(*specs, count=1, seed=0):
    return grid(*specs, count=count, seed=seed)


# ----- specs ------------------------------------------------------------------------------------

SPECS = [
    Spec("einsum matmul", lambda a, b: np.einsum("ij,jk->ik", a, b),
         _pt(((2, 3), (-1, 1)), ((3, 2), (-1, 1))),
         ref=lambda a, b: ref_einsum("ij,jk->ik", a, b)),
    Spec("einsum implicit", lambda a, b: np.einsum("ij,jk", a, b),
         _pt(((2, 3), (-1, 1)), ((3, 2), (-1, 1)), seed=1),
         ref=lambda a, b: ref_einsum("ij,jk->ik", a, b)),
    Spec("einsum implicit transpose", lambda a: np.einsum("ji", a), _pt(((2, 3), (-1, 1))),
         ref=lambda a: ref_einsum("ji->ij", a)),
    Spec("einsum trace ii", lambda a: np.einsum("ii", a) ** 2, _pt(((3, 3), (-1, 1))),
         ref=lambda a: ref_einsum("ii->", a) ** 2, order=2),
    Spec("einsum diagonal ii->i", lambda a: np.einsum("ii->i", a), _pt(((3, 3), (-1, 1))),
         ref=lambda a: ref_einsum("ii->i", a)),
    Spec("einsum iij->j", lambda a: np.einsum("iij->j", a), _pt(((2, 2, 3), (-1, 1))),
         ref=lambda a: ref_einsum("iij->j", a)),
    Spec("einsum ellipsis batched matmul", lambda a, b: np.einsum("...ij,...jk->...ik", a, b),
         _pt(((2, 2, 3), (-1, 1)), ((3, 2), (-1, 1))),
         ref=lambda a, b: ref_einsum("zij,jk->zik", a, b)),
    Spec("einsum ellipsis broadcast", lambda a, b: np.einsum("...j,...j->...", a, b),
         _pt(((2, 1, 3), (-1, 1)), ((4, 3), (-1, 1))),
         ref=lambda a, b: ref_einsum("yzj,zj->yz", a, b)),
    Spec("einsum ellipsis in the middle", lambda a: np.einsum("i...i", a),
         _pt(((3, 2, 3), (-1, 1))), ref=lambda a: ref_einsum("izi->z", a)),
    Spec("einsum three operands", lambda v, a, w: np.einsum("i,ij,j->", v, a, w),
         _pt(((2,), (-1, 1)), ((2, 3), (-1, 1)), ((3,), (-1, 1))),
         ref=lambda v, a, w: ref_einsum("i,ij,j->", v, a, w), order=2),
    Spec("einsum four operands", lambda a, b, c, d: np.einsum("ij,jk,kl,li->", a, b, c, d),
         _pt(((2, 2), (-1, 1)), ((2, 2), (-1, 1)), ((2, 2), (-1, 1)), ((2, 2), (-1, 1))),
         ref=lambda a, b, c, d: ref_einsum("ij,jk,kl,li->", a, b, c, d)),
    Spec("einsum repeated operand", lambda a: np.einsum("ij,ij->", a, a), _pt(((2, 3), (-1, 1))),
         ref=lambda a: ref_einsum("ij,ij->", a, a), order=2),
    Spec("einsum sum over a label", lambda a: np.einsum("ijk->ik", a), _pt(((2, 3, 2), (-1, 1))),
         ref=lambda a: ref_einsum("ijk->ik", a)),
    Spec("einsum trace and vector", lambda a, v: np.einsum("ii,j->j", a, v),
         _pt(((2, 2), (-1, 1)), ((3,), (-1, 1))), ref=lambda a, v: ref_einsum("ii,j->j", a, v)),
    Spec("einsum size-1 broadcast", lambda a, b: np.einsum("ij,ij->ij", a, b),
         _pt(((1, 3), (-1, 1)), ((2, 3), (-1, 1))), ref=lambda a, b: ref_einsum("ij,ij->ij", a, b)),
    Spec("einsum sublists", lambda a, b: np.einsum(a, [0, 1], b, [1, 2], [2, 0]),
         _pt(((2, 3), (-1, 1)), ((3, 2), (-1, 1))),
         ref=lambda a, b: ref_einsum("ij,jk->ki", a, b)),
    Spec("einsum optimize", lambda a, b, c: np.einsum("ij,jk,kl->il", a, b, c, optimize=True),
         _pt(((2, 3), (-1, 1)), ((3, 2), (-1, 1)), ((2, 2), (-1, 1))),
         ref=lambda a, b, c: ref_einsum("ij,jk,kl->il", a, b, c)),
    Spec("inner", lambda a, b: np.inner(a, b), _pt(((2, 3), (-1, 1)), ((4, 3), (-1, 1))),
         ref=lambda a, b: ref_einsum("ik,jk->ij", a, b)),
    Spec("inner vectors", lambda a, b: np.inner(a, b), _pt(((3,), (-1, 1)), ((3,), (-1, 1))),
         ref=lambda a, b: ref_einsum("k,k->", a, b), order=2),
    Spec("inner scalar", lambda a, b: np.inner(a, b), _pt(((), (-1, 1)), ((2, 2), (-1, 1))),
         ref=lambda a, b: b * a),
    Spec("outer flattens", lambda a, b: np.outer(a, b), _pt(((2, 2), (-1, 1)), ((3,), (-1, 1))),
         ref=lambda a, b: ref_einsum("i,j->ij", a.reshape(-1), b)),
    Spec("vdot flattens", lambda a, b: np.vdot(a, b), _pt(((2, 3), (-1, 1)), ((3, 2), (-1, 1))),
         ref=lambda a, b: ref_einsum("i,i->", a.reshape(-1), b.reshape(-1)), order=2),
    Spec("tensordot axes=1", lambda a, b: np.tensordot(a, b, 1),
         _pt(((2, 3), (-1, 1)), ((3, 2, 2), (-1, 1))),
         ref=lambda a, b: ref_einsum("ij,jkl->ikl", a, b)),
    Spec("tensordot axes=2", lambda a, b: np.tensordot(a, b),
         _pt(((2, 3, 2), (-1, 1)), ((3, 2), (-1, 1))),
         ref=lambda a, b: ref_einsum("ijk,jk->i", a, b)),
    Spec("tensordot pair of sequences", lambda a, b: np.tensordot(a, b, axes=([1, 0], [0, 2])),
         _pt(((2, 3), (-1, 1)), ((3, 2, 2), (-1, 1))),
         ref=lambda a, b: ref_einsum("ij,jki->k", a, b), order=1),
    Spec("tensordot axes=0", lambda a, b: np.tensordot(a, b, 0),
         _pt(((2,), (-1, 1)), ((3,), (-1, 1))),
         ref=lambda a, b: ref_einsum("i,j->ij", a, b)),
    Spec("tensordot scalar", lambda a, b: np.tensordot(a, b, axes=([0, 1], [1, 0])),
         _pt(((2, 3), (-1, 1)), ((3, 2), (-1, 1))), ref=lambda a, b: ref_einsum("ij,ji->", a, b),
         order=2),
    Spec("kron", lambda a, b: np.kron(a, b), _pt(((2, 2), (-1, 1)), ((3,), (-1, 1))),
         ref=ref_kron),
    Spec("kron 2-D", lambda a, b: np.kron(a, b), _pt(((2, 1), (-1, 1)), ((2, 3), (-1, 1))),
         ref=ref_kron),
    Spec("cross 3-vectors", lambda a, b: np.cross(a, b), _pt(((3,), (-1, 1)), ((3,), (-1, 1))),
         ref=ref_cross3),
    Spec("cross squared norm", lambda a, b: np.sum(np.cross(a, b) ** 2),
         _pt(((3,), (-1, 1)), ((3,), (-1, 1)), seed=3), ref=lambda a, b: sum(ref_cross3(a, b) ** 2),
         order=2),
    Spec("cross broadcast batch", lambda a, b: np.cross(a, b),
         _pt(((2, 3), (-1, 1)), ((3,), (-1, 1))),
         ref=lambda a, b: np.array([ref_cross3(r, b) for r in a])),
    Spec("cross axisa axisb axisc", lambda a, b: np.cross(a, b, axisa=0, axisb=1, axisc=0),
         _pt(((3, 2), (-1, 1)), ((2, 3), (-1, 1))),
         ref=lambda a, b: np.array([ref_cross3(a[:, i], b[i]) for i in range(2)]).T),
    Spec("cross axis", lambda a, b: np.cross(a, b, axis=0),
         _pt(((3, 2), (-1, 1)), ((3, 2), (-1, 1))),
         ref=lambda a, b: np.array([ref_cross3(a[:, i], b[:, i]) for i in range(2)]).T),
    Spec("cross 2-vectors", lambda a, b: np.cross(a, b), _pt(((4, 2), (-1, 1)), ((2,), (-1, 1))),
         ref=lambda a, b: np.array([r[0] * b[1] - r[1] * b[0] for r in a])),
    Spec("cross 2 with 3", lambda a, b: np.cross(a, b), _pt(((2,), (-1, 1)), ((3,), (-1, 1))),
         ref=ref_cross3),
    Spec("np.matmul", lambda a, b: np.matmul(a, b), _pt(((2, 2, 3), (-1, 1)), ((3, 2), (-1, 1))),
         ref=lambda a, b: ref_einsum("zij,jk->zik", a, b)),
    Spec("@ operator", lambda a, b: a @ b, _pt(((2, 3), (-1, 1)), ((3,), (-1, 1))),
         ref=lambda a, b: ref_einsum("ij,j->i", a, b)),
    Spec("ndarray @ traced", lambda b: np.arange(6.0).reshape(2, 3) @ b, _pt(((3, 2), (-1, 1))),
         ref=lambda b: ref_einsum("ij,jk->ik", np.arange(6).reshape(2, 3), b)),
]


@pytest.mark.filterwarnings("ignore:Arrays of 2-dimensional vectors:DeprecationWarning")
@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.name)
def test_products(spec: Spec) -> None:
    check(spec)


# ----- more than the checker covers --------------------------------------------------------------


def test_einsum_rules_are_einsums() -> None:
    """The derivative graph of an einsum is made of einsums (and reshapes / sums for broadcasts):
    its VJP with respect to a repeated-label operand restores the diagonal."""
    a = np.arange(9.0).reshape(3, 3)
    (g,) = dk.grad(lambda x: np.sum(np.einsum("ii->i", x) * np.arange(3.0)))(a)
    np.testing.assert_array_equal(g, np.diag(np.arange(3.0)))
    f = dk.function(lambda x, y: np.einsum("ij,jk->ik", x, y).sum(), inputs=["x", "y"])
    graph = f.trace(a, a)
    assert "einsum" in {n.op for n in graph.nodes}


def test_einsum_second_derivative_of_a_cubic() -> None:
    """einsum('i,i,i->', x, x, x) = Σ xᵢ³: Hessian diag(6x) by reverse and forward."""
    x = np.array([0.5, -1.0, 2.0])
    for method in ("reverse", "forward"):
        h = dk.hessian(lambda v: np.einsum("i,i,i->", v, v, v), method=method)(x)
        np.testing.assert_allclose(h, np.diag(6 * x), rtol=1e-14)


def test_vdot_conjugates_its_first_argument() -> None:
    """vdot(a, b) = Σ conj(a)·b: the gradients follow JAX's convention (compared with fd)."""
    a = np.array([1.0 + 2.0j, -0.5 + 0.25j])
    b = np.array([0.3 - 1.0j, 2.0 + 0.5j])
    assert np.vdot(a, b) == dk.vdot(a, b)
    for wrt in (0, 1):
        def f(x, y):
            return np.real(np.vdot(x, y))
        want = dk.grad(f, method="fd", wrt=[wrt])(a, b)[0]
        for method in ("reverse", "forward"):
            got = dk.grad(f, method=method, wrt=[wrt])(a, b)[0]
            np.testing.assert_allclose(got, want, rtol=1e-7, atol=1e-9)


def test_einsum_complex_operands() -> None:
    a = np.array([[1.0 + 1.0j, 2.0], [0.5j, -1.0]])
    b = np.array([[0.3, -1.0j], [2.0, 1.0 + 0.5j]])
    want = dk.grad(lambda x: np.abs(np.einsum("ij,jk->", x, b)) ** 2, method="fd")(a)
    got = dk.grad(lambda x: np.abs(np.einsum("ij,jk->", x, b)) ** 2)(a)
    np.testing.assert_allclose(got, want, rtol=1e-7, atol=1e-9)


@pytest.mark.parametrize("call, message", [
    (lambda: dk.einsum("ij,jk->ik", np.ones((2, 3)), np.ones((2, 3))), "label 'j'"),
    (lambda: dk.einsum("ij->ik", np.ones((2, 3))), "appear in no operand"),
    (lambda: dk.einsum("ij,jk->ik", np.ones((2, 3))), "names 2 operand"),
    (lambda: dk.einsum("ij->i", np.ones(3)), "gives it 2 label"),
    (lambda: dk.einsum("i1->i", np.ones((3, 1))), "invalid character"),
    (lambda: dk.einsum("...i->i", np.ones((2, 3))), "no '...' in its output"),
    (lambda: dk.einsum("ii->i", np.ones((2, 3))), "different lengths"),
    (lambda: dk.einsum("ij->ii", np.ones((2, 2))), "repeats in the output"),
    (lambda: dk.tensordot(np.ones((2, 3)), np.ones((2, 3)), 1), "shape-mismatch"),
    (lambda: dk.inner(np.ones(2), np.ones(3)), "last axes"),
    (lambda: dk.vdot(np.ones(2), np.ones(3)), "different sizes"),
    (lambda: dk.cross(np.ones(4), np.ones(3)), "dimension must be 2 or 3"),
])
def test_shape_errors_name_the_shapes(call, message) -> None:
    with pytest.raises(dk.ShapeError, match=message):
        call()


def test_einsum_keywords_refused_by_name() -> None:
    f = dk.function(lambda x: np.einsum("ii", x, dtype=np.float32), inputs=["x"])
    with pytest.raises(dk.MissingRuleError, match="dtype"):
        dk.grad(f)(np.eye(2))


def test_float32_stays_float32() -> None:
    a = np.ones((2, 3), np.float32)
    b = np.ones((3, 2), np.float32)
    for fn in (lambda x, y: np.einsum("ij,jk->", x, y), lambda x, y: np.tensordot(x, y.T),
               lambda x, y: np.sum(np.kron(x, y))):
        ga, gb = dk.grad(fn)(a, b)
        assert ga.dtype == np.float32 and gb.dtype == np.float32
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        (g,) = dk.grad(lambda x: np.sum(np.cross(x, np.ones(3, np.float32))))(
            np.ones(3, np.float32))
    assert g.dtype == np.float32
