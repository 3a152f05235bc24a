"""User text (a function's name, notes) shows literally in every rendering: Markdown tables
(compare and trace) and Graphviz drawings (SVG text).

References, independent of diffkit's escaping: Markdown is rendered by markdown-it-py (CommonMark
with GFM tables) and read back as the text a browser shows (html.parser, which drops tags such as
``<lambda>``); drawings are laid out by the Graphviz program (``dot`` or graphviz-pure) and read
back from the SVG with an XML parser. The expected text is the name itself, by hand.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest

import diffkit as dk
from diffkit.comparison import Comparison, MethodResult
from diffkit.traces import drawing as drawing_module

# ----- Markdown: what a Markdown renderer shows --------------------------------------------


class _Shown(HTMLParser):
    """The text a browser shows for some HTML (tags dropped, entities decoded), the tags met,
    and the text of each table cell."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.text: list[str] = []
        self.tags: set[str] = set()
        self.cells: list[str] = []
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: object) -> None:
        self.tags.add(tag)
        if tag in ("td", "th"):
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None:
            self.cells.append("".join(self._cell))
            self._cell = None

    def handle_data(self, data: str) -> None:
        self.text.append(data)
        if self._cell is not None:
            self._cell.append(data)


def _shown(markdown: str) -> _Shown:
    markdown_it = pytest.importorskip("markdown_it")
    html = markdown_it.MarkdownIt("commonmark").enable("table").render(markdown)
    parser = _Shown()
    parser.feed(html)
    parser.close()
    return parser


#: names with everything Markdown reads as markup; a newline shows as a space (one line)
NAMES = [
    "<lambda>",
    "a_b*c\\%",
    "x_1_ *y* __z__ `code` \\\\ |pipe| &amp; <i>it</i>",
    "first\nsecond",
]


def _named(name: str) -> dk.Function:
    f = dk.function(lambda x: np.sin(x))
    f.name = name
    return f


def _title_block(md: str) -> str:
    return md.split("\n\n")[0]


def test_compare_markdown_shows_a_lambda_title() -> None:
    cmp = dk.compare(dk.function(lambda x: np.sin(x)), 1.0, methods=["reverse"], repeat=1,
                     budget=0.001)
    shown = _shown(_title_block(cmp.to_markdown()))
    assert "".join(shown.text).startswith("gradient of <lambda> at x=1 (reference: ")
    assert shown.tags == {"p", "strong"}


@pytest.mark.parametrize("name", NAMES)
def test_compare_markdown_title_shows_the_name_literally(name: str) -> None:
    cmp = dk.compare(_named(name), 1.0, methods=["reverse"], repeat=1, budget=0.001)
    md = cmp.to_markdown()
    shown = _shown(_title_block(md))
    expected = f"gradient of {name.replace(chr(10), ' ')} at x=1"
    assert "".join(shown.text).strip() == f"{expected} (reference: {cmp.reference_kind})"
    assert shown.tags == {"p", "strong"}  # bold title, no emphasis, code or HTML from the name
    assert "\n" not in _title_block(md)  # the title stays on its line


def test_compare_markdown_cells_show_notes_literally() -> None:
    """The notes (and a skipped method's reason, which can quote a name or an error) are cells."""
    note = "h = 1e-5 | <lambda>: a_b*c `x` \\% \n next"
    reason = "<lambda> gave another value | *twice*"
    cmp = Comparison(
        function=_named("f"), point=(1.0,), reference=np.array([0.5]), reference_kind="exact",
        rows=[MethodResult(method="reverse", value=np.array([0.5]), notes=note),
              MethodResult(method="fd-central", skipped=reason)],
        shape=(1,),
    )
    shown = _shown(cmp.to_markdown())
    columns = len(Comparison.COLUMNS)
    assert len(shown.cells) == 3 * columns  # a header and two rows: no bar split a cell
    notes = [shown.cells[k * columns - 1] for k in (2, 3)]
    assert notes == [note.replace("\n", " "), reason]
    assert shown.tags <= {"p", "strong", "table", "thead", "tbody", "tr", "th", "td"}


@pytest.mark.parametrize("name", NAMES)
def test_trace_and_compare_markdown_escape_a_name_alike(name: str) -> None:
    """One escaping for every Markdown rendering: the name's text is the same in both titles."""
    f = _named(name)
    trace_title = dk.trace(f, 1.0).to_markdown().splitlines()[0]
    compare_title = dk.compare(f, 1.0, methods=["reverse"], repeat=1,
                               budget=0.001).to_markdown().splitlines()[0]
    assert trace_title.startswith("**") and compare_title.startswith("**gradient of ")
    escaped = trace_title[2:trace_title.index("(x) at x = 1")]
    assert compare_title.startswith(f"**gradient of {escaped} at x=1**")
    assert "".join(_shown(trace_title).text).startswith(name.replace("\n", " ") + "(x) at")


# ----- Graphviz drawings: what the laid-out SVG shows --------------------------------------

#: every escape sequence Graphviz reads in a label, a trailing backslash, a newline (which shows
#: as the two characters \n), and what HTML-like labels read as markup
DOT_NAMES = [
    "a\\Gb",
    "a\\Nb",
    "a\\Lb",
    "a\\lb",
    "a\\rb",
    "a\\nb",
    "a\\\\b",
    "a\\E\\T\\H",
    "end\\",
    "line\nbreak",
    'x&<b>"y"&amp;',
    "n\\G\\N\\L\\l\\r\\n\\\\q\nz",
]

needs_layout = pytest.mark.skipif(
    drawing_module.layout_program() is None, reason="no dot / graphviz-pure"
)
SVG = "{http://www.w3.org/2000/svg}"


def _svg_texts(drawing: object, tmp_path: Path) -> list[str]:
    root = ET.parse(dk.render(drawing, tmp_path / "g.svg")).getroot()
    return [e.text or "" for e in root.iter(f"{SVG}text")]


def _visible(name: str) -> str:
    return name.replace("\n", "\\n")


def _function(name: str) -> dk.Function:
    f = dk.function(lambda x, y: x * y)
    f.name = name
    return f


@needs_layout
@pytest.mark.parametrize("name", DOT_NAMES)
def test_trace_drawing_shows_the_name_literally(name: str, tmp_path: Path) -> None:
    pytest.importorskip("graphviz")
    texts = _svg_texts(dk.draw(_function(name), 2.0, 3.0), tmp_path)
    title = f"{_visible(name)}(x, y) at x = 2, y = 3 (reverse mode"
    assert any(t.startswith(title) for t in texts), texts[:2]


@needs_layout
@pytest.mark.parametrize("name", DOT_NAMES)
def test_symbolic_drawing_shows_the_name_literally(name: str, tmp_path: Path) -> None:
    pytest.importorskip("graphviz")
    texts = _svg_texts(dk.draw(_function(name), 2.0, 3.0, method="symbolic"), tmp_path)
    assert any(t.startswith(f"symbolic gradient of {_visible(name)}: ") for t in texts), texts
    assert f"∂{_visible(name)}/∂x" in texts and f"∂{_visible(name)}/∂y" in texts


def test_drawing_source_escapes_backslashes_and_newlines() -> None:
    """The DOT text itself (no layout program needed): a backslash doubled in both label kinds,
    a newline as the two characters backslash-n (doubled: \\\\n), never a raw line break."""
    pytest.importorskip("graphviz")
    name = "p\\G\nq"
    trace_source = dk.draw(_function(name), 2.0, 3.0).source
    assert "<TD>p\\\\G\\\\nq(x, y) at x = 2" in trace_source  # the HTML-like title
    symbolic_source = dk.draw(_function(name), 2.0, 3.0, method="symbolic").source
    assert 'label="symbolic gradient of p\\\\G\\\\nq: ' in symbolic_source  # a plain label
    assert "p\\G\n" not in trace_source + symbolic_source
