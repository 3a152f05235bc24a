"""Shared helpers for the core test suite: engine names, tolerances, and Functions built per primitive."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import Any

import mpmath
import numpy as np
import pytest
from hypothesis import settings

import diffkit as dk
from diffkit.primitives import REGISTRY

settings.register_profile("core", deadline=None, derandomize=True, print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "core"))

#: the four engines, one method name each
ENGINES = ("reverse", "forward", "symbolic", "fd")
#: the engines that are exact up to rounding
EXACT = ("reverse", "forward", "symbolic")
#: every method name, finite-difference schemes included
ALL_METHODS = ("reverse", "forward", "symbolic", "fd", "fd-forward", "fd-central", "fd-complex",
               "fd-richardson")

#: tolerance of the exact engines against each other and against references
EXACT_TOL = {"rtol": 1e-12, "atol": 1e-12}
#: (rtol, atol) each finite-difference method is held to, for first and second derivatives
FD_TOL = {
    "fd": ((1e-7, 1e-8), (2e-5, 1e-5)),
    "fd-central": ((1e-7, 1e-8), (2e-5, 1e-5)),
    "fd-forward": ((1e-5, 1e-6), (2e-5, 1e-5)),
    "fd-complex": ((1e-13, 1e-14), (2e-5, 1e-5)),
    "fd-richardson": ((1e-6, 1e-7), (2e-5, 1e-5)),
}


def tol(method: str, order: int = 1) -> dict[str, float]:
    """Keyword tolerances for np.testing.assert_allclose for a method and derivative order."""
    if method in EXACT:
        return dict(EXACT_TOL)
    rtol, atol = FD_TOL[method][order - 1]
    return {"rtol": rtol, "atol": atol}


def assert_close(actual: Any, desired: Any, method: str, order: int = 1, what: str = "") -> None:
    np.testing.assert_allclose(np.asarray(actual, dtype=float), np.asarray(desired, dtype=float),
                               err_msg=f"{what} (method={method!r}, order={order})",
                               **tol(method, order))


def prim_function(name: str, nargs: int | None = None) -> dk.Function:
    """A Function that applies primitive `name` to its inputs x0, x1, … (one per argument)."""
    n = nargs if nargs is not None else REGISTRY[name].nargs
    return dk.Function(getattr(dk, name), [f"x{i}" for i in range(n)], name=name)


def flat_grads(grads: Sequence[Any]) -> np.ndarray:
    return np.concatenate([np.reshape(np.asarray(g, dtype=float), (-1,)) for g in grads])


def numeric_jacobian(f: Callable[..., Any], args: Sequence[np.ndarray], h: float) -> np.ndarray:
    """Central differences of `f` on plain NumPy arrays: exact (up to rounding) for maps that are
    linear in each argument, such as the structural primitives. Independent of every engine."""
    args = [np.asarray(a, dtype=float) for a in args]
    cols = []
    for k, a in enumerate(args):
        for idx in np.ndindex(*a.shape):
            plus = [b.copy() for b in args]
            minus = [b.copy() for b in args]
            plus[k][idx] += h
            minus[k][idx] -= h
            diff = np.asarray(f(*plus), dtype=float) - np.asarray(f(*minus), dtype=float)
            cols.append(np.reshape(diff, (-1,)) / (2 * h))
    return np.stack(cols, axis=1)


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(20240601)


@pytest.fixture(autouse=True)
def _mpmath_precision_kept() -> Any:
    """mpmath's working precision is one global of the test process: a test that sets it (the
    references at 30, 40, 50 digits) leaves it as it found it, so no other test's reference runs
    at a precision it did not ask for (the BCE references at 50 digits failed in the full suite
    after a test had set 30)."""
    prec = mpmath.mp.prec
    yield
    mpmath.mp.prec = prec
