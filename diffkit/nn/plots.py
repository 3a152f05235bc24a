"""Pictures of training: loss/accuracy curves, gradient norms, decision boundaries, and optimizer
trajectories on 2-D test functions (matplotlib is imported only when a plot is drawn)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

from ..backend import to_numpy
from ..tensor import Tensor
from .inference import predict
from .layers import Sequential, Sigmoid
from .module import Module, Parameter, value_of
from .optim import SGD, Adam, Optimizer, RMSprop

if TYPE_CHECKING:  # History.plot() calls plot_history: train imports this module, not back
    from .train import History


def _plt() -> Any:
    import matplotlib.pyplot as plt

    return plt


def _epoch_axis(ax: Any, epochs: int) -> None:
    """Whole epochs on the x axis, counted from 1: ticks at 1 and at multiples of a round step."""
    from matplotlib.ticker import FixedLocator

    n = max(epochs, 1)
    step = next(s for s in (1, 2, 5, 10, 20, 25, 50, 100, 200, 250, 500, 1000, n) if n / s <= 8)
    ticks = sorted({1, *range(step, n + 1, step)})
    ax.set_xlabel("epoch")
    ax.xaxis.set_major_locator(FixedLocator(ticks))
    pad = max(0.3, 0.02 * (n - 1))
    ax.set_xlim(1 - pad, n + pad)


def _epochs(values: Any) -> range:
    return range(1, len(values) + 1)


def plot_history(history: History) -> Any:
    """Loss and accuracy per epoch (training and validation); returns the Figure.

    Example:
        >>> import diffkit.nn as nn
        >>> fig = nn.plots.plot_history(history)  # doctest: +SKIP
    """
    plt = _plt()
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(10, 4))
    for key, ax in (("loss", a1), ("accuracy", a2)):
        ax.plot(_epochs(history[key]), history[key], "o-", ms=3, label=f"training {key}")
        if history[f"val_{key}"]:
            ax.plot(_epochs(history[f"val_{key}"]), history[f"val_{key}"], "s--", ms=3,
                    label=f"validation {key}")
        ax.set_title(f"{key.capitalize()} per epoch")
        ax.set_ylabel(key)
        _epoch_axis(ax, len(history[key]))
        ax.grid(True, alpha=0.3)
        ax.legend()
    fig.tight_layout()
    return fig


def plot_grad_norms(history: History) -> Any:
    """Mean gradient norm of each weight per epoch (log scale): vanishing/exploding gradients.

    Example:
        >>> fig = nn.plots.plot_grad_norms(history)  # doctest: +SKIP
    """
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6.5, 4))
    for name, norms in history["grad_norms"].items():
        ax.semilogy(_epochs(norms), norms, "o-", ms=3, label=name)
    ax.set_title("Mean gradient norm of each weight per epoch")
    ax.set_ylabel("‖∂L/∂W‖ (mean over the epoch's batches)")
    _epoch_axis(ax, max((len(v) for v in history["grad_norms"].values()), default=1))
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def default_threshold(model: Module) -> float:
    """The decision threshold for a model with one output: 0.5 when its last layer is a Sigmoid
    (the output is a probability), else 0 (a logit), the Trainer's scores for
    binary_cross_entropy and binary_cross_entropy_with_logits."""
    last = model
    while isinstance(last, Sequential) and len(last):
        last = last[-1]
    return 0.5 if isinstance(last, Sigmoid) else 0.0


def predicted_class(out: Any, threshold: float) -> np.ndarray:
    """Class per row: arg-max over two or more outputs, ``output > threshold`` for one output
    ((N,) or (N, 1))."""
    z = np.asarray(to_numpy(value_of(out)))
    z = z.reshape(len(z), -1)
    return (z[:, 0] > threshold).astype(int) if z.shape[1] == 1 else z.argmax(1)


def plot_decision_boundary(model: Module, X: np.ndarray, y: np.ndarray, resolution: int = 200,
                           title: str = "Decision boundary: predicted class and the data",
                           threshold: float | None = None) -> Any:
    """Predicted class over the plane with the data on top (for 2-D datasets).

    Several outputs are scored by arg-max; one output ((N,) or (N, 1)) as ``output > threshold``,
    with `threshold` by default 0.5 when the model ends in a Sigmoid and 0 otherwise
    (:func:`default_threshold`), as the Trainer scores the binary losses.

    Example:
        >>> fig = nn.plots.plot_decision_boundary(model, X, y)  # doctest: +SKIP
    """
    plt = _plt()
    pad = 0.5
    xs = np.linspace(X[:, 0].min() - pad, X[:, 0].max() + pad, resolution)
    ys = np.linspace(X[:, 1].min() - pad, X[:, 1].max() + pad, resolution)
    gx, gy = np.meshgrid(xs, ys)
    t = default_threshold(model) if threshold is None else threshold
    cls = predicted_class(predict(model, np.c_[gx.ravel(), gy.ravel()]), t)
    labels = np.asarray(to_numpy(y)).reshape(-1)
    classes = np.unique(np.concatenate([labels, cls]))
    fig, ax = plt.subplots(figsize=(5.5, 5))
    cmap = plt.get_cmap("coolwarm")
    norm = plt.Normalize(classes.min(), max(classes.max(), classes.min() + 1))
    ax.contourf(gx, gy, cls.reshape(gx.shape), levels=np.append(classes - 0.5, classes[-1] + 0.5),
                alpha=0.3, cmap=cmap, norm=norm)
    for c in np.unique(labels):
        ax.scatter(X[labels == c, 0], X[labels == c, 1], color=cmap(norm(c)), edgecolors="k",
                   s=15, label=f"class {c}")
    ax.set_title(title)
    ax.set_xlabel("x₁ (first feature)")
    ax.set_ylabel("x₂ (second feature)")
    ax.legend(fontsize=8, title="data (shading: prediction)", title_fontsize=8)
    fig.tight_layout()
    return fig


# ----- optimizer trajectories on 2-D functions


def rosenbrock(p: Any) -> Any:
    """(1 − x)² + 100 (y − x²)², minimum at (1, 1)."""
    x, y = p[0], p[1]
    return (1.0 - x) ** 2 + 100.0 * (y - x * x) ** 2


def saddle(p: Any) -> Any:
    """x² − y² (+ a small quartic so it is bounded below): a saddle point at the origin."""
    x, y = p[0], p[1]
    return x * x - y * y + 0.05 * y**4


FUNCTIONS: dict[str, tuple[Callable[[Any], Any], tuple[float, float]]] = {
    "rosenbrock": (rosenbrock, (-1.5, 2.0)),
    "saddle": (saddle, (-1.0, 1e-3)),
}

DEFAULT_OPTIMIZERS: dict[str, Callable[[list[Tensor]], Optimizer]] = {
    "SGD": lambda ps: SGD(ps, lr=1e-3),
    "Momentum": lambda ps: SGD(ps, lr=1e-3, momentum=0.9),
    "Nesterov": lambda ps: SGD(ps, lr=1e-3, momentum=0.9, nesterov=True),
    "RMSprop": lambda ps: RMSprop(ps, lr=1e-2),
    "Adam": lambda ps: Adam(ps, lr=5e-2),
}


def trajectories(function: str | Callable[[Any], Any] = "rosenbrock", start: Any = None,
                 steps: int = 300,
                 optimizers: dict[str, Callable[[list[Tensor]], Optimizer]] | None = None
                 ) -> dict[str, np.ndarray]:
    """The points each optimizer visits, (steps + 1, 2) per optimizer name; gradients come from
    ``backward()`` on the function.

    Example:
        >>> import diffkit.nn as nn
        >>> paths = nn.plots.trajectories("rosenbrock", steps=10)
        >>> paths["Adam"].shape
        (11, 2)
    """
    fn, default_start = FUNCTIONS[function] if isinstance(function, str) else (function, (0.0, 0.0))
    start = np.asarray(default_start if start is None else start, dtype=np.float64)
    out = {}
    for name, make in (optimizers or DEFAULT_OPTIMIZERS).items():
        p = Parameter(start.copy(), name="point")
        opt = make([p])
        path = [start.copy()]
        for _ in range(steps):
            opt.zero_grad()
            fn(p).backward()
            opt.step()
            path.append(np.array(to_numpy(p.value)))
        out[name] = np.array(path)
    return out


#: How each optimizer's path is drawn: colour, line style, marker (every few steps, at its end).
STYLES = (("#1f77b4", "-", "o"), ("#ff7f0e", "--", "s"), ("#2ca02c", "-.", "^"),
          ("#d62728", ":", "D"), ("#9467bd", (0, (5, 1, 1, 1, 1, 1)), "v"),
          ("#8c564b", (0, (8, 2)), "P"), ("#e377c2", (0, (1, 1)), "X"))
#: Paths are drawn inside this box around the start; one that leaves it is clipped, and says so.
BOUND = 10.0


def plot_trajectories(function: str = "rosenbrock", steps: int = 300, **kwargs: Any) -> Any:
    """Contours of a 2-D function and the paths of SGD, momentum, Nesterov, RMSprop and Adam.

    Every path stays visible: each has its own colour, line style and marker; the paths that
    cover the least ground are drawn on top; the axes hold every path and its end point (one that
    left the box ±BOUND around the start is clipped, and its legend entry says where it ended).

    Example:
        >>> fig = nn.plots.plot_trajectories("saddle")  # doctest: +SKIP
    """
    plt = _plt()
    paths = trajectories(function, steps=steps, **kwargs)
    fn = FUNCTIONS[function][0]
    start = next(iter(paths.values()))[0]

    def inside(p: np.ndarray) -> np.ndarray:
        return np.all(np.isfinite(p), axis=-1) & np.all(np.abs(p - start) <= BOUND, axis=-1)

    pts = np.concatenate([p[inside(p)] for p in paths.values()] + [start[None]])
    if function == "rosenbrock":
        pts = np.vstack([pts, [1.0, 1.0]])
    lo, hi = pts.min(0), pts.max(0)
    margin = np.maximum(0.08 * (hi - lo), 0.25)
    lo, hi = lo - margin, hi + margin
    gx, gy = np.meshgrid(np.linspace(lo[0], hi[0], 240), np.linspace(lo[1], hi[1], 240))
    z = np.asarray(fn(np.stack([gx, gy])))
    fig, ax = plt.subplots(figsize=(8, 6))
    levels = np.logspace(-1, 3.5, 25) if function == "rosenbrock" else 25
    ax.contour(gx, gy, z, levels=levels, colors="0.65", linewidths=0.5, linestyles="solid",
               zorder=1)
    extent = {name: float(np.ptp(p[inside(p)], axis=0).sum()) for name, p in paths.items()}
    on_top = sorted(paths, key=lambda n: -extent[n])  # the widest first, the smallest last
    clipped = []
    for k, (name, path) in enumerate(paths.items()):
        color, ls, marker = STYLES[k % len(STYLES)]
        rank = on_top.index(name)  # 0: drawn first, at the bottom, widest line and end marker
        end = path[-1]
        label = f"{name} (f = {float(np.asarray(fn(end))):.3g})"
        if not inside(path[-1:])[0]:
            clipped.append(name)
            label = f"{name} (ended off the plot at ({end[0]:.3g}, {end[1]:.3g}))"
        shown = path[inside(path)]
        ax.plot(shown[:, 0], shown[:, 1], ls=ls, lw=2.8 - 0.4 * rank, color=color,
                marker=marker, ms=4, markevery=max(1, len(shown) // 12), alpha=0.9,
                label=label, zorder=3 + rank)
        if name not in clipped:  # nested circles: ends that coincide leave each other a rim
            ax.plot(*end, marker="o", ms=16 - 2.2 * rank, color=color, mec="k", mew=1.0,
                    ls="none", zorder=20 + rank)
    ax.plot(*start, "ks", ms=8, label=f"start ({start[0]:.3g}, {start[1]:.3g})", zorder=30)
    if function == "rosenbrock":
        ax.plot(1.0, 1.0, "k*", ms=14, label="minimum (1, 1)", zorder=30)
    ax.set_xlim(lo[0], hi[0])
    ax.set_ylim(lo[1], hi[1])
    ax.set_xlabel("x")
    ax.set_ylabel("y")
    note = f"; clipped: {', '.join(clipped)}" if clipped else ""
    ax.set_title(f"{function}: {steps} steps of each optimizer\n(circles: where each "
                 f"ended; smallest paths drawn on top{note})", fontsize=11)
    ax.legend(fontsize=8, loc="best", framealpha=0.9)
    fig.tight_layout()
    return fig


__all__ = [
    "plot_decision_boundary",
    "plot_grad_norms",
    "plot_history",
    "plot_trajectories",
    "rosenbrock",
    "saddle",
    "trajectories",
]
