"""Regressions and false refusals of hunt 40's nn changes: clip_grad_norm_ of a float16 norm
that rounds to 0 (as PyTorch) and of one that overflows (named); NumPy-number settings of
EarlyStopping/ReduceLROnPlateau load back; the constructors refuse what loading refuses; a
checkpoint is refused after a DivergenceError only (a -inf mask saves); a loader of the user's
saves no state; val_data=(X, y) of nested lists; a np.memmap saves as an array. References are
hand formulas (or PyTorch's value where it is installed)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from test_nn40 import _moons, _trainer  # the same data and trainer as the first nn fixes

from diffkit import nn
from diffkit.errors import NumericOverflowError
from diffkit.nn.checkpoint import CheckpointError, load_state, save_state


# ----- 1. a float16 norm of a negative order that rounds to 0
def test_float16_negative_order_norm_rounding_to_zero():
    g = np.full(1000, 1e-5, np.float16)
    p = nn.Parameter(np.zeros(1000, np.float16))
    p.grad = g.copy()
    # by hand: (Σ|g|⁻¹)⁻¹ = g/1000 ≈ 1e-8, below float16's smallest number: 0
    assert float(np.float16(float(g[0]) / 1000)) == 0.0
    assert nn.clip_grad_norm_([p], 1.0, norm_type=-1) == 0.0
    np.testing.assert_array_equal(p.grad, g)  # coefficient capped at 1: unchanged
    torch = pytest.importorskip("torch")
    t = torch.zeros(1000, dtype=torch.float16, requires_grad=True)
    t.grad = torch.tensor(g)
    assert float(torch.nn.utils.clip_grad_norm_([t], 1.0, norm_type=-1)) == 0.0


# ----- 8. the float16 norm itself overflows
def test_float16_norm_overflow_is_named_as_such():
    p = nn.Parameter(np.zeros(2, np.float16))
    p.grad = np.array([60000, 60000], np.float16)  # √2·60000 > 65504, float16's largest
    with pytest.raises(NumericOverflowError, match=r"no gradient is NaN or inf.*overflowed "
                                                   r"float16") as info:
        nn.clip_grad_norm_([p], 1.0, error_if_nonfinite=True)
    assert "NaN's source" not in str(info.value)
    np.testing.assert_array_equal(p.grad, [60000, 60000])


# ----- 2. NumPy numbers as settings
@pytest.mark.parametrize("patience", [np.int64(3), np.float64(np.inf), np.float32(2)])
def test_early_stopping_numpy_patience_round_trips(tmp_path, patience):
    es = nn.EarlyStopping(patience=patience)
    for v in (1.0, 2.0, 3.0):
        es.step(v)
    state = es.state_dict()
    assert type(state["stopped"]) is bool and not isinstance(state["patience"], np.generic)
    assert state["patience"] == float(patience)
    fresh = nn.EarlyStopping(patience=patience)
    fresh.load_state_dict(state)
    assert fresh.bad_epochs == 2 and fresh.stopped == (2 >= float(patience))
    X, y = _moons()
    tr = _trainer(early_stopping=nn.EarlyStopping(patience=patience))
    tr.fit(nn.DataLoader(X, y, batch_size=20), epochs=2)
    path = str(tmp_path / "c.ckpt")
    tr.save_checkpoint(path)
    again = _trainer(early_stopping=nn.EarlyStopping(patience=patience))
    again.load_checkpoint(path)
    assert again.early_stopping.epoch == 1


def test_plateau_numpy_settings_are_python_numbers():
    opt = nn.SGD([nn.Parameter(np.zeros(1))], lr=0.1)
    s = nn.ReduceLROnPlateau(opt, patience=np.int64(2), cooldown=np.int64(1))
    for _ in range(5):
        s.step(1.0)
    state = s.state_dict()
    assert not any(isinstance(v, np.generic) for v in state.values())
    assert type(state["patience"]) is int and type(state["cooldown_counter"]) is int


# ----- 7. the constructors refuse what loading refuses
@pytest.mark.parametrize("kw", [{"patience": -1}, {"patience": math.nan}, {"patience": True},
                                {"cooldown": -1}, {"cooldown": math.nan}])
def test_plateau_constructor_refuses_bad_counts(kw):
    opt = nn.SGD([nn.Parameter(np.zeros(1))], lr=0.1)
    with pytest.raises(ValueError, match=f"ReduceLROnPlateau: {next(iter(kw))} is"):
        nn.ReduceLROnPlateau(opt, **kw)


@pytest.mark.parametrize("patience", [-1, math.nan, True])
def test_early_stopping_constructor_refuses_bad_patience(patience):
    with pytest.raises(ValueError, match="EarlyStopping: patience is"):
        nn.EarlyStopping(patience=patience)


def test_load_refusal_is_a_checkpoint_error_and_rolls_back(tmp_path):
    X, y = _moons()
    tr = _trainer()
    tr.scheduler = nn.ReduceLROnPlateau(tr.optimizer, patience=1)
    tr.fit(nn.DataLoader(X, y, batch_size=20), epochs=1)
    tr.scheduler.patience = -1  # set by hand after construction: load_state_dict refuses it
    path = str(tmp_path / "c.ckpt")
    tr.save_checkpoint(path)
    before = [np.array(p.value) for p in tr.model.parameters()]
    with pytest.raises(CheckpointError, match="'scheduler'.*patience"):
        tr.load_checkpoint(path)
    assert tr.scheduler.patience == -1 and tr.epoch == 1
    for a, p in zip(before, tr.model.parameters(), strict=True):
        np.testing.assert_array_equal(a, p.value)


# ----- 3. refused after a DivergenceError only
def _masked() -> nn.Trainer:
    tr = _trainer()
    tr.model.mask = nn.Parameter(np.array([0, -np.inf, 0], np.float32), requires_grad=False)
    return tr


def test_frozen_inf_mask_is_saved(tmp_path):
    X, y = _moons()
    path = str(tmp_path / "c.ckpt")
    tr = _masked()
    tr.save_checkpoint(path)  # untrained
    tr.checkpoint = path
    tr.fit(nn.DataLoader(X, y, batch_size=20), epochs=2)  # saved at each epoch's end
    again = _masked()
    again.model.mask.value[...] = 0
    again.load_checkpoint(path)
    np.testing.assert_array_equal(again.model.mask.value, [0, -np.inf, 0])
    assert again.epoch == 2


def test_diverged_fit_refuses_until_a_finite_epoch_or_a_load(tmp_path):
    X, y = _moons()
    path = str(tmp_path / "c.ckpt")
    tr = _trainer()
    tr.fit(nn.DataLoader(X, y, batch_size=20), epochs=1)
    tr.save_checkpoint(path)
    tr.optimizer.param_groups[0]["lr"] = 1e30
    with pytest.raises(nn.DivergenceError):
        tr.fit(nn.DataLoader(X, y, batch_size=20), epochs=3)
    with pytest.raises(CheckpointError, match="diverged at epoch 2"):
        tr.save_checkpoint(str(tmp_path / "bad.ckpt"))
    assert not (tmp_path / "bad.ckpt").exists()
    tr.load_checkpoint(path)  # the last good one: saving works again
    tr.save_checkpoint(str(tmp_path / "again.ckpt"))
    tr.optimizer.param_groups[0]["lr"] = 1e30
    with pytest.raises(nn.DivergenceError):
        tr.fit(nn.DataLoader(X, y, batch_size=20), epochs=3)
    tr.model.load_state_dict(load_state(path)["model"])  # repaired by hand
    tr.optimizer.param_groups[0]["lr"] = 0.01
    tr.fit(nn.DataLoader(X, y, batch_size=20), epochs=2)  # a finite epoch
    tr.save_checkpoint(str(tmp_path / "ok.ckpt"))


# ----- 4. a loader of the user's saves no state
class _Shuffled:
    """A loader of the user's that keeps its own shuffling state."""

    def __init__(self, X: np.ndarray, y: np.ndarray) -> None:
        self.X, self.y, self.rng, self.loaded = X, y, np.random.default_rng(0), 0

    def __len__(self) -> int:
        return 2

    def __iter__(self):
        idx = self.rng.permutation(len(self.X))
        half = len(idx) // 2
        return iter([(self.X[idx[:half]], self.y[idx[:half]]),
                     (self.X[idx[half:]], self.y[idx[half:]])])

    def state_dict(self) -> dict:
        return {"seed_state": self.rng.bit_generator.state}

    def load_state_dict(self, state: dict) -> None:
        self.loaded += 1
        self.rng.bit_generator.state = state["seed_state"]


def test_user_loader_saves_none_and_resumes(tmp_path):
    X, y = _moons()
    path = str(tmp_path / "c.ckpt")
    tr = _trainer()
    tr.fit(_Shuffled(X, y), epochs=1)
    tr.save_checkpoint(path)
    assert load_state(path)["loader"] is None
    again = _trainer()
    again.load_checkpoint(path)
    mine = _Shuffled(X, y)
    assert len(again.fit(mine, epochs=2)["loss"]) == 2 and mine.loaded == 0
    # a DataLoader's state is not handed to a loader of the user's either
    tr = _trainer()
    tr.fit(nn.DataLoader(X, y, batch_size=20), epochs=1)
    tr.save_checkpoint(path)
    again = _trainer()
    again.load_checkpoint(path)
    mine = _Shuffled(X, y)
    again.fit(mine, epochs=2)
    assert mine.loaded == 0


# ----- 5. val_data=(X, y) of nested lists
def test_val_data_tuple_of_nested_lists():
    X, y = _moons()
    tr = _trainer()
    tr.optimizer.param_groups[0]["lr"] = 0.0
    h = tr.fit([(X, y)], val_data=(X.tolist(), y.tolist()), epochs=1)
    out = np.asarray(nn.predict(tr.model, X), dtype=np.float64)
    z = out - out.max(1, keepdims=True)  # cross-entropy by hand
    ce = float(np.mean(np.log(np.exp(z).sum(1)) - z[np.arange(len(y)), y]))
    assert h["val_loss"][-1] == pytest.approx(ce, rel=1e-5)
    assert h["val_accuracy"][-1] == pytest.approx(float(np.mean(out.argmax(1) == y)))


def test_val_data_list_is_batches_and_says_so():
    X, y = _moons()
    with pytest.raises(TypeError, match=r"\(X, y\) is passed as a tuple; a list is read as "
                                        "batches"):
        _trainer().fit([(X, y)], val_data=[X, (y,)], epochs=1)
    with pytest.raises(TypeError, match=r"tuple of two \(x, y\) batches.*as a list"):
        _trainer().fit([(X, y)], val_data=((X[:20], y[:20]), (X[20:], y[20:])), epochs=1)
    with pytest.raises(TypeError, match="val_data's X or y"):
        _trainer().fit([(X, y)], val_data=([[1.0, 2.0], [3.0]], [0, 1]), epochs=1)


# ----- 6. a np.memmap saves as a plain array
def test_memmap_saves_as_an_array(tmp_path):
    np.save(tmp_path / "w.npy", np.arange(6, dtype=np.float32))
    m = np.load(tmp_path / "w.npy", mmap_mode="r")
    path = str(tmp_path / "s.ckpt")
    save_state(path, {"w": m, "part": m[1:4], "nested": {"x": m[::2]}})
    back = load_state(path)
    assert type(back["w"]) is np.ndarray
    np.testing.assert_array_equal(back["w"], [0, 1, 2, 3, 4, 5])
    np.testing.assert_array_equal(back["part"], [1, 2, 3])
    np.testing.assert_array_equal(back["nested"]["x"], [0, 2, 4])
    with pytest.raises(CheckpointError, match="masked"):
        save_state(path, {"a": np.ma.masked_array([1.0], mask=[True])})


def test_val_data_as_a_list_of_two_arrays_is_x_and_y():
    """[X, y] (two arrays, no batch pairs) is (X, y), as before this stop: val_loss equals
    evaluate(X, y) for the same weights."""
    rng = np.random.default_rng(3)
    X = rng.normal(size=(12, 3))
    y = np.arange(12) % 2
    nn.manual_seed(0)
    t = nn.Trainer(nn.MLP([3, 4, 2]), progress=False)
    h = t.fit(nn.DataLoader(X, y, batch_size=4), val_data=[X, y], epochs=1)
    assert h["val_loss"][-1] == pytest.approx(t.evaluate(X, y)[0], rel=1e-12, abs=0)
