"""The eager API with PyTorch habits (hunt 8, h8_1): hand-written loops and custom modules under
``nn.no_grad()``, frozen parameters, integer leaves, BatchNorm(momentum=None), Sequential slices and
``Module.to``. Each test checks against a hand formula or PyTorch float64 (skipped without it)."""

import numpy as np
import pytest

import diffkit as dk
from diffkit import nn


# ---- 1. nn.no_grad() records nothing on the eager tape ------------------------------------------
def test_no_grad_block_result_is_a_constant_for_backward():
    w0 = np.array([0.5, -1.0, 2.0])
    w = dk.tensor(w0, requires_grad=True)
    with nn.no_grad():
        c = w * 2.0  # a constant (PyTorch: requires_grad False, no graph)
        assert not c.requires_grad
    (c * w).sum().backward()
    np.testing.assert_allclose(w.grad, 2 * w0, rtol=1e-12)  # d/dw Σ c·w = c = 2w (was 4w)


def test_no_grad_block_result_matches_torch():
    torch = pytest.importorskip("torch")
    w0 = np.array([0.5, -1.0, 2.0])
    w = dk.tensor(w0, requires_grad=True)
    with nn.no_grad():
        c = dk.sin(w) * w + 1.0
    (c * w).sum().backward()
    wt = torch.tensor(w0, requires_grad=True)
    with torch.no_grad():
        ct = torch.sin(wt) * wt + 1.0
    (ct * wt).sum().backward()
    np.testing.assert_allclose(w.grad, wt.grad.numpy(), rtol=1e-12)


def test_no_grad_target_in_hand_written_regression_loop():
    """A target computed under no_grad from the trained weights (TD / self-distillation habit):
    loss = mean((XW − t)²) with t constant, so dL/dW = 2 Xᵀ(XW − t)/n."""
    rng = np.random.default_rng(0)
    X, W0 = rng.normal(size=(5, 3)), rng.normal(size=(3, 2))
    W = dk.tensor(W0, requires_grad=True)
    with nn.no_grad():
        target = (X @ W) * 0.5 + 1.0
    ((X @ W - target) ** 2).mean().backward()
    t = X @ W0 * 0.5 + 1.0
    np.testing.assert_allclose(W.grad, 2 * X.T @ (X @ W0 - t) / t.size, rtol=1e-12, atol=1e-14)


def test_no_grad_module_on_input_that_requires_grad_records_nothing():
    nn.manual_seed(0)  # (float32 sums: the tolerance below holds for any weights, seeded anyway)
    lin, drop = nn.Linear(3, 2), nn.Dropout(0.5)
    x = dk.tensor(np.ones((4, 3), np.float32), requires_grad=True)
    with nn.no_grad():
        assert not nn.is_grad_enabled()
        y, z = lin(x), drop(x)
    assert not y.requires_grad and not z.requires_grad
    w, b = lin.weight.value.astype(np.float64), lin.bias.value.astype(np.float64)
    scale = np.abs(w).sum(axis=1) + np.abs(b)  # float32 rounding is relative to the terms summed
    error = np.abs(y.value - (np.ones((4, 3)) @ w.T + b))
    assert np.all(error <= 8 * np.finfo(np.float32).eps * scale), (error, scale)


def test_dk_grad_inside_no_grad_still_differentiates():
    """no_grad is the eager tape's switch: a traced function's tape is not affected."""
    lin = nn.Linear(2, 1, dtype=np.float64)
    x0 = np.array([[0.3, -0.7]])
    with nn.no_grad():
        (g,) = dk.grad(lambda x: (x * x).sum() * 1.5)(np.array([1.0, -2.0]))
        (gw,) = dk.grad(lambda w: nn.functional_call(lin, {"weight": w}, x0).sum())(
            np.array(lin.weight.value))
    np.testing.assert_allclose(g, [3.0, -6.0])
    np.testing.assert_allclose(gw, x0)


# ---- 2. frozen nn.Parameter(..., requires_grad=False) is a registered parameter ---------------
class _Frozen(nn.Module):
    def __init__(self, v):
        super().__init__()
        self.w = nn.Parameter(np.ones(2))
        self.scale = nn.Parameter(np.full(2, v), requires_grad=False)

    def forward(self, x):
        return (x * self.w * self.scale).sum()


def test_frozen_parameter_is_in_state_dict_and_load_restores_it():
    a, b = _Frozen(3.0), _Frozen(7.0)
    assert set(a.state_dict()) == {"w", "scale"}  # PyTorch's keys
    b.load_state_dict(a.state_dict())
    assert float(b(np.ones(2))) == pytest.approx(6.0)  # Σ 1·1·3 (was 14: scale not loaded)


def test_frozen_parameter_state_dict_keys_match_torch():
    torch = pytest.importorskip("torch")

    class TM(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.w = torch.nn.Parameter(torch.ones(2, dtype=torch.float64))
            self.scale = torch.nn.Parameter(torch.full((2,), 3.0, dtype=torch.float64),
                                            requires_grad=False)

    assert list(_Frozen(3.0).state_dict()) == list(TM().state_dict())


def test_frozen_parameter_listed_and_trainable_after_unfreezing():
    m = _Frozen(3.0)
    assert [k for k, _ in m.named_parameters()] == ["w", "scale"]
    opt = nn.SGD(m.parameters(), lr=0.1)  # PyTorch accepts a frozen parameter
    m(np.ones(2)).backward()
    assert m.scale.grad is None
    opt.step()  # skips it
    np.testing.assert_array_equal(m.scale.value, [3.0, 3.0])
    np.testing.assert_allclose(m.w.value, 1.0 - 0.1 * 3.0)  # d/dw Σ w·3 = 3
    m.scale.requires_grad = True  # unfreezing: the next step trains it
    opt.zero_grad()
    m(np.ones(2)).backward()
    opt.step()
    np.testing.assert_allclose(m.scale.value, 3.0 - 0.1 * 0.7)  # d/dscale = w = 0.7


def test_assigning_frozen_parameter_to_a_parameter_slot():
    lin = nn.Linear(2, 2)
    new = nn.Parameter(np.zeros((2, 2), np.float32), requires_grad=False)
    lin.weight = new  # PyTorch's fine-tuning habit (was TypeError)
    assert lin.weight is new and "weight" in lin.state_dict()
    with pytest.raises(TypeError, match="parameter 'bias'"):
        lin.bias = dk.tensor(np.zeros(2, np.float32))  # a plain constant is still refused


def test_optimizer_refuses_what_pytorch_refuses():
    p = nn.Parameter(np.ones(2))
    with pytest.raises(ValueError, match="non-leaf"):
        nn.SGD([p * 2.0], lr=0.1)
    with pytest.raises(TypeError, match="only optimize Tensors"):
        nn.SGD([np.ones(2)], lr=0.1)


# ---- 3. a custom forward calls Tensor methods on its parameters under no_grad --------------
class _LogScale(nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(3, 2)
        self.log_scale = nn.Parameter(np.full(2, 0.25, np.float32))

    def forward(self, x):
        return self.lin(x).sigmoid() * self.log_scale.exp()  # PyTorch habits


def _expected(m, X):
    z = X @ m.lin.weight.value.T + m.lin.bias.value
    return 1 / (1 + np.exp(-z)) * np.exp(0.25)


def test_custom_module_with_tensor_method_runs_under_no_grad():
    m = _LogScale()
    X = np.random.default_rng(1).normal(size=(4, 3)).astype(np.float32)
    with nn.no_grad():
        out = m(X)  # was AttributeError: 'numpy.ndarray' object has no attribute 'exp'
    assert not out.requires_grad
    np.testing.assert_allclose(out.value, _expected(m, X), rtol=1e-5)


def test_custom_module_with_tensor_method_predicts():
    m = _LogScale()
    X = np.random.default_rng(2).normal(size=(4, 3)).astype(np.float32)
    np.testing.assert_allclose(nn.predict(m, X), _expected(m, X), rtol=1e-5)


def test_trainer_fit_with_val_data_on_custom_module_using_tensor_methods():
    m = _LogScale()
    rng = np.random.default_rng(3)
    X = rng.normal(size=(8, 3)).astype(np.float32)
    y = np.array([0, 1] * 4)
    h = nn.Trainer(m, progress=False).fit(nn.DataLoader(X, y, batch_size=4),
                                          val_data=(X, y), epochs=1)
    assert np.isfinite(h["val_loss"][-1])


def test_writing_a_parameter_in_forward_under_no_grad_updates_it_as_pytorch():
    """PyTorch: ``self.w *= 2`` in a forward under no_grad scales the parameter; diffkit's rule for
    graphs recorded before: they keep the value they used (d Σw²/dw at w = 1 is 2)."""
    class Scaler(nn.Module):
        def __init__(self):
            super().__init__()
            self.w = nn.Parameter(np.ones(2))

        def forward(self, x):
            self.w *= 2.0
            return x * self.w

    m = Scaler()
    p = m.w
    y = (m.w * m.w).sum()
    with nn.no_grad():
        out = m(np.ones(2))
    assert m.w is p and m.parameters() == [p]
    np.testing.assert_array_equal(m.w.value, [2.0, 2.0])
    np.testing.assert_array_equal(out.value, [2.0, 2.0])
    y.backward()
    np.testing.assert_array_equal(m.w.grad, [2.0, 2.0])


# ---- 4. integer leaves cannot require grad (PyTorch's rule) ----------------------------------
def test_integer_leaf_requiring_grad_is_refused():
    with pytest.raises(dk.errors.InputTypeError, match="only floating point and complex"):
        dk.tensor(np.array([1, 2, 3], dtype=np.int32), requires_grad=True)
    with pytest.raises(dk.errors.InputTypeError, match="floating point"):
        dk.tensor([1, 2, 3], requires_grad=True)
    with pytest.raises(dk.errors.InputTypeError, match="floating point"):
        nn.Parameter(np.arange(3))
    with pytest.raises(dk.errors.InputTypeError, match="floating point"):
        dk.tensor([True, False]).requires_grad_()


def test_requires_grad_method_on_a_float_leaf():
    x = dk.tensor([1.0, 2.0, 3.0])
    assert x.requires_grad_() is x and x.requires_grad
    (x * x).sum().backward()
    np.testing.assert_allclose(x.grad, [2.0, 4.0, 6.0])  # 2x
    y = x * 2.0
    with pytest.raises(dk.TracingError, match="leaf"):
        y.requires_grad_(False)


# ---- 5. BatchNorm(momentum=None): PyTorch's cumulative moving average ------------------------
def test_batchnorm_momentum_none_is_the_cumulative_average():
    rng = np.random.default_rng(0)
    batches = [rng.normal(size=(4, 3)), rng.normal(size=(6, 3)) + 1, rng.normal(size=(5, 3)) * 2]
    bn = nn.BatchNorm1d(3, momentum=None, dtype=np.float64)
    for X in batches:
        bn(X)  # was TypeError: int - NoneType
    # the k-th batch weighs 1/k (the first 1: the initial 0 and 1 drop out), so the running
    # statistics are the plain averages of the batch means and unbiased variances
    mean = np.mean([X.mean(axis=0) for X in batches], axis=0)
    var = np.mean([X.var(axis=0, ddof=1) for X in batches], axis=0)
    np.testing.assert_allclose(bn.running_mean, mean, rtol=1e-12)
    np.testing.assert_allclose(bn.running_var, var, rtol=1e-12)
    assert int(bn.state_dict()["num_batches_tracked"]) == 3


def test_batchnorm_momentum_none_matches_torch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    bn = nn.BatchNorm1d(3, momentum=None, dtype=np.float64)
    tb = torch.nn.BatchNorm1d(3, momentum=None).double()
    for X in (rng.normal(size=(4, 3)), rng.normal(size=(6, 3)) + 1):
        bn(X)
        tb(torch.tensor(X))
    np.testing.assert_allclose(bn.running_mean, tb.running_mean.numpy(), rtol=1e-12)
    np.testing.assert_allclose(bn.running_var, tb.running_var.numpy(), rtol=1e-12)
    assert int(bn.num_batches_tracked) == int(tb.num_batches_tracked)


# ---- 6. small module habits --------------------------------------------------------------------
def test_sequential_slice_is_a_callable_sequential():
    m = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
    X = np.ones((2, 3), np.float32)
    head = m[:-1]  # PyTorch: a Sequential (was a list)
    assert isinstance(head, nn.Sequential) and len(head) == 2 and head[0] is m[0]
    np.testing.assert_allclose(head(X).value, np.maximum(X @ m[0].weight.value.T
                                                         + m[0].bias.value, 0), rtol=1e-6)


def test_module_to_same_device_keeps_accumulated_grad():
    lin = nn.Linear(2, 2)
    lin(np.ones((1, 2), np.float32)).sum().backward()
    g = lin.weight.grad.copy()
    lin.to("cpu")  # PyTorch moves .grad with the parameter (was: set to None)
    np.testing.assert_array_equal(lin.weight.grad, g)


def test_frozen_parameter_of_a_copied_model_stays_a_parameter():
    import copy
    import pickle

    for copied in (copy.deepcopy(_Frozen(3.0)), pickle.loads(pickle.dumps(_Frozen(3.0)))):
        other = nn.Module()
        other.scale = copied.scale  # registers there too, as the original would
        assert [k for k, _ in other.named_parameters()] == ["scale"]
        with nn.no_grad():
            copied.scale *= 2.0  # the in-place update rebinds the same parameter
        np.testing.assert_array_equal(copied.state_dict()["scale"], [6.0, 6.0])
