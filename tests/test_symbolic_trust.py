"""The SymPy bridge against hand references: every answer right, or a named error — never a
silent inf or nan."""

from __future__ import annotations

import math

import pytest
import sympy as sp

import diffkit as dk
from diffkit.errors import ParseError

x = sp.Symbol("x")


@pytest.mark.parametrize("constant", [sp.oo, -sp.oo, sp.zoo, sp.nan, sp.oo * sp.I,
                                      sp.Integer(10) ** 400])
def test_from_sympy_refuses_a_constant_that_is_not_finite(constant: sp.Expr) -> None:
    # x + oo used to become x + (inf+0j): a complex function returning inf, silently
    with pytest.raises(ParseError, match="not a finite number"):
        dk.from_sympy(x + constant)


def test_from_sympy_input_named_by_text_is_the_symbol_with_assumptions() -> None:
    xp = sp.Symbol("x", positive=True)
    f = dk.from_sympy(sp.log(xp) + xp**2, ["x"])
    assert f(2.0) == pytest.approx(4 + math.log(2), rel=1e-15)
    (g,) = dk.grad(f, method="symbolic")(2.0)
    assert g == pytest.approx(4.5, rel=1e-15)
    with pytest.raises(ParseError, match="not among the inputs"):
        dk.from_sympy(sp.log(xp) + sp.Symbol("z"), ["x"])
