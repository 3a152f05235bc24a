"""NumPy's reductions, sorting and selection, in NumPy's own spelling on traced values.

Every differentiable function is checked by :func:`numpy_check.check` against an mpmath version of
the same mathematics (values and derivatives at 50–80 digits, independent of diffkit's rules), in
reverse, forward, symbolic (or its refusal by name) and fd, at first and, for scalar outputs,
second order, and in float32. Then: the conventions at ties, zeros and zero variance, NumPy's exact
values for ``dk.*`` on plain arrays, indices as plain integers, truth values as constants, what
``prepare`` normalizes, and the keywords and points refused by name.
"""

from __future__ import annotations

import itertools
from typing import Any

import mpmath
import numpy as np
import pytest
from numpy_check import (
    Spec,
    along,
    assert_named_error,
    check,
    grid,
    lanes,
    mp_median,
    mp_std,
    mp_var,
)

import diffkit as dk
from diffkit.primitives import REGISTRY

#: the names this module tests (read by the completeness tests of test_core_primitives.py)
COVERS = ("amin", "prod", "var", "std", "cumsum", "cumprod", "average", "ptp", "median", "sort",
          "partition", "argmax", "argmin", "argsort", "argpartition", "all", "any",
          "count_nonzero")

EXACT = ("reverse", "forward", "symbolic")
ENGINES = ("reverse", "forward", "symbolic", "fd")

# ----- mpmath references: the same mathematics on object arrays of mpf -----------------------


def mp_cumsum(g: list[Any]) -> list[Any]:
    return list(itertools.accumulate(g))


def mp_cumprod(g: list[Any]) -> list[Any]:
    return list(itertools.accumulate(g, lambda a, b: a * b))


def mp_partition(kth: Any, axis: int) -> Any:
    """The reference of np.partition: NumPy's arrangement (read from the float values, distinct
    at the test points), filled with the mpmath elements."""

    def ref(x: Any) -> Any:
        def lane(g: list[Any]) -> list[Any]:
            floats = [float(v) for v in g]
            arranged = np.partition(np.array(floats), kth)
            return [g[floats.index(float(v))] for v in arranged]

        return along(x, axis, lane)

    return ref


# ----- points -------------------------------------------------------------------------------------

P34 = grid(((3, 4), (-2.0, 2.0)), seed=1)
P232 = grid(((2, 3, 2), (-2.0, 2.0)), seed=2)
P23 = grid(((2, 3), (-2.0, 2.0)), seed=3)
P5 = grid(((5,), (-2.0, 2.0)), seed=4)
WITH_ZEROS_1D = [(np.array([1.5, 0.0, -0.7, 1.2, 0.9]),), (np.array([0.0, 1.3, 0.0, -1.1, 0.8]),),
                 (np.array([0.6, -1.4, 1.1, 0.0, 0.0]),)]
WITH_ZEROS_2D = [(np.array([[1.5, 0.0, -0.7], [0.0, 1.2, 0.0]]),),
                 (np.array([[0.0, 0.0, 1.3], [-0.6, 1.1, 0.0]]),)]
C5 = np.array([0.3, -1.0, 2.0, 0.7, 1.1])
C23 = np.array([[0.3, -1.0, 2.0], [0.7, 1.1, -0.4]])


XW_ROWS = [(x, np.abs(w) + 0.2) for (x, w) in grid(((3, 4), (-2.0, 2.0)), ((4,), (-1.0, 1.0)),
                                                      seed=5)]
XW_FULL = [(x, np.abs(w) + 0.2) for (x, w) in grid(((2, 3), (-2.0, 2.0)), ((2, 3), (-1.0, 1.0)),
                                                      seed=6)]
XW_AXES = [(x, np.abs(w) + 0.2) for (x, w) in grid(((2, 3, 2), (-2.0, 2.0)), ((2, 2), (-1.0, 1.0)),
                                                      seed=7)]

SPECS = [
    # min
    Spec("np.min", lambda x: np.min(x), P34, ref=lambda x: lanes(x, None, min), order=2),
    Spec("np.amin axis 0", lambda x: np.amin(x, axis=0), P34, ref=lambda x: lanes(x, 0, min)),
    Spec("x.min(axis=-1, keepdims)", lambda x: x.min(axis=-1, keepdims=True), P34,
         ref=lambda x: lanes(x, -1, min, keepdims=True)),
    Spec("np.min axes (0, 2)", lambda x: np.min(x, axis=(0, 2)), P232,
         ref=lambda x: lanes(x, (0, 2), min)),
    # prod
    Spec("np.prod", lambda x: np.prod(x), P23 + WITH_ZEROS_2D, ref=lambda x: lanes(x, None, mpmath.fprod),
         order=2),
    Spec("x.prod(axis=1)", lambda x: x.prod(axis=1), P34 + WITH_ZEROS_2D,
         ref=lambda x: lanes(x, 1, mpmath.fprod)),
    Spec("np.prod axes keepdims", lambda x: np.prod(x, axis=(0, 2), keepdims=True), P232,
         ref=lambda x: lanes(x, (0, 2), mpmath.fprod, keepdims=True)),
    Spec("np.prod with zeros", lambda x: np.prod(x), WITH_ZEROS_1D,
         ref=lambda x: lanes(x, None, mpmath.fprod), order=2),
    # var, std
    Spec("np.var", lambda x: np.var(x), P23, ref=lambda x: lanes(x, None, mp_var()), order=2),
    Spec("np.var axis ddof", lambda x: np.var(x, axis=1, ddof=1), P34,
         ref=lambda x: lanes(x, 1, mp_var(1))),
    Spec("x.var(axis=0, keepdims)", lambda x: x.var(axis=0, keepdims=True), P34,
         ref=lambda x: lanes(x, 0, mp_var(), keepdims=True)),
    Spec("np.std", lambda x: np.std(x), P23, ref=lambda x: lanes(x, None, mp_std()), order=2),
    Spec("x.std(ddof=1)", lambda x: x.std(ddof=1), P23, ref=lambda x: lanes(x, None, mp_std(1)),
         order=2),
    Spec("np.std axes correction", lambda x: np.std(x, axis=(0, 1), correction=1), P232,
         ref=lambda x: lanes(x, (0, 1), mp_std(1))),
    # cumsum, cumprod
    Spec("np.cumsum", lambda x: np.cumsum(x), P23, ref=lambda x: along(x, None, mp_cumsum)),
    Spec("x.cumsum(axis=1)", lambda x: x.cumsum(axis=1), P34, ref=lambda x: along(x, 1, mp_cumsum)),
    Spec("Σ c·cumsum(x, axis=0)²", lambda x: np.sum(C23 * np.cumsum(x, axis=0) ** 2), P23,
         ref=lambda x: np.sum(C23 * along(x, 0, mp_cumsum) ** 2), order=2),
    Spec("np.cumprod", lambda x: np.cumprod(x), P5 + WITH_ZEROS_1D,
         ref=lambda x: along(x, None, mp_cumprod)),
    Spec("x.cumprod(axis=1)", lambda x: x.cumprod(axis=1), P23 + WITH_ZEROS_2D,
         ref=lambda x: along(x, 1, mp_cumprod)),
    Spec("Σ c·cumprod", lambda x: np.sum(C5 * np.cumprod(x)), P5 + WITH_ZEROS_1D,
         ref=lambda x: np.sum(C5 * along(x, None, mp_cumprod)), order=2),
    Spec("Σ c·cumprod axis 0", lambda x: np.sum(C23 * x.cumprod(axis=0)), P23 + WITH_ZEROS_2D,
         ref=lambda x: np.sum(C23 * along(x, 0, mp_cumprod)), order=2),
    # average
    Spec("np.average", lambda x: np.average(x), P23, ref=lambda x: lanes(x, None, mpmath.fsum) / 6,
         order=2),
    Spec("np.average axis keepdims", lambda x: np.average(x, axis=0, keepdims=True), P34,
         ref=lambda x: lanes(x, 0, mpmath.fsum, keepdims=True) / 3),
    Spec("np.average weights axis 1", lambda x, w: np.average(x, axis=1, weights=w), XW_ROWS,
         ref=lambda x, w: np.sum(x * w, axis=1) / np.sum(w)),
    Spec("np.average weights", lambda x, w: np.average(x, weights=w), XW_FULL,
         ref=lambda x, w: np.sum(x * w) / np.sum(w), order=2),
    Spec("np.average weights axes (2, 0)", lambda x, w: np.average(x, axis=(2, 0), weights=w),
         XW_AXES, ref=lambda x, w: np.sum(x * w.T[:, None, :], axis=(0, 2)) / np.sum(w)),
    Spec("np.average weights not differentiated", lambda x, w: np.average(x, axis=1, weights=w),
         XW_ROWS, ref=lambda x, w: np.sum(x * w, axis=1) / np.sum(w), wrt=(0,)),
    # ptp
    Spec("np.ptp", lambda x: np.ptp(x), P34, ref=lambda x: lanes(x, None, lambda g: max(g) - min(g)),
         order=2),
    Spec("np.ptp axis keepdims", lambda x: np.ptp(x, axis=1, keepdims=True), P34,
         ref=lambda x: lanes(x, 1, lambda g: max(g) - min(g), keepdims=True)),
    # median (built on sort: no SymPy translation)
    Spec("np.median odd", lambda x: np.median(x), P5, ref=lambda x: lanes(x, None, mp_median),
         order=2, symbolic="refuse"),
    Spec("np.median even, axis 1", lambda x: np.median(x, axis=1), P34,
         ref=lambda x: lanes(x, 1, mp_median), symbolic="refuse"),
    Spec("np.median axes keepdims", lambda x: np.median(x, axis=(0, 2), keepdims=True), P232,
         ref=lambda x: lanes(x, (0, 2), mp_median, keepdims=True), symbolic="refuse"),
    # sort, partition
    Spec("np.sort", lambda x: np.sort(x), P34, ref=lambda x: along(x, -1, sorted),
         symbolic="refuse"),
    Spec("np.sort axis 0", lambda x: np.sort(x, axis=0), P34, ref=lambda x: along(x, 0, sorted),
         symbolic="refuse"),
    Spec("np.sort axis None", lambda x: np.sort(x, axis=None), P23,
         ref=lambda x: along(x, None, sorted), symbolic="refuse"),
    Spec("Σ c·sort²", lambda x: np.sum(C5 * np.sort(x) ** 2), P5,
         ref=lambda x: np.sum(C5 * along(x, None, sorted) ** 2), order=2, symbolic="refuse"),
    Spec("np.partition", lambda x: np.partition(x, 2), P34, ref=mp_partition(2, -1),
         symbolic="refuse"),
    Spec("np.partition kth tuple axis 0", lambda x: np.partition(x, (0, -1), axis=0),
         grid(((4, 3), (-2.0, 2.0)), seed=8), ref=mp_partition((0, -1), 0), symbolic="refuse"),
]


@pytest.mark.parametrize("spec", SPECS, ids=[s.name for s in SPECS])
def test_numpy_spelling_every_engine(spec: Spec) -> None:
    check(spec)


# ----- conventions: ties, zeros, zero variance -----------------------------------------------------


def _grad(f: Any, x: np.ndarray, method: str) -> np.ndarray:
    return np.asarray(dk.grad(f, method=method)(x)[0])


@pytest.mark.parametrize("method", ENGINES)
def test_min_ties_share_the_derivative_equally(method: str) -> None:
    x = np.array([1.0, 3.0, 1.0, 2.0])
    np.testing.assert_allclose(_grad(lambda x: np.min(x), x, method), [0.5, 0, 0.5, 0], atol=1e-9)
    if method == "fd":  # central differences see ½ for each of n > 2 tied entries, not 1/n
        return
    m = np.array([[2.0, 2.0, 2.0], [1.0, 0.5, 0.5]])
    np.testing.assert_allclose(_grad(lambda m: np.sum(m.min(axis=1) * np.array([1.0, 3.0])), m, method),
                               [[1 / 3] * 3, [0, 1.5, 1.5]], atol=1e-9)


@pytest.mark.parametrize("method", ("reverse", "forward", "fd"))
def test_sort_ties_share_the_derivative_equally(method: str) -> None:
    """Tied values share their tangents; sort(x)[-1] then has amax's derivative, and sort(x)[0]
    amin's; the median of [2, 1, 2] gives ½ to each 2 (central differences agree, for two ties)."""
    x = np.array([2.0, 1.0, 2.0])
    jac = dk.jacobian(lambda x: np.sort(x), method=method)(x)
    np.testing.assert_allclose(jac, [[0, 1, 0], [0.5, 0, 0.5], [0.5, 0, 0.5]], atol=1e-9)
    np.testing.assert_allclose(_grad(lambda x: np.median(x), x, method), [0.5, 0, 0.5], atol=1e-9)
    if method == "fd":  # central differences see ½ for each of n > 2 tied entries, not 1/n
        return
    y = np.array([0.5, 3.0, 3.0, -1.0, 3.0])
    np.testing.assert_allclose(_grad(lambda y: np.sort(y)[-1], y, method),
                               _grad(lambda y: np.max(y), y, "reverse"), atol=1e-9)
    z = np.array([[1.0, 1.0, 4.0, 0.0], [2.0, 5.0, 2.0, 2.0]])
    np.testing.assert_allclose(_grad(lambda z: np.sum(np.partition(z, 1)[:, 1]), z, method),
                               [[0.5, 0.5, 0, 0], [1 / 3, 0, 1 / 3, 1 / 3]], atol=1e-9)


def _others(x: np.ndarray, skip: list[int]) -> float:
    return float(np.prod(np.delete(x, skip)))


@pytest.mark.parametrize("method", ENGINES)
@pytest.mark.parametrize("x", [np.array([2.0, 0.0, 3.0, -1.5]), np.array([0.0, 2.0, 0.0, 3.0]),
                               np.array([0.0, 0.0, 0.0, 1.0])], ids=["one-zero", "two", "three"])
def test_prod_is_exact_at_zeros(method: str, x: np.ndarray) -> None:
    """∂prod/∂xᵢ is the product of the others: exactly (no division), also at second order."""
    n = len(x)
    grad = [_others(x, [i]) for i in range(n)]
    hess = [[_others(x, [i, j]) if i != j else 0.0 for j in range(n)] for i in range(n)]
    np.testing.assert_array_equal(_grad(lambda x: np.prod(x), x, method), grad) if method != "fd" \
        else np.testing.assert_allclose(_grad(lambda x: np.prod(x), x, method), grad, atol=1e-9)
    np.testing.assert_allclose(dk.hessian(lambda x: x.prod(), method=method)(x), hess, atol=1e-5)


@pytest.mark.parametrize("method", ENGINES)
def test_cumprod_is_exact_at_zeros(method: str) -> None:
    """∂yⱼ/∂xᵢ = Π_{m≤j, m≠i} x_m and the second derivatives likewise, zeros included."""
    c = np.array([0.3, -1.0, 2.0, 0.7, 1.1])
    for x in (np.array([2.0, 0.0, 3.0, -1.5, 0.5]), np.array([0.0, 2.0, 0.0, 3.0, 1.0])):
        n = len(x)
        jac = np.array([[_others(x[:j + 1], [i]) if i <= j else 0.0 for i in range(n)]
                        for j in range(n)])
        hess = np.zeros((n, n))
        for j, a, b in itertools.product(range(n), repeat=3):
            if a != b and a <= j and b <= j:
                hess[a, b] += c[j] * _others(x[:j + 1], [a, b])
        tol = {"atol": 1e-12} if method != "fd" else {"atol": 1e-5}
        np.testing.assert_allclose(dk.jacobian(lambda x: np.cumprod(x), method=method)(x), jac,
                                   **tol)
        np.testing.assert_allclose(dk.hessian(lambda x: np.sum(c * x.cumprod()), method=method)(x),
                                   hess, atol=1e-5 if method == "fd" else 1e-12)


def test_prod_never_divides() -> None:
    """Zeros raise no floating-point event, even with NumPy's errors turned into exceptions."""
    x = np.array([[0.0, 2.0, 0.0], [1.0, 0.0, 3.0]])
    with np.errstate(all="raise"):
        for m in ("reverse", "forward"):
            dk.hessian(lambda x: np.sum(np.prod(x, axis=1)) + np.sum(np.cumprod(x, axis=1)),
                       method=m)(x)


@pytest.mark.parametrize("method", ENGINES)
def test_std_at_zero_variance_has_derivative_zero(method: str) -> None:
    """std is a norm of the deviations: at equal elements its smallest subgradient, 0, is the
    derivative every engine returns; the second derivative does not exist (a named error)."""
    x = np.full(4, 1.5)
    assert np.all(_grad(lambda x: np.std(x), x, method) == 0)
    assert np.all(_grad(lambda x: x.std(ddof=1), x, method) == 0)
    m = np.array([[1.0, 1.0, 1.0], [1.0, 2.0, 4.0]])
    got = _grad(lambda m: np.sum(np.std(m, axis=1)), m, method)
    d = m[1] - m[1].mean()
    np.testing.assert_allclose(got, [[0, 0, 0], d / (3 * np.std(m[1]))], atol=1e-9)
    if method != "fd":
        with pytest.raises(dk.NonDifferentiableError):
            dk.hessian(lambda x: np.std(x), method=method)(x)


def test_std_zero_variance_in_compiled_and_jit_code() -> None:
    f = dk.jit(lambda x: np.std(x))
    for _ in range(3):  # interpreted, then compiled
        assert np.all(dk.grad(f)(np.full(3, 2.0))[0] == 0)
    assert np.all(dk.grad(lambda x: np.std(x), method="compiled")(np.full(3, 2.0))[0] == 0)


def test_var_on_complex_values() -> None:
    """|x − mean|² of complex values (NumPy's value), with JAX's convention for the gradient of a
    real-valued function of complex inputs; reverse and forward agree with finite differences."""
    z = np.array([1 + 2j, 0.5 - 1j, 2 + 0.3j])
    assert dk.var(z) == np.var(z) and dk.std(z, ddof=1) == np.std(z, ddof=1)
    fd = dk.grad(lambda z: np.var(z), method="fd")(z)[0]
    for m in ("reverse", "forward"):
        np.testing.assert_allclose(dk.grad(lambda z: np.var(z), method=m)(z)[0], fd, atol=1e-8)


def test_products_of_complex_values_are_holomorphic() -> None:
    z = np.array([1 + 2j, 0.5 - 1j, 2 + 0.3j])
    others = [np.prod(np.delete(z, i)) for i in range(3)]
    for m in ("reverse", "forward"):
        np.testing.assert_allclose(dk.jacobian(lambda z: np.prod(z), method=m)(z)[0], others)
        np.testing.assert_allclose(dk.jacobian(lambda z: np.cumprod(z), method=m)(z),
                                   dk.jacobian(lambda z: np.cumprod(z), method="fd")(z), atol=1e-8)
        # min of complex values is NumPy's lexicographic selection: the selected element's
        # derivative (here z[1], the smallest real part)
        np.testing.assert_allclose(dk.grad(lambda z: dk.real(np.min(z)), method=m)(z)[0],
                                   [0.0, 1.0, 0.0])


# ----- NumPy's exact values on plain arrays ----------------------------------------------------------

X = np.random.default_rng(11).normal(size=(3, 4, 2))
X32 = X.astype(np.float32)
T = np.array([[2.0, 1.0, 2.0, 0.0], [3.0, 3.0, -1.0, 0.5]])  # ties
W = np.abs(np.random.default_rng(12).normal(size=(4,))) + 0.1

VALUE_CASES = [
    ("amin", lambda m, a: m.amin(a), {}), ("amin", lambda m, a: m.amin(a, axis=1), {}),
    ("amin", lambda m, a: m.amin(a, axis=(0, 2), keepdims=True), {}),
    ("prod", lambda m, a: m.prod(a), {}), ("prod", lambda m, a: m.prod(a, axis=-1), {}),
    ("prod", lambda m, a: m.prod(a, axis=(1, 2), keepdims=True), {}),
    ("var", lambda m, a: m.var(a), {}), ("var", lambda m, a: m.var(a, axis=1, ddof=1), {}),
    ("var", lambda m, a: m.var(a, axis=(0, 2), keepdims=True), {}),
    ("std", lambda m, a: m.std(a), {}), ("std", lambda m, a: m.std(a, axis=1, ddof=2), {}),
    ("std", lambda m, a: m.std(a, axis=1, correction=1, keepdims=True), {}),
    ("cumsum", lambda m, a: m.cumsum(a), {}), ("cumsum", lambda m, a: m.cumsum(a, axis=1), {}),
    ("cumprod", lambda m, a: m.cumprod(a), {}), ("cumprod", lambda m, a: m.cumprod(a, axis=-1), {}),
    ("average", lambda m, a: m.average(a), {}),
    ("average", lambda m, a: m.average(a, axis=(0, 2), keepdims=True), {}),
    ("average", lambda m, a: m.average(a[:, :, 0], axis=1, weights=W), {}),
    ("average", lambda m, a: m.average(a[:, :, 0], axis=1, weights=W, returned=True)[1], {}),
    ("average", lambda m, a: m.average(a, axis=1, returned=True)[1], {}),
    ("ptp", lambda m, a: m.ptp(a), {}), ("ptp", lambda m, a: m.ptp(a, axis=1, keepdims=True), {}),
    ("median", lambda m, a: m.median(a), {}), ("median", lambda m, a: m.median(a, axis=1), {}),
    ("median", lambda m, a: m.median(a, axis=(0, 2), keepdims=True), {}),
    ("sort", lambda m, a: m.sort(a), {}), ("sort", lambda m, a: m.sort(a, axis=0), {}),
    ("sort", lambda m, a: m.sort(a, axis=None), {}),
    ("partition", lambda m, a: m.partition(a, 1, axis=1), {}),
    ("partition", lambda m, a: m.partition(a, (0, -1), axis=None), {}),
    ("argmax", lambda m, a: m.argmax(a), {}), ("argmax", lambda m, a: m.argmax(a, axis=1), {}),
    ("argmin", lambda m, a: m.argmin(a, axis=-1, keepdims=True), {}),
    ("argsort", lambda m, a: m.argsort(a), {}), ("argsort", lambda m, a: m.argsort(a, axis=None), {}),
    ("argsort", lambda m, a: m.argsort(a, axis=0, kind="stable"), {}),
    ("argpartition", lambda m, a: m.argpartition(a, 2, axis=1), {}),
    ("all", lambda m, a: m.all(a > -1.5), {}), ("all", lambda m, a: m.all(a, axis=1), {}),
    ("any", lambda m, a: m.any(a > 1, axis=(0, 2), keepdims=True), {}),
    ("count_nonzero", lambda m, a: m.count_nonzero(a > 0), {}),
    ("count_nonzero", lambda m, a: m.count_nonzero(a > 0, axis=1, keepdims=True), {}),
]


@pytest.mark.parametrize("data", [X, X32, T[..., None]], ids=["float64", "float32", "ties"])
@pytest.mark.parametrize(("name", "call", "_"), VALUE_CASES,
                         ids=[f"{c[0]}-{i}" for i, c in enumerate(VALUE_CASES)])
def test_values_are_numpys_exactly(name: str, call: Any, _: Any, data: np.ndarray) -> None:
    """dk.<name> on plain arrays: NumPy's values, bit for bit, with its dtype and kind of result."""
    want = call(np, data)
    got = call(dk, data)
    assert type(got) is type(want), (type(got), type(want))
    np.testing.assert_array_equal(got, want)
    assert np.asarray(got).dtype == np.asarray(want).dtype


@pytest.mark.parametrize(("name", "call", "_"), VALUE_CASES,
                         ids=[f"{c[0]}-{i}" for i, c in enumerate(VALUE_CASES)])
def test_traced_values_are_numpys_exactly(name: str, call: Any, _: Any) -> None:
    """The same calls on traced values (NumPy's functions dispatching to diffkit's)."""
    want = call(np, X)
    seen: list[Any] = []

    def f(x: Any) -> Any:
        out = call(np, x)
        seen.append(out)
        return np.sum(x)

    dk.grad(f)(X)
    got = seen[0]
    got = got.value if isinstance(got, dk.Tensor) else got
    np.testing.assert_array_equal(got, want)
    assert np.asarray(got).dtype == np.asarray(want).dtype


@pytest.mark.parametrize("method_call", [
    lambda x: x.min(), lambda x: x.prod(), lambda x: x.std(ddof=1), lambda x: x.var(),
    lambda x: x.cumsum(), lambda x: x.cumprod(), lambda x: x.all(), lambda x: x.any(),
    lambda x: x.min(1), lambda x: x.prod(0, keepdims=True), lambda x: x.var(0, None, None, 1),
    lambda x: x.cumsum(1), lambda x: x.cumprod(axis=0), lambda x: x.all(axis=0),
    lambda x: x.any(keepdims=True),
], ids=["min", "prod", "std", "var", "cumsum", "cumprod", "all", "any", "min-1", "prod-keep",
        "var-positional", "cumsum-1", "cumprod-0", "all-0", "any-keep"])
def test_array_methods(method_call: Any) -> None:
    """x.min(), x.prod(), x.std(ddof=1), … on traced values call the table's public functions."""
    x = X[:, :, 0]
    seen: list[Any] = []
    dk.grad(lambda t: seen.append(method_call(t)) or np.sum(t))(x)
    np.testing.assert_array_equal(seen[0].value, method_call(x))


NAN = np.nan
MEDIAN_NAN_CASES = [
    (np.array([1.0, NAN, 3.0]), {}),
    (np.array([[1.0, 2.0, 3.0, 4.0], [5.0, NAN, 7.0, 8.0]]), {"axis": 1}),
    (np.array([[1.0, 2.0, 3.0, 4.0], [5.0, NAN, 7.0, 8.0]]), {"axis": 0, "keepdims": True}),
    (np.arange(24.0).reshape(2, 3, 4) * np.where(np.arange(24) == 17, NAN, 1.0).reshape(2, 3, 4),
     {"axis": [0, 2]}),
    (np.array([NAN, np.inf, -np.inf, 2.0], dtype=np.float32), {}),
    (np.array([1.0, NAN, 2.0, 3.0], dtype=np.float16), {"axis": -1}),
    (np.array([1 + 1j, complex(NAN, 2.0), 3.0]), {}),
    (np.array(NAN), {}),
]


@pytest.mark.parametrize(("data", "kw"), MEDIAN_NAN_CASES,
                         ids=[f"case{i}" for i in range(len(MEDIAN_NAN_CASES))])
def test_median_of_data_holding_nan_is_numpys_nan(data: np.ndarray, kw: dict) -> None:
    """A group holding NaN has median nan (NumPy's, that NaN itself), on plain arrays, on the
    eager tape and under dk.jit — also replayed from a trace made where there was no NaN (the
    median once sorted NaN last and took the middle: a number)."""
    want = np.median(data, **kw)
    assert np.isnan(want).any()
    got = dk.median(data, **kw)
    assert type(got) is type(want), (type(got), type(want))
    for value in (got, np.median(dk.tensor(data), **kw).value):  # the tape holds arrays
        np.testing.assert_array_equal(value, want)
        assert np.asarray(value).dtype == np.asarray(want).dtype
    jitted = dk.jit(lambda d: np.median(d, **kw) * 2.0)
    clean = np.where(np.isnan(data), 0.5, data)
    np.testing.assert_array_equal(jitted(clean), np.median(clean, **kw) * 2.0)
    np.testing.assert_array_equal(jitted(data), want * 2.0)


def test_median_of_data_holding_nan_is_a_named_error_in_derivatives() -> None:
    """Inside dk.grad & co. a group holding NaN is NumPy's invalid value, as quantile's: a
    DomainError pointing at nanmedian, never a finite derivative of a nan value."""
    d = np.array([1.0, NAN, 3.0])
    with pytest.raises(dk.DomainError, match="numpy.nanmedian"):
        dk.value_and_grad(lambda w, d: w * np.median(d), wrt=0)(2.0, d)
    m = np.array([False, True, False, False])
    for method in ("reverse", "forward"):
        with pytest.raises(dk.DomainError, match="numpy.nanmedian"):
            dk.grad(lambda w: np.median(np.where(m, NAN, w)), method=method)(
                np.array([2.0, 5.0, 0.7, 4.0]))


# ----- indices: plain integers, the trace marked value-dependent ------------------------------------


@pytest.mark.parametrize(("name", "call"), [
    ("argmax", lambda x: np.argmax(x)), ("argmax", lambda x: np.argmax(x, axis=1)),
    ("argmin", lambda x: np.argmin(x, axis=0, keepdims=True)), ("argsort", lambda x: np.argsort(x)),
    ("argsort", lambda x: np.argsort(x, axis=None)),
    ("argpartition", lambda x: np.argpartition(x, 1, axis=1))])
def test_indices_are_plain_integers_and_mark_the_trace(name: str, call: Any) -> None:
    x = X[:, :, 1]
    seen: list[Any] = []

    def f(t: Any) -> Any:
        seen.append(call(t))
        return np.sum(t)

    graph = dk.function(f, inputs=["x"]).trace(x)
    assert graph.value_dependent
    assert isinstance(seen[0], np.ndarray | np.integer) and not isinstance(seen[0], dk.Tensor)
    np.testing.assert_array_equal(seen[0], call(x))
    assert REGISTRY[name].differentiable is False
    plain = dk.function(lambda t: np.sum(t), inputs=["x"]).trace(x)
    assert not plain.value_dependent


@pytest.mark.parametrize("method", ("reverse", "forward", "fd", "symbolic"))
def test_indexing_with_argmax_keeps_the_derivative(method: str) -> None:
    def f(x: Any) -> Any:
        i = np.argmax(x)
        return x[i] ** 3 + np.sum(x[np.argsort(x)[:2]])

    x = np.array([0.5, 2.0, -1.0, 1.0])
    np.testing.assert_allclose(_grad(f, x, method), [1.0, 12.0, 1.0, 0.0], atol=1e-6)
    np.testing.assert_allclose(dk.hessian(f, method="reverse")(x), np.diag([0, 12.0, 0, 0]))


def test_jit_functions_reading_indices_are_traced_again() -> None:
    """A jit function that reads an index (or sorts) holds at its point only: each call is right."""
    f = dk.jit(lambda x: x[np.argmax(x)] ** 2 + np.sum(np.sort(x) * np.arange(3.0)))
    for point, expected in (([1.0, 5.0, 2.0], [0.0, 12.0, 1.0]), ([3.0, 1.0, 2.0], [8.0, 0.0, 1.0]),
                            ([1.0, 2.0, 4.0], [0.0, 1.0, 10.0])):
        for _ in range(3):  # interpreted and (would-be) compiled calls
            np.testing.assert_allclose(dk.grad(f)(np.array(point))[0], expected)


def test_indices_under_nested_tracing() -> None:
    """Hessians (rules traced on traced values) read indices and orders through both tapes."""
    def f(x: Any) -> Any:
        return np.sum(np.sort(x) ** 3 * np.array([1.0, 2.0, 3.0])) + x[np.argmin(x)] ** 2

    x = np.array([0.5, -1.0, 2.0])
    h = np.diag([6 * 0.5 * 2, 6 * -1.0 * 1 + 2, 6 * 2.0 * 3])
    for m in ("reverse", "forward"):
        np.testing.assert_allclose(dk.hessian(f, method=m)(x), h)


# ----- truth values and counts: recorded constants ------------------------------------------------


def test_truth_values_and_counts_are_constants() -> None:
    x = np.array([[1.0, -2.0, 0.0], [3.0, 0.5, 1.0]])
    seen: dict[str, Any] = {}

    def f(t: Any) -> Any:
        seen["all"], seen["any"] = np.all(t > 0, axis=1), t.any()
        seen["count"] = np.count_nonzero(t, axis=0)
        return np.sum(np.where(np.all(t > -3), t * 2.0, t)) + np.count_nonzero(t)

    for m in ENGINES:
        np.testing.assert_allclose(_grad(f, x, m), np.full_like(x, 2.0), atol=1e-9)
    graph = dk.function(f, inputs=["x"]).trace(x)
    assert not graph.value_dependent  # recorded, not read
    for key, want in (("all", [False, True]), ("any", True), ("count", [2, 2, 1])):
        t = seen[key]
        assert isinstance(t, dk.Tensor) and not t.requires_grad
        np.testing.assert_array_equal(t.value, want)
    assert seen["all"].dtype == np.bool_ and seen["count"].dtype == np.intp

    def branch(t: Any) -> Any:
        return np.sum(t) if t.all() else -np.sum(t)

    assert dk.function(branch, inputs=["x"]).trace(x).value_dependent
    np.testing.assert_allclose(_grad(branch, x, "reverse"), -np.ones_like(x))


def test_sympy_translations_of_the_records() -> None:
    """The records' SymPy translations (the symbolic engine's independent view of them)."""
    import sympy as sp

    a, b, c = sp.symbols("a b c", real=True)
    x = np.array([[a, b], [c, 2]], dtype=object)
    assert REGISTRY["prod"].to_sympy(x, axis=None).equals(2 * a * b * c)
    assert list(REGISTRY["cumprod"].to_sympy(x.reshape(-1), axis=0)) == [a, a * b, a * b * c,
                                                                         2 * a * b * c]
    assert list(REGISTRY["cumsum"].to_sympy(x, axis=1)[0]) == [a, a + b]
    low = REGISTRY["amin"].to_sympy(x, axis=(1,))
    assert sp.diff(low[1], c).subs(c, 2) == sp.Rational(1, 2)  # a tie shares the derivative
    assert REGISTRY["all"].to_sympy(x, axis=None) == sp.And(sp.Ne(a, 0), sp.Ne(b, 0), sp.Ne(c, 0))
    assert REGISTRY["any"].to_sympy(np.array([0.0, 1.0], dtype=object)) == sp.true
    assert REGISTRY["count_nonzero"].to_sympy(np.array([0.0, 1.0, 3.0], dtype=object)) == 2
    for name in ("sort", "partition", "argmax", "argsort"):
        with pytest.raises(dk.MissingRuleError, match="method="):
            REGISTRY[name].to_sympy(x)


# ----- prepare: what the records store, and what is refused by name -------------------------------


def _nodes(f: Any, x: np.ndarray) -> dict[str, Any]:
    graph = dk.function(f, inputs=["x"]).trace(x)
    return {n.prim.name: n.params for n in graph.nodes if n.prim is not None}


def test_prepare_normalizes_axes_and_flags() -> None:
    x = X[:, :, 0]
    assert _nodes(lambda t: np.min(t, axis=-1), x)["amin"] == {"axis": (1,), "keepdims": False}
    assert _nodes(lambda t: t.prod((-1, 0), keepdims=1), x)["prod"] == {"axis": (0, 1),
                                                                          "keepdims": True}
    assert _nodes(lambda t: np.cumsum(t), x) == {"reshape": {"shape": (12,)}, "cumsum": {"axis": 0}}
    assert _nodes(lambda t: np.cumprod(t, axis=-1), x)["cumprod"] == {"axis": 1}
    assert _nodes(lambda t: np.sort(t, kind="stable"), x)["sort"] == {"axis": 1}
    assert _nodes(lambda t: np.partition(t, -1, axis=0), x)["partition"] == {"kth": -1, "axis": 0}
    assert _nodes(lambda t: np.all(t, axis=-2), x)["all"] == {"axis": (0,), "keepdims": False}
    assert _nodes(lambda t: np.count_nonzero(t, keepdims=True), x)["count_nonzero"] == {
        "axis": None, "keepdims": True}


@pytest.mark.parametrize(("call", "error", "match"), [
    (lambda t: np.min(t, axis=2), dk.ShapeError, "out of bounds"),
    (lambda t: np.min(t, out=np.empty(4)), dk.TracingError, "out="),
    (lambda t: np.min(t, initial=0.0), dk.TracingError, "initial="),
    (lambda t: np.prod(t, where=t > 0), dk.TracingError, "where="),
    (lambda t: np.var(t, dtype=np.float32), dk.TracingError, "dtype="),  # (prod takes dtype=)
    (lambda t: np.var(t, mean=np.mean(t)), dk.TracingError, "mean="),
    (lambda t: np.var(t, axis=0, ddof=3), dk.DomainError, "ddof"),
    (lambda t: np.std(t, ddof=1, correction=1), dk.DomainError, "simultaneously"),
    (lambda t: np.cumsum(t, axis=(0, 1)), dk.ShapeError, "one axis"),
    (lambda t: np.sort(t, order="f"), dk.TracingError, "order="),
    (lambda t: np.sort(t[0, 0]), dk.ShapeError, "0 dimensions"),
    (lambda t: np.partition(t, 4), dk.ShapeError, "kth=4"),
    (lambda t: np.argmax(t, out=np.empty(3, dtype=np.intp)), dk.TracingError, "out="),
    (lambda t: np.argmax(t, axis=(0, 1)), dk.ShapeError, "one axis"),
    (lambda t: np.average(t, weights=np.ones(4)), dk.ShapeError, "axis="),
    (lambda t: np.average(t, axis=0, weights=np.ones(4)), dk.ShapeError, "do not fit"),
    (lambda t: np.average(t, axis=1, weights=np.array([1.0, -1.0, 0.0, 0.0])), dk.DomainError,
     "sum to 0"),
    (lambda t: np.median(t, out=np.empty(3)), dk.TracingError, "out="),
])
def test_refused_by_name(call: Any, error: type, match: str) -> None:
    x = X[:, :, 0]
    with pytest.raises(error, match=match):
        dk.grad(lambda t: np.sum(call(t)))(x)


@pytest.mark.parametrize(("call", "error", "builtin", "match"), [
    (lambda t: np.var(t, ddof=1, correction=1), dk.DomainError, ValueError, "simultaneously"),
    (lambda t: np.std(t, ddof="a"), dk.InputTypeError, TypeError, "ddof must be a real number"),
    (lambda t: np.var(t, ddof=None), dk.InputTypeError, TypeError, "ddof must be a real number"),
    (lambda t: np.var(t, correction="1"), dk.InputTypeError, TypeError,
     "correction must be a real number"),
], ids=["ddof and correction", "ddof str", "ddof None", "correction str"])
def test_bad_arguments_are_named_errors_of_numpys_type(call, error, builtin, match) -> None:
    """Bad ddof/correction: diffkit's named error, of the builtin type NumPy raises (they were a
    bare TypeError where NumPy's is a ValueError, and NumPy's str/None mistakes surfaced from
    inside diffkit's arithmetic)."""
    assert_named_error(call, X[:, :, 0], error, builtin, match)


def test_average_weights_are_differentiable_and_returned() -> None:
    x, w = X[:, :, 0], W
    avg, scale = np.average(x, axis=1, weights=w, returned=True)

    def f(x: Any, w: Any) -> Any:
        a, s = np.average(x, axis=1, weights=w, returned=True)
        np.testing.assert_array_equal(a.node.value, avg)
        np.testing.assert_array_equal(s.node.value, scale)
        return np.sum(a * np.array([1.0, 2.0, 3.0])) + np.sum(s)

    gx, gw = dk.grad(f)(x, w)
    np.testing.assert_allclose(gx, np.outer([1.0, 2.0, 3.0], w / w.sum()))
    expected_w = (np.array([1.0, 2.0, 3.0]) @ (x - avg[:, None])) / w.sum() + 3.0
    np.testing.assert_allclose(gw, expected_w)


def test_records_are_declared_in_this_family() -> None:
    from diffkit.primitives.declare import NAMES

    for name in COVERS:
        assert NAMES[name] == "diffkit.primitives.reductions"
        assert getattr(dk, name) is (REGISTRY.get(name) or dk.primitive.COMPOSITES[name])


# ----- a GPU: the rules run on CuPy arrays (skipped without one) -----------------------------------


@pytest.mark.gpu
@pytest.mark.skipif(not dk.backend.gpu_available(), reason="needs CuPy and a GPU")
def test_rules_on_cupy_arrays() -> None:
    import cupy

    x = np.array([[0.5, 0.0, -1.5, 2.0], [1.0, 1.0, 3.0, -0.5]])
    c = np.linspace(0.5, 1.5, 4)

    def loss(t: Any, xp: Any) -> Any:
        cc = xp.asarray(c)
        return (np.sum(np.min(t, axis=1)) + np.sum(np.prod(t, axis=0))
                + np.sum(np.cumprod(t, axis=1) * cc) + np.sum(np.sort(t, axis=1) * cc)
                + np.median(t) + np.sum(np.std(t, axis=1)))

    grads = []
    for xp in (np, cupy):
        t = dk.tensor(xp.asarray(x), requires_grad=True)
        out = loss(t, xp)
        out.backward(xp.ones((), dtype=xp.float64))
        grads.append(dk.backend.to_numpy(t.grad))
    np.testing.assert_allclose(grads[1], grads[0], rtol=1e-12)
