"""Evaluation traces and drawings: Baydin et al.'s primal, tangent and adjoint tables, Graphviz
pictures of them, and files written from those pictures.

Layers, one way: ``formats`` (notations) → ``rows`` (table rows, symbolic local derivatives)
→ ``drawing`` (Graphviz) → ``trace`` (the Trace built from the engines' sweeps) → this module.
"""

from __future__ import annotations

from typing import Any

from ..tensor import Tensor
from .drawing import (
    FORMATS,
    MAX_NODES,
    DrawingTooLargeError,
    GraphvizMissingError,
    draw_symbolic,
    draw_trace,
    layout_program,
    render,
)
from .rows import Partial, Row
from .trace import Trace, tensor_trace, trace


def draw(
    f: Any,
    *point: Any,
    mode: str = "reverse",
    seed: Any = None,
    show: Any = None,
    method: str | None = None,
    digits: int = 3,
    max_nodes: int | None = MAX_NODES,
) -> Any:
    """Draw the computational graph of `f` at `point` as a ``graphviz.Digraph``.

    Args:
        f: a Function, math text, SymPy expression or callable; or a :class:`Trace`; or a
            Tensor computed eagerly (``dk.draw(loss)`` after ``loss = nn.cross_entropy(…)``, as
            torchviz draws one), without a point: the graph recorded behind it, with the leaves
            that require a gradient as inputs and the other leaves as constants.
        mode: "reverse" (adjoints v̄ flowing back, in blue) or "forward" (tangents v̇).
        show: what to put on the drawing: some of "value", "tangent", "adjoint", "partial",
            "contribution" (or "all"); by default what the mode computes.
        method: "symbolic" draws the symbolic gradient's expression trees instead.
        max_nodes: larger graphs are refused with :class:`DrawingTooLargeError` (None: no limit).

    Example:
        >>> import diffkit as dk
        >>> g = dk.draw("ln(x1) + x1*x2 - sin(x2)", 2, 5)
        >>> "v_m1 -> v1" in g.source
        True
    """
    if method not in (None, "reverse", "forward", "symbolic"):
        raise ValueError(f"draw: method must be 'symbolic' or None, got {method!r}")
    if type(f) is Tensor:
        if point:
            raise TypeError("a Tensor's graph was recorded at its values: pass no point "
                            "(dk.draw(loss))")
        if method == "symbolic":
            raise ValueError("draw: method='symbolic' needs a function, not a recorded Tensor")
        t = tensor_trace(f, mode=method or mode, seed=seed, max_nodes=max_nodes)
        return draw_trace(t, show=show, digits=digits, max_nodes=max_nodes)
    if method == "symbolic":
        return draw_symbolic(f, *point, max_nodes=max_nodes)
    if isinstance(f, Trace):
        return draw_trace(f, show=show, digits=digits, max_nodes=max_nodes)
    t = trace(f, *point, mode=method or mode, seed=seed)
    return draw_trace(t, show=show, digits=digits, max_nodes=max_nodes)


__all__ = [
    "FORMATS",
    "MAX_NODES",
    "DrawingTooLargeError",
    "GraphvizMissingError",
    "Partial",
    "Row",
    "Trace",
    "draw",
    "draw_symbolic",
    "draw_trace",
    "layout_program",
    "render",
    "tensor_trace",
    "trace",
]
