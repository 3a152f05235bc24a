"""Print one primitive application as Python source, from the record's own fields.

``render(prim, ["v1", "a0"], params, scalar)`` uses, in order: the record's scalar code template
where every operand is a scalar (``math.log({0})``), its infix symbol (``v1 * a0``), or its
``impl`` called with a fake array module whose functions and operators write code instead of
computing (``np.log(v1)``), so adding a primitive needs no code template. Impls that branch on their
arguments, or would repeat a subexpression, cannot be printed this way (``NotRenderable``): the
compiler then calls the impl itself.

:func:`render_code` also says whether the expression allocates its result (an operator, a ufunc
or a reduction: a new array) or may return an argument or a view of one (``np.real`` of a real
array *is* that array; an index, ``.T``, ``np.reshape``, any other call): the compiler writes in
place only into arrays the function allocated, and copies a borrowed result it hands out.
"""

from __future__ import annotations

import functools
import inspect
import math
import re
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..primitive import Primitive


class NotRenderable(Exception):
    """An impl looked at its arguments (a branch, an attribute): call it instead of printing it."""


class _Code:
    """Source text standing in for a value while an impl is rendered; operators write code."""

    __slots__ = ("atom", "fresh", "signature", "text", "uses")

    def __init__(self, text: str, atom: bool = True,
                 signature: tuple[tuple[int, ...], np.dtype] | None = None,
                 fresh: bool = False) -> None:
        self.text, self.atom, self.uses = text, atom, 0
        self.signature = signature  # (shape, dtype) of an operand, None for what impls make
        self.fresh = fresh  # a new array (operators, ufuncs, reductions), not maybe a view
        _MADE.append(self)

    def __bool__(self) -> bool:
        raise NotRenderable

    def __getattr__(self, name: str) -> Any:
        raise NotRenderable

    @property
    def T(self) -> _Code:  # NumPy's name for the transpose
        return _Code(f"{_wrap(self)}.T")

    def __getitem__(self, index: Any) -> _Code:
        return _Code(f"{_wrap(self)}[{literal(index, bare=True)}]")

    def __neg__(self) -> _Code:
        return _Code(f"-{_wrap(self)}", atom=False, fresh=True)


def _binary(symbol: str, reflected: bool = False) -> Any:
    def method(self: _Code, other: Any) -> _Code:
        a, b = (other, self) if reflected else (self, other)
        return _Code(f"{_wrap(a)} {symbol} {_wrap(b)}", atom=False, fresh=True)

    return method


for _name, _sym in [("add", "+"), ("sub", "-"), ("mul", "*"), ("truediv", "/"), ("pow", "**"),
                    ("matmul", "@")]:
    setattr(_Code, f"__{_name}__", _binary(_sym))
    setattr(_Code, f"__r{_name}__", _binary(_sym, reflected=True))
for _name, _sym in [("gt", ">"), ("lt", "<"), ("ge", ">="), ("le", "<="), ("eq", "=="),
                    ("ne", "!="), ("and", "&"), ("or", "|")]:
    setattr(_Code, f"__{_name}__", _binary(_sym))


_MADE: list[_Code] = []  # codes made while rendering one impl (to find repeated subexpressions)


def _wrap(v: Any) -> str:
    if isinstance(v, _Code):
        v.uses += 1
        return v.text if v.atom else f"({v.text})"
    text = literal(v)
    return f"({text})" if text.startswith("-") else text


def literal(v: Any, bare: bool = False) -> str:
    """A Python literal for a parameter or a constant (only plain data: numbers, tuples, slices)."""
    if isinstance(v, _Code):
        v.uses += 1
        return v.text
    if isinstance(v, bool | np.bool_) or v is None or v is Ellipsis:
        return repr(v if not isinstance(v, np.bool_) else bool(v))
    if isinstance(v, int | np.integer):
        return repr(int(v))
    if isinstance(v, np.floating) and v.dtype.itemsize > 8:  # a long double: no literal holds
        raise NotRenderable  # it (a Python float rounds it), so it is named, not printed
    if isinstance(v, float | np.floating):
        return repr(float(v)) if math.isfinite(v) else f"float('{float(v)!r}')"
    if isinstance(v, slice):
        if not bare:
            return f"slice({literal(v.start)}, {literal(v.stop)}, {literal(v.step)})"
        start, stop = ("" if p is None else literal(p) for p in (v.start, v.stop))
        return f"{start}:{stop}" + ("" if v.step is None else f":{literal(v.step)}")
    if isinstance(v, tuple | list):
        items = [literal(x, bare) for x in v]
        if bare and isinstance(v, tuple) and items:  # x[()] keeps its parentheses: x[] is no code
            return ", ".join(items) + ("," if len(items) == 1 else "")
        body = ", ".join(items) + ("," if len(items) == 1 and isinstance(v, tuple) else "")
        return f"({body})" if isinstance(v, tuple) else f"[{body}]"
    raise NotRenderable


#: NumPy reductions that are a ufunc's reduce (identical results; the wrapper costs ~2 µs)
_REDUCE = {"sum": "add", "max": "maximum", "amax": "maximum", "min": "minimum",
           "amin": "minimum", "prod": "multiply"}


class _Module:
    """An ``xp`` that writes calls: ``xp.log(x)`` → ``np.log(x)`` (or ``math.log`` for scalars)."""

    def __init__(self, scalar: bool) -> None:
        self.scalar = scalar

    def __getattr__(self, name: str) -> Any:
        def call(*args: Any, **kwargs: Any) -> _Code:
            if self.scalar and name == "where" and len(args) == 3 and not kwargs:
                return _Code(f"{_wrap(args[1])} if {_wrap(args[0])} else {_wrap(args[2])}", False)
            if name == "negative" and len(args) == 1 and not kwargs:
                return -_as_code(args[0])
            if not self.scalar and name == "transpose" and len(args) == 2 and not kwargs and \
                    isinstance(args[0], _Code):
                # np.transpose(x, axes) calls x.transpose(axes): the method, without NumPy's
                # Python wrapper (~1 µs a call)
                return _Code(f"{_wrap(args[0])}.transpose({literal(args[1])})")
            # math's function for an element-wise ufunc only (math.prod is no np.prod: it
            # takes neither axis nor keepdims)
            fn = f"math.{name}" if self.scalar and hasattr(math, name) and isinstance(
                getattr(np, name, None), np.ufunc) else f"np.{name}"
            if not self.scalar and name == "mean" and (text := _mean(args, kwargs)) is not None:
                return _Code(text, atom=False, fresh=True)  # a quotient: not atomic
            if not self.scalar and name in _REDUCE and len(args) == 1 and set(kwargs) <= {
                    "axis", "keepdims"}:
                # np.sum(x, axis=a, keepdims=k) is np.add.reduce(x, axis=a, keepdims=k) (the
                # same call, same dtype rules) without NumPy's Python wrapper: ~2 µs a call
                fn = f"np.{_REDUCE[name]}.reduce"
                kwargs = {"axis": kwargs.get("axis")} | (
                    {"keepdims": True} if kwargs.get("keepdims") else {})
                parts = [literal(args[0]), *(f"{k}={literal(v)}" for k, v in kwargs.items())]
                return _Code(f"{fn}({', '.join(parts)})", fresh=True)
            kwargs = {k: v for k, v in kwargs.items() if not _is_default(name, k, v)}
            parts = [literal(a) for a in args] + [f"{k}={literal(v)}" for k, v in kwargs.items()]
            # a ufunc called without out= writes a new array; any other function may hand
            # back its argument or a view of it (np.real of a real array, np.reshape)
            fresh = not self.scalar and isinstance(getattr(np, name), np.ufunc) and \
                "out" not in kwargs
            return _Code(f"{fn}({', '.join(parts)})", fresh=fresh)

        if not hasattr(np, name):
            raise NotRenderable
        return call


def _mean(args: tuple[Any, ...], kwargs: dict[str, Any]) -> str | None:
    """``np.mean(x, axis, keepdims)`` as the sum it computes divided by the count, for float32,
    float64 and complex operands of known shape (NumPy sums those in their own dtype, then
    divides: the same result, without its Python wrapper's ~3 µs). None for anything else."""
    x = args[0] if len(args) == 1 else None
    if not isinstance(x, _Code) or x.signature is None or set(kwargs) - {"axis", "keepdims"}:
        return None
    shape, dtype = x.signature
    if dtype.name not in ("float32", "float64", "complex64", "complex128"):
        return None  # integers sum in float64, float16 in float32: NumPy's own mean
    axis = kwargs.get("axis")
    axes = range(len(shape)) if axis is None else (axis,) if isinstance(axis, int) else axis
    count = math.prod(shape[a] for a in axes)
    if count == 0:
        return None
    keep = {"keepdims": True} if kwargs.get("keepdims") else {}
    parts = [x.text, *(f"{k}={literal(v)}" for k, v in ({"axis": axis} | keep).items())]
    return f"np.add.reduce({', '.join(parts)}) / {count}"


@functools.cache
def _defaults(name: str) -> dict[str, Any]:
    try:
        sig = inspect.signature(getattr(np, name))
    except (TypeError, ValueError):
        return {}
    return {k: p.default for k, p in sig.parameters.items() if p.default is not p.empty}


def _is_default(name: str, key: str, value: Any) -> bool:
    """Leave out keywords that repeat numpy's default (``axis=None``): the source reads better."""
    default = _defaults(name).get(key, inspect.Parameter.empty)
    return isinstance(value, bool | type(None)) and value is default


def _as_code(v: Any) -> _Code:
    return v if isinstance(v, _Code) else _Code(_wrap(v))


def render(prim: Primitive, args: Sequence[str], params: dict[str, Any], scalar: bool,
           signatures: Sequence[tuple[tuple[int, ...], Any]] | None = None) -> str | None:
    """One primitive application as a Python expression; None if not renderable (or if the
    expression would compute a part of the impl twice). `signatures`: the operands' (shape,
    dtype), where the compiler knows them."""
    made = render_code(prim, args, params, scalar, signatures)
    return None if made is None else made[0]


def render_code(prim: Primitive, args: Sequence[str], params: dict[str, Any], scalar: bool,
                signatures: Sequence[tuple[tuple[int, ...], Any]] | None = None
                ) -> tuple[str, bool, bool | None] | None:
    """:func:`render`'s expression, whether it allocates its result — True only for an operator,
    a ufunc or a reduction applied last (a new array); False where the value may be an argument
    or share its memory (an index, a transpose, ``np.real``, any other call) — and whether it is
    atomic (:func:`atomic`), where the rendering knows it (None: scan the text)."""
    if scalar and prim.scalar is not None and not params and not repeated_operands(prim, args):
        return prim.scalar.format(*args), False, True if _call_form(prim.scalar) else None
    if prim.infix and len(args) == 2 and not params and not (scalar and prim.scalar):
        return f"{_operand(args[0])} {prim.symbol} {_operand(args[1])}", True, False
    if prim.symbol == "-" and len(args) == 1:
        return f"-{_operand(args[0])}", True, False
    _MADE.clear()
    sigs = signatures or [None] * len(args)
    stand_ins = [_Code(a, signature=sig) for a, sig in zip(args, sigs, strict=True)]
    try:
        out = prim.impl(_Module(scalar), *stand_ins, **params)
    except (NotRenderable, TypeError, ValueError, AttributeError):
        return None
    made = _MADE[len(stand_ins):]
    _MADE.clear()
    if not isinstance(out, _Code) or any(c.uses > 1 and c is not out for c in made):
        return None
    return out.text, out.fresh, None if any(out is a for a in stand_ins) else out.atom


def repeated_operands(prim: Primitive, args: Sequence[str]) -> list[int]:
    """The positions of the operands that `prim`'s scalar template writes more than once and
    that are expressions, not names or numbers: written in as they are, each would be computed
    once per mention, so the scalar template is not used for them (the compiler names them
    first: the array impl in its place, ``np.power`` for pow, is another function on floats)."""
    if prim.scalar is None:
        return []
    return [i for i, a in enumerate(args) if prim.scalar.count(f"{{{i}}}") >= 2
            and not (a.isidentifier() or _NUMBER.fullmatch(a))]


def render_rule(rule: Any, args: Sequence[str]) -> str | None:
    """A rule written with Python operators (a record's ``valid``) as an expression on `args`."""
    _MADE.clear()
    try:
        out = rule(*[_Code(a) for a in args])
    except (NotRenderable, TypeError, ValueError, AttributeError):
        return None
    finally:
        _MADE.clear()
    return out.text if isinstance(out, _Code) else None


def _operand(text: str) -> str:
    """An operand of an infix operator: names, plain numbers, calls and parenthesized text as they
    are, others parenthesized."""
    return text if atomic(text) else f"({text})"


#: texts the compiler made atomic itself (parenthesized expressions), known without a scan
KNOWN_ATOMIC: set[str] = set()


@functools.cache
def _call_form(template: str) -> bool:
    """Whether a scalar template (``math.sin({0})``) renders a call for any operands: it is one
    with names as operands and begins with the called name (the operands, balanced text, sit
    inside its parentheses)."""
    return not template.startswith("{") and atomic(template.format(*["x"] * 8)) and \
        "(" in template.split("{", 1)[0]


def atomic(text: str) -> bool:
    """True for source text that binds tighter than any operator: a name, a plain number, a call
    ``math.sin(v1)`` or a parenthesized expression."""
    if text in KNOWN_ATOMIC or text.isidentifier() or _NUMBER.fullmatch(text):
        return True
    head = text.split("(", 1)[0]
    if head and not all(part.isidentifier() for part in head.split(".")):
        return False
    if not text.endswith(")") or "(" not in text:
        return False
    depth = 0
    for i, ch in enumerate(text[len(head):], start=len(head)):
        depth += ch == "("
        depth -= ch == ")"
        if depth == 0 and i != len(text) - 1:
            return False  # the first parenthesis closes before the end: "(a) + (b)"
    return depth == 0


_NUMBER = re.compile(r"\d+(\.\d*)?(e[+-]?\d+)?")
