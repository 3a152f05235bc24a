"""The expression IR: immutable nodes, graphs in topological order, and the tracing Tensor.

A graph is a DAG of primitive applications. Nodes are created once and never changed: engines keep
their own side tables (values, memoized partials, tangents, adjoints) keyed by node. A node may carry
the primal value it had when it was traced (``node.value``); engines read it, never write it.

Every primitive application goes through :func:`bind`. With plain arrays it evaluates at once; with a
:class:`Tensor` among the arguments it records a node on that tensor's tape. Tapes nest (a tape's
values may themselves be tensors of an outer tape), which is how derivatives of derivatives work.
"""

from __future__ import annotations

import gc
import itertools
import math
import operator
import weakref
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from .backend import array_namespace
from .errors import ArityError, DomainError, ShapeError, TracingError

if TYPE_CHECKING:
    from .primitives import Primitive

_ids = itertools.count()
_FLOAT = np.dtype(float)


class Node:
    """One vertex of the IR: an input, a constant, or a primitive applied to earlier nodes.

    Attributes:
        id: unique, increasing in creation order (so sorting by id is a topological order).
        prim: the :class:`~diffkit.primitives.Primitive` applied, or None for inputs and constants.
        inputs: the argument nodes, in argument order.
        params: static parameters of the primitive (axis, shape, index, ...).
        shape, dtype: of the value.
        value: the primal value recorded when the node was traced (None in abstract graphs).
        name: the input's name (inputs only).
    """

    __slots__ = ("dtype", "id", "inputs", "name", "params", "prim", "shape", "value")

    def __init__(
        self,
        prim: Primitive | None,
        inputs: tuple[Node, ...],
        params: dict[str, Any],
        value: Any,
        name: str | None = None,
        shape: tuple[int, ...] | None = None,
        dtype: Any = None,
    ) -> None:
        self.id = next(_ids)
        self.prim = prim
        self.inputs = inputs
        self.params = params
        self.value = value
        self.name = name
        if shape is None:
            try:
                shape = value.shape
            except AttributeError:
                shape = ()
        self.shape = shape if type(shape) is tuple else tuple(shape)
        self.dtype = dtype if dtype is not None else getattr(value, "dtype", _FLOAT)

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


class Graph:
    """A traced function: input nodes, one output node, and every node it needs.

    ``nodes`` is in creation order (topological: what the engines need); ``schedule`` is the same
    nodes in the seeds' level order (what listings, traces and drawings number and print).
    ``value_dependent`` is True when the traced Python code branched on a traced value (``if x > 0``),
    so the graph is only valid at the point it was traced at.
    """

    __slots__ = ("_index", "_schedule", "inputs", "nodes", "output", "plans", "value_dependent")

    def __init__(self, inputs: Sequence[Node], output: Node, value_dependent: bool = False) -> None:
        self.inputs = tuple(inputs)
        self.output = output
        reachable = toposort([output])
        input_ids = {n.id for n in self.inputs}
        self.nodes = tuple(self.inputs) + tuple(n for n in reachable if n.id not in input_ids)
        self.value_dependent = value_dependent
        self._index: dict[int, str] | None = None
        self._schedule: tuple[Node, ...] | None = None
        self.plans: dict[Any, Any] = {}  # engines' per-graph plans (e.g. what a replay must compute)

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

    def listing(self, values: bool = True) -> str:
        """A readable listing in the seeds' notation, one line per variable (like a jaxpr)."""
        from .display import describe_node, format_value

        names = self.names()
        lines = []
        for n in self.schedule:
            if n.is_const:
                continue
            lhs = names[n.id]
            rhs = n.name if n.is_input else describe_node(n, names)
            line = f"{lhs} = {rhs}"
            if values and n.value is not None and not isinstance(n.value, Tensor):
                line = f"{line:<34} = {format_value(n.value)}"
            lines.append(line)
        out = names.get(self.output.id)
        if out is None:  # output is a constant or an input used directly
            out = describe_node(self.output, names) if self.output.prim else format_value(self.output.value)
        lines.append(f"y = {out}")
        return "\n".join(lines)

    def __repr__(self) -> str:
        return self.listing()


# --------------------------------------------------------------------------------------------
# Tracing


class Tape:
    """A tracing context. Tensors of a deeper tape may hold tensors of shallower tapes as values."""

    __slots__ = ("consts", "level", "value_dependent")

    def __init__(self, level: int) -> None:
        self.level = level
        self.value_dependent = False
        self.consts: dict[int, tuple[Any, Node]] = {}  # id(value) -> (value, its const node)

    def const(self, value: Any) -> Node:
        """The constant node for `value` (one per distinct object on this tape)."""
        hit = self.consts.get(id(value))
        if hit is not None and hit[0] is value:
            return hit[1]
        node = Node(None, (), _NO_PARAMS, value)
        if self.level > 0:  # the eager tape lives forever: do not pin its constants
            self.consts[id(value)] = (value, node)
        return node

    def record(self, prim: Primitive, args: Sequence[Any], params: dict[str, Any]) -> Tensor:
        nodes = []
        vals = []
        for a in args:
            if type(a) is Tensor and a.tape is self:
                node = a.node
                nodes.append(node)
                vals.append(node.value)
            else:
                nodes.append(self.const(a))
                vals.append(a)
        for v in vals:
            if type(v) is Tensor:  # nested tracing: the value is itself traced on an outer tape
                value = bind(prim, *vals, **params)
                break
        else:
            try:
                value = prim.impl(array_namespace(*vals), *vals, **params)
            except FloatingPointError as exc:
                raise DomainError(_domain_message(prim, vals, exc)) from None
            except ValueError as exc:
                raise _shape_error(prim, vals, exc) from None
        return Tensor(Node(prim, tuple(nodes), params, value), self)


_NO_PARAMS: dict[str, Any] = {}


class new_tape:
    """Context manager handing out a tape one level deeper than any active one."""

    _active = 0

    def __enter__(self) -> Tape:
        new_tape._active += 1
        self.tape = Tape(new_tape._active)
        # Tracing allocates many small acyclic objects; the cyclic collector would rescan them
        # over and over (quadratic on long traces), so it pauses while the outermost tape records.
        self.gc_was_enabled = gc.isenabled() and new_tape._active == 1
        if self.gc_was_enabled:
            gc.disable()
        return self.tape

    def __exit__(self, *exc: object) -> None:
        new_tape._active -= 1
        if self.gc_was_enabled:
            gc.enable()


class paused_gc:
    """Pause the cyclic garbage collector (graphs are acyclic; rescanning them is wasted time)."""

    def __enter__(self) -> None:
        self.was_enabled = gc.isenabled()
        if self.was_enabled:
            gc.disable()

    def __exit__(self, *exc: object) -> None:
        if self.was_enabled:
            gc.enable()


# The tape of eagerly recorded tensors (neural-net parameters and what is computed from them).
EAGER_TAPE = Tape(0)


class Tensor:
    """A traced value: a node of the IR plus the tape it was recorded on.

    Inside a function diffkit traces, every argument is a Tensor; operators and ``dk.*`` functions
    on Tensors record nodes. Neural-net parameters are Tensors on the eager tape, and
    :meth:`backward` runs the reverse engine from them.
    """

    __slots__ = ("__weakref__", "grad", "node", "requires_grad", "tape")
    __array_priority__ = 1000

    def __init__(self, node: Node, tape: Tape = EAGER_TAPE, requires_grad: bool = False) -> None:
        self.node = node
        self.tape = tape
        self.grad: Any = None
        self.requires_grad = requires_grad

    @property
    def value(self) -> Any:
        """The primal value (a NumPy/CuPy array or scalar; a Tensor of an outer tape when nested)."""
        return self.node.value

    data = value

    @property
    def shape(self) -> tuple[int, ...]:
        return self.node.shape

    @property
    def ndim(self) -> int:
        return len(self.node.shape)

    @property
    def size(self) -> int:
        return self.node.size

    @property
    def dtype(self) -> Any:
        return self.node.dtype

    def __len__(self) -> int:
        if not self.node.shape:
            raise TypeError("len() of a 0-d Tensor")
        return self.node.shape[0]

    def __bool__(self) -> bool:
        self.tape.value_dependent = True
        return bool(self.node.value)

    def __float__(self) -> float:
        self.tape.value_dependent = True
        return float(self.node.value)

    def __int__(self) -> int:
        self.tape.value_dependent = True
        return int(self.node.value)

    def __index__(self) -> int:
        self.tape.value_dependent = True
        return int(self.node.value)

    def __hash__(self) -> int:
        return id(self)

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        raise TracingError(
            "a diffkit Tensor was turned into a NumPy array inside a traced function, which would "
            "cut it out of the graph; use diffkit's operations (dk.sin, dk.sum, @, ...) on it, or "
            "take .value for a plain array"
        )

    def __repr__(self) -> str:
        return f"Tensor({self.node.value!r}, shape={self.shape})"

    def item(self) -> float:
        """The value of a one-element tensor as a Python float."""
        return float(np.asarray(self.node.value).reshape(()))

    def numpy(self) -> Any:
        """The value as a NumPy array (copied from the GPU if needed)."""
        from .backend import to_numpy

        return to_numpy(self.node.value)

    def backward(self, gradient: Any = None) -> None:
        """Reverse sweep from this tensor; adds d(self)/d(leaf) to ``.grad`` of leaves that require it."""
        from .engines.reverse import backward_to_leaves

        backward_to_leaves(self, gradient)


#: Leaf tensors by node id, so that backward() can hand gradients to them.
leaf_tensors: weakref.WeakValueDictionary[int, Tensor] = weakref.WeakValueDictionary()


def tensor(value: Any, requires_grad: bool = False, name: str = "leaf") -> Tensor:
    """An eager Tensor (a leaf of the eager tape), e.g. a parameter of a model."""
    node = Node(None, (), {}, value, name=name)
    t = Tensor(node, EAGER_TAPE, requires_grad)
    leaf_tensors[node.id] = t
    return t


def bind(prim: Primitive, *args: Any, **params: Any) -> Any:
    """Apply `prim`: evaluate plain arrays now, or record on the innermost tape among the arguments."""
    top = None
    for a in args:
        if type(a) is Tensor and (top is None or a.tape.level > top.tape.level):
            top = a
    if prim.nargs is not None and len(args) != prim.nargs:
        raise ArityError(f"{prim.name} takes {prim.nargs} argument(s), got {len(args)}")
    if top is None:
        try:
            return prim.impl(array_namespace(*args), *args, **params)
        except FloatingPointError as exc:
            raise DomainError(_domain_message(prim, args, exc)) from None
        except ValueError as exc:
            raise _shape_error(prim, args, exc) from None
    return top.tape.record(prim, args, params)


def _shape_error(prim: Primitive, args: Sequence[Any], exc: Exception) -> Exception:
    shapes = ", ".join(str(tuple(getattr(a, "shape", None) or np.shape(a))) for a in args)
    return ShapeError(f"{prim.name}: arguments of shapes {shapes} do not fit ({exc})")


def _domain_message(prim: Primitive, args: Iterable[Any], exc: Exception) -> str:
    shown = ", ".join(_short(a) for a in args)
    hint = f" ({prim.domain_text})" if prim.domain_text else ""
    return f"point outside the domain: {prim.name}({shown}) is not finite ({exc}){hint}"


def _short(a: Any) -> str:
    arr = np.asarray(a) if not hasattr(a, "get") else a
    if getattr(arr, "size", 1) <= 4:
        return np.array2string(np.asarray(arr), precision=6) if np.ndim(arr) else repr(float(arr))
    return f"array{tuple(arr.shape)}"
