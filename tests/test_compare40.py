"""Fixes of hunt 40 (comparison, traces, SymPy bridge), each checked against an independent
reference: mpmath at 50 digits, hand-derived derivatives, or the exact text a reader expects."""

from __future__ import annotations

import mpmath as mp
import numpy as np
import pytest
import sympy as sp

import diffkit as dk

FAST = {"repeat": 1, "budget": 0.001}


# ----- 1: compare's errors against the exact reference at full precision ---------------------


def _true_error(value: float, exact: mp.mpf) -> float:
    with mp.workdps(50):
        return float(abs(mp.mpf(value) - exact))


def test_compare_errors_against_full_precision_reference() -> None:
    """d/dx sin(0.1·x) at 3 (0.1 as its binary value): symbolic reported 0 (true 2.43e-18),
    fd-complex 1.39e-17 (true 1.15e-17), measured against the reference rounded to float64."""
    with mp.workdps(50):
        c = mp.mpf(0.1)
        exact = c * mp.cos(c * 3)
    cmp = dk.compare("sin(0.1*x)", 3.0, methods=["symbolic", "fd-complex"], **FAST)
    assert cmp.reference_kind.startswith("exact")
    for r in cmp.rows:
        true = _true_error(float(r.value[0]), exact)
        assert true > 0
        assert r.abs_error == pytest.approx(true, rel=1e-12)
        with mp.workdps(50):
            assert r.rel_error == pytest.approx(float(true / abs(exact)), rel=1e-12)
    # a correctly rounded answer shows its rounding error, at most half an ulp, not 0
    sym = cmp.row("symbolic")
    assert 0 < sym.abs_error <= np.spacing(abs(float(exact))) / 2


def test_compare_readme_example_ad_rows_show_rounding() -> None:
    """The README's ln(x1) + x1·x2 − sin(x2) at (2, 5): every AD row printed 0."""
    with mp.workdps(50):
        exact = [mp.mpf(5) + 1 / mp.mpf(2), mp.mpf(2) - mp.cos(mp.mpf(5))]
    cmp = dk.compare("ln(x1) + x1*x2 - sin(x2)", 2.0, 5.0, methods=["forward", "reverse"],
                     **FAST)
    for r in cmp.rows:
        true = max(_true_error(float(v), e) for v, e in zip(r.value, exact))
        assert r.abs_error == pytest.approx(true, rel=1e-12)
        assert r.abs_error > 0


def test_compare_float64_reference_says_so() -> None:
    """Where only reverse mode's float64 value is the reference, the header says errors are
    measured against that rounded value."""
    cmp = dk.compare("(1-cos(x))/x**2", 1e-70, methods=["reverse"], **FAST)
    assert cmp.reference_kind.startswith("reverse mode in float64")
    assert "errors against this rounded value" in cmp.reference_kind
    assert cmp.row("reverse").abs_error == 0


# ----- 2: constants in symbolic partials print as the double they stand for --------------------


def test_trace_constant_in_partial_prints_shortest() -> None:
    t = dk.trace(dk.parse("x^0.3"), 2.0)
    row = next(line for line in t.to_text().splitlines() if line.startswith("v₁"))
    assert "0.3/v₀^0.7 " in row and "0.70000000000000001" not in row
    assert "0.70000000000000001" not in t.to_markdown()
    assert r"v_{0}^{0.7}" in t.to_latex()
    assert "0.70000000000000001" not in dk.draw(dk.parse("x^0.3"), 2.0).source


def test_float_text_keeps_high_precision_floats() -> None:
    from diffkit.traces.formats import float_text

    assert float_text(sp.Float(0.3, 17)) == "0.3"
    assert float_text(sp.Float(0.3, 17) - 1) == "-0.7"
    # 30 digits that are no double: as SymPy prints them
    assert float_text(sp.Float(0.3, 30) - 1) == "-0.700000000000000011102230246252"
    assert float_text(sp.Float("0.1", 40)).startswith("0.10000000000000000000000000000000")


# ----- 3: where's partials with respect to its branches as numbers ------------------------------


def _where(x, y):
    return np.where(x > y, x * y, x - y)


def test_trace_where_partials_print_as_numbers() -> None:
    text = dk.trace(_where, 2.0, 1.0).to_text()
    assert "Piecewise" not in text
    lines = text.splitlines()
    v4 = next(line for line in lines if line.startswith("v₄ "))
    assert "∂v₄/∂v₂ = 1.000; ∂v₄/∂v₃ = 0.000" in v4
    assert any(line.startswith("v̄₂  = v̄₄ × 1.000 ") for line in lines)
    assert any(line.startswith("v̄₃  = v̄₄ × 0.000 ") for line in lines)
    forward = dk.trace(_where, 2.0, 1.0, mode="forward")
    assert "v̇₂ × 1.000 + v̇₃ × 0.000" in forward.to_text()
    assert "Piecewise" not in forward.to_latex() + forward.to_markdown()
    assert "Piecewise" not in dk.draw(_where, 2.0, 1.0).source


def test_trace_relu_partial_keeps_its_formula() -> None:
    """A piecewise partial that reads a differentiable variable keeps its formula."""
    assert "Piecewise((1, v₀ > 0), (0, True))" in dk.trace(dk.parse("relu(x)"), 1.0).to_text()


# ----- 4: n-ary Max/Min from SymPy share a tie equally ----------------------------------------


X, Y, Z = sp.symbols("x y z", real=True)


@pytest.mark.parametrize("method", ["symbolic", "forward", "reverse"])
def test_from_sympy_nary_max_shares_tie_equally(method: str) -> None:
    f = dk.from_sympy(sp.Max(X, Y, Z))
    assert dk.grad(f, method=method)(1.0, 1.0, 1.0) == pytest.approx((1 / 3, 1 / 3, 1 / 3))
    assert dk.grad(f, method=method)(1.0, 2.0, 2.0) == pytest.approx((0.0, 0.5, 0.5))
    assert dk.grad(f, method=method)(3.0, 2.0, 1.0) == pytest.approx((1.0, 0.0, 0.0))


@pytest.mark.parametrize("method", ["symbolic", "forward", "reverse"])
def test_from_sympy_nary_min_tie_of_powers(method: str) -> None:
    """Min(x, x², x³) at 1: all three tie, each gets ⅓: (1 + 2 + 3)/3 = 2 (a pairwise fold
    gave ½·(½·1 + ½·2) + ½·3 = 2.25). At ½ the cube is least: 3·¼."""
    g = dk.from_sympy(sp.Min(X, X**2, X**3))
    assert dk.grad(g, method=method)(1.0) == pytest.approx((2.0,))
    assert dk.grad(g, method=method)(0.5) == pytest.approx((0.75,))


def test_from_sympy_nary_max_broadcasts() -> None:
    f = dk.from_sympy(sp.Max(X, Y, Z))
    x = np.array([1.0, 5.0])
    assert np.array_equal(f(x, 2.0, 3.0), [3.0, 5.0])
    assert np.allclose(dk.jacobian(f)(x, 2.0, 3.0), [[0, 0, 0, 1], [0, 1, 0, 0]])


# ----- 5: the adjoint of a multi-letter name ---------------------------------------------------


def test_trace_multi_letter_adjoint_names() -> None:
    f = dk.parse("weight*bias + x1")
    text = dk.trace(f, 2.0, 3.0, 1.0).to_text()
    assert "w̄eight" not in text and "b̄ias" not in text
    assert "adj(weight) = v̄₋₂" in text and "adj(bias)   = v̄₋₁" in text
    assert "x̄₁          = v̄₀" in text  # one letter: the bar, as before
    assert r"\overline{weight}" in dk.trace(f, 2.0, 3.0, 1.0).to_latex()
    forward = dk.trace(f, 2.0, 3.0, 1.0, mode="forward")
    assert "d(weight) = 1" in forward.title() and "x\u0307₁ = 0" in forward.title()


def test_trace_baydin_single_letter_names_unchanged() -> None:
    text = dk.trace(dk.parse("ln(x1) + x1*x2 - sin(x2)"), 2.0, 5.0).to_text()
    assert "x̄₁  = v̄₋₁" in text and "x̄₂  = v̄₀" in text
