"""Pictures of training: loss/accuracy curves, gradient norms, decision boundaries, and optimizer
trajectories on 2-D test functions (matplotlib is imported only when a plot is drawn)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

from ..backend import to_numpy
from ..tensor import Tensor
from .inference import predict
from .module import Module, Parameter
from .optim import SGD, Adam, Optimizer, RMSprop

if TYPE_CHECKING:  # History.plot() calls plot_history: train imports this module, not back
    from .train import History


def _plt() -> Any:
    import matplotlib.pyplot as plt

    return plt


def plot_history(history: History) -> Any:
    """Loss and accuracy per epoch (training and validation); returns the Figure.

    Example:
        >>> import diffkit.nn as nn
        >>> fig = nn.plots.plot_history(history)  # doctest: +SKIP
    """
    plt = _plt()
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(10, 4))
    for key, ax in (("loss", a1), ("accuracy", a2)):
        ax.plot(history[key], label=f"train {key}")
        if history[f"val_{key}"]:
            ax.plot(history[f"val_{key}"], label=f"validation {key}")
        ax.set_xlabel("epoch")
        ax.set_ylabel(key)
        ax.legend()
    fig.tight_layout()
    return fig


def plot_grad_norms(history: History) -> Any:
    """Mean gradient norm of each weight per epoch (log scale): vanishing/exploding gradients.

    Example:
        >>> fig = nn.plots.plot_grad_norms(history)  # doctest: +SKIP
    """
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6, 4))
    for name, norms in history["grad_norms"].items():
        ax.semilogy(norms, label=name)
    ax.set_xlabel("epoch")
    ax.set_ylabel("‖∂L/∂W‖")
    ax.legend()
    return fig


def plot_decision_boundary(model: Module, X: np.ndarray, y: np.ndarray, resolution: int = 200) -> Any:
    """Predicted class over the plane with the data on top (for 2-D datasets).

    Example:
        >>> fig = nn.plots.plot_decision_boundary(model, X, y)  # doctest: +SKIP
    """
    plt = _plt()
    pad = 0.5
    xs = np.linspace(X[:, 0].min() - pad, X[:, 0].max() + pad, resolution)
    ys = np.linspace(X[:, 1].min() - pad, X[:, 1].max() + pad, resolution)
    gx, gy = np.meshgrid(xs, ys)
    out = to_numpy(predict(model, np.c_[gx.ravel(), gy.ravel()]))
    cls = (out[:, 0] > 0).astype(int) if out.shape[1] == 1 else out.argmax(1)
    fig, ax = plt.subplots(figsize=(5, 5))
    ax.contourf(gx, gy, cls.reshape(gx.shape), alpha=0.3, cmap="coolwarm")
    ax.scatter(X[:, 0], X[:, 1], c=y, cmap="coolwarm", edgecolors="k", s=15)
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


def plot_trajectories(function: str = "rosenbrock", steps: int = 300, **kwargs: Any) -> Any:
    """Contours of a 2-D function with each optimizer's path (SGD, momentum, Nesterov, RMSprop, Adam).

    Example:
        >>> fig = nn.plots.plot_trajectories("saddle")  # doctest: +SKIP
    """
    plt = _plt()
    paths = trajectories(function, steps=steps, **kwargs)
    fn = FUNCTIONS[function][0]
    pts = np.concatenate(list(paths.values()))
    lo, hi = np.nanmin(pts, 0) - 0.5, np.nanmax(pts, 0) + 0.5
    lo, hi = np.maximum(lo, -3), np.minimum(hi, 3)
    gx, gy = np.meshgrid(np.linspace(lo[0], hi[0], 200), np.linspace(lo[1], hi[1], 200))
    z = np.asarray(fn(np.stack([gx, gy])))
    fig, ax = plt.subplots(figsize=(7, 5))
    levels = np.logspace(-1, 3.5, 25) if function == "rosenbrock" else 25
    ax.contour(gx, gy, z, levels=levels, cmap="gray", linewidths=0.5)
    for name, path in paths.items():
        end = float(np.asarray(fn(path[-1])))
        (line,) = ax.plot(path[:, 0], path[:, 1], ".-", ms=2, lw=1, label=f"{name} (f = {end:.3g})")
        ax.plot(*path[-1], "o", color=line.get_color(), ms=5)
    start = next(iter(paths.values()))[0]
    ax.plot(*start, "ks", ms=6, label="start")
    if function == "rosenbrock":
        ax.plot(1.0, 1.0, "k*", ms=12, label="minimum (1, 1)")
    ax.set_xlim(lo[0], hi[0])
    ax.set_ylim(lo[1], hi[1])
    ax.set_xlabel("x")
    ax.set_ylabel("y")
    ax.set_title(f"{function}: {steps} steps of each optimizer (dots: where each ended)")
    ax.legend(fontsize=8)
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
