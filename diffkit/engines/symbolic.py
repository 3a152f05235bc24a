"""Symbolic differentiation through SymPy, over the DAG so that expressions do not swell.

The graph becomes a scalar program (one SymPy symbol per intermediate element, see
:mod:`diffkit.sympy_bridge`). Derivatives are accumulated backward over that program, with SymPy
differentiating each assignment locally (``sympy.diff`` of the primitive's translation, so this
engine is independent of the table's own derivative rules). The result is again a program
(primal + adjoint assignments), tightened with ``sympy.cse`` and compiled to Python source. The fully
substituted and simplified expressions are available when they are small enough to be useful.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import sympy as sp
from sympy.printing.pycode import PythonCodePrinter

from ..errors import MissingRuleError, NonDifferentiableError
from ..function import Function
from ..sympy_bridge import MAX_ELEMENTS, ScalarProgram, scalar_program
from .base import Engine, require_scalar, size_of, split_flat

#: substituted expressions above this many operations are not simplified (nor shown by default)
SIMPLIFY_LIMIT = 400


class NonZero(sp.Function):
    """x where x ≠ 0, else 1: ``ln(NonZero(x))`` is the table's safe logarithm in ∂(x**y)/∂y, and
    its derivative (0 at x = 0) never divides by zero, even after CSE hoists it out of a branch."""

    nargs = 1

    @classmethod
    def eval(cls, x: sp.Expr) -> sp.Expr | None:
        if x.is_zero:
            return sp.S.One
        if x.is_zero is False:
            return x
        return None

    def fdiff(self, argindex: int = 1) -> sp.Expr:
        return sp.Piecewise((0, sp.Eq(self.args[0], 0)), (1, True))


class _Pow(sp.Function):
    """x**y while differentiating: the power rule as y·xʸ⁻¹ (SymPy's y·xʸ/x cannot be evaluated at
    x = 0), and ∂(x**y)/∂y = xʸ·ln x taken as 0 where x = 0 (the table's convention)."""

    nargs = 2

    def fdiff(self, argindex: int = 1) -> sp.Expr:
        base, exp = self.args
        if argindex == 1:
            return exp * _Pow(base, exp - 1)
        return _Pow(base, exp) * sp.log(NonZero(base))


def local_diff(expr: sp.Expr, var: sp.Symbol) -> sp.Expr:
    """∂expr/∂var with diffkit's conventions.

    * powers differentiate as :class:`_Pow` says (also inside products, for second derivatives);
    * derivatives of sign and of step functions (DiracDelta) are 0, as in the AD engines;
    * a comparison (a Boolean) is a constant.
    """
    if isinstance(expr, sp.logic.boolalg.Boolean) and not isinstance(expr, sp.Expr):
        return sp.S.Zero  # (a Symbol is both an Expr and a Boolean)
    if expr.has(sp.Pow):
        d = sp.diff(expr.replace(sp.Pow, _Pow), var).replace(_Pow, sp.Pow)
    else:
        d = sp.diff(expr, var)
    if d.has(sp.DiracDelta):
        d = d.replace(sp.DiracDelta, lambda *args: sp.S.Zero)
    return d


def accumulate(assignments: Sequence[tuple[sp.Symbol, sp.Expr]], output: sp.Expr,
               wrt: Sequence[sp.Symbol], prefix: str, constants: frozenset[sp.Symbol] = frozenset()
               ) -> tuple[list[tuple[sp.Symbol, sp.Expr]], list[sp.Expr]]:
    """Reverse accumulation over a scalar program: new adjoint assignments and d(output)/d(wrt).

    Symbols in `constants` (outputs of non-differentiable primitives) pass no derivative on.
    """
    wanted = set(wrt)
    depends: set[sp.Symbol] = set(wanted)
    for sym, e in assignments:
        if sym not in constants and e.free_symbols & depends:
            depends.add(sym)
    defined = {s for s, _ in assignments}
    adj: dict[sp.Symbol, list[sp.Expr]] = defaultdict(list)
    new: list[tuple[sp.Symbol, sp.Expr]] = []
    # the output may be an expression rather than one symbol: treat it as a last assignment
    out_sym = sp.Symbol(f"{prefix}out", real=True)
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
            bar = sp.Symbol(f"{prefix}{sym}", real=True)
            new.append((bar, total))
            total = bar
        for t in e.free_symbols & depends:
            d = local_diff(e, t)
            if d != 0:
                adj[t].append(total * d)
    return new, [sp.Add(*adj.get(w, [])) for w in wrt]


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
    source: str = ""
    _compiled: Any = None

    @property
    def assignments(self) -> list[tuple[sp.Symbol, sp.Expr]]:
        return self.program.assignments + self.adjoints

    def expanded(self) -> list[sp.Expr]:
        """The derivatives with every intermediate substituted (can be very large)."""
        expand = ScalarProgram(self.program.inputs, self.program.input_arrays, self.assignments).expand
        return [expand(r) for r in self.results]

    @property
    def expressions(self) -> list[sp.Expr]:
        """Exact derivative expressions: simplified when small, else in terms of the program's symbols."""
        if self.sizes()["tree"] > SIMPLIFY_LIMIT:
            return list(self.results)
        return [sp.simplify(e) for e in self.expanded()]

    def latex(self) -> list[str]:
        return [sp.latex(e) for e in self.expressions]

    def sizes(self) -> dict[str, int]:
        """Expression swell: operations as a tree, in the shared program (DAG), and after CSE."""
        if not hasattr(self, "_sizes"):
            dag = sum(int(sp.count_ops(e)) for _, e in self.assignments) + sum(int(sp.count_ops(r)) for r in self.results)
            after = sum(int(sp.count_ops(e)) for _, e in self.replacements) + sum(int(sp.count_ops(r)) for r in self.reduced)
            self._sizes = {"tree": tree_size(self.assignments, self.results), "dag": dag, "cse": after}
        return self._sizes

    def __repr__(self) -> str:
        shown = self.expressions if self.sizes()["tree"] <= SIMPLIFY_LIMIT else "(large: see .results)"
        return f"<SymbolicDerivative shape={self.shape} {shown}>"

    def __call__(self, flat_inputs: Sequence[float]) -> np.ndarray:
        try:
            values = self._compiled(*flat_inputs)
        except (ZeroDivisionError, ValueError, OverflowError) as exc:
            raise NonDifferentiableError(
                f"the symbolic derivative cannot be evaluated at this point ({exc}): the function is "
                "not differentiable there, or a point is outside a domain (symbolic engine)"
            ) from None
        return np.asarray(values, dtype=float).reshape(self.shape)


class _Printer(PythonCodePrinter):
    """Python source over the math module; piecewise and sign as conditional expressions."""

    def _print_Heaviside(self, e: Any) -> str:
        return self._print(e.rewrite(sp.Piecewise))

    def _print_NonZero(self, e: Any) -> str:
        x = self._print(e.args[0])
        return f"(1.0 if {x} == 0 else {x})"


def compile_program(deriv: SymbolicDerivative, name: str) -> None:
    """Generate Python source for the program and the results, and compile it.

    Only diffkit-made identifiers appear in the source (inputs are renamed a0, a1, …).
    """
    printer = _Printer({"fully_qualified_modules": True})
    rename = {s: sp.Symbol(f"a{i}", real=True) for i, s in enumerate(deriv.program.inputs)}
    lines = [f"def {name}({', '.join(str(rename[s]) for s in deriv.program.inputs)}):"]
    for sym, e in _live(deriv.replacements, deriv.reduced):
        lines.append(f"    {sym} = {printer.doprint(e.xreplace(rename))}")
    outs = ", ".join(printer.doprint(r.xreplace(rename)) for r in deriv.reduced)
    lines.append(f"    return ({outs},)")
    deriv.source = "\n".join(lines) + "\n"
    namespace: dict[str, Any] = {"math": math}
    exec(compile(deriv.source, f"<diffkit symbolic {name}>", "exec"), namespace)  # noqa: S102 - generated code
    deriv._compiled = namespace[name]


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


class SymbolicEngine(Engine):
    """Exact derivatives from SymPy, derived once per function and input shapes, then compiled."""

    name = "symbolic"

    def __init__(self, simplify: bool = True, max_elements: int = MAX_ELEMENTS) -> None:
        super().__init__(simplify=simplify, max_elements=max_elements)
        self.max_elements = max_elements
        self.last: SymbolicDerivative | None = None

    def derive(self, fn: Function, args: Sequence[Any], wrt: Sequence[int], order: int = 1) -> SymbolicDerivative:
        """The symbolic Jacobian (order 1) or Hessian (order 2) of `fn` at the shapes of `args`."""
        graph, _ = fn.graph_at(*args)
        key = ("symbolic", tuple(n.shape for n in graph.inputs), tuple(wrt), order, self.max_elements)
        cached = fn.cache.get(key)
        if cached is not None and not graph.value_dependent:
            self.last = cached
            return cached
        prog = scalar_program(graph, fn.inputs, limit=self.max_elements)
        wrt_syms = [s for i in wrt for s in prog.input_arrays[i].reshape(-1)]
        outputs = list(prog.output.reshape(-1))
        adjoints: list[tuple[sp.Symbol, sp.Expr]] = []
        rows: list[sp.Expr] = []
        for j, out in enumerate(outputs):
            new, grads = accumulate(prog.assignments, out, wrt_syms,
                                    prefix=f"d{j}_" if len(outputs) > 1 else "d_",
                                    constants=prog.constants)
            adjoints += new
            rows += grads
        shape: tuple[int, ...] = (len(outputs), len(wrt_syms))
        if order == 2:
            if len(outputs) != 1:
                raise MissingRuleError("a symbolic Hessian needs a scalar output")
            base = prog.assignments + adjoints
            second_rows: list[sp.Expr] = []
            for i, g in enumerate(rows):
                new, grads = accumulate(base, g, wrt_syms, prefix=f"h{i}_",
                                        constants=prog.constants)
                adjoints += new
                base = base + new
                second_rows += grads
            rows, shape = second_rows, (len(wrt_syms), len(wrt_syms))
        deriv = SymbolicDerivative(prog, adjoints, rows, shape)
        deriv.replacements, deriv.reduced = _cse(deriv.assignments, rows)
        compile_program(deriv, f"d{order}_{_safe(fn.name)}")
        if not graph.value_dependent:
            fn.cache[key] = deriv
        self.last = deriv
        return deriv

    def _flat(self, args: Sequence[Any]) -> list[float]:
        return [float(v) for a in args for v in np.reshape(np.asarray(a, dtype=float), (-1,))]

    def jacobian(self, fn: Function, args: Sequence[Any], wrt: Sequence[int]) -> tuple[Any, Any]:
        deriv = self.derive(fn, args, wrt)
        return fn.evaluate(*args), deriv(self._flat(args))

    def value_and_grad(self, fn: Function, args: Sequence[Any], wrt: Sequence[int],
                       need_value: bool = True) -> tuple[Any, tuple[Any, ...]]:
        out, jac = self.jacobian(fn, args, wrt)
        require_scalar(out, "grad")
        return out, split_flat(jac.reshape(-1), [args[i] for i in wrt])

    def hessian(self, fn: Function, args: Sequence[Any], wrt: Sequence[int]) -> Any:
        return self.derive(fn, args, wrt, order=2)(self._flat(args))

    def derivative(self, fn: Function, x: Any, n: int) -> Any:
        if n == 0:
            return fn.evaluate(x)
        if size_of(x) != 1:
            raise MissingRuleError("symbolic derivative(n) needs a scalar input: use jacobian/hessian")
        graph, _ = fn.graph_at(x)
        prog = scalar_program(graph, fn.inputs, limit=self.max_elements)
        (var,) = prog.inputs
        base, expr, adjoints = list(prog.assignments), prog.output.reshape(-1)[0], []
        for k in range(n):
            new, (expr,) = accumulate(base, expr, [var], prefix=f"n{k}_",
                                      constants=prog.constants)
            base += new
            adjoints += new
        deriv = SymbolicDerivative(prog, adjoints, [expr], ())
        deriv.replacements, deriv.reduced = _cse(deriv.assignments, [expr])
        compile_program(deriv, f"dn_{_safe(fn.name)}")
        self.last = deriv
        return float(deriv(self._flat([x])))


def _cse(assignments: list[tuple[sp.Symbol, sp.Expr]], results: list[sp.Expr]
         ) -> tuple[list[tuple[sp.Symbol, sp.Expr]], list[sp.Expr]]:
    """Common subexpressions across the program's right-hand sides and the results."""
    rhs = [e for _, e in assignments] + list(results)
    taken = {str(s) for s, _ in assignments}
    symbols = (sp.Symbol(f"c{i}", real=True) for i in range(10**9) if f"c{i}" not in taken)
    reps, reduced = sp.cse(rhs, symbols=symbols, order="none")
    k = len(assignments)
    # CSE temporaries come first; they only use inputs and earlier program symbols, so interleave
    # them by placing each right after the last assignment it needs.
    program = [(s, reduced[i]) for i, (s, _) in enumerate(assignments)]
    return _schedule(reps, program), reduced[k:]


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


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() else "_" for c in name) or "f"
