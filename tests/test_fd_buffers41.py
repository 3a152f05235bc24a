"""Finite differences of a function that returns a buffer it reuses (a hunt of stop 41).

``buf[:] = …; return buf`` is a common NumPy idiom; every call of such f overwrote the values the
quotient had already taken, so every difference was 0 (a zero Jacobian, silently).
"""

import numpy as np
import pytest

import diffkit as dk

X = np.array([0.2, 0.5])
FD = ("fd", "fd-forward", "fd-central", "fd-richardson")


def _reusing():
    buf = np.empty(2)

    def f(x):
        buf[:] = np.sin(x) * 2.0
        return buf
    return f


@pytest.mark.parametrize("method", FD)
def test_jacobian_and_jvp_of_a_reused_output_buffer(method):
    f = _reusing()
    expected = np.diag(2 * np.cos(X))  # hand
    np.testing.assert_allclose(dk.jacobian(f, method=method)(X), expected, rtol=1e-6, atol=1e-9)
    _, t = dk.jvp(f, (X,), (np.ones(2),), method=method)
    np.testing.assert_allclose(t, 2 * np.cos(X), rtol=1e-6)


@pytest.mark.parametrize("method", ("fd", "fd-richardson"))
def test_hessian_through_a_reused_output_buffer(method):
    f = _reusing()
    H = dk.hessian(lambda x: f(x).sum(), method=method)(X)
    np.testing.assert_allclose(H, np.diag(-2 * np.sin(X)), rtol=1e-4, atol=1e-6)


def test_a_tuple_of_reused_buffers():
    a, b = np.empty(2), np.empty(())

    def f(x):
        a[:] = x * x
        b[()] = np.sum(np.exp(x))
        return a, b
    J = dk.jacobian(f, method="fd")(X)
    np.testing.assert_allclose(J, np.vstack([np.diag(2 * X), np.exp(X)]), rtol=1e-6)
