"""Trainer's compiled step: generated forward + loss + backward, used only where it is sound, and
bit-identical to the eager step (the reference here is the eager tape, an independent path:
records interpreted one by one rather than printed as code)."""

from __future__ import annotations

import numpy as np
import pytest

import diffkit as dk
from diffkit import nn

X, Y = nn.load_digits()
IMAGES, _ = nn.load_digits(images=True)


def _fit(make, compile, epochs=2, images=False, **trainer_args):
    nn.manual_seed(0)
    model, opt = make()
    trainer = nn.Trainer(model, optimizer=opt, progress=False, compile=compile, **trainer_args)
    data = IMAGES[:400] if images else X[:400]
    history = trainer.fit(nn.DataLoader(data, Y[:400], batch_size=32, seed=0), epochs=epochs)
    return trainer, history, [p.value.copy() for p in model.parameters()]


def _mlp():
    model = nn.MLP([64, 32, 10])
    return model, nn.SGD(model.parameters(), lr=0.05, momentum=0.9)


def _cnn():
    model = nn.Net(image_size=8, padding=1, channels=(4, 8), hidden=(32,))
    return model, nn.Adam(model.parameters(), lr=1e-2)


@pytest.mark.parametrize(("make", "images", "extra"), [
    (_mlp, False, {}), (_cnn, True, {}), (_mlp, False, {"l2": 1e-3, "clip_grad_norm": 1.0}),
], ids=["mlp-sgd", "cnn-adam", "mlp-l2-clip"])
def test_compiled_steps_train_exactly_as_the_eager_tape(make, images, extra) -> None:
    eager, h_eager, p_eager = _fit(make, False, images=images, **extra)
    compiled, h_comp, p_comp = _fit(make, None, images=images, **extra)
    assert eager.compiled.startswith("eager") and compiled.compiled == "compiled"
    assert h_comp["loss"] == h_eager["loss"]  # bit for bit
    assert h_comp["accuracy"] == h_eager["accuracy"]
    for a, b in zip(p_comp, p_eager, strict=True):
        assert a.dtype == b.dtype == np.float32
        np.testing.assert_array_equal(a, b)
    # 400 rows in batches of 32: the last batch (16 rows) has its own compiled signature
    assert len(compiled._step.codes) == 2


def test_dropout_and_unknown_modules_train_eagerly_and_say_why() -> None:
    model = nn.MLP([64, 16, 10], dropout=0.5)
    trainer = nn.Trainer(model, progress=False)
    trainer.fit(nn.DataLoader(X[:64], Y[:64], batch_size=32), epochs=1)
    assert trainer.compiled.startswith("eager") and "Dropout" in trainer.compiled
    with pytest.raises(ValueError, match="compile=True.*Dropout"):
        nn.Trainer(nn.MLP([64, 16, 10], dropout=0.5), progress=False, compile=True).fit(
            nn.DataLoader(X[:64], Y[:64], batch_size=32), epochs=1)

    class Custom(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.lin = nn.Linear(64, 10)

        def forward(self, x):
            return self.lin(x)

    trainer = nn.Trainer(Custom(), progress=False)
    trainer.fit(nn.DataLoader(X[:64], Y[:64], batch_size=32), epochs=1)
    assert "Custom" in trainer.compiled
    with pytest.raises(TypeError, match="compile must be"):
        nn.Trainer(Custom(), compile="yes")


def test_a_float32_function_compiles_to_float32_gradients() -> None:
    """The generated gradient was seeded with a Python 1.0: a folded constant became a float64
    NumPy scalar and turned float32 gradients into float64 ones."""
    f = dk.jit(lambda x: dk.mean(dk.tanh(x) * np.float32(3.0)))
    x = np.linspace(-1, 1, 8, dtype=np.float32)
    cg = dk.compile_gradient(f, x)
    (g,) = cg.grad(x)
    assert g.dtype == np.float32
    np.testing.assert_array_equal(g, dk.grad(f, method="reverse")(x)[0])


def _change_head(trainer):
    """A new last layer (and an optimizer over the new parameters)."""
    nn.manual_seed(1)
    setattr(trainer.model, "2", nn.Linear(32, 10))
    trainer.optimizer = nn.SGD(trainer.model.parameters(), lr=0.05)


def _freeze_first(trainer):
    """Fine-tuning: the first layer frozen (the optimizer keeps it in its list)."""
    for p in trainer.model[0].parameters():
        p.requires_grad = False


def _new_slope(trainer):
    trainer.model[1].negative_slope = 0.3


def _more_l2(trainer):
    trainer.l2 = 1e-2


@pytest.mark.parametrize("change", [_change_head, _freeze_first, _new_slope, _more_l2],
                         ids=["new-layer", "frozen", "new-slope", "l2"])
def test_a_model_changed_between_fits_is_compiled_afresh(change) -> None:
    """The compiled step is a snapshot of the model, its settings and the penalties: a layer
    replaced, a parameter frozen, a setting or the trainer's l2 changed between two fits give the
    eager tape's history and parameters, bit for bit (before: the old snapshot kept training the
    old layer, updated frozen weights, kept the old slope and penalty)."""
    runs = []
    for compile in (False, None):
        loader = nn.DataLoader(X[:256], Y[:256], batch_size=32, seed=0)
        nn.manual_seed(0)
        model = nn.Sequential(nn.Linear(64, 32), nn.LeakyReLU(0.1), nn.Linear(32, 10))
        trainer = nn.Trainer(model, optimizer=nn.SGD(model.parameters(), lr=0.05),
                             progress=False, compile=compile)
        trainer.fit(loader, epochs=1)
        frozen = [p.value.copy() for p in model[0].parameters()]
        change(trainer)
        history = trainer.fit(loader, epochs=3)
        if change is _freeze_first:
            for before, p in zip(frozen, model[0].parameters(), strict=True):
                np.testing.assert_array_equal(p.value, before)
        runs.append((history["loss"], [p.value.copy() for p in model.parameters()],
                     trainer.compiled))
    (h_eager, p_eager, _), (h_comp, p_comp, path) = runs
    assert path == "compiled"
    assert h_comp == h_eager
    for a, b in zip(p_comp, p_eager, strict=True):
        np.testing.assert_array_equal(a, b)


def test_a_resumed_fit_stays_compiled_and_still_checks_labels(monkeypatch) -> None:
    """fit() again (a notebook's loop) knows the model's classes from the first fit: its first
    step is compiled too (no eager step per call), and class labels are still checked."""
    nn.manual_seed(0)
    model = nn.MLP([64, 32, 10])
    trainer = nn.Trainer(model, optimizer=nn.SGD(model.parameters(), lr=0.05), progress=False)
    loader = nn.DataLoader(X[:128], Y[:128], batch_size=32, seed=0)
    trainer.fit(loader, epochs=1)
    calls = []
    monkeypatch.setattr(nn.MLP, "forward", lambda self, x: calls.append(1) or 1 / 0)
    for epochs in (2, 3):
        trainer.fit(loader, epochs=epochs)
    assert calls == [] and trainer.compiled == "compiled"
    bad = Y[:128].copy()
    bad[5] = 10
    with pytest.raises(ValueError, match="10"):
        trainer.fit(nn.DataLoader(X[:128], bad, batch_size=32, seed=0), epochs=4)


@pytest.mark.parametrize("compile", [False, None])
def test_a_parameter_frozen_between_fits_stays_put_in_regression(compile) -> None:
    """Without class labels the compiled path runs from the first step of the second fit: a
    parameter frozen in between keeps its value (it must not be updated with the gradient it
    had when it was last trained), on both paths alike."""
    rng = np.random.default_rng(0)
    Xr = rng.normal(size=(96, 4)).astype(np.float32)
    yr = (Xr @ np.arange(1, 5, dtype=np.float32))[:, None]
    nn.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 1))
    trainer = nn.Trainer(model, loss_fn=nn.mse_loss, progress=False, compile=compile,
                         optimizer=nn.SGD(model.parameters(), lr=0.01))
    loader = nn.DataLoader(Xr, yr, batch_size=32, seed=0)
    trainer.fit(loader, epochs=1)
    _freeze_first(trainer)
    before = [p.value.copy() for p in model[0].parameters()]
    trainer.fit(loader, epochs=3)
    for b, p in zip(before, model[0].parameters(), strict=True):
        np.testing.assert_array_equal(p.value, b)
    assert trainer.compiled == ("compiled" if compile is None else "eager: Trainer(compile=False)")


def test_tied_weights_train_alike_compiled_and_eager() -> None:
    """One weight Tensor in two layers: the compiled step feeds both uses from one input (its
    gradient sums both paths) and the history is the eager tape's, bit for bit."""
    runs = []
    for compile in (False, None):
        nn.manual_seed(0)
        first, second = nn.Linear(64, 64), nn.Linear(64, 64)
        second.weight = first.weight
        model = nn.Sequential(first, nn.Tanh(), second, nn.Tanh(), nn.Linear(64, 10))
        trainer = nn.Trainer(model, optimizer=nn.SGD(model.parameters(), lr=0.05),
                             progress=False, compile=compile)
        history = trainer.fit(nn.DataLoader(X[:256], Y[:256], batch_size=32, seed=0), epochs=2)
        runs.append((history["loss"], trainer.compiled, first.weight.value.copy()))
    assert runs[1][1] == "compiled" and runs[0][0] == runs[1][0]
    np.testing.assert_array_equal(runs[0][2], runs[1][2])
