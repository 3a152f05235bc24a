"""Helpers shared by subcommands: argument types, ``--at x1=2 x2=5`` points, JSON output, errors."""

from __future__ import annotations

import argparse
import json
import math
import sys
import unicodedata
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ParseError
from ..function import Function


class CLIError(Exception):
    """A bad command line found by a subcommand itself: printed as one ``error:`` line, exit 1."""


class HelpFormatter(argparse.HelpFormatter):
    """Descriptions wrapped to the terminal; text with line breaks of its own (examples) kept."""

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        if "\n" in text:
            return "".join(indent + line for line in text.splitlines(keepends=True))
        return super()._fill_text(text, width, indent)


# ----- argument types (argparse reports their ArgumentTypeError as a usage error) ----------------


def int_range(low: int, high: int | None = None) -> Callable[[str], int]:
    """An argparse type: an integer in [low, high] (no upper bound when high is None)."""
    want = f"an integer from {low} to {high}" if high is not None else (
        "a positive integer" if low == 1 else f"an integer >= {low}")

    def convert(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{want} is needed, not {text!r}") from None
        if value < low or (high is not None and value > high):
            raise argparse.ArgumentTypeError(f"{want} is needed, not {value}")
        return value

    return convert


def positive_float(text: str) -> float:
    """An argparse type: a finite number > 0."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"a positive number is needed, not {text!r}") from None
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"a positive number is needed, not {text}")
    return value


# ----- points --------------------------------------------------------------------------------------


def add_point_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("expr", metavar="EXPR", help="math text, e.g. 'ln(x1) + x1*x2 - sin(x2)'")
    p.add_argument("--at", nargs="+", action="extend", required=True, metavar="NAME=VALUE",
                   help="the point: one NAME=VALUE per input; a comma list is a vector "
                   "(x=1,2,3); --at may be repeated")


def add_json_argument(p: argparse.ArgumentParser | Any, what: str) -> None:
    p.add_argument("--json", action="store_true",
                   help=f"print {what} as JSON on stdout (and nothing else there)")


def parse_point(fn: Function, items: Sequence[str], option: str = "--at") -> list[object]:
    """Values for fn's inputs from NAME=VALUE strings; every input must be given exactly once,
    as a finite number or a comma list of finite numbers (a vector)."""
    given: dict[str, object] = {}
    for item in items:
        name, sep, text = item.partition("=")
        name = unicodedata.normalize("NFKC", name.strip())  # as the parser reads the names
        # of the text (Python's rule for identifiers): µ (micro sign) is μ, ｘ is x
        if not sep or not name:
            raise CLIError(f"{option} takes NAME=VALUE pairs, got {item!r}")
        if name in given:
            raise CLIError(f"{option} gives {name} twice")
        values = [number(option, name, v) for v in text.split(",")]
        if not all(map(math.isfinite, values)):
            raise CLIError(f"{option} {name}={text}: not a finite number (diffkit differentiates "
                           "at finite points only)")
        given[name] = values[0] if len(values) == 1 else np.array(values)
    unknown = [n for n in given if n not in fn.inputs]
    if unknown:
        inputs = ", ".join(fn.inputs) if fn.inputs else "none"
        raise CLIError(f"{option} names {unknown[0]!r}, which is not an input; inputs: {inputs}")
    missing = [n for n in fn.inputs if n not in given]
    if missing:
        raise CLIError(f"{option} is missing a value for {', '.join(missing)}")
    return [given[n] for n in fn.inputs]


#: the words for a number that is not finite (Python's float() reads them, in any case, signed)
_NOT_FINITE = ("inf", "infinity", "nan")


def number(option: str, name: str, text: str) -> float:
    """One number of a point, read as the math text parser reads a number (``3``, ``2.5``,
    ``.5``, ``5.``, ``1e-3``), with an optional sign; inf and nan are read too (and refused
    later, by name, as not finite). No ``1_000``, no digits other than ASCII's: what float()
    reads beyond the parser's numbers is refused with the parser's reason."""
    from ..parse import NUMBER, parse  # the parser's number grammar: one definition

    word = text.strip()
    unsigned = word[1:] if word[:1] in "+-" else word
    read = NUMBER.fullmatch(unsigned) is not None
    if read or unsigned.lower() in _NOT_FINITE:
        value = float(word)
        if value != 0.0:  # a zero may be an underflow (1e-400): the parser decides below
            return value
    why = ""
    try:
        parse(word)
    except ParseError as exc:
        if exc.token is not None and exc.token.strip() == unsigned:  # the parser's reason for it
            where = f" (at {exc.token!r}" + (f", column {exc.column})" if exc.column else ")")
            why = ": " + str(exc).removesuffix(where)
    else:
        if read:  # a zero the parser reads as written (0, 0.0, -0e5)
            return value
    why = why or " (or comma-separated numbers, x=1,2,3)"
    raise CLIError(f"{option} {name}: {word!r} is not a number{why}")


def given_point(inputs: Sequence[str], point: Sequence[object]) -> str:
    """The point as ``x1=2, x=[1., 2.5]``: every number exactly, in the shortest text that
    reads back as the same float (as repr does, without a trailing ".0"), so nothing is rounded
    whatever --digits says."""
    def exact(v: object) -> str:
        if np.ndim(v) == 0:
            return repr(float(v)).removesuffix(".0")  # type: ignore[arg-type]
        arr = np.asarray(v)
        return np.array2string(arr, separator=", ", floatmode="unique", threshold=arr.size + 1,
                               max_line_width=sys.maxsize)

    return ", ".join(f"{n}={exact(v)}" for n, v in zip(inputs, point))


def load(expr: str, at: Sequence[str]) -> tuple[Function, list[object]]:
    """The function of math text `expr` and the point `--at` gives."""
    from ..parse import parse

    fn = parse(expr)
    if not fn.inputs:
        raise CLIError(f"{expr!r} has no inputs: there is nothing to differentiate")
    return fn, parse_point(fn, at)


def output_path(option: str, path: str, suffixes: Sequence[str] | None) -> Path:
    """Check an output file before any work is done: a known suffix (any with None), an
    existing folder."""
    out = Path(path)
    if out.is_dir():
        raise CLIError(f"{option} {path}: is a folder; give a file name")
    if suffixes is not None and out.suffix.lower() not in suffixes:
        what = f"unknown file type {out.suffix!r}" if out.suffix else "no file type"
        raise CLIError(f"{option} {path}: {what}; use {', '.join(suffixes)}")
    if not out.parent.is_dir():
        raise CLIError(f"{option} {path}: no folder {str(out.parent)!r} to write into")
    return out


# ----- output --------------------------------------------------------------------------------------


def plain(value: Any) -> Any:
    """JSON-ready data: arrays as (nested) lists, NumPy numbers as Python numbers, and NaN or
    infinities as null (JSON has no such numbers)."""
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if isinstance(value, np.ndarray):
        return plain(value.tolist())
    if isinstance(value, np.generic):
        return plain(value.item())
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, complex):
        return {"real": plain(value.real), "imag": plain(value.imag)}
    return value


def print_json(data: Any) -> None:
    print(json.dumps(plain(data), indent=2, ensure_ascii=False, allow_nan=False))


def one_line(text: str) -> str:
    """A message on one line (a multi-line message joined with spaces), with every other
    character that is not printable escaped as ``repr`` escapes it (ESC as ``\\x1b``): text read
    from a file or typed never reaches the terminal as a control sequence (colour, cursor
    movement, a window title, a line that looks like another message)."""
    line = " ".join(part.strip() for part in str(text).splitlines() if part.strip())
    if line.isprintable():
        return line
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in line)


def shown(value: object) -> str:
    r"""A setting as the user would type it where that is unambiguous (a number, a word of
    printable characters), as ``repr`` writes it otherwise: a value read from a file may hold
    spaces, newlines or control characters that would pass for other text, and a string that
    spells a number or a constant ("0.003", "True") would pass for that number or constant.

    Example:
        >>> shown("xor"), shown(0.003), shown("xor\nFAKE"), shown("0.003")
        ('xor', '0.003', "'xor\\nFAKE'", "'0.003'")
    """
    if isinstance(value, str):
        return value if value and value.isprintable() and not any(
            c.isspace() or c in "'\"\\" for c in value) and not _reads_as_other(value) \
            else repr(value)
    return str(value) if isinstance(value, int | float) else repr(value)


def _reads_as_other(word: str) -> bool:
    """Whether `word` spells a number (Python's or a JSON literal) or a constant: shown bare,
    it would read as that value rather than as a string."""
    if word.lower() in ("true", "false", "none", "null", "nan", "inf", "infinity"):
        return True
    for parse in (float, complex, lambda w: int(w, 0)):
        try:
            parse(word)
        except (ValueError, OverflowError):
            continue
        return True
    return False


def note(text: str) -> None:
    """A message for the user on stderr (stdout may be JSON); nothing when stderr is closed
    (print would fall back to stdout)."""
    if sys.stderr is not None:
        print(text, file=sys.stderr)
