"""The one API over all engines: grad, value_and_grad, derivative, jacobian, hessian, jvp, vjp.

Every function takes ``method=`` — "reverse" (default), "forward", "symbolic", "fd" (with
``scheme=``, ``step=`` (an absolute h), ``levels=`` (Richardson) and ``step_scale=`` (a positive
factor on the automatic steps)), "fd-forward", "fd-central", "fd-complex", "fd-richardson", "auto",
"compiled" — and accepts a :class:`Function`, math text, a SymPy expression or a Python callable.

The conventions every engine shares are applied here, once (docs/design.md states them):

* inputs: Python numbers and integer arrays become float64; float32/float16/complex are kept; a
  NaN or infinite input is a :class:`DomainError` naming it;
* results: each gradient has its input's floating dtype and kind (a Python float for a Python
  number, a NumPy scalar for a NumPy scalar, an array for an array), on every call and for every
  method; complex inputs get complex gradients (JAX's convention), real inputs real ones;
* errors: NumPy's floating-point errors become named ones (DomainError, NumericOverflowError,
  NonDifferentiableError) — never a silent inf or NaN.
"""

from __future__ import annotations

import copy
import inspect
import math
import numbers
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import numpy as np

from .backend import array_namespace
from .build import as_function
from .dict_inputs import Flattened, holds_dicts
from .engines import METHODS, get_engine
from .engines.base import (
    check_cotangent_kind,
    check_tangent,
    flat_cotangent,
    float_dtype,
    like,
    output_pieces,
    require_finite_direction,
    shape_of,
    size_of,
)
from .errors import (
    ArityError,
    DiffkitError,
    InputTypeError,
    MissingRuleError,
    NonDifferentiableError,
    NumericOverflowError,
    ShapeError,
    TracingError,
)
from .function import (
    STRICT,
    Function,
    as_input,
    given_as_is,
    jit,
    passed_as_given,
    signature,
    to_python,
)
from .ir import Traced
from .primitive import finite
from .tensor import FiniteDerivative, Tensor, data_message, note_check, own_copy, paused_gc


def _completed(fn: Function, args: Sequence[Any], idx: list[int], every: bool,
               back: Sequence[int | None] = ()) -> tuple[Sequence[Any], list[int]]:
    """A call's arguments with the defaults of those it leaves out (:meth:`Function.completed`),
    and the inputs differentiated: `idx`, less the defaulted ones where it is every input by
    default (a default is the function's constant, not the caller's point; named in wrt=, it is
    differentiated at its default value). A negative position (`back`, from :func:`_positions`)
    counts from the last argument passed, as in JAX: argnums=-1 of f(x, y=2.0) called f(3.0)
    is x, not y at its default."""
    given = len(args)
    args = fn.completed(args)
    if len(args) > given and any(b is not None for b in back):
        idx = _from_last_passed(fn, idx, back, given)
    if every and len(args) > given:
        idx = [i for i in idx if i < given]
        if not idx:
            raise ArityError(f"{fn.name} was given no input to differentiate: its inputs "
                             f"({', '.join(fn.inputs)}) were left at their defaults, which are "
                             "held; pass them, or name one in wrt=")
    return args, idx


def _positions(fn: Function, wrt: Any, argnums: Any) -> tuple[list[int], list[int | None]]:
    """The inputs ``wrt=``/``argnums=`` choose (:meth:`Function.positions`), and for each the
    negative position that chose it (None where it was chosen otherwise), which a call leaving
    defaults out resolves against the arguments passed (:func:`_completed`)."""
    wrt, argnums = _listed(wrt), _listed(argnums)
    idx = fn.positions(wrt, argnums)
    chosen = argnums if argnums is not None else wrt
    items = [] if chosen is None else chosen if isinstance(chosen, list) else [chosen]
    back = [int(w) if isinstance(w, numbers.Integral) and not isinstance(w, bool | np.bool_)
            and w < 0 else None for w in items]
    return idx, back if len(back) == len(idx) else []


def _listed(chosen: Any) -> Any:
    """wrt=/argnums= with a sequence (a generator too) read once, as a list."""
    if chosen is None or isinstance(chosen, str | numbers.Integral) or \
            not isinstance(chosen, Iterable):
        return chosen
    try:
        return list(chosen)
    except TypeError:  # (a 0-d array): Function.positions names it
        return chosen


def _from_last_passed(fn: Function, idx: list[int], back: Sequence[int | None], given: int
                      ) -> list[int]:
    """`idx` with each negative position in `back` counted from the last of the `given`
    arguments passed (JAX's reading), not from fn's last parameter, left at its default."""
    out = []
    for i, w in zip(idx, back, strict=True):
        if w is not None:
            if w < -given:
                raise ArityError(f"argnums={w} is out of range for the {given} argument(s) "
                                 f"passed to {fn.name}: a negative position counts from the "
                                 "last argument passed; name a defaulted input by its name")
            i = given + w
        if i in out:
            raise ArityError(f"argnums/wrt chooses input {fn.inputs[i]!r} twice: a negative "
                             f"position counts from the last of the {given} argument(s) passed")
        out.append(i)
    return out


def _check_method(fn: Function, method: Any) -> None:
    """``method=`` names an engine. An integer, a sequence of integers or names, or a string
    that names one of f's inputs and no method is JAX's positional argnums given where diffkit
    takes the method (``dk.grad(f, 1)``): a ValueError that says so, not "unknown method 1"."""
    if isinstance(method, str):
        if method in METHODS or method not in fn.inputs:
            return
    elif isinstance(method, bool | np.bool_) or not (
            isinstance(method, numbers.Integral) or isinstance(method, tuple | list) and method
            and all(isinstance(m, numbers.Integral) or m in fn.inputs and m not in METHODS
                    for m in method)):
        return
    raise ValueError(f"method={method!r} is not a method; to choose the inputs use "
                     f"argnums={method!r} (or wrt={method!r}) — method is one of "
                     f"{', '.join(METHODS)}")


#: engines that answer numbers: they cannot carry the eager tape of an input that requires grad
def _prepare(fn: Function, args: Sequence[Any], engine: Any = None,
             method: Any = None, wrt: Sequence[int] | None = None) -> list[Any]:
    """Coerced inputs (those in `wrt`, all by default, as floats; the others' integers and
    booleans as given: :func:`~diffkit.function.given_as_is`); a NaN or infinite input among
    those differentiated is an error that names it (the point; the others are data, which may
    hold NaN for ``np.nansum`` and the like: a NaN reaching the result is a named error after),
    and so is an input on the eager tape given to an engine that cannot carry it (see
    :func:`_check_eager`)."""
    args = fn.completed(args)
    fn.check_arity(args)
    xs = fn.coerce(args, wrt)
    for i, (name, x) in enumerate(zip(fn.inputs, xs)):
        if given_as_is(x) or (wrt is not None and i not in wrt and not isinstance(x, Traced)):
            continue
        if isinstance(x, Traced):
            _check_eager(name, x, engine, method)
            if wrt is None or i in wrt:  # differentiated: a replay of the trace checks that
                note_check(x, fn.not_finite(name))  # it is finite, as a fresh call does here
            continue
        if type(x) is np.float64:
            ok = math.isfinite(x)
        else:
            xp = _module(x)
            ok = bool(xp.all(xp.isfinite(x)))
        fn.check_finite(name, ok)
    return xs


def traced_as(fn: Function, xs: Sequence[Any], engine: Any = None) -> Function:
    """The function the engines differentiate at `xs`: for a ``dk.jit`` function, its first
    trace at this signature (:meth:`~diffkit.function.Function.frozen`), the one its own call
    runs — so that its value and every derivative, by every method, in one call and across
    calls, freeze the same values (jit's contract). The function itself where that trace
    branched on its inputs (every use traces afresh), could not be made (a black box: finite
    differences still evaluate it); where an argument is traced (a derivative inside another),
    the first trace at the signature of the traced values, as the function's own call uses.

    Where the first trace was made just now, at `xs`, and holds at this call only (a branch on
    the inputs, random numbers, state the body updates: a batch norm's running statistics), an
    exact `engine` differentiates its replay — the same primitives on the same values as a
    fresh trace here, without running the body again (the first ``dk.grad`` of a jitted batch
    norm updated its statistics three times). Finite differences evaluate the function itself,
    at other points, as at every later call."""
    if not fn.jit or fn.pure:
        return fn
    if any(isinstance(x, Traced) for x in xs):  # inside another derivative: the first trace
        return fn._frozen_at_values(tuple(xs))  # at the values' signature, as the call's
    try:
        made, first = fn.freeze(*xs)
    except DiffkitError:
        return fn
    if made is fn and first is not None and engine is not None and engine.name != "fd":
        once = fn.replaying(first)
        once.output_structure = first.structure
        return once
    return made


def _nonfinite_data(fn: Function, xs: Sequence[Any], wrt: Sequence[int] | None) -> list[str]:
    """The inputs outside `wrt` holding NaN or inf (data :func:`_prepare` lets through): read
    only when a derivative was not finite (:class:`_strict`), never on the call's path."""
    if wrt is None:
        return []
    out = []
    for i, (name, x) in enumerate(zip(fn.inputs, xs)):
        if i in wrt or given_as_is(x) or isinstance(x, Traced):
            continue
        xp = _module(x)
        if not bool(xp.all(xp.isfinite(x))):
            out.append(name)
    return out


def _check_eager(name: str, x: Traced, engine: Any, method: Any) -> None:
    """A Tensor that requires grad on the eager tape (level 0) reaches only engines that nest
    (reverse, forward, auto, compiled): symbolic and finite differences answer numbers, which
    would cut x out of that graph (loss = g.sum() + x.sum() would miss g's dependence on x)."""
    if engine is None or engine.nests:
        return
    if type(x) is Tensor and x.requires_grad and x.tape.level == 0:
        shown = method if isinstance(method, str) else engine.name
        raise TracingError(
            f"input {name!r} is a Tensor that requires grad on the eager tape: method={shown!r} "
            "answers numbers that would cut it out of that graph; use method='reverse' or "
            f"'forward' (which nest), or pass {name}.detach()")


def _module(x: Any) -> Any:
    return array_namespace(x)


class _strict:
    """NumPy errors raise; those that escape an engine (in derivative arithmetic) get names.
    The cyclic garbage collector pauses meanwhile (graphs are acyclic). `call`: (function,
    inputs, wrt) — a NonDifferentiableError names the non-finite inputs that are not
    differentiated (:func:`_nonfinite_data`), its likeliest cause."""

    __slots__ = ("call", "errstate", "gc", "method")

    def __init__(self, method: Any, call: tuple[Function, Sequence[Any], Any] | None = None
                 ) -> None:
        self.method = method
        self.call = call
        self.errstate = np.errstate(**STRICT)
        self.gc = paused_gc()

    def __enter__(self) -> None:
        self.errstate.__enter__()
        self.gc.__enter__()

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: object) -> bool:
        self.gc.__exit__()
        self.errstate.__exit__(kind, exc, tb)
        data = _nonfinite_data(*self.call) if self.call is not None and kind is not None and \
            issubclass(kind, NonDifferentiableError) else ()
        if data:
            raise NonDifferentiableError(data_message(str(exc), data)) from exc
        if kind is not None and issubclass(kind, FloatingPointError) and not isinstance(
                exc, DiffkitError):
            if "overflow" in str(exc):
                raise NumericOverflowError(f"the derivative overflows its floating-point type "
                                           f"(method={self.method!r}): {exc}") from None
            raise NonDifferentiableError(f"the derivative is not finite at this point "
                                         f"(method={self.method!r}): {exc}") from None
        return False


def _signature(fn: Function) -> inspect.Signature:
    """The parameters of what grad, jacobian, hessian and derivative return: `fn`'s inputs by
    name, so that they can be differentiated in turn (``dk.jacobian(dk.grad(f))``); positional
    only, as their calls take them."""
    kind = inspect.Parameter.POSITIONAL_ONLY
    return inspect.Signature([inspect.Parameter(n, kind) for n in fn.inputs])


def _keywords_refused(fn: Function, keywords: dict[str, Any]) -> ArityError:
    """The error for a derivative called with keywords: its inputs are positional only (its
    ``__signature__`` says so), in `fn`'s order."""
    return ArityError(f"the derivative of {fn.name} takes its inputs positionally, in the order "
                      f"({', '.join(fn.inputs)}); got keyword arguments "
                      f"{', '.join(map(repr, keywords))}")


def _check_finite(results: Sequence[Any], what: str, method: str,
                  call: tuple[Function, Sequence[Any], Any] | None = None) -> None:
    """A result that is not finite is a NonDifferentiableError (:class:`_strict` names the
    inputs of `call` not differentiated that hold NaN or inf). A traced result (a derivative
    inside a trace: dk.jit) is checked by every replay of that trace and its generated code
    (:func:`~diffkit.tensor.note_check`), with the same error."""
    for r in results:
        if r is None:
            continue
        if isinstance(r, Traced):
            note_check(r, FiniteDerivative(_not_finite_text(what, method), _data(call)))
        elif not finite(r):
            raise NonDifferentiableError(_not_finite_text(what, method))


def _not_finite_text(what: str, method: str) -> str:
    return (f"{what} is not finite at this point (method={method!r}): the function is not "
            "differentiable there (e.g. sqrt at 0) or the derivative overflows")


def _data(call: tuple[Function, Sequence[Any], Any] | None) -> tuple[tuple[str, Any], ...]:
    """The inputs of `call` (function, inputs, wrt) that are not differentiated, by name."""
    if call is None or call[2] is None:
        return ()
    fn, xs, wrt = call
    return tuple((name, x) for i, (name, x) in enumerate(zip(fn.inputs, xs))
                 if i not in wrt and not given_as_is(x))


def _value(out: Any, xs: Sequence[Any] = ()) -> Any:
    """A result's value as the caller gets it: a Python number for a 0-d value, and an array
    of the caller's own where it shares memory with one of the points `xs` (f(x) = x or x[:2]
    gave the caller's x itself: writing into the result moved the input)."""
    if type(out) is np.ndarray and any(type(x) is np.ndarray and np.may_share_memory(out, x)
                                       for x in xs):
        out = out.copy()
    return out if isinstance(out, Traced) else to_python(out)


class GradientFunction:
    """What ``dk.grad`` and ``dk.value_and_grad`` return: call it with a point.

    Attributes:
        function: the :class:`Function` differentiated.
        engine: the engine doing the work.
        wrt: the indices of the inputs differentiated.
        source: the generated Python/NumPy code of the gradient (reverse mode), at the last
            point's signature (scalars if it was never called).
    """

    def __init__(self, run: Callable[..., Any], engine: Any, function: Function, wrt: list[int],
                 with_value: bool = False,
                 forms: Callable[[Sequence[Any]], tuple[Sequence[Any], Sequence[int]]] | None
                 = None) -> None:
        self._run = run
        self._forms = forms
        self.engine = engine
        self.function = function
        self.wrt = wrt
        self.with_value = with_value
        self._last_args: tuple[Any, ...] | None = None
        #: Python-float signatures whose generated code answers directly (see _learn)
        self.__doc__ = run.__doc__
        self.__signature__ = _signature(function)

    def __call__(self, *args: Any, **keywords: Any) -> Any:
        if keywords:
            raise _keywords_refused(self.function, keywords)
        self._last_args = args
        result = self._run(*args)
        self._learn(args)
        return result

    def _learn(self, args: tuple[Any, ...]) -> None:
        """Once the compiled engine has code for an all-Python-float signature of a pure or jit
        function, later calls go straight to it: the signature is proved by the argument types
        alone, the code runs on Python floats with the math module (errors are exceptions), and
        any exception, non-finite input or non-finite result falls back to the full path, which
        gives the answer or the named error. Same code, same answer, fewer layers."""
        from .engines.compiled import CompiledEngine

        fn = self.function
        if not (isinstance(self.engine, CompiledEngine) and fn.reusable and args
                and all(type(a) is float for a in args)
                and type(self).__call__ is GradientFunction.__call__):
            return
        xs = [np.float64(a) for a in args]
        if fn.jit and not fn.pure:  # its gradient is its first trace's (see traced_as)
            held = [a if i not in self.wrt else x for i, (a, x) in enumerate(zip(args, xs))]
            if fn.weak_apart(held, signature(xs)):  # a held Python float beside a float32
                return  # closure: the body runs on it at every call (function.weak_sensitive)
            fn = fn.cache.get(("frozen", signature(xs)))
            if fn is None or not fn.pure:
                return
        cg = fn.cache.get(("compiled", signature(xs), tuple(self.wrt)))
        kind = "value_and_grad" if self.with_value else "grad"
        conditions: list[str] | None = []
        if fn.domain is not None:  # SymPy's assumptions, printed into the entry's guard (a
            # point that breaks one goes to the full path, which names it)
            params = None if cg is None else cg.parameters(kind)
            conditions = (None if params is None or len(params) != fn.arity
                          else fn.domain.float_conditions(params))
            if conditions is None:
                return
        entry = None if cg is None else cg.float_entry(kind, self._full_call, conditions)
        if entry is not None and len(args) == fn.arity:
            # From now on calling this object is calling the generated entry: a class of its
            # own whose __call__ is that function (special methods are looked up on the type).
            # The entry answers finite floats itself and hands everything else to _full_call.
            self.__class__ = type(type(self).__name__, (GradientFunction,),
                                  {"__call__": staticmethod(entry), "__slots__": ()})

    def in_input_forms(self, out: Any, args: Sequence[Any]) -> Any:
        """`out`, this gradient's value at `args` as a :class:`Function` wrapping it gives it
        (``dk.jit(dk.grad(f))``, ``dk.function(dk.grad(f))``: a 0-d piece as a Python number),
        with each gradient in its input's form again (:func:`like`), as a call of this object
        gives it: a 0-d array's gradient a 0-d array, a NumPy scalar's a NumPy scalar."""
        if self._forms is None:
            return out
        args, ids = self._forms(args)
        grads = out[1] if self.with_value else out
        if holds_dicts(args, ids) or not isinstance(grads, tuple) or len(grads) != len(ids):
            return out
        grads = tuple(like(g, args[i]) for g, i in zip(grads, ids))
        return (out[0], grads) if self.with_value else grads

    def _full_call(self, *args: Any, **keywords: Any) -> Any:
        """The full path behind a learned float entry (other types, arities and keywords,
        errors, non-finite values)."""
        if keywords:
            raise _keywords_refused(self.function, keywords)
        self._last_args = args
        return self._run(*args)

    @property
    def source(self) -> str:
        from .engines.compiled import CompiledEngine

        args = None if self._last_args is None else _prepare(self.function, self._last_args)
        fn = self.function if self.function.reusable else jit(self.function)
        return CompiledEngine().source(fn, args, self.wrt)

    def __repr__(self) -> str:
        return f"<gradient of {self.function!r} by {self.engine.name}>"


#: calls per signature that the default reverse mode interprets before compiling: compiling
#: costs ~1-25 ms, which a signature seen once or twice never earns back
COMPILE_AFTER = 2


def _gradient_engine(method: str, options: dict[str, Any]) -> Any:
    """The engine for grad/value_and_grad: the default reverse mode compiles where that is sound
    (pure and jit functions) and pays."""
    if method == "reverse" and not options:
        return get_engine("compiled", after=COMPILE_AFTER)
    return get_engine(method, **options)


def value_and_grad(f: Any, method: str = "reverse", wrt: Any = None, *, argnums: Any = None,
                   **options: Any) -> GradientFunction:
    """``value_and_grad(f)(*args)`` -> (f(args), gradients): one gradient per selected input.

    ``argnums=`` is an alias of ``wrt=`` (JAX's name).

    Example:
        >>> import diffkit as dk
        >>> dk.value_and_grad("x**2 * y")(3.0, 2.0)
        (18.0, (12.0, 9.0))
    """
    fn = as_function(f)
    _check_method(fn, method)
    engine = _gradient_engine(method, options)
    idx, back = _positions(fn, wrt, argnums)
    every = wrt is None and argnums is None  # (an input left at its default is then held)

    def run(*args: Any, **keywords: Any) -> tuple[Any, tuple[Any, ...]]:
        if keywords:
            raise _keywords_refused(fn, keywords)
        args, ids = _completed(fn, args, idx, every, back)
        if holds_dicts(args, ids):  # JAX's parameter dicts: leaf by leaf, regrouped
            fn.check_arity(args)
            flat = Flattened(fn, args, ids)
            out, grads = value_and_grad(flat.function, method, wrt=flat.wrt, **options)(*flat.args)
            return out, flat.gradients(grads)
        xs = _prepare(fn, args, engine, method, ids)
        fx = traced_as(fn, xs, engine)
        with _strict(method, (fx, xs, ids)):
            out, grads = engine.value_and_grad(fx, xs, ids)
            _check_finite(grads, "the gradient", method, (fx, xs, ids))
        _refuse_complex_output(fx, xs, ids, grads, out)
        return _value(out, xs), tuple(like(g, args[i]) for g, i in zip(grads, ids))

    return GradientFunction(run, engine, fn, idx, with_value=True,
                            forms=lambda args: _completed(fn, args, idx, every, back))


def grad(f: Any, method: str = "reverse", wrt: Any = None, *, argnums: Any = None,
         **options: Any) -> GradientFunction:
    """``grad(f, method=m)(*args)`` -> a tuple with one gradient per input (shaped like it).

    ``argnums=`` is an alias of ``wrt=`` (JAX's name). ``**options`` go to the engine: for the
    finite differences ``scheme=``, ``step=`` (an absolute h, used as given), ``levels=``
    (Richardson's tableau size) and ``step_scale=`` (a positive factor on the automatic steps).

    Example:
        >>> import diffkit as dk
        >>> f = dk.parse("ln(x1) + x1*x2 - sin(x2)")
        >>> dk.grad(f, method="forward")(2.0, 5.0)
        (5.5, 1.7163378145367738)
    """
    fn = as_function(f)
    _check_method(fn, method)
    engine = _gradient_engine(method, options)
    idx, back = _positions(fn, wrt, argnums)
    every = wrt is None and argnums is None  # (an input left at its default is then held)

    def run(*args: Any, **keywords: Any) -> tuple[Any, ...]:
        if keywords:
            raise _keywords_refused(fn, keywords)
        args, ids = _completed(fn, args, idx, every, back)
        if holds_dicts(args, ids):  # JAX's parameter dicts: leaf by leaf, regrouped
            fn.check_arity(args)
            flat = Flattened(fn, args, ids)
            return flat.gradients(grad(flat.function, method, wrt=flat.wrt, **options)(*flat.args))
        xs = _prepare(fn, args, engine, method, ids)
        fx = traced_as(fn, xs, engine)
        with _strict(method, (fx, xs, ids)):
            grads = engine.grad(fx, xs, ids)
            _check_finite(grads, "the gradient", method, (fx, xs, ids))
        _refuse_complex_output(fx, xs, ids, grads)
        return tuple(like(g, args[i]) for g, i in zip(grads, ids))

    return GradientFunction(run, engine, fn, idx,
                            forms=lambda args: _completed(fn, args, idx, every, back))


_UNSEEN = object()


def _refuse_complex_output(fn: Function, xs: Sequence[Any], idx: Sequence[int],
                           grads: Sequence[Any], out: Any = _UNSEEN, what: str = "grad") -> None:
    """grad answers in each input's space, real for a real input; for a complex-valued f of a
    real x that would be Re f′(x), silently dropping Im f′(x) (``dk.derivative`` gives f′(x)):
    an InputTypeError, as JAX refuses grad of a complex output. Looked at only where a real
    input's gradient came out complex (a complex output, or complex values inside a real one);
    then f's value tells which (evaluated again where the engine did not return it)."""
    real = [i for i, g in zip(idx, grads, strict=True) if float_dtype(xs[i]).kind != "c"
            and not isinstance(g, Traced) and np.iscomplexobj(g)]
    if not real:
        return
    if out is _UNSEEN:
        with np.errstate(all="ignore"):
            out = fn.evaluate(*xs)
    if isinstance(out, Traced) or float_dtype(out).kind != "c":
        return
    name = fn.inputs[real[0]] if real[0] < len(fn.inputs) else f"argument {real[0]}"
    raise InputTypeError(
        f"{what} of the complex-valued {fn.name} at the real input {name!r}: its derivatives "
        "are complex, and a gradient lives in its input's space (real), so the answer would be "
        "their real part alone. Use dk.derivative or dk.jacobian for f′(x), differentiate "
        "dk.real(f(x)) and dk.imag(f(x)) separately, or pass the input as a complex number "
        "(for a holomorphic f)")


def _jacobian_dtype(args: Sequence[Any], idx: Sequence[int], out: Any) -> np.dtype:
    dts = [float_dtype(args[i]) for i in idx]
    out_dt = getattr(out, "dtype", None)
    if out_dt is not None and np.dtype(out_dt).kind == "c":
        dts.append(np.dtype(out_dt))
    return np.result_type(*dts) if dts else np.dtype(float)


def jacobian(f: Any, method: str = "reverse", wrt: Any = None, *, argnums: Any = None,
             **options: Any) -> Callable[..., Any]:
    """``jacobian(f)(*args)`` -> J of shape (m, n): m output elements, n = all input elements.

    Example:
        >>> import diffkit as dk, numpy as np
        >>> dk.jacobian(lambda x: dk.sin(x), method="forward")(np.zeros(2))
        array([[1., 0.],
               [0., 1.]])
    """
    fn = as_function(f)
    _check_method(fn, method)
    engine = get_engine(method, **options)
    idx, back = _positions(fn, wrt, argnums)
    every = wrt is None and argnums is None  # (an input left at its default is then held)

    def run(*args: Any, **keywords: Any) -> Any:
        if keywords:
            raise _keywords_refused(fn, keywords)
        args, ids = _completed(fn, args, idx, every, back)
        xs = _prepare(fn, args, engine, method, ids)
        fx = traced_as(fn, xs, engine)
        with _strict(method, (fx, xs, ids)):
            out, jac = engine.jacobian(fx, xs, ids)
            _check_finite([jac], "the Jacobian", method, (fx, xs, ids))
        return like(jac, jac, _jacobian_dtype(xs, ids, out))

    run.engine = engine  # type: ignore[attr-defined]
    run.function = fn  # type: ignore[attr-defined]
    run.__signature__ = _signature(fn)  # type: ignore[attr-defined]
    return run


def hessian(f: Any, method: str = "reverse", wrt: Any = None, *, argnums: Any = None,
            **options: Any) -> Callable[..., Any]:
    """``hessian(f)(*args)`` -> the (n, n) matrix of second derivatives of a scalar f.

    Example:
        >>> import diffkit as dk
        >>> dk.hessian("x**2 * y")(3.0, 2.0)
        array([[4., 6.],
               [6., 0.]])
    """
    fn = as_function(f)
    _check_method(fn, method)
    engine = get_engine(method, **options)
    idx, back = _positions(fn, wrt, argnums)
    every = wrt is None and argnums is None  # (an input left at its default is then held)

    def run(*args: Any, **keywords: Any) -> Any:
        if keywords:
            raise _keywords_refused(fn, keywords)
        args, ids = _completed(fn, args, idx, every, back)
        xs = _prepare(fn, args, engine, method, ids)
        fx = traced_as(fn, xs, engine)
        with _strict(method, (fx, xs, ids)):
            try:
                H = engine.hessian(fx, xs, ids)
            except (ShapeError, MissingRuleError):
                named = _not_scalar("hessian", fx, xs)
                if named is None:
                    raise
                raise named from None
            _check_finite([H], "the Hessian", method, (fx, xs, ids))
        _refuse_complex_output(fx, xs, ids, [H] * len(ids), what="the Hessian")
        return like(H, H, _jacobian_dtype(xs, ids, None))

    run.engine = engine  # type: ignore[attr-defined]
    run.__signature__ = _signature(fn)  # type: ignore[attr-defined]
    return run


def derivative(f: Any, n: int = 1, method: str = "reverse", **options: Any) -> Callable[..., Any]:
    """``derivative(f, n)(x)`` -> dⁿf/dxⁿ for a function of one input.

    Example:
        >>> import diffkit as dk
        >>> dk.derivative("x**3", n=2)(2.0)
        12.0
    """
    fn = as_function(f)
    if fn.arity > 1 and fn.arity - len(fn.defaults) == 1:  # the others at their defaults
        fn = _holding(fn, list(fn.completed([None])), [0])
    if fn.arity != 1:
        raise ArityError(f"derivative needs a function of one input; {fn.name} has {fn.arity}: use grad")
    if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 0:
        raise ValueError(f"the derivative order must be a whole number >= 0, got {n!r}")
    engine = get_engine(method, **options)

    def run(*args: Any, **keywords: Any) -> Any:
        if keywords:
            raise _keywords_refused(fn, keywords)
        args = fn.completed(args)
        fn.check_arity(args)
        (x,) = args
        (xa,) = _prepare(fn, [x], engine, method)
        fx = traced_as(fn, [xa], engine)
        with _strict(method):
            try:
                d = engine.derivative(fx, xa, int(n))
            except ShapeError:  # (of a function of one number: an array x's says so)
                named = _not_scalar("derivative", fx, [xa]) if size_of(xa) == 1 else None
                if named is None:
                    raise
                raise named from None
        _check_finite([d], f"the derivative of order {n}", method)
        if isinstance(d, Traced):  # inside a trace (dk.jit of it): the dtype, cast on the trace
            return d if n == 0 else like(d, xa, _jacobian_dtype([xa], [0], d))
        if n == 0:  # f itself, as its call gives it
            return _value(d)
        # the input's form — its shape, whichever form an engine returned for a one-element
        # output (fd gave [12.] for (x³,) at 2.0), and a list's shape — and its floating dtype
        # (complex where the derivative is: a holomorphic f), as for grad and jacobian — not
        # the engine's working dtype (SymPy's code runs in float64)
        if np.size(d) == size_of(xa):
            d = _module(d).reshape(d, shape_of(xa))
        return like(d, xa if isinstance(x, list | tuple) else x, _jacobian_dtype([xa], [0], d))

    def in_input_forms(out: Any, args: Sequence[Any]) -> Any:
        """`out` in the input's form, as a call of `run` gives it, where a Function wrapping
        `run` (``dk.jit(dk.derivative(f))``) gave it as a value (a 0-d piece as a number)."""
        (x,) = fn.completed(args)
        if n == 0 or isinstance(x, list | tuple) or isinstance(out, Traced) or \
                np.size(out) != size_of(x):
            return out
        return like(out, x, _jacobian_dtype([x], [0], out))

    run.in_input_forms = in_input_forms  # type: ignore[attr-defined]
    run.engine = engine  # type: ignore[attr-defined]
    run.__signature__ = _signature(fn)  # type: ignore[attr-defined]
    return run


def _not_scalar(call: str, fn: Function, xs: Sequence[Any]) -> ShapeError | None:
    """The error for `call` (hessian, derivative) of an f whose output is not one number, or
    None where it is one. Asked only after an engine refused (its nested gradient's error said
    "grad needs a scalar output"): f is evaluated again on that error path alone."""
    try:
        with np.errstate(all="ignore"):
            out = fn.evaluate(*xs)
    except (DiffkitError, ArithmeticError, ValueError, TypeError):  # the engine's error stands
        return None
    if isinstance(out, Traced) or size_of(out) == 1:
        return None
    return ShapeError(f"{call} needs a function with a scalar output; {fn.name} returns shape "
                      f"{shape_of(out)}: use dk.jacobian or dk.vjp")


def _per_input(value: Any, what: str) -> tuple[Any, ...]:
    """jvp's primals or tangents: a tuple or list, one entry per input (JAX's contract); a bare
    number or array (iterated, it was read as several inputs, or a (1,) array as a number) is
    an InputTypeError showing the call."""
    if isinstance(value, tuple | list):
        return tuple(value)
    raise InputTypeError(f"jvp takes its {what} as a tuple or list with one entry per input, "
                         f"not a {type(value).__name__}: for one input x with tangent t call "
                         "dk.jvp(f, (x,), (t,))")


def jvp(f: Any, primals: Sequence[Any], tangents: Sequence[Any], method: str = "reverse",
        **options: Any) -> tuple[Any, Any]:
    """Forward product: (f(primals), J·tangents), one tangent per input.

    `primals` and `tangents` are each a tuple or list, one entry per input (JAX's contract:
    ``dk.jvp(f, (x,), (t,))`` for one input); anything else is an InputTypeError. A tangent has its input's shape or is the flat vector of its elements, real for a real
    input. ``None`` holds an input constant (it is not differentiated). An integer or boolean
    input of a Python function (labels, indices, masks, counts) reaches it as given, as ``grad``
    passes one outside ``argnums``, when its tangent is ``None`` or zero (integer zeros are
    JAX's float0); a non-zero tangent for it is an InputTypeError (give it as floats to
    differentiate it). A parsed or SymPy function's inputs are real variables: all read as
    floats. A function returning a tuple or list has one output, its pieces' elements in
    order, and J·t has that flat shape.

    Example:
        >>> import diffkit as dk
        >>> dk.jvp("x*y", (2.0, 3.0), (1.0, 0.0), method="forward")
        (6.0, 3.0)
    """
    fn = as_function(f)
    engine = get_engine(method, **options)
    primals, tangents = _per_input(primals, "primals"), _per_input(tangents, "tangents")
    given = len(primals)
    primals = tuple(fn.completed(primals))
    if len(tangents) == given < len(primals):  # an input left at its default: held
        tangents = (*tangents, *[None] * (len(primals) - given))
    fn.check_arity(primals)
    if len(tangents) != len(primals):
        raise ArityError(f"jvp needs one tangent per input ({len(primals)}), got {len(tangents)}")
    held = _held(fn, primals, tangents)
    for name, t in zip(fn.inputs, tangents, strict=False):
        require_finite_direction(t, f"the tangent for {name!r}")
    # an input whose tangent is None is held: not differentiated, its value passed as grad
    # reads an argument outside argnums (a float as a NumPy float64; integers, lists and values
    # with no numbers as given), so its partials are never asked for (w ** k at w < 0 with k
    # held) and its number may be read (f"{k:.2f}"); a held float array is the function's own
    # copy, which `y += x` with a traced x cannot write into (a named TracingError)
    keep = [i for i in range(fn.arity) if i not in held]
    if not keep:  # nothing differentiated: J·t is zero
        xs = _prepare(fn, primals, engine, method, keep)
        with _strict(method):
            out = traced_as(fn, xs, engine).evaluate(*xs)
        return _value(out), _value(_module(out).zeros(shape_of(out), dtype=float_dtype(out)))
    if held:
        if fn.domain is not None:  # the held values are checked here: _holding's function
            fn.coerce(primals, keep)  # is another, traced afresh at every call
        fn = _holding(fn, [as_input(x, False, name) if i in held else x for i, (name, x)
                           in enumerate(zip(fn.inputs, primals, strict=True))], keep)
        primals, tangents = [primals[i] for i in keep], [tangents[i] for i in keep]
    xs = _prepare(fn, primals, engine, method)
    with _strict(method):
        out, t = engine.jvp(traced_as(fn, xs, engine), xs, [as_input(t) for t in tangents])
    _check_finite([t], "the JVP", method)
    if _discrete(out) and not isinstance(t, Traced):  # the tangent of integers or booleans
        # (a comparison, argmax) is zero in float64 by every method (JAX's float0 has no NumPy
        # form), not bool False by forward mode's and int 0 by the symbolic engine's
        t = _module(t).zeros(shape_of(out), dtype=float_dtype(out))
    return _value(out, xs), _value(t, tangents)


def _discrete(out: Any) -> bool:
    """Whether f's value holds integers or booleans (a single array or number, not traced)."""
    if isinstance(out, Traced | tuple | list | dict):
        return False
    dt = getattr(out, "dtype", None)
    if dt is None:
        return type(out) is bool or type(out) is int
    return np.dtype(dt).kind in "biu"


def _held(fn: Function, primals: Sequence[Any], tangents: Sequence[Any]) -> list[int]:
    """The inputs a JVP holds: every input whose tangent is None (read as ``grad`` reads one
    outside argnums), and a Python function's inputs that ``grad`` passes as given when it
    does not differentiate them (:func:`~diffkit.function.passed_as_given`: integers and
    booleans, lists, values that hold no numbers) whose tangent is zero. A non-zero tangent for
    integers or booleans, or any tangent for a value with no numbers, is an InputTypeError; a
    list of floats with a non-zero tangent is differentiated (the array NumPy reads from it),
    as ``grad`` differentiates one. A parsed or SymPy function's inputs are real variables:
    only a None tangent holds one."""
    held = [i for i, t in enumerate(tangents) if t is None]
    if fn.pure:
        return held
    for i, (name, x, t) in enumerate(zip(fn.inputs, primals, tangents, strict=True)):
        if t is None or not passed_as_given(x):
            continue
        try:
            kind = np.asarray(x).dtype.kind
        except ValueError:  # a ragged list: as grad names it (pass each piece as an input)
            try:
                as_input(x, True, name)
            except InputTypeError as exc:
                raise InputTypeError(f"{exc} (in jvp: its tangent None)") from None
            kind = "O"
        if kind in "fc":  # a list of numbers: held where its tangent is zero
            if _is_zero(t):
                held.append(i)
            continue
        if kind not in "iub":
            raise InputTypeError(f"input {name!r} is a {type(x).__name__}, which has no "
                                 "tangent: pass None as its tangent")
        check_tangent(t, name, np.shape(x), real=False)
        if not _is_zero(t):
            raise InputTypeError(
                f"input {name!r} holds integers or booleans ({np.asarray(x).dtype}), which "
                "have no tangent: pass None (or zeros) as its tangent to hold it constant, "
                f"or give it as floats ({name} * 1.0) to differentiate it")
        held.append(i)
    return sorted(held)


def _is_zero(t: Any) -> bool:
    """Whether a tangent is all zeros (a traced one never is: its value may change)."""
    if isinstance(t, Traced):
        return False
    try:
        return not np.any(np.asarray(t) != 0)
    except ValueError:  # a ragged tangent: not zeros
        return False


def _holding(fn: Function, primals: Sequence[Any], keep: Sequence[int]) -> Function:
    """`fn` of its inputs in `keep`, the others passed as given at `primals` (through
    :meth:`Function.run_body`: the body gets its own copies). Its trace holds at those values
    only, so it is never reused."""
    values = list(primals)

    def body(*args: Any) -> Any:
        full = list(values)
        for i, a in zip(keep, args, strict=True):
            full[i] = a
        return fn.run_body(*full)

    return Function(body, [fn.inputs[i] for i in keep], name=fn.name)


def vjp(f: Any, *primals: Any, method: str = "reverse", wrt: Any = None, argnums: Any = None,
        **options: Any) -> tuple[Any, Callable[..., tuple[Any, ...]]]:
    """Reverse product: (f(primals), pullback) with pullback(ct) = ctᵀ·J, one cotangent per input.

    The pullback is at the primals as they were at this call: arrays passed as primals and
    updated in place before it runs (an optimizer step) do not move it (arrays the function reads
    from elsewhere, a closure's, are read as they are then, as in JAX on the CPU).

    The cotangent has the output's shape (a number for a one-element output). A function
    returning a tuple or list has one output, its pieces' elements in order (as ``f(x)``,
    ``jacobian`` and ``jvp`` give it), and its pullback takes either one flat cotangent of
    that output or one cotangent per piece, in a tuple or list nested as the pieces are, each
    of its piece's shape (a number for a one-element piece): JAX's ``jax.vjp`` form. Anything
    else is a ShapeError naming the pieces' shapes.

    Example:
        >>> import diffkit as dk
        >>> out, pullback = dk.vjp("x*y", 2.0, 3.0)
        >>> pullback(1.0)
        (3.0, 2.0)
        >>> out, pullback = dk.vjp(lambda x: (x * 2.0, x**2), 3.0)
        >>> out, pullback((1.0, 1.0))
        (array([6., 9.]), (8.0,))
    """
    fn, seen = _recording(as_function(f))
    _check_method(fn, method)
    engine = get_engine(method, **options)
    idx, back = _positions(fn, wrt, argnums)
    primals, idx = _completed(fn, primals, idx, wrt is None and argnums is None, back)
    primals = tuple(primals)
    # the pullback runs later: the point is the arrays as they are now, not as the caller may
    # update them in place meanwhile (an optimizer step), which the residuals would read
    xs = [own_copy(x) for x in _prepare(fn, primals, engine, method, idx)]
    fx = traced_as(fn, xs, engine)
    with _strict(method, (fx, xs, idx)):
        out, pull = engine.vjp(fx, xs, idx)
    # the pieces' shapes at these primals (a shape: one output); a jit function's first trace,
    # made earlier, kept them
    outputs = seen[0] if seen[0] is not None else getattr(fx, "output_structure", None)

    def pullback(ct: Any) -> tuple[Any, ...]:
        if isinstance(outputs, list):
            ct = flat_cotangent(ct, outputs, size_of(out))
        ct = _cotangent(ct, out)
        require_finite_direction(ct, "the cotangent")  # (here, not per row of a Jacobian)
        want, have = float_dtype(out), float_dtype(ct)
        check_cotangent_kind(have, want)  # a complex one for a real output: ShapeError
        if have.kind == want.kind and have.itemsize < want.itemsize and \
                not isinstance(ct, Traced):  # a cotangent lives in the output's space: a
            ct = _module(ct).asarray(ct, dtype=want)  # float32 one of a float64 output, cast
            # exactly (reverse ran ct·A in float32 beside a float32 constant; forward did not)
        with _strict(method, (fx, xs, idx)):
            cts = pull(ct)
            _check_finite(cts, "the VJP", method, (fx, xs, idx))
        return tuple(like(c, primals[i]) for c, i in zip(cts, idx))

    return _value(out, xs), pullback


def _cotangent(ct: Any, out: Any) -> Any:
    """A pullback's cotangent read as numbers (:func:`~diffkit.function.as_input`); one that is
    not (None, a str, a ragged list) is an InputTypeError that names the cotangent."""
    try:
        return as_input(ct)
    except InputTypeError:
        raise InputTypeError(
            f"the cotangent passed to the pullback is a {type(ct).__name__}, which is not one "
            f"array of numbers: pass a number or an array of the output's shape {shape_of(out)} "
            "(for a function returning a tuple, one per piece)") from None


def _recording(fn: Function) -> tuple[Function, list[Any]]:
    """`fn` as a Function whose body also records the structure of what it returns, in
    ``seen[0]`` (:func:`output_pieces`), and returns nested tuples or lists as one flat tuple of
    pieces. A shallow copy: it shares `fn`'s cache (what engines derived for pure and jit
    functions, a jit function's frozen first trace), since it computes the same output."""
    seen: list[Any] = [None]
    body_of = fn.body

    def body(*args: Any) -> Any:
        out = body_of(*args)
        seen[0], pieces = output_pieces(out)
        return tuple(pieces) if isinstance(seen[0], list) else out

    view = copy.copy(fn)
    view.body = body
    return view, seen


def symbolic(f: Any, *point: Any, wrt: Any = None, order: int = 1, **options: Any) -> Any:
    """The exact derivative of f as SymPy objects: a :class:`SymbolicDerivative`.

    It has ``.expressions`` (simplified when small), ``.latex()``, ``.expanded()`` (every
    intermediate substituted), ``.replacements``/``.reduced`` (its CSE form), ``.sizes()`` (the
    expression swell: tree, shared DAG, after CSE) and ``.source`` (the generated Python code).
    Without a point, the inputs are taken to be scalars, and f must not branch on their values
    (an ``if x > 0``, ``max(x, 1.0)``): its derivative would be one branch's, so that is a
    TracingError — give a point (``dk.symbolic(f, x0)``: the derivative of the branch taken
    there), or write the branch with ``np.where`` (a Piecewise, with no point needed).

    Example:
        >>> import diffkit as dk
        >>> dk.symbolic("ln(x1) + x1*x2 - sin(x2)").expressions
        [x2 + 1/x1, x1 - cos(x2)]
    """
    from .engines.symbolic import SymbolicEngine

    if order not in (1, 2):
        raise ValueError(f"order must be 1 (gradient/Jacobian) or 2 (Hessian), got {order}")
    fn = as_function(f)
    idx, back = _positions(fn, wrt, None)
    if point:
        point, idx = _completed(fn, point, idx, wrt is None, back)
        args = _prepare(fn, point, wrt=idx)
        settings: dict[str, str] = STRICT
    else:  # a stand-in point: a trace that branched there is refused (not f's derivative)
        args, settings = [np.float64(0.5)] * fn.arity, {"all": "ignore"}
    with np.errstate(**settings):
        return SymbolicEngine(**options).derive(traced_as(fn, args), args, idx, order=order,
                                                point=bool(point))
