"""A function of no inputs (a parsed "3", SymPy's Integer(0), ``def f(): return 2.5``): forward
mode and auto raised a bare IndexError for its gradient, reverse Jacobians NumPy's "need at least
one array to concatenate", Hessians an IndexError, while reverse, symbolic and fd answered ().
It is now one ArityError in every method, as ``wrt=[]`` already was."""

from __future__ import annotations

import pytest
import sympy as sp

import diffkit as dk

METHODS = ["reverse", "forward", "symbolic", "fd-central", "auto"]
BUILDS = {"parsed": lambda: dk.parse("3"), "sympy": lambda: dk.from_sympy(sp.Integer(0)),
          "python": lambda: dk.function(lambda: 2.5)}


@pytest.mark.parametrize("build", sorted(BUILDS))
@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("what", ["grad", "value_and_grad", "jacobian", "hessian"])
def test_no_inputs_is_one_named_error(build: str, method: str, what: str) -> None:
    f = BUILDS[build]()
    with pytest.raises(dk.ArityError, match="no inputs"):
        getattr(dk, what)(f, method=method)()


def test_the_function_itself_still_evaluates() -> None:
    assert dk.parse("3")() == 3.0
    assert dk.parse("2*pi")() == pytest.approx(6.283185307179586)
