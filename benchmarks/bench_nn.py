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


def diffkit_mlp(sizes, X, y, batch, lr=0.01, device="cpu"):
    nn.manual_seed(0)
    model = nn.MLP(sizes).to(device)
    trainer = nn.Trainer(model, optimizer=nn.SGD(model.parameters(), lr=lr), progress=False,
                         track_grad_norms=False)

    def step(xb, yb):
        trainer._device_step(xb, yb)  # what fit() runs: no wait for the device between steps

    return step


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
    args = ap.parse_args()
    xp = device_module(args.device)
    sync = (lambda: xp.cuda.Device().synchronize()) if args.device == "cuda" else (lambda: None)
    rng = np.random.default_rng(0)
    cases = [("MLP 64-128-64-10, batch 32, digits-size epoch", [64, 128, 64, 10], 1437, 32),
             ("MLP 1024-1024-1024-10, batch 512", [1024, 1024, 1024, 10], 512 * 8, 512)]
    if args.device == "cuda":  # the GPU goal: within 1.3x of PyTorch CUDA on a 4096-wide MLP
        cases.append(("MLP 4096-4096-4096-10, batch 512", [4096, 4096, 4096, 10], 512 * 8, 512))
    print(f"{'case':<48} {'impl':<16} {'ms/epoch':>10} {'ms/step':>9} {'ratio':>7}")
    for title, sizes, n, batch in cases:
        X = rng.normal(size=(n, sizes[0])).astype(np.float32)
        y = rng.integers(0, sizes[-1], n)
        base_ms, base_step = time_epochs(numpy_mlp(sizes, X, y, batch), X, y, batch, args.epochs)
        rows = [("numpy (hand)", base_ms, base_step)]
        to = (lambda a: xp.asarray(a)) if args.device == "cuda" else (lambda a: a)
        ms, st = time_epochs(diffkit_mlp(sizes, X, y, batch, device=args.device), X, y, batch,
                             args.epochs, to, sync)
        rows.append((f"diffkit ({args.device})", ms, st))
        try:
            import torch

            tX, ty = torch.from_numpy(X), torch.from_numpy(y)
            ms, st = time_epochs(torch_mlp(sizes, X, y, batch), tX, ty, batch, args.epochs)
            rows.append(("pytorch (cpu)", ms, st))
            if args.device == "cuda" and torch.cuda.is_available():
                ms, st = time_epochs(torch_mlp(sizes, X, y, batch, device="cuda"), tX.cuda(),
                                     ty.cuda(), batch, args.epochs, sync=torch.cuda.synchronize)
                rows.append(("pytorch (cuda)", ms, st))
        except ImportError:
            pass
        for name, ms, st in rows:
            print(f"{title:<48} {name:<16} {ms:10.2f} {st:9.3f} {ms / base_ms:7.2f}")


if __name__ == "__main__":
    main()
