"""``diffkit compare EXPR --at x1=2 x2=5 [--plot-fd FILE] [--plot-cost FILE] [--json]``."""

from __future__ import annotations

import argparse
import sys

from ..parse import parse
from .common import add_point_arguments, parse_point


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("compare", help="every differentiation method side by side: error, time, cost",
                       description="Differentiate EXPR at a point with every method and tabulate the "
                       "value, error against an exact reference, time, evaluations and memory.")
    add_point_arguments(p)
    p.add_argument("--methods", nargs="+", metavar="METHOD", help="methods to compare (default: all)")
    fmt = p.add_mutually_exclusive_group()
    fmt.add_argument("--json", action="store_true", help="print JSON instead of a table")
    fmt.add_argument("--markdown", action="store_true", help="print a Markdown table")
    p.add_argument("--plot-fd", metavar="FILE",
                   help="write EXPR's FD error against step h (PNG or SVG)")
    p.add_argument("--plot-cost", metavar="FILE",
                   help="write forward/reverse cost as n and m grow, on the built-in benchmark "
                   "tanh(A·x) (one expression has no n or m to scale; EXPR is not used)")
    p.add_argument("--plot-swell", metavar="FILE",
                   help="write the symbolic expression swell of EXPR next to the built-in "
                   "nested sin(x)·x + x")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from ..comparison import compare

    fn = parse(args.expr)
    point = parse_point(fn, args.at)
    cmp = compare(fn, *point, methods=args.methods)
    if args.json:
        print(cmp.to_json())
    elif args.markdown:
        print(cmp.to_markdown())
    elif sys.stdout.isatty():
        from rich.console import Console

        Console().print(cmp)
    else:
        print(cmp.to_text())
    if args.plot_fd or args.plot_cost or args.plot_swell:
        from .. import plots

        cost = (f"forward against reverse cost on the built-in benchmark {plots.COST_BENCHMARK} "
                "as n and m grow, not on EXPR (one expression has no n or m to scale)")
        wanted = (
            (args.plot_fd, lambda: plots.plot_fd_error(fn, *point),
             f"finite-difference error against step for {args.expr}"),
            (args.plot_cost, plots.plot_cost, cost),
            (args.plot_swell, lambda: plots.plot_swell(fn, *point),
             f"expression swell of {args.expr} next to the built-in {plots.SWELL_BENCHMARK}"),
        )
        for path, make, what in wanted:
            if path:
                make().savefig(path, dpi=110)
                print(f"wrote {path}: {what}", file=sys.stderr)
    return 0
