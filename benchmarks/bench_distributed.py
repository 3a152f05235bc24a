"""Data-parallel training: ms/step and scaling efficiency for 1 and 2 ranks, the all-reduce's
cost against message size (the α–β model's two numbers on this machine), and the predicted
scaling to 8–256 ranks. A script that prints tables, not a test:

    python benchmarks/bench_distributed.py [--steps 8] [--epochs 3] [--ranks 1 2]

It starts itself under the pip-installed ``mpiexec`` (diffkit[mpi]) once per configuration. The
model is the 1024-wide MLP (1024-1024-1024-10, 2.1 M parameters) at a global batch of 512 rows,
trained by Trainer with SGD; a step is forward, backward, the float64 gradient all-reduce and
the update. Efficiency at p ranks is T₁ / (p·T_p) at the same global batch (strong scaling).
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

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from diffkit import nn
from diffkit.cli.launch import find_mpiexec

SIZES = [64, 128, 64, 10], [1024, 1024, 1024, 10]
#: a cluster's network for the predictions: 100 Gb/s (InfiniBand HDR100 / RoCE), α = 5 µs
CLUSTER_ALPHA, CLUSTER_BETA = 5e-6, 1 / 12.5e9


def time_training(args: argparse.Namespace) -> dict[str, float]:
    """In each rank: ms per step of Trainer.fit on the 1024-wide MLP (best epoch after the
    first), and the all-reduce's seconds for a few message sizes."""
    ctx = nn.distributed.init(timeout=120)
    rng = np.random.default_rng(0)
    n = args.batch * args.steps
    X = rng.standard_normal((n, 1024)).astype(np.float32)
    y = rng.integers(0, 10, n)
    nn.manual_seed(0)
    model = nn.MLP(SIZES[1])
    trainer = nn.Trainer(model, optimizer=nn.SGD(model.parameters(), lr=0.01), progress=False,
                         track_grad_norms=False)
    history = trainer.fit(nn.DataLoader(X, y, args.batch, seed=0), epochs=args.epochs)
    step_ms = min(history["time"][1:]) / args.steps * 1000
    comm = {}
    for size in (1, 2**10, 2**14, 2**18, 2**21):  # float64 elements: 8 B … 16 MiB
        buf = np.ones(size)
        ctx.all_reduce([buf])
        t0 = time.perf_counter()
        reps = 20 if size < 2**18 else 5
        for _ in range(reps):
            ctx.all_reduce([buf])
        comm[str(size * 8)] = (time.perf_counter() - t0) / reps
    return {"step_ms": step_ms, "ranks": ctx.world_size, "comm": comm}


def launch(ranks: int, threads: int, args: argparse.Namespace) -> dict[str, float]:
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "OPENBLAS_NUM_THREADS": str(threads),
           "MKL_NUM_THREADS": str(threads)}
    cmd = [find_mpiexec(), "-n", str(ranks), sys.executable, __file__, "--rank-mode",
           "--steps", str(args.steps), "--epochs", str(args.epochs), "--batch", str(args.batch)]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def ring_time(p: int, nbytes: float, alpha: float, beta: float) -> float:
    """Ring all-reduce: 2(p−1) messages of nbytes/p each: 2(p−1)α + 2(p−1)/p·n·β."""
    return 0.0 if p == 1 else 2 * (p - 1) * alpha + 2 * (p - 1) / p * nbytes * beta


def compute_ms(sizes: list[int], batch: int, images: bool = False) -> tuple[float, int]:
    """One process's ms per training step (1 thread's worth of this machine)."""
    nn.manual_seed(0)
    rng = np.random.default_rng(0)
    if images:
        model: nn.Module = nn.Net(image_size=8, padding=1, channels=(16, 32), hidden=(64,))
        X = rng.random((batch * 8, 1, 8, 8)).astype(np.float32)
    else:
        model = nn.MLP(sizes)
        X = rng.standard_normal((batch * 8, sizes[0])).astype(np.float32)
    y = rng.integers(0, 10, len(X))
    trainer = nn.Trainer(model, optimizer=nn.SGD(model.parameters(), lr=0.01), progress=False,
                         track_grad_norms=False)
    h = trainer.fit(nn.DataLoader(X, y, batch, seed=0), epochs=3)
    return min(h["time"][1:]) / 8 * 1000, sum(p.size for p in model.parameters())


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=8, help="steps per epoch (default 8)")
    p.add_argument("--epochs", type=int, default=3, help="epochs; the first is not timed")
    p.add_argument("--batch", type=int, default=512, help="global batch (default 512)")
    p.add_argument("--rank-mode", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.rank_mode:
        out = time_training(args)
        if nn.distributed.rank == 0:
            print(json.dumps(out))
        return 0
    cores = os.cpu_count() or 1
    runs = [(1, 1), (2, 1)] + ([(1, cores)] if cores > 1 else [])
    results = {run: launch(*run, args) for run in runs}
    base = results[(1, 1)]["step_ms"]
    print(f"1024-wide MLP (2.1 M parameters), global batch {args.batch}, SGD, float64 "
          f"all-reduce; {cores} cores")
    print(f"{'ranks':>5} {'threads/rank':>12} {'ms/step':>9} {'speed-up':>9} {'efficiency':>11}")
    for (ranks, threads), r in results.items():
        speed = base / r["step_ms"]
        print(f"{ranks:>5} {threads:>12} {r['step_ms']:>9.1f} {speed:>9.2f} "
              f"{speed / ranks:>10.0%}")
    comm = results[(2, 1)]["comm"]
    sizes = np.array([float(k) for k in comm])
    secs = np.array(list(comm.values()))
    beta, alpha = np.polyfit(sizes, secs, 1)  # t ≈ α' + β'·n for p = 2 (2(p−1)/p = 1)
    alpha = max(alpha / 2, 0.0)  # 2(p−1) = 2 messages
    print("\nall-reduce of float64 buffers, 2 ranks (shared memory):")
    print(f"{'bytes':>10} {'µs':>10}")
    for n, s in comm.items():
        print(f"{int(n):>10} {s * 1e6:>10.1f}")
    print(f"fit: α = {alpha * 1e6:.1f} µs, β = {beta * 1e9:.3f} ns/byte "
          f"({1 / beta / 1e9:.1f} GB/s)")
    print(f"\npredicted efficiency T_c / (T_c + T_ring(p)) with each rank keeping the batch "
          f"below (the global batch grows p-fold), no overlap, 100 Gb/s network, α = "
          f"{CLUSTER_ALPHA * 1e6:g} µs, this machine's 1-thread compute T_c:")
    models = [("digits MLP", *compute_ms(SIZES[0], 32), 32),
              ("1024-wide MLP", base, 2_110_474, args.batch),
              ("CNN (digits)", *compute_ms([], 32, images=True), 32)]
    ps = (1, 8, 16, 32, 64, 128, 256)
    print(f"{'model':>14} {'params':>9} {'rows':>6} {'T_c ms':>7} "
          + " ".join(f"{p:>6}" for p in ps))
    for name, tc, params, batch in models:
        row = []
        for p in ps:
            t = tc / 1000 + ring_time(p, params * 8, CLUSTER_ALPHA, CLUSTER_BETA)
            row.append(f"{tc / 1000 / t:>6.0%}")
        print(f"{name:>14} {params:>9} {batch:>6} {tc:>7.2f} " + " ".join(row))
    return 0


if __name__ == "__main__":
    sys.exit(main())
