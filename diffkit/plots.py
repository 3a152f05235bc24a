"""The three pictures behind a comparison: FD error against step, forward/reverse cost, swell.

Each function returns a matplotlib Figure (matplotlib is imported here, on first use) and draws
nothing on screen; save it with ``fig.savefig("x.png")``.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from .build import as_function
from .errors import NonDifferentiableError
from .function import STRICT, as_input

FD_SCHEMES = ("forward", "central", "complex", "richardson")
_COLORS = {"forward": "#d62728", "central": "#1f77b4", "complex": "#2ca02c", "richardson": "#9467bd",
           "reverse": "#ff7f0e", "auto": "#7f7f7f"}
#: what the cost plot measures, whatever function a comparison is about
COST_BENCHMARK = ("a 3-layer tanh network tanh(C·tanh(B·tanh(A·x))) with n inputs, m outputs "
                  "and 256 hidden units")
COST_TITLE = ("Built-in benchmark (not your function): forward against reverse mode, Jacobian of\n"
              "tanh(C·tanh(B·tanh(A·x))), A (256, n), B (256, 256), C (m, 256)")
#: the built-in family of the swell plot
SWELL_BENCHMARK = "f_k: k nested steps x ← sin(x)·x + x"
#: errors below this are drawn on the floor (an exact 0 has no logarithm)
FLOOR = 1e-17


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    return plt


def plot_fd_error(f: Any, *point: Any, steps: Sequence[float] | None = None,
                  schemes: Sequence[str] = FD_SCHEMES) -> Any:
    """FD error (max over the gradient, against the exact reference) against the step h, log–log.

    Truncation error falls as hᵖ (p = 1 forward, 2 central and complex step, higher for
    Richardson) until rounding error, which grows as ε/h, takes over; the complex step has no
    subtraction, so it has no rounding branch. A marker shows each scheme's automatic answer at
    the step it came from (Richardson's: the first step of the tableau it kept, as the table's
    note says).

    Example:
        >>> import diffkit as dk
        >>> fig = dk.plots.plot_fd_error("ln(x1) + x1*x2 - sin(x2)", 2.0, 5.0)
    """
    from .comparison import _reference, step_taken
    from .engines.finite import FiniteDifferenceEngine

    plt = _pyplot()
    fn = as_function(f)
    xs = [as_input(p) for p in point]
    ref, kind = _reference(fn, xs, scalar=True)
    if ref is None:
        raise NonDifferentiableError(f"plot_fd_error: {kind.split(';')[0]}, so there is no error "
                                     "to plot against")
    hs = np.logspace(-20, 0, 81) if steps is None else np.asarray(steps, dtype=float)
    fig, ax = plt.subplots(figsize=(7.5, 5))
    wrt = list(range(fn.arity))
    for scheme in schemes:
        errors = []
        for h in hs:
            errors.append(_fd_error(FiniteDifferenceEngine(scheme=scheme, step=float(h)), fn, xs, wrt, ref))
        ax.loglog(hs, np.maximum(errors, FLOOR), color=_COLORS[scheme], label=scheme, lw=1.6,
                  ls="--" if scheme == "complex" else "-")
        auto = FiniteDifferenceEngine(scheme=scheme)
        err = _fd_error(auto, fn, xs, wrt, ref)  # then the step its answer came from (Richardson
        h_auto = float(np.max(step_taken(auto, xs)))  # may restart from smaller ones)
        ax.loglog([h_auto], [max(err, FLOOR)], marker="o", ms=9, mfc="white", mew=2,
                  color=_COLORS[scheme], ls="none")
        ax.annotate(f"auto h={h_auto:.0e}", (h_auto, max(err, FLOOR)), textcoords="offset points",
                    xytext=(6, 6), fontsize=8, color=_COLORS[scheme])
    ax.axhline(np.finfo(float).eps * max(1.0, float(np.max(np.abs(ref)))), color="0.5", ls=":", lw=1)
    ax.text(hs[0], np.finfo(float).eps * 1.6 * max(1.0, float(np.max(np.abs(ref)))),
            "ε·|f′| (double precision)", fontsize=8, color="0.4")
    ax.set_xlabel("step h")
    ax.set_ylabel("max |error| of the gradient")
    ax.set_ylim(FLOOR / 3, None)
    ax.set_title(f"Finite-difference error against step: {fn.text or fn.name}\n"
                 f"reference: {kind.split(' (')[0]}; an error of 0 is drawn at {FLOOR:.0e}; "
                 "central and complex share the h² branch", fontsize=10)
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(title="scheme (○ = automatic step)", fontsize=9)
    fig.tight_layout()
    return fig


def _fd_error(engine: Any, fn: Any, xs: list[Any], wrt: list[int], ref: np.ndarray) -> float:
    try:
        with np.errstate(**STRICT):
            _, jac = engine.jacobian(fn, xs, wrt)
        return float(np.max(np.abs(np.reshape(jac, -1) - ref)))
    except (ValueError, ArithmeticError, NotImplementedError):
        return float("nan")


def _time(call: Callable[[], Any], repeat: int = 5) -> float:
    call()
    t0 = time.perf_counter()
    call()
    once = max(time.perf_counter() - t0, 1e-7)
    number = max(1, min(200, int(0.01 / once)))
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        for _ in range(number):
            call()
        times.append((time.perf_counter() - t0) / number)
    return statistics.median(times)


#: n (or m) for the cost plot, the other fixed at COST_FIXED, and the hidden width: wide enough
#: that the array work, not the per-operation overhead, decides. Both modes keep a Jacobian's
#: identity seeds diagonal through the first (last) layer, so a one-layer map tanh(A·x) costs
#: them the same; with a hidden layer between, forward pays n·h² and reverse m·h² on top of the
#: shared n·h·m, and the curves cross at n = m
COST_SIZES, COST_FIXED, COST_HIDDEN = (1, 4, 16, 64, 256, 1024), 64, 256


def cost_curves(sizes: Sequence[int] = COST_SIZES, fixed: int = COST_FIXED,
                methods: Sequence[str] = ("forward", "reverse"), seed: int = 0,
                hidden: int = COST_HIDDEN) -> dict[str, dict[str, list[float]]]:
    """Seconds per Jacobian of tanh(C·tanh(B·tanh(A·x))), A (h, n), B (h, h), C (m, h): n grows
    (m = fixed), then m grows."""
    from . import api, ops
    from .function import Function

    rng = np.random.default_rng(seed)
    out: dict[str, dict[str, list[float]]] = {"n": {m: [] for m in methods}, "m": {m: [] for m in methods}}
    B = rng.standard_normal((hidden, hidden)) / np.sqrt(hidden)
    for axis in ("n", "m"):
        for k in sizes:
            n, m = (k, fixed) if axis == "n" else (fixed, k)
            A = rng.standard_normal((hidden, n)) / np.sqrt(n)
            C = rng.standard_normal((m, hidden)) / np.sqrt(hidden)
            x = rng.standard_normal(n)

            def net(x: Any, A: Any = A, C: Any = C) -> Any:
                return ops.tanh(C @ ops.tanh(B @ ops.tanh(A @ x)))

            fn = Function(net, ("x",), name="tanh_net")
            for method in methods:
                jac = api.jacobian(fn, method=method)
                out[axis][method].append(_time(lambda jac=jac, x=x: jac(x)))
    return out


def plot_cost(sizes: Sequence[int] = COST_SIZES, fixed: int = COST_FIXED,
              methods: Sequence[str] = ("forward", "reverse", "auto")) -> Any:
    """Forward against reverse: time per Jacobian of a 3-layer tanh network with n inputs and m
    outputs as n, then m, grows (log–log).

    Forward mode's work grows with the number of inputs n, reverse mode's with the number of
    outputs m; the dashed line is n = m, where the "auto" rule switches. This is a built-in
    benchmark, whatever function is being compared: scaling needs a family of functions with n
    inputs and m outputs, which one fixed expression is not; the title says so.

    Example:
        >>> import diffkit as dk
        >>> fig = dk.plots.plot_cost(sizes=(1, 4, 16), fixed=4)
    """
    plt = _pyplot()
    curves = cost_curves(sizes, fixed, methods)
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.6), sharey=True)
    for ax, axis in zip(axes, ("n", "m")):
        for method in methods:
            style = {"ls": "--", "lw": 1.2, "marker": ""} if method == "auto" else {"marker": "o", "ms": 4}
            ax.loglog(sizes, np.asarray(curves[axis][method]) * 1e6, color=_COLORS.get(method, "k"),
                      label=method, **style)
        ax.axvline(fixed, color="0.5", ls=":", lw=1)
        ax.text(fixed * 1.08, 0.97, "n = m", transform=ax.get_xaxis_transform(), fontsize=8,
                color="0.4", va="top")
        cross = _crossover(sizes, curves[axis].get("forward"), curves[axis].get("reverse"))
        if cross is not None:
            ax.axvline(cross, color="k", ls="-", lw=0.8, alpha=0.6)
            ax.text(cross * 1.08, 0.06, f"measured crossover ≈ {cross:.3g}",
                    transform=ax.get_xaxis_transform(), fontsize=8)
        other = "m" if axis == "n" else "n"
        ax.set_xlabel(f"{'inputs' if axis == 'n' else 'outputs'} {axis}  ({other} = {fixed})")
        mode = "forward" if axis == "n" else "reverse"
        note = "" if cross is not None else " (no crossover in this range)"
        ax.set_title(f"{axis} grows: {mode} mode's cost grows with {axis}{note}", fontsize=10)
        ax.grid(True, which="major", alpha=0.3)
    axes[0].set_ylabel("time per Jacobian (µs)")
    axes[0].legend()
    fig.suptitle(COST_TITLE, fontsize=11)
    fig.tight_layout()
    return fig


def _crossover(xs: Sequence[int], a: Sequence[float] | None, b: Sequence[float] | None) -> float | None:
    """Where curve a − b changes sign (interpolated in log space), if it does."""
    if not a or not b:
        return None
    d = np.log(np.asarray(a)) - np.log(np.asarray(b))
    for i in range(len(d) - 1):
        if d[i] == 0:
            return float(xs[i])
        if d[i] * d[i + 1] < 0:
            t = d[i] / (d[i] - d[i + 1])
            return float(np.exp(np.log(xs[i]) + t * (np.log(xs[i + 1]) - np.log(xs[i]))))
    return None


def swell_sizes(depths: Sequence[int] = tuple(range(1, 11))) -> dict[str, list[int]]:
    """Symbolic derivative sizes for f_k: k nested steps x ← sin(x)·x + x (trace length 3k)."""
    from .engines.symbolic import SymbolicEngine
    from .function import Function
    from .primitives import sin

    out: dict[str, list[int]] = {"trace": [], "tree": [], "dag": [], "cse": []}
    for k in depths:
        def body(x: Any, k: int = k) -> Any:
            for _ in range(k):
                x = sin(x) * x + x
            return x

        fn = Function(body, ("x",), name=f"f{k}")
        deriv = SymbolicEngine().derive(fn, [0.5], [0])
        sizes = deriv.sizes()
        out["trace"].append(len(fn.graph(0.5).operations))
        for key in ("tree", "dag", "cse"):
            out[key].append(sizes[key])
    return out


def function_sizes(f: Any, *point: Any) -> dict[str, Any]:
    """Operations in `f`'s trace and in its symbolic gradient (as trees, as a DAG, after CSE) at
    `point`; ``{"error": …}`` instead of the sizes when SymPy cannot derive it."""
    from .engines.symbolic import SymbolicEngine
    from .errors import DiffkitError

    fn = as_function(f)
    xs = [as_input(p) for p in point]
    out: dict[str, Any] = {"name": fn.text or fn.name,
                           "trace": len(fn.graph(*xs).operations)}
    try:
        out.update(SymbolicEngine().derive(fn, xs, list(range(fn.arity))).sizes())
    except (DiffkitError, NotImplementedError, ValueError, TypeError) as exc:
        out["error"] = f"{type(exc).__name__}: {exc}"
    return out


def plot_swell(f: Any = None, *point: Any, depths: Sequence[int] = tuple(range(1, 11))) -> Any:
    """Expression swell: operations in the symbolic derivative against the trace length.

    On the built-in family f_k (k nested steps x ← sin(x)·x + x) the fully substituted tree
    doubles with each nesting (exponential), while the program that keeps shared subexpressions
    (DAG) and its CSE grow linearly, like reverse mode itself. Given a function `f` and a point,
    its own sizes are drawn next to the family (stars at its trace length) and as bars.

    Example:
        >>> import diffkit as dk
        >>> fig = dk.plots.plot_swell(depths=(1, 2, 3))
        >>> fig = dk.plots.plot_swell("sin(x)*exp(x)*cos(x*y)", 1.0, 2.0, depths=(1, 2, 3))
    """
    if f is not None and not point:
        raise TypeError("plot_swell(f, *point): give the point to trace f at, as for dk.grad")
    plt = _pyplot()
    s = swell_sizes(depths)
    mine = function_sizes(f, *point) if f is not None else None
    if mine is None:
        fig, ax = plt.subplots(figsize=(7.5, 5))
    else:
        fig, (ax, bars) = plt.subplots(1, 2, figsize=(12, 5), gridspec_kw={"width_ratios": [3, 2]})
    series = (("tree", "o-", "#d62728", "expression tree (substituted)"),
              ("dag", "s-", "#1f77b4", "shared program (DAG)"),
              ("cse", "^-", "#2ca02c", "after CSE"))
    for key, style, color, label in series:
        ax.semilogy(s["trace"], s[key], style, color=color, label=f"f_k: {label}")
    ax.semilogy(s["trace"], s["trace"], ":", color="0.5", label="trace length (reference)")
    if mine is not None and "error" not in mine:
        # nested sizes, largest first, so that equal counts (DAG = CSE) stay visible
        for (key, _, color, _label), size in zip(series, (20, 15, 10)):
            ax.semilogy([mine["trace"]], [max(mine[key], 1)], "*", ms=size, color=color,
                        mec="k", mew=0.8, zorder=5)
        ax.plot([], [], "*", ms=12, color="w", mec="k", label="your f (★, colours as above)")
    ax.set_xlabel("trace length (operations in f)")
    ax.set_ylabel("operations in the derivative")
    ax.set_title(f"Expression swell of symbolic derivatives\nbuilt-in {SWELL_BENCHMARK}",
                 fontsize=11)
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(fontsize=9)
    if mine is not None:
        _swell_bars(bars, mine)
    fig.tight_layout()
    return fig


def _swell_bars(ax: Any, mine: dict[str, Any]) -> None:
    """The user's function: trace length and derivative sizes as labelled bars."""
    name = mine["name"] if len(mine["name"]) <= 40 else mine["name"][:39] + "…"
    ax.set_title(f"your function: {name}", fontsize=11)
    ax.set_ylabel("operations")
    if "error" in mine:
        ax.set_axis_off()
        ax.text(0.5, 0.5, f"no symbolic derivative:\n{mine['error'][:160]}", ha="center",
                va="center", wrap=True, transform=ax.transAxes, fontsize=9)
        return
    keys = ("trace", "tree", "dag", "cse")
    labels = ("trace of f", "derivative\nas trees", "shared\nprogram (DAG)", "after CSE")
    colors = ("0.6", "#d62728", "#1f77b4", "#2ca02c")
    heights = [mine[k] for k in keys]
    drawn = ax.bar(labels, heights, color=colors)
    ax.bar_label(drawn, fontsize=9)
    ax.set_ylim(0, max(heights) * 1.15 + 1)
    ax.grid(True, axis="y", alpha=0.3)


__all__ = [
    "cost_curves",
    "function_sizes",
    "plot_cost",
    "plot_fd_error",
    "plot_swell",
    "swell_sizes",
]
