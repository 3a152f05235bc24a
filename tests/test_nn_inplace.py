"""Optimizers write θ − Δ into the parameter's array (as PyTorch's do) only where nothing else can
see that array: a variable, a view, a live graph recorded from the parameter, a buffer that is
not the array's own, a read-only array all keep their values, and both ways give the same bits."""

from __future__ import annotations

import numpy as np
import pytest

from diffkit import nn

OPTIMIZERS = [
    (nn.SGD, {"lr": 0.1}),
    (nn.SGD, {"lr": 0.1, "momentum": 0.9, "nesterov": True, "weight_decay": 0.01}),
    (nn.SGD, {"lr": 0.1, "momentum": 0.5, "dampening": 0.2}),
    (nn.Adam, {"lr": 0.05, "weight_decay": 0.1}),
    (nn.Adam, {"lr": 0.05, "amsgrad": True}),
    (nn.AdamW, {"lr": 0.05, "weight_decay": 0.1}),
    (nn.NAdam, {"lr": 0.05, "weight_decay": 0.1}),
    (nn.RMSprop, {"lr": 0.01, "momentum": 0.9, "centered": True, "weight_decay": 0.1}),
    (nn.Adagrad, {"lr": 0.1, "lr_decay": 0.01, "weight_decay": 0.1}),
    (nn.Adadelta, {"lr": 1.0, "weight_decay": 0.1}),
]
GRADS = [np.array([[0.5, -1.0, 0.25], [0.2, 0.3, -0.7]], np.float32) * k for k in (1, -2, 3)]


def _start() -> nn.Parameter:
    return nn.Parameter(np.array([[1.0, -2.0, 0.5], [0.3, 0.0, -1.5]], np.float32))


def _steps(opt_cls, kw, hold: bool) -> tuple[list[np.ndarray], list[bool]]:
    """Three steps; with `hold`, a variable keeps the value array at each step (so the
    optimizer must leave it alone). Returns the values after each step and, per step, whether
    the update went into the same array."""
    p = _start()
    opt = opt_cls([p], **kw)
    values, same = [], []
    for g in GRADS:
        p.grad = g.copy()
        held = p.value if hold else None
        before = id(p.node.value)
        old = p.value.copy()
        opt.step()
        same.append(id(p.node.value) == before)
        if held is not None:
            np.testing.assert_array_equal(held, old)  # the caller's array kept its numbers
        values.append(p.value.copy())
        del held
    return values, same


@pytest.mark.parametrize(("opt_cls", "kw"), OPTIMIZERS,
                         ids=[f"{c.__name__}-{i}" for i, (c, _) in enumerate(OPTIMIZERS)])
def test_in_place_and_fresh_updates_give_the_same_bits(opt_cls, kw) -> None:
    alone, in_place = _steps(opt_cls, kw, hold=False)
    held, fresh = _steps(opt_cls, kw, hold=True)
    assert all(in_place), "nothing held the array: the update goes into it"
    assert not any(fresh), "the caller held the array: each update is a fresh one"
    for a, b in zip(alone, held, strict=True):
        assert a.dtype == np.float32
        np.testing.assert_array_equal(a, b)


def test_a_plain_step_is_theta_minus_lr_g_in_the_same_array() -> None:
    p = _start()
    want = _start().value - np.float32(0.1) * GRADS[0]
    array = p.value
    p.grad = GRADS[0]
    del array  # the id below is the array's, held by nobody but the parameter
    before = id(p.node.value)
    nn.SGD([p], lr=0.1).step()
    assert id(p.node.value) == before
    np.testing.assert_array_equal(p.value, want)


def test_a_view_of_the_value_keeps_its_numbers() -> None:
    p = _start()
    row = p.value[0]
    kept = row.copy()
    p.grad = GRADS[0]
    nn.SGD([p], lr=0.1).step()
    np.testing.assert_array_equal(row, kept)
    assert not np.array_equal(p.value[0], kept)


def test_a_live_graph_keeps_the_values_it_recorded() -> None:
    """y = p² recorded before the step: the graph's leaf still holds p_old afterwards."""
    p = _start()
    old = p.value.copy()
    y = p * p
    p.grad = GRADS[0]
    nn.SGD([p], lr=0.1).step()
    (leaf, _) = y.node.inputs
    np.testing.assert_array_equal(leaf.value, old)
    np.testing.assert_array_equal(y.value, old * old)
    assert not np.array_equal(p.value, old)


def test_a_parameter_on_borrowed_or_read_only_memory_is_not_written() -> None:
    big = np.arange(12, dtype=np.float64).reshape(3, 4)
    kept = big.copy()
    p = nn.Parameter(big[1])  # a view: its memory is big's
    p.grad = np.ones(4)
    nn.SGD([p], lr=0.5).step()
    np.testing.assert_array_equal(big, kept)
    np.testing.assert_array_equal(p.value, kept[1] - 0.5)

    frozen = np.ones(3)
    frozen.flags.writeable = False
    q = nn.Parameter(frozen)
    q.grad = np.ones(3)
    nn.SGD([q], lr=0.5).step()
    np.testing.assert_array_equal(frozen, np.ones(3))
    np.testing.assert_array_equal(q.value, np.full(3, 0.5))


@pytest.mark.parametrize("compile", [True, False])
def test_fit_leaves_a_value_the_user_holds_alone(compile) -> None:
    """A weight array the user kept before fit keeps its numbers on both step paths, while
    the parameter trains (in place when nothing holds it: the compiled path's arrays stay)."""
    X, y = nn.make_moons(64, noise=0.1, seed=0)
    nn.manual_seed(0)
    model = nn.MLP([2, 8, 2])
    trainer = nn.Trainer(model, optimizer=nn.SGD(model.parameters(), lr=0.1), progress=False,
                         compile=compile)
    weight = dict(model.named_parameters())["0.weight"]
    trainer.fit(nn.DataLoader(X, y, batch_size=16, seed=0), epochs=1)
    held = weight.value
    kept = held.copy()
    trainer.fit(nn.DataLoader(X, y, batch_size=16, seed=0), epochs=2)
    np.testing.assert_array_equal(held, kept)
    assert not np.array_equal(weight.value, kept)
    del held
    array = id(weight.node.value)
    trainer.fit(nn.DataLoader(X, y, batch_size=16, seed=0), epochs=3)
    assert id(weight.node.value) == array  # nothing held it: every update went into it
