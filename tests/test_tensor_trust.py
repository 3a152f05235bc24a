"""Bug hunt: the eager Tensor API (dk.Tensor / nn.Parameter). Each test asserts the RIGHT
behaviour against an independent reference (PyTorch float64 autograd, JAX x64, NumPy, or a hand
formula) and FAILS on the current code."""

import copy
import pickle

import numpy as np
import pytest

import diffkit as dk
from diffkit import nn

try:  # the references; the tests that need them skip without them (CI has neither)
    import jax
    import jax.numpy as jnp
    import torch

    jax.config.update("jax_enable_x64", True)
except ImportError:
    jax = jnp = torch = None


def _leaf(v):
    return dk.tensor(np.asarray(v, dtype=np.float64), requires_grad=True)


# np.sum/np.mean (and Tensor.sum/.mean) take NumPy's 3rd positional argument (dtype) as keepdims: silently wrong numbers
def test_np_sum_positional_dtype_is_not_keepdims():
    A = np.arange(6.0).reshape(2, 3)

    def f(x, m):
        return m.sum((m.sum(x, 1, m.float64) - m.array([1.0, 2.0])) ** 2)

    assert float(f(A, np)) == 104.0  # NumPy reference
    (g,) = dk.grad(lambda x: f(x, np))(A)
    # by hand: 2(Σⱼ xᵢⱼ − cᵢ) in every column: [[4, 4, 4], [20, 20, 20]] (JAX x64 agrees)
    np.testing.assert_allclose(g, np.repeat([[4.0], [20.0]], 3, axis=1))
    if jax is not None:
        np.testing.assert_allclose(g, np.asarray(jax.grad(lambda x: f(x, jnp))(jnp.array(A))))


# Tensor.sum(axis, dtype) / np.mean(t, axis, dtype): shape must follow NumPy, not become keepdims=True
def test_tensor_sum_mean_positional_dtype_shape():
    A = np.arange(6.0).reshape(2, 3)
    t = _leaf(A)
    assert t.sum(0, np.float64).shape == A.sum(0, np.float64).shape == (3,)
    assert np.mean(t, 1, np.float64).shape == np.mean(A, 1, np.float64).shape == (2,)


# copy.deepcopy(model): the copy's backward() sends gradients to the ORIGINAL model's parameters
def test_deepcopy_module_gradients_go_to_the_copy():
    m = nn.Linear(2, 1)
    m2 = copy.deepcopy(m)
    m2(np.ones((3, 2), np.float32)).sum().backward()
    assert all(p.grad is None for p in m.parameters())  # torch: original untouched
    assert all(p.grad is not None for p in m2.parameters())


# copy.deepcopy(leaf tensor): gradient lands on the original leaf, the copy's .grad stays None
def test_deepcopy_leaf_tensor_gets_its_own_grad():
    x = _leaf([1.0, 2.0])
    xc = copy.deepcopy(x)
    (xc * 3.0).sum().backward()
    assert x.grad is None
    np.testing.assert_allclose(xc.grad, [3.0, 3.0])  # torch: xc.grad = [3, 3]


# dk.tensor(list) records shape () and backward sums the per-element gradient into one number
def test_tensor_from_list_gradient_shape():
    t = dk.tensor([1.0, 2.0], requires_grad=True)
    dk.sin(t).sum().backward()
    assert t.shape == (2,)
    np.testing.assert_allclose(np.asarray(t.grad), np.cos([1.0, 2.0]))  # as torch gives


# `p -= lr * p.grad` (the PyTorch manual-SGD idiom) silently rebinds p: the model's parameter never changes
def test_inplace_sub_on_parameter_updates_or_raises():
    m = nn.Linear(2, 1)
    w0 = m.weight.value.copy()
    m(np.ones((1, 2), np.float32)).sum().backward()
    try:
        with nn.no_grad():
            for p in m.parameters():
                p -= 0.1 * p.grad
    except Exception:  # noqa: BLE001 - a named refusal is acceptable
        return
    # torch: weight decreases by 0.1 * grad = 0.1 * [1, 1]
    np.testing.assert_allclose(m.weight.value - w0, [[-0.1, -0.1]], rtol=1e-5)


# x.detach() with requires_grad set afterwards is not a leaf: backward() silently leaves .grad None
def test_detach_then_requires_grad_is_a_leaf():
    x = _leaf([1.0, 2.0])
    d = x.detach()
    d.requires_grad = True
    (d * d).sum().backward()
    assert d.grad is not None
    np.testing.assert_allclose(d.grad, [2.0, 4.0])  # torch: 2*d


# backward(gradient) of the wrong shape is accepted silently and gives .grad of the wrong shape
def test_backward_gradient_shape_mismatch_raises():
    x = _leaf([1.0, 2.0, 3.0])
    with pytest.raises(dk.ShapeError):  # torch: RuntimeError "Mismatch in shape"
        (x * 2.0).backward(np.ones(2))
    x = _leaf([1.0, 2.0, 3.0])
    try:
        (x * 2.0).backward(np.ones((3, 1)))
    except Exception:  # noqa: BLE001
        return
    assert x.grad.shape == (3,)


# backward(gradient=list) multiplies the Python list: .grad becomes a 6-element list repetition
def test_backward_gradient_list():
    x = _leaf([1.0, 2.0, 3.0])
    try:
        (x * 2).backward([1.0, 1.0, 1.0])
    except Exception:  # noqa: BLE001 - a refusal is acceptable
        return
    np.testing.assert_allclose(np.asarray(x.grad), [2.0, 2.0, 2.0])


# np.array([a, b]) of eager tensors drops the graph silently (traced code keeps it; torch raises)
def test_np_array_of_eager_tensors_keeps_graph_or_raises():
    a = dk.tensor(np.float64(2.0), requires_grad=True)
    b = dk.tensor(np.float64(3.0), requires_grad=True)
    c = _leaf([1.0, 2.0])
    try:
        y = c * np.array([a, b])
        y.sum().backward()
    except Exception:  # noqa: BLE001 - a named refusal is acceptable
        return
    assert a.grad == 1.0 and b.grad == 2.0  # d/da (1*a + 2*b)


# float32 parameter used with a float64 input gets a float64 .grad (torch/JAX: grad dtype = leaf dtype)
def test_float32_leaf_grad_dtype():
    x = dk.tensor(np.array([1.0, 2.0, 3.0], np.float32), requires_grad=True)
    (x * np.array([1.0, 2.0, 3.0])).sum().backward()
    assert x.grad.dtype == np.float32  # the leaf's dtype, as JAX and PyTorch give
    if jax is not None:
        xj = jax.grad(lambda v: (v * jnp.array([1.0, 2.0, 3.0])).sum())(
            jnp.array([1.0, 2.0, 3.0], jnp.float32))
        assert xj.dtype == np.float32


# .grad from x.sum()/x.mean() is a read-only stride-0 view (shared between leaves): p.grad *= c crashes
def test_grad_is_writable_and_not_shared():
    x = _leaf([1.0, 2.0])
    z = _leaf([5.0, 6.0])
    (x + z).sum().backward()
    assert not np.shares_memory(x.grad, z.grad)
    x.grad *= 0.5  # torch: fine
    np.testing.assert_allclose(x.grad, [0.5, 0.5])
    np.testing.assert_allclose(z.grad, [1.0, 1.0])


# backward(g) stores the caller's array as .grad: later changes to g change x.grad
def test_grad_does_not_alias_gradient_argument():
    x = _leaf([1.0, 2.0])
    g = np.array([1.0, 1.0])
    (x + 0.0).backward(g)
    g[0] = 100.0
    np.testing.assert_allclose(x.grad, [1.0, 1.0])


# pickling a Tensor (or any nn.Module) crashes with a bare TypeError about weakref
def test_pickle_tensor_roundtrip():
    t = dk.tensor(np.array([1.0, 2.0]))
    try:
        t2 = pickle.loads(pickle.dumps(t))
    except TypeError as e:
        assert "weakref" not in str(e), f"bare pickling failure: {e}"
        return
    np.testing.assert_array_equal(t2.value, [1.0, 2.0])


# np.sum(t, dtype=...) and np.max(t, 0, None, True) crash with bare TypeErrors from _prepare_reduction
def test_np_reductions_numpy_signature():
    A = np.arange(6.0).reshape(2, 3)
    t = _leaf(A)
    for call in (lambda m: np.sum(m, axis=0, dtype=np.float64), lambda m: np.max(m, 0, None, True)):
        try:
            r = call(t)
        except TypeError as e:
            assert "_prepare_reduction" not in str(e), f"bare crash: {e}"
            continue
        np.testing.assert_allclose(r.value, call(A))


# bool Tensor ** int gives int64 where NumPy 2 gives int8
def test_bool_pow_int_dtype():
    b = np.array([True, False])
    assert (dk.tensor(b) ** 2).dtype == (b ** 2).dtype == np.int8


# round(t): NOT a bug (docs/design.md: Python's round() reads a number out of a Tensor, as int()
# does; the rounded value that stays in the graph is np.round / dk.round). Rewritten from the hunt's
# test, which expected round() of a 2-element tensor to give an array: asserts the documented
# behaviour against Python's round and NumPy's np.round instead.
def test_builtin_round():
    assert round(_leaf(1.26)) == round(1.26) == 1
    assert round(_leaf(-2.5), 1) == round(-2.5, 1)
    with pytest.raises(dk.ShapeError):  # a number is read out: one element only, as int()
        round(_leaf([1.26, -2.5]))
    t = _leaf([1.26, -2.5])
    np.testing.assert_array_equal(np.asarray(np.round(t).value), np.round(np.array([1.26, -2.5])))


# x[[]] (an empty index list, valid in NumPy) is refused with a misleading IndexOutOfRangeError
def test_empty_list_index():
    A = np.arange(24.0).reshape(2, 3, 4)
    assert _leaf(A)[[]].shape == A[[]].shape == (0, 3, 4)


# & | ^ ~ on integer Tensors are logical (bool results), NumPy's are bitwise: silently wrong values
def test_int_tensor_bitwise_operators():
    a = np.array([6, 3, 0])
    t = dk.tensor(a)
    np.testing.assert_array_equal(np.asarray((t & 5).value), a & 5)  # [4 1 0]
    np.testing.assert_array_equal(np.asarray((t | 1).value), a | 1)  # [7 3 1]
    np.testing.assert_array_equal(np.asarray((t ^ 3).value), a ^ 3)  # [5 0 3]
    np.testing.assert_array_equal(np.asarray((~t).value), ~a)        # [-7 -4 -1]


# x @ list: the list operand is given shape () and matmul is refused (NumPy: x @ [3, 4] = 11)
def test_matmul_with_list_operand():
    x = _leaf([1.0, 2.0])
    y = x @ [3.0, 4.0]
    y.backward()
    assert float(y.value) == 11.0
    np.testing.assert_allclose(x.grad, [3.0, 4.0])


# ----- the decisions behind the fixes above, each against PyTorch float64 or NumPy ----------------

def test_inplace_on_leaf_requiring_grad_is_refused_like_torch():
    if torch is not None:
        tt = torch.tensor([1.0, 2.0], dtype=torch.float64, requires_grad=True)
        with pytest.raises(RuntimeError, match="leaf Variable that requires grad"):
            tt += 1
    x = _leaf([1.0, 2.0])
    with pytest.raises(dk.TracingError, match="leaf Tensor that requires grad"):
        x += 1
    np.testing.assert_array_equal(x.value, [1.0, 2.0])  # nothing changed


def test_inplace_under_no_grad_updates_the_leaf_like_torch():
    x = _leaf([1.0, 2.0])
    with nn.no_grad():
        x *= 3.0
        x -= np.array([0.5, 0.5])
    np.testing.assert_array_equal(x.value, [2.5, 5.5])  # 3x − 0.5, as torch gives
    (x * x).sum().backward()  # still the same leaf: its .grad is filled
    np.testing.assert_allclose(x.grad, [5.0, 11.0])  # 2x


def test_inplace_on_computed_tensor_records_out_of_place():
    # torch: y = 2x; y += x; y *= x → d/dx Σ 3x² = 6x
    x = _leaf([1.0, 2.0])
    y = x * 2.0
    y += x
    y *= x
    y.sum().backward()
    np.testing.assert_allclose(x.grad, [6.0, 12.0])  # 6x, as torch gives


def test_inplace_on_constant_leaf_with_grad_operand_joins_the_graph():
    x = _leaf([1.0, 2.0])
    c = dk.tensor(np.array([3.0, 4.0]))
    c *= x  # torch: c becomes a non-leaf that requires grad
    c.sum().backward()
    np.testing.assert_allclose(x.grad, [3.0, 4.0])


def test_inplace_constant_leaf_and_graph_keeping_its_old_value():
    c = dk.tensor(np.array([3.0, 4.0]))
    x = _leaf([1.0, 2.0])
    y = (x * c).sum()  # records c = [3, 4]
    c += 10.0  # nothing requires grad: the value changes (NumPy's a += 10)
    np.testing.assert_array_equal(c.value, [13.0, 14.0])
    y.backward()
    np.testing.assert_allclose(x.grad, [3.0, 4.0])  # the graph kept the value it used


def test_inplace_refusals_are_named():
    y = _leaf([1.0, 2.0]) * 2.0  # computed from a leaf that requires grad, before no_grad
    with nn.no_grad(), pytest.raises(dk.TracingError, match="no_grad"):
        y += 1.0
    i = dk.tensor(np.array([1, 2]))
    with pytest.raises(TypeError):  # NumPy: int64 += 0.5 cannot cast
        i += 0.5
    with pytest.raises(dk.ShapeError):
        i += np.ones(3, dtype=np.int64)


def test_inplace_in_traced_code_rebinds():
    def f(z, m):
        t = z * 1.0
        t += z
        t *= z
        return m.sum(t)

    (g,) = dk.grad(lambda z: f(z, np))(np.array([1.0, 2.0]))
    np.testing.assert_allclose(g, [4.0, 8.0])  # Σ 2z², by hand (JAX x64 agrees)
    if jax is not None:
        np.testing.assert_allclose(g, np.asarray(jax.grad(lambda z: f(z, jnp))(jnp.array([1.0, 2.0]))))


def test_data_assignment_and_inplace_data():
    p = _leaf([1.0, 2.0])
    p.data -= 0.5  # PyTorch's idiom: no AttributeError, p changed
    np.testing.assert_array_equal(p.value, [0.5, 1.5])
    p.data = [5.0, 6.0]
    assert p.shape == (2,) and p.node.prim is None
    (p * p).sum().backward()
    np.testing.assert_allclose(p.grad, [10.0, 12.0])


def test_copy_and_pickle_module():
    m = nn.Linear(2, 1)
    m3 = pickle.loads(pickle.dumps(m))
    np.testing.assert_array_equal(m3.weight.value, m.weight.value)
    np.testing.assert_array_equal(m3.bias.value, m.bias.value)
    m3(np.ones((3, 2), np.float32)).sum().backward()
    assert m.weight.grad is None and m3.weight.grad is not None
    x = _leaf([1.0, 2.0])
    xc = copy.copy(x)
    (xc * 3.0).sum().backward()
    assert x.grad is None
    np.testing.assert_allclose(xc.grad, [3.0, 3.0])
    with pytest.raises(dk.TracingError, match="not a leaf"):
        copy.deepcopy(x * 2.0)
    with pytest.raises(dk.TracingError, match="not a leaf"):
        pickle.dumps(x * 2.0)


def test_np_asarray_of_tensor_requiring_grad_is_named():
    if torch is not None:
        with pytest.raises(RuntimeError):  # torch refuses too
            np.asarray(torch.tensor([1.0], requires_grad=True))
    x = _leaf([1.0, 2.0])
    with pytest.raises(dk.TracingError, match="requires grad"):
        np.asarray(x)
    np.testing.assert_array_equal(np.asarray(x.detach()), [1.0, 2.0])
    a, b = _leaf(2.0), _leaf(3.0)
    (dk.stack([a, b]) * np.array([1.0, 2.0])).sum().backward()  # the graph-keeping spelling
    assert a.grad == 1.0 and b.grad == 2.0


def test_backward_gradient_is_cast_and_checked():
    x = dk.tensor(np.array([1.0, 2.0], np.float32), requires_grad=True)
    y = x * 2.0
    with pytest.raises(dk.ShapeError, match="mismatch in shape"):
        y.backward(np.ones((2, 1)))
    y.backward([1, 1])  # a list of ints: converted, cast to float32
    assert x.grad.dtype == np.float32
    np.testing.assert_array_equal(x.grad, [2.0, 2.0])


def test_grad_does_not_alias_data():
    X = np.array([3.0, 4.0])
    w = _leaf([1.0, 1.0])
    (w * X).sum().backward()
    w.grad *= 0.0
    np.testing.assert_array_equal(X, [3.0, 4.0])  # the data array kept its numbers


def test_bool_tensor_operators_stay_logical():
    a, b = np.array([True, False, True]), np.array([True, True, False])
    t = dk.tensor(a)
    for got, want in ((t & b, a & b), (t | b, a | b), (t ^ b, a ^ b), (~t, ~a), (b & t, b & a)):
        np.testing.assert_array_equal(got.value, want)
        assert got.dtype == want.dtype


def test_reductions_dtype_keepdims_out():
    A = np.arange(6.0, dtype=np.float32).reshape(2, 3)
    t = dk.tensor(A, requires_grad=True)
    r = np.sum(t, 1, np.float64, None, True)
    want = np.sum(A, 1, np.float64, None, True)
    assert r.shape == want.shape and r.dtype == want.dtype
    np.testing.assert_array_equal(r.value, want)
    r.sum().backward()
    assert t.grad.dtype == np.float32
    np.testing.assert_array_equal(t.grad, np.ones((2, 3)))
    np.testing.assert_array_equal(np.mean(dk.tensor(np.arange(4)), dtype=np.float32).value,
                                  np.mean(np.arange(4), dtype=np.float32))
    with pytest.raises(dk.TracingError, match="out="):
        np.sum(t, 0, None, np.empty(3))
    with pytest.raises(dk.TracingError, match="initial="):
        np.max(t, initial=10.0)
    assert t.max(1, None, True).shape == (2, 1)


def test_format_specs_read_the_value_and_mark_the_trace() -> None:
    """f"{loss:.4f}" on a traced value was a bare TypeError (object.__format__). It formats the
    number as NumPy does; the text depends on the value, so a jit function is traced again where
    it formats (x·len("1.0") at 1.0, x·len("10.0") at 10.0). A value being differentiated is
    refused as float(x) is (float(f"{x:.17g}") would be a constant); its stop_gradient formats."""
    f = lambda x: x * len(f"{x:.1f}")
    with pytest.raises(dk.TracingError, match="format spec"):
        dk.grad(f)(1.0)
    g = lambda x: x * len(f"{dk.stop_gradient(x):.1f}")
    assert dk.grad(g)(1.0) == (3.0,) and dk.grad(g)(10.0) == (4.0,)
    jitted = dk.jit(f)
    assert [jitted(1.0), jitted(1.0), jitted(1.0), jitted(10.0)] == [3.0, 3.0, 3.0, 40.0]
    t = dk.tensor(np.float64(1.2345), requires_grad=True)
    assert f"{t:.2f}" == "1.23" and f"{t * 2.0:.3e}" == "2.469e+00"
    assert f"{t}" == str(t)  # an empty spec is str(), as for any object
