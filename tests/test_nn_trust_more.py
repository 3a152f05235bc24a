"""Bug hunt 2: diffkit.nn beyond the plain MLP. Each test asserts the RIGHT behaviour against an
independent reference (PyTorch float64) and fails on the current code."""

import re

import numpy as np
import pytest

import diffkit as dk
from diffkit import nn
from diffkit.errors import DiffkitError
from diffkit.nn.checkpoint import CheckpointError, load_state, save_state

try:  # the reference; the tests that need it skip without it (CI has no PyTorch)
    import torch
    import torch.nn.functional as F
except ImportError:
    torch = F = None
needs_torch = pytest.mark.skipif(torch is None, reason="needs PyTorch (the reference)")

if torch is not None:
    torch.set_default_dtype(torch.float64)


# cross_entropy silently drops label_smoothing when the probability target is a Tensor that requires grad
@needs_torch
def test_cross_entropy_label_smoothing_with_tensor_target():
    rng = np.random.default_rng(0)
    z = rng.standard_normal((4, 3))
    P = rng.dirichlet(np.ones(3), 4)
    target = nn.Parameter(P.copy())
    loss = nn.cross_entropy(z, target, label_smoothing=0.3)
    ref = F.cross_entropy(torch.tensor(z), torch.tensor(P), label_smoothing=0.3).item()
    assert float(loss.value) == pytest.approx(ref, rel=1e-12)


# clip_grad_norm_ given one Tensor (torch accepts it) iterates its elements: returns 0.0, clips nothing
@needs_torch
def test_clip_grad_norm_single_tensor():
    p = nn.Parameter(np.zeros(2))
    p.grad = np.array([3.0, 4.0])
    total = nn.clip_grad_norm_(p, 1.0)
    tp = torch.zeros(2, requires_grad=True)
    tp.grad = torch.tensor([3.0, 4.0])
    ttotal = torch.nn.utils.clip_grad_norm_(tp, 1.0)
    assert float(total) == pytest.approx(ttotal.item())  # 5.0
    np.testing.assert_allclose(p.grad, tp.grad.numpy(), rtol=1e-6)  # [0.6, 0.8]


# clip_grad_value_ given one Tensor silently clips nothing
@needs_torch
def test_clip_grad_value_single_tensor():
    p = nn.Parameter(np.zeros(2))
    p.grad = np.array([3.0, -4.0])
    nn.clip_grad_value_(p, 1.0)
    tp = torch.zeros(2, requires_grad=True)
    tp.grad = torch.tensor([3.0, -4.0])
    torch.nn.utils.clip_grad_value_(tp, 1.0)
    np.testing.assert_allclose(p.grad, tp.grad.numpy())  # [1, -1]


# an optimizer given one Tensor (not a list) optimizes its element views: step() changes nothing
def test_optimizer_single_tensor_is_refused_or_works():
    p = nn.Parameter(np.array([1.0, 2.0]))
    try:
        opt = nn.SGD(p, lr=0.1)
    except (TypeError, ValueError):
        return  # torch: TypeError "params argument given to the optimizer should be an iterable"
    opt.zero_grad()
    dk.sum(dk.mul(p, p)).backward()
    opt.step()
    np.testing.assert_allclose(p.value, [0.8, 1.6])  # θ − 0.1·2θ


# Module.load_state_dict replaces a float32 parameter by the saved array's dtype (torch copies into it)
def test_load_state_dict_keeps_parameter_dtype():
    m = nn.Linear(3, 2)  # float32
    m.load_state_dict({k: v.astype(np.float64) for k, v in m.state_dict().items()})
    assert m.weight.dtype == np.float32


# integer weights loaded into a float model make the model integer; SGD then truncates updates
@needs_torch
def test_load_state_dict_int_weights_then_train():
    m = nn.Linear(3, 2)
    m.load_state_dict({k: np.ones(v.shape, np.int64) for k, v in m.state_dict().items()})
    opt = nn.SGD(m.parameters(), lr=0.1)
    opt.zero_grad()
    nn.mse_loss(m(np.ones((2, 3), np.float32)), np.zeros((2, 2), np.float32)).backward()
    opt.step()
    tm = torch.nn.Linear(3, 2)
    with torch.no_grad():
        tm.weight.fill_(1.0)
        tm.bias.fill_(1.0)
    F.mse_loss(tm(torch.ones(2, 3)), torch.zeros(2, 2)).backward()
    with torch.no_grad():
        ref = tm.weight - 0.1 * tm.weight.grad  # 1 - 0.1*4 = 0.6
    np.testing.assert_allclose(np.asarray(m.weight.value, float), ref.numpy(), rtol=1e-6)


# BatchNorm1d in training on a batch of one: torch raises; diffkit outputs beta and shrinks running_var
@needs_torch
def test_batchnorm_training_batch_of_one_is_refused():
    with pytest.raises(ValueError):
        torch.nn.BatchNorm1d(2)(torch.ones(1, 2))
    bn = nn.BatchNorm1d(2)
    with pytest.raises(ValueError):
        bn(np.array([[1.0, 2.0]], np.float32))


# Conv2d with tuple stride/padding (torch accepts them) crashes with a bare TypeError in im2col
@needs_torch
def test_conv2d_tuple_stride_padding():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((1, 2, 7, 6))
    try:
        m = nn.Conv2d(2, 3, 3, stride=(2, 1), padding=(1, 0), dtype=np.float64)
        out = m(x)
    except DiffkitError:
        return  # a named error would be acceptable
    tm = torch.nn.Conv2d(2, 3, 3, stride=(2, 1), padding=(1, 0))
    with torch.no_grad():
        tm.weight.copy_(torch.tensor(m.weight.value))
        tm.bias.copy_(torch.tensor(m.bias.value))
    np.testing.assert_allclose(np.asarray(out.value), tm(torch.tensor(x)).detach().numpy(),
                               atol=1e-12)


# MaxPool2d with a tuple kernel_size (torch accepts it) crashes with a bare TypeError
@needs_torch
def test_maxpool_tuple_kernel():
    x = np.arange(32.0).reshape(1, 2, 4, 4)
    try:
        out = nn.MaxPool2d((2, 2))(x)
    except DiffkitError:
        return
    np.testing.assert_array_equal(np.asarray(out), torch.nn.MaxPool2d((2, 2))(torch.tensor(x)).numpy())


# MaxPool2d(2, stride=0) silently pools with stride 2 (torch: "stride should not be zero")
@needs_torch
def test_maxpool_stride_zero_refused():
    with pytest.raises((ValueError, RuntimeError)):
        torch.nn.functional.max_pool2d(torch.zeros(1, 1, 4, 4), 2, stride=0)
    with pytest.raises((ValueError, DiffkitError)):
        nn.MaxPool2d(2, stride=0)(np.zeros((1, 1, 4, 4)))


# GroupNorm(0, C) and Conv2d(kernel 0) raise bare ZeroDivisionError instead of a named error
def test_bad_layer_sizes_named_errors():
    with pytest.raises((ValueError, DiffkitError)):
        nn.GroupNorm(0, 4)
    with pytest.raises((ValueError, DiffkitError)):
        nn.Conv2d(3, 4, 0)


# cross_entropy with (N, C, d) probability targets reduces over the LAST axis (torch: dim 1).
# Rewritten (the hunt asserted torch's dim-1 result): diffkit's documented convention is classes
# last, so the reference is hand-computed over the last axis; moving the class axis last gives
# torch's (N, C, d) result.
@needs_torch
def test_cross_entropy_spatial_probability_targets():
    rng = np.random.default_rng(0)
    z = rng.standard_normal((2, 3, 4))
    P = rng.dirichlet(np.ones(3), (2, 4)).transpose(0, 2, 1)  # (N, C, d), sums to 1 over dim 1
    m = z.max(axis=-1, keepdims=True)
    log_p = z - (m + np.log(np.exp(z - m).sum(axis=-1, keepdims=True)))  # classes: the last axis
    hand = -(P * log_p).sum(axis=-1).mean()
    assert float(nn.cross_entropy(z, P)) == pytest.approx(hand, rel=1e-12)
    ref = F.cross_entropy(torch.tensor(z), torch.tensor(P)).item()  # classes: dim 1
    got = float(nn.cross_entropy(z.transpose(0, 2, 1), P.transpose(0, 2, 1)))
    assert got == pytest.approx(ref, rel=1e-12)
    assert "last axis" in nn.cross_entropy.__doc__.lower()


def _checkpoint(tmp_path):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((16, 4)).astype(np.float32)
    y = rng.integers(0, 3, 16)
    nn.manual_seed(0)
    m = nn.Sequential(nn.Linear(4, 5), nn.BatchNorm1d(5), nn.ReLU(), nn.Linear(5, 3))
    t = nn.Trainer(m, optimizer=nn.Adam(m.parameters(), lr=0.01), progress=False)
    t.fit(nn.DataLoader(X, y, batch_size=8), epochs=1)
    path = tmp_path / "run.ckpt"
    t.save_checkpoint(str(path))

    def fresh():
        nn.manual_seed(1)
        m2 = nn.Sequential(nn.Linear(4, 5), nn.BatchNorm1d(5), nn.ReLU(), nn.Linear(5, 3))
        return nn.Trainer(m2, optimizer=nn.Adam(m2.parameters(), lr=0.01), progress=False)

    return path, fresh


# a re-hashed (tampered) checkpoint with a NaN / negative lr loads silently; the constructor refuses them
@pytest.mark.parametrize("lr", [float("nan"), -5.0])
def test_checkpoint_bad_lr_refused(tmp_path, lr):
    path, fresh = _checkpoint(tmp_path)
    state = load_state(path)
    state["optimizer"]["param_groups"][0]["lr"] = lr
    bad = tmp_path / "bad.ckpt"
    save_state(bad, state)  # the SHA-256 is unkeyed: anyone can write a valid-looking file
    t = fresh()
    before = [p.value.copy() for p in t.model.parameters()]
    with pytest.raises(CheckpointError, match="learning rate"):
        t.load_checkpoint(str(bad))
    # all or nothing: the model's weights were not replaced by the refused file's
    assert all(np.array_equal(a, p.value) for a, p in zip(before, t.model.parameters()))
    assert t.epoch == 0


# a checkpoint whose weight entry is a list crashes with a bare AttributeError, not CheckpointError
def test_checkpoint_non_array_weight_named_error(tmp_path):
    path, fresh = _checkpoint(tmp_path)
    state = load_state(path)
    state["model"]["0.weight"] = [1, 2]
    bad = tmp_path / "bad.ckpt"
    save_state(bad, state)
    with pytest.raises(CheckpointError, match="0.weight"):
        fresh().load_checkpoint(str(bad))


# a checkpoint with a wrong-shape BatchNorm running_var loads silently (parameters are shape-checked)
def test_checkpoint_wrong_shape_buffer_refused(tmp_path):
    path, fresh = _checkpoint(tmp_path)
    state = load_state(path)
    state["model"]["1.running_var"] = np.ones(7, np.float32)
    bad = tmp_path / "bad.ckpt"
    save_state(bad, state)
    with pytest.raises(CheckpointError, match="running_var"):
        fresh().load_checkpoint(str(bad))


# ReduceLROnPlateau (threshold_mode='rel') differs from torch's documented best*(1-threshold) for negative metrics
def test_reduce_lr_on_plateau_negative_metric_matches_torch():
    # torch.optim.lr_scheduler.ReduceLROnPlateau: "min"/"rel" improves when a < best*(1 - threshold);
    # for negative metrics every value below 0.9*best counts as better, so torch never reduces here
    # (checked with torch: lrs [0.5, 0.5, 0.5, 0.5]). torch.optim is not imported: it takes ~4 s.
    w = nn.Parameter(np.zeros(1))
    opt = nn.SGD([w], lr=0.5)
    s = nn.ReduceLROnPlateau(opt, mode="min", factor=0.5, patience=0, threshold=0.1)
    got = []
    for metric in [-1.0, -0.95, -0.95, -0.89]:
        s.step(metric)
        got.append(opt.param_groups[0]["lr"])
    assert got == [0.5, 0.5, 0.5, 0.5]


# ----- further checks of the fixes (each fails on the code before them)

@needs_torch
def test_cross_entropy_label_smoothing_tensor_target_gradients_match_torch():
    rng = np.random.default_rng(1)
    z = rng.standard_normal((5, 4))
    P = rng.dirichlet(np.ones(4), 5)
    for reduction in ("mean", "sum"):
        zt, tt = nn.Parameter(z.copy()), nn.Parameter(P.copy())
        loss = nn.cross_entropy(zt, tt, reduction=reduction, label_smoothing=0.2)
        loss.backward()
        zr = torch.tensor(z, requires_grad=True)
        tr = torch.tensor(P, requires_grad=True)
        ref = F.cross_entropy(zr, tr, reduction=reduction, label_smoothing=0.2)
        ref.backward()
        assert float(loss.value) == pytest.approx(ref.item(), rel=1e-12)
        np.testing.assert_allclose(zt.grad, zr.grad.numpy(), rtol=1e-12, atol=1e-15)
        np.testing.assert_allclose(tt.grad, tr.grad.numpy(), rtol=1e-12, atol=1e-15)


def test_optimizer_single_tensor_message():
    p = nn.Parameter(np.array([1.0, 2.0]))
    with pytest.raises(TypeError, match="should be an iterable of Tensors or dicts, but got"):
        nn.Adam(p, lr=0.1)


def test_load_state_dict_refuses_bad_entries_and_changes_nothing():
    m = nn.Sequential(nn.Linear(2, 3), nn.BatchNorm1d(3))
    before = m.state_dict()
    for key, bad in [("1.running_var", np.ones(7, np.float32)), ("0.weight", [1, 2]),
                     ("0.bias", np.array(["a", "b", "c"])), ("0.weight", np.ones((2, 3)))]:
        state = {**before, key: bad}
        state["0.bias"] = state["0.bias"] if key == "0.bias" else np.full(3, 9.0)  # valid change
        with pytest.raises(ValueError, match=re.escape(key)):
            m.load_state_dict(state)
        for k, v in m.state_dict().items():
            np.testing.assert_array_equal(v, before[k])  # nothing loaded


def test_load_state_dict_buffers_keep_dtype():
    bn = nn.BatchNorm1d(3)
    bn.load_state_dict({"weight": np.ones(3), "bias": np.zeros(3),
                        "running_mean": np.arange(3.0), "running_var": np.ones(3, np.int64)})
    assert bn.running_mean.dtype == np.float32 and bn.running_var.dtype == np.float32
    np.testing.assert_array_equal(bn.running_mean, [0, 1, 2])


@needs_torch
def test_batchnorm_one_value_per_channel_message_and_allowed_cases():
    with pytest.raises(ValueError, match=re.escape(
            "Expected more than 1 value per channel when training, got input size (1, 2, 1, 1)")):
        nn.BatchNorm2d(2)(np.ones((1, 2, 1, 1), np.float32))
    with pytest.raises(ValueError, match="more than 1 value per channel"):
        nn.BatchNorm1d(2, track_running_stats=False).eval()(np.ones((1, 2), np.float32))
    x = np.arange(6.0, dtype=np.float32).reshape(1, 2, 3)  # three values per channel: fine
    y = nn.BatchNorm1d(2)(x)
    ref = torch.nn.BatchNorm1d(2)(torch.tensor(x, dtype=torch.float64))
    np.testing.assert_allclose(y.value, ref.detach().numpy(), atol=1e-5)
    assert nn.BatchNorm1d(2).eval()(np.ones((1, 2), np.float32)).shape == (1, 2)


@needs_torch
@pytest.mark.parametrize("stride, padding", [((2, 1), (1, 0)), ((1, 3), (0, 2)), (2, (2, 1))])
def test_conv2d_tuple_stride_padding_gradients_match_torch(stride, padding):
    rng = np.random.default_rng(2)
    x = rng.standard_normal((2, 2, 7, 6))
    m = nn.Conv2d(2, 3, (3, 2), stride=stride, padding=padding, dtype=np.float64)
    xt = nn.Parameter(x.copy())
    out = m(xt)
    c = rng.standard_normal(out.shape)
    dk.sum(dk.mul(out, c)).backward()
    tm = torch.nn.Conv2d(2, 3, (3, 2), stride=stride, padding=padding)
    with torch.no_grad():
        tm.weight.copy_(torch.tensor(m.weight.value))
        tm.bias.copy_(torch.tensor(m.bias.value))
    xr = torch.tensor(x, requires_grad=True)
    ref = tm(xr)
    (ref * torch.tensor(c)).sum().backward()
    np.testing.assert_allclose(out.value, ref.detach().numpy(), atol=1e-12)
    np.testing.assert_allclose(xt.grad, xr.grad.numpy(), atol=1e-12)
    np.testing.assert_allclose(m.weight.grad, tm.weight.grad.numpy(), atol=1e-12)
    np.testing.assert_allclose(m.bias.grad, tm.bias.grad.numpy(), atol=1e-12)


@needs_torch
@pytest.mark.parametrize("kernel, stride", [((2, 2), None), ((2, 1), (1, 2)), ((3, 2), 1)])
def test_maxpool_tuple_kernel_stride_matches_torch(kernel, stride):
    x = np.random.default_rng(3).standard_normal((2, 2, 5, 6))
    xt = nn.Parameter(x.copy())
    out = nn.MaxPool2d(kernel, stride)(xt)
    dk.sum(out).backward()
    xr = torch.tensor(x, requires_grad=True)
    ref = torch.nn.MaxPool2d(kernel, stride)(xr)
    ref.sum().backward()
    np.testing.assert_array_equal(out.value, ref.detach().numpy())
    np.testing.assert_array_equal(xt.grad, xr.grad.numpy())  # no ties in random data


@pytest.mark.parametrize("make, name", [
    (lambda: nn.MaxPool2d(0), "kernel_size"), (lambda: nn.MaxPool2d(2, stride=0), "stride"),
    (lambda: nn.MaxPool2d((2, 0)), "kernel_size"), (lambda: nn.Conv2d(3, 4, 0), "kernel_size"),
    (lambda: nn.Conv2d(3, 4, 3, stride=(1, 0)), "stride"),
    (lambda: nn.Conv2d(3, 4, 3, padding=-1), "padding"),
    (lambda: nn.GroupNorm(0, 4), "num_groups")])
def test_bad_layer_arguments_name_the_argument(make, name):
    with pytest.raises(ValueError, match=name):
        make()


def _sgd_state(**changes):
    w = nn.Parameter(np.zeros(2))
    opt = nn.SGD([w], lr=0.1, momentum=0.9)
    sd = opt.state_dict()
    sd["param_groups"][0].update(changes)
    return opt, sd


@pytest.mark.parametrize("changes, match", [
    ({"lr": float("nan")}, "Invalid learning rate: nan"), ({"lr": -1.0}, "learning rate"),
    ({"momentum": -0.5}, "Invalid momentum value"), ({"lr": "0.1"}, "learning rate"),
    ({"nesterov": True, "momentum": 0.0}, "Nesterov"), ({"nesterov": "yes"}, "nesterov")])
def test_optimizer_load_state_dict_validates_hyper_parameters(changes, match):
    opt, sd = _sgd_state(**changes)
    with pytest.raises(ValueError, match=match):
        opt.load_state_dict(sd)
    assert opt.param_groups[0]["lr"] == 0.1 and opt.param_groups[0]["momentum"] == 0.9


def test_optimizer_load_state_dict_refuses_missing_hyper_parameter():
    opt, sd = _sgd_state()
    del sd["param_groups"][0]["momentum"]
    with pytest.raises(ValueError, match="lacks momentum"):
        opt.load_state_dict(sd)
    w = nn.Parameter(np.zeros(2))
    adam = nn.Adam([w], lr=0.1)
    sd = adam.state_dict()
    sd["param_groups"][0]["betas"] = (0.9, 1.5)
    with pytest.raises(ValueError, match="beta parameter at index 1"):
        adam.load_state_dict(sd)


@pytest.mark.parametrize("mode, metrics, expected", [
    ("max", [-1.0, -1.05, -1.2], [0.5, 0.5, 0.25]),  # -1.05 > -1·1.1: better; -1.2 ≯ -1.155
    ("min", [1.0, 0.95, 0.89], [0.5, 0.25, 0.25]),    # 0.95 ≮ 0.9 : bad; 0.89 < 0.9: better
    ("max", [1.0, 1.05, 1.11], [0.5, 0.25, 0.25])])   # 1.05 ≯ 1.1: bad; 1.11 > 1.1: better
def test_reduce_lr_on_plateau_rel_rule(mode, metrics, expected):
    w = nn.Parameter(np.zeros(1))
    opt = nn.SGD([w], lr=0.5)
    s = nn.ReduceLROnPlateau(opt, mode=mode, factor=0.5, patience=0, threshold=0.1)
    got = []
    for metric in metrics:
        s.step(metric)
        got.append(opt.param_groups[0]["lr"])
    assert got == expected


# a string epoch loaded silently from a re-hashed checkpoint
def test_checkpoint_bad_epoch_refused(tmp_path):
    path, fresh = _checkpoint(tmp_path)
    state = load_state(path)
    state["epoch"] = "3"
    bad = tmp_path / "bad.ckpt"
    save_state(bad, state)
    with pytest.raises(CheckpointError, match="epoch"):
        fresh().load_checkpoint(str(bad))
