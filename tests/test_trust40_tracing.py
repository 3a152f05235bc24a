"""Tracing semantics, fortieth hunt: values that leave a trace are refused by name, by every method.

1. ``f"{x:.17g}"`` of a value being differentiated read its number past ``concrete()``:
   ``float(f"{a:.17g}") * a`` differentiated to 2 at 2 (true d(a²)/da = 4), Hessian 0.
2. A traced value kept from an earlier call and returned gave that call's value and derivative 0.
3. An int index array differentiated by default was a bare IndexError in forward/symbolic/fd vjp.
4. A default that is a module (``np=np``) was a bare TypeError (the numpy module has a ``dtype`` and
   a ``shape``, classes, and was read as an array): it reaches the function as given.
5. ``pow(x, 3, 5)`` of a traced value was an arity TypeError.

References are by hand: d(a²)/da = 2a, d(Σx²)/dx = 2x, d tanh x/dx = 1 − tanh²x."""

from __future__ import annotations

import numpy as np
import pytest

import diffkit as dk
from diffkit.errors import InputTypeError, TracingError

METHODS = ("reverse", "forward", "symbolic", "fd", "auto", "compiled")


# ----- 1. format specs ------------------------------------------------------------------------
def _formats(a):
    return float(f"{a:.17g}") * a  # numerically a·a


@pytest.mark.parametrize("method", [m for m in METHODS if m != "fd"])
def test_format_spec_of_a_differentiated_value_is_refused(method):
    with pytest.raises(TracingError, match="format spec") as err:
        dk.grad(_formats, method=method)(2.0)
    assert "stop_gradient" in str(err.value) and "print(x)" in str(err.value)


def test_format_spec_by_finite_differences_probes_the_black_box():
    """As for float(x)·x: fd-central evaluates f at x ± h, where the text is read afresh."""
    assert dk.grad(_formats, method="fd")(2.0)[0] == pytest.approx(4.0, rel=1e-7)


def test_format_spec_refused_by_hessian_jvp_and_vjp():
    for call in (lambda: dk.hessian(_formats)(2.0), lambda: dk.jvp(_formats, (2.0,), (1.0,)),
                 lambda: dk.vjp(_formats, 2.0, method="forward")[1](1.0)):
        with pytest.raises(TracingError, match="format spec"):
            call()


def test_format_spec_of_values_not_differentiated_still_formats():
    assert dk.function(_formats)(2.0) == 4.0 and dk.jit(_formats)(2.0) == 4.0
    # a constant copy formats: float(text)·a has derivative float(text) = a = 2 (by hand)
    g = lambda a: float(f"{dk.stop_gradient(a):.17g}") * a
    assert dk.grad(g)(2.0) == (2.0,)
    assert dk.grad(lambda x: x * len(f"{dk.stop_gradient(x):.1f}"))(10.0) == (4.0,)
    t = dk.tensor(np.float64(1.2345), requires_grad=True)  # the eager tape (level 0)
    assert f"{t:.2f}" == "1.23" and f"{t * 2.0:.3e}" == "2.469e+00"
    assert format(t, "") == str(t)

    def printed(x):  # an empty spec is str(), allowed on a traced value
        assert f"{x}".startswith("Tensor(")
        return x * x

    assert dk.grad(printed)(3.0) == (6.0,)


# ----- 2. a traced value of an ended trace returned ------------------------------------------
def _keeping(shape: str):
    keep: list = []

    def f(a):
        if not keep:
            keep.append(a * a)
        if shape == "bare":
            return keep[0]
        if shape == "tuple":
            return (a, keep[0])
        if shape == "list":
            return [2.0 * a, [keep[0]]]
        return a if a > 100.0 else keep[0]  # `x if cond else keep[0]`

    want = {"tuple": [[1.0], [6.0]], "list": [[2.0], [6.0]]}.get(shape, 6.0)
    assert np.allclose(dk.jacobian(f)(3.0), want)
    return f  # its first, traced call kept a*a of that trace


@pytest.mark.parametrize("shape", ["bare", "tuple", "list", "cond"])
@pytest.mark.parametrize("method", METHODS)
def test_returned_value_of_an_ended_trace_is_refused(method, shape):
    f = _keeping(shape)
    with pytest.raises(TracingError, match="trace that has ended") as err:
        dk.jacobian(f, method=method)(5.0)
    assert "outer derivative" not in str(err.value) and "enclosing" not in str(err.value)


@pytest.mark.parametrize("method", METHODS)
def test_escaped_value_refused_by_value_and_grad(method):
    f = _keeping("bare")
    with pytest.raises(TracingError, match="trace that has ended"):
        dk.value_and_grad(f, method=method)(5.0)


def test_escaped_value_refused_by_hessian_jvp_vjp_and_plain_calls():
    f = _keeping("bare")
    calls = (lambda: dk.hessian(f)(5.0), lambda: dk.jvp(f, (5.0,), (1.0,)),
             lambda: dk.vjp(f, 5.0), lambda: dk.vjp(f, 5.0, method="forward"),
             lambda: dk.function(f)(5.0), lambda: dk.jit(f)(5.0))
    for call in calls:
        with pytest.raises(TracingError, match="trace that has ended"):
            call()


def test_value_of_an_enclosing_trace_still_running_is_a_constant():
    """Nested: the inner function returns y² of the outer trace (open): d(y²)/dy = 2y = 4."""
    outer = lambda y: dk.value_and_grad(lambda x: y * y)(1.0)[0]
    assert dk.derivative(outer)(2.0) == pytest.approx(4.0, rel=1e-14)


# ----- 3. an index array differentiated by default -------------------------------------------
X = np.array([1.0, 2.0, 3.0])


@pytest.mark.parametrize("index", [np.array([0, 2]), np.array([True, False, True])])
@pytest.mark.parametrize("method", ["reverse", "forward", "symbolic", "fd", "auto"])
def test_vjp_with_an_index_argument_differentiated_names_it(method, index):
    f = lambda x, i: np.sum(x[i] ** 2)
    with pytest.raises(TracingError, match="argnums=0"):
        dk.vjp(f, X, index, method=method)
    out, pullback = dk.vjp(f, X, index, method=method, argnums=0)
    assert out == pytest.approx(10.0)
    assert np.allclose(pullback(1.0)[0], [2.0, 0.0, 6.0], rtol=1e-6, atol=1e-8)  # 2x where read


def test_black_box_vjp_by_finite_differences_still_answers():
    """A trace refused (float(x)) with an evaluation that works: fd probes the black box."""
    out, pullback = dk.vjp(lambda x: float(x) * x, 1.5, method="fd")
    assert out == 2.25 and pullback(1.0)[0] == pytest.approx(3.0, rel=1e-6)


# ----- 4. defaults that are no numbers ----------------------------------------------------------
def test_a_module_default_reaches_the_function_as_given():
    """d(Σx²)/dx = 2x; the module is no array (it has a dtype and a shape attribute: classes)."""
    f = dk.function(lambda x, np=np: np.sum(x**2))
    x = np.array([1.0, 2.0])
    assert f(x) == 5.0
    assert np.array_equal(dk.grad(f)(x)[0], 2 * x)
    assert np.array_equal(dk.jacobian(f)(x), [2 * x])
    with pytest.raises(InputTypeError, match="'np' is a module"):  # named in wrt=: no numbers
        dk.grad(lambda x, np=np: np.sum(x**2), wrt=[0, 1])(x, np)


def test_function_and_string_defaults_may_be_passed_another_value():
    """A callable or str default is held where it is left out and passed as given otherwise
    (JAX: jax.grad(f, argnums=0)(x, 'mean')): d tanh/dx = 1 − tanh², d sin/dx = cos."""
    def g(x, act=np.tanh, k=2.0):
        return act(x) * k

    def h(x, mode="sum"):
        return np.sum(x) if mode == "sum" else np.mean(x)

    t = np.tanh(0.5)
    assert dk.grad(g)(0.5) == pytest.approx((2.0 * (1 - t * t),), rel=1e-14)  # k held at 2
    assert dk.grad(g, argnums=0)(0.5, np.sin) == pytest.approx((2.0 * np.cos(0.5),), rel=1e-14)
    assert dk.grad(g, argnums=2)(0.5, np.sin, 3.0) == pytest.approx((np.sin(0.5),), rel=1e-14)
    assert np.array_equal(dk.grad(h, argnums=0)(np.ones(4), "mean")[0], np.full(4, 0.25))
    assert dk.function(h)(np.ones(4), "mean") == 1.0


# ----- 5. pow with a modulus -----------------------------------------------------------------
def test_pow_with_a_modulus_names_it():
    with pytest.raises(TypeError, match=r"pow\(\) with a modulus.*not defined"):
        dk.grad(lambda a: pow(a, 3, 5))(2.0)
    with pytest.raises(TypeError, match="modulus"):
        pow(dk.tensor(2.0, requires_grad=True), 3, 5)
    assert dk.grad(lambda a: pow(a, 3))(2.0) == (12.0,)  # 3a² at 2
