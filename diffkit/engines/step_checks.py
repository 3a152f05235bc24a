"""What a difference quotient may trust, read from a trace of the function at the stepped point.

The complex step Im f(x + ih)/h needs a complex-analytic function of real inputs, and NumPy is not
one on complex numbers where it conjugates, takes a modulus or drops an imaginary part (norm, var,
vdot, eigh, ``astype(float)``; on real inputs these look analytic). :func:`cauchy_riemann` measures
a structural record at its complex inputs; :func:`infinite_partial` finds a point where the
derivative is infinite (sqrt at 0, arcsin at 1), which no difference quotient can give;
:func:`moved_constant` finds an operation declared constant (stop_gradient) that a perturbation
still moves, so that a difference quotient counts a derivative the convention drops.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from ..errors import DiffkitError, MissingRuleError, NonDifferentiableError, NumericOverflowError
from ..ir import Graph, Node
from ..primitive import NoRule, Primitive, overflow_error
from ..primitives.structure import sum_to
from ..sweeps import (
    active_nodes,
    adjoint_sweep,
    backward,
    linearize_all,
    require_finite,
    tangent_sweep,
)


def carrying(graph: Graph) -> set[Node]:
    """The nodes on a path that carries derivatives to the output (through differentiable ops)."""
    carries = {graph.output}
    for node in reversed(graph.nodes):
        if node in carries and node.prim is not None and node.prim.differentiable:
            carries.update(node.inputs)
    return carries


def infinite_partial(graph: Graph, moved: Callable[[Node], bool], real: bool = False
                      ) -> Node | None:
    """The first element-wise node on the derivative's path whose local partial, with respect to
    an input the perturbation `moved`, is not finite at the traced values — with `real`, at the
    real parts of its inputs (a complex step's trace) — (sqrt′ at 0, arcsin′ at 1): where the
    derivative is infinite, not a number a difference quotient gives.

    A partial that is not infinite but too large for its floating-point type (1/x at 1e-160:
    −1e320) is the AD engines' NumericOverflowError, decided by their rule (the table's
    linearization under NumPy's strict error state, :func:`_overflow`), never "infinite"."""
    carries = carrying(graph)
    for node in graph.nodes:
        prim = node.prim
        if prim is None or prim.partials is None or node not in carries:
            continue
        rules = [r if r is not None and not isinstance(r, NoRule) and moved(i) else None
                 for r, i in zip(prim.partials, node.inputs)]
        if not any(rules):
            continue
        with np.errstate(all="ignore"):
            try:
                args = [np.asarray(np.real(v.value) if real else v.value) for v in node.inputs]
                out = prim.evaluate(np, args, node.params) if real else node.value
                partials = [r(*args, np.asarray(out)) for r in rules if r is not None]
            except (DiffkitError, ArithmeticError, ValueError, TypeError):
                continue  # a rule that cannot say: the numbers stand
        if not all(np.all(np.isfinite(np.asarray(p))) for p in partials):
            _overflow(node, args, out, [r is not None for r in rules])
            return node
    return None


def _overflow(node: Node, args: Sequence[Any], out: Any, active: Sequence[bool]) -> None:
    """NumericOverflowError where the AD engines raise one at this node's local partials (a
    derivative that overflows at a finite value of the function): the same linearization of
    the table, under the same error state, with the same message (:func:`overflow_error`)."""
    exc = overflow_error(node.prim, args, out, node.params, active)
    if exc is not None:
        raise exc


def cauchy_riemann(node: Node) -> bool:
    """Whether a structural record acts on its complex inputs a + ib (b: the tiny imaginary step)
    as a complex-analytic map, Im f(a + ib) ≈ J·b, with J·b from a real central difference along
    b. The table's ``holomorphic`` flag speaks for element-wise records; a structural one may
    conjugate (vdot's first argument) or assume a Hermitian matrix (cholesky, eigh, svd, qr,
    pinv), which only shows at complex inputs, so it is measured."""
    imag = [np.imag(i.value) if i.dtype.kind == "c" else None for i in node.inputs]
    size = max((float(np.max(np.abs(b), initial=0.0)) for b in imag if b is not None),
               default=0.0)
    if size == 0.0:
        return True  # the step does not reach this node: it computes with real values
    # the real neighbourhood is measured in float64 whatever the inputs' precision: a float32
    # difference at this step would carry ~10 % rounding error and refuse analytic maps
    real = [_wide(np.real(i.value)) if b is not None else i.value
            for i, b in zip(node.inputs, imag)]
    scale = max((float(np.max(np.abs(a), initial=0.0)) for a, b in zip(real, imag)
                 if b is not None), default=0.0)
    step = 1e-6 * max(1.0, scale)

    def at(sign: float) -> np.ndarray:
        args = [a if b is None else a + sign * step * (b / size) for a, b in zip(real, imag)]
        return np.asarray(node.prim.evaluate(np, args, node.params))

    try:
        with np.errstate(all="ignore"):
            slope = (at(1.0) - at(-1.0)) / (2 * step)
    except (DiffkitError, ArithmeticError, ValueError, TypeError, np.linalg.LinAlgError):
        return False  # no real neighbourhood to compare with: not shown analytic
    got = np.imag(node.value) / size
    eps = float(np.finfo(node.dtype).eps) if node.dtype.kind in "fc" else 0.0
    tol = max(1e-5, 100 * eps) * max(1.0, float(np.max(np.abs(slope), initial=0.0)))
    return bool(np.all(np.isfinite(slope)) and np.max(np.abs(got - slope), initial=0.0) <= tol)


def moved_constant(graph: Graph, wrt: Sequence[Node]) -> Node | None:
    """The first node the table declares constant (a primitive with no derivative: stop_gradient,
    sign, comparisons) whose output a perturbation of `wrt` moves and whose move reaches the
    output's derivative: there a difference quotient of the plain function — where
    stop_gradient(x) is x — counts a derivative that every other method drops. (A structural
    record with no derivative — a decomposition's pack, eigh_packed — feeds records whose own
    rules account for it: the plain function and the rules agree there.)

    Measured, as :func:`cauchy_riemann` measures: one direction's tangents (a fixed pseudo-random
    one) are swept to each such node, the node is moved by a real central difference along its
    inputs' tangents (sign and comparisons stay put away from their jumps, stop_gradient moves
    as its input), and that move is swept to the output. A composite that stops a derivative
    its value does not depend on (logsumexp's max) moves the output by rounding only: the move
    reaches the output along paths that cancel (−max and +max), each path's factor is a local
    partial read from values rounded in the trace's dtype, and what is left of the sum is a few
    roundings of the terms, Σ|out| ≲ c·ε·|J|·|move| with |J| the sweep's partials in absolute
    value (:func:`_absolute_adjoints`) and ε the coarsest rounding of the nodes the move passes
    (float16's 2⁻¹⁰, float32's 2⁻²³, float64's 2⁻⁵², long double's). The move counts where
    Σ|out| exceeds :data:`MOVE_ROUNDING`·ε·|J|·|move|: a dependence that does not cancel keeps
    Σ|out| = |J|·|move| (refused in every dtype, however small its partials: a difference
    quotient would count it at its full size), a cancelled one stays below it in every dtype
    (a fixed 1e-8 of |move| refused float32's logsumexp, whose cancellation leaves ~0.5 ε).
    A sweep that cannot say (a missing rule, a value that is not finite) leaves the numbers as
    they are."""
    active = active_nodes(graph.nodes, wrt)
    frozen = [n for n in graph.nodes if n.prim is not None and not n.prim.differentiable
              and n.prim.kind == "elementwise" and any(i in active for i in n.inputs)]
    if not frozen:
        return None
    rng = np.random.default_rng(0)
    seeds = {w: rng.standard_normal((1, *w.shape)) for w in wrt}
    with np.errstate(all="ignore"):
        try:
            tan = tangent_sweep(graph.nodes, seeds, 1)
            for node in frozen:
                move = _moved(node, tan)
                if move is None:
                    continue
                out = tangent_sweep(graph.nodes, {node: move}, 1).get(graph.output)
                if out is None:
                    continue
                reach = float(np.sum(np.abs(out)))
                # relative to the sizes on the move's own paths, not to the derivative's size
                # (a large partial of another input would hide it)
                if reach > 0.0 and reach > MOVE_ROUNDING * _coarsest_eps(graph, node) * \
                        _absolute_reach(graph, node, move):
                    return node
        except (DiffkitError, ArithmeticError, ValueError, TypeError, np.linalg.LinAlgError):
            return None
    return None


MOVE_ROUNDING = 64.0
"""How many roundings (ε of the trace's coarsest dtype) of |J|·|move| a cancelled dependence may
leave at the output: logsumexp, softmax and log_softmax over up to 10⁴ entries leave ≲ 3 (their
sums round to ~log₂(n)·ε), and a chain of a few dozen such operations stays below 64. A genuine
dependence leaves 1/ε ≥ 10¹⁵ (float64) or 10³ (float16) of them."""


def _coarsest_eps(graph: Graph, start: Node) -> float:
    """ε of the coarsest floating dtype among the nodes a move of `start` passes (the values its
    partials are read from were rounded to it)."""
    reached = active_nodes(graph.nodes, [start])
    return max((float(np.finfo(np.dtype(n.dtype)).eps) for n in reached
                if np.dtype(n.dtype).kind in "fc"), default=float(np.finfo(np.float64).eps))


def _absolute_reach(graph: Graph, start: Node, move: np.ndarray) -> float:
    """1ᵀ·|J|·|move|: the move of `start` swept to the output with absolute partials — the
    size of the terms whose sum the tangent sweep's Σ|out| is (what ε of it bounds its
    rounding by)."""
    nodes = graph.nodes[graph.nodes.index(start) + 1:]
    _, lins = linearize_all(nodes, [start])
    terms = _absolute_adjoints(nodes, lins, graph.output, np.ones(graph.output.shape), [start])
    return float(np.sum(terms * np.abs(np.reshape(np.asarray(move), (-1,)))))


def _moved(node: Node, tan: dict[Node, Any]) -> np.ndarray | None:
    """The black box's tangent (1, *shape) of a node declared constant: a real central
    difference of its primitive along its inputs' tangents; None where it does not move."""
    ts = [tan.get(i) for i in node.inputs]
    if all(t is None for t in ts):
        return None
    values = [np.asarray(i.value) for i in node.inputs]
    slope: Any = 0.0
    for k, (v, t) in enumerate(zip(values, ts)):
        if t is None:
            continue
        t = np.reshape(t, np.shape(t)[1:])
        length = float(np.max(np.abs(t), initial=0.0))
        if length == 0.0:
            continue
        # each element's own step (an element-wise primitive), small beside its own value: a
        # small element next to a large one does not cross sign's or a comparison's jump
        step = 1e-6 * np.maximum(1.0, np.abs(v)) / length

        def at(sign: float, k: int = k, t: Any = t, step: Any = step) -> np.ndarray:
            args = list(values)
            args[k] = values[k] + sign * step * t
            out = np.asarray(node.prim.evaluate(np, args, node.params))
            return out.astype(float) if out.dtype.kind in "biu" else out

        slope = slope + (at(1.0) - at(-1.0)) / (2 * step)
    if not np.any(slope):
        return None
    return np.reshape(slope, (1, *np.shape(slope)))


def failing_primitive(exc: BaseException) -> Primitive | None:
    """The innermost primitive being evaluated when `exc` was raised (to name it)."""
    found = None
    tb = exc.__traceback__
    while tb is not None:
        for name in ("prim", "self"):
            if isinstance(tb.tb_frame.f_locals.get(name), Primitive):
                found = tb.tb_frame.f_locals[name]
        tb = tb.tb_next
    return found


def not_analytic(what: str) -> MissingRuleError:
    return MissingRuleError(
        f"the complex-step method (fd-complex) needs a complex-analytic function, and at a "
        f"complex point this one {what}: use method='fd-central' or an AD method "
        "(method='reverse')")


def _wide(a: Any) -> Any:
    """`a` in float64 if it is a lower-precision float array (else as it is)."""
    a = np.asarray(a)
    return a.astype(np.float64) if a.dtype.kind == "f" and a.dtype.itemsize < 8 else a


_SWEEP_ERRORS = (DiffkitError, ArithmeticError, ValueError, TypeError, np.linalg.LinAlgError)


def _working(graph: Graph) -> np.dtype:
    """The floating dtype the trace's output computes in (float32 for a float32 f, whose
    derivatives are taken in float32 as the AD engines take them)."""
    dt = np.dtype(graph.output.dtype)
    return dt if dt.kind in "fc" else np.dtype(np.float64)


def _tangent_dtype(graph: Graph) -> np.dtype:
    """The dtype tangents are seeded in: complex where an input is (a step along a complex
    input's imaginary axis), else the trace's working dtype."""
    work = _working(graph)
    if work.kind != "c" and any(np.dtype(n.dtype).kind == "c" for n in graph.inputs):
        return np.result_type(work, np.complex64)
    return work


def traced_tangents(graph: Graph, wrt: Sequence[Node], directions: Sequence[np.ndarray]
                    ) -> np.ndarray | None:
    """J·V of the traced operations at the point, (k, m): the tangent sweep of `graph` seeded
    with k directions (one array (k, *shape) per node of `wrt`). A reference a difference
    quotient along each direction should approach as its step shrinks, where f is
    differentiable and the trace is f near the point. None where the sweep cannot say (a
    missing rule, a point where a rule is singular, a value that is not finite)."""
    k = int(np.shape(directions[0])[0]) if directions else 0
    m = int(np.prod(graph.output.shape))
    seeds = {w: np.asarray(v, dtype=_tangent_dtype(graph)).reshape((k, *w.shape))
             for w, v in zip(wrt, directions, strict=True)}
    with np.errstate(all="ignore"):
        try:
            tan = tangent_sweep(graph.nodes, seeds, k).get(graph.output)
        except _SWEEP_ERRORS:
            return None
    if tan is None:  # the output does not depend on the inputs: J·V = 0
        return np.zeros((k, m))
    rows = np.reshape(np.broadcast_to(np.asarray(tan), (k, *graph.output.shape)), (k, m))
    return rows if np.all(np.isfinite(rows)) else None


def traced_pullback(graph: Graph, wrt: Sequence[Node], ct: np.ndarray
                    ) -> tuple[np.ndarray, float, np.ndarray] | str | None:
    """ctᵀ·J of the traced operations at the point (flat over `wrt`), with two sizes:

    * the size the rounding of ct·f scales with: Σ over the operations on the derivative's
      path of |adjoint|·|value| — ε times it bounds how far f's rounding moves ct·f, to first
      order (a linear structural one, a sum or a stack, its inputs' |value| times the |adjoint|
      its map sends each, so an entry another output alone reads does not count; any other,
      a product of matrices, rounds as it accumulates: its inputs' Σ|value| times its largest
      |adjoint|); a node that does not
      depend on the inputs rounds alike at every stencil point (its rounding cancels);
    * per entry, the size of the terms the reference itself sums, |ct|ᵀ·|J| along every path
      (the sweep again with |adjoints| and |partials|), which ε times bounds its own rounding:
      (x/(cx))³ at a tiny x has a derivative of 0 that float32's sweep finds as 256.

    None where the sweep cannot say (a missing rule); a message where the reference is not
    finite (a local derivative that overflows the trace's dtype, or is infinite)."""
    nodes = graph.nodes
    work = _working(graph)
    with np.errstate(all="ignore"):
        try:
            _, lins = linearize_all(nodes, wrt)
            keep = [*lins, *wrt]
            seed = np.asarray(ct, dtype=work).reshape(graph.output.shape)
            adj = adjoint_sweep(nodes, lins, graph.output, seed, keep)
            terms = _absolute_adjoints(nodes, lins, graph.output, np.abs(seed), wrt)
        except NumericOverflowError as exc:  # a local derivative beyond the dtype's range
            return str(exc)
        except _SWEEP_ERRORS:
            return None
        size = 0.0
        for node in lins:
            a = adj.get(node)
            if a is None:
                continue
            a = np.abs(np.asarray(a)).astype(float)
            if node.prim.kind == "elementwise":
                v = np.abs(np.asarray(node.value)).astype(float)
                size += float(np.sum(np.where(v == 0, 0.0, a * v)))  # (∞·0: no rounding)
            elif node.prim.linear:  # each input entry times the |adjoint| its map sends it
                size += _linear_size(node, lins[node], a)
            else:
                size += float(np.max(a, initial=0.0)) * sum(
                    float(np.sum(np.abs(np.asarray(i.value)))) for i in node.inputs
                    if np.asarray(i.value).dtype.kind in "fc")
    grads = [np.reshape(np.asarray(adj[w]) if np.dtype(w.dtype).kind == "c" else
                        np.real(np.asarray(adj[w])).astype(float), (-1,)) if w in adj
             else np.zeros(int(np.prod(w.shape))) for w in wrt]  # a complex input's, complex
    flat = np.concatenate(grads) if grads else np.zeros(0)
    if not np.all(np.isfinite(flat)):  # an infinite local derivative, or one that overflowed
        return f"it is not finite in {work} (an overflow, or a point where f has no derivative)"
    return flat, float("inf") if math.isnan(size) else size, terms


def _linear_size(node: Node, lin: Any, a: np.ndarray) -> float:
    """Σ over a linear structural op's inputs of |value|·|vjp(|adjoint|)|: the rounding size of
    a sum, of a stack or an index only the entries the adjoint reaches."""
    size = 0.0
    for i, c in zip(node.inputs, lin.vjp(a)):
        if c is not None and np.asarray(i.value).dtype.kind in "fc":
            c = np.abs(np.asarray(c if np.shape(c) == i.shape else sum_to(c, i.shape)))
            v = np.abs(np.asarray(i.value)).astype(float)
            size += float(np.sum(np.where(v == 0, 0.0, c.astype(float) * v)))
    return size


def refusal(graph: Graph, wrt: Sequence[Node], ct: np.ndarray,
            tangents: Sequence[np.ndarray] | None = None
            ) -> NonDifferentiableError | NumericOverflowError | None:
    """The NonDifferentiableError or NumericOverflowError the AD engines raise for this first
    derivative at the traced point — reverse mode's ctᵀ·J, or forward mode's J·t along `tangents` (one (1, *shape) per
    node of `wrt`): 0·∞ at a zero that holds at this point only (sqrt(x²) at 0), an infinite
    local derivative (x^(1/3) at 0). There the derivative may not be defined, and a difference
    quotient cannot tell whether it is. A derivative that is finite but too large for its
    dtype (1/x at 1e-160: −1e320) is their NumericOverflowError: a quotient's number there is
    an artefact of the step (the central one straddles the pole: +2.7e10). None where they
    answer, or fail otherwise (a missing rule)."""
    with warnings.catch_warnings():  # the engines' words are not the answer's
        warnings.simplefilter("ignore")
        try:
            if tangents is None:
                _, lins = linearize_all(graph.nodes, wrt)
                seed = np.asarray(ct, dtype=_working(graph)).reshape(graph.output.shape)
                adj = adjoint_sweep(graph.nodes, lins, graph.output, seed, wrt)
                require_finite([adj.get(n) for n in wrt], lins)
            else:
                singular: list[Any] = []
                seeds = {w: np.asarray(t, dtype=_tangent_dtype(graph)) for w, t in
                         zip(wrt, tangents, strict=True)}
                tan = tangent_sweep(graph.nodes, seeds, 1, singular, output=graph.output)
                require_finite([tan.get(graph.output)], singular)
        except (NonDifferentiableError, NumericOverflowError) as exc:
            return exc
        except _SWEEP_ERRORS:
            return None
    return None


def _absolute_adjoints(nodes: Sequence[Node], lins: dict[Node, Any], output: Node,
                       seed: np.ndarray, wrt: Sequence[Node]) -> np.ndarray:
    """|ct|ᵀ·|J| of the traced operations, flat over `wrt`: the adjoint sweep with absolute
    values (an element-wise record's |partials| exactly; a structural one's |vjp(|g|)|, which
    a map that cancels within itself understates). A path through an infinite partial whose
    other factor is 0 (a strong zero) adds nothing."""
    adj: dict[Node, Any] = {output: seed}
    for node, lin, g in backward(nodes, lins, adj, set(wrt)):
        partials = getattr(lin, "partials", None)
        if partials is not None:
            cts = [None if p is None else np.abs(g * np.asarray(p)) for p in partials]
        else:
            cts = [None if c is None else np.abs(np.asarray(c)) for c in lin.vjp(g)]
        for inp, c in zip(node.inputs, cts):
            if c is None:
                continue
            c = np.nan_to_num(np.asarray(c, dtype=float), nan=0.0)
            if c.shape != inp.shape:
                c = np.asarray(sum_to(c, inp.shape))
            prev = adj.get(inp)
            adj[inp] = c if prev is None else prev + c
    pieces = [np.reshape(np.asarray(adj[w], dtype=float), (-1,)) if w in adj
              else np.zeros(int(np.prod(w.shape))) for w in wrt]
    flat = np.concatenate(pieces) if pieces else np.zeros(0)
    return np.where(np.isfinite(flat), flat, 0.0)
