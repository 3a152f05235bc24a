"""numpy.linalg on traced values: inv, solve, det, slogdet, cholesky, eigh, eigvalsh, svd, qr, pinv,
matrix_power, multi_dot, norm (every ord and axis), on single matrices and stacks.

Each function is written in plain NumPy spelling and checked by ``numpy_check.check`` against an
mpmath reference written here (``mp.inverse``, ``mp.det``, ``mp.lu_solve``, ``mp.cholesky``,
``mp.eigsy``, ``mp.svd_r``, ``mp.qr`` at 50/80 digits). Decompositions are reduced to quantities
that do not depend on the signs of eigenvectors or singular vectors (squares, u·diag·vᵀ products).
The degenerate cases are named errors: singular matrices, repeated eigenvalues and singular values,
rank-deficient QR; the 2-norm at 0 has the subgradient 0 in every engine.
"""

from __future__ import annotations

import mpmath
import numpy as np
import pytest
from numpy_check import Spec, check, grid

import diffkit as dk
from diffkit.primitives.linalg import NotPositiveDefiniteError, SingularMatrixError

COVERS = {
    "inv", "solve", "det", "slogdet", "slogdet_packed", "slogdet_sign", "logabsdet", "cholesky", "eigh",
    "eigh_packed", "eigh_values", "eigh_vectors", "eigvalsh", "svd", "svd_packed", "svd_u",
    "svd_s", "svd_vh", "svdvals", "qr", "qr_packed", "qr_q", "qr_r", "pinv", "matrix_power",
    "multi_dot", "norm", "vector_norm", "matrix_norm", "euclidean_norm", "lstsq",
    "lstsq_solution",
}
mp = mpmath.mp
ENGINES3 = ("reverse", "forward", "fd")


# ----- mpmath helpers ----------------------------------------------------------------------------


def M(a: np.ndarray) -> mpmath.matrix:
    return mp.matrix([[a[i, j] for j in range(a.shape[1])] for i in range(a.shape[0])])


def A(m: mpmath.matrix) -> np.ndarray:
    return np.array([[m[i, j] for j in range(m.cols)] for i in range(m.rows)], dtype=object)


def stacked(fn, a: np.ndarray, core: int = 2) -> np.ndarray:
    """fn applied to every matrix of a stack (object arrays)."""
    a = np.asarray(a, dtype=object)
    batch = a.shape[:a.ndim - core]
    outs = [np.asarray(fn(a[i]), dtype=object) for i in np.ndindex(*batch)]
    return np.array(outs, dtype=object).reshape(batch + outs[0].shape)


def lower_symmetric(a: np.ndarray, lower: bool = True) -> np.ndarray:
    """The symmetric matrix made of a's lower (or upper) triangle, as NumPy's eigh reads it."""
    n = a.shape[0]
    return np.array([[a[max(i, j), min(i, j)] if lower else a[min(i, j), max(i, j)]
                      for j in range(n)] for i in range(n)], dtype=object)


def ref_eigh(a: np.ndarray, lower: bool = True) -> tuple[np.ndarray, np.ndarray]:
    e, q = mp.eigsy(M(lower_symmetric(a, lower)))
    w = np.array([e[i] for i in range(e.rows)], dtype=object)
    order = np.argsort([float(x) for x in w])
    return w[order], A(q)[:, order]


def ref_svd(a: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    u, s, v = mp.svd_r(M(a), full_matrices=False)
    s = np.array([s[i] for i in range(s.rows)], dtype=object)
    order = np.argsort([-float(x) for x in s])
    return A(u)[:, order], s[order], A(v)[order, :]


def ref_qr(a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    m, n = a.shape
    if m >= n:
        q, r = mp.qr(M(a), mode="skinny")
        return A(q), A(r)
    q, rx = mp.qr(M(a[:, :m]))
    return A(q), np.concatenate([A(rx), A(q).T.dot(a[:, m:])], axis=1)


def ref_pinv(a: np.ndarray, rcond: float = 1e-15) -> np.ndarray:
    u, s, vh = ref_svd(a)
    cut = rcond * max(s)
    inv_s = np.array([1 / x if x > cut else 0 for x in s], dtype=object)
    return (vh.T * inv_s).dot(u.T)


def ref_lstsq(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The least-squares solution of least norm, from the normal equations in mpmath: (AᵀA)⁻¹Aᵀb
    for full column rank, Aᵀ(AAᵀ)⁻¹b for full row rank."""
    am, m, n = M(a), *a.shape
    cols = b.reshape(m, -1)
    out = []
    for j in range(cols.shape[1]):
        bj = mp.matrix([cols[i, j] for i in range(m)])
        xj = mp.lu_solve(am.T * am, am.T * bj) if m >= n else am.T * mp.lu_solve(am * am.T, bj)
        out.append([xj[i] for i in range(n)])
    x = np.array(out, dtype=object).T
    return x.reshape(n) if b.ndim == 1 else x


def ref_residuals(a: np.ndarray, b: np.ndarray) -> object:
    r = np.asarray(b, dtype=object) - np.asarray(a, dtype=object).dot(ref_lstsq(a, b))
    return np.sum(r * r)


def det_mp(m: np.ndarray) -> object:
    """The determinant by Gaussian elimination with partial pivoting (0 for a singular matrix,
    where mpmath's det raises)."""
    m = [list(row) for row in m]
    n, sign, out = len(m), 1, mp.mpf(1)
    for j in range(n):
        p = max(range(j, n), key=lambda i: abs(m[i][j]))
        if m[p][j] == 0:
            return mp.mpf(0)
        if p != j:
            m[j], m[p], sign = m[p], m[j], -sign
        out *= m[j][j]
        for i in range(j + 1, n):
            f = m[i][j] / m[j][j]
            m[i] = [x - f * y for x, y in zip(m[i], m[j])]
    return sign * out


def ref_det(a: np.ndarray) -> np.ndarray:
    return stacked(det_mp, a)


def ref_inv(a: np.ndarray) -> np.ndarray:
    return stacked(lambda m: A(mp.inverse(M(m))), a)


def ref_solve(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    def one(m, rhs):
        cols = rhs.reshape(rhs.shape[0], -1)
        out = [[x for x in mp.lu_solve(M(m), mp.matrix(list(cols[:, j])))]
               for j in range(cols.shape[1])]
        return np.array(out, dtype=object).T.reshape(rhs.shape)

    a = np.asarray(a, dtype=object)
    if b.ndim == 1:
        return stacked(lambda m: one(m, b), a)
    batch = np.broadcast_shapes(a.shape[:-2], b.shape[:-2])
    aa = np.broadcast_to(a, batch + a.shape[-2:])
    bb = np.broadcast_to(b, batch + b.shape[-2:])
    outs = [one(aa[i], bb[i]) for i in np.ndindex(*batch)]
    return np.array(outs, dtype=object).reshape(batch + b.shape[-2:])


def ref_cholesky(a: np.ndarray, upper: bool = False) -> np.ndarray:
    low = A(mp.cholesky(M(lower_symmetric(a, not upper))))
    return low.T if upper else low


def mpow(a: np.ndarray, n: int) -> np.ndarray:
    out = np.eye(a.shape[0], dtype=object) * mp.mpf(1)
    base = A(mp.inverse(M(a))) if n < 0 else a
    for _ in range(abs(n)):
        out = out.dot(base)
    return out


def vnorm(x: np.ndarray, ord) -> object:
    vals = [abs(v) for v in x]
    if ord is None or ord == 2:
        return mp.sqrt(sum(v * v for v in vals))
    if ord == np.inf:
        return max(vals)
    if ord == -np.inf:
        return min(vals)
    if ord == 0:
        return sum(1 for v in vals if v != 0)
    return sum(v ** ord for v in vals) ** (mp.mpf(1) / ord)


def mnorm(x: np.ndarray, ord) -> object:
    if ord in (None, "fro"):
        return mp.sqrt(sum(v * v for v in x.reshape(-1)))
    if ord in (2, -2, "nuc"):
        s = ref_svd(x)[1]
        return max(s) if ord == 2 else min(s) if ord == -2 else sum(s)
    col_sums = [sum(abs(v) for v in x[:, j]) for j in range(x.shape[1])]
    row_sums = [sum(abs(v) for v in x[i, :]) for i in range(x.shape[0])]
    return {1: max(col_sums), -1: min(col_sums), np.inf: max(row_sums),
            -np.inf: min(row_sums)}[ord]


def _pt(*specs, count=1, seed=0):
    return grid(*specs, count=count, seed=seed)


def _spd(n: int, seed: int = 0, batch: tuple[int, ...] = ()) -> np.ndarray:
    """A matrix whose lower triangle (as NumPy reads it) is symmetric positive definite; its upper
    triangle holds other numbers, which the derivative must ignore."""
    rng = np.random.default_rng(seed)
    g = rng.uniform(-1, 1, batch + (n, n))
    s = g @ np.swapaxes(g, -1, -2) + n * np.eye(n)
    return np.tril(s) + np.triu(rng.uniform(-1, 1, batch + (n, n)), 1)


def _separated(n: int, seed: int = 0, batch: tuple[int, ...] = ()) -> np.ndarray:
    """A matrix whose lower-triangle symmetrization has eigenvalues 1, 2.5, 4, … (well apart)."""
    rng = np.random.default_rng(seed)
    q, _ = np.linalg.qr(rng.normal(size=batch + (n, n)))
    s = (q * (1.0 + 1.5 * np.arange(n))) @ np.swapaxes(q, -1, -2)
    return np.tril(s) + np.triu(rng.uniform(-1, 1, batch + (n, n)), 1)


RNG = np.random.default_rng(7)
C3 = RNG.uniform(-1, 1, (3, 3))
D3 = RNG.uniform(-1, 1, 3)
C32 = RNG.uniform(-1, 1, (3, 2))
C23 = RNG.uniform(-1, 1, (2, 3))
D2 = RNG.uniform(-1, 1, 2)
C22 = RNG.uniform(-1, 1, (2, 2))


# ----- eigh / svd / qr reductions that do not see signs -------------------------------------------


def eigh_scalar(a, uplo="L"):
    w, v = np.linalg.eigh(a, UPLO=uplo)
    return np.sum(w * D3) + np.sum(v ** 2 * C3) + np.sum(v[0] * v[1] * D3)


def ref_eigh_scalar(a, uplo="L"):
    w, v = ref_eigh(a, uplo == "L")
    return np.sum(w * D3) + np.sum(v ** 2 * C3) + np.sum(v[0] * v[1] * D3)


def svd_scalar(a):
    u, s, vh = np.linalg.svd(a, full_matrices=False)
    m, n = a.shape
    k = min(m, n)
    return (np.sum(s * D3[:k]) + np.sum(u ** 2 * C3[:m, :k]) + np.sum(vh ** 2 * C3[:k, :n])
            + np.sum(((u * D3[:k]) @ vh) * C3[:m, :n]))


def ref_svd_scalar(a):
    u, s, vh = ref_svd(a)
    m, n = a.shape
    k = min(m, n)
    return (np.sum(s * D3[:k]) + np.sum(u ** 2 * C3[:m, :k]) + np.sum(vh ** 2 * C3[:k, :n])
            + np.sum(((u * D3[:k]).dot(vh)) * C3[:m, :n]))


def sign_times_logdet(sign, logdet):
    return sign * logdet


def u_diag_vh(u, s, vh):
    return np.matmul(u * D2, vh)


def qr_scalar(a):
    q, r = np.linalg.qr(a)
    k = min(a.shape)
    return (np.sum(q ** 2 * C3[:a.shape[0], :k]) + np.sum(r ** 2 * C3[:k, :a.shape[1]])
            + np.sum((q * D3[:k]) @ r * C3[:a.shape[0], :a.shape[1]]))


def ref_qr_scalar(a):
    q, r = ref_qr(a)
    k = min(a.shape)
    return (np.sum(q ** 2 * C3[:a.shape[0], :k]) + np.sum(r ** 2 * C3[:k, :a.shape[1]])
            + np.sum((q * D3[:k]).dot(r) * C3[:a.shape[0], :a.shape[1]]))


SINGULAR = np.array([[1.0, 2.0, 3.0], [2.0, 4.0, 6.0], [0.5, 1.0, 1.0]])  # rank 2
RANK1 = np.outer([1.0, 2.0, -1.0], [0.5, 1.0, 3.0])  # rank 1: adjugate 0
_S9 = np.random.default_rng(3).uniform(-1, 1, (9, 8))
SINGULAR9 = _S9 @ np.random.default_rng(4).uniform(-1, 1, (8, 9))  # rank 8

LSTSQ_RANK2 = np.array([[1.0, 0.5, 1.5], [-2.0, 1.0, -1.0], [0.5, 2.0, 2.5], [1.0, -1.0, 0.0],
                        [0.25, 0.75, 1.0]])  # rank 2 exactly: column 2 = column 0 + column 1
LSTSQ_B = np.array([0.3, -1.2, 0.7, 2.0, -0.4])

SPECS = [
    # inv, solve, det, slogdet
    Spec("inv", lambda a: np.linalg.inv(a), _pt(((3, 3), (-1, 1))), ref=ref_inv),
    Spec("inv stack scalar", lambda a: np.sum(np.linalg.inv(a) * C22),
         [(np.array([[[2.0, 0.5], [0.3, 1.5]], [[1.0, -0.4], [0.7, 2.0]]]),)],
         ref=lambda a: np.sum(ref_inv(a) * C22), order=2),
    Spec("solve vector", lambda a, b: np.linalg.solve(a, b),
         _pt(((3, 3), (-1, 1)), ((3,), (-1, 1)), seed=1), ref=ref_solve),
    Spec("solve matrix rhs", lambda a, b: np.linalg.solve(a, b),
         _pt(((3, 3), (-1, 1)), ((3, 2), (-1, 1)), seed=2), ref=ref_solve),
    Spec("solve broadcast stacks", lambda a, b: np.linalg.solve(a, b),
         [(np.array([[[2.0, 0.5], [0.3, 1.5]], [[1.0, -0.4], [0.7, 2.0]]]),
           np.array([[[0.5, -1.0, 0.2], [1.0, 0.3, -0.7]]]))], ref=ref_solve),
    Spec("solve stack vector scalar", lambda a, b: np.sum(np.linalg.solve(a, b) ** 2),
         [(np.array([[[2.0, 0.5], [0.3, 1.5]], [[1.0, -0.4], [0.7, 2.0]]]), np.array([0.5, -1.0]))],
         ref=lambda a, b: np.sum(ref_solve(a, b) ** 2), order=2),
    Spec("det", lambda a: np.linalg.det(a), _pt(((3, 3), (-1, 1))), ref=ref_det, order=2),
    Spec("det stack", lambda a: np.linalg.det(a), _pt(((2, 2, 2), (-1, 1))), ref=ref_det),
    Spec("det singular (adjugate)", lambda a: np.linalg.det(a), [(SINGULAR,)], ref=ref_det,
         order=2, float32=False),
    Spec("det rank 1 (adjugate 0)", lambda a: np.linalg.det(a), [(RANK1,)], ref=ref_det,
         order=2, float32=False),
    Spec("det singular 9x9 (adjugate from the SVD)", lambda a: np.linalg.det(a), [(SINGULAR9,)],
         ref=ref_det, methods=ENGINES3, float32=False),
    Spec("slogdet logabsdet", lambda a: np.linalg.slogdet(a)[1], _pt(((3, 3), (-1, 1))),
         ref=lambda a: mp.log(abs(det_mp(a))), order=2),
    Spec("slogdet stack sign * logabsdet", lambda a: sign_times_logdet(*np.linalg.slogdet(a)),
         _pt(((2, 2, 2), (-1, 1)), seed=4),
         ref=lambda a: stacked(lambda m: mp.sign(det_mp(m)) * mp.log(abs(det_mp(m))), a)),
    # cholesky
    Spec("cholesky", lambda a: np.linalg.cholesky(a), [(_spd(3),)], ref=ref_cholesky),
    Spec("cholesky upper", lambda a: np.linalg.cholesky(a, upper=True), [(_spd(3, 1).T,)],
         ref=lambda a: ref_cholesky(a, upper=True)),
    Spec("cholesky stack scalar", lambda a: np.sum(np.linalg.cholesky(a) * C22),
         [(_spd(2, 2, (2,)),)], ref=lambda a: np.sum(stacked(ref_cholesky, a) * C22), order=2),
    # eigh, eigvalsh
    Spec("eigh eigenvalues", lambda a: np.linalg.eigh(a)[0], [(_separated(3),)],
         ref=lambda a: ref_eigh(a)[0], symbolic="refuse"),
    Spec("eigh vectors reduced", eigh_scalar, [(_separated(3, 1),)], ref=ref_eigh_scalar,
         symbolic="refuse", order=2),
    Spec("eigh UPLO='U'", lambda a: eigh_scalar(a, "U"), [(_separated(3, 2).T,)],
         ref=lambda a: ref_eigh_scalar(a, "U"), symbolic="refuse"),
    Spec("eigh stack", lambda a: np.linalg.eigh(a).eigenvalues * 1.0,
         [(_separated(2, 3, (2,)),)], ref=lambda a: stacked(lambda m: ref_eigh(m)[0], a),
         symbolic="refuse"),
    Spec("eigh stack vectors", lambda a: np.linalg.eigh(a).eigenvectors ** 2,
         [(_separated(2, 4, (2,)),)], ref=lambda a: stacked(lambda m: ref_eigh(m)[1] ** 2, a),
         symbolic="refuse"),
    Spec("eigvalsh", lambda a: np.sum(np.linalg.eigvalsh(a) ** 3), [(_separated(3, 5),)],
         ref=lambda a: np.sum(ref_eigh(a)[0] ** 3), symbolic="refuse", order=2),
    # svd, svdvals
    Spec("svd singular values", lambda a: np.linalg.svd(a)[1], _pt(((3, 2), (-1, 1))),
         ref=lambda a: ref_svd(a)[1], symbolic="refuse"),
    Spec("svd tall reduced", svd_scalar, _pt(((3, 2), (-1, 1)), seed=1), ref=ref_svd_scalar,
         symbolic="refuse", order=2),
    Spec("svd wide reduced", svd_scalar, _pt(((2, 3), (-1, 1)), seed=2), ref=ref_svd_scalar,
         symbolic="refuse", order=2),
    Spec("svd square u", lambda a: np.linalg.svd(a)[0] ** 2, _pt(((2, 2), (-1, 1)), seed=3),
         ref=lambda a: ref_svd(a)[0] ** 2, symbolic="refuse"),
    Spec("svd stack u diag vh", lambda a: u_diag_vh(*np.linalg.svd(a, full_matrices=False)),
         _pt(((2, 3, 2), (-1, 1)), seed=4),
         ref=lambda a: stacked(lambda m: u_diag_vh(*ref_svd(m)), a),
         symbolic="refuse"),
    Spec("svd compute_uv=False", lambda a: np.linalg.svd(a, compute_uv=False),
         _pt(((2, 2, 3), (-1, 1)), seed=5), ref=lambda a: stacked(lambda m: ref_svd(m)[1], a),
         symbolic="refuse"),
    Spec("svdvals", lambda a: np.sum(np.linalg.svdvals(a) ** 2 * D2), _pt(((3, 2), (-1, 1)),
                                                                           seed=6),
         ref=lambda a: np.sum(ref_svd(a)[1] ** 2 * D2), symbolic="refuse", order=2),
    # qr
    Spec("qr tall", qr_scalar, _pt(((3, 2), (-1, 1))), ref=ref_qr_scalar, symbolic="refuse",
         order=2),
    Spec("qr square", qr_scalar, _pt(((3, 3), (-1, 1)), seed=1), ref=ref_qr_scalar,
         symbolic="refuse"),
    Spec("qr wide", qr_scalar, _pt(((2, 3), (-1, 1)), seed=2), ref=ref_qr_scalar,
         symbolic="refuse", order=2),
    Spec("qr mode='r' stack", lambda a: np.linalg.qr(a, mode="r") ** 2,
         _pt(((2, 3, 2), (-1, 1)), seed=3), ref=lambda a: stacked(lambda m: ref_qr(m)[1] ** 2, a),
         symbolic="refuse"),
    # pinv
    Spec("pinv tall", lambda a: np.linalg.pinv(a), _pt(((3, 2), (-1, 1))), ref=ref_pinv,
         symbolic="refuse"),
    Spec("pinv wide scalar", lambda a: np.sum(np.linalg.pinv(a) * C32), _pt(((2, 3), (-1, 1)),
                                                                           seed=1),
         ref=lambda a: np.sum(ref_pinv(a) * C32), symbolic="refuse", order=2),
    Spec("pinv rank 1 (rank kept)", lambda a: np.linalg.pinv(a), [(RANK1,)], ref=ref_pinv,
         methods=("reverse", "forward", "symbolic"), symbolic="refuse", float32=False),
    Spec("pinv hermitian", lambda a: np.linalg.pinv(a, hermitian=True), [(_spd(3, 5),)],
         ref=lambda a: ref_pinv(lower_symmetric(a)), symbolic="refuse"),
    # lstsq: LAPACK's solution, pinv's derivatives
    Spec("lstsq tall", lambda a, b: np.linalg.lstsq(a, b, rcond=None)[0],
         _pt(((4, 2), (-1, 1)), ((4,), (-1, 1))), ref=ref_lstsq, symbolic="refuse"),
    Spec("lstsq wide (least norm)", lambda a, b: np.linalg.lstsq(a, b, rcond=None)[0],
         _pt(((2, 3), (-1, 1)), ((2,), (-1, 1)), seed=1), ref=ref_lstsq, symbolic="refuse"),
    Spec("lstsq columns", lambda a, b: np.linalg.lstsq(a, b, rcond=None)[0] ** 2,
         _pt(((4, 3), (-1, 1)), ((4, 2), (-1, 1)), seed=2),
         ref=lambda a, b: ref_lstsq(a, b) ** 2, symbolic="refuse"),
    Spec("lstsq residuals", lambda a, b: np.sum(np.linalg.lstsq(a, b, rcond=None)[1]),
         _pt(((4, 2), (-1, 1)), ((4,), (-1, 1)), seed=3), ref=ref_residuals,
         symbolic="refuse", order=2),
    # rcond ≤ 0 or ≥ 1 is LAPACK's eps: full rank kept (rcond=1.0 once gave rank 0, derivative 0),
    # the tiny singular value of a rank-deficient matrix cut (rcond=-1 once inverted it: 7e30)
    *[Spec(f"lstsq rcond={rc}", lambda a, b, rc=rc: np.linalg.lstsq(a, b, rcond=rc)[0],
           _pt(((4, 2), (-1, 1)), ((4,), (-1, 1)), seed=4), ref=ref_lstsq, symbolic="refuse")
      for rc in (1.0, 2.0)],
    *[Spec(f"lstsq rank-deficient rcond={rc}",
           lambda a, b, rc=rc: np.linalg.lstsq(a, b, rcond=rc)[0], [(LSTSQ_RANK2, LSTSQ_B)],
           ref=lambda a, b: ref_pinv(a).dot(b), methods=("reverse", "forward"),
           symbolic="refuse", float32=False) for rc in (-1, 0.0)],
    # matrix_power, multi_dot
    *[Spec(f"matrix_power {n}", lambda a, n=n: np.linalg.matrix_power(a, n),
           _pt(((2, 2), (-1, 1)), seed=n + 5), ref=lambda a, n=n: mpow(a, n))
      for n in (0, 1, 2, 3, 5, -1, -2)],
    Spec("matrix_power stack", lambda a: np.linalg.matrix_power(a, 6), _pt(((2, 2, 2), (-1, 1))),
         ref=lambda a: stacked(lambda m: mpow(m, 6), a)),
    Spec("multi_dot vector ends", lambda a, b, c, d: np.linalg.multi_dot([a, b, c, d]),
         _pt(((3,), (-1, 1)), ((3, 2), (-1, 1)), ((2, 4), (-1, 1)), ((4,), (-1, 1))),
         ref=lambda a, b, c, d: a.dot(b).dot(c).dot(d), order=2),
    Spec("multi_dot three", lambda a, b, c: np.linalg.multi_dot([a, b, c]),
         _pt(((2, 3), (-1, 1)), ((3, 1), (-1, 1)), ((1, 3), (-1, 1))),
         ref=lambda a, b, c: a.dot(b).dot(c)),
    Spec("multi_dot five", lambda *m: np.linalg.multi_dot(m),
         _pt(((1, 3), (-1, 1)), ((3, 2), (-1, 1)), ((2, 4), (-1, 1)), ((4, 2), (-1, 1)),
             ((2, 2), (-1, 1))), ref=lambda a, b, c, d, e: a.dot(b).dot(c).dot(d).dot(e)),
    # norms
    Spec("norm default", lambda x: np.linalg.norm(x), _pt(((2, 3), (-1, 1))),
         ref=lambda x: vnorm(x.reshape(-1), 2), order=2),
    Spec("norm 3-D default keepdims", lambda x: np.linalg.norm(x, keepdims=True) * D2,
         _pt(((2, 2, 2), (-1, 1))), ref=lambda x: np.array([[[vnorm(x.reshape(-1), 2)]]]) * D2),
    *[Spec(f"norm vector ord={o}", lambda x, o=o: np.linalg.norm(x, o, axis=1),
           _pt(((2, 4), (0.2, 1)), seed=3), ref=lambda x, o=o: np.array([vnorm(r, o) for r in x]))
      for o in (None, 2, 1, np.inf, -np.inf, 3, 0.5, -1, -2)],
    Spec("norm vector ord=0", lambda x: np.linalg.norm(x, 0, axis=0, keepdims=True),
         _pt(((2, 3), (0.2, 1))), ref=lambda x: np.array([[sum(1 for v in c if v != 0)
                                                           for c in x.T]])),
    Spec("norm 1-D ord=2 second derivative", lambda x: np.linalg.norm(x, 2),
         _pt(((3,), (-1, 1))), ref=lambda x: vnorm(x, 2), order=2),
    Spec("norm 1-D ord=3 second derivative", lambda x: np.linalg.norm(x, 3),
         _pt(((3,), (0.2, 1))), ref=lambda x: vnorm(x, 3), order=2),
    *[Spec(f"norm matrix ord={o}", lambda x, o=o: np.linalg.norm(x, o), _pt(((3, 2), (-1, 1)),
                                                                         seed=4),
           ref=lambda x, o=o: mnorm(x, o), symbolic="refuse" if o in (2, -2, "nuc") else "ok")
      for o in (None, "fro", "nuc", 1, -1, 2, -2, np.inf, -np.inf)],
    *[Spec(f"norm matrix ord={o} axes (2, 0) keepdims",
           lambda x, o=o: np.linalg.norm(x, o, axis=(2, 0), keepdims=True),
           _pt(((3, 2, 2), (-1, 1)), seed=5),
           ref=lambda x, o=o: np.array([mnorm(x[:, j, :].T, o) for j in range(2)]).reshape(
               1, 2, 1), symbolic="refuse" if o in (2, -2, "nuc") else "ok")
      for o in ("fro", "nuc", 1, -1, 2, -2, np.inf, -np.inf)],
    Spec("norm nuclear second derivative", lambda x: np.linalg.norm(x, "nuc"),
         _pt(((2, 2), (-1, 1)), seed=6), ref=lambda x: mnorm(x, "nuc"), symbolic="refuse",
         order=2),
    Spec("vector_norm axes", lambda x: np.linalg.vector_norm(x, axis=(0, 2), ord=3),
         _pt(((2, 2, 3), (0.2, 1))),
         ref=lambda x: np.array([vnorm(x[:, j, :].reshape(-1), 3) for j in range(2)])),
    Spec("vector_norm all keepdims", lambda x: np.linalg.vector_norm(x, keepdims=True) * D2,
         _pt(((2, 3), (-1, 1))), ref=lambda x: np.array([[vnorm(x.reshape(-1), 2)]]) * D2),
    Spec("matrix_norm stack", lambda x: np.linalg.matrix_norm(x, ord=np.inf),
         _pt(((2, 2, 3), (-1, 1))), ref=lambda x: np.array([mnorm(m, np.inf) for m in x])),
    Spec("norm at 0 (subgradient 0)", lambda x: np.linalg.norm(x), [(np.zeros(3),)],
         ref=None, grad=lambda x: np.zeros((1, 3)), float32=False),
    Spec("norm of a zero row (subgradient 0)", lambda x: np.linalg.norm(x, axis=1),
         [(np.array([[0.0, 0.0], [3.0, 4.0]]),)], ref=None,
         grad=lambda x: np.array([[0.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.6, 0.8]]), float32=False),
]


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.name)
def test_linalg(spec: Spec) -> None:
    check(spec)


# ----- degenerate points: named errors ------------------------------------------------------------

SINGULAR2 = np.array([[1.0, 2.0], [2.0, 4.0]])


@pytest.mark.parametrize("method", ["reverse", "forward", "symbolic", "fd"])
@pytest.mark.parametrize("fn", [lambda a: np.sum(np.linalg.inv(a)),
                                lambda a: np.sum(np.linalg.solve(a, np.ones(2))),
                                lambda a: np.sum(np.linalg.solve(a, np.ones((2, 2))))],
                         ids=["inv", "solve vector", "solve matrix"])
def test_singular_matrix_is_a_named_error(fn, method) -> None:
    with pytest.raises(SingularMatrixError, match="singular") as info:
        dk.grad(fn, method=method)(SINGULAR2)
    assert isinstance(info.value, dk.DomainError)
    assert isinstance(info.value, np.linalg.LinAlgError)  # what NumPy users already catch


def test_singular_matrix_plain_call() -> None:
    with pytest.raises(SingularMatrixError, match=r"\[\[1\., 2\.\], \[2\., 4\.\]\]"):
        dk.inv(SINGULAR2)


@pytest.mark.parametrize("method", ["reverse", "forward", "symbolic", "fd"])
def test_cholesky_not_positive_definite(method) -> None:
    with pytest.raises(NotPositiveDefiniteError, match="not positive definite"):
        dk.grad(lambda a: np.sum(np.linalg.cholesky(a)), method=method)(
            np.array([[1.0, 2.0], [2.0, 1.0]]))


@pytest.mark.parametrize("method", ["reverse", "forward", "symbolic", "fd"])
def test_det_of_a_singular_matrix_is_its_adjugate(method) -> None:
    (g,) = dk.grad(lambda a: np.linalg.det(a), method=method)(SINGULAR2)
    np.testing.assert_allclose(g, [[4.0, -2.0], [-2.0, 1.0]], atol=1e-7)


REPEATED = np.diag([1.0, 1.0, 2.0])


@pytest.mark.parametrize("method", ["reverse", "forward"])
def test_repeated_eigenvalue_eigenvectors_are_a_named_error(method) -> None:
    with pytest.raises(dk.NonDifferentiableError, match="eigenvalue 1 is repeated"):
        dk.grad(lambda a: np.sum(np.linalg.eigh(a)[1][:, 0] ** 3), method=method)(REPEATED)


@pytest.mark.parametrize("method", ["reverse", "forward", "fd"])
def test_repeated_eigenvalues_alone_share_their_derivative(method) -> None:
    """The eigenvalues of diag(1, 1, 2): λ₁ = 1 is tied with λ₀; each gets half of the tied
    block's derivative (as amax shares among ties), through eigh and eigvalsh."""
    for fn in (lambda a: np.linalg.eigh(a)[0][1], lambda a: np.linalg.eigvalsh(a)[0]):
        (g,) = dk.grad(fn, method=method)(REPEATED)
        np.testing.assert_allclose(g, np.diag([0.5, 0.5, 0.0]), atol=1e-7)
    (g,) = dk.grad(lambda a: np.sum(np.linalg.eigvalsh(a) ** 2), method=method)(REPEATED)
    np.testing.assert_allclose(g, np.diag([2.0, 2.0, 4.0]), atol=1e-6)


def test_an_eigenvector_of_a_simple_eigenvalue_next_to_a_repeated_one() -> None:
    """With eigenvalues (1, 1, 2), v₂ (of the simple eigenvalue 2) is differentiable: reverse
    mode gives its derivative although the other two eigenvectors have none."""
    def f(a):
        return np.sum(np.linalg.eigh(a)[1][:, 2] ** 2 * np.array([0.3, -0.2, 1.0]))

    q, _ = np.linalg.qr(np.random.default_rng(5).normal(size=(3, 3)))
    a = (q * [1.0, 1.0, 2.0]) @ q.T
    np.testing.assert_allclose(dk.grad(f)(a)[0], dk.grad(f, method="fd")(a)[0], atol=1e-6)
    with pytest.raises(dk.NonDifferentiableError, match="repeated"):
        dk.grad(f, method="forward")(a)


@pytest.mark.parametrize("method", ["reverse", "forward"])
def test_svd_degenerate_cases_are_named_errors(method) -> None:
    with pytest.raises(dk.NonDifferentiableError, match="singular value 1 is repeated"):
        dk.grad(lambda a: np.sum(np.linalg.svd(a)[0] ** 3), method=method)(np.eye(2))
    with pytest.raises(dk.NonDifferentiableError, match="singular value is zero"):
        dk.grad(lambda a: np.sum(np.linalg.svd(a)[2] ** 3), method=method)(SINGULAR2)
    # the singular values alone stay differentiable (ties shared, a zero one has derivative 0)
    (g,) = dk.grad(lambda a: np.linalg.svd(a, compute_uv=False)[0], method=method)(np.eye(2))
    np.testing.assert_allclose(g, 0.5 * np.eye(2), atol=1e-12)
    (g,) = dk.grad(lambda a: np.linalg.svd(a, compute_uv=False)[1], method=method)(SINGULAR2)
    np.testing.assert_allclose(g, np.zeros((2, 2)), atol=1e-12)
    # S of the full svd at a zero singular value: its derivative depends on U's and Vh's use
    # (U·S·Vh is smooth there, S alone is not): a named error (tests/test_linalg_rank44.py)
    with pytest.raises(dk.NonDifferentiableError, match="singular value .* is zero"):
        dk.grad(lambda a: np.linalg.svd(a)[1][1], method=method)(SINGULAR2)


@pytest.mark.parametrize("method", ["reverse", "forward"])
def test_rank_deficient_qr_is_a_named_error(method) -> None:
    with pytest.raises(dk.NonDifferentiableError, match="linearly dependent columns"):
        dk.grad(lambda a: np.sum(np.linalg.qr(a)[0] ** 3), method=method)(
            np.array([[1.0, 2.0], [2.0, 4.0], [3.0, 6.0]]))


@pytest.mark.parametrize("method", ["reverse", "forward"])
def test_slogdet_at_a_singular_matrix(method) -> None:
    with pytest.raises(dk.NonDifferentiableError, match="singular matrix"):
        dk.grad(lambda a: np.linalg.slogdet(a)[1], method=method)(SINGULAR2)


@pytest.mark.parametrize("method", ["reverse", "forward", "symbolic", "fd"])
def test_norm_at_zero_has_subgradient_zero_not_nan(method) -> None:
    """The vector 2-norm at 0: PyTorch and JAX give NaN for sqrt(sum(x**2)); diffkit gives the
    subgradient 0 by every method, for np.linalg.norm and for the other norms."""
    for fn in (lambda x: np.linalg.norm(x), lambda x: np.linalg.norm(x, 1),
               lambda x: np.linalg.norm(x, np.inf), lambda x: np.linalg.norm(x, 3),
               lambda x: np.linalg.norm(x.reshape(3, 1), "fro")):
        (g,) = dk.grad(fn, method=method)(np.zeros(3))
        np.testing.assert_array_equal(g, np.zeros(3))


@pytest.mark.parametrize("method", ["reverse", "forward", "compiled", "symbolic"])
def test_norm_at_zero_has_no_second_derivative(method) -> None:
    """‖x‖ is a cone at 0: its gradient there is the convention 0, which is no derivative of a
    nearby piece, so the Hessian is a NonDifferentiableError (it answered the zero matrix)."""
    with pytest.raises(dk.NonDifferentiableError):
        dk.hessian(lambda x: np.linalg.norm(x), method=method)(np.zeros(3))


# ----- complex numbers, shapes, dtypes, names -----------------------------------------------------


def test_holomorphic_functions_take_complex_matrices() -> None:
    a = np.array([[1.0 + 1.0j, 2.0], [0.5j, -1.0 + 0.3j]])
    b = np.array([1.0 - 0.5j, 0.25])
    for fn in (lambda x: np.real(np.sum(np.linalg.inv(x))),
               lambda x: np.abs(np.linalg.det(x)) ** 2,
               lambda x: np.real(np.sum(np.linalg.solve(x, b)))):
        want = dk.grad(fn, method="fd")(a)[0]
        for method in ("reverse", "forward"):
            np.testing.assert_allclose(dk.grad(fn, method=method)(a)[0], want, atol=1e-7)


def test_complex_norm_follows_jax_convention() -> None:
    z = np.array([3.0 + 4.0j, 1.0j])
    want = np.conj(z) / np.linalg.norm(z)
    for method in ("reverse", "forward", "fd"):
        np.testing.assert_allclose(dk.grad(lambda x: np.linalg.norm(x), method=method)(z)[0],
                                   want, atol=1e-8)


@pytest.mark.parametrize("fn", [lambda a: np.linalg.slogdet(a)[1],
                                lambda a: np.real(np.linalg.slogdet(a)[0]),
                                lambda a: np.sum(np.linalg.eigvalsh(a)),
                                lambda a: np.sum(np.linalg.cholesky(a)).real,
                                lambda a: np.linalg.svd(a, compute_uv=False)[0],
                                lambda a: np.sum(np.linalg.qr(a)[1]).real],
                         ids=["logabsdet", "sign", "eigvalsh", "cholesky", "svd", "qr"])
def test_complex_decompositions_are_refused_by_name(fn) -> None:
    a = np.array([[2.0 + 0.0j, 0.5 - 0.1j], [0.5 + 0.1j, 3.0 + 0.0j]])
    with pytest.raises(dk.MissingRuleError, match="complex"):
        dk.grad(fn)(a)


@pytest.mark.parametrize("call, message", [
    (lambda: dk.inv(np.ones((2, 3))), "square"),
    (lambda: dk.det(np.ones(3)), "square"),
    (lambda: dk.solve(np.eye(2), np.ones(3)), "do not fit"),
    (lambda: dk.solve(np.eye(2), np.ones((3, 2))), "vector"),
    (lambda: dk.norm(np.ones(3), "fro", axis=0), "invalid norm order"),
    (lambda: dk.norm(np.ones((2, 2)), 3), "invalid norm order"),
    (lambda: dk.norm(np.ones((2, 2, 2)), axis=(0, 1, 2)), "improper number"),
    (lambda: dk.norm(np.ones((2, 2)), axis=(0, 0)), "duplicate"),
    (lambda: dk.matrix_power(np.eye(2), 1.5), "integer"),
    (lambda: dk.multi_dot([np.eye(2)]), "at least two"),
    (lambda: dk.multi_dot([np.eye(2), np.ones((2, 2, 2)), np.eye(2)]), "two-dimensional"),
    (lambda: dk.eigh(np.eye(2), UPLO="X"), "UPLO"),
])
def test_shape_errors(call, message) -> None:
    with pytest.raises(dk.ShapeError, match=message):
        call()


def test_refusals_name_the_alternative() -> None:
    with pytest.raises(dk.MissingRuleError, match="full_matrices=False"):
        dk.grad(lambda a: np.sum(np.linalg.svd(a)[0]))(np.arange(6.0).reshape(3, 2) + np.eye(3, 2))
    with pytest.raises(dk.MissingRuleError, match="mode='reduced'"):
        dk.grad(lambda a: np.sum(np.linalg.qr(a, mode="complete")[0]))(
            np.arange(6.0).reshape(3, 2) + np.eye(3, 2))
    with pytest.raises(dk.MissingRuleError, match="hermitian=False"):
        dk.svd(np.eye(2), hermitian=True)


def test_float32_stays_float32() -> None:
    a = _separated(3).astype(np.float32)
    for fn in (lambda x: np.linalg.det(x), lambda x: np.sum(np.linalg.inv(x)),
               lambda x: np.sum(np.linalg.eigvalsh(x) ** 2), lambda x: eigh_scalar(x),
               lambda x: np.linalg.norm(x, "nuc"), lambda x: np.linalg.norm(x)):
        for method in ("reverse", "forward"):
            (g,) = dk.grad(fn, method=method)(a)
            assert g.dtype == np.float32


def test_multi_output_results_have_numpy_names() -> None:
    a = _separated(2)
    w, v = dk.eigh(a)
    assert np.array_equal(w, np.linalg.eigh(a).eigenvalues)
    assert np.array_equal(v, np.linalg.eigh(a).eigenvectors)
    assert np.array_equal(dk.svd(a).S, np.linalg.svd(a).S)
    assert np.array_equal(dk.qr(a).R, np.linalg.qr(a).R)
    assert dk.slogdet(a).logabsdet == np.linalg.slogdet(a).logabsdet


def test_lstsq_returns_numpys_tuple() -> None:
    """(x, residuals, rank, s) as NumPy gives them: x bit for bit (LAPACK's gelsd), residuals and
    s to rounding (diffkit forms them from x and svdvals), rank a plain int read from the values
    (the trace then holds at this point only); no residuals where rank < N or M ≤ N."""
    rng = np.random.default_rng(7)
    rank1 = np.outer([1.0, 2.0, 0.5, -1.0], [1.0, -2.0])
    for a, b in [(rng.normal(size=(5, 3)), rng.normal(size=5)),
                 (rng.normal(size=(5, 3)), rng.normal(size=(5, 2))),
                 (rng.normal(size=(2, 4)), rng.normal(size=2)), (rank1, rng.normal(size=4))]:
        want = np.linalg.lstsq(a, b, rcond=None)
        got = dk.lstsq(a, b)
        assert np.array_equal(got[0], want[0])
        assert np.shape(got[1]) == want[1].shape and np.allclose(got[1], want[1], rtol=1e-12)
        assert type(got[2]) is int and got[2] == want[2]
        np.testing.assert_allclose(got[3], want[3], rtol=1e-13)

        def rank_of(a, b):
            out = np.linalg.lstsq(a, b, rcond=None)
            return np.sum(out[0]) * out[2]

        g = dk.grad(dk.jit(rank_of))(a, b)  # reading rank marks the trace: retraced, not stale
        assert np.all(np.isfinite(g[0]))
    with pytest.raises(dk.ShapeError, match="b must have shape"):
        dk.grad(lambda a, b: np.sum(np.linalg.lstsq(a, b)[0]))(np.ones((3, 2)), np.ones(4))


LSTSQ_MATRICES = {
    "tall": np.random.default_rng(11).normal(size=(5, 3)),
    "wide": np.random.default_rng(12).normal(size=(2, 4)),
    "square": np.random.default_rng(13).normal(size=(3, 3)),
    "rank 2": LSTSQ_RANK2,
    "rank 1": np.outer([1.0, 2.0, 0.5, -1.0], [1.0, -2.0]),
    # singular values 1 and 1.5e-16, between LAPACK's eps 2⁻⁵³ and NumPy's 2⁻⁵² (rank 2 at rcond -1)
    "borderline": np.array([[1.0, 0.0], [0.0, 1.5e-16], [0.0, 0.0]]),
    "tiny": np.array([[1.0, 0.0], [0.0, 1e-16], [0.0, 0.0]]),
    "zero": np.zeros((3, 2)),
}
LSTSQ_RCONDS = (None, -1, -0.5, 0, 0.0, 1e-300, 1e-17, 2e-16, 1e-10, 0.3, 0.999, 1.0, 1, 2.0,
                np.inf, -np.inf, True, np.float32(-1))


def _residuals_and_rank(a, rc):
    def f(b):
        out = np.linalg.lstsq(a, b, rcond=rc)
        return np.sum(out[1]) + out[2]

    return f


@pytest.mark.parametrize("name", list(LSTSQ_MATRICES))
def test_lstsq_rcond_is_lapacks(name) -> None:
    """Rank, residuals and x as NumPy's for every rcond, ≤ 0 and ≥ 1 meaning LAPACK's machine
    epsilon (as gelsd reads them): rank and residuals once came from the rcond as given."""
    a = LSTSQ_MATRICES[name]
    b = np.linspace(-1.0, 2.0, a.shape[0])
    for rc in LSTSQ_RCONDS:
        want = np.linalg.lstsq(a, b, rcond=rc)
        got = dk.lstsq(a, b, rcond=rc)
        assert got[2] == want[2], (rc, got[2], want[2])
        assert np.array_equal(got[0], want[0]), rc
        assert got[1].shape == want[1].shape, rc
        value = dk.value_and_grad(_residuals_and_rank(a, rc))(b)[0]
        if want[3].size and want[3][-1] < 1e-8 * want[3][0] and want[1].size:
            # an rcond under a noise singular value (1e-300 of a rank-deficient matrix): x ~ 1e16,
            # and b − a·x cancels to noise where LAPACK reports its projected residual
            assert np.isclose(value - np.sum(got[1]), want[2]), rc
            continue
        assert np.allclose(got[1], want[1], rtol=1e-12), rc
        assert np.isclose(value, np.sum(want[1]) + want[2], rtol=1e-12), rc


@pytest.mark.parametrize("method", ["reverse", "forward", "compiled"])
@pytest.mark.parametrize("name, rc", [("rank 2", -1), ("rank 2", 0.0), ("rank 2", 1.0),
                                      ("tall", 1.0), ("tall", 2.0), ("tall", -1),
                                      ("wide", 1.0), ("borderline", -1)])
def test_lstsq_rcond_derivative_in_b(name, rc, method) -> None:
    """x(b) = X·b with X = lstsq(a, I) (NumPy's, at the same rcond), so the gradient of |x|² is
    2·Xᵀ·x: the rcond once given to pinv as is (rcond=-1 inverted a 1e-17 singular value, 1.0
    cut every one)."""
    a = LSTSQ_MATRICES[name]
    b = np.linspace(-1.0, 2.0, a.shape[0])
    big_x = np.linalg.lstsq(a, np.eye(a.shape[0]), rcond=rc)[0]
    (g,) = dk.grad(lambda b: np.sum(np.linalg.lstsq(a, b, rcond=rc)[0] ** 2), method=method)(b)
    np.testing.assert_allclose(g, 2 * big_x.T @ (big_x @ b), rtol=1e-9, atol=1e-12)


def test_lstsq_rcond_bad_values_are_named_errors() -> None:
    a, b = LSTSQ_MATRICES["tall"], np.ones(5)
    with pytest.raises(dk.InputTypeError, match="rcond must be a real number"):
        dk.lstsq(a, b, rcond="a")
    with pytest.raises(dk.InputTypeError, match="rcond must be a real number"):
        dk.grad(lambda b: np.sum(np.linalg.lstsq(a, b, rcond=1j)[0]))(b)
    with pytest.raises(dk.DomainError, match="rcond is nan"):
        dk.grad(lambda b: np.sum(np.linalg.lstsq(a, b, rcond=np.nan)[0]))(b)
