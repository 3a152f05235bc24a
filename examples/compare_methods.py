"""Compare every differentiation method on the seeds' example, draw the three plots, show the code.

Run: ``python examples/compare_methods.py`` (writes compare_*.png next to where it runs).
"""

from __future__ import annotations

import diffkit as dk
from diffkit import compile_gradient, plots

f = dk.parse("ln(x1) + x1*x2 - sin(x2)")

cmp = dk.compare(f, 2.0, 5.0)
print(cmp)  # a table: value, error against the exact reference, time, setup, evaluations, memory

plots.plot_fd_error(f, 2.0, 5.0).savefig("compare_fd_error.png", dpi=110)
plots.plot_cost().savefig("compare_cost.png", dpi=110)
plots.plot_swell().savefig("compare_swell.png", dpi=110)

print(compile_gradient(f, 2.0, 5.0).source)  # the straight-line code the "compiled" method runs
