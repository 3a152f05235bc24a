"""The two interpreters of differentiation over a graph: the tangent sweep and the adjoint sweep.

Both read the primal values recorded on the nodes and go through each primitive's linearization
(:meth:`~diffkit.primitive.Primitive.linearize`), so forward mode, reverse mode, evaluation traces,
the code generator and ``Tensor.backward`` share them. Both are loops (no recursion: any depth),
and both keep their results in side tables keyed by node (nodes are never changed).

* :func:`tangent_sweep` (forward mode): v̇ = Σⱼ ∂v/∂vⱼ·v̇ⱼ in topological order, with a leading
  axis of k directions on every tangent, so a Jacobian takes one pass.
* :func:`linearize_all` + :func:`adjoint_sweep` (reverse mode): the forward sweep memoizes each
  active node's linearization (the local partials); the adjoint sweep goes backward accumulating
  v̄ⱼ += v̄ᵢ·∂vᵢ/∂vⱼ, summed where paths merge. Broadcasting is undone here, once.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from .errors import DiffkitError, NonDifferentiableError
from .ir import Node, Traced
from .primitive import (
    MINUS_ONE,
    ONE,
    DiagonalRows,
    ElementwiseLinearization,
    Linearization,
    finite,
)
from .primitives import broadcast_to, reshape, sum, sum_to

Recorder = Callable[[Node, int, Any, Any], None]


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


def linearize_all(nodes: Sequence[Node], wrt: Sequence[Node], active: set[Node] | None = None
                  ) -> tuple[set[Node], dict[Node, Linearization]]:
    """Forward sweep of reverse mode: the active nodes and each one's linearization."""
    if active is None:
        active = active_nodes(nodes, wrt)
    lins: dict[Node, Linearization] = {}
    for node in nodes:
        if node.prim is None or node not in active:
            continue
        ins = node.inputs
        lins[node] = node.prim.linearize([i.value for i in ins], node.value, node.params,
                                         [i in active for i in ins])
    return active, lins


def adjoint_sweep(nodes: Sequence[Node], lins: dict[Node, Linearization], output: Node, ct: Any,
                  keep: Sequence[Node], record: Recorder | None = None, rows: int | None = None
                  ) -> dict[Node, Any]:
    """Backward sweep from `output` with cotangent `ct`; returns the adjoints of `keep`.

    With ``rows=k``, `ct` holds k cotangents stacked on a leading axis and every adjoint keeps
    that axis: k rows of a Jacobian in one sweep (the dual of forward mode's k tangents).
    `record(node, j, partial, contribution)` sees every accumulation step into the node's
    argument j (for traces)."""
    adj: dict[Node, Any] = {output: ct}
    kept = set(keep)
    for node in reversed(nodes):
        lin = lins.get(node)
        if lin is None:
            continue
        g = adj.get(node) if node in kept else adj.pop(node, None)
        if g is None:
            continue
        if rows is None:
            cts = lin.vjp(g)
        elif type(g) is DiagonalRows:  # a Jacobian's identity seeds, still diagonal
            cts = lin.vjp_diagonal(g)
            if cts is None:
                g = g.dense()
                cts = lin.vjp_rows(g, rows)
        else:
            cts = lin.vjp_rows(g, rows)
        for j, (inp, c) in enumerate(zip(node.inputs, cts)):
            if c is None:
                continue
            if type(c) is DiagonalRows:
                pass  # shaped like its input by construction
            elif rows is not None:
                if tuple(getattr(c, "shape", ())) != (rows, *inp.shape):
                    c = sum_to_rows(c, rows, inp.shape)
            elif inp.shape != node.shape and tuple(getattr(c, "shape", ())) != inp.shape:
                c = sum_to(c, inp.shape)
            if record is not None:
                record(node, j, lin.partials[j] if lin.partials is not None else None, c)
            prev = adj.get(inp)
            adj[inp] = c if prev is None else prev + c
    return {n: (adj[n].dense() if type(adj[n]) is DiagonalRows else adj[n])
            for n in keep if n in adj}


_F64 = np.float64


def scalar_adjoints(nodes: Sequence[Node], wrt: Sequence[Node], output: Node, ct: Any
                    ) -> dict[Node, Any] | None:
    """:func:`linearize_all` + :func:`adjoint_sweep` fused for graphs of real float64 scalars
    (scalar code), or None where this graph is anything else or a partial is singular.

    `nodes`: the graph's nodes in a topological order (a superset is fine: the tape's record);
    `wrt`: input nodes. It computes what the general sweeps compute — the same partials from the
    same rules (memoized by the tape, or derived here where the tape did not memoize them),
    multiplied and summed in the same order — with no linearization object per node; a node the
    output's adjoint does not reach costs nothing. Anything unusual (an array, a complex number,
    a structural primitive, a failing rule, a non-finite adjoint) returns None, and the caller
    runs the general sweeps, which give the named error or the 0·∞ = 0 answer."""
    if type(ct) is not _F64 and type(ct) is not float:
        return None
    adj: dict[Node, Any] = {output: ct}
    pop, get = adj.pop, adj.get
    try:
        for node in reversed(nodes):
            partials = node.partials
            if partials is None:  # not memoized: derive the partials here (or leave the node)
                prim = node.prim
                if prim is None or not prim.differentiable:
                    continue
                g = pop(node, None)
                if g is None:
                    continue
                partials = _derived_partials(node)
                if partials is None:
                    return None
            else:
                g = pop(node, None)
                if g is None:
                    continue
            ins = node.inputs
            if len(ins) == 1:  # unrolled for one and two inputs: the loop below, in its order
                p = partials[0]
                if p is not None:
                    c = g if p is ONE else -g if p is MINUS_ONE else g * p
                    inp = ins[0]
                    prev = get(inp)
                    adj[inp] = c if prev is None else prev + c
                continue
            if len(ins) == 2:
                p, q = partials
                if p is not None:
                    c = g if p is ONE else -g if p is MINUS_ONE else g * p
                    inp = ins[0]
                    prev = get(inp)
                    adj[inp] = c if prev is None else prev + c
                if q is not None:
                    c = g if q is ONE else -g if q is MINUS_ONE else g * q
                    inp = ins[1]
                    prev = get(inp)
                    adj[inp] = c if prev is None else prev + c
                continue
            for inp, p in zip(ins, partials):
                if p is None:
                    continue
                c = g if p is ONE else -g if p is MINUS_ONE else g * p
                prev = get(inp)
                adj[inp] = c if prev is None else prev + c
    except (ArithmeticError, ValueError, DiffkitError):
        return None
    result = {n: adj[n] for n in wrt if n in adj}
    for v in result.values():
        if (type(v) is not _F64 and type(v) is not float) or not math.isfinite(v):
            return None
    return result


def _derived_partials(node: Node) -> list[Any] | None:
    """A scalar node's local partials by its element-wise rules, or None where it is not one."""
    rules = node.prim.partials
    if rules is None or (type(node.value) is not _F64 and type(node.value) is not float):
        return None
    xs = [i.value for i in node.inputs]
    for x in xs:
        if type(x) is not _F64 and type(x) is not float:
            return None
    xs.append(node.value)
    return [None if r is None or i.prim is None and i.name is None else r(*xs)
            for r, i in zip(rules, node.inputs)]


def sum_to_rows(c: Any, k: int, shape: tuple[int, ...]) -> Any:
    """k stacked cotangents (leading axis k) summed down to k × `shape` (undoing broadcasting)."""
    cs = tuple(getattr(c, "shape", ()))
    if len(cs) < 1 + len(shape) or cs[:1] != (k,):  # a row-independent cotangent
        return broadcast_to(c, (k, *shape)) if cs == shape else broadcast_to(
            sum_to(c, shape), (k, *shape))
    lead = len(cs) - 1 - len(shape)
    axes = tuple(range(1, 1 + lead)) + tuple(1 + lead + i for i, s in enumerate(shape)
                                             if s == 1 and cs[1 + lead + i] != 1)
    if not axes:
        return c if cs == (k, *shape) else broadcast_to(c, (k, *shape))
    return reshape(sum(c, axis=axes, keepdims=True), (k, *shape))


def tangent_sweep(nodes: Sequence[Node], seeds: dict[Node, Any], k: int,
                  singular: list[Linearization] | None = None) -> dict[Node, Any]:
    """Tangents (leading axis k) of every node reached from the seeded inputs (linearizations with
    an infinite partial are added to `singular`, for the error message if one reaches a result)."""
    tan: dict[Node, Any] = dict(seeds)
    for node in nodes:
        prim = node.prim
        if prim is None or not prim.differentiable:
            continue
        ts = [tan.get(i) for i in node.inputs]
        if all(t is None for t in ts):
            continue
        lin = prim.linearize([i.value for i in node.inputs], node.value, node.params,
                             [t is not None for t in ts])
        t = None
        if any(type(t) is DiagonalRows for t in ts):  # a Jacobian's identity seeds, still diagonal
            t = lin.jvp_diagonal(ts)
            if t is None:
                ts = [t.dense() if type(t) is DiagonalRows else t for t in ts]
        if t is None:
            t = lin.jvp(ts, k)
        if singular is not None and getattr(lin, "singular", False):
            singular.append(lin)
        if t is not None:
            tan[node] = t
    return tan


def require_finite(results: Sequence[Any], lins: Any, what: str = "the derivative") -> None:
    """A derivative that is not finite at a finite point: name the primitive responsible.

    Infinite local partials (sqrt′ at 0) propagate through the sweeps with 0·∞ = 0; one that
    reaches a result means the function is not differentiable there."""
    for r in results:
        if r is None or isinstance(r, Traced) or finite(r):
            continue
        for lin in (lins.values() if isinstance(lins, dict) else lins):
            if isinstance(lin, ElementwiseLinearization) and lin.singular:
                raise NonDifferentiableError(lin.message())
        raise NonDifferentiableError(
            f"{what} is not finite at this point: the function is not differentiable there, "
            "or the derivative overflows")
