"""The plain numeric interpreter: replay a graph at new input values."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .backend import array_namespace
from .errors import DomainError
from .ir import Graph, Node, Tensor, _domain_message, bind


def evaluate(graph: Graph, args: Sequence[Any]) -> dict[Node, Any]:
    """Values of every node of `graph` at inputs `args` (Tensors are recorded, arrays computed)."""
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
        ins = [values[i] for i in node.inputs]
        try:
            values[node] = node.prim.impl(xp, *ins, **node.params)
        except FloatingPointError as exc:
            raise DomainError(_domain_message(node.prim, ins, exc)) from None
    return values


def recorded_values(graph: Graph) -> dict[Node, Any]:
    """The values recorded when `graph` was traced."""
    return {n: n.value for n in graph.nodes}
