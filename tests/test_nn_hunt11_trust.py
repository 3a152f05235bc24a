"""Trust (11th bug hunt, diffkit.nn): answers checked against independent references.

Each test failed before its fix. The references are hand formulas and hand-computed sequences
that run everywhere, and PyTorch in float64 where it is installed (skipped otherwise); the
Trainer cases compare the compiled step with ``Trainer(compile=False)``, the eager tape.
"""

from __future__ import annotations

import copy
import functools
import math

import numpy as np
import pytest

import diffkit as dk
from diffkit import nn
from diffkit.errors import InputTypeError, ShapeError

try:
    import torch
    import torch.nn.functional as F
except ImportError:  # CI has no torch: the hand references still run
    torch = None
needs_torch = pytest.mark.skipif(torch is None, reason="needs PyTorch")
# PyTorch's schedulers warn when stepped without an optimizer step (only the rates matter here)
pytestmark = pytest.mark.filterwarnings("ignore:Detected call of:UserWarning")

MASKED = np.array([[2.0, -np.inf, 0.5], [-np.inf, 1.0, 0.0]])


def _lse(row: np.ndarray) -> float:
    finite = row[np.isfinite(row)]
    return float(finite.max() + np.log(np.exp(finite - finite.max()).sum()))


# ----- F1: cross_entropy with masked (−inf) logits
def test_cross_entropy_of_masked_logits_is_finite_and_its_gradient_is_softmax_minus_onehot():
    z = dk.tensor(MASKED, requires_grad=True)
    loss = nn.cross_entropy(z, np.array([0, 1]))
    loss.backward()
    want = np.mean([_lse(MASKED[0]) - 2.0, _lse(MASKED[1]) - 1.0])  # by hand: lse − z_target
    assert float(loss) == pytest.approx(want, rel=1e-15)
    soft = np.exp(MASKED - np.array([[_lse(r)] for r in MASKED]))
    np.testing.assert_allclose(z.grad, (soft - np.eye(3)[[0, 1]]) / 2, rtol=1e-15, atol=0)
    # probability targets with a zero weight on the masked class: that class adds nothing
    probs = np.array([[0.9, 0.0, 0.1], [0.0, 0.5, 0.5]])
    got = float(nn.cross_entropy(MASKED, probs, reduction="sum"))
    logp = MASKED - np.array([[_lse(r)] for r in MASKED])
    assert got == pytest.approx(-(0.9 * logp[0, 0] + 0.1 * logp[0, 2] + 0.5 * logp[1, 1]
                                  + 0.5 * logp[1, 2]), rel=1e-14)
    # a target on the masked class is an infinite loss, as in PyTorch
    assert float(nn.cross_entropy(MASKED, np.array([1, 1]))) == math.inf


@needs_torch
def test_cross_entropy_of_masked_logits_matches_pytorch():
    for dtype, tdt in ((np.float64, torch.float64), (np.float32, torch.float32)):
        z = dk.tensor(MASKED.astype(dtype), requires_grad=True)
        loss = nn.cross_entropy(z, np.array([0, 1]))
        loss.backward()
        zt = torch.tensor(MASKED, dtype=tdt, requires_grad=True)
        lt = F.cross_entropy(zt, torch.tensor([0, 1]))
        lt.backward()
        assert float(loss) == pytest.approx(lt.item(), rel=1e-6 if dtype == np.float32 else 1e-15)
        np.testing.assert_allclose(z.grad, zt.grad.numpy(), rtol=1e-6, atol=1e-7)


def test_trainer_with_a_masked_class_trains_compiled_as_eagerly():
    """A class masked by a −inf bias: the compiled step's printed loss (the primitive's
    expansion) is finite and equal to the eager tape's, bit for bit."""
    X, y = nn.make_moons(96, seed=0)
    X = np.asarray(X, np.float64)
    runs = []
    for compile_ in (None, False):
        nn.manual_seed(3)
        model = nn.Sequential(nn.Linear(2, 8, dtype=np.float64), nn.Tanh(),
                              nn.Linear(8, 3, dtype=np.float64))
        model[2].bias.value[2] = -np.inf  # class 2 is impossible
        tr = nn.Trainer(model, optimizer=nn.SGD(model.parameters(), lr=0.1), progress=False,
                        compile=compile_)
        h = tr.fit(nn.DataLoader(X, y, batch_size=16, seed=0), epochs=3)
        runs.append((h["loss"], model[0].weight.value.copy(), tr.compiled))
    (loss_c, w_c, how), (loss_e, w_e, _) = runs
    assert how == "compiled"
    assert all(math.isfinite(v) for v in loss_c)
    assert loss_c == loss_e
    np.testing.assert_array_equal(w_c, w_e)


# ----- F2: nll_loss picks the target's entry
def test_nll_loss_with_an_impossible_class_picks_the_target_entry():
    with np.errstate(divide="ignore"):
        lp = np.log(np.array([[0.5, 0.5, 0.0], [0.2, 0.3, 0.5]]))
    x = dk.tensor(lp, requires_grad=True)
    loss = nn.nll_loss(x, np.array([0, 2]))
    loss.backward()
    assert float(loss) == pytest.approx(-(lp[0, 0] + lp[1, 2]) / 2, rel=1e-15)
    np.testing.assert_array_equal(x.grad, [[-0.5, 0, 0], [0, 0, -0.5]])
    assert float(nn.nll_loss(lp, np.array([1, 0]), reduction="sum")) == \
        pytest.approx(-(lp[0, 1] + lp[1, 0]), rel=1e-15)
    if torch is not None:
        lt = F.nll_loss(torch.tensor(lp), torch.tensor([0, 2]))
        assert float(loss) == pytest.approx(lt.item(), rel=1e-15)


# ----- F3: schedulers update the current rate, as PyTorch's chainable ones
def _opt(lr: float = 1.0) -> nn.SGD:
    return nn.SGD([nn.Parameter(np.zeros(2))], lr=lr)


def _lr(opt: nn.SGD) -> float:
    return opt.param_groups[0]["lr"]


def test_two_schedulers_compose_by_hand():
    opt = _opt()
    s1, s2 = nn.StepLR(opt, 2, 0.5), nn.ExponentialLR(opt, 0.9)
    got = []
    for _ in range(4):
        s1.step()
        s2.step()
        got.append(_lr(opt))
    # epoch e: 0.9^e · 0.5^⌊e/2⌋
    np.testing.assert_allclose(got, [0.9, 0.405, 0.3645, 0.164025], rtol=1e-15)


def test_a_plateau_cut_stays_under_a_step_schedule_by_hand():
    opt = _opt()
    step, plateau = nn.StepLR(opt, 10, 0.5), nn.ReduceLROnPlateau(opt, patience=0, factor=0.1)
    got = []
    for metric in (1.0, 2.0, 3.0):
        step.step()
        plateau.step(metric)
        got.append(_lr(opt))
    np.testing.assert_allclose(got, [1.0, 0.1, 0.01], rtol=1e-15)


MANUAL = {  # rate set to 0.3 by hand after construction; the next 5 epochs' rates, by hand
    "StepLR": (lambda o: nn.StepLR(o, 2, 0.5), [0.3, 0.15, 0.15, 0.075, 0.075]),
    "MultiStepLR": (lambda o: nn.MultiStepLR(o, [2, 3, 3], 0.5),
                    [0.3, 0.15, 0.0375, 0.0375, 0.0375]),
    "ExponentialLR": (lambda o: nn.ExponentialLR(o, 0.5), [0.15, 0.075, 0.0375, 0.01875,
                                                            0.009375]),
    # η_min = 0: each step scales the rate by the ratio of two cosine terms, so a rate
    # scaled by 0.3 stays 0.3 × the closed form; after the trough (epoch T_max + 1) the rate
    # climbs by the base rate's step (1 − cos(π/T_max))/2, as PyTorch's does
    "CosineAnnealingLR": (lambda o: nn.CosineAnnealingLR(o, 4),
                          [0.3 * (1 + math.cos(math.pi * e / 4)) / 2 for e in range(1, 5)]
                          + [(1 - math.cos(math.pi / 4)) / 2]),
}


@pytest.mark.parametrize("name", sorted(MANUAL))
def test_a_rate_set_by_hand_is_where_each_scheduler_continues(name):
    make, want = MANUAL[name]
    opt = _opt()
    sched = make(opt)
    opt.param_groups[0]["lr"] = 0.3
    got = []
    for _ in range(5):
        sched.step()
        got.append(_lr(opt))
    np.testing.assert_allclose(got, want, rtol=1e-14, atol=1e-17)


def test_a_rate_set_by_hand_is_where_reduce_on_plateau_continues():
    """(ReduceLROnPlateau always updated the current rate: a guard, it passed before.)"""
    opt = _opt()
    sched = nn.ReduceLROnPlateau(opt, patience=0, factor=0.5)
    opt.param_groups[0]["lr"] = 0.3
    got = []
    for metric in (1.0, 2.0, 0.5, 0.7):
        sched.step(metric)
        got.append(_lr(opt))
    np.testing.assert_allclose(got, [0.3, 0.15, 0.15, 0.075], rtol=1e-15)


SCHEDULERS = {
    "StepLR": (lambda o: nn.StepLR(o, 3, 0.5),
               lambda o: torch.optim.lr_scheduler.StepLR(o, 3, 0.5)),
    "MultiStepLR": (lambda o: nn.MultiStepLR(o, [5, 2, 5, 9], 0.3),
                    lambda o: torch.optim.lr_scheduler.MultiStepLR(o, [5, 2, 5, 9], 0.3)),
    "ExponentialLR": (lambda o: nn.ExponentialLR(o, 0.8),
                      lambda o: torch.optim.lr_scheduler.ExponentialLR(o, 0.8)),
    "CosineAnnealingLR": (lambda o: nn.CosineAnnealingLR(o, 4, 0.05),
                          lambda o: torch.optim.lr_scheduler.CosineAnnealingLR(o, 4, 0.05)),
}


@needs_torch
@pytest.mark.parametrize("second", [None, "plateau", *sorted(SCHEDULERS)])
@pytest.mark.parametrize("first", sorted(SCHEDULERS))
def test_schedulers_chained_and_set_by_hand_match_pytorch(first, second):
    """12 epochs of `first` (+ `second`, or a ReduceLROnPlateau) on one optimizer with two
    groups, the rate set by hand at epoch 5: PyTorch's rates at every epoch."""
    metrics = [3.0, 2.0, 2.5, 2.5, 1.0, 1.5, 1.5, 0.5, 0.7, 0.8, 0.9, 1.0]
    runs = []
    for lib in (0, 1):
        if lib == 0:
            opt = nn.SGD([{"params": [nn.Parameter(np.zeros(1))], "lr": 1.0},
                          {"params": [nn.Parameter(np.zeros(1))], "lr": 0.2}])
            plateau = nn.ReduceLROnPlateau
        else:
            opt = torch.optim.SGD([{"params": [torch.zeros(1, requires_grad=True)], "lr": 1.0},
                                   {"params": [torch.zeros(1, requires_grad=True)], "lr": 0.2}])
            plateau = torch.optim.lr_scheduler.ReduceLROnPlateau
        scheds = [SCHEDULERS[first][lib](opt)]
        if second == "plateau":
            scheds.append(plateau(opt, patience=1, factor=0.5))
        elif second is not None:
            scheds.append(SCHEDULERS[second][lib](opt))
        rates = []
        for epoch, metric in enumerate(metrics):
            if epoch == 5:
                opt.param_groups[1]["lr"] = 0.7
            for s in scheds:
                s.step(metric) if s.__class__.__name__ == "ReduceLROnPlateau" else s.step()
            rates.append([g["lr"] for g in opt.param_groups])
        runs.append(rates)
    np.testing.assert_allclose(runs[0], runs[1], rtol=1e-13, atol=1e-16)


# ----- F4 (decided, docs/nn.md): binary_cross_entropy's gradient is the derivative of the loss
# diffkit computes, clamped logs included, in every method; PyTorch's backward formula
# (p − y)/max(p(1 − p), 1e-12) agrees wherever it is that derivative (p(1 − p) ≥ 1e-12)
BCE_CASES = [(0.3, 1.0), (0.7, 0.2), (1e-6, 1.0), (1 - 1e-9, 0.0), (0.5, 0.5)]


@pytest.mark.parametrize("method", ["reverse", "forward", "symbolic"])
def test_bce_gradient_is_the_derivative_of_its_loss(method):
    for p, y in BCE_CASES:
        (g,) = dk.grad(lambda q: nn.binary_cross_entropy(q, np.array(y)), method=method)(p)  # noqa: B023
        assert g == pytest.approx(-y / p + (1 - y) / (1 - p), rel=1e-9), (p, y)
    # where the log is clamped the loss is flat: 0 (PyTorch's formula gives -1e12 there)
    (g,) = dk.grad(lambda q: nn.binary_cross_entropy(q, np.array(1.0)), method=method)(0.0)
    assert g == 0.0


@needs_torch
def test_bce_gradient_matches_pytorch_where_its_formula_is_the_derivative():
    for dtype, tdt in ((np.float64, torch.float64), (np.float32, torch.float32)):
        for p, y in BCE_CASES[:3]:
            pd = dk.tensor(np.array([p], dtype), requires_grad=True)
            nn.binary_cross_entropy(pd, np.array([y], dtype)).backward()
            pt = torch.tensor([p], dtype=tdt, requires_grad=True)
            F.binary_cross_entropy(pt, torch.tensor([y], dtype=tdt)).backward()
            np.testing.assert_allclose(pd.grad, pt.grad.numpy(), rtol=1e-5,
                                       err_msg=f"{dtype.__name__} p={p}, y={y}")


# ----- F5: one_hot refuses labels PyTorch refuses
def test_one_hot_refuses_negative_too_large_and_float_labels():
    with pytest.raises(ValueError, match=r"one_hot: label -1 \(at index 1\).*3 classes"):
        nn.one_hot(np.array([0, -1]), 3)
    with pytest.raises(ValueError, match=r"one_hot: label 3 \(at index 1\)"):
        nn.one_hot(np.array([0, 3]), 3)
    with pytest.raises(InputTypeError, match=r"one_hot: class labels must be integers \(got a "
                                             r"float64 array of shape \(2,\)\)"):
        nn.one_hot(np.array([0.0, 2.0]), 3)
    np.testing.assert_array_equal(nn.one_hot(np.array([2, 0]), 3), [[0, 0, 1], [1, 0, 0]])


# ----- F6: float class labels are named as such; a list of ints is labels
def test_float_class_labels_say_labels_must_be_integers():
    z, y = np.zeros((6, 4)), np.array([0, 1, 2, 3, 0, 1])
    with pytest.raises(InputTypeError, match=r"cross_entropy: class labels must be integers "
                                             r"\(got a float64 array of shape \(6,\)\)"):
        nn.cross_entropy(z, y.astype(float))
    with pytest.raises(InputTypeError, match="nll_loss: class labels must be integers"):
        nn.nll_loss(z, y.astype(float))
    assert float(nn.cross_entropy(z, list(y))) == pytest.approx(math.log(4), rel=1e-15)
    X = np.random.default_rng(0).normal(size=(6, 5))
    tr = nn.Trainer(nn.MLP([5, 8, 4]), progress=False)
    with pytest.raises(InputTypeError, match="class labels must be integers"):
        tr.fit(nn.DataLoader(X, y.astype(float), batch_size=3), epochs=1)


# ----- F7: shape mistakes name the layer and the expected and given shapes
def test_layer_shape_errors_name_the_layer():
    with pytest.raises(ShapeError, match=r"Conv2d\(2, 2, .*in_channels = 2, got shape "
                                         r"\(1, 1, 5, 5\) \(1 channel\)"):
        nn.Conv2d(2, 2, 3)(np.zeros((1, 1, 5, 5), np.float32))
    with pytest.raises(ShapeError, match=r"GroupNorm\(2, 4\).*num_channels = 4, got shape "
                                         r"\(2, 6, 3, 3\) \(6 channels\)"):
        nn.GroupNorm(2, 4)(np.zeros((2, 6, 3, 3), np.float32))
    with pytest.raises(ShapeError, match=r"MaxPool2d\(kernel_size=2, stride=2\) expects an "
                                         r"\(N, C, H, W\) batch, got shape \(1, 4, 4\)"):
        nn.MaxPool2d(2)(np.zeros((1, 4, 4), np.float32))


# ----- F8: losses of an empty batch: PyTorch's NaN mean and an empty gradient
@pytest.mark.parametrize("loss", ["cross_entropy", "mse_loss", "nll_loss"])
def test_losses_of_an_empty_batch(loss):
    z = dk.tensor(np.zeros((0, 3)), requires_grad=True)
    target = np.zeros((0, 3)) if loss == "mse_loss" else np.zeros(0, int)
    value = getattr(nn, loss)(z, target)
    assert math.isnan(float(value))
    dk.sum(dk.mul(value, 1.0)).backward()
    assert z.grad.shape == (0, 3)
    assert float(getattr(nn, loss)(np.zeros((0, 3)), target, reduction="sum")) == 0.0


# ----- F9: zero rows through Flatten
def test_predict_with_zero_rows_through_flatten():
    m = nn.Sequential(nn.Conv2d(1, 2, 3), nn.Flatten(), nn.Linear(32, 3))
    assert nn.predict(m, np.zeros((0, 1, 6, 6))).shape == (0, 3)
    assert nn.Flatten()(np.zeros((0, 2, 3))).shape == (0, 6)


# ----- F10: clip_grad_norm_ of order 0, PyTorch's answer
def test_clip_grad_norm_of_order_zero():
    grads = [np.array([1.0, 0.0, 2.0]), np.array([0.0, 3.0, 4.0, 5.0]), np.zeros(2)]
    params = [nn.Parameter(np.zeros_like(g)) for g in grads]
    for p, g in zip(params, grads):
        p.grad = g.copy()
    # PyTorch: ord 0 of each gradient (entries ≠ 0: 2, 3, 0), then of those (≠ 0): 2
    total = nn.clip_grad_norm_(params, 0.5, norm_type=0)
    assert total == 2.0
    for p, g in zip(params, grads):
        np.testing.assert_allclose(p.grad, g * 0.5 / (2.0 + 1e-6), rtol=1e-15)
    if torch is not None:
        ts = [torch.zeros(len(g), dtype=torch.float64, requires_grad=True) for g in grads]
        for t, g in zip(ts, grads):
            t.grad = torch.tensor(g)
        assert float(torch.nn.utils.clip_grad_norm_(ts, 0.5, norm_type=0)) == total
        for p, t in zip(params, ts):
            np.testing.assert_allclose(p.grad, t.grad.numpy(), rtol=1e-15)


# ----- state F2: user code inside an epoch (a DataLoader transform) changes the model
def _fit_with_transform(change, compile_):
    X, y = nn.make_moons(200, seed=1)
    X = np.asarray(X, np.float32)
    nn.manual_seed(0)
    m = nn.Sequential(nn.Linear(2, 8), nn.LeakyReLU(), nn.Linear(8, 2))
    calls = [0]

    def transform(xb, rng):
        calls[0] += 1
        if calls[0] == 4:  # after compiled steps ran (the first step of a fit is eager)
            change(m)
        return xb

    tr = nn.Trainer(m, optimizer=nn.SGD(m.parameters(), lr=0.1), progress=False,
                    compile=compile_)
    h = tr.fit(nn.DataLoader(X, y, batch_size=32, transform=transform, seed=0), epochs=2)
    return h["loss"], [p.value.copy() for p in m.parameters()], tr.compiled


def _freeze(m):
    m[0].weight.requires_grad = False


def _slope(m):
    m[1].negative_slope = 0.9


@pytest.mark.parametrize("change", [_freeze, _slope], ids=["freeze", "slope"])
def test_a_change_inside_an_epoch_is_honoured_by_the_compiled_step(change):
    loss_c, params_c, how = _fit_with_transform(change, None)
    loss_e, params_e, _ = _fit_with_transform(change, False)
    assert how == "compiled"
    assert loss_c == loss_e
    for a, b in zip(params_c, params_e):
        np.testing.assert_array_equal(a, b)


def test_a_weight_frozen_inside_an_epoch_stops_moving():
    snap = {}

    def freeze(m):
        m[0].weight.requires_grad = False
        snap["w"] = m[0].weight.value.copy()

    _, params, _ = _fit_with_transform(freeze, None)
    np.testing.assert_array_equal(params[0], snap["w"])


# ----- state F3: a functools.partial loss whose keywords change between fits
def test_partial_loss_keywords_changed_between_fits():
    X, y = nn.make_moons(200, seed=2)
    X = np.asarray(X, np.float32)
    nn.manual_seed(1)
    base = nn.MLP([2, 16, 2])
    runs = []
    for compile_ in (None, False):
        m = copy.deepcopy(base)
        lf = functools.partial(nn.cross_entropy, reduction="mean")
        tr = nn.Trainer(m, optimizer=nn.SGD(m.parameters(), lr=0.01), loss_fn=lf,
                        progress=False, compile=compile_)
        tr.fit(nn.DataLoader(X, y, batch_size=32, seed=0), epochs=2)
        lf.keywords["reduction"] = "sum"
        h = tr.fit(nn.DataLoader(X, y, batch_size=32, seed=0), epochs=4)
        runs.append((h["loss"], [p.value.copy() for p in m.parameters()], tr.compiled))
    (loss_c, params_c, how), (loss_e, params_e, _) = runs
    assert how == "compiled"
    assert loss_c == loss_e
    for a, b in zip(params_c, params_e):
        np.testing.assert_array_equal(a, b)
