"""A safe parser for math text: a tokenizer and an operator-precedence parser emitting diffkit ops.

Grammar, loosest binding first: ``+ -`` (left-associative), then ``* /`` (left-associative), then
unary ``+ -``, then ``**`` or ``^`` (right-associative; ``-x**2`` is ``-(x**2)``, ``2**-1`` is
allowed). Operands are numbers (``3``, ``2.5``, ``.5``, ``1e-3``), names (the inputs), the constants
pi (or π) and e (or ℯ, ⅇ), parenthesized expressions and calls of diffkit's functions by name
(sin, log/ln, sigmoid, relu, maximum/max, …). Both stages are loops over explicit stacks, so no input can exhaust the
Python stack, and nothing the user wrote is ever evaluated by Python: the text becomes a postfix
program of diffkit operations. Anything else raises :class:`~diffkit.errors.ParseError` naming the
offending token and its 1-based column.
"""

from __future__ import annotations

import difflib
import keyword
import math
import re
import unicodedata
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from .errors import ParseError
from .expression import Instruction, program_function
from .function import Function
from .primitives import COMPOSITES, REGISTRY  # importing the table fills the registries

MAX_LENGTH = 10_000
#: levels of open parentheses, call arguments, unary signs and pending powers
MAX_DEPTH = 256

#: names of constants; ``ℯ`` and ``ⅇ`` are ``e`` after NFKC normalization, which names go through
#: (another spelling that folds into a constant's name is refused: :data:`CONSTANT_SPELLINGS`)
CONSTANTS = {"pi": math.pi, "π": math.pi, "e": math.e}



def _function_table() -> dict[str, tuple[Any, int]]:
    """name -> (operation, number of arguments): every parseable primitive and composite, under its
    name and the aliases its record declares."""
    table: dict[str, tuple[Any, int]] = {}
    for p in (*REGISTRY.values(), *COMPOSITES.values()):
        if p.parseable and p.nargs:
            for name in (p.name, *p.aliases):
                table[name] = (p, p.nargs)
    return table


_TABLE: tuple[int, dict[str, tuple[Any, int]]] = (-1, {})


def functions() -> dict[str, tuple[Any, int]]:
    """The parseable names now: rebuilt when a record has been declared since (records are never
    removed or replaced, so the number of records identifies the table's content)."""
    global _TABLE
    size = len(REGISTRY) + len(COMPOSITES)
    if _TABLE[0] != size:
        _TABLE = (size, _function_table())
    return _TABLE[1]


FUNCTIONS = functions()  # the table at import (kept for callers that read it; see functions())

#: a number of math text (no sign: unary minus is an operator); the CLI reads --at with it too
NUMBER = re.compile(r"(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_OPERATORS = ("**", "+", "-", "*", "/", "^")  # longest first
#: binary operator -> (precedence, diffkit operation name); powers alone are right-associative
_UNARY, _POWER = 3, 4
_BINARY = {"+": (1, "add"), "-": (1, "sub"), "*": (2, "mul"), "/": (2, "div"),
           "**": (_POWER, "pow"), "^": (_POWER, "pow")}
_PRODUCT = "write products with * (2*x, x*y, sin(x)*cos(x)): there is no implicit multiplication"
#: characters that are never math text, and why (or what to write instead)
_REFUSED = {ch: why for chars, why in [
    ("#", "comments are not math"), (";", "write one expression (no statements)"),
    ("\n\r", "write one expression on one line (no newlines)"),
    ("·\u0387×⋅∙", "write products with *, as in x*y"), ("÷", "write division with /, as in x/y"),
    ("−", "write minus with -"), ("²³", "write powers with ^, as in x^2"),
    (".", "no attribute access (decimals look like 2.5)"), ("'\"", "no strings"),
    ("%", "no remainder operator"), ("@", "no matrix products"),
    ("<>!", "no comparisons or shifts"),
    ("~&|", "no bitwise operators"), ("[]", "no lists or subscripts"), ("{}", "no sets or dicts"),
    (":", "no slices, lambdas or assignments")] for ch in chars}

Token = tuple[str, str, int]  # (kind, text, column): kind is num, name, op, (, ), ",", = or end


def parse(text: str, inputs: Sequence[str] | None = None, name: str = "f") -> Function:
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
    if not isinstance(name, str) or not name.isprintable():
        raise ParseError("the function name must be a printable string (no newlines)",
                         token=repr(name)[:40])
    if len(text) > MAX_LENGTH:
        raise ParseError(f"expression is {len(text)} characters long; the limit is {MAX_LENGTH}",
                         token=text[MAX_LENGTH:MAX_LENGTH + 10], column=MAX_LENGTH + 1)
    if inputs is not None:
        inputs = _check_inputs(inputs)
    if not text.strip(" \t"):
        raise ParseError("empty expression", token="end of text", column=len(text) + 1)
    names, first, code = _compile(_tokens(text), inputs or ())
    if inputs is not None:
        for n in names:
            if n not in inputs:
                raise ParseError(f"the expression uses {n!r}, which is not among inputs "
                                 f"{list(inputs)}", token=n, column=first[n])
        where = {n: i for i, n in enumerate(inputs)}
        code = [(k, where[names[v]]) if k == "input" else (k, v, *rest) for (k, v, *rest) in code]
        names = list(inputs)
    return program_function(names, code, name=name, text=text)


def _check_inputs(inputs: Iterable[str]) -> list[str]:
    """Input names end up in listings and generated code: plain identifiers only, each once."""
    if isinstance(inputs, str) or not isinstance(inputs, Iterable):
        raise ParseError(f"inputs must be a list of names, got {type(inputs).__name__}",
                         token=repr(inputs)[:40])
    names, seen = list(inputs), set()
    for n in names:
        if not isinstance(n, str):
            raise ParseError(f"input names must be strings, got {type(n).__name__}",
                             token=repr(n)[:40])
        why = _bad_name(n)
        if why is None and (n in functions() or n in CONSTANTS):
            why = "it names a function or constant in math text"
        if why is None and n in seen:
            why = "it appears twice in inputs"
        if why is not None:
            raise ParseError(f"input name {n!r} is not allowed: {why}", token=n)
        seen.add(n)
    return names


#: Unicode's Default_Ignorable_Code_Point ranges (DerivedCoreProperties.txt): characters that
#: render as nothing, some of them identifier characters to Python (the Hangul fillers U+3164,
#: U+115F, U+1160, U+FFA0, the variation selectors, the combining grapheme joiner)
_INVISIBLE = ((0x00AD, 0x00AD), (0x034F, 0x034F), (0x061C, 0x061C), (0x115F, 0x1160),
              (0x17B4, 0x17B5), (0x180B, 0x180F), (0x200B, 0x200F), (0x202A, 0x202E),
              (0x2060, 0x206F), (0x3164, 0x3164), (0xFE00, 0xFE0F), (0xFEFF, 0xFEFF),
              (0xFFA0, 0xFFA0), (0xFFF0, 0xFFF8), (0x1BCA0, 0x1BCA3), (0x1D173, 0x1D17A),
              (0xE0000, 0xE0FFF))


def _invisible(n: str) -> str | None:
    """Why `n` cannot be a name because of a character that does not show (None if none does):
    a default-ignorable code point, or a format, control, private-use or unassigned one."""
    for ch in n:
        code = ord(ch)
        if (any(lo <= code <= hi for lo, hi in _INVISIBLE)
                or unicodedata.category(ch) in ("Cf", "Cc", "Co", "Cn", "Zs")):
            label = unicodedata.name(ch, unicodedata.category(ch))
            return (f"it contains the invisible character U+{code:04X} ({label}); names are "
                    "visible letters, digits and _")
    return None


def _bad_name(n: str) -> str | None:
    """Why `n` cannot be a name (None when it can)."""
    if (why := _invisible(n)) is not None:
        return why
    if not n.isidentifier():
        return "names are letters, digits and _ and do not start with a digit"
    if unicodedata.normalize("NFKC", n) != n:
        return f"write it as {unicodedata.normalize('NFKC', n)!r}"
    if keyword.iskeyword(n):
        return "it is a Python keyword; math text has no keywords"
    if n.startswith("__"):
        return "names starting with '__' are not allowed"
    return None


#: spellings that NFKC folds into a constant's name and that mean that constant
CONSTANT_SPELLINGS = {"ℯ": "e", "ⅇ": "e"}


def _folded_constant(written: str, word: str) -> str | None:
    """Why a name written one way must not become a constant by its compatibility form: ``ϖ``
    (varpi, a variable or the lemniscate constant) folds to ``π``, math italic ``𝑒`` to ``e``."""
    if written == word or word not in CONSTANTS or CONSTANT_SPELLINGS.get(written) == word:
        return None
    return (f"it would read as the constant {word} (its compatibility form); write {word} for "
            "the constant, or another name for a variable")


def _tokens(text: str) -> Iterator[Token]:
    """Yield the tokens of `text` left to right, then ("end", "", len+1); refuse odd characters."""
    i, n = 0, len(text)
    while i < n:
        ch, col = text[i], i + 1
        if ch in " \t":
            i += 1
        elif ch in "0123456789." and (m := NUMBER.match(text, i)):
            end = m.end()
            tail = end
            while tail < n and ("a" + text[tail]).isidentifier():
                tail += 1
            word, ident = text[i:tail], text[end:tail]
            if ident in ("j", "J"):
                raise ParseError("complex numbers are not allowed", token=word, column=col)
            if ident.startswith("_"):
                raise ParseError("underscores in numbers are not allowed (write 1000, not 1_000)",
                                 token=word, column=col)
            if text[i:end] == "0" and ident[:1] in ("x", "X", "o", "O", "b", "B"):
                raise ParseError("hexadecimal, octal and binary numbers are not allowed; write "
                                 "decimal numbers", token=word, column=col)
            if text[end:end + 1] == ".":
                raise ParseError("a number has at most one decimal point", token=".",
                                 column=end + 1)
            yield "num", text[i:end], col
            i = end
        elif ch.isidentifier():
            j = i + 1
            while j < n and text[j] not in _REFUSED and ("a" + text[j]).isidentifier():
                j += 1
            word = unicodedata.normalize("NFKC", text[i:j])
            why = _invisible(text[i:j]) or _bad_name(word) or _folded_constant(text[i:j], word)
            if why is not None:
                if text[j:].lstrip(" \t").startswith("("):
                    why += "; only named functions can be called, such as sin(x)"
                raise ParseError(f"{text[i:j]!r} cannot be a name: {why}", token=text[i:j],
                                 column=col)
            yield "name", word, col
            i = j
        elif text.startswith(("//", "=="), i):
            what = "floor division" if ch == "/" else "comparisons"
            raise ParseError(f"{what} ({text[i:i + 2]}) are not allowed in math text",
                             token=text[i:i + 2], column=col)
        elif ch in "(),=":
            yield ch, ch, col
            i += 1
        elif text.startswith(_OPERATORS, i):
            op = "**" if text.startswith("**", i) else ch
            yield "op", op, col
            i += len(op)
        else:
            why = _REFUSED.get(ch) or _invisible(ch) or "not part of math text"
            raise ParseError(f"{ch!r} is not allowed: {why}", token=ch, column=col)
    yield "end", "", n + 1


def _compile(tokens: Iterator[Token], inputs: Sequence[str]
             ) -> tuple[list[str], dict[str, int], list[Instruction]]:
    """Shunting-yard over `tokens`: (input names by first appearance, their columns, postfix code).

    Operator-stack entries are lists [kind, text, column, precedence or name column, argument
    count], kind one of "bin", "unary", "(" and "call" (text: the function; column: its '(').
    """
    names: list[str] = []
    first: dict[str, int] = {}  # name -> column of its first use
    slot: dict[str, int] = {}  # name -> index in names
    code: list[Instruction] = []
    stack: list[list[Any]] = []
    depth = 0
    operand = True  # an operand comes next (else an operator, ')', ',' or the end)
    prev: Token = ("start", "", 0)
    pending: Token | None = None  # a function name, which must be followed by '('

    def push(entry: list[Any]) -> None:
        nonlocal depth
        depth += entry[0] != "bin" or entry[3] == _POWER
        if depth > MAX_DEPTH:
            raise ParseError(f"nested too deeply: more than {MAX_DEPTH} levels of parentheses, "
                             "calls, signs and powers", token=entry[1] if entry[0] != "call"
                             else "(", column=entry[2])
        stack.append(entry)

    def pop() -> list[Any]:
        nonlocal depth
        entry = stack.pop()
        depth -= entry[0] != "bin" or entry[3] == _POWER
        if entry[0] == "bin":
            code.append(("call", REGISTRY[_BINARY[entry[1]][1]], 2))
        elif entry[1] == "-":
            code.append(("call", REGISTRY["neg"], 1))
        return entry

    def close(tok: Token) -> list[Any]:
        """Emit the operators back to the innermost '(' or call, and return that entry."""
        while stack and stack[-1][0] in ("bin", "unary"):
            pop()
        if not stack and tok[0] == ",":
            raise ParseError("',' is only allowed between a function's arguments (there are no "
                             "tuples)", token=",", column=tok[2])
        if not stack:
            raise ParseError("')' has no matching '('", token=")", column=tok[2])
        return stack[-1]

    for tok in tokens:
        kind, word, col = tok
        if pending is not None:
            fname = pending[1]
            if kind != "(":
                hint = f"; {_PRODUCT}" if kind in ("num", "name") else ""
                raise ParseError(f"{fname!r} is a function: call it with parentheses, as in "
                                 f"{fname}(x){hint}", token=fname, column=pending[2])
            push(["call", fname, col, pending[2], 0])
            pending = None
        elif operand:
            if kind == "num":
                value = float(word)
                shown = word if len(word) <= 40 else f"{word[:20]}…({len(word)} characters)"
                if math.isinf(value):
                    raise ParseError(f"the number {shown} is too large for a float (the largest "
                                     "is about 1.8e308)", token=shown, column=col)
                if value == 0.0 and any(d in "123456789" for d in word.lower().split("e")[0]):
                    raise ParseError(f"the number {shown} is too small for a float: it would be "
                                     "0 (the smallest is about 4.9e-324)", token=shown, column=col)
                code.append(("const", value))
                operand = False
            elif kind == "name" and word in functions():
                pending = tok
            elif kind == "name":
                if word in CONSTANTS:
                    code.append(("const", CONSTANTS[word]))
                else:
                    if word not in first:
                        first[word], slot[word] = col, len(names)
                        names.append(word)
                    code.append(("input", slot[word]))
                operand = False
            elif kind == "(":
                push(["(", "(", col, 0, 0])
            elif word in ("+", "-"):
                push(["unary", word, col, _UNARY, 0])
            elif prev[0] == "op" and kind == "end":
                raise ParseError(f"{prev[1]!r} needs something after it", token=prev[1],
                                 column=prev[2])
            elif prev[0] == "op" and kind in (")", ","):
                raise ParseError(f"{prev[1]!r} needs something after it, before {word!r}",
                                 token=word, column=col)
            elif kind == "end":
                pass  # the '(' or ',' left open is reported below
            elif kind == ")" and not stack:
                close(tok)
            elif kind == ")" and prev[0] == "(" and stack[-1][0] == "(":
                raise ParseError("empty parentheses '()' are not allowed", token=")", column=col)
            elif kind == ")" and prev[0] == "(":
                fname = stack[-1][1]
                raise ParseError(f"{fname} takes {functions()[fname][1]} argument(s), got 0",
                                 token=fname, column=stack[-1][3])
            elif kind in (",", ")") and stack and stack[-1][0] == "call":
                raise ParseError(f"empty argument in the call of {stack[-1][1]}", token=word,
                                 column=col)
            else:
                raise ParseError(f"{word!r} needs something on its left", token=word, column=col)
        elif kind in ("num", "name"):
            raise ParseError(_PRODUCT, token=word, column=col)
        elif kind == "(":
            _refuse_call(col, prev, inputs, first)
        elif kind == "op":
            prec = _BINARY[word][0]
            while stack and stack[-1][0] in ("bin", "unary") and (
                    stack[-1][3] > prec or stack[-1][3] == prec and prec != _POWER):
                pop()
            push(["bin", word, col, prec, 0])
            operand = True
        elif kind == ")":
            entry = close(tok)
            stack.pop()
            depth -= 1
            if entry[0] == "call":
                fname, got = entry[1], entry[4] + 1
                fn, arity = functions()[fname]
                if got != arity:
                    raise ParseError(f"{fname} takes {arity} argument(s), got {got}", token=fname,
                                     column=entry[3])
                code.append(("call", fn, arity))
        elif kind == ",":
            entry = close(tok)
            if entry[0] != "call":
                raise ParseError("',' is only allowed between a function's arguments (there are "
                                 "no tuples)", token=",", column=col)
            entry[4] += 1
            operand = True
        elif kind == "=":
            inner = next((e for e in reversed(stack) if e[0] in ("(", "call")), None)
            if prev[0] == "name" and inner is not None and inner[0] == "call":
                raise ParseError(f"keyword arguments are not allowed (in the call of {inner[1]})",
                                 token="=", column=col)
            raise ParseError("'=' is not allowed: write an expression, not an equation or "
                             "assignment", token="=", column=col)
        prev = tok
    while stack:
        if stack[-1][0] in ("(", "call"):
            raise ParseError("'(' is never closed", token="(", column=stack[-1][2])
        pop()
    return names, first, code


def _refuse_call(paren: int, prev: Token, inputs: Sequence[str], first: dict[str, int]) -> None:
    """'(' at column `paren` right after an operand: a product, or a call of a non-function."""
    who, col = prev[1], prev[2]
    if prev[0] != "name":
        raise ParseError(_PRODUCT, token="(", column=paren)
    if who in CONSTANTS:
        what = f"{who!r} is a constant"
    elif who in inputs or first[who] < col:
        what = f"{who!r} is an input"
    else:
        close = difflib.get_close_matches(who, functions(), n=3, cutoff=0.6)
        if close:
            raise ParseError(f"unknown function {who!r}; did you mean "
                             + " or ".join(repr(c) for c in close) + "?", token=who, column=col)
        what = f"unknown function {who!r} (known functions: {', '.join(sorted(functions()))})"
    raise ParseError(f"{what}: only named functions can be called (a product needs *, as in "
                     f"{who}*(...))", token=who, column=col)
