"""Whole training steps as generated code: forward, loss and backward in one NumPy function.

The Trainer's eager step records every layer on the tape and sweeps it back, about a thousand
Python calls for a small MLP; the generated step is the same computation printed once as straight
NumPy (:func:`diffkit.engines.compiler.compile_step`), a few dozen lines. The optimizer's update,
clipping and the gradient norms then run exactly as in the eager step, on the gradients the code
returns, so the two paths share everything after the gradients — but for plain SGD (no momentum,
no weight decay) with nothing between backward and the update (no clipping, one process): there
the update θ −= η·g, the optimizer's own operation, is printed into the generated step
(:meth:`CompiledStep.train`), so forward, loss, backward and update are one function, and the
steps after the first of a batch signature find it without building their key
(:meth:`CompiledStep.replay`) — and, within an epoch over a DataLoader that runs no code of the
user's, compare only the batch once a step of its shape passed every check (:class:`Lane`).
Both write θ in place only where nobody else holds its array
(:func:`diffkit.tensor.writable_alone`), and give the optimizer's θ, ``.grad`` and state bit for
bit (tests/test_nn_fused_step.py).

A generated step is a snapshot of one trace, so it is used only where a snapshot gives the same
answer as tracing afresh:

* every module is of a built-in kind whose forward pass is a pure function of its parameters and
  input (no random numbers, no running statistics, no Python state): see :data:`PURE_MODULES`;
  a ``Dropout`` counts only when it drops nothing (p = 0) or the model is in eval mode;
* the loss is one of diffkit.nn's losses;
* the trace did not read numbers out of the values (a branch on the data);
* NumPy arrays, or CuPy arrays: the code is printed from a trace on host copies and run by
  CuPy (:meth:`~diffkit.engines.compiler.CompiledGradient.on_module`), its element-wise runs
  fused into one kernel each, kept only where its first results agree with NumPy's to the
  device's rounding (a GPU's matrix products sum in another order: not bit for bit, as the
  eager CuPy step is not either); one compiled step per batch signature (shapes, dtypes, array
  type);
* the model, the loss and the penalties as they were when it was compiled: :func:`fingerprint`
  (which Tensors are the parameters and which are trained, every module's kind and settings,
  train/eval mode, the loss's settings, a ``functools.partial`` loss's keywords, l1/l2), read
  by the Trainer at the start of every epoch, and before every step where code of the user's
  runs between steps (a DataLoader's transform or sampler, an iterable of the user's). A change
  — a layer replaced, a parameter frozen, a slope or a mode changed — compiles afresh, as
  tracing afresh would.

Anything else trains eagerly, and ``Trainer(compile=False)`` always does; ``trainer.compiled``
says which path ran and why.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from operator import is_
from typing import Any

import numpy as np

from ..backend import array_namespace, to_numpy
from ..errors import DiffkitError
from ..function import signature
from ..ir import toposort
from ..tensor import Tensor, add_grad, writable_alone
from . import layers, losses, models
from .module import TABLES, Module, functional_call, value_of
from .optim import plain_update_applies

#: modules whose forward pass is a pure function of parameters and input (exact types)
PURE_MODULES: tuple[type, ...] = (
    layers.Identity, layers.Linear, layers.Sequential, layers.Flatten, layers.ReLU,
    layers.LeakyReLU, layers.Sigmoid, layers.Tanh, layers.Softmax, layers.LogSoftmax,
    layers.Conv2d, layers.MaxPool2d, layers.LayerNorm, layers.GroupNorm, models.MLP, models.Net,
)
def why_not_compiled(model: Module, loss_fn: Any) -> str | None:
    """Why a step of this model and loss cannot be compiled soundly (None if it can)."""
    for name, m in model.named_modules():
        kind = type(m)
        if kind is layers.Dropout:
            if m.training and m.p > 0:
                return f"{name or 'the model'} is a Dropout in training mode (random masks)"
            continue
        if kind is layers.Conv2d and m.groups != 1:  # its generated bias gradient rounds in
            # another order than the eager sweep's (last bits): not the bit-for-bit step
            return f"{name or 'the model'} is a grouped Conv2d (groups={m.groups})"
        if kind not in PURE_MODULES:
            return (f"{name or 'the model'} is a {kind.__name__}, whose forward pass may use "
                    "random numbers, running statistics or Python state")
    if losses.builtin_loss(loss_fn) is None:
        return f"the loss {getattr(loss_fn, '__name__', type(loss_fn).__name__)} is not one of diffkit.nn's"
    weighted = sorted(k for k, v in losses.loss_weights(loss_fn).items()
                      if not (k == "ignore_index" and v == -100))
    if weighted:  # arrays held by identity (a weight changed in place would not be seen), and
        # class labels that do not stand for their one-hot rows (the mean divides by Σ w_y)
        return f"the loss is given {' and '.join(weighted)}"
    return None


def fingerprint(model: Module, loss_fn: Any, l1: float = 0.0, l2: float = 0.0) -> tuple[Any, ...]:
    """Everything a compiled step depends on besides the batch's signature and the parameters'
    values: which Tensors the parameters are, their shapes and dtypes, whether each is trained, every module's kind
    and settings (sizes, slopes, strides, p, training), the loss's settings, the penalties."""
    modules = tuple((name, type(m), _settings(m)) for name, m in model.named_modules())
    params = tuple((name, id(p), p.requires_grad, tuple(p.shape), str(value_of(p).dtype))
                   for name, p in model.named_parameters())
    buffers = tuple((name, id(b)) for name, b in model.named_buffers())
    return modules, params, buffers, _loss_settings(loss_fn), _plain(l1), _plain(l2)


def _loss_settings(loss_fn: Any) -> tuple[Any, ...]:
    """The loss and its settings: its attributes, and for a ``functools.partial`` the function
    (with its own settings), the arguments and the keywords it passes, which live outside the
    partial's ``vars`` (``lf.keywords["reduction"] = "sum"`` changes what it computes)."""
    if isinstance(loss_fn, functools.partial):
        return (id(loss_fn), _loss_settings(loss_fn.func), _plain(loss_fn.args),
                _plain(loss_fn.keywords), _settings(loss_fn))
    return id(loss_fn), _settings(loss_fn) if hasattr(loss_fn, "__dict__") else ()


def _settings(obj: Any) -> tuple[Any, ...]:
    return tuple(sorted((k, _plain(v)) for k, v in vars(obj).items() if k not in TABLES))


def _plain(v: Any) -> Any:
    """A comparable stand-in for a setting: numbers by type and repr (-0.0 is not 0.0, True is
    not 1), containers item by item, anything else (an array, an object) by identity."""
    if v is None or isinstance(v, bool | int | float | complex | str | np.generic):
        return type(v), repr(v)
    if isinstance(v, tuple | list):
        return type(v), tuple(_plain(x) for x in v)
    if isinstance(v, dict):
        return dict, tuple(sorted((repr(k), _plain(x)) for k, x in v.items()))
    return "object", id(v)


_MUTABLE = (list, dict, set, bytearray)


class Watch:
    """What :func:`fingerprint` reads, held by identity: per step, a change is found by
    comparing the objects (a module's attributes and tables, the parameters' ``requires_grad``,
    the loss's attributes and a partial's keywords) with ``is``, in C loops, instead of
    building the fingerprint again. ``changed()`` True says only "maybe": the caller then
    compares fingerprints (a value set again to an equal one is a new object)."""

    __slots__ = ("deep", "dicts", "grads", "params", "values")

    def __init__(self, model: Module, loss_fn: Any) -> None:
        dicts = []
        for m in model.modules():
            d = vars(m)
            dicts.append(d)
            dicts.extend(d[t] for t in TABLES if isinstance(d.get(t), dict))
        for f in _loss_parts(loss_fn):
            if hasattr(f, "__dict__"):
                dicts.append(vars(f))
            if isinstance(f, functools.partial):
                dicts.append(f.keywords)
        self.dicts = dicts
        self.values = [(tuple(d), tuple(d.values())) for d in dicts]
        #: mutable settings (a list a module holds): compared by content
        self.deep = [(v, _plain(v)) for d in dicts for k, v in d.items()
                     if isinstance(v, _MUTABLE) and k not in TABLES]
        self.params = list(model.parameters())
        self.grads = [p.requires_grad for p in self.params]

    def changed(self) -> bool:
        for d, (keys, values) in zip(self.dicts, self.values):
            if len(d) != len(keys):
                return True
            if keys and (not all(map(is_, d.values(), values)) or tuple(d) != keys):
                return True
        if [p.requires_grad for p in self.params] != self.grads:
            return True
        return any(_plain(v) != seen for v, seen in self.deep)


def _loss_parts(loss_fn: Any) -> list[Any]:
    """The loss and, for a ``functools.partial``, the functions it wraps."""
    parts = [loss_fn]
    while isinstance(parts[-1], functools.partial):
        parts.append(parts[-1].func)
    return parts


class CompiledStep:
    """Forward, loss and backward of one model as generated code, per batch signature.

    ``step(xb, yb)`` returns ``(loss, logits)`` and sets each parameter's ``.grad``, or returns
    None where the step must run eagerly (then nothing was changed). With ``check_labels``
    (labels not already checked for this fit) integer labels outside 0 … C−1 raise the eager
    loss's ValueError: as one-hot rows, a label −1 would silently become the last class."""

    def __init__(self, model: Module, loss_fn: Callable[[Any, Any], Any], l1: float = 0.0,
                 l2: float = 0.0) -> None:
        self.model, self.loss_fn, self.l1, self.l2 = model, loss_fn, l1, l2
        self.fingerprint = fingerprint(model, loss_fn, l1, l2)
        self._watch: Watch | None = None  # made on first use: see unchanged
        self.named = list(model.named_parameters())
        self.params = [p for _, p in self.named]
        #: positions of the parameters that are trained (requires_grad): only they get a .grad
        self.trained = [i for i, (_, p) in enumerate(self.named) if p.requires_grad]
        #: signature -> (CompiledGradient, the positions in self.params of the trained
        #: parameters its loss reads, each with its gradient's index), or why there is none
        self.codes: dict[Any, Any] = {}
        #: (signature, updates) -> the generated step with its SGD update, or False: see train
        self.fused: dict[Any, Any] = {}
        #: per input shape, the last fused step's key for it, in parts, and its code: see replay
        #: (a training set's last, shorter batch has its own, so neither evicts the other)
        self._last: dict[tuple[int, ...], tuple[Any, ...]] = {}
        self.eyes: dict[tuple[int, Any], Any] = {}  # (classes, dtype) -> one-hot rows
        #: the output's dtype for a signature of (parameters, input) and a mode, where generated
        #: code saw another than ``self.output``'s (a model fitted on float64, then on float32)
        self.output_dtypes: dict[Any, Any] = {}
        #: integer labels enter the generated code as one-hot rows (the loss takes either)
        kind = losses.kind_of(loss_fn, exact=True)
        self.one_hot = kind is not None and kind.one_hot
        self.reason: str | None = None
        #: (number of classes, dtype) of the model's output, seen by an eager step: integer
        #: labels enter the generated code as one-hot rows (an index cannot be traced)
        self.output: tuple[int, Any] | None = None
        #: the output's shape at that step (None before one ran)
        self.output_shape: tuple[int, ...] | None = None

    def _body(self, *args: Any) -> tuple[Any, Any]:
        k = len(self.named)
        params = dict(zip((n for n, _ in self.named), args[:k], strict=True))
        out = functional_call(self.model, params, args[k])
        loss = self.loss_fn(out, args[k + 1])
        weights = [p for p in args[:k] if len(p.shape) >= 2]
        if self.l2:
            loss = loss + losses.l2_penalty(weights, self.l2)
        if self.l1:
            loss = loss + losses.l1_penalty(weights, self.l1)
        return loss, out

    def unchanged(self, l1: float, l2: float) -> bool:
        """Whether the model, the loss and the penalties are still what the step was made
        from (its :func:`fingerprint`), checked fast where nothing was touched (:class:`Watch`)."""
        watch = self._watch
        if watch is not None and not watch.changed() and (_plain(l1), _plain(l2)) == \
                self.fingerprint[-2:]:
            return True
        if fingerprint(self.model, self.loss_fn, l1, l2) != self.fingerprint:
            return False
        self._watch = Watch(self.model, self.loss_fn)  # (again: an equal value was set)
        return True

    def __call__(self, xb: Any, yb: Any, check_labels: bool = True) -> tuple[Any, Any] | None:
        result = self._run(xb, yb, check_labels, None)
        return None if result is None else result[:2]

    def train(self, xb: Any, yb: Any, check_labels: bool, rates: list[Any] | None
              ) -> tuple[Any, Any, bool] | None:
        """The step, with plain SGD printed into its generated code where `rates` are given:
        θ −= η·g for each trained parameter whose rate (one per parameter, None: not updated)
        is not None — forward, loss, backward and update in one function. Returns (loss,
        output, updated): updated False where the caller must run the optimizer (no rates;
        the first step of a batch signature runs unfused: it shows the gradients' dtypes and
        shapes; a parameter's array that someone else holds; a gradient that would need
        converting); None as ``step``. ``.grad`` is set either way, as ``step`` sets it."""
        if rates is not None:
            params = self.params
            for i in self.trained:  # those the step may update (a frozen one: never)
                # asked before this frame holds any parameter's array (see writable_alone)
                if rates[i] is not None and not writable_alone(params[i]):
                    rates = None
                    break
        return self._run(xb, yb, check_labels, rates)

    def _run(self, xb: Any, yb: Any, check_labels: bool, rates: list[Any] | None
             ) -> tuple[Any, Any, bool] | None:
        target = value_of(yb)
        args = [p.node.value for p in self.params]
        args.append(value_of(xb))
        inputs = (signature(args), self.model.training)
        dtype = None
        if getattr(target, "dtype", None) is not None and target.dtype.kind in "iu":
            if not self.one_hot or self.output is None:  # class labels
                self.reason = "the loss reads integer class labels"
                return None
            classes = self.output[0]
            # one-hot rows in the output's dtype, as the eager loss makes them (nn.one_hot)
            dtype = self.output_dtypes.get(inputs, self.output[1])
            xp = np if type(target) is np.ndarray else array_namespace(target)
            eye = self.eyes.get((classes, dtype, xp))
            if eye is None:
                eye = self.eyes[classes, dtype, xp] = xp.eye(classes, dtype=dtype)
            if type(target) is np.ndarray or xp is not np:
                if check_labels and target.size and bool((target.min() < 0) |
                                                         (target.max() >= classes)):
                    # (on a GPU a wait for the device: labels of a checked DataLoader skip it)
                    losses.check_class_labels("cross_entropy", to_numpy(target), classes)
                target = eye.take(target, axis=0)  # eye[target] (nn.one_hot), 3× cheaper
        args.append(target)
        key = (inputs, signature(args[-1:]))
        code = self.codes.get(key)
        if code is None:
            code = self.codes[key] = self._compile(args)
        if type(code) is str:
            self.reason = code
            return None
        code, reached = code
        fused, updates = None, ()
        if rates is not None:
            updates = tuple((i, j) for i, j in reached if rates[i] is not None)
            fused = self.fused.get((key, updates))
        if fused:  # the signature ran unfused once and showed that the update may be printed
            (loss, out), grads = fused(*args, tuple(rates[i] for i, _ in updates))
            # what replay needs to know that a step has this very key (eye: one-hot rows)
            self._last[args[-2].shape] = (inputs, signature([value_of(yb)])[0], self.output,
                                          reached, updates, fused, None if dtype is None else eye)
        else:
            (loss, out), grads = code.run("value_and_grad", *args)
            if dtype is not None and getattr(out, "dtype", dtype) != dtype:
                # the output's dtype for these inputs is not the one the one-hot rows were made
                # in: make them in it and run again (once per signature: it is remembered)
                self.output_dtypes[inputs] = out.dtype
                return self._run(xb, yb, check_labels, None)
            if fused is None and updates:
                self.fused[key, updates] = self._fusable(code, updates, grads)
        self._set_grads(grads, reached)
        self.reason = None
        return loss, out, bool(fused)

    def replay(self, xb: Any, yb: Any, check_labels: bool, rates: list[Any]
               ) -> tuple[Any, Any, bool] | None:
        """:meth:`train` for a step whose key is the last fused step's for its input shape,
        with less Python: the same generated step, found by comparing the key's parts (the
        parameters' and the input's signature, the mode, the labels' signature, the output the
        one-hot rows follow, which parameters are updated) instead of building and hashing it.
        None where any part differs (or a label is out of range, or a parameter is not
        writable): then nothing was changed and :meth:`train` decides."""
        if type(xb) is not np.ndarray or type(yb) is not np.ndarray:
            return None
        last = self._last.get(xb.shape)
        if last is None:
            return None
        inputs, labels, output, reached, updates, fused, eye = last
        params = self.params
        for i, _ in updates:  # before this frame holds any parameter's array (writable_alone)
            if rates[i] is None or not writable_alone(params[i]):
                return None
        if len(updates) != len(reached) and \
                updates != tuple((i, j) for i, j in reached if rates[i] is not None):
            return None
        args = [p.node.value for p in params]
        args.append(xb)
        if (signature(args), self.model.training) != inputs or self.output is not output or \
                (type(yb), yb.shape, yb.dtype) != labels:
            return None
        if eye is not None:
            if check_labels and yb.size and (yb.min() < 0 or yb.max() >= len(eye)):
                return None  # train names the label
            yb = eye.take(yb, axis=0)
        args.append(yb)
        (loss, out), grads = fused(*args, tuple([rates[i] for i, _ in updates]))
        self._set_grads(grads, reached)
        self.reason = None
        return loss, out, True

    def lane(self) -> Lane:
        """An empty :class:`Lane` of this step, for one epoch."""
        return Lane(self)

    def forget(self) -> None:
        """Forget the last fused steps: the next step finds its code by its key (see replay)."""
        self._last.clear()

    def _set_grads(self, grads: Any, reached: tuple[tuple[int, int], ...]) -> None:
        """Backward's rule for each trained parameter the loss reads: add to .grad, in the
        parameter's dtype (an array the generated code allocated is its own)."""
        params = self.params
        for i, j in reached:
            p, g = params[i], grads[j]
            owned = type(g) is type(p.node.value) and g.dtype == p.node.dtype and \
                g.flags.owndata  # (a NumPy or CuPy array the code allocated)
            if owned and p.grad is None:
                p.grad = g  # add_grad's first case, without the call
            else:
                add_grad(p, g, owned)

    def _fusable(self, code: Any, updates: tuple[tuple[int, int], ...], grads: Any) -> Any:
        """The generated step with the SGD update printed in, or False where the optimizer's
        plain update would not be its bare ``θ −= η·g``: a gradient of another dtype or shape
        than its parameter, or a float16 parameter (updated in float32). Dtypes and shapes are
        the signature's, so one unfused run tells for every later one."""
        for i, j in updates:
            v = self.params[i].node.value
            if type(v) is not np.ndarray or not plain_update_applies(v, grads[j]):
                return False
        return code.updating(updates)

    def _compile(self, args: list[Any]) -> Any:
        """The generated step for these arguments' signature and the trained parameters whose
        gradient it fills, or why there is none. As the eager tape's ``backward``, a parameter
        the loss does not read gets no gradient (its ``.grad`` stays as it was: None after
        ``zero_grad``), not a zero one that weight decay or momentum would act on."""
        xp = np if all(type(a) is np.ndarray for a in args) else array_namespace(*args)
        if xp is np and any(type(a) is not np.ndarray for a in args) or \
                any(not hasattr(a, "shape") for a in args):
            return "arrays are neither all NumPy nor all CuPy arrays"
        # the engines load when first needed
        from ..engines.compiler import compile_step, on_device

        host = args if xp is np else [to_numpy(a) for a in args]

        traced: list[tuple[Any, Any]] = []

        def body(*xs: Any) -> tuple[Any, Any]:
            loss, out = self._body(*xs)
            traced.append((xs, loss))
            return loss, out

        try:
            k = len(self.named)
            code = compile_step(body, host, self.trained, [f"p{i}" for i in range(k)] + ["x", "y"])
        except DiffkitError as exc:  # a value-dependent trace, a graph too large, …
            return f"the step could not be compiled: {exc}"
        xs, loss = traced[0]  # the first trace: inputs and loss on one tape
        traced.clear()  # the generated code keeps `body`: not the trace's graph with it
        read = set(toposort([loss.node])) if isinstance(loss, Tensor) else set()
        reached = tuple((i, j) for j, i in enumerate(self.trained) if xs[i].node in read)
        if xp is not np:  # the same text run by CuPy, where it agrees with NumPy
            code = on_device(code, xp, host, args)
            if type(code) is str:
                return f"the step: {code}"
        return code, reached


class Lane:
    """The replayed steps of one epoch over a DataLoader that runs no code of the user's (no
    transform, no sampler), with the least Python: per step, only the batch's signature is
    compared.

    Why that gives the answer of the full :meth:`CompiledStep.replay`: a batch shape is admitted
    right after a replay of it passed every check (parameters' signatures and writability, mode,
    labels' signature, output, rates, which parameters update), with labels known to be in range
    for the epoch. Until the epoch ends nothing runs between two steps but fit's own loop, and
    the steps change only θ (in place: its arrays keep their shape, dtype and holders) and
    ``.grad`` (arrays the step made); rates, mode, the optimizer and the model change only
    between epochs, and the Trainer drops its lane when one ends. So each check would pass again,
    and ``zero_grad`` would find the parameters as the last step left them: the optimizer's
    parameters that the loss reads get this step's gradient, its others keep None, and the
    gradient of a parameter outside the optimizer is added to its ``.grad`` (as backward
    does)."""

    __slots__ = ("entries", "step")

    def __init__(self, step: CompiledStep) -> None:
        self.step = step
        #: input shape -> (input dtype, labels' signature, fused code, one-hot rows or None,
        #: the rates as the code takes them, the reached (parameter, gradient) indices, the
        #: updated parameters)
        self.entries: dict[tuple[int, ...], tuple[Any, ...]] = {}

    def admit(self, xb: np.ndarray, rates: list[Any], labels_trusted: bool) -> None:
        """Admit `xb`'s shape: call right after ``step.replay`` of this batch succeeded with
        `rates`. Class labels are read as one-hot rows without a check, so a step that reads
        them is admitted only where they are known to be in range (`labels_trusted`)."""
        _, labels, _, reached, updates, fused, eye = self.step._last[xb.shape]
        if eye is not None and not labels_trusted:
            return
        params = self.step.params
        # the updated parameters are the optimizer's that the loss reads: zero_grad clears them
        self.entries[xb.shape] = (xb.dtype, labels, fused, eye,
                                  tuple([rates[i] for i, _ in updates]), reached,
                                  tuple(params[i] for i, _ in updates))

    def __call__(self, xb: Any, yb: Any) -> tuple[Any, Any] | None:
        """(loss, output) of the admitted step for this batch, with θ updated and ``.grad``
        set as :meth:`CompiledStep.replay` does; None where the batch's shape is not admitted
        or its signature differs (nothing was changed)."""
        if type(xb) is not np.ndarray or type(yb) is not np.ndarray:
            return None
        entry = self.entries.get(xb.shape)
        if entry is None:
            return None
        dtype, labels, fused, eye, rates, reached, cleared = entry
        if xb.dtype != dtype or (type(yb), yb.shape, yb.dtype) != labels:
            return None
        step = self.step
        args = [p.node.value for p in step.params]
        args.append(xb)
        args.append(yb if eye is None else eye.take(yb, axis=0))
        (loss, out), grads = fused(*args, rates)
        for p in cleared:  # zero_grad's part (the optimizer's others stay None)
            p.grad = None
        step._set_grads(grads, reached)  # a parameter outside the optimizer: added to
        return loss, out
