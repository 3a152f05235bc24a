"""examples/notebook.ipynb runs in a real Jupyter kernel, and everything it shows is rich.

The kernel is this interpreter (a kernelspec written for the test, importing the diffkit under
test), so the notebook sees what a user's Jupyter sees: rich's Jupyter detection, IPython's
display formatters, matplotlib's inline backend.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

import diffkit

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")
pytest.importorskip("graphviz")
pytest.importorskip("matplotlib")

ROOT = Path(diffkit.__file__).resolve().parents[1]
NOTEBOOK = ROOT / "examples" / "notebook.ipynb"
RICH = ("text/html", "image/svg+xml", "text/latex", "image/png")


def _kernel_manager(tmp_path: Path):
    """A ``python3`` kernel running this interpreter, with the diffkit under test first on its
    path (an installed copy elsewhere must not shadow it)."""
    from jupyter_client import KernelManager
    from jupyter_client.kernelspec import KernelSpecManager

    spec = tmp_path / "kernels" / "python3"
    spec.mkdir(parents=True)
    path = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p)
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "Python 3 (diffkit tests)",
        "language": "python",
        "env": {"PYTHONPATH": path},
    }))
    specs = KernelSpecManager(kernel_dirs=[str(tmp_path / "kernels")])
    return KernelManager(kernel_name="python3", kernel_spec_manager=specs)


@pytest.fixture(scope="module")
def executed(tmp_path_factory):
    nb = nbformat.read(NOTEBOOK, as_version=4)
    km = _kernel_manager(tmp_path_factory.mktemp("jupyter"))
    client = nbclient.NotebookClient(nb, km=km, timeout=120, allow_errors=True,
                                     resources={"metadata": {"path": str(ROOT)}})
    client.execute()
    return nb


def _text(output) -> str:
    if output.get("output_type") == "stream":
        return output.get("text", "")
    if output.get("output_type") == "error":
        return "\n".join(output.get("traceback", []))
    return "\n".join(str(v) for v in output.get("data", {}).values())


def test_the_kernel_runs_the_diffkit_under_test(executed, tmp_path):
    km = _kernel_manager(tmp_path)
    spec = km.kernel_spec
    assert spec.argv[0] == sys.executable and spec.env["PYTHONPATH"].startswith(str(ROOT))


def test_every_display_cell_shows_a_rich_mime_type(executed):
    cells = [c for c in executed.cells if "rich-display" in c.metadata.get("tags", [])]
    assert len(cells) == 8  # Function, Trace, drawing, Comparison, symbolic, history, plot, tensor
    for cell in cells:
        kinds = {k for o in cell.outputs for k in o.get("data", {})}
        assert kinds & set(RICH), f"no rich output from:\n{cell.source}\n(got {sorted(kinds)})"
    by_source = {c.source.splitlines()[-1]: c for c in cells}
    expected = {"f": "text/latex", "dk.symbolic(f)": "text/latex",
                "dk.draw(f, 2.0, 5.0)": "image/svg+xml", "history": "text/html",
                "history.plot();": "image/png"}
    for last_line, kind in expected.items():
        kinds = {k for o in by_source[last_line].outputs for k in o.get("data", {})}
        assert kind in kinds, (last_line, sorted(kinds))


def test_no_cell_fails_or_asks_for_ipywidgets(executed):
    for cell in executed.cells:
        if cell.cell_type != "code":
            continue
        for output in cell.outputs:
            assert output["output_type"] != "error", f"{cell.source}\n{_text(output)}"
            assert "ipywidgets" not in _text(output), cell.source


def test_training_prints_one_plain_line_per_epoch(executed):
    (cell,) = [c for c in executed.cells if "trainer.fit" in c.source]
    printed = "".join(o.get("text", "") for o in cell.outputs
                      if o["output_type"] == "stream" and o["name"] == "stdout")
    lines = printed.splitlines()
    assert [line.split()[:2] for line in lines] == [["epoch", "1"], ["epoch", "2"]], printed
    assert all("val_acc" in line and line.endswith("ms") for line in lines)
