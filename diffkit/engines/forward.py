"""Forward mode: dual numbers v + v̇·ε carried through the graph, k tangent directions at once.

Every node gets a tangent with a leading axis of k directions, so a whole Jacobian (k = number
of inputs) takes one pass. Element-wise nodes form v̇ = Σⱼ ∂v/∂vⱼ · v̇ⱼ from the table's partials;
other nodes use their batched JVP rule. Second derivatives nest the engine: the tangent sweep is
itself traced and differentiated again (forward over forward: hyper-dual numbers).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from .. import ops
from ..errors import DomainError, NonDifferentiableError
from ..function import Function
from ..ir import Node
from ..primitives import MINUS_ONE, ONE
from .base import Engine, shape_of, size_of, split_flat, xp_of


def tangent_sweep(nodes: Sequence[Node], values: Mapping[Node, Any], seeds: Mapping[Node, Any],
                  k: int) -> dict[Node, Any]:
    """Tangents (leading axis k) of every node reached from the seeded inputs."""
    tan: dict[Node, Any] = dict(seeds)
    for node in nodes:
        prim = node.prim
        if prim is None or not prim.differentiable:
            continue
        ts = [tan.get(i) for i in node.inputs]
        if all(t is None for t in ts):
            continue
        xs = [values[i] for i in node.inputs]
        out = values[node]
        if prim.kind == "elementwise":
            tan[node] = _elementwise_tangent(node, prim.partials, xs, out, ts, k)
        else:
            tan[node] = prim.jvp(ts, k, xs, out, **node.params)
    return tan


def _elementwise_tangent(node: Node, partials: Sequence[Any], xs: list[Any], out: Any,
                         ts: Sequence[Any], k: int) -> Any:
    nd = len(node.shape)
    total = None
    for p_fn, inp, t in zip(partials, node.inputs, ts):
        if t is None or p_fn is None:
            continue
        try:
            p = p_fn(*xs, out)
        except (DomainError, FloatingPointError):
            from ..display import format_value

            point = ", ".join(format_value(getattr(x, "value", x)) for x in xs)
            raise NonDifferentiableError(
                f"{node.prim.name} is not differentiable at {point}: its local derivative is not "
                "finite there (forward engine)"
            ) from None
        if len(inp.shape) < nd:  # line the input's axes up with the output's, after the k axis
            t = ops.reshape(t, (k,) + (1,) * (nd - len(inp.shape)) + inp.shape)
        term = t if p is ONE else -t if p is MINUS_ONE else p * t
        total = term if total is None else total + term
    if shape_of(total) != (k, *node.shape):
        total = ops.broadcast_to(total, (k, *node.shape))
    return total


def identity_seeds(inputs: Sequence[Node], like: Sequence[Any]) -> tuple[dict[Node, Any], int]:
    """Seeds for a full Jacobian: input i gets the block of the identity for its elements."""
    n = sum(size_of(v) for v in like)
    xp = xp_of(like[0]) if like else np
    seeds, start = {}, 0
    for node, v in zip(inputs, like):
        s = size_of(v)
        block = xp.zeros((n, s))
        block[start:start + s] = xp.eye(s)
        seeds[node] = block.reshape((n, *shape_of(v)))
        start += s
    return seeds, n


class ForwardEngine(Engine):
    """Forward-mode AD: one pass with k tangent directions gives k columns of the Jacobian."""

    name = "forward"

    def jacobian(self, fn: Function, args: Sequence[Any], wrt: Sequence[int]) -> tuple[Any, Any]:
        graph, values = fn.graph_at(*args)
        seeds, n = identity_seeds([graph.inputs[i] for i in wrt], [values[graph.inputs[i]] for i in wrt])
        tan = tangent_sweep(graph.nodes, values, seeds, n)
        out = values[graph.output]
        m = size_of(out)
        t = tan.get(graph.output)
        if t is None:
            return out, xp_of(out).zeros((m, n))
        return out, ops.transpose(ops.reshape(t, (n, m)), (1, 0))

    def jvp(self, fn: Function, args: Sequence[Any], tangents: Sequence[Any]) -> tuple[Any, Any]:
        graph, values = fn.graph_at(*args)
        seeds = {}
        for node, t in zip(graph.inputs, tangents):
            if t is not None:
                seeds[node] = ops.reshape(_as_float(t, node), (1, *node.shape))
        tan = tangent_sweep(graph.nodes, values, seeds, 1)
        out = values[graph.output]
        t = tan.get(graph.output)
        if t is None:
            return out, xp_of(out).zeros(shape_of(out)) if shape_of(out) else 0.0
        return out, ops.reshape(t, shape_of(out))

    def value_and_grad(self, fn: Function, args: Sequence[Any], wrt: Sequence[int],
                       need_value: bool = True) -> tuple[Any, tuple[Any, ...]]:
        from .base import require_scalar

        out, jac = self.jacobian(fn, args, wrt)
        require_scalar(out, "grad")
        row = ops.reshape(jac, (jac.shape[1],))
        return out, split_flat(row, [args[i] for i in wrt])


def _as_float(t: Any, node: Node) -> Any:
    from ..errors import ShapeError

    if shape_of(t) != node.shape and np.size(t) != node.size:
        raise ShapeError(f"tangent of shape {shape_of(t)} for input {node.name!r} of shape {node.shape}")
    return t if hasattr(t, "shape") else np.asarray(t, dtype=float)
