"""How trace rows read in each output format: Unicode text, Markdown, LaTeX and HTML tables.

A row's pieces are format-neutral (variable keys such as ``"v-1"``, SymPy expressions, tokens);
a :class:`Notation` turns them into one format's strings (``v₋₁`` or ``v_{-1}``, ``×`` or
``\\times``). The renderers lay rows out as aligned columns: variable, defining expression, local
derivative ∂vᵢ/∂vⱼ used, and value rounded for display (the exact value stays in the row).
"""

from __future__ import annotations

import html
import re
import unicodedata
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

import numpy as np
import sympy as sp
from sympy.printing.latex import LatexPrinter
from sympy.printing.str import StrPrinter

from ..display import format_constant, format_value, markdown_text

_SUB = str.maketrans("0123456789-", "₀₁₂₃₄₅₆₇₈₉₋")
_ACCENT = {"": "", "dot": "\u0307", "bar": "\u0304"}
_LATEX_ACCENT = {"": "{}", "dot": r"\dot{{{}}}", "bar": r"\bar{{{}}}"}
#: a trace's variable key: the letter of :func:`diffkit.ir.variable_prefix` (v; w, u, … beside
#: an input called v1) and its number
_VAR = re.compile(r"^(v_*|[wutsrqpk])(-?\d+)$")
_MARKS = "".join(chr(c) for c in range(0x300, 0x370))  # the combining diacritical marks

#: Section titles, as the seeds name the three traces.
TITLES = {
    "primal": "Forward primal trace",
    "tangent": "Forward tangent (derivative) trace",
    "adjoint": "Reverse adjoint (derivative) trace",
}
HEADER = ("Variable", "Expression", "Local derivative", "Value")


#: the accent of a name that does not start with a single letter, where a combining mark would
#: sit on its first letter only (w̄eight): the adjoint adj(weight), the tangent d(weight)
_WORD_ACCENT = {"dot": "d({})", "bar": "adj({})"}
_LATEX_WORD_ACCENT = {"": "{}", "dot": r"\mathrm{{d}}({})", "bar": r"\overline{{{}}}"}


#: the suffix of an accent that asks for its word form on any name (``"bar" + WORD``:
#: ``adj(x)``): a trace's names where a combining mark would read as another input's name (the
#: adjoint x̄ of x beside an input called x̄)
WORD = "-word"


def _accented(head: str, accent: str, tail: str = "") -> str:
    """`head` + `tail` with the accent on `head`: a combining mark on a one-letter head (x̄₁,
    x̄_1, as the seeds write it), a word form for a longer one (``adj(weight)``, not w̄eight)
    or where the accent asks for it (:data:`WORD`)."""
    if accent.endswith(WORD):
        return _WORD_ACCENT[accent[:-len(WORD)]].format(head + tail)
    if not accent or re.match(r"[^\W\d_](?![^\W\d_])", head):
        return head[:1] + _ACCENT[accent] + head[1:] + tail
    return _WORD_ACCENT[accent].format(head + tail)


def unicode_var(key: str, accent: str = "") -> str:
    """``v-1`` -> ``v₋₁``, ``x1`` -> ``x₁``; accent "dot" (v̇) or "bar" (v̄) on the letter
    (``adj(out)``, ``d(out)`` on a longer name)."""
    m = _VAR.match(key)
    if m:
        return m.group(1)[:1] + _ACCENT[accent] + m.group(1)[1:] + m.group(2).translate(_SUB)
    base, digits = _split_name(key)
    return _accented(base, accent, digits.translate(_SUB))


def _latex_accented(base: str, accent: str, sub: str = "", word: bool | None = None) -> str:
    """A LaTeX accent: ``\\bar{x}_{1}``, ``\\bar{\\alpha}``; over a word
    ``\\overline{weight_{1}}``, ``\\mathrm{d}(weight_{1})`` (`word`: None, decided by `base`)."""
    sub = f"_{{{sub}}}" if sub else ""
    if accent.endswith(WORD):
        accent, word = accent[:-len(WORD)], True
    if word is None:
        word = not re.fullmatch(r"\\[A-Za-z]+|[A-Za-z]", base)
    if not word:
        return _LATEX_ACCENT[accent].format(base) + sub
    return _LATEX_WORD_ACCENT[accent].format(base + sub)


def latex_var(key: str, accent: str = "") -> str:
    """``v-1`` -> ``v_{-1}``, ``x1`` -> ``x_{1}``, ``alpha`` -> ``\\alpha``; with \\dot or \\bar."""
    m = _VAR.match(key)
    if m:
        base, sub = m.group(1).replace("_", r"\_"), m.group(2)
    else:
        base, sub = _split_name(key)
        base = sp.latex(sp.Symbol(base)) if base else key
        return _latex_accented(base, accent, sub)
    head = _LATEX_ACCENT[accent].format(base)
    return f"{head}_{{{sub}}}" if sub else head


def _split_name(name: str) -> tuple[str, str]:
    """``x12`` -> (``x``, ``12``): trailing digits become a subscript."""
    m = re.match(r"^(.*?[^\d_])_?(\d+)$", name)
    return (m.group(1), m.group(2)) if m else (name, "")


def _input_subscript(name: str) -> tuple[str, str] | None:
    """(base, digits) where an input's trailing digits can be a subscript without two names
    reading alike, else None (the name is shown as written): not after an underscore (``x_1``
    beside ``x1`` → x₁) and not on the traces' own letter (an input ``v1`` beside the
    intermediate v₁)."""
    m = re.match(r"^(.*?[^\d_])(\d+)$", name)
    if m is None or unicodedata.normalize("NFD", m.group(1)).rstrip(_MARKS) == "v":
        return None  # v1, and v̄1 or v̇1 beside the adjoint v̄₁ and tangent v̇₁
    return m.group(1), m.group(2)


def unicode_name(name: str, accent: str = "") -> str:
    """An input's name: ``x1`` -> ``x₁``; ``x_1`` and ``v1`` as written; the accent on a first
    letter (``x̄₁``, ``x̄_1``), a word form for a longer name (``adj(weight)``, ``d(weight)``)."""
    split = _input_subscript(name)
    if split is not None:
        return _accented(split[0], accent, split[1].translate(_SUB))
    head = re.match(r"[^\W\d_]*", name).group()  # the letters the accent belongs to
    return _accented(head or name, accent, name[len(head):] if head else "")


def latex_name(name: str, accent: str = "") -> str:
    """An input's name in LaTeX: ``x1`` -> ``x_{1}``, ``alpha`` -> ``\\alpha``; a name shown as
    written in upright type (``\\mathrm{x\\_1}``)."""
    split = _input_subscript(name)
    if split is None:
        if re.fullmatch(r"[A-Za-z]+", name):
            return _latex_accented(sp.latex(sp.Symbol(name)), accent)
        one = re.match(r"[^\W\d_](?![^\W\d_])", name)  # x̄_1 as x̄₁: its one letter
        return _latex_accented(rf"\mathrm{{{latex_escape(name)}}}", accent, word=not one)
    return _latex_accented(sp.latex(sp.Symbol(split[0])), accent, split[1])


_LATEX_NAMES: dict[sp.Symbol, str] = {}


@lru_cache(maxsize=65536)
def symbol(key: str, accent: str = "") -> sp.Symbol:
    """The SymPy symbol of a trace variable (named in Unicode, so ``str`` prints ``v₋₁``)."""
    s = sp.Symbol(unicode_var(key, accent), real=True)
    _LATEX_NAMES[s] = latex_var(key, accent)
    return s


class _UnicodePrinter(StrPrinter):
    """SymPy's one-line printer with ``ln`` for log, ``×`` for products and ``^`` for powers."""

    def _print_log(self, expr: Any) -> str:
        return f"ln({self._print(expr.args[0])})"

    def _print_Mul(self, expr: Any) -> str:
        return super()._print_Mul(expr).replace("**", "^").replace("*", " × ")

    def _print_Pow(self, expr: Any, rational: bool = False) -> str:
        return super()._print_Pow(expr, rational).replace("**", "^")

    def _print_Float(self, expr: Any) -> str:
        return float_text(expr)


def float_text(expr: Any) -> str:
    """A SymPy Float as the shortest text that reads back as the nearest double (``0.3``, not
    ``0.29999999999999999``) where it is a double to within its own precision: a double itself,
    or a constant's 17-digit Float that arithmetic moved off the doubles (0.3 − 1 is 0.7 less
    2⁻⁵⁴·…, printed ``-0.7``, not ``-0.70000000000000001``); a Float of more precision that is
    not a double as SymPy prints it."""
    value = float(expr)
    if not np.isfinite(value) or not _is_double(expr, value):
        return StrPrinter()._print_Float(expr)
    text = repr(value)
    return text.removesuffix(".0")


def _is_double(expr: Any, value: float) -> bool:
    """Whether `expr` is the double `value`: exactly, or — for a Float of at most
    :data:`DOUBLE_BITS` (a double's 17 significant digits, diffkit's constants) — to within one
    unit in the double's last place."""
    exact, near = sp.Rational(expr), sp.Rational(value)
    if exact == near:
        return True
    return expr._prec <= DOUBLE_BITS and value != 0 and (
        abs(exact - near) <= sp.Rational(float(np.spacing(abs(value)))))


#: the precision (bits) of the 17-digit Floats that hold diffkit's float constants
DOUBLE_BITS = 60


class PointValue(sp.Symbol):
    """A partial shown as its value at the point (``1.000``), in formulas and as a partial: one
    that conditions alone decide (where's ∂/∂branch) has no formula worth printing. Sorts after
    the variables, so ``v̄₄ × 1.000``."""

    @classmethod
    def of(cls, value: Any) -> PointValue:
        return cls(fmt_number(value), real=True)

    @classmethod
    def class_key(cls) -> tuple[int, int, str]:
        return 6, 0, cls.__name__

    def _sympystr(self, printer: Any) -> str:
        return self.name

    def _latex(self, printer: Any) -> str:
        return latex_escape(self.name)


def is_shown_number(e: Any) -> bool:
    """Whether a partial's form is a number (then its value is not repeated after it)."""
    return bool(e.is_Number) or isinstance(e, PointValue)


_PRINTER = _UnicodePrinter({"order": "none"})


class _LatexPrinter(LatexPrinter):
    """SymPy's LaTeX printer with Floats as their shortest exact text (``0.3``)."""

    def _print_Float(self, expr: Any) -> str:
        text = float_text(expr)
        mantissa, _, exponent = text.partition("e")
        return rf"{mantissa} \cdot 10^{{{int(exponent)}}}" if exponent else text

# ----- numbers ---------------------------------------------------------------------------------


def fmt_number(v: Any, digits: int = 3) -> str:
    """A value rounded for display: ``0.693``; small arrays listed, large ones summarized."""
    return format_value(v, digits, fixed=True)


# ----- notations -------------------------------------------------------------------------------


class Notation:
    """Unicode notation (text, Markdown, HTML): ``v̄₀ + v̄₂ × v₋₁``."""

    def var(self, key: str, accent: str = "") -> str:
        return unicode_var(key, accent)

    def name(self, name: str, accent: str = "") -> str:
        return unicode_name(name, accent)

    def expr(self, e: Any) -> str:
        return _PRINTER.doprint(e)

    def infix(self, prim: Any) -> str:
        return prim.unicode

    def fn(self, prim: Any) -> str:
        return prim.unicode

    def text(self, s: str) -> str:
        return s

    def partial(self, of: str, wrt: str) -> str:
        return f"∂{self.var(of)}/∂{self.var(wrt)}"

    def number(self, v: Any, digits: int) -> str:
        return fmt_number(v, digits)

    def apply(self, name: str, args: Sequence[str], bare: bool) -> str:
        """``ln v₋₁`` (one bare variable, as the seeds write it) or ``sum(v₃, axis=(0,))``."""
        if bare and len(args) == 1:
            return f"{name} {args[0]}"
        return f"{name}({', '.join(args)})"

    def power(self, base: str, exp: str) -> str:
        return f"{base}^{exp}"

    def render(self, tokens: Sequence[tuple[Any, ...]]) -> str:
        """Join a row's tokens: ("var", key, accent), ("name", input name, accent), ("sym", expr), ("infix", prim), ("fn", prim,
        args, bare), ("pow", base, exp), ("text", s), ("num", value)."""
        parts = []
        for tok in tokens:
            kind = tok[0]
            if kind == "var":
                parts.append(self.var(tok[1], tok[2]))
            elif kind == "name":
                parts.append(self.name(tok[1], tok[2]))
            elif kind == "sym":
                parts.append(self.expr(tok[1]))
            elif kind == "infix":
                parts.append(f" {self.infix(tok[1])} ")
            elif kind == "fn":
                parts.append(self.apply(self.fn(tok[1]), [self.render(a) for a in tok[2]], tok[3]))
            elif kind == "pow":
                parts.append(self.power(self.render(tok[1]), self.render(tok[2])))
            elif kind == "num":
                parts.append(self.text(format_constant(tok[1])))
            else:
                parts.append(self.text(tok[1]))
        return "".join(parts)


class LatexNotation(Notation):
    """LaTeX notation (inside ``$…$``): ``\\bar{v}_{0} + \\bar{v}_{2} v_{-1}``."""

    def var(self, key: str, accent: str = "") -> str:
        return latex_var(key, accent)

    def name(self, name: str, accent: str = "") -> str:
        return latex_name(name, accent)

    def expr(self, e: Any) -> str:
        return _LatexPrinter(
            {"symbol_names": _LATEX_NAMES, "ln_notation": True, "mul_symbol": "times",
             "order": "none"}
        ).doprint(e)

    def infix(self, prim: Any) -> str:
        return prim.latex

    def fn(self, prim: Any) -> str:
        tex = prim.latex
        return tex if tex.startswith("\\") else rf"\operatorname{{{prim.name}}}"

    def text(self, s: str) -> str:
        return latex_escape(s)

    def partial(self, of: str, wrt: str) -> str:
        return rf"\partial {self.var(of)} / \partial {self.var(wrt)}"

    def number(self, v: Any, digits: int) -> str:
        return latex_escape(fmt_number(v, digits))

    def apply(self, name: str, args: Sequence[str], bare: bool) -> str:
        if bare and len(args) == 1:
            return f"{name} {args[0]}"
        return rf"{name}\left({', '.join(args)}\right)"

    def power(self, base: str, exp: str) -> str:
        return f"{{{base}}}^{{{exp}}}"


def latex_escape(s: str) -> str:
    """Escape LaTeX's special characters in plain text."""
    table = {
        "\\": r"\backslash ",
        "{": r"\{",
        "}": r"\}",
        "_": r"\_",
        "%": r"\%",
        "&": r"\&",
        "#": r"\#",
        "$": r"\$",
        "~": r"\sim ",
        "^": r"\hat{}",
    }
    return "".join(table.get(c, c) for c in s)


UNICODE = Notation()
LATEX = LatexNotation()

# ----- cells and tables ------------------------------------------------------------------------


def derivative_cell(partials: Sequence[Any], n: Notation, digits: int) -> str:
    """``∂v₂/∂v₋₁ = v₀ = 5.000; ∂v₂/∂v₀ = v₋₁ = 2.000`` (symbolic form, then value)."""
    cells = []
    for p in partials:
        form = n.expr(p.expr) if p.expr is not None else n.text(f"{p.rule} rule")
        exact = p.expr is None or p.value is None or is_shown_number(p.expr)
        cells.append(
            f"{n.partial(p.of, p.wrt)} = {form}"
            if exact
            else f"{n.partial(p.of, p.wrt)} = {form} = {n.number(p.value, digits)}"
        )
    return "; ".join(cells)


def cells(row: Any, n: Notation, digits: int) -> tuple[str, str, str, str]:
    """The four cells of a row: variable, defining expression, local derivative, value."""
    return (
        n.render(row.lhs),
        n.render(row.formula),
        derivative_cell(row.partials, n, digits),
        n.number(row.value, digits),
    )


def _width(s: str) -> int:
    return sum(0 if unicodedata.combining(c) else 1 for c in s)


def _pad(s: str, width: int, right: bool = False) -> str:
    fill = " " * (width - _width(s))
    return fill + s if right else s + fill


def sections(trace: Any) -> list[tuple[str, list[Any]]]:
    """(title, rows) of each trace the mode produced, in reading order."""
    out = [("primal", trace.primal)]
    if trace.mode == "forward":
        out.append(("tangent", trace.tangent))
    else:
        out.append(("adjoint", trace.adjoint))
    return [(TITLES[k], rows) for k, rows in out]


def to_text(trace: Any, digits: int = 3) -> str:
    """Aligned columns for a terminal: ``v₁ = ln v₋₁   ∂v₁/∂v₋₁ = 1/v₋₁ = 0.500   0.693``."""
    blocks = [(title, [cells(r, UNICODE, digits) for r in rows]) for title, rows in sections(trace)]
    table = [c for _, rows in blocks for c in rows]
    w = [max((_width(c[i]) for c in table), default=0) for i in range(4)]
    lines = [trace.title()]
    for title, rows in blocks:
        lines += ["", title, "-" * _width(title)]
        for var, expr, deriv, value in rows:
            line = (f"{_pad(var, w[0])} = {_pad(expr, w[1])}   {_pad(deriv, w[2])}   "
                    f"= {_pad(value, w[3], True)}")
            lines.append(line.rstrip())
    return "\n".join(lines)


def to_markdown(trace: Any, digits: int = 3) -> str:
    """One Markdown table per trace (primal, then tangent or adjoint)."""
    lines = [f"**{markdown_text(trace.title())}**"]
    for title, rows in sections(trace):
        lines += ["", f"*{title}*", "", "| " + " | ".join(HEADER) + " |", "|:--|:--|:--|--:|"]
        for row in rows:
            var, expr, deriv, value = map(markdown_text, cells(row, UNICODE, digits))
            lines.append(f"| {var} | = {expr} | {deriv} | {value} |")
    return "\n".join(lines) + "\n"


def to_latex(trace: Any, digits: int = 3) -> str:
    """A ``tabular`` to paste into a paper (needs only amsmath for \\dot and \\bar)."""
    lines = [r"\begin{tabular}{lllr}", r"\hline", " & ".join(HEADER) + r" \\", r"\hline"]
    for title, rows in sections(trace):
        lines.append(rf"\multicolumn{{4}}{{l}}{{\textit{{{title}}}}} \\")
        lines.append(r"\hline")
        for row in rows:
            var, expr, deriv, value = cells(row, LATEX, digits)
            deriv_cell = f"${deriv}$" if deriv else ""
            lines.append(f"${var}$ & $= {expr}$ & {deriv_cell} & ${value}$ " + r"\\")
        lines.append(r"\hline")
    lines.append(r"\end{tabular}")
    return "\n".join(lines) + "\n"


def to_html(trace: Any, digits: int = 3) -> str:
    """An HTML table (for notebooks and web pages)."""
    style = "border-collapse:collapse;font-family:monospace"
    out = [
        f'<table class="diffkit-trace" style="{style}">',
        f'<caption style="text-align:left">{html.escape(trace.title())}</caption>',
    ]
    for title, rows in sections(trace):
        out.append(
            f'<tr><th colspan="4" style="text-align:left;padding-top:0.6em">'
            f"{html.escape(title)}</th></tr>"
        )
        out.append(
            "<tr>" + "".join(f'<th style="text-align:left">{h}</th>' for h in HEADER) + "</tr>"
        )
        for var, expr, deriv, value in (cells(r, UNICODE, digits) for r in rows):
            out.append(
                f"<tr><td>{html.escape(var)}</td><td>= {html.escape(expr)}</td>"
                f"<td>{html.escape(deriv)}</td>"
                f'<td style="text-align:right">{html.escape(value)}</td></tr>'
            )
    out.append("</table>")
    return "\n".join(out)
