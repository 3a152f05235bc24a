"""``diffkit grad EXPR --at x1=2 x2=5 [--method all|fd|symbolic|forward|reverse|auto|...] [--json]``."""

from __future__ import annotations

import argparse
import sys
from typing import Any

import numpy as np

from ..api import grad
from ..display import format_value
from ..engines import BASE_METHODS, METHODS
from ..errors import DiffkitError
from .common import (
    CLIError,
    HelpFormatter,
    add_json_argument,
    add_point_arguments,
    given_point,
    int_range,
    load,
    print_json,
)

EXAMPLES = """\
examples:
  diffkit grad "ln(x1) + x1*x2 - sin(x2)" --at x1=2 x2=5
  diffkit grad "sum(x^2)" --at x=1,2,3 --method auto
  diffkit grad "x^2*y + y + 2" --at x=3 y=4 --method forward --json"""


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("grad", help="print the gradient of an expression by one or all methods",
                       description="Gradient of EXPR at a point, by each requested method. EXPR "
                       "must give one number: with a vector input (x=1,2,3) reduce it, e.g. "
                       "sum(x^2) or mean(x).",
                       epilog=EXAMPLES, formatter_class=HelpFormatter)
    add_point_arguments(p)
    p.add_argument("--method", default="all", choices=["all", *METHODS], metavar="METHOD",
                   help=f"one of {', '.join(METHODS)}, or all (default) for "
                   f"{', '.join(BASE_METHODS)}; auto says which mode it chose and why")
    p.add_argument("--digits", type=int_range(0, 17), default=17,
                   help="significant digits to print, 0 to 17 (default 17: every digit)")
    add_json_argument(p, "the value, the gradient by each method and any errors")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    fn, point = load(args.expr, args.at)
    value = fn(*point)
    if np.ndim(value) != 0:
        raise CLIError(f"{args.expr} has shape {np.shape(value)} at this point, not one number: a "
                       f"gradient needs a scalar output; reduce it, e.g. 'sum({args.expr})'")
    methods = BASE_METHODS if args.method == "all" else (args.method,)
    gradients: dict[str, tuple[Any, ...]] = {}
    errors: dict[str, str] = {}
    auto: tuple[str, str] | None = None  # (the mode auto chose, why)
    for m in methods:
        try:
            g = grad(fn, method=m)
            gradients[m] = g(*point)
        except DiffkitError as exc:
            errors[m] = str(exc)
            continue
        if m == "auto":
            auto = (g.engine.last_choice, g.engine.explain())
    if args.json:
        _print_json(args, fn.inputs, point, value, methods, gradients, errors, auto)
    elif len(methods) > 1 or not errors:
        _print_table(args, fn.inputs, point, value, methods, gradients, errors, auto)
    if not errors:
        return 0
    if len(methods) == 1:
        raise CLIError(f"{methods[0]}: {errors[methods[0]]}")
    where = "in the JSON" if args.json else "above"
    raise CLIError(f"{len(errors)} of {len(methods)} methods failed ({', '.join(errors)}); "
                   f"their errors are {where}")


def _print_table(args: argparse.Namespace, inputs: tuple[str, ...], point: list[Any], value: Any,
                 methods: tuple[str, ...], gradients: dict[str, Any], errors: dict[str, str],
                 auto: tuple[str, str] | None) -> None:
    print(f"f({given_point(inputs, point)}) = {format_value(value, max(args.digits, 1))}")
    width = max(len(m) for m in methods)
    for m in methods:
        if m in errors:
            print(f"{m:<{width}}  error: {errors[m]}")
            continue
        parts = [f"d/d{n} = {_fmt(v, args.digits)}" for n, v in zip(inputs, gradients[m])]
        print(f"{m:<{width}}  " + "  ".join(parts))
        if m == "auto" and auto is not None:
            print(f"{'':<{width}}  chose {auto[0]} mode: {auto[1]}")


def _print_json(args: argparse.Namespace, inputs: tuple[str, ...], point: list[Any], value: Any,
                methods: tuple[str, ...], gradients: dict[str, Any], errors: dict[str, str],
                auto: tuple[str, str] | None) -> None:
    data: dict[str, Any] = {
        "command": "grad",
        "expression": args.expr,
        "inputs": list(inputs),
        "point": dict(zip(inputs, point)),
        "value": value,
        "methods": list(methods),
        "gradients": {m: dict(zip(inputs, g)) for m, g in gradients.items()},
        "errors": errors,
    }
    if auto is not None:
        data["auto"] = {"choice": auto[0], "explanation": auto[1]}
    print_json(data)


def _fmt(v: object, digits: int) -> str:
    """A derivative with `digits` significant digits (0 reads as 1, as in printf's %.0g), each
    element of a vector like a number alone; 17, the default, keeps every digit (the shortest text
    that reads back as the same float)."""
    if np.ndim(v) == 0:
        return repr(float(v)) if digits >= 17 else format_value(v, max(digits, 1))
    arr = np.asarray(v)
    # every element on one line: NumPy's printing summarizes 1,000 elements or more as
    # "1., 1., ..., 1." and wraps long rows, which the table would print as the derivative
    whole = {"threshold": sys.maxsize, "max_line_width": sys.maxsize}
    if digits >= 17:
        return np.array2string(arr, separator=", ", floatmode="unique", **whole)
    return np.array2string(arr, separator=", ", **whole,
                           formatter={"float_kind": lambda x: format_value(x, max(digits, 1))})
