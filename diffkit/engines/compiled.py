"""The "compiled" method: reverse mode run as generated straight-line code (see .compiler).

Compiled code is a snapshot of one trace, so it is used only where a snapshot gives the same
answer as tracing afresh: pure functions (parsed text, SymPy) and ``dk.jit`` ones, whose traces did
not branch on their inputs. The first call at a new signature (argument shapes and dtypes) traces
the reverse engine and compiles it; later calls run the generated Python/NumPy function. Anything
else — other Python functions, traced arguments while nesting derivatives, complex arrays,
value-dependent traces — runs on the reverse engine, so every call still gets an answer. Real
CuPy arrays get the code generated for their NumPy copies, run by CuPy with its element-wise
runs fused into single kernels, where its first answer agrees with NumPy's
(:func:`.compiler.on_device`); a vector output's pullback is interpreted there.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ..backend import array_namespace, to_numpy
from ..errors import BackendError, DiffkitError, DomainError, NonDifferentiableError, TracingError
from ..function import (
    NOT_COMPILED,
    STRICT,
    Function,
    exact_pieces,
    passed_as_given,
    restructured,
    signature,
    strong_numbers,
    weak_number,
)
from ..ir import Traced
from ..primitive import finite
from .base import Engine, Pullback, check_cotangent, jacobian_rows, size_of
from .compiler import CompiledGradient, compile_gradient, compile_value, on_device
from .reverse import ReverseEngine


class CompiledEngine(Engine):
    """Reverse mode as generated code. Option ``after``: interpret this many calls per signature
    first (``after=2`` is the default gradient's "where it pays" policy: a signature seen only
    once or twice never pays for compiling).
    """

    name = "compiled"

    def __init__(self, after: int = 0) -> None:
        super().__init__()
        if int(after) != after or after < 0:
            raise ValueError(f"after must be a whole number >= 0, got {after}")
        self.options = {"after": after}
        self.after = int(after)
        self.reverse = ReverseEngine()
        self.last: CompiledGradient | None = None  # what the last call ran (None: interpreted)

    def compiled(self, fn: Function, args: Sequence[Any], wrt: Sequence[int]) -> CompiledGradient | None:
        """The CompiledGradient for this call, or None where it must (or should) be interpreted."""
        xp = _array_module(args)
        if not fn.reusable or xp is None:
            return None
        key = ("compiled", signature(args), tuple(wrt))
        if fn.jit and not fn.pure and any(map(weak_number, args)):
            if fn.cache.get(("compiled-refused", key)):
                return None
            try:  # a held Python number its first trace promotes apart (x32 * 0.1), or a
                if fn.frozen(*args) is fn:  # trace that branched: interpreted afresh
                    return None
            except TracingError:  # the first trace (its float64 input) read the number
                fn.cache[("compiled-refused", key)] = True  # (float(k)): the reverse engine
                return None  # traces the body on the Python number, held, as a fresh call
            except DiffkitError:  # a point outside the first trace's domain: interpreted
                return None
        cg = fn.cache.get(key)
        if cg is None and fn.jit and fn.cache.get(("frozen", key[1])) is fn:
            return None  # its first trace holds at one call only: compiling would trace (and
            # run its side effects) once more only to refuse
        if cg is None:
            if fn.cache.get(("compiled-refused", key)):
                return None
            seen = fn.cache[("seen", key)] = fn.cache.get(("seen", key), 0) + 1
            if seen <= self.after and not fn.jit:  # jit: frozen at the first trace, as promised
                return None
            try:
                cg = compile_gradient(fn, *args, wrt=wrt) if xp is np else \
                    _carried(fn, args, wrt, xp)
            except TracingError:  # the trace branched on its inputs: interpret every call
                fn.cache[("compiled-refused", key)] = True
                return None
            except DiffkitError:  # this point is singular for the traced rules: interpret it
                return None
        return cg

    @staticmethod
    def _run(call: Any, *args: Any, with_value: bool = True) -> Any:
        """The generated code's answer — (value, grads), or grads — or None where it raised or is
        not finite: the interpreter then gives the answer (0·∞ = 0 at removable points) or the
        named error."""
        try:
            result = call(*args)
        except DiffkitError:
            return None
        values = (result[0], *result[1]) if with_value else result
        return result if all(finite(v) for v in values) else None

    def value_and_grad(self, fn: Function, args: Sequence[Any], wrt: Sequence[int]
                       ) -> tuple[Any, tuple[Any, ...]]:
        cg = self.last = self.compiled(fn, args, wrt)
        if _made(cg, "value_and_grad"):
            result = self._run(cg.run, "value_and_grad", *args)
            if result is not None:
                return result
        self.last = None  # interpreted (also to name the error behind a non-finite result)
        return self.reverse.value_and_grad(fn, args, wrt)

    def grad(self, fn: Function, args: Sequence[Any], wrt: Sequence[int]) -> tuple[Any, ...]:
        """The gradients only: the pruned gradient-only code runs where compiled."""
        cg = self.last = self.compiled(fn, args, wrt)
        if _made(cg, "grad"):
            grads = self._run(cg.run, "grad", *args, with_value=False)
            if grads is not None:
                return grads
        self.last = None
        return self.reverse.value_and_grad(fn, args, wrt)[1]

    def vjp(self, fn: Function, args: Sequence[Any], wrt: Sequence[int]) -> tuple[Any, Pullback]:
        cg = self.last = self.compiled(fn, args, wrt)
        if not _made(cg, "vjp"):
            self.last = None
            return self.reverse.vjp(fn, args, wrt)
        return self._vjp(cg, fn, args, wrt)

    def _vjp(self, cg: CompiledGradient, fn: Function, args: Sequence[Any], wrt: Sequence[int]
             ) -> tuple[Any, Pullback]:
        """The pullback of generated code (the interpreter's where it raises or is not finite)."""
        out = fn.evaluate(*args)

        def pullback(ct: Any) -> tuple[Any, ...]:
            check_cotangent(ct, cg.out_shape)
            if np.iscomplexobj(ct) or isinstance(ct, Traced):  # the interpreter's complex
                return self.reverse.vjp(fn, args, wrt)[1](ct)  # convention; nesting
            ct = np.broadcast_to(np.asarray(ct, dtype=float), cg.out_shape)
            result = self._run(cg.run, "vjp", *args, ct if cg.out_shape else float(ct))
            if result is None:
                return self.reverse.vjp(fn, args, wrt)[1](ct)
            return result[1]

        return out, pullback

    def jacobian(self, fn: Function, args: Sequence[Any], wrt: Sequence[int]) -> tuple[Any, Any]:
        """One generated VJP per row where the call compiles (real inputs, a trace of real
        values); else the reverse engine's Jacobian, which refuses a non-holomorphic
        complex-valued function by name and keeps a real input's columns of a real output real
        (rows of complex VJPs would be neither)."""
        cg = self.last = self.compiled(fn, args, wrt)
        if not _made(cg, "vjp"):
            self.last = None
            return self.reverse.jacobian(fn, args, wrt)
        out, pullback = self._vjp(cg, fn, args, wrt)
        return out, jacobian_rows(out, pullback, sum(size_of(args[i]) for i in wrt))

    def source(self, fn: Function, args: Sequence[Any] | None = None, wrt: Sequence[int] | None = None) -> str:
        """The generated source for `fn` at the signature of `args` (scalars 0.5 when not given)."""
        args = list(args) if args is not None else [np.float64(0.5)] * fn.arity
        return compile_gradient(fn, *args, wrt=wrt).source


def _made(cg: CompiledGradient | None, kind: str) -> bool:
    """Whether `cg` has working code of this kind: generated code that disagreed with its own
    trace when first run (a TracingError) is never used — the call is interpreted instead."""
    if cg is None:
        return False
    try:
        return cg._function(kind) is not None or kind == "vjp"  # vjp: else the scaled gradient
    except TracingError:
        return False


def _array_module(args: Sequence[Any]) -> Any:
    """NumPy where every argument is a real float NumPy array or scalar (or a Python float held
    outside wrt=, which a replay or generated code reads as a float64), CuPy where every one is
    a real float CuPy array; else None (interpreted: Tensors while nesting, complex, mixed)."""
    if all(isinstance(a, np.ndarray | np.generic) and a.dtype.kind == "f" or type(a) is float
           for a in args):
        return np
    if args and all(type(a).__module__.startswith("cupy") and getattr(a, "ndim", None) is not
                    None and a.dtype.kind == "f" for a in args):
        return array_namespace(*args)
    return None


def _carried(fn: Function, args: Sequence[Any], wrt: Sequence[int], xp: Any) -> CompiledGradient:
    """The gradient code of `fn` for CuPy arguments `args`: generated from a trace on their
    NumPy copies and carried to CuPy, element-wise runs fused, where its value and gradients
    agree with NumPy's at this point (:func:`~.compiler.on_device`), cached per signature;
    else a TracingError (interpreted). Functions of one output only (a vector's pullback is
    interpreted on CuPy)."""
    host = [to_numpy(a) for a in args]
    try:  # (a jit function is here the replay of its first trace at the CuPy signature)
        code = compile_gradient(fn, *host, wrt=wrt)
    except BackendError as exc:  # it holds CuPy constants (a replay of a CuPy trace): the
        # host trace would mix them with NumPy arrays
        raise TracingError(f"{fn.name} cannot be traced on NumPy copies ({exc})") from None
    if not _made(code, "value_and_grad"):
        raise TracingError(f"{fn.name} has a vector output: its pullback is interpreted on CuPy")
    with np.errstate(**STRICT):
        carried = on_device(code, xp, host, args, ("value_and_grad", "grad"))
    if type(carried) is str:
        raise TracingError(f"{fn.name}: {carried}")
    fn.cache[("compiled", signature(args), tuple(wrt))] = carried
    return carried


def evaluate_jit(fn: Function, args: tuple[Any, ...]) -> Any:
    """A ``dk.jit`` function's call at its first trace for the signature of `args` (shapes and
    dtypes), as its derivatives by every method use it (jit's contract: what the function does
    not take as arguments is frozen there): generated code for real NumPy arguments, the trace
    interpreted (:func:`_replayed`) for others (complex, CuPy), where code is not made (a graph
    too large, an output that does not depend on the inputs) and where the code raised or gave
    a non-finite value (the frozen trace then gives its value or its named error — never the
    live function, whose outside values may have changed since) and where a piece of a tuple
    would not come back exact from the code's one flat output (:func:`exact_pieces`: the
    replay gives each piece in its own dtype). Returns the call's value (a tuple's pieces with
    the body's types and dtypes), or NOT_COMPILED where the call
    must be evaluated by running the function: a trace that branched on its inputs or takes an
    argument as given (integers, objects: traced again at every call, as its derivatives are)
    or a first trace that raised (nothing is kept; the function gives its own answer or error)."""
    given = args
    for a in args:  # a Python float or complex (weak): its float64/complex128 signature's code,
        if type(a) is float or type(a) is complex:  # where that promotes as the number does
            args = strong_numbers(args)
            break
    if not all(isinstance(a, np.ndarray | np.generic) and a.dtype.kind == "f" for a in args):
        return _replayed(fn, given)
    sig = signature(args)
    key = ("evaluate", sig)
    code = fn.cache.get(key)
    if code is None:
        if _frozen_body(fn, given) is None:  # no frozen trace: run the function itself
            return _at_this_call(fn, given)
        try:
            code = compile_value(fn, args)
        except Exception:  # noqa: BLE001 - no code (too large, constant output): interpret
            code = False
        fn.cache[key] = code
    elif given is not args and fn.weak_apart(given, sig):
        return NOT_COMPILED  # x32 * 0.1: the body on the Python number (float32)
    if code is False:
        return _replayed(fn, given)
    try:
        out = code(*args)
    except (ArithmeticError, ValueError, DiffkitError):
        out = None
    if out is None or not finite(out):
        return _replayed(fn, args)
    pieces = fn.cache.get(("pieces", sig))  # (structure, forms), once per signature: the
    if pieces is None:  # frozen trace's and the code's output dtype are fixed by it
        made = fn.cache.get(("frozen", sig))
        forms = getattr(made, "output_forms", None)
        if not exact_pieces(forms, out):  # a piece the flat output rounds (an int64
            fn.cache[key] = False  # above 2**53): the replay gives each piece as it is, always
            return _replayed(fn, args)
        # one float64 number out: the code's Python float is the call's value as it is
        plain = forms is not None and forms[0] == "traced" and forms[1] == () and \
            forms[2] == np.float64
        pieces = fn.cache[("pieces", sig)] = (getattr(made, "output_structure", None), forms,
                                              plain)
    if pieces[2] and type(out) is float:
        return out
    return restructured(out, pieces[0], pieces[1])


def _at_this_call(fn: Function, args: tuple[Any, ...]) -> Any:
    """The call's value where `fn` has no frozen trace: where the first trace was made just
    now at these arguments and holds at this call only (a branch on the inputs, random numbers,
    state it updates — a batch norm's running statistics), that trace's value, by replaying its
    primitives on the same arguments: running the body again would do what it does twice (the
    statistics updated twice at the first call, as no plain call does); else NOT_COMPILED (the
    function runs itself)."""
    first = fn.__dict__.pop("_at_this_call", None)
    if first is None or first[0] is not args:
        return NOT_COMPILED
    return fn.replaying(first[1]).evaluate(*args, stack=False)  # each piece as it is


def _frozen_body(fn: Function, args: tuple[Any, ...]) -> Function | None:
    """The pure replay of `fn`'s first trace at the signature of `args`
    (:meth:`~diffkit.function.Function.frozen`), or None where there is none: an argument
    passed as given, a trace that branched on its inputs, or a first trace that raised (not
    kept: running the function gives its own answer or error)."""
    if any(passed_as_given(a) for a in args):  # its trace holds at these values only
        return None
    try:
        body, first = fn.freeze(*args)
    except Exception:  # noqa: BLE001 - whatever tracing hit, running the function says it
        return None
    if body is fn and first is not None:  # made now, holding at this call only: its value
        fn.__dict__["_at_this_call"] = (args, first)  # is the call's (_at_this_call)
    return body if body is not fn and body.pure else None


def _replayed(fn: Function, args: tuple[Any, ...]) -> Any:
    """`fn` at `args` by interpreting its frozen first trace at their signature (the replay its
    derivatives differentiate): its value, or its named error (1/(x − c) frozen at c = 0 is a
    DomainError at x = 0, as its gradient there, whatever c is now); NOT_COMPILED where there is
    no frozen trace (:func:`_frozen_body`)."""
    body = _frozen_body(fn, args)
    if body is None:
        return _at_this_call(fn, args)
    body.__dict__.pop("_first", None)  # its first graph is not used here
    try:
        return body.evaluate(*args, stack=False)  # the call's value: each piece as it is
    except DomainError as exc:
        if isinstance(exc, NonDifferentiableError):
            raise
        fresh = _fresh_refusal(fn, args)
        if fresh is None:
            raise
        raise fresh from None


def _fresh_refusal(fn: Function, args: tuple[Any, ...]) -> NonDifferentiableError | None:
    """Where a replay raised a DomainError, the NonDifferentiableError a fresh run of the body
    at `args` raises, if it does. A derivative's rules may decide at trace time by the values
    there (sqrt's kink test, slogdet's singular matrix): its replay at such a point meets an
    operation of the rule's formula (``div(0.5, 0.0)`` for the partial of sqrt at 0), where
    a fresh call names the primitive that is not differentiable there (``sqrt is not
    differentiable at 0``); that name is the call's error. A fresh run that answers or raises
    anything else leaves the replay's error (a jit trace fails where its operations fail).
    Run on the error path only."""
    try:
        with np.errstate(**STRICT):
            fn.run_body(*args, stack=False)
    except NonDifferentiableError as fresh:
        return fresh
    except Exception:  # noqa: BLE001 - not the refusal sought: the replay's error stands
        return None
    return None


Function.jit_evaluator = evaluate_jit
