"""`Function`: a differentiable function with named inputs, built by parsing, tracing or SymPy.

Tracing semantics (the rule that keeps answers right; docs/design.md has the full contract):

* A Python function (``dk.function``) is traced afresh at every call, as PyTorch and ``jax.grad``
  do, so whatever it reads — closures, globals, attributes, random state — is read again.
* Functions built from text (``dk.parse``) or SymPy (``dk.from_sympy``) are pure by construction:
  engines may keep what they derived from one trace (compiled code, symbolic derivatives) and use
  it for every call with the same signature (shapes and dtypes).
* ``dk.jit(f)`` opts a Python function in to the same reuse, with JAX's contract: values it does
  not take as arguments are constants frozen at its first trace for each signature. A Python
  branch on a traced value (or a number read out of one) makes that trace valid at its point
  only, so a jit function that does so is traced again at every call.
"""

from __future__ import annotations

import functools
import html
import inspect
import keyword
import math
import numbers
import os
from collections.abc import Callable, Sequence
from threading import get_ident
from typing import Any

import numpy as np

from .errors import (
    ArityError,
    DiffkitError,
    DomainError,
    InputTypeError,
    InvalidNameError,
    MissingRuleError,
    NumericOverflowError,
    ObjectArrayError,
    ShapeError,
    TracedMutationError,
    TracingError,
)
from .ir import Graph, Node, Traced, held_value, toposort
from .primitive import STRICT, bind, finite
from .primitives.linalg import linalg_error
from .tensor import FiniteDerivative, Tensor, handing_out, new_tape, note_check, own_copy

#: notebooks show a function's formula only up to this many graph nodes and SymPy operations
DISPLAY_NODES, DISPLAY_OPS = 200, 400


def as_input(x: Any, differentiated: bool = True, name: str | None = None) -> Any:
    """Coerce one argument (input `name`, for messages): Python numbers to NumPy scalars, lists
    and integer arrays to float64 arrays. A Python float or complex that is not `differentiated`
    stays the Python number (:func:`weak_number`), as NumPy and JAX read it: weakly typed.

    Floating and complex dtypes are kept (float32 stays float32). An argument that is not
    `differentiated` is read as numbers only where it is a float or complex number or array:
    anything else — integers and booleans (labels, indices, masks, counts), lists and tuples,
    strings, None, dicts, any other object — is returned as the caller gave it
    (:func:`given_as_is`), as NumPy and JAX pass it. An ndarray subclass other than
    ``np.memmap`` (plain storage, read as an array) is an InputTypeError: a masked array's or
    ``np.matrix``'s operators mean other things than the traced ones; so is a differentiated
    argument that holds no numbers NumPy reads as one array (a str, a ragged list)."""
    t = type(x)
    if t is Tensor or t is np.float64 or t is np.ndarray and x.dtype.kind in "fc":
        return x
    if t is float or t is complex:  # held, a Python number stays weak (NEP 50: x32 * 0.1 is
        # float32); differentiated, a NumPy scalar, so NumPy's error handling applies
        return x if not differentiated else np.float64(x) if t is float else np.complex128(x)
    if not differentiated and (given_as_is(x) or isinstance(x, list | tuple)):
        return x
    if isinstance(x, bool | int | float | np.integer | np.bool_):
        return np.float64(x)  # a NumPy scalar, so NumPy's error handling applies
    if isinstance(x, np.floating | np.complexfloating):
        return x
    if isinstance(x, complex):
        return np.complex128(x)
    what = f"input {name!r}" if name else "an input"
    if isinstance(x, list | tuple):
        try:
            arr = np.asarray(x)
        except ValueError:  # ragged: NumPy reads no one array from it
            raise InputTypeError(
                f"{what} is a {t.__name__} of pieces of different shapes "
                f"({_piece_shapes(x)}), which is no array to differentiate: pass each piece as "
                "an input of its own (f(a, b)), or one array (np.concatenate of the pieces), or "
                "leave it out of wrt=/argnums= to pass it to the function as given") from None
        return arr if arr.dtype.kind in "fc" else _floats(arr, what, t.__name__)
    if t is not np.ndarray and isinstance(x, np.ndarray):  # a subclass: its operators may
        # mean other things
        if isinstance(x, np.memmap):  # file-backed storage, ndarray's own semantics
            return as_input(np.asarray(x), differentiated, name)
        raise InputTypeError(f"{what} is a {t.__name__} (an ndarray subclass: masked arrays "
                             "drop masked elements, np.matrix reads * as a matrix product, which "
                             "tracing does not record): pass a plain array, np.asarray(x) (a "
                             "masked array's x.filled(v) or x.compressed()), and write the "
                             "operation you mean (x @ y)")
    if isinstance(getattr(x, "dtype", None), np.dtype) and hasattr(x, "shape"):  # NumPy and
        # CuPy arrays and scalars (the numpy module has a dtype and a shape too: classes)
        return x if x.dtype.kind in "fc" else _floats(x, what, f"{x.dtype} array")
    if t is dict:  # reached here from every derivative but grad and value_and_grad
        raise InputTypeError(f"{what} is a dict: dk.grad and dk.value_and_grad differentiate a "
                             "dict of numbers and arrays leaf by leaf (JAX's parameter dicts); "
                             "for this derivative pass its arrays as inputs of their own, or "
                             "leave it out of wrt=/argnums= to pass it to the function as given")
    raise InputTypeError(f"{what} is a {t.__name__}, which cannot be differentiated: {_HOW}")


#: what to do with an argument that holds no numbers to differentiate
_HOW = ("pass numbers or arrays for the inputs being differentiated, or leave it out of "
        "wrt=/argnums= to pass it to the function as given")


def _floats(arr: Any, what: str, kind: str) -> Any:
    """`arr` (the array a differentiated input reads as) as float64; one that holds no numbers
    (strings, None), dates or durations (NumPy computes no x**2 of them), exact numbers
    (Fraction, Decimal: refused as those scalars are) or complex numbers in an object array is
    an InputTypeError naming the input."""
    if arr.dtype.kind in "mM":
        raise InputTypeError(
            f"{what} is a {kind} of dates or durations, which NumPy computes no arithmetic "
            "like x**2 on, so it cannot be differentiated: pass them as floats, e.g. "
            "(t - t0) / np.timedelta64(1, 'D'), or leave it out of wrt=/argnums= to pass it to "
            "the function as given")
    if arr.dtype.kind == "O":
        held = {type(e) for e in np.ravel(arr)[:1000]} - {float, int, bool}
        exact = sorted(t.__name__ for t in held if t.__name__ in ("Fraction", "Decimal"))
        if exact:
            raise InputTypeError(
                f"{what} is an object array of {' and '.join(exact)} numbers, which cannot be "
                "differentiated (as a Fraction or Decimal scalar cannot): pass floats, "
                f"x.astype(float), or leave it out of wrt=/argnums= to pass it as given")
        if any(issubclass(t, complex | np.complexfloating) for t in held):
            raise InputTypeError(
                f"{what} is an object array that holds complex numbers: pass x.astype(complex) "
                "(a complex array) to differentiate it, or leave it out of wrt=/argnums= to "
                "pass it to the function as given")
    try:
        return arr.astype(float)
    except DiffkitError:  # a traced value read as a number (nested derivatives): named there
        raise
    except (TypeError, ValueError) as exc:
        raise InputTypeError(f"{what} is a {kind} that holds no numbers ({exc}), which cannot be "
                             f"differentiated: {_HOW}") from None


def _held_float(x: Any) -> Any:
    """A Fraction or Decimal held constant (an input outside wrt=) as the float a Python
    function's arithmetic makes of it (x * Fraction(1, 3) is a float); anything else as given."""
    name = type(x).__name__
    return float(x) if name in ("Fraction", "Decimal") and type(x).__module__ in (
        "fractions", "decimal", "_pydecimal") else x


def _piece_shapes(x: Sequence[Any]) -> str:
    shown = ", ".join(str(np.shape(p)) if not isinstance(p, list | tuple) else
                      f"a {type(p).__name__} of {len(p)}" for p in list(x)[:4])
    return shown + (", …" if len(x) > 4 else "")


_INT64_MIN, _INT64_MAX = int(np.iinfo(np.int64).min), int(np.iinfo(np.int64).max)


def given_as_is(x: Any) -> bool:
    """Whether `x`, as an argument that is not differentiated, reaches the function unchanged
    and is no number diffkit reads: integers or booleans (a Python or NumPy integer or bool, an
    integer or boolean array, a list or tuple of them: a label array indexes, a count drives
    ``range``, ``2**k`` stays exact), or no numbers at all (a str, None, a dict, a callable, any
    other object; an array of strings or dates; a list or tuple NumPy reads as no float array:
    a ragged one). Such a value is a constant of its trace, as NumPy and JAX pass it. A list of
    floats reaches the function as given too (:func:`as_input`), but holds numbers."""
    t = type(x)
    if t is int:  # one NumPy holds (an object array beyond int64 is no number to NumPy)
        return _INT64_MIN <= x <= _INT64_MAX
    if t is bool or isinstance(x, np.integer | np.bool_):
        return True
    if t is np.ndarray:
        return x.dtype.kind not in "fcO"
    if isinstance(x, list | tuple):
        try:
            return np.asarray(x).dtype.kind not in "fc"
        except Exception:  # noqa: BLE001 - ragged, or pieces NumPy cannot read: not numbers
            return True
    if isinstance(x, int | float | complex | np.number | Tensor):
        return False
    return isinstance(x, np.generic) or not (
        isinstance(getattr(x, "dtype", None), np.dtype) and hasattr(x, "shape"))


def body_numeric_error(name: str, exc: FloatingPointError) -> DiffkitError:
    """NumPy's FloatingPointError from the body's own operators (on values it holds: integer
    arguments, its constants) as a named error. NumPy's *scalar* arithmetic checks an integer
    overflow and reports it as a floating-point one ("overflow encountered in scalar
    multiply", the same words as a float's), where its arrays wrap silently: under diffkit's
    errors, which raise, an int8 NumPy scalar's 100·100 is refused by name, never blamed on a
    floating-point derivative, and the message says how to get NumPy's wrap."""
    if "overflow" not in str(exc):
        return DomainError(f"{name}: point outside the domain ({exc})")
    if "scalar" in str(exc):
        return NumericOverflowError(
            f"{name}: a NumPy scalar operation in the function overflows ({exc}): NumPy checks "
            "the arithmetic of its integer and float scalars (np.int8(100) * np.int8(100)), "
            "which diffkit makes an error, and wraps integers in arrays only; for NumPy's "
            "wrap, pass an integer argument as an array (np.asarray(k)), or compute it in "
            "Python ints or a wider dtype")
    return NumericOverflowError(f"{name}: a value overflows ({exc})")


def weak_number(x: Any) -> bool:
    """Whether `x` is a Python float or complex: a *weak* number to NumPy 2 (NEP 50) and JAX —
    ``x32 * 0.1`` is float32 and ``x32 * (1+2j)`` complex64, where the NumPy scalars
    ``np.float64(0.1)`` and ``np.complex128(1+2j)`` make float64 and complex128. Held (not
    differentiated), it reaches the body as the caller gave it; a jit trace reads it as a
    float64 (complex128) input only where that promotes as the number does
    (:func:`weak_sensitive`)."""
    t = type(x)
    return t is float or t is complex


def strong_numbers(args: Sequence[Any]) -> tuple[Any, ...]:
    """`args` with each Python float or complex as the NumPy float64 or complex128 scalar a
    trace reads it as (a jit function's signature and first trace are made from these)."""
    return tuple(np.float64(a) if type(a) is float else np.complex128(a) if type(a) is complex
                 else a for a in args)


#: the floating dtypes a weak Python number and its float64/complex128 scalar promote apart in
#: (NumPy's result is float32 for float32 x * 0.1, float64 for float32 x * np.float64(0.1))
_NARROW = frozenset(np.dtype(d) for d in ("float16", "float32", "complex64"))


def narrow_signature(sig: Sequence[Any]) -> bool:
    """Whether a signature (:func:`signature`) holds an argument of a dtype where a weak Python
    number and its NumPy scalar promote differently (float16, float32, complex64)."""
    return any(dtype in _NARROW for _, _, dtype in sig)


def weak_sensitive(graph: Graph) -> frozenset[int]:
    """The positions of `graph`'s inputs whose value reaches an operation beside an operand of
    a dtype where a weak Python number promotes apart from a float64/complex128 one (float16,
    float32, complex64): where such an input was a Python float or complex, the trace (which
    read it as float64/complex128) is not what the body computes. Elsewhere (float64, complex128
    and integer operands only) the two promote alike, value for value. Scalar code (a trace of
    records only) holds float64 values only: no input is sensitive."""
    if graph.recorded is not None:
        return frozenset()
    reach: dict[Node, set[int]] = {n: {i} for i, n in enumerate(graph.inputs)}
    out: set[int] = set()
    for node in graph.nodes:
        if node.prim is None:
            continue
        mine: set[int] = set()
        for o in node.inputs:
            mine |= reach.get(o, set())
        if not mine:
            continue
        reach[node] = mine
        if any(o.dtype in _NARROW for o in node.inputs):
            out |= mine
    return frozenset(out)


def _weak_held(args: Sequence[Any], positions: frozenset[int]) -> bool:
    """Whether one of `positions` (:func:`weak_sensitive`) holds a Python float or complex in
    `args`: there a trace that read it as float64/complex128 is not what the body computes."""
    return any(i in positions for i, a in enumerate(args) if weak_number(a))


def passed_as_given(x: Any) -> bool:
    """Whether :meth:`Function.coerce` passed `x` (an argument not differentiated) to the
    function as the caller gave it, rather than reading it as numbers (a traced input)."""
    return given_as_is(x) or isinstance(x, list | tuple)


def read_as_numbers(args: Sequence[Any]) -> list[int]:
    """The positions of `args` (coerced as a call or a derivative reads them) that a trace
    reads as numbers: all but those passed as given (:func:`passed_as_given`). A trace with
    these as its `wrt` keeps every argument as it is — an integer array that is not
    differentiated stays integer (``k**3`` wraps in int8 as NumPy computes it), one that is
    differentiated was made float64 already — so it is the trace a fresh call makes."""
    return [i for i, a in enumerate(args) if not passed_as_given(a)]


def input_value(x: Any) -> Any:
    """The value an input node records for an argument passed as given: the array NumPy reads
    from it, or a 0-d object array holding it (None, a dict, a ragged list)."""
    try:
        value = np.asarray(x)
    except Exception:  # noqa: BLE001 - pieces NumPy cannot read as one array
        value = None
    if value is None or value.dtype.kind == "O":
        value = np.empty((), dtype=object)
        value[()] = x
    return value


#: what NumPy's ValueErrors about shapes say (operators, matmul, reshape, concatenation):
#: :meth:`Function.evaluate` names those a ShapeError and lets every other ValueError through
_NUMPY_SHAPE_MESSAGES = ("could not be broadcast", "not aligned", "core dimension",
                         "cannot reshape", "shape mismatch", "must match exactly",
                         "dimensions must match", "must have the same shape",
                         "input operand has more dimensions",
                         "does not have enough dimensions")


#: what NumPy says when an object array reaches code that computes on numbers only: a cast of
#: dtype('O') (linalg's gufuncs, np.interp), no loop for it (np.fft), an element without the
#: ufunc's method (a float beside traced values has no ``.sin``)
_OBJECT_ARRAY_SIGNS = ("dtype('O')", "not supported for the input types",
                       "loop of ufunc does not support argument")


def _object_array_failure(exc: TypeError, args: Sequence[Any]) -> bool:
    """Whether NumPy's `exc`, raised in a body traced at `args`, is an object array of traced
    values (what ``np.array([x, y])`` of traced numbers makes) meeting code for numbers."""
    if not any(type(a) is Tensor and a.tape.level for a in args):
        return False
    text = str(exc)
    if "dtype('O')" in text or "loop of ufunc does not support argument" in text:
        return True  # NumPy names the object array itself
    # "not supported for the input types" is also NumPy's answer to a complex number where a
    # function takes real ones only: an object array must be among the failing calls' values
    return _OBJECT_ARRAY_SIGNS[1] in text and _object_array_seen(exc)


def _object_array_seen(exc: BaseException) -> bool:
    """Whether an object array is among the local values of the frames `exc` unwound."""
    tb = exc.__traceback__
    while tb is not None:
        for v in tb.tb_frame.f_locals.values():
            if type(v) is np.ndarray and v.dtype == object:
                return True
            if isinstance(v, tuple | list) and any(type(e) is np.ndarray and e.dtype == object
                                                   for e in v[:8]):
                return True
        tb = tb.tb_next
    return False


#: an in-place NumPy function (or an assignment) on an array read out of a traced value
_WROTE_INTO_TRACE = (
    "{name}: {at}NumPy wrote into an array read out of a traced value ({exc}): np.put, "
    "np.copyto, np.place, np.putmask, np.put_along_axis, or an assignment into np.asarray(x) "
    "or x.value, where x is traced. A traced value never changes in place (the graph recorded "
    "it; an argument's would be the caller's own array): build the new array instead, "
    "x = dk.where(mask, v, x) or x + dk.index_add(v - x[i], i, x.shape), or write into a "
    "NumPy copy of a constant, np.array(x, copy=True)")


def _wrote_into_trace(exc: ValueError) -> bool:
    """Whether `exc` is NumPy refusing to write into a read-only array (what
    :func:`~diffkit.tensor.read_only` hands out of a trace)."""
    text = str(exc)
    return "read-only" in text and ("output array" in text or "destination" in text
                                    or "array is read-only" in text or "base is" in text)


def _body_line(exc: BaseException) -> str:
    """``"at file:line, "``: the user's line where `exc` was raised (the last frame outside
    diffkit and NumPy), or empty."""
    tb, line = exc.__traceback__, ""
    while tb is not None:
        code = tb.tb_frame.f_code.co_filename
        if f"{os.sep}diffkit{os.sep}" not in code and f"{os.sep}numpy{os.sep}" not in code:
            line = f"at {os.path.basename(code)}:{tb.tb_lineno}, "
        tb = tb.tb_next
    return line


def _object_array_message(name: str, exc: TypeError) -> str:
    ufunc = getattr(exc, "ufunc", None)
    what = f"NumPy's {ufunc.__name__}" if ufunc is not None else "NumPy"
    return (f"{name}: {what} cannot compute on the values it got ({exc}). The usual cause is "
            "an object array: np.array([...]) of traced numbers holds them one by one, which "
            "NumPy's linear algebra, FFT and functions of a plain number beside them cannot "
            "use. Build one traced array instead: np.stack([...]) or dk.stack([...]) (nested "
            "lists too), e.g. dk.stack([[x, y], [y, 2.0]])")


def _from_numpy(exc: ValueError) -> bool:
    """Whether NumPy raised `exc` about its operands: its innermost frame is NumPy's Python
    code (np.linalg.outer's "must be one-dimensional"), or its message is one of NumPy's shape
    messages from C (operators, matmul, reshape: raised in the body's own frame)."""
    tb = exc.__traceback__
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    if tb is not None and f"{os.sep}numpy{os.sep}" in tb.tb_frame.f_code.co_filename:
        return True
    return any(m in str(exc) for m in _NUMPY_SHAPE_MESSAGES)


def _tree_size(graph: Graph) -> int:
    """The operations of the graph's output written as a tree (every shared value substituted),
    counted over the DAG and capped: what a formula would print, known before SymPy builds and
    walks it (sp.count_ops on an 80-node function that swells ran for minutes)."""
    cap = DISPLAY_OPS + 1
    size: dict[int, int] = {}
    for node in graph.nodes:
        size[node.id] = 0 if node.prim is None else min(
            cap, 1 + sum(size.get(i.id, 0) for i in node.inputs))
    return size.get(graph.output.id, 0)


#: an input a keyword call has not given yet (Function._bound)
_UNSET = object()


def signature(args: Sequence[Any]) -> tuple[Any, ...]:
    """What a reused trace must match: every argument's shape, dtype and kind of container."""
    return tuple((type(a), getattr(a, "shape", ()), getattr(a, "dtype", None)) for a in args)


def check_names(inputs: Sequence[Any], what: str) -> tuple[str, ...]:
    """Input names must be distinct Python identifiers (they name symbols and appear in listings)."""
    names = tuple(inputs)
    for n in names:
        if not isinstance(n, str) or not n.isidentifier() or keyword.iskeyword(n) or n.startswith("__"):
            raise InvalidNameError(f"{what}: input name {n!r} is not allowed: names must be "
                                   "identifiers (letters, digits, _) that are not Python keywords")
    if len(set(names)) != len(names):
        raise InvalidNameError(f"{what}: input names must be distinct, got {list(names)}")
    return names


class Function:
    """A function of named inputs, differentiable by every engine.

    Attributes:
        body: the Python callable (diffkit operations on its arguments).
        inputs: the input names. name: for listings and messages. text: the source text, if any.
        pure: built from text or SymPy: no state outside its arguments, so traces may be reused.
        jit: opted in to reuse with JAX's contract (see :func:`jit`).

    Example:
        >>> import diffkit as dk
        >>> f = dk.parse("ln(x1) + x1*x2 - sin(x2)")
        >>> f.inputs
        ('x1', 'x2')
        >>> f(2.0, 5.0)
        11.652071455223084
    """

    #: what a function built from SymPy assumes of its inputs (their symbols' assumptions), an
    #: :class:`~diffkit.domains.InputDomain` that :meth:`coerce` checks at every point; None
    #: (nothing to check: a class attribute, so other functions pay one attribute read)
    domain: Any = None
    #: a function built from SymPy: the symbols it was built from, which :meth:`to_sympy` uses
    sympy_symbols: tuple[Any, ...] | None = None

    def __init__(self, body: Callable[..., Any], inputs: Sequence[str], name: str | None = None,
                 text: str | None = None, *, pure: bool = False, jit: bool = False) -> None:
        self.body = body
        self.inputs = check_names(inputs, "Function")
        self.name = str(name or getattr(body, "__name__", "f"))
        self.text = text
        self.pure = pure
        self.jit = jit
        #: what engines derived from one trace (compiled code, symbolic derivatives, cost
        #: estimates), keyed by their own keys including the signature; only used when reusable
        self.cache: dict[Any, Any] = {}
        #: (signature key, thread) of the first traces running now (see freeze)
        self._first_traces: set[tuple[Any, int]] = set()
        #: the inputs a pure function takes as given, not as real variables: a replay's inputs
        #: that its trace held as objects (a dict, a str, None), which the replay ignores
        self.opaque_inputs: frozenset[int] = frozenset()
        #: a jit function's replay of its first trace only: the inputs a held Python float or
        #: complex would promote apart from the float64 the trace read (True: all; see
        #: :meth:`weak_apart`), None elsewhere
        self.weak_inputs: bool | frozenset[int] | None = None
        #: the default values of a Python function's last inputs (``lam=1e-2``), which a call
        #: that leaves them out gets, as Python gives them (:meth:`completed`)
        self.defaults: tuple[Any, ...] = ()
        #: a body that says what form its pieces have at given arguments (a gradient's: its
        #: inputs' forms, ``GradientFunction.in_input_forms``): ``(value, args) -> value``, which
        #: a call applies to its value in place of the call's own (a 0-d piece as a number)
        self.formed: Callable[[Any, Sequence[Any]], Any] | None = getattr(
            body, "in_input_forms", None)

    @property
    def reusable(self) -> bool:
        """May engines reuse what they derived from one trace for other points (same signature)?"""
        return self.pure or self.jit

    @property
    def arity(self) -> int:
        return len(self.inputs)

    def completed(self, args: Sequence[Any]) -> Sequence[Any]:
        """`args` with the defaults of the inputs a call leaves out at the end, where the Python
        function has them (``f(w, X)`` of ``def f(w, X, lam=1e-2)`` is ``f(w, X, 1e-2)``, as
        Python binds it): they are then data, passed as given (not differentiated unless
        named in wrt=); `args` as they are otherwise (too few is then an ArityError)."""
        missing = len(self.inputs) - len(args)
        if missing <= 0 or missing > len(self.defaults):
            return args
        return (*args, *self.defaults[len(self.defaults) - missing:])

    def check_arity(self, args: Sequence[Any]) -> None:
        if len(args) != len(self.inputs):
            names = ", ".join(self.inputs)
            raise ArityError(f"{self.name} takes {len(self.inputs)} input(s) ({names}), got "
                             f"{len(args)}")

    def positions(self, wrt: Any, argnums: Any = None) -> list[int]:
        """The inputs named by ``wrt=`` (or its alias ``argnums=``), as distinct positions: an
        input's position (negative counts from the end) or its name, one or a sequence; None
        is every input. Anything else, and an input listed twice, is an ArityError."""
        if argnums is not None:
            if wrt is not None:
                raise ArityError("pass wrt= or its alias argnums=, not both")
            wrt = argnums
        if wrt is None:
            if not self.arity:  # as wrt=[]: forward mode and Jacobians raised bare errors
                raise ArityError(f"{self.name} has no inputs: there is nothing to differentiate "
                                 "(a constant's derivatives are those of no variable)")
            return list(range(self.arity))
        if isinstance(wrt, str | numbers.Integral):
            items = [wrt]
        else:
            try:
                items = list(wrt)
            except TypeError:
                raise ArityError(f"wrt={wrt!r}: pass an input's position or name, or a sequence "
                                 "of them") from None
            if not items:  # every method answered it differently (empty arrays, bare errors)
                raise ArityError(f"wrt={wrt!r} names no input of {self.name}: there is nothing to "
                                 "differentiate; name at least one (wrt=0), or None for all")
        out: list[int] = []
        for w in items:
            if isinstance(w, str):
                if w not in self.inputs:
                    raise ArityError(f"wrt={w!r} is not an input of {self.name}; its inputs are "
                                     f"{self.inputs}")
                i = self.inputs.index(w)
            elif isinstance(w, numbers.Integral) and not isinstance(w, bool | np.bool_):
                if not -self.arity <= w < self.arity:
                    raise ArityError(f"wrt={w} is out of range for {self.name}, which has "
                                     f"{self.arity} input(s)")
                i = int(w) % self.arity
            else:
                raise ArityError(f"wrt={w!r}: an input is named by its position (an integer) or "
                                 "its name (a string)")
            if i in out:  # the engines seed each input once: a second copy would get 0 or a mix
                raise ArityError(f"wrt lists input {self.inputs[i]!r} (position {i}) twice: "
                                 "list each input once")
            out.append(i)
        return out

    def check_finite(self, name: str, ok: bool) -> None:
        """DomainError naming input `name` where `ok` (its values are finite) is False."""
        if not ok:
            raise DomainError(self.not_finite(name))

    def not_finite(self, name: str) -> str:
        """The message of :meth:`check_finite` for input `name`."""
        label = getattr(self, "input_labels", {}).get(name)  # a dict's leaf: p['a']
        what = f"input {name!r}" if label is None else f"the dict entry {label}"
        return (f"{what} of {self.name} is not finite (NaN or infinite): "
                "diffkit differentiates at finite points only")

    #: runs a jit function's call as generated code where that is sound (installed by the
    #: compiled engine, which sits above this module): ``(fn, args) -> the call's value`` (its
    #: pieces as :meth:`run_body` gives them with `stack` false) or NOT_COMPILED
    jit_evaluator: Callable[[Function, tuple[Any, ...]], Any] | None = None

    def run_body(self, *args: Any, structure: list[Any] | None = None, stack: bool = True
                 ) -> Any:
        """The body at `args`, its outputs stacked (:func:`stack_outputs`; with `stack` false,
        checked and given back as a call gives them: :func:`as_called`). The body gets its own
        copy of every array argument (:func:`own_copy`): an in-place update in it rebinds, as in
        traced code, and moves neither the caller's data nor an engine's point. NumPy replaces an
        error raised while it converts a value (``y[0] = x`` asks float(x), which is a
        TracingError for a traced x) by its own ValueError ("setting an array element with a
        sequence"): that TracingError is raised as itself, naming the problem. `structure`, if
        given, receives the structure of what the body returned (:func:`output_pieces`), its
        forms (:func:`output_forms`), then the pieces stacked (None for one output). A replay
        called with `stack` false gives back the body's value rebuilt, each piece the replay's
        own value (:meth:`_Replay.called`)."""
        body = self.body
        if not stack and type(body) is _Replay:
            body = body.called
        try:
            out = body(*[own_copy(a) for a in args])
            _refuse_escaped(out, self.name)
            if structure is not None:
                structure.append(output_pieces(out)[0])
                structure.append(output_forms(out))
            if not stack:
                _checked_pieces(out)
                return as_called(out)
            pieces: list[Any] | None = [] if structure is not None else None
            stacked = stack_outputs(out, pieces)
            if structure is not None:
                structure.append(pieces)
            return stacked
        except (ValueError, TypeError) as exc:
            cause = exc.__cause__ or exc.__context__  # NumPy chains it as the cause
            if isinstance(cause, TracingError) and not isinstance(exc, DiffkitError):
                raise cause from None
            if (isinstance(exc, ValueError) and not isinstance(exc, DiffkitError)
                    and _wrote_into_trace(exc) and handing_out()):
                raise TracedMutationError(_WROTE_INTO_TRACE.format(
                    name=self.name, exc=exc, at=_body_line(exc))) from None
            if (isinstance(exc, TypeError) and not isinstance(exc, DiffkitError)
                    and _object_array_failure(exc, args)):
                raise ObjectArrayError(_object_array_message(self.name, exc)) from exc
            raise

    def __call__(self, *args: Any, **keywords: Any) -> Any:
        """Evaluate at `args` (inputs may also be given by name, as Python binds a call); a 0-d
        result comes back as a Python number. A ``dk.jit`` function runs generated code, once
        compiled for the arguments' signature."""
        if keywords:
            args = self._bound(args, keywords)
        given = args  # (as the caller passed them: a body's `formed` completes them itself)
        args = self.completed(args)
        self.check_arity(args)
        args = tuple(self.coerce(args, ()))
        if any(type(a) is Tensor for a in args):
            if self.jit and not self.pure:  # its first trace at the values' signature, as a
                # plain call runs it (the body live read the outside as it is now: a jit
                # function inside a derivative disagreed with its own call)
                made = self._frozen_at_values(args)
                if made is not self:  # each piece a traced value of its own dtype
                    return made.run_body(*args, stack=False)
            # a tuple the body returned is a tuple here too, its pieces as the body made them:
            # the caller indexes it (inner(x)[1]), not the flat output derivatives see
            return self.run_body(*args, stack=False)
        with np.errstate(**STRICT):
            if self.jit and Function.jit_evaluator is not None:
                out = Function.jit_evaluator(self, args)
                if out is not NOT_COMPILED:
                    return out if self.formed is None else self.formed(out, given)
            out = self.evaluate(*args, stack=False)
            return out if self.formed is None else self.formed(out, given)

    def _frozen_at_values(self, args: tuple[Any, ...]) -> Function:
        """A jit function called with traced arguments (inside a derivative, or eager Tensors):
        :meth:`frozen` at the signature of their values — the first trace a plain call made or
        makes now at these values — whose replay then records on the arguments' tapes; the
        function itself where there is none (a trace that branched on its inputs, an argument
        taken as given, a first trace that raised: the body then runs, and raises, itself)."""
        values = []
        for a in args:
            while type(a) is Tensor:
                a = held_value(a)
            if isinstance(a, Traced):  # no value to read (another kind of traced value)
                return self
            values.append(a)
        try:
            return self.frozen(*self.coerce(values, ()))  # as the plain call reads them
        except Exception:  # noqa: BLE001 - the body, run on the traced values, raises it
            return self

    def _bound(self, args: tuple[Any, ...], keywords: dict[str, Any]) -> tuple[Any, ...]:
        """`args` with `keywords` placed at their inputs' positions, as Python binds a call (an
        input left out takes its default, where it has one): a name that is no input, an input
        given twice or one left out is an ArityError."""
        names = list(self.inputs)
        full: list[Any] = list(args) + [_UNSET] * (len(names) - len(args))
        for name, value in keywords.items():
            if name not in names:
                raise ArityError(f"{self.name} has no input {name!r} (its inputs: "
                                 f"{', '.join(names)})")
            i = names.index(name)
            if full[i] is not _UNSET:
                raise ArityError(f"{self.name}: input {name!r} given twice")
            full[i] = value
        first = len(names) - len(self.defaults)  # the inputs with defaults
        full = [self.defaults[i - first] if v is _UNSET and i >= first else v
                for i, v in enumerate(full)]
        missing = [n for n, v in zip(names, full, strict=False) if v is _UNSET]
        if missing:
            raise ArityError(f"{self.name}: input(s) {', '.join(map(repr, missing))} not given")
        return tuple(full)

    def evaluate(self, *args: Any, structure: list[Any] | None = None, stack: bool = True
                 ) -> Any:
        """Evaluate without converting the result (complex and array results kept as they are).
        Nothing is differentiated: every argument of a Python function that is no float number
        or array (integers, lists, strings, objects) reaches it as given, and the body gets its
        own copy of each array (a parsed or SymPy function's inputs are real variables: read as
        floats)."""
        args = tuple(self.coerce(args, ()))
        try:
            return self.run_body(*args, structure=structure, stack=stack)
        except DiffkitError:
            raise
        except np.linalg.LinAlgError as exc:  # numpy.linalg on plain arrays: a singular matrix, …
            raise linalg_error(self.name, exc) from None
        except ValueError as exc:  # NumPy's own operators on plain arrays: shapes that do not fit
            if not _from_numpy(exc):
                raise  # the body's own ValueError ("radius must be positive"), as it is
            shapes = " and ".join(str(getattr(a, "shape", ())) for a in args)
            raise ShapeError(f"{self.name}: inputs of shapes {shapes} do not fit ({exc})") from None
        except FloatingPointError as exc:  # NumPy's own operators in the body
            if "encountered in" not in str(exc):
                raise  # the body's own FloatingPointError, as it is
            raise body_numeric_error(self.name, exc) from None

    def coerce(self, args: Sequence[Any], wrt: Sequence[int] | None = None) -> list[Any]:
        """The arguments as this function reads them (:func:`as_input`): those in `wrt` (all
        by default) are differentiated, read as floats; the others as the caller gave them
        unless they are float numbers or arrays (:func:`given_as_is`), but a parsed or SymPy
        function's inputs are real variables, always floats."""
        xs = self._read(args, wrt)
        if self.domain is not None:  # SymPy's assumptions: every call and derivative reads
            # its point here (the learned float entries print the same tests: api._learn)
            self.domain.check(self.name, self.inputs, xs, wrt)
        return xs

    def _read(self, args: Sequence[Any], wrt: Sequence[int] | None) -> list[Any]:
        """:meth:`coerce` without the domain check."""
        names = self.inputs
        opaque = self.opaque_inputs
        return [as_input(_held_float(a) if self.pure and wrt is not None and i not in wrt else a,
                       (self.pure and i not in opaque) or wrt is None or i in wrt,
                       names[i] if i < len(names) else None) for i, a in enumerate(args)]

    def carry(self, made: Function, where: Sequence[int] | None = None) -> Function:
        """`made` (a Function made from this one, its input i at position ``where[i]``; the
        same positions by default) with this one's assumed domain and SymPy symbols."""
        if self.domain is not None:
            made.domain = self.domain if where is None else self.domain.reordered(where)
        if self.sympy_symbols is not None:
            syms = self.sympy_symbols
            if where is not None:
                moved = list(syms)
                for i, j in enumerate(where):
                    moved[j] = syms[i]
                syms = tuple(moved)
            made.sympy_symbols = syms
        return made

    # ----- tracing ----------------------------------------------------------------------------

    def frozen(self, *args: Any) -> Function:
        """What generated code is made from at the signature of `args`: for a ``dk.jit``
        function, a pure Function replaying its *first* trace at this signature (jit's contract:
        what the body does not take as arguments is frozen there), shared by its call's code and
        its compiled gradients, so that both freeze the same values; the function itself where
        that trace branched on its inputs or took an argument as given (an integer one not
        differentiated: then every use traces afresh) and for any other function. `args` are
        coerced as the call or derivative reads them (:meth:`coerce`); the trace reads them so
        (:func:`read_as_numbers`), as a fresh trace does, and its signature tells the two
        readings apart (int8 given, float64 differentiated). The first trace's errors are
        raised (and nothing is kept)."""
        return self.freeze(*args)[0]

    def freeze(self, *args: Any) -> tuple[Function, Graph | None]:
        """:meth:`frozen`, and the first trace itself where this call made it (the replay's
        graph at `args`: the same primitives applied to the same values; for a trace that holds
        at this call only, returned with the function itself, the graph whose value is this
        call's, so that a first call runs the body once), else None. Called on
        a function that :meth:`freeze` made, the trace it was made from where `args` is that
        point bit for bit, once (the API freezes a jit function before an engine compiles it:
        the compiler lifts that trace instead of tracing the replay again). A Python float or
        complex in `args` (held: weak) is traced as its float64/complex128 scalar, at that
        signature, where the trace promotes it as the body does (:meth:`weak_apart`); where
        not, the function itself (its body then runs on the Python number)."""
        if self.pure:
            return self, self._take_first(args)
        if not self.jit:
            return self, None
        given = args
        weak = any(map(weak_number, args))
        if weak:  # a held Python number: traced as the float64 (complex128) input it is at
            args = strong_numbers(args)  # np.float64's signature, where that promotes alike
        key = ("frozen", signature(args))
        made = self.cache.get(key)
        if made is not None:
            return (self, None) if weak and self.weak_apart(given, key[1]) else (made, None)
        if weak and narrow_signature(key[1]):  # x32 * 0.1 is float32, x32 * np.float64(0.1)
            return self, None  # float64: the body runs on the Python number, at every call
        busy = (key, get_ident())
        if busy in self._first_traces:  # the body calls itself while its first trace runs:
            return self, None  # that inner call runs as plain Python, and publishes nothing
        self._first_traces.add(busy)
        try:
            with np.errstate(**STRICT):  # as a derivative's own trace: at a point outside the
                # domain the first trace raises (and nothing is kept), never freezes NaNs
                graph = self.trace(*args, wrt=read_as_numbers(args))
        except FloatingPointError as exc:  # NumPy's own operators in the body, named as a
            if "encountered in" not in str(exc) or isinstance(exc, DiffkitError):  # call's are
                raise
            raise body_numeric_error(self.name, exc) from None
        finally:
            self._first_traces.discard(busy)
        if graph.value_dependent:
            made = self
        else:
            _own_constants(graph)
            made = self.replaying(graph)
            made.weak_inputs = True if narrow_signature(key[1]) else \
                weak_sensitive(graph)  # where a held Python number would promote apart
            made.jit = True  # compiled at once, as the function it stands for
            made.output_structure = graph.structure  # what the body returned: pieces of a tuple
            made.output_forms = graph.forms  # and how a call gives them back
            made._first = graph  # for its next use (see _take_first), dropped then either way
        # the first trace published wins: another thread's first call may have published one
        # meanwhile — the call's code and every derivative then use that one (two would
        # freeze two states of the outside)
        published = self.cache.setdefault(key, made)
        if weak and self.weak_apart(given, key[1]):  # its replay reads a held Python number as
            return self, None  # a float64 beside a float32 value (a closure's): the body runs
        if weak and made is self and _weak_held(given, weak_sensitive(graph)):  # the same rule
            return self, None  # for a trace that holds at this call only: not this call's graph
        if published is not made:
            return published, None
        return made, graph

    def weak_apart(self, args: Sequence[Any], sig: tuple[Any, ...]) -> bool:
        """Whether this jit function's first trace at `sig` (the signature of `args` with their
        Python floats and complex numbers as float64/complex128 scalars) promotes one of those
        numbers apart from what the body computes with it (:func:`weak_sensitive`; a float16,
        float32 or complex64 argument counts for all): then the body runs on the Python
        numbers instead (``x32 * 0.1`` is float32, as NumPy gives it). One lookup where the
        first trace was made (True for a narrow signature, else the positions)."""
        apart = getattr(self.cache.get(("frozen", sig)), "weak_inputs", None)
        if apart is None:  # no replay at this signature (none yet, or a trace that branched)
            return narrow_signature(sig)
        return apart is True or bool(apart) and _weak_held(args, apart)

    def _take_first(self, args: Sequence[Any]) -> Graph | None:
        """The trace this function was made from (:meth:`freeze`) where `args` is its point,
        bit for bit (a pure replay's trace there is that graph), else None; dropped either way,
        so no trace is kept beyond the next use."""
        graph = self.__dict__.pop("_first", None)
        if graph is None or len(args) != len(graph.inputs):
            return None
        for a, node in zip(args, graph.inputs, strict=True):
            if type(a) is Tensor:
                return None
            try:
                a, v = np.asarray(a), np.asarray(node.value)
            except TypeError:  # a CuPy array (no implicit copy to the host): another point
                return None
            if a.shape != v.shape or a.dtype != v.dtype or a.tobytes() != v.tobytes():
                return None
        return graph

    def replaying(self, graph: Graph) -> Function:
        """A pure function replaying `graph` (one of this function's traces): its primitives
        applied again, its constants — what the body read or drew, and the objects it was
        given (:attr:`opaque_inputs`) — frozen."""
        replay = Function(_Replay(graph), self.inputs, self.name, pure=True)
        # an input the trace held as an object (a dict, a str, None outside argnums) is a
        # constant of the replay: it reaches it as given (read as a float, it was an
        # InputTypeError on the first derivative call of a jit function given one)
        replay.opaque_inputs = frozenset(
            i for i, n in enumerate(graph.inputs)
            if isinstance(n.value, np.ndarray) and n.value.dtype.kind not in "biufc")
        return replay

    def trace(self, *args: Any, wrt: Sequence[int] | None = None) -> Graph:
        """The graph of this function at `args`, with values recorded on its nodes.

        Inputs in `wrt` (all by default) are the ones being differentiated: reading a number out
        of them (``float(x)``) is a TracingError, since their derivative would be lost."""
        self.check_arity(args)
        self.__dict__.pop("_first", None)  # a first trace kept for the compiler: not used now
        diff = set(range(len(args))) if wrt is None else set(wrt)
        # the callers checked the point (coerce); a display trace at 0.5 (to_sympy) is no point
        # of the user's
        args = tuple(self._read(args, diff))
        given = [passed_as_given(a) or weak_number(a) for a in args]
        with new_tape() as tape:
            ins = [Tensor(Node(None, (), {}, input_value(a) if g else a, name=n), tape, i in diff)
                   for i, (n, a, g) in enumerate(zip(self.inputs, args, given, strict=True))]
            # an argument that is not differentiated and is no float number or array (integers,
            # lists, strings, objects), or is a Python float or complex (weak: x32 * 0.1 stays
            # float32, as the body computes it), reaches the body as given: a constant of this
            # trace, which then holds at these values only (a jit function's first trace reads
            # a Python number as a float64 input instead, where that promotes alike: freeze)
            in_nodes = [t.node for t in ins]  # before the body: `x *= 3` makes x another node
            body_args = [a if g else t for a, t, g in zip(args, ins, given, strict=True)]
            if any(b is not t for b, t in zip(body_args, ins, strict=True)):
                tape.value_dependent = True
            structure: list[Any] = []
            try:
                out = self.run_body(*body_args, structure=structure)
            except FloatingPointError as exc:  # NumPy's own operators in the body (the
                # primitives name theirs): an int8 scalar's 100·100 is no derivative's overflow
                if "encountered in" not in str(exc) or isinstance(exc, DiffkitError):
                    raise
                raise body_numeric_error(self.name, exc) from None
            if type(out) is Tensor and out.tape is tape:
                out_node = out._node if out._node is not None else out  # a record: as it is
            else:  # the output does not depend on the inputs
                out_node = Node(None, (), {}, _constant_output(out))
            checks, nests = tape.checks, tape.nests
            if checks:  # (nodes made now, while the tape records: no scalar sweep then)
                checks = tuple((t.node, m.map(_node_of) if type(m) is FiniteDerivative else m)
                               for t, m in checks)
            graph = Graph(in_nodes, out_node, tape.value_dependent, tape.recorded)
            graph.structure, graph.forms, pieces = structure
            graph.pieces = _piece_nodes(graph.forms, pieces, tape)
        if checks:
            graph.checks = checks
        if nests or checks:  # a trace inside another (a derivative there): its checks, there too
            _pass_checks(graph)
        return graph

    def graph(self, *args: Any) -> Graph:
        """The graph at `args`, or at scalar inputs 0.5 (for display) when no point is given.
        A ``dk.jit`` function's is its first trace at that signature, the one its calls and
        derivatives replay (what it froze, not the outside as it is now); at the display point
        that trace where one was made, else a fresh one, which freezes nothing."""
        if args:
            if self.domain is not None:
                self.coerce(args, ())
            return self._as_called(args).trace(*args)
        point = [0.5] * self.arity
        seen = (self.cache.get(("frozen", signature(strong_numbers(self.coerce(point, ())))))
                if self.jit and not self.pure else None)
        with np.errstate(all="ignore"):
            return (seen or self).trace(*point)

    def _as_called(self, args: Sequence[Any]) -> Function:
        """The function a call at `args` runs: a jit function's :meth:`frozen` trace there."""
        if not self.jit or self.pure:
            return self
        self.check_arity(args)
        return self.frozen(*self.coerce(args, ()))

    def listing(self, *args: Any) -> str:
        """The seeds-notation listing: ``v1 = log(v-1)`` … (with values when a point is given)."""
        return self.graph(*args).listing(values=bool(args))

    def to_sympy(self, *args: Any) -> Any:
        """The function as a SymPy expression in symbols named like its inputs (scalars)."""
        from .sympy_program import graph_to_sympy  # imports SymPy: only when asked for

        graph = self.graph(*args)
        try:
            expr = graph_to_sympy(graph, self.inputs)
            if self.sympy_symbols is None:
                return expr
            # built from SymPy: back in the user's own symbols (sp.diff(e, x) and e.subs({x: …})
            # with them work; diffkit's own real symbols of those names are other symbols)
            import sympy as sp

            made = {sp.Symbol(n, real=True): s for n, s in zip(self.inputs, self.sympy_symbols,
                                                               strict=True)}
            return expr.xreplace(made) if isinstance(expr, sp.Basic) else expr
        except RecursionError:  # SymPy's objects recurse over their depth
            raise MissingRuleError(f"{self.name} is too deep for a SymPy expression (Python's "
                                   "recursion limit was reached building it); its listing, "
                                   "traces and the other methods work at any depth") from None

    def __repr__(self) -> str:
        what = f" {self.text!r}" if self.text else ""
        kind = " jit" if self.jit else ""
        return f"<diffkit{kind} Function {self.name}({', '.join(self.inputs)}){what}>"

    # ----- notebooks --------------------------------------------------------------------------

    def _repr_latex_(self) -> str | None:
        """The function as a formula, ``$f(x_1, x_2) = …$`` (None when it has no scalar form)."""
        formula = self._formula(self._display_graph()[0])
        return None if formula is None else f"${formula}$"

    def _repr_html_(self) -> str:
        """Name, inputs, kind, text, formula and listing (at scalar inputs) for notebooks."""
        graph, failure = self._display_graph()
        if self.pure:
            kind = "pure: built from text or SymPy, so engines reuse what they derive"
        elif self.jit:
            kind = "jit: traced once per signature (values it does not take are frozen)"
        else:
            kind = "Python function, traced afresh at every call"
        head = f"<b>{html.escape(self.name)}</b>({html.escape(', '.join(self.inputs))})"
        parts = [f"<p>{head} &mdash; {kind}</p>"]
        if self.text:
            parts.append(f"<p><code>{html.escape(self.text)}</code></p>")
        formula = self._formula(graph)
        if formula is not None:
            parts.append(f"<p>${html.escape(formula)}$</p>")
        if graph is not None:
            parts.append(f"<pre>{html.escape(graph.listing(values=False))}</pre>")
        else:
            parts.append(f"<p><i>no listing at scalar inputs ({html.escape(failure)}): give it a "
                         f"point, {html.escape(self.name)}.listing(...)</i></p>")
        return "<div>" + "".join(parts) + "</div>"

    def _display_graph(self) -> tuple[Graph | None, str]:
        """The graph at scalar inputs (as ``listing()`` draws it), or None and why not."""
        try:
            return self.graph(), ""
        except Exception as exc:  # noqa: BLE001 - a display must not raise: it says what failed
            return None, f"{type(exc).__name__}: {exc}"

    def _formula(self, graph: Graph | None) -> str | None:
        """LaTeX of ``name(inputs) = expression``, if the graph has a readable SymPy form."""
        if graph is None or len(graph) > DISPLAY_NODES or _tree_size(graph) > DISPLAY_OPS:
            return None
        import sympy as sp

        from .sympy_program import graph_to_sympy  # imports SymPy: only when displayed

        try:
            expr = graph_to_sympy(graph, self.inputs)
        except Exception:  # noqa: BLE001 - array-valued, or no SymPy form: no formula
            return None
        if not isinstance(expr, sp.Basic) or sp.count_ops(expr) > DISPLAY_OPS:
            return None
        name = self.name if self.name.isidentifier() else "f"
        head = sp.Function(name)(*[sp.Symbol(n) for n in self.inputs])
        return f"{sp.latex(head)} = {sp.latex(expr)}"

    def __str__(self) -> str:
        """The listing at scalar inputs; a function that needs arrays (or fails there) prints its
        repr and why: printing never raises."""
        graph, failure = self._display_graph()
        if graph is None:
            return f"{self!r} (no listing at scalar inputs: {failure})"
        return graph.listing(values=False)


class _Replay:
    """A recorded graph as a body: its primitives applied again, in order, to new arguments
    (only the operations and the constants are kept, not the traced values)."""

    __slots__ = ("checks", "forms", "output", "pieces", "steps")

    def __init__(self, graph: Graph) -> None:
        slot = {n.id: ("in", i) for i, n in enumerate(graph.inputs)}
        self.steps: list[tuple[Any, tuple[Any, ...], dict[str, Any]]] = []
        nodes = graph.nodes
        if graph.checks:  # what the checks apply, though the output may not need it; the
            # primal domains first (a derivative's own steps — 1/x of log x at −1e-300 —
            # would overflow before log's DomainError, which a fresh call raises first)
            first = toposort([c for c, m in graph.checks if m is None])
            known = {n.id for n in first}
            data = [v for _, m in graph.checks if type(m) is FiniteDerivative
                    for _, v in m.data if type(v) is Node]
            nodes = (*first, *(n for n in nodes if n.id not in known))
            known.update(n.id for n in nodes)
            nodes = nodes + tuple(n for n in toposort([c for c, _ in graph.checks] + data)
                                  if n.id not in known)
        for node in nodes:
            if node.id in slot:
                continue
            if node.prim is None:
                slot[node.id] = ("const", node.value)
                continue
            self.steps.append((node.prim, tuple(slot[i.id] for i in node.inputs), node.params))
            slot[node.id] = ("step", len(self.steps) - 1)
        self.output = slot[graph.output.id]
        #: how a call gives back what the traced body returned (:func:`output_forms`)
        self.forms = graph.forms
        #: where each traced piece of it is computed (None: one output, or not known)
        self.pieces = None if graph.pieces is None or any(
            n.id not in slot for n in graph.pieces) else [slot[n.id] for n in graph.pieces]
        #: (reference, message): the trace's checks (:func:`~diffkit.tensor.note_check`)
        self.checks = tuple(
            (slot[n.id], m.map(lambda v: slot[v.id] if type(v) is Node else ("const", v))
             if type(m) is FiniteDerivative else m) for n, m in graph.checks)

    def _run(self, args: tuple[Any, ...]) -> Callable[[tuple[str, Any]], Any]:
        """Apply the steps to `args`; returns the lookup of a value by its reference."""
        done: list[Any] = []

        def get(ref: tuple[str, Any]) -> Any:
            kind, v = ref
            return args[v] if kind == "in" else v if kind == "const" else done[v]

        for ref, message in self.checks:  # a differentiated input first, as dk.grad does
            if ref[0] == "in" and type(message) is str and type(args[ref[1]]) is not Tensor \
                    and not finite(args[ref[1]]):
                raise DomainError(message)
        for prim, refs, params in self.steps:  # a loop: graphs of any depth
            done.append(bind(prim, *[get(r) for r in refs], **params))
        for ref, message in self.checks:  # (a primitive's domain: checked by its step)
            value = get(ref)
            if type(message) is FiniteDerivative:  # a derivative's result: dk.grad's test
                message = message.map(get)
                if type(value) is not Tensor and not finite(value):
                    raise message.error()
            if type(value) is Tensor:  # traced again (a derivative of this replay): its
                note_check(value, message)  # checks go on with it
            elif type(message) is str and not finite(value):
                raise DomainError(message)
        return get

    def __call__(self, *args: Any) -> Any:
        """The output, one flat array for a tuple or list (what derivatives see)."""
        return _fresh(self._run(args), self.output)

    def called(self, *args: Any) -> Any:
        """The body's value as a call gives it: a tuple or list rebuilt as the body returned
        it, each traced piece the replay's value of that piece — in its own dtype and exact,
        a traced value of that dtype inside a derivative (a mask stays bool, an int64 above
        2**53 exact), never cut out of the flat output — and each constant as it was."""
        forms, refs = self.forms, self.pieces
        if forms is None or refs is None:  # one output (or pieces not known): cut as before
            out = self(*args)
            return out if forms is None else _formed(out, forms)
        get = self._run(args)
        values = iter([_fresh(get, r) for r in refs])
        return rebuilt(forms, lambda form: own_copy(form[1]) if form[0] == "const"
                       else next(values))


def _pass_checks(graph: Graph) -> None:
    """Note on the outer trace the checks of `graph`, a trace inside it (a derivative taken
    there): its own checks and every primitive with a restricted domain it applies, on the
    outer values they stand for — a replay of the outer trace then checks them where its output
    does not need them (the gradient of log x reads 1/x, not log x), as a fresh call does."""
    for node, message in graph.checks:
        note_check(node.value, message.map(_value_of) if type(message) is FiniteDerivative
                   else message)
    for node in graph.nodes:
        if node.prim is not None and node.prim.domain_text:
            note_check(node.value)


def _node_of(v: Any) -> Any:
    return v.node if type(v) is Tensor else v


def _value_of(v: Any) -> Any:
    return v.value if type(v) is Node else v


def _fresh(get: Callable[[tuple[str, Any]], Any], ref: tuple[str, Any]) -> Any:
    """A replay's value at `ref`, fresh at every call: a constant (np.zeros_like(x)), or a view
    of one (W.T), handed out as it is would let a caller's `y += 5` change every later call."""
    out = get(ref)
    if ref[0] == "const" or type(out) is np.ndarray and not out.flags.owndata:
        return own_copy(out)
    return out


def _own_constants(graph: Graph) -> None:
    """Make the arrays `graph` holds as constants (what its body read: closures, globals, index
    arrays) its own copies (:func:`own_copy`), as JAX copies what a jit function captures: a
    frozen trace must not follow an array the caller updates in place afterwards (``W[0] = 100``
    reached a jit function's call and some of its derivatives, not others)."""
    inputs = {n.id for n in graph.inputs}
    for node in graph.nodes:
        if node.prim is None:
            if node.id not in inputs:
                node.value = own_copy(node.value)
        elif node.params:
            node.params = {k: own_copy(v) for k, v in node.params.items()}


def _refuse_escaped(out: Any, name: str) -> None:
    """TracingError where the body returned (bare, or as a piece of a tuple or list) a traced
    value of a trace that has ended — one kept from an earlier call. Read as a constant it gave
    that call's value and a zero derivative; a value of an enclosing trace still running is a
    constant here (nested derivatives)."""
    for piece in output_pieces(out)[1]:
        if type(piece) is Tensor and piece.tape.closed:
            raise TracingError(
                f"{name} returned a traced value from a trace that has ended (was it kept in a "
                "global, a closure or an attribute during an earlier call?): its value and "
                "derivative are that call's; compute it in this call from the arguments")


def _constant_output(out: Any) -> Any:
    """The value a trace's output node holds where the body's output does not depend on the
    inputs: an array as a copy of its own (a constant the body returned, ``lambda x: C``, is
    not handed to a derivative's caller as the caller's array C itself)."""
    if type(out) is Tensor:  # a Tensor of an outer tape (nested tracing): a constant here
        return out
    if hasattr(out, "shape"):
        return own_copy(out)
    return np.float64(out) if not isinstance(out, complex) else out


#: what Function.jit_evaluator returns where the call must be evaluated by running the body
NOT_COMPILED = object()


def output_pieces(out: Any) -> tuple[Any, list[Any]]:
    """(structure, pieces) of a function's return value: for a tuple or list, a list of its
    elements' structures (nested as they are) and every piece in order; for one output, its
    shape and itself."""
    if not isinstance(out, list | tuple):
        return tuple(getattr(out, "shape", ())), [out]
    structure, pieces = [], []
    for o in out:
        s, p = output_pieces(o)
        structure.append(s)
        pieces.extend(p)
    return structure, pieces


def output_forms(out: Any) -> Any:
    """How a call gives back what the body returned (:func:`restructured`), beside its
    structure (:func:`output_pieces`): for a tuple or list, ``(its type, [its elements'
    forms])``; for a traced piece, ``("traced", shape, dtype)`` (its value is the replay's, in
    its dtype); for any other piece, ``("const", piece)``: at this signature it does not depend
    on the inputs (a piece read out of their values, ``np.argmax(x)``, marks the trace as
    holding at this call only, and it is not replayed), so a replay gives it back as it was,
    exactly (``2**60 + 1``, ``True``), not as the float its flat output holds."""
    if isinstance(out, list | tuple):
        return (type(out), [output_forms(o) for o in out])
    if isinstance(out, Traced) or type(out) is np.ndarray and out.dtype.kind == "O":
        dtype = getattr(held_value(out), "dtype", None) if isinstance(out, Traced) else None
        return ("traced", tuple(getattr(out, "shape", ())), dtype)
    return ("const", own_copy(out))


def _checked_pieces(out: Any) -> list[Any]:
    """The pieces of `out` (:func:`output_pieces`), each a number or an array
    (:func:`_check_output`); an empty tuple or list is a TracingError."""
    if not isinstance(out, list | tuple):
        _check_output(out)
        return [out]
    pieces = output_pieces(out)[1]  # nested tuples and lists: their pieces in order
    if not pieces:
        raise TracingError("the function returned an empty sequence")
    for i, o in enumerate(pieces):
        _check_output(o, f"a {type(out).__name__} whose piece {i} is")
    return pieces


def stack_outputs(out: Any, made: list[Any] | None = None) -> Any:
    """A tuple/list of outputs (nested too: its pieces in order, as ``dk.vjp`` reads them)
    becomes one 1-D array (so Jacobians are (m, n)), each piece (an object array of traced
    values as one traced array) appended to `made` where given; a NumPy object array of traced
    values (``np.array([x[0]**2, x[1]])``) one traced array. Only derivatives of the function
    itself read this flat output: a call gives each piece in its own dtype (:func:`as_called`,
    :meth:`_Replay.called`), never cut out of it (an int64 above 2**53 is rounded there)."""
    from .primitive import from_objects

    if type(out) is np.ndarray and out.dtype.kind == "O":
        return from_objects(out)
    pieces = _checked_pieces(out)
    if isinstance(out, list | tuple):
        from .primitives import concatenate, reshape

        pieces = [from_objects(o) for o in pieces]
        if made is not None:
            made.extend(pieces)
        return concatenate([reshape(o, (-1,)) for o in pieces], axis=0)
    return out


def _leaf_forms(forms: Any) -> list[Any]:
    """The forms of the pieces (:func:`output_forms`), in order (as :func:`output_pieces`)."""
    if forms[0] in ("traced", "const"):
        return [forms]
    return [leaf for f in forms[1] for leaf in _leaf_forms(f)]


def _piece_nodes(forms: Any, pieces: list[Any] | None, tape: Any) -> tuple[Node, ...] | None:
    """The nodes of a trace's traced pieces (`pieces`: what :func:`stack_outputs` stacked), in
    order, which a replay gives back as a call's pieces; None for one output, or where a traced
    piece is no value of `tape` (a value of an enclosing trace: the flat output is cut then)."""
    if pieces is None:
        return None
    leaves = _leaf_forms(forms)
    if len(leaves) != len(pieces):
        return None
    nodes = []
    for form, piece in zip(leaves, pieces, strict=True):
        if form[0] != "traced":
            continue
        if type(piece) is not Tensor or piece.tape is not tape:
            return None
        nodes.append(piece.node)
    return tuple(nodes)


def rebuilt(forms: Any, piece: Callable[[Any], Any]) -> Any:
    """The value `forms` describes (:func:`output_forms`): each tuple or list remade with its
    own type (a named tuple too), nested as it was, and each piece ``piece(its form)``, called
    in order (as :func:`output_pieces` lists them)."""
    if forms[0] in ("traced", "const"):
        return piece(forms)
    return _remade(forms[0], [rebuilt(f, piece) for f in forms[1]])


def _remade(kind: type, items: list[Any]) -> Any:
    """A tuple or list of type `kind` holding `items` (a named tuple by its ``_make``)."""
    return kind._make(items) if hasattr(kind, "_make") else kind(items)


def as_called(out: Any) -> Any:
    """A call's value, as the body returned it: a tuple or list (nested, a named tuple too) of
    its pieces, each as :func:`to_python` gives it (its type, dtype and value: an integer stays
    an integer, a bool a bool, float32 float32); an object array of traced values one traced
    array (:func:`stack_outputs`)."""
    if isinstance(out, list | tuple):
        return _remade(type(out), [as_called(o) for o in out])
    if type(out) is np.ndarray and out.dtype.kind == "O":
        return to_python(stack_outputs(out))
    return to_python(out)


def _check_output(out: Any, where: str = "") -> None:
    """A function to differentiate returns numbers or arrays: anything else (None from a
    forgotten ``return``, a dict, a string) is a TracingError, never a NaN or a zero gradient."""
    if isinstance(out, numbers.Number | np.generic) and not isinstance(out, np.str_ | np.bytes_ |
                                                                            np.void):
        return
    if hasattr(out, "shape") and hasattr(out, "dtype") and getattr(out.dtype, "kind", "O") in \
            "biufcO":
        return
    if isinstance(out, list | tuple):
        for o in out:
            _check_output(o, where)
        return
    hint = " (did the function forget to `return` its result?)" if out is None and not where \
        else ""
    raise TracingError(f"the function returned {where + ' ' if where else ''}"
                       f"{type(out).__name__}{hint}: it must return a number, an array, or a "
                       "tuple or list of them")


def restructured(out: Any, structure: Any, forms: Any = None) -> Any:
    """A call's value as the body returned it: where that was a tuple or list (`structure`, a
    list: :func:`output_pieces`), a tuple of its pieces — nested as they were, each of its shape
    — cut from the one flat output the derivatives see (``dk.jit(dk.grad(f))(x)`` is the tuple
    ``dk.grad(f)(x)`` is, as in JAX, not one flat array whose ``[0]`` is a number); anything
    else as :func:`to_python` gives it. With the trace's `forms` (:func:`output_forms`), each
    piece also has the type and dtype the body gave it (:func:`_formed`)."""
    if forms is not None:
        return _formed(out, forms)
    if not isinstance(structure, list) or not hasattr(out, "reshape"):  # (NumPy, CuPy)
        return to_python(out)
    forms = _structure_forms(structure)
    if sum(math.prod(f[1]) for f in _leaf_forms(forms)) != out.size:
        return to_python(out)  # (sizes that do not add up: as is)
    return _formed(out, forms)


def _structure_forms(structure: Any) -> Any:
    """The forms (:func:`output_forms`) of a structure (:func:`output_pieces`) that knows only
    shapes: its lists as tuples, each piece traced in the flat output's dtype."""
    if isinstance(structure, list):
        return (tuple, [_structure_forms(s) for s in structure])
    return ("traced", tuple(structure), None)


def _formed(out: Any, forms: Any) -> Any:
    """`out`, the flat output of a replay (or its one output), given back as `forms` says
    (:func:`output_forms`): tuples and lists as they were; a traced piece cut out in its shape
    and cast back to its dtype (a float32 or integer piece is float64 in the flat output; a real
    one complex beside a complex piece); a constant piece as it was (a copy). A traced value
    stays as the replay computed it (inside a derivative: the derivatives' flat output)."""
    single = forms[0] in ("traced", "const")  # one output, not a tuple or list
    if not single and not hasattr(out, "reshape"):
        return to_python(out)  # (no flat array to cut: as it is)
    flat = out if single else out.reshape(-1)
    at = 0

    def piece_of(form: Any) -> Any:
        nonlocal at
        if form[0] == "const":
            at += int(np.size(form[1]))
            return to_python(own_copy(form[1]))
        shape, dtype = form[1], form[2]
        n = math.prod(shape)
        if single:
            piece = out
        else:
            piece = flat[at:at + n].reshape(shape)
            piece = piece if isinstance(piece, Traced) else piece.copy()
        at += n
        if isinstance(piece, Traced) or dtype is None:
            return to_python(piece)
        piece = np.asarray(piece) if np.isscalar(piece) else piece
        if piece.dtype.kind == "c" and dtype.kind != "c":
            piece = piece.real
        return to_python(piece.astype(dtype, copy=False).reshape(shape))

    return rebuilt(forms, piece_of)


def exact_pieces(forms: Any, flat: Any) -> bool:
    """Whether every traced piece (:func:`output_forms`) comes back exact when cut out of
    `flat`, the one output holding them all in its dtype, and cast back to its own: an integer
    piece needs no more bits than the flat dtype's significand (an int64 above 2**53 is rounded
    in float64), others a cast NumPy calls safe (float32 in float64, float64 in complex128)."""
    if forms is None or forms[0] == "const":
        return True
    to = np.asarray(flat).dtype
    for form in _leaf_forms(forms):
        d = form[2] if form[0] == "traced" else None
        if d is None or d == to:
            continue
        if d.kind in "iu" and to.kind in "fc":
            if 8 * d.itemsize - (d.kind == "i") > np.finfo(to).nmant + 1:
                return False
        elif not np.can_cast(d, to, "safe"):
            return False
    return True


def to_python(out: Any) -> Any:
    """0-d arrays and NumPy scalars become Python numbers where that keeps their dtype and
    arithmetic (float64, complex128, int64, bool); others stay NumPy scalars, as NumPy gives
    them (a float32 value is np.float32; an int8 one np.int8, which wraps at 127 where a Python
    int would not); arrays stay arrays."""
    if isinstance(out, np.ndarray | np.generic) and np.ndim(out) == 0:
        if out.dtype in _PYTHON_EXACT:
            return out.item()
        return out[()]
    return out


#: dtypes whose values and arithmetic a Python number carries (float is float64, complex is
#: complex128; int is int64 up to its overflow, where NumPy warns)
_PYTHON_EXACT = (np.dtype(np.float64), np.dtype(np.complex128), np.dtype(np.int64),
                 np.dtype(np.bool_))


def function(fn: Callable[..., Any] | None = None, *, inputs: Sequence[str] | None = None) -> Any:
    """Decorator: make a Python function (written with diffkit or NumPy operations) a Function.

    Its positional parameters are the inputs. It is traced afresh at every call, so it may read
    anything (closures, globals, random numbers); see :func:`jit` to reuse traces.

    Example:
        >>> import diffkit as dk
        >>> @dk.function
        ... def f(x, y):
        ...     return x**2 * y + y + 2
        >>> dk.grad(f)(3.0, 4.0)
        (24.0, 10.0)
    """

    def wrap(f: Callable[..., Any]) -> Function:
        if isinstance(f, Function):
            if inputs is None:
                return f
            # inputs= given for a Function: its own inputs in another order, never ignored
            names = tuple(inputs) if not isinstance(inputs, str) else (inputs,)
            if names == f.inputs:
                return f
            if not all(isinstance(n, str) for n in names) or sorted(names) != sorted(f.inputs):
                raise InvalidNameError(
                    f"inputs={list(inputs) if not isinstance(inputs, str) else inputs!r} for "
                    f"{f.name}, whose inputs are {list(f.inputs)}: inputs= may only reorder a "
                    "Function's inputs (a list of the same names)")
            where = [names.index(n) for n in f.inputs]  # each old input's new position
            # a jit function is called, not its body: what it froze stays frozen
            old = f if f.jit and not f.pure else f.body

            def reordered(*args: Any) -> Any:
                return old(*[args[i] for i in where])

            reordered.__name__ = f.name
            return f.carry(Function(reordered, names, f.name, f.text, pure=f.pure, jit=f.jit),
                           where)
        return _from_callable(f, inputs, jit=False)

    return wrap(fn) if fn is not None else wrap


def _callable(f: Any) -> Any:
    """`f`, or an InputTypeError where it is no function (a number, a list: nothing to trace;
    math text and SymPy expressions are made Functions by :mod:`diffkit.build`)."""
    if not callable(f):
        raise InputTypeError(f"a {type(f).__name__} is no function: pass a Python function, math "
                             "text or a SymPy expression")
    return f


def jit(fn: Any = None, *, inputs: Sequence[str] | None = None) -> Any:
    """Opt a function in to trace reuse: ``dk.grad(dk.jit(f))`` compiles once per signature, and
    so does calling it (a functional training step runs forward, backward and update as one
    generated function).

    The contract (JAX's): every value `fn` does not take as an argument — closures, globals,
    attributes, random numbers — is a constant, frozen when `fn` is first traced for a signature
    (argument shapes and dtypes). Pass whatever changes as an argument. A Python branch on a
    traced value (``if x > 0``), or a number read out of one, makes a trace valid at its point
    only: such a function is traced again at every call (correct, but not faster).

    Example:
        >>> import diffkit as dk
        >>> @dk.jit
        ... def f(x, y):
        ...     return dk.sin(x) * y
        >>> dk.grad(f)(0.0, 2.0)
        (2.0, 0.0)
    """

    def wrap(f: Any) -> Function:
        if isinstance(f, Function):
            f = function(f, inputs=inputs)  # inputs= reorders its inputs (or is an error)
            if f.jit:  # already jit: itself, with the state it froze (a new Function over its
                return f  # body would trace the outside afresh, as it is now)
            made = f.carry(Function(f.body, f.inputs, f.name, f.text, pure=f.pure, jit=True))
            made.defaults = f.defaults
            return made
        return _from_callable(f, inputs, jit=True)

    return wrap(fn) if fn is not None else wrap


def _from_callable(f: Any, inputs: Sequence[str] | None, jit: bool) -> Function:
    """A Python function as a Function: its inputs are `inputs`, or those
    :func:`_positional_body` finds, with their trailing defaults."""
    if inputs:
        return Function(f, inputs, name=getattr(f, "__name__", "f"), jit=jit)
    body, names = _positional_body(_callable(f))
    made = Function(body, names, name=getattr(f, "__name__", "f"), jit=jit)
    made.defaults = _trailing_defaults(f, names)
    return made


def _positional_body(f: Callable[..., Any]) -> tuple[Callable[..., Any], list[str]]:
    """`f` and its inputs (:func:`_positional_names`), and where `f` has keyword-only
    parameters without a default — ``functools.partial(f, y=2.0)`` makes every parameter
    after y one — a body that takes them positionally after the others and passes them by
    keyword: they are inputs too (a derivative's inputs are positional), in `f`'s order."""
    names = _positional_names(f)
    keyword = [p.name for p in _parameters(f) if p.kind is inspect.Parameter.KEYWORD_ONLY
               and p.default is inspect.Parameter.empty]
    if not keyword:
        return f, names
    k = len(names)

    def body(*args: Any) -> Any:
        return f(*args[:k], **dict(zip(keyword, args[k:], strict=True)))

    body.__name__ = getattr(f, "__name__", "f")
    body.__doc__ = getattr(f, "__doc__", None)
    return body, [*names, *keyword]


def _trailing_defaults(f: Callable[..., Any], names: Sequence[str]) -> tuple[Any, ...]:
    """The default values of `f`'s last positional inputs that have one, in order (none where
    its inputs end with keyword-only ones, which have no defaults)."""
    params = [p for p in _parameters(f) if p.name in names]
    if [p.name for p in params] != list(names):
        return ()
    out: list[Any] = []
    for p in reversed(params):
        if p.default is inspect.Parameter.empty:
            break
        out.append(p.default)
    return tuple(reversed(out))


def _parameters(f: Callable[..., Any]) -> list[inspect.Parameter]:
    """The parameters that a call of `f` binds: its own, or, for a ``functools.wraps``
    wrapper that only forwards ``*args`` or has no signature of its own (NumPy's dispatchers),
    the wrapped function's (see :func:`_positional_names`)."""
    try:
        try:
            params = list(inspect.signature(f, follow_wrapped=False).parameters.values())
        except (TypeError, ValueError):
            if isinstance(f, functools.partial):  # of a NumPy dispatcher: its function's
                return _partial_parameters(f)  # parameters, less those the partial fixes
            if not hasattr(f, "__wrapped__"):
                raise
            # a wrapper with no signature of its own — NumPy's C-level array_function_dispatch
            # (np.linalg.norm, np.sum, np.angle), which passes its arguments on unchanged:
            # the call binds the wrapped function's
            params = list(inspect.signature(f).parameters.values())
        if hasattr(f, "__wrapped__") and any(
                p.kind is inspect.Parameter.VAR_POSITIONAL for p in params):
            params = list(inspect.signature(f).parameters.values())
    except (TypeError, ValueError) as exc:
        raise TracingError(f"cannot read the parameters of {f!r}: pass inputs=[...]") from exc
    return params


def _partial_parameters(f: functools.partial[Any]) -> list[inspect.Parameter]:
    """The parameters a call of the partial `f` binds, from those of its function
    (:func:`_parameters`, which reads a NumPy dispatcher's through ``__wrapped__``): Python's
    own reading of a partial (arguments it fixes removed, keywords it sets made keyword-only)
    over a stand-in that has that signature."""
    def stand_in(*args: Any, **kwargs: Any) -> None:
        """Has the signature of the partial's function."""

    stand_in.__signature__ = inspect.Signature(_parameters(f.func))  # type: ignore[attr-defined]
    try:
        sig = inspect.signature(functools.partial(stand_in, *f.args, **f.keywords))
    except (TypeError, ValueError) as exc:
        raise TracingError(f"cannot read the parameters of {f!r}: pass inputs=[...]") from exc
    return list(sig.parameters.values())


def _positional_names(f: Callable[..., Any]) -> list[str]:
    """The inputs of a Python function: its positional parameters — the function's own, not
    those of the function a ``functools.wraps`` decorator wraps (a wrapper that fixes or adds
    an argument has its own), unless the wrapper only forwards ``*args`` (then the wrapped
    function's, which it takes)."""
    params = _parameters(f)
    kinds = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    names = [p.name for p in params if p.kind in kinds]
    if isinstance(f, np.ufunc):  # np.sin(x, /, out=None, ...): its nin operands, not `out`
        names = names[:f.nin]
    if any(p.kind is inspect.Parameter.VAR_POSITIONAL for p in params):
        raise TracingError("functions with *args cannot be traced: name the inputs, or pass inputs=[...]")
    return names


__all__ = ["STRICT", "Function", "as_input", "body_numeric_error", "function", "given_as_is",
           "input_value", "jit", "narrow_signature", "own_copy", "passed_as_given",
           "read_as_numbers", "signature", "stack_outputs", "strong_numbers", "to_python",
           "weak_number", "weak_sensitive"]
