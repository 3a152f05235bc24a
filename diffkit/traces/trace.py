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

import keyword
import re
import unicodedata
from collections.abc import Sequence
from functools import cached_property
from typing import Any

import numpy as np
import sympy as sp

from ..backend import to_numpy
from ..build import as_function
from ..display import format_constant, index_text
from ..errors import NumericOverflowError
from ..function import STRICT, Function, to_python
from ..ir import Graph, Node, toposort
from ..ir import output_name as ir_output_name
from ..primitive import REGISTRY
from ..sweeps import adjoint_sweep, linearize_all, require_finite, tangent_sweep
from ..tensor import Tensor, leaf_tensor
from . import formats as tf
from .drawing import _check_size, draw_trace
from .rows import (
    Partial,
    Row,
    Token,
    at_point,
    forward_seed,
    is_scalar_const,
    local_derivative,
    name_var,
    numeric,
    reverse_seed,
    var,
)

MODES = ("reverse", "forward")


class Trace:
    """The evaluation trace of a function at a point (build it with :func:`trace`).

    Attributes:
        function, graph, point, mode: what was traced, and how.
        values: node -> primal value; partials: node -> memoized local partials (None: structural).
        tangents: node -> tangent (forward mode); adjoints: node -> final adjoint (reverse mode).
        steps: the reverse sweep's accumulation steps ``(node, input, partial, contribution)``.
        step_positions: for each step, which argument of `node` the contribution flows back
            through (``v₀ - v₀`` has two steps into v₀, through arguments 0 and 1).
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
        self.names = graph.variable_names()  # w-1, w0, … beside an input called v1
        self._partial_cache: dict[Node, tuple[Partial, ...]] = {}
        #: the output's name in the tables: y, unless an input is already called y
        self.out_key = output_name(fn.inputs)
        self.tangents: dict[Node, Any] = {}
        self.adjoints: dict[Node, Any] = {}
        self.steps: list[tuple[Node, Node, Any, Any]] = []
        self.step_positions: list[int] = []
        with np.errstate(**STRICT):
            self._sweep(graph, mode, seed)

    def _sweep(self, graph: Graph, mode: str, seed: Any) -> None:
        """The engines' sweeps, keeping what they compute. A derivative that is not finite is
        the engines' error, not a table of infinities: NonDifferentiableError naming the
        primitive (sqrt at 0), also where infinities meet (∞ − ∞ in sqrt(x) − sqrt(x) at 0)."""
        self.active, lins = linearize_all(graph.schedule, graph.inputs)
        #: node -> its memoized local partials (None for structural ops, which use rules)
        self.partials = {n: lin.partials for n, lin in lins.items()}
        try:
            if mode == "forward":
                pairs = zip(graph.inputs, seed, strict=True)
                seeds = {n: np.reshape(t, (1, *n.shape)) for n, t in pairs}
                tan = tangent_sweep(graph.schedule, seeds, 1)
                self.tangents = {n: t[0] for n, t in tan.items()}
                results = [self.tangents.get(graph.output)]
            else:
                self.adjoints = adjoint_sweep(graph.schedule, lins, graph.output, seed,
                                              graph.schedule, record=self._record)
                results = [self.adjoints.get(n) for n in graph.inputs]
        except FloatingPointError as exc:
            if "overflow" in str(exc):
                raise NumericOverflowError(f"the derivative overflows its floating-point type "
                                           f"({mode}-mode trace: {exc})") from None
            results = [np.nan]  # not finite: named below, as the engines name it
        require_finite(results, lins)

    def accent(self, name: str, accent: str) -> str:
        """The accent of an input's tangent or adjoint here (:func:`input_accent`)."""
        return input_accent(self.function.inputs, name, accent)

    def _record(self, node: Node, j: int, partial: Any, c: Any) -> None:
        """Keep one accumulation step and the argument position it went through."""
        self.steps.append((node, node.inputs[j], partial, c))
        self.step_positions.append(j)

    def step_partial(self, k: int) -> Partial | None:
        """The local partial used by accumulation step `k` (None where the row has none)."""
        node, j = self.steps[k][0], self.step_positions[k]
        return next((p for p in self.node_partials(node) if p.position == j), None)

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
            return [var(self.names[node.id], accent)]
        if is_scalar_const(node):
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
                out.append(
                    Partial(self.names[node.id], self.names[inp.id], None, None, "JVP/VJP", j)
                )
            elif node.prim.partials is not None and node.prim.partials[j] is not None and memo:
                out.append(
                    Partial(
                        self.names[node.id],
                        self.names[inp.id],
                        at_point(local_derivative(node, j, self.names), node, self.names,
                                 numeric(memo[j])),
                        numeric(memo[j]),
                        position=j,
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
            return [name_var(node.name)] if node.is_input else self.operand(node)
        args = [self.operand(i) for i in node.inputs]
        if prim.symbol == "-" and len(args) == 1:  # a prefix operator
            return [("text", "-"), *args[0]]
        if prim.symbol == "**":  # written as a superscript
            return [("pow", tuple(args[0]), tuple(args[1]))]
        if prim.infix and len(args) == 2:
            return [*args[0], ("infix", prim), *args[1]]
        if prim.symbol == "[]":  # an index
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
        for node in self.graph.schedule:
            if node.is_const:
                continue
            role = "input" if node.is_input else "op"
            partials = self.node_partials(node) if node.prim is not None else ()
            rows.append(
                Row(
                    "primal",
                    role,
                    (var(self.names[node.id]),),
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
                (var(self.out_key),),
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
                    (var(self.names[node.id], "dot"),),
                    (name_var(node.name, self.accent(node.name, "dot")),),
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
                    (var(self.names[node.id], "dot"),),
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
                (var(self.out_key, "dot"),),
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
                    (var(self.names[out.id], "bar"),),
                    (var(self.out_key, "bar"),),
                    self.seed,
                    (),
                    out,
                )
            )
        else:
            rows.append(
                Row("adjoint", "seed", (var(self.out_key, "bar"),), (("num", 1.0),), self.seed)
            )
        running: dict[Node, Any] = {}
        for k, (node, inp, _partial, c) in enumerate(self.steps):
            j_key, i_key = self.names[inp.id], self.names[node.id]
            prev = running.get(inp)
            running[inp] = c if prev is None else prev + c
            step_partial = self.step_partial(k)  # this argument's own ∂vᵢ/∂vⱼ (v₀ - v₀: 1, -1)
            partials = () if step_partial is None else (step_partial,)
            bar_j, bar_i = tf.symbol(j_key, "bar"), tf.symbol(i_key, "bar")
            if node.prim.kind == "elementwise" and partials and partials[0].expr is not None:
                term: list[Token] = [("sym", bar_i * partials[0].expr)]
            else:
                term = [("text", f"VJP[{node.prim.name}]("), var(i_key, "bar"), ("text", ")")]
            if prev is None:
                formula, role = term, "set"
            elif term[0][0] == "sym":
                formula, role = [("sym", sp.Add(bar_j, term[0][1], evaluate=False))], "accumulate"
            else:
                formula, role = [var(j_key, "bar"), ("infix", REGISTRY["add"]), *term], "accumulate"
            rows.append(
                Row(
                    "adjoint",
                    role,
                    (var(j_key, "bar"),),
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
                    (name_var(node.name, self.accent(node.name, "bar")),),
                    (var(self.names[node.id], "bar"),)
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
            how = self._seed_text()
        else:
            how = f"{tf.unicode_var(self.out_key, 'bar')} = {_short(self.seed)}"
        return f"{fn.name}({', '.join(fn.inputs)}){body} at {at} ({self.mode} mode, {how})"

    def _seed_text(self) -> str:
        """The forward seed in the title: ``ẋ = (1, 0)`` where the inputs are the components x,
        or x1, x2, … of one x (as the seeds write it); else each input's own tangent, as the
        rows name it (``ẋ = 1, ẏ = -5``)."""
        inputs = self.function.inputs
        if all(re.fullmatch(r"x\d*", n) for n in inputs) and (len(inputs) > 1 or inputs == ["x"]):
            return "ẋ = (" + ", ".join(_short(s) for s in self.seed) + ")"
        return ", ".join(f"{tf.unicode_name(n, self.accent(n, 'dot'))} = {_short(s)}"
                         for n, s in zip(inputs, self.seed, strict=False))

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
        """The computational graph as a ``graphviz.Digraph`` (see :func:`diffkit.draw`)."""
        return draw_trace(self, **options)

    def __str__(self) -> str:
        return self.to_text()

    def __repr__(self) -> str:
        return f"<diffkit.Trace {self.title()}: {len(self.graph)} nodes>"


def output_name(inputs: Sequence[str]) -> str:
    """The output's name in the tables: y; f, out or _y where an input is called y; else y with
    as many leading underscores as it takes to name no input — nor one whose adjoint or tangent
    (ȳ, ẏ) is shown as an input's name (an input called ȳ)."""
    shown = {_nfc(tf.unicode_name(n)) for n in inputs}
    return ir_output_name(inputs, lambda name: any(
        _nfc(tf.unicode_var(name, accent)) in shown for accent in ("bar", "dot")))


def input_accent(inputs: Sequence[str], name: str, accent: str) -> str:
    """The accent of input `name`'s tangent ("dot") or adjoint ("bar") in the tables: a
    combining mark (ẋ, x̄), or the word form (d(x), adj(x)) where the mark would show another
    input's name (x̄ for the adjoint of x beside an input called x̄)."""
    shown = {_nfc(tf.unicode_name(n)) for n in inputs if n != name}
    return accent + tf.WORD if _nfc(tf.unicode_name(name, accent)) in shown else accent


def _nfc(text: str) -> str:
    """`text` composed (y + U+0304 is ȳ, as a name's NFKC spelling writes it)."""
    return unicodedata.normalize("NFC", text)


def _require_finite_point(fn: Function, point: Sequence[Any]) -> None:
    """DomainError naming an input that holds a NaN or an infinity: the check dk.grad runs
    (:func:`diffkit.api._prepare`), so a trace never shows a gradient that dk.grad refuses."""
    from ..api import _prepare  # api sits above the traces

    _prepare(fn, point)


def _short(v: Any) -> str:
    """A point's value for a title: ``2``, ``[1, 2]``, ``[[1, 2], [3, 4]]`` (nested as its
    shape is), ``array(3, 4)``; a number that six significant digits would misstate as its
    shortest exact form (``1.0000001``, not ``1``)."""
    if np.ndim(v) == 0:
        return format_constant(v)
    if np.size(v) <= 4:  # nested as the value's shape is: [[1, 2], [3, 4]]
        return "[" + ", ".join(_short(x) for x in np.asarray(v)) + "]"
    return f"array{np.shape(v)}"


def _join(args: Sequence[list[Token]]) -> list[Token]:
    out: list[Token] = []
    for k, a in enumerate(args):
        if k:
            out.append(("text", ", "))
        out += a
    return out


def trace(f: Any, *point: Any, mode: str = "reverse", seed: Any = None) -> Trace:
    """The evaluation trace of `f` at `point`: primal rows, then tangent or adjoint rows.

    Args:
        f: a Function, math text, a SymPy expression or a callable written with diffkit ops; or
            a Tensor computed eagerly (with diffkit.nn or dk.tensor), without a point: its
            recorded graph, as :func:`tensor_trace` builds it.
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
    if type(f) is Tensor:
        if point:
            raise TypeError("a Tensor's graph was recorded at its values: pass no point "
                            "(dk.trace(loss), dk.draw(loss))")
        return tensor_trace(f, mode=mode, seed=seed)
    fn = as_function(f)
    _require_finite_point(fn, point)
    with np.errstate(**STRICT):
        from ..api import traced_as  # a jit function: its first trace, which its call evaluates

        graph = traced_as(fn, fn.coerce(point)).trace(*point)
    values = {node: node.value for node in graph.schedule}
    seed_value = forward_seed(fn, graph, seed) if mode == "forward" else reverse_seed(graph, seed)
    return Trace(fn, graph, values, tuple(point), mode, seed_value)


def tensor_trace(t: Tensor, mode: str = "reverse", seed: Any = None,
                 max_nodes: int | None = None) -> Trace:
    """The trace of the graph recorded behind an eager Tensor (torchviz's ``make_dot(loss)``).

    The leaves that require a gradient (parameters, ``dk.tensor(…, requires_grad=True)``) are the
    inputs, named after their names (``weight``, ``bias``, ``weight_2``, …); every other leaf —
    the data, a detached value — is a constant. In reverse mode ȳ = `seed` or 1 (ones for an
    array: the gradient of the sum), so the adjoints of the inputs are what ``backward()`` adds
    to their ``.grad``. A graph of more than `max_nodes` nodes is refused
    (:class:`DrawingTooLargeError`) before anything is computed.
    """
    if t.tape.level > 0:
        raise TypeError("this Tensor belongs to a function being traced: trace or draw the "
                        "function instead, dk.trace(f, *point) or dk.draw(f, *point)")
    nodes = toposort([t.node])
    _check_size(len(nodes), max_nodes, "this graph")
    leaves = [n for n in nodes if n.prim is None
              and (leaf := leaf_tensor(n)) is not None and leaf.requires_grad]
    if not leaves:
        raise ValueError("nothing in this tensor's graph requires a gradient: make the leaves "
                         "to differentiate with dk.tensor(value, requires_grad=True) or "
                         "nn.Parameter")
    names = _input_names(leaves)
    copies: dict[Node, Node] = {}  # the graph again, with inputs named and other leaves constant
    for n in nodes:
        value = to_numpy(n.value)
        if n.prim is None:
            copies[n] = Node(None, (), {}, value, name=names.get(n))
        else:
            copies[n] = Node(n.prim, tuple(copies[i] for i in n.inputs), n.params, value)
    graph = Graph([copies[n] for n in leaves], copies[t.node])
    fn = Function(_recorded, [names[n] for n in leaves], name="f")
    values = {node: node.value for node in graph.schedule}
    point = tuple(node.value for node in graph.inputs)
    for name, value in zip(fn.inputs, point, strict=True):
        fn.check_finite(name, bool(np.all(np.isfinite(value))))
    seed_value = forward_seed(fn, graph, seed) if mode == "forward" else reverse_seed(graph, seed)
    return Trace(fn, graph, values, point, mode, seed_value)


def _input_names(leaves: Sequence[Node]) -> dict[Node, str]:
    """Distinct identifiers from the leaves' names: weight, bias, weight_2, bias_2, …"""
    names: dict[Node, str] = {}
    taken: set[str] = set()
    for n in leaves:
        base = re.sub(r"\W", "_", n.name or "x")
        if not base.isidentifier() or keyword.iskeyword(base) or base.startswith("__"):
            base = f"x_{base.strip('_')}" if base.strip("_").isidentifier() else "x"
        name, k = base, 1
        while name in taken:
            k += 1
            name = f"{base}_{k}"
        taken.add(name)
        names[n] = name
    return names


def _recorded(*_: Any) -> Any:
    raise TypeError("this Function stands for a graph recorded eagerly (dk.trace(tensor)): it has "
                    "no Python body to call again")


__all__ = ["Partial", "Row", "Trace", "local_derivative", "tensor_trace", "trace"]
