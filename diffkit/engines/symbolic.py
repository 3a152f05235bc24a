"""Symbolic differentiation through SymPy, over the DAG so that expressions do not swell.

The graph becomes a scalar program (one SymPy symbol per intermediate element, see
:mod:`diffkit.sympy_bridge`). Derivatives are accumulated backward over that program, with SymPy
differentiating each assignment locally (``sympy.diff`` of the primitive's translation, so this
engine is independent of the table's own derivative rules). The result is again a program
(primal + adjoint assignments), tightened with ``sympy.cse`` and compiled to Python source. The fully
substituted and simplified expressions are available when they are small enough to be useful.
"""

from __future__ import annotations

import functools
import math
import threading
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from numbers import Number
from typing import Any

import numpy as np
import sympy as sp
from sympy.printing.numpy import NumPyPrinter
from sympy.printing.pycode import PythonCodePrinter

from ..errors import (
    InputTypeError,
    MissingRuleError,
    NonDifferentiableError,
    NumericOverflowError,
    ShapeError,
    TracingError,
)
from ..function import Function, input_value, passed_as_given, signature
from ..ir import Graph, Node
from ..sweeps import unflat_zeros
from ..sympy_program import (
    MAX_ELEMENTS,
    AtKink,
    ScalarProgram,
    _apply,
    _objects,
    check_point,
    check_signed_zeros,
    checks_points,
    kink_check,
    scalar_program,
    untied,
    without_kinks,
)
from .base import (
    Engine,
    differentiated_outside,
    nonholomorphic,
    require_scalar,
    size_of,
    split_flat,
)

#: substituted expressions above this many operations are not simplified (nor shown by default)
SIMPLIFY_LIMIT = 400

#: a value used by more operations than this is refused before SymPy runs: its derivative is one
#: sum with a term per use, and Python's compiler cannot nest the generated sum that deep (3.11
#: fails near 3,000 terms, after SymPy has worked for seconds)
MAX_USES = 2500


def _int_text(i: int) -> str:
    """An exact integer as Python source: in hexadecimal where decimal would pass Python's limit
    on integer string conversion (4300 digits: Γ(a) of an a ≳ 1800, which SymPy makes exact),
    a ValueError otherwise; the program then meets it as any other too large number (an
    OverflowError where it becomes a float: a NumericOverflowError)."""
    return str(i) if i.bit_length() < 12000 else format(i, "#x")


class NonZero(sp.Function):
    """x where x ≠ 0, else 1: ``ln(NonZero(x))`` is the table's safe logarithm in ∂(x**y)/∂y, and
    its derivative (0 at x = 0) never divides by zero, even after CSE hoists it out of a branch."""

    nargs = 1

    @classmethod
    def eval(cls, x: sp.Expr) -> sp.Expr | None:
        if x.is_zero:
            return sp.S.One
        if x.is_zero is False and not (x.is_number and x.is_extended_negative):
            return x  # (a negative number stays wrapped: SymPy would fold ln(−2) to ln 2 + iπ at
        return None  # derivation, where the table's real logarithm refuses it at evaluation)

    def fdiff(self, argindex: int = 1) -> sp.Expr:
        return sp.Piecewise((0, sp.Eq(self.args[0], 0)), (1, True))

    def _latex(self, printer: Any) -> str:  # x away from 0, where formulas are read
        return printer._print(self.args[0])

    _sympystr = _latex


class _Pow(sp.Function):
    """x**y while differentiating: the power rule as y·xʸ⁻¹ (SymPy's y·xʸ/x cannot be evaluated at
    x = 0), and ∂(x**y)/∂y = xʸ·ln x taken as 0 where x = 0 (the table's convention)."""

    nargs = 2

    def fdiff(self, argindex: int = 1) -> sp.Expr:
        base, exp = self.args
        if argindex == 1:  # 0 at 0**0, as the table's rule (x**0 = 1 is constant)
            d = sp.Piecewise((0, sp.And(sp.Eq(base, 0), sp.Eq(exp, 0))),
                             (exp * _Pow(base, exp - 1), True))
        else:  # aᵇ·ln a: its limit 0 at a = 0 for b > 0; −∞ at 0**0, as the table's rule
            d = sp.Piecewise((-sp.oo, sp.And(sp.Eq(base, 0), exp <= 0)),
                             (_Pow(base, exp) * sp.log(NonZero(base)), True))
        return d if exp.is_number else AtKink(d, self._smooth(), base, exp)

    def _smooth(self) -> sp.Expr:
        """0 where the partials are conventions that cannot be differentiated again (the
        table's ``kinks`` for pow): at a zero base with b <= 1 (b <= 0 for a constant base)."""
        base, exp = self.args
        at_most = 0 if base.is_number else 1
        return sp.Piecewise((0, sp.And(sp.Eq(base, 0), exp <= at_most)), (1, True))


class StrongMul(sp.Function):
    """a·b with 0·∞ = 0: an adjoint contribution v̄ᵢ·∂vᵢ/∂vⱼ, where an exactly zero factor wins over
    an infinite one (relu(x)**0.5 at x = −1 has derivative 0), as in the AD engines."""

    nargs = 2

    @classmethod
    def eval(cls, a: sp.Expr, b: sp.Expr) -> sp.Expr | None:
        # structural tests only (no assumption queries: they dominated the derivation's time)
        if a is sp.S.Zero or b is sp.S.Zero:
            return sp.S.Zero
        if a.is_Number and a.is_finite or b.is_Number and b.is_finite:  # a nonzero constant
            return a * b  # cannot meet 0·∞ as a factor
        return None

    def fdiff(self, argindex: int = 1) -> sp.Expr:
        return self.args[2 - argindex]


def plain(expr: sp.Expr) -> sp.Expr:
    """The expression with strong products as ordinary ones and conventions at kinks as their
    values (for display and simplification)."""
    return without_kinks(expr.replace(StrongMul, sp.Mul) if expr.has(StrongMul) else expr)


def local_diff(expr: sp.Expr, var: sp.Symbol) -> sp.Expr:
    """∂expr/∂var with diffkit's conventions.

    * powers differentiate as :class:`_Pow` says (also inside products, for second derivatives);
    * derivatives of sign and of step functions (DiracDelta) are 0, as in the AD engines, and
      a kink at the jump: differentiated again there, a NonDifferentiableError;
    * a comparison (a Boolean) is a constant.
    """
    if isinstance(expr, sp.logic.boolalg.Boolean) and not isinstance(expr, sp.Expr):
        return sp.S.Zero  # (a Symbol is both an Expr and a Boolean)
    if expr.has(sp.Pow):
        d = sp.diff(expr.replace(sp.Pow, _Pow), var).replace(_Pow, sp.Pow)
    else:
        d = sp.diff(expr, var)
    if d.has(sp.DiracDelta):  # sign′ and the steps′: 0, a kink at the jump (see AtKink)
        d = d.replace(sp.DiracDelta, lambda z, *k: AtKink(sp.S.Zero, z))
    if d.has(sp.Heaviside):  # max/min's ½–½ at ties: a convention (see AtKink)
        d = d.replace(sp.Heaviside, lambda z, *h: AtKink(sp.Heaviside(z, *h), z))
    return d


def accumulate(assignments: Sequence[tuple[sp.Symbol, sp.Expr]], output: sp.Expr,
               wrt: Sequence[sp.Symbol], prefix: str, constants: frozenset[sp.Symbol] = frozenset(),
               real: bool = True, strong: bool = True
               ) -> tuple[list[tuple[sp.Symbol, sp.Expr]], list[sp.Expr]]:
    """Reverse accumulation over a scalar program: new adjoint assignments and d(output)/d(wrt).

    Symbols in `constants` (outputs of non-differentiable primitives) pass no derivative on.
    Each contribution v̄ᵢ·∂vᵢ/∂vⱼ is a :class:`StrongMul` (0·∞ = 0) — only where the derivative
    is final (`strong`). One that will be differentiated again takes ordinary products, as the
    AD engines' nested sweeps do: its adjoints are values of the next derivative, and a strong
    zero there would be a wrong one (sqrt(x²)² at 0: v̄ = 2·sqrt(x²)·½/sqrt(x²) is 1, not 0), so
    0·∞ stays NaN and reaches the result as a NonDifferentiableError unless a final strong
    product drops it.
    """
    product = StrongMul if strong else sp.Mul
    wanted = set(wrt)
    depends: set[sp.Symbol] = set(wanted)
    for sym, e in assignments:
        if sym not in constants and e.free_symbols & depends:
            depends.add(sym)
    defined = {s for s, _ in assignments}
    adj: dict[sp.Symbol, list[sp.Expr]] = defaultdict(list)
    new: list[tuple[sp.Symbol, sp.Expr]] = []
    # the output may be an expression rather than one symbol: treat it as a last assignment
    out_sym = sp.Symbol(f"{prefix}out", real=real or None)
    steps = [*assignments, (out_sym, output)]
    adj[out_sym].append(sp.Integer(1))
    for sym, e in reversed(steps):
        contributions = adj.pop(sym, None)
        if not contributions or sym in wanted and sym not in defined:
            if contributions:
                adj[sym] = contributions
            continue
        total = sp.Add(*contributions)
        if total == 0:
            continue
        if not total.is_Atom:
            bar = sp.Symbol(f"{prefix}{sym}", real=real or None)
            new.append((bar, total))
            total = bar
        for t, d in local_grads(e, e.free_symbols & depends).items():
            if d != 0:
                adj[t].append(product(total, d))
    return new, [sp.Add(*adj.get(w, [])) for w in wrt]


def local_grads(expr: sp.Expr, symbols: set[sp.Symbol]) -> dict[sp.Symbol, sp.Expr]:
    """∂expr/∂s for each s in `symbols`. The terms of a sum that are monomials in distinct
    symbols (c, c·s, c·s·t, …: what products of arrays make) are differentiated directly —
    ∂(c·s·t)/∂s = c·t, exactly — and everything else goes through :func:`local_diff`
    (sympy.diff), term by term."""
    if isinstance(expr, sp.Function) and len(expr.args) == 1 and not isinstance(expr, sp.Piecewise):
        outer = _outer_derivative(expr)
        if outer is not None and isinstance(expr, sp.Abs):  # sign(0) = 0: a convention
            outer = AtKink(outer, expr.args[0])
        if outer is not None:  # the chain rule with SymPy's own F′ (fdiff): no Derivative object
            return {s: outer * d for s, d in local_grads(expr.args[0], symbols).items()}
    terms = expr.args if isinstance(expr, sp.Add) else (expr,)
    parts: dict[sp.Symbol, list[sp.Expr]] = defaultdict(list)
    for term in terms:
        if term.is_Number:
            continue
        factors = _monomial(term)
        if factors is None:
            for s in term.free_symbols & symbols:
                parts[s].append(local_diff(term, s))
            continue
        for i, s in enumerate(factors):
            if s in symbols:
                parts[s].append(sp.Mul(*factors[:i], *factors[i + 1:]))
    return {s: ds[0] if len(ds) == 1 else sp.Add(*ds) for s, ds in parts.items()}


def _outer_derivative(expr: sp.Expr) -> sp.Expr | None:
    """F′(u) for expr = F(u), from SymPy's rule for F; None where F has none in closed form (or
    its derivative involves DiracDelta, which :func:`local_diff` turns into 0)."""
    try:
        outer = expr.fdiff(1)
    except (sp.core.function.ArgumentIndexError, NotImplementedError, TypeError):
        return None
    return None if outer.has(sp.Derivative, sp.Subs, sp.DiracDelta) else outer


def _monomial(term: sp.Expr) -> tuple[sp.Expr, ...] | None:
    """The factors of a term that is a number times distinct symbols (or one symbol), else None."""
    if term.is_Symbol:
        return (term,)
    if not term.is_Mul:
        return None
    factors = term.args
    symbols = [f for f in factors if f.is_Symbol]
    if len(symbols) + sum(1 for f in factors if f.is_Number) != len(factors):
        return None
    return factors if len(set(symbols)) == len(symbols) else None


def tree_size(assignments: Sequence[tuple[sp.Symbol, sp.Expr]], exprs: Sequence[sp.Expr]) -> int:
    """Operations in the fully substituted expressions (what sympy.diff on the tree would face)."""
    sizes: dict[sp.Symbol, int] = {}

    def ops_of(e: sp.Expr) -> int:
        own = sp.count_ops(e)
        uses = Counter(a for a in sp.preorder_traversal(e) if a in sizes)
        return int(own + sum(sizes[s] * k for s, k in uses.items()))

    for sym, e in assignments:
        sizes[sym] = ops_of(e)
    return sum(ops_of(e) for e in exprs)


#: an expression whose expanded form would have more terms than this is not simplified
EXPANSION_LIMIT = 100


def expansion_terms(expr: sp.Expr) -> int:
    """About how many terms `expr` has once multiplied out (an upper estimate: products of sums
    multiply, an integer power n of a sum of t terms has C(n + t − 1, t − 1)), the largest over
    its subexpressions, capped just above :data:`EXPANSION_LIMIT`. Iterative."""
    cap = EXPANSION_LIMIT + 1
    terms: dict[sp.Basic, int] = {}

    def count(e: sp.Basic) -> int:
        args = [terms[a] for a in e.args]
        if e.is_Add:
            n = sum(args)
        elif e.is_Mul:
            n = math.prod(args)
        elif e.is_Pow and e.exp.is_Integer and args[0] > 1:
            k = abs(int(e.exp))
            n = cap if k >= cap else math.comb(k + args[0] - 1, args[0] - 1)
        else:  # an atom, or a function: one term (its arguments count on their own)
            n = 1
        return min(n, cap)

    bottom_up(expr, terms, count)
    return max(terms.values())


def bottom_up(root: sp.Basic, done: dict[sp.Basic, Any], visit: Callable[[sp.Basic], Any]) -> Any:
    """``done[e] = visit(e)`` for `root` and each of its subexpressions not in `done` yet,
    arguments before the expression (``visit`` reads theirs from `done`); ``done[root]``.
    Iterative: expressions of any depth (SymPy's own walks recurse)."""
    stack: list[tuple[sp.Basic, bool]] = [(root, False)]
    while stack:
        e, ready = stack.pop()
        if e in done:
            continue
        if not ready and e.args:
            stack.append((e, True))
            stack.extend((a, False) for a in e.args if a not in done)
            continue
        done[e] = visit(e)
    return done[root]


@dataclass
class SymbolicDerivative:
    """Derivatives as SymPy objects, plus the code generated from them.

    Attributes:
        program: the primal scalar program of the function.
        adjoints: the adjoint assignments added by differentiation.
        results: the derivative expressions (in terms of program symbols), flattened.
        shape: how `results` is shaped for the user (e.g. (m, n) for a Jacobian).
        replacements, reduced: ``sympy.cse`` of the whole program.
    """

    program: ScalarProgram
    adjoints: list[tuple[sp.Symbol, sp.Expr]]
    results: list[sp.Expr]
    shape: tuple[int, ...]
    replacements: list[tuple[sp.Symbol, sp.Expr]] = field(default_factory=list)
    reduced: list[sp.Expr] = field(default_factory=list)
    _source: str = ""
    _compiled: Any = None
    _compiled_long: Any = None
    _fast: Any = None
    #: the function's name, the symbols differentiated by, 1 (Jacobian), 2 (Hessian) or n (n-th)
    name: str = "f"
    wrt: list[sp.Symbol] = field(default_factory=list)
    order: int = 1
    #: the function's values are complex: so are its derivatives (2x·(1 + 2j) at 0 is 0j, not a
    #: real 0 that lets grad answer a complex-valued function the other engines refuse)
    complex_output: bool = False
    #: its graph has an operation that may read the sign of a zero (``signed_zero``) or whose
    #: float64 derivatives may not be trusted somewhere (``symbolic_inexact``): checked at each
    #: point it is evaluated at (scalar_program checks the sign readers where it is derived)
    signed_zeros: bool = False
    #: a trace of f at a point (flat input values, :func:`_sign_check`): where `signed_zeros`
    #: is set, and at a complex point of a derivation for real inputs (:meth:`__call__`)
    _trace_at: Any = None
    #: how many numbers a call takes (the inputs' elements), counted on the first call
    _count: int | None = None

    @property
    def source(self) -> str:
        """The generated NumPy-scalar program (Python source)."""
        compile_numpy_program(self)
        return self._source

    @property
    def assignments(self) -> list[tuple[sp.Symbol, sp.Expr]]:
        return self.program.assignments + self.adjoints

    def expanded(self) -> list[sp.Expr]:
        """The derivatives with every intermediate substituted (can be very large); a
        MissingRuleError where they are too deep for SymPy's recursive trees."""
        expand = ScalarProgram(self.program.inputs, self.program.input_arrays, self.assignments).expand
        try:
            return [plain(expand(r)) for r in self.results]
        except RecursionError:  # SymPy's objects recurse over their depth
            raise MissingRuleError(
                f"the derivatives of {self.name} are too deep for SymPy expressions (Python's "
                "recursion limit was reached substituting the program's intermediates): see "
                ".results and .source, the derivative as a shared program") from None

    @property
    def expressions(self) -> list[sp.Expr]:
        """Exact derivative expressions: simplified when small, else in terms of the program's
        symbols. One whose simplification would expand a large power or product (SymPy's
        simplify expands (x + y)**1999 term by term) is shown as substituted, unsimplified."""
        if self.sizes()["tree"] > SIMPLIFY_LIMIT:
            return [plain(r) for r in self.results]
        return [e if expansion_terms(e) > EXPANSION_LIMIT else sp.simplify(e)
                for e in self.expanded()]

    def latex(self) -> list[str]:
        return [sp.latex(e) for e in self.expressions]

    def sizes(self) -> dict[str, int]:
        """Expression swell: operations as a tree, in the shared program (DAG), and after CSE."""
        if not hasattr(self, "_sizes"):
            def ops(e: sp.Expr) -> int:
                return int(sp.count_ops(plain(e)))

            dag = sum(ops(e) for _, e in self.assignments) + sum(ops(r) for r in self.results)
            after = sum(ops(e) for _, e in self.replacements) + sum(ops(r) for r in self.reduced)
            plain_assign = [(s, plain(e)) for s, e in self.assignments]
            self._sizes = {"tree": tree_size(plain_assign, [plain(r) for r in self.results]),
                           "dag": dag, "cse": after}
        return self._sizes

    def __repr__(self) -> str:
        shown: Any = "(large: see .results)"
        if self.sizes()["tree"] <= SIMPLIFY_LIMIT:
            try:
                shown = self.expressions
            except MissingRuleError:  # too deep to substitute: a repr never raises
                pass
        return f"<SymbolicDerivative shape={self.shape} {shown}>"

    def _repr_latex_(self) -> str:
        """The derivatives as LaTeX for notebooks: each ∂f/∂xᵢ of a gradient, the matrix of a
        Jacobian or Hessian; a large derivative by its size only."""
        sizes = self.sizes()
        if sizes["tree"] > SIMPLIFY_LIMIT:
            return (rf"$\text{{large: {sizes['tree']} operations as a tree, {sizes['dag']} as a "
                    rf"shared program, {sizes['cse']} after CSE (see .results, .source)}}$")
        exprs = self.expressions
        f = sp.latex(sp.Symbol(self.name if self.name.isidentifier() else "f"))
        wrt = [sp.latex(w) for w in self.wrt]
        if not self.shape:  # n-th derivative of a one-input function
            return f"${sp.latex(exprs[0])}$"
        if self.order == 2:
            return rf"$\nabla^{{2}} {f} = {sp.latex(sp.Matrix(*self.shape, exprs))}$"
        if self.shape[0] == 1 and len(wrt) == len(exprs):  # a gradient: one line per input
            return "$" + r",\quad ".join(rf"\frac{{\partial {f}}}{{\partial {w}}} = {sp.latex(e)}"
                                          for w, e in zip(wrt, exprs)) + "$"
        by = rf"\left({', '.join(wrt)}\right)" if len(wrt) > 1 else (wrt[0] if wrt else "x")
        matrix = sp.latex(sp.Matrix(*self.shape, exprs))
        return rf"$\frac{{\partial {f}}}{{\partial {by}}} = {matrix}$"

    def __call__(self, flat_inputs: Sequence[Any]) -> np.ndarray:
        """The derivative at the flat input values: a sequence of numbers, one per element of
        the inputs in order (``[x, y]``, or an input array's elements row by row), or one
        number where f has one scalar input. Anything else is a named ShapeError (a count or
        nesting that does not fit) or InputTypeError (a string).

        Where f has an operation that reads the sign of a zero (copysign, arctan2, angle: the
        record's ``signed_zero``), f is traced at the point first and such a zero there is a
        named MissingRuleError, as in ``dk.grad(..., method='symbolic')``: SymPy has one
        unsigned 0, and the fast code's ``math.ceil(-0.5)`` is the int 0, not -0.0. So is a
        point where an operation's float64 derivatives cannot be trusted (the record's
        ``symbolic_inexact``: beta near the poles of Γ(a + b)).

        A derivation for real inputs (``dk.symbolic(f)``, or at a real point) called at a complex
        point is checked there as ``dk.grad(..., method='symbolic')`` checks a complex point
        (:func:`check_complex` on a trace of f there): a function that is not holomorphic
        (``abs(x)*x``, ``conj(x)*x``) has no complex derivative, and is a MissingRuleError
        rather than its real formula evaluated at z.
        """
        flat_inputs, complex_point = self._flat_values(flat_inputs)
        if self.signed_zeros or (complex_point and self.program.real):
            graph = self._trace_at(flat_inputs)
            if complex_point:
                check_complex(graph)
            if self.signed_zeros:
                check_point(graph, self.order)
        return self._at(flat_inputs)

    def _flat_values(self, given: Any) -> tuple[list[Any], bool]:
        """`given` as the list of numbers :meth:`_at` takes, and whether one is complex; or a
        named error saying what the call takes (a bare scalar reached ``flat[k:k + n]`` or
        ``for v in`` as an IndexError or TypeError, None the program's bare TypeError)."""
        count = self._count
        if count is None:
            count = self._count = sum(a.size for a in self.program.input_arrays)
        if type(given) in _SEQUENCES and len(given) == count and all(
                type(v) in _NUMBERS for v in given):
            return list(given), False
        if isinstance(given, str | bytes):
            raise InputTypeError(f"{self._takes(count)}, got the string {given!r}")
        if getattr(given, "ndim", None) == 0 or not hasattr(given, "__iter__"):
            if count != 1:
                raise ShapeError(f"{self._takes(count)}, got the single number {given!r}")
            values = [given]
        else:
            values = list(given)
            if len(values) != count or any(
                    isinstance(v, list | tuple | str | bytes) or getattr(v, "ndim", 0)
                    for v in values):
                raise ShapeError(f"{self._takes(count)}, got {len(values)} item(s): "
                                 f"{[type(v).__name__ for v in values[:4]]}")
        for v in values:
            if not (isinstance(v, Number) or getattr(getattr(v, "dtype", None), "kind", None)
                    in _KINDS):
                raise InputTypeError(f"{self._takes(count)}, got {type(v).__name__} {v!r}")
        return values, any(np.iscomplexobj(v) for v in values)

    def _takes(self, count: int) -> str:
        names = ", ".join(map(str, self.program.inputs[:6])) + (
            ", ..." if len(self.program.inputs) > 6 else "")
        one = " (or that one number)" if count == 1 else ""
        return (f"the symbolic derivative of {self.name} is called with a flat sequence of "
                f"{count} number(s), the inputs' elements in order [{names}]{one}")

    def _at(self, flat_inputs: Sequence[Any]) -> np.ndarray:
        """:meth:`__call__` at a point whose sign readers were checked already (the engine's
        calls: the derivation or its replay checked them there).

        The fast code runs on Python floats (``math``); where it raises (0**-0.5, 1/0, log of a
        negative number, any value that is not finite), the same program runs on NumPy scalars,
        where infinities from a division are values and StrongMul decides 0·∞ = 0, and an
        overflow is a NumericOverflowError. A result that is still not finite means the
        derivative does not exist there."""
        values = None
        # the fast code's Python floats are float64: a long double input (more digits) goes
        # to the NumPy program, whose scalars keep its precision (and whose rationals are
        # long doubles then: the float64 1/3 of mean's or cbrt's derivative was 512 ε off)
        long = any(type(v) in _LONG for v in flat_inputs)
        # a complex point runs the NumPy program: float() of a NumPy complex scalar keeps its
        # real part only (x³ at np.complex128(1+2j) gave 3, not −9+12j)
        if self._fast is not None and not long and not any(
                isinstance(v, complex | np.complexfloating) for v in flat_inputs):
            try:
                values = self._fast(*[float(v) for v in flat_inputs])
            except (ZeroDivisionError, ValueError, OverflowError, TypeError):
                values = None  # TypeError: a complex power in a Piecewise branch not taken
            if values is not None and not all(map(math.isfinite, values)):
                values = None  # an infinity met a zero: the NumPy program decides 0·∞ = 0
        if values is None:  # an overflow is an error here, as in the other engines
            with np.errstate(divide="ignore", invalid="ignore", under="ignore", over="raise"):
                try:
                    values = compile_numpy_program(self, long)(*flat_inputs)
                except (FloatingPointError, OverflowError) as exc:  # int too large for a float
                    raise NumericOverflowError(
                        f"the symbolic derivative overflows at this point ({exc}): an "
                        "intermediate value is too large for its floating-point type (symbolic "
                        "engine); rescale the inputs, or use method='reverse' or 'forward', "
                        "whose rules avoid some of these overflows") from None
                except (ZeroDivisionError, ValueError) as exc:
                    raise NonDifferentiableError(self._not_differentiable(str(exc))) from None
        result = np.asarray(values).reshape(self.shape)
        if self.complex_output and result.dtype.kind != "c":
            result = result.astype(np.result_type(result.dtype, np.complex64))
        if not np.all(np.isfinite(result)):
            if self._overflows(flat_inputs, result.dtype):
                raise NumericOverflowError(
                    "the symbolic derivative overflows at this point: it is finite in exact "
                    f"arithmetic but beyond the range of {result.dtype} (symbolic engine); "
                    "rescale the inputs or compute in a stabler form")
            raise NonDifferentiableError(self._not_differentiable(
                "it is infinite or NaN: the derivative overflows its floating-point type — "
                "rescale the inputs — or a local derivative is infinite"))
        return result

    def _overflows(self, flat_inputs: Sequence[Any], dtype: np.dtype) -> bool:
        """Whether a derivative that is not finite in floating point is finite in exact
        arithmetic and beyond `dtype`'s range (1/x² at 1e-110: −2/x³ = −2e330, where float64's
        x³ underflows to 0 and −2/0 is −inf): the program evaluated with SymPy's arbitrary-
        exponent floats at the exact input values. Real float64 inputs and programs of up to
        :data:`EXACT_CHECK_LIMIT` assignments only (this runs where the answer is an error);
        False where it cannot say (then the derivative is called not finite, as before)."""
        if len(self.assignments) > EXACT_CHECK_LIMIT or dtype.kind != "f" or not all(
                type(v) in (float, int, np.float64) for v in flat_inputs):
            return False
        try:
            env: dict[Any, Any] = {s: sp.Float(float(v), 30)
                                   for s, v in zip(self.program.inputs, flat_inputs, strict=True)}
            for sym, e in self.assignments:
                env[sym] = sp.sympify(e).xreplace(env).evalf(30)
            values = [sp.sympify(r).xreplace(env).evalf(30) for r in self.results]
            big = sp.Float(float(np.finfo(dtype).max), 30)
            if not all(v.is_real and v.is_finite for v in values):
                return False  # infinite in exact arithmetic too (sqrt′ at 0), or no number
            return any(abs(v) > big for v in values)
        except Exception:  # noqa: BLE001 — SymPy may not evaluate a special function: unknown
            return False

    @staticmethod
    def _not_differentiable(why: str) -> str:
        return (f"the symbolic derivative is not finite at this point ({why}): the function is not "
                "differentiable there, or a point is outside a domain (symbolic engine)")


#: the most assignments a program may have for :meth:`SymbolicDerivative._overflows` to
#: evaluate it exactly (an error path: it names the error, and gives up beyond this size)
EXACT_CHECK_LIMIT = 2000

#: what a call of a SymbolicDerivative takes without a closer look (:meth:`_flat_values`)
_SEQUENCES = (list, tuple)
_NUMBERS = (float, int, np.float64, np.float32, np.longdouble)
#: the dtype kinds of numbers (booleans, integers, reals, complex numbers)
_KINDS = frozenset("biufc")

#: the smallest normal long double (exactly), and the exponent of its subnormals' spacing
_LONG_TINY = sp.Rational(*np.finfo(np.longdouble).smallest_normal.as_integer_ratio())
_LONG_GRID = int(np.finfo(np.longdouble).minexp) - int(np.finfo(np.longdouble).nmant)


def _long_constant(e: Any) -> str | None:
    """A real constant that is not a rational as the long double it is, for the long double
    program: π/180, log(10), log(2)² (which a NumPy program would compute in float64: log10′ was
    869 ε(longdouble) off) and Floats — a long double constant (1e400, the long double 0.3) and
    one SymPy folded from it (exp(0.5)) — were written as float64s (inf, 0, or 1e-17 off) — 40
    digits, read back as the nearest long double; a subnormal one exactly, by ldexp (NumPy's
    reading of its digits warns). None for anything else (rationals, non-finite Floats)."""
    if not isinstance(e, sp.Expr) or e.is_Rational or not e.is_number:
        return None
    if e.is_Float:
        if not e.is_finite:
            return None
        if e != 0 and abs(e) < _LONG_TINY:  # on the subnormal grid, rounded half to even
            m = round(Fraction(*sp.Rational(e).as_numer_denom()) * 2**-_LONG_GRID)
            return f"numpy.ldexp(numpy.longdouble('{m}'), {_LONG_GRID})"
        return f"numpy.longdouble('{sp.N(e, 40)}')"
    if e.is_real:
        return f"numpy.longdouble('{sp.N(e, 40)}')"
    return None


class _Printer(NumPyPrinter):
    """NumPy source over NumPy scalars; piecewise functions as conditional expressions (only the
    branch taken is evaluated); strong products and the safe logarithm as helpers. With `long`
    (the long double program), real constants as long doubles (:func:`_long_constant`)."""

    _print_Piecewise = PythonCodePrinter._print_Piecewise
    long = False

    def _print(self, expr: Any, **kwargs: Any) -> str:
        if self.long:
            text = _long_constant(expr)
            if text is not None:
                return text
        return super()._print(expr, **kwargs)

    def _print_sinc(self, e: Any) -> str:
        """sin(t)/t; NumPy's long double sinc multiplies by the float64 π (360 ε off): the long
        double program computes it at its own precision."""
        if self.long:
            return f"_sinc_long({self._print(e.args[0])})"
        return super()._print_sinc(e)

    def _print_Pow(self, e: Any, rational: bool = False) -> str:
        """float_power: 0**-0.5 is inf (decided later), never a ZeroDivisionError."""
        if e.exp == -1:
            return f"1/{self.parenthesize(e.base, 100)}"
        if e.exp == 2:
            return f"{self.parenthesize(e.base, 100)}**2"
        return f"numpy.float_power({self._print(e.base)}, {self._print(e.exp)})"

    def _print_StrongMul(self, e: Any) -> str:
        return f"_smul({self._print(e.args[0])}, {self._print(e.args[1])})"

    def _print_NonZero(self, e: Any) -> str:
        x = self._print(e.args[0])
        return f"numpy.where({x} == 0, 1.0, {x})"


class _Overflowed:
    """The NumPy program's value of an assignment that overflowed: any use of it raises that
    overflow again, so that one in a value no result uses (a Piecewise branch not taken whose
    common subexpressions were computed before the branch) is no error."""

    def __init__(self, exc: FloatingPointError) -> None:
        self.exc = exc

    def _raise(self, *args: Any, **kwargs: Any) -> Any:
        raise FloatingPointError(str(self.exc))

    __add__ = __radd__ = __sub__ = __rsub__ = __mul__ = __rmul__ = _raise
    __truediv__ = __rtruediv__ = __pow__ = __rpow__ = __neg__ = __pos__ = __abs__ = _raise
    __eq__ = __ne__ = __lt__ = __le__ = __gt__ = __ge__ = __bool__ = __float__ = _raise
    __array__ = __array_ufunc__ = __array_function__ = _raise
    __hash__ = None  # type: ignore[assignment]


def _unflat(fn: Function, args: Sequence[Any], wrt: Sequence[int]) -> bool:
    """Whether f, traced at `args`, has a zero that may not hold near the point as the inputs
    `wrt` move (:func:`~diffkit.sweeps.unflat_zeros`: relu′ at 0, a mask at its threshold)."""
    graph = fn.trace(*args, wrt=wrt)
    return unflat_zeros(graph.nodes, [graph.inputs[i] for i in wrt])


#: per thread: whether a strong product took 0·∞ = 0 since the engine last looked
_STRONG = threading.local()


def _smul(a: Any, b: Any) -> Any:
    """a·b with 0·∞ = 0 (the generated code works on NumPy scalars); one that met an infinity
    is noted, for the engine to audit (see :meth:`SymbolicEngine._audited`)."""
    if a == 0 or b == 0:
        if not (np.isfinite(a) and np.isfinite(b)):
            _STRONG.taken = True
        return 0.0
    return a * b


class _MathPrinter(PythonCodePrinter):
    """Python source over the math module (the fast path, for real programs: where an infinity
    would appear, Python raises or the result is not finite, and the NumPy program runs)."""

    def _print_StrongMul(self, e: Any) -> str:
        return self._print(sp.Mul(*e.args))

    def _print_NonZero(self, e: Any) -> str:
        x = self._print(e.args[0])
        return f"(1.0 if {x} == 0 else {x})"

    def _print_Heaviside(self, e: Any) -> str:
        return self._print(e.rewrite(sp.Piecewise))

    def _print_Mod(self, e: Any) -> str:
        # in parentheses: SymPy prints c*Mod(x, y) as `c*x % y`, which Python reads as
        # (c*x) % y (% and * bind alike, left to right): floor_divide's rint((x − x mod y)/y)
        # took the remainder of the wrong number
        x, y = (self.parenthesize(a, sp.printing.precedence.PRECEDENCE["Atom"] - 1)
                for a in e.args)
        return f"({x} % {y})"


#: SymPy functions printed directly: name in the math module / in NumPy
_FUNCTIONS = {
    "sin": ("math.sin", "numpy.sin"), "cos": ("math.cos", "numpy.cos"),
    "tan": ("math.tan", "numpy.tan"), "exp": ("math.exp", "numpy.exp"),
    "log": ("math.log", "numpy.log"), "tanh": ("math.tanh", "numpy.tanh"),
    "sinh": ("math.sinh", "numpy.sinh"), "cosh": ("math.cosh", "numpy.cosh"),
    "asin": ("math.asin", "numpy.arcsin"), "acos": ("math.acos", "numpy.arccos"),
    "atan": ("math.atan", "numpy.arctan"),
}
_RELATIONS = {"StrictGreaterThan": ">", "StrictLessThan": "<", "GreaterThan": ">=",
              "LessThan": "<=", "Equality": "==", "Unequality": "!="}


class _Writer:
    """Python source for the program's expressions, written directly from their trees.

    SymPy's printers ask the assumption system about every product and sum they print (signs,
    ordering), which dominated the symbolic engine's setup; the program's expressions need none
    of that. Everything is parenthesized, so no precedence is guessed; symbols are printed under
    their generated names (no ``xreplace``); subexpressions of kinds not handled here go to the
    SymPy printer (`fallback`), so the output means what SymPy's would. ``fast=True`` writes the
    math-module version (strong products as plain ones), else the NumPy-scalar version."""

    def __init__(self, names: dict[sp.Symbol, str], fast: bool, fallback: Any,
                 long: bool = False) -> None:
        self.names, self.fast, self.fallback = names, fast, fallback
        #: NumPy version for long double inputs: a rational p/q and 1/n are computed in long
        #: double (a Python int's 1/3 is a float64)
        self.long = long
        self.one = "numpy.longdouble(1)" if long else "1"
        self.memo: dict[sp.Basic, str] = {}
        #: fast version: one assignment per operation (`flush` hands them out), and the names of
        #: the numeric ones, which the program checks for infinities (`finite_check`)
        self.lines: list[str] = []
        self.temps: list[str] = []

    def __call__(self, e: sp.Basic) -> str:
        text = self.memo.get(e)
        if text is None:
            text = self._write(e)
            if self.fast and not (e.is_Symbol or e.is_Number or e is sp.true or e is sp.false):
                # Python floats overflow to inf silently in + - * and x/inf is 0: every
                # operation gets its own variable, so that an infinity cannot vanish unseen
                name = f"_v{len(self.memo)}"
                self.lines.append(f"    {name} = {text}")
                if not isinstance(e, sp.logic.boolalg.Boolean) or isinstance(e, sp.Expr):
                    self.temps.append(name)
                text = name
            self.memo[e] = text
        return text

    def flush(self) -> list[str]:
        lines, self.lines = self.lines, []
        return lines

    def finite_check(self) -> list[str]:
        """Fast version: an OverflowError (the NumPy program then decides) where a value was not
        finite, also one the results no longer show (a Piecewise branch not taken included)."""
        if not self.temps:
            return []
        return [f"    if not math.isfinite(math.fsum(({', '.join(self.temps)},))):",
                "        raise OverflowError('a value is not finite')"]

    def _write(self, e: sp.Basic) -> str:  # one case per kind of node
        w, fast = self, self.fast
        if e.is_Symbol:
            return self.names[e] if e in self.names else str(e)
        if e.is_Integer:
            return f"({_int_text(int(e))})"
        if self.long:
            text = _long_constant(e)
            if text is not None:
                return text
        if e.is_Rational:
            if self.long:
                return f"(numpy.longdouble({_int_text(int(e.p))})/{_int_text(int(e.q))})"
            return f"({_int_text(int(e.p))}/{_int_text(int(e.q))})"
        if e.is_Float:
            value = float(e)
            return f"({value!r})" if math.isfinite(value) else self._other(e)
        if e.is_Add:
            return "(" + " + ".join(map(w, e.args)) + ")"
        if e.is_Mul:
            return "(" + "*".join(map(w, e.args)) + ")"
        if e.is_Pow:
            base, exp = e.args
            if exp == -1:
                return f"({self.one}/{w(base)})"
            if exp.is_Integer and exp < 0:  # x**-n as 1/x**n: an overflow of x**n is seen,
                return f"({self.one}/{w(base ** -exp)})"  # where x**-n would underflow to 0 silently
            if exp == sp.S.Half:
                return f"{'math' if fast else 'numpy'}.sqrt({w(base)})"
            if exp.is_Integer and (fast or exp == 2):
                return f"({w(base)}**{int(exp)})"
            if fast and exp.is_Rational and exp.q == 3:
                # x**(p/3) as cbrt(x)**p where x ≥ 0 (cbrt's own derivative, 1/(3·x**(2/3))):
                # the rounded exponent p/3 costs |ln x|·ε (1e-14 at x = 1e-300), cbrt 1 ulp.
                # A negative x keeps SymPy's principal root (complex: the NumPy program decides)
                b, p = w(base), int(exp.p)
                root = f"_cbrt({b})" + (f"**{abs(p)}" if abs(p) != 1 else "")
                return f"(({root if p > 0 else f'1/{root}'}) if {b} >= 0 else {b}**({p}/3))"
            if fast:
                return self._other(e)
            if exp.is_Rational and exp.q == 3:  # as in the fast version, on NumPy scalars
                return f"_cube_root_power({w(base)}, {int(exp.p)})"
            return f"numpy.float_power({w(base)}, {w(exp)})"
        if isinstance(e, StrongMul):
            a, b = e.args
            return f"({w(a)}*{w(b)})" if fast else f"_smul({w(a)}, {w(b)})"
        if isinstance(e, NonZero):
            x = w(e.args[0])
            return f"(1.0 if {x} == 0 else {x})" if fast else f"numpy.where({x} == 0, 1.0, {x})"
        if isinstance(e, sp.Piecewise):
            text = None
            for value, cond in reversed(e.args):
                if text is None:
                    if cond != sp.true:
                        return self._other(e)
                    text = w(value)
                else:
                    text = f"({w(value)} if {w(cond)} else {text})"
            return text
        name = type(e).__name__
        if name in _RELATIONS:
            return f"({w(e.args[0])} {_RELATIONS[name]} {w(e.args[1])})"
        if e is sp.true or e is sp.false:
            return repr(bool(e))
        if isinstance(e, sp.sech):  # 1/cosh: no overflow below |x| = 710 (SymPy's 2/(eˣ + e⁻ˣ))
            return f"(1/{'math' if fast else 'numpy'}.cosh({w(e.args[0])}))"
        if isinstance(e, sp.Function) and name in _FUNCTIONS and len(e.args) == 1:
            return f"{_FUNCTIONS[name][0 if fast else 1]}({w(e.args[0])})"
        if fast and _integer_code(e):
            # math.floor, math.ceil and round return Python ints (10**150 for 1e150), which
            # NumPy reads as objects: the fast program computes floats only
            return f"float{self._other(e)}"
        return self._other(e)

    def _other(self, e: sp.Basic) -> str:
        rename = {s: sp.Symbol(n) for s, n in self.names.items() if s in e.free_symbols}
        try:
            return f"({self.fallback.doprint(e.xreplace(rename))})"
        except NotImplementedError as exc:  # SymPy's PrintMethodNotImplementedError
            raise _unprintable(e) from exc


def _integer_code(e: sp.Basic) -> bool:
    """Whether `e`'s math-module code returns a Python int (floor, ceiling, rint)."""
    return isinstance(e, sp.floor | sp.ceiling) or getattr(e, "python_name", "") == "round"


def _unprintable(e: sp.Basic) -> MissingRuleError:
    """A derivative SymPy left in a form with no code (an unevaluated Derivative, conjugate of a
    complex symbol): the symbolic engine cannot run it, so it refuses by name."""
    kinds = sorted({type(a).__name__ for a in sp.preorder_traversal(e)
                    if isinstance(a, sp.Derivative | sp.conjugate | sp.Subs)}) or [type(e).__name__]
    return MissingRuleError(
        f"the symbolic engine cannot write code for SymPy's {', '.join(kinds)} in this "
        "derivative (a derivative SymPy left unevaluated, or a conjugate of a complex value): "
        "use method='reverse', 'forward' or 'fd'")


def _source(deriv: SymbolicDerivative, fast: bool, long: bool = False) -> str:
    """The program and its results as one function; every identifier is generated here (inputs
    a0, a1, …, intermediates t0, t1, …): no name a user chose ever reaches the source."""
    names = {s: f"a{i}" for i, s in enumerate(deriv.program.inputs)}
    live = _live(deriv.replacements, deriv.reduced)
    for i, (sym, _) in enumerate(live):
        names[sym] = f"t{i}"
    printer = (_MathPrinter if fast else _Printer)({"fully_qualified_modules": True})
    printer.long = long
    write = _Writer(names, fast, printer, long)
    lines = [f"def derivative({', '.join(names[s] for s in deriv.program.inputs)}):"]
    for sym, e in live:
        text = write(e)
        if fast:
            lines += [*write.flush(), f"    {names[sym]} = {text}"]
        else:  # an overflow is an error only where a result uses the value (_Overflowed)
            lines += ["    try:", f"        {names[sym]} = {text}",
                      "    except FloatingPointError as exc:",
                      f"        {names[sym]} = _Overflowed(exc)"]
    outs = ", ".join(write(r) for r in deriv.reduced)
    lines += [*write.flush(), *write.finite_check()]
    lines.append(f"    return ({outs},)" if outs else "    return ()")
    return "\n".join(lines) + "\n"


#: the dtypes wider than float64 (where NumPy has them): their derivatives need long double
#: constants
_LONG = frozenset({np.longdouble, np.clongdouble}) - {np.float64, np.complex128}

#: the real cube root of a Python float (math.cbrt is Python 3.11's)
_cbrt = getattr(math, "cbrt", None) or (lambda x: float(np.cbrt(x)))


def _cube_root_power(x: Any, p: int) -> Any:
    """x**(p/3) on NumPy scalars: cbrt(x)**p where x ≥ 0 (the exponent p/3 rounded to a float
    costs |ln x|·ε, 1e-14 at x = 1e-300; cbrt is within an ulp), SymPy's principal root
    elsewhere (float_power: NaN in real arithmetic, as before)."""
    if x >= 0:
        r = np.cbrt(x)
        return r**p if p > 0 else 1 / r**-p
    return np.float_power(x, p / 3)


def _sinc_long(t: Any) -> Any:
    """SymPy's unnormalized sinc, sin(t)/t (1 at 0), in long double."""
    safe = np.where(t == 0, 1, t)
    return np.where(t == 0, 1, np.sin(t) / safe)[()]


#: the helpers both versions of a derivative program call
_HELPERS: dict[str, Any] = {"_smul": _smul, "_sinc_long": _sinc_long,
                            "_cube_root_power": _cube_root_power,
                            "_kink_check": kink_check, "_untied": untied}


def compile_program(deriv: SymbolicDerivative) -> None:
    """Generate and compile the derivative program: for real programs a math-module version (the
    fast path), and the NumPy-scalar one (exact semantics at singular points: ``.source``) when
    first needed."""
    if deriv.program.real:
        fast = _source(deriv, fast=True)
        namespace: dict[str, Any] = {"math": math, "_cbrt": _cbrt, **_HELPERS}
        exec(compile(fast, "<diffkit symbolic derivative>", "exec"), namespace)  # noqa: S102
        deriv._fast = namespace["derivative"]
    else:
        compile_numpy_program(deriv)


def compile_numpy_program(deriv: SymbolicDerivative, long: bool = False) -> Any:
    """The NumPy-scalar program (made once, on first use); with `long`, its version for long
    double inputs, whose rational constants are long doubles."""
    if long:
        if deriv._compiled_long is None:
            deriv._compiled_long = _numpy_program(_source(deriv, fast=False, long=True))
        return deriv._compiled_long
    if deriv._compiled is None:
        deriv._source = _source(deriv, fast=False)
        deriv._compiled = _numpy_program(deriv._source)
    return deriv._compiled


def _numpy_program(source: str) -> Any:
    """The ``derivative`` function of a generated NumPy-scalar program (the table's code, printed
    by :func:`_source`; no user text)."""
    namespace: dict[str, Any] = {"numpy": np, "functools": functools,
                                 "_Overflowed": _Overflowed, **_HELPERS}
    exec(compile(source, "<diffkit symbolic derivative>", "exec"), namespace)  # noqa: S102
    return namespace["derivative"]


def _live(assignments: list[tuple[sp.Symbol, sp.Expr]], results: list[sp.Expr]
          ) -> list[tuple[sp.Symbol, sp.Expr]]:
    """Only the assignments the results need (dead primal work is pruned)."""
    needed: set[sp.Symbol] = set().union(*(r.free_symbols for r in results)) if results else set()
    keep = []
    for sym, e in reversed(assignments):
        if sym in needed:
            keep.append((sym, e))
            needed |= e.free_symbols
    return keep[::-1]


def check_depth(graph: Graph) -> None:
    """Refuse, before SymPy runs, a graph whose derivative code would be nested too deep to
    compile: a node used by more than :data:`MAX_USES` operations (x*x*…*x with 3,000 factors)."""
    active: set[Node] = set(graph.inputs)
    uses: Counter[Node] = Counter()
    for node in graph.nodes:
        used = [i for i in set(node.inputs) if i in active]
        if used:  # only values that depend on the inputs have adjoints
            active.add(node)
            uses.update(used)
    if not uses:
        return
    node, count = max(uses.items(), key=lambda item: item[1])
    if count > MAX_USES:
        what = node.name if node in graph.inputs else f"an intermediate value ({node.prim.name})"
        raise MissingRuleError(_too_deep(f"{what} is used by {count} operations, so its derivative "
                                         f"is one sum of {count} terms; the limit is {MAX_USES}"))


#: why a derivation that hit Python's recursion limit (in SymPy or in compiling its code) failed
RECURSION = "Python's recursion limit was reached deriving or compiling the derivative"


def _too_deep(why: str) -> str:
    return f"this function is too deep for SymPy's symbolic engine: {why}; use method='reverse'"


def check_numbers(graph: Graph) -> None:
    """The symbolic engine answers numbers, so it does not nest: a value of an outer trace in this
    graph (the inner function of a nested derivative closing over it, or given it) would be cut
    out of that trace, and SymPy cannot read it. Refused by name."""
    for node in graph.nodes:
        if differentiated_outside(node.value):
            raise TracingError(
                "method='symbolic' answers numbers and does not nest: this function reads a value "
                "being differentiated by an outer derivative (a closure over it, or an argument); "
                "use method='reverse' or 'forward' for the inner derivative")


def check_complex(graph: Graph) -> None:
    """Complex values: only holomorphic functions (complex symbols, f′(z)); refuse the rest."""
    node = nonholomorphic(graph)
    if node is not None:
        raise MissingRuleError(
            f"the symbolic engine differentiates holomorphic functions of complex numbers only, "
            f"and this one applies {node.prim.name!r} to a complex value: use method='reverse', "
            "'forward' or 'fd'")


#: SymPy's non-finite constants: ∞, −∞, complex ∞ and NaN
NONFINITE = (sp.oo, sp.S.NegativeInfinity, sp.zoo, sp.nan)


def _nonfinite(value: Any) -> bool:
    """Whether a constant holds an infinite or NaN number."""
    try:
        return not bool(np.all(np.isfinite(np.asarray(value))))
    except TypeError:  # not numbers (booleans are finite; objects are SymPy's to translate)
        return False


def _fresh(node: Node) -> np.ndarray:
    """New symbols in `node`'s shape, real (so finite: x − ∞ folds) as the program's are."""
    real = node.dtype.kind != "c" or None
    out = np.empty(node.shape, dtype=object)
    for idx in np.ndindex(*node.shape):
        out[idx] = sp.Dummy(real=real)
    return out


def _nan_partial(node: Node, active: set[Node], where: np.ndarray) -> bool:
    """Whether a table partial of `node` in a variable input is NaN at its flat elements
    `where` (w · d with d NaN: ∂/∂w = d; D @ w with a NaN in D's row). Reverse and forward mode multiply that NaN
    into the derivative whatever meets it (0 · NaN is NaN, also where np.nansum masks the
    value), so the derivative is NaN there: docs/design.md's NaN-ignoring reductions."""
    prim = node.prim
    values = [i.value for i in node.inputs]
    if prim.kind != "elementwise" or prim.partials is None:
        # a product (matmul, einsum, outer, …) with NaN data: the absorbed elements' rows of
        # its Jacobian in the variable, read by its own reverse rule (a one-hot cotangent)
        if not any(i not in active and _nonfinite(i.value) and bool(np.isnan(
                np.asarray(i.value, dtype=complex)).any()) for i in node.inputs):
            return False
        ct = np.zeros(node.shape, dtype=node.dtype)
        ct.reshape(-1)[where] = 1
        with np.errstate(all="ignore"):
            try:
                lin = prim.linearize(values, node.value, node.params,
                                     [i in active for i in node.inputs])
                cts = lin.vjp(ct)
            except Exception:  # noqa: BLE001 - no reverse rule to read: not decided here
                return False
        return any(c is not None and i in active and bool(np.isnan(np.asarray(c)).any())
                   for i, c in zip(node.inputs, cts))
    return any(p is not None and bool(np.any(np.isnan(p)))  # (a partial that cannot be
               for p in _partials_at(node, active, where))  # taken: _passes_on decides)


def _passes_on(node: Node, active: set[Node], where: np.ndarray) -> bool:
    """Whether the table's partials of an element-wise `node` in a variable input are nonzero
    at its flat elements `where` (x − ∞: 1), so that a constant SymPy form lost a derivative; a
    selection that drops the variable (``where`` of a constant condition, maximum(x, ∞)) has
    partial 0 there and loses nothing. Other operations: assumed to pass it on."""
    prim = node.prim
    if prim.kind != "elementwise" or prim.partials is None:
        return True
    # a partial that cannot be taken (None): refuse
    return any(p is None or bool(np.any(p != 0)) for p in _partials_at(node, active, where))


def _partials_at(node: Node, active: set[Node], where: np.ndarray) -> list[Any]:
    """The table's partials of an element-wise `node` in each variable input, at its flat
    elements `where` (None where a rule cannot be taken there)."""
    values = [i.value for i in node.inputs]
    out: list[Any] = []
    with np.errstate(all="ignore"):
        for i, rule in zip(node.inputs, node.prim.partials):
            if i not in active or rule is None:
                continue
            try:
                p = np.broadcast_to(np.asarray(rule(*values, node.value)), node.shape)
            except Exception:  # noqa: BLE001 - a rule that fails at these values
                out.append(None)
                continue
            out.append(p.reshape(-1)[where])
    return out


def check_absorbed(graph: Graph, name: str) -> None:
    """Refuse an operation that SymPy's algebra folds into an infinite or NaN constant: one
    whose operands are a value depending on the inputs and a non-finite constant, and whose
    SymPy form (operands as fresh symbols) is a non-finite number — the variable absorbed
    (x − ∞ is −∞, derivative 0 where it is 1 in the AD engines and JAX). An infinity that
    stays beside the variable (a branch of ``where``: Piecewise((x, x > 0), (−∞, True)),
    heaviside's value at its jump, Min(x, ∞) = x) differentiates as it should. Checked where
    the function's value is not finite (where an absorbed infinity reaches it).

    Where the table's partial in the variable is NaN at an absorbed element (w · d with a NaN
    constant d, whatever the function's value: np.nansum masks it), the derivative is NaN, as
    reverse and forward mode find it and as design.md's NaN-ignoring reductions prescribe: a
    NonDifferentiableError, whose cause SymPy's folding hid (nan · w is nan, so the mask kept
    only constants and the derivative came out 0)."""
    finite = not _nonfinite(graph.output.value)  # an absorbed ∞ that f maps to a finite value
    # (nan_to_num, exp(x − ∞) = 0) has derivative 0 there, as SymPy's: only a NaN partial counts
    active: set[Node] = set(graph.inputs)
    for node in graph.nodes:
        if node.prim is None or not any(i in active for i in node.inputs):
            continue
        active.add(node)
        if not any(i not in active and _nonfinite(i.value) for i in node.inputs):
            continue
        args = [_fresh(i) if i in active else _objects(i.value) for i in node.inputs]
        try:
            out = np.asarray(_apply(node, args), dtype=object).reshape(-1)
        except (TypeError, ValueError):  # no translation: scalar_program names it
            continue
        mask = np.array([isinstance(e, sp.Basic) and not e.free_symbols and e.has(*NONFINITE)
                         for e in out], dtype=bool)
        if mask.any() and _nan_partial(node, active, mask):
            raise NonDifferentiableError(
                f"the symbolic derivative is not finite at this point: {node.prim.name} meets a "
                "differentiated value with a NaN constant (w * d with d NaN), whose derivative "
                "is NaN even where the result masks it (np.nansum), as in every engine: clean "
                "the data first, e.g. np.where(np.isnan(d), 0.0, d)")
        if finite:
            continue
        if mask.any() and _passes_on(node, active, mask):
            lost = out[np.argmax(mask)]
            raise MissingRuleError(
                f"the symbolic engine cannot differentiate {name}: SymPy's algebra absorbs the "
                f"variable of {node.prim.name} into the constant {lost} (an infinite or NaN "
                "number in the function: x - oo is -oo, derivative 0 instead of 1): use "
                "method='reverse' or method='forward'")


def _raised_in_sympy(exc: BaseException) -> bool:
    """Whether `exc` was raised by SymPy's own code (its traceback's last frame)."""
    tb = exc.__traceback__
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    return tb is not None and tb.tb_frame.f_globals.get("__name__", "").startswith("sympy")


class SymbolicEngine(Engine):
    """Exact derivatives from SymPy, derived per trace (once per signature for pure and jit
    functions), then compiled."""

    name = "symbolic"
    nests = False  # answers numbers: an outer tape cannot see through them

    def __init__(self, simplify: bool = True, max_elements: int = MAX_ELEMENTS) -> None:
        super().__init__()
        self.options = {"simplify": simplify, "max_elements": max_elements}
        self.max_elements = max_elements
        self.last: SymbolicDerivative | None = None

    def derive(self, fn: Function, args: Sequence[Any], wrt: Sequence[int], order: int = 1,
               point: bool = True) -> SymbolicDerivative:
        """The symbolic Jacobian (order 1) or Hessian (order 2) of `fn` at the signature of `args`
        (`point`: `args` is the caller's point; False: a stand-in, refused where f branched).
        Its expressions are exact: an operation whose float64 derivatives cannot be trusted at
        `args` (``symbolic_inexact``) is refused where it is evaluated, not here."""
        return self._derived(fn, args, wrt, order, point)[0]

    def _derived(self, fn: Function, args: Sequence[Any], wrt: Sequence[int], order: int = 1,
                 point: bool = True, evaluate: bool = False) -> tuple[SymbolicDerivative, Any]:
        """(:meth:`derive`'s result, f(args) where this call traced f to get it — else None):
        a caller that also needs the value runs f once, not once to trace and once more.
        `evaluate`: the caller evaluates it in float64 at `args` (checked there first)."""
        key = ("symbolic", signature(args), tuple(wrt), order, self.max_elements)
        if fn.reusable and key in fn.cache:
            self.last = deriv = fn.cache[key]
            if not deriv.signed_zeros:  # (a graph without checked operations pays nothing)
                return deriv, None
            # derived at another point: the sign readers (and, where it is evaluated, the
            # operations with untrusted float64 derivatives) are checked at this one, on a
            # replay of the graph here (its values)
            graph = fn.trace(*args, wrt=wrt)
            check_point(graph, order) if evaluate else check_signed_zeros(graph)
            return deriv, graph.output.value
        graph = fn.trace(*args, wrt=wrt)
        if graph.value_dependent and not point:
            raise TracingError(
                f"dk.symbolic({fn.name}) without a point: {fn.name} branched on its input "
                "values while it was traced (an if, max(), a comparison read as a bool, an "
                "index from the values), so its derivative depends on which branch the point "
                "takes and no one expression is f's derivative: give a point, "
                f"dk.symbolic({fn.name}, x0), for the derivative of the branch taken there, or "
                "write the branch with np.where, which becomes a Piecewise")
        check_numbers(graph)
        check_complex(graph)
        check_depth(graph)
        try:
            deriv = self._derive(graph, fn, wrt, order)
        except RecursionError:
            raise MissingRuleError(_too_deep(RECURSION)) from None
        except (AttributeError, TypeError, ValueError) as exc:
            if not _raised_in_sympy(exc):
                raise
            # SymPy cannot take what the program built (a Max or a derivative of truth values:
            # np.max of a mask): a named refusal, not SymPy's traceback
            raise MissingRuleError(
                f"the symbolic engine cannot derive {fn.name} (SymPy: {exc}); it does not "
                "handle every operation on boolean masks: use method='reverse' or "
                "method='forward'") from None
        _sign_check(deriv, graph, fn, wrt)
        if fn.reusable and not graph.value_dependent:
            fn.cache[key] = deriv
        self.last = deriv
        if evaluate and deriv.signed_zeros:
            check_point(graph, order)
        return deriv, graph.output.value

    def _derive(self, graph: Graph, fn: Function, wrt: Sequence[int], order: int
                ) -> SymbolicDerivative:
        prog = scalar_program(graph, fn.inputs, limit=self.max_elements)
        check_absorbed(graph, fn.name)
        wrt_syms = [s for i in wrt for s in prog.input_arrays[i].reshape(-1)]
        outputs = list(prog.output.reshape(-1))
        adjoints: list[tuple[sp.Symbol, sp.Expr]] = []
        rows: list[sp.Expr] = []
        for j, out in enumerate(outputs):  # a Hessian differentiates these again: not strong
            new, grads = accumulate(prog.assignments, out, wrt_syms,
                                    prefix=f"d{j}_" if len(outputs) > 1 else "d_",
                                    constants=prog.constants, real=prog.real,
                                    strong=order == 1)
            adjoints += new
            rows += grads
        shape: tuple[int, ...] = (len(outputs), len(wrt_syms))
        if order == 2:
            if len(outputs) != 1:
                raise MissingRuleError(f"a symbolic Hessian needs a function with a scalar "
                                       f"output; this one has {len(outputs)}: use dk.jacobian")
            base = prog.assignments + adjoints
            second_rows: list[sp.Expr] = []
            for i, g in enumerate(rows):
                new, grads = accumulate(base, g, wrt_syms, prefix=f"h{i}_",
                                        constants=prog.constants, real=prog.real)
                adjoints += new
                base = base + new
                second_rows += grads
            rows, shape = second_rows, (len(wrt_syms), len(wrt_syms))
        deriv = SymbolicDerivative(prog, adjoints, rows, shape, name=fn.name, wrt=wrt_syms,
                                   order=order, complex_output=graph.output.dtype.kind == "c")
        deriv.replacements, deriv.reduced = _cse(deriv.assignments, rows, prog.real)
        compile_program(deriv)
        return deriv

    @staticmethod
    def _flat(args: Sequence[Any]) -> list[Any]:
        """The arguments' elements, in the order of the inputs' symbols (an argument passed as
        given counts as its input node records it: :func:`~diffkit.function.input_value`)."""
        return [v for a in args for v in np.reshape(
            input_value(a) if passed_as_given(a) else np.asarray(a), (-1,))]

    def jacobian(self, fn: Function, args: Sequence[Any], wrt: Sequence[int]) -> tuple[Any, Any]:
        deriv, out = self._derived(fn, args, wrt, evaluate=True)
        if out is None:  # a cached derivative: f itself has not run in this call
            out = fn.evaluate(*args)
        return out, self._audited(fn, args, wrt, lambda: deriv._at(self._flat(args)))

    @staticmethod
    def _audited(fn: Function, args: Sequence[Any], wrt: Sequence[int], evaluate: Any,
                 order: int = 1) -> Any:
        """`evaluate()`, where a strong product that took 0·∞ = 0 must have met a zero that
        holds near the point (relu′ left of 0, a steady mask), not at the point alone
        (sqrt(x)**2 at 0 is 1): the program's products cannot tell, so the reverse engine's
        audit of the same graph decides (:class:`~diffkit.sweeps.FlatAudit`) and names the
        primitive where not. A higher derivative (`order` ≥ 2: the Hessian, derivative(n) at
        a scalar) is audited so where f has a zero that may not hold near the point (a mask
        at its threshold, relu′ at 0, a moving factor 0, a declared kink:
        :func:`~diffkit.sweeps.unflat_zeros`) — where(x > 0, x, 0)**1.5 and relu(x)**1.5 at 0
        have no second derivative — by the reverse engine's derivative of that order. The value stays the symbolic engine's; the audit runs only
        where 0·∞ was met."""
        _STRONG.taken = False
        result = evaluate()
        if getattr(_STRONG, "taken", False):
            _STRONG.taken = False
            from .reverse import ReverseEngine  # (only where 0·∞ was met)

            reverse = ReverseEngine()  # each raises NonDifferentiableError
            if order == 1:
                reverse.jacobian(fn, args, wrt)
            elif _unflat(fn, args, wrt):
                if order == 2:
                    reverse.hessian(fn, args, wrt)
                else:
                    reverse.derivative(fn, args[0], order)
        return result

    def value_and_grad(self, fn: Function, args: Sequence[Any], wrt: Sequence[int]
                       ) -> tuple[Any, tuple[Any, ...]]:
        out, jac = self.jacobian(fn, args, wrt)
        require_scalar(out, "grad")
        return out, split_flat(jac.reshape(-1), [args[i] for i in wrt])

    def hessian(self, fn: Function, args: Sequence[Any], wrt: Sequence[int]) -> Any:
        deriv, out = self._derived(fn, args, wrt, order=2, evaluate=True)
        if out is None:  # a cached derivative: f runs at the point first, as for jacobian —
            fn.evaluate(*args)  # outside its domain the named error, never the program's
            # numbers (log x's −1/x² answered −1 at x = −1 once derived at x = 2)
        return self._audited(fn, args, wrt, lambda: deriv._at(self._flat(args)), order=2)

    def derivative(self, fn: Function, x: Any, n: int) -> Any:
        if n == 0:
            return fn.evaluate(x)
        if size_of(x) != 1:  # at an array: an element-wise f's, element by element (Engine's),
            if n > 1:  # which nests gradients, as SymPy's code does not
                raise MissingRuleError(
                    "symbolic derivative(n) of order n >= 2 at an array x is not taken (the "
                    "symbolic engine does not nest): use method='forward' or 'reverse', or a "
                    "scalar x")
            return super().derivative(fn, x, n)
        graph = fn.trace(x)
        require_scalar(graph.output.value, "derivative")  # one output: _nth reads one
        check_numbers(graph)
        check_complex(graph)
        check_depth(graph)
        try:
            deriv = self._nth(graph, fn, n)
        except RecursionError:
            raise MissingRuleError(_too_deep(RECURSION)) from None
        _sign_check(deriv, graph, fn, [0])
        if deriv.signed_zeros:
            check_point(graph, n)
        self.last = deriv
        # the strong products' audit, as for jacobian (the last derivative's products)
        return self._audited(fn, [x], [0], lambda: deriv._at(self._flat([x])), order=n)

    def _nth(self, graph: Graph, fn: Function, n: int) -> SymbolicDerivative:
        prog = scalar_program(graph, fn.inputs, limit=self.max_elements)
        check_absorbed(graph, fn.name)
        (var,) = prog.inputs
        base, expr, adjoints = list(prog.assignments), prog.output.reshape(-1)[0], []
        for k in range(n):  # strong products in the last derivative only (see accumulate)
            new, (expr,) = accumulate(base, expr, [var], prefix=f"n{k}_",
                                      constants=prog.constants, real=prog.real,
                                      strong=k == n - 1)
            base += new
            adjoints += new
        deriv = SymbolicDerivative(prog, adjoints, [expr], (), name=fn.name, wrt=[var], order=n,
                                   complex_output=graph.output.dtype.kind == "c")
        deriv.replacements, deriv.reduced = _cse(deriv.assignments, [expr], prog.real)
        compile_program(deriv)
        return deriv


def _sign_check(deriv: SymbolicDerivative, graph: Graph, fn: Function, wrt: Sequence[int]
                ) -> None:
    """Where `graph` has an operation that may read the sign of a zero or whose float64
    derivatives may not be trusted somewhere, `deriv` checks each point it is evaluated at
    (:meth:`SymbolicDerivative.__call__`) on a trace of `fn` there, as the engine's own reuse of
    a derivation does; nothing for other graphs at real points (no cost). A derivation for real
    inputs traces f at a complex point too, for the engine's holomorphy check there."""
    deriv.signed_zeros = checks_points(graph)
    shapes = [a.shape for a in deriv.program.input_arrays]

    def trace_at(flat: Sequence[Any]) -> Graph:
        args, k = [], 0
        for shape in shapes:
            part = list(flat[k:k + math.prod(shape)])
            k += len(part)
            args.append(part[0] if not shape else np.reshape(np.asarray(part), shape))
        with np.errstate(all="ignore"):  # values only: the program decides the rest
            return fn.trace(*args, wrt=wrt)

    deriv._trace_at = trace_at


def _cse(assignments: list[tuple[sp.Symbol, sp.Expr]], results: list[sp.Expr], real: bool = True
         ) -> tuple[list[tuple[sp.Symbol, sp.Expr]], list[sp.Expr]]:
    """Common subexpressions across the program's right-hand sides and the results."""
    rhs = [e for _, e in assignments] + list(results)
    taken = {str(s) for s, _ in assignments}
    symbols = (sp.Symbol(f"c{i}", real=real or None) for i in range(10**9) if f"c{i}" not in taken)
    reps, reduced = common_subexpressions(rhs, symbols)
    k = len(assignments)
    # CSE temporaries come first; they only use inputs and earlier program symbols, so interleave
    # them by placing each right after the last assignment it needs.
    program = [(s, reduced[i]) for i, (s, _) in enumerate(assignments)]
    return _schedule(reps, program), reduced[k:]


def common_subexpressions(exprs: Sequence[sp.Expr], symbols: Any
                          ) -> tuple[list[tuple[sp.Symbol, sp.Expr]], list[sp.Expr]]:
    """Each subtree that occurs more than once in `exprs` is computed once, as a temporary.

    Exact repeated subtrees only (SymPy's ``cse`` also looks for common subsets of the arguments
    of sums and products, which costs more than it saves on a program that is already a DAG).
    Trees are rebuilt without evaluation, so the operations are the ones differentiation made.
    Returns (temporaries in dependency order, the expressions in terms of them). Iterative."""
    seen: set[sp.Basic] = set()
    repeated: set[sp.Basic] = set()
    for root in exprs:
        stack = [root]
        while stack:
            e = stack.pop()
            if e.is_Atom:
                continue
            if e in seen:
                if isinstance(e, sp.Expr) and not isinstance(e, sp.Tuple):  # (not a condition)
                    repeated.add(e)
                continue
            seen.add(e)
            stack.extend(e.args)
    temps: list[tuple[sp.Symbol, sp.Expr]] = []
    done: dict[sp.Basic, sp.Basic] = {}

    def rebuilt(e: sp.Basic) -> sp.Basic:
        if e.is_Atom or not e.args:
            return e
        args = [done[a] for a in e.args]
        new = e if all(a is b for a, b in zip(args, e.args)) else _unevaluated(e, args)
        if e in repeated:
            sym = next(symbols)
            temps.append((sym, new))
            new = sym
        return new

    reduced = [bottom_up(e, done, rebuilt) for e in exprs]
    return temps, reduced


def _unevaluated(e: sp.Basic, args: list[sp.Basic]) -> sp.Basic:
    """`e`'s operation on new arguments, without SymPy re-evaluating (reordering, folding) it."""
    try:
        return e.func(*args, evaluate=False)
    except TypeError:
        return e.func(*args)


def _schedule(temps: list[tuple[sp.Symbol, sp.Expr]], program: list[tuple[sp.Symbol, sp.Expr]]
              ) -> list[tuple[sp.Symbol, sp.Expr]]:
    """Merge CSE temporaries into the program so every symbol is defined before it is used."""
    pending = dict(temps)
    defined: set[sp.Symbol] = set()
    out: list[tuple[sp.Symbol, sp.Expr]] = []

    def emit(sym: sp.Symbol) -> None:
        stack = [sym]
        while stack:
            s = stack[-1]
            need = [t for t in pending[s].free_symbols if t in pending and t not in defined]
            if need:
                stack.extend(need)
                continue
            stack.pop()
            if s not in defined:
                defined.add(s)
                out.append((s, pending[s]))

    for sym, e in program:
        for t in e.free_symbols:
            if t in pending and t not in defined:
                emit(t)
        out.append((sym, e))
        defined.add(sym)
    for t in pending:
        if t not in defined:
            emit(t)
    return out
