"""Differentiate one function four ways, build functions three ways, and look at the IR."""

import numpy as np
import sympy as sp

import diffkit as dk

# 1. Parse math text (safely: no eval) — the Baydin et al. example from the course notes.
f = dk.parse("ln(x1) + x1*x2 - sin(x2)")
print("f(2, 5) =", f(2.0, 5.0))
for method in ("fd", "symbolic", "forward", "reverse"):
    print(f"{method:>9}:", dk.grad(f, method=method)(2.0, 5.0))

# The IR in the notes' notation (v-1, v0 inputs; v1… intermediates).
print(f.listing(2.0, 5.0))

# 2. Trace a Python function written with diffkit operations.
@dk.function
def g(x, y):
    return x**2 * y + y + 2


print("dg =", dk.grad(g)(3.0, 4.0))          # (24.0, 10.0)
print("hessian:\n", dk.hessian(g)(3.0, 4.0))

# 3. From SymPy, and back.
a, b, c, x = sp.symbols("a b c x")
q = dk.from_sympy(a * x**2 + b * x + c, inputs=[x, a, b, c])
print("dq/d(x, a, b, c) =", dk.grad(q)(2.0, 3.0, 4.0, 5.0))   # (2ax+b, x², x, 1)
print("as SymPy:", dk.parse("x^2*y + y + 2").to_sympy())

# Arrays: the Jacobian of tanh(A @ x) by every method.
A = np.arange(12.0).reshape(4, 3) / 10
h = dk.function(lambda x: dk.tanh(A @ x))
x0 = np.array([0.1, 0.2, 0.3])
for method in ("fd", "symbolic", "forward", "reverse"):
    J = dk.jacobian(h, method=method)(x0)
    print(f"{method:>9}: J[0] = {J[0]}")

# Exact symbolic expressions (and their LaTeX).
exact = dk.symbolic(f)
print("symbolic:", exact.expressions, exact.latex())
print("expression swell (tree, shared DAG, after CSE):", exact.sizes())
print(exact.source)

# Check engines against each other in a random direction, first and second order.
print(dk.check_grads(f, [2.0, 5.0], order=2))

# Plain NumPy code: traced values go through np.* (docs/numpy.md lists every function).
# Data that is not differentiated may hold NaN; clean it before it meets the weights.
data = np.array([0.5, np.nan, 2.0, 1.5])
knots, heights = np.array([0.0, 1.0, 2.0]), np.array([0.0, 1.0, 0.5])


def loss(w, data):
    clean = np.where(np.isnan(data), 0.0, data)
    fit = np.interp(w, knots, heights) + np.polyval([0.1, 0.0, 1.0], w)
    return np.add.reduce((fit - clean) ** 2) + np.nanmean(data) * np.quantile(w, 0.5)


def spectrum(w):  # the energy in a signal's half spectrum (np.fft.rfft, zero-padded to 8)
    return np.sum(np.abs(np.fft.rfft(w, n=8)) ** 2)


w0 = np.array([0.2, 0.9, 1.4, 1.7])
print(f"  spectrum: d/dw = {dk.grad(spectrum)(w0)[0]}")
for method in ("fd", "forward", "reverse"):
    print(f"{method:>9}: d loss/dw = {dk.grad(loss, wrt=0, method=method)(w0, data)[0]}")

# A dict of parameters, as JAX code keeps them: its gradient is a dict of the same keys.
layer = {"W": np.arange(6.0).reshape(3, 2) / 10, "b": np.zeros(2)}
batch = np.array([[1.0, 0.5, -1.0], [0.2, -0.3, 0.8]])


def layer_loss(p, x):
    return np.sum(np.tanh(x @ p["W"] + p["b"]) ** 2)


g_layer = dk.grad(layer_loss, wrt=0)(layer, batch)[0]
print("  d loss/dW =", g_layer["W"].tolist(), " d loss/db =", g_layer["b"].tolist())
