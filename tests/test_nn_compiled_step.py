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
