"""NumPy's element-wise ufuncs (diffkit/primitives/ufuncs.py), written in plain NumPy spelling.

* values: every record computes NumPy's own value, bit for bit (signed zeros, NaN, ±inf, dtypes),
  on plain arrays and inside traced functions;
* derivatives: every engine (reverse, forward, symbolic, fd) against a 50-digit mpmath reference
  of the mathematics (numpy_check), first and second order, float32 too;
* the conventions where a derivative does not exist in the ordinary sense (jumps, kinks, ties,
  removable points, NaN), checked at those very points in every exact engine;
* NumPy's aliases (remainder/mod, radians/deg2rad, around/round, asinh/arcsinh, …), the Tensor
  operators (%, //, divmod, &, |, ^, ~) and the parser's names.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import mpmath
import numpy as np
import pytest
import sympy as sp
from numpy_check import Spec, check, flat, grid

import diffkit as dk
from diffkit.primitive import COMPOSITES, NUMPY_NAMES, REGISTRY
from diffkit.primitives.declare import declared_in

#: what this module tests (read by the completeness tests of test_core_primitives.py)
COVERS = (
    "logical_and", "logical_or", "logical_xor", "logical_not", "isfinite", "isnan", "isinf",
    "signbit", "bitwise_and", "bitwise_or", "bitwise_xor", "invert",
    "floor", "ceil", "rint", "trunc", "floor_divide", "heaviside", "mod", "fmod", "divmod",
    "exp2", "expm1", "log2", "log10", "arcsinh", "arccosh", "arctanh", "reciprocal", "cbrt",
    "logaddexp", "logaddexp2", "hypot", "arctan2", "deg2rad", "rad2deg", "sinc", "copysign",
    "positive", "arg", "angle", "real_if_close", "fmax", "fmin", "clip", "nan_to_num", "fix",
    "round", "astype", "float_power",
)

EXACT = ("reverse", "forward", "symbolic")
W = np.array([0.7, -1.3, 0.9])  # weights: a scalar output whose Hessian is checked too
mpf = mpmath.mpf


def test_covers_every_record_of_the_family() -> None:
    assert set(COVERS) == set(declared_in("diffkit.primitives.ufuncs"))


def U(f: Callable[..., Any]) -> Callable[..., Any]:
    """A one-input function calling f (dk.grad reads a function's parameters as its inputs)."""
    return lambda x: f(x)


def B(f: Callable[..., Any]) -> Callable[..., Any]:
    """A two-input function calling f."""
    return lambda x, y: f(x, y)


# ----- values: NumPy's, bit for bit ---------------------------------------------------------------

SPECIAL = np.array([-2.5, -1.5, -1.0, -0.75, -0.5, -0.0, 0.0, 1e-300, 0.5, 0.75, 1.0, 1.5, 2.5,
                    3.0, 1e300, np.inf, -np.inf, np.nan])
PAIRS = np.array(np.meshgrid(SPECIAL, SPECIAL)).reshape(2, -1)


def assert_same(got: Any, want: Any, what: str) -> None:
    """Equal values, NaN where NumPy has NaN, the same signs of zero, the same dtype and shape."""
    got, want = np.asarray(got), np.asarray(want)
    assert got.dtype == want.dtype, f"{what}: dtype {got.dtype}, NumPy's is {want.dtype}"
    assert got.shape == want.shape, f"{what}: shape {got.shape}, NumPy's is {want.shape}"
    assert np.array_equal(got, want, equal_nan=want.dtype.kind in "fc"), f"{what}: {got} != {want}"
    if want.dtype.kind == "f":
        assert np.array_equal(np.signbit(got), np.signbit(want)), f"{what}: signs of zero differ"


UNARY_UFUNCS = ["exp2", "expm1", "log2", "log10", "arcsinh", "arccosh", "arctanh", "reciprocal",
                "cbrt", "sinc", "deg2rad", "rad2deg", "positive", "floor", "ceil", "rint", "trunc",
                "isfinite", "isnan", "isinf", "signbit", "logical_not", "fix", "round",
                "nan_to_num", "real_if_close"]
BINARY_UFUNCS = ["arctan2", "hypot", "logaddexp", "logaddexp2", "copysign", "fmax", "fmin",
                 "mod", "fmod", "floor_divide", "heaviside", "logical_and", "logical_or",
                 "logical_xor", "float_power"]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("name", UNARY_UFUNCS)
def test_unary_values_are_numpys(name: str, dtype: Any) -> None:
    with np.errstate(all="ignore"):
        x = SPECIAL.astype(dtype)  # (1e300 overflows float32 to inf)
        want = getattr(np, name)(x)
        assert_same(getattr(dk, name)(x), want, f"dk.{name} on {dtype.__name__}")
        for i in range(x.size):  # NumPy scalars too
            assert_same(getattr(dk, name)(x[i]), getattr(np, name)(x[i]), f"dk.{name}({x[i]!r})")


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("name", BINARY_UFUNCS)
def test_binary_values_are_numpys(name: str, dtype: Any) -> None:
    with np.errstate(all="ignore"):
        a, b = PAIRS.astype(dtype)
        assert_same(getattr(dk, name)(a, b), getattr(np, name)(a, b), f"dk.{name} ({dtype})")
        assert_same(getattr(dk, name)(a, 0.75), getattr(np, name)(a, 0.75), f"dk.{name}(a, 0.75)")


def test_other_values_are_numpys() -> None:
    x = SPECIAL
    with np.errstate(all="ignore"):
        q, r = dk.divmod(*PAIRS)
        nq, nr = np.divmod(*PAIRS)
        assert_same(q, nq, "divmod quotient")
        assert_same(r, nr, "divmod remainder")
        for d in (-2, -1, 0, 1, 2, 3):
            assert_same(dk.round(x * 1.2345, d), np.round(x * 1.2345, d), f"round(., {d})")
            assert_same(dk.round(np.float32(2.675), d), np.round(np.float32(2.675), d), "round32")
        ints = np.array([-15, -5, 3, 17, 25, 35])
        for d in (-1, 0, 1):
            assert_same(dk.round(ints, d), np.round(ints, d), f"round(ints, {d})")
        for deg in (False, True):
            assert_same(dk.angle(x, deg), np.angle(x, deg), "angle")
            z = np.array([1 + 1j, -2j, -0.0 + 0j, -1 - 0j, 3 + 4j])
            assert_same(dk.angle(z, deg), np.angle(z, deg), "angle of complex")
        assert_same(dk.arg(x), np.angle(x), "arg")
        assert_same(dk.clip(x, -1.0, 1.5), np.clip(x, -1.0, 1.5), "clip")
        assert_same(dk.clip(x, None, 1.5), np.clip(x, None, 1.5), "clip open below")
        assert_same(dk.clip(x, 2.0, 1.0), np.clip(x, 2.0, 1.0), "clip with a_min > a_max")
        assert_same(dk.clip(x, min=0.5), np.clip(x, min=0.5), "clip(min=)")
        assert_same(dk.clip(x.astype(np.float32), 0.0, 1.0),
                    np.clip(x.astype(np.float32), 0.0, 1.0), "clip float32")
        assert_same(dk.clip(x, None, None), np.clip(x, None, None), "clip open on both sides")
        for kw in ({}, {"nan": 5.0, "posinf": 7.0, "neginf": -7.0}):
            assert_same(dk.nan_to_num(x, **kw), np.nan_to_num(x, **kw), f"nan_to_num {kw}")
            x32 = x.astype(np.float32)
            assert_same(dk.nan_to_num(x32, **kw), np.nan_to_num(x32, **kw), "nan_to_num f32")
        z = np.array([np.nan + 1j, 1 + np.inf * 1j, -np.inf - 0j])
        assert_same(dk.nan_to_num(z), np.nan_to_num(z), "nan_to_num of complex")
        assert_same(dk.nan_to_num(np.arange(3)), np.nan_to_num(np.arange(3)), "of integers")
        z = np.array([1 + 1e-15j, 2 - 1e-14j])
        assert_same(dk.real_if_close(z), np.real_if_close(z), "real_if_close (close)")
        z = np.array([1 + 1e-10j, 2.0 + 0j])
        assert_same(dk.real_if_close(z), np.real_if_close(z), "real_if_close (not close)")
        for a, b in [(2.0, 0.5), (x, 1.5), (np.float32(2.0), np.float32(3.0)), (2, -1)]:
            assert_same(dk.float_power(a, b), np.float_power(a, b), "float_power")
        i, f = np.arange(-3, 4), np.linspace(-2.5, 2.5, 7)
        for dt in (np.float32, np.float64, np.int32, np.bool_, np.complex128):
            assert_same(dk.astype(f, dt), f.astype(dt), f"astype float64 -> {dt}")
            assert_same(dk.astype(i, dt), i.astype(dt), f"astype int64 -> {dt}")
        b = np.array([True, False, True])
        for other in (np.array([True, True, False]), np.array([1, 0, 3])):
            for name in ("bitwise_and", "bitwise_or", "bitwise_xor", "logical_and"):
                assert_same(getattr(dk, name)(b, other), getattr(np, name)(b, other), name)
        assert_same(dk.invert(b), ~b, "invert")
        assert_same(dk.invert(np.array([5, -2])), ~np.array([5, -2]), "invert of integers")
        assert_same(dk.sinc(np.array([0.0, 1e-10, -1e-8, 2.0])),
                    np.sinc(np.array([0.0, 1e-10, -1e-8, 2.0])), "sinc near 0")
        for name in ("exp2", "expm1", "log2", "log10", "arcsinh", "arccosh", "arctanh",
                     "reciprocal", "sinc", "deg2rad", "rad2deg", "positive"):
            z = np.array([0.3 + 0.4j, -1.2 + 0.5j, 2.0 - 1.0j])
            want = getattr(np, name)(z) if name not in ("deg2rad", "rad2deg") else (
                z * (np.pi / 180) if name == "deg2rad" else z * (180 / np.pi))
            np.testing.assert_allclose(getattr(dk, name)(z), want, rtol=1e-15, err_msg=name)


def test_values_inside_traced_functions_are_numpys() -> None:
    """The same NumPy code run by NumPy and by diffkit (traced, then evaluated)."""
    x, y = np.array([-2.5, -0.7, 0.3, 1.9]), np.array([1.3, -0.8, 0.6, 2.2])

    def f(x: Any, y: Any) -> Any:
        return (np.exp2(x) + np.expm1(x) + np.log2(y * y) + np.log10(y * y) + np.arcsinh(x)
                + np.arccosh(2.0 + y * y) + np.arctanh(np.tanh(x)) + np.reciprocal(y)
                + np.cbrt(x) + np.sinc(x) + np.radians(x) + np.degrees(y) + np.positive(x)
                + np.arctan2(y, x) + np.hypot(x, y) + np.logaddexp(x, y) + np.logaddexp2(x, y)
                + np.copysign(x, y) + np.float_power(y * y, x) + np.fmax(x, y) + np.fmin(x, y)
                + x % y + np.fmod(x, y) + x // y + np.remainder(y, x) + np.heaviside(x, y)
                + np.floor(x) * np.ceil(y) + np.rint(x) + np.trunc(y) + np.fix(x)
                + np.round(x, 1) + np.around(y) + x.round(2) + np.clip(x, -1.0, y)
                + x.clip(max=0.5) + np.nan_to_num(x) + np.angle(x) + np.real_if_close(y)
                + np.where(np.isfinite(x) & ~np.isnan(y) | np.isinf(x) ^ np.signbit(y), x, y)
                + x.astype(np.float32) + (x > 0).astype(float) + np.astype(y, np.float64)
                + np.divmod(x, y)[0] * divmod(y, x)[1])

    traced = dk.function(f, inputs=["x", "y"])
    want = f(x, y)
    got, _ = dk.value_and_grad(lambda x, y: np.sum(f(x, y) * W[0]))(x, y)
    np.testing.assert_allclose(got, np.sum(want * W[0]), rtol=1e-14)
    assert_same(traced(x, y), want, "traced evaluation")


# ----- derivatives: every engine against mpmath ---------------------------------------------------


def _each(f: Callable[..., Any]) -> Callable[..., Any]:
    """f applied element by element to mpf scalars or object arrays (broadcast)."""

    def g(*xs: Any) -> Any:
        arrs = np.broadcast_arrays(*[np.asarray(x, dtype=object) for x in xs])
        out = np.empty(arrs[0].shape, dtype=object)
        for idx in np.ndindex(*arrs[0].shape):
            out[idx] = f(*(a[idx] for a in arrs))
        return out if out.shape else out[()]

    return g


def _weighted(f: Callable[..., Any]) -> Callable[..., Any]:
    """The reference of np.sum(W * f(*xs)) (xs of shape (3,) or scalars)."""
    each = _each(f)

    def ref(*xs: Any) -> Any:
        vals = np.broadcast_to(np.asarray(each(*xs), dtype=object), W.shape)
        return mpmath.fsum(mpf(float(w)) * v for w, v in zip(W, flat(vals)))

    return ref


def _sgn(v: Any) -> Any:
    return (v > 0) - (v < 0)


def _rint(v: Any) -> Any:
    f = mpmath.floor(v)
    d = v - f
    if d != mpf("0.5"):
        return f + (d > mpf("0.5"))
    return f if f % 2 == 0 else f + 1


def _trunc(v: Any) -> Any:
    return mpmath.floor(v) if v >= 0 else mpmath.ceil(v)


def _sinc(v: Any) -> Any:
    return mpf(1) if v == 0 else mpmath.sin(mpmath.pi * v) / (mpmath.pi * v)


def _logaddexp(a: Any, b: Any, base: Any = None) -> Any:
    if base is None:
        return mpmath.log(mpmath.exp(a) + mpmath.exp(b))
    return mpmath.log(mpmath.power(base, a) + mpmath.power(base, b), base)


def spec(name: str, np_f: Callable[..., Any], mp_f: Callable[..., Any],
         *ranges: tuple[float, float], seed: int = 0, points: Any = None, **kw: Any) -> Spec:
    """np.sum(W * np_f(*xs)) over inputs of shape (3,) drawn from `ranges` (or `points`)."""
    pts = points if points is not None else grid(*[((3,), r) for r in ranges], seed=seed)
    return Spec(name, lambda *xs: np.sum(W * np_f(*xs)), pts, ref=_weighted(mp_f), order=2, **kw)


SPECS = [
    spec("exp2", np.exp2, lambda x: mpmath.power(2, x), (-2, 2)),
    spec("expm1", np.expm1, mpmath.expm1, (-2, 2)),
    spec("expm1-tiny", np.expm1, mpmath.expm1, (-1e-9, 1e-9)),
    spec("log2", np.log2, lambda x: mpmath.log(x, 2), (0.2, 4)),
    spec("log10", np.log10, mpmath.log10, (0.2, 4)),
    spec("arcsinh", np.arcsinh, mpmath.asinh, (-3, 3)),
    spec("asinh", np.asinh, mpmath.asinh, (-3, 3), seed=1),
    spec("arccosh", np.arccosh, mpmath.acosh, (1.2, 4)),
    spec("acosh", np.acosh, mpmath.acosh, (1.2, 4), seed=1),
    spec("arctanh", np.arctanh, mpmath.atanh, (-0.9, 0.9)),
    spec("atanh", np.atanh, mpmath.atanh, (-0.9, 0.9), seed=1),
    spec("reciprocal", np.reciprocal, lambda x: 1 / x, (0.5, 2)),
    spec("reciprocal-negative", np.reciprocal, lambda x: 1 / x, (-2, -0.5)),
    spec("cbrt", np.cbrt, lambda x: _sgn(x) * mpmath.cbrt(abs(x)), (-2, 2)),
    spec("sinc", np.sinc, _sinc, (-2.5, 2.5)),
    spec("sinc-near-0", np.sinc, _sinc, points=[(np.array([0.0, 1e-3, -0.14]),),
                                               (np.array([0.1, -0.16, 0.17]),)]),
    spec("deg2rad", np.deg2rad, lambda x: x * mpmath.pi / 180, (-360, 360)),
    spec("radians", np.radians, lambda x: x * mpmath.pi / 180, (-360, 360)),
    spec("rad2deg", np.rad2deg, lambda x: x * 180 / mpmath.pi, (-4, 4)),
    spec("degrees", np.degrees, lambda x: x * 180 / mpmath.pi, (-4, 4)),
    spec("positive", np.positive, lambda x: x, (-2, 2)),
    spec("arctan2", np.arctan2, mpmath.atan2, (0.2, 2), (-2, 2)),
    spec("atan2-lower-half", np.atan2, mpmath.atan2, (-2, -0.2), (-2, 2)),
    spec("hypot", np.hypot, mpmath.hypot, (-2, 2), (-2, 2)),
    spec("hypot-large", np.hypot, mpmath.hypot, (1e9, 1e10), (-1e10, 1e10)),
    spec("logaddexp", np.logaddexp, _logaddexp, (-3, 3), (-3, 3)),
    spec("logaddexp-large", np.logaddexp, _logaddexp, (700, 800), (700, 800)),
    spec("logaddexp2", np.logaddexp2, lambda a, b: _logaddexp(a, b, 2), (-3, 3), (-3, 3)),
    spec("copysign", np.copysign, lambda x, y: abs(x) * _sgn(y), (-2, 2), (-2, 2)),
    spec("float_power", np.float_power, mpmath.power, (0.5, 2), (-2, 2)),
    spec("fmax", np.fmax, max, (-2, 2), (-2, 2)),
    spec("fmin", np.fmin, min, (-2, 2), (-2, 2)),
    spec("mod", np.mod, lambda x, y: x - y * mpmath.floor(x / y), (-5, 5), (0.5, 2)),
    spec("mod-negative-divisor", lambda x, y: x % y, lambda x, y: x - y * mpmath.floor(x / y),
         (-5, 5), (-2, -0.5)),
    spec("remainder", np.remainder, lambda x, y: x - y * mpmath.floor(x / y), (-5, 5), (0.5, 2),
         seed=1),
    spec("fmod", np.fmod, lambda x, y: x - y * _trunc(x / y), (-5, 5), (0.5, 2)),
    spec("fmod-negative-divisor", np.fmod, lambda x, y: x - y * _trunc(x / y), (-5, 5),
         (-2, -0.5)),
    spec("floor_divide", lambda x, y: (x // y) * x + np.floor_divide(y, x),
         lambda x, y: mpmath.floor(x / y) * x + mpmath.floor(y / x), (-5, 5), (0.5, 2)),
    spec("divmod", lambda x, y: np.divmod(x, y)[0] * x + np.divmod(x, y)[1] ** 2,
         lambda x, y: mpmath.floor(x / y) * x + (x - y * mpmath.floor(x / y)) ** 2,
         (-5, 5), (0.5, 2)),
    spec("rounding", lambda x: np.floor(x) * x + np.ceil(x) * x**2 + np.rint(x) * np.sin(x)
         + np.trunc(x) * x**3 + np.fix(x) * np.exp(x),
         lambda x: mpmath.floor(x) * x + mpmath.ceil(x) * x**2 + _rint(x) * mpmath.sin(x)
         + _trunc(x) * x**3 + _trunc(x) * mpmath.exp(x), (-3, 3)),
    spec("round-decimals", lambda x: np.round(x, 2) * x + np.around(x, -1) * x**2
         + x.round(1) * np.sin(x),
         lambda x: _rint(x * 100) / 100 * x + _rint(x / 10) * 10 * x**2
         + _rint(x * 10) / 10 * mpmath.sin(x), (-30, 30)),
    spec("heaviside", lambda x, h: np.heaviside(x, h) * h + np.heaviside(h, 0.5) * x,
         lambda x, h: (x > 0) * h + (h > 0) * x, (-2, 2), (-2, 2)),
    spec("clip-scalar-bounds", lambda x: np.clip(x, -0.5, 1.0) * x,
         lambda x: min(max(x, mpf(-0.5)), mpf(1)) * x, (-2, 2)),
    spec("clip-array-bounds", lambda x, lo, hi: np.clip(x, lo, hi) ** 2,
         lambda x, lo, hi: min(max(x, lo), hi) ** 2, (-2, 2), (-1.5, 0), (0.1, 1.5)),
    spec("clip-open", lambda x, hi: np.clip(x, None, hi) + x.clip(min=hi) * x,
         lambda x, hi: min(x, hi) + max(x, hi) * x, (-2, 2), (-1, 1)),
    spec("angle-of-reals", lambda x: np.angle(x) * x + np.angle(x, deg=True),
         lambda x: (mpmath.pi if x < 0 else 0) * x + (180 if x < 0 else 0), (-2, 2)),
    spec("signbit-as-a-mask", lambda x, y: np.where(np.signbit(x) | np.logical_not(y > 0), x, y),
         lambda x, y: x if (x < 0 or not y > 0) else y, (-2, 2), (-2, 2)),
    spec("logical-masks", lambda x, y: np.where(np.logical_xor(x > 0, np.logical_or(
        y > 1, np.logical_and(x < -1, y < 0))), x * y, x - y),
         lambda x, y: x * y if ((x > 0) != ((y > 1) or (x < -1 and y < 0))) else x - y,
         (-2, 2), (-2, 2)),
]


@pytest.mark.parametrize("s", SPECS, ids=lambda s: s.name)
def test_derivatives_against_mpmath(s: Spec) -> None:
    check(s)


def test_nan_to_num_and_nan_aware_extrema_with_nan_data() -> None:
    """NaN and inf in the data (constants): nan_to_num's derivative is 1 where x is finite, fmax
    and fmin give the whole derivative to the number where the other argument is NaN."""
    c = np.array([np.nan, np.inf, -np.inf, 0.5, 2.0])
    d = np.array([np.nan, 3.0, np.nan, 0.5, 2.0])
    x = np.array([1.0, -2.0, 0.3, 0.7, 1.0])

    def f(x: Any) -> Any:
        return np.sum(np.nan_to_num(x + c, posinf=1e3, neginf=-1e3) * x + np.fmax(x, d)
                      + 2.0 * np.fmin(d, x))

    # nan_to_num(x + c)·x: 2x + c where finite, the replacement where not; fmax: 1 where x is
    # the value (d NaN or smaller); fmin: 1 where x is the value (d NaN or larger)
    want = np.array([0.0 + 1 + 2, 1e3 + 0 + 2, -1e3 + 1 + 2, 2 * 0.7 + 0.5 + 1 + 0,
                     2 * 1.0 + 2.0 + 0 + 2])
    for m in EXACT:
        (g,) = dk.grad(f, method=m)(x)
        np.testing.assert_allclose(g, want, rtol=1e-15, err_msg=m)
    # a tie: ½ each, as maximum/minimum
    for m in EXACT:
        assert dk.grad(lambda a, b: np.fmax(a, b), method=m)(1.5, 1.5) == (0.5, 0.5)
        assert dk.grad(lambda a, b: np.fmin(a, b), method=m)(1.5, 1.5) == (0.5, 0.5)


# ----- the conventions at jumps, kinks and removable points -------------------------------------


@pytest.mark.parametrize("method", EXACT)
def test_piecewise_constant_functions_have_derivative_zero_also_at_their_jumps(method: str) -> None:
    x = np.array([-2.0, -1.5, -0.5, 0.0, 0.5, 1.0, 2.5])
    for f in (np.floor, np.ceil, np.rint, np.trunc, np.fix, np.round, lambda v: np.round(v, 1),
              lambda v: v // 0.5, lambda v: np.heaviside(v, 0.5)):
        (g,) = dk.grad(_times_x(f), method=method)(x)
        np.testing.assert_array_equal(g, f(x))  # d(f(x)·x)/dx = f(x): f contributes 0
    # heaviside's second argument is its value where x1 == 0
    assert dk.grad(lambda a, h: np.heaviside(a, h), method=method)(0.0, 0.3) == (0.0, 1.0)
    assert dk.grad(lambda a, h: np.heaviside(a, h), method=method)(-1.0, 0.3) == (0.0, 0.0)


def _times_x(f: Callable[..., Any]) -> Callable[..., Any]:
    return lambda v: np.sum(f(v) * v)


@pytest.mark.parametrize("method", EXACT)
def test_remainders_at_their_jumps_take_the_branch_of_numpys_value(method: str) -> None:
    """At x = k·y the value is 0 (mod: of the branch above; fmod: of the branch away from 0):
    ∂/∂x = 1 and ∂/∂y = −q with that branch's quotient q."""
    cases = [(np.mod, 3.0, 1.5, -2.0), (np.mod, -3.0, 1.5, 2.0), (np.mod, 3.0, -1.5, 2.0),
             (np.fmod, 3.0, 1.5, -2.0), (np.fmod, -3.0, 1.5, 2.0), (np.fmod, 3.0, -1.5, 2.0),
             (np.fmod, 1.0, 0.1, -9.0), (np.mod, 1.0, 0.1, -9.0), (np.mod, 0.0, 2.0, 0.0)]
    for f, x, y, dy in cases:
        assert dk.grad(B(f), method=method)(x, y) == (1.0, dy), (
            f.__name__, x, y)
        assert abs(f(x, y) - (x + dy * y)) < 1e-15  # the value is x − q·y with that q


@pytest.mark.parametrize("method", EXACT)
def test_clip_on_its_boundary_splits_the_derivative_with_the_bound(method: str) -> None:
    x = np.array([-1.0, -0.3, 1.0, 2.0])
    lo, hi = np.array([-1.0, -1.0, -1.0, -1.0]), np.array([1.0, 1.0, 1.0, 1.0])
    gx, glo, ghi = dk.grad(lambda x, lo, hi: np.sum(np.clip(x, lo, hi)), method=method)(x, lo, hi)
    np.testing.assert_array_equal(gx, [0.5, 1.0, 0.5, 0.0])
    np.testing.assert_array_equal(glo, [0.5, 0.0, 0.0, 0.0])
    np.testing.assert_array_equal(ghi, [0.0, 0.0, 0.5, 1.0])
    # scalar bounds, broadcast: the bound's gradient sums over the elements it clips
    g = dk.grad(lambda x, lo: np.sum(np.clip(x, lo, 1.0)), method=method)(x, -1.0)
    np.testing.assert_array_equal(g[0], [0.5, 1.0, 0.5, 0.0])
    assert g[1] == 0.5


@pytest.mark.parametrize("method", EXACT)
def test_kinks_and_removable_points(method: str) -> None:
    grad = dk.grad
    assert grad(B(np.hypot), method=method)(0.0, 0.0) == (0.0, 0.0)
    assert grad(B(np.hypot), method=method)(3e200, -4e200) == pytest.approx((0.6, -0.8),
                                                                          rel=1e-15)  # no overflow
    assert grad(B(np.copysign), method=method)(0.0, -1.0) == (0.0, 0.0)
    assert grad(B(np.copysign), method=method)(2.0, -1.0) == (-1.0, 0.0)
    assert grad(B(np.copysign), method=method)(-2.0, 3.0) == (-1.0, 0.0)
    if method != "symbolic":
        assert grad(B(np.copysign), method=method)(-2.0, 0.0) == (-1.0, 0.0)
        assert grad(B(np.copysign), method=method)(-2.0, -0.0) == (1.0, 0.0)
    else:  # SymPy has one unsigned 0: a zero whose sign copysign reads is refused by name
        for y in (0.0, -0.0):
            with pytest.raises(dk.MissingRuleError, match="method='reverse'"):
                grad(B(np.copysign), method=method)(-2.0, y)
    assert grad(U(np.sinc), method=method)(0.0) == (0.0,)
    np.testing.assert_allclose(dk.derivative(U(np.sinc), 2, method=method)(0.0), -np.pi**2 / 3,
                               rtol=1e-14)
    assert grad(B(np.logaddexp), method=method)(1.0, 1.0) == (0.5, 0.5)
    assert grad(U(np.angle), method=method)(-1.0) == (0.0,)
    if method != "symbolic":
        assert grad(U(np.angle), method=method)(0.0) == (0.0,)
    else:  # angle(±0.0) is 0 or π: SymPy has one unsigned 0, so it is refused by name
        with pytest.raises(dk.MissingRuleError, match="method='reverse'"):
            grad(U(np.angle), method=method)(0.0)
    # (the symbolic engine may refuse arctan2 at a zero first: SymPy has one unsigned 0)
    refusals = (dk.NonDifferentiableError, dk.MissingRuleError) if method == "symbolic" else \
        dk.NonDifferentiableError
    for f, point in ((B(np.arctan2), (0.0, 0.0)), (U(np.cbrt), (0.0,)), (U(np.arccosh), (1.0,))):
        with pytest.raises(refusals):
            grad(f, method=method)(*point)


def test_sinc_near_zero_has_no_cancellation() -> None:
    """sinc′ from its Taylor series where (cos πx − sinc x)/x cancels (|πx| < ½)."""
    with mpmath.workdps(40):
        def exact(x: float) -> float:
            return float(mpmath.diff(lambda t: _sinc(t), mpf(x)))

        for x in (1e-8, -3e-5, 1e-3, 0.02, 0.15, -0.159, 0.16, 0.4):
            (g,) = dk.grad(U(np.sinc))(x)
            assert g == pytest.approx(exact(x), rel=2e-15, abs=1e-300), x


def test_cbrt_of_negative_numbers_is_real_and_differentiable() -> None:
    for m in EXACT + ("fd",):
        (g,) = dk.grad(U(np.cbrt), method=m)(-8.0)
        assert g == pytest.approx(1 / 12, rel=1e-9 if m == "fd" else 1e-15)


# ----- complex numbers ---------------------------------------------------------------------------


def test_angle_of_complex_numbers_follows_jaxs_convention() -> None:
    """grad f(z) = ∂f/∂x − i ∂f/∂y for real-valued f (as |z|: 0.6 − 0.8i at 3 + 4i): for arg z
    that is −i/z."""
    for z in (3 + 4j, -1 + 0.5j, -2 - 1e-3j, 0.1j):
        for m in ("reverse", "forward"):
            (g,) = dk.grad(U(np.angle), method=m)(z)
            np.testing.assert_allclose(g, -1j / z, rtol=1e-15)
            (gd,) = dk.grad(lambda v: np.angle(v, deg=True), method=m)(z)
            np.testing.assert_allclose(gd, -1j / z * 180 / np.pi, rtol=1e-15)
        h = 1e-7
        fd = ((np.angle(z + h) - np.angle(z - h)) - 1j * (np.angle(z + 1j * h)
                                                          - np.angle(z - 1j * h))) / (2 * h)
        np.testing.assert_allclose(g, fd, rtol=1e-7)
    # the same convention as abs, with which it makes the complex logarithm: log z = ln|z| + i·arg
    z = 1.5 - 2j
    (g1,) = dk.grad(lambda v: np.log(np.abs(v)) + np.angle(v))(z)
    np.testing.assert_allclose(g1, 1 / z - 1j / z, rtol=1e-15)
    with pytest.raises(dk.NonDifferentiableError):
        dk.grad(U(np.angle))(0j)


@pytest.mark.parametrize("name", ["exp2", "expm1", "log2", "log10", "arcsinh", "arccosh",
                                  "arctanh", "reciprocal", "sinc", "deg2rad", "rad2deg",
                                  "positive"])
def test_holomorphic_ufuncs_have_their_complex_derivative(name: str) -> None:
    # (NumPy's deg2rad and rad2deg have no complex loop; diffkit's records take complex numbers)
    f = getattr(dk if name in ("deg2rad", "rad2deg") else np, name)
    z = 0.6 + 0.3j
    h = 1e-6
    want = (f(z + h) - f(z - h)) / (2 * h) if name not in ("deg2rad", "rad2deg") else (
        np.pi / 180 if name == "deg2rad" else 180 / np.pi)
    for m in ("reverse", "forward", "symbolic"):
        (g,) = dk.grad(U(f), method=m)(z)
        np.testing.assert_allclose(g, want, rtol=1e-9, err_msg=f"{name} ({m})")


def test_non_holomorphic_ufuncs_refuse_complex_inputs_by_name() -> None:
    for g, args in ((U(lambda v: np.real(np.rint(v))), (1 + 1j,)),
                    (U(lambda v: np.real(np.clip(v, 0, 1))), (1 + 1j,)),
                    (B(lambda v, w: np.real(np.fmax(v, w))), (1 + 1j, 2.0)),
                    (B(lambda v, w: np.real(np.fmin(v, w))), (1 + 1j, 2.0))):
        with pytest.raises(dk.MissingRuleError, match="complex"):
            dk.grad(g)(*args)


def test_real_if_close_is_the_identity_on_reals_and_the_real_part_when_close() -> None:
    x = np.array([0.5, -1.5])
    f = dk.function(lambda v: np.sum(np.real_if_close(v) * v))
    (g,) = dk.grad(f)(x)
    np.testing.assert_array_equal(g, 2 * x)
    graph = f.trace(x)
    assert not graph.value_dependent  # real input: no test on values
    (gz,) = dk.grad(lambda z: np.real_if_close(z * z))(1 + 0j)  # imaginary part 0: real
    assert gz == 2.0
    (gz,) = dk.grad(lambda z: np.real(np.real_if_close(z * z)))(1 + 1j)  # not close: complex
    np.testing.assert_allclose(gz, 2 - 2j * -1, rtol=1e-15)  # grad Re(z²) = 2z = 2 + 2i


# ----- casts ------------------------------------------------------------------------------------


def test_astype_between_floats_casts_the_cotangent_back() -> None:
    x = np.array([0.1, -1.7, 2.3])
    for m in ("reverse", "forward", "symbolic"):
        (g,) = dk.grad(lambda v: np.sum(v.astype(np.float32) ** 2 * 3.0), method=m)(x)
        assert g.dtype == np.float64
        np.testing.assert_allclose(g, 6 * x, rtol=1e-6)
        (g32,) = dk.grad(lambda v: np.sum(np.astype(v, np.float64) * v), method=m)(
            x.astype(np.float32))
        assert g32.dtype == np.float32
        np.testing.assert_allclose(g32, 2 * x, rtol=1e-6)
    # float32 → float64 → float32 twice: second derivatives through the cast
    h = dk.hessian(lambda v: np.sum(v.astype(np.float64) ** 3))(x.astype(np.float32))
    np.testing.assert_allclose(h, np.diag(6 * x), rtol=1e-6)
    # real → complex: the cotangent's real part comes back
    (g,) = dk.grad(lambda v: np.real(np.sum(v.astype(np.complex128) * (2 - 3j))))(x)
    np.testing.assert_array_equal(g, [2.0, 2.0, 2.0])
    # the same dtype: no node at all (NumPy's copy is immaterial to a value that cannot change)
    graph = dk.function(lambda v: v.astype(np.float64)).trace(x)
    assert all(n.prim is None or n.prim.name != "astype" for n in graph.nodes)


def test_astype_to_integers_and_masks_is_a_constant() -> None:
    x = np.array([0.5, -1.7, 2.3])
    for m in EXACT + ("fd",):
        (g,) = dk.grad(lambda v: np.sum(v.astype(int) * v + (v > 0).astype(np.float32)),
                       method=m)(x)
        np.testing.assert_allclose(g, [0.0, -1.0, 2.0], atol=1e-9)

    def body(v: Any) -> Any:
        n = v.astype(np.int64)
        assert not n.requires_grad
        return float(n[0]) + v[0]  # reading the constant is allowed: it carries no derivative

    assert dk.grad(body)(x)[0].tolist() == [1.0, 0.0, 0.0]


def test_float_power_computes_in_float64_and_returns_float32_gradients() -> None:
    x = np.array([0.5, 1.5, 2.0], dtype=np.float32)
    f = dk.function(lambda v: np.float_power(v, 2.5))
    assert f(x).dtype == np.float64
    for m in ("reverse", "forward"):
        (g,) = dk.grad(lambda v: np.sum(np.float_power(v, 2.5)), method=m)(x)
        assert g.dtype == np.float32
        np.testing.assert_allclose(g, 2.5 * x.astype(float) ** 1.5, rtol=1e-6)


# ----- names: NumPy's aliases, the Tensor operators, the parser -----------------------------------

ALIASES = {"mod": ("mod", "remainder"), "deg2rad": ("deg2rad", "radians"),
           "rad2deg": ("rad2deg", "degrees"), "round": ("round", "around"),
           "arcsinh": ("arcsinh", "asinh"), "arccosh": ("arccosh", "acosh"),
           "arctanh": ("arctanh", "atanh"), "arctan2": ("arctan2", "atan2"),
           "invert": ("invert", "bitwise_not", "bitwise_invert"), "angle": ("angle",)}


def test_every_numpy_alias_dispatches_to_its_record() -> None:
    for name, numpy_names in ALIASES.items():
        record = REGISTRY.get(name) or COMPOSITES[name]
        for n in numpy_names:
            assert NUMPY_NAMES[n] is record, n
    for name in COVERS:
        record = REGISTRY.get(name) or COMPOSITES[name]
        for n in record.numpy:
            assert getattr(np, n) is not None and NUMPY_NAMES[n] is record
    # and on traced values the alias records the same primitive
    for a, b in [(np.mod, np.remainder), (np.deg2rad, np.radians), (np.rad2deg, np.degrees),
                 (np.arcsinh, np.asinh), (np.arccosh, np.acosh), (np.arctanh, np.atanh)]:
        x = np.array([0.25, 0.5]) if a is np.arctanh else np.array([1.5, 2.5])
        args = (x, 0.7) if a is np.mod else (x,)
        wrap = B if a is np.mod else U
        ga = dk.function(wrap(a)).trace(*args).output.prim
        gb = dk.function(wrap(b)).trace(*args).output.prim
        assert ga is gb


def test_tensor_operators_mod_floordiv_divmod() -> None:
    x, y = np.array([-3.5, -0.2, 1.7, 4.0]), np.array([1.5, 0.7, -0.9, 2.0])

    def f(x: Any, y: Any) -> Any:
        q, r = divmod(x, y)
        q2, r2 = np.divmod(y, 1.25)
        return np.sum(x % y + 2.0 % y + x // y * x + 5.0 // y + r * q + r2 * q2 + (3.0 % x) * 0.5)

    want = f(x, y)
    for m in ("reverse", "forward", "symbolic", "compiled"):
        v, (gx, gy) = dk.value_and_grad(f, method=m)(x, y)
        assert v == pytest.approx(want, rel=1e-15)
        qx, qy = np.floor_divide(x, y), np.floor_divide(2.0, y)
        np.testing.assert_allclose(gx, 1 + qx + qx - 0.5 * np.floor_divide(3.0, x),
                                   rtol=1e-14, err_msg=m)
        np.testing.assert_allclose(gy, -qx - qy - qx * qx + np.floor_divide(y, 1.25),
                                   rtol=1e-14, err_msg=m)


def test_masks_combine_with_operators_from_either_side() -> None:
    x = np.array([-2.0, -0.5, 0.5, 2.0, 3.0])
    data = np.array([True, False, True, False, True])

    def mask(v: Any) -> Any:
        return (data & (v > 0)) | (~data ^ (v < -1)) & (v > 0) & np.isfinite(v) | ((v > 2.5) & data)

    def f(v: Any) -> Any:
        m = mask(v)
        return np.sum(np.where(m, v * v, 0.0) + np.where(np.invert(m), v, 0.0))

    m = mask(x)
    want = np.where(m, 2 * x, 1.0)
    assert m.tolist() == [False, False, True, True, True]
    for method in EXACT:
        (g,) = dk.grad(f, method=method)(x)
        np.testing.assert_array_equal(g, want)


def test_the_parser_calls_the_ufuncs_by_name() -> None:
    f = dk.parse("log10(x) + hypot(x, y)")
    assert f(10.0, 3.0) == np.log10(10.0) + np.hypot(10.0, 3.0)
    for m in ("reverse", "forward", "symbolic"):
        gx, gy = dk.grad(f, method=m)(10.0, 3.0)
        assert gx == pytest.approx(1 / (10 * np.log(10)) + 10 / np.hypot(10, 3), rel=1e-15)
        assert gy == pytest.approx(3 / np.hypot(10, 3), rel=1e-15)
    texts = {
        "exp2(x) + expm1(x) + log2(y) + cbrt(x) + sinc(x) + reciprocal(y)": None,
        "asinh(x) + acosh(y + 1) + atanh(x/3) + atan2(x, y) + arctan2(y, x)": None,
        "radians(x) + degrees(y) + deg2rad(x) + rad2deg(y) + positive(x)": None,
        "mod(x, y) + remainder(x, y) + fmod(x, y) + floor_divide(x, y) + heaviside(x, y)": None,
        "floor(x) + ceil(y) + rint(x) + trunc(y) + fix(x) + round(y) + around(x)": None,
        "fmax(x, y) + fmin(x, y) + clip(x, 0, y) + float_power(y, x) + copysign(x, y)": None,
        "logaddexp(x, y) + logaddexp2(x, y) + angle(x) + arg(x)": None,
    }
    x, y = 1.3, 2.1
    for text in texts:
        f = dk.parse(text)
        g = dk.grad(f, method="fd")(x, y)
        for m in EXACT:
            np.testing.assert_allclose(dk.grad(f, method=m)(x, y), g, rtol=1e-7, err_msg=text)


def test_from_sympy_reads_the_inverse_hyperbolic_functions_and_atan2() -> None:
    x, y = sp.symbols("x y", real=True)
    f = dk.from_sympy(sp.asinh(x) + sp.acosh(y) + sp.atanh(x / 4) + sp.atan2(x, y))
    assert f(1.5, 2.0) == pytest.approx(np.arcsinh(1.5) + np.arccosh(2.0) + np.arctanh(1.5 / 4)
                                        + np.arctan2(1.5, 2.0), rel=1e-15)


def test_symbolic_expressions_read_well() -> None:
    exprs = dk.symbolic(dk.parse("x*floor(x) + mod(x, y)")).expressions
    x, y = sp.symbols("x y", real=True)
    assert [sp.simplify(e.subs({sp.Symbol("x"): x, sp.Symbol("y"): y})) for e in exprs] != []
    text = str(exprs)
    assert "floor" in text and "Derivative" not in text


def test_compiled_gradients_of_the_family() -> None:
    f = dk.parse("floor(x)*x + mod(x, y) + hypot(x, y) + sinc(x) + copysign(x, y) + fmax(x, y)"
                 " + clip(x, 0, y) + exp2(y) + cbrt(x) + arctan2(y, x) + logaddexp(x, y)")
    for point in ((1.3, 2.1), (-2.7, 0.6)):
        want = dk.grad(f, method="reverse")(*point)
        for _ in range(3):  # the third call runs the compiled code
            got = dk.grad(f, method="compiled")(*point)
        np.testing.assert_allclose(got, want, rtol=1e-14)
