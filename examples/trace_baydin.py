"""Baydin et al. (2018), Tables 2 and 3, as traces: y = ln(x1) + x1*x2 - sin(x2) at (2, 5).

Prints the primal, tangent (ẋ1 = 1) and adjoint traces, and draws the reverse-mode graph with the
memoized local partials (red) and the adjoint contributions flowing back (blue) into docs/img/.

    python examples/trace_baydin.py [OUT_DIR]
"""

from __future__ import annotations

import sys
from pathlib import Path

import diffkit as dk

f = dk.parse("ln(x1) + x1*x2 - sin(x2)")

forward = dk.trace(f, 2.0, 5.0, mode="forward")  # seed ẋ = e₁ = (1, 0)
reverse = dk.trace(f, 2.0, 5.0, mode="reverse")  # seed ȳ = 1
print(forward.to_text(), end="\n\n")
print(reverse.to_text(), end="\n\n")
print("∂y/∂x1 =", forward.derivative, "   gradient =", reverse.derivative)

out = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).parents[1] / "docs" / "img"
out.mkdir(parents=True, exist_ok=True)
for suffix in (".dot", ".svg", ".png"):
    try:
        print("wrote", dk.render(reverse.draw(), out / f"baydin_reverse{suffix}"))
        print("wrote", dk.render(forward.draw(), out / f"baydin_forward{suffix}"))
    except FileNotFoundError as exc:  # no dot / graphviz-pure: the DOT files are still written
        print(exc)
print("wrote", dk.render(dk.draw(f, 2.0, 5.0, method="symbolic"), out / "baydin_symbolic.svg"))
