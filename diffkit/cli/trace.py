"""``diffkit trace EXPR --at x1=2 x2=5 [--mode forward|reverse] [--format …|--json] [--graph FILE]``."""

from __future__ import annotations

import argparse
from typing import Any

import numpy as np

from .common import (
    CLIError,
    HelpFormatter,
    add_json_argument,
    add_point_arguments,
    int_range,
    load,
    output_path,
    parse_point,
    print_json,
)

FORMATS = ("text", "markdown", "latex", "html")

EXAMPLES = """\
examples:
  diffkit trace "ln(x1) + x1*x2 - sin(x2)" --at x1=2 x2=5
  diffkit trace "ln(x1) + x1*x2 - sin(x2)" --at x1=2 x2=5 --mode forward --seed x1=1
  diffkit trace "x*y" --at x=1 y=2 --format markdown --graph xy.dot
  diffkit trace "x*y" --at x=1 y=2 --json"""


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "trace",
        help="print the evaluation trace (primal, tangent or adjoint tables) of an expression",
        description="The evaluation trace of EXPR at a point, in the notation of Baydin et al. "
        "(2018): the primal trace, then the tangent trace (forward mode) or the adjoint trace "
        "(reverse mode), with the local derivative used on each row.",
        epilog=EXAMPLES,
        formatter_class=HelpFormatter,
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
        action="extend",
        metavar="NAME=VALUE",
        default=None,
        help="forward mode: the tangent ẋ, one NAME=VALUE per input, 0 where not given "
        "(default: 1 for the first input)",
    )
    out = p.add_mutually_exclusive_group()
    out.add_argument("--format", default="text", choices=FORMATS,
                     help="table format (default: text)")
    add_json_argument(out, "the rows (section, variable, expression, local derivative, value) "
                      "and the derivative")
    p.add_argument("--digits", type=int_range(0, 17), default=3,
                   help="decimals shown, 0 to 17 (default 3)")
    p.add_argument(
        "--graph",
        metavar="FILE",
        default=None,
        help="also draw the graph to FILE (.svg, .png, .pdf, .jpg or .dot/.gv)",
    )
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from ..traces import FORMATS as GRAPH_FORMATS
    from ..traces import render, trace

    graph = output_path("--graph", args.graph, tuple(GRAPH_FORMATS)) if args.graph else None
    fn, point = load(args.expr, args.at)
    seed = None
    if args.seed is not None:
        if args.mode != "forward":
            raise CLIError("--seed sets the tangent ẋ of forward mode: add --mode forward")
        seed = parse_point(fn, _fill(fn.inputs, args.seed), option="--seed")
        for name, s, x in zip(fn.inputs, seed, point):
            if np.ndim(s) and np.shape(s) != np.shape(x):
                raise CLIError(f"--seed {name} has {np.size(s)} values; the input {name} has "
                               f"{np.size(x)} (or give one number for all)")
    t = trace(fn, *point, mode=args.mode, seed=seed)
    if graph is not None:  # before printing, so that a failure leaves no half output
        graph = render(t.draw(digits=args.digits), graph)
    if args.json:
        print_json(_json(args, fn.inputs, point, t, graph))
        return 0
    render_table = {
        "text": t.to_text,
        "markdown": t.to_markdown,
        "latex": t.to_latex,
        "html": t.to_html,
    }[args.format]
    print(render_table(digits=args.digits).rstrip("\n"))
    if graph is not None:
        print(f"\ngraph written to {graph}")
    return 0


def _json(args: argparse.Namespace, inputs: tuple[str, ...], point: list[Any], t: Any,
          graph: Any) -> dict[str, Any]:
    from ..traces import formats as tf

    notation = tf.UNICODE
    rows = []
    for row in t.rows:
        rows.append({
            "section": row.section,
            "role": row.role,
            "variable": row.name,
            "expression": row.expression,
            "local_derivative": tf.derivative_cell(row.partials, notation, args.digits),
            "partials": [{"of": tf.unicode_var(p.of), "wrt": tf.unicode_var(p.wrt),
                          "expression": None if p.expr is None else notation.expr(p.expr),
                          "rule": p.rule or None, "value": p.value} for p in row.partials],
            "value": row.value,
        })
    data: dict[str, Any] = {
        "command": "trace",
        "expression": args.expr,
        "title": t.title(),
        "inputs": list(inputs),
        "point": dict(zip(inputs, point)),
        "mode": t.mode,
        "value": t.value,
        "rows": rows,
    }
    if t.mode == "forward":
        data["seed"] = dict(zip(inputs, t.seed))
        data["derivative"] = t.derivative  # ẏ, the derivative along the seed
    else:
        data["seed"] = t.seed
        data["derivative"] = dict(zip(inputs, t.derivative))  # x̄ = the gradient, per input
    if graph is not None:
        data["graph"] = str(graph)
    return data


def _fill(inputs: tuple[str, ...], items: list[str]) -> list[str]:
    """Seed entries not given are 0."""
    named = {item.partition("=")[0].strip() for item in items}
    return list(items) + [f"{n}=0" for n in inputs if n not in named]
