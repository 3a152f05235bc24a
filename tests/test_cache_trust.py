"""Caches, replays and generated code against tracing afresh (6th bug hunt, h6_1): each test
failed before its fix. References: plain NumPy, hand formulas and central differences."""

import warnings

import numpy as np
import pytest

import diffkit as dk

X = np.array([0.3, 0.6, 0.9])
Y = np.array([0.2, 0.5, 0.7])


# ---- generated code wrote into the caller's array: np.real of a real array IS the array, and
# the compiler took it for a buffer it had allocated (then `v1 += a1` wrote into x) ------------

def test_jit_call_with_real_does_not_mutate_input_and_is_right():
    f = dk.jit(lambda x, y: np.sum((np.real(x) + y) * y))
    x = X.copy()
    for _ in range(3):
        got = f(x, Y)
        assert np.array_equal(x, X), f"dk.jit call overwrote its input x: {x}"
        assert got == pytest.approx(float(np.sum((X + Y) * Y)), rel=1e-12)  # NumPy: 1.77


def test_compiled_grad_with_real_is_right_and_does_not_alias_input():
    g = dk.grad(dk.jit(lambda x, y: np.sum((np.real(x) + y) * y)))
    x = X.copy()
    for _ in range(3):
        gx, gy = g(x, Y)
        np.testing.assert_allclose(gx, Y, rtol=1e-12)  # hand: d/dx = y, d/dy = x + 2y
        np.testing.assert_allclose(gy, X + 2 * Y, rtol=1e-12)
        assert np.array_equal(x, X), f"compiled gradient overwrote its input x: {x}"
        assert not np.shares_memory(gy, x)


def test_parsed_real_jit_array_call_is_right():
    f = dk.jit(dk.parse("(real(x) + y)*y*x"))
    x = X.copy()
    for _ in range(2):
        np.testing.assert_allclose(f(x, Y), (X + Y) * Y * X, rtol=1e-12)
        assert np.array_equal(x, X)


def test_default_grad_of_parsed_function_third_call_is_right():
    """dk.grad of a parsed function compiles at its 3rd call for a signature."""
    g = dk.grad(dk.parse("sum((real(x) + y)*y)"))
    x = X.copy()
    for _ in range(5):
        gx, gy = g(x, Y)
        np.testing.assert_allclose(gx, Y, rtol=1e-12)
        np.testing.assert_allclose(gy, X + 2 * Y, rtol=1e-12)
        assert np.array_equal(x, X)


@pytest.mark.parametrize("view", [
    lambda x: np.real(x),
    lambda x: np.reshape(x, (3, 1))[:, 0],
    lambda x: x[::1],
    lambda x: np.squeeze(x[None]),
    lambda x: dk.stop_gradient(np.real(x)),
], ids=["real", "reshape", "slice", "squeeze", "stop_gradient"])
def test_compiled_gradient_that_is_a_view_of_an_input_is_a_copy(view):
    """A gradient that is (a view of) an input — d/dy of sum(view(x)·y) — must not be handed
    out as that view: writing into the answer would change the caller's x (design.md:
    gradients are never views of the caller's arrays)."""
    g = dk.grad(dk.jit(lambda x, y: np.sum(view(x) * y)), wrt=[1])
    x = X.copy()
    for _ in range(3):
        (gy,) = g(x, Y)
        np.testing.assert_array_equal(gy, X)  # hand: d/dy = x
        assert not np.shares_memory(gy, x)
        gy[:] = 0.0
        assert np.array_equal(x, X)


# ---- the simplifier's x + 0 → x and x·1 → x dropped NumPy's promotion of float32 x ------------

def test_jit_zero_bias_keeps_float64_promotion():
    b = np.zeros(3)  # a float64 bias, still zero (a frozen constant: jit's contract)

    def f(x):
        return np.sum(np.sin(x + b))

    jf = dk.jit(f)
    jf(np.zeros(3, np.float32))  # first trace (and compile) at a point where float32 is exact
    x = np.array([0.1, 0.2, 0.3], np.float32)
    want = f(x)  # plain NumPy: float32 + float64 array -> float64 arithmetic
    got = jf(x)
    assert np.asarray(got).dtype == np.float64, f"{got!r} is not float64 (NumPy: {want!r})"
    assert abs(float(got) - float(want)) <= 1e-14 * abs(float(want))


def test_jit_value_and_grad_times_float64_one_keeps_promotion():
    def f(x):
        return np.sum(np.sin(x * np.float64(1.0)))  # NumPy 2: float32 * float64 scalar -> float64

    vg = dk.value_and_grad(dk.jit(f))
    vg(np.zeros(3, np.float32))
    x = np.array([0.1, 0.2, 0.3], np.float32)
    v, (g,) = vg(x)
    xd = x.astype(np.float64)
    assert abs(float(v) - float(np.sum(np.sin(xd)))) <= 1e-14
    np.testing.assert_allclose(g, np.cos(xd), rtol=1e-6)  # the input's dtype: float32
    assert g.dtype == np.float32


# ---- CompiledGradient checked the shapes it was generated for, not the dtypes -----------------

def test_compiled_gradient_float32_code_refuses_a_float64_point():
    cg = dk.compile_gradient("sin(x)*0.1 + x*x/3", np.float32(0.5))
    with pytest.raises(dk.errors.TracingError, match="dtypes"):
        cg.grad(0.7)  # was 0.5431508885216407: float32 constants (exact 0.5431508853951155)
    x = 0.7  # compiled for float64 it is the hand formula
    (d,) = dk.compile_gradient("sin(x)*0.1 + x*x/3", x).grad(x)
    assert abs(d - (np.cos(x) * 0.1 + 2 * x / 3)) <= 1e-15


def test_compiled_gradient_float32_array_code_refuses_a_float64_array():
    f = dk.jit(lambda x: dk.sum(dk.sin(x) * 0.1 + x * x / 3))
    cg = dk.compile_gradient(f, np.zeros(3, np.float32))
    x = np.array([0.7, 0.1, 0.2])
    with pytest.raises(dk.errors.TracingError, match="dtypes"):
        cg.grad(x)
    (g,) = dk.compile_gradient(f, x).grad(x)
    assert g.dtype == np.float64
    np.testing.assert_allclose(g, np.cos(x) * 0.1 + 2 * x / 3, rtol=1e-14)


# ---- ndarray subclasses passed through as_input: masked semantics in values, not gradients -----

@pytest.mark.parametrize("method", ["reverse", "forward", "fd-central", "symbolic", "auto"])
def test_masked_array_is_refused_by_name(method):
    m = np.ma.array([1.0, 2.0, 3.0], mask=[False, True, False])
    # was (10.0, [2, 2, 6]) or (10.0, [2, 4, 6]): NumPy's value 10 has differences [2, 0, 6]
    with pytest.raises(dk.errors.TracingError, match="MaskedArray"):
        dk.value_and_grad(lambda x: np.sum(x * x), method=method)(m)


@pytest.mark.filterwarnings("ignore::PendingDeprecationWarning")
@pytest.mark.parametrize("method", ["reverse", "fd-central"])
def test_matrix_is_refused_by_name(method):
    A = np.matrix([[1.0, 2.0], [3.0, 4.0]])
    B = np.matrix([[0.5, -1.0], [2.0, 0.25]])
    # np.matrix's * is the matrix product: fd answered 11.5 with the elementwise gradient B,
    # reverse a bare TypeError (matrix.sum() got an unexpected keyword 'keepdims')
    with pytest.raises(dk.errors.TracingError, match="matrix"):
        dk.value_and_grad(lambda x, y: np.sum(x * y), method=method)(A, B)


def test_memmap_is_read_as_a_plain_array(tmp_path):
    mm = np.memmap(tmp_path / "x.dat", dtype=float, mode="w+", shape=(3,))
    mm[:] = [1.0, 2.0, 3.0]
    v, (g,) = dk.value_and_grad(lambda x: np.sum(x * x))(mm)
    assert v == 14.0 and type(g) is np.ndarray
    np.testing.assert_array_equal(g, [2.0, 4.0, 6.0])  # hand: 2x


# ---- str()/repr() of a traced value read its number without marking the trace ------------------

@pytest.mark.parametrize("read", [str, repr, lambda x: f"{x}"], ids=["str", "repr", "format"])
def test_jit_branch_on_text_of_traced_value_is_retraced(read):
    """design.md: a number read out of a traced value makes the trace valid at its point only."""
    jf = dk.jit(lambda x: x * 2.0 if "-" not in read(x) else x * 3.0, inputs=["x"])
    g = dk.grad(jf)
    for _ in range(3):
        assert g(0.5) == (2.0,)
        assert jf(0.5) == 1.0
    assert g(-0.7) == (3.0,)  # hand: the x*3 branch (was 2.0, the first trace's branch)
    assert jf(-0.7) == pytest.approx(-2.1)


# ---- a jit function's call and its compiled gradient froze closures at different traces -------

_C = {"c": 1.0}


def test_jit_value_and_grad_use_the_same_frozen_trace_as_the_call():
    """design.md: values a jit function does not take are constants frozen at its first trace
    for each signature — one trace, shared by its call and its compiled gradients."""
    _C["c"] = 1.0
    f = dk.jit(lambda x: _C["c"] * x * x)
    assert f(3.0) == 9.0  # the first trace at this signature: c = 1
    _C["c"] = 2.0
    assert dk.value_and_grad(f)(3.0) == (9.0, (6.0,))  # hand: c·x², 2·c·x at c = 1 (was 18, 12)
    assert f(3.0) == 9.0


def test_jit_gradient_first_then_call_share_the_frozen_trace():
    _C["c"] = 1.0
    f = dk.jit(lambda x: _C["c"] * np.sum(x * x))
    x = np.array([1.0, 2.0])
    (g,) = dk.grad(f)(x)
    np.testing.assert_array_equal(g, 2 * x)  # c = 1 at the first trace
    _C["c"] = 5.0
    assert f(x) == 5.0  # c = 1 still (was 25.0: the call traced afresh for its own code)
    np.testing.assert_array_equal(dk.grad(f)(x)[0], 2 * x)


# ---- h6_2: domain tests read buffers written in place; equal gradients shared one array -------

def test_jit_grad_log_barrier_outside_domain_raises():
    f = lambda x: (np.log(x - 1.0) + 3.0 * x).sum()       # log barrier + linear term
    g = dk.grad(dk.jit(f))
    for _ in range(3):
        np.testing.assert_allclose(g(np.array([2.0, 3.0]))[0], 1 / (np.array([2.0, 3.0]) - 1) + 3)
    with pytest.raises(dk.DomainError):                    # log(-0.5): snapshot answers [4., 1.]
        g(np.array([2.0, 0.5]))


def test_compile_gradient_grad_outside_domain_raises():
    f = lambda x: (np.log(x - 1.0) + 3.0 * x).sum()
    cg = dk.compile_gradient(f, np.array([2.0, 3.0]))
    with pytest.raises(dk.DomainError):                    # cg(x) raises; cg.grad(x) answers [4, 1]
        cg.grad(np.array([2.0, 0.5]))


def test_jit_grad_binary_cross_entropy_at_valid_point_no_bare_valueerror():
    # BCE written by hand, at a valid point (0 < p < 1): the first call of the jitted gradient
    # raises a bare ValueError("log outside its domain") on the snapshot
    y = np.array([1.0, 0.0, 1.0])
    f = lambda p: -(y * np.log(p) + (1 - y) * np.log(1 - p)).mean()
    g = dk.grad(dk.jit(f))
    p = np.array([0.3, 0.4, 0.8])
    ref = (-(y / p) + (1 - y) / (1 - p)) / 3                # hand formula
    for _ in range(3):
        np.testing.assert_allclose(g(p)[0], ref, rtol=1e-13)


def test_jit_grad_log2_of_square_negative_entries():
    # log2(x**2): valid wherever x != 0; its gradient 2/(x ln 2) is negative for x < 0
    f = lambda x: np.log2(x ** 2).sum()
    g = dk.grad(dk.jit(f))
    x = np.array([0.5, -1.2, 2.0, -0.3])
    for _ in range(3):
        np.testing.assert_allclose(g(x)[0], 2 / (x * np.log(2)), rtol=1e-13)


# equal gradients of two inputs: two arrays (one, scaled in place, was scaled twice)

def test_jit_grads_of_two_inputs_are_independent_arrays():
    # loss of a sum a + b: both gradients are 2(a+b); the jitted gradient returns the SAME buffer
    # twice, so clipping/scaling each gradient in place (g *= c for g in grads) scales it twice
    a = np.array([0.1, 0.2]); b = np.array([0.3, 0.5])
    g = dk.grad(dk.jit(lambda a, b: ((a + b) ** 2).sum()), wrt=(0, 1))
    for _ in range(3):
        ga, gb = g(a, b)
    for gi in (ga, gb):
        gi *= 0.5                                          # in-place gradient scaling
    np.testing.assert_allclose(ga, a + b)                  # hand formula: 0.5 * 2(a+b)
    np.testing.assert_allclose(gb, a + b)                  # snapshot: 0.25 * 2(a+b) in both


def test_compile_gradient_grads_do_not_alias():
    f = lambda x, y: np.sin(x + y).sum()
    x = np.array([0.1, 0.2]); y = np.array([0.3, 0.5])
    gx, gy = dk.compile_gradient(f, x, y).grad(x, y)
    assert not np.shares_memory(gx, gy)
    gx[0] = 99.0
    np.testing.assert_allclose(gy, np.cos(x + y))          # hand formula


def test_jit_value_and_grad_grads_do_not_alias():
    a = np.array([0.1, 0.2]); b = np.array([0.3, 0.5])
    vg = dk.value_and_grad(dk.jit(lambda a, b: np.sin(a + b).sum()), wrt=(0, 1))
    for _ in range(3):
        _, (ga, gb) = vg(a, b)
    ga *= 2.0
    np.testing.assert_allclose(gb, np.cos(a + b))          # snapshot: 2 cos(a+b)



# a trace point outside the domain is a DomainError, not a broken CompiledGradient

def test_compile_gradient_traced_outside_domain_is_a_domain_error_not_a_broken_object():
    f = lambda x: np.log(x[0]) + x[1]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            cg = dk.compile_gradient(f, np.array([-0.3, 0.6]))
        except dk.errors.DomainError:
            return  # refusing the point by name, as dk.grad does, is a correct answer
        p = np.array([2.8, 3.6])
        for _ in range(2):  # snapshot: ValueError('math domain error'), then a ShapeError
            value, (g,) = cg(p)
            np.testing.assert_allclose(value, np.log(2.8) + 3.6, rtol=1e-14)
            np.testing.assert_allclose(g, [1 / 2.8, 1.0], rtol=1e-14)


def test_compile_gradient_traced_outside_domain_array_grad_method():
    """The array variant: a log barrier compiled at a point outside its domain; cg(p) works at
    a valid point but cg.grad(p) raises the generated code's bare ValueError('log outside its
    domain') (then, on the next call, a ShapeError 'grad needs a scalar output')."""
    f = lambda x: np.sum(-np.log(1.0 - x * x))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            cg = dk.compile_gradient(f, np.array([2.0, 0.5]))
        except dk.errors.DomainError:
            return
        p = np.array([0.1, 0.2])
        for _ in range(2):
            (g,) = cg.grad(p)
            np.testing.assert_allclose(g, 2 * p / (1 - p * p), rtol=1e-14)  # hand formula


# ---- a jit function's derivatives by every method freeze what its call froze (11th hunt, F1
# and F6): vjp(method="compiled") gave the value at the new closure state and the pullback at
# the frozen one (45 beside 12); symbolic kept a first trace of its own; forward, fd and
# symbolic pullbacks ran the body again at each pullback (a new draw: fd gave -28453) ----------

JIT_METHODS = ["reverse", "compiled", "forward", "symbolic", "fd", "auto"]


@pytest.mark.parametrize("method", JIT_METHODS)
def test_every_method_of_a_jit_function_freezes_what_its_call_froze(method):
    c = [2.0]
    f = dk.jit(lambda x: c[0] * x**2)
    assert f(3.0) == 18.0  # the first trace at this signature: c = 2 frozen
    c[0] = 5.0
    tol = {"rel": 1e-6} if method == "fd" else {"rel": 1e-12}
    y, pullback = dk.vjp(f, 3.0, method=method)
    assert y == 18.0 and pullback(1.0)[0] == pytest.approx(12.0, **tol)  # 9c and 6c, c = 2
    value, (g,) = dk.value_and_grad(f, method=method)(3.0)
    assert value == 18.0 and g == pytest.approx(12.0, **tol)
    primal, tangent = dk.jvp(f, (3.0,), (1.0,), method=method)
    assert primal == 18.0 and tangent == pytest.approx(12.0, **tol)
    assert dk.grad(f, method=method)(3.0)[0] == pytest.approx(12.0, **tol)
    assert dk.derivative(f, method=method)(3.0) == pytest.approx(12.0, **tol)
    assert dk.hessian(f, method=method)(3.0)[0, 0] == pytest.approx(4.0, rel=1e-4)
    assert f(3.0) == 18.0


@pytest.mark.parametrize("method", JIT_METHODS)
def test_a_jit_pullback_differentiates_the_draw_its_value_came_from(method):
    rng = np.random.default_rng(0)
    f = dk.jit(lambda x: x * rng.uniform(1.0, 2.0, size=x.shape))  # linear: J·1 = f(1)
    ones = np.ones(3)
    y, pullback = dk.vjp(f, ones, method=method)
    tol = {"rtol": 1e-6} if method == "fd" else {"rtol": 1e-13}
    for _ in range(2):
        np.testing.assert_allclose(pullback(ones)[0], y, **tol)
    np.testing.assert_allclose(f(ones), y, rtol=1e-15)  # the call froze the same draw
    primal, tangent = dk.jvp(f, (ones,), (ones,), method=method)
    np.testing.assert_allclose(primal, y, rtol=1e-15)
    np.testing.assert_allclose(tangent, y, **tol)


def test_a_jit_vjp_takes_cotangents_per_piece_after_its_call_froze_the_trace():
    f = dk.jit(lambda x: (x * 2.0, x**2))
    f(3.0)  # the first trace is made by the call, not by the vjp
    y, pullback = dk.vjp(f, 3.0)
    assert np.array_equal(y, [6.0, 9.0]) and pullback((1.0, 1.0)) == (8.0,)


def test_a_jit_gradient_compiles_from_its_first_trace_without_tracing_the_replay(monkeypatch):
    """The API freezes a jit function before the engine sees it; the compiler then lifts that
    first trace (kept once, for a point equal bit for bit) instead of tracing the replay again
    (a second trace of every operation: ~10 % of dk.jit's compile time)."""
    from diffkit.function import Function

    traced: list[bool] = []
    original = Function.trace

    def counting(self, *args, **kwargs):
        traced.append(self.pure)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(Function, "trace", counting)
    g = dk.grad(dk.jit(lambda x: np.sin(x) * x))
    assert g(0.5)[0] == pytest.approx(np.cos(0.5) * 0.5 + np.sin(0.5), rel=1e-15)
    assert traced == [False]  # the body once, its replay never
    assert g(0.7)[0] == pytest.approx(np.cos(0.7) * 0.7 + np.sin(0.7), rel=1e-15)
    assert traced == [False]  # later calls run the generated code
