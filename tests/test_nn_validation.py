"""diffkit.nn refuses bad inputs with named errors instead of training on a silent wrong result:
mismatched loss shapes, out-of-range class labels, NaN or inf in data, invalid optimizer
hyper-parameters, a diverging loss, empty data and a negative number of epochs."""

from __future__ import annotations

import ast
import math
import pathlib
import re
import warnings

import numpy as np
import pytest

import diffkit as dk
from diffkit import nn
from diffkit.errors import DiffkitError, ShapeError

F32 = np.float32


# ----- losses: input and target shapes must match


@pytest.mark.parametrize("loss, inp, target", [
    (nn.mse_loss, np.zeros((4, 1)), np.zeros(4)),
    (nn.mse_loss, np.zeros(4), np.zeros((4, 1))),
    (nn.MSELoss(), np.zeros((4, 1)), np.zeros(4)),
    (nn.binary_cross_entropy, np.full((4, 1), 0.5), np.ones(4)),
    (nn.BCELoss(), np.full((4, 1), 0.5), np.ones(4)),
    (nn.binary_cross_entropy_with_logits, np.zeros((4, 1)), np.ones(4)),
    (nn.BCEWithLogitsLoss(), np.zeros((4, 1)), np.ones(4)),
    (nn.cross_entropy, np.zeros((4, 3)), np.full((4, 1), 1.0)),
    (nn.cross_entropy, np.zeros((4, 3)), np.full((3, 3), 1 / 3)),
])
def test_losses_refuse_input_and_target_of_different_shapes(loss, inp, target):
    with pytest.raises(ShapeError) as err:
        loss(inp, target)
    msg = str(err.value)
    assert f"input shape {inp.shape} and target shape {target.shape} differ" in msg


def test_mse_on_a_column_against_a_flat_target_no_longer_trains_on_the_outer_difference():
    X = np.linspace(-1, 1, 32, dtype=F32).reshape(-1, 1)
    y = (2 * X[:, 0]).astype(F32)  # (32,), while the model outputs (32, 1)
    nn.manual_seed(0)
    model = nn.Linear(1, 1)
    trainer = nn.Trainer(model, loss_fn=nn.mse_loss, optimizer=nn.SGD(model.parameters(), lr=0.1),
                         progress=False)
    with pytest.raises(ShapeError, match=re.escape("mse_loss: input shape (8, 1) and target shape "
                                                   "(8,) differ")):
        trainer.fit(nn.DataLoader(X, y, 8), epochs=1)
    h = trainer.fit(nn.DataLoader(X, y.reshape(-1, 1), 8), epochs=1)  # the fix the hint names
    assert math.isfinite(h["loss"][0])


def test_matching_shapes_still_work_and_tensors_are_checked_by_value():
    z = dk.tensor(np.zeros((4, 1)), requires_grad=True)
    assert float(nn.mse_loss(z, np.ones((4, 1)))) == 1.0
    assert float(nn.cross_entropy(np.zeros((2, 4)), np.full((2, 4), 0.25))) == pytest.approx(
        math.log(4))


# ----- class labels


@pytest.mark.parametrize("loss", [
    nn.cross_entropy, nn.CrossEntropyLoss(),
    lambda z, t: nn.nll_loss(dk.log_softmax(z, axis=1), t), nn.NLLLoss(),
])
@pytest.mark.parametrize("label", [-1, 3, 10])
def test_out_of_range_labels_are_a_value_error_naming_label_and_classes(loss, label):
    labels = np.array([0, 2, label, 1])
    with pytest.raises(ValueError, match=re.escape(f"label {label} (at index 2) is out of range "
                                                   "for 3 classes: labels must be 0 ... 2")):
        loss(np.zeros((4, 3)), labels)


@pytest.mark.parametrize("fn", [nn.cross_entropy, nn.nll_loss])
@pytest.mark.parametrize("labels", [np.zeros((4, 1), int), np.zeros(3, int), np.zeros(5, int)])
def test_labels_must_be_one_per_row(fn, labels):
    with pytest.raises(ShapeError, match=re.escape(f"class labels must have shape (4,), one per "
                                                   f"row of the input of shape (4, 3); got shape "
                                                   f"{labels.shape}")):
        fn(np.zeros((4, 3)), labels)


def test_trainer_checks_the_loaders_labels_once_before_training():
    X, y = nn.make_moons(64)
    y = y.copy()
    y[37] = 2  # two outputs: classes 0 and 1
    nn.manual_seed(0)
    model = nn.MLP([2, 4, 2])
    before = model.state_dict()
    trainer = nn.Trainer(model, progress=False)
    with pytest.raises(ValueError, match=re.escape("cross_entropy: label 2 (at index 37 of the "
                                                   "DataLoader's y) is out of range for 2 classes")):
        trainer.fit(nn.DataLoader(X, y, 16), epochs=1)
    for k, v in model.state_dict().items():  # refused before the first step
        np.testing.assert_array_equal(v, before[k])
    with pytest.raises(ValueError, match=re.escape("label -1 (at index 0 of y) is out of range")):
        trainer.evaluate(X[:4], np.array([-1, 0, 1, 0]))


# ----- NaN and inf in data


def test_dataloader_refuses_nan_and_inf_naming_the_array_and_count():
    X = np.ones((10, 3))
    X[2, 1], X[5, 0], X[7, 2] = np.nan, np.inf, -np.inf
    with pytest.raises(ValueError, match=re.escape("DataLoader: X has 3 entries that are not "
                                                   "finite (NaN or ±inf) out of 30")):
        nn.DataLoader(X, np.zeros(10))
    y = np.zeros(10)
    y[4] = np.nan
    with pytest.raises(ValueError, match=re.escape("DataLoader: y has 1 entry that is not finite")):
        nn.DataLoader(np.ones((10, 3)), y)
    with pytest.raises(ValueError, match=re.escape("values beyond the range of float32 became inf")):
        nn.DataLoader(np.full((2, 2), 1e39), np.zeros(2))


def test_fit_and_evaluate_refuse_non_finite_validation_data():
    X, y = nn.make_moons(64)
    Xv = X[:8].copy()
    Xv[3, 0] = np.nan
    nn.manual_seed(0)
    trainer = nn.Trainer(nn.MLP([2, 4, 2]), progress=False)
    with pytest.raises(ValueError, match=re.escape("val_data: X has 1 entry that is not finite")):
        trainer.fit(nn.DataLoader(X, y, 16), val_data=(Xv, y[:8]), epochs=1)
    assert trainer.epoch == 0 and trainer.history["loss"] == []  # refused before training
    with pytest.raises(ValueError, match=re.escape("evaluate: X has 1 entry that is not finite")):
        trainer.evaluate(Xv, y[:8])


# ----- optimizers


def _params():
    return nn.Linear(2, 1).parameters()


OPTIMIZERS = [nn.SGD, nn.RMSprop, nn.Adagrad, nn.Adadelta, nn.Adam, nn.AdamW, nn.NAdam]


@pytest.mark.parametrize("opt", OPTIMIZERS, ids=lambda c: c.__name__)
@pytest.mark.parametrize("lr", [math.nan, math.inf, -math.inf, -0.1])
def test_every_optimizer_refuses_an_invalid_learning_rate(opt, lr):
    with pytest.raises(ValueError, match=re.escape(f"Invalid learning rate: {lr}")):
        opt(_params(), lr=lr)
    with pytest.raises(ValueError, match=re.escape(f"Invalid learning rate: {lr}")):
        opt([{"params": _params(), "lr": lr}])  # a parameter group's own lr


@pytest.mark.parametrize("opt, kwargs, message", [
    (nn.SGD, {"momentum": math.nan}, "Invalid momentum value: nan"),
    (nn.SGD, {"dampening": -1.0}, "Invalid dampening value: -1.0"),
    (nn.SGD, {"weight_decay": math.inf}, "Invalid weight_decay value: inf"),
    (nn.RMSprop, {"momentum": -0.5}, "Invalid momentum value: -0.5"),
    (nn.RMSprop, {"weight_decay": math.nan}, "Invalid weight_decay value: nan"),
    (nn.RMSprop, {"eps": math.inf}, "Invalid epsilon value: inf"),
    (nn.Adagrad, {"eps": -1e-10}, "Invalid epsilon value: -1e-10"),
    (nn.Adagrad, {"weight_decay": -1.0}, "Invalid weight_decay value: -1.0"),
    (nn.Adagrad, {"initial_accumulator_value": math.nan}, "Invalid initial_accumulator_value: nan"),
    (nn.Adadelta, {"eps": math.nan}, "Invalid epsilon value: nan"),
    (nn.Adadelta, {"weight_decay": -1.0}, "Invalid weight_decay value: -1.0"),
    (nn.Adadelta, {"rho": math.nan}, "Invalid rho value: nan"),
    (nn.Adam, {"betas": (math.nan, 0.999)}, "Invalid beta parameter at index 0: nan"),
    (nn.Adam, {"betas": (0.9, 1.0)}, "Invalid beta parameter at index 1: 1.0"),
    (nn.Adam, {"betas": (0.9,)}, "Invalid betas: (0.9,)"),
    (nn.AdamW, {"eps": math.nan}, "Invalid epsilon value: nan"),
    (nn.NAdam, {"momentum_decay": -0.004}, "Invalid momentum_decay value: -0.004"),
])
def test_optimizers_refuse_invalid_hyper_parameters(opt, kwargs, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        opt(_params(), **kwargs)


# ----- divergence


@pytest.mark.parametrize("loss_fn, target, value", [
    (nn.cross_entropy, None, "nan"),
    (nn.mse_loss, "column", "inf"),
])
def test_a_diverging_loss_is_a_named_error_without_warnings(loss_fn, target, value):
    X, y = nn.make_moons(200, noise=0.2)
    outputs = 2
    if target == "column":
        y, outputs = y.reshape(-1, 1).astype(F32), 1
    nn.manual_seed(0)
    model = nn.MLP([2, 16, outputs])
    trainer = nn.Trainer(model, loss_fn=loss_fn, progress=False,
                         optimizer=nn.SGD(model.parameters(), lr=1e6 if value == "nan" else 1e3))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a NumPy RuntimeWarning would fail the test
        with pytest.raises(nn.DivergenceError) as err:
            trainer.fit(nn.DataLoader(X, y, 16), epochs=3)
    e = err.value
    assert re.fullmatch(rf"training diverged in epoch 1 at step \d+ of 13: the loss is {value}\. "
                        r"Lower the learning rate \(lr=1e\+06\), or clip gradients .*"
                        if value == "nan" else
                        rf"training diverged in epoch 1 at step \d+ of 13: the loss is {value}\. "
                        r"Lower the learning rate \(lr=1000\), or clip gradients .*", str(e))
    assert e.epoch == 1 and 1 <= e.step <= 13 and str(e.loss) == value
    assert trainer.history["loss"] == []  # the diverged epoch is not recorded
    assert isinstance(e, FloatingPointError) and isinstance(e, DiffkitError)


# ----- fit arguments


def test_fit_on_an_empty_loader_is_a_value_error():
    nn.manual_seed(0)
    trainer = nn.Trainer(nn.MLP([2, 4, 2]), progress=False)
    empty = nn.DataLoader(np.zeros((0, 2)), np.zeros(0, int))
    with pytest.raises(ValueError, match=re.escape("fit: the DataLoader is empty (0 batches from 0 "
                                                   "rows with batch_size=32, drop_last=False)")):
        trainer.fit(empty, epochs=1)
    short = nn.DataLoader(np.zeros((10, 2)), np.zeros(10, int), batch_size=32, drop_last=True)
    with pytest.raises(ValueError, match="the DataLoader is empty .*10 rows with batch_size=32, "
                                         "drop_last=True"):
        trainer.fit(short, epochs=1)
    assert trainer.fit(empty, epochs=0)["loss"] == []  # nothing to train: no error


def test_epochs_must_be_a_non_negative_int_and_zero_trains_nothing(tmp_path):
    X, y = nn.make_moons(32)
    nn.manual_seed(0)
    model = nn.MLP([2, 4, 2])
    before = model.state_dict()
    trainer = nn.Trainer(model, progress=False, checkpoint=str(tmp_path / "run.ckpt"))
    with pytest.raises(ValueError, match=re.escape("fit: epochs must be >= 0, got -1")):
        trainer.fit(nn.DataLoader(X, y), epochs=-1)
    with pytest.raises(TypeError, match=re.escape("fit: epochs must be an int, got 2.5")):
        trainer.fit(nn.DataLoader(X, y), epochs=2.5)
    h = trainer.fit(nn.DataLoader(X, y), epochs=0)
    assert h["loss"] == [] and trainer.epoch == 0 and not list(tmp_path.iterdir())
    for k, v in model.state_dict().items():
        np.testing.assert_array_equal(v, before[k])


# ----- code hygiene


def test_trainer_has_no_dead_train_step_and_nn_runs_on_python_3_10():
    assert not hasattr(nn.Trainer, "train_step")  # fit runs _device_step
    for path in pathlib.Path(nn.__file__).parent.glob("*.py"):
        tree = ast.parse(path.read_text(), feature_version=(3, 10))
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module == "typing":
                assert "Self" not in [a.name for a in node.names], f"{path.name} imports typing.Self"


def test_a_diverging_float16_model_is_told_about_float16():
    """A float16 model whose loss overflows was told only to lower the learning rate; the
    message names float16's range and float32 as the way out (ninth hunt, h9c)."""
    X, y = nn.make_moons(200, noise=0.2)
    nn.manual_seed(0)
    model = nn.MLP([2, 16, 2], dtype=np.float16)
    trainer = nn.Trainer(model, progress=False, optimizer=nn.SGD(model.parameters(), lr=1e4))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(nn.DivergenceError, match=r"float16 holds numbers up to 65504 only: "
                           r"train in float32 \(build the model with dtype=np\.float32\)"):
            trainer.fit(nn.DataLoader(X.astype(np.float16), y, 16), epochs=3)
