"""GPU benchmark: diffkit's generated code on CuPy against hand-written CuPy, PyTorch CUDA and
JAX on the same GPU, side by side in one run. A script that prints tables, not a test:
``python benchmarks/bench_gpu.py`` (needs CuPy and a GPU; it says so and stops otherwise).

1. A vector gradient, f(x) = Σ(log x + x·roll(x, 1) − sin x + tanh²x), n = 10^6, float32:
   ``dk.grad`` of a ``dk.jit`` function (generated code, fused and not), of a plain function
   (the eager tape on CuPy), the hand-written gradient in CuPy, PyTorch and JAX; µs per call
   and the ratio to the hand-written gradient.
2. Training steps' forward + backward (no optimizer) as the Trainer runs them on a GPU: the
   generated step with and without fusion, the eager tape, PyTorch; µs per step.

Each time is the best of five repeats of many calls, with the device synchronized.
"""

from __future__ import annotations

import itertools
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import diffkit as dk
from diffkit import nn


def timed(fn: Callable[[], object], sync: Callable[[], object], n: int, warm: int = 5) -> float:
    """µs per call: the best of five repeats of `n` calls."""
    for _ in range(warm):
        fn()
    sync()
    best = float("inf")
    for _ in range(5):
        t = time.perf_counter()
        for _ in range(n):
            fn()
        sync()
        best = min(best, (time.perf_counter() - t) / n)
    return best * 1e6


def f(x):
    return np.sum(np.log(x) + x * np.roll(x, 1) - np.sin(x) + np.tanh(x) ** 2)


def vector_gradient(cp, sync) -> list[tuple[str, float]]:
    n = 10**6
    xh = np.linspace(0.5, 3.0, n).astype(np.float32)
    x = cp.asarray(xh)
    rows = []

    def hand():  # the gradient written out in CuPy
        t = cp.tanh(x)
        return 1 / x + cp.roll(x, 1) + cp.roll(x, -1) - cp.cos(x) + 2 * t * (1 - t * t)

    rows.append(("hand-written CuPy", timed(hand, sync, 50)))
    jf = dk.jit(f)
    grad = dk.grad(jf)
    us = timed(lambda: grad(x), sync, 50)
    last = grad.engine.last  # what its last call ran
    path = "interpreted" if last is None else "fused" if last.fused else "generated"
    rows.append((f"diffkit dk.grad(dk.jit f): {path}", us))
    code = dk.compile_gradient(jf, xh)
    plain = code.on_module(cp)
    rows.append(("diffkit generated, unfused", timed(lambda: plain.run("grad", x), sync, 50)))
    eager = dk.grad(f)  # a plain Python function: the eager tape
    rows.append(("diffkit dk.grad(f), eager tape", timed(lambda: eager(x), sync, 10)))
    value = timed(lambda: jf(x), sync, 50)
    rows.append(("diffkit f(x) (dk.jit call)", value))
    try:
        import torch

        tx = torch.from_numpy(xh).cuda().requires_grad_()

        def torch_grad():
            y = torch.sum(torch.log(tx) + tx * torch.roll(tx, 1) - torch.sin(tx)
                          + torch.tanh(tx) ** 2)
            return torch.autograd.grad(y, tx)[0]

        rows.append(("pytorch autograd (cuda)", timed(torch_grad, torch.cuda.synchronize, 50)))
    except Exception as exc:  # noqa: BLE001 - a missing or CPU-only PyTorch: no row
        print(f"(pytorch: {type(exc).__name__}: {exc})")
    try:
        import jax
        import jax.numpy as jnp

        jg = jax.jit(jax.grad(lambda v: jnp.sum(jnp.log(v) + v * jnp.roll(v, 1) - jnp.sin(v)
                                                + jnp.tanh(v) ** 2)))
        jx = jax.device_put(xh, jax.devices("gpu")[0])
        rows.append(("jax jit grad (gpu)", timed(lambda: jg(jx).block_until_ready(),
                                                 lambda: None, 50)))
    except Exception as exc:  # noqa: BLE001 - a missing or CPU-only JAX: no row
        print(f"(jax: {type(exc).__name__}: {exc})")
    return rows


def training_steps(cp, sync, device: str = "cuda") -> list[tuple[str, str, float]]:
    rows: list[tuple[str, str, float]] = []
    rng = np.random.default_rng(0)
    cases = [("MLP 64-128-64-10, batch 32", [64, 128, 64, 10], 32),
             ("MLP 4096-4096-4096-10, batch 512", [4096, 4096, 4096, 10], 512)]
    for title, sizes, batch in cases:
        X = rng.normal(size=(4 * batch, sizes[0])).astype(np.float32)
        y = rng.integers(0, sizes[-1], 4 * batch)
        rows += [(title, name, us)
                 for name, us in _step_rows(cp, sync, sizes, X, y, batch, device)]
    return rows


def _step_rows(cp, sync, sizes, X, y, batch, device) -> list[tuple[str, float]]:
    """One model's rows: the Trainer's generated step on the GPU (as fit compiled it), the
    same text unfused, the eager tape, PyTorch."""
    nn.manual_seed(0)
    model = nn.MLP(sizes).to(device)
    trainer = nn.Trainer(model, optimizer=nn.SGD(model.parameters(), lr=1e-3), progress=False)
    trainer.fit(nn.DataLoader(X, y, batch, seed=0, device=device), epochs=1)
    (code, _), = [c for c in trainer._step.codes.values() if type(c) is not str]
    args = [p.node.value for p in trainer._step.params]
    args += [cp.asarray(X[:batch]), cp.eye(sizes[-1], dtype=cp.float32)[cp.asarray(y[:batch])]]
    n = 200 if batch < 100 else 30
    plain = code.on_module(cp)  # the same text, unfused
    rows = [(f"diffkit generated ({'fused' if code.fused else 'unfused'})",
             timed(lambda: code.run("value_and_grad", *args), sync, n)),
            ("diffkit generated, unfused",
             timed(lambda: plain.run("value_and_grad", *args), sync, n))]
    xb, yb = args[-2], cp.asarray(y[:batch])

    def eager():
        for p in model.parameters():
            p.grad = None
        nn.cross_entropy(model(xb), yb).backward()

    rows.append(("diffkit eager tape", timed(eager, sync, max(5, n // 5))))
    try:
        import torch

        layers = []
        for a, b in itertools.pairwise(sizes):
            layers += [torch.nn.Linear(a, b), torch.nn.ReLU()]
        tm = torch.nn.Sequential(*layers[:-1]).cuda()
        tx, ty = torch.from_numpy(X[:batch]).cuda(), torch.from_numpy(y[:batch]).cuda()

        def tstep():
            for p in tm.parameters():
                p.grad = None
            torch.nn.functional.cross_entropy(tm(tx), ty).backward()

        rows.append(("pytorch (cuda)", timed(tstep, torch.cuda.synchronize, n)))
    except Exception as exc:  # noqa: BLE001 - no PyTorch with CUDA: no row
        print(f"(pytorch: {type(exc).__name__}: {exc})")
    return rows


def main() -> None:
    if not dk.backend.gpu_available():
        print("bench_gpu.py needs CuPy and a GPU (pip install 'diffkit[gpu]'): nothing to time")
        return
    import cupy as cp

    sync = cp.cuda.Device().synchronize
    print("1. vector gradient, n = 10^6, float32: µs per call (ratio to the hand-written CuPy)")
    rows = vector_gradient(cp, sync)
    base = rows[0][1]
    for name, us in rows:
        print(f"   {name:<36} {us:10.1f} µs {us / base:7.2f}")
    print("\n2. training step forward + backward on the GPU: µs per step (ratio to PyTorch)")
    steps = training_steps(cp, sync)
    for title in dict.fromkeys(t for t, _, _ in steps):
        mine = [(name, us) for t, name, us in steps if t == title]
        ref = dict(mine).get("pytorch (cuda)", mine[0][1])
        for name, us in mine:
            print(f"   {title:<34} {name:<30} {us:10.1f} µs {us / ref:7.2f}")


if __name__ == "__main__":
    main()
