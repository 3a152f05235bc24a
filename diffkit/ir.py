"""The expression IR: immutable nodes and graphs in topological order.

A graph is a DAG of primitive applications. Nodes are created once and never changed: engines keep
their own side tables (memoized linearizations, tangents, adjoints) keyed by node. Every node
carries the primal value it had when it was traced (``node.value``); engines read it, never write
it. (One writer, outside the engines: an optimizer may update a parameter's leaf value in place,
only where nothing but the parameter holds that node — no graph can see it; see
:func:`~diffkit.tensor.writable_alone`.) Node ids come from a counter, so creation order is a
topological order.
"""

from __future__ import annotations

import itertools
import math
import operator
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from .display import describe_node, format_value

if TYPE_CHECKING:
    from .primitive import Primitive

#: the counter node ids come from (creation order; the tape's scalar records read it inline)
NODE_IDS = _ids = itertools.count()
_FLOAT = np.dtype(float)
_F64 = np.float64
_NO_PARAMS: dict[str, Any] = {}


class Node:
    """One vertex of the IR: an input, a constant, or a primitive applied to earlier nodes.

    Attributes:
        id: unique, increasing in creation order (so sorting by id is a topological order).
        prim: the :class:`~diffkit.primitive.Primitive` applied, or None for inputs and constants.
        inputs: the argument nodes, in argument order.
        params: static parameters of the primitive (axis, shape, index, ...).
        shape, dtype: of the value.
        value: the primal value recorded when the node was traced.
        name: the input's name (inputs only).
        partials: the local partials ∂value/∂inputᵢ (None for a constant operand), memoized
            when a tracing tape recorded scalar code on Python floats for a value being
            differentiated; None otherwise (the engines derive them).
        owner: leaves of the eager tape only (unset elsewhere): a weak reference to the Tensor
            whose current value this node is, which ``backward()`` hands the gradient to.
        _adjoint: an input's adjoint while :func:`~diffkit.sweeps.record_adjoints` runs (None
            outside it).
    """

    __slots__ = ("_adjoint", "dtype", "id", "inputs", "name", "owner", "params", "partials",
                 "prim", "shape", "value")

    def __init__(self, prim: Primitive | None, inputs: tuple[Node, ...], params: dict[str, Any],
                 value: Any, name: str | None = None) -> None:
        self.id = next(_ids)
        self.prim = prim
        self.inputs = inputs
        self.params = params
        self.name = name
        self.partials = self._adjoint = None
        kind = type(value)
        if kind is float or kind is _F64:  # scalars: the common case of scalar code, no lookups
            self.value = value
            self.shape, self.dtype = (), _FLOAT
            return
        if kind is list:  # a node holds arrays, never lists: NumPy's reading of the list
            value = np.asarray(value)
        self.value = value
        shape = getattr(value, "shape", ())
        self.shape = shape if type(shape) is tuple else tuple(shape)
        self.dtype = getattr(value, "dtype", None) or _scalar_dtype(value)

    def twin(self, inputs: tuple[Node, ...], value: Any) -> Node:
        """A node of the same operation over `inputs`, holding `value` (its shape and dtype this
        node's: `value` is this node's value, or a traced stand-in for it)."""
        node = Node.__new__(Node)
        node.id = next(_ids)
        node.prim, node.inputs, node.params, node.name = self.prim, inputs, self.params, self.name
        node.partials = node._adjoint = None
        node.value, node.shape, node.dtype = value, self.shape, self.dtype
        return node

    @property
    def op(self) -> str:
        """The primitive's name, or 'input' / 'const'."""
        if self.prim is not None:
            return self.prim.name
        return "input" if self.name is not None else "const"

    @property
    def is_input(self) -> bool:
        return self.prim is None and self.name is not None

    @property
    def is_const(self) -> bool:
        return self.prim is None and self.name is None

    @property
    def size(self) -> int:
        return math.prod(self.shape)

    def __repr__(self) -> str:
        return f"Node(#{self.id} {self.op} shape={self.shape})"


def _scalar_dtype(value: Any) -> np.dtype:
    if isinstance(value, complex):
        return np.dtype(complex)
    if isinstance(value, bool):
        return np.dtype(bool)
    return _FLOAT


class Traced:
    """Base class of values that record primitive applications (diffkit's Tensor).

    :func:`~diffkit.primitive.bind` looks for instances among a primitive's arguments and hands
    the application to the tape of the innermost one.
    """

    __slots__ = ()
    node: Node
    tape: Any


def held_value(t: Traced) -> Any:
    """The value traced value `t` holds, read without making a node for a scalar record (see
    :meth:`diffkit.tensor.Tape.scalar_record`)."""
    node = t._node  # type: ignore[attr-defined]
    return t._value if node is None else node.value  # type: ignore[attr-defined]


def node_of_record(r: Traced) -> Node:
    """The node of a scalar record `r` (see :meth:`diffkit.tensor.Tape.scalar_record`) whose
    operands have theirs: the same fields, and the id `r` drew when recorded (its place in
    creation order). Kept on `r`, which lets go of its operands (the node holds theirs)."""
    node = Node(r._prim, tuple(i if i.__class__ is Node else i._node  # type: ignore[attr-defined]
                               for i in r._inputs), _NO_PARAMS, r._value)  # type: ignore[attr-defined]
    node.id = r._id  # type: ignore[attr-defined]
    node.partials = r._partials  # type: ignore[attr-defined]
    r._node = node  # type: ignore[attr-defined]
    r._inputs = r._partials = None  # type: ignore[attr-defined]
    return node


def toposort(outputs: Sequence[Node]) -> list[Node]:
    """All nodes reachable from `outputs`, each after its inputs. Iterative: deep graphs are fine.

    A node is always created after its inputs, so increasing ids are a topological order: collect
    what is reachable, then sort by id.
    """
    seen = set(outputs)
    stack = list(seen)
    while stack:
        for child in stack.pop().inputs:
            if child not in seen:
                seen.add(child)
                stack.append(child)
    return sorted(seen, key=_by_id)


_by_id = operator.attrgetter("id")


def level_order(nodes: Iterable[Node]) -> list[Node]:
    """Nodes (given in a topological order) sorted by depth, then creation: the schedule the seeds
    print (every operation on inputs first, then what uses them, ...). Still topological."""
    depth: dict[Node, int] = {}
    levels: list[list[Node]] = []
    for n in nodes:
        d = 0
        if n.prim is not None:
            for i in n.inputs:
                di = depth.get(i, 0)
                if di >= d:
                    d = di + 1
        depth[n] = d
        while d >= len(levels):
            levels.append([])
        levels[d].append(n)
    return [n for level in levels for n in level]


def output_name(inputs: Iterable[str], also: Any = None) -> str:
    """The output's name in listings and traces: y; else f, out, _y, __y, … — the first that
    no input is called (nor, with `also`, a name for which ``also(name)`` is true)."""
    taken = set(inputs)
    for name in itertools.chain(("y", "f", "out"), ("_" * k + "y" for k in itertools.count(1))):
        if name not in taken and not (also is not None and also(name)):
            return name
    raise AssertionError("unreachable")


def _prefixes() -> Iterable[str]:
    """The letters a listing may number its variables with: v (the seeds'), then others."""
    return itertools.chain("vwutsrqpk", ("v" + "_" * k for k in itertools.count(1)))


def variable_prefix(inputs: Iterable[str]) -> str:
    """The letter listings and traces number their variables with: v (v-1, v0, v1, … as the
    seeds write them), unless an input's name reads as one of those (an input ``v1``: then w,
    or the first of u, t, … that none does)."""
    inputs = list(inputs)
    return next(p for p in _prefixes() if not any(_numbered(p, n) for n in inputs))


def _numbered(prefix: str, name: str) -> bool:
    """Whether `name` reads as one of a listing's variables with this prefix (v-1, v0, v12)."""
    rest = name[len(prefix):] if name.startswith(prefix) else ""
    return bool(rest) and rest.lstrip("-").isdigit() and rest.isascii()


class Graph:
    """A traced function: input nodes, one output node, and every node it needs.

    ``nodes`` is in creation order (topological: what the engines need); ``schedule`` is the same
    nodes in the seeds' level order (what listings, traces and drawings number and print).
    ``value_dependent`` is True when the traced Python code branched on a traced value or read a
    number out of one (``if x > 0``, ``int(n)``): the graph then holds at this point only.
    """

    __slots__ = ("_index", "_nodes", "_output", "_schedule", "checks", "forms", "inputs",
                 "pieces", "recorded", "recorded_output", "structure", "value_dependent")

    def __init__(self, inputs: Sequence[Node], output: Any, value_dependent: bool = False,
                 recorded: Sequence[Any] | None = None, nodes: Sequence[Node] | None = None
                 ) -> None:
        self.inputs = tuple(inputs)
        #: the output as recorded: its node, or a tracing tape's scalar record (a Tensor: see
        #: :meth:`diffkit.tensor.Tape.scalar_record`), whose node ``output`` makes when asked
        self.recorded_output = output
        self._output = output if output.__class__ is Node else None
        if self._output is not None:  # a node output: no record reaches it (a node made
            # while records are kept is a leaf, an input or a constant; see Tape.scalar_record)
            recorded = None
        self.value_dependent = value_dependent
        #: what the traced body returned (:func:`~diffkit.function.output_pieces`): its shape,
        #: or its pieces' nested as a tuple or list held them (None where not traced from one)
        self.structure: Any = None
        #: how a call gives back what the traced body returned (:func:`~diffkit.function.
        #: output_forms`): each piece's type, dtype, or the constant it was (None: not traced)
        self.forms: Any = None
        #: the nodes of its traced pieces, in order, where the body returned a tuple or list
        #: (:func:`~diffkit.function.output_forms`): a replay gives each back as it is
        self.pieces: tuple[Node, ...] | None = None
        #: (node, message) checks a replay runs though the output may not need the node
        #: (:func:`~diffkit.tensor.note_check`): a derivative's primal with a restricted domain,
        #: a differentiated input that must be finite
        self.checks: tuple[tuple[Node, Any], ...] = ()
        #: the tape's scalar records, in order (a topological order; None for array code): the
        #: scalar reverse sweep walks them from ``recorded_output`` and skips what it does not
        #: reach, without making a node
        self.recorded = recorded
        #: ``nodes`` where the caller has them in that order already (else found when asked)
        self._nodes: tuple[Node, ...] | None = None if nodes is None else tuple(nodes)
        self._index: dict[int, str] | None = None
        self._schedule: tuple[Node, ...] | None = None

    @property
    def output(self) -> Node:
        """The output node. A trace of scalar code makes its nodes from its records here, on
        first use, in the order recorded (operands first), letting go of each record as it
        goes: the nodes replace the records (:func:`node_of_record`)."""
        out = self._output
        if out is None:
            records = self.recorded
            if records is not None:
                self.recorded = None
                for k, r in enumerate(records):
                    if r is not None and r._node is None:
                        node_of_record(r)
                    records[k] = None
            out = self._output = self.recorded_output.node
            self.recorded_output = out
        return out

    def __getstate__(self) -> tuple[None, dict[str, Any]]:
        """What copies and pickles take: the nodes (a trace's records, values of a closed
        tape, are made into nodes first, so that no copy holds a traced value or shares the
        list of records that making the nodes empties)."""
        self.output  # noqa: B018 - made from the records, which it replaces
        return None, {slot: getattr(self, slot) for slot in Graph.__slots__}

    @property
    def output_value(self) -> Any:
        """The output's value, read without making its node."""
        out = self.recorded_output
        return out.value if out.__class__ is Node else held_value(out)

    @property
    def nodes(self) -> tuple[Node, ...]:
        """The inputs, then every node the output depends on, in creation order (lazy: the
        scalar reverse sweep does not need it)."""
        if self._nodes is None:
            reachable = toposort([self.output])
            input_ids = {n.id for n in self.inputs}
            self._nodes = self.inputs + tuple(n for n in reachable if n.id not in input_ids)
        return self._nodes

    def __len__(self) -> int:
        return len(self.nodes)

    @property
    def schedule(self) -> tuple[Node, ...]:
        """The nodes in level order (inputs, then v1, v2, … as the seeds number them); lazy, since
        only display needs it."""
        if self._schedule is None:
            k = len(self.inputs)
            self._schedule = self.nodes[:k] + tuple(level_order(self.nodes[k:]))
        return self._schedule

    @property
    def operations(self) -> list[Node]:
        """The nodes that apply a primitive (no inputs, no constants), in level order."""
        return [n for n in self.schedule if n.prim is not None]

    def names(self) -> dict[int, str]:
        """Node id -> the seeds' variable name: inputs v₋ₙ₊₁…v₀, operations v1, v2, …"""
        if self._index is None:
            k = len(self.inputs)
            index = {n.id: f"v{i - k + 1}" for i, n in enumerate(self.inputs)}
            count = 0
            for n in self.schedule:
                if n.prim is not None:
                    count += 1
                    index[n.id] = f"v{count}"
            self._index = index
        return self._index

    def variable_names(self) -> dict[int, str]:
        """:meth:`names` with the letter no input's name reads as (:func:`variable_prefix`):
        v-1, v0, v1, … — or w-1, w0, w1, … beside an input called v1. Listings and traces
        name their variables so."""
        names = self.names()
        prefix = variable_prefix(n.name for n in self.inputs)
        return names if prefix == "v" else {k: prefix + v[1:] for k, v in names.items()}

    def listing(self, values: bool = True) -> str:
        """A readable listing in the seeds' notation, one line per variable (like a jaxpr).

        No name means two things: the output is ``y`` unless an input is called so (then the
        first of f, out, _y, … that none is), and the variables are v-1, v0, v1, … unless an
        input has such a name (``v1``: then w-1, w0, w1, … or the first letter free)."""
        names = self.variable_names()
        inputs = [n.name for n in self.inputs]
        lines = []
        for n in self.schedule:
            if n.is_const:
                continue
            line = f"{names[n.id]} = {n.name if n.is_input else describe_node(n, names)}"
            if values and not isinstance(n.value, Traced):
                line = f"{line:<34} = {format_value(n.value)}"
            lines.append(line)
        out = names.get(self.output.id)
        if out is None:  # the output is a constant
            out = format_value(self.output.value)
        lines.append(f"{output_name(inputs)} = {out}")
        return "\n".join(lines)

    def __repr__(self) -> str:
        return self.listing()
