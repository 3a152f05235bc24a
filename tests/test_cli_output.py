"""What the subcommands print: --json on every one, auto's reason, vector points, --epochs 0, and
the demo's tables."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from diffkit.cli import main

BAYDIN = "ln(x1) + x1*x2 - sin(x2)"
AT = ["--at", "x1=2", "x2=5"]


def _json(argv: list[str], capsys: pytest.CaptureFixture[str], status: int = 0) -> Any:
    assert main(argv) == status
    out = capsys.readouterr().out
    return json.loads(out)  # the whole of stdout is one JSON document


def test_grad_json(capsys: pytest.CaptureFixture[str]) -> None:
    data = _json(["grad", BAYDIN, *AT, "--json"], capsys)
    assert data["command"] == "grad" and data["expression"] == BAYDIN
    assert data["inputs"] == ["x1", "x2"] and data["point"] == {"x1": 2.0, "x2": 5.0}
    assert data["value"] == 11.652071455223084
    assert data["methods"] == ["fd", "symbolic", "forward", "reverse"]
    assert data["gradients"]["reverse"] == {"x1": 5.5, "x2": 1.7163378145367738}
    assert data["gradients"]["fd"]["x1"] == pytest.approx(5.5, rel=1e-7)
    assert data["errors"] == {} and "auto" not in data


def test_grad_json_with_errors_and_a_vector(capsys: pytest.CaptureFixture[str]) -> None:
    data = _json(["grad", "sqrt(x)", "--at", "x=0", "--method", "reverse", "--json"], capsys,
                 status=1)
    assert data["gradients"] == {}
    assert data["errors"]["reverse"].startswith("sqrt is not differentiable at 0")
    data = _json(["grad", "sum(x^2)", "--at", "x=1,2,3", "--json"], capsys)
    assert data["point"] == {"x": [1.0, 2.0, 3.0]} and data["value"] == 14.0
    assert data["gradients"]["forward"] == {"x": [2.0, 4.0, 6.0]}


def test_auto_says_why(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["grad", "sum(x^2)", "--at", "x=1,2,3", "--method", "auto"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[1] == "auto  d/dx = [2., 4., 6.]"
    assert out[2].startswith("      chose ") and "n = 3 inputs, m = 1 output" in out[2]
    data = _json(["grad", BAYDIN, *AT, "--method", "auto", "--json"], capsys)
    assert data["auto"]["choice"] in ("forward", "reverse")
    assert data["auto"]["explanation"].startswith("n = 2 inputs, m = 1 output: ")
    assert data["auto"]["choice"] in data["auto"]["explanation"]


def test_the_vector_example_of_the_help_works(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["grad", "sum(x^2)", "--at", "x=1,2,3"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "f(x=[1., 2., 3.]) = 14"
    assert all(line.endswith("[2., 4., 6.]") for line in out[2:])
    assert main(["grad", "--help"]) == 0
    assert 'diffkit grad "sum(x^2)" --at x=1,2,3' in capsys.readouterr().out


def test_digits(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["grad", BAYDIN, *AT, "--method", "reverse", "--digits", "3"]) == 0
    assert capsys.readouterr().out.splitlines()[1] == "reverse  d/dx1 = 5.5  d/dx2 = 1.72"
    assert main(["grad", BAYDIN, *AT, "--method", "reverse", "--digits", "0"]) == 0
    assert capsys.readouterr().out.splitlines()[1] == "reverse  d/dx1 = 6  d/dx2 = 2"


def test_repeated_at_options_add_up(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["grad", "x*y", "--at", "x=3", "--at", "y=4", "--method", "forward"]) == 0
    assert capsys.readouterr().out.splitlines()[1] == "forward  d/dx = 4.0  d/dy = 3.0"


def test_trace_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    dot = tmp_path / "g.dot"
    data = _json(["trace", BAYDIN, *AT, "--json", "--graph", str(dot)], capsys)
    assert data["command"] == "trace" and data["mode"] == "reverse" and data["seed"] == 1.0
    assert data["value"] == 11.652071455223084
    assert data["derivative"] == {"x1": 5.5, "x2": 1.7163378145367738}
    assert data["graph"] == str(dot) and dot.read_text().startswith("digraph")
    assert {r["section"] for r in data["rows"]} == {"primal", "adjoint"}
    v1 = next(r for r in data["rows"] if r["section"] == "primal" and r["variable"] == "v₁")
    assert v1["expression"] == "ln v₋₁" and v1["value"] == pytest.approx(0.6931471805599453)
    assert v1["local_derivative"] == "∂v₁/∂v₋₁ = 1/v₋₁ = 0.500"
    assert v1["partials"] == [{"of": "v₁", "wrt": "v₋₁", "expression": "1/v₋₁", "rule": None,
                               "value": 0.5}]
    result = [r for r in data["rows"] if r["role"] == "result"]
    assert [(r["variable"], r["value"]) for r in result] == [("x̄₁", 5.5),
                                                              ("x̄₂", 1.7163378145367738)]


def test_trace_json_forward_and_vectors(capsys: pytest.CaptureFixture[str]) -> None:
    data = _json(["trace", BAYDIN, *AT, "--mode", "forward", "--seed", "x2=1", "--json"], capsys)
    assert data["seed"] == {"x1": 0.0, "x2": 1.0}
    assert data["derivative"] == pytest.approx(1.7163378145367738)
    assert {r["section"] for r in data["rows"]} == {"primal", "tangent"}
    data = _json(["trace", "sum(x^2)", "--at", "x=1,2,3", "--json"], capsys)
    assert data["derivative"] == {"x": [2.0, 4.0, 6.0]}


def test_trace_text_writes_the_graph_before_printing(tmp_path: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    dot = tmp_path / "g.gv"
    assert main(["trace", "x*y", "--at", "x=1", "y=2", "--graph", str(dot)]) == 0
    assert capsys.readouterr().out.endswith(f"\n\ngraph written to {dot}\n")
    assert dot.read_text().startswith("digraph")


def test_compare_json(capsys: pytest.CaptureFixture[str]) -> None:
    data = _json(["compare", "x*y", "--at", "x=1", "y=2", "--methods", "forward", "reverse",
                  "auto", "--json"], capsys)
    assert [r["method"] for r in data["rows"]] == ["forward", "reverse", "auto"]
    assert data["rows"][1]["value"] == [2.0, 1.0]
    assert "n = 2 inputs" in data["rows"][2]["notes"]  # auto's reason


def test_train_json_and_zero_epochs(capsys: pytest.CaptureFixture[str]) -> None:
    data = _json(["train", "xor", "--epochs", "2", "--json"], capsys)
    assert data["command"] == "train" and data["epochs"] == 2 and data["lr"] == 0.003
    assert len(data["history"]["loss"]) == 2 and len(data["history"]["val_accuracy"]) == 2
    assert 0.0 <= data["test_accuracy"] <= 1.0 and data["parameters"] == 4482
    data = _json(["train", "xor", "--epochs", "0", "--json"], capsys)
    assert data["epochs"] == 0 and data["history"]["loss"] == []  # it trained 30 epochs


def test_train_text_zero_epochs(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["train", "moons", "--epochs", "0", "--no-progress"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert "epochs: 0" in out[0] and out[1].startswith("test accuracy: ")


@pytest.fixture(scope="module")
def demo_text(tmp_path_factory: pytest.TempPathFactory) -> str:
    import contextlib
    import io

    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        assert main(["demo", "--epochs", "0", "--out", str(tmp_path_factory.mktemp("demo"))]) == 0
    return buffer.getvalue()


def test_demo_separates_the_reverse_and_forward_traces(demo_text: str) -> None:
    lines = demo_text.splitlines()
    forward = next(i for i, line in enumerate(lines) if "(forward mode, ẋ = (1, 0))" in line)
    assert lines[forward - 1] == "" and lines[forward - 2].startswith("x̄₂")


def test_demo_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = _json(["demo", "--epochs", "0", "--out", str(tmp_path), "--json"], capsys)
    assert data["command"] == "demo" and data["point"] == {"x1": 2.0, "x2": 5.0}
    assert data["gradients"]["symbolic"] == {"x1": 5.5, "x2": 1.7163378145367738}
    assert data["exact"] == ["x2 + 1/x1", "x1 - cos(x2)"]
    assert [r["method"] for r in data["comparison"]["rows"]][-2:] == ["auto", "compiled"]
    assert data["files"] and all(Path(f).exists() for f in data["files"])
    assert data["training"]["epochs"] == 0 and 0.0 <= data["training"]["test_accuracy"] <= 1.0


def test_epochs_zero_trains_zero_epochs(monkeypatch: pytest.MonkeyPatch,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    """`--epochs 0` was read as "not given" and trained the default 30 epochs."""
    from diffkit import nn

    asked = []
    fit = nn.Trainer.fit

    def spy(self: Any, loader: Any, val_data: Any = None, epochs: int = 10) -> Any:
        asked.append(epochs)
        return fit(self, loader, val_data, epochs)

    monkeypatch.setattr(nn.Trainer, "fit", spy)
    assert main(["train", "xor", "--epochs", "0", "--no-progress"]) == 0
    assert main(["train", "xor", "--epochs", "1", "--no-progress"]) == 0
    assert asked == [0, 1]
    capsys.readouterr()
