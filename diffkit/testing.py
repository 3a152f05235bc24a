"""Public gradient checker: compare engines on a function in a random direction.

``check_grads`` evaluates the directional derivative vᵀ∇f (order 1) or vᵀ∇²f v (order 2) with each
requested method and checks they agree: the AD and symbolic engines to ``atol + rtol·|ref|`` with
tight defaults, finite differences within their own (looser) error, both scaled to the precision
of the inputs' dtype. On failure it raises an AssertionError that prints every method's number.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from .api import hessian, jacobian
from .build import as_function
from .function import as_input
from .primitives.declare import working_dtype

EXACT_METHODS = ("reverse", "forward", "symbolic")
#: tolerance (relative) each finite-difference scheme is held to, for first and second order
FD_RTOL = {"fd": (1e-6, 1e-4), "fd-central": (1e-6, 1e-4), "fd-forward": (1e-4, 1e-3),
           "fd-complex": (1e-12, 1e-4), "fd-richardson": (1e-9, 1e-4)}
#: in a dtype coarser than float64, the least tolerance (relative): the exact methods' is
#: EXACT_ULPS·ε of the derivative's dtype (rounding in a few operations); finite differences'
#: FD_SQRT_EPS[order − 1]·√ε of the dtype they are worked in (float32 for float16)
EXACT_ULPS = 16
FD_SQRT_EPS = (10.0, 100.0)
_EPS64 = float(np.finfo(np.float64).eps)


def check_grads(f: Any, args: Sequence[Any], methods: Sequence[str] = ("reverse", "forward", "symbolic", "fd"),
                order: int = 1, rtol: float = 1e-10, atol: float = 1e-12, seed: int = 0) -> dict[str, float | complex]:
    """Check that `methods` agree on f's derivative at `args` along a random direction.

    Args:
        f: a Function, math text, SymPy expression or Python callable.
        args: the point.
        methods: the methods to compare; the first exact one is the reference.
        order: 1 (directional first derivative of every output) or 2 (vᵀ H v of a scalar f).
        rtol, atol: tolerance for the exact methods (finite differences use FD_RTOL), for
            float64 derivatives. In a coarser dtype (float32, float16, complex64) each tolerance is at least
            ``EXACT_ULPS·ε`` for the exact methods and ``FD_SQRT_EPS·√ε`` for finite
            differences (ε of the derivative's dtype; of float32 for float16 differences),
            the absolute one times max(1, Σ|∂f·v|), so that rounding in that dtype is no
            disagreement.
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
    scale: dict[str, np.ndarray] = {}  # Σ|∂f·v| term by term: the size rounding errors scale with
    for m in methods:
        if order == 1:
            jac = np.asarray(jacobian(fn, method=m)(*point))
            results[m], scale[m] = jac @ v, np.abs(jac) @ np.abs(v)
        else:
            hes = np.asarray(hessian(fn, method=m)(*point))
            results[m] = np.atleast_1d(v @ hes @ v)
            scale[m] = np.atleast_1d(np.abs(v) @ np.abs(hes) @ np.abs(v))
    ref_name = next((m for m in methods if m in EXACT_METHODS), methods[0])
    ref = results[ref_name]
    dtype = _coarsest([*point, *results.values()])
    failures = []
    for m, val in results.items():
        tol_r, tol_a = _tolerances(m, order, rtol, atol, dtype, scale[m])
        if not np.all(np.isclose(val, ref, rtol=tol_r, atol=tol_a)):
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


def _coarsest(values: Sequence[Any]) -> np.dtype:
    """The floating dtype of largest ε among `values` (the point and the derivatives); float64
    where none is floating."""
    dtypes = [np.asarray(x).dtype for x in values if np.asarray(x).dtype.kind in "fc"]
    return max(dtypes, key=lambda d: np.finfo(d).eps, default=np.dtype(np.float64))


def _tolerances(method: str, order: int, rtol: float, atol: float, dtype: np.dtype,
                scale: np.ndarray) -> tuple[float, Any]:
    """(rtol, atol) `method` is held to at `order` for derivatives in `dtype`: the given ones
    (exact methods) or FD_RTOL's in float64; in a coarser dtype at least EXACT_ULPS·ε (exact)
    or FD_SQRT_EPS·√ε′ (finite differences, ε′ of the dtype they are worked in: float32 for
    float16), the absolute one times max(1, `scale`) (Σ|∂f·v|: a sum that cancels keeps the
    rounding of its terms)."""
    exact = method in EXACT_METHODS
    tol_r = rtol if exact else FD_RTOL.get(method, (1e-5, 1e-3))[order - 1]
    tol_a = atol if exact else tol_r
    eps = float(np.finfo(dtype).eps)
    if eps <= _EPS64:  # float64 (or finer): the tolerances as given
        return tol_r, tol_a
    least = EXACT_ULPS * eps
    if not exact:
        least = max(least, FD_SQRT_EPS[order - 1] * float(np.finfo(working_dtype(dtype)).eps) ** 0.5)
    return max(tol_r, least), np.maximum(tol_a, least * np.maximum(1.0, scale))


__all__ = ["check_grads"]
