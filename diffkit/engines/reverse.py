"""Reverse mode: a forward sweep that memoizes local partials, then an adjoint sweep backward.

Forward sweep (in topological order): mark the nodes that depend on the inputs we differentiate
with respect to ("active"), and store for each active element-wise node its local partials
∂vᵢ/∂vⱼ. Adjoint sweep (in reverse order): v̄ⱼ += v̄ᵢ · ∂vᵢ/∂vⱼ, summed where paths merge, with
adjoints kept in a side table keyed by node. Both sweeps are loops: no recursion, any depth.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from .. import ops
from ..errors import DomainError, NonDifferentiableError, ShapeError
from ..evaluate import needed_for_gradient
from ..function import Function
from ..ir import Graph, Node, Tensor, paused_gc, toposort
from ..primitives import MINUS_ONE, ONE
from .base import Engine, Pullback, require_scalar, shape_of

Recorder = Callable[[Node, Node, Any, Any], None]


def active_nodes(nodes: Sequence[Node], wrt: Sequence[Node]) -> set[Node]:
    """The nodes that depend on `wrt` through differentiable primitives."""
    active = set(wrt)
    for node in nodes:
        prim = node.prim
        if prim is None or not prim.differentiable:
            continue
        for i in node.inputs:
            if i in active:
                active.add(node)
                break
    return active


def memoize_partials(nodes: Sequence[Node], values: Mapping[Node, Any], wrt: Sequence[Node],
                     active: set[Node] | None = None
                     ) -> tuple[set[Node], dict[Node, list[Any] | None]]:
    """Forward sweep: the active nodes, and each active element-wise node's local partials
    ∂vᵢ/∂vⱼ (None for an input that is not active, and for structural nodes)."""
    if active is None:
        active = active_nodes(nodes, wrt)
    memo: dict[Node, list[Any] | None] = {}
    for node in nodes:
        if node not in active or node.prim is None:
            continue
        prim = node.prim
        if prim.kind != "elementwise":
            memo[node] = None
            continue
        ins = node.inputs
        xs = [values[i] for i in ins]
        xs.append(values[node])
        try:
            memo[node] = [p(*xs) if p is not None and i in active else None
                          for p, i in zip(prim.partials, ins)]
        except (DomainError, FloatingPointError):
            raise NonDifferentiableError(
                f"{prim.name} is not differentiable at {_point(xs[:-1])}: its local derivative is "
                "not finite there (reverse engine)"
            ) from None
    return active, memo


def _uniform(g: Any) -> Any:
    """The number a zero-stride NumPy broadcast holds (None for anything else)."""
    if type(g) is np.ndarray and g.ndim and g.size and not any(g.strides):
        return g.reshape(-1)[0]
    return None


def _scaled(u: Any, p: Any, shape: tuple[int, ...]) -> Any:
    """u·p broadcast to `shape`, without a pass over memory when p is an array and u is 1.

    u is a NumPy scalar, so u·p follows NumPy's type rules (float32 stays float32); only an
    array p of that same type may be handed back as it is."""
    if p is MINUS_ONE:
        return np.broadcast_to(-u, shape)
    if u == 1 and type(p) is np.ndarray and p.dtype == np.result_type(u, p):
        c = p
    else:
        c = u * p
    return c if shape_of(c) == shape else np.broadcast_to(c, shape)


def _owned(g: Any, values: Mapping[Node, Any], node: Node) -> Any:
    """A gradient the caller may keep and change: never a view, a broadcast or a primal value."""
    if type(g) is np.ndarray and (g.base is not None or not g.flags.writeable
                                  or any(g is v for v in values.values())):
        return np.array(g)
    return g


def _point(xs: Sequence[Any]) -> str:
    from ..display import format_value

    return ", ".join(format_value(getattr(x, "value", x)) for x in xs)


def adjoint_sweep(nodes: Sequence[Node], values: Mapping[Node, Any], active: set[Node],
                  memo: Mapping[Node, Any], output: Node, ct: Any, keep: Sequence[Node],
                  record: Recorder | None = None) -> dict[Node, Any]:
    """Backward sweep from ``output`` with cotangent ``ct``; returns the adjoints of `keep`.

    v̄ⱼ += v̄ᵢ · ∂vᵢ/∂vⱼ with the memoized partials (Python operators: C speed on arrays, recorded
    on Tensors); structural nodes use their VJP rule; broadcasting is undone here, once.
    """
    adj: dict[Node, Any] = {output: ct}
    kept = set(keep)
    for node in reversed(nodes):
        if node not in active or node.prim is None:
            continue
        g = adj.get(node) if node in kept else adj.pop(node, None)
        if g is None:
            continue
        ins = node.inputs
        partials = memo[node]
        uniform = _uniform(g) if partials is not None else None
        if partials is None:
            cts = node.prim.vjp(g, [values[i] for i in ins], values[node], **node.params)
        for j, inp in enumerate(ins):
            if inp not in active:
                continue
            if partials is None:
                c = cts[j]
                if c is None:
                    continue
                if callable(c):  # a cotangent the rule computes only on demand
                    c = c()
            else:
                p = partials[j]
                if p is None:
                    continue
                if uniform is None:
                    c = g if p is ONE else -g if p is MINUS_ONE else g * p
                else:  # ȳ is one number broadcast (the adjoint of a sum): scale, don't multiply
                    c = g if p is ONE else _scaled(uniform, p, g.shape)
            if inp.shape != node.shape and shape_of(c) != inp.shape:
                c = ops.sum_to(c, inp.shape)
            if record is not None:
                record(node, inp, partials[j] if partials is not None else None, c)
            prev = adj.get(inp)
            adj[inp] = c if prev is None else prev + c
    return {n: adj[n] for n in keep if n in adj}


class ReverseEngine(Engine):
    """Reverse-mode AD: one backward sweep per output; memoized partials shared by all sweeps."""

    name = "reverse"

    def vjp(self, fn: Function, args: Sequence[Any], wrt: Sequence[int], need_value: bool = True
            ) -> tuple[Any, Pullback]:
        graph, values = fn.graph_at(*args, prune=lambda g: self._needed(g, wrt, need_value))
        wrt_nodes = [graph.inputs[i] for i in wrt]
        active, memo = memoize_partials(graph.nodes, values, wrt_nodes, self._active(graph, wrt))
        out = values[graph.output]

        def pullback(ct: Any) -> tuple[Any, ...]:
            if shape_of(ct) != graph.output.shape and not (shape_of(ct) == () and graph.output.size == 1):
                raise ShapeError(f"cotangent of shape {shape_of(ct)} for an output of shape {graph.output.shape}")
            if shape_of(ct) != graph.output.shape:
                ct = ops.reshape(ct, graph.output.shape) if type(ct) is Tensor else _full(out, ct)
            adj = adjoint_sweep(graph.nodes, values, active, memo, graph.output, ct, wrt_nodes)
            return tuple(_owned(adj[n], values, n) if n in adj else _zeros_like(values[n])
                         for n in wrt_nodes)

        return out, pullback

    def value_and_grad(self, fn: Function, args: Sequence[Any], wrt: Sequence[int],
                       need_value: bool = True) -> tuple[Any, tuple[Any, ...]]:
        out, pullback = self.vjp(fn, args, wrt, need_value)
        require_scalar(out, "grad")
        return out, pullback(1.0)

    @staticmethod
    def _active(graph: Graph, wrt: Sequence[int]) -> set[Node]:
        """The nodes that depend on the wrt inputs (cached per graph)."""
        key = ("active", tuple(wrt))
        active = graph.plans.get(key)
        if active is None:
            active = graph.plans[key] = active_nodes(graph.nodes, [graph.inputs[i] for i in wrt])
        return active

    @classmethod
    def _needed(cls, graph: Graph, wrt: Sequence[int], need_value: bool) -> set[Node]:
        """The nodes a replay of this cached graph must compute for the gradient (cached)."""
        key = ("needed", tuple(wrt), need_value)
        need = graph.plans.get(key)
        if need is None:
            need = graph.plans[key] = needed_for_gradient(graph, cls._active(graph, wrt), need_value)
        return need


def _full(like: Any, c: Any) -> Any:
    xp = _xp(like)
    return xp.full(shape_of(like), c, dtype=getattr(like, "dtype", float))


def _xp(v: Any) -> Any:
    from ..backend import array_namespace

    return array_namespace(getattr(v, "value", v))


def _zeros_like(v: Any) -> Any:
    if type(v) is Tensor:
        return ops.mul(v, 0.0)
    if not shape_of(v):
        return 0.0
    return _xp(v).zeros_like(v)


def backward_to_leaves(root: Tensor, gradient: Any = None) -> None:
    """``tensor.backward()``: accumulate d(root)/d(leaf) into ``.grad`` of leaves requiring it."""
    from ..ir import leaf_tensors

    nodes = toposort([root.node])
    leaves = {n: t for n in nodes if n.prim is None and (t := leaf_tensors.get(n.id)) is not None
              and t.requires_grad}
    if not leaves:
        raise ShapeError("backward(): nothing in this graph requires a gradient")
    if gradient is None:
        if root.size != 1:
            raise ShapeError(f"backward() needs a gradient argument for an output of shape {root.shape}")
        gradient = _full(root.value, 1.0)  # in the root's dtype and array module
    values = _Recorded()
    with paused_gc():  # acyclic graph: reference counting frees it; the cyclic GC would only rescan
        active, memo = memoize_partials(nodes, values, list(leaves))
        adj = adjoint_sweep(nodes, values, active, memo, root.node, gradient, list(leaves))
    for node, t in leaves.items():
        if node in adj:
            g = adj[node]
            t.grad = g if t.grad is None else t.grad + g


class _Recorded:
    """The values recorded on nodes, as a mapping (eager graphs need no side table)."""

    __slots__ = ()

    def __getitem__(self, node: Node) -> Any:
        return node.value


__all__ = ["ReverseEngine", "adjoint_sweep", "backward_to_leaves", "memoize_partials"]
