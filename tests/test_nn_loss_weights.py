"""Class weights, ignore_index and pos_weight of the losses, as PyTorch defines them: checked
against hand formulas in NumPy (and against PyTorch itself where it is installed)."""

from __future__ import annotations

import functools

import numpy as np
import pytest

import diffkit as dk
from diffkit import nn

RNG = np.random.default_rng(17)
Z = RNG.normal(size=(5, 4)) * 2.0
Y = np.array([0, 3, 1, 3, 2])
W = np.array([0.5, 2.0, 1.0, 3.0])


def _log_softmax(z):
    return z - np.log(np.exp(z - z.max(-1, keepdims=True)).sum(-1, keepdims=True)) - \
        z.max(-1, keepdims=True)


def _softmax(z):
    e = np.exp(z - z.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def test_weighted_cross_entropy_is_the_weighted_mean_and_its_gradient():
    z = dk.tensor(Z, requires_grad=True)
    loss = nn.cross_entropy(z, Y, weight=W)
    wy = W[Y]
    want = -(wy * _log_softmax(Z)[np.arange(5), Y]).sum() / wy.sum()
    assert float(loss) == pytest.approx(want, rel=1e-13)
    loss.backward()
    grad = wy[:, None] * (_softmax(Z) - np.eye(4)[Y]) / wy.sum()
    np.testing.assert_allclose(z.grad, grad, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_ignore_index_leaves_rows_out(reduction):
    y = Y.copy()
    y[[1, 4]] = -100
    got = nn.cross_entropy(Z, y, reduction)
    terms = -_log_softmax(Z)[np.arange(5), np.where(y < 0, 0, y)] * (y >= 0)
    want = {"mean": terms.sum() / 3, "sum": terms.sum(), "none": terms}[reduction]
    np.testing.assert_allclose(np.asarray(getattr(got, "value", got)), want, rtol=1e-13)
    got7 = nn.nll_loss(_log_softmax(Z), np.where(y < 0, 7, y), reduction, ignore_index=7)
    np.testing.assert_allclose(np.asarray(getattr(got7, "value", got7)), want, rtol=1e-13)


def test_every_row_ignored_is_nan_as_pytorch():
    assert np.isnan(float(nn.cross_entropy(Z[:2], np.array([-100, -100]))))


def test_weights_with_label_smoothing_weigh_each_class_of_the_spread():
    eps = 0.2
    got = float(nn.cross_entropy(Z, Y, label_smoothing=eps, weight=W))
    lp = _log_softmax(Z)
    nll = -(W[Y] * lp[np.arange(5), Y]).sum() / W[Y].sum()
    smooth = -(lp * W).sum(-1).sum() / W[Y].sum()
    assert got == pytest.approx((1 - eps) * nll + eps / 4 * smooth, rel=1e-13)


def test_weighted_probability_targets_weigh_the_classes_and_average_the_rows():
    t = RNG.dirichlet(np.ones(4), size=5)
    got = float(nn.cross_entropy(Z, t, weight=W))
    assert got == pytest.approx(-(t * W * _log_softmax(Z)).sum(-1).mean(), rel=1e-13)


def test_bce_with_logits_pos_weight_and_weight():
    z = dk.tensor(Z, requires_grad=True)
    y = (RNG.random(Z.shape) < 0.5).astype(float)
    p = np.array([1.0, 2.0, 0.5, 4.0])
    w = RNG.random(Z.shape)
    loss = nn.binary_cross_entropy_with_logits(z, y, "sum", weight=w, pos_weight=p)
    s = 1.0 / (1.0 + np.exp(-Z))
    want = -(w * (p * y * np.log(s) + (1 - y) * np.log(1 - s))).sum()
    assert float(loss) == pytest.approx(want, rel=1e-12)
    loss.backward()
    grad = w * ((1 - y) - (p * y + 1 - y) * (1 - s))  # d/dz of (1−y)z + (1+(p−1)y)·softplus(−z)
    np.testing.assert_allclose(z.grad, grad, rtol=1e-12, atol=1e-15)
    q = np.clip(s, 1e-3, 1 - 1e-3)
    bce = float(nn.binary_cross_entropy(q, y, weight=w))
    assert bce == pytest.approx(-(w * (y * np.log(q) + (1 - y) * np.log(1 - q))).mean(), rel=1e-12)


def test_class_forms_pass_the_settings_on():
    y = Y.copy()
    y[0] = -1
    assert float(nn.CrossEntropyLoss(weight=W, ignore_index=-1)(Z, y)) == \
        float(nn.cross_entropy(Z, y, weight=W, ignore_index=-1))
    assert float(nn.NLLLoss(weight=W)(_log_softmax(Z), Y)) == \
        pytest.approx(float(nn.cross_entropy(Z, Y, weight=W)), rel=1e-13)
    y01 = (Z > 0).astype(float)
    assert float(nn.BCEWithLogitsLoss(pos_weight=np.full(4, 2.0))(Z, y01)) == \
        float(nn.binary_cross_entropy_with_logits(Z, y01, pos_weight=np.full(4, 2.0)))


@pytest.mark.parametrize("call, match", [
    (lambda: nn.cross_entropy(Z, Y, weight=np.ones(3)), "weight"),
    (lambda: nn.cross_entropy(Z, Y, ignore_index=1.5), "ignore_index"),
    (lambda: nn.binary_cross_entropy_with_logits(Z, Z > 0, pos_weight=np.ones(5)), "pos_weight"),
])
def test_bad_weights_are_named(call, match):
    with pytest.raises((dk.ShapeError, dk.InputTypeError), match=match):
        call()


def test_the_trainer_trains_weighted_losses_eagerly_and_names_ignored_labels():
    X, y = nn.make_moons(64, seed=0)
    for loss in (nn.CrossEntropyLoss(weight=np.array([1.0, 3.0], np.float32)),
                 functools.partial(nn.cross_entropy, weight=np.array([1.0, 3.0], np.float32))):
        nn.manual_seed(0)
        model = nn.MLP([2, 8, 2])
        trainer = nn.Trainer(model, optimizer=nn.SGD(model.parameters(), lr=0.1), loss_fn=loss,
                             progress=False)
        history = trainer.fit(nn.DataLoader(X, y, batch_size=16, seed=0), epochs=2)
        assert trainer.compiled.startswith("eager: the loss is given weight")
        assert np.all(np.isfinite(history["loss"]))
    y2 = y.copy()
    y2[3] = -100
    with pytest.raises(ValueError, match="ignore_index"):
        nn.Trainer(nn.MLP([2, 8, 2]), progress=False).fit(nn.DataLoader(X, y2, batch_size=16),
                                                            epochs=1)


def test_against_pytorch():
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    rng = np.random.default_rng(3)
    for _ in range(60):
        n, c = int(rng.integers(1, 6)), int(rng.integers(2, 5))
        z = rng.normal(size=(n, c)) * 3
        y = rng.integers(0, c, size=n)
        y[rng.random(n) < 0.3] = -100
        w = rng.random(c) + 0.1
        eps = float(rng.choice([0.0, 0.25]))
        for reduction in ("mean", "sum", "none"):
            zt = torch.tensor(z, requires_grad=True)
            ref = F.cross_entropy(zt, torch.tensor(y), weight=torch.tensor(w),
                                  reduction=reduction, label_smoothing=eps)
            zd = dk.tensor(z, requires_grad=True)
            got = nn.cross_entropy(zd, y, reduction, eps, weight=w)
            np.testing.assert_allclose(np.asarray(got.value), ref.detach().numpy(), rtol=1e-10)
            if np.all(np.isfinite(ref.detach().numpy())):
                r = rng.normal(size=np.shape(got.value))
                (ref * torch.tensor(r)).sum().backward()
                dk.sum(dk.mul(got, r)).backward()
                np.testing.assert_allclose(zd.grad, zt.grad.numpy(), rtol=1e-9, atol=1e-13)
