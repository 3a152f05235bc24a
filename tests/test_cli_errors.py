"""Every subcommand fails on bad input with ONE line on stderr, ``diffkit <command>: error: …``,
a non-zero exit status and no traceback; --json prints valid JSON on every subcommand; --version;
broken pipes end quietly; DIFFKIT_DEBUG=1 shows the traceback.

Most cases run in-process through ``diffkit.cli.main(argv)``; a few run ``python -m diffkit`` as a
real process (the closed pipe, the debug switch, warnings that pytest would otherwise swallow).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

import diffkit
from diffkit.backend import gpu_available
from diffkit.cli import main

ROOT = Path(__file__).resolve().parent.parent
BAYDIN = "ln(x1) + x1*x2 - sin(x2)"
AT = ["--at", "x1=2", "x2=5"]
PRODUCT_3000 = "*".join(["x"] * 3000)


def _bad_inputs() -> list[tuple[str, list[str]]]:
    """(command, argv) pairs that must each fail with one error line."""
    here = str(Path(__file__))  # an existing file, where a folder is wanted
    folder = str(ROOT)  # an existing folder, where a file is wanted
    cases = {
        "demo": [
            ["demo", "--epochs", "-1"],
            ["demo", "--epochs", "many"],
            ["demo", "--out", here, "--epochs", "0"],
            ["demo", "--bogus"],
        ],
        "grad": [
            ["grad", "sni(x)", "--at", "x=1"],
            ["grad", "x +", "--at", "x=1"],
            ["grad", "", "--at", "x=1"],
            ["grad", "__import__('os').system('true')", "--at", "x=1"],
            ["grad", "x*y"],  # no --at
            ["grad", "x*y", "--at", "x=1"],
            ["grad", "x*y", "--at", "x=1", "q=2", "y=1"],
            ["grad", "x", "--at", "x"],
            ["grad", "x", "--at", "=1"],
            ["grad", "x", "--at", "x=1", "x=2"],
            ["grad", "x*y", "--at", "x=1", "y=abc"],
            ["grad", "x", "--at", "x=1,,2"],
            ["grad", "x^2", "--at", "x=inf"],
            ["grad", "x^2", "--at", "x=nan"],
            ["grad", "x^2", "--at", "x=1e999"],
            ["grad", "exp(x)", "--at", "x=1000"],
            ["grad", "log(exp(x))", "--at", "x=1000"],
            ["grad", "log(x)", "--at", "x=-1"],
            ["grad", "x^2", "--at", "x=1,2,3"],  # a vector output
            ["grad", "2", "--at", "x=1"],  # no inputs
            ["grad", "sqrt(x)", "--at", "x=0"],  # every method fails: a table, then one line
            ["grad", "sqrt(x)", "--at", "x=0", "--method", "reverse"],
            ["grad", "abs(x)", "--at", "x=1", "--method", "fd-complex"],
            ["grad", PRODUCT_3000, "--at", "x=1", "--method", "symbolic"],
            ["grad", "x", "--at", "x=1", "--method", "nope"],
            ["grad", "x", "--at", "x=1", "--digits", "-3"],
            ["grad", "x", "--at", "x=1", "--digits", "18"],
            ["grad", "x", "--at", "x=1", "--digits", "two"],
            ["grad", "x", "--at", "x=1", "--metod", "auto"],
        ],
        "trace": [
            ["trace", "sni(x)", "--at", "x=1"],
            ["trace", BAYDIN, "--at", "x1=2"],
            ["trace", BAYDIN, *AT, "--graph", "graph.txt"],
            ["trace", BAYDIN, *AT, "--graph", "no/such/folder/g.svg"],
            ["trace", BAYDIN, *AT, "--graph", folder],
            ["trace", BAYDIN, *AT, "--seed", "x1=1"],  # a seed needs --mode forward
            ["trace", BAYDIN, *AT, "--mode", "forward", "--seed", "q=1"],
            ["trace", "x", "--at", "x=1,2", "--mode", "forward", "--seed", "x=1,2,3"],
            ["trace", BAYDIN, *AT, "--mode", "sideways"],
            ["trace", BAYDIN, *AT, "--format", "pdf"],
            ["trace", BAYDIN, *AT, "--format", "markdown", "--json"],
            ["trace", BAYDIN, *AT, "--digits", "-1"],
            ["trace", "log(x)", "--at", "x=-1"],
        ],
        "compare": [
            ["compare", "sni(x)", "--at", "x=1"],
            ["compare", "x*y", "--at", "x=1"],
            ["compare", "x", "--at", "x=inf"],
            ["compare", "log(x)", "--at", "x=-1"],
            ["compare", "x", "--at", "x=1", "--methods", "nope"],
            ["compare", "x", "--at", "x=1", "--json", "--markdown"],
            ["compare", "x", "--at", "x=1", "--plot-fd", "fd.txt"],
            ["compare", "x", "--at", "x=1", "--plot-fd", "no/such/folder/fd.png"],
        ],
        "train": [
            ["train"],
            ["train", "mnist"],
            ["train", "xor", "--model", "rnn"],
            ["train", "xor", "--model", "cnn", "--epochs", "1"],
            ["train", "xor", "--optimizer", "sgdd"],
            ["train", "xor", "--epochs", "-1"],
            ["train", "xor", "--epochs", "1.5"],
            ["train", "xor", "--batch-size", "0"],
            ["train", "xor", "--batch-size", "-3"],
            ["train", "xor", "--lr", "-1"],
            ["train", "xor", "--lr", "0"],
            ["train", "xor", "--lr", "inf"],
            ["train", "xor", "--lr", "fast"],
            ["train", "xor", "--seed", "-1"],
            ["train", "xor", "--device", "gpu"],
            ["train", "xor", "--optimizer", "sgd", "--lr", "1e6", "--epochs", "1", "--no-progress"],
        ],
    }
    if not gpu_available():
        cases["train"].append(["train", "xor", "--device", "cuda", "--epochs", "1",
                               "--no-progress"])
    return [(command, argv) for command, argvs in cases.items() for argv in argvs]


def _id(case: tuple[str, list[str]]) -> str:
    text = " ".join(case[1])
    return text if len(text) < 60 else text[:57] + "..."


@pytest.mark.parametrize("case", _bad_inputs(), ids=[_id(c) for c in _bad_inputs()])
def test_bad_input_is_one_error_line(case: tuple[str, list[str]], tmp_path: Path,
                                     monkeypatch: pytest.MonkeyPatch,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    command, argv = case
    monkeypatch.chdir(tmp_path)  # nothing a failing command might write lands in the checkout
    status = main(argv)
    out, err = capsys.readouterr()
    assert status != 0
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith(f"diffkit {command}: error: "), err
    assert "Traceback" not in out + err


@pytest.mark.parametrize(("argv", "message"), [
    (["grad", "x^2", "--at", "x=inf"], "--at x=inf: not a finite number"),
    (["grad", "exp(x)", "--at", "x=1000"], "exp(1000.0) overflows"),
    (["grad", "x", "--at", "x=1", "--digits", "-3"], "an integer from 0 to 17 is needed, not -3"),
    (["grad", "x^2", "--at", "x=1,2,3"], "reduce it, e.g. 'sum(x^2)'"),
    (["grad", PRODUCT_3000, "--at", "x=1", "--method", "symbolic"],
     "too deep for SymPy's symbolic engine"),
    (["trace", BAYDIN, *AT, "--graph", "g.txt"], "unknown file type '.txt'"),
    (["train", "xor", "--epochs", "-1"], "an integer >= 0 is needed, not -1"),
    (["train", "xor", "--batch-size", "0"], "a positive integer is needed, not 0"),
    (["train", "xor", "--optimizer", "sgd", "--lr", "1e6", "--epochs", "1", "--no-progress"],
     "training diverged in epoch 1"),
])
def test_error_messages_say_what_is_wrong(argv: list[str], message: str,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    assert main(argv) != 0
    assert message in capsys.readouterr().err


def test_unknown_names_at_the_top_level_are_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    for argv in (["nope"], ["--bogus"]):
        assert main(argv) == 2
        err = capsys.readouterr().err.splitlines()
        assert len(err) == 1 and err[0].startswith("diffkit: error: ")


def test_divergence_is_one_line_with_a_hint(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["train", "xor", "--optimizer", "sgd", "--lr", "1e6", "--epochs", "3", "--no-progress"]
    assert main(argv) == 1
    out, err = capsys.readouterr()
    assert "test accuracy" not in out
    assert "training diverged" in err and "lower --lr (it was 1e+06; sgd's default is 0.1)" in err


def test_a_symbolic_product_of_3000_factors_is_refused_fast(
        capsys: pytest.CaptureFixture[str]) -> None:
    start = time.perf_counter()
    assert main(["grad", PRODUCT_3000, "--at", "x=1", "--method", "symbolic"]) == 1
    assert time.perf_counter() - start < 5  # it ended in a RecursionError after 5-20 s
    assert "use method='reverse'" in capsys.readouterr().err


def test_some_methods_failing_is_a_table_and_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["grad", "abs(x)", "--at", "x=1", "--method", "fd-complex"]) == 1
    out, err = capsys.readouterr()
    assert out == "" and err.startswith("diffkit grad: error: fd-complex: ")
    assert main(["grad", "sqrt(x)", "--at", "x=0"]) == 1
    out, err = capsys.readouterr()
    assert "reverse   error: sqrt is not differentiable at 0" in out
    assert err == ("diffkit grad: error: 4 of 4 methods failed (fd, symbolic, forward, reverse); "
                   "their errors are above\n")


# ----- an internal error: one line asking for a report; the traceback on request ---------------


def _crash(args: object) -> int:
    raise RuntimeError("something internal broke")


@pytest.mark.parametrize("command", ["demo", "grad", "trace", "compare", "train"])
def test_an_internal_error_is_one_line_asking_for_a_report(
        command: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    import importlib

    monkeypatch.setattr(importlib.import_module(f"diffkit.cli.{command}"), "run", _crash)
    monkeypatch.delenv("DIFFKIT_DEBUG", raising=False)
    argv = {"demo": ["demo"], "train": ["train", "xor"]}.get(command, [command, "x", "--at", "x=1"])
    assert main(argv) == 1
    out, err = capsys.readouterr()
    assert err == (f"diffkit {command}: error: internal error, RuntimeError: something internal "
                   "broke; please report this (DIFFKIT_DEBUG=1 shows the traceback)\n")
    assert "Traceback" not in out


def test_diffkit_debug_adds_the_traceback(monkeypatch: pytest.MonkeyPatch,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    from diffkit.cli import grad

    monkeypatch.setattr(grad, "run", _crash)
    monkeypatch.setenv("DIFFKIT_DEBUG", "1")
    assert main(["grad", "x", "--at", "x=1"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("Traceback") and "RuntimeError: something internal broke" in err
    assert err.splitlines()[-1] == ("diffkit grad: error: internal error, RuntimeError: something "
                                    "internal broke; please report this")


@pytest.mark.parametrize(("raised", "status", "err"), [
    (KeyboardInterrupt(), 130, "diffkit grad: error: interrupted\n"),
    (BrokenPipeError(32, "Broken pipe"), 141, ""),
    (MemoryError(), 1, "diffkit grad: error: out of memory (try smaller inputs)\n"),
    (PermissionError(13, "Permission denied", "out.svg"),
     1, "diffkit grad: error: out.svg: Permission denied\n"),
])
def test_interrupts_closed_pipes_and_system_errors(
        raised: BaseException, status: int, err: str, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    from diffkit.cli import grad

    def run(args: object) -> int:
        raise raised

    monkeypatch.setattr(grad, "run", run)
    assert main(["grad", "x", "--at", "x=1"]) == status
    assert capsys.readouterr().err == err


# ----- real processes ---------------------------------------------------------------------------


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "DIFFKIT_DEBUG"}
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    env.update(extra)
    return env


def _diffkit(*argv: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "diffkit", *argv], capture_output=True,
                          text=True, cwd=ROOT, env=_env(**env), timeout=120, check=False)


def test_the_process_runs_this_checkout() -> None:
    done = subprocess.run([sys.executable, "-c", "import diffkit; print(diffkit.__file__)"],
                          capture_output=True, text=True, cwd=ROOT, env=_env(), check=True)
    assert Path(done.stdout.strip()) == Path(diffkit.__file__)


def test_a_closed_pipe_ends_quietly() -> None:
    """`diffkit trace … | head -1`: the reader goes away after one line."""
    big = "+".join(f"sin(x*{i})" for i in range(1, 300))  # ~240 kB of tables: more than a pipe holds
    proc = subprocess.Popen([sys.executable, "-m", "diffkit", "trace", big, "--at", "x=1"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=ROOT, env=_env())
    assert proc.stdout is not None and proc.stderr is not None
    first = proc.stdout.readline()
    proc.stdout.close()
    err = proc.stderr.read().decode()
    proc.stderr.close()
    assert proc.wait(timeout=120) == 141  # 128 + SIGPIPE, as `head` users expect
    assert first.startswith(b"f(x) = ")
    assert err == ""


def test_diffkit_debug_in_a_process() -> None:
    plain = _diffkit("grad", "sni(x)", "--at", "x=1")
    assert plain.returncode == 1 and plain.stdout == ""
    assert plain.stderr.startswith("diffkit grad: error: unknown function 'sni'")
    assert len(plain.stderr.splitlines()) == 1
    debug = _diffkit("grad", "sni(x)", "--at", "x=1", DIFFKIT_DEBUG="1")
    assert debug.returncode == 1
    assert debug.stderr.startswith("Traceback") and "ParseError" in debug.stderr
    assert debug.stderr.splitlines()[-1] == plain.stderr.strip()


def test_an_internal_error_in_a_process() -> None:
    code = ("import sys, diffkit.cli.grad as g; g.grad = None; from diffkit.cli import main; "
            "sys.exit(main(['grad', 'x', '--at', 'x=1', '--method', 'reverse']))")
    for debug in ("", "1"):
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                              cwd=ROOT, env=_env(DIFFKIT_DEBUG=debug), timeout=120, check=False)
        assert done.returncode == 1
        last = done.stderr.splitlines()[-1]
        assert last.startswith("diffkit grad: error: internal error, TypeError: ")
        assert "please report this" in last
        assert ("Traceback" in done.stderr) == bool(debug)


def test_divergence_in_a_process_prints_no_warnings() -> None:
    done = _diffkit("train", "xor", "--optimizer", "sgd", "--lr", "1e6", "--epochs", "1",
                    "--no-progress")
    assert done.returncode == 1 and done.stdout == ""
    assert done.stderr.startswith("diffkit train: error: training diverged")
    assert len(done.stderr.splitlines()) == 1  # no RuntimeWarning from NumPy


def test_version() -> None:
    done = _diffkit("--version")
    assert done.returncode == 0 and done.stdout == f"diffkit {diffkit.__version__}\n"


def test_version_in_process(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--version"]) == 0
    assert capsys.readouterr().out == f"diffkit {diffkit.__version__}\n"
