"""The NumPy/SciPy coverage page (docs/numpy.md), generated from the table's records.

``python -m diffkit.coverage > docs/numpy.md`` writes it; a test checks the committed page is
what the table says today.
"""

from __future__ import annotations

import sys
from typing import Any

from . import primitives
from .primitive import COMPOSITES, NUMPY_NAMES, REGISTRY, SCIPY_NAMES, Composite, Primitive
from .primitives.declare import NAMES

FAMILIES = {
    "elementwise": "Arithmetic, elementary functions, complex parts, comparisons",
    "ufuncs": "More NumPy ufuncs",
    "structure": "Core reductions, shapes and indexing",
    "reductions": "Reductions, sorting and selection",
    "assembly": "Shapes and assembly",
    "products": "Products",
    "linalg": "Linear algebra (numpy.linalg)",
    "special": "Stable special functions",
    "scipy_special": "scipy.special",
    "neural": "Neural-net operations (diffkit.nn)",
    "polynomials": "Polynomials, convolution, interpolation and grids",
    "nanfunctions": "NaN-ignoring reductions and quantiles",
    "fft": "Discrete Fourier transforms (numpy.fft) and piecewise",
}


def _names(rec: Any) -> str:
    np_names = [f"`np.{n}`" for n in rec.numpy]
    sp_names = [f"`scipy.special.{n}`" for n in rec.scipy]
    return ", ".join(np_names + sp_names) or "—"


def _complex(rec: Any) -> str:
    if isinstance(rec, Composite):
        return "as its parts"
    if not rec.differentiable:
        return "values only"
    if rec.kind == "elementwise":
        if rec.holomorphic:
            return "yes: f′(z)"
        return "yes: Wirtinger" if rec.wirtinger is not None else "refused by name"
    return "yes (linear)" if rec.linear else "real inputs"


def _symbolic(rec: Any) -> str:
    if isinstance(rec, Composite):
        return "as its parts"
    return "no: MissingRuleError" if rec.sympy is False else "yes"


def _engines(rec: Any) -> str:
    if isinstance(rec, Primitive) and not rec.differentiable:
        return "constant (no derivative)"
    return "reverse, forward, fd"


def _notes(rec: Any) -> str:
    parts = []
    if isinstance(rec, Primitive):
        for point, expected in rec.special:
            if expected == "nondifferentiable":
                parts.append(f"not differentiable at {point}")
            else:
                parts.append(f"∂ at {point} = {tuple(float(e) for e in expected)}")
        if rec.domain_text:
            parts.append(rec.domain_text)
    doc = (rec.doc or "").strip().splitlines()
    first = doc[0] if doc and "(a primitive: see" not in doc[0] else ""
    if first:
        parts.insert(0, first.rstrip(".") if parts else first)
    return "; ".join(parts).replace("|", "\\|")


def coverage_markdown() -> str:
    """The whole page."""
    lines = [
        "# NumPy and SciPy coverage",
        "",
        "Generated from diffkit's table (`python -m diffkit.coverage > docs/numpy.md`): every",
        "function a traced value can be given in plain NumPy/SciPy spelling, the diffkit function",
        "it dispatches to, whether it is a *primitive* (its own derivative rules) or a *composite*",
        "(an exact composition of primitives, differentiated through them), and what each engine",
        "does with it. Finite differences treat every function as a black box, so they work on",
        "anything. A NumPy function not listed here raises `MissingRuleError` naming the",
        "alternative (`dk.*`, or `method='fd'`). Conventions at kinks, ties and singular points are",
        "stated once in [design.md](design.md).",
        "",
    ]
    by_family: dict[str, list[Any]] = {}
    for name, module in NAMES.items():
        family = module.rsplit(".", 1)[-1]
        rec = REGISTRY.get(name) or COMPOSITES.get(name)
        if rec is not None:
            by_family.setdefault(family, []).append(rec)
    total = 0
    for family, title in FAMILIES.items():
        recs = by_family.get(family, [])
        if not recs:
            continue
        lines += [f"## {title}", "",
                  "| NumPy / SciPy | diffkit | kind | derivatives | symbolic | complex | notes |",
                  "|---|---|---|---|---|---|---|"]
        for rec in sorted(recs, key=lambda r: r.name):
            kind = "composite" if isinstance(rec, Composite) else rec.kind
            lines.append(f"| {_names(rec)} | `dk.{rec.name}` | {kind} | {_engines(rec)} | "
                         f"{_symbolic(rec)} | {_complex(rec)} | {_notes(rec)} |")
            total += 1
        lines.append("")
    records = {id(r) for r in (*REGISTRY.values(), *COMPOSITES.values())}
    extra = [(f"`np.{n}`", fn) for n, fn in NUMPY_NAMES.items() if id(fn) not in records]
    extra += [(f"`scipy.special.{n}`", fn) for n, fn in SCIPY_NAMES.items() if id(fn) not in records]
    if extra:
        lines += ["## Other NumPy spellings", "",
                  "Functions whose NumPy spelling needs a dispatcher of its own (a name taken by a",
                  "diffkit tool, or a form with another meaning); they call the records above.", "",
                  "| NumPy / SciPy | what it does |", "|---|---|"]
        for spelled, fn in sorted(extra, key=lambda item: item[0]):
            doc = (getattr(fn, "doc", "") or fn.__doc__ or "").strip().splitlines()
            lines.append(f"| {spelled} | {(doc[0] if doc else '').replace('|', chr(92) + '|')} |")
        lines.append("")
    lines += [f"{total} functions: {len(REGISTRY)} primitives, {len(COMPOSITES)} composites.", ""]
    return "\n".join(lines)


def main() -> int:
    sys.stdout.write(coverage_markdown())
    return 0


_ = primitives  # importing the table fills the registries

if __name__ == "__main__":
    sys.exit(main())
