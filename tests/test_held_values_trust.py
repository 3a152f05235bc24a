"""A graph holds the values its operations read, not the caller's buffers.

Code that writes into a NumPy array after using it — a workspace reused in a loop, a mask cleared,
an index array overwritten, a constant scaled before ``backward()`` — must leave the recorded
operation as it was computed. Held by reference, every exact method answered with the array's later
contents (a silent wrong derivative); finite differences, which only evaluate, were right. The
references here are hand-derived formulas."""

from __future__ import annotations

import numpy as np
import pytest

import diffkit as dk

EXACT = ["reverse", "forward", "symbolic"]
X = np.array([1.0, 2.0, 3.0])


def reused_workspace(x):
    """Σₖ Σ sin(x)·(k+1) for k = 0, 1, 2, with one buffer rewritten each round: 6·cos x."""
    buf = np.zeros(3)
    out = 0.0
    for k in range(3):
        buf[:] = k + 1.0
        out = out + (dk.sin(x) * buf).sum()
    return out


def overwritten_after_use(x):
    """Σ x·1 then Σ x·5 with the same array overwritten in between: gradient 6."""
    a = np.ones(3)
    y = (x * a).sum()
    a[:] = 5.0
    return y + (x * a).sum()


def overwritten_index(x):
    """Σ x[[0, 1]]² with the index array overwritten afterwards: gradient (2x₀, 2x₁, 0)."""
    idx = np.array([0, 1])
    y = (x[idx] ** 2).sum()
    idx[:] = 2
    return y


def cleared_mask(x):
    """Σ where(mask, x², 0) with the mask cleared afterwards: gradient (2x₀, 0, 2x₂)."""
    mask = np.array([True, False, True])
    y = np.where(mask, x**2, 0.0).sum()
    mask[:] = False
    return y


CASES = [
    (reused_workspace, lambda x: 6.0 * np.cos(x)),
    (overwritten_after_use, lambda x: np.full(3, 6.0)),
    (overwritten_index, lambda x: np.array([2 * x[0], 2 * x[1], 0.0])),
    (cleared_mask, lambda x: np.array([2 * x[0], 0.0, 2 * x[2]])),
]


@pytest.mark.parametrize("method", EXACT)
@pytest.mark.parametrize(("f", "want"), CASES, ids=[c[0].__name__ for c in CASES])
def test_every_exact_method_differentiates_what_was_computed(f, want, method):
    (g,) = dk.grad(f, method=method)(X)
    np.testing.assert_allclose(g, want(X), rtol=1e-13, atol=1e-15)


@pytest.mark.parametrize(("f", "want"), CASES, ids=[c[0].__name__ for c in CASES])
def test_jit_and_its_jacobian_too(f, want):
    jf = dk.jit(f)
    for _ in range(2):  # the first call traces; the second runs what the first trace kept
        (g,) = dk.grad(jf)(X)
        np.testing.assert_allclose(g, want(X), rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(dk.jacobian(f)(X).ravel(), want(X), rtol=1e-13, atol=1e-15)


def test_eager_backward_reads_the_constant_as_it_was_multiplied():
    x = dk.tensor(np.array([1.0, 2.0]), requires_grad=True)
    a = np.array([3.0, 4.0])
    y = (dk.sin(x) * a).sum()
    a *= 10.0  # after the product, before backward
    y.backward()
    np.testing.assert_allclose(x.grad, np.cos([1.0, 2.0]) * [3.0, 4.0], rtol=1e-15)


def test_the_callers_array_is_not_written_or_replaced():
    a = np.array([1.0, 2.0, 3.0])
    (g,) = dk.grad(lambda x: (x * a).sum())(X)
    np.testing.assert_array_equal(g, a)
    a[0] = 10.0  # the gradient handed back is not a view of the caller's array
    assert g[0] == 1.0


def overwritten_list(x):
    """Σ x·c then Σ x·c with the list c's first entry set to 5 in between: (6, 4)."""
    c = [1.0, 2.0]
    y = (x * c).sum()
    c[0] = 5.0
    return y + (x * c).sum()


@pytest.mark.parametrize("method", EXACT)
def test_a_list_changed_between_uses_is_read_at_each_use(method):
    # a guard: a list is never kept by identity (each use reads it as it is then)
    (g,) = dk.grad(overwritten_list, method=method)(np.array([1.0, 1.0]))
    np.testing.assert_array_equal(g, [6.0, 4.0])
