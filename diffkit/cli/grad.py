"""``diffkit grad EXPR --at x1=2 x2=5 [--method all|fd|symbolic|forward|reverse|...]``."""

from __future__ import annotations

import argparse

import numpy as np

from ..api import grad
from ..display import format_value
from ..engines import BASE_METHODS, METHODS
from ..errors import DiffkitError
from ..parse import parse
from .common import add_point_arguments, parse_point


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("grad", help="print the gradient of an expression by one or all methods",
                       description="Gradient of EXPR at a point, by each requested method.")
    add_point_arguments(p)
    p.add_argument("--method", default="all", choices=["all", *METHODS],
                   help="a method, or 'all' for fd, symbolic, forward and reverse (default: all)")
    p.add_argument("--digits", type=int, default=17, help="significant digits to print (default 17)")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    fn = parse(args.expr)
    point = parse_point(fn, args.at)
    methods = BASE_METHODS if args.method == "all" else (args.method,)
    where = ", ".join(f"{n}={format_value(v)}" for n, v in zip(fn.inputs, point))
    print(f"f({where}) = {format_value(fn(*point), args.digits)}")
    width = max(len(m) for m in methods)
    status = 0
    for m in methods:
        try:
            g = grad(fn, method=m)(*point)
            parts = [f"d/d{n} = {_fmt(v, args.digits)}" for n, v in zip(fn.inputs, g)]
            print(f"{m:<{width}}  " + "  ".join(parts))
        except DiffkitError as exc:
            print(f"{m:<{width}}  error: {exc}")
            status = 1
    return status


def _fmt(v: object, digits: int) -> str:
    if np.ndim(v) == 0:
        return repr(float(v)) if digits >= 17 else format_value(v, digits)
    return np.array2string(np.asarray(v), precision=min(digits, 8), separator=", ")
