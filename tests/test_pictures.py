"""Pictures: finding the layout program, how trace drawings are laid out and labelled, the
comparison plots and the training plots."""

from __future__ import annotations

import importlib.metadata
import os
import shutil
import subprocess
import sys
import sysconfig
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

import diffkit as dk
from diffkit.traces import GraphvizMissingError
from diffkit.traces import drawing as drawing_module

BAYDIN = "ln(x1) + x1*x2 - sin(x2)"
ROOT = Path(dk.__file__).resolve().parents[1]


def _has_graphviz_pure() -> bool:
    try:
        importlib.metadata.distribution("graphviz-pure")
    except importlib.metadata.PackageNotFoundError:
        return False
    return True


def _bare_env() -> dict[str, str]:
    """An environment with an empty PATH, as an IDE or a kernel of an unactivated venv has."""
    env = {"PATH": "", "PYTHONPATH": str(ROOT), "PYTHONIOENCODING": "utf-8"}
    for name in ("SYSTEMROOT", "HOME", "TMPDIR", "TEMP", "TMP"):
        if name in os.environ:
            env[name] = os.environ[name]
    return env


needs_graphviz_pure = pytest.mark.skipif(
    not _has_graphviz_pure(), reason="graphviz-pure is not installed for this Python"
)


# ----- the layout program -------------------------------------------------------------------


@needs_graphviz_pure
def test_render_needs_no_path_when_graphviz_pure_is_installed(tmp_path: Path):
    pytest.importorskip("graphviz")
    out = tmp_path / "baydin.svg"
    code = (
        "import sys, diffkit as dk\n"
        "print(dk.__file__)\n"
        f"dk.render(dk.trace({BAYDIN!r}, 2, 5), sys.argv[1])\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, str(out)],
        env=_bare_env(),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert Path(done.stdout.strip()).resolve().is_relative_to(ROOT)  # this checkout's diffkit
    root = ET.parse(out).getroot()
    assert root.tag.endswith("svg") and "11.652" in " ".join(e.text or "" for e in root.iter())


@needs_graphviz_pure
def test_cli_graph_needs_no_path(tmp_path: Path):
    pytest.importorskip("graphviz")
    out = tmp_path / "g.svg"
    done = subprocess.run(
        [sys.executable, "-m", "diffkit", "trace", "x*y", "--at", "x=2", "y=3", "--graph",
         str(out)],
        env=_bare_env(),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert out.read_bytes().lstrip().startswith(b"<?xml")


@needs_graphviz_pure
def test_layout_program_is_found_through_the_installed_package(monkeypatch, tmp_path: Path):
    monkeypatch.setattr(shutil, "which", lambda name, *a, **k: None)
    monkeypatch.setattr(sys, "executable", str(tmp_path / "elsewhere" / "python"))
    monkeypatch.setattr(sysconfig, "get_path", lambda *a, **k: str(tmp_path))
    prog = drawing_module.layout_program()
    assert prog is not None and Path(prog).name.startswith("graphviz-pure")
    assert Path(prog).is_file()


def test_missing_layout_program_says_how_to_install(monkeypatch, tmp_path: Path):
    monkeypatch.setattr(shutil, "which", lambda name, *a, **k: None)
    monkeypatch.setattr(sys, "executable", str(tmp_path / "python"))
    monkeypatch.setattr(sysconfig, "get_path", lambda *a, **k: str(tmp_path))

    def not_installed(name):
        raise importlib.metadata.PackageNotFoundError(name)

    monkeypatch.setattr(importlib.metadata, "distribution", not_installed)
    assert drawing_module.layout_program() is None
    g = dk.draw("x*y", 2, 3)
    assert dk.render(g, tmp_path / "g.dot").read_text().startswith("digraph")
    with pytest.raises(GraphvizMissingError) as err:
        dk.render(g, tmp_path / "g.svg")
    message = str(err.value)
    assert "pip install 'diffkit[viz]'" in message
    assert ".dot" in message and "needs neither" in message
    assert str(tmp_path / "python") in message  # which Python was searched
