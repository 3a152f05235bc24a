"""Generated code and the SymPy bridge at their edges (4th bug hunt): each test failed before
its fix. References: mpmath at 50 digits and hand formulas."""

import itertools
import math

import mpmath as mp
import numpy as np
import pytest
import sympy as sp

import diffkit as dk
from diffkit.primitives import REGISTRY

mp.mp.dps = 50


# from_sympy made every constant whose is_real SymPy cannot decide (besselj(0, 2), erfinv(1/2),
# Ei(1)) complex: a real function answered complex values, and the default gradient's third
# (compiled) call then raised a bare TypeError
@pytest.mark.parametrize("const, ref", [(sp.besselj(0, 2), mp.besselj(0, 2)),
                                        (sp.erfinv(sp.Rational(1, 2)), mp.erfinv(0.5)),
                                        (sp.Ei(1), mp.ei(1))])
def test_from_sympy_real_constant_stays_real(const, ref):
    x = sp.Symbol("x", real=True)
    f = dk.from_sympy(x * const)
    v = f(1.5)
    assert type(v) is float and v == pytest.approx(float(1.5 * ref), rel=1e-14)
    g = dk.grad(f)
    for _ in range(4):  # the third call is the first compiled one
        (d,) = g(0.5)
        assert type(d) is float and d == pytest.approx(float(ref), rel=1e-14)


def test_from_sympy_complex_constant_stays_complex():
    x = sp.Symbol("x", real=True)
    assert dk.from_sympy(x * (1 + 2 * sp.I))(2.0) == 2 + 4j


def test_from_sympy_of_a_bool_is_a_type_error():
    with pytest.raises(TypeError, match="bool"):
        dk.from_sympy(True)


# a real input with a complex (holomorphic) value: calls 1, 2 and 4 answered Re f'(x); the
# compiled third call raised a bare TypeError (math.exp of a complex). grad now refuses such a
# function at every call (its answer would be Re f′ alone); dk.derivative gives f′ every call
@pytest.mark.parametrize("body, want", [(lambda x: dk.exp(1j * x), 1j * np.exp(0.5j)),
                                        (lambda x: x * (1 + 2j), 1 + 2j)])
def test_complex_valued_function_of_a_real_input_every_call(body, want):
    for f in (dk.jit(body), dk.function(body)):
        g, d = dk.grad(f), dk.derivative(f)
        for _ in range(4):
            with pytest.raises(dk.InputTypeError, match="complex-valued"):
                g(0.5)
            assert d(0.5) == pytest.approx(want, rel=1e-14)


# dk.compile_gradient's own calls returned NaN and inf with a NumPy warning where dk.grad
# raises DomainError (docs: generated code checks its arguments, domains and results)
def test_compile_gradient_array_outside_domain_is_an_error():
    cg = dk.compile_gradient(dk.jit(lambda x: dk.sum(dk.log(x) + x * x)), np.linspace(0.5, 2, 4))
    bad = np.array([0.5, -0.5, 1.0, 2.0])
    with pytest.raises(dk.DomainError):
        cg(bad)
    x = np.array([0.5, 1.0, 1.5, 2.0])
    value, (g,) = cg(x)  # inside the domain: Σ log x + x², gradient 1/x + 2x
    assert value == pytest.approx(float(np.sum(np.log(x) + x * x)), rel=1e-14)
    np.testing.assert_allclose(g, 1 / x + 2 * x, rtol=1e-14)


def test_compile_gradient_grad_that_reads_log_outside_domain_is_an_error():
    cg = dk.compile_gradient("sum(log(x))*y", np.array([1.0, 2.0]), 3.0)
    with pytest.raises(dk.DomainError):
        cg.grad(np.array([1.0, -2.0]), 3.0)  # ∂/∂y = Σ log x


@pytest.mark.parametrize("args, name", [((math.nan, 3.0), "'x'"), ((2.0, math.inf), "'y'")])
def test_compile_gradient_non_finite_input_is_named(args, name):
    cg = dk.compile_gradient("log(x)*y", 2.0, 3.0)
    for call in (cg, cg.grad):
        with pytest.raises(dk.DomainError, match=name):
            call(*args)


# wrt was not validated: out of range was a bare IndexError, a name a bare TypeError, a
# repeated index answered the gradient twice (dk.grad: ArityError; names allowed)
@pytest.mark.parametrize("wrt", [(5,), (0, 0), 1.5, (True,)])
def test_compile_gradient_wrt_is_validated(wrt):
    with pytest.raises(dk.ArityError):
        dk.compile_gradient("x*y", 2.0, 3.0, wrt=wrt)


@pytest.mark.parametrize("wrt, want", [(("y",), (2.0,)), ("x", (3.0,)), (-1, (2.0,)),
                                       (None, (3.0, 2.0))])
def test_compile_gradient_wrt_as_grad_reads_it(wrt, want):
    assert dk.compile_gradient("x*y", 2.0, 3.0, wrt=wrt).grad(2.0, 3.0) == want


# a NumPy float64 (or complex128) scalar input got a Python float (complex) derivative: the
# dtype convention gives a NumPy scalar for a NumPy scalar (float32 and int64 already did)
@pytest.mark.parametrize("method", ["reverse", "forward", "symbolic"])
def test_numpy_float64_scalar_gets_numpy_scalar_gradient(method):
    (d,) = dk.grad("sin(x)", method=method)(np.float64(0.5))
    assert type(d) is np.float64 and d == pytest.approx(math.cos(0.5), rel=1e-15)
    d2 = dk.derivative("x^3", method=method)(np.float64(2.0))
    assert type(d2) is np.float64 and d2 == pytest.approx(12.0, rel=1e-14)


def test_numpy_complex128_scalar_gets_numpy_scalar_gradient():
    (d,) = dk.grad(lambda z: dk.real(z * z), method="forward")(np.complex128(1 + 2j))
    assert type(d) is np.complex128


# a one-element value of a float32 function (its value, J·t, value_and_grad's value) became a
# Python float, i.e. float64: design.md promises the primal output's dtype
@pytest.mark.parametrize("method", ["reverse", "forward", "symbolic", "fd-central"])
def test_float32_scalar_values_stay_float32(method):
    x = np.array([0.1, 0.7, 1.3], np.float32)
    value, jt = dk.jvp(lambda v: dk.sum(dk.sin(v)), (x,), (np.ones(3, np.float32),), method=method)
    assert type(value) is np.float32 and type(jt) is np.float32
    assert jt == pytest.approx(float(np.sum(np.cos(x.astype(float)))), rel=1e-5)
    v, _ = dk.value_and_grad(lambda v: dk.sum(v * v), method=method)(x)
    assert type(v) is np.float32
    assert type(dk.function(lambda v: dk.sum(v * v))(x)) is np.float32
    assert type(dk.function(lambda v: dk.sum(v * v))(x.astype(np.float64))) is float


_SPECIAL_POINTS = (0.0, -0.0, 1.0, -1.0, 2.5, -2.5, 0.5, np.inf, -np.inf, np.nan, 1e300, -1e-300)


@pytest.mark.parametrize("name", sorted(n for n, r in REGISTRY.items()
                                        if r.kind == "elementwise" and r.scalar is not None))
def test_every_scalar_form_keeps_numpys_nan_zero_and_infinity_rules(name) -> None:
    """A record's Python scalar form (what generated scalar code prints) must give NumPy's value
    at NaN, ±0 and ±inf, through a compiled dk.jit call: `max(3.0, nan)` was 3.0 (NumPy: nan)."""
    rec = REGISTRY[name]
    n = rec.nargs or 1
    bodies = {1: lambda x: rec(x) * 1.0, 2: lambda x, y: rec(x, y) * 1.0,
              3: lambda x, y, z: rec(x, y, z) * 1.0}
    jitted = dk.jit(bodies[n])
    inside = [(lo + hi) / 2 for lo, hi in rec.domain] or [0.75] * n
    for _ in range(3):  # compiled by now
        jitted(*inside)
    for xs in itertools.product(_SPECIAL_POINTS, repeat=n):
        with np.errstate(all="ignore"):
            try:
                want = np.float64(rec.impl(np, *map(np.float64, xs)))
            except (ValueError, TypeError, ArithmeticError):
                continue  # NumPy refuses: nothing to agree with
            try:
                got = jitted(*xs)
            except dk.DiffkitError:
                continue  # a named error is never a wrong number
        if np.isnan(want):
            assert np.isnan(got), (name, xs, got)
        elif want == 0 and name == "pow" and xs[1] == 0.5:
            assert got == 0  # NumPy's power(−0.0, 0.5) is its sqrt, −0.0; IEEE pow gives +0.0
        elif want == 0 or np.isinf(want):
            assert got == want and np.signbit(got) == np.signbit(want), (name, xs, got)
        else:
            assert abs(got - want) <= 4 * np.spacing(abs(want)), (name, xs, got, want)
