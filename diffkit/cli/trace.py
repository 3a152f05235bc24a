"""``diffkit trace EXPR --at x1=2 x2=5 [--mode forward|reverse] [--format …] [--graph FILE]``."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..parse import parse
from .common import add_point_arguments, parse_point

FORMATS = ("text", "markdown", "latex", "html")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "trace",
        help="print the evaluation trace (primal, tangent or adjoint tables) of an expression",
        description="The evaluation trace of EXPR at a point, in the notation of Baydin et al. "
        "(2018): the primal trace, then the tangent trace (forward mode) or the adjoint trace "
        "(reverse mode), with the local derivative used on each row.",
    )
    add_point_arguments(p)
    p.add_argument(
        "--mode",
        default="reverse",
        choices=["reverse", "forward"],
        help="reverse: adjoint trace (ȳ = 1); forward: tangent trace (default: reverse)",
    )
    p.add_argument(
        "--seed",
        nargs="+",
        metavar="NAME=VALUE",
        default=None,
        help="forward mode: the tangent ẋ, one NAME=VALUE per input (default e1)",
    )
    p.add_argument("--format", default="text", choices=FORMATS, help="table format (default: text)")
    p.add_argument("--digits", type=int, default=3, help="decimals shown (default 3)")
    p.add_argument(
        "--graph",
        metavar="FILE",
        default=None,
        help="also draw the graph to FILE (.svg, .png or .dot)",
    )
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from ..traces import trace

    if args.graph:
        from ..traces import FORMATS as GRAPH_FORMATS

        suffix = Path(args.graph).suffix.lower()
        if suffix not in GRAPH_FORMATS:
            raise ValueError(f"--graph: unknown file type {suffix!r}; use .svg, .png or .dot")
    fn = parse(args.expr)
    point = parse_point(fn, args.at)
    seed = None
    if args.seed is not None:
        if args.mode != "forward":
            raise ValueError("--seed sets the tangent ẋ of forward mode: add --mode forward")
        given = dict(zip(fn.inputs, parse_point(fn, _fill(fn.inputs, args.seed)), strict=False))
        seed = [given[n] for n in fn.inputs]
    t = trace(fn, *point, mode=args.mode, seed=seed)
    render_table = {
        "text": t.to_text,
        "markdown": t.to_markdown,
        "latex": t.to_latex,
        "html": t.to_html,
    }[args.format]
    print(render_table(digits=args.digits).rstrip("\n"))
    if args.graph:
        from ..traces import render

        path = render(t.draw(digits=args.digits), args.graph)
        print(f"\ngraph written to {path}")
    return 0


def _fill(inputs: tuple[str, ...], items: list[str]) -> list[str]:
    """Seed entries not given are 0."""
    named = {item.partition("=")[0].strip() for item in items}
    return list(items) + [f"{n}=0" for n in inputs if n not in named]
