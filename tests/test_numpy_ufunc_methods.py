"""NumPy's ufunc methods on traced values: ``np.add.reduce(x, axis=1)``, ``np.maximum.accumulate(x)``,
``np.multiply.outer(a, b)``, …, which diffkit records as compositions of its records.

Values must be NumPy's bit for bit (plain and traced, eager and compiled, float64 and float32);
derivatives of every engine are checked by :func:`numpy_check.check` against mpmath versions of the
same mathematics (central differences at 80 digits, never diffkit's rules), and by hand-derived
values at ties and zeros. Each refusal must name its problem.
"""

from __future__ import annotations

import functools
import itertools
from typing import Any

import mpmath
import numpy as np
import pytest
from numpy_check import Spec, along, check, grid, lanes, numpys_reduce_is_wrong

import diffkit as dk

#: no records of their own: the methods compose records that their family modules cover
COVERS = ()

ENGINES = ("reverse", "forward", "symbolic", "fd")

# ----- mpmath references --------------------------------------------------------------------------


def fold(op: Any, *start: Any) -> Any:
    """The left fold of a lane: op(…op(op(start, g₀), g₁)…) (from g₀ without a start)."""
    return lambda g: functools.reduce(op, g, *start)


def running(op: Any) -> Any:
    """The partial results of the left fold of a lane."""
    return lambda g: list(itertools.accumulate(g, op))


def outer(op: Any) -> Any:
    """op(aᵢ, bⱼ) for every pair (a and b object arrays)."""
    def ref(a: Any, b: Any) -> Any:
        a, b = np.asarray(a, dtype=object), np.asarray(b, dtype=object)
        out = np.empty(a.shape + b.shape, dtype=object)
        for i in np.ndindex(*a.shape):
            for j in np.ndindex(*b.shape):
                out[i + j] = op(a[i], b[j])
        return out

    return ref


def mp_sub(a: Any, b: Any) -> Any:
    return a - b


def mp_div(a: Any, b: Any) -> Any:
    return a / b


def mp_mul(a: Any, b: Any) -> Any:
    return a * b


def mp_pow(a: Any, b: Any) -> Any:
    return a ** b


def mp_logaddexp(a: Any, b: Any) -> Any:
    return mpmath.log(mpmath.exp(a) + mpmath.exp(b))


def mp_logaddexp2(a: Any, b: Any) -> Any:
    return mpmath.log(mpmath.power(2, a) + mpmath.power(2, b), 2)


# ----- points ---------------------------------------------------------------------------------------

P34 = grid(((3, 4), (-2.0, 2.0)), seed=11)
P232 = grid(((2, 3, 2), (-2.0, 2.0)), seed=12)
P5 = grid(((5,), (-2.0, 2.0)), seed=13)
POS34 = grid(((3, 4), (0.5, 1.8)), seed=14)
POS5 = grid(((5,), (0.5, 1.8)), seed=15)
AB = grid(((3,), (-2.0, 2.0)), ((4,), (-2.0, 2.0)), seed=16)
AB_POS = grid(((3,), (0.5, 1.8)), ((2, 2), (-1.5, 1.5)), seed=17)
XC = grid(((3, 4), (-2.0, 2.0)), ((), (-1.0, 1.0)), seed=18)
WITH_ZEROS = [(np.array([[1.5, 0.0, -0.7], [0.0, 1.2, 0.0]]),),
              (np.array([[0.0, 0.0, 1.3], [-0.6, 1.1, 0.9]]),)]
C3 = np.array([0.3, -1.0, 2.0])
C34 = np.linspace(-1.0, 1.5, 12).reshape(3, 4)

SPECS = [
    # reduce: the records (sum, prod, amax, amin)
    Spec("np.add.reduce axis 1", lambda x: np.add.reduce(x, axis=1), P34,
         ref=lambda x: lanes(x, 1, mpmath.fsum)),
    Spec("np.add.reduce default axis 0", lambda x: np.add.reduce(x), P34,
         ref=lambda x: lanes(x, 0, mpmath.fsum)),
    Spec("np.add.reduce axes (0, 2) initial", lambda x: np.add.reduce(x, axis=(0, 2), initial=0.5),
         P232, ref=lambda x: lanes(x, (0, 2), lambda g: mpmath.fsum(g) + mpmath.mpf(0.5))),
    Spec("np.multiply.reduce with zeros", lambda x: np.multiply.reduce(x, axis=-1),
         P34 + WITH_ZEROS, ref=lambda x: lanes(x, -1, mpmath.fprod)),
    Spec("np.multiply.reduce None, initial", lambda x: np.multiply.reduce(x, axis=None, initial=-1.5),
         P5, ref=lambda x: lanes(x, None, fold(mp_mul, mpmath.mpf(-1.5))), order=2),
    Spec("np.maximum.reduce axis -1 keepdims",
         lambda x: np.maximum.reduce(x, axis=-1, keepdims=True), P34,
         ref=lambda x: lanes(x, -1, max, keepdims=True)),
    Spec("np.minimum.reduce None", lambda x: np.minimum.reduce(x, axis=None), P34,
         ref=lambda x: lanes(x, None, min), order=2),
    Spec("np.maximum.reduce initial", lambda x: np.maximum.reduce(x, axis=0, initial=0.25), P34,
         ref=lambda x: lanes(x, 0, lambda g: max([mpmath.mpf(0.25), *g]))),
    # reduce: left folds in NumPy's order
    Spec("np.subtract.reduce", lambda x: np.subtract.reduce(x), P34,
         ref=lambda x: lanes(x, 0, fold(mp_sub))),
    Spec("np.subtract.reduce axis 1, traced initial",
         lambda x, c: np.subtract.reduce(x, axis=1, initial=c), XC,
         ref=lambda x, c: lanes(x, 1, fold(mp_sub, c))),
    Spec("np.divide.reduce axis -1", lambda x: np.divide.reduce(x, axis=-1), POS34,
         ref=lambda x: lanes(x, -1, fold(mp_div))),
    Spec("np.power.reduce", lambda x: np.power.reduce(x), POS5,
         ref=lambda x: lanes(x, 0, fold(mp_pow)), order=2,
         # (finite differences take NumPy's plain values: not where NumPy's are wrong)
         numpy_wrong=numpys_reduce_is_wrong(np.power),
         methods=("reverse", "forward", "symbolic") if numpys_reduce_is_wrong(np.power)
         else ("reverse", "forward", "symbolic", "fd")),
    Spec("np.logaddexp.reduce", lambda x: np.logaddexp.reduce(x), P5,
         ref=lambda x: lanes(x, 0, fold(mp_logaddexp)), order=2),
    Spec("np.logaddexp2.reduce axes (0, 1)", lambda x: np.logaddexp2.reduce(x, axis=(0, 1)), P232,
         ref=lambda x: lanes(x, (0, 1), fold(mp_logaddexp2))),
    Spec("np.hypot.reduce axis 1 keepdims", lambda x: np.hypot.reduce(x, axis=1, keepdims=True),
         P34, ref=lambda x: lanes(x, 1, fold(mpmath.hypot, 0), keepdims=True)),
    Spec("np.hypot.reduce None", lambda x: np.hypot.reduce(x, axis=None), P34,
         ref=lambda x: lanes(x, None, fold(mpmath.hypot, 0)), order=2),
    Spec("np.hypot.reduce of a scalar", lambda x: np.hypot.reduce(x * 1.0),
         [(np.float64(-1.3),), (np.float64(0.7),)], ref=lambda x: abs(x)),
    Spec("np.arctan2.reduce axis 0", lambda x: np.arctan2.reduce(x, axis=0), P34,
         ref=lambda x: lanes(x, 0, fold(mpmath.atan2))),
    Spec("Σ c·subtract.reduce²", lambda x: np.sum(C34[0] * np.subtract.reduce(x) ** 2), P34,
         ref=lambda x: np.sum(C34[0] * lanes(x, 0, fold(mp_sub)) ** 2), order=2),
    # accumulate
    Spec("np.add.accumulate axis 1", lambda x: np.add.accumulate(x, axis=1), P34,
         ref=lambda x: along(x, 1, running(lambda a, b: a + b))),
    Spec("np.multiply.accumulate with zeros", lambda x: np.multiply.accumulate(x),
         P34 + WITH_ZEROS, ref=lambda x: along(x, 0, running(mp_mul))),
    Spec("np.maximum.accumulate axis -1", lambda x: np.maximum.accumulate(x, axis=-1), P34,
         ref=lambda x: along(x, -1, running(max))),
    Spec("np.minimum.accumulate", lambda x: np.minimum.accumulate(x), P5,
         ref=lambda x: along(x, 0, running(min))),
    Spec("np.subtract.accumulate axis 0", lambda x: np.subtract.accumulate(x, axis=0), P34,
         ref=lambda x: along(x, 0, running(mp_sub))),
    Spec("np.logaddexp.accumulate", lambda x: np.logaddexp.accumulate(x, axis=1), P34,
         ref=lambda x: along(x, 1, running(mp_logaddexp))),
    Spec("Σ c·divide.accumulate", lambda x: np.sum(C34[0] * np.divide.accumulate(x, axis=-1)),
         POS34, ref=lambda x: np.sum(C34[0] * along(x, -1, running(mp_div))), order=2),
    # outer
    Spec("np.multiply.outer", lambda a, b: np.multiply.outer(a, b), AB, ref=outer(mp_mul)),
    Spec("np.subtract.outer", lambda a, b: np.subtract.outer(a, b), AB, ref=outer(mp_sub)),
    Spec("np.power.outer 1-D, 2-D", lambda a, b: np.power.outer(a, b), AB_POS, ref=outer(mp_pow)),
    Spec("np.hypot.outer", lambda a, b: np.hypot.outer(a, b), AB, ref=outer(mpmath.hypot)),
    Spec("np.logaddexp.outer 2-D, 1-D", lambda x: np.logaddexp.outer(x, x[0]), P34,
         ref=lambda x: outer(mp_logaddexp)(x, x[0])),
    Spec("np.add.outer with a constant", lambda a: np.add.outer(C3, a), P5,
         ref=lambda a: outer(lambda u, v: mpmath.mpf(float(u)) + v)(C3, a)),
    Spec("Σ c·multiply.outer²", lambda a, b: np.sum(np.multiply.outer(a, b)[:, :3] ** 2 * C3), AB,
         ref=lambda a, b: np.sum(outer(mp_mul)(a, b)[:, :3] ** 2 * C3), order=2),
]


@pytest.mark.parametrize("spec", SPECS, ids=[s.name for s in SPECS])
def test_numpy_spelling_every_engine(spec: Spec) -> None:
    check(spec)


# ----- NumPy's values, bit for bit ------------------------------------------------------------------

RNG = np.random.default_rng(20)
SHAPES = [(5,), (20,), (3, 4), (3, 20), (20, 3), (2, 3, 4), (3, 1, 5), (3, 10, 1), (2, 1, 12)]
REDUCERS = [np.add, np.multiply, np.maximum, np.minimum, np.subtract, np.divide, np.power,
            np.logaddexp, np.logaddexp2, np.hypot, np.arctan2, np.fmax, np.fmin, np.copysign]


def _data(ufunc: np.ufunc, shape: tuple[int, ...], dtype: Any = np.float64) -> np.ndarray:
    x = RNG.uniform(0.5, 1.5, shape) if ufunc is np.power else RNG.standard_normal(shape)
    return x.astype(dtype)


def _traced(f: Any, *args: Any) -> Any:
    """f on eager Tensors (each NumPy call recorded), as a NumPy value."""
    out = f(*[dk.tensor(a) for a in args])
    return np.asarray(out.numpy() if isinstance(out, dk.Tensor) else out)


def _same(got: Any, want: Any, what: str) -> None:
    got, want = np.asarray(got), np.asarray(want)
    assert got.dtype == want.dtype, f"{what}: dtype {got.dtype}, NumPy's {want.dtype}"
    np.testing.assert_array_equal(got, want, err_msg=f"{what}: not NumPy's value")


#: ufuncs whose .reduce this machine's NumPy gets wrong (numpys_reduce_is_wrong: NumPy 2.4's
#: AVX-512 loops of power and arctan2 along a contiguous axis)
WRONG_REDUCE = frozenset(u for u in (np.power, np.arctan2) if numpys_reduce_is_wrong(u))
#: ufuncs whose NumPy loops are not correctly rounded and may round differently by memory
#: layout (a SIMD loop for contiguous data beside the C library's for strided data)
LAYOUT_ROUNDED = frozenset((np.power, np.arctan2))


def _numpy_reduce(ufunc: np.ufunc, x: Any, axis: Any = 0, **kw: Any) -> Any:
    """NumPy's ``ufunc.reduce(x, axis, **kw)``; where this machine's NumPy gets that wrong
    (:data:`WRONG_REDUCE`), the same reduction with NumPy's element-wise loop, which is right:
    x stacked twice along a new first axis in Fortran order, so that NumPy steps along `axis`
    applying the ufunc to pairs of elements."""
    x = np.asarray(x)
    if ufunc not in WRONG_REDUCE or axis == () or axis is None and x.ndim != 1:
        return ufunc.reduce(x, axis=axis, **kw)
    axes = (0,) if axis is None else axis if isinstance(axis, tuple) else (axis,)
    twice = np.asfortranarray(np.stack([x, x]))
    return ufunc.reduce(twice, axis=tuple(a % x.ndim + 1 for a in axes), **kw)[0]


def _same_rounded(ufunc: np.ufunc, got: Any, want: Any, what: str) -> None:
    """:func:`_same`, within 32 ulps for a ufunc NumPy rounds by memory layout (an ulp a step,
    carried along a chain of up to 20 powers; another order of operations is far off)."""
    if ufunc not in LAYOUT_ROUNDED:
        _same(got, want, what)
        return
    got, want = np.asarray(got), np.asarray(want)
    assert got.dtype == want.dtype, f"{what}: dtype {got.dtype}, NumPy's {want.dtype}"
    if want.dtype.kind == "f":
        np.testing.assert_array_max_ulp(got, want, maxulp=32)
    else:
        _same(got, want, what)


def _reduce_cases() -> list[Any]:
    cases = []
    for ufunc, shape in itertools.product(REDUCERS, SHAPES):
        reorderable = ufunc in (np.add, np.multiply, np.maximum, np.minimum, np.logaddexp,
                                np.logaddexp2, np.hypot, np.fmax, np.fmin)
        axes = [0, -1, None if reorderable or len(shape) == 1 else 0, ()]
        if reorderable and len(shape) == 3:
            axes += [(0, 2), (1, 2), (0, 1)]
        for axis, keywords in itertools.product(axes, ({}, {"keepdims": True},
                                                       {"initial": 0.37})):
            cases.append(pytest.param(ufunc, shape, axis, keywords,
                                      id=f"{ufunc.__name__}-{shape}-{axis}-{keywords}"))
    return cases


@pytest.mark.parametrize(("ufunc", "shape", "axis", "keywords"), _reduce_cases())
def test_reduce_gives_numpys_values(ufunc: np.ufunc, shape: Any, axis: Any, keywords: Any) -> None:
    x = _data(ufunc, shape)
    with np.errstate(all="ignore"):
        want = _numpy_reduce(ufunc, x, axis=axis, **keywords)
        got = _traced(lambda t: ufunc.reduce(t, axis=axis, **keywords), x)
    _same_rounded(ufunc, got, want, f"np.{ufunc.__name__}.reduce{shape} axis={axis} {keywords}")


@pytest.mark.parametrize("ufunc", REDUCERS, ids=lambda u: u.__name__)
@pytest.mark.parametrize("shape", [(5,), (3, 4), (2, 3, 4), (3, 20)])
def test_accumulate_and_outer_give_numpys_values(ufunc: np.ufunc, shape: Any) -> None:
    x = _data(ufunc, shape)
    b = _data(ufunc, (2, 3))
    with np.errstate(all="ignore"):
        for axis in (0, -1, len(shape) - 1):
            _same_rounded(ufunc, _traced(lambda t, axis=axis: ufunc.accumulate(t, axis=axis), x),
                          ufunc.accumulate(x, axis=axis),
                          f"np.{ufunc.__name__}.accumulate axis {axis}")
        _same(_traced(lambda s, t: ufunc.outer(s, t), x, b), ufunc.outer(x, b), "outer")
        _same(_traced(lambda t: ufunc.outer(t, b), x), ufunc.outer(x, b), "outer, b constant")
        _same(_traced(lambda t: ufunc.outer(b.tolist(), t), x), ufunc.outer(b, x),
              "outer of a list")


def test_add_with_initial_adds_numpys_blocks() -> None:
    """np.add.reduce(initial=c) is not c + np.sum: NumPy adds each innermost pairwise block to
    the running value from c, and these points tell the two apart (each assertion fails for the
    other order of additions)."""
    x = RNG.standard_normal((20, 20)) * 1e3
    for axis in (0, 1, None, (0, 1)):
        want = np.add.reduce(x, axis=axis, initial=0.1)
        _same(_traced(lambda t, axis=axis: np.add.reduce(t, axis=axis, initial=0.1), x), want,
              f"axis {axis}")
    assert np.any(np.add.reduce(x, axis=0, initial=0.1) != 0.1 + np.sum(x, axis=0))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dtypes_follow_numpy(dtype: Any) -> None:
    x = _data(np.logaddexp, (3, 9), dtype)
    for f in (lambda t: np.add.reduce(t, axis=1, initial=0.5), lambda t: np.logaddexp.reduce(t),
              lambda t: np.maximum.accumulate(t, axis=1), lambda t: np.hypot.outer(t[0], t[1]),
              lambda t: np.multiply.reduce(t, axis=None, initial=2.0)):
        _same(_traced(f, x), f(x), f"{np.dtype(dtype)}")
    bools = np.array([[1.0, 0.0, 2.0], [0.0, 0.0, 3.0]], dtype=dtype)
    for f in (lambda t: np.logical_and.accumulate(t, axis=1), lambda t: np.logical_or.reduce(t)):
        _same(_traced(f, bools), f(bools), "a truth value")


def test_empty_reductions_start_from_the_identity_or_initial() -> None:
    x = np.ones((0, 3))
    for f in (lambda t: np.add.reduce(t), lambda t: np.multiply.reduce(t),
              lambda t: np.hypot.reduce(t), lambda t: np.logaddexp.reduce(t),
              lambda t: np.maximum.reduce(t, initial=-2.0), lambda t: np.subtract.reduce(t, initial=4.0),
              lambda t: np.subtract.accumulate(t)):
        _same(_traced(f, x), f(x), "empty")
    np.testing.assert_array_equal(dk.jacobian(lambda t: np.logaddexp.reduce(t))(x), np.zeros((3, 0)))


@pytest.mark.parametrize("method", ("reverse", "forward", "symbolic"))
def test_jit_agrees_with_eager(method: str) -> None:
    x = RNG.standard_normal((3, 20))

    def f(t: Any) -> Any:
        return (np.sum(np.add.reduce(t, axis=1, initial=0.3) * np.logaddexp.reduce(t)[:3])
                + np.sum(np.maximum.accumulate(t, axis=1)[:, -4:]) + np.sum(np.hypot.reduce(t))
                + np.sum(np.subtract.outer(t[0, :4], t[1, :3]) ** 2))

    fast = dk.jit(f)
    assert fast(x) == f(x), "the compiled value is not NumPy's"
    assert fast(x) == dk.function(f)(x)
    np.testing.assert_allclose(dk.grad(fast, method=method)(x)[0],
                               dk.grad(f, method=method)(x)[0], rtol=1e-13, atol=1e-13)
    np.testing.assert_allclose(dk.grad(fast, method=method)(x)[0],
                               dk.grad(f, method="fd")(x)[0], rtol=1e-6, atol=1e-6)


#: every binary ufunc diffkit dispatches (their methods come through ufunc_methods)
BINARY = sorted({u for u in dk.primitive.NUMPY_OBJECTS if isinstance(u, np.ufunc) and u.nin == 2
                 and u.nout == 1 and u is not np.matmul}, key=lambda u: u.__name__)
INITIALS = (None, 5, 3, 0, 1, -2, 2.5, True, False, 300, np.float32(2.5), np.int8(7), np.nan)
CASTS = {"bool": lambda t: t > 0, "int8": lambda t: (t * 2).astype(np.int8),
         "uint8": lambda t: (t * 2).astype(np.uint8), "float32": lambda t: t.astype(np.float32)}
BASE = np.array([[1.0, -3.0, 2.0, 0.0], [0.5, -1.0, 4.0, 3.0]])


def _numpys_or_error(f: Any, x: Any) -> tuple[Any, Any]:
    with np.errstate(all="ignore"):
        try:
            return f(x), None
        except (TypeError, ValueError, OverflowError) as exc:
            return None, exc


def _finite_steps(f: Any) -> bool:
    """Whether NumPy computes f at ±BASE without a floating-point warning."""
    with np.errstate(all="raise"):
        try:
            f(BASE), f(-BASE)
        except FloatingPointError:
            return False
    return True


def _method(method: Any, cast: Any, kw: dict) -> Any:
    """t ↦ method(cast(t), **kw), a function of one input."""
    def f(t: Any) -> Any:
        return method(cast(t), **kw)

    return f


@pytest.mark.parametrize("ufunc", BINARY, ids=lambda u: u.__name__)
def test_reduce_of_truth_values_and_integers_with_initial_is_numpys(ufunc: np.ufunc) -> None:
    """ufunc.reduce and .accumulate of booleans (a comparison) and small integers, with each
    `initial` and dtype=: NumPy's values and dtypes, on the eager tape and under dk.jit. NumPy
    casts the operand and `initial` into its loop's dtype (np.add.reduce(x > 0, initial=5)
    counts from 5 in int64; it once started from bool(5) = True: [3, 3] for NumPy's [7, 7]); what
    NumPy refuses stays refused, by name."""
    for (kind, cast), initial, axis, dtype in itertools.product(
            CASTS.items(), INITIALS, (1, None, 0), (None, np.int64, np.bool_)):
        kw = {"axis": axis} | ({} if initial is None else {"initial": initial}) | (
            {} if dtype is None else {"dtype": dtype})
        what = f"np.{ufunc.__name__}.reduce({kind}, {kw})"

        f = _method(ufunc.reduce, cast, kw)
        want, refusal = _numpys_or_error(
            _method(lambda v, **k: _numpy_reduce(ufunc, v, **k), cast, kw), BASE)
        if refusal is not None:
            with pytest.raises(type(refusal)) as info, np.errstate(all="ignore"):
                f(dk.tensor(BASE))
            assert isinstance(info.value, dk.DiffkitError), (what, info.value)
            continue
        with np.errstate(all="ignore"):
            _same_rounded(ufunc, _traced(f, BASE), want, what)
        if axis == 1 and _numpys_or_error(f, -BASE)[1] is None and _finite_steps(f):
            # (dk.jit calls raise where NumPy warns; a 0-d integer or boolean comes back as a
            # Python number there, whatever the function: the value alone is compared)
            jitted = dk.jit(f)
            for x in (BASE, -BASE, BASE):
                got = jitted(x)
                if isinstance(got, int | float):
                    got = np.asarray(got, dtype=np.asarray(want).dtype)
                with np.errstate(all="ignore"):
                    right = _method(lambda v, **k: _numpy_reduce(ufunc, v, **k), cast, kw)(x)
                _same_rounded(ufunc, got, right, what + " under dk.jit")
        if axis != 1 or initial is not None:
            continue
        for axis_a in (0, 1):
            g = _method(ufunc.accumulate, cast, {"axis": axis_a, "dtype": dtype})
            want, refusal = _numpys_or_error(g, BASE)
            if refusal is None:
                with np.errstate(all="ignore"):
                    _same_rounded(ufunc, _traced(g, BASE), want,
                                  f"np.{ufunc.__name__}.accumulate({kind})")


def test_a_count_from_initial_has_its_derivative() -> None:
    """w·Σ np.add.reduce(x > 0, axis=1, initial=5): the count is a constant, 14 here (NumPy's
    value), so the derivative in w is 14 (it was 6: the count started from True)."""
    x = np.array([[1.0, -3.0, 2.0], [0.5, -1.0, 4.0]])
    want = np.sum(np.add.reduce(x > 0, axis=1, initial=5))
    assert want == 14

    def g(w: Any, x: Any) -> Any:
        return w * np.sum(np.add.reduce(x > 0, axis=1, initial=5))

    for method in ("reverse", "forward", "compiled"):
        value, (dw,) = dk.value_and_grad(g, wrt=0, method=method)(2.0, x)
        assert value == 2.0 * want and dw == want, method
    assert dk.grad(dk.jit(g), wrt=0)(2.0, x) == (want,)


@pytest.mark.parametrize("method", ("reverse", "forward"))
def test_reduce_with_dtype_is_the_reduction_of_the_cast(method: str) -> None:
    """dtype= (once refused): NumPy reduces x.astype(dtype), as np.sum(x, dtype=...) in diffkit;
    its derivative is that of the cast (float64 → float32: 1, in float64)."""
    x = RNG.standard_normal((3, 5))
    for f in (lambda t: np.add.reduce(t, axis=1, dtype=np.float32),
              lambda t: np.multiply.reduce(t, axis=0, dtype=np.float32, initial=2.0),
              lambda t: np.maximum.accumulate(t, axis=1, dtype=np.float32),
              lambda t: np.hypot.reduce(t, axis=1, dtype=np.float32)):
        _same(_traced(f, x), f(x), "dtype=float32")
    (g,) = dk.grad(lambda t: np.sum(np.add.reduce(t * t, axis=1, dtype=np.float32)),
                   method=method)(x)
    np.testing.assert_allclose(g, 2 * x, rtol=1e-6)


# ----- conventions (hand-derived values) ------------------------------------------------------------


@pytest.mark.parametrize("method", ("reverse", "forward", "symbolic"))
def test_maximum_reduce_ties_share_equally(method: str) -> None:
    """maximum.reduce is amax: the tied maxima of a lane share its derivative equally."""
    x = np.array([[1.0, 3.0, 3.0], [2.0, 2.0, 2.0], [0.0, -1.0, 5.0]])
    g = dk.grad(lambda x: np.sum(np.maximum.reduce(x, axis=1) * np.array([1.0, 3.0, 2.0])),
                method=method)(x)[0]
    np.testing.assert_allclose(g, [[0, 0.5, 0.5], [1, 1, 1], [0, 0, 2]], atol=1e-12)
    g = dk.grad(lambda x: np.minimum.reduce(x, axis=None), method=method)(x)[0]
    np.testing.assert_allclose(g, [[0, 0, 0], [0, 0, 0], [0, 1, 0]], atol=1e-12)
    g = dk.grad(lambda x: np.sum(np.maximum.reduce(x, axis=1, initial=-10.0)), method=method)(x)[0]
    np.testing.assert_allclose(g, [[0, 0.5, 0.5], [1 / 3] * 3, [0, 0, 1]], atol=1e-12)


@pytest.mark.parametrize(("f", "records"), [
    (lambda t: np.add.reduce(t, axis=1), {"sum"}),
    (lambda t: np.multiply.reduce(t), {"prod"}),
    (lambda t: np.maximum.reduce(t, axis=None), {"amax"}),
    (lambda t: np.minimum.reduce(t, keepdims=True), {"amin", "reshape"}),
    (lambda t: np.add.accumulate(t, axis=1), {"cumsum"}),
    (lambda t: np.multiply.accumulate(t), {"cumprod"}),
    (lambda t: np.subtract.reduce(t), {"getitem", "sub"}),
    (lambda t: np.multiply.outer(t[0], t[1]), {"getitem", "reshape", "mul"}),
], ids=["add.reduce", "multiply.reduce", "maximum.reduce", "minimum.reduce", "add.accumulate",
        "multiply.accumulate", "subtract.reduce", "multiply.outer"])
def test_methods_record_the_tables_operations(f: Any, records: set[str]) -> None:
    """No record of their own: add/multiply/maximum/minimum are sum/prod/amax/amin, cumsum/cumprod;
    other ufuncs fold with their own record."""
    graph = dk.function(f, inputs=["x"]).trace(X)
    assert {n.prim.name for n in graph.nodes if n.prim is not None} == records


@pytest.mark.parametrize("method", ("reverse", "forward"))
def test_maximum_accumulate_ties_follow_maximum(method: str) -> None:
    """A fold of maximum: at each tie ½ to the running maximum, ½ to the new element, so the
    last partial maximum of [1, 1, 1] gives (¼, ¼, ½)."""
    jac = dk.jacobian(lambda x: np.maximum.accumulate(x), method=method)(np.ones(3))
    np.testing.assert_allclose(jac, [[1, 0, 0], [0.5, 0.5, 0], [0.25, 0.25, 0.5]], atol=1e-12)


@pytest.mark.parametrize("method", ENGINES)
@pytest.mark.parametrize(("x", "want"), [([2.0, 0.0, 3.0], [0.0, 6.0, 0.0]),
                                         ([0.0, 2.0, 0.0, 3.0], [0.0] * 4)],
                         ids=["one-zero", "two-zeros"])
def test_multiply_reduce_is_exact_at_zeros(method: str, x: Any, want: Any) -> None:
    g = dk.grad(lambda x: np.multiply.reduce(x), method=method)(np.array(x))[0]
    np.testing.assert_allclose(g, want, atol=1e-7 if method == "fd" else 0.0)


# ----- refusals by name ---------------------------------------------------------------------------

X = np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])


@pytest.mark.parametrize(("f", "error", "match"), [
    (lambda t: np.add.reduceat(t, [0, 1]), dk.MissingRuleError, r"add\.reduceat .*np\.stack"),
    (lambda t: np.add.at(t, [0], 1.0), dk.MissingRuleError, r"add\.at changes .* in place"),
    (lambda t: np.add.reduce(t, dtype="foo"), dk.InputTypeError, r"dtype='foo'.* not understood"),
    (lambda t: np.logical_and.reduce(t, dtype=np.float64), dk.InputTypeError,
     r"logical_and\.reduce of float64 values with dtype=float64: No loop"),
    (lambda t: np.add.reduce(t, initial="a"), dk.DomainError, r"initial='a' as float64"),
    (lambda t: np.add.reduce(t > 2, initial=np.nan), dk.DomainError, r"initial=nan as int64"),
    (lambda t: np.add.reduce(t, initial=1j), dk.InputTypeError, r"initial=1j as float64"),
    (lambda t: np.add.reduce((t > 2).astype(np.uint8), initial=-2), dk.NumericOverflowError,
     r"initial=-2 as uint64 .*overflows"),
    (lambda t: np.add.reduce(t, out=np.zeros(3)), dk.TracingError, r"add\.reduce with out="),
    (lambda t: np.add.reduce(t, where=np.array([True, False, True])), dk.TracingError,
     r"with where="),
    (lambda t: np.maximum.accumulate(t, out=np.zeros((2, 3))), dk.TracingError, "with out="),
    (lambda t: np.multiply.outer(t, t, dtype=np.float64), dk.TracingError, r"outer with dtype="),
    (lambda t: np.subtract.reduce(t, axis=None), dk.ShapeError, "'subtract' is not reorderable"),
    (lambda t: np.power.reduce(t, axis=(0, 1)), dk.ShapeError, "'power' is not reorderable"),
    (lambda t: np.maximum.reduce(t[:, :0], axis=1), dk.ShapeError,
     "zero-size array to reduction operation maximum which has no identity"),
    (lambda t: np.subtract.reduce(t[:0]), dk.ShapeError, "subtract which has no identity"),
    (lambda t: np.add.accumulate(t, axis=None), dk.ShapeError, "does not allow multiple axes"),
    (lambda t: np.add.accumulate(t[0, 0]), dk.InputTypeError, "cannot accumulate on a scalar"),
    (lambda t: np.add.reduce(t, initial=np.ones(2)), dk.ShapeError, "initial must be a scalar"),
    (lambda t: np.add.reduce(t, axis=2), dk.ShapeError, "axis 2 is out of bounds"),
    (lambda t: np.less.reduce(t), dk.InputTypeError, r"less\.reduce of float64 values"),
    (lambda t: np.nextafter.reduce(t), dk.MissingRuleError, r"numpy\.nextafter\.reduce"),
], ids=lambda v: v if isinstance(v, str) else "")
def test_refusals_name_the_problem(f: Any, error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        f(dk.tensor(X))
    with pytest.raises(error, match=match):
        dk.grad(lambda t: np.sum(f(t)))(X)


def test_what_numpy_itself_refuses_stays_numpys_error() -> None:
    """Methods of a unary ufunc or of one returning two values: NumPy refuses before dispatch."""
    with pytest.raises(ValueError, match="only supported for binary functions"):
        np.sin.reduce(dk.tensor(X))
    with pytest.raises(ValueError, match="returning a single value"):
        np.divmod.accumulate(dk.tensor(X))
