"""Data parallelism over the ranks of :mod:`diffkit.nn.distributed`: shards, gradient buckets,
the start-up checks, synchronized batch norm, and what :class:`~diffkit.nn.Trainer` calls.

Why one process's result comes out: for a global batch B of N rows, rank r gets a contiguous
shard B_r of n_r rows (disjoint, Σ n_r = N, all cut from the same seeded order) and computes the
gradient g_r of its mean loss. The one-process gradient of the mean loss is then

    g = (1/N) Σ_{i∈B} ∇ℓ_i = Σ_r (n_r/N) g_r,

which is what :func:`all_reduce_gradients` forms: each rank scales its gradients by its weight
w_r = n_r/N and the ranks sum them in float64 (a summed loss, Σ_{i∈B} ℓ_i = Σ_r Σ_{i∈B_r} ℓ_i,
needs weight 1: its ranks' gradients simply add; a class-weighted mean, Σ w_yᵢ ℓᵢ / W, needs
W_r/W, W_r = Σ_{i∈B_r} w_yᵢ, whose global W travels with the gradients) (so the rounding of the
reduction is far below float32's), then every rank casts back and takes the same optimizer step from the same
parameters (broadcast from rank 0 at the start). Imports no MPI itself: the collectives are the Context's of :mod:`diffkit.nn.distributed`.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import inspect
import json
import numbers
import weakref
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, final

import numpy as np

from .. import ops as dk
from ..backend import array_namespace, to_numpy
from ..errors import DistributedError, RankMismatchError
from ..primitive import Primitive
from ..tensor import Tensor, holds_at_this_call
from . import ranks
from .layers import BatchNorm1d, BatchNorm2d
from .module import Module, assign_, value_of
from .reduction import LossReductionError, known_reduction, loss_name, probe_reduction

#: gradients are summed in buckets of at most this many bytes (float64), last layers first
BUCKET_BYTES = 25 * 2**20


def shard_bounds(n: int, rank: int, world_size: int) -> tuple[int, int]:
    """[lo, hi) of rank's contiguous share of n rows: the first n mod p ranks get one row more.

    Example:
        >>> [shard_bounds(10, r, 4) for r in range(4)]
        [(0, 3), (3, 6), (6, 8), (8, 10)]
    """
    base, extra = divmod(n, world_size)
    lo = rank * base + min(rank, extra)
    return lo, lo + base + (rank < extra)


def _ctx() -> Any:
    ctx = ranks.context()
    if ctx is None:
        raise DistributedError("call nn.distributed.init() first (in every rank)")
    return ctx


class DistributedSampler:
    """Each rank's disjoint share of every global batch (``DataLoader(sampler=...)``).

    The loader draws the global order with its own seeded generator, the same on every rank, and
    cuts global batches of ``batch_size`` rows; this keeps rank's contiguous part of each. So the
    batch size is global, and the shards of a step together are exactly one process's batch.

    Args:
        rank, world_size: default from :func:`nn.distributed.init` (or the launcher's
            environment).

    Example:
        >>> import diffkit.nn as nn, numpy as np
        >>> s = nn.distributed.DistributedSampler(rank=1, world_size=2)
        >>> loader = nn.DataLoader(np.zeros((10, 1)), np.arange(10), batch_size=4, shuffle=False,
        ...                        sampler=s)
        >>> [yb.tolist() for _, yb in loader]
        [[2, 3], [6, 7], [9]]
    """

    def __init__(self, rank: int | None = None, world_size: int | None = None) -> None:
        self.rank = ranks.get_rank() if rank is None else int(rank)
        self.world_size = ranks.get_world_size() if world_size is None else int(world_size)
        if self.world_size < 1 or not 0 <= self.rank < self.world_size:
            raise DistributedError(f"DistributedSampler: rank {self.rank} is not in "
                                   f"0..{self.world_size - 1}")
        #: rows of the last global batch cut (the denominator N of this rank's weight n_r/N)
        self.batch_rows = 0

    def shard(self, idx: np.ndarray) -> np.ndarray:
        """This rank's part of the global batch `idx` (possibly empty for a short last batch)."""
        self.batch_rows = len(idx)
        lo, hi = shard_bounds(len(idx), self.rank, self.world_size)
        return idx[lo:hi]

    def __repr__(self) -> str:
        return f"DistributedSampler(rank={self.rank}, world_size={self.world_size})"


# ----- parameters and gradients


def broadcast_parameters(model: Module, root: int = 0) -> None:
    """Give every rank rank `root`'s parameters and buffers (float64 on the wire: exact)."""
    ctx = _ctx()
    if ctx.world_size == 1:
        return
    values = [p.value for p in model.parameters()]
    buffers = [(m, k) for m in model.modules() for k, b in m._buffers.items() if b is not None]
    values += [m._buffers[k] for m, k in buffers]
    check_layout(ctx, values, "broadcast_parameters")
    flat = _pack(values)
    ctx.broadcast([flat], root, "broadcast of the parameters")
    new = _unpack(flat, values)
    for p, v in zip(model.parameters(), new):
        assign_(p, v)
    for (m, k), v in zip(buffers, new[len(new) - len(buffers):]):
        m._buffers[k] = v


def _layout(arrays: Sequence[Any]) -> list[list[Any]]:
    return [[list(a.shape), str(a.dtype)] for a in arrays]


def check_layout(ctx: Any, arrays: Sequence[Any], what: str) -> None:
    """Every rank must hold arrays of the same shapes and dtypes before their values travel in
    one flat buffer (buffers of other lengths would be cut or padded by MPI: garbage, or a
    bare MPI error). One all-gather of the layouts; every rank raises the same
    RankMismatchError, naming the first rank and array that differ from rank 0's."""
    if ctx.world_size == 1:
        return
    mine = json.dumps(_layout(arrays)).encode()
    layouts = [json.loads(b) for b in ctx.all_gather_bytes(mine, f"layout check of {what}")]
    for r, other in enumerate(layouts[1:], 1):
        if other != layouts[0]:
            raise RankMismatchError(f"{what}: rank {r} differs from rank 0 in "
                                    f"{_layout_difference(layouts[0], other)}: every rank must "
                                    "build the same model")


def _layout_difference(a: list[list[Any]], b: list[list[Any]]) -> str:
    for k, (x, y) in enumerate(zip(a, b)):
        if x != y:
            return (f"array {k} (shape {tuple(x[0])} {x[1]} on rank 0, shape {tuple(y[0])} "
                    f"{y[1]} there)")
    return f"the number of arrays ({len(a)} on rank 0, {len(b)} there)"


def _pack(values: Sequence[Any]) -> Any:
    xp = array_namespace(*values) if values else np
    flat = xp.empty(sum(int(v.size) for v in values), xp.float64)
    o = 0
    for v in values:
        flat[o:o + v.size] = v.reshape(-1)
        o += v.size
    return flat


def _unpack(flat: Any, like: Sequence[Any]) -> list[Any]:
    out, o = [], 0
    for v in like:
        out.append(flat[o:o + v.size].reshape(v.shape).astype(v.dtype))
        o += v.size
    return out


@dataclass(frozen=True)
class StepWeight:
    """How one step's gradient reduction weighs this rank — the one place both the reduction
    and synchronized batch norm's backward read, so that they cannot disagree.

    The reduction forms grad ← Σ_r multiplier_r·grad_r, divided by Σ_r divisor_r where
    `divisor` is not None (a class-weighted mean: W_r). The objective's weight of rank r's loss
    is seed·multiplier: the backward pass is seeded with `seed` (1, or 0 for a rank whose rows
    weigh nothing but still shape the batch statistics: its own mean is 0/0, so it backpropagates
    zeros from the output and its batch-norm gradients count with multiplier 1). Synchronized
    batch norm's backward all-reduces Σ_q multiplier_q·ct_q and divides by this rank's
    multiplier, which the reduction multiplies back.
    """

    multiplier: float
    divisor: float | None = None
    seed: float = 1.0


def declare_step(ctx: Any, weight: StepWeight | None) -> None:
    """This step's weighting (read by synchronized batch norm's backward), or None at its end;
    either way the batch-norm weights recorded since the last reduction are dropped."""
    ctx.step_weight = weight
    ctx.batchnorm_weights = []


def _batchnorm_multiplier(ctx: Any, rows_share: float) -> float:
    """The multiplier synchronized batch norm's backward weighs this rank by: the declared
    step's, else n_r/N (`rows_share`: a mean loss, the documented custom loop), recorded so that
    the gradient reduction can check it weighs the ranks in the same proportions."""
    step = getattr(ctx, "step_weight", None)
    m = rows_share if step is None else step.multiplier
    used = getattr(ctx, "batchnorm_weights", None)
    if used is None:
        used = ctx.batchnorm_weights = []
    used.append(m)
    return m


def _batchnorm_check(ctx: Any, multiplier: float) -> tuple[float, float]:
    """(this reduction's multiplier, the one batch norm's backward used since the last
    reduction: 0 for none, −1 for several different), the pair every rank sends."""
    used = getattr(ctx, "batchnorm_weights", None) or []
    ctx.batchnorm_weights = []
    if not used:
        return multiplier, 0.0
    return multiplier, used[0] if all(u == used[0] for u in used) else -1.0


def _check_batchnorm_weights(pairs: np.ndarray) -> None:
    """Every rank's (reduction multiplier m_r, batch-norm multiplier u_r): the batch-norm
    gradients are right only where m_r/u_r is one constant over the ranks (Σ_q u_q·ct_q / u_r
    does not change when all u scale alike). The same DistributedError on every rank
    otherwise, never gradients that may be wrong."""
    m, u = pairs[:, 0], pairs[:, 1]
    if not u.any():
        return  # no synchronized batch norm in this step's backward
    ratio = m / np.where(u > 0, u, np.nan)
    if np.all(u > 0) and np.allclose(ratio, ratio[0], rtol=1e-9, atol=0.0):
        return
    shown = ", ".join(f"{x:.6g}" for x in u)
    raise DistributedError(
        "all_reduce_gradients: synchronized batch norm's backward weighed the ranks "
        f"[{shown}] (the rows' shares n_r/N, a mean loss, unless declared), but this reduction "
        f"weighs them [{', '.join(f'{x:.6g}' for x in m)}]: the batch-norm gradients would be "
        "wrong. Declare the weight before backward: nn.distributed.backward(loss, model, "
        "weight=..., normalize=...) runs backward and this reduction with one weight")


class GradientReducer:
    """Sums gradients over the ranks in float64 buckets of at most `bucket_bytes`, the last
    parameters first (the order backward finishes them), each bucket started as soon as it is
    packed so that packing the next overlaps with its transfer. One flag per parameter rides in
    its bucket: a parameter no rank has a gradient for keeps ``grad = None``. Built once per
    model: every rank checks then that all hold parameters of the same shapes and dtypes
    (RankMismatchError on every rank otherwise, never sums of buffers that do not match)."""

    def __init__(self, params: Sequence[Tensor], bucket_bytes: int = BUCKET_BYTES) -> None:
        self.params = list(params)
        for p in self.params:
            if np.dtype(p.dtype).kind != "f":
                raise DistributedError(f"all_reduce_gradients: a {p.dtype} parameter of shape "
                                       f"{p.shape}: only real floating-point parameters")
        check_layout(_ctx(), self.params, "all_reduce_gradients")
        cap = max(1, bucket_bytes // 8)
        self.buckets: list[list[Tensor]] = []
        size = cap
        for p in reversed(self.params):
            if size + p.size > cap:
                self.buckets.append([])
                size = 0
            self.buckets[-1].append(p)
            size += p.size

    def reduce(self, weight: float, normalize: bool = False,
               divisor: float | None = None) -> None:
        """grad ← Σ_ranks weight·grad (each rank passes its own weight), for every parameter;
        `normalize`: grad ← Σ_r weight_r·grad_r / Σ_r divisor_r (`divisor` default: `weight`),
        the sum riding in each bucket (a class-weighted mean: weight W_r, the rank's total class
        weight). A weight of 0 contributes zeros, whatever its gradient (the NaN mean of
        nothing). Every rank must pass the same `normalize` (DistributedError on every rank
        otherwise). Where synchronized batch norm's backward ran since the last reduction, the
        weights it used ride along (two numbers per rank) and must be in the proportions of
        these (DistributedError on every rank otherwise: see :class:`StepWeight`)."""
        ctx = _ctx()
        share = weight if divisor is None else divisor
        check = _batchnorm_check(ctx, weight)
        pending = []
        for i, bucket in enumerate(self.buckets):
            xp = array_namespace(bucket[0].value)
            n = sum(p.size for p in bucket)
            # after the gradients: a flag per parameter, the divisor, the count of normalizing
            # ranks; in the first bucket every rank's (weight, batch norm's weight)
            extra = 2 * ctx.world_size if i == 0 else 0
            buf = xp.zeros(n + len(bucket) + 2 + extra, xp.float64)
            if extra:
                buf[n + len(bucket) + 2 + 2 * ctx.rank:][:2] = check
            o = 0
            for k, p in enumerate(bucket):
                if p.grad is not None:
                    if weight != 0.0:
                        buf[o:o + p.size] = xp.broadcast_to(p.grad, p.shape).reshape(-1)
                    buf[n + k] = 1.0
                o += p.size
            if weight != 1.0:
                buf[:n] *= weight
            buf[n + len(bucket):][:2] = (share, float(normalize))
            pending.append((bucket, buf, extra, ctx.start_all_reduce(
                [buf], "all-reduce of the gradients")))
        for _, _, _, handle in pending:  # all waited for before any error: none left open
            handle.wait()
        for bucket, buf, extra, _ in pending:
            if extra:
                _check_batchnorm_weights(to_numpy(buf[-extra:]).reshape(-1, 2))
                buf = buf[:-extra]
            n = len(buf) - len(bucket) - 2
            flags = to_numpy(buf[n:])
            if flags[-1] not in (0.0, ctx.world_size):
                raise DistributedError(
                    f"all_reduce_gradients: {int(flags[-1])} of {ctx.world_size} ranks weighed "
                    "their gradients by a share of the batch's class weight, the others by rows: "
                    "every rank must use the same loss and labels")
            if normalize:  # Σ_r W_r g_r / W (0/0 = NaN where the whole batch weighs 0, as one
                buf[:n] /= flags[-2]  # process's weighted mean of it is)
            o = 0
            for k, p in enumerate(bucket):
                p.grad = buf[o:o + p.size].reshape(p.shape).astype(p.value.dtype) \
                    if flags[k] > 0 else None
                o += p.size


_REDUCERS: weakref.WeakKeyDictionary[Module, tuple[tuple[int, ...], GradientReducer]] = (
    weakref.WeakKeyDictionary())


def all_reduce_gradients(model: Module | Iterable[Tensor], weight: float | None = None,
                         normalize: bool = False) -> None:
    """After ``loss.backward()`` in every rank: each parameter's ``grad`` becomes the same on
    every rank, Σ_r w_r·grad_r, summed in float64 in buckets.

    Args:
        model: a Module (its buckets are kept) or the parameters.
        weight: this rank's share of the global batch, n_r/N (what makes the one-process mean
            gradient for unequal shards); default 1/world_size (the mean over ranks).
        normalize: grad ← Σ_r w_r·grad_r / Σ_r w_r, with `weight` this rank's part of the
            global divisor: W_r = Σ w_y of its labels for a class-weighted mean loss.
    """
    ctx = _ctx()
    if isinstance(model, Module):
        params = model.parameters()
        key = tuple(id(p) for p in params)
        cached = _REDUCERS.get(model)
        if cached is None or cached[0] != key:
            cached = _REDUCERS[model] = (key, GradientReducer(params))
        reducer = cached[1]
    else:
        reducer = GradientReducer(list(model))
    reducer.reduce(1.0 / ctx.world_size if weight is None else float(weight), normalize)


def backward(loss: Tensor | None, model: Module | Iterable[Tensor], weight: float | None = None,
             normalize: bool = False) -> None:
    """``loss.backward()`` then :func:`all_reduce_gradients` with one weight, declared before
    the backward pass: what a loop of your own calls where the model has synchronized batch
    norm and the weight is not this rank's share of the rows n_r/N (a summed loss: weight 1; a
    class-weighted mean: W_r with ``normalize=True``) — its backward reads this step's weight.

    Args:
        loss: this rank's loss, or None where its shard of the batch is empty (it still joins
            the reduction, with `weight` 0).
        model, weight, normalize: as :func:`all_reduce_gradients`.

    Raises:
        DistributedError: on every rank, where some rank's weight is 0 but synchronized batch
            norm's backward needs it (its rows still shape the batch statistics).
    """
    ctx = _ctx()
    w = 1.0 / ctx.world_size if weight is None else float(weight)
    declare_step(ctx, StepWeight(w, w if normalize else None))
    try:
        if loss is not None:
            loss.backward()
    finally:
        ctx.step_weight = None  # this step's only: never read by a later backward
    all_reduce_gradients(model, w, normalize)


# ----- start-up checks


def _digest(arrays: Iterable[Any]) -> str:
    h = hashlib.sha256()
    for a in arrays:
        a = np.ascontiguousarray(to_numpy(a))
        h.update(f"{a.dtype.str}{a.shape}".encode())
        if a.size:  # (an empty array's view cannot be cast; the header above names it)
            h.update(memoryview(a).cast("B"))
    return h.hexdigest()[:16]


def _plain(v: Any) -> str:
    """A setting as text that is the same in every process that holds the same setting: numbers
    as floats (1 and 1.0 alike, NaN equal to NaN), arrays by a digest, containers entry by entry,
    anything else by its type's name (its repr may hold an address)."""
    v = value_of(v)
    if v is None or isinstance(v, bool | str):
        return repr(v)
    if isinstance(v, numbers.Real):
        f = float(v)
        return repr(int(f)) if f.is_integer() and abs(f) < 2**53 else repr(f)
    if isinstance(v, dict):
        return "{" + ", ".join(f"{k}: {_plain(x)}" for k, x in sorted(v.items(), key=str)) + "}"
    if isinstance(v, list | tuple):
        return "[" + ", ".join(_plain(x) for x in v) + "]"
    if hasattr(v, "shape") and hasattr(v, "dtype"):
        return f"array {_digest([v])}"
    return type(v).__qualname__


#: attributes that set what a loss computes, compared wherever an object has them
_LOSS_SETTINGS = frozenset(("reduction", "label_smoothing", "weight", "ignore_index",
                            "pos_weight"))


def _init_parameters(cls: type) -> frozenset[str]:
    """The names a class's constructor takes: what an object of it is set to (its other
    attributes are state it keeps — a jit function's traces, a logged value — which ranks may
    differ in)."""
    try:
        return frozenset(inspect.signature(cls.__init__).parameters) - {"self"}
    except (TypeError, ValueError):
        return frozenset()


def _object_settings(obj: Any, skip: tuple[str, ...] = ()) -> str:
    """An object's type and the attributes it is set to (what a loss, scheduler or early
    stopping is set to: its constructor's parameters and a loss's settings), as :func:`_plain`
    text; a ``functools.partial`` by its function and arguments."""
    if obj is None:
        return "None"
    if type(obj) is functools.partial:
        return (f"partial({_object_settings(obj.func)}, {_plain(list(obj.args))}, "
                f"{_plain(obj.keywords)})")
    name = getattr(obj, "__qualname__", None) if callable(obj) and hasattr(obj, "__code__") \
        else None
    found = getattr(obj, "__dict__", {})
    # a Module's buffers and parameters (a loss's class weights) by name, with its attributes
    attrs = {**found.get("_buffers", {}), **found.get("_parameters", {})}
    settings = _init_parameters(type(obj)) | _LOSS_SETTINGS
    attrs.update((k, x) for k, x in found.items()
                 if not k.startswith("_") and k not in skip and k in settings)
    return f"{name or type(obj).__qualname__} {_plain(attrs)}"


def training_settings(trainer: Any) -> dict[str, str]:
    """A Trainer's settings that every rank must share, as plain text: the loss (its class or
    function and settings: reduction, label smoothing, class weights, …), the l1/l2 penalties,
    gradient clipping, the scheduler and early stopping (type, settings and counters). Ranks
    that differ here would take different steps, or mix a mean's and a sum's weights."""
    get = functools.partial(getattr, trainer)
    return {"loss": _object_settings(get("loss_fn", None)),
            "l1": _plain(get("l1", 0.0)), "l2": _plain(get("l2", 0.0)),
            "clip_grad_norm": _plain(get("clip_grad_norm", None)),
            "clip_grad_value": _plain(get("clip_grad_value", None)),
            "scheduler": _object_settings(get("scheduler", None), skip=("optimizer",)),
            "early_stopping": _object_settings(get("early_stopping", None))}


def signature(model: Module, loader: Any, optimizer: Any = None,
              settings: dict[str, str] | None = None) -> dict[str, Any]:
    """What every rank must agree on before training, as JSON-ready data: the model's parameter
    names, shapes and dtypes; the data's shape, dtype and a digest; the loader's settings and
    generator; the optimizer's settings and a digest of its state; the trainer's `settings`
    (:func:`training_settings`)."""
    sig: dict[str, Any] = {
        "model": [[k, list(p.shape), str(p.dtype)] for k, p in model.named_parameters()]
        + [[k, list(b.shape), str(b.dtype)] for k, b in model.named_buffers() if b is not None],
    }
    X, y = getattr(loader, "X", None), getattr(loader, "y", None)
    if X is not None and y is not None:
        sig["data"] = {"rows": len(X), "X": [list(X.shape[1:]), str(X.dtype)],
                       "y": [list(y.shape[1:]), str(y.dtype)], "digest": _digest([X, y])}
        rng = getattr(loader, "rng", None)
        state = json.dumps(rng.bit_generator.state, sort_keys=True, default=str) if rng else ""
        sig["loader"] = {"batch_size": loader.batch_size, "shuffle": loader.shuffle,
                         "drop_last": loader.drop_last,
                         "generator": hashlib.sha256(state.encode()).hexdigest()[:16]}
    if optimizer is not None:
        sd = optimizer.state_dict()
        arrays = [v for s in sd["state"].values() for v in s.values() if hasattr(v, "shape")]
        sig["optimizer"] = {"type": type(optimizer).__name__,
                            "settings": json.loads(json.dumps(sd["param_groups"], default=str)),
                            "state": _digest(arrays)}
    if settings is not None:
        sig["trainer"] = dict(settings)
    return sig


def check_consistent(model: Module, loader: Any = None, optimizer: Any = None,
                     settings: dict[str, str] | None = None) -> None:
    """Every rank compares its :func:`signature` with every other's: all raise the same
    RankMismatchError, naming the first rank and the first thing that differs from rank 0."""
    ctx = _ctx()
    mine = json.dumps(signature(model, loader, optimizer, settings), sort_keys=True).encode()
    sigs = [json.loads(b) for b in ctx.all_gather_bytes(mine, "start-up check")]
    for r, s in enumerate(sigs[1:], 1):
        diff = _first_difference(sigs[0], s)
        if diff is not None:
            raise RankMismatchError(
                f"rank {r} differs from rank 0 in {diff}: every rank must build the same model, "
                "load the same data and use the same seed and settings")


def _first_difference(a: dict[str, Any], b: dict[str, Any]) -> str | None:
    if a.get("model") != b.get("model"):
        ma, mb = {k: (s, d) for k, s, d in a["model"]}, {k: (s, d) for k, s, d in b["model"]}
        for k in [*ma, *mb]:
            if ma.get(k) != mb.get(k):
                return (f"the model: {k} is {_describe(ma.get(k))} on rank 0 and "
                        f"{_describe(mb.get(k))} there")
        return "the model: the parameters come in another order"
    for part in ("data", "loader", "optimizer", "trainer"):
        pa, pb = a.get(part, {}), b.get(part, {})
        for k in sorted({*pa, *pb}):
            if pa.get(k) != pb.get(k):
                return f"the {part}'s {k}: {pa.get(k)} on rank 0, {pb.get(k)} there"
    return None


def _describe(entry: Any) -> str:
    return "missing" if entry is None else f"shape {tuple(entry[0])} {entry[1]}"


# ----- synchronized batch norm


def _all_reduce_impl(xp: Any, x: Any, weight: float) -> Any:
    buf = x.astype(xp.float64)
    _ctx().all_reduce([buf], "all-reduce of the batch-norm statistics")
    return buf.astype(x.dtype)


def _all_reduce_vjp(ct: Any, xs: Any, out: Any, weight: float) -> tuple[Any]:
    """Each rank's backward gives ct_r = ∂L_r/∂S for the global sum S; the global objective
    Σ w_r L_r needs Σ_r w_r ct_r in every rank, divided by w_r there (the gradient reduction
    multiplies it back). w_r is this step's :class:`StepWeight` multiplier, read now (`weight`,
    the rows' share n_r/N fixed in the forward pass, only where none is declared). A rank of
    multiplier 0 would lose its rows' part: a DistributedError on every rank (one flag rides
    along)."""
    ctx = _ctx()
    m = _batchnorm_multiplier(ctx, weight)
    xp = array_namespace(ct)
    buf = xp.zeros(ct.size + 1, xp.float64)
    buf[:-1] = xp.asarray(ct, dtype=xp.float64).reshape(-1) * m
    buf[-1] = float(m == 0.0)
    ctx.all_reduce([buf], "all-reduce of the batch-norm gradients")
    zero = int(to_numpy(buf[-1:])[0])
    if zero:
        raise DistributedError(
            f"synchronized batch norm's backward: {zero} rank(s) weigh their loss 0 in this "
            "step, but their rows still shape the batch statistics and so every other row's "
            "loss: their part cannot be divided out. Pass the class-weighted sum with weight 1 "
            "(or use nn.Trainer, which seeds such a rank's backward with zeros)")
    return ((buf[:-1] / m).reshape(ct.shape).astype(ct.dtype),)


#: Σ over the ranks, differentiable (not in diffkit's table of primitives: training-only)
all_reduce_sum = Primitive(
    name="all_reduce_sum", nargs=1, impl=_all_reduce_impl, kind="structural", linear=True,
    batch=None, jvp=None, vjp=_all_reduce_vjp, vjp_rows=None, prepare=None, sympy=None,
    numpy=(), scipy=(), parseable=False, differentiable=True, symbol="all_reduce_sum",
    unicode="Σ_ranks", latex=r"\sum_{\text{ranks}}", cost=None,
    doc="Sum over the ranks of a data-parallel job (its derivative sums the weighted "
        "cotangents).")


class _SyncStatistics:
    """Batch statistics over the global batch: μ = Σ_ranks Σ x / N, σ² = Σ_ranks Σ (x − μ)² / N,
    each a differentiable all-reduce, so forward and backward equal one process's batch norm on
    the whole global batch (two all-reduces forward, two backward, per layer)."""

    num_features: int
    eps: float
    momentum: float | None
    affine: bool
    track_running_stats: bool
    training: bool

    def forward(self, x: Any) -> Any:
        ctx = ranks.context()
        if not self.training or ctx is None or ctx.world_size == 1:
            return super().forward(x)  # type: ignore[misc]
        self._check(x)  # type: ignore[attr-defined]
        axes = (0, *range(2, len(x.shape)))
        bshape = (1, self.num_features) + (1,) * (len(x.shape) - 2)
        local = int(np.prod(x.shape)) // self.num_features
        (total,) = ctx.all_reduce_numbers([local], "count of the batch-norm rows")
        if local == 0:
            raise DistributedError("synchronized batch norm got no rows on this rank: use a "
                                   "batch size of at least the number of ranks")
        # the rows' share n_r/N: the backward's weight where the step declares none (a mean
        # loss); the backward reads the step's StepWeight when it runs
        w = local / total
        mu = dk.mul(all_reduce_sum(dk.sum(x, axis=axes, keepdims=True), weight=w), 1.0 / total)
        d = dk.sub(x, mu)
        var = dk.mul(all_reduce_sum(dk.sum(dk.mul(d, d), axis=axes, keepdims=True), weight=w),
                     1.0 / total)
        y = dk.mul(d, dk.pow(dk.add(var, self.eps), -0.5))
        if self.track_running_stats:  # counted whether or not statistics are stored (PyTorch)
            holds_at_this_call()  # state it updates: a trace holds at this call only
            # BatchNorm's update on the global batch's statistics (buffers keep their dtype)
            self._update_running(mu, var, total)  # type: ignore[attr-defined]
        if self.affine:
            y = dk.add(dk.mul(y, dk.reshape(self.weight, bshape)),  # type: ignore[attr-defined]
                       dk.reshape(self.bias, bshape))  # type: ignore[attr-defined]
        return y


class SyncBatchNorm1d(_SyncStatistics, BatchNorm1d):
    """BatchNorm1d whose training statistics are those of the global batch (all ranks)."""


class SyncBatchNorm2d(_SyncStatistics, BatchNorm2d):
    """BatchNorm2d whose training statistics are those of the global batch (all ranks)."""


_SYNC = {BatchNorm1d: SyncBatchNorm1d, BatchNorm2d: SyncBatchNorm2d}


def convert_sync_batchnorm(model: Module) -> Module:
    """Make every BatchNorm1d/2d of `model` synchronized (same parameters, buffers and names, so
    checkpoints and optimizers are unaffected); returns the model. Without it each rank
    normalizes with its own shard's statistics, as PyTorch's DDP does by default.

    Example:
        >>> import diffkit.nn as nn
        >>> m = nn.distributed.convert_sync_batchnorm(nn.MLP([4, 8, 2], batch_norm=True))
        >>> type(m[1]).__name__
        'SyncBatchNorm1d'
    """

    def convert(m: Module) -> Module:
        cls = _SYNC.get(type(m))
        if cls is None:
            return m
        new = object.__new__(cls)
        new.__dict__.update(m.__dict__)
        return new

    for m in list(model.modules()):
        for k, child in list(m._modules.items()):
            m._modules[k] = convert(child)
    return convert(model)


def _eval_batch_statistics(model: Module) -> str:
    """The first batch norm of `model` that normalizes with batch statistics in eval mode (no
    running statistics) as ``'BatchNorm1d (layer 2)'``, or '' where none does."""
    for k, m in model.named_modules():
        if isinstance(m, BatchNorm1d | BatchNorm2d) and (
                m.running_mean is None or m.running_var is None):
            return f"{type(m).__name__} ({k or 'the model'})"
    return ""


def has_sync_batchnorm(model: Module) -> bool:
    return any(isinstance(m, _SyncStatistics) for m in model.modules())


# ----- what Trainer uses


@final  # not subclassed, so __enter__ returns exactly a DataParallel (typing.Self is 3.11+)
class DataParallel:
    """A Trainer's link to the other ranks: set up once per fit (checks, broadcast, sharding),
    then the gradient reduction of every step, the sums of every epoch and of the validation
    metrics, and the broadcast of the buffers. As a context manager around fit's loop it hands
    the user's loader back as it was, and tells the other ranks of an exception."""

    def __init__(self, ctx: Any, trainer: Any, loader: Any) -> None:
        self.ctx = ctx
        if not hasattr(loader, "sampler"):
            raise DistributedError("distributed training needs a diffkit DataLoader (it shards "
                                   "each global batch over the ranks)")
        #: the loader whose sampler this fit installed (None: it had its own); see close()
        self._installed = loader if loader.sampler is None else None
        sampler = loader.sampler or DistributedSampler(ctx.rank, ctx.world_size)
        if (sampler.rank, sampler.world_size) != (ctx.rank, ctx.world_size):
            raise DistributedError(f"the DataLoader's {sampler!r} is not this rank's (rank "
                                   f"{ctx.rank} of {ctx.world_size})")
        self.sampler = sampler
        #: inside fit: validation metrics are summed over the ranks (False after close())
        self.active = True
        model = trainer.model
        check_consistent(model, loader, trainer.optimizer, training_settings(trainer))
        #: the model has synchronized batch norm (see step_weight)
        self.sync_batchnorm = has_sync_batchnorm(model)
        if self.sync_batchnorm:
            self._check_rows_for_sync_batchnorm(loader)
        self._check_rows_for_batchnorm(model, loader)
        broadcast_parameters(model)
        self._loader = loader
        self.read_reduction(trainer)
        self.reducer = GradientReducer(model.parameters())
        loader.sampler = sampler  # installed last: a refused set-up leaves the loader alone

    def read_reduction(self, trainer: Any) -> None:
        """Whether the trainer's loss sums over the rows (the ranks' gradients then add with
        weight 1, else n_r/N): known, declared, or probed on the loader's rows for a loss of
        your own (also one set inside an epoch); LossReductionError where it cannot be told."""
        loss_fn, loader = trainer.loss_fn, self._loader
        if self.ctx.world_size > 1 and known_reduction(loss_fn) is None:
            X, y = getattr(loader, "X", None), getattr(loader, "y", None)
            if X is None or y is None:
                raise LossReductionError(
                    f"the loss {loss_name(loss_fn)} is your own and the loader holds no X and y "
                    "to tell whether it is a mean or a sum over the rows: declare it "
                    "(loss_fn.reduction = 'mean' or 'sum')")
            trainer._sum = probe_reduction(loss_fn, trainer.model, X, y) == "sum"
        #: the loss is a sum over the rows: the ranks' gradients add with weight 1
        self.summed = bool(getattr(trainer, "_sum", False))

    def _check_rows_for_sync_batchnorm(self, loader: Any) -> None:
        n, b = len(loader.X), loader.batch_size
        smallest = b if loader.drop_last or n % b == 0 else n % b
        if min(smallest, n) < self.ctx.world_size:
            raise DistributedError(
                f"synchronized batch norm needs rows on every rank in every step, but a batch has "
                f"{min(smallest, n)} rows for {self.ctx.world_size} ranks: use drop_last=True or "
                "another batch size")

    def _check_rows_for_batchnorm(self, model: Module, loader: Any) -> None:
        """A plain BatchNorm1d normalizes each rank's shard alone; a shard of one row has no
        batch statistics (x − μ = 0), an error one process would not meet on the global batch.
        Found now, for every batch size of the epoch, not at the epoch's last step."""
        plain = [m for m in model.modules()
                 if isinstance(m, BatchNorm1d) and not isinstance(m, _SyncStatistics)]
        X, p = getattr(loader, "X", None), self.ctx.world_size
        if not plain or X is None or p == 1 or np.ndim(X) != 2:
            return  # (N, C, L) rows keep L values per channel: one row has statistics there
        n, b = len(X), loader.batch_size
        sizes = {b} if n >= b else set()
        if n % b and not loader.drop_last:
            sizes.add(n % b)
        for size in sorted(sizes):
            shards = sorted({hi - lo for lo, hi in (shard_bounds(size, r, p) for r in range(p))})
            if 1 in shards and size > 1:
                last = size != b  # the epoch's short last batch: drop_last=True skips it
                raise DistributedError(
                    f"plain BatchNorm1d on {p} ranks: a global batch of {size} rows gives some "
                    f"rank a shard of 1 row, which has no batch statistics: use nn.distributed."
                    "convert_sync_batchnorm(model) (one process's statistics), "
                    + ("drop_last=True or " if last else "") + "another batch size")

    @property
    def is_main(self) -> bool:
        return self.ctx.is_main

    def step_weight(self, rows: int, summed: bool = False,
                    share: float | None = None) -> StepWeight:
        """How this step weighs this rank, which computed the loss of `rows` rows of the current
        global batch: their mean (weight n_r/N), or, `summed`, their sum (weight 1: Σ_r
        Σ_{i∈B_r} ∇ℓ_i is the global batch's summed gradient), or, given `share` = W_r =
        Σ_{i∈B_r} w_yᵢ, their class-weighted mean Σ w_yᵢ ℓᵢ / W_r (weight W_r/W, W = Σ_r W_r
        summed with the gradients). With synchronized batch norm a rank of W_r = 0 seeds its
        backward with zeros and counts its (batch-norm) gradients with multiplier 1."""
        if summed:
            return StepWeight(1.0)
        if share is not None:
            if share == 0.0 and self.sync_batchnorm:
                return StepWeight(1.0, 0.0, seed=0.0)
            return StepWeight(float(share), float(share))
        n = self.sampler.batch_rows
        return StepWeight(rows / n if n else 0.0)

    def begin_step(self, rows: int, summed: bool = False,
                   share: float | None = None) -> StepWeight:
        """Declare this step's :meth:`step_weight` before its backward pass (synchronized batch
        norm's backward reads it) and return it; :meth:`reduce_gradients` ends the step."""
        weight = self.step_weight(rows, summed, share)
        declare_step(self.ctx, weight)
        return weight

    def reduce_gradients(self, rows: int, summed: bool = False,
                         share: float | None = None) -> None:
        """The gradient reduction of this step, weighted by :meth:`step_weight` (the same
        record its backward read); the step's declaration ends here."""
        weight = self.step_weight(rows, summed, share)
        self.ctx.step_weight = None
        self.reducer.reduce(weight.multiplier, weight.divisor is not None, weight.divisor)

    def reduce_totals(self, *values: Any) -> list[float]:
        return self.ctx.all_reduce_numbers([float(v) for v in values], "sum of the epoch's "
                                           "metrics")

    # ----- validation and the end of an epoch

    def sync_buffers(self, model: Module) -> None:
        """Rank 0's buffers everywhere (as PyTorch's DDP broadcasts them): a plain batch norm's
        running statistics are each rank's own shards' until then; after it every rank holds
        rank 0's, so evaluation, the end-of-epoch decisions and checkpoints agree bit for bit."""
        broadcast_buffers(model)

    def validation_rows(self, X: Any, y: Any, model: Module | None = None) -> tuple[Any, Any]:
        """The rows of the validation set this rank evaluates: where every rank passed the same
        data (one digest each, all-gathered), its contiguous share (shard_bounds), so that the
        sums over the ranks count every row once; where the ranks passed different data (each
        its own part), all of it. Where `model` normalizes with batch statistics in eval mode
        (a batch norm without running statistics: ``track_running_stats=False``), a share's
        statistics are not the set's: rank 0 then evaluates all of the same data (the others
        none), and parts of each rank's own are a DistributedError on every rank."""
        mine = _digest([np.asarray(to_numpy(value_of(a))) for a in (X, y)]).encode()
        same = len(set(self.ctx.all_gather_bytes(mine, "comparison of the validation data"))) == 1
        batch_stats = model is not None and _eval_batch_statistics(model)
        if batch_stats and not same:
            raise DistributedError(
                f"validation: {batch_stats} normalizes with batch statistics in eval mode "
                "(no running statistics), but each rank passed its own part of val_data: one "
                "process's statistics are the whole set's, which no rank holds. Pass the same "
                "val_data on every rank, or keep running statistics (track_running_stats=True)")
        if not same:
            return X, y
        if batch_stats:
            return (X, y) if self.ctx.rank == 0 else (X[:0], y[:0])
        lo, hi = shard_bounds(len(X), self.ctx.rank, self.ctx.world_size)
        return X[lo:hi], y[lo:hi]

    def reduce_validation(self, *values: float) -> list[float]:
        return self.ctx.all_reduce_numbers(values, "sum of the validation metrics")

    # ----- the span of one fit

    def close(self) -> None:
        """Fit is over: the user's loader gets back the sampler it had (none), and later calls of
        evaluate are this rank's alone."""
        self.active = False
        declare_step(self.ctx, None)  # no step's weight outlives the fit
        if self._installed is not None:
            self._installed.sampler = None
            self._installed = None

    def __enter__(self) -> DataParallel:
        return self

    def __exit__(self, kind: object, exc: BaseException | None, tb: object) -> None:
        """Close (the user's loader gets its sampler back). An exception is not told to the
        other ranks here: one that every rank meets alike (a label out of range) may be caught
        and fit called again, which a failed job would forbid; an uncaught one reaches them
        through the process's exception hook, a caught one on one rank only leaves the others
        to their wait's timeout (a DistributedTimeoutError naming it)."""
        self.close()


def session(dp: DataParallel | None) -> Any:
    """``with session(trainer._dist):`` around fit's epochs: the DataParallel itself (see its
    ``__exit__``), or a context that does nothing for one process."""
    return contextlib.nullcontext() if dp is None else dp


def broadcast_buffers(model: Module, root: int = 0) -> None:
    """Give every rank rank `root`'s buffers (running statistics, counters; float64 on the wire:
    exact for floats and for counts below 2⁵³)."""
    ctx = _ctx()
    buffers = [(m, k) for m in model.modules() for k, b in m._buffers.items() if b is not None]
    if ctx.world_size == 1 or not buffers:
        return
    values = [m._buffers[k] for m, k in buffers]
    check_layout(ctx, values, "broadcast_buffers")
    flat = _pack(values)
    ctx.broadcast([flat], root, "broadcast of the buffers")
    for (m, k), v in zip(buffers, _unpack(flat, values)):
        m._buffers[k] = v


__all__ = ["DataParallel", "DistributedSampler", "GradientReducer", "LossReductionError",
           "StepWeight", "SyncBatchNorm1d", "SyncBatchNorm2d", "all_reduce_gradients", "backward", "broadcast_buffers",
           "broadcast_parameters", "check_consistent", "check_layout", "convert_sync_batchnorm",
           "known_reduction", "probe_reduction", "session", "shard_bounds", "signature",
           "training_settings"]
