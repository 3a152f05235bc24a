"""Evaluation traces and drawings: the Baydin et al. (2018) tables, stable DOT, rendering."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest

import diffkit as dk
from diffkit.cli import main as cli_main
from diffkit.traces import DrawingTooLargeError, GraphvizMissingError
from diffkit.traces import drawing as render_module

BAYDIN = "ln(x1) + x1*x2 - sin(x2)"


def _rows(rows, name):
    return [round(float(r.value), 3) for r in rows if r.name == name]


def test_primal_trace_matches_the_paper():
    t = dk.trace(BAYDIN, 2, 5)
    got = [(r.name, r.expression, round(float(r.value), 3)) for r in t.primal]
    assert got == [
        ("v₋₁", "x₁", 2.0), ("v₀", "x₂", 5.0), ("v₁", "ln v₋₁", 0.693),
        ("v₂", "v₋₁ × v₀", 10.0), ("v₃", "sin v₀", -0.959), ("v₄", "v₁ + v₂", 10.693),
        ("v₅", "v₄ - v₃", 11.652), ("y", "v₅", 11.652),
    ]


def test_tangent_trace_matches_the_paper():
    t = dk.trace(BAYDIN, 2, 5, mode="forward")
    assert [round(float(r.value), 3) for r in t.tangent] == [1, 0, 0.5, 5, 0, 5.5, 5.5, 5.5]
    assert t.tangent[2].expression == "v̇₋₁/v₋₁"
    assert t.tangent[4].expression == "v̇₀ × cos(v₀)"
    assert t.derivative == pytest.approx(5.5)


def test_adjoint_trace_matches_the_paper():
    t = dk.trace(BAYDIN, 2, 5)
    steps = [(r.name, round(float(r.value), 3)) for r in t.adjoint if r.role != "result"]
    assert steps == [("v̄₅", 1), ("v̄₄", 1), ("v̄₃", -1), ("v̄₁", 1), ("v̄₂", 1), ("v̄₀", -0.284),
                     ("v̄₋₁", 5), ("v̄₀", 1.716), ("v̄₋₁", 5.5)]
    # accumulation steps are separate rows, written as the paper writes them
    acc = [r for r in t.adjoint if r.role == "accumulate"]
    assert [r.expression for r in acc] == ["v̄₀ + v̄₂ × v₋₁", "v̄₋₁ + v̄₁/v₋₁"]
    assert _rows(t.adjoint, "x̄₁") == [5.5] and _rows(t.adjoint, "x̄₂") == [1.716]
    # exact values are kept; only the display rounds
    assert t.adjoint[-1].value == pytest.approx(2 - np.cos(5), abs=1e-15)
    assert t.adjoint[-1].value != round(t.adjoint[-1].value, 3)
    assert t.derivative == pytest.approx((5.5, 2 - np.cos(5)))


def test_local_derivatives_come_from_the_table_symbolically():
    t = dk.trace(BAYDIN, 2, 5)
    partials = {(p.of, p.wrt): str(p.expr) for r in t.primal for p in r.partials}
    assert partials[("v3", "v0")] == "cos(v₀)"
    assert partials[("v1", "v-1")] == "1/v₋₁"
    assert partials[("v2", "v-1")] == "v₀" and partials[("v5", "v3")] == "-1"


def test_quadratic_example_gives_24_and_10():
    t = dk.trace("x**2*y + y + 2", 3, 4)
    assert t.value == 42
    assert t.derivative == pytest.approx((24.0, 10.0))
    assert _rows(t.adjoint, "x̄") == [24.0] and _rows(t.adjoint, "y\u0304") == [10.0]
    f = dk.trace("x**2*y + y + 2", 3, 4, mode="forward", seed={"y": 1.0})
    assert f.derivative == pytest.approx(10.0)


def test_renderers_round_for_display():
    t = dk.trace(BAYDIN, 2, 5)
    text = t.to_text()
    assert "v̄₀  = v̄₀ + v̄₂ × v₋₁" in text and "1.716" in text and "11.652" in text
    assert "0.69314" not in text and "0.69315" in t.to_text(digits=5)
    md = t.to_markdown()
    assert "| v₁ | = ln v₋₁ | ∂v₁/∂v₋₁ = 1/v₋₁ = 0.500 | 0.693 |" in md
    tex = t.to_latex()
    assert tex.startswith(r"\begin{tabular}") and r"\bar{v}_{-1}" in tex and r"\ln v_{-1}" in tex
    assert r"\frac{1}{v_{-1}}" in tex and tex.rstrip().endswith(r"\end{tabular}")
    html = t._repr_html_()
    assert html.startswith("<table") and "-0.284" in html


def test_array_trace_summarizes_values():
    w, x = np.full((3, 4), 0.1), np.arange(4.0)
    t = dk.trace(lambda w, x: dk.sum(dk.tanh(w @ x) ** 2), w, x)
    assert "array(3, 4) in [" in t.to_text()
    assert np.shape(t.derivative[0]) == (3, 4)
    g = t.draw()
    assert "shape (3, 4)" in g.source and "VJP[matmul]" in g.source


def test_dot_is_stable_and_named_from_the_graph():
    a = dk.draw(BAYDIN, 2, 5).source
    b = dk.draw(dk.parse(BAYDIN), 2.0, 5.0).source  # a new graph: other node ids, same text
    assert a == b
    for line in ("v_m1 -> v1", "v0 -> v3", "v4 -> v5", "output"):
        assert line in a
    assert "#c0392b" in a and "#1f5fbf" in a and "cluster_legend" in a
    assert 'color="#c0392b:#1f5fbf" dir=both' in a  # the adjoint flows back beside the partial
    assert "5.000 + 0.500 = 5.500" in a  # contributions summed where paths merge
    forward = dk.draw(BAYDIN, 2, 5, mode="forward").source
    assert "v̇₅ = 5.500" in forward and "style=dashed" not in forward


@pytest.mark.skipif(render_module.layout_program() is None, reason="no dot / graphviz-pure")
def test_svg_parses_and_contains_the_values(tmp_path: Path):
    out = dk.render(dk.trace(BAYDIN, 2, 5), tmp_path / "baydin.svg")
    root = ET.parse(out).getroot()
    text = " ".join(e.text or "" for e in root.iter())
    for value in ("0.693", "10.693", "11.652", "1.716", "5.500"):
        assert value in text
    png = dk.render(dk.draw(BAYDIN, 2, 5), tmp_path / "baydin.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_render_writes_dot_without_any_program(tmp_path: Path, monkeypatch):
    monkeypatch.setattr(render_module, "layout_program", lambda: None)
    dot = dk.render(dk.draw("x*y", 2, 3), tmp_path / "g.dot")
    assert dot.read_text().startswith("digraph")
    with pytest.raises(GraphvizMissingError, match=r"pip install 'diffkit\[viz\]'"):
        dk.render(dk.draw("x*y", 2, 3), tmp_path / "g.svg")
    with pytest.raises(ValueError, match="unknown file type"):
        dk.render(dk.draw("x*y", 2, 3), tmp_path / "g.bmp")


def test_huge_graph_traces_and_drawing_is_refused():
    def chain(x):
        for _ in range(50_000):
            x = dk.sin(x) + 0.5
        return x

    t = dk.trace(chain, 0.3)  # 10^5 operations: no recursion anywhere
    assert len(t.graph.nodes) > 100_000
    assert np.isfinite(t.derivative[0])
    with pytest.raises(DrawingTooLargeError, match="max_nodes"):
        t.draw()


def test_symbolic_drawing_shows_the_expression_tree():
    g = dk.draw(BAYDIN, 2, 5, method="symbolic")
    assert "∂f/∂x₁" in g.source and "operations as trees" in g.source
    with pytest.raises(DrawingTooLargeError):
        dk.draw("sin(x)*exp(x)*cos(x*y)*tanh(x + y)", 1, 2, method="symbolic", max_nodes=10)


def test_bad_arguments_are_clear():
    with pytest.raises(ValueError, match="mode"):
        dk.trace(BAYDIN, 2, 5, mode="sideways")
    with pytest.raises(ValueError, match="show"):
        dk.draw(BAYDIN, 2, 5, show="colour")
    with pytest.raises(dk.ShapeError):
        dk.trace(BAYDIN, 2, 5, mode="forward", seed=[1.0])


def test_cli_trace(tmp_path: Path, capsys):
    out = tmp_path / "g.dot"
    code = cli_main(["trace", BAYDIN, "--at", "x1=2", "x2=5", "--format", "markdown",
                     "--graph", str(out)])
    assert code == 0
    printed = capsys.readouterr().out
    assert "| v̄₀ | = v̄₀ + v̄₂ × v₋₁ |" in printed and out.read_text().startswith("digraph")
    assert cli_main(["trace", "x*y", "--at", "x=1", "y=2", "--mode", "forward",
                     "--seed", "y=1"]) == 0
    assert "f\u0307   = v\u0307₁" in capsys.readouterr().out


@pytest.mark.parametrize("text, a, b", [("x1*x_1 + sin(x_1)", "x1", "x_1"),
                                        ("v1*v2 + sin(v1)", "v1", "v2")])
def test_no_two_inputs_and_no_input_and_intermediate_read_alike(text, a, b):
    # x1 and x_1 were both printed x₁ (their adjoint rows x̄₁ twice, with different values), and
    # an input v1 was printed v₁, the name of the trace's first intermediate
    f = dk.parse(text)
    for mode in ("reverse", "forward"):
        t = dk.trace(f, 2.0, 3.0, mode=mode)
        inputs = [r.expression for r in t.primal[:2]]
        intermediates = [r.name for r in t.primal]
        assert len(set(inputs)) == 2 and not set(inputs) & set(intermediates), inputs
        results = ([r.name for r in t.adjoint if r.role == "result"] if mode == "reverse" else
                   [r.expression for r in t.tangent if r.role == "input"])  # x̄₁ = …, v̇₀ = ẋ₁
        assert len(results) == 2 and len(set(results)) == 2, results
    latex = dk.trace(f, 2.0, 3.0).to_latex()
    assert latex.count(r"\mathrm{x\_1}") or a != "x1"
    dot = dk.draw(f, 2.0, 3.0).source
    assert "x_1" in dot or a != "x1"


def test_an_input_name_with_digits_reads_as_a_subscript_where_unambiguous():
    t = dk.trace("alpha1*x2 + x", 2.0, 3.0, 1.0)
    assert [r.expression for r in t.primal[:3]] == ["alpha₁", "x₂", "x"]
    # a word's adjoint as adj(·) (a bar on its last letter read alphā₁), one letter's as a bar
    assert [r.name for r in t.adjoint if r.role == "result"] == ["adj(alpha\u2081)",
                                                                 "x\u0304\u2082", "x\u0304"]
