"""nn names and the ``train --resume`` printout (hunt 42_2, findings 2 and 9).

A parameter, buffer or submodule name holding ".", the empty name, a name that is not a str, or
one of a Module's own attributes (``_parameters``, ``training``) is refused by name, by every way
a name is registered, before anything changes: "a.weight" beside a submodule ``a`` made three
parameters and a state dict of two (one trained value lost on save and load). Two entries with
one qualified name reached another way (a table written directly, a buffer and a parameter of one
name) make ``state_dict``/``load_state_dict``/``functional_call`` refuse. References: PyTorch's
behaviour for the same names (the same error types and words), and counts by hand.

``diffkit train --resume`` shows a setting read from a checkpoint as ``repr`` writes it (no
terminal control character reaches stderr), and reports a crafted generator state as it is (-5,
not NumPy's "-1 out of bounds"); the reference is Python's ``repr`` of the crafted value."""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import pytest

from diffkit import nn
from diffkit.cli import main
from diffkit.nn.checkpoint import CheckpointError, load_state, save_state
from diffkit.nn.module import ModuleNameError, ModuleNameTypeError


class _Holder(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.a = nn.Linear(1, 1)


def _param(v: float = 5.0) -> object:
    return nn.Parameter(np.array([[v]]))


# (what registers, the kind PyTorch names in its message); each takes (module, name)
_REGISTER = {
    "setattr parameter": (lambda m, name: setattr(m, name, _param()), "parameter"),
    "setattr module": (lambda m, name: setattr(m, name, nn.Linear(1, 1)), "module"),
    "register_buffer": (lambda m, name: m.register_buffer(name, np.ones(2)), "buffer"),
}


def _snapshot(m: nn.Module) -> tuple:
    return (sorted(m.__dict__), {t: dict(getattr(m, t)) for t in ("_parameters", "_buffers",
                                                                    "_modules")})


@pytest.mark.parametrize("how", list(_REGISTER))
@pytest.mark.parametrize(("name", "words"), [
    ("a.weight", 'name can\'t contain "."'),
    ("x.y", 'name can\'t contain "."'),
    ("", "name can't be empty string"),
])
def test_a_dotted_or_empty_name_is_refused_by_name_and_nothing_changes(how, name, words):
    register, kind = _REGISTER[how]
    m = _Holder()
    before = _snapshot(m)
    with pytest.raises(ModuleNameError, match=f"^{kind} {words}") as info:
        register(m, name)
    assert isinstance(info.value, KeyError)  # PyTorch's KeyError
    assert _snapshot(m) == before
    # the hunt's count: 2 parameters (the Linear's), 2 state entries, none lost
    assert len(m.parameters()) == len(m.state_dict()) == 2


def test_the_hunts_repro_three_parameters_two_entries_is_refused():
    m = _Holder()
    with pytest.raises(KeyError, match='can\'t contain "."'):
        setattr(m, "a.weight", _param())
    assert [k for k, _ in m.named_parameters()] == ["a.weight", "a.bias"]
    assert m.a.weight.value.dtype == np.float32  # the Linear's own weight, not the 5.0
    assert not any(p.value.dtype == np.float64 for p in m.parameters())


def test_pytorch_refuses_the_same_names_with_the_same_error_types():
    torch = pytest.importorskip("torch")
    tnn = torch.nn
    cases = [("a.weight", KeyError), ("", KeyError), (3, TypeError)]
    for name, error in cases:
        tm = tnn.Module()
        with pytest.raises(error):
            tm.register_parameter(name, tnn.Parameter(torch.ones(1)))
        with pytest.raises(error):
            tm.register_buffer(name, torch.ones(1))
        with pytest.raises(error):
            tm.add_module(name, tnn.Linear(1, 1))
        m = nn.Module()
        with pytest.raises(error):
            m.register_buffer(name, np.ones(1))
        if isinstance(name, str):  # setattr itself refuses a name that is not a str
            with pytest.raises(error):
                setattr(m, name, _param())
            with pytest.raises(error):
                setattr(m, name, nn.Linear(1, 1))
    tm = tnn.Module()
    tm.w = tnn.Parameter(torch.ones(1))
    with pytest.raises(KeyError, match="already exists"):
        tm.register_buffer("w", torch.ones(1))
    m = nn.Module()
    m.w = _param()
    with pytest.raises(KeyError, match="already exists"):
        m.register_buffer("w", np.ones(1))


@pytest.mark.parametrize("name", [3, None, ("a",)])
def test_a_buffer_name_that_is_not_a_str_is_a_type_error_by_name(name):
    m = nn.Module()
    with pytest.raises(ModuleNameTypeError, match="buffer name should be a string"):
        m.register_buffer(name, np.ones(1))
    assert m._buffers == {}
    with pytest.raises(TypeError):  # PyTorch's error type too
        m.register_buffer(name, np.ones(1))


@pytest.mark.parametrize("name", ["_parameters", "_buffers", "_modules", "training"])
@pytest.mark.parametrize("how", list(_REGISTER))
def test_a_modules_own_attribute_cannot_become_an_entry_and_the_module_stays_whole(name, how):
    register, kind = _REGISTER[how]
    m = _Holder()
    before = _snapshot(m)
    with pytest.raises(ModuleNameError, match=f"^{kind} name can't be '{name}'"):
        register(m, name)
    assert _snapshot(m) == before
    assert m.training is True
    m.eval()
    assert m.training is False and m.a.training is False
    assert sorted(m.state_dict()) == ["a.bias", "a.weight"]
    # plain attributes of those names are still the module's own to set
    m.training = True
    assert m.training is True


def test_a_valid_name_still_registers_and_replaces_as_before():
    m = _Holder()
    m.w = _param(2.0)
    m.register_buffer("mean", np.zeros(2))
    m.b = nn.Linear(1, 1)
    m.w = _param(3.0)  # replacing a parameter by a parameter
    m.register_buffer("mean", np.ones(2))  # and a buffer by a buffer
    sd = m.state_dict()
    assert sorted(sd) == ["a.bias", "a.weight", "b.bias", "b.weight", "mean", "w"]
    assert sd["w"][0, 0] == 3.0 and list(sd["mean"]) == [1.0, 1.0]
    seq = nn.Sequential(nn.Linear(1, 1), nn.ReLU()).append(nn.Linear(1, 1))
    assert sorted(seq.state_dict()) == ["0.bias", "0.weight", "2.bias", "2.weight"]


def test_two_entries_of_one_qualified_name_are_refused_never_one_dropped():
    m = _Holder()
    m._parameters["a.weight"] = _param()  # written into the table directly, past the checks
    assert len(list(m.named_parameters())) == 3  # three parameters, two distinct names
    for call in (m.state_dict, lambda: m.load_state_dict({}, strict=False),
                 lambda: nn.functional_call(m, {}, np.ones((1, 1)))):
        with pytest.raises(ModuleNameError, match="qualified name 'a.weight'"):
            call()
    lin = nn.Linear(1, 1)
    lin._buffers["weight"] = np.ones(1)  # a buffer and a parameter of one name
    with pytest.raises(ModuleNameError, match="qualified name 'weight'"):
        lin.state_dict()


def test_a_tied_parameter_is_still_saved_under_each_of_its_names():
    shared = nn.Linear(1, 1)
    m = nn.Sequential(shared, shared)
    assert sorted(m.state_dict()) == ["0.bias", "0.weight", "1.bias", "1.weight"]
    m.load_state_dict(m.state_dict())


# ----- the CLI's --resume printout

def _checkpoint(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    ckpt = tmp_path / "run.ckpt"
    assert main(["train", "xor", "--epochs", "1", "--no-progress",
                 "--checkpoint", str(ckpt)]) == 0
    capsys.readouterr()
    return ckpt


def _resume(path: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    status = main(["train", "xor", "--epochs", "1", "--no-progress",
                   "--checkpoint", str(path), "--resume"])
    return status, capsys.readouterr().err


def _is_terminal_safe(text: str) -> bool:
    """No character a terminal acts on besides the line ends (C0, DEL, C1, bidi controls)."""
    return all(c.isprintable() for line in text.splitlines() for c in line)


def test_resume_shows_a_crafted_setting_as_repr_writes_it(tmp_path, capsys):
    ckpt = _checkpoint(tmp_path, capsys)
    state = load_state(ckpt)
    crafted = "xor\n\x1b[31mFAKE LINE\x1b[0m\x9b2J\u202e"
    state["config"]["dataset"] = crafted
    save_state(ckpt, state)
    status, err = _resume(ckpt, capsys)
    assert status == 1
    assert len(err.splitlines()) == 1 and _is_terminal_safe(err)
    assert f"DATASET {crafted!r}, not DATASET xor" in err  # Python's repr, the reference


def test_resume_reports_a_crafted_rng_state_as_it_is(tmp_path, capsys):
    ckpt = _checkpoint(tmp_path, capsys)
    good = load_state(ckpt)
    for field, value, words in [
            (("state", "state"), -5, "is -5, not an integer of 0 or more"),
            (("state", "inc"), -3, "is -3, not an integer of 0 or more"),
            (("state", "state"), 1.5, "is 1.5, not an integer"),  # NumPy truncates it to 1
            (("has_uint32",), True, "is True, not an integer")]:
        state = copy.deepcopy(good)
        where = state["rng"]
        for k in field[:-1]:
            where = where[k]
        where[field[-1]] = value
        save_state(ckpt, state)
        status, err = _resume(ckpt, capsys)
        assert status == 1, err
        assert "entry 'rng'" in err and words in err, err
        assert "out of bounds" not in err  # NumPy's "-1 out of bounds for uint64"
    state = copy.deepcopy(good)
    state["rng"]["extra"] = 1
    save_state(ckpt, state)
    status, err = _resume(ckpt, capsys)
    assert status == 1 and "entry 'rng'" in err and "'extra'" in err, err


def test_a_loaders_crafted_rng_state_is_reported_as_it_is():
    loader = nn.DataLoader(np.zeros((4, 1)), np.zeros(4), 2, seed=0)
    state = loader.state_dict()
    state["rng"]["state"]["state"] = -5
    before = loader.state_dict()
    with pytest.raises(ValueError, match=r"not the state of a NumPy PCG64 generator: "
                       r"\['state'\]\['state'\] is -5, not an integer"):
        loader.load_state_dict(state)
    assert loader.state_dict() == before


def test_a_good_rng_state_loads_and_a_trainer_checkpoint_round_trips(tmp_path):
    nn.manual_seed(3)
    model = nn.MLP([2, 4, 2])
    trainer = nn.Trainer(model, optimizer=nn.SGD(model.parameters(), lr=0.1), progress=False)
    path = tmp_path / "t.ckpt"
    trainer.save_checkpoint(str(path))
    expected = nn.get_rng().random(3)
    trainer.load_checkpoint(str(path))
    assert np.array_equal(nn.get_rng().random(3), expected)
    state = load_state(path)
    state["rng"]["state"]["state"] = 2**128  # one past PCG64's 128 bits
    save_state(path, state)
    with pytest.raises(CheckpointError, match="entry 'rng'"):
        trainer.load_checkpoint(str(path))
