"""How nodes and values read in listings, traces and tables (the seeds' notation)."""

from __future__ import annotations

import math
import re
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from .ir import Node


def format_value(v: Any, digits: int = 6, fixed: bool = False) -> str:
    """A short text for a value: scalars with `digits` significant digits (or, with ``fixed``,
    `digits` decimals as the course notes print them: 0.693), small arrays listed (nested as
    their shape is: ``[[1.000, 2.000], [3.000, 4.000]]``), large ones summarized by shape and
    range — a complex one by the ranges of its real and of its imaginary parts, written as the
    box that holds every value (``in [0.000, 6.000] + [-14.000, 10.000]j``).

    A complex number is its two parts, each written by the one rule for a real number (so
    ``1e-05+1e-05j`` never reads ``0.000+0.000j``).

    Example:
        >>> format_value(1e-5 + 2j, 3, fixed=True)
        '1.00e-05+2.000j'
        >>> format_value(np.array([1 + 5j, 2 - 7j, 3, 4, 5, 6]), 3, fixed=True)
        'array(6,) in [1.000, 6.000] + [-7.000, 5.000]j'
    """
    if isinstance(digits, bool) or not isinstance(digits, int | np.integer) or digits < 0:
        raise ValueError(f"digits must be a whole number >= 0, got {digits!r}")
    if hasattr(v, "get") and not isinstance(v, np.ndarray):  # CuPy
        v = v.get()
    arr = np.asarray(v)
    if arr.ndim == 0:
        x = arr.item()
        if isinstance(x, bool | np.bool_):
            return str(x)
        if isinstance(x, complex):
            im = _real(x.imag, digits, fixed)
            return f"{_real(x.real, digits, fixed)}{'' if im[0] in '+-' else '+'}{im}j"
        return _real(float(x), digits, fixed)
    if arr.size <= (4 if fixed else 6):
        if fixed:  # one item per row of the first axis: a (2, 2) array reads as one
            return "[" + ", ".join(format_value(a, digits, fixed) for a in arr) + "]"
        return np.array2string(arr, precision=min(digits, 4), separator=", ")
    if arr.dtype.kind == "c":
        re_part, im_part = (_range(part, digits, fixed) for part in (arr.real, arr.imag))
        return f"array{arr.shape} in {re_part} + {im_part}j"  # the box the values lie in
    if arr.dtype.kind == "f":
        return f"array{arr.shape} in {_range(arr, digits, fixed)}"
    return f"array{arr.shape}"


def _real(x: float, digits: int, fixed: bool) -> str:
    """A real number as every display writes one (and each part of a complex one)."""
    return _fixed(x, digits) if fixed else format(x, f".{digits}g")


def _range(arr: np.ndarray, digits: int, fixed: bool) -> str:
    """``[lo, hi]`` of a real array: with `digits` decimals (`fixed`), else 3 significant."""
    lo, hi = arr.min(), arr.max()
    if fixed:
        return f"[{_fixed(float(lo), digits)}, {_fixed(float(hi), digits)}]"
    return f"[{lo:.3g}, {hi:.3g}]"


#: From this magnitude on, a value with `digits` decimals is shown in scientific notation (a
#: 300-digit string of a huge value reads as noise, not as a number).
HUGE = 1e16


def _fixed(x: float, digits: int) -> str:
    """`x` with `digits` decimals (``0.693``), except where that text would misstate it: a nonzero
    value that rounds to zero, or a huge one, in scientific notation with as many significant
    digits (``-1.00e-05``, ``1.23e+300``); and -0.0 keeps its sign (``-0.000``), which copysign
    and atan2 read."""
    text = format(x, f".{digits}f")
    small = x != 0 and re.fullmatch(r"-?0\.?0*", text) is not None
    if small or (math.isfinite(x) and abs(x) >= HUGE):
        return format(x, f".{max(digits - 1, 0)}e")
    if x == 0 and math.copysign(1.0, x) < 0:
        return "-" + text.lstrip("-")
    return text


def format_constant(v: Any, digits: int = 6, fixed: bool = False) -> str:
    """A constant of a formula as text that identifies it: as :func:`format_value` shows it where
    that text reads back as the same number (``2``, ``0.5``, ``2.000``), else its shortest exact
    form (``1.0000001``, ``1234567``, ``0.0001``) — so ``x*1.0000001`` never reads ``v₀ × 1``."""
    text = format_value(v, digits, fixed)
    x = np.asarray(v.get() if hasattr(v, "get") and not isinstance(v, np.ndarray) else v)
    if x.ndim or x.dtype.kind not in "iuf":
        return text
    value = float(x.item())
    try:
        if float(text) == value and math.copysign(1.0, float(text)) == math.copysign(1.0, value):
            return text
    except ValueError:  # inf, nan
        return text
    exact = repr(value)
    return exact.removesuffix(".0")


#: what Markdown would read as markup, as the text that shows it: HTML tags (``<lambda>``) and
#: entities as entities, table bars and emphasis backslash-escaped, line breaks as spaces
_MD_ESCAPES = str.maketrans({"\\": "\\\\", "&": "&amp;", "<": "&lt;", ">": "&gt;",
                             "|": r"\|", "*": r"\*", "_": r"\_", "`": r"\`",
                             "\n": " ", "\r": " "})


def markdown_text(s: str) -> str:
    """Text as it shows in Markdown (a table cell or a bold title), never as markup: every
    Markdown rendering of user text (trace tables, the comparison table) escapes with this one.

    Example:
        >>> print(markdown_text("<lambda> a_b*c|d"))
        &lt;lambda&gt; a\\_b\\*c\\|d
    """
    return s.translate(_MD_ESCAPES)


def operand(node: Node, names: dict[int, str]) -> str:
    """How a node appears as an argument: its variable name, or a constant's value."""
    if node.id in names:
        return names[node.id]
    if node.value is not None and np.ndim(node.value) == 0 and not hasattr(node.value, "node"):
        return format_value(node.value)
    return f"const{tuple(node.shape)}" if node.shape else "const"


def _params_text(params: dict[str, Any]) -> str:
    return ", ".join(f"{k}={_param(v)}" for k, v in params.items() if v is not None and v is not False)


def _param(v: Any) -> str:
    if isinstance(v, tuple) and any(isinstance(i, slice) or hasattr(i, "shape") for i in v):
        return index_text(v)
    return str(v)


def index_text(index: tuple[Any, ...]) -> str:
    """An index tuple as Python would write it: 0:3, ..., [1 2]."""
    parts = []
    for i in index:
        if isinstance(i, slice):
            a = "" if i.start is None else str(i.start)
            b = "" if i.stop is None else str(i.stop)
            parts.append(f"{a}:{b}" + ("" if i.step is None else f":{i.step}"))
        elif i is Ellipsis:
            parts.append("...")
        elif i is None:
            parts.append("None")
        elif hasattr(i, "shape"):
            parts.append(f"array{tuple(i.shape)}" if np.size(i) > 4 else str(np.asarray(i).tolist()))
        else:
            parts.append(str(i))
    return ", ".join(parts)


def describe_node(node: Node, names: dict[int, str]) -> str:
    """The right-hand side of a node's line: ``v-1 * v0``, ``log(v-1)``, ``sum(v3, axis=(0,))``."""
    prim = node.prim
    args = [operand(i, names) for i in node.inputs]
    if prim is None:
        return operand(node, names)
    if prim.symbol == "-" and len(args) == 1:  # a prefix operator
        return f"-{args[0]}"
    if prim.infix and len(args) == 2:
        return f"{args[0]} {prim.symbol} {args[1]}"
    if prim.symbol == "[]":  # an index
        return f"{args[0]}[{index_text(node.params['index'])}]"
    extra = _params_text(node.params)
    return f"{prim.symbol}({', '.join(args)}{', ' + extra if extra else ''})"
