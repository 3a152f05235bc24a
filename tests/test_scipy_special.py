"""scipy.special: users' SciPy code differentiates unchanged, against independent mpmath references.

Every function is written in plain SciPy spelling (``scipy.special.erf(x)`` on traced values
dispatches to ``dk.erf``) where SciPy allows it, and checked by ``numpy_check.check``: values equal
SciPy's, first derivatives of reverse, forward, symbolic and finite differences and the Hessians
of the exact engines against mpmath (50/80 digits), float32 gradients. SciPy's Python-level
functions (polygamma, logsumexp, log_softmax) cannot take traced values: their diffkit spellings
are checked instead, against SciPy's values, and the SciPy spellings' failure is pinned.
"""

from __future__ import annotations

import warnings

import mpmath
import numpy as np
import pytest
from numpy_check import Spec, check, grid
from scipy import special

import diffkit as dk
from diffkit.primitive import COMPOSITES, REGISTRY, SCIPY_NAMES

COVERS = {"erf", "erfc", "erfinv", "erfcinv", "ndtr", "log_ndtr", "log_ndtr_derivative", "gamma", "gammaln", "digamma",
          "polygamma", "beta", "betaln", "logit", "expit", "xlogy", "xlog1py",
          "weighted_logsumexp", "logsumexp", "softmax", "log_softmax"}

mp = mpmath.mp
EXACT = ("reverse", "forward", "symbolic")
C3 = np.array([0.7, -1.3, 0.4])


def _mpsum(fn, c=C3):
    """Σ cᵢ·fn(xᵢ) on an object array of mpf (the reference of a weighted element-wise sum)."""
    return lambda x: mp.fsum(ci * fn(v) for v, ci in zip(x, c))


def _unary(name, sp_fn, mp_fn, lo, hi, extra=(), seed=0):
    """Random points of (lo, hi) by every method, and `extra` points (near boundaries, far in a
    tail, on the negative axis) by the exact engines in float64: central differences lose digits
    there, and rounding a point near a boundary to float32 moves it."""
    fn, ref = (lambda x: np.sum(sp_fn(x) * C3)), _mpsum(mp_fn)
    specs = [Spec(name, fn, grid(((3,), (lo, hi)), count=1, seed=seed), ref=ref, order=2)]
    if extra:
        specs.append(Spec(f"{name}-edges", fn, [(np.array(p),) for p in extra], ref=ref,
                          order=2, methods=EXACT, float32=False))
    return specs


def _ref_log_abs_gamma(x):
    return mp.log(abs(mp.gamma(x)))


UNARY_SPECS = [spec for specs in [
    _unary("erf", special.erf, mp.erf, -2.0, 2.0),
    _unary("erfc", special.erfc, mp.erfc, -2.0, 3.0, extra=[(4.5, 5.0, -3.0)]),
    _unary("erfinv", special.erfinv, mp.erfinv, -0.95, 0.95, extra=[(0.999, -0.99, 0.0)]),
    _unary("erfcinv", special.erfcinv, lambda x: mp.erfinv(1 - x), 0.05, 1.95,
           extra=[(1e-3, 1.999, 1.0)]),
    _unary("ndtr", special.ndtr, mp.ncdf, -4.0, 4.0),
    # far in the left tail log Φ and its derivative φ/Φ stay accurate
    _unary("log_ndtr", special.log_ndtr, lambda x: mp.log(mp.ncdf(x)), -6.0, 4.0,
           extra=[(-30.0, -12.0, 8.0)]),
    _unary("gamma", special.gamma, mp.gamma, 0.3, 5.0, extra=[(-0.5, -1.5, -2.7)]),
    # log|Γ| also between the poles on the negative axis
    _unary("gammaln", special.gammaln, _ref_log_abs_gamma, 0.3, 8.0, extra=[(-0.5, -2.5, 30.0)]),
    _unary("digamma", special.digamma, mp.digamma, 0.3, 6.0, extra=[(-0.5, -1.7, 12.0)]),
    _unary("psi", special.psi, mp.digamma, 0.3, 6.0),
    _unary("logit", special.logit, lambda p: mp.log(p / (1 - p)), 0.02, 0.98,
           extra=[(1e-6, 0.999999, 0.5)]),
    _unary("expit", special.expit, lambda x: 1 / (1 + mp.exp(-x)), -6.0, 6.0,
           extra=[(-40.0, 40.0, 0.0)]),
] for spec in specs]


@pytest.mark.parametrize("spec", UNARY_SPECS, ids=lambda s: s.name)
def test_unary_functions_in_scipy_spelling(spec: Spec) -> None:
    check(spec)


def _ref_xlogy(x, y):
    return [xi * mp.log(yi) for xi, yi in zip(x, y)]


BINARY_SPECS = [
    Spec("xlogy", lambda x, y: special.xlogy(x, y),
         grid(((3,), (-2.0, 2.0)), ((3,), (0.1, 4.0)), count=1),
         ref=lambda x, y: np.array(_ref_xlogy(x, y), dtype=object)),
    Spec("xlogy-sum", lambda x, y: np.sum(special.xlogy(x, y) * C3),
         [(np.array([0.0, 1.5, -0.7]), np.array([2.0, 0.3, 3.0]))],
         ref=lambda x, y: mp.fsum(c * v for c, v in zip(C3, _ref_xlogy(x, y))), order=2),
    Spec("xlog1py", lambda x, y: np.sum(special.xlog1py(x, y) * C3),
         grid(((3,), (-2.0, 2.0)), ((3,), (-0.9, 3.0)), count=1) + [
             (np.array([0.0, 1.0, 2.0]), np.array([1.0, 1e-12, -0.5]))],
         ref=lambda x, y: mp.fsum(c * xi * mp.log1p(yi) for c, xi, yi in zip(C3, x, y)),
         order=2),
    Spec("beta", lambda a, b: np.sum(special.beta(a, b) * C3[:2]),
         grid(((2,), (0.3, 3.0)), ((2,), (0.3, 3.0)), count=1) + [
             (np.array([-0.5, 2.5]), np.array([0.3, -1.5]))],
         ref=lambda a, b: mp.fsum(c * mp.beta(x, y) for c, x, y in zip(C3, a, b)), order=2),
    Spec("betaln", lambda a, b: np.sum(special.betaln(a, b) * C3[:2]),
         grid(((2,), (0.3, 6.0)), ((2,), (0.3, 6.0)), count=1) + [
             (np.array([-0.5, 40.0]), np.array([0.3, 0.7]))],
         ref=lambda a, b: mp.fsum(c * mp.log(abs(mp.beta(x, y))) for c, x, y in zip(C3, a, b)),
         order=2),
]


@pytest.mark.parametrize("spec", BINARY_SPECS, ids=lambda s: s.name)
def test_binary_functions_in_scipy_spelling(spec: Spec) -> None:
    check(spec)


# ----- polygamma: scipy.special.polygamma is Python code that cannot take traced values ---------


@pytest.mark.parametrize("n", [0, 1, 2, 4])
def test_polygamma(n: int) -> None:
    x = np.array([0.4, 1.7, 6.0])
    np.testing.assert_array_equal(dk.polygamma(n, x), special.polygamma(n, x))
    check(Spec(f"polygamma-{n}", lambda x: np.sum(dk.polygamma(n, x) * C3),
               [(x,), (np.array([-0.5, -2.3, 15.0]),)],
               ref=_mpsum(lambda v: mp.polygamma(n, v)), order=2))


def test_polygamma_orders_broadcast_and_are_not_differentiable() -> None:
    n, x = np.array([[0], [1], [3]]), np.array([0.5, 2.0])
    np.testing.assert_array_equal(dk.polygamma(n, x), special.polygamma(n, x))
    check(Spec("polygamma-orders", lambda x: dk.polygamma(n, x), [(x,)],
               ref=lambda x: np.array([mp.polygamma(int(k), v) for k in n[:, 0] for v in x],
                                      dtype=object).reshape(3, 2)))
    # the order is a number: differentiating by it, or a fractional or negative one, is refused
    with pytest.raises(dk.NonDifferentiableError, match="order n"):
        dk.grad(lambda k, x: dk.polygamma(k, x))(1.0, 0.5)
    assert dk.grad(lambda k, x: dk.polygamma(k, x), wrt=[1])(2.0, 0.5)[0] == pytest.approx(
        float(mp.polygamma(3, 0.5)), rel=1e-13)
    for bad in (1.5, -1, np.nan):
        with pytest.raises(dk.DomainError, match="non-negative integer order"):
            dk.polygamma(bad, 0.5)


def test_higher_derivatives_chain_through_the_polygammas() -> None:
    """digamma′ = polygamma(1), polygamma(n)′ = polygamma(n + 1), erfinv‴, gammaln⁗: every
    engine, any order."""
    for method in EXACT:
        assert dk.derivative(dk.digamma, 3, method=method)(0.7) == pytest.approx(
            float(mp.polygamma(3, 0.7)), rel=1e-12)
        assert dk.derivative(lambda x: dk.polygamma(2, x), 2, method=method)(1.3) == \
            pytest.approx(float(mp.polygamma(4, 1.3)), rel=1e-12)
        assert dk.derivative(dk.gammaln, 4, method=method)(2.5) == pytest.approx(
            float(mp.polygamma(3, 2.5)), rel=1e-12)
        assert dk.derivative(dk.erfinv, 3, method=method)(0.4) == pytest.approx(
            float(mp.diff(mp.erfinv, 0.4, 3)), rel=1e-10)


# ----- logsumexp, softmax, log_softmax -----------------------------------------------------------


def _ref_softmax(x):
    e = [mp.exp(v) for v in x.reshape(-1)]
    total = mp.fsum(e)
    return np.array([v / total for v in e], dtype=object).reshape(x.shape)


def _ref_lse(a, b=None, axis=None):
    b = np.ones(a.shape, dtype=object) if b is None else b
    if axis is None:
        return mp.log(abs(mp.fsum(bi * mp.exp(ai) for ai, bi in zip(a.reshape(-1), b.reshape(-1)))))
    rows = [_ref_lse(a[i], b[i]) for i in range(a.shape[0])]
    return np.array(rows, dtype=object)


X23 = np.array([[0.3, -1.2, 2.0], [1.0, 0.5, -0.5]])


def test_scipy_python_functions_are_refused_by_name_on_traced_values() -> None:
    """scipy.special.softmax, logsumexp, log_softmax, polygamma and multigammaln are SciPy's
    Python code, not ufuncs: they convert their input with np.asarray. On object arrays of traced
    elements NumPy's loops give wrong types (np.imag of an object array is 0 whatever the
    elements), so the conversion is refused, naming the function and the dk spelling."""
    x = np.array([0.3, -1.2, 2.0])
    for fn, name, alternative in [
            (lambda x: np.sum(special.softmax(x) * C3), "scipy.special.softmax", "dk.softmax"),
            (lambda x: special.logsumexp(x), "scipy.special.logsumexp", "dk.logsumexp"),
            (lambda x: np.sum(special.log_softmax(x)), "scipy.special.log_softmax",
             "dk.log_softmax"),
            (lambda x: np.sum(special.polygamma(1, x)), "scipy.special.polygamma", "dk.polygamma"),
            (lambda x: special.multigammaln(x[2], 2), "scipy.special.multigammaln",
             "dk.multigammaln")]:
        for method in ("reverse", "forward"):
            with pytest.raises(dk.TracingError, match=name.replace(".", r"\.")) as err:
                dk.grad(fn, method=method)(x)
            assert alternative is None or alternative in str(err.value)
        assert dk.grad(fn, method="fd")(x)[0].shape == (3,)  # the black box works


@pytest.mark.parametrize("axis", [None, 1])
def test_softmax_log_softmax_logsumexp_in_dk_spelling(axis: int | None) -> None:
    """SciPy's axis default is None (all elements), diffkit's softmax default is -1: with the axis
    given, dk.softmax/log_softmax/logsumexp are SciPy's functions."""
    for dk_fn, sp_fn in [(dk.softmax, special.softmax), (dk.log_softmax, special.log_softmax),
                         (dk.logsumexp, special.logsumexp)]:
        np.testing.assert_allclose(dk_fn(X23, axis=axis), sp_fn(X23, axis=axis), rtol=1e-14,
                                   atol=1e-15)

    def ref_softmax(x):
        return _ref_softmax(x) if axis is None else np.array([_ref_softmax(r) for r in x])

    def ref_log_softmax(x):
        return np.vectorize(mp.log, otypes=[object])(ref_softmax(x))

    check(Spec(f"softmax-axis{axis}", lambda x: dk.softmax(x, axis=axis), [(X23,)],
               ref=ref_softmax))
    check(Spec(f"log_softmax-axis{axis}", lambda x: dk.log_softmax(x, axis=axis), [(X23,)],
               ref=ref_log_softmax))
    check(Spec(f"logsumexp-axis{axis}", lambda x: np.sum(dk.logsumexp(x, axis=axis)), [(X23,)],
               ref=lambda x: mp.fsum(np.atleast_1d(_ref_lse(x, axis=axis))), order=2))


def test_weighted_logsumexp_is_scipys_logsumexp_with_b_and_return_sign() -> None:
    a, b = np.array([0.3, -1.2, 2.0, 0.1]), np.array([0.5, 2.0, 1.0, 0.25])
    np.testing.assert_allclose(dk.weighted_logsumexp(a, b), special.logsumexp(a, b=b),
                               rtol=1e-15)
    check(Spec("weighted_logsumexp", lambda a, b: dk.weighted_logsumexp(a, b), [(a, b)],
               ref=lambda a, b: _ref_lse(a, b), order=2))
    # negative weights: the sign is returned (a constant), the value is log|Σ b·e^a|
    bn = np.array([0.5, 2.0, -1.0, 0.25])
    got, sgn = dk.weighted_logsumexp(a, bn, return_sign=True)
    want, want_sgn = special.logsumexp(a, b=bn, return_sign=True)
    np.testing.assert_allclose(got, want, rtol=1e-14)
    assert sgn == want_sgn == -1.0
    check(Spec("weighted_logsumexp-sign", lambda a, b: dk.weighted_logsumexp(
        a, b, return_sign=True)[0], [(a, bn)], ref=lambda a, b: _ref_lse(a, b), order=2))
    with pytest.raises(dk.DomainError):  # SciPy: nan
        dk.grad(lambda a: dk.weighted_logsumexp(a, bn))(a)
    # axis, keepdims, and weights broadcast against the values
    w = np.array([[1.0], [0.5]])
    for keepdims in (False, True):
        np.testing.assert_allclose(
            dk.weighted_logsumexp(X23, w, axis=1, keepdims=keepdims),
            special.logsumexp(X23, b=w, axis=1, keepdims=keepdims), rtol=1e-14)
    check(Spec("weighted_logsumexp-axis", lambda x: dk.weighted_logsumexp(x, w, axis=1),
               [(X23,)], ref=lambda x: _ref_lse(x, np.broadcast_to(w, x.shape), axis=1)))
    got, sgn = dk.weighted_logsumexp(a, return_sign=True)
    assert got == pytest.approx(special.logsumexp(a), rel=1e-15) and sgn == 1.0


# ----- domains, errors, special values -----------------------------------------------------------

OUTSIDE = [
    ("erfinv", (1.0,), dk.DomainError, "-1 < x < 1"),
    ("erfinv", (-1.5,), dk.DomainError, "-1 < x < 1"),
    ("erfcinv", (0.0,), dk.DomainError, "0 < x < 2"),
    ("erfcinv", (2.5,), dk.DomainError, "0 < x < 2"),
    ("logit", (0.0,), dk.DomainError, "0 < p < 1"),
    ("logit", (1.25,), dk.DomainError, "0 < p < 1"),
    ("gammaln", (0.0,), dk.DomainError, "poles"),
    ("gammaln", (-3.0,), dk.DomainError, "poles"),
    ("gamma", (-1.0,), dk.DomainError, "poles"),
    ("gamma", (200.0,), dk.NumericOverflowError, "overflows"),
    ("gammaln", (1e308,), dk.NumericOverflowError, "overflows"),
    ("digamma", (0.0,), dk.DomainError, "poles"),
    ("psi", (-2.0,), dk.DomainError, "poles"),
    ("beta", (0.0, 1.0), dk.DomainError, "poles"),
    ("betaln", (-2.0, 0.5), dk.DomainError, "poles"),
    ("xlogy", (1.0, 0.0), dk.DomainError, "y > 0"),
    ("xlogy", (1.0, -1.0), dk.DomainError, "y > 0"),
    ("xlog1py", (2.0, -3.0), dk.DomainError, "y > -1"),
]


def _named(fn, nargs):
    return dk.function(fn, inputs=[f"x{i}" for i in range(nargs)])


@pytest.mark.parametrize(("name", "args", "error", "match"), OUTSIDE,
                         ids=[f"{name}{args}" for name, args, _, _ in OUTSIDE])
def test_outside_the_domain_is_a_named_error(name, args, error, match) -> None:
    """SciPy returns inf/nan there without a floating-point flag; diffkit raises the flag NumPy
    would, so every method names the error. (Finite differences run the SciPy spelling as a
    black box on plain numbers, where SciPy's inf/nan comes back unflagged: not checked here.)"""
    sp_fn = getattr(special, name)
    dk_fn = REGISTRY["digamma"] if name == "psi" else getattr(dk, name)
    for method in ("reverse", "forward", "fd"):
        with pytest.raises(error, match=match):
            dk.grad(_named(dk_fn, len(args)), method=method)(*args)
    for method in ("reverse", "forward"):
        with pytest.raises(error, match=match):
            dk.grad(_named(sp_fn, len(args)), method=method)(*args)


def test_polygamma_outside_its_domain() -> None:
    with pytest.raises(dk.DomainError, match="poles"):
        dk.grad(lambda x: dk.polygamma(2, x))(-1.0)
    with pytest.raises(dk.NumericOverflowError, match="overflows"):
        dk.grad(lambda x: dk.polygamma(400, x))(1.0)


def test_outside_the_api_the_flags_follow_numpy_errstate() -> None:
    with pytest.warns(RuntimeWarning, match="divide by zero encountered in erfinv"):
        assert dk.erfinv(1.0) == np.inf
    with pytest.warns(RuntimeWarning, match="invalid value encountered in logit"):
        assert np.isnan(dk.logit(np.array([0.5, 2.0]))[1])
    with np.errstate(all="raise"), pytest.raises(dk.DomainError, match="gammaln"):
        dk.gammaln(np.array([1.0, -2.0]))
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("error")
        assert dk.gamma(200.0) == np.inf
        assert np.isnan(dk.erfinv(np.nan))  # a non-finite input raises no flag


def test_xlogy_at_zero() -> None:
    """0·log 0 = 0 (SciPy). ∂/∂x = log y, ∂/∂y = x/y; at x = 0 xlogy is 0 for every y ≥ 0, so
    ∂/∂y = 0 there, also at (0, 0), where ∂/∂x = log 0 = −∞ does not exist."""
    assert dk.xlogy(0.0, 0.0) == special.xlogy(0.0, 0.0) == 0.0
    for method in ("reverse", "forward", "symbolic", "fd"):
        gx, gy = dk.grad(dk.xlogy, method=method)(0.0, 2.0)
        assert gx == pytest.approx(np.log(2.0), rel=1e-9) and gy == 0.0
    for method in EXACT:
        np.testing.assert_allclose(dk.hessian(dk.xlogy, method=method)(0.0, 2.0),
                                   [[0.0, 0.5], [0.5, 0.0]], rtol=1e-15)
    for method in ("reverse", "forward"):
        assert dk.grad(dk.xlogy, method=method, wrt=[1])(0.0, 0.0) == (0.0,)
        assert dk.grad(dk.xlog1py, method=method, wrt=[1])(0.0, -1.0) == (0.0,)
        with pytest.raises(dk.NonDifferentiableError, match="xlogy"):
            dk.grad(dk.xlogy, method=method)(0.0, 0.0)
        with pytest.raises(dk.NonDifferentiableError, match="xlog1py"):
            dk.grad(dk.xlog1py, method=method)(0.0, -1.0)


# ----- dtypes, complex numbers, dispatch, parsing, engines ---------------------------------------


def _summed(fn, nargs=1):
    """Σ fn(args) as a function of named inputs."""
    if nargs == 1:
        return lambda x: dk.sum(fn(x))
    return lambda a, b: dk.sum(fn(a, b))


def test_float32_and_float16_keep_their_dtype() -> None:
    """SciPy computes float16 in float64, and a float32 array with a Python number in float64;
    diffkit keeps NumPy's result type (float32 stays float32)."""
    x32 = np.array([0.2, 0.5, 0.9], np.float32)
    for name in ("erf", "erfc", "erfinv", "erfcinv", "ndtr", "log_ndtr", "gamma", "gammaln",
                 "digamma", "logit", "expit"):
        fn = getattr(dk, name)
        assert fn(x32).dtype == np.float32, name
        assert fn(x32.astype(np.float16)).dtype == np.float16, name
        np.testing.assert_array_equal(fn(x32), getattr(special, name)(x32))
        (g,) = dk.grad(_summed(fn))(x32)
        assert g.dtype == np.float32, name
    for name in ("xlogy", "xlog1py", "beta", "betaln"):
        fn = getattr(dk, name)
        assert fn(x32, 0.5).dtype == np.float32 and getattr(special, name)(x32, 0.5).dtype \
            == np.float64
        assert fn(x32, np.float32(0.5)) == pytest.approx(getattr(special, name)(x32, 0.5),
                                                         rel=1e-6)
        assert all(g.dtype == np.float32 for g in dk.grad(_summed(fn, 2))(x32, np.float32(0.5)))
    assert dk.polygamma(1, x32).dtype == np.float32
    assert dk.grad(lambda x: dk.sum(dk.polygamma(2, x)))(x32)[0].dtype == np.float32
    assert isinstance(dk.erf(0.5), np.float64) and dk.erf(1).dtype == np.float64


@pytest.mark.parametrize(("name", "ref"), [
    ("erf", lambda z: 2 / mp.sqrt(mp.pi) * mp.exp(-z * z)),
    ("erfc", lambda z: -2 / mp.sqrt(mp.pi) * mp.exp(-z * z)),
    ("ndtr", lambda z: mp.exp(-z * z / 2) / mp.sqrt(2 * mp.pi)),
    ("log_ndtr",
     lambda z: mp.exp(-z * z / 2) / mp.sqrt(2 * mp.pi) / (mp.erfc(-z / mp.sqrt(2)) / 2)),
])
def test_holomorphic_functions_give_the_complex_derivative(name, ref) -> None:
    z = 0.4 - 0.3j
    want = complex(ref(mp.mpc(z)))
    for method in ("reverse", "forward", "symbolic", "fd"):
        got = dk.grad(getattr(dk, name), method=method)(z)[0]
        assert got == pytest.approx(want, rel=1e-9 if method != "fd" else 1e-6), method
    assert dk.grad(getattr(dk, name), method="fd-complex")(0.3)[0] == pytest.approx(
        complex(ref(mp.mpf(0.3))).real, rel=1e-13)


def _real_part(fn):
    return lambda z: dk.real(fn(z))


def test_the_others_refuse_complex_inputs_by_name() -> None:
    """gamma and digamma take complex values in SciPy, but are not declared holomorphic (their
    derivatives need polygamma, which SciPy has for real x only); gammaln, erfinv, logit, …
    have no complex loop in SciPy at all."""
    for fn in (dk.gamma, dk.digamma):
        with pytest.raises(dk.MissingRuleError, match="complex"):
            dk.grad(_real_part(fn))(0.5 + 0.1j)
    for fn in (dk.gammaln, dk.erfinv, dk.erfcinv, dk.logit, dk.expit):
        with pytest.raises(TypeError):
            fn(0.5 + 0.1j)


def test_scipy_ufuncs_dispatch_to_the_records() -> None:
    for sp_name, rec in [("erf", "erf"), ("erfc", "erfc"), ("erfinv", "erfinv"),
                         ("erfcinv", "erfcinv"), ("ndtr", "ndtr"), ("log_ndtr", "log_ndtr"),
                         ("gamma", "gamma"), ("gammaln", "gammaln"), ("psi", "digamma"),
                         ("digamma", "digamma"), ("beta", "beta"), ("betaln", "betaln"),
                         ("logit", "logit"), ("expit", "expit"), ("xlogy", "xlogy"),
                         ("xlog1py", "xlog1py")]:
        assert SCIPY_NAMES[sp_name] is REGISTRY[rec]
        ufunc = getattr(special, sp_name)
        args = (0.5,) * ufunc.nin
        graph = dk.function(ufunc, inputs=[f"x{i}" for i in range(ufunc.nin)]).trace(*args)
        assert graph.output.prim is REGISTRY[rec], sp_name
        assert float(graph.output.value) == float(ufunc(*args))


def test_math_text_calls_them_by_name() -> None:
    f = dk.parse("erf(x) + erfinv(y/2) + gammaln(x) + digamma(y) + polygamma(2, x) + "
                 "xlogy(x, y) + logit(y/3) + expit(x) + log_ndtr(x) + betaln(x, y)")
    x, y = 1.3, 0.7
    want = (special.erf(x) + special.erfinv(y / 2) + special.gammaln(x) + special.digamma(y)
            + special.polygamma(2, x) + special.xlogy(x, y) + special.logit(y / 3)
            + special.expit(x) + special.log_ndtr(x) + special.betaln(x, y))
    assert f(x, y) == pytest.approx(want, rel=1e-14)
    grads = [dk.grad(f, method=m)(x, y) for m in ("reverse", "forward", "symbolic", "compiled")]
    for g in grads[1:]:
        np.testing.assert_allclose(g, grads[0], rtol=1e-12)
    # gamma and beta stay free as variable names (alpha, beta, gamma coefficients are common)
    assert dk.parse("beta*x + gamma")(2.0, 3.0, 4.0) == 10.0


def test_sympy_translation_prints_scipy_and_round_trips() -> None:
    f = dk.parse("erfinv(x) + gammaln(x) + polygamma(1, x)")
    g = dk.grad(f, method="symbolic")
    assert g(0.4)[0] == pytest.approx(dk.grad(f)(0.4)[0], rel=1e-13)
    assert "scipy.special" in g.engine.last.source
    back = dk.from_sympy(dk.parse("erfinv(x) + gammaln(x) + erf(x)").to_sympy())
    assert back(0.4) == pytest.approx(special.erfinv(0.4) + special.gammaln(0.4)
                                      + special.erf(0.4), rel=1e-15)


def test_compiled_gradients_call_scipy() -> None:
    f = dk.jit(lambda x, y: dk.sum(special.erf(x) * special.gammaln(y) + special.xlogy(x, y)))
    x, y = np.array([0.2, -0.4, 1.1]), np.array([0.5, 2.5, 3.5])
    want = dk.grad(f, method="reverse")(x, y)
    for _ in range(3):
        got = dk.grad(f, method="compiled")(x, y)
        for w, v in zip(want, got):
            np.testing.assert_allclose(v, w, rtol=1e-14)


def test_covers_names_exist() -> None:
    assert all(n in REGISTRY or n in COMPOSITES for n in COVERS)
    assert all(getattr(dk, n) is (REGISTRY.get(n) or COMPOSITES.get(n)) for n in COVERS)


def test_special_module_follows_the_array_module() -> None:
    assert dk.backend.special_module(np) is special
    with pytest.raises(TypeError, match="special-functions module"):
        dk.backend.special_module(mpmath)


@pytest.mark.gpu
@pytest.mark.skipif(not dk.backend.gpu_available(), reason="needs CuPy and a GPU")
def test_cupy_arrays_use_cupyx_special_and_match_numpy() -> None:
    import cupy

    x = np.array([0.3, 0.6, 0.9], np.float32)

    def loss(t):
        return dk.sum(dk.erf(t) + dk.erfinv(t) + dk.gammaln(t) + dk.digamma(t)
                      + dk.polygamma(2, t) + dk.xlogy(t, t) + dk.logit(t) + dk.log_ndtr(t))

    grads = []
    for value in (x, cupy.asarray(x)):
        t = dk.tensor(value, requires_grad=True)
        out = loss(t)
        out.backward(cupy.ones((), cupy.float32) if isinstance(value, cupy.ndarray) else None)
        grads.append((out.value, t.grad))
    (v_cpu, g_cpu), (v_gpu, g_gpu) = grads
    assert isinstance(g_gpu, cupy.ndarray) and g_gpu.dtype == np.float32
    np.testing.assert_allclose(cupy.asnumpy(v_gpu), v_cpu, rtol=1e-5)
    np.testing.assert_allclose(cupy.asnumpy(g_gpu), g_cpu, rtol=1e-4)
