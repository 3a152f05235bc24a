"""Data-parallel training over MPI: 2 and 4 ranks give one process's loss history (SGD with
momentum and Adam, MLP and CNN, synchronized batch norm), ranks that disagree fail at the start
with a named error, a rank that fails, hangs or dies stops the job within the timeout, and a run
killed mid-epoch resumes from rank 0's checkpoint on another number of ranks.

The ranks are real processes started by the pip-installed ``mpiexec`` (the MPICH wheel of
``diffkit[mpi]``); everything that needs it is skipped where mpi4py is missing.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from mpi_support import ENV, MPIEXEC, needs_mpi

from diffkit import nn
from diffkit.nn.parallel import shard_bounds

ROOT = Path(__file__).resolve().parent.parent
WORKER = Path(__file__).resolve().parent / "distributed_worker.py"
EQUAL = ("mlp-sgd", "mlp-adam", "cnn-sgd", "cnn-adam", "mlp-syncbn")
RTOL = 1e-5


def ranks(n: int, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    assert MPIEXEC is not None
    return subprocess.run([MPIEXEC, "-n", str(n), sys.executable, *args], env=ENV,
                          capture_output=True, text=True, timeout=timeout, check=False)


def worker(n: int, out: Path, *cases: str, timeout: float = 120,
           extra: tuple[str, ...] = ()) -> subprocess.CompletedProcess[str]:
    if n == 1:
        return subprocess.run([sys.executable, str(WORKER), str(out), *cases, "--single", *extra],
                              env=ENV, capture_output=True, text=True, timeout=timeout,
                              check=False)
    return ranks(n, str(WORKER), str(out), *cases, *extra, timeout=timeout)


def diffkit(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "diffkit", *args], env=ENV, capture_output=True,
                          text=True, timeout=timeout, check=False, cwd=ROOT)


def same_history(a: list[float], b: list[float]) -> None:
    assert len(a) == len(b)
    np.testing.assert_allclose(b, a, rtol=RTOL, atol=0)


# ----- without MPI


def test_importing_diffkit_does_not_import_mpi4py() -> None:
    code = ("import sys, diffkit, diffkit.nn as nn; nn.Trainer; "
            "print('mpi4py' in sys.modules, nn.distributed.rank, nn.distributed.world_size)")
    env = {k: v for k, v in ENV.items() if k not in ("PMI_RANK", "PMI_SIZE")}
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                          check=True, timeout=60)
    assert done.stdout.split() == ["False", "0", "1"]


def test_shards_partition_every_global_batch() -> None:
    for n in (0, 1, 5, 29, 32):
        for p in (1, 2, 3, 4):
            parts = [range(*shard_bounds(n, r, p)) for r in range(p)]
            assert [i for part in parts for i in part] == list(range(n))
            assert max(map(len, parts)) - min(map(len, parts)) <= 1
    X, y = np.zeros((10, 1)), np.arange(10)
    got = [[yb.tolist() for _, yb in nn.DataLoader(X, y, 4, seed=3, sampler=nn.DistributedSampler(
        rank=r, world_size=3))] for r in range(3)]
    whole = [yb.tolist() for _, yb in nn.DataLoader(X, y, 4, seed=3)]
    assert [[v for g in got for v in g[i]] for i in range(3)] == whole


def test_sampler_and_init_errors_are_named() -> None:
    with pytest.raises(nn.DistributedError, match="rank 2 is not in 0..1"):
        nn.DistributedSampler(rank=2, world_size=2)
    with pytest.raises(nn.DistributedError, match="unknown backend"):
        nn.distributed.init(backend="gloo")
    with pytest.raises(nn.DistributedError, match=r"init\(\) first"):
        nn.distributed.all_reduce_gradients(nn.Linear(2, 1))


# ----- equal to one process


@pytest.fixture(scope="module")
def histories(tmp_path_factory: pytest.TempPathFactory) -> dict[int, dict[str, dict]]:
    if MPIEXEC is None:
        pytest.skip("needs mpi4py and mpiexec (diffkit[mpi])")
    folder = tmp_path_factory.mktemp("histories")
    out = {}
    for n in (1, 2, 4):
        done = worker(n, folder / f"{n}.json", *EQUAL)
        assert done.returncode == 0, done.stderr[-3000:]
        out[n] = json.loads((folder / f"{n}.json").read_text())
    return out


@needs_mpi
@pytest.mark.parametrize("n", [2, 4])
@pytest.mark.parametrize("case", EQUAL)
def test_ranks_give_one_process_history(histories: dict, case: str, n: int) -> None:
    one, many = histories[1][case], histories[n][case]
    same_history(one["loss"], many["loss"])
    same_history(one["accuracy"], many["accuracy"])
    assert many["test_accuracy"] == one["test_accuracy"]
    assert many["agree"], "the ranks ended with different parameters"
    assert one["loss"][-1] < one["loss"][0]  # it trains


@needs_mpi
def test_cli_workers_equal_one_process() -> None:
    args = ("train", "digits", "--epochs", "3", "--optimizer", "momentum", "--json")
    one = json.loads(diffkit(*args).stdout)
    done = diffkit(*args, "--workers", "2")
    assert done.returncode == 0, done.stderr
    two = json.loads(done.stdout)
    assert two["workers"] == 2 and two["batch_size"] == one["batch_size"] == 32
    same_history(one["history"]["loss"], two["history"]["loss"])
    same_history(one["history"]["val_loss"], two["history"]["val_loss"])
    assert two["test_accuracy"] == one["test_accuracy"]


# ----- faults


@needs_mpi
def test_ranks_that_differ_fail_at_the_start(tmp_path: Path) -> None:
    t0 = time.monotonic()
    done = worker(2, tmp_path / "m.json", "mismatch", timeout=60)
    assert done.returncode != 0
    assert "RankMismatchError: rank 1 differs from rank 0 in the model: 0.weight is shape " \
           "(32, 64) float32 on rank 0 and shape (33, 64) float32 there" in done.stderr
    assert time.monotonic() - t0 < 30


@needs_mpi
def test_a_failing_rank_stops_the_others_at_once(tmp_path: Path) -> None:
    t0 = time.monotonic()
    done = worker(2, tmp_path / "f.json", "fail", extra=("--timeout", "30"), timeout=60)
    assert done.returncode != 0
    assert "DistributedError: rank 0 stops: rank 1 failed during the start-up check " \
           "(ValueError: this rank's data is broken (a test))" in done.stderr
    assert time.monotonic() - t0 < 25  # not the 30 s timeout


@needs_mpi
def test_a_hanging_rank_times_out_the_others(tmp_path: Path) -> None:
    t0 = time.monotonic()
    done = worker(2, tmp_path / "h.json", "hang", extra=("--timeout", "3"), timeout=60)
    assert done.returncode != 0
    assert "DistributedTimeoutError: rank 0: the all-reduce of the gradients did not complete " \
           "within 3 s" in done.stderr
    assert time.monotonic() - t0 < 20  # start-up, 3 s, and the job is ended (the hung rank too)


def _rank_pid(rank: int, marker: str) -> int | None:
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            env, cmd = (d / "environ").read_bytes().split(b"\0"), (d / "cmdline").read_bytes()
        except OSError:
            continue
        if f"PMI_RANK={rank}".encode() in env and marker.encode() in cmd:
            return int(d.name)
    return None


@needs_mpi
@pytest.mark.skipif(not Path("/proc/self/environ").exists(), reason="finds ranks through /proc")
def test_killed_rank_stops_the_job_and_the_run_resumes_on_one_process(tmp_path: Path) -> None:
    """Kill rank 1 mid-run: one named error line within the timeout; then the checkpoint rank 0
    wrote resumes on 1 process and ends with the uninterrupted run's history."""
    ckpt = tmp_path / "run.ckpt"
    args = ["train", "digits", "--model", "cnn", "--epochs", "4", "--json", "--checkpoint",
            str(ckpt), "--timeout", "10"]
    job = subprocess.Popen([sys.executable, "-m", "diffkit", *args, "--workers", "2"], env=ENV,
                           cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while not ckpt.exists() and time.monotonic() < deadline and job.poll() is None:
            time.sleep(0.02)
        pid = _rank_pid(1, str(ckpt))
        assert pid is not None and ckpt.exists(), job.stderr.read() if job.stderr else ""
        os.kill(pid, signal.SIGKILL)
        killed = time.monotonic()
        out, err = job.communicate(timeout=30)
    finally:
        job.kill()
    assert time.monotonic() - killed < 10
    assert job.returncode == 1 and out == ""
    assert err.splitlines() == [("diffkit train: error: rank 1 of 2 ended abnormally (Killed "
                                 "(signal 9)); MPI stopped the other ranks")]
    assert [p.name for p in tmp_path.iterdir()] == ["run.ckpt"]  # no temporary files left
    resumed = diffkit(*args, "--resume")
    assert resumed.returncode == 0, resumed.stderr
    whole = diffkit(*args[:-4])
    a, b = json.loads(whole.stdout), json.loads(resumed.stdout)
    same_history(a["history"]["loss"], b["history"]["loss"])
    assert a["test_accuracy"] == b["test_accuracy"]


@needs_mpi
def test_cli_errors_are_one_line(tmp_path: Path) -> None:
    done = diffkit("train", "digits", "--resume")
    assert done.returncode == 1 and done.stderr == "diffkit train: error: --resume needs " \
                                                   "--checkpoint PATH\n"
    done = ranks(2, "-m", "diffkit", "train", "digits", "--workers", "3", "--epochs", "1")
    assert done.returncode != 0 and "Traceback" not in done.stderr
    assert "diffkit train: error: --workers 3, but the launcher started 2 processes" in done.stderr


# ----- GPUs


@pytest.mark.gpu
@needs_mpi
def test_nccl_ranks_give_one_process_history(tmp_path: Path) -> None:
    from diffkit.backend import gpu_available

    if not gpu_available():
        pytest.skip("needs CuPy and a GPU")
    import cupy

    if cupy.cuda.runtime.getDeviceCount() < 2:
        pytest.skip("NCCL needs a GPU per rank: 2 GPUs")
    args = ("train", "digits", "--epochs", "2", "--device", "cuda", "--json")
    one = json.loads(diffkit(*args).stdout)
    two = json.loads(diffkit(*args, "--workers", "2").stdout)
    same_history(one["history"]["loss"], two["history"]["loss"])
