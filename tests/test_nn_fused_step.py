"""The Trainer's fused step: with plain SGD, the generated step also updates the parameters
(θ −= η·g printed into the code), and later steps of the same batch signature replay it with
less Python. Each scenario runs twice — on the eager tape (Trainer(compile=False): records
interpreted one by one, the optimizer's own step) and on the default path — and everything a user
can see must be equal bit for bit: the history, the parameters, every ``.grad``, the optimizer's
state."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from diffkit import nn
from diffkit.nn.optim import Optimizer

X, Y = nn.load_digits()


def _model(dtype: Any) -> nn.Module:
    nn.manual_seed(0)
    return nn.MLP([64, 32, 16, 10], dtype=dtype)


def _run(compile: bool | None, dtype: Any, scenario: Callable[[nn.Trainer], Any],
         make_opt: Callable[[nn.Module], Optimizer] | None = None, **trainer_args: Any
         ) -> tuple[nn.Trainer, Any]:
    model = _model(dtype)
    opt = make_opt(model) if make_opt else nn.SGD(model.parameters(), lr=0.05)
    trainer = nn.Trainer(model, optimizer=opt, progress=False, compile=compile, **trainer_args)
    return trainer, scenario(trainer)


def _loader(t: nn.Trainer) -> nn.DataLoader:
    # 400 rows in batches of 32: twelve full batches and one of 16 (two signatures), in the
    # model's dtype
    dtype = next(iter(t.model.parameters())).value.dtype
    return nn.DataLoader(X[:400], Y[:400], batch_size=32, seed=0, dtype=dtype)


def _same(a: nn.Trainer, b: nn.Trainer) -> None:
    ha, hb = a.history.to_dict(), b.history.to_dict()
    for key in ("loss", "accuracy", "lr", "grad_norms"):
        np.testing.assert_equal(ha[key], hb[key], err_msg=key)  # (NaN accuracy: equal)
    for (name, p), (_, q) in zip(a.model.named_parameters(), b.model.named_parameters(),
                                 strict=True):
        assert p.value.dtype == q.value.dtype
        np.testing.assert_array_equal(p.value, q.value, err_msg=name)
        assert (p.grad is None) == (q.grad is None), name
        if p.grad is not None:
            assert p.grad.dtype == q.grad.dtype
            np.testing.assert_array_equal(p.grad, q.grad, err_msg=name)
    sa, sb = a.optimizer.state_dict(), b.optimizer.state_dict()
    assert sa["param_groups"] == sb["param_groups"] and sa["state"].keys() == sb["state"].keys()


def _both(dtype: Any, scenario: Callable[[nn.Trainer], Any], **kw: Any) -> nn.Trainer:
    eager, _ = _run(False, dtype, scenario, **kw)
    fused, _ = _run(None, dtype, scenario, **kw)
    assert eager.compiled.startswith("eager") and fused.compiled == "compiled"
    _same(fused, eager)
    return fused


def _fit(epochs: int) -> Callable[[nn.Trainer], Any]:
    return lambda t: t.fit(_loader(t), epochs=epochs)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_plain_sgd_updates_inside_the_generated_step_exactly_as_the_optimizer(dtype,
                                                                             monkeypatch):
    steps = []
    step = nn.SGD.step

    def counted(self: Optimizer) -> None:
        steps.append(1)
        step(self)

    monkeypatch.setattr(nn.SGD, "step", counted)
    eager, _ = _run(False, dtype, _fit(3))
    assert len(steps) == 3 * 13  # the eager tape: the optimizer's step, every step
    steps.clear()
    fused, _ = _run(None, dtype, _fit(3))
    # the generated step updates θ itself; the optimizer runs at the first step (eager: it
    # checks the labels) and once per batch signature (the step that shows the gradients'
    # dtypes and shapes)
    assert len(steps) == 3
    _same(fused, eager)


def test_rate_per_group_a_parameter_outside_the_optimizer_and_a_frozen_one() -> None:
    def make_opt(model: nn.Module) -> Optimizer:
        params = list(model.parameters())
        params[1].requires_grad = False  # frozen: no .grad, never updated
        # params[-1] (the last bias) is left out: it gets .grad (accumulated), no update
        return nn.SGD([{"params": params[:2]}, {"params": params[2:-1], "lr": 0.01}], lr=0.1)

    _both(np.float32, _fit(2), make_opt=make_opt)


def test_rates_are_read_at_every_step_scheduler_and_changes_between_fits() -> None:
    def scenario(t: nn.Trainer) -> None:
        t.scheduler = nn.StepLR(t.optimizer, step_size=1, gamma=0.5)
        t.fit(_loader(t), epochs=2)
        t.optimizer.param_groups[0]["lr"] = 0.2
        t.fit(_loader(t), epochs=3)
        t.optimizer.param_groups[0]["momentum"] = 0.9  # no longer plain: the optimizer steps
        t.fit(_loader(t), epochs=4)
        t.optimizer.param_groups[0]["momentum"] = 0.0
        t.fit(_loader(t), epochs=5)

    _both(np.float64, scenario)


def test_a_parameter_array_someone_holds_is_not_written_in_place() -> None:
    held: list[np.ndarray] = []

    def scenario(t: nn.Trainer) -> None:
        t.fit(_loader(t), epochs=1)
        held.append(t.model[0].weight.value)  # a reference to θ's array, kept
        before = held[-1].copy()
        t.fit(_loader(t), epochs=2)
        np.testing.assert_array_equal(held[-1], before)  # unchanged: θ got a new array

    fused = _both(np.float32, scenario)
    assert fused.model[0].weight.value is not held[-1]


def test_gradient_norms_and_clipping_on_the_fused_and_the_general_path() -> None:
    _both(np.float32, _fit(2), track_grad_norms=True)
    _both(np.float32, _fit(2), clip_grad_norm=0.5)  # clipping: the optimizer's own step


def test_an_out_of_range_label_in_a_replayed_step_is_named_before_anything_changes() -> None:
    y_bad = Y[:64].copy()
    y_bad[40] = 10  # in the second batch, whose signature the first one made replayable

    def scenario(t: nn.Trainer) -> None:
        t.fit([(X[:32], Y[:32]), (X[32:64], Y[32:64])], epochs=1)
        with pytest.raises(ValueError, match=r"label 10 \(at index 8\)"):
            t.fit([(X[:32], Y[:32]), (X[32:64], y_bad[32:])], epochs=2)

    _both(np.float32, scenario)


def test_the_update_is_printed_into_the_generated_step() -> None:
    fused, _ = _run(None, np.float32, _fit(1))
    code = next(f for f in fused._step.fused.values() if f)
    assert code.__code__.co_filename == "<diffkit compiled training step>"
    assert fused._step._last  # the fused steps' keys, in parts, per input shape (replay)


def test_a_replayed_step_reports_compiled():
    nn.manual_seed(0)
    model = nn.MLP([64, 16, 10])
    trainer = nn.Trainer(model, optimizer=nn.SGD(model.parameters(), lr=0.05), progress=False)
    trainer.fit(nn.DataLoader(X[:64], Y[:64], batch_size=32), epochs=2)  # 2nd epoch: fused
    trainer.compiled = "eager: (as after a step of another signature that ran eagerly)"
    replayed = []
    replay = trainer._step.replay

    def spy(*args):
        replayed.append(replay(*args))
        return replayed[-1]

    trainer._step.replay = spy
    trainer._step_unguarded(X[:32].astype(np.float32), Y[:32])  # the 32-row signature again
    assert replayed and replayed[0] is not None  # it was replayed
    assert trainer.compiled == "compiled"  # was the eager step's reason


def test_a_loader_that_runs_code_of_the_users_between_steps_is_checked_at_every_step() -> None:
    """Within an epoch over a plain DataLoader nothing but fit runs between two steps, so the
    steps after the first of a batch shape compare only the batch (compiled_step.Lane). A
    transform is the user's code: in the middle of an epoch it changes the rate and keeps a
    reference to a weight's array — the next steps must use the new rate and leave that array
    alone, as the eager tape does."""
    held: list[tuple[np.ndarray, np.ndarray]] = []

    def scenario(t: nn.Trainer) -> None:
        calls = []

        def transform(xb: np.ndarray, rng: np.random.Generator) -> np.ndarray:
            calls.append(1)
            if len(calls) == 5:
                t.optimizer.param_groups[0]["lr"] = 0.01
            if len(calls) == 8:
                array = t.model[0].weight.value
                held.append((array, array.copy()))
            return xb

        dtype = next(iter(t.model.parameters())).value.dtype
        loader = nn.DataLoader(X[:400], Y[:400], batch_size=32, seed=0, dtype=dtype,
                               transform=transform)
        t.fit(loader, epochs=2)

    eager, _ = _run(False, np.float32, scenario)
    fused, _ = _run(None, np.float32, scenario)
    assert fused.compiled == "compiled"
    _same(fused, eager)
    array, then = held[-1]
    np.testing.assert_array_equal(array, then)  # not written after it was held


@pytest.mark.parametrize("loss", ["classes", "regression"])
def test_steps_after_the_first_of_a_shape_check_only_the_batch_and_agree_bit_for_bit(loss,
                                                                                    monkeypatch):
    """Within an epoch over a plain DataLoader, a batch shape's first step is replayed with
    every check and admitted (compiled_step.Lane); its later steps compare only the batch. A
    regression loss (no class labels) was never admitted at first: the labels' check decided
    it. Counted: the fully checked replays per epoch are one per batch shape (13 steps, two
    shapes); everything a user sees is the eager tape's, bit for bit."""
    from diffkit.nn.compiled_step import CompiledStep

    replays = []
    replay = CompiledStep.replay

    def counted(self: CompiledStep, *args: Any) -> Any:
        replays.append(1)
        return replay(self, *args)

    monkeypatch.setattr(CompiledStep, "replay", counted)
    targets = (Y[:400] if loss == "classes"
               else np.eye(10, dtype=np.float32)[Y[:400]] * 2.0 - 0.5)  # values to fit

    def scenario(t: nn.Trainer) -> None:
        if loss == "regression":
            t.loss_fn = nn.losses.mse_loss
        t.fit(nn.DataLoader(X[:400], targets, batch_size=32, seed=0), epochs=3)
        replays.append("fit")

    eager, _ = _run(False, np.float32, scenario)
    replays.clear()
    fused, _ = _run(None, np.float32, scenario)
    assert fused.compiled == "compiled"
    _same(fused, eager)
    assert replays.count(1) <= 3 * 2 + 2  # was 12 a epoch for classes; for regression too
