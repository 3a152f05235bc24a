"""Precision of diffkit.nn's losses (hunt 42.6) against mpmath at 50 digits, and BatchNorm's state
dict without running statistics against PyTorch's keys."""

from __future__ import annotations

import mpmath as mp
import numpy as np
import pytest

import diffkit as dk
from diffkit import nn

mp.mp.dps = 50
DTYPES = (np.float32, np.float64)


def _eps(dt: type) -> float:
    return float(np.finfo(dt).eps)


def _rel(got: float, ref: mp.mpf) -> float:
    ref = float(ref)
    return abs(got - ref) / abs(ref) if ref else abs(got)


def _bce_logits_ref(z: float, y: float, pw: float) -> tuple[mp.mpf, mp.mpf]:
    """−[pw·y log σ(z) + (1 − y) log(1 − σ(z))] and its derivative in z, from the definition."""
    z, y, pw = mp.mpf(z), mp.mpf(y), mp.mpf(pw)
    sig = 1 / (1 + mp.exp(-z))
    loss = -(pw * y * mp.log(sig) + (1 - y) * mp.log(1 - sig))
    return loss, mp.diff(lambda t: -(pw * y * mp.log(1 / (1 + mp.exp(-t)))
                                     + (1 - y) * mp.log(1 - 1 / (1 + mp.exp(-t)))), z)


def _bce_logits(z: float, y: float, dt: type, pos_weight: float | None) -> tuple[float, float]:
    zp = nn.Parameter(np.array([z], dt))
    pw = None if pos_weight is None else np.array([pos_weight], dt)
    loss = nn.binary_cross_entropy_with_logits(zp, np.array([y], dt), reduction="sum",
                                               pos_weight=pw)
    loss.backward()
    return float(loss), float(np.asarray(zp.grad)[0])


CASES = [(20.0, 1.0), (30.0, 1.0), (40.0, 1.0), (5.0, 1.0), (-20.0, 0.0), (-40.0, 0.0),
         (0.0, 0.0), (0.0, 1.0), (0.0, 0.25), (-3.0, 0.25), (3.0, 0.75), (1e-3, 1.0),
         (-16.0, 1.0), (16.0, 0.0)]


@pytest.mark.parametrize("dt", DTYPES)
@pytest.mark.parametrize("pos_weight", [None, 1.0, 0.5, 3.0])
@pytest.mark.parametrize("z, y", CASES)
def test_bce_with_logits_value_and_gradient_match_mpmath(z, y, dt, pos_weight):
    # the loss of a confident positive was lost without pos_weight (float32 z = 20: 0, exact
    # 2.06e-9; float64 z = 40: 0), and of a confident negative with it (z = −20, y = 0: 0)
    zd, yd = dt(z), dt(y)
    loss, grad = _bce_logits(zd, yd, dt, pos_weight)
    ref, dref = _bce_logits_ref(float(zd), float(yd), 1.0 if pos_weight is None else
                                float(dt(pos_weight)))
    assert _rel(loss, ref) <= 8 * _eps(dt), (loss, float(ref))
    # σ(z) − y for pw = 1: its own rounding (a few ulps of the larger of its terms)
    assert abs(grad - float(dref)) <= 8 * _eps(dt) * max(abs(float(dref)), 1e-300) + (
        4 * _eps(dt) * (abs(float(yd)) + 1) if 0 < y < 1 else 0.0), (grad, float(dref))


@pytest.mark.parametrize("dt", DTYPES)
def test_bce_with_logits_pos_weight_one_is_no_pos_weight_bit_for_bit(dt):
    rng = np.random.default_rng(42)
    z = np.concatenate([rng.standard_normal(20) * 30, [0.0, -0.0, 40.0, -40.0, 1e-8]]).astype(dt)
    y = np.concatenate([rng.uniform(0, 1, 10), rng.integers(0, 2, 10), [0, 1, 1, 0, 1]]).astype(dt)
    out = []
    for pw in (None, np.ones(1, dt)):
        zp = nn.Parameter(z.copy())
        terms = nn.binary_cross_entropy_with_logits(zp, y, reduction="none", pos_weight=pw)
        nn.binary_cross_entropy_with_logits(zp, y, pos_weight=pw).backward()
        out.append((np.asarray(dk.stop_gradient(terms)), np.asarray(zp.grad)))
    np.testing.assert_array_equal(out[0][0], out[1][0])
    np.testing.assert_array_equal(out[0][1], out[1][1])


@pytest.mark.parametrize("dt", DTYPES)
@pytest.mark.parametrize("p", [1e-4, 1e-6, 1e-7, 1e-12, 0.3, 0.999])
def test_bce_target_zero_matches_mpmath_log1p(p, dt):
    # −log(1 − p) was formed from 1.0 − p: float32 p = 1e-7 was 19 % off, p = 1e-12 gave 0
    pd = dt(p)
    got = nn.binary_cross_entropy(np.array([pd]), np.array([0.0], dt), reduction="none")
    ref = -mp.log1p(-mp.mpf(float(pd)))
    assert got.dtype == dt
    assert _rel(float(got[0]), ref) <= 4 * _eps(dt), (float(got[0]), float(ref))


@pytest.mark.parametrize("method", ["reverse", "forward", "symbolic"])
@pytest.mark.parametrize("p", [1e-12, 0.3, 0.9999])
def test_bce_target_derivative_is_the_clamped_logs(p, method):
    # ∂/∂y = log1p(−p) − log p, in every engine (the rule's and the SymPy form's logs)
    (d,) = dk.grad(lambda y: dk.binary_cross_entropy(p, y), method=method)(0.3)
    ref = mp.log1p(-mp.mpf(p)) - mp.log(mp.mpf(p))
    assert _rel(float(d), ref) <= 4 * _eps(np.float64), (d, float(ref))


@pytest.mark.parametrize("p", [1e-12, 1e-7])
def test_bce_sympy_form_keeps_log1p(p):
    # the table's SymPy translation, back as a diffkit Function: log(1 − p) there cancelled too
    import sympy as sp

    ps, ys = sp.symbols("p y")
    f = dk.from_sympy(dk.binary_cross_entropy.sympy(sp, ps, ys), [ps, ys])
    assert _rel(float(f(p, 0.0)), -mp.log1p(-mp.mpf(p))) <= 4 * _eps(np.float64)


def test_cross_entropy_of_equal_large_float32_logits_is_ln3():
    # z − (m + log Σ) rounded m + log Σ on the grid of 1e4: 1.0986328 and a gradient 2e-5 off
    z = nn.Parameter(np.array([[1e4, 1e4, 1e4]], np.float32))
    loss = nn.cross_entropy(z, np.array([1]))
    loss.backward()
    assert _rel(float(loss), mp.log(3)) <= 2 * _eps(np.float32)
    third = float(np.float32(1 / 3))
    np.testing.assert_allclose(np.asarray(z.grad), [[third, third - 1, third]],
                               rtol=2 * _eps(np.float32), atol=0)


@pytest.mark.parametrize("dt", DTYPES)
def test_cross_entropy_matches_mpmath_and_nll_of_log_softmax(dt):
    # [30, 0, −2], label 0: log Σ = log(1 + ρ) lost ρ ≈ 1e-13 (float32: the loss was 0)
    rows = np.array([[100.0, 100.5, 99.0], [-3.0, 2.0, 0.5], [1e3, 1e3 + 1, 1e3 - 2],
                     [30.0, 0.0, -2.0], [-np.inf, 5.0, 1.0]], dt)
    labels = np.array([1, 0, 2, 0, 1])
    got = np.asarray(nn.cross_entropy(rows, labels, reduction="none"))
    nll = np.asarray(nn.nll_loss(dk.log_softmax(rows, axis=-1), labels, reduction="none"))
    for r, k, g, n in zip(rows, labels, got, nll):
        zs = [mp.mpf(float(v)) for v in r]
        ref = mp.log(sum(mp.exp(v - zs[k]) for v in zs))
        assert _rel(float(g), ref) <= 8 * _eps(dt), (float(g), float(ref))
        assert g == n  # the same form: (z − m) − log Σ exp(z − m)


def test_batchnorm_without_running_stats_has_pytorchs_state_dict():
    torch = pytest.importorskip("torch")
    for ours, theirs in ((nn.BatchNorm1d(3, track_running_stats=False),
                          torch.nn.BatchNorm1d(3, track_running_stats=False)),
                         (nn.BatchNorm2d(2, affine=False, track_running_stats=False),
                          torch.nn.BatchNorm2d(2, affine=False, track_running_stats=False)),
                         (nn.BatchNorm1d(3), torch.nn.BatchNorm1d(3))):
        assert sorted(ours.state_dict()) == sorted(theirs.state_dict())
        ours.load_state_dict({k: v.numpy() for k, v in theirs.state_dict().items()})
        theirs.load_state_dict({k: torch.tensor(v) for k, v in ours.state_dict().items()})


def test_batchnorm_without_running_stats_uses_batch_statistics_in_eval():
    torch = pytest.importorskip("torch")
    x = np.random.default_rng(0).standard_normal((5, 3))
    ours = nn.BatchNorm1d(3, track_running_stats=False, dtype=np.float64).eval()
    theirs = torch.nn.BatchNorm1d(3, track_running_stats=False, dtype=torch.float64).eval()
    np.testing.assert_allclose(np.asarray(dk.stop_gradient(ours(x))),
                               theirs(torch.tensor(x)).detach().numpy(), rtol=1e-13, atol=1e-15)


def test_batchnorm_flag_turned_off_after_construction_reads_running_stats_in_eval():
    # PyTorch's modes: eval mode reads running statistics wherever they exist
    torch = pytest.importorskip("torch")
    x = np.random.default_rng(1).standard_normal((6, 3))
    ours, theirs = nn.BatchNorm1d(3, dtype=np.float64), torch.nn.BatchNorm1d(3, dtype=torch.float64)
    ours(x), theirs(torch.tensor(x))  # one training step: running statistics move
    ours.track_running_stats = theirs.track_running_stats = False
    ours.eval(), theirs.eval()
    np.testing.assert_allclose(np.asarray(dk.stop_gradient(ours(x[:2]))),
                               theirs(torch.tensor(x[:2])).detach().numpy(), rtol=1e-13, atol=1e-15)


@pytest.mark.parametrize("dt", DTYPES)
@pytest.mark.parametrize("act", [nn.ReLU, nn.Sigmoid])
def test_compiled_step_equals_eager_for_conv_activation_on_batches_of_one(act, dt):
    # the compiled step overwrote sign(o) with ct (o's transposed layout) where the tape computes
    # ct * sign(o) (C order): a batch of one's conv-weight matmul then summed in another order
    rng = np.random.default_rng(10)
    x = rng.standard_normal((3, 3, 7, 7)).astype(dt)
    y = rng.integers(0, 4, 3)
    data = [(x[i:i + 1], y[i:i + 1]) for i in range(3)] * 2
    runs = []
    for compile in (None, False):
        nn.manual_seed(1)
        m = nn.Sequential(nn.Conv2d(3, 4, 3, dtype=dt), act(), nn.Flatten(),
                          nn.Linear(100, 4, dtype=dt))
        tr = nn.Trainer(m, optimizer=nn.SGD(m.parameters(), lr=0.1), progress=False,
                        compile=compile)
        tr.fit(data, epochs=2)
        runs.append((tr.compiled, [np.array(p.value) for p in m.parameters()],
                     [np.array(p.grad) for p in m.parameters()]))
    assert runs[0][0] == "compiled"
    for a, b in zip(runs[0][1] + runs[0][2], runs[1][1] + runs[1][2]):
        np.testing.assert_array_equal(a, b)
