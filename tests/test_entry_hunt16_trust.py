"""Entry points found wrong by hunt 16 against SymPy at 50 digits: ``dk.function``/``dk.jit``
ignored ``inputs=`` for an existing Function (silently the wrong order: wrong values and
gradients); ``dk.from_sympy`` raised a bare RecursionError at 200 nested functions; unevaluated
Derivative/Integral/Sum, matrices and bad ``inputs=``/``name=`` gave misleading or bare errors.
References: hand-derived values and SymPy's own derivatives evaluated at 50 digits."""

from __future__ import annotations

import time

import mpmath
import numpy as np
import pytest
import sympy as sp

import diffkit as dk
from diffkit.errors import InvalidNameError, MissingRuleError, ParseError
from diffkit.function import function as plain_function
from diffkit.function import jit as plain_jit

x, y = sp.symbols("x y", real=True)


def _sympy_grad(expr: sp.Expr, order: list[sp.Symbol], point: tuple[float, ...]) -> list[float]:
    at = dict(zip(order, point, strict=True))
    return [float(sp.diff(expr, s).evalf(50, subs=at)) for s in order]


# ----- 1. inputs= given with an existing Function ---------------------------------------------

MAKERS = {
    "parse": lambda: dk.parse("x*y^3"),
    "from_sympy": lambda: dk.from_sympy(x * y**3),
}


@pytest.mark.parametrize("make", [dk.function, dk.jit, plain_function, plain_jit],
                         ids=["dk.function", "dk.jit", "function.function", "function.jit"])
@pytest.mark.parametrize("source", list(MAKERS))
def test_inputs_reorder_an_existing_function(make, source):
    f = make(MAKERS[source](), inputs=["y", "x"])
    assert f.inputs == ("y", "x")
    assert f(1.0, 2.0) == 2.0  # y = 1, x = 2: x*y**3 = 2
    assert f(y=1.0, x=2.0) == 2.0
    g = dk.grad(f)(1.0, 2.0)
    assert g == pytest.approx((6.0, 1.0), rel=1e-15)  # (3*x*y**2, y**3)
    assert g == pytest.approx(_sympy_grad(x * y**3, [y, x], (1.0, 2.0)), rel=1e-15)
    assert f.pure  # still a pure function: engines reuse what they derive
    for method in ("forward", "reverse", "symbolic", "compiled"):
        assert dk.grad(f, method=method)(0.5, -1.5) == pytest.approx(
            _sympy_grad(x * y**3, [y, x], (0.5, -1.5)), rel=1e-13)
    h = dk.hessian(f)(1.0, 2.0)  # [[6xy, 3y²], [3y², 0]] at y=1, x=2
    np.testing.assert_allclose(h, [[12.0, 3.0], [3.0, 0.0]], rtol=1e-14)


def test_jit_keeps_the_jit_flag_and_the_text():
    f = dk.jit(dk.parse("x*y^3"), inputs=["y", "x"])
    assert f.jit and f.pure and f.text == "x*y^3"
    assert dk.grad(f)(1.0, 2.0) == pytest.approx((6.0, 1.0))
    g = dk.function(dk.jit(dk.parse("x - y")), inputs=["y", "x"])
    assert g.jit and g(1.0, 5.0) == 4.0


def test_reorder_a_python_function():
    @dk.function
    def f(a, b):
        return a - 2 * b

    g = dk.function(f, inputs=["b", "a"])
    assert g.inputs == ("b", "a") and g(1.0, 10.0) == 8.0
    assert dk.grad(g)(1.0, 10.0) == pytest.approx((-2.0, 1.0))
    j = dk.jit(f, inputs=["b", "a"])
    assert j.jit and j(1.0, 10.0) == 8.0 and dk.grad(j)(1.0, 10.0) == pytest.approx((-2.0, 1.0))


def test_same_order_is_the_function_itself():
    f = dk.parse("x*y^3")
    assert dk.function(f, inputs=["x", "y"]) is f
    assert dk.function(f, inputs=("x", "y")) is f


@pytest.mark.parametrize("make", [dk.function, dk.jit])
@pytest.mark.parametrize("bad", [["a", "b"], ["x"], ["x", "x"], ["x", "y", "z"], "yx", ["y", 1]])
def test_inputs_that_are_no_reordering_are_refused(make, bad):
    with pytest.raises(InvalidNameError, match=r"inputs=.*\['x', 'y'\]"):
        make(dk.parse("x*y^3"), inputs=bad)


def test_text_and_sympy_inputs_still_honoured():
    assert dk.function("x*y^3", inputs=["y", "x"])(1.0, 2.0) == 2.0
    assert dk.jit("x*y^3", inputs=["y", "x"])(1.0, 2.0) == 2.0
    assert dk.function(x * y**3, inputs=[y, x])(1.0, 2.0) == 2.0  # SymPy symbols as inputs
    assert dk.jit(x * y**3, inputs=[y, x])(1.0, 2.0) == 2.0


# ----- 2. deep SymPy expressions --------------------------------------------------------------

def _nested_sin(depth: int, inner: sp.Expr = x) -> sp.Expr:
    e = inner
    for _ in range(depth):
        e = sp.sin(e, evaluate=False)
    return e


def _nested_sin_reference(depth: int, t: float) -> tuple[float, float]:
    """sin∘…∘sin and its derivative (the product of the cosines) at 50 digits."""
    with mpmath.workdps(50):
        v, d = mpmath.mpf(t), mpmath.mpf(1)
        for _ in range(depth):
            d *= mpmath.cos(v)
            v = mpmath.sin(v)
        return float(v), float(d)


@pytest.mark.parametrize("depth", [200, 1000, 3000])
def test_deep_nested_functions(depth):
    f = dk.from_sympy(_nested_sin(depth))
    value, slope = _nested_sin_reference(depth, 0.5)
    assert f.inputs == ("x",)
    assert f(0.5) == pytest.approx(value, rel=1e-13)
    assert dk.grad(f)(0.5) == pytest.approx((slope,), rel=1e-12)
    assert isinstance(repr(f), str) and f.text  # a text, shortened where SymPy cannot print it


def test_deep_with_two_symbols_and_sympy_reference():
    e = _nested_sin(300, x * y)
    f = dk.from_sympy(e)
    value, slope = _nested_sin_reference(300, 0.35)  # x*y = 0.35
    assert f(0.5, 0.7) == pytest.approx(value, rel=1e-13)
    assert dk.grad(f)(0.5, 0.7) == pytest.approx((slope * 0.7, slope * 0.5), rel=1e-12)


def test_deep_chain_is_not_quadratic():
    start = time.perf_counter()
    dk.from_sympy(_nested_sin(4000))
    assert time.perf_counter() - start < 20


def test_deep_constant_sympy_cannot_evaluate_is_a_named_error():
    e = _nested_sin(1500, sp.Integer(1))  # a constant (SymPy cannot even multiply it by x)
    try:
        f = dk.from_sympy(e)
    except MissingRuleError as exc:
        assert "too deep" in str(exc)
    else:  # SymPy managed to evaluate it: then the value must be right
        assert f() == pytest.approx(_nested_sin_reference(1500, 1.0)[0], rel=1e-13)


def test_reciprocals_still_translated():
    e = sp.sec(x) * sp.csc(y) ** 2 + sp.coth(x * y) + sp.sec(2)
    f = dk.from_sympy(e)
    at = {x: 0.3, y: 0.7}
    assert f(0.3, 0.7) == pytest.approx(float(e.evalf(50, subs=at)), rel=1e-14)
    assert dk.grad(f)(0.3, 0.7) == pytest.approx(_sympy_grad(e, [x, y], (0.3, 0.7)), rel=1e-13)


# ----- 3. clear, named errors -----------------------------------------------------------------

@pytest.mark.parametrize("expr, what", [
    (sp.Derivative(sp.sin(x) * y, x), "Derivative"),
    (sp.Integral(sp.sin(x * y), (x, 0, 1)), "Integral"),
    (sp.Sum(x**y, (y, 0, 3)), "Sum"),
    (sp.Product(x + y, (y, 1, 3)), "Product"),
    (x + sp.Derivative(sp.sin(x), x), "Derivative"),
])
def test_unevaluated_operations_are_refused_by_name(expr, what):
    with pytest.raises(ParseError, match=rf"unevaluated {what}.*\.doit\(\)"):
        dk.from_sympy(expr)
    with pytest.raises(ParseError, match=rf"unevaluated {what}"):
        dk.grad(expr)


@pytest.mark.parametrize("matrix", [sp.Matrix([x * y]), sp.ImmutableMatrix([[x, y]]),
                                    sp.MatrixSymbol("A", 2, 2)])
def test_matrices_are_refused_by_name(matrix):
    with pytest.raises(ParseError, match="matrix"):
        dk.from_sympy(matrix)
    with pytest.raises(ParseError, match="matrix"):
        dk.grad(matrix)


def test_an_input_that_is_no_symbol():
    with pytest.raises(ParseError, match="Symbol or its name.*int 3"):
        dk.from_sympy(x * y, inputs=[x, y, 3])


def test_a_string_of_inputs_is_not_split():
    with pytest.raises(ParseError, match="list"):
        dk.from_sympy(x * y, inputs="yx")
    assert dk.from_sympy(x * y, inputs=["y", "x"]).inputs == ("y", "x")


@pytest.mark.parametrize("name", ["a\nb", 3, None])
def test_the_name_is_checked_as_parse_checks_it(name):
    with pytest.raises(ParseError, match="printable"):
        dk.from_sympy(x * y, name=name)
    with pytest.raises(ParseError, match="printable"):
        dk.parse("x*y", name=name)
    assert dk.from_sympy(x * y, name="energy").name == "energy"
