"""Every code block of README.md and docs/*.md runs, and what it prints is what the page shows.

* ``pycon`` blocks (``>>>`` prompts) are doctests: each page is one session, in order, and the
  output under a prompt must match (``...`` stands for the varying part of a line);
* ``python`` blocks run in the page's session (they show no output, or only in comments that are
  not checked — a page that wants its output checked uses ``>>>``);
* ``bash``/``sh`` blocks: every ``diffkit …`` or ``python -m diffkit …`` command runs (installs are
  skipped: CI has installed the package) and must exit 0; lines under a command that do not start
  with ``$``/``diffkit``/``python`` are its expected output.

Each page runs in a fresh Python process (what a page declares, e.g. a new primitive, cannot leak
into other tests) in a fresh temporary folder, so nothing is written into the repository.
"""

from __future__ import annotations

import doctest
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
FENCE = re.compile(r"^```(\w*)[^\n]*\n(.*?)^```", re.DOTALL | re.MULTILINE)
FLAGS = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE


def blocks(page: Path) -> list[tuple[str, str, int]]:
    """(language, code, line number) of every fenced block of a page."""
    text = page.read_text(encoding="utf-8")
    return [(m.group(1).lower(), m.group(2), text.count("\n", 0, m.start()) + 1)
            for m in FENCE.finditer(text)]


def _python_blocks(page: Path) -> list[tuple[str, str, int]]:
    return [b for b in blocks(page) if b[0] in ("python", "py", "pycon")]


def _shell_blocks(page: Path) -> list[tuple[str, str, int]]:
    return [b for b in blocks(page) if b[0] in ("bash", "sh", "shell", "console")]


def run_page(page: Path) -> int:
    """Run a page's Python blocks as one session; print what differs; the number of failures."""
    namespace: dict[str, object] = {"__name__": "__docs__"}
    parser = doctest.DocTestParser()
    runner = doctest.DocTestRunner(optionflags=FLAGS)
    failed = 0
    for _, code, line in _python_blocks(page):
        where = f"{page.name}:{line}"
        if ">>>" in code:
            test = parser.get_doctest(code, namespace, where, str(page), line)
            failed += runner.run(test, clear_globs=False).failed
            namespace.update(test.globs)  # DocTest works on a copy of the namespace
        else:
            exec(compile(code, where, "exec"), namespace)  # noqa: S102 - the docs' own code
    return failed


@pytest.mark.parametrize("page", [p for p in PAGES if _python_blocks(p)],
                         ids=lambda p: str(p.relative_to(ROOT)))
def test_python_blocks_run_and_print_what_the_page_shows(page: Path, tmp_path: Path) -> None:
    code = ("import sys; sys.path.insert(0, sys.argv[1]); from test_docs import run_page; "
            "from pathlib import Path; sys.exit(min(run_page(Path(sys.argv[2])), 100))")
    env = {**os.environ, "MPLBACKEND": "Agg", "COLUMNS": "200"}
    done = subprocess.run([sys.executable, "-c", code, str(Path(__file__).parent), str(page)],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600,
                          check=False)
    assert done.returncode == 0, (f"{page.name}: {done.returncode} example(s) fail\n"
                                  f"{done.stdout[-6000:]}\n{done.stderr[-3000:]}")


def _commands(code: str) -> list[tuple[list[str], list[str]]]:
    """(command argv, expected output lines) for every diffkit command of a shell block."""
    out: list[tuple[list[str], list[str]]] = []
    for raw in code.splitlines():
        line = raw.strip().removeprefix("$ ")
        if not line or line.startswith("#"):
            continue
        for part in line.split("&&"):
            argv = shlex.split(part.strip(), comments=True)
            if not argv:
                continue
            if argv[:1] == ["diffkit"]:
                out.append(([sys.executable, "-m", "diffkit", *argv[1:]], []))
            elif argv[:3] == ["python", "-m", "diffkit"]:
                out.append(([sys.executable, "-m", "diffkit", *argv[3:]], []))
            elif argv[:1] in (["python"], ["pip"], ["mpiexec"]) or argv[:3] == ["python", "-m", "pip"]:
                continue  # installs (CI installed the package), other launchers
            elif out and not line.startswith(("diffkit", "python")):
                out[-1][1].append(raw.rstrip())
    return out


SHELL = [(p, code, line) for p in PAGES for lang, code, line in _shell_blocks(p) if _commands(code)]


@pytest.mark.parametrize(("page", "code", "line"), SHELL,
                         ids=[f"{p.relative_to(ROOT)}:{n}" for p, _, n in SHELL])
def test_shell_commands_run(page: Path, code: str, line: int, tmp_path: Path) -> None:
    env = {**os.environ, "MPLBACKEND": "Agg", "COLUMNS": "200"}
    for argv, expected in _commands(code):
        done = subprocess.run(argv, cwd=tmp_path, env=env, capture_output=True, text=True,
                              timeout=600, check=False)
        where = f"{page.name}:{line}: {' '.join(argv[3:])}"
        assert done.returncode == 0, f"{where} failed:\n{done.stderr[-2000:]}"
        assert "Traceback" not in done.stderr, where
        printed = [ln.rstrip() for ln in done.stdout.splitlines()]
        for want in expected:
            assert want.strip() in (p.strip() for p in printed), f"{where}: no line {want!r}"
