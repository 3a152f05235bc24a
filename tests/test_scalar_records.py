"""Scalar records: scalar code on a tracing tape is one object per operation.

The Tensor a traced scalar operation returns is also its record (primitive, operands, value,
memoized partials); its IR node is made only when something asks for it. These tests check the
record sweep against the general sweeps over the nodes (bit for bit) and against hand-derived
derivatives, the recorders printed from the table against the table's own rules, and the
bookkeeping the design depends on: ids in creation order, no reference cycle left behind, the
adjoint slots cleared, and the switch to the general sweeps when a node is made mid-trace.
"""

from __future__ import annotations

import gc
import math
import weakref

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import diffkit as dk
from diffkit.ir import Node
from diffkit.primitive import REGISTRY
from diffkit.sweeps import adjoint_sweep, linearize_all, record_adjoints
from diffkit.tensor import ARITHMETIC, Tensor, unary_recorder

UNARY = [dk.sin, dk.cos, dk.exp, dk.tanh, dk.log1p, dk.sigmoid, dk.sqrt, dk.arctan]


def _program(ops):
    def body(x, y):
        v = x
        for kind, arg in ops:
            if kind == "u":
                v = UNARY[arg % len(UNARY)](v * 0.3 + 1.5 if arg % 2 else v * v + 0.25)
            else:
                other = y if arg % 3 else 1.25 if arg % 2 else 3  # an int constant too
                v = [v + other, other - v, v * other, v / (other * other + 1.0),
                     other / (v * v + 2.0), v * v, dk.tanh(v) ** 2 + other, 2 ** dk.tanh(v),
                     -v * other, abs(v) + other, (v * v + 1.0) ** 0.5 * other, v ** 3,
                     (v if v > 0.2 else -v) + other, (v * v + 0.5) ** other][arg % 14]
        return v
    return body


def _general(graph):
    wrt = list(graph.inputs)
    _, lins = linearize_all(graph.nodes, wrt)
    adj = adjoint_sweep(graph.nodes, lins, graph.output, np.float64(1.0), wrt)
    return [adj.get(n) for n in wrt]


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(st.sampled_from("ub"), st.integers(0, 23)), min_size=1, max_size=30),
       st.floats(-1.5, 1.5), st.floats(-1.5, 1.5))
def test_the_record_sweep_is_the_general_sweep_bit_for_bit(ops, x, y) -> None:
    graph = dk.function(_program(ops), inputs=["x", "y"]).trace(x, y)
    assert graph.recorded is not None and graph.recorded  # scalar code: records, no nodes yet
    assert all(type(r) is Tensor and r._node is None for r in graph.recorded)
    fused = record_adjoints(graph.recorded, graph.inputs, list(graph.inputs),
                            graph.recorded_output, np.float64(1.0))
    assert all(r._adjoint is None and r.grad is None for r in graph.recorded)  # cleared
    assert all(n._adjoint is None for n in graph.inputs)
    with np.errstate(all="ignore"):
        general = _general(graph)  # the nodes, made now from the records
    if any(g is not None and not np.isfinite(g) for g in general):
        assert fused is None  # the caller's general path answers (a named error, or 0·∞ = 0)
        return
    assert fused is not None
    got = [fused.get(node) for node in graph.inputs]
    assert got == general  # bit for bit (None: the output does not depend on that input)
    assert all(type(g) in (float, np.float64) for g in got if g is not None)


def _binary_cases():
    for prim, ops in ARITHMETIC.items():
        for reflected in (False, True):
            yield pytest.param(prim, ops[1 if reflected else 0], reflected,
                               id=f"{prim.name}-{'r' if reflected else 'l'}")


@pytest.mark.parametrize(("prim", "op", "reflected"), list(_binary_cases()))
@pytest.mark.parametrize(("a", "b"), [(0.7, 1.9), (-2.5, 0.125), (3.0e5, -7.0e-3)])
def test_the_printed_operator_memoizes_the_table_rules(prim, op, reflected, a, b) -> None:
    """The generated ``x ∘ y``: its value is the primitive's float form, its memoized partials
    are the table's rules on the same floats (bit for bit), for tensor∘tensor and tensor∘float;
    a comparison's record holds NumPy's bool and no partials."""
    with _tape() as tape:
        x = Tensor(Node(None, (), {}, a, name="x"), tape, True)
        y = Tensor(Node(None, (), {}, b, name="y"), tape, True)
        for other, tensor in ((y, True), (b, False)):
            left, right = (b, a) if reflected else (a, b)
            try:
                want = prim.on_floats(left, right)
            except ValueError:  # (-2.5) ** 0.125: NumPy's NaN, a named error (as dk.grad
                with np.errstate(all="raise"), pytest.raises(dk.DomainError):  # traces)
                    op(x, other)
                continue
            t = op(x, other)
            assert t._node is None and t._value == want
            if not prim.differentiable:  # a comparison: NumPy's bool, no derivative
                assert type(t._value) is np.bool_
                assert t._partials is None and not t.requires_grad
                continue
            assert type(t._value) is float
            mine = 1 if reflected else 0
            try:
                with np.errstate(all="raise"):
                    rules = [prim.partials[i](left, right, want) if tensor or i == mine
                             else None for i in (0, 1)]
            except (ArithmeticError, ValueError, dk.DiffkitError):
                # no finite rule on these floats (∂(a**b)/∂b at a < 0): nothing memoized (the
                # sweep derives it, or the general path names the error)
                assert t._partials is None
                continue
            got = t._partials
            assert got is not None
            for g, w in zip(got, rules, strict=True):
                assert (g is None and w is None) or g is w or g == w


def _tape():
    from diffkit.tensor import new_tape

    return new_tape()


@pytest.mark.parametrize("prim", [p for p in REGISTRY.values()
                                  if p.nargs == 1 and p.on_floats is not None
                                  and p.differentiable and p.partials],
                         ids=lambda p: p.name)
def test_the_printed_unary_recorder_memoizes_the_table_rule(prim) -> None:
    record = unary_recorder(prim)
    assert record is not None
    for v in (0.3, 0.75, 1.6, 2.5):
        with _tape() as tape:
            x = Tensor(Node(None, (), {}, v, name="x"), tape, True)
            try:
                want = prim.on_floats(v)
            except (ArithmeticError, ValueError):
                continue
            if not math.isfinite(want):
                continue
            t = record(x)
            assert t._value == want
            with np.errstate(all="ignore"):
                try:
                    rule = prim.partials[0](v, want)
                except Exception:  # noqa: BLE001 - the recorder leaves such a partial too
                    assert t._partials is None
                    continue
            got = t._partials[0] if t._partials is not None else None
            if got is None:  # the printed rule met a non-finite intermediate: the sweep's
                got = dk.grad(lambda u: prim(u))(v)[0]  # derivation, from the rule itself
            assert got is rule or got == rule or (np.isnan(got) and np.isnan(rule))


def test_records_are_freed_without_the_cycle_collector() -> None:
    kept = []

    def f(x):
        y = dk.sin(x) * 2.0 + x
        kept.append(weakref.ref(y))
        return y * y

    was = gc.isenabled()
    gc.disable()
    try:
        assert dk.grad(f)(0.4)[0] == pytest.approx(
            2 * (2 * math.sin(0.4) + 0.4) * (2 * math.cos(0.4) + 1), rel=1e-14)
        assert kept[0]() is None  # no tape <-> record cycle keeps the trace alive
    finally:
        if was:
            gc.enable()


def test_a_sweep_that_stops_early_clears_every_adjoint_slot() -> None:
    def f(x):
        return dk.sqrt(x * 0.0) + x  # sqrt′(0) = 0.5/0: the record sweep hands over

    graph = dk.function(f).trace(1.0)
    assert record_adjoints(graph.recorded, graph.inputs, list(graph.inputs),
                           graph.recorded_output, 1.0) is None
    assert all(r._adjoint is None for r in graph.recorded)
    assert all(n._adjoint is None for n in graph.inputs)
    assert dk.grad(f)(1.0) == (1.0,)  # the general path's answer: 0·∞ through a constant 0


def test_a_node_made_mid_trace_switches_to_the_general_sweeps() -> None:
    def f(x):
        y = x * x + 1.0  # records
        z = dk.where(y > 1.5, y, 2.0 * y)  # a general node over a record: the record's node
        return z * 3.0 + y

    graph = dk.function(f).trace(0.9)
    assert graph.recorded is None  # the record sweep would miss the node's adjoint
    for x in (0.9, 0.3):
        y = x * x + 1.0
        want = (3.0 + 1.0) * 2 * x if y > 1.5 else (6.0 + 1.0) * 2 * x
        assert dk.grad(f)(x)[0] == pytest.approx(want, rel=1e-15)


def test_nodes_made_from_records_keep_creation_order() -> None:
    def f(x, y):
        a = dk.log(x)
        b = x * y
        c = dk.sin(y)
        return (b + a) - c  # made from the output: c, b, a would come first depth-first

    graph = dk.function(f, inputs=["x", "y"]).trace(2.0, 5.0)
    ops = [n.prim.name for n in graph.nodes if n.prim is not None]
    assert ops == ["log", "mul", "sin", "add", "sub"]
    ids = [n.id for n in graph.nodes]
    assert ids == sorted(ids)


def test_reading_a_record_keeps_the_record_sweep() -> None:
    """Shape, dtype, printing and branching on a traced scalar read the record, not a node."""
    def f(x):
        y = x * 2.0
        assert y.shape == () and y.ndim == 0 and y.dtype == np.float64 and y.size == 1
        if y > 0.5:  # a branch reads the value
            y = y * y
        repr(y)
        return y + 1.0

    graph = dk.function(f).trace(0.4)
    assert graph.recorded is not None
    assert dk.grad(f)(0.4)[0] == pytest.approx(8 * 0.4, rel=1e-15)
    assert dk.grad(f)(0.1)[0] == pytest.approx(2.0, rel=1e-15)


def test_a_grad_written_on_a_traced_value_is_no_adjoint() -> None:
    """Hunt: the record sweep kept adjoints in the records' ``grad`` slot, which user code can
    write: a value left there became an adjoint (x·x with .grad = 5 gave 21.75 for 6.75)."""
    def f(x):
        y = x * x
        y.grad = 5.0  # user code writing .grad on an intermediate (PyTorch allows it)
        unused = x * 2.0
        unused.grad = 1.0
        return y * x

    assert dk.grad(f)(1.5) == (3 * 1.5 ** 2,)

    def g(x):
        z = dk.sin(x * 2.0)
        z.grad = "stale"
        return z * x

    assert dk.grad(g)(2.0)[0] == pytest.approx(math.sin(4.0) + 2.0 * 2.0 * math.cos(4.0),
                                               rel=1e-15)


def test_a_recorder_printed_in_another_thread_leaves_this_threads_numbers() -> None:
    """Hunt: while one thread printed a recorder, every other thread's one-argument calls fell
    back to NumPy's loop (np.tanh, 1 ulp from math.tanh): the answer depended on timing."""
    import threading

    import diffkit.recorders as R
    from diffkit import primitives as P

    kept = {p: p.scalar_recorder for p in (P.tanh, P.arctan)}
    for p in kept:
        object.__setattr__(p, "scalar_recorder", None)
    started, release = threading.Event(), threading.Event()
    original = R.unary_source

    def slow_source(prim, printed):
        if prim is P.tanh:  # hold the printer thread inside the printing
            started.set()
            release.wait(10)
        return original(prim, printed)

    R.unary_source = slow_source
    try:
        printer = threading.Thread(target=lambda: dk.grad(lambda t: dk.tanh(t))(0.3))
        printer.start()
        assert started.wait(10)  # the other thread is printing tanh's recorder now
        v, (g,) = dk.value_and_grad(lambda t: dk.arctan(t * 0.5))(0.3)
        assert P.arctan.scalar_recorder is not None  # this thread printed its own
        assert v == math.atan(0.15) and g == pytest.approx(0.5 / (1 + 0.15 ** 2), rel=1e-15)
    finally:
        release.set()
        printer.join()
        R.unary_source = original
        for p, recorder in kept.items():
            if p.scalar_recorder is None:
                object.__setattr__(p, "scalar_recorder", recorder)


def test_a_graph_of_records_deep_copies() -> None:
    """Hunt: copy.deepcopy of a traced scalar graph raised (it held records, traced values)."""
    import copy

    g = dk.function(lambda x: dk.sin(x) * x + 2.0, inputs=["x"]).trace(0.5)
    c = copy.deepcopy(g)
    assert c.listing(values=True) == g.listing(values=True)
    assert c.recorded is None and c.output is not g.output


def test_nodes_replace_records_when_a_graph_makes_them() -> None:
    """A graph made into nodes lets go of its records (memory: the nodes replace them)."""
    kept = []

    def f(x):
        y = x * 3.0
        kept.append(weakref.ref(y))
        return dk.sin(y) + 1.0

    was = gc.isenabled()
    gc.disable()
    try:
        g = dk.function(f).trace(0.2)
        assert kept[0]() is not None  # the graph's record list holds it
        assert g.listing()  # nodes made
        assert g.recorded is None and kept[0]() is None
        assert [n.prim.name for n in g.nodes if n.prim is not None] == ["mul", "sin", "add"]
    finally:
        if was:
            gc.enable()


@pytest.mark.parametrize("body", [lambda x: (x * 2.0, x)[1], lambda x: (x * 2.0, 3.0)[1],
                                  lambda x: dk.sin(x) * x],
                         ids=["input-out", "constant-out", "record-out"])
def test_copies_of_a_scalar_graph_are_independent(body) -> None:
    """Hunt: a graph whose output is an input or a constant kept its records, and deepcopy
    refused them (traced values); a shallow copy shared the record list that making the nodes
    empties, and the original then failed with an AttributeError."""
    import copy

    want = dk.function(body).trace(0.5).listing(values=True)
    g = dk.function(body).trace(0.5)
    assert copy.deepcopy(g).listing(values=True) == want
    g = dk.function(body).trace(0.5)
    c = copy.copy(g)
    assert c.listing(values=True) == want and g.listing(values=True) == want


def test_python_int_constants_keep_scalar_code_on_records() -> None:
    """A Python int beside a traced float (``2 * x``, ``x ** 2``, ``3 / x``) is what NumPy reads
    as its float: one such constant used to send the whole trace to the general sweeps (the
    record list ended, and the node sweep refused the int: 20× slower for the whole chain)."""
    def f(x):
        y = dk.sin(x * 2) + x ** 2 - 3 / x
        for _ in range(50):
            y = y * 1.0001 + 0.01
        return y

    graph = dk.function(f).trace(0.7)
    assert graph.recorded is not None  # still scalar records
    want = (2 * math.cos(1.4) + 2 * 0.7 + 3 / 0.7 ** 2) * 1.0001 ** 50
    assert dk.grad(f)(0.7)[0] == pytest.approx(want, rel=1e-14)
    both = dk.function(lambda x: 2 * x + x * 3 - 1, inputs=["x"]).trace(0.5)
    assert both.recorded is not None
    lines = [line.split("=")[1].strip() for line in both.listing().splitlines()[1:5]]
    assert lines == ["2 * v0", "v0 * 3", "v1 + v2", "v3 - 1"]  # the ints listed as written


@pytest.mark.parametrize(("f", "x"), [(lambda x: x / 0, 1.0), (lambda x: x ** -1, 0.0),
                                      (lambda x: x % 0, 1.0), (lambda x: x * 10 ** 400, 1.0)])
def test_an_int_constant_that_fails_fails_as_numpy_does(f, x) -> None:
    with pytest.raises((dk.DomainError, OverflowError)) as got:
        dk.grad(f)(x)
    with pytest.raises(type(got.value)):  # what the float constant's NumPy gives
        dk.grad(lambda t: f(t * 1.0))(x)
