"""Compile a traced Function into straight-line Python/NumPy source for its value and gradient.

The reverse engine is run once on traced Tensors, so its memoized partials and adjoint sweep are
recorded as ordinary primitive nodes (the same rule table, nothing hand-written per primitive).
That joint primal + adjoint graph is simplified (x·1 → x, x + (−y) → x − y, constants folded,
uniform constant arrays turned into scalars, dead code removed) and printed one assignment per
node. Each primitive's line is rendered from its record (:mod:`diffkit.engines.codegen`).

Only identifiers diffkit makes appear in the source (inputs a0, a1, …, values v1, v2, …); the
function's own name and input names appear only inside an escaped string literal.

The compiled code is a snapshot of one trace: for a pure function (parsed text, SymPy) or a
``dk.jit`` one it is cached per signature (input shapes and dtypes) and ``wrt``; a function whose
trace branched on its inputs is refused (the engines then interpret it).

Example:
    >>> import diffkit as dk
    >>> cg = dk.compile_gradient(dk.parse("ln(x1) + x1*x2 - sin(x2)"), 2.0, 5.0)
    >>> cg(2.0, 5.0)
    (11.652071455223084, (5.5, 1.7163378145367738))
"""

from __future__ import annotations

import functools
import math
import re
import threading
from collections import Counter
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..build import as_function
from ..errors import (
    DiffkitError,
    DomainError,
    NumericOverflowError,
    ShapeError,
    TracingError,
)
from ..function import STRICT, Function, as_input, signature, to_python
from ..ir import Graph, Node, toposort
from ..primitive import Primitive, finite
from ..primitives import add, div, mul, neg, pow, sub
from ..primitives.declare import unit_cotangent
from ..tensor import Tensor, new_tape
from .base import check_cotangent, like
from .codegen import (
    KNOWN_ATOMIC,
    NotRenderable,
    atomic,
    literal,
    render_code,
    render_rule,
    repeated_operands,
)

# ----- the program: a small SSA list simplified before printing ----------------------------------


_UNKNOWN = object()


class _Val:
    """A value of the generated program: an input, a constant, or a primitive applied to values."""

    __slots__ = ("_uniform", "alias", "args", "const", "dtype", "name", "params", "prim", "shape")

    def __init__(self, prim: Primitive | None, args: list[_Val], params: dict[str, Any],
                 shape: tuple[int, ...], dtype: Any, const: Any = None, name: str | None = None):
        self.prim, self.args, self.params = prim, args, params
        self.shape, self.const, self.name = shape, const, name
        self.dtype = dtype if isinstance(dtype, np.dtype) else np.dtype(dtype)
        self.alias: _Val | None = None
        self._uniform: Any = _UNKNOWN

    @property
    def is_const(self) -> bool:
        return self.prim is None and self.name is None

    def scalar_const(self) -> Any:
        """The number every element equals, for a constant that is uniform (else None): a
        Python float, or a long double scalar where a float would round it."""
        if not self.is_const:
            return None
        if self._uniform is _UNKNOWN:
            self._uniform = self._find_uniform()
        return self._uniform

    def _find_uniform(self) -> Any:
        if type(self.const) is float:
            return self.const
        arr = np.asarray(self.const)
        first = arr.reshape(-1)[0] if arr.size else None
        if first is None or arr.dtype.kind not in "fiu" or not np.all(arr == first):
            return None
        if arr.dtype.kind == "f" and not np.all(np.signbit(arr) == np.signbit(first)):
            return None  # 0.0 and −0.0 are two numbers here (x·[0, −0] is not x·0)
        return float(first) if arr.dtype.itemsize <= 8 else first  # a long double: its own


def _resolve(v: _Val) -> _Val:
    while v.alias is not None:
        v = v.alias
    return v


def _simplify(v: _Val) -> None:
    """Peephole rules that are exact in floating point; `v.alias` is set when v is replaced."""
    a = v.args
    for i, b in enumerate(a):
        if b.alias is not None:
            a[i] = _resolve(b)
    p = v.prim
    if p is None or p.kind != "elementwise":
        return
    consts: list[float | None] | None = None  # each operand's uniform value, if any is constant
    operations = 0
    for i, b in enumerate(a):
        if b.prim is not None or b.name is not None:
            operations += 1
            continue
        if consts is None:
            consts = [None] * len(a)
        consts[i] = c = b.scalar_const()
        if c is not None and b.shape:  # uniform constant arrays become scalars where shapes allow
            rest = [d.shape for j, d in enumerate(a) if j != i]
            if np.broadcast_shapes((), *rest) == v.shape:
                # a NumPy scalar of the array's dtype: typed like the array (NumPy 2 promotes a
                # Python float weakly, a NumPy scalar or array by its dtype)
                a[i] = _Val(None, [], {}, (), b.dtype, const=b.dtype.type(c))
    if consts is None:  # no constant operand: the sign rules alone
        _signs(v)
        return
    if not operations and p.differentiable:  # constants only: folded
        with np.errstate(all="ignore"):
            value = p.impl(np, *[b.const for b in a], **v.params)
        if np.all(np.isfinite(value)):
            v.prim, v.args, v.const = None, [], value
        return
    if v.dtype.kind != "f" or len(a) != 2 or (consts[0] is None and consts[1] is None):
        _signs(v)
        return
    # x's shape and dtype must be the result's: float32 x + a float64 zero is float64 in NumPy
    same = [b.shape == v.shape and b.dtype == v.dtype for b in a]
    for i, unit in enumerate(p.unit):  # the record's units: x·1 = x, x + (−0) = x, x / 1 = x, …
        if unit is not None and _same_number(consts[i], unit) and same[1 - i]:
            v.alias = a[1 - i]
            return
    # −1·x → −x (exact)
    if p is mul:
        for i in (0, 1):
            if consts[i] == -1.0 and same[1 - i]:  # (never on a boolean mask: -mask is an error)
                v.prim, v.args = neg, [a[1 - i]]
                _simplify(v)
                return
    _signs(v)


def _same_number(c: float | None, unit: float) -> bool:
    """`c` is the record's unit itself, the sign of a zero included: x + 0.0 is not x (at
    x = −0.0 it is +0.0), x + (−0.0) is (the units are exact in IEEE arithmetic for every x:
    ``declare._check_units`` checks them at ±0, ±inf and NaN)."""
    return c is not None and c == unit and math.copysign(1.0, c) == math.copysign(1.0, unit)


def _signs(v: _Val) -> None:
    """Exact sign rules: x + (−y) → x − y, x − (−y) → x + y, (−x) + y → y − x, −(−x) → x."""
    p, a = v.prim, v.args
    if v.dtype.kind != "f":
        return
    if p is add or p is sub:
        if a[1].prim is neg:
            v.prim, v.args = (sub if p is add else add), [a[0], a[1].args[0]]
        elif p is add and a[0].prim is neg:
            v.prim, v.args = sub, [a[1], a[0].args[0]]
    elif p is neg and a[0].prim is neg and a[0].shape == v.shape and a[0].dtype.kind == "f":
        v.alias = a[0].args[0]


class CompiledGradient:
    """Generated value-and-gradient code for one Function, input shapes and ``wrt``.

    ``cg(*args)`` → ``(value, grads)``; ``cg.grad(*args)`` → grads only (primal work the gradient
    does not need is pruned); ``cg.vjp(*args, ct)`` → (value, ctᵀJ) for any output shape.
    ``cg.source`` is the generated module. Calls check the arguments' shapes and dtypes (sizes
    and casts are printed into the code); the "compiled" engine, which looked the code up by
    signature, calls :meth:`run` unchecked.

    Each function (``value_and_grad``, ``grad``, ``vjp``) is generated from the one recorded
    trace the first time it is used, so a caller that wants only gradients never pays for
    printing and compiling the value-and-gradient code; the trace is dropped once all are made.
    Objects are shared (cached per signature), so that generation is thread-safe.
    """

    def __init__(self, fn: Function, shapes: tuple[tuple[int, ...], ...], wrt: tuple[int, ...],
                 header: str, makers: dict[str, Any], ns: dict[str, Any],
                 dtypes: tuple[np.dtype, ...] | None = None) -> None:
        self.function, self.shapes, self.wrt, self.dtypes = fn, shapes, wrt, dtypes
        self.out_shape: tuple[int, ...] = ()
        self.stats: dict[str, int] = {}
        #: whether runs of element-wise lines were fused into kernels (see on_module)
        self.fused = False
        #: the fused kernels' Python sources (see on_module)
        self.fused_sources: list[str] = []
        self._header, self._makers, self._ns = header, dict(makers), ns
        self._parts: dict[str, str] = {}
        self._order = list(makers)
        self._functions: dict[str, Any] = {}
        self._expected: tuple[list[Any], list[Any]] | None = None  # (point, [value, *grads])
        self._lock = threading.RLock()  # one generation at a time (the makers share `ns`)

    def _function(self, kind: str) -> Any:
        """The generated function `kind`, printed and compiled on first use (None: not made for
        this output shape). Built whole, then published, under the object's lock: an exception
        on the way (Ctrl-C while it compiles) leaves the maker to run again, and another thread
        waits for the function instead of finding half of it."""
        made = self._functions.get(kind)
        if made is not None or kind not in self._order:
            return made
        with self._lock:
            made = self._functions.get(kind)
            if made is not None:  # another thread made it while this one waited
                return made
            lines, stats = self._makers[kind]()  # a refused function's maker raises
            text = "\n".join(lines)
            code = compile(self._header + "\n\n\n" + text + "\n", f"<diffkit compiled {kind}>",
                           "exec")
            exec(code, self._ns)  # noqa: S102 - our own generated source, identifiers are ours
            made = self._ns[kind]
            if self._expected is not None and kind in ("value_and_grad", "grad"):
                try:
                    _check(self, kind, made, *self._expected)
                except TracingError as exc:  # never keep code that disagrees with its trace
                    self._makers[kind] = functools.partial(_refuse, exc)
                    raise
            self.stats[kind], self._parts[kind] = stats, text
            self._functions[kind] = made  # published: from here on, no lock is taken
            del self._makers[kind]
            if not self._makers:
                self._expected = None  # every function is made: let the trace go
        return made

    @property
    def _vg(self) -> Any:
        return self._function("value_and_grad")

    @property
    def _g(self) -> Any:
        return self._function("grad")

    @property
    def _vjp(self) -> Any:
        return self._function("vjp") or self._scaled

    @property
    def source(self) -> str:
        """The generated module: every function (made now if not made yet)."""
        for kind in list(self._makers):
            self._function(kind)
        return self._header + "\n\n\n" + "\n\n\n".join(self._parts[k] for k in self._order) + "\n"

    def source_of(self, kind: str) -> str:
        """The source of one generated function: "grad", "value_and_grad" or "vjp"."""
        if self._function(kind) is None:
            raise ValueError(f"no generated function {kind!r} here (made: {', '.join(self._order)})")
        return self._parts[kind]

    def parameters(self, kind: str) -> list[str] | None:
        """The parameters of generated function `kind` (one per input), as its entries name
        them; None where it was not generated."""
        try:
            if self._function(kind) is None:
                return None
        except TracingError:
            return None
        return self._pieces(kind)[0]

    def float_entry(self, kind: str, otherwise: Any, conditions: Sequence[str] = ()) -> Any:
        """`kind` ("grad" or "value_and_grad") for Python floats with its guards printed in: it
        answers only when every argument is a finite float, the code raised no arithmetic or
        domain error (nor a RuntimeWarning made an error) and every result is a finite float;
        any other call — other types, other arities, a non-finite value, an
        error — is handed to ``otherwise(*args)`` (the caller's full path, which answers or
        names the error). Code that may
        reach NumPy runs under ``np.errstate(**STRICT)`` (NumPy and SciPy raise instead of
        warning and answering NaN); pure ``math`` code needs nothing. None where the function
        was not generated or takes arrays. Each caller gets its own function (its own
        `otherwise`)."""
        try:
            if self._function(kind) is None or any(self.shapes):
                return None
        except TracingError:  # the code disagreed with its trace: callers interpret
            return None
        names, work, result = self._pieces(kind)
        numeric = _may_reach_numpy(self._parts[kind], self._ns)
        grads = [f"_g{i}" for i in range(len(self.wrt))]
        pack = "(" + ", ".join(grads) + ("," if len(grads) == 1 else "") + ")"
        outs = ["_v", *grads] if kind == "value_and_grad" else grads
        target = f"_v, {pack}" if kind == "value_and_grad" else pack
        # finite floats: 0·a·b·… is 0 exactly when every factor is finite (inf·0 and NaN: NaN)
        inputs = " and ".join(["not _rest", "not _keywords",
                               *(f"type({a}) is float" for a in names),
                               *([f"{_finite_product(names)} == 0.0"] if names else []),
                               *conditions])  # tested on finite floats
        given = ", ".join(names)
        fallback = f"_otherwise(*[_a for _a in ({given}{',' if len(names) == 1 else ''}) " \
                   "if _a is not _MISSING], *_rest, **_keywords)" if names else \
                   "_otherwise(*_rest, **_keywords)"
        # keywords, other arities: the full path, which answers or names the error
        params = ", ".join([f"{a}=_MISSING" for a in names] + ["*_rest", "**_keywords"])
        assign = [f"        {target} = {result}"]
        named = result.strip("()").replace(" ", "").rstrip(",").split(",")
        if kind == "grad" and work and result.startswith("(") and \
                all(n.isidentifier() for n in named):
            # the gradients are already names: test and return them (no repacking)
            assign, target, outs = [], result.strip("()"), named
        results = " and ".join([f"type({o}) is float" for o in outs]
                               + ([f"{_finite_product(outs)} == 0.0"] if outs else [])) or "True"
        body = [*("    " + w for w in work), *assign]
        if numeric:
            # NumPy (a NumPy scalar, a ufunc, a table impl) warns where Python floats raise: the
            # body runs under STRICT, as the full path does, so that a point outside the domain
            # is an exception handed to the full path, never a RuntimeWarning and a NaN (a
            # context variable set and reset, not np.errstate's ~1.5 µs; pure-math bodies pay
            # nothing)
            body = ["        _token = _set_errstate(_STRICT_STATE)", "        try:",
                    *("    " + w for w in body), "        finally:",
                    "            _reset_errstate(_token)"]
        # RuntimeWarning: a warning turned into an error (warnings.simplefilter("error")); the
        # full path names the error
        lines = [f"def entry({params}):", f"    if not ({inputs}):", f"        return {fallback}",
                 "    try:", *body,
                 "    except (ArithmeticError, ValueError, RuntimeWarning):",
                 f"        return {fallback}",
                 f"    return ({target}) if {results} else {fallback}"]
        return self._entry(kind, f"{kind} for floats", lines, _otherwise=otherwise,
                           _MISSING=_MISSING, _set_errstate=_set_errstate,
                           _reset_errstate=_reset_errstate, _STRICT_STATE=_STRICT_STATE)

    def updating(self, updates: Sequence[tuple[int, int]]) -> Any:
        """A whole training step as one generated function: ``value_and_grad`` followed by
        plain SGD, θᵢ −= η·gⱼ written into argument i for each (i, j) of `updates` (j: the
        gradient's index), η from the last argument (a tuple, one rate per update). The update
        is the optimizer's own operation (``v -= lr * g``: the same θ, bit for bit); the
        caller makes sure that argument i may be written (nothing else sees it) and that gⱼ
        has its dtype and shape. Returns what ``value_and_grad`` returns."""
        names, work, result = self._pieces("value_and_grad")
        lines = [f"def entry({', '.join([*names, '_lr'])}):", *work, f"    _v, _g = {result}",
                 *(f"    {names[i]} -= _lr[{k}] * _g[{j}]" for k, (i, j) in enumerate(updates)),
                 "    return _v, _g"]
        return self._entry("value_and_grad", "training step", lines)

    def on_module(self, xp: Any, fuse: Any = None,
                  dtypes: dict[str, dict[str, np.dtype]] | None = None) -> CompiledGradient:
        """This code run by array module `xp` (CuPy): the text generated for NumPy, executed
        where ``np`` names `xp` (:func:`diffkit.backend.generated_code_module`), each table
        impl it calls bound to `xp` and each constant array copied to it. Given `fuse`, a
        decorator (``cupy.fuse()``), and `dtypes` for a function (its values' dtypes, which
        :meth:`recorded` reads on NumPy), each run of element-wise lines becomes one function
        it wraps: one kernel on a GPU (:func:`.fusion.fuse_runs`).
        The same operations on the same operands: the results differ from NumPy's by the
        device's rounding only (its matrix products sum in another order), so the caller
        compares them with NumPy's where it first runs them (:func:`disagreement`).
        Every function is generated first (those refused stay refused)."""
        from ..backend import generated_code_module

        for kind in list(self._makers):
            try:
                self._function(kind)
            except TracingError:  # code that disagreed with its trace: not carried
                pass

        code_np = generated_code_module(xp)
        ns: dict[str, Any] = {}
        for k, v in self._ns.items():
            if k in self._parts or k == "__builtins__":
                continue  # a generated function: made again below
            if v is np:
                v = code_np
            elif isinstance(v, functools.partial) and v.args and v.args[0] is np:
                v = functools.partial(v.func, xp, *v.args[1:], **v.keywords)
            elif type(v) is np.ndarray:
                v = xp.asarray(v)
            ns[k] = v
        twin = CompiledGradient(self.function, self.shapes, self.wrt, self._header, {}, ns,
                                self.dtypes)
        twin.out_shape = self.out_shape
        twin.fused_sources = ns["_fused_sources"] = []  # filled as functions are made
        for kind in self._order:
            if kind in self._parts:
                twin._order.append(kind)
                twin._makers[kind] = functools.partial(_maker_on_module, self._parts[kind],
                                                       self.stats[kind], ns,
                                                       fuse, (dtypes or {}).get(kind))
        return twin

    def recorded(self, kind: str, *args: Any) -> tuple[Any, dict[str, np.dtype]]:
        """(generated function `kind` on NumPy `args`, the dtype of every value it made on the
        way): what :meth:`on_module` types a fused kernel's numbers by."""
        from .fusion import record_dtypes

        self._function(kind)
        return record_dtypes(self._parts[kind], self._ns, list(args))

    def _pieces(self, kind: str) -> tuple[list[str], list[str], str]:
        """Generated function `kind` taken apart, for entries that print their own code around
        it: (its parameters, its body's lines, its result's expression). A long body is called
        (one frame), not compiled a second time."""
        head, *body = self._parts[kind].split("\n")
        names = [a.strip() for a in head[head.index("(") + 1:head.index(")")].split(",")
                 if a.strip()]
        *work, last = body
        if len(work) > _INLINE_ENTRY:
            return names, [], f"_code({', '.join(names)})"
        return names, work, last.strip().removeprefix("return ")

    def _entry(self, kind: str, what: str, lines: list[str], **names: Any) -> Any:
        """Compile an entry's `lines` (a function ``entry``) beside generated function `kind`
        (``_code`` in its namespace), with `names` added to that namespace."""
        ns = dict(self._ns, _code=self._function(kind), **names)
        code = compile(self._header + "\n\n\n" + "\n".join(lines) + "\n",
                       f"<diffkit compiled {what}>", "exec")
        exec(code, ns)  # noqa: S102 - our own generated source, identifiers are ours
        return ns["entry"]

    def _scaled(self, *args_and_ct: Any) -> tuple[Any, tuple[Any, ...]]:
        """A scalar output's pullback: the gradient times the cotangent."""
        *args, ct = args_and_ct
        value, grads = self._vg(*args)
        ct = float(np.reshape(ct, ()))
        return value, tuple(g * ct for g in grads)

    def run(self, kind: str, *args: Any) -> Any:
        """Generated function `kind` ("value_and_grad", "grad" or "vjp") on `args` unchecked:
        for callers that looked the code up by the arguments' signature."""
        made = self._vjp if kind == "vjp" else self._function(kind)
        if made is None:
            raise ShapeError("grad needs a scalar output: use .vjp")
        try:
            return made(*args)
        except (ZeroDivisionError, ValueError, FloatingPointError, OverflowError) as exc:
            raise _domain(exc) from None

    def _checked(self, args: Sequence[Any], extra: int = 0) -> list[Any]:
        """The arguments must have the shapes the code was generated for (sizes are printed into
        it: a mean's count, a reshape): a ShapeError, not a number for other shapes; and its
        dtypes (a TracingError: float32 code would answer float64 arguments in float32). A NaN or
        infinite argument is a DomainError naming it, as in ``dk.grad``."""
        given = [a if type(a) is float else as_input(a)  # integers as float64
                 for a in args[:len(args) - extra]]
        if any(np.asarray(a).dtype.kind != "f" for a in given):
            raise TracingError("compiled gradients take real float arrays or numbers (an integer "
                               "is read as float64), not complex values: use dk.grad")
        shapes = tuple(np.shape(a) for a in given)
        if shapes != self.shapes:
            raise ShapeError(f"this compiled gradient of {self.function.name} was generated for "
                             f"arguments of shapes {self.shapes}, got {shapes}: compile it for "
                             "these shapes (dk.compile_gradient(f, *args)) or use dk.grad")
        dtypes = tuple(np.asarray(a).dtype for a in given)
        if self.dtypes is not None and dtypes != self.dtypes:
            # its constants and casts are printed for those dtypes: float32 code on float64
            # arguments would answer float32 precision
            raise TracingError(f"this compiled gradient of {self.function.name} was generated for "
                               f"arguments of dtypes {tuple(d.name for d in self.dtypes)}, got "
                               f"{tuple(d.name for d in dtypes)}: compile it for these dtypes "
                               "(dk.compile_gradient(f, *args)) or use dk.grad")
        for name, a in zip(self.function.inputs, given, strict=True):
            self.function.check_finite(name, finite(a))
        if self.function.domain is not None:  # SymPy's assumptions (Function.coerce)
            self.function.coerce(given, self.wrt)
        return [*given, *args[len(args) - extra:]]

    def _strict(self, kind: str, *args: Any) -> Any:
        """:meth:`run` with NumPy's errors raised, its answer in the arguments' forms (as
        ``dk.value_and_grad`` gives them: :func:`like`). Where the code raises or its result is
        not finite, the reverse engine answers at this point, as ``method='compiled'`` does
        (:meth:`_interpreted`): 0·∞ = 0 where the zero holds near the point (sqrt(0·x) + y has
        gradient (0, 1)), else its named error (the infinite partial, the point outside the
        domain, the overflow)."""
        try:
            with np.errstate(**STRICT):
                out = self.run(kind, *args)
            values = (out[0], *out[1]) if kind != "grad" else out
            if not all(finite(v) for v in values):
                out = self._interpreted(kind, args)
        except DiffkitError:
            out = self._interpreted(kind, args)
        given = args[:len(self.shapes)]
        grads = tuple(like(g, given[i]) for g, i in zip(out if kind == "grad" else out[1],
                                                        self.wrt, strict=True))
        return grads if kind == "grad" else (to_python(out[0]), grads)

    def _interpreted(self, kind: str, args: Sequence[Any]) -> Any:
        """What `kind` gives at `args` by the reverse engine on the trace this code was printed
        from (the compiled engine's fallback): its strong products and flat-zero audit decide
        0·∞, and its errors name the operation."""
        from .reverse import ReverseEngine

        xs = [as_input(a) for a in args[:len(self.shapes)]]
        body = self.function.freeze(*xs)[0]
        engine = ReverseEngine()
        with np.errstate(**STRICT):
            if kind == "vjp":
                out, pullback = engine.vjp(body, xs, list(self.wrt))
                return out, pullback(args[-1])
            out, grads = engine.value_and_grad(body, xs, list(self.wrt))
        return grads if kind == "grad" else (out, grads)

    def __call__(self, *args: Any) -> tuple[Any, tuple[Any, ...]]:
        """(value, gradients) at `args` (of the shapes it was generated for)."""
        return self._strict("value_and_grad", *self._checked(args))

    def grad(self, *args: Any) -> tuple[Any, ...]:
        """The gradients only (one per wrt input)."""
        return self._strict("grad", *self._checked(args))

    def vjp(self, *args_and_ct: Any) -> tuple[Any, tuple[Any, ...]]:
        """(f(args), ctᵀ·J): the last argument is the cotangent, shaped like the output."""
        *args, ct = self._checked(args_and_ct, extra=1)
        check_cotangent(ct, self.out_shape)
        return self._strict("vjp", *args, np.reshape(ct, self.out_shape))

    def __repr__(self) -> str:
        return f"<CompiledGradient of {self.function.name} at shapes {self.shapes}>"


#: the default of a float entry's parameters: an argument the caller did not pass
_MISSING = object()
#: longest body a float entry copies in (beyond it, the entry calls the generated function)
_INLINE_ENTRY = 200


def _strict_state() -> tuple[Any, Any, Any]:
    """(set, reset, state): enter and leave ``np.errstate(**STRICT)`` through NumPy's context
    variable (what ``np.errstate`` does, without building its state at every call); NumPy
    without that variable: np.errstate itself."""
    try:
        from numpy._core import _ufunc_config as config

        state = config._make_extobj(**STRICT)
        variable = config._extobj_contextvar
        return variable.set, variable.reset, state
    except (ImportError, AttributeError, TypeError):  # another NumPy: the public context manager
        def enter(kwargs: dict[str, str]) -> Any:
            manager = np.errstate(**kwargs)
            manager.__enter__()
            return manager

        return enter, lambda manager: manager.__exit__(None, None, None), dict(STRICT)


_set_errstate, _reset_errstate, _STRICT_STATE = _strict_state()

#: names a generated body may use without reaching NumPy (Python floats and ``math`` only)
_PURE_NAMES = frozenset({"math", "_outside", "_not_finite"})


def _may_reach_numpy(text: str, ns: dict[str, Any]) -> bool:
    """Whether generated function `text` may call NumPy (or a table impl, or read a constant
    array): any module-level name but ``math`` and the checks. Python floats and ``math`` raise
    (ZeroDivisionError, ValueError, OverflowError) where NumPy would warn."""
    body = re.sub(r"'[^'\\]*'|\"[^\"\\]*\"", "", text.split("\n", 1)[-1])  # no string literals
    return any(name in ns and name not in _PURE_NAMES
               for name in re.findall(r"(?<![\w.])[A-Za-z_]\w*", body))


def _domain(exc: Exception) -> DomainError:
    if isinstance(exc, OverflowError) or "overflow" in str(exc):
        return NumericOverflowError(f"compiled gradient: a value overflows ({exc}); use "
                                    "method='reverse' to see which operation")
    return DomainError(f"compiled gradient: point outside the domain ({exc}); use "
                       "method='reverse' to see which operation")


def compile_gradient(f: Any, *args: Any, wrt: Sequence[int] | None = None) -> CompiledGradient:
    """Compile value+gradient of `f` at the signature of `args` (shapes and dtypes).

    The code is a snapshot of `f` traced at `args`: values `f` reads that are not its arguments
    are frozen in it (``dk.jit``'s contract). It is cached for pure and jit functions.

    Example:
        >>> import diffkit as dk
        >>> cg = dk.compile_gradient("x**2 * y", 3.0, 2.0)
        >>> cg.grad(3.0, 2.0)
        (12.0, 9.0)
    """
    fn = as_function(f)
    fn.check_arity(args)
    wrt_t = tuple(fn.positions(wrt))
    held = [i for i, a in enumerate(args) if i not in wrt_t and not fn.pure and
            isinstance(a, np.ndarray | np.generic) and a.dtype.kind in "iu" and
            a.dtype.itemsize < 8]
    if held:  # read as float64, narrow integer data would not wrap as NumPy computes it
        # (int64 labels and bool masks read as float64 exactly, as before)
        raise TracingError(
            f"compile_gradient takes float arguments, and argument {held[0]} is "
            f"{args[held[0]].dtype} data that is not differentiated (its integer "
            "arithmetic would be read as floats): use dk.grad(f, argnums=..., "
            "method='compiled'), which passes it as given")
    xs = [as_input(a) for a in args]
    if any(type(x) is Tensor or np.asarray(x).dtype.kind != "f" for x in xs):
        raise TracingError("compile_gradient takes real float arrays or numbers (not Tensors or "
                           "complex values): use method='reverse'")
    key = ("compiled", signature(xs), wrt_t)
    cached = fn.cache.get(key)
    if cached is None:
        with np.errstate(**STRICT):  # a point outside the domain is refused, as dk.grad does
            try:
                cached = _build(fn, xs, wrt_t)
            except TracingError:
                raise
            except DiffkitError as exc:  # the traced rules are singular at this point
                return _without_code(fn, xs, wrt_t, exc)  # (not cached: a regular point's
                # call compiles the signature's code)
        if fn.reusable:
            fn.cache[key] = cached
    return cached


def _without_code(fn: Function, xs: list[Any], wrt: tuple[int, ...], exc: DiffkitError
                  ) -> CompiledGradient:
    """A CompiledGradient of no code for a point where the traced derivative meets an infinite
    partial (sqrt(0·x) + y: sqrt′(0) = ∞): every call is interpreted (the reverse engine,
    :meth:`CompiledGradient._interpreted`), as ``method='compiled'`` interprets such a point.
    Where the reverse engine has no answer here either (its audit finds the zero live, or the
    point is outside the domain), its named error is raised now, as before."""
    from .reverse import ReverseEngine

    body = fn.freeze(*xs)[0]
    value = body.evaluate(*xs)
    engine = ReverseEngine()
    scalar_out = _one_element(np.shape(value))
    if scalar_out:  # the engine's decision at this point: its answer, or its named error
        engine.value_and_grad(body, xs, list(wrt))
    else:
        engine.vjp(body, xs, list(wrt))[1](np.ones(np.shape(value)))
    refused = TracingError(f"compiled gradient of {fn.name}: no code was generated at the point "
                           f"it was compiled at ({exc}); its calls run the reverse engine")
    kinds = ("value_and_grad", "grad") if scalar_out else ("vjp",)
    cg = CompiledGradient(fn, tuple(np.shape(x) for x in xs), wrt, "",
                          {k: functools.partial(_refuse, refused) for k in kinds}, {},
                          tuple(np.asarray(x).dtype for x in xs))
    cg.out_shape = tuple(np.shape(value))
    return cg


def _trace(fn: Function, xs: list[Any], wrt: tuple[int, ...], graph: Graph | None = None
           ) -> tuple[list[Node], Any, tuple[Any, ...], Node | None]:
    """The reverse engine run on Tensors: input nodes, output, gradients (Tensors or constants),
    and the cotangent's input node (None for a one-element output, whose cotangent is the seed
    1 in its dtype, which the simplifier folds away).

    A pure function (parsed, SymPy, a jit function's replay) is traced once, on its values
    (`graph`: that trace, where the caller has it), and the reverse engine runs on that graph
    :func:`lifted` onto a tape; any other is traced on Tensors of the tape (nested). The forward
    graph is checked for branches, size (:data:`MAX_COMPILED_NODES`) and complex values before
    the adjoint graph is built."""
    from .reverse import ReverseEngine

    if graph is None and fn.pure:
        graph = fn.trace(*xs, wrt=wrt)
    with new_tape() as tape:
        if graph is None:
            # a Python body may read values out of inputs it does not differentiate (nn's
            # losses read a label array): traced on Tensors of `tape`, such reads stay traced
            ins = [Tensor(Node(None, (), {}, x, name=f"a{i}"), tape) for i, x in enumerate(xs)]
            inputs = [t.node for t in ins]  # before the body runs (an in-place update moves t)
            graph = fn.trace(*ins, wrt=wrt)
            swept = graph
        else:
            inputs, swept = list(graph.inputs), lifted(graph, tape)
        _compilable(fn, graph, graph.value_dependent or tape.value_dependent)
        out, pull = ReverseEngine._pullback(swept, list(wrt))
        value = out.node.value if type(out) is Tensor else out
        ct_node = None
        if _one_element(np.shape(value)):
            grads = pull(unit_cotangent(value))
        else:
            ct_t = Tensor(Node(None, (), {}, np.ones(np.shape(value)), name="ct"), tape)
            ct_node = ct_t.node
            grads = pull(ct_t)
        if tape.value_dependent:  # the derivative's rules branched
            _compilable(fn, graph, True)
    return inputs, out, tuple(grads), ct_node


def _compilable(fn: Function, graph: Graph, branches: bool) -> None:
    """TracingError where the forward graph is not compiled: a trace that branched on its
    inputs' values, too large a graph, complex values."""
    if branches:
        raise TracingError(f"{fn.name} branches on its input values, so one compiled program "
                           "cannot serve every point: use method='reverse'")
    size = sum(1 for n in graph.nodes if n.prim is not None)
    if size > MAX_COMPILED_NODES:
        raise TooLargeToCompile(f"{fn.name} has {size} operations, above the "
                                f"{MAX_COMPILED_NODES} that are compiled: it runs interpreted")
    if any(np.dtype(n.dtype).kind == "c" for n in graph.nodes):
        # generated code is real (scalars through math.*): exp(1j·x) of a real x is interpreted
        raise TracingError(f"{fn.name} computes complex values: it runs interpreted")


def lifted(graph: Graph, tape: Any) -> Graph:
    """`graph` with each input's and each operation's value a Tensor of `tape` whose node is that
    node of `graph` (constants stay plain).

    The reverse engine run on it records the adjoint graph on `tape`, over `graph`'s own nodes:
    what tracing the function a second time on Tensors of `tape` records (the same primitives on
    the same values, hence the same nodes), without that second forward pass."""
    twin: dict[int, Node] = {}
    nodes = []
    for n in graph.nodes:
        value = n.value if n.prim is None and n.name is None else Tensor(n, tape)
        nodes.append(t := n.twin(tuple(twin[i.id] for i in n.inputs), value))
        twin[n.id] = t
    return Graph([twin[n.id] for n in graph.inputs], twin[graph.output.id],
                 graph.value_dependent, nodes=nodes)


def _one_element(shape: tuple[int, ...]) -> bool:
    """Whether an output of this shape is a scalar to differentiate (its gradient compiled)
    rather than a vector to pull back (its VJP compiled)."""
    return math.prod(shape) == 1 and shape in ((), (1,))


#: scalar expressions read once are written into their use, nested at most this deep
MAX_INLINE = 6

#: Graphs with more primitive applications than this are not compiled (the generated source and
#: Python's compiler need memory and time in proportion; the interpreter runs them).
MAX_COMPILED_NODES = 50_000


class TooLargeToCompile(TracingError):
    """The function's graph is above :data:`MAX_COMPILED_NODES`: interpret it."""


def _build(fn: Function, xs: list[Any], wrt: tuple[int, ...]) -> CompiledGradient:
    # a jit function's first trace at this signature, as its call's code (and that trace
    # itself, where this call made it: the replay's graph at xs, not traced again)
    body, first = fn.freeze(*xs)
    ins, out, grads, ct_node = _trace(body, xs, wrt, first)
    ns: dict[str, Any] = {"np": np, "math": math, "_outside": _outside,
                         "_not_finite": _not_finite}
    about = (f"{fn.name}({', '.join(fn.inputs)}): "
             + ", ".join(f"a{i} = {n}" for i, n in enumerate(fn.inputs)))
    header = f"# generated by diffkit\nABOUT = {about!r}"  # user text only as an escaped literal
    params = [f"a{i}" for i in range(len(xs))]
    shape = np.shape(out.node.value if type(out) is Tensor else out)
    scalar_out = ct_node is None
    if scalar_out:  # the gradient: cotangent 1, which the simplifier then folds away
        checks = _domain_checks(out)
        makers = {
            "value_and_grad": functools.partial(_emit, "value_and_grad", ins, params,
                                                [out, *grads], 1, ns),
            "grad": functools.partial(_emit, "grad", ins, params, list(grads), 0, ns,
                                      checks=checks),
        }
    else:  # a vector output: the pullback, with the cotangent as an argument
        makers = {"vjp": functools.partial(_emit, "vjp", [*ins, ct_node], [*params, "ct"],
                                           [out, *grads], 1, ns)}
    cg = CompiledGradient(fn, tuple(np.shape(x) for x in xs), wrt, header, makers, ns,
                          tuple(np.asarray(x).dtype for x in xs))
    cg.out_shape = tuple(shape)
    if scalar_out:
        cg._expected = (xs, [_plain(v) for v in (out, *grads)])
    return cg


def _domain_checks(out: Any) -> list[Tensor]:
    """The primal values with a restricted domain (log, sqrt, …): gradient-only code checks them
    too (by the record's ``valid`` comparison, else by computing them and testing that they are
    finite: SciPy answers NaN, where NumPy under STRICT raises), so that a point outside the
    domain is an error there as well, never a silent number."""
    if type(out) is not Tensor:
        return []
    return [Tensor(n, out.tape) for n in toposort([out.node])
            if n.prim is not None and n.prim.domain_text]


def compile_step(body: Any, xs: Sequence[Any], wrt: Sequence[int], names: Sequence[str]
                 ) -> CompiledGradient:
    """Generated code for one training step: ``body(*inputs) -> (loss, aux)`` with a scalar
    loss; the code returns ``((loss, aux), grads of the wrt inputs)``.

    Like :func:`compile_gradient`, it is a snapshot of one trace, valid where the body is a pure
    function of its inputs (the caller decides that); a trace that read numbers out of its
    inputs (a branch) is refused with TracingError, and so is a body too large to compile."""
    captured: list[Any] = []

    def loss_only(*args: Any) -> Any:
        loss, aux = body(*args)
        captured.append(aux)
        return loss

    fn = Function(loss_only, list(names), name="step")
    xs = [as_input(x) for x in xs]
    wrt_t = tuple(wrt)
    ins, out, grads, ct_node = _trace(fn, xs, wrt_t)
    if ct_node is not None:
        shape = np.shape(out.node.value if type(out) is Tensor else out)
        raise ShapeError(f"a training step needs a scalar loss, got shape {shape}")
    aux = captured[-1]
    aux = aux.node.value if type(aux) is Tensor and type(aux.node.value) is Tensor else aux
    ns: dict[str, Any] = {"np": np, "math": math, "_outside": _outside,
                         "_not_finite": _not_finite}
    header = "# generated by diffkit: a training step"
    params = [f"a{i}" for i in range(len(xs))]
    makers = {"value_and_grad": functools.partial(_emit, "value_and_grad", ins, params,
                                                  [out, aux, *grads], 2, ns,
                                                  checks=_domain_checks(out))}
    cg = CompiledGradient(fn, tuple(np.shape(x) for x in xs), wrt_t, header, makers, ns,
                          tuple(np.asarray(x).dtype for x in xs))
    cg._function("value_and_grad")  # generate now: a step is compiled to be run
    return cg


def compile_value(fn: Function, xs: Sequence[Any]) -> Any:
    """Generated code that evaluates `fn` at the signature of `xs` (what calling a ``dk.jit``
    function runs): its trace — nested derivatives included, so a functional training step
    compiles forward, backward and update into one function — printed as straight-line code.
    Returns ``code(*xs) -> value``. TracingError where the trace read numbers out of its inputs
    (a branch), the output does not depend on them, or the graph is too large to compile."""
    body = fn.frozen(*xs)  # a jit function's first trace at this signature, as its gradients'
    body.__dict__.pop("_first", None)  # (its first graph is not lifted here: run on Tensors)
    with new_tape() as tape:
        ins = [Tensor(Node(None, (), {}, x, name=f"a{i}"), tape) for i, x in enumerate(xs)]
        in_nodes = [t.node for t in ins]  # before the body runs (an in-place update moves t)
        out = body.run_body(*ins)
        if tape.value_dependent:
            raise TracingError(f"{fn.name} branches on its input values: evaluated at each call")
    if type(out) is not Tensor or out.tape is not tape:
        raise TracingError(f"{fn.name}: the output does not depend on the inputs")
    size = sum(1 for n in toposort([out.node]) if n.prim is not None)
    if size > MAX_COMPILED_NODES:
        raise TooLargeToCompile(f"{fn.name} has {size} operations: it runs interpreted")
    ns: dict[str, Any] = {"np": np, "math": math, "_outside": _outside,
                         "_not_finite": _not_finite}
    params = [f"a{i}" for i in range(len(xs))]
    kept = tape.checks or ()  # a derivative's primal domains, inputs, results (note_check)
    shown = _in_output(out.node)  # tested by the caller (evaluate_jit: a finite output)
    lines, _ = _emit("value", in_nodes, params, [out], 1, ns,
                     checks=_domain_checks(out) + [t for t, m in kept if m is None],
                     finite=[t for t, m in kept if m is not None and t.node.id not in shown])
    header = "# generated by diffkit: a jit function's evaluation"  # no user text at all
    code = compile(header + "\n\n\n" + "\n".join(lines) + "\n", "<diffkit compiled value>", "exec")
    exec(code, ns)  # noqa: S102 - our own generated source, identifiers are ours
    made = ns["value"]
    with np.errstate(all="ignore"):
        got = made(*xs)
    if not _agrees(got, out.node.value):
        raise TracingError(f"internal: compiled evaluation of {fn.name} disagrees with its trace")
    return made


def _in_output(node: Node) -> set[int]:
    """The ids of `node` and of the values it holds every element of as they are (the pieces
    of a tuple output, reshaped and concatenated): a test of the output tests them."""
    out, todo = set(), [node]
    while todo:
        n = todo.pop()
        out.add(n.id)
        if n.prim is not None and n.prim.name in ("concatenate", "reshape"):
            todo.extend(n.inputs)
    return out


def _maker_on_module(text: str, stats: int, ns: dict[str, Any], fuse: Any,
             dtypes: dict[str, np.dtype] | None) -> tuple[list[str], int]:
    """The maker of a generated function carried to another array module (see
    :meth:`CompiledGradient.on_module`): its text, fused where `fuse` is given."""
    if fuse is not None and dtypes is not None:  # (fused only where every dtype is known)
        from .fusion import fuse_runs

        text, helpers = fuse_runs(text, fuse, ns, dtypes)
        ns["_fused_sources"].extend(helpers)
    return text.split("\n"), stats


def on_device(code: CompiledGradient, xp: Any, host: Sequence[Any], args: Sequence[Any],
              kinds: Sequence[str] = ("value_and_grad",)) -> CompiledGradient | str:
    """`code` (generated from NumPy copies `host` of `args`) carried to array module `xp`
    (CuPy) — element-wise runs fused into single kernels where that works, else as printed —
    and kept only where each function of `kinds` gives on `args` what it gives on `host` to
    the device's rounding (:func:`disagreement`, measured against the same code run in
    float64); else why not (the caller then interprets)."""
    want: dict[str, Any] = {}
    dtypes: dict[str, dict[str, np.dtype]] = {}
    exact: dict[str, Any] = {}
    wide = [a.astype(np.float64) if getattr(a, "dtype", None) is not None and
            a.dtype.kind == "f" else a for a in host]
    with np.errstate(all="ignore"):
        for kind in kinds:
            want[kind], dtypes[kind] = code.recorded(kind, *host)
            try:  # the answer the rounding is measured against
                exact[kind] = code.run(kind, *wide)
            except (ArithmeticError, ValueError, TypeError, DiffkitError):
                exact[kind] = None
    reasons = []
    for fuse in (getattr(xp, "fuse", None), None):
        twin = code.on_module(xp, None if fuse is None else fuse(), dtypes)
        why = None
        for kind in kinds:
            try:
                got = twin.run(kind, *args)
            except Exception as exc:  # noqa: BLE001 - CuPy's compilers raise many kinds: named
                why = f"{type(exc).__name__}: {exc}"
            else:
                why = disagreement(got, want[kind], exact[kind], kind)
            if why is not None:
                break
        if why is None:
            twin.fused = fuse is not None
            return twin
        reasons.append(why)
    return f"its generated code does not run on {getattr(xp, '__name__', xp)} as on NumPy " \
           f"({'; '.join(reasons)})"


def disagreement(got: Any, want: Any, exact: Any = None, where: str = "result") -> str | None:
    """Where generated code's results on another array module (`got`: CuPy arrays) differ from
    its NumPy results `want` (nests of tuples) by more than that device's rounding, or None.
    Each result must have NumPy's shape and dtype, and its NaN and ±inf where NumPy has them.
    Its error against `exact` (the same code run in float64 on NumPy; None: `want`) may be
    the larger of 8 times NumPy's own error and a share of the answer's norm (1 % in float32
    and float16, 1e-8 in float64), plus 64 units of rounding. A GPU's matrix products sum in
    another order (as accurate as NumPy's: 4.7e-7 against 3.8e-7 relative for a float32
    512×4096×4096 product on an H200, PyTorch's 4.7e-7), and two equally accurate answers
    can still be far apart: a near-cancelling sum (a bias gradient of saturated softmax
    rows), or a ReLU input that rounds to the other side of 0 on one of them — one of the 2
    million pre-activations of a 4096-wide layer at batch 512 moves that layer's weight
    gradient by ~1e-3 relative (seen: 2e-3 between an H200 and NumPy). A different
    computation (an operation, an axis, a broadcast, a dtype that CuPy reads otherwise than
    NumPy) misses by far more."""
    from ..backend import to_numpy

    if isinstance(want, tuple):
        if not isinstance(got, tuple) or len(got) != len(want):
            return f"{where}: {type(got).__name__} where NumPy gives a tuple of {len(want)}"
        ex = exact if isinstance(exact, tuple) and len(exact) == len(want) else [None] * len(want)
        for k, (g, w, e) in enumerate(zip(got, want, ex, strict=True)):
            if (why := disagreement(g, w, e, f"{where}[{k}]")) is not None:
                return why
        return None
    g, w = np.asarray(to_numpy(got)), np.asarray(to_numpy(want))
    if g.shape != w.shape or g.dtype != w.dtype:
        return f"{where}: {g.dtype}{list(g.shape)} where NumPy gives {w.dtype}{list(w.shape)}"
    dtype = g.dtype
    if g.dtype.kind not in "fc":
        return None if np.array_equal(g, w) else f"{where}: other values than NumPy's"
    finite = np.isfinite(w)  # NaN and ±inf where NumPy has them, the same ones
    if not np.array_equal(np.isfinite(g), finite) or \
            not np.array_equal(g[~finite], w[~finite], equal_nan=True):
        return f"{where}: NaN or ±inf where NumPy's are not"
    r = np.asarray(to_numpy(exact)) if exact is not None else w
    if r.shape != w.shape:
        r = w
    r = r.astype(np.complex128)[finite]
    g, w = g[finite].astype(np.complex128), w[finite].astype(np.complex128)
    eps = float(np.finfo(dtype).eps)
    share = 1e-8 if eps < 1e-10 else 1e-2
    off, own, size = (float(np.linalg.norm(g - r)), float(np.linalg.norm(w - r)),
                      float(np.linalg.norm(r)))
    bound = max(8 * own, share * size) + 64 * eps * size
    if off <= bound:
        return None
    return f"{where}: off by {off:.3g} from the float64 answer, where NumPy's is off by {own:.3g}"


def _finite_product(names: Sequence[str]) -> str:
    """``0.0 * a * b …``: 0.0 for finite floats a, b, …; NaN as soon as one is ±inf or NaN."""
    return " * ".join(["0.0", *names])


def _outside(name: str) -> None:
    """Raised by generated code whose domain check (the record's ``valid``) failed."""
    raise ValueError(f"{name} outside its domain")


def _not_finite(name: str, value: Any) -> None:
    """Raised by gradient-only code where a value it computes only to check it (a primitive with
    a restricted domain and no ``valid`` rule) is not finite: an overflow where it is infinite,
    else outside the domain — the errors NumPy raises there under ``np.errstate(**STRICT)``,
    which SciPy's NaNs (scipy.special.logit(2.0)) and Python floats do not."""
    if np.all(np.isnan(value)):
        raise ValueError(f"{name} outside its domain (not a number)")
    raise OverflowError(f"{name} overflows (not finite)")


#: the operators whose Python-float form overflows silently (1e200 * 1e200 is inf, where NumPy
#: under STRICT raises; math's functions raise OverflowError themselves) — pow's too, whose
#: float form squares by x * x and takes the reciprocal by 1.0 / x as NumPy's power does
_SILENT_OVERFLOW = (add, sub, mul, div, pow)


@functools.cache
def _integer_form(prim: Primitive) -> bool:
    """Whether `prim`'s scalar code keeps NumPy's kind of result on integers (signum's float
    form gives 1.0 where NumPy's sign of an int is the int 1): read off the table on 1s."""
    if prim.scalar is None or prim.on_floats is None or not prim.nargs:
        return True  # rendered from the impl, or a math function (a float, as NumPy's)
    try:
        with np.errstate(all="ignore"):  # (arctanh(1): a probe, not a user's warning)
            want = np.asarray(prim.impl(np, *[np.int64(1)] * prim.nargs)).dtype.kind
        got = type(prim.on_floats(*[1] * prim.nargs))
    except Exception:  # noqa: BLE001 - no integer form: array code
        return False
    return (got is float) == (want == "f")


@functools.cache
def _carries(prim: Primitive, k: int) -> bool:
    """Whether the Python-float form of `prim` hands a non-finite k-th operand on — a non-finite
    result or an exception, whatever its other (finite) operands — so that an overflow before it
    cannot vanish on the way to the result, which callers test. Read off the table's float form
    on ±inf and NaN beside a spread of finite operands; unary minus by definition. False where
    it may absorb one (x / inf = 0, tanh(inf) = 1, a comparison) or has no float form."""
    if prim is neg:
        return True
    fn = prim.on_floats
    if fn is None or not 0 <= k < (prim.nargs or 0):
        return False
    partners = (0.0, 1.0, -2.5, 1e-300, 1e300)
    for bad in (math.inf, -math.inf, math.nan):
        for other in partners:
            args = [other] * prim.nargs
            args[k] = bad
            try:
                out = fn(*args)
            except Exception:  # noqa: BLE001, S112 - raising hands it on (to the full path)
                continue
            if type(out) is not float or math.isfinite(out):
                return False
    return True


def _guarded(order: Sequence[Any], tests: Sequence[Any]) -> set[int]:
    """The scalar values that an overflow could make infinite silently — a ``+ − × ÷`` of
    Python floats, or what is computed from one — where an operation that may absorb ±inf reads
    them (a divisor, tanh, a comparison, a domain test): printed under a name and tested finite
    where computed. Elsewhere a non-finite value reaches the results, which every caller tests
    (a jit call at exp(x)/sqrt(exp(x)² + 1) answered 0.0 for 1.0 where exp(x)² overflowed)."""
    maybe: set[int] = set()  # scalars an overflow may have made non-finite
    absorbed: set[int] = set()  # values read where ±inf may vanish
    for v in order:
        if not v.shape and np.dtype(v.dtype).kind in "fc" and (
                v.prim in _SILENT_OVERFLOW or any(id(a) in maybe for a in v.args)):
            maybe.add(id(v))
        for k, a in enumerate(v.args):
            if not _carries(v.prim, k):
                absorbed.add(id(a))
    for c in tests:
        absorbed.update(id(a) for a in c.args)
    return maybe & absorbed


def _emit(kind: str, inputs: list[Node], params: list[str], roots: list[Any], n_value: int,
          ns: dict[str, Any], checks: Sequence[Tensor] = (), finite: Sequence[Tensor] = ()
          ) -> tuple[list[str], int]:
    """Simplify the traced graph and print it as one function (`checks` are computed, not
    returned; `finite` are tested finite: a differentiated input, first)."""
    vals: dict[int, _Val] = {}
    for node, name in zip(inputs, params):
        vals[node.id] = _Val(None, [], {}, node.shape, node.dtype, name=name)
    root_nodes = [r.node for r in [*roots, *checks, *finite] if type(r) is Tensor]
    _convert(toposort(root_nodes), vals, {})

    def val_of(r: Any) -> _Val:
        if type(r) is Tensor:
            return _resolve(vals[r.node.id])
        return _Val(None, [], {}, np.shape(r), getattr(r, "dtype", float), const=r)

    root_vals = [val_of(r) for r in roots]
    live = _live(root_vals)
    needed = {id(v) for v in live}
    tests: list[_Val] = []  # domain checks done as the record's comparison (log: x > 0)
    computed: list[_Val] = []  # domain checks done by computing the value (no `valid` rule)
    for c in (val_of(c) for c in checks):
        if c.prim is None or id(c) in needed:
            continue
        (tests if c.prim.valid is not None and _test_text(c, ["x"] * len(c.args)) else
         computed).append(c)
    finite_vals = list({id(v): v for v in map(val_of, finite) if not v.is_const}.values())
    extra = computed + [a for c in tests for a in c.args if id(a) not in needed] + \
        [v for v in finite_vals if v.prim is not None and id(v) not in needed]
    order = _live(root_vals + extra) if extra else live  # the checks' operations, if any, too
    names: dict[int, str] = {id(v): v.name for v in vals.values() if v.name}
    lines = [f"def {kind}({', '.join(params)}):"]
    lines.extend(_finite_test(v.name, v) for v in finite_vals if v.prim is None and v.name)
    finite_vals = [v for v in finite_vals if v.prim is not None]  # tested at the end
    count = 0
    last = _last_uses(order, root_vals + finite_vals)
    fresh: set[int] = set()  # arrays this function allocated and nothing else views
    borrowed: set[int] = set()  # values that may be (views of) an input or a constant
    uses = Counter(id(a) for v in order for a in v.args)
    uses.update(id(a) for c in tests for a in c.args)
    uses.update({id(r): 2 for r in root_vals + finite_vals})
    depth: dict[int, int] = {}  # how deeply an inlined scalar expression nests
    placed = _placements(order, uses)
    for at, y, _, _ in placed.values():  # y is read where its sum is formed, not before
        last[id(y)] = max(last.get(id(y), 0), at)
    # each domain test right after its last operand is computed, before any later operation
    # may write into an operand's buffer (a test printed at the end read 1/(x − 1) for x − 1)
    position = {id(v): i for i, v in enumerate(order)}
    tests_after: dict[int, list[_Val]] = {}
    for c in tests:
        at = max((position.get(id(a), -1) for a in c.args), default=-1)
        tests_after.setdefault(at, []).append(c)
        for a in c.args:
            if id(a) in position:
                last[id(a)] = max(last.get(id(a), 0), at + 1)
    deferred: dict[int, tuple[_Val, str, list[tuple[str, str]], bool]] = {}  # not printed
    computed_ids = {id(c) for c in computed}
    guarded = _guarded(order, tests)
    for i, v in enumerate(order):
        for c in tests_after.pop(i - 1, ()):
            lines.append(_test_line(c, names, ns))
        if i and id(order[i - 1]) in computed_ids and (line := _finite_line(order[i - 1], names)):
            lines.append(line)
        if id(v) in placed:
            y = v.args[0]
            deferred[id(v)] = (y, names[id(y)] if id(y) in names else _ref(y, names, ns),
                               placed[id(v)][2], placed[id(v)][3])
            continue
        if deferred and (v.prim is add or v.prim is sub) and any(id(a) in deferred
                                                                 for a in v.args):
            count = _emit_placed_sum(v, i, deferred, names, fresh, last, lines, count, ns)
            continue
        args = [names[id(a)] if id(a) in names else _ref(a, names, ns) for a in v.args]
        # Python-float code (math.*) only where NumPy would compute in float64 too: a float32
        # or float16 scalar keeps NumPy's own scalar arithmetic in its dtype, and a complex
        # operand or result NumPy's complex functions (math.exp of a complex scalar drops its
        # imaginary part: float() of it)
        scalar = not v.shape and (v.dtype is _FLOAT64 or v.dtype == _FLOAT64
                                  or v.dtype.kind in "biu" and _integer_form(v.prim)) and \
            all(not a.shape and a.dtype.kind != "c" for a in v.args)
        if not scalar or any(a.dtype is not _FLOAT64 and a.dtype in _WEAKLY_PROMOTED
                             for a in v.args):
            # a 0-d float64 operand computed here may be a Python float at run time (math
            # code): array code gets its NumPy scalar back, which indexes and has array methods
            # (np.tanh(x)[None]: a float is not subscriptable), and NumPy promotes a Python float
            # weakly beside a float32 array or scalar, where the trace's float64 is strong
            args = [f"np.float64({t})" if not a.shape and a.dtype == np.float64 and not
                    a.is_const else t for a, t in zip(v.args, args, strict=True)]
        if scalar and not v.params:
            for k in repeated_operands(v.prim, args):  # an inlined operand the scalar code
                count += 1  # reads twice: named here, where it would be computed anyway
                lines.append(f"    v{count} = {args[k]}")
                args[k] = f"v{count}"
        made = render_code(v.prim, args, v.params, scalar,
                           None if scalar else [(a.shape, a.dtype) for a in v.args])
        if made is None:  # call the table's impl itself (it may return an argument)
            fname = v.prim.name
            ns.setdefault(fname, functools.partial(v.prim.impl, np))
            extra = [f"{k}={_ref_param(p, ns)}" for k, p in v.params.items()]
            made = f"{fname}({', '.join(args + extra)})", False, True
        text, allocates, atom = made
        if not allocates:  # may be an argument or a view of one (np.real of a real array)
            fresh.difference_update(id(a) for a in v.args)
            if any(id(a) in borrowed or a.name is not None or a.is_const for a in v.args):
                borrowed.add(id(v))
        if text in args and (a := v.args[args.index(text)]).shape == v.shape and \
                a.dtype == v.dtype:
            names[id(v)] = text  # the identity (stop_gradient): the same array, no line
            continue
        target = _in_place(v, i, args, text, fresh, last)
        if target is not None:  # the operand dies here: write into its buffer (v3 -= v4)
            k, sym = target
            names[id(v)] = args[k]
            if k == 0 or sym in "+*":
                lines.append(f"    {args[k]} {sym}= {args[1 - k]}")
            else:
                ufunc = "subtract" if sym == "-" else "divide"
                lines.append(f"    np.{ufunc}({args[0]}, {args[1]}, out={args[1]})")
        elif not v.shape and uses[id(v)] == 1 and id(v) not in computed_ids and \
                id(v) not in guarded and (d := _depth(v, depth)) <= MAX_INLINE:
            # a scalar read once: written into its one use (fewer lines for Python to compile)
            depth[id(v)] = d
            if not (atomic(text) if atom is None else atom):
                text = f"({text})"
            KNOWN_ATOMIC.add(text)  # atomic now: its uses need not scan it again
            names[id(v)] = text
        else:
            count += 1
            names[id(v)] = f"v{count}"
            lines.append(f"    v{count} = {text}")
            if id(v) in guarded:  # ±inf − ±inf and NaN − NaN are NaN; a finite v − v is 0
                lines.append(f"    if v{count} - v{count} != 0.0:\n"
                             f"        _not_finite({v.prim.name!r}, v{count})")
        if v.shape and v.prim.kind == "elementwise" and allocates:
            fresh.add(id(v))
    if order and id(order[-1]) in computed_ids and (line := _finite_line(order[-1], names)):
        lines.append(line)
    for at in sorted(tests_after):  # those after the last operation (or of inputs alone)
        lines.extend(_test_line(c, names, ns) for c in tests_after[at])
    lines.extend(_finite_test(_ref(v, names, ns), v) for v in finite_vals)
    KNOWN_ATOMIC.clear()
    refs = []
    handed: set[int] = set()
    for r in root_vals:
        ref = _ref(r, names, ns)
        again = id(r) in handed  # one array for two results (equal gradients): a copy
        handed.add(id(r))
        if r.name is not None or r.is_const or ref in params or id(r) in borrowed or again:
            # never hand out an input (or an identity or a view of one) or a constant: a copy,
            # and for a 0-d one its value (+a is a new scalar for a float, a NumPy scalar or a
            # 0-d array)
            if not r.shape:
                ref = f"(+{ref})" if not r.is_const else ref
            else:
                ref = f"np.array({ref}, dtype=np.{r.dtype.name})" if r.is_const else \
                    f"{ref}.copy()"  # (a constant in its own dtype: float was a long double's
                # float64 rounding)
        refs.append(ref)
    value, grads = refs[:n_value], refs[n_value:]
    tup = ", ".join(grads) + ("," if len(grads) == 1 else "")
    if kind == "value":  # an evaluation (a jit function's call): the value alone
        lines.append(f"    return {value[0]}")
    elif len(value) > 1:  # a value with auxiliary outputs (a training step's loss and logits)
        lines.append(f"    return ({', '.join(value)}), ({tup})")
    else:
        lines.append(f"    return {value[0]}, ({tup})" if value else f"    return ({tup})")
    return lines, count


def _depth(v: _Val, depth: dict[int, int]) -> int:
    """How deeply `v`'s expression nests when its inlined operands are written into it."""
    d = 1
    for a in v.args:
        k = depth.get(id(a))
        if k is not None and k >= d:
            d = k + 1
    return d


def _convert(nodes: Sequence[Node], vals: dict[int, _Val], seen: dict[Any, _Val]) -> None:
    """The program's values for `nodes` (in topological order), simplified; a fused primitive
    with an ``expand`` rule becomes its expansion, and an operation already computed on the same
    values with the same parameters is computed once (`seen`: common subexpressions; every
    primitive is a pure function of its inputs and parameters)."""
    for node in nodes:
        if node.id in vals:
            continue
        if node.prim is None:
            vals[node.id] = _Val(None, [], {}, node.shape, node.dtype, const=node.value)
            continue
        if node.prim.expand is not None:
            out = _expansion(node)
            if out is not None:
                _convert(_new_nodes(out, node.id), vals, seen)
                vals[node.id] = vals[out.id]
                continue
        v = _Val(node.prim, [vals[i.id] for i in node.inputs], node.params, node.shape, node.dtype)
        _simplify(v)
        if v.alias is None and v.prim is not None:
            key = _key(v)
            if key is not None:
                v.alias = seen.setdefault(key, v)
                if v.alias is v:
                    v.alias = None
        vals[node.id] = v


def _key(v: _Val) -> Any:
    """What identifies an operation's result: primitive, argument values (resolved by
    `_simplify`) and parameters (None where a parameter is not plain data, e.g. an index array:
    such operations are not shared). A scalar constant counts by its value, not its node: each
    use of 0.5 in a rule is a node of its own, and cross_entropy's expansion and VJP both build
    dk.log_softmax, whose constants kept the two copies apart."""
    args = tuple(_arg_key(a) for a in v.args)
    if not v.params:
        return v.prim, args
    if not all(_plain_param(p) for p in v.params.values()):
        return None
    # repr tells -0.0 from 0.0 and 1 from True, which == and hash do not
    return v.prim, args, repr(sorted(v.params.items()))


def _arg_key(a: _Val) -> Any:
    c = a.const
    if a.is_const and (type(c) in (float, int, bool) or isinstance(c, np.generic)):
        return type(c), repr(c), a.dtype, a.shape  # repr: −0.0 is not 0.0, 1 is not True
    return id(a)


def _plain_param(p: Any) -> bool:
    if isinstance(p, tuple | list):
        return all(_plain_param(x) for x in p)
    return p is None or isinstance(p, bool | int | float | str | slice | np.integer | np.floating
                                   | np.dtype)


def _expansion(node: Node) -> Node | None:
    """The output node of `node`'s expansion, recorded on a fresh tape over its input nodes."""
    try:
        with new_tape() as tape:
            out = node.prim.expand(*[Tensor(i, tape) for i in node.inputs], **node.params)
    except Exception:  # noqa: BLE001 - an expansion that does not apply here: call the impl
        return None
    if type(out) is not Tensor or out.node.shape != node.shape or out.node.dtype != node.dtype:
        return None  # not an expansion we can print in its place: call the impl
    return out.node


def _new_nodes(out: Node, first: int) -> list[Node]:
    """The nodes of an expansion (ids after `first`, the expanded node's), in creation order."""
    found = {out.id: out}
    stack = [out]
    while stack:
        for i in stack.pop().inputs:
            if i.id > first and i.id not in found:
                found[i.id] = i
                stack.append(i)
    return [found[k] for k in sorted(found)]


def _placements(order: list[_Val], uses: Counter
                ) -> dict[int, tuple[int, _Val, list[tuple[str, str]], bool]]:
    """Values whose record says they only move elements (its ``place`` rule: a slice's values in
    zeros, a roll along one axis), read once, by an ``add`` or ``sub`` of same-shape arrays.
    That sum is printed as slice additions into one buffer (``a[index] += y``; for a roll
    ``a[k:] += y[:-k]`` and ``a[:k] += y[-k:]``) instead of materializing the placed array and
    adding it whole: the same additions of the same numbers, without two allocations.
    ``placed − a`` only where the placement covers the output (it is printed −a + placed, exact
    there; 0 − a elsewhere would not be). Returns {id(value): (position of its sum, y,
    [(target index, y's index)] as source text ("" for whole), covers)}."""
    found: dict[int, tuple[int, _Val, list[tuple[str, str]], bool]] = {}
    for i, v in enumerate(order):
        if (v.prim is not add and v.prim is not sub) or v.dtype.kind not in "fc" or \
                len(v.args) != 2 or any(a.shape != v.shape or a.dtype != v.dtype
                                        for a in v.args):
            continue
        for k, a in enumerate(v.args):
            if a.prim is None or a.prim.place is None or uses[id(a)] != 1 or id(a) in found or \
                    a.args[0].dtype != a.dtype:
                continue
            placed = a.prim.place(a.args[0].shape, **a.params)
            if placed is None or (v.prim is sub and k == 0 and not placed[1]):
                continue
            pieces, covers = placed
            found[id(a)] = (i, a.args[0], [(_index_text(o), _index_text(j)) for o, j in pieces],
                            covers)
    return found


def _index_text(index: Any) -> str:
    """An index as the text inside brackets ("" for the whole array)."""
    if index is None:
        return ""
    if isinstance(index, tuple) and len(index) == 1:
        index = index[0]
    return literal(index, bare=True)


def _emit_placed_sum(v: _Val, i: int,
                     deferred: dict[int, tuple[_Val, str, list[tuple[str, str]], bool]],
                     names: dict[int, str], fresh: set[int], last: dict[int, int],
                     lines: list[str], count: int, ns: dict[str, Any]) -> int:
    """Print ``a ± placed(y)`` (or the sum of two placements) as in-place slice additions: into
    `a`'s buffer when this function allocated it and nothing reads it later (and it is not a
    placed array's source), else into a copy — or, for two placements, zeros (what a
    placement that does not cover the output has elsewhere) or the first placement's elements
    assigned when it covers the output (no 0 + r, which would turn −0.0 into 0.0).
    ``placed(y) − a`` (covering placements only) negates that buffer first (r − a is r + (−a)
    exactly). Returns the updated line count."""
    parts = [deferred.pop(id(a), None) for a in v.args]
    arrays = [a for a, part in zip(v.args, parts) if part is None]
    sources = {id(part[0]) for part in parts if part is not None}
    if arrays and id(arrays[0]) in fresh and last.get(id(arrays[0])) == i and \
            id(arrays[0]) not in sources:
        target = names[id(arrays[0])] if id(arrays[0]) in names else _ref(arrays[0], names, ns)
    else:
        count += 1
        target = f"v{count}"
        assigned = not arrays and parts[0][3]  # two placements, the first covering the output
        start = (f"{_ref(arrays[0], names, ns)}.copy()" if arrays else
                 f"np.empty({literal(v.shape)}, dtype=np.{v.dtype.name})" if assigned else
                 f"np.zeros({literal(v.shape)}, dtype=np.{v.dtype.name})")
        lines.append(f"    {target} = {start}")
    if v.prim is sub and parts[0] is not None and parts[1] is None:
        lines.append(f"    np.negative({target}, out={target})")
    for k, part in enumerate(parts):
        if part is None:
            continue
        op = "-=" if v.prim is sub and k == 1 else "+="
        if k == 0 and not arrays and part[3]:
            op = "="
        _, y, pieces, _ = part
        for into, of in pieces:  # (an assignment always into elements: never a rebinding)
            lines.append(f"    {target}[{into or '...'}] {op} {f'{y}[{of}]' if of else y}"
                         if into or op == "=" else f"    {target} {op} {y}")
    names[id(v)] = target
    fresh.add(id(v))
    return count


def _test_text(v: _Val, args: list[str]) -> str | None:
    """The record's domain condition on `args` as source text (None if it cannot be printed)."""
    return render_rule(v.prim.valid, args)


def _test_line(c: _Val, names: dict[int, str], ns: dict[str, Any]) -> str:
    """The domain test of `c`'s record on its operands: ``_outside(name)`` where it fails."""
    cond = _test_text(c, [_ref(a, names, ns) for a in c.args])
    scalar = not c.shape and all(not a.shape for a in c.args)
    test = f"not ({cond})" if scalar else f"not np.all({cond})"
    return f"    if {test}:\n        _outside({c.prim.name!r})"


def _finite_line(c: _Val, names: dict[int, str]) -> str:
    """The test of a value computed only to be checked (no ``valid`` rule): finite, as NumPy
    under STRICT requires (SciPy returns NaN outside the domain, Python floats overflow to inf
    silently); ``math.isfinite`` on a scalar raises no NumPy flag in any ``np.errstate``."""
    ref = names.get(id(c))
    if ref is None:  # not printed as a value of its own (never for a check): nothing to test
        return ""
    test = f"not math.isfinite({ref})" if not c.shape else f"not np.all(np.isfinite({ref}))"
    return f"    if {test}:\n        _not_finite({c.prim.name!r}, {ref})"


def _finite_test(ref: str, v: _Val) -> str:
    """The test that `ref` (value `v`, a differentiated input) is finite, as ``dk.grad``
    requires; where it is not, ``_not_finite`` (the replay then names the input)."""
    test = f"not math.isfinite({ref})" if not v.shape and v.dtype == _FLOAT64 else \
        f"not np.all(np.isfinite({ref}))"
    return f"    if {test}:\n        _not_finite('input', {ref})"


def _last_uses(order: list[_Val], roots: list[_Val]) -> dict[int, int]:
    """For every value, the position of the last operation that reads it (roots: the end)."""
    last: dict[int, int] = {}
    for i, v in enumerate(order):
        for a in v.args:
            last[id(a)] = i
    for r in roots:
        last[id(r)] = len(order)
    return last


def _in_place(v: _Val, i: int, args: list[str], text: str, fresh: set[int], last: dict[int, int]
              ) -> tuple[int, str] | None:
    """(operand, operator) when ``a ∘ b`` may overwrite a fresh operand that is read no more.

    Only where the result keeps the memory layout of ``a ∘ b`` (what the eager tape computes):
    NumPy lays that out as its first operand with a stride along each axis, so b is overwritten
    only when a is a number (0-d). ``sign(o) *= ct`` gave a ReLU's input gradient o's transposed
    layout where ``ct * sign(o)`` is C-ordered; a Conv2d weight gradient of a batch of one then
    reached BLAS as the other operand layout, another summation order: its last bit differed."""
    if len(v.args) != 2 or not v.shape:
        return None
    for sym in "+-*/":
        if text != f"{args[0]} {sym} {args[1]}":
            continue
        for k in ((0, 1) if not v.args[0].shape else (0,)):
            a = v.args[k]
            if id(a) in fresh and last.get(id(a)) == i and a.shape == v.shape and a.dtype == v.dtype:
                return k, sym
    return None


def _live(roots: list[_Val]) -> list[_Val]:
    """Operations the roots need, each after its arguments (iterative, any depth)."""
    order: list[_Val] = []
    seen: set[int] = set()
    for root in roots:
        if root.prim is None or id(root) in seen:
            continue
        seen.add(id(root))
        stack = [(root, 0)]
        while stack:
            v, i = stack[-1]
            if i < len(v.args):
                stack[-1] = (v, i + 1)
                a = v.args[i]
                if a.prim is not None and id(a) not in seen:
                    seen.add(id(a))
                    stack.append((a, 0))
            else:
                stack.pop()
                order.append(v)
    return order


def _ref(v: _Val, names: dict[int, str], ns: dict[str, Any]) -> str:
    """The text naming `v`: its variable, or a constant's literal (kept in `names` for its
    other uses: the constant lives as long as the values that read it)."""
    if id(v) in names:
        return names[id(v)]
    if not v.is_const:
        raise TracingError("internal: a value was used before it was computed")
    names[id(v)] = text = _const_text(v, ns)
    return text


def _const_text(v: _Val, ns: dict[str, Any]) -> str:
    c = v.scalar_const()
    if c is not None and not np.shape(v.const):
        kind = type(v.const)
        if kind is float or kind is int or kind is bool:  # Python numbers promote weakly
            return literal(v.const)
        dtype = np.asarray(v.const).dtype
        if (dtype.kind in "fc" and dtype.name in _TYPED) or dtype.kind in "iu":
            # a NumPy scalar keeps its dtype: float32 × np.int64(3) is float64 in NumPy 2,
            # float32 × 3 (a Python int, promoted weakly) float32
            return f"np.{dtype.name}({literal(v.const.item())})"
        if dtype.kind not in "fc":  # a NumPy bool: its Python value
            return literal(v.const.item() if hasattr(v.const, "item") else v.const)
    # anything a literal cannot carry exactly (a long double, whose .item() is a Python float)
    # reaches the code as the object itself, by name (_ref_param)
    return _ref_param(v.const, ns)


_FLOAT64 = np.dtype(np.float64)

#: array dtypes whose result with a float64 scalar depends on whether the scalar is a Python
#: float (the array's dtype) or a NumPy float64 (float64 or complex128)
_WEAKLY_PROMOTED = (np.dtype(np.float16), np.dtype(np.float32), np.dtype(np.complex64))

#: NumPy scalar types the generated code may name (np.float32(0.5))
_TYPED = ("float16", "float32", "float64", "longdouble", "complex64", "complex128")


def _ref_param(p: Any, ns: dict[str, Any]) -> str:
    try:
        return literal(p)
    except NotRenderable:
        name = f"k{sum(1 for k in ns if k.startswith('k') and k[1:].isdigit())}"
        ns[name] = p
        return name


def _plain(v: Any) -> Any:
    """A traced value as an array of its own dtype (the self-checks compare dtypes too)."""
    return np.asarray(v.node.value if type(v) is Tensor else v)


def _agrees(got: Any, want: Any) -> bool:
    """Generated code's result is the trace's: same shape, same dtype (NumPy's promotion kept:
    a float32 result where the trace computed float64 is refused even where the values happen
    to agree), same values to rounding."""
    g, w = np.asarray(got), np.asarray(want)
    return g.shape == w.shape and g.dtype == w.dtype and bool(
        np.allclose(g, w, rtol=1e-9, atol=1e-12, equal_nan=True))


def _refuse(exc: TracingError) -> Any:
    """The maker of a function whose code disagreed with its trace: every use raises again, so
    callers interpret (the compiled engine) or see the named error (direct calls)."""
    raise exc


def _check(cg: CompiledGradient, kind: str, code: Any, xs: list[Any], want: list[Any]) -> None:
    """Run newly generated code once at the trace point and compare with the traced values (a
    TracingError where they differ, or where the code raises at the point its trace answered:
    that code is never used)."""
    with np.errstate(all="ignore"):
        try:
            result = code(*xs)
        except (ArithmeticError, ValueError) as exc:
            raise TracingError(f"internal: compiled code for {cg.function.name} raised at the "
                               f"point it was traced at ({exc}); use method='reverse'") from None
    got = [result[0], *result[1]] if kind == "value_and_grad" else list(result)
    for w, g in zip(want if kind == "value_and_grad" else want[1:], got):
        if not _agrees(g, w):
            raise TracingError(f"internal: compiled code for {cg.function.name} disagrees with the "
                               f"reverse engine ({g!r} != {w!r}); use method='reverse'")
