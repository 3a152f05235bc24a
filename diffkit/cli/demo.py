"""``diffkit demo``: differentiate four ways, compare the methods, draw a trace, train a small MLP."""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

import numpy as np

from .common import CLIError, add_json_argument, int_range, print_json

EXPR = "ln(x1) + x1*x2 - sin(x2)"
POINT = (2.0, 5.0)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("demo", help="a tour: four differentiators, a comparison, a trace, an MLP",
                       description="Differentiate the course notes' example four ways, compare the "
                       "methods, print and draw its evaluation traces, and train a small MLP.")
    p.add_argument("--out", default="diffkit-demo", metavar="FOLDER",
                   help="folder for the pictures, made if missing (default: diffkit-demo)")
    p.add_argument("--epochs", type=int_range(0), default=15,
                   help="MLP training epochs, 0 or more (default 15)")
    add_json_argument(p, "a summary (gradients, comparison, pictures written, test accuracy) "
                      "instead of the tour")
    p.set_defaults(run=run)


def _heading(text: str) -> str:
    return f"\n{'=' * 78}\n{text}\n{'=' * 78}"


def run(args: argparse.Namespace) -> int:
    import diffkit as dk

    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise CLIError(f"--out {args.out}: is a file, not a folder")
    out.mkdir(parents=True, exist_ok=True)
    f = dk.parse(EXPR)
    say = print if not args.json else _silent
    gradients = {m: dk.grad(f, method=m)(*POINT) for m in ("fd", "symbolic", "forward", "reverse")}
    exact = dk.symbolic(f)

    say(_heading(f"1. Differentiate f(x1, x2) = {EXPR} at (2, 5) four ways"))
    say(f"f(2, 5) = {f(*POINT)!r}")
    for method, g in gradients.items():
        say(f"  {method:<9} grad = {g}")
    say(f"  exact: df/dx1 = {exact.expressions[0]},  df/dx2 = {exact.expressions[1]}")
    say("\nThe IR, in the course notes' notation:")
    say(f.listing(*POINT))

    say(_heading("2. Compare the methods: value, error against an exact reference, cost"))
    comparison = dk.compare(f, *POINT)
    say(comparison.to_text())

    say(_heading("3. The evaluation traces (Baydin et al. 2018) and the graph"))
    trace = dk.trace(f, *POINT, mode="reverse")
    say(trace.to_text())
    say()
    say(dk.trace(f, *POINT, mode="forward").to_text())
    files = _draw(trace, out, say)

    say(_heading("4. Train an MLP 64-64-10 on scikit-learn's digits with the reverse engine"))
    seconds, accuracy = _train(args.epochs, progress=not args.json)
    say(f"trained {args.epochs} epochs in {seconds:.1f} s")
    say(f"test accuracy: {accuracy:.3f}")
    if args.json:
        print_json({
            "command": "demo", "expression": EXPR, "inputs": list(f.inputs),
            "point": dict(zip(f.inputs, POINT)), "value": f(*POINT),
            "gradients": {m: dict(zip(f.inputs, g)) for m, g in gradients.items()},
            "exact": [str(e) for e in exact.expressions],
            "comparison": comparison.to_dict(),
            "files": [str(p) for p in files],
            "training": {"model": "MLP 64-64-10", "dataset": "digits", "epochs": args.epochs,
                         "seconds": seconds, "test_accuracy": accuracy},
        })
    return 0


def _silent(*args: Any) -> None:
    """print's stand-in under --json: the tour's text is not printed."""


def _draw(trace: Any, out: Path, say: Any) -> list[Path]:
    from ..traces import GraphvizMissingError, render

    drawing = trace.draw()
    files = []
    for suffix in (".svg", ".png"):
        path = out / f"baydin_reverse{suffix}"
        try:
            files.append(render(drawing, path))
            say(f"drew the reverse-mode graph: {path}")
        except GraphvizMissingError as exc:
            dot = render(drawing, out / "baydin_reverse.dot")
            files.append(dot)
            say(f"wrote DOT source {dot} ({exc})")
            break
    return files


def _train(epochs: int, progress: bool) -> tuple[float, float]:
    """Seconds spent and test accuracy."""
    from .. import nn

    nn.manual_seed(0)
    X, y = nn.load_digits()
    X_train, X_test, y_train, y_test = nn.train_test_split(X, y, test_size=0.2, seed=0)
    model = nn.MLP([64, 64, 10], activation="relu")
    trainer = nn.Trainer(model, optimizer=nn.Adam(model.parameters(), lr=3e-3), progress=progress)
    start = time.perf_counter()
    trainer.fit(nn.DataLoader(X_train, y_train, batch_size=32, shuffle=True, seed=0),
                val_data=(X_test, y_test), epochs=epochs)
    acc = nn.accuracy(nn.predict(model, X_test), y_test)
    return time.perf_counter() - start, float(np.asarray(acc))
