"""Module and Parameter: containers of trainable Tensors on the eager tape, PyTorch-style.

A parameter is an ordinary leaf :class:`~diffkit.ir.Tensor` with ``requires_grad=True`` (or one
made by :func:`Parameter`, frozen ones too); assigning one to a module attribute registers it.
``loss.backward()`` runs diffkit's reverse engine and fills ``p.grad``. :func:`assign_` gives the tensor a fresh leaf node (IR nodes stay immutable), which is
what initialisers use; optimizers write their update into the value array instead only where no
one else can see it (:func:`~diffkit.tensor.writable_alone`), which gives the same numbers.
"""

from __future__ import annotations

import weakref
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from threading import get_ident
from typing import Any, NamedTuple

import numpy as np

from ..backend import array_namespace, device_module, to_device, to_numpy
from ..errors import DiffkitError
from ..tensor import NO_GRAD_THREADS, Tensor, grad_enabled, set_leaf_value, tensor

_RNG = {"gen": np.random.default_rng(0)}


def manual_seed(seed: int) -> None:
    """Seed the generator that initialisers, dropout and DropConnect draw from.

    Example:
        >>> import diffkit.nn as nn
        >>> nn.manual_seed(0)
    """
    _RNG["gen"] = np.random.default_rng(seed)


def get_rng() -> np.random.Generator:
    """The module-wide NumPy generator (host side, so CPU and GPU runs draw the same numbers)."""
    return _RNG["gen"]


@contextmanager
def no_grad() -> Iterator[None]:
    """Record nothing on the eager tape (PyTorch's ``torch.no_grad``): inside the block every
    result is a new leaf that requires no grad and holds no graph, in modules and outside them,
    also when its operands require grad. Parameters stay Tensors (``p.exp()`` works in a
    forward), and ``lin.weight *= 0.5`` updates the parameter through the Tensor's in-place
    path (graphs recorded before keep their values). Traced functions are not affected: a
    ``dk.grad`` inside the block still differentiates. Per thread, as PyTorch's: other threads
    keep recording.

    Example:
        >>> import diffkit.nn as nn, numpy as np
        >>> with nn.no_grad():
        ...     nn.Linear(2, 1)(np.ones((1, 2), np.float32)).requires_grad
        False
    """
    me = get_ident()
    if me in NO_GRAD_THREADS:  # nested: the outermost block turns gradients back on
        yield
        return
    NO_GRAD_THREADS.add(me)
    try:
        yield
    finally:
        NO_GRAD_THREADS.discard(me)


def is_grad_enabled() -> bool:
    """False inside :func:`no_grad` (in this thread)."""
    return grad_enabled()


def Parameter(data: Any, requires_grad: bool = True, name: str = "param") -> Tensor:
    """A trainable leaf Tensor (PyTorch's ``nn.Parameter``); assigning it to a Module registers it,
    also a frozen one (``requires_grad=False``: listed, saved and loaded, trained once unfrozen).

    Example:
        >>> import diffkit.nn as nn, numpy as np
        >>> nn.Parameter(np.zeros(3, np.float32)).requires_grad
        True
    """
    value = data.value if type(data) is Tensor else data
    if not hasattr(value, "shape"):
        value = np.asarray(value, dtype=np.float32)
    p = tensor(value, requires_grad=requires_grad, name=name)
    _PARAMETERS[id(p)] = p
    return p


#: the Tensors made by :func:`Parameter`, by id (weak: a parameter dies with its last user), so
#: that a frozen one registers as a parameter where a plain constant leaf does not
_PARAMETERS: weakref.WeakValueDictionary[int, Tensor] = weakref.WeakValueDictionary()


def _is_parameter(value: Any) -> bool:
    """What assigning `value` to a Module attribute registers as a parameter: a leaf Tensor that
    requires grad, or one made by :func:`Parameter` (frozen ones too, as in PyTorch)."""
    return type(value) is Tensor and value.node.prim is None and (
        value.requires_grad or _PARAMETERS.get(id(value)) is value)


def assign_(t: Tensor, value: Any) -> Tensor:
    """Give leaf tensor `t` a new value (a fresh immutable leaf node); keeps ``.grad``."""
    return set_leaf_value(t, value)


def value_of(x: Any) -> Any:
    """The array inside a Tensor (the argument itself otherwise)."""
    return x.node.value if type(x) is Tensor else x


#: where a Module keeps its named entries
TABLES = ("_parameters", "_buffers", "_modules")
#: what every Module holds in its own ``__dict__``: no entry may take one of these names
#: (``m._parameters = nn.Parameter(…)`` would replace the table of parameters itself)
RESERVED_NAMES = (*TABLES, "training")


class ModuleNameError(DiffkitError, KeyError):
    """A name a Module cannot give a parameter, buffer or submodule (PyTorch's KeyError): one
    holding ".", which joins the names of the qualified ones (``"a.weight"`` is the weight of
    submodule ``a``, so a parameter of that name would be saved over it), the empty name, a
    Module's own attribute (``_parameters``, ``training``), or one already taken; and two
    entries that would get the same qualified name in a state dict."""

    def __str__(self) -> str:  # the message, without the quotes KeyError's str adds
        return str(self.args[0]) if self.args else ""


class ModuleNameTypeError(ModuleNameError, TypeError):
    """A name that is not a str (PyTorch's TypeError)."""


def check_name(kind: str, name: Any, module: Module | None = None) -> None:
    """Refuse, by name, a name that `kind` (parameter, buffer, module) cannot have; with
    `module`, also one that is taken there by anything but its parameters, buffers and
    submodules (PyTorch's "attribute 'forward' already exists"): an attribute of its class (a
    method, a property: ``m.forward`` would still read the method, the parameter being only in
    the state dict), or for a buffer one of its own (a setting such as ``eps``); an assignment
    (``m.scale = Parameter(...)``) replaces an attribute of the instance, as PyTorch's does. An
    attribute holding None is a place for one (``self.bias = None`` before a Parameter).

    Example:
        >>> from diffkit.nn.module import check_name
        >>> check_name("parameter", "weight")
        >>> try:
        ...     check_name("parameter", "a.weight")
        ... except KeyError as e:
        ...     print(type(e).__name__)
        ModuleNameError
    """
    if not isinstance(name, str):
        raise ModuleNameTypeError(f"{kind} name should be a string, got "
                                  f"{type(name).__name__} {name!r:.60}")
    if "." in name:
        raise ModuleNameError(
            f'{kind} name can\'t contain ".", got {name!r} ("." joins the names in a qualified '
            'name: "a.weight" is the weight of submodule a, and a state dict would hold one of '
            "the two)")
    if not name:
        raise ModuleNameError(f'{kind} name can\'t be empty string ""')
    if name in RESERVED_NAMES:
        raise ModuleNameError(f"{kind} name can't be {name!r}: every Module holds its own "
                              f"{name!r} (use another name)")
    if module is None or any(name in module.__dict__[table] for table in TABLES):
        return  # a parameter, buffer or submodule is replaced
    held = module.__dict__.get(name) if kind == "buffer" else None  # (an assignment replaces
    # an attribute of the instance, as PyTorch's setattr does; register_buffer refuses it, as
    # PyTorch's)
    if held is None:
        held = getattr(type(module), name, None)
        where = f"an attribute of class {type(module).__name__}"
    else:
        where = f"an attribute of this {type(module).__name__}"
    if held is not None:
        what = ("a method" if callable(held) else "a property" if isinstance(held, property)
                else f"of type {type(held).__name__}")
        raise ModuleNameError(f"attribute {name!r} already exists ({where}, {what}): a {kind} "
                              f"named so would be hidden by it or replace it (use another name)")


def _unique_names(module: Module, names: Iterator[str] | list[str]) -> None:
    """A ModuleNameError where two entries of `module` have one qualified name (reached through
    a table written directly, ``m._parameters["a.b"] = p``, or a parameter and a buffer of one
    name): a state dict would hold one of them and lose the other."""
    seen: set[str] = set()
    for k in names:
        if k in seen:
            raise ModuleNameError(
                f"{type(module).__name__}: two entries have the qualified name {k!r}, so a state "
                "dict would hold only one of them; register each under a name of its own, "
                'without ".", by assignment (m.name = ...) or register_buffer')
        seen.add(k)


class Module:
    """Base class of layers and models: parameters, buffers, sub-modules, train/eval mode.

    Example:
        >>> import diffkit.nn as nn
        >>> model = nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 2))
        >>> sum(p.size for p in model.parameters())
        23
    """

    #: buffers a saved state may lack (older checkpoints): kept as they are, also under
    #: ``load_state_dict(strict=True)`` (PyTorch's batch norms: num_batches_tracked)
    optional_buffers: tuple[str, ...] = ()

    def __init__(self) -> None:
        object.__setattr__(self, "_parameters", {})
        object.__setattr__(self, "_buffers", {})
        object.__setattr__(self, "_modules", {})
        object.__setattr__(self, "training", True)

    # ----- attribute registration
    def __setattr__(self, name: str, value: Any) -> None:
        d = self.__dict__
        if "_parameters" not in d:
            raise AttributeError("call super().__init__() before assigning attributes of a Module")
        is_parameter = _is_parameter(value) or (  # `m.p *= 2` assigns the same leaf back
            type(value) is Tensor and d["_parameters"].get(name) is value
            and value.node.prim is None)
        is_module = isinstance(value, Module)
        if is_module or is_parameter:  # checked before anything changes
            check_name("module" if is_module else "parameter", name, self)
        if name in d["_parameters"] and not is_parameter and value is not None:
            # PyTorch's rule too: the layer would silently stop training this weight
            raise TypeError(
                f"cannot assign a {type(value).__name__} to parameter {name!r} of "
                f"{type(self).__name__}: assign an nn.Parameter (or None to remove it); to set "
                f"its values, nn.assign_(module.{name}, values) or load_state_dict")
        # the table the value goes to keeps the name where it is (PyTorch's order: replacing
        # the activation of a Sequential leaves it between its Linears); the others forget it
        keep = "_modules" if is_module else "_parameters" if is_parameter else "_buffers"
        for table in TABLES:
            if name in d[table] and table != keep:
                del d[table][name]
        if is_module:
            d.pop(name, None)
            d["_modules"][name] = value
        elif is_parameter:
            d.pop(name, None)
            d["_parameters"][name] = value
        elif name in d["_buffers"]:
            d["_buffers"][name] = value
        else:
            object.__setattr__(self, name, value)

    def __delattr__(self, name: str) -> None:
        """``del module.name`` removes a parameter, buffer or submodule (PyTorch's), or an
        ordinary attribute."""
        for table in TABLES:
            entries = self.__dict__.get(table, {})
            if name in entries:
                del entries[name]
                return
        super().__delattr__(name)

    def __getattr__(self, name: str) -> Any:
        d = self.__dict__
        params = d.get("_parameters", {})
        if name in params:
            return params[name]  # also under no_grad: the tape records nothing then
        if name in d.get("_buffers", {}):
            return d["_buffers"][name]
        if name in d.get("_modules", {}):
            return d["_modules"][name]
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def __setstate__(self, state: dict[str, Any]) -> None:
        """Unpickling and ``copy.deepcopy``: the copied parameters are parameters too (frozen ones
        included, see :func:`Parameter`)."""
        self.__dict__.update(state)
        for p in state.get("_parameters", {}).values():
            if type(p) is Tensor:
                _PARAMETERS[id(p)] = p

    def register_buffer(self, name: str, value: Any) -> None:
        """A non-trainable array saved in state_dict (e.g. BatchNorm's running mean). A name
        that is taken by a parameter, submodule or attribute is refused, as by PyTorch (a
        parameter and a buffer of one name would share one entry of the state dict).

        Example:
            >>> import diffkit.nn as nn, numpy as np
            >>> m = nn.Module()
            >>> m.register_buffer("mean", np.zeros(3))
            >>> m.state_dict()["mean"]
            array([0., 0., 0.])
        """
        check_name("buffer", name, self)
        if name not in self._buffers and hasattr(self, name):
            raise ModuleNameError(f"attribute {name!r} already exists (buffer names must be new)")
        self._buffers[name] = value

    # ----- traversal
    def named_modules(self, prefix: str = "", remove_duplicate: bool = True
                      ) -> Iterator[tuple[str, Module]]:
        """(qualified name, module) for this module and every descendant, depth first. A module
        reached by two paths (shared, tied) comes once, under its first name, unless
        `remove_duplicate` is False (PyTorch's rule)."""
        stack = [(prefix, self)]
        seen: set[int] = set()
        while stack:
            name, m = stack.pop()
            if remove_duplicate:
                if id(m) in seen:
                    continue
                seen.add(id(m))
            yield name, m
            children = [(f"{name}.{k}" if name else k, c) for k, c in m._modules.items()]
            stack.extend(reversed(children))

    def modules(self) -> Iterator[Module]:
        return (m for _, m in self.named_modules())

    def children(self) -> Iterator[Module]:
        return iter(self._modules.values())

    def named_parameters(self, remove_duplicate: bool = True) -> Iterator[tuple[str, Tensor]]:
        """(qualified name, parameter) pairs, e.g. ``('0.weight', Tensor)``. A parameter shared
        by two modules (tied weights) comes once, under its first name — so an optimizer updates
        it once per step with its whole gradient — unless `remove_duplicate` is False."""
        seen: set[int] = set()
        for mname, m in self.named_modules(remove_duplicate=remove_duplicate):
            for k, p in m._parameters.items():
                if remove_duplicate:
                    if id(p) in seen:
                        continue
                    seen.add(id(p))
                yield (f"{mname}.{k}" if mname else k), p

    def parameters(self) -> list[Tensor]:
        """All trainable tensors (what an optimizer takes), each once."""
        return [p for _, p in self.named_parameters()]

    def named_buffers(self, remove_duplicate: bool = True) -> Iterator[tuple[str, Any]]:
        seen: set[int] = set()
        for mname, m in self.named_modules(remove_duplicate=remove_duplicate):
            for k, b in m._buffers.items():
                if remove_duplicate and b is not None:
                    if id(b) in seen:
                        continue
                    seen.add(id(b))
                yield (f"{mname}.{k}" if mname else k), b

    # ----- modes, gradients, devices
    def train(self, mode: bool = True) -> Module:
        """Training mode (dropout active, batch statistics); returns self."""
        for m in self.modules():
            object.__setattr__(m, "training", mode)
        return self

    def eval(self) -> Module:
        """Evaluation mode (dropout off, running statistics); returns self."""
        return self.train(False)

    def zero_grad(self) -> None:
        """Forget accumulated gradients (``p.grad = None``)."""
        for p in self.parameters():
            p.grad = None

    def to(self, device: str) -> Module:
        """Move parameters (with their ``.grad``, as PyTorch) and buffers to 'cpu' or 'cuda'
        (BackendError without CuPy/GPU)."""
        device_module(device)
        for m in self.modules():
            for p in m._parameters.values():
                assign_(p, to_device(p.value, device))
                if p.grad is not None:
                    p.grad = to_device(p.grad, device)
            for k, b in m._buffers.items():
                if b is not None:
                    m._buffers[k] = to_device(b, device)
        return self

    @property
    def device(self) -> str:
        """'cuda' when the parameters live on a GPU, else 'cpu'."""
        for p in self.parameters():
            return "cpu" if array_namespace(p.value) is np else "cuda"
        return "cpu"

    # ----- state
    def state_dict(self) -> dict[str, np.ndarray]:
        """NumPy copies of every parameter and buffer, by qualified name (a shared one under
        each of its names, as PyTorch saves tied weights)."""
        params = list(self.named_parameters(remove_duplicate=False))
        buffers = list(self.named_buffers(remove_duplicate=False))
        _unique_names(self, [k for k, _ in params + buffers])  # never one value over another
        out = {k: np.array(to_numpy(p.value)) for k, p in params}
        out.update({k: np.array(to_numpy(b)) for k, b in buffers if b is not None})
        return out

    def load_state_dict(self, state: Mapping[str, Any], strict: bool = True) -> IncompatibleKeys:
        """Load values saved by :meth:`state_dict` into the parameters and buffers as they are:
        each keeps its dtype and device (PyTorch's ``copy_``: float64 or int64 values loaded into
        a float32 Linear stay float32) and its shape must match. Everything is checked before
        anything changes; a ValueError names a bad entry. ``strict=True`` (PyTorch's default):
        the keys must be this module's parameters and buffers, exactly — a KeyError names the
        missing and unexpected ones (a missing running mean was silently kept, a misspelt key
        silently ignored); ``strict=False`` loads the entries it has and returns the keys it
        missed and did not use, as PyTorch's ``(missing_keys, unexpected_keys)``."""
        device = self.device
        params = list(self.named_parameters(remove_duplicate=False))
        # a None buffer (BatchNorm's running statistics untracked) is not state, as PyTorch's
        buffers = [(m, k, f"{mname}.{k}" if mname else k)
                   for mname, m in self.named_modules(remove_duplicate=False)
                   for k, b in m._buffers.items() if b is not None]
        names = [*(k for k, _ in params), *(key for _, _, key in buffers)]
        _unique_names(self, names)  # one saved entry cannot load two of them
        own = dict(params)
        known = set(names)
        optional = {key for m, k, key in buffers if k in type(m).optional_buffers}
        result = IncompatibleKeys([k for k in names if k not in state and k not in optional],
                                  [k for k in state if k not in known])
        if strict and (result.missing_keys or result.unexpected_keys):
            parts = [f"{what} key(s): {', '.join(map(repr, keys))}" for what, keys in
                     (("missing", result.missing_keys), ("unexpected", result.unexpected_keys))
                     if keys]
            raise KeyError(f"load_state_dict: {'; '.join(parts)} (strict=False loads the "
                           "entries that match and returns the others)")
        own = {k: p for k, p in own.items() if k in state}
        params = {k: _loadable(k, state[k], p.value) for k, p in own.items()}
        values = {key: _loadable(key, state[key], m._buffers[k])
                  for m, k, key in buffers if key in state}
        for k, p in own.items():
            assign_(p, to_device(params[k], device))
        for m, k, key in buffers:
            if key in values:
                m._buffers[k] = to_device(values[key], device)
        return result

    # ----- calling
    def forward(self, *args: Any) -> Any:
        raise NotImplementedError(f"{type(self).__name__} must define forward()")

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if args and type(args[0]) is list and type(self).__module__.startswith("diffkit.nn"):
            # a built-in layer reads a list as NumPy does (its forward reads .shape: a bare
            # AttributeError, or a Linear reporting an input of shape ())
            args = tuple(np.asarray(a) if type(a) is list else a for a in args)
        return self.forward(*args, **kwargs)

    def extra_repr(self) -> str:
        return ""

    def __repr__(self) -> str:
        lines = [f"{type(self).__name__}({self.extra_repr()}"]
        for k, m in self._modules.items():
            sub = repr(m).replace("\n", "\n  ")
            lines.append(f"  ({k}): {sub}")
        return lines[0] + ")" if len(lines) == 1 else "\n".join(lines) + "\n)"


class IncompatibleKeys(NamedTuple):
    """What :meth:`Module.load_state_dict` did not match (PyTorch's names)."""

    missing_keys: list[str]
    unexpected_keys: list[str]


def _loadable(key: str, saved: Any, current: Any) -> np.ndarray:
    """A host copy of the saved entry (a NumPy or CuPy array) in the dtype of the array it
    replaces (`current`; None: the saved dtype), after checking it is numeric, of its shape."""
    saved = to_numpy(saved)
    kinds = "biufc" if getattr(current, "dtype", np.dtype(complex)).kind == "c" else "biuf"
    if not isinstance(saved, np.ndarray | np.generic) or saved.dtype.kind not in kinds:
        kind = f"an array of dtype {saved.dtype}" if hasattr(saved, "dtype") else (
            f"a {type(saved).__name__}")
        raise ValueError(f"load_state_dict: {key} is {kind}, not a numeric array")
    if not hasattr(current, "shape"):
        return np.array(saved)
    if tuple(saved.shape) != tuple(current.shape):
        raise ValueError(f"load_state_dict: {key} has shape {tuple(saved.shape)}, expected "
                         f"{tuple(current.shape)}")
    return np.array(saved, dtype=current.dtype)


def functional_call(module: Module, params: Mapping[str, Any], *args: Any) -> Any:
    """Run `module` with some parameters replaced by `params` (by qualified name), like
    ``torch.func.functional_call``: lets any engine (forward, fd, …) differentiate a module.

    Example:
        >>> import diffkit as dk, diffkit.nn as nn, numpy as np
        >>> lin = nn.Linear(2, 1)
        >>> f = lambda w: dk.sum(nn.functional_call(lin, {"weight": w}, np.ones((1, 2))))
        >>> dk.grad(f, method="forward")(np.zeros((1, 2)))[0]
        array([[1., 1.]])
    """
    named = list(module.named_parameters(remove_duplicate=False))
    _unique_names(module, [k for k, _ in named])
    table = dict(named)
    swap: dict[int, tuple[str, Any]] = {}  # id(parameter) -> (the name given, its new value)
    for name, value in params.items():
        if name not in table:
            raise KeyError(f"functional_call: {name!r} is not a parameter of {type(module).__name__}")
        first = swap.setdefault(id(table[name]), (name, value))
        if first[1] is not value:
            raise ValueError(f"functional_call: {first[0]!r} and {name!r} are one parameter (tied "
                             "weights): give it one value, under one of its names")
    # every place the parameter is used: a shared module, or one Tensor in two modules
    owners = [(m, k, p) for _, m in module.named_modules() for k, p in m._parameters.items()
              if id(p) in swap]
    try:
        for m, k, p in owners:
            m._parameters[k] = swap[id(p)][1]
        return module(*args)
    finally:
        for m, k, p in owners:
            m._parameters[k] = p


__all__ = ["Module", "ModuleNameError", "ModuleNameTypeError", "Parameter", "assign_", "functional_call", "get_rng", "is_grad_enabled",
           "manual_seed", "no_grad", "value_of"]
