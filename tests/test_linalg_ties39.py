"""Eigenvalues and singular values that are distinct but within rounding of each other (or of
zero): two levels per matrix, r = n·ε·max|v| (ties, zero) and u = 64·r (near). Near values get
their separate derivatives, or a NonDifferentiableError where the answer would tell them apart.
References are exact: e_i·e_iᵀ for diagonal matrices, u_i·v_iᵀ for a matrix built from its SVD.
"""

from __future__ import annotations

import numpy as np
import pytest

import diffkit as dk
from diffkit.errors import NonDifferentiableError, TracingError

F32_NEAR_ZERO = np.diag([1.0, 1e-5]).astype(np.float32)  # u = 64·2·ε₃₂ = 1.5e-5 > 1e-5
F32_NEAR_PAIR = np.diag([1.0, 1.00001]).astype(np.float32)  # gap 1e-5 < u = 1.5e-5
F64_NEAR_PAIR = np.diag([1.0, 1.0 + 2e-8, 1e6])  # gap 2e-8 < u = 4.3e-8, > r = 6.7e-10


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
def test_near_zero_singular_value_float32_is_named(method):
    """diffkit answered [0, 0, 0, 0] for ∂σ₂/∂A at diag(1, 1e-5) (correct [0, 0, 0, 1])."""
    with pytest.raises(NonDifferentiableError, match=r"svdvals: the singular value 1e-05 .*"
                       r"of zero: rounding in float32.*float64"):
        dk.jacobian(dk.function(_svdvals), method=method)(F32_NEAR_ZERO)


@pytest.mark.parametrize("f", [lambda a: np.linalg.norm(a, "nuc"),
                               lambda a: np.linalg.norm(a, -2)])
def test_norms_through_near_zero_singular_value_are_named(f):
    """The nuclear norm's gradient was [[1, 0], [0, 0]] (correct I), norm(a, -2)'s 0."""
    with pytest.raises(NonDifferentiableError, match="singular value 1e-05"):
        dk.grad(f)(F32_NEAR_ZERO)


def test_near_zero_singular_value_float64_is_named():
    """float64 diag(1, 1e-14): 1e-14 < u = 2.8e-14 (was a silent 0)."""
    with pytest.raises(NonDifferentiableError, match="singular value 1e-14.*float64"):
        dk.jacobian(dk.function(_svdvals))(np.diag([1.0, 1e-14]))


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


def test_random_float32_near_zero_named_float64_exact():
    """σ = (1, .5, .2, 2e-5): float32 gave an all-zero gradient for σ₄ (error 0.48); float64
    is exact: ∂σ₄/∂A = u₄·v₄ᵀ."""
    a32, _, _ = _built(np.float32, 2e-5)
    with pytest.raises(NonDifferentiableError, match="within 64·n·ε·max|σ|"):
        dk.grad(lambda a: _svdvals(a)[3])(a32)
    a64, q1, q2 = _built(np.float64, 2e-5)
    got = _grad(lambda a: _svdvals(a)[3], a64)
    np.testing.assert_allclose(got, np.outer(q1[:, 3], q2[:, 3]), atol=1e-9)


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
                       r"differ by 1e-05, within 64·n·ε·max\|λ\| = 1.53e-05: rounding in float32"):
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
