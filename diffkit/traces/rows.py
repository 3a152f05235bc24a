"""The rows of an evaluation trace, the symbolic local derivatives on them, and trace seeds.

A :class:`Row` is one line of a primal, tangent or adjoint table; a :class:`Partial` is a local
derivative ∂vᵢ/∂vⱼ on it, both as SymPy (``sympy.diff`` of the primitive's translation on symbols
named after the variables: ∂v₃/∂v₀ = cos v₀) and as the number the engines memoized.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np
import sympy as sp

from ..engines.base import check_cotangent_kind, check_tangent, require_finite_direction
from ..errors import ShapeError
from ..function import Function
from ..ir import Graph, Node
from ..primitive import MINUS_ONE, ONE, REGISTRY
from . import formats as tf

Token = tuple[Any, ...]


@dataclass(frozen=True)
class Partial:
    """A local partial derivative ∂`of`/∂`wrt` (variable keys such as ``"v2"``, ``"v-1"``).

    Attributes:
        expr: its symbolic form in the variables (None for structural ops, which use a rule).
        value: its exact value at the point (None for structural ops).
        rule: "JVP" or "VJP" where a structural op's rule replaces the partial.
        position: which argument of the operation `wrt` is (0-based): in ``v₁ = v₀ - v₀`` the
            partials with respect to v₀ are 1 at position 0 and -1 at position 1.
    """

    of: str
    wrt: str
    expr: sp.Expr | None
    value: Any
    rule: str = ""
    position: int | None = None


@dataclass(frozen=True)
class Row:
    """One line of a trace: ``lhs = formula``, the local derivatives used, and the exact value.

    Attributes:
        section: "primal", "tangent" or "adjoint".
        role: "input", "op", "output" (primal, tangent); "seed", "set", "accumulate", "result"
            (adjoint: ȳ = 1, first contribution, later contributions, x̄ = v̄).
        lhs, formula: format-neutral tokens (see :class:`diffkit.trace_format.Notation`).
        partials: the local partials the row uses.
        value: the exact value (display rounds it, the row never does).
        node: the IR node the row is about (None for ȳ and y of a constant output).
        source: for adjoint steps, the node whose adjoint flows back (vᵢ in v̄ⱼ += v̄ᵢ ∂vᵢ/∂vⱼ).
    """

    section: str
    role: str
    lhs: tuple[Token, ...]
    formula: tuple[Token, ...]
    value: Any
    partials: tuple[Partial, ...] = ()
    node: Node | None = None
    source: Node | None = None

    @property
    def name(self) -> str:
        """The variable as text: ``v̄₋₁``."""
        return tf.UNICODE.render(self.lhs)

    @property
    def expression(self) -> str:
        """The defining expression as text: ``v̄₋₁ + v̄₁/v₋₁``."""
        return tf.UNICODE.render(self.formula)

    @property
    def derivative(self) -> str:
        """The local derivatives as text: ``∂v₁/∂v₋₁ = 1/v₋₁ = 0.500``."""
        return tf.derivative_cell(self.partials, tf.UNICODE, 3)

    def __str__(self) -> str:
        return f"{self.name} = {self.expression} = {tf.fmt_number(self.value)}"


def var(key: str, accent: str = "") -> Token:
    """A trace variable (``v-1`` → v₋₁)."""
    return ("var", key, accent)


def name_var(name: str, accent: str = "") -> Token:
    """An input by its name (``x1`` → x₁; ``x_1`` and ``v1`` as written)."""
    return ("name", name, accent)


def is_scalar_const(node: Node) -> bool:
    return node.is_const and node.value is not None and np.ndim(node.value) == 0


@lru_cache(maxsize=1024)
def _template(
    prim_name: str, consts: tuple[float | complex | None, ...], j: int
) -> tuple[sp.Expr | None, tuple[sp.Dummy, ...]]:
    """∂φ/∂(argument j) of a primitive's SymPy translation, on dummies (constants filled in)."""
    from ..engines.symbolic import local_diff
    from ..sympy_program import sympy_number

    prim = REGISTRY[prim_name]
    dummies = tuple(sp.Dummy(f"a{i}", real=True) for i in range(len(consts)))
    args = [d if c is None else sympy_number(c) for d, c in zip(dummies, consts, strict=False)]
    try:
        return local_diff(prim.to_sympy(*args), dummies[j]), dummies
    except (TypeError, ValueError, AttributeError):
        return None, dummies


def _number(value: Any) -> float | complex:
    """A scalar constant as the Python number it is: complex ones stay complex (float() of
    z·(2+3j)'s constant printed ∂ = 2, of z·1j raised TypeError)."""
    return complex(value) if np.iscomplexobj(value) else float(value)


def local_derivative(node: Node, j: int, names: Mapping[int, str]) -> sp.Expr | None:
    """The symbolic ∂node/∂(input j) in the trace's variables, e.g. cos(v₀) for v₃ = sin v₀."""
    consts = tuple(_number(i.value) if is_scalar_const(i) else None for i in node.inputs)
    expr, dummies = _template(node.prim.name, consts, j)
    if expr is None:
        return None
    subs = {
        d: tf.symbol(names[i.id]) if i.id in names else sp.Symbol("const", real=True)
        for d, i in zip(dummies, node.inputs, strict=False)
        if i.id in names or not is_scalar_const(i)
    }
    return expr.xreplace(subs)


def at_point(expr: sp.Expr | None, node: Node, names: Mapping[int, str], value: Any
             ) -> sp.Expr | None:
    """A partial decided by conditions alone as its value at the point (where's ∂/∂branch:
    ``1.000`` or ``0.000``, not ``Piecewise((1, Ne(v₁, 0)), (0, True))``): one that reads no
    differentiable variable, only boolean ones and constant masks. Others as they are."""
    if expr is None or value is None or not expr.has(sp.Piecewise):
        return expr
    decided = {sp.Symbol("const", real=True)} | {
        tf.symbol(names[i.id]) for i in node.inputs
        if i.id in names and np.dtype(i.dtype).kind == "b"
    }
    return tf.PointValue.of(value) if expr.free_symbols <= decided else expr


def numeric(p: Any) -> Any:
    """A memoized partial as a number: the engines' ONE and MINUS_ONE markers as ±1.0, and a
    boolean one (where's ∂/∂branch) as 1.0 or 0.0, as every other partial prints."""
    if p is ONE:
        return 1.0
    if p is MINUS_ONE:
        return -1.0
    if isinstance(p, bool | np.bool_) or (isinstance(p, np.ndarray) and p.dtype == bool):
        return np.asarray(p, dtype=float) if isinstance(p, np.ndarray) else float(p)
    return p


def forward_seed(fn: Function, graph: Graph, seed: Any) -> list[Any]:
    """ẋ per input: e₁ by default; a sequence (one per input) or a dict {name: tangent}.

    Each input's tangent is shaped like that input, or is one number for all of its elements, so
    a seed may mix them (``[np.array([1., 0.]), 0.0]``). With one input, its tangent alone may be
    given. Anything else is a :class:`ShapeError` naming the input."""
    shapes = [n.shape for n in graph.inputs]
    if seed is None:
        out = [np.zeros(s) if s else 0.0 for s in shapes]
        if shapes and shapes[0]:
            out[0] = np.zeros(shapes[0])
            out[0].reshape(-1)[0] = 1.0
        elif shapes:
            out[0] = 1.0
        return out
    if isinstance(seed, Mapping):
        unknown = set(seed) - set(fn.inputs)
        if unknown:
            raise ValueError(f"seed names {sorted(unknown)}, which are not inputs of {fn.name}")
        seed = [seed.get(n, 0.0) for n in fn.inputs]
    elif len(shapes) == 1 and _shape(seed) in ((), shapes[0]):
        seed = [seed]  # the one input's tangent
    elif _shape(seed) == ():
        raise ShapeError(f"seed is one number for {len(shapes)} inputs: pass one tangent per "
                         f"input ({', '.join(fn.inputs)})")
    else:
        seed = list(seed)
    if len(seed) != len(shapes):
        raise ShapeError(
            f"seed has {len(seed)} entries for {len(shapes)} inputs: pass one tangent per input"
        )
    out = []
    for name, s, shape, node in zip(fn.inputs, seed, shapes, graph.inputs, strict=False):
        got = _shape(s)
        if got not in ((), shape):
            what = "values of uneven lengths" if got is None else f"shape {got}"
            raise ShapeError(f"seed for {name!r} has {what}, the input has shape {shape} (give "
                             "a tangent of that shape, or one number for all of it)")
        arr = np.broadcast_to(_numbers(s, f"seed for {name!r}"), shape)
        # complex for a complex input, as dk.jvp takes it (a real input's: ShapeError)
        check_tangent(arr, name, shape, real=node.dtype.kind != "c")
        require_finite_direction(arr, f"seed ẋ for {name!r}")
        out.append(arr.item() if not shape else np.array(arr))
    return out


def _numbers(value: Any, what: str) -> np.ndarray:
    """`value` as an array of float64 or complex128 numbers (a complex seed stays complex: its
    imaginary part is never dropped); anything else is a ShapeError naming `what`."""
    try:
        arr = np.asarray(value)
        return arr.astype(complex if arr.dtype.kind == "c" else float)
    except (TypeError, ValueError):
        raise ShapeError(f"{what} is not a number or an array of numbers: "
                         f"{type(value).__name__}") from None


def _shape(value: Any) -> tuple[int, ...] | None:
    """The shape of a number, array or nested list; None for a ragged one (``[1, [0]]``)."""
    if isinstance(value, np.ndarray | np.generic):
        return value.shape
    if isinstance(value, list | tuple):
        inner = {_shape(v) for v in value}
        if len(inner) > 1 or None in inner:
            return None
        return (len(value), *(inner.pop() if inner else ()))
    return () if np.ndim(value) == 0 else tuple(np.shape(value))


def reverse_seed(graph: Graph, seed: Any) -> Any:
    """ȳ: 1 by default (ones for an array output: the gradient of the sum of its elements)."""
    shape = graph.output.shape
    if seed is None:
        return np.ones(shape) if shape else 1.0
    if np.ndim(seed) and np.shape(seed) != shape:
        raise ShapeError(f"seed ȳ has shape {np.shape(seed)}, the output has shape {shape}")
    arr = _numbers(seed, "seed ȳ")
    check_cotangent_kind(arr.dtype, graph.output.dtype)  # complex for a complex output, as vjp
    require_finite_direction(arr, "seed ȳ")
    return np.broadcast_to(arr, shape).copy() if shape else arr.item()
