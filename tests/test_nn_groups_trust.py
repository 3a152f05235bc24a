"""Parameter groups added after a scheduler, and optimizer states loaded into groups of
other sizes (stop 38's hunt of diffkit.nn).

A group added with ``add_param_group`` after the scheduler was made kept its rate for ever
(the scheduler zipped the groups with the base rates it saw when made: a silent wrong
schedule), and such a trainer's checkpoint could not be loaded back (a bare ValueError); an
optimizer state saved with groups of sizes (2, 2) loaded silently into groups of sizes (1, 3),
giving parameter 1 the other group's learning rate. The references are the schedules' own
formulas, by hand (PyTorch's chainable rules: every group's current rate times γ)."""

from __future__ import annotations

import math
import os

import numpy as np
import pytest

from diffkit import nn
from diffkit.nn.checkpoint import CheckpointError


def _params(n: int = 2) -> list[nn.Parameter]:
    return [nn.Parameter(np.zeros(2)) for _ in range(n)]


@pytest.mark.parametrize(("make", "factor"), [
    (lambda o: nn.StepLR(o, step_size=1, gamma=0.5), lambda e: 0.5),
    (lambda o: nn.ExponentialLR(o, gamma=0.5), lambda e: 0.5),
    (lambda o: nn.MultiStepLR(o, milestones=[2, 3], gamma=0.25), lambda e: 0.25 if e in (2, 3)
     else 1.0),
])
def test_a_group_added_after_the_scheduler_is_scheduled(make, factor):
    p, q = _params()
    opt = nn.SGD([p], lr=1.0)
    sched = make(opt)
    sched.step()  # epoch 1
    opt.add_param_group({"params": [q], "lr": 0.8})
    want = [opt.param_groups[0]["lr"], 0.8]
    for epoch in range(2, 6):
        sched.step()
        want = [w * factor(epoch) for w in want]
        assert [g["lr"] for g in opt.param_groups] == pytest.approx(want, rel=1e-15)
    assert opt.param_groups[1]["lr"] != 0.8  # (the old code left it there)


def test_cosine_schedules_an_added_group_from_its_rate():
    """The recursive cosine form from the rate L a group has at epoch e0:
    η_e = (1 + cos(πe/T)) / (1 + cos(πe0/T)) · L (η_min = 0), before the trough."""
    p, q = _params()
    opt = nn.SGD([p], lr=1.0)
    sched = nn.CosineAnnealingLR(opt, T_max=8)
    sched.step()
    sched.step()  # epoch 2
    opt.add_param_group({"params": [q], "lr": 0.8})
    for epoch in range(3, 8):
        sched.step()
        want = (1 + math.cos(math.pi * epoch / 8)) / (1 + math.cos(math.pi * 2 / 8)) * 0.8
        assert opt.param_groups[1]["lr"] == pytest.approx(want, rel=1e-12)
        assert opt.param_groups[0]["lr"] == pytest.approx(
            (1 + math.cos(math.pi * epoch / 8)) / 2, rel=1e-12)


def test_a_scheduler_loads_its_own_state_after_a_group_was_added():
    p, q = _params()
    opt = nn.SGD([p], lr=1.0)
    sched = nn.StepLR(opt, step_size=1, gamma=0.5)
    opt.add_param_group({"params": [q], "lr": 0.8})
    state = sched.state_dict()
    assert state["base_lrs"] == [1.0, 0.8]
    sched.load_state_dict(state)
    state["base_lrs"].append(3.0)  # the state is a copy: the scheduler's own list is untouched
    assert sched.base_lrs == [1.0, 0.8]


def _trainer() -> nn.Trainer:
    nn.manual_seed(0)
    m = nn.Sequential(nn.Linear(5, 8, dtype=np.float64), nn.Tanh(),
                      nn.Linear(8, 3, dtype=np.float64))
    opt = nn.SGD(m[0].parameters(), lr=0.1)
    sched = nn.StepLR(opt, step_size=1, gamma=0.5)
    opt.add_param_group({"params": m[2].parameters(), "lr": 0.2})  # the head, added later
    return nn.Trainer(m, optimizer=opt, scheduler=sched, progress=False)


def _loader() -> nn.DataLoader:
    rng = np.random.default_rng(1)
    return nn.DataLoader(rng.standard_normal((40, 5)), rng.integers(0, 3, 40), batch_size=8,
                         shuffle=False)


def test_a_trainer_with_an_added_group_trains_on_schedule_and_resumes(tmp_path):
    whole = _trainer()
    whole.fit(_loader(), epochs=4)
    assert [g["lr"] for g in whole.optimizer.param_groups] == pytest.approx(
        [0.1 * 0.5**4, 0.2 * 0.5**4], rel=1e-15)

    first = _trainer()
    first.fit(_loader(), epochs=2)
    path = os.fspath(tmp_path / "run.ckpt")
    first.save_checkpoint(path)
    resumed = _trainer()
    resumed.load_checkpoint(path)
    resumed.fit(_loader(), epochs=4)
    assert [g["lr"] for g in resumed.optimizer.param_groups] == \
        [g["lr"] for g in whole.optimizer.param_groups]
    for a, b in zip(whole.model.parameters(), resumed.model.parameters(), strict=True):
        assert np.array_equal(a.value, b.value)


def _adam(sizes: tuple[int, ...]) -> nn.Adam:
    ps = _params(sum(sizes))
    groups, first = [], 0
    for size, lr in zip(sizes, (0.1, 0.001, 0.01), strict=False):
        groups.append({"params": ps[first:first + size], "lr": lr})
        first += size
    opt = nn.Adam(groups)
    for p in ps:
        p.grad = np.ones(2)
    opt.step()
    return opt


def test_an_optimizer_state_loads_only_into_groups_of_its_sizes():
    saved = _adam((2, 2)).state_dict()
    assert [g["params"] for g in saved["param_groups"]] == [[0, 1], [2, 3]]
    other = _adam((1, 3))
    before = [dict(g) for g in other.param_groups]
    with pytest.raises(ValueError, match="arranged differently"):
        other.load_state_dict(saved)
    assert [g["lr"] for g in other.param_groups] == [g["lr"] for g in before]
    same = _adam((2, 2))
    same.load_state_dict(saved)
    assert [len(g["params"]) for g in same.param_groups] == [2, 2]  # params kept, not numbers
    assert all(type(p) is not int for g in same.param_groups for p in g["params"])


def test_a_state_without_group_sizes_still_loads():
    """A state saved before diffkit kept the groups' parameter numbers."""
    saved = _adam((2, 2)).state_dict()
    for g in saved["param_groups"]:
        del g["params"]
    opt = _adam((2, 2))
    opt.load_state_dict(saved)
    assert [g["lr"] for g in opt.param_groups] == [0.1, 0.001]


def test_a_checkpoint_of_other_group_sizes_is_a_checkpoint_error(tmp_path):
    def trainer(sizes: tuple[int, ...]) -> nn.Trainer:
        nn.manual_seed(0)
        m = nn.Sequential(nn.Linear(5, 8, dtype=np.float64), nn.Tanh(),
                          nn.Linear(8, 3, dtype=np.float64))
        ps = list(m.parameters())
        opt = nn.Adam([{"params": ps[:sizes[0]], "lr": 0.1},
                       {"params": ps[sizes[0]:], "lr": 0.001}])
        return nn.Trainer(m, optimizer=opt, progress=False)

    saved = trainer((2, 2))
    saved.fit(_loader(), epochs=1)
    path = os.fspath(tmp_path / "run.ckpt")
    saved.save_checkpoint(path)
    other = trainer((1, 3))
    before = [p.value.copy() for p in other.model.parameters()]
    with pytest.raises(CheckpointError, match="arranged differently"):
        other.load_checkpoint(path)
    assert all(np.array_equal(a, p.value) for a, p in zip(before, other.model.parameters()))
