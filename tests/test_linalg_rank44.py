"""Linear algebra at rank deficiency and at the cutoff (hunt 44, linalg F1–F3, F5).

References: central differences of NumPy's own pinv/lstsq, hand formulas, and JAX x64 where it
is installed (importorskip inside the test)."""

import numpy as np
import pytest

import diffkit as dk

RANK1 = np.array([[1.0, 2.0], [2.0, 4.0]])  # singular values 5, 0
E11 = np.array([[1.0, 0.0], [0.0, 0.0]])
A3 = np.array([[3.0, 1.0, 0.0], [1.0, 2.0, 0.5], [0.0, 0.5, 0.1]])  # σ 3.64, 1.51, 0.046
A43 = np.array([[3.0, 1.0, 0.0], [1.0, 2.0, 0.5], [0.0, 0.5, 0.1], [1.0, 0.0, 0.0]])
B4 = np.array([1.0, 2.0, 3.0, 4.0])
W33 = np.arange(9.0).reshape(3, 3)


def _central(f, x, h=1e-6):
    g = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        e = np.zeros_like(x)
        e[i] = h
        g[i] = (f(x + e) - f(x - e)) / (2 * h)
    return g


def _reconstruction(c, full=True):
    def f(a):
        u, s, vh = np.linalg.svd(a, full_matrices=full)
        return np.sum(((u * s) @ vh) * c)
    return f


# --- F1: U·S·Vh at a rank-deficient matrix ---------------------------------------------------


@pytest.mark.parametrize("method", ["reverse", "compiled", "forward"])
def test_svd_reconstruction_at_rank_deficiency_is_refused_not_wrong(method):
    """Σ(U·S·Vh ∘ C) is a[0, 0] identically (gradient C); reverse gave C − u₂u₂ᵀ·C·v₂v₂ᵀ =
    [[0.36, 0.32], [0.32, -0.16]]. The cotangents cannot tell it from a kink: a named error."""
    with pytest.raises(dk.NonDifferentiableError, match="is zero"):  # forward refused before
        dk.grad(_reconstruction(E11), method=method)(RANK1)


def test_svd_reconstruction_at_rank_deficiency_jit_and_rectangular():
    with pytest.raises(dk.NonDifferentiableError, match="is zero"):
        dk.grad(dk.jit(_reconstruction(E11)))(RANK1)
    rng = np.random.default_rng(3)
    for m, n, r in [(5, 3, 2), (3, 5, 2), (4, 4, 3)]:
        a = rng.normal(size=(m, r)) @ rng.normal(size=(r, n))
        c = rng.normal(size=(m, n))
        with pytest.raises(dk.NonDifferentiableError, match="is zero"):
            dk.grad(_reconstruction(c, full=False))(a)


def test_svd_reconstruction_right_where_answered():
    """Full rank: the gradient is C; a truncation to the nonzero singular values at rank
    deficiency: C − u₂u₂ᵀ·C·v₂v₂ᵀ (the hand formula: d(σ₁u₁v₁ᵀ) = Ȧ − u₂u₂ᵀȦv₂v₂ᵀ at σ₂ = 0)."""
    c = np.random.default_rng(0).normal(size=(3, 3))
    a = np.random.default_rng(1).normal(size=(3, 3))
    np.testing.assert_allclose(dk.grad(_reconstruction(c))(a)[0], c, atol=1e-12)

    def truncated(x):
        u, s, vh = np.linalg.svd(x)
        return np.sum(((u[:, :1] * s[:1]) @ vh[:1]) * E11)
    u, _, vh = np.linalg.svd(RANK1)
    u2, v2 = u[:, 1:], vh[1:].T
    np.testing.assert_allclose(dk.grad(truncated)(RANK1)[0], E11 - u2 @ u2.T @ E11 @ v2 @ v2.T,
                               atol=1e-12)


def test_svd_reconstruction_jax_reference():
    """JAX x64 gives C for the reconstruction: diffkit refuses (above) rather than give another
    number; at full rank both give C."""
    jax = pytest.importorskip("jax")
    jax.config.update("jax_enable_x64", True)
    jnp = jax.numpy

    def jf(a):
        u, s, vh = jnp.linalg.svd(a)
        return jnp.sum(((u * s) @ vh) * E11)
    np.testing.assert_allclose(np.asarray(jax.grad(jf)(RANK1)), E11, atol=1e-12)
    a = np.array([[2.0, 1.0], [0.5, 3.0]])
    np.testing.assert_allclose(dk.grad(_reconstruction(E11))(a)[0],
                               np.asarray(jax.grad(jf)(a)), atol=1e-12)


# --- F5: pinv / lstsq with a cutoff that drops a nonzero singular value -------------------------


@pytest.mark.parametrize("method", ["reverse", "forward", "compiled"])
def test_pinv_rcond_dropping_a_nonzero_singular_value(method):
    """rcond 0.1 drops σ₃ = 0.046 (cutoff 0.364): the gradient was off by 0.037 (1.5 %)."""
    def f(a):
        return np.sum(np.linalg.pinv(a, rcond=0.1) * W33)
    np.testing.assert_allclose(dk.grad(f, method=method)(A3)[0], _central(f, A3), atol=1e-7)

    def g(a):
        return np.sum(np.linalg.pinv(a, rtol=0.1) * W33)
    np.testing.assert_allclose(dk.grad(g, method=method)(A3)[0], _central(g, A3), atol=1e-7)


@pytest.mark.parametrize("shape, rc", [((4, 4), 0.3), ((2, 4, 3), 0.4), ((3, 5), 0.8)])
def test_pinv_cutoff_random_and_stacks(shape, rc):
    rng = np.random.default_rng(1)
    a = rng.normal(size=shape)
    w = rng.normal(size=(*shape[:-2], shape[-1], shape[-2]))

    def f(x):
        return np.sum(np.linalg.pinv(x, rcond=rc) * w)
    for method in ("reverse", "forward"):
        np.testing.assert_allclose(dk.grad(f, method=method)(a)[0], _central(f, a), atol=1e-7)


def test_pinv_hermitian_cutoff():
    s = np.random.default_rng(1).normal(size=(4, 4))
    s = s + s.T  # |λ| 3.94, 3.81, 2.27, 0.51: rcond 0.3 drops 0.51

    def f(a):
        return np.sum(np.linalg.pinv(a, rcond=0.3, hermitian=True) * np.arange(16.0).reshape(4, 4))
    np.testing.assert_allclose(dk.grad(f)(s)[0], _central(f, s), atol=1e-7)


@pytest.mark.parametrize("method", ["reverse", "forward"])
def test_lstsq_rcond_dropping_a_nonzero_singular_value(method):
    """σ = 3.74, 1.59, 0.096 with rcond 0.1: the gradient in a was off by 0.09."""
    def f(a):
        return np.sum(np.linalg.lstsq(a, B4, rcond=0.1)[0] * np.array([1.0, 2.0, 3.0]))
    np.testing.assert_allclose(dk.grad(f, method=method)(A43)[0], _central(f, A43), atol=1e-7)


def test_pinv_cutoff_jax_reference():
    """JAX x64 of the same function as the truncated SVD's inverse."""
    jax = pytest.importorskip("jax")
    jax.config.update("jax_enable_x64", True)
    jnp = jax.numpy

    def jf(a):
        u, s, vh = jnp.linalg.svd(a)
        return jnp.sum(((vh[:2].T / s[:2]) @ u[:, :2].T) * W33)
    g = dk.grad(lambda a: np.sum(np.linalg.pinv(a, rcond=0.1) * W33))(A3)[0]
    np.testing.assert_allclose(g, np.asarray(jax.grad(jf)(A3)), atol=1e-10)


def test_pinv_singular_value_at_the_cutoff_is_refused():
    s = np.linalg.svd(A3, compute_uv=False)
    with pytest.raises(dk.NonDifferentiableError, match="at the cutoff"):
        dk.grad(lambda a: np.sum(np.linalg.pinv(a, rcond=s[2] / s[0])))(A3)


def test_pinv_rank_deficient_default_cutoff_keeps_the_rank():
    """Dropped singular values that are zero (the default cutoff): the rank-kept derivative as
    before (coverage: passed before too), checked along tangents of the rank-1 manifold against
    central differences of NumPy's pinv, where it is exact."""
    w = np.array([[1.0, -2.0], [0.5, 3.0]])
    g = dk.grad(lambda a: np.sum(np.linalg.pinv(a) * w))(RANK1)[0]
    # along a tangent of the rank-1 manifold (u·δvᵀ + δu·vᵀ) the directional derivative is exact
    u, v = np.array([1.0, 2.0]), np.array([1.0, 2.0])
    for du, dv in [(np.array([0.3, -1.0]), np.zeros(2)), (np.zeros(2), np.array([-0.7, 0.2]))]:
        t = np.outer(du, v) + np.outer(u, dv)
        h = 1e-6
        fd = (np.sum(np.linalg.pinv(np.outer(u + h * du, v + h * dv)) * w)
              - np.sum(np.linalg.pinv(np.outer(u - h * du, v - h * dv)) * w)) / (2 * h)
        assert abs(np.sum(g * t) - fd) < 1e-7


# --- F2/F3: empty matrices --------------------------------------------------------------------

EMPTY = [(0, 0), (2, 0, 0), (3, 0), (0, 3)]


def _matrix_norm(order):
    return lambda a: np.sum(np.linalg.norm(a, order, axis=(-2, -1)))


def _empty_cases():
    yield "qr R", lambda a: np.sum(np.linalg.qr(a)[1]), EMPTY
    yield "qr Q", lambda a: np.sum(np.linalg.qr(a)[0]), EMPTY
    yield "norm", lambda a: np.sum(np.linalg.norm(a, axis=(-2, -1))), EMPTY
    for order in (2, 1, np.inf, "nuc", "fro"):
        yield f"norm {order}", _matrix_norm(order), EMPTY
    yield "vector norm", lambda a: np.linalg.norm(a), [(0,)]
    yield "eigvalsh", lambda a: np.sum(np.linalg.eigvalsh(a)), [(0, 0), (2, 0, 0)]
    yield "eigh", lambda a: np.sum(np.linalg.eigh(a)[0]) + np.sum(np.linalg.eigh(a)[1]), [
        (0, 0), (2, 0, 0)]
    yield "svd", lambda a: sum(np.sum(x) for x in np.linalg.svd(a, full_matrices=False)), EMPTY
    yield "svdvals", lambda a: np.sum(np.linalg.svd(a, compute_uv=False)), EMPTY


@pytest.mark.parametrize("method", ["reverse", "forward", "compiled"])
def test_empty_matrices_have_the_empty_gradient(method):
    """qr gave NumPy's bare ValueError (max of an empty R); norm/eigvalsh/eigh/svd a ShapeError
    about an internal amax. The reference: an empty gradient of the input's shape (what fd
    gives), and NumPy's value."""
    for name, f, shapes in _empty_cases():
        for shape in shapes:
            a = np.zeros(shape)
            g = dk.grad(f, method=method)(a)[0]
            assert g.shape == shape, (name, shape)
            assert dk.function(f)(a) == f(a), (name, shape)
