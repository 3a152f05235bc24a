"""What the public calls take and give back, the same in every method (ninth hunt, h9d).

References are hand formulas: d²(x³)/dx² = 6x; the VJP of x² is 2x·ct.
"""
from __future__ import annotations

import functools
import inspect

import numpy as np
import pytest

import diffkit as dk

METHODS = ["reverse", "forward", "symbolic", "compiled", "fd", "fd-central", "fd-complex"]


@pytest.mark.parametrize("method", METHODS)
def test_vjp_complex_cotangent_for_a_real_output_is_refused(method):
    """A complex cotangent for a real output was silently projected: the pullback of x² with
    ct = 1j·[1, 1] gave [0, 0] in every method (JAX refuses it; a user meaning the holomorphic
    extension, 2j·x, got 0)."""
    _, pullback = dk.vjp(lambda x: x**2, np.array([1.0, 2.0]), method=method)
    with pytest.raises(dk.ShapeError, match="complex cotangent"):
        pullback(1j * np.ones(2))
    np.testing.assert_allclose(pullback(np.array([1.0, 3.0]))[0], [2.0, 12.0])


def test_vjp_complex_cotangent_for_a_complex_output_is_taken():
    """The refusal is for real outputs only: z² at complex z takes a complex cotangent
    (JAX's convention: ct·f'(z) for a holomorphic f, so 1j·2z)."""
    z = np.array([1.0 + 1.0j, 2.0])
    _, pullback = dk.vjp(lambda z: z**2, z)
    np.testing.assert_allclose(pullback(1j * np.ones(2))[0], 1j * 2 * z)


@pytest.mark.parametrize("method", ["reverse", "forward", "symbolic", "compiled", "fd"])
def test_derivative_of_a_one_element_output_at_a_float_is_a_float(method):
    """fd's derivative of (x³,) at the Python float 2 was array([12.]) where the other methods
    gave 12.0: the result has the input's form in every method."""
    d = dk.derivative(lambda x: (x**3,), n=2, method=method)(2.0)
    assert type(d) is float
    assert d == pytest.approx(12.0, rel=1e-5)


@pytest.mark.parametrize("method", ["reverse", "forward", "symbolic", "compiled"])
def test_derivative_at_a_list_has_the_lists_shape(method):
    """symbolic's derivative of sum(x³) at the list [2.0] was a 0-d array where the others gave
    shape (1,): a list's form is its array's."""
    d = dk.derivative(lambda x: np.sum(x**3), n=2, method=method)([2.0])
    assert np.shape(d) == (1,)
    np.testing.assert_allclose(d, [12.0], rtol=1e-6)


@pytest.mark.parametrize("make", [dk.grad, dk.value_and_grad, dk.jacobian, dk.hessian])
def test_a_derivative_called_with_keywords_is_a_named_arity_error(make):
    """dk.grad(f)(x=2.0, y=3.0) was a bare TypeError naming internals ('GradientFunction.__call__()
    got an unexpected keyword argument', for jacobian/hessian 'run()'): a derivative takes its
    inputs positionally (its signature says so), and the error names the order."""
    g = make(lambda x, y: x**2 * y)
    with pytest.raises(dk.ArityError, match=r"positionally, in the order \(x, y\)"):
        g(x=2.0, y=3.0)
    assert inspect.signature(g).parameters["x"].kind is inspect.Parameter.POSITIONAL_ONLY


def test_derivative_called_with_a_keyword_is_a_named_arity_error():
    with pytest.raises(dk.ArityError, match=r"positionally, in the order \(t\)"):
        dk.derivative(lambda t: t**2)(t=2.0)
    assert dk.derivative(lambda t: t**2)(2.0) == 4.0


def test_a_wraps_decorator_that_fixes_an_argument_has_its_own_inputs():
    """A functools.wraps wrapper taking one argument was read with the wrapped function's two
    inputs (inspect follows __wrapped__): 'ArityError: f takes 2 input(s) (x, y), got 1'. The
    wrapper's own parameters are its inputs; g(x) = 3x² + sin 3, g′(2) = 12."""
    def f(x, y):
        return x**2 * y + np.sin(y)

    def fix_y(fn):
        @functools.wraps(fn)
        def wrapper(x):
            return fn(x, 3.0)
        return wrapper

    for method in ["reverse", "forward", "symbolic", "fd-central"]:
        (g,) = dk.grad(fix_y(f), method=method)(2.0)
        assert g == pytest.approx(12.0, rel=1e-7)


def test_a_forwarding_wraps_decorator_keeps_the_wrapped_inputs():
    """A wrapper that only forwards *args, **kwargs still takes the wrapped function's inputs."""
    def f(x, y):
        return x**2 * y

    def logged(fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            return fn(*args, **kwargs)
        return wrapper

    assert dk.grad(logged(f))(2.0, 3.0) == (12.0, 4.0)


def test_a_function_called_with_keywords_binds_them_by_name():
    """`@dk.function def f(x, y)` called as f(x=2.0, y=3.0) was a bare TypeError (decorating
    changed how the function can be called); keywords bind by input name, as Python's call."""
    @dk.function
    def f(x, y):
        return x**2 * y

    assert f(x=2.0, y=3.0) == f(2.0, y=3.0) == 12.0
    assert dk.jit(lambda a, b: a - b)(b=2.0, a=3.0) == 1.0
    with pytest.raises(dk.ArityError, match="given twice"):
        f(2.0, x=1.0)
    with pytest.raises(dk.ArityError, match="'y' not given"):
        f(x=2.0)
    with pytest.raises(dk.ArityError, match="no input 'z'"):
        f(2.0, z=1.0)


@pytest.mark.parametrize("method", ["reverse", "forward", "symbolic", "fd", "auto"])
def test_required_keyword_only_parameters_are_inputs_after_the_positional_ones(method):
    """functools.partial(f, y=2.0) makes z keyword-only, and `def g(x, *, k)` declares one:
    the derivative saw x alone, so g raised Python's "missing 1 required keyword-only
    argument" and the partial an ArityError for (x, z). Now they are inputs, in the
    function's order, passed by keyword; one with a default stays a default. Hand values:
    ∂(x·y·z)/∂(x, z) = (y·z, x·y); ∂(x·k·m)/∂(x, k) = (k·m, x·m)."""
    def f(x, y, z):
        return x * y * z

    def g(x, *, k, m=5.0):
        return x * k * m

    p = functools.partial(f, y=2.0)
    assert dk.function(p).inputs == ("x", "z") and dk.function(g).inputs == ("x", "k")
    np.testing.assert_allclose(dk.grad(p, method=method)(1.5, 3.0), (6.0, 3.0), rtol=1e-6)
    np.testing.assert_allclose(dk.grad(g, method=method)(1.5, 3.0), (15.0, 7.5), rtol=1e-6)
    np.testing.assert_allclose(dk.grad(dk.jit(p), method=method)(1.5, 3.0), (6.0, 3.0),
                               rtol=1e-6)
    with pytest.raises(dk.ArityError, match=r"2 input\(s\) \(x, k\), got 1"):
        dk.grad(g, method=method)(1.5)

    @functools.wraps(g)
    def fixed(x):  # a wrapper that fixes k has its own inputs (its first version took g's)
        return g(x, k=3.0)

    @functools.wraps(g)
    def forwarding(*args, **keywords):  # one that forwards has g's
        return g(*args, **keywords)

    assert dk.function(fixed).inputs == ("x",) and dk.function(forwarding).inputs == ("x", "k")
    np.testing.assert_allclose(dk.grad(fixed, method=method)(1.5), (15.0,), rtol=1e-6)
    np.testing.assert_allclose(dk.grad(forwarding, method=method)(1.5, 3.0), (15.0, 7.5),
                               rtol=1e-6)


def test_function_and_jit_take_math_text_as_every_transformation_does() -> None:
    """dk.function("x^2+y") said "pass inputs=[...]", and with inputs it failed at call time
    with a bare "'str' object is not callable": text is parsed (never evaluated), as dk.grad
    parses it; something that is no function is an InputTypeError at once."""
    f = dk.function("x^2*y")
    assert f.inputs == ("x", "y") and dk.grad(f)(3.0, 2.0) == (12.0, 9.0)  # by hand: 2xy, x²
    assert dk.function("x^2*y", inputs=["y", "x"])(2.0, 3.0) == 18.0
    assert dk.grad(dk.jit("x^2*y"))(3.0, 2.0) == (12.0, 9.0)
    for make in (dk.function, dk.jit):
        with pytest.raises(dk.InputTypeError, match="a int is no function"):
            make(3)
