"""Public gradient checker: compare engines on a function in a random direction.

``check_grads`` evaluates the directional derivative vᵀ∇f (order 1) or vᵀ∇²f v (order 2) with each
requested method and checks they agree: the AD and symbolic engines to ``atol + rtol·|ref|`` with
tight defaults, finite differences within their own error estimate (the quotient again at twice
its default steps, and its rounding; no fixed absolute tolerance), both scaled to the precision
of the inputs' dtype. On failure it raises an AssertionError that prints every method's number.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np

from .api import _completed, _positions, hessian, jacobian
from .build import as_function
from .engines import FiniteDifferenceEngine, get_engine
from .engines.step_checks import traced_pullback
from .function import as_input
from .primitives.declare import working_dtype

#: tolerance (relative) each finite-difference scheme is held to, for first and second order,
#: besides its own error estimate (:func:`_fd_slack`)
FD_RTOL = {"fd": (1e-6, 1e-4), "fd-central": (1e-6, 1e-4), "fd-forward": (1e-4, 1e-3),
           "fd-complex": (1e-12, 1e-4), "fd-richardson": (1e-9, 1e-4)}
#: how many times its error estimate |D(h) − D(2h)| a finite difference may miss by
FD_SAFETY = 10.0
#: the rounding floor of a finite difference: FD_ROUNDING·ε·Rᵢ·(Σⱼ|vⱼ|/hⱼ)ⁿ (Rᵢ: _rounding_sizes)
FD_ROUNDING = 30.0
#: in a dtype coarser than float64, the least tolerance (relative): the exact methods' is
#: EXACT_ULPS·ε of the derivative's dtype (rounding in a few operations); finite differences'
#: FD_SQRT_EPS[order − 1]·√ε of the dtype they are worked in (float32 for float16)
EXACT_ULPS = 16
FD_SQRT_EPS = (10.0, 100.0)
_EPS64 = float(np.finfo(np.float64).eps)


def check_grads(f: Any, args: Sequence[Any], methods: Sequence[str] = ("reverse", "forward", "symbolic", "fd"),
                order: int = 1, rtol: float = 1e-10, atol: float = 1e-12, seed: int = 0, *,
                argnums: Any = None, wrt: Any = None) -> dict[str, float | complex]:
    """Check that `methods` agree on f's derivative at `args` along a random direction v.

    Each method gives D = J·v (order 1) or vᵀHv (order 2). The reference is the first method in
    `methods` that is not a finite difference (an AD or symbolic engine: reverse, forward,
    symbolic, compiled, auto); if all are finite differences, the first of them. The others pass
    when

    * exact methods: |D − ref| ≤ atol + rtol·|ref|;
    * finite differences (the registry's FiniteDifferenceEngine methods): each is also taken at
      twice its default steps, and, entry by entry, |D(h) − ref| ≤ FD_RTOL·|ref| +
      FD_SAFETY·|D(h) − D(2h)| + FD_ROUNDING·ε·Rᵢ·(Σⱼ|vⱼ|/hⱼ)ⁿ — its own error estimate and
      the rounding of that output entry fᵢ, never a fixed absolute number (a gradient of 1e-7
      that fd misses is a failure; a large output does not loosen a small one's check). Rᵢ is
      the size of the values fᵢ is computed from, as the fd engine's trace check measures it
      (Σ|adjoint|·|value| over f's traced operations), at least |fᵢ(x)|: a small output that
      cancels large intermediates (−z₀ + log Σ exp z at [20, 0, 0]) rounds as they do; |fᵢ(x)|
      where f cannot be traced or has more than TRACED_ENTRIES entries. Where
      the quotient at 2h fails (it leaves f's domain: log at 8e-6), it is taken at h/2 instead
      and the estimate is FD_SAFETY·2ᵖ·|D(h) − D(h/2)| (p = 1 forward, 2 otherwise). The
      complex step's first derivative subtracts nothing: its floor is ε·|ref|. A
      finite-difference reference adds its own estimate to every comparison.

    Where a finite difference's tolerance reaches |ref| at an entry (where ref is exactly 0: the
    terms it sums, Σ|∂fᵢ·v|, or the largest |ref| elsewhere), it cannot tell ref from 0 there:
    the check passes but warns (a RuntimeWarning naming the method, the entry, the reference and
    the tolerance) that it verifies nothing for that method.

    Args:
        f: a Function, math text, SymPy expression or Python callable.
        args: the point.
        methods: the methods to compare (at least one: a ValueError, as is an unknown name, and
            a single string a TypeError — all before any work).
        order: 1 (directional first derivative of every output) or 2 (vᵀ H v of a scalar f).
        rtol, atol: tolerance for the exact methods, for float64 derivatives. In a coarser
            dtype (float32, float16, complex64) the relative tolerance is at least
            ``EXACT_ULPS·ε`` for the exact methods (their absolute one at least that times
            max(1, Σ|∂f·v|)) and ``FD_SQRT_EPS·√ε`` for finite differences (ε of the coarsest
            of the derivatives' and the differentiated inputs' dtypes — a held input's does not
            count; of float32 for float16 differences, which are also its ε in the rounding
            floor), so that rounding in that dtype is no disagreement.
        seed: seed of the random direction.
        argnums, wrt: the inputs differentiated, as for dk.jacobian (all by default); the others
            are passed as given (an integer index stays an integer) and v spans only the
            differentiated ones.

    Returns:
        method -> the directional derivative it gave (first output element for vector f; a
        complex number where f is complex).

    Raises:
        AssertionError: a method disagrees; the message prints every method's numbers and the
            tolerance it was held to, and each failing method's worst entry.

    Example:
        >>> import diffkit as dk
        >>> sorted(dk.check_grads("sin(x) * y", [0.5, 2.0]))
        ['fd', 'forward', 'reverse', 'symbolic']
    """
    if order not in (1, 2):
        raise ValueError(f"order must be 1 or 2, got {order}")
    if isinstance(methods, str):
        raise TypeError(f"check_grads: methods= takes a sequence of method names, got the string "
                         f"{methods!r}; write methods=({methods!r},)")
    methods = tuple(methods)
    if not methods:
        raise ValueError("check_grads: methods= is empty; name at least one method to compare "
                         "(e.g. methods=('reverse', 'fd'))")
    fd = {m: isinstance(get_engine(m), FiniteDifferenceEngine) for m in methods}  # names checked
    fn = as_function(f)
    idx, back = _positions(fn, wrt, argnums)
    ids = _completed(fn, list(args), idx, wrt is None and argnums is None, back)[1]
    point = [as_input(a, i in ids) for i, a in enumerate(args)]
    n = sum(int(np.size(point[i])) for i in ids)
    v = np.random.default_rng(seed).normal(size=n)
    v /= np.linalg.norm(v) or 1.0
    chosen = {"argnums": argnums, "wrt": wrt}
    results: dict[str, np.ndarray] = {}
    scale: dict[str, np.ndarray] = {}  # Σ|∂f·v| term by term: the size rounding errors scale with
    kinds: list[np.dtype] = []  # the derivatives' own dtypes (before the product with v)
    second: dict[str, tuple[np.ndarray, float]] = {}  # fd's second quotient, its error factor
    steps: dict[str, Any] = {}  # and the finest steps their answer at the default ones took
    for m in methods:
        results[m], scale[m], engine, kind = _directional(fn, m, order, point, v, chosen)
        kinds.append(kind)
        if fd[m]:
            steps[m] = engine.finest_steps(order)
            second[m] = _second_quotient(fn, m, order, point, v, chosen, engine.scheme)
    ref_name = next((m for m in methods if not fd[m]), methods[0])
    ref = results[ref_name]
    dtype = _coarsest([*(point[i] for i in ids), *(np.empty(0, k) for k in kinds)])
    size = _rounding_sizes(fn, point, ids, np.shape(ref)) if second else 0.0  # per entry
    slack = {m: _fd_slack(results[m], *second[m], steps[m], v, size, order, dtype, ref)
             for m in second}
    failures, bounds = [], {}
    for m, val in results.items():
        tol_r, tol_a = _tolerances(fd[m], m, order, rtol, atol, dtype, scale[m])
        if fd[m] or fd[ref_name]:
            tol_a = tol_a + slack.get(m, 0.0) + (slack[ref_name] if m != ref_name and fd[ref_name]
                                                 else 0.0)
        bounds[m] = np.broadcast_to(tol_a + tol_r * np.abs(ref), np.shape(ref))
        if not np.all(np.abs(np.asarray(val) - ref) <= bounds[m]):
            failures.append(m)
    if failures:
        raise AssertionError(_disagreement(results, bounds, failures, ref_name, order, args, v))
    for m in results:
        if m != ref_name and (fd[m] or fd[ref_name]):
            _warn_if_blind(m, ref_name, ref, bounds[m], scale[ref_name])
    # the first element as a Python number: complex where the derivative is (float() of it
    # dropped the imaginary part)
    return {m: np.asarray(val).reshape(-1)[0].item() for m, val in results.items()}


def _directional(fn: Any, method: str, order: int, point: Sequence[Any], v: np.ndarray,
                 chosen: dict[str, Any], **options: Any) -> tuple[np.ndarray, np.ndarray, Any, np.dtype]:
    """(J·v, |J|·|v|, engine, J's dtype) at order 1, (vᵀHv, |v|ᵀ|H||v|, engine, H's dtype) at
    order 2, by `method`."""
    if order == 1:
        run = jacobian(fn, method=method, **chosen, **options)
        jac = np.asarray(run(*point))
        return jac @ v, np.abs(jac) @ np.abs(v), run.engine, jac.dtype
    run = hessian(fn, method=method, **chosen, **options)
    hes = np.asarray(run(*point))
    return (np.atleast_1d(v @ hes @ v), np.atleast_1d(np.abs(v) @ np.abs(hes) @ np.abs(v)),
            run.engine, hes.dtype)


def _second_quotient(fn: Any, method: str, order: int, point: Sequence[Any], v: np.ndarray,
                     chosen: dict[str, Any], scheme: str) -> tuple[np.ndarray, float]:
    """(D(2h), FD_SAFETY): the quotient again at twice the default steps; where that fails (it
    steps out of f's domain, say, as log's at 8e-6) D(h/2) instead, with FD_SAFETY·2ᵖ (p = 1
    forward, 2 otherwise): D(h) − D(h/2) ≈ (D(2h) − D(h))/2ᵖ, so the estimate stays the same."""
    try:
        return _directional(fn, method, order, point, v, chosen, step_scale=2.0)[0], FD_SAFETY
    except Exception:  # noqa: BLE001 — D(h) worked; any error at 2h is the wider step's
        p = 1 if scheme == "forward" else 2
        half = _directional(fn, method, order, point, v, chosen, step_scale=0.5)[0]
        return half, FD_SAFETY * 2.0 ** p


def _magnitudes(out: Any, shape: tuple[int, ...]) -> np.ndarray:
    """|fᵢ(x)| per output entry, in the order of the Jacobian's rows (a tuple's pieces one after
    another); Σ|f(x)| for every entry where they do not line up."""
    pieces = out if isinstance(out, tuple | list) else (out,)
    flat = np.concatenate([np.abs(np.asarray(p, dtype=complex)).ravel() for p in pieces])
    if flat.size == int(np.prod(shape)):
        return flat.reshape(shape)
    return np.full(shape, float(np.sum(flat)))


#: up to how many output entries the rounding floor traces each entry's own size (beyond, |fᵢ(x)|)
TRACED_ENTRIES = 64


def _rounding_sizes(fn: Any, point: Sequence[Any], ids: Sequence[int],
                    shape: tuple[int, ...]) -> np.ndarray:
    """Per output entry fᵢ, the size its rounding scales with: the fd engine's own measure
    (:func:`~diffkit.engines.step_checks.traced_pullback`: Σ|adjoint|·|value| over f's traced
    operations, for fᵢ's cotangent), at least |fᵢ(x)| — −z₀ + log Σ exp z at [20, 0, 0] is
    4e-9 computed from values near 20. |fᵢ(x)| alone where f cannot be traced or has more
    than :data:`TRACED_ENTRIES` entries."""
    size = _magnitudes(fn(*point), shape)
    m = int(np.prod(shape))
    try:
        graph = fn.trace(*point, wrt=list(ids))
    except Exception:  # noqa: BLE001 — a black box: its value's size is all there is
        return size
    if m > TRACED_ENTRIES or int(np.prod(graph.output.shape)) != m:
        return size
    wrt = [graph.inputs[i] for i in ids]
    traced = np.zeros(m)
    for k in range(m):
        ct = np.zeros(m)
        ct[k] = 1.0
        back = traced_pullback(graph, wrt, ct)
        traced[k] = back[1] if isinstance(back, tuple) else 0.0
    return np.maximum(size, traced.reshape(shape))


def _fd_slack(at_h: np.ndarray, other: np.ndarray, factor: float, steps: np.ndarray | None,
              v: np.ndarray, size: Any, order: int, dtype: np.dtype, ref: np.ndarray) -> np.ndarray:
    """A finite difference's own error bound, entry by entry: factor·|D(h) − D(2h)| (its
    truncation error, Richardson's estimate: D(h)'s is about that for a forward scheme, a third
    of it for central ones; `factor` FD_SAFETY, or FD_SAFETY·2ᵖ where `other` is D(h/2)) plus
    its rounding FD_ROUNDING·ε·Rᵢ·(Σⱼ|vⱼ|/hⱼ)ⁿ at the finest steps hⱼ it took (ε of the
    dtype it is worked in; Rᵢ the size the entry's rounding scales with, `size`:
    :func:`_rounding_sizes`); `steps` None (the complex step,
    which subtracts nothing): ε·|ref|."""
    eps = float(np.finfo(working_dtype(dtype)).eps)
    if steps is None:
        floor = eps * np.abs(ref)
    else:
        with np.errstate(over="ignore", divide="ignore"):
            floor = FD_ROUNDING * eps * size * float(np.sum(np.abs(v) / steps)) ** order
    return factor * np.abs(np.asarray(at_h) - np.asarray(other)) + floor


def _disagreement(results: dict[str, np.ndarray], bounds: dict[str, np.ndarray],
                  failures: list[str], ref_name: str, order: int, args: Any, v: np.ndarray) -> str:
    """The AssertionError's message: every method's numbers and the largest tolerance it was
    held to, then for each failing method its worst entry (the largest miss beyond its bound)."""
    ref = results[ref_name]
    lines = [f"  {m:<14} {np.array2string(np.asarray(val), precision=17)}  "
             f"(held to ±{float(np.max(bounds[m], initial=0.0)):.3g})" for m, val in results.items()]
    for m in failures:
        miss = np.abs(np.asarray(results[m]) - ref)
        excess = np.where(np.isnan(miss), np.inf, miss - bounds[m])
        i = np.unravel_index(int(np.argmax(excess)), np.shape(ref))
        lines.append(f"  worst entry of {m}: {_entry(i)}: {m} {np.asarray(results[m])[i].item()!r} "
                     f"vs {ref_name} {np.asarray(ref)[i].item()!r}, off by {miss[i]:.3g}, held to "
                     f"±{bounds[m][i]:.3g}")
    return (f"derivatives of order {order} disagree ({', '.join(failures)} vs {ref_name}) at "
            f"{args} along direction {np.array2string(v, precision=4)}:\n" + "\n".join(lines))


def _warn_if_blind(method: str, ref_name: str, ref: np.ndarray, bound: np.ndarray,
                   terms: np.ndarray) -> None:
    """A RuntimeWarning where a finite difference's tolerance reaches the size of the derivative
    it checks: |ref| at the entry, or where ref is exactly 0 the larger of the terms it sums
    (Σ|∂fᵢ·v|) and the largest |ref| elsewhere — it could not tell ref from 0 (or 0 from
    derivatives of that size), so it verifies nothing there. An exact 0 with nothing to compare
    (every entry 0) warns not."""
    size = np.abs(ref)
    size = np.where(size == 0, np.maximum(np.broadcast_to(terms, size.shape),
                                          np.max(size, initial=0.0)), size)
    blind = (bound >= size) & (size > 0)
    if not np.any(blind):
        return
    i = np.unravel_index(int(np.argmax(blind)), size.shape)
    warnings.warn(
        f"check_grads: finite differences cannot resolve this derivative here: the check verifies "
        f"nothing for {method} ({int(np.sum(blind))} of {size.size} entries; entry {_entry(i)}: "
        f"{ref_name} {np.asarray(ref)[i].item()!r}, tolerance ±{bound[i]:.3g}). Check with an "
        f"exact method (e.g. methods=('reverse', 'forward')) or at a point where f is smaller",
        RuntimeWarning, stacklevel=3)


def _entry(index: tuple[Any, ...]) -> str:
    """An entry's index as plain integers: [1] or [0, 2]."""
    return str([int(k) for k in index])


def _coarsest(values: Sequence[Any]) -> np.dtype:
    """The floating dtype of largest ε among `values` (the differentiated inputs and the
    derivatives: a held input's dtype is not the derivative's); float64 where none is
    floating."""
    dtypes = [np.asarray(x).dtype for x in values if np.asarray(x).dtype.kind in "fc"]
    return max(dtypes, key=lambda d: np.finfo(d).eps, default=np.dtype(np.float64))


def _tolerances(fd: bool, method: str, order: int, rtol: float, atol: float, dtype: np.dtype,
                scale: np.ndarray) -> tuple[float, Any]:
    """(rtol, atol) `method` is held to at `order` for derivatives in `dtype`: the given ones
    (exact methods) or FD_RTOL's relative one with no absolute one (finite differences: their
    own error bound, :func:`_fd_slack`, is added) in float64; in a coarser dtype a relative one
    of at least EXACT_ULPS·ε (exact; and an absolute one of that times max(1, `scale`), Σ|∂f·v|:
    a sum that cancels keeps the rounding of its terms) or FD_SQRT_EPS·√ε′ (finite differences,
    ε′ of the dtype they are worked in: float32 for float16)."""
    tol_r = FD_RTOL.get(method, (1e-5, 1e-3))[order - 1] if fd else rtol
    tol_a = 0.0 if fd else atol
    eps = float(np.finfo(dtype).eps)
    if eps <= _EPS64:  # float64 (or finer): the tolerances as given
        return tol_r, tol_a
    if fd:
        return max(tol_r, EXACT_ULPS * eps,
                   FD_SQRT_EPS[order - 1] * float(np.finfo(working_dtype(dtype)).eps) ** 0.5), 0.0
    least = EXACT_ULPS * eps
    return max(tol_r, least), np.maximum(tol_a, least * np.maximum(1.0, scale))


__all__ = ["check_grads"]
