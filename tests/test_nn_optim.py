"""Optimizer steps against hand computation, and the seeds' momentum facts (terminal velocity
η/(1−β), Nesterov's look-ahead form), plus gradient clipping."""

from __future__ import annotations

import numpy as np
import pytest

import diffkit as dk
from diffkit import nn


def _param(v):
    return nn.Parameter(np.array(v, dtype=np.float64))


def _run(opt_cls, grads, x0=(1.0, -2.0), **kw):
    p = _param(x0)
    opt = opt_cls([p], **kw)
    out = []
    for g in grads:
        p.grad = np.array(g, dtype=np.float64)
        opt.step()
        out.append(p.value.copy())
    return out


GRADS = [(0.5, -1.0), (0.2, 0.3), (-0.4, 0.1)]


def test_momentum_terminal_velocity_is_lr_over_one_minus_beta():
    lr, beta = 0.01, 0.9
    p = _param([0.0])
    opt = nn.SGD([p], lr=lr, momentum=beta)
    prev = 0.0
    for _ in range(300):
        p.grad = np.array([1.0])
        opt.step()
        step, prev = prev - p.value[0], p.value[0]
    assert step == pytest.approx(lr / (1 - beta), rel=1e-10)  # 10x the plain step for beta = 0.9


def test_nesterov_matches_the_seeds_lookahead_form():
    """Seeds: m ← βm − η∇f(θ + βm), θ ← θ + m. PyTorch's form tracks φ = θ + βm."""
    A = np.array([[3.0, 0.5], [0.5, 1.0]])
    grad = lambda x: A @ x
    lr, beta = 0.05, 0.9
    theta, m = np.array([1.0, -1.0]), np.zeros(2)
    p = _param(theta.copy())
    opt = nn.SGD([p], lr=lr, momentum=beta, nesterov=True)
    for _ in range(25):
        m = beta * m - lr * grad(theta + beta * m)
        theta = theta + m
        p.grad = grad(p.value)
        opt.step()
        np.testing.assert_allclose(p.value, theta + beta * m, rtol=1e-12, atol=1e-14)


def test_sgd_weight_decay_and_dampening():
    got = _run(nn.SGD, GRADS, lr=0.1, momentum=0.5, dampening=0.2, weight_decay=0.01)
    x, buf = np.array([1.0, -2.0]), None
    for g, p in zip(GRADS, got):
        g = np.array(g) + 0.01 * x
        buf = g if buf is None else 0.5 * buf + 0.8 * g
        x = x - 0.1 * buf
        np.testing.assert_allclose(p, x, rtol=1e-12)


def test_rmsprop_by_hand():
    got = _run(nn.RMSprop, GRADS, lr=0.01, alpha=0.9, eps=1e-8)
    x, s = np.array([1.0, -2.0]), 0.0
    for g, p in zip(GRADS, got):
        g = np.array(g)
        s = 0.9 * s + 0.1 * g * g
        x = x - 0.01 * g / (np.sqrt(s) + 1e-8)
        np.testing.assert_allclose(p, x, rtol=1e-12)


def test_adam_by_hand():
    got = _run(nn.Adam, GRADS, lr=0.1, betas=(0.8, 0.99), eps=1e-8)
    x, m, v = np.array([1.0, -2.0]), 0.0, 0.0
    for t, (g, p) in enumerate(zip(GRADS, got), start=1):
        g = np.array(g)
        m = 0.8 * m + 0.2 * g
        v = 0.99 * v + 0.01 * g * g
        x = x - 0.1 * (m / (1 - 0.8**t)) / (np.sqrt(v / (1 - 0.99**t)) + 1e-8)
        np.testing.assert_allclose(p, x, rtol=1e-12)


def test_adamw_decouples_weight_decay():
    got = _run(nn.AdamW, GRADS[:1], lr=0.1, weight_decay=0.5)
    x = np.array([1.0, -2.0]) * (1 - 0.1 * 0.5)
    g = np.array(GRADS[0])
    np.testing.assert_allclose(got[0], x - 0.1 * g / (np.abs(g) + 1e-8), rtol=1e-10)


def test_nadam_first_step_by_hand():
    got = _run(nn.NAdam, GRADS[:1], lr=0.01)
    g = np.array(GRADS[0])
    mu1 = 0.9 * (1 - 0.5 * 0.96 ** 0.004)
    mu2 = 0.9 * (1 - 0.5 * 0.96 ** 0.008)
    denom = np.abs(g) + 1e-8
    expect = np.array([1.0, -2.0]) - 0.01 * g / denom - 0.01 * mu2 / (1 - mu1 * mu2) * 0.1 * g / denom
    np.testing.assert_allclose(got[0], expect, rtol=1e-10)


def test_adagrad_and_adadelta_by_hand():
    got = _run(nn.Adagrad, GRADS, lr=0.1)
    x, s = np.array([1.0, -2.0]), 0.0
    for g, p in zip(GRADS, got):
        s = s + np.array(g) ** 2
        x = x - 0.1 * np.array(g) / (np.sqrt(s) + 1e-10)
        np.testing.assert_allclose(p, x, rtol=1e-12)
    got = _run(nn.Adadelta, GRADS, lr=1.0, rho=0.9, eps=1e-6)
    x, s, u = np.array([1.0, -2.0]), 0.0, 0.0
    for g, p in zip(GRADS, got):
        g = np.array(g)
        s = 0.9 * s + 0.1 * g * g
        d = np.sqrt(u + 1e-6) / np.sqrt(s + 1e-6) * g
        u = 0.9 * u + 0.1 * d * d
        x = x - d
        np.testing.assert_allclose(p, x, rtol=1e-12)


def test_clipping():
    a, b = _param([3.0]), _param([4.0])
    a.grad, b.grad = np.array([3.0]), np.array([4.0])
    assert nn.clip_grad_norm_([a, b], 1.0) == pytest.approx(5.0)
    assert np.hypot(a.grad[0], b.grad[0]) == pytest.approx(1.0, rel=1e-5)
    a.grad = np.array([-7.0])
    nn.clip_grad_value_([a], 2.0)
    assert a.grad[0] == -2.0


def test_validation_messages():
    ps = nn.Linear(2, 1).parameters()
    with pytest.raises(ValueError, match="Invalid learning rate: -1"):
        nn.SGD(ps, lr=-1)
    with pytest.raises(ValueError, match="Nesterov"):
        nn.SGD(ps, lr=0.1, nesterov=True)
    with pytest.raises(ValueError, match="beta"):
        nn.Adam(ps, betas=(1.0, 0.9))


def test_optimizer_state_dict_round_trip():
    a = _param([1.0, 2.0])
    opt = nn.Adam([a], lr=0.1)
    a.grad = np.array([0.1, 0.2])
    opt.step()
    b = _param(a.value.copy())
    opt2 = nn.Adam([b], lr=0.5)
    opt2.load_state_dict(opt.state_dict())
    for o, p in ((opt, a), (opt2, b)):
        p.grad = np.array([0.3, -0.1])
        o.step()
    np.testing.assert_array_equal(a.value, b.value)


def test_optimizer_state_that_does_not_fit_is_refused() -> None:
    """Momentum saved for other parameters (another model, another order) is a named error,
    not one parameter's momentum silently given to another (it loaded before)."""
    def trained(sizes):
        nn.manual_seed(0)
        model = nn.MLP(sizes)
        opt = nn.SGD(model.parameters(), lr=0.1, momentum=0.9)
        x = np.ones((2, sizes[0]), np.float32)
        opt.zero_grad()
        dk.sum(model(x) ** 2).backward()
        opt.step()
        return model, opt

    _, saved = trained([4, 3, 2])
    _, other = trained([4, 5, 2])
    with pytest.raises(ValueError, match="momentum_buffer.*parameter 0 has shape"):
        other.load_state_dict(saved.state_dict())
    _, fewer = trained([4, 2])
    with pytest.raises(ValueError, match="this optimizer has 2 parameters"):
        fewer.load_state_dict(saved.state_dict())
    _, same = trained([4, 3, 2])
    same.load_state_dict(saved.state_dict())  # what fits still loads


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.float16])
def test_plain_sgd_steps_are_theta_minus_lr_g_bit_for_bit(dtype) -> None:
    """Plain SGD (no momentum, no weight decay) takes a fast path where θ is updated in place;
    it must be the general path's θ − η·g exactly (float16: computed in float32, rounded once),
    keep a held array untouched (a fresh θ then), and leave the same state entries."""
    rng = np.random.default_rng(3)
    theta0 = rng.normal(size=(4, 3)).astype(dtype)
    grads = [rng.normal(size=(4, 3)).astype(dtype) for _ in range(3)]
    p = nn.Parameter(theta0.copy())
    opt = nn.SGD([p], lr=0.05)
    want = theta0.copy()
    where = id(p.node.value)
    for g in grads:
        p.grad = g
        opt.step()
        assert id(p.node.value) == where  # updated in place: nobody else held θ
        work = np.float32 if dtype == np.float16 else dtype
        want = (want.astype(work) - 0.05 * g.astype(work)).astype(dtype)
    assert p.value.dtype == dtype
    np.testing.assert_array_equal(p.value, want)
    assert opt.state == {0: {}}
    held = p.value  # someone holds θ: it must not change under them
    before = held.copy()
    p.grad = grads[0]
    opt.step()
    np.testing.assert_array_equal(held, before)
    work = np.float32 if dtype == np.float16 else dtype
    np.testing.assert_array_equal(p.value,
                                  (before.astype(work) - 0.05 * grads[0].astype(work)).astype(dtype))
