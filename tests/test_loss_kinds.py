"""Each built-in loss is declared once (nn.losses.LOSS_KINDS); the Trainer and the compiled step
read that table, never a list of their own."""

import numpy as np
import pytest

from diffkit import nn
from diffkit.nn import losses


def test_every_loss_class_names_a_declared_function():
    classes = [c for c in vars(losses).values()
               if isinstance(c, type) and issubclass(c, losses._Loss) and c is not losses._Loss]
    assert set(classes) == set(losses.LOSS_MODULES)
    for cls in classes:
        assert cls.function in losses.LOSS_KINDS
        assert losses.kind_of(cls()) is losses.LOSS_KINDS[cls.function]


def test_a_subclass_counts_for_labels_but_not_for_compiling():
    class MyCE(nn.CrossEntropyLoss):
        def forward(self, input, target):
            return super().forward(input, target) * 2.0

    assert losses.uses_class_labels(MyCE())
    assert losses.builtin_loss(MyCE()) is None  # its forward may be anything
    reason = nn.compiled_step.why_not_compiled(nn.MLP([2, 3, 2]), MyCE())
    assert reason is not None and "MyCE" in reason


def test_an_unhashable_loss_of_your_own_trains():
    class Loss:
        __hash__ = None

        def __call__(self, out, y):
            return nn.mse_loss(out, y)

    X = np.linspace(-1, 1, 16, dtype=np.float32).reshape(8, 2)
    y = X.sum(1, keepdims=True)
    h = nn.Trainer(nn.MLP([2, 4, 1]), loss_fn=Loss(), progress=False).fit(
        nn.DataLoader(X, y, batch_size=4), epochs=1)
    assert np.isfinite(h["loss"][-1]) and np.isnan(h["accuracy"][-1])


# Trainer(loss_fn=functools.partial(nn.cross_entropy, reduction="sum")) recorded the summed loss
# (rows × the mean) where nn.CrossEntropyLoss(reduction="sum") records the mean (docs/nn.md)
def test_partial_of_a_builtin_loss_is_that_loss():
    import functools

    X, y = nn.make_xor(40)
    summed = functools.partial(nn.cross_entropy, reduction="sum")
    nn.manual_seed(0)
    m = nn.MLP([2, 8, 2])
    h = nn.fit(m, nn.DataLoader(X, y, batch_size=40, shuffle=False), epochs=1, progress=False,
               loss_fn=summed, optimizer=nn.SGD(m.parameters(), lr=0.0))
    # lr = 0: the model is the one at the start; the mean of −log softmax at the labels, by hand
    z = nn.predict(m, X)
    zmax = z.max(axis=1, keepdims=True)
    logp = z - zmax - np.log(np.exp(z - zmax).sum(axis=1, keepdims=True))
    assert h["loss"][0] == pytest.approx(float(-logp[np.arange(40), y].mean()), rel=1e-6)
