"""Trust tests for the codegen bug hunt's findings F1–F5 (11th hunt, /work/hunt/codegen/REPORT.md).

F1: generated code simplified x + 0.0 to x (add's declared unit was +0.0, but −0.0 + 0.0 is
+0.0), and a constant array [0.0, −0.0] counted as uniform; the units are now exact in IEEE
arithmetic (checked at declaration) and matched bit for bit. F2: NumPy integer constants were
printed as Python ints (promoted weakly: float32 × int64 stayed float32), and the first-call
self-check compared values only; now they print typed and the check compares dtypes. F3:
``dk.jit`` value code applied ``math.*`` to complex 0-d values (imaginary part dropped). F4:
the symbolic engine's math program returned Python ints from floor/ceil/rint (a bare TypeError
at 1e150). F5: the symbolic derivative of cbrt used x**(−2/3) with a rounded exponent (1e-14
relative at extreme magnitudes).

Every reference is independent of diffkit: NumPy running the same function, mpmath, or a hand
formula.
"""

from __future__ import annotations

import warnings

import mpmath
import numpy as np
import pytest

import diffkit as dk
from diffkit.engines import compiler
from diffkit.primitive import REGISTRY


def _same_bits(got, want) -> bool:
    """Equal values with equal signs of zero (NaN equal to NaN), and equal dtypes."""
    g, w = np.asarray(got), np.asarray(want)
    return g.shape == w.shape and g.dtype == w.dtype and bool(np.all(
        ((g == w) & (np.signbit(g) == np.signbit(w))) | (np.isnan(g) & np.isnan(w))))


# ----- F1: x + 0.0 is not x ---------------------------------------------------------------------


def test_jit_arctan2_of_x_plus_zero_keeps_numpys_branch():
    f = lambda x: np.arctan2(x + 0.0, -1.0)
    j = dk.jit(f)
    j(np.float64(1.0))  # the code is made here
    assert float(j(np.float64(-0.0))) == float(f(np.float64(-0.0))) == np.pi


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
@pytest.mark.parametrize("shift", [lambda x: x + 0.0, lambda x: 0.0 + x, lambda x: x + 0,
                                   lambda x: np.add(x, 0), lambda x: x + np.zeros(3)],
                         ids=["x+0.0", "0.0+x", "x+0", "np.add", "x+zeros"])
def test_jit_adding_zero_gives_numpys_signed_zero(dtype, shift):
    j = dk.jit(shift)
    j(np.array([1.0, 2.0, 3.0], dtype))
    x = np.array([-0.0, 2.0, -0.0], dtype)
    assert _same_bits(j(x), shift(x))


def test_value_and_grad_of_jit_arctan2_of_x_plus_zero():
    f = lambda x: np.sum(np.arctan2(x + 0.0, -1.0))
    j = dk.jit(f)
    dk.value_and_grad(j)(np.array([1.0, 2.0]))
    x = np.array([-0.0, 2.0])
    value, (g,) = dk.value_and_grad(j)(x)
    assert value == pytest.approx(float(f(x)), rel=1e-15)
    # d/dx arctan2(x, −1) = −1/(x² + 1)
    np.testing.assert_allclose(g, -1.0 / (x * x + 1.0), rtol=1e-15)


def test_parsed_arctan2_of_x_plus_zero_after_it_compiles():
    g = dk.parse("arctan2(x + 0, -1)")
    values = [dk.value_and_grad(g)(v)[0] for v in (1.0, 2.0, 3.0, -0.0, -0.0)]
    assert values[-1] == values[-2] == float(np.arctan2(np.float64(-0.0) + 0.0, -1.0)) == np.pi


@pytest.mark.parametrize("const", [np.array([0.0, -0.0, 0.0]), np.array([-0.0, 0.0, -0.0])])
@pytest.mark.parametrize("op", [np.multiply, np.add], ids=["mul", "add"])
def test_jit_constant_array_of_both_zeros_is_not_uniform(op, const):
    f = lambda x: op(x, const)
    j = dk.jit(f)
    for x in (np.array([1.0, 1.0, 1.0]), np.array([-1.0, 1.0, -0.0]),
              np.array([-0.0, -0.0, -0.0])):
        assert _same_bits(j(x), f(x))


# every unit in the table, where it is dropped, at the values where a near-unit is not exact
_SPECIAL = [0.0, -0.0, 5e-324, -5e-324, 1.0, -2.5, 1.7976931348623157e308, -1.7976931348623157e308,
            np.inf, -np.inf, np.nan]
_UNITS = [(p, i, u) for p in REGISTRY.values() for i, u in enumerate(p.unit) if u is not None]


def test_the_table_declares_the_units_the_hunt_checked():
    assert {(p.name, i) for p, i, _ in _UNITS} >= {("add", 0), ("add", 1), ("sub", 1),
                                                     ("mul", 0), ("mul", 1), ("div", 1),
                                                     ("pow", 1)}


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
@pytest.mark.parametrize(("prim", "i", "unit"), _UNITS, ids=[f"{p.name}{i}" for p, i, _ in _UNITS])
def test_every_declared_unit_is_exact_in_numpy(prim, i, unit, dtype):
    ufunc = {"add": np.add, "sub": np.subtract, "mul": np.multiply, "div": np.divide,
             "pow": np.power}[prim.name]
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        x = np.array(_SPECIAL, dtype)
        u = dtype(unit)
        assert _same_bits(ufunc(u, x) if i == 0 else ufunc(x, u), x)


@pytest.mark.parametrize(("prim", "i", "unit"), _UNITS, ids=[f"{p.name}{i}" for p, i, _ in _UNITS])
def test_jit_drops_each_unit_only_where_numpy_agrees(prim, i, unit):
    ufunc = {"add": np.add, "sub": np.subtract, "mul": np.multiply, "div": np.divide,
             "pow": np.power}[prim.name]
    f = (lambda x: ufunc(unit, x)) if i == 0 else (lambda x: ufunc(x, unit))
    j = dk.jit(f)
    j(np.array([1.0, 2.0, 3.0]))
    with np.errstate(all="ignore"):
        for v in (-0.0, 0.0, np.inf, -np.inf, -2.5):
            x = np.array([v, 2.0, v])
            try:
                got = j(x)
            except dk.DiffkitError:  # a non-finite result is a named error (documented)
                assert not np.all(np.isfinite(f(x)))
                continue
            assert _same_bits(got, f(x))


def test_a_unit_that_is_not_exact_is_refused_at_declaration():
    from diffkit.primitives.declare import _check_units

    with pytest.raises(ValueError, match="-0.0"):
        _check_units("add", REGISTRY["add"].impl, (0.0, 0.0))
    _check_units("add", REGISTRY["add"].impl, (-0.0, -0.0))


# ----- F2: NumPy integer constants keep NumPy's promotion ---------------------------------------


def test_jit_sum_over_a_count_keeps_float64():
    mask = np.array([True, False, True])
    f = lambda x: np.sum(x) / np.sum(mask)  # np.sum(mask) is np.int64(2)
    j = dk.jit(f)
    j(np.array([1, 2, 3], np.float32))
    x = np.array([0.1, 0.2, 0.3], np.float32)
    want = f(x)
    assert want.dtype == np.float64
    got = j(x)
    assert np.asarray(got).dtype == np.float64 and float(got) == float(want)
    value, _ = dk.value_and_grad(dk.jit(f))(x)
    assert np.asarray(value).dtype == np.float64 and float(value) == float(want)


@pytest.mark.parametrize("const", [np.ones(3, int), np.full(3, 3), np.zeros(3, np.int32)],
                         ids=["ones", "threes", "int32 zeros"])
@pytest.mark.parametrize("op", [np.multiply, np.add], ids=["mul", "add"])
def test_jit_float32_with_integer_constant_array(op, const):
    f = lambda x: op(x, const)
    j = dk.jit(f)
    j(np.array([1.0, 2.0, 3.0], np.float32))
    x = np.array([0.1, 0.2, 0.3], np.float32)
    assert _same_bits(j(x), f(x))
    g = lambda x: np.sum(op(x, const))
    jg = dk.jit(g)
    jg(np.array([1.0, 2.0, 3.0], np.float32))
    assert float(jg(x)) == float(g(x)) and np.asarray(jg(x)).dtype == g(x).dtype


def test_jit_float32_times_numpy_int_scalar():
    f = lambda x: x * np.int64(3)
    j = dk.jit(f)
    j(np.array([1.0, 2.0], np.float32))
    x = np.array([0.1, 0.2], np.float32)
    assert _same_bits(j(x), f(x))


def test_self_check_refuses_code_of_another_dtype(monkeypatch):
    """Generated code whose values agree at the first point but whose dtype is not the trace's
    (here: integer constants printed as weak Python ints again) is not kept: the call is
    interpreted and answers NumPy's dtype."""
    printed = compiler._const_text

    def weak(v, ns):
        c = v.scalar_const()
        if c is not None and not np.shape(v.const) and isinstance(v.const, np.integer):
            return repr(int(v.const))
        return printed(v, ns)

    monkeypatch.setattr(compiler, "_const_text", weak)
    f = lambda x: np.sum(x * np.ones(3, int))
    j = dk.jit(f)
    x1 = np.array([1.0, 2.0, 3.0], np.float32)  # float32 and float64 agree here: 6.0
    assert np.asarray(j(x1)).dtype == np.float64
    x2 = np.array([0.1, 0.2, 0.3], np.float32)
    got = j(x2)
    assert np.asarray(got).dtype == np.float64 and float(got) == float(f(x2))


# ----- F3: complex 0-d values are not computed by math.* -----------------------------------------


_COMPLEX = {
    "exp": lambda x: np.real(np.exp(x - 1j * (x - 1.0))),
    "sqrt": lambda x: np.real(np.sqrt(x - 1j * (x - 1.0))),
    "log": lambda x: np.imag(np.log(x - 1j * (x - 1.0))),
    "log10": lambda x: np.real(np.log10(x - 1j * (x - 1.0))),
    "log1p": lambda x: np.imag(np.log1p(x - 1j * (x - 1.0))),
    "sin": lambda x: np.real(np.sin(x - 1j * (x - 1.0))),
    "cos": lambda x: np.imag(np.cos(x - 1j * (x - 1.0))),
    "tanh": lambda x: np.real(np.tanh(x - 1j * (x - 1.0))),
    "sinh": lambda x: np.real(np.sinh(x - 1j * (x - 1.0))),
    "expm1": lambda x: np.imag(np.expm1(x - 1j * (x - 1.0))),
    "arctan": lambda x: np.real(np.arctan(x - 1j * (x - 1.0))),
    "arcsinh": lambda x: np.real(np.arcsinh(x - 1j * (x - 1.0))),
    "power": lambda x: np.real((x - 1j * (x - 1.0)) ** 1.5),
    "abs": lambda x: np.abs(x - 1j * (x - 1.0)) * x,
    "where": lambda x: np.real(np.where(x > 0, np.exp(x - 1j * (x - 1.0)), 0.0)),
}


@pytest.mark.parametrize("arg", [np.float64, float, lambda v: np.array(v)],
                         ids=["np.float64", "float", "0-d"])
@pytest.mark.parametrize("name", list(_COMPLEX))
def test_jit_complex_scalar_intermediates(name, arg):
    f = _COMPLEX[name]
    j = dk.jit(f)
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")  # (not "error": an exception would hide the bug)
        j(arg(1.0))  # at x = 1 the imaginary part is 0: math code would agree here
        for v in (2.0, 0.5, 3.25):
            want = f(np.float64(v))
            assert float(j(arg(v))) == pytest.approx(float(want), rel=1e-14, abs=1e-300)
    assert not [w for w in seen if issubclass(w.category, np.exceptions.ComplexWarning)]


# ----- F4: floor, ceil, rint in the symbolic engine's math program ------------------------------


@pytest.mark.parametrize("name", ["floor", "ceil", "rint", "trunc"])
def test_symbolic_integer_valued_function_of_a_huge_number(name):
    g = dk.parse(f"{name}({'x'}) * y")
    # d/dx = 0 almost everywhere; d/dy = name(1e150) = 1e150 (1e150 is an integer in float64)
    got = dk.grad(g, method="symbolic")(1e150, 1e150)
    assert got == (0.0, 1e150)
    assert all(type(v) is float or np.asarray(v).dtype == np.float64 for v in got)


def test_symbolic_floor_of_a_huge_number_python_function():
    got = dk.grad(lambda x, y: np.floor(x) * y, method="symbolic")(1e200, 3.0)
    assert got == (0.0, 1e200)


# ----- F5: cbrt's symbolic derivative at extreme magnitudes --------------------------------------


@pytest.mark.parametrize("x", [1e-300, -1e-300, 1e-200, 1e100, -1e100, 1e300, 2.0, 5e-324])
def test_symbolic_cbrt_derivative_against_mpmath(x):
    with mpmath.workdps(50):
        want = 1 / (3 * mpmath.cbrt(abs(mpmath.mpf(x))) ** 2)  # d/dx cbrt(x) = 1/(3·|x|^(2/3))
        (got,) = dk.grad(dk.parse("cbrt(x)"), method="symbolic")(x)
        assert abs((mpmath.mpf(got) - want) / want) < 2e-15
