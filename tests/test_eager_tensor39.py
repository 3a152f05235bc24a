"""Eager Tensors: requires_grad decided at record time, views of the dk.* view functions, what
dk.tensor() reads, backward() of a result that requires no grad, PyTorch's view(shape) and dim=.
Each test failed before its fix; references are hand formulas and NumPy's own view semantics."""

from __future__ import annotations

import array

import numpy as np
import pytest

import diffkit as dk
from diffkit import nn

# ----- 1. whether a leaf requires grad is decided when an operation is recorded -------------------


def test_a_leaf_that_required_no_grad_when_recorded_is_a_constant_of_that_graph():
    """target = Σ w₀·x is recorded before w requires grad: a constant (8.5). loss = (Σ w²x − 8.5)²,
    ∂loss/∂w = 2·(Σ w²x − 8.5)·2wx = 2·14·2·[0.5, 2, 6] = [28, 112, 336] (PyTorch's too; it was
    [14, 84, 280]: target differentiated as well)."""
    w = nn.Parameter(np.array([1.0, 2.0, 3.0]), requires_grad=False)
    x = dk.tensor(np.array([0.5, 1.0, 2.0]))
    target = (w * x).sum()
    w.requires_grad = True
    loss = ((w * w * x).sum() - target) ** 2
    loss.backward()
    np.testing.assert_allclose(w.grad, [28.0, 112.0, 336.0], rtol=1e-14)


def test_a_flag_set_after_recording_reaches_no_operation_recorded_before():
    """y = Σ x² recorded while x required no grad: nothing in y's graph requires a gradient
    (PyTorch: "element 0 of tensors does not require grad"); it filled x.grad = 2x."""
    x = dk.tensor(np.array([1.0, 2.0]))
    y = (x**2).sum()
    x.requires_grad_(True)
    with pytest.raises(dk.ShapeError, match="nothing in this graph requires a gradient"):
        y.backward()
    assert x.grad is None


def test_an_operation_mixing_both_kinds_of_leaf_differentiates_only_the_active_one():
    """y = Σ w·v with v requiring grad and w not (yet): ∂y/∂v = w, and w gets no gradient from
    this graph (PyTorch: w.grad None); w got v."""
    w = dk.tensor(np.array([2.0, 3.0]))
    v = dk.tensor(np.array([5.0, 7.0]), requires_grad=True)
    y = (w * v).sum()
    w.requires_grad_(True)
    y.backward()
    np.testing.assert_allclose(v.grad, [2.0, 3.0])
    assert w.grad is None


def test_scalar_code_records_the_flag_too():
    """0-d float64 leaves (the eager scalar paths): z = sin(w) and t = w·c recorded before w
    requires grad are constants, so y = z·w + t·w has ∂y/∂w = sin(w₀) + w₀·c = sin 2 + 6 (it was
    sin 2 + 2·cos 2 + 12)."""
    w = dk.tensor(np.float64(2.0))
    c = dk.tensor(np.float64(3.0))
    z = dk.sin(w)
    t = w * c
    w.requires_grad_(True)
    y = z * w + t * w
    y.backward()
    np.testing.assert_allclose(w.grad, np.sin(2.0) + 6.0, rtol=1e-14)


# ----- 2. dk.* view functions give views: an in-place update of the base is refused -----------------

_VIEWS = {
    "reshape": (lambda m, a: m.reshape(a, (6,)), (2, 3)),
    "transpose": (lambda m, a: m.transpose(a), (2, 3)),
    "swapaxes": (lambda m, a: m.swapaxes(a, 0, 1), (2, 3)),
    "moveaxis": (lambda m, a: m.moveaxis(a, 0, 1), (2, 3)),
    "ravel": (lambda m, a: m.ravel(a), (2, 3)),
    "squeeze": (lambda m, a: m.squeeze(a), (1, 6)),
    "expand_dims": (lambda m, a: m.expand_dims(a, 0), (2, 3)),
    "flip": (lambda m, a: m.flip(a, 1), (2, 3)),
    "flipud": (lambda m, a: m.flipud(a), (2, 3)),
    "fliplr": (lambda m, a: m.fliplr(a), (2, 3)),
    "rot90": (lambda m, a: m.rot90(a), (2, 3)),
    "broadcast_to": (lambda m, a: m.broadcast_to(a, (4, 2, 3)), (2, 3)),
    "split": (lambda m, a: m.split(a, 2, axis=1)[0], (2, 4)),
    "real": (lambda m, a: m.real(a), (2, 3)),
}


@pytest.mark.parametrize("name", sorted(_VIEWS))
def test_an_update_of_an_array_a_dk_view_was_taken_of_is_refused(name):
    """NumPy's result of each function is a view of the array (checked here), so `y *= 3` changes
    it: Σv² is 819 and its gradient 18x for reshape. The view kept the old values: 91 and 2x."""
    f, shape = _VIEWS[name]
    a = np.arange(1.0, 1.0 + np.prod(shape)).reshape(shape)
    assert np.shares_memory(f(np, a), a)
    x = dk.tensor(a.copy(), requires_grad=True)
    y = x * 1
    v = f(dk, y)
    with pytest.raises(dk.TracedMutationError, match="view"):
        y *= 3
    del v


def test_numpy_rot90_on_a_tensor_is_a_view_too():
    x = dk.tensor(np.arange(1.0, 7.0).reshape(2, 3), requires_grad=True)
    y = x * 1
    v = np.rot90(y)
    with pytest.raises(dk.TracedMutationError, match="view"):
        y *= 3
    del v


@pytest.mark.parametrize("method", ["reverse", "forward", "symbolic"])
def test_a_traced_update_of_an_array_a_dk_view_was_taken_of_is_refused(method):
    """Traced, `v = dk.transpose(y); y *= 3` gave 91 / 2x where a plain call of NumPy code gives
    819 / 18x."""
    def f(x):
        y = x * 1
        v = dk.transpose(y)
        y *= 3
        return (v * v).sum()

    with pytest.raises(dk.TracedMutationError, match="view"):
        dk.grad(f, method=method)(np.arange(1.0, 7.0).reshape(2, 3))


_A = np.arange(1.0, 7.0).reshape(2, 3)
_COPIES = {  # a copy in NumPy; (take, Σ c² at the old values, its gradient by hand)
    "flatten": (lambda y: y.flatten(), (_A**2).sum(), 2 * _A),
    "reshape copy": (lambda y: np.reshape(y, (6,), copy=True), (_A**2).sum(), 2 * _A),
    "meshgrid": (lambda y: np.meshgrid(y[0], y[1])[0], 3 * (_A[0] ** 2).sum(),
                 np.vstack([6 * _A[0], 0 * _A[1]])),
}


@pytest.mark.parametrize("name", sorted(_COPIES))
def test_copies_stay_copies(name):
    """flatten, np.reshape(copy=True) and np.meshgrid give copies in NumPy: the update of y
    leaves them (no error), and Σ c² and its gradient are those of the old values."""
    take, value, grad = _COPIES[name]
    assert not np.shares_memory(np.asarray(take(_A)), _A)
    x = dk.tensor(_A.copy(), requires_grad=True)
    y = x * 1
    c = take(y)
    y *= 3
    s = (c * c).sum()
    s.backward()
    np.testing.assert_allclose(float(s), value, rtol=1e-14)
    np.testing.assert_allclose(x.grad, grad, rtol=1e-14)


# ----- 3. dk.tensor() reads what NumPy reads as an array, or names what it cannot ---------------------


def test_a_range_is_an_integer_array():
    """range(3) was kept as a range object (shape (), and a 'gradient' of 15 with requires_grad)."""
    assert np.array_equal(dk.tensor(range(3)).value, np.arange(3))
    with pytest.raises(dk.InputTypeError, match="floating point"):
        dk.tensor(range(3), requires_grad=True)


@pytest.mark.filterwarnings("ignore::PendingDeprecationWarning")
def test_a_matrix_becomes_a_plain_array():
    """np.matrix's * is a matrix product: kept as a matrix, t * t gave [[7, 10], [15, 22]]; the
    element-wise square is [[1, 4], [9, 16]]."""
    t = dk.tensor(np.matrix([[1.0, 2.0], [3.0, 4.0]]))
    assert type(t.value) is np.ndarray
    np.testing.assert_array_equal((t * t).value, [[1.0, 4.0], [9.0, 16.0]])


def test_array_like_inputs_are_read_as_numpy_reads_them():
    t = dk.tensor(array.array("d", [1.0, 2.0]), requires_grad=True)
    (t * t).sum().backward()
    np.testing.assert_allclose(t.grad, [2.0, 4.0])
    torch = pytest.importorskip("torch")
    np.testing.assert_array_equal(dk.tensor(torch.tensor([1.0, 2.0])).value, [1.0, 2.0])
    with pytest.raises(dk.InputTypeError, match="torch.Tensor"):
        dk.tensor(torch.tensor([1.0], requires_grad=True))


@pytest.mark.parametrize("value", ["abc", None, {"a": 1}, np.ma.array([1.0, 2.0])])
def test_what_is_no_array_of_numbers_is_refused_by_name(value):
    with pytest.raises(dk.InputTypeError, match=r"dk\.tensor\(\)"):
        dk.tensor(value)


# ----- 4. backward() of a result that requires no grad -----------------------------------------------


@pytest.mark.parametrize("make", [lambda x: (x > 1).sum(),
                                  lambda x: (x.astype(np.int64) * 1.0).sum()])
def test_backward_of_a_result_cut_from_the_leaves_is_an_error(make):
    """PyTorch raises; diffkit did nothing (x.grad None) where x.detach().sum() raised."""
    x = dk.tensor(np.array([1.0, 2.0]), requires_grad=True)
    z = make(x)
    with pytest.raises(dk.ShapeError, match="nothing in this graph requires a gradient"):
        z.backward()


# ----- 5. PyTorch's spellings: view(shape), dim= ----------------------------------------------------


def test_view_of_a_shape_is_a_reshape_and_a_view():
    a = np.arange(6.0).reshape(2, 3)
    x = dk.tensor(a, requires_grad=True)
    np.testing.assert_array_equal(x.view(-1).value, a.reshape(-1))
    np.testing.assert_array_equal(x.view(3, 2).value, a.reshape(3, 2))
    np.testing.assert_array_equal(x.view((3, 2)).value, a.reshape(3, 2))
    y = x * 1
    v = y.view(6)
    with pytest.raises(dk.TracedMutationError, match="view"):
        y *= 2
    del v
    with pytest.raises(dk.errors.TracedAttributeError, match=r"x\.astype"):
        x.view(np.float32)


def test_dim_is_axis_where_the_meaning_is_the_same():
    a = np.arange(6.0).reshape(2, 3)
    x = dk.tensor(a, requires_grad=True)
    np.testing.assert_allclose(x.sum(dim=1).value, [3.0, 12.0])
    np.testing.assert_allclose(x.mean(dim=0, keepdim=True).value, [[1.5, 2.5, 3.5]])
    x.sum(dim=1).sum().backward()
    np.testing.assert_allclose(x.grad, np.ones((2, 3)))
    with pytest.raises(dk.InputTypeError, match="values and indices"):
        x.max(dim=1)
    with pytest.raises(dk.InputTypeError, match="ddof"):
        x.std(dim=0)
