"""Forward mode: dual numbers v + v̇·ε carried through the graph, k tangent directions at once.

Every node gets a tangent with a leading axis of k directions, so a whole Jacobian (k = number
of input elements) takes one pass of :func:`diffkit.sweeps.tangent_sweep`. Second derivatives nest
the engine: the tangent sweep is itself traced and differentiated again (hyper-dual numbers).

A complex input element gets two directions, 1 and i, giving ∂f/∂x and ∂f/∂y; the Jacobian
column is then ∂f/∂x for a holomorphic f (= f′(z)) and ∂f/∂x − i·∂f/∂y for a real-valued f
(JAX's convention, as the reverse engine's pullback of 1).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ..function import Function
from ..ir import Node
from ..primitive import DiagonalRows, Traced
from ..primitives import concatenate, reshape, transpose
from ..sweeps import require_finite, tangent_sweep
from .base import (
    Engine,
    check_tangent,
    dtype_of,
    plain_value,
    require_holomorphic,
    shape_of,
    size_of,
    xp_of,
)


def identity_seeds(inputs: Sequence[Node]) -> tuple[dict[Node, Any], int, list[tuple[int, int, bool]]]:
    """Seeds for a full Jacobian: each input element gets a unit tangent (a complex element two:
    1 and i). Also returns k and, per input, (first direction, element count, complex?)."""
    blocks = []
    k = 0
    for node in inputs:
        cplx = node.dtype.kind == "c"
        blocks.append((k, node.size, cplx))
        k += node.size * (2 if cplx else 1)
    xp = xp_of(inputs[0].value) if inputs else np
    if k == len(inputs) and all(n.shape == () and n.dtype == inputs[0].dtype for n in inputs):
        eye = xp.eye(k, dtype=inputs[0].dtype)  # real scalars: the seeds are the identity's columns
        return {node: eye[:, i] for i, node in enumerate(inputs)}, k, blocks
    seeds = {}
    for node, (start, s, cplx) in zip(inputs, blocks):
        block = xp.zeros((k, s), dtype=node.dtype)
        block[start:start + s] = xp.eye(s, dtype=node.dtype)
        if cplx:
            block[start + s:start + 2 * s] = 1j * xp.eye(s, dtype=node.dtype)
        seeds[node] = block.reshape((k, *node.shape))
    return seeds, k, blocks


class ForwardEngine(Engine):
    """Forward-mode AD: one pass with k tangent directions gives k columns of the Jacobian."""

    name = "forward"

    def jacobian(self, fn: Function, args: Sequence[Any], wrt: Sequence[int]) -> tuple[Any, Any]:
        graph = fn.trace(*args, wrt=wrt)
        ins = [graph.inputs[i] for i in wrt]
        require_holomorphic(graph, "the Jacobian", self.name, ins)
        if len(ins) == 1 and ins[0].shape and ins[0].dtype.kind == "f" \
                and not isinstance(ins[0].value, Traced):  # the identity kept as its diagonal
            node = ins[0]
            seeds = {node: DiagonalRows(xp_of(node.value).ones(node.shape, dtype=node.dtype))}
            k, blocks = node.size, [(0, node.size, False)]
        else:
            seeds, k, blocks = identity_seeds(ins)
        singular: list[Any] = []
        tan = tangent_sweep(graph.nodes, seeds, k, singular, output=graph.output)
        out = graph.output.value
        m = size_of(out)
        t = tan.get(graph.output)
        if type(t) is DiagonalRows:
            t = t.dense()
        require_finite([t], singular, nodes=graph.nodes, wrt=seeds)
        if t is None:
            dt = np.result_type(dtype_of(plain_value(out)), *[n.dtype for n in ins])
            return out, xp_of(out).zeros((m, sum(s for _, s, _ in blocks)), dtype=dt)
        if isinstance(t, Traced):
            cols = transpose(reshape(t, (k, m)), (1, 0))  # (m, k), recorded while nesting
        else:
            cols = t.reshape(k, m).T
        cols = _like_output(cols, graph.output)
        if not any(c for _, _, c in blocks):
            return out, cols
        real_out = graph.output.dtype.kind != "c"
        parts = []
        for start, s, cplx in blocks:
            part = cols[:, start:start + s]
            if cplx and real_out:
                part = part - 1j * cols[:, start + s:start + 2 * s]
            parts.append(part)
        return out, parts[0] if len(parts) == 1 else concatenate(parts, axis=1)

    def jvp(self, fn: Function, args: Sequence[Any], tangents: Sequence[Any]) -> tuple[Any, Any]:
        graph = fn.trace(*args)
        seeds = {}
        for node, t in zip(graph.inputs, tangents):
            if t is not None:
                seeds[node] = reshape(_tangent_for(t, node), (1, *node.shape))
        singular: list[Any] = []
        tan = tangent_sweep(graph.nodes, seeds, 1, singular, output=graph.output)
        out = graph.output.value
        t = tan.get(graph.output)
        require_finite([t], singular, nodes=graph.nodes, wrt=seeds)
        if t is None:
            return out, xp_of(out).zeros(shape_of(out), dtype=dtype_of(plain_value(out)))
        return out, reshape(_like_output(t, graph.output), shape_of(out))


def _like_output(t: Any, output: Node) -> Any:
    """A tangent of a complex output is complex: x² + 0j's is 2x + 0j, a real sweep's result
    (its constant's tangent is none) cast to the output's dtype, as the other methods give it
    (a real one let dk.grad answer a complex-valued function that it refuses elsewhere)."""
    if output.dtype.kind == "c" and np.dtype(t.dtype).kind != "c":  # (a traced one records it)
        return t.astype(output.dtype)
    return t


def _tangent_for(t: Any, node: Node) -> Any:
    """The seed of `node` from the caller's tangent `t`: checked, in the node's dtype, and a
    copy (the tangent of a pass-through output is the seed itself: J·t must never be the
    caller's array)."""
    check_tangent(t, node.name, node.shape, real=node.dtype.kind != "c")
    if isinstance(t, Traced):
        return t
    t = np.asarray(t) if not hasattr(t, "dtype") else t
    return t.astype(node.dtype)  # astype copies, also in the same dtype
