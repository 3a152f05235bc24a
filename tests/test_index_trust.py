"""Indexing trust tests: every kind of index item, the empty index in generated code, and
symbolic max/min over an axis with no groups.

References are independent of diffkit: central differences on the plain NumPy function,
NumPy's own indexing and ``np.add.at``, or a hand formula.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import diffkit as dk
from diffkit.engines.codegen import literal
from diffkit.primitive import bind


def _fd_grad(f: Any, x: np.ndarray, h: float = 1e-6) -> np.ndarray:
    x = np.asarray(x, dtype=float)
    g = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        xp, xm = x.copy(), x.copy()
        xp[i] += h
        xm[i] -= h
        g[i] = (f(xp) - f(xm)) / (2 * h)
    return g


def _fd_jac(f: Any, x: np.ndarray, h: float = 1e-6) -> np.ndarray:
    x = np.asarray(x, dtype=float)
    m = np.asarray(f(x)).size
    jac = np.zeros((m, x.size))
    for j, i in enumerate(np.ndindex(x.shape)):
        xp, xm = x.copy(), x.copy()
        xp[i] += h
        xm[i] -= h
        jac[:, j] = ((np.asarray(f(xp)) - np.asarray(f(xm))) / (2 * h)).ravel()
    return jac


# --- a Python bool in an index with `...` (it adds an axis and uses none) -----------------------
X33 = np.sin(np.arange(9.0)).reshape(3, 3) + 2.0
W3 = np.array([1.0, 2.0, 3.0])


def _bool_ellipsis(x: Any) -> Any:
    return x[True, ..., 0]  # NumPy: shape (1, 3), the first column


def _bool_ellipsis_loss(x: Any) -> Any:
    return np.sum(np.sin(x[True, ..., 0]) * W3)


def test_python_bool_with_ellipsis_forward_grad() -> None:
    g = dk.grad(_bool_ellipsis_loss, method="forward")(X33)[0]
    np.testing.assert_allclose(g, _fd_grad(_bool_ellipsis_loss, X33), atol=1e-7)


@pytest.mark.parametrize("method", ["reverse", "forward", "compiled"])
def test_python_bool_with_ellipsis_jacobian(method: str) -> None:
    f = dk.jit(_bool_ellipsis) if method == "compiled" else _bool_ellipsis
    jac = dk.jacobian(f, method=method)(X33)
    np.testing.assert_allclose(np.reshape(jac, (3, 9)), _fd_jac(_bool_ellipsis, X33), atol=1e-7)


def test_python_bool_with_ellipsis_non_square() -> None:
    x = np.arange(1.0, 25.0).reshape(2, 3, 4)

    def f(x: Any) -> Any:
        return np.sum(np.sin(x[True, ..., 1]))

    g = dk.grad(f, method="forward")(x)[0]  # was a bare ValueError (broadcasting)
    np.testing.assert_allclose(g, _fd_grad(f, x), atol=1e-7)


@pytest.mark.parametrize("method", ["reverse", "forward"])
def test_python_bool_with_ellipsis_hessian(method: str) -> None:
    # x[True, ..., 0] is x[:, 0][None]: hand formula, diag(-sin(x[i, 0])·w[i]) at the column
    hess = dk.hessian(_bool_ellipsis_loss, method=method)(X33)
    ref = np.zeros((9, 9))
    for i in range(3):
        ref[3 * i, 3 * i] = -np.sin(X33[i, 0]) * W3[i]
    np.testing.assert_allclose(np.reshape(hess, (9, 9)), ref, atol=1e-12)


def test_index_add_python_bool_with_ellipsis_forward() -> None:
    idx = (True, Ellipsis, [0, 0, 2])
    weights = np.arange(8.0).reshape(2, 4)
    v = np.sin(np.arange(6.0)).reshape(np.zeros((2, 4))[idx].shape) + 2.0  # NumPy's x[idx] shape

    def f(v: Any) -> Any:
        return np.sum(np.sin(dk.index_add(v, idx, (2, 4))) * weights)

    def plain(v: np.ndarray) -> float:
        z = np.zeros((2, 4))
        np.add.at(z, idx, v)
        return float(np.sum(np.sin(z) * weights))

    g = dk.grad(f, method="forward")(v)[0]  # was a bare IndexError
    np.testing.assert_allclose(g, _fd_grad(plain, v), atol=1e-7)


# every kind of index item next to `...`, on a non-square (2, 3, 4) array
ITEMS = {
    "bool": (True, ..., 1),
    "false": (False, ..., 1),
    "np.bool_": (np.True_, ..., 1),
    "0-d-mask": (np.array(True), ..., 1),
    "none": (None, ..., 1),
    "int": (1, ..., None),
    "np.integer": (np.int64(-1), ...),
    "int-array": (np.array([1, 0, 1]), ..., 2),
    "nested-list": ([[0, 1], [1, 0]], ..., 0),
    "mask-1d": (..., np.array([True, False, True, True])),
    "mask-2d": (np.array([[True, False, True], [False, True, True]]), ...),
    "tuple-mask": (((True, False, True), (False, True, True)), ...),
    "bool-and-repeats": (True, ..., [0, 0, 2]),
}
X234 = np.sin(np.arange(24.0)).reshape(2, 3, 4) + 2.0


@pytest.mark.parametrize("method", ["reverse", "forward", "compiled"])
@pytest.mark.parametrize("name", list(ITEMS))
def test_index_items_with_ellipsis(name: str, method: str) -> None:
    idx = ITEMS[name]
    shape = X234[idx].shape
    w = np.arange(1.0, 1.0 + np.prod(shape)).reshape(shape)

    def f(x: Any) -> Any:
        return x[idx]

    def loss(x: Any) -> Any:
        return np.sum(np.sin(x[idx]) * w)

    wrap = dk.jit if method == "compiled" else (lambda g: g)
    jac = dk.jacobian(wrap(f), method=method)(X234)
    np.testing.assert_allclose(np.reshape(jac, (-1, 24)), _fd_jac(f, X234), atol=1e-7)
    g = dk.grad(wrap(loss), method=method)(X234)[0]
    np.testing.assert_allclose(g, _fd_grad(loss, X234), atol=1e-6)


# --- the empty index x[()] in generated code ---------------------------------------------------
def test_jit_empty_tuple_index() -> None:
    f = dk.jit(lambda x: x[()] ** 2)
    g = dk.grad(f)(np.array(3.0))[0]  # was a SyntaxError from the generated `x[]`
    assert np.shape(g) == ()
    assert float(g) == 6.0  # d(x²)/dx = 2x


def test_jit_empty_tuple_index_1d() -> None:
    f = dk.jit(lambda x: np.sum(np.sin(x[()])))  # x[()] of a 1-D array is x itself
    x = np.array([0.1, 0.2, 0.3])
    np.testing.assert_allclose(dk.grad(f)(x)[0], np.cos(x), rtol=1e-14)


def test_empty_index_printed_in_brackets() -> None:
    # x[()] written bare is "x[()]" (an empty string would print the syntax error x[])
    assert literal((), bare=True) == "()"
    assert literal((0,), bare=True) == "0,"
    code = compile(f"x[{literal((), bare=True)}]", "<test>", "eval")
    assert eval(code, {"x": np.arange(3.0)}).shape == (3,)


@pytest.mark.parametrize("shape", [(3,), (2, 3)])
def test_jit_empty_index_nodes(shape: tuple[int, ...]) -> None:
    # getitem and index_add nodes with index () (bound without `prepare`, which drops them):
    # the generated code reads v[()] and adds with `v[()] += y` (the slice-addition path)
    x = np.linspace(0.1, 0.9, int(np.prod(shape))).reshape(shape)

    def f(x: Any) -> Any:
        y = bind(dk.getitem, np.sin(x), index=())
        return np.sum(np.sin(bind(dk.index_add, y, index=(), shape=shape) + np.cos(x)))

    g = dk.grad(dk.jit(f))
    ref = np.cos(np.sin(x) + np.cos(x)) * (np.cos(x) - np.sin(x))
    for _ in range(3):  # interpreted first, then the generated code
        np.testing.assert_allclose(g(x)[0], ref, rtol=1e-13)
    assert "[()]" in g.source


# --- symbolic max/min over an axis of an empty array --------------------------------------------
@pytest.mark.parametrize("red", [np.max, np.min])
@pytest.mark.parametrize("part", ["rows", "columns"])
def test_symbolic_empty_axis_reduction(red: Any, part: str) -> None:
    x = np.arange(1.0, 13.0).reshape(3, 4)

    def f(x: Any) -> Any:  # a max over axis 1 of shape (0, 4): shape (0,), valid in NumPy
        empty = red(x[:0], axis=1) if part == "rows" else red(x[:, :0], axis=0)
        return np.sum(empty) + x[0, 0] ** 2

    g = dk.grad(f, method="symbolic")(x)[0]  # was a bare ValueError from reshape(..., -1)
    np.testing.assert_allclose(g, _fd_grad(f, x), atol=1e-6)
