"""Reverse mode: trace, memoize each node's local partials in a forward sweep, sweep adjoints back.

The sweeps themselves live in :mod:`diffkit.sweeps` (``Tensor.backward``, traces and the compiler
use them too). This engine traces the function at the point (every call: see
:mod:`diffkit.function`), linearizes the nodes that depend on the inputs being differentiated,
and returns a pullback that runs one adjoint sweep per cotangent.

Complex numbers follow JAX's convention: the pullback of cotangent 1 is ∂Re f/∂x − i·∂Re f/∂y,
which is f′(z) for holomorphic f (see docs/design.md).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ..function import Function
from ..ir import Graph, Traced
from ..primitive import DiagonalRows
from ..primitives import broadcast_to, concatenate, reshape
from ..primitives.declare import unit_cotangent
from ..sweeps import (
    adjoint_sweep,
    linearize_all,
    record_adjoints,
    require_finite,
    scalar_adjoints,
)
from .base import (
    Engine,
    Pullback,
    check_cotangent,
    dtype_of,
    gradient_function,
    nonholomorphic,
    plain_value,
    require_holomorphic,
    require_scalar,
    shape_of,
    xp_of,
)

_ONE = np.float64(1.0)


class ReverseEngine(Engine):
    """Reverse-mode AD: one adjoint sweep per cotangent; memoized partials shared by all sweeps."""

    name = "reverse"

    def vjp(self, fn: Function, args: Sequence[Any], wrt: Sequence[int]) -> tuple[Any, Pullback]:
        return self._pullback(fn.trace(*args, wrt=wrt), wrt)

    @staticmethod
    def _pullback(graph: Any, wrt: Sequence[int]) -> tuple[Any, Pullback]:
        wrt_nodes = [graph.inputs[i] for i in wrt]
        _, lins = linearize_all(graph.nodes, wrt_nodes)
        out = graph.output.value
        out_shape = graph.output.shape

        def pullback(ct: Any) -> tuple[Any, ...]:
            check_cotangent(ct, out_shape)
            if shape_of(ct) != out_shape:  # a scalar for a one-element output
                ct = reshape(ct, out_shape) if isinstance(ct, Traced) else _full(out, ct)
            adj = adjoint_sweep(graph.nodes, lins, graph.output, ct, wrt_nodes)
            require_finite([adj.get(n) for n in wrt_nodes], lins)
            grads: list[Any] = []
            # a real input's adjoint of a real output under a real cotangent is real: the real
            # part of what complex intermediates leave (nested, a complex traced gradient made
            # an outer derivative refuse the function or carry junk imaginary parts into H·v)
            real = graph.output.dtype.kind != "c" and dtype_of(plain_value(ct)).kind != "c"
            for n in wrt_nodes:  # each the caller's own: not the cotangent, not another's
                g = _owned(adj[n], graph.nodes) if n in adj else _zeros_like(n.value)
                if n not in adj and not real and dtype_of(plain_value(g)).kind != "c":
                    # a complex cotangent's adjoint is complex, reached or not (as forward
                    # mode's tangent of a complex output): grad of a complex constant refuses
                    g = g + 0j
                if real and n.dtype.kind != "c" and dtype_of(plain_value(g)).kind == "c":
                    g = g.real
                if type(g) is np.ndarray and (g is ct or any(g is h for h in grads)):
                    g = g.copy()
                grads.append(g)
            return tuple(grads)

        pullback.graph = graph  # type: ignore[attr-defined]
        return out, pullback

    def value_and_grad(self, fn: Function, args: Sequence[Any], wrt: Sequence[int]
                       ) -> tuple[Any, tuple[Any, ...]]:
        graph = fn.trace(*args, wrt=wrt)
        out = graph.output_value
        if type(out) is float or type(out) is np.float64:  # scalar code: the fused sweep
            wrt_nodes = [graph.inputs[i] for i in wrt]
            if graph.recorded is not None:  # over the tape's records, no node made
                adj = record_adjoints(graph.recorded, graph.inputs, wrt_nodes,
                                      graph.recorded_output, _ONE)
            else:
                adj = scalar_adjoints(graph.nodes, wrt_nodes, graph.output, _ONE)
            if adj is not None:
                return out, tuple(adj[n] if n in adj else _zeros_like(n.value) for n in wrt_nodes)
        out, pullback = self._pullback(graph, wrt)
        require_scalar(out, "grad")
        require_holomorphic(pullback.graph, "grad", self.name)  # type: ignore[attr-defined]
        return out, pullback(unit_cotangent(out))

    def jacobian(self, fn: Function, args: Sequence[Any], wrt: Sequence[int]) -> tuple[Any, Any]:
        """All m rows of the Jacobian in one adjoint sweep: the cotangents are the rows of the
        identity, stacked on a leading axis that every adjoint carries."""
        graph = fn.trace(*args, wrt=wrt)
        wrt_nodes = [graph.inputs[i] for i in wrt]
        require_holomorphic(graph, "the Jacobian", self.name, wrt_nodes)
        _, lins = linearize_all(graph.nodes, wrt_nodes)
        if graph.output.dtype.kind == "c" and nonholomorphic(graph) is not None:
            if isinstance(graph.output.value, Traced):  # nested: as a holomorphic one only
                require_holomorphic(graph, "the Jacobian", self.name)
            return graph.output.value, self._real_input_jacobian(graph, lins, wrt_nodes)
        out = graph.output.value
        m = graph.output.size
        n = sum(node.size for node in wrt_nodes)
        xp = xp_of(out)
        dtype = dtype_of(plain_value(out))
        if m == 0:
            return out, xp.zeros((0, n), dtype=dtype)
        if isinstance(out, Traced):  # nested: the seeds are recorded like any value
            seeds = xp.eye(m, dtype=dtype).reshape((m, *graph.output.shape))
        else:  # the identity kept as its diagonal while element-wise ops scale it
            seeds = DiagonalRows(xp.ones(graph.output.shape, dtype=dtype))
        adj = adjoint_sweep(graph.nodes, lins, graph.output, seeds, wrt_nodes, rows=m)
        require_finite([adj.get(node) for node in wrt_nodes], lins)
        blocks = [reshape(adj[node], (m, node.size)) if node in adj
                  else xp.zeros((m, node.size), dtype=dtype_of(plain_value(node.value)))
                  for node in wrt_nodes]
        if graph.output.dtype.kind != "c":  # a real input's column of a real output is real:
            blocks = [b.real if node.dtype.kind != "c" and dtype_of(plain_value(b)).kind == "c"
                      else b for b, node in zip(blocks, wrt_nodes)]  # the adjoint's real part
        if len(blocks) == 1:
            return out, _owned(blocks[0], graph.nodes)
        if any(isinstance(b, Traced) for b in blocks):
            return out, concatenate(blocks, axis=1)
        return out, xp.concatenate(blocks, axis=1)

    @staticmethod
    def _real_input_jacobian(graph: Graph, lins: Any, wrt_nodes: Sequence[Any]) -> Any:
        """∂f/∂x of a complex output that is not holomorphic, from real inputs only: a pullback
        of cotangent c gives Re(cᵀ·J) (JAX's convention, the one dk.vjp answers in), so the
        rows eᵢ and i·eᵢ give Re Jᵢ and −Im Jᵢ: J = P(I) − i·P(i·I), two sweeps."""
        out = plain_value(graph.output.value)
        xp = xp_of(out)
        m = graph.output.size
        eye = xp.eye(m, dtype=dtype_of(out)).reshape((m, *graph.output.shape))
        parts = []
        for seed in (eye, 1j * eye):
            adj = adjoint_sweep(graph.nodes, lins, graph.output, seed, wrt_nodes, rows=m)
            require_finite([adj.get(node) for node in wrt_nodes], lins)
            parts.append(xp.concatenate(
                [xp.real(xp.reshape(xp.asarray(adj[node]), (m, node.size))) if node in adj
                 else xp.zeros((m, node.size)) for node in wrt_nodes], axis=1))
        return parts[0] - 1j * parts[1]

    def hessian(self, fn: Function, args: Sequence[Any], wrt: Sequence[int]) -> Any:
        """Forward over reverse: the Jacobian of the reverse-mode gradient, by one forward pass
        carrying n tangents through the recorded adjoint computation (as JAX's hessian)."""
        from .forward import ForwardEngine

        return ForwardEngine().jacobian(gradient_function(self, fn, wrt), args, wrt)[1]


def _full(like: Any, c: Any) -> Any:
    """The cotangent `c` as an array shaped like the output, in its dtype and array module."""
    dt = getattr(like, "dtype", None) or np.result_type(like)
    c = np.asarray(c)
    if c.dtype.kind == "c" and dt.kind != "c":
        dt = np.result_type(dt, c.dtype)
    if not shape_of(like):
        return dt.type(c) if xp_of(like) is np else xp_of(like).asarray(c, dtype=dt)
    return xp_of(like).full(shape_of(like), c, dtype=dt)


def _owned(g: Any, nodes: Sequence[Any]) -> Any:
    """A gradient the caller may keep and change: never a view, a broadcast or a primal value."""
    if type(g) is np.ndarray and (g.base is not None or not g.flags.writeable
                                  or any(g is n.value for n in nodes)):
        return np.array(g)
    return g


def _zeros_like(v: Any) -> Any:
    """The gradient of an input the output does not reach: zeros of its shape (traced, +0.0:
    0.0·v alone is −0.0 where v is negative, which jit's generated code answered)."""
    if isinstance(v, Traced):
        return broadcast_to(0.0 * v + 0.0, shape_of(v))
    return xp_of(v).zeros(shape_of(v), dtype=getattr(v, "dtype", None) or np.result_type(v))


__all__ = ["ReverseEngine"]
