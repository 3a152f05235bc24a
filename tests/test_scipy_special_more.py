"""scipy.special, second part: Bessel functions, the sign and reciprocal of Γ, the regularized
incomplete gamma and beta functions, and multigammaln, against independent mpmath references.

Every function is written in SciPy's spelling where SciPy allows it (``scipy.special.jv(v, x)``
on a traced x dispatches to ``dk.jv``) and checked by ``numpy_check.check``: values, first
derivatives by reverse, forward, symbolic and finite differences, Hessians of the exact engines
(mpmath at 50/80 digits), float32 gradients. Values equal SciPy's bit for bit, on plain arrays and
on traced values. Orders and shape parameters (v of jv, a of gammainc, a and b of betainc) are
not differentiated: the exact engines refuse them by name (MissingRuleError naming method='fd'),
and finite differences give the derivative.
"""

from __future__ import annotations

import mpmath
import numpy as np
import pytest
from numpy_check import Spec, check, grid
from scipy import special

import diffkit as dk
from diffkit.primitive import COMPOSITES, REGISTRY, SCIPY_NAMES, ruled_inputs

COVERS = ("j0", "j1", "y0", "y1", "i0", "i1", "numpy_i0", "i0e", "i1e", "jv", "yv", "iv", "ive",
          "kv", "yn", "kn", "gammasgn", "rgamma", "gammainc", "gammaincc", "betainc",
          "multigammaln")

mp = mpmath.mp
EXACT = ("reverse", "forward", "symbolic")
C3 = np.array([0.7, -1.3, 0.4])


def _mpsum(fn, c=C3):
    """Σ cᵢ·fn(xᵢ) on an object array of mpf (the reference of a weighted element-wise sum)."""
    return lambda x: mp.fsum(ci * fn(v) for v, ci in zip(x, c))


def _ive(v, x):
    return mp.besseli(v, x) * mp.exp(-abs(x))


# ----- one-argument functions --------------------------------------------------------------------


def _unary(name, sp_fn, mp_fn, lo, hi, extra=(), order2=True, seed=0):
    """Random points of (lo, hi) by every method (float32 too), and `extra` points (x = 0, far
    out, on the negative axis) by the exact engines in float64: central differences lose digits
    near singular points."""
    fn, ref = (lambda x: np.sum(sp_fn(x) * C3)), _mpsum(mp_fn)
    order = 2 if order2 else 1
    specs = [Spec(name, fn, grid(((3,), (lo, hi)), count=2, seed=seed), ref=ref, order=order)]
    if extra:
        specs.append(Spec(f"{name}-edges", fn, [(np.array(p),) for p in extra], ref=ref,
                          order=order, methods=EXACT, float32=False))
    return specs


UNARY_SPECS = [spec for specs in [
    _unary("j0", special.j0, lambda x: mp.besselj(0, x), -10.0, 10.0,
           extra=[(0.0, 30.0, -45.5)]),
    # j1′(0) = 1/2 from the recurrence (j0 − J₂)/2: no division by x
    _unary("j1", special.j1, lambda x: mp.besselj(1, x), -10.0, 10.0,
           extra=[(0.0, 30.0, -45.5), (1e-9, -1e-12, 2.4)]),
    _unary("y0", special.y0, lambda x: mp.bessely(0, x), 0.3, 12.0, extra=[(1e-3, 40.0, 3.0)]),
    _unary("y1", special.y1, lambda x: mp.bessely(1, x), 0.3, 12.0, extra=[(1e-2, 40.0, 3.0)]),
    _unary("i0", special.i0, lambda x: mp.besseli(0, x), -5.0, 5.0, extra=[(0.0, 30.0, -20.0)]),
    _unary("i1", special.i1, lambda x: mp.besseli(1, x), -5.0, 5.0, extra=[(0.0, 30.0, -20.0)]),
    _unary("np.i0", np.i0, lambda x: mp.besseli(0, x), -5.0, 5.0, extra=[(0.0, 12.0, -9.0)]),
    # the scaled functions stay finite far out; i0e has a kink at 0 (first order only there)
    _unary("i0e", special.i0e, lambda x: _ive(0, x), -6.0, 6.0, extra=[(40.0, -300.0, 2.5)]),
    _unary("i0e-at-0", special.i0e, lambda x: _ive(0, x), 0.5, 2.0, extra=[(0.0, 1.0, -1.0)],
           order2=False),
    _unary("i1e", special.i1e, lambda x: _ive(1, x), -6.0, 6.0, extra=[(40.0, -300.0, 2.5)]),
    # i1e = x/2 − x|x|/2 + …: its second derivative jumps from +1 to −1 at 0
    _unary("i1e-at-0", special.i1e, lambda x: _ive(1, x), 0.5, 2.0, extra=[(0.0, 1.0, -1.0)],
           order2=False),
    _unary("rgamma", special.rgamma, mp.rgamma, -3.5, 4.0, extra=[(-6.5, 12.0, 0.25)]),
    # 1/Γ is entire: at the poles of Γ its derivative is (−1)ⁿ·n!, its second 2(−1)ⁿ·n!·ψ(n + 1)
    _unary("rgamma-poles", special.rgamma, mp.rgamma, 0.5, 1.0,
           extra=[(0.0, -1.0, -2.0), (-3.0, -4.0, -7.0), (1e-9, -1.0 + 1e-9, -2.0 - 1e-7)]),
    # piecewise constant: derivative 0 everywhere between the poles
    _unary("gammasgn", special.gammasgn, lambda x: mp.sign(mp.gamma(x)), -3.5, 4.0,
           extra=[(-0.5, -1.5, 150.0)]),
] for spec in specs]


@pytest.mark.parametrize("spec", UNARY_SPECS, ids=lambda s: s.name)
def test_unary_functions_in_scipy_spelling(spec: Spec) -> None:
    check(spec)


# ----- orders: jv, yv, iv, ive, kv (real v), yn, kn (integer n) ----------------------------------

#: name -> (SciPy function, mpmath reference of (v, x), x interval)
ORDERED = {
    "jv": (special.jv, mp.besselj, (0.3, 10.0)),
    "yv": (special.yv, mp.bessely, (0.3, 10.0)),
    "iv": (special.iv, mp.besseli, (0.2, 6.0)),
    "ive": (special.ive, _ive, (0.2, 8.0)),
    "kv": (special.kv, mp.besselk, (0.2, 6.0)),
}
ORDERS = [0.0, 1.0, 2.5, -1.5, 3.0, np.array([0.5, -2.0, 1.75])]
N_ARR = np.array([[0], [2], [-1]])  # integer orders broadcasting against x: a (3, 3) output


def _ordered_specs():
    specs = []
    for name, (sp_fn, mp_fn, (lo, hi)) in ORDERED.items():
        for k, v in enumerate(ORDERS):
            vv = np.broadcast_to(v, (3,))
            ref = (lambda x, vv=vv, mp_fn=mp_fn:
                   mp.fsum(c * mp_fn(mp.mpf(float(o)), t) for o, t, c in zip(vv, x, C3)))
            specs.append(Spec(f"{name}-v{k}", lambda x, v=v, sp_fn=sp_fn: np.sum(sp_fn(v, x) * C3),
                              grid(((3,), (lo, hi)), count=1, seed=k), ref=ref, order=2))
        # the order as an input that is not differentiated (wrt: x only)
        specs.append(Spec(f"{name}-v-input", lambda v, x, sp_fn=sp_fn: np.sum(sp_fn(v, x) * C3),
                          [(np.array([0.5, 1.5, -0.25]), np.array([0.7, 2.2, 4.0]))],
                          ref=lambda v, x, mp_fn=mp_fn: mp.fsum(
                              c * mp_fn(o, t) for o, t, c in zip(v, x, C3)),
                          order=2, wrt=(1,)))
    # integer orders and x < 0: J and I are real there
    specs.append(Spec("jv-iv-negative-x", lambda x: np.sum(
        special.jv(2.0, x) * C3 + special.iv(-3.0, x) * C3 + special.ive(1.0, x) * C3),
        [(np.array([-0.5, -2.5, -7.0]),)],
        ref=_mpsum(lambda t: mp.besselj(2, t) + mp.besseli(3, t) + _ive(1, t)), order=2))
    for name, sp_fn, mp_fn in (("yn", special.yn, mp.bessely), ("kn", special.kn, mp.besselk)):
        for n in (0, 1, 2, 5, -3):
            specs.append(Spec(f"{name}-{n}", lambda x, n=n, sp_fn=sp_fn: np.sum(sp_fn(n, x) * C3),
                              grid(((3,), (0.5, 6.0)), count=1, seed=n + 10),
                              ref=_mpsum(lambda t, n=n, mp_fn=mp_fn: mp_fn(n, t)), order=2))
        specs.append(Spec(f"{name}-broadcast", lambda x, sp_fn=sp_fn: sp_fn(N_ARR, x),
                          [(np.array([0.6, 1.7, 4.0]),)],
                          ref=lambda x, mp_fn=mp_fn: np.array(
                              [[mp_fn(int(k), t) for t in x] for k in N_ARR[:, 0]],
                              dtype=object)))
    return specs


@pytest.mark.parametrize("spec", _ordered_specs(), ids=lambda s: s.name)
def test_bessel_functions_of_an_order_in_scipy_spelling(spec: Spec) -> None:
    check(spec)


def _mp_dv(mp_fn, v, x):
    return mp.diff(lambda t: mp_fn(t, mp.mpf(x)), mp.mpf(v))


@pytest.mark.parametrize("name", list(ORDERED))
def test_the_order_is_refused_by_name_and_fd_differentiates_it(name: str) -> None:
    """Never a silent zero: ∂/∂v is a MissingRuleError naming method='fd' in every exact engine
    (also for the Hessian), and finite differences give it."""
    sp_fn, mp_fn, _ = ORDERED[name]
    f = dk.function(lambda v, x: sp_fn(v, x), inputs=["v", "x"])
    for method in EXACT:
        with pytest.raises(dk.MissingRuleError, match=rf"{name} has no derivative rule for its "
                                                      r"order v.*method='fd'"):
            dk.grad(f, method=method)(1.5, 2.0)
        with pytest.raises(dk.MissingRuleError, match="method='fd'"):
            dk.hessian(f, method=method)(1.5, 2.0)
    with mp.workdps(30):
        want = float(_mp_dv(mp_fn, 1.5, 2.0))
    assert dk.grad(f, method="fd", wrt=[0])(1.5, 2.0)[0] == pytest.approx(want, rel=1e-6)


def test_integer_orders_are_numbers_never_differentiated() -> None:
    """yn and kn take an integer n (like polygamma): a fractional one is a DomainError (SciPy
    truncates it with a warning), a differentiated one a NonDifferentiableError."""
    for fn, ref in ((dk.yn, mp.bessely), (dk.kn, mp.besselk)):
        with pytest.raises(dk.DomainError, match="integer order n"):
            fn(2.5, 1.0)
        with pytest.raises(dk.NonDifferentiableError, match="order n"):
            dk.grad(fn)(2.0, 1.5)
        want = float(mp.diff(lambda t, ref=ref: ref(2, t), 1.5))
        assert dk.grad(fn, wrt=[1])(2.0, 1.5)[0] == pytest.approx(want, rel=1e-12)
        both = dk.grad(_summed(fn, np.array([2, 3])))(1.5)[0]  # an order array broadcasts
        assert both == pytest.approx(want + float(mp.diff(lambda t, ref=ref: ref(3, t), 1.5)),
                                     rel=1e-12)


# ----- the incomplete gamma and beta functions -----------------------------------------------------

INCOMPLETE = {
    "gammainc": (special.gammainc, lambda a, x: mp.gammainc(a, 0, x, regularized=True)),
    "gammaincc": (special.gammaincc, lambda a, x: mp.gammainc(a, x, mp.inf, regularized=True)),
}


def _incomplete_specs():
    specs = []
    for name, (sp_fn, mp_fn) in INCOMPLETE.items():
        for k, a in enumerate([0.5, 1.0, 3.7, 25.0]):
            lo, hi = (0.05, 8.0) if a < 10 else (15.0, 35.0)
            specs.append(Spec(f"{name}-a{a}", lambda x, a=a, sp_fn=sp_fn: np.sum(sp_fn(a, x) * C3),
                              grid(((3,), (lo, hi)), count=1, seed=k),
                              ref=_mpsum(lambda t, a=a, mp_fn=mp_fn: mp_fn(a, t)), order=2))
        specs.append(Spec(f"{name}-a-input", lambda a, x, sp_fn=sp_fn: np.sum(sp_fn(a, x) * C3),
                          [(np.array([0.4, 2.0, 6.5]), np.array([0.3, 2.5, 9.0]))],
                          ref=lambda a, x, mp_fn=mp_fn: mp.fsum(
                              c * mp_fn(s, t) for s, t, c in zip(a, x, C3)),
                          order=2, wrt=(1,)))
    for k, (a, b) in enumerate([(0.5, 0.5), (1.0, 3.0), (2.5, 1.5), (12.0, 7.0)]):
        specs.append(Spec(f"betainc-{a}-{b}",
                          lambda x, a=a, b=b: np.sum(special.betainc(a, b, x) * C3),
                          grid(((3,), (0.02, 0.98)), count=1, seed=k),
                          ref=_mpsum(lambda t, a=a, b=b: mp.betainc(a, b, 0, t, regularized=True)),
                          order=2))
    specs.append(Spec("betainc-ab-input", lambda a, b, x: np.sum(special.betainc(a, b, x) * C3),
                      [(np.array([0.7, 2.0, 5.0]), np.array([3.0, 0.6, 2.0]),
                        np.array([0.2, 0.5, 0.9]))],
                      ref=lambda a, b, x: mp.fsum(c * mp.betainc(s, u, 0, t, regularized=True)
                                                  for s, u, t, c in zip(a, b, x, C3)),
                      order=2, wrt=(2,)))
    return specs


@pytest.mark.parametrize("spec", _incomplete_specs(), ids=lambda s: s.name)
def test_incomplete_gamma_and_beta_in_scipy_spelling(spec: Spec) -> None:
    check(spec)


@pytest.mark.parametrize(("name", "args", "index", "ref"), [
    ("gammainc", (2.5, 1.5), 0, lambda a, x: mp.gammainc(a, 0, x, regularized=True)),
    ("gammaincc", (2.5, 1.5), 0, lambda a, x: mp.gammainc(a, x, mp.inf, regularized=True)),
    ("betainc", (2.0, 3.5, 0.3), 0, lambda a, b, x: mp.betainc(a, b, 0, x, regularized=True)),
    ("betainc", (2.0, 3.5, 0.3), 1, lambda a, b, x: mp.betainc(a, b, 0, x, regularized=True)),
])
def test_shape_parameters_are_refused_by_name(name, args, index, ref) -> None:
    sp_fn = getattr(special, name)
    f = dk.function(lambda *xs: sp_fn(*xs), inputs=[f"x{i}" for i in range(len(args))])
    argument = "parameter " + "ab"[index]
    for method in EXACT:
        with pytest.raises(dk.MissingRuleError, match=rf"{name} has no derivative rule for its "
                                                      rf"{argument}.*method='fd'"):
            dk.grad(f, method=method, wrt=[index])(*args)
    with mp.workdps(30):
        point = [mp.mpf(a) for a in args]

        def moved(t):
            return ref(*[t if i == index else p for i, p in enumerate(point)])

        want = float(mp.diff(moved, point[index]))
    assert dk.grad(f, method="fd", wrt=[index])(*args)[0] == pytest.approx(want, rel=1e-6)


# ----- multigammaln: SciPy's Python function, written dk.multigammaln -------------------------------


def _ref_multigammaln(d):
    def one(a):
        return d * (d - 1) / mp.mpf(4) * mp.log(mp.pi) + mp.fsum(
            mp.loggamma(a - mp.mpf(j - 1) / 2) for j in range(1, d + 1))

    return one


@pytest.mark.parametrize("d", [1, 2, 3, 5, 11])
def test_multigammaln(d: int) -> None:
    lo = 0.5 * (d - 1) + 0.05
    check(Spec(f"multigammaln-{d}", lambda a: np.sum(dk.multigammaln(a, d) * C3),
               grid(((3,), (lo, lo + 6.0)), count=2, seed=d) + [(np.array([lo, lo + 40.0, 3 * lo]),)],
               ref=_mpsum(_ref_multigammaln(d)), order=2))
    check(Spec(f"multigammaln-{d}-scalar", lambda a: dk.multigammaln(a, d), [(lo + 1.3,)],
               ref=_ref_multigammaln(d), order=2))


def test_multigammaln_domain_and_scipy_spelling() -> None:
    with pytest.raises(dk.DomainError, match=r"a > \(d - 1\)/2"):
        dk.multigammaln(np.array([2.0, 0.9]), 3)
    with pytest.raises(dk.DomainError, match=r"a > \(d - 1\)/2"):
        dk.grad(lambda a: dk.multigammaln(a, 4))(1.5)
    for bad in (0, -2, 2.5, np.array([2, 3])):
        with pytest.raises(dk.DomainError, match="positive integer dimension"):
            dk.multigammaln(3.0, bad)
    with pytest.raises(dk.NonDifferentiableError, match="dimension d"):
        dk.grad(lambda a, d: dk.multigammaln(a, d))(3.0, 2.0)
    # SciPy's multigammaln is Python code: a traced value is refused, naming dk.multigammaln
    with pytest.raises(dk.TracingError, match="dk.multigammaln"):
        dk.grad(lambda a: special.multigammaln(a, 2))(3.0)


# ----- values: SciPy's (NumPy's for np.i0), bit for bit -------------------------------------------

RNG = np.random.default_rng(20260101)
WIDE = RNG.uniform(-60.0, 60.0, 2000)
POSITIVE = RNG.uniform(1e-3, 80.0, 2000)
UNIT = RNG.uniform(0.0, 1.0, 2000)
V = RNG.uniform(-6.0, 6.0, 2000)
A = RNG.uniform(0.01, 40.0, 2000)
N = RNG.integers(-8, 9, 2000)

#: (SciPy spelling, the record, arguments): every argument array is float64
VALUES = [
    ("j0", "j0", (WIDE,)), ("j1", "j1", (WIDE,)), ("y0", "y0", (POSITIVE,)),
    ("y1", "y1", (POSITIVE,)), ("i0", "i0", (WIDE,)), ("i1", "i1", (WIDE,)),
    ("i0e", "i0e", (WIDE * 10,)), ("i1e", "i1e", (WIDE * 10,)), ("jv", "jv", (V, POSITIVE)),
    ("yv", "yv", (V, POSITIVE)), ("iv", "iv", (V, POSITIVE / 2)), ("ive", "ive", (V, WIDE * 10)),
    ("kv", "kv", (V, POSITIVE)), ("yn", "yn", (N, POSITIVE)), ("kn", "kn", (N, POSITIVE)),
    ("gammasgn", "gammasgn", (WIDE + 0.5,)), ("rgamma", "rgamma", (WIDE + 0.25,)),
    ("gammainc", "gammainc", (A, POSITIVE)), ("gammaincc", "gammaincc", (A, POSITIVE)),
    ("betainc", "betainc", (A, A[::-1], UNIT)),
]


def _same_bits(got, want, what):
    got, want = np.asarray(got), np.asarray(want)
    assert got.dtype == want.dtype and got.shape == want.shape, what
    assert got.tobytes() == want.tobytes(), f"{what}: not SciPy's values bit for bit"


@pytest.mark.parametrize(("sp_name", "rec", "args"), VALUES, ids=[v[0] for v in VALUES])
def test_values_are_scipys_bit_for_bit(sp_name, rec, args) -> None:
    """On plain arrays (dk.<name>), on traced values (the recorded node's value) and as Python
    scalars; every scipy.special ufunc here dispatches to its record."""
    sp_fn = getattr(special, sp_name)
    with np.errstate(all="ignore"):  # far out some values are inf or nan, as SciPy's are
        want = sp_fn(*args)
        _same_bits(getattr(dk, rec)(*args), want, f"dk.{rec}")
        if rec in ("yn", "kn"):  # the integer order is a number, never traced
            graph = dk.function(lambda x: sp_fn(args[0], x), inputs=["x"]).trace(args[1])
        else:
            graph = dk.function(sp_fn, inputs=[f"x{i}" for i in range(len(args))]).trace(*args)
        assert graph.output.prim is REGISTRY[rec] and SCIPY_NAMES[sp_name] is REGISTRY[rec]
        _same_bits(graph.output.value, want, f"traced {sp_name}")
        for k in (7, 8, 9):
            scalars = [a[k].item() for a in args]
            got = getattr(dk, rec)(*scalars)
            assert type(got) is type(sp_fn(*scalars)), rec
            _same_bits(got, sp_fn(*scalars), f"dk.{rec} of scalars")


def test_numpy_i0_is_numpys_and_scipy_i0_is_scipys() -> None:
    """np.i0 and scipy.special.i0 may differ in the last bit (at a few percent of points with
    the versions this test was first run on; NumPy 2.4.6 with SciPy 1.17.1 agree everywhere): np.i0 on a traced value dispatches
    to dk.numpy_i0 (NumPy's values, bit for bit), scipy.special.i0 to dk.i0 (SciPy's)."""
    x = WIDE / 4
    _same_bits(dk.i0(x), special.i0(x), "dk.i0")
    _same_bits(dk.numpy_i0(x), np.i0(x), "dk.numpy_i0")
    graph = dk.function(np.i0, inputs=["x"]).trace(x)
    assert graph.output.prim is REGISTRY["numpy_i0"]
    _same_bits(graph.output.value, np.i0(x), "traced np.i0")


@pytest.mark.parametrize("d", [1, 2, 3, 7, 10, 16])
def test_multigammaln_values_are_scipys_bit_for_bit(d: int) -> None:
    a = A + 0.5 * d
    _same_bits(dk.multigammaln(a, d), special.multigammaln(a, d), f"multigammaln d={d}")
    for scalar in (a[3].item(), float(d) + 0.25):
        got, want = dk.multigammaln(scalar, d), special.multigammaln(scalar, d)
        assert np.asarray(got).tobytes() == np.asarray(want).tobytes()
    # traced: the value of a gradient call is the same number
    value, _ = dk.value_and_grad(lambda t: dk.multigammaln(t, d))(a[5].item())
    assert value == special.multigammaln(a[5], d)


# ----- special points, higher derivatives --------------------------------------------------------


def test_special_points_by_hand() -> None:
    """j1′(0) = i1′(0) = i1e′(0) = 1/2; i0e′(0) = 0 (a kink, the convention of abs′(0));
    rgamma′(−n) = (−1)ⁿ·n!, rgamma″(−n) = −2(−1)ⁿ·n!·ψ(n + 1) (at 0: 2γ); gammasgn′ = 0."""
    for method in EXACT:
        for fn, want in ((dk.j1, 0.5), (dk.i1, 0.5), (dk.i1e, 0.5), (dk.i0e, 0.0)):
            assert dk.grad(fn, method=method)(0.0) == (want,), (fn.name, method)
        for n, fact in ((0, 1.0), (1, 1.0), (2, 2.0), (3, 6.0), (5, 120.0)):
            sign = (-1.0) ** n
            assert dk.grad(dk.rgamma, method=method)(-float(n))[0] == pytest.approx(
                sign * fact, rel=1e-14)
            assert dk.hessian(dk.rgamma, method=method)(-float(n))[0, 0] == pytest.approx(
                -2 * sign * fact * float(mp.digamma(n + 1)), rel=1e-12)
        assert dk.grad(dk.gammasgn, method=method)(-1.5) == (0.0,)


@pytest.mark.parametrize("method", EXACT)
def test_third_derivatives_chain_through_the_recurrences(method: str) -> None:
    cases = [
        (dk.j0, 0.7, lambda x: mp.besselj(0, x)),
        (dk.y1, 1.3, lambda x: mp.bessely(1, x)),
        (dk.i1e, -0.8, lambda x: _ive(1, x)),
        (lambda x: dk.jv(2.5, x), 1.9, lambda x: mp.besselj(2.5, x)),
        (lambda x: dk.kv(0.5, x), 0.9, lambda x: mp.besselk(0.5, x)),
        (lambda x: dk.yn(3, x), 2.2, lambda x: mp.bessely(3, x)),
        (dk.rgamma, -2.0, mp.rgamma),
        (dk.rgamma, 2.7, mp.rgamma),
        (lambda x: dk.gammainc(2.5, x), 1.4, lambda x: mp.gammainc(2.5, 0, x, regularized=True)),
        (lambda x: dk.betainc(2.0, 3.0, x), 0.35, lambda x: mp.betainc(2, 3, 0, x,
                                                                      regularized=True)),
    ]
    for fn, x, ref in cases:
        with mp.workdps(40):
            want = float(mp.diff(ref, mp.mpf(x), 3))
        assert dk.derivative(fn, 3, method=method)(x) == pytest.approx(want, rel=1e-9), (fn, x)


# ----- domains, errors ---------------------------------------------------------------------------

OUTSIDE = [
    ("y0", (0.0,), dk.DomainError, "x > 0"),
    ("y1", (-1.0,), dk.DomainError, "x > 0"),
    ("yv", (1.5, 0.0), dk.DomainError, "x > 0"),
    ("kv", (0.5, 0.0), dk.DomainError, "x > 0"),
    ("kv", (0.5, -2.0), dk.DomainError, "x > 0"),
    ("jv", (0.5, -1.0), dk.DomainError, "order v is not an integer"),
    ("iv", (-0.5, 0.0), dk.DomainError, "order v is not an integer"),
    ("ive", (1.5, -2.0), dk.DomainError, "order v is not an integer"),
    ("i0", (800.0,), dk.NumericOverflowError, "overflows"),
    ("i1", (-800.0,), dk.NumericOverflowError, "overflows"),
    ("iv", (1.5, 800.0), dk.NumericOverflowError, "overflows"),
    ("kv", (200.0, 0.01), dk.NumericOverflowError, "overflows"),
    ("gammasgn", (-2.0,), dk.DomainError, "undefined"),
    ("rgamma", (-180.5,), dk.NumericOverflowError, "overflows"),
    ("gammainc", (-1.0, 1.0), dk.DomainError, "a >= 0 and x >= 0"),
    ("gammaincc", (1.0, -1.0), dk.DomainError, "a >= 0 and x >= 0"),
    ("gammainc", (0.0, 0.0), dk.DomainError, "a >= 0 and x >= 0"),
    ("betainc", (1.0, 2.0, 1.5), dk.DomainError, "0 <= x <= 1"),
    ("betainc", (-1.0, 2.0, 0.5), dk.DomainError, "a > 0"),
]


@pytest.mark.parametrize(("name", "args", "error", "match"), OUTSIDE,
                         ids=[f"{name}{args}" for name, args, _, _ in OUTSIDE])
def test_outside_the_domain_is_a_named_error(name, args, error, match) -> None:
    """SciPy returns inf/nan there without a floating-point flag; diffkit raises the flag NumPy
    would (divide at a pole, invalid outside, overflow), so every method names the error."""
    rec = REGISTRY[name]
    wrt = ruled_inputs(rec) or None
    for fn in (rec, getattr(special, name)):
        f = dk.function(fn, inputs=[f"x{i}" for i in range(len(args))])
        for method in ("reverse", "forward"):
            with pytest.raises(error, match=match):
                dk.grad(f, method=method, wrt=wrt)(*args)
    with pytest.raises(error, match=match):
        dk.grad(dk.function(rec, inputs=[f"x{i}" for i in range(len(args))]), method="fd",
                wrt=wrt)(*args)


def test_yn_kn_poles_and_the_boundary_of_the_incomplete_functions() -> None:
    with pytest.raises(dk.DomainError, match="x > 0"):
        dk.grad(lambda x: dk.yn(2, x))(0.0)
    with pytest.raises(dk.NumericOverflowError):
        dk.grad(lambda x: dk.kn(300, x))(0.5)
    # x^(a−1) at x = 0: infinite for a < 1 (not differentiable), 1/Γ(1) = 1 for a = 1
    with pytest.raises(dk.NonDifferentiableError, match="gammainc"):
        dk.grad(lambda x: dk.gammainc(0.5, x))(0.0)
    assert dk.grad(lambda x: dk.gammainc(1.0, x))(0.0) == (1.0,)
    # x = 0 is the boundary of the domain: the derivative there is the one-sided one, from the
    # power x^(a−1) itself — Q′(3, 0) = −0·e⁰/Γ(3) = 0, as symbolic and generated code give; it
    # was refused by the interpreter alone (a log of 0 inside the rule)
    assert dk.grad(lambda x: dk.gammaincc(3.0, x))(0.0) == (0.0,)
    # betainc(2, 0.5, x) near 1: (1 − x)^(−1/2) — infinite, refused by name
    with pytest.raises(dk.NonDifferentiableError):
        dk.grad(lambda x: dk.betainc(2.0, 0.5, x))(1.0)


def test_outside_the_api_the_flags_follow_numpy_errstate() -> None:
    with pytest.warns(RuntimeWarning, match="divide by zero encountered in y0"):
        assert dk.y0(0.0) == -np.inf
    with pytest.warns(RuntimeWarning, match="invalid value encountered in jv"):
        assert np.isnan(dk.jv(0.5, np.array([1.0, -1.0]))[1])
    with pytest.warns(RuntimeWarning, match="overflow encountered in i0"):
        assert dk.i0(800.0) == np.inf


# ----- dtypes, dispatch, parsing, SymPy ------------------------------------------------------------


def _summed(fn, *first):
    """Σ fn(*first, t) as a function of t alone."""
    return lambda t: dk.sum(fn(*first, t))


def test_float32_keeps_its_dtype() -> None:
    x = np.array([0.3, 0.55, 0.9], np.float32)
    for name in ("j0", "j1", "y0", "y1", "i0", "i1", "numpy_i0", "i0e", "i1e", "rgamma",
                 "gammasgn"):
        fn = getattr(dk, name)
        assert fn(x).dtype == np.float32, name
        if fn.differentiable:
            assert dk.grad(_summed(fn))(x)[0].dtype == np.float32, name
    for name in ("jv", "yv", "iv", "ive", "kv", "yn", "kn", "gammainc", "gammaincc"):
        fn = getattr(dk, name)
        assert fn(2, x).dtype == np.float32, name
        assert dk.grad(_summed(fn, 2))(x)[0].dtype == np.float32, name
    assert dk.betainc(np.float32(2.0), np.float32(3.0), x).dtype == np.float32
    assert dk.grad(lambda t: dk.sum(dk.betainc(2.0, 3.0, t)))(x)[0].dtype == np.float32
    assert dk.multigammaln(x + np.float32(2.0), 3).dtype == np.float32
    np.testing.assert_array_equal(dk.j0(x), special.j0(x))
    np.testing.assert_array_equal(dk.gammainc(np.float32(2.0), x), special.gammainc(
        np.float32(2.0), x))


def _real_part(fn):
    return lambda z: dk.real(fn(z))


def test_complex_inputs_are_refused_by_name() -> None:
    """SciPy has complex loops for jv, iv, kv, rgamma, …, but these records are declared for real
    x only: a complex input that carries a derivative is refused by name."""
    for fn in (_summed(dk.jv, 1.0), _summed(dk.kv, 0.5), _summed(dk.rgamma)):
        with pytest.raises(dk.MissingRuleError, match="complex"):
            dk.grad(_real_part(fn))(0.5 + 0.1j)


def test_math_text_calls_them_by_name() -> None:
    f = dk.parse("jv(1.5, x) + ive(v, x) + kv(2, y) + i0e(x) + i1e(y) + rgamma(x) "
                 "+ gammainc(2, x) + gammaincc(3, y) + betainc(2, 3, y/4)")
    x, y, v = 1.3, 0.7, 0.5
    want = (special.jv(1.5, x) + special.ive(v, x) + special.kv(2, y) + special.i0e(x)
            + special.i1e(y) + special.rgamma(x) + special.gammainc(2, x)
            + special.gammaincc(3, y) + special.betainc(2, 3, y / 4))
    assert f.inputs == ("x", "v", "y")
    assert f(x, v, y) == pytest.approx(want, rel=1e-14)
    with pytest.raises(dk.MissingRuleError, match="order v"):
        dk.grad(f)(x, v, y)
    grads = [dk.grad(f, method=m, wrt=[0, 2])(x, v, y)
             for m in ("reverse", "forward", "symbolic", "compiled")]
    for g in grads[1:]:
        np.testing.assert_allclose(g, grads[0], rtol=1e-12)
    # j0, j1, y0, y1, i0, i1, yn, kn stay free as variable names (x0, y0, y1 are common)
    assert dk.parse("y0*x + j1 - i0 + yn")(1.0, 2.0, 3.0, 4.0, 5.0) == 6.0


def test_symbolic_engine_prints_scipy_and_round_trips() -> None:
    f = dk.function(lambda x: special.j1(x) + special.jv(2.5, x) + special.yn(3, x)
                    + special.ive(0, x) + special.rgamma(x) + special.gammainc(1.5, x)
                    + special.betainc(2.0, 1.5, x / 4), inputs=["x"])
    g = dk.grad(f, method="symbolic")
    assert g(1.1)[0] == pytest.approx(dk.grad(f)(1.1)[0], rel=1e-13)
    source = g.engine.last.source
    for name in ("j0", "jv", "yn", "i1e", "rgamma", "psi", "gamma"):
        assert f"special.{name}(" in source, name
    back = dk.from_sympy(dk.parse("jv(v, x) + kv(v, x) + ive(v, x) + gammainc(v, x)").to_sympy())
    assert back(0.5, 1.2) == pytest.approx(special.jv(0.5, 1.2) + special.kv(0.5, 1.2)
                                           + special.ive(0.5, 1.2)
                                           + special.gammainc(0.5, 1.2), rel=1e-15)


def test_compiled_gradients_call_scipy() -> None:
    f = dk.jit(lambda x, y: dk.sum(special.jv(1.5, x) * special.gammainc(2.0, y)
                                   + special.i0e(x) * y))
    x, y = np.array([0.2, 1.4, 3.1]), np.array([0.5, 2.5, 3.5])
    want = dk.grad(f, method="reverse")(x, y)
    for _ in range(3):
        for w, v in zip(want, dk.grad(f, method="compiled")(x, y)):
            np.testing.assert_allclose(v, w, rtol=1e-14)


def test_covers_names_exist() -> None:
    assert all(n in REGISTRY or n in COMPOSITES for n in COVERS)
    assert all(getattr(dk, n) is (REGISTRY.get(n) or COMPOSITES.get(n)) for n in COVERS)


@pytest.mark.gpu
@pytest.mark.skipif(not dk.backend.gpu_available(), reason="needs CuPy and a GPU")
def test_cupy_arrays_use_cupyx_special_and_match_numpy() -> None:
    import cupy

    x = np.array([0.3, 0.6, 0.9], np.float32)

    def loss(t):
        return dk.sum(dk.j0(t) + dk.y0(t) + dk.y1(t) + dk.i0(t) + dk.i0e(t) + dk.rgamma(t)
                      + dk.gammainc(2.0, t) + dk.gammaincc(0.5, t) + dk.yn(2, t)
                      + dk.multigammaln(t + 2.0, 3) + dk.numpy_i0(t) + dk.gammasgn(t - 1.5))

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
    # cupyx.scipy.special has no jv, iv, ive, kv, …: a BackendError names it, also where a
    # derivative needs one (j1′ = (j0 − J₂)/2, exact at 0 to every order); the values work
    with pytest.raises(dk.BackendError, match="has no jv"):
        dk.jv(1.5, cupy.asarray(x))
    np.testing.assert_allclose(cupy.asnumpy(dk.j1(cupy.asarray(x))), special.j1(x), rtol=1e-6)
    t = dk.tensor(cupy.asarray(x), requires_grad=True)
    with pytest.raises(dk.BackendError, match="has no jv"):
        dk.sum(dk.j1(t)).backward()


# ----- for tests/test_random_expressions.py (wired there by its maintainer) ----------------------


class OutOfDomain(ArithmeticError):
    """A reference evaluated outside its primitive's domain."""


def _ctx(*args):
    """The mpmath context of the arguments (the caller's private one, and its precision)."""
    return next((a.context for a in args if hasattr(a, "context")), mp)


def _need(ok, what):
    if not ok:
        raise OutOfDomain(what)


def _ref_bessel(kind, positive=False):
    """mpmath's Bessel function `kind` of (v, x): x > 0 where `positive`, else x >= 0 unless v is
    an integer (then J and I are real for every x)."""

    def ref(v, x):
        c = _ctx(v, x)
        integer = v == c.floor(v)
        _need(x > 0 if positive else (x >= 0 or integer), f"{kind}({v}, {x})")
        if x == 0 and not integer and v < 0:
            raise OutOfDomain(f"{kind}({v}, 0) is infinite")
        return c.re(getattr(c, kind)(v, x))

    return ref


def _ref_ive(v, x):
    c = _ctx(v, x)
    integer = v == c.floor(v)
    _need(x > 0 or integer or (x == 0 and v >= 0), f"ive({v}, {x})")
    return c.re(c.besseli(abs(v) if integer else v, x)) * c.exp(-abs(x))


def _ref_integer(kind):
    def ref(n, x):
        c = _ctx(n, x)
        _need(n == c.floor(n) and x > 0, f"{kind}({n}, {x})")
        return getattr(c, kind)(int(n), x)

    return ref


def _ref_gammasgn(x):
    c = _ctx(x)
    _need(not (x <= 0 and x == c.floor(x)), "gammasgn at a pole")
    return c.sign(c.gamma(x))


def _ref_gammainc(upper):
    def ref(a, x):
        c = _ctx(a, x)
        _need(a > 0 and x >= 0, f"incomplete gamma at ({a}, {x})")
        return c.gammainc(a, x, c.inf, regularized=True) if upper else c.gammainc(
            a, 0, x, regularized=True)

    return ref


def _ref_betainc(a, b, x):
    c = _ctx(a, b, x)
    _need(a > 0 and b > 0 and 0 <= x <= 1, f"betainc({a}, {b}, {x})")
    return c.betainc(a, b, 0, x, regularized=True)


def _unary_ref(kind, order, positive=False):
    def ref(x):
        c = _ctx(x)
        _need(x > 0 or not positive, f"{kind}({order}, {x})")
        return c.re(getattr(c, kind)(order, x))

    return ref


#: record name -> its mpmath reference (mpf arguments; the arguments' own context and precision;
#: OutOfDomain outside the domain). yn and kn are structural records (an integer order n, checked
#: like polygamma's) whose references are element-wise; multigammaln is a composite (no entry).
RANDOM_EXPRESSION_REFERENCES = {
    "j0": _unary_ref("besselj", 0), "j1": _unary_ref("besselj", 1),
    "y0": _unary_ref("bessely", 0, positive=True), "y1": _unary_ref("bessely", 1, positive=True),
    "i0": _unary_ref("besseli", 0), "i1": _unary_ref("besseli", 1),
    "numpy_i0": _unary_ref("besseli", 0),
    "i0e": lambda x: _ref_ive(_ctx(x).mpf(0), x), "i1e": lambda x: _ref_ive(_ctx(x).mpf(1), x),
    "jv": _ref_bessel("besselj"), "yv": _ref_bessel("bessely", positive=True),
    "iv": _ref_bessel("besseli"), "ive": _ref_ive, "kv": _ref_bessel("besselk", positive=True),
    "yn": _ref_integer("bessely"), "kn": _ref_integer("besselk"),
    "gammasgn": _ref_gammasgn, "rgamma": lambda x: _ctx(x).rgamma(x),
    "gammainc": _ref_gammainc(upper=False), "gammaincc": _ref_gammainc(upper=True),
    "betainc": _ref_betainc,
}

_ORDER = ("the order v: no derivative rule (MissingRuleError naming method='fd'), so only a "
          "constant or an input left out of wrt= may go there; any real v (|v| <= 3 keeps the "
          "values moderate)")

#: (record name, argument index) -> the argument's restriction, in words (a guard's job)
RANDOM_EXPRESSION_GUARDS = {
    ("y0", 0): "x > 0 (y0(0) = -inf): e.g. 0.3 + c*c, exp(c)",
    ("y1", 0): "x > 0 (y1(0) = -inf): e.g. 0.3 + c*c, exp(c)",
    ("i0", 0): "|x| < 700 (overflow); moderate x keeps values small: e.g. 3*tanh(c)",
    ("i1", 0): "|x| < 700 (overflow); moderate x keeps values small: e.g. 3*tanh(c)",
    ("numpy_i0", 0): "|x| < 700 (overflow): e.g. 3*tanh(c)",
    ("i0e", 0): "any x; a kink at x = 0 (derivative taken as 0, as abs′(0)): a kink exclusion",
    ("i1e", 0): "any x; its second derivative has a kink at x = 0: a kink exclusion",
    ("jv", 0): _ORDER,
    ("jv", 1): "x > 0 for a non-integer v (x >= 0 where v >= 0): e.g. 0.3 + c*c, exp(c)",
    ("yv", 0): _ORDER,
    ("yv", 1): "x > 0: e.g. 0.3 + c*c, exp(c)",
    ("iv", 0): _ORDER,
    ("iv", 1): "x > 0 for a non-integer v, |x| < 700: e.g. 0.2 + c*c, exp(tanh(c))",
    ("ive", 0): _ORDER,
    ("ive", 1): "x > 0 for a non-integer v; a kink at x = 0 (sign(x)): e.g. 0.2 + c*c, exp(c)",
    ("kv", 0): _ORDER,
    ("kv", 1): "x > 0 (kv(v, 0) = inf): e.g. 0.2 + c*c, exp(c)",
    ("yn", 0): "the order n: an integer number (a DomainError otherwise), never differentiated "
               "(NonDifferentiableError): a constant such as 0, 1, 2, -3",
    ("yn", 1): "x > 0: e.g. 0.3 + c*c, exp(c)",
    ("kn", 0): "the order n: an integer number (a DomainError otherwise), never differentiated "
               "(NonDifferentiableError): a constant such as 0, 1, 2, -3",
    ("kn", 1): "x > 0: e.g. 0.3 + c*c, exp(c)",
    ("gammasgn", 0): "x not 0, -1, -2, ... (poles of Γ); derivative 0 (a constant, as sign)",
    ("rgamma", 0): "x > -170 (overflow between the far poles); entire: any moderate x",
    ("gammainc", 0): "the parameter a > 0: no derivative rule (MissingRuleError naming "
                     "method='fd'): a constant or an input left out of wrt=, e.g. 0.5 .. 6",
    ("gammainc", 1): "x > 0 (x = 0 is the boundary, infinite derivative for a < 1): e.g. "
                     "0.1 + c*c, exp(c)",
    ("gammaincc", 0): "the parameter a > 0: no derivative rule (MissingRuleError naming "
                      "method='fd'): a constant or an input left out of wrt=, e.g. 0.5 .. 6",
    ("gammaincc", 1): "x > 0: e.g. 0.1 + c*c, exp(c)",
    ("betainc", 0): "the parameter a > 0: no derivative rule (MissingRuleError naming "
                    "method='fd'): a constant or an input left out of wrt=, e.g. 0.5 .. 5",
    ("betainc", 1): "the parameter b > 0: no derivative rule (MissingRuleError naming "
                    "method='fd'): a constant or an input left out of wrt=, e.g. 0.5 .. 5",
    ("betainc", 2): "0 < x < 1 (an infinite derivative at 0 for a < 1, at 1 for b < 1): e.g. "
                    "sigmoid(c), 0.05 + 0.9*sigmoid(c)",
}


def test_random_expression_tables_cover_the_records() -> None:
    records = {n for n in COVERS if n in REGISTRY}
    assert set(RANDOM_EXPRESSION_REFERENCES) == records
    assert {name for name, _ in RANDOM_EXPRESSION_GUARDS} <= records
    C = mpmath.MPContext()
    C.dps = 40
    for name, ref in RANDOM_EXPRESSION_REFERENCES.items():
        rec = REGISTRY[name]
        if rec.kind == "elementwise":
            point = [C.mpf(0.5 * (lo + hi)) for lo, hi in rec.domain]
        else:  # yn, kn: an integer order
            point = [C.mpf(2), C.mpf("1.5")]
        value = ref(*point)
        assert value.context is C, name  # the caller's precision
        args = [float(p) for p in point]
        if name in ("yn", "kn"):
            args[0] = int(args[0])
        want = getattr(special, "i0" if name == "numpy_i0" else name)(*args)
        assert float(value) == pytest.approx(float(want), rel=1e-13, abs=1e-300), name
    with pytest.raises(OutOfDomain):
        RANDOM_EXPRESSION_REFERENCES["y0"](C.mpf(-1))
    with pytest.raises(OutOfDomain):
        RANDOM_EXPRESSION_REFERENCES["jv"](C.mpf("0.5"), C.mpf(-1))
    assert RANDOM_EXPRESSION_REFERENCES["jv"](C.mpf(2), C.mpf(-1)) == C.besselj(2, -1)
