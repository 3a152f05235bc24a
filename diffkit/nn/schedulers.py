"""Learning-rate schedulers (``torch.optim.lr_scheduler`` names) and early stopping.

Call ``scheduler.step()`` once per epoch, after the optimizer's steps (``ReduceLROnPlateau.step``
takes the validation metric).
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from .optim import Optimizer

#: a check of one state entry: None when the value is fine, else what follows the entry's name
#: in the error message (" is 'x', not a number", "[0] is nan, not …", " has 2 entries, not 1")
_Check = Callable[[Any], "str | None"]


def _show(v: Any) -> str:
    text = repr(v)
    return text if len(text) <= 60 else text[:57] + "..."


def _is(want: str, ok: Callable[[Any], bool]) -> _Check:
    return lambda v: None if ok(v) else f" is {_show(v)}, not {want}"


def _number(v: Any) -> bool:
    return isinstance(v, numbers.Real) and not isinstance(v, bool)


def _whole(low: int | None = None) -> _Check:
    """A check: an int (not a bool), at least `low`."""
    return _is("a whole number" + ("" if low is None else f" >= {low}"),
               lambda v: isinstance(v, numbers.Integral) and not isinstance(v, bool)
               and (low is None or v >= low))


#: a check: any real number (not a bool), NaN and ±inf included
_real = _is("a number", _number)
#: a check: a learning rate, a finite number >= 0
_rate = _is("a finite number >= 0", lambda v: _number(v) and math.isfinite(v) and v >= 0)
#: a check: a count or a number of epochs, a number >= 0 (not NaN; inf: never)
_epochs = _is("a number >= 0", lambda v: _number(v) and v >= 0)
#: a check: True or False
_flag = _is("True or False", lambda v: isinstance(v, bool))
#: a check: None or a str
_name_or_none = _is("None or a str", lambda v: v is None or isinstance(v, str))


def _settings(owner: str, checks: Mapping[str, _Check], **values: Any) -> list[Any]:
    """A constructor's arguments, each checked as its load_state_dict checks it (a ValueError
    naming the argument otherwise, so that no state it saves is refused when loaded), NumPy
    numbers made Python ones (np.int64(3): 3)."""
    for name, value in values.items():
        why = checks[name](value)
        if why is not None:
            raise ValueError(f"{owner}: {name}{why}")
    return [_plain(v) for v in values.values()]


def _plain(v: Any) -> Any:
    """A NumPy scalar as the Python bool, int or float it holds; anything else as it is."""
    return v.item() if isinstance(v, np.generic) else v


def _one_of(*options: str) -> _Check:
    """A check: one of these strings."""
    return _is("one of " + ", ".join(map(repr, options)), lambda v: v in options
               and isinstance(v, str))


def _list_of(check: _Check, length: int | None = None) -> _Check:
    """A check: a list (or tuple) of `length` values that each pass `check`."""
    def checked(v: Any) -> str | None:
        if not isinstance(v, list | tuple):
            return f" is {_show(v)}, not a list"
        if length is not None and len(v) != length:
            return f" has {len(v)} entries, not {length}"
        return next((f"[{i}]{why}" for i, e in enumerate(v) if (why := check(e)) is not None),
                    None)
    return checked


def _checked_state(owner: str, state: Any, spec: Mapping[str, _Check],
                  current: Mapping[str, Any], optional: Sequence[str] = ()) -> dict[str, Any]:
    """`state` for ``owner.load_state_dict``, checked before anything changes: a dict with the
    keys of `current` (the object's own state_dict; those in `optional` may be missing: an
    older diffkit did not save them) and no other (an unknown key would become an attribute
    and could hide a method), each entry that `spec` names passing its check; entries it does
    not name (a subclass's own) are taken as they are. Otherwise a ValueError (a TypeError
    for a state that is not a dict) naming the entry."""
    where = f"{owner}.load_state_dict"
    if not isinstance(state, Mapping):
        raise TypeError(f"{where}: the state is a {type(state).__name__}, not a dict")
    unknown = [k for k in state if k not in current]
    if unknown:
        raise ValueError(f"{where}: unknown entry {_show(unknown[0])} (a {owner} state has "
                         f"{', '.join(map(repr, current))})")
    missing = [k for k in current if k not in state and k not in optional]
    if missing:
        raise ValueError(f"{where}: the state has no {', '.join(map(repr, missing))}")
    for k, check in spec.items():
        why = check(state[k]) if k in state else None
        if why is not None:
            raise ValueError(f"{where}: {k!r}{why}")
    return {k: (list(v) if isinstance(v, list | tuple) else v) for k, v in state.items()}


class LRScheduler:
    """Base class: each ``step()`` updates every group's CURRENT ``lr``, as PyTorch's chainable
    schedulers do (``torch.optim.lr_scheduler``): StepLR multiplies it by γ every `step_size`
    epochs, ExponentialLR by γ every epoch, and so on. So two schedulers on one optimizer
    compose (StepLR + ExponentialLR; a ReduceLROnPlateau cut stays), and a rate you set by hand
    (``opt.param_groups[0]["lr"] = 0.3``) is where the schedule continues from. ``lr_at`` is
    the closed form of one scheduler alone from ``base_lrs``.

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
        self._advance(initial=True)

    def lr_at(self, base_lr: float, epoch: int) -> float:
        """The closed form: this scheduler's rate at `epoch` from `base_lr`, alone."""
        raise NotImplementedError

    def next_lr(self, lr: float, base_lr: float, epoch: int, initial: bool) -> float:
        """The rate at `epoch` from the group's current rate `lr` (PyTorch's ``get_lr``);
        `initial`: the step the constructor takes."""
        raise NotImplementedError

    def step(self) -> None:
        """The next epoch's rates (call once per epoch, after the optimizer's steps)."""
        self._advance(initial=False)

    def _advance(self, initial: bool) -> None:
        self.last_epoch += 1
        for g, base in zip(self.optimizer.param_groups, self._bases(), strict=True):
            g["lr"] = self.next_lr(g["lr"], base, self.last_epoch, initial)

    def _bases(self) -> list[float]:
        """``base_lrs``, one per group: a group added to the optimizer after this scheduler
        was made (``add_param_group``) is scheduled too, from its rate when first seen here
        (its ``initial_lr``), as PyTorch's StepLR scales every group it finds."""
        groups = self.optimizer.param_groups
        for g in groups[len(self.base_lrs):]:
            self.base_lrs.append(g.setdefault("initial_lr", g["lr"]))
        return self.base_lrs

    def get_last_lr(self) -> list[float]:
        return [g["lr"] for g in self.optimizer.param_groups]

    def state_dict(self) -> dict[str, Any]:
        self._bases()
        return {k: (list(v) if k == "base_lrs" else v) for k, v in self.__dict__.items()
                if k != "optimizer"}

    def _state_checks(self) -> dict[str, _Check]:
        """How :meth:`load_state_dict` checks each entry (subclasses add their settings)."""
        return {"base_lrs": _list_of(_rate, len(self.optimizer.param_groups)),
                "last_epoch": _whole(-1)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore a :meth:`state_dict`: the entries this scheduler has, of their kinds (a
        ValueError naming the entry otherwise, before anything changes)."""
        self.__dict__.update(_checked_state(type(self).__name__, state, self._state_checks(),
                                           self.state_dict()))


class StepLR(LRScheduler):
    """η · γ^⌊epoch / step_size⌋: the rate times γ every `step_size` epochs. Example:
    ``nn.StepLR(opt, step_size=30, gamma=0.1)``."""

    def __init__(self, optimizer: Optimizer, step_size: int, gamma: float = 0.1,
                 last_epoch: int = -1) -> None:
        if step_size <= 0:
            raise ValueError(f"Invalid step_size: {step_size}")
        self.step_size, self.gamma = step_size, gamma
        super().__init__(optimizer, last_epoch)

    def lr_at(self, base_lr: float, epoch: int) -> float:
        return base_lr * self.gamma ** (epoch // self.step_size)

    def next_lr(self, lr: float, base_lr: float, epoch: int, initial: bool) -> float:
        return lr if epoch == 0 or epoch % self.step_size else lr * self.gamma

    def _state_checks(self) -> dict[str, _Check]:
        return {**super()._state_checks(), "step_size": _whole(1), "gamma": _real}


class MultiStepLR(LRScheduler):
    """η · γ^(number of milestones passed). Example: ``nn.MultiStepLR(opt, [30, 80], gamma=0.1)``."""

    def __init__(self, optimizer: Optimizer, milestones: Sequence[int], gamma: float = 0.1,
                 last_epoch: int = -1) -> None:
        self.milestones, self.gamma = sorted(milestones), gamma
        super().__init__(optimizer, last_epoch)

    def lr_at(self, base_lr: float, epoch: int) -> float:
        return base_lr * self.gamma ** sum(epoch >= m for m in self.milestones)

    def next_lr(self, lr: float, base_lr: float, epoch: int, initial: bool) -> float:
        passed = self.milestones.count(epoch)  # a milestone given twice: γ² (as PyTorch)
        return lr * self.gamma**passed if passed else lr

    def _state_checks(self) -> dict[str, _Check]:
        return {**super()._state_checks(), "milestones": _list_of(_whole()), "gamma": _real}


class ExponentialLR(LRScheduler):
    """η · γ^epoch: the rate times γ every epoch. Example: ``nn.ExponentialLR(opt, gamma=0.9)``."""

    def __init__(self, optimizer: Optimizer, gamma: float, last_epoch: int = -1) -> None:
        self.gamma = gamma
        super().__init__(optimizer, last_epoch)

    def lr_at(self, base_lr: float, epoch: int) -> float:
        return base_lr * self.gamma**epoch

    def next_lr(self, lr: float, base_lr: float, epoch: int, initial: bool) -> float:
        return lr if initial else lr * self.gamma

    def _state_checks(self) -> dict[str, _Check]:
        return {**super()._state_checks(), "gamma": _real}


class CosineAnnealingLR(LRScheduler):
    """η_min + (η − η_min)(1 + cos(π·epoch / T_max)) / 2, reached step by step as PyTorch does
    (so it follows a rate changed by hand or by another scheduler). Example:
    ``nn.CosineAnnealingLR(opt, 50)``."""

    def __init__(self, optimizer: Optimizer, T_max: int, eta_min: float = 0.0,
                 last_epoch: int = -1) -> None:
        if T_max <= 0:
            raise ValueError(f"Invalid T_max: {T_max}")
        self.T_max, self.eta_min = T_max, eta_min
        super().__init__(optimizer, last_epoch)

    def lr_at(self, base_lr: float, epoch: int) -> float:
        return self.eta_min + (base_lr - self.eta_min) * (1 + math.cos(math.pi * epoch / self.T_max)) / 2

    def next_lr(self, lr: float, base_lr: float, epoch: int, initial: bool) -> float:
        """PyTorch's recursive form: the rate scaled by the ratio of two consecutive cosine
        terms; at the restart after each trough (the ratio's 0/0) the step back up."""
        eta, t = self.eta_min, self.T_max
        if initial:
            return lr
        if (epoch - 1 - t) % (2 * t) == 0:
            return lr + (base_lr - eta) * (1 - math.cos(math.pi / t)) / 2
        return ((1 + math.cos(math.pi * epoch / t)) / (1 + math.cos(math.pi * (epoch - 1) / t))
                * (lr - eta) + eta)

    def _state_checks(self) -> dict[str, _Check]:
        return {**super()._state_checks(), "T_max": _whole(1), "eta_min": _real}


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
        factor, patience, threshold, cooldown, min_lr, eps = _settings(
            "ReduceLROnPlateau", self._state_checks(), factor=factor, patience=patience,
            threshold=threshold, cooldown=cooldown, min_lr=min_lr, eps=eps)
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
        return {k: _plain(v) for k, v in self.__dict__.items() if k != "optimizer"}

    def _state_checks(self) -> dict[str, _Check]:
        """How :meth:`load_state_dict` checks each entry."""
        return {"mode": _one_of("min", "max"), "factor": _is("a number < 1", lambda v: _number(v)
                                                             and v < 1),
                "patience": _epochs, "threshold": _real, "threshold_mode": _one_of("rel", "abs"),
                "cooldown": _epochs, "min_lr": _real, "eps": _real, "best": _real,
                "num_bad_epochs": _whole(0), "cooldown_counter": _epochs, "last_epoch": _whole(0)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore a :meth:`state_dict`: the entries this scheduler has, of their kinds (a
        ValueError naming the entry otherwise, before anything changes)."""
        self.__dict__.update(_checked_state(type(self).__name__, state, self._state_checks(),
                                           self.state_dict()))


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
        patience, min_delta, monitor, restore_best = _settings(
            "EarlyStopping", self._state_checks(), patience=patience, min_delta=min_delta,
            monitor=monitor, restore_best=restore_best)
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
        self.stopped = bool(self.bad_epochs >= self.patience)
        return self.stopped

    def reset(self) -> None:
        """Forget the best value and the epochs without improvement (the count of epochs
        goes on): what a Trainer does when the metric watched changes between fits."""
        self.best = math.inf if self.mode == "min" else -math.inf
        self.best_epoch, self.bad_epochs, self.stopped = -1, 0, False

    #: the settings (a state without them, from an older diffkit, keeps this object's)
    SETTINGS = ("patience", "min_delta", "mode", "monitor", "restore_best")

    def state_dict(self) -> dict[str, Any]:
        return {k: _plain(v) for k, v in self.__dict__.items()}

    def _state_checks(self) -> dict[str, _Check]:
        """How :meth:`load_state_dict` checks each entry."""
        return {"patience": _epochs, "min_delta": _real, "mode": _one_of("min", "max"),
                "monitor": _name_or_none, "restore_best": _flag, "best": _real,
                "best_epoch": _whole(-1), "bad_epochs": _whole(0), "epoch": _whole(-1),
                "stopped": _flag}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore a :meth:`state_dict`: the counters, and the settings where the state has
        them, each of its kind (a ValueError naming the entry otherwise, before anything
        changes)."""
        self.__dict__.update(_checked_state("EarlyStopping", state, self._state_checks(),
                                           self.state_dict(), optional=self.SETTINGS))
