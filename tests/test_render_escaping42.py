"""User text (a function's name, notes) shows literally in every rendering: Markdown tables
(compare and trace).

References, independent of diffkit's escaping: Markdown is rendered by markdown-it-py (CommonMark
with GFM tables) and read back as the text a browser shows (html.parser, which drops tags such as
``<lambda>``). The expected text is the name itself, by hand.
"""

from __future__ import annotations

from html.parser import HTMLParser

import numpy as np
import pytest

import diffkit as dk
from diffkit.comparison import Comparison, MethodResult

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
