"""Dict inputs for ``dk.grad`` and ``dk.value_and_grad`` (JAX's parameter dicts).

A differentiated input that is a dict — of numbers, arrays, lists NumPy reads as arrays, or
nested dicts of them — is differentiated leaf by leaf: the function is called with dicts of the
same keys holding the traced leaves, and the input's gradient is a dict of the same keys (and
nesting) holding each leaf's gradient, shaped and typed like the leaf. Each call builds the
function of the leaves afresh (a Python function is traced afresh at each call anyway), so
nothing is cached by keys; ``dk.jit`` functions, whose contract is one frozen trace per
signature, keep taking arrays and numbers only.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from .errors import InputTypeError
from .function import Function, as_input

#: a dict's leaves: (the path of keys to it, the leaf)
Leaves = list[tuple[tuple[Any, ...], Any]]


def holds_dicts(args: Sequence[Any], wrt: Sequence[int]) -> bool:
    """Whether an input being differentiated is a dict."""
    return any(i < len(args) and type(args[i]) is dict for i in wrt)


def _leaves(tree: dict[Any, Any], path: tuple[Any, ...] = ()) -> Leaves:
    """The leaves of a dict of dicts, in the dicts' own order (depth first)."""
    out: Leaves = []
    for key, value in tree.items():
        if type(value) is dict:
            if not value:
                raise InputTypeError(f"the dict entry {_shown(path + (key,))} is an empty dict: "
                                     "there is nothing in it to differentiate")
            out += _leaves(value, path + (key,))
        else:
            out.append((path + (key,), value))
    return out


def _shown(path: tuple[Any, ...]) -> str:
    return "".join(f"[{k!r}]" for k in path)


def _rebuilt(tree: dict[Any, Any], leaves: dict[tuple[Any, ...], Any],
             path: tuple[Any, ...] = ()) -> dict[Any, Any]:
    """`tree`'s keys and nesting, with the leaf at each path taken from `leaves`."""
    return {key: _rebuilt(value, leaves, path + (key,)) if type(value) is dict
            else leaves[path + (key,)] for key, value in tree.items()}


def _skeleton(tree: dict[Any, Any]) -> dict[Any, Any]:
    """`tree`'s keys and nesting as they are now, its leaves left out (None): the layout a
    call is rebuilt by, which a body that adds a key to the caller's dict cannot move."""
    return {key: _skeleton(value) if type(value) is dict else None
            for key, value in tree.items()}


class Flattened:
    """A call whose dict inputs are spread into one input per leaf.

    Attributes:
        function: the function of the leaves (and of the other inputs, as given).
        args: the leaves and the other inputs, in order.
        wrt: the positions in `args` being differentiated.
    """

    def __init__(self, fn: Function, args: Sequence[Any], wrt: Sequence[int]) -> None:
        if fn.jit:
            raise InputTypeError(
                f"{fn.name} is a dk.jit function, traced once per signature of arrays and "
                "numbers: a dict input is not one. Pass the dict's arrays as arguments of their "
                "own, or differentiate the plain Python function (dk.grad(f), traced at each call)")
        if fn.pure:  # math text and SymPy functions read numbers and arrays
            raise InputTypeError(
                f"{fn.name} is a function of math text or SymPy, whose inputs are numbers or "
                "arrays: a dict is not one. Pass its entries as the arguments")
        #: per input: (its first position, its dict's keys and nesting — a copy taken now — or
        #: None); the caller's dict itself is never read again (a body that added a key to it
        #: shifted every later leaf onto the next input's gradient)
        self._layout: list[tuple[int, Any]] = []
        names: list[str] = []
        #: the function's own input names are kept for its own inputs: a leaf p['a'] was named
        #: p_a, and an input called p_a then p_a_2, so errors blamed the wrong one
        reserved = [n for i, n in enumerate(fn.inputs) if not (i in wrt and i < len(args)
                                                                 and type(args[i]) is dict)]
        shown: dict[str, str] = {}
        flat: list[Any] = []
        self.wrt: list[int] = []
        self._wanted = list(wrt)
        for i, a in enumerate(args):
            name = fn.inputs[i] if i < len(fn.inputs) else f"arg{i}"
            if i in wrt and type(a) is dict:
                leaves = _leaves(a)
                if not leaves:
                    raise InputTypeError(f"input {name!r} is an empty dict: there is nothing in "
                                         "it to differentiate")
                self._layout.append((len(flat), _skeleton(a)))
                for path, leaf in leaves:
                    _check_leaf(leaf, name + _shown(path))
                    self.wrt.append(len(flat))
                    names.append(_leaf_name(name, path, names + reserved))
                    shown[names[-1]] = name + _shown(path)
                    flat.append(leaf)
            else:
                if i in wrt:
                    self.wrt.append(len(flat))
                self._layout.append((len(flat), None))
                names.append(name if name not in names else _leaf_name(name, (), names))
                flat.append(a)
        self.args = flat
        body = fn.body
        layout = self._layout

        def of_leaves(*values: Any) -> Any:
            return body(*_regrouped(layout, values))

        of_leaves.__name__ = fn.name
        self.function = Function(of_leaves, names, fn.name)
        self.function.input_labels = shown  # errors name a leaf by its keys, p['a']

    def gradients(self, grads: Sequence[Any]) -> tuple[Any, ...]:
        """The gradients of the leaves (in `wrt`'s order) regrouped as the caller's inputs:
        one per input differentiated, a dict for a dict."""
        by_position = dict(zip(self.wrt, grads, strict=True))
        out = []
        for i in self._wanted:
            start, tree = self._layout[i]
            if tree is None:
                out.append(by_position[start])
            else:
                paths = [p for p, _ in _leaves(tree)]
                leaves = {p: by_position[start + k] for k, p in enumerate(paths)}
                out.append(_rebuilt(tree, leaves))
        return tuple(out)


def _check_leaf(leaf: Any, label: str) -> None:
    """A leaf is differentiated: one that holds no numbers (a str, None) is the InputTypeError
    the leaf's input would raise, naming it by its keys (p['name']), not by its internal name."""
    try:
        as_input(leaf)
    except InputTypeError as exc:
        why = str(exc).removeprefix("an input ")
        raise InputTypeError(f"the dict entry {label} {why} (every entry of a differentiated "
                             "dict is differentiated: pass data as an argument of its own, "
                             "outside wrt=/argnums=)") from None


def _regrouped(layout: list[tuple[int, Any]], values: Sequence[Any]) -> list[Any]:
    """The caller's inputs from the leaves: each dict rebuilt with the leaves' values."""
    out = []
    for start, tree in layout:
        if tree is None:
            out.append(values[start])
        else:
            paths = [p for p, _ in _leaves(tree)]
            out.append(_rebuilt(tree, {p: values[start + k] for k, p in enumerate(paths)}))
    return out


def _leaf_name(name: str, path: tuple[Any, ...], taken: list[str]) -> str:
    """An identifier for a leaf (``params_W`` for params['W']): inputs are named by
    identifiers; made distinct from the names already `taken`."""
    base = "_".join([name, *(re.sub(r"\W", "_", str(k)) for k in path)])
    candidate, n = base, 2
    while candidate in taken:
        candidate, n = f"{base}_{n}", n + 1
    return candidate
