"""Scalar code operation by operation: what one step of a traced scalar program costs, built and
back-propagated every call, for the operations users write (``-x``, ``abs``, ``**``, a
comparison in an ``if``, ``tanh``, ``sigmoid``, ...), next to hand-written reverse mode,
micrograd (where it has the operation) and PyTorch eager.

Run: ``python benchmarks/bench_scalar_ops.py [--quick] [--steps N]``

Each row is a chain of N steps ``x = step(x)`` (a step is one to three operations, chosen so
that x stays in range), differentiated with ``dk.grad`` on a Python function — the eager tape,
the default path for Python code — and timed in turns with the peers (bench_speed.py's
:class:`Turns`: the collector paused, best round), in µs per step. Every implementation's
derivative is checked against the hand-written one first. No test is timed.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bench_speed import Config, Turns, Workload, check, optional, print_workload

import diffkit as dk


@dataclass(frozen=True)
class Step:
    """One step of a chain: its text, the step for diffkit, PyTorch and micrograd (None where
    micrograd lacks an operation), and on floats with its derivative (the hand-written row)."""

    text: str
    dk: Callable[[Any], Any]
    torch: Callable[[Any, Any], Any]
    micrograd: Callable[[Any], Any] | None
    value: Callable[[float], float]
    slope: Callable[[float], float]


def _sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


STEPS = [
    Step("x * 1.0001 + 0.01", lambda x: x * 1.0001 + 0.01, lambda t, x: x * 1.0001 + 0.01,
         lambda x: x * 1.0001 + 0.01, lambda x: x * 1.0001 + 0.01, lambda x: 1.0001),
    Step("-x * 0.9 + 0.1", lambda x: -x * 0.9 + 0.1, lambda t, x: -x * 0.9 + 0.1,
         lambda x: -x * 0.9 + 0.1, lambda x: -x * 0.9 + 0.1, lambda x: -0.9),
    Step("abs(x - 0.5) + 0.2", lambda x: abs(x - 0.5) + 0.2, lambda t, x: abs(x - 0.5) + 0.2,
         None, lambda x: abs(x - 0.5) + 0.2, lambda x: math.copysign(1.0, x - 0.5)),
    Step("x ** 2 * 0.5 + 0.3", lambda x: x ** 2 * 0.5 + 0.3, lambda t, x: x ** 2 * 0.5 + 0.3,
         lambda x: x ** 2 * 0.5 + 0.3, lambda x: x ** 2 * 0.5 + 0.3, lambda x: x),
    Step("(x + 1.0) ** 0.5 - 0.5", lambda x: (x + 1.0) ** 0.5 - 0.5,
         lambda t, x: (x + 1.0) ** 0.5 - 0.5, lambda x: (x + 1.0) ** 0.5 - 0.5,
         lambda x: (x + 1.0) ** 0.5 - 0.5, lambda x: 0.5 / math.sqrt(x + 1.0)),
    Step("2.0 ** x - 1.0", lambda x: 2.0 ** x - 1.0, lambda t, x: 2.0 ** x - 1.0, None,
         lambda x: 2.0 ** x - 1.0, lambda x: 2.0 ** x * math.log(2.0)),
    Step("x * x * 0.5 + 0.3", lambda x: x * x * 0.5 + 0.3, lambda t, x: x * x * 0.5 + 0.3,
         lambda x: x * x * 0.5 + 0.3, lambda x: x * x * 0.5 + 0.3, lambda x: x),
    Step("sin(x) * 1.0001 + 0.01", lambda x: dk.sin(x) * 1.0001 + 0.01,
         lambda t, x: t.sin(x) * 1.0001 + 0.01, None, lambda x: math.sin(x) * 1.0001 + 0.01,
         lambda x: math.cos(x) * 1.0001),
    Step("cos(x) * 0.5", lambda x: dk.cos(x) * 0.5, lambda t, x: t.cos(x) * 0.5, None,
         lambda x: math.cos(x) * 0.5, lambda x: -math.sin(x) * 0.5),
    Step("tanh(x) * 1.5 + 0.1", lambda x: dk.tanh(x) * 1.5 + 0.1,
         lambda t, x: t.tanh(x) * 1.5 + 0.1, None, lambda x: math.tanh(x) * 1.5 + 0.1,
         lambda x: 1.5 / math.cosh(x) ** 2),
    Step("sigmoid(x) * 0.5", lambda x: dk.sigmoid(x) * 0.5, lambda t, x: t.sigmoid(x) * 0.5,
         None, lambda x: _sigmoid(x) * 0.5, lambda x: 0.5 * _sigmoid(x) * (1.0 - _sigmoid(x))),
    Step("relu(x - 0.1) + 0.2", lambda x: dk.relu(x - 0.1) + 0.2,
         lambda t, x: t.relu(x - 0.1) + 0.2, lambda x: (x - 0.1).relu() + 0.2,
         lambda x: max(x - 0.1, 0.0) + 0.2, lambda x: 1.0 if x > 0.1 else 0.0),
    Step("exp(-x) * 0.5", lambda x: dk.exp(-x) * 0.5, lambda t, x: t.exp(-x) * 0.5, None,
         lambda x: math.exp(-x) * 0.5, lambda x: -math.exp(-x) * 0.5),
    Step("log(x + 1.0) + 0.1", lambda x: dk.log(x + 1.0) + 0.1,
         lambda t, x: t.log(x + 1.0) + 0.1, None, lambda x: math.log(x + 1.0) + 0.1,
         lambda x: 1.0 / (x + 1.0)),
    Step("x * 0.99 if x > 0.3 else x * 1.01", lambda x: x * 0.99 if x > 0.3 else x * 1.01,
         lambda t, x: x * 0.99 if x > 0.3 else x * 1.01, None,
         lambda x: x * 0.99 if x > 0.3 else x * 1.01, lambda x: 0.99 if x > 0.3 else 1.01),
]
X0 = 0.3


def hand(step: Step, n: int) -> float:
    """Reverse mode by hand: the forward sweep keeps each step's slope, then multiplies back."""
    x, slopes = X0, []
    for _ in range(n):
        slopes.append(step.slope(x))
        x = step.value(x)
    g = 1.0
    for s in reversed(slopes):
        g *= s
    return g


def chain(body: Callable[[Any], Any], n: int) -> Callable[[Any], Any]:
    def run(x: Any) -> Any:
        for _ in range(n):
            x = body(x)
        return x

    return run


def with_micrograd(value: type, step: Step, n: int) -> float:
    x = value(X0)
    chain(step.micrograd, n)(x).backward()
    return x.grad


def with_torch(torch: Any, step: Step, n: int) -> float:
    x0 = torch.tensor(X0, dtype=torch.float64, requires_grad=True)
    chain(lambda x: step.torch(torch, x), n)(x0).backward()
    return float(x0.grad)


def measure(step: Step, n: int, cfg: Config, peers: dict[str, Any]) -> Workload:
    w = Workload(step.text, f"x = {step.text}, {n} steps", "µs/step", 1e6 / n)
    want = hand(step, n)
    turns = Turns(w, cfg)
    turns.add(step.text, "hand-written reverse", "hand", lambda: hand(step, n))
    if peers.get("micrograd") is not None and step.micrograd is not None:
        value = peers["micrograd"].Value
        check(w, "micrograd", with_micrograd(value, step, n), want)
        turns.add(step.text, "micrograd", "peer", lambda: with_micrograd(value, step, n))
    if peers.get("torch") is not None:
        torch = peers["torch"]
        check(w, "torch", with_torch(torch, step, n), want)
        turns.add(step.text, "PyTorch eager (float64)", "peer", lambda: with_torch(torch, step, n))
    grad = dk.grad(chain(step.dk, n))
    check(w, "diffkit", grad(X0)[0], want)
    turns.add(step.text, "dk.grad (eager tape)", "diffkit", lambda: grad(X0))
    turns.run()
    return w


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--quick", action="store_true", help="fewer repeats")
    p.add_argument("--steps", type=int, default=2000, help="steps per chain (default 2000)")
    args = p.parse_args()
    cfg = Config(args.quick, False, repeat=3 if args.quick else 5,
                 target=0.01 if args.quick else 0.03)
    sys.setrecursionlimit(max(sys.getrecursionlimit(), 10 * args.steps + 1000))  # micrograd's
    probe = Workload("", "", "", 1.0)  # topological sort is recursive
    peers = {"micrograd": optional("micrograd.engine", probe), "torch": optional("torch", probe)}
    for note in probe.notes:
        print(f"note: {note}")
    start, summary = time.perf_counter(), []
    for step in STEPS:
        w = measure(step, args.steps, cfg, peers)
        print_workload(w)
        us = w.scale
        row = {r.name: r.seconds * us for r in w.rows}
        summary.append((step.text, row))
    print("\nSummary [µs per step, built and back-propagated]")
    head = f"{'step':<36} {'hand':>7} {'micrograd':>10} {'torch':>8} {'diffkit':>8} " \
           f"{'x micrograd':>12} {'x torch':>8}"
    print(head + "\n" + "-" * len(head))
    for text, row in summary:
        d, mg, th = row.get("dk.grad (eager tape)"), row.get("micrograd"), \
            row.get("PyTorch eager (float64)")
        cells = [f"{row['hand-written reverse']:7.3f}", f"{mg:10.2f}" if mg else f"{'—':>10}",
                 f"{th:8.2f}" if th else f"{'—':>8}", f"{d:8.2f}",
                 f"{mg / d:11.2f}x" if mg else f"{'—':>12}", f"{th / d:7.2f}x" if th else "—"]
        print(f"{text:<36} " + " ".join(cells))
    print("(x micrograd, x torch: how many times faster diffkit is; micrograd has no abs, "
          "2.0 ** x, sin, cos, tanh, sigmoid, exp, log or comparisons)")
    print(f"\ntotal {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
