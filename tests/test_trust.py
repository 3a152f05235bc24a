"""Never a silent wrong gradient: each reproduction from the trust issue, as a test that failed
before the fix, checked against an independent reference (a hand formula, NumPy, or finite
differences of plain NumPy code), for every method."""

from __future__ import annotations

import math
import os

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import diffkit as dk

METHODS = ("reverse", "forward", "symbolic", "fd", "compiled", "auto")
EXACT = ("reverse", "forward", "symbolic", "compiled", "auto")


def close(a, b, method, rtol=1e-12):
    np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-6 if method == "fd" else rtol,
                               atol=1e-8 if method == "fd" else 1e-13, err_msg=method)


# ----- 1. stale graphs: a Python function is traced at every call ------------------------------


@pytest.mark.parametrize("method", METHODS)
def test_a_function_reading_changing_state_is_traced_afresh(method):
    state = {"w": 2.0}
    g = dk.grad(dk.function(lambda x: x * state["w"]), method=method)
    for w in (2.0, 5.0, 9.0, -3.0, 9.0):  # also past the point where "reverse" used to compile
        state["w"] = w
        close(g(1.0)[0], w, method)


@pytest.mark.parametrize("method", METHODS)
def test_a_minibatch_loss_follows_its_batch(method):
    rng = np.random.default_rng(0)
    batch = {}
    loss = dk.function(lambda w: dk.mean((batch["X"] @ w - batch["y"]) ** 2))
    g = dk.grad(loss, method=method)
    w = rng.standard_normal(3)
    for _ in range(5):
        batch["X"], batch["y"] = rng.standard_normal((8, 3)), rng.standard_normal(8)
        expected = 2.0 / 8 * batch["X"].T @ (batch["X"] @ w - batch["y"])  # by hand
        close(g(w)[0], expected, method, rtol=1e-10)


@pytest.mark.parametrize("method", METHODS)
def test_a_branch_on_a_traced_value_is_taken_afresh(method):
    def f(x):
        if x > 1.0:
            return x**3
        return dk.sin(x)

    g = dk.grad(f, method=method)
    for x in (2.0, 0.5, 3.0, 0.2, 2.0):
        close(g(x)[0], 3 * x * x if x > 1 else math.cos(x), method)


@given(st.lists(st.floats(-3.0, 3.0), min_size=2, max_size=6), st.floats(0.3, 2.0))
def test_property_closed_over_state_mutated_between_calls(weights, x):
    """Every method against finite differences of the plain NumPy function, state changing."""
    state = {"a": 0.0, "b": 0.0}

    def f(x):
        return dk.sin(state["a"] * x) + state["b"] * x * x

    def numpy_derivative(x):
        return state["a"] * math.cos(state["a"] * x) + 2 * state["b"] * x

    grads = {m: dk.grad(f, method=m) for m in METHODS}
    for a, b in zip(weights, reversed(weights)):
        state["a"], state["b"] = a, b
        for m, g in grads.items():
            close(g(x)[0], numpy_derivative(x), m, rtol=1e-9)


def test_jit_freezes_what_it_does_not_take_as_arguments_as_documented():
    state = {"w": 2.0}
    g = dk.grad(dk.jit(lambda x: x * state["w"]))
    assert g(1.0) == (2.0,)
    state["w"] = 5.0
    assert g(1.0) == (2.0,)  # the contract: closures are constants of the first trace
    assert dk.grad(dk.jit(lambda x: x * state["w"]))(1.0) == (5.0,)  # a new jit sees the new state


def test_jit_traces_again_where_the_trace_branched():
    @dk.jit
    def f(x):
        if x > 0:
            return x**2
        return -(x**3)

    g = dk.grad(f)
    for _ in range(3):
        assert g(3.0) == (6.0,)
        assert g(-2.0) == (-12.0,)


def test_a_traced_value_kept_from_an_earlier_call_is_an_error():
    kept = []
    dk.grad(lambda x: kept.append(x) or x * x)(1.0)
    with pytest.raises(dk.TracingError, match="trace that has ended"):
        dk.grad(lambda y: y * kept[0])(2.0)


# ----- 2. no silent concretization ----------------------------------------------------------------


@pytest.mark.parametrize("body", [
    lambda x: x * math.sin(x),
    lambda x: float(x) * 2,
    lambda x: x * x.item(),
    lambda x: x * int(x),
    lambda x: x * complex(x).real,
    lambda x: x * np.asarray(x, dtype=float),
], ids=["math.sin", "float", "item", "int", "complex", "asarray-dtype"])
@pytest.mark.parametrize("method", ["reverse", "forward", "symbolic", "compiled"])
def test_reading_a_number_out_of_a_traced_value_is_a_named_error(body, method):
    with pytest.raises(dk.TracingError, match="test_trust.py") as info:
        dk.grad(dk.function(body), method=method)(2.0)
    assert "dk.sin or np.sin" in str(info.value)


@pytest.mark.parametrize("method", ["reverse", "forward", "symbolic", "compiled"])
def test_numpy_arrays_built_from_traced_values_keep_the_graph(method):
    """np.asarray(x) and np.array([...]) of traced values are tracked, not frozen."""
    x = np.array([1.0, 2.0, 3.0])
    g = dk.grad(lambda x: np.sum(np.asarray(x) * x), method=method)(x)[0]
    np.testing.assert_allclose(g, 2 * x)
    jac = dk.jacobian(lambda x: np.array([x[0] ** 2, 3.0 * x[1], np.sin(x[2])]), method=method)(x)
    np.testing.assert_allclose(jac, np.diag([2.0, 3.0, np.cos(3.0)]), atol=1e-15)


def test_a_constant_is_meant_explicitly_with_stop_gradient_or_detach():
    g = dk.grad(lambda x: x * dk.stop_gradient(x) + x * x.detach())(3.0)
    assert g == (6.0,)
    assert dk.grad(lambda x, n: x * int(n), wrt=0)(2.0, 3.0) == (3.0,)  # n is not differentiated


# ----- 3. operators with NumPy's meaning --------------------------------------------------------


def test_equality_operators_compare_values():
    x, y = np.array([1.0, 2.0, 3.0]), np.array([1.0, 5.0, 3.0])
    f = dk.function(lambda x, y: (np.sum(x != y), np.sum(x == y)))
    np.testing.assert_array_equal(f(x, y), [1.0, 2.0])
    g = dk.function(lambda x: dk.sum(dk.where(x == 2.0, x * x, x)))
    np.testing.assert_array_equal(dk.grad(g)(x)[0], [1.0, 4.0, 1.0])


@pytest.mark.parametrize("method", METHODS)
def test_np_dot_with_a_3d_operand_has_numpys_meaning(method):
    rng = np.random.default_rng(3)
    a, b = rng.standard_normal((2, 3)), rng.standard_normal((4, 3, 5))
    w = rng.standard_normal((2, 4, 5))
    np.testing.assert_allclose(dk.function(lambda a, b: np.dot(a, b))(a, b), np.dot(a, b))
    ga, gb = dk.grad(lambda a, b: dk.sum(np.dot(a, b) * w), method=method)(a, b)
    close(ga, np.einsum("ikm,kjm->ij", w, b), method, rtol=1e-10)  # by hand
    close(gb, np.einsum("ikm,ij->kjm", w, a), method, rtol=1e-10)


@pytest.mark.parametrize("method", EXACT)
def test_mixed_integer_slice_and_array_index(method):
    x = np.arange(24.0).reshape(2, 3, 4)
    f = dk.function(lambda x: x[1, 1:, [0, 1]])
    np.testing.assert_array_equal(f(x), x[1, 1:, [0, 1]])
    expected = np.zeros((4, 24))  # one row per output element: d out / d x is a selection
    for row, flat in enumerate(np.arange(24).reshape(2, 3, 4)[1, 1:, [0, 1]].reshape(-1)):
        expected[row, flat] = 1.0
    np.testing.assert_array_equal(dk.jacobian(f, method=method)(x), expected)


# ----- 4. dtypes ----------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [np.float32, np.float16, np.float64])
@pytest.mark.parametrize("method", METHODS)
def test_gradients_have_the_inputs_dtype_on_every_call(method, dtype):
    f = dk.function(lambda x: dk.sum(x * x))
    g = dk.grad(f, method=method)
    x = np.array([0.5, 1.0, 1.5], dtype=dtype)
    for _ in range(4):
        out = g(x)[0]
        assert out.dtype == dtype
        np.testing.assert_allclose(out, 2 * x.astype(float), rtol=1e-2 if dtype == np.float16 else 1e-5)
    assert type(dk.grad("x*x", method=method)(np.float32(2.0))[0]) is np.float32
    assert type(dk.grad("x*x", method=method)(2.0)[0]) is float


@pytest.mark.parametrize("method", ["reverse", "forward", "symbolic", "fd"])
def test_integer_inputs_promote_to_float64(method):
    (g,) = dk.grad(dk.function(lambda x: dk.sum(x * x)), method=method)(np.array([1, 2, 3]))
    assert g.dtype == np.float64
    close(g, [2.0, 4.0, 6.0], method)


# ----- 5. complex numbers: JAX's convention, every engine agrees or refuses by name -----------------


@pytest.mark.parametrize("method", METHODS)
def test_holomorphic_functions_give_the_complex_derivative(method):
    z = 1.0 + 2.0j
    close(dk.grad("x*x", method=method)(z)[0], 2 * z, method)
    close(dk.grad(lambda z: dk.sin(z) * dk.exp(z), method=method)(z)[0],
          np.cos(z) * np.exp(z) + np.sin(z) * np.exp(z), method)


def test_imaginary_constants_are_kept_by_every_engine():
    import sympy as sp

    x = sp.Symbol("x")
    f = dk.from_sympy(sp.I * x**2)
    for method in METHODS:
        close(dk.grad(f, method=method)(1.5 + 0.5j)[0], 2j * (1.5 + 0.5j), method)


@pytest.mark.parametrize("method", ["reverse", "forward", "fd", "auto"])
def test_real_valued_functions_of_complex_inputs(method):
    """∂u/∂x − i·∂u/∂y (JAX): |z| → conj(z)/|z|, |z|² → 2·conj(z)."""
    z = 3.0 + 4.0j
    close(dk.grad(dk.abs, method=method)(z)[0], np.conj(z) / 5.0, method)
    close(dk.grad(lambda z: dk.real(z * dk.conj(z)), method=method)(z)[0], 2 * np.conj(z), method)
    close(dk.grad(lambda z: dk.imag(z) ** 2, method=method)(z)[0], -2j * z.imag, method)


def test_the_engines_that_cannot_follow_the_convention_refuse_by_name():
    with pytest.raises(dk.MissingRuleError, match="holomorphic"):
        dk.grad(dk.abs, method="symbolic")(3 + 4j)
    with pytest.raises(dk.MissingRuleError, match="real inputs"):
        dk.grad("x*x", method="fd-complex")(1 + 1j)
    for method in ("reverse", "forward", "fd"):
        with pytest.raises(dk.MissingRuleError, match="holomorphic"):
            dk.grad(dk.conj, method=method)(1 + 2j)  # complex-valued and not holomorphic


@pytest.mark.parametrize("method", ["reverse", "forward", "fd"])
def test_complex_intermediates_of_a_real_function(method):
    close(dk.grad(lambda x: dk.real(dk.exp(1j * x)), method=method)(0.7)[0], -math.sin(0.7), method)


# ----- 6. numerics: overflow, removable points, clamps --------------------------------------------


@pytest.mark.parametrize("method", ["reverse", "forward", "symbolic", "compiled"])
def test_overflow_is_a_named_error_on_every_call(method):
    g = dk.grad("sqrt(x*x)", method=method)
    with pytest.raises(dk.NumericOverflowError):
        g(1e200)
    h = dk.grad("exp(x)", method=method)
    for _ in range(4):
        with pytest.raises(dk.NumericOverflowError, match="exp"):
            h(710.0)


@pytest.mark.parametrize("method", EXACT + ("fd",))
def test_a_zero_derivative_is_zero_not_an_error(method):
    assert dk.grad("x**0", method=method)(0.0) == (0.0,)
    assert dk.grad("relu(x)**0.5", method=method)(-1.0) == (0.0,)
    if method != "fd":
        assert dk.derivative("x**2", n=3, method=method)(0.0) == 0.0
        assert dk.derivative("x**2", n=2, method=method)(0.0) == 2.0


def test_an_infinite_derivative_is_still_named():
    for method in EXACT:
        with pytest.raises(dk.NonDifferentiableError):
            dk.grad("sqrt(x)", method=method)(0.0)


def test_derivative_of_any_order_with_auto():
    assert dk.derivative("x**3", n=3, method="auto")(1.0) == 6.0
    assert dk.derivative(lambda x: dk.sin(x), n=2, method="auto")(0.5) == pytest.approx(-math.sin(0.5))


@pytest.mark.parametrize("method", EXACT + ("fd",))
def test_binary_cross_entropy_near_the_clamp_and_outside_its_domain(method):
    p = 1e-13 if method != "fd" else 1e-3  # fd steps outside [0, 1] so near 0: said by name below
    # d/dp [−log(1 − p)] = 1/(1 − p) ≈ 1 (the old rule divided by max(p(1−p), 1e-12): 0.1)
    close(dk.grad(lambda p: dk.binary_cross_entropy(p, 0.0), method=method)(p)[0], 1 / (1 - p),
          method, rtol=1e-9)
    if method == "fd":
        with pytest.raises(dk.DomainError, match="stepped outside the domain"):
            dk.grad(lambda p: dk.binary_cross_entropy(p, 0.0), method=method)(1e-13)
    for bad in (-0.2, 1.5):
        with pytest.raises(dk.DomainError, match="0 <= p <= 1"):
            dk.grad(lambda p: dk.binary_cross_entropy(p, 1.0), method=method)(bad)


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), np.array([1.0, np.nan])])
def test_non_finite_inputs_are_refused_by_name(bad):
    for call in (dk.grad("x*x"), dk.jacobian("x*x"), dk.grad("x*x", method="fd")):
        with pytest.raises(dk.DomainError, match="'x'.*not finite"):
            call(bad)


# ----- 7. nothing a user supplies becomes code ----------------------------------------------------

PWNED = "/tmp/diffkit-pwned"
HOSTILE = [f'y\nimport os; os.system("touch {PWNED}")\n#', "__class__", "1x", "a-b", "for",
           f"x'); open('{PWNED}', 'w'); ('", ""]


@pytest.fixture
def no_pwned():
    if os.path.exists(PWNED):
        os.remove(PWNED)
    yield
    assert not os.path.exists(PWNED)


@pytest.mark.parametrize("name", HOSTILE)
def test_hostile_input_names_are_refused_at_every_front_door(name, no_pwned):
    import sympy as sp

    with pytest.raises(dk.DiffkitError):
        dk.parse("x*x", inputs=["x", name])
    with pytest.raises(dk.DiffkitError):
        dk.function(lambda x, y: x * y, inputs=["x", name])
    with pytest.raises(dk.DiffkitError):
        dk.jit(lambda x, y: x * y, inputs=["x", name])
    if name:
        with pytest.raises(dk.DiffkitError):
            dk.from_sympy(sp.Symbol("x") * sp.Symbol(name))


@pytest.mark.parametrize("name", HOSTILE)
def test_a_hostile_function_name_never_reaches_generated_code(name, no_pwned):
    f = dk.Function(lambda x: dk.sin(x) * x, ["x"], name=name)
    cg = dk.compile_gradient(f, 2.0)
    assert cg.grad(2.0)[0] == pytest.approx(math.cos(2.0) * 2.0 + math.sin(2.0))
    code_lines = [ln for ln in cg.source.splitlines() if not ln.startswith("ABOUT = ")]
    assert all(name not in ln for ln in code_lines) or not name
    deriv = dk.symbolic(f, 2.0)
    assert name not in deriv.source or not name
    for method in METHODS:
        dk.grad(f, method=method)(2.0)
    dk.trace(f, 2.0).to_text()
    assert "digraph" in dk.draw(f, 2.0).source


def test_finite_differences_treat_any_python_function_as_a_black_box():
    """fd never traces: math.*, float() and Python control flow are fine there."""
    g = dk.grad(lambda x: x * math.sin(float(x)), method="fd")(2.0)[0]
    assert g == pytest.approx(math.sin(2.0) + 2.0 * math.cos(2.0), rel=1e-9)


def test_a_python_list_operand_is_an_array_as_in_numpy() -> None:
    """t * [1.0, 3.0] failed in the reverse sweep (list times a float) before lists were arrays."""
    f = dk.function(lambda t: dk.sum(t * [1.0, 3.0] + (2.0, -1.0) * t * t))
    x = np.array([1.5, -2.0])
    want = np.array([1.0, 3.0]) + 2 * np.array([2.0, -1.0]) * x  # by hand
    for method in ("reverse", "forward", "symbolic", "fd"):
        np.testing.assert_allclose(dk.grad(f, method=method)(x)[0], want, rtol=1e-9)


def test_an_empty_output_has_an_empty_jacobian_in_every_engine() -> None:
    """The symbolic engine generated `return (,)` for a function with no output elements."""
    f = dk.function(lambda x: x[:0] * 2.0)
    for method in ("reverse", "forward", "symbolic", "fd"):
        assert dk.jacobian(f, method=method)(np.array([1.0, 2.0])).shape == (0, 2)


def test_tanh_derivative_of_a_complex_number_is_sech_squared() -> None:
    """tanh′ used exp(−2|z|), the modulus of z: 0.786 instead of 0.8995−0.2144j at 0.4+0.3j."""
    import mpmath

    z = np.array([0.4 + 0.3j, -1.5 + 2.0j, 20.0 - 0.5j])
    want = np.array([complex(mpmath.sech(mpmath.mpc(v.real, v.imag)) ** 2) for v in z])
    for method in ("reverse", "forward"):
        J = dk.jacobian(dk.function(lambda z: dk.tanh(z)), method=method)(z)
        np.testing.assert_allclose(np.diag(J), want, rtol=1e-13, atol=1e-300)
    # tanh″ = −2 tanh sech²: the rule's sign of Re z feeds only constants, so it stays holomorphic
    z0 = mpmath.mpc(0.4, 0.3)
    second = complex(-2 * mpmath.tanh(z0) * mpmath.sech(z0) ** 2)
    for method in ("reverse", "forward"):
        assert dk.derivative(dk.tanh, n=2, method=method)(0.4 + 0.3j) == pytest.approx(second,
                                                                                      rel=1e-13)


def test_max_of_complex_numbers_differentiates_the_selected_element() -> None:
    """np.max on complex arrays spread the gradient over every element (sign(z) = z/|z|). NumPy
    orders complex numbers lexicographically; near the point the max is the selected element, so
    its derivative is that element's (JAX's convention: the pullback of Re(c·z) is conj-free c)."""
    c = 1.0 + 2.0j
    f = dk.function(lambda z: dk.real(np.max(z) * c) + dk.real(np.min(z)))
    z = np.array([1.0 + 1.0j, 2.0 + 0.5j, 0.5 - 3.0j])
    want = np.array([0.0, c, 1.0])  # max is z[1], min is z[2] (by real part)
    for method in ("reverse", "forward", "fd"):
        np.testing.assert_allclose(dk.grad(f, method=method)(z)[0], want, atol=1e-9)


MIXED = {  # float32 array x, float64 scalar y: NumPy computes these in float64
    "x + exp(y)": (lambda x, y: dk.sum(x + dk.exp(y)),
                   lambda x, y: (np.ones_like(x), len(x) * np.exp(y))),
    "x + y*2": (lambda x, y: dk.sum(x + y * 2.0), lambda x, y: (np.ones_like(x), 2.0 * len(x))),
    "x * (exp(y)*2)": (lambda x, y: dk.sum(x * (dk.exp(y) * 2.0)),
                       lambda x, y: (np.full_like(x, 2 * np.exp(y)), 2 * np.exp(y) * x.sum())),
    "(x+e^y)-e^y-x": (lambda x, y: 1e6 * dk.sum((x + dk.exp(y)) - dk.exp(y) - x),
                      lambda x, y: (np.zeros_like(x), 0.0)),
}


@pytest.mark.parametrize("name", sorted(MIXED))
@pytest.mark.parametrize("method", ["reverse", "forward", "compiled", "auto"])
def test_scalars_traced_from_float64_inputs_promote_as_numpy_float64s(name, method) -> None:
    """A float64 scalar argument and what is computed from it are NumPy float64s in NumPy's
    promotion (strong): with a float32 array the result is float64. Traced scalar code ran on
    Python floats (weak), so the traced value was float32 where the plain call's is float64
    (0.0 against −0.29 after a cancellation), and the float64 input's gradient had float32
    precision. Values against the plain call and NumPy float64 arithmetic; gradients against
    hand formulas evaluated in float64. (A Python float being differentiated is such a float64;
    held, as in a plain call, it stays weak — tests/test_weak_python_scalars42.py — so the plain
    call takes the np.float64.)"""
    body, hand = MIXED[name]
    x = np.array([0.1, 0.2, 0.7], np.float32)
    y = 2.0
    f = dk.jit(body) if method == "compiled" else dk.function(body)
    plain = f(x, np.float64(y))
    xs = x.astype(np.float64)  # what NumPy computes in: float32 values, float64 arithmetic
    assert np.result_type(plain) == np.float64
    vg = dk.value_and_grad(f, method=method)
    for _ in range(3):  # interpreted, then (compiled, auto) generated code
        value, (gx, gy) = vg(x, y)
        assert value == plain, (value, plain)
        hx, hy = hand(xs, y)
        assert gx.dtype == np.float32 and type(gy) is float
        np.testing.assert_allclose(gx, hx.astype(np.float32), rtol=1e-7, atol=0)
        assert gy == pytest.approx(hy, rel=1e-14, abs=1e-9)


@pytest.mark.parametrize("method", ["forward", "reverse"])
@pytest.mark.parametrize("n", [2, 3])
def test_a_higher_derivative_at_a_singular_point_names_the_operation(method, n) -> None:
    """relu(x)**0.5 at −1: the second and third derivatives meet pow's infinite partial at 0.
    The third one's NonDifferentiableError failed while writing its own message (it formatted
    the outer trace's values with float()) and surfaced as a TracingError blaming the user's
    line; both orders now name pow and the point."""
    f = dk.function(lambda x: dk.relu(x) ** 0.5)
    assert dk.derivative(f, n=1, method=method)(-1.0) == 0.0  # f = 0 near −1
    with pytest.raises(dk.NonDifferentiableError, match=r"pow is not differentiable at 0, 0\.5"):
        dk.derivative(f, n=n, method=method)(-1.0)
