"""Learning-rate schedulers (``torch.optim.lr_scheduler`` names) and early stopping.

Call ``scheduler.step()`` once per epoch, after the optimizer's steps (``ReduceLROnPlateau.step``
takes the validation metric).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from .optim import Optimizer


class LRScheduler:
    """Base class: sets each group's ``lr`` from ``base_lrs`` and the epoch counter.

    Example:
        >>> import diffkit.nn as nn
        >>> opt = nn.SGD(nn.Linear(2, 1).parameters(), lr=1.0)
        >>> sched = nn.StepLR(opt, step_size=2, gamma=0.5)
        >>> for _ in range(3): sched.step()
        >>> sched.get_last_lr()
        [0.5]
    """

    def __init__(self, optimizer: Optimizer, last_epoch: int = -1) -> None:
        self.optimizer = optimizer
        for g in optimizer.param_groups:
            g.setdefault("initial_lr", g["lr"])
        self.base_lrs = [g["initial_lr"] for g in optimizer.param_groups]
        self.last_epoch = last_epoch
        self.step()

    def lr_at(self, base_lr: float, epoch: int) -> float:
        raise NotImplementedError

    def step(self) -> None:
        self.last_epoch += 1
        for g, base in zip(self.optimizer.param_groups, self.base_lrs):
            g["lr"] = self.lr_at(base, self.last_epoch)

    def get_last_lr(self) -> list[float]:
        return [g["lr"] for g in self.optimizer.param_groups]

    def state_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if k != "optimizer"}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)


class StepLR(LRScheduler):
    """η · γ^⌊epoch / step_size⌋. Example: ``nn.StepLR(opt, step_size=30, gamma=0.1)``."""

    def __init__(self, optimizer: Optimizer, step_size: int, gamma: float = 0.1,
                 last_epoch: int = -1) -> None:
        if step_size <= 0:
            raise ValueError(f"Invalid step_size: {step_size}")
        self.step_size, self.gamma = step_size, gamma
        super().__init__(optimizer, last_epoch)

    def lr_at(self, base_lr: float, epoch: int) -> float:
        return base_lr * self.gamma ** (epoch // self.step_size)


class MultiStepLR(LRScheduler):
    """η · γ^(number of milestones passed). Example: ``nn.MultiStepLR(opt, [30, 80], gamma=0.1)``."""

    def __init__(self, optimizer: Optimizer, milestones: Sequence[int], gamma: float = 0.1,
                 last_epoch: int = -1) -> None:
        self.milestones, self.gamma = sorted(milestones), gamma
        super().__init__(optimizer, last_epoch)

    def lr_at(self, base_lr: float, epoch: int) -> float:
        return base_lr * self.gamma ** sum(epoch >= m for m in self.milestones)


class ExponentialLR(LRScheduler):
    """η · γ^epoch. Example: ``nn.ExponentialLR(opt, gamma=0.9)``."""

    def __init__(self, optimizer: Optimizer, gamma: float, last_epoch: int = -1) -> None:
        self.gamma = gamma
        super().__init__(optimizer, last_epoch)

    def lr_at(self, base_lr: float, epoch: int) -> float:
        return base_lr * self.gamma**epoch


class CosineAnnealingLR(LRScheduler):
    """η_min + (η − η_min)(1 + cos(π·epoch / T_max)) / 2. Example: ``nn.CosineAnnealingLR(opt, 50)``."""

    def __init__(self, optimizer: Optimizer, T_max: int, eta_min: float = 0.0,
                 last_epoch: int = -1) -> None:
        if T_max <= 0:
            raise ValueError(f"Invalid T_max: {T_max}")
        self.T_max, self.eta_min = T_max, eta_min
        super().__init__(optimizer, last_epoch)

    def lr_at(self, base_lr: float, epoch: int) -> float:
        return self.eta_min + (base_lr - self.eta_min) * (1 + math.cos(math.pi * epoch / self.T_max)) / 2


class ReduceLROnPlateau:
    """Multiply the learning rate by `factor` when a metric has not improved for `patience` epochs.

    Example:
        >>> import diffkit.nn as nn
        >>> opt = nn.SGD(nn.Linear(2, 1).parameters(), lr=1.0)
        >>> sched = nn.ReduceLROnPlateau(opt, mode="min", factor=0.5, patience=1)
        >>> for loss in [1.0, 1.0, 1.0]: sched.step(loss)
        >>> sched.get_last_lr()
        [0.5]
    """

    def __init__(self, optimizer: Optimizer, mode: str = "min", factor: float = 0.1,
                 patience: int = 10, threshold: float = 1e-4, threshold_mode: str = "rel",
                 cooldown: int = 0, min_lr: float = 0.0, eps: float = 1e-8) -> None:
        if factor >= 1.0:
            raise ValueError("Factor should be < 1.0.")
        if mode not in ("min", "max") or threshold_mode not in ("rel", "abs"):
            raise ValueError(f"invalid mode {mode!r} or threshold_mode {threshold_mode!r}")
        self.optimizer, self.mode, self.factor, self.patience = optimizer, mode, factor, patience
        self.threshold, self.threshold_mode, self.cooldown = threshold, threshold_mode, cooldown
        self.min_lr, self.eps = min_lr, eps
        self.best = math.inf if mode == "min" else -math.inf
        self.num_bad_epochs = self.cooldown_counter = 0
        self.last_epoch = 0

    def _better(self, a: float, best: float) -> bool:
        """PyTorch's documented rule. rel: a < best·(1 − threshold) in mode min, a > best·(1 +
        threshold) in mode max (for a negative best, the bar lies on the other side of it);
        abs: a < best − threshold, a > best + threshold."""
        t = self.threshold
        if self.threshold_mode == "rel":
            return a < best * (1 - t) if self.mode == "min" else a > best * (1 + t)
        return a < best - t if self.mode == "min" else a > best + t

    def step(self, metrics: float) -> None:
        self.last_epoch += 1
        current = float(metrics)
        if self._better(current, self.best):
            self.best, self.num_bad_epochs = current, 0
        else:
            self.num_bad_epochs += 1
        if self.cooldown_counter > 0:
            self.cooldown_counter -= 1
            self.num_bad_epochs = 0
        if self.num_bad_epochs > self.patience:
            for g in self.optimizer.param_groups:
                new = max(g["lr"] * self.factor, self.min_lr)
                if g["lr"] - new > self.eps:
                    g["lr"] = new
            self.cooldown_counter, self.num_bad_epochs = self.cooldown, 0

    def get_last_lr(self) -> list[float]:
        return [g["lr"] for g in self.optimizer.param_groups]

    def state_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if k != "optimizer"}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)


class EarlyStopping:
    """Stop when a validation metric has not improved by `min_delta` for `patience` epochs;
    remembers the best epoch (and, with ``restore_best=True``, the best weights via the Trainer).

    `monitor` is the History entry the Trainer watches: ``"loss"``, ``"accuracy"``,
    ``"val_loss"`` or ``"val_accuracy"`` (the val_* ones need ``fit(val_data=...)``); None (the
    default) watches val_loss when fit has val_data, else the training loss. ``fit`` raises
    ValueError at its start for a monitor it does not record, or for a mode against the
    metric's direction (a loss needs mode='min', an accuracy mode='max').

    Example:
        >>> import diffkit.nn as nn
        >>> stop = nn.EarlyStopping(patience=2, mode="min")
        >>> [stop.step(v) for v in [1.0, 0.9, 0.95, 0.96]]
        [False, False, False, True]
    """

    def __init__(self, patience: int = 5, min_delta: float = 0.0, mode: str = "min",
                 monitor: str | None = None, restore_best: bool = True) -> None:
        if mode not in ("min", "max"):
            raise ValueError(f"invalid mode {mode!r}: use 'min' or 'max'")
        self.patience, self.min_delta, self.mode, self.monitor = patience, min_delta, mode, monitor
        self.restore_best = restore_best
        self.best = math.inf if mode == "min" else -math.inf
        self.best_epoch, self.bad_epochs, self.epoch, self.stopped = -1, 0, -1, False

    def improved(self, value: float) -> bool:
        if self.mode == "min":
            return value < self.best - self.min_delta
        return value > self.best + self.min_delta

    def step(self, value: float) -> bool:
        """Record this epoch's metric; True when training should stop."""
        self.epoch += 1
        if self.improved(float(value)):
            self.best, self.best_epoch, self.bad_epochs = float(value), self.epoch, 0
        else:
            self.bad_epochs += 1
        self.stopped = self.bad_epochs >= self.patience
        return self.stopped

    def state_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
