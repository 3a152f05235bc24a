"""Plain functions every engine must differentiate identically (after google/tangent's functions.py).

Each entry: a function (math text, or a Python function of diffkit operations), a point, and where
practical the gradient derived by hand. The seeds' worked examples come first.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

import diffkit as dk


@dataclass(frozen=True)
class Entry:
    name: str
    fn: Any  # math text or a Python callable of diffkit ops
    args: tuple[Any, ...]
    grad: Callable[..., tuple[Any, ...]] | None = None  # hand-derived gradient
    black_box: bool = True  # False: finite differences cannot see it (stop_gradient)

    def function(self) -> dk.Function:
        if isinstance(self.fn, str):
            return dk.parse(self.fn, name=self.name)
        return dk.function(self.fn)


def _sigmoid(z: float) -> float:
    return 1.0 / (1.0 + np.exp(-z))


def poly_abc(x, a, b, c):
    return a * x**2 + b * x + c


def reuse(a):
    b = a + a
    return b + b


def shared_subexpression(x, y):
    s = dk.sin(x * y)
    return s * s + s * x


def vector_norm(v):
    return dk.sqrt(dk.sum(v * v))


def quadratic_form(A, x):
    return x @ (A @ x)


def softmax_entry(v):
    return dk.softmax(v)[1]


def logsumexp_entry(v):
    return dk.logsumexp(v)


def branch_free_kinks(x, y):
    return dk.relu(x - 1.0) + dk.abs(y) + dk.maximum(x, y)


def indexing(v):
    return dk.sum(v[np.array([0, 2])] * v[1:])


def stopped(x, y):
    return x * dk.stop_gradient(x * y) + dk.sign(x) * y


CORPUS = [
    Entry("baydin", "ln(x1) + x1*x2 - sin(x2)", (2.0, 5.0),
          lambda x1, x2: (1 / x1 + x2, x1 - np.cos(x2))),
    Entry("seed003", "x^2*y + y + 2", (3.0, 4.0), lambda x, y: (2 * x * y, x**2 + 1)),
    Entry("seed004", poly_abc, (1.5, 2.0, -3.0, 0.5),
          lambda x, a, b, c: (2 * a * x + b, x**2, x, 1.0)),
    Entry("reuse", reuse, (1.0,), lambda a: (4.0,)),
    Entry("sigmoid-neuron", "sigmoid(w*x + b)", (0.3, -1.2, 0.4),
          lambda w, x, b: (_sigmoid(w * x + b) * (1 - _sigmoid(w * x + b)) * x,
                           _sigmoid(w * x + b) * (1 - _sigmoid(w * x + b)) * w,
                           _sigmoid(w * x + b) * (1 - _sigmoid(w * x + b)))),
    Entry("log-1-plus-x2", "log(1 + x^2) * sqrt(1 + y^2)", (0.7, -1.3),
          lambda x, y: (2 * x / (1 + x**2) * np.sqrt(1 + y**2),
                        np.log(1 + x**2) * y / np.sqrt(1 + y**2))),
    Entry("quotient", "(x - y) / (x + y)", (2.0, 0.5),
          lambda x, y: (2 * y / (x + y) ** 2, -2 * x / (x + y) ** 2)),
    Entry("power-tower", "x^y", (1.7, 2.3),
          lambda x, y: (y * x ** (y - 1), x**y * np.log(x))),
    Entry("trig-mix", "tan(x)*cos(y) + arctan(x*y)", (0.4, 0.9),
          lambda x, y: (np.cos(y) / np.cos(x) ** 2 + y / (1 + (x * y) ** 2),
                        -np.tan(x) * np.sin(y) + x / (1 + (x * y) ** 2))),
    Entry("hyperbolic", "tanh(x) + sinh(x)*cosh(y)", (0.3, -0.6),
          lambda x, y: (1 - np.tanh(x) ** 2 + np.cosh(x) * np.cosh(y), np.sinh(x) * np.sinh(y))),
    Entry("shared", shared_subexpression, (0.8, 1.1),
          lambda x, y: (2 * np.sin(x * y) * np.cos(x * y) * y + np.cos(x * y) * y * x
                        + np.sin(x * y),
                        2 * np.sin(x * y) * np.cos(x * y) * x + np.cos(x * y) * x * x)),
    Entry("kinks-away-from-0", branch_free_kinks, (1.5, -0.5), lambda x, y: (2.0, -1.0)),
    Entry("norm", vector_norm, (np.array([3.0, 4.0, 12.0]),),
          lambda v: (v / np.linalg.norm(v),)),
    Entry("quadratic-form", quadratic_form,
          (np.array([[2.0, 1.0], [0.5, 3.0]]), np.array([1.0, -2.0])),
          lambda A, x: (np.outer(x, x), (A + A.T) @ x)),
    Entry("softmax", softmax_entry, (np.array([0.1, 1.2, -0.3]),), None),
    Entry("logsumexp", logsumexp_entry, (np.array([0.1, 1.2, -0.3]),),
          lambda v: (np.exp(v) / np.exp(v).sum(),)),
    Entry("stop-gradient-and-sign", stopped, (-1.5, 0.5), lambda x, y: (x * y, -1.0),
          black_box=False),
    Entry("indexing", indexing, (np.array([1.0, 2.0, 3.0]),),
          lambda v: (np.array([v[1], v[0], 2 * v[2]]),)),
]
