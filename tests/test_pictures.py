"""Pictures: finding the layout program, how trace drawings are laid out and labelled, the
comparison plots and the training plots."""

from __future__ import annotations

import functools
import importlib.metadata
import os
import shutil
import subprocess
import sys
import sysconfig
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import numpy as np
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


# ----- how trace drawings look --------------------------------------------------------------

needs_layout = pytest.mark.skipif(
    drawing_module.layout_program() is None, reason="no dot / graphviz-pure"
)
SVG = "{http://www.w3.org/2000/svg}"


def _svg(drawing, tmp_path: Path, name: str = "g.svg") -> ET.Element:
    return ET.parse(dk.render(drawing, tmp_path / name)).getroot()


def _texts(root: ET.Element) -> list[ET.Element]:
    return [e for e in root.iter(f"{SVG}text")]


@functools.lru_cache(maxsize=4)
def _dejavu(bold: bool) -> Any:
    """DejaVu Sans (regular or bold) at 100 pt, from the copy matplotlib ships."""
    font_manager = pytest.importorskip("matplotlib.font_manager")
    image_font = pytest.importorskip("PIL.ImageFont")
    props = font_manager.FontProperties(family="DejaVu Sans", weight="bold" if bold else "normal")
    return image_font.truetype(font_manager.findfont(props, fallback_to_default=False), 100)


def _text_box(e: ET.Element) -> tuple[float, float, float, float]:
    """The box an SVG text takes in DejaVu Sans, the widest of the fonts the SVG lists."""
    x, y, size = float(e.get("x")), float(e.get("y")), float(e.get("font-size"))
    w = _dejavu(e.get("font-weight") == "bold").getlength(e.text or "") * size / 100
    anchor = e.get("text-anchor", "start")
    x0 = x - w / 2 if anchor == "middle" else x - w if anchor == "end" else x
    return x0, y - 0.75 * size, x0 + w, y + 0.2 * size


def _bezier_points(d: str, per_segment: int = 24) -> list[tuple[float, float]]:
    """Points along a Graphviz edge path "M x,y C x,y x,y x,y …" (cubic segments)."""
    import re

    nums = [float(v) for v in re.findall(r"-?\d+(?:\.\d+)?", d)]
    pts = list(zip(nums[::2], nums[1::2], strict=False))
    out = [pts[0]]
    for i in range(0, len(pts) - 3, 3):
        p0, p1, p2, p3 = pts[i : i + 4]
        for k in range(1, per_segment + 1):
            t = k / per_segment
            a, b, c, e = (1 - t) ** 3, 3 * t * (1 - t) ** 2, 3 * t * t * (1 - t), t**3
            out.append((a * p0[0] + b * p1[0] + c * p2[0] + e * p3[0],
                        a * p0[1] + b * p1[1] + c * p2[1] + e * p3[1]))
    return out


def _labels_crossed_by_edges(root: ET.Element) -> list[str]:
    """Edge label texts that some edge line runs through."""
    paths, labels = [], []
    for g in root.iter(f"{SVG}g"):
        if g.get("class") != "edge":
            continue
        paths += [_bezier_points(p.get("d")) for p in g.iter(f"{SVG}path")]
        labels += [t for t in g.iter(f"{SVG}text") if (t.text or "").strip()]
    crossed = []
    for t in labels:
        x0, y0, x1, y1 = _text_box(t)
        if any(x0 < x < x1 and y0 < y < y1 for pts in paths for x, y in pts):
            crossed.append(t.text)
    return crossed


@needs_layout
@pytest.mark.parametrize("mode", ["reverse", "forward"])
def test_edge_labels_keep_off_the_edges(tmp_path: Path, mode: str):
    root = _svg(dk.draw(BAYDIN, 2, 5, mode=mode), tmp_path)
    assert _labels_crossed_by_edges(root) == []


@needs_layout
def test_svg_draws_bars_as_characters_with_common_fonts(tmp_path: Path):
    g = dk.draw(BAYDIN, 2, 5)
    assert "<O>" not in g.source
    root = _svg(g, tmp_path)
    assert all(e.get("text-decoration") is None for e in root.iter())
    text = " ".join(e.text or "" for e in _texts(root))
    assert "v\u0304₀ = -0.284 + 2.000 = 1.716" in text  # v̄ with U+0304 COMBINING MACRON
    assert "y\u0304 = 1.000" in text
    families = {e.get("font-family") for e in _texts(root)}
    assert families == {"DejaVu Sans,Helvetica,Arial,sans-serif"}
    forward = " ".join(e.text or "" for e in _texts(_svg(dk.draw(BAYDIN, 2, 5, mode="forward"),
                                                           tmp_path, "f.svg")))
    assert "v\u0307₅ = 5.500" in forward  # v̇ with U+0307 COMBINING DOT ABOVE


@needs_layout
@pytest.mark.parametrize("mode", ["reverse", "forward"])
def test_boxes_fit_their_text_in_dejavu_sans(tmp_path: Path, mode: str):
    """Every node's text fits its box with DejaVu Sans, the widest of the fonts listed."""
    root = _svg(dk.draw(BAYDIN, 2, 5, mode=mode), tmp_path)
    for g in root.iter(f"{SVG}g"):
        if g.get("class") != "node":
            continue
        xs = [float(v.split(",")[0]) for p in g.iter(f"{SVG}polygon")
              for v in p.get("points").split()]
        if not xs:  # a borderless table (the legend, inside its cluster)
            continue
        for t in g.iter(f"{SVG}text"):
            x0, _, x1, _ = _text_box(t)
            assert min(xs) <= x0 and x1 <= max(xs), t.text


def test_forward_legend_speaks_of_tangents():
    forward = dk.draw(BAYDIN, 2, 5, mode="forward").source
    assert "memoized" not in forward and "flowing back" not in forward
    assert "tangent" in forward and "flowing forward" in forward
    reverse = dk.draw(BAYDIN, 2, 5).source
    assert "memoized in the forward pass" in reverse and "flowing back" in reverse


@needs_layout
def test_baydin_drawing_reads_at_readme_width(tmp_path: Path):
    """Top to bottom and at most 800 pt wide: shown 900 px wide (a README), 11-pt labels stay
    12 px or more. (Laid out left to right it was 1704 pt: labels of 6 px.)"""
    g = dk.draw(BAYDIN, 2, 5)
    assert "rankdir=TB" in g.source
    root = _svg(g, tmp_path)
    assert float(root.get("width").removesuffix("pt")) <= 800
    png = dk.render(g, tmp_path / "g.png")
    width = int.from_bytes(png.read_bytes()[16:20], "big")  # the IHDR chunk
    assert 900 <= width <= 1600  # drawn at 144 dpi: sharp on dense screens, not huge


# ----- examples write where they are told ---------------------------------------------------


def _run_example(name: str, *args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(ROOT), MPLBACKEND="Agg")
    return subprocess.run(
        [sys.executable, str(ROOT / "examples" / name), *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def _docs_img() -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted((ROOT / "docs" / "img").iterdir())}


@needs_layout
def test_trace_example_writes_into_diffkit_output_not_the_docs(tmp_path: Path):
    pytest.importorskip("graphviz")
    before = _docs_img()
    done = _run_example("trace_baydin.py", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert _docs_img() == before  # the committed pictures are untouched
    assert sorted(p.name for p in tmp_path.iterdir()) == ["diffkit-output"]
    out = tmp_path / "diffkit-output"
    names = {p.name for p in out.iterdir()}
    assert {"baydin_reverse.png", "baydin_reverse.svg", "baydin_forward.png"} <= names
    chosen = tmp_path / "pictures" / "here"
    done = _run_example("trace_baydin.py", str(chosen), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert (chosen / "baydin_reverse.svg").is_file()
    helped = _run_example("trace_baydin.py", "--help", cwd=tmp_path)
    assert "--docs" in helped.stdout and "docs/img" in helped.stdout


def test_trajectories_example_writes_into_diffkit_output(tmp_path: Path):
    pytest.importorskip("matplotlib")
    done = _run_example("optimizer_trajectories.py", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["diffkit-output"]
    written = sorted(p.name for p in (tmp_path / "diffkit-output").iterdir())
    assert written == ["trajectories_rosenbrock.png", "trajectories_saddle.png"]


def test_every_example_that_writes_takes_an_output_folder():
    for script in sorted((ROOT / "examples").glob("*.py")):
        text = script.read_text(encoding="utf-8")
        if "savefig" in text or "render(" in text:
            assert "diffkit-output" in text and "argparse" in text, script.name


def test_output_folder_is_ignored_by_git():
    assert "diffkit-output/" in (ROOT / ".gitignore").read_text().splitlines()


# ----- comparison plots: whose function is drawn ---------------------------------------------


def _agg():
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.close("all")
    return plt


def test_cost_plot_says_it_is_the_built_in_benchmark():
    _agg()
    from diffkit import plots

    fig = plots.plot_cost(sizes=(1, 4), fixed=2)
    title = fig._suptitle.get_text()
    assert "Built-in benchmark" in title and "not your function" in title
    assert "tanh(C·tanh(B·tanh(A·x)))" in title


def test_swell_plot_draws_the_given_function_next_to_the_built_in_family():
    _agg()
    from diffkit import plots
    from diffkit.engines.symbolic import SymbolicEngine

    expr = "sin(x)*exp(x)*cos(x*y)*tanh(x + y)"
    fig = plots.plot_swell(expr, 1.0, 2.0, depths=(1, 2, 3))
    family, mine = fig.axes
    assert "built-in" in family.get_title() and "sin(x)·x + x" in family.get_title()
    assert expr in mine.get_title()
    fn = dk.parse(expr)
    sizes = SymbolicEngine().derive(fn, [1.0, 2.0], [0, 1]).sizes()
    trace = len(fn.graph(1.0, 2.0).operations)
    heights = [round(bar.get_height()) for bar in mine.patches]
    # (tanh′ is sech², not 1 − tanh²: it does not cancel for large |x|, and it is smaller)
    assert heights == [trace, sizes["tree"], sizes["dag"], sizes["cse"]] == [9, 64, 29, 28]
    stars = [ln for ln in family.get_lines() if ln.get_marker() == "*" and len(ln.get_xdata())]
    assert {float(ln.get_xdata()[0]) for ln in stars} == {float(trace)}
    assert sorted(float(ln.get_ydata()[0]) for ln in stars) == [28, 29, 64]
    # without a function it is the built-in family alone, and says so
    (alone,) = plots.plot_swell(depths=(1, 2)).axes
    assert "built-in" in alone.get_title()
    with pytest.raises(TypeError, match="point"):
        plots.plot_swell(expr)


def test_cli_plots_say_which_function_they_draw(tmp_path: Path, capsys, monkeypatch):
    _agg()
    from diffkit import plots
    from diffkit.cli import main

    drawn = {}
    real_swell, real_cost = plots.plot_swell, plots.plot_cost
    monkeypatch.setattr(plots, "plot_swell",
                        lambda *a, **k: drawn.setdefault("swell", real_swell(*a, depths=(1, 2))))
    monkeypatch.setattr(plots, "plot_cost",
                        lambda: drawn.setdefault("cost", real_cost(sizes=(1, 2), fixed=2)))
    swell, cost = tmp_path / "swell.png", tmp_path / "cost.png"
    code = main(["compare", "x*sin(y)", "--at", "x=1", "y=2", "--methods", "reverse", "--json",
                 "--plot-swell", str(swell), "--plot-cost", str(cost)])
    assert code == 0
    err = capsys.readouterr().err
    assert swell.read_bytes()[:4] == b"\x89PNG" and cost.read_bytes()[:4] == b"\x89PNG"
    assert "x*sin(y)" in drawn["swell"].axes[1].get_title()  # the user's expression
    cost_line = next(line for line in err.splitlines() if str(cost) in line)
    assert "built-in benchmark" in cost_line and "3-layer tanh network" in cost_line
    swell_line = next(line for line in err.splitlines() if str(swell) in line)
    assert "x*sin(y)" in swell_line and "built-in" in swell_line


# ----- training plots -------------------------------------------------------------------------


def _history(epochs: int = 3):
    from diffkit import nn

    X, y = nn.make_moons(80, seed=0)
    nn.manual_seed(0)
    model = nn.MLP([2, 8, 2])
    h = nn.fit(model, nn.DataLoader(X, y, seed=0), epochs=epochs, val_data=(X, y),
               progress=False)
    return model, X, y, h


def _visible_ticks(ax) -> list[float]:
    lo, hi = ax.get_xlim()
    return [float(t) for t in ax.get_xticks() if lo <= t <= hi]


def _assert_epoch_axis(ax, epochs: int) -> None:
    assert ax.get_xlabel() == "epoch"
    for line in ax.get_lines():
        assert list(line.get_xdata()) == list(range(1, epochs + 1))  # epoch 1 is the first
    ticks = _visible_ticks(ax)
    assert ticks and all(t == int(t) for t in ticks) and min(ticks) >= 1, ticks


def test_history_plot_has_titles_and_whole_epochs():
    _agg()
    from diffkit.nn import plots

    _, _, _, h = _history(epochs=3)
    fig = plots.plot_history(h)
    loss, acc = fig.axes[:2]
    assert "loss" in loss.get_title().lower() and "accuracy" in acc.get_title().lower()
    assert loss.get_ylabel() and acc.get_ylabel()
    for ax in (loss, acc):
        _assert_epoch_axis(ax, 3)
    norms = plots.plot_grad_norms(h).axes[0]
    assert norms.get_title() and norms.get_ylabel()
    _assert_epoch_axis(norms, 3)


def test_decision_boundary_has_a_title_and_axis_labels():
    _agg()
    from diffkit.nn import plots

    model, X, y, _ = _history(epochs=1)
    ax = plots.plot_decision_boundary(model, X, y).axes[0]
    assert ax.get_title() and ax.get_xlabel() and ax.get_ylabel()
    assert ax.get_legend() is not None  # which colour is which class


@pytest.mark.parametrize("function", ["rosenbrock", "saddle"])
def test_every_trajectory_is_visible_and_ends_inside_the_axes(function: str):
    _agg()
    from diffkit.nn import plots

    paths = plots.trajectories(function, steps=300)
    ax = plots.plot_trajectories(function, steps=300).axes[0]
    assert ax.get_title() and ax.get_xlabel() and ax.get_ylabel()
    (x0, x1), (y0, y1) = ax.get_xlim(), ax.get_ylim()
    for name, path in paths.items():
        ex, ey = path[-1]
        assert x0 < ex < x1 and y0 < ey < y1, (name, path[-1], ax.get_xlim(), ax.get_ylim())
    lines = {ln.get_label().split(" (")[0]: ln for ln in ax.get_lines()}
    drawn = [lines[name] for name in paths]
    styles = {(ln.get_color(), ln.get_linestyle(), ln.get_marker()) for ln in drawn}
    assert len(styles) == len(paths)  # no two paths look alike
    assert len({ln.get_linestyle() for ln in drawn}) >= 3  # not told apart by colour alone
    # the path that covers the least ground is drawn on top, the one that covers most below
    extent = {name: float(np.ptp(p, axis=0).sum()) for name, p in paths.items()}
    order = sorted(paths, key=lambda n: extent[n])
    assert lines[order[0]].get_zorder() > lines[order[-1]].get_zorder()
    assert all(ln.get_alpha() is None or ln.get_alpha() >= 0.7 for ln in drawn)


@pytest.mark.slow
def test_compare_example_writes_its_three_plots_into_diffkit_output(tmp_path: Path):
    pytest.importorskip("matplotlib")
    before = _docs_img()
    done = _run_example("compare_methods.py", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert _docs_img() == before
    written = sorted(p.name for p in (tmp_path / "diffkit-output").iterdir())
    assert written == ["compare_cost.png", "compare_fd_error.png", "compare_swell.png"]
