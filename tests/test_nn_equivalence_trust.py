"""Training runs that must be equal: the compiled step and the eager tape (PyTorch's `.grad`
semantics), accuracy of sequence outputs, a checkpoint after early stopping restored the best
weights, and predict's train/eval modes. References: PyTorch float64 loops (skipped without
torch), hand NumPy computations, and the eager tape where it is already checked against them."""

from __future__ import annotations

import os
import tempfile

import numpy as np
import pytest

from diffkit import nn
from diffkit.nn.checkpoint import load_state

F = np.float64


def _data(n=24, features=6, classes=3, seed=0):
    r = np.random.default_rng(seed)
    return r.normal(size=(n, features)), r.integers(0, classes, n)


# ----- the compiled step leaves .grad as backward does


def test_compiled_step_accumulates_grads_of_params_outside_the_optimizer_as_pytorch():
    """An optimizer over the head only (fine-tuning) with clip_grad_norm over the whole model:
    optimizer.zero_grad() clears only its own parameters, so the others' .grad accumulate over
    steps and count in the clipping norm (PyTorch's semantics, and the eager tape's)."""
    torch = pytest.importorskip("torch")
    X, y = _data()
    nn.manual_seed(0)
    m = nn.Sequential(nn.Linear(6, 5, dtype=F), nn.Tanh(), nn.Linear(5, 3, dtype=F))
    sd0 = m.state_dict()
    tr = nn.Trainer(m, optimizer=nn.SGD(m[2].parameters(), lr=0.5), clip_grad_norm=0.1,
                    progress=False)
    tr.fit(nn.DataLoader(X, y, batch_size=8, shuffle=False, dtype=F), epochs=3)
    assert tr.compiled == "compiled"

    t = torch.nn.Sequential(torch.nn.Linear(6, 5), torch.nn.Tanh(), torch.nn.Linear(5, 3)).double()
    t.load_state_dict({k: torch.tensor(v) for k, v in sd0.items()})
    opt = torch.optim.SGD(t[2].parameters(), lr=0.5)
    for _ in range(3):
        for i in range(0, 24, 8):
            opt.zero_grad()
            torch.nn.functional.cross_entropy(t(torch.tensor(X[i:i + 8])),
                                              torch.tensor(y[i:i + 8])).backward()
            torch.nn.utils.clip_grad_norm_(t.parameters(), 0.1)
            opt.step()
    np.testing.assert_allclose(m[2].weight.value, t[2].weight.detach().numpy(), rtol=0, atol=1e-12)
    np.testing.assert_allclose(m[2].bias.value, t[2].bias.detach().numpy(), rtol=0, atol=1e-12)
    np.testing.assert_allclose(m[0].weight.grad, t[0].weight.grad.numpy(), rtol=0, atol=1e-12)


def test_compiled_and_eager_agree_on_grads_and_grad_norms_of_params_outside_the_optimizer():
    """The same set-up without clipping: the weights always agreed, but History's grad_norms
    and .grad of the untrained layer must too (eager: accumulated; a reference without
    torch)."""
    X, y = _data()
    runs = []
    for compile in (None, False):
        nn.manual_seed(0)
        m = nn.Sequential(nn.Linear(6, 5, dtype=F), nn.Tanh(), nn.Linear(5, 3, dtype=F))
        tr = nn.Trainer(m, optimizer=nn.SGD(m[2].parameters(), lr=0.5), progress=False,
                        compile=compile)
        h = tr.fit(nn.DataLoader(X, y, batch_size=8, shuffle=False, dtype=F), epochs=3)
        runs.append((tr.compiled, h["grad_norms"], [p.grad for p in m.parameters()]))
    (path, norms, grads), (_, norms_eager, grads_eager) = runs
    assert path == "compiled"
    assert norms.keys() == norms_eager.keys()
    for k in norms:
        np.testing.assert_allclose(norms[k], norms_eager[k], rtol=1e-13)
    for g, ge in zip(grads, grads_eager, strict=True):
        np.testing.assert_allclose(g, ge, rtol=1e-13, atol=1e-15)


@pytest.mark.parametrize("make_opt", [
    lambda ps: nn.SGD(ps, lr=0.1, weight_decay=0.1),
    lambda ps: nn.AdamW(ps, lr=0.1, weight_decay=0.1),
])
def test_compiled_step_gives_a_parameter_the_loss_never_reads_no_grad(make_opt):
    """A parameter the forward pass never reads has .grad None after backward (PyTorch: the
    optimizer skips it), so weight decay leaves it alone. Reference: its initial value."""
    X, y = _data(16)
    nn.manual_seed(0)
    a = nn.Linear(6, 5, dtype=F)
    a.extra = nn.Linear(2, 2, dtype=F)  # held by the model, never used by Linear.forward
    m = nn.Sequential(a, nn.Tanh(), nn.Linear(5, 3, dtype=F))
    w0 = a.extra.weight.value.copy()
    tr = nn.Trainer(m, optimizer=make_opt(m.parameters()), progress=False)
    tr.fit(nn.DataLoader(X, y, batch_size=8, dtype=F), epochs=3)
    assert tr.compiled == "compiled"
    np.testing.assert_array_equal(a.extra.weight.value, w0)
    assert a.extra.weight.grad is None and a.extra.bias.grad is None
    assert m[2].weight.grad is not None


def test_compiled_step_gives_float32_params_float32_grads_with_float64_batches():
    """docs/design.md: a float32 leaf gets a float32 .grad (as eager); the history equals the
    eager run's bit for bit (clipping and grad_norms in the parameters' dtype)."""
    X, y = _data(16)
    runs = []
    for compile in (None, False):
        nn.manual_seed(0)
        m = nn.Sequential(nn.Linear(6, 5), nn.Tanh(), nn.Linear(5, 3))  # float32 parameters
        tr = nn.Trainer(m, optimizer=nn.SGD(m.parameters(), lr=0.1), clip_grad_norm=0.5,
                        progress=False, compile=compile)
        h = tr.fit(nn.DataLoader(X, y, batch_size=8, dtype=np.float64, shuffle=False), epochs=2)
        runs.append((tr.compiled, h["loss"], h["grad_norms"], m))
    assert runs[0][0] == "compiled"
    assert [p.grad.dtype for p in runs[0][3].parameters()] == [np.float32] * 4
    assert runs[0][1] == runs[1][1]
    assert runs[0][2] == runs[1][2]


@pytest.mark.parametrize("smoothing", [0.0, 0.1])
def test_compiled_step_makes_one_hot_rows_in_each_fits_dtype(smoothing):
    """A float32 model fitted on float64 batches, then on float32 ones: the second fit is
    float32 throughout (one-hot rows, loss, gradients), bit for bit the eager run's."""
    X, y = _data(16)
    runs = []
    for compile in (None, False):
        nn.manual_seed(0)
        m = nn.Sequential(nn.Linear(6, 5), nn.Tanh(), nn.Linear(5, 3))
        tr = nn.Trainer(m, loss_fn=nn.CrossEntropyLoss(label_smoothing=smoothing),
                        optimizer=nn.SGD(m.parameters(), lr=0.1), progress=False, compile=compile)
        tr.fit(nn.DataLoader(X, y, batch_size=8, dtype=np.float64, shuffle=False), epochs=1)
        h = tr.fit(nn.DataLoader(X, y, batch_size=8, dtype=np.float32, shuffle=False), epochs=3)
        runs.append((tr.compiled, h["loss"], m))
    assert runs[0][0] == "compiled"
    assert all(p.grad.dtype == np.float32 for p in runs[0][2].parameters())
    assert runs[0][1] == runs[1][1]
    for p, q in zip(runs[0][2].parameters(), runs[1][2].parameters(), strict=True):
        np.testing.assert_array_equal(p.value, q.value)


# ----- accuracy of (N, T, C) outputs


@pytest.mark.parametrize("compile", [None, False])
def test_accuracy_of_sequence_outputs_is_the_fraction_of_positions(compile):
    """cross_entropy with (N, T, C) outputs and (N, T) labels: History's accuracy,
    val_accuracy and evaluate's accuracy are the fraction of right arg-maxes over all N·T
    positions (nn.accuracy's), also with a last batch of other size. Reference: hand count."""
    r = np.random.default_rng(0)
    X, y = r.normal(size=(12, 4, 5)), r.integers(0, 3, (12, 4))
    nn.manual_seed(0)
    m = nn.Linear(5, 3, dtype=F)
    tr = nn.Trainer(m, optimizer=nn.SGD(m.parameters(), lr=0.0), progress=False, compile=compile)
    h = tr.fit(nn.DataLoader(X, y, batch_size=5, dtype=F), val_data=(X, y), epochs=1)
    z = X @ m.weight.value.T + m.bias.value  # lr = 0: the weights never changed
    hand = float(np.mean(z.argmax(-1) == y))
    assert 0 < hand < 1
    assert h["accuracy"][0] == pytest.approx(hand, abs=1e-12)
    assert h["val_accuracy"][0] == pytest.approx(hand, abs=1e-12)
    assert tr.evaluate(X, y)[1] == pytest.approx(hand, abs=1e-12)
    assert nn.accuracy(z, y) == pytest.approx(hand, abs=1e-12)


# ----- a checkpoint after EarlyStopping restored the best weights


def _es_setup(X, y):
    nn.manual_seed(0)
    m = nn.Sequential(nn.Linear(6, 16, dtype=F), nn.Tanh(), nn.Linear(16, 3, dtype=F))
    tr = nn.Trainer(m, optimizer=nn.Adam(m.parameters(), lr=0.05),
                    early_stopping=nn.EarlyStopping(patience=100), progress=False)
    return m, tr, nn.DataLoader(X, y, batch_size=8, shuffle=False, dtype=F)


def _es_data():
    r = np.random.default_rng(0)
    X, y = r.normal(size=(30, 6)), r.integers(0, 3, 30)
    Xv, yv = r.normal(size=(10, 6)), r.integers(0, 3, 10)
    return X, y, (Xv, yv)


def test_checkpoint_after_early_stopping_restored_the_best_resumes_the_run():
    """Train 4 epochs (the best val_loss is before the last: fit ends by restoring it), save,
    load into fresh objects, train to 8: the history is PyTorch's straight 8-epoch run, and
    the loaded model holds what was saved (the restored best weights) until fit continues."""
    torch = pytest.importorskip("torch")
    X, y, val = _es_data()
    m, tr, dl = _es_setup(X, y)
    sd0 = m.state_dict()
    tr.fit(dl, val_data=val, epochs=4)
    es = tr.early_stopping
    assert es.best_epoch < es.epoch  # the restore happened: the case under test
    saved = m.state_dict()
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "run.ckpt")
        tr.save_checkpoint(path)
        m2, tr2, dl2 = _es_setup(X, y)
        tr2.load_checkpoint(path)
        for k, v in saved.items():
            np.testing.assert_array_equal(m2.state_dict()[k], v)
        h = tr2.fit(dl2, val_data=val, epochs=8)

    t = torch.nn.Sequential(torch.nn.Linear(6, 16), torch.nn.Tanh(), torch.nn.Linear(16, 3)).double()
    t.load_state_dict({k: torch.tensor(v) for k, v in sd0.items()})
    opt = torch.optim.Adam(t.parameters(), lr=0.05)
    ref = []
    for _ in range(8):
        total = 0.0
        for i in range(0, 30, 8):
            opt.zero_grad()
            loss = torch.nn.functional.cross_entropy(t(torch.tensor(X[i:i + 8])),
                                                     torch.tensor(y[i:i + 8]))
            loss.backward()
            opt.step()
            total += loss.item() * len(y[i:i + 8])
        ref.append(total / 30)
    np.testing.assert_allclose(h["loss"], ref, rtol=1e-10)


def test_fit_again_after_early_stopping_restored_the_best_continues_the_run():
    """fit(4) then fit(8) on one trainer equals fit(8) straight, bit for bit (the second fit
    continues from the last epoch's weights, which the optimizer's state belongs to), and
    both end holding the best weights. Weights changed by hand in between are what trains."""
    X, y, val = _es_data()
    m, tr, dl = _es_setup(X, y)
    h = tr.fit(dl, val_data=val, epochs=8)
    straight, best = list(h["loss"]), m.state_dict()
    m, tr, dl = _es_setup(X, y)
    tr.fit(dl, val_data=val, epochs=4)
    assert tr.early_stopping.best_epoch < 3
    h = tr.fit(dl, val_data=val, epochs=8)
    assert h["loss"] == straight
    for k, v in best.items():
        np.testing.assert_array_equal(m.state_dict()[k], v)



def test_weights_changed_after_the_restore_are_what_a_checkpoint_resumes():
    """Weights loaded by hand after fit restored the best ones are the run's weights now: the
    checkpoint holds them and no other weights to resume from."""
    X, y, val = _es_data()
    m, tr, dl = _es_setup(X, y)
    tr.fit(dl, val_data=val, epochs=4)
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "run.ckpt")
        tr.save_checkpoint(path)
        assert "resume" in load_state(path)  # the last epoch's weights, next to the best
        chosen = {k: v + 0.25 for k, v in m.state_dict().items()}
        m.load_state_dict(chosen)
        tr.save_checkpoint(path)
        state = load_state(path)
    assert "resume" not in state
    for k, v in chosen.items():
        np.testing.assert_array_equal(state["model"][k], v)


# ----- predict keeps every module's own mode


def test_predict_restores_every_modules_own_mode():
    """A Dropout frozen in eval mode inside a model in training mode stays off after predict
    and evaluate. Reference: the hand computation with that Dropout as the identity."""
    nn.manual_seed(0)
    m = nn.Sequential(nn.Linear(3, 4, dtype=F), nn.Dropout(0.5))
    m[1].eval()
    X = np.random.default_rng(0).normal(size=(6, 3))
    nn.predict(m, X)
    assert m.training and not m[1].training
    nn.Trainer(m, loss_fn=nn.mse_loss, progress=False).evaluate(X, np.zeros((6, 4)))
    assert m.training and not m[1].training
    np.testing.assert_allclose(m(X).value, X @ m[0].weight.value.T + m[0].bias.value, rtol=1e-12)
