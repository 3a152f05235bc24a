"""Confirmed bugs: NumPy keyword/positional arguments through diffkit's NumPy dispatch.

Each test asserts the RIGHT behaviour (NumPy's value / a hand-derived gradient, or a named
diffkit error), so each FAILS on the current code.
"""
import inspect

import numpy as np
import pytest

import diffkit as dk
from diffkit.errors import DiffkitError, DomainError, TracingError

X = np.arange(1.0, 13.0).reshape(3, 4)


def _value(r):
    return np.asarray(r.node.value if hasattr(r, "node") else r)


def _right_or_named(fn, expected):
    """fn() must give NumPy's `expected` value, or refuse with a named diffkit error."""
    try:
        r = fn()
    except DiffkitError:
        return
    except Exception as e:  # noqa: BLE001
        pytest.fail(f"bare {type(e).__name__} from inside diffkit: {e}")
    v = _value(r)
    assert v.shape == np.shape(expected)
    np.testing.assert_allclose(v, expected)


# np.mean's 3rd positional argument (dtype) is read as keepdims: silent wrong shape and, once
# broadcast, a silently wrong gradient (hand formula: d/dx_ij sum_i w_i*mean_j x_ij = w_i/4)
def test_mean_positional_dtype_read_as_keepdims_gives_wrong_gradient():
    w = np.arange(3.0)
    f = lambda x: np.sum(np.mean(x, 1, np.float64) * w)
    g = dk.grad(f)(X)[0]  # diffkit: 0.75 everywhere (each row mean times w.sum())
    np.testing.assert_allclose(g, np.repeat(w[:, None] / 4.0, 4, axis=1))
    assert np.shape(np.mean(dk.tensor(X), 1, np.float64)) == (3,)


# Tensor.mean(axis, dtype) (ndarray.mean's order) also reads dtype as keepdims
def test_tensor_mean_method_positional_dtype():
    r = dk.tensor(X).mean(1, np.float64)
    assert np.shape(r) == (3,)


# np.max/np.amax's 3rd positional argument (out) is read as keepdims: a 0-d out array
# silently turns the result into shape (1, 1) instead of a named "no out=" error
def test_max_positional_out_read_as_keepdims():
    with pytest.raises(DiffkitError):
        np.max(dk.tensor(X), None, np.empty(()))


# np.max(t, axis, out_array): bare "truth value of an array is ambiguous" ValueError
def test_max_positional_out_array_bare_error():
    with pytest.raises(DiffkitError):
        np.max(dk.tensor(X), 0, np.empty(4))


# np.stack/vstack/hstack ignore casting=: NumPy refuses float64 -> int64 under the default
# casting='same_kind' (and float64 -> float32 under casting='no'); diffkit silently truncates
@pytest.mark.parametrize("call", [
    lambda a: np.stack([a, a], dtype=np.int64),
    lambda a: np.vstack([a, a], dtype=np.int32),
    lambda a: np.hstack([a, a], dtype=np.float32, casting="no"),
])
def test_stack_family_ignores_casting(call):
    with pytest.raises(TypeError):
        call(X)  # NumPy's behaviour (the reference)
    with pytest.raises((TypeError, DiffkitError)):
        call(dk.tensor(X))


# sum/mean/max keywords NumPy accepts give bare TypeErrors naming _prepare_reduction
# (np.min/np.prod give named TracingErrors for the same keywords)
@pytest.mark.parametrize("call, expected", [
    (lambda a: np.sum(a, dtype=np.float64), np.sum(X, dtype=np.float64)),
    (lambda a: np.sum(a, initial=5.0), np.sum(X, initial=5.0)),
    (lambda a: np.sum(a, where=np.array([True, False, True, True])),
     np.sum(X, where=np.array([True, False, True, True]))),
    (lambda a: np.mean(a, 0, dtype=np.float64), np.mean(X, 0, dtype=np.float64)),
    (lambda a: np.mean(a, 0, None, None, True), np.mean(X, 0, None, None, True)),
    (lambda a: np.max(a, 0, initial=9.0), np.max(X, 0, initial=9.0)),
    (lambda a: np.max(a, 0, None, True), np.max(X, 0, None, True)),
])
def test_reduction_keywords_bare_typeerror(call, expected):
    _right_or_named(lambda: call(dk.tensor(X)), expected)


# other NumPy parameters that crash with bare TypeErrors from diffkit internals
@pytest.mark.parametrize("call, expected", [
    (lambda a: np.reshape(a, (4, 3), order="F"), np.reshape(X, (4, 3), order="F")),
    (lambda a: np.reshape(a, (4, 3), copy=True), np.reshape(X, (4, 3), copy=True)),
    (lambda a: np.concatenate([a, a], 0, dtype=np.float64),
     np.concatenate([X, X], 0, dtype=np.float64)),
    (lambda a: np.concatenate([a, a], axis=0, casting="no"),
     np.concatenate([X, X], axis=0, casting="no")),
    (lambda a: np.broadcast_to(a, (2, 3, 4), subok=True), np.broadcast_to(X, (2, 3, 4), subok=True)),
    (lambda a: np.dot(a, a.T, None), np.dot(X, X.T, None)),
    (lambda a: np.outer(a[0], a[1], out=None), np.outer(X[0], X[1], out=None)),
    (lambda a: np.size(a, (0, 1)) * 1.0, np.size(X, (0, 1)) * 1.0),
    (lambda a: a.ravel("F"), X.ravel("F")),
    (lambda a: a.flatten("F"), X.flatten("F")),
    (lambda a: a.reshape((4, 3), order="F"), X.reshape((4, 3), order="F")),
])
def test_numpy_parameters_bare_typeerror(call, expected):
    _right_or_named(lambda: call(dk.tensor(X)), expected)


# duplicate axes: NumPy raises ValueError("duplicate value in 'axis'"), diffkit silently
# reduces once (np.linalg.norm does raise a ShapeError for the same input)
@pytest.mark.parametrize("fn", [np.sum, np.mean, np.max, np.prod, np.var, np.median])
def test_reduction_duplicate_axes_accepted(fn):
    with pytest.raises(ValueError):
        fn(X, (1, -1))
    with pytest.raises((ValueError, DiffkitError)):
        fn(dk.tensor(X), (1, -1))


# ----- tests added with the fixes (references: NumPy 2 values and errors, hand formulas) ---------

# reductions take NumPy's signatures exactly (the 3rd positional of sum/mean is dtype, of max is
# out): no diffkit-only "keepdims third" form
@pytest.mark.parametrize("np_fn, dk_name", [(np.sum, "sum"), (np.mean, "mean"), (np.max, "amax")])
def test_reduction_signatures_are_numpys(np_fn, dk_name):
    ours = list(inspect.signature(getattr(dk, dk_name)).parameters.values())[1:]
    theirs = list(inspect.signature(np_fn).parameters.values())[1:]
    assert [(p.name, p.kind) for p in ours] == [(p.name, p.kind) for p in theirs]
    with pytest.raises(TypeError):
        np.sum(X, 0, True)  # NumPy: True is no dtype
    with pytest.raises(TypeError):
        np.sum(dk.tensor(X), 0, True)


# composites that reduce with keepdims inside (var, std, average) keep NumPy's values and a
# hand-derived gradient: d/dx Σ_ij (x_ij − m_i)²/n over rows = 2(x_ij − m_i)/n
def test_var_average_keepdims_values_and_gradient():
    t = dk.tensor(X)
    np.testing.assert_allclose(_value(np.var(t, 1, keepdims=True)), np.var(X, 1, keepdims=True))
    np.testing.assert_allclose(_value(np.std(t, 0)), np.std(X, 0))
    w = np.arange(1.0, 5.0)
    np.testing.assert_allclose(_value(np.average(t, 1, w, keepdims=True)),
                               np.average(X, 1, w, keepdims=True))
    g = dk.grad(lambda x: np.sum(np.var(x, 1)))(X)[0]
    np.testing.assert_allclose(g, 2 * (X - X.mean(1, keepdims=True)) / 4)


# concatenate and the stack family check NumPy's casting rule and cast to dtype=
def test_concatenate_casting_and_dtype():
    f32 = np.ones(2, np.float32)
    with pytest.raises(TypeError, match="according to the rule 'no'"):
        np.concatenate([dk.tensor(np.ones(2)), f32], casting="no")
    with pytest.raises(ValueError):
        np.concatenate([dk.tensor(np.ones(2))], casting="bad")
    ints = np.arange(3)
    r = np.concatenate([dk.tensor(f32), ints], dtype=np.float32, casting="same_kind")
    want = np.concatenate([f32, ints], dtype=np.float32, casting="same_kind")
    assert _value(r).dtype == want.dtype
    np.testing.assert_array_equal(_value(r), want)
    r = np.stack([dk.tensor(X), X], dtype=np.float32)
    assert _value(r).dtype == np.float32
    # d/dx Σ stack([x, x]) = 2, cast back to x's float64
    g = dk.grad(lambda x: np.sum(np.stack([x, x], dtype=np.float32)))(X)[0]
    assert g.dtype == np.float64
    np.testing.assert_allclose(g, 2.0)
    with pytest.raises(TracingError):
        np.concatenate([dk.tensor(X), X], out=np.empty((6, 4)))


# order='F': NumPy's values, and the gradient of Σ w·reshape_F(x) is w read back in F order
@pytest.mark.parametrize("call, undo", [
    (lambda a: np.reshape(a, (4, 3), order="F"), lambda w: np.reshape(w, (3, 4), order="F")),
    (lambda a: a.reshape((2, 6), order="F"), lambda w: np.reshape(w, (3, 4), order="F")),
    (lambda a: a.reshape(2, -1, order="F"), lambda w: np.reshape(w, (3, 4), order="F")),
    (lambda a: a.ravel("F"), lambda w: np.reshape(w, (3, 4), order="F")),
    (lambda a: a.flatten("F"), lambda w: np.reshape(w, (3, 4), order="F")),
    (lambda a: a.reshape(4, 3), lambda w: np.reshape(w, (3, 4))),
])
def test_order_f_values_and_gradient(call, undo):
    want = call(X)
    np.testing.assert_array_equal(_value(call(dk.tensor(X))), want)
    w = np.arange(want.size, dtype=float).reshape(want.shape) ** 2
    g = dk.grad(lambda x: np.sum(call(x) * w))(X)[0]
    np.testing.assert_array_equal(g, undo(w))


def test_reshape_bad_order_and_size_axes():
    with pytest.raises(ValueError):
        np.reshape(dk.tensor(X), (4, 3), order="K")
    assert np.size(dk.tensor(X), ()) == np.size(X, ()) == 1
    assert np.size(dk.tensor(X), (1, 0)) == 12
    with pytest.raises(ValueError):
        np.size(X, (0, 0))
    with pytest.raises(ValueError):
        np.size(dk.tensor(X), (0, 0))
    with pytest.raises(IndexError):
        np.size(dk.tensor(X), 2)
    np.testing.assert_array_equal(_value(np.broadcast_to(dk.tensor(np.ones(1)), 3)), np.ones(3))


@pytest.mark.parametrize("call", [
    lambda a: np.dot(a, a.T, np.empty((3, 3))),
    lambda a: np.outer(a[0], a[1], np.empty((4, 4))),
    lambda a: np.fix(a, np.empty((3, 4))),
])
def test_out_arrays_are_named_errors(call):
    with pytest.raises(TracingError):
        call(dk.tensor(X))


def test_fix_without_out_is_numpys():
    v = np.array([-1.5, -0.5, 0.5, 2.7])
    np.testing.assert_array_equal(_value(np.fix(dk.tensor(v), None)), np.fix(v, None))


# duplicate axes: NumPy's ValueError for every reduction; list axes: NumPy's TypeError where the
# ufunc reduces (sum, mean, max, var), accepted where NumPy accepts them (median, average)
@pytest.mark.parametrize("fn", [np.min, np.std, np.average, np.ptp, np.all, np.count_nonzero])
def test_more_duplicate_axes(fn):
    with pytest.raises(ValueError):
        fn(X, (0, -2))
    with pytest.raises(ValueError):
        fn(dk.tensor(X), (0, -2))


@pytest.mark.parametrize("fn", [np.sum, np.mean, np.max, np.min, np.prod, np.var])
def test_list_axes_are_numpys_typeerror(fn):
    with pytest.raises(TypeError):
        fn(X, [0, 1])
    with pytest.raises(TypeError):
        fn(dk.tensor(X), [0, 1])


@pytest.mark.parametrize("fn", [np.median, np.average])
def test_list_axes_where_numpy_accepts_them(fn):
    np.testing.assert_allclose(_value(fn(dk.tensor(X), [0, 1])), fn(X, [0, 1]))


# integers to negative integer powers: NumPy's ValueError, not a ShapeError about shapes
@pytest.mark.parametrize("call", [lambda a: a ** -1, lambda a: np.power(a, -2)])
def test_integer_negative_power_message(call):
    with pytest.raises(ValueError, match="Integers to negative integer powers are not allowed"):
        call(np.arange(1, 4))
    with pytest.raises(DomainError) as info:
        call(dk.tensor(np.arange(1, 4)))
    assert str(info.value) == "Integers to negative integer powers are not allowed."
    assert isinstance(info.value, ValueError)


# sort/argsort: kind= and stable= together is NumPy's ValueError
@pytest.mark.parametrize("fn", [np.sort, np.argsort])
def test_sort_kind_and_stable_refused(fn):
    with pytest.raises(ValueError):
        fn(X, kind="stable", stable=True)
    with pytest.raises(ValueError, match="can't be provided at the same time"):
        fn(dk.tensor(X), kind="stable", stable=True)


# the gradient of sorting an empty array is the empty array (no "cannot reshape size 0")
@pytest.mark.parametrize("shape, axis", [((0,), 0), ((0, 3), 0), ((0, 3), 1), ((3, 0), 1),
                                         ((3, 0), 0), ((0, 3), None)])
@pytest.mark.parametrize("method", ["reverse", "forward"])
def test_sort_empty_gradient(shape, axis, method):
    g = dk.grad(lambda x: np.sum(np.sort(x, axis=axis)), method=method)(np.zeros(shape))[0]
    assert np.shape(g) == shape


# reverse over reverse through a record without a vjp_rows rule (outer): the stacked rows went
# to concatenate as separate arguments. Hand formula: ∂²(x_i x_j)/∂x_k∂x_l = δ_ik δ_jl + δ_il δ_jk
@pytest.mark.parametrize("method", ["reverse", "forward"])
def test_second_derivative_through_outer(method):
    x = np.array([1.0, 2.0, 3.0])
    H = dk.jacobian(lambda v: dk.jacobian(lambda u: np.outer(u, u), method="reverse")(v),
                    method=method)(x)
    eye = np.eye(3)
    want = np.einsum("ik,jl->ijkl", eye, eye) + np.einsum("il,jk->ijkl", eye, eye)
    np.testing.assert_allclose(np.reshape(H, (3, 3, 3, 3)), want)


# np.linalg.norm(empty, inf, axis=0) is 0 per column in NumPy; diffkit raised a ShapeError
def test_inf_norm_over_an_empty_axis_is_zero():
    e = np.zeros((0, 3))
    np.testing.assert_array_equal(dk.norm(e, np.inf, axis=0), np.linalg.norm(e, np.inf, axis=0))
    (g,) = dk.grad(lambda x: dk.sum(np.linalg.norm(x, np.inf, axis=0)))(e)
    assert g.shape == (0, 3)
