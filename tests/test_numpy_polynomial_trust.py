"""Trust: numpy.polynomial's evaluation functions with multi-dimensional coefficients.

``polyval(x, c)`` gives c one trailing axis per axis of x only for an ndarray x; a traced x took
the ``tensor=False`` layout, another function (value and gradient silently wrong in every AD
method). The reference is NumPy on plain arrays: the value, and the derivative from the
family's own ``*der`` of the coefficients (hand-derived: d/dx Σ p(x)² = Σ 2 p(x) p′(x))."""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.polynomial as npp
import pytest

import diffkit as dk

FAMILIES = [(npp.polynomial.polyval, npp.polynomial.polyder),
            (npp.chebyshev.chebval, npp.chebyshev.chebder),
            (npp.legendre.legval, npp.legendre.legder),
            (npp.laguerre.lagval, npp.laguerre.lagder),
            (npp.hermite.hermval, npp.hermite.hermder),
            (npp.hermite_e.hermeval, npp.hermite_e.hermeder)]
X = np.array([0.5, -0.3, 0.8])
C2 = np.arange(9.0).reshape(3, 3) / 4 - 0.7
C3 = np.arange(12.0).reshape(3, 2, 2) / 5 - 1.0
METHODS = ["reverse", "forward", "symbolic"]


@pytest.mark.parametrize("val, der", FAMILIES, ids=lambda f: getattr(f, "__name__", ""))
@pytest.mark.parametrize("c", [C2, C3], ids=["2-D", "3-D"])
@pytest.mark.parametrize("method", METHODS)
def test_multi_dimensional_coefficients(val: Any, der: Any, c: np.ndarray, method: str) -> None:
    def f(x: Any) -> Any:
        return np.sum(val(x, c) ** 2)

    p, dp = val(X, c), val(X, der(c))  # plain arrays: NumPy's layout, shape c.shape[1:] + (3,)
    want = np.sum(2 * p * dp, axis=tuple(range(p.ndim - 1)))
    value, (grad,) = dk.value_and_grad(f, method=method)(X)
    assert value == pytest.approx(np.sum(p ** 2), rel=1e-13)
    np.testing.assert_allclose(grad, want, rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(dk.grad(dk.jit(f))(X)[0], want, rtol=1e-12, atol=1e-13)


def test_two_dimensional_points() -> None:
    x = np.array([[0.5, -0.3], [0.8, 0.1]])

    def f(x: Any) -> Any:
        return np.sum(npp.polynomial.polyval(x, C2) ** 2)

    p, dp = npp.polynomial.polyval(x, C2), npp.polynomial.polyval(x, npp.polynomial.polyder(C2))
    value, (grad,) = dk.value_and_grad(f)(x)
    assert value == pytest.approx(np.sum(p ** 2), rel=1e-13)
    np.testing.assert_allclose(grad, np.sum(2 * p * dp, axis=0), rtol=1e-12)


def test_from_roots_with_two_dimensional_roots() -> None:
    r = np.array([[0.1, -0.4], [0.7, 0.2], [-0.5, 0.3]])

    def f(x: Any) -> Any:
        return np.sum(npp.polynomial.polyvalfromroots(x, r))

    # by hand: each column's ∏(x − r_k), its derivative Σ_k ∏_{l≠k}(x − r_l)
    d = X[None, None, :] - r[:, :, None]  # (roots, columns, points)
    want = sum(np.prod(np.delete(d, k, axis=0), axis=0) for k in range(len(r))).sum(axis=0)
    np.testing.assert_allclose(dk.grad(f)(X)[0], want, rtol=1e-12)
    assert dk.function(f)(X) == pytest.approx(f(X), rel=1e-14)


def test_plain_calls_are_numpys_own() -> None:
    for module_name, name in dk.numpy_polynomial.EVALUATORS:
        fn = getattr(getattr(npp, module_name), name)
        original = fn.numpy_function
        for x in (0.3, X, [0.1, 0.2, 0.4]):
            for tensor in (True, False):
                np.testing.assert_array_equal(fn(x, C2, tensor), original(x, C2, tensor))


def test_keywords_as_numpy_names_them() -> None:
    """The wrappers take NumPy's parameter names (polyvalfromroots' second is r: a wrapper
    naming it c broke every keyword call of it once diffkit was imported)."""
    assert npp.polynomial.polyvalfromroots(x=2.0, r=[1.0, 3.0]) == -1.0
    assert npp.polynomial.polyval(x=2.0, c=[1.0, 3.0], tensor=False) == 7.0
    r = np.ones((3, 2))

    def f(x: Any) -> Any:
        return np.sum(npp.polynomial.polyvalfromroots(x=x, r=r))

    # by hand: two columns of (x − 1)³, so d/dx Σ = 6 (x − 1)²
    np.testing.assert_allclose(dk.grad(f)(X)[0], 6 * (X - 1) ** 2, rtol=1e-14)
