"""The front doors tell the truth: traces and drawings of an operation that uses one variable twice
show each operand's own partial, ``grad --digits`` rounds vectors to significant digits, forward
seeds may mix vectors and numbers, a closed stdout ends like a closed pipe, and π is pi.

Every expected number is derived by hand in the test, not read back from diffkit.
"""

from __future__ import annotations

import json
import math
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import sympy as sp

import diffkit as dk
from diffkit.cli import main
from diffkit.errors import ParseError, ShapeError

ROOT = Path(__file__).resolve().parent.parent
X = 1.5
#: (expression, ∂/∂(first operand), ∂/∂(second operand)) at x = 1.5, by hand
TWICE = [
    ("x-x", 1.0, -1.0),
    ("x/x", 1 / X, -X / X**2),  # ∂(a/b)/∂a = 1/b, ∂(a/b)/∂b = -a/b²
    ("x^x", X * X ** (X - 1), X**X * math.log(X)),  # base: b·a^(b-1); exponent: a^b·ln a
]


def _steps(t: Any) -> list[Any]:
    return [r for r in t.adjoint if r.role in ("set", "accumulate")]


# ----- 1. the adjoint rows: one partial per operand position --------------------------------------


@pytest.mark.parametrize(("expr", "first", "second"), TWICE, ids=[c[0] for c in TWICE])
def test_adjoint_rows_use_each_operands_own_partial(expr: str, first: float,
                                                    second: float) -> None:
    rows = _steps(dk.trace(expr, X))
    assert [r.role for r in rows] == ["set", "accumulate"]
    assert [len(r.partials) for r in rows] == [1, 1]
    assert rows[0].partials[0].value == pytest.approx(first, rel=1e-14)
    assert rows[1].partials[0].value == pytest.approx(second, rel=1e-14)
    assert rows[0].value == pytest.approx(first, rel=1e-14)  # v̄₀ = v̄₁·∂₁ with v̄₁ = 1
    assert rows[1].value == pytest.approx(first + second, rel=1e-14, abs=1e-15)
    # the symbolic partial, evaluated at the point, is the same number as the memoized one
    v0 = dk.traces.formats.symbol("v0")
    for r in rows:
        p = r.partials[0]
        assert float(p.expr.subs(v0, X)) == pytest.approx(float(p.value), rel=1e-14)


def test_the_x_minus_x_table_reads_as_a_difference() -> None:
    rows = _steps(dk.trace("x-x", X))
    assert rows[1].derivative == "∂v₁/∂v₀ = -1"
    assert rows[1].expression.replace(" ", "") in ("v̄₀-v̄₁", "v̄₀+-v̄₁", "v̄₀+(-v̄₁)")


@pytest.mark.parametrize(("expr", "first", "second"), TWICE, ids=[c[0] for c in TWICE])
def test_trace_json_partials_per_operand(expr: str, first: float, second: float,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["trace", expr, "--at", f"x={X}", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    rows = [r for r in data["rows"] if r["section"] == "adjoint" and r["partials"]]
    assert [r["partials"][0]["value"] for r in rows] == pytest.approx([first, second], rel=1e-14)


# ----- 2. the drawing: each edge its own partial and contribution ---------------------------------


def _edge_labels(dot: str, src: str, dst: str) -> list[list[str]]:
    """The text lines of every edge src -> dst, in the DOT's order."""
    out = []
    for line in dot.splitlines():
        if line.strip().startswith(f"{src} -> {dst} "):
            out.append(re.findall(r"<FONT COLOR=\"#[0-9a-f]+\">([^<]*)</FONT>", line))
    return out


@pytest.mark.parametrize(("expr", "first", "second"), TWICE, ids=[c[0] for c in TWICE])
def test_reverse_drawing_edges_carry_their_own_partial(expr: str, first: float,
                                                       second: float) -> None:
    dot = dk.draw(expr, X).source
    edges = _edge_labels(dot, "v0", "v1")
    assert len(edges) == 2
    for lines, p in zip(edges, (first, second), strict=True):
        shown = f"{p:.3f}"
        assert lines[0].startswith("∂v₁/∂v₀ = ")
        assert lines[0].endswith(f" = {shown}") or lines[0] == f"∂v₁/∂v₀ = {p:g}"
        assert lines[-1] == f"1.000 × {shown} = {shown}"  # v̄₁·∂v₁/∂v₀ with v̄₁ = 1


def test_forward_drawing_edges_carry_their_own_partial() -> None:
    edges = _edge_labels(dk.draw("x-x", X, mode="forward").source, "v0", "v1")
    assert edges == [["∂v₁/∂v₀ = 1"], ["∂v₁/∂v₀ = -1"]]
    edges = _edge_labels(dk.draw("x^x", X, mode="forward").source, "v0", "v1")
    assert [e[0].rsplit(" = ", 1)[1] for e in edges] == ["1.837", "0.745"]


# ----- 3. grad --digits: significant digits, vectors like scalars ---------------------------------


def _grad_line(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    assert main(["grad", *argv, "--method", "reverse"]) == 0
    return capsys.readouterr().out.splitlines()[1]


@pytest.mark.parametrize(("expr", "at", "digits", "shown"), [
    ("sum(x/3)", "x=1,2", "0", "[0.3, 0.3]"),  # 0 digits reads as 1, as for a scalar (%.0g)
    ("sum(x/3)", "x=1,2", "3", "[0.333, 0.333]"),
    ("sum(x^2)/100", "x=2,3", "1", "[0.04, 0.06]"),  # 2x/100
    ("sum(x^2)", "x=22862.075,1.5e6", "2", "[4.6e+04, 3e+06]"),  # 2x = [45724.15, 3e6]
], ids=["0", "3", "small", "large"])
def test_grad_digits_on_vectors_are_significant(expr: str, at: str, digits: str, shown: str,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    line = _grad_line([expr, "--at", at, "--digits", digits], capsys)
    assert line == f"reverse  d/dx = {shown}"


def test_grad_default_digits_show_every_digit_of_a_vector(
        capsys: pytest.CaptureFixture[str]) -> None:
    line = _grad_line(["sum(x/3)", "--at", "x=1,2"], capsys)
    third = 1 / 3  # every element round-trips: all 17 significant digits kept
    assert line == f"reverse  d/dx = [{third!r}, {third!r}]"
    line = _grad_line(["sum(x^2)", "--at", "x=1,2,3"], capsys)
    assert line == "reverse  d/dx = [2., 4., 6.]"


def test_grad_digits_keep_scalars_as_they_were(capsys: pytest.CaptureFixture[str]) -> None:
    assert _grad_line(["x/3", "--at", "x=1"], capsys) == f"reverse  d/dx = {1 / 3!r}"
    assert _grad_line(["x/3", "--at", "x=1", "--digits", "2"], capsys) == "reverse  d/dx = 0.33"
    assert _grad_line(["x/3", "--at", "x=1", "--digits", "0"], capsys) == "reverse  d/dx = 0.3"


# ----- 4. forward seeds that mix vectors and numbers ----------------------------------------------


def test_forward_seed_mixing_a_vector_and_a_number_in_the_api() -> None:
    x = np.array([1.0, 2.0])
    t = dk.trace("sum(x*y)", x, 2.0, mode="forward", seed=[np.array([1.0, 0.0]), 0.0])
    assert t.derivative == pytest.approx(2.0)  # ẏ = Σ ẋᵢ·y + xᵢ·ẏ = 1·2 + 0
    t = dk.trace("sum(x*y)", x, 2.0, mode="forward", seed=[np.array([0.0, 1.0]), 1.0])
    assert t.derivative == pytest.approx(2.0 + 3.0)  # ẋ·y + (x₁ + x₂)·ẏ
    t = dk.trace("sum(x^2)", x, mode="forward", seed=np.array([0.0, 1.0]))  # one input: its seed
    assert t.derivative == pytest.approx(2 * 2.0)


@pytest.mark.parametrize("seed", [
    [np.array([1.0, 0.0, 0.0]), 0.0],  # three values for a 2-vector
    [np.array([1.0, 0.0]), np.array([1.0, 1.0])],  # a vector for a number
    [[1.0, [0.0]], 0.0],  # ragged
    [np.array([1.0, 0.0])],  # one seed for two inputs
    1.0,  # one number for two inputs
])
def test_a_wrong_forward_seed_is_a_named_shape_error(seed: Any) -> None:
    with pytest.raises(ShapeError, match="seed"):
        dk.trace("sum(x*y)", np.array([1.0, 2.0]), 2.0, mode="forward", seed=seed)


@pytest.mark.parametrize(("at", "seed", "derivative"), [
    (["x=1,2", "y=2"], ["x=1,0"], 2.0),  # y left out: ẏ = 0
    (["x=1,2", "y=3,4"], ["x=0,1"], 4.0),  # ẋ = e₂: y₂
    (["x=1,2", "y=3,4"], ["x=0,1", "y=1"], 4.0 + 3.0),  # one number for all of y: x₁ + x₂
])
def test_forward_seed_mixing_vectors_and_numbers_on_the_command_line(
        at: list[str], seed: list[str], derivative: float,
        capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["trace", "sum(x*y)", "--at", *at, "--mode", "forward", "--seed", *seed, "--json"]
    assert main(argv) == 0
    assert json.loads(capsys.readouterr().out)["derivative"] == pytest.approx(derivative)


def test_a_wrong_seed_on_the_command_line_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["trace", "sum(x*y)", "--at", "x=1,2", "y=2", "--mode", "forward", "--seed", "y=1,2"]
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert err.startswith("diffkit trace: error: --seed y ") and len(err.splitlines()) == 1
    assert "internal error" not in err


# ----- 5. a closed stdout ends like a closed pipe -------------------------------------------------


def test_a_closed_stdout_in_process_is_a_closed_pipe(monkeypatch: pytest.MonkeyPatch,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(sys, "stdout", None)
    assert main(["grad", "x", "--at", "x=1"]) == 141
    assert main(["grad", "--help"]) == 141
    monkeypatch.setattr(sys, "stdout", sys.__stdout__)
    assert capsys.readouterr().err == ""


def test_a_closed_stderr_never_writes_errors_to_stdout(monkeypatch: pytest.MonkeyPatch,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(sys, "stderr", None)
    assert main(["grad", "x", "--at", "x=inf"]) == 1
    monkeypatch.setattr(sys, "stderr", sys.__stderr__)
    assert capsys.readouterr().out == ""


def _closed_stdout(*argv: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "DIFFKIT_DEBUG"}
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    return subprocess.run([sys.executable, "-m", "diffkit", *argv], stderr=subprocess.PIPE,
                          text=True, cwd=ROOT, env=env, timeout=120, check=False,
                          preexec_fn=lambda: os.close(1))  # `diffkit … >&-`


@pytest.mark.parametrize("argv", [
    ["grad", "x", "--at", "x=1"],
    ["trace", "x*y", "--at", "x=1", "y=2", "--json"],
    ["--version"],
], ids=["grad", "trace", "version"])
def test_a_closed_stdout_in_a_process_ends_quietly_with_141(argv: list[str]) -> None:
    done = _closed_stdout(*argv)
    assert (done.returncode, done.stderr) == (141, "")


def test_an_error_with_a_closed_stdout_is_still_the_error() -> None:
    done = _closed_stdout("grad", "x", "--at", "x=inf")
    assert done.returncode == 1
    assert done.stderr.startswith("diffkit grad: error: --at x=inf: not a finite number")


# ----- 6. π is the constant pi, like ℯ and ⅇ are e ------------------------------------------------


@pytest.mark.parametrize(("text", "value"), [
    ("π*x", math.pi * 2), ("pi*x", math.pi * 2), ("ℯ*x", math.e * 2), ("ⅇ^x", math.e**2),
    ("sin(π/4)*x", math.sin(math.pi / 4) * 2),
])
def test_unicode_constants(text: str, value: float) -> None:
    f = dk.parse(text)
    assert f.inputs == ("x",)
    assert f(2.0) == pytest.approx(value, rel=1e-15)


def test_pi_on_the_command_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["grad", "π*x", "--at", "x=1", "--method", "reverse", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["inputs"] == ["x"] and data["gradients"]["reverse"]["x"] == math.pi


@pytest.mark.parametrize("name", ["π", "pi", "e"])
def test_constants_cannot_be_inputs(name: str) -> None:
    with pytest.raises(ParseError, match="names a function or constant"):
        dk.parse(f"{name}*x", inputs=[name, "x"])


def test_pi_cannot_be_called() -> None:
    with pytest.raises(ParseError, match="'π' is a constant"):
        dk.parse("π(x)")


@pytest.mark.parametrize(("text", "constant"), [("ϖ*x", "π"), ("𝑒*x", "e"), ("ｅ*x", "e")])
def test_a_name_is_never_folded_into_a_constant(text, constant) -> None:
    """NFKC folded ϖ (varpi: a variable, or the lemniscate constant 2.622…) into π and math italic
    𝑒 into e, so dk.parse("ϖ*x")(1.0) was 3.14159 with inputs ('x',): refused by name. ℯ and ⅇ,
    the constant's own symbols, stay e."""
    with pytest.raises(dk.ParseError, match=f"would read as the constant {constant}"):
        dk.parse(text)
    assert dk.parse("ℯ*x")(1.0) == math.e and dk.parse("ⅇ*x")(1.0) == math.e


@pytest.mark.parametrize("text", ["1e-400*x", "2.5e-330 + x", "0.000001e-320*x"])
def test_a_number_too_small_for_a_float_is_refused_not_zero(text) -> None:
    """1e400 was refused (too large) but 1e-400 silently became 0.0."""
    with pytest.raises(dk.ParseError, match="too small for a float"):
        dk.parse(text)
    assert dk.parse("0.0e-400 + x")(1.0) == 1.0 and dk.parse("1e-320*x")(1.0) == 1e-320


def test_options_a_user_mistypes_get_named_errors(tmp_path) -> None:
    """Found by the API hunt: compare(methods="reverse") said "unknown method 'r'" (the string
    iterated), repeat=0 and budget=-1 were accepted; to_text(digits=-1) and digits=2.5 were
    format-spec errors; render into a missing folder a bare FileNotFoundError; from_sympy
    with a same-named symbol of other assumptions said 'x' was not an input."""
    f = dk.parse("x*y")
    assert [r.method for r in dk.compare(f, 2.0, 3.0, methods="reverse").rows] == ["reverse"]
    with pytest.raises(ValueError, match="repeat must be a whole number >= 1, got 0"):
        dk.compare(f, 2.0, 3.0, repeat=0)
    with pytest.raises(ValueError, match="budget must be a number of seconds > 0"):
        dk.compare(f, 2.0, 3.0, budget=-1)
    for digits in (-1, 2.5):
        with pytest.raises(ValueError, match=f"digits must be a whole number >= 0, got {digits}"):
            dk.trace(f, 2.0, 3.0).to_text(digits=digits)
    with pytest.raises(FileNotFoundError, match="there is no folder .*missing.* create it first"):
        dk.render(dk.trace(f, 2.0, 3.0), tmp_path / "missing" / "t.dot")
    x, a = sp.Symbol("x", positive=True), sp.Symbol("a")
    with pytest.raises(dk.ParseError, match="expression's: positive=True; the input's: none"):
        dk.from_sympy(a * x, inputs=[sp.Symbol("x"), a])
