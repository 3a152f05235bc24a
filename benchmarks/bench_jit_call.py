"""A ``dk.jit`` function's plain call (not a derivative), as users call it, next to the Python body
it stages and JAX's ``jax.jit``: a scalar function of two floats, and a function of an array
returning a tuple (its sum and the index of its largest element, read from the values).

Run: ``python benchmarks/bench_jit_call.py [--quick]``

Timed in turns (bench_speed.py's :class:`Turns`), µs per call; every answer is checked against
the body's first. The tuple case's index is read out of the values, so diffkit replays the
trace per call (the index recomputed); JAX's ``argmax`` is traced. No test is timed.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from bench_speed import Config, Turns, Workload, check, optional, print_workload

import diffkit as dk


def scalar(x, y):
    return np.sin(x) * y + x * x


def pieces(x):
    return np.sum(x * x), np.argmax(x)


def measure(cfg: Config) -> list[Workload]:
    out = []
    w = Workload("jit call", "f(x, y) = sin(x)·y + x², two Python floats", "µs/call", 1e6)
    jitted = dk.jit(scalar)
    check(w, "dk.jit", jitted(2.0, 5.0), scalar(2.0, 5.0))
    turns = Turns(w, cfg)
    turns.add("scalar", "the Python body", "hand", lambda: scalar(2.0, 5.0))
    jax = optional("jax", w)
    if jax is not None:
        jnp = jax.numpy
        jj = jax.jit(lambda x, y: jnp.sin(x) * y + x * x)
        check(w, "JAX", float(jj(2.0, 5.0)), scalar(2.0, 5.0))
        turns.add("scalar", "JAX jit (result ready)", "peer",
                  lambda: jj(2.0, 5.0).block_until_ready())
    turns.add("scalar", "dk.jit", "diffkit", lambda: jitted(2.0, 5.0))
    turns.run()
    out.append(w)

    x = np.linspace(0.0, 1.0, 5)[::-1].copy()
    w = Workload("jit tuple", "f(x) = (sum(x²), argmax(x)), x of 5 elements", "µs/call", 1e6)
    jitted = dk.jit(pieces)
    got, want = jitted(x), pieces(x)
    check(w, "dk.jit", got[0], want[0])
    if got[1] != want[1] or type(got[1]) is not type(int(want[1])):
        w.notes.append(f"WRONG ANSWER from dk.jit: index {got[1]!r}, the body's {want[1]!r}")
    turns = Turns(w, cfg)
    turns.add("tuple", "the Python body", "hand", lambda: pieces(x))
    if jax is not None:
        jp = jax.jit(lambda x: (jnp.sum(x * x), jnp.argmax(x)))
        check(w, "JAX", float(jp(x)[0]), want[0])
        turns.add("tuple", "JAX jit (results ready)", "peer",
                  lambda: jax.block_until_ready(jp(x)))
    turns.add("tuple", "dk.jit", "diffkit", lambda: jitted(x))
    turns.run()
    out.append(w)
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--quick", action="store_true", help="fewer repeats")
    args = p.parse_args()
    cfg = Config(args.quick, False, repeat=3 if args.quick else 5,
                 target=0.01 if args.quick else 0.03)
    start = time.perf_counter()
    for w in measure(cfg):
        print_workload(w)
        for note in w.notes:
            print(f"  note: {note}")
    print(f"\ntotal {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
