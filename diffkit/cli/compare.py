"""``diffkit compare EXPR --at x1=2 x2=5 [--methods M …] [--json|--markdown] [--plot-fd FILE] …``."""

from __future__ import annotations

import argparse
import sys

from ..engines import METHODS
from .common import (
    CLIError,
    HelpFormatter,
    add_point_arguments,
    load,
    note,
    output_path,
    print_json,
)

EXAMPLES = """\
examples:
  diffkit compare "ln(x1) + x1*x2 - sin(x2)" --at x1=2 x2=5
  diffkit compare "x*y" --at x=1 y=2 --methods forward reverse auto --json"""


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("compare", help="every differentiation method side by side: error, time, cost",
                       description="Differentiate EXPR at a point with every method and tabulate the "
                       "value, error against an exact reference, time, evaluations and memory. "
                       "auto's row says which mode it chose and why.",
                       epilog=EXAMPLES, formatter_class=HelpFormatter)
    add_point_arguments(p)
    p.add_argument("--methods", nargs="+", action="extend", choices=METHODS, metavar="METHOD",
                   help=f"methods to compare, some of {', '.join(METHODS)} (default: all)")
    fmt = p.add_mutually_exclusive_group()
    fmt.add_argument("--json", action="store_true", help="print JSON instead of a table")
    fmt.add_argument("--markdown", action="store_true", help="print a Markdown table")
    p.add_argument("--plot-fd", metavar="FILE",
                   help="write EXPR's FD error against step h (PNG or SVG)")
    p.add_argument("--plot-cost", metavar="FILE",
                   help="write forward/reverse cost as n and m grow, on the built-in benchmark "
                   "(a 3-layer tanh network; one expression has no n or m to scale: EXPR is not "
                   "used)")
    p.add_argument("--plot-swell", metavar="FILE",
                   help="write the symbolic expression swell of EXPR next to the built-in "
                   "nested sin(x)·x + x")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from ..comparison import compare

    _check_plots(args)
    fn, point = load(args.expr, args.at)
    cmp = compare(fn, *point, methods=args.methods and list(dict.fromkeys(args.methods)))
    if args.json:
        print_json(cmp.to_dict())
    elif args.markdown:
        print(cmp.to_markdown())
    elif sys.stdout.isatty() and _rich_console() is not None:
        _rich_console()().print(cmp)
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
                note(f"wrote {path}: {what}")
    return 0


def _rich_console() -> type | None:
    try:
        from rich.console import Console
    except ImportError:  # rich comes with diffkit[nn]: plain text without it
        return None
    return Console


def _check_plots(args: argparse.Namespace) -> None:
    """Plot files are checked before the comparison runs: matplotlib, a known type, a folder."""
    wanted = [(f"--plot-{k}", getattr(args, f"plot_{k}")) for k in ("fd", "cost", "swell")]
    wanted = [(option, path) for option, path in wanted if path]
    if not wanted:
        return
    try:
        from matplotlib.backend_bases import FigureCanvasBase
    except ImportError:
        raise CLIError(f"{wanted[0][0]} needs matplotlib: pip install 'diffkit[plots]'") from None
    types = tuple(f".{t}" for t in FigureCanvasBase.get_supported_filetypes())
    for option, path in wanted:
        output_path(option, path, types)
