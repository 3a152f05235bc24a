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

from ..errors import ShapeError
from ..function import Function
from ..ir import Traced
from ..primitives import broadcast_to, reshape
from ..sweeps import adjoint_sweep, linearize_all, require_finite
from .base import Engine, Pullback, require_holomorphic, require_scalar, shape_of, xp_of


class ReverseEngine(Engine):
    """Reverse-mode AD: one adjoint sweep per cotangent; memoized partials shared by all sweeps."""

    name = "reverse"

    def vjp(self, fn: Function, args: Sequence[Any], wrt: Sequence[int]) -> tuple[Any, Pullback]:
        graph = fn.trace(*args, wrt=wrt)
        wrt_nodes = [graph.inputs[i] for i in wrt]
        _, lins = linearize_all(graph.nodes, wrt_nodes)
        out = graph.output.value
        out_shape = graph.output.shape

        def pullback(ct: Any) -> tuple[Any, ...]:
            if shape_of(ct) != out_shape:
                if shape_of(ct) != () or graph.output.size != 1:
                    raise ShapeError(f"cotangent of shape {shape_of(ct)} for an output of shape "
                                     f"{out_shape}")
                ct = reshape(ct, out_shape) if isinstance(ct, Traced) else _full(out, ct)
            adj = adjoint_sweep(graph.nodes, lins, graph.output, ct, wrt_nodes)
            require_finite([adj.get(n) for n in wrt_nodes], lins)
            return tuple(_owned(adj[n], graph.nodes) if n in adj else _zeros_like(n.value)
                         for n in wrt_nodes)

        pullback.graph = graph  # type: ignore[attr-defined]
        return out, pullback

    def value_and_grad(self, fn: Function, args: Sequence[Any], wrt: Sequence[int]
                       ) -> tuple[Any, tuple[Any, ...]]:
        out, pullback = self.vjp(fn, args, wrt)
        require_scalar(out, "grad")
        require_holomorphic(pullback.graph, "grad", self.name)  # type: ignore[attr-defined]
        return out, pullback(1.0)

    def jacobian(self, fn: Function, args: Sequence[Any], wrt: Sequence[int]) -> tuple[Any, Any]:
        out, pullback = self.vjp(fn, args, wrt)
        require_holomorphic(pullback.graph, "the Jacobian", self.name)  # type: ignore[attr-defined]
        return _rows(self, out, pullback, args, wrt)


def _rows(engine: Engine, out: Any, pullback: Pullback, args: Sequence[Any], wrt: Sequence[int]
          ) -> tuple[Any, Any]:
    """The Jacobian one row (one adjoint sweep) at a time."""
    from .base import _stack_rows, dtype_of, flatten_all, plain_value, size_of

    m = size_of(out)
    rows = []
    for i in range(m):
        ct = xp_of(out).zeros(m, dtype=dtype_of(plain_value(out)))
        ct[i] = 1.0
        rows.append(flatten_all(pullback(ct.reshape(shape_of(out)))))
    return out, _stack_rows(rows, m, sum(size_of(args[i]) for i in wrt))


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
    if isinstance(v, Traced):
        return broadcast_to(0.0 * v, shape_of(v))
    return xp_of(v).zeros(shape_of(v), dtype=getattr(v, "dtype", None) or np.result_type(v))


__all__ = ["ReverseEngine"]
