"""What every differentiation engine provides, and helpers for flattening inputs and outputs.

An engine answers six questions about a :class:`~diffkit.function.Function` at a point: value and
gradient, JVP, VJP, Jacobian, Hessian and n-th derivative. The base class derives what it can from
the engine's primitives (a Jacobian from VJPs or JVPs, a Hessian as the Jacobian of the gradient).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from ..errors import MissingRuleError, ShapeError
from ..function import Function, as_input
from ..ir import Graph, Node, Traced
from ..primitives import concatenate, reshape
from ..primitives.declare import dtype_of, plain_value, unit_cotangent, xp_of

Pullback = Callable[[Any], tuple[Any, ...]]


def shape_of(v: Any) -> tuple[int, ...]:
    return tuple(getattr(v, "shape", ()))


def size_of(v: Any) -> int:
    return math.prod(shape_of(v))


def check_tangent(t: Any, name: str, shape: tuple[int, ...], real: bool) -> None:
    """A tangent for input `name` of `shape` has its shape or its size, and is not complex for a
    real input (a real function's derivative would drop its imaginary part): else ShapeError."""
    given = shape_of(t) if isinstance(t, Traced) else np.shape(t)
    if given != shape and np.size(plain_value(t)) != math.prod(shape):
        raise ShapeError(f"tangent of shape {given} for input {name!r} of shape {shape}")
    if real and not isinstance(t, Traced) and np.iscomplexobj(t):
        raise ShapeError(f"the tangent for the real input {name!r} is complex: pass a real "
                         "tangent (or make the input complex)")


def check_cotangent(ct: Any, out_shape: tuple[int, ...]) -> None:
    """A cotangent has the output's shape (or is a scalar for a one-element output): else
    ShapeError, never a broadcast."""
    given = shape_of(ct) if isinstance(ct, Traced) else np.shape(ct)
    if given != tuple(out_shape) and (given != () or math.prod(out_shape) != 1):
        raise ShapeError(f"cotangent of shape {given} for an output of shape {tuple(out_shape)}")


def flatten_all(values: Sequence[Any]) -> Any:
    """Concatenate values into one 1-D array (recording when they are traced)."""
    if not any(isinstance(v, Traced) for v in values):
        xp = xp_of(values[0]) if values else np
        return xp.concatenate([xp.reshape(xp.asarray(v), (-1,)) for v in values]) if values else (
            np.zeros(0))
    parts = [reshape(v, (size_of(v),)) for v in values]
    return parts[0] if len(parts) == 1 else concatenate(parts, axis=0)


def split_flat(vec: Any, like: Sequence[Any]) -> tuple[Any, ...]:
    """Inverse of :func:`flatten_all`: cut a 1-D array into pieces shaped like `like`."""
    cut = (lambda piece, shape: reshape(piece, shape)) if isinstance(vec, Traced) else (
        lambda piece, shape: piece.reshape(shape))
    out, start = [], 0
    for v in like:
        n = size_of(v)
        out.append(cut(vec[start:start + n], shape_of(v)))
        start += n
    return tuple(out)


def is_complex(v: Any) -> bool:
    return dtype_of(v).kind == "c"


def nonholomorphic(graph: Graph) -> Node | None:
    """The first node that applies a non-holomorphic primitive to a complex value on a path that
    carries derivatives to the output (None if none). A value that only feeds a constant — a
    comparison, a sign — cannot make the derivative non-holomorphic."""
    carries = {graph.output}
    for node in reversed(graph.nodes):
        if node in carries and node.prim is not None and node.prim.differentiable:
            carries.update(node.inputs)
    for node in graph.nodes:
        prim = node.prim
        if prim is not None and prim.differentiable and not prim.holomorphic and node in carries \
                and any(i.dtype.kind == "c" for i in node.inputs):
            return node
    return None


def require_holomorphic(graph: Graph, what: str, engine: str) -> None:
    """A complex-valued output needs a complex-analytic path from the inputs (see docs/design.md)."""
    if graph.output.dtype.kind != "c":
        return
    node = nonholomorphic(graph)
    if node is not None:
        raise MissingRuleError(
            f"{what} of a complex-valued function needs it holomorphic, but it applies "
            f"{node.prim.name!r} to a complex value ({engine} engine): differentiate its real "
            "and imaginary parts separately (dk.real, dk.imag), or use dk.vjp")


class Engine:
    """Base class: subclasses implement at least `vjp` or `jvp`/`jacobian`."""

    name = "engine"
    #: whether the engine differentiates through an outer tape (nesting: its answers stay
    #: connected to Tensors that require grad); engines that answer plain numbers say False
    nests = True

    def __init__(self) -> None:
        self.options: dict[str, Any] = {}

    # -- the primitives an engine must provide (at least one family) --
    def vjp(self, fn: Function, args: Sequence[Any], wrt: Sequence[int]) -> tuple[Any, Pullback]:
        out, jac = self.jacobian(fn, args, wrt)

        def pullback(ct: Any) -> tuple[Any, ...]:
            check_cotangent(ct, shape_of(out))  # never reread as another shape of its size
            ct = np.reshape(np.asarray(ct), (-1,))
            return split_flat(ct @ jac, [args[i] for i in wrt])

        return out, pullback

    def jvp(self, fn: Function, args: Sequence[Any], tangents: Sequence[Any]) -> tuple[Any, Any]:
        """J·t from the Jacobian. Each tangent is checked as forward mode checks it (its input's
        shape or size; real for a real input) and the result has the output's dtype, as forward
        mode's tangent does: every method answers a jvp in the same dtype."""
        wrt = list(range(len(args)))
        names = getattr(fn, "inputs", None) or [f"x{i}" for i in range(len(args))]
        for t, a, name in zip(tangents, args, names, strict=True):
            a = plain_value(a)
            check_tangent(t, name, shape_of(a), real=not np.iscomplexobj(a))
        out, jac = self.jacobian(fn, args, wrt)
        t = np.concatenate([np.reshape(np.asarray(t), (-1,)) for t in tangents])
        jt = np.reshape(jac @ t, shape_of(out))
        kind = dtype_of(plain_value(out)).kind
        if kind in "fc" and jt.dtype != dtype_of(plain_value(out)) and (
                kind == "c" or jt.dtype.kind != "c"):
            jt = jt.astype(dtype_of(plain_value(out)))
        return out, jt

    def jacobian(self, fn: Function, args: Sequence[Any], wrt: Sequence[int]) -> tuple[Any, Any]:
        """(out, J) with J of shape (out.size, total size of the wrt inputs): one VJP per row."""
        out, pullback = self.vjp(fn, args, wrt)
        m = size_of(out)
        xp = xp_of(out)
        rows = []
        for i in range(m):
            ct = xp.zeros(m, dtype=dtype_of(plain_value(out)))
            ct[i] = 1.0
            rows.append(flatten_all(pullback(ct.reshape(shape_of(out)))))
        return out, _stack_rows(rows, m, sum(size_of(args[i]) for i in wrt))

    # -- derived --
    def value_and_grad(self, fn: Function, args: Sequence[Any], wrt: Sequence[int]
                       ) -> tuple[Any, tuple[Any, ...]]:
        """(f(args), gradients): the VJP with cotangent 1."""
        out, pullback = self.vjp(fn, args, wrt)
        require_scalar(out, "grad")
        return out, pullback(unit_cotangent(out))

    def grad(self, fn: Function, args: Sequence[Any], wrt: Sequence[int]) -> tuple[Any, ...]:
        """The gradients only (an engine may skip computing f itself)."""
        return self.value_and_grad(fn, args, wrt)[1]

    def hessian(self, fn: Function, args: Sequence[Any], wrt: Sequence[int]) -> Any:
        """The Jacobian of the gradient, both taken with this engine."""
        grad_fn = gradient_function(self, fn, wrt)
        return self.jacobian(grad_fn, args, wrt)[1]

    def derivative(self, fn: Function, x: Any, n: int) -> Any:
        """n-th derivative of a function of one input, by nesting this engine's gradient."""
        g = fn
        for _ in range(n):
            g = gradient_function(self, g, [0])
        return g.evaluate(x)


def _stack_rows(rows: list[Any], m: int, n: int) -> Any:
    if any(isinstance(r, Traced) for r in rows):
        return reshape(concatenate(rows, axis=0), (m, n))
    xp = xp_of(rows[0]) if rows else np
    return xp.stack(rows).reshape(m, n) if rows else np.zeros((0, n))


def require_scalar(out: Any, what: str) -> None:
    if size_of(out) != 1 or shape_of(out) not in ((), (1,)):
        raise ShapeError(
            f"{what} needs a function with a scalar output; this one returns shape {shape_of(out)}: "
            "use dk.jacobian or dk.vjp"
        )


def gradient_function(engine: Engine, fn: Function, wrt: Sequence[int]) -> Function:
    """A Function computing the flattened gradient of `fn` with `engine` (traceable: for Hessians
    and higher derivatives). Reusable exactly when `fn` is."""

    def body(*xs: Any) -> Any:
        _, grads = engine.value_and_grad(fn, [as_input(x) for x in xs], wrt)
        return grads[0] if len(grads) == 1 and not shape_of(grads[0]) else flatten_all(grads)

    return Function(body, fn.inputs, name=f"grad_{fn.name}", pure=fn.pure, jit=fn.jit)
