"""The table's partial rules printed as Python float code (diffkit.float_rules) give what the
rules give on floats where the tape uses them (finite operands and a finite value, under the
STRICT errstate of a derivative's trace): the same number, bit for bit, or an exception where the
rule's value is not a finite float (the tape then leaves that partial to the sweep)."""

from __future__ import annotations

import math
import random

import numpy as np
import pytest

import diffkit as dk
from diffkit.float_rules import float_partials
from diffkit.function import STRICT
from diffkit.primitive import REGISTRY

PRINTED = [(p, i) for p in REGISTRY.values() if p.on_floats is not None and p.partials
           for i in range(len(p.partials)) if float_partials(p)[i] is not None]
POINTS = [-1e300, -700.0, -3.0, -1.0, -0.999, -0.5, -1e-300, -0.0, 0.0, 1e-300, 0.25, 0.5,
          0.999, 1.0, 1.5, 3.0, 20.0, 700.0, 1e300]


def test_the_common_rules_are_printed():
    names = {p.name for p, _ in PRINTED}
    assert {"sin", "exp", "log", "sqrt", "sinh", "cosh", "expm1", "mul", "div"} <= names


def _rule_on_floats(prim, i, xs, out):
    """The table's rule called as the tape called it before (on Python floats), or an error."""
    with np.errstate(**STRICT):
        try:
            got = prim.partials[i](*xs, out)
        except Exception as exc:  # noqa: BLE001 - any error: the printed code must raise too
            return exc
    if isinstance(got, np.generic):
        got = got.item()
    return got if type(got) is float and math.isfinite(got) else ArithmeticError("not finite")


@pytest.mark.parametrize(("prim", "index"), PRINTED, ids=[f"{p.name}-{i}" for p, i in PRINTED])
def test_printed_rule_is_the_rule_on_floats(prim, index):
    rng = random.Random(prim.name)
    printed = float_partials(prim)[index]
    points = [tuple(rng.choice(POINTS) for _ in range(prim.nargs)) for _ in range(300)]
    points += [tuple(rng.uniform(-4.0, 4.0) for _ in range(prim.nargs)) for _ in range(300)]
    compared = 0
    for xs in points:
        try:
            out = prim.on_floats(*xs)
        except (ArithmeticError, ValueError):
            continue  # no finite value: the tape records it the NumPy way, with no partial
        if not math.isfinite(out):
            continue
        want = _rule_on_floats(prim, index, xs, out)
        try:
            got = printed(*xs, out)
        except Exception as exc:  # noqa: BLE001
            got = exc
        if isinstance(want, Exception):
            assert isinstance(got, Exception), (prim.name, xs, got)
        else:
            assert type(got) is float and (got == want and math.copysign(1.0, got) ==
                                           math.copysign(1.0, want)), (prim.name, xs, got, want)
            compared += 1
    assert compared > 100


@pytest.mark.parametrize("name", ["sin", "exp", "log", "sqrt", "sinh", "cosh", "expm1",
                                  "log2", "log10", "arcsinh", "tan"])
def test_memoized_partial_of_a_traced_call_is_the_hand_derivative(name):
    """What the tape memoizes (now by the printed rule) against hand-derived derivatives."""
    x = 0.7
    hand = {"sin": math.cos(x), "exp": math.exp(x), "log": 1 / x, "sqrt": 0.5 / math.sqrt(x),
            "sinh": math.cosh(x), "cosh": math.sinh(x), "expm1": math.exp(x),
            "log2": 1 / (x * math.log(2)), "log10": 1 / (x * math.log(10)),
            "arcsinh": 1 / math.sqrt(1 + x * x), "tan": 1 / math.cos(x) ** 2}[name]
    fn = getattr(dk, name)
    graph = dk.function(lambda x: fn(x)).trace(x)
    (node,) = (n for n in graph.nodes if n.prim is not None)
    assert node.partials is not None and node.partials[0] == pytest.approx(hand, rel=1e-15)
    assert dk.grad(lambda x: fn(x))(x)[0] == pytest.approx(hand, rel=1e-15)


def test_deriving_a_rule_does_not_derive_the_rules_it_calls(monkeypatch):
    """sin's rule is cos, whose rule is −sin: printing sin's recorder traces its rule, and a
    traced cos that printed its own recorder would trace −sin in turn — a recursion that
    ended in a RecursionError (or, under a raised recursion limit, a crash)."""
    from diffkit import primitives as P
    from diffkit import recorders

    kept = {prim: prim.scalar_recorder for prim in (P.sin, P.cos)}
    for prim in kept:
        object.__setattr__(prim, "scalar_recorder", None)  # made afresh below
    calls = []
    source = recorders.unary_source
    monkeypatch.setattr(recorders, "unary_source",
                        lambda prim, printed: calls.append(prim.name) or source(prim, printed))
    try:
        assert dk.grad(lambda x: dk.sin(x))(0.3)[0] == pytest.approx(math.cos(0.3), rel=1e-15)
        assert calls == ["sin"]
        assert "math.cos(v)" in P.sin.scalar_recorder.source  # the rule printed in
    finally:
        for prim, recorder in kept.items():
            object.__setattr__(prim, "scalar_recorder", recorder)
