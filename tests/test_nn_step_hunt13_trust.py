"""Trust: the compiled training step after code of the user's changed the trainer inside an
epoch (a DataLoader transform runs between two steps), and the next fit after a restore.

The reference is the eager step (``compile=False``: the tape and ``Optimizer.step``, checked
against PyTorch in test_nn_equivalence_trust.py), and for the hand-checked cases the parameters a
step must not move. Each case trained with stale settings before: the old optimizer layout, no
clipping, the old loss, the last epoch's weights instead of loaded ones, or a false label error.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from diffkit import nn

RNG = np.random.default_rng(0)
X = RNG.normal(size=(48, 4))
Y = RNG.integers(0, 3, 48)


def _train(compile: bool | None, make_opt: Callable[[list[Any]], Any],
           at_step_3: Callable[[nn.Trainer, Any], None]) -> tuple[nn.Module, nn.Trainer]:
    """One epoch of 6 batches; `at_step_3` runs (from the transform) before the third step."""
    nn.manual_seed(0)
    model = nn.MLP([4, 5, 3], dtype=np.float64)
    trainer = nn.Trainer(model, optimizer=make_opt(list(model.parameters())), progress=False,
                         compile=compile)
    seen = [0]

    def transform(xb: Any, rng: Any) -> Any:
        if seen[0] == 2:
            at_step_3(trainer, model)
        seen[0] += 1
        return xb

    trainer.fit(nn.DataLoader(X, Y, batch_size=8, shuffle=False, dtype=np.float64,
                              transform=transform), epochs=1)
    return model, trainer


def _params(model: nn.Module) -> list[np.ndarray]:
    return [np.array(p.value) for p in model.parameters()]


def _same_as_eager(make_opt: Callable[[list[Any]], Any],
                   at_step_3: Callable[[nn.Trainer, Any], None]) -> nn.Trainer:
    compiled_model, trainer = _train(None, make_opt, at_step_3)
    eager_model, eager = _train(False, make_opt, at_step_3)
    for a, b in zip(_params(compiled_model), _params(eager_model), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(trainer.history["loss"], eager.history["loss"], rtol=1e-12)
    return trainer


def _sgd(params: list[Any]) -> Any:
    return nn.SGD(params, lr=0.1)


def test_optimizer_replaced_inside_an_epoch_trains_only_what_the_new_one_holds() -> None:
    def head_only(trainer: nn.Trainer, model: Any) -> None:
        trainer.optimizer = nn.SGD([model[2].weight, model[2].bias], lr=0.1)

    _same_as_eager(_sgd, head_only)
    # and by hand: layer 0 moves in the first two steps only
    model, _ = _train(None, _sgd, head_only)
    nn.manual_seed(0)
    two = nn.MLP([4, 5, 3], dtype=np.float64)
    trainer = nn.Trainer(two, optimizer=_sgd(list(two.parameters())), progress=False,
                         compile=False)
    trainer.fit(nn.DataLoader(X[:16], Y[:16], batch_size=8, shuffle=False, dtype=np.float64),
                epochs=1)
    np.testing.assert_allclose(model[0].weight.value, two[0].weight.value, rtol=1e-13)


def test_a_parameter_removed_from_its_group_inside_an_epoch() -> None:
    def drop_first(trainer: nn.Trainer, model: Any) -> None:
        trainer.optimizer.param_groups[0]["params"].pop(0)

    _same_as_eager(_sgd, drop_first)


def test_groups_regrouped_inside_an_epoch() -> None:
    def two_groups(params: list[Any]) -> Any:
        return nn.SGD([{"params": params[:2]}, {"params": params[2:], "lr": 0.5}], lr=0.1)

    def swap(trainer: nn.Trainer, model: Any) -> None:
        g = trainer.optimizer.param_groups
        g[0]["params"], g[1]["params"] = g[1]["params"], g[0]["params"]

    _same_as_eager(two_groups, swap)


def test_an_optimizer_with_fewer_groups_swapped_in_inside_an_epoch() -> None:
    def two_groups(params: list[Any]) -> Any:
        return nn.SGD([{"params": params[:2]}, {"params": params[2:], "lr": 0.5}], lr=0.1)

    def one_group(trainer: nn.Trainer, model: Any) -> None:  # was a bare IndexError
        trainer.optimizer = nn.SGD(model.parameters(), lr=0.2)

    _same_as_eager(two_groups, one_group)


@pytest.mark.parametrize("setting", [("clip_grad_norm", 1e-3), ("clip_grad_value", 1e-4)])
def test_clipping_set_inside_an_epoch_clips_the_next_step(setting: tuple[str, float]) -> None:
    def clip(trainer: nn.Trainer, model: Any) -> None:
        setattr(trainer, *setting)

    _same_as_eager(_sgd, clip)


@pytest.mark.parametrize("make_opt", [_sgd, lambda p: nn.Adam(p, lr=0.01)],
                         ids=["sgd", "adam"])
def test_loss_replaced_inside_an_epoch_trains_the_new_loss(make_opt: Any) -> None:
    def smooth(trainer: nn.Trainer, model: Any) -> None:
        trainer.loss_fn = nn.CrossEntropyLoss(label_smoothing=0.5)

    trainer = _same_as_eager(make_opt, smooth)
    assert trainer.compiled == "compiled"


def test_loss_replaced_by_a_sum_inside_an_epoch_reports_the_per_term_mean() -> None:
    def summed(trainer: nn.Trainer, model: Any) -> None:
        trainer.loss_fn = nn.CrossEntropyLoss(reduction="sum")

    trainer = _same_as_eager(_sgd, summed)
    # by hand: the epoch's loss is the row-weighted mean of per-row losses, whatever the
    # reduction, so it stays near the mean's scale (a sum over 8 rows would be ~8x)
    assert trainer.history["loss"][0] < 3.0


def _early_stopped() -> tuple[nn.Module, nn.Trainer, Any]:
    """Six epochs with EarlyStopping(restore_best=True): the model ends on its best weights."""
    nn.manual_seed(0)
    model = nn.MLP([4, 5, 3], dtype=np.float64)
    trainer = nn.Trainer(model, optimizer=nn.SGD(model.parameters(), lr=2.0), progress=False,
                         early_stopping=nn.EarlyStopping(patience=100))
    loader = nn.DataLoader(X, Y, batch_size=8, dtype=np.float64)
    trainer.fit(loader, epochs=6, val_data=(X[:10], Y[:10]))
    return model, trainer, loader


def test_loading_the_best_weights_after_a_restore_trains_them() -> None:
    model, trainer, loader = _early_stopped()
    assert trainer.early_stopping.best_epoch != trainer.epoch - 1  # the restore happened
    best = {k: v.copy() for k, v in trainer.best_state.items()}
    model.load_state_dict(best)  # "continue from the best weights", said explicitly
    loss_loaded = trainer.evaluate(X, Y)[0]
    trainer.optimizer.param_groups[0]["lr"] = 0.0  # nothing moves: the epoch's loss is theirs
    trainer.fit(loader, epochs=7, val_data=(X[:10], Y[:10]))
    assert trainer.history["loss"][-1] == pytest.approx(loss_loaded, rel=1e-12)


def test_untouched_restore_still_continues_from_the_last_epoch() -> None:
    model, trainer, loader = _early_stopped()
    last = trainer._last_state
    trainer.optimizer.param_groups[0]["lr"] = 0.0
    trainer.fit(loader, epochs=7, val_data=(X[:10], Y[:10]))
    model.load_state_dict(last)
    assert trainer.history["loss"][-1] == pytest.approx(trainer.evaluate(X, Y)[0], rel=1e-12)


def _fresh(lr: float, **trainer_args: Any) -> tuple[nn.Module, nn.Trainer]:
    """The seeded 4-5-3 MLP and a plain-SGD trainer of it."""
    nn.manual_seed(0)
    model = nn.MLP([4, 5, 3], dtype=np.float64)
    return model, nn.Trainer(model, optimizer=nn.SGD(model.parameters(), lr=lr), progress=False,
                             **trainer_args)


def test_a_classifier_grown_between_fits_trains_its_new_class() -> None:
    y4 = Y.copy()
    y4[::4] = 3
    results = []
    for compile in (None, False):
        model, trainer = _fresh(0.1, compile=compile)
        trainer.fit(nn.DataLoader(X, Y, batch_size=16, dtype=np.float64), epochs=1)
        model[2].weight.data = np.vstack([model[2].weight.data, np.full((1, 5), 0.1)])
        model[2].bias.data = np.append(model[2].bias.data, 0.0)
        trainer.fit(nn.DataLoader(X, y4, batch_size=16, dtype=np.float64), epochs=2)  # was a
        results.append((_params(model), trainer.history["loss"]))  # false label error
    for a, b in zip(results[0][0], results[1][0], strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-12)
    np.testing.assert_allclose(results[0][1], results[1][1], rtol=1e-12)
    # a label beyond the grown classes is still refused by name
    with pytest.raises(ValueError, match="out of range"):
        y5 = y4.copy()
        y5[0] = 4
        trainer.fit(nn.DataLoader(X, y5, batch_size=16, dtype=np.float64), epochs=3)


def test_a_loss_class_instead_of_an_instance_is_named() -> None:
    with pytest.raises(TypeError, match=r"pass an instance, loss_fn=CrossEntropyLoss\(\)"):
        nn.Trainer(nn.MLP([2, 2]), loss_fn=nn.CrossEntropyLoss, progress=False)


def test_add_param_group_takes_the_defaults_and_refuses_a_parameter_twice() -> None:
    model = nn.MLP([2, 3, 2])
    params = list(model.parameters())
    opt = nn.SGD(params[:2], lr=0.1, momentum=0.9)
    opt.add_param_group({"params": params[2:], "lr": 0.01})
    assert opt.param_groups[1]["momentum"] == 0.9 and opt.param_groups[1]["lr"] == 0.01
    with pytest.raises(ValueError, match="more than once"):
        opt.add_param_group({"params": params[0]})
    with pytest.raises(ValueError, match="learning rate"):
        opt.add_param_group({"params": [nn.Linear(2, 2).weight], "lr": -1.0})


def test_a_trainer_loaded_from_a_checkpoint_after_a_restore_continues_the_run(
        tmp_path: Any) -> None:
    """fit(6) with the best weights restored, saved, loaded into a new trainer, fit(8): as
    fit(8) in one go (the restore is undone where nothing was touched, also after a load)."""
    def trainer_of() -> nn.Trainer:
        nn.manual_seed(0)
        model = nn.MLP([4, 5, 3], dtype=np.float64)
        return nn.Trainer(model, optimizer=nn.SGD(model.parameters(), lr=2.0), progress=False,
                          early_stopping=nn.EarlyStopping(patience=100))

    loader = nn.DataLoader(X, Y, batch_size=8, dtype=np.float64, shuffle=False)
    straight = trainer_of()
    straight.fit(loader, epochs=8, val_data=(X[:10], Y[:10]))
    first = trainer_of()
    first.fit(loader, epochs=6, val_data=(X[:10], Y[:10]))
    assert first.early_stopping.best_epoch != first.epoch - 1  # the model holds older weights
    first.save_checkpoint(str(tmp_path / "run.ckpt"))  # after fit: the best weights, and the
    resumed = trainer_of()  # last epoch's to resume from
    resumed.load_checkpoint(str(tmp_path / "run.ckpt"))
    resumed.fit(loader, epochs=8, val_data=(X[:10], Y[:10]))
    np.testing.assert_allclose(resumed.history["loss"], straight.history["loss"], rtol=1e-12)


def test_a_partial_of_a_summed_loss_instance_reports_per_term_means() -> None:
    """functools.partial(nn.CrossEntropyLoss(reduction='sum')) is the instance's loss: history
    holds the per-term mean as for the instance itself (it read the partial as a mean: 16×)."""
    histories = []
    for loss in (nn.CrossEntropyLoss(reduction="sum"),
                 functools.partial(nn.CrossEntropyLoss(reduction="sum"))):
        _, trainer = _fresh(0.01, loss_fn=loss)
        histories.append(trainer.fit(nn.DataLoader(X, Y, batch_size=16, dtype=np.float64),
                                     epochs=1, val_data=(X, Y)))
    for key in ("loss", "val_loss"):
        np.testing.assert_allclose(histories[1][key], histories[0][key], rtol=1e-13)
    # by hand: the mean over rows of −log softmax at the label, of the trained model
    assert histories[0]["val_loss"][0] < 2.0


def test_a_declared_summed_loss_of_ones_own_reports_per_term_means() -> None:
    """A loss of your own declared `reduction = "sum"`: history holds its per-term mean — per row
    for integer class labels, per entry otherwise — as the built-in mean losses report (a summed
    cross-entropy was divided by rows × classes: a third of the mean for three classes)."""
    class SummedCrossEntropy:
        reduction = "sum"

        def __call__(self, out: Any, y: Any) -> Any:
            return nn.cross_entropy(out, y, reduction="sum")

    class SummedSquares:
        reduction = "sum"

        def __call__(self, out: Any, t: Any) -> Any:
            return ((out - t) ** 2).sum()

    targets = RNG.normal(size=(48, 3))
    for own, builtin, y in ((SummedCrossEntropy(), nn.CrossEntropyLoss(), Y),
                            (SummedSquares(), nn.MSELoss(), targets)):
        results = []
        for loss in (own, builtin):
            _, trainer = _fresh(0.0, loss_fn=loss)
            history = trainer.fit(nn.DataLoader(X, y, batch_size=16, dtype=np.float64),
                                  epochs=1, val_data=(X, y))
            results.append((history["loss"][0], history["val_loss"][0], trainer.evaluate(X, y)[0]))
        np.testing.assert_allclose(results[0], results[1], rtol=1e-12)
