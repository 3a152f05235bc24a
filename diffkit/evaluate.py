"""The plain numeric interpreter: replay a graph at new input values, all of it or only what is needed."""

from __future__ import annotations

import dis
from collections.abc import Callable, Collection, Sequence
from typing import Any

import numpy as np

from .backend import array_namespace
from .errors import DomainError
from .ir import Graph, Node, Tensor, _domain_message, bind


class Unevaluated:
    """Stands in for a value a pruned replay did not compute: only its shape and dtype are known."""

    __slots__ = ("dtype", "shape")

    def __init__(self, shape: tuple[int, ...], dtype: Any = float) -> None:
        self.shape = shape
        self.dtype = np.dtype(dtype)

    @property
    def ndim(self) -> int:
        return len(self.shape)

    def __repr__(self) -> str:
        return f"<unevaluated {self.shape}>"


def evaluate(graph: Graph, args: Sequence[Any], only: Collection[Node] | None = None) -> dict[Node, Any]:
    """Values of the nodes of `graph` at inputs `args`.

    Tensors among `args` are traced (every node is recorded). With `only`, nodes outside it are not
    computed and get an :class:`Unevaluated` placeholder.
    """
    values: dict[Node, Any] = dict(zip(graph.inputs, args, strict=True))
    if any(type(a) is Tensor for a in args):
        for node in graph.nodes:
            if node not in values:
                values[node] = node.value if node.prim is None else bind(
                    node.prim, *[values[i] for i in node.inputs], **node.params)
        return values
    xp = array_namespace(*args)
    for node in graph.nodes:
        if node in values:
            continue
        if node.prim is None:
            values[node] = node.value
            continue
        if only is not None and node not in only:
            values[node] = Unevaluated(node.shape, node.dtype)
            continue
        ins = [values[i] for i in node.inputs]
        try:
            values[node] = node.prim.impl(xp, *ins, **node.params)
        except FloatingPointError as exc:
            raise DomainError(_domain_message(node.prim, ins, exc)) from None
    return values


def recorded_values(graph: Graph) -> dict[Node, Any]:
    """The values recorded when `graph` was traced."""
    return {n: n.value for n in graph.nodes}


_READS: dict[Any, frozenset[int]] = {}


def reads(rule: Callable[..., Any]) -> frozenset[int]:
    """Which positional parameters a rule reads, from its bytecode (all of them if unsure)."""
    found = _READS.get(rule)
    if found is not None:
        return found
    code = getattr(rule, "__code__", None)
    if code is None or code.co_flags & 0x04:  # not a plain function, or *args
        found = frozenset(range(64))
    else:
        params = code.co_varnames[: code.co_argcount]
        used: set[str] = set()
        for ins in dis.get_instructions(rule):
            if ins.opname.startswith("LOAD_") and ins.opname not in ("LOAD_CONST", "LOAD_GLOBAL", "LOAD_ATTR", "LOAD_METHOD", "LOAD_NAME"):
                val = ins.argval
                used.update(val if isinstance(val, tuple) else (val,))
        found = frozenset(i for i, p in enumerate(params) if p in used)
    _READS[rule] = found
    return found


def needed_for_gradient(graph: Graph, active: Collection[Node], need_output: bool) -> set[Node]:
    """The nodes whose values a reverse sweep needs: what the memoized partials and VJPs read,
    every node with a restricted domain (its value is where a domain error shows), the output if
    asked, and everything those depend on."""
    need: set[Node] = {graph.output} if need_output else set()
    for node in graph.nodes:
        prim = node.prim
        if prim is None:
            continue
        if prim.domain_text:
            need.add(node)
        if node not in active:
            continue
        if prim.kind == "elementwise":
            n_in = len(node.inputs)
            for p, inp in zip(prim.partials, node.inputs):
                if p is None or inp not in active:
                    continue
                for k in reads(p):
                    if k < n_in:
                        need.add(node.inputs[k])
                    elif k == n_in:
                        need.add(node)
        elif prim.vjp_needs_values:
            need.add(node)
            need.update(node.inputs)
    for node in reversed(graph.nodes):
        if node in need:
            need.update(node.inputs)
    return need
