"""From the IR to SymPy: graphs as (shared) scalar SymPy programs.

:func:`scalar_program` turns a graph into a straight-line program of scalar SymPy assignments, one
symbol per element of every intermediate array (``v3`` or ``v3_0_1``), so that shared nodes stay
shared instead of being copied into one huge tree. Arrays are scalarized, so the program is limited
in size (:data:`MAX_ELEMENTS`). The symbolic engine differentiates these programs; traces and
``Function.to_sympy`` print them.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import sympy as sp

from .errors import KINK, MissingRuleError, NonDifferentiableError
from .ir import Graph, Node

MAX_ELEMENTS = 20_000


class TieMax(sp.Function):
    """max(a₁, …, aₙ) whose derivative shares 1 equally among the entries equal to the maximum
    (``dk.amax``'s convention): ∂/∂aᵢ = [aᵢ = M] / #{j: aⱼ = M}."""

    @classmethod
    def eval(cls, *args: sp.Expr) -> sp.Expr | None:
        if len(args) == 1:
            return args[0]
        if all(a.is_number for a in args):
            return sp.Max(*args)
        return None

    def fdiff(self, argindex: int = 1) -> sp.Expr:
        hits, count = _ties(self)
        # ties share it: a convention, with no derivative where one is tied
        return AtKink(hits[argindex - 1] / count, Untied(*self.args), self)

    def _eval_evalf(self, prec: int) -> sp.Expr:
        return sp.Max(*self.args).evalf(prec)

    def _numpycode(self, printer: Any) -> str:
        return f"max({', '.join(printer._print(a) for a in self.args)})"

    _pythoncode = _sympystr = _numpycode  # shown as max: its value (the derivative differs)

    def _latex(self, printer: Any) -> str:
        return rf"\max\left({', '.join(printer._print(a) for a in self.args)}\right)"


@functools.lru_cache(maxsize=64)
def _ties(m: TieMax) -> tuple[tuple[sp.Expr, ...], sp.Expr]:
    """Each argument's [aᵢ = M] and their count, made once per max (its n derivatives share
    them: made per derivative, a max of n arguments cost n² SymPy constructions — 10 s at
    n = 100); the equalities unevaluated (SymPy's Eq otherwise tries to decide a = max(…))."""
    hits = tuple(sp.Piecewise((1, sp.Eq(a, m, evaluate=False)), (0, True)) for a in m.args)
    return hits, sp.Add(*hits)


class AtKink(sp.Function):
    """AtKink(d, s, *point) is d, a derivative taken by a convention where s = 0 (a kink:
    abs′(0) = 0, maximum's ½ at ties, a norm's 0 at the origin), at the point (the arguments
    of the function differentiated). It differentiates as d away from the kink; its derivative
    at the kink, in d, s or the point, is :class:`KinkCheck` — a NonDifferentiableError, which
    no product with 0 hides (the AD engines' ``subgradient``)."""

    @classmethod
    def eval(cls, *args: sp.Expr) -> sp.Expr | None:
        if all(a.is_number for a in args):  # a number: nothing is differentiated any more
            return args[0]
        return None

    def fdiff(self, argindex: int = 1) -> sp.Expr:
        check = KinkCheck(self.args[1])
        return 1 + check if argindex == 1 else check

    def _eval_evalf(self, prec: int) -> sp.Expr:
        return self.args[0].evalf(prec)

    def _numpycode(self, printer: Any) -> str:  # d, in code and in formulas alike
        return printer._print(self.args[0])

    _pythoncode = _latex = _sympystr = _numpycode


class _Helper(sp.Function):
    """A function printed in code as a call of `helper` (which the symbolic engine's programs
    define) and shown in formulas as `shown` (its value away from a kink)."""

    helper = shown = ""

    def _numpycode(self, printer: Any) -> str:
        return f"{self.helper}({', '.join(printer._print(a) for a in self.args)})"

    _pythoncode = _numpycode

    def _latex(self, printer: Any) -> str:
        return self.shown

    _sympystr = _latex


class KinkCheck(_Helper):
    """0 where s ≠ 0; where s = 0 evaluating it raises NonDifferentiableError (printed as a call
    of ``_kink_check``, which the symbolic engine's programs define)."""

    nargs = 1

    @classmethod
    def eval(cls, s: sp.Expr) -> sp.Expr | None:
        if s.is_number and s.is_zero is False:
            return sp.S.Zero
        return None

    def fdiff(self, argindex: int = 1) -> sp.Expr:
        return self

    def _eval_evalf(self, prec: int) -> sp.Expr:
        value = self.args[0].evalf(prec)
        if value.is_Number:
            kink_check(value)
            return sp.S.Zero
        return None

    helper, shown = "_kink_check", "0"


class Untied(_Helper):
    """1 where the largest of its arguments is attained once, 0 where it is tied (the kink of
    TieMax: the ``s`` of its AtKink). A constant to differentiation; printed as a call of
    ``_untied``, which the symbolic engine's programs define."""

    @classmethod
    def eval(cls, *args: sp.Expr) -> sp.Expr | None:
        if all(a.is_Number for a in args):
            return sp.Integer(untied(*args))
        return None

    def fdiff(self, argindex: int = 1) -> sp.Expr:
        return sp.S.Zero

    def _eval_evalf(self, prec: int) -> sp.Expr | None:
        values = [a.evalf(prec) for a in self.args]
        if not all(v.is_Number for v in values):
            return None
        return sp.Integer(untied(*values))

    helper, shown = "_untied", "1"


def untied(*values: Any) -> float:
    """1.0 where the largest value is attained once, else 0.0."""
    top = max(values)
    return 1.0 if sum(1 for v in values if v == top) == 1 else 0.0


def kink_check(s: Any) -> float:
    """0.0, or the NonDifferentiableError of a derivative taken at a kink (s = 0)."""
    if s == 0:
        raise NonDifferentiableError(f"the second derivative meets a kink: {KINK}")
    return 0.0


def without_kinks(expr: sp.Expr) -> sp.Expr:
    """The expression with AtKink(d, s) as d and KinkCheck(s) as 0 (for display and
    simplification)."""
    if not expr.has(AtKink, KinkCheck):
        return expr
    return expr.replace(KinkCheck, lambda s: sp.S.Zero).replace(AtKink, lambda d, *rest: d) \
        .replace(Untied, lambda *args: sp.S.One)


_EXACT_CONSTANTS: ContextVar[bool] = ContextVar("exact_constants", default=False)


@contextmanager
def exact_constants() -> Iterator[None]:
    """Inside, :func:`sympy_number` gives non-integers as exact Rationals (their binary values),
    not 17-digit Floats: SymPy then keeps log(0.1), exp(0.3), … as symbols that mpmath
    evaluates at whatever precision is asked for, where a Float's function is evaluated at once
    at the Float's own 18 digits (the exact reference of ``dk.compare``). Outside, Floats: they
    print as the decimals a user wrote."""
    token = _EXACT_CONSTANTS.set(True)
    try:
        yield
    finally:
        _EXACT_CONSTANTS.reset(token)


#: NumPy's long double where it is wider than float64 (x87's 64-bit significand, a quad's 113),
#: else None: its numbers reach SymPy exactly, never through a float64
LONG_REAL: Any = np.longdouble if np.finfo(np.longdouble).nmant > 52 else None

#: the digits of a SymPy Float that holds a long double exactly, with a few bits over (21 for
#: x87: 73 bits), so that SymPy folds its functions (exp(0.5)) at long double accuracy
LONG_DIGITS = int(np.ceil((np.finfo(np.longdouble).nmant + 1) * np.log10(2))) + 1

_LONG_DTYPES = (np.dtype(np.longdouble), np.dtype(np.clongdouble))
_LONG_PROGRAM: ContextVar[bool] = ContextVar("long_program", default=False)


def sympy_number(v: Any) -> sp.Expr:
    """A number as a SymPy number: integers stay integers, others become exact binary Floats
    (exact Rationals inside :func:`exact_constants`); complex numbers keep their imaginary
    part. A long double is exact too (its ``as_integer_ratio``: beyond float64's range and
    digits, 1e400 is no inf and 0.3 no float64 0.3), as a Float of :data:`LONG_DIGITS`; so is
    any float in a long double program (:func:`scalar_program`), whose functions SymPy folds."""
    if isinstance(v, complex | np.complexfloating):
        return sympy_number(v.real) + sp.I * sympy_number(v.imag)
    if LONG_REAL is not None and isinstance(v, LONG_REAL):
        return _long_number(v)
    v = float(v)
    if v.is_integer() and abs(v) < 1e15:
        return sp.Integer(int(v))
    if not np.isfinite(v):
        return sp.oo if v > 0 else (-sp.oo if v < 0 else sp.nan)
    if _EXACT_CONSTANTS.get():
        return sp.Rational(v)
    return sp.Float(v, LONG_DIGITS if _LONG_PROGRAM.get() else 17)


def _long_number(v: Any) -> sp.Expr:
    """A long double as its exact SymPy number (see :func:`sympy_number`)."""
    if not np.isfinite(v):
        return sp.oo if v > 0 else (-sp.oo if v < 0 else sp.nan)
    p, q = v.as_integer_ratio()
    if q == 1 and abs(p) < 10**15:
        return sp.Integer(p)
    exact = sp.Rational(p, q)
    return exact if _EXACT_CONSTANTS.get() else sp.Float(exact, LONG_DIGITS)


_AT_POINT: ContextVar[bool] = ContextVar("at_point", default=False)


@contextmanager
def at_point() -> Iterator[None]:
    """Inside, :func:`scalar_program` writes the program for the trace's own point only (the
    exact reference of ``dk.compare``, which evaluates it there with mpmath): every element of a
    boolean value (a comparison, a mask) is the one the float64 evaluation computed, and every
    op the table declares ``affine_pieces`` (selections, kinks, steps, remainders: maximum,
    fmax, clip, amax, abs, relu, floor, sign, heaviside, //, mod, fmod) is the piece the float64
    evaluation took, with the table's partials there (:func:`_decided`) — the program decides
    its branches, ties, sides and whole numbers, not SymPy's exact arithmetic (x + 1e-17 > x is
    False, floor(10·0.7) is 7 and 0.7 + 0.3 == 1 a tie in float64) — and only the arithmetic
    is exact."""
    token = _AT_POINT.set(True)
    try:
        yield
    finally:
        _AT_POINT.reset(token)


def signed_zero_refusal(node: Node) -> MissingRuleError | None:
    """The refusal of an operation that reads the sign of a zero at this point (its record's
    ``signed_zero``, from the values the trace recorded): SymPy and mpmath have one unsigned 0
    (x·0.0 is 0 whatever x) and their own sides of a branch cut, so copysign(1, x·0.0) at
    x < 0 or √(−z) at z = 4 + 0j would come out with the other sign. None where no flagged
    argument holds such a value — an input's too: SymPy's forms of signbit and angle read an
    input −0.0 as 0 (x < 0), and its derivative formulas take their own side of a cut."""
    if not node.prim.signed_zero:
        return None
    i = node.prim.sign_of_zero_read([a.value for a in node.inputs])
    if i is None:
        return None
    return MissingRuleError(
        f"argument {i + 1} of {node.prim.name} is a zero, or lies on its branch cut, at this "
        "point, where NumPy's value reads the sign of a zero (-0.0 and +0.0 differ); SymPy has "
        "one unsigned 0 and its own sides of a cut: the symbolic engine cannot take it here; "
        "use method='reverse' (or 'forward')")


def reads_signed_zeros(graph: Graph) -> bool:
    """Whether `graph` has an operation that may read the sign of a zero (``signed_zero``):
    a derivation of it reused at another point is checked there (:func:`check_signed_zeros`)."""
    return any(node.prim is not None and any(r is not False for r in node.prim.signed_zero)
               for node in graph.nodes)


def check_signed_zeros(graph: Graph) -> None:
    """Raise :func:`signed_zero_refusal`'s error for the first operation of `graph` (a trace
    at the point being evaluated) that reads the sign of a zero there."""
    for node in graph.nodes:
        if node.prim is not None and node.prim.signed_zero:
            refusal = signed_zero_refusal(node)
            if refusal is not None:
                raise refusal


def inexact_refusal(node: Node, order: int) -> MissingRuleError | None:
    """The refusal of an operation whose SymPy derivatives to `order`, evaluated in float64,
    cannot be trusted at this point (its record's ``symbolic_inexact``, from the values the
    trace recorded); None elsewhere."""
    if node.prim.symbolic_inexact is None or not node.prim.symbolic_inexact_at(
            [a.value for a in node.inputs], order):
        return None
    return MissingRuleError(
        f"the symbolic engine's derivative of {node.prim.name} (order {order}) cannot be "
        "trusted at this point: SymPy's formula, evaluated in float64, cancels here or reads "
        "SciPy's digamma near a pole (beyond 1e-10 relative error; the reverse and forward "
        f"rules use stable forms): use method='reverse' (or 'forward')")


def checks_points(graph: Graph) -> bool:
    """Whether a symbolic derivative of `graph` is checked at each point it is evaluated at:
    the graph has an operation that may read the sign of a zero (``signed_zero``) or whose
    float64 derivatives may not be trusted somewhere (``symbolic_inexact``)."""
    return reads_signed_zeros(graph) or any(
        node.prim is not None and node.prim.symbolic_inexact is not None for node in graph.nodes)


def check_point(graph: Graph, order: int) -> None:
    """:func:`check_signed_zeros`, and :func:`inexact_refusal`'s error for the first operation
    of `graph` (a trace at the point being evaluated) whose derivatives to `order` cannot be
    trusted in float64 there."""
    check_signed_zeros(graph)
    for node in graph.nodes:
        if node.prim is not None and node.prim.symbolic_inexact is not None:
            refusal = inexact_refusal(node, order)
            if refusal is not None:
                raise refusal


def _decided(node: Node, args: list[np.ndarray]) -> np.ndarray | None:
    """At the point (:func:`at_point`), an op the table declares ``affine_pieces`` (a selection,
    a kink, a step, a remainder) as the piece the float64 program took there: Σ ∂ᵢ·xᵢ + c, with
    the partials ∂ᵢ the table's rules give at the float64 values (element-wise: ``partials``;
    structural: ``vjp``) — so the tie rules too: ½–½ at a tie of maximum, abs′(0) = 0 — and
    c = out − Σ ∂ᵢ·xᵢ at those values, exact rationals (0 for a selection, the whole number of a
    step). Only the arithmetic of the xᵢ is exact: fmax(x + 0.3, y) at (0.7, 1) is the tie
    ½(x + 0.3) + ½y, not y (exactly, 0.7 + 0.3 < 1), and mod(x·y, 1) at (0.7, 10) is x·y − 7, not
    x·y − 6. None for other ops; a MissingRuleError where the piece cannot be read (a partial
    or value that is not a finite number there)."""
    prim = node.prim
    out64 = np.asarray(node.value)
    if not prim.affine_pieces or out64.dtype.kind != "f":  # integers: no rounding decides
        return None
    values = [np.asarray(i.value) for i in node.inputs]
    try:
        with np.errstate(all="ignore"):
            if prim.kind == "elementwise":
                columns = _elementwise_partials(prim, values, out64)
            else:
                columns = _structural_partials(node, values, out64)
            rows = [columns(j) for j in range(out64.size)]
    except Exception as exc:  # noqa: BLE001 - no partial there: the reference says so
        raise MissingRuleError(f"the exact reference cannot take {prim.name}'s piece at this "
                               f"point ({type(exc).__name__}): use method='reverse'") from None
    inputs = [np.asarray(a, dtype=object).reshape(-1) for a in args]
    flat_values = [v.reshape(-1) for v in values]
    out = np.empty(out64.shape, dtype=object)
    flat_out = out.reshape(-1)
    for j, (o, row) in enumerate(zip(out64.reshape(-1), rows)):
        terms, c = [], _exact(o, prim)
        for k, i, d in row:
            p = _exact(d, prim)
            terms.append(p * inputs[k][i])
            c -= p * _exact(flat_values[k][i], prim)
        flat_out[j] = sp.Add(*terms) + c
    return out


def _exact(v: Any, prim: Any) -> sp.Expr:
    """A float64 value of the decided piece as an exact number; a MissingRuleError where it is
    no finite number (the piece is then not an affine function the reference can take)."""
    if isinstance(v, int | np.integer | np.bool_):  # exact, also beyond 2**53
        return sp.Integer(int(v))
    if not np.isfinite(v):
        raise MissingRuleError(f"the exact reference cannot take {prim.name}'s piece at this "
                               "point (a value or partial there is not finite): use "
                               "method='reverse'")
    return sp.Integer(int(v)) if float(v).is_integer() else sp.Rational(float(v))


def _elementwise_partials(prim: Any, values: list[np.ndarray], out64: np.ndarray) -> Any:
    """The nonzero partials of an element-wise op at the float64 values, as ``columns(j)``:
    (input, element, ∂) for output element j (None rules, inputs that are not differentiable,
    and zero partials hold their float64 value: they enter c only)."""
    shape = out64.shape
    parts = [None if r is None else np.broadcast_to(np.asarray(r(*values, out64)), shape)
             .reshape(-1) for r in prim.partials]
    where = [_source_index(v.shape, shape) for v in values]

    def columns(j: int) -> list[tuple[int, int, Any]]:
        return [(k, int(where[k][j]), p[j]) for k, p in enumerate(parts)
                if p is not None and p[j] != 0]

    return columns


def _source_index(in_shape: tuple[int, ...], out_shape: tuple[int, ...]) -> np.ndarray:
    """For each element of a broadcast result, the flat index of the input element it reads."""
    return np.broadcast_to(np.arange(int(np.prod(in_shape))).reshape(in_shape),
                           out_shape).reshape(-1)


def _structural_partials(node: Node, values: list[np.ndarray], out64: np.ndarray) -> Any:
    """``columns(j)`` of a structural op from its ``vjp`` at the float64 values: one pullback of
    the unit cotangent of output element j (its row of the Jacobian, nonzero entries only)."""
    prim = node.prim

    def columns(j: int) -> list[tuple[int, int, Any]]:
        ct = np.zeros(out64.size)
        ct[j] = 1.0
        cts = prim.vjp(ct.reshape(out64.shape), values, out64, **node.params)
        found = []
        for k, c in enumerate(cts):
            c = c() if callable(c) else c
            if c is None:
                continue
            row = np.broadcast_to(np.asarray(c), values[k].shape).reshape(-1)
            found += [(k, int(i), row[i]) for i in np.flatnonzero(row)]
        return found

    return columns


def _objects(value: Any) -> np.ndarray:
    arr = np.asarray(value)
    if arr.dtype == object:
        return arr
    out = np.empty(arr.shape, dtype=object)
    flat = out.reshape(-1)
    for i, v in enumerate(arr.reshape(-1)):
        flat[i] = sp.true if v is True or v is np.True_ else sp.false if v is False or v is np.False_ else sympy_number(v)
    return out


def input_symbols(name: str, shape: tuple[int, ...], real: bool = True,
                  taken: set[str] | None = None) -> np.ndarray:
    """Symbols for an input: ``x`` for a scalar, ``x_0``, ``x_1_2`` … for array elements (real,
    or complex for a complex input). Element names never equal a name in `taken` (the other
    inputs' names and elements: an input named ``x_0`` beside an array ``x``): the array's base
    then gets leading underscores (``_x_0``). The names used are added to `taken`."""
    taken = set() if taken is None else taken
    base = name

    def element(idx: tuple[int, ...]) -> str:
        return "_".join([base, *map(str, idx)])

    if shape:
        while any(element(idx) in taken for idx in np.ndindex(*shape)):
            base = "_" + base
    out = np.empty(shape, dtype=object)
    for idx in np.ndindex(*shape):
        out[idx] = sp.Symbol(element(idx), real=real or None)
        taken.add(element(idx))
    return out


def _input_arrays(names: Sequence[str], inputs: Sequence[Node]) -> list[np.ndarray]:
    """Every input's symbols, all distinct (see :func:`input_symbols`)."""
    taken = set(names)
    return [input_symbols(nm, node.shape, node.dtype.kind != "c", taken)
            for nm, node in zip(names, inputs)]


def _apply(node: Node, args: list[np.ndarray]) -> np.ndarray:
    with np.errstate(all="ignore"):  # SymPy numbers handle their own range; NumPy's flags are noise
        return _translate(node, args)


def _translate(node: Node, args: list[np.ndarray]) -> np.ndarray:
    prim = node.prim
    if prim.kind == "elementwise":
        b = np.broadcast_arrays(*args)
        fn = np.frompyfunc(prim.to_sympy, len(args), 1)
        return np.asarray(fn(*b), dtype=object).reshape(b[0].shape) if b else np.empty(())
    out = np.asarray(prim.to_sympy(*args, **node.params), dtype=object)
    flat = out.reshape(-1)
    for i, e in enumerate(flat):  # e.g. the integer zeros index_add starts from (numbers only)
        if not isinstance(e, sp.Basic):
            flat[i] = sympy_number(e)
    return out


@dataclass
class ScalarProgram:
    """Scalar SymPy assignments ``symbol = expression`` in evaluation order.

    Attributes:
        inputs: the input symbols, flattened in input order.
        assignments: (symbol, expression) pairs; expressions refer to inputs and earlier symbols.
        output: the output as an object array of expressions (usually symbols).
        constants: symbols holding outputs of non-differentiable primitives (sign, stop_gradient):
            differentiation treats them as constants, as every other engine does.
    """

    inputs: list[sp.Symbol]
    input_arrays: list[np.ndarray]
    assignments: list[tuple[sp.Symbol, sp.Expr]] = field(default_factory=list)
    output: np.ndarray | None = None
    constants: frozenset[sp.Symbol] = frozenset()
    real: bool = True

    def expand(self, expr: sp.Expr) -> sp.Expr:
        """Substitute every program symbol away: the plain expression tree (may be large)."""
        defs: dict[sp.Symbol, sp.Expr] = {}
        for sym, e in self.assignments:
            defs[sym] = e.xreplace(defs) if e.free_symbols & defs.keys() else e
        return expr.xreplace(defs) if expr.free_symbols & defs.keys() else expr


def element_count(graph: Graph) -> int:
    return int(sum(max(n.size, 1) for n in graph.nodes))


def _as_numbers(a: np.ndarray) -> np.ndarray:
    """An object array with SymPy truth values (``Eq(x, 0)``, true) as the numbers 1 and 0,
    as NumPy reads booleans in arithmetic; everything else as it is."""
    def number(e: Any) -> Any:
        if isinstance(e, bool | np.bool_):
            return sp.Integer(int(e))
        if isinstance(e, sp.logic.boolalg.Boolean) and not isinstance(e, sp.Expr):
            return sp.Piecewise((1, e), (0, True))
        return e

    out = np.empty(np.shape(a), dtype=object)
    for idx in np.ndindex(*np.shape(a)):
        out[idx] = number(np.asarray(a, dtype=object)[idx])
    return out


def _as_truth(a: np.ndarray) -> np.ndarray:
    """An object array of numbers computed from truth values (:func:`_as_numbers`) as the truth
    values a bool result holds: nonzero is true (True + True is True in NumPy). An element that
    is a truth value already (a comparison of two masks, m > n) stays as it is."""
    out = np.empty(np.shape(a), dtype=object)
    for idx in np.ndindex(*np.shape(a)):
        v = np.asarray(a, dtype=object)[idx]
        out[idx] = v if isinstance(v, sp.logic.boolalg.Boolean) else sp.Ne(v, 0)
    return out


def _wrapped(a: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """Integer results as NumPy's fixed-width integers hold them: SymPy's integers are unbounded,
    NumPy's wrap modulo 2**bits (int8: 2·100 is −56; uint8: 1 − 5 is 252)."""
    info = np.iinfo(dtype)
    span, low = info.max - info.min + 1, info.min
    out = np.empty(np.shape(a), dtype=object)
    for idx in np.ndindex(*np.shape(a)):
        e = np.asarray(a, dtype=object)[idx]
        out[idx] = e if isinstance(e, sp.logic.boolalg.Boolean) else \
            sp.Mod(e - low, span) + low
    return out


def scalar_program(graph: Graph, names: Sequence[str] | None = None, share: bool = True,
                   limit: int = MAX_ELEMENTS, prefix: str = "v") -> ScalarProgram:
    """Translate `graph` to a :class:`ScalarProgram` (one symbol per intermediate element). In a
    graph that computes in long double, every float constant is a Float of :data:`LONG_DIGITS`
    (:func:`sympy_number`): NumPy computes exp(0.5) of a Python 0.5 there in long double."""
    long = LONG_REAL is not None and any(n.dtype in _LONG_DTYPES for n in graph.nodes)
    token = _LONG_PROGRAM.set(long)
    try:
        return _scalar_program(graph, names, share, limit, prefix)
    finally:
        _LONG_PROGRAM.reset(token)


def _scalar_program(graph: Graph, names: Sequence[str] | None, share: bool, limit: int,
                    prefix: str) -> ScalarProgram:
    total = element_count(graph)
    if total > limit:
        raise MissingRuleError(
            f"symbolic differentiation works element by element; this graph has {total} array "
            f"elements (limit {limit}): use method='reverse' (or 'forward'), or pass max_elements="
        )
    labels = graph.names()
    names = list(names) if names is not None else [n.name for n in graph.inputs]
    arrays = _input_arrays(names, graph.inputs)
    prog = ScalarProgram(inputs=[s for a in arrays for s in a.reshape(-1)], input_arrays=arrays,
                         real=all(n.dtype.kind != "c" for n in graph.nodes))
    exprs: dict[Node, np.ndarray] = dict(zip(graph.inputs, arrays))
    taken = {str(s) for s in prog.inputs} | set(names)
    at = _AT_POINT.get()
    for node in graph.nodes:
        if node in exprs:
            continue
        if node.prim is None:
            exprs[node] = _objects(node.value)
            continue
        for i in node.inputs:
            if i not in exprs:
                exprs[i] = _objects(i.value)
        if node.prim.signed_zero:
            refusal = signed_zero_refusal(node)
            if refusal is not None:
                raise refusal
        if at and node.dtype.kind == "b":  # the float64 program's decision at its point
            exprs[node] = _objects(node.value)
            continue
        args = [exprs[i] for i in node.inputs]
        # a selection, kink or step decided as the float64 program decides it (floor(10·0.7)
        # is 7, max(0.7 + 0.3, 1) a tie)
        out = _decided(node, args) if at else None
        try:
            out = _apply(node, args) if out is None else out
        except TypeError as exc:
            try:  # a comparison's truth value in arithmetic (signum(x) + (x == 0), NumPy's
                out = _apply(node, [_as_numbers(a) for a in args])  # bool + float)
                if node.dtype.kind == "b":  # NumPy's arithmetic of two bools stays a
                    out = _as_truth(out)  # bool: m + m is logical or (True, not 2)
            except TypeError:
                raise MissingRuleError(f"no SymPy translation of {node.prim.name} for these "
                                       f"arguments ({exc}): use method='reverse'") from None
        if node.dtype.kind in "iu":
            out = _wrapped(out, node.dtype)
        if share:
            constant = not node.prim.differentiable
            out = _name_elements(out, labels[node.id].replace("-", "m"), prefix, prog, taken,
                                 name_atoms=constant)
            if constant:
                prog.constants = prog.constants | {
                    e for e in out.reshape(-1) if isinstance(e, sp.Symbol) and e not in prog.inputs}
        exprs[node] = out
    prog.output = exprs[graph.output]
    return prog


def _name_elements(out: np.ndarray, label: str, prefix: str, prog: ScalarProgram, taken: set[str],
                   name_atoms: bool = False) -> np.ndarray:
    """Give every non-atomic element (every element, with `name_atoms`) a symbol of its own and
    record its assignment. Booleans are never named (they stay usable as conditions)."""
    base = prefix + label[1:] if label.startswith("v") else label
    while base in taken:
        base = "_" + base
    named = np.empty(out.shape, dtype=object)
    for idx in np.ndindex(*out.shape):
        e = out[idx]
        if not isinstance(e, sp.Expr) or (e.is_Atom and not name_atoms):
            named[idx] = e
            continue
        sym = sp.Symbol("_".join([base, *map(str, idx)]), real=prog.real or None)
        prog.assignments.append((sym, e))
        named[idx] = sym
    taken.add(base)
    return named


def graph_to_sympy(graph: Graph, names: Sequence[str]) -> Any:
    """The whole graph as one SymPy expression (an Array for array outputs)."""
    prog = scalar_program(graph, names, share=False)
    out = prog.output
    if out.ndim == 0:
        return out.item()
    return sp.Array(out.tolist())
