"""diffkit against the libraries a user would pick instead, side by side in one run (prints ratios).

Run: ``python benchmarks/bench_compare.py [--quick]``. Peers that are not installed are skipped:
JAX, PyTorch, HIPS autograd, micrograd, SymPy lambdify, numdifftools, scipy.
Times are the best of several repeats (per call), on whatever machine runs this.
"""

from __future__ import annotations

import argparse
import importlib.util
import math
import timeit
from collections.abc import Callable
from typing import Any

import numpy as np

import diffkit as dk
from diffkit import compile_gradient
from diffkit.function import Function

X1, X2 = 2.0, 5.0
EXACT = (1 / X1 + X2, X1 - math.cos(X2))


def best(call: Callable[[], Any], number: int, repeat: int = 7) -> float:
    call()
    return min(timeit.repeat(call, number=number, repeat=repeat)) / number


def have(name: str) -> bool:
    return importlib.util.find_spec(name) is not None


def row(label: str, seconds: float, base: float | None = None, extra: str = "") -> None:
    ratio = f"{seconds / base:8.2f}x" if base else " " * 9
    print(f"  {label:<40} {seconds * 1e6:12.3f} µs {ratio}  {extra}")


# ----- 1. the Baydin gradient ----------------------------------------------------------------------


def baydin(n: int) -> None:
    print("\n1. gradient of ln(x1) + x1*x2 - sin(x2) at (2, 5)  (ratio: time / diffkit compiled)")
    f = dk.parse("ln(x1) + x1*x2 - sin(x2)")
    cg = compile_gradient(f, X1, X2)
    base = best(lambda: cg.grad(X1, X2), n * 50)
    row("diffkit compiled (CompiledGradient.grad)", base, base)
    row("diffkit compiled value+grad (cg(...))", best(lambda: cg(X1, X2), n * 50), base)
    for m in ("compiled", "reverse", "forward", "symbolic", "fd-richardson"):
        g = dk.grad(f, method=m)
        row(f"diffkit dk.grad(method={m!r})", best(lambda g=g: g(X1, X2), n), base)
    if have("jax"):
        import jax

        jax.config.update("jax_enable_x64", True)
        jg = jax.jit(jax.grad(lambda a, b: jax.numpy.log(a) + a * b - jax.numpy.sin(b), argnums=(0, 1)))
        row("JAX jit(grad)", best(lambda: jg(X1, X2), n), base)
    if have("torch"):
        import torch

        def tg() -> Any:
            a = torch.tensor(X1, dtype=torch.float64, requires_grad=True)
            b = torch.tensor(X2, dtype=torch.float64, requires_grad=True)
            y = torch.log(a) + a * b - torch.sin(b)
            return torch.autograd.grad(y, (a, b))

        row("PyTorch autograd.grad", best(tg, n), base)
    if have("autograd"):
        import autograd
        import autograd.numpy as anp

        ag = autograd.grad(lambda v: anp.log(v[0]) + v[0] * v[1] - anp.sin(v[1]))
        v = np.array([X1, X2])
        row("HIPS autograd.grad", best(lambda: ag(v), n), base)
    if have("micrograd"):
        from micrograd.engine import Value

        def mg() -> Any:  # micrograd has no log or sin: x1*x2 only, a lower bound on its cost
            a, b = Value(X1), Value(X2)
            y = a * b + a * b
            y.backward()
            return a.grad, b.grad

        row("micrograd (x1*x2 + x1*x2: no log/sin)", best(mg, n), base)
    import sympy as sp

    a, b = sp.symbols("a b")
    e = sp.log(a) + a * b - sp.sin(b)
    lam = sp.lambdify((a, b), [sp.diff(e, a), sp.diff(e, b)], "math")
    row("SymPy lambdify(diff) (math)", best(lambda: lam(X1, X2), n * 10), base)
    if have("numdifftools"):
        import numdifftools as nd

        ng = nd.Gradient(lambda v: np.log(v[0]) + v[0] * v[1] - np.sin(v[1]))
        v = np.array([X1, X2])
        err = float(np.max(np.abs(ng(v) - EXACT)))
        row("numdifftools Gradient", best(lambda: ng(v), max(n // 20, 3)), base, f"error {err:.1e}")
    if have("scipy"):
        from scipy.optimize import approx_fprime

        v = np.array([X1, X2])
        sf = lambda v: np.log(v[0]) + v[0] * v[1] - np.sin(v[1])
        err = float(np.max(np.abs(approx_fprime(v, sf) - EXACT)))
        row("scipy approx_fprime (forward FD)", best(lambda: approx_fprime(v, sf), n), base,
            f"error {err:.1e}")
    g = dk.grad(f, method="fd-richardson")
    err = float(np.max(np.abs(np.array(g(X1, X2)) - EXACT)))
    print(f"  diffkit fd-richardson error: {err:.1e}")


# ----- 2. a 10^4-operation scalar chain ------------------------------------------------------------


def chain(steps: int) -> None:
    print(f"\n2. scalar chain of {3 * steps} operations: x <- x + 0.001*sin(x)  (per operation)")

    def body(x: Any) -> Any:
        for _ in range(steps):
            x = x + 0.001 * dk.sin(x)
        return x

    fn = Function(body, ("x",), name="chain")
    ops = len(fn.graph(0.3).operations)
    t = timeit.default_timer()
    cg = compile_gradient(fn, 0.3)
    setup = timeit.default_timer() - t
    base = best(lambda: cg(0.3), 3) / ops
    row("diffkit compiled value+grad, per op", base, base, f"(compile once: {setup:.2f} s)")
    row("diffkit compiled grad only, per op", best(lambda: cg.grad(0.3), 3) / ops, base)
    g = dk.grad(fn)
    row("diffkit reverse (interpreted), per op", best(lambda: g(0.3), 1, 3) / ops, base)
    if have("jax"):
        import jax

        def jbody(x: Any) -> Any:
            for _ in range(steps):
                x = x + 0.001 * jax.numpy.sin(x)
            return x

        t = timeit.default_timer()
        jg = jax.jit(jax.grad(jbody))
        jg(0.3).block_until_ready()
        setup = timeit.default_timer() - t
        row("JAX jit(grad), per op", best(lambda: jg(0.3).block_until_ready(), 3) / ops, base,
            f"(compile once: {setup:.2f} s)")
    if have("torch"):
        import torch

        def tg() -> Any:
            x0 = torch.tensor(0.3, dtype=torch.float64, requires_grad=True)
            x = x0
            for _ in range(steps):
                x = x + 0.001 * torch.sin(x)
            return torch.autograd.grad(x, x0)

        row("PyTorch eager autograd, per op", best(tg, 1, 3) / ops, base)


# ----- 3. a vector function: grad / f --------------------------------------------------------------


def vector(sizes: tuple[int, ...]) -> None:
    print("\n3. f(x) = sum(log x + x*roll(x, 1) - sin x): time(grad) / time(f)")
    fn = dk.function(lambda x: dk.sum(dk.log(x) + x * dk.roll(x, 1) - dk.sin(x)))

    def npf(x: np.ndarray) -> float:
        return float(np.sum(np.log(x) + x * np.roll(x, 1) - np.sin(x)))

    for n in sizes:
        x = np.random.default_rng(0).uniform(0.5, 1.5, n)
        number = max(1, 2000 // max(1, n // 500))
        cg = compile_gradient(fn, x)
        tf = best(lambda x=x: fn(x), number)
        tn = best(lambda x=x: npf(x), number)
        print(f"  n = {n}: f (diffkit) {tf * 1e6:.1f} µs, f (plain NumPy) {tn * 1e6:.1f} µs")
        row("diffkit compiled grad (cg.grad)", best(lambda x=x, cg=cg: cg.grad(x), number), tf)
        row("diffkit compiled value+grad", best(lambda x=x, cg=cg: cg(x), number), tf)
        g = dk.grad(fn, method="compiled")
        row("diffkit dk.grad(method='compiled')", best(lambda x=x, g=g: g(x), number), tf)
        g = dk.grad(fn)
        row("diffkit dk.grad (reverse)", best(lambda x=x, g=g: g(x), number), tf)
        if have("jax"):
            import jax

            jf = jax.jit(jax.grad(lambda x: jax.numpy.sum(jax.numpy.log(x) + x * jax.numpy.roll(x, 1)
                                                          - jax.numpy.sin(x))))
            row("JAX jit(grad)", best(lambda x=x, jf=jf: jf(x).block_until_ready(), number), tf)
        if have("torch"):
            import torch

            def tg(x: np.ndarray = x) -> Any:
                t = torch.tensor(x, requires_grad=True)
                y = torch.sum(torch.log(t) + t * torch.roll(t, 1) - torch.sin(t))
                return torch.autograd.grad(y, t)

            row("PyTorch autograd.grad", best(tg, number), tf)
        print("  (ratio column: time / time(f) with f evaluated by diffkit)")


# ----- 4. auto against forward and reverse ---------------------------------------------------------


def auto(n_calls: int) -> None:
    print("\n4. Jacobian of tanh(A @ x): auto against the better of forward and reverse")
    rng = np.random.default_rng(0)
    for n, m in ((1, 1000), (1000, 1)):
        A = rng.standard_normal((m, n))
        x = rng.standard_normal(n)
        fn = Function(lambda x, A=A: dk.tanh(A @ x), ("x",), name="tanh_Ax")
        times = {}
        for meth in ("forward", "reverse", "auto"):
            j = dk.jacobian(fn, method=meth)
            times[meth] = best(lambda j=j, x=x: j(x), n_calls)
        better = min(times["forward"], times["reverse"])
        print(f"  (n, m) = ({n}, {m}): forward {times['forward'] * 1e6:.0f} µs, reverse "
              f"{times['reverse'] * 1e6:.0f} µs, auto {times['auto'] * 1e6:.0f} µs "
              f"-> auto / better = {times['auto'] / better:.2f}")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--quick", action="store_true", help="fewer repeats and smaller sizes")
    args = p.parse_args()
    n = 200 if args.quick else 2000
    baydin(n)
    chain(1000 if args.quick else 3334)
    vector((1000,) if args.quick else (1000, 1_000_000))
    auto(3 if args.quick else 10)


if __name__ == "__main__":
    main()
