"""Hunt 14 (inputs and trust): element symbols that collide with input names, symbolic displays
that expanded huge powers or recursed too deep, a --at number the parser refuses, --workers
without a bound and a launcher whose SIGTERM left the ranks running, checkpoints whose optimizer
state crashed training after passing validation, and Markdown traces whose names were HTML."""

from __future__ import annotations

import copy
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import numpy as np
import pytest
from mpi_support import ENV, needs_mpi

import diffkit as dk
from diffkit.cli import main


def _error_line(capsys: pytest.CaptureFixture[str]) -> str:
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1, lines
    return lines[0]


# ----- 1. element symbols never equal an input's name ------------------------------------------


def _x_x0(x: object, x_0: object) -> object:
    return dk.sum(x * x) + 3.0 * x_0


def _x_x1(x: object, x_1: object) -> object:
    return dk.sum(x * x * x) + 3.0 * x_1


def _x_x1_vector(x: object, x_1: object) -> object:
    return dk.sum(x * x * x) + 3.0 * dk.sum(x_1 * x_1)


def _x0_x(x_0: object, x: object) -> object:  # the scalar first, the array after it
    return 2.0 * x_0 + dk.sum(x * x)


@pytest.mark.parametrize(("fn", "args"), [
    (_x_x0, (np.array([1.0, 2.0]), 5.0)),
    (_x_x1, (np.array([1.0, 2.0, 3.0]), 5.0)),
    (_x_x1_vector, (np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]), np.array([7.0, 8.0, 9.0]))),
    (_x0_x, (5.0, np.array([1.0, 2.0]))),
])
def test_symbolic_gradient_with_colliding_names_equals_reverse(fn: object, args: tuple) -> None:
    """x's elements were named x_0, x_1, … — the very names of the other input: a duplicate
    argument in the generated code (SyntaxError), or one symbol for two values."""
    f = dk.function(fn)
    want = dk.grad(f, method="reverse")(*args)
    got = dk.grad(f, method="symbolic")(*args)
    assert len(got) == len(want)
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=1e-12)


def test_colliding_names_hessian_and_symbols_are_distinct() -> None:
    f = dk.function(_x_x0)
    args = (np.array([1.0, 2.0]), 5.0)
    np.testing.assert_allclose(dk.hessian(f, method="symbolic")(*args),
                               dk.hessian(f, method="reverse")(*args))
    deriv = dk.symbolic(f, *args)
    names = [str(s) for s in deriv.program.inputs]
    assert len(set(names)) == len(names) == 3
    assert "x_0" in names  # the scalar keeps its own name


def test_plain_names_keep_their_element_symbols() -> None:
    deriv = dk.symbolic(dk.function(lambda x, y: dk.sum(x * x) + y), np.array([1.0, 2.0]), 3.0)
    assert [str(s) for s in deriv.program.inputs] == ["x_0", "x_1", "y"]


# ----- 2. displays return in bounded time --------------------------------------------------------


def test_display_of_a_large_power_returns_quickly() -> None:
    """SymPy's simplify expanded (x + y)**1999 term by term: repr ran for minutes."""
    code = ("import diffkit as dk, time\n"
            "s = dk.symbolic(dk.parse('(x+y)^2000'))\n"
            "t = time.perf_counter()\n"
            "r = repr(s); e = s.expressions; l = s.latex()\n"
            "print(time.perf_counter() - t)\n"
            "print(r)\n")
    try:
        done = subprocess.run([sys.executable, "-c", code], env=ENV, capture_output=True,
                              text=True, timeout=30, check=False)
    except subprocess.TimeoutExpired:
        pytest.fail("repr/expressions/latex of (x+y)^2000's derivative ran past 30 s")
    assert done.returncode == 0, done.stderr
    seconds, shown = done.stdout.splitlines()[:2]
    assert float(seconds) < 5
    assert "2000*(x + y)**1999" in shown


def test_small_expressions_are_still_simplified() -> None:
    assert str(dk.symbolic("ln(x1) + x1*x2 - sin(x2)").expressions) == "[x2 + 1/x1, x1 - cos(x2)]"
    assert str(dk.symbolic(dk.parse("(x+y)^3")).expressions) == "[3*(x + y)**2, 3*(x + y)**2]"


# ----- 3. too deep for SymPy: a named error ------------------------------------------------------


@pytest.mark.parametrize("text", ["sin(" * 250 + "x" + ")" * 250, "x" + "^x" * 250],
                         ids=["sin250", "power-tower250"])
def test_expanded_too_deep_is_a_missing_rule_error(text: str) -> None:
    s = dk.symbolic(dk.parse(text))
    with pytest.raises(dk.MissingRuleError, match="too deep for SymPy"):
        s.expanded()
    assert "large" in repr(s)  # a repr never raises


@pytest.mark.filterwarnings("ignore:overflow encountered")
def test_draw_symbolic_too_deep_is_a_missing_rule_error() -> None:
    from diffkit.traces.drawing import draw_symbolic

    with pytest.raises(dk.MissingRuleError, match="too deep for SymPy"):
        draw_symbolic(dk.parse("exp(" * 250 + "x" + ")" * 250), 0.5)


# ----- 4. --at refuses what the parser refuses ---------------------------------------------------


@pytest.mark.parametrize("at", ["x=1e-400", "x=-2.5e-330", "x=1,1e-400"])
def test_at_refuses_an_underflowing_number(at: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(dk.ParseError, match="too small for a float"):
        dk.parse(at.split(",")[-1].removeprefix("x=").lstrip("-"))
    assert main(["grad", "sum(x)", "--at", at, "--method", "reverse"]) == 1
    line = _error_line(capsys)
    assert line.startswith("diffkit grad: error: --at x: "), line
    assert "too small for a float: it would be 0" in line


@pytest.mark.parametrize(("text", "value"), [("0", 0.0), ("-0.0", -0.0), ("0e5", 0.0)])
def test_at_still_reads_zero(text: str, value: float, capsys: pytest.CaptureFixture[str]) -> None:
    import json

    assert main(["grad", "x", "--at", f"x={text}", "--method", "reverse", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["point"] == {"x": value}


# ----- 5. --workers has a bound ------------------------------------------------------------------


@pytest.fixture
def no_launch(monkeypatch: pytest.MonkeyPatch) -> None:
    from diffkit.cli import launch

    def refuse(*args: object) -> int:
        raise AssertionError("launch() was called")

    monkeypatch.setattr(launch, "launch", refuse)


def test_workers_beyond_the_machine_are_refused_before_launching(
        no_launch: None, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["train", "xor", "--workers", "100000"]) == 1
    line = _error_line(capsys)
    assert line.startswith("diffkit train: error: --workers 100000 is more than this machine "
                           "can run: at most "), line
    assert "per CPU core" in line


def test_workers_beyond_the_batch_are_refused_before_launching(
        no_launch: None, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["train", "xor", "--workers", "3", "--batch-size", "2"]) == 1
    line = _error_line(capsys)
    assert line == ("diffkit train: error: --workers 3 is more than --batch-size 2: each worker "
                    "takes a share of every step's rows, so some would have none; use at most 2 "
                    "workers, or a larger --batch-size")


def test_check_workers_bounds() -> None:
    from diffkit.cli.common import CLIError
    from diffkit.cli.train import WORKERS_PER_CPU, check_workers

    check_workers(2, 32, cpus=1)
    check_workers(WORKERS_PER_CPU * 2, 32, cpus=2)
    with pytest.raises(CLIError, match="at most 8"):
        check_workers(9, 32, cpus=2)


# ----- 6. a signal to the launcher stops the whole job -------------------------------------------


def _marked(mark: str) -> list[int]:
    """Processes (of any kind) whose environment holds `mark`."""
    found = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/environ", "rb") as f:
                if f"DIFFKIT_TEST_MARK={mark}".encode() in f.read():
                    found.append(int(d))
        except OSError:
            continue
    return found


def test_stop_job_ends_the_whole_process_group() -> None:
    """The handler's work, without MPI: a job of a shell and its children all end."""
    from diffkit.cli.launch import stop_job

    mark = uuid.uuid4().hex
    proc = subprocess.Popen(["sh", "-c", "sleep 60 & sleep 60 & wait"],
                            env={**ENV, "DIFFKIT_TEST_MARK": mark}, start_new_session=True)
    try:
        deadline = time.monotonic() + 10
        while len(_marked(mark)) < 3 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(_marked(mark)) >= 3
        stop_job(proc, signal.SIGTERM, grace=2)
        assert proc.returncode is not None
        deadline = time.monotonic() + 5
        while _marked(mark) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert _marked(mark) == []
    finally:
        for pid in _marked(mark):
            os.kill(pid, signal.SIGKILL)


@needs_mpi
@pytest.mark.skipif(not Path("/proc/self/environ").exists(), reason="finds ranks through /proc")
def test_sigterm_to_the_launcher_stops_every_rank(tmp_path: Path) -> None:
    """SIGTERM to ``train --workers 2`` left mpiexec and both ranks running."""
    mark = uuid.uuid4().hex
    job = subprocess.Popen([sys.executable, "-m", "diffkit", "train", "xor", "--workers", "2",
                            "--epochs", "100000", "--no-progress"], cwd=tmp_path,
                           env={**ENV, "DIFFKIT_TEST_MARK": mark}, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 30
        while len(_marked(mark)) < 4 and time.monotonic() < deadline and job.poll() is None:
            time.sleep(0.05)  # the launcher, mpiexec and the ranks
        assert len(_marked(mark)) >= 4, job.stderr.read() if job.poll() is not None else ""
        time.sleep(0.5)
        job.send_signal(signal.SIGTERM)
        job.communicate(timeout=15)
        assert job.returncode != 0
        deadline = time.monotonic() + 5
        while _marked(mark) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert _marked(mark) == [], "processes of the job outlived its launcher"
    finally:
        if job.poll() is None:
            job.kill()
            job.wait()
        for pid in _marked(mark):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


# ----- 7. optimizer state that crashed training is refused ---------------------------------------


@pytest.fixture(scope="module")
def genuine(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """A genuine Trainer checkpoint (Adam, a cosine schedule), as load_state reads it."""
    from diffkit import nn
    from diffkit.nn.checkpoint import load_state

    path = tmp_path_factory.mktemp("ckpt") / "run.ckpt"
    nn.manual_seed(0)
    X, y = nn.DATASETS["xor"](n_samples=64, seed=0)
    trainer = _trainer(str(path))
    trainer.fit(nn.DataLoader(X, y, 16, seed=0), epochs=1)
    return load_state(str(path))


def _trainer(path: str) -> object:
    from diffkit import nn

    nn.manual_seed(0)
    model = nn.MLP([2, 4, 2])
    opt = nn.Adam(model.parameters(), lr=0.01)
    return nn.Trainer(model, optimizer=opt, scheduler=nn.CosineAnnealingLR(opt, 3),
                      progress=False, checkpoint=path)


def _set_step(v: object) -> object:
    return lambda s: s["optimizer"]["state"][0].__setitem__("step", v)


def _complex_moment(s: dict) -> None:
    st = s["optimizer"]["state"][0]
    st["exp_avg"] = st["exp_avg"].astype(np.complex128)


def _initial_lr(v: object) -> object:
    return lambda s: s["optimizer"]["param_groups"][0].__setitem__("initial_lr", v)


@pytest.mark.parametrize(("change", "why"), [
    (_set_step(-1), "'step' of parameter 0 is -1, not a step count"),
    (_set_step(-5), "'step' of parameter 0 is -5, not a step count"),
    (_set_step(2.5), "'step' of parameter 0 is 2.5, not a step count"),
    (_set_step(10**30), "more steps than any run takes"),
    (_set_step("3"), "'step' of parameter 0 is '3', not a step count"),
    (_complex_moment, "'exp_avg' of parameter 0 has dtype complex128, which the parameter's"),
    (_initial_lr("x"), "Invalid initial learning rate: 'x'"),
    (_initial_lr(float("nan")), "Invalid initial learning rate: nan"),
], ids=["step-1", "step-5", "step2.5", "step1e30", "step-str", "complex", "lr-x", "lr-nan"])
def test_bad_optimizer_state_is_a_checkpoint_error(genuine: dict, change: object, why: str,
                                                   tmp_path: Path) -> None:
    from diffkit.nn import CheckpointError
    from diffkit.nn.checkpoint import save_state

    state = copy.deepcopy(genuine)
    change(state)  # type: ignore[operator]
    path = tmp_path / "changed.ckpt"
    save_state(str(path), state)
    with pytest.raises(CheckpointError, match="entry 'optimizer'") as info:
        _trainer(str(tmp_path / "next.ckpt")).load_checkpoint(str(path))
    assert why in str(info.value)


def test_genuine_optimizer_state_still_loads(genuine: dict, tmp_path: Path) -> None:
    from diffkit.nn.checkpoint import save_state

    state = copy.deepcopy(genuine)
    state["optimizer"]["state"][0]["step"] = float(state["optimizer"]["state"][0]["step"])
    path = tmp_path / "same.ckpt"
    save_state(str(path), state)
    trainer = _trainer(str(tmp_path / "next.ckpt"))
    trainer.load_checkpoint(str(path))
    assert type(trainer.optimizer.state[0]["step"]) is int  # type: ignore[attr-defined]


def test_cli_resume_with_a_bad_initial_lr_is_one_error_line(genuine: dict, tmp_path: Path) -> None:
    """Through the command line: ``lr: {lr:g}`` met the string 'x' (a ValueError)."""
    from diffkit.nn.checkpoint import load_state, save_state

    path = tmp_path / "run.ckpt"
    args = [sys.executable, "-m", "diffkit", "train", "xor", "--epochs", "1", "--no-progress",
            "--checkpoint", str(path)]
    assert subprocess.run(args, env=ENV, capture_output=True, timeout=120,
                          check=False).returncode == 0
    state = load_state(str(path))
    state["optimizer"]["param_groups"][0]["initial_lr"] = "x"
    save_state(str(path), state)
    done = subprocess.run([*args, "--resume"], env=ENV, capture_output=True, text=True,
                          timeout=120, check=False)
    assert done.returncode == 1
    want = (f"diffkit train: error: {path}: entry 'optimizer': optimizer state: parameter "
            "group 0: Invalid initial learning rate: 'x'")
    assert done.stderr.strip().splitlines() == [want]


# ----- 8. Markdown traces show names as text -----------------------------------------------------


def test_markdown_title_escapes_html() -> None:
    md = dk.trace(dk.function(lambda x: x * x), 2.0).to_markdown()
    first = md.splitlines()[0]
    assert first.startswith("**&lt;lambda&gt;(x) at x = 2 (reverse mode, ")
    assert "<" not in md and ">" not in md


def test_markdown_title_has_no_line_break() -> None:
    f = dk.function(lambda x: x * x)
    f.name = "a\nb&c"
    first = dk.trace(f, 2.0).to_markdown().splitlines()[0]
    assert first.startswith("**a b&amp;c(x) at x = 2 (reverse mode, ")


def test_markdown_plain_names_are_unchanged() -> None:
    def square(x: object) -> object:
        return x * x

    t = dk.trace(dk.function(square), 2.0)
    md = t.to_markdown()
    assert md.splitlines()[0] == f"**{t.title()}**"
    assert md.startswith("**square(x) at x = 2 (reverse mode, ")


def test_checkpoint_path_is_checked_before_training(tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    """A missing folder was found after the first epoch, and a folder named an internal temp
    file ("….ckpt-7ug7fpii.tmp: Is a directory"): both are refused up front, naming the option."""
    missing = tmp_path / "nope" / "x.ckpt"
    assert main(["train", "xor", "--epochs", "1", "--checkpoint", str(missing)]) == 1
    assert _error_line(capsys) == (f"diffkit train: error: --checkpoint {missing}: no folder "
                                   f"{str(missing.parent)!r} to write into")
    assert main(["train", "xor", "--epochs", "1", "--checkpoint", str(tmp_path)]) == 1
    assert _error_line(capsys) == (f"diffkit train: error: --checkpoint {tmp_path}: is a folder; "
                                   "give a file name")


def test_one_worker_is_singular(no_launch: None, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["train", "xor", "--workers", "2", "--batch-size", "1"]) == 1
    assert _error_line(capsys).endswith("use at most 1 worker, or a larger --batch-size")
