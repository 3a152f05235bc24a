"""A checkpoint whose checksum is valid but whose content is malformed (crafted, or written by
other code) is refused when it is loaded — a CheckpointError naming the entry — and the trainer
is left as it was; never a bare TypeError/KeyError/AttributeError at the next fit, nor a fit
that silently trains nothing. The pieces' own load_state_dict (DataLoader, EarlyStopping,
schedulers) check their state the same way. A Trainer's ``config`` is saved in its checkpoints
and a checkpoint of another config is refused."""

from __future__ import annotations

import math

import numpy as np
import pytest

from diffkit import nn
from diffkit.nn.checkpoint import CheckpointError, load_state, save_state
from diffkit.nn.train import ConfigMismatchError

X = np.random.default_rng(0).normal(size=(20, 4)).astype(np.float32)
Y = np.arange(20) % 2


def _trainer(scheduler: str = "cosine", config: dict | None = None) -> nn.Trainer:
    nn.manual_seed(0)
    model = nn.MLP([4, 5, 2])
    opt = nn.Adam(model.parameters(), lr=0.01)
    sched = {"cosine": lambda: nn.CosineAnnealingLR(opt, 4),
             "plateau": lambda: nn.ReduceLROnPlateau(opt, patience=0),
             "step": lambda: nn.StepLR(opt, 2)}[scheduler]()
    return nn.Trainer(model, optimizer=opt, scheduler=sched,
                      early_stopping=nn.EarlyStopping(patience=5), progress=False,
                      config=config)


def _loader() -> nn.DataLoader:
    return nn.DataLoader(X, Y, batch_size=8)


@pytest.fixture(scope="module")
def good(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """The state of a real checkpoint after 2 epochs (cosine schedule, early stopping)."""
    path = tmp_path_factory.mktemp("good") / "run.ckpt"
    t = _trainer()
    t.fit(_loader(), val_data=(X, Y), epochs=2)
    t.save_checkpoint(str(path))
    return load_state(path)


def _fresh_state(t: nn.Trainer) -> dict:
    return {"epoch": t.epoch, "model": t.model.state_dict(), "opt": t.optimizer.state_dict(),
            "sched": t.scheduler.state_dict(), "es": t.early_stopping.state_dict(),
            "rng": nn.get_rng().bit_generator.state}


def _same(a: object, b: object) -> bool:
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list | tuple):
        return type(a) is type(b) and len(a) == len(b) and all(map(_same, a, b))
    if isinstance(a, np.ndarray):
        return np.array_equal(a, b)
    if isinstance(a, float) and math.isnan(a):
        return isinstance(b, float) and math.isnan(b)
    return a == b


def _rng_state(gen: str = "PCG64") -> dict:
    return getattr(np.random, gen)(5).state


def _set(*path: object, value: object):
    def change(s: dict) -> None:
        for k in path[:-1]:
            s = s[k]
        s[path[-1]] = value
    return change


def _drop(*path: object):
    def change(s: dict) -> None:
        for k in path[:-1]:
            s = s[k]
        del s[path[-1]]
    return change


BAD = {
    # entry name in the message, change, words of the message
    "loader str": ("loader", _set("loader", value="garbage"), "a str, not a dict"),
    "loader empty": ("loader", _set("loader", value={}), "no 'rng'"),
    "loader rng str": ("loader", _set("loader", "rng", value="x"), "'rng'"),
    "loader rng wrong": ("loader", _set("loader", "rng", value={"bit_generator": "PCG64"}),
                         "not the state of a NumPy PCG64"),
    "loader rng alien": ("loader", _set("loader", "rng", value={"bit_generator": "os.system"}),
                         "'rng' names 'os.system', which is not a NumPy bit generator"),
    "loader extra": ("loader", _set("loader", "evil", value=1), "unknown entry 'evil'"),
    "best_state str": ("best_state", _set("best_state", value="x"), "a str, not a dict"),
    "best_state bogus": ("best_state", _set("best_state", value={"bogus": np.zeros(3)}),
                         "missing"),
    "best_state shape": ("best_state", _set("best_state", "0.weight", value=np.zeros(3)),
                         "shape"),
    "history str": ("history", _set("history", "loss", value="abc"),
                    "'loss' is a str, not a list of numbers"),
    "history list": ("history", _set("history", value=[1, 2]), "a list, not a dict"),
    "history str number": ("history", _set("history", "accuracy", value=[0.5, "x"]),
                           "'accuracy'[1] is 'x'"),
    "history bool": ("history", _set("history", "lr", value=[True, 0.1]), "'lr'[0] is True"),
    "history missing": ("history", _drop("history", "time"), "no 'time'"),
    "history lengths": ("history", _set("history", "lr", value=[0.1]),
                        "'lr' has 1 entries for 2 epochs"),
    "history long val": ("history", _set("history", "val_loss", value=[0.1, 0.2, 0.3]),
                         "'val_loss' has 3 entries for 2 epochs"),
    "history grad_norms": ("history", _set("history", "grad_norms", value="x"),
                           "'grad_norms' is a str, not a dict"),
    "history grad_norms list": ("history", _set("history", "grad_norms", "0.weight",
                                                value=[1.0, None]),
                                "'grad_norms'['0.weight'][1] is None"),
    "epoch huge": ("epoch", _set("epoch", value=10**30), "'history' records 2 epochs"),
    "epoch ahead": ("epoch", _set("epoch", value=3), "'history' records 2 epochs"),
    "epoch float": ("epoch", _set("epoch", value=2.0), "not a whole number"),
    "early_stopping str": ("early_stopping", _set("early_stopping", value="x"),
                           "a str, not a dict"),
    "early_stopping partial": ("early_stopping", _set("early_stopping", value={"best": 0.5}),
                               "no 'best_epoch'"),
    "early_stopping best": ("early_stopping", _set("early_stopping", "best", value="x"),
                            "'best' is 'x', not a number"),
    "early_stopping mode": ("early_stopping", _set("early_stopping", "mode", value="up"),
                            "'mode' is 'up', not one of 'min', 'max'"),
    "early_stopping method": ("early_stopping", _set("early_stopping", "improved", value=1),
                              "unknown entry 'improved'"),
    "early_stopping counter": ("early_stopping", _set("early_stopping", "bad_epochs", value=-1),
                               "'bad_epochs' is -1, not a whole number >= 0"),
    "scheduler str": ("scheduler", _set("scheduler", value="x"), "a str, not a dict"),
    "scheduler T_max": ("scheduler", _set("scheduler", "T_max", value=0),
                        "'T_max' is 0, not a whole number >= 1"),
    "scheduler epoch": ("scheduler", _set("scheduler", "last_epoch", value="2"),
                        "'last_epoch' is '2', not a whole number"),
    "scheduler lrs": ("scheduler", _set("scheduler", "base_lrs", value=[0.01, 0.02]),
                      "'base_lrs' has 2 entries, not 1"),
    "scheduler lr nan": ("scheduler", _set("scheduler", "base_lrs", value=[math.nan]),
                         "'base_lrs'[0] is nan, not a finite number >= 0"),
    "scheduler other": ("scheduler", _set("scheduler", value={"step_size": 2, "gamma": 0.1,
                                                              "base_lrs": [0.01],
                                                              "last_epoch": 2}),
                        "unknown entry 'step_size'"),
    "rng str": ("rng", _set("rng", value="x"), "'rng'"),
    "model str": ("model", _set("model", value="x"), "'model'"),
    "optimizer str": ("optimizer", _set("optimizer", value="x"), "'optimizer'"),
    "resume str": ("resume", _set("resume", value="x"), "a str, not a dict"),
    "config str": ("config", _set("config", value="x"), "a str, not a dict"),
}


@pytest.mark.parametrize("case", list(BAD))
def test_malformed_content_is_refused_at_load_naming_the_entry(case: str, good: dict,
                                                               tmp_path) -> None:
    entry, change, words = BAD[case]
    state = {**good, "history": {**good["history"], "grad_norms": dict(good["history"]
                                                                         ["grad_norms"])},
             "loader": dict(good["loader"]), "early_stopping": dict(good["early_stopping"]),
             "scheduler": dict(good["scheduler"]),
             "best_state": dict(good["best_state"])}
    change(state)
    path = tmp_path / "bad.ckpt"
    save_state(path, state)  # the checksum is recomputed: only the content is wrong
    t = _trainer()
    before = _fresh_state(t)
    with pytest.raises(CheckpointError) as err:
        t.load_checkpoint(str(path))
    message = str(err.value)
    assert message.startswith(f"{path}: entry {entry!r}: "), message
    assert words in message, message
    assert "\n" not in message
    assert _same(before, _fresh_state(t)), "a refused checkpoint changed the trainer"
    assert t.history.epochs == 0 and t.best_state is None
    t.fit(_loader(), epochs=1)  # the trainer still trains, from where it was
    assert t.epoch == 1


def test_the_good_checkpoint_still_loads_and_resumes_bit_for_bit(good: dict, tmp_path) -> None:
    straight = _trainer()
    straight.fit(_loader(), val_data=(X, Y), epochs=4)
    path = tmp_path / "run.ckpt"
    save_state(path, good)
    t = _trainer()
    t.load_checkpoint(str(path))
    t.fit(_loader(), val_data=(X, Y), epochs=4)
    assert t.history["loss"] == straight.history["loss"]
    assert _same(t.model.state_dict(), straight.model.state_dict())


def test_a_user_entry_in_the_history_is_kept(good: dict, tmp_path) -> None:
    state = {**good, "history": {**good["history"], "notes": ["mine"]}}
    save_state(tmp_path / "x.ckpt", state)
    t = _trainer()
    t.load_checkpoint(str(tmp_path / "x.ckpt"))
    assert t.history["notes"] == ["mine"] and t.history.epochs == 2


def test_no_early_stopping_or_scheduler_state_is_accepted(good: dict, tmp_path) -> None:
    """...by a trainer without them; one with them refuses it (the schedule would restart
    mid-run: tests/test_nn40.py)."""
    save_state(tmp_path / "x.ckpt", {**good, "early_stopping": None, "scheduler": None,
                                     "loader": None, "best_state": None})
    t = _trainer()
    with pytest.raises(CheckpointError, match="entry 'scheduler': the run had no scheduler"):
        t.load_checkpoint(str(tmp_path / "x.ckpt"))
    t.scheduler = t.early_stopping = None
    t.load_checkpoint(str(tmp_path / "x.ckpt"))
    assert t.epoch == 2


# ----- the pieces' own load_state_dict --------------------------------------------------------


def test_dataloader_load_state_dict_checks_before_changing() -> None:
    loader = _loader()
    before = loader.rng.bit_generator.state
    for bad, words in [("x", "a str, not a dict"), ({}, "no 'rng'"),
                       ({"rng": {"bit_generator": "PCG64"}}, "not the state of a NumPy PCG64"),
                       ({"rng": _rng_state("MT19937")},
                        "a MT19937 state, but this loader's generator is a PCG64"),
                       ({"rng": before, "x": 1}, "unknown entry 'x'")]:
        with pytest.raises((TypeError, ValueError), match="DataLoader.load_state_dict: ") as err:
            loader.load_state_dict(bad)
        assert words in str(err.value), str(err.value)
        assert loader.rng.bit_generator.state == before
    loader.load_state_dict({"rng": _rng_state()})
    assert loader.rng.bit_generator.state == _rng_state()


def test_early_stopping_load_state_dict_checks_before_changing() -> None:
    es = nn.EarlyStopping(patience=3)
    before = es.state_dict()
    for bad, words in [("x", "a str, not a dict"), ({**before, "best": "x"}, "'best' is 'x'"),
                       ({**before, "stopped": 1}, "'stopped' is 1, not True or False"),
                       ({**before, "monitor": 3}, "'monitor' is 3, not None or a str"),
                       ({**before, "step": 3}, "unknown entry 'step'")]:
        with pytest.raises((TypeError, ValueError),
                           match="EarlyStopping.load_state_dict: ") as err:
            es.load_state_dict(bad)
        assert words in str(err.value), str(err.value)
        assert es.state_dict() == before
    es.load_state_dict({**before, "best": 0.25, "best_epoch": 1, "epoch": 2})
    assert es.best == 0.25 and es.step(0.1) is False
    old = {k: v for k, v in before.items() if k not in ("monitor", "restore_best")}
    es.load_state_dict(old)  # settings an older diffkit did not save keep their values
    assert es.monitor is None and es.restore_best is True


@pytest.mark.parametrize("kind", ["cosine", "plateau", "step"])
def test_scheduler_load_state_dict_checks_before_changing(kind: str) -> None:
    sched = _trainer(kind).scheduler
    before = sched.state_dict()
    key = "last_epoch"
    with pytest.raises(ValueError, match=rf"{type(sched).__name__}.load_state_dict: "
                                         rf"'{key}' is 'x', not a whole number"):
        sched.load_state_dict({**before, key: "x"})
    with pytest.raises(ValueError, match="unknown entry 'get_last_lr'"):
        sched.load_state_dict({**before, "get_last_lr": 1})
    missing = dict(before)
    del missing[key]
    with pytest.raises(ValueError, match=f"no '{key}'"):
        sched.load_state_dict(missing)
    assert _same(sched.state_dict(), before)
    sched.load_state_dict(before)


# ----- the trainer's config -------------------------------------------------------------------


CONFIG = {"dataset": "xor", "epochs": 4, "lr": 0.01}


def test_config_is_saved_and_a_different_one_is_refused(tmp_path) -> None:
    path = tmp_path / "run.ckpt"
    t = _trainer(config=CONFIG)
    t.checkpoint = str(path)
    t.fit(_loader(), epochs=1)
    assert load_state(path)["config"] == CONFIG
    other = _trainer(config={**CONFIG, "epochs": 8, "lr": 0.5})
    before = _fresh_state(other)
    with pytest.raises(ConfigMismatchError) as err:
        other.load_checkpoint(str(path))
    e = err.value
    assert isinstance(e, CheckpointError) and e.keys == ["epochs", "lr"]
    assert e.saved == CONFIG and e.current == {**CONFIG, "epochs": 8, "lr": 0.5}
    assert str(e) == (f"{path}: written by a run with epochs=4, lr=0.01, not epochs=8, lr=0.5: "
                      "load it into a trainer with that config, or start a new run")
    assert _same(before, _fresh_state(other))
    same = _trainer(config=dict(CONFIG))
    same.load_checkpoint(str(path))
    assert same.epoch == 1


def test_a_checkpoint_without_config_is_refused_by_a_trainer_with_one(tmp_path) -> None:
    path = tmp_path / "run.ckpt"
    t = _trainer()
    t.checkpoint = str(path)
    t.fit(_loader(), epochs=1)
    assert "config" not in load_state(path)  # a trainer without config writes none
    with pytest.raises(ConfigMismatchError, match="records no config") as err:
        _trainer(config=CONFIG).load_checkpoint(str(path))
    assert err.value.saved is None
    _trainer().load_checkpoint(str(path))  # without a config, nothing to compare


def test_config_must_be_plain_data() -> None:
    with pytest.raises(TypeError, match="config must be a dict"):
        _trainer(config=["x"])
    with pytest.raises(TypeError, match=r"config\['f'\] is a object: a config holds str, "):
        _trainer(config={"f": object()})
    with pytest.raises(TypeError, match=r"config\['a'\]\[1\] is a set"):
        _trainer(config={"a": [1, {2}]})
