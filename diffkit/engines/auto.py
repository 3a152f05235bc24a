"""The "auto" method: forward mode when inputs are fewer than outputs, reverse mode otherwise."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..function import Function
from .base import Engine, Pullback, size_of
from .forward import ForwardEngine
from .reverse import ReverseEngine


class AutoEngine(Engine):
    """Picks forward (n ≤ m: one pass with n tangents) or reverse (n > m: m adjoint sweeps)."""

    name = "auto"

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.forward = ForwardEngine()
        self.reverse = ReverseEngine()
        self.last_choice: str | None = None
        self.last_reason: str | None = None

    def choose(self, fn: Function, args: Sequence[Any], wrt: Sequence[int]) -> Engine:
        graph, values = fn.graph_at(*args)
        n = sum(size_of(values[graph.inputs[i]]) for i in wrt)
        m = graph.output.size
        if n <= m:
            self.last_choice, eng = "forward", self.forward
            self.last_reason = f"n = {n} inputs <= m = {m} outputs: one forward pass with {n} tangents"
        else:
            self.last_choice, eng = "reverse", self.reverse
            self.last_reason = f"n = {n} inputs > m = {m} outputs: {m} reverse sweep(s)"
        return eng

    def explain(self) -> str:
        """Why the last call chose forward or reverse mode."""
        return self.last_reason or "auto has not been called yet"

    def jacobian(self, fn: Function, args: Sequence[Any], wrt: Sequence[int]) -> tuple[Any, Any]:
        return self.choose(fn, args, wrt).jacobian(fn, args, wrt)

    def vjp(self, fn: Function, args: Sequence[Any], wrt: Sequence[int]) -> tuple[Any, Pullback]:
        self.last_choice, self.last_reason = "reverse", "a VJP is one reverse sweep"
        return self.reverse.vjp(fn, args, wrt)

    def jvp(self, fn: Function, args: Sequence[Any], tangents: Sequence[Any]) -> tuple[Any, Any]:
        self.last_choice, self.last_reason = "forward", "a JVP is one forward pass"
        return self.forward.jvp(fn, args, tangents)

    def value_and_grad(self, fn: Function, args: Sequence[Any], wrt: Sequence[int]) -> tuple[Any, tuple[Any, ...]]:
        return self.choose(fn, args, wrt).value_and_grad(fn, args, wrt)
