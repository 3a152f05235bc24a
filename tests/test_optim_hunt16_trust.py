"""Optimizer and clipping answers that a differential fuzz against PyTorch found silently wrong:
state of a parameter whose shape changed, a gradient of another shape, a non-finite norm."""

from __future__ import annotations

import math

import numpy as np
import pytest

import diffkit as dk
from diffkit import nn

#: every optimizer in diffkit.nn.optim, with settings that give it per-parameter state
STATEFUL = [
    (nn.SGD, {"lr": 0.1, "momentum": 0.9}),
    (nn.SGD, {"lr": 0.1, "momentum": 0.9, "nesterov": True}),
    (nn.RMSprop, {"lr": 0.1}),
    (nn.RMSprop, {"lr": 0.1, "centered": True, "momentum": 0.5}),
    (nn.Adagrad, {"lr": 0.1}),
    (nn.Adadelta, {"lr": 1.0}),
    (nn.Adam, {"lr": 0.1}),
    (nn.Adam, {"lr": 0.1, "amsgrad": True}),
    (nn.AdamW, {"lr": 0.1}),
    (nn.NAdam, {"lr": 0.1}),
]
IDS = [f"{c.__name__}-{'-'.join(k for k in kw if k != 'lr') or 'plain'}" for c, kw in STATEFUL]


def _grown(cls, kw, old, new):
    """An optimizer over a fixed parameter and one that took a step at shape `old` and then
    was given shape `new` (as docs/nn.md's grown classifier), both with gradients."""
    keep, p = nn.Parameter(np.ones(2)), nn.Parameter(np.ones(old))
    opt = cls([keep, p], **kw)
    keep.grad, p.grad = np.ones(2), np.ones(old)
    opt.step()
    p.data = np.zeros(new)
    keep.grad, p.grad = np.ones(2), np.full(new, 0.5)
    return opt, keep, p


@pytest.mark.parametrize(("cls", "kw"), STATEFUL, ids=IDS)
@pytest.mark.parametrize(("old", "new"), [((1, 4), (3, 4)), ((2,), (3,)), ((), (3,)), ((3,), ())])
def test_state_of_another_shape_is_a_named_error(cls, kw, old, new):
    # before: (1, 4) -> (3, 4) broadcast the old momentum over the new rows; (2,) -> (3,) was
    # NumPy's bare broadcast ValueError from inside the update
    opt, keep, p = _grown(cls, kw, old, new)
    before = keep.value.copy()
    with pytest.raises(dk.ShapeError) as e:
        opt.step()
    msg = str(e.value)
    assert "parameter 1" in msg and str(new) in msg and "del optimizer.state[1]" in msg
    np.testing.assert_array_equal(keep.value, before)  # nothing updated: a retry steps once
    np.testing.assert_array_equal(p.value, np.zeros(new))
    del opt.state[1]  # the fix the message names: the grown parameter starts afresh
    opt.step()
    fresh = nn.Parameter(np.zeros(new))
    ref = cls([fresh], **kw)
    fresh.grad = np.full(new, 0.5)
    ref.step()
    np.testing.assert_allclose(p.value, fresh.value, rtol=1e-12)


@pytest.mark.parametrize(("cls", "kw"), STATEFUL, ids=IDS)
def test_pytorch_also_refuses_state_of_another_shape(cls, kw):
    torch = pytest.importorskip("torch")
    tcls = getattr(torch.optim, cls.__name__)
    p = torch.nn.Parameter(torch.ones(1, 4, dtype=torch.float64))
    opt = tcls([p], **kw)
    p.grad = torch.ones(1, 4, dtype=torch.float64)
    opt.step()
    p.data = torch.zeros(3, 4, dtype=torch.float64)
    p.grad = torch.zeros(3, 4, dtype=torch.float64)
    with pytest.raises(RuntimeError):
        opt.step()


def test_loaded_state_of_a_0d_moment_for_a_vector_is_refused():
    # step refuses a 0-d moment for a (3,) parameter, so loading refuses it too (step counts,
    # one number per parameter, may still be 0-d arrays)
    p = nn.Parameter(np.zeros(3))
    opt = nn.Adam([p], lr=0.1)
    sd = {"param_groups": opt.state_dict()["param_groups"],
          "state": {0: {"step": np.array(2), "exp_avg": np.array(1.0), "exp_avg_sq": np.ones(3)}}}
    with pytest.raises(ValueError, match="exp_avg"):
        opt.load_state_dict(sd)
    sd["state"][0]["exp_avg"] = np.ones(3)
    opt.load_state_dict(sd)
    assert opt.state[0]["step"] == 2


@pytest.mark.parametrize("grad", [np.array([3.0]), 2.0, np.ones((1, 3))], ids=["(1,)", "float", "(1,3)"])
def test_gradient_of_another_shape_is_a_named_error(grad):
    # before: broadcast, p = [-3, -3, -3]; clip_grad_norm_ returned the (1,) array's norm
    p = nn.Parameter(np.zeros(3))
    opt = nn.SGD([p], lr=1.0)
    p.grad = grad
    with pytest.raises(dk.ShapeError, match=r"parameter 0 has shape .*the parameter \(3,\)"):
        opt.step()
    np.testing.assert_array_equal(p.value, np.zeros(3))
    with pytest.raises(dk.ShapeError, match="parameter 0"):
        nn.clip_grad_norm_([p], 10.0)
    with pytest.raises(dk.ShapeError, match="parameter 0"):
        nn.clip_grad_value_(p, 1.0)
    assert p.grad is grad  # unchanged


def test_gradient_shape_checked_before_any_parameter_changes():
    a, b = nn.Parameter(np.zeros(2)), nn.Parameter(np.zeros(3))
    a.grad, b.grad = np.ones(2), np.ones(1)
    with pytest.raises(dk.ShapeError, match="parameter 1"):
        nn.Adam([a, b], lr=0.1).step()
    np.testing.assert_array_equal(a.value, np.zeros(2))
    with pytest.raises(dk.ShapeError, match="parameter 1"):
        nn.clip_grad_norm_([a, b], 0.1)
    np.testing.assert_array_equal(a.grad, np.ones(2))


def test_number_gradient_of_a_0d_parameter_is_fine():
    p = nn.Parameter(np.array(1.0))
    p.grad = 2.0
    nn.SGD([p], lr=0.25).step()
    assert float(p.value) == 0.5
    p.grad = 2.0
    assert nn.clip_grad_norm_(p, 1.0) == 2.0
    assert float(p.grad) == pytest.approx(1.0, rel=1e-5)  # max_norm / (2 + 1e-6) times 2
    p.grad = 2.0
    nn.clip_grad_value_([p], 1.0)
    assert float(p.grad) == 1.0


def test_pytorch_refuses_a_gradient_of_another_shape():
    torch = pytest.importorskip("torch")
    p = torch.nn.Parameter(torch.zeros(3, dtype=torch.float64))
    with pytest.raises(RuntimeError):
        p.grad = torch.tensor([3.0], dtype=torch.float64)


def _pair(first, second):
    a, b = nn.Parameter(np.zeros(2)), nn.Parameter(np.zeros(2))
    a.grad, b.grad = np.array(first), np.array(second)
    return a, b


@pytest.mark.parametrize("bad", [math.nan, math.inf])
def test_nonfinite_norm_scales_every_gradient(bad):
    # before: NaN scale < 1 was False, so the finite gradient stayed unclipped (a full step)
    a, b = _pair([3.0, 4.0], [bad, 1.0])
    total = nn.clip_grad_norm_([a, b], 1.0)
    assert math.isnan(total) if math.isnan(bad) else total == math.inf
    if math.isnan(bad):
        assert np.isnan(a.grad).all() and np.isnan(b.grad).all()
    else:  # coefficient 0: finite gradients 0, inf·0 = NaN
        np.testing.assert_array_equal(a.grad, [0.0, 0.0])
        assert np.isnan(b.grad[0]) and b.grad[1] == 0.0


def test_nan_in_a_later_gradient_gives_a_nan_max_norm():
    # before: Python's max() skipped a NaN that came after a number, so the norm was 2.0
    a, b = _pair([1.0, 2.0], [math.nan, 0.5])
    assert math.isnan(nn.clip_grad_norm_([a, b], 1.0, norm_type=math.inf))
    assert np.isnan(a.grad).all()


def test_error_if_nonfinite_names_the_norm_and_changes_nothing():
    a, b = _pair([3.0, 4.0], [math.nan, 1.0])
    with pytest.raises(dk.NumericOverflowError, match=r"norm of order 2.0 .* is nan.*parameter 1"):
        nn.clip_grad_norm_([a, b], 1.0, error_if_nonfinite=True)
    np.testing.assert_array_equal(a.grad, [3.0, 4.0])
    a.grad, b.grad = np.array([3.0, 4.0]), np.zeros(2)
    assert nn.clip_grad_norm_([a, b], 1.0, error_if_nonfinite=True) == pytest.approx(5.0)


@pytest.mark.parametrize("norm_type", [2.0, 1.0, math.inf])
@pytest.mark.parametrize("bad", [math.nan, math.inf])
def test_nonfinite_clipping_matches_pytorch(norm_type, bad):
    torch = pytest.importorskip("torch")
    grads = [[1.0, 2.0], [bad, 0.5], [-3.0, 0.25]]
    ours = [nn.Parameter(np.zeros(2)) for _ in grads]
    theirs = [torch.nn.Parameter(torch.zeros(2, dtype=torch.float64)) for _ in grads]
    for p, t, g in zip(ours, theirs, grads, strict=True):
        p.grad, t.grad = np.array(g), torch.tensor(g, dtype=torch.float64)
    total = nn.clip_grad_norm_(ours, 1.0, norm_type)
    ttotal = float(torch.nn.utils.clip_grad_norm_(theirs, 1.0, norm_type))
    np.testing.assert_array_equal(total, ttotal)
    for p, t in zip(ours, theirs, strict=True):
        np.testing.assert_array_equal(p.grad, t.grad.numpy())
    with pytest.raises(RuntimeError):
        torch.nn.utils.clip_grad_norm_(theirs, 1.0, norm_type, error_if_nonfinite=True)
    with pytest.raises(dk.NumericOverflowError):
        nn.clip_grad_norm_(ours, 1.0, norm_type, error_if_nonfinite=True)
