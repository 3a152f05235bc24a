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
    `digits` decimals as the course notes print them: 0.693), small arrays listed, large ones
    summarized by shape and range."""
    if isinstance(digits, bool) or not isinstance(digits, int | np.integer) or digits < 0:
        raise ValueError(f"digits must be a whole number >= 0, got {digits!r}")
    if hasattr(v, "get") and not isinstance(v, np.ndarray):  # CuPy
        v = v.get()
    arr = np.asarray(v)
    if arr.ndim == 0:
        x = arr.item()
        if isinstance(x, bool | np.bool_):
            return str(x)
        spec = f".{digits}{'f' if fixed else 'g'}"
        if isinstance(x, complex):
            return format(x, spec)
        return _fixed(float(x), digits) if fixed else format(float(x), spec)
    if arr.size <= (4 if fixed else 6):
        if fixed:
            return "[" + ", ".join(format_value(a, digits, fixed) for a in arr.reshape(-1)) + "]"
        return np.array2string(arr, precision=min(digits, 4), separator=", ")
    if arr.dtype.kind in "fc":
        if fixed:
            lo, hi = format_value(arr.real.min(), digits, fixed), format_value(arr.real.max(), digits, fixed)
        else:
            lo, hi = f"{arr.min():.3g}", f"{arr.max():.3g}"
        return f"array{arr.shape} in [{lo}, {hi}]"
    return f"array{arr.shape}"


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
