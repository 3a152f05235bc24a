"""The peer-suite runner: classify one case of ``peer_cases`` as correct, clear error, wrong or
crash.

A case is a user's function in plain NumPy/SciPy spelling, its arguments, and the arguments to
differentiate. ``classify(case)`` runs diffkit on it and compares with references computed here
from the plain NumPy function alone — never with diffkit's rules:

* **value**: ``dk.function(fn)(*args)`` (plain arrays) and the traced output of ``dk.vjp`` (the
  reverse engine's trace) equal NumPy's ``fn(*args)`` (rtol 1e-12, atol 1e-12·max|value|), shape
  included; a tuple or list output is compared as its parts, flattened and joined (as diffkit
  returns it).
* **first derivatives**: the output is made a real scalar by a fixed random weighting,
  ``g = Σ W·real(out) + Σ V·imag(out)`` (W, V in [0.5, 1.5), seeded by the case id; the imaginary
  term only for complex outputs, and ``g = out`` itself for a real scalar output). A weighting
  rather than a plain ``sum(real(out))``, because the gradient of a sum cannot see a permutation
  (sort, flip, transpose) or two swapped elements. ``dk.grad(g, method=m)`` for m = "reverse" and
  "forward" must equal the reference gradient element-wise, |got − ref| ≤ atol·scale + rtol·|ref|
  with rtol 1e-5 and atol 1e-7 (unless the case says otherwise), scale = the largest |ref|, or
  1e-3 × the largest output magnitude met if that is more (so that tiny outputs, such as iv(50, x),
  are judged relative to themselves) — and have the input's shape and dtype. For a complex input
  z = x + iy the reference is diffkit's documented convention (JAX's): ∂g/∂x − i·∂g/∂y.
* **second derivatives** of g (``dk.hessian``, reverse) for cases marked smooth with real inputs
  of at most ``HESSIAN_MAX`` elements in all (rtol 1e-5, atol 1e-6·scale, scale = the largest |H|,
  or 0.1 × the largest output or first derivative if that is more).

References are computed from the plain NumPy function only. First derivatives: fourth-order
central differences of every output element (steps 1e-3·max(1, |x|) and a quarter of it; the two
must agree to a tenth of the tolerance, otherwise the case itself is bad and ``CaseError`` is
raised). Hessians: second differences at steps 4e-3 and 2e-3, extrapolated by Richardson, checked
the same way against steps 2e-3 and 1e-3.

Warnings: while diffkit runs, RuntimeWarning and NumPy's ComplexWarning are errors (a discarded
imaginary part or an overflow inside diffkit's arithmetic is a diffkit problem; diffkit's API
already raises NumPy's floating-point errors as named errors). DeprecationWarnings are NumPy's own
business and stay warnings. The NumPy reference runs with floating-point warnings silenced, and
must be finite.

Statuses: "wrong" if any number disagrees (it wins over a later exception); otherwise "clear
error" for a ``dk.DiffkitError`` with a message, "crash" for any other exception (its type and the
first line of its message), and "correct" when every check passes.
"""

from __future__ import annotations

import warnings
import zlib
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

import diffkit as dk

#: Hessians are checked when the differentiated inputs have at most this many elements in all
HESSIAN_MAX = 8
#: value tolerance (relative; absolute relative to the largest magnitude)
VALUE_RTOL = 1e-12
#: Hessian tolerances (second differences are less precise than first ones)
HESSIAN_RTOL, HESSIAN_ATOL = 1e-5, 1e-6
#: relative steps of the reference differences (the second is a check on the first)
STEP, STEP_CHECK = 1e-3, 2.5e-4
#: step of the reference second differences (Richardson with half of it; the same again at half
#: the step is the check); absolute, since the inputs of the Hessian cases are of order one
HESSIAN_STEP = 4e-3

STATUSES = ("correct", "clear error", "wrong", "crash")
METHODS = ("reverse", "forward")


class CaseError(Exception):
    """A case that cannot be judged: its NumPy reference is not finite or not stable (fix the
    case, not diffkit)."""


# ----- outputs as flat arrays and as one weighted real number -------------------------------------


def parts(out: Any) -> list[Any]:
    """The output's parts: a tuple or list output is several arrays, anything else one."""
    return list(out) if isinstance(out, tuple | list) else [out]


def flat_value(out: Any) -> np.ndarray:
    """A NumPy output as diffkit returns it: parts raveled and joined (a single part keeps its
    shape)."""
    ps = [np.asarray(p) for p in parts(out)]
    if len(ps) == 1 and not isinstance(out, tuple | list):
        return ps[0]
    return np.concatenate([p.reshape(-1) for p in ps]) if ps else np.zeros(0)


def weights(case_id: str, out: Any) -> list[tuple[Any, Any]]:
    """Fixed (W, V) weights for each part of a NumPy output: W for the real part, V (or None) for
    the imaginary part; a single real scalar output gets (None, None): g is the output itself."""
    rng = np.random.default_rng(zlib.crc32(case_id.encode()))
    result = []
    single = not isinstance(out, tuple | list)
    for p in parts(out):
        a = np.asarray(p)
        cplx = a.dtype.kind == "c"
        if single and a.ndim == 0 and not cplx:
            result.append((None, None))
            continue
        w = rng.uniform(0.5, 1.5, a.shape)
        v = rng.uniform(0.5, 1.5, a.shape) if cplx else None
        result.append((w, v))
    return result


def scalarize(fn: Callable[..., Any], ws: list[tuple[Any, Any]]) -> Callable[..., Any]:
    """g(*args): the weighted real scalar of fn's output (plain NumPy code, so diffkit traces
    it too)."""

    def g(*args: Any) -> Any:
        out = fn(*args)
        ps = parts(out)
        if len(ps) != len(ws):
            raise ValueError(f"the function returned {len(ps)} part(s), NumPy {len(ws)}")
        total: Any = 0.0
        for p, (w, v) in zip(ps, ws, strict=True):
            if w is None:  # a single real scalar output: g is the function itself
                return p
            if v is None:
                total = total + np.sum(p * w)
            else:
                total = total + np.sum(np.real(p) * w) + np.sum(np.imag(p) * v)
        return total

    return g


# ----- references: plain NumPy and central differences --------------------------------------------


def _numpy(fn: Callable[..., Any], args: Sequence[Any]) -> Any:
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fn(*[a.copy() if isinstance(a, np.ndarray) else a for a in args])


def _as_float64(a: Any) -> Any:
    """An argument as diffkit sees it (a list is an array, a Python number a NumPy scalar), in
    double precision for the reference arithmetic (a float32 argument is widened)."""
    if isinstance(a, list | tuple):
        a = np.asarray(a, dtype=float)
    if isinstance(a, np.ndarray):
        return a.astype(np.float64) if a.dtype.kind == "f" else a
    if isinstance(a, complex | np.complexfloating):
        return np.complex128(a)
    return np.float64(a)


def _moved(args: Sequence[Any], i: int, idx: tuple[int, ...], delta: complex) -> list[Any]:
    out = list(args)
    a = args[i]
    if isinstance(a, np.ndarray):
        b = a.copy()
        b[idx] = b[idx] + delta
        out[i] = b
    else:
        out[i] = a + delta
    return out


def _coordinates(args: Sequence[Any], wrt: Sequence[int]) -> list[tuple[int, tuple[int, ...], complex]]:
    """Every real coordinate of the differentiated inputs: (argument, index, unit 1 or 1j)."""
    coords = []
    for i in wrt:
        cplx = np.iscomplexobj(args[i])
        for idx in np.ndindex(*np.shape(args[i])):
            coords.append((i, idx, 1.0))
            if cplx:
                coords.append((i, idx, 1j))
    return coords


def _component(a: Any, idx: tuple[int, ...], unit: complex) -> float:
    v = np.asarray(a)[idx]
    return float(abs(v.imag if unit == 1j else v.real))


class Projection:
    """The weighting as flat arrays over the joined output: g = Σ W·real(out) + Σ V·imag(out)."""

    def __init__(self, ws: list[tuple[Any, Any]], out: Any) -> None:
        ps = [np.asarray(p) for p in parts(out)]
        self.W = np.concatenate([np.ones(p.size) if w is None else np.reshape(w, -1)
                                 for p, (w, _) in zip(ps, ws, strict=True)])
        self.V = np.concatenate([np.zeros(p.size) if v is None else np.reshape(v, -1)
                                 for p, (_, v) in zip(ps, ws, strict=True)])

    def __call__(self, flat: np.ndarray) -> float:
        return float(np.sum(self.W * flat.real) + np.sum(self.V * flat.imag))


def flat_output(fn: Callable[..., Any], args: Sequence[Any]) -> np.ndarray:
    """NumPy's output at `args`, every part raveled and joined."""
    return np.reshape(flat_value(_numpy(fn, args)), -1)


def _difference(fn: Callable[..., Any], args: Sequence[Any], i: int, idx: tuple[int, ...],
                unit: complex, h: float) -> tuple[np.ndarray, float]:
    """Fourth-order central difference of every output element along one input coordinate
    (element by element, so a large output elsewhere adds no rounding error), and the largest
    output magnitude met (the rounding error grows with it)."""
    outs = {k: flat_output(fn, _moved(args, i, idx, k * h * unit)) for k in (2, 1, -1, -2)}
    big = max(_max_abs(o) for o in outs.values())
    return (-outs[2] + 8 * outs[1] - 8 * outs[-1] + outs[-2]) / (12 * h), big


def _scale(values: np.ndarray, big: float, floor: float) -> float:
    """What absolute tolerances are relative to: the largest derivative, or a fraction of the
    largest output met (the differences' rounding error grows with it)."""
    return max(_max_abs(values), floor * big)


def reference_gradient(fn: Callable[..., Any], proj: Projection, args: Sequence[Any],
                       wrt: Sequence[int], rtol: float, atol: float
                       ) -> tuple[list[Any], float, float]:
    """The gradient of g = proj(fn) with respect to args[wrt] by central differences (for a
    complex input, ∂g/∂x − i·∂g/∂y), the scale of its absolute tolerance and the largest output
    magnitude met. Raises CaseError if the two step sizes disagree."""
    big = _max_abs(flat_output(fn, args))
    coords = _coordinates(args, wrt)
    d1, d2 = np.zeros(len(coords)), np.zeros(len(coords))
    for k, (i, idx, unit) in enumerate(coords):
        s = max(1.0, _component(args[i], idx, unit))
        diff1, big1 = _difference(fn, args, i, idx, unit, STEP * s)
        diff2, big2 = _difference(fn, args, i, idx, unit, STEP_CHECK * s)
        d1[k], d2[k], big = proj(diff1), proj(diff2), max(big, big1, big2)
    scale = _scale(d1, big, 1e-3)
    bad = ~(np.abs(d1 - d2) <= 0.1 * (atol * scale + rtol * np.abs(d1)))
    if np.any(bad):
        k = int(np.argmax(bad))
        i, idx, unit = coords[k]
        raise CaseError(f"reference derivative unstable at argument {i}{list(idx)}"
                        f"{' (imag)' if unit == 1j else ''}: {d1[k]!r} vs {d2[k]!r}")
    grads = {i: np.zeros(np.shape(args[i]), dtype=complex if np.iscomplexobj(args[i]) else float)
             for i in wrt}
    for k, (i, idx, unit) in enumerate(coords):
        grads[i][idx] += -1j * d1[k] if unit == 1j else d1[k]
    return [grads[i] if np.ndim(args[i]) else grads[i][()] for i in wrt], scale, big


def _second(fn: Callable[..., Any], proj: Projection, args: Sequence[Any],
            a: tuple[int, tuple[int, ...]], b: tuple[int, tuple[int, ...]], h: float) -> float:
    """Second difference ∂²g/∂a∂b at step h, Richardson-extrapolated from h and h/2."""
    def at(sa: float, sb: float, k: float) -> np.ndarray:
        moved = _moved(args, a[0], a[1], sa * k)
        moved = _moved(moved, b[0], b[1], sb * k)
        return flat_output(fn, moved)

    def plain(k: float) -> float:
        return proj((at(1, 1, k) - at(1, -1, k) - at(-1, 1, k) + at(-1, -1, k)) / (4 * k * k))

    return (4 * plain(h / 2) - plain(h)) / 3


def reference_hessian(fn: Callable[..., Any], proj: Projection, args: Sequence[Any],
                      wrt: Sequence[int], floor: float) -> tuple[np.ndarray, float]:
    """The Hessian of g = proj(fn) over the real inputs args[wrt] (raveled, joined), and the
    scale of its absolute tolerance: at least `floor` (the rounding of the inputs and outputs
    divided by the squared step grows with the first derivatives and the outputs). Raises
    CaseError if two step sizes disagree."""
    cells = [(i, idx) for i in wrt for idx in np.ndindex(*np.shape(args[i]))]
    n = len(cells)
    H1, H2 = np.zeros((n, n)), np.zeros((n, n))
    for r in range(n):
        for c in range(r, n):
            H1[r, c] = H1[c, r] = _second(fn, proj, args, cells[r], cells[c], HESSIAN_STEP)
            H2[r, c] = H2[c, r] = _second(fn, proj, args, cells[r], cells[c], HESSIAN_STEP / 2)
    scale = max(_max_abs(H2), floor)
    bad = ~(np.abs(H1 - H2) <= 0.1 * (HESSIAN_ATOL * scale + HESSIAN_RTOL * np.abs(H2)))
    if np.any(bad):
        r, c = np.unravel_index(int(np.argmax(bad)), bad.shape)
        raise CaseError(f"reference Hessian unstable at ({r}, {c}): {H1[r, c]!r} vs {H2[r, c]!r}")
    return H2, scale


# ----- comparisons -------------------------------------------------------------------------------


def _max_abs(a: np.ndarray) -> float:
    return float(np.max(np.abs(a), initial=0.0))


def _flat_pieces(out):
    """A call's value as one flat array: a tuple (as the body returned it) by its pieces in
    order, as the derivatives read it."""
    if isinstance(out, tuple | list):
        return np.concatenate([np.ravel(_flat_pieces(p)) for p in out]) if out else np.zeros(0)
    return out


def _value_problem(what: str, got: Any, want: Any) -> str | None:
    g, w = np.asarray(got), np.asarray(want)
    if g.shape != w.shape:
        return f"{what}: shape {g.shape}, NumPy's {w.shape}"
    if w.dtype.kind == "c" and g.dtype.kind != "c" and np.any(w.imag != 0):
        return f"{what}: real dtype {g.dtype}, NumPy's {w.dtype}"
    if g.dtype.kind not in "fciub" or w.dtype.kind not in "fciub":
        return f"{what}: dtype {g.dtype}, NumPy's {w.dtype}"
    gc, wc = g.astype(complex), w.astype(complex)
    atol = VALUE_RTOL * _max_abs(wc)
    bad = ~(np.abs(gc - wc) <= atol + VALUE_RTOL * np.abs(wc))
    if np.any(bad):
        k = int(np.argmax(bad.reshape(-1)))
        return (f"{what}: element {k} is {_num(gc.reshape(-1)[k])}, NumPy's "
                f"{_num(wc.reshape(-1)[k])} ({int(bad.sum())} of {bad.size} differ)")
    return None


def _num(v: complex) -> str:
    return f"{v.real:.12g}" if v.imag == 0 else f"{v:.12g}"


def _array_problem(what: str, got: Any, want: np.ndarray, rtol: float, atol: float) -> str | None:
    """|got − want| ≤ atol + rtol·|want| element-wise, with want's shape; None if so."""
    g = np.asarray(got)
    if g.shape != want.shape:
        return f"{what}: shape {g.shape}, expected {want.shape}"
    if not np.all(np.isfinite(g)):
        return f"{what}: not finite: {g!r}"
    bad = ~(np.abs(g - want) <= atol + rtol * np.abs(want))
    if np.any(bad):
        k = int(np.argmax(bad.reshape(-1)))
        err = float(np.max(np.abs(g - want)))
        return (f"{what}: element {k} is {_num(complex(g.reshape(-1)[k]))}, reference "
                f"{_num(complex(want.reshape(-1)[k]))} ({int(bad.sum())} of {bad.size} differ, "
                f"max abs error {err:.3g})")
    return None


def _dtype_problem(what: str, got: Any, arg: Any) -> str | None:
    want = np.asarray(arg).dtype
    want = want if want.kind in "fc" else np.dtype(float)
    have = np.asarray(got).dtype
    if have != want:
        return f"{what}: dtype {have}, the input's is {want}"
    return None


# ----- the classification -------------------------------------------------------------------------


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else ""


def _warning_filters(allow: bool) -> None:
    """Inside a catch_warnings block: the warnings that are errors while diffkit runs."""
    if allow:
        warnings.simplefilter("ignore", RuntimeWarning)
    else:
        warnings.simplefilter("error", RuntimeWarning)
        warnings.simplefilter("error", np.exceptions.ComplexWarning)


def _checks(case: Any, problems: list[str]) -> None:
    """Run every check of the module docstring, appending disagreements to `problems`; raises
    whatever diffkit raises."""
    args = tuple(case.args)
    wrt = list(case.wrt)
    names = [f"x{i}" for i in range(len(args))]
    ref_args = [_as_float64(a) for a in args]
    try:
        want = _numpy(case.fn, ref_args)
        want_flat = flat_value(want)
        ws = weights(case.id, want)
        proj = Projection(ws, want)
        ref, scale, big = reference_gradient(case.fn, proj, ref_args, wrt, case.rtol, case.atol)
    except CaseError:
        raise
    except Exception as exc:  # the case's own NumPy code failed: not diffkit's
        raise CaseError(f"NumPy's reference failed: {type(exc).__name__}: {exc}") from exc
    if want_flat.dtype.kind not in "fc" or not np.all(np.isfinite(want_flat)):
        raise CaseError(f"NumPy's value is not finite floating point: {want_flat!r}")

    F = dk.function(case.fn, inputs=names)
    G = dk.function(scalarize(case.fn, ws), inputs=names)
    with warnings.catch_warnings():
        _warning_filters(case.allow_warnings)
        # values: the plain call, then the traced output of the reverse engine
        p = _value_problem("value (plain call)", _flat_pieces(F(*args)), want_flat)
        if p:
            problems.append(p)
        traced, _ = dk.vjp(F, *args, wrt=wrt)
        p = _value_problem("value (traced)", traced, want_flat)
        if p:
            problems.append(p)
        # first derivatives, both exact engines
        for method in METHODS:
            grads = dk.grad(G, method=method, wrt=wrt)(*args)
            for k, (i, r) in enumerate(zip(wrt, ref, strict=True)):
                what = f"gradient ({method}) of argument {i}"
                p = _array_problem(what, grads[k], np.asarray(r), case.rtol, case.atol * scale)
                p = p or _dtype_problem(what, grads[k], args[i])
                if p:
                    problems.append(p)
        # second derivatives of smooth cases with small real inputs
        size = sum(int(np.size(args[i])) for i in wrt)
        real = not any(np.iscomplexobj(args[i]) for i in wrt)
        if case.smooth and real and 0 < size <= HESSIAN_MAX:
            floor = 0.1 * max(big, *(_max_abs(np.asarray(r)) for r in ref))
            want_h, h_scale = reference_hessian(case.fn, proj, ref_args, wrt, floor)
            H = np.asarray(dk.hessian(G, method="reverse", wrt=wrt)(*args))
            p = _array_problem("Hessian (reverse)",
                               H.reshape(want_h.shape) if H.size == want_h.size else H, want_h,
                               HESSIAN_RTOL, HESSIAN_ATOL * h_scale)
            if p:
                problems.append(p)


def classify(case: Any) -> tuple[str, str]:
    """(status, detail) of one case: status is one of STATUSES (see the module docstring)."""
    problems: list[str] = []
    try:
        _checks(case, problems)
    except CaseError:
        raise
    except dk.DiffkitError as exc:
        if problems:
            return "wrong", "; ".join(problems)
        line = _first_line(exc)
        if not line:
            return "crash", f"{type(exc).__name__}: (a diffkit error with no message)"
        return "clear error", f"{type(exc).__name__}: {line}"
    except Exception as exc:  # noqa: BLE001 - any other exception is what this runner reports
        if problems:
            return "wrong", "; ".join(problems)
        return "crash", f"{type(exc).__name__}: {_first_line(exc)}"
    if problems:
        return "wrong", "; ".join(problems)
    return "correct", ""
