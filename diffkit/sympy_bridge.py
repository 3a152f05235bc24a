"""From SymPy to the IR: a SymPy expression becomes a pure :class:`~diffkit.function.Function`.

Nothing is evaluated: the expression tree is walked (iteratively) and each SymPy function is mapped
to the primitive whose SymPy translation it is, read off the table.
"""

from __future__ import annotations

import cmath
import math
from collections.abc import Sequence
from typing import Any

import sympy as sp

from .errors import MissingRuleError, ParseError
from .expression import Instruction, program_function
from .function import Function
from .primitive import REGISTRY


def _function_map() -> dict[type, tuple[Any, int]]:
    """SymPy function class -> (diffkit op, arity), read off the table's translations."""
    table: dict[type, tuple[Any, int]] = {}
    dummies = sp.symbols("d0:3", real=True)
    # differentiable primitives first: SymPy's sign is `sign`, not the refusing `signum`
    for p in sorted(REGISTRY.values(), key=lambda p: not p.differentiable):
        if p.kind != "elementwise" or p.nargs > 2:
            continue
        try:
            e = p.to_sympy(*dummies[: p.nargs])
        except (TypeError, NotImplementedError):
            continue
        if isinstance(e, sp.Function | sp.Rel) and tuple(e.args) == tuple(dummies[: p.nargs]) or (
                type(e) in (sp.Max, sp.Min) and set(e.args) == set(dummies[: p.nargs])):
            table.setdefault(type(e), (p, p.nargs))  # comparisons too: Piecewise's conditions
    for cls_name, (prim, n) in _SYMPY_SPELLINGS.items():
        table.setdefault(getattr(sp, cls_name), (REGISTRY[prim], n))
    for cls in list(table):  # SymPy's own class of a translation that subclasses it
        for base in cls.__bases__:
            if base.__module__.startswith("sympy.") and base.__name__ in _SAME_AS_PARENT:
                table.setdefault(base, table[cls])
    return table


#: SymPy classes that the table's translations subclass and that mean the same as the primitive on
#: its whole real domain, so SymPy's own ``erf(x)``, ``gamma(x)``, ``Mod(x, y)``, … are accepted.
#: Not loggamma: SymPy's is complex below 0, where gammaln is log|Γ|. expm1 and log1p are
#: ``sympy.codegen.cfunctions``'.
_SAME_AS_PARENT = frozenset({"erf", "erfc", "erfinv", "erfcinv", "gamma", "beta", "besselj",
                             "bessely", "besseli", "besselk", "floor", "ceiling", "Mod", "tanh",
                             "expm1", "log1p"})


#: SymPy's own classes for primitives whose translation is spelled otherwise, meaning the same on
#: the real line: Heaviside(x, H0) is NumPy's heaviside(x, h0) (0 below, 1 above, H0 at 0);
#: polygamma(n, x) (digamma(x) is polygamma(0, x)) takes its arguments in SciPy's order
_SYMPY_SPELLINGS = {"Heaviside": ("heaviside", 2), "polygamma": ("polygamma", 2)}

#: SymPy functions with an identity in primitives the table has (reciprocal trigonometric and
#: hyperbolic functions), rewritten before the walk
_RECIPROCALS = {"sec": "cos", "csc": "sin", "cot": "tan", "sech": "cosh", "csch": "sinh",
                "coth": "tanh"}

#: SymPy's logical connectives: the table's logical primitives, folded over their arguments
_CONNECTIVES = {"And": "logical_and", "Or": "logical_or"}

_SYMPY_FUNCTIONS: dict[type, tuple[Any, int]] | None = None


def _assumed(symbol: Any) -> str:
    """A symbol's assumptions as they were given (``positive=True``), or 'none'."""
    given = getattr(symbol, "_assumptions_orig", None) or {}
    return ", ".join(f"{k}={v}" for k, v in sorted(given.items())) or "none"


def from_sympy(expr: Any, inputs: Sequence[Any] | None = None, name: str = "f") -> Function:
    """A :class:`Function` from a SymPy expression (inputs: its symbols sorted by name by default).

    ``Piecewise`` becomes nested ``where``s (the first branch whose condition holds; a last
    ``(expr, True)`` branch is required). As NumPy's ``where``, every branch is computed at the
    point: a branch outside its domain there (``log(x)`` for ``x > 0`` at x = −1) is a
    DomainError, never a value SymPy would not give.

    Example:
        >>> import sympy as sp, diffkit as dk
        >>> x, y = sp.symbols("x y")
        >>> f = dk.from_sympy(x**2 * y + y + 2)
        >>> f.inputs, dk.grad(f)(3.0, 4.0)
        (('x', 'y'), (24.0, 10.0))
    """
    global _SYMPY_FUNCTIONS
    if _SYMPY_FUNCTIONS is None:
        _SYMPY_FUNCTIONS = _function_map()
    if isinstance(expr, str):  # never sympify text: that would evaluate it
        raise ParseError("from_sympy takes a SymPy expression; use dk.parse for text")
    if isinstance(expr, bool):  # sp.Float(True) reads the text 'true'
        raise TypeError("from_sympy takes a SymPy expression, got a bool")
    if isinstance(expr, int | float):
        expr = sp.Float(expr)
    if not isinstance(expr, sp.Basic):
        raise TypeError(f"from_sympy takes a SymPy expression, got {type(expr).__name__}")
    symbols = list(inputs) if inputs is not None else sorted(expr.free_symbols, key=lambda s: s.name)
    by_name = {str(s): s for s in expr.free_symbols}  # a name given as text means that symbol
    symbols = [by_name.get(s, sp.Symbol(s)) if isinstance(s, str) else s for s in symbols]
    missing = expr.free_symbols - set(symbols)
    if missing:
        given = {str(s): s for s in symbols}
        twins = [f"{m} (the expression's: {_assumed(m)}; the input's: {_assumed(given[str(m)])})"
                 for m in sorted(missing, key=str) if str(m) in given]
        hint = ("; a same-named symbol with other assumptions is another symbol: "
                + "; ".join(twins) + " — pass the expression's own symbol, or its name as text"
                if twins else "")
        raise ParseError(f"from_sympy: symbol(s) {sorted(map(str, missing))} are not among the "
                         f"inputs{hint}")
    index = {s: i for i, s in enumerate(symbols)}
    for fname, base in _RECIPROCALS.items():  # sec(x) = 1/cos(x), …
        cls, inner = getattr(sp, fname), getattr(sp, base)
        expr = expr.replace(cls, lambda a, inner=inner: 1 / inner(a))
    code: list[Instruction] = []
    stack: list[tuple[Any, bool]] = [(expr, False)]
    while stack:
        e, done = stack.pop()
        if done:
            code.append(_sympy_call(e))
            continue
        if e in index:
            code.append(("input", index[e]))
        elif e.is_number:  # a constant: 2, pi, sqrt(2), I, 2 + 3*I
            try:
                z = complex(e)
                # is_real is None where SymPy cannot decide (besselj(0, 2), erfinv(1/2)):
                # a constant whose value has no imaginary part is real
                value = z.real if e.is_real or (e.is_real is None and z.imag == 0) else z
            except (TypeError, ValueError):
                value = math.nan
            if not cmath.isfinite(value):  # oo, zoo, nan, 10**400: never a silent inf or nan
                raise ParseError(f"from_sympy: {e} is not a finite number")
            if value == 0 and e.is_zero is not True:  # 10**-330, exp(-800): never a silent 0
                shown = str(e) if len(str(e)) <= 40 else f"≈ {sp.N(e, 6)}"
                raise ParseError(f"from_sympy: the constant {shown} is too small for a float: it "
                                 "would be 0 (the smallest is about 4.9e-324)")
            code.append(("const", value))
        else:
            args = _sympy_args(e)
            stack.append((e, True))
            stack += [(a, False) for a in reversed(args)]
    return program_function([s.name for s in symbols], code, name=name, text=str(expr))


def _sympy_args(e: Any) -> tuple[Any, ...]:
    if isinstance(e, sp.Pow) and e.exp == sp.Rational(1, 2):
        return (e.base,)
    if isinstance(e, sp.Piecewise):  # the first branch whose condition holds: nested wheres
        return _piecewise_args(e)
    return tuple(e.args)


def _piecewise_args(e: Any) -> tuple[Any, Any, Any]:
    """Piecewise((a, c), rest…) as ``where(c, a, Piecewise(rest…))``: (c, a, the rest), the
    last branch's condition being true. Without one (no ``(b, True)`` branch) SymPy's value is
    nan where no condition holds: refused, as a nan constant is."""
    (value, cond), *rest = e.args
    if cond == sp.true:
        raise ParseError(f"from_sympy: {e} has a branch with condition True before its last")
    if not rest:
        raise ParseError(f"from_sympy: {e} has no branch for where no condition holds (SymPy "
                         "gives nan there): add a last branch (expr, True)")
    if len(rest) == 1 and rest[0][1] == sp.true:
        return (cond, value, rest[0][0])
    return (cond, value, sp.Piecewise(*rest, evaluate=False))


def _sympy_call(e: Any) -> Instruction:
    n = len(_sympy_args(e))
    if isinstance(e, sp.Add):
        return ("call", _fold(REGISTRY["add"]), n)
    if isinstance(e, sp.Mul):
        return ("call", _fold(REGISTRY["mul"]), n)
    if isinstance(e, sp.Pow):
        if e.exp == sp.Rational(1, 2):
            return ("call", REGISTRY["sqrt"], 1)
        return ("call", REGISTRY["pow"], 2)
    if isinstance(e, sp.Piecewise):
        return ("call", REGISTRY["where"], 3)
    if type(e).__name__ in _CONNECTIVES and isinstance(e, sp.And | sp.Or):
        return ("call", _fold(REGISTRY[_CONNECTIVES[type(e).__name__]]), n)
    if isinstance(e, sp.Not):
        return ("call", REGISTRY["logical_not"], 1)
    if isinstance(e, sp.Max | sp.Min):
        return ("call", _fold(REGISTRY["maximum" if isinstance(e, sp.Max) else "minimum"]), n)
    entry = _SYMPY_FUNCTIONS.get(type(e)) if _SYMPY_FUNCTIONS else None
    if entry is None or entry[1] != n:
        raise MissingRuleError(f"from_sympy: no diffkit primitive for the SymPy function {type(e).__name__!r}")
    return ("call", entry[0], n)


def _fold(op: Any) -> Any:
    def folded(*args: Any) -> Any:
        acc = args[0]
        for a in args[1:]:
            acc = op(acc, a)
        return acc

    folded.__name__ = getattr(op, "name", "op")
    return folded
