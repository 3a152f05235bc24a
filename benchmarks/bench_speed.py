"""diffkit's speed goals in one run: every workload through the public API, next to hand-written
code and the installed peers (JAX, PyTorch, HIPS autograd, micrograd, SymPy, numdifftools; each
optional).

Run: ``python benchmarks/bench_speed.py [--quick] [--big] [--only 1,3] [--json PATH] [--plot PATH]``

Per workload it prints a table (time, ratio against the hand-written code, and each diffkit row's
ratio against the best peer), then a summary "workload | goal | diffkit | hand | best peer | met?".
Times are best-of-N with ``time.perf_counter``, the implementations of a workload taking turns
round by round (a slow phase of a shared machine then falls on all of them alike, so the ratios
hold within a run); the cyclic garbage collector is off while any implementation is timed
(diffkit pauses it itself during traces and training steps, so every peer gets the same
treatment). Workloads:

1. Baydin gradient of ln(x1) + x1*x2 - sin(x2) at (2, 5) (µs/call)
2. 10^4-operation scalar chain, traced and back-propagated each call (µs/op); dk.jit compile
3. time(grad) / time(f) for f(x) = sum(log x + x*roll(x, 1) - sin x), n = 10^3 and 10^6
4. Jacobian of tanh(A @ x), (n, m) = (100, 100) and (1, 1000)
5. first call of a symbolic gradient of a 48-parameter MLP loss (seconds)
6. digits MLP 64-128-64-10, batch 32 (ms/epoch)
7. MLP 784-1024-1024-10, batch 512 (ms/step; skipped by --quick unless asked with --only)
8. ``--big`` only: 10^6-operation scalar chain, default dk.grad, 3 calls (s/call, peak RSS)
"""

from __future__ import annotations

import argparse
import gc
import importlib
import itertools
import json
import math
import platform
import resource
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

import diffkit as dk
from diffkit import nn

X1, X2 = 2.0, 5.0
EXACT = (1 / X1 + X2, X1 - math.cos(X2))
CHAIN_STEPS, CHAIN_OPS = 3333, 10_000  # three operations a step; µs/op = time / 10_000


# ----- records -------------------------------------------------------------------------------------


@dataclass
class Row:
    """One timed implementation. kind: hand, diffkit, peer, setup (one-time cost) or ref (not
    an implementation of the workload: e.g. time(f) as a denominator)."""

    case: str
    name: str
    kind: str
    seconds: float
    note: str = ""


@dataclass
class Goal:
    """One goal: the measured diffkit, hand and best-peer values (in `unit`), whether it is met,
    and where to draw it (`line`, seconds, across the bars named in `rows`)."""

    text: str
    unit: str
    diffkit: float | None
    hand: float | None
    peer: float | None
    met: bool | None
    case: str = ""
    line: float | None = None
    rows: tuple[str, ...] = ()


@dataclass
class Workload:
    """A workload's rows (seconds per unit of work) and goals; `scale` turns seconds into `unit`.
    `absolute`: plotted in seconds (no hand-written baseline exists)."""

    key: str
    title: str
    unit: str
    scale: float
    rows: list[Row] = field(default_factory=list)
    goals: list[Goal] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    absolute: bool = False

    def add(self, case: str, name: str, kind: str, seconds: float, note: str = "") -> float:
        """Record a row; returns `seconds` so callers can keep the time."""
        self.rows.append(Row(case, name, kind, seconds, note))
        return seconds

    def hand(self, case: str) -> float | None:
        """The hand-written time of `case`."""
        return next((r.seconds for r in self.rows if r.case == case and r.kind == "hand"), None)

    def best_peer(self, case: str) -> Row | None:
        """The fastest peer row of `case`."""
        peers = [r for r in self.rows if r.case == case and r.kind == "peer"]
        return min(peers, key=lambda r: r.seconds) if peers else None

    def time(self, case: str, name: str) -> float | None:
        """The time of row `name` in `case` (None if it was skipped)."""
        return next((r.seconds for r in self.rows if r.case == case and r.name == name), None)


@dataclass
class Config:
    """Sizes and repeats chosen from the command line."""

    quick: bool
    big: bool
    repeat: int
    target: float  # seconds one timed repeat should last, for micro-benchmarks


# ----- timing and peers ----------------------------------------------------------------------------


def best(call: Callable[[], object], repeat: int = 5, number: int = 1) -> float:
    """Best-of-`repeat` time of `number` calls, per call, in seconds (collector off meanwhile)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        times = []
        for _ in range(repeat):
            t = time.perf_counter()
            for _ in range(number):
                call()
            times.append((time.perf_counter() - t) / number)
    finally:
        if enabled:
            gc.enable()
    gc.collect()  # outside the timing: cycles some peers leave (micrograd's closures)
    return min(times)


def micro(call: Callable[[], object], cfg: Config) -> float:
    """Best-of time of a fast call: `number` is chosen so one repeat lasts about cfg.target."""
    t = time.perf_counter()
    call()
    once = max(time.perf_counter() - t, 1e-7)
    return best(call, cfg.repeat, max(1, int(cfg.target / once)))


def first_call(call: Callable[[], object]) -> float:
    """Wall time of one call (a compile or setup), collector off as in :func:`best`."""
    return best(call, repeat=1)


class Turns:
    """The implementations of one workload timed in turns: every round runs each registered call
    once untimed (its arrays back in the caches, as for a user calling it in a loop), then
    `number` times timed (chosen so that its share of a round lasts about `target` seconds), and
    keeps each one's best round. A slow phase of a shared machine then falls on all of them
    alike, so the ratios between rows hold within a run (timed one after another, this VM's
    phases moved single ratios by ±40 %). A short pause before each lets worker threads that
    spin after a call (JAX's) settle first: on two cores they slowed whatever ran next by up to
    70 %. Rows are added in the order they were registered. The cyclic garbage collector is
    paused while a call is timed (its pauses fall at random into one row or another), except
    for calls added with ``collector=True``: those are timed as a program runs them, collector
    on, which is what a library whose graphs are reference cycles (micrograd's closures) costs
    its users — paused, their freeing happens after the timing."""

    def __init__(self, w: Workload, cfg: Config) -> None:
        self.w, self.cfg = w, cfg
        self.items: list[tuple[str, str, str, Callable[[], object], str, bool]] = []

    def add(self, case: str, name: str, kind: str, call: Callable[[], object],
            note: str = "", collector: bool = False) -> None:
        self.items.append((case, name, kind, call, note, collector))

    def run(self) -> None:
        numbers = []
        for *_, call, _, _ in self.items:
            t = time.perf_counter()
            call()
            numbers.append(max(1, int(self.cfg.target / max(time.perf_counter() - t, 1e-7))))
        times = [math.inf] * len(self.items)
        enabled = gc.isenabled()
        gc.disable()
        try:
            for _ in range(self.cfg.repeat):
                for i, ((*_, call, _, collector), number) in enumerate(zip(self.items, numbers)):
                    time.sleep(0.005)  # a peer's worker threads spin after its calls (XLA's)
                    call()
                    if collector:
                        gc.collect()
                        gc.enable()
                    t = time.perf_counter()
                    for _ in range(number):
                        call()
                    times[i] = min(times[i], (time.perf_counter() - t) / number)
                    gc.disable()
        finally:
            if enabled:
                gc.enable()
        gc.collect()  # outside the timing: cycles some peers leave (micrograd's closures)
        for (case, name, kind, _, note, _), t in zip(self.items, times):
            self.w.add(case, name, kind, t, note)
        self.items = []


def optional(name: str, w: Workload) -> Any:
    """Import a peer, or note in one line why it is skipped and return None."""
    try:
        module = importlib.import_module(name)
    except Exception as exc:  # noqa: BLE001 -- any import failure just skips the peer
        note = f"skipped {name}: {type(exc).__name__}: {exc}"
        if note not in w.notes:
            w.notes.append(note)
        return None
    if name == "jax":
        module.config.update("jax_enable_x64", True)
    return module


def check(w: Workload, name: str, got: Any, want: Any, rtol: float = 1e-6) -> None:
    """Note a wrong answer (the benchmark still runs: a fast wrong answer is worth seeing)."""
    got = np.asarray(got, dtype=float).reshape(np.shape(want))
    if not np.allclose(got, want, rtol=rtol, atol=1e-9):
        err = float(np.max(np.abs(got - np.asarray(want))))
        w.notes.append(f"WRONG ANSWER from {name}: max abs error {err:.3g}")


def goal(w: Workload, text: str, unit: str, values: tuple[float | None, float | None, float | None],
         met: bool | None, case: str = "", line: float | None = None,
         rows: tuple[str, ...] = ()) -> None:
    """Record a goal with its (diffkit, hand, best peer) values."""
    d, h, p = values
    w.goals.append(Goal(text, unit, d, h, p, met, case, line, rows))


# ----- 1. Baydin gradient --------------------------------------------------------------------------


def hand_baydin(x1: float, x2: float) -> tuple[float, float]:
    """The gradient of ln(x1) + x1*x2 - sin(x2), written by hand."""
    return 1.0 / x1 + x2, x1 - math.cos(x2)


def w1_baydin(cfg: Config) -> Workload:
    """Baydin gradient at (2, 5): dk.grad of a parsed and of a dk.jit function against peers."""
    w = Workload("1", "Baydin gradient of ln(x1) + x1*x2 - sin(x2) at (2, 5)", "µs/call", 1e6)
    turns = Turns(w, cfg)
    turns.add("", "hand-written Python (math)", "hand", lambda: hand_baydin(X1, X2))
    sp = optional("sympy", w)
    if sp is not None:
        a, b = sp.symbols("x1 x2")
        e = sp.log(a) + a * b - sp.sin(b)
        lam = sp.lambdify((a, b), [sp.diff(e, a), sp.diff(e, b)], "math")
        check(w, "SymPy", lam(X1, X2), EXACT)
        turns.add("", "SymPy lambdify(diff), math", "peer", lambda: lam(X1, X2))
    jax = optional("jax", w)
    if jax is not None:
        jnp = jax.numpy
        jg = jax.jit(jax.grad(lambda a, b: jnp.log(a) + a * b - jnp.sin(b), argnums=(0, 1)))
        check(w, "JAX", jax.block_until_ready(jg(X1, X2)), EXACT)
        turns.add("", "JAX jit(grad), x64", "peer", lambda: jax.block_until_ready(jg(X1, X2)))
    ag, anp = optional("autograd", w), optional("autograd.numpy", w)
    point = np.array([X1, X2])
    if ag is not None and anp is not None:  # its grad takes one argument: the point as a vector
        agg = ag.grad(lambda v: anp.log(v[0]) + v[0] * v[1] - anp.sin(v[1]))
        check(w, "autograd", agg(point), EXACT)
        turns.add("", "HIPS autograd grad (point as a vector)", "peer", lambda: agg(point))
    nd = optional("numdifftools", w)
    if nd is not None:
        ndg = nd.Gradient(lambda v: np.log(v[0]) + v[0] * v[1] - np.sin(v[1]))
        check(w, "numdifftools", ndg(point), EXACT)
        turns.add("", "numdifftools Gradient (Richardson FD)", "peer", lambda: ndg(point))
    g = dk.grad(dk.parse("ln(x1) + x1*x2 - sin(x2)"))
    for _ in range(3):
        g(X1, X2)
    check(w, "dk.grad(dk.parse)", g(X1, X2), EXACT)
    turns.add("", "dk.grad(dk.parse(text))", "diffkit", lambda: g(X1, X2))

    @dk.jit
    def baydin(x1: Any, x2: Any) -> Any:
        return dk.log(x1) + x1 * x2 - dk.sin(x2)

    gj = dk.grad(baydin)
    for _ in range(3):
        gj(X1, X2)
    check(w, "dk.grad(dk.jit)", gj(X1, X2), EXACT)
    turns.add("", "dk.grad(dk.jit Python function)", "diffkit", lambda: gj(X1, X2))
    turns.run()
    t_dk = w.time("", "dk.grad(dk.parse(text))")
    t_hand, peer = w.hand(""), w.best_peer("")
    goal(w, "diffkit <= 2.5x hand", "µs", (t_dk * 1e6, t_hand * 1e6, peer and peer.seconds * 1e6),
         t_dk <= 2.5 * t_hand, line=2.5 * t_hand, rows=("dk.grad(dk.parse(text))",))
    return w


# ----- 2. scalar chain -----------------------------------------------------------------------------


def dk_chain(x: Any) -> Any:
    """The 10^4-operation chain, written with diffkit operations."""
    for _ in range(CHAIN_STEPS):
        x = dk.sin(x) * 1.0001 + 0.01
    return x


def hand_chain(x: float) -> float:
    """Reverse mode by hand: keep each cos in the forward sweep, multiply them back."""
    coss = []
    for _ in range(CHAIN_STEPS):
        coss.append(math.cos(x))
        x = math.sin(x) * 1.0001 + 0.01
    g = 1.0
    for c in reversed(coss):
        g *= c * 1.0001
    return g


def micrograd_chain(value: type) -> float:
    """micrograd has no sin: one node with its local gradient emulates it (as bench_core.py)."""
    x = value(0.3)
    y = x
    for _ in range(CHAIN_STEPS):
        s = value(math.sin(y.data))
        s._prev = {y}

        def back(s: Any = s, y: Any = y) -> None:
            y.grad += math.cos(y.data) * s.grad

        s._backward = back
        y = s * 1.0001 + 0.01
    y.backward()
    return x.grad


def autograd_chain(ag: Any, anp: Any) -> float:
    """HIPS autograd: grad of the chain written with autograd.numpy on a Python float."""

    def body(x: Any) -> Any:
        for _ in range(CHAIN_STEPS):
            x = anp.sin(x) * 1.0001 + 0.01
        return x

    return ag.grad(body)(0.3)


def torch_chain(torch: Any) -> float:
    """PyTorch eager: a scalar tensor that requires grad, torch.sin, backward."""
    x0 = torch.tensor(0.3, dtype=torch.float64, requires_grad=True)
    x = x0
    for _ in range(CHAIN_STEPS):
        x = torch.sin(x) * 1.0001 + 0.01
    x.backward()
    return float(x0.grad)


def w2_chain(cfg: Config) -> Workload:
    """The chain built and differentiated at every call, plus dk.jit's compile and replay."""
    w = Workload("2", f"scalar chain of {CHAIN_OPS} operations (x = sin(x)*1.0001 + 0.01), "
                 "built and differentiated every call", "µs/op", 1e6 / CHAIN_OPS)
    want = hand_chain(0.3)
    turns = Turns(w, cfg)
    turns.add("", "hand-written reverse (plain Python)", "hand", lambda: hand_chain(0.3))
    mg = optional("micrograd.engine", w)
    if mg is not None:
        sys.setrecursionlimit(max(sys.getrecursionlimit(), 100_000))  # its recursive topo sort
        check(w, "micrograd", micrograd_chain(mg.Value), want)
        turns.add("", "micrograd (sin emulated)", "peer", lambda: micrograd_chain(mg.Value))
        turns.add("", "micrograd, collector on (as programs run it)", "peer",
                  lambda: micrograd_chain(mg.Value), collector=True)
    ag, anp = optional("autograd", w), optional("autograd.numpy", w)
    if ag is not None and anp is not None:
        check(w, "autograd", autograd_chain(ag, anp), want)
        turns.add("", "HIPS autograd", "peer", lambda: autograd_chain(ag, anp))
    torch = optional("torch", w)
    if torch is not None:
        check(w, "torch", torch_chain(torch), want)
        turns.add("", "PyTorch eager (float64)", "peer", lambda: torch_chain(torch))
    eager = "dk.grad(dk.function(body))(0.3)"
    check(w, "diffkit eager", dk.grad(dk.function(dk_chain))(0.3), (want,))
    turns.add("", eager, "diffkit", lambda: dk.grad(dk.function(dk_chain))(0.3))
    turns.add("", eager + ", collector on", "diffkit",
              lambda: dk.grad(dk.function(dk_chain))(0.3), collector=True)
    gj = dk.grad(dk.jit(dk_chain))
    gj(0.3)
    check(w, "diffkit dk.jit", gj(0.3), (want,))
    turns.add("", "dk.grad(dk.jit(body)): later calls", "diffkit", lambda: gj(0.3))
    turns.run()
    t_dk = w.time("", eager)
    compiles = [first_call(lambda: dk.grad(dk.jit(dk_chain))(0.3)) for _ in range(1 if cfg.quick
                                                                                 else 2)]
    compile_row = "dk.grad(dk.jit(body)): first call"
    t_compile = w.add("", compile_row, "setup", min(compiles),
                      "best of fresh dk.jit: " + ", ".join(f"{c:.2f} s" for c in compiles))
    t_hand, us = w.hand(""), 1e6 / CHAIN_OPS
    peer = w.best_peer("")
    pv = peer and peer.seconds * us
    goal(w, "diffkit <= 2 µs/op", "µs/op", (t_dk * us, t_hand * us, pv), t_dk * us <= 2.0,
         line=2.0 / us, rows=(eager,))
    t_mg = w.time("", "micrograd (sin emulated)")
    goal(w, ">= 3.5x faster than micrograd", "µs/op", (t_dk * us, t_hand * us, t_mg and t_mg * us),
         None if t_mg is None else t_mg / t_dk >= 3.5, line=t_mg and t_mg / 3.5, rows=(eager,))
    t_mg_on = w.time("", "micrograd, collector on (as programs run it)")
    if t_mg and t_mg_on:
        w.notes.append(f"the goal's micrograd is timed with the collector paused (its graphs, "
                       f"reference cycles, freed after the timing): {t_mg / t_dk:.2f}x diffkit's "
                       f"time; with the collector on, as programs run it: {t_mg_on / t_dk:.2f}x")
    goal(w, "dk.jit compile <= 50 µs/op", "µs/op", (t_compile * us, None, None),
         t_compile * us <= 50.0, line=50.0 / us, rows=(compile_row,))
    return w


# ----- 3. vector function: grad / f ----------------------------------------------------------------


def np_f(x: np.ndarray) -> float:
    """f(x) = sum(log x + x*roll(x, 1) - sin x) in plain NumPy."""
    return float(np.sum(np.log(x) + x * np.roll(x, 1) - np.sin(x)))


def np_grad(x: np.ndarray) -> np.ndarray:
    """Its gradient, by hand: 1/x + roll(x, 1) + roll(x, -1) - cos x."""
    return 1.0 / x + np.roll(x, 1) + np.roll(x, -1) - np.cos(x)


def dk_f(x: Any) -> Any:
    """f with diffkit operations."""
    return dk.sum(dk.log(x) + x * dk.roll(x, 1) - dk.sin(x))


def vector_case(w: Workload, n: int, cfg: Config) -> None:
    """One size: time(grad) / time(f) for hand NumPy, diffkit eager and dk.jit, JAX jit, autograd
    (timed in turns; each row's note gives its grad/f)."""
    case = f"n={n:.0e}".replace("e+0", "e")
    x = np.random.default_rng(0).uniform(0.5, 2.0, n)
    want = np_grad(x)
    turns = Turns(w, cfg)
    turns.add(case, "f in plain NumPy", "ref", lambda: np_f(x))
    turns.add(case, "hand-written NumPy gradient", "hand", lambda: np_grad(x))
    for name, f in (("dk.grad(dk.function(f))", dk.function(dk_f)), ("dk.grad(dk.jit(f))",
                                                                       dk.jit(dk_f))):
        g = dk.grad(f)
        for _ in range(3):
            g(x)
        check(w, f"{name} {case}", g(x)[0], want)
        turns.add(case, name, "diffkit", lambda g=g: g(x))
    jax = optional("jax", w)
    if jax is not None:
        jnp = jax.numpy
        jf = jax.jit(lambda x: jnp.sum(jnp.log(x) + x * jnp.roll(x, 1) - jnp.sin(x)))
        jgrad = jax.jit(jax.grad(lambda x: jnp.sum(jnp.log(x) + x * jnp.roll(x, 1) - jnp.sin(x))))
        xj = jnp.asarray(x)
        check(w, f"JAX {case}", jgrad(xj).block_until_ready(), want)
        jf(xj).block_until_ready()
        turns.add(case, "JAX jit(f)", "ref", lambda: jf(xj).block_until_ready())
        turns.add(case, "JAX jit(grad(f))", "peer", lambda: jgrad(xj).block_until_ready())
    ag, anp = optional("autograd", w), optional("autograd.numpy", w)
    if ag is not None and anp is not None:
        agrad = ag.grad(lambda x: anp.sum(anp.log(x) + x * anp.roll(x, 1) - anp.sin(x)))
        check(w, f"autograd {case}", agrad(x), want)
        turns.add(case, "HIPS autograd grad(f)", "peer", lambda: agrad(x))
    turns.run()
    t_f = w.time(case, "f in plain NumPy")
    t_jf = w.time(case, "JAX jit(f)")
    for row in w.rows:
        if row.case == case and row.kind in ("hand", "diffkit", "peer"):
            row.note = f"grad/f = {row.seconds / t_f:.2f}"
            if row.name == "JAX jit(grad(f))" and t_jf:
                row.note = f"grad/f = {row.seconds / t_jf:.2f} (JAX's own f); " \
                           f"{row.seconds / t_f:.2f} vs NumPy f"


def w3_vector(cfg: Config) -> Workload:
    """time(grad) / time(f) at n = 10^3 and 10^6 (10^5 with --quick)."""
    w = Workload("3", "f(x) = sum(log x + x*roll(x,1) - sin x): gradient time (grad/f in notes)",
                 "ms", 1e3)
    sizes = (10**3, 10**5) if cfg.quick else (10**3, 10**6)
    for n in sizes:
        vector_case(w, n, cfg)
    case = f"n={sizes[-1]:.0e}".replace("e+0", "e")
    t_f = w.time(case, "f in plain NumPy")
    t_jit, t_h = w.time(case, "dk.grad(dk.jit(f))"), w.hand(case)
    t_jf, t_jg = w.time(case, "JAX jit(f)"), w.time(case, "JAX jit(grad(f))")
    peer = t_jg / t_jf if t_jf and t_jg else None
    goal(w, f"dk.jit grad/f <= 1.0 at {case}", "x f", (t_jit / t_f, t_h / t_f, peer),
         t_jit <= t_f, case=case, line=t_f, rows=("dk.grad(dk.jit(f))",))
    w.notes.append("grad/f divides by f in plain NumPy; JAX's ratio (summary) by JAX jit(f)")
    return w


# ----- 4. Jacobian of tanh(A @ x) ------------------------------------------------------------------


def tanh_ax(A: np.ndarray) -> Callable[[Any], Any]:
    """x -> tanh(A @ x) closing over A (a default argument would become a second input)."""
    return lambda x: dk.tanh(A @ x)


def jacobian_case(w: Workload, n: int, m: int, cfg: Config) -> str:
    """One shape: hand, diffkit reverse / forward / auto, JAX jacrev and jacfwd (jitted),
    autograd, numdifftools, timed in turns."""
    case = f"(n,m)=({n},{m})"
    rng = np.random.default_rng(0)
    A, x = rng.standard_normal((m, n)), rng.standard_normal(n)

    def hand() -> np.ndarray:  # diag(1 - tanh²) @ A, as a row scaling: O(mn), not O(m²n)
        return (1.0 - np.tanh(A @ x) ** 2)[:, None] * A

    want = hand()
    turns = Turns(w, cfg)
    turns.add(case, "hand: diag(1 - tanh²) @ A", "hand", hand)
    f = dk.function(tanh_ax(A))
    for method in ("reverse", "forward", "auto"):
        j = dk.jacobian(f, method=method)
        check(w, f"dk.jacobian {method} {case}", j(x), want)
        label = f'dk.jacobian(method="{method}")' + (" = default" if method == "reverse" else "")
        turns.add(case, label, "diffkit", lambda j=j: j(x))
    jax = optional("jax", w)
    if jax is not None:
        jnp = jax.numpy
        Aj, xj = jnp.asarray(A), jnp.asarray(x)
        for name, jac in (("JAX jit(jacrev)", jax.jacrev), ("JAX jit(jacfwd)", jax.jacfwd)):
            jj = jax.jit(jac(lambda x: jnp.tanh(Aj @ x)))
            check(w, f"{name} {case}", jj(xj).block_until_ready(), want)
            turns.add(case, name, "peer", lambda jj=jj: jj(xj).block_until_ready())
    ag, anp = optional("autograd", w), optional("autograd.numpy", w)
    if ag is not None and anp is not None:  # reverse mode, one pullback per output row
        aj = ag.jacobian(lambda x: anp.tanh(A @ x))
        check(w, f"autograd {case}", aj(x), want)
        turns.add(case, "HIPS autograd jacobian", "peer", lambda: aj(x))
    nd = optional("numdifftools", w)
    if nd is not None:  # finite differences with Richardson extrapolation
        ndj = nd.Jacobian(lambda x: np.tanh(A @ x))
        check(w, f"numdifftools {case}", np.reshape(ndj(x), want.shape), want)
        turns.add(case, "numdifftools Jacobian (Richardson FD)", "peer", lambda: ndj(x))
    turns.run()
    return case


def w4_jacobian(cfg: Config) -> Workload:
    """Jacobians at (n, m) = (100, 100) and (1, 1000), with their two goals."""
    w = Workload("4", "Jacobian of tanh(A @ x), A (m, n) random", "µs/call", 1e6)
    rev = 'dk.jacobian(method="reverse") = default'
    case = jacobian_case(w, 100, 100, cfg)
    t_rev, t_fwd = w.time(case, rev), w.time(case, 'dk.jacobian(method="forward")')
    peer = w.best_peer(case)
    goal(w, f"{case}: reverse <= 1.5x dk forward ({t_fwd * 1e6:.0f} µs)", "µs",
         (t_rev * 1e6, w.hand(case) * 1e6, peer and peer.seconds * 1e6), t_rev <= 1.5 * t_fwd,
         case, 1.5 * t_fwd, (rev,))
    case = jacobian_case(w, 1, 1000, cfg)
    t_rev, t_jr = w.time(case, rev), w.time(case, "JAX jit(jacrev)")
    goal(w, f"{case}: reverse <= 3x JAX jacrev", "µs",
         (t_rev * 1e6, w.hand(case) * 1e6, t_jr and t_jr * 1e6),
         None if t_jr is None else t_rev <= 3 * t_jr, case, t_jr and 3 * t_jr, (rev,))
    w.notes.append('dk.jacobian\'s default method is "reverse" (the "= default" row)')
    return w


# ----- 5. symbolic setup ---------------------------------------------------------------------------


def mlp_data() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """16 fixed inputs of 4 features, 16 targets, and a 48-entry parameter vector."""
    rng = np.random.default_rng(0)
    return rng.normal(size=(16, 4)), rng.normal(size=16), rng.normal(size=48) * 0.5


def mlp_loss(X: np.ndarray, T: np.ndarray) -> Callable[[Any], Any]:
    """Mean squared error of a 4-8-1 tanh net whose 48 parameters are one flat vector w:
    W1 (4×8) = w[:32], b1 = w[32:40], W2 (8,) = w[40:48]."""

    def loss(w: Any) -> Any:
        h = dk.tanh(X @ w[:32].reshape(4, 8) + w[32:40])
        return dk.mean((h @ w[40:48] - T) ** 2)

    return loss


def mlp_hand_grad(X: np.ndarray, T: np.ndarray, w: np.ndarray) -> np.ndarray:
    """The loss's gradient by hand (NumPy backprop)."""
    W1, b1, W2 = w[:32].reshape(4, 8), w[32:40], w[40:48]
    h = np.tanh(X @ W1 + b1)
    dr = 2.0 * (h @ W2 - T) / len(T)
    dz = np.outer(dr, W2) * (1.0 - h**2)
    return np.concatenate([(X.T @ dz).ravel(), dz.sum(0), h.T @ dr])


def w5_symbolic(cfg: Config) -> Workload:
    """First call of dk.grad(loss, method="symbolic") (derivation, CSE, compile), against JAX's
    trace-and-compile; SymPy differentiating the expanded expression only with --big."""
    w = Workload("5", "setup: first call of a symbolic gradient, 48-parameter MLP loss "
                 "(16x4 inputs)", "s", 1.0, absolute=True)
    X, T, w0 = mlp_data()
    want = mlp_hand_grad(X, T, w0)
    importlib.import_module("sympy")  # a first call would import it: not counted
    name = 'dk.grad(loss, method="symbolic"): 1st call'
    g = dk.grad(mlp_loss(X, T), method="symbolic")  # a plain Python function, as a user passes it
    firsts = [first_call(lambda: check(w, "dk symbolic", g(w0)[0], want))]
    again = first_call(lambda: g(w0))  # a plain function is traced and derived afresh each call
    if not cfg.quick:
        firsts.append(again)
    t_dk = w.add("", name, "diffkit", min(firsts),
                 "best of fresh derivations: " + ", ".join(f"{t:.2f} s" for t in firsts))
    gj = dk.grad(dk.jit(mlp_loss(X, T)), method="symbolic")
    w.add("", 'dk.grad(dk.jit(loss), method="symbolic"): 1st call', "diffkit",
          first_call(lambda: check(w, "dk symbolic jit", gj(w0)[0], want)))
    steady = micro(lambda: gj(w0), cfg)
    hand = micro(lambda: mlp_hand_grad(X, T, w0), cfg)
    w.notes.append(f"2nd call: plain function {again:.2f} s (traced and derived again at every "
                   f"call), dk.jit {steady * 1e6:.0f} µs; hand NumPy gradient {hand * 1e6:.0f} µs")
    w.notes.append("no hand-written setup exists: this panel is plotted in seconds")
    jax = optional("jax", w)
    if jax is not None:
        jnp = jax.numpy

        def jloss(p: Any) -> Any:
            h = jnp.tanh(X @ p[:32].reshape(4, 8) + p[32:40])
            return jnp.mean((h @ p[40:48] - T) ** 2)

        jg = jax.jit(jax.grad(jloss))
        w.add("", "JAX jit(grad): 1st call (trace + compile)", "peer",
              first_call(lambda: check(w, "JAX", jg(jnp.asarray(w0)).block_until_ready(), want)))
    if cfg.big:
        w.add("", "SymPy diff of the expanded loss + lambdify", "peer", sympy_setup(X, T))
    else:
        w.notes.append("SymPy differentiating the expanded loss (about 15 s) runs with --big")
    peer = w.best_peer("")
    goal(w, "symbolic first call <= 1 s", "s", (t_dk, None, peer and peer.seconds), t_dk <= 1.0,
         line=1.0, rows=(name,))
    return w


def sympy_setup(X: np.ndarray, T: np.ndarray) -> float:
    """SymPy directly: the loss as one expression in 48 symbols, 48 diffs, lambdify (≈ 15 s)."""
    import sympy as sp

    def run() -> None:
        ws = sp.symbols("w0:48")
        W1, b1, W2 = sp.Matrix(4, 8, ws[:32]), sp.Matrix(1, 8, ws[32:40]), sp.Matrix(8, 1, ws[40:])
        H = (sp.Matrix(X) * W1 + sp.ones(16, 1) * b1).applyfunc(sp.tanh)
        loss = sum(e**2 for e in H * W2 - sp.Matrix(T)) / 16
        sp.lambdify([ws], [sp.diff(loss, v) for v in ws], "numpy")

    return first_call(run)


# ----- 6 and 7. MLP training -----------------------------------------------------------------------


def shuffled(X: np.ndarray, y: np.ndarray, batch: int,
             rng: np.random.Generator) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """One epoch of shuffled mini-batches, the last one short, as nn.DataLoader gives them."""
    order = rng.permutation(len(X))
    for i in range(0, len(X), batch):
        idx = order[i:i + batch]
        yield X[idx], y[idx]


def numpy_step(sizes: list[int], lr: float, track: list[Any] | None = None
               ) -> Callable[[np.ndarray, np.ndarray], None]:
    """Hand-written float32 ReLU MLP step: forward, softmax cross-entropy, backward, SGD (the one
    bench_nn.py times)."""
    from bench_nn import numpy_mlp  # this folder is on sys.path when the script runs

    return numpy_mlp(sizes, lr=lr, track=track)


def torch_step(torch: Any, sizes: list[int], lr: float) -> Callable[[Any, Any], None]:
    """The same step in PyTorch (CPU, float32)."""
    torch.manual_seed(0)
    layers: list[Any] = []
    for a, b in itertools.pairwise(sizes):
        layers += [torch.nn.Linear(a, b), torch.nn.ReLU()]
    model = torch.nn.Sequential(*layers[:-1])
    opt = torch.optim.SGD(model.parameters(), lr=lr)

    def step(xb: Any, yb: Any) -> None:
        opt.zero_grad()
        torch.nn.functional.cross_entropy(model(xb), yb).backward()
        opt.step()

    return step


def autograd_step(ag: Any, anp: Any, sizes: list[int], lr: float
                  ) -> Callable[[np.ndarray, np.ndarray], None]:
    """The same step with HIPS autograd: grad of the loss over a list of float32 arrays, then
    the SGD update in NumPy (in place, as the hand-written step)."""
    rng = np.random.default_rng(0)
    params: list[np.ndarray] = []
    for a, b in itertools.pairwise(sizes):
        params += [(rng.uniform(-1, 1, (b, a)) / np.sqrt(a)).astype(np.float32),
                   np.zeros(b, np.float32)]
    eye = np.eye(sizes[-1], dtype=np.float32)

    def loss(ps: list[Any], xb: np.ndarray, t: np.ndarray) -> Any:
        h = xb
        for i in range(0, len(ps), 2):
            h = anp.dot(h, ps[i].T) + ps[i + 1]
            if i < len(ps) - 2:
                h = anp.maximum(h, 0.0)
        z = h - anp.max(h, axis=1, keepdims=True)
        logp = z - anp.log(anp.sum(anp.exp(z), axis=1, keepdims=True))
        return -anp.sum(t * logp) / len(t)

    grad = ag.grad(loss)

    def step(xb: np.ndarray, yb: np.ndarray) -> None:
        for p, g in zip(params, grad(params, xb, eye[yb]), strict=True):
            p -= np.float32(lr) * g

    return step


def jax_step(jax: Any, sizes: list[int], lr: float) -> Callable[[Any, Any], None]:
    """The same step as one jax.jit function (parameters passed in and returned)."""
    jnp = jax.numpy
    rng = np.random.default_rng(0)
    params = [((rng.uniform(-1, 1, (b, a)) / np.sqrt(a)).astype(np.float32),
               np.zeros(b, np.float32)) for a, b in itertools.pairwise(sizes)]
    params = jax.tree_util.tree_map(jnp.asarray, params)

    def loss(ps: Any, xb: Any, yb: Any) -> Any:
        h = xb
        for i, (W, b) in enumerate(ps):
            h = h @ W.T + b
            if i < len(ps) - 1:
                h = jnp.maximum(h, 0)
        logp = jax.nn.log_softmax(h)
        return -jnp.mean(jnp.take_along_axis(logp, yb[:, None], 1))

    @jax.jit
    def update(ps: Any, xb: Any, yb: Any) -> Any:
        gs = jax.grad(loss)(ps, xb, yb)
        return jax.tree_util.tree_map(lambda p, g: p - jnp.float32(lr) * g, ps, gs)

    state = [params]

    def step(xb: Any, yb: Any) -> None:
        state[0] = update(state[0], xb, yb)

    step.sync = lambda: jax.block_until_ready(state[0])  # type: ignore[attr-defined]
    return step


def epoch_runner(step: Callable[[Any, Any], None], X: np.ndarray, y: np.ndarray, batch: int,
                 to: Callable[[np.ndarray], Any] = lambda a: a,
                 sync: Callable[[], object] = lambda: None) -> Callable[[], float]:
    """One epoch of a hand-driven loop over shuffled batches per call, returning its time (s).
    Batches are cut from the NumPy arrays (as nn.DataLoader does), then handed over by `to`."""
    rng = np.random.default_rng(0)

    def epoch() -> float:
        t = time.perf_counter()
        for xb, yb in shuffled(X, y, batch, rng):
            step(to(xb), to(yb))
        sync()
        return time.perf_counter() - t

    return epoch


def fit_runner(sizes: list[int], X: np.ndarray, y: np.ndarray, batch: int, lr: float
               ) -> tuple[Callable[[], float], nn.Trainer]:
    """The public path, one epoch per call: nn.Trainer(...).fit(nn.DataLoader(...)) continued
    for one more epoch; the time is fit's own (history["time"])."""
    nn.manual_seed(0)
    model = nn.MLP(sizes)
    trainer = nn.Trainer(model, optimizer=nn.SGD(model.parameters(), lr=lr), progress=False,
                         track_grad_norms=False)
    loader = nn.DataLoader(X, y, batch_size=batch, seed=0)

    def epoch() -> float:
        return trainer.fit(loader, epochs=trainer.epoch + 1)["time"][-1]

    return epoch, trainer


def interleaved(runners: dict[str, Callable[[], float]], epochs: int) -> dict[str, float]:
    """Best epoch time of each runner after one warm-up epoch, the runners taking turns epoch by
    epoch: a slow phase of a shared machine then falls on all of them alike, not on whichever
    happened to run during it (collector off, as in :func:`best`)."""
    times = {name: math.inf for name in runners}
    enabled = gc.isenabled()
    gc.disable()
    try:
        for name, run in runners.items():
            run()
        for _ in range(epochs):
            for name, run in runners.items():
                times[name] = min(times[name], run())
    finally:
        if enabled:
            gc.enable()
    gc.collect()
    return times


def jit_step(sizes: list[int], lr: float) -> Callable[[np.ndarray, np.ndarray], None]:
    """The same step written functionally with dk.jit: flat float32 parameters in, updated ones
    out; forward, softmax cross-entropy, backward and the SGD update run as one generated
    function per batch shape."""
    rng = np.random.default_rng(0)
    layers = list(itertools.pairwise(sizes))
    parts = []
    for a, b in layers:
        parts += [(rng.uniform(-1, 1, (b, a)) / np.sqrt(a)).astype(np.float32).ravel(),
                  np.zeros(b, np.float32)]
    eye = np.eye(sizes[-1], dtype=np.float32)

    def loss(theta: Any, xb: Any, t: Any) -> Any:
        h, k = xb, 0
        for i, (a, b) in enumerate(layers):
            weight = dk.reshape(theta[k:k + a * b], (b, a))
            bias = theta[k + a * b:k + a * b + b]
            k += a * b + b
            h = dk.linear(h, weight, bias)
            if i < len(layers) - 1:
                h = dk.relu(h)
        return dk.mean(dk.softmax_cross_entropy(h, t))

    @dk.jit
    def step(theta: Any, xb: Any, t: Any) -> Any:
        (g,) = dk.grad(loss, wrt=0)(theta, xb, t)
        return theta - lr * g

    state = {"theta": np.concatenate(parts)}

    def run(xb: np.ndarray, yb: np.ndarray) -> None:
        state["theta"] = step(state["theta"], xb, eye[yb])

    return run


def mlp_rows(w: Workload, sizes: list[int], X: np.ndarray, y: np.ndarray, batch: int,
             epochs: int, per: float, torch_threads: int = 0) -> None:
    """Rows for hand NumPy, diffkit fit, PyTorch and JAX, timed in turns (:func:`interleaved`);
    each epoch time divided by `per`. `torch_threads`: PyTorch's intra-op threads for this
    workload (0: its default), set only while its epochs run."""
    lr = 0.01
    hand, tracked = "hand-written NumPy", "hand-written NumPy + loss and hits (what fit reports)"
    fit, jit = "nn.Trainer(...).fit(DataLoader)", "dk.jit functional step (flat parameters)"
    fit_epoch, trainer = fit_runner(sizes, X, y, batch, lr)
    runners = {hand: epoch_runner(numpy_step(sizes, lr), X, y, batch),
               tracked: epoch_runner(numpy_step(sizes, lr, []), X, y, batch),
               fit: fit_epoch, jit: epoch_runner(jit_step(sizes, lr), X, y, batch)}
    peers = {}
    torch = optional("torch", w)
    if torch is not None:
        name = "PyTorch CPU eager" + (f" ({torch_threads} thread{'s' * (torch_threads > 1)})"
                                      if torch_threads else "")
        torch_epoch = epoch_runner(torch_step(torch, sizes, lr), X, y, batch, torch.from_numpy)

        def torch_run() -> float:
            threads = torch.get_num_threads()
            if torch_threads:
                torch.set_num_threads(torch_threads)
            try:
                return torch_epoch()
            finally:
                torch.set_num_threads(threads)

        runners[name] = peers[name] = torch_run
    ag, anp = optional("autograd", w), optional("autograd.numpy", w)
    if ag is not None and anp is not None:
        runners["HIPS autograd (grad + NumPy update)"] = peers[
            "HIPS autograd (grad + NumPy update)"] = epoch_runner(
                autograd_step(ag, anp, sizes, lr), X, y, batch)
    jax = optional("jax", w)
    if jax is not None:
        step = jax_step(jax, sizes, lr)
        runners["JAX jit(step)"] = peers["JAX jit(step)"] = epoch_runner(step, X, y, batch,
                                                                         sync=step.sync)
    times = interleaved(runners, epochs)
    w.add("", hand, "hand", times[hand] / per)
    w.add("", tracked, "hand", times[tracked] / per, "the first hand row is the goals' reference")
    w.add("", fit, "diffkit", times[fit] / per, f"step path: {trainer.compiled}")
    w.add("", jit, "diffkit", times[jit] / per,
          "the update inside the generated code; no loss value or hit count kept")
    for name in peers:
        w.add("", name, "peer", times[name] / per)


def w6_digits(cfg: Config) -> Workload:
    """Digits (sklearn, float32, /16), 80 % train split, MLP 64-128-64-10, batch 32, SGD 0.01."""
    X, y = nn.load_digits()
    Xtr, _, ytr, _ = nn.train_test_split(X, y, test_size=0.2, seed=0)
    w = Workload("6", f"digits MLP 64-128-64-10, batch 32, {len(Xtr)} rows, SGD lr 0.01",
                 "ms/epoch", 1e3)
    mlp_rows(w, [64, 128, 64, 10], Xtr, ytr, 32, 3 if cfg.quick else 40, 1.0, torch_threads=1)
    w.notes.append("PyTorch runs on 1 thread here: at batch 32 its threads only wait for each "
                   "other (on a busy 2-core machine 2 threads took ~125 ms a step, 1 thread 0.4 ms)")
    t_dk, t_h = w.time("", "nn.Trainer(...).fit(DataLoader)"), w.hand("")
    t_t = w.time("", "PyTorch CPU eager (1 thread)")
    peer = w.best_peer("")
    pv = peer and peer.seconds * 1e3
    goal(w, "diffkit <= 1.2x hand NumPy", "ms/epoch", (t_dk * 1e3, t_h * 1e3, pv),
         t_dk <= 1.2 * t_h, line=1.2 * t_h, rows=("nn.Trainer(...).fit(DataLoader)",))
    goal(w, ">= 3x faster than PyTorch CPU", "ms/epoch", (t_dk * 1e3, t_h * 1e3, t_t and t_t * 1e3),
         None if t_t is None else t_t / t_dk >= 3.0, line=t_t and t_t / 3,
         rows=("nn.Trainer(...).fit(DataLoader)",))
    return w


def w7_wide(cfg: Config) -> Workload:
    """MLP 784-1024-1024-10 at batch 512 on random data: ms per step."""
    steps = 4
    w = Workload("7", f"MLP 784-1024-1024-10, batch 512, random data ({steps} steps an epoch)",
                 "ms/step", 1e3)
    rng = np.random.default_rng(0)
    X = rng.normal(size=(512 * steps, 784)).astype(np.float32)
    y = rng.integers(0, 10, 512 * steps)
    mlp_rows(w, [784, 1024, 1024, 10], X, y, 512, 2 if cfg.quick else 3, steps)
    t_dk, t_h = w.time("", "nn.Trainer(...).fit(DataLoader)"), w.hand("")
    peer = w.best_peer("")
    goal(w, "diffkit <= 1.1x hand NumPy", "ms/step",
         (t_dk * 1e3, t_h * 1e3, peer and peer.seconds * 1e3), t_dk <= 1.1 * t_h,
         line=1.1 * t_h, rows=("nn.Trainer(...).fit(DataLoader)",))
    return w


# ----- 8. a 10^6-operation chain -------------------------------------------------------------------


def peak_rss_mib() -> float:
    """Peak resident set size of this process so far, MiB (Linux reports KiB, macOS bytes)."""
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return rss / 2**20 if sys.platform == "darwin" else rss / 1024


def w8_big(cfg: Config) -> Workload:
    """10^6 operations through the default dk.grad, three calls: no MemoryError, peak RSS."""
    steps = 333_333
    w = Workload("8", f"scalar chain of {3 * steps} operations, default dk.grad, 3 calls",
                 "s/call", 1.0, absolute=True)

    def body(x: Any) -> Any:
        for _ in range(steps):
            x = dk.sin(x) * 1.0001 + 0.01
        return x

    rss0 = peak_rss_mib()
    g, times, error = dk.grad(dk.function(body)), [], None
    try:
        for _ in range(3):
            times.append(first_call(lambda: g(0.3)))
    except MemoryError as exc:
        error = f"MemoryError: {exc}"
        w.notes.append(error)
    rss = peak_rss_mib()
    name = "dk.grad(dk.function(body))(0.3)"
    if times:
        w.add("", name, "diffkit", min(times), ", ".join(f"{t:.2f} s" for t in times))
    w.notes.append(f"peak RSS of the process: {rss:.0f} MiB (before this workload {rss0:.0f} MiB)")
    goal(w, "3 calls, no MemoryError", "s/call", (min(times) if times else None, None, None),
         error is None and len(times) == 3)
    w.goals[-1].text += f" (peak RSS {rss:.0f} MiB)"
    return w


# ----- printing, JSON, plot ------------------------------------------------------------------------


def fmt(v: float | None) -> str:
    """A number with 3 significant digits, or a dash."""
    return "—" if v is None else f"{v:.3g}"


def print_workload(w: Workload) -> None:
    """The workload's table: time, × hand, and × best peer for diffkit rows."""
    print(f"\n{w.key}. {w.title}  [{w.unit}]")
    print(f"  {'case':<16} {'implementation':<50} {'time':>10} {'x hand':>8} {'x best peer':>12}"
          "  note")
    for r in w.rows:
        hand, peer = w.hand(r.case), w.best_peer(r.case)
        xh = f"{r.seconds / hand:8.2f}" if hand else " " * 8
        xp = (f"{r.seconds / peer.seconds:12.2f}" if peer and r.kind == "diffkit" else " " * 12)
        print(f"  {r.case:<16} {r.name:<50} {r.seconds * w.scale:10.4g} {xh} {xp}  {r.note}")
    for g in w.goals:
        verdict = {True: "met", False: "MISSED", None: "n/a"}[g.met]
        print(f"  goal: {g.text}: {verdict} (diffkit {fmt(g.diffkit)} {g.unit})")
    for note in w.notes:
        print(f"  note: {note}")


def print_summary(done: list[Workload]) -> None:
    """The final table: workload | goal | diffkit | hand | best peer | met?"""
    print("\nSummary")
    head = f"{'workload':<9} {'goal':<52} {'diffkit':>10} {'hand':>10} {'best peer':>10}  met?"
    print(head)
    print("-" * len(head))
    print(f"{'':<9} (best peer: the fastest peer, or the one the goal names; '—': none)")
    for w in done:
        for g in w.goals:
            met = {True: "yes", False: "NO", None: "n/a"}[g.met]
            print(f"{w.key:<9} {g.text[:52]:<52} {fmt(g.diffkit):>10} {fmt(g.hand):>10} "
                  f"{fmt(g.peer):>10}  {met}   [{g.unit}]")


def write_json(path: str, done: list[Workload], args: argparse.Namespace) -> None:
    """Every row and goal, with ratios against hand and best peer."""
    out: dict[str, Any] = {
        "args": vars(args), "python": sys.version.split()[0], "machine": platform.platform(),
        "numpy": np.__version__, "workloads": [],
    }
    for w in done:
        d = asdict(w)
        for r in d["rows"]:
            hand, peer = w.hand(r["case"]), w.best_peer(r["case"])
            r["value"] = r["seconds"] * w.scale
            r["ratio_vs_hand"] = r["seconds"] / hand if hand else None
            r["ratio_vs_best_peer"] = r["seconds"] / peer.seconds if peer else None
        out["workloads"].append(d)
    with open(path, "w", encoding="utf-8") as fh:
        json.dump(out, fh, indent=1, ensure_ascii=False)
    print(f"\nwrote {path}")


COLORS = {"diffkit": "#e4572e", "setup": "#f3a712", "hand": "#222222", "peer": "#9aa5b1"}
GOAL_COLORS = ("#1b998b", "#8338ec", "#0057b8")


def plot_panel(ax: Any, w: Workload) -> None:
    """Horizontal bars: time / hand (log x) or seconds for absolute workloads; goals dashed."""
    import matplotlib.ticker

    rows = [r for r in w.rows if r.kind != "ref"]
    labels, values = [], []
    for r in rows:
        base = 1.0 if w.absolute else w.hand(r.case)
        labels.append(f"{r.case}  {r.name}".strip())
        values.append(r.seconds / base if base else float("nan"))
    y = np.arange(len(rows))[::-1]
    ax.barh(y, values, color=[COLORS[r.kind] for r in rows], height=0.7)
    ax.set_yticks(y, labels, fontsize=8)
    ax.set_xscale("log")
    for yi, v in zip(y, values):
        if np.isfinite(v):
            ax.text(v, yi, f" {v:.3g}{'' if w.absolute else 'x'}", va="center", fontsize=7)
    for g, color in zip(w.goals, GOAL_COLORS):
        ys = [yi for yi, r in zip(y, rows) if r.name in g.rows and r.case == g.case]
        base = 1.0 if w.absolute else w.hand(g.case)
        if g.line is None or not ys or not base:
            continue
        x = g.line / base
        ax.plot([x, x], [min(ys) - 0.5, max(ys) + 0.5], ls="--", color=color, lw=2,
                label=f"goal: {g.text}" + {True: " (met)", False: " (missed)", None: ""}[g.met])
    drawn = len(ax.get_legend_handles_labels()[0])
    if drawn:  # in the headroom left above the bars
        ax.legend(fontsize=7, loc="upper right", framealpha=0.9)
    finite = [v for v in values if np.isfinite(v)] + [1.0]
    ax.set_xlim(10 ** math.floor(math.log10(min(finite) / 2)),
                10 ** math.ceil(math.log10(max(finite) * 6)))  # whole decades: labelled ticks
    ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
    ax.set_ylim(-0.8, len(rows) - 0.2 + 0.75 * drawn)
    unit = "seconds" if w.absolute else "time / hand-written (log)"
    ax.set_title(textwrap.fill(f"{w.key}. {w.title}", 80), fontsize=9, loc="left")
    ax.set_xlabel(unit, fontsize=8)
    if not w.absolute:
        ax.axvline(1.0, color=COLORS["hand"], lw=0.8)
    ax.tick_params(axis="x", labelsize=7)


def write_plot(path: str, done: list[Workload]) -> None:
    """One figure, one panel per workload, two columns, panel heights from their bar counts."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    counts = [sum(r.kind != "ref" for r in w.rows) + 0.75 * len(w.goals) for w in done]
    ncols = 2 if len(done) > 1 else 1
    nrows = -(-len(done) // ncols)
    heights = [max(counts[i * ncols:(i + 1) * ncols]) + 2.5 for i in range(nrows)]
    fig = plt.figure(figsize=(8 * ncols, 0.3 * sum(heights) + 1), layout="constrained")
    grid = fig.add_gridspec(nrows, ncols, height_ratios=heights)
    for i, w in enumerate(done):
        plot_panel(fig.add_subplot(grid[i // ncols, i % ncols]), w)
    handles = [plt.Rectangle((0, 0), 1, 1, color=c) for c in COLORS.values()]
    fig.legend(handles, ["diffkit", "diffkit one-time setup", "hand-written", "peer"],
               loc="outside upper center", ncols=4, fontsize=9)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    print(f"wrote {path}")


# ----- main ----------------------------------------------------------------------------------------


WORKLOADS: dict[int, Callable[[Config], Workload]] = {
    1: w1_baydin, 2: w2_chain, 3: w3_vector, 4: w4_jacobian, 5: w5_symbolic, 6: w6_digits,
    7: w7_wide, 8: w8_big,
}


def chosen(args: argparse.Namespace) -> list[int]:
    """Workloads to run: --only, else 1-6 plus 7 (not with --quick) and 8 (with --big)."""
    if args.only:
        keys = sorted({int(k) for k in args.only.split(",") if k.strip()})
        bad = [k for k in keys if k not in WORKLOADS]
        if bad:
            raise SystemExit(f"--only: no workload {bad}; choose from 1-8")
        return keys
    return [k for k in WORKLOADS if k <= 6 or (k == 7 and not args.quick) or (k == 8 and args.big)]


def main() -> None:
    """Parse options, run the chosen workloads, print tables and the summary, write files."""
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--quick", action="store_true", help="fewer repeats, smaller sizes, no 7")
    p.add_argument("--big", action="store_true", help="also workload 8 (10^6-operation chain)")
    p.add_argument("--only", metavar="N[,N]", help="run only these workloads (e.g. 1,3)")
    p.add_argument("--json", metavar="PATH", help="write every number as JSON")
    p.add_argument("--plot", metavar="PATH", help="draw one bar panel per workload (PNG)")
    args = p.parse_args()
    cfg = Config(args.quick, args.big, repeat=3 if args.quick else 5,
                 target=0.005 if args.quick else 0.02)
    start, done = time.perf_counter(), []
    print(f"diffkit speed benchmark: Python {sys.version.split()[0]}, NumPy {np.__version__}, "
          f"{platform.machine()}; {'quick' if args.quick else 'full'} run")
    for key in chosen(args):
        w = WORKLOADS[key](cfg)
        print_workload(w)
        done.append(w)
    print_summary(done)
    print(f"\ntotal {time.perf_counter() - start:.0f} s")
    if args.json:
        write_json(args.json, done, args)
    if args.plot:
        write_plot(args.plot, done)


if __name__ == "__main__":
    main()
