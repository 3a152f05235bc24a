"""The math-text grammar: precedence, associativity, columns, refused names and long input."""

from __future__ import annotations

import keyword
import math
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import diffkit as dk
from diffkit.compile import compile_gradient

PWNED = "/tmp/pwned"
LONGEST_SUM = "x+" * 4_999 + "x"  # 5,000 terms, 9,999 characters: the longest sum under the limit


@pytest.mark.parametrize(("text", "value"), [
    ("2^3^2", 512.0),
    ("2**3**2", 512.0),
    ("(2^3)^2", 64.0),
    ("-2**2", -4.0),
    ("-2^2", -4.0),
    ("(-2)**2", 4.0),
    ("2**-1", 0.5),
    ("2^-1", 0.5),
    ("2**-1**2", 0.5),
    ("-2**-2", -0.25),
    ("2**-2*8", 2.0),
    ("8/4/2", 1.0),
    ("1-2-3", -4.0),
    ("1-(2-3)", 2.0),
    ("2*3+4*5", 26.0),
    ("2+3*4", 14.0),
    ("(2+3)*4", 20.0),
    ("12/3*2", 8.0),
    ("-3*2", -6.0),
    ("--3", 3.0),
    ("+3", 3.0),
    ("+-+3", -3.0),
    ("2*-3", -6.0),
    ("2 - -3", 5.0),
    ("3", 3.0),
    ("2.5", 2.5),
    (".5", 0.5),
    ("5.", 5.0),
    ("1e-3", 0.001),
    ("1E+3", 1000.0),
    ("2.5e2", 250.0),
    ("1.e1", 10.0),
    ("007", 7.0),
    ("\t2 *  3 ", 6.0),
    ("max(2, 3) + min(2, 3)", 5.0),
    ("sqrt(16)^-1", 0.25),
])
def test_constant_expressions_have_hand_computed_values(text: str, value: float) -> None:
    f = dk.parse(text)
    assert f.inputs == ()
    assert f() == value


def test_constants_e_and_pi() -> None:
    assert dk.parse("e")() == math.e
    assert dk.parse("pi")() == math.pi
    assert dk.parse("2*pi")() == 2 * math.pi
    assert dk.parse("e^2")() == math.e ** 2
    assert dk.parse("-pi^2")() == -(math.pi ** 2)


@pytest.mark.parametrize(("text", "x", "value"), [
    ("-(-x)", 3.0, 3.0),
    ("-x", 3.0, -3.0),
    ("+x", 3.0, 3.0),
    ("-x**2", 3.0, -9.0),
    ("-x^2", 3.0, -9.0),
    ("x^-2", 2.0, 0.25),
    ("2*x^3", 2.0, 16.0),
    ("x/2/2", 8.0, 2.0),
    ("x - 1 - 1", 5.0, 3.0),
    ("sin(x)^2 + cos(x)^2", 0.3, math.sin(0.3) ** 2 + math.cos(0.3) ** 2),
    ("exp(-x^2)", 1.5, math.exp(-2.25)),
    ("ln(e^x)", 2.0, 2.0),
    ("((((x))))", 7.0, 7.0),
])
def test_one_input_expressions(text: str, x: float, value: float) -> None:
    f = dk.parse(text)
    assert f.inputs == ("x",)
    assert f(x) == value


def test_unary_minus_is_differentiated_through() -> None:
    assert dk.grad(dk.parse("-x^2"))(3.0) == (-6.0,)
    assert dk.grad(dk.parse("-(-x)"))(3.0) == (1.0,)


def test_inputs_in_order_of_first_appearance_and_unicode_names() -> None:
    f = dk.parse("b*a + c - a")
    assert f.inputs == ("b", "a", "c")
    assert f(2.0, 3.0, 5.0) == 8.0
    g = dk.parse("α^2 + β_1 + _t")
    assert g.inputs == ("α", "β_1", "_t")
    assert g(3.0, 1.0, 1.0) == 11.0


# ----- the three user reports -------------------------------------------------------------------


@pytest.mark.parametrize(("text", "column"), [("x # y", 3), ("#", 1), ("x^2 + 1 # square", 9)])
def test_hash_is_refused_not_a_comment(text: str, column: int) -> None:
    with pytest.raises(dk.ParseError) as info:
        dk.parse(text)
    assert "'#' is not allowed" in str(info.value)
    assert "comment" in str(info.value)
    assert info.value.token == "#"
    assert info.value.column == column


@pytest.mark.parametrize(("char", "hint"), [("·", "*"), ("×", "*"), ("⋅", "*"), ("∙", "*"),
                                            ("÷", "/")])
def test_operator_lookalikes_are_refused_with_a_hint(char: str, hint: str) -> None:
    for text, column in [(f"x{char}y", 2), (f"2 {char} x", 3), (f"{char}x", 1)]:
        with pytest.raises(dk.ParseError) as info:
            dk.parse(text)
        err = info.value
        assert err.token == char
        assert err.column == column
        assert f"write {'products' if hint == '*' else 'division'} with {hint}" in str(err)


def test_long_sum_parses_without_changing_the_recursion_limit(monkeypatch) -> None:
    assert len(LONGEST_SUM) <= 10_000
    before = sys.getrecursionlimit()

    def refuse(limit: int) -> None:
        raise AssertionError(f"the parser changed the recursion limit to {limit}")

    monkeypatch.setattr(sys, "setrecursionlimit", refuse)
    f = dk.parse(LONGEST_SUM)
    monkeypatch.undo()
    assert sys.getrecursionlimit() == before
    assert f.inputs == ("x",)
    assert f(1.0) == 5000.0
    assert f(0.5) == 2500.0


def test_longest_sum_is_differentiated() -> None:
    f = dk.parse(LONGEST_SUM)
    assert dk.grad(f)(1.0) == (5000.0,)


def test_long_sum_in_a_small_stack_thread_and_at_a_low_recursion_limit() -> None:
    """Run in a child process: a stack overflow there is a failed test, not a crashed session."""
    script = textwrap.dedent(f"""
        import sys, threading
        import diffkit as dk
        text = "x+" * 4_999 + "x"
        results = []
        def work():
            results.append(dk.parse(text)(1.0))
            results.append(dk.parse("(" * 200 + "-x" + ")" * 200)(2.0))
        threading.stack_size(256 * 1024)
        t = threading.Thread(target=work)
        t.start()
        t.join()
        threading.stack_size(0)
        sys.setrecursionlimit(100)
        results.append(dk.parse(text)(2.0))
        assert sys.getrecursionlimit() == 100
        print(results)
        assert results == [5000.0, -2.0, 10000.0], results
        assert {dk.__file__!r} == dk.__file__
    """)
    root = str(Path(dk.__file__).resolve().parent.parent)
    env = {**os.environ, "PYTHONPATH": root + os.pathsep + os.environ.get("PYTHONPATH", "")}
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          env=env, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip() == "[5000.0, -2.0, 10000.0]"


# ----- error messages and columns ---------------------------------------------------------------


@pytest.mark.parametrize(("text", "token", "column", "words"), [
    ("x^2 + sin(x) )", ")", 14, "no matching '('"),
    ("x^ * 2", "*", 4, "needs something on its left"),
    ("x^2^", "^", 4, "needs something after it"),
    ("x **", "**", 3, "needs something after it"),
    ("x +", "+", 3, "needs something after it"),
    ("(x + 1", "(", 1, "never closed"),
    ("sin(x", "(", 4, "never closed"),
    ("()", ")", 2, "empty parentheses"),
    ("2*()", ")", 4, "empty parentheses"),
    ("sin(,x)", ",", 5, "empty argument"),
    ("max(x,)", ")", 7, "empty argument"),
    ("sin()", "sin", 1, "sin takes 1 argument(s), got 0"),
    ("max(x, y, 1)", "max", 1, "max takes 2 argument(s), got 3"),
    ("x^2 $ 1", "$", 5, "not allowed"),
    ("x\ny", "\n", 2, "newlines"),
    ("x; y", ";", 2, "not allowed"),
    ("x // 2", "//", 3, "floor division"),
    ("x == 2", "==", 3, "comparisons"),
    ("x = 2", "=", 3, "not an equation"),
    ("sin(x=1)", "=", 6, "keyword arguments are not allowed"),
    ("log(x, base=2)", "=", 12, "keyword arguments are not allowed"),
    ("1j", "1j", 1, "complex numbers"),
    ("2.5J", "2.5J", 1, "complex numbers"),
    ("1_000", "1_000", 1, "underscores"),
    ("0x1F", "0x1F", 1, "hexadecimal"),
    ("0b101", "0b101", 1, "binary"),
    ("1.2.3", ".", 4, "decimal point"),
    ("x.real", ".", 2, "attribute"),
    ("'x'", "'", 1, "strings"),
    ("x, y", ",", 2, "function's arguments"),
    ("2x", "x", 2, "there is no implicit multiplication"),
    ("x y", "y", 3, "there is no implicit multiplication"),
    ("(x+1)(x-1)", "(", 6, "there is no implicit multiplication"),
    ("sin x", "sin", 1, "there is no implicit multiplication"),
    ("sin + 1", "sin", 1, "call it"),
    ("2 + sin", "sin", 5, "call it"),
    ("x + x(2)", "x", 5, "only named functions can be called"),
    ("pi(2)", "pi", 1, "only named functions can be called"),
    ("zzz(2)", "zzz", 1, "known functions: "),  # (foo is close to floor: "did you mean")
    ("__x + 1", "__x", 1, "'__'"),
    ("x − 1", "−", 3, "write minus with -"),
    ("x²", "²", 2, "write powers with ^"),
])
def test_errors_name_the_token_and_its_column(text: str, token: str, column: int,
                                              words: str) -> None:
    with pytest.raises(dk.ParseError) as info:
        dk.parse(text)
    err = info.value
    assert (err.token, err.column) == (token, column), str(err)
    assert words in str(err)
    assert f"column {column}" in str(err)


def test_column_after_carets_counts_the_text_as_written() -> None:
    with pytest.raises(dk.ParseError) as info:
        dk.parse("x^2^3 + y^ )")
    assert (info.value.token, info.value.column) == (")", 12)
    with pytest.raises(dk.ParseError) as info:
        dk.parse("a^b^c^d # note")
    assert info.value.column == 9


@pytest.mark.parametrize("word", keyword.kwlist)
def test_every_python_keyword_is_refused_as_a_name(word: str) -> None:
    for text, column in [(word, 1), (f"x + {word}", 5), (f"2*{word}*x", 3)]:
        with pytest.raises(dk.ParseError) as info:
            dk.parse(text)
        assert "keyword" in str(info.value)
        assert (info.value.token, info.value.column) == (word, column)


def test_soft_keywords_are_ordinary_names() -> None:
    assert dk.parse("match + case + type")(1.0, 2.0, 3.0) == 6.0


def test_nesting_depth_limit() -> None:
    assert dk.parse("(" * 256 + "x" + ")" * 256)(2.0) == 2.0
    assert dk.parse("-" * 256 + "x")(2.0) == 2.0
    assert dk.parse("sin(" * 10 + "x" + ")" * 10)(0.0) == 0.0
    for text, token, column in [
        ("(" * 257 + "x" + ")" * 257, "(", 257),
        ("-" * 257 + "x", "-", 257),
        ("-" * 9_999 + "x", "-", 257),
        ("-(" * 129 + "x" + ")" * 129, "-", 257),
        ("abs(" * 257 + "x" + ")" * 257, "(", 4 * 256 + 4),
        ("2^" * 257 + "2", "^", 2 * 256 + 2),
    ]:
        with pytest.raises(dk.ParseError, match="nested too deeply") as info:
            dk.parse(text)
        assert (info.value.token, info.value.column) == (token, column)


def test_long_flat_sums_are_not_nesting() -> None:
    assert dk.parse("-x" + " - -x" * 1_500)(1.0) == 1_499.0
    assert dk.parse("(x)+" * 1_999 + "(x)")(1.0) == 2_000.0


def test_length_limit_is_unchanged() -> None:
    assert dk.parse("1+" * 4_999 + "1")() == 5000.0
    with pytest.raises(dk.ParseError, match="the limit is 10000"):
        dk.parse("1+" * 5_000 + "1")


# ----- inputs= ----------------------------------------------------------------------------------

HOSTILE_INPUTS = [
    ["x", "y\nimport os; os.system('touch /tmp/pwned')\n#"],
    ["x", "__class__"],
    ["x", "1x"],
    ["x", "a-b"],
    ["x", "for"],
    ["x", "None"],
    ["x", ""],
    ["x", "a b"],
    ["x", "x"],
    ["x", 3],
    ["x", "ﬁ"],
    ["x", "pi"],
    ["x", "sin"],
]


@pytest.mark.parametrize("inputs", HOSTILE_INPUTS, ids=[repr(i[1]) for i in HOSTILE_INPUTS])
def test_hostile_input_names_are_refused(inputs: list) -> None:
    if os.path.exists(PWNED):
        os.remove(PWNED)
    with pytest.raises(dk.ParseError) as info:
        f = dk.parse("x + 1", inputs=inputs)
        dk.grad(f)(1.0, 2.0)
        compile_gradient(f, 1.0, 2.0)(1.0, 2.0)
    assert info.value.token == (inputs[1] if isinstance(inputs[1], str) else "3")
    assert not os.path.exists(PWNED)


def test_inputs_must_be_a_list_of_names() -> None:
    with pytest.raises(dk.ParseError, match="list of names"):
        dk.parse("x*y", inputs="xy")  # type: ignore[arg-type]


def test_hostile_function_name_is_refused() -> None:
    if os.path.exists(PWNED):
        os.remove(PWNED)
    with pytest.raises(dk.ParseError, match="name"):
        f = dk.parse("x*x", name="f\nimport os; os.system('touch /tmp/pwned')\n#")
        compile_gradient(f, 2.0)(2.0)
    assert not os.path.exists(PWNED)


def test_inputs_reorder_and_allow_unused_names() -> None:
    f = dk.parse("a*x + b", inputs=["b", "a", "x", "unused"])
    assert f.inputs == ("b", "a", "x", "unused")
    assert f(1.0, 2.0, 3.0, 100.0) == 7.0
    with pytest.raises(dk.ParseError) as info:
        dk.parse("a*x + q", inputs=["x", "a"])
    assert (info.value.token, info.value.column) == ("q", 7)


def test_a_literal_too_large_for_a_float_is_refused() -> None:
    """1e400 would silently become inf (and every derivative through it NaN): refuse it by name."""
    with pytest.raises(dk.ParseError, match="too large") as info:
        dk.parse("2 * 1e400")
    assert info.value.column == 5


def test_sum_and_mean_read_as_functions_of_a_vector() -> None:
    """`diffkit grad "sum(x^2)" --at x=1,2,3` needs reductions in math text."""
    import numpy as np

    f = dk.parse("sum(x^2) + mean(x)")
    x = np.array([1.0, 2.0, 3.0])
    assert f(x) == 14.0 + 2.0
    np.testing.assert_allclose(dk.grad(f)(x)[0], 2 * x + 1 / 3)
