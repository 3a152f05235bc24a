"""Trainer.fit's progress output: a rich bar on a terminal only; plain, unwrapped epoch lines in
notebooks, pipes and CI logs (no ipywidgets warning, no line cut at 80 columns)."""

from __future__ import annotations

import re
import warnings

import pytest

from diffkit import nn

pytest.importorskip("rich")

EPOCH_LINE = re.compile(r"epoch +\d+  loss \S+  acc \S+  val_loss \S+  val_acc \S+  lr \S+  \d+ ms")


def _fit(epochs: int = 2) -> nn.History:
    nn.manual_seed(0)
    X, y = nn.make_moons(64, noise=0.1, seed=0)
    model = nn.MLP([2, 4, 2])
    return nn.fit(model, nn.DataLoader(X, y, batch_size=16), epochs=epochs, val_data=(X, y),
                  progress=True)


@pytest.fixture
def plain_environment(monkeypatch):
    """An 80-column environment whose output is not a terminal, whatever the CI machine sets."""
    for name in ("FORCE_COLOR", "TTY_COMPATIBLE", "JUPYTER_COLUMNS", "NO_COLOR"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("COLUMNS", "80")


def test_epoch_lines_never_wrap_when_the_output_is_not_a_terminal(plain_environment, capsys):
    _fit(epochs=2)
    out = capsys.readouterr().out
    lines = [line for line in out.splitlines() if line.strip()]
    assert len(lines) == 2, out
    for k, line in enumerate(lines, start=1):
        assert EPOCH_LINE.fullmatch(line), line
        assert line.startswith(f"epoch   {k}")
        assert len(line) > 80  # long enough that an 80-column console would have cut it
    assert "━" not in out and "\x1b[" not in out  # no progress bar, no control codes


def test_fit_in_jupyter_uses_plain_lines_and_warns_about_nothing(plain_environment, monkeypatch,
                                                                  capsys):
    import rich.console

    monkeypatch.setattr(rich.console, "_is_jupyter", lambda: True)
    assert rich.console.Console().is_jupyter  # the simulation is what rich itself sees
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        _fit(epochs=2)
    assert not [str(w.message) for w in caught]  # e.g. 'install "ipywidgets" for Jupyter support'
    out = capsys.readouterr().out
    lines = [line for line in out.splitlines() if line.strip()]
    assert len(lines) == 2 and all(EPOCH_LINE.fullmatch(line) for line in lines), out


def test_on_a_terminal_the_bar_is_shown_and_epoch_lines_stay_whole(monkeypatch, capsys):
    for name in ("FORCE_COLOR", "NO_COLOR", "JUPYTER_COLUMNS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("TTY_COMPATIBLE", "1")  # rich: the output understands a terminal's codes
    monkeypatch.setenv("COLUMNS", "60")
    _fit(epochs=2)
    out = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", capsys.readouterr().out)
    assert "━" in out  # the bar
    whole = [m.group(0) for m in EPOCH_LINE.finditer(out)]
    assert len(whole) == 2, out


def test_progress_false_prints_nothing(plain_environment, capsys):
    nn.manual_seed(0)
    X, y = nn.make_moons(32, seed=0)
    nn.fit(nn.MLP([2, 4, 2]), nn.DataLoader(X, y, batch_size=16), epochs=2, progress=False)
    assert capsys.readouterr().out == ""
