"""The training loop: Trainer.fit with history, validation, gradient norms, checkpoints, progress.

One step is the seeds' recipe: ``zero_grad`` → forward → loss → ``backward`` (diffkit's reverse
engine) → optional clipping → ``optimizer.step()``. Checkpoints hold the model, optimizer,
scheduler, early-stopping and every random generator, written atomically in a checksummed format
that loading never unpickles (:mod:`diffkit.nn.checkpoint`), so a resumed run continues
bit-identically.
"""

from __future__ import annotations

import functools
import html
import math
import numbers
import operator
import sys
import time
from collections.abc import Callable, Mapping
from typing import Any, final

import numpy as np

from ..backend import array_namespace, to_device, to_numpy
from ..errors import DiffkitError, DistributedError, ShapeError
from ..tensor import paused_gc
from .checkpoint import CheckpointError, load_state, save_state
from .compiled_step import CompiledStep, Lane, fingerprint, why_not_compiled
from .data import DataLoader, check_finite, check_loader_state, check_rng_state
from .distributed import data_parallel, session
from .inference import predict
from .losses import (
    builtin_loss,
    check_class_labels,
    cross_entropy,
    kind_of,
    l1_penalty,
    l2_penalty,
    loss_weights,
    nll_loss,
    uses_class_labels,
)
from .module import Module, get_rng, value_of
from .optim import Adam, Optimizer, clip_grad_norm_, clip_grad_value_
from .ranks import context
from .reduction import known_reduction
from .schedulers import EarlyStopping, ReduceLROnPlateau


class DivergenceError(DiffkitError, FloatingPointError):
    """The training loss became NaN or infinite; the message names the epoch, the step and the
    loss. The usual cure is a lower learning rate (or gradient clipping)."""

    def __init__(self, message: str, *, epoch: int | None = None, step: int | None = None,
                 loss: float | None = None) -> None:
        super().__init__(message)
        self.epoch, self.step, self.loss = epoch, step, loss


class ConfigMismatchError(CheckpointError):
    """A checkpoint written by a run of another ``config`` than this Trainer's, or that records
    none. ``keys`` lists the entries that differ; ``saved`` and ``current`` are the two configs
    (``saved`` is None when the checkpoint records no config)."""

    def __init__(self, message: str, *, saved: dict[str, Any] | None, current: dict[str, Any],
                 keys: list[str]) -> None:
        super().__init__(message)
        self.saved, self.current, self.keys = saved, current, keys


class History(dict):
    """Per-epoch lists: loss, accuracy, val_loss, val_accuracy, lr, time, and ``grad_norms``
    (parameter name → list of mean gradient norms: watch for vanishing or exploding layers).

    A dict (``history["loss"][-1]``), with ``.plot()`` for the curves, ``.to_dict()`` for plain
    data, and a table of the last epochs in notebooks."""

    #: how many of the last epochs a notebook's table shows
    SHOWN = 5

    def __init__(self) -> None:
        super().__init__(loss=[], accuracy=[], val_loss=[], val_accuracy=[], lr=[], time=[],
                         grad_norms={})

    @property
    def epochs(self) -> int:
        """How many epochs are recorded."""
        return len(self.get("loss", ()))

    def to_dict(self) -> dict[str, Any]:
        """A plain ``dict`` of new lists (ready for json.dumps); changing it leaves this alone."""
        return _plain(self)

    def plot(self) -> Any:
        """Loss and accuracy per epoch, training and validation (:func:`diffkit.nn.plots.
        plot_history`); returns the matplotlib Figure. In a notebook, ``history.plot();``."""
        from .plots import plot_history  # imports matplotlib: only when a plot is drawn

        return plot_history(self)

    def _repr_html_(self) -> str:
        """A table of the last epochs, for notebooks."""
        n = self.epochs
        if not n:
            return "<p>History: no epochs yet</p>"
        columns = [(k, fmt) for k, fmt in _HISTORY_COLUMNS if len(self.get(k, ())) == n]
        first = max(n - self.SHOWN, 0)
        head = "".join(f"<th>{html.escape(k)}</th>" for k in ["epoch", *(k for k, _ in columns)])
        rows = "".join(
            f"<tr><td>{e + 1}</td>"
            + "".join(f"<td>{html.escape(fmt(self[k][e]))}</td>" for k, fmt in columns) + "</tr>"
            for e in range(first, n))
        shown = f"last {n - first} shown; " if first else ""
        return (f"<table><caption>History: {n} epoch{'s' if n != 1 else ''} ({shown}.plot() "
                f"draws the curves)</caption><thead><tr>{head}</tr></thead><tbody>{rows}</tbody>"
                "</table>")


def _number(spec: str) -> Callable[[Any], str]:
    return lambda v: "—" if isinstance(v, float) and math.isnan(v) else format(v, spec)


_HISTORY_COLUMNS = (("loss", _number(".4f")), ("accuracy", _number(".3f")),
                    ("val_loss", _number(".4f")), ("val_accuracy", _number(".3f")),
                    ("lr", _number(".3g")), ("time", lambda t: f"{t * 1000:.0f} ms"))


def _plain(v: Any) -> Any:
    if isinstance(v, dict):
        return {k: _plain(x) for k, x in v.items()}
    if isinstance(v, list | tuple):
        return [_plain(x) for x in v]
    return v


def _correct(logits: Any, y: Any, scorer: Any = "argmax") -> Any:
    """How many rows are classified right, as a scalar on the logits' device. `scorer` is
    "argmax" (class labels) or a float threshold t (one decision per output: output > t; the
    target's side of 0.5 is its label). A row with several decisions — (N, T, C) outputs with
    (N, T) labels, or several binary outputs — counts as the fraction of them that are right,
    so hits over rows is :func:`accuracy`'s fraction of right decisions."""
    z = value_of(logits)
    xp = array_namespace(z)
    t = xp.asarray(value_of(y))
    if scorer == "argmax":
        pred = z.argmax(-1)
        right = pred == t.reshape(pred.shape)
    else:
        pred = z > scorer
        right = pred == (t.reshape(pred.shape) > 0.5)
    per_row = max(pred.size // max(len(pred), 1), 1) if pred.ndim else 1
    hits = xp.count_nonzero(right)
    return hits if per_row == 1 else hits / per_row


def _hits(scorer: str | float | None, out: Any, y: Any) -> Any:
    """A training step's hits: :func:`_correct` with the scorer :func:`_scores` picks (NaN
    where there is none), one NumPy expression for the step's usual case, integer class labels
    of the rows of NumPy logits."""
    if scorer == "argmax" and type(out) is np.ndarray and type(y) is np.ndarray and \
            out.ndim == 2 and y.dtype.kind in "iu" and y.shape == out.shape[:1]:
        return np.count_nonzero(out.argmax(-1) == y)
    scorer = _scores(scorer, out, y)
    return float("nan") if scorer is None else _correct(out, y, scorer)


def _weighted_sum(losses: list[Any], rows: list[int]) -> Any:
    """Σ lossᵢ·rowsᵢ, on the device the losses are on (0.0 for no steps): the sum of an
    epoch's per-row losses, of which fit reports the mean. On the host the sum is exact
    (math.fsum of the float64 products, exact themselves for float32 losses); on a GPU it is
    one float64 dot product there (no wait for the device per step)."""
    if not losses:
        return 0.0
    xp = array_namespace(*(v for v in losses if not isinstance(v, float | int | np.generic)))
    if xp is np:
        return math.fsum([float(v) * m for v, m in zip(losses, rows, strict=True)])
    column = xp.stack([xp.asarray(v, dtype=xp.float64) for v in losses])
    return xp.dot(column, xp.asarray(rows, dtype=xp.float64))


def accuracy(logits: Any, y: Any, threshold: float = 0.0) -> float:
    """Fraction of right decisions, as ``fit`` and ``evaluate`` score them (:func:`_correct`):
    the arg-max of each row against its class label; for one output, or targets of the
    outputs' shape (several binary outputs: multi-label 0/1 targets), each decision
    ``output > threshold`` against ``target > 0.5``.

    Args:
        logits: (N, C) scores, (N, T, C) with (N, T) labels, or (N,) / (N, 1) for one output.
        y: (N,) labels (0 … C−1; 0/1 for one output), or 0/1 targets of the logits' shape
            (one-hot class rows are scored so too: pass their arg-max, ``y.argmax(-1)``, for
            the class accuracy).
        threshold: the decision threshold: 0 for logits (the default), 0.5 for probabilities
            (a model ending in Sigmoid).

    Example:
        >>> import diffkit.nn as nn, numpy as np
        >>> nn.accuracy(np.array([[0.1, 0.9], [0.8, 0.2]]), np.array([1, 1]))
        0.5
        >>> nn.accuracy(np.array([0.3, 0.8]), np.array([0, 1]), threshold=0.5)
        1.0
        >>> nn.accuracy(np.array([[2.0, -1.0], [1.0, 3.0]]), np.array([[1.0, 1.0], [1.0, 1.0]]))
        0.75
    """
    z, t = np.asarray(to_numpy(value_of(logits))), np.asarray(to_numpy(value_of(y)))
    decisions = z.ndim <= 1 or z.shape[-1] == 1 or t.shape == z.shape
    scorer: str | float = float(threshold) if decisions else "argmax"
    predictions = z.size if decisions else z.size // max(z.shape[-1], 1)
    if t.size != predictions:
        raise ShapeError(f"accuracy: {predictions} predictions (outputs of shape {z.shape}) but "
                         f"labels of shape {t.shape}: pass one label per row, or 0/1 targets of "
                         "the outputs' shape")
    rows = len(z) if z.ndim else 1
    return float(_correct(z, t, scorer)) / rows if rows else math.nan


class Trainer:
    """Train a model on mini-batches with the reverse engine.

    Args:
        model: the Module. loss_fn: ``loss_fn(output, target)`` (default cross_entropy).
        optimizer: default Adam(lr=1e-3). scheduler: stepped once per epoch
            (ReduceLROnPlateau gets the validation loss). early_stopping: an EarlyStopping.
        l1, l2: weight penalties added to the loss (biases excluded).
        clip_grad_norm, clip_grad_value: gradient clipping before each step.
        progress: show a rich progress bar. checkpoint: path written after every epoch.
        compile: None (default): run each step as generated NumPy code where that is sound
            (built-in pure layers and losses, NumPy arrays: see :mod:`diffkit.nn.compiled_step`),
            else eagerly; False: always eagerly (dynamic models, debugging); True: compiled or
            a ValueError saying why not. ``trainer.compiled`` says which path ran and why.
        distributed: data parallel over the ranks of :mod:`diffkit.nn.distributed` — None (the
            default): when ``nn.distributed.init()`` was called; True: call it; False: never.
            Each rank then trains on its shard of every global batch, gradients are averaged
            over the ranks after backward, and only rank 0 shows progress and writes checkpoints.
        config: what defines the run, as plain data (``{"dataset": "moons", "epochs": 30,
            "lr": 0.003}``: str, int, float, bool, None, and lists and dicts of them). It is
            saved in every checkpoint, and :meth:`load_checkpoint` refuses a checkpoint of
            another config, or of none (:class:`ConfigMismatchError`). None (the default):
            nothing is saved or compared.

    Example:
        >>> import diffkit.nn as nn
        >>> X, y = nn.make_moons(200, noise=0.1)
        >>> model = nn.MLP([2, 16, 2])
        >>> trainer = nn.Trainer(model, optimizer=nn.Adam(model.parameters(), lr=0.05), progress=False)
        >>> history = trainer.fit(nn.DataLoader(X, y, batch_size=32), epochs=30)
        >>> history["accuracy"][-1] > 0.85
        True
    """

    def __init__(self, model: Module, loss_fn: Callable[[Any, Any], Any] | None = None,
                 optimizer: Optimizer | None = None, scheduler: Any = None,
                 early_stopping: EarlyStopping | None = None, l1: float = 0.0, l2: float = 0.0,
                 clip_grad_norm: float | None = None, clip_grad_value: float | None = None,
                 progress: bool = True, checkpoint: str | None = None,
                 track_grad_norms: bool = True, compile: bool | None = None,
                 distributed: Any = None, config: Mapping[str, Any] | None = None) -> None:
        self.config = None if config is None else _plain_config(config)
        self.model = model
        if isinstance(loss_fn, type):  # nn.CrossEntropyLoss, not nn.CrossEntropyLoss()
            raise TypeError(f"Trainer(loss_fn={loss_fn.__name__}) is a class: pass an instance, "
                            f"loss_fn={loss_fn.__name__}()")
        self.loss_fn = loss_fn or cross_entropy
        self._loss_read: Any = None  # the loss _read_loss read (fit reads it again)
        self.optimizer = optimizer or Adam(model.parameters(), lr=1e-3)
        self.scheduler, self.early_stopping = scheduler, early_stopping
        self.l1, self.l2 = l1, l2
        self.clip_grad_norm, self.clip_grad_value = clip_grad_norm, clip_grad_value
        self.progress, self.checkpoint, self.track_grad_norms = progress, checkpoint, track_grad_norms
        self.history = History()
        self.epoch = 0
        self.best_state: dict[str, np.ndarray] | None = None
        #: the last epoch's weights where fit ended by restoring the best ones: the state the
        #: optimizer, scheduler and counters belong to, which the next fit continues from
        self._last_state: dict[str, np.ndarray] | None = None
        self._restored: list[Any] = []  # what the model held right after that restore: _held
        self._loader_state: dict[str, Any] | None = None
        self._loader: Any = None  # the last fit's training data
        #: the epoch in which the last fit raised DivergenceError; None once an epoch ends
        #: finite or a checkpoint is loaded (save_checkpoint refuses the diverged weights)
        self.diverged_at: int | None = None
        self._labels_to_check: np.ndarray | None = None
        #: (labels, classes) the DataLoader's y was last checked against, in this fit
        self._checked: tuple[np.ndarray, int] | None = None
        self._named = [(k, p) for k, p in model.named_parameters() if len(p.shape) >= 2]
        self._scorer = scorer_for(self.loss_fn)
        self._sum = _reduction(self.loss_fn) == "sum"
        self._monitor: str | None = None
        self._watched: str | None = None  # what early stopping watched in the last fit
        if compile not in (None, True, False):
            raise TypeError(f"compile must be None, True or False, got {compile!r}")
        self.compile = compile
        self._step: CompiledStep | None = None
        #: this epoch's Optimizer.plain_layout of the compiled step's parameters, or None
        self._layout: list[tuple[int, int] | None] | None = None
        self._unrecorded = True  # no replayed step yet this epoch: see _plain_layout
        self._lane: Lane | None = None  # this epoch's, inside fit's loop only: see _run_epoch
        #: which path the last step took: "compiled", or "eager: <why>"
        self.compiled = "not run yet"
        self.distributed, self._dist = distributed, None

    # ----- one step
    def _device_step(self, xb: Any, yb: Any) -> tuple[Any, Any]:
        """One step; (loss, number correct) stay on the device, so a GPU is never waited for.
        NaN and overflow raise no NumPy warnings here: fit checks the loss once per epoch."""
        with paused_gc(), np.errstate(all="ignore"):  # a step's graph is acyclic: refcounts free it
            return self._step_unguarded(xb, yb)

    def _step_unguarded(self, xb: Any, yb: Any) -> tuple[Any, Any]:
        """:meth:`_device_step` inside its contexts (``fit`` enters them once per epoch)."""
        if self._dist is not None and len(yb) == 0:  # no rows of a short batch for this rank
            self.optimizer.zero_grad()
            self._update(0, self._share(yb))
            return 0.0, 0
        return self._train_step(xb, yb)

    def _share(self, yb: Any) -> float | None:
        """Distributed, a class-weighted mean loss on class labels: this rank's part of the
        mean's divisor, W_r = Σ_{i∈B_r} w_yᵢ (its gradient then counts W_r/W, not n_r/N:
        see :meth:`DataParallel.reduce_gradients`). None otherwise (rows count)."""
        if self._dist is None or self._sum:
            return None
        weigh = _class_weight_of(self.loss_fn, exact=True)
        share = None if weigh is None else weigh(yb)
        if share == 0.0 and len(yb) and _label_smoothing(self.loss_fn):
            raise DistributedError(
                f"{_name(self.loss_fn)} with weight= and label_smoothing=: rank "
                f"{self._dist.ctx.rank}'s {len(yb)} rows of this global batch all have labels "
                "of class weight 0, so its mean (Σ of smoothing terms / 0) is undefined and "
                "its part of the global mean is lost: use other class weights, a larger batch "
                "or fewer ranks")
        return share

    def _gradients(self, xb: Any, yb: Any, rates: list[Any] | None = None
                   ) -> tuple[Any, Any, bool]:
        """Forward, loss and backward: (loss value, model output, updated), with ``.grad`` of
        every parameter set — by the generated step where it is sound, else eagerly. The first
        step of a trainer's first fit (or after the model changed) runs eagerly: it checks the
        class labels before the loss reads them; later fits check them against the classes it
        saw. With `rates` (plain SGD's, per parameter) the generated step may also update the
        parameters (then `updated` is True: see :meth:`CompiledStep.train`)."""
        if self._step is not None and self._labels_to_check is None:
            self.optimizer.zero_grad()  # as the eager step: parameters it does not train get None
            result = self._step.train(xb, yb, not self._labels_trusted(), rates)
            if result is not None:
                self.compiled = "compiled"
                return result
            if self.compile:
                raise ValueError(f"Trainer(compile=True): {self._step.reason}")
            self.compiled = f"eager: {self._step.reason}"
        self.optimizer.zero_grad()
        out = self.model(xb)
        if self._labels_to_check is not None:
            self._check_labels(out.shape)
        if self._step is not None:
            self._step.output = (out.shape[-1], value_of(out).dtype) if len(out.shape) else None
            self._step.output_shape = tuple(out.shape)
        loss = self.loss_fn(out, yb)
        l1, l2 = self._penalties()
        if l2:
            loss = loss + l2_penalty(self.model, l2)
        if l1:
            loss = loss + l1_penalty(self.model, l1)
        v = loss.value
        step = None if self._dist is None else self._dist.ctx.step_weight
        if step is not None and step.seed == 0.0:  # rows that weigh nothing (their own mean is
            xp = array_namespace(out.value)  # 0/0) but shape synchronized batch statistics
            out.backward(xp.zeros_like(out.value))
        else:
            loss.backward()  # seeded with 1 in the loss's dtype and array module
        return v, out, False

    def _check_labels(self, output_shape: tuple[int, ...]) -> None:
        """The DataLoader's class labels against the model's number of outputs: once per fit,
        on the host (no device sync)."""
        labels, self._labels_to_check = self._labels_to_check, None
        if len(output_shape) >= 2:
            check_class_labels(_name(self.loss_fn), labels, output_shape[-1],
                               " of the DataLoader's y", _ignore_index(self.loss_fn))
            self._checked = (labels, output_shape[-1])

    def _labels_trusted(self) -> bool:
        """Whether this batch's class labels are known to be in range: they come from a
        DataLoader whose y (that very array) was checked in this fit against the number of
        classes the compiled step now sees. Otherwise the compiled step checks each batch."""
        checked, loader, step = self._checked, self._loader, self._step
        return (checked is not None and isinstance(loader, DataLoader) and loader.y is checked[0]
                and step is not None and step.output is not None
                and step.output[0] == checked[1])

    def _train_step(self, xb: Any, yb: Any) -> tuple[Any, Any]:
        share = self._share(yb)
        if self._dist is not None:  # the weight this step's backward and reduction read
            self._dist.begin_step(len(yb), self._sum, share)
        lane = self._lane
        fast = None if lane is None else lane(xb, yb)
        if fast is not None:  # a step this epoch's lane admitted (see compiled_step.Lane)
            v, out = fast
            updated = True
        else:
            v, out, updated = self._checked_step(xb, yb)
        hits = _hits(self._scorer, out, yb)
        if share == 0.0:  # the rows weigh nothing in the global weighted mean (their own mean
            v = 0.0  # is 0/0): see _share
        if self._sum:  # the per-term mean, as reduction="mean" reports it (docs/nn.md)
            v = v / _terms(self.loss_fn, out.shape, yb)
        out = None  # the step's graph goes before the update, which may then write in place
        if not updated:
            self._update(len(yb), share)
        elif self.track_grad_norms:  # the generated step updated θ as the optimizer's plain
            self._track_norms()  # step would: only the norms are left
        return v, hits

    def _rechecked_step(self, xb: Any, yb: Any) -> tuple[Any, Any]:
        """:meth:`_step_unguarded` after code of the user's ran (inside an epoch): where the
        model, the loss or the penalties are no longer what the compiled step was made from
        (:func:`fingerprint`: a parameter frozen, a slope changed), the path is chosen afresh
        first, so the step trains what the model is now, as the eager tape would."""
        step = self._step
        if self.loss_fn is not self._loss_read:  # a new loss: its reduction and scorer too
            self._read_loss()
            if self._dist is not None:  # (a loss of your own: probed, as when fit started)
                self._dist.read_reduction(self)
        if step is not None and (step.loss_fn is not self.loss_fn
                                 or not step.unchanged(*self._penalties())):
            self._choose_path()
        # the optimizer (or its groups) may have been replaced and clipping set: the plain
        # layout is read afresh (a stale one updated parameters the optimizer no longer holds)
        self._layout = self._plain_layout()
        return self._step_unguarded(xb, yb)

    def _checked_step(self, xb: Any, yb: Any) -> tuple[Any, Any, bool]:
        """Forward, loss, backward and, where it could be printed in, the update: a replay of
        the generated step, else :meth:`_gradients`. (loss value, output, updated)."""
        layout = self._layout
        rates = None if layout is None else self.optimizer.plain_rates(layout)
        result = None
        if self._labels_to_check is not None and self._step is not None and \
                self._step.output_shape is not None:
            # the model's output is known from an earlier step of this compiled step (the same
            # model: see fingerprint), so the labels need no eager step
            self._check_labels(self._step.output_shape)
        if rates is not None and self._labels_to_check is None:
            self.optimizer.zero_grad()  # as _gradients
            check = not self._labels_trusted()
            result = self._step.replay(xb, yb, check, rates)
        if result is None:
            v, out, updated = self._gradients(xb, yb, rates)
            if updated:  # (a replayed step follows one of these in the same epoch)
                self.optimizer.stepped_plain(layout, self._step.params)
            return v, out, updated
        self.compiled = "compiled"
        if self._unrecorded:  # the optimizer's state as its plain step leaves it, once an
            self.optimizer.stepped_plain(layout, self._step.params)  # epoch: see _plain_layout
            self._unrecorded = False
        if self._lane is not None:
            self._lane.admit(xb, rates, labels_trusted=not check)
        return result

    def _plain_layout(self) -> list[tuple[int, int] | None] | None:
        """For this epoch: where the compiled step's parameters sit in the optimizer, when its
        generated code may also run the optimizer's update — nothing between backward and the
        update (no ranks to sum over, no clipping); whether the update is plain SGD is read
        per step (:meth:`Optimizer.plain_rates`). None otherwise."""
        if self._step is None or self._dist is not None or self.clip_grad_norm is not None \
                or self.clip_grad_value is not None:
            return None
        # the optimizer (or its state) may have been replaced since the last epoch: the first
        # replayed step of this one leaves the entries its plain step would (stepped_plain);
        # later replays find them there (nothing but the steps runs between two of them)
        self._unrecorded = True
        return self.optimizer.plain_layout(self._step.params)

    def _update(self, rows: int, share: float | None = None) -> None:
        """After backward: gradients summed over the ranks (when distributed; this rank's loss
        covered `rows` rows: their mean, weighted n_r/N, their sum, weighted 1, or their
        class-weighted mean of divisor `share` = W_r, weighted W_r/W), clipped,
        their norms tracked (before clipping: what the loss gave, so that clipping does not hide
        exploding gradients), clipped, and the optimizer's step."""
        if self._dist is not None:
            self._dist.reduce_gradients(rows, summed=self._sum, share=share)
        self._track_norms()
        if self.clip_grad_norm is not None:
            clip_grad_norm_(self.model.parameters(), self.clip_grad_norm)
        if self.clip_grad_value is not None:
            clip_grad_value_(self.model.parameters(), self.clip_grad_value)
        self.optimizer.step()

    def _track_norms(self) -> None:
        """Each weight's gradient norm √Σ|g|² added to this epoch's sums (when tracked)."""
        if self.track_grad_norms:
            for k, p in self._named:
                if p.grad is not None:
                    xp = array_namespace(p.grad)
                    self._norms[k] = self._norms.get(k, 0.0) + xp.sqrt(xp.vdot(p.grad, p.grad).real)

    def _penalties(self) -> tuple[float, float]:
        """(l1, l2) this rank adds to its loss. Ranks' gradients of a mean loss add with weights
        n_r/N, which sum to 1, so every rank adds the penalty; those of a summed loss add with
        weight 1, so the penalty is rank 0's alone (rank 0 always has rows of a batch) — else it
        would count once per rank, in the gradients and in the reported loss."""
        if self._dist is not None and self._sum and not self._dist.is_main:
            return 0.0, 0.0
        return self.l1, self.l2

    # ----- loops
    def fit(self, train_loader: Any, val_data: Any = None, epochs: int = 10) -> History:
        """Train until `epochs` in total (a resumed trainer continues where it stopped).

        `train_loader`: a DataLoader, a list of (x, y) batches or an iterable of yours (an
        iterator, consumed by one epoch, for one epoch only). `val_data`: (X, y), a DataLoader
        or a list of (x, y) batches, scored as :meth:`evaluate` scores their concatenation.

        Raises:
            ValueError: `epochs` is negative, the training data is empty, val_data holds NaN or
                ±inf or no rows, or a class label is out of range.
            TypeError: an iterator for more than one epoch, or val_data of another form.
            DivergenceError: the training loss became NaN or infinite (checked once per epoch).
        """
        if isinstance(epochs, bool) or not isinstance(epochs, numbers.Integral):
            raise TypeError(f"fit: epochs must be an int, got {epochs!r}")
        if epochs < 0:
            raise ValueError(f"fit: epochs must be >= 0, got {epochs}")
        if self.epoch < epochs:
            _check_loader(train_loader, epochs - self.epoch)
        # distributed, a rank's own part of val_data may be empty: the job's rows are counted
        # once the ranks are joined (below); one process refuses no rows here
        alone = self.distributed is False or (self.distributed is None and context() is None)
        val_parts, val_rows = (None, 0) if val_data is None else _validation_batches(val_data)
        if val_parts is not None and not val_rows and alone:
            raise _no_validation_rows("")
        self._read_loss()
        self._monitor = self._check_monitor(val_data is not None)
        es = self.early_stopping
        if es is not None and self._watched is not None and self._watched != self._monitor:
            # the default monitor follows val_data: a fit watching the training loss after
            # one that watched val_loss compared it with the old best (stopping at once, and
            # restoring the other fit's weights) — the best is of this metric from here on
            es.reset()
            self.best_state = None
        self._watched = self._monitor
        self._labels_to_check, self._checked = None, None  # checked again once per fit
        if self._loader_state is not None and isinstance(train_loader, DataLoader):
            train_loader.load_state_dict(self._loader_state)  # (any other iterable's
        self._loader_state = None  # order is the caller's)
        self._loader = train_loader
        last = self._resumable()
        if last is not None:  # continue the run from its last epoch, not the restored best
            self.model.load_state_dict(last)
        self._last_state = None
        self._dist = data_parallel(self.distributed, self, train_loader)
        shown = self.progress and (self._dist is None or self._dist.is_main)
        bar = _Progress(shown, epochs - self.epoch, _length(train_loader))
        with bar, session(self._dist):
            if val_parts is not None and not alone and not (
                    self._dist.reduce_totals(val_rows)[0] if self._dist else val_rows):
                raise _no_validation_rows(" on any rank")
            while self.epoch < epochs:
                if self.early_stopping is not None and self.early_stopping.stopped:
                    break
                self._run_epoch(train_loader, val_parts, bar)
        if self.early_stopping is not None and self.early_stopping.restore_best and self.best_state:
            last = self.model.state_dict()
            self.model.load_state_dict(self.best_state)
            self._last_state, self._restored = last, self._held()
        return self.history

    def _read_loss(self) -> None:
        """What the loss decides besides its value: whether it sums (the reported loss and the
        ranks' weights), how its outputs score; read when fit starts and when code of the
        user's replaced ``trainer.loss_fn`` inside an epoch."""
        reduction = _reduction(self.loss_fn)
        if reduction == "none":
            raise ValueError(
                f"fit: the loss {_name(self.loss_fn)} has reduction='none' (one loss per "
                "sample), but a training step needs one number: use reduction='mean' or 'sum'")
        self._sum = reduction == "sum"
        self._scorer = scorer_for(self.loss_fn)
        self._loss_read = self.loss_fn

    def _resumable(self) -> dict[str, np.ndarray] | None:
        """The last epoch's weights where the model still holds the best ones that fit restored
        at its end (EarlyStopping(restore_best=True)): where the run continues from. None where
        nothing was restored or the weights were changed since (then they are what trains)."""
        last, best = self._last_state, self.best_state
        if last is None or best is None:
            return None
        held = self._held()  # a load (even of the best weights themselves) is a change
        if len(held) != len(self._restored) or not all(map(operator.is_, held, self._restored)):
            return None
        now = self.model.state_dict()
        if now.keys() != best.keys() or not all(np.array_equal(now[k], best[k]) for k in now):
            return None
        return last

    def _held(self) -> list[Any]:
        """The objects the model's state is: each parameter's leaf node and each buffer (a
        load, an assignment or an update replaces them; an in-place write changes values)."""
        return [p.node for p in self.model.parameters()] + [
            b for _, b in self.model.named_buffers()]

    def _choose_path(self) -> None:
        """Compile the step where that is sound (see :mod:`diffkit.nn.compiled_step`)."""
        if self.compile is False:
            self._step, self.compiled = None, "eager: Trainer(compile=False)"
            return
        why = why_not_compiled(self.model, self.loss_fn)
        if why is not None:
            if self.compile:
                raise ValueError(f"Trainer(compile=True): {why}")
            self._step, self.compiled = None, f"eager: {why}"
            return
        l1, l2 = self._penalties()
        if self._step is None or self._step.fingerprint != fingerprint(
                self.model, self.loss_fn, l1, l2):
            self._step = CompiledStep(self.model, self.loss_fn, l1, l2)

    def _check_monitor(self, validating: bool) -> str | None:
        """The history key early stopping watches, checked when fit starts: one that fit
        records (val_* only with val_data; accuracy only for a loss it is scored for), watched
        in its direction (a loss: mode='min'; an accuracy: mode='max'). Else ValueError."""
        es = self.early_stopping
        if es is None:
            return None
        scored = self._scorer is not None
        available = ["loss", *(["accuracy"] if scored else [])]
        if validating:
            available += ["val_loss", *(["val_accuracy"] if scored else [])]
        monitor = es.monitor
        if monitor is None:  # the default: the validation loss, else the training loss
            monitor = "val_loss" if validating else "loss"
        if monitor not in available:
            why = ""
            if monitor.startswith("val_") and not validating:
                why = "; the val_* entries are recorded only when fit gets val_data"
            elif monitor.endswith("accuracy") and not scored:
                why = (f"; {_name(self.loss_fn)} is a regression loss, so accuracy is not "
                       "recorded (NaN)")
            raise ValueError(f"EarlyStopping(monitor={monitor!r}): fit records "
                             f"{', '.join(repr(k) for k in available)} here{why}")
        want = "min" if monitor.endswith("loss") else "max"
        if es.mode != want:
            raise ValueError(f"EarlyStopping(monitor={monitor!r}, mode={es.mode!r}): a "
                             f"{'loss' if want == 'min' else 'accuracy'} improves as it "
                             f"{'falls' if want == 'min' else 'rises'}: use mode={want!r}")
        return monitor

    def _run_epoch(self, loader: Any, val_parts: Any, bar: Any) -> None:
        """One epoch over `loader`'s batches, then validation over `val_parts` (the (x, y)
        batches :func:`_validation_batches` gives, or None), the history, the end-of-epoch
        decisions and the checkpoint."""
        t0 = time.perf_counter()
        # the mode first: the path (and a compiled step's fingerprint) is chosen for the mode
        # this epoch trains in; the model may have changed since the last epoch
        self.model.train()
        self._choose_path()
        self._layout = self._plain_layout()
        # where no code of the user's runs between two steps, replays check only the batch
        plain = type(loader) is DataLoader and loader.transform is None and loader.sampler is None
        self._lane = self._step.lane() if self._layout is not None and plain else None
        self._named = [(k, p) for k, p in self.model.named_parameters()
                       if len(p.shape) >= 2] if self.track_grad_norms else []
        y = getattr(loader, "y", None)
        if uses_class_labels(self.loss_fn) and isinstance(y, np.ndarray) and \
                y.dtype.kind in "iu" and (self._checked is None or self._checked[0] is not y):
            self._labels_to_check = y  # a new y (or a new fit): checked at the first step
        self._norms: dict[str, Any] = {}
        steps = _length(loader)  # None: an iterable of the user's without __len__
        # per step, left on the device (a GPU is not waited for): the loss, the rows, the hits;
        # summed once the epoch is done (and now and then for a progress bar that is shown)
        losses: list[Any] = []
        rows: list[int] = []
        hits: list[Any] = []
        # what each batch's mean counts for in the epoch's: its rows, or for a class-weighted
        # loss its labels' total weight (the mean's divisor: see _class_weight_of)
        # (distributed: exact, a rank's rows may weigh 0 while the global batch does not)
        weigh = _class_weight_of(self.loss_fn, exact=self._dist is not None)
        counts: list[Any] = rows if weigh is None else []
        # code of the user's (a transform, a sampler, an iterable of theirs) runs between two
        # steps and may freeze a parameter or change a setting: the compiled step is checked
        # against the model before each step, as it is here at the epoch's start
        step = self._step_unguarded if plain else self._rechecked_step
        shown, shown_total = 0, 0.0
        try:
            # the steps' contexts, entered once: NumPy warnings off (inf + -inf, float32
            # overflow: the loss is checked below), the cyclic GC paused (a step's graph is
            # acyclic)
            with paused_gc(), np.errstate(all="ignore"):
                for xb, yb in loader:
                    loss, right = step(xb, yb)
                    losses.append(loss)
                    rows.append(len(yb))
                    if weigh is not None:
                        counts.append(len(yb) if (c := weigh(yb)) is None else c)
                    hits.append(right)
                    if bar.bar is not None:
                        i = len(losses) - 1
                        if i % 25 == 0 or i == (steps or 0) - 1:  # reading the loss waits
                            shown_total += _weighted_sum(losses[shown:], counts[shown:])
                            shown = len(losses)
                            bar.advance(f"epoch {self.epoch + 1}: loss "
                                        f"{float(shown_total) / (sum(counts) or 1.0):.4f}")
                        else:
                            bar.advance(None)
                total = _weighted_sum(losses, counts)
        finally:
            self._lane = None  # _device_step outside fit's loop checks every step
        if not losses:  # an iterable of the user's that gave no batches (len() gave 0 before)
            raise ValueError(f"fit: {_loader_name(loader)} gave no batches in epoch "
                             f"{self.epoch + 1}: there is nothing to train on (an iterator "
                             "consumed by an earlier epoch or fit gives none: pass a list or a "
                             "DataLoader)")
        correct, n, counted = sum(hits, 0.0), sum(rows), sum(counts)
        if self._dist is not None:  # the sums over all ranks' shards
            total, correct, n, counted = self._dist.reduce_totals(total, correct, n, counted)
        with np.errstate(all="ignore"):
            mean = float(total) / counted if counted else math.nan
        if not math.isfinite(mean):
            self._diverged(losses, mean, len(losses))
        self.diverged_at = None
        h = self.history
        h["loss"].append(mean)
        h["accuracy"].append(float(correct) / n)
        h["lr"].append(self.optimizer.param_groups[0]["lr"])
        for k, s in self._norms.items():
            h["grad_norms"].setdefault(k, []).append(float(s) / len(losses))
        if val_parts is not None:
            vl, va = self._evaluate_batches(val_parts)
            h["val_loss"].append(vl)
            h["val_accuracy"].append(va)
        h["time"].append(time.perf_counter() - t0)
        self._after_epoch(h, val_parts is not None)
        self.epoch += 1
        bar.epoch_done(self.epoch, h)
        if self.checkpoint and (self._dist is None or self._dist.is_main):
            self.save_checkpoint(self.checkpoint)

    def _diverged(self, losses: list[Any], mean: float, steps: int) -> None:
        """Raise DivergenceError naming the first step whose loss is not finite."""
        first = next(((i, float(v)) for i, v in enumerate(losses) if not math.isfinite(float(v))),
                     None)
        step, value = first if first is not None else (None, mean)
        where = (f"at step {step + 1} of {steps}" if step is not None
                 else "(the sum of its finite step losses overflowed)")
        lr = self.optimizer.param_groups[0]["lr"]
        half = any(p.dtype == np.float16 for p in self.model.parameters())
        advice = ("float16 holds numbers up to 65504 only: train in float32 (build the model "
                  "with dtype=np.float32), lower the learning rate (lr={lr:g}) or clip "
                  "gradients (clip_grad_norm=1.0)" if half else
                  "Lower the learning rate (lr={lr:g}), or clip gradients (clip_grad_norm=1.0)")
        self.diverged_at = self.epoch + 1
        raise DivergenceError(
            f"training diverged in epoch {self.epoch + 1} {where}: the loss is {value}. "
            + advice.format(lr=lr),
            epoch=self.epoch + 1, step=None if step is None else step + 1, loss=value)

    def _after_epoch(self, h: History, validating: bool) -> None:
        """The end-of-epoch decisions: the scheduler's step, early stopping, the best weights.
        Distributed, they read the history's global numbers (summed over the ranks), and the
        model's buffers are rank 0's first (a plain batch norm's running statistics differ per
        rank until then), so every rank decides alike and the best weights and the checkpoint
        written next are the same everywhere."""
        if self._dist is not None and self._dist.active:
            self._dist.sync_buffers(self.model)
        # this fit's metric: an earlier fit's val_loss, frozen, cut the rate at every epoch
        monitor = h["val_loss"][-1] if validating else h["loss"][-1]
        if isinstance(self.scheduler, ReduceLROnPlateau):
            self.scheduler.step(monitor)
        elif self.scheduler is not None:
            self.scheduler.step()
        es = self.early_stopping
        if es is not None:
            es.step(h[self._monitor or self._check_monitor(validating)][-1])
            if es.best_epoch == es.epoch and es.restore_best:
                self.best_state = self.model.state_dict()

    def evaluate(self, X: Any, y: Any, batch_size: int = 1024) -> tuple[float, float]:
        """(mean loss, accuracy) over a data set, in eval mode without recording.

        Inside a distributed fit (its validation) the numbers are the whole job's: the model's
        buffers are rank 0's first, and the per-term loss sums, term counts, hits and rows of
        the ranks are summed (one all-reduce). Where every rank passes the same (X, y), each
        evaluates its contiguous share of the rows, so that every row counts once; where the
        ranks pass different data, each evaluates all of its own (its part of the set).
        Outside fit, it is this process's alone.

        Raises:
            ValueError: X or y holds NaN or ±inf, or a class label is out of range.
        """
        _check_data("evaluate", X, y)
        return self._evaluate_batches([(X, y)], batch_size)

    def _evaluate_batches(self, batches: Any, batch_size: int = 1024) -> tuple[float, float]:
        """:meth:`evaluate` over the concatenation of (x, y) `batches` (fit's val_data): the
        batches' per-term loss sums and hits added up, so the mean is the whole set's (one
        batch: its mean as it is)."""
        dist = self._dist
        active = dist is not None and dist.active
        if active:
            dist.sync_buffers(self.model)
        sums = [self._evaluation_sums(*(dist.validation_rows(x, y, self.model) if active
                                        else (x, y)), batch_size) for x, y in batches]
        if len(sums) == 1:
            loss, terms, hits, rows, unscored = sums[0]
            total = loss * terms
        else:
            total = math.fsum(m * t for m, t, *_ in sums)
            terms, hits, rows, unscored = (math.fsum(p[k] for p in sums) for k in range(1, 5))
            loss = total / terms if terms else float("nan")
        if active:
            total, terms, hits, rows, unscored = dist.reduce_validation(
                total, terms, hits, rows, unscored)
            loss = total / terms if terms else float("nan")
        elif not terms:
            loss = float("nan")  # the mean of no terms
        if unscored or not rows:
            return loss, float("nan")
        return loss, hits / rows  # per row, as fit

    def _evaluation_sums(self, X: Any, y: Any, batch_size: int) -> tuple[float, ...]:
        """(m, T, hits, rows, unscored) over (X, y): the loss's mean m over its T terms (a sum
        divided by T; reduction 'none': the terms' mean), so that parts combine as
        Σ m·T / Σ T; `unscored` is 1 where accuracy is not defined (NaN). No rows: zeros."""
        if len(X) == 0:
            return 0.0, 0.0, 0.0, 0.0, 0.0
        out = self.predict(X, batch_size)
        y_host = np.asarray(to_numpy(value_of(y)))
        if uses_class_labels(self.loss_fn) and y_host.dtype.kind in "iu" and len(out.shape) >= 2:
            check_class_labels(_name(self.loss_fn), y_host, out.shape[-1], " of y",
                               _ignore_index(self.loss_fn))
        yd = to_device(y_host, self.model.device)
        loss = value_of(self.loss_fn(out, yd))
        reduction = _reduction(self.loss_fn)
        terms = _terms(self.loss_fn, out.shape, yd)
        if reduction == "none":  # one loss per term: their mean
            mean, terms = float(loss.mean()), int(loss.size)
        else:
            mean = float(loss) / (terms if reduction == "sum" else 1)
        scorer = _scores(scorer_for(self.loss_fn), out, y_host)
        hits = 0.0 if scorer is None else float(_correct(out, yd, scorer))
        return mean, float(terms), hits, float(len(out)), float(scorer is None)

    def predict(self, X: Any, batch_size: int = 1024) -> Any:
        """Model outputs (arrays on the model's device) in eval mode; restores the mode after."""
        return predict(self.model, X, batch_size)

    # ----- checkpoints
    def save_checkpoint(self, path: str) -> None:
        """Write everything needed to resume, atomically (see :mod:`diffkit.nn.checkpoint`:
        a checksummed, versioned NumPy zip that loading never unpickles). Where fit ended by
        restoring the best weights, "model" holds them (what loading gives the model) and
        "resume" the last epoch's, which the optimizer's state belongs to and a resumed fit
        continues from, bit for bit. The loader's state is saved for a diffkit DataLoader; a
        list of batches, or an iterable of yours, saves none ("loader": None: a resumed fit
        takes the caller's order). Weights holding NaN or inf are saved as they are (a frozen
        mask of -inf), unless the last fit diverged.

        Raises:
            CheckpointError: the last fit raised DivergenceError (``diverged_at``), so the
                weights hold the diverged steps' values: resume from the last good checkpoint.
        """
        if self.diverged_at is not None:
            raise CheckpointError(
                f"{path}: not written: the run diverged at epoch {self.diverged_at} "
                "(DivergenceError), so the weights hold the diverged steps' values: load the "
                "last good checkpoint and resume from it, with a lower learning rate or "
                "gradient clipping")
        loader = self._loader
        state = {
            "epoch": self.epoch, "history": dict(self.history), "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(), "rng": get_rng().bit_generator.state,
            "scheduler": self.scheduler.state_dict() if self.scheduler is not None else None,
            "early_stopping": (self.early_stopping.state_dict()
                               if self.early_stopping is not None else None),
            "loader": loader.state_dict() if isinstance(loader, DataLoader) else None,
            "best_state": self.best_state,
        }
        last = self._resumable()
        if last is not None:
            state["resume"] = last
        if self.config is not None:
            state["config"] = self.config
        save_state(path, state)

    def load_checkpoint(self, path: str) -> None:
        """Restore a checkpoint written by :meth:`save_checkpoint`, all or nothing: every entry
        is checked — its type, its shape, its range, and that it fits this trainer's model,
        optimizer, scheduler and early stopping — before anything changes, so a refused file
        leaves the trainer as it was.

        Raises:
            CheckpointError: the file is not a diffkit checkpoint, is truncated or corrupted
                (checksum mismatch), comes from a newer format version, or an entry is
                malformed or does not fit this trainer (the message names the entry).
            ConfigMismatchError: (a CheckpointError) this trainer has a ``config`` and the
                checkpoint records another one, or none.
        """
        state = load_state(path)
        missing = [k for k in _CHECKPOINT_KEYS if k not in state]
        if missing:
            raise CheckpointError(f"{path}: not a Trainer checkpoint (no {', '.join(missing)})")
        saved = state.get("config")
        if saved is not None and not isinstance(saved, dict):
            raise CheckpointError(f"{path}: entry 'config': a {type(saved).__name__}, not a dict")
        self._compare_config(path, saved)
        entry = "history"
        try:  # what the trainer only stores: checked here, as no piece checks it later
            history = _history_from(state["history"])
            entry = "epoch"
            epoch = _checked_epoch(state["epoch"], history.epochs)
            for entry in ("model", "optimizer", "resume", "best_state", "scheduler",
                          "early_stopping", "loader"):
                value = state.get(entry)
                if not isinstance(value, dict) and (value is not None or entry in (
                        "model", "optimizer")):
                    raise TypeError(f"a {type(value).__name__}, not a dict")
            if state["loader"] is not None:
                check_loader_state(state["loader"])
            for entry, piece in (("scheduler", self.scheduler),
                                 ("early_stopping", self.early_stopping)):
                _check_presence(entry, state[entry], piece)
        except (TypeError, ValueError) as exc:
            raise CheckpointError(f"{path}: entry {entry!r}: {_message(exc)}") from None
        before = self._restorable()
        loads = [  # each piece checks its own entry before it changes
            ("resume", self.model.load_state_dict),  # the next fit loads it: checked now
            ("best_state", self.model.load_state_dict),  # fit's end loads it: checked now
            ("model", self.model.load_state_dict),
            ("optimizer", self.optimizer.load_state_dict),
            ("rng", _set_rng),
            ("scheduler", None if self.scheduler is None else self.scheduler.load_state_dict),
            ("early_stopping",
             None if self.early_stopping is None else self.early_stopping.load_state_dict)]
        try:
            for entry, load in loads:
                if load is not None and state.get(entry) is not None:
                    load(state[entry])
        except (KeyError, ValueError, TypeError, AttributeError, OverflowError) as exc:
            self._restore(before)
            raise CheckpointError(f"{path}: entry {entry!r}: {_message(exc)}") from None
        self.epoch, self.history, self.diverged_at = epoch, history, None
        self._loader_state, self.best_state = state["loader"], state["best_state"]
        self._last_state, self._restored = state.get("resume"), self._held()

    def _compare_config(self, path: str, saved: dict[str, Any] | None) -> None:
        """ConfigMismatchError when this trainer has a config and the checkpoint's differs."""
        mine = self.config
        if mine is None:
            return
        if saved is None:
            raise ConfigMismatchError(
                f"{path}: records no config (a Trainer without config=, or an older diffkit, "
                "wrote it), so it cannot be checked against this trainer's: load it into a "
                "Trainer without config, or start a new run", saved=None, current=mine,
                keys=list(mine))
        keys = [k for k in [*mine, *(k for k in saved if k not in mine)]
                if k not in saved or k not in mine or not _same_value(saved[k], mine[k])]
        if keys:
            def show(config: dict[str, Any]) -> str:
                return ", ".join(f"{k}={config[k]!r}" if k in config else f"no {k}"
                                 for k in keys)

            raise ConfigMismatchError(
                f"{path}: written by a run with {show(saved)}, not {show(mine)}: load it into "
                "a trainer with that config, or start a new run", saved=saved, current=mine,
                keys=keys)

    def _restorable(self) -> dict[str, Any]:
        """What :meth:`load_checkpoint` replaces, as it is now (for :meth:`_restore`)."""
        return {"epoch": self.epoch, "history": self.history,
                "model": self.model.state_dict(), "optimizer": self.optimizer.state_dict(),
                "rng": get_rng().bit_generator.state,
                "scheduler": _attributes(self.scheduler),
                "early_stopping": _attributes(self.early_stopping)}

    def _restore(self, before: dict[str, Any]) -> None:
        """Put back :meth:`_restorable`'s state. The scheduler's and early stopping's
        attributes are set back as they were, unchecked: a setting their load_state_dict
        refuses (``es.patience = -1`` set by hand) cannot make the rollback fail too."""
        self.epoch, self.history = before["epoch"], before["history"]
        self.model.load_state_dict(before["model"])
        self.optimizer.load_state_dict(before["optimizer"])
        get_rng().bit_generator.state = before["rng"]
        for piece, attributes in ((self.scheduler, before["scheduler"]),
                                  (self.early_stopping, before["early_stopping"])):
            if attributes is not None:
                vars(piece).clear()
                vars(piece).update(attributes)


_CHECKPOINT_KEYS = ("epoch", "history", "model", "optimizer", "rng", "scheduler",
                    "early_stopping", "loader", "best_state")
#: History entries with one number per epoch, and those with one per epoch that validated
_PER_EPOCH, _PER_VALIDATION = ("loss", "accuracy", "lr", "time"), ("val_loss", "val_accuracy")


def _message(exc: BaseException) -> str:
    """An exception's text on one line (a KeyError's without the quotes repr adds)."""
    text = exc.args[0] if isinstance(exc, KeyError) and exc.args else str(exc)
    return " ".join(str(text).split()) or type(exc).__name__


def _set_rng(state: Any) -> None:
    """Give the generator of :func:`~diffkit.nn.manual_seed` a saved state, checked first."""
    bits = get_rng().bit_generator
    check_rng_state(state, "rng", type(bits).__name__, "nn.manual_seed's generator")
    bits.state = state


def _is_number(v: Any) -> bool:
    return isinstance(v, numbers.Real) and not isinstance(v, bool)


def _numbers(name: str, v: Any) -> list[Any]:
    """A copy of a history list, checked to hold numbers (NaN included); ValueError otherwise."""
    if not isinstance(v, list | tuple):
        raise TypeError(f"{name} is a {type(v).__name__}, not a list of numbers")
    bad = next((i for i, x in enumerate(v) if not _is_number(x)), None)
    if bad is not None:
        raise ValueError(f"{name}[{bad}] is {v[bad]!r:.40}, not a number")
    return list(v)


def _history_from(saved: Any) -> History:
    """The History a checkpoint holds, checked: a dict whose loss, accuracy, lr and time have a
    number per epoch, val_loss and val_accuracy a number per epoch that had val_data (at most
    one per epoch), grad_norms a dict of such lists (a layer is tracked from when it was
    added). Other entries (your own) are kept as they are. ValueError naming the entry."""
    if not isinstance(saved, dict):
        raise TypeError(f"a {type(saved).__name__}, not a dict")
    missing = [k for k in (*_PER_EPOCH, *_PER_VALIDATION, "grad_norms") if k not in saved]
    if missing:
        raise ValueError(f"the history has no {', '.join(map(repr, missing))}")
    history = History()
    history.update(saved)
    epochs = len(_numbers("'loss'", saved["loss"]))
    for k in (*_PER_EPOCH, *_PER_VALIDATION):
        history[k] = _numbers(repr(k), saved[k])
        n = len(history[k])
        if n > epochs or (n != epochs and k in _PER_EPOCH) or (
                k == "val_accuracy" and n != len(history["val_loss"])):
            raise ValueError(f"{k!r} has {n} entries for {epochs} epochs"
                             + ("" if k != "val_accuracy" else
                                f" and {len(history['val_loss'])} validations"))
    norms = saved["grad_norms"]
    if not isinstance(norms, dict):
        raise TypeError(f"'grad_norms' is a {type(norms).__name__}, not a dict")
    history["grad_norms"] = {}
    for name, v in norms.items():
        if not isinstance(name, str):
            raise TypeError(f"'grad_norms' has the key {name!r}, not a parameter's name")
        history["grad_norms"][name] = _numbers(f"'grad_norms'[{name!r}]", v)
        if len(v) > epochs:
            raise ValueError(f"'grad_norms'[{name!r}] has {len(v)} entries for {epochs} epochs")
    return history


def _checked_epoch(epoch: Any, recorded: int) -> int:
    """The checkpoint's epoch: a whole number, that of the epochs its history records."""
    if isinstance(epoch, bool) or not isinstance(epoch, numbers.Integral):
        raise TypeError(f"{epoch!r:.40}, not a whole number >= 0")
    if epoch < 0:
        raise ValueError(f"{epoch}, not a whole number >= 0")
    if epoch != recorded:
        raise ValueError(f"{epoch}, but 'history' records {recorded} epochs")
    return int(epoch)


def _attributes(piece: Any) -> dict[str, Any] | None:
    """A copy of a scheduler's or early stopping's attributes (None for none), for a rollback."""
    return None if piece is None else dict(vars(piece))


def _check_presence(entry: str, saved: Any, piece: Any) -> None:
    """A scheduler or early-stopping state saved where the trainer has that piece, and none
    where it has none (either way round the run would not resume as it was). ValueError."""
    arg = f"Trainer({entry}=...)"
    if saved is not None and piece is None:
        raise ValueError(f"the run had a {entry} and this trainer has none, so its state would "
                         f"be dropped: pass the run's {entry} ({arg}) to resume it")
    if saved is None and piece is not None:
        raise ValueError(f"the run had no {entry} and this trainer has a "
                         f"{type(piece).__name__}, which would start afresh mid-run: resume "
                         f"without it, or start a new run with it")


def _plain_config(config: Any, where: str = "config") -> Any:
    """A copy of a Trainer's config, checked to be plain data (TypeError naming the entry)."""
    if where == "config" and not isinstance(config, Mapping):
        raise TypeError(f"Trainer: config must be a dict, not a {type(config).__name__}")
    if isinstance(config, Mapping):
        if not all(isinstance(k, str) for k in config):
            raise TypeError(f"Trainer: {where} has a key that is not a str")
        return {k: _plain_config(v, f"{where}[{k!r}]") for k, v in config.items()}
    if isinstance(config, list | tuple):
        return [_plain_config(v, f"{where}[{i}]") for i, v in enumerate(config)]
    if config is None or isinstance(config, str | bool | int | float):
        return config
    raise TypeError(f"Trainer: {where} is a {type(config).__name__}: a config holds str, int, "
                    "float, bool, None, and lists and dicts of them")


def _same_value(a: Any, b: Any) -> bool:
    """Config values compared: equal, NaN equal to NaN."""
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    return bool(a == b)


def _length(loader: Any) -> int | None:
    """How many batches an epoch over `loader` has: its ``len``, or None where it has none (an
    iterable of the user's, a generator)."""
    try:
        return len(loader)
    except TypeError:
        return None


def _loader_name(loader: Any) -> str:
    return "the DataLoader" if isinstance(loader, DataLoader) else \
        f"the training data (a {type(loader).__name__})"


def _check_loader(loader: Any, epochs: int) -> None:
    """fit's training data before its `epochs` epochs: not empty where it has a length (one
    without is checked as its epochs run), and re-iterable for more than one epoch — an
    iterator (a generator: ``iter(x) is x``) is consumed by the first. ValueError/TypeError."""
    if _length(loader) == 0:
        what = _loader_name(loader)
        detail = (f"0 batches from {len(getattr(loader, 'X', ()))} rows with batch_size="
                  f"{loader.batch_size}, drop_last={loader.drop_last}"
                  if isinstance(loader, DataLoader) else "0 batches")
        raise ValueError(f"fit: {what} is empty ({detail}): there is nothing to train on")
    try:
        once = iter(loader) is loader
    except TypeError:
        raise TypeError(f"fit: the training data is a {type(loader).__name__}, which cannot be "
                        "iterated: pass a DataLoader or a list of (x, y) batches") from None
    if once and epochs > 1:
        raise TypeError(
            f"fit: the training data is an iterator (a {type(loader).__name__}), which one epoch "
            f"consumes, so the other {epochs - 1} would train on nothing: pass a re-iterable "
            "(a list of (x, y) batches, a DataLoader, or a class with __iter__)")


def _validation_batches(val_data: Any) -> tuple[Any, int]:
    """fit's `val_data` as what each epoch evaluates, and its number of rows: a list of (x, y)
    batches — ``[(X, y)]``
    for a tuple (X, y) of arrays or nested lists, as :meth:`Trainer.evaluate` takes them, or a
    list [X, y] of two arrays —, or
    the DataLoader, list or re-iterable of (x, y) batches given. Checked once here: every batch
    a pair of arrays of as many rows, finite (whether there are rows at all is fit's to judge:
    distributed, over every rank's part). ValueError/TypeError saying what val_data may be
    otherwise."""
    usage = ("val_data may be (X, y) — a tuple of two arrays or nested lists of as many rows "
             "—, a DataLoader, or a list of (x, y) batches of arrays ((X, y) is passed as a "
             "tuple; a list is read as batches)")
    # (X, y): a tuple of two, or a list of two arrays (a batch is a pair, never an array)
    single = isinstance(val_data, tuple | list) and len(val_data) == 2 and (
        isinstance(val_data, tuple) or all(hasattr(v, "shape") for v in val_data))
    if single:
        if all(_is_batch(v) for v in val_data):
            raise TypeError("fit: val_data is a tuple of two (x, y) batches, read as (X, y): "
                            "pass the batches as a list, [(x1, y1), (x2, y2)]")
        parts: Any = [tuple(_rows(v) for v in val_data)]
    elif isinstance(val_data, Mapping | str | bytes) or hasattr(val_data, "shape"):
        raise TypeError(f"fit: val_data is a {type(val_data).__name__}: {usage}")
    else:
        try:
            once = iter(val_data) is val_data
        except TypeError:
            raise TypeError(f"fit: val_data is a {type(val_data).__name__}: {usage}") from None
        if once:
            raise TypeError(f"fit: val_data is an iterator (a {type(val_data).__name__}), which "
                            f"the first epoch's validation would consume: {usage}")
        parts = val_data if isinstance(val_data, DataLoader) else list(val_data) \
            if isinstance(val_data, tuple | list) else val_data
    rows = 0
    for i, batch in enumerate(parts):
        where = "val_data" if single else f"val_data's batch {i}"
        if not (isinstance(batch, tuple | list) and len(batch) == 2
                and all(hasattr(v, "shape") for v in batch)):
            raise TypeError(f"fit: {where} is not an (x, y) pair of arrays: {usage}")
        x, y = batch
        if len(x.shape) == 0 or len(y.shape) == 0 or len(x) != len(y):
            raise ValueError(f"fit: {where} holds x of shape {tuple(x.shape)} and y of shape "
                             f"{tuple(y.shape)}: x and y need one row per sample ({usage})")
        _check_data(where, x, y)
        rows += len(x)
    return parts, rows


def _no_validation_rows(where: str) -> ValueError:
    """NaN val_loss every epoch: early stopping on nothing, the plateau cutting the rate."""
    return ValueError(f"fit: val_data holds no rows{where} (a NaN val_loss at every epoch "
                      "would drive early stopping and ReduceLROnPlateau): pass rows, or no "
                      "val_data")


def _is_batch(v: Any) -> bool:
    """Whether `v` looks like one (x, y) batch: a tuple or list of two arrays."""
    return isinstance(v, tuple | list) and len(v) == 2 and all(hasattr(e, "shape") for e in v)


def _rows(v: Any) -> Any:
    """An array as it is; nested lists as a NumPy array (a TypeError saying so if ragged)."""
    if hasattr(v, "shape"):
        return v
    try:
        a = np.asarray(v)
    except ValueError:
        a = None
    if a is None or a.dtype.kind not in "biuf":
        raise TypeError(f"fit: val_data's X or y is a {type(v).__name__} that is no array of "
                        "numbers (ragged or not numeric): pass (X, y) as two arrays, or a list "
                        "of (x, y) batches")
    return a


def _check_data(what: str, X: Any, y: Any) -> None:
    check_finite(f"{what}: X", np.asarray(to_numpy(value_of(X))))
    check_finite(f"{what}: y", np.asarray(to_numpy(value_of(y))))


def _name(loss_fn: Any) -> str:
    return getattr(loss_fn, "__name__", type(loss_fn).__name__)


def scorer_for(loss_fn: Any) -> str | float | None:
    """How the Trainer scores accuracy for this loss: the built-in loss's declared score
    (:data:`~diffkit.nn.losses.LOSS_KINDS`: "argmax" for cross_entropy and nll_loss, 0.5 on the
    probabilities of binary_cross_entropy, 0 on the logits of binary_cross_entropy_with_logits,
    None for mse: no accuracy, NaN), or "labels" for a loss of your own (arg-max where the targets
    are integer labels and the model has two or more outputs; NaN otherwise)."""
    kind = kind_of(loss_fn)
    return "labels" if kind is None else kind.score


def _scores(scorer: str | float | None, out: Any, y: Any) -> str | float | None:
    """The scorer that applies to this output and target (None: accuracy is NaN)."""
    if scorer is None or isinstance(scorer, float):
        return scorer
    kind = getattr(getattr(value_of(y), "dtype", None), "kind", "")
    if kind not in ("i", "u") or len(out.shape) < 2:
        return None  # class losses with probability targets, or one output of your own loss
    return "argmax" if scorer == "argmax" or out.shape[-1] >= 2 else None


def _ignore_index(loss_fn: Any) -> int | None:
    """The label a built-in class loss leaves out (PyTorch's −100 unless given), else None."""
    if builtin_loss(loss_fn) not in (cross_entropy, nll_loss):
        return None
    return loss_weights(loss_fn).get("ignore_index", -100)


def _reduction(loss_fn: Any) -> str:
    """The built-in loss classes' `reduction`, the one a ``functools.partial`` of a built-in
    loss function passes, the ``reduction`` attribute declared on a loss of your own ('mean',
    'sum' or 'none'), or what a distributed fit's probe found it to be
    (:func:`~diffkit.nn.reduction.known_reduction`); any other loss counts as 'mean' (one
    process needs no more: the weights of the ranks' gradients are where it matters, and there
    an undeclared loss is probed)."""
    return known_reduction(loss_fn) or "mean"


def _class_weight_of(loss_fn: Any, exact: bool = False
                     ) -> Callable[[Any], float | None] | None:
    """For a built-in class loss given class weights (``weight=``): the function of a batch's
    targets giving what its mean divides by, Σᵢ w_yᵢ for integer labels (None for probability
    targets: their mean is over the rows); None for every other loss. Batches then count by
    it in the epoch's mean, so that the history's loss is the loss of the whole set, as
    val_loss is (counted by rows, the weighted batches' means were averaged wrongly); a rank
    weighs its gradients by it. A total of 0 is given as 1 unless `exact`."""
    if builtin_loss(loss_fn) not in (cross_entropy, nll_loss):
        return None
    weight = loss_weights(loss_fn).get("weight")
    if weight is None:
        return None
    w = np.asarray(to_numpy(value_of(weight)), dtype=np.float64)

    def total(y: Any) -> float | None:
        labels = np.asarray(to_numpy(value_of(y)))
        if labels.dtype.kind not in "iu":
            return None
        total = float(w[labels].sum())
        return total if exact else total or 1.0  # (all weights 0: the loss is NaN; no 0/0 here)

    return total


def _label_smoothing(loss_fn: Any) -> float:
    """The label smoothing a built-in cross_entropy (class form or ``functools.partial``) is
    given; 0 for every other loss."""
    if builtin_loss(loss_fn) is not cross_entropy:
        return 0.0
    if type(loss_fn) is functools.partial:
        return float(loss_fn.keywords.get("label_smoothing", _label_smoothing(loss_fn.func)))
    return float(getattr(loss_fn, "label_smoothing", 0.0))


def _terms(loss_fn: Any, out_shape: tuple[int, ...], y: Any = None) -> float:
    """How many terms a loss sums for an output of this shape: one per row for the class losses
    (cross_entropy, nll_loss), one per entry for the others; a loss of your own is read by its
    targets — integer labels of the output's shape less its last axis are one term per row (a
    class loss), anything else one per entry. A class loss with class weights: the rows' total
    weight Σ w_y, its mean's divisor (:func:`_class_weight_of`)."""
    weigh = _class_weight_of(loss_fn) if y is not None else None
    if weigh is not None and (total := weigh(y)) is not None:
        return total
    shape = tuple(out_shape)
    if builtin_loss(loss_fn) is not None:
        rows = uses_class_labels(loss_fn)
    else:
        target = value_of(y) if y is not None else None
        kind = getattr(getattr(target, "dtype", None), "kind", "")
        rows = kind in "iu" and kind != "" and tuple(np.shape(target)) == shape[:-1]
    return max(math.prod(shape[:-1] if rows else shape), 1)


def fit(model: Module, train_loader: DataLoader, epochs: int = 10,
        val_data: tuple[Any, Any] | None = None, **trainer_args: Any) -> History:
    """Shortcut for ``Trainer(model, **trainer_args).fit(train_loader, val_data, epochs)``.

    Example:
        >>> import diffkit.nn as nn
        >>> X, y = nn.make_xor(200)
        >>> h = nn.fit(nn.MLP([2, 8, 2]), nn.DataLoader(X, y), epochs=2, progress=False)
        >>> len(h["loss"])
        2
    """
    return Trainer(model, **trainer_args).fit(train_loader, val_data, epochs)


@final  # not subclassed, so __enter__ returns exactly a _Progress (typing.Self is 3.11+)
class _Progress:
    """What fit shows: on a terminal, a rich progress bar over all steps with one line per epoch
    above it; anywhere else (a notebook, a pipe, a CI log) one plain line per epoch and no bar,
    so nothing is redrawn, cut at 80 columns, or asks for ipywidgets. Nothing when disabled."""

    def __init__(self, enabled: bool, epochs: int, steps: int | None) -> None:
        # steps None (an iterable without __len__): a bar without a total
        self.enabled = enabled
        self.total = None if steps is None else max(epochs, 0) * steps
        self.bar: Any = None

    def __enter__(self) -> _Progress:
        console = _terminal_console() if self.enabled else None
        if console is not None:
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TextColumn,
                TimeRemainingColumn,
            )

            self.bar = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                                TimeRemainingColumn(), console=console)
            self.bar.__enter__()
            self.task = self.bar.add_task("training", total=self.total)
        return self

    def advance(self, text: str | None) -> None:
        if self.bar is not None:
            if text is None:
                self.bar.update(self.task, advance=1)
            else:
                self.bar.update(self.task, advance=1, description=text)

    def epoch_done(self, epoch: int, h: History) -> None:
        if not self.enabled:
            return
        line = f"epoch {epoch:3d}  loss {h['loss'][-1]:.4f}  acc {h['accuracy'][-1]:.3f}"
        if h["val_loss"]:
            line += f"  val_loss {h['val_loss'][-1]:.4f}  val_acc {h['val_accuracy'][-1]:.3f}"
        line += f"  lr {h['lr'][-1]:.3g}  {h['time'][-1] * 1000:.0f} ms"
        if self.bar is not None:
            self.bar.console.print(line, soft_wrap=True)  # the terminal folds it, rich does not
        else:
            print(line, file=sys.stdout, flush=True)

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            self.bar.__exit__(*exc)


def _terminal_console() -> Any:
    """A rich Console when output goes to a terminal, else None: Jupyter (whose live display
    needs ipywidgets), pipes and CI logs get plain lines. rich decides what a terminal is
    (``FORCE_COLOR`` and ``TTY_COMPATIBLE`` included); without rich there is no bar."""
    try:
        from rich.console import Console
    except ImportError:
        return None
    console = Console()
    return console if console.is_terminal and not console.is_jupyter else None


__all__ = ["DivergenceError", "History", "Trainer", "accuracy", "fit", "predict"]
