"""Data-parallel training keeps its promise — P ranks give one process's parameters on the same
global batches — where the hunt found it broken: augmentations under the sampler, validation
metrics and batch-norm buffers at the end of an epoch, a summed loss of the user's own,
synchronized batch norm with ``momentum=None``, the user's loader after fit, and faults (a rank
that fails before ``init()``, an exception the user catches, a one-row batch-norm shard).

Run as a script under ``mpiexec`` this file is also the ranks' worker:
``mpiexec -n 2 python tests/test_distributed_hunt13_trust.py OUT.json CASE…`` (``--single``: one
process without nn.distributed, the reference). Rank 0 writes ``{case: result}``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from mpi_support import ENV, MPIEXEC, needs_mpi

from diffkit import nn

ROOT = Path(__file__).resolve().parent.parent
ME = Path(__file__).resolve()
EXACT = 1e-10  # float64 runs: only the order of the ranks' sums differs


# ----- the worker (one rank)


def _params(model: nn.Module) -> list[float]:
    return np.concatenate([np.ravel(v).astype(np.float64)
                           for v in model.state_dict().values()]).tolist()


def _agree(model: nn.Module) -> bool:
    ctx = nn.distributed.context()
    if ctx is None:
        return True
    mine = np.asarray(_params(model)).tobytes()
    return len(set(ctx.all_gather_bytes(mine))) == 1


def _data(n: int, features: int = 4, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, features))
    return X, ((X[:, 0] + X[:, 1] ** 2 > 0.5).astype(np.int64) + (X[:, 2] > 1))


def case_transform() -> dict:
    """Augmentation under the sampler, 100 rows over 3 ranks; then a second fit."""
    X, y = _data(100, 3)
    nn.manual_seed(0)
    model = nn.MLP([3, 8, 3], dtype=np.float64)
    loader = nn.DataLoader(X, y, batch_size=16, seed=0, dtype=np.float64,
                           transform=nn.AddGaussianNoise(0.05))
    trainer = nn.Trainer(model, optimizer=nn.SGD(model.parameters(), lr=0.1), progress=False)
    trainer.fit(loader, epochs=3)
    trainer.fit(loader, epochs=4)  # continues: no RankMismatchError about the generator
    return {"params": _params(model), "agree": _agree(model), "loss": trainer.history["loss"]}


def _val_trainer(batch_norm: bool) -> tuple[nn.Trainer, nn.DataLoader]:
    X, y = _data(103, 5, seed=123)
    nn.manual_seed(0)
    model = nn.MLP([5, 16, 8, 3], dtype=np.float64, batch_norm=batch_norm)
    opt = nn.SGD(model.parameters(), lr=0.1, momentum=0.9)
    trainer = nn.Trainer(model, optimizer=opt, progress=False,
                         scheduler=nn.ReduceLROnPlateau(opt, patience=0, factor=0.5),
                         early_stopping=nn.EarlyStopping(patience=2, restore_best=True))
    return trainer, nn.DataLoader(X, y, batch_size=16, seed=7, dtype=np.float64)


def case_valslice() -> dict:
    """Each rank passes its own part of the validation set: the metrics are the whole set's."""
    Xv, yv = _data(41, 5, seed=9)
    trainer, loader = _val_trainer(batch_norm=False)
    ctx = nn.distributed.context()
    if ctx is not None:  # rank r's part: every world_size-th row
        Xv, yv = Xv[ctx.rank::ctx.world_size], yv[ctx.rank::ctx.world_size]
    h = trainer.fit(loader, val_data=(Xv, yv), epochs=6)
    return {"params": _params(trainer.model), "agree": _agree(trainer.model),
            "val_loss": h["val_loss"], "lr": h["lr"]}


def case_valsame() -> dict:
    """Every rank passes the whole validation set: still one process's numbers."""
    Xv, yv = _data(41, 5, seed=9)
    trainer, loader = _val_trainer(batch_norm=False)
    h = trainer.fit(loader, val_data=(Xv, yv), epochs=6)
    return {"params": _params(trainer.model), "agree": _agree(trainer.model),
            "val_loss": h["val_loss"], "val_accuracy": h["val_accuracy"], "lr": h["lr"]}


def case_bnval() -> dict:
    """Plain batch norm + validation + plateau + early stopping: the ranks stay identical."""
    Xv, yv = _data(40, 5, seed=9)
    trainer, loader = _val_trainer(batch_norm=True)
    h = trainer.fit(loader, val_data=(Xv, yv), epochs=8)
    ctx = nn.distributed.context()
    lrs = [] if ctx is None else [b.decode() for b in ctx.all_gather_bytes(repr(h["lr"]).encode())]
    return {"agree": _agree(trainer.model), "lrs_agree": len(set(lrs)) <= 1, "epochs": h.epochs}


def case_sumloss() -> dict:
    """A loss of the user's own that sums over the rows, undeclared and declared."""
    X, y = _data(50, 3)
    out = {}
    for name in ("lambda", "declared"):
        def loss(o, t):  # type: ignore[no-untyped-def]
            return nn.cross_entropy(o, t, reduction="sum")

        if name == "declared":
            loss.reduction = "sum"  # type: ignore[attr-defined]
        nn.manual_seed(0)
        model = nn.MLP([3, 8, 3], dtype=np.float64)
        trainer = nn.Trainer(model, loss_fn=loss, progress=False,
                             optimizer=nn.SGD(model.parameters(), lr=0.01))
        trainer.fit(nn.DataLoader(X, y, batch_size=16, seed=0, dtype=np.float64), epochs=2)
        out[name] = _params(model)
    # a summed loss of one's own set inside an epoch (from a transform): probed as at the start
    nn.manual_seed(0)
    model = nn.MLP([3, 8, 3], dtype=np.float64)
    trainer = nn.Trainer(model, progress=False, optimizer=nn.SGD(model.parameters(), lr=0.01))
    steps = [0]

    def swap(xb, rng):  # type: ignore[no-untyped-def]
        steps[0] += 1
        if steps[0] == 3:
            trainer.loss_fn = lambda o, t: nn.cross_entropy(o, t, reduction="sum")
        return xb

    trainer.fit(nn.DataLoader(X, y, batch_size=16, seed=0, dtype=np.float64, transform=swap),
                epochs=2)
    out["swapped"] = _params(model)
    return out


def case_neither() -> dict:
    """A loss that is neither a mean nor a sum over the rows: a named error at the start."""
    X, y = _data(50, 3)
    nn.manual_seed(0)
    model = nn.MLP([3, 8, 3], dtype=np.float64)
    trainer = nn.Trainer(model, progress=False,
                         loss_fn=lambda o, t: nn.cross_entropy(o, t, reduction="sum") + 1.0)
    try:
        trainer.fit(nn.DataLoader(X, y, batch_size=16, dtype=np.float64), epochs=1)
    except Exception as exc:  # noqa: BLE001 (reported to the test)
        return {"error": f"{type(exc).__name__}: {exc}", "epochs": trainer.history.epochs}
    return {"error": None}


def case_loader() -> dict:
    """fit leaves the user's DataLoader as it found it (no sampler)."""
    X, y = _data(20, 3)
    nn.manual_seed(0)
    model = nn.MLP([3, 4, 3], dtype=np.float64)
    loader = nn.DataLoader(X, y, batch_size=8, shuffle=False, dtype=np.float64)
    nn.Trainer(model, progress=False).fit(loader, epochs=1)
    return {"sampler": repr(loader.sampler), "rows": sum(len(yb) for _, yb in loader)}


def case_syncbn_none() -> dict:
    """Synchronized batch norm with momentum=None: one process's cumulative running stats."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(64, 4)) * 3 + 1
    y = (X[:, 0] > 1).astype(np.int64)
    nn.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 8, dtype=np.float64),
                          nn.BatchNorm1d(8, momentum=None, dtype=np.float64), nn.ReLU(),
                          nn.Linear(8, 2, dtype=np.float64))
    if nn.distributed.context() is not None:
        model = nn.distributed.convert_sync_batchnorm(model)
    nn.Trainer(model, optimizer=nn.SGD(model.parameters(), lr=0.1), progress=False).fit(
        nn.DataLoader(X, y, batch_size=16, seed=0, dtype=np.float64), epochs=2)
    sd = model.state_dict()
    return {"params": _params(model), "tracked": int(sd["1.num_batches_tracked"])}


def case_example() -> dict:
    """examples/train_distributed.py's epoch on 65 rows in batches of 32: a rank's share of the
    last batch is empty on 3 ranks; the loss stays finite and one process's."""
    sys.path.insert(0, str(ROOT / "examples"))
    from train_distributed import train_epoch

    nn.distributed.init()  # the example's loop needs it (one process: rank 0 of 1); run last
    X, y = _data(65, 4)
    nn.manual_seed(0)
    model = nn.MLP([4, 8, 3], dtype=np.float64)
    nn.distributed.broadcast_parameters(model)
    opt = nn.SGD(model.parameters(), lr=0.05, momentum=0.9)
    sampler = nn.DistributedSampler()
    loader = nn.DataLoader(X, y, batch_size=32, seed=0, sampler=sampler, dtype=np.float64)
    losses = [train_epoch(model, opt, loader, sampler) for _ in range(2)]
    return {"loss": losses, "params": _params(model)}


def case_bn1row() -> dict:
    """Plain batch norm, 100 rows in batches of 16 on 3 ranks: the last batch (4 rows) gives a
    rank one row; the error comes when fit starts, naming the cure."""
    X, y = _data(100, 4)
    nn.manual_seed(0)
    model = nn.MLP([4, 8, 3], dtype=np.float64, batch_norm=True)
    trainer = nn.Trainer(model, progress=False)
    try:
        trainer.fit(nn.DataLoader(X, y, batch_size=16, dtype=np.float64), epochs=1)
    except Exception as exc:  # noqa: BLE001 (reported to the test)
        return {"error": f"{type(exc).__name__}: {exc}", "epochs": trainer.history.epochs}
    return {"error": None}


CASES = {k[5:]: v for k, v in globals().items() if k.startswith("case_")}


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("out")
    p.add_argument("cases", nargs="+", choices=sorted(CASES))
    p.add_argument("--single", action="store_true")
    args = p.parse_args()
    if not args.single:
        nn.distributed.init(timeout=float(os.environ.get("HUNT_TIMEOUT", "20")))
    results: dict[str, dict] = {}
    for case in args.cases:
        try:
            results[case] = CASES[case]()
        except Exception as exc:  # noqa: BLE001 (every rank raises alike: the next case runs)
            results[case] = {"crash": f"{type(exc).__name__}: {exc}"}
    if nn.distributed.rank == 0:
        Path(args.out).write_text(json.dumps(results))
    return 0


# ----- the tests


def ranks(n: int, *args: str, timeout: float = 120, env: dict | None = None
          ) -> subprocess.CompletedProcess[str]:
    assert MPIEXEC is not None
    return subprocess.run([MPIEXEC, "-n", str(n), sys.executable, *args], env=env or ENV,
                          capture_output=True, text=True, timeout=timeout, check=False)


def run_cases(n: int, out: Path, *cases: str, timeout: float = 120) -> dict:
    if n == 1:
        done = subprocess.run([sys.executable, str(ME), str(out), *cases, "--single"], env=ENV,
                              capture_output=True, text=True, timeout=timeout, check=False)
    else:
        done = ranks(n, str(ME), str(out), *cases, timeout=timeout)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(out.read_text())


EQUAL = ("transform", "valslice", "valsame", "sumloss", "syncbn_none", "example")


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> dict[int, dict]:
    if MPIEXEC is None:
        pytest.skip("needs mpi4py and mpiexec (diffkit[mpi])")
    folder = tmp_path_factory.mktemp("hunt13")
    return {n: run_cases(n, folder / f"{n}.json", *EQUAL) for n in (1, 2, 3)}


def _same(a: list[float], b: list[float]) -> None:
    np.testing.assert_allclose(np.asarray(b), np.asarray(a), rtol=EXACT, atol=EXACT)


def _loaders(transform: object, ranks_: int | None) -> list[nn.DataLoader]:
    X = np.arange(50, dtype=np.float64).reshape(25, 2)
    y = np.arange(25)
    if ranks_ is None:
        return [nn.DataLoader(X, y, batch_size=7, seed=3, dtype=np.float64, transform=transform)]
    return [nn.DataLoader(X, y, batch_size=7, seed=3, dtype=np.float64, transform=transform,
                          sampler=nn.DistributedSampler(rank=r, world_size=ranks_))
            for r in range(ranks_)]


@pytest.mark.parametrize("p", [2, 3, 4])
def test_transform_shards_are_one_process_augmented_batches(p: int) -> None:
    """Without MPI: the ranks' augmented shards, put together, are one process's batches in
    every epoch (the same rows, the same noise), and the generators stay identical."""
    (one,) = _loaders(nn.AddGaussianNoise(0.5), None)
    many = _loaders(nn.AddGaussianNoise(0.5), p)
    for _ in range(3):
        for (xb, yb), *shards in zip(one, *many):
            np.testing.assert_array_equal(np.concatenate([s[1] for s in shards]), yb)
            np.testing.assert_array_equal(np.concatenate([s[0] for s in shards]), xb)
        states = {repr(ld.rng.bit_generator.state) for ld in many}
        assert states == {repr(one.rng.bit_generator.state)}


def test_probe_tells_mean_from_sum() -> None:
    from diffkit.nn.parallel import LossReductionError, known_reduction, probe_reduction

    X, y = _data(40, 3)
    nn.manual_seed(0)
    model = nn.MLP([3, 5, 3], dtype=np.float64)

    def mean_plus(o, t):  # type: ignore[no-untyped-def]
        return nn.cross_entropy(o, t) + 0.25  # a constant regularizer: still a mean

    def total(o, t):  # type: ignore[no-untyped-def]
        return nn.cross_entropy(o, t, reduction="sum")

    assert probe_reduction(mean_plus, model, X, y) == "mean"
    assert probe_reduction(total, model, X, y) == "sum"
    assert known_reduction(total) == "sum"  # kept
    X32 = X.astype(np.float32)
    model32 = nn.MLP([3, 5, 3])
    assert probe_reduction(lambda o, t: nn.cross_entropy(o, t, reduction="sum"), model32,
                           X32, y) == "sum"
    with pytest.raises(LossReductionError, match="neither a mean nor a sum"):
        probe_reduction(lambda o, t: total(o, t) + 1.0, model, X, y)
    with pytest.raises(LossReductionError, match="declare it"):
        probe_reduction(lambda o, t: 0.0 * nn.cross_entropy(o, t), model, X, y)


@needs_mpi
@pytest.mark.parametrize("n", [2, 3])
@pytest.mark.parametrize("case", ["transform", "valslice", "valsame", "syncbn_none", "example"])
def test_ranks_equal_one_process(results: dict, case: str, n: int) -> None:
    one, many = results[1][case], results[n][case]
    assert "crash" not in one and "crash" not in many, (one, many)
    _same(one["params"], many["params"])
    for k in ("loss", "val_loss", "val_accuracy", "lr"):
        if k in one:
            _same(one[k], many[k])
    if "agree" in many:
        assert many["agree"], "the ranks ended with different parameters"
    if case == "syncbn_none":
        assert many["tracked"] == one["tracked"] == 8
    if case == "example":
        assert np.isfinite(many["loss"]).all()


@needs_mpi
@pytest.mark.parametrize("n", [2, 3])
def test_summed_loss_of_your_own_steps_as_one_process(results: dict, n: int) -> None:
    one, many = results[1]["sumloss"], results[n]["sumloss"]
    assert "crash" not in one and "crash" not in many, (one, many)
    _same(one["lambda"], many["lambda"])
    _same(one["declared"], many["declared"])
    _same(one["swapped"], many["swapped"])


@needs_mpi
def test_batchnorm_buffers_and_validation_decisions_agree(tmp_path: Path) -> None:
    got = run_cases(2, tmp_path / "bn.json", "bnval")["bnval"]
    assert got["lrs_agree"], "the ranks' schedulers decided differently"
    assert got["agree"], "the ranks ended with different parameters or buffers"


@needs_mpi
def test_fit_leaves_the_users_loader_as_it_was(tmp_path: Path) -> None:
    got = run_cases(2, tmp_path / "l.json", "loader")
    assert got["loader"] == {"sampler": "None", "rows": 20}


@needs_mpi
def test_a_loss_neither_mean_nor_sum_is_refused_at_the_start(tmp_path: Path) -> None:
    got = run_cases(2, tmp_path / "n.json", "neither")
    assert got["neither"]["error"] is not None
    assert got["neither"]["error"].startswith("LossReductionError") and "declare it" in \
        got["neither"]["error"]
    assert got["neither"]["epochs"] == 0


@needs_mpi
def test_one_row_batchnorm_shard_is_refused_at_the_start(tmp_path: Path) -> None:
    got = run_cases(3, tmp_path / "b.json", "bn1row")["bn1row"]
    assert got["error"] is not None and got["error"].startswith("DistributedError")
    assert "convert_sync_batchnorm" in got["error"] and got["epochs"] == 0


@needs_mpi
def test_a_rank_failing_before_init_ends_the_job(tmp_path: Path) -> None:
    script = tmp_path / "before.py"
    script.write_text(
        "import os\nfrom diffkit import nn\n"
        "if os.environ.get('PMI_RANK') == '1':\n    raise SystemExit('no data on rank 1')\n"
        "nn.distributed.init(timeout=4)\nprint('started')\n")
    t0 = time.monotonic()
    try:
        done = ranks(2, str(script), timeout=60)
    except subprocess.TimeoutExpired:
        pytest.fail("rank 0 waited forever in MPI_Init")
    assert time.monotonic() - t0 < 40
    assert done.returncode != 0 and "started" not in done.stdout


if __name__ == "__main__":
    sys.exit(main())


def test_a_custom_sampler_with_a_transform_keeps_rows_by_index() -> None:
    """A sampler of one's own selects by the dataset's indices, with a transform too (it was
    handed the batch's positions 0…n−1: the rows kept were the wrong ones, silently)."""
    class Evens:
        def shard(self, idx: np.ndarray) -> np.ndarray:
            return idx[idx % 2 == 0]

    X = np.arange(20, dtype=float).reshape(10, 2)
    y = np.arange(10)
    loader = nn.DataLoader(X, y, batch_size=4, shuffle=True, seed=1, sampler=Evens(),
                           transform=lambda xb, rng: xb * 1.0)
    seen = []
    for xb, yb in loader:
        assert np.all(yb % 2 == 0)
        np.testing.assert_array_equal(xb[:, 0], 2.0 * yb)  # each row with its own label
        seen.extend(yb.tolist())
    assert sorted(seen) == [0, 2, 4, 6, 8]
