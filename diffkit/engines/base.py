"""What every differentiation engine provides, and helpers for flattening inputs and outputs.

An engine answers six questions about a :class:`~diffkit.function.Function` at a point: value and
gradient, JVP, VJP, Jacobian, Hessian and n-th derivative. The base class derives what it can from
the engine's primitives (a Jacobian from VJPs; a JVP and a VJP from the Jacobian of a derived
Function, f(x + s·t) in s and Σ ȳ·f(x) in x, so that the seed enters the traced computation; a
Hessian as the Jacobian of the gradient).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from ..backend import array_namespace
from ..errors import (
    DiffkitError,
    DomainError,
    MissingRuleError,
    NumericOverflowError,
    ShapeError,
    TracingError,
)
from ..function import Function, output_pieces  # noqa: F401 - the engines' name for it
from ..ir import Graph, Node, Traced
from ..primitive import finite
from ..primitives import astype, concatenate, real, reshape
from ..primitives import sum as sum_
from ..primitives.declare import dtype_of, plain_value, xp_of

Pullback = Callable[[Any], tuple[Any, ...]]


def shape_of(v: Any) -> tuple[int, ...]:
    return tuple(getattr(v, "shape", ()))


def size_of(v: Any) -> int:
    return math.prod(shape_of(v))


def check_tangent(t: Any, name: str, shape: tuple[int, ...], real: bool) -> None:
    """A tangent for input `name` of `shape` has its shape, or is the flat vector of its elements
    (shape ``(size,)``), and is not complex for a real input (a real function's derivative would
    drop its imaginary part): else ShapeError. Another shape of the same size (a transposed
    direction) is refused, as JAX refuses it, never read reshaped."""
    given = shape_of(t) if isinstance(t, Traced) else np.shape(t)
    if given != tuple(shape) and given != (math.prod(shape),):
        raise ShapeError(f"tangent of shape {given} for input {name!r} of shape {tuple(shape)}: "
                         f"pass one of the input's shape (or a flat vector of its "
                         f"{math.prod(shape)} elements)")
    if real and not isinstance(t, Traced) and np.iscomplexobj(t):
        raise ShapeError(f"the tangent for the real input {name!r} is complex: pass a real "
                         "tangent (or make the input complex)")


def check_cotangent_kind(ct_dtype: Any, out_dtype: Any) -> None:
    """A complex cotangent for a real output is a ShapeError (JAX refuses it too): a real
    output's cotangent space is real, and the real part alone would silently drop what a user
    meaning the holomorphic extension asked. The rule of ``dk.vjp`` and of ``dk.trace``'s ȳ."""
    if np.dtype(ct_dtype).kind == "c" and np.dtype(out_dtype).kind != "c":
        raise ShapeError(f"a complex cotangent ({np.dtype(ct_dtype)}) for a real output "
                         f"({np.dtype(out_dtype)}): pass a real cotangent (its real and "
                         "imaginary parts separately, if both are meant)")


def check_cotangent(ct: Any, out_shape: tuple[int, ...]) -> None:
    """A cotangent has the output's shape (or is a scalar for a one-element output): else
    ShapeError, never a broadcast."""
    given = shape_of(ct) if isinstance(ct, Traced) else np.shape(ct)
    if not _fits(given, tuple(out_shape)):
        raise ShapeError(f"cotangent of shape {given} for an output of shape {tuple(out_shape)}")


def require_finite_direction(v: Any, what: str) -> None:
    """DomainError where a tangent or cotangent the user gave holds a NaN or an infinity: the
    function may well be differentiable there; it is the direction that is not a number (it
    read as "not differentiable there"). Traced values and None pass (nothing to look at)."""
    if v is None or isinstance(v, Traced):
        return
    arr = v if hasattr(v, "dtype") and hasattr(v, "shape") else np.asarray(v)
    if arr.dtype.kind in "fc" and not bool(xp_of(arr).all(xp_of(arr).isfinite(arr))):
        raise DomainError(f"{what} is not finite (NaN or an infinity): a tangent or cotangent "
                          "must be a finite direction, even where the function is smooth")


def _fits(given: tuple[int, ...], shape: tuple[int, ...]) -> bool:
    """A cotangent of shape `given` fits an output of `shape`: the same, or a number for one
    element."""
    return given == shape or given == () and math.prod(shape) == 1


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


def flat_cotangent(ct: Any, outputs: list[Any], n: int) -> Any:
    """The cotangent of the flat output (`n` elements) of a function that returned pieces of
    shapes `outputs` (:func:`output_pieces`): `ct` itself if it is that flat vector, else one
    cotangent per piece, nested as `outputs`, each of its piece's shape (a number for a
    one-element piece), concatenated. Anything else is a ShapeError naming the pieces' shapes."""

    def misfit(what: str) -> ShapeError:
        return ShapeError(
            f"{what} does not fit the function's outputs, of shapes {outputs}: pass one "
            "cotangent per output, each of its output's shape (a number for a one-element "
            "output), in a tuple or list nested as the outputs are, or one flat vector of "
            f"their {n} elements")

    if not isinstance(ct, list | tuple) or len(ct) != len(outputs):  # the flat cotangent
        try:
            given = shape_of(ct) if isinstance(ct, Traced) else np.shape(ct)
        except ValueError:  # a ragged sequence
            raise misfit(f"a cotangent of {len(ct)} pieces") from None
        if not _fits(given, (n,)):
            raise misfit(f"a cotangent of shape {given}")
        return ct
    pieces: list[Any] = []
    stack = [(ct, outputs)]
    while stack:
        c, o = stack.pop()
        if isinstance(o, list):
            if not isinstance(c, list | tuple) or len(c) != len(o):
                given = f"{len(c)} pieces" if isinstance(c, list | tuple) else (
                    f"shape {shape_of(c)}")
                raise misfit(f"a cotangent of {given} for {len(o)} outputs {o}")
            stack.extend(reversed(list(zip(c, o, strict=True))))
            continue
        if not isinstance(c, Traced) and not hasattr(c, "shape"):
            try:
                c = np.asarray(c)
            except ValueError:
                raise misfit(f"a ragged cotangent for an output of shape {o}") from None
        if not _fits(shape_of(c), o):
            raise misfit(f"a cotangent of shape {shape_of(c)} for an output of shape {o}")
        pieces.append(c)
    return flatten_all(pieces)


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


def require_holomorphic(graph: Graph, what: str, engine: str,
                        wrt: Sequence[Node] | None = None) -> None:
    """A complex-valued output needs a complex-analytic path from the inputs (see docs/design.md)
    — where one of the inputs differentiated (`wrt`, all by default) is complex: from real
    inputs alone the Jacobian ∂f/∂x of any complex output is defined (real tangents)."""
    if graph.output.dtype.kind != "c":
        return
    if wrt is not None and not any(n.dtype.kind == "c" for n in wrt):
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
        """cᵀ·J as the gradient of ⟨c, f(x)⟩ = Σ c·f(x) (:func:`pairing_function`), taken with
        this engine's Jacobian: one row, whatever the output's size. The cotangent enters the
        traced product, so an exactly zero entry times an infinite partial gives zero (0·∞ = 0,
        the rows it zeroes are never formed), and a traced cotangent (a derivative of the
        pullback) is differentiated through where the engine nests.

        A Python function is traced once, here, and its pullback differentiates that trace
        (:meth:`_first_trace`): what it draws or updates as it runs (a dropout mask,
        BatchNorm's running statistics) is the returned value's, once — evaluating it again at
        each pullback gave another mask's derivative (54 beside 36) and moved the statistics
        at every call, where reverse mode, JAX and torch.func trace once."""
        fn, out = self._first_trace(fn, args, wrt)
        h = pairing_function(fn)
        like = [args[i] for i in wrt]

        def pullback(ct: Any) -> tuple[Any, ...]:
            check_cotangent(ct, shape_of(out))  # never reread as another shape of its size
            self.refuse_traced(ct, "cotangent")
            if shape_of(ct) != shape_of(out):  # a scalar for a one-element output
                ct = reshape(ct, shape_of(out)) if isinstance(ct, Traced) else np.reshape(
                    ct, shape_of(out))
            _, row = self.jacobian(h, [*args, ct], wrt)
            n = sum(size_of(a) for a in like)
            return split_flat(reshape(row, (n,)) if isinstance(row, Traced) else
                              xp_of(row).reshape(row, (n,)), like)

        return out, pullback

    #: whether the pullback may differentiate the function's first trace at the point: not
    #: where the engine evaluates other points (finite differences), which a trace that
    #: branched on its inputs does not describe
    at_the_point_only = True

    def _first_trace(self, fn: Function, args: Sequence[Any], wrt: Sequence[int]
                     ) -> tuple[Function, Any]:
        """(the function a pullback differentiates, f's value): for a Python function (a jit
        one here has no first trace to keep: it branched on its inputs), its trace at `args`
        replayed as a pure function (its drawn constants are this evaluation's), whose value is
        f's; else `fn` and one evaluation. A trace
        that cannot be made (a black box) or that branched on its inputs where the engine
        steps away from the point is not used. Where the evaluation fails too, the trace's
        error is raised: it names the cause (an index array differentiated as floats was a
        bare IndexError)."""
        if fn.pure:
            return fn, fn.evaluate(*args)
        try:
            graph = fn.trace(*args, wrt=wrt)
        except DiffkitError as refused:
            try:
                return fn, fn.evaluate(*args)
            except Exception:  # noqa: BLE001 - the same body: the trace named its cause
                raise refused from None
        if graph.value_dependent and not self.at_the_point_only:
            return fn, fn.evaluate(*args)
        return fn.replaying(graph), graph.output.value

    def jvp(self, fn: Function, args: Sequence[Any], tangents: Sequence[Any]) -> tuple[Any, Any]:
        """J·t as the derivative of f(x + s·t) in s at s = 0 (:func:`line_function`), taken with
        this engine's Jacobian: one column. The tangent enters the traced product, so an exactly
        zero entry times an infinite partial gives zero (0·∞ = 0: the columns it zeroes are
        never formed), and the JVP of a real output is real, as the derivative of a real
        function of the real s. Each tangent is checked as forward mode checks it (its input's
        shape or the flat vector of its elements; real for a real input) and the result has the
        output's dtype, as forward mode's tangent does: every method answers a jvp in the same
        dtype."""
        names = getattr(fn, "inputs", None) or [f"x{i}" for i in range(len(args))]
        ts = []
        for t, a, name in zip(tangents, args, names, strict=True):
            check_tangent(t, name, shape_of(plain_value(a)),
                          real=not np.iscomplexobj(plain_value(a)))
            self.refuse_traced(t, "tangent")
            ts.append(_along(t, a))
        out, col = self.jacobian(line_function(fn), [*args, *ts, _START], [2 * len(args)])
        dt = dtype_of(plain_value(out))
        if isinstance(col, Traced):  # traced (a jvp inside dk.jit): the projection and the
            jt = reshape(col, shape_of(out))  # cast recorded, as for every derivative (like)
            return out, like(jt, jt, dt) if dt.kind in "fc" else jt
        jt = xp_of(col).reshape(col, shape_of(out))
        if dt.kind != "c" and jt.dtype.kind == "c":
            jt = jt.real  # a real output's JVP: the engine's column of the real s, projected
        if dt.kind in "fc" and jt.dtype != dt:
            jt = jt.astype(dt)
        return out, jt

    def jacobian(self, fn: Function, args: Sequence[Any], wrt: Sequence[int]) -> tuple[Any, Any]:
        """(out, J) with J of shape (out.size, total size of the wrt inputs): one VJP per row."""
        out, pullback = self.vjp(fn, args, wrt)
        return out, jacobian_rows(out, pullback, sum(size_of(args[i]) for i in wrt))

    def refuse_traced(self, seed: Any, what: str) -> None:
        """A traced tangent or cotangent (a derivative of a JVP or a pullback, nested) reaches
        only engines that nest: one that answers numbers would cut it out of the graph."""
        if isinstance(seed, Traced) and not self.nests:
            raise TracingError(
                f"the {what} is a traced value (a derivative of this one is being taken): "
                f"method={self.name!r} answers numbers that would cut it out of that graph; use "
                "method='reverse' or 'forward' (which nest)")

    # -- derived --
    def value_and_grad(self, fn: Function, args: Sequence[Any], wrt: Sequence[int]
                       ) -> tuple[Any, tuple[Any, ...]]:
        """(f(args), gradients): the one row of the Jacobian of a scalar output."""
        out, jac = self.jacobian(fn, args, wrt)
        require_scalar(out, "grad")
        row = reshape(jac, (shape_of(jac)[1],)) if isinstance(jac, Traced) else jac.reshape(-1)
        return out, split_flat(row, [args[i] for i in wrt])

    def grad(self, fn: Function, args: Sequence[Any], wrt: Sequence[int]) -> tuple[Any, ...]:
        """The gradients only (an engine may skip computing f itself)."""
        return self.value_and_grad(fn, args, wrt)[1]

    def hessian(self, fn: Function, args: Sequence[Any], wrt: Sequence[int]) -> Any:
        """The Jacobian of the gradient, both taken with this engine."""
        grad_fn = gradient_function(self, fn, wrt)
        return self.jacobian(grad_fn, args, wrt)[1]

    def derivative(self, fn: Function, x: Any, n: int) -> Any:
        """n-th derivative of a function of one input, by nesting this engine's gradient; at an
        array x, that of an element-wise f, element by element (as finite differences take it:
        :func:`nth_of_elementwise`), and a ShapeError for any other f (the gradient of a scalar
        f is dk.grad's)."""
        if n == 0:
            return fn.evaluate(x)
        if size_of(x) != 1:  # (one element: a function of one number, whatever its shape)
            graph = fn.trace(x)
            check_pointwise(graph.output.shape, shape_of(x))
            require_elementwise(graph, [0])
            return nth_of_elementwise(self, fn, x, n)
        g = fn
        for _ in range(n):
            g = gradient_function(self, g, [0])
        return g.evaluate(x)


def _stack_rows(rows: list[Any], m: int, n: int) -> Any:
    if any(isinstance(r, Traced) for r in rows):
        return reshape(concatenate(rows, axis=0), (m, n))
    xp = xp_of(rows[0]) if rows else np
    return xp.stack(rows).reshape(m, n) if rows else np.zeros((0, n))


def jacobian_rows(out: Any, pullback: Pullback, n: int) -> Any:
    """The (m, n) Jacobian of an output `out` from its pullback: one row per unit cotangent."""
    m = size_of(out)
    xp = xp_of(out)
    rows = []
    for i in range(m):
        ct = xp.zeros(m, dtype=dtype_of(plain_value(out)))
        ct[i] = 1.0
        rows.append(flatten_all(pullback(ct.reshape(shape_of(out)))))
    return _stack_rows(rows, m, n)


#: where :func:`line_function` starts: x + (−0.0)·t is x itself, bit for bit (a negative zero
#: included), wherever the tangent is 0 or positive
_START = np.float64(-0.0)


def _along(t: Any, x: Any) -> Any:
    """Tangent `t` in the shape and dtype of input `x` (its negative zeros made positive, so
    that −0.0·t is −0.0 there)."""
    if isinstance(t, Traced):
        return t if shape_of(t) == shape_of(x) else reshape(t, shape_of(x))
    dt = dtype_of(plain_value(x))
    xp = xp_of(plain_value(x))
    t = xp.reshape(xp.asarray(t), shape_of(plain_value(x)))
    return t.astype(dt if dt.kind in "fc" else np.dtype(float)) + 0.0


def _seed_names(fn: Function, extra: Sequence[str]) -> list[str]:
    """`fn`'s input names followed by `extra`, each made distinct from those before it."""
    names = list(fn.inputs)
    for e in extra:
        while e in names:
            e += "_"
        names.append(e)
    return names


def line_function(fn: Function) -> Function:
    """g(x…, t…, s) = f(x + s·t): its derivative in s at s = 0 is the JVP J·t. Tangents and s
    are inputs, so g is reusable exactly when `fn` is (one per Function)."""
    g = fn.cache.get(("jvp-line",)) if fn.reusable else None
    if g is None:
        n = fn.arity

        def body(*a: Any) -> Any:
            xs, ts, s = a[:n], a[n:2 * n], a[2 * n]
            us = []
            for x, t in zip(xs, ts):
                # (s + c)·t with s = −0.0 is c·t: −0.0 where t ≥ 0 and +0.0·t = −0.0 where t < 0,
                # so x + it is x bit for bit, a negative zero included (c is a constant)
                c = np.where(np.asarray(plain_value(t)) < 0, 0.0, -0.0)
                k = s + c  # real; in x's real dtype before it meets t (in x's dtype: _along),
                real = np.finfo(x.dtype).dtype if x.dtype.kind in "fc" else k.dtype
                if k.dtype != real:  # so that a float32 function stays float32 and a complex64
                    k = k.astype(real)  # one needs no complex cast (astype is not holomorphic)
                d = k * t
                if d.dtype != x.dtype and x.dtype.kind in "fc":  # a traced tangent of another
                    d = d.astype(x.dtype)  # dtype (nested derivatives)
                us.append(x + d)
            return fn.run_body(*us)

        g = _derived(body, _seed_names(fn, [*(f"{i}_dot" for i in fn.inputs), "s"]), fn,
                     fn.name)
        if fn.reusable:
            fn.cache[("jvp-line",)] = g
    return g


def pairing_function(fn: Function) -> Function:
    """h(x…, c) = Σ c·f(x) (bilinear: c is not conjugated): its Jacobian in x is the VJP cᵀ·J —
    for a real f and c the gradient c·∂f + conj(c·∂̄f) of the complex convention, for a
    holomorphic f the complex derivative Σ c·f′ (a non-holomorphic complex-valued f is refused
    by the engines' Jacobians). Reusable exactly when `fn` is."""
    h = fn.cache.get(("vjp-pairing",)) if fn.reusable else None
    if h is None:
        n = fn.arity

        def body(*a: Any) -> Any:
            return sum_(a[n] * fn.run_body(*a[:n]))

        h = _derived(body, _seed_names(fn, ["ct"]), fn, fn.name)
        if fn.reusable:
            fn.cache[("vjp-pairing",)] = h
    return h


def differentiated_outside(v: Any) -> bool:
    """Whether `v` is a value an enclosing derivative differentiates (a Tensor that requires
    grad: an outer trace's, or an eager leaf's): an engine that answers numbers would cut it out
    of that derivative. A detached Tensor, or a plain number, is only numbers."""
    return isinstance(v, Traced) and bool(getattr(v, "requires_grad", False))


def require_scalar(out: Any, what: str) -> None:
    if size_of(out) != 1 or shape_of(out) not in ((), (1,)):
        raise ShapeError(
            f"{what} needs a function with a scalar output; this one returns shape {shape_of(out)}: "
            "use dk.jacobian or dk.vjp"
        )


def check_pointwise(out_shape: tuple[int, ...], x_shape: tuple[int, ...]) -> None:
    """derivative(f, n) answers one number per point: f of a scalar x has one output (as in
    every method), f of an array x is element-wise (its output has x's shape). Else ShapeError,
    not the first element (or a directional derivative read as f′ of each element)."""
    if not x_shape and math.prod(out_shape) != 1:
        raise ShapeError(f"derivative needs a function with a scalar output; this one returns "
                         f"shape {out_shape}: use dk.jacobian or dk.vjp")
    if x_shape and tuple(out_shape) != tuple(x_shape) and not (
            math.prod(x_shape) == 1 and math.prod(out_shape) == 1):  # (one number: a scalar's)
        raise ShapeError(f"a derivative at an array x of shape {x_shape} is "
                         f"that of an element-wise f, but f(x) has shape {out_shape}: use "
                         "dk.grad or dk.jacobian")


def require_elementwise(graph: Graph | None, wrt: Sequence[int]) -> None:
    """derivative(f) at an array x is f′ element by element only for an element-wise f: every
    operation on the derivative's path in f's trace must be element-wise (a ShapeError names
    the first that is not: x[::-1]**2 or cumsum(x) has x's shape, but its directional
    derivative along w, divided by w, is no element's derivative). A black box (no trace) is
    not read here: finite differences probe it (``finite._probe_elementwise``)."""
    if graph is None or (math.prod(graph.output.shape) == 1 and all(
            math.prod(graph.inputs[k].shape) == 1 for k in wrt)):  # one number: a scalar's
        return
    reaches = {graph.output}  # what the output depends on (an unused output of a call inside
    for node in reversed(graph.nodes):  # f — inner(x)[1] of (cumsum(x), sin(x)) — is not f)
        if node in reaches:
            reaches.update(node.inputs)
    live = {graph.inputs[k] for k in wrt}
    for node in graph.nodes:
        if node.prim is None or not node.prim.differentiable or not live.intersection(
                node.inputs) or node not in reaches:
            continue
        if node.prim.kind != "elementwise" or node.shape != graph.output.shape:
            raise ShapeError(
                f"a derivative at an array x is that of an element-wise f, "
                f"but {node.prim.name!r} in f mixes elements: use dk.jacobian (or dk.grad of a "
                "scalar function)")
        live.add(node)


def nth_of_elementwise(engine: Engine, fn: Function, x: Any, n: int) -> Any:
    """The n-th derivative of `fn` at `x` by an AD `engine`: at a scalar, the engine's own; at
    an array, of an element-wise f (:func:`require_elementwise`), element by element as the
    gradient of Σ of the order below (each element's derivative depends on its own x only)."""
    if not np.ndim(x):
        return engine.derivative(fn, x, n)
    g = fn
    for _ in range(n):
        inner = g
        summed = inner.carry(Function(lambda y, inner=inner: sum_(inner.run_body(y)),
                                      inner.inputs, name=inner.name, pure=inner.pure))
        g = gradient_function(engine, summed, [0])
    return g.evaluate(x)


def gradient_function(engine: Engine, fn: Function, wrt: Sequence[int]) -> Function:
    """A Function computing the flattened gradient of `fn` with `engine` (traceable: for Hessians
    and higher derivatives). Reusable exactly when `fn` is."""

    def body(*xs: Any) -> Any:
        _, grads = engine.value_and_grad(fn, fn.coerce(xs, wrt), wrt)
        return grads[0] if len(grads) == 1 and not shape_of(grads[0]) else flatten_all(grads)

    return _derived(body, fn.inputs, fn, f"grad_{fn.name}")


def _derived(body: Callable[..., Any], inputs: Sequence[str], fn: Function, name: str
             ) -> Function:
    """A Function made from `fn` (its first inputs `fn`'s own): pure and jit as `fn` is, and
    taking as given the inputs `fn` takes as given (a replay's objects: a dict, a str)."""
    made = fn.carry(Function(body, inputs, name=name, pure=fn.pure, jit=fn.jit))
    made.opaque_inputs = fn.opaque_inputs
    return made


def float_dtype(x: Any) -> np.dtype:
    """The dtype a derivative with respect to `x` has: x's floating dtype, float64 otherwise."""
    dt = getattr(x, "dtype", None)
    if dt is None:
        return np.dtype(complex) if isinstance(x, complex) else np.dtype(float)
    dt = np.dtype(dt)
    return dt if dt.kind in "fc" else np.dtype(float)


def like(g: Any, arg: Any, dtype: np.dtype | None = None) -> Any:
    """A derivative `g` in the form of the argument it belongs to (the dtype convention)."""
    if type(arg) is float and dtype is None and (isinstance(g, float) or type(g) is np.ndarray
                                                 and g.shape == () and g.dtype.kind == "f"):
        return float(g)  # the common scalar case
    if isinstance(g, Traced) or isinstance(arg, Traced):
        dt = dtype if dtype is not None else float_dtype(arg)
        if dt.kind != "c" and float_dtype(g).kind == "c":  # the real projection, traced (an
            g = real(g)  # outer derivative differentiates a real gradient: a complex one
            # carried junk imaginary parts into H·v)
        if isinstance(g, Traced) and float_dtype(g) != dt:  # the cast recorded, so a replay
            g = astype(g, dt)  # and its generated code cast as a fresh call does (dk.jit of a
            # derivative of a float32 input that met a float64 constant answered float64)
        return g
    dt = dtype if dtype is not None else float_dtype(arg)
    if dt.kind != "c" and np.iscomplexobj(g):
        g = g.real  # a real input's cotangent space is real: the projection of a complex adjoint
    if isinstance(arg, np.generic):  # before Python's types: np.float64 is a float too
        return _narrowed(g, dt, lambda: dt.type(g))
    if isinstance(arg, bool | int | float | complex):
        return dt.type(g).item() if np.ndim(g) == 0 else np.asarray(g, dtype=dt)
    xp = array_namespace(g) if hasattr(g, "dtype") else np
    out = xp.asarray(g)
    if out.dtype != dt:
        out = _narrowed(out, dt, lambda: out.astype(dt))
    return out.reshape(getattr(arg, "shape", out.shape))


def _narrowed(g: Any, dt: np.dtype, cast: Callable[[], Any]) -> Any:
    """`cast()`: `g` in the argument's dtype `dt` — a NumericOverflowError where a finite
    derivative taken wider (the symbolic engine's float64 for a float32 input) does not fit
    in it (it became ±inf: −1e40 for 1/x at 1e-20 in float32, which reverse mode names)."""
    with np.errstate(over="ignore"):
        out = cast()
    wide = np.dtype(getattr(g, "dtype", np.float64))
    if dt.kind in "fc" and wide.kind in "fc" and dt.itemsize < wide.itemsize and \
            not finite(out) and finite(g):
        raise NumericOverflowError(
            f"the derivative overflows {dt}: it is finite in {wide} "
            f"(up to {float(np.max(np.abs(g))):.3g}) but beyond the range of the input's "
            f"dtype; compute in {wide} (pass {wide} inputs) or rescale the inputs")
    return out
