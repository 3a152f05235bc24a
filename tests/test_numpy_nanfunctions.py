"""NumPy's NaN-ignoring reductions and its quantiles, in NumPy's own spelling on traced values.

Every function is checked by :func:`numpy_check.check` against an mpmath version of the same
mathematics (the NaN entries dropped by hand; values and derivatives at 50–80 digits, never
diffkit's rules), in reverse, forward, symbolic (or its refusal by name) and fd, at first and,
for scalar outputs, second order, and in float32. The NaNs come from ``np.where(mask, x, nan)``
inside the function (dk.grad refuses NaN inputs), so a NaN entry's derivative is the reference's
0. Then: NumPy's exact values, dtypes and kinds of result on plain arrays (NaNs at the start,
the end, the middle, all-NaN slices), traced values, NaN inputs on the eager tape, the all-NaN
convention, ties, zero variance, jit, and every refusal by name.
"""

from __future__ import annotations

import warnings
from typing import Any

import mpmath
import numpy as np
import pytest
from numpy_check import Spec, along, assert_named_error, check, grid, mp_median, mp_std, mp_var
from numpy_check import lanes as shared_lanes

import diffkit as dk

#: the names this module tests (read by the completeness tests of test_core_primitives.py)
COVERS = ("nansum", "nanprod", "nanmean", "nanvar", "nanstd", "nanmax", "nanmin", "nancumsum",
          "nancumprod", "nanmedian", "quantile", "percentile", "nanquantile", "nanpercentile")

ENGINES = ("reverse", "forward", "symbolic", "fd")
NAN = float("nan")

# ----- mpmath references: the same mathematics, NaN entries dropped by hand ------------------------


def numbers(x: Any, mask: np.ndarray) -> np.ndarray:
    """x as an object array with None where `mask` is False (the entries that are NaN)."""
    out = np.array(np.asarray(x, dtype=object), dtype=object)
    out[~mask] = None
    return out


def lanes(x: Any, axis: Any, fn: Any, keepdims: bool = False) -> Any:
    """fn(the numbers of a group) for each group reduced over `axis` (None entries dropped)."""
    return shared_lanes(x, axis, lambda g: fn([v for v in g if v is not None]), keepdims)


def mp_sum(g: list[Any]) -> Any:
    return mpmath.fsum(g)


def mp_prod(g: list[Any]) -> Any:
    return mpmath.fprod(g)


def mp_mean(g: list[Any]) -> Any:
    return mpmath.fsum(g) / len(g)


def mp_cum(op: Any, identity: int) -> Any:
    """Cumulative op along a lane, None (NaN) entries counted as the identity."""
    def run(g: list[Any]) -> list[Any]:
        out, acc = [], mpmath.mpf(identity)
        for v in g:
            acc = op(acc, mpmath.mpf(identity) if v is None else v)
            out.append(acc)
        return out

    return run


def mp_quantile(q: float, method: str = "linear") -> Any:
    """The q-quantile of a group by its definition (Hyndman & Fan's method 7 for "linear"): the
    sorted values at the position h = (n − 1)·q, interpolated linearly between its neighbours."""
    def quant(g: list[Any]) -> Any:
        s, n = sorted(g), len(g)
        h = (n - 1) * mpmath.mpf(q)
        lo, hi = int(mpmath.floor(h)), int(mpmath.ceil(h))
        if method == "lower":
            return s[lo]
        if method == "higher":
            return s[hi]
        if method == "nearest":  # the nearest position; a half goes to the even one
            return s[int(np.around(float(h)))]
        if method == "midpoint":
            return (s[lo] + s[hi]) / 2
        return s[lo] + (h - lo) * (s[hi] - s[lo])

    return quant


def stacked(refs: list[Any]) -> Any:
    """The reference of a quantile with q an array: the q axis first."""
    return np.stack([np.asarray(r, dtype=object) for r in refs])


# ----- points and masks (True: a number, False: NaN) ------------------------------------------------

P34 = grid(((3, 4), (-2.0, 2.0)), seed=21)
P232 = grid(((2, 3, 2), (-2.0, 2.0)), seed=22)
P5 = grid(((5,), (-2.0, 2.0)), seed=23)
P33 = grid(((3, 3), (-2.0, 2.0)), seed=24)
M34 = np.array([[True, False, True, True], [True, True, True, False], [False, True, False, True]])
M232 = np.array([[[True, False], [True, True], [False, True]],
                 [[True, True], [True, False], [True, True]]])
M5 = np.array([False, True, True, False, True])
M33 = np.array([[True, True, False], [True, True, True], [False, True, True]])
WITH_ZERO_34 = [(np.array([[0.0, 1.3, -0.4, 0.7], [1.1, 0.0, 0.6, 2.0], [0.5, -1.2, 0.9, 0.0]]),)]
C4 = np.array([0.3, -1.0, 2.0, 0.7])
C34 = np.linspace(-1.0, 1.5, 12).reshape(3, 4)


def nans(x: Any, m: np.ndarray) -> Any:
    """x with NaN where `m` is False: np.where, the user's spelling (a constant mask)."""
    return np.where(m, x, NAN)


SPECS = [
    # nansum
    Spec("np.nansum axis 1", lambda x: np.nansum(nans(x, M34), axis=1), P34,
         ref=lambda x: lanes(numbers(x, M34), 1, mp_sum)),
    Spec("np.nansum", lambda x: np.nansum(nans(x, M34)), P34,
         ref=lambda x: lanes(numbers(x, M34), None, mp_sum), order=2),
    Spec("np.nansum axes (0, 2) keepdims", lambda x: np.nansum(nans(x, M232), axis=(0, -1),
                                                               keepdims=True), P232,
         ref=lambda x: lanes(numbers(x, M232), (0, 2), mp_sum, keepdims=True)),
    # nanprod
    Spec("np.nanprod axis 0", lambda x: np.nanprod(nans(x, M34), axis=0), P34 + WITH_ZERO_34,
         ref=lambda x: lanes(numbers(x, M34), 0, mp_prod)),
    Spec("Σ c·nanprod axis 1", lambda x: np.sum(np.nanprod(nans(x, M34), axis=1) * C4[:3]),
         P34 + WITH_ZERO_34, ref=lambda x: np.sum(lanes(numbers(x, M34), 1, mp_prod) * C4[:3]),
         order=2),
    # nanmean
    Spec("np.nanmean axis -1 keepdims", lambda x: np.nanmean(nans(x, M34), axis=-1,
                                                             keepdims=True), P34,
         ref=lambda x: lanes(numbers(x, M34), 1, mp_mean, keepdims=True)),
    Spec("np.nanmean", lambda x: np.nanmean(nans(x, M232)), P232,
         ref=lambda x: lanes(numbers(x, M232), None, mp_mean), order=2),
    Spec("np.nanmean axes (0, 2)", lambda x: np.nanmean(nans(x, M232), axis=(0, 2)), P232,
         ref=lambda x: lanes(numbers(x, M232), (0, 2), mp_mean)),
    # nanvar, nanstd
    Spec("np.nanvar axis 1 ddof 1", lambda x: np.nanvar(nans(x, M34), axis=1, ddof=1), P34,
         ref=lambda x: lanes(numbers(x, M34), 1, mp_var(1))),
    Spec("np.nanvar", lambda x: np.nanvar(nans(x, M34)), P34,
         ref=lambda x: lanes(numbers(x, M34), None, mp_var()), order=2),
    Spec("np.nanvar axes keepdims", lambda x: np.nanvar(nans(x, M232), axis=(0, 2),
                                                        keepdims=True), P232,
         ref=lambda x: lanes(numbers(x, M232), (0, 2), mp_var(), keepdims=True)),
    Spec("np.nanstd", lambda x: np.nanstd(nans(x, M34)), P34,
         ref=lambda x: lanes(numbers(x, M34), None, mp_std()), order=2),
    Spec("np.nanstd axis 0 correction 1", lambda x: np.nanstd(nans(x, M34), axis=0, correction=1),
         P34, ref=lambda x: lanes(numbers(x, M34), 0, mp_std(1))),
    # nanmax, nanmin
    Spec("np.nanmax axis 1", lambda x: np.nanmax(nans(x, M34), axis=1), P34,
         ref=lambda x: lanes(numbers(x, M34), 1, max)),
    Spec("np.nanmax", lambda x: np.nanmax(nans(x, M34)), P34,
         ref=lambda x: lanes(numbers(x, M34), None, max), order=2),
    Spec("np.nanmin axes (0, 2) keepdims", lambda x: np.nanmin(nans(x, M232), axis=(0, 2),
                                                               keepdims=True), P232,
         ref=lambda x: lanes(numbers(x, M232), (0, 2), min, keepdims=True)),
    Spec("np.nanmin", lambda x: np.nanmin(nans(x, M5)), P5,
         ref=lambda x: lanes(numbers(x, M5), None, min), order=2),
    # nancumsum, nancumprod
    Spec("np.nancumsum", lambda x: np.nancumsum(nans(x, M34)), P34,
         ref=lambda x: along(numbers(x, M34), None, mp_cum(lambda a, b: a + b, 0))),
    Spec("np.nancumsum axis 1", lambda x: np.nancumsum(nans(x, M34), axis=1), P34,
         ref=lambda x: along(numbers(x, M34), 1, mp_cum(lambda a, b: a + b, 0))),
    Spec("Σ c·nancumsum² axis 0", lambda x: np.sum(C34 * np.nancumsum(nans(x, M34), axis=0) ** 2),
         P34, ref=lambda x: np.sum(C34 * along(numbers(x, M34), 0,
                                               mp_cum(lambda a, b: a + b, 0)) ** 2), order=2),
    Spec("np.nancumprod", lambda x: np.nancumprod(nans(x, M34)), P34 + WITH_ZERO_34,
         ref=lambda x: along(numbers(x, M34), None, mp_cum(lambda a, b: a * b, 1))),
    Spec("Σ c·nancumprod axis -1", lambda x: np.sum(C34 * np.nancumprod(nans(x, M34), axis=-1)),
         P34 + WITH_ZERO_34, ref=lambda x: np.sum(C34 * along(numbers(x, M34), 1,
                                                              mp_cum(lambda a, b: a * b, 1))),
         order=2),
    # nanmedian (built on sort: no SymPy translation)
    Spec("np.nanmedian axis 1 (3, 3 and 2 numbers)", lambda x: np.nanmedian(nans(x, M34), axis=1),
         P34, ref=lambda x: lanes(numbers(x, M34), 1, mp_median), symbolic="refuse"),
    Spec("np.nanmedian", lambda x: np.nanmedian(nans(x, M33)), P33,
         ref=lambda x: lanes(numbers(x, M33), None, mp_median), order=2, symbolic="refuse"),
    Spec("np.nanmedian even", lambda x: np.nanmedian(nans(x, M34)), P34,
         ref=lambda x: lanes(numbers(x, M34), None, mp_median), order=2, symbolic="refuse"),
    Spec("np.nanmedian axes keepdims", lambda x: np.nanmedian(nans(x, M232), axis=(0, 2),
                                                              keepdims=True), P232,
         ref=lambda x: lanes(numbers(x, M232), (0, 2), mp_median, keepdims=True),
         symbolic="refuse"),
    # quantile, percentile
    Spec("np.quantile", lambda x: np.quantile(x, 0.37), P34,
         ref=lambda x: lanes(x, None, mp_quantile(0.37)), order=2, symbolic="refuse"),
    Spec("np.quantile q array axis 0", lambda x: np.quantile(x, [0.0, 0.3, 0.5, 1.0], axis=0), P34,
         ref=lambda x: stacked([lanes(x, 0, mp_quantile(q)) for q in (0.0, 0.3, 0.5, 1.0)]),
         symbolic="refuse", float32=False),
    Spec("np.quantile axes (0, 2) keepdims", lambda x: np.quantile(x, 0.8, axis=(0, 2),
                                                                   keepdims=True), P232,
         ref=lambda x: lanes(x, (0, 2), mp_quantile(0.8), keepdims=True), symbolic="refuse"),
    Spec("np.percentile axis -1", lambda x: np.percentile(x, 62.5, axis=-1), P34,
         ref=lambda x: lanes(x, 1, mp_quantile(0.625)), symbolic="refuse"),
    Spec("np.percentile q array", lambda x: np.percentile(x, [10.0, 90.0]), P5,
         ref=lambda x: stacked([lanes(x, None, mp_quantile(q)) for q in (0.1, 0.9)]),
         symbolic="refuse", float32=False),
    *[Spec(f"np.quantile method={m}", lambda x, m=m: np.quantile(x, 0.3, axis=1, method=m), P34,
           ref=lambda x, m=m: lanes(x, 1, mp_quantile(0.3, m)), symbolic="refuse")
      for m in ("lower", "higher", "nearest", "midpoint")],
    Spec("Σ percentile midpoint", lambda x: np.percentile(x, 50, method="midpoint"), P34,
         ref=lambda x: lanes(x, None, mp_quantile(0.5, "midpoint")), order=2, symbolic="refuse"),
    # nanquantile, nanpercentile
    Spec("np.nanquantile axis 1", lambda x: np.nanquantile(nans(x, M34), 0.4, axis=1), P34,
         ref=lambda x: lanes(numbers(x, M34), 1, mp_quantile(0.4)), symbolic="refuse"),
    Spec("np.nanquantile q array axis 0", lambda x: np.nanquantile(nans(x, M34), [0.25, 1.0],
                                                                   axis=0), P34,
         ref=lambda x: stacked([lanes(numbers(x, M34), 0, mp_quantile(q)) for q in (0.25, 1.0)]),
         symbolic="refuse", float32=False),
    Spec("np.nanquantile", lambda x: np.nanquantile(nans(x, M232), 0.7), P232,
         ref=lambda x: lanes(numbers(x, M232), None, mp_quantile(0.7)), order=2,
         symbolic="refuse"),
    Spec("np.nanpercentile axes keepdims", lambda x: np.nanpercentile(
        nans(x, M232), 35, axis=(0, 2), keepdims=True), P232,
         ref=lambda x: lanes(numbers(x, M232), (0, 2), mp_quantile(0.35), keepdims=True),
         symbolic="refuse"),
    *[Spec(f"np.nanpercentile method={m}", lambda x, m=m: np.nanpercentile(
        nans(x, M34), 70, axis=1, method=m), P34,
           ref=lambda x, m=m: lanes(numbers(x, M34), 1, mp_quantile(0.7, m)), symbolic="refuse")
      for m in ("lower", "higher", "nearest", "midpoint")],
]


@pytest.mark.parametrize("spec", SPECS, ids=[s.name for s in SPECS])
def test_numpy_spelling_every_engine(spec: Spec) -> None:
    check(spec)


def test_the_references_see_the_nan_mask() -> None:
    """The reference differs from the unmasked mathematics: a NaN entry changes nothing."""
    x = P34[0][0]
    assert lanes(numbers(x, M34), 1, mp_sum)[2] != mpmath.fsum(list(x[2]))
    assert float(mp_quantile(0.5)([mpmath.mpf(v) for v in (3.0, 1.0, 2.0, 4.0)])) == 2.5
    assert float(mp_quantile(0.5, "nearest")([mpmath.mpf(v) for v in (3.0, 1.0, 2.0, 4.0)])) == 3.0


# ----- NumPy's exact values on plain arrays ---------------------------------------------------------

RNG = np.random.default_rng(31)
X = RNG.normal(size=(3, 4, 5))
X[0, 0, 0] = X[1, 3, 4] = X[2, 1, 2] = NAN  # the first, the last, the middle
X[1, :, 1] = NAN  # an all-NaN slice along axis 1
X[2, 2, :] = NAN  # an all-NaN slice along axis 2
X32 = X.astype(np.float32)
CLEAN = RNG.normal(size=(3, 4, 5))
WARNS = {"nanmean", "nanvar", "nanstd", "nanmax", "nanmin", "nanmedian", "nanquantile",
         "nanpercentile"}

REDUCTIONS = ("nansum", "nanprod", "nanmean", "nanvar", "nanstd", "nanmax", "nanmin", "nanmedian")
AXES = [{}, {"axis": 1}, {"axis": -1, "keepdims": True}, {"axis": (0, -1)},
        {"axis": None, "keepdims": True}, {"axis": (2, 0, 1)}]
VALUE_CASES = [(n, (lambda m, a, n=n, kw=kw: getattr(m, n)(a, **kw)), kw)
               for n in REDUCTIONS for kw in AXES]
VALUE_CASES += [(n, (lambda m, a, n=n, kw=kw: getattr(m, n)(a, **kw)), kw)
                for n in ("nanvar", "nanstd") for kw in ({"ddof": 1, "axis": 2},
                                                         {"correction": 2, "axis": (1, 2)})]
VALUE_CASES += [(n, (lambda m, a, n=n, ax=ax: getattr(m, n)(a, axis=ax)), {"axis": ax})
                for n in ("nancumsum", "nancumprod") for ax in (None, 0, -1)]
Q_CASES = [0.3, 0, 1, [0.0, 0.25, 0.5, 0.77, 1.0], np.float64(0.4),
           np.array([0.1, 0.9], dtype=np.float32), np.array([0, 1])]
for _name, _scale in (("quantile", 1), ("percentile", 100), ("nanquantile", 1),
                      ("nanpercentile", 100)):
    for _q in Q_CASES:
        _qs = np.asarray(_q) * _scale if isinstance(_q, list) else _q * _scale
        for _method in ("linear", "lower", "higher", "nearest", "midpoint"):
            for _kw in ({}, {"axis": 1}, {"axis": (0, -1), "keepdims": True}):
                VALUE_CASES.append((_name, (lambda m, a, n=_name, q=_qs, me=_method, kw=_kw:
                                            getattr(m, n)(a, q, method=me, **kw)),
                                    {"q": _qs, "method": _method, **_kw}))


def _same(got: Any, want: Any) -> None:
    assert type(got) is type(want), (type(got), type(want))
    assert np.shape(got) == np.shape(want)
    assert np.asarray(got).dtype == np.asarray(want).dtype
    np.testing.assert_array_equal(got, want)  # NaNs in the same places


def _quietly(call: Any) -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return call()


@pytest.mark.parametrize("data", [X, X32, X[0], CLEAN], ids=["float64", "float32", "2d", "clean"])
@pytest.mark.parametrize(("name", "call", "kw"), VALUE_CASES,
                         ids=[f"{c[0]}-{i}" for i, c in enumerate(VALUE_CASES)])
def test_values_are_numpys_exactly(name: str, call: Any, kw: Any, data: np.ndarray) -> None:
    """dk.<name> on plain arrays: NumPy's values bit for bit (NaN where NumPy has NaN), its dtype,
    shape and kind of result (a NumPy scalar for a full reduction); NumPy's axis errors as
    ValueErrors too."""
    try:
        want = _quietly(lambda: call(np, data))
    except np.exceptions.AxisError:
        with pytest.raises(ValueError, match="out of bounds"):
            call(dk, data)
        return
    got = _quietly(lambda: call(dk, data))
    _same(got, want)


@pytest.mark.parametrize("name", sorted(WARNS))
def test_all_nan_slices_warn_as_numpy_does(name: str) -> None:
    """Plain arrays with an all-NaN slice: NumPy's nan and NumPy's RuntimeWarning."""
    args = (0.5,) if "quantile" in name else (50,) if "percentile" in name else ()
    with pytest.warns(RuntimeWarning) as numpy_warnings:
        want = getattr(np, name)(X, *args, axis=1)
    with pytest.warns(RuntimeWarning) as ours:
        got = getattr(dk, name)(X, *args, axis=1)
    _same(got, want)
    assert {str(w.message) for w in ours} <= {str(w.message) for w in numpy_warnings}
    assert np.isnan(got[1, 1])


def test_integer_inputs_are_the_plain_functions() -> None:
    a = np.arange(12).reshape(3, 4)
    for name in ("nansum", "nanprod", "nanmean", "nanvar", "nanstd", "nanmax", "nanmin",
                 "nanmedian"):
        _same(getattr(dk, name)(a, axis=1), getattr(np, name)(a, axis=1))
    for name in ("nancumsum", "nancumprod"):
        _same(getattr(dk, name)(a), getattr(np, name)(a))
    _same(dk.nanquantile(a, 0.3, axis=0), np.nanquantile(a, 0.3, axis=0))


def test_complex_values_are_numpys() -> None:
    z = np.array([[1 + 2j, NAN, 0.5 - 1j], [2 + 0.3j, 1j, complex(NAN, 0.0)]])
    for name in ("nansum", "nanprod", "nanmean", "nanvar", "nanstd", "nancumsum", "nancumprod"):
        _same(getattr(dk, name)(z, axis=1), getattr(np, name)(z, axis=1))
    with pytest.raises(TypeError, match="real numbers"):
        dk.nanquantile(z, 0.5)


TRACED_CASES = [c for c in VALUE_CASES if c[0] not in ("quantile", "percentile")]


@pytest.mark.parametrize(("name", "call", "kw"), TRACED_CASES,
                         ids=[f"{c[0]}-{i}" for i, c in enumerate(TRACED_CASES)])
def test_traced_values_are_numpys_exactly(name: str, call: Any, kw: Any) -> None:
    """The same calls on traced values (np.<name> dispatching to diffkit), the NaNs put in by
    np.where inside the function; the slices keep at least two numbers."""
    mask = ~np.isnan(X)
    mask[1, :, 1] = mask[2, 2, :] = True
    data = np.where(mask, CLEAN, NAN)
    want = call(np, data)
    seen: list[Any] = []

    def f(x: Any) -> Any:
        seen.append(call(np, np.where(mask, x, NAN)))
        return np.sum(x)

    dk.grad(f)(CLEAN)
    got = seen[0].value if isinstance(seen[0], dk.Tensor) else seen[0]
    assert np.asarray(got).dtype == np.asarray(want).dtype
    np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize(("name", "call", "kw"),
                         [c for c in VALUE_CASES if c[0] in ("quantile", "percentile")][::3])
def test_traced_quantiles_are_numpys_exactly(name: str, call: Any, kw: Any) -> None:
    seen: list[Any] = []
    dk.grad(lambda x: seen.append(call(np, x)) or np.sum(x))(CLEAN)
    got = seen[0].value
    want = call(np, CLEAN)
    assert got.dtype == np.asarray(want).dtype
    np.testing.assert_array_equal(got, want)


# ----- NaN entries: derivative 0 (on the eager tape, NaN inputs themselves) -------------------------


def _eager_grad(call: Any, x: np.ndarray) -> np.ndarray:
    t = dk.tensor(x, requires_grad=True)
    _quietly(lambda: np.sum(call(t)).backward())
    return np.asarray(t.grad)


Y = np.array([[1.5, NAN, -0.5, 2.0], [NAN, 0.25, 3.0, -1.0]])
FINITE = ~np.isnan(Y)


@pytest.mark.parametrize(("call", "expected"), [
    (lambda t: np.nansum(t, axis=1), FINITE * 1.0),
    (lambda t: np.nanmean(t, axis=1), FINITE / 3.0),
    (lambda t: np.nanprod(t), np.where(FINITE, np.nanprod(Y) / np.where(FINITE, Y, 1.0), 0.0)),
    (lambda t: np.nanmax(t, axis=1), np.array([[0, 0, 0, 1.0], [0, 0, 1.0, 0]])),
    (lambda t: np.nanmin(t), np.array([[0, 0, 0, 0], [0, 0, 0, 1.0]])),
    (lambda t: np.nancumsum(t, axis=1), FINITE * np.array([4.0, 3.0, 2.0, 1.0])),
    (lambda t: np.nanmedian(t, axis=1), np.array([[1.0, 0, 0, 0], [0, 1.0, 0, 0]])),
    (lambda t: np.nanquantile(t, 0.25), np.array([[0, 0, 0.75, 0], [0, 0.25, 0, 0]])),
    (lambda t: np.nanvar(t, axis=1),
     2.0 * np.where(FINITE, Y - np.nanmean(Y, axis=1, keepdims=True), 0.0) / 3.0),
], ids=["nansum", "nanmean", "nanprod", "nanmax", "nanmin", "nancumsum", "nanmedian",
        "nanquantile", "nanvar"])
def test_nan_inputs_on_the_eager_tape_get_derivative_zero(call: Any, expected: Any) -> None:
    """Tensor.backward takes NaN inputs (dk.grad refuses them by name): NaN entries get 0, the
    others the derivative of the reduction of the rest (derived by hand)."""
    got = _eager_grad(call, Y)
    np.testing.assert_allclose(got, expected, atol=1e-15)
    assert np.all(got[~FINITE] == 0)


def test_dk_grad_refuses_nan_inputs_by_name() -> None:
    """diffkit's rule for every function: a NaN input is a DomainError naming it."""
    with pytest.raises(dk.DomainError, match="not finite"):
        dk.grad(lambda x: np.nansum(x))(Y)


# ----- all-NaN slices: diffkit's invalid point, as np.mean of an empty array ------------------------

ALL_NAN = np.array([[True, False, True], [False, False, False]])
INVALID_CALLS = [
    ("nanmean", lambda x: np.nanmean(x, axis=1)), ("nanvar", lambda x: np.nanvar(x, axis=1)),
    ("nanstd", lambda x: np.nanstd(x, axis=1)), ("nanmax", lambda x: np.nanmax(x, axis=1)),
    ("nanmin", lambda x: np.nanmin(x, axis=1)), ("nanmedian", lambda x: np.nanmedian(x, axis=1)),
    ("nanquantile", lambda x: np.nanquantile(x, [0.2, 0.5], axis=1)),
    ("nanpercentile", lambda x: np.nanpercentile(x, 30, axis=1)),
]


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # NumPy's own, on fd's plain arrays
@pytest.mark.parametrize("method", ENGINES)
@pytest.mark.parametrize(("name", "call"), INVALID_CALLS, ids=[c[0] for c in INVALID_CALLS])
def test_all_nan_slices_are_a_domain_error_in_every_engine(name: str, call: Any,
                                                            method: str) -> None:
    """As ``np.mean`` of an empty array (and log(-1)): a DomainError naming the function."""
    def f(x: Any) -> Any:
        return np.sum(call(np.where(ALL_NAN, x, NAN)))

    if method == "fd":  # fd evaluates plain arrays, which NumPy's own function answers: nan
        with pytest.raises(dk.NonDifferentiableError, match="not finite"):
            dk.grad(f, method=method)(np.ones((2, 3)))
        return
    with pytest.raises(dk.DomainError, match=f"numpy.{name} of"):
        dk.grad(f, method=method)(np.ones((2, 3)))
    with pytest.raises(dk.DomainError, match=r"mean\(\[\]\)"):  # the convention it follows
        dk.grad(lambda x: np.mean(x[:0]), method=method)(np.ones(3))


@pytest.mark.parametrize(("name", "call"), INVALID_CALLS, ids=[c[0] for c in INVALID_CALLS])
def test_all_nan_slices_on_the_eager_tape_are_numpys_nan(name: str, call: Any) -> None:
    x = np.where(ALL_NAN, 1.0 + np.arange(6.0).reshape(2, 3), NAN)
    t = dk.tensor(x, requires_grad=True)
    with pytest.warns(RuntimeWarning):
        out = call(t)
    want = _quietly(lambda: call(x))
    np.testing.assert_array_equal(out.value, want)


def test_too_few_numbers_for_ddof_is_a_domain_error() -> None:
    m = np.array([[True, True, False], [True, False, False]])  # two numbers, then one
    f = dk.function(lambda x: np.nanvar(np.where(m, x, NAN), axis=1, ddof=1), inputs=["x"])
    with pytest.raises(dk.DomainError, match="ddof=1"):
        dk.jacobian(f)(np.ones((2, 3)))
    g = dk.grad(lambda x: np.nanvar(np.where(m, x, NAN)[0], ddof=1))(np.array([[1.0, 3.0, 0.0],
                                                                                [0.0, 0.0, 0.0]]))
    np.testing.assert_allclose(g[0], [[-2.0, 2.0, 0.0], [0.0, 0.0, 0.0]])


def test_quantile_of_a_slice_holding_nan_points_to_nanquantile() -> None:
    m = np.array([True, False, True, True])
    with pytest.raises(dk.DomainError, match="numpy.nanquantile"):
        dk.grad(lambda x: np.quantile(np.where(m, x, NAN), 0.5))(np.ones(4))
    with pytest.raises(dk.DomainError, match="numpy.nanpercentile"):
        dk.grad(lambda x: np.percentile(np.where(m, x, NAN), 50))(np.ones(4))


# ----- conventions: ties, zero variance, zeros ------------------------------------------------------


def _grad(f: Any, x: np.ndarray, method: str) -> np.ndarray:
    return np.asarray(dk.grad(f, method=method)(x)[0])


@pytest.mark.parametrize("method", ("reverse", "forward", "fd"))
def test_ties_share_the_derivative_equally(method: str) -> None:
    """nanmedian, nanquantile (sort's convention) and nanmax (amax's): tied values share;
    central differences see the same for two ties."""
    m = np.array([True, True, False, True])
    x = np.array([2.0, 1.0, 5.0, 2.0])
    np.testing.assert_allclose(_grad(lambda x: np.nanmax(np.where(m, x, NAN)), x, method),
                               [0.5, 0, 0, 0.5], atol=1e-8)
    np.testing.assert_allclose(_grad(lambda x: np.nanmedian(np.where(m, x, NAN)), x, method),
                               [0.5, 0, 0, 0.5], atol=1e-8)
    np.testing.assert_allclose(_grad(lambda x: np.nanquantile(np.where(m, x, NAN), 0.75), x,
                                     method), [0.5, 0, 0, 0.5], atol=1e-8)
    np.testing.assert_allclose(_grad(lambda x: np.quantile(x, 0.2), np.array([3.0, 1.0, 1.0]),
                                     method), [0, 0.5, 0.5], atol=1e-8)


@pytest.mark.parametrize("method", ENGINES)
def test_nanstd_at_zero_variance_has_derivative_zero(method: str) -> None:
    m = np.array([[True, False, True], [True, True, True]])
    x = np.array([[1.5, 9.0, 1.5], [1.0, 2.0, 4.0]])

    def f(x: Any) -> Any:
        return np.sum(np.nanstd(np.where(m, x, NAN), axis=1))

    d = x[1] - x[1].mean()
    np.testing.assert_allclose(_grad(f, x, method), [[0, 0, 0], d / (3 * np.std(x[1]))],
                               atol=1e-8)
    if method != "fd":
        with pytest.raises(dk.NonDifferentiableError):
            dk.hessian(lambda x: np.nanstd(np.where(m[0], x, NAN)), method=method)(x[0])


@pytest.mark.parametrize("method", ENGINES)
def test_nanprod_is_exact_at_zeros(method: str) -> None:
    m = np.array([True, False, True, True, True])
    x = np.array([2.0, 7.0, 0.0, 3.0, 0.0])
    f = dk.function(lambda x: np.nanprod(np.where(m, x, NAN)), inputs=["x"])
    np.testing.assert_allclose(dk.grad(f, method=method)(x)[0], [0, 0, 0, 0, 0], atol=1e-9)
    x[4] = -1.5
    np.testing.assert_allclose(dk.grad(f, method=method)(x)[0], [0, 0, -9.0, 0, 0], atol=1e-7)
    if method != "fd":
        h = dk.hessian(f, method=method)(x)
        np.testing.assert_allclose(h[2], [-4.5, 0, 0, -3.0, 6.0], atol=1e-12)


# ----- jit, float32, traces ------------------------------------------------------------------------


@pytest.mark.parametrize(("name", "call"), [
    ("nansum", lambda x, m: np.nansum(np.where(m > 0, x ** 2, NAN), axis=0)),
    ("nanstd", lambda x, m: np.nanstd(np.where(m > 0, x, NAN), axis=1)),
    ("nanmax", lambda x, m: np.nanmax(np.where(m > 0, x, NAN), axis=0)),
    ("nancumprod", lambda x, m: np.nancumprod(np.where(m > 0, x, NAN))),
    ("nanmedian", lambda x, m: np.nanmedian(np.where(m > 0, x, NAN), axis=1)),
    ("nanpercentile", lambda x, m: np.nanpercentile(np.where(m > 0, x, NAN), [20, 80], axis=0)),
    ("quantile", lambda x, m: np.quantile(x * m, 0.6, axis=1)),
])
def test_jit_agrees_with_eager(name: str, call: Any) -> None:
    """A jit function answers every call as the plain function does, also when the NaN pattern
    (here from a second input) changes between calls: the traces that read the counts of
    numbers are traced again."""
    weights = np.linspace(0.5, 2.0, 12).reshape(3, 4)

    def f(x: Any, m: Any) -> Any:
        return np.sum(call(x, m) * 1.0)

    jitted = dk.jit(f)
    rng = np.random.default_rng(41)
    for k in range(4):
        x = rng.normal(size=(3, 4)) * weights
        m = np.ones((3, 4))
        m[k % 3, k] = m[(k + 1) % 3, (k + 2) % 4] = 0.0
        want = dk.grad(f, wrt=0)(x, m)[0]
        np.testing.assert_array_equal(dk.grad(jitted, wrt=0)(x, m)[0], want)
        np.testing.assert_array_equal(jitted(x, m), f(x, m))


def test_traces_hold_at_their_point_only_where_counts_are_read() -> None:
    m = np.array([[True, False, True], [True, True, True]])
    x = np.ones((2, 3))
    plain = dk.function(lambda x: np.nanmean(np.where(m, x, NAN), axis=1), inputs=["x"])
    assert not plain.trace(x).value_dependent
    for fn in (lambda x: np.nanmedian(np.where(m, x, NAN)),
               lambda x: np.nanquantile(np.where(m, x, NAN), 0.3)):
        assert dk.function(fn, inputs=["x"]).trace(x).value_dependent


@pytest.mark.parametrize(("call", "dtype"), [
    (lambda x: np.nanmean(x), np.float32), (lambda x: np.nanstd(x, axis=0), np.float32),
    (lambda x: np.nanquantile(x, 0.3), np.float32), (lambda x: np.quantile(x, [0.3]), np.float64),
    (lambda x: np.percentile(x, np.float64(30)), np.float64),
    (lambda x: np.nanpercentile(x, 30, method="lower"), np.float32),
])
def test_float32_values_and_gradients_keep_numpys_dtype(call: Any, dtype: Any) -> None:
    x = np.array([[0.5, 2.0, -1.0], [1.5, 0.25, 3.0]], dtype=np.float32)
    seen: list[Any] = []
    g = dk.grad(lambda t: np.sum(seen.append(call(t)) or call(t)))(x)[0]
    assert seen[0].dtype == np.asarray(call(x)).dtype == dtype
    assert g.dtype == np.float32
    g64 = dk.grad(lambda t: np.sum(call(t)))(x.astype(np.float64))[0]
    np.testing.assert_allclose(g, g64, rtol=1e-6)


# ----- refused by name -----------------------------------------------------------------------------


@pytest.mark.parametrize(("call", "error", "match"), [
    (lambda t: np.nansum(t, out=np.empty(4)), dk.TracingError, "out="),
    (lambda t: np.nanprod(t, initial=1.0), dk.TracingError, "initial="),
    (lambda t: np.nanmean(t, where=t > 0), dk.TracingError, "where="),
    (lambda t: np.nanvar(t, dtype=np.float32), dk.TracingError, "dtype="),  # (nansum, nancumsum
    (lambda t: np.nanstd(t, dtype=np.float32), dk.TracingError, "dtype="),  # take dtype=)
    (lambda t: np.nancumprod(t, out=np.empty(12)), dk.TracingError, "out="),
    (lambda t: np.nanvar(t, mean=np.mean(t)), dk.TracingError, "mean="),
    (lambda t: np.nanstd(t, ddof=1, correction=1), dk.DomainError, "simultaneously"),
    (lambda t: np.nanmax(t, initial=0.0), dk.TracingError, "initial="),
    (lambda t: np.nanmin(t, where=t > 0), dk.TracingError, "where="),
    (lambda t: np.nanmin(t, axis=2), dk.ShapeError, "out of bounds"),
    (lambda t: np.nanmedian(t, out=np.empty(3)), dk.TracingError, "out="),
    (lambda t: np.quantile(t, 0.5, out=np.empty(())), dk.TracingError, "out="),
    (lambda t: np.quantile(t, 0.5, method="hazen"), dk.TracingError, "method='hazen'.*'linear'"),
    (lambda t: np.nanpercentile(t, 50, method="inverted_cdf"), dk.TracingError, "inverted_cdf"),
    (lambda t: np.quantile(t, 0.5, weights=np.ones((3, 4))), dk.TracingError, "weights="),
    (lambda t: np.percentile(t, 120), dk.DomainError, r"\[0, 100\]"),
    (lambda t: np.nanquantile(t, [0.5, -0.1]), dk.DomainError, r"\[0, 1\]"),
    (lambda t: np.quantile(t, np.ones((2, 2)) / 2), dk.ShapeError, "scalar or 1d"),
    (lambda t: np.quantile(t, np.mean(t) * 0.0 + 0.5), dk.TracingError, "q is not"),
    (lambda t: np.quantile(t[:, :0], 0.5, axis=1), dk.DomainError, "empty"),
    (lambda t: np.quantile(t * 1j, 0.5), TypeError, "real numbers"),
])
def test_refused_by_name(call: Any, error: type, match: str) -> None:
    x = np.arange(12.0).reshape(3, 4) / 7.0
    with pytest.raises(error, match=match):
        dk.grad(lambda t: np.sum(call(t)))(x)


@pytest.mark.parametrize(("call", "error", "builtin", "match"), [
    (lambda t: np.nanvar(t, ddof=1, correction=1), dk.DomainError, ValueError, "simultaneously"),
    (lambda t: np.nanvar(t, ddof="a"), dk.InputTypeError, TypeError, "ddof must be a real"),
    (lambda t: np.nanstd(t, ddof=None), dk.InputTypeError, TypeError, "ddof must be a real"),
    (lambda t: np.percentile(t, "50"), dk.InputTypeError, TypeError, "q must be a real number"),
    (lambda t: np.nanpercentile(t, "50"), dk.InputTypeError, TypeError, "q must be a real"),
    (lambda t: np.quantile(t, "0.5"), dk.InputTypeError, TypeError, "q must be a real number"),
    (lambda t: np.nanquantile(t, None), dk.InputTypeError, TypeError, "q must be a real number"),
    (lambda t: np.quantile(t, 0.5, method="foo"), dk.DomainError, ValueError,
     "'foo' is not a valid method"),
], ids=["ddof and correction", "ddof str", "ddof None", "percentile q str",
        "nanpercentile q str", "quantile q str", "q None", "unknown method"])
def test_bad_arguments_are_named_errors_of_numpys_type(call, error, builtin, match) -> None:
    """Bad arguments: diffkit's named error, of the builtin type NumPy raises (they were bare
    TypeErrors and ValueErrors from inside diffkit, or of another type than NumPy's)."""
    assert_named_error(call, np.arange(12.0).reshape(3, 4) / 7.0, error, builtin, match)


LIST_AXES = [("nanmedian", ()), ("quantile", (0.3,)), ("percentile", ([20.0, 75.0],)),
             ("nanquantile", (0.6,)), ("nanpercentile", (40.0,)), ("median", ())]


@pytest.mark.parametrize(("name", "args"), LIST_AXES, ids=[n for n, _ in LIST_AXES])
@pytest.mark.parametrize("axis", [[0, 2], [2, 0], [1], [-1, 0]], ids=str)
def test_axis_may_be_a_list(name: str, args: tuple, axis: list) -> None:
    """NumPy takes a list of axes in the medians and quantiles (its _ureduce); diffkit's median
    did, the others raised a bare TypeError from normalize_axes. Values are NumPy's, on plain
    arrays and traced; the derivative of the list's reduction is the tuple's."""
    data = CLEAN if name in ("quantile", "percentile", "median") else X
    want = getattr(np, name)(data, *args, axis=axis)
    _same(getattr(dk, name)(data, *args, axis=axis), want)
    for keepdims in (False, True):
        def f(t: Any, keepdims: bool = keepdims) -> Any:
            return getattr(np, name)(t, *args, axis=axis, keepdims=keepdims)

        np.testing.assert_array_equal(f(dk.tensor(data)).value, f(data))
    x = CLEAN
    (g,) = dk.grad(lambda t: np.sum(getattr(np, name)(t, *args, axis=axis) ** 2))(x)
    (h,) = dk.grad(lambda t: np.sum(getattr(np, name)(t, *args, axis=tuple(axis)) ** 2))(x)
    np.testing.assert_array_equal(g, h)


def _summed(fn: Any, kw: dict) -> Any:
    return lambda t: np.sum(fn(t, **kw))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_nanmedian_with_no_groups_is_empty(dtype) -> None:
    """A reduction with no groups at all (a zero-length kept axis) is NumPy's empty array, not
    an error ("nanmedian of an empty group" was raised); its derivative is empty too."""
    for shape, kw in (((0, 3), {"axis": 1}), ((0, 3), {"axis": 1, "keepdims": True}),
                      ((0, 0), {"axis": 1}), ((2, 0, 3), {"axis": (0, 2)}),
                      ((0, 4), {"axis": (1,)})):
        x = np.zeros(shape, dtype=dtype)
        _same(dk.nanmedian(x, **kw), np.nanmedian(x, **kw))
        (g,) = dk.grad(_summed(np.nanmedian, kw))(x)
        assert g.shape == shape and g.dtype == dtype
    with pytest.raises(dk.DomainError, match="empty group"):
        dk.grad(lambda t: np.sum(np.nanmedian(t, axis=1)))(np.zeros((3, 0)))


def test_overwrite_input_is_accepted_and_changes_nothing() -> None:
    x = CLEAN[0].copy()
    for name, args in (("nanmedian", ()), ("quantile", (0.3,)), ("nanpercentile", (40,))):
        _same(getattr(dk, name)(x, *args, overwrite_input=True),
              getattr(np, name)(x.copy(), *args))
    np.testing.assert_array_equal(x, CLEAN[0])


def test_records_are_declared_in_this_family() -> None:
    from diffkit.primitives.declare import NAMES

    for name in COVERS:
        assert NAMES[name] == "diffkit.primitives.nanfunctions"
        assert getattr(dk, name) is dk.primitive.COMPOSITES[name]
        assert getattr(dk, name).doc


@pytest.mark.parametrize("f", [
    lambda x: np.nanvar(np.where(x > 0, x, np.nan), axis=1, ddof=1),
    lambda x: np.nanstd(np.where(x > 0, x, np.nan), axis=1, ddof=2),
    lambda x: np.nanmean(np.where(x > 0, x, np.nan), axis=1),
    lambda x: np.nanmax(np.where(x > 0, x, np.nan), axis=1),
    lambda x: np.quantile(np.where(x > 0, x, np.nan), 0.0, axis=1),
], ids=["nanvar", "nanstd", "nanmean", "nanmax", "quantile"])
def test_a_jit_replay_at_other_values_gives_numpys_nan(f) -> None:
    """A dk.jit function is traced where every slice has numbers, then called where one has
    none: the replayed graph must not depend on which slices were bad at the trace (nanvar with
    ddof=1 of an all-NaN slice replayed 0/−1 = −0.0 where NumPy gives nan)."""
    good = np.array([[1.0, 2.0, 3.0], [0.5, 1.5, 2.5]])
    bad = np.array([[1.0, 2.0, 3.0], [-0.5, -1.5, -2.5]])
    jitted = dk.jit(f)
    for _ in range(3):
        np.testing.assert_array_equal(jitted(good), f(good))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        want = f(bad)
    assert np.isnan(want[1])
    np.testing.assert_array_equal(jitted(bad), want)
