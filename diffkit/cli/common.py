"""Helpers shared by subcommands: reading ``--at x1=2 x2=5`` points."""

from __future__ import annotations

import argparse
from collections.abc import Sequence

import numpy as np

from ..function import Function


def add_point_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("expr", help="math text, e.g. 'ln(x1) + x1*x2 - sin(x2)'")
    p.add_argument("--at", nargs="+", required=True, metavar="NAME=VALUE",
                   help="the point: one NAME=VALUE per input (a value may be a comma list: x=1,2,3)")


def parse_point(fn: Function, items: Sequence[str]) -> list[object]:
    """Values for fn's inputs from NAME=VALUE strings; every input must be given exactly once."""
    given: dict[str, object] = {}
    for item in items:
        if "=" not in item:
            raise ValueError(f"--at takes NAME=VALUE pairs, got {item!r}")
        name, _, text = item.partition("=")
        name = name.strip()
        try:
            values = [float(v) for v in text.split(",")]
        except ValueError:
            raise ValueError(f"--at {name}: {text!r} is not a number (or comma-separated numbers)") from None
        given[name] = values[0] if len(values) == 1 and "," not in text else np.array(values)
    unknown = [n for n in given if n not in fn.inputs]
    if unknown:
        raise ValueError(f"--at names {unknown[0]!r}, which is not an input; inputs: {', '.join(fn.inputs)}")
    missing = [n for n in fn.inputs if n not in given]
    if missing:
        raise ValueError(f"--at is missing a value for {', '.join(missing)}")
    return [given[n] for n in fn.inputs]
