"""The symbolic engine on integer and boolean values (a hunt of stop 41).

A gradient of sum(v · k(v)) with k an integer function of v (astype cuts the derivative) is
k(v) itself, computed here by NumPy's own fixed-width arithmetic: the symbolic engine computed
SymPy's unbounded integers (int8: 2·100 gave 200 where NumPy's is −56).
"""

import numpy as np
import pytest

import diffkit as dk

X = np.array([1.0, 2.0, 3.0])
X2 = np.array([5.0, 6.0, 7.0])

CASES = [
    (lambda v: v.astype(np.int8) * np.int8(100), X),
    (lambda v: v.astype(np.uint8) - np.uint8(5), X),
    (lambda v: v.astype(np.int8) * v.astype(np.int8) * np.int8(10), X2),
    (lambda v: v.astype(np.int16) * np.int16(20000), X),
    (lambda v: v.astype(np.int64) * 3, X),
]


@pytest.mark.parametrize("case", range(len(CASES)))
@pytest.mark.parametrize("method", ["symbolic", "reverse", "forward"])
def test_integer_arithmetic_wraps_as_numpys(case, method):
    k, x = CASES[case]
    with np.errstate(over="ignore"):
        expected = k(x).astype(float)  # NumPy's wraparound
    (g,) = dk.grad(lambda v: np.sum(v * k(v)), method=method)(x)
    np.testing.assert_array_equal(g, expected)


@pytest.mark.parametrize("f", [
    lambda v: np.sum(v) * np.max((v > 1.5) + (v < 2.5)),
    lambda v: np.sum(v) * np.max(v > 1.5),
    lambda v: np.sum(v * np.maximum(v > 1.5, v < 2.5)),
    lambda v: np.sum(v * np.where(v > 1.5, v < 2.5, v > 1.5)),
])
def test_symbolic_refuses_what_sympy_cannot_take_on_masks_by_name(f):
    x = np.array([1.0, 2.0, 3.0, 0.2])
    try:
        (g,) = dk.grad(f, method="symbolic")(x)
    except dk.MissingRuleError as exc:
        assert "method='reverse'" in str(exc)
    else:  # where it answers, it answers NumPy's
        np.testing.assert_array_equal(g, dk.grad(f, method="forward")(x)[0])
