"""dk.compare: every method against the exact reference, the renderings, the CLI and the plots."""

from __future__ import annotations

import json

import numpy as np
import pytest

import diffkit as dk
from diffkit.cli import main

BAYDIN = "ln(x1) + x1*x2 - sin(x2)"


@pytest.fixture(scope="module")
def baydin() -> dk.Comparison:
    return dk.compare(BAYDIN, 2.0, 5.0, repeat=1, budget=0.002)


def test_reference_is_exact(baydin: dk.Comparison) -> None:
    assert baydin.reference_kind.startswith("exact")
    np.testing.assert_allclose(baydin.reference, [0.5 + 5.0, 2.0 - np.cos(5.0)],
                               rtol=1e-15)


@pytest.mark.parametrize(("method", "tol"), [("symbolic", 1e-12), ("forward", 1e-12),
                                             ("reverse", 1e-12), ("auto", 1e-12),
                                             ("compiled", 1e-12), ("fd-complex", 1e-13),
                                             ("fd-central", 1e-7), ("fd-richardson", 1e-11)])
def test_errors_within_bounds(baydin: dk.Comparison, method: str, tol: float) -> None:
    row = baydin.row(method)
    assert row.skipped is None
    assert row.abs_error <= tol, (method, row.abs_error)


def test_costs_forward_n_sweeps_reverse_one(baydin: dk.Comparison) -> None:
    assert baydin.row("forward").sweeps == 2
    assert baydin.row("reverse").sweeps == 1
    assert baydin.row("fd-central").evaluations == 5  # f(x) and 2n steps
    assert "h = " in baydin.row("fd-central").notes
    assert "chose reverse" in baydin.row("auto").notes
    for r in baydin.rows:
        assert r.time > 0 and r.setup >= 0 and r.memory >= 0


def test_renderings(baydin: dk.Comparison) -> None:
    text = str(baydin)
    assert "fd-richardson" in text and "reference: exact" in text
    md = baydin.to_markdown()
    assert md.count("\n|") >= 1 + len(baydin.rows)
    assert baydin._repr_html_().startswith("<table>")
    data = json.loads(baydin.to_json())
    assert [r["method"] for r in data["rows"]] == [r.method for r in baydin.rows]


def test_complex_step_through_abs_is_skipped_with_reason() -> None:
    cmp = dk.compare("abs(x) * y", 2.0, 3.0, methods=["fd-complex", "reverse"], repeat=1,
                     budget=0.001)
    assert "abs" in cmp.row("fd-complex").skipped
    assert cmp.row("reverse").abs_error == 0


def test_jacobian_rows_and_sweeps() -> None:
    cmp = dk.compare(lambda x: dk.tanh(x * 2.0), np.array([0.1, 0.2, 0.3]),
                     methods=["forward", "reverse"], repeat=1, budget=0.001)
    assert cmp.shape == (3, 3)
    assert cmp.row("reverse").sweeps == 3
    assert cmp.row("forward").abs_error < 1e-14


def test_reference_without_sympy_form_says_so() -> None:
    cmp = dk.compare(lambda x: dk.sum(dk.sin(x)), np.linspace(0, 1, 30), methods=["reverse"],
                     repeat=1, budget=0.001)
    assert cmp.reference_kind.startswith("exact")
    big = dk.compare(lambda x: dk.sum(dk.sin(x)), np.linspace(0, 1, 30_000), methods=["reverse"],
                     repeat=1, budget=0.001)
    assert big.reference_kind.startswith("reverse mode")


def test_cli_compare_json_and_plot(tmp_path, capsys) -> None:
    png = tmp_path / "fd.png"
    code = main(["compare", BAYDIN, "--at", "x1=2", "x2=5", "--methods", "reverse", "forward",
                 "--json", "--plot-fd", str(png)])
    assert code == 0
    out = json.loads(capsys.readouterr().out)
    assert [r["method"] for r in out["rows"]] == ["reverse", "forward"]
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_plots_are_images(tmp_path) -> None:
    pytest.importorskip("matplotlib")
    from diffkit import plots

    figs = {"cost.svg": plots.plot_cost(sizes=(1, 4), fixed=2),
            "swell.png": plots.plot_swell(depths=(1, 2, 3))}
    for name, fig in figs.items():
        fig.savefig(tmp_path / name)
    assert (tmp_path / "swell.png").read_bytes()[:4] == b"\x89PNG"
    assert b"<svg" in (tmp_path / "cost.svg").read_bytes()[:500]


def test_reverse_row_times_the_reverse_engine_itself() -> None:
    cmp = dk.compare("ln(x1) + x1*x2 - sin(x2)", 2.0, 5.0, methods=["reverse", "compiled"])
    assert "generated code" not in cmp.row("reverse").notes
    assert "generated code" in cmp.row("compiled").notes


def test_a_call_slower_than_repeat_times_budget_is_timed_once() -> None:
    """compare timed every method `repeat` more times after its first call, whatever a call
    cost: a symbolic gradient of 1000 inputs took ~2 s a call, so ~10 s to time. A call that
    takes longer than repeat × budget is now its own timing (budget 0: every call is)."""
    from diffkit.comparison import _median_time

    calls: list[int] = []
    assert _median_time(lambda: calls.append(1), repeat=5, budget=0.0) > 0
    assert len(calls) == 1
    calls.clear()
    _median_time(lambda: calls.append(1), repeat=3, budget=10.0)  # a fast call: repeated
    assert len(calls) > 3


@pytest.mark.parametrize("axis", [None, 0, 1, 2, (0, 2), (1,)])
@pytest.mark.parametrize("keepdims", [False, True])
def test_sum_of_sympy_terms_is_numpys_sum_as_one_add(axis, keepdims) -> None:
    """The table's SymPy translation of sum builds one Add per result entry (NumPy's
    reduction added the terms one by one, and SymPy flattened the growing sum at every step:
    2000 terms took 7.5 s). Same shape and the same expressions as NumPy's object sum."""
    import sympy as sp

    from diffkit.primitives.structure import sum as sum_record

    xs = np.array(sp.symbols("a0:24"), dtype=object).reshape(2, 3, 4)
    want = np.sum(xs, axis=axis, keepdims=keepdims)
    got = sum_record.to_sympy(xs, axis=axis, keepdims=keepdims)
    assert np.shape(got) == np.shape(want)
    assert all(sp.expand(a - b) == 0 for a, b in zip(np.ravel(want), np.ravel(got), strict=True))
    empty = np.empty((0, 3), dtype=object)  # no rows: an empty result; no terms: 0
    assert np.shape(sum_record.to_sympy(empty, axis=1, keepdims=keepdims)) == np.shape(
        np.sum(empty, axis=1, keepdims=keepdims))
    assert sum_record.to_sympy(empty, axis=0).tolist() == [0, 0, 0]
