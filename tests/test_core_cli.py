"""The `diffkit grad` command prints each method's gradient; bad input fails with a clear message."""

from __future__ import annotations

import re

import pytest

from diffkit.cli import main

BAYDIN = "ln(x1) + x1*x2 - sin(x2)"


def _numbers(line: str) -> list[float]:
    return [float(v) for v in re.findall(r"= (-?[\d.e+-]+)", line)]


def test_grad_prints_every_method(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["grad", BAYDIN, "--at", "x1=2", "x2=5"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "f(x1=2, x2=5) = 11.652071455223084"
    rows = {line.split()[0]: line for line in out[1:]}
    assert set(rows) == {"fd", "symbolic", "forward", "reverse"}
    for m in ("symbolic", "forward", "reverse"):
        assert _numbers(rows[m]) == [5.5, 1.7163378145367738]
        assert "d/dx1 = 5.5" in rows[m] and "d/dx2 = 1.7163378145367738" in rows[m]
    fd = _numbers(rows["fd"])
    assert fd == pytest.approx([5.5, 1.7163378145367738], rel=1e-7)


def test_grad_one_method_and_input_order(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["grad", "x^2*y + y + 2", "--at", "y=4", "x=3", "--method", "forward"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "f(x=3, y=4) = 42"
    assert len(out) == 2 and out[1].startswith("forward")
    assert _numbers(out[1]) == [24.0, 10.0]


@pytest.mark.parametrize(("argv", "message"), [
    (["grad", "sni(x)", "--at", "x=1"], "did you mean 'sin'"),
    (["grad", "__import__('os').system('true')", "--at", "x=1"], "only named functions"),
    (["grad", "x*y", "--at", "x=1"], "missing a value for y"),
    (["grad", "x*y", "--at", "x=1", "y=abc"], "'abc' is not a number"),
    (["grad", "x*y", "--at", "x=1", "q=2", "y=1"], "'q', which is not an input"),
    (["grad", "x", "--at", "x"], "NAME=VALUE"),
    (["grad", "log(x)", "--at", "x=-1"], "log needs x > 0"),
])
def test_bad_input_fails_with_a_message(argv: list[str], message: str,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    assert main(argv) != 0
    captured = capsys.readouterr()
    assert message in captured.err
    assert "Traceback" not in captured.err


def test_method_errors_are_reported_per_method(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["grad", "sqrt(x)", "--at", "x=0"]) == 1
    out = capsys.readouterr().out
    assert "reverse   error: sqrt is not differentiable at 0" in out
    assert "forward   error:" in out


def test_unknown_method_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["grad", "x", "--at", "x=1", "--method", "nope"]) == 2  # returned, not raised
    assert "invalid choice: 'nope'" in capsys.readouterr().err


def test_no_command_prints_help(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 2
    assert "usage: diffkit" in capsys.readouterr().out
