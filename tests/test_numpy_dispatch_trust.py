"""NumPy 2's numpy.linalg spellings on traced values: the array-API aliases (trace, diagonal,
outer, cross, vecdot, matrix_transpose) dispatch with numpy.linalg's semantics (the LAST two
axes), refusals name the function with its module, and matrices assembled from traced scalars.
References: NumPy for values, PyTorch float64 autograd for gradients (where PyTorch is not
installed, as in CI: central differences of the plain NumPy function, and hand formulas)."""

import numpy as np
import pytest

import diffkit as dk

try:
    import torch
except ImportError:
    torch = None

RNG = np.random.default_rng(7)
STACK = RNG.normal(size=(2, 3, 3))
VECS = RNG.normal(size=(4, 3))


def _torch_grad(f, x):
    t = torch.tensor(x, dtype=torch.float64, requires_grad=True)
    f(t).backward()
    return t.grad.numpy()


def _numpy_central_grad(f, x, h=1e-6):
    """∂(sum f)/∂x by central differences of the plain NumPy function (no diffkit)."""
    g = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        e = np.zeros_like(x)
        e[i] = h
        g[i] = (np.sum(f(x + e)) - np.sum(f(x - e))) / (2 * h)
    return g


CASES = {  # name: (numpy function of x, the same in torch, input)
    "trace": (lambda x: (np.linalg.trace(x) * np.array([1.0, 2.0])).sum(),
              lambda x: (torch.diagonal(x, dim1=-2, dim2=-1).sum(-1)
                         * torch.tensor([1.0, 2.0], dtype=torch.float64)).sum(), STACK),
    "trace-offset": (lambda x: (np.linalg.trace(x, offset=1) ** 2).sum(),
                     lambda x: (torch.diagonal(x, 1, -2, -1).sum(-1) ** 2).sum(), STACK),
    "diagonal": (lambda x: (np.linalg.diagonal(x, offset=-1) ** 3).sum(),
                 lambda x: (torch.diagonal(x, -1, -2, -1) ** 3).sum(), STACK),
    "matrix_transpose": (lambda x: (np.linalg.matrix_transpose(x) * np.arange(9.0).reshape(3, 3)).sum(),
                         lambda x: (x.mT * torch.arange(9.0, dtype=torch.float64).reshape(3, 3)).sum(),
                         STACK),
    "vecdot": (lambda x: (np.linalg.vecdot(x, x[::-1]) ** 2).sum(),
               lambda x: (torch.linalg.vecdot(x, x.flip(0)) ** 2).sum(), VECS),
    "cross": (lambda x: (np.linalg.cross(x, x[::-1]) ** 2).sum(),
              lambda x: (torch.linalg.cross(x, x.flip(0)) ** 2).sum(), VECS),
    "outer": (lambda x: (np.linalg.outer(x[0], x[1]) ** 2).sum(),
              lambda x: (torch.outer(x[0], x[1]) ** 2).sum(), VECS),
}


@pytest.mark.parametrize("name", CASES)
def test_linalg_aliases_match_numpy_and_torch(name):
    f, ft, x = CASES[name]
    np.testing.assert_allclose(dk.function(f)(x), f(x), rtol=1e-13)
    (g,) = dk.grad(f)(x)
    if torch is None:
        np.testing.assert_allclose(g, _numpy_central_grad(f, x), rtol=1e-6, atol=1e-6)
    else:
        np.testing.assert_allclose(g, _torch_grad(ft, x), rtol=1e-12, atol=1e-14)


def test_linalg_trace_uses_the_last_axes_unlike_np_trace():
    x = np.arange(24.0).reshape(2, 3, 4)
    assert dk.function(lambda a: np.linalg.trace(a))(x).shape == np.linalg.trace(x).shape == (2,)
    assert dk.function(lambda a: np.trace(a))(x).shape == np.trace(x).shape == (4,)


def test_linalg_alias_refusals_follow_numpy():
    with pytest.raises(ValueError):  # NumPy: linalg.outer takes vectors only
        np.linalg.outer(STACK, STACK)
    with pytest.raises(dk.ShapeError):
        dk.function(lambda a: np.linalg.outer(a, a))(STACK)
    with pytest.raises(ValueError):  # NumPy: linalg.cross takes 3-vectors only
        np.linalg.cross(np.ones(2), np.ones(2))
    with pytest.raises(dk.ShapeError):
        dk.function(lambda a: np.linalg.cross(a, a))(np.ones(2))


def test_unsupported_function_is_named_with_its_module():
    with pytest.raises(dk.MissingRuleError, match=r"numpy\.linalg\.eig\b"):
        dk.grad(lambda a: np.linalg.eig(a)[0].sum())(STACK[0])


def _det_torch(x):
    return torch.linalg.det(x)


def test_det_of_matrix_assembled_from_traced_scalars_via_dk():
    # dk.det / np.linalg.det of dk.stack(...) keep the graph; torch float64 reference
    a = STACK[0, :2, :2]

    def f(m):
        return dk.det(np.array([[m[0, 0], m[0, 1]], [m[1, 0], m[1, 1]]]))

    def g(m):
        return np.linalg.det(dk.stack([dk.stack([m[0, 0], m[0, 1]]), dk.stack([m[1, 0], m[1, 1]])]))

    hand = np.array([[a[1, 1], -a[1, 0]], [-a[0, 1], a[0, 0]]])  # ∂det/∂A = adj(A)ᵀ
    want = hand if torch is None else _torch_grad(_det_torch, a)
    np.testing.assert_allclose(dk.grad(f)(a)[0], want, rtol=1e-13)
    np.testing.assert_allclose(dk.grad(g)(a)[0], want, rtol=1e-13)
    np.testing.assert_allclose(want, hand)


def test_numpy_linalg_of_object_array_of_traced_scalars():
    """NumPy hands np.linalg.* of a plain object array straight to LAPACK: no Tensor is among
    the arguments, so no __array_function__ runs; the boundary names it (ObjectArrayError, a
    TypeError, saying to use dk.stack), where NumPy's bare cast error came from inside."""
    a = STACK[0, :2, :2]
    with pytest.raises(dk.ObjectArrayError, match="dk.stack"):
        dk.grad(dk.function(lambda m: np.linalg.det(np.array([[m[0, 0], m[0, 1]],
                                                              [m[1, 0], m[1, 1]]]))))(a)


@pytest.mark.parametrize("method", ["reverse", "forward", "symbolic"])
@pytest.mark.parametrize("body", [lambda x: np.bitwise_and(x, 1.0), lambda x: x & (x > 1.0),
                                  lambda x: np.invert(x), lambda x: np.bitwise_xor(x, x)])
def test_bitwise_ufuncs_of_floats_are_refused_as_numpy_refuses_them(method, body) -> None:
    """NumPy's & | ^ ~ take booleans and integers and raise TypeError for floats; on traced
    floats they computed the logical operation by the numbers' truth — a value, and a gradient
    through it, where NumPy has none."""
    x = np.array([1.5, 2.0, 0.0])
    with pytest.raises(TypeError):
        body(x)  # NumPy's own refusal
    with pytest.raises(dk.InputTypeError, match="takes booleans or integers"):
        dk.grad(lambda x: dk.sum(body(x) * x), method=method)(x)
    mask = (x > 1.0) & (x < 3.0)  # booleans: NumPy's bitwise values, on traced comparisons too
    g = dk.grad(lambda x: dk.sum(((x > 1.0) & (x < 3.0)) * x), method="reverse")(x)
    np.testing.assert_array_equal(g[0], mask.astype(float))
