"""``diffkit demo``: differentiate four ways, compare the methods, draw a trace, train a small MLP."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

EXPR = "ln(x1) + x1*x2 - sin(x2)"
POINT = (2.0, 5.0)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("demo", help="a tour: four differentiators, a comparison, a trace, an MLP",
                       description="Differentiate the course notes' example four ways, compare the "
                       "methods, print and draw its evaluation traces, and train a small MLP.")
    p.add_argument("--out", default="diffkit-demo", help="folder for the pictures (default: diffkit-demo)")
    p.add_argument("--epochs", type=int, default=15, help="MLP training epochs (default 15)")
    p.set_defaults(run=run)


def _heading(text: str) -> None:
    print(f"\n{'=' * 78}\n{text}\n{'=' * 78}")


def run(args: argparse.Namespace) -> int:
    import diffkit as dk

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    f = dk.parse(EXPR)

    _heading(f"1. Differentiate f(x1, x2) = {EXPR} at (2, 5) four ways")
    print(f"f(2, 5) = {f(*POINT)!r}")
    for method in ("fd", "symbolic", "forward", "reverse"):
        print(f"  {method:<9} grad = {dk.grad(f, method=method)(*POINT)}")
    exact = dk.symbolic(f)
    print(f"  exact: df/dx1 = {exact.expressions[0]},  df/dx2 = {exact.expressions[1]}")
    print("\nThe IR, in the course notes' notation:")
    print(f.listing(*POINT))

    _heading("2. Compare the methods: value, error against an exact reference, cost")
    print(dk.compare(f, *POINT).to_text())

    _heading("3. The evaluation traces (Baydin et al. 2018) and the graph")
    trace = dk.trace(f, *POINT, mode="reverse")
    print(trace.to_text())
    print(dk.trace(f, *POINT, mode="forward").to_text())
    _draw(dk, trace, out)

    _heading("4. Train an MLP 64-64-10 on scikit-learn's digits with the reverse engine")
    _train(args.epochs)
    return 0


def _draw(dk: object, trace: object, out: Path) -> None:
    from ..traces import GraphvizMissingError, render

    drawing = trace.draw()  # type: ignore[attr-defined]
    for suffix in (".svg", ".png"):
        path = out / f"baydin_reverse{suffix}"
        try:
            render(drawing, path)
            print(f"drew the reverse-mode graph: {path}")
        except GraphvizMissingError as exc:
            dot = render(drawing, out / "baydin_reverse.dot")
            print(f"wrote DOT source {dot} ({exc})")
            break


def _train(epochs: int) -> None:
    from .. import nn

    nn.manual_seed(0)
    X, y = nn.load_digits()
    X_train, X_test, y_train, y_test = nn.train_test_split(X, y, test_size=0.2, seed=0)
    model = nn.MLP([64, 64, 10], activation="relu")
    trainer = nn.Trainer(model, optimizer=nn.Adam(model.parameters(), lr=3e-3), progress=True)
    start = time.perf_counter()
    trainer.fit(nn.DataLoader(X_train, y_train, batch_size=32, shuffle=True, seed=0),
                val_data=(X_test, y_test), epochs=epochs)
    acc = nn.accuracy(nn.predict(model, X_test), y_test)
    print(f"trained {epochs} epochs in {time.perf_counter() - start:.1f} s")
    print(f"test accuracy: {float(np.asarray(acc)):.3f}")
