"""Linear algebra: NumPy's ``numpy.linalg`` on stacks of matrices ``(..., m, n)``.

Records evaluate with the array module's own ``linalg`` (NumPy or CuPy: values are NumPy's to the
last bit) and differentiate with the matrix-calculus rules, written with the table's records
(matmul, einsum, transpose, …) so that second derivatives work: inv (d A⁻¹ = −A⁻¹ dA A⁻¹), solve,
det (through the adjugate, so a singular matrix has a derivative), slogdet, cholesky (Murray 2016),
eigh (Giles 2008), svd (Townsend 2016), qr (Walter & Lehmann; Seeger et al. 2017), pinv (Golub &
Pereyra 1973). Composites: norm, vector_norm, matrix_norm, matrix_power, multi_dot and the
multi-output functions.

**Multi-output functions.** A node holds one value, so ``eigh``, ``svd``, ``qr`` and ``slogdet``
are composites: one non-differentiable record computes the decomposition once and returns its
factors packed in one array (``eigh_packed``, …), and one record per output reads its factor out
of the pack (a copy, no recomputation) while differentiating with respect to the matrix (the pack
is only where its value comes from). Each output's rules use the other factors as records of the
matrix (``eigh_vectors(a, p)``), so second derivatives see how they move. Forward mode computes
only the outputs that are used: the eigenvalues of a matrix with repeated eigenvalues stay
differentiable even where its eigenvectors are not.

**Conventions.** Values within r = 2·ε·max|v| of each other are equal: tied eigenvalues (and
singular values) share their derivative equally, as tied maxima do (``amax``); a singular value
within r of 0 is zero, with derivative 0 (as abs′(0) = 0) where the singular values come alone
(svdvals, norms); S of a full ``svd`` there is a NonDifferentiableError where its cotangent
(tangent) is not 0, since U·S·Vh is smooth there and S alone is not, and the cotangents cannot
tell which (see :func:`_zero_singular_value_check`). Beyond r each value has its own
derivative, resting on vectors that rounding turns by about θ = 4·ε·max|v|/gap (for a singular
value of a matrix that is not square, also 4·ε·max|σ|/σ near 0): where that turn moves the
answer by more than 1e-3 of its size (1e-2 in float32) — cotangents that differ across a close
pair, a tangent whose projection on it is not a multiple of I — it is a NonDifferentiableError
naming the values and their gap; a smooth function of the values (Σ log λ, a sum) is answered.
Eigenvectors and singular vectors are not differentiable where their eigenvalue (singular value)
repeats or nearly repeats (within u = 64·n·ε·max|v|), nor singular vectors at a zero or nearly
zero singular value: a derivative that needs them there is a NonDifferentiableError naming the
case. The 2-norm of a zero vector has the subgradient 0 (its
second derivative there is taken as 0 too). ``inv``/``solve`` of a singular matrix and
``cholesky`` of a matrix that is not positive definite raise :class:`SingularMatrixError` /
:class:`NotPositiveDefiniteError`, which are DomainErrors and also ``numpy.linalg.LinAlgError``.
eigh, eigvalsh and cholesky read one triangle of their argument, as NumPy does (the lower one by
default), so their derivative with respect to the other triangle is zero. Derivatives of the
decompositions, pinv and the non-Euclidean norms are for real matrices (complex ones are refused
by name); inv, solve and det are holomorphic and take complex matrices too.
"""

from __future__ import annotations

import builtins
import functools
import math
import operator
from collections import namedtuple
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from ..errors import (
    DomainError,
    InputTypeError,
    MissingRuleError,
    NonDifferentiableError,
    ShapeError,
)
from ..ir import Traced
from ..primitive import read_plain as _peek  # a decision in a rule: reading is a branch
from .declare import composite, declared_in, shape_of, structural
from .elementwise import (
    abs,
    conj,
    equal,
    greater,
    less_equal,
    not_equal,
    real,
    signum,
    sqrt,
    stop_gradient,
    where,
)
from .products import dot, einsum, is_complex, matmul, namespace_of, plain, real_dtype
from .reductions import _reduce_groups
from .structure import (
    _kept_shape,
    amax,
    at_kink,
    concatenate,
    getitem,
    reshape,
    sum,
    sum_to,
    transpose,
)

# ----- errors -------------------------------------------------------------------------------------


class SingularMatrixError(DomainError, np.linalg.LinAlgError):
    """inv or solve of a singular matrix (NumPy's LinAlgError, named: also a DomainError)."""


class NotPositiveDefiniteError(DomainError, np.linalg.LinAlgError):
    """cholesky of a matrix that is not positive definite (NumPy's LinAlgError, named)."""


def _shown(a: Any) -> str:
    v = plain(a)
    if hasattr(v, "get") and not isinstance(v, np.ndarray):  # CuPy
        v = v.get()
    v = np.asarray(v)
    if v.size <= 16:
        return np.array2string(v, precision=6, separator=", ").replace("\n", "")
    return f"an array of shape {v.shape}"


def linalg_error(name: str, exc: Exception, a: Any = None) -> DomainError:
    """NumPy's LinAlgError as diffkit's named error (raised by the records here, and by
    Function.evaluate where plain NumPy code calls numpy.linalg)."""
    text = str(exc)
    shown = "" if a is None else f": {_shown(a)}"
    if "positive definite" in text:
        return NotPositiveDefiniteError(
            f"{name}: the matrix is not positive definite (numpy.linalg.LinAlgError: {text})"
            f"{shown}; cholesky needs a symmetric positive definite matrix")
    if "ingular" in text:
        return SingularMatrixError(
            f"{name}: the matrix is singular (numpy.linalg.LinAlgError: {text}){shown}; it has no "
            "inverse: use np.linalg.pinv or np.linalg.lstsq for a least-squares answer")
    return DomainError(f"{name}: numpy.linalg.LinAlgError: {text}{shown}")


def _call(name: str, a: Any, fn: Callable[[], Any]) -> Any:
    """fn() with NumPy's LinAlgError turned into diffkit's named error."""
    try:
        return fn()
    except np.linalg.LinAlgError as exc:
        raise linalg_error(name, exc, a) from None


# ----- small helpers (records only, so that rules are differentiable again) ----------------------


def _mT(x: Any) -> Any:
    """Swap the last two axes (the matrix transpose of every matrix of a stack)."""
    n = len(shape_of(x))
    return transpose(x, (*range(n - 2), n - 1, n - 2))


def _mm(*ms: Any) -> Any:
    out = ms[0]
    for m in ms[1:]:
        out = matmul(out, m)
    return out


def _diag(x: Any) -> Any:
    """The diagonals of a stack of square matrices (..., n, n) -> (..., n)."""
    return einsum("...ii->...i", x)


def _col(x: Any) -> Any:
    """(..., n) -> (..., n, 1)."""
    return reshape(x, (*shape_of(x), 1))


def _row(x: Any) -> Any:
    """(..., n) -> (..., 1, n)."""
    s = shape_of(x)
    return reshape(x, (*s[:-1], 1, s[-1]))


def _scale_columns(m: Any, v: Any) -> Any:
    """m · diag(v) for stacks: column j of m times v[j]."""
    return m * _row(v)


def _const(like: Any, value: Any) -> Any:
    """A constant array in `like`'s array module and floating dtype."""
    return namespace_of(like).asarray(value, dtype=real_dtype(like))


def _eye(n: int, like: Any) -> Any:
    return namespace_of(like).eye(n, dtype=real_dtype(like))


def _masks(n: int, like: Any) -> tuple[Any, Any]:
    """(lower triangle with its diagonal, strictly lower triangle) as 0/1 constants."""
    xp, dt = namespace_of(like), real_dtype(like)
    lower = xp.asarray(np.tril(np.ones((n, n))), dtype=dt)
    return lower, xp.asarray(np.tril(np.ones((n, n)), -1), dtype=dt)


def _triangle_symmetric(t: Any, lower: bool) -> Any:
    """The symmetric matrix NumPy's eigh/cholesky see when they read one triangle of t:
    tril(t) + tril(t, -1)ᵀ (or the same from the upper triangle)."""
    if not lower:
        return _mT(_triangle_symmetric(_mT(t), True))
    low, strict = _masks(shape_of(t)[-1], t)
    return t * low + _mT(t * strict)


def _triangle_adjoint(s: Any, lower: bool) -> Any:
    """The transpose of :func:`_triangle_symmetric`: the cotangent of the triangle read."""
    if not lower:
        return _mT(_triangle_adjoint(_mT(s), True))
    low, strict = _masks(shape_of(s)[-1], s)
    return s * low + _mT(s) * strict


def _lead(t: Any, k: int, nd: int) -> Any:
    """A tangent (k, *shape) with ones inserted after k so that it has 1 + nd axes (its batch axes
    line up with the primal's under broadcasting)."""
    s = shape_of(t)
    pad = nd + 1 - len(s)
    return reshape(t, (k, *(1,) * pad, *s[1:])) if pad > 0 else t


def _real_only(name: str, *xs: Any) -> None:
    if builtins.any(is_complex(x) for x in xs):
        raise MissingRuleError(
            f"{name}: derivatives of complex matrices are not supported: use real matrices (split "
            "a complex one with np.real and np.imag), or method='fd'")


def _eps(like: Any) -> float:
    return float(np.finfo(real_dtype(like)).eps)


#: values within 2·ε·max|v| of each other are equal (ties), a singular value within it of 0 is 0
_TIE = 2.0
#: rounding turns the vectors of two values a gap g apart by about 4·ε·max|v|/g (LAPACK's
#: backward error over the gap)
_TURN = 4.0
#: the window, in n·ε·max|v|, within which vectors count as undetermined (their derivatives
#: divide by the gap)
_NEAR = 64.0
#: how far (relative to the derivative's size) the turn may move a value's derivative before it
#: is an error, by the values' precision: 1e-3 in float64, 1e-2 in float32 and float16
_NEAR_TOLERANCE = (1e-3, 1e-2)


def _top(values: Any) -> Any:
    """max|v| over the last axis, kept (..., 1), as records; 0 for an empty axis (a matrix with
    no values: amax has no identity there, and a level of 0 leaves nothing to compare)."""
    if shape_of(values)[-1] == 0:
        return sum(abs(values), axis=-1, keepdims=True)
    return amax(abs(values), axis=-1, keepdims=True)


def _rounding(values: Any) -> Any:
    """The tie level r = 2·ε·max|v| per matrix, as records of `values` (..., n) with a trailing
    kept axis (..., 1): values closer than r are equal (ties), a singular value below it is 0."""
    return _top(values) * (_TIE * _eps(values))


def _tolerance(values: Any) -> Any:
    """The vectors' window u = 64·n·ε·max|v| (records, (..., 1)): values closer than u have
    eigenvectors (singular vectors) that rounding leaves undetermined."""
    n = shape_of(values)[-1]
    return _top(values) * (_NEAR * builtins.max(n, 1) * _eps(values))


def _tie_weights(values: Any) -> Any:
    """G (..., n, n): row i averages over the entries tied with entry i (within the rounding
    level; 1 on the diagonal when there are no ties). A constant for differentiation."""
    tol = _col(_rounding(values))
    gap = abs(_col(values) - _row(values))
    one, zero = _const(values, 1.0), _const(values, 0.0)
    same = where(less_equal(gap, tol), one, zero)
    return same / sum(same, axis=-1, keepdims=True)


def _ties(g: Any, d: Any) -> Any:
    """G·d for stacks: (..., n, n) with (..., n) (d may carry a leading k axis)."""
    return matmul(g, _col(d))[..., 0]


def _ties_transposed(g: Any, d: Any) -> Any:
    return matmul(_mT(g), _col(d))[..., 0]


def _gap_inverse(values: Any, squared: bool = False) -> Any:
    """F (..., n, n): F[i, j] = 1/(vⱼ − vᵢ) (or 1/(vⱼ² − vᵢ²)) where vᵢ, vⱼ differ, else 0."""
    tol = _col(_tolerance(values))
    v = values * values if squared else values
    diff = _row(v) - _col(v)
    distinct = greater(abs(_row(values) - _col(values)), tol)
    one, zero = _const(values, 1.0), _const(values, 0.0)
    return where(distinct, one / where(distinct, diff, one), zero)


def _plain_levels(v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Plain (r, u) of values v (..., n), each (..., 1): the tie level and the vectors' window."""
    top = np.max(np.abs(v), axis=-1, keepdims=True, initial=0.0)
    eps = float(np.finfo(v.dtype).eps)
    return _TIE * eps * top, _NEAR * builtins.max(v.shape[-1], 1) * eps * top


def _degenerate_pairs(values: Any) -> np.ndarray:
    """Plain (..., n, n) mask of the off-diagonal pairs of values within the uncertainty level
    (repeated or nearly repeated: their vectors are not determined)."""
    v = _peek(values)
    _, u = _plain_levels(v)
    same = np.abs(v[..., :, None] - v[..., None, :]) <= u[..., None]
    return same & ~np.eye(v.shape[-1], dtype=bool)


def _nonzero_at(numerator: Any, mask: np.ndarray) -> bool:
    """Whether `numerator` (a tangent or cotangent term, maybe with a leading k axis) is not ~0
    where `mask` is set."""
    if not mask.any():
        return False
    m = _peek(numerator)
    scale = float(np.max(np.abs(m), initial=0.0))
    if scale == 0.0:
        return False
    hit = np.broadcast_to(mask, m.shape)
    return bool(np.any(np.abs(m[hit]) > 1e3 * float(np.finfo(m.dtype).eps) * scale))


def _values_text(values: Any, mask: np.ndarray) -> str:
    v = _peek(values)
    idx = np.argwhere(mask)
    if not len(idx):
        return ""
    first = tuple(int(i) for i in idx[0])
    batch, i = first[:-2], first[-2]
    where_ = f" (matrix {batch} of the stack)" if batch else ""
    return f"{v[(*batch, i)]:.6g}{where_}"


def _repeated_text(values: Any, pairs: np.ndarray) -> str:
    """"1 is repeated" or "1 is nearly repeated (within rounding: gap g)" for the first pair."""
    v = _peek(values)
    idx = np.argwhere(pairs)
    if not len(idx):
        return "is repeated"
    *batch, i, j = (int(k) for k in idx[0])
    r, _ = _plain_levels(v)
    gap = builtins.abs(float(v[(*batch, i)]) - float(v[(*batch, j)]))
    return ("is repeated" if gap <= float(r[(*batch, 0)]) else
            f"is nearly repeated (within rounding: gap {gap:.3g} to {float(v[(*batch, j)]):.6g})")


# ----- near values: distinct, but closer than rounding can tell apart ------------------------------


def _turns(v: np.ndarray, square: bool) -> tuple[np.ndarray, np.ndarray]:
    """Plain (θ (..., n, n), θ₀ (..., n)): how far rounding may turn the vectors of each pair of
    values beyond the tie level, 4·ε·max|v|/gap (0 for ties and on the diagonal), and, for a
    singular value of a matrix that is not square, those of a value beyond the zero level,
    4·ε·max|σ|/σ (a square matrix's uᵢvᵢᵀ stays determined as σᵢ → 0)."""
    r, _ = _plain_levels(v)
    eps = float(np.finfo(v.dtype).eps)
    top = np.max(np.abs(v), axis=-1, keepdims=True, initial=0.0)
    gap = np.abs(v[..., :, None] - v[..., None, :])
    with np.errstate(divide="ignore", invalid="ignore"):
        pairs = np.where(gap > r[..., None], _TURN * eps * top[..., None] / gap, 0.0)
        zero = (np.zeros(v.shape) if square else
                np.where(np.abs(v) > r, _TURN * eps * top / np.abs(v), 0.0))
    return pairs, zero


def _near_tolerance(v: np.ndarray) -> float:
    return _NEAR_TOLERANCE[0] if v.dtype.itemsize >= 8 else _NEAR_TOLERANCE[1]


def _near_vjp_check(name: str, values: Any, ct: Any, singular: bool = False,
                    square: bool = True) -> None:
    """Raise where a cotangent tells apart values whose vectors rounding turns: Ā = Σ cᵢvᵢvᵢᵀ
    moves by θᵢⱼ·|cᵢ − cⱼ| when the pair's vectors turn by θᵢⱼ (and by θ₀·|cᵢ| at a singular
    value near 0 of a matrix that is not square); beyond the tolerance of max|c| that is an
    error — a smooth function of the values (Σ log λ, a sum) has cotangents that barely differ
    across a close pair, and is answered."""
    v = _peek(values)
    theta, theta0 = _turns(v, square)
    if not (theta.any() or theta0.any()):
        return
    c = _peek(ct)
    scale = float(np.max(np.abs(c), initial=0.0))
    if scale == 0.0 or not np.isfinite(scale):
        return
    off = theta * np.abs(c[..., :, None] - c[..., None, :]) / scale
    off0 = theta0 * np.abs(c) / scale
    _raise_near(name, v, off, off0, singular, "for this cotangent")


def _near_jvp_check(name: str, values: Any, projection: Callable[[], np.ndarray],
                    singular: bool = False, square: bool = True) -> None:
    """Raise where a tangent tells apart values whose vectors rounding turns: with m = Vᵀ·Ẋ·V
    (Uᵀ·Ȧ·V), plain (k?, ..., n, n), a turn θ moves λ̇ᵢ by about θ·(|mᵢⱼ| + |mⱼᵢ|) +
    θ²·|mᵢᵢ − mⱼⱼ| (and a near-zero singular value's by θ₀ times its row's and column's
    size); beyond the tolerance of max|m| it is an error."""
    v = _peek(values)
    theta, theta0 = _turns(v, square)
    if not (theta.any() or theta0.any()):
        return
    m = projection()
    scale = float(np.max(np.abs(m), initial=0.0))
    if scale == 0.0 or not np.isfinite(scale):
        return
    d = np.diagonal(m, axis1=-2, axis2=-1)
    off = theta * (np.abs(m) + np.abs(np.swapaxes(m, -1, -2))
                   + theta * np.abs(d[..., :, None] - d[..., None, :])) / scale
    size = np.maximum(np.max(np.abs(m), axis=-1), np.max(np.abs(m), axis=-2))
    off0 = theta0 * size / scale
    _raise_near(name, v, off, off0, singular, "in this direction")


def _raise_near(name: str, v: np.ndarray, off: np.ndarray, off0: np.ndarray, singular: bool,
                what: str) -> None:
    """NonDifferentiableError naming the pair (or near-zero value) whose turn moves the
    derivative most, where that is beyond the tolerance (`off`: (k?, ..., n, n), `off0`:
    (k?, ..., n), relative moves)."""
    tol = _near_tolerance(v)
    off, off0 = _fold_max(off, v.ndim + 1), _fold_max(off0, v.ndim)
    worst, worst0 = float(np.max(off, initial=0.0)), float(np.max(off0, initial=0.0))
    if not (worst > tol or worst0 > tol):
        return
    kind = "singular value" if singular else "eigenvalue"
    advice = "compute in float64, or " if v.dtype.itemsize < 8 else ""
    reverse = " with method='reverse'" if what == "in this direction" else ""
    if worst >= worst0:
        *batch, i, j = (int(k) for k in np.unravel_index(int(np.argmax(off)), off.shape))
        a, b = float(v[(*batch, i)]), float(v[(*batch, j)])
        lo, hi = builtins.min(a, b), builtins.max(a, b)
        digits = next((d for d in range(6, 17) if f"{lo:.{d}g}" != f"{hi:.{d}g}"), 17)
        place = f" (matrix {tuple(batch)} of the stack)" if batch else ""
        raise NonDifferentiableError(
            f"{name}: the {kind}s {lo:.{digits}g} and {hi:.{digits}g}{place} differ by "
            f"{hi - lo:.3g}: rounding in {v.dtype} leaves their vectors uncertain, which moves "
            f"their separate derivatives by up to {worst:.2g} of the answer ({what}); "
            f"{advice}differentiate a function symmetric in them (their sum){reverse}")
    *batch, i = (int(k) for k in np.unravel_index(int(np.argmax(off0)), off0.shape))
    place = f" (matrix {tuple(batch)} of the stack)" if batch else ""
    raise NonDifferentiableError(
        f"{name}: the singular value {float(v[(*batch, i)]):.3g}{place} of a matrix that is not "
        f"square is so near 0 that rounding in {v.dtype} leaves its vectors uncertain, which "
        f"moves its derivative by up to {worst0:.2g} of the answer ({what}); {advice}"
        f"differentiate a function whose derivative vanishes there (the sum of squared singular "
        f"values){reverse}, or move the point")


def _fold_max(a: np.ndarray, nd: int) -> np.ndarray:
    """`a` with its leading axes (a tangent's k directions) reduced by max to `nd` axes."""
    return a.max(axis=tuple(range(a.ndim - nd))) if a.ndim > nd else a


def _square(name: str, a: Any) -> tuple[int, ...]:
    s = shape_of(a)
    if len(s) < 2 or s[-1] != s[-2]:
        raise ShapeError(f"{name}: needs a square matrix or a stack of them (..., n, n), got "
                         f"shape {s}")
    return s


def _matrix(name: str, a: Any) -> tuple[int, ...]:
    s = shape_of(a)
    if len(s) < 2:
        raise ShapeError(f"{name}: needs a matrix or a stack of them (..., m, n), got shape {s}")
    return s


def _as_array(x: Any) -> Any:
    return x if isinstance(x, Traced) or hasattr(x, "shape") else np.asarray(x)


# ----- SymPy: NumPy object arrays matrix by matrix --------------------------------------------


def _per_matrix(fn: Callable[..., Any], arrays: Sequence[Any], cores: Sequence[int],
                out_core: tuple[int, ...]) -> np.ndarray:
    """Apply `fn` (SymPy matrices/vectors -> SymPy matrix or expression) to every matrix of
    broadcast stacks of object arrays; `cores` says how many trailing axes each argument's core
    has (2: a matrix, 1: a column vector)."""
    import sympy

    arrays = [np.asarray(a, dtype=object) for a in arrays]
    batches = [a.shape[:a.ndim - c] for a, c in zip(arrays, cores)]
    batch = np.broadcast_shapes(*batches)
    out = np.empty(batch + out_core, dtype=object)
    for idx in np.ndindex(*batch):
        args = []
        for a, b in zip(arrays, batches):
            sub = tuple(0 if n == 1 else i for i, n in zip(idx[len(idx) - len(b):], b))
            args.append(sympy.Matrix(a[sub].tolist()))
        r = fn(*args)
        if isinstance(r, sympy.MatrixBase):
            out[idx] = np.array(r.tolist(), dtype=object).reshape(out_core)
        else:
            out[idx] = r
    return out


# ----- inv, solve ---------------------------------------------------------------------------------


def _prepare_inv(a: Any) -> Any:
    a = _as_array(a)
    _square("inv", a)
    return (a,), {}


inv = structural(
    "inv", lambda xp, a: _call("inv", a, lambda: xp.linalg.inv(a)),
    jvp=lambda ts, k, xs, out: -_mm(out, ts[0], out),
    vjp=lambda ct, xs, out: (lambda: -_mm(_mT(out), ct, _mT(out)),),
    prepare=_prepare_inv, numpy=("linalg.inv",), latex=r"^{-1}", symbol="inv",
    sympy=lambda sp, a: _per_matrix(lambda m: m.adjugate() / m.det(), [a], [2],
                                    shape_of(a)[-2:]),
    cost=lambda ins, out: 2 * ins[0][-1] * math.prod(ins[0]),
    holomorphic=True,
    doc="Inverse of a square matrix (or of each of a stack); d(A⁻¹) = −A⁻¹·dA·A⁻¹.")


def _prepare_solve(a: Any, b: Any) -> Any:
    a, b = _as_array(a), _as_array(b)
    sa, sb = _square("solve", a), shape_of(b)
    n = sa[-1]
    if len(sb) == 1:
        if sb[0] != n:
            raise ShapeError(f"solve: a of shape {sa} and b of shape {sb} do not fit ({n} != "
                             f"{sb[0]})")
    elif len(sb) < 1 or sb[-2] != n:
        raise ShapeError(f"solve: b must be a vector (n,) or a stack of matrices (..., n, k); "
                         f"got shapes {sa} and {sb}")
    else:
        try:
            np.broadcast_shapes(sa[:-2], sb[:-2])
        except ValueError:
            raise ShapeError(f"solve: the stacks of shapes {sa} and {sb} do not broadcast"
                             ) from None
    return (a, b), {}


def _solve_jvp(ts: Any, k: int, xs: Any, out: Any) -> Any:
    """ẋ = A⁻¹(ḃ − Ȧx), as a solve with a matrix right-hand side (k in front of the stack)."""
    a, b = xs
    vec = len(shape_of(b)) == 1
    xm = _col(out) if vec else out
    nd = len(shape_of(xm))
    rhs = None
    if ts[1] is not None:
        tb = reshape(ts[1], (k, *shape_of(b), 1)) if vec else ts[1]
        rhs = _lead(tb, k, nd)
    if ts[0] is not None:
        term = -matmul(_lead(ts[0], k, nd), xm)
        rhs = term if rhs is None else rhs + term
    return reshape(solve(a, rhs), (k, *shape_of(out)))


def _solve_vjp(ct: Any, xs: Any, out: Any) -> Any:
    """b̄ = A⁻ᵀ·x̄, Ā = −b̄·xᵀ (summed over broadcast stacks)."""
    a, b = xs
    vec = len(shape_of(b)) == 1

    @functools.cache
    def bbar() -> Any:
        return solve(_mT(a), _col(ct) if vec else ct)

    def ga() -> Any:
        return sum_to(-matmul(bbar(), _mT(_col(out) if vec else out)), shape_of(a))

    def gb() -> Any:
        g = bbar()
        return sum_to(g[..., 0] if vec else g, shape_of(b))

    return ga, gb


def _solve_sympy(sp: Any, a: Any, b: Any) -> Any:
    vec = np.ndim(b) == 1
    bb = np.asarray(b, dtype=object)
    if vec:
        bb = bb.reshape(-1, 1)
    n, m = np.shape(a)[-1], bb.shape[-1]
    out = _per_matrix(lambda A, B: A.adjugate() * B / A.det(), [a, bb], [2, 2], (n, m))
    return out[..., 0] if vec else out


solve = structural(
    "solve", lambda xp, a, b: _call("solve", a, lambda: xp.linalg.solve(a, b)),
    jvp=_solve_jvp, vjp=_solve_vjp, nargs=2, prepare=_prepare_solve, numpy=("linalg.solve",),
    sympy=_solve_sympy, latex=r"\operatorname{solve}",
    holomorphic=True,
    doc="x with a·x = b: b a vector (n,) or a stack of matrices (..., n, k) (NumPy 2's rules); "
        "stacks broadcast.")


# ----- det, slogdet -------------------------------------------------------------------------------


def _cofactor_adjugate(a: Any) -> Any:
    """adj(A) from the (n−1)×(n−1) minors: exact at singular matrices, differentiable again."""
    n = shape_of(a)[-1]
    if n == 1:
        return a * _const(a, 0.0) + _const(a, 1.0)
    keep = np.array([[j for j in range(n) if j != i] for i in range(n)])
    minors = getitem(a, (Ellipsis, keep[:, None, :, None], keep[None, :, None, :]))
    signs = _const(a, (-1.0) ** np.add.outer(np.arange(n), np.arange(n)))
    return _mT(det(minors) * signs)


def _svd_adjugate(a: Any) -> Any:
    """adj(A) = det(U)det(Vᵀ)·V·diag(Πⱼ≠ᵢ sⱼ)·Uᵀ from the SVD (large singular matrices)."""
    p = svd_packed(a, False)
    u, s, vh = _svd_factors(a, p, False)
    n = shape_of(a)[-1]
    parts = [s[..., i:i + 1] for i in range(n)]
    before, after = [None] * n, [None] * n
    for i in range(1, n):
        before[i] = parts[i - 1] if before[i - 1] is None else before[i - 1] * parts[i - 1]
    for i in range(n - 2, -1, -1):
        after[i] = parts[i + 1] if after[i + 1] is None else after[i + 1] * parts[i + 1]
    others = concatenate([b if c is None else c if b is None else b * c
                          for b, c in zip(before, after)], axis=-1)
    sign = stop_gradient(det(u) * det(vh))
    if is_complex(a):  # U⁻¹ = Uᴴ
        u, vh = conj(u), conj(vh)
    return _mm(_scale_columns(_mT(vh), others), _mT(u)) * _col(_col(sign))


def _adjugate(a: Any, out: Any) -> Any:
    """adj(A) = det(A)·A⁻¹ where A is invertible, else from the minors (n ≤ 8) or the SVD.

    That is a decision by the values. Made on a traced A (a trace that may be replayed at other
    values: ``dk.jit`` of a derivative, compiled code), it is not taken for n ≤ 8: the minors'
    form is one expression at every matrix, invertible or not (``dk.jit(dk.grad(np.linalg.det))``
    first called at an invertible matrix recorded det(A)·A⁻¹ and its replay raised
    SingularMatrixError at a singular one); for larger n, where the SVD's form costs several
    times det(A)·A⁻¹, the values are read as a branch (:func:`_peek`, the guard): the trace
    holds at this point only, so ``dk.jit`` traces again at the next call."""
    if isinstance(a, Traced):
        if shape_of(a)[-1] <= 8:
            return _cofactor_adjugate(a)
        _peek(a)
    try:
        return _col(_col(out)) * inv(a)
    except SingularMatrixError:
        pass
    return _cofactor_adjugate(a) if shape_of(a)[-1] <= 8 else _svd_adjugate(a)


def _prepare_det(a: Any) -> Any:
    a = _as_array(a)
    _square("det", a)
    return (a,), {}


det = structural(
    "det", lambda xp, a: xp.linalg.det(a),
    jvp=lambda ts, k, xs, out: einsum("...ji,...ij->...", _adjugate(xs[0], out), ts[0]),
    vjp=lambda ct, xs, out: (lambda: _col(_col(ct)) * _mT(_adjugate(xs[0], out)),),
    prepare=_prepare_det, numpy=("linalg.det",), latex=r"\det", symbol="det",
    sympy=lambda sp, a: _per_matrix(lambda m: m.det(method="berkowitz"), [a], [2], ()),
    holomorphic=True,
    doc="Determinant; d det A = tr(adj(A)·dA), also at singular matrices (the adjugate).")


def _slogdet_impl(xp: Any, a: Any) -> Any:
    sign, logdet = xp.linalg.slogdet(a)
    return xp.stack([sign, xp.asarray(logdet, dtype=xp.result_type(sign, logdet))], axis=-1)


def _slogdet_packed_sympy(sp: Any, a: Any) -> Any:
    def both(m: Any) -> Any:
        d = m.det(method="berkowitz")
        return sp.Matrix([[sp.sign(d), sp.log(sp.Abs(d))]])

    return _per_matrix(both, [a], [2], (2,))


slogdet_packed = structural(
    "slogdet_packed", _slogdet_impl, vjp=lambda ct, xs, out: (None,), differentiable=False,
    prepare=_prepare_det, sympy=_slogdet_packed_sympy, latex=r"\operatorname{slogdet}",
    holomorphic=False,
    doc="np.linalg.slogdet's (sign, log|det|) stacked on a last axis of 2 (the one computation "
        "behind dk.slogdet; not differentiable itself — logabsdet is).")


def _logabsdet_inverse(a: Any) -> Any:
    _real_only("slogdet", a)
    try:
        return inv(a)
    except SingularMatrixError:
        raise NonDifferentiableError(
            f"slogdet: log|det| is -inf at the singular matrix {_shown(a)}: it is not "
            "differentiable there") from None


logabsdet = structural(
    "logabsdet", lambda xp, a, p: xp.real(p[..., 1]) if p.dtype.kind == "c" else p[..., 1],
    jvp=lambda ts, k, xs, out: einsum("...ij,...ji->...", _logabsdet_inverse(xs[0]), ts[0]),
    vjp=lambda ct, xs, out: (lambda: _col(_col(ct)) * _mT(_logabsdet_inverse(xs[0])), None),
    nargs=2, latex=r"\log|\det|",
    sympy=lambda sp, a, p: _per_matrix(lambda m: sp.log(sp.Abs(m.det(method="berkowitz"))),
                                       [a], [2], ()),
    holomorphic=False,
    doc="log|det a| read out of slogdet_packed(a) = p (the second output of dk.slogdet); "
        "d log|det A| = tr(A⁻¹·dA).")

def _sign_rule(xs: Any) -> None:
    """The sign of a real determinant is locally constant (derivative 0); a complex one's is not
    and has no rule here."""
    if is_complex(xs[0]):
        raise MissingRuleError("slogdet: the derivative of the sign of a complex determinant is "
                               "not supported: use real matrices, or method='fd'")


slogdet_sign = structural(
    "slogdet_sign", lambda xp, a, p: p[..., 0],
    jvp=lambda ts, k, xs, out: _sign_rule(xs),
    vjp=lambda ct, xs, out: (_sign_rule(xs), None),
    nargs=2, latex=r"\operatorname{sign}\det",
    sympy=lambda sp, a, p: _per_matrix(lambda m: sp.sign(m.det(method="berkowitz")), [a], [2], ()),
    holomorphic=False,
    doc="The sign of det a read out of slogdet_packed(a) = p (the first output of dk.slogdet); "
        "a constant for real matrices (derivative 0).")

SlogdetResult = namedtuple("SlogdetResult", ["sign", "logabsdet"])


@composite(numpy=("linalg.slogdet",))
def slogdet(a: Any) -> Any:
    """(sign, log|det a|) of a square matrix or a stack, as NumPy's slogdet.

    One LU factorization (slogdet_packed); the sign is a constant, log|det| differentiable
    (tr(A⁻¹·dA)).

    Example:
        >>> import diffkit as dk, numpy as np
        >>> sign, logdet = dk.slogdet(np.diag([2.0, -3.0]))
        >>> float(sign), round(float(logdet), 6)
        (-1.0, 1.791759)
    """
    a = _as_array(a)
    p = slogdet_packed(a)
    return SlogdetResult(slogdet_sign(a, p), logabsdet(a, p))


# ----- cholesky -----------------------------------------------------------------------------------


def _cholesky_impl(xp: Any, a: Any, upper: bool = False) -> Any:
    def run() -> Any:
        if not upper:
            return xp.linalg.cholesky(a)
        try:
            return xp.linalg.cholesky(a, upper=True)
        except TypeError:  # an array module without upper=: the factor of aᵀ, transposed
            n = a.ndim
            swap = (*range(n - 2), n - 1, n - 2)
            return xp.conj(xp.transpose(xp.linalg.cholesky(xp.transpose(a, swap)), swap))

    return _call("cholesky", a, run)


def _phi(x: Any) -> Any:
    """Φ(X): the lower triangle with its diagonal halved (Murray 2016)."""
    low, strict = _masks(shape_of(x)[-1], x)
    return x * (strict + (low - strict) * 0.5)


def _cholesky_jvp(ts: Any, k: int, xs: Any, out: Any, upper: bool = False) -> Any:
    """L̇ = L·Φ(L⁻¹·Ȧ·L⁻ᵀ), Ȧ the symmetric matrix read from the triangle used."""
    _real_only("cholesky", xs[0])
    low = _mT(out) if upper else out
    li = inv(low)
    dl = matmul(low, _phi(_mm(li, _triangle_symmetric(ts[0], not upper), _mT(li))))
    return _mT(dl) if upper else dl


def _cholesky_vjp(ct: Any, xs: Any, out: Any, upper: bool = False) -> Any:
    """Ā from S = L⁻ᵀ·Φ(Lᵀ·L̄)·L⁻¹ (Murray 2016), sent back to the triangle read."""
    _real_only("cholesky", xs[0])

    def g() -> Any:
        low = _mT(out) if upper else out
        lbar = _mT(ct) if upper else ct
        li = inv(low)
        s = _mm(_mT(li), _phi(matmul(_mT(low), lbar)), li)
        return _triangle_adjoint(s, not upper)

    return (g,)


def _cholesky_sympy(sp: Any, a: Any, upper: bool = False) -> Any:
    def chol(m: Any) -> Any:
        n = m.rows
        read = (lambda i, j: m[j, i]) if upper else (lambda i, j: m[i, j])  # i ≥ j
        low = sp.zeros(n, n)
        for j in range(n):
            low[j, j] = sp.sqrt(read(j, j) - builtins.sum(low[j, q] ** 2 for q in range(j)))
            for i in range(j + 1, n):
                low[i, j] = (read(i, j) - builtins.sum(low[i, q] * low[j, q] for q in range(j))
                             ) / low[j, j]
        return low.T if upper else low

    return _per_matrix(chol, [a], [2], shape_of(a)[-2:])


def _prepare_cholesky(a: Any, upper: bool = False) -> Any:
    a = _as_array(a)
    _square("cholesky", a)
    return (a,), {"upper": bool(upper)}


cholesky = structural(
    "cholesky", _cholesky_impl, jvp=_cholesky_jvp, vjp=_cholesky_vjp, prepare=_prepare_cholesky,
    numpy=("linalg.cholesky",), sympy=_cholesky_sympy, latex=r"\operatorname{chol}",
    holomorphic=False,
    doc="Cholesky factor L (A = L·Lᵀ; upper=True: U = Lᵀ), reading the lower (upper) triangle of "
        "a as NumPy does.")


# ----- eigh, eigvalsh -----------------------------------------------------------------------------


def _prepare_eigh(a: Any, UPLO: str = "L") -> Any:
    a = _as_array(a)
    _square("eigh", a)
    if UPLO not in ("L", "U"):
        raise ShapeError(f"eigh: UPLO must be 'L' or 'U', got {UPLO!r}")
    return (a,), {"UPLO": UPLO}


def _eigh_packed_impl(xp: Any, a: Any, UPLO: str = "L") -> Any:
    w, v = _call("eigh", a, lambda: xp.linalg.eigh(a, UPLO=UPLO))
    return xp.concatenate([xp.asarray(w[..., None, :], dtype=v.dtype), v], axis=-2)


eigh_packed = structural(
    "eigh_packed", _eigh_packed_impl, vjp=lambda ct, xs, out, UPLO="L": (None,),
    differentiable=False, prepare=_prepare_eigh, sympy=False, latex=r"\operatorname{eigh}",
    holomorphic=False,
    doc="np.linalg.eigh's eigenvalues (row 0) and eigenvectors (rows 1…n) stacked (..., n+1, n): "
        "the one decomposition behind dk.eigh; not differentiable itself — its outputs are.")


def _eigh_args(a: Any, p: Any, UPLO: str) -> tuple[Any, Any]:
    """The eigenvalues and eigenvectors as records of a (for the rules)."""
    return eigh_values(a, p, UPLO=UPLO), eigh_vectors(a, p, UPLO=UPLO)


def _untied(g: Any, keep: Any = None) -> Any:
    """The smoothness mask of values whose tie weights are G (and that `keep` keeps, 1 or 0):
    true where a value is tied with none (a convention elsewhere: see at_kink)."""
    d = _diag(g)
    return equal(d if keep is None else d * keep, 1.0)


def _eigenvalue_jvp(name: str, t: Any, w: Any, v: Any, lower: bool) -> Any:
    """λ̇ = G·diag(Vᵀ·Ẋ·V), ties averaged; near eigenvalues must not be told apart."""
    m = _mm(_mT(v), _triangle_symmetric(t, lower), v)
    _near_jvp_check(name, w, lambda: _peek(m))
    g = _tie_weights(w)
    return at_kink(_ties(g, _diag(m)), lambda: _untied(g), "repeated eigenvalues", w)


def _eigenvalue_vjp(name: str, ct: Any, w: Any, v: Any, lower: bool) -> Any:
    """Ā = V·diag(Gᵀλ̄)·Vᵀ, sent back to the triangle read; near eigenvalues must not be told
    apart."""
    _near_vjp_check(name, w, ct)
    g = _tie_weights(w)
    s = matmul(_scale_columns(v, _ties_transposed(g, ct)), _mT(v))
    return at_kink(_triangle_adjoint(s, lower), lambda: _untied(g), "repeated eigenvalues", w)


def _eigh_values_impl(xp: Any, a: Any, p: Any, UPLO: str = "L") -> Any:
    w = p[..., 0, :]
    return xp.real(w) if w.dtype.kind == "c" else w


def _eigh_values_jvp(ts: Any, k: int, xs: Any, out: Any, UPLO: str = "L") -> Any:
    _real_only("eigh", xs[0])
    return _eigenvalue_jvp("eigh", ts[0], out, eigh_vectors(xs[0], xs[1], UPLO=UPLO),
                           UPLO == "L")


def _eigh_values_vjp(ct: Any, xs: Any, out: Any, UPLO: str = "L") -> Any:
    _real_only("eigh", xs[0])
    return (lambda: _eigenvalue_vjp("eigh", ct, out, eigh_vectors(xs[0], xs[1], UPLO=UPLO),
                                    UPLO == "L"), None)


eigh_values = structural(
    "eigh_values", _eigh_values_impl, jvp=_eigh_values_jvp, vjp=_eigh_values_vjp, nargs=2,
    sympy=False, latex=r"\lambda",
    holomorphic=False,
    doc="The eigenvalues read out of eigh_packed(a) = p (the first output of dk.eigh); equal "
        "eigenvalues share their derivative equally; telling apart two that rounding leaves "
        "uncertain is a NonDifferentiableError, as in eigvalsh.")


def _eigenvector_check(w: Any, term: Any, where_: str, what: str) -> None:
    """Raise where an eigenvector derivative would need a repeated eigenvalue's eigenvectors:
    `term` (a tangent's Vᵀ·Ẋ·V, or the cotangent V̄) must vanish at the degenerate pairs
    (where_="pairs") or in the degenerate columns (where_="columns")."""
    pairs = _degenerate_pairs(w)
    mask = pairs if where_ == "pairs" else pairs.any(axis=-1)[..., None, :]
    if _nonzero_at(term, mask):
        raise NonDifferentiableError(
            f"eigh: the eigenvalue {_values_text(w, pairs)} {_repeated_text(w, pairs)}, so its "
            f"eigenvectors are not determined and not differentiable ({what}): differentiate a "
            "function of the eigenvalues only (np.linalg.eigvalsh), or move the point")


def _eigh_vectors_jvp(ts: Any, k: int, xs: Any, out: Any, UPLO: str = "L") -> Any:
    """V̇ = V·(F ∘ Vᵀ·Ẋ·V), F[i, j] = 1/(λⱼ − λᵢ)."""
    _real_only("eigh", xs[0])
    w = eigh_values(xs[0], xs[1], UPLO=UPLO)
    m = _mm(_mT(out), _triangle_symmetric(ts[0], UPLO == "L"), out)
    _eigenvector_check(w, m, "pairs", "in this direction")
    return matmul(out, _gap_inverse(w) * m)


def _eigh_vectors_vjp(ct: Any, xs: Any, out: Any, UPLO: str = "L") -> Any:
    """Ā = V·(F ∘ Vᵀ·V̄)·Vᵀ, sent back to the triangle read."""
    _real_only("eigh", xs[0])

    def g() -> Any:
        w = eigh_values(xs[0], xs[1], UPLO=UPLO)
        km = matmul(_mT(out), ct)
        _eigenvector_check(w, ct, "columns", "for this cotangent")
        return _triangle_adjoint(_mm(out, _gap_inverse(w) * km, _mT(out)), UPLO == "L")

    return g, None


eigh_vectors = structural(
    "eigh_vectors", lambda xp, a, p, UPLO="L": p[..., 1:, :], jvp=_eigh_vectors_jvp,
    vjp=_eigh_vectors_vjp, nargs=2, sympy=False, latex=r"V",
    holomorphic=False,
    doc="The eigenvectors (columns) read out of eigh_packed(a) = p (the second output of "
        "dk.eigh); not differentiable where their eigenvalue repeats (a named error).")

EighResult = namedtuple("EighResult", ["eigenvalues", "eigenvectors"])


@composite(numpy=("linalg.eigh",))
def eigh(a: Any, UPLO: str = "L") -> Any:
    """(eigenvalues, eigenvectors) of a symmetric matrix or a stack, as NumPy's eigh.

    From its lower (UPLO='L') or upper triangle: one decomposition (eigh_packed), two
    differentiable outputs. Equal eigenvalues share their derivative; eigenvectors of a repeated
    eigenvalue are not differentiable (NonDifferentiableError naming the eigenvalue).

    Example:
        >>> import diffkit as dk, numpy as np
        >>> w, v = dk.eigh(np.array([[2.0, 1.0], [1.0, 2.0]]))
        >>> w.round(6).tolist()
        [1.0, 3.0]
    """
    (a,), params = _prepare_eigh(a, UPLO)
    p = eigh_packed(a, **params)
    return EighResult(eigh_values(a, p, **params), eigh_vectors(a, p, **params))


def _eigvalsh_rule_vectors(a: Any, UPLO: str) -> Any:
    return eigh_vectors(a, eigh_packed(a, UPLO), UPLO=UPLO)


def _eigvalsh_jvp(ts: Any, k: int, xs: Any, out: Any, UPLO: str = "L") -> Any:
    _real_only("eigvalsh", xs[0])
    return _eigenvalue_jvp("eigvalsh", ts[0], out, _eigvalsh_rule_vectors(xs[0], UPLO),
                           UPLO == "L")


def _eigvalsh_vjp(ct: Any, xs: Any, out: Any, UPLO: str = "L") -> Any:
    _real_only("eigvalsh", xs[0])
    return (lambda: _eigenvalue_vjp("eigvalsh", ct, out, _eigvalsh_rule_vectors(xs[0], UPLO),
                                    UPLO == "L"),)


eigvalsh = structural(
    "eigvalsh", lambda xp, a, UPLO="L": _call("eigvalsh", a, lambda: xp.linalg.eigvalsh(
        a, UPLO=UPLO)),
    jvp=_eigvalsh_jvp, vjp=_eigvalsh_vjp, prepare=_prepare_eigh, numpy=("linalg.eigvalsh",),
    sympy=False, latex=r"\operatorname{eigvalsh}",
    holomorphic=False,
    doc="Eigenvalues of a symmetric matrix (ascending), from one triangle as NumPy reads it; "
        "equal eigenvalues (gap ≤ 2·ε·max|λ|) share their derivative equally; a derivative "
        "that tells apart two so close that rounding moves it by more than 1e-3 (float32: "
        "1e-2) is a NonDifferentiableError.")


# ----- svd, svdvals -------------------------------------------------------------------------------


def _prepare_svd_packed(a: Any, full_matrices: bool = True) -> Any:
    a = _as_array(a)
    _matrix("svd", a)
    return (a,), {"full_matrices": bool(full_matrices)}


def _svd_dims(shape: tuple[int, ...], full: bool) -> tuple[int, int, int, int]:
    """m, n and the columns of U / rows of Vh for NumPy's svd."""
    m, n = shape[-2:]
    k = builtins.min(m, n)
    return m, n, (m if full else k), (n if full else k)


def _svd_packed_impl(xp: Any, a: Any, full_matrices: bool = True) -> Any:
    u, s, vh = _call("svd", a, lambda: xp.linalg.svd(a, full_matrices=full_matrices))
    batch = a.shape[:-2]
    parts = [u.reshape(*batch, -1), xp.asarray(s, dtype=u.dtype), vh.reshape(*batch, -1)]
    return xp.concatenate(parts, axis=-1)


svd_packed = structural(
    "svd_packed", _svd_packed_impl, vjp=lambda ct, xs, out, full_matrices=True: (None,),
    differentiable=False, prepare=_prepare_svd_packed, sympy=False, latex=r"\operatorname{svd}",
    holomorphic=False,
    doc="np.linalg.svd's U, S and Vh flattened and stacked on the last axis: the one "
        "decomposition behind dk.svd; not differentiable itself — its outputs are.")


def _svd_piece(xp: Any, a: Any, p: Any, full_matrices: bool, which: int) -> Any:
    m, n, ku, kv = _svd_dims(a.shape, full_matrices)
    k = builtins.min(m, n)
    batch = a.shape[:-2]
    if which == 0:
        return p[..., :m * ku].reshape(*batch, m, ku)
    s = p[..., m * ku:m * ku + k]
    if which == 1:
        return xp.real(s) if s.dtype.kind == "c" else s
    return p[..., m * ku + k:].reshape(*batch, kv, n)


def _svd_factors(a: Any, p: Any, full: bool) -> tuple[Any, Any, Any]:
    return (svd_u(a, p, full_matrices=full), svd_s(a, p, full_matrices=full),
            svd_vh(a, p, full_matrices=full))


def _svd_rules_allowed(name: str, a: Any, full: bool) -> None:
    _real_only(name, a)
    m, n = shape_of(a)[-2:]
    if full and m != n:
        raise MissingRuleError(
            f"{name}: with full_matrices=True the extra singular vectors of a {m}×{n} matrix are "
            "not unique, so they have no derivative: use full_matrices=False")


def _singular_value_weights(s: Any) -> tuple[Any, Any]:
    """(G, nonzero): ties among singular values averaged; zero ones (within the rounding level)
    have derivative 0."""
    one, zero = _const(s, 1.0), _const(s, 0.0)
    return _tie_weights(s), where(greater(s, _rounding(s)), one, zero)


_SINGULAR_KINK = "singular values that are zero or repeated"


def _singular_value_jvp(name: str, t: Any, s: Any, u: Any, vh: Any) -> Any:
    """σ̇ = G·diag(Uᵀ·Ȧ·V) (0 for a zero σ); near values must not be told apart."""
    g, nonzero = _singular_value_weights(s)
    k = shape_of(s)[-1]
    _near_jvp_check(name, s, lambda: np.swapaxes(_peek(u)[..., :k], -1, -2) @ _peek(t)
                    @ np.swapaxes(_peek(vh)[..., :k, :], -1, -2), singular=True,
                    square=shape_of(u)[-2] == shape_of(vh)[-1])
    d = einsum("...ji,...jk,...ik->...i", u[..., :k], t, vh[..., :k, :])
    return at_kink(_ties(g, d) * nonzero, lambda: _untied(g, nonzero), _SINGULAR_KINK, s)


def _singular_value_vjp(name: str, ct: Any, s: Any, u: Any, vh: Any) -> Any:
    """Ā = U·diag(Gᵀ·σ̄)·Vᵀ (0 for a zero σ); near values must not be told apart."""
    _near_vjp_check(name, s, ct, singular=True, square=shape_of(u)[-2] == shape_of(vh)[-1])
    g, nonzero = _singular_value_weights(s)
    k = shape_of(s)[-1]
    return at_kink(
        matmul(_scale_columns(u[..., :k], _ties_transposed(g, ct * nonzero)), vh[..., :k, :]),
        lambda: _untied(g, nonzero), _SINGULAR_KINK, s)


def _zero_singular_value_check(s: Any, term: Any, what: str) -> None:
    """Raise where S of svd(a) (not svdvals) would move a zero singular value: `term` (its
    cotangent σ̄, or a tangent's uᵢᵀ·Ȧ·vᵢ) must vanish there.

    At a zero σₖ the SVD has no derivative, only one-sided ones: σₖ(A + tȦ) = |t·uₖᵀȦvₖ| (and for
    a matrix that is not square, or several zero σ, a norm over the null spaces), while LAPACK
    flips the sign of uₖ or vₖ as t changes sign. A function f = F(U, S, Vh) is smooth there
    exactly when F does not see the flip together with the kink: U·S·Vh (σₖ·uₖ·vₖᵀ = t·uₖuₖᵀȦvₖvₖᵀ
    is smooth) is, its gradient holding the null-space term Pᵤ·C·Pᵥ; F(S) alone is not (svdvals'
    convention gives it the subgradient 0). The cotangents at the point cannot tell the two apart
    (the reconstruction's Ūₖ = σₖ·C·vₖ is 0, so U's check passes, and σ̄ₖ = uₖᵀCvₖ ≠ 0 is what
    the convention would drop: a wrong gradient), nor recover Pᵤ·C·Pᵥ beyond one simple zero of a
    square matrix; so σ̄ₖ ≠ 0 there is a named error. svdvals keeps the kink convention: it comes
    without vectors."""
    sv = _peek(s)
    if sv.size == 0:
        return
    rounding, _ = _plain_levels(sv)
    zero = sv <= rounding
    if not _nonzero_at(term, zero):
        return
    raise NonDifferentiableError(
        f"svd: the singular value {_values_text(s, zero[..., :, None] & zero[..., None, :])} is "
        f"zero (the matrix is rank-deficient), where S has a kink and U, Vh flip signs: S's "
        f"derivative depends on how U and Vh use it ({what}; U·S·Vh is smooth there, S alone is "
        "not); differentiate a function of the singular values alone with np.linalg.svd(a, "
        "compute_uv=False) (a zero one has derivative 0), a reconstruction as the matrix itself "
        "or U[:, :r]·S[:r]·Vh[:r] over the r nonzero singular values, or move the point")


def _svd_s_jvp(ts: Any, k: int, xs: Any, out: Any, full_matrices: bool = True) -> Any:
    _real_only("svd", xs[0])
    a, p = xs
    u, vh = svd_u(a, p, full_matrices=full_matrices), svd_vh(a, p, full_matrices=full_matrices)
    n = shape_of(out)[-1]
    _zero_singular_value_check(out, einsum("...ji,...jk,...ik->...i", u[..., :n], ts[0],
                                           vh[..., :n, :]), "in this direction")
    return _singular_value_jvp("svd", ts[0], out, u, vh)


def _svd_s_vjp(ct: Any, xs: Any, out: Any, full_matrices: bool = True) -> Any:
    _real_only("svd", xs[0])
    a, p = xs

    def g() -> Any:
        _zero_singular_value_check(out, ct, "for this cotangent")
        return _singular_value_vjp("svd", ct, out, svd_u(a, p, full_matrices=full_matrices),
                                   svd_vh(a, p, full_matrices=full_matrices))

    return (g, None)


svd_s = structural(
    "svd_s", lambda xp, a, p, full_matrices=True: _svd_piece(xp, a, p, full_matrices, 1),
    jvp=_svd_s_jvp, vjp=_svd_s_vjp, nargs=2, sympy=False, latex=r"\sigma",
    holomorphic=False,
    doc="The singular values read out of svd_packed(a) = p (the second output of dk.svd); equal "
        "ones share their derivative; a zero one is a NonDifferentiableError where its "
        "cotangent is not 0 (svdvals gives it 0); close ones are a "
        "NonDifferentiableError where rounding leaves the answer uncertain, as in svdvals.")


def _singular_vector_check(s: Any, term: Any, where_: str, what: str) -> None:
    """Raise where a singular-vector derivative would need the singular vectors of a repeated or
    zero singular value: `term` (a tangent's numerator, or the cotangent of U (where_="columns")
    or of Vh (where_="rows")) must vanish there; a tangent (where_="pairs") must vanish at the
    repeated pairs, and entirely if a singular value is zero."""
    pairs = _degenerate_pairs(s)
    sv = _peek(s)
    rounding, uncertain = _plain_levels(sv)
    zero = sv <= uncertain
    if where_ == "pairs":
        bad, at_zero = pairs, np.ones((1,), dtype=bool) if zero.any() else np.zeros(1, bool)
    else:
        cols = pairs.any(axis=-1) | zero
        k = sv.shape[-1]
        bad = cols[..., None, :] if where_ == "columns" else cols[..., :, None]
        t = _peek(term)
        term = t[..., :k] if where_ == "columns" else t[..., :k, :]
        at_zero = np.zeros(1, bool)
    if _nonzero_at(term, bad):
        if pairs.any():
            raise NonDifferentiableError(
                f"svd: the singular value {_values_text(s, pairs)} {_repeated_text(s, pairs)}, "
                f"so its singular vectors are not determined and not differentiable ({what}): "
                "differentiate a function of the singular values only (np.linalg.svd(a, "
                "compute_uv=False)), or move the point")
        at_zero = np.ones((1,), dtype=bool)
    if at_zero.any() and _nonzero_at(term, at_zero):
        small = sv[zero]
        tiny = float(np.min(small)) if small.size else 0.0
        state = ("is zero (the matrix is rank-deficient)" if (sv <= rounding).any() else
                 f"{tiny:.3g} is nearly zero (within rounding: ≤ 64·n·ε·max|σ| = "
                 f"{float(np.max(uncertain)):.3g})")
        raise NonDifferentiableError(
            f"svd: a singular value {state}, where the signs of its singular vectors flip: they "
            f"are not differentiable ({what}); differentiate a function of the singular values, "
            "or move the point")


def _svd_common(a: Any, p: Any, full: bool) -> tuple[Any, Any, Any, Any]:
    u, s, vh = _svd_factors(a, p, full)
    return u, s, _mT(vh), _gap_inverse(s, squared=True)


def _inverse_s(s: Any) -> Any:
    one = _const(s, 1.0)
    return one / s


def _svd_u_jvp(ts: Any, k: int, xs: Any, out: Any, full_matrices: bool = True) -> Any:
    """U̇ = U·(F ∘ (Ṗ·S + S·Ṗᵀ)) + (I − U·Uᵀ)·Ȧ·V·S⁻¹, Ṗ = Uᵀ·Ȧ·V (Townsend 2016)."""
    a, p = xs
    _svd_rules_allowed("svd", a, full_matrices)
    u, s, v, f = _svd_common(a, p, full_matrices)
    t = ts[0]
    dp = _mm(_mT(u), t, v)
    num = _scale_columns(dp, s) + _mT(_scale_columns(dp, s))
    _singular_vector_check(s, num, "pairs", "in this direction")
    du = matmul(u, f * num)
    m, n = shape_of(a)[-2:]
    if m > n:
        rest = matmul(t, v) - matmul(u, dp)
        du = du + _scale_columns(rest, _inverse_s(s))
    return du


def _svd_u_vjp(ct: Any, xs: Any, out: Any, full_matrices: bool = True) -> Any:
    """Ā = U·((F ∘ (Uᵀ·Ū − Ūᵀ·U))·S)·Vᵀ + (I − U·Uᵀ)·Ū·S⁻¹·Vᵀ."""
    a, p = xs
    _svd_rules_allowed("svd", a, full_matrices)

    def g() -> Any:
        u, s, v, f = _svd_common(a, p, full_matrices)
        j = matmul(_mT(u), ct)
        j = j - _mT(j)
        _singular_vector_check(s, ct, "columns", "for this cotangent")
        ga = _mm(u, _scale_columns(f * j, s), _mT(v))
        m, n = shape_of(a)[-2:]
        if m > n:
            rest = ct - matmul(u, matmul(_mT(u), ct))
            ga = ga + matmul(_scale_columns(rest, _inverse_s(s)), _mT(v))
        return ga

    return g, None


svd_u = structural(
    "svd_u", lambda xp, a, p, full_matrices=True: _svd_piece(xp, a, p, full_matrices, 0),
    jvp=_svd_u_jvp, vjp=_svd_u_vjp, nargs=2, sympy=False, latex="U",
    holomorphic=False,
    doc="U read out of svd_packed(a) = p (the first output of dk.svd); not differentiable where "
        "a singular value repeats or is zero (a named error).")


def _svd_vh_jvp(ts: Any, k: int, xs: Any, out: Any, full_matrices: bool = True) -> Any:
    """V̇ = V·(F ∘ (S·Ṗ + Ṗᵀ·S)) + (I − V·Vᵀ)·Ȧᵀ·U·S⁻¹; the result is V̇ᵀ."""
    a, p = xs
    _svd_rules_allowed("svd", a, full_matrices)
    u, s, v, f = _svd_common(a, p, full_matrices)
    t = ts[0]
    dp = _mm(_mT(u), t, v)
    num = _mT(_scale_columns(_mT(dp), s)) + _scale_columns(_mT(dp), s)
    _singular_vector_check(s, num, "pairs", "in this direction")
    dv = matmul(v, f * num)
    m, n = shape_of(a)[-2:]
    if n > m:
        rest = matmul(_mT(t), u) - matmul(v, _mT(dp))
        dv = dv + _scale_columns(rest, _inverse_s(s))
    return _mT(dv)


def _svd_vh_vjp(ct: Any, xs: Any, out: Any, full_matrices: bool = True) -> Any:
    """With V̄ = V̄hᵀ: Ā = U·(S·(F ∘ (Vᵀ·V̄ − V̄ᵀ·V)))·Vᵀ + U·S⁻¹·V̄ᵀ·(I − V·Vᵀ)."""
    a, p = xs
    _svd_rules_allowed("svd", a, full_matrices)

    def g() -> Any:
        u, s, v, f = _svd_common(a, p, full_matrices)
        vbar = _mT(ct)
        j = matmul(_mT(v), vbar)
        j = j - _mT(j)
        _singular_vector_check(s, ct, "rows", "for this cotangent")
        ga = _mm(u, _col(s) * (f * j), _mT(v))
        m, n = shape_of(a)[-2:]
        if n > m:
            rest = _mT(vbar) - matmul(matmul(_mT(vbar), v), _mT(v))
            ga = ga + matmul(_scale_columns(u, _inverse_s(s)), rest)
        return ga

    return g, None


svd_vh = structural(
    "svd_vh", lambda xp, a, p, full_matrices=True: _svd_piece(xp, a, p, full_matrices, 2),
    jvp=_svd_vh_jvp, vjp=_svd_vh_vjp, nargs=2, sympy=False, latex=r"V^\top",
    holomorphic=False,
    doc="Vh read out of svd_packed(a) = p (the third output of dk.svd); not differentiable where "
        "a singular value repeats or is zero (a named error).")


def _prepare_svdvals(a: Any) -> Any:
    a = _as_array(a)
    _matrix("svdvals", a)
    return (a,), {}


def _svdvals_jvp(ts: Any, k: int, xs: Any, out: Any) -> Any:
    _real_only("svdvals", xs[0])
    return _singular_value_jvp("svdvals", ts[0], out, *_svdvals_vectors(xs[0]))


def _svdvals_vjp(ct: Any, xs: Any, out: Any) -> Any:
    _real_only("svdvals", xs[0])
    return (lambda: _singular_value_vjp("svdvals", ct, out, *_svdvals_vectors(xs[0])),)


svdvals = structural(
    "svdvals", lambda xp, a: _call("svdvals", a, lambda: xp.linalg.svd(a, compute_uv=False)),
    jvp=_svdvals_jvp, vjp=_svdvals_vjp, prepare=_prepare_svdvals, numpy=("linalg.svdvals",),
    sympy=False, latex=r"\operatorname{svdvals}",
    holomorphic=False,
    doc="Singular values (descending), as np.linalg.svd(a, compute_uv=False); equal ones (gap "
        "≤ 2·ε·max σ) share their derivative, a zero one (≤ 2·ε·max σ) has derivative 0; a "
        "derivative that tells apart two so close (or, of a matrix that is not square, needs "
        "one so near 0) that rounding moves it by more than 1e-3 (float32: 1e-2) is a "
        "NonDifferentiableError.")


def _svdvals_vectors(a: Any) -> tuple[Any, Any]:
    p = svd_packed(a, False)
    return svd_u(a, p, full_matrices=False), svd_vh(a, p, full_matrices=False)


SVDResult = namedtuple("SVDResult", ["U", "S", "Vh"])


@composite(numpy=("linalg.svd",))
def svd(a: Any, full_matrices: bool = True, compute_uv: bool = True, hermitian: bool = False
        ) -> Any:
    """(U, S, Vh) of a matrix or a stack, as NumPy's svd (S alone with compute_uv=False).

    One decomposition (svd_packed); compute_uv=False is svdvals. Equal singular values share their
    derivative; U and Vh are not differentiable where a singular value repeats or is zero, nor
    (for a non-square matrix) with full_matrices=True: named errors.

    Example:
        >>> import diffkit as dk, numpy as np
        >>> u, s, vh = dk.svd(np.array([[3.0, 0.0], [0.0, -2.0]]))
        >>> s.tolist()
        [3.0, 2.0]
    """
    if hermitian:
        raise MissingRuleError("svd(hermitian=True) is not supported by diffkit: use "
                               "hermitian=False (the general SVD), or np.linalg.eigh")
    if not compute_uv:
        return svdvals(a)
    (a,), params = _prepare_svd_packed(a, full_matrices)
    p = svd_packed(a, **params)
    return SVDResult(*_svd_factors(a, p, params["full_matrices"]))


# ----- qr -----------------------------------------------------------------------------------------


def _qr_dims(shape: tuple[int, ...], mode: str) -> tuple[int, int, int]:
    """m, n and the columns of Q (= rows of R) of NumPy's qr in `mode`."""
    m, n = shape[-2:]
    return m, n, (m if mode == "complete" else builtins.min(m, n))


def _prepare_qr_packed(a: Any, mode: str = "reduced") -> Any:
    a = _as_array(a)
    _matrix("qr", a)
    if mode not in ("reduced", "complete"):
        raise MissingRuleError(f"qr: mode={mode!r} is not supported by diffkit: use "
                               "mode='reduced' (or 'r', 'complete')")
    return (a,), {"mode": mode}


def _qr_packed_impl(xp: Any, a: Any, mode: str = "reduced") -> Any:
    q, r = _call("qr", a, lambda: xp.linalg.qr(a, mode=mode))
    batch = a.shape[:-2]
    return xp.concatenate([q.reshape(*batch, -1), r.reshape(*batch, -1)], axis=-1)


qr_packed = structural(
    "qr_packed", _qr_packed_impl, vjp=lambda ct, xs, out, mode="reduced": (None,),
    differentiable=False, prepare=_prepare_qr_packed, sympy=False, latex=r"\operatorname{qr}",
    holomorphic=False,
    doc="np.linalg.qr's Q and R flattened and stacked on the last axis: the one decomposition "
        "behind dk.qr; not differentiable itself — its outputs are.")


def _qr_piece(a: Any, p: Any, mode: str, which: int) -> Any:
    m, n, k = _qr_dims(a.shape, mode)
    batch = a.shape[:-2]
    if which == 0:
        return p[..., :m * k].reshape(*batch, m, k)
    return p[..., m * k:].reshape(*batch, k, n)


def _qr_rules_allowed(a: Any, mode: str, which: int) -> None:
    _real_only("qr", a)
    m, n = shape_of(a)[-2:]
    if mode == "complete" and m > n and which == 0:  # R is the reduced R with zero rows below
        raise MissingRuleError(
            f"qr: with mode='complete' the last {m - n} columns of Q of a {m}×{n} matrix are not "
            "unique, so they have no derivative: use mode='reduced'")


def _reduced_qr(a: Any) -> tuple[Any, Any]:
    """Q and R of `a` in mode='reduced' (complete R's rows above its zeros, differentiable
    where complete Q's last columns are not)."""
    p = qr_packed(a, mode="reduced")
    return qr_q(a, p, mode="reduced"), qr_r(a, p, mode="reduced")


def _zero_rows(like: Any, rows: int) -> Any:
    """`rows` rows of zeros beside `like`'s (…, k, n): a tangent that does not move."""
    return _const(like, namespace_of(like).zeros((*shape_of(like)[:-2], rows,
                                                  shape_of(like)[-1])))


def _r_inverse(r: Any) -> Any:
    """R⁻¹, or a NonDifferentiableError where R is (numerically) singular."""
    d = np.abs(np.diagonal(_peek(r), axis1=-2, axis2=-1))
    n = d.shape[-1]
    tol = 64.0 * n * float(np.finfo(d.dtype).eps) * np.max(np.abs(_peek(r)), axis=(-2, -1),
                                                           initial=0.0)
    if np.any(d <= tol[..., None]):
        raise NonDifferentiableError(
            "qr: the matrix has linearly dependent columns (R is singular), where Q and R are "
            "not differentiable; move the point")
    return inv(r)


def _qr_square_jvp(q: Any, r: Any, t: Any) -> tuple[Any, Any]:
    """(Q̇, Ṙ) of A = QR (m ≥ n): C = Qᵀ·Ȧ·R⁻¹, Ω = tril(C, −1) − tril(C, −1)ᵀ, Ṙ = (C − Ω)·R,
    Q̇ = (Ȧ − Q·Ṙ)·R⁻¹."""
    ri = _r_inverse(r)
    c = _mm(_mT(q), t, ri)
    _, strict = _masks(shape_of(r)[-1], r)
    low = c * strict
    dr = matmul(c - low + _mT(low), r)
    dq = matmul(t - matmul(q, dr), ri)
    return dq, dr


def _copyltu(m: Any) -> Any:
    """The symmetric matrix with m's lower triangle (and diagonal)."""
    low, strict = _masks(shape_of(m)[-1], m)
    return m * low + _mT(m * strict)


def _qr_square_vjp(q: Any, r: Any, qbar: Any, rbar: Any) -> Any:
    """Ā = (Q̄ + Q·copyltu(M))·R⁻ᵀ, M = R·R̄ᵀ − Q̄ᵀ·Q (m ≥ n; Q̄ or R̄ may be None)."""
    ri = _r_inverse(r)
    m = None
    if rbar is not None:
        m = matmul(r, _mT(rbar))
    if qbar is not None:
        term = -matmul(_mT(qbar), q)
        m = term if m is None else m + term
    b = matmul(q, _copyltu(m))
    if qbar is not None:
        b = b + qbar
    return matmul(b, _mT(ri))


def _qr_jvp(ts: Any, k: int, xs: Any, out: Any, mode: str, which: int) -> Any:
    a, p = xs
    _qr_rules_allowed(a, mode, which)
    q, r = qr_q(a, p, mode=mode), qr_r(a, p, mode=mode)
    m, n = shape_of(a)[-2:]
    t = ts[0]
    if mode == "complete" and m > n:  # R only (above): the reduced R's Ṙ, zero rows below
        dr = _qr_square_jvp(*_reduced_qr(a), t)[1]
        return concatenate([dr, _zero_rows(dr, m - n)], axis=-2)
    if m >= n:
        return _qr_square_jvp(q, r, t)[which]
    x_t, y_t = t[..., :, :m], t[..., :, m:]
    dq, drx = _qr_square_jvp(q, r[..., :, :m], x_t)
    if which == 0:
        return dq
    y = a[..., :, m:]
    dry = matmul(_mT(dq), y) + matmul(_mT(q), y_t)
    return concatenate([drx, dry], axis=-1)


def _qr_vjp(ct: Any, xs: Any, out: Any, mode: str, which: int) -> Any:
    a, p = xs
    _qr_rules_allowed(a, mode, which)

    def g() -> Any:
        q, r = qr_q(a, p, mode=mode), qr_r(a, p, mode=mode)
        m, n = shape_of(a)[-2:]
        qbar, rbar = (ct, None) if which == 0 else (None, ct)
        if mode == "complete" and m > n:  # R only (above): its zero rows take no cotangent
            return _qr_square_vjp(*_reduced_qr(a), None, rbar[..., :n, :])
        if m >= n:
            return _qr_square_vjp(q, r, qbar, rbar)
        y = a[..., :, m:]
        if rbar is None:
            gx = _qr_square_vjp(q, r[..., :, :m], qbar, None)
            return concatenate([gx, y * _const(y, 0.0)], axis=-1)
        rbx, rby = rbar[..., :, :m], rbar[..., :, m:]
        gx = _qr_square_vjp(q, r[..., :, :m], matmul(y, _mT(rby)), rbx)
        return concatenate([gx, matmul(q, rby)], axis=-1)

    return g, None


qr_q = structural(
    "qr_q", lambda xp, a, p, mode="reduced": _qr_piece(a, p, mode, 0),
    jvp=lambda ts, k, xs, out, mode="reduced": _qr_jvp(ts, k, xs, out, mode, 0),
    vjp=lambda ct, xs, out, mode="reduced": _qr_vjp(ct, xs, out, mode, 0), nargs=2,
    sympy=False, latex="Q",
    holomorphic=False,
    doc="Q read out of qr_packed(a) = p (the first output of dk.qr); differentiable where a has "
        "independent columns (or rows, for a wide matrix).")
qr_r = structural(
    "qr_r", lambda xp, a, p, mode="reduced": _qr_piece(a, p, mode, 1),
    jvp=lambda ts, k, xs, out, mode="reduced": _qr_jvp(ts, k, xs, out, mode, 1),
    vjp=lambda ct, xs, out, mode="reduced": _qr_vjp(ct, xs, out, mode, 1), nargs=2,
    sympy=False, latex="R",
    holomorphic=False,
    doc="R read out of qr_packed(a) = p (the second output of dk.qr).")

QRResult = namedtuple("QRResult", ["Q", "R"])


@composite(numpy=("linalg.qr",))
def qr(a: Any, mode: str = "reduced") -> Any:
    """(Q, R) of a matrix or a stack, as NumPy's qr (R alone with mode='r').

    One factorization (qr_packed). Derivatives (Walter & Lehmann; Seeger et al. 2017) need
    independent columns (rows, for a wide matrix): else a NonDifferentiableError.

    Example:
        >>> import diffkit as dk, numpy as np
        >>> q, r = dk.qr(np.array([[3.0, 1.0], [4.0, 2.0]]))
        >>> np.allclose(q @ r, [[3.0, 1.0], [4.0, 2.0]])
        True
    """
    m = "reduced" if mode == "r" else mode
    (a,), params = _prepare_qr_packed(a, m)
    p = qr_packed(a, **params)
    if mode == "r":
        return qr_r(a, p, **params)
    return QRResult(qr_q(a, p, **params), qr_r(a, p, **params))


# ----- pinv ---------------------------------------------------------------------------------------


def _prepare_pinv(a: Any, rcond: Any = None, hermitian: bool = False, *, rtol: Any = None
                  ) -> Any:
    a = _as_array(a)
    _matrix("pinv", a)
    if rcond is not None and rtol is not None:
        raise ShapeError("pinv: give rcond or rtol, not both")
    for name, v in (("rcond", rcond), ("rtol", rtol)):
        if v is not None and np.ndim(plain(v)):
            raise MissingRuleError(f"pinv: an array {name} is not supported by diffkit: pass a "
                                   "number")
        if v is not None:
            _real_number("pinv", name, plain(v))
    return (a,), {"rcond": None if rcond is None else float(rcond),
                  "rtol": None if rtol is None else float(rtol), "hermitian": bool(hermitian)}


def _pinv_impl(xp: Any, a: Any, rcond: Any = None, rtol: Any = None, hermitian: bool = False
               ) -> Any:
    kwargs: dict[str, Any] = {}
    if rcond is not None:
        kwargs["rcond"] = rcond
    if rtol is not None:
        kwargs["rtol"] = rtol
    if hermitian:
        kwargs["hermitian"] = True
    return _call("pinv", a, lambda: xp.linalg.pinv(a, **kwargs))


def _pinv_parts(a: Any, x: Any, hermitian: bool) -> tuple[Any, Any, Any]:
    """A as pinv sees it, I − A·X and I − X·A."""
    if hermitian:
        a = _triangle_symmetric(a, True)
    m, n = shape_of(a)[-2:]
    return a, _eye(m, x) - matmul(a, x), _eye(n, x) - matmul(x, a)


def _truncation(a: Any, rcond: Any, rtol: Any) -> Any:
    """None where the cutoff drops only zero singular values of `a` (pinv of a is then pinv of the
    matrix of its rank: Golub–Pereyra's formula as it stands); else the records (U, s, V, W) of
    a's reduced SVD with W (..., k, k): W[j, i] = σⱼ/(σᵢ² − σⱼ²) for i kept, j dropped (0
    elsewhere), the coupling through which the rank-r truncation Aᵣ = Uᵣ·Sᵣ·Vᵣᵀ — the matrix pinv
    inverts — moves with a. A singular value at the cutoff (within u = 64·k·ε·max σ of it, where
    the kept set changes) is a NonDifferentiableError."""
    sv = np.linalg.svd(_peek(a), compute_uv=False)
    if sv.size == 0:
        return None
    rc = rcond if rcond is not None else rtol if rtol is not None else 1e-15
    top = np.max(sv, axis=-1, keepdims=True)
    cutoff = rc * top
    rounding, window = _plain_levels(sv)
    dropped = sv <= cutoff
    if not np.any(dropped & (sv > rounding)):
        return None
    at = np.abs(sv - cutoff) <= window
    if np.any(at & (cutoff > window)):
        *batch, i = (int(j) for j in np.argwhere(at & (cutoff > window))[0])
        place = f" (matrix {tuple(batch)} of the stack)" if batch else ""
        raise NonDifferentiableError(
            f"pinv: the singular value {sv[(*batch, i)]:.6g}{place} sits at the cutoff "
            f"{float(cutoff[(*batch, 0)]):.6g} (rcond·max σ), where the pseudo-inverse jumps (a "
            "singular value is kept on one side and dropped on the other): it has no derivative "
            "there; move rcond/rtol away from the singular values, or use method='fd' for a "
            "one-sided estimate")
    p = svd_packed(a, False)
    u, sig, v = svd_u(a, p, full_matrices=False), svd_s(a, p, full_matrices=False), _mT(
        svd_vh(a, p, full_matrices=False))
    xp = namespace_of(a)
    pair = xp.asarray(dropped[..., :, None] & ~dropped[..., None, :])  # row j dropped, col i kept
    sq = sig * sig
    one, zero = _const(sig, 1.0), _const(sig, 0.0)
    w = where(pair, _col(sig) / where(pair, _row(sq) - _col(sq), one), zero)
    return u, sig, v, w


def _truncation_jvp(t: Any, parts: Any) -> Any:
    """Ȧᵣ up to its dropped–dropped block (which Golub–Pereyra's formula does not read): Ȧ plus
    U·D·Vᵀ, with Ṗ = Uᵀ·Ȧ·V, D[j, i] = Wⱼᵢ·(σᵢ·Ṗᵢⱼ + σⱼ·Ṗⱼᵢ) and D[i, j] = Wⱼᵢ·(σᵢ·Ṗⱼᵢ + σⱼ·Ṗᵢⱼ)
    (i kept, j dropped): the kept singular vectors turn towards the dropped ones by
    (σᵢ·Ṗⱼᵢ + σⱼ·Ṗᵢⱼ)/(σᵢ² − σⱼ²) (Townsend 2016), times σᵢ, less what Ȧ itself holds there."""
    u, sig, v, w = parts
    dp = _mm(_mT(u), t, v)
    dpt = _mT(dp)
    d = w * (dpt * _row(sig) + dp * _col(sig)) + _mT(w) * (dpt * _col(sig) + dp * _row(sig))
    return t + _mm(u, d, _mT(v))


def _truncation_vjp(g: Any, parts: Any) -> Any:
    """The transpose of :func:`_truncation_jvp`: Ā = Ḡ + U·P̄·Vᵀ, Ḡ_D = Uᵀ·Ḡ·V."""
    u, sig, v, w = parts
    gd = _mm(_mT(u), g, v)
    a1, a2 = w * gd, _mT(w) * gd
    pbar = (_mT(a1 * _row(sig)) + a1 * _col(sig) + _mT(a2 * _col(sig)) + a2 * _row(sig))
    return g + _mm(u, pbar, _mT(v))


def _pinv_jvp(ts: Any, k: int, xs: Any, out: Any, rcond: Any = None, rtol: Any = None,
              hermitian: bool = False) -> Any:
    """Ẋ = −X·Ȧᵣ·X + X·Xᵀ·Ȧᵣᵀ·(I − A·X) + (I − X·A)·Ȧᵣᵀ·Xᵀ·X (Golub & Pereyra on the rank-r
    truncation Aᵣ that pinv inverts; Ȧᵣ = Ȧ where the cutoff drops only zero singular values)."""
    _real_only("pinv", xs[0])
    x = out
    a, left, right = _pinv_parts(xs[0], x, hermitian)
    t = _triangle_symmetric(ts[0], True) if hermitian else ts[0]
    parts = _truncation(a, rcond, rtol)
    if parts is not None:
        t = _truncation_jvp(t, parts)
    return (-_mm(x, t, x) + _mm(x, _mT(x), _mT(t), left) + _mm(right, _mT(t), _mT(x), x))


def _pinv_vjp(ct: Any, xs: Any, out: Any, rcond: Any = None, rtol: Any = None,
              hermitian: bool = False) -> Any:
    """Ā = −Xᵀ·X̄·Xᵀ + (I − A·X)·X̄ᵀ·X·Xᵀ + Xᵀ·X·X̄ᵀ·(I − X·A), then through the truncation."""
    _real_only("pinv", xs[0])

    def g() -> Any:
        x = out
        a, left, right = _pinv_parts(xs[0], x, hermitian)
        ga = (-_mm(_mT(x), ct, _mT(x)) + _mm(left, _mT(ct), x, _mT(x))
              + _mm(_mT(x), x, _mT(ct), right))
        parts = _truncation(a, rcond, rtol)
        if parts is not None:
            ga = _truncation_vjp(ga, parts)
        return _triangle_adjoint(ga, True) if hermitian else ga

    return (g,)


pinv = structural(
    "pinv", _pinv_impl, jvp=_pinv_jvp, vjp=_pinv_vjp, prepare=_prepare_pinv,
    numpy=("linalg.pinv",), sympy=False, latex=r"^{+}",
    holomorphic=False,
    doc="Moore–Penrose pseudo-inverse (NumPy's cutoff rcond/rtol); its derivative is that of the "
        "pseudo-inverse of the rank-r truncation the cutoff keeps (a singular value at the "
        "cutoff is a NonDifferentiableError).")


# ----- lstsq --------------------------------------------------------------------------------------


#: LAPACK's machine epsilon dlamch('E') = 2⁻⁵³ (the unit roundoff of the double precision NumPy
#: computes in): gelsd's cutoff where the rcond given is ≤ 0 or ≥ 1
_LAPACK_EPS = float(np.finfo(np.float64).eps) / 2


def _real_number(fn: str, name: str, v: Any) -> Any:
    """`v`, checked to be a real number (NumPy's TypeError for a str or a complex: an
    InputTypeError)."""
    if np.asarray(v).dtype.kind not in "biuf":
        raise InputTypeError(f"{fn}: {name} must be a real number or None, got {v!r}")
    return v


def _lstsq_cutoff(a: Any, rcond: Any) -> float:
    """NumPy's rcond as LAPACK's gelsd applies it: singular values at most rcond·max(s) count as
    zero; None is eps·max(M, N) (NumPy's default, with the eps of the double precision NumPy
    computes in); an rcond ≤ 0 or ≥ 1 (the legacy -1 too) is LAPACK's machine epsilon 2⁻⁵³."""
    if rcond is None:
        return float(np.finfo(np.float64).eps) * builtins.max(shape_of(a))
    value = _peek(rcond) if isinstance(rcond, Traced) else np.asarray(rcond)
    if value.ndim:
        raise MissingRuleError("lstsq: an array rcond is not supported by diffkit: pass a number")
    _real_number("lstsq", "rcond", value if isinstance(rcond, Traced) else rcond)
    cutoff = float(value)
    if math.isnan(cutoff):
        raise DomainError("lstsq: rcond is nan (LAPACK rejects it): pass a number, or None for "
                          "NumPy's default")
    return cutoff if 0.0 < cutoff < 1.0 else _LAPACK_EPS


def _prepare_lstsq(a: Any, b: Any, rcond: Any = None) -> Any:
    a, b = _as_array(a), _as_array(b)
    sa, sb = shape_of(a), shape_of(b)
    if len(sa) != 2:
        raise ShapeError(f"lstsq: a must be a matrix (M, N), got shape {sa}")
    if len(sb) not in (1, 2) or sb[0] != sa[0]:
        raise ShapeError(f"lstsq: b must have shape (M,) or (M, K) with M = {sa[0]}, a's rows; "
                         f"got {sb}")
    return (a, b), {"rcond": _lstsq_cutoff(a, rcond)}


def _lstsq_jvp(ts: Any, k: int, xs: Any, out: Any, rcond: float) -> Any:
    """ẋ = Ẋ·b + X·ḃ with X = pinv(a) and Ẋ pinv's tangent (the rank kept)."""
    a, b = xs
    _real_only("lstsq", a, b)
    x_pinv = pinv(a, rcond=rcond)
    ta, tb = ts
    dx = None
    if ta is not None:
        dx = matmul(_pinv_jvp([ta], k, [a], x_pinv, rcond=rcond), b)
    if tb is not None:  # tb: k tangents of b stacked first
        term = matmul(tb, _mT(x_pinv)) if len(shape_of(b)) == 1 else matmul(x_pinv, tb)
        dx = term if dx is None else dx + term
    return dx


def _lstsq_vjp(ct: Any, xs: Any, out: Any, rcond: float) -> Any:
    """ā = pinv's cotangent of X̄ = x̄·bᵀ; b̄ = Xᵀ·x̄."""
    a, b = xs
    _real_only("lstsq", a, b)

    def ga() -> Any:
        x_pinv = pinv(a, rcond=rcond)
        one = len(shape_of(b)) == 1
        x_bar = matmul(reshape(ct, (-1, 1)), reshape(b, (1, -1))) if one else matmul(ct, _mT(b))
        return _pinv_vjp(x_bar, [a], x_pinv, rcond=rcond)[0]()

    def gb() -> Any:
        return matmul(_mT(pinv(a, rcond=rcond)), ct)

    return (ga, gb)


lstsq_solution = structural(
    "lstsq_solution", lambda xp, a, b, rcond: _call(
        "lstsq", a, lambda: xp.linalg.lstsq(a, b, rcond=rcond)[0]),
    jvp=_lstsq_jvp, vjp=_lstsq_vjp, prepare=_prepare_lstsq, nargs=2, sympy=False,
    doc="The least-squares solution x of a·x ≈ b of least norm (np.linalg.lstsq(a, b)[0], "
        "LAPACK's values); its derivative is that of pinv(a)·b, exact where the rank stays.")


@composite(numpy=("linalg.lstsq",))
def lstsq(a: Any, b: Any, rcond: Any = None) -> tuple[Any, Any, int, Any]:
    """NumPy's (x, residuals, rank, s) for a·x ≈ b: x the least-squares solution of least norm
    (LAPACK's values), residuals Σ(b − a·x)² per column of b where rank = N < M (else an empty
    array; its values equal NumPy's to rounding), rank (a plain int read from the values: the
    trace holds at this point only, as argmax's) and s = svdvals(a). The derivatives are those
    of pinv(a)·b, exact where the rank stays."""
    a, b = _as_array(a), _as_array(b)
    x = lstsq_solution(a, b, rcond=rcond)
    m, n = shape_of(a)
    s = svdvals(a)
    sv = _peek(s)
    rank = int(np.count_nonzero(sv > _lstsq_cutoff(a, rcond) * sv.max())) if sv.size else 0
    if rank == n and m > n:
        r = b - matmul(a, x)
        residuals = sum(r * r, axis=0)
        if len(shape_of(b)) == 1:
            residuals = reshape(residuals, (1,))
    else:
        residuals = namespace_of(a).zeros((0,), dtype=real_dtype(a))
    return x, residuals, rank, s


# ----- norms --------------------------------------------------------------------------------------


#: the longest Euclidean norm whose symbolic derivative is the direction xᵢ/‖x‖ that
#: differentiates without cancelling (:func:`_norm2_function`)
DIRECTION_MAX = 16


@functools.cache
def _norm2_function() -> Any:
    """A SymPy function sqrt(Σ xᵢ²) whose derivative xᵢ/‖x‖ is taken as 0 at x = 0, diffkit's
    subgradient (plain SymPy would divide 0 by 0)."""
    import sympy as sp

    class Norm2(sp.Function):
        @classmethod
        def eval(cls, *args: Any) -> Any:
            if all(a.is_number for a in args):
                return sp.sqrt(sp.Add(*[sp.Abs(a) ** 2 for a in args]))
            return None

        def fdiff(self, argindex: int = 1) -> Any:
            from ..sympy_program import AtKink

            # 0 at the origin: a convention, with no derivative there. The direction that
            # differentiates without cancelling holds all n elements: n of them cost n², so
            # a long norm keeps the quotient (its Hessian's small diagonal loses digits)
            x = self.args[argindex - 1]
            along = Direction(argindex - 1, *self.args) if len(self.args) <= DIRECTION_MAX \
                else x / self
            return AtKink(sp.Piecewise((0, sp.Eq(self, 0)), (along, True)), self)

        def _eval_evalf(self, prec: int) -> Any:
            return sp.sqrt(sp.Add(*[a ** 2 for a in self.args])).evalf(prec)

        def _numpycode(self, printer: Any) -> str:  # hypot: no x² to underflow or overflow
            code = printer._print(self.args[0])
            for a in self.args[1:]:
                code = f"{printer._module_format('numpy.hypot')}({code}, {printer._print(a)})"
            return code if len(self.args) > 1 else f"abs({code})"

        def _pythoncode(self, printer: Any) -> str:
            return f"math.hypot({', '.join(printer._print(a) for a in self.args)})"

        def _sympystr(self, printer: Any) -> str:  # shown as its value, ‖(x₀, x₁, …)‖₂
            return f"norm(({', '.join(printer._print(a) for a in self.args)}))"

        def _latex(self, printer: Any) -> str:
            return rf"\left\lVert \left({', '.join(printer._print(a) for a in self.args)}\right) \right\rVert_2"

    class Direction(sp.Function):
        """Direction(i, x₀, x₁, …) = xᵢ/‖x‖, whose derivative in xᵢ is ‖x without xᵢ‖²/‖x‖³
        (1/‖x‖ − xᵢ²/‖x‖³, which SymPy's quotient rule gives, cancels to 0 where xᵢ dominates:
        the Hessian of ‖(1, 1e-9)‖ lost its 1e-18) and in xⱼ, −xᵢxⱼ/‖x‖³."""

        @classmethod
        def eval(cls, i: Any, *args: Any) -> Any:
            if all(a.is_number for a in args):
                size = Norm2(*args)
                return sp.S.Zero if size == 0 else args[int(i)] / size
            return None

        def fdiff(self, argindex: int = 1) -> Any:
            i, xs = int(self.args[0]), self.args[1:]
            if argindex == 1:  # the index: a constant
                return sp.S.Zero
            j, size = argindex - 2, Norm2(*xs)
            if j != i:
                return -xs[i] * xs[j] / size ** 3
            others = [a for k, a in enumerate(xs) if k != i]
            return (Norm2(*others) ** 2 if others else sp.S.Zero) / size ** 3

        def _value(self) -> Any:
            i, xs = int(self.args[0]), self.args[1:]
            return xs[i] / Norm2(*xs)

        def _eval_evalf(self, prec: int) -> Any:
            return self._value().evalf(prec)

        def _numpycode(self, printer: Any) -> str:
            return f"({printer._print(self._value())})"

        def _pythoncode(self, printer: Any) -> str:
            return f"({printer._print(self._value())})"

        def _sympystr(self, printer: Any) -> str:
            return printer._print(self._value())

        def _latex(self, printer: Any) -> str:
            return printer._print(self._value())

    return Norm2


def _euclidean_impl(xp: Any, x: Any, axis: tuple[int, ...] | None = None,
                    keepdims: bool = False) -> Any:
    ax = axis if axis is None or len(axis) > 1 else axis[0]
    return xp.linalg.norm(x, None, ax, keepdims)


def _euclidean_direction(x: Any, out: Any, axis: Any, keepdims: bool) -> Any:
    """∂‖x‖/∂x = conj(x)/‖x‖, with the subgradient 0 where x = 0 (there its derivative is 0 too).

    Computed from u = x/m, m = max|x| over the norm's axes, a constant to the derivative (the
    quotient does not depend on it): ‖x‖ itself underflows for |x| < 1e-154 and would make x look
    like the origin. For real x the dominant element (uᵢ² > ½‖u‖², at most one) is written as
    sign(uᵢ)/√(1 + ρ/uᵢ²), ρ the sum of the other squares, as hypot's partial is: the Hessian's
    ρ/‖x‖³ then is not the difference 1/‖x‖ − xᵢ²/‖x‖³ (all digits lost for ρ < 1e-16·xᵢ²)."""
    if builtins.any(n == 0 for n in shape_of(x)):  # no elements: the empty direction (amax
        return x * 0.0  # over an empty axis has no identity)
    m = stop_gradient(amax(abs(x), axis=axis, keepdims=True))
    origin = equal(m, 0.0)
    u = x / where(origin, 1.0, m)
    if is_complex(x):
        g = conj(u) / where(origin, 1.0, sqrt(sum(real(u * conj(u)), axis=axis, keepdims=True)))
    else:
        w = u * u
        total = sum(w, axis=axis, keepdims=True)
        dominant = greater(w, 0.5 * total)
        rest = sum(where(dominant, 0.0, w), axis=axis, keepdims=True)
        g = where(dominant, signum(u) / sqrt(1.0 + rest / where(dominant, w, 1.0)),
                  u / where(origin, 1.0, sqrt(total)))
    # 0 at the origin: a convention, with no derivative there (see at_kink)
    return at_kink(where(origin, 0.0, g), lambda: not_equal(m, 0.0), "the 2-norm at 0", x)


def _euclidean_jvp(ts: Any, k: int, xs: Any, out: Any, axis: Any = None,
                   keepdims: bool = False) -> Any:
    g = _euclidean_direction(xs[0], out, axis, keepdims)
    nd = len(shape_of(xs[0]))
    axes = tuple(range(1, nd + 1)) if axis is None else tuple(a + 1 for a in axis)
    y = sum(g * ts[0], axis=axes, keepdims=keepdims)
    return real(y) if is_complex(y) else y


def _euclidean_vjp(ct: Any, xs: Any, out: Any, axis: Any = None, keepdims: bool = False
                   ) -> Any:
    def g() -> Any:
        c = ct if keepdims else reshape(ct, _kept_shape(shape_of(xs[0]), axis))
        # the output is real: only Re ȳ acts (ȳ·∂f + conj(ȳ·∂̄f) = Re ȳ · conj(x)/‖x‖)
        return (real(c) if is_complex(c) else c) * _euclidean_direction(xs[0], out, axis, keepdims)

    return (g,)


def _euclidean_sympy(sp: Any, x: Any, axis: Any = None, keepdims: bool = False) -> Any:
    norm2 = _norm2_function()
    return _reduce_groups(x, axis, keepdims, lambda group: norm2(*group))


def _prepare_euclidean(x: Any, axis: Any = None, keepdims: bool = False) -> Any:
    x = _as_array(x)
    nd = len(shape_of(x))
    axes = None if axis is None else _norm_axes(axis, nd)
    if axes is not None and len(axes) > 2:
        raise ShapeError(f"euclidean_norm: at most 2 axes, got {axis!r}")
    return (x,), {"axis": axes, "keepdims": bool(keepdims)}


euclidean_norm = structural(
    "euclidean_norm", _euclidean_impl, jvp=_euclidean_jvp, vjp=_euclidean_vjp,
    prepare=_prepare_euclidean, sympy=_euclidean_sympy, latex=r"\|\cdot\|_2",
    holomorphic=False,
    doc="The 2-norm of vectors or the Frobenius norm of matrices, computed as np.linalg.norm "
        "does (over all axes, one or two); at 0 its subgradient is 0, not NaN.")


def _norm_axes(axis: Any, nd: int) -> tuple[int, ...]:
    """Axes as non-negative ints in the order given (the order matters for matrix norms)."""
    items = (axis,) if isinstance(axis, int | np.integer) else tuple(axis)
    out = []
    for a in items:
        try:
            a = operator.index(a)
        except TypeError:
            raise ShapeError(f"norm: axis must be an int or a tuple of ints, got {axis!r}"
                             ) from None
        if not -nd <= a < builtins.max(nd, 1):
            raise ShapeError(f"axis {a} is out of bounds for an array with {nd} dimension(s)")
        out.append(a % builtins.max(nd, 1))
    if len(set(out)) != len(out):
        raise ShapeError(f"norm: duplicate axes in {axis!r}")
    return tuple(out)


def _numpy_power(x: Any, e: Any) -> Any:
    """x ** e as NumPy's ``**`` computes it (exact shortcuts for 1, −1, 0.5 and 2)."""
    if e == 1:
        return x
    if e == -1:
        return 1.0 / x
    if e == 0.5:
        return sqrt(x)
    if e == 2:
        return x * x
    return x ** e


def _min(x: Any, axis: Any, keepdims: bool = False) -> Any:
    return -amax(-x, axis=axis, keepdims=keepdims)


def _vector_norm(x: Any, ord: Any, axis: tuple[int, ...], keepdims: bool) -> Any:
    if ord == np.inf:
        if any(shape_of(x)[a] == 0 for a in axis):  # NumPy: the max of no |xᵢ| is 0 here
            return sum(abs(x), axis=axis, keepdims=keepdims)
        return amax(abs(x), axis=axis, keepdims=keepdims)
    if ord == -np.inf:
        return _min(abs(x), axis, keepdims)
    if ord is None or ord == 2:
        return euclidean_norm(x, axis, keepdims)
    if isinstance(ord, str):
        raise ShapeError(f"norm: invalid norm order {ord!r} for vectors")
    if ord == 0:
        one, zero = _const(x, 1.0), _const(x, 0.0)
        return sum(where(not_equal(x, zero), one, zero), axis=axis, keepdims=keepdims)
    if ord == 1:
        return sum(abs(x), axis=axis, keepdims=keepdims)
    total = sum(_numpy_power(abs(x), ord), axis=axis, keepdims=keepdims)
    root = np.reciprocal(np.asarray(ord, dtype=real_dtype(x)))[()]
    if ord < 0:
        return _numpy_power(total, root)
    # at a zero vector: the value 0 with the subgradient 0 (total**root has an infinite slope)
    zero, one = _const(total, 0.0), _const(total, 1.0)
    nonzero = not_equal(total, zero)
    return where(nonzero, _numpy_power(where(nonzero, total, one), root), zero)


def _max_or_zero(v: Any, axis: int) -> Any:
    """NumPy's max(axis, initial=0) of values v ≥ 0: amax, or (over an empty axis, where amax
    has no identity) the empty sum, the same 0 with the empty derivative."""
    return sum(v, axis=axis) if shape_of(v)[axis] == 0 else amax(v, axis=axis)


def _matrix_norm(x: Any, ord: Any, axes: tuple[int, ...], keepdims: bool) -> Any:
    row, col = axes
    nd = len(shape_of(x))
    if ord in (2, -2, "nuc"):
        rest = [i for i in range(nd) if i not in axes]
        s = svdvals(transpose(x, (*rest, row, col)))
        ret = (_max_or_zero(s, -1) if ord == 2 else _min(s, -1) if ord == -2
               else sum(s, axis=-1))
    elif ord in (1, -1):
        c = col - 1 if col > row else col
        sums = sum(abs(x), axis=row)
        ret = _max_or_zero(sums, c) if ord == 1 else _min(sums, c)
    elif ord in (np.inf, -np.inf):
        r = row - 1 if row > col else row
        sums = sum(abs(x), axis=col)
        ret = _max_or_zero(sums, r) if ord == np.inf else _min(sums, r)
    elif ord in (None, "fro", "f"):
        return euclidean_norm(x, axes, keepdims)
    else:
        raise ShapeError(f"norm: invalid norm order {ord!r} for matrices")
    if keepdims:
        ret = reshape(ret, _kept_shape(shape_of(x), axes))
    return ret


def _plain_order(ord: Any) -> Any:
    """A norm's order as a plain number: a traced one being differentiated is a TracingError
    naming the line (the order picks the formula; it has no derivative), a traced constant a
    branch (the trace holds at this order only)."""
    if isinstance(ord, Traced):
        ord = np.asarray(ord.concrete("using it as the norm's order (ord=)"))  # type: ignore[attr-defined]
    if isinstance(ord, np.ndarray) and ord.ndim == 0:
        ord = ord.item()
    return ord


@composite(numpy=("linalg.norm",))
def norm(x: Any, ord: Any = None, axis: Any = None, keepdims: bool = False) -> Any:
    """Vector and matrix norms, as NumPy's norm (every ord, axis and keepdims).

    Vector norms (ord None/2, 1, inf, -inf, 0, any p) over one axis, matrix norms (None/'fro',
    'nuc', 1, -1, 2, -2, inf, -inf) over two, computed as NumPy does (same values). At a zero
    vector (matrix) the 2-norm's derivative is the subgradient 0 — not NaN, as sqrt(sum(x**2))
    gives in PyTorch and JAX — and so are the other norms' (|x|′ = 0 at 0); ties of a max/min
    share the derivative equally; a matrix 2-norm or nuclear norm differentiates through the
    singular values.

    Example:
        >>> import diffkit as dk, numpy as np
        >>> float(dk.norm(np.array([3.0, 4.0])))
        5.0
    """
    x = _as_array(x)
    ord = _plain_order(ord)
    if not isinstance(x, Traced) and getattr(x, "dtype", np.dtype(float)).kind not in "fc":
        x = x.astype(float)  # as NumPy's norm does
    nd = len(shape_of(x))
    if axis is None and (ord is None or (ord in ("f", "fro") and nd == 2)
                         or (ord == 2 and nd == 1)):
        return euclidean_norm(x, None, keepdims)
    axes = tuple(range(nd)) if axis is None else _norm_axes(axis, nd)
    if len(axes) == 1:
        return _vector_norm(x, ord, axes, keepdims)
    if len(axes) == 2:
        return _matrix_norm(x, ord, axes, keepdims)
    raise ShapeError(f"norm: improper number of dimensions to norm ({len(axes)} axes)")


@composite(numpy=("linalg.vector_norm",))
def vector_norm(x: Any, axis: Any = None, keepdims: bool = False, ord: Any = 2) -> Any:
    """NumPy's vector_norm: a vector norm over any axes (all of them when None, flattened)."""
    x = _as_array(x)
    shape = shape_of(x)
    if axis is None:
        y, inner_axis = reshape(x, (-1,)), 0
    elif isinstance(axis, tuple):
        axes = _norm_axes(axis, len(shape))
        rest = tuple(i for i in range(len(shape)) if i not in axes)
        y = reshape(transpose(x, axes + rest),
                    (math.prod(shape[i] for i in axes), *(shape[i] for i in rest)))
        inner_axis = 0
    else:
        y, inner_axis = x, axis
    res = norm(y, ord, inner_axis)
    if keepdims:
        res = reshape(res, _kept_shape(shape, None if axis is None else _norm_axes(axis, len(shape))))
    return res


@composite(numpy=("linalg.matrix_norm",))
def matrix_norm(x: Any, keepdims: bool = False, ord: Any = "fro") -> Any:
    """NumPy's matrix_norm: a matrix norm of the last two axes (of each matrix of a stack)."""
    return norm(x, ord, (-2, -1), keepdims)


# ----- matrix_power, multi_dot --------------------------------------------------------------------


@composite(numpy=("linalg.matrix_power",))
def matrix_power(a: Any, n: int) -> Any:
    """a raised to the integer power n (of each matrix of a stack), as NumPy's matrix_power.

    By repeated squaring as NumPy does (same products, same values); n < 0 inverts first, n = 0
    gives the identity.

    Example:
        >>> import diffkit as dk, numpy as np
        >>> dk.matrix_power(np.array([[1.0, 1.0], [0.0, 1.0]]), 3).tolist()
        [[1.0, 3.0], [0.0, 1.0]]
    """
    a = _as_array(a)
    _square("matrix_power", a)
    try:
        n = operator.index(n)
    except TypeError:
        raise ShapeError(f"matrix_power: the exponent must be an integer, got {n!r}") from None
    if n == 0:  # the identity, in a's dtype (a constant: derivative 0)
        dt = getattr(plain(a), "dtype", np.dtype(float))
        return a * namespace_of(a).zeros((), dtype=dt) + namespace_of(a).eye(shape_of(a)[-1],
                                                                             dtype=dt)
    if n < 0:
        a, n = inv(a), -n
    if n == 1:
        return a
    if n == 2:
        return matmul(a, a)
    if n == 3:
        return matmul(matmul(a, a), a)
    z = result = None
    while n > 0:
        z = a if z is None else matmul(z, z)
        n, bit = divmod(n, 2)
        if bit:
            result = z if result is None else matmul(result, z)
    return result


def _chain_order(dims: list[int]) -> list[list[int]]:
    """The split points of the cheapest parenthesization of a matrix chain (dynamic
    programming over the chain's dimensions; the first cheapest split wins, as in NumPy)."""
    n = len(dims) - 1
    cost = [[0.0] * n for _ in range(n)]
    split = [[0] * n for _ in range(n)]
    for length in range(1, n):
        for i in range(n - length):
            j = i + length
            cost[i][j] = math.inf
            for s in range(i, j):
                c = cost[i][s] + cost[s + 1][j] + dims[i] * dims[s + 1] * dims[j + 1]
                if c < cost[i][j]:
                    cost[i][j], split[i][j] = c, s
    return split


def _chain(arrays: list[Any], split: list[list[int]], i: int, j: int) -> Any:
    if i == j:
        return arrays[i]
    s = split[i][j]
    return dot(_chain(arrays, split, i, s), _chain(arrays, split, s + 1, j))


@composite(numpy=("linalg.multi_dot",))
def multi_dot(arrays: Sequence[Any]) -> Any:
    """The product of a chain of matrices in the cheapest order, as NumPy's multi_dot.

    The first may be a 1-D row vector, the last a 1-D column vector.

    Example:
        >>> import diffkit as dk, numpy as np
        >>> dk.multi_dot([np.ones(2), np.ones((2, 3)), np.ones(3)]).item()
        6.0
    """
    arrays = [_as_array(a) for a in arrays]
    if len(arrays) < 2:
        raise ShapeError("multi_dot: expecting at least two arrays")
    if len(arrays) == 2:
        return dot(arrays[0], arrays[1])
    first, last = len(shape_of(arrays[0])), len(shape_of(arrays[-1]))
    if first == 1:
        arrays[0] = reshape(arrays[0], (1, -1))
    if last == 1:
        arrays[-1] = reshape(arrays[-1], (-1, 1))
    for a in arrays:
        if len(shape_of(a)) != 2:
            raise ShapeError(f"multi_dot: {len(shape_of(a))}-dimensional array given; the "
                             "arrays must be two-dimensional (the first and last may be 1-D)")
    if len(arrays) == 3:
        (a0, a1), (c0, c1) = shape_of(arrays[0]), shape_of(arrays[2])
        if a0 * c0 * (a1 + c1) < a1 * c1 * (a0 + c0):
            result = dot(dot(arrays[0], arrays[1]), arrays[2])
        else:
            result = dot(arrays[0], dot(arrays[1], arrays[2]))
    else:
        dims = [shape_of(a)[0] for a in arrays] + [shape_of(arrays[-1])[1]]
        result = _chain(arrays, _chain_order(dims), 0, len(arrays) - 1)
    if first == 1 and last == 1:
        return result[0, 0]
    if first == 1 or last == 1:
        return reshape(result, (-1,))
    return result


__all__ = declared_in(__name__)
