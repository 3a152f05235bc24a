"""The ``diffkit`` command: one subcommand per module of this package (grad, trace, compare, …).

Every failure is one line on stderr, ``diffkit <command>: error: <message>``, and a non-zero exit
status: 1 for an error, 2 for a bad command line, 130 when interrupted. Output cut short by a
closed pipe (``diffkit trace … | head``), or by a stdout closed from the start (``>&-``), ends
quietly with 141, as if killed by SIGPIPE. An
unexpected internal error is one line too, asking for a report; ``DIFFKIT_DEBUG=1`` adds the
traceback.
"""

from __future__ import annotations

import argparse
import errno
import importlib
import io
import os
import shlex
import sys
import traceback
import warnings
from collections.abc import Sequence
from typing import Any, NoReturn

from ..errors import DiffkitError
from .common import CLIError, HelpFormatter, one_line

#: Subcommand modules, in the order ``diffkit --help`` lists them. Each has ``register(subparsers)``.
COMMANDS = ("demo", "grad", "trace", "compare", "train")

#: exit statuses
ERROR, USAGE, INTERRUPTED, BROKEN_PIPE = 1, 2, 130, 141

EPILOG = """\
exit status: 0 done, 1 error, 2 bad command line, 130 interrupted, 141 stdout closed.
Every error is one line on stderr; DIFFKIT_DEBUG=1 adds the traceback.
'diffkit COMMAND --help' shows a command's options and examples."""


class Parser(argparse.ArgumentParser):
    """argparse with its usage errors on one line: ``diffkit grad: error: … (see … --help)``,
    and a hint where an EXPR that starts with '-' was taken for an option."""

    #: the command line being parsed (set by :func:`main`), for the hint
    argv: Sequence[str] = ()

    def error(self, message: str) -> NoReturn:
        _say(f"{self.prog}: error: {one_line(message)}{self._dash_hint(message)} "
             f"(see '{self.prog} --help')")
        raise SystemExit(USAGE)

    def _dash_hint(self, message: str) -> str:
        """How to pass an EXPR that starts with '-' ("-x^2" reads as an option, so argparse
        says EXPR is missing), or, after '--' (where everything is EXPR), where the options go.
        Empty when neither applies."""
        if "required" not in message or not any(a.metavar == "EXPR" for a in self._actions):
            return ""
        command = self.prog.split()[-1]
        argv = list(self.argv)
        tokens = argv[argv.index(command) + 1:] if command in argv else argv
        if "--" in tokens:
            i = tokens.index("--")
            before, after = tokens[:i], tokens[i + 1:]
            options = [t for t in after[1:] if self._is_option(t)]
            if not after or not options:
                return ""
            example = shlex.join(["diffkit", command, *before, *after[1:], "--", after[0]])
            return (f"; everything after -- is EXPR: put {options[0].split('=')[0]} before -- "
                    f"({example})")
        if "EXPR" not in message:
            return ""
        expr = next((t for t in tokens if t.startswith("-") and t != "-"
                     and not self._is_option(t)), None)
        if expr is None:
            return ""
        rest = [t for t in tokens if t is not expr]
        example = shlex.join(["diffkit", command, *rest, "--", expr])
        return (f"; EXPR {expr!r} starts with '-', so it reads as an option: put -- before it, "
                f"after the options ({example}), or write it as ' {expr}' or '({expr})'")

    def _is_option(self, token: str) -> bool:
        """Whether argparse reads `token` as one of this parser's options (an unambiguous
        prefix of a long option included, and --name=value)."""
        name = token.split("=", 1)[0] if token.startswith("--") else token
        options = self._option_string_actions
        return name in options or (name.startswith("--") and len(name) > 2 and any(
            o.startswith(name) for o in options))


def build_parser() -> tuple[Parser, dict[str, Parser]]:
    """The top-level parser and each subcommand's parser, by name."""
    from .. import __version__

    parser = Parser(
        prog="diffkit",
        description="Differentiate functions four ways, draw evaluation traces, compare methods, "
        "train neural networks.",
        epilog=EPILOG,
        formatter_class=HelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"diffkit {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands: dict[str, Parser] = {}
    for name in COMMANDS:
        try:
            module = importlib.import_module(f"{__name__}.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"{__name__}.{name}":
                raise
            continue
        module.register(sub)
        commands[name] = sub.choices[name]
    return parser, commands


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line and return its exit status. Nothing escapes as an exception: usage
    errors, --help and --version return their status too, instead of raising SystemExit."""
    closed = sys.stdout is None  # started with stdout closed (>&-): Python leaves it None
    if closed:
        sys.stdout = _ClosedStdout()
    try:
        return _main(argv)
    except BrokenPipeError:  # the reader went away (| head): stop quietly, as SIGPIPE would
        _quiet_stdout()
        return BROKEN_PIPE
    finally:
        if closed:
            sys.stdout = None


class _ClosedStdout(io.TextIOBase):
    """Stands in for a stdout that was closed before diffkit started: output to it is a closed
    pipe, so the command stops as it would at ``| head`` (argparse, which ignores a failed write
    of --help or --version, is caught by the flush that follows)."""

    written = False

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        self.written = True
        raise BrokenPipeError(errno.EPIPE, "stdout is closed")

    def flush(self) -> None:
        if self.written:
            raise BrokenPipeError(errno.EPIPE, "stdout is closed")


def _main(argv: Sequence[str] | None) -> int:
    parser, commands = build_parser()
    given = list(sys.argv[1:] if argv is None else argv)
    for p in (parser, *commands.values()):
        p.argv = given
    try:
        args, extra = parser.parse_known_args(argv)
        args.argv = given  # train --workers re-runs it
        if extra:
            (commands.get(args.command) or parser).error(
                f"unrecognized arguments: {' '.join(extra)}")
    except SystemExit as exc:  # --help, --version, or a usage error already printed
        sys.stdout.flush()
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else USAGE)
    if not getattr(args, "run", None):
        parser.print_help()
        return USAGE
    command = f"diffkit {args.command}"
    debug = os.environ.get("DIFFKIT_DEBUG", "") not in ("", "0")

    def shown(text: Warning | str, category: type[Warning], filename: str, lineno: int,
              file: Any = None, line: str | None = None) -> None:
        """A warning as one line on stderr, as errors are (not Python's file:line form)."""
        _say(f"{command}: warning: {one_line(str(text))}")

    try:
        with warnings.catch_warnings():
            warnings.showwarning = shown
            status = int(args.run(args) or 0)
        sys.stdout.flush()  # a closed pipe shows here, inside main, not at interpreter exit
        return status
    except BrokenPipeError:
        raise
    except KeyboardInterrupt:
        _say(f"{command}: error: interrupted")
        return INTERRUPTED
    except (CLIError, DiffkitError, OSError) as exc:
        if debug:
            traceback.print_exc()
        _say(f"{command}: error: {message(exc)}")
        return ERROR
    except MemoryError:
        if debug:
            traceback.print_exc()
        _say(f"{command}: error: out of memory (try smaller inputs)")
        return ERROR
    except Exception as exc:  # noqa: BLE001 (a bug: one line, and the traceback on request)
        if debug:
            traceback.print_exc()
        how = "" if debug else " (DIFFKIT_DEBUG=1 shows the traceback)"
        _say(f"{command}: error: internal error, {type(exc).__name__}: {message(exc)}; "
             f"please report this{how}")
        return ERROR


def message(exc: BaseException) -> str:
    """An exception as one line of text for the user."""
    if isinstance(exc, OSError) and exc.strerror and exc.filename:
        return f"{exc.filename}: {exc.strerror}"
    return one_line(str(exc)) or type(exc).__name__


def _say(line: str) -> None:
    if sys.stderr is None:  # closed (2>&-): print would fall back to stdout
        return
    try:
        print(line, file=sys.stderr)
    except (OSError, ValueError):  # stderr is gone too: nothing left to tell
        pass


def _quiet_stdout() -> None:
    """Point stdout at the null device, so that Python's own flush at exit finds no broken pipe."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError):  # in-process stdout without a file descriptor
        pass


if __name__ == "__main__":
    sys.exit(main())
