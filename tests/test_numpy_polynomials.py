"""NumPy's polynomials, convolution, interpolation and grids, in NumPy's spelling on traced values.

* ``SPECS`` go through :func:`numpy_check.check`: values equal NumPy's and an mpmath version of
  the same mathematics (Horner-free power sums, double-loop convolutions, a piecewise-linear
  interpolant written with mpf), Jacobians by reverse, forward, symbolic and fd against 80-digit
  central differences of that reference, Hessians of scalar outputs, float32.
* NumPy's values bit for bit: ``dk.<name>`` on plain arrays and ``np.<name>`` on traced values,
  over many sizes and every mode; where NumPy sums with BLAS (longer kernels), within ulps.
* interp's knots, ends, NaN fallbacks and derivative convention by hand; ``dk.jit`` against
  eager calls; the value-dependent traces; the cost of a convolution; every refusal by name.
"""

from __future__ import annotations

from typing import Any

import mpmath
import numpy as np
import pytest
from numpy_check import Spec, check, grid

import diffkit as dk
from diffkit.primitive import COMPOSITES

#: every composite this family declares (read by the completeness test of test_core_primitives.py)
COVERS = ("polyval", "polyder", "polyint", "polyadd", "polysub", "polymul", "convolve",
          "correlate", "interp", "meshgrid")

EXACT = ("reverse", "forward", "symbolic")
ENGINES = (*EXACT, "fd")

# ----- mpmath references: the same mathematics, written independently ----------------------------


def mp_polyval(p: Any, x: Any) -> Any:
    """Σᵢ p[i]·x^(N−1−i), element-wise in x (object arrays or an mpf)."""
    n = len(p)

    def powers(t: Any) -> Any:
        return mpmath.fsum(p[i] * t ** (n - 1 - i) for i in range(n))

    if isinstance(x, np.ndarray):
        return np.array([powers(t) for t in x.reshape(-1)], dtype=object).reshape(x.shape)
    return powers(x)


def mp_polyder(p: Any, m: int) -> Any:
    """c_i·(falling factorial of its power, m terms), the m highest powers dropped."""
    n = len(p) - 1
    out = []
    for i in range(len(p) - m):
        power = n - i
        out.append(p[i] * mpmath.fprod(power - q for q in range(m)))
    return np.array(out, dtype=object)


def mp_polyint(p: Any, k: Any) -> Any:
    """Two integrations: c_i / ((power+1)(power+2)), then k[0]·x and k[1] appended."""
    n = len(p) - 1
    out = [p[i] / ((n - i + 1) * (n - i + 2)) for i in range(len(p))]
    return np.array(out + [k[0], k[1]], dtype=object)


def mp_polyadd(a: Any, b: Any, sign: int = 1) -> Any:
    size = max(len(a), len(b))
    a = [mpmath.mpf(0)] * (size - len(a)) + list(a)
    b = [mpmath.mpf(0)] * (size - len(b)) + list(b)
    return np.array([u + sign * w for u, w in zip(a, b, strict=True)], dtype=object)


def mp_full(a: Any, v: Any) -> list[Any]:
    """(a ∗ v)[k] = Σ_m a[m]·v[k−m], k = 0 … n + m − 2."""
    n, m = len(a), len(v)
    return [mpmath.fsum(a[i] * v[k - i] for i in range(n) if 0 <= k - i < m)
            for k in range(n + m - 1)]


def mp_convolve(mode: str) -> Any:
    def ref(a: Any, v: Any) -> Any:
        full = mp_full(a, v)
        n, m = max(len(a), len(v)), min(len(a), len(v))
        start = {"full": 0, "same": (m - 1) // 2, "valid": m - 1}[mode]
        size = {"full": n + m - 1, "same": n, "valid": n - m + 1}[mode]
        return np.array(full[start:start + size], dtype=object)

    return ref


def mp_correlate(mode: str) -> Any:
    """c[k] = Σ_n a[n+k]·v[n], k = −(len v − 1) … len a − 1 ('full'); 'same' and 'valid' are
    NumPy's windows of it (NumPy's documented centring: the same as convolve with v reversed)."""

    def ref(a: Any, v: Any) -> Any:
        n, m = len(a), len(v)
        full = [mpmath.fsum(a[i + k] * v[i] for i in range(m) if 0 <= i + k < n)
                for k in range(-(m - 1), n)]
        if mode == "full":
            return np.array(full, dtype=object)
        big, small = max(n, m), min(n, m)
        if mode == "valid":
            start = small - 1 if n >= m else n - 1
            return np.array(full[start:start + big - small + 1], dtype=object)
        start = (small - 1) - small // 2 if n >= m else small // 2
        return np.array(full[start:start + big], dtype=object)

    return ref


def mp_interp(x: Any, xp: Any, fp: Any, left: Any = None, right: Any = None) -> Any:
    """The piecewise-linear interpolant, its segment found by comparing the values."""
    left = fp[0] if left is None else left
    right = fp[-1] if right is None else right

    def one(t: Any) -> Any:
        if t < xp[0]:
            return left
        if t > xp[-1]:
            return right
        j = max(i for i in range(len(xp) - 1) if xp[i] <= t) if t < xp[-1] else len(xp) - 2
        return fp[j] + (fp[j + 1] - fp[j]) * (t - xp[j]) / (xp[j + 1] - xp[j])

    if isinstance(x, np.ndarray):
        return np.array([one(t) for t in x.reshape(-1)], dtype=object).reshape(x.shape)
    return one(x)


def mp_periodic(period: float) -> Any:
    """np.interp with a period: x and xp reduced modulo the period, xp sorted, ends wrapped."""

    def ref(x: Any, xp: Any, fp: Any) -> Any:
        per = mpmath.mpf(period)
        xr = np.array([mpmath.fmod(t, per) % per for t in x], dtype=object)
        pairs = sorted((mpmath.fmod(t, per) % per, f) for t, f in zip(xp, fp, strict=True))
        kx = [pairs[-1][0] - per] + [q for q, _ in pairs] + [pairs[0][0] + per]
        kf = [pairs[-1][1]] + [f for _, f in pairs] + [pairs[0][1]]
        return mp_interp(xr, kx, kf)

    return ref


def mp_meshgrid(x: Any, y: Any, z: Any) -> Any:
    """X·2 + Y² − Z of the 'xy' grid of three vectors, written with index loops."""
    out = np.empty((len(y), len(x), len(z)), dtype=object)
    for i, j, k in np.ndindex(*out.shape):
        out[i, j, k] = x[j] * 2 + y[i] ** 2 - z[k]
    return out


def np_meshgrid(x: Any, y: Any, z: Any) -> Any:
    g = np.meshgrid(x, y, z)
    return g[0] * 2.0 + g[1] ** 2 - g[2]


def np_meshgrid_ij(x: Any, y: Any) -> Any:
    g = np.meshgrid(x, y, indexing="ij", sparse=True)
    return g[0] * g[1] + g[0]


def mp_meshgrid_ij(x: Any, y: Any) -> Any:
    out = np.empty((len(x), len(y)), dtype=object)
    for i, j in np.ndindex(*out.shape):
        out[i, j] = x[i] * y[j] + x[i]
    return out


# ----- points -------------------------------------------------------------------------------------

P5_X4 = grid(((5,), (-1.5, 1.5)), ((4,), (-1.5, 1.5)), seed=1)
P4_X = grid(((4,), (-1.5, 1.5)), ((), (-1.5, 1.5)), seed=2)
P5 = grid(((5,), (-2.0, 2.0)), seed=3)
P4_K2 = grid(((4,), (-2.0, 2.0)), ((2,), (-2.0, 2.0)), seed=4)
A3_B5 = grid(((3,), (-2.0, 2.0)), ((5,), (-2.0, 2.0)), seed=5)
A6_V3 = grid(((6,), (-2.0, 2.0)), ((3,), (-2.0, 2.0)), seed=6)
A3_V6 = grid(((3,), (-2.0, 2.0)), ((6,), (-2.0, 2.0)), seed=7)
A5_V4 = grid(((5,), (-2.0, 2.0)), ((4,), (-2.0, 2.0)), seed=8)
W5 = np.array([0.5, -1.0, 1.5, 0.75, 2.0])
W8 = np.linspace(-1.0, 1.5, 8)

XP = np.array([-1.0, -0.2, 0.7, 1.6, 2.5])
FP = np.array([0.4, -1.3, 0.9, 2.2, -0.5])
INSIDE = np.array([-0.7, 0.1, 0.95, 2.2])  # away from knots (fd straddles a knot)
OUTSIDE = np.array([-1.8, 0.3, 3.1])
INTERP_POINTS = [(INSIDE, XP, FP), (INSIDE[::-1] * 0.9, XP, FP * 1.7 - 0.2)]
PERIODIC = [(np.array([-0.35, 0.45, 1.3, 2.75]), np.array([0.2, 1.1, -0.6, 0.7]),
             np.array([1.0, -0.5, 2.0, 0.3]))]
GRID_XYZ = grid(((3,), (-1.0, 1.0)), ((2,), (-1.0, 1.0)), ((2,), (-1.0, 1.0)), seed=9)
GRID_XY = grid(((3,), (-1.0, 1.0)), ((4,), (-1.0, 1.0)), seed=10)


def _mode_specs(name: str, fn: Any, ref: Any) -> list[Spec]:
    specs = []
    for mode in ("full", "same", "valid"):
        for points, label in ((A6_V3, "a longer"), (A3_V6, "v longer"), (A5_V4, "4 and 5")):
            specs.append(Spec(f"np.{name} {mode} {label}",
                              lambda a, v, mode=mode: fn(a, v, mode=mode), points[:1],
                              ref=ref(mode)))
    return specs


SPECS = [
    # polyval: p and x both differentiable
    Spec("np.polyval", lambda p, x: np.polyval(p, x), P5_X4, ref=mp_polyval),
    Spec("np.polyval scalar x", lambda p, x: np.polyval(p, x), P4_X, ref=mp_polyval, order=2),
    Spec("Σ w·polyval²", lambda p, x: np.sum(W5[:4] * np.polyval(p, x) ** 2), P5_X4[:1],
         ref=lambda p, x: np.sum(W5[:4] * mp_polyval(p, x) ** 2), order=2),
    # polyder, polyint (NumPy promotes float32 coefficients to float64: float32=False)
    Spec("np.polyder", lambda p: np.polyder(p), P5, ref=lambda p: mp_polyder(p, 1),
         float32=False),
    Spec("np.polyder m=3", lambda p: np.polyder(p, 3), P5, ref=lambda p: mp_polyder(p, 3),
         float32=False),
    Spec("np.polyint m=2 k", lambda p, k: np.polyint(p, 2, k), P4_K2, ref=mp_polyint,
         float32=False),
    Spec("Σ polyint²", lambda p, k: np.sum(np.polyint(p, 2, k) ** 2), P4_K2[:1],
         ref=lambda p, k: np.sum(mp_polyint(p, k) ** 2), order=2, float32=False),
    # polyadd, polysub, polymul
    Spec("np.polyadd", lambda a, b: np.polyadd(a, b), A3_B5, ref=mp_polyadd),
    Spec("np.polysub", lambda a, b: np.polysub(b, a), A3_B5,
         ref=lambda a, b: mp_polyadd(b, a, -1)),
    Spec("np.polymul", lambda a, b: np.polymul(a, b), A3_B5,
         ref=lambda a, b: np.array(mp_full(a, b), dtype=object), symbolic="ok"),
    Spec("Σ w·polymul²", lambda a, b: np.sum(np.polymul(a, b) ** 2 * W8[:7]), A3_B5[:1],
         ref=lambda a, b: np.sum(np.array(mp_full(a, b), dtype=object) ** 2 * W8[:7]), order=2),
    # convolve and correlate, every mode, either operand longer
    *_mode_specs("convolve", np.convolve, mp_convolve),
    *_mode_specs("correlate", np.correlate, mp_correlate),
    Spec("Σ w·convolve(same)²", lambda a, v: np.sum(W5 * np.convolve(a, v, "same") ** 2),
         grid(((5,), (-1.0, 1.0)), ((3,), (-1.0, 1.0)), seed=11)[:1],
         ref=lambda a, v: np.sum(W5 * mp_convolve("same")(a, v) ** 2), order=2),
    Spec("Σ w·correlate(full)²", lambda a, v: np.sum(W5 * np.correlate(a, v, "full") ** 2),
         grid(((2,), (-1.0, 1.0)), ((4,), (-1.0, 1.0)), seed=12)[:1],
         ref=lambda a, v: np.sum(W5 * mp_correlate("full")(a, v) ** 2), order=2),
    # interp: x, xp, fp all differentiable (points between knots: see the knot tests)
    Spec("np.interp", lambda x, xp, fp: np.interp(x, xp, fp), INTERP_POINTS, ref=mp_interp),
    Spec("np.interp scalar", lambda x, xp, fp: np.interp(x, xp, fp),
         [(0.35, XP[:3], FP[:3])], ref=mp_interp, order=2),
    Spec("np.interp outside, left/right", lambda x, xp, fp, lo, hi: np.interp(
        x, xp, fp, left=lo, right=hi), [(OUTSIDE, XP, FP, -2.5, 3.5)], ref=mp_interp),
    Spec("np.interp outside, default ends", lambda x, xp, fp: np.interp(x, xp, fp),
         [(OUTSIDE, XP, FP)], ref=mp_interp),
    Spec("np.interp period", lambda x, xp, fp: np.interp(x, xp, fp, period=1.5), PERIODIC,
         ref=mp_periodic(1.5)),
    # meshgrid
    Spec("np.meshgrid xy", np_meshgrid, GRID_XYZ, ref=mp_meshgrid),
    Spec("np.meshgrid ij sparse", np_meshgrid_ij, GRID_XY, ref=mp_meshgrid_ij),
]


@pytest.mark.parametrize("spec", SPECS, ids=[s.name for s in SPECS])
def test_numpy_spelling_every_engine(spec: Spec) -> None:
    check(spec)


def test_each_composite_has_a_spec() -> None:
    for name in COVERS:
        assert any(f"np.{name}" in s.name or f"{name}²" in s.name for s in SPECS), name
        assert isinstance(COMPOSITES[name].doc, str) and len(COMPOSITES[name].doc) > 80


# ----- NumPy's values, bit for bit ------------------------------------------------------------------

RNG = np.random.default_rng(20)


def _traced_value(call: Any, *args: Any) -> Any:
    """`call(np, *args)` on traced arguments: the value diffkit recorded."""
    seen: list[Any] = []

    def f(*xs: Any) -> Any:
        out = call(*xs)
        seen.append(out)
        return sum(np.sum(x) for x in xs)

    names = [f"a{i}" for i in range(len(args))]
    dk.grad(dk.function(f, inputs=names), wrt=list(range(len(args))))(*args)
    out = seen[0]
    if isinstance(out, tuple | list):
        return type(out)(o.value for o in out)
    return out.value


def _numpys_short_dot_is_sequential() -> bool:
    """Whether this machine's NumPy adds a float64 dot product of up to 15 terms one product
    at a time from the first (np.correlate's inner sums go to BLAS's ddot: OpenBLAS's
    Haswell-class kernels do that for short vectors; its AVX-512 kernels add in eight lanes,
    another order, so no program of ours can be NumPy's bit for bit there)."""
    rng = np.random.default_rng(0)
    for n in range(2, 16):
        for _ in range(40):
            a, v = rng.normal(size=n), rng.normal(size=n)
            total = 0.0
            for term in (a * v).tolist():
                total += term
            if float(np.dot(a, v)) != total:
                return False
    return True


SEQUENTIAL_DOT = _numpys_short_dot_is_sequential()
SUMS_OF_PRODUCTS = ("convolve", "correlate", "polymul")


def _same_sum(got: Any, want: Any, bound: Any) -> None:
    """A sum of products: NumPy's bits where its dot adds in order (:data:`SEQUENTIAL_DOT`),
    else its dtype and shape and within 4 ulps of the sum of the products' magnitudes
    (`bound`: that sum, the error bound of any order of summation)."""
    if SEQUENTIAL_DOT:
        _same(got, want)
        return
    assert np.asarray(got).dtype == np.asarray(want).dtype and np.shape(got) == np.shape(want)
    eps = np.finfo(np.asarray(want).dtype).eps
    assert np.all(np.abs(np.asarray(got) - want) <= 4 * eps * np.asarray(bound)), (got, want)


def _same(got: Any, want: Any) -> None:
    assert np.asarray(got).dtype == np.asarray(want).dtype, (np.asarray(got).dtype,
                                                             np.asarray(want).dtype)
    assert np.shape(got) == np.shape(want)
    bits = [np.ascontiguousarray(v).reshape(-1).view(np.uint8) for v in (got, want)]
    np.testing.assert_array_equal(*bits, err_msg=f"{got!r} is not {want!r} bit for bit")


VALUE_CASES = [
    ("polyval", lambda m, p, x: m.polyval(p, x), ((6,), (3, 4))),
    ("polyval", lambda m, p, x: m.polyval(p, x), ((1,), (5,))),
    ("polyval", lambda m, p, x: m.polyval(p, x), ((3, 2), (2,))),  # batched coefficients
    ("polyder", lambda m, p: m.polyder(p), ((6,),)),
    ("polyder", lambda m, p: m.polyder(p, 4), ((6,),)),
    ("polyder", lambda m, p: m.polyder(p, 0), ((3,),)),
    ("polyint", lambda m, p: m.polyint(p), ((5,),)),
    ("polyint", lambda m, p, k: m.polyint(p, 3, k), ((5,), (3,))),
    ("polyint", lambda m, p, k: m.polyint(p, 3, k), ((5,), (1,))),
    ("polyadd", lambda m, a, b: m.polyadd(a, b), ((3,), (5,))),
    ("polyadd", lambda m, a, b: m.polyadd(a, b), ((5,), (2,))),
    ("polysub", lambda m, a, b: m.polysub(a, b), ((2,), (4,))),
    ("polysub", lambda m, a, b: m.polysub(a, b), ((4,), (4,))),
    ("polymul", lambda m, a, b: m.polymul(a, b), ((4,), (3,))),
    ("interp", lambda m, x, xp, fp: m.interp(x, np.sort(xp), fp), ((3, 5), (7,), (7,))),
    ("interp", lambda m, x, xp, fp: m.interp(x * 3, np.sort(xp), fp, left=-7.0, right=7.0),
     ((11,), (6,), (6,))),
    ("interp", lambda m, x, xp, fp: m.interp(x, xp, fp, period=0.8), ((9,), (5,), (5,))),
    ("meshgrid", lambda m, x, y: m.meshgrid(x, y), ((3,), (4,))),
    ("meshgrid", lambda m, x, y, z: m.meshgrid(x, y, z, indexing="ij"), ((3,), (2,), (4,))),
    ("meshgrid", lambda m, x, y: m.meshgrid(x, y, sparse=True), ((3,), (2, 2))),
    *[("convolve", lambda m, a, v, mode=mode: m.convolve(a, v, mode), shapes)
      for mode in ("full", "same", "valid") for shapes in (((9,), (4,)), ((4,), (9,)),
                                                          ((7,), (7,)), ((12,), (1,)))],
    *[("correlate", lambda m, a, v, mode=mode: m.correlate(a, v, mode), shapes)
      for mode in ("full", "same", "valid") for shapes in (((9,), (4,)), ((4,), (9,)),
                                                          ((6,), (6,)), ((1,), (5,)))],
]
VALUE_ARGS = [tuple(RNG.normal(size=s) for s in shapes) for _, _, shapes in VALUE_CASES]
VALUE_IDS = [f"{c[0]}-{i}" for i, c in enumerate(VALUE_CASES)]


@pytest.mark.parametrize(("case", "args"), zip(VALUE_CASES, VALUE_ARGS, strict=True),
                         ids=VALUE_IDS)
def test_plain_values_are_numpys_exactly(case: Any, args: tuple[Any, ...]) -> None:
    """dk.<name> on plain arrays: NumPy's values bit for bit, its dtype, shape and result type."""
    name, call, _ = case
    for dtype in (np.float64, np.float32):
        xs = tuple(a.astype(dtype) for a in args)
        want, got = call(np, *xs), call(dk, *xs)
        assert type(got) is type(want), (type(got), type(want))
        if dtype == np.float32 and name in ("convolve", "correlate", "polymul"):
            # NumPy's float32 sums at the edges go through BLAS: see the ulps test
            assert got.dtype == want.dtype and got.shape == want.shape
            np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)
            continue
        if isinstance(want, tuple | list):
            for g, w in zip(got, want, strict=True):
                _same(g, w)
        elif name in SUMS_OF_PRODUCTS:
            _same_sum(got, want, call(np, *(np.abs(x) for x in xs)))
        else:
            _same(got, want)


@pytest.mark.parametrize(("case", "args"), zip(VALUE_CASES, VALUE_ARGS, strict=True),
                         ids=VALUE_IDS)
def test_traced_values_are_numpys_exactly(case: Any, args: tuple[Any, ...]) -> None:
    """np.<name> on traced values (every array argument traced) records NumPy's values."""
    name, call, _ = case
    want = call(np, *args)
    got = _traced_value(lambda *xs: call(np, *xs), *args)
    assert type(got) is type(want)
    if name in SUMS_OF_PRODUCTS:
        _same_sum(got, want, call(np, *(np.abs(x) for x in args)))
        return
    for g, w in zip(got, want, strict=True) if isinstance(want, tuple | list) else [(got, want)]:
        _same(g, w)


def test_scalars_and_python_lists_as_numpy_returns_them() -> None:
    p = [1.0, -2.0, 0.5]
    for m in (np, dk):
        assert type(m.polyval(p, 2.0)) is np.float64 and m.polyval(p, 2.0) == 4.0 - 4.0 + 0.5
        assert type(m.interp(0.25, [0.0, 1.0], [1.0, 3.0])) is np.float64
    assert dk.polyval([3, 0, 1], 2) == np.polyval([3, 0, 1], 2) == 13
    np.testing.assert_array_equal(dk.polyval(p, [1.0, 3.0]), np.polyval(p, [1.0, 3.0]))
    np.testing.assert_array_equal(dk.polyadd(2.0, p), np.polyadd(2.0, p))
    np.testing.assert_array_equal(dk.convolve(2.0, p), np.convolve(2.0, p))
    np.testing.assert_array_equal(dk.polyder([5.0]), np.polyder([5.0]))  # empty
    assert dk.meshgrid() == np.meshgrid() == ()


@pytest.mark.parametrize("n2", range(1, 16))
@pytest.mark.parametrize("mode", ("full", "same", "valid"))
def test_convolution_is_numpys_bit_for_bit_up_to_15_terms(n2: int, mode: str) -> None:
    """float64 with a shorter operand of ≤ 15 elements: NumPy adds the products one by one from
    the first (where its BLAS's dot does: :data:`SEQUENTIAL_DOT`); so does diffkit, in every
    mode, either operand the longer, and traced."""
    rng = np.random.default_rng(n2)
    for n1 in (n2, n2 + 1, 2 * n2 + 3, 40):
        a, v = rng.normal(size=n1), rng.normal(size=n2)
        for x, y in ((a, v), (v, a)):
            _same_sum(dk.convolve(x, y, mode), np.convolve(x, y, mode),
                      np.convolve(np.abs(x), np.abs(y), mode))
            _same_sum(dk.correlate(x, y, mode), np.correlate(x, y, mode),
                      np.correlate(np.abs(x), np.abs(y), mode))
    _same_sum(_traced_value(lambda x, y: np.correlate(x, y, mode), a, v),
              np.correlate(a, v, mode), np.correlate(np.abs(a), np.abs(v), mode))


def _ulps(got: np.ndarray, a: np.ndarray, v: np.ndarray, mode: str, fn: Any) -> float:
    """The error in units of ε·Σ|products| (the bound of any order of summation)."""
    scale = fn(np.abs(a), np.abs(v), mode) * np.finfo(got.dtype).eps
    return float(np.max(np.abs(got.astype(float) - fn(a, v, mode).astype(float)) / scale))


@pytest.mark.parametrize("dtype", (np.float64, np.float32))
@pytest.mark.parametrize("mode", ("full", "same", "valid"))
def test_long_kernels_agree_within_ulps(dtype: Any, mode: str) -> None:
    """Longer sums (NumPy's BLAS dot, blocked) and float32 edges: within a few ulps of the sum of
    the magnitudes of the products."""
    rng = np.random.default_rng(30)
    for n1, n2 in ((40, 16), (200, 33), (64, 64), (9, 5)):
        a, v = rng.normal(size=n1).astype(dtype), rng.normal(size=n2).astype(dtype)
        for fn, dk_fn in ((np.convolve, dk.convolve), (np.correlate, dk.correlate)):
            got = dk_fn(a, v, mode)
            assert got.dtype == dtype and got.shape == fn(a, v, mode).shape
            assert _ulps(got, a, v, mode, fn) < 4.0


def test_complex_convolution_values() -> None:
    """Only products and sums (and conj of v in correlate, as NumPy): NumPy's complex values."""
    rng = np.random.default_rng(31)
    a = rng.normal(size=6) + 1j * rng.normal(size=6)
    v = rng.normal(size=3) - 1j * rng.normal(size=3)
    for mode in ("full", "same", "valid"):
        np.testing.assert_allclose(dk.convolve(a, v, mode), np.convolve(a, v, mode), rtol=1e-15)
        np.testing.assert_allclose(dk.correlate(a, v, mode), np.correlate(a, v, mode), rtol=1e-15)
        np.testing.assert_allclose(dk.correlate(v, a, mode), np.correlate(v, a, mode), rtol=1e-15)
    # holomorphic in a: the complex Jacobian of the convolution is the Toeplitz matrix of v
    jac = dk.jacobian(lambda a: np.convolve(a, v), method="reverse")(a)
    want = np.array([[v[k - i] if 0 <= k - i < 3 else 0 for i in range(6)] for k in range(8)])
    np.testing.assert_allclose(jac, want, rtol=1e-15)


def test_polyval_is_numpys_horner_loop() -> None:
    """Bit for bit also where the order of evaluation matters (large cancelling coefficients,
    NaN and inf points: NumPy's zeros_like(x)·x start included)."""
    p = np.array([1e16, -3.0, 1e16, 7.0, -1e16])
    x = np.array([1.0 - 2.0 ** -52, -1.0, 3.5, np.inf, -np.inf, np.nan, 0.0, -0.0])
    with np.errstate(invalid="ignore"):
        _same(dk.polyval(p, x), np.polyval(p, x))
    _same(_traced_value(lambda p, x: np.polyval(p, x), p, x[:3]), np.polyval(p, x[:3]))


# ----- interp: knots, ends, fallbacks, derivative convention -------------------------------------


def _interp_grads(x: Any, xp: np.ndarray, fp: np.ndarray, method: str) -> Any:
    return dk.grad(lambda x, xp, fp: np.sum(np.interp(x, xp, fp)), method=method)(x, xp, fp)


def _segment_partials(t: float, xp: np.ndarray, fp: np.ndarray, j: int) -> tuple[Any, ...]:
    """∂/∂(x, xp, fp) of fp[j] + s·(t − xp[j]), s = (fp[j+1] − fp[j]) / (xp[j+1] − xp[j]): by
    hand."""
    h = xp[j + 1] - xp[j]
    s = (fp[j + 1] - fp[j]) / h
    u = (t - xp[j]) / h
    dxp, dfp = np.zeros_like(xp), np.zeros_like(fp)
    dxp[j] = -s + s * u  # ∂/∂xp[j] of s·(t − xp[j]) with ∂s/∂xp[j] = s / h
    dxp[j + 1] = -s * u
    dfp[j], dfp[j + 1] = 1.0 - u, u
    return s, dxp, dfp


@pytest.mark.parametrize("method", EXACT)
@pytest.mark.parametrize("k", range(5))
def test_interp_at_a_knot_takes_the_segment_numpys_value_comes_from(method: str, k: int) -> None:
    """At xp[k], NumPy returns fp[k]; the derivative is that of segment k (the right-hand one),
    or of the last segment at the last knot (the left-hand one)."""
    t = float(XP[k])
    assert np.interp(t, XP, FP) == FP[k] and dk.interp(t, XP, FP) == FP[k]
    gx, gxp, gfp = _interp_grads(t, XP, FP, method)
    s, dxp, dfp = _segment_partials(t, XP, FP, min(k, len(XP) - 2))
    np.testing.assert_allclose(gx, s, rtol=1e-12)
    np.testing.assert_allclose(gxp, dxp, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(gfp, dfp, rtol=1e-12, atol=1e-12)


def test_interp_fd_at_a_knot_sees_both_sides() -> None:
    """Central differences straddle an interior knot: the mean of the two slopes."""
    slopes = np.diff(FP) / np.diff(XP)
    gx = _interp_grads(float(XP[2]), XP, FP, "fd")[0]
    np.testing.assert_allclose(gx, (slopes[1] + slopes[2]) / 2, rtol=1e-6)


@pytest.mark.parametrize("method", ENGINES)
def test_interp_out_of_range(method: str) -> None:
    """Below xp[0] and above xp[-1]: left/right (default fp[0], fp[-1]); ∂/∂x = 0 there."""
    x = np.array([-3.0, 4.0, 5.0])
    gx, gxp, gfp = _interp_grads(x, XP, FP, method)
    np.testing.assert_allclose(gx, 0.0, atol=1e-9)
    np.testing.assert_allclose(gxp, 0.0, atol=1e-9)
    np.testing.assert_allclose(gfp, [1.0, 0, 0, 0, 2.0], atol=1e-9)
    g = dk.grad(lambda x, lo, hi: np.sum(np.interp(x, XP, FP, left=lo, right=hi) * [1, 2, 3]),
                method=method)(x, -1.0, 1.0)
    np.testing.assert_allclose([g[1], g[2]], [1.0, 5.0], atol=1e-9)


def test_interp_special_values_are_numpys() -> None:
    """NaN x, one knot, repeated knots, infinite fp (NumPy's NaN fallbacks), and x exactly at the
    knots, in and out of range: NumPy's values bit for bit, plain and traced."""
    cases = [
        (np.array([np.nan, -1.0, 0.0, 1.0, 2.0]), np.array([0.0]), np.array([3.0])),
        (np.array([np.nan, -1.0, 0.5, 1.0, 2.0]), np.array([0.0, 1.0, 1.0, 2.0]),
         np.array([0.0, 1.0, 5.0, -1.0])),
        (np.array([0.0, 0.5, 1.0, 1.5, 2.0, 2.5]), np.array([0.0, 1.0, 2.0, 3.0]),
         np.array([np.inf, 1.0, 1.0, -np.inf])),
        (np.array([0.25, 1.0, 1.75]), np.array([0.0, 1.0, 2.0]), np.array([np.inf, np.inf, 2.0])),
        (np.array([1e308, -1e308, 0.0]), np.array([-1e308, 1e308]), np.array([-1e308, 1e308])),
        (XP.copy(), XP, FP),
    ]
    with np.errstate(all="ignore"):
        for x, xp, fp in cases:
            want = np.interp(x, xp, fp)
            _same(dk.interp(x, xp, fp), want)
            if np.max(np.abs(xp)) > 1e300:  # traced, xp[1] − xp[0] overflows: a named error
                continue
            # traced: every argument that is finite (diffkit differentiates at finite points)
            finite = [np.all(np.isfinite(a)) for a in (x, xp, fp)]

            def call(*traced: Any, x: Any = x, xp: Any = xp, fp: Any = fp,
                     finite: list[bool] = finite) -> Any:
                it = iter(traced)
                return np.interp(*(next(it) if f else a for a, f in zip((x, xp, fp), finite,
                                                                         strict=True)))

            _same(_traced_value(call, *(a for a, f in zip((x, xp, fp), finite, strict=True)
                                        if f)), want)
            _same(dk.interp(x, xp, fp, left=-5.0, right=np.inf),
                  np.interp(x, xp, fp, left=-5.0, right=np.inf))


def test_interp_float32_and_integers_compute_in_float64() -> None:
    x = np.array([0.3, 1.2], dtype=np.float32)
    _same(dk.interp(x, XP.astype(np.float32), FP), np.interp(x, XP.astype(np.float32), FP))
    _same(dk.interp(np.array([1, 2]), [0, 3], [0, 9]), np.interp(np.array([1, 2]), [0, 3], [0, 9]))
    g = dk.grad(lambda x: np.sum(np.interp(x, XP, FP)))(x)[0]
    assert g.dtype == np.float32
    np.testing.assert_allclose(g, (np.diff(FP) / np.diff(XP))[[1, 2]], rtol=1e-6)


# ----- traces: value-dependent where values choose, jit, cost ------------------------------------


def _graph(fn: Any, *args: Any) -> Any:
    return dk.function(fn, inputs=[f"a{i}" for i in range(len(args))]).trace(*args)


def test_value_dependent_traces() -> None:
    """interp reads the segments from x and xp, polymul its trimming from the values: those
    traces hold at this point only; interp in fp alone, convolve, polyval do not read values."""
    x = np.array([0.1, 1.0])
    assert _graph(lambda x: np.interp(x, XP, FP), x).value_dependent
    assert _graph(lambda xp: np.interp(x, xp, FP), XP).value_dependent
    assert not _graph(lambda fp: np.interp(x, XP, fp), FP).value_dependent
    assert _graph(lambda a: np.polymul(a, [1.0, 2.0]), np.array([0.0, 1.0])).value_dependent
    for fn in (lambda a: np.convolve(a, [1.0, 2.0]), lambda a: np.polyval(a, 2.0),
               lambda a: np.polyint(a), lambda a: np.meshgrid(a, a)[0]):
        assert not _graph(fn, np.array([0.5, 1.0, 2.0])).value_dependent


def test_polymul_trims_leading_zeros_as_numpy() -> None:
    a, b = np.array([0.0, 0.0, 2.0, 1.0]), np.array([0.0, 3.0])
    _same(dk.polymul(a, b), np.polymul(a, b))
    _same(dk.polymul(np.zeros(3), b), np.polymul(np.zeros(3), b))
    g = dk.grad(lambda a: np.sum(np.polymul(a, b)))(a)[0]
    np.testing.assert_array_equal(g, [0.0, 0.0, 3.0, 3.0])  # trimmed zeros: derivative 0


def test_convolution_cost_is_linear_in_the_shorter_operand() -> None:
    """A few nodes per element of the shorter operand (a slice of each, a product, a sum, a
    concatenation with zeros at the edges), whatever the longer one's length."""
    for n2 in (4, 8, 16):
        for mode in ("full", "same", "valid"):
            nodes = len(_graph(lambda a, v, m=mode: np.convolve(a, v, m), np.ones(50),
                               np.ones(n2)).nodes)
            assert nodes <= 7 * n2 + 10, (n2, mode, nodes)
    small = len(_graph(lambda a, v: np.correlate(a, v, "same"), np.ones(20), np.ones(5)).nodes)
    big = len(_graph(lambda a, v: np.correlate(a, v, "same"), np.ones(2000), np.ones(5)).nodes)
    assert small == big


def test_interp_graph_size_does_not_grow_with_the_points() -> None:
    sizes = {len(_graph(lambda x: np.interp(x, XP, FP), np.linspace(-0.9, 2.4, n)).nodes)
             for n in (3, 300)}
    assert len(sizes) == 1


JIT_CASES = [
    (lambda p, x: np.sum(np.polyval(p, x) ** 2), (np.array([1.0, -0.5, 2.0]), np.array([0.3, -1.2]))),
    (lambda a, v: np.sum(np.convolve(a, v, "same") ** 2 * np.arange(4.0)),
     (np.array([1.0, -0.5, 2.0, 0.7]), np.array([0.3, -1.2]))),
    (lambda a, v: np.sum(np.correlate(a, v, "full") ** 2), (np.array([1.0, 2.0]),
                                                             np.array([0.3, -1.2, 0.4]))),
    (lambda x, fp: np.sum(np.interp(x, XP, fp) ** 2), (np.array([0.1, 1.9]), FP)),
    (lambda p, k: np.sum(np.polyint(np.polyder(p), 1, k) ** 2), (np.array([1.0, 2.0, 3.0]), 0.5)),
    (lambda x, y: np.sum(np.prod(np.meshgrid(x, y), axis=0)), (np.array([1.0, 2.0]),
                                                               np.array([3.0, -1.0, 2.0]))),
]


@pytest.mark.parametrize(("fn", "args"), JIT_CASES, ids=[str(i) for i in range(len(JIT_CASES))])
def test_jit_agrees_with_eager(fn: Any, args: tuple[Any, ...]) -> None:
    """dk.jit: the same values and gradients over repeated calls at moving points (interp's
    segments move between calls: its trace is taken again)."""
    j = dk.jit(fn)
    for shift in (0.0, 0.31, 0.77, 0.31):
        point = tuple(a + shift for a in args)
        want = dk.value_and_grad(fn, wrt=list(range(len(args))))(*point)
        got = dk.value_and_grad(j, wrt=list(range(len(args))))(*point)
        np.testing.assert_allclose(got[0], want[0], rtol=1e-14)
        for g, w in zip(got[1], want[1], strict=True):
            np.testing.assert_allclose(g, w, rtol=1e-13)


# ----- refusals by name ---------------------------------------------------------------------------


REFUSALS = [
    (lambda t: np.convolve(np.stack([t, t]), t), dk.ShapeError, "1-d"),
    (lambda t: np.correlate(t, t[:0]), dk.ShapeError, "cannot be empty"),
    (lambda t: np.convolve(t, t, mode="middle"), dk.ShapeError, "'valid', 'same', or 'full'"),
    (lambda t: np.correlate(t, t, mode=3), dk.ShapeError, "mode"),
    (lambda t: np.polyval(t[0], t), dk.ShapeError, "0-d"),
    (lambda t: np.polyder(t, -1), dk.ShapeError, "non-negative"),
    (lambda t: np.polyder(np.stack([t, t])), dk.ShapeError, "1-d"),
    (lambda t: np.polyint(t, 3, k=[1.0, 2.0]), dk.ShapeError, "length 1 or >m"),
    (lambda t: np.polyint(t, -2), dk.ShapeError, "non-negative"),
    (lambda t: np.polyadd(np.stack([t, t]), t), dk.ShapeError, "1-d"),
    (lambda t: np.polymul(np.stack([t, t]), t), dk.ShapeError, "1-d"),
    (lambda t: np.interp(t, t[:2], t), dk.ShapeError, "same length"),
    (lambda t: np.interp(t, t[:0], t[:0]), dk.ShapeError, "empty"),
    (lambda t: np.interp(t, np.stack([t, t]), t), dk.ShapeError, "1-d"),
    (lambda t: np.interp(t, XP[:3], t * 1j), dk.MissingRuleError, "real and imaginary"),
    (lambda t: np.interp(t, XP[:3], t, left=t), dk.ShapeError, "scalar"),
    (lambda t: np.interp(t, XP[:3], t, period=0.0), dk.ShapeError, "non-zero"),
    (lambda t: np.meshgrid(t, t, indexing="yx")[0], dk.ShapeError, "'xy' and 'ij'"),
]


@pytest.mark.parametrize(("call", "error", "match"), REFUSALS,
                         ids=[f"{r[2]}-{i}" for i, r in enumerate(REFUSALS)])
def test_refused_by_name(call: Any, error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        dk.grad(lambda t: np.sum(call(t)))(np.array([0.5, 1.0, 2.0]))


def test_records_are_declared_in_this_family() -> None:
    from diffkit.primitives.declare import NAMES

    for name in COVERS:
        assert NAMES[name] == "diffkit.primitives.polynomials"
        assert getattr(dk, name) is COMPOSITES[name]
