"""A safe parser for math text: Python's ``ast`` with a whitelist, compiled to diffkit operations.

Allowed: numbers, names, ``+ - * / ** ^``, unary minus, parentheses, calls of diffkit's functions by
name (sin, log/ln, sigmoid, relu, maximum/max, …) and the constants pi and e. Nothing the user wrote
is ever evaluated by Python: the syntax tree is checked node by node and translated into a postfix
program of diffkit operations. Anything else raises :class:`~diffkit.errors.ParseError` naming the
offending token and its column.
"""

from __future__ import annotations

import ast
import difflib
import math
import re
import sys
from typing import Any

from .ops import square
from .errors import ParseError
from .expression import Instruction, program_function
from .function import Function
from .primitives import REGISTRY

MAX_LENGTH = 10_000

#: "2x", "x y", "sin x", ")(": products written without *
_IMPLICIT_PRODUCT = re.compile(r"\d[A-Za-z_(]|[\w)]\s+[A-Za-z_(\d]|\)\s*[\w(]")

CONSTANTS = {"pi": math.pi, "e": math.e}

_BINOPS = {ast.Add: "add", ast.Sub: "sub", ast.Mult: "mul", ast.Div: "div", ast.Pow: "pow"}


def _function_table() -> dict[str, tuple[Any, int]]:
    """name -> (operation, number of arguments): every parseable primitive, by its names and
    aliases as the table declares them, plus the composites that read as functions."""
    table: dict[str, tuple[Any, int]] = {}
    for p in REGISTRY.values():
        if p.parseable:
            for name in (p.name, *p.aliases):
                table[name] = (p, p.nargs)
    table["square"] = (square, 1)
    return table


FUNCTIONS = _function_table()

_FORBIDDEN = {
    ast.Attribute: "attribute access", ast.Subscript: "subscripts", ast.Lambda: "lambdas",
    ast.ListComp: "comprehensions", ast.SetComp: "comprehensions", ast.DictComp: "comprehensions",
    ast.GeneratorExp: "generator expressions", ast.List: "lists", ast.Tuple: "tuples",
    ast.Dict: "dicts", ast.Set: "sets", ast.Compare: "comparisons", ast.BoolOp: "boolean operators",
    ast.IfExp: "conditional expressions", ast.NamedExpr: "assignments", ast.Starred: "starred arguments",
    ast.JoinedStr: "f-strings", ast.Await: "await", ast.Yield: "yield", ast.YieldFrom: "yield",
    ast.Slice: "slices",
}


def parse(text: str, inputs: list[str] | None = None, name: str = "f") -> Function:
    """Parse math text into a :class:`~diffkit.function.Function`.

    Args:
        text: e.g. ``"ln(x1) + x1*x2 - sin(x2)"``; ``^`` means power.
        inputs: the input order; default: order of first appearance in the text.
        name: the function's name in listings and messages.

    Example:
        >>> import diffkit as dk
        >>> f = dk.parse("x^2*y + y + 2")
        >>> f.inputs, f(3, 4)
        (('x', 'y'), 42.0)
    """
    if not isinstance(text, str):
        raise ParseError(f"parse needs a string, got {type(text).__name__}")
    if len(text) > MAX_LENGTH:
        raise ParseError(f"expression is {len(text)} characters long; the limit is {MAX_LENGTH}")
    if not text.strip():
        raise ParseError("empty expression")
    source, col_map = _caret_to_pow(text)
    tree = _syntax_tree(source, col_map)
    order, code = _compile(tree.body, col_map)
    if inputs is not None:
        unknown = [n for n in order if n not in inputs]
        if unknown:
            raise ParseError(f"the expression uses {unknown[0]!r}, which is not among inputs {inputs}",
                             token=unknown[0])
        code = [(k, inputs.index(order[v])) if k == "input" else (k, v, *rest)
                for (k, v, *rest) in code]
        order = list(inputs)
    return program_function(order, code, name=name, text=text)


def _caret_to_pow(text: str) -> tuple[str, list[int]]:
    """Replace ^ by ** and remember, for each column of the new text, the original column."""
    out, cols = [], []
    for i, ch in enumerate(text):
        if ch == "^":
            out.append("**")
            cols += [i, i]
        else:
            out.append(ch)
            cols.append(i)
    cols.append(len(text))
    return "".join(out), cols


def _syntax_tree(source: str, col_map: list[int]) -> ast.Expression:
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(max(limit, 4 * MAX_LENGTH))  # long flat sums build deep syntax trees
    try:
        return ast.parse(source.strip() if "\n" in source else source, mode="eval")
    except SyntaxError as exc:
        offset = max((exc.offset or 1) - 1, 0)
        col = col_map[min(offset, len(col_map) - 1)]
        token = source[offset:offset + 1] or "end of text"
        hint = ""
        if _IMPLICIT_PRODUCT.search(source):
            hint = "; write products with * (2*x, x*y, sin(x)*cos(x)): there is no implicit multiplication"
        raise ParseError(f"syntax error: {exc.msg}{hint}", token=token, column=col + 1) from None
    except (RecursionError, MemoryError, ValueError) as exc:
        raise ParseError(f"expression too deeply nested or too large to parse ({type(exc).__name__})") from None
    finally:
        sys.setrecursionlimit(limit)


def _where(node: ast.AST, col_map: list[int]) -> int | None:
    off = getattr(node, "col_offset", None)
    return None if off is None else col_map[min(off, len(col_map) - 1)] + 1


def _token(node: ast.AST) -> str:
    try:
        return ast.unparse(node)[:40]
    except (ValueError, TypeError, AttributeError, RecursionError):  # unparse can fail on odd trees
        return type(node).__name__


def _compile(root: ast.AST, col_map: list[int]) -> tuple[list[str], list[Instruction]]:
    """Check every node against the whitelist and emit postfix code (iteratively)."""
    names: list[str] = []
    code: list[Instruction] = []
    stack: list[tuple[ast.AST, bool]] = [(root, False)]
    while stack:
        node, children_done = stack.pop()
        if isinstance(node, ast.Constant):
            code.append(("const", _number(node, col_map)))
        elif isinstance(node, ast.Name):
            code.append(_name(node, names, col_map))
        elif isinstance(node, ast.BinOp):
            if children_done:
                code.append(("call", REGISTRY[_BINOPS[type(node.op)]], 2))
            else:
                if type(node.op) not in _BINOPS:
                    raise ParseError(f"operator {type(node.op).__name__} is not allowed",
                                     token=_token(node), column=_where(node, col_map))
                stack += [(node, True), (node.right, False), (node.left, False)]
        elif isinstance(node, ast.UnaryOp):
            if not isinstance(node.op, ast.USub | ast.UAdd):
                raise ParseError(f"operator {type(node.op).__name__} is not allowed",
                                 token=_token(node), column=_where(node, col_map))
            if children_done:
                if isinstance(node.op, ast.USub):
                    code.append(("call", REGISTRY["neg"], 1))
            else:
                stack += [(node, True), (node.operand, False)]
        elif isinstance(node, ast.Call):
            if children_done:
                fn, _ = FUNCTIONS[node.func.id]  # type: ignore[attr-defined]
                code.append(("call", fn, len(node.args)))
            else:
                _check_call(node, col_map)
                stack.append((node, True))
                stack += [(a, False) for a in reversed(node.args)]
        else:
            what = _FORBIDDEN.get(type(node), f"{type(node).__name__} expressions")
            raise ParseError(f"{what} are not allowed in math text", token=_token(node),
                             column=_where(node, col_map))
    return names, code


def _number(node: ast.Constant, col_map: list[int]) -> float:
    v = node.value
    if isinstance(v, bool) or not isinstance(v, int | float):
        kind = "strings" if isinstance(v, str) else f"{type(v).__name__} constants"
        raise ParseError(f"{kind} are not allowed in math text", token=repr(v)[:40],
                         column=_where(node, col_map))
    try:
        return float(v)
    except OverflowError:
        return math.inf


def _name(node: ast.Name, names: list[str], col_map: list[int]) -> Instruction:
    ident = node.id
    if ident in CONSTANTS:
        return ("const", CONSTANTS[ident])
    if ident in FUNCTIONS:
        raise ParseError(f"{ident!r} is a function: call it, as in {ident}(x)", token=ident,
                         column=_where(node, col_map))
    if ident.startswith("__"):
        raise ParseError("names starting with '__' are not allowed", token=ident, column=_where(node, col_map))
    if ident not in names:
        names.append(ident)
    return ("input", names.index(ident))


def _check_call(node: ast.Call, col_map: list[int]) -> None:
    col = _where(node, col_map)
    if not isinstance(node.func, ast.Name):
        raise ParseError("only named functions can be called (no attributes or expressions; "
                         "a product needs *, as in (x+1)*(x-1))", token=_token(node.func), column=col)
    fname = node.func.id
    if fname not in FUNCTIONS:
        close = difflib.get_close_matches(fname, FUNCTIONS, n=3, cutoff=0.6)
        if close:
            hint = "; did you mean " + " or ".join(repr(c) for c in close) + "?"
        else:
            hint = f"; known functions: {', '.join(sorted(FUNCTIONS))}"
        raise ParseError(f"unknown function {fname!r}{hint}", token=fname, column=col)
    if node.keywords:
        raise ParseError(f"keyword arguments are not allowed (in the call of {fname})",
                         token=_token(node), column=col)
    _, arity = FUNCTIONS[fname]
    if len(node.args) != arity:
        raise ParseError(f"{fname} takes {arity} argument(s), got {len(node.args)}", token=_token(node),
                         column=col)

