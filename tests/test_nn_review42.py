"""Review 42 (r3) of this stop's nn changes: cross-entropy's gradient of a confident, correct row
(mpmath at 50 digits), BatchNorm without a batch counter or with one running statistic (PyTorch),
the ``train --resume`` message for a saved string setting, and parameter names a Module's class
or instance already uses (PyTorch)."""

from __future__ import annotations

import textwrap
from pathlib import Path

import mpmath as mp
import numpy as np
import pytest
from mpi_support import ENV, MPIEXEC, needs_mpi

import diffkit as dk
from diffkit import nn
from diffkit.cli.common import shown
from diffkit.cli.train import _mismatch
from diffkit.nn.module import ModuleNameError
from diffkit.nn.train import ConfigMismatchError

mp.mp.dps = 50

# ----- 1. cross_entropy's gradient where one class has p > ½ ---------------------------------

# (logits, label, dtype): before, ∂L/∂z₀ was 0 for float32 [20, 0] (exact −2.06e-9) and float64
# [40, 0] (−4.2e-18), −5.96e-8 for float32 [17, 0, 0] (−8.28e-8), 1e4 ulps off for [10, 0]
ROWS = [([20.0, 0.0], 0, np.float32), ([17.0, 0.0, 0.0], 0, np.float32),
        ([10.0, 0.0], 0, np.float32), ([3.0, -1.0, 0.5], 0, np.float32),
        ([0.0, 40.0], 1, np.float64), ([40.0, 0.0], 0, np.float64),
        ([30.0, 0.0, -2.0], 0, np.float64), ([700.0, -700.0, 0.0], 0, np.float64),
        ([88.0, 0.0, 0.0], 0, np.float64), ([2.0, 1.0, 0.0, -3.0], 0, np.float64)]


def _targets(c: int, label: int, smoothing: float, weight: np.ndarray | None) -> list[mp.mpf]:
    """PyTorch's per-class factors of one row's loss Σ_c T_c·(logsumexp(z) − z_c): w_c·((1 − ε)
    for the label + ε/C)."""
    w = [mp.mpf(1)] * c if weight is None else [mp.mpf(float(v)) for v in weight]
    eps = mp.mpf(smoothing)
    return [w[j] * ((1 - eps) * (j == label) + eps / c) for j in range(c)]


def _xent_grad_ref(z: np.ndarray, t: list[mp.mpf]) -> list[float]:
    """∂/∂z_k Σ_c T_c·(logsumexp(z) − z_c) = p_k·Σ T − T_k = p_k·Σ_{j≠k} T_j − T_k·(1 − p_k) at 50
    digits, 1 − p_k as Σ_{j≠k} e^{z_j} / Σ e^{z_j} (1 − p_k at 50 digits is 0 for [700, 0])."""
    zs = [mp.mpf(float(v)) for v in z]
    m = max(zs)
    e = [mp.exp(v - m) for v in zs]
    total = mp.fsum(e)
    out = []
    for k in range(len(zs)):
        rest = mp.fsum(e[j] for j in range(len(zs)) if j != k)
        others = mp.fsum(t[j] for j in range(len(zs)) if j != k)
        out.append(float(e[k] / total * others - t[k] * rest / total))
    return out


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("smoothing", [0.0, 0.1])
@pytest.mark.parametrize(("row", "label", "dt"), ROWS)
def test_cross_entropy_gradient_of_a_confident_row_matches_mpmath(row, label, dt, smoothing,
                                                                  weighted):
    z = np.array([row], dt)
    c = z.shape[-1]
    weight = np.linspace(0.5, 2.0, c).astype(dt) if weighted else None
    zp = nn.Parameter(z.copy())
    nn.cross_entropy(zp, np.array([label]), reduction="sum", label_smoothing=smoothing,
                     weight=weight).backward()
    got = np.asarray(zp.grad)[0].astype(float)
    ref = _xent_grad_ref(z[0], _targets(c, label, smoothing, weight))
    eps = float(np.finfo(dt).eps)
    for k, (g, r) in enumerate(zip(got, ref, strict=True)):
        assert abs(g - r) <= 8 * eps * abs(r), (k, got.tolist(), ref)
    # as nll_loss(log_softmax(z)) gets it (the same loss spelt twice)
    if not smoothing:
        zq = nn.Parameter(z.copy())
        nn.nll_loss(dk.log_softmax(zq, axis=-1), np.array([label]), reduction="sum",
                    weight=weight).backward()
        np.testing.assert_allclose(got, np.asarray(zq.grad)[0], rtol=8 * eps, atol=0)


def test_cross_entropy_with_probability_targets_of_a_confident_row_matches_mpmath():
    z = np.array([[25.0, 0.0, -1.0]], np.float32)
    t = np.array([[0.9, 0.05, 0.05]], np.float32)
    zp = nn.Parameter(z.copy())
    nn.cross_entropy(zp, t, reduction="sum").backward()
    ref = _xent_grad_ref(z[0], [mp.mpf(float(v)) for v in t[0]])
    np.testing.assert_allclose(np.asarray(zp.grad)[0], ref, rtol=8 * 2.0 ** -23, atol=0)


@pytest.mark.parametrize("method", ["reverse", "forward", "symbolic", "compiled"])
@pytest.mark.parametrize(("row", "dt"), [([40.0, 0.0], np.float64), ([20.0, 0.0], np.float32),
                                         ([0.0, 30.0, -2.0], np.float64)])
def test_every_engine_differentiates_softmax_cross_entropy_without_cancelling(row, dt, method):
    # the forward rule and the SymPy form formed 1/(1 + ρ) − 1 too: 0 for [40, 0]
    z = np.array([row], dt)
    k = int(np.argmax(z))
    t = np.zeros_like(z)
    t[0, k] = 1.0
    (got,) = dk.grad(lambda q: dk.sum(dk.softmax_cross_entropy(q, t)), method=method)(z)
    ref = _xent_grad_ref(z[0], [mp.mpf(float(v)) for v in t[0]])
    np.testing.assert_allclose(np.asarray(got)[0], ref, rtol=8 * float(np.finfo(dt).eps), atol=0)


def test_a_compiled_training_step_on_confident_rows_equals_the_eager_one_and_mpmath():
    """The Trainer's generated step and the eager tape (bit for bit), both with ∂L/∂z of the
    confident rows from −ρ/(1 + ρ): a bias-only model makes ∂L/∂b = Σ_rows ∂L/∂z."""
    x = np.zeros((4, 2), np.float32)
    y = np.array([0, 0, 0, 0])
    grads = []
    for compile_ in (False, True):
        model = nn.Linear(2, 2)
        nn.assign_(model.weight, np.zeros((2, 2), np.float32))
        nn.assign_(model.bias, np.array([20.0, 0.0], np.float32))
        opt = nn.SGD(model.parameters(), lr=0.0)
        tr = nn.Trainer(model, loss_fn=nn.CrossEntropyLoss(reduction="sum"), optimizer=opt,
                        progress=False, compile=compile_)
        tr.fit(nn.DataLoader(x, y, batch_size=4, shuffle=False), epochs=2)
        grads.append(np.asarray(model.bias.grad).copy())
    np.testing.assert_array_equal(grads[0], grads[1])
    ref = [4 * v for v in _xent_grad_ref(np.array([20.0, 0.0], np.float32), [1, 0])]
    np.testing.assert_allclose(grads[1], ref, rtol=8 * 2.0 ** -23, atol=0)


# ----- 2. BatchNorm without num_batches_tracked, or with one running statistic ----------------


def _x(seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((5, 3)) * 2 + 1


@pytest.mark.parametrize("momentum", [0.1, None])
@pytest.mark.parametrize("how", ["built untracked", "counter set to None"])
def test_batch_norm_without_a_counter_trains_as_pytorch(how, momentum):
    torch = pytest.importorskip("torch")
    ours = nn.BatchNorm1d(3, dtype=np.float64, momentum=momentum,
                          track_running_stats=how == "counter set to None")
    theirs = torch.nn.BatchNorm1d(3, dtype=torch.float64, momentum=momentum,
                                  track_running_stats=how == "counter set to None")
    if how == "built untracked":  # statistics assigned later, tracking turned on
        ours.running_mean, ours.running_var = np.zeros(3), np.ones(3)
        theirs.running_mean = torch.zeros(3, dtype=torch.float64)
        theirs.running_var = torch.ones(3, dtype=torch.float64)
        ours.track_running_stats = theirs.track_running_stats = True
    else:
        ours.num_batches_tracked = theirs.num_batches_tracked = None
    for step in range(3):  # the third in eval mode: reads the running statistics
        if step == 2:
            ours.eval()
            theirs.eval()
        x = _x(step)
        np.testing.assert_allclose(np.asarray(dk.stop_gradient(ours(x))),
                                   theirs(torch.tensor(x)).detach().numpy(), rtol=1e-12,
                                   atol=1e-12)
        np.testing.assert_allclose(ours.running_mean, theirs.running_mean.numpy(), rtol=1e-13)
        np.testing.assert_allclose(ours.running_var, theirs.running_var.numpy(), rtol=1e-13)
        assert ours.num_batches_tracked is None and theirs.num_batches_tracked is None
    assert sorted(ours.state_dict()) == sorted(theirs.state_dict())


@pytest.mark.parametrize("missing", ["running_var", "running_mean"])
def test_batch_norm_with_one_running_statistic_is_refused_where_it_would_be_used(missing):
    torch = pytest.importorskip("torch")
    x = _x()
    for track in (True, False):
        ours = nn.BatchNorm1d(3, dtype=np.float64)
        theirs = torch.nn.BatchNorm1d(3, dtype=torch.float64)
        setattr(ours, missing, None)
        setattr(theirs, missing, None)
        ours.track_running_stats = theirs.track_running_stats = track
        # eval mode: PyTorch's "running_var must be defined in evaluation mode"; diffkit used
        # the batch's statistics instead
        with pytest.raises(RuntimeError, match="must be defined"):
            theirs.eval()(torch.tensor(x))
        with pytest.raises(ValueError, match=f"{missing} is None"):
            ours.eval()(x)
        ours.train()
        theirs.train()
        if track:  # training would update them: PyTorch's ValueError
            with pytest.raises(ValueError, match="both be None or neither"):
                theirs(torch.tensor(x))
            with pytest.raises(ValueError, match="both be None or neither"):
                ours(x)
        else:  # not tracked in training: batch statistics, as PyTorch
            np.testing.assert_allclose(np.asarray(dk.stop_gradient(ours(x))),
                                       theirs(torch.tensor(x)).detach().numpy(), rtol=1e-12,
                                       atol=1e-12)


@needs_mpi
def test_sync_batch_norm_keeps_its_buffers_dtype_and_the_global_statistics(tmp_path: Path):
    """A float64 batch through a float32 SyncBatchNorm1d on 2 ranks: the running statistics stay
    float32 as BatchNorm1d's do (they became float64) and are PyTorch's on the whole batch."""
    import json
    import subprocess
    import sys

    torch = pytest.importorskip("torch")
    script = tmp_path / "w.py"
    script.write_text(textwrap.dedent("""
        import sys, json, numpy as np
        from diffkit import nn
        nn.distributed.init(timeout=20)
        x = np.random.default_rng(0).standard_normal((6, 3)) * 2 + 1
        r = nn.distributed.rank
        bn = nn.distributed.SyncBatchNorm1d(3)
        for momentum in (0.1, None):
            bn.momentum = momentum
            bn(x[3 * r:3 * r + 3])
        if r == 0:
            json.dump({"dtypes": [str(bn.running_mean.dtype), str(bn.running_var.dtype)],
                       "mean": bn.running_mean.astype(float).tolist(),
                       "var": bn.running_var.astype(float).tolist(),
                       "count": int(bn.num_batches_tracked)},
                      open(sys.argv[1] + "/out.json", "w"))
    """))
    done = subprocess.run([MPIEXEC, "-n", "2", sys.executable, str(script), str(tmp_path)],
                          env=ENV, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    got = json.loads((tmp_path / "out.json").read_text())
    assert got["dtypes"] == ["float32", "float32"] and got["count"] == 2
    x = torch.tensor(np.random.default_rng(0).standard_normal((6, 3)) * 2 + 1)
    ref = torch.nn.BatchNorm1d(3, dtype=torch.float64)
    for momentum in (0.1, None):
        ref.momentum = momentum
        ref(x)
    np.testing.assert_allclose(got["mean"], ref.running_mean.numpy(), rtol=1e-6)
    np.testing.assert_allclose(got["var"], ref.running_var.numpy(), rtol=1e-6)


# ----- 3. train --resume: a saved string setting is shown as a string ---------------------------


def test_shown_quotes_a_string_that_spells_another_value():
    for word in ("0.003", "1", "1e3", "-2", "nan", "inf", "True", "false", "None", "0x10", "1j"):
        assert shown(word) == repr(word), word
    assert (shown("xor"), shown("adam"), shown(0.003), shown(1), shown(True)) == (
        "xor", "adam", "0.003", "1", "True")


def _refusal(saved: dict, current: dict) -> str:
    keys = [k for k in {**saved, **current} if saved.get(k, None) != current.get(k, None)]
    return _mismatch("c.ckpt", ConfigMismatchError("differs", saved=saved, current=current,
                                                   keys=keys))


def test_resume_refusal_shows_a_saved_string_lr_as_a_string():
    # was: "with --lr 0.003, not --lr 0.003; resume with --lr 0.003" (which is refused again)
    base = {"dataset": "xor", "model": "mlp", "optimizer": "adam", "epochs": 1,
            "batch_size": 32, "seed": 0}
    msg = _refusal({**base, "lr": "0.003"}, {**base, "lr": 0.003})
    assert msg == ("--resume: c.ckpt was written by a run with lr '0.003', which this command "
                   "cannot continue; start a new run without --resume")
    # a string option spelling a number is quoted where an option could give it back
    msg = _refusal({**base, "lr": 0.003, "dataset": "1"}, {**base, "lr": 0.003})
    assert msg == ("--resume: c.ckpt was written by a run with DATASET '1', not DATASET xor; "
                   "resume with DATASET '1', or start a new run without --resume")


def test_resume_refusal_shows_crafted_config_keys_with_repr():
    base = {"dataset": "xor", "lr": 0.1}
    msg = _refusal({**base, "epochs 1, lr": 5, "x\ny": 1}, base)
    assert "'epochs 1, lr' 5" in msg and "'x\\ny' 1" in msg
    assert "\n" not in msg


# ----- 4. names a Module's class or instance already uses ----------------------------------------


class _WithProperty(nn.Module):
    @property
    def scale(self) -> float:
        return 2.0


@pytest.mark.parametrize(("name", "kind"), [("forward", "parameter"), ("state_dict", "parameter"),
                                            ("forward", "buffer"), ("scale", "parameter")])
def test_a_parameter_named_after_a_class_attribute_is_refused_as_by_pytorch(name, kind):
    torch = pytest.importorskip("torch")

    class TorchWithProperty(torch.nn.Module):
        @property
        def scale(self) -> float:
            return 2.0

    ours = _WithProperty() if name == "scale" else nn.Linear(2, 2)
    theirs = TorchWithProperty() if name == "scale" else torch.nn.Linear(2, 2)
    with pytest.raises(KeyError, match=f"attribute '{name}' already exists"):
        if kind == "buffer":
            theirs.register_buffer(name, torch.zeros(1))
        else:
            setattr(theirs, name, torch.nn.Parameter(torch.zeros(1)))
    with pytest.raises(ModuleNameError, match=f"attribute '{name}' already exists"):
        if kind == "buffer":
            ours.register_buffer(name, np.zeros(1))
        else:
            setattr(ours, name, nn.Parameter(np.zeros(1)))
    assert name not in ours.state_dict()
    assert callable(ours.forward) and not isinstance(ours.forward, dk.Tensor)


def test_a_module_or_parameter_over_a_method_is_refused_a_setting_replaced():
    # PyTorch's add_module/register_parameter refuse these; its setattr lets a module hide
    # forward (m.forward still the method) and a parameter replace a setting
    torch = pytest.importorskip("torch")
    with pytest.raises(KeyError, match="attribute 'forward' already exists"):
        torch.nn.Linear(2, 2).add_module("forward", torch.nn.ReLU())
    with pytest.raises(KeyError, match="attribute 'in_features' already exists"):
        torch.nn.Linear(2, 2).register_parameter("in_features",
                                                 torch.nn.Parameter(torch.zeros(1)))
    m = nn.Linear(2, 2)
    with pytest.raises(ModuleNameError, match="attribute 'forward' already exists"):
        m.forward = nn.ReLU()
    with pytest.raises(ModuleNameError, match="attribute 'forward' already exists"):
        m.forward = nn.Parameter(np.zeros(1))
    assert sorted(m.state_dict()) == ["bias", "weight"]
    # an assignment replaces a setting of the instance, as PyTorch's setattr does (its
    # register_parameter refuses; diffkit's register_buffer refuses too)
    t = torch.nn.Linear(2, 2)
    t.in_features = torch.nn.Parameter(torch.zeros(1))
    m.in_features = nn.Parameter(np.zeros(1))
    assert sorted(m.state_dict()) == sorted(t.state_dict()) == ["bias", "in_features", "weight"]
    with pytest.raises(ModuleNameError, match="attribute 'out_features' already exists"):
        m.register_buffer("out_features", np.zeros(1))


def test_reassigning_parameters_buffers_and_submodules_still_works_as_in_pytorch():
    torch = pytest.importorskip("torch")
    ours, theirs = nn.Linear(2, 2, bias=False), torch.nn.Linear(2, 2, bias=False)
    ours.weight = nn.Parameter(np.zeros((2, 2), np.float32))
    theirs.weight = torch.nn.Parameter(torch.zeros(2, 2))
    ours.bias = nn.Parameter(np.zeros(2, np.float32))  # its place held None
    theirs.bias = torch.nn.Parameter(torch.zeros(2))
    assert sorted(ours.state_dict()) == sorted(theirs.state_dict()) == ["bias", "weight"]
    seq, tseq = nn.Sequential(nn.Linear(2, 2), nn.ReLU()), torch.nn.Sequential(
        torch.nn.Linear(2, 2), torch.nn.ReLU())
    setattr(seq, "1", nn.Tanh())
    setattr(tseq, "1", torch.nn.Tanh())
    setattr(seq, "0", nn.Linear(2, 2))
    setattr(tseq, "0", torch.nn.Linear(2, 2))
    assert sorted(seq.state_dict()) == sorted(tseq.state_dict())
    assert type(seq[1]).__name__ == type(tseq[1]).__name__ == "Tanh"
    bn, tbn = nn.BatchNorm1d(3), torch.nn.BatchNorm1d(3)
    bn.running_mean = nn.Parameter(np.zeros(3, np.float32))  # a buffer becomes a parameter
    tbn.running_mean = torch.nn.Parameter(torch.zeros(3))
    assert sorted(bn.state_dict()) == sorted(tbn.state_dict())
    assert [n for n, _ in bn.named_parameters()] == [n for n, _ in tbn.named_parameters()]
