"""How a loss reduces over the rows of a batch — a mean or a sum — which decides the weights of the
ranks' gradients in data-parallel training (a mean's add with weights n_r/N, a sum's with 1): read
off a built-in loss, declared on a loss of your own (``loss_fn.reduction = "sum"``), or probed once
on the model's outputs (a mean satisfies L = (k·L₁ + (m−k)·L₂)/m, a sum L = L₁ + L₂)."""

from __future__ import annotations

import functools
import weakref
from typing import Any

import numpy as np

from ..backend import to_device, to_numpy
from ..errors import DistributedError
from .inference import predict
from .losses import LOSS_MODULES, builtin_loss
from .module import Module, value_of


class LossReductionError(DistributedError, ValueError):
    """A loss of your own whose reduction over the rows (mean or sum) could not be told: the
    ranks' gradients would be weighted wrongly. Declare it (``loss_fn.reduction = "sum"``) or
    use a built-in loss."""


#: the reductions the probe found, by loss function (weakly: a lambda may go away)
_PROBED: weakref.WeakKeyDictionary[Any, str] = weakref.WeakKeyDictionary()
#: rows per probe, and how many disjoint chunks of the data the probe tries
PROBE_ROWS, PROBE_TRIES = 64, 3
_REDUCTIONS = ("mean", "sum", "none")


def known_reduction(loss_fn: Any) -> str | None:
    """How `loss_fn` reduces its terms, where that is known without running it: a built-in
    loss class's `reduction`, a ``functools.partial`` of a built-in loss's keyword, a built-in
    loss function's default ('mean'), a ``reduction`` attribute you declared on your own loss
    ('mean', 'sum' or 'none'), or what :func:`probe_reduction` found. None otherwise."""
    if isinstance(loss_fn, LOSS_MODULES):
        return str(getattr(loss_fn, "reduction", "mean"))
    if type(loss_fn) is functools.partial and builtin_loss(loss_fn) is not None:
        passed = loss_fn.keywords.get("reduction")  # else what it wraps: an instance's own
        return str(passed) if passed is not None else known_reduction(loss_fn.func)
    if builtin_loss(loss_fn) is not None:
        return "mean"
    declared = getattr(loss_fn, "reduction", None)
    if isinstance(declared, str) and declared in _REDUCTIONS:
        return declared
    try:
        return _PROBED.get(loss_fn)
    except TypeError:  # not weakly referable: never probed into the table
        return None


def _loss_value(loss_fn: Any, out: Any, y: Any) -> float:
    v = np.asarray(to_numpy(value_of(loss_fn(out, y))))
    if v.size != 1:
        raise LossReductionError(f"the loss {loss_name(loss_fn)} returns {v.size} numbers, not "
                                 "one: a training step needs its mean or sum")
    return float(v.reshape(()))


def loss_name(loss_fn: Any) -> str:
    return getattr(loss_fn, "__name__", type(loss_fn).__name__)


def _probe_once(loss_fn: Any, out: Any, y: Any, rtol: float) -> str | None:
    """L on m rows against L on a split of them into k and m − k rows: a mean satisfies
    L = (k·L₁ + (m−k)·L₂)/m (also plus a constant), a sum L = L₁ + L₂. The matching one, None
    when both match (ambiguous: L₁ = L₂ = 0, …); LossReductionError when neither does."""
    m = len(out)
    k = max(1, m // 3)  # unequal parts: the two weightings differ
    whole = _loss_value(loss_fn, out, y)
    a, b = _loss_value(loss_fn, out[:k], y[:k]), _loss_value(loss_fn, out[k:], y[k:])
    tol = rtol * max(abs(whole), abs(a), abs(b), 1e-30)
    mean_like = abs(whole - (k * a + (m - k) * b) / m) <= tol
    sum_like = abs(whole - (a + b)) <= tol
    if mean_like != sum_like:
        return "mean" if mean_like else "sum"
    if not mean_like:
        raise LossReductionError(
            f"the loss {loss_name(loss_fn)} is neither a mean nor a sum over the rows (on "
            f"{m} rows: {whole:.6g}; on {k} and {m - k} of them: {a:.6g} and {b:.6g}), so the "
            "ranks' gradients cannot be weighted to give one process's: declare it "
            f"({loss_name(loss_fn)}.reduction = 'mean' or 'sum'), or use a built-in loss")
    return None


def probe_reduction(loss_fn: Any, model: Module, X: Any, y: Any) -> str:
    """Whether a loss of your own is a mean or a sum over the rows, found by running it on the
    model's outputs for the first rows of (X, y) (eval mode, no recording) and on two parts of
    them (see :func:`_probe_once`; tolerance 4·m·ε of the outputs' dtype), trying up to
    PROBE_TRIES chunks of PROBE_ROWS rows while the answer is ambiguous. The answer is kept for
    :func:`known_reduction`. LossReductionError when none tells."""
    n = len(X)
    if n < 2:  # one row per step: rank 0 holds it, and weight n_r/N = 1 is also a sum's
        return "mean"
    for start in range(0, min(n, PROBE_TRIES * PROBE_ROWS), PROBE_ROWS):
        stop = min(start + PROBE_ROWS, n)
        if stop - start < 2:
            break
        out = predict(model, X[start:stop])
        yd = to_device(np.asarray(to_numpy(value_of(y[start:stop]))), model.device)
        kind = np.dtype(getattr(out, "dtype", np.float64))
        eps = float(np.finfo(kind).eps) if kind.kind == "f" else float(np.finfo(np.float64).eps)
        found = _probe_once(loss_fn, out, yd, 4 * (stop - start) * eps)
        if found is not None:
            try:
                _PROBED[loss_fn] = found
            except TypeError:
                pass
            return found
    raise LossReductionError(
        f"the loss {loss_name(loss_fn)} gives the same value as a mean and as a sum on every "
        "batch tried (a loss of 0?), so its reduction cannot be told: declare it "
        f"({loss_name(loss_fn)}.reduction = 'mean' or 'sum'), or use a built-in loss")
