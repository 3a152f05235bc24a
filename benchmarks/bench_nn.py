"""Benchmark diffkit.nn training steps against hand-written NumPy forward/backward (and PyTorch
on the CPU when installed). A script that prints a table, not a test: ``python benchmarks/bench_nn.py``.

Both sides do the same work per step: forward, softmax cross-entropy, backward, plain SGD update,
in float32. Set ``--device cuda`` to time diffkit on a GPU (CuPy).
"""

from __future__ import annotations

import argparse
import itertools
import time

import numpy as np

from diffkit import nn
from diffkit.backend import device_module


def numpy_mlp(sizes, X=None, y=None, batch=None, lr=0.01, seed=0, track=None):
    """Hand-written float32 ReLU MLP step: forward, softmax cross-entropy, backward, SGD (also
    bench_speed.py's hand-written row). `track`: a list that each step appends its
    (mean loss, number of correct rows) to, as Trainer.fit keeps them."""
    rng = np.random.default_rng(seed)
    # divided before the cast: a float32 array / np.float64 scalar would be float64 (NumPy 2)
    Ws = [(rng.uniform(-1, 1, (b, a)) / np.sqrt(a)).astype(np.float32)
          for a, b in itertools.pairwise(sizes)]
    bs = [np.zeros(b, np.float32) for b in sizes[1:]]
    eye = np.eye(sizes[-1], dtype=np.float32)

    def step(xb, yb):
        acts, pre = [xb], []
        for i, (W, b) in enumerate(zip(Ws, bs)):
            z = acts[-1] @ W.T + b
            pre.append(z)
            acts.append(np.maximum(z, 0) if i < len(Ws) - 1 else z)
        z = acts[-1]
        e = np.exp(z - z.max(1, keepdims=True))
        s = e.sum(1, keepdims=True)
        if track is not None:  # −log softmax at the label, averaged; hits of the arg-max
            rows = np.arange(len(yb))
            track.append((np.mean(np.log(s[:, 0]) - np.log(e[rows, yb])),
                          np.count_nonzero(z.argmax(1) == yb)))
        d = (e / s - eye[yb]) / len(yb)
        for i in reversed(range(len(Ws))):
            gW, gb = d.T @ acts[i], d.sum(0)
            if i:
                d = (d @ Ws[i]) * (pre[i - 1] > 0)
            Ws[i] -= lr * gW
            bs[i] -= lr * gb

    return step


def diffkit_mlp(sizes, X, y, batch, lr=0.01, device="cpu", compile=None):
    """A Trainer of diffkit's MLP (what the other rows compute) and a step function for it."""
    nn.manual_seed(0)
    model = nn.MLP(sizes).to(device)
    trainer = nn.Trainer(model, optimizer=nn.SGD(model.parameters(), lr=lr), progress=False,
                         track_grad_norms=False, compile=compile)

    def step(xb, yb):
        trainer._device_step(xb, yb)  # one step as fit() runs it (used by bench_speed.py)

    step.trainer = trainer
    return step


def diffkit_fit(sizes, X, y, batch, epochs, device="cpu", compile=None, sync=lambda: None):
    """(ms per epoch, ms per step, path) of ``Trainer.fit`` — what a user calls — over a
    DataLoader holding the data on `device`, one epoch at a time after a first (warm-up) one
    in which the first steps run eagerly and the step is compiled. fit also shuffles and
    counts each batch's correct rows, which the other rows do not do."""
    trainer = diffkit_mlp(sizes, X, y, batch, device=device, compile=compile).trainer
    loader = nn.DataLoader(X, y, batch, seed=0, drop_last=True, device=device)
    trainer.fit(loader, epochs=1)
    best = float("inf")
    for _ in range(epochs):
        sync()
        t = time.perf_counter()
        trainer.fit(loader, epochs=trainer.epoch + 1)
        sync()
        best = min(best, time.perf_counter() - t)
    return best * 1000, best * 1000 / len(loader), _path(trainer)


def _path(trainer):
    """Which path diffkit's steps took, and whether their element-wise runs were fused."""
    codes = [] if trainer._step is None else [c for c in trainer._step.codes.values()
                                               if type(c) is not str]
    fused = any(getattr(c[0], "fused", False) for c in codes)
    return trainer.compiled + (", fused" if fused else "")


def torch_mlp(sizes, X, y, batch, lr=0.01, device="cpu"):
    import torch

    torch.manual_seed(0)
    torch.set_num_threads(max(1, torch.get_num_threads()))
    layers = []
    for i, (a, b) in enumerate(itertools.pairwise(sizes)):
        layers.append(torch.nn.Linear(a, b))
        if i < len(sizes) - 2:
            layers.append(torch.nn.ReLU())
    model = torch.nn.Sequential(*layers).to(device)
    opt = torch.optim.SGD(model.parameters(), lr=lr)

    def step(xb, yb):
        opt.zero_grad()
        torch.nn.functional.cross_entropy(model(xb), yb).backward()
        opt.step()

    return step


def time_epochs(step, X, y, batch, epochs, to=lambda a: a, sync=lambda: None):
    n = len(X)
    batches = [(to(X[i:i + batch]), to(y[i:i + batch])) for i in range(0, n - batch + 1, batch)]
    for xb, yb in batches[:3]:
        step(xb, yb)
    sync()
    best = float("inf")
    for _ in range(epochs):
        t = time.perf_counter()
        for xb, yb in batches:
            step(xb, yb)
        sync()
        best = min(best, time.perf_counter() - t)
    return best * 1000, best * 1000 / len(batches)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--epochs", type=int, default=5)
    ap.add_argument("--skip-cpu", action="store_true",
                    help="with --device cuda: time the GPU rows only (the CPU rows of the "
                         "4096-wide case take minutes)")
    args = ap.parse_args()
    xp = device_module(args.device)  # (a clear error where CuPy or a GPU is missing)
    sync = (lambda: xp.cuda.Device().synchronize()) if args.device == "cuda" else (lambda: None)
    rng = np.random.default_rng(0)
    cases = [("MLP 64-128-64-10, batch 32, digits-size epoch", [64, 128, 64, 10], 1437, 32),
             ("MLP 1024-1024-1024-10, batch 512", [1024, 1024, 1024, 10], 512 * 8, 512)]
    if args.device == "cuda":  # the GPU goal: within 1.3x of PyTorch CUDA on a 4096-wide MLP
        cases.append(("MLP 4096-4096-4096-10, batch 512", [4096, 4096, 4096, 10], 512 * 8, 512))
    gpu = args.device == "cuda"
    cpu_rows = not (gpu and args.skip_cpu)
    base_name = "pytorch (cuda)" if gpu else "numpy (hand)"
    print(f"{'case':<48} {'impl':<26} {'ms/epoch':>10} {'ms/step':>9} {'ratio':>7}"
          f"   (ratio: against {base_name})")
    for title, sizes, n, batch in cases:
        X = rng.normal(size=(n, sizes[0])).astype(np.float32)
        y = rng.integers(0, sizes[-1], n)
        rows = []
        if cpu_rows:
            ms, st = time_epochs(numpy_mlp(sizes, X, y, batch), X, y, batch, args.epochs)
            rows.append(("numpy (hand)", ms, st))
        for compile in ((None, False) if gpu else (None,)):
            ms, st, path = diffkit_fit(sizes, X, y, batch, args.epochs, args.device, compile,
                                       sync)
            rows.append((f"diffkit fit ({args.device}: {path})", ms, st))
        try:
            import torch

            tX, ty = torch.from_numpy(X), torch.from_numpy(y)
            if cpu_rows:
                ms, st = time_epochs(torch_mlp(sizes, X, y, batch), tX, ty, batch, args.epochs)
                rows.append(("pytorch (cpu)", ms, st))
            if gpu and torch.cuda.is_available():
                ms, st = time_epochs(torch_mlp(sizes, X, y, batch, device="cuda"), tX.cuda(),
                                     ty.cuda(), batch, args.epochs, sync=torch.cuda.synchronize)
                rows.append(("pytorch (cuda)", ms, st))
        except ImportError:
            pass
        base = {name: ms for name, ms, _ in rows}.get(base_name, rows[0][1])
        for name, ms, st in rows:
            print(f"{title:<48} {name:<26} {ms:10.2f} {st:9.3f} {ms / base:7.2f}")


if __name__ == "__main__":
    main()
