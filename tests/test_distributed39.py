"""Data-parallel training with class-weighted losses, and Trainer settings that differ between
ranks.

A class-weighted mean, Σ w_yᵢ ℓᵢ / Σ w_yᵢ, needs each rank's gradient weighted by its share of the
global batch's class weight, W_r/W, not of its rows, n_r/N: the parameters and the loss history
over 2 and 3 ranks are checked against a NumPy reference written from the formulas (PyTorch's
cross_entropy and nll_loss with ``weight=`` and ``label_smoothing=``), and against one process.
Trainer settings that differ between ranks (clipping, scheduler, loss, l1/l2, early stopping)
raise RankMismatchError at the start. Ranks are real processes started by ``mpiexec``; the
tests are skipped where mpi4py or mpiexec is missing.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from mpi_support import ENV, MPIEXEC, needs_mpi

W = [0.1, 5.0, 2.0]  # class weights
W_ZERO = [0.0, 5.0, 2.0]  # class 0 weighs nothing: over 3 ranks rank 0's first shard weighs 0
Y = [0, 0, 0, 1, 2, 1, 0, 0, 1]  # 9 rows, batches of 8 and 1: a short batch leaves ranks empty
BATCH, LR, EPOCHS, SMOOTH = 8, 0.5, 2, 0.2
#: case: (loss, class weights, label smoothing, soft targets)
CASES = {
    "ce": ("CrossEntropyLoss", W, 0.0, False),
    "ce-smooth": ("CrossEntropyLoss", W, SMOOTH, False),
    "partial": ("partial", W, 0.0, False),
    "partial-smooth": ("partial", W, SMOOTH, False),
    "nll": ("NLLLoss", W, 0.0, False),
    "ce-zero-shard": ("CrossEntropyLoss", W_ZERO, 0.0, False),
    "soft": ("CrossEntropyLoss", W, 0.0, True),
}

WORKER = r'''
import functools, json, sys
import numpy as np
from diffkit import nn

out, single, names = sys.argv[1], sys.argv[2] == "single", sys.argv[3:]
if not single:
    nn.distributed.init(timeout=30)
spec = json.loads(open(out + ".spec").read())
results = {}
for name in names:
    kind, w, smooth, soft, compile_ = spec[name]
    w = np.array(w, np.float32)
    X = np.random.default_rng(0).normal(size=(9, 3)).astype(np.float32)
    y = np.array(spec["Y"])
    if soft:
        y = np.random.default_rng(1).dirichlet(np.ones(3), size=9).astype(np.float32)
    if kind == "CrossEntropyLoss":
        loss = nn.CrossEntropyLoss(weight=w, label_smoothing=smooth)
    elif kind == "NLLLoss":
        loss = nn.NLLLoss(weight=w)
    else:
        loss = functools.partial(nn.cross_entropy, weight=w, label_smoothing=smooth)
    nn.manual_seed(0)
    m = nn.Linear(3, 3)
    start = [np.array(m.weight.value).tolist(), np.array(m.bias.value).tolist()]
    tr = nn.Trainer(m, loss_fn=loss, optimizer=nn.SGD(m.parameters(), lr=spec["LR"]),
                    progress=False, compile=compile_, distributed=False if single else None)
    try:  # (a DivergenceError, met by every rank alike, fails this case only)
        h = tr.fit(nn.DataLoader(X, y, batch_size=spec["BATCH"], shuffle=False),
                   epochs=spec["EPOCHS"])
    except nn.DivergenceError as e:
        results[name] = {"error": f"{type(e).__name__}: {e}"}
        continue
    results[name] = {"start": start, "loss": h["loss"], "X": X.tolist(), "y": y.tolist(),
                     "end": [np.array(m.weight.value).tolist(), np.array(m.bias.value).tolist()]}
if nn.distributed.rank == 0:
    open(out, "w").write(json.dumps(results))
'''

MISMATCH = r'''
import functools, json, sys
import numpy as np
from diffkit import nn

nn.distributed.init(timeout=30)
r = nn.distributed.rank
X = np.random.default_rng(0).normal(size=(16, 3)).astype(np.float32)
y = np.arange(16) % 3

def setting(name):
    """(Trainer keywords, scheduler or None) for this rank: rank 1 differs in `name`."""
    d = r == 1
    nn.manual_seed(0)
    m = nn.Linear(3, 3)
    opt = nn.SGD(m.parameters(), lr=0.1)
    kw = dict(model=m, optimizer=opt, progress=False)
    if name == "clip_grad_norm":
        kw["clip_grad_norm"] = 0.5 if d else None
    elif name == "clip_grad_value":
        kw["clip_grad_value"] = 0.5 if d else 1.0
    elif name == "scheduler-gamma":
        kw["scheduler"] = nn.StepLR(opt, 1, gamma=0.5 if d else 0.9)
    elif name == "scheduler-type":
        kw["scheduler"] = nn.ExponentialLR(opt, 0.9) if d else nn.StepLR(opt, 1, gamma=0.9)
    elif name == "loss-reduction":
        kw["loss_fn"] = nn.CrossEntropyLoss(reduction="sum" if d else "mean")
    elif name == "loss-smoothing":
        kw["loss_fn"] = nn.CrossEntropyLoss(label_smoothing=0.1 if d else 0.0)
    elif name == "loss-weight":
        kw["loss_fn"] = nn.CrossEntropyLoss(weight=np.array([1, 2, 3 + d], np.float32))
    elif name == "loss-class":
        kw["loss_fn"] = nn.NLLLoss() if d else nn.CrossEntropyLoss()
    elif name == "loss-partial":
        kw["loss_fn"] = functools.partial(nn.cross_entropy, label_smoothing=0.1 * d)
    elif name == "l1":
        kw["l1"] = 1e-3 if d else 0.0
    elif name == "l2":
        kw["l2"] = 1e-3 if d else 1e-4
    elif name == "early_stopping":
        kw["early_stopping"] = nn.EarlyStopping(patience=2 + d)
    elif name == "same":  # equal settings in other objects and spellings: no error
        kw.update(l1=0 if d else 0.0, clip_grad_norm=1 if d else 1.0,
                  loss_fn=nn.CrossEntropyLoss(weight=np.array([1.0, 2.0, 3.0], np.float32)),
                  scheduler=nn.StepLR(opt, 1, gamma=0.9))
    return kw

results = {}
for name in sys.argv[2:]:
    try:
        nn.Trainer(**setting(name)).fit(nn.DataLoader(X, y, batch_size=8, seed=0), epochs=1)
        results[name] = "trained"
    except nn.RankMismatchError as e:
        results[name] = str(e)
if r == 0:
    open(sys.argv[1], "w").write(json.dumps(results))
'''
SETTINGS = ("clip_grad_norm", "clip_grad_value", "scheduler-gamma", "scheduler-type",
            "loss-reduction", "loss-smoothing", "loss-weight", "loss-class", "loss-partial", "l1",
            "l2", "early_stopping")


def launch(n: int, script: Path, *args: str) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, str(script), *args]
    if n > 1:
        assert MPIEXEC is not None
        cmd = [MPIEXEC, "-n", str(n), *cmd]
    return subprocess.run(cmd, env=ENV, capture_output=True, text=True, timeout=240,
                          check=False)


# ----- the reference, from the formulas


def _loss_and_logit_grad(z: np.ndarray, y: np.ndarray, case: str) -> tuple[float, np.ndarray, float]:
    """(loss, ∂loss/∂z, what the loss's mean divides by) of one batch, PyTorch's definitions:
    cross_entropy with weight w and smoothing ε on labels,
    Σᵢ [(1−ε) w_yᵢ (−log p_iyᵢ) + ε/C Σ_c w_c (−log p_ic)] / Σᵢ w_yᵢ;
    on probability rows t, Σᵢ Σ_c −w_c t_ic log p_ic / N; nll_loss, Σᵢ −w_yᵢ z_iyᵢ / Σᵢ w_yᵢ."""
    kind, w, eps, soft = CASES[case]
    w = np.asarray(w, np.float64)
    C = z.shape[1]
    logp = z - z.max(1, keepdims=True)
    logp = logp - np.log(np.exp(logp).sum(1, keepdims=True))
    p = np.exp(logp)
    if soft:
        a = w * y  # −Σ_c a_c log p_c, whose gradient is (Σ_c a_c) p − a
        return (-(a * logp).sum() / len(z), (a.sum(1, keepdims=True) * p - a) / len(z),
                float(len(z)))
    labels = y.astype(int)
    onehot = np.eye(C)[labels]
    wy = w[labels]
    total = wy.sum()
    if kind == "NLLLoss":
        return -(wy * z[np.arange(len(z)), labels]).sum() / total, -wy[:, None] * onehot / total, \
            total
    loss = ((1 - eps) * wy * -logp[np.arange(len(z)), labels]
            + eps / C * (w * -logp).sum(1)).sum() / total
    grad = ((1 - eps) * wy[:, None] * (p - onehot) + eps / C * (w.sum() * p - w)) / total
    return loss, grad, total


def reference(case: str, got: dict) -> tuple[np.ndarray, np.ndarray, list[float]]:
    """SGD on the Linear model z = X Wᵀ + b, batch by batch in float64: (W, b, loss history)."""
    X, y = np.array(got["X"], np.float64), np.array(got["y"], np.float64)
    Wt, b = (np.array(a, np.float64) for a in got["start"])
    history = []
    for _ in range(EPOCHS):
        losses, counts = [], []
        for lo in range(0, len(X), BATCH):
            xb, yb = X[lo:lo + BATCH], y[lo:lo + BATCH]
            loss, gz, count = _loss_and_logit_grad(xb @ Wt.T + b, yb, case)
            losses.append(loss * count)
            counts.append(count)
            Wt, b = Wt - LR * gz.T @ xb, b - LR * gz.sum(0)
        history.append(sum(losses) / sum(counts))
    return Wt, b, history


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[tuple[int, bool], dict]:
    if MPIEXEC is None:
        pytest.skip("needs mpi4py and mpiexec (diffkit[mpi])")
    folder = tmp_path_factory.mktemp("classweights")
    script = folder / "worker.py"
    script.write_text(textwrap.dedent(WORKER))
    found = {}
    for compile_ in (False, None):  # (a weighted loss is not compiled: None falls back)
        for n in (1, 2, 3):
            out = folder / f"{n}-{compile_}.json"
            spec = {k: [*v, compile_] for k, v in CASES.items()}
            Path(f"{out}.spec").write_text(json.dumps(
                {**spec, "Y": Y, "BATCH": BATCH, "LR": LR, "EPOCHS": EPOCHS}))
            done = launch(n, script, str(out), "single" if n == 1 else "mpi", *CASES)
            assert done.returncode == 0, done.stderr[-3000:]
            found[n, compile_] = json.loads(out.read_text())
    return found


@needs_mpi
@pytest.mark.parametrize("compile_", [False, None], ids=["eager", "auto"])
@pytest.mark.parametrize("n", [1, 2, 3])
@pytest.mark.parametrize("case", list(CASES))
def test_class_weighted_loss_over_ranks_is_the_formulas(runs: dict, case: str, n: int,
                                                        compile_: bool | None) -> None:
    got = runs[n, compile_][case]
    assert "error" not in got, got
    Wt, b, history = reference(case, got)
    np.testing.assert_allclose(got["end"][0], Wt, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(got["end"][1], b, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(got["loss"], history, rtol=1e-4)
    one = runs[1, compile_][case]  # and one process's, within float32 rounding
    np.testing.assert_allclose(got["end"][1], one["end"][1], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(got["loss"], one["loss"], rtol=1e-5)


def test_reference_matches_a_hand_value() -> None:
    """The reference's formula at one point, by hand: z = 0, labels (0, 1), w = (1, 3), ε = 0:
    p = ½ each; loss = (1·log 2 + 3·log 2)/4 = log 2; ∂/∂z₀ = w₀(p − e₀)/4 = (−⅛, ⅛)."""
    CASES["_hand"] = ("CrossEntropyLoss", [1.0, 3.0], 0.0, False)
    try:
        loss, g, total = _loss_and_logit_grad(np.zeros((2, 2)), np.array([0.0, 1.0]), "_hand")
    finally:
        del CASES["_hand"]
    assert total == 4.0 and np.isclose(loss, np.log(2))
    np.testing.assert_allclose(g, [[-0.125, 0.125], [0.375, -0.375]])


@needs_mpi
def test_smoothing_on_a_shard_of_weight_zero_is_a_named_error(tmp_path: Path) -> None:
    """Over 3 ranks rank 0's first shard holds labels (0, 0, 0) of class weight 0: with label
    smoothing its mean is (Σ smoothing terms)/0, its part of the global mean lost."""
    script = tmp_path / "worker.py"
    script.write_text(textwrap.dedent(WORKER))
    out = tmp_path / "out.json"
    Path(f"{out}.spec").write_text(json.dumps({
        "zero": ["CrossEntropyLoss", W_ZERO, SMOOTH, False, False], "Y": Y, "BATCH": BATCH,
        "LR": LR, "EPOCHS": EPOCHS}))
    done = launch(3, script, str(out), "mpi", "zero")
    assert done.returncode != 0
    assert "DistributedError" in done.stderr
    assert "label_smoothing" in done.stderr and "class weight 0" in done.stderr


@needs_mpi
def test_trainer_settings_that_differ_between_ranks_are_named(tmp_path: Path) -> None:
    script = tmp_path / "mismatch.py"
    script.write_text(textwrap.dedent(MISMATCH))
    out = tmp_path / "out.json"
    done = launch(2, script, str(out), *SETTINGS, "same")
    assert done.returncode == 0, done.stderr[-3000:]
    got = json.loads(out.read_text())
    assert got["same"] == "trained"
    names = {"clip_grad_norm": "clip_grad_norm", "clip_grad_value": "clip_grad_value",
             "scheduler-gamma": "scheduler", "scheduler-type": "scheduler", "l1": "l1",
             "l2": "l2", "early_stopping": "early_stopping"}
    for setting in SETTINGS:
        message = got[setting]
        what = names.get(setting, "loss")
        assert message.startswith(f"rank 1 differs from rank 0 in the trainer's {what}:"), \
            (setting, message)


LOOP = r'''
import json, sys
import numpy as np
from diffkit import nn

nn.distributed.init(timeout=30)
r = nn.distributed.rank
m = nn.Linear(2, 1)
found = {}
for p in m.parameters():
    p.grad = np.full(p.shape, r + 1.0, np.float32)
nn.distributed.all_reduce_gradients(m, weight=[1.0, 3.0][r], normalize=True)
found["normalized"] = [float(p.grad.ravel()[0]) for p in m.parameters()]
for p in m.parameters():
    p.grad = np.full(p.shape, np.nan, np.float32) if r == 0 else np.ones(p.shape, np.float32)
nn.distributed.all_reduce_gradients(m, weight=[0.0, 2.0][r], normalize=True)
found["weight 0"] = [float(p.grad.ravel()[0]) for p in m.parameters()]
try:
    nn.distributed.all_reduce_gradients(m, weight=0.5, normalize=r == 1)
    found["mixed"] = "no error"
except nn.DistributedError as e:
    found["mixed"] = str(e)
if r == 0:
    open(sys.argv[1], "w").write(json.dumps(found))
'''


@needs_mpi
def test_all_reduce_gradients_normalize_for_a_loop_of_your_own(tmp_path: Path) -> None:
    """Rank r's gradient r + 1 with weights 1 and 3: (1·1 + 3·2)/4 = 1.75; a rank of weight 0
    adds zeros even where its gradient is NaN; ranks that disagree on normalize are named."""
    script = tmp_path / "loop.py"
    script.write_text(textwrap.dedent(LOOP))
    out = tmp_path / "out.json"
    done = launch(2, script, str(out))
    assert done.returncode == 0, done.stderr[-3000:]
    got = json.loads(out.read_text())
    assert got["normalized"] == [1.75, 1.75]
    assert got["weight 0"] == [1.0, 1.0]
    assert "1 of 2 ranks" in got["mixed"] and "every rank must use the same loss" in got["mixed"]
