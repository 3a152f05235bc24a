"""Complex parameters in diffkit.nn's optimizers follow PyTorch's semantics: each rule runs on the
real view (Re, Im as independent reals) with the ascent direction conj(.grad) — diffkit's .grad is
JAX's, the conjugate of PyTorch's. Checked against hand formulas and PyTorch step for step."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

import diffkit as dk
from diffkit import nn

A = np.array([[1 + 1j, 0.5 - 2j, 0.3j], [0.2, 1 - 1j, 2 + 0.5j]])
B = np.array([1 - 1j, 0.5j])
C = np.array([[0.3 + 0.1j, -1j], [2.0, 0.5 - 0.5j]])
P0 = np.array([1 + 2j, -0.5 + 0.3j, 0.7 - 1j])
Q0 = np.array([[0.4 - 0.2j, 1 + 1j], [-0.3j, 0.8]])
R0 = np.array([0.5, -1.5])  # a real parameter beside the complex ones


def _loss(p, q, r, abs_):
    """|A p − b|² + 0.1 Σ|p|⁴ + Σ|q∘q − C|² + Σ (r − 1)² · Σ|q|²: real, not symmetric in Re/Im."""
    return ((abs_(A @ p - B) ** 2).sum() + 0.1 * (abs_(p) ** 4).sum()
            + (abs_(q * q - C) ** 2).sum() + ((r - 1.0) ** 2).sum() * (abs_(q) ** 2).sum())


CONFIGS = [
    ("SGD", {"lr": 0.01}),
    ("SGD", {"lr": 0.01, "momentum": 0.9, "nesterov": True, "weight_decay": 0.1}),
    ("SGD", {"lr": 0.01, "momentum": 0.8, "dampening": 0.1, "weight_decay": 0.05}),
    ("Adam", {"lr": 0.05, "weight_decay": 0.1}),
    ("Adam", {"lr": 0.05, "amsgrad": True}),
    ("AdamW", {"lr": 0.05, "weight_decay": 0.1, "amsgrad": True}),
    ("NAdam", {"lr": 0.05, "weight_decay": 0.1}),
    ("RMSprop", {"lr": 0.01, "weight_decay": 0.05}),
    ("RMSprop", {"lr": 0.01, "centered": True, "momentum": 0.5}),
    ("Adagrad", {"lr": 0.1, "lr_decay": 0.01, "initial_accumulator_value": 0.1}),
    ("Adadelta", {"lr": 1.0, "weight_decay": 0.1}),
]


@pytest.mark.parametrize("hold", [False, True], ids=["in-place", "graph-alive"])
@pytest.mark.parametrize(("name", "kw"), CONFIGS, ids=[f"{n}-{i}" for i, (n, _) in
                                                        enumerate(CONFIGS)])
def test_matches_pytorch_step_for_step(name, kw, hold):
    torch = pytest.importorskip("torch")
    default = torch.get_default_dtype()  # NAdam's μ product is a tensor of the default dtype
    torch.set_default_dtype(torch.float64)
    try:
        _compare(torch, name, kw, hold)
    finally:
        torch.set_default_dtype(default)


def _compare(torch, name, kw, hold):
    ps = [nn.Parameter(P0.copy()), nn.Parameter(Q0.copy()), nn.Parameter(R0.copy())]
    ts = [torch.tensor(x.copy(), requires_grad=True) for x in (P0, Q0, R0)]
    opt = getattr(nn, name)(ps, **kw)
    topt = getattr(torch.optim, name)(ts, foreach=False, **kw)
    tA, tB, tC = (torch.tensor(x) for x in (A, B, C))
    for _ in range(10):
        opt.zero_grad()
        loss = _loss(*ps, abs)
        loss.backward()
        if not hold:  # the loss's graph alive: θ is updated out of place
            del loss
        opt.step()
        topt.zero_grad()
        tl = (((tA @ ts[0] - tB).abs() ** 2).sum() + 0.1 * (ts[0].abs() ** 4).sum()
              + ((ts[1] * ts[1] - tC).abs() ** 2).sum()
              + ((ts[2] - 1.0) ** 2).sum() * (ts[1].abs() ** 2).sum())
        tl.backward()
        topt.step()
        for p, t in zip(ps, ts):
            np.testing.assert_allclose(np.asarray(p.value), t.detach().numpy(),
                                       rtol=1e-12, atol=1e-12)
    assert [np.asarray(p.value).dtype for p in ps] == [np.complex128, np.complex128, np.float64]


def test_sgd_converges_to_the_minimum():
    """|p − c|²: .grad = 2(p − c) conjugated (diffkit), so p − c shrinks by (1 − 2η) per step
    (it was diverging: the imaginary part climbed)."""
    c = np.array([0.2 - 1j])
    p = nn.Parameter(np.array([1 + 2j]))
    opt = nn.SGD([p], lr=0.1)
    for _ in range(30):
        opt.zero_grad()
        (abs(p - c) ** 2).sum().backward()
        opt.step()
    expected = c + 0.8**30 * (np.array([1 + 2j]) - c)
    np.testing.assert_allclose(np.asarray(p.value), expected, rtol=1e-12, atol=1e-14)


def test_sgd_weight_decay_on_the_real_view():
    p = nn.Parameter(np.array([1 + 2j, -3j]))
    p.grad = np.array([0.5 - 1j, 2 + 1j])  # diffkit's: the ascent direction is its conjugate
    nn.SGD([p], lr=0.1, weight_decay=0.5).step()
    expected = np.array([1 + 2j, -3j]) - 0.1 * (np.array([0.5 + 1j, 2 - 1j])
                                                 + 0.5 * np.array([1 + 2j, -3j]))
    np.testing.assert_allclose(np.asarray(p.value), expected, rtol=1e-15)


def _adam_reference(x, grads, lr, b1=0.9, b2=0.999, eps=1e-8, amsgrad=False):
    """Adam on the reals x (Re, Im pairs) with the real gradients `grads`, by hand."""
    m = v = vmax = 0.0
    for t, g in enumerate(grads, 1):
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        vmax = np.maximum(vmax, v)
        use = vmax if amsgrad else v
        x = x - lr / (1 - b1**t) * m / (np.sqrt(use / (1 - b2**t)) + eps)
    return x


@pytest.mark.parametrize("amsgrad", [False, True])
def test_adam_steps_by_hand(amsgrad):
    """Two steps with .grad 1 − 1j, then 3 + 0.5j (diffkit's): the real-view gradients are
    (1, 1) and (3, −0.5), per component; a complex square g·g mixed them."""
    p = nn.Parameter(np.array([1 + 2j]))
    opt = nn.Adam([p], lr=0.1, amsgrad=amsgrad)
    for g in (1 - 1j, 0.3 + 0.5j, 3 + 0.5j):
        p.grad = np.array([g])
        opt.step()
    x = _adam_reference(np.array([1.0, 2.0]), [np.array([1.0, 1.0]), np.array([0.3, -0.5]),
                                               np.array([3.0, -0.5])], 0.1, amsgrad=amsgrad)
    np.testing.assert_allclose(np.asarray(p.value), [x[0] + 1j * x[1]], rtol=1e-14)
    assert p.value.dtype == np.complex128


def test_one_adam_step_moves_each_part_by_lr():
    """The first Adam step is η·g/(|g| + ε) per real component: 1 + 2j with .grad 1 − 1j
    (PyTorch's 1 + 1j) goes to ≈ 0.9 + 1.9j."""
    p = nn.Parameter(np.array([1 + 2j]))
    p.grad = np.array([1 - 1j])
    nn.Adam([p], lr=0.1).step()
    step = 0.1 / (1 + 1e-8)
    np.testing.assert_allclose(np.asarray(p.value), [1 - step + (2 - step) * 1j], rtol=1e-15)


def test_rmsprop_and_adagrad_first_step_by_hand():
    """s = (1 − α) g², G = g² per real component: each part moves by η/√(1 − α), η."""
    g = np.array([3 + 0.5j])  # real view of its conjugate: (3, −0.5)
    p = nn.Parameter(np.array([1 + 2j]))
    p.grad = g.copy()
    nn.RMSprop([p], lr=0.01, alpha=0.99, eps=0.0).step()
    d = 0.01 / math.sqrt(0.01)
    np.testing.assert_allclose(np.asarray(p.value), [1 - d + (2 + d) * 1j], rtol=1e-14)
    p = nn.Parameter(np.array([1 + 2j]))
    p.grad = g.copy()
    nn.Adagrad([p], lr=0.1, eps=0.0).step()
    np.testing.assert_allclose(np.asarray(p.value), [0.9 + 2.1j], rtol=1e-15)


def test_state_is_the_real_view_and_a_round_trip_continues():
    def run(steps, opt, p):
        for _ in range(steps):
            opt.zero_grad()
            _loss(p, Q0, R0, abs).backward()
            opt.step()

    p = nn.Parameter(P0.copy())
    opt = nn.Adam([p], lr=0.05, amsgrad=True)
    run(10, opt, p)
    p2 = nn.Parameter(P0.copy())
    opt2 = nn.Adam([p2], lr=0.05, amsgrad=True)
    run(5, opt2, p2)
    sd = opt2.state_dict()
    assert sd["state"][0]["exp_avg_sq"].shape == (3, 2)
    assert sd["state"][0]["exp_avg_sq"].dtype == np.float64
    p3 = nn.Parameter(np.asarray(p2.value).copy())
    opt3 = nn.Adam([p3], lr=0.05, amsgrad=True)
    opt3.load_state_dict(sd)
    run(5, opt3, p3)
    np.testing.assert_array_equal(np.asarray(p3.value), np.asarray(p.value))


def test_a_complex_state_is_refused_by_name():
    p = nn.Parameter(P0.copy())
    opt = nn.Adam([p], lr=0.05)
    sd = {"param_groups": opt.state_dict()["param_groups"],
          "state": {0: {"step": 1, "exp_avg": P0.copy(), "exp_avg_sq": P0.copy()}}}
    with pytest.raises(ValueError, match=r"'exp_avg' of parameter 0 has shape \(3,\).*real view"):
        opt.load_state_dict(sd)


def test_complex64_stays_complex64():
    p = nn.Parameter(P0.astype(np.complex64))
    q = nn.Parameter(P0.copy())
    for x, opt in ((p, nn.Adam([p], lr=0.05)), (q, nn.Adam([q], lr=0.05))):
        for _ in range(3):
            x.grad = (np.conj(np.asarray(x.value)) - 1).astype(np.asarray(x.value).dtype)
            opt.step()
    assert p.value.dtype == np.complex64
    np.testing.assert_allclose(np.asarray(p.value), np.asarray(q.value), rtol=1e-6)


def test_non_contiguous_parameter():
    """A Fortran-order θ has no real view of its own memory: updated on a copy, written back."""
    x0 = np.arange(6, dtype=np.complex128).reshape(2, 3) * (1 - 1j)
    g = np.array([[1 + 1j, 2 - 1j, -1j], [0.5, 1j, 3 + 2j]])
    p, q = nn.Parameter(np.asfortranarray(x0)), nn.Parameter(x0.copy())
    assert not p.node.value.flags.c_contiguous
    for x in (p, q):
        opt = nn.SGD([x], lr=0.1, momentum=0.9)
        for _ in range(2):
            x.grad = g.copy()
            opt.step()
    np.testing.assert_array_equal(np.asarray(p.value), np.asarray(q.value))
    np.testing.assert_allclose(np.asarray(q.value), x0 - 0.1 * 2.9 * np.conj(g), rtol=1e-15)


def test_real_parameters_unchanged_beside_complex_ones():
    r1, r2 = nn.Parameter(R0.copy()), nn.Parameter(R0.copy())
    z = nn.Parameter(P0.copy())
    o1, o2 = nn.Adam([r1, z], lr=0.05), nn.Adam([r2], lr=0.05)
    for _ in range(3):
        for r in (r1, r2):
            r.grad = np.asarray(r.value) ** 3 - 1
        z.grad = np.conj(np.asarray(z.value))
        o1.step()
        o2.step()
    np.testing.assert_array_equal(np.asarray(r1.value), np.asarray(r2.value))


def test_clip_grad_norm_complex_is_the_modulus_norm():
    """sqrt(Σ|g|²) (PyTorch's): [3 + 4j, 1 − 1j] has norm √27; order 1: 5 + √2; ∞: 5."""
    for order, norm in ((2.0, math.sqrt(27)), (1.0, 5 + math.sqrt(2)), (math.inf, 5.0)):
        p = nn.Parameter(np.zeros(2, np.complex128))
        p.grad = np.array([3 + 4j, 1 - 1j])
        assert nn.clip_grad_norm_([p], 1.0, order) == pytest.approx(norm, rel=1e-15)
        np.testing.assert_allclose(p.grad, np.array([3 + 4j, 1 - 1j]) / (norm + 1e-6),
                                   rtol=1e-15)


def test_clip_grad_value_refuses_complex():
    """np.clip ordered complex numbers lexicographically; refused before any gradient changes."""
    r = nn.Parameter(np.zeros(2))
    r.grad = np.array([5.0, -5.0])
    p = nn.Parameter(np.zeros(2, np.complex128))
    p.grad = np.array([3 + 4j, 1 - 1j])
    with pytest.raises(dk.errors.MissingRuleError,
                       match="clip_grad_value_: the gradient of parameter 1 is complex.*"
                             "clip_grad_norm_"):
        nn.clip_grad_value_([r, p], 1.0)
    np.testing.assert_array_equal(p.grad, [3 + 4j, 1 - 1j])
    np.testing.assert_array_equal(r.grad, [5.0, -5.0])


def test_trainer_trains_a_complex_model_eagerly():
    """Fitting y = X w with complex w by |o − y|²: the loss falls to 0 and w reaches the truth;
    the gradient norms are real (√Σ|g|², no ComplexWarning from a complex vdot)."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(32, 2)) + 1j * rng.normal(size=(32, 2))
    w = np.array([1 + 1j, 2 - 1j])
    y = (x @ w)[:, None]
    model = nn.Linear(2, 1, bias=False, dtype=np.float64)
    model.weight.data = np.array([[0.1 - 0.2j, -0.3j]])
    trainer = nn.Trainer(model, optimizer=nn.SGD(model.parameters(), lr=0.05, momentum=0.5),
                         loss_fn=lambda o, t: (abs(o - t) ** 2).mean(), progress=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        history = trainer.fit([(x[:16], y[:16]), (x[16:], y[16:])], epochs=60)
    assert history["loss"][-1] < 1e-12
    np.testing.assert_allclose(np.asarray(model.weight.value), [w], rtol=1e-6)
    assert all(isinstance(v, float) for vs in history["grad_norms"].values() for v in vs)
