"""dk.jit around a derivative (hunt 43 n, findings 1, 2 and 5): the types, values and refusals
of a fresh derivative call, on the first and on later (replayed) calls."""

import itertools

import numpy as np
import pytest

import diffkit as dk

C = np.arange(3.0)  # a float64 constant: NumPy promotes a float32 input's computation to float64


def _sumsq(a):
    return np.sum(a * C * a)  # gradient 2·C·a, Hessian diag(2·C)


def _squares(a):
    return np.sum((a * C) ** 2)  # Hessian diag(2·C²)


def _cube(t):
    return t**3 * np.float64(2.0)  # d²/dt² = 12 t


# ----- finding 1: a derivative under jit has dk.grad's types -------------------------------------

X32 = np.array([0.5, -1.0, 2.0], dtype=np.float32)

KINDS = {
    "grad": (lambda: dk.grad(_sumsq), lambda x: (2 * C * x,)),
    "grad-forward": (lambda: dk.grad(_sumsq, method="forward"), lambda x: (2 * C * x,)),
    "grad-compiled": (lambda: dk.grad(_sumsq, method="compiled"), lambda x: (2 * C * x,)),
    "value_and_grad": (lambda: dk.value_and_grad(_sumsq),
                       lambda x: (float(np.sum(C * x * x)), (2 * C * x,))),
    "jacobian": (lambda: dk.jacobian(_sumsq), lambda x: (2 * C * x)[None, :]),
    "hessian": (lambda: dk.hessian(_squares), lambda x: np.diag(2 * C**2)),
}


def _leaves(v):
    if isinstance(v, tuple):
        return [leaf for p in v for leaf in _leaves(p)]
    return [v]


def _same_types(got, want):
    gl, wl = _leaves(got), _leaves(want)
    assert len(gl) == len(wl)
    for g, w in zip(gl, wl, strict=True):
        assert type(g) is type(w), (got, want)
        assert np.asarray(g).dtype == np.asarray(w).dtype, (got, want)
        assert np.shape(g) == np.shape(w)


@pytest.mark.parametrize("kind", list(KINDS))
@pytest.mark.parametrize("dtype", [np.float32, np.float16])
def test_jit_of_a_derivative_keeps_the_input_dtype(kind, dtype):
    make, hand = KINDS[kind]
    x = X32.astype(dtype)
    fresh = make()(x)
    jitted = dk.jit(make())
    for point in (x, (x * 2).astype(dtype)):  # the first trace, then its replay
        got = jitted(point)
        _same_types(got, make()(point))
        _same_types(got, fresh)
        for g, h in zip(_leaves(got), _leaves(hand(point.astype(np.float64))), strict=True):
            np.testing.assert_allclose(np.asarray(g, dtype=np.float64), h, rtol=2e-3)
        assert np.asarray(_leaves(got)[-1]).dtype == dtype


@pytest.mark.parametrize("x", [np.float32(1.5), np.array(1.5, dtype=np.float32), np.float64(1.5),
                               np.float16(1.5), 1.5], ids=repr)
def test_jit_of_derivative_of_a_scalar_keeps_its_form(x):
    fresh = dk.derivative(_cube, n=2)(x)
    direct = dk.jit(dk.derivative(_cube, n=2))
    wrapped = dk.jit(lambda t: dk.derivative(_cube, n=2)(t))  # a Python function: its value
    for _ in range(2):
        got = direct(x)
        _same_types(got, fresh)
        assert float(got) == 12 * 1.5
        w = wrapped(x)  # a Function's value: the dtype of the derivative, a number for 0-d
        assert np.asarray(w).dtype == np.asarray(fresh).dtype
        assert float(w) == 12 * 1.5
    g = dk.jit(dk.grad(lambda a: a**2 * np.float64(1.5)))
    for _ in range(2):
        _same_types(g(x), dk.grad(lambda a: a**2 * np.float64(1.5))(x))
        assert float(g(x)[0]) == 3 * 1.5


def test_jit_of_gradient_of_complex64_is_complex64():
    z = np.array([1 + 1j, 2], dtype=np.complex64)

    def h(a):
        return np.real(np.sum(a * a * np.complex128(1 + 1j)))

    hand = 2 * (1 + 1j) * z.astype(np.complex128)  # ∂Re f/∂x − i∂Re f/∂y of Re((1+i)z²)
    g = dk.jit(dk.grad(h))
    for _ in range(2):
        (got,) = g(z)
        assert got.dtype == np.complex64 == dk.grad(h)(z)[0].dtype
        np.testing.assert_allclose(got, hand, rtol=1e-6)
    jac = dk.jit(dk.jacobian(h))(z)
    assert jac.dtype == dk.jacobian(h)(z).dtype


def test_jit_of_a_derivative_overflowing_float32_is_named():
    def f(a):
        return np.sum(np.float64(1.0) / a)  # gradient −1/a²: −1e40 at 1e-20, beyond float32

    g = dk.jit(dk.jacobian(f))
    g(np.array([1.0], np.float32))
    with pytest.raises(dk.NumericOverflowError):  # (was a float64 −1e40)
        g(np.array([1e-20], np.float32))


# ----- finding 2: a rule's choice by value is not replayed at other values ----------------------

F = np.array([[2.0, -1.0, 2.0], [2.0, 0.0, 4.0], [0.5, -0.5, 4.0]])  # invertible
R2 = np.array([[1.0, 2.0, 3.0], [2.0, 4.0, 6.0], [1.0, 0.0, 1.0]])  # rank 2
R1 = np.outer([1.0, -2.0, 0.5], [3.0, 1.0, -1.0])  # rank 1: adjugate 0


def _cofactors(a):
    """The matrix of cofactors by hand (its transpose is the adjugate; ∂det/∂A = cofactors)."""
    n = a.shape[0]
    out = np.empty_like(a)
    for i, j in itertools.product(range(n), repeat=2):
        minor = np.delete(np.delete(a, i, axis=0), j, axis=1)
        out[i, j] = (-1) ** (i + j) * (np.linalg.det(minor) if n > 1 else 1.0)
    return out


def _det_hessian(a):
    """∂²det/∂A∂A: central differences of the (quadratic, for 3×3) cofactors, exact at h = 1."""
    n = a.shape[0]
    H = np.empty((n * n, n * n))
    for k in range(n * n):
        e = np.zeros(n * n)
        e[k] = 1.0
        e = e.reshape(n, n)
        H[:, k] = ((_cofactors(a + e) - _cofactors(a - e)) / 2).ravel()
    return H


def test_hand_cofactors():
    assert np.allclose(_cofactors(F), np.linalg.det(F) * np.linalg.inv(F).T)
    assert np.allclose(_cofactors(R2), [[4, 4, -4], [-2, -2, 2], [0, 0, 0]])


DET_KINDS = {
    "grad": (lambda: dk.grad(np.linalg.det), lambda v: v[0], _cofactors),
    "grad-forward": (lambda: dk.grad(np.linalg.det, method="forward"), lambda v: v[0],
                     _cofactors),
    "value_and_grad": (lambda: dk.value_and_grad(np.linalg.det), lambda v: v[1][0], _cofactors),
    "jacobian": (lambda: dk.jacobian(np.linalg.det), lambda v: v.reshape(3, 3), _cofactors),
    "hessian": (lambda: dk.hessian(np.linalg.det), lambda v: v, _det_hessian),
}


@pytest.mark.parametrize("kind", list(DET_KINDS))
@pytest.mark.parametrize("order", [(F, R2, R1, F), (R2, F, R1), (R1, F, R2)],
                         ids=["F-first", "R2-first", "R1-first"])
def test_jit_of_det_derivative_at_singular_matrices(kind, order):
    make, part, hand = DET_KINDS[kind]
    g = dk.jit(make())
    for a in order:
        np.testing.assert_allclose(part(g(a)), hand(a), atol=1e-12)
        np.testing.assert_allclose(part(make()(a)), hand(a), atol=1e-12)


def test_jit_of_det_gradient_of_a_large_matrix():
    """n > 8: det·A⁻¹ where A is invertible, the SVD's adjugate where not — a decision by the
    values, which makes the trace hold at its point only (traced again, not replayed)."""
    rng = np.random.default_rng(43)
    inv9 = rng.normal(size=(9, 9))
    sing9 = rng.normal(size=(9, 9))
    sing9[4] = 0.0  # rank 8: exactly singular (its adjugate: only row 4's cofactors)
    g = dk.jit(dk.grad(np.linalg.det))
    for a in (inv9, sing9, inv9):
        np.testing.assert_allclose(g(a)[0], _cofactors(a), rtol=1e-8, atol=1e-10)


# ----- finding 5: a replay at a kink names the kink, as a fresh call ----------------------------


def _norm(a):
    return np.sqrt(np.sum(a**2))


@pytest.mark.parametrize("make", [lambda: dk.grad(_norm), lambda: dk.jacobian(_norm),
                                  lambda: dk.value_and_grad(_norm)],
                         ids=["grad", "jacobian", "value_and_grad"])
def test_jit_of_derivative_at_sqrt_kink_is_nondifferentiable(make):
    g = dk.jit(make())
    x = np.array([1.0, 2.0, 0.5])
    np.testing.assert_allclose(_leaves(g(x))[-1].ravel(), x / np.sqrt(np.sum(x**2)))
    with pytest.raises(dk.NonDifferentiableError) as fresh:
        make()(np.zeros(3))
    with pytest.raises(dk.NonDifferentiableError, match="sqrt is not differentiable at 0") as got:
        g(np.zeros(3))
    assert str(got.value) == str(fresh.value)
    np.testing.assert_allclose(_leaves(g(2 * x))[-1].ravel(), x / np.sqrt(np.sum(x**2)))


def test_jit_of_slogdet_gradient_at_a_singular_matrix_is_nondifferentiable():
    g = dk.jit(dk.grad(lambda a: np.linalg.slogdet(a)[1]))
    np.testing.assert_allclose(g(F)[0], np.linalg.inv(F).T)
    with pytest.raises(dk.NonDifferentiableError, match="slogdet"):
        g(R2)


def test_jit_replay_keeps_its_own_domain_error():
    """A body's own failing operation is still the replay's error (the frozen trace's)."""
    c = [0.0]
    f = dk.jit(lambda x: 1.0 / (x - c[0]))
    f(np.array([1.0, 2.0]))
    c[0] = 5.0  # the outside changed: the frozen trace still divides by x − 0
    with pytest.raises(dk.DomainError):
        f(np.array([0.0, 2.0]))
