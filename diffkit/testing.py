"""Public gradient checker: compare engines on a function in a random direction.

``check_grads`` evaluates the directional derivative vᵀ∇f (order 1) or vᵀ∇²f v (order 2) with each
requested method and checks they agree: the AD and symbolic engines to ``atol + rtol·|ref|`` with
tight defaults, finite differences within their own (looser) error. On failure it raises an
AssertionError that prints every method's number.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from .api import hessian, jacobian
from .build import as_function
from .function import as_input

EXACT_METHODS = ("reverse", "forward", "symbolic")
#: tolerance (relative) each finite-difference scheme is held to, for first and second order
FD_RTOL = {"fd": (1e-6, 1e-4), "fd-central": (1e-6, 1e-4), "fd-forward": (1e-4, 1e-3),
           "fd-complex": (1e-12, 1e-4), "fd-richardson": (1e-9, 1e-4)}


def check_grads(f: Any, args: Sequence[Any], methods: Sequence[str] = ("reverse", "forward", "symbolic", "fd"),
                order: int = 1, rtol: float = 1e-10, atol: float = 1e-12, seed: int = 0) -> dict[str, float | complex]:
    """Check that `methods` agree on f's derivative at `args` along a random direction.

    Args:
        f: a Function, math text, SymPy expression or Python callable.
        args: the point.
        methods: the methods to compare; the first exact one is the reference.
        order: 1 (directional first derivative of every output) or 2 (vᵀ H v of a scalar f).
        rtol, atol: tolerance for the exact methods (finite differences use FD_RTOL).
        seed: seed of the random direction.

    Returns:
        method -> the directional derivative it gave (first output element for vector f; a
        complex number where f is complex).

    Example:
        >>> import diffkit as dk
        >>> sorted(dk.check_grads("sin(x) * y", [0.5, 2.0]))
        ['fd', 'forward', 'reverse', 'symbolic']
    """
    if order not in (1, 2):
        raise ValueError(f"order must be 1 or 2, got {order}")
    fn = as_function(f)
    point = [as_input(a) for a in args]
    rng = np.random.default_rng(seed)
    n = sum(int(np.size(a)) for a in point)
    v = rng.normal(size=n)
    v /= np.linalg.norm(v) or 1.0
    results: dict[str, np.ndarray] = {}
    for m in methods:
        if order == 1:
            results[m] = np.asarray(jacobian(fn, method=m)(*point)) @ v
        else:
            results[m] = np.atleast_1d(v @ np.asarray(hessian(fn, method=m)(*point)) @ v)
    ref_name = next((m for m in methods if m in EXACT_METHODS), methods[0])
    ref = results[ref_name]
    failures = []
    for m, val in results.items():
        tol_r = rtol if m in EXACT_METHODS else FD_RTOL.get(m, (1e-5, 1e-3))[order - 1]
        tol_a = atol if m in EXACT_METHODS else tol_r
        if not np.allclose(val, ref, rtol=tol_r, atol=tol_a):
            failures.append(m)
    if failures:
        lines = [f"  {m:<14} {np.array2string(val, precision=17)}" for m, val in results.items()]
        raise AssertionError(
            f"derivatives of order {order} disagree ({', '.join(failures)} vs {ref_name}) at {args} "
            f"along direction {np.array2string(v, precision=4)}:\n" + "\n".join(lines)
        )
    # the first element as a Python number: complex where the derivative is (float() of it
    # dropped the imaginary part)
    return {m: np.asarray(val).reshape(-1)[0].item() for m, val in results.items()}


__all__ = ["check_grads"]
