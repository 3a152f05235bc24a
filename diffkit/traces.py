"""Evaluation traces: the primal, tangent and adjoint tables of Baydin et al. (2018), from the IR.

``dk.trace(f, 2, 5)`` runs the engines' own sweeps over the graph and keeps what they compute:

* the **primal trace** ``vᵢ = φᵢ(vⱼ, …)`` in the graph's level order (inputs v₋ₙ₊₁ … v₀, then
  v₁, v₂, …), with the local partials ∂vᵢ/∂vⱼ that the reverse engine memoizes on the way;
* in forward mode, the **tangent trace** ``v̇ᵢ = Σⱼ ∂vᵢ/∂vⱼ · v̇ⱼ`` for a seed direction ẋ (e₁);
* in reverse mode, the **adjoint trace** ``v̄ⱼ = v̄ⱼ + v̄ᵢ · ∂vᵢ/∂vⱼ`` in reverse order, one row per
  accumulation step, so a variable used by several operations gets several rows, as in the paper.

The symbolic local derivative on each row is ``sympy.diff`` of the primitive's SymPy translation on
symbols named after the variables (∂v₃/∂v₀ = cos v₀); the numbers are the engines' values.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property, lru_cache
from typing import Any

import numpy as np
import sympy as sp

from . import trace_format as tf
from .display import format_value, index_text
from .engines.forward import tangent_sweep
from .engines.reverse import adjoint_sweep, memoize_partials
from .errors import ShapeError
from .function import STRICT, Function, as_function, to_python
from .ir import Graph, Node
from .primitives import MINUS_ONE, ONE, REGISTRY

Token = tuple[Any, ...]
MODES = ("reverse", "forward")


@dataclass(frozen=True)
class Partial:
    """A local partial derivative ∂`of`/∂`wrt` (variable keys such as ``"v2"``, ``"v-1"``).

    Attributes:
        expr: its symbolic form in the variables (None for structural ops, which use a rule).
        value: its exact value at the point (None for structural ops).
        rule: "JVP" or "VJP" where a structural op's rule replaces the partial.
    """

    of: str
    wrt: str
    expr: sp.Expr | None
    value: Any
    rule: str = ""


@dataclass(frozen=True)
class Row:
    """One line of a trace: ``lhs = formula``, the local derivatives used, and the exact value.

    Attributes:
        section: "primal", "tangent" or "adjoint".
        role: "input", "op", "output" (primal, tangent); "seed", "set", "accumulate", "result"
            (adjoint: ȳ = 1, first contribution, later contributions, x̄ = v̄).
        lhs, formula: format-neutral tokens (see :class:`diffkit.trace_format.Notation`).
        partials: the local partials the row uses.
        value: the exact value (display rounds it, the row never does).
        node: the IR node the row is about (None for ȳ and y of a constant output).
        source: for adjoint steps, the node whose adjoint flows back (vᵢ in v̄ⱼ += v̄ᵢ ∂vᵢ/∂vⱼ).
    """

    section: str
    role: str
    lhs: tuple[Token, ...]
    formula: tuple[Token, ...]
    value: Any
    partials: tuple[Partial, ...] = ()
    node: Node | None = None
    source: Node | None = None

    @property
    def name(self) -> str:
        """The variable as text: ``v̄₋₁``."""
        return tf.UNICODE.render(self.lhs)

    @property
    def expression(self) -> str:
        """The defining expression as text: ``v̄₋₁ + v̄₁/v₋₁``."""
        return tf.UNICODE.render(self.formula)

    @property
    def derivative(self) -> str:
        """The local derivatives as text: ``∂v₁/∂v₋₁ = 1/v₋₁ = 0.500``."""
        return tf.derivative_cell(self.partials, tf.UNICODE, 3)

    def __str__(self) -> str:
        return f"{self.name} = {self.expression} = {tf.fmt_number(self.value)}"


def _var(key: str, accent: str = "") -> Token:
    return ("var", key, accent)


def _is_scalar_const(node: Node) -> bool:
    return node.is_const and node.value is not None and np.ndim(node.value) == 0


@lru_cache(maxsize=1024)
def _template(
    prim_name: str, consts: tuple[float | None, ...], j: int
) -> tuple[sp.Expr | None, tuple[sp.Dummy, ...]]:
    """∂φ/∂(argument j) of a primitive's SymPy translation, on dummies (constants filled in)."""
    from .engines.symbolic import local_diff
    from .sympy_bridge import sympy_number

    prim = REGISTRY[prim_name]
    dummies = tuple(sp.Dummy(f"a{i}", real=True) for i in range(len(consts)))
    args = [d if c is None else sympy_number(c) for d, c in zip(dummies, consts, strict=False)]
    try:
        return local_diff(prim.sympy(*args), dummies[j]), dummies
    except (TypeError, ValueError, AttributeError):
        return None, dummies


def local_derivative(node: Node, j: int, names: Mapping[int, str]) -> sp.Expr | None:
    """The symbolic ∂node/∂(input j) in the trace's variables, e.g. cos(v₀) for v₃ = sin v₀."""
    consts = tuple(float(i.value) if _is_scalar_const(i) else None for i in node.inputs)
    expr, dummies = _template(node.prim.name, consts, j)
    if expr is None:
        return None
    subs = {
        d: tf.symbol(names[i.id]) if i.id in names else sp.Symbol("const", real=True)
        for d, i in zip(dummies, node.inputs, strict=False)
        if i.id in names or not _is_scalar_const(i)
    }
    return expr.xreplace(subs)


def _numeric(p: Any) -> Any:
    return 1.0 if p is ONE else -1.0 if p is MINUS_ONE else p


class Trace:
    """The evaluation trace of a function at a point (build it with :func:`trace`).

    Attributes:
        function, graph, point, mode: what was traced, and how.
        values: node -> primal value; partials: node -> memoized local partials (None: structural).
        tangents: node -> tangent (forward mode); adjoints: node -> final adjoint (reverse mode).
        steps: the reverse sweep's accumulation steps ``(node, input, partial, contribution)``.
        seed: ẋ per input (forward mode) or ȳ (reverse mode).
    """

    def __init__(
        self,
        fn: Function,
        graph: Graph,
        values: dict[Node, Any],
        point: tuple[Any, ...],
        mode: str,
        seed: Any,
    ) -> None:
        self.function = fn
        self.graph = graph
        self.values = values
        self.point = point
        self.mode = mode
        self.seed = seed
        self.names = graph.names()
        self._partial_cache: dict[Node, tuple[Partial, ...]] = {}
        #: the output's name in the tables: y, unless an input is already called y
        self.out_key = next(k for k in ("y", "f", "out", "_y") if k not in fn.inputs)
        with np.errstate(**STRICT):
            self.active, self.partials = memoize_partials(graph.nodes, values, graph.inputs)
            self.tangents: dict[Node, Any] = {}
            self.adjoints: dict[Node, Any] = {}
            self.steps: list[tuple[Node, Node, Any, Any]] = []
            if mode == "forward":
                pairs = zip(graph.inputs, seed, strict=True)
                seeds = {n: np.reshape(t, (1, *n.shape)) for n, t in pairs}
                tan = tangent_sweep(graph.nodes, values, seeds, 1)
                self.tangents = {n: t[0] for n, t in tan.items()}
            else:
                self.adjoints = adjoint_sweep(
                    graph.nodes,
                    values,
                    self.active,
                    self.partials,
                    graph.output,
                    seed,
                    graph.nodes,
                    record=lambda *s: self.steps.append(s),
                )

    # ----- results --------------------------------------------------------------------------

    @property
    def value(self) -> Any:
        """f at the point."""
        return self.values[self.graph.output]

    @property
    def derivative(self) -> Any:
        """Forward: the directional derivative ẏ. Reverse: the gradient x̄ (one entry per input)."""
        if self.mode == "forward":
            return to_python(self.tangents.get(self.graph.output, 0.0))
        return tuple(
            to_python(self.adjoints.get(n, np.zeros(n.shape) if n.shape else 0.0))
            for n in self.graph.inputs
        )

    def key(self, node: Node) -> str | None:
        """The variable key of a node (``"v-1"``, ``"v3"``), None for constants."""
        return self.names.get(node.id)

    def operand(self, node: Node, accent: str = "") -> list[Token]:
        """Tokens for a node used as an argument: its variable, or a constant's value."""
        if node.id in self.names:
            return [_var(self.names[node.id], accent)]
        if _is_scalar_const(node):
            return [("num", node.value)]
        return [("text", f"const{tuple(node.shape)}")]

    def node_partials(self, node: Node) -> tuple[Partial, ...]:
        """The local partials of an operation with respect to each variable input."""
        cached = self._partial_cache.get(node)
        if cached is not None:
            return cached
        memo = self.partials.get(node)
        out = []
        for j, inp in enumerate(node.inputs):
            if inp.id not in self.names:
                continue
            if node.prim.kind != "elementwise":
                out.append(Partial(self.names[node.id], self.names[inp.id], None, None, "JVP/VJP"))
            elif node.prim.partials is not None and node.prim.partials[j] is not None and memo:
                out.append(
                    Partial(
                        self.names[node.id],
                        self.names[inp.id],
                        local_derivative(node, j, self.names),
                        _numeric(memo[j]),
                    )
                )
        result = tuple(out)
        self._partial_cache[node] = result
        return result

    # ----- rows -------------------------------------------------------------------------------

    def definition(self, node: Node) -> list[Token]:
        """The right-hand side of a primal row: ``ln v₋₁``, ``v₋₁ × v₀``, ``sum(v₃, axis=(0,))``."""
        prim = node.prim
        if prim is None:
            return [_var(node.name)] if node.is_input else self.operand(node)
        args = [self.operand(i) for i in node.inputs]
        if prim.name == "neg":
            return [("text", "-"), *args[0]]
        if prim.name == "pow":
            return [("pow", tuple(args[0]), tuple(args[1]))]
        if prim.infix and len(args) == 2:
            return [*args[0], ("infix", prim.symbol), *args[1]]
        if prim.name == "getitem":
            return [*args[0], ("text", f"[{index_text(node.params['index'])}]")]
        params = [
            ("text", f"{k}={v}") for k, v in node.params.items() if v is not None and v is not False
        ]
        bare = prim.kind == "elementwise" and len(args) == 1 and args[0][0][0] == "var"
        return [("fn", prim, [tuple(a) for a in args] + [(p,) for p in params], bare)]

    @cached_property
    def primal(self) -> list[Row]:
        """v₋ₙ₊₁ … v₀ = inputs, vᵢ = φᵢ(…) with their memoized partials, y = output."""
        rows = []
        for node in self.graph.nodes:
            if node.is_const:
                continue
            role = "input" if node.is_input else "op"
            partials = self.node_partials(node) if node.prim is not None else ()
            rows.append(
                Row(
                    "primal",
                    role,
                    (_var(self.names[node.id]),),
                    tuple(self.definition(node)),
                    self.values[node],
                    partials,
                    node,
                )
            )
        out = self.graph.output
        rows.append(
            Row(
                "primal",
                "output",
                (_var(self.out_key),),
                tuple(self.operand(out)),
                self.values[out],
                (),
                out,
            )
        )
        return rows

    @cached_property
    def tangent(self) -> list[Row]:
        """v̇ of every variable for the seed direction ẋ: v̇ᵢ = Σⱼ ∂vᵢ/∂vⱼ v̇ⱼ (forward mode)."""
        if self.mode != "forward":
            return []
        rows = []
        for node, s in zip(self.graph.inputs, self.seed, strict=False):
            rows.append(
                Row(
                    "tangent",
                    "input",
                    (_var(self.names[node.id], "dot"),),
                    (_var(node.name, "dot"),),
                    s,
                    (),
                    node,
                )
            )
        for node in self.graph.operations:
            value = self.tangents.get(node, np.zeros(node.shape) if node.shape else 0.0)
            rows.append(
                Row(
                    "tangent",
                    "op",
                    (_var(self.names[node.id], "dot"),),
                    tuple(self._tangent_formula(node)),
                    value,
                    self.node_partials(node),
                    node,
                )
            )
        out = self.graph.output
        rows.append(
            Row(
                "tangent",
                "output",
                (_var(self.out_key, "dot"),),
                tuple(self.operand(out, "dot")) if out.id in self.names else (("num", 0.0),),
                self.derivative,
                (),
                out,
            )
        )
        return rows

    def _tangent_formula(self, node: Node) -> list[Token]:
        prim = node.prim
        if not prim.differentiable:
            return [("text", "0")]
        if prim.kind == "elementwise":
            terms = [
                tf.symbol(p.wrt, "dot") * p.expr
                for p in self.node_partials(node)
                if p.expr is not None
            ]
            if not terms:
                return [("text", "0")]
            return [("sym", sp.Add(*terms, evaluate=False) if len(terms) > 1 else terms[0])]
        args = [self.operand(i, "dot") for i in node.inputs]
        return [("text", f"JVP[{prim.name}]("), *_join(args), ("text", ")")]

    @cached_property
    def adjoint(self) -> list[Row]:
        """ȳ = seed, then one row per step v̄ⱼ (+)= v̄ᵢ ∂vᵢ/∂vⱼ in reverse order, then x̄ = v̄."""
        out = self.graph.output
        rows = []
        if out.id in self.names:
            rows.append(
                Row(
                    "adjoint",
                    "seed",
                    (_var(self.names[out.id], "bar"),),
                    (_var(self.out_key, "bar"),),
                    self.seed,
                    (),
                    out,
                )
            )
        else:
            rows.append(
                Row("adjoint", "seed", (_var(self.out_key, "bar"),), (("num", 1.0),), self.seed)
            )
        running: dict[Node, Any] = {}
        for node, inp, _partial, c in self.steps:
            j_key, i_key = self.names[inp.id], self.names[node.id]
            prev = running.get(inp)
            running[inp] = c if prev is None else prev + c
            partials = tuple(p for p in self.node_partials(node) if p.wrt == j_key)[:1]
            bar_j, bar_i = tf.symbol(j_key, "bar"), tf.symbol(i_key, "bar")
            if node.prim.kind == "elementwise" and partials and partials[0].expr is not None:
                term: list[Token] = [("sym", bar_i * partials[0].expr)]
            else:
                term = [("text", f"VJP[{node.prim.name}]("), _var(i_key, "bar"), ("text", ")")]
            if prev is None:
                formula, role = term, "set"
            elif term[0][0] == "sym":
                formula, role = [("sym", sp.Add(bar_j, term[0][1], evaluate=False))], "accumulate"
            else:
                formula, role = [_var(j_key, "bar"), ("infix", "+"), *term], "accumulate"
            rows.append(
                Row(
                    "adjoint",
                    role,
                    (_var(j_key, "bar"),),
                    tuple(formula),
                    running[inp],
                    partials,
                    inp,
                    node,
                )
            )
        for node, g in zip(self.graph.inputs, self.derivative, strict=False):
            rows.append(
                Row(
                    "adjoint",
                    "result",
                    (_var(node.name, "bar"),),
                    (_var(self.names[node.id], "bar"),)
                    if node in self.adjoints
                    else (("num", 0.0),),
                    g,
                    (),
                    node,
                )
            )
        return rows

    @property
    def rows(self) -> list[Row]:
        """Every row: the primal trace, then the tangent or adjoint trace."""
        return self.primal + (self.tangent if self.mode == "forward" else self.adjoint)

    # ----- output -------------------------------------------------------------------------------

    def title(self) -> str:
        """``f(x1, x2) = … at x1 = 2, x2 = 5 (reverse mode, ȳ = 1)``."""
        fn = self.function
        body = f" = {fn.text}" if fn.text else ""
        at = ", ".join(f"{n} = {_short(v)}" for n, v in zip(fn.inputs, self.point, strict=False))
        if self.mode == "forward":
            how = "ẋ = (" + ", ".join(_short(s) for s in self.seed) + ")"
        else:
            how = f"{tf.unicode_var(self.out_key, 'bar')} = {_short(self.seed)}"
        return f"{fn.name}({', '.join(fn.inputs)}){body} at {at} ({self.mode} mode, {how})"

    def to_text(self, digits: int = 3) -> str:
        """Aligned columns for a terminal (values rounded to `digits` decimals)."""
        return tf.to_text(self, digits)

    def to_markdown(self, digits: int = 3) -> str:
        """Markdown tables (primal, then tangent or adjoint)."""
        return tf.to_markdown(self, digits)

    def to_latex(self, digits: int = 3) -> str:
        """A LaTeX ``tabular`` to paste into a paper."""
        return tf.to_latex(self, digits)

    def to_html(self, digits: int = 3) -> str:
        """An HTML table."""
        return tf.to_html(self, digits)

    def _repr_html_(self) -> str:
        return self.to_html()

    def draw(self, **options: Any) -> Any:
        """The computational graph as a ``graphviz.Digraph`` (see :func:`diffkit.drawing.draw`)."""
        from .drawing import draw_trace

        return draw_trace(self, **options)

    def __str__(self) -> str:
        return self.to_text()

    def __repr__(self) -> str:
        return f"<diffkit.Trace {self.title()}: {len(self.graph)} nodes>"


def _short(v: Any) -> str:
    """A point's value for a title: ``2``, ``[1, 2]``, ``array(3, 4)``."""
    if np.ndim(v) == 0:
        return format_value(v)
    if np.size(v) <= 4:
        return "[" + ", ".join(format_value(x) for x in np.ravel(v)) + "]"
    return f"array{np.shape(v)}"


def _join(args: Sequence[list[Token]]) -> list[Token]:
    out: list[Token] = []
    for k, a in enumerate(args):
        if k:
            out.append(("text", ", "))
        out += a
    return out


def _forward_seed(fn: Function, graph: Graph, seed: Any) -> list[Any]:
    """ẋ per input: e₁ by default; a sequence (one per input) or a dict {name: tangent}."""
    shapes = [n.shape for n in graph.inputs]
    if seed is None:
        out = [np.zeros(s) if s else 0.0 for s in shapes]
        if shapes and shapes[0]:
            out[0] = np.zeros(shapes[0])
            out[0].reshape(-1)[0] = 1.0
        elif shapes:
            out[0] = 1.0
        return out
    if isinstance(seed, Mapping):
        unknown = set(seed) - set(fn.inputs)
        if unknown:
            raise ValueError(f"seed names {sorted(unknown)}, which are not inputs of {fn.name}")
        seed = [seed.get(n, 0.0) for n in fn.inputs]
    elif np.ndim(seed) == 0 and len(shapes) == 1:
        seed = [seed]
    if len(seed) != len(shapes):
        raise ShapeError(
            f"seed has {len(seed)} entries for {len(shapes)} inputs: pass one tangent per input"
        )
    out = []
    for name, s, shape in zip(fn.inputs, seed, shapes, strict=False):
        arr = (
            np.broadcast_to(np.asarray(s, dtype=float), shape) if np.ndim(s) <= len(shape) else None
        )
        if arr is None or (np.ndim(s) and np.shape(s) != shape):
            raise ShapeError(
                f"seed for {name!r} has shape {np.shape(s)}, the input has shape {shape}"
            )
        out.append(float(arr) if not shape else np.array(arr))
    return out


def _reverse_seed(graph: Graph, seed: Any) -> Any:
    """ȳ: 1 by default (ones for an array output: the gradient of the sum of its elements)."""
    shape = graph.output.shape
    if seed is None:
        return np.ones(shape) if shape else 1.0
    if np.ndim(seed) and np.shape(seed) != shape:
        raise ShapeError(f"seed ȳ has shape {np.shape(seed)}, the output has shape {shape}")
    return np.broadcast_to(np.asarray(seed, dtype=float), shape).copy() if shape else float(seed)


def trace(f: Any, *point: Any, mode: str = "reverse", seed: Any = None) -> Trace:
    """The evaluation trace of `f` at `point`: primal rows, then tangent or adjoint rows.

    Args:
        f: a Function, math text, a SymPy expression or a callable written with diffkit ops.
        *point: one value per input.
        mode: "reverse" (adjoint trace, ȳ = `seed` or 1) or "forward" (tangent trace, ẋ = `seed`
            or e₁; `seed` may be one tangent per input or a dict {name: tangent}).

    Example:
        >>> import diffkit as dk
        >>> t = dk.trace("ln(x1) + x1*x2 - sin(x2)", 2, 5)
        >>> [round(r.value, 3) for r in t.adjoint if r.name == "v̄₀"]
        [-0.284, 1.716]
        >>> t.derivative
        (5.5, 1.7163378145367738)
    """
    if mode not in MODES:
        raise ValueError(f"mode must be 'reverse' or 'forward', got {mode!r}")
    fn = as_function(f)
    with np.errstate(**STRICT):
        graph, values = fn.graph_at(*point)
    values = dict(values)
    for node in graph.nodes:  # constants folded into the graph keep their recorded value
        values.setdefault(node, node.value)
    seed_value = _forward_seed(fn, graph, seed) if mode == "forward" else _reverse_seed(graph, seed)
    return Trace(fn, graph, values, tuple(point), mode, seed_value)


__all__ = ["Partial", "Row", "Trace", "local_derivative", "trace"]
