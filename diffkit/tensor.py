"""Tracing: tapes that record primitive applications, and Tensor, the traced value users touch.

Inside a function diffkit differentiates, every input is a :class:`Tensor` on a fresh tape;
operators, ``dk.*`` functions and NumPy functions on Tensors record nodes of the IR. Tapes nest (a
tape's values may be Tensors of an outer tape), which is how derivatives of derivatives work.
Neural-net parameters are Tensors on the eager tape, and :meth:`Tensor.backward` runs the reverse
sweep from them, as in PyTorch.

A Tensor knows whether it depends on a value being differentiated (``requires_grad``). Inside a
traced function, turning such a Tensor into a Python number (``float()``, ``int()``,
``math.sin``, ``.item()``) would cut it out of the graph and freeze its derivative without a word,
so it raises :class:`~diffkit.errors.TracingError` naming the line. Branching on a traced value
(``if x > 0``) is allowed: the trace then holds at this point only, and is marked value-dependent.
The eager tape follows PyTorch: reading a number out of a Tensor there detaches it.
"""

from __future__ import annotations

import copy
import gc
import itertools
import linecache
import math
import operator
import os
import sys
import threading
import weakref
from collections.abc import Callable, Iterator, Sequence
from sys import getrefcount
from threading import get_ident
from typing import Any

import numpy as np

from . import float_rules, ops, recorders, ufunc_methods
from . import primitives as P
from .backend import array_namespace
from .errors import (
    DomainError,
    InputTypeError,
    MissingRuleError,
    NonDifferentiableError,
    ShapeError,
    TracedAttributeError,
    TracedHashError,
    TracedMutationAttributeError,
    TracedMutationError,
    TracingError,
    user_frame,
)
from .ir import NODE_IDS as _node_ids
from .ir import Node, Traced, held_value, node_of_record, toposort

_F64 = np.float64
_FLOAT = np.dtype(float)
_NO_PARAMS: dict[str, Any] = {}
from .primitive import (
    MINUS_ONE,
    NUMPY_NAME_LISTENERS,
    NUMPY_NAMES,
    NUMPY_OBJECTS,
    ONE,
    PUBLIC,
    REGISTRY,
    SCIPY_NAMES,
    STRONG_ZERO,
    Primitive,
    bind,
    finite,
)
from .primitives.declare import check_casting
from .sweeps import adjoint_sweep, linearize_all, scalar_adjoints


class Tape:
    """A tracing context. Tensors of a deeper tape may hold Tensors of shallower tapes as values.

    Attributes:
        level: 0 for the eager tape; a tracing tape's place in creation order (1, 2, …, for
            the whole process: see :class:`new_tape`).
        value_dependent: set when the traced code read a number out of a traced value.
        closed: set when the trace ends; a Tensor of a closed tape used later is an error.
    """

    __slots__ = ("_value_dependent", "checks", "closed", "consts", "handed", "level", "nests",
                 "recorded")

    def __init__(self, level: int) -> None:
        self.level = level
        self.closed = False
        self.value_dependent = False
        self.consts: dict[Any, tuple[Any, Node]] = {}  # key (see const) -> (value, node)
        #: the nodes of scalar code, in the order recorded (a topological order): what the
        #: fused scalar sweep walks. None on the eager tape (its graphs come and go) and once
        #: array code is recorded (graph.nodes serves there; no dead arrays are kept alive).
        self.recorded: list[Node] | None = [] if level else None
        #: (copy, recorded value) of every array handed out of this trace (:func:`read_only`):
        #: compared when the trace ends
        self.handed: list[tuple[np.ndarray, np.ndarray]] | None = None
        #: the checks a replay of this trace runs whether or not the output needs the value
        #: (:func:`note_check`): None until a derivative is taken inside the trace
        self.checks: list[tuple[Tensor, Any]] | None = None
        #: set where an operation here applied a primitive to an outer trace's values (a
        #: derivative inside a trace): the graph's checks then reach that trace
        self.nests = False

    @property
    def value_dependent(self) -> bool:
        return self._value_dependent

    @value_dependent.setter
    def value_dependent(self, read: bool) -> None:
        """Every read of a number out of this tape's values marks it (argmax, argsort, nonzero,
        isclose, a branch, int(), …): the one place where a read of a trace that has ended (a
        value kept in a global during an earlier call) is refused, with :data:`_ESCAPED`, never
        answered with that call's numbers."""
        if read and self.closed:
            raise TracingError(_ESCAPED)
        self._value_dependent = read

    def hand_out(self, given: np.ndarray, kept: np.ndarray) -> None:
        """Note an array `given` out of this trace beside `kept`, what it must still equal when
        the trace ends (:func:`read_only`; ``Tensor.__array__``): a write that got past its
        read-only flag is found then (:class:`new_tape`)."""
        if self.handed is None:
            self.handed = []
        self.handed.append((given, kept))

    def const(self, value: Any) -> Node:
        """The constant node for `value`, holding it as it is now.

        A graph holds values, not the caller's buffers: an array that can still be written is
        copied (:func:`_held_value`), so code that writes into it after using it (a workspace
        reused in a loop, a mask cleared, a constant updated before ``backward()``) leaves the
        recorded value as the operation read it — the engines differentiate what was computed.
        (Held by reference, every exact method answered with the array's later contents.) On a
        tracing tape an array is copied once: used again (found by its memory: ``A.T`` made
        anew at each use is the same constant), it is compared with the copy; a number,
        immutable, has one node per object. The eager tape, which lives forever, keeps none."""
        if type(value) is not np.ndarray:
            hit = self.consts.get(id(value))
            if hit is not None and hit[0] is value:
                return hit[1]
            held = own_copy(value)  # a list's or tuple's arrays copied
            node = Node(None, (), {}, held)
            if self.level > 0 and held is value:  # immutable: the same value at every use
                self.consts[id(value)] = (value, node)
            return node
        if not self.level:
            return Node(None, (), {}, _held_value(value))
        key = (value.__array_interface__["data"][0], value.shape, value.strides, value.dtype.str)
        hit = self.consts.get(key)
        if hit is not None and _unchanged(hit[1].value, value):
            return hit[1]  # an array used again as it was
        node = Node(None, (), {}, _held_value(value))
        self.consts[key] = (value, node)
        return node

    def raised(self) -> None:
        """Note that an operation on this tape's values raised (log of a negative, an overflow,
        a singular matrix): code that catches it (``try: y = log(x) except DomainError: …``)
        takes a branch the values decided, so the trace holds at this point only, as for
        ``if x > 0`` (a ``dk.jit`` function traced at such a point replayed the branch
        everywhere)."""
        if self.level:
            self.value_dependent = True

    def _evaluated(self, prim: Primitive, scalars: tuple[Any, ...]) -> Any:
        """NumPy's value of scalar code, or its named error (noted: :meth:`raised`)."""
        try:
            return prim.evaluate(np, scalars, _NO_PARAMS)
        except Exception:
            self.raised()
            raise

    def record(self, prim: Primitive, args: Sequence[Any], params: dict[str, Any]) -> Tensor:
        if not params:  # scalar code first: the same steps as below, unrolled (Python operators)
            fast = self._record_scalar(prim, args)
            if fast is not None:
                return fast
        return self.record_general(prim, args, params)

    def record_general(self, prim: Primitive, args: Sequence[Any], params: dict[str, Any]
                       ) -> Tensor:
        """:meth:`record` without its scalar-code shortcuts: NumPy's value or its named error
        (what Tensor's operators hand on where the float form raised or is not finite)."""
        if self.closed:
            raise TracingError(_ESCAPED)
        entries = []  # per argument: a scalar record of this tape, or a node
        vals = []
        active = False
        scalar = True  # every value a float64 scalar (scalar code)
        for a in args:
            if type(a) is Tensor and a.tape is self:
                node = a._node
                if node is None:  # a scalar record: itself (its node is made only if needed)
                    entries.append(a)
                    v = a._value
                else:
                    if not a.requires_grad and node.prim is None and not self.level:
                        node = _recorded_leaf(node)
                    entries.append(node)
                    v = node.value
                if type(v) is float:  # traced scalar code runs on Python floats, where NumPy
                    v = _F64(v)  # holds a float64 (strong): float32 arrays promote to float64
                if a.requires_grad:
                    active = True
            else:
                entries.append(self.const(a))
                v = a
                if type(v) is int:  # a Python int beside float64 scalars: NumPy reads it as
                    vals.append(v)  # a float (weakly typed), so the code stays scalar code
                    continue
            vals.append(v)
            if type(v) is not _F64 and type(v) is not float:
                scalar = False
        try:
            if scalar:
                value = prim.evaluate(np, vals, params)
            elif any(type(v) is Tensor for v in vals):  # the values are traced on an outer tape
                self.nests = True
                value = bind(prim, *vals, **params)
            else:
                value = prim.evaluate(array_namespace(*vals), vals, params)
        except Exception:
            self.raised()
            raise
        if not self.level and NO_GRAD_THREADS and get_ident() in NO_GRAD_THREADS:
            out = _constant(value)
        else:
            active = active and prim.differentiable
            if self.level and scalar and not params and type(value) in _RECORD_VALUES:
                return self.scalar_record(prim, tuple(entries), value, active)
            nodes = tuple(e if e.__class__ is Node else e.node for e in entries)
            # static parameters as they are now (an index array the code overwrites later)
            node = Node(prim, nodes, {k: own_copy(v) for k, v in params.items()} if params
                        else params, value)
            self.recorded = None  # a node that is no scalar record: the general sweeps
            out = Tensor(node, self, active)
        view = _VIEW_PRIMITIVES.get(prim)  # NumPy's result may be a view of the first operand
        if view is not None and _is_view(value, vals[0] if vals else None, prim, params):
            _view(args[0], out, view)
        return out

    def scalar_record(self, prim: Primitive, inputs: tuple[Any, ...], value: Any, active: bool
                      ) -> Tensor:
        """The Tensor for `prim` applied to `inputs`, valued `value`, as a *scalar record*.

        Scalar code on a tracing tape records one object per operation: the Tensor the code
        holds is also the record the reverse sweep walks (its primitive, operands, value and
        local partials, memoized for a value being differentiated), and the IR node is made
        only when something asks for it (:attr:`Tensor.node`: the engines other than the
        scalar sweep, drawings, array code). An operand (`inputs`) is a scalar record or a node
        (a constant's is made when it is first used: ids stay a topological order). The tape
        keeps its records in order (``recorded``, a topological order) for
        :func:`~diffkit.sweeps.record_adjoints` while every value that is not a leaf is a
        record: a node made for a record, or any other node, ends that
        (``recorded`` becomes None; the general sweeps then run on the nodes)."""
        t = _new_tensor(Tensor)
        t._node = None
        t.tape = self
        t.grad = t._adjoint = None
        t.requires_grad = active
        t._id = next(_node_ids)
        t._prim = prim
        t._inputs = inputs
        t._partials = None  # derived by the sweep (the printed recorders memoize theirs)
        t._value = value
        recorded = self.recorded
        if recorded is not None:
            recorded.append(t)
        return t

    def _record_scalar(self, prim: Primitive, args: Sequence[Any]) -> Tensor | None:
        """`record` for scalar code — one or two real float64 scalars, a Tensor of this tape and
        at most one plain number — or None for anything else (the general path).

        On a tracing tape (level ≥ 1), a primitive with a Python-float form
        (:attr:`~diffkit.primitive.Primitive.on_floats`: ``+ − × ÷ **`` and comparisons,
        recorded by Tensor's printed operators, and the one-argument forms) runs on Python
        floats, and a
        record that depends on a value being differentiated memoizes its local partials,
        computed by the same rules on the same floats: the reverse sweep then only multiplies
        and adds. An error or a non-finite value goes the NumPy way below, which gives NumPy's
        value or the named error. The eager tape and the other primitives use NumPy scalars
        (Python operators on them are the ufuncs)."""
        if len(args) == 1:
            return self.unary(prim, args[0])
        if len(args) != 2:
            return None
        a, b = args
        ops = ARITHMETIC.get(prim) if self.level else None
        if ops is not None:  # Tensor's operator records scalar code on floats (np.add(x, y))
            if _float_of(a, self) and (type(b) is float or _float_of(b, self)):
                return ops[0](a, b)
            if type(a) is float and _float_of(b, self):
                return ops[1](b, a)
        return self.binary(prim, a, b)

    def unary(self, prim: Primitive, a: Any) -> Tensor | None:
        """:meth:`_record_scalar` for one argument (what ``dk.sin(x)`` calls directly): on a
        tracing tape, a primitive with a float form records by its printed recorder
        (:func:`unary_recorder`); the rest by :meth:`unary_numpy`."""
        if self.level and type(a) is Tensor and a.tape is self:
            record = prim.scalar_recorder or unary_recorder(prim)
            if record is not None:
                return record(a)
        return self.unary_numpy(prim, a)

    def unary_numpy(self, prim: Primitive, a: Any) -> Tensor | None:
        """:meth:`unary` on NumPy scalars: the eager tape's scalar code, and on a tracing tape
        what the recorder hands on (an error or a non-finite value, which NumPy gives its value
        or its named error; a primitive without a float form); None where `a` is no scalar of
        this tape (the general path)."""
        if self.closed:
            raise TracingError(_ESCAPED)
        if type(a) is not Tensor or a.tape is not self:
            return None
        node = a._node
        if node is None:
            entry = a
            v = a._value
        else:
            entry = node
            v = node.value
        if type(v) is not _F64 and type(v) is not float:
            return None
        active = a.requires_grad and prim.differentiable
        try:
            value = prim.impl(np, v)
        except Exception:  # noqa: BLE001 - evaluate raises the named error
            value = self._evaluated(prim, (v,))
        if not self.level:
            if NO_GRAD_THREADS and get_ident() in NO_GRAD_THREADS:
                return _constant(value)
            if not a.requires_grad and node.prim is None:
                node = _recorded_leaf(node)
            return Tensor(Node(prim, (node,), _NO_PARAMS, value), self, active)
        if type(value) in _RECORD_VALUES:
            return self.scalar_record(prim, (entry,), value, active)
        self.recorded = None
        return Tensor(Node(prim, (a.node,), _NO_PARAMS, value), self, active)

    def binary(self, prim: Primitive, a: Any, b: Any) -> Tensor | None:
        """:meth:`_record_scalar` for two arguments in NumPy scalars: the eager tape's scalar
        code, and on a tracing tape what Tensor's operators (:func:`_arithmetic`, which record
        Python floats themselves) hand on: an error or a non-finite value, which NumPy gives its
        value or its named error."""
        if self.closed:
            raise TracingError(_ESCAPED)
        op = prim.scalar_operator
        if op is None:
            return None
        if type(a) is Tensor:
            if a.tape is not self:
                return None
            ea = a._node
            if ea is None:
                ea, va = a, a._value
            else:
                va = ea.value
            if type(b) is float:
                eb, vb, active = self.const(b), b, a.requires_grad
            elif type(b) is Tensor and b.tape is self:
                eb = b._node
                if eb is None:
                    eb, vb = b, b._value
                else:
                    vb = eb.value
                active = a.requires_grad or b.requires_grad
            else:
                return None
        elif type(a) is float and type(b) is Tensor and b.tape is self:
            eb = b._node
            if eb is None:
                eb, vb = b, b._value
            else:
                vb = eb.value
            ea, va, active = self.const(a), a, b.requires_grad
        else:
            return None
        if (type(va) is not _F64 and type(va) is not float) or (
                type(vb) is not _F64 and type(vb) is not float):
            return None
        if type(va) is not _F64 and type(vb) is not _F64:  # a NumPy scalar decides the type
            va = _F64(va)
        try:
            value = op(va, vb)
        except FloatingPointError:
            value = self._evaluated(prim, (va, vb))
        active = active and prim.differentiable
        if self.level:
            if type(value) in _RECORD_VALUES:
                return self.scalar_record(prim, (ea, eb), value, active)
            self.recorded = None
        elif NO_GRAD_THREADS and get_ident() in NO_GRAD_THREADS:
            return _constant(value)
        else:  # the eager tape: ea and eb are nodes
            if ea.prim is None and not (type(a) is Tensor and a.requires_grad):
                ea = _recorded_leaf(ea)
            if eb.prim is None and not (type(b) is Tensor and b.requires_grad):
                eb = _recorded_leaf(eb)
            return Tensor(Node(prim, (ea, eb), _NO_PARAMS, value), self, active)
        return Tensor(Node(prim, (ea if ea.__class__ is Node else ea.node,
                                  eb if eb.__class__ is Node else eb.node), _NO_PARAMS, value),
                      self, active)


def note_check(t: Any, message: str | FiniteDerivative | None = None) -> None:
    """Keep a check of traced value `t` on its tape, which every replay of the trace and its
    generated code run, also where the output does not need `t` (a derivative's primal is
    dead: the gradient of log x reads only 1/x). `message` None: `t` applies a primitive with a
    restricted domain (log x, the record's ``valid`` test), checked by applying it again;
    a str: `t` must be finite, or a DomainError with `message` (a differentiated input: diffkit
    differentiates at finite points only); a :class:`FiniteDerivative`: `t`, a derivative, must
    be finite, or its NonDifferentiableError. Nothing for a value that is not traced."""
    if type(t) is not Tensor or not t.tape.level or t.tape.closed:
        return
    tape = t.tape
    if tape.checks is None:
        tape.checks = []
    tape.checks.append((t, message))


def data_message(text: str, names: Sequence[str]) -> str:
    """`text` (a derivative is not finite) with the inputs not differentiated that hold NaN or
    inf named: the likeliest cause (``dk.grad``'s call and a replay of one say the same)."""
    return (f"{text} — input(s) {', '.join(repr(n) for n in names)}, not differentiated, hold "
            "NaN or inf: where such a value meets a differentiated one (w * d), the derivative "
            "is NaN even where the result masks it (np.nansum): clean the data first, e.g. "
            "np.where(np.isnan(d), 0.0, d)")


class FiniteDerivative:
    """The message of a check (:func:`note_check`) that a derivative taken inside a trace is
    finite — the test ``dk.grad`` runs on its result at a call: else a NonDifferentiableError
    with `message`, naming the inputs in `data` (name, value: not differentiated) that hold
    NaN or inf, so that a replay of the trace refuses where a fresh call refuses."""

    __slots__ = ("data", "message")

    def __init__(self, message: str, data: tuple[tuple[str, Any], ...] = ()) -> None:
        self.message = message
        self.data = data

    def map(self, f: Callable[[Any], Any]) -> FiniteDerivative:
        """The same check with `f` applied to each data value (a tensor to its node, a node
        to its replay's reference, a reference to its value)."""
        return FiniteDerivative(self.message, tuple((n, f(v)) for n, v in self.data))

    def error(self) -> NonDifferentiableError:
        """The error where the derivative is not finite (data values concrete)."""
        xp_finite = [n for n, v in self.data if v is not None and not _finite_value(v)]
        return NonDifferentiableError(data_message(self.message, xp_finite) if xp_finite
                                      else self.message)


def _finite_value(v: Any) -> bool:
    if type(v) is Tensor:  # traced (a derivative of the replay): not known here
        return True
    try:
        return finite(v)
    except (TypeError, ValueError):  # not a number (an object given as is)
        return True


def _recorded_leaf(node: Node) -> Node:
    """What an eager graph records for leaf `node` used while its Tensor does not require grad:
    a constant of that graph — a node of the same value that names no Tensor (PyTorch's rule:
    whether a leaf requires grad is decided when the operation is recorded, so setting
    ``requires_grad`` later never reaches into graphs recorded before). A constant, as it is."""
    return node if getattr(node, "owner", None) is None else node.twin((), node.value)


#: the values a scalar record holds (0-d: float64 numbers and NumPy's booleans of comparisons)
_RECORD_VALUES = frozenset((float, _F64, np.bool_))


def _materialize(t: Tensor) -> Node:
    """The IR node of scalar record `t`, made with those of the records it reads (operands
    first; iterative: deep chains are fine) and kept on each; a record made into a node lets
    go of its operands (the node holds theirs). A node made while the tape still records ends
    the tape's record of scalar code (:meth:`Tape.scalar_record`): from then on the general
    sweeps run on the nodes."""
    tape = t.tape
    if not tape.closed:
        tape.recorded = None
    stack = [t]
    while stack:
        r = stack[-1]
        if r._node is not None:
            stack.pop()
            continue
        todo = [i for i in r._inputs if type(i) is Tensor and i._node is None]
        if todo:
            stack.extend(todo)
            continue
        stack.pop()
        node_of_record(r)
    return t._node


def _float_of(x: Any, tape: Tape) -> bool:
    """Whether `x` is a Tensor of `tape` holding a real float64 scalar (scalar code on a tracing
    tape: a Python float, or an input's NumPy float64)."""
    return type(x) is Tensor and x.tape is tape and (
        type(v := held_value(x)) is float or type(v) is _F64)


def _held_value(value: np.ndarray) -> np.ndarray:
    """What a constant node holds for the array `value`: a copy where it can still be written
    (its own writeable memory, or a writeable view), else `value` itself — a read-only array
    (``broadcast_to``, ``sliding_window_view``: copying would materialize it; a write into its
    base after use is the one change a trace does not see)."""
    return value if not value.flags.writeable else value.copy(order="K")


def _unchanged(held: Any, value: Any) -> bool:
    """Whether an array a tape copied still has the contents of its copy (a read, no copy):
    equal numbers, NaNs in the same places and zeros of the same sign (−0.0 == 0.0, but
    copysign and atan2 tell them apart)."""
    if held is value:
        return True
    if type(held) is not np.ndarray or held.shape != value.shape or held.dtype != value.dtype \
            or held.dtype.kind not in "biufc":
        return False
    kind = held.dtype.kind
    if not np.array_equal(held, value, equal_nan=kind in "fc"):
        return False
    if kind == "f":
        return bool(np.array_equal(np.signbit(held), np.signbit(value)))
    if kind == "c":
        return bool(np.array_equal(np.signbit(held.real), np.signbit(value.real))
                    and np.array_equal(np.signbit(held.imag), np.signbit(value.imag)))
    return True


def _constant(value: Any) -> Tensor:
    """What the eager tape gives under ``nn.no_grad()`` (PyTorch's rule): the result as a new
    leaf that requires no grad, holding no graph (backward never reaches through it)."""
    return Tensor(Node(None, (), _NO_PARAMS, value), EAGER_TAPE, False)


#: pow(x, y, m) of a Tensor (Python: "pow() 3rd argument not allowed unless all arguments are
#: integers")
_POW_MODULUS = ("pow() with a modulus (pow(x, y, m)) is not defined for a Tensor (float values, "
                "as Python says for floats: pow() 3rd argument not allowed unless all arguments "
                "are integers): write x ** y % m (np.mod), or pass integers")

#: what :meth:`Tensor.__format__` tells :meth:`Tensor.concrete` it does
_FORMATTING = "formatting it with a format spec (f'{x:.4f}')"

_PRINTING = ("; to print a traced value, print(x) (or f'{x}'), or format a constant copy: "
             "f'{dk.stop_gradient(x):.4f}'")

_ESCAPED = ("a traced value from a trace that has ended was used (was it kept in a global, a "
            "closure or an attribute during an earlier call?): pass it as an argument instead")


class new_tape:
    """Context manager handing out a fresh tracing tape, newer than every tape made before it.

    A tape's level is its place in creation order, counted for the whole process:
    :func:`~diffkit.primitive.bind` records an application on the newest tape among its
    arguments, which is the innermost trace — in one thread, tapes open and close nested; a
    trace another thread starts inside a traced function (a thread pool) is newer than the
    values it closes over; and tapes of independent threads never share values. (A count of
    the tapes open, as levels once were, mixes threads up: while another thread traces, an inner
    tape could get its outer tape's level, and ``x·y`` went to the outer one: a silent 0.)"""

    _created = itertools.count(1)

    def __enter__(self) -> Tape:
        self.tape = Tape(next(new_tape._created))
        _open_tapes().append(self.tape)
        # Tracing allocates many small acyclic objects; the cyclic collector would rescan them
        # over and over (quadratic on long traces), so it pauses while this thread's outermost
        # tape records (a nested tape finds it paused; whoever paused it resumes it).
        self.gc_was_enabled = gc.isenabled()
        if self.gc_was_enabled:
            gc.disable()
        return self.tape

    def __exit__(self, *exc: object) -> None:
        self.tape.closed = True
        self.tape.recorded = None  # its records hold the tape: no cycle left behind
        tapes = _open_tapes()
        if self.tape in tapes:
            tapes.remove(self.tape)
        if self.gc_was_enabled:
            gc.enable()
        handed, self.tape.handed = self.tape.handed, None
        if exc[0] is None and handed and any(  # (an object array's bytes: its elements' ids)
                c.shape != v.shape or c.tobytes() != v.tobytes() for c, v in handed):
            raise TracedMutationError(_WRITTEN_AROUND)


#: per thread: the tracing tapes open in it, outermost first (see :func:`holds_at_this_call`)
_OPEN = threading.local()


def _open_tapes() -> list[Tape]:
    tapes = getattr(_OPEN, "tapes", None)
    if tapes is None:
        tapes = _OPEN.tapes = []
    return tapes


def holds_at_this_call() -> None:
    """Mark every trace this thread has open as holding at this call only, as a branch on a
    traced value does: for code whose result depends on something no trace records — random
    numbers (a dropout mask), state it reads or updates (a batch norm's running statistics,
    a module's train/eval mode). ``dk.jit`` then runs such a function afresh at every call
    (a replay would reuse one mask, skip the updates and keep the mode it was traced in), and
    finite differences and the comparison see that it does not repeat its value."""
    for tape in _open_tapes():
        tape.value_dependent = True


class paused_gc:
    """Pause the cyclic garbage collector (graphs are acyclic; rescanning them is wasted time)."""

    def __enter__(self) -> None:
        self.was_enabled = gc.isenabled()
        if self.was_enabled:
            gc.disable()

    def __exit__(self, *exc: object) -> None:
        if self.was_enabled:
            gc.enable()


#: The tape of eagerly recorded tensors (neural-net parameters and what is computed from them).
EAGER_TAPE = Tape(0)
#: the eager tape's gradient mode, per thread as PyTorch's: the threads (``get_ident()``) inside
#: ``nn.no_grad()``, for which the eager tape records nothing (results are new leaves that require
#: no grad). Empty unless some thread is in such a block: the eager tape's cost is one truth test.
NO_GRAD_THREADS: set[int] = set()


def call_site() -> str:
    """'file:line: source' of the innermost caller outside diffkit (for error messages)."""
    frame, _ = user_frame(2)  # from this function's caller
    if frame is None:
        return "an unknown place"
    code = linecache.getline(frame.f_code.co_filename, frame.f_lineno).strip()
    where = f"{os.path.basename(frame.f_code.co_filename)}:{frame.f_lineno}"
    return f"{where} ({code})" if code else where


def _library_of(frame: Any) -> str | None:
    """'NumPy' or 'SciPy' where `frame` runs that package's own code, else None."""
    module = frame.f_globals.get("__name__", "")
    for package, label in (("numpy", "NumPy"), ("scipy", "SciPy")):
        if module == package or module.startswith(package + "."):
            return label
    return None


def _library_call() -> tuple[str, str, str, str] | None:
    """(library, its function the user called, the library's line, the user's call) where the
    innermost caller outside diffkit is NumPy's or SciPy's own code (the user's call: the next
    frame outside diffkit and the library), else None."""
    frame, _ = user_frame(3)
    site = library = called = None
    while frame is not None:
        lib = _library_of(frame)
        module = frame.f_globals.get("__name__", "")
        if lib is None and module != "diffkit" and not module.startswith("diffkit."):
            break
        if lib is not None:
            library, called = library or lib, frame  # the outermost library frame so far
            site = site or f"{os.path.basename(frame.f_code.co_filename)}:{frame.f_lineno}"
        frame = frame.f_back
    if called is None:
        return None
    user = "an unknown place"
    if frame is not None:
        code = linecache.getline(frame.f_code.co_filename, frame.f_lineno).strip()
        user = f"{os.path.basename(frame.f_code.co_filename)}:{frame.f_lineno}" + \
            (f" ({code})" if code else "")
    return library, _public_name(called), site, user


def _public_name(frame: Any) -> str:
    """numpy.poly1d for poly1d.__init__ in numpy.lib._polynomial_impl: the name users call."""
    name = frame.f_code.co_qualname.removesuffix(".__init__")
    parts = frame.f_globals.get("__name__", "?").split(".")
    top = sys.modules.get(parts[0])
    if getattr(top, name.split(".")[0], None) is not None:
        return f"{parts[0]}.{name}"
    return ".".join([p for p in parts if not p.startswith("_")] + [name])


def refuse_inside_library(what: str) -> None:
    """A MissingRuleError where `what` (an in-place write of a traced value) happens in NumPy's
    or SciPy's own code, not the user's: it names the library's function the user called and
    the user's call, not a line to rewrite (nothing where the line is the user's)."""
    found = _library_call()
    if found is not None:
        library, name, site, user = found
        raise MissingRuleError(
            f"{library}'s {name} {what} internally (at {site}), which diffkit cannot trace: "
            f"diffkit cannot differentiate the call at {user}; use method='fd', which treats "
            "the function as a black box, or write it with functions diffkit supports (dk.*)")


class Tensor(Traced):
    """A traced value: a node of the IR plus the tape it was recorded on.

    Attributes:
        node: the IR node (its ``value`` is the primal value).
        tape: the tape it belongs to.
        requires_grad: True when it depends on a value being differentiated (a leaf that
            requires a gradient, or an input of the function being traced).
        grad: the gradient ``backward()`` accumulated (leaves of the eager tape).
    """

    #: _base (a view's (weakref to its base, what made it)) and _views (weakrefs to the views
    #: taken of it) are set only where a view is taken (never in __init__: the op path stays as
    #: it was) and read only by the in-place operators (:func:`_check_views`)
    #: _node: the IR node, or None for a *scalar record* (below); _id, _prim, _inputs,
    #: _partials, _value and _adjoint: set on scalar records only (_id: its node's, drawn when
    #: recorded; _adjoint: the record sweep's, None outside it)
    __slots__ = ("__weakref__", "_adjoint", "_base", "_id", "_inputs", "_node", "_partials",
                 "_prim", "_value", "_views", "grad", "requires_grad", "tape")
    __array_priority__ = 1000

    def __init__(self, node: Node, tape: Tape = EAGER_TAPE, requires_grad: bool = False) -> None:
        if node.__class__ is not Node:  # torch.Tensor(data)'s habit: a bare error came later
            raise InputTypeError(f"dk.Tensor(...) wraps a node of the IR, not a "
                                 f"{type(node).__name__}: make a tensor from data with "
                                 "dk.tensor(data, requires_grad=True)")
        self._node = node
        self.tape = tape
        self.grad: Any = None
        self.requires_grad = requires_grad

    @property
    def node(self) -> Node:
        """The IR node of this value. A *scalar record* — the result of scalar code on a
        tracing tape, which holds its primitive, operands, value and memoized partials itself
        (one object per operation: see :meth:`Tape.scalar_record`) — gets its node here, made
        on first use (with the nodes of the records it reads) and kept."""
        node = self._node
        return node if node is not None else _materialize(self)

    @node.setter
    def node(self, node: Node) -> None:
        self._node = node

    # ----- what it holds ------------------------------------------------------------------------
    @property
    def value(self) -> Any:
        """The primal value (a NumPy/CuPy array or scalar), for a parameter or an eager result.

        Read by a traced function, it is a number read out of a traced value, as ``.item()``
        or ``.numpy()``: a TracingError for a value being differentiated, otherwise a read that
        makes the trace valid at this point only (a ``dk.jit`` function then traces each call)
        — never a silent constant. diffkit's own code reads ``node.value``, which does neither."""
        tape = self.tape
        if tape.level and not tape.closed:
            return self.concrete(".value")
        return held_value(self)

    @value.setter
    def value(self, value: Any) -> None:
        """``t.value = v`` is ``t.data = v``: `t` becomes a leaf holding `v` (``t.value -= 1``
        wrote into the array and then raised a bare AttributeError: no setter)."""
        Tensor.data.fset(self, value)

    @property
    def data(self) -> Any:
        """The same as :attr:`value` (PyTorch's spelling)."""
        tape = self.tape
        if tape.level and not tape.closed:
            return self.concrete(".data")
        return held_value(self)

    @data.setter
    def data(self, value: Any) -> None:
        """``t.data = v`` (PyTorch): `t` becomes a leaf holding `v`, outside any graph (nothing
        is recorded; graphs recorded before keep the node they used). ``p.data -= d`` writes into
        the array and then lands here, as in PyTorch; prefer ``with nn.no_grad(): p -= d``, which
        never changes an array a recorded graph holds."""
        if self.tape.level:
            raise TracingError(f"assigning .data (or .value) of a traced value at {call_site()} would change it "
                               "outside the graph: compute a new value instead")
        if value is not self.node.value:
            set_leaf_value(self, _as_array(value))

    @property
    def shape(self) -> tuple[int, ...]:
        node = self._node
        return () if node is None else node.shape  # a scalar record is 0-d

    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def size(self) -> int:
        node = self._node
        return 1 if node is None else node.size

    @property
    def dtype(self) -> Any:
        node = self._node
        if node is None:
            return _FLOAT if type(self._value) is float else self._value.dtype
        return node.dtype

    @property
    def itemsize(self) -> int:
        """Bytes per element, as NumPy's (static: no read of the values)."""
        return np.dtype(self.dtype).itemsize

    @property
    def nbytes(self) -> int:
        """Bytes of the value, as NumPy's ``size · itemsize`` (static)."""
        return self.size * self.itemsize

    def __len__(self) -> int:
        if not self.shape:
            raise TypeError("len() of a 0-d Tensor")
        return self.shape[0]

    def __iter__(self) -> Iterator[Any]:
        if not self.shape:
            raise TypeError("iteration over a 0-d Tensor")
        return (self[i] for i in range(self.shape[0]))  # rows of a 2-D array are views

    @shape.setter
    def shape(self, value: Any) -> None:
        raise TracedMutationAttributeError(
            f"setting x.shape at {call_site()} reshapes the array in place, which a Tensor cannot "
            "do: write x = x.reshape(new_shape)")

    def __hash__(self) -> int:
        """By identity on the eager tape (parameters as set members and dict keys, as in
        PyTorch). A traced value is unhashable: ``x in {3.0}`` would compare identities, not
        numbers, and silently be False."""
        if self.tape.level:
            raise TracedHashError(
                f"a traced value cannot be hashed (at {call_site()}): set or dict membership "
                "would compare identities, not numbers; compare with == (x == 3.0, "
                "np.isin(x, values)) or pass the value as a plain number")
        return id(self)

    def __repr__(self) -> str:
        """Prints the number (also ``str(x)``, ``f"{x}"``): a read of the value, so the trace
        holds at this point only, as for ``bool(x)`` (a jit function branching on the text is
        traced again at every call)."""
        if self.tape.closed:  # shown, for debugging, marked as such (no number is used)
            return f"Tensor({held_value(self)!r}, shape={self.shape}, trace ended)"
        self.tape.value_dependent = True
        return f"Tensor({held_value(self)!r}, shape={self.shape})"

    def __format__(self, spec: str) -> str:
        """``f"{x:.4f}"``: the number formatted as NumPy formats it (a read of the value, as
        printing it: the trace holds at this point only). A value being differentiated is
        refused as ``float(x)`` is (:meth:`concrete`): ``float(f"{x:.17g}")`` would be a
        constant with derivative 0."""
        if not spec:  # format(x, "") is str(x), as for every Python object
            return str(self)
        return format(self.concrete(_FORMATTING), spec)

    # ----- copies and pickles: independent leaves ----------------------------------------------
    def __copy__(self) -> Tensor:
        """``copy.copy(t)``: a new leaf holding the same array (never written in place while both
        hold it: see :func:`writable_alone`), with the same ``requires_grad`` and ``.grad``."""
        value, requires_grad, name, grad = self._leaf_state("copy.copy()")
        new = _leaf(value, requires_grad, name)
        new.grad = grad
        return new

    def __deepcopy__(self, memo: dict[int, Any]) -> Tensor:
        """``copy.deepcopy(t)`` (and of a Module): an independent leaf with its own copy of the
        value and of ``.grad`` — backward through the copy fills the copy's ``.grad`` only (as
        PyTorch's deepcopy of a leaf)."""
        value, requires_grad, name, grad = self._leaf_state("copy.deepcopy()")
        new = _leaf(copy.deepcopy(value, memo), requires_grad, name)
        memo[id(self)] = new
        new.grad = copy.deepcopy(grad, memo)
        return new

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        """Pickling: a leaf is rebuilt from its value, ``requires_grad``, name and ``.grad``."""
        return _rebuild_leaf, self._leaf_state("pickling")

    def _leaf_state(self, what: str) -> tuple[Any, bool, str, Any]:
        """(value, requires_grad, name, grad) of a leaf of the eager tape, or of an eager result
        that needs no gradient (copied as a constant leaf). A traced value, or an eager result
        that requires a gradient, carries a graph, which no copy can take along: TracingError
        (PyTorch: only graph leaves support deepcopy)."""
        node = self.node
        if self.tape.level:
            raise TracingError(f"{what} of a traced value at {call_site()}: a traced value only "
                               "exists inside the function being traced")
        if node.prim is not None and self.requires_grad:
            raise TracingError(
                f"{what} of a Tensor computed from tensors that require grad (not a leaf) at "
                f"{call_site()}: its graph cannot be copied; copy t.detach(), or the leaves")
        return node.value, self.requires_grad, node.name or "leaf", self.grad

    # ----- leaving the graph ----------------------------------------------------------------
    def concrete(self, what: str) -> Any:
        """The plain value, for a use that leaves the graph (`what`: "float()", "an index", …).

        Inside a traced function, a Tensor that depends on a value being differentiated raises
        TracingError: its derivative would be lost. Otherwise the trace is marked value-dependent
        and the value returned. On the eager tape (diffkit.nn) reading a number detaches it, as in
        PyTorch (``float(loss)``, ``loss.item()``). A value of a trace that has ended is
        refused as such (:data:`_ESCAPED`)."""
        if self.tape.closed:
            raise TracingError(_ESCAPED)
        if self.requires_grad and self.tape.level > 0:
            node = self.node
            argument = (f"; {node.name!r} is itself an argument being differentiated (dk.grad "
                        "differentiates every argument unless argnums= or wrt= names the ones "
                        "meant, e.g. dk.grad(f, argnums=0))"
                        if node.prim is None and node.name is not None else "")
            inside = _library_call()  # scipy.integrate.quad calls float(): name quad
            if inside is not None:
                library, name, site, user = inside
                raise TracingError(
                    f"{library}'s {name} takes {what} of a traced value internally (at {site}), "
                    "which would cut it out of the graph: diffkit cannot differentiate the call "
                    f"at {user}; use method='fd', which treats the function as a black box, or "
                    f"write it with diffkit's operations (dk.*){argument}")
            raise TracingError(
                f"{what} of a traced value at {call_site()} would cut it out of the graph and "
                "silently freeze its derivative: use diffkit's operations instead (dk.sin or "
                "np.sin, not math.sin; no float(), int() or .item() on values being "
                f"differentiated), or dk.stop_gradient(x) if a constant is meant{argument}"
                f"{_PRINTING if what == _FORMATTING else ''}")
        self.tape.value_dependent = True
        v = held_value(self)
        if type(v) is Tensor:
            return v.concrete(what)
        return read_only(v, self.tape) if self.tape.level else v

    def __bool__(self) -> bool:
        self.tape.value_dependent = True  # a branch: the trace holds at this point only
        v = held_value(self)
        return bool(v) if type(v) is not Tensor else v.__bool__()

    def __float__(self) -> float:
        if self.requires_grad and self.tape.level > 0 and not self.tape.closed:
            _check_not_stored()
        return float(self.concrete("float() (or math.*)"))

    def __int__(self) -> int:
        return int(self.concrete("int()"))

    def __index__(self) -> int:
        return int(self.concrete("using it as an integer"))

    def __trunc__(self) -> int:
        """``math.trunc(x)`` reads a number out, as ``int()`` does."""
        return int(self.concrete("math.trunc()"))

    def as_integer_ratio(self) -> tuple[int, int]:
        """Python float's method (``statistics`` and ``fractions`` call it): reads the number
        out, as ``float()`` does."""
        return float(self.concrete("as_integer_ratio() (or statistics.*)")).as_integer_ratio()

    def is_integer(self) -> bool:
        """Python float's method: reads the number out, as ``float()`` does."""
        return float(self.concrete("is_integer()")).is_integer()

    def __round__(self, ndigits: int | None = None) -> Any:
        """Python's round() reads a number out (an int for ndigits=None), as int() does; for a
        rounded value that stays in the graph use ``dk.round`` / ``np.round``."""
        return round(_item(self.concrete("round()")), ndigits)

    def __complex__(self) -> complex:
        return complex(self.concrete("complex() (or cmath.*)"))

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        """NumPy asks for an array (``np.array([x, y])``, ``np.asarray(x)``). A value being
        differentiated inside a traced function becomes an object array of traced elements, so
        NumPy's own code keeps the graph (diffkit stacks such arrays back into one traced array
        when they reach an operation or the output); anything else gives its plain value.

        A limit (docs/design.md): NumPy hands a NumPy scalar operand of that object array to each
        element as a Python float, so a float32/float16/complex64 element computes
        ``np.asarray(x) + np.float64(c)`` in its own dtype where NumPy promotes to float64 (the
        element cannot tell it from a weak ``+ c``); float64 and complex128 elements lose nothing."""
        if self.requires_grad and self.tape.level > 0:
            if dtype is not None and np.dtype(dtype) != object:  # numbers: the graph would be lost
                _check_not_stored()
                self.concrete(f"np.asarray(..., dtype={np.dtype(dtype)})")
            library = _library_caller()
            if library is not None:  # SciPy's Python code on object arrays gives wrong types
                raise TracingError(_library_message(*library))
            out = np.empty(self.shape, dtype=object)
            if not self.shape:
                out[()] = self
            else:
                for idx in np.ndindex(*self.shape):
                    out[idx] = self[idx]
            if copy is not True:  # np.asarray(x) is x in NumPy: writing into it would change x,
                # which the trace cannot follow — refused (read-only), and a write past the flag
                # (np.add.at) is found when the trace ends (the elements' identities compared)
                self.tape.hand_out(out, out.copy())
                out.flags.writeable = False
            return out
        if self.requires_grad:  # the eager tape: the numbers would silently leave the graph
            raise TracingError(
                f"np.asarray()/np.array() of a Tensor that requires grad at {call_site()} would "
                "silently drop its graph (PyTorch refuses too): use dk.stack([...]) or diffkit's "
                "operations to keep it, or t.detach() / t.value / t.numpy() for the numbers")
        v = np.asarray(self.concrete("np.asarray()/np.array() with a dtype"))
        if dtype is not None:
            return v.astype(dtype, copy=copy is not False)
        # np.array(t) is a copy (NumPy 2 trusts an __array__ that takes copy=): writing into
        # it must not reach the value a recorded graph holds; np.asarray(t) may share it
        return v.copy() if copy else v

    def item(self) -> Any:
        """The value of a one-element tensor as a Python number.

        On the eager tape this detaches (as PyTorch's ``.item()``); inside a traced function it
        raises TracingError for values being differentiated."""
        return _item(self.concrete(".item()"))

    def tolist(self) -> Any:
        """The value as nested Python lists (detaches on the eager tape, like ``.item()``)."""
        v = self.concrete(".tolist()")
        return v.tolist() if hasattr(v, "tolist") else v

    def numpy(self) -> Any:
        """The value as a NumPy array (copied from the GPU if needed; detaches like ``.item()``).
        A tensor that requires grad gives a copy (PyTorch refuses): writing into the array must
        not change the value its recorded graphs differentiate at."""
        from .backend import to_numpy

        v = to_numpy(self.concrete(".numpy()"))
        return v.copy() if self.requires_grad and isinstance(v, np.ndarray) else v

    def detach(self) -> Tensor:
        """The same value as a constant: no derivative flows through it (dk.stop_gradient).

        On the eager tape, as in PyTorch, a new leaf holding the same array: setting its
        ``requires_grad`` makes it a leaf whose ``.grad`` backward fills."""
        if self.tape.level:
            return P.stop_gradient(self)
        return _leaf(self.node.value, name=self.node.name or "leaf")

    def requires_grad_(self, requires_grad: bool = True) -> Tensor:
        """Set ``requires_grad`` of a leaf of the eager tape in place and return it (PyTorch's
        method): an integer or boolean leaf cannot require gradients (InputTypeError), and a
        computed tensor's flag comes from its graph (TracingError when asked to change it)."""
        requires_grad = bool(requires_grad)
        if self.tape.level or (self.node.prim is not None and requires_grad != self.requires_grad):
            raise TracingError(
                f"requires_grad_({requires_grad}) at {call_site()}: only the flag of a leaf of the "
                "eager tape can change (use t.detach().requires_grad_() for a new leaf)")
        if requires_grad:
            _check_can_require_grad(self.node.dtype)
        self.requires_grad = requires_grad
        return self

    def argmax(self, axis: int | None = None, keepdims: bool = False) -> Any:
        """Indices of the largest values along `axis` (all elements, flattened, by default), as a
        plain integer array: PyTorch's ``logits.argmax(1)``, NumPy's ``argmax``.

        An index has no derivative, so nothing is lost by reading it, even out of a value being
        differentiated: ``x[x.argmax()]`` keeps its derivative. As with a branch on a traced value,
        the trace then holds at this point only (a jit function that reads an index is traced
        again at every call)."""
        return self._indices("argmax", axis, keepdims)

    def argmin(self, axis: int | None = None, keepdims: bool = False) -> Any:
        """Indices of the smallest values along `axis`, as a plain integer array (see argmax)."""
        return self._indices("argmin", axis, keepdims)

    def _indices(self, name: str, axis: int | None, keepdims: bool) -> Any:
        self.tape.value_dependent = True  # the indices come from the values: a branch
        v = held_value(self)
        if type(v) is Tensor:  # nested tracing: the outer trace reads the values too
            return v._indices(name, axis, keepdims)
        return getattr(array_namespace(v), name)(v, axis=axis, keepdims=keepdims)

    def backward(self, gradient: Any = None) -> None:
        """Reverse sweep from this tensor; adds d(self)/d(leaf) to ``.grad`` of leaves that require it."""
        backward(self, gradient)

    # ----- operators (NumPy's meaning) ----------------------------------------------------------
    def __pow__(self, other: Any) -> Any:
        if type(other) is int and other == 2 and self.dtype == np.bool_:
            # NumPy's ``a ** 2`` is np.square(a), which keeps bool's smallest integer type
            return bind(P.pow, _public("astype")(self, np.int8), other)
        return bind(P.pow, self, other)

    def __rpow__(self, other: Any) -> Any:
        return bind(P.pow, other, self)

    def __matmul__(self, other: Any) -> Any:
        return P.matmul(self, _as_array(other))

    def __rmatmul__(self, other: Any) -> Any:
        return P.matmul(_as_array(other), self)

    def __neg__(self) -> Any:
        return P.neg(self)  # (scalar code: its recorder)

    def __pos__(self) -> Tensor:
        """``+x``: a copy in NumPy (a new Tensor, so an in-place update of one leaves the other)."""
        return self._copy()

    def _copy(self) -> Tensor:
        """A copy, as NumPy's ``x.copy()`` (PyTorch's ``clone``): a new Tensor object. Traced
        (and computed eager) values share the node (nodes never change; in-place operators
        change only the Tensor that names it, :func:`_become`); an eager leaf gets a recorded
        identity when it requires grad (PyTorch's clone), else its own copy of the array."""
        node = self.node
        if self.tape.level or node.prim is not None:
            return Tensor(node, self.tape, self.requires_grad)
        if self.requires_grad:
            return bind(P.positive, self)
        return _leaf(own_copy(node.value), False, node.name or "leaf")

    def copy(self, order: str = "K") -> Tensor:
        """NumPy's ``x.copy()`` (see :meth:`_copy`)."""
        return _public("copy")(self, order)

    def clone(self) -> Tensor:
        """PyTorch's ``clone()``: a copy whose gradient flows back to this tensor."""
        return self._copy()

    def __abs__(self) -> Any:
        return P.abs(self)  # (scalar code: its recorder)

    def __gt__(self, other: Any) -> Any:
        return bind(P.greater, self, other)

    def __lt__(self, other: Any) -> Any:
        return bind(P.less, self, other)

    def __ge__(self, other: Any) -> Any:
        return bind(P.greater_equal, self, other)

    def __le__(self, other: Any) -> Any:
        return bind(P.less_equal, self, other)

    def __eq__(self, other: object) -> Any:  # type: ignore[override]
        return bind(P.equal, self, other)

    def __ne__(self, other: object) -> Any:  # type: ignore[override]
        return bind(P.not_equal, self, other)

    def __getitem__(self, index: Any) -> Any:
        return P.getitem(self, index)  # a basic index: a view (marked by the record)

    def __mod__(self, other: Any) -> Any:
        return _public("mod")(self, other)

    def __rmod__(self, other: Any) -> Any:
        return _public("mod")(other, self)

    def __floordiv__(self, other: Any) -> Any:
        return _public("floor_divide")(self, other)

    def __rfloordiv__(self, other: Any) -> Any:
        return _public("floor_divide")(other, self)

    def __divmod__(self, other: Any) -> Any:
        return _public("divmod")(self, other)

    def __rdivmod__(self, other: Any) -> Any:
        return _public("divmod")(other, self)

    # NumPy's & | ^ ~: bitwise on integers, logical on booleans (what bitwise_* compute)
    def __and__(self, other: Any) -> Any:
        return _public("bitwise_and")(self, other)

    def __rand__(self, other: Any) -> Any:
        return _public("bitwise_and")(other, self)

    def __or__(self, other: Any) -> Any:
        return _public("bitwise_or")(self, other)

    def __ror__(self, other: Any) -> Any:
        return _public("bitwise_or")(other, self)

    def __xor__(self, other: Any) -> Any:
        return _public("bitwise_xor")(self, other)

    def __rxor__(self, other: Any) -> Any:
        return _public("bitwise_xor")(other, self)

    def __invert__(self) -> Any:
        return _public("invert")(self)

    # NumPy's << >>: integer shifts, which no primitive records
    def __lshift__(self, other: Any) -> Any:
        return _unrecorded_shift(self, other, "<<")

    def __rlshift__(self, other: Any) -> Any:
        return _unrecorded_shift(other, self, "<<")

    def __rshift__(self, other: Any) -> Any:
        return _unrecorded_shift(self, other, ">>")

    def __rrshift__(self, other: Any) -> Any:
        return _unrecorded_shift(other, self, ">>")

    # ----- in-place operators (PyTorch's meaning): installed below the class, from one table

    def __setitem__(self, index: Any, value: Any) -> None:
        """``x[i] = v`` is not recorded (a value in the graph never changes): TracedMutationError
        naming the functional forms that are."""
        raise TracedMutationError(
            f"item assignment x[...] = v on a Tensor at {call_site()} is not recorded (a value "
            "in the graph never changes): write the new array instead, x = x + dk.index_add(v - "
            "x[i], i, x.shape) for an index i, or x = dk.where(mask, v, x) for a mask")

    # ----- array methods ----------------------------------------------------------------------
    @property
    def T(self) -> Any:
        return P.transpose(self)

    @property
    def mT(self) -> Any:
        """NumPy 2's matrix transpose: the last two axes swapped (a view)."""
        if len(self.node.shape) < 2:
            raise ShapeError(f"x.mT needs an array of at least 2 dimensions, this one has shape "
                             f"{self.node.shape}")
        return _public("swapaxes")(self, -1, -2)

    @property
    def real(self) -> Any:
        return bind(P.real, self)

    @real.setter
    def real(self, value: Any) -> None:
        raise TracedMutationAttributeError(
            f"setting x.real at {call_site()} writes into the array, which a Tensor cannot do: "
            "write x = value + 1j * x.imag (or x = value for a real x)")

    @property
    def imag(self) -> Any:
        return bind(P.imag, self)

    @imag.setter
    def imag(self, value: Any) -> None:
        raise TracedMutationAttributeError(
            f"setting x.imag at {call_site()} writes into the array, which a Tensor cannot do: "
            "write x = x.real + 1j * value")

    def view(self, *shape: Any, dtype: Any = None, type: Any = None) -> Any:
        """``x.view()``: another Tensor for the same array (a view: an in-place update of either
        is a TracedMutationError while the other lives). PyTorch's ``x.view(3, 2)`` /
        ``x.view(-1)`` (ints: a shape) is ``x.reshape(...)``, a view too. A dtype or type
        reinterprets memory, which a Tensor does not have (TracedAttributeError)."""
        if shape and _is_shape(shape[0] if len(shape) == 1 else shape) and dtype is None \
                and type is None:
            return self.reshape(*shape)
        if shape or dtype is not None or type is not None:
            raise TracedAttributeError(
                f"x.view(dtype) at {call_site()} reinterprets the array's memory, which a Tensor "
                "does not have: write x.astype(dtype) to convert the values (x.view(shape), "
                "PyTorch's reshape, takes ints: x.view(3, 2), x.view(-1))")
        return _view(self, Tensor(self.node, self.tape, self.requires_grad), "x.view()")

    def conj(self) -> Any:
        """NumPy's ``x.conj()``: for a real array, the array itself (as NumPy returns it)."""
        if self.dtype.kind != "c":
            return self
        return bind(P.conj, self)

    # NumPy's signatures: sum/mean(axis, dtype, out, keepdims), max(axis, out, keepdims);
    # PyTorch's dim=/keepdim= read as axis=/keepdims= where the meaning is the same (_axis_kwargs)
    def sum(self, *args: Any, **kwargs: Any) -> Any:
        return P.sum(self, *args, **_axis_kwargs("sum", kwargs))

    def mean(self, *args: Any, **kwargs: Any) -> Any:
        return P.mean(self, *args, **_axis_kwargs("mean", kwargs))

    def max(self, *args: Any, **kwargs: Any) -> Any:
        return P.amax(self, *args, **_axis_kwargs("max", kwargs))

    # NumPy's array methods, each the table's function of the same meaning
    def min(self, *args: Any, **kwargs: Any) -> Any:
        return _public("amin")(self, *args, **_axis_kwargs("min", kwargs))

    def prod(self, *args: Any, **kwargs: Any) -> Any:
        return _public("prod")(self, *args, **_axis_kwargs("prod", kwargs))

    def std(self, *args: Any, **kwargs: Any) -> Any:
        return _public("std")(self, *args, **_axis_kwargs("std", kwargs))

    def var(self, *args: Any, **kwargs: Any) -> Any:
        return _public("var")(self, *args, **_axis_kwargs("var", kwargs))

    def cumsum(self, *args: Any, **kwargs: Any) -> Any:
        return _public("cumsum")(self, *args,
                                 **_axis_kwargs("cumsum", kwargs))

    def cumprod(self, *args: Any, **kwargs: Any) -> Any:
        return _public("cumprod")(self, *args,
                                  **_axis_kwargs("cumprod", kwargs))

    def clip(self, *args: Any, **kwargs: Any) -> Any:
        return _public("clip")(self, *args, **kwargs)

    def round(self, *args: Any, **kwargs: Any) -> Any:
        return _public("round")(self, *args, **kwargs)

    def ravel(self, order: str = "C") -> Any:
        return _public("ravel")(self, order)

    def flatten(self, order: str = "C") -> Any:
        return _public("flatten")(self, order)._copy()  # a copy in NumPy, not a view

    def squeeze(self, *args: Any, **kwargs: Any) -> Any:
        return _public("squeeze")(self, *args, **kwargs)

    def swapaxes(self, *args: Any, **kwargs: Any) -> Any:
        return _public("swapaxes")(self, *args, **kwargs)

    def nonzero(self) -> tuple[Any, ...]:
        """NumPy's ``x.nonzero()``: ``np.nonzero(x)``, plain integer index arrays (an index has
        no derivative: ``x[(x > 0).nonzero()]`` keeps x's)."""
        return np.nonzero(self)

    def searchsorted(self, v: Any, side: str = "left", sorter: Any = None) -> Any:
        """NumPy's ``x.searchsorted(v)``: ``np.searchsorted(x, v)``, plain integer indices."""
        return np.searchsorted(self, v, side=side, sorter=sorter)

    def repeat(self, *args: Any, **kwargs: Any) -> Any:
        return _public("repeat")(self, *args, **kwargs)

    def take(self, *args: Any, **kwargs: Any) -> Any:
        return _public("take")(self, *args, **kwargs)

    def diagonal(self, *args: Any, **kwargs: Any) -> Any:
        return _view(self, _public("diagonal")(self, *args, **kwargs), 'a diagonal')

    def trace(self, *args: Any, **kwargs: Any) -> Any:
        return _public("trace")(self, *args, **kwargs)

    def partition(self, kth: Any, axis: int = -1, kind: str = "introselect",
                  order: Any = None) -> None:
        """NumPy's in-place ``a.partition(kth)``: `a` becomes ``np.partition(a, kth)``, as for
        the in-place operators (:func:`_in_place`: another name for the same array sees it; a
        view, or an array a view was taken of, is a TracedMutationError)."""
        if order is not None:
            raise InputTypeError("x.partition(order=...) sorts fields of a structured array, "
                                 "which a Tensor does not have")
        _in_place(self, kth,
                  lambda t, k: _public("partition")(t, k, axis=axis, kind=kind),
                  lambda v, k: (v.partition(k, axis=axis, kind=kind), v)[1], ".partition()")

    def sort(self, *args: Any, **kwargs: Any) -> Any:
        """NumPy sorts in place; a traced value cannot change: use np.sort(x) (a new node)."""
        raise TracingError("x.sort() sorts in place, which a traced value cannot do: "
                           "write x = np.sort(x)")

    def all(self, *args: Any, **kwargs: Any) -> Any:
        return _public("all")(self, *args, **kwargs)

    def any(self, *args: Any, **kwargs: Any) -> Any:
        return _public("any")(self, *args, **kwargs)

    def astype(self, dtype: Any, order: str = "K", casting: str = "unsafe", subok: bool = True,
               copy: bool = True) -> Any:
        """NumPy's ``x.astype(dtype)``: a copy (a new Tensor) unless copy=False and the dtype is
        already `dtype`."""
        out = _public("astype")(self, dtype)
        return out._copy() if out is self and copy else out

    def reshape(self, *shape: Any, order: str = "C", copy: bool | None = None) -> Any:
        """ndarray.reshape: the shape as one tuple or as separate ints; np.reshape's order=.
        A view in NumPy (unless copy=True)."""
        out = NUMPY_NAMES["reshape"](self, shape[0] if len(shape) == 1 else shape, order,
                                     copy=copy)
        return out._copy() if copy else out  # a view (marked by the record) unless copy=True

    def transpose(self, *axes: Any) -> Any:
        return P.transpose(self, axes[0] if len(axes) == 1 and not isinstance(axes[0], int)
                           else axes or None)

    def dot(self, other: Any) -> Any:
        return ops.dot(self, other)

    def exp(self) -> Any:
        return P.exp(self)

    def log(self) -> Any:
        return P.log(self)

    def sqrt(self) -> Any:
        return P.sqrt(self)

    def sin(self) -> Any:
        return P.sin(self)

    def cos(self) -> Any:
        return P.cos(self)

    def tanh(self) -> Any:
        return P.tanh(self)

    def sigmoid(self) -> Any:
        return P.sigmoid(self)

    def relu(self) -> Any:
        return P.relu(self)

    def abs(self) -> Any:
        return P.abs(self)

    # ----- NumPy's protocols: np.sin(t), np.sum(t), ... record diffkit operations ---------------
    def __array_ufunc__(self, ufunc: Any, method: str, *inputs: Any, **kwargs: Any) -> Any:
        if method == "__call__" and not kwargs:
            # np.multiply(x, 1.5): a primitive applied to this Tensor and a Python float is
            # recorded on its tape, as the primitive's call would (bind finds no other tape
            # among such arguments), without the call's own dispatch
            fn = NUMPY_OBJECTS.get(ufunc)
            if len(inputs) == 2 and fn.__class__ is Primitive and fn.prepare is None and \
                    fn.nargs == 2:
                a, b = inputs
                if a is self and type(b) is float or b is self and type(a) is float:
                    return self.tape.record(fn, inputs, _NO_PARAMS)
        fn = _numpy_target(ufunc)
        if fn is None:
            raise MissingRuleError(_unsupported(f"{ufunc_methods.ufunc_label(ufunc)}"
                                                + ("" if method == "__call__" else f".{method}")))
        if method != "__call__":  # reduce, accumulate, outer: compositions of the table's records
            return ufunc_methods.call(ufunc, method, fn, inputs, kwargs)
        if kwargs:
            out = kwargs.get("out")
            if out and any(type(o) is Tensor for o in out):  # out= a Tensor: no memory
                name = ufunc.__name__
                raise TracingError(
                    f"numpy.{name}(..., out=t) at {call_site()} writes into t, a Tensor (a "
                    "traced or eager value), which holds no memory NumPy could write: write "
                    f"t = np.{name}(...) without out= (a new value)")
            if out and any(o is i for o in out for i in inputs):  # `a += x`: NumPy's in-place
                refuse_inside_library("writes a traced value into a NumPy array in place")
                raise TracingError(
                    f"a traced value was written into a NumPy array in place ({ufunc.__name__} "
                    f"into an array it reads: `a {_IN_PLACE.get(ufunc.__name__, 'op')}= x` at "
                    f"{call_site()}): an array holds numbers, not the trace; write "
                    f"`a = a {_IN_PLACE.get(ufunc.__name__, 'op')} x` (a new traced value), or "
                    "start a from the traced value (a = x * 0.0)")
            raise TracingError(f"{ufunc_methods.ufunc_label(ufunc)} with {', '.join(kwargs)}= is not supported "
                               "on traced values (no out=, where= or dtype=)")
        return fn(*inputs)

    def __array_function__(self, func: Any, types: Any, args: Any, kwargs: Any) -> Any:
        fn = _numpy_target(func)
        if fn is None:
            try:
                return _constant_call(func, args, kwargs)
            except _Differentiated:
                out = _constant_call(func, args, kwargs, read=True)
                if _discrete(out):  # np.isclose, searchsorted, digitize, result_type: no
                    return out       # derivative to lose, as a comparison's (a read of x)
                module = getattr(func, "__module__", None) or "numpy"
                what = f"{module}.{getattr(func, '__name__', func)}"
                inside = _library_call()  # np.poly1d(c) calls np.trim_zeros: name poly1d
                if inside is not None and inside[1] != what:
                    what = f"{inside[1]} (called at {inside[3]}; it calls {what})"
                raise MissingRuleError(_unsupported(what)) from None
        out = fn(*args, **kwargs)
        if func in _COPY_FUNCTIONS and kwargs.get("copy", True) or \
                func is np.reshape and kwargs.get("copy") is True:  # not the views marked
            return _copies(out)
        what = _VIEW_FUNCTIONS.get(func)
        if what is not None and args and type(args[0]) is Tensor:
            return _view(args[0], out, what)
        return out


#: PyTorch's reductions whose dim= means NumPy's axis= (max/min give (values, indices) there,
#: std/var default to the unbiased estimate: for them dim= is refused by name)
_SAME_AS_TORCH = frozenset(("sum", "mean", "prod", "cumsum", "cumprod"))


def _axis_kwargs(name: str, kwargs: dict[str, Any]) -> dict[str, Any]:
    """`kwargs` of ``x.<name>(...)`` with PyTorch's ``dim=``/``keepdim=`` as NumPy's
    ``axis=``/``keepdims=`` (InputTypeError where the meaning differs or both are given)."""
    if "dim" not in kwargs and "keepdim" not in kwargs:
        return kwargs
    if name not in _SAME_AS_TORCH:
        raise InputTypeError(
            f"x.{name}(dim=...) at {call_site()} is PyTorch's spelling, whose {name} differs "
            f"from NumPy's ({'values and indices' if name in ('max', 'min') else 'ddof=1'} "
            f"there): write x.{name}(axis=..., keepdims=...) (NumPy's meaning)")
    out = dict(kwargs)
    for torch_name, numpy_name in (("dim", "axis"), ("keepdim", "keepdims")):
        if torch_name in out:
            if numpy_name in out:
                raise InputTypeError(f"x.{name}() got both {torch_name}= and {numpy_name}=: "
                                     f"give one")
            out[numpy_name] = out.pop(torch_name)
    return out


def _is_shape(shape: Any) -> bool:
    """Whether `shape` is an int or a sequence of ints (PyTorch's ``x.view(shape)``)."""
    if isinstance(shape, tuple | list):
        return all(isinstance(s, int | np.integer) and not isinstance(s, bool) for s in shape)
    return isinstance(shape, int | np.integer) and not isinstance(shape, bool)


#: index types of NumPy's basic indexing, whose result (of ndim ≥ 1) is a view of the array
_BASIC = frozenset((int, slice, type(None), type(Ellipsis), np.int8, np.int16, np.int32,
                    np.int64, np.intp, np.uint8, np.uint16, np.uint32, np.uint64))

#: the primitives whose result NumPy gives as a view of the first operand (getitem: for a basic
#: index), with what the error calls it: :meth:`Tape.record_general` marks every such result
#: (:func:`_view`), so ``dk.reshape``, ``np.rot90``, ``x.T``, ``x[1:]`` and every composite
#: of them (swapaxes, ravel, squeeze, flip, split, …) are marked in this one place
_VIEW_PRIMITIVES = {P.reshape: "a reshape", P.transpose: "a transpose",
                    P.broadcast_to: "broadcast_to", P.real: ".real", P.imag: ".imag",
                    P.getitem: "a slice, row or flip", P.einsum: "an einsum view"}

#: NumPy functions that give a view of their first argument through a primitive that is no view
#: (the diagonal's two index arrays)
_VIEW_FUNCTIONS = {np.diagonal: "a diagonal", getattr(np.linalg, "diagonal", np.diagonal):
                   "a diagonal"}
#: NumPy functions whose results are new arrays (copies), made of view primitives
_COPY_FUNCTIONS = frozenset((np.meshgrid,))


def _copies(out: Any) -> Any:
    """`out` (a Tensor, or a list or tuple of them) as new Tensors: copies, no views."""
    if type(out) in (list, tuple):
        return type(out)(_copies(o) for o in out)
    return out._copy() if type(out) is Tensor else out


def _is_view(value: Any, operand: Any, prim: Primitive, params: dict[str, Any]) -> bool:
    """Whether NumPy's result of `prim` is a view of its first operand: where both are NumPy
    arrays, whether the value computed — by NumPy's own call on the same array — shares its
    memory (a reshape of a transpose, order F, np.repeat's and np.tile's reshapes copy; an
    index of any integer type is basic); else by the primitive (getitem: a basic index)."""
    if type(value) is np.ndarray and type(operand) is np.ndarray:
        return bool(np.may_share_memory(value, operand))
    return prim is not P.getitem or _basic(params["index"])


def _basic(index: tuple[Any, ...]) -> bool:
    """Whether a getitem index is basic indexing (ints, slices, None, ...): a view in NumPy."""
    return all(type(i) in _BASIC for i in index)


_new_tensor = Tensor.__new__


def _view(base: Any, out: Any, what: str) -> Any:
    """`out` (or each Tensor of a list of them) marked as a view of `base`, as NumPy's result of
    the same call would be, and `base` as having one: an in-place operator on either is then a
    TracedMutationError while the other lives (:func:`_check_views`), since a write into one
    never reaches the other here. A result that is `base` itself (NumPy's view of the same
    elements) or 0-d (NumPy's scalar, a copy) is no view. Only sets attributes."""
    if type(out) is not Tensor:
        if type(out) in (list, tuple):
            for o in out:
                _view(base, o, what)
        return out
    if out is base or not out.shape or type(base) is not Tensor:
        return out
    root = getattr(base, "_base", None)  # a view of a view: a view of the same array
    if root is not None and root[0]() is not None:
        base = root[0]()
    out._base = (weakref.ref(base), what)
    views = getattr(base, "_views", None)
    if views is None:
        base._views = views = []
    elif len(views) >= 16 and not len(views) & (len(views) - 1):  # a loop over rows: forget
        views[:] = [v for v in views if v() is not None]  # the dead ones (at powers of 2)
    views.append(weakref.ref(out))
    return out


def _check_views(t: Tensor, symbol: str) -> None:
    """The TracedMutationError for an in-place update of `t` where NumPy would change another
    live array too: `t` is a view of one (a row, slice, transpose, reshape, .real), or one is a
    view of `t`. A trace records values, not memory, so neither write could reach the other."""
    base = getattr(t, "_base", None)
    if base is not None and base[0]() is not None:
        raise TracedMutationError(
            f"`{symbol}` at {call_site()} updates a view ({base[1]} of another array, which is "
            "still in use): NumPy would change that array too, which diffkit "
            "cannot follow; compute the whole array instead (A = A / A.sum(axis=1, "
            "keepdims=True) for `for row in A: row /= row.sum()`; A = dk.where(mask, v, A) or "
            "A + dk.index_add(...) to change some elements), or take a copy first "
            "(row = row.copy())")
    views = getattr(t, "_views", None)
    if views and any(v() is not None for v in views):
        raise TracedMutationError(
            f"`{symbol}` at {call_site()} updates an array of which a view is still in use (a "
            "row, slice, transpose or reshape taken earlier, e.g. y = x[:2]): NumPy would change "
            "that view too, which diffkit cannot follow; take the view after the update, take a "
            "copy (y = x[:2].copy()), or write x = x op v (a new array) instead of x op= v")


#: NumPy array attributes and methods a Tensor does not have: (mutates?, what to write)
_NO_ATTRIBUTE = {
    "fill": (True, ("fills the array in place, which a Tensor cannot do: write "
                   "x = np.full_like(x, v) (or x * 0 + v to keep a traced v)")),
    "resize": (True, ("resizes the array in place: write x = np.resize(x, shape) or "
                     "x.reshape(shape)")),
    "put": (True, ("writes elements in place: write x = dk.where(mask, v, x), or "
                  "x + dk.index_add(v - x.ravel()[i], i, x.shape) for flat indices i")),
    "itemset": (True, ("writes an element in place: write x = x + dk.index_add(v - x[i], i, "
                      "x.shape)")),
    "setfield": (True, ("writes into the array's memory, which a Tensor does not have: write "
                       "the new array as a new value (x = ...)")),
    "byteswap": (True, ("changes the array's bytes, which a Tensor does not have: write the "
                       "new values as a new value (x = ...)")),
    "setflags": (True, ("sets memory flags, which a Tensor does not have: write x = x.copy() "
                       "for an array of your own")),
    "base": (False, ("the array a view was taken of: a Tensor holds no memory, so it has no "
                    "base; keep the array you took it from")),
    "flat": (False, "a flat iterator over the array's memory: write x.ravel() (or x.ravel()[i])"),
    "strides": (False, "a Tensor holds no memory layout: use x.shape"),
    "flags": (False, "a Tensor holds no memory layout, so it has no flags"),
    "ctypes": (False, "a Tensor holds no memory: use t.numpy() on a value outside a trace"),
    "tobytes": (False, "a Tensor holds no memory: use t.numpy() on a value outside a trace"),
    "tofile": (False, "a Tensor holds no memory: use t.numpy() on a value outside a trace"),
    "dump": (False, "a Tensor holds no memory: use t.numpy() on a value outside a trace"),
    "dumps": (False, "a Tensor holds no memory: use t.numpy() on a value outside a trace"),
    "getfield": (False, ("reads the array's memory as another dtype, which a Tensor does not "
                        "have: write x.astype(dtype) to convert the values")),
    "compress": (False, ("is not recorded: write x[cond] (a boolean mask) or "
                        "x[np.nonzero(cond)], which keep x's derivative")),
    "choose": (False, ("is not recorded: write np.where(x == 0, c0, np.where(x == 1, c1, "
                      "...)) over the choices, which keeps their derivatives")),
    "device": (False, ("a Tensor is no array-API array with a device: its values are NumPy's "
                      "(or CuPy's, on the GPU); read them with t.numpy() outside a trace")),
    "to_device": (False, ("a Tensor is no array-API array with a device: diffkit's backend "
                         "follows the inputs' array module (NumPy or CuPy)")),
}


#: the operator of NumPy's in-place forms, for messages (`a += x` calls add with out=a)
_IN_PLACE = {"add": "+", "subtract": "-", "multiply": "*", "true_divide": "/", "divide": "/",
             "power": "**", "floor_divide": "//", "remainder": "%", "matmul": "@"}


def _compiled(source: str, prim: Primitive, name: str, **names: Any) -> Callable[..., Any]:
    """Compile `source` (printed by :mod:`diffkit.recorders` from the table) with this module's
    names, `prim`'s float function and rules and `names` in scope; the function named `name`."""
    namespace = dict(globals())
    namespace.update(names, math=math, _prim=prim, _fn=prim.on_floats,
                     **{f"_rule{i}": r for i, r in enumerate(prim.partials or ())})
    exec(compile(source, f"<diffkit recorder of {prim.name}>", "exec"), namespace)  # noqa: S102
    function = namespace[name]
    function.source = source
    return function


#: NumPy's bools by Python's (a comparison's record holds NumPy's, as its value has a dtype)
_BOOLS = (np.False_, np.True_)


def _defers(other: Any) -> bool:
    """NumPy's rule for binary operators (NEP 13): an operand whose class sets
    ``__array_ufunc__ = None`` (numpy.polynomial's series) does the operation itself, so the
    operator answers NotImplemented and Python calls the operand's reflected method
    (``x * Polynomial([1, 2])`` is the series with coefficients x·c, as for a NumPy float)."""
    return getattr(type(other), "__array_ufunc__", False) is None


#: the binary operators Tensor declares that no table entry prints (see _install_arithmetic)
_DEFERRING = ("__matmul__", "__rmatmul__", "__mod__", "__rmod__", "__floordiv__",
              "__rfloordiv__", "__divmod__", "__rdivmod__", "__and__", "__rand__", "__or__",
              "__ror__", "__xor__", "__rxor__")


def _deferring(method: Callable[[Any, Any], Any]) -> Callable[[Any, Any], Any]:
    """`method`, answering NotImplemented to an operand that does the operation (_defers)."""
    def operator(self: Any, other: Any) -> Any:
        return NotImplemented if _defers(other) else method(self, other)

    operator.__name__, operator.__qualname__ = method.__name__, method.__qualname__
    operator.__doc__ = method.__doc__
    return operator


for _name in _DEFERRING:
    setattr(Tensor, _name, _deferring(vars(Tensor)[_name]))

#: the primitives Tensor's infix operators record in one frame, and those operators
#: (``(x ∘ y, y ∘ x)`` as methods of x): the table's infix primitives with a float form
ARITHMETIC: dict[Primitive, tuple[Callable[[Tensor, Any], Any], Callable[[Tensor, Any], Any]]] = {}


#: the operator methods Tensor declares itself (``**``, for NumPy's ``bool ** 2``): the printed
#: operators hand everything that is not scalar code on a tracing tape to them
_DECLARED = {name: method for name, method in vars(Tensor).items()
             if name.startswith("__") and callable(method)}


def _install_arithmetic(printed: bool) -> None:
    """``+ − × ÷ **`` and their reflections for every infix primitive of the table with a float
    form (``on_floats``) and a Python operator (:data:`recorders.OPERATOR_NAMES`), printed by
    :func:`recorders.operator_source`: first with the rules called (`printed` False: the rules'
    own tracing needs the operators), then with the rules printed in."""
    for prim in REGISTRY.values():
        if prim.symbol not in recorders.OPERATOR_NAMES or prim.nargs != 2 or \
                prim.on_floats is None:
            continue
        ops = []
        for reflected in (False, True):
            name = f"__{'r' if reflected else ''}{recorders.OPERATOR_NAMES[prim.symbol]}__"
            general = _DECLARED.get(name)
            op = _compiled(recorders.operator_source(prim, reflected, printed,
                                                     general is not None), prim, name,
                           _general=general)
            op.__qualname__ = f"Tensor.{name}"
            if not reflected or prim.symbol in recorders.REFLECTED:
                setattr(Tensor, name, op)  # (a reflected comparison is for np.less(0.5, x))
            ops.append(op)
        ARITHMETIC[prim] = ops[0], ops[1]


def unary_recorder(prim: Primitive) -> Callable[[Any], Any] | None:
    """The recorder of one-argument `prim` (:func:`recorders.unary_source`), made on first use
    and kept as ``prim.scalar_recorder``; None for a primitive without a float form."""
    recorder = prim.scalar_recorder
    if recorder is None:
        if prim.nargs != 1 or prim.on_floats is None or float_rules.trace_rule is None or \
                getattr(_MAKING, "recorder", False):  # printing sin's traces cos, whose rule
            return None  # is −sin: no recursion
        _MAKING.recorder = True
        try:
            recorder = _compiled(recorders.unary_source(prim, True), prim, "record")
        finally:
            _MAKING.recorder = False
        object.__setattr__(prim, "scalar_recorder", recorder)  # derived data of a frozen record
    return recorder


#: per thread: whether a recorder is being printed in it (its rules are traced meanwhile:
#: their operations record by :meth:`Tape.unary_numpy`, the same operations; other threads go
#: on recording by the recorders, so their numbers do not depend on timing)
_MAKING = threading.local()


_install_arithmetic(printed=False)


def _trace_rule(rule: Any, arity: int) -> tuple[list[Node], Node] | None:
    """:data:`diffkit.float_rules.trace_rule`: `rule` traced on `arity` scalar inputs that are not
    being differentiated (its operations memoize nothing), or None where its result is no value
    of this trace or the trace branched on the values."""
    with new_tape() as tape:
        args = [Tensor(Node(None, (), _NO_PARAMS, 0.5 + 0.125 * i, name=f"a{i}"), tape, False)
                for i in range(arity)]
        result = rule(*args)
        if tape.value_dependent:
            return None
        if result is ONE or result is MINUS_ONE:  # a marker (the sweeps multiply by nothing)
            return [a.node for a in args], result
        if type(result) is not Tensor or result.tape is not tape:
            return None
        return [a.node for a in args], result.node


def _install_in_place_operators() -> None:
    """x += y, -=, *=, /=, **=, //=, %=: each through :func:`_in_place` with its out-of-place
    operator (recorded) and its NumPy in-place one (a value written where nothing can see it)."""
    def make(op: Any, iop: Any, symbol: str) -> Any:
        def method(self: Tensor, other: Any) -> Any:
            return _in_place(self, other, op, iop, symbol)

        return method

    for name, symbol in (("add", "+="), ("sub", "-="), ("mul", "*="), ("truediv", "/="),
                         ("pow", "**="), ("floordiv", "//="), ("mod", "%=")):
        method = make(getattr(Tensor, f"__{name}__"), getattr(operator, f"i{name}"), symbol)
        method.__name__ = f"__i{name}__"
        setattr(Tensor, method.__name__, method)


# A Tensor has no ``__getattr__``: with one, CPython cannot specialize any attribute access on a
# Tensor (``x.node``, ``x.tape`` on every recorded operation). The NumPy names a Tensor answers
# to and the named errors of the array attributes it lacks are class attributes instead.


def _numpy_method(fn: Callable[..., Any]) -> Any:
    """``x.<name>(...)`` for a NumPy name that dispatches to `fn` (``x.arcsinh()``, what
    NumPy's object loops call)."""
    def method(self: Tensor, *args: Any, **kwargs: Any) -> Any:
        return fn(self, *args, **kwargs)

    method.installed = True  # type: ignore[attr-defined]
    return method


def _install_numpy_method(name: str, fn: Callable[..., Any]) -> None:
    """Install ``x.<name>()`` unless the class defines that name itself (its own method wins); a
    name registered again replaces what was installed (``np.<name>`` follows the latest too),
    and a NumPy name wins over a missing attribute's named error."""
    if not name.isidentifier() or name.startswith("_"):
        return
    current = getattr(Tensor, name, None)
    if current is None or getattr(current, "installed", False) or (
            isinstance(current, property) and getattr(current.fget, "installed", False)):
        setattr(Tensor, name, _numpy_method(fn))


def _unrecorded_shift(a: Any, b: Any, symbol: str) -> Any:
    """``a << b`` or ``a >> b`` with a Tensor operand: an InputTypeError naming the dtypes and
    what to write (NumPy's left_shift and right_shift take integers only; none is recorded)."""
    types = ", ".join(str(t.dtype if type(t) is Tensor else np.asarray(t).dtype) for t in (a, b))
    fix = "a * 2**b" if symbol == "<<" else "a // 2**b"
    raise InputTypeError(
        f"a {symbol} b at {call_site()} on a traced value ({types}): diffkit records no "
        f"shift (NumPy's {'left' if symbol == '<<' else 'right'}_shift, for integers only): "
        f"write {fix}, the same for integers, or compare first (x > 0) for a mask")


def _missing_attribute(name: str, in_place: bool, hint: str) -> property:
    """An array attribute a Tensor lacks: reading it raises the named error (an
    AttributeError, so ``hasattr`` gives False)."""
    cls = TracedMutationAttributeError if in_place else TracedAttributeError

    def refuse(self: Tensor) -> Any:
        raise cls(f"x.{name} at {call_site()}: {hint}")

    refuse.installed = True  # type: ignore[attr-defined]
    return property(refuse)


for _name, (_in_place_kind, _hint) in _NO_ATTRIBUTE.items():
    setattr(Tensor, _name, _missing_attribute(_name, _in_place_kind, _hint))
for _name, _fn in list(NUMPY_NAMES.items()):
    _install_numpy_method(_name, _fn)
NUMPY_NAME_LISTENERS.append(_install_numpy_method)


def _library_caller() -> tuple[str, str] | None:
    """(module, function) of the SciPy function converting a traced value with np.asarray, seen
    from its outermost frame (what the user called), or None when the caller is not SciPy. A
    decorator's closure around it (``_apply_over_batch``'s ``wrapper``, a qualified name with
    ``<locals>``, which converts before it calls the function) is named by the SciPy function
    it holds (``scipy.linalg.solve_triangular``, not ``scipy.wrapper``)."""
    frame = sys._getframe(2)
    found = None
    while frame is not None:
        module = frame.f_globals.get("__name__", "")
        if module.startswith("scipy.") or module == "scipy":
            found = (module, frame.f_code.co_name)
            if "<locals>" in frame.f_code.co_qualname:
                found = _wrapped_by(frame) or found
        elif not module.startswith(("numpy", "array_api_compat", "array_api_extra")):
            break
        frame = frame.f_back
    return found


def _wrapped_by(frame: Any) -> tuple[str, str] | None:
    """(module, name) of the SciPy function a decorator's closure running in `frame` holds
    (its free variable), or None."""
    for name in frame.f_code.co_freevars:
        held = frame.f_locals.get(name)
        module = getattr(held, "__module__", None) or ""
        if callable(held) and module.startswith("scipy") and \
                "<locals>" not in getattr(held, "__qualname__", "<locals>"):
            return module, held.__name__
    return None


def _library_message(module: str, function: str) -> str:
    public = ".".join(part for part in module.split(".") if not part.startswith("_"))
    what = f"{public}.{function}"
    alternative = f"dk.{function}, or " if function in PUBLIC else ""
    return (f"{what} converts its input to a NumPy array, which would cut a traced value out of "
            f"the graph (it is SciPy code, not a ufunc diffkit can dispatch): use {alternative}"
            "method='fd', which treats the function as a black box")


def _public(name: str) -> Any:
    """The table's public function `name`, or a MissingRuleError naming what to use."""
    fn = PUBLIC.get(name)
    if fn is None:
        raise MissingRuleError(_unsupported(f"{name}"))
    return fn


class _Differentiated(Exception):
    """An argument of a NumPy function without a rule is being differentiated."""


def _constant_call(func: Any, args: Any, kwargs: Any, read: bool = False) -> Any:
    """NumPy's `func` on plain values where none of its arguments is being differentiated (no
    Tensor, nested in lists, tuples or dicts, that requires grad on its tape or an outer one):
    a function without a rule then gives a constant, as for NumPy (``np.linalg.matrix_rank`` of a
    detached matrix, ``np.linalg.cond`` of data). Reading the values makes each trace hold at
    this point only (a jit function then traces afresh); else :class:`_Differentiated` — unless
    `read`, which reads differentiated values too (for a result with no derivative:
    :func:`_discrete`)."""

    def plain(v: Any) -> Any:
        if isinstance(v, Traced):
            traced = None
            while isinstance(v, Traced):
                if getattr(v, "requires_grad", True) and not read:
                    raise _Differentiated
                v.tape.value_dependent = True
                traced = traced or (v.tape if v.tape.level else None)
                v = held_value(v)
            return v if traced is None else read_only(v, traced)  # np.put(a, …): no write
        if type(v) in (list, tuple):
            return type(v)(plain(e) for e in v)
        if type(v) is dict:
            return {k: plain(e) for k, e in v.items()}
        return v

    return func(*plain(args), **plain(kwargs))


def _discrete(out: Any) -> bool:
    """Whether a NumPy function's result has no derivative to lose: booleans and integers
    (arrays, NumPy or Python scalars, in tuples and lists) and dtypes. Such a function of a value
    being differentiated is piecewise constant in it, as a comparison is."""
    if type(out) in (tuple, list):
        return all(_discrete(v) for v in out)
    if isinstance(out, np.dtype | type):
        return True
    kind = getattr(out, "dtype", None)
    if kind is not None:
        return np.dtype(kind).kind in "biu"
    return isinstance(out, bool | int)


def _unsupported(what: str) -> str:
    return (f"diffkit cannot differentiate {what} yet: use diffkit's operations (dk.*), or "
            "method='fd', which treats the function as a black box")


def _numpy_target(obj: Any) -> Any:
    """The diffkit function a NumPy ufunc or function (or a scipy.special ufunc) dispatches to
    (None if there is none)."""
    try:
        hit = NUMPY_OBJECTS.get(obj)
    except TypeError:  # unhashable
        return None
    if hit is None and isinstance(obj, np.ufunc) and obj.__name__ in SCIPY_NAMES:
        special = sys.modules.get("scipy.special")  # only a caller of scipy can pass its ufuncs
        if special is not None and getattr(special, obj.__name__, None) is obj:
            hit = NUMPY_OBJECTS[obj] = SCIPY_NAMES[obj.__name__]
    return hit


def _item(v: Any) -> Any:
    if hasattr(v, "item"):
        if getattr(v, "size", 1) != 1:
            raise ShapeError(f".item() needs a one-element tensor, this one has shape {v.shape}")
        return v.item()
    return v


# ----- leaves of the eager tape and backward() ----------------------------------------------------

def _check_not_stored() -> None:
    """The TracingError for a value being differentiated stored into a plain NumPy array
    (``out[i] = x``, ``out[:] = x``: NumPy converts it to numbers, with float() or __array__),
    where the user's line is such a store; nothing otherwise (the caller's own message follows)."""
    frame, _ = user_frame(3)
    line = linecache.getline(frame.f_code.co_filename, frame.f_lineno) if frame else ""
    code = line.split("#")[0]
    if "]" in code and code.split("]", 1)[1].lstrip()[:1] == "=" and "==" not in code:
        refuse_inside_library("stores a traced value into a plain NumPy array")
        raise TracingError(
            f"a traced value was stored into a plain NumPy array at {call_site()}: an array of "
            "numbers cannot hold the trace, so its derivative would be lost; build the array from "
            "traced values instead (a = np.stack([...]) or dk.stack, a = np.concatenate(...)), or "
            "start from one (a = x * 0.0) and write a = a + dk.index_add(v, i, a.shape) or "
            "a = dk.where(mask, v, a)")


def _as_array(value: Any) -> Any:
    """A list or tuple (nested) as the NumPy array NumPy reads it as; anything else as it is."""
    return np.asarray(value) if type(value) is list or type(value) is tuple else value


def tensor(value: Any, requires_grad: bool = False, name: str = "leaf") -> Tensor:
    """An eager Tensor (a leaf of the eager tape), e.g. a parameter of a model. Lists and tuples
    become arrays (``dk.tensor([1.0, 2.0])`` has shape (2,)); an array is copied, as
    ``torch.tensor`` copies (``p.data -= d`` or an optimizer step never writes into the caller's
    array). A Tensor gives a new leaf holding a copy of its value (``torch.tensor(t)``'s)."""
    if isinstance(value, Tensor):
        value = value.concrete("dk.tensor()")
    return _leaf(own_copy(_tensor_data(value)), requires_grad, name)


#: what :func:`tensor` keeps as it is: numbers and plain NumPy arrays
_SCALARS = (float, int, complex, bool)


def _tensor_data(value: Any) -> Any:
    """The value :func:`tensor` holds for `value`: a number or a NumPy (or CuPy) array as it is,
    anything else NumPy reads as an array (a list, range, array.array, np.matrix — as a plain
    array, a CPU torch tensor) as ``np.asarray`` reads it; an InputTypeError naming what it
    cannot read, or what is no array of numbers (strings, objects)."""
    t = type(value)
    if t is np.ndarray or t in _SCALARS or isinstance(value, np.generic) or \
            array_namespace(value) is not np:  # a CuPy array
        return value
    what = f"{t.__module__}.{t.__qualname__}"
    if isinstance(value, np.ma.MaskedArray):
        raise InputTypeError(f"dk.tensor() of a masked array ({what}) would drop its mask: pass "
                             "value.filled(fill_value) or value.compressed()")
    try:
        array = np.asarray(value)
    except Exception as exc:  # noqa: BLE001 - named below (torch's tensor that requires grad)
        raise InputTypeError(
            f"dk.tensor() cannot read a {what} as an array ({type(exc).__name__}: {exc}): pass a "
            "NumPy array (a torch tensor: t.detach().cpu().numpy())") from None
    if array.dtype.kind not in "biufc":
        raise InputTypeError(
            f"dk.tensor() of a {what} gives an array of dtype {array.dtype}, not numbers: pass "
            "numbers, a list of numbers or a numeric NumPy array")
    return array


def read_only(v: Any, tape: Tape) -> Any:
    """A NumPy array handed out of `tape`'s trace (to a NumPy function with no rule, to
    ``np.asarray``, ``.value``): a read-only view of a copy. A recorded value never changes —
    nor the caller's argument an input's node holds — so an in-place NumPy function (np.put,
    np.copyto, np.place, np.putmask) raises at its line (:meth:`Function.run_body` names the
    error); a write that gets past the flag (``np.add.at``, ``a.flags.writeable = True``,
    ``a.base``) lands in the copy, which the trace compares with the value when it ends (a
    TracedMutationError: NumPy would have changed the traced value, which diffkit cannot
    follow). Other values as they are."""
    if type(v) is not np.ndarray:
        return v
    kept = v.copy(order="K")
    tape.hand_out(kept, v)
    out = kept.view()
    out.flags.writeable = False
    return out


#: the error of a write into an array handed out of a trace that got past its read-only flag
_WRITTEN_AROUND = (
    "NumPy wrote into an array read out of a traced value past its read-only flag (np.add.at "
    "and the other ufunc.at, a.flags.writeable = True, a.base[...] = v, byteswap(inplace=True)): "
    "NumPy would have changed the traced value itself, which the trace cannot follow. Build "
    "the new array instead (x = dk.where(mask, v, x), x + dk.index_add(v, i, x.shape)), or "
    "write into np.array(x, copy=True)")


def handing_out() -> bool:
    """Whether an open trace of this thread has handed arrays out (:func:`read_only`): a
    read-only error inside it may be a write into one of them."""
    return any(t.handed for t in _open_tapes())


def own_copy(x: Any) -> Any:
    """`x` with its own copy of every array (in lists, tuples and dicts too; traced values and
    scalars, immutable, as they are): what a Python body gets (:meth:`Function.run_body`: an
    in-place update in it never moves the caller's data or an engine's point), what a leaf of
    :func:`tensor` holds, what a jit function's frozen trace and a vjp's pullback keep."""
    t = type(x)
    if t is np.ndarray:
        if x.flags.c_contiguous or x.flags.f_contiguous:
            return x.copy(order="K")  # its memory order kept (ravel("K") reads it)
        return same_layout_copy(x)
    if t is list:
        return [own_copy(v) for v in x]
    if t is tuple:
        return tuple(own_copy(v) for v in x)
    if t is dict:
        return {k: own_copy(v) for k, v in x.items()}
    if isinstance(x, np.ndarray) or hasattr(t, "__cuda_array_interface__"):  # a subclass; a GPU
        return x.copy()                                   # array (CuPy's: a class attribute)
    return x


#: a copy keeps a strided array's gaps (:func:`same_layout_copy`) while its memory is at most
#: this many times the array's own bytes (plus a page); a sparser view is copied compactly
LAYOUT_COPY_SPREAD = 8


def same_layout_copy(x: np.ndarray) -> np.ndarray:
    """A writeable copy of a non-contiguous array with `x`'s strides and its address modulo 64:
    NumPy's result can depend on layout (matmul takes BLAS for a compact operand and its own
    loop for a strided one; a reduction's pairwise blocks follow the axes it can merge), so
    a body that computes on this copy gives NumPy's bits for `x`, while an in-place update in
    it moves only the copy. A view whose extent exceeds :data:`LAYOUT_COPY_SPREAD` times its
    bytes (``big[::1000]``) is copied compactly (memory order kept): a value within rounding
    of NumPy's, not a copy of the whole base."""
    itemsize = x.dtype.itemsize
    if 0 in x.shape or any(s == 0 or s % itemsize for s in x.strides):
        return x.copy(order="K")  # a broadcast (stride 0) or unaligned view: compact
    low = sum((n - 1) * s for n, s in zip(x.shape, x.strides) if s < 0)
    high = sum((n - 1) * s for n, s in zip(x.shape, x.strides) if s > 0) + itemsize
    if high - low > LAYOUT_COPY_SPREAD * x.nbytes + 4096:
        return x.copy(order="K")
    buffer = np.empty(high - low + 64, dtype=np.uint8)
    first = (x.__array_interface__["data"][0] + low - buffer.__array_interface__["data"][0]) % 64
    out = np.ndarray(x.shape, x.dtype, buffer=buffer, offset=first - low, strides=x.strides)
    out[...] = x
    return out


def _leaf(value: Any, requires_grad: bool = False, name: str = "leaf") -> Tensor:
    """A leaf of the eager tape holding `value` itself (no copy; see :func:`tensor`)."""
    node = Node(None, (), {}, value, name=name)
    if requires_grad:
        _check_can_require_grad(node.dtype)
    t = Tensor(node, EAGER_TAPE, requires_grad)
    node.owner = weakref.ref(t)  # weak: no cycle, and the Tensor may die before its graphs
    return t


def _check_can_require_grad(dtype: Any) -> None:
    """PyTorch's rule for leaves that require grad: floating or complex values only (an integer
    leaf would get a gradient on some paths and silently none through a cast to float)."""
    if np.dtype(dtype).kind in "biu":
        raise InputTypeError(
            f"only floating point and complex Tensors can require gradients, this one has dtype "
            f"{np.dtype(dtype)} (at {call_site()}): give it a float dtype, e.g. "
            "dk.tensor(np.asarray(v, float), requires_grad=True)")


def _rebuild_leaf(value: Any, requires_grad: bool, name: str, grad: Any) -> Tensor:
    """The leaf a pickle holds (see :meth:`Tensor.__reduce__`)."""
    t = _leaf(value, requires_grad, name)
    t.grad = grad
    return t


def grad_enabled() -> bool:
    """False inside ``nn.no_grad()`` in this thread."""
    return not NO_GRAD_THREADS or get_ident() not in NO_GRAD_THREADS


def _in_place(t: Tensor, other: Any, op: Any, iop: Any, symbol: str) -> Any:
    """``t op= other`` with NumPy's and PyTorch's meaning; never a silently wrong gradient.

    * Traced code: an array `t` itself becomes ``t op other`` (recorded), in `t`'s shape and
      dtype, so that another name for the same array sees the update as it would see NumPy's
      (``y = x; x *= 3``: y is 3x; rebinding x alone made every traced method differentiate
      another function than the one a plain call evaluates). A 0-d value stands for a Python
      number or a NumPy scalar, which are immutable: rebinding, ``t = t op other``, as Python
      does. An operand traced deeper (nesting): rebinding too — except on a leaf that requires
      grad (a parameter): a TracingError (:func:`_traced_into_leaf`).
    * Nothing to differentiate (``nn.no_grad()``, or no operand requires grad): the value
      changes, written into the array where no one else can see it (:func:`writable_alone`),
      else a fresh leaf node; graphs recorded before keep the value they used.
    * A leaf that requires grad, with gradients on: TracingError, as PyTorch.
    * Otherwise (a computed tensor, or a constant leaf meeting a tensor that requires grad):
      the operation is recorded out of place and `t` becomes its result."""
    tape = t.tape
    if tape.level:
        out = op(t, other)
        if type(out) is not Tensor or out.tape is not tape or not t.shape:
            # recorded on a deeper tape; or a 0-d value, which stands for a Python number or a
            # NumPy scalar (a float input, a reduction's result): those are immutable, so `+=`
            # rebinds, with their promotion (y = x; x *= 3 leaves y as it was)
            return out
        _check_views(t, symbol)
        return _become(t, out, symbol)
    if isinstance(other, Traced) and other.tape is not tape:
        if t.node.prim is None and t.requires_grad:
            raise _traced_into_leaf(t, f"in-place {symbol}")
        return op(t, other)
    if not (grad_enabled() and (t.requires_grad or isinstance(other, Tensor) and other.requires_grad)):
        if t.node.prim is not None and t.requires_grad:
            raise TracingError(
                f"in-place {symbol} under no_grad at {call_site()} on a Tensor computed from "
                "tensors that require grad would change a value its graph holds: write "
                "t = t.detach(), then change it")
        if t.node.shape:  # a live view would keep the old values (no write reaches it)
            _check_views(t, symbol)
        return _assign_in_place(t, other, iop, symbol)
    if t.node.prim is None and t.requires_grad:
        raise TracingError(
            f"a leaf Tensor that requires grad is being used in an in-place operation ({symbol} "
            f"at {call_site()}): update it under `with nn.no_grad():`, or write t = t {symbol[:-1]} "
            "... for a new tensor")
    if t.node.shape:
        _check_views(t, symbol)
    return _become(t, op(t, other), symbol)


def _become(t: Tensor, out: Tensor, symbol: str) -> Tensor:
    """`t` made the result `out` of ``t op other`` (NumPy's rules of ``a op= b``: the result must
    keep t's shape, and is cast to t's dtype where the kind allows)."""
    if out.node.shape != t.node.shape:
        raise ShapeError(f"in-place {symbol}: the result has shape {out.node.shape}, which does "
                         f"not fit the tensor's {t.node.shape}")
    if out.node.dtype != t.node.dtype:  # NumPy's in-place rule: the tensor's dtype, same kind
        check_casting([out.node.dtype], t.node.dtype, "same_kind")
        out = _public("astype")(out, t.node.dtype)
    old = t.node
    if getattr(old, "owner", None) is not None:
        old.owner = None  # the old leaf node no longer names t (t is now the result)
    t.node, t.requires_grad = out.node, out.requires_grad
    return t


def _assign_in_place(t: Tensor, other: Any, iop: Any, symbol: str) -> Tensor:
    """``t op= other`` on the numbers only (see :func:`_in_place`); NumPy's rules of ``a op= b``
    (the array's dtype and shape stay: its casting errors, a ShapeError for broadcasting)."""
    alone = writable_alone(t)  # asked before this frame holds the node or the array
    o = other.node.value if isinstance(other, Tensor) else _as_array(other)
    v = t.node.value
    try:
        if alone:
            iop(v, o)
            return t
        new = iop(array_namespace(v).array(v, copy=True), o)
    except ValueError as exc:
        raise ShapeError(f"in-place {symbol}: an operand of shape {getattr(o, 'shape', ())} does "
                         f"not fit the tensor's {t.node.shape} ({exc})") from None
    set_leaf_value(t, new if hasattr(v, "ndim") and type(v) is not _F64 else new[()])
    return t


def set_leaf_value(t: Tensor, value: Any) -> Tensor:
    """Give leaf tensor `t` a new value: a fresh immutable leaf node. The old node stays in the
    graphs that used it, holding the old value, and still names `t` as its owner: backward
    through such a graph adds to ``t.grad`` the gradient at the recorded value (see
    :func:`backward`). A value of a trace is a TracingError (:func:`_traced_into_leaf`)."""
    if isinstance(value, Traced) and value.tape.level:
        raise _traced_into_leaf(t, "nn.assign_, .data = or an update")
    old = t.node
    node = t.node = Node(None, (), {}, value, name=old.name)
    owner = getattr(old, "owner", None)
    node.owner = owner if owner is not None else weakref.ref(t)
    return t


def _traced_into_leaf(t: Tensor, how: str) -> TracingError:
    """The error for a traced value written into leaf `t` of the eager tape (a parameter) inside
    a function being differentiated: the leaf would keep a value of a trace that ends with the
    call (unusable afterwards), and the derivative would not see the write (a silent 0, as a
    rebinding ``p -= lr·g`` leaves the model unchanged). torch.func refuses likewise."""
    return TracingError(
        f"leaf {t.node.name!r} of the eager tape (a parameter, or a tensor made outside the "
        f"traced function) was given a value traced inside a function being differentiated "
        f"({how} at {call_site()}): it would keep a value of a trace that ends with the call, "
        "and the derivative would miss the write. Compute the update functionally and use it "
        "(new = p - lr * g, then nn.functional_call(model, {name: new}, x)), or return it")


def _refcounts(t: Tensor) -> tuple[int, int]:
    """References to leaf `t`'s node and to its value array, counted from a frame laid out as
    :func:`writable_alone`'s (the same locals hold the same objects)."""
    node = t.node
    v = node.value
    return getrefcount(node), getrefcount(v)


#: what :func:`_refcounts` reports for a leaf that nothing else holds (measured on this
#: interpreter); (-1, -1), never in place, where counts do not tell: not CPython, or a
#: free-threaded build (other threads' references may be counted late there)
_ALONE_NODE, _ALONE_VALUE = _refcounts(Tensor(Node(None, (), {}, np.zeros(1)))) \
    if sys.implementation.name == "cpython" and getattr(sys, "_is_gil_enabled", lambda: True)() \
    else (-1, -1)


def writable_alone(t: Tensor) -> bool:
    """Whether leaf `t`'s value can be changed in place without anyone seeing it: nothing but
    `t` holds its node (no graph recorded from it is alive), nothing but that node holds the
    array (no variable, view or buffer of the caller's), and the array owns writeable memory.
    Then ``θ −= Δ`` gives what a fresh leaf holding ``θ − Δ`` gives, to everything that can
    look, which is what lets optimizers update in place (as PyTorch's do) without breaking
    the immutability of IR nodes. NumPy arrays only (a CuPy array may wrap memory another
    library owns without saying so: it gets a fresh array); on other interpreters: False.
    (The counts are taken here, in a frame laid out as :func:`_refcounts`'s, which measured
    the lone leaf's at import.)"""
    node = t.node
    v = node.value
    if getrefcount(node) > _ALONE_NODE or getrefcount(v) > _ALONE_VALUE or type(v) is not np.ndarray:
        return False
    flags = v.flags
    return flags.owndata and flags.writeable


def leaf_tensor(node: Node) -> Tensor | None:
    """The leaf Tensor whose value leaf `node` holds or held (set by :func:`set_leaf_value`);
    None for anything else, and once the Tensor has become a computed one."""
    owner = getattr(node, "owner", None)
    t = None if owner is None else owner()
    return t if t is not None and t.node.prim is None else None


def _gradient_target(node: Node) -> Tensor | None:
    """The leaf requiring grad that backward fills for leaf `node`. A node `t` held before its
    value was replaced (``with nn.no_grad(): p += 1``, an optimizer step) still gets its
    gradient, at the recorded value, when it fits ``t`` (PyTorch would refuse the graph: "modified
    by an inplace operation"); one of another shape, dtype or device is a TracingError."""
    t = leaf_tensor(node)
    if t is None or not t.requires_grad:
        return None
    now = t.node
    if now is not node and (now.shape != node.shape or now.dtype != node.dtype
                            or array_namespace(now.value) is not array_namespace(node.value)):
        raise TracingError(
            f"backward(): leaf {node.name!r} was given a value of shape {now.shape}, dtype "
            f"{now.dtype} after this graph recorded it with shape {node.shape}, dtype "
            f"{node.dtype} (or it moved device): its gradient would not fit .grad; run the "
            "forward pass again")
    return t


_NOTHING_REQUIRES_GRAD = (
    "backward(): nothing in this graph requires a gradient: the tensor does not depend, through "
    "differentiable operations, on a leaf that required grad when the operations were recorded "
    "(a comparison, an integer cast, detach() or no_grad cut the path; a flag set later reaches "
    "only operations recorded after it): make the leaves with requires_grad=True first")


def backward(root: Tensor, gradient: Any = None) -> None:
    """``tensor.backward()``: accumulate d(root)/d(leaf) into ``.grad`` of leaves requiring it.
    Eager tensors only: a traced value is a TracingError (eager leaves enter a trace as
    constants, and ``.grad`` would hold a value of the trace; torch.func refuses too)."""
    tape = root.tape
    if tape.level:
        raise TracingError(_ESCAPED if tape.closed else (
            f"backward() at {call_site()} on a value traced inside a function being "
            "differentiated (dk.grad & co.): .grad is filled by eager backward passes only; "
            "return the value and differentiate it with dk.grad (pass what it depends on as "
            "arguments), or call backward() on a value computed outside traced code"))
    if not root.requires_grad:  # a comparison, an integer cast, a constant (PyTorch refuses too)
        raise ShapeError(_NOTHING_REQUIRES_GRAD)
    nodes = toposort([root.node])
    leaves = {n: t for n in nodes if n.prim is None and (t := _gradient_target(n)) is not None}
    if not leaves:
        if root.requires_grad and any(
                n.prim is None and (o := getattr(n, "owner", None)) is not None and o() is None
                for n in nodes):  # its leaves are gone (a temporary: dk.tensor(…,
            return  # requires_grad=True) used and dropped): no .grad to fill, as PyTorch's
        raise ShapeError(_NOTHING_REQUIRES_GRAD)
    gradient = _seed(root, gradient)
    wrt = list(leaves)
    with paused_gc():  # acyclic graph: reference counting frees it; the cyclic GC would only rescan
        try:
            with np.errstate(**STRONG_ZERO):  # 0·∞ = 0 whatever the caller's errstate
                adj = _adjoints(nodes, wrt, root.node, gradient)
        except (ArithmeticError, DomainError, NonDifferentiableError):
            # no finite answer (∞ − ∞ where paths merge, a rule's 1/0): NumPy's arithmetic as
            # the caller set it gives its infinities and NaNs (PyTorch's), or its error
            adj = _adjoints(nodes, wrt, root.node, gradient)
    # a real leaf's derivative of a real output is real: the real part of what complex
    # intermediates leave (real(exp(1j·b)) gave b a made-up imaginary part), as dk.grad's
    real = root.node.dtype.kind != "c" and getattr(gradient, "dtype", _FLOAT).kind != "c"
    for node, t in leaves.items():
        if node in adj:
            g = adj[node]
            if real and node.dtype.kind != "c" and getattr(g, "dtype", _FLOAT).kind == "c":
                g = g.real
            add_grad(t, g)


def add_grad(t: Tensor, g: Any, owned: bool = False) -> None:
    """Backward's rule for ``.grad``: `g` as the leaf's own writable array in its dtype (a copy,
    unless `owned` says it already is one nothing else holds), added to what is there."""
    if not owned:
        g = _owned_grad(g, t.node.dtype)
    with _GRAD_LOCK:  # backward() in several threads onto one leaf: no sum lost between them
        t.grad = g if t.grad is None else _accumulated(t.grad, g)


#: held while a leaf's ``.grad`` is read, added to and written back (PyTorch locks its
#: accumulation too: four threads' 200 backward passes each onto one leaf kept 544 of 1600)
_GRAD_LOCK = threading.Lock()


def _adjoints(nodes: list[Node], wrt: list[Node], output: Node, gradient: Any) -> dict[Node, Any]:
    """The leaves' adjoints: the fused scalar sweep, else the general sweeps."""
    adj = scalar_adjoints(nodes, wrt, output, gradient)  # scalar code, or None
    if adj is None:
        _, lins = linearize_all(nodes, wrt)
        adj = adjoint_sweep(nodes, lins, output, gradient, wrt)
    return adj


def _accumulated(old: Any, g: Any) -> Any:
    """``.grad + g``, still an array (NumPy's 0-d sum is a scalar)."""
    total = old + g
    return np.asarray(total) if isinstance(total, np.generic) else total


def _seed(root: Tensor, gradient: Any) -> Any:
    """backward's ȳ: ones for a one-element output, else `gradient` (a list, array or Tensor) of
    the output's shape (ShapeError otherwise, PyTorch's "Mismatch in shape"), in its dtype, as
    a copy (``.grad`` never aliases the caller's array)."""
    v = root.node.value
    dtype = root.node.dtype
    if gradient is None:
        if root.size != 1:
            raise ShapeError(f"backward() needs a gradient argument for an output of shape {root.shape}")
        if dtype.kind == "c":  # PyTorch's rule: an implicit 1 is no derivative of a complex value
            raise InputTypeError(
                "backward() of a complex output needs a gradient argument (the cotangent: "
                "backward(gradient=1+0j) gives the derivative of Σ ȳ·y); for a real loss, "
                "differentiate a real value (y.real, abs(y)**2)")
        return v.dtype.type(1) if type(v) is _F64 else array_namespace(v).ones(
            root.shape, dtype=getattr(v, "dtype", float))
    if isinstance(gradient, Tensor):
        gradient = gradient.node.value
    xp = array_namespace(v)
    g = xp.asarray(gradient)
    if g.shape != root.shape:
        raise ShapeError(f"backward(): mismatch in shape: the gradient has shape {g.shape}, the "
                         f"output {root.shape} (they must be equal)")
    if dtype.kind in "fc" and not (dtype.kind == "f" and g.dtype.kind == "c"):
        g = g.astype(dtype, copy=True)
    else:
        g = g.copy()
    return dtype.type(g) if type(v) is _F64 else g


def _owned_grad(g: Any, dtype: np.dtype) -> Any:
    """A leaf's gradient as its own writable array in the leaf's dtype (PyTorch and JAX: a
    float32 leaf gets a float32 gradient); a complex gradient of a real leaf keeps its type."""
    kind = getattr(g, "dtype", np.dtype(float)).kind
    target = dtype if dtype.kind in "fc" and not (dtype.kind == "f" and kind == "c") else None
    if getattr(g, "ndim", 0) == 0 and not hasattr(g, "__array_namespace__") or type(g) is _F64:
        return np.array(g, dtype=target)  # a 0-d array, never an immutable NumPy scalar
    return array_namespace(g).array(g, dtype=target, copy=True)


# the module's last lines: the rules traced for printing use all of it (constants' own copies)
float_rules.trace_rule = _trace_rule
_install_arithmetic(printed=True)
_install_in_place_operators()  # (after the printed operators: `x **= 2` calls them)
