"""Optimizers with PyTorch's arguments and update rules, plus gradient clipping.

Each optimizer states its rule once, as the step Δ in θ ← θ − Δ (:meth:`Optimizer._delta`).
``step()`` reads each parameter's ``.grad`` and applies it: in place, as PyTorch's optimizers
do, where nothing else can see the array (:func:`~diffkit.tensor.writable_alone`: no graph
recorded from the parameter is alive, no variable or view holds its value), else as a fresh
immutable leaf node (:func:`~diffkit.nn.module.assign_`) — the two give the same numbers. All
arithmetic runs in the parameter's array module (NumPy or CuPy) and dtype, so a step never
leaves the device — but for float16, updated in float32 (state included) and rounded once.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable
from typing import Any, ClassVar

import numpy as np

from ..backend import array_namespace, to_device, to_numpy
from ..errors import MissingRuleError, NumericOverflowError, ShapeError
from ..primitives.declare import working_dtype
from ..tensor import Tensor, set_leaf_value, writable_alone


def _check(name: str, value: float, low: float = 0.0, high: float | None = None) -> None:
    """PyTorch's messages: ``Invalid learning rate: nan``. NaN, ±inf and non-numbers are never
    valid: low ≤ value (< high)."""
    if (isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value)
            or value < low or (high is not None and value >= high)):
        raise ValueError(f"Invalid {name}: {value!r}" if isinstance(value, str)
                         else f"Invalid {name}: {value}")


def _flag(name: str, value: Any) -> bool:
    """An on/off hyper-parameter as a bool: PyTorch takes truthy ints (``amsgrad=1``); storing
    the bool lets a saved state load back (loading checks flags are True or False)."""
    if not isinstance(value, bool | np.bool_ | numbers.Integral):
        raise TypeError(f"Invalid {name}: {value!r} (expected True or False)")
    return bool(value)


def _pair(name: str, value: Any) -> tuple[float, float]:
    """Two coefficients given as any length-2 sequence (tuple, list, NumPy array), as floats."""
    if isinstance(value, str | bytes) or not hasattr(value, "__len__") or len(value) != 2:
        raise ValueError(f"Invalid {name}: {value} (expected two coefficients)")
    for j, b in enumerate(value):
        _check(f"beta parameter at index {j}", b, 0.0, 1.0)
    return (float(value[0]), float(value[1]))


def _plural(n: Any) -> str:
    return f"{n} parameter" + ("" if n == 1 else "s") if type(n) is int else repr(n)


def _state_value(i: Any, k: str, v: Any, p: Tensor) -> Any:
    """A saved state entry of parameter `p` (number `i`) as the optimizer uses it: a number as
    it is, an array or a (JSON-style) nested list as an array of the parameter's working dtype
    (float32 for float16, the real one of a complex parameter, else its own) and state shape
    (:func:`state_shape`; a 0-d one as it is); anything else is a ValueError naming the entry."""
    where = f"optimizer state {k!r} of parameter {i}"
    if k == "step":
        return _step_count(where, v)
    work = working_dtype(p.dtype)  # float32 for a float16 parameter: its state is kept so,
    work = np.finfo(work).dtype if work.kind == "c" else work  # a complex one's as its real view
    if isinstance(v, complex):  # a ValueError, as every refused state entry
        raise ValueError(  # noqa: TRY004
            f"{where} is the complex number {v}, which the parameter's {work} state cannot hold")
    if isinstance(v, bool | numbers.Number) and not hasattr(v, "shape"):
        return v
    if isinstance(v, list | tuple):
        try:
            v = np.asarray(v)
        except ValueError as e:
            raise ValueError(f"{where} is not a rectangular list of numbers ({e})") from None
    if not hasattr(v, "shape") or getattr(v, "dtype", np.dtype(object)).kind not in "biufc":
        raise ValueError(f"{where} is a {type(v).__name__}"
                         + (f" of dtype {v.dtype}" if hasattr(v, "dtype") else "")
                         + ", not a number or a numeric array")
    shape = state_shape(p.shape, p.dtype)
    if tuple(v.shape) not in ((shape, ()) if k in COUNTERS else (shape,)):
        raise ValueError(f"{where} has shape {tuple(v.shape)}, the parameter's state {shape}"
                         + (" (a complex parameter's state is its real view: (..., 2))"
                            if len(shape) > len(p.shape) else ""))
    if not np.can_cast(v.dtype, work, "same_kind"):  # complex moments: state is real
        raise ValueError(f"{where} has dtype {v.dtype}, which the parameter's {work} state "
                         "cannot hold" + (" (a complex parameter's state is its real view)"
                                          if work != working_dtype(p.dtype) else ""))
    if v.shape == ():
        return v
    return np.array(to_numpy(v), dtype=work)


#: the most steps a saved optimizer state may count (more is no run: a corrupted number)
MAX_STEP = 2**53


def _step_count(where: str, v: Any) -> int:
    """A saved step count as the int the bias corrections use: a whole number from 0 to
    :data:`MAX_STEP` (a 0-d array or an integral float such as 3.0 too); else a ValueError
    naming the entry (step −1 made Adam's 1 − β^0 a division by zero)."""
    if hasattr(v, "shape") and tuple(v.shape) == () and getattr(v, "dtype", None) is not None \
            and v.dtype.kind in "iuf":
        v = to_numpy(v).item()
    whole = isinstance(v, numbers.Integral) or (
        isinstance(v, numbers.Real) and math.isfinite(v) and float(v).is_integer())
    if isinstance(v, bool | np.bool_) or not whole or v < 0:
        raise ValueError(f"{where} is {v!r}, not a step count (a whole number >= 0)")
    if v > MAX_STEP:
        raise ValueError(f"{where} is {v!r}: more steps than any run takes (at most 2**53)")
    return int(v)


#: state entries that are one number per parameter whatever its shape (a checkpoint may hold them
#: as 0-d arrays); every other array in a parameter's state has the parameter's shape
COUNTERS = frozenset({"step", "mu_product"})


def check_grad(i: int, p: Tensor, g: Any) -> None:
    """Refuse gradient `g` of parameter `p` (number `i`) unless it has the parameter's shape:
    NumPy would broadcast a (1,) gradient over a (3,) parameter, a wrong update PyTorch refuses.
    (``backward()`` always gives the parameter's shape; a Python number fits a 0-d one.)"""
    shape = p.node.value.shape
    if getattr(g, "shape", None) != shape and np.shape(g) != shape:
        raise ShapeError(f"the gradient of parameter {i} has shape {np.shape(g)}, the parameter "
                         f"{shape}: assign p.grad an array of the parameter's shape (backward() "
                         "gives one)")


def check_state(i: int, shape: tuple[int, ...], s: dict[str, Any]) -> None:
    """Refuse optimizer state `s` of parameter number `i` made for another shape (the parameter
    grown by assigning ``p.data``): mixed with the new gradient, a (1, 4) momentum would be
    broadcast over every new row; PyTorch refuses it too."""
    for k, x in s.items():
        had = getattr(x, "shape", None)
        if had is not None and had != shape and (had != () or k not in COUNTERS):
            raise ShapeError(f"optimizer state {k!r} of parameter {i} has shape {had}, the "
                             f"parameter now {shape} (its shape changed, e.g. by assigning "
                             "p.data): the state belongs to the old shape. Start the parameter's "
                             f"state afresh with `del optimizer.state[{i}]`, or make a new "
                             "optimizer")


#: a hyper-parameter's range: (its name in PyTorch's messages, lowest valid value, first invalid
#: value above or None)
Range = tuple[str, float, float | None]


def real_view(z: Any) -> Any:
    """Complex array `z` as reals, shape (..., 2): [..., 0] = Re z, [..., 1] = Im z; the same
    memory where `z` is C-contiguous (an update written there lands in `z`), else a copy."""
    return (z if z.flags.c_contiguous else z.copy())[..., None].view(z.real.dtype)


def complex_view(xp: Any, w: Any) -> Any:
    """The inverse of :func:`real_view`: reals of shape (..., 2) as the complex array (...)."""
    w = xp.ascontiguousarray(w)
    return w.view(xp.result_type(w.dtype, np.complex64))[..., 0]


def state_shape(shape: tuple[int, ...], dtype: Any) -> tuple[int, ...]:
    """The shape of a parameter's state arrays: its own, (..., 2) for a complex one (its real
    view: each optimizer runs on real and imaginary parts as independent reals)."""
    return (*shape, 2) if np.dtype(dtype).kind == "c" else tuple(shape)


def plain_update_applies(v: Any, g: Any) -> bool:
    """Whether plain SGD's θ −= η·g may run as that bare operation on NumPy array θ = `v` with
    gradient `g`: nothing to convert (a NumPy array of θ's dtype and shape, a float dtype that
    is not float16, which is updated in float32)."""
    return type(g) is np.ndarray and g.dtype == v.dtype and g.shape == v.shape and \
        v.dtype.kind == "f" and v.dtype != np.float16


class Optimizer:
    """Base class: parameter groups (lists of dicts with hyper-parameters), state, zero_grad.

    Example:
        >>> import diffkit.nn as nn
        >>> opt = nn.SGD(nn.Linear(2, 1).parameters(), lr=0.1)
        >>> opt.param_groups[0]["lr"]
        0.1
    """

    #: the checks a group's hyper-parameters must pass, in the constructor and on loading
    RANGES: ClassVar[dict[str, Range]] = {"lr": ("learning rate", 0.0, None)}

    def __init__(self, params: Iterable[Any], defaults: dict[str, Any]) -> None:
        if isinstance(params, Tensor):  # list(tensor) would be its rows: nothing trains
            raise TypeError("params argument given to the optimizer should be an iterable of "
                            f"Tensors or dicts, but got {type(params).__name__}")
        params = list(params)
        if not params:
            raise ValueError("optimizer got an empty parameter list")
        groups = params if isinstance(params[0], dict) else [{"params": params}]
        self.defaults = defaults
        self.param_groups: list[dict[str, Any]] = []
        self.state: dict[int, dict[str, Any]] = {}  # by position in param_groups order
        for g in groups:
            self.add_param_group(g)

    def add_param_group(self, param_group: dict[str, Any]) -> None:
        """Add a group (PyTorch's): ``{"params": [...], "lr": ...}``, the settings it leaves
        out taken from the optimizer's defaults. Its parameters start without state (the keys
        of :attr:`state` are positions in param_groups order: a group is added at the end)."""
        if not isinstance(param_group, dict) or "params" not in param_group:
            raise TypeError("add_param_group takes a dict with a 'params' entry, got "
                            f"{type(param_group).__name__}")
        params = param_group["params"]
        group = {**self.defaults, **param_group,
                 "params": [params] if isinstance(params, Tensor) else list(params)}
        for k in [k for k, v in self.defaults.items() if type(v) is bool]:
            group[k] = _flag(k, group[k])
        self.validate(group)  # a group's own values too
        for p in group["params"]:  # PyTorch's checks: a frozen leaf is fine (no .grad, no step)
            if type(p) is not Tensor:
                raise TypeError("optimizer can only optimize Tensors, but one of the params "
                                f"is {type(p).__name__}")
            if p.node.prim is not None:
                raise ValueError("can't optimize a non-leaf Tensor (one computed from others): "
                                 "pass the leaves, e.g. model.parameters()")
        held = [p for g in self.param_groups for p in g["params"]] + group["params"]
        if len({id(p) for p in held}) < len(held):  # it would be updated twice a step
            raise ValueError("optimizer got the same parameter more than once (tied weights?): "
                             "list each once, e.g. model.parameters()")
        self.param_groups.append(group)

    def validate(self, group: dict[str, Any]) -> None:
        """Refuse the hyper-parameters the constructor refuses (each in :attr:`RANGES`, where
        `group` has it): ValueError ``Invalid learning rate: nan``."""
        for key, (name, low, high) in self.RANGES.items():
            if key in group:
                _check(name, group[key], low, high)

    def _params(self) -> Iterable[tuple[int, dict[str, Any], Tensor]]:
        i = 0
        for group in self.param_groups:
            for p in group["params"]:
                yield i, group, p
                i += 1

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Clear the gradients of all parameters (set to None, or to zeros)."""
        for group in self.param_groups:  # (not _params: every step calls this)
            for p in group["params"]:
                if set_to_none or p.grad is None:
                    p.grad = None
                else:
                    p.grad = array_namespace(p.value).zeros_like(p.value)

    def step(self) -> None:
        """One update θ ← s·θ − Δ of every parameter that has a gradient (s = 1 but for
        AdamW's decoupled decay), written into θ where no one else can see it. A float16 θ is
        updated in float32 (its state too) and rounded once: ε = 1e-8 is 0 in float16, and
        m/(√v + ε) of a zero gradient was 0/0. A gradient or state whose shape is not its
        parameter's is a ShapeError before any parameter changes (so a step retried after the
        fix updates each parameter once). A complex θ is updated as PyTorch's: the rule runs on
        real views, θ as pairs (Re, Im) and g as those of conj(.grad) (diffkit's .grad is the
        conjugate of the ascent direction, see docs/design.md), its state kept so."""
        self._check_fits()
        state, delta, i = self.state, self._delta, -1
        for group in self.param_groups:
            shrink = self._shrink(group)
            lr = self._plain_rate(group)
            for p in group["params"]:
                i += 1  # the state's key: the position in param_groups order (as _params)
                g = p.grad
                if g is None:
                    continue
                alone = writable_alone(p)  # asked before this frame holds the node or the array
                if lr is not None and alone:
                    # θ ← θ − η g in place, the general path's own operations without its
                    # bookkeeping, where nothing needs converting (float32/64, same dtype and
                    # shape as θ; NumPy arrays that only θ's node holds)
                    v = p.node.value
                    if plain_update_applies(v, g):
                        if i not in state:
                            state[i] = {}
                        v -= lr * g
                        continue
                v = p.node.value
                xp = np if type(v) is np.ndarray else array_namespace(v)
                if type(g) is not type(v) or g.dtype != v.dtype or g.shape != v.shape:
                    g = xp.asarray(g).astype(v.dtype)  # its shape is v's (checked above)
                s = state.get(i)
                if s is None:
                    s = state[i] = {}
                work = working_dtype(v.dtype)
                w = v if work == v.dtype else v.astype(work)  # a float32 copy: ours alone
                g = g if w is v else g.astype(work)
                cplx = work.kind == "c"
                if cplx:  # the rule on real views (PyTorch's): θ's own memory where alone
                    w, g = real_view(w if alone else w.copy()), real_view(xp.conj(g))
                d = delta(xp, w, g, s, group)
                if alone or w is not v:  # the same operations as below, written into w
                    if shrink != 1.0:
                        w *= shrink
                    for term in d if type(d) is tuple else (d,):
                        w -= term
                    if w is v or (cplx and alone and v.flags.c_contiguous):  # θ's view
                        continue
                    if cplx:
                        w = complex_view(xp, w)
                    if alone:
                        v[...] = w  # the float32 θ rounded once to float16
                    else:
                        set_leaf_value(p, w.astype(v.dtype))
                    continue
                new = v * shrink if shrink != 1.0 else v
                for term in d if type(d) is tuple else (d,):
                    new = new - term
                set_leaf_value(p, new if new.dtype == v.dtype else new.astype(v.dtype))

    def _check_fits(self) -> None:
        """Refuse, before any update, a gradient or state whose shape is not its parameter's
        (:func:`check_grad`, :func:`check_state`): a few comparisons per parameter. A method of
        its own: a name left in step's frame would hold θ's array, which is then not updated in
        place (:func:`~diffkit.tensor.writable_alone`)."""
        state, i = self.state, -1
        for group in self.param_groups:
            for p in group["params"]:
                i += 1
                g = p.grad
                if g is not None:
                    v = p.node.value
                    if type(g) is not type(v) or g.shape != v.shape:
                        check_grad(i, p, g)
                    s = state.get(i)
                    if s:
                        shape = v.shape if v.dtype.kind != "c" else (*v.shape, 2)  # state_shape
                        for x in s.values():  # a number's "shape" passes
                            if getattr(x, "shape", shape) != shape:
                                check_state(i, shape, s)  # names it (or passes a 0-d counter)
                                break

    def plain_layout(self, params: list[Tensor]) -> list[tuple[int, int] | None]:
        """Where each of `params` sits in this optimizer: (its group's index, its key in
        :attr:`state`), None for one it does not hold. Read once per epoch by a training step
        that prints plain SGD into its generated code (see :meth:`plain_rates`)."""
        where: dict[int, tuple[int, int]] = {}
        key = 0
        for g, group in enumerate(self.param_groups):
            for p in group["params"]:
                where[id(p)] = g, key
                key += 1
        return [where.get(id(p)) for p in params]

    def plain_rates(self, layout: list[tuple[int, int] | None]) -> list[Any] | None:
        """Per parameter of a :meth:`plain_layout`, its η where every group's update is plain
        θ ← θ − η·g (SGD without momentum or weight decay), None for one this optimizer does
        not hold; None where some group's update is not plain. Read per step: a scheduler
        changes the rates."""
        rates = [self._plain_rate(group) for group in self.param_groups]
        if any(r is None for r in rates):
            return None
        return [None if at is None else rates[at[0]] for at in layout]

    def _plain_rate(self, group: dict[str, Any]) -> Any:
        """η where the group's update is θ ← θ − η·g (no state, no shrink), else None."""
        return group["lr"] if self._plain(group) and self._shrink(group) == 1.0 else None

    def stepped_plain(self, layout: list[tuple[int, int] | None], params: list[Tensor]) -> None:
        """What :meth:`step`'s plain update leaves in :attr:`state` for each parameter of
        `params` (laid out as `layout`) that it updated (one with a gradient): an empty entry."""
        state = self.state
        for at, p in zip(layout, params, strict=True):
            if at is not None and at[1] not in state and p.grad is not None:
                state[at[1]] = {}

    def _shrink(self, group: dict[str, Any]) -> float:
        """s in θ ← s·θ − Δ: 1 but for decoupled weight decay."""
        return 1.0

    def _plain(self, group: dict[str, Any]) -> bool:
        """Whether Δ is η·g for this group, with no state (plain SGD): the step's fast path."""
        return False

    def _delta(self, xp: Any, p: Any, g: Any, state: dict[str, Any], group: dict[str, Any]
               ) -> Any:
        """Δ in θ ← s·θ − Δ for parameter value `p` and gradient `g` (a tuple of terms is
        subtracted in its order); updates this parameter's `state` (not `p`)."""
        raise NotImplementedError

    def state_dict(self) -> dict[str, Any]:
        """Hyper-parameters and per-parameter state (NumPy copies), for checkpoints."""
        hyper, first = [], 0  # each group's parameters by number (PyTorch's "params"): a
        for g in self.param_groups:  # state loads only into groups of the same sizes
            hyper.append({**{k: v for k, v in g.items() if k != "params"},
                          "params": list(range(first, first + len(g["params"])))})
            first += len(g["params"])
        state = {i: {k: (np.array(to_numpy(v)) if hasattr(v, "shape") else v) for k, v in s.items()}
                 for i, s in self.state.items()}
        return {"param_groups": hyper, "state": state}

    def load_state_dict(self, sd: dict[str, Any]) -> None:
        """Restore what :meth:`state_dict` saved (onto the parameters' device). The saved state
        must fit these parameters (their number and each state array's shape): a ValueError
        names the first one that does not, rather than giving one parameter another's momentum."""
        params = [p for _, _, p in self._params()]
        if len(sd["param_groups"]) != len(self.param_groups):
            raise ValueError(f"optimizer state for {len(sd['param_groups'])} parameter groups, "
                             f"this optimizer has {len(self.param_groups)}")
        outside = [i for i in sd["state"] if not 0 <= int(i) < len(params)]
        if outside:
            raise ValueError(f"optimizer state for parameter {outside[0]}, this optimizer has "
                             f"{len(params)} parameters")
        loaded = {int(i): {k: _state_value(i, k, v, params[int(i)]) for k, v in s.items()}
                  for i, s in sd["state"].items()}
        groups, first = [], 0
        for i, (g, saved) in enumerate(zip(self.param_groups, sd["param_groups"])):
            groups.append(self._loaded_group(i, g, saved, range(first, first + len(g["params"]))))
            first += len(g["params"])
        for g, new in zip(self.param_groups, groups):
            g.update(new)
        device = "cpu"
        for _, _, p in self._params():
            device = "cpu" if array_namespace(p.value) is np else "cuda"
            break
        self.state = {i: {k: (to_device(v, device) if hasattr(v, "shape") else v)
                          for k, v in s.items()} for i, s in loaded.items()}


    def _loaded_group(self, i: int, group: dict[str, Any], saved: Any, numbers: range
                      ) -> dict[str, Any]:
        """The saved hyper-parameters of `group` (number `i`, holding the parameters
        `numbers`), checked as the constructor checks them: a checkpoint with lr = NaN,
        without a momentum, or whose group held other parameters (its ``params``: their
        numbers; a state saved before diffkit kept them has none) is refused before anything
        changes."""
        if type(saved) is not dict:
            raise ValueError(f"optimizer state: parameter group {i} is a {type(saved).__name__}, "
                             "not a dict of hyper-parameters")
        needed = [k for k in group if k in self.defaults or k in self.RANGES]
        missing = [k for k in needed if k not in saved]
        if missing:
            raise ValueError(f"optimizer state: parameter group {i} lacks {', '.join(missing)}")
        saved = dict(saved)
        held = saved.pop("params", None)
        if held is not None and (not isinstance(held, list | tuple) or len(held) != len(numbers)
                                 or any(type(n) is not int or n != m
                                        for n, m in zip(held, numbers))):
            size = len(held) if isinstance(held, list | tuple) else held
            raise ValueError(f"optimizer state: parameter group {i} was saved with "
                             f"{_plural(size)} ({held!r:.60}), this optimizer's holds "
                             f"{_plural(len(numbers))} (numbers {list(numbers)!r:.60}): the "
                             "groups are arranged differently")
        flags = [k for k in needed if type(group[k]) is bool and type(saved[k]) is not bool]
        if flags:
            raise ValueError(f"optimizer state: parameter group {i}: {flags[0]} must be True or "
                             f"False, got {saved[flags[0]]!r}")
        merged = {**group, **saved}
        try:
            self.validate(merged)
            if "initial_lr" in saved:  # a scheduler's base rate: a learning rate too
                _check("initial learning rate", saved["initial_lr"])
        except ValueError as e:
            raise ValueError(f"optimizer state: parameter group {i}: {e}") from e
        return saved


class SGD(Optimizer):
    """SGD with momentum, dampening, Nesterov and weight decay (PyTorch's formulation):
    b ← μ b + (1 − τ) g,  then θ ← θ − η (g + μ b) with Nesterov, θ ← θ − η b without.
    Under a constant gradient the step tends to η g / (1 − μ): the seeds' terminal velocity.

    Example:
        >>> import diffkit.nn as nn
        >>> opt = nn.SGD(nn.Linear(2, 1).parameters(), lr=0.01, momentum=0.9, nesterov=True)
    """

    RANGES: ClassVar[dict[str, Range]] = {
        **Optimizer.RANGES, "momentum": ("momentum value", 0.0, None),
        "dampening": ("dampening value", 0.0, None),
        "weight_decay": ("weight_decay value", 0.0, None)}

    def __init__(self, params: Iterable[Any], lr: float = 1e-3, momentum: float = 0.0,
                 dampening: float = 0.0, weight_decay: float = 0.0, nesterov: bool = False) -> None:
        defaults = {"lr": lr, "momentum": momentum, "dampening": dampening,
                    "weight_decay": weight_decay, "nesterov": _flag("nesterov", nesterov)}
        self.validate(defaults)
        super().__init__(params, defaults)

    def validate(self, group: dict[str, Any]) -> None:
        """The ranges, and Nesterov needs μ > 0 and zero dampening."""
        super().validate(group)
        if group.get("nesterov") and (group.get("momentum", 0.0) <= 0
                                      or group.get("dampening", 0.0) != 0):
            raise ValueError("Nesterov momentum requires a momentum and zero dampening")

    def _plain(self, group: dict[str, Any]) -> bool:
        return not group["weight_decay"] and not group["momentum"]

    def _delta(self, xp: Any, p: Any, g: Any, state: dict[str, Any], group: dict[str, Any]) -> Any:
        if group["weight_decay"]:
            g = g + group["weight_decay"] * p
        mu = group["momentum"]
        if mu:
            buf = state.get("momentum_buffer")
            buf = g.copy() if buf is None else mu * buf + (1 - group["dampening"]) * g
            state["momentum_buffer"] = buf
            g = g + mu * buf if group["nesterov"] else buf
        return group["lr"] * g


class RMSprop(Optimizer):
    """s ← α s + (1 − α) g²;  θ ← θ − η g / (√s + ε) (optionally centered, with momentum).

    Example:
        >>> import diffkit.nn as nn
        >>> opt = nn.RMSprop(nn.Linear(2, 1).parameters(), lr=0.01, alpha=0.99)
    """

    RANGES: ClassVar[dict[str, Range]] = {
        **Optimizer.RANGES, "alpha": ("alpha value", 0.0, None),
        "eps": ("epsilon value", 0.0, None), "momentum": ("momentum value", 0.0, None),
        "weight_decay": ("weight_decay value", 0.0, None)}

    def __init__(self, params: Iterable[Any], lr: float = 1e-2, alpha: float = 0.99,
                 eps: float = 1e-8, weight_decay: float = 0.0, momentum: float = 0.0,
                 centered: bool = False) -> None:
        defaults = {"lr": lr, "alpha": alpha, "eps": eps, "momentum": momentum,
                    "weight_decay": weight_decay, "centered": _flag("centered", centered)}
        self.validate(defaults)
        super().__init__(params, defaults)

    def _delta(self, xp: Any, p: Any, g: Any, state: dict[str, Any], group: dict[str, Any]) -> Any:
        if group["weight_decay"]:
            g = g + group["weight_decay"] * p
        a = group["alpha"]
        sq = a * state.get("square_avg", 0.0) + (1 - a) * g * g
        state["square_avg"] = sq
        if group["centered"]:
            ga = a * state.get("grad_avg", 0.0) + (1 - a) * g
            state["grad_avg"] = ga
            sq = sq - ga * ga
        step = g / (xp.sqrt(sq) + group["eps"])
        if group["momentum"]:
            step = group["momentum"] * state.get("momentum_buffer", 0.0) + step
            state["momentum_buffer"] = step
        return group["lr"] * step


class Adagrad(Optimizer):
    """G ← G + g²;  θ ← θ − η_t g / (√G + ε) with η_t = η / (1 + (t − 1)·lr_decay).

    Example:
        >>> import diffkit.nn as nn
        >>> opt = nn.Adagrad(nn.Linear(2, 1).parameters(), lr=0.01)
    """

    RANGES: ClassVar[dict[str, Range]] = {
        **Optimizer.RANGES, "lr_decay": ("lr_decay value", 0.0, None),
        "weight_decay": ("weight_decay value", 0.0, None),
        "initial_accumulator_value": ("initial_accumulator_value", 0.0, None),
        "eps": ("epsilon value", 0.0, None)}

    def __init__(self, params: Iterable[Any], lr: float = 1e-2, lr_decay: float = 0.0,
                 weight_decay: float = 0.0, initial_accumulator_value: float = 0.0,
                 eps: float = 1e-10) -> None:
        defaults = {"lr": lr, "lr_decay": lr_decay, "weight_decay": weight_decay,
                    "initial_accumulator_value": initial_accumulator_value, "eps": eps}
        self.validate(defaults)
        super().__init__(params, defaults)

    def _delta(self, xp: Any, p: Any, g: Any, state: dict[str, Any], group: dict[str, Any]) -> Any:
        if group["weight_decay"]:
            g = g + group["weight_decay"] * p
        t = state["step"] = state.get("step", 0) + 1
        acc = state.get("sum", group["initial_accumulator_value"]) + g * g
        state["sum"] = acc
        clr = group["lr"] / (1 + (t - 1) * group["lr_decay"])
        return clr * g / (xp.sqrt(acc) + group["eps"])


class Adadelta(Optimizer):
    """Zeiler's Adadelta: Δ = √(u + ε)/√(s + ε) · g with running averages s of g² and u of Δ².

    Example:
        >>> import diffkit.nn as nn
        >>> opt = nn.Adadelta(nn.Linear(2, 1).parameters(), rho=0.9)
    """

    RANGES: ClassVar[dict[str, Range]] = {
        **Optimizer.RANGES, "rho": ("rho value", 0.0, 1.0 + 1e-12),
        "eps": ("epsilon value", 0.0, None),
        "weight_decay": ("weight_decay value", 0.0, None)}

    def __init__(self, params: Iterable[Any], lr: float = 1.0, rho: float = 0.9,
                 eps: float = 1e-6, weight_decay: float = 0.0) -> None:
        defaults = {"lr": lr, "rho": rho, "eps": eps, "weight_decay": weight_decay}
        self.validate(defaults)
        super().__init__(params, defaults)

    def _delta(self, xp: Any, p: Any, g: Any, state: dict[str, Any], group: dict[str, Any]) -> Any:
        if group["weight_decay"]:
            g = g + group["weight_decay"] * p
        rho, eps = group["rho"], group["eps"]
        acc = state.get("acc_delta")
        if acc is None:  # zeros in the parameter's dtype: √(0.0 + ε) would be a float64 scalar
            acc = xp.zeros_like(p)
        sq = rho * state.get("square_avg", 0.0) + (1 - rho) * g * g
        delta = xp.sqrt(acc + eps) / xp.sqrt(sq + eps) * g
        state["square_avg"] = sq
        state["acc_delta"] = rho * acc + (1 - rho) * delta * delta
        return group["lr"] * delta


class Adam(Optimizer):
    """m ← β₁m + (1−β₁)g, v ← β₂v + (1−β₂)g², θ ← θ − η m̂ / (√v̂ + ε) with bias corrections
    m̂ = m/(1−β₁ᵗ), v̂ = v/(1−β₂ᵗ) (momentum + RMSprop).

    Example:
        >>> import diffkit.nn as nn
        >>> opt = nn.Adam(nn.Linear(2, 1).parameters(), lr=1e-3, betas=(0.9, 0.999))
    """

    decoupled = False

    RANGES: ClassVar[dict[str, Range]] = {
        **Optimizer.RANGES, "eps": ("epsilon value", 0.0, None),
        "weight_decay": ("weight_decay value", 0.0, None)}

    def __init__(self, params: Iterable[Any], lr: float = 1e-3,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0.0, amsgrad: bool = False) -> None:
        defaults = {"lr": lr, "eps": eps, "betas": _pair("betas", betas),
                    "weight_decay": weight_decay, "amsgrad": _flag("amsgrad", amsgrad)}
        self.validate(defaults)
        super().__init__(params, defaults)

    def validate(self, group: dict[str, Any]) -> None:
        """The ranges, and betas: two coefficients in [0, 1)."""
        super().validate(group)
        _pair("betas", group.get("betas", (0.0, 0.0)))

    def _moments(self, g: Any, state: dict[str, Any], group: dict[str, Any]) -> tuple[Any, Any, int]:
        b1, b2 = group["betas"]
        t = state["step"] = state.get("step", 0) + 1
        m = state["exp_avg"] = b1 * state.get("exp_avg", 0.0) + (1 - b1) * g
        v = state["exp_avg_sq"] = b2 * state.get("exp_avg_sq", 0.0) + (1 - b2) * g * g
        return m, v, t

    def _delta(self, xp: Any, p: Any, g: Any, state: dict[str, Any], group: dict[str, Any]) -> Any:
        lr, wd = group["lr"], group["weight_decay"]
        if wd and not self.decoupled:
            g = g + wd * p
        m, v, t = self._moments(g, state, group)
        b1, b2 = group["betas"]
        if group["amsgrad"]:
            v = state["max_exp_avg_sq"] = xp.maximum(state.get("max_exp_avg_sq", v), v)
        denom = xp.sqrt(v / (1 - b2**t)) + group["eps"]
        return (lr / (1 - b1**t)) * m / denom

    def _shrink(self, group: dict[str, Any]) -> float:
        """AdamW's decoupled weight decay: θ ← θ·(1 − ηλ) before the Adam step."""
        wd = group["weight_decay"]
        return 1 - group["lr"] * wd if wd and self.decoupled else 1.0


class AdamW(Adam):
    """Adam with decoupled weight decay: θ ← θ(1 − η λ) before the Adam step (Loshchilov & Hutter).

    Example:
        >>> import diffkit.nn as nn
        >>> opt = nn.AdamW(nn.Linear(2, 1).parameters(), lr=1e-3, weight_decay=1e-2)
    """

    decoupled = True

    def __init__(self, params: Iterable[Any], lr: float = 1e-3,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 1e-2, amsgrad: bool = False) -> None:
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad)


class NAdam(Adam):
    """Adam with Nesterov momentum (Dozat), PyTorch's schedule μₜ = β₁(1 − ½·0.96^(t·ψ)).

    Example:
        >>> import diffkit.nn as nn
        >>> opt = nn.NAdam(nn.Linear(2, 1).parameters(), lr=2e-3)
    """

    RANGES: ClassVar[dict[str, Range]] = {
        **Adam.RANGES, "momentum_decay": ("momentum_decay value", 0.0, None)}

    def __init__(self, params: Iterable[Any], lr: float = 2e-3,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0.0, momentum_decay: float = 4e-3) -> None:
        self.validate({"momentum_decay": momentum_decay})
        super().__init__(params, lr, betas, eps, weight_decay)
        for g in self.param_groups:
            g.setdefault("momentum_decay", momentum_decay)

    def _delta(self, xp: Any, p: Any, g: Any, state: dict[str, Any], group: dict[str, Any]) -> Any:
        if group["weight_decay"]:
            g = g + group["weight_decay"] * p
        m, v, t = self._moments(g, state, group)
        b1, b2 = group["betas"]
        psi = group["momentum_decay"]
        mu = b1 * (1 - 0.5 * 0.96 ** (t * psi))
        mu_next = b1 * (1 - 0.5 * 0.96 ** ((t + 1) * psi))
        prod = state["mu_product"] = state.get("mu_product", 1.0) * mu
        denom = xp.sqrt(v / (1 - b2**t)) + group["eps"]
        lr = group["lr"]
        return ((lr * (1 - mu) / (1 - prod)) * g / denom,
                (lr * mu_next / (1 - prod * mu_next)) * m / denom)


def _grads(parameters: Tensor | Iterable[Tensor]) -> list[tuple[int, Tensor, Any]]:
    """Those of `parameters` (one Tensor or an iterable, as PyTorch's clip functions take) that
    have a gradient, each with its position and the gradient as an array (a Python number of a
    0-d one too); every shape is checked (:func:`check_grad`) before any gradient changes."""
    out = []
    for i, p in enumerate([parameters] if type(parameters) is Tensor else list(parameters)):
        g = p.grad
        if g is not None:
            check_grad(i, p, g)
            out.append((i, p, g if hasattr(g, "dtype") else array_namespace(p.value).asarray(g)))
    return out


def clip_grad_norm_(parameters: Tensor | Iterable[Tensor], max_norm: float, norm_type: float = 2.0,
                    error_if_nonfinite: bool = False) -> float:
    """Scale all gradients together so their joint norm is at most `max_norm`; returns the norm
    before clipping (the remedy for exploding gradients). As in PyTorch, the norm is taken of
    each gradient, then of those norms: the same for every order but ``norm_type=0``, where
    PyTorch's answer (kept here) is the number of parameters whose gradient has an entry that
    is not 0. A norm that is NaN or infinite scales every gradient by its NaN or 0 coefficient
    as in PyTorch (the others unclipped would take a full step), or with `error_if_nonfinite`
    is a NumericOverflowError.

    Example:
        >>> import diffkit.nn as nn, numpy as np
        >>> p = nn.Parameter(np.zeros(2, np.float32)); p.grad = np.array([3.0, 4.0], np.float32)
        >>> nn.clip_grad_norm_([p], 1.0), [round(g, 4) for g in p.grad.tolist()]
        (5.0, [0.6, 0.8])
    """
    grads = _grads(parameters)
    if not grads:
        return 0.0
    xp = array_namespace(grads[0][2])
    if math.isinf(norm_type):  # ord ±inf: the largest or the smallest |entry|
        pick = max if norm_type > 0 else min
        norms = [float(getattr(xp.abs(g), pick.__name__)()) for _, _, g in grads]
        total = math.nan if any(math.isnan(n) for n in norms) else pick(norms)  # skips NaN
    elif norm_type == 0:  # ord 0 per gradient (entries ≠ 0), then of those counts (≠ 0)
        total = float(sum(bool(xp.count_nonzero(g)) for _, _, g in grads))
    else:  # a negative order's |0|^p is inf, its norm 0, as PyTorch's (no warning either)
        with np.errstate(divide="ignore", over="ignore"):
            power = math.fsum(_power_sum(xp, g, norm_type) for _, _, g in grads)
            # Σ 0 of a negative order (every entry ±inf): a norm of inf, as PyTorch's
            total = float(np.float64(power) ** (1 / norm_type))
    if all(g.dtype == np.float16 for _, _, g in grads):
        total = float(np.float16(total))  # PyTorch's half-precision norm, rounded so (inf > 65504)
    if error_if_nonfinite and not math.isfinite(total):
        bad = next((i for i, _, g in grads if not bool(xp.isfinite(g).all())), None)
        why = (f" (the gradient of parameter {bad} holds NaN or inf): lower the learning rate "
               "or find the NaN's source" if bad is not None else
               f" (no gradient is NaN or inf: the norm itself overflowed {grads[0][2].dtype}): "
               "scale the loss down or clip by value first")
        raise NumericOverflowError(
            f"the total norm of order {norm_type} of the gradients is {total}, so they cannot "
            f"be clipped{why}, or pass error_if_nonfinite=False to scale the gradients by the "
            "non-finite norm anyway")
    scale = max_norm / (total + 1e-6)
    if not scale >= 1:  # NaN too: PyTorch's clamp(max=1) keeps it, and it poisons every gradient
        for _, p, g in grads:
            p.grad = xp.asarray(g * xp.asarray(scale, dtype=g.dtype))  # 0-d stays an array
    return total


def _power_sum(xp: Any, g: Any, p: float) -> float:
    """Σ|g|^p of one gradient; a float16 one summed in float32 and its norm rounded to float16,
    as PyTorch's half-precision norms accumulate (|300|² is no float16 number), then raised to
    p again for the norm of the norms."""
    if g.dtype != np.float16:
        return float((xp.abs(g) ** p).sum())
    norm = float(np.float16(float(np.float64((xp.abs(g.astype(np.float32)) ** p).sum()) ** (1 / p))))
    return norm ** p if norm else (math.inf if p < 0 else 0.0)  # a norm rounded to 0 too


def clip_grad_value_(parameters: Tensor | Iterable[Tensor], clip_value: float) -> None:
    """Clamp every gradient element to [−clip_value, clip_value] (a complex gradient is a
    MissingRuleError, as PyTorch's clamp refuses it).

    Example:
        >>> import diffkit.nn as nn, numpy as np
        >>> p = nn.Parameter(np.zeros(2, np.float32)); p.grad = np.array([3.0, -0.5], np.float32)
        >>> nn.clip_grad_value_([p], 1.0); p.grad.tolist()
        [1.0, -0.5]
    """
    grads = _grads(parameters)
    for i, _, g in grads:  # before any gradient changes
        if g.dtype.kind == "c":  # np.clip would order complex numbers lexicographically
            raise MissingRuleError(
                f"clip_grad_value_: the gradient of parameter {i} is complex ({g.dtype}), and "
                "complex numbers have no order to clamp by (PyTorch refuses too): use "
                "clip_grad_norm_, or clip p.grad.real and p.grad.imag yourself")
    for _, p, g in grads:
        xp = array_namespace(g)
        p.grad = xp.asarray(xp.clip(g, -clip_value, clip_value))  # 0-d stays an array
