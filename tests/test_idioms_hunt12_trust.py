"""Python idioms in the functions users write (this session's hunt; hand-derived references)."""

from __future__ import annotations

import numpy as np
import pytest

import diffkit as dk


def nested(x):
    return ((x * 2.0, [np.sum(x) ** 2]), x[0] * x[1])


# outputs, in order: 2x0, 2x1, (x0 + x1)², x0·x1 — at (1, 2)
JACOBIAN = np.array([[2.0, 0.0], [0.0, 2.0], [6.0, 6.0], [2.0, 1.0]])


@pytest.mark.parametrize("method", ["reverse", "forward", "symbolic", "compiled", "fd-central"])
def test_a_nested_tuple_output_is_its_pieces_in_order(method):
    # it was a bare NumPy ValueError ("inhomogeneous shape") everywhere but dk.vjp
    x = np.array([1.0, 2.0])
    np.testing.assert_allclose(dk.jacobian(nested, method=method)(x), JACOBIAN, rtol=1e-8)
    y, t = dk.jvp(nested, (x,), (np.ones(2),), method=method)
    np.testing.assert_allclose(y, [2.0, 4.0, 9.0, 2.0])
    np.testing.assert_allclose(t, JACOBIAN @ np.ones(2), rtol=1e-8)


def test_a_nested_tuple_output_called():
    x = np.array([1.0, 2.0])

    def check(out):  # the call returns what the body returns: ((2x, (Σx)²), x0·x1)
        (twice, (square,)), product = out
        np.testing.assert_array_equal(twice, [2.0, 4.0])
        assert square == 9.0 and product == 2.0

    check(dk.function(nested)(x))
    f = dk.jit(nested)
    check(f(x))
    check(f(x))
    _, pullback = dk.vjp(nested, x)
    np.testing.assert_allclose(pullback(np.ones(4))[0], JACOBIAN.T @ np.ones(4))


def test_an_empty_nested_output_is_named():
    with pytest.raises(dk.TracingError, match="empty"):
        dk.function(lambda x: ((), []))(1.0)


def scalar_fast_path(x):
    if isinstance(x, float):   # a NumPy user's dispatch: a traced value is no float
        return x ** 2
    return x ** 3


def test_compare_refuses_a_function_whose_trace_takes_another_path():
    # the plain call is x² (f′(2) = 4); every AD row and the exact reference differentiated
    # the traced path x³ and agreed with each other at 12, with error 0
    assert scalar_fast_path(2.0) == 4.0
    with pytest.raises(dk.NotRepeatableError, match="isinstance"):
        dk.compare(scalar_fast_path, 2.0)


def test_compare_still_takes_a_black_box_and_rounding_differences():
    from scipy import special

    table = dk.compare(lambda x: special.ellipk(x) * x, 0.3, methods=["fd-central"])
    assert table.rows
    table = dk.compare(lambda x: np.sum(np.sin(x) ** 2 * np.exp(x)), np.linspace(0, 1, 7))
    assert table.row("reverse").abs_error < 1e-12


def test_compare_takes_infinite_and_nan_outputs():
    # the traced-against-plain check subtracted ∞ − ∞ under the strict error state (found in
    # this session's review): a FloatingPointError instead of the table
    table = dk.compare(lambda x: x - np.inf, 1.0, methods=["reverse"])
    assert table.rows
    table = dk.compare(lambda x: np.array([x * 2.0, np.nan]), 1.0, methods=["reverse"])
    assert table.rows


def test_fd_names_a_type_branch_and_does_not_only_send_to_an_ad_method():
    # the message named random draws and kept state only, and advised method='reverse', which
    # differentiates the traced path x³ (12) where the function is x² here (4)
    with pytest.raises(dk.NotRepeatableError, match="isinstance"):
        dk.grad(scalar_fast_path, method="fd-central")(2.0)
