"""``diffkit train … --checkpoint PATH --resume``: the checkpoint records the command's settings,
and a resume with other settings (epochs, lr, dataset, model, optimizer, batch size, seed) is
refused with one line naming what differs and what to do — never a silent run with the old
schedule (lr = 0), the old data mixed in, or a reported lr that is not the one used. Resuming an
interrupted run with the same arguments continues it bit for bit."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from diffkit import nn
from diffkit.cli import main
from diffkit.nn.checkpoint import load_state, save_state


def _train(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, dict | None, str]:
    status = main(["train", *argv, "--json"])
    out, err = capsys.readouterr()
    return status, (json.loads(out) if out else None), err


def _interrupt_after(monkeypatch: pytest.MonkeyPatch, epochs: int) -> None:
    """Ctrl-C at the start of epoch `epochs` + 1 (the checkpoint of `epochs` is written)."""
    real = nn.Trainer._run_epoch

    def run_epoch(self: nn.Trainer, *args: object) -> None:
        if self.epoch == epochs:
            raise KeyboardInterrupt
        real(self, *args)

    monkeypatch.setattr(nn.Trainer, "_run_epoch", run_epoch)


def test_an_interrupted_run_resumed_with_the_same_arguments_is_bit_exact(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    args = ["xor", "--epochs", "3", "--optimizer", "momentum", "--batch-size", "40"]
    status, straight, _ = _train(capsys, *args)
    assert status == 0
    ckpt = str(tmp_path / "run.ckpt")
    _interrupt_after(monkeypatch, 1)
    status, _, err = _train(capsys, *args, "--checkpoint", ckpt)
    assert status == 130 and "interrupted" in err
    monkeypatch.undo()
    assert load_state(ckpt)["epoch"] == 1
    status, resumed, err = _train(capsys, *args, "--checkpoint", ckpt, "--resume")
    assert status == 0, err
    for h in straight["history"], resumed["history"]:
        del h["time"]
    assert resumed["history"] == straight["history"]
    assert resumed["test_accuracy"] == straight["test_accuracy"]
    assert resumed["lr"] == straight["lr"] == 0.05  # momentum's default, the schedule's base
    assert resumed["history"]["lr"][0] == 0.05


@pytest.mark.parametrize(("first", "then", "words"), [
    (["xor", "--epochs", "1"], ["xor", "--epochs", "2"],
     "was written by a run with --epochs 1, not --epochs 2; resume with --epochs 1"),
    (["xor", "--epochs", "2"], ["xor", "--epochs", "2", "--lr", "0.5"],
     "was written by a run with --lr 0.003, not --lr 0.5; resume with --lr 0.003"),
    (["xor", "--epochs", "2"], ["xor", "--epochs", "3", "--lr", "0.5"],
     ("was written by a run with --lr 0.003 --epochs 2, not --lr 0.5 --epochs 3; resume with "
      "--lr 0.003 --epochs 2")),
    (["xor", "--epochs", "2"], ["xor", "--epochs", "2", "--optimizer", "adamw"],
     ("was written by a run with --optimizer adam, not --optimizer adamw; resume with "
      "--optimizer adam")),
    (["xor", "--epochs", "1"], ["xor", "--epochs", "1", "--batch-size", "16"],
     ("was written by a run with --batch-size 32, not --batch-size 16; resume with "
      "--batch-size 32")),
    (["xor", "--epochs", "1", "--seed", "2"], ["xor", "--epochs", "1"],
     "was written by a run with --seed 2, not --seed 0; resume with --seed 2"),
    (["xor", "--epochs", "1"], ["moons", "--epochs", "1"],
     "was written by a run with DATASET xor, not DATASET moons; resume with DATASET xor"),
    (["digits", "--epochs", "1"], ["digits", "--epochs", "1", "--model", "cnn"],
     "was written by a run with --model mlp, not --model cnn; resume with --model mlp"),
])
def test_a_resume_with_other_settings_is_refused(first: list[str], then: list[str], words: str,
                                                 tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    ckpt = tmp_path / "run.ckpt"
    assert _train(capsys, *first, "--checkpoint", str(ckpt))[0] == 0
    written = ckpt.read_bytes()
    status, data, err = _train(capsys, *then, "--checkpoint", str(ckpt), "--resume")
    assert status == 1 and data is None
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0] == (f"diffkit train: error: --resume: {ckpt} {words}, or start a new run "
                        "without --resume"), lines[0]
    assert ckpt.read_bytes() == written  # the refused run wrote nothing


def test_the_old_schedule_never_runs_at_lr_zero(tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    """The hunt's case: --epochs 1 then --epochs 2 --resume ran epoch 2 at lr = 0."""
    ckpt = str(tmp_path / "run.ckpt")
    assert _train(capsys, "xor", "--epochs", "1", "--checkpoint", ckpt)[0] == 0
    status, data, err = _train(capsys, "xor", "--epochs", "2", "--checkpoint", ckpt, "--resume")
    assert status == 1 and "resume with --epochs 1" in err
    status, data, err = _train(capsys, "xor", "--epochs", "1", "--checkpoint", ckpt, "--resume")
    assert status == 0 and data["history"]["lr"] == [0.003]  # done already: nothing more


def test_a_checkpoint_without_the_settings_is_refused(tmp_path: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    ckpt = tmp_path / "run.ckpt"
    assert _train(capsys, "xor", "--epochs", "1", "--checkpoint", str(ckpt))[0] == 0
    state = load_state(ckpt)
    del state["config"]  # as an older diffkit, or Python code without config=, wrote it
    save_state(ckpt, state)
    status, _, err = _train(capsys, "xor", "--epochs", "1", "--checkpoint", str(ckpt),
                            "--resume")
    assert status == 1
    assert err == (f"diffkit train: error: --resume: {ckpt} does not record the settings of the "
                   "run that wrote it (an older diffkit, or Python code, wrote it), so it cannot "
                   "be checked against this command; start a new run without --resume\n")


def test_the_checkpoint_records_the_settings(tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    ckpt = tmp_path / "run.ckpt"
    assert _train(capsys, "xor", "--epochs", "1", "--lr", "0.01", "--checkpoint", str(ckpt),
                  "--no-progress")[0] == 0
    assert load_state(ckpt)["config"] == {
        "command": "train", "dataset": "xor", "model": "mlp", "network": "MLP [2, 64, 64, 2]",
        "optimizer": "adam", "lr": 0.01, "epochs": 1, "batch_size": 32, "seed": 0}


def test_a_checkpoint_of_another_network_or_of_python_code_cannot_be_continued(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Settings no option can match: another network for the same options (another diffkit),
    or a config written by Python code; refused, with no 'resume with' that would fail."""
    ckpt = tmp_path / "run.ckpt"
    assert _train(capsys, "xor", "--epochs", "1", "--checkpoint", str(ckpt))[0] == 0
    state = load_state(ckpt)
    state["config"]["network"] = "MLP [2, 32, 2]"
    save_state(ckpt, state)
    status, _, err = _train(capsys, "xor", "--epochs", "1", "--checkpoint", str(ckpt), "--resume")
    assert status == 1
    assert err == (f"diffkit train: error: --resume: {ckpt} was written by a run with network "
                   "'MLP [2, 32, 2]', which this command cannot continue; start a new run "
                   "without --resume\n")
    state["config"] = {"dataset": "xor", "epochs": 1}
    save_state(ckpt, state)
    status, _, err = _train(capsys, "xor", "--epochs", "1", "--checkpoint", str(ckpt), "--resume")
    assert status == 1 and "was written by a run with no command, no model, no network" in err
