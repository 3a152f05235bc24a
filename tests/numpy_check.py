"""One checker for the NumPy/SciPy coverage tests: a function written in plain NumPy spelling is
differentiated by every engine and compared with an independent, high-precision reference.

A :class:`Spec` gives the function twice:

* ``fn``: the user's code, in plain NumPy/SciPy spelling (``np.cumsum(x)``, ``x.std(ddof=1)``),
  run by diffkit on traced values and by NumPy on plain arrays;
* ``ref``: the same mathematics written for mpmath (``mpf`` scalars, or NumPy object arrays of
  ``mpf``), used at 50 digits: the value, and the derivatives by central differences at 80 digits
  (step 1e-25) — never diffkit's rules.

``check(spec)`` asserts, at every point of the spec:

* values: diffkit's evaluation (plain arrays through the records, and traced) equals NumPy's, and
  the reference;
* first derivatives (the Jacobian, or the gradient of a scalar output) by "reverse", "forward",
  "symbolic" (or a MissingRuleError naming another method, where SymPy cannot express the
  function) and "fd" against the reference;
* second derivatives of a scalar output (``order=2``): the Hessians of reverse, forward and
  symbolic against reference second differences;
* float32 inputs: gradients are float32 and close to the float64 ones.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import mpmath
import numpy as np
import pytest

import diffkit as dk

MP = mpmath.mp
VALUE_DPS, DIFF_DPS = 50, 80
STEP = mpmath.mpf("1e-25")


@dataclass
class Spec:
    """One function to check.

    Attributes:
        name: for messages.
        fn: plain NumPy/SciPy code (the user's function).
        ref: the mpmath version (scalars ``mpf`` or object arrays of them); None: derivatives are
            checked against ``grad`` instead.
        points: argument tuples (NumPy arrays or floats).
        grad: hand-derived gradient/Jacobian of the flat output with respect to the flat inputs,
            ``grad(*args) -> (m, n)`` array (for functions mpmath cannot do).
        order: 2 to check Hessians of a scalar output too.
        methods: the engines to check.
        symbolic: "ok" (must agree), "refuse" (must raise MissingRuleError naming a method), or
            "skip".
        rtol: tolerance of exact engines against the reference (fd: looser, by its scheme).
        wrt: the argument indices to differentiate (None: all).
        float32: also check float32 inputs.
        numpy_wrong: NumPy's own value is wrong on this machine (:func:`numpys_reduce_is_wrong`):
            diffkit's value is held to the reference instead.
    """

    name: str
    fn: Callable[..., Any]
    points: Sequence[tuple[Any, ...]]
    ref: Callable[..., Any] | None = None
    grad: Callable[..., Any] | None = None
    order: int = 1
    methods: tuple[str, ...] = ("reverse", "forward", "symbolic", "fd")
    symbolic: str = "ok"
    rtol: float = 1e-10
    wrt: tuple[int, ...] | None = None
    float32: bool = True
    numpy_wrong: bool = False
    extra: dict[str, Any] = field(default_factory=dict)


def reduced_axes(axis: Any, ndim: int) -> tuple[int, ...]:
    """NumPy's `axis` (None, an int, a tuple; negative allowed) as sorted non-negative axes."""
    if axis is None:
        return tuple(range(ndim))
    return tuple(sorted(a % ndim for a in ((axis,) if isinstance(axis, int) else axis)))


def lanes(x: Any, axis: Any, fn: Any, keepdims: bool = False) -> Any:
    """fn(list of the elements, in C order) of each group reduced over `axis` (object arrays:
    the references' reductions)."""
    x = np.asarray(x, dtype=object)
    axes = reduced_axes(axis, x.ndim)
    moved = np.moveaxis(x, axes, tuple(range(-len(axes), 0)))
    kept = moved.shape[:x.ndim - len(axes)]
    groups = moved.reshape(kept + (-1,))
    out = np.empty(kept, dtype=object)
    for idx in np.ndindex(*kept):
        out[idx] = fn(list(groups[idx]))
    if keepdims:
        out = out.reshape([1 if i in axes else s for i, s in enumerate(x.shape)])
    return out


def along(x: Any, axis: Any, fn: Any) -> Any:
    """fn(list) -> list of the same length, applied along `axis` (the flattened array for None)."""
    x = np.asarray(x, dtype=object)
    if axis is None:
        x, axis = x.reshape(-1), 0
    moved = np.moveaxis(x, axis, -1)
    out = np.empty(moved.shape, dtype=object)
    for idx in np.ndindex(*moved.shape[:-1]):
        out[idx] = fn(list(moved[idx]))
    return np.moveaxis(out, -1, axis)


def mp_var(ddof: int = 0) -> Any:
    """The variance of a lane of mpf values, Σ(v − m)² / (n − ddof)."""
    def var(g: list[Any]) -> Any:
        m = mpmath.fsum(g) / len(g)
        return mpmath.fsum((v - m) ** 2 for v in g) / (len(g) - ddof)

    return var


def mp_std(ddof: int = 0) -> Any:
    return lambda g: mpmath.sqrt(mp_var(ddof)(g))


def mp_median(g: list[Any]) -> Any:
    s, n = sorted(g), len(g)
    return s[n // 2] if n % 2 else (s[n // 2 - 1] + s[n // 2]) / 2


def to_mp(x: Any) -> Any:
    if np.ndim(x) == 0:
        return MP.mpf(float(x))
    out = np.empty(np.shape(x), dtype=object)
    out.reshape(-1)[:] = [MP.mpf(float(v)) for v in np.reshape(x, -1)]
    return out


def flat(v: Any) -> list[Any]:
    return list(np.reshape(np.asarray(v, dtype=object), -1))


def _moved(args: Sequence[Any], i: int, idx: tuple[int, ...], delta: Any) -> list[Any]:
    out = list(args)
    if isinstance(args[i], np.ndarray):
        y = args[i].copy()
        y[idx] = y[idx] + delta
        out[i] = y
    else:
        out[i] = args[i] + delta
    return out


def reference_jacobian(ref: Callable[..., Any], args: Sequence[Any], wrt: Sequence[int]
                       ) -> np.ndarray:
    """J[output element][input element] of `ref` at `args`, central differences at 80 digits."""
    with MP.workdps(DIFF_DPS):
        xs = [to_mp(a) for a in args]
        cols = []
        for i in wrt:
            for idx in np.ndindex(*np.shape(xs[i])):
                plus = flat(ref(*_moved(xs, i, idx, STEP)))
                minus = flat(ref(*_moved(xs, i, idx, -STEP)))
                cols.append([(p - m) / (2 * STEP) for p, m in zip(plus, minus, strict=True)])
        return np.array([[float(c[r]) for c in cols] for r in range(len(cols[0]))] if cols
                        else np.zeros((len(flat(ref(*xs))), 0)), dtype=float)


def reference_hessian(ref: Callable[..., Any], args: Sequence[Any], wrt: Sequence[int]
                      ) -> np.ndarray:
    """Second derivatives of a scalar `ref` by central differences of its reference gradient."""
    with MP.workdps(DIFF_DPS):
        xs = [to_mp(a) for a in args]
        h = MP.mpf("1e-12")
        cells = [(i, idx) for i in wrt for idx in np.ndindex(*np.shape(xs[i]))]
        grads = []
        for i, idx in cells:
            plus = _grad_mp(ref, _moved(xs, i, idx, h), cells)
            minus = _grad_mp(ref, _moved(xs, i, idx, -h), cells)
            grads.append([(p - m) / (2 * h) for p, m in zip(plus, minus, strict=True)])
        return np.array([[float(v) for v in row] for row in grads], dtype=float)


def _grad_mp(ref: Callable[..., Any], xs: list[Any], cells: list[tuple[int, tuple[int, ...]]]
             ) -> list[Any]:
    out = []
    for i, idx in cells:
        p = flat(ref(*_moved(xs, i, idx, STEP)))[0]
        m = flat(ref(*_moved(xs, i, idx, -STEP)))[0]
        out.append((p - m) / (2 * STEP))
    return out


def _flat_grads(grads: Sequence[Any]) -> np.ndarray:
    return np.concatenate([np.reshape(np.asarray(g, dtype=float), -1) for g in grads]) if grads \
        else np.zeros(0)


def _close(got: Any, want: Any, rtol: float, atol: float, what: str) -> None:
    np.testing.assert_allclose(np.asarray(got, dtype=float), np.asarray(want, dtype=float),
                               rtol=rtol, atol=atol, err_msg=what)


def _fd_tol(method: str, order: int) -> tuple[float, float]:
    return (1e-6, 1e-7) if order == 1 else (1e-4, 1e-5)


def numpys_reduce_is_wrong(ufunc: np.ufunc) -> bool:
    """Whether this machine's NumPy gets ``ufunc.reduce`` wrong: NumPy 2.4's AVX-512 loops of
    power and arctan2 reduce as if the running value were not fed back (np.power.reduce of
    [2, 3, 2] is 4, not (2**3)**2 = 64; its element-wise calls and .accumulate are right)."""
    x = np.array([2.0, 3.0, 2.0, 0.5, 1.5, 0.75, 1.25, 0.9, 1.1])
    with np.errstate(all="ignore"):
        running = x[0]
        for v in x[1:]:
            running = ufunc(running, v)
        return not np.isclose(ufunc.reduce(x), running, rtol=1e-12, atol=0.0)


def check(spec: Spec) -> None:
    """Every assertion of the module docstring, at every point of `spec`."""
    for point in spec.points:
        _check_point(spec, tuple(point))


def _check_point(spec: Spec, point: tuple[Any, ...]) -> None:
    n = len(point)
    wrt = list(spec.wrt) if spec.wrt is not None else list(range(n))
    names = [f"x{i}" for i in range(n)]
    f = dk.function(spec.fn, inputs=names)
    where = f"{spec.name} at {point}"
    # values: NumPy, diffkit (plain and traced), reference
    want = np.asarray(spec.fn(*point))
    got = np.asarray(f(*point))
    np.testing.assert_array_equal(got, want, err_msg=f"{where}: diffkit's value is not NumPy's")
    if spec.numpy_wrong:  # NumPy's own loop is wrong here (a plain call runs it): its
        # definition, the reference, is the value the traced ones are held to below
        with MP.workdps(VALUE_DPS):
            right = np.array([float(v) for v in flat(spec.ref(*[to_mp(a) for a in point]))])
        want = right.reshape(want.shape)
    traced_value = dk.value_and_grad(f, wrt=wrt)(*point)[0] if want.size == 1 else None
    if traced_value is not None:
        np.testing.assert_allclose(traced_value, want.reshape(()), rtol=1e-13, err_msg=where)
    if spec.ref is not None:
        with MP.workdps(VALUE_DPS):
            ref_value = np.array([float(v) for v in flat(spec.ref(*[to_mp(a) for a in point]))])
        _close(want.reshape(-1), ref_value, 1e-12, 1e-14, f"{where}: NumPy vs reference")
        ref_jac = reference_jacobian(spec.ref, point, wrt)
    else:
        ref_jac = np.asarray(spec.grad(*point), dtype=float).reshape(want.size, -1)
    scalar = want.size == 1
    scale = max(1.0, float(np.max(np.abs(ref_jac), initial=0.0)))
    for method in spec.methods:
        what = f"{where} ({method})"
        if method == "symbolic" and spec.symbolic != "ok":
            if spec.symbolic == "refuse":
                try:
                    dk.jacobian(f, method="symbolic", wrt=wrt)(*point)
                except dk.MissingRuleError as exc:
                    assert "method=" in str(exc), f"{what}: the refusal names no method"
                    continue
                raise AssertionError(f"{what}: expected a MissingRuleError")
            continue
        jac = dk.jacobian(f, method=method, wrt=wrt)(*point)
        rtol, atol = (spec.rtol, 1e-12 * scale) if method != "fd" else _fd_tol(method, 1)
        _close(jac, ref_jac, rtol, atol * (1 if method != "fd" else scale), what)
        if scalar and method != "fd":
            g = _flat_grads(dk.grad(f, method=method, wrt=wrt)(*point))
            _close(g, ref_jac.reshape(-1), rtol, atol, f"{what} grad")
    if scalar and spec.order >= 2:
        _check_hessians(spec, f, point, wrt, where)
    if spec.float32:
        _check_float32(spec, f, point, wrt, where)


def _check_hessians(spec: Spec, f: dk.Function, point: tuple[Any, ...], wrt: list[int],
                    where: str) -> None:
    ref_h = reference_hessian(spec.ref, point, wrt) if spec.ref is not None else None
    hs = {}
    for method in spec.methods:
        if method == "fd" or method == "symbolic" and spec.symbolic != "ok":
            continue
        hs[method] = dk.hessian(f, method=method, wrt=wrt)(*point)
    scale = max(1.0, max(float(np.max(np.abs(h), initial=0.0)) for h in hs.values()))
    for method, h in hs.items():
        if ref_h is not None:
            _close(h, ref_h, 1e-7, 1e-8 * scale, f"{where} Hessian ({method})")
        _close(h, hs["reverse"], 1e-9, 1e-11 * scale, f"{where} Hessian {method} vs reverse")


def _check_float32(spec: Spec, f: dk.Function, point: tuple[Any, ...], wrt: list[int],
                   where: str) -> None:
    args32 = tuple(np.asarray(a, dtype=np.float32) if isinstance(a, np.ndarray)
                   else np.float32(a) for a in point)
    want = dk.jacobian(f, method="reverse", wrt=wrt)(*point)
    for method in ("reverse", "forward"):
        jac = dk.jacobian(f, method=method, wrt=wrt)(*args32)
        assert jac.dtype == np.float32, f"{where}: float32 Jacobian is {jac.dtype} ({method})"
        scale = max(1.0, float(np.max(np.abs(want), initial=0.0)))
        _close(jac, want, 2e-3, 2e-4 * scale, f"{where} float32 ({method})")


def grid(*shapes_and_ranges: tuple[tuple[int, ...], tuple[float, float]], count: int = 2,
         seed: int = 0) -> list[tuple[Any, ...]]:
    """Random points: one argument per (shape, (lo, hi)); scalars for shape ()."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(count):
        args = []
        for shape, (lo, hi) in shapes_and_ranges:
            v = rng.uniform(lo, hi, size=shape)
            args.append(float(v) if shape == () else v)
        out.append(tuple(args))
    return out


__all__ = ["Spec", "check", "flat", "grid", "reference_hessian", "reference_jacobian", "to_mp"]


def assert_named_error(call, x, error, builtin, match) -> None:
    """`call` refuses `x` as NumPy does (its builtin error type on plain arrays) and, inside
    dk.grad and on the eager tape, with diffkit's named `error` — a subclass of that type."""
    with pytest.raises(builtin):
        call(x)
    assert issubclass(error, builtin)
    with pytest.raises(error, match=match):
        dk.grad(lambda t: np.sum(call(t)))(x)
    with pytest.raises(error, match=match):
        call(dk.tensor(x))
