"""Graphviz drawings of traces and symbolic derivatives, and writing them as SVG, PNG or DOT.

:func:`draw_trace` returns a ``graphviz.Digraph`` (nothing is laid out until asked), top to
bottom: one box per variable with its operation, primal value vᵢ, tangent v̇ᵢ and/or adjoint v̄ᵢ;
edges carry the memoized local partial ∂vᵢ/∂vⱼ (red), and in reverse mode a blue line beside each
red one carries the adjoint contribution v̄ᵢ · ∂vᵢ/∂vⱼ back to vⱼ, where contributions are summed.
Node names come from the graph's variable names (``v_m1``, ``v0``, ``v1``, …), so the DOT text is
the same on every run. Text is measured with DejaVu Sans and SVGs name common fallbacks, so boxes
fit whichever of those fonts a viewer has; accents (v̄, v̇) are combining characters.

:func:`render` lays a drawing out with the system Graphviz ``dot`` when there is one, else with the
``graphviz-pure`` installed for the running Python (``pip install 'diffkit[viz]'``; no activated
venv or PATH entry needed); DOT files need neither.
"""

from __future__ import annotations

import importlib.metadata
import os
import re
import shutil
import subprocess
import sys
import sysconfig
from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from ..display import format_constant
from ..errors import DiffkitError
from ..ir import Node
from . import formats as tf
from .rows import numeric

#: Drawings with more nodes than this are refused (pass ``max_nodes=`` to raise the limit).
MAX_NODES = 200
RED, BLUE, GREEN, GRAY = "#c0392b", "#1f5fbf", "#1e8449", "#7f8c8d"
#: Layout measures text with DejaVu Sans, the widest of the common sans fonts, so boxes are big
#: enough whichever of SVG_FONTS a viewer has; SVG text names the whole list.
FONT = "DejaVu Sans"
SVG_FONTS = "DejaVu Sans,Helvetica,Arial,sans-serif"
#: graphviz-pure draws PNG/JPEG with its bundled fonts: Arimo (metrics of Arial) for this name.
RASTER_FONT = "Arial"
#: Raster pictures are drawn at this resolution (sharp on high-density screens).
RASTER_DPI = "144"
SHOW = ("value", "tangent", "adjoint", "partial", "contribution")
FORMATS = {
    ".svg": "svg",
    ".png": "png",
    ".pdf": "pdf",
    ".jpg": "jpeg",
    ".jpeg": "jpeg",
    ".dot": "dot",
    ".gv": "dot",
}


class DrawingTooLargeError(DiffkitError, ValueError):
    """A graph with more nodes than a readable drawing allows."""


class GraphvizMissingError(DiffkitError, FileNotFoundError):
    """Neither the system Graphviz ``dot`` nor ``graphviz-pure`` is installed."""


# ----- graphviz, lazily ---------------------------------------------------------------------


@lru_cache(maxsize=1)
def _digraph_class() -> type:
    """``graphviz.Digraph`` whose notebook display lays out with :func:`pipe`."""
    try:
        import graphviz
    except ImportError:
        raise GraphvizMissingError(
            "drawing needs the Python package 'graphviz': pip install 'diffkit[viz]'"
        ) from None

    class Drawing(graphviz.Digraph):
        """A Digraph that renders in notebooks even without the system ``dot``."""

        #: what the drawing shows, for its repr ("7 nodes, reverse mode"; set by the drawers)
        summary = "a graph"

        def __repr__(self) -> str:
            return f"<diffkit drawing: {self.summary}; display in a notebook or dk.render(...)>"

        def _repr_svg_(self) -> str | None:
            """SVG laid out by diffkit's :func:`pipe` (``dot`` or graphviz-pure); None if neither
            is installed."""
            try:
                return pipe(self.source, "svg").decode("utf-8")
            except GraphvizMissingError:
                return None

        def _repr_mimebundle_(self, include: Any = None, exclude: Any = None, **_: Any) -> dict:
            """The notebook display: SVG through :func:`pipe`, never the graphviz package's own
            rendering (which runs a ``dot`` executable that may not be there)."""
            svg = "image/svg+xml"
            if (include is not None and svg not in include) or (exclude and svg in exclude):
                return {}
            try:
                return {svg: pipe(self.source, "svg").decode("utf-8")}
            except GraphvizMissingError as exc:
                return {"text/plain": f"{self!r}\n{exc}"}

    return Drawing


def _new_graph(name: str, **graph_attr: str) -> Any:
    g = _digraph_class()(name=name)
    g.attr("graph", fontname=FONT, fontsize="12", **graph_attr)
    g.attr("node", fontname=FONT, fontsize="12")
    g.attr("edge", fontname=FONT, fontsize="11")
    return g


def _check_size(n: int, max_nodes: int | None, what: str) -> None:
    if max_nodes is not None and n > max_nodes:
        raise DrawingTooLargeError(
            f"{what} has {n} nodes, more than max_nodes={max_nodes}: a drawing that large "
            "cannot be read, and laying it out would take long. Draw a smaller function, print "
            "the trace as a "
            f"table instead (dk.trace(f, ...).to_text() has no size limit), or pass max_nodes={n} "
            "to draw it anyway."
        )


# ----- labels -------------------------------------------------------------------------------


#: what Graphviz would read in label text, as the text that shows it. Both label kinds the drawings
#: use (HTML-like and plain) read backslash escapes (\G the graph's name, \N the node's, \l a
#: left-justified line end, \\) and show a doubled backslash as one; HTML-like labels read tags,
#: both read entities. A line break, which an HTML-like label drops and a plain one breaks on,
#: shows as the two characters \n (or \r), as Python's repr writes it (a symbol such as ⏎ is
#: missing from the fonts that draw PNGs).
_DOT_ESCAPES = str.maketrans({"\\": "\\\\", "&": "&amp;", "<": "&lt;", ">": "&gt;",
                              "\n": r"\\n", "\r": r"\\r"})


def _esc(s: str) -> str:
    """Text as it shows in a label (HTML-like or plain), never as markup or a Graphviz escape:
    every text that goes into a drawing's labels passes through here."""
    return s.translate(_DOT_ESCAPES)


def _name(key: str, accent: str = "") -> str:
    """A variable in an HTML label: v₋₁, v̇₋₁, v̄₋₁ — accents are combining characters (U+0307,
    U+0304) in the text, so they survive any font and renderer (no SVG text decoration)."""
    return _esc(tf.unicode_var(key, accent))


def node_id(key: str) -> str:
    """A stable DOT name from a variable key: ``v-1`` -> ``v_m1``."""
    return key.replace("-", "_m")


def _row(
    text: str,
    color: str | None = None,
    bold: bool = False,
    bg: str | None = None,
    align: str = "LEFT",
) -> str:
    """One row of a box, left-aligned: text narrower than the layout's estimate (another font) then
    leaves room on the right instead of shifting off centre."""
    body = f"<B>{text}</B>" if bold else text
    if color:
        body = f'<FONT COLOR="{color}">{body}</FONT>'
    attr = (f' BGCOLOR="{bg}"' if bg else "") + (f' ALIGN="{align}"' if align else "")
    return f"<TR><TD{attr}>{body}</TD></TR>"


def _table(rows: Iterable[str], border: int = 1) -> str:
    return (
        f'<<TABLE BORDER="{border}" CELLBORDER="0" CELLSPACING="0" CELLPADDING="3">'
        + "".join(rows)
        + "</TABLE>>"
    )


def _show(t: Any, show: Any) -> set[str]:
    if show is None:
        return {"value", "partial"} | (
            {"tangent"} if t.mode == "forward" else {"adjoint", "contribution"}
        )
    items = set(SHOW) if show == "all" else {show} if isinstance(show, str) else set(show)
    unknown = items - set(SHOW)
    if unknown:
        raise ValueError(f"show takes some of {', '.join(SHOW)} (or 'all'), not {sorted(unknown)}")
    return items


# ----- trace drawings -----------------------------------------------------------------------


def draw_trace(
    t: Any,
    show: Any = None,
    digits: int = 3,
    max_nodes: int | None = MAX_NODES,
    rankdir: str = "TB",
    legend: bool = True,
) -> Any:
    """The computational graph of a trace as a ``graphviz.Digraph`` (see :func:`draw`)."""
    g_ir = t.graph
    _check_size(len(g_ir.nodes), max_nodes, "this graph")
    items = _show(t, show)

    def num(v: Any) -> str:
        return _esc(tf.fmt_number(v, digits))

    g = _new_graph(
        "diffkit",
        rankdir=rankdir,
        nodesep="0.3",
        ranksep="0.35",
        label=f'<<TABLE BORDER="0" CELLPADDING="6"><TR><TD>{_esc(t.title())}</TD></TR></TABLE>>',
        labelloc="t",
    )
    steps_into: dict[Node, list[Any]] = {}
    for _node, inp, _p, c in t.steps:
        steps_into.setdefault(inp, []).append(c)
    consts: dict[Node, str] = {}
    for node in g_ir.schedule:
        if node.is_const:
            consts[node] = f"c{len(consts)}"
            g.node(
                consts[node],
                label=_esc(format_constant(node.value, digits, fixed=True))
                if np.ndim(node.value) == 0
                else _esc(f"const{tuple(node.shape)}"),
                shape="box",
                style="rounded,dashed",
                color=GRAY,
                fontcolor=GRAY,
                fontsize="10",
            )
            continue
        key = t.names[node.id]
        head = f"{_name(key)} = {_esc(tf.UNICODE.render(t.definition(node)))}"
        rows = [_row(head, bold=True, bg="#e8f4e8" if node.is_input else "#eeeeee")]
        if node.shape:
            rows.append(_row(_esc(f"shape {node.shape}"), color=GRAY))
        if "value" in items:
            rows.append(_row(f"{_name(key)} = {num(t.values[node])}"))
        if "tangent" in items and t.mode == "forward":
            tan = t.tangents.get(node, np.zeros(node.shape) if node.shape else 0.0)
            rows.append(_row(f"{_name(key, 'dot')} = {num(tan)}", color=GREEN))
        if "adjoint" in items and t.mode == "reverse":
            parts = steps_into.get(node, [])
            final = t.adjoints.get(node, t.seed if node is g_ir.output else 0.0)
            sums = " + ".join(num(c) for c in parts) + " = " if len(parts) > 1 else ""
            rows.append(_row(f"{_name(key, 'bar')} = {sums}{num(final)}", color=BLUE, bold=True))
        g.node(node_id(key), label=_table(rows), shape="plain")
    _draw_edges(g, t, items, consts, num, digits)
    _draw_output(g, t, items, num)
    if legend:
        _draw_legend(g, t, items)
    n = len(g_ir.nodes)
    g.summary = f"{n} node{'s' if n != 1 else ''}, {t.mode} mode"
    return g


def _label(lines: Iterable[tuple[str, str]]) -> str:
    """An HTML edge label: one line per (colour, text), left-aligned, with a margin all round so
    that the edge it labels passes beside the text, not through it."""
    body = "".join(
        f'<TR><TD ALIGN="LEFT"><FONT COLOR="{c}">{text}</FONT></TD></TR>' for c, text in lines
    )
    inner = f'<TABLE BORDER="0" CELLBORDER="0" CELLSPACING="0" CELLPADDING="1">{body}</TABLE>'
    return f'<<TABLE BORDER="0" CELLSPACING="0" CELLPADDING="5"><TR><TD>{inner}</TD></TR></TABLE>>'


def _draw_edges(
    g: Any, t: Any, items: set[str], consts: dict[Node, str], num: Any, digits: int = 3
) -> None:
    """Red edges vⱼ → vᵢ carrying the local partial ∂vᵢ/∂vⱼ. In reverse mode each is drawn as a
    pair of parallel lines (one edge, ``color="red:blue"``, ``dir=both``): red with its arrow at
    vᵢ, blue with its arrow back at vⱼ carrying the adjoint contribution v̄ᵢ·∂vᵢ/∂vⱼ. One edge and
    one label (partial, then contribution) per pair keep the back flow beside the forward flow,
    with no adjoint edges looping around the graph, and the drawing narrow.
    """
    # keyed by argument position, not by variable: v₁ = v₀ - v₀ has two edges v₀ → v₁, one with
    # ∂v₁/∂v₀ = 1 (argument 0), one with -1 (argument 1), each with its own contribution
    back: dict[tuple[int, int], tuple[Any, Any]] = {}
    if "contribution" in items and t.mode == "reverse":
        for (node, _inp, partial, c), j in zip(t.steps, t.step_positions, strict=True):
            back[(node.id, j)] = (partial, c)
    for node in t.graph.operations:
        key = t.names[node.id]
        partials = {p.position: p for p in t.node_partials(node)}
        for j, inp in enumerate(node.inputs):
            if inp in consts:
                g.edge(consts[inp], node_id(key), color=GRAY, arrowsize="0.6")
                continue
            lines: list[tuple[str, str]] = []
            p = partials.get(j)
            if "partial" in items and p is not None:
                lines.append((RED, _esc(_partial_text(node, p, digits))))
            step = back.get((node.id, j))
            if step is not None:
                lines += [(BLUE, line) for line in _contribution_lines(t, node, inp, *step, num)]
            attrs = {"label": _label(lines)} if lines else {}
            if step is not None:  # two parallel lines: red forward to vᵢ, blue back to vⱼ
                attrs.update(color=f"{RED}:{BLUE}", dir="both")
            else:
                attrs.update(color=RED)
            g.edge(node_id(t.names[inp.id]), node_id(key), **attrs)


def _partial_text(node: Node, p: Any, digits: int = 3) -> str:
    """``∂v₂/∂v₋₁ = v₀ = 5.000`` (the symbolic form, then its value unless it is a number), the
    value with the drawing's `digits`."""
    form = tf.UNICODE.expr(p.expr) if p.expr is not None else f"{node.prim.name} rule"
    shown = p.value is None or tf.is_shown_number(p.expr)
    value = "" if shown else f" = {tf.fmt_number(p.value, digits)}"
    return f"{tf.UNICODE.partial(p.of, p.wrt)} = {form}{value}"


def _contribution_lines(t: Any, node: Node, inp: Node, partial: Any, c: Any, num: Any) -> list[str]:
    """``v̄₂·∂v₂/∂v₋₁ = 1.000 × 5.000 = 5.000`` (HTML), on two lines when it has the numbers."""
    src, dst = t.names[node.id], t.names[inp.id]
    if partial is None:
        return [f"VJP[{_esc(node.prim.name)}]({_name(src, 'bar')}) = {num(c)}"]
    first = f"{_name(src, 'bar')}·∂{_esc(tf.unicode_var(src))}/∂{_esc(tf.unicode_var(dst))}"
    bar = t.adjoints.get(node, t.seed if node is t.graph.output else None)
    if np.ndim(c) == 0 and bar is not None:
        return [f"{first} =", f"{num(bar)} × {num(numeric(partial))} = {num(c)}"]
    return [f"{first} = {num(c)}"]


def _draw_output(g: Any, t: Any, items: set[str], num: Any) -> None:
    """The output y: where the adjoint sweep starts (ȳ = 1)."""
    out = t.graph.output
    rows = [
        _row(
            f"{_name(t.out_key)} = f({_esc(', '.join(t.function.inputs))})", bold=True, bg="#fdf2d0"
        )
    ]
    if "value" in items:
        rows.append(_row(f"{_name(t.out_key)} = {num(t.value)}"))
    if "tangent" in items and t.mode == "forward":
        rows.append(_row(f"{_name(t.out_key, 'dot')} = {num(t.derivative)}", color=GREEN))
    if "adjoint" in items and t.mode == "reverse":
        rows.append(
            _row(f"{_name(t.out_key, 'bar')} = {num(t.seed)} (seed)", color=BLUE, bold=True)
        )
    g.node("output", label=_table(rows), shape="plain")
    src = node_id(t.names[out.id]) if out.id in t.names else None
    if src is not None:
        if "contribution" in items and t.mode == "reverse":  # the seed ȳ flows back
            g.edge(src, "output", color=f"black:{BLUE}", dir="both",
                   label=_label([(BLUE, f"{_name(t.out_key, 'bar')} = {num(t.seed)}")]))
        else:
            g.edge(src, "output", color="black")


def _draw_legend(g: Any, t: Any, items: set[str]) -> None:
    """A boxed key to the colours, line styles and fields of the drawing, in the mode's words,
    below the output."""
    dot, bar = "v\u0307", "v\u0304"  # v̇, v̄ (combining accents)
    lines = [(None, f"{_name('v1')} = φ(…): a variable of the primal trace, with its value")]
    if t.mode == "forward":
        if "partial" in items:
            lines.append((RED, "——→  ∂vᵢ/∂vⱼ: local partial of the step from vⱼ to vᵢ"))
        if "tangent" in items:
            tangent = f"{dot}ᵢ: tangent, flowing forward with the primal from the seed ẋ,"
            lines.append((GREEN, tangent))
            lines.append((GREEN, f"       {dot}ᵢ = Σⱼ ∂vᵢ/∂vⱼ · {dot}ⱼ over the arrows into vᵢ"))
    else:
        if "partial" in items:
            lines.append((RED, "——→  ∂vᵢ/∂vⱼ: local partial, memoized in the forward pass"))
        if "contribution" in items:
            back = f"←——  {bar}ᵢ·∂vᵢ/∂vⱼ: adjoint contribution flowing back to vⱼ"
            lines.append((BLUE, back))
        if "adjoint" in items:
            lines.append((BLUE, f"{bar}ⱼ = ∂y/∂vⱼ: the sum of the contributions arriving at vⱼ"))
    rows = [_row("<B>Legend</B>", align="CENTER")] + [_row(text, color=c) for c, text in lines]
    with g.subgraph(name="cluster_legend") as sub:
        sub.attr(label="", style="rounded", color=GRAY)
        sub.node("legend", label=_table(rows, border=0), shape="plain")
    g.edge("output", "legend", style="invis")  # below the output, not beside the inputs


# ----- symbolic expression trees ------------------------------------------------------------


def _sympy_label(e: Any) -> str:
    import sympy as sp

    if e.is_Symbol:
        return tf.unicode_name(e.name)
    if e.is_Number:
        return tf.UNICODE.expr(e)
    if isinstance(e, sp.Add):
        return "+"
    if isinstance(e, sp.Mul):
        return "×"
    if isinstance(e, sp.Pow):
        return "^"
    name = type(e).__name__
    return {"log": "ln"}.get(name, name)


def draw_symbolic(
    f: Any, *point: Any, share: bool = False, max_nodes: int | None = MAX_NODES, rankdir: str = "TB"
) -> Any:
    """The symbolic gradient as expression trees (``share=True``: as a DAG of shared subterms).

    The trees are the fully substituted derivatives, so their size shows expression swell; the
    caption gives the operation counts as a tree, as a DAG and after CSE.
    """
    from ..build import as_function
    from ..engines.symbolic import SymbolicEngine

    fn = as_function(f)
    deriv = SymbolicEngine().derive(fn, point, list(range(fn.arity)))
    exprs = deriv.expanded()
    sizes = deriv.sizes()
    nodes: list[tuple[str, Any]] = []
    edges: list[tuple[str, str]] = []
    seen: dict[Any, str] = {}
    labels = [f"∂{fn.name}/∂{tf.unicode_name(str(s))}" for s in deriv.program.inputs]
    for k, (root, e) in enumerate(zip(labels, exprs, strict=False)):
        nodes.append((f"d{k}", root))
        stack = [(e, f"d{k}")]
        while stack:
            sub, parent = stack.pop()
            if share and sub in seen:
                edges.append((parent, seen[sub]))
                continue
            name = f"s{len(nodes)}"
            nodes.append((name, sub))
            edges.append((parent, name))
            seen[sub] = name
            _check_size(len(nodes), max_nodes, "the symbolic derivative's expression tree")
            stack += [(a, name) for a in reversed(sub.args) if not _is_leafy(sub)]
    caption = (
        f"symbolic gradient of {fn.text or fn.name}: {sizes['tree']} operations as trees, "
        f"{sizes['dag']} as a shared program (DAG), {sizes['cse']} after CSE"
    )
    g = _new_graph("diffkit_symbolic", rankdir=rankdir, label=_esc(caption), labelloc="t")
    for name, e in nodes:
        if isinstance(e, str):
            g.node(name, label=_esc(e), shape="box", style="filled", fillcolor="#fdf2d0")
        else:
            leaf = not e.args or _is_leafy(e)
            g.node(
                name,
                label=_esc(_sympy_label(e) if not _is_leafy(e) else tf.UNICODE.expr(e)),
                shape="box" if leaf else "ellipse",
                color=GRAY if leaf else "black",
            )
    for a, b in edges:
        g.edge(a, b, arrowsize="0.6")
    g.summary = f"symbolic gradient, {len(nodes)} nodes"
    return g


def _is_leafy(e: Any) -> bool:
    """Numbers (including rationals like 1/2) are drawn as one leaf."""
    return bool(e.is_Number)


# ----- public API ---------------------------------------------------------------------------


#: The pip package that brings a self-contained ``dot`` (a program only: no Python module).
GRAPHVIZ_PURE = "graphviz-pure"


def _exe(name: str) -> str:
    return name + ".exe" if os.name == "nt" else name


def _scripts_dirs() -> list[Path]:
    """Where pip puts console scripts for *this* Python, whether or not its venv is activated."""
    here = Path(sys.executable).parent
    dirs = [here, here / "Scripts"]  # a venv or Unix install; a Windows base install
    for scheme in (sysconfig.get_default_scheme(), f"{os.name}_user"):
        try:
            scripts = sysconfig.get_path("scripts", scheme)
        except KeyError:  # no such scheme here
            continue
        if scripts:
            dirs.append(Path(scripts))
    return dirs


def _installed_graphviz_pure() -> Path | None:
    """The ``graphviz-pure`` program as its own distribution records it (``RECORD``).

    graphviz-pure is a compiled program in a wheel: it has no Python module to import or run with
    ``python -m`` and no entry points, so its file list is how the package says where it is. This
    finds it after ``pip install --user``, ``--prefix`` or ``--target`` too.
    """
    try:
        dist = importlib.metadata.distribution(GRAPHVIZ_PURE)
    except importlib.metadata.PackageNotFoundError:
        return None
    for file in dist.files or ():
        if file.name in (GRAPHVIZ_PURE, _exe(GRAPHVIZ_PURE)):
            path = Path(dist.locate_file(file)).resolve()
            if path.is_file() and os.access(path, os.X_OK):
                return path
    return None


def layout_program() -> str | None:
    """The program that lays drawings out, or None.

    In order: the system Graphviz ``dot`` on the PATH; the ``graphviz-pure`` that pip installed for
    the running Python (next to ``sys.executable``, in its scripts folder, or wherever the
    package's file list says), so a venv works without being activated (IDEs, Jupyter kernels,
    ``venv/bin/python script.py``); last, a ``graphviz-pure`` on the PATH (pipx, uv tool).
    """
    dot = shutil.which("dot")
    if dot:
        return dot
    for folder in _scripts_dirs():
        candidate = folder / _exe(GRAPHVIZ_PURE)
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    installed = _installed_graphviz_pure()
    if installed is not None:
        return str(installed)
    return shutil.which(GRAPHVIZ_PURE)


def pipe(source: str, fmt: str = "svg", timeout: float = 120.0) -> bytes:
    """Lay out DOT `source` and return the bytes of format `fmt` (svg, png, …)."""
    prog = layout_program()
    if prog is None:
        raise GraphvizMissingError(
            "no Graphviz program found to lay out the drawing: neither the system 'dot' on the "
            f"PATH nor the pip package graphviz-pure for this Python ({sys.executable}). Install "
            f"it into that Python with: {sys.executable} -m pip install 'diffkit[viz]' (it brings "
            "graphviz-pure), or install the system Graphviz (apt-get install graphviz, brew "
            "install graphviz). DOT output needs neither: render(g, 'out.dot') or g.source."
        )
    args = [prog, f"-T{fmt}"]
    if fmt in RASTER:
        args.append(f"-Gdpi={RASTER_DPI}")  # a default: a dpi set in the source wins
        if Path(prog).name.startswith(GRAPHVIZ_PURE):
            source = source.replace(f'fontname="{FONT}"', f'fontname="{RASTER_FONT}"')
    done = subprocess.run(
        args,
        input=source.encode("utf-8"),
        capture_output=True,
        timeout=timeout,
        check=False,
    )
    if done.returncode != 0:
        raise DiffkitError(
            f"{Path(prog).name} failed (exit {done.returncode}): "
            f"{done.stderr.decode('utf-8', 'replace').strip()}"
        )
    if fmt == "svg":
        return _SVG_FONT.sub(f'font-family="{SVG_FONTS}"'.encode(), done.stdout)
    return done.stdout


#: The font the layout measured with, as the SVG names it (``dot`` may append a generic family).
_SVG_FONT = re.compile(rb'font-family="' + re.escape(FONT.encode()) + rb'(?:,[^"]*)?"')
RASTER = ("png", "jpeg", "jpg", "gif", "bmp", "tif", "tiff", "webp")


def render(drawing: Any, path: str | Path) -> Path:
    """Write a drawing (a Digraph, a :class:`Trace` or DOT text) as SVG, PNG, PDF or DOT by suffix.

    Example:
        >>> import diffkit as dk, tempfile, os
        >>> out = dk.render(dk.trace("x*y", 2, 3), os.path.join(tempfile.mkdtemp(), "t.dot"))
        >>> out.read_text().startswith("digraph")
        True
    """
    path = Path(path)
    fmt = FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise ValueError(
            f"render: unknown file type {path.suffix!r}; use one of {', '.join(FORMATS)}"
        )
    if not path.parent.is_dir():
        raise FileNotFoundError(f"render: there is no folder {str(path.parent)!r} to write "
                                f"{path.name!r} into: create it first")
    if hasattr(drawing, "draw") and hasattr(drawing, "rows"):  # a Trace
        drawing = drawing.draw()
    source = drawing if isinstance(drawing, str) else drawing.source
    if fmt == "dot":
        path.write_text(source, encoding="utf-8")
    else:
        path.write_bytes(pipe(source, fmt))
    return path


__all__ = [
    "MAX_NODES",
    "DrawingTooLargeError",
    "GraphvizMissingError",
    "draw_symbolic",
    "draw_trace",
    "layout_program",
    "node_id",
    "pipe",
    "render",
]
