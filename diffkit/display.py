"""How nodes and values read in listings, traces and tables (the seeds' notation)."""

from __future__ import annotations

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
        text = format(float(x), spec)
        return text[1:] if fixed and re.fullmatch(r"-0\.?0*", text) else text  # no "-0.000"
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
