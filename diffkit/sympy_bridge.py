"""From SymPy to the IR: a SymPy expression becomes a pure :class:`~diffkit.function.Function`.

Nothing is evaluated: the expression tree is walked (iteratively) and each SymPy function is mapped
to the primitive whose SymPy translation it is, read off the table.
"""

from __future__ import annotations

import cmath
import math
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import sympy as sp

from .domains import InputDomain, InputFacts
from .errors import MissingRuleError, ParseError
from .expression import Instruction, program_function
from .function import Function
from .primitive import REGISTRY


def _function_map() -> dict[type, tuple[Any, int]]:
    """SymPy function class -> (diffkit op, arity), read off the table's translations."""
    table: dict[type, tuple[Any, int]] = {}
    dummies = sp.symbols("d0:4", real=True)
    translations = []
    # differentiable primitives first: SymPy's sign is `sign`, not the refusing `signum`
    for p in sorted(REGISTRY.values(), key=lambda p: not p.differentiable):
        if p.kind != "elementwise" or not 0 < p.nargs <= len(dummies):
            continue
        try:
            e = p.to_sympy(*dummies[: p.nargs])
        except (TypeError, NotImplementedError):
            continue
        translations.append((p, e))
        if isinstance(e, sp.Function | sp.Rel) and tuple(e.args) == tuple(dummies[: p.nargs]) or (
                type(e) in (sp.Max, sp.Min) and set(e.args) == set(dummies[: p.nargs])):
            table.setdefault(type(e), (p, p.nargs))  # comparisons too: Piecewise's conditions
        elif (p.nargs == 1 and isinstance(e, sp.Function) and len(e.args) == 1
              and (e.args[0] / dummies[0]).is_number and e.args[0] != 0):
            # f(k·x) (sinc: SymPy's sin(u)/u at u = πx): SymPy's f(u) is the primitive at u/k
            table.setdefault(type(e), (p, 1))
            _SCALED.setdefault(type(e), e.args[0] / dummies[0])
    for cls_name, (prim, n) in _SYMPY_SPELLINGS.items():
        table.setdefault(getattr(sp, cls_name), (REGISTRY[prim], n))
    for cls in list(table):  # SymPy's own class of a translation that subclasses it
        for base in cls.__bases__:
            if base.__module__.startswith("sympy.") and base.__name__ in _SAME_AS_PARENT:
                table.setdefault(base, table[cls])
                if cls in _SCALED:
                    _SCALED.setdefault(base, _SCALED[cls])
    for _p, e in translations:  # diffkit's own subclass of a SymPy class the table maps
        # (digamma's translation, polygamma(0, x), is diffkit's polygamma): as its parent
        base = next((b for b in type(e).__mro__[1:] if b in table), None)
        if type(e) not in table and base is not None and base.__module__.startswith("sympy."):
            table[type(e)] = table[base]
            if base in _SCALED:
                _SCALED[type(e)] = _SCALED[base]
    return table


#: SymPy classes whose argument is the primitive's scaled (f(k·x) translates the primitive at
#: x): class -> k, the argument divided by it in the walk
_SCALED: dict[type, Any] = {}


#: SymPy classes that the table's translations subclass and that mean the same as the primitive on
#: its whole real domain, so SymPy's own ``erf(x)``, ``gamma(x)``, ``Mod(x, y)``, … are accepted.
#: Not loggamma: SymPy's is complex below 0, where gammaln is log|Γ| (gammaln's translation is a
#: SymPy function of its own, which maps back to gammaln). expm1 and log1p are
#: ``sympy.codegen.cfunctions``'.
_SAME_AS_PARENT = frozenset({"erf", "erfc", "erfinv", "erfcinv", "gamma", "beta", "besselj",
                             "bessely", "besseli", "besselk", "floor", "ceiling", "Mod", "tanh",
                             "expm1", "log1p", "sinc"})


#: SymPy's own classes for primitives whose translation is spelled otherwise, meaning the same on
#: the real line: Heaviside(x, H0) is NumPy's heaviside(x, h0) (0 below, 1 above, H0 at 0);
#: polygamma(n, x) (digamma(x) is polygamma(0, x)) takes its arguments in SciPy's order
_SYMPY_SPELLINGS = {"Heaviside": ("heaviside", 2), "polygamma": ("polygamma", 2)}

#: SymPy functions with an identity in primitives the table has (reciprocal trigonometric and
#: hyperbolic functions), translated as SymPy's ``1/cos(a)``, … (a power -1) in the walk
_RECIPROCALS = {"sec": "cos", "csc": "sin", "cot": "tan", "sech": "cosh", "csch": "sinh",
                "coth": "tanh"}
_RECIPROCAL_CLASSES = {getattr(sp, k): getattr(sp, v) for k, v in _RECIPROCALS.items()}

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
    if not isinstance(name, str) or not name.isprintable():  # as dk.parse checks it
        raise ParseError("from_sympy: the function name must be a printable string (no "
                         f"newlines), got {repr(name)[:40]}")
    if isinstance(expr, int | float):
        expr = sp.Float(expr)
    if isinstance(expr, sp.MatrixBase | sp.MatrixExpr):
        raise ParseError(f"from_sympy: a matrix ({type(expr).__name__}) is no scalar expression: "
                         "translate its entries one by one (dk.from_sympy(M[i, j])), or write "
                         "the function with diffkit operations on arrays")
    if not isinstance(expr, sp.Basic):
        raise TypeError(f"from_sympy takes a SymPy expression, got {type(expr).__name__}")
    try:
        free, constant, _keep = _survey(expr)  # _keep: the nodes, so that their ids stay valid
    except RecursionError:  # SymPy's own queries on a deep node
        raise _too_deep() from None
    symbols = _inputs(inputs, free) if inputs is not None else sorted(free, key=lambda s: s.name)
    missing = free - set(symbols)
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
    try:
        code = _translate(expr, index, constant)
    except RecursionError:  # SymPy's own queries on a deep constant (its value, is_real)
        raise _too_deep() from None
    made = program_function([s.name for s in symbols], code, name=name,
                            text=_text(expr, len(_keep)))
    made.sympy_symbols = tuple(symbols)  # to_sympy gives the expression back in them
    facts = [_facts(s) for s in symbols]
    if any(f is not None for f in facts):
        made.domain = InputDomain(facts)
    return made


#: (SymPy's sign fact, the signs it allows when true) among −, 0, +
_SIGN_FACTS = (("zero", "0"), ("extended_positive", "+"), ("extended_negative", "-"),
               ("extended_nonnegative", "0+"), ("extended_nonpositive", "-0"),
               ("extended_nonzero", "-+"))


def _facts(s: Any) -> InputFacts | None:
    """What SymPy assumes of symbol `s` (its ``is_*`` facts, SymPy's own deductions included),
    as tests on a real value; None where it assumes nothing a value can break. An assumption no
    float can meet (irrational, imaginary, infinite) is a ParseError naming it."""
    given = {k: v for k, v in (getattr(s, "_assumptions_orig", None) or {}).items()
             if k != "commutative"}
    if not given:
        return None
    declared = ", ".join(k if v else f"{k}=False" for k, v in sorted(given.items()))
    signs = set("-0+")
    for fact, allowed in _SIGN_FACTS:
        value = getattr(s, "is_" + fact)
        if value is True:
            signs &= set(allowed)
        elif value is False:
            signs -= set(allowed)
    whole = []
    for fact, label in (("even", "even"), ("odd", "odd"), ("prime", "prime"),
                        ("composite", "composite")):
        if getattr(s, "is_" + fact):
            whole.append(label)
    if not whole and s.is_integer:
        whole.append("an integer")
    if s.is_noninteger or s.is_integer is False and s.is_extended_real:
        whole.append("not an integer")
    if (not signs or s.is_extended_real is False or s.is_infinite or s.is_irrational
            or s.is_transcendental):
        raise ParseError(f"from_sympy: {s} was declared {declared} in SymPy, which no finite "
                         "real float is: diffkit's inputs are real numbers; build the "
                         "expression from a symbol without that assumption")
    sign = None if signs == set("-0+") else frozenset(signs)
    finite, real = bool(s.is_finite), bool(s.is_extended_real)
    if sign is None and not whole and not finite and not real:
        return None
    return InputFacts(declared, sign, whole, finite, real)


def _too_deep() -> MissingRuleError:
    return MissingRuleError("from_sympy: the expression is too deep for SymPy to evaluate a "
                            "part of it (Python's recursion limit was reached inside SymPy): "
                            "write it as text for dk.parse, or as a Python function")


def _inputs(inputs: Any, free: set[Any]) -> list[Any]:
    """The inputs given: SymPy symbols or their names (a name means the expression's symbol of
    that name, else a new symbol); a str or anything else is a ParseError."""
    if isinstance(inputs, str) or not isinstance(inputs, Iterable):
        raise ParseError(f"from_sympy: inputs must be a list of symbols or names, got "
                         f"{type(inputs).__name__} {repr(inputs)[:40]} (a str is not split into "
                         "names: pass a list)")
    by_name = {str(s): s for s in free}  # a name given as text means that symbol
    out = []
    for s in inputs:
        if isinstance(s, str):
            s = by_name.get(s, sp.Symbol(s))
        elif not isinstance(s, sp.Symbol):
            raise ParseError(f"from_sympy: an input must be a SymPy Symbol or its name, got "
                             f"{type(s).__name__} {repr(s)[:40]}")
        out.append(s)
    return out


#: SymPy objects that are no function of their symbols' values but an operation left undone
_UNEVALUATED = ("Derivative", "Integral", "Sum", "Product", "Limit", "Subs")


def _survey(expr: Any) -> tuple[set[Any], dict[int, bool], list[Any]]:
    """The expression's free symbols and, for every node (by id), whether it is a number (SymPy's
    ``is_number``), found in one iterative bottom-up walk: SymPy's own ``free_symbols`` and
    ``is_number`` recurse over the depth (a RecursionError at about 200 nested functions) and,
    asked at every node, cost O(n²). Unevaluated operations (an Integral, a Derivative, …),
    matrices and other objects that are no expression are refused by name."""
    default = sp.Expr.is_number
    free: set[Any] = set()
    constant: dict[int, bool] = {}
    keep: list[Any] = []  # ids are only unique while their objects live
    stack: list[tuple[Any, bool]] = [(expr, False)]
    while stack:
        e, done = stack.pop()
        if id(e) in constant:
            continue
        if not done:
            _refuse(e)
            if e.args:
                stack.append((e, True))
                stack += [(a, False) for a in e.args if id(a) not in constant]
                continue
            if isinstance(e, sp.Symbol):
                free.add(e)
        keep.append(e)
        if type(e).is_number is default:  # SymPy's rule: every argument is a number
            constant[id(e)] = all(constant[id(a)] for a in e.args)
        else:  # a class with its own rule (a number, a symbol, an undefined function)
            constant[id(e)] = bool(e.is_number)
    return free, constant, keep


def _refuse(e: Any) -> None:
    """ParseError for a node that is no function of its symbols' values."""
    kind = type(e).__name__
    if isinstance(e, sp.MatrixBase | sp.MatrixExpr):
        raise ParseError(f"from_sympy: the expression holds a matrix ({kind}), which is no scalar: "
                         "translate its entries one by one")
    for undone in _UNEVALUATED:
        if isinstance(e, getattr(sp, undone)):
            raise ParseError(f"from_sympy: an unevaluated {undone} ({_short(e)}) is an operation "
                             f"SymPy has not done: call .doit() first (or sp.diff / sp.integrate "
                             "/ sp.summation), then translate the result")
    if isinstance(e, sp.Lambda | sp.Set | sp.Order):
        raise ParseError(f"from_sympy: a {kind} is no expression diffkit translates")


def _short(e: Any) -> str:
    try:
        text = str(e)
    except RecursionError:
        return type(e).__name__ + "(…)"
    return text if len(text) <= 60 else text[:57] + "..."


#: above this many nodes the text is printed in the expression's own order: SymPy's ordering of
#: terms (str) costs seconds for a few thousand terms
_ORDERED_TEXT_NODES = 2000


def _text(expr: Any, nodes: int) -> str:
    """The expression as SymPy prints it, or, where printing recursed too deep, its top-level
    operation with the rest elided (``sin(…)``): the text is for listings and messages only."""
    try:
        return str(expr) if nodes <= _ORDERED_TEXT_NODES else sp.sstr(expr, order="none")
    except RecursionError:
        return f"{type(expr).__name__}(…)"


def _translate(expr: Any, index: dict[Any, int], constant: dict[int, bool]) -> list[Instruction]:
    """The postfix code of `expr` (an iterative walk: any depth)."""
    code: list[Instruction] = []
    stack: list[tuple[Any, bool]] = [(expr, False)]
    while stack:
        e, done = stack.pop()
        if done:
            code += _sympy_calls(e)
            continue
        if isinstance(e, sp.Symbol) and e in index:
            code.append(("input", index[e]))
            continue
        number = constant.get(id(e))
        if number is None:  # a Piecewise made for the walk: SymPy's own answer (False at once)
            number = e.is_number
        if number:  # a constant: 2, pi, sqrt(2), I, 2 + 3*I
            code.append(("const", _constant(e)))
        else:
            args = _sympy_args(e)
            stack.append((e, True))
            stack += [(a, False) for a in reversed(args)]
    return code


def _constant(e: Any) -> Any:
    """A constant subexpression's value: a float, or a complex where it has an imaginary part."""
    try:
        z = complex(e)
        # is_real is None where SymPy cannot decide (besselj(0, 2), erfinv(1/2)):
        # a constant whose value has no imaginary part is real
        value = z.real if e.is_real or (e.is_real is None and z.imag == 0) else z
    except (TypeError, ValueError):
        value = math.nan
    if not cmath.isfinite(value):  # oo, zoo, nan, 10**400: never a silent inf or nan
        raise ParseError(f"from_sympy: {_short(e)} is not a finite number")
    if value == 0 and e.is_zero is not True:  # 10**-330, exp(-800): never a silent 0
        shown = str(e) if len(str(e)) <= 40 else f"≈ {sp.N(e, 6)}"
        raise ParseError(f"from_sympy: the constant {shown} is too small for a float: it "
                         "would be 0 (the smallest is about 4.9e-324)")
    return value


def _sympy_args(e: Any) -> tuple[Any, ...]:
    if isinstance(e, sp.Pow) and e.exp == sp.Rational(1, 2):
        return (e.base,)
    if isinstance(e, sp.Piecewise):  # the first branch whose condition holds: nested wheres
        return _piecewise_args(e)
    scale = _SCALED.get(type(e))
    if scale is not None:  # sinc(u) is the primitive at u/π (π·x/π is x: SymPy cancels it)
        return (e.args[0] / scale,)
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


def _sympy_calls(e: Any) -> list[Instruction]:
    """The instructions of node `e`, its arguments computed: sec(a) is 1/cos(a) (as SymPy's
    ``1/cos(a)``, a power -1), …; every other node one call."""
    base = _RECIPROCAL_CLASSES.get(type(e))
    inner = _SYMPY_FUNCTIONS.get(base) if base is not None and _SYMPY_FUNCTIONS else None
    if inner is not None and len(e.args) == 1:
        return [("call", inner[0], 1), ("const", -1.0), ("call", REGISTRY["pow"], 2)]
    return [_sympy_call(e)]


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
        if n > 2:  # a pairwise fold would split a tie unevenly (¼, ¼, ½)
            return ("call", _extreme(isinstance(e, sp.Max)), n)
        return ("call", REGISTRY["maximum" if isinstance(e, sp.Max) else "minimum"], n)
    entry = _SYMPY_FUNCTIONS.get(type(e)) if _SYMPY_FUNCTIONS else None
    if entry is None or entry[1] != n:
        raise MissingRuleError(f"from_sympy: no diffkit primitive for the SymPy function {type(e).__name__!r}")
    return ("call", entry[0], n)


def _extreme(largest: bool) -> Any:
    """Max(a₁, …, aₙ) (Min) of n ≥ 3 arguments as the table's amax (amin) over the arguments
    stacked (broadcast to one shape), which shares a tie equally among the tied arguments,
    as np.max does: ∂/∂aᵢ = [aᵢ = m]/#{j: aⱼ = m}."""
    reduce = np.max if largest else np.min

    def extreme(*args: Any) -> Any:
        shape = np.broadcast_shapes(*(np.shape(a) for a in args))
        return reduce(np.stack([np.broadcast_to(a, shape) for a in args]), axis=0)

    extreme.__name__ = "amax" if largest else "amin"
    return extreme


def _fold(op: Any) -> Any:
    def folded(*args: Any) -> Any:
        acc = args[0]
        for a in args[1:]:
            acc = op(acc, a)
        return acc

    folded.__name__ = getattr(op, "name", "op")
    return folded
