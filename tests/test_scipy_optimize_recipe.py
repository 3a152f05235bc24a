"""README's recipe for SciPy's optimizers: jac=lambda x: g(x)[0] (dk.grad returns one gradient
per input) and hess=dk.hessian(f) reach Rosenbrock's minimum (1, 1), known by hand."""

from __future__ import annotations

import numpy as np
import pytest

import diffkit as dk

optimize = pytest.importorskip("scipy.optimize")


def rosenbrock(x):
    return 100 * (x[1] - x[0] ** 2) ** 2 + (1 - x[0]) ** 2


@pytest.mark.parametrize("method", ["BFGS", "CG", "Newton-CG", "trust-constr"])
def test_minimize_with_diffkit_derivatives(method: str) -> None:
    g = dk.grad(rosenbrock)
    extra = {"hess": dk.hessian(rosenbrock)} if method in ("Newton-CG", "trust-constr") else {}
    r = optimize.minimize(rosenbrock, np.array([-1.2, 1.0]), jac=lambda x: g(x)[0],
                          method=method, **extra)
    np.testing.assert_allclose(r.x, [1.0, 1.0], atol=1e-4)
