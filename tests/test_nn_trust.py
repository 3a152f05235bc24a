"""Silent wrong answers of diffkit.nn, each pinned against a hand-written NumPy reference: the
path chosen for the mode an epoch trains in, accuracy scored as the loss reads the output, module
order kept on replacement, gradient norms of the current layers, early stopping's monitor, losses
with reduction='sum', out-of-range labels on the compiled step, a DataLoader's replaced arrays,
and Adadelta's state dtype."""

from __future__ import annotations

import math

import numpy as np
import pytest

from diffkit import nn
from diffkit.nn.compiled_step import CompiledStep


def _data(n=64, d=5, classes=3, seed=0):
    r = np.random.default_rng(seed)
    return r.normal(size=(n, d)).astype(np.float32), r.integers(0, classes, n)


def _np_cross_entropy(z, y):
    """Mean softmax cross-entropy, by hand in float64."""
    z = z.astype(np.float64)
    z = z - z.max(1, keepdims=True)
    logp = z - np.log(np.exp(z).sum(1, keepdims=True))
    return float(-logp[np.arange(len(y)), y].mean())


def _forward(model, X):
    with nn.no_grad():
        return np.asarray(model.eval()(X))


# ----- 1. the path is chosen for the mode the epoch trains in


def test_a_model_left_in_eval_mode_trains_dropout_eagerly_as_compile_false_does():
    r = np.random.default_rng(0)
    X, y = r.normal(size=(64, 4)).astype(np.float32), r.normal(size=(64, 1)).astype(np.float32)
    runs = {}
    for compile in (None, False):
        nn.manual_seed(0)
        m = nn.Sequential(nn.Linear(4, 8), nn.Dropout(0.5), nn.Linear(8, 1))
        m.eval()  # e.g. after looking at predictions
        t = nn.Trainer(m, loss_fn=nn.mse_loss, optimizer=nn.SGD(m.parameters(), lr=0.1),
                       compile=compile, progress=False)
        runs[compile] = t.fit(nn.DataLoader(X, y, batch_size=8), epochs=2)["loss"], t.compiled
    assert runs[None][0] == runs[False][0]  # the same masks, drawn at every step
    assert runs[None][1] == "eager: 1 is a Dropout in training mode (random masks)"
    nn.manual_seed(0)
    m = nn.Sequential(nn.Linear(4, 8), nn.Dropout(0.5), nn.Linear(8, 1)).eval()
    t = nn.Trainer(m, loss_fn=nn.mse_loss, compile=True, progress=False)
    with pytest.raises(ValueError, match="Dropout in training mode"):
        t.fit(nn.DataLoader(X, y, batch_size=8), epochs=1)


# ----- 2. accuracy scored as the loss reads the output


def _moons():
    X, y = nn.make_moons(200, noise=0.3)
    return X.astype(np.float32), y.reshape(-1, 1).astype(np.float32)


@pytest.mark.parametrize("compile", [None, False])
def test_accuracy_of_a_sigmoid_model_trained_with_bce_thresholds_probabilities_at_half(compile):
    X, y = _moons()
    nn.manual_seed(0)
    m = nn.Sequential(nn.Linear(2, 16), nn.Tanh(), nn.Linear(16, 1), nn.Sigmoid())
    nn.Trainer(m, loss_fn=nn.binary_cross_entropy, optimizer=nn.Adam(m.parameters(), lr=0.05),
               progress=False).fit(nn.DataLoader(X, y, batch_size=32), epochs=10)
    # lr = 0: the weights stay, so every epoch's training accuracy is the model's accuracy
    t = nn.Trainer(m, loss_fn=nn.BCELoss(), optimizer=nn.SGD(m.parameters(), lr=0.0),
                   compile=compile, progress=False)
    h = t.fit(nn.DataLoader(X, y, batch_size=32), val_data=(X, y), epochs=2)
    p = _forward(m, X)
    expected = float(np.mean((p > 0.5) == (y > 0.5)))
    assert 0.75 < expected < 1 and abs(expected - y.mean()) > 0.2  # not the share of positives
    assert h["accuracy"] == pytest.approx([expected] * 2, abs=1e-12)
    assert h["val_accuracy"] == pytest.approx([expected] * 2, abs=1e-12)
    assert t.evaluate(X, y)[1] == pytest.approx(expected, abs=1e-12)


def test_accuracy_with_logits_thresholds_at_zero_and_counts_each_output_of_multilabel_rows():
    X, y = _moons()
    y2 = np.hstack([y, 1 - y])  # two labels a row
    nn.manual_seed(1)
    m = nn.MLP([2, 8, 2])
    t = nn.Trainer(m, loss_fn=nn.BCEWithLogitsLoss(), optimizer=nn.SGD(m.parameters(), lr=0.0),
                   progress=False)
    h = t.fit(nn.DataLoader(X, y2, batch_size=50), val_data=(X, y2), epochs=1)
    z = _forward(m, X)
    expected = float(np.mean((z > 0) == (y2 > 0.5)))  # the fraction of right outputs
    assert h["accuracy"][0] == pytest.approx(expected, abs=1e-12)
    assert h["val_accuracy"][0] == pytest.approx(expected, abs=1e-12)


def test_one_output_regression_reports_no_accuracy():
    r = np.random.default_rng(0)
    X = r.normal(size=(100, 3)).astype(np.float32)
    y = (X @ np.array([1.0, 2.0, 3.0], np.float32) + 10).reshape(-1, 1)
    nn.manual_seed(0)
    m = nn.MLP([3, 8, 1])
    t = nn.Trainer(m, loss_fn=nn.mse_loss, progress=False)
    h = t.fit(nn.DataLoader(X, y), val_data=(X, y), epochs=2)
    assert all(math.isnan(a) for a in h["accuracy"] + h["val_accuracy"])
    assert math.isnan(t.evaluate(X, y)[1])


def test_nn_accuracy_keeps_sign_for_one_output_and_takes_a_threshold():
    z, y = np.array([[-0.2], [0.3], [0.7]]), np.array([0, 0, 1])
    assert nn.accuracy(z, y) == pytest.approx(2 / 3)  # sign: 0, 1, 1
    assert nn.accuracy(z, y, threshold=0.5) == 1.0  # probabilities: 0, 0, 1
    assert nn.accuracy(np.array([[0.1, 0.9], [0.8, 0.2]]), np.array([1, 1])) == 0.5


# ----- 3. replacing a submodule or parameter keeps its place


def test_replacing_a_layer_or_a_weight_keeps_its_position():
    nn.manual_seed(0)
    m = nn.Sequential(nn.Linear(4, 4), nn.Tanh(), nn.Linear(4, 2))
    m.__setattr__("1", nn.ReLU())
    assert list(m._modules) == ["0", "1", "2"]
    assert [type(x).__name__ for x in m] == ["Linear", "ReLU", "Linear"]
    X = np.random.default_rng(0).normal(size=(5, 4)).astype(np.float32)
    W0, b0, W2, b2 = (p.value for p in m.parameters())
    expected = np.maximum(X @ W0.T + b0, 0) @ W2.T + b2  # Linear, ReLU, Linear by hand
    np.testing.assert_allclose(_forward(m, X), expected, rtol=1e-6, atol=1e-6)
    lin = nn.Linear(4, 4)
    lin.weight = nn.Parameter(lin.weight.value.copy())
    assert [k for k, _ in lin.named_parameters()] == ["weight", "bias"]


# ----- 4. gradient norms of the layers the model has now


def test_grad_norms_follow_a_replaced_layer():
    X, y = _data(50, 5, 3)
    nn.manual_seed(0)
    m = nn.Sequential(nn.Linear(5, 8), nn.ReLU(), nn.Linear(8, 3))
    t = nn.Trainer(m, optimizer=nn.SGD(m.parameters(), lr=0.1), progress=False)
    dl = nn.DataLoader(X, y, batch_size=50, shuffle=False)
    t.fit(dl, epochs=1)
    m.__setattr__("2", nn.Linear(8, 3))
    t.optimizer = nn.SGD(m.parameters(), lr=0.0)  # the weights stay: one norm per epoch
    h = t.fit(dl, epochs=3)
    W0, b0, W2, b2 = (p.value.astype(np.float64) for p in m.parameters())
    hid = np.maximum(X @ W0.T + b0, 0)
    z = hid @ W2.T + b2
    p = np.exp(z - z.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    p[np.arange(len(y)), y] -= 1
    expected = np.linalg.norm(p.T @ hid / len(y))  # ‖∂L/∂W2‖ of the new layer, by hand
    assert h["grad_norms"]["2.weight"][1:] == pytest.approx([expected] * 2, rel=1e-5)


# ----- 5. early stopping watches what fit records, in its direction


@pytest.mark.parametrize("kwargs,val,match", [
    ({"monitor": "val_accuracy", "mode": "max"}, False, "recorded only when fit gets val_data"),
    ({"monitor": "val_acc", "mode": "max"}, True, "monitor='val_acc'.*'val_accuracy'"),
    ({"monitor": "loss", "mode": "max"}, False, "use mode='min'"),
    ({"mode": "max"}, True, "monitor='val_loss', mode='max'"),
    ({"monitor": "val_accuracy"}, True, "use mode='max'"),
])
def test_early_stopping_refuses_a_monitor_fit_does_not_record(kwargs, val, match):
    X, y = nn.make_moons(64, noise=0.1)
    nn.manual_seed(0)
    t = nn.Trainer(nn.MLP([2, 4, 2]), early_stopping=nn.EarlyStopping(**kwargs), progress=False)
    with pytest.raises(ValueError, match=match):
        t.fit(nn.DataLoader(X, y), val_data=(X, y) if val else None, epochs=3)
    assert t.epoch == 0  # refused before training


def test_early_stopping_on_val_accuracy_restores_the_best_epoch():
    X, y = nn.make_moons(200, noise=0.3)
    Xv, yv = nn.make_moons(100, noise=0.3, seed=1)
    nn.manual_seed(0)
    m = nn.MLP([2, 16, 2])
    es = nn.EarlyStopping(monitor="val_accuracy", mode="max", patience=2)
    t = nn.Trainer(m, optimizer=nn.Adam(m.parameters(), lr=0.05), early_stopping=es,
                   progress=False)
    h = t.fit(nn.DataLoader(X, y), val_data=(Xv, yv), epochs=40)
    best = int(np.argmax(h["val_accuracy"]))  # the first best epoch
    assert es.best_epoch == best and es.best == h["val_accuracy"][best]
    restored = float(np.mean(_forward(m, Xv.astype(np.float32)).argmax(1) == yv))
    assert restored == h["val_accuracy"][best]
    nn.manual_seed(0)  # the default monitor without val_data: the training loss
    es = nn.EarlyStopping(patience=1)
    nn.Trainer(nn.MLP([2, 4, 2]), early_stopping=es, progress=False).fit(nn.DataLoader(X, y),
                                                                         epochs=2)
    assert es.epoch == 1


# ----- 6. losses with reduction="sum": the history reports the per-term mean


@pytest.mark.parametrize("compile", [None, False])
def test_sum_reduction_reports_the_same_mean_for_training_and_validation(compile):
    X, y = _data(64, 5, 3)
    nn.manual_seed(0)
    m = nn.MLP([5, 3])
    t = nn.Trainer(m, loss_fn=nn.CrossEntropyLoss(reduction="sum"), compile=compile,
                   optimizer=nn.SGD(m.parameters(), lr=0.0), progress=False)
    h = t.fit(nn.DataLoader(X, y, batch_size=16), val_data=(X, y), epochs=1)
    expected = _np_cross_entropy(_forward(m, X), y)
    assert h["loss"][0] == pytest.approx(expected, rel=1e-6)
    assert h["val_loss"][0] == pytest.approx(expected, rel=1e-6)


@pytest.mark.parametrize("loss", ["mse", "bce"])
def test_sum_reduction_of_elementwise_losses_reports_the_mean_over_entries(loss):
    r = np.random.default_rng(2)
    X = r.normal(size=(40, 3)).astype(np.float32)
    y = (r.random((40, 2)) > 0.5).astype(np.float32)
    nn.manual_seed(0)
    m = nn.MLP([3, 2])
    fn = nn.MSELoss(reduction="sum") if loss == "mse" else nn.BCEWithLogitsLoss(reduction="sum")
    t = nn.Trainer(m, loss_fn=fn, optimizer=nn.SGD(m.parameters(), lr=0.0), progress=False)
    h = t.fit(nn.DataLoader(X, y, batch_size=16), val_data=(X, y), epochs=1)
    z = _forward(m, X).astype(np.float64)
    terms = (z - y) ** 2 if loss == "mse" else np.logaddexp(0, z) - y * z
    assert h["loss"][0] == pytest.approx(terms.mean(), rel=1e-5)
    assert h["val_loss"][0] == pytest.approx(terms.mean(), rel=1e-5)


def test_sum_reduction_still_steps_with_the_summed_gradient():
    X, y = _data(32, 5, 3)
    nn.manual_seed(0)
    m = nn.MLP([5, 3])
    W, b = (p.value.astype(np.float64) for p in m.parameters())
    nn.Trainer(m, loss_fn=nn.CrossEntropyLoss(reduction="sum"), progress=False,
               optimizer=nn.SGD(m.parameters(), lr=0.01)).fit(
        nn.DataLoader(X, y, batch_size=32, shuffle=False), epochs=1)
    z = X @ W.T + b
    p = np.exp(z - z.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    p[np.arange(len(y)), y] -= 1  # ∂(Σ loss)/∂z: no division by the batch size
    np.testing.assert_allclose(m.parameters()[0].value, W - 0.01 * (p.T @ X), rtol=1e-5,
                               atol=1e-6)


def test_reduction_none_is_refused_by_fit_and_averaged_by_evaluate():
    X, y = _data(32, 5, 3)
    nn.manual_seed(0)
    m = nn.MLP([5, 3])
    t = nn.Trainer(m, loss_fn=nn.CrossEntropyLoss(reduction="none"), progress=False)
    with pytest.raises(ValueError, match="reduction='none'.*use reduction='mean' or 'sum'"):
        t.fit(nn.DataLoader(X, y), epochs=1)
    assert t.evaluate(X, y)[0] == pytest.approx(_np_cross_entropy(_forward(m, X), y), rel=1e-6)


# ----- 7. labels out of range on the compiled step; a DataLoader's replaced arrays


@pytest.mark.parametrize("bad", [-1, 3])
@pytest.mark.parametrize("compile", [None, False])
def test_out_of_range_labels_in_plain_batches_are_refused_on_both_paths(bad, compile):
    X, y = _data(32, 5, 3)
    y[20] = bad
    batches = [(X[:16], y[:16]), (X[16:], y[16:])]
    nn.manual_seed(0)
    t = nn.Trainer(nn.MLP([5, 3]), compile=compile, progress=False)
    with pytest.raises(ValueError, match=rf"label {bad} \(at index 4\) is out of range for 3"):
        t.fit(batches, epochs=2)


def test_compiled_step_checks_labels_only_where_they_were_not_checked(monkeypatch):
    flags = []
    run, replay = CompiledStep._run, CompiledStep.replay

    def spy(self, xb, yb, check_labels, rates):  # a step that ran, by either entry
        flags.append(check_labels)
        return run(self, xb, yb, check_labels, rates)

    def spy_replay(self, xb, yb, check_labels, rates):
        result = replay(self, xb, yb, check_labels, rates)
        if result is not None:
            flags.append(check_labels)
        return result

    monkeypatch.setattr(CompiledStep, "_run", spy)
    monkeypatch.setattr(CompiledStep, "replay", spy_replay)
    X, y = _data(64, 5, 3)
    nn.manual_seed(0)
    t = nn.Trainer(nn.MLP([5, 3]), progress=False)
    t.fit(nn.DataLoader(X, y, batch_size=16), epochs=2)
    assert t.compiled == "compiled" and flags and not any(flags)  # the DataLoader's y: checked
    flags.clear()
    t.fit([(X[:32], y[:32]), (X[32:], y[32:])], epochs=3)
    assert flags == [True, True]  # a plain list: every compiled step checks
    y_bad = y.copy()
    y_bad[40] = -1
    with pytest.raises(ValueError, match=r"label -1 \(at index 8\)"):
        t.fit([(X[:32], y[:32]), (X[32:], y_bad[32:])], epochs=4)


def test_a_dataloader_batches_the_arrays_it_holds_now():
    X, y = np.zeros((8, 2), np.float32), np.zeros(8, np.int64)
    dl = nn.DataLoader(X, y, batch_size=4, shuffle=False)
    list(dl)
    dl.X, dl.y = np.ones((8, 2)), np.ones(8, np.int64)
    xb, yb = next(iter(dl))
    assert xb.dtype == np.float32 and (xb == 1).all() and (yb == 1).all()
    with pytest.raises(ValueError, match="DataLoader: X has 16 entries that are not finite"):
        dl.X = np.full((8, 2), np.nan)
    dl.y = np.ones(6, np.int64)
    with pytest.raises(ValueError, match="X has 8 rows but y has 6"):
        next(iter(dl))


@pytest.mark.parametrize("compile", [None, False])
def test_training_follows_replaced_dataloader_arrays(compile):
    X, y = _data(48, 5, 3)
    X2, y2 = _data(48, 5, 3, seed=1)

    def trainer():
        nn.manual_seed(0)
        m = nn.MLP([5, 3])
        return nn.Trainer(m, optimizer=nn.SGD(m.parameters(), lr=0.1), compile=compile,
                          progress=False)

    swapped, fresh = trainer(), trainer()
    dl = nn.DataLoader(X, y, batch_size=16, shuffle=False)
    swapped.fit(dl, epochs=1)
    fresh.fit(nn.DataLoader(X, y, batch_size=16, shuffle=False), epochs=1)
    dl.X, dl.y = X2, y2
    swapped.fit(dl, epochs=2)
    fresh.fit(nn.DataLoader(X2, y2, batch_size=16, shuffle=False), epochs=2)
    assert swapped.history["loss"] == fresh.history["loss"]
    y_bad = y2.copy()
    y_bad[5] = 3
    dl.y = y_bad
    with pytest.raises(ValueError, match=r"label 3 \(at index 5 of the DataLoader's y\)"):
        swapped.fit(dl, epochs=3)


# ----- 8. Adadelta keeps its state in the parameter's dtype


def _adadelta_numpy(w, grads, lr, rho, eps):
    """PyTorch's single-tensor Adadelta, written out in float32 (its Python-float coefficients,
    such as 1 − ρ, rounded to float32 once, as PyTorch casts a scalar to the tensor's dtype)."""
    sq, acc = np.zeros_like(w), np.zeros_like(w)
    rho, c, eps, lr = np.float32(rho), np.float32(1 - rho), np.float32(eps), np.float32(lr)
    for g in grads:
        sq = sq * rho + c * g * g
        delta = np.sqrt(acc + eps) / np.sqrt(sq + eps) * g
        acc = acc * rho + c * delta * delta
        w = w - lr * delta
    return w, sq, acc


def test_adadelta_state_stays_float32_and_matches_a_float32_loop():
    r = np.random.default_rng(0)
    w0 = r.normal(size=(4, 3)).astype(np.float32)
    grads = [r.normal(size=(4, 3)).astype(np.float32) for _ in range(5)]
    p = nn.Parameter(w0.copy())
    opt = nn.Adadelta([p], lr=0.5, rho=0.9, eps=1e-6)
    for g in grads:
        p.grad = g
        opt.step()
    state = opt.state[0]
    assert p.value.dtype == state["square_avg"].dtype == state["acc_delta"].dtype == np.float32
    w, sq, acc = _adadelta_numpy(w0, grads, 0.5, 0.9, 1e-6)
    np.testing.assert_array_equal(state["acc_delta"], acc)
    np.testing.assert_array_equal(state["square_avg"], sq)
    np.testing.assert_array_equal(p.value, w)


def test_adadelta_float32_matches_torch():
    """Equal to a float32 ulp or so: PyTorch's addcmul_ fuses a multiply-add (FMA) on CPUs that
    have one, which NumPy does not, so the last bit may differ; in float64 (NumPy's default)
    neither rounds to float32."""
    torch = pytest.importorskip("torch")
    r = np.random.default_rng(1)
    w0 = r.normal(size=(5, 4)).astype(np.float32)
    grads = [r.normal(size=(5, 4)).astype(np.float32) for _ in range(6)]
    p = nn.Parameter(w0.copy())
    opt = nn.Adadelta([p], lr=1.0, rho=0.9, eps=1e-6)
    tp = torch.nn.Parameter(torch.from_numpy(w0.copy()))
    topt = torch.optim.Adadelta([tp], lr=1.0, rho=0.9, eps=1e-6, foreach=False)
    for g in grads:
        p.grad = g
        opt.step()
        tp.grad = torch.from_numpy(g.copy())
        topt.step()
    ts = topt.state[tp]
    assert opt.state[0]["acc_delta"].dtype == ts["acc_delta"].numpy().dtype == np.float32
    np.testing.assert_allclose(opt.state[0]["acc_delta"], ts["acc_delta"].numpy(), rtol=4e-6)
    np.testing.assert_allclose(p.value, tp.detach().numpy(), rtol=1e-6, atol=1e-7)
