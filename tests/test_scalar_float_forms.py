"""Float forms: the table's scalar templates as the code scalar code runs on Python floats.

A primitive whose ``scalar`` template is written without NumPy (``(-{0})``, ``({0} < {1})``,
the sigmoid's two branches) runs that template on Python floats: in ``dk.<name>(x)`` on floats,
in the tracing tape's printed recorders and operators (``-x``, ``abs(x)``, ``x ** 2``,
``x > 0``) and in the partial rules printed as float code. These tests hold each form against
NumPy's own value (the independent reference: the primitive's impl on float64), the traced
programs that now stay scalar records against hand-derived derivatives, and the errors NumPy
names where Python's float code would give something else (``(-8.0) ** 0.5`` is a complex
number in Python, NaN and a domain error in NumPy).
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

import diffkit as dk
from diffkit.primitive import REGISTRY
from diffkit.tensor import Tensor

FORMS = sorted(name for name, p in REGISTRY.items() if p.on_floats is not None)
SPECIAL = (0.0, -0.0, 1.0, -1.0, 0.5, -2.5, 3.0, 1e-300, -1e300, 700.0, -745.5,
           math.inf, -math.inf, math.nan)


def test_the_new_float_forms_exist():
    assert {"neg", "abs", "signum", "sigmoid", "relu", "less", "greater", "equal", "not_equal",
            "less_equal", "greater_equal", "pow", "where"} <= set(FORMS)


def _same(got, want, exact: bool) -> bool:
    if isinstance(want, (bool, np.bool_)):
        return type(got) is bool and got == bool(want)
    want = float(want)
    if math.isnan(want):
        return math.isnan(got)
    if exact or math.isinf(want):
        return got == want and math.copysign(1.0, got) == math.copysign(1.0, want)
    # a math function: NumPy's loop up to its last bit (and the sign of a zero: NumPy's
    # power(-0.0, 0.5) is its sqrt's −0.0, C's pow gives 0.0, as Python's (-0.0) ** 0.5)
    return abs(got - want) <= math.ulp(want)


@pytest.mark.parametrize("name", FORMS)
def test_every_float_form_gives_numpys_value(name):
    """The float form against NumPy on float64 over ±0, ±inf, NaN, tiny and huge values: the
    same value (operators, comparisons and selections bit for bit with the sign of zero; a
    ``math`` function up to the last bit), or an exception where NumPy's value is not finite."""
    prim = REGISTRY[name]
    exact = "math." not in (prim.scalar or "")
    points = itertools.product(SPECIAL, repeat=prim.nargs)
    compared = 0
    for xs in points:
        if name == "where":
            xs = (bool(xs[0]),) + xs[1:]
        with np.errstate(all="ignore"):
            want = prim.impl(np, *(np.float64(x) if type(x) is float else x for x in xs))
        want = want[()] if isinstance(want, np.ndarray) else want
        try:
            got = prim.on_floats(*xs)
        except (ArithmeticError, ValueError):
            assert not np.isfinite(want), (name, xs, want)
            continue
        if type(got) is float and not math.isfinite(got) and not exact:
            # every caller hands a non-finite value to NumPy for its value (or its error):
            # C's pow(-inf, 0.5) is inf where NumPy's fast path takes sqrt(-inf), NaN
            assert not np.isfinite(want), (name, xs, got, want)
            continue
        assert _same(got, want, exact), (name, xs, got, want)
        compared += 1
    assert compared >= 3


@pytest.mark.parametrize(("call", "want"), [
    (lambda: dk.neg(0.5), -0.5), (lambda: dk.abs(-0.0), 0.0),
    (lambda: dk.less(0.5, 1.0), np.True_), (lambda: dk.greater(0.5, 1.0), np.False_),
    (lambda: dk.sigmoid(-0.0), 0.5),
    (lambda: dk.signum(-0.0), 0.0), (lambda: dk.signum(-3.0), -1.0)])
def test_calls_on_python_floats_give_python_numbers(call, want):
    got = call()
    assert type(got) is type(want) and got == want
    assert math.copysign(1.0, got) == math.copysign(1.0, want)


def test_a_comparison_of_floats_is_numpys_bool():
    """~ of a comparison is NumPy's logical not (Python's ~True is -2, which where() reads as
    true: the wrong branch), and a sum of comparisons NumPy's logical or."""
    assert ~dk.less(0.3, 0.5) == np.False_ and type(~dk.less(0.3, 0.5)) is np.bool_
    assert dk.where(~dk.less(0.3, 0.5), 1.0, 2.0) == 2.0
    assert dk.less(0.3, 0.5) + dk.less(0.3, 1.0) is np.True_


def test_mixed_bools_keep_numpys_types():
    """A bool beside a float where NumPy promotes (maximum's 1.0, hypot's float16 for bools):
    not the float form's Python bool."""
    assert dk.hypot(True, True).dtype == np.float16  # NumPy's rule for bools alone
    assert type(dk.add(True, 0.5)) is not bool and dk.add(True, 0.5) == 1.5


@pytest.mark.parametrize("f", [lambda x: x < 1, lambda x: dk.equal(x, x),
                               lambda x: x < x * 2.0])
def test_a_function_that_returns_a_comparison_has_a_zero_gradient(f):
    assert dk.grad(f)(0.3) == (0.0,)
    value, grads = dk.value_and_grad(f)(0.3)
    assert value == np.True_ and grads == (0.0,)
    np.testing.assert_array_equal(dk.jacobian(lambda x: (f(x), x * 2.0))(0.3), [[0.0], [2.0]])


def _records_of(f, *xs):
    graph = dk.function(f).trace(*xs)
    return graph, graph.recorded


def test_negation_abs_powers_and_comparisons_stay_scalar_records():
    """Scalar code with -x, abs, ** and an if on a comparison records one object per
    operation by the printed recorders, which memoize the local partials as they record
    (before, these went the NumPy way and left their partials to the sweep, 3-20x slower
    per operation), and the gradient is the hand derivative."""
    def f(x):
        y = -x * abs(x - 2.0) + x ** 3 + 2.0 ** x + (x * x + 1.0) ** 0.5
        return y if x > 0.25 else -y

    _, records = _records_of(f, 0.7)
    assert records and all(type(r) is Tensor and r._node is None for r in records)
    assert {r._prim.name for r in records} >= {"neg", "abs", "pow", "greater"}
    for r in records:
        if r._prim.differentiable and r.requires_grad:  # memoized, Python floats
            assert r._partials is not None, r._prim.name
            assert all(p is None or type(p) in (float, int) or p in (dk.primitive.ONE,
                       dk.primitive.MINUS_ONE) for p in r._partials), r._prim.name
    x = 0.7
    hand = (-abs(x - 2.0) + x * math.copysign(1.0, x - 2.0) * -1.0 + 3 * x * x
            + 2.0 ** x * math.log(2.0) + x / math.sqrt(x * x + 1.0))
    (got,) = dk.grad(f)(x)
    assert got == pytest.approx(hand, rel=1e-14)
    (fwd,) = dk.grad(f, method="forward")(x)  # another engine, on the nodes
    assert got == pytest.approx(fwd, rel=1e-15)


@pytest.mark.parametrize(("f", "x"), [
    (lambda x: x ** 0.5, -4.0),            # Python: a complex number; NumPy: NaN
    (lambda x: (-2.0) ** x, 0.5),          # the same, with the base a constant
    (lambda x: (x - 1.0) ** -1.0, 1.0),    # Python: ZeroDivisionError; NumPy: inf
    (lambda x: x ** 2000.0, 10.0),         # Python: OverflowError; NumPy: inf
])
def test_powers_outside_the_domain_are_named_errors(f, x):
    with pytest.raises(dk.DiffkitError):
        dk.grad(f)(x)


def test_an_integer_power_of_a_negative_base_is_real():
    (g,) = dk.grad(lambda x: x ** 3)(-1.5)
    assert type(g) in (float, np.float64) and g == 3 * 1.5 ** 2


@pytest.mark.parametrize(("name", "hand"), [
    ("tanh", lambda x: 1.0 / math.cosh(x) ** 2),
    ("sigmoid", lambda x: math.exp(-x) / (1.0 + math.exp(-x)) ** 2),
    ("cos", lambda x: -math.sin(x)),
    ("arcsin", lambda x: 1.0 / math.sqrt(1.0 - x * x)),
    ("arctan", lambda x: 1.0 / (1.0 + x * x)),
])
@pytest.mark.parametrize("x", [-0.9, -0.3, 0.0, 0.2, 0.75])
def test_printed_rules_memoize_the_hand_derivative(name, hand, x):
    """Rules with a branch on the values (tanh's sech² by |x| < ½, arcsin's 1 − x² by |x|)
    now print as float code (where, comparisons, signum have float forms): the record's
    memoized partial is the derivative, to the last bits."""
    graph = dk.function(lambda v: getattr(dk, name)(v * 1.0)).trace(x)
    (record,) = [r for r in graph.recorded if r._prim.name == name]
    assert record._partials is not None and type(record._partials[0]) is float
    assert record._partials[0] == pytest.approx(hand(x), rel=4e-16, abs=1e-300)


def test_a_repeated_operand_is_computed_once_in_generated_code():
    """sigmoid's scalar template names its operand four times: generated code binds an
    expression to a name first (or calls the impl), never computes it four times over."""
    calls = []

    def f(x):
        return dk.sigmoid(x * 2.0 + 1.0)

    jitted = dk.jit(f)
    for _ in range(3):
        calls.append(jitted(-0.8))
    assert calls[-1] == dk.function(f)(-0.8) == pytest.approx(1 / (1 + math.exp(0.6)), rel=1e-15)
    gradient = dk.grad(jitted)
    assert gradient(-0.8)[0] == pytest.approx(2.0 * calls[-1] * (1.0 - calls[-1]), rel=1e-14)
    source = gradient.source  # every generated function: the operand x·2 computed once in each
    assert source.count("def ") >= 2 and source.count("a0 * 2.0") == source.count("def ")


def test_signum_of_an_integer_keeps_numpys_integer_in_compiled_code():
    jitted = dk.jit(lambda n: dk.signum(n) * 1)
    for _ in range(3):
        got = jitted(3)
    want = np.sign(np.int64(3))
    assert got == want and np.asarray(got).dtype.kind == "i"


@pytest.mark.parametrize("f", [
    lambda x: (x > 0) * 2.0 + x, lambda x: (x > 0) ** 2 + x, lambda x: (x < 1) / 2.0 + x,
    lambda x: (x >= 0.4) * x + x * (x != 0.3), lambda x: dk.where(x > 0, x, -x),
    lambda x: np.greater(x, 0.2) * x, lambda x: (0.1 < x) * x])
def test_a_comparisons_record_is_numpys_bool(f):
    """A comparison on traced scalar code records NumPy's bool (it has a dtype: ``(x > 0) ** 2``
    asks for it), which arithmetic reads as NumPy does; no derivative flows through it."""
    graph = dk.function(f).trace(0.5)
    bools = [n for n in graph.nodes if n.prim is not None and not n.prim.differentiable]
    assert bools and all(type(n.value) is np.bool_ for n in bools)
    (got,) = dk.grad(f)(0.5)
    h = 1e-6  # the functions are smooth at 0.5: a central difference is a reference
    with np.errstate(all="ignore"):
        want = (float(dk.function(f)(0.5 + h)) - float(dk.function(f)(0.5 - h))) / (2 * h)
    assert got == pytest.approx(want, rel=1e-8)
    assert "v1" in graph.listing()


@pytest.mark.parametrize("f", [
    lambda x: dk.where(x == 2**53 + 1, 2.0 * x, 3.0 * x),
    lambda x: dk.where(2**53 + 1 == x, 2.0 * x, 3.0 * x),
    lambda x: dk.where(x < 2**53 + 1, 3.0 * x, 2.0 * x),
    lambda x: dk.where(x >= 2**53 + 1, 2.0 * x, 3.0 * x)])
def test_a_comparison_with_an_int_reads_it_as_numpy_does(f):
    """NumPy compares a float64 with a Python int as the int's float64 (2**53 + 1 rounds to
    2.0**53); Python compares them exactly, so the printed lanes convert the int first (the
    traced branch was the other one: 3x where NumPy and dk.jit say 2x)."""
    x = 2.0 ** 53
    assert dk.grad(f)(x) == (2.0,)
    assert np.equal(np.float64(x), 2**53 + 1)


@pytest.mark.parametrize("x", [1e-310, -0.3, 0.3, 5e-324])
def test_the_derivative_of_a_zeroth_power_is_zero(x):
    """∂(x**0)/∂x is taken as 0 (a constant), for a subnormal x too, where b·x**(b−1) would
    overflow: pow's rule for a constant exponent branches in Python on what a trace cannot
    see, so its printed form (the traced exponent's b·a**(b−1)) disagrees with it at the
    probe points and the rule is called as it is."""
    (g,) = dk.grad(lambda v: v ** 0.0)(x)
    assert g == 0.0 and math.copysign(1.0, g) == 1.0
    from diffkit.float_rules import rule_text
    assert rule_text(REGISTRY["pow"], 0, ["a", "b", "o"]) is None


def test_power_on_floats_is_numpys_power():
    """NumPy's power squares for 2, takes the square root for ½ and the reciprocal for −1 (C's
    pow differs in the last bit, and pow(−0.0, ½) is +0.0 where NumPy's sqrt keeps −0.0, which
    arctan2 turns into π against −π): the float form does what NumPy does, so a traced x ** 2,
    a jit's and dk.power's are NumPy's number."""
    rng = np.random.default_rng(7)
    for a in [*rng.uniform(-10, 10, 3000), -0.0, 0.0, 1e-310, 8.306566437722534]:
        for b in (2.0, 0.5, -1.0, 3.0, -2.0, 1.5, 0.25):
            with np.errstate(all="ignore"):
                loop = np.power(np.float64(a), b)
                c_pow = np.float64(a) ** b  # NumPy's scalar power: C's pow, on every machine
            if not np.isfinite(loop):
                continue
            got = dk.power(float(a), b)
            # NumPy's fast paths (square, sqrt, reciprocal) exactly; elsewhere C's pow, which
            # NumPy's loop is too except where it has a SIMD pow of its own (AVX-512: within
            # an ulp of C's, not the same bits)
            want = loop if b in (2.0, 0.5, -1.0) else c_pow
            assert got == want and math.copysign(1.0, got) == math.copysign(1.0, want), (a, b)
            assert abs(got - loop) <= np.spacing(abs(loop)), (a, b)
    x = 8.306566437722534  # C's pow(x, 2) is one ulp from x * x here
    assert dk.value_and_grad(lambda v: v ** 2)(x)[0] == np.power(x, 2.0) == x * x
    jitted = dk.jit(lambda v: v ** 2)
    for _ in range(3):
        assert jitted(x) == x * x
    # traced (a jit call's value is its trace's), v ** 0.5 is np.power's: sqrt, −0.0 at −0.0,
    # and arctan2 gives −π (a held Python float reaches the body as the number: Python's pow)
    jitted = dk.jit(lambda v, y: dk.arctan2(y * v ** 0.5, -1.0))
    for _ in range(3):
        assert jitted(np.float64(-0.0), 1.0) == np.arctan2(1.0 * np.power(-0.0, 0.5), -1.0) \
            == -math.pi


def test_hypot_on_floats_is_numpys_hypot():
    """math.hypot is its own algorithm (one ulp from C's hypot, which NumPy calls, on ~0.1 % of
    points): hypot's scalar code is NumPy's, so dk.hypot on floats, traced and compiled agree."""
    rng = np.random.default_rng(8)
    for a, b in [(-170.4674670479278, 40.0), *rng.uniform(-200, 200, (2000, 2))]:
        assert dk.hypot(float(a), float(b)) == np.hypot(a, b)
    assert dk.function(lambda x: dk.hypot(x, 40.0))(-170.4674670479278) == \
        np.hypot(-170.4674670479278, 40.0)


@pytest.mark.parametrize(("f", "zeros"), [
    (lambda x: x ** 3, True), (lambda x: x ** 1.5, True), (lambda x: (x * 3.0) ** 3, True),
    (lambda x: x ** (x * 0.5 + 1.0), False)])  # (no derivative in the exponent at 0: log 0)
def test_a_powers_gradient_does_not_depend_on_compiling(f, zeros):
    """pow's partial b·a**(b−1) ran Python's ** on floats (C's pow) in the traced sweep while
    generated code printed pow's float form (NumPy's power: x·x for 2, sqrt for ½): the
    gradient of x**3 of dk.grad and of dk.grad(dk.jit) differed in the last bit at 3 of 2,000
    points, and x**1.5 at −0.0 in the sign of zero. The rule calls the primitive now."""
    gj, g = dk.grad(dk.jit(f)), dk.grad(f)
    for _ in range(3):
        gj(2.0)
    for x in [*np.random.default_rng(1).uniform(0.1, 10.0, 2000), *([0.0, -0.0] * zeros)]:
        a, b = gj(float(x))[0], g(float(x))[0]
        assert a == b and math.copysign(1.0, a) == math.copysign(1.0, b), x


def test_scalar_code_names_an_operand_its_float_form_repeats():
    """pow's float form mentions its base three times; an inlined base that is an expression
    (``(1.0 if v4 else a0)`` in the partial of x**(x/2 + 1)) made the compiler print the array
    impl instead, np.power, which is another function on floats on a machine whose NumPy has a
    SIMD pow (AVX-512: 51 of 2,000 gradients one ulp from the traced sweep's). The operand is
    named first, and every pow of floats in scalar code is the float form."""
    f = dk.jit(lambda x: x ** (x * 0.5 + 1.0))
    source = dk.compile_gradient(f, 2.0).source
    assert "np.power" not in source and "math.pow(" in source
    g = dk.grad(lambda x: x ** (x * 0.5 + 1.0))
    for x in np.random.default_rng(3).uniform(0.1, 10.0, 200):
        b = float(x) * 0.5 + 1.0  # the partial by hand: b·x**(b−1) + x**b·ln x / 2 (C's pow)
        want = b * math.pow(x, b - 1.0) + math.pow(x, b) * math.log(x) * 0.5
        assert g(float(x))[0] == pytest.approx(want, rel=1e-14)
