"""Bug hunt 2: the transformation API surface and its composition.

Every test asserts the RIGHT behaviour against an independent reference (hand formula, JAX x64,
PyTorch float64) and fails on the current code.
"""

import cmath
import math

import numpy as np
import pytest

import diffkit as dk
from diffkit.errors import DiffkitError, NumericOverflowError, ShapeError, TracingError


# A function that forgets `return` (returns None) gets a silent zero gradient and a NaN value
def test_function_returning_none_is_a_named_error_not_zero_gradient():
    def f(x, y):
        z = x**2 * dk.sin(y)  # noqa: F841 - forgot `return z`

    # hand: the user meant d(x^2 sin y) = (2x sin y, x^2 cos y); None has no derivative at all
    with pytest.raises(DiffkitError):
        dk.grad(f)(1.0, 2.0)
    with pytest.raises(DiffkitError):
        dk.value_and_grad(f, method="forward")(1.0, 2.0)  # currently (nan, (0.0, 0.0))


# Duplicate argnums: forward / finite differences (grad, jacobian) and forward/reverse/auto
# (hessian) silently put 0 in the first copy's slot
@pytest.mark.parametrize("kind,method", [
    ("grad", "forward"), ("grad", "fd"), ("grad", "fd-complex"),
    ("jacobian", "forward"), ("jacobian", "fd"),
    ("hessian", "reverse"), ("hessian", "forward"), ("hessian", "auto"),
])
def test_duplicate_argnums_give_right_numbers_or_named_error(kind, method):
    f = lambda x, y: x * x * y
    x, y = 1.0, 2.0
    # hand: df/dx = 2xy = 4, d2f/dx2 = 2y = 4
    # decision: a repeated input is refused by name (each engine seeds an input once)
    transform = {"grad": dk.grad, "jacobian": dk.jacobian, "hessian": dk.hessian}[kind]
    with pytest.raises(dk.ArityError, match="twice"):
        transform(f, method=method, argnums=(0, 0))(x, y)
    assert transform(f, method=method, argnums=(0, 1))(x, y) is not None


@pytest.mark.parametrize("bad", [1.0, True, None.__class__, "z"])
def test_argnums_that_name_no_input_are_refused(bad):
    with pytest.raises(dk.ArityError):
        dk.grad(lambda x, y: x * y, argnums=bad)(1.0, 2.0)


# fd-complex on float32 inputs refused analytic structural maps (sort, outer): the real
# neighbourhood it compares with was measured in float32 (~10 % rounding at its step)
@pytest.mark.parametrize("f,want", [
    (lambda x: dk.sum(dk.sort(x) ** 2), lambda x: 2 * x),
    (lambda x: dk.sum(dk.outer(x, x)), lambda x: 2 * np.full(3, x.sum())),
])
def test_fd_complex_float32_through_structural_maps(f, want):
    x = np.array([1.0, 2.0, 3.0], np.float32)
    (g,) = dk.grad(f, method="fd-complex")(x)
    assert g.dtype == np.float32
    np.testing.assert_allclose(g, want(x.astype(np.float64)), rtol=1e-5)  # hand formula


# symbolic engine runs a Python function twice per call: value and gradient come from different
# executions (a stateful function — data iterator, counter — gets an inconsistent pair)
def test_symbolic_value_and_grad_runs_the_function_once():
    calls = [0]

    def f(x):
        calls[0] += 1
        return calls[0] * x**2  # c * x^2: the c of THIS call

    value, (g,) = dk.value_and_grad(f, method="symbolic")(1.0)
    # hand: one execution with c; value = c, gradient = 2c (reverse/forward/auto do this)
    assert calls[0] == 1
    assert g == pytest.approx(2.0 * value)


# reverse/symbolic/compiled jvp do not check tangent shapes: tangents (3,), (1,) for inputs (2,),
# (2,) are concatenated and silently mixed across inputs (forward/fd raise ShapeError)
@pytest.mark.parametrize("method", ["reverse", "symbolic", "compiled"])
def test_jvp_misshapen_tangents_are_a_shape_error(method):
    f = lambda x, y: dk.sum(x * y)
    x, y = np.array([1.0, 2.0]), np.array([3.0, 4.0])
    with pytest.raises(ShapeError):
        dk.jvp(f, (x, y), (np.ones(3), np.ones(1)), method=method)  # currently (11.0, 10.0)


# forward/symbolic vjp accept a cotangent of the wrong shape with the right size: a (3,2)
# cotangent for a (2,3) output is silently reinterpreted (reverse/fd/auto raise ShapeError)
@pytest.mark.parametrize("method", ["forward", "symbolic"])
def test_vjp_transposed_cotangent_is_a_shape_error(method):
    x = np.arange(6.0).reshape(2, 3) + 1
    _, pullback = dk.vjp(lambda x: x**2, x, method=method)
    with pytest.raises(ShapeError):
        pullback(np.arange(6.0).reshape(3, 2))


# finite differences refuse a holomorphic function of a complex64 input (the Cauchy-Riemann
# check's 1e-5 tolerance is below float32 FD accuracy)
@pytest.mark.parametrize("method", ["fd", "fd-central", "fd-richardson"])
def test_fd_complex64_holomorphic_is_differentiated(method):
    z = np.complex64(1 + 2j)
    (g,) = dk.grad(lambda z: dk.sin(z) * dk.exp(z), method=method)(z)
    zz = complex(z)
    ref = cmath.cos(zz) * cmath.exp(zz) + cmath.sin(zz) * cmath.exp(zz)  # hand: (sin e^z)'
    assert abs(complex(g) - ref) <= 1e-2 * abs(ref)


# `y = np.zeros(3); y[0] = x` with a traced scalar x is a bare NumPy ValueError (the array case
# `y[:2] = x` is a TracingError naming the line)
def test_setitem_of_traced_scalar_into_numpy_array_is_tracing_error():
    def f(x):
        y = np.zeros(3)
        y[0] = x
        return dk.sum(y * y)

    with pytest.raises(TracingError):
        dk.grad(f)(1.5)


# an overflow no result shows: the interpreter names it, generated code gives JAX's number
# (docs/design.md, "Non-finite values"): never a wrong number on either path
def test_overflow_that_no_result_shows():
    f = dk.parse("x + exp(y)")
    with pytest.raises(NumericOverflowError):
        dk.grad(f, argnums=0)(1.0, 800.0)
    g = dk.grad(f, argnums=0)
    for _ in range(3):
        g(1.0, 2.0)
    try:
        got = g(1.0, 800.0)
    except NumericOverflowError:
        return
    assert got == (1.0,)  # JAX x64: jax.grad(lambda x, y: x + jnp.exp(y))(1.0, 800.0) == 1.0


# argnums given as a NumPy integer is a bare "'numpy.int64' object is not iterable" TypeError
def test_argnums_numpy_integer():
    # JAX x64: jax.grad(lambda x, y: x*y, argnums=np.int64(1))(1.0, 2.0) == 1.0
    assert dk.grad(lambda x, y: x * y, argnums=np.int64(1))(1.0, 2.0) == (1.0,)


# a function returning a dict or a generator gives a bare TypeError from float()
@pytest.mark.parametrize("out", [lambda x: {"a": x**2}, lambda x: (x**k for k in range(3))])
def test_non_array_output_is_a_named_error(out):
    with pytest.raises(DiffkitError):
        dk.grad(out)(1.5)


# round(x) on a traced value is a bare TypeError ("type Tensor doesn't define __round__"), unlike
# int(x)/float(x) which are TracingError naming the line
def test_round_of_traced_value_is_tracing_error():
    with pytest.raises(TracingError):
        dk.grad(lambda x: round(x) * x)(2.0)
    # a value not being differentiated may be read: round(3.4) = 3, so the gradient is 3
    assert dk.grad(lambda x, n: round(n) * x, argnums=0)(2.0, 3.4) == (3.0,)
    assert round(dk.tensor(2.567), 1) == 2.6  # the eager tape detaches, as .item() does



# dk.grad(dk.grad(f)) and dk.jacobian(dk.grad(f)) raised "functions with *args cannot be
# traced": what grad, jacobian, hessian and derivative return now carries f's input names
def test_derivatives_of_what_the_api_returns():
    assert dk.grad(dk.grad(dk.sin))(0.5)[0] == pytest.approx(-math.sin(0.5), rel=1e-15)
    x, y = 0.5, 2.0  # f = x³y: Hessian [[6xy, 3x²], [3x², 0]]
    np.testing.assert_allclose(dk.jacobian(dk.grad(lambda x, y: x**3 * y))(x, y),
                               [[6 * x * y, 3 * x * x], [3 * x * x, 0.0]], rtol=1e-15)
    assert dk.derivative(dk.derivative(lambda x: x**4))(2.0) == pytest.approx(48.0, rel=1e-15)
    assert dk.grad(dk.derivative(lambda x: x**4), method="forward")(2.0)[0] == pytest.approx(48.0)
    third = dk.jacobian(dk.hessian(lambda v: dk.sum(v**3)))(np.array([1.0, 2.0]))
    want = np.zeros((4, 2))  # rows: the Hessian's entries (flattened), columns: v
    want[0, 0], want[3, 1] = 6.0, 6.0  # ∂H₀₀/∂v₀ = 6, ∂H₁₁/∂v₁ = 6
    np.testing.assert_allclose(third, want, atol=1e-14)
    with pytest.raises(dk.ShapeError):  # (value, gradients) is not a scalar
        dk.grad(dk.value_and_grad(dk.sin))(0.5)


# method="symbolic" answered the first element's derivative for a vector-valued f (1.0 for
# [x, x², sin x] at 2): derivative needs one output in every method
@pytest.mark.parametrize("method", ["reverse", "forward", "symbolic"])
@pytest.mark.parametrize("n", [1, 2])
def test_derivative_of_a_vector_valued_function_is_refused(method, n):
    with pytest.raises(ShapeError, match="scalar output"):
        dk.derivative(lambda x: dk.stack([x, x**2, dk.sin(x)]), n, method=method)(2.0)


def test_an_argument_used_as_an_index_while_differentiated_names_argnums():
    """x[k] with k differentiated (every argument is, by default) is a TracingError that says k is
    an argument being differentiated and how to name the ones meant, not only "an index"."""
    def h(x, k):
        return x[k] ** 2

    with pytest.raises(dk.errors.TracingError, match=r"'k' is itself an argument.*argnums="):
        dk.grad(h)(np.arange(3.0), 1)


@pytest.mark.parametrize("where", ["traced", "eager"])
def test_item_assignment_on_a_tensor_is_a_named_error(where):
    """x[0] = v is not recorded: a TracedMutationError (also a TypeError) naming the functional
    forms, not Python's bare "does not support item assignment"."""
    def f(x):
        x[0] = 1.0
        return x.sum()

    with pytest.raises(dk.errors.TracedMutationError, match="index_add"):
        if where == "traced":
            dk.grad(f)(np.ones(3))
        else:
            f(dk.tensor([1.0, 2.0], requires_grad=True))


@pytest.mark.parametrize("method", ["reverse", "forward", "fd"])
def test_nan_in_data_that_is_not_differentiated(method) -> None:
    """Data holding NaN (what np.nansum is for) may be an input that is not differentiated: it
    was refused up front ("input 'd' is not finite"), also where it was cleaned before use.
    Where it meets a differentiated value the derivative is NaN (JAX and PyTorch answer NaN):
    a NonDifferentiableError naming the input. A differentiated input must still be finite."""
    w, d = np.array([1.0, 2.0, 3.0]), np.array([0.5, np.nan, 2.0])
    clean = dk.grad(lambda w, d: np.sum(w * np.where(np.isnan(d), 0.0, d)), wrt=0,
                    method=method)(w, d)
    np.testing.assert_allclose(clean[0], [0.5, 0.0, 2.0], rtol=1e-6)  # ∂/∂w Σ w·d₀ = d₀
    v = dk.value_and_grad(lambda w, d: np.nansum(w) + np.nanmean(d), wrt=0, method=method)(w, d)
    assert v[0] == pytest.approx(6.0 + 1.25)
    if method != "fd":  # fd sees the masked function: its answer, d with 0 at the NaN, is right
        with pytest.raises(dk.NonDifferentiableError, match="'d', not differentiated, hold NaN"):
            dk.grad(lambda w, d: np.nansum(w * d), wrt=0, method=method)(w, d)
    with pytest.raises(dk.DomainError, match="input 'w' .* is not finite"):
        dk.grad(lambda w, d: np.nansum(w * d), wrt=0, method=method)(d, w)
