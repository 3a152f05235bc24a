"""Compare every differentiation method on the seeds' example, draw the three plots, show the code.

    python examples/compare_methods.py [OUT_DIR]   # plots into OUT_DIR (default ./diffkit-output/)
    python examples/compare_methods.py --docs      # regenerate the repository's docs/img/compare_*
"""

from __future__ import annotations

import argparse
from pathlib import Path

import diffkit as dk
from diffkit import compile_gradient, plots

DOCS_IMG = Path(__file__).resolve().parents[1] / "docs" / "img"

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("out", nargs="?", default="diffkit-output", type=Path,
                    help="folder for the plots, created if needed (default: ./diffkit-output/)")
parser.add_argument("--docs", action="store_true",
                    help=f"write into the repository's docs/img ({DOCS_IMG}) instead")
args = parser.parse_args()
out = DOCS_IMG if args.docs else args.out
out.mkdir(parents=True, exist_ok=True)

f = dk.parse("ln(x1) + x1*x2 - sin(x2)")

cmp = dk.compare(f, 2.0, 5.0)
print(cmp)  # a table: value, error against the exact reference, time, setup, evaluations, memory

# where a finite-difference step spans a pole, the answer is wrong and the row's note says so
# ("warned: far from the traced derivative"); dk.grad(f, method="fd") warns the same way
print(dk.compare("1/x", 1e-6, methods=["fd-central", "fd-richardson", "reverse"]))

plots.plot_fd_error(f, 2.0, 5.0).savefig(out / "compare_fd_error.png", dpi=110)
plots.plot_cost().savefig(out / "compare_cost.png", dpi=110)
plots.plot_swell(f, 2.0, 5.0).savefig(out / "compare_swell.png", dpi=110)
print("wrote", *(out / f"compare_{n}.png" for n in ("fd_error", "cost", "swell")))

print(compile_gradient(f, 2.0, 5.0).source)  # the straight-line code the "compiled" method runs
