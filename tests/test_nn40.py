"""Trainer data, validation, checkpoints and clipping (hunt 40): fit on a list of batches or an
iterable without len() checkpoints and resumes; val_data as batches is the concatenation's
loss; clip_grad_norm_ of negative orders and float16 as PyTorch; checkpoints refuse what they
cannot hold; load_checkpoint refuses a scheduler or early stopping present on one side only;
no checkpoint of NaN weights; ReduceLROnPlateau's counters checked; nn.accuracy scores
multi-label targets as fit does. Each reference is a hand formula or PyTorch's value."""

from __future__ import annotations

import math

import numpy as np
import pytest

from diffkit import nn
from diffkit.errors import ShapeError
from diffkit.nn.checkpoint import CheckpointError, load_state, save_state


def _moons(n: int = 40) -> tuple[np.ndarray, np.ndarray]:
    X, y = nn.make_moons(n, seed=0)
    return X.astype(np.float32), y


def _trainer(**kw: object) -> nn.Trainer:
    nn.manual_seed(0)
    model = nn.MLP([2, 8, 2])
    opt = nn.SGD(model.parameters(), lr=0.1)
    return nn.Trainer(model, optimizer=opt, progress=False, **kw)


def _weights(tr: nn.Trainer) -> list[np.ndarray]:
    return [np.array(p.value) for p in tr.model.parameters()]


# ----- 1. a list of batches checkpoints and resumes
def test_list_of_batches_saves_resumes_and_checkpoints_each_epoch(tmp_path):
    X, y = _moons()
    batches = [(X[:20], y[:20]), (X[20:], y[20:])]
    whole = _trainer()
    whole.fit(batches, epochs=2)
    path = str(tmp_path / "run.ckpt")
    first = _trainer(checkpoint=path)  # written at every epoch's end
    first.fit(batches, epochs=1)
    assert load_state(path)["loader"] is None  # a list has no state: its order is the caller's
    second = _trainer()
    second.load_checkpoint(path)
    second.fit(batches, epochs=2)
    for a, b in zip(_weights(whole), _weights(second), strict=True):
        assert a.tobytes() == b.tobytes()


def test_dataloader_checkpoint_resumed_on_a_list(tmp_path):
    X, y = _moons()
    path = str(tmp_path / "run.ckpt")
    tr = _trainer()
    tr.fit(nn.DataLoader(X, y, batch_size=20), epochs=1)
    tr.save_checkpoint(path)
    again = _trainer()
    again.load_checkpoint(path)
    history = again.fit([(X[:20], y[:20]), (X[20:], y[20:])], epochs=2)
    assert len(history["loss"]) == 2


# ----- 2. iterables without __len__
class _Batches:
    """An iterable of the user's: __iter__ only."""

    def __init__(self, X: np.ndarray, y: np.ndarray, size: int = 16) -> None:
        self.X, self.y, self.size = X, y, size

    def __iter__(self):
        for i in range(0, len(self.X), self.size):
            yield self.X[i:i + self.size], self.y[i:i + self.size]


def test_iterable_without_len_trains_as_the_list_of_its_batches():
    X, y = _moons()
    a = _trainer()
    a.fit(_Batches(X, y), epochs=2)
    b = _trainer()
    b.fit(list(_Batches(X, y)), epochs=2)
    assert a.history["loss"] == b.history["loss"]
    for u, v in zip(_weights(a), _weights(b), strict=True):
        assert u.tobytes() == v.tobytes()


def test_iterable_without_len_with_a_shown_bar(monkeypatch):
    rich_console = pytest.importorskip("rich.console")
    import io

    from diffkit.nn import train

    out = io.StringIO()
    monkeypatch.setattr(train, "_terminal_console",
                        lambda: rich_console.Console(file=out, force_terminal=True))
    X, y = _moons()
    tr = _trainer()
    tr.progress = True
    tr.fit(_Batches(X, y), epochs=2)  # a bar without a total
    assert tr.epoch == 2 and "6/?" in out.getvalue()  # 6 steps, of no known total


def test_generator_trains_one_epoch_and_refuses_more():
    X, y = _moons()
    tr = _trainer()
    tr.fit(((X[i:i + 10], y[i:i + 10]) for i in range(0, 40, 10)), epochs=1)
    assert tr.epoch == 1
    with pytest.raises(TypeError, match="re-iterable"):
        _trainer().fit(((X[i:i + 10], y[i:i + 10]) for i in range(0, 40, 10)), epochs=2)


def test_empty_iterable_without_len_is_named():
    X, y = _moons()
    with pytest.raises(ValueError, match="gave no batches"):
        _trainer().fit(_Batches(X[:0], y[:0]), epochs=1)
    with pytest.raises(ValueError, match="empty"):
        _trainer().fit([], epochs=1)


# ----- 3. val_data as batches
def _mse_by_hand(model: nn.Module, X: np.ndarray, Y: np.ndarray) -> float:
    out = np.asarray(nn.predict(model, X), dtype=np.float64)
    return float(np.mean((out - Y) ** 2))


@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_val_batches_give_the_concatenations_loss(reduction):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 2)).astype(np.float32)
    Y = X @ np.float32([[1, 2], [3, -1]])
    forms = {"list": [(X[:20], Y[:20]), (X[20:], Y[20:])],
             "uneven": [(X[:7], Y[:7]), (X[7:], Y[7:])],
             "loader": nn.DataLoader(X, Y, batch_size=16, shuffle=False)}
    for name, val in forms.items():
        tr = _trainer(loss_fn=nn.MSELoss(reduction=reduction))
        tr.optimizer.param_groups[0]["lr"] = 0.0
        h = tr.fit(nn.DataLoader(X, Y, batch_size=8), val_data=val, epochs=1)
        assert h["val_loss"][-1] == pytest.approx(_mse_by_hand(tr.model, X, Y), rel=1e-5), name


def test_val_batches_give_the_concatenations_accuracy():
    X, y = _moons()
    tr = _trainer()
    tr.optimizer.param_groups[0]["lr"] = 0.0
    h = tr.fit([(X, y)], val_data=[(X[:13], y[:13]), (X[13:], y[13:])], epochs=1)
    out = np.asarray(nn.predict(tr.model, X), dtype=np.float64)
    z = out - out.max(1, keepdims=True)
    ce = float(np.mean(np.log(np.exp(z).sum(1)) - z[np.arange(len(y)), y]))
    assert h["val_loss"][-1] == pytest.approx(ce, rel=1e-5)
    assert h["val_accuracy"][-1] == pytest.approx(float(np.mean(out.argmax(1) == y)))


@pytest.mark.parametrize("bad", ["X only", "dict", "generator", "mismatch", "not pairs"])
def test_bad_val_data_is_named(bad):
    X, y = _moons()
    val = {"X only": (X,), "dict": {"X": X, "y": y},
           "generator": ((X[i:i + 10], y[i:i + 10]) for i in range(0, 40, 10)),
           "mismatch": (X, y[:10]), "not pairs": [X, X, y]}[bad]
    with pytest.raises((TypeError, ValueError), match="val_data"):
        _trainer().fit([(X, y)], val_data=val, epochs=1)


# ----- 4. clip_grad_norm_ as PyTorch
@pytest.mark.parametrize("dtype", [np.float32, np.float16])
@pytest.mark.parametrize("g, order", [([np.inf, -np.inf], -1.0), ([np.inf, -np.inf], -2.0),
                                      ([300.0, 400.0], 2.0), ([300.0, 400.0], -1.0),
                                      ([1e-3, 2e-3], -2.0), ([6e4, 6e4], 2.0)])
def test_clip_grad_norm_as_pytorch(g, order, dtype):
    torch = pytest.importorskip("torch")
    t = torch.zeros(2, dtype=getattr(torch, np.dtype(dtype).name), requires_grad=True)
    t.grad = torch.tensor(g, dtype=t.dtype)
    want = float(torch.nn.utils.clip_grad_norm_([t], 1.0, norm_type=order))
    p = nn.Parameter(np.zeros(2, dtype))
    p.grad = np.array(g, dtype)
    with np.errstate(all="ignore"):
        got = nn.clip_grad_norm_([p], 1.0, norm_type=order)
    assert got == pytest.approx(want, rel=1e-6 if dtype == np.float32 else 1e-3)
    np.testing.assert_allclose(p.grad, t.grad.numpy(), rtol=1e-3, equal_nan=True)


# ----- 5. values checkpoints cannot hold
@pytest.mark.parametrize("kind", ["masked", "matrix"])
@pytest.mark.filterwarnings("ignore::PendingDeprecationWarning")
def test_ndarray_subclasses_are_refused(tmp_path, kind):
    value = (np.ma.masked_array([1.0, -999.0], mask=[False, True]) if kind == "masked"
             else np.matrix([[1.0, 2.0]]))
    with pytest.raises(CheckpointError, match=r"state\['a'\].*np.asarray"):
        save_state(str(tmp_path / "s.ckpt"), {"a": value})


def test_lone_surrogates_are_refused_by_key(tmp_path):
    name = b"data_\xff.csv".decode("utf-8", "surrogateescape")
    with pytest.raises(CheckpointError, match=r"state\['path'\].*surrogate"):
        save_state(str(tmp_path / "s.ckpt"), {"path": name})
    with pytest.raises(CheckpointError, match="surrogate"):
        save_state(str(tmp_path / "s.ckpt"), {name: 1})


# ----- 6. a scheduler or early stopping on one side only
def _with(piece: str | None) -> nn.Trainer:
    tr = _trainer()
    if piece == "scheduler":
        tr.scheduler = nn.StepLR(tr.optimizer, 1, 0.5)
    elif piece == "early_stopping":
        tr.early_stopping = nn.EarlyStopping(patience=3)
    return tr


@pytest.mark.parametrize("piece", ["scheduler", "early_stopping"])
def test_presence_mismatch_is_refused(tmp_path, piece):
    X, y = _moons()
    path = str(tmp_path / "c.ckpt")
    for saved, loaded in ((piece, None), (None, piece)):
        tr = _with(saved)
        tr.fit(nn.DataLoader(X, y, batch_size=20), epochs=2)
        tr.save_checkpoint(path)
        other = _with(loaded)
        lr = other.optimizer.param_groups[0]["lr"]
        with pytest.raises(CheckpointError, match=piece):
            other.load_checkpoint(path)
        assert other.epoch == 0 and other.optimizer.param_groups[0]["lr"] == lr


# ----- 7. no checkpoint of diverged weights
def test_diverged_trainer_does_not_save(tmp_path):
    X, y = _moons()
    tr = _trainer()
    tr.fit(nn.DataLoader(X, y, batch_size=20), epochs=1)
    tr.optimizer.param_groups[0]["lr"] = 1e30
    with pytest.raises(nn.DivergenceError):
        tr.fit(nn.DataLoader(X, y, batch_size=20), epochs=3)
    assert tr.epoch == 1 and len(tr.history["loss"]) == 1
    with pytest.raises(CheckpointError, match="diverged"):
        tr.save_checkpoint(str(tmp_path / "c.ckpt"))
    assert not (tmp_path / "c.ckpt").exists()


# ----- 8. ReduceLROnPlateau's counters
@pytest.mark.parametrize("entry, value", [("patience", math.nan), ("cooldown_counter", -1),
                                          ("cooldown", -2), ("patience", -1)])
def test_plateau_counters_are_checked(entry, value):
    opt = nn.SGD([nn.Parameter(np.zeros(1))], lr=0.1)
    s = nn.ReduceLROnPlateau(opt, patience=0)
    state = s.state_dict()
    state[entry] = value
    with pytest.raises(ValueError, match=entry):
        s.load_state_dict(state)
    stop = nn.EarlyStopping()
    state = stop.state_dict()
    state["patience"] = math.nan
    with pytest.raises(ValueError, match="patience"):
        stop.load_state_dict(state)


# ----- 9. nn.accuracy of multi-label targets
def test_accuracy_of_multi_label_targets_is_fits():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(37, 4)).astype(np.float32)
    Y = (rng.random((37, 3)) > 0.5).astype(np.float32)
    nn.manual_seed(0)
    model = nn.Linear(4, 3)
    tr = nn.Trainer(model, loss_fn=nn.BCEWithLogitsLoss(), progress=False)
    z = np.asarray(nn.predict(model, X))
    by_hand = float(np.mean((z > 0) == (Y > 0.5)))
    assert nn.accuracy(z, Y) == pytest.approx(by_hand)
    assert nn.accuracy(z, Y) == pytest.approx(tr.evaluate(X, Y)[1])
    assert nn.accuracy(1 / (1 + np.exp(-z)), Y, threshold=0.5) == pytest.approx(by_hand)
    with pytest.raises(ShapeError, match="accuracy"):
        nn.accuracy(z, Y[:, :2])
