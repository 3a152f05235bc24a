"""Property test: random expression trees over the primitive set; all four engines agree.

Inputs stay inside every domain by construction: logs and square roots only see 1 + u², division
only by 1 + v², powers only of 1 + u² or with integer exponents.
"""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

import diffkit as dk

UNARY = [
    "sin({})", "cos({})", "tanh({})", "arctan({})", "sigmoid({})", "exp(tanh({}))",
    "log(1 + ({})^2)", "sqrt(1 + ({})^2)", "log1p(({})^2)", "softplus({})", "-({})",
    "({})^2", "({})^3", "(1 + ({})^2)^0.5", "sinh(tanh({}))", "cosh(tanh({}))",
    "arcsin(tanh({}) * 0.9)", "abs({}) ^ 2",
]
BINARY = [
    "({}) + ({})", "({}) - ({})", "({}) * ({})", "({}) / (1 + ({})^2)",
    "(1 + ({})^2) ^ sin({})",
]

leaves = st.sampled_from(["x", "y", "z", "0.5", "2", "pi"])


def _extend(children: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    unary = st.tuples(st.sampled_from(UNARY), children).map(lambda t: t[0].format(t[1]))
    binary = st.tuples(st.sampled_from(BINARY), children, children).map(
        lambda t: t[0].format(t[1], t[2]))
    return unary | binary


expressions = st.recursive(leaves, _extend, max_leaves=8)
points = st.tuples(*[st.floats(-1.5, 1.5, allow_nan=False) for _ in range(3)])


def _agree(a: np.ndarray, b: np.ndarray, rtol: float, atol: float, what: str) -> None:
    scale = max(1.0, float(np.max(np.abs(b))))
    np.testing.assert_allclose(a, b, rtol=rtol, atol=atol * scale, err_msg=what)


@settings(max_examples=80, deadline=None)
@given(expr=expressions, point=points)
def test_random_expressions_all_engines_agree(expr: str, point: tuple[float, float, float]) -> None:
    f = dk.parse(expr, inputs=["x", "y", "z"])
    ref = np.array(dk.grad(f, method="reverse")(*point))
    for m in ("forward", "symbolic"):
        _agree(np.array(dk.grad(f, method=m)(*point)), ref, 1e-10, 1e-10, f"{m}: {expr} at {point}")
    _agree(np.array(dk.grad(f, method="fd")(*point)), ref, 1e-5, 1e-6, f"fd: {expr} at {point}")


@settings(max_examples=25, deadline=None)
@given(expr=expressions, point=points)
def test_random_expressions_hessians_agree(expr: str, point: tuple[float, float, float]) -> None:
    f = dk.parse(expr, inputs=["x", "y", "z"])
    ref = dk.hessian(f, method="reverse")(*point)
    np.testing.assert_allclose(ref, ref.T, rtol=1e-10, atol=1e-10)
    for m in ("forward", "symbolic"):
        _agree(dk.hessian(f, method=m)(*point), ref, 1e-9, 1e-9, f"{m}: {expr} at {point}")
    _agree(dk.hessian(f, method="fd")(*point), ref, 1e-3, 1e-4, f"fd: {expr} at {point}")
