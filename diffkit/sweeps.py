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
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

import numpy as np

from .errors import DiffkitError, DomainError, NonDifferentiableError
from .ir import Node, Traced, held_value
from .primitive import (
    MINUS_ONE,
    ONE,
    DiagonalRows,
    ElementwiseLinearization,
    Linearization,
    finite,
    overflow_error,
)
from .primitives import broadcast_to, reshape, sum, sum_to
from .primitives.declare import ties_at_equal

Recorder = Callable[[Node, int, Any, Any], None]


class FlatAudit:
    """Whether each strong zero a sweep took (0·∞ = 0) was a zero that holds near the point.

    The sweeps take 0·∞ = 0 where an exact zero meets an infinite local derivative, so that
    relu(x)**0.5 at x = −1, or the branch of ``where`` not taken, has derivative 0. That is the
    limit only where the zero holds on a neighbourhood — relu′ left of 0, a mask, a constant
    factor 0: the primitive table's ``flat`` — and not where it holds at the point alone:
    sqrt(x)**2 at 0 meets sqrt′(0) = ∞ with 2·sqrt(0) = 0 and is 1, not 0; cbrt(x³) at 0 too.

    Liveness: a node's derivative is *live* where it is not known to be zero near the point (a
    mask). Seeds are live where nonzero; an element-wise op passes liveness on except through a
    flat zero of its partial; a linear structural op passes it where its map reaches (applied
    to positive weights, so that live entries never cancel); any other op makes everything
    live. The audit rides along a sweep, tracking liveness in the sweep's direction (with its
    leading axis of rows or tangents), beside `other`: the liveness of the opposite direction,
    from a pass before the sweep (:func:`liveness`). A product of a zero and an infinity
    matters where the zero is live and the product links a moving input to the output (live
    on the other side); there it is a NonDifferentiableError naming the primitive whose
    derivative is infinite. It runs only where a sweep met an infinite partial, and only for a
    derivative being answered (the nested sweeps multiply plainly)."""

    def __init__(self, other: dict[Node, np.ndarray] | None = None,
                 unsteady: dict[Node, np.ndarray] | None = None) -> None:
        self.live: dict[Node, np.ndarray] = {}
        self.other = other
        #: where a node's value may change in every neighbourhood (:func:`unsteady_masks`)
        self.unsteady: dict[Node, np.ndarray] = {} if unsteady is None else unsteady
        self.singular: ElementwiseLinearization | None = None

    def seed(self, node: Node, value: Any) -> None:
        self.live[node] = _dense(value) != 0

    # ----- reverse: the adjoint of each node flows to its inputs
    def backward(self, node: Node, lin: Linearization, g: Any, rows: int | None) -> None:
        """Pass the liveness of `node`'s adjoint `g` (None: no check) to its inputs."""
        live = self.live.pop(node, None)
        if live is None:  # no live derivative reaches this node: every zero here is flat
            return
        lead = live.ndim - len(node.shape)
        if g is not None:
            g = _dense(g)
            live = np.broadcast_to(live, g.shape)
        if isinstance(lin, ElementwiseLinearization):
            flats = _flats(lin, self._steady(node))
            for j, (inp, p) in enumerate(zip(node.inputs, lin.partials)):
                if p is not None:
                    other = None if self.other is None else self.other.get(inp)
                    self._add(inp, self._through(lin, p, flats[j], g, live, other), lead)
            return
        if node.prim.linear:
            weights = _positive_weights(live)
            cts = lin.vjp(weights) if rows is None else lin.vjp_rows(weights, rows)
            for inp, c in zip(node.inputs, cts):
                if c is not None:
                    self._add(inp, _dense(c) != 0, lead)
            return
        for inp in node.inputs:  # any other map: every input entry may carry the derivative
            self._add(inp, np.ones(live.shape[:lead] + inp.shape, bool), lead)

    # ----- forward: the tangents of a node's inputs make its tangent
    def forward(self, node: Node, lin: Linearization, ts: Sequence[Any] | None, k: int) -> None:
        """The liveness of `node`'s tangent from its inputs' (tangents `ts`; None: no check)."""
        lives = [self.live.get(i) for i in node.inputs]
        if all(v is None for v in lives):
            return
        shape = (k, *node.shape)
        if isinstance(lin, ElementwiseLinearization):
            flats = _flats(lin, self._steady(node))
            other = None if self.other is None else self.other.get(node)
            out = np.zeros(shape, bool)
            for j, (inp, p, live) in enumerate(zip(node.inputs, lin.partials, lives)):
                t = None if ts is None else ts[j]
                if p is None or live is None or (ts is not None and t is None):
                    continue
                if t is not None:
                    t = np.broadcast_to(_lined_up(_dense(t), k, inp.shape, len(node.shape)), shape)
                live = np.broadcast_to(_lined_up(live, k, inp.shape, len(node.shape)), shape)
                out |= self._through(lin, p, flats[j], t, live, other)
            self.live[node] = out
        elif node.prim.linear:
            weights = [None if v is None else _positive_weights(v) for v in lives]
            self.live[node] = np.broadcast_to(_dense(lin.jvp(weights, k)) != 0, shape)
        else:
            self.live[node] = np.ones(shape, bool)

    def _steady(self, node: Node) -> list[Any]:
        """Per input of `node`: True, or a mask false where its value is unsteady."""
        return [True if (u := self.unsteady.get(i)) is None else ~u for i in node.inputs]

    def _through(self, lin: ElementwiseLinearization, p: Any, flat: Any, d: np.ndarray | None,
                 live: np.ndarray, other: np.ndarray | None) -> np.ndarray:
        """Where the products d·p of one partial with the derivative it multiplies are live
        (`live`: where d is); with `d`, check them first (`other`: where they matter)."""
        if p is ONE or p is MINUS_ONE:
            return live
        p = np.broadcast_to(_dense(p), live.shape)
        flat_zero = np.broadcast_to(_dense(flat), live.shape) & (p == 0)
        if lin.singular:
            self.singular = lin
        if d is not None and other is not None:
            with np.errstate(invalid="ignore"):
                # an infinite partial times a zero that may not hold near the point, or an
                # infinite derivative (from a singular op before) times a zero partial that is
                # not flat — where the product links a moving input to the output
                bad = ((~np.isfinite(p) & (d == 0) & live) |
                       (~np.isfinite(d) & (p == 0) & ~flat_zero)) & other
            if bool(bad.any()):
                culprit = lin if lin.singular else self.singular
                where = culprit.message() if culprit is not None else (
                    "the derivative is not finite at this point")
                raise NonDifferentiableError(
                    f"{where}, and the zero it meets at {lin.prim.name} is not known to hold "
                    "near the point (it may hold at this point only, or come from a comparison "
                    "at its threshold, x > 0 at x = 0, which flips there; a zero that cancels, "
                    "as d(x/x) or d(x − x), is not read as flat), so 0·∞ is not taken as 0 (sqrt(x)**2 at 0 has derivative 1, "
                    "not 0; sqrt(where(x > 0, x, 0)) at 0 has none): write the function "
                    "without the infinite derivative")
        return live & ~flat_zero

    def _add(self, node: Node, live: np.ndarray, lead: int) -> None:
        live = _or_to(live, live.shape[:lead] + node.shape)
        prev = self.live.get(node)
        self.live[node] = live if prev is None else prev | live


def liveness(nodes: Sequence[Node], lins: dict[Node, Linearization], start: Sequence[Node],
             forward: bool, unsteady: dict[Node, np.ndarray] | None = None
             ) -> dict[Node, np.ndarray]:
    """Where each node's derivative is live (see :class:`FlatAudit`), from `start` — the moving
    inputs (`forward`) or the output — without a leading axis: the other side of an audit
    (`unsteady`: its :func:`unsteady_masks`)."""
    audit = FlatAudit(unsteady=unsteady)
    if forward:  # tangents carry a leading axis (here of one direction: any input moving)
        for n in start:
            audit.live[n] = np.ones((1, *n.shape), bool)
        for node in nodes:
            lin = lins.get(node)
            if lin is not None:
                audit.forward(node, lin, None, 1)
        return {n: m[0] for n, m in audit.live.items()}
    for n in start:
        audit.live[n] = np.ones(n.shape, bool)
    seen: dict[Node, np.ndarray] = {}
    for node in reversed(nodes):
        lin = lins.get(node)
        if node in audit.live:  # every consumer has passed its liveness on: final
            seen[node] = audit.live[node]
        if lin is not None:
            audit.backward(node, lin, None, None)
    seen.update(audit.live)  # the inputs (never popped)
    return seen


def unsteady_masks(nodes: Sequence[Node], wrt: Sequence[Node]) -> dict[Node, np.ndarray]:
    """Where each node's value may jump in every neighbourhood of the point (no derivative
    sees it): a comparison at a tie or a step at its jump (the table's ``ties``: x > 0 at
    x = 0, sign or heaviside at 0, floor at an integer) with an input that moves with `wrt`;
    passed on element-wise (a comparison of it, a cast, logical_and, a mask times a number,
    where's condition), everywhere by any other op. A zero that such a value makes is not flat
    there (x·(x > 0) and x·(sign(x) > 0.5) at 0 are relu x). A comparison of a step's own jump
    that no side of it flips is steady (:func:`_passed_on`). Nodes with none are left out."""
    moving = active_nodes(nodes, wrt)
    out: dict[Node, np.ndarray] = {}
    sides: dict[Node, tuple[np.ndarray, Any, Any]] = {}  # a step's own jumps, its two sides
    for node in nodes:
        prim = node.prim
        if prim is None:
            continue
        tie, side = np.zeros(node.shape, bool), None
        active = [i in moving for i in node.inputs]
        if prim.ties is not None and any(active):
            with np.errstate(all="ignore"):
                tie = prim.ties(active, *(_dense(i.value) for i in node.inputs), node.value)
            if isinstance(tie, tuple):
                tie, *side = tie
            tie = np.broadcast_to(_dense(tie), node.shape)
        mask = _passed_on(node, out, sides, moving)
        if side is not None and tie.any():
            sides[node] = (tie & ~mask, *side)
        mask = mask | tie
        if mask.any():
            out[node] = mask
    return out


def _passed_on(node: Node, out: dict[Node, np.ndarray],
               sides: dict[Node, tuple[np.ndarray, Any, Any]], moving: set[Node]) -> np.ndarray:
    """Where `node` is unsteady because an input is (`out`): element-wise, or everywhere; a
    comparison of a step's own jump (`sides`) less where :func:`_steady_comparison` holds."""
    mask = np.zeros(node.shape, bool)
    ins = node.inputs
    for k, i in enumerate(ins):
        u = out.get(i)
        if u is None:
            continue
        if node.prim.kind != "elementwise":
            return np.ones(node.shape, bool)
        u = np.broadcast_to(u, node.shape)
        if node.prim.ties is ties_at_equal and i in sides and out.get(ins[1 - k]) is None:
            u = u & ~_steady_comparison(node, k, sides[i], ins[1 - k] in moving)
        mask |= u
    return mask


def _steady_comparison(node: Node, k: int, side: tuple[np.ndarray, Any, Any],
                       other_moves: bool) -> np.ndarray:
    """Where a comparison of a step's output (input `k`, at its own jump: `side`'s mask, with
    its left and right values from the table's ``ties``) and a steady operand gives one answer
    at the step's value and at both sides (floor(x) > 5 at x = 0: floor is −1 or 0 there). An
    operand that moves must also differ from both sides, so that it cannot cross one."""
    known, left, right = side
    step, b = node.inputs[k], _dense(node.inputs[1 - k].value)

    def compared(v: Any) -> np.ndarray:
        a = np.broadcast_to(_dense(v), step.shape)
        return np.broadcast_to(node.prim.impl(np, *((a, b) if k == 0 else (b, a))), node.shape)

    with np.errstate(all="ignore"):
        here = compared(step.value)
        steady = (compared(left) == here) & (compared(right) == here)
        if other_moves:
            ends = [np.broadcast_to(_dense(v), step.shape) for v in (left, right)]
            steady = steady & np.broadcast_to((ends[0] != b) & (ends[1] != b), node.shape)
    return steady & np.broadcast_to(known, node.shape)


def unflat_zeros(nodes: Sequence[Node], wrt: Sequence[Node]) -> bool:
    """Whether a 0·∞ taken as 0 somewhere in a derivative of any order may have met a zero that
    does not hold near the point: an element-wise op with a moving input whose partial is 0
    where the table's ``flat`` is false (relu′ at 0, y in x·y with y moving, a mask at its
    threshold: :func:`unsteady_masks`), or that sits at a declared kink — the places where the
    reverse audit (:class:`FlatAudit`) may refuse. A linearization that fails counts too."""
    unsteady = unsteady_masks(nodes, wrt)
    if unsteady:
        return True
    try:
        _, lins = linearize_all(nodes, wrt)
    except DiffkitError:
        return True
    with np.errstate(all="ignore"):
        for node, lin in lins.items():
            if type(lin) is not ElementwiseLinearization:
                continue
            flats = _flats(lin, [True] * len(node.inputs))
            for p, flat in zip(lin.partials, flats):
                if p is not None and p is not ONE and p is not MINUS_ONE and bool(
                        np.any((_dense(p) == 0) & ~np.asarray(flat, bool))):
                    return True
            if node.prim.kinks is not None and not bool(
                    np.all(node.prim.kinks(*lin.xs, lin.out))):
                return True
    return False


def _flats(lin: ElementwiseLinearization, steady: Sequence[Any]) -> list[Any]:
    """Per partial: where its zeros hold near the point (the table's ``flat``, given where its
    inputs are `steady`, minus its kinks)."""
    prim = lin.prim
    if prim.flat is None:
        return [False] * len(lin.partials)
    with np.errstate(all="ignore"):
        active = [p is not None for p in lin.partials]
        flats = [np.asarray(f) for f in prim.flat(active, steady, *lin.xs, lin.out)]
        if prim.kinks is not None:
            smooth = np.asarray(prim.kinks(*lin.xs, lin.out))
            flats = [f & smooth for f in flats]
    return flats


def _dense(v: Any) -> np.ndarray:
    """`v`'s numbers as an array: a traced value's (nested: an outer derivative traces this
    sweep, and the audit reads only where values are zero or infinite)."""
    while isinstance(v, Traced):
        v = held_value(v)
    return np.asarray(v.dense() if type(v) is DiagonalRows else v)


def _lined_up(t: np.ndarray, k: int, shape: tuple[int, ...], nd: int) -> np.ndarray:
    """A tangent (k, *shape) with its axes lined up with an output of `nd` dimensions."""
    return t.reshape((k,) + (1,) * (nd - len(shape)) + shape) if len(shape) < nd else t


def _or_to(mask: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """`mask` reduced (any) over the axes that broadcasting added to reach it from `shape`."""
    mask = np.asarray(mask, bool)
    if mask.shape == shape:
        return mask
    if mask.ndim < len(shape):
        return np.broadcast_to(mask, shape)
    extra = mask.ndim - len(shape)
    m = mask.any(axis=tuple(range(extra))) if extra else mask
    axes = tuple(i for i, s in enumerate(shape) if s == 1 and m.shape[i] != 1)
    return np.broadcast_to(m.any(axis=axes, keepdims=True) if axes else m, shape)


def _positive_weights(live: np.ndarray) -> np.ndarray:
    """`live` as numbers in [1, 2) where true: through a linear map with signed coefficients
    (a difference) two live entries do not cancel (a fixed seed: the audit is repeatable)."""
    rng = np.random.default_rng(20261203)
    return np.where(live, 1.0 + rng.random(live.shape), 0.0)


def flat_audit(lins: Any, values: Any) -> FlatAudit | None:
    """An audit for a sweep over `lins` (a dict or a list) of a derivative being answered where
    some local partial is infinite; None otherwise (nothing to audit: no strong zero)."""
    if any(isinstance(v, Traced) for v in values):
        return None
    items = lins.values() if isinstance(lins, dict) else lins
    if not any(type(lin) is ElementwiseLinearization and lin.singular for lin in items):
        return None
    if any(isinstance(p, Traced) for lin in items if isinstance(lin, ElementwiseLinearization)
           for p in lin.partials):
        return None  # a derivative that will be differentiated again: plain products
    return FlatAudit()


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


def backward(nodes: Sequence[Node], lins: dict[Node, Any], adj: dict[Node, Any],
             kept: set[Node]) -> Iterator[tuple[Node, Any, Any]]:
    """The nodes that have a linearization and an adjoint, last first, with both: each adjoint
    taken out of `adj` as its node is reached (it is complete by then), those in `kept` left."""
    for node in reversed(nodes):
        lin = lins.get(node)
        if lin is None:
            continue
        g = adj.get(node) if node in kept else adj.pop(node, None)
        if g is not None:
            yield node, lin, g


def adjoint_sweep(nodes: Sequence[Node], lins: dict[Node, Linearization], output: Node, ct: Any,
                  keep: Sequence[Node], record: Recorder | None = None, rows: int | None = None
                  ) -> dict[Node, Any]:
    """Backward sweep from `output` with cotangent `ct`; returns the adjoints of `keep`.

    With ``rows=k``, `ct` holds k cotangents stacked on a leading axis and every adjoint keeps
    that axis: k rows of a Jacobian in one sweep (the dual of forward mode's k tangents).
    `record(node, j, partial, contribution)` sees every accumulation step into the node's
    argument j (for traces). Where a local partial is infinite, a :class:`FlatAudit` checks
    every strong zero the sweep takes."""
    adj: dict[Node, Any] = {output: ct}
    kept = set(keep)
    audit = flat_audit(lins, (ct,))
    if audit is not None:  # the other side: where the inputs asked about move
        audit.unsteady = unsteady_masks(nodes, keep)
        audit.other = liveness(nodes, lins, keep, forward=True, unsteady=audit.unsteady)
        audit.seed(output, ct)
    for node, lin, g in backward(nodes, lins, adj, kept):
        if audit is not None:
            audit.backward(node, lin, g, rows)
        try:
            if rows is None:
                cts = lin.vjp(g)
            elif type(g) is DiagonalRows:  # a Jacobian's identity seeds, still diagonal
                cts = lin.vjp_diagonal(g)
                if cts is None:
                    g = g.dense()
                    cts = lin.vjp_rows(g, rows)
            else:
                cts = lin.vjp_rows(g, rows)
        except DomainError:
            infinite = _infinite_partial(lins.values())
            named = (_nested_zero_times_infinity(infinite, g)
                     or _infinite_cotangent(audit.singular if audit else None, node, g))
            if named is None:
                raise
            raise named from None
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
            if prev is None:
                adj[inp] = c
                continue
            try:
                adj[inp] = prev + c
            except FloatingPointError:  # ∞ − ∞ where two paths meet
                named = _infinite_meeting(_infinite_partial(lins.values()), inp, prev, c)
                if named is None:
                    raise
                raise named from None
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
                partials = _derived_partials(node.prim, node.inputs, node.value)
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


def record_adjoints(records: Sequence[Any], inputs: Sequence[Node], wrt: Sequence[Node],
                    output: Any, ct: Any) -> dict[Node, Any] | None:
    """:func:`scalar_adjoints` over a tracing tape's scalar records
    (:meth:`~diffkit.tensor.Tape.scalar_record`: Tensors that hold ``_prim``, ``_inputs`` and
    ``_partials`` as a node holds ``prim``, ``inputs`` and ``partials``; an operand is a record
    or a node, the trace's `inputs` or a constant), from `output`: the same partials,
    multiplied and summed in the same order, or None where :func:`scalar_adjoints` gives None
    (and where a record has been made into a node meanwhile).

    Adjoints accumulate in the records' and the input nodes' ``_adjoint`` slots (a Tensor of a
    trace is unhashable by design, so no dict could key it; records and inputs belong to this
    trace alone), each cleared as the sweep passes it or on the way out: every record and
    input leaves with ``_adjoint`` None. A constant gets no partial, so no adjoint."""
    if type(ct) is not _F64 and type(ct) is not float:
        return None
    output._adjoint = ct
    try:
        for r in reversed(records):
            g = r._adjoint
            if g is None:
                continue
            r._adjoint = None
            ins = r._inputs
            if ins is None:  # made into a node (its operands let go): the general sweeps
                return _cleared(records, inputs)
            partials = r._partials
            if partials is None:  # not memoized: derive the partials here (or leave the record)
                if not r._prim.differentiable:
                    continue
                partials = _derived_partials(r._prim, ins, r._value)
                if partials is None:
                    return _cleared(records, inputs)
            p = partials[0]  # the first two inputs unrolled (records have one or two, mostly)
            if p is not None:
                c = g if p is ONE else -g if p is MINUS_ONE else g * p
                prev = (inp := ins[0])._adjoint
                inp._adjoint = c if prev is None else prev + c
            n = len(ins)
            if n == 1:
                continue
            p = partials[1]
            if p is not None:
                c = g if p is ONE else -g if p is MINUS_ONE else g * p
                prev = (inp := ins[1])._adjoint
                inp._adjoint = c if prev is None else prev + c
            if n > 2:  # the rest, in input order
                for inp, p in zip(ins[2:], partials[2:]):
                    if p is not None:
                        c = g if p is ONE else -g if p is MINUS_ONE else g * p
                        prev = inp._adjoint
                        inp._adjoint = c if prev is None else prev + c
    except (ArithmeticError, ValueError, DiffkitError):
        return _cleared(records, inputs)
    result = {n: n._adjoint for n in wrt if n._adjoint is not None}
    _cleared((), inputs)
    for v in result.values():
        if (type(v) is not _F64 and type(v) is not float) or not math.isfinite(v):
            return None
    return result


def _cleared(records: Sequence[Any], inputs: Sequence[Node]) -> None:
    """Clear the adjoints a :func:`record_adjoints` left in records and input nodes."""
    for r in records:
        r._adjoint = None
    for n in inputs:
        n._adjoint = None


def _scalar_held(x: Any) -> Any:
    """The value of a node or of a scalar record."""
    return x.value if x.__class__ is Node else held_value(x)


def _derived_partials(prim: Any, inputs: Sequence[Any], value: Any) -> list[Any] | None:
    """The local partials of a scalar application of `prim` to `inputs` (nodes or scalar
    records) valued `value`, by its element-wise rules, or None where it is not one. A constant
    operand gets none."""
    rules = prim.partials
    if rules is None or (type(value) is not _F64 and type(value) is not float):
        return None
    xs = [_scalar_held(i) for i in inputs]
    for x, i in zip(xs, inputs):
        if type(x) is not _F64 and type(x) is not float and not (
                type(x) is int and i.__class__ is Node and i.prim is None and i.name is None):
            return None  # (a constant may be a Python int: NumPy reads it as its float)
    xs.append(value)
    return [None if r is None or i.__class__ is Node and i.prim is None and i.name is None
            else r(*xs) for r, i in zip(rules, inputs)]


def _infinite_partial(lins: Any) -> Linearization | None:
    """A linearization with an infinite local partial among `lins`, if any (for messages)."""
    return next((lin for lin in lins if getattr(lin, "singular", False)), None)


def _nested_zero_times_infinity(infinite: Linearization | None, values: Any
                                ) -> NonDifferentiableError | None:
    """The error for a product that is not finite inside a sweep where an infinite local
    partial was met and the sweep's values are traced for an outer derivative (a Hessian,
    ``derivative(f, n)``, a ``dk.grad`` inside another): the 0·∞ of a derivative that is
    differentiated again, whose products stay plain (see :class:`FlatAudit`) — not the point
    outside the domain that the primitive's own error says. None elsewhere (that error stands)."""
    traced = any(isinstance(v, Traced) for v in (values if isinstance(values, list | tuple)
                                                 else (values,)))
    if infinite is None or not traced:
        return None
    return NonDifferentiableError(
        f"{infinite.message()}, inside a derivative that is differentiated again (a Hessian, "
        "derivative(f, n), a dk.grad inside another): there an infinite local derivative times "
        "a zero is not taken as 0 (nested derivatives multiply plainly), so this higher "
        "derivative is not defined by the rules; write the function without the infinite "
        "derivative (relu(x)**0.5 as where(x > 0, sqrt(x), 0))")


def _infinite_cotangent(infinite: Linearization | None, node: Node, g: Any
                        ) -> NonDifferentiableError | None:
    """The error for a cotangent made infinite by a local partial the sweep met (sqrt′ at 0)
    that a later step cannot combine (∞ − ∞ where sort's tied entries share their cotangents):
    the infinite partial, named as forward mode names it — not the point outside the domain
    that the step's own error says (the point is inside f's). None where `g` is finite."""
    if infinite is None or isinstance(g, Traced):
        return None
    with np.errstate(all="ignore"):
        if bool(np.all(np.isfinite(_dense(g)))):
            return None
    return NonDifferentiableError(
        f"{infinite.message()}, and the infinite derivative it passes back cannot be carried "
        f"through {node.prim.name} (∞ − ∞ or 0·∞ there, e.g. tied entries of a sort or max "
        "sharing it): the derivative of f is not defined by the rules at this point; write "
        "the function without the infinite derivative (sqrt(x) at x = 0)")


def _infinite_meeting(infinite: Linearization | None, node: Node, a: Any, b: Any
                      ) -> NonDifferentiableError | None:
    """The error for two contributions to `node`'s adjoint that cannot be summed (∞ − ∞) after
    an infinite local partial (arcsin′ at 1 in arcsin(x/x): x/x passes the infinity back along
    two paths, as +∞ and −∞): that partial, named as forward mode names it — whose tangent
    meets the infinity as 0·∞ — not NumPy's "invalid value". (That x/x is 1 near the point is
    no fact the table's rules can see: a zero that is flat for such a reason is refused, as
    x·sqrt(x) at 0 is.) None where neither contribution is infinite."""
    if infinite is None or isinstance(a, Traced) or isinstance(b, Traced):
        return None
    with np.errstate(all="ignore"):
        if all(bool(np.all(np.isfinite(_dense(v)))) for v in (a, b)):
            return None
    what = node.name if node.is_input else node.prim.name
    return NonDifferentiableError(
        f"{infinite.message()}, and the infinite derivatives it passes back along two paths "
        f"meet at {what} as ∞ − ∞: the derivative of f is not defined by the rules at this "
        "point (where the paths' sum is constant near the point, as x/x or x − x, the rules "
        "cannot see it); write the function without the infinite derivative (sqrt(x) at x = 0, "
        "arcsin(x) at x = 1)")


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
                  singular: list[Linearization] | None = None, audit: FlatAudit | None = None,
                  output: Node | None = None) -> dict[Node, Any]:
    """Tangents (leading axis k) of every node reached from the seeded inputs (linearizations with
    an infinite partial are added to `singular`, for the error message if one reaches a result).
    At the first infinite partial of a derivative being answered, the sweep starts again with a
    :class:`FlatAudit` that checks every strong zero it takes on the way to `output` (default:
    the last node)."""
    tan: dict[Node, Any] = dict(seeds)
    infinite: Linearization | None = None  # the last infinite partial met (for messages)
    for node in nodes:
        prim = node.prim
        if prim is None or not prim.differentiable:
            continue
        ts = [tan.get(i) for i in node.inputs]
        if all(t is None for t in ts):
            continue
        lin = prim.linearize([i.value for i in node.inputs], node.value, node.params,
                             [t is not None for t in ts])
        if getattr(lin, "singular", False):
            infinite = lin
        if audit is None and infinite is lin and not any(isinstance(n.value, Traced)
                                                         for n in nodes):
            # (nested — values traced for an outer derivative — products stay plain)
            audit = flat_audit([lin], seeds.values())
            if audit is not None:  # from the start, with the audit riding along
                if singular is not None:
                    singular.clear()
                _, lins = linearize_all(nodes, list(seeds))
                end = nodes[-1] if output is None else output
                audit.unsteady = unsteady_masks(nodes, list(seeds))
                audit.other = liveness(nodes, lins, [end], forward=False,  # toward the output
                                       unsteady=audit.unsteady)
                for n, t in seeds.items():
                    audit.seed(n, t)
                return tangent_sweep(nodes, seeds, k, singular, audit, output)
        if audit is not None:
            audit.forward(node, lin, ts, k)
        t = None
        if any(type(t) is DiagonalRows for t in ts):  # a Jacobian's identity seeds, still diagonal
            t = lin.jvp_diagonal(ts)
            if t is None:
                ts = [t.dense() if type(t) is DiagonalRows else t for t in ts]
        if t is None:
            try:
                t = lin.jvp(ts, k)
            except DomainError:
                nested = _nested_zero_times_infinity(infinite, ts)
                if nested is None:
                    raise
                raise nested from None
        if singular is not None and getattr(lin, "singular", False):
            singular.append(lin)
        if t is not None:
            tan[node] = t
    return tan


def require_finite(results: Sequence[Any], lins: Any, what: str = "the derivative",
                   nodes: Sequence[Node] | None = None, wrt: Iterable[Node] = ()) -> None:
    """A derivative that is not finite at a finite point: name the primitive responsible.

    Infinite local partials (sqrt′ at 0) propagate through the sweeps with 0·∞ = 0; one that
    reaches a result means the function is not differentiable there (NonDifferentiableError).
    A local partial that is finite in exact arithmetic but too large for its floating-point
    type — one that scalar code's Python floats overflowed to ±inf without an error (div's
    −o/b at 1/x² for x = 1e-110: −1e440) — is a NumericOverflowError, as where NumPy raised it
    (:func:`~diffkit.primitive.overflow_error`). `lins` are the sweep's linearizations; a
    tangent sweep that keeps only its singular ones passes its `nodes` and the seeded `wrt`,
    linearized again here, on this error path only."""
    for r in results:
        if r is None or isinstance(r, Traced) or finite(r):
            continue
        for lin in (lins.values() if isinstance(lins, dict) else lins):
            if isinstance(lin, ElementwiseLinearization) and lin.singular:
                raise NonDifferentiableError(lin.message())
        if nodes is not None:
            lins = linearize_all(nodes, list(wrt))[1]
        for lin in (lins.values() if isinstance(lins, dict) else lins):
            if type(lin) is ElementwiseLinearization and not lin._finite():
                over = overflow_error(lin.prim, lin.xs, lin.out, {},
                                      [p is not None for p in lin.partials])
                if over is not None:
                    raise over
        raise NonDifferentiableError(
            f"{what} is not finite at this point: the function is not differentiable there, "
            "or the derivative overflows")
