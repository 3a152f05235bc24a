"""The neural-net primitives (linear, im2col/col2im, softmax_cross_entropy, binary_cross_entropy)
checked by reverse, forward and finite differences, plus their SymPy translations."""

from __future__ import annotations

import numpy as np
import pytest

import diffkit as dk

RNG = np.random.default_rng(0)


def _all_methods(f, *args):
    rev = dk.grad(f, method="reverse")(*args)
    fwd = dk.grad(f, method="forward")(*args)
    fd = dk.grad(f, method="fd")(*args)
    for r, g, d in zip(rev, fwd, fd):
        np.testing.assert_allclose(r, g, rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(r, d, rtol=1e-6, atol=1e-7)
    return rev


def test_linear_matches_matmul_and_all_methods():
    x, w, b = RNG.normal(size=(4, 3)), RNG.normal(size=(2, 3)), RNG.normal(size=2)
    np.testing.assert_allclose(dk.linear(x, w, b), x @ w.T + b)
    c = RNG.normal(size=(4, 2))
    _all_methods(lambda x, w, b: dk.sum(dk.tanh(dk.linear(x, w, b)) * c), x, w, b)


def test_linear_batched_input():
    x, w, b = RNG.normal(size=(2, 3, 4)), RNG.normal(size=(5, 4)), RNG.normal(size=5)
    _all_methods(lambda x, w, b: dk.sum(dk.sin(dk.linear(x, w, b))), x, w, b)


@pytest.mark.parametrize("stride,padding", [(1, 0), (2, 1), (1, 1)])
def test_im2col_is_a_correlation_and_col2im_is_its_adjoint(stride, padding):
    x = RNG.normal(size=(2, 2, 5, 5))
    cols = dk.im2col(x, 3, stride, padding)
    xp = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    oh = cols.shape[1]
    for i in range(oh):
        for j in range(cols.shape[2]):
            patch = xp[:, :, i * stride:i * stride + 3, j * stride:j * stride + 3]
            np.testing.assert_allclose(cols[:, i, j], patch.reshape(2, -1))
    v = RNG.normal(size=cols.shape)  # <im2col(x), v> == <x, col2im(v)>
    lhs = np.sum(cols * v)
    rhs = np.sum(x * dk.col2im(v, 3, stride, padding, x.shape))
    assert lhs == pytest.approx(rhs, rel=1e-12)
    c = RNG.normal(size=cols.shape)
    _all_methods(lambda x: dk.sum(dk.im2col(x, 3, stride, padding) ** 2 * c), x)
    _all_methods(lambda v: dk.sum(dk.col2im(v, 3, stride, padding, x.shape) ** 2), v)


def test_softmax_cross_entropy_all_methods_and_stability():
    z, t = RNG.normal(size=(3, 4)), RNG.dirichlet(np.ones(4), size=3)
    _all_methods(lambda z, t: dk.sum(dk.softmax_cross_entropy(z, t)), z, t)
    big = np.array([[1000.0, -1000.0, 0.0]])
    loss = dk.softmax_cross_entropy(big, np.array([[0.0, 1.0, 0.0]]))
    assert loss[0] == pytest.approx(2000.0)
    g = dk.grad(lambda z: dk.sum(dk.softmax_cross_entropy(z, np.array([[0.0, 1.0, 0.0]]))))(big)[0]
    np.testing.assert_allclose(g, [[1.0, -1.0, 0.0]], atol=1e-12)


def test_binary_cross_entropy_all_methods_and_clamp():
    p, y = RNG.uniform(0.1, 0.9, size=5), RNG.uniform(0, 1, size=5)
    _all_methods(lambda p, y: dk.sum(dk.binary_cross_entropy(p, y)), p, y)
    np.testing.assert_allclose(dk.binary_cross_entropy(np.array([0.0, 1.0]), np.array([1.0, 0.0])),
                               [100.0, 100.0])


def test_sympy_translations_agree():
    from diffkit.primitives import REGISTRY

    z = np.array([[0.3, -0.2, 0.5]])
    t = np.array([[0.2, 0.3, 0.5]])
    sym = REGISTRY["softmax_cross_entropy"].to_sympy(z.astype(object), t.astype(object))
    assert float(sym[0]) == pytest.approx(float(dk.softmax_cross_entropy(z, t)[0]))
    x = np.arange(16.0).reshape(1, 1, 4, 4)
    sym = REGISTRY["im2col"].to_sympy(x.astype(object), kernel_size=(2, 2), stride=1, padding=0)
    np.testing.assert_array_equal(sym.astype(float), dk.im2col(x, 2))
    sym = REGISTRY["linear"].to_sympy(np.ones((1, 2), dtype=object), np.ones((3, 2), dtype=object),
                                      np.zeros(3, dtype=object))
    np.testing.assert_array_equal(sym.astype(float), np.full((1, 3), 2.0))
    import sympy as sp

    assert float(REGISTRY["binary_cross_entropy"].to_sympy(sp.Float(0.5), sp.Float(1.0))) == (
        pytest.approx(np.log(2.0)))


def test_float32_stays_float32_through_the_rules():
    x = dk.tensor(RNG.normal(size=(4, 3)).astype(np.float32), requires_grad=True)
    w = dk.tensor(RNG.normal(size=(2, 3)).astype(np.float32), requires_grad=True)
    b = dk.tensor(np.zeros(2, np.float32), requires_grad=True)
    t = np.eye(2, dtype=np.float32)[[0, 1, 1, 0]]
    loss = dk.mean(dk.softmax_cross_entropy(dk.linear(x, w, b), t))
    loss.backward(np.float32(1.0))  # core seeds a 0-d root with Python 1.0 (float64): see report
    assert x.grad.dtype == w.grad.dtype == b.grad.dtype == np.float32
