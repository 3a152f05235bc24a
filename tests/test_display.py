"""Rich display in notebooks: Function, SymbolicDerivative, drawings, Comparison and History show
themselves as LaTeX, HTML or SVG, and their plain reprs are short and readable."""

from __future__ import annotations

import json
import re
import shutil

import numpy as np
import pytest

import diffkit as dk
from diffkit import nn

BAYDIN = "ln(x1) + x1*x2 - sin(x2)"


# ----- Function ----------------------------------------------------------------------------


def test_function_shows_itself_as_latex():
    latex = dk.parse(BAYDIN)._repr_latex_()
    assert latex.startswith("$") and latex.endswith("$")
    assert r"f{\left(x_{1},x_{2} \right)} =" in latex
    assert r"\log{\left(x_{1} \right)}" in latex and r"\sin{\left(x_{2} \right)}" in latex


def test_function_shows_itself_as_html_with_its_text_and_listing():
    f = dk.parse(BAYDIN)
    page = f._repr_html_()
    assert "<b>f</b>(x1, x2)" in page
    assert "ln(x1) + x1*x2 - sin(x2)" in page
    assert "v1 = log(v-1)" in page and "y = v5" in page
    assert "$" in page  # the formula, typeset by the notebook's MathJax
    assert "pure" in page


def test_python_function_display_escapes_and_survives_what_it_cannot_show():
    @dk.function
    def layer(W, x):
        return dk.sum(dk.tanh(W @ x))

    # traced at scalar 0.5 for display, W @ x fails: the HTML says so, LaTeX is left out
    assert layer._repr_latex_() is None
    page = layer._repr_html_()
    assert "<b>layer</b>(W, x)" in page and "traced afresh at every call" in page
    assert "give it a point" in page

    @dk.function
    def g(a, b):
        return a * b + dk.sin(a)

    assert r"\sin{\left(a \right)}" in g._repr_latex_()
    assert "v1 = " in g._repr_html_()
    hostile = dk.Function(lambda x: x, ["x"], name="<script>")
    assert "<script>" not in hostile._repr_html_()


# ----- symbolic derivatives ------------------------------------------------------------------


def test_symbolic_gradient_shows_itself_as_latex():
    latex = dk.symbolic(BAYDIN)._repr_latex_()
    assert latex.startswith("$") and latex.endswith("$")
    assert r"\frac{\partial f}{\partial x_{1}} = x_{2} + \frac{1}{x_{1}}" in latex
    assert r"\frac{\partial f}{\partial x_{2}} = x_{1} - \cos{\left(x_{2} \right)}" in latex


def test_symbolic_jacobian_and_hessian_show_as_matrices():
    jac = dk.symbolic(lambda x, y: [x * y, x + y])._repr_latex_()
    assert r"\begin{matrix}" in jac and r"\frac{\partial f}{\partial \left(x, y\right)}" in jac
    hess = dk.symbolic("x**2*y", order=2)._repr_latex_()
    assert r"\nabla^{2} f" in hess and r"2 y & 2 x\\2 x & 0" in hess


def test_a_large_symbolic_derivative_says_so_instead_of_printing_everything():
    text = " + ".join(f"sin(x*{k}) * cos(y*{k})" for k in range(1, 60))
    latex = dk.symbolic(text)._repr_latex_()
    assert "large" in latex and len(latex) < 300


# ----- drawings ------------------------------------------------------------------------------


def test_drawing_repr_is_readable():
    g = dk.draw(BAYDIN, 2, 5)
    assert repr(g) == ("<diffkit drawing: 7 nodes, reverse mode; display in a notebook or "
                       "dk.render(...)>")
    fwd = dk.draw(BAYDIN, 2, 5, mode="forward")
    assert "7 nodes, forward mode" in repr(fwd)
    sym = dk.draw(BAYDIN, 2, 5, method="symbolic")
    assert re.fullmatch(r"<diffkit drawing: symbolic gradient, \d+ nodes; display in a notebook "
                        r"or dk\.render\(\.\.\.\)>", repr(sym))


@pytest.mark.skipif(shutil.which("graphviz-pure") is None and shutil.which("dot") is None,
                    reason="needs a Graphviz layout program")
def test_drawing_displays_as_svg_through_diffkits_own_pipe(monkeypatch):
    import graphviz

    from diffkit.traces import drawing

    def no_dot(*args, **kwargs):
        raise AssertionError("the graphviz package's own rendering (the `dot` executable) ran")

    monkeypatch.setattr(graphviz.Digraph, "pipe", no_dot)
    monkeypatch.setattr(graphviz.Digraph, "_repr_image_svg_xml", no_dot)
    used = []
    real_pipe = drawing.pipe
    monkeypatch.setattr(drawing, "pipe", lambda *a, **k: used.append(a) or real_pipe(*a, **k))
    g = dk.draw(BAYDIN, 2, 5)
    bundle = g._repr_mimebundle_()
    assert "<svg" in bundle["image/svg+xml"]
    assert "<svg" in g._repr_svg_()
    assert g._repr_mimebundle_(exclude=["image/svg+xml"]) == {}
    assert len(used) == 2


def test_drawing_without_a_layout_program_still_displays_as_text(monkeypatch):
    from diffkit.traces import drawing

    monkeypatch.setattr(drawing, "layout_program", lambda: None)
    g = dk.draw(BAYDIN, 2, 5)
    bundle = g._repr_mimebundle_()
    assert "image/svg+xml" not in bundle
    assert "graphviz-pure" in bundle["text/plain"]
    assert g._repr_svg_() is None


# ----- comparisons ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def small_comparison():
    return dk.compare(BAYDIN, 2.0, 5.0, methods=["fd-central", "forward", "reverse", "fd-complex"],
                      repeat=1, budget=0.001)


def test_comparison_repr_is_one_line_per_method(small_comparison):
    text = repr(small_comparison)
    lines = text.splitlines()
    assert len(lines) == 1 + 4 and len(text) < 700
    assert lines[0].startswith("<diffkit.Comparison: gradient of ln(x1) + x1*x2 - sin(x2)")
    assert "MethodResult" not in text and text.endswith(">")
    assert re.match(r"\s+reverse\s+rel error \S+\s+\S+ \S+/call\s+1 sweep", lines[3])
    assert all(len(line) <= 100 for line in lines)


def test_comparison_repr_shows_skipped_methods_briefly():
    cmp = dk.compare("abs(x)", 1.0, methods=["fd-complex", "reverse"], repeat=1, budget=0.001)
    text = repr(cmp)
    assert "fd-complex" in text and "skipped:" in text
    assert all(len(line) <= 100 for line in text.splitlines())


def test_comparison_html_is_a_table(small_comparison):
    page = small_comparison._repr_html_()
    assert page.startswith("<table>") and page.count("<tr>") == 1 + 4


# ----- training history --------------------------------------------------------------------


@pytest.fixture(scope="module")
def history():
    nn.manual_seed(0)
    X, y = nn.make_moons(64, noise=0.1, seed=0)
    model = nn.MLP([2, 8, 2])
    return nn.fit(model, nn.DataLoader(X, y, batch_size=32), epochs=7, val_data=(X, y),
                  progress=False)


def test_history_stays_a_dict_and_converts_to_plain_data(history):
    assert isinstance(history, dict) and len(history["loss"]) == 7
    plain = history.to_dict()
    assert type(plain) is dict and type(plain["grad_norms"]) is dict
    assert plain == dict(history)
    json.dumps(plain)  # plain lists and numbers
    plain["loss"].append(1.0)
    plain["grad_norms"].clear()
    assert len(history["loss"]) == 7 and history["grad_norms"]


def test_history_html_is_a_table_of_the_last_epochs(history):
    page = history._repr_html_()
    assert page.startswith("<table>")
    assert "val_loss" in page and "val_accuracy" in page and "lr" in page
    assert page.count("<tr>") == 1 + 5  # header and the last five epochs
    assert "<td>7</td>" in page and "<td>2</td>" not in page
    assert f"{history['loss'][-1]:.4f}" in page
    assert "7 epochs" in page


def test_empty_history_html():
    page = nn.History()._repr_html_()
    assert "no epochs yet" in page


def test_history_plot_returns_the_figure(history):
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig = history.plot()
    try:
        assert isinstance(fig, matplotlib.figure.Figure)
        loss_ax, acc_ax = fig.axes
        assert loss_ax.get_ylabel() == "loss" and acc_ax.get_ylabel() == "accuracy"
        np.testing.assert_allclose(loss_ax.lines[0].get_ydata(), history["loss"])
        assert len(loss_ax.lines) == 2  # training and validation
    finally:
        plt.close(fig)


def test_printing_a_function_that_needs_arrays_never_raises() -> None:
    """str() of a Function lists it at scalar inputs; one that needs arrays there used to raise
    the ShapeError out of print(f)."""
    f = dk.function(lambda w, X: dk.sum(X @ w))
    text = str(f)
    assert "no listing at scalar inputs" in text and "ShapeError" in text and "<lambda>" in text
    assert str(dk.parse("x*y")).splitlines()[-1] == "f = v1"  # y is an input: the output is f
