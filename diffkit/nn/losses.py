"""Losses and weight penalties: functions (``cross_entropy``) and PyTorch-style classes.

Each is a diffkit expression, so ``loss.backward()`` differentiates it with the reverse engine.
Cross-entropy uses the fused, stable ``softmax_cross_entropy`` primitive; binary cross-entropy from
logits is a sum of terms of one sign, finite at |z| = 1000 and accurate where it is tiny.
"""

from __future__ import annotations

import functools
import math
import numbers
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np

from .. import ops as dk
from ..backend import array_namespace, to_numpy
from ..errors import InputTypeError, ShapeError
from ..tensor import Tensor
from .module import Module, value_of

_REDUCTIONS = ("mean", "sum", "none")


def check_reduction(reduction: Any) -> None:
    """An error naming the argument unless `reduction` is 'mean', 'sum' or 'none': an
    InputTypeError for anything but a string (an array there is PyTorch's positional
    ``weight``, which NumPy's truth test turned into a bare "truth value of an array is
    ambiguous"), a ValueError for another string."""
    names = ", ".join(map(repr, _REDUCTIONS))
    if not isinstance(reduction, str):
        raise InputTypeError(f"reduction must be one of {names}, not a "
                             f"{type(reduction).__name__} (PyTorch's third positional argument "
                             "is the class weights; diffkit's is reduction)")
    if reduction not in _REDUCTIONS:
        raise ValueError(f"{reduction!r} is not a valid value for reduction: use {names}")


def check_label_smoothing(label_smoothing: Any) -> float:
    """ε as a float in [0, 1] (PyTorch's range), else a ValueError naming it: ε = 1.5 gave a
    made-up loss and ε < 0 a negative cross-entropy."""
    if isinstance(label_smoothing, bool) or not isinstance(label_smoothing, numbers.Real) \
            or not 0.0 <= float(label_smoothing) <= 1.0:
        raise ValueError(f"label_smoothing must be a number between 0.0 and 1.0, got "
                         f"{label_smoothing!r}")
    return float(label_smoothing)


def _reduce(x: Any, reduction: str) -> Any:
    check_reduction(reduction)
    if reduction == "mean":
        if not math.prod(_shape(x)):  # an empty batch: PyTorch's NaN, and an empty gradient
            return dk.mul(dk.sum(x), math.nan)  # (the mean's 1/0 would be a ZeroDivisionError)
        return dk.mean(x)
    if reduction == "sum":
        return dk.sum(x)
    if reduction == "none":
        return x
    raise ValueError(f"{reduction} is not a valid value for reduction: use {', '.join(_REDUCTIONS)}")


def _arrays(*xs: Any) -> tuple[Any, ...]:
    """Lists read as NumPy reads them (the losses read ``.shape``: a bare AttributeError)."""
    return tuple(np.asarray(x) if type(x) is list else x for x in xs)


def _shape(x: Any) -> tuple[int, ...]:
    v = value_of(x)
    return tuple(v.shape) if hasattr(v, "shape") else np.shape(v)


def _check_same_shape(fn: str, input: Any, target: Any) -> None:
    """Input and target must have the same shape: broadcasting a (N, 1) prediction against a (N,)
    target would silently compare every prediction with every target (an N × N loss)."""
    a, b = _shape(input), _shape(target)
    if a != b:
        hint = f"; reshape the target with .reshape{a}" if math.prod(a) == math.prod(b) else ""
        raise ShapeError(f"{fn}: input shape {a} and target shape {b} differ (they must be the "
                         f"same: broadcasting would compare every pair of rows){hint}")


def check_class_labels(fn: str, labels: Any, num_classes: int, where: str = "",
                       ignore_index: int | None = None) -> None:
    """Class-index labels must be integers in [0, num_classes): a host (NumPy) check.

    Example:
        >>> import diffkit.nn as nn, numpy as np
        >>> nn.losses.check_class_labels("cross_entropy", np.array([0, 3]), 3)
        Traceback (most recent call last):
        ...
        ValueError: cross_entropy: label 3 (at index 1) is out of range for 3 classes: labels must be 0 ... 2
    """
    labels = np.asarray(labels)
    if ignore_index is not None and 0 <= ignore_index < num_classes and labels.size \
            and bool((labels == ignore_index).any()):  # a class the loss leaves out (an in-range
        i = int(np.flatnonzero(labels.reshape(-1) == ignore_index)[0])  # label passed the range
        _refuse_ignored(fn, ignore_index, i, where)  # check, and the Trainer counted the rows)
    if labels.size and labels.min() >= 0 and labels.max() < num_classes:
        return  # (two reductions: a training set's labels are checked once per fit)
    bad = np.flatnonzero((labels < 0) | (labels >= num_classes))
    if bad.size:
        i = int(bad[0])
        more = f", and {bad.size - 1} more" if bad.size > 1 else ""
        if ignore_index is not None and labels.reshape(-1)[i] == ignore_index:
            _refuse_ignored(fn, ignore_index, i, where)
        raise ValueError(f"{fn}: label {labels.reshape(-1)[i]} (at index {i}{where}{more}) is out "
                         f"of range for {num_classes} classes: labels must be 0 ... "
                         f"{num_classes - 1}")


def _refuse_ignored(fn: str, ignore_index: int, i: int, where: str) -> None:
    raise ValueError(f"{fn}: label {ignore_index} (at index {i}{where}) is the loss's "
                     "ignore_index: the Trainer counts every row in its loss and accuracy, so "
                     "it does not train on ignored rows; drop those rows, or train them in a "
                     "loop of your own (docs/nn.md)")


def _integer_labels(fn: str, labels: Any) -> None:
    """Class labels must be an integer array: a float or bool array is an InputTypeError
    naming its dtype and shape (PyTorch: "expected scalar type Long")."""
    dtype = getattr(labels, "dtype", None)
    if dtype is None or np.dtype(dtype).kind not in "iu":
        kind = f"{np.dtype(dtype).name} array" if dtype is not None else type(labels).__name__
        hint = "; convert them with .astype(int)" if dtype is not None and \
            np.dtype(dtype).kind == "f" else ""
        raise InputTypeError(f"{fn}: class labels must be integers (got a {kind} of shape "
                             f"{_shape(labels)}){hint}")


def _as_target(target: Any) -> Any:
    """A list or tuple target (labels or probabilities) as a NumPy array."""
    return np.asarray(target) if isinstance(target, list | tuple) else target


def _labels(fn: str, input: Any, labels: Any) -> None:
    """Class labels: integers, one per row of the input, each in [0, C). The range is checked
    for NumPy labels; labels on a GPU are not read back here (that would wait for the device
    every step): Trainer checks a DataLoader's labels once per fit instead."""
    _integer_labels(fn, labels)
    shape, rows = _shape(labels), _shape(input)[:-1]
    if shape != rows:
        raise ShapeError(f"{fn}: class labels must have shape {rows}, one per row of the input "
                         f"of shape {_shape(input)}; got shape {shape}")
    if isinstance(labels, np.ndarray | np.generic):
        check_class_labels(fn, labels, _shape(input)[-1])


def uses_class_labels(loss_fn: Any) -> bool:
    """Whether `loss_fn` reads integer targets as class indices (cross-entropy, NLL)."""
    kind = kind_of(loss_fn)
    return kind is not None and kind.class_labels


def one_hot(labels: Any, num_classes: int, dtype: Any = np.float32) -> Any:
    """(N,) integer labels → (N, num_classes) one-hot rows, on the labels' device. Labels must
    be integers (else an InputTypeError) in 0 … num_classes − 1 (else a ValueError naming the
    label; checked for NumPy labels), as PyTorch's ``F.one_hot`` requires: a −1 would otherwise
    index the last class.

    Example:
        >>> import diffkit.nn as nn, numpy as np
        >>> nn.one_hot(np.array([2, 0]), 3).tolist()
        [[0.0, 0.0, 1.0], [1.0, 0.0, 0.0]]
    """
    labels = _as_target(labels)
    _integer_labels("one_hot", labels)
    if isinstance(labels, np.ndarray | np.generic):
        check_class_labels("one_hot", labels, num_classes)
    return _one_hot(labels, num_classes, dtype)


def _one_hot(labels: Any, num_classes: int, dtype: Any) -> Any:
    """:func:`one_hot` of labels already checked."""
    xp = array_namespace(labels)
    return xp.eye(num_classes, dtype=dtype)[labels]


def cross_entropy(input: Any, target: Any, reduction: str = "mean",
                  label_smoothing: float = 0.0, *, weight: Any = None,
                  ignore_index: int = -100) -> Any:
    """−Σ t · log softmax(input) over the LAST axis, the class axis: input (..., C); target holds
    class indices (...) or probabilities (..., C). diffkit puts classes last, where PyTorch's
    (N, C, d…) inputs have them at dim 1: move the class axis last (e.g. ``dk.transpose``) first.
    With label smoothing ε the target is t·(1 − ε) + ε/C, also for a learned (Tensor) target.

    PyTorch's ``weight`` (one per class, w) and ``ignore_index`` (class-index targets): a row of
    label y weighs w_y, a label equal to `ignore_index` weighs 0, and the mean divides by the
    rows' total weight, Σᵢ w_yᵢ, not by their number; with smoothing the ε/C part weighs each
    class c by w_c. For probability targets the row's terms are weighed by w_c and the mean is
    over the rows.

    Example:
        >>> import diffkit.nn as nn, numpy as np
        >>> round(float(nn.cross_entropy(np.zeros((2, 4)), np.array([1, 3]))), 4)
        1.3863
    """
    input, target = _arrays(input, target)
    z = value_of(input)
    eps = check_label_smoothing(label_smoothing)
    target = _as_target(target)
    learned = type(target) is Tensor and target.requires_grad
    t = target if learned else value_of(target)
    classes = _shape(input)[-1] if _shape(input) else 0
    w = _class_weights("cross_entropy", weight, classes, z)
    if not learned and getattr(t, "dtype", np.dtype(float)).kind in "iu":
        keep = _kept_rows("cross_entropy", input, t, ignore_index)
        if w is not None or keep is not None:
            return _weighted_rows(input, t, w, keep, eps, reduction)
        t = _one_hot(t, classes, z.dtype)
    else:
        if _shape(target) == _shape(input)[:-1]:  # one per row: meant as class labels
            _integer_labels("cross_entropy", t)
        _check_same_shape("cross_entropy", input, target)
    if eps:
        t = _smooth(t, eps, classes)
    if w is not None:  # probabilities: each class's term weighed (PyTorch), the mean over rows
        t = dk.mul(t, w) if type(t) is Tensor else t * w
    return _reduce(dk.softmax_cross_entropy(input, t), reduction)


def _class_weights(fn: str, weight: Any, classes: int, like: Any) -> Any:
    """`weight` as a host or device array of `classes` numbers in the input's dtype (None: no
    weights), or an error naming what is wrong with it."""
    if weight is None:
        return None
    xp = array_namespace(like)
    w = xp.asarray(value_of(weight))
    if w.dtype.kind not in "biuf" or w.shape != (classes,):
        raise ShapeError(f"{fn}: weight must hold one real number per class, shape ({classes},); "
                         f"got {'shape ' + str(tuple(w.shape)) if w.dtype.kind in 'biuf' else w.dtype}")
    return w.astype(getattr(like, "dtype", np.float64), copy=False)


def _kept_rows(fn: str, input: Any, labels: Any, ignore_index: Any) -> Any:
    """Checks class labels, where a label equal to `ignore_index` (PyTorch's −100 by default)
    stands for a row to leave out; returns the mask of rows kept, or None when every row is
    kept (the plain path)."""
    if isinstance(ignore_index, bool) or not isinstance(ignore_index, numbers.Integral):
        raise InputTypeError(f"{fn}: ignore_index must be an integer, got {ignore_index!r}")
    _integer_labels(fn, labels)
    if ignore_index == -100 and not isinstance(labels, np.ndarray | np.generic):
        _labels(fn, input, labels)  # a device's labels are not read back at every step (a
        return None  # wait for the GPU): PyTorch's default −100 is looked for when given only
    xp = array_namespace(labels)
    ignored = labels == ignore_index
    if not bool(xp.any(ignored)):
        _labels(fn, input, labels)
        return None
    _labels(fn, input, xp.where(ignored, 0, labels))
    return ~ignored


def _weighted_rows(input: Any, labels: Any, w: Any, keep: Any, eps: float,
                   reduction: str) -> Any:
    """Class-index cross-entropy with class weights w and/or rows left out (keep): row i has the
    target Tᵢ = (1 − ε)·w_yᵢ·e_yᵢ + (ε/C)·w, zero for a row left out, so its term is
    −Σ_c Tᵢc log softmax(zᵢ)_c (the primitive's rule holds for any target, Σ T ≠ 1); the mean
    divides by Σᵢ w_yᵢ over the kept rows (0/0: NaN, as PyTorch's)."""
    z = value_of(input)
    xp = array_namespace(z)
    classes = z.shape[-1]
    safe = labels if keep is None else xp.where(keep, labels, 0)
    hot = _one_hot(safe, classes, z.dtype)
    row = xp.ones(labels.shape, z.dtype) if w is None else w[safe]
    if keep is not None:
        row = row * keep
    spread = (eps / classes) * (w if w is not None else xp.ones(classes, z.dtype))
    # the smoothing's share weighs every class of every kept row, a row whose own class
    # weighs 0 too (its term is then ε/C·Σ_c w_c·(−log p_c), PyTorch's); only a row left
    # out has none
    kept = xp.ones(labels.shape, z.dtype) if keep is None else keep.astype(z.dtype)
    t = (1.0 - eps) * hot * row[..., None] + spread * kept[..., None]
    terms = dk.softmax_cross_entropy(input, t)
    return _reduce_weighted(terms, row, reduction)


def _reduce_weighted(terms: Any, row: Any, reduction: str) -> Any:
    """`reduction` of per-row terms whose mean divides by the rows' total weight Σ row."""
    check_reduction(reduction)
    if reduction != "mean":
        return _reduce(terms, reduction)
    total = float(row.sum())
    if total == 0.0:  # no row counts: PyTorch's NaN (0/0), with its zero gradient (a batch of
        # ignored rows in a loop of one's own leaves the parameters as they are)
        return dk.add(dk.mul(dk.sum(terms), 0.0), math.nan)
    return dk.div(dk.sum(terms), total)


def _smooth(t: Any, eps: float, num_classes: int) -> Any:
    """t·(1 − ε) + ε/C: diffkit operations on a learned (Tensor) target, so its gradient is
    (1 − ε)·∂L/∂t̃ as in PyTorch; array arithmetic otherwise."""
    if type(t) is Tensor:
        return dk.add(dk.mul(t, 1.0 - eps), eps / num_classes)
    return t * (1.0 - eps) + eps / num_classes


def nll_loss(input: Any, target: Any, reduction: str = "mean", *, weight: Any = None,
             ignore_index: int = -100) -> Any:
    """−log-probability of the target class, for log-softmax outputs: the target's entry of
    each row is picked (as PyTorch gathers it), so a −inf log-probability of another class (an
    impossible class) does not make the loss NaN. ``weight`` and ``ignore_index`` as in
    :func:`cross_entropy`: row i weighs w_yᵢ (0 where left out), the mean divides by Σᵢ w_yᵢ.
    Example: see cross_entropy."""
    input, target = _arrays(input, target)
    labels = value_of(_as_target(target))
    keep = _kept_rows("nll_loss", input, labels, ignore_index)
    w = _class_weights("nll_loss", weight, _shape(input)[-1] if _shape(input) else 0,
                       value_of(input))
    xp = array_namespace(labels)
    safe = labels if keep is None else xp.where(keep, labels, 0)
    picked = dk.take_along_axis(input, xp.expand_dims(safe, -1), axis=-1)
    terms = dk.neg(dk.reshape(picked, _shape(labels)))
    if w is None and keep is None:
        return _reduce(terms, reduction)
    dtype = getattr(value_of(input), "dtype", np.float64)
    row = xp.ones(labels.shape, dtype) if w is None else w[safe]
    if keep is not None:
        row = row * keep
    return _reduce_weighted(dk.mul(terms, row), row, reduction)


def mse_loss(input: Any, target: Any, reduction: str = "mean") -> Any:
    """Mean (or sum) of squared differences.

    Example:
        >>> import diffkit.nn as nn, numpy as np
        >>> float(nn.mse_loss(np.array([1.0, 2.0]), np.array([0.0, 0.0])))
        2.5
    """
    input, target = _arrays(input, target)
    _check_same_shape("mse_loss", input, target)
    d = dk.sub(input, target)
    return _reduce(dk.mul(d, d), reduction)


def binary_cross_entropy(input: Any, target: Any, reduction: str = "mean", *,
                         weight: Any = None) -> Any:
    """−w·[y log p + (1 − y) log(1 − p)] from probabilities p (logs clamped at −100, as
    PyTorch); ``weight`` w (None: 1) broadcasts to the input, and the mean is over the entries.

    Example:
        >>> import diffkit.nn as nn, numpy as np
        >>> round(float(nn.binary_cross_entropy(np.array([0.5]), np.array([1.0]))), 4)
        0.6931
    """
    input, target = _arrays(input, target)
    _check_same_shape("binary_cross_entropy", input, target)
    terms = dk.binary_cross_entropy(input, target)
    w = _entry_weights("binary_cross_entropy", "weight", weight, input)
    return _reduce(terms if w is None else dk.mul(terms, w), reduction)


def binary_cross_entropy_with_logits(input: Any, target: Any, reduction: str = "mean", *,
                                     weight: Any = None, pos_weight: Any = None) -> Any:
    """Binary cross-entropy of sigmoid(z), accurate for any z. PyTorch's ``pos_weight`` p (one
    per class, the last axis; None: 1) weighs the positive term, and ``weight`` w multiplies every
    term (both broadcast to the input; the mean is over entries):
    −[p·y log σ(z) + (1 − y) log(1 − σ(z))] = (1 − y)·z + s·softplus(−z), s = 1 + (p − 1)·y.

    One form for both: with softplus(−z) = max(−z, 0) + log1p(e^−|z|), the linear parts add up
    to (1 − y)·z for z ≥ 0 and p·y·(−z) below, so the loss is
    ``where(z >= 0, (1 − y)·z, p·y·(−z)) + s·log1p(e^−|z|)``: terms of one sign for 0 ≤ y ≤ 1,
    p ≥ 0, nothing cancels (softplus(z) − y·z gave 0 for y = 1, z = 40 instead of 4.2e-18).
    |z| is taken as where(z >= 0, z, −z), so the derivative at z = 0 is the true (1 − y) − s/2,
    and ``pos_weight=1`` gives the loss and gradient of no ``pos_weight`` bit for bit.

    Example:
        >>> import diffkit.nn as nn, numpy as np
        >>> float(nn.binary_cross_entropy_with_logits(np.array([1000.0]), np.array([0.0])))
        1000.0
    """
    input, target = _arrays(input, target)
    fn = "binary_cross_entropy_with_logits"
    _check_same_shape(fn, input, target)
    p = _entry_weights(fn, "pos_weight", pos_weight, input)
    nonneg, minus = dk.greater_equal(input, 0.0), dk.neg(input)
    tail = dk.softplus(dk.neg(dk.where(nonneg, input, minus)))  # log1p(e^−|z|), no overflow
    pos = target if p is None else dk.mul(p, target)  # p·y
    terms = dk.where(nonneg, dk.mul(dk.sub(1.0, target), input), dk.mul(pos, minus))
    if p is not None:  # s = 1 + (p − 1)·y; None is p = 1, whose s·tail is tail exactly
        tail = dk.mul(dk.add(dk.mul(target, p - 1.0), 1.0), tail)
    terms = dk.add(terms, tail)
    w = _entry_weights(fn, "weight", weight, input)
    return _reduce(terms if w is None else dk.mul(terms, w), reduction)


def _entry_weights(fn: str, name: str, weight: Any, input: Any) -> Any:
    """`weight` as an array in the input's dtype that broadcasts to the input's shape (None:
    none), or a ShapeError naming it (a (C,) weight against (N,) entries would broadcast to an
    (N, C) loss)."""
    if weight is None:
        return None
    z = value_of(input)
    w = array_namespace(z).asarray(value_of(weight))
    shape = _shape(input)
    try:
        fits = np.broadcast_shapes(tuple(w.shape), shape) == shape
    except ValueError:
        fits = False
    if w.dtype.kind not in "biuf" or not fits:
        raise ShapeError(f"{fn}: {name} of shape {tuple(w.shape)} must be real and broadcast to "
                         f"the input's shape {shape}")
    return w.astype(getattr(z, "dtype", np.float64), copy=False)


def _weights(params: Any) -> list[Tensor]:
    """Weight matrices and kernels (≥ 2 dims): biases and normalization parameters excluded."""
    if isinstance(params, Module):
        params = params.parameters()
    return [p for p in params if len(p.shape) >= 2]


def l2_penalty(params: Module | Iterable[Tensor], weight_decay: float) -> Any:
    """(λ/2) Σ ‖W‖² = (λ/2) Σ Re(w̄·w) over weights only, so its gradient is λW: the seeds'
    D = Δ/n + λΘ (j ≠ 0). Real for complex weights too (|w|², not w²): its .grad is λ·w̄ (JAX's
    convention; PyTorch's λ·w), and the optimizers' real view then decays each part by λ.

    Example:
        >>> import diffkit.nn as nn
        >>> model = nn.Linear(3, 2)
        >>> loss = nn.l2_penalty(model, 0.1)  # add to the data loss
    """
    return dk.mul(0.5 * weight_decay, _sum_all([dk.sum(dk.real(dk.mul(dk.conj(w), w)))
                                                for w in _weights(params)]))


def l1_penalty(params: Module | Iterable[Tensor], weight_decay: float) -> Any:
    """λ Σ |W| over weights only (biases excluded): drives weights to exactly zero (sparsity).

    Example:
        >>> import diffkit.nn as nn
        >>> loss = nn.l1_penalty(nn.Linear(3, 2), 1e-3)
    """
    return dk.mul(weight_decay, _sum_all([dk.sum(dk.abs(w)) for w in _weights(params)]))


def _sum_all(terms: list[Any]) -> Any:
    total = terms[0] if terms else 0.0
    for t in terms[1:]:
        total = dk.add(total, t)
    return total


class _Loss(Module):
    function: Any  # the loss function this class form calls (set with LOSS_KINDS below)

    def __init__(self, reduction: str = "mean") -> None:
        super().__init__()
        check_reduction(reduction)
        self.reduction = reduction

    def _hold(self, name: str, weight: Any) -> None:
        """A weight as a buffer of its own (PyTorch's: ``loss.weight``, saved by
        ``state_dict``), a copy: a list or array the caller changes later does not change the
        loss; None where not given."""
        if weight is None:
            object.__setattr__(self, name, None)
        else:
            self.register_buffer(name, np.array(to_numpy(value_of(weight))))


class CrossEntropyLoss(_Loss):
    """Class form of :func:`cross_entropy`. Example: ``nn.CrossEntropyLoss()(logits, labels)``;
    ``CrossEntropyLoss(weight=w, ignore_index=-100)`` as PyTorch's (weight by name)."""

    def __init__(self, reduction: str = "mean", label_smoothing: float = 0.0, *,
                 weight: Any = None, ignore_index: int = -100) -> None:
        super().__init__(reduction)
        self.label_smoothing = check_label_smoothing(label_smoothing)
        self._hold("weight", weight)
        self.ignore_index = ignore_index

    def forward(self, input: Any, target: Any) -> Any:
        return cross_entropy(input, target, self.reduction, self.label_smoothing,
                             weight=self.weight, ignore_index=self.ignore_index)


class NLLLoss(_Loss):
    """Class form of :func:`nll_loss`. Example: ``nn.NLLLoss()(log_probs, labels)``."""

    def __init__(self, reduction: str = "mean", *, weight: Any = None,
                 ignore_index: int = -100) -> None:
        super().__init__(reduction)
        self._hold("weight", weight)
        self.ignore_index = ignore_index

    def forward(self, input: Any, target: Any) -> Any:
        return nll_loss(input, target, self.reduction, weight=self.weight,
                        ignore_index=self.ignore_index)


class MSELoss(_Loss):
    """Class form of :func:`mse_loss`. Example: ``nn.MSELoss()(pred, target)``."""

    def forward(self, input: Any, target: Any) -> Any:
        return mse_loss(input, target, self.reduction)


class BCELoss(_Loss):
    """Class form of :func:`binary_cross_entropy`. Example: ``nn.BCELoss()(probs, labels)``."""

    def __init__(self, reduction: str = "mean", *, weight: Any = None) -> None:
        super().__init__(reduction)
        self._hold("weight", weight)

    def forward(self, input: Any, target: Any) -> Any:
        return binary_cross_entropy(input, target, self.reduction, weight=self.weight)


class BCEWithLogitsLoss(_Loss):
    """Class form of :func:`binary_cross_entropy_with_logits`. Example: ``nn.BCEWithLogitsLoss()(z, y)``."""

    def __init__(self, reduction: str = "mean", *, weight: Any = None,
                 pos_weight: Any = None) -> None:
        super().__init__(reduction)
        self._hold("weight", weight)
        self._hold("pos_weight", pos_weight)

    def forward(self, input: Any, target: Any) -> Any:
        return binary_cross_entropy_with_logits(input, target, self.reduction,
                                                weight=self.weight, pos_weight=self.pos_weight)


def loss_weights(loss_fn: Any) -> dict[str, Any]:
    """The weighting settings a built-in loss (function, class form or keyword-only
    ``functools.partial``) is given that are not their defaults: ``weight``, ``pos_weight``,
    ``ignore_index`` — what the compiled training step and the Trainer's label checks read."""
    if type(loss_fn) is functools.partial:
        inner = loss_weights(loss_fn.func)
        given = {k: v for k, v in loss_fn.keywords.items()
                 if k in ("weight", "pos_weight", "ignore_index")}
        return {**inner, **given}
    found = {}
    for key in ("weight", "pos_weight", "ignore_index"):
        v = getattr(loss_fn, key, None) if isinstance(loss_fn, _Loss) else None
        if v is not None:
            found[key] = v
    return found


@dataclass(frozen=True)
class LossKind:
    """What the Trainer and the compiled step know of a built-in loss, declared once below.

    class_labels: integer targets are class indices (one loss term per row, not per entry);
    one_hot: the loss of class labels equals the loss of their one-hot rows (a compiled step may
    pass the rows); score: how accuracy is scored — "argmax", a threshold on one output per
    decision (0.5 on probabilities, 0 on logits), or None (a regression: no accuracy).
    """

    class_labels: bool
    one_hot: bool
    score: str | float | None


#: every built-in loss function, with what it is (the class forms name theirs in `function`)
LOSS_KINDS: dict[Any, LossKind] = {
    cross_entropy: LossKind(class_labels=True, one_hot=True, score="argmax"),
    nll_loss: LossKind(class_labels=True, one_hot=False, score="argmax"),
    mse_loss: LossKind(class_labels=False, one_hot=False, score=None),
    binary_cross_entropy: LossKind(class_labels=False, one_hot=False, score=0.5),
    binary_cross_entropy_with_logits: LossKind(class_labels=False, one_hot=False, score=0.0),
}
CrossEntropyLoss.function = cross_entropy
NLLLoss.function = nll_loss
MSELoss.function = mse_loss
BCELoss.function = binary_cross_entropy
BCEWithLogitsLoss.function = binary_cross_entropy_with_logits
#: the class forms, each a pure function of (output, target) and its settings
LOSS_MODULES: tuple[type, ...] = (CrossEntropyLoss, NLLLoss, MSELoss, BCELoss, BCEWithLogitsLoss)


def builtin_loss(loss_fn: Any, exact: bool = True) -> Any:
    """The built-in loss function `loss_fn` is or wraps (None for a loss of your own). exact:
    a subclass of a built-in loss class does not count (its forward may be anything). A
    ``functools.partial`` of a built-in loss with keywords only (``reduction="sum"``) is that loss."""
    if type(loss_fn) is functools.partial and not loss_fn.args:
        return builtin_loss(loss_fn.func, exact)
    cls = type(loss_fn)
    if cls in LOSS_MODULES or (not exact and isinstance(loss_fn, LOSS_MODULES)):
        return cls.function
    for fn in LOSS_KINDS:  # by identity: a loss of your own need not be hashable
        if fn is loss_fn:
            return fn
    return None


def kind_of(loss_fn: Any, exact: bool = False) -> LossKind | None:
    """The declared :class:`LossKind` of a built-in loss (or its class form); None otherwise."""
    fn = builtin_loss(loss_fn, exact)
    return None if fn is None else LOSS_KINDS[fn]
