"""A tiny postfix program of diffkit operations: what parsed text and SymPy expressions become.

Running it is a loop over a stack, so very long expressions (x + x + … + x) never recurse.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from .function import Function

# Instructions: ("input", index) | ("const", value) | ("call", op_function, argument_count)
Instruction = tuple[str, Any] | tuple[str, Any, int]


@dataclass(frozen=True)
class Program:
    """A straight-line expression in postfix form over named inputs."""

    inputs: tuple[str, ...]
    code: tuple[Instruction, ...]

    def __call__(self, *args: Any) -> Any:
        stack: list[Any] = []
        push, pop = stack.append, stack.pop
        for ins in self.code:
            kind = ins[0]
            if kind == "input":
                push(args[ins[1]])
            elif kind == "const":
                push(ins[1])
            else:
                fn: Callable[..., Any] = ins[1]
                n = ins[2]
                operands = stack[-n:]
                del stack[-n:]
                push(fn(*operands))
        return pop()


def program_function(inputs: Sequence[str], code: Sequence[Instruction], name: str, text: str | None) -> Function:
    """A pure :class:`Function` whose body runs the postfix `code` (so traces may be reused)."""
    prog = Program(tuple(inputs), tuple(code))
    return Function(prog, prog.inputs, name=name, text=text, pure=True)
