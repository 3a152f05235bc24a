"""The point on the command line: an EXPR that starts with '-' gets an error saying how to pass
it, the point is echoed exactly (not rounded), and ``--at`` reads exactly the numbers the math
text parser reads (no ``1_000``, no non-ASCII digits), each refusal named."""

from __future__ import annotations

import pytest

from diffkit.cli import main


def _one_error(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err
    lines = err.splitlines()
    assert len(lines) == 1, err
    return lines[0]


# ----- an EXPR that starts with '-' ----------------------------------------------------------


@pytest.mark.parametrize("argv", [
    ["grad", "-x^2", "--at", "x=1"],
    ["grad", "--at", "x=1", "-x^2"],
    ["grad", "-x^2"],
    ["trace", "-x*y", "--at", "x=1", "y=2"],
    ["compare", "-sin(x)", "--at", "x=1"],
])
def test_an_expression_starting_with_minus_gets_a_hint(argv: list[str],
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    assert main(argv) == 2
    line = _one_error(capsys)
    expr = next(a for a in argv[1:] if a.startswith("-") and a != "--at")
    assert line.startswith(f"diffkit {argv[0]}: error: ")
    assert f"EXPR {expr!r} starts with '-'" in line, line
    assert "put -- before it, after the options" in line
    assert f"-- {expr!r}" in line and f"' {expr}'" in line and f"'({expr})'" in line


def test_options_after_the_double_dash_get_a_hint(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["grad", "--", "-x^2", "--at", "x=1"]) == 2
    line = _one_error(capsys)
    assert "everything after -- is EXPR" in line and "put --at before --" in line, line


@pytest.mark.parametrize("argv", [
    ["grad", "--at", "x=1", "--", "-x^2"],
    ["grad", " -x^2", "--at", "x=1"],
    ["grad", "(-x^2)", "--at", "x=1"],
])
def test_the_hinted_forms_work(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(argv) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "f(x=1) = -1" and out[-1] == "reverse   d/dx = -2.0"


def test_other_usage_errors_get_no_dash_hint(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["grad", "x^2"]) == 2
    line = _one_error(capsys)
    assert "required: --at" in line and "starts with '-'" not in line
    assert main(["grad", "x^2", "--at", "x=1", "--bogus"]) == 2
    line = _one_error(capsys)
    assert "unrecognized arguments: --bogus" in line and "starts with '-'" not in line


# ----- the echo of the point -----------------------------------------------------------------


@pytest.mark.parametrize(("at", "echo"), [
    ("x=1.2345678901234", "x=1.2345678901234"),
    ("x=2", "x=2"),
    ("x=1e3", "x=1000"),
    ("x=-0.1", "x=-0.1"),
    ("x=1e-300", "x=1e-300"),
    ("x=0.1,2.5", "x=[0.1, 2.5]"),
    ("x=1,2,3,4,5,6,7,8", "x=[1., 2., 3., 4., 5., 6., 7., 8.]"),
])
@pytest.mark.parametrize("digits", ["17", "3"])
def test_the_point_is_echoed_exactly(at: str, echo: str, digits: str,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["grad", "sum(x)", "--at", at, "--method", "reverse", "--digits", digits]) == 0
    assert capsys.readouterr().out.splitlines()[0].startswith(f"f({echo}) = ")


# ----- the numbers --at reads ----------------------------------------------------------------


@pytest.mark.parametrize(("text", "value"), [
    ("3", 3.0), ("2.5", 2.5), (".5", 0.5), ("5.", 5.0), ("1e-3", 1e-3), ("1E+2", 100.0),
    ("007", 7.0), ("-2", -2.0), ("+2", 2.0), (" 2 ", 2.0),
])
def test_at_reads_the_parsers_numbers(text: str, value: float,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    import json

    assert main(["grad", "x", "--at", f"x={text}", "--method", "reverse", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["point"] == {"x": value}


@pytest.mark.parametrize(("text", "why"), [
    ("1_000", "underscores in numbers are not allowed (write 1000, not 1_000)"),
    ("٣", "'٣' is not allowed"),
    ("１", "'１' is not allowed"),
    ("0x10", "hexadecimal, octal and binary numbers are not allowed"),
    ("1j", "complex numbers are not allowed"),
    ("pi", "not a number"),
    ("2*3", "not a number"),
    ("1e", "not a number"),
    ("1.2.3", "not a number"),
    ("", "not a number"),
    ("--1", "not a number"),
])
def test_at_refuses_what_the_parser_refuses(text: str, why: str,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["grad", "x", "--at", f"x={text}"]) == 1
    line = _one_error(capsys)
    assert line.startswith(f"diffkit grad: error: --at x: {text!r} is not a number"), line
    assert why in line


@pytest.mark.parametrize("text", ["inf", "-inf", "+Infinity", "nan", "NaN", "1e400", "-1e400"])
def test_non_finite_numbers_are_named_as_before(text: str,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["grad", "x", "--at", f"x={text}"]) == 1
    assert _one_error(capsys) == (f"diffkit grad: error: --at x={text}: not a finite number "
                                  "(diffkit differentiates at finite points only)")


def test_a_vector_element_is_named(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["grad", "sum(x)", "--at", "x=1,2_0,3"]) == 1
    line = _one_error(capsys)
    assert "--at x: '2_0' is not a number: underscores" in line, line


def test_seed_reads_the_same_numbers(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["trace", "x*y", "--at", "x=1", "y=2", "--mode", "forward",
                 "--seed", "x=1_0"]) == 1
    assert "--seed x: '1_0' is not a number: underscores" in _one_error(capsys)
