"""Eigenvalues and singular values that are distinct but close to each other (or to zero):
values within r = 2·ε·max|v| are ties (a zero singular value), beyond it they get their separate
derivatives, and where rounding turns their vectors (by ~4·ε·max|v|/gap) enough to move the
answer beyond 1e-3 (float64) or 1e-2 (float32) of its size, a NonDifferentiableError. References
are exact: e_i·e_iᵀ for diagonal matrices, u_i·v_iᵀ for a matrix built from its SVD.
"""

from __future__ import annotations

import numpy as np
import pytest

import diffkit as dk
from diffkit.errors import NonDifferentiableError, TracingError

F32_NEAR_ZERO = np.diag([1.0, 1e-5]).astype(np.float32)  # 1e-5 > r = 2.4e-7: not zero
F32_NEAR_PAIR = np.diag([1.0, 1.00001]).astype(np.float32)  # a turn of 4.8e-2: too uncertain
F64_NEAR_PAIR = np.diag([1.0, 1.0 + 2e-8, 1e6])  # a turn of 4.4e-2 (ε·1e6/2e-8)


def _svdvals(a):
    return np.linalg.svd(a, compute_uv=False)


def _eigvalsh(a):
    return np.linalg.eigvalsh(a)


def _grad(f, x):
    """The gradient of a function of one matrix (dk.grad answers a tuple, one per input)."""
    (g,) = dk.grad(f)(x)
    return np.asarray(g)


def _built(dtype, s4):
    """A 4×4 matrix Q₁·diag(1, .5, .2, s4)·Q₂ᵀ and its exact singular vectors."""
    rng = np.random.default_rng(39)
    q1, _ = np.linalg.qr(rng.standard_normal((4, 4)))
    q2, _ = np.linalg.qr(rng.standard_normal((4, 4)))
    a = (q1 @ np.diag([1.0, 0.5, 0.2, s4]) @ q2.T).astype(dtype)
    return a, q1, q2


# --- 1. a small but nonzero singular value -------------------------------------------------------

@pytest.mark.parametrize("method", ["reverse", "forward"])
def test_small_singular_value_of_a_square_float32_matrix_is_exact(method):
    """diffkit answered [0, 0, 0, 0] for ∂σ₂/∂A at diag(1, 1e-5) (correct [0, 0, 0, 1]): a
    square matrix's uᵢvᵢᵀ stays determined as σᵢ → 0."""
    got = dk.jacobian(dk.function(_svdvals), method=method)(F32_NEAR_ZERO)
    np.testing.assert_allclose(np.reshape(got, (2, 4)), [[1, 0, 0, 0], [0, 0, 0, 1]], atol=1e-6)


@pytest.mark.parametrize("f, want", [(lambda a: np.linalg.norm(a, "nuc"), np.eye(2)),
                                     (lambda a: np.linalg.norm(a, -2), np.diag([0.0, 1.0]))])
def test_norms_through_a_small_singular_value(f, want):
    """The nuclear norm's gradient was [[1, 0], [0, 0]] (correct I), norm(a, -2)'s 0."""
    np.testing.assert_allclose(dk.grad(f)(F32_NEAR_ZERO)[0], want, atol=1e-6)


def test_near_zero_singular_value_of_a_tall_matrix_is_named():
    """A tall matrix's vector of a singular value near 0 is uncertain (its left vector leaves
    the range): σ₃ = 1e-14 of a 5×3 matrix."""
    a = np.vstack([np.diag([1.0, 0.5, 1e-14]), np.zeros((2, 3))])
    with pytest.raises(NonDifferentiableError, match="singular value 1e-14 of a matrix that is "
                       "not square"):
        dk.grad(lambda a: _svdvals(a)[-1])(a)


@pytest.mark.parametrize("method", ["reverse", "forward"])
def test_small_singular_value_float64_exact(method):
    expected = np.array([[1.0, 0, 0, 0], [0, 0, 0, 1.0]])
    got = dk.jacobian(dk.function(_svdvals), method=method)(np.diag([1.0, 1e-10]))
    np.testing.assert_allclose(np.reshape(got, (2, 4)), expected, atol=1e-12)


def test_sum_of_squares_through_near_zero_singular_value():
    """Σσ² = ‖A‖²_F: gradient 2A. The near-zero σ₂'s cotangent 2σ₂ is ~0, so no error; diffkit
    answered [[2, 0], [0, 0]] (σ₂'s derivative zeroed)."""
    got = _grad(lambda a: np.sum(_svdvals(a) ** 2), F32_NEAR_ZERO)
    np.testing.assert_allclose(np.asarray(got, float), 2 * F32_NEAR_ZERO, rtol=1e-5, atol=1e-9)


def test_first_singular_value_unaffected_by_near_zero_one():
    got = _grad(lambda a: _svdvals(a)[0], F32_NEAR_ZERO)
    np.testing.assert_allclose(got, [[1.0, 0.0], [0.0, 0.0]], atol=1e-6)


def test_random_float32_near_zero_float64_exact():
    """σ = (1, .5, .2, 2e-5): float32 gave an all-zero gradient for σ₄ (error 0.48); float64 is
    exact, ∂σ₄/∂A = u₄·v₄ᵀ, and float32 near it."""
    a64, q1, q2 = _built(np.float64, 2e-5)
    got = _grad(lambda a: _svdvals(a)[3], a64)
    np.testing.assert_allclose(got, np.outer(q1[:, 3], q2[:, 3]), atol=1e-9)
    a32, _, _ = _built(np.float32, 2e-5)
    np.testing.assert_allclose(_grad(lambda a: _svdvals(a)[3], a32),
                               np.outer(q1[:, 3], q2[:, 3]), atol=1e-3)


def test_singular_vectors_say_nearly_zero():
    """svd(A, full_matrices=False)[0] said "a singular value is zero (rank-deficient)"."""
    with pytest.raises(NonDifferentiableError, match="nearly zero"):
        dk.jacobian(lambda a: np.linalg.svd(a, full_matrices=False)[0])(F32_NEAR_ZERO)
    with pytest.raises(NonDifferentiableError, match="is zero"):
        dk.jacobian(lambda a: np.linalg.svd(a, full_matrices=False)[2])(np.diag([1.0, 0.0]))


# --- 2. distinct values within rounding of each other --------------------------------------------

@pytest.mark.parametrize("method", ["reverse", "forward"])
def test_eigvalsh_near_pair_float32_is_named(method):
    """Was [[.5, 0, 0, .5], [.5, 0, 0, .5]] (correct [[1, 0, 0, 0], [0, 0, 0, 1]])."""
    with pytest.raises(NonDifferentiableError, match=r"eigvalsh: the eigenvalues 1 and 1.00001 "
                       r"differ by 1e-05: rounding in float32 leaves their vectors uncertain"):
        dk.jacobian(_eigvalsh, method=method)(F32_NEAR_PAIR)


@pytest.mark.parametrize("method", ["reverse", "forward"])
def test_eigvalsh_near_pair_float64_is_named(method):
    """Was diag(.5, .5) for both of the first two rows (correct e_i·e_iᵀ)."""
    with pytest.raises(NonDifferentiableError, match="1 and 1.00000002 differ by 2e-08"):
        dk.jacobian(_eigvalsh, method=method)(F64_NEAR_PAIR)


@pytest.mark.parametrize("f", [lambda a: _svdvals(a)[0], lambda a: np.linalg.norm(a, 2),
                               lambda a: np.linalg.svdvals(a)[1]])
def test_singular_value_near_pair_is_named(f):
    with pytest.raises(NonDifferentiableError, match="singular values 1 and 1.00001"):
        dk.grad(f)(F32_NEAR_PAIR)


def test_separated_pair_float64_exact():
    got = dk.jacobian(_eigvalsh)(np.diag([1.0, 1.00001]))
    np.testing.assert_allclose(np.reshape(got, (2, 4)), [[1, 0, 0, 0], [0, 0, 0, 1]], atol=1e-12)


def test_symmetric_functions_at_near_pairs():
    """The sum of a near pair does not tell them apart: its gradient is exact."""
    got = _grad(lambda a: np.sum(np.linalg.eigvalsh(a)), F32_NEAR_PAIR)
    np.testing.assert_allclose(got, np.eye(2), atol=1e-6)
    got = _grad(lambda a: np.sum(np.linalg.eigvalsh(a)[:2]), F64_NEAR_PAIR)
    np.testing.assert_allclose(got, np.diag([1.0, 1.0, 0.0]), atol=1e-12)
    got = _grad(lambda a: np.linalg.norm(a, "nuc"), F32_NEAR_PAIR)
    np.testing.assert_allclose(got, np.eye(2), atol=1e-6)
    a, q1, q2 = _built(np.float32, 0.1)  # well separated: the nuclear norm's gradient U·Vᵀ
    got = _grad(lambda x: np.linalg.norm(x, "nuc"), a)
    np.testing.assert_allclose(got, q1 @ q2.T, atol=2e-5)


def test_tangent_that_does_not_split_a_near_pair():
    """A tangent whose projection on the pair is a multiple of I: λ̇ is exact (here 1, 1, 1)."""
    _, t = dk.jvp(_eigvalsh, (F64_NEAR_PAIR,), (np.eye(3),), method="forward")
    np.testing.assert_allclose(t, [1.0, 1.0, 1.0], atol=1e-12)
    with pytest.raises(NonDifferentiableError, match="in this direction"):
        dk.jvp(_eigvalsh, (F64_NEAR_PAIR,), (np.diag([1.0, 0.0, 0.0]),), method="forward")


def test_exact_ties_still_share():
    for dtype in (np.float32, np.float64):
        got = dk.jacobian(_eigvalsh)(np.eye(2, dtype=dtype))
        np.testing.assert_allclose(np.reshape(got, (2, 4)), [[.5, 0, 0, .5]] * 2, atol=1e-6)
        got = dk.jacobian(dk.function(_svdvals))(np.eye(2, dtype=dtype))
        np.testing.assert_allclose(np.reshape(got, (2, 4)), [[.5, 0, 0, .5]] * 2, atol=1e-6)


def test_eigenvectors_say_nearly_repeated():
    """eigh(A)[1] at float32 diag(1, 1.00001) said "the eigenvalue 1 is repeated"."""
    with pytest.raises(NonDifferentiableError, match=r"nearly repeated \(within rounding: gap"):
        dk.jacobian(lambda a: np.linalg.eigh(a)[1])(F32_NEAR_PAIR)
    with pytest.raises(NonDifferentiableError, match="1 is repeated"):
        dk.jacobian(lambda a: np.linalg.eigh(a)[1])(np.eye(2))


def test_stack_names_the_matrix():
    a = np.stack([np.diag([1.0, 2.0]), np.diag([1.0, 1.00001])]).astype(np.float32)
    with pytest.raises(NonDifferentiableError, match=r"matrix \(1,\) of the stack"):
        dk.jacobian(_eigvalsh)(a)


@pytest.mark.parametrize("method", ["reverse", "compiled"])
def test_jit_does_not_keep_one_points_decision(method):
    """A jit function's gradient at a separated pair, then at a near pair, then again."""
    f = dk.jit(lambda a: np.linalg.eigvalsh(a)[0])
    far = np.diag([1.0, 2.0]).astype(np.float32)
    g = dk.grad(f, method=method)
    np.testing.assert_allclose(g(far)[0], [[1.0, 0.0], [0.0, 0.0]], atol=1e-6)
    with pytest.raises(NonDifferentiableError, match="eigenvalues 1 and 1.00001"):
        g(F32_NEAR_PAIR)
    np.testing.assert_allclose(g(far)[0], [[1.0, 0.0], [0.0, 0.0]], atol=1e-6)
    with pytest.raises(NonDifferentiableError, match="eigenvalues 1 and 1.00001"):
        g(F32_NEAR_PAIR)


# --- 3. a traced ord -------------------------------------------------------------------------------

def test_traced_ord_is_a_tracing_error():
    r = np.array([[2.0, 1.0], [0.5, 3.0]])
    with pytest.raises(TracingError, match=r"norm's order \(ord=\)"):
        dk.grad(lambda a, o: np.linalg.norm(a, ord=o))(r, 2.0)
    (got,) = dk.grad(lambda a, o: np.linalg.norm(a, ord=o), argnums=(0,))(r, 2.0)
    u, _, vh = np.linalg.svd(r)
    np.testing.assert_allclose(got, np.outer(u[:, 0], vh[0]), atol=1e-12)


# --- 3. the error is judged by what the turn does to the answer (a hunt of the first design) ---

def test_a_smooth_function_of_close_eigenvalues_is_answered():
    """Σ log λ = log det A at eigenvalues 1e-3 and 1e-3 + 1e-14 was refused (its cotangents
    1/λ differ across the pair by 1e-11 of their size); reference: slogdet's gradient, inv(A)."""
    q, _ = np.linalg.qr(np.random.default_rng(0).standard_normal((3, 3)))
    a = q @ np.diag([1e-3, 1e-3 + 1e-14, 1.0]) @ q.T
    a = (a + a.T) / 2
    got = _grad(lambda m: np.sum(np.log(np.linalg.eigvalsh(m))), a)
    inv = np.linalg.inv(a)
    np.testing.assert_allclose(got, np.tril(2 * inv - np.diag(np.diag(inv))), rtol=1e-10)


def test_the_nuclear_norm_of_a_square_float32_matrix_with_a_small_singular_value():
    """A 128×128 float32 matrix with σmin/σmax = 6.8e-4 was refused; U·Vᵀ in float64 is the
    reference (PyTorch's float32 is within 5e-7 of it)."""
    w = np.random.default_rng(1).standard_normal((128, 128)).astype(np.float32)
    u, _, vt = np.linalg.svd(w.astype(np.float64))
    got = _grad(lambda m: np.linalg.norm(m, "nuc"), w)
    np.testing.assert_allclose(got, u @ vt, atol=1e-5)


def test_close_float32_values_of_a_large_matrix_are_not_averaged():
    """At n = 100 the first design's tie level n·ε·max|v| = 1.2e-5 took 1 and 1.00001 for a tie
    (½ ½ for 0 1) and a singular value of 1e-5 for zero (0 for 1), silently."""
    d = np.linspace(0.1, 0.9, 100)
    d[0], d[1] = 1.0, 1.00001
    with pytest.raises(NonDifferentiableError, match="1 and 1.00001"):
        dk.grad(lambda m: np.max(np.linalg.eigvalsh(m)))(np.diag(d).astype(np.float32))
    e = np.linspace(0.5, 1.0, 100)
    e[-1] = 1e-5
    got = _grad(lambda m: np.linalg.norm(m, "nuc"), np.diag(e).astype(np.float32))
    assert got[-1, -1] == pytest.approx(1.0, abs=1e-6)
