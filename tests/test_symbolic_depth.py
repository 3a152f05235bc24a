"""The symbolic engine refuses functions too deep for SymPy by name, quickly, instead of ending in
a RecursionError after seconds of work (`diffkit grad "x*x*…*x" --method symbolic`)."""

from __future__ import annotations

import time

import pytest

import diffkit as dk
from diffkit.engines import symbolic


def test_a_product_of_3000_factors_is_refused_fast_and_by_name() -> None:
    f = dk.parse("*".join(["x"] * 3000))
    start = time.perf_counter()
    with pytest.raises(dk.MissingRuleError, match=r"too deep for SymPy.*use method='reverse'"):
        dk.grad(f, method="symbolic")(1.0)
    assert time.perf_counter() - start < 2.0  # refused before SymPy runs (it took 5-20 s)
    assert dk.grad(f, method="reverse")(1.0) == (3000.0,)


def test_the_limit_counts_uses_of_values_that_depend_on_the_inputs() -> None:
    f = dk.parse("*".join(["x"] * 40))
    assert dk.grad(f, method="symbolic")(1.0) == (40.0,)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(symbolic, "MAX_USES", 30)
        with pytest.raises(dk.MissingRuleError, match="x is used by 39 operations"):
            dk.grad(dk.parse("*".join(["x"] * 40)), method="symbolic")(1.0)
        with pytest.raises(dk.MissingRuleError, match="too deep"):
            dk.derivative(dk.parse("*".join(["x"] * 40)), method="symbolic")(1.0)


@pytest.mark.parametrize("where", ["compile_program", "accumulate"])
def test_a_recursion_error_inside_sympy_becomes_a_missing_rule_error(
        where: str, monkeypatch: pytest.MonkeyPatch) -> None:
    def deep(*args: object, **kwargs: object) -> None:
        raise RecursionError("maximum recursion depth exceeded")

    monkeypatch.setattr(symbolic, where, deep)
    for call in (lambda: dk.grad(dk.parse("x*y + sin(x)"), method="symbolic")(1.0, 2.0),
                 lambda: dk.derivative(dk.parse("sin(x)"), n=2, method="symbolic")(1.0)):
        with pytest.raises(dk.MissingRuleError, match="too deep for SymPy.*method='reverse'"):
            call()
