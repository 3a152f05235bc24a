"""docs/numpy.md is what the table says today, and names every NumPy/SciPy function that dispatches."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from diffkit.coverage import coverage_markdown
from diffkit.primitive import NUMPY_NAMES, SCIPY_NAMES

PAGE = Path(__file__).resolve().parent.parent / "docs" / "numpy.md"


def test_the_committed_page_is_up_to_date() -> None:
    assert PAGE.read_text(encoding="utf-8") == coverage_markdown(), (
        "docs/numpy.md is stale: run `python -m diffkit.coverage > docs/numpy.md`")


def test_every_dispatching_name_is_listed() -> None:
    text = PAGE.read_text(encoding="utf-8")
    missing = [f"np.{n}" for n in NUMPY_NAMES if f"`np.{n}`" not in text]
    missing += [f"scipy.special.{n}" for n in SCIPY_NAMES if f"`scipy.special.{n}`" not in text]
    assert not missing, missing


def test_the_module_prints_the_page() -> None:
    done = subprocess.run([sys.executable, "-m", "diffkit.coverage"], capture_output=True,
                          text=True, check=True, timeout=120)
    assert done.stdout == coverage_markdown()
