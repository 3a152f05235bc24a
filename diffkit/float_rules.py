"""The table's partial rules as plain Python float code, for scalar code on a tracing tape.

A tracing tape memoizes the local partials of scalar code as it records: sin's rule
``lambda x, o: cos(x)`` called on a Python float runs ``cos`` as a primitive — its dispatch
costs ~0.35 µs for ~0.03 µs of ``math.cos``. Here each rule is traced once on scalar inputs
and, where every operation it applies has a float form
(:attr:`~diffkit.primitive.Primitive.on_floats`: the table's scalar templates written without
NumPy — ``math`` functions, ``+ − × ÷``, comparisons, ``where`` — which a primitive called on
floats runs) and it does not branch in Python, printed as Python float code (:func:`rule_text`,
which :mod:`diffkit.recorders` inlines into the recorders): the same functions applied to the
same floats in the same order as the rule on floats, so the same numbers — checked at probe
points before a printed rule is used (:func:`_agrees`). A bool enters only as a condition.
Where the rule on floats would leave Python floats (an intermediate that is not finite,
which the primitive path hands to NumPy), the printed code raises instead, and the tape leaves
that partial to the sweep (as it does for a rule that raises). A marker (``ONE``) is printed as
itself; anything else — NumPy-only operations, a branch on values — keeps the rule itself.
Generated from the table only (no user text).
"""

from __future__ import annotations

import functools
import itertools
import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from .ir import Node, toposort
from .primitive import INFIX, MINUS_ONE, ONE, STRICT, NoRule, Primitive


def float_partials(prim: Primitive) -> tuple[Callable[..., Any] | None, ...]:
    """`prim`'s partial rules as functions of Python floats ``(*inputs, out) -> ∂out/∂input``,
    one per input, compiled from :func:`rule_text` (what the recorders inline, as functions one
    can call and compare with the rules): None where the rule is kept as it is or is a marker."""
    return tuple(_printed(prim, i) for i in range(len(prim.partials or ())))


#: ``(rule, arity) -> (input nodes, output node)``: `rule` traced on `arity` scalar inputs that
#: are not being differentiated (so that the rule's own operations memoize nothing — sin's rule
#: is cos, whose rule is −sin, …); the output is the marker itself for a rule that returns
#: ``ONE`` or ``MINUS_ONE``; None where it is no traced value (a constant) or branched on its
#: values. Installed by diffkit.tensor, which sits above this module.
trace_rule: Callable[[Any, int], tuple[list[Node], Any] | None] | None = None


def rule_text(prim: Primitive, index: int, names: Sequence[str], temp: str = "v"
              ) -> tuple[list[str], str] | None:
    """The rule for input `index` of `prim` as Python float code over the variables `names`
    (the inputs, then the output): statements that compute it — each intermediate that is not
    finite raises ArithmeticError (NumPy's value is the sweep's to give) — and the expression
    of the partial (``ONE``/``MINUS_ONE`` for a marker), or None where the rule is kept as it
    is (see the module's docstring; also where the printed code disagrees with the rule on
    floats at a probe point: :func:`_agrees`). Temporaries are named `temp` + a number."""
    text = _traced_text(prim, index, names, temp)
    if text is not None and text[0] and not _agrees(prim, index):
        return None  # (a marker, ONE, has no code to check)
    return text


#: where the printed rules are checked against the rules on floats: zeros of both signs, ±1,
#: a subnormal, values either side of tanh's and arcsin's switch at ½
PROBES = (0.0, -0.0, 1.0, -1.0, 0.5, -0.25, 0.75, -2.5, 3.0, 1e-310)


@functools.cache
def _agrees(prim: Primitive, index: int) -> bool:
    """Whether the printed rule gives what the rule gives on Python floats at every
    combination of :data:`PROBES` where the primitive's float form is finite: the same float
    (and sign of zero), or an exception where the rule's value is not a finite float (the
    printed code may also raise where the rule answers: the sweep then calls the rule). A rule
    that branches in Python on what the trace cannot see (pow's partial for a constant
    exponent, ``0.0 if b == 0``: for a traced one ``b·a**(b − 1)``, −0.0 at a < 0) is kept
    as it is."""
    if prim.on_floats is None:
        return False
    printed = _compiled_partial(prim, index)
    rule = prim.partials[index]
    for xs in itertools.product(PROBES, repeat=prim.nargs):
        try:
            out = prim.on_floats(*xs)
        except (ArithmeticError, ValueError):
            continue
        if type(out) is not float or not math.isfinite(out):
            continue
        with np.errstate(**STRICT):
            try:
                want = rule(*xs, out)
                want = want.item() if isinstance(want, np.generic | np.ndarray) else want
            except Exception:  # noqa: BLE001 - the rule raised: the printed code must raise
                want = None
        try:
            got = printed(*xs, out)
        except Exception:  # noqa: BLE001, S112 - left to the sweep, which calls the rule
            continue
        if type(want) is not float or not math.isfinite(want) or got != want or \
                math.copysign(1.0, got) != math.copysign(1.0, want):
            return False
    return True


def _traced_text(prim: Primitive, index: int, names: Sequence[str], temp: str
                 ) -> tuple[list[str], str] | None:
    """:func:`rule_text` before its check against the rule: the rule traced and printed."""
    rule = (prim.partials or ())[index] if index < len(prim.partials or ()) else None
    if rule is None or isinstance(rule, NoRule) or not prim.nargs or trace_rule is None:
        return None
    arity = prim.nargs + 1  # the inputs and the output
    with np.errstate(all="ignore"):  # values at made-up points: only the operations are read
        try:
            traced = trace_rule(rule, arity)
        except Exception:  # noqa: BLE001 - a rule that does not trace on floats: kept as is
            return None
    if traced is None:
        return None
    ins, result = traced
    if result is ONE or result is MINUS_ONE:
        return [], "ONE" if result is ONE else "MINUS_ONE"
    known = {node.id: names[i] for i, node in enumerate(ins)}
    lines: list[str] = []
    count = 0
    for node in toposort([result]):
        if node.id in known:
            continue
        if node.prim is None:  # a constant of the rule
            if type(node.value) is bool:  # (a mask's constant: where(zero, x, False))
                known[node.id] = repr(node.value)
                continue
            if type(node.value) is not float or not math.isfinite(node.value):
                return None
            known[node.id] = repr(node.value)
            continue
        if not _is_bool(node) and any(  # a bool into a number, not as a condition
                _is_bool(i) and node.prim.partials is not None and node.prim.partials[k]
                is not None for k, i in enumerate(node.inputs)):
            return None  # a bool in arithmetic: NumPy's bool + float is a NumPy float64, whose
            # operations (np.exp) the rule on floats would then run, not math's
        expression = float_expression(node.prim, [known.get(i.id) for i in node.inputs])
        if expression is None:
            return None
        name = known[node.id] = f"{temp}{count}"
        count += 1
        lines.append(f"{name} = {expression}")
        if not _is_bool(node):  # (a comparison's bool is never infinite)
            lines += [f"if {name} - {name} != 0.0:  # not finite: NumPy's value, in the sweep",
                      "    raise ArithmeticError"]
    return lines, known[result.id]


def _is_bool(node: Node) -> bool:
    """Whether `node` holds a bool (a comparison's, or a constant mask's)."""
    return np.asarray(node.value).dtype.kind == "b"


def _printed(prim: Primitive, index: int) -> Callable[..., Any] | None:
    """The rule for input `index` printed as float code, or None (see float_partials)."""
    text = rule_text(prim, index, [f"a{i}" for i in range((prim.nargs or 0) + 1)])
    if text is None or not text[0] and text[1] in ("ONE", "MINUS_ONE"):
        return None  # a marker: the rule itself returns it
    return _compiled_partial(prim, index)


def _compiled_partial(prim: Primitive, index: int) -> Callable[..., Any]:
    """The traced and printed rule (:func:`_traced_text`) compiled as a function of floats."""
    params = [f"a{i}" for i in range((prim.nargs or 0) + 1)]
    lines, result = _traced_text(prim, index, params, "v")
    source = "\n".join([f"def partial({', '.join(params)}):", *("    " + x for x in lines),
                        f"    return {result}", ""])
    namespace: dict[str, Any] = {"math": math}
    exec(compile(source, f"<diffkit float partial {index} of {prim.name}>", "exec"),  # noqa: S102
         namespace)  # our own source: the table's scalar forms and the rule's float constants
    function = namespace["partial"]
    function.source = source
    return function


def float_expression(prim: Primitive, operands: list[str | None]) -> str | None:
    """`prim` applied to `operands` as Python float code — by the float form its record declares
    (``math.sin({0})``, ``({0} < {1})``, or an infix ``+ − × ÷``), which a call of the primitive
    on Python floats runs too — or None where it has none."""
    if prim.on_floats is None or None in operands or len(operands) != prim.nargs:
        return None
    if prim.scalar_operator is not None and prim.symbol in INFIX:
        return f"({operands[0]} {prim.symbol} {operands[1]})"
    if prim.scalar is None:
        return None
    text = prim.scalar.format(*operands)  # the float form a call on Python floats runs
    return text if text.startswith("math.") else f"({text})"
