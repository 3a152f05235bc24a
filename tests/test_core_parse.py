"""The math-text parser is safe and precise; SymPy round trips; listings."""

from __future__ import annotations

import math
import os

import numpy as np
import pytest
import sympy as sp
from conftest import ENGINES, EXACT, assert_close

import diffkit as dk

PWNED = "/tmp/pwned"

HOSTILE = [
    "__import__('os').system('touch /tmp/pwned')",
    "().__class__",
    "x.__class__.__mro__",
    "[].__class__",
    "().__class__.__bases__[0].__subclasses__()",
    "x.real",
    "x[0]",
    "sin(x)[0]",
    "lambda x: x",
    "(lambda: __import__('os').system('touch /tmp/pwned'))()",
    "[x for x in y]",
    "{x: 1 for x in y}",
    "(x for x in y)",
    "'touch /tmp/pwned'",
    "b'x'",
    "sin(x=1)",
    "log(x, base=2)",
    "(y := 2)",
    "f'{x}'",
    "f'{__import__(\"os\").system(\"touch /tmp/pwned\")}'",
    "exec('import os')",
    "eval('x')",
    "open('/tmp/pwned', 'w')",
    "__builtins__",
    "__import__",
    "x if y else z",
    "x and y",
    "not x",
    "x < y",
    "{x}",
    "[x, y]",
    "(x, y)",
    "x @ y",
    "~x",
    "x // y",
    "x % y",
    "x << y",
    "sin(*x)",
    "1j",
    "True",
    "None",
    "...",
    "x; import os",
    "import os",
    "x\nimport os",
    "sin(x)(y)",
    "getattr(x, 'y')",
    "x" * 10_001,
    "x + " * 2_600 + "x",
    "(" * 5_000 + "x" + ")" * 5_000,
    "-" * 9_999 + "x",
    "sin(" * 2_000 + "x" + ")" * 2_000,
    "",
    "   ",
]


@pytest.mark.parametrize("text", HOSTILE, ids=[repr(t[:30]) for t in HOSTILE])
def test_hostile_text_is_refused_without_side_effects(text: str) -> None:
    if os.path.exists(PWNED):
        os.remove(PWNED)
    with pytest.raises(dk.ParseError):
        dk.parse(text)
    assert not os.path.exists(PWNED)


def test_parse_refuses_non_strings() -> None:
    with pytest.raises(dk.ParseError):
        dk.parse(b"x")  # type: ignore[arg-type]
    with pytest.raises(dk.ParseError):
        dk.from_sympy("__import__('os').system('touch /tmp/pwned')")
    assert not os.path.exists(PWNED)


def test_parse_error_is_a_value_error() -> None:
    assert issubclass(dk.ParseError, ValueError)
    with pytest.raises(ValueError):
        dk.parse("x +")


def test_huge_power_tower_is_a_named_overflow() -> None:
    """9**9**9**9 is never computed as an integer: it is float arithmetic, and its overflow is a
    named error (not a silent inf); a literal too large for a float is refused when parsing."""
    f = dk.parse("9**9**9**9")
    assert f.inputs == ()
    with pytest.raises(dk.NumericOverflowError, match="pow"):
        f()
    with pytest.raises(dk.NumericOverflowError):
        dk.parse("9^9^9^9")()
    with pytest.raises(dk.ParseError, match="too large"):
        dk.parse("x * 1e400")


def test_long_flat_expression_within_the_limit_parses() -> None:
    text = " + ".join(["x"] * 2_000)
    assert len(text) < 10_000
    f = dk.parse(text)
    assert f(1.5) == 3000.0
    assert dk.grad(f)(1.5) == (2000.0,)


@pytest.mark.parametrize(("text", "token", "column", "suggestion"), [
    ("sni(x)", "sni", 1, "sin"),
    ("x + sni(x)", "sni", 5, "sin"),
    ("exp(x) * lgo(y)", "lgo", 10, "log"),
    ("sigmod(x)", "sigmod", 1, "sigmoid"),
    ("2 * arctna(x)", "arctna", 5, "arctan"),
])
def test_unknown_function_names_token_column_and_suggestion(text: str, token: str, column: int,
                                                            suggestion: str) -> None:
    with pytest.raises(dk.ParseError) as info:
        dk.parse(text)
    err = info.value
    assert err.token == token
    assert err.column == column
    assert f"did you mean {suggestion!r}" in str(err)
    assert token in str(err) and f"column {column}" in str(err)


def test_syntax_error_column_after_caret_rewrite() -> None:
    """^ becomes ** internally, but columns refer to the text the user wrote."""
    with pytest.raises(dk.ParseError) as info:
        dk.parse("x^2 + sin(x) )")
    assert info.value.column == 14


def test_wrong_argument_count_in_text() -> None:
    with pytest.raises(dk.ParseError, match="sin takes 1 argument"):
        dk.parse("sin(x, y)")


def test_caret_constants_aliases_and_input_order() -> None:
    f = dk.parse("ln(x) + e^y + pi*z + max(x, y) + asin(0.5)")
    assert f.inputs == ("x", "y", "z")
    x, y, z = 1.3, 0.2, -0.4
    assert f(x, y, z) == pytest.approx(math.log(x) + math.e**y + math.pi * z + max(x, y)
                                       + math.asin(0.5), rel=1e-15)
    g = dk.parse("a*x + b", inputs=["x", "a", "b"])
    assert g.inputs == ("x", "a", "b")
    assert g(2.0, 3.0, 1.0) == 7.0
    with pytest.raises(dk.ParseError, match="not among inputs"):
        dk.parse("a*x + q", inputs=["x", "a"])


# ----- SymPy round trips ----------------------------------------------------------------------

X, Y, Z = sp.symbols("x y z", real=True)

ROUND_TRIPS = [
    ("x**2*y + y + 2", X**2 * Y + Y + 2),
    ("log(x) + x*y - sin(y)", sp.log(X) + X * Y - sp.sin(Y)),
    ("exp(-x)/(1 + y**2)", sp.exp(-X) / (1 + Y**2)),
    ("sqrt(1 + x^2) * tanh(y)", sp.sqrt(1 + X**2) * sp.tanh(Y)),
    ("arctan(x) - cosh(y) + abs(z)", sp.atan(X) - sp.cosh(Y) + sp.Abs(Z)),
    ("max(x, y) + min(y, z)", sp.Max(X, Y) + sp.Min(Y, Z)),
]


@pytest.mark.parametrize(("text", "expr"), ROUND_TRIPS, ids=[t for t, _ in ROUND_TRIPS])
def test_to_sympy_of_parse_is_the_sympy_expression(text: str, expr: sp.Expr) -> None:
    got = dk.parse(text).to_sympy()
    assert sp.simplify(got - expr) == 0


@pytest.mark.parametrize(("text", "expr"), ROUND_TRIPS, ids=[t for t, _ in ROUND_TRIPS])
def test_from_sympy_round_trip(text: str, expr: sp.Expr) -> None:
    f = dk.from_sympy(expr)
    assert f.inputs == tuple(sorted(s.name for s in expr.free_symbols))
    point = [0.7, -0.3, 1.1][: len(f.inputs)]
    subs = dict(zip(sorted(expr.free_symbols, key=lambda s: s.name), point))
    assert f(*point) == pytest.approx(float(expr.subs(subs)), rel=1e-14)
    assert sp.simplify(f.to_sympy() - expr) == 0


@pytest.mark.parametrize("method", ENGINES)
@pytest.mark.parametrize(("text", "expr"), ROUND_TRIPS[:4], ids=[t for t, _ in ROUND_TRIPS[:4]])
def test_from_sympy_of_sympy_diff_agrees_with_engines(text: str, expr: sp.Expr, method: str
                                                      ) -> None:
    syms = sorted(expr.free_symbols, key=lambda s: s.name)
    point = [0.7, 1.3, 0.4][: len(syms)]
    f = dk.parse(text, inputs=[s.name for s in syms])
    grads = dk.grad(f, method=method)(*point)
    for s, g in zip(syms, grads, strict=True):
        d = dk.from_sympy(sp.diff(expr, s), inputs=syms)
        assert_close(g, d(*point), method, 1, f"d/d{s}")
    if method in EXACT:
        h = dk.hessian(f, method=method)(*point)
        for i, a in enumerate(syms):
            for j, b in enumerate(syms):
                assert_close(h[i, j], dk.from_sympy(sp.diff(expr, a, b), inputs=syms)(*point),
                             method, 2, f"d2/d{a}d{b}")


def test_from_sympy_refuses_unknown_functions_and_free_symbols() -> None:
    with pytest.raises(dk.MissingRuleError, match="'g'"):
        dk.from_sympy(sp.Function("g")(X))
    with pytest.raises(dk.ParseError, match="not among the inputs"):
        dk.from_sympy(X + Y, inputs=[X])


def test_from_sympy_seed_example() -> None:
    f = dk.from_sympy(X**2 * Y + Y + 2)
    assert f.inputs == ("x", "y")
    for m in EXACT:
        assert dk.grad(f, method=m)(3.0, 4.0) == (24.0, 10.0)


def test_listing_of_arrays_and_names() -> None:
    f = dk.function(lambda A, x: dk.tanh(A @ x))
    text = f.listing(np.ones((4, 3)), np.ones(3))
    assert "v-1 = A" in text and "v0 = x" in text
    assert "v1 = v-1 @ v0" in text and "v2 = tanh(v1)" in text


@pytest.mark.parametrize("text", ["2x", "x y", "sin x", "(x+1)(x-1)"])
def test_implicit_products_get_a_hint(text: str) -> None:
    with pytest.raises(dk.ParseError, match=r"\*"):
        dk.parse(text)
