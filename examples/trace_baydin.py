"""Baydin et al. (2018), Tables 2 and 3, as traces: y = ln(x1) + x1*x2 - sin(x2) at (2, 5).

Prints the primal, tangent (ẋ1 = 1) and adjoint traces, and draws the reverse- and forward-mode
graphs (the memoized local partials in red, the adjoint contributions flowing back in blue) and
the symbolic gradient's expression trees.

    python examples/trace_baydin.py [OUT_DIR]   # pictures into OUT_DIR (default ./diffkit-output/)
    python examples/trace_baydin.py --docs      # regenerate the repository's docs/img/
"""

from __future__ import annotations

import argparse
from pathlib import Path

import diffkit as dk
from diffkit.traces import GraphvizMissingError

DOCS_IMG = Path(__file__).resolve().parents[1] / "docs" / "img"

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("out", nargs="?", default="diffkit-output", type=Path,
                    help="folder for the pictures, created if needed (default: ./diffkit-output/)")
parser.add_argument("--docs", action="store_true",
                    help=f"write into the repository's docs/img ({DOCS_IMG}) instead")
args = parser.parse_args()
out = DOCS_IMG if args.docs else args.out

f = dk.parse("ln(x1) + x1*x2 - sin(x2)")

forward = dk.trace(f, 2.0, 5.0, mode="forward")  # seed ẋ = e₁ = (1, 0)
reverse = dk.trace(f, 2.0, 5.0, mode="reverse")  # seed ȳ = 1
print(forward.to_text(), end="\n\n")
print(reverse.to_text(), end="\n\n")
print("∂y/∂x1 =", forward.derivative, "   gradient =", reverse.derivative)

out.mkdir(parents=True, exist_ok=True)
for suffix in (".dot", ".svg", ".png"):
    try:
        print("wrote", dk.render(reverse.draw(), out / f"baydin_reverse{suffix}"))
        print("wrote", dk.render(forward.draw(), out / f"baydin_forward{suffix}"))
    except GraphvizMissingError as exc:  # no layout program: the DOT files are still written
        print(exc)
        break
else:
    symbolic = dk.draw(f, 2.0, 5.0, method="symbolic")
    print("wrote", dk.render(symbolic, out / "baydin_symbolic.svg"))
