"""State between calls (the 11th bug hunt, state and replay): finite differences of a function
that is not the same function at every call, and in-place updates that another name sees.

References: NumPy running the same function directly, and hand formulas. Each test failed before
its fix."""

from __future__ import annotations

import numpy as np
import pytest

import diffkit as dk

FD = ["fd", "fd-central", "fd-forward", "fd-richardson"]


def _noisy(x):
    return x * np.random.uniform(1.0, 2.0)  # a draw at every call (noise, augmentation)


# ---- finite differences subtracted values of different draws: grad gave -18348.8 for a
# derivative in [1, 2], silently; every AD method answers one draw's derivative ------------------

@pytest.mark.parametrize("method", FD)
@pytest.mark.parametrize("call", [
    lambda m: dk.grad(_noisy, method=m)(1.0),
    lambda m: dk.value_and_grad(_noisy, method=m)(1.0),
    lambda m: dk.jvp(_noisy, (1.0,), (1.0,), method=m),
    lambda m: dk.jacobian(lambda x: x * np.random.uniform(1.0, 2.0, size=3), method=m)(
        np.ones(3)),
    lambda m: dk.hessian(_noisy, method=m)(1.0),
    lambda m: dk.derivative(_noisy, 2, method=m)(1.0),
], ids=["grad", "value_and_grad", "jvp", "jacobian", "hessian", "derivative2"])
def test_finite_differences_refuse_a_function_that_draws_at_every_call(method, call):
    np.random.seed(0)
    with pytest.raises(dk.NotRepeatableError, match="another value when called again"):
        call(method)


@pytest.mark.parametrize("method", FD)
def test_finite_differences_refuse_state_kept_between_calls(method):
    count = [0]

    def f(x):
        count[0] += 1
        return x * x + 1e-3 * count[0]  # a drift: each call a different function

    with pytest.raises(dk.NotRepeatableError):
        dk.grad(f, method=method)(2.0)


@pytest.mark.parametrize("method", FD)
def test_a_value_near_zero_by_cancellation_is_no_false_alarm(method):
    # sin² + cos² − 1 is rounding noise (~1e-16) that math and NumPy scalar code round
    # differently: agreement is measured against the terms that cancelled (1), not the noise
    g = dk.grad(lambda x: np.sin(x) ** 2 + np.cos(x) ** 2 - 1.0, method=method)(0.7)
    assert abs(g[0]) < 1e-6


@pytest.mark.parametrize("method", ["reverse", "forward", "symbolic"])
def test_ad_methods_answer_the_draw_they_traced(method):
    np.random.seed(1)
    value, (g,) = dk.value_and_grad(_noisy, method=method)(1.0)
    assert 1.0 <= value <= 2.0 and g == pytest.approx(value, rel=1e-15)  # f = r·x at x = 1


# ---- an in-place update that another name sees: `y = x; x *= 3` — NumPy changes y; traced
# code rebound x alone, so every AD method differentiated sum(x²) (5.0, [2, 4]) while the call
# evaluated 9·sum(x²) (45.0), and fd mixed the two ([18, 36] beside the value 5.0) ------------

def _aliased(x):
    y = x
    x *= 3.0
    return np.sum(y**2)


X = np.array([1.0, 2.0])


@pytest.mark.parametrize("method", ["reverse", "forward", "symbolic", "fd", "auto"])
def test_an_in_place_update_is_seen_by_another_name_as_numpy_sees_it(method):
    numpy_value = _aliased(X.copy())  # NumPy itself: 9·(1 + 4) = 45
    assert numpy_value == 45.0
    value, (g,) = dk.value_and_grad(_aliased, method=method)(X)
    assert value == numpy_value == dk.function(_aliased)(X)
    np.testing.assert_allclose(g, 18.0 * X, rtol=1e-6 if method == "fd" else 1e-15)
    assert np.array_equal(X, [1.0, 2.0])  # the caller's array is untouched


def test_an_in_place_update_of_a_jit_function_and_its_compiled_gradient():
    f = dk.jit(_aliased)
    for _ in range(3):  # traced, then generated code
        assert f(X) == 45.0
        value, (g,) = dk.value_and_grad(f)(X)
        assert value == 45.0 and np.array_equal(g, 18.0 * X)


def test_a_list_holding_the_value_sees_the_update():
    def f(x):
        held = [x]
        x += 1.0
        return held[0] * 2.0

    want = np.sum(f(X.copy()))  # NumPy: held[0] is x, updated: 2·(1 + 2 + 2) = 10
    value, (g,) = dk.value_and_grad(lambda x: np.sum(f(x)))(X)
    assert value == want == 10.0 and np.array_equal(g, [2.0, 2.0])


def test_an_in_place_update_keeps_numpys_dtype_and_shape_rules():
    x32 = np.array([1.0, 2.0], np.float32)

    def scale(x):
        x *= np.float64(2.0)  # NumPy: stays float32 (same-kind cast into x)
        return x

    assert scale(x32.copy()).dtype == np.float32
    y, pullback = dk.vjp(scale, x32)  # the traced value: float64 when x was rebound
    assert y.dtype == np.float32 and pullback(np.ones(2, np.float32))[0].dtype == np.float32

    def widen(x):
        x += np.ones(3)  # NumPy: a (1,) array cannot take the (3,) result
        return np.sum(x)

    with pytest.raises(ValueError):
        widen(np.array([2.0]))
    with pytest.raises(dk.ShapeError):  # rebinding differentiated a sum of three
        dk.grad(widen)(np.array([2.0]))


def test_an_accumulator_updated_in_place_in_a_loop():
    def f(x):
        s = x * 0.0
        for i in range(4):
            s += x**i
        return np.sum(s)

    np.testing.assert_allclose(dk.grad(f)(X)[0], 1.0 + 2.0 * X + 3.0 * X**2, rtol=1e-15)


def test_a_traced_value_added_into_a_numpy_array_names_the_in_place_update():
    # the message spoke of out=, which the user never wrote (`acc += x` is add(acc, x, out=acc))
    def f(x):
        acc = np.zeros(2)
        acc += x
        return np.sum(acc)

    with pytest.raises(dk.TracingError, match=r"in place .*`a = a \+ x`"):
        dk.grad(f)(np.ones(2))


def test_compare_refuses_a_function_that_draws_and_compares_a_jit_one_on_one_draw():
    # each row differentiated its own draw: errors 0.1 to 0.5 for methods each right for its own
    np.random.seed(2)
    with pytest.raises(dk.NotRepeatableError, match="dk.compare"):
        dk.compare(_noisy, 1.0, methods=["forward", "reverse"])
    f = dk.jit(_noisy)
    cmp = dk.compare(f, 1.0, methods=["forward", "reverse", "symbolic", "fd"])
    draw = f(1.0)  # linear in x: the derivative is the draw its first trace froze
    assert 1.0 <= draw <= 2.0 and float(np.ravel(cmp.reference)[0]) == pytest.approx(draw,
                                                                                     rel=1e-15)
    for row in cmp.rows:
        assert row.abs_error <= 1e-9 * draw, (row.method, row.abs_error)


def test_traces_drawings_and_symbolic_of_a_jit_function_show_its_frozen_trace():
    c = [2.0]
    f = dk.jit(lambda x: c[0] * x**2)
    assert f(3.0) == 18.0
    c[0] = 5.0  # the call stays 18 (frozen); the trace showed 45 and x̄ = 30
    t = dk.trace(f, 3.0)
    assert t.primal[-1].value == 18.0
    assert [r.value for r in t.adjoint if r.role == "result"] == [12.0]
    assert str(dk.symbolic(f, 3.0).expressions[0]) == "4*x"  # 2c·x, c = 2 (was 10*x)


@pytest.mark.parametrize("method", ["reverse", "forward", "symbolic", "fd"])
def test_an_in_place_update_of_a_number_rebinds_as_python_does(method):
    # a float (or a NumPy scalar) is immutable: `x *= 3` makes a new number, y keeps the old one
    def f(x):
        y = x
        x *= 3.0
        return y**2 + x

    assert f(2.0) == 10.0
    value, (g,) = dk.value_and_grad(f, method=method)(2.0)
    assert value == 10.0 and g == pytest.approx(2 * 2.0 + 3.0, rel=1e-6)


def test_a_reductions_scalar_updated_in_place_promotes_as_numpys_scalar():
    def f(x):
        s = np.sum(x.astype(np.float32))  # np.float32: `+=` rebinds, float32 + float64 → float64
        s += np.float64(1.0)
        return s

    want = f(np.ones(2))
    assert want.dtype == np.float64
    y, _ = dk.vjp(f, np.ones(2))
    assert y == 3.0 and np.result_type(y) == np.float64
