"""The ``diffkit`` command: one subcommand per module of this package (grad, trace, compare, …)."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from ..errors import DiffkitError

#: Subcommand modules, in the order ``diffkit --help`` lists them. Each has ``register(subparsers)``.
COMMANDS = ("demo", "grad", "trace", "compare", "train")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="diffkit",
        description="Differentiate functions four ways, draw evaluation traces, compare methods, "
        "train neural networks.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        try:
            module = importlib.import_module(f"{__name__}.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"{__name__}.{name}":
                raise
            continue
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "run", None):
        parser.print_help()
        return 2
    try:
        return int(args.run(args) or 0)
    except (DiffkitError, ValueError, TypeError, FileNotFoundError) as exc:
        print(f"diffkit {args.command}: error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
