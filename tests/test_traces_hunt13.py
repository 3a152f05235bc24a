"""Hunt 13 on traces and drawings: inputs and seeds that are not finite, values shown as 0.000 that
are not zero, -0.0, huge values, rounded constants, the drawing's digits on edges, boolean partials,
the forward title's seed and the output's name when y, f, out and _y are all inputs.

Each expectation is written out by hand from the exact values (no output of diffkit compared with
itself)."""

from __future__ import annotations

import math
import re

import numpy as np
import pytest

import diffkit as dk
from diffkit.errors import DomainError

# ----- 1. a point that is not finite: the DomainError dk.grad raises ------------------------------


@pytest.mark.parametrize("bad", [math.inf, -math.inf, math.nan])
def test_trace_refuses_a_point_that_is_not_finite_as_grad_does(bad: float) -> None:
    f = dk.parse("sin(x) + 1")
    with pytest.raises(DomainError, match="input 'x' .* not finite"):
        dk.grad(f)(bad)
    with pytest.raises(DomainError, match="input 'x' .* not finite"):
        dk.trace(f, bad)
    with pytest.raises(DomainError, match="input 'x' .* not finite"):
        dk.trace(f, bad, mode="forward")


def test_draw_refuses_a_point_that_is_not_finite() -> None:
    pytest.importorskip("graphviz")
    with pytest.raises(DomainError, match="input 'x' .* not finite"):
        dk.draw("x + 1", math.inf)


def test_trace_refuses_an_array_input_with_an_infinite_element() -> None:
    g = dk.function(lambda v: dk.sum(v * 2.0))
    with pytest.raises(DomainError, match="input 'v' .* not finite"):
        dk.trace(g, np.array([1.0, np.inf]))


def test_tensor_trace_refuses_a_leaf_that_is_not_finite() -> None:
    a = dk.tensor(np.array([1.0, np.inf]), requires_grad=True)
    z = dk.sum(a * 2.0)
    with pytest.raises(DomainError, match="not finite"):
        dk.trace(z)


# ----- 2. values that are not zero, -0.0 and huge values ------------------------------------------


def _value_cell(text: str, lhs: str) -> list[str]:
    return [line.rsplit("=", 1)[1].strip() for line in text.splitlines()
            if line.startswith(lhs + " ")]


def test_nonzero_values_that_round_to_zero_are_shown_in_scientific_notation() -> None:
    t = dk.trace("x^2 + 1e-4*x", -1e-5)  # x̄ = 2x + 1e-4 = 8e-5
    text = t.to_text()
    assert _value_cell(text, "v₀") == ["-1.00e-05"]
    assert _value_cell(text, "x̄") == ["8.00e-05"]
    assert "-1.00e-05" in t.to_markdown() and "8.00e-05" in t.to_html()
    assert "8.00e-05" in t.to_latex()


def test_sigmoid_tail_is_not_shown_as_zero_at_nine_digits() -> None:
    exact = math.exp(-40.0) / (1 + math.exp(-40.0)) ** 2  # sigmoid'(40) = 4.248…e-18
    lines = dk.trace("sigmoid(x)", 40.0).to_text(9)
    assert _value_cell(lines, "x̄") == [format(exact, ".8e")]


def test_huge_values_are_shown_in_scientific_notation() -> None:
    text = dk.trace("x*1e200", 3.0).to_text()
    assert _value_cell(text, "y") == ["3.00e+200"]
    assert all(len(cell) < 20 for cell in _value_cell(text, "v₁"))


def test_negative_zero_keeps_its_sign_where_copysign_reads_it() -> None:
    f = dk.function(lambda x, y: dk.copysign(x, y))
    text = dk.trace(f, 1.5, -0.0).to_text()
    assert _value_cell(text, "v₀") == ["-0.000"]  # so that v₁ = copysign(v₋₁, v₀) = -1.500 reads
    assert _value_cell(text, "v₁") == ["-1.500"]


def test_ordinary_values_print_as_before() -> None:
    text = dk.trace("ln(x1) + x1*x2 - sin(x2)", 2, 5).to_text()
    assert _value_cell(text, "x̄₂") == ["1.716"]
    assert _value_cell(text, "v₀") == ["5.000"]
    assert _value_cell(text, "v₂") == ["10.000"]


def test_drawing_shows_small_values_and_contributions_honestly() -> None:
    pytest.importorskip("graphviz")
    src = dk.draw("x^2 + 1e-4*x", -1e-5).source
    assert "v̄₀ = 1.00e-04 + -2.00e-05 = 8.00e-05" in src
    assert "v₀ = -1.00e-05" in src


# ----- 3. constants identify the number they stand for ----------------------------------------


def _row(text: str, lhs: str) -> str:
    return next(line for line in text.splitlines() if line.startswith(lhs + " "))


def test_constants_in_expressions_are_not_rounded_away() -> None:
    assert "v₀ × 1.0000001" in _row(dk.trace("x*1.0000001 - x", 2.0).to_text(9), "v₁")
    assert "v₀ + 1234567 " in _row(dk.trace("x + 1234567", 2.0).to_text(), "v₁")
    assert "v₀^1.0000001 " in _row(dk.trace("x^1.0000001", 2.0).to_text(9), "v₁")


def test_seed_constants_print_as_before() -> None:
    assert "v₋₁^2 " in _row(dk.trace("x^2*y + y + 2", 3, 4).to_text(), "v₁")
    assert "v₃ + 2 " in _row(dk.trace("x^2*y + y + 2", 3, 4).to_text(), "v₄")
    assert "0.5 × v₀" in _row(dk.trace("0.5*x", 3).to_text(), "v₁")


def test_constants_in_partial_formulas_have_no_float_noise() -> None:
    row = _row(dk.trace("x^2 + 0.3*x^1.5", 2.0).to_text(), "v₃")  # 0.3 × v₂ or similar
    assert "0.29999999999999999" not in row
    row = _row(dk.trace("x^1.3", 2.0).to_text(), "v₁")  # ∂/∂v₀ = 1.3 × v₀^0.3 (0.30000000000000004)
    assert "1.3 × v₀^" in row and "1.3000000000000000" not in row


def test_drawn_constant_boxes_identify_the_constant() -> None:
    pytest.importorskip("graphviz")
    src = dk.draw("x*1e-4 + x", 2.0).source
    assert re.findall(r'c0 \[label="?([^" ]*)', src) == ["1.00e-04"]
    src = dk.draw("x*1.0000001 - x", 2.0).source
    assert re.findall(r'c0 \[label="?([^" ]*)', src) == ["1.0000001"]
    src = dk.draw("x*2 + x", 2.0).source  # an ordinary one as before
    assert re.findall(r'c0 \[label="?([^" ]*)', src) == ["2.000"]


# ----- 4. the drawing's digits on its edges -----------------------------------------------------


def test_drawing_digits_apply_to_local_partials() -> None:
    pytest.importorskip("graphviz")
    src = dk.draw("sin(x)*y", 1.0, 2.0, digits=6).source
    assert f"∂v₁/∂v₋₁ = cos(v₋₁) = {math.cos(1.0):.6f}" in src
    src = dk.draw("sin(x)*y", 1.0, 2.0).source
    assert f"∂v₁/∂v₋₁ = cos(v₋₁) = {math.cos(1.0):.3f}<" in src


# ----- 5. seeds that are not finite ---------------------------------------------------------------


@pytest.mark.parametrize("bad", [math.nan, math.inf])
def test_a_seed_that_is_not_finite_is_named(bad: float) -> None:
    f = dk.parse("ln(x1) + x1*x2 - sin(x2)")
    with pytest.raises(DomainError, match="seed ẋ for 'x1' is not finite"):
        dk.trace(f, 2.0, 5.0, mode="forward", seed=[bad, 0.0])
    with pytest.raises(DomainError, match="seed ȳ is not finite"):
        dk.trace(f, 2.0, 5.0, seed=bad)


# ----- 6. the output's name -----------------------------------------------------------------------


def test_output_name_never_clashes_with_the_inputs() -> None:
    g = dk.function(lambda y, f, out, _y: y * f + out * _y)
    t = dk.trace(g, 1.0, 2.0, 3.0, 4.0)
    assert t.out_key not in ("y", "f", "out", "_y")
    assert t.derivative == (2.0, 1.0, 4.0, 3.0)


# ----- 7. where's partials are numbers ----------------------------------------------------------


def test_boolean_partials_print_as_numbers() -> None:
    f = dk.function(lambda x, y, z: dk.where(x > 0, y * x, z))
    row = next(line for line in dk.trace(f, 1.0, 2.0, 3.0).to_text().splitlines()
               if "where" in line)
    assert "True" not in row.replace("(0, True)", "").replace("(1, True)", "")
    assert "= 1.000;" in row and row.count("= 0.000") == 1


# ----- 8. the forward title names the inputs' tangents ------------------------------------------


def test_forward_title_names_each_inputs_tangent() -> None:
    f = dk.function(lambda x, y: x * y)
    title = dk.trace(f, 3.0, 4.0, mode="forward", seed=[1.0, -5.0]).title()
    assert title.endswith("(forward mode, x\u0307 = 1, y\u0307 = -5)")  # as the rows write them


def test_forward_title_of_the_seeds_is_unchanged() -> None:
    title = dk.trace("ln(x1) + x1*x2 - sin(x2)", 2, 5, mode="forward").title()
    assert title.endswith("(forward mode, ẋ = (1, 0))")


def test_title_shows_the_point_exactly_enough_to_identify_it() -> None:
    assert " at x = 1.0000001 (" in dk.trace("x*2", 1.0000001).title()
    assert " at x1 = 2, x2 = 5 (" in dk.trace("ln(x1) + x1*x2 - sin(x2)", 2, 5).title()
