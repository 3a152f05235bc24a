"""The "auto" method: forward or reverse mode, whichever a small cost model says is cheaper.

A Jacobian costs forward mode one pass carrying n tangents, and reverse mode one memoizing pass
plus one adjoint sweep carrying m cotangent rows. In diffkit a pass costs a fixed interpreter
overhead per operation (the n tangents, or the m cotangent rows, ride along as one array at NumPy
speed) plus the array work:

    forward ≈ c_pass + N·c_fwd + n·W·c_el      reverse ≈ c_pass + 2·N·c_rev + m·W·c_el

with N the operations that depend on the inputs, W the array work of one tangent through them
(elements, or multiply-adds for matmul). The two are mirror images, so the textbook rule
"forward when n ≤ m, reverse when n > m" is what the model gives, up to the per-operation
overheads. The estimate is computed once per Function and input shapes (one trace), so choosing
costs nothing afterwards.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from ..function import Function, signature
from ..ir import Node
from .base import Engine, Pullback, gradient_function, size_of
from .forward import ForwardEngine
from .reverse import ReverseEngine

#: seconds: per pass or sweep, per operation in a forward pass / a reverse sweep, per element of
#: array work (measured on a 2-core x86 machine with NumPy 2; the ratios are what matter)
C_PASS, C_FWD, C_REV, C_EL = 30e-6, 8e-6, 4e-6, 0.3e-9


def work(node: Node) -> int:
    """Array work of one application, from the record's cost rule (default: every element read
    or written once)."""
    cost = node.prim.cost
    if cost is not None:
        return int(cost([i.shape for i in node.inputs], node.shape))
    return node.size + sum(i.size for i in node.inputs)


class AutoEngine(Engine):
    """Picks forward or reverse mode from n, m and the graph's work; ``explain()`` says why.

    Example:
        >>> import diffkit as dk, numpy as np
        >>> jac = dk.jacobian(lambda x: dk.sin(x) * 2.0, method="auto")
        >>> _ = jac(np.zeros(3))
        >>> jac.engine.last_choice
        'forward'
    """

    name = "auto"

    def __init__(self) -> None:
        super().__init__()
        self.forward = ForwardEngine()
        self.reverse = ReverseEngine()
        self.last_choice: str | None = None
        self.last_reason: str | None = None

    def estimate(self, fn: Function, args: Sequence[Any], wrt: Sequence[int]) -> tuple[int, int, float, float]:
        """(n, m, forward seconds, reverse seconds) from the cost model (cached per shapes)."""
        return self._estimate(fn, args, wrt)[0]

    def _estimate(self, fn: Function, args: Sequence[Any], wrt: Sequence[int]
                  ) -> tuple[tuple[int, int, float, float], Any]:
        """The estimate, and the function for the chosen engine: a Python function's trace made
        here is handed on (:class:`_Pretraced`), so it runs once per call."""
        n = sum(size_of(args[i]) for i in wrt)
        key = ("auto", signature(args), tuple(wrt))
        found = fn.cache.get(key)
        target: Any = fn
        if found is None:
            graph = fn.trace(*args, wrt=wrt)
            active = {graph.inputs[i] for i in wrt}
            ops, elements = 0, 0
            for node in graph.nodes:
                if node.prim is None or not node.prim.differentiable:
                    continue
                if not any(i in active for i in node.inputs):
                    continue
                active.add(node)
                ops += 1
                elements += work(node)
            found = (graph.output.size, ops, elements)
            if fn.reusable and not graph.value_dependent:
                fn.cache[key] = found
            else:  # a Python function: the chosen engine reuses this trace of this call
                target = _Pretraced(fn, graph, args, wrt)
        m, ops, elements = found
        forward = C_PASS + ops * C_FWD + n * elements * C_EL
        reverse = C_PASS + 2 * ops * C_REV + m * elements * C_EL
        return (n, m, forward, reverse), target

    def choose(self, fn: Function, args: Sequence[Any], wrt: Sequence[int]) -> Engine:
        return self._choose(fn, args, wrt)[0]

    def _choose(self, fn: Function, args: Sequence[Any], wrt: Sequence[int]) -> tuple[Engine, Any]:
        (n, m, fwd, rev), target = self._estimate(fn, args, wrt)
        costs = compared(fwd, rev)
        if fwd <= rev:
            self.last_choice, eng = "forward", self.forward
            self.last_reason = (f"n = {n} input{'s' if n != 1 else ''}, m = {m} output"
                                f"{'s' if m != 1 else ''}: forward (one pass, {n} tangent{'s' if n != 1 else ''}); "
                                f"{costs}")
        else:
            self.last_choice, eng = "reverse", self.reverse
            self.last_reason = (f"n = {n} input{'s' if n != 1 else ''}, m = {m} output"
                                f"{'s' if m != 1 else ''}: reverse (one sweep, {m} cotangent row"
                                f"{'s' if m != 1 else ''}); "
                                f"{costs}")
        return eng, target

    def explain(self) -> str:
        """Why the last call chose forward or reverse mode."""
        return self.last_reason or "auto has not been called yet"

    def jacobian(self, fn: Function, args: Sequence[Any], wrt: Sequence[int]) -> tuple[Any, Any]:
        engine, target = self._choose(fn, args, wrt)
        return engine.jacobian(target, args, wrt)

    def vjp(self, fn: Function, args: Sequence[Any], wrt: Sequence[int]) -> tuple[Any, Pullback]:
        self.last_choice, self.last_reason = "reverse", "a VJP is one reverse sweep"
        return self.reverse.vjp(fn, args, wrt)

    def jvp(self, fn: Function, args: Sequence[Any], tangents: Sequence[Any]) -> tuple[Any, Any]:
        self.last_choice, self.last_reason = "forward", "a JVP is one forward pass"
        return self.forward.jvp(fn, args, tangents)

    def value_and_grad(self, fn: Function, args: Sequence[Any], wrt: Sequence[int]
                       ) -> tuple[Any, tuple[Any, ...]]:
        engine, target = self._choose(fn, args, wrt)
        return engine.value_and_grad(target, args, wrt)

    def hessian(self, fn: Function, args: Sequence[Any], wrt: Sequence[int]) -> Any:
        self.last_choice, self.last_reason = "forward", (
            "a Hessian is forward over reverse: one forward pass through the reverse gradient")
        return self.forward.jacobian(gradient_function(self.reverse, fn, wrt), args, wrt)[1]

    def derivative(self, fn: Function, x: Any, n: int) -> Any:
        self.last_choice, self.last_reason = "forward", (
            "one input and one output: forward mode (nested dual numbers) costs least")
        return self.forward.derivative(fn, x, n)


def compared(fwd: float, rev: float) -> str:
    """The two estimates in µs with as many decimals as show which is smaller (the model's
    difference, (n − m)·W·c_el, is often nanoseconds in tens of µs), or that they tie."""
    a, b = fwd * 1e6, rev * 1e6
    if a == b:
        return f"estimated forward {a:.3g} µs = reverse {b:.3g} µs (a tie: forward)"
    decimals = max(0, 2 - math.floor(math.log10(max(abs(a), abs(b)))))  # 3 significant digits
    while f"{a:.{decimals}f}" == f"{b:.{decimals}f}" and decimals < 30:
        decimals += 1
    return f"estimated forward {a:.{decimals}f} µs vs reverse {b:.{decimals}f} µs"


class _Pretraced:
    """A Python function whose trace at this call the cost estimate already made: the chosen
    engine's ``trace`` with the same arguments (the same objects) and ``wrt`` gets that graph once
    instead of running the function again; anything else goes to the function itself."""

    def __init__(self, fn: Function, graph: Any, args: Sequence[Any], wrt: Sequence[int]) -> None:
        self._fn, self._graph, self._args, self._wrt = fn, graph, tuple(args), tuple(wrt)

    def trace(self, *args: Any, wrt: Sequence[int] | None = None) -> Any:
        graph, self._graph = self._graph, None
        if (graph is not None and wrt is not None and tuple(wrt) == self._wrt
                and len(args) == len(self._args) and all(a is b for a, b in zip(args, self._args))):
            return graph
        return self._fn.trace(*args, wrt=wrt)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._fn, name)
