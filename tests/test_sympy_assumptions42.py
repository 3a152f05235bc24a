"""SymPy round trips (hunt r5, findings 1, 6 and 2): a function made by ``dk.from_sympy`` keeps its
symbols' assumptions and refuses a point that breaks one, by every method and path; it gives
back its expression in the user's own symbols; and the round trip ``from_sympy(f.to_sympy())``
takes polygamma, digamma, sinc and betainc.

References are independent of diffkit: hand formulas (sqrt(x²) = |x|, d|x|/dx = sign x), NumPy and
SciPy at the points, mpmath, and SymPy's own ``diff`` and ``subs``.
"""

from __future__ import annotations

import math

import mpmath
import numpy as np
import pytest
import scipy.special as ss
import sympy as sp

import diffkit as dk
from diffkit.errors import DomainError, NonDifferentiableError, ParseError

METHODS = ["reverse", "forward", "symbolic", "compiled", "fd", "auto"]


def _sqrt_square():
    x = sp.Symbol("x", positive=True)
    e = sp.sqrt(x**2)
    assert e == x  # SymPy simplified it under the assumption: the function is |x| only for x > 0
    return dk.from_sympy(e)


# ----- finding 1: assumptions are checked ---------------------------------------------------

def test_positive_where_it_holds_is_abs():
    f = _sqrt_square()
    assert f(2.0) == np.sqrt(2.0**2)
    for m in METHODS:
        (g,) = dk.grad(f, method=m)(2.0)
        assert g == pytest.approx(np.sign(2.0), rel=1e-6), m


@pytest.mark.parametrize("method", METHODS)
def test_positive_broken_is_a_domain_error_by_every_method(method):
    f = _sqrt_square()  # |−2| = 2 with slope −1 (np.sqrt(4), sign): diffkit said −2 and +1
    with pytest.raises(DomainError, match=r"x was declared positive in SymPy.*x = -2\.0 is not "
                       r"positive"):
        dk.grad(f, method=method)(-2.0)


def test_positive_broken_on_every_path():
    f = _sqrt_square()
    calls = [
        lambda: f(-2.0),
        lambda: f(np.array([1.0, -3.0])),
        lambda: dk.value_and_grad(f)(-2.0),
        lambda: dk.derivative(f)(-2.0),
        lambda: dk.derivative(f, 2)(-2.0),
        lambda: dk.hessian(f)(-2.0),
        lambda: dk.jacobian(f)(np.array([1.0, -2.0])),
        lambda: dk.jvp(f, (-2.0,), (1.0,)),
        lambda: dk.vjp(f, -2.0),
        lambda: dk.jit(f)(-2.0),
        lambda: dk.grad(dk.jit(f))(-2.0),
        lambda: dk.compile_gradient(f, 1.0)(-2.0),
        lambda: f.listing(-2.0),
        # inside another function: the traced value's own value is read
        lambda: dk.grad(dk.function(lambda t: f(t) * 2.0))(-2.0),
    ]
    for i, call in enumerate(calls):
        with pytest.raises(DomainError, match="declared positive"):
            call()
            pytest.fail(f"call {i} answered")


def test_learned_float_entry_keeps_the_check():
    f = _sqrt_square()
    g = dk.grad(f)
    for p in (1.0, 2.0, 3.0, 4.0, 5.0):  # the public call learns generated code for floats
        assert g(p) == (1.0,)
    with pytest.raises(DomainError, match="declared positive"):
        g(-2.0)
    assert g(6.0) == (1.0,)
    vg = dk.value_and_grad(f)
    for p in (1.0, 2.0, 3.0, 4.0):
        assert vg(p) == (p, (1.0,))
    with pytest.raises(DomainError):
        vg(-0.5)


def test_jit_caller_checks_at_every_call():
    f = _sqrt_square()
    h = dk.jit(lambda t: f(t) * 2.0)  # its trace ran f's check on a traced value: a branch
    assert h(1.0) == 2.0 * abs(1.0)
    assert h(2.0) == 2.0 * abs(2.0)
    with pytest.raises(DomainError, match="declared positive"):
        h(-2.0)  # it replayed the first trace: -4.0
    g = dk.grad(h)
    for p in (1.0, 2.0, 3.0):
        assert g(p) == (2.0 * np.sign(p),)
    with pytest.raises(DomainError, match="declared positive"):
        g(-2.0)


def test_array_element_named():
    f = _sqrt_square()
    assert np.array_equal(f(np.array([1.0, 3.0])), np.abs([1.0, 3.0]))
    with pytest.raises(DomainError, match=r"x\[2\] = -1\.0 is not positive"):
        f(np.array([1.0, 3.0, -1.0]))


def test_integer_input_value_checked_and_not_differentiated():
    n = sp.Symbol("n", integer=True)
    e = sp.floor(n) + sp.sin(sp.pi * n)
    assert e == n  # SymPy's simplification under the assumption
    g = dk.from_sympy(e)
    assert g(3.0) == pytest.approx(np.floor(3.0) + np.sin(np.pi * 3.0), abs=1e-12)
    # at 0.5 the expression's function is floor(0.5) + sin(π/2) = 1 (mpmath); diffkit said 0.5
    assert float(mpmath.floor(0.5) + mpmath.sin(mpmath.pi / 2)) == 1.0
    with pytest.raises(DomainError, match="n was declared integer in SymPy.*n = 0.5 is not an "
                       "integer"):
        g(0.5)
    for m in METHODS:  # a function of a whole number: no derivative in it, refused by name
        with pytest.raises(NonDifferentiableError, match="n was declared integer"):
            dk.grad(g, method=m)(3.0)
    with pytest.raises(NonDifferentiableError, match="declared integer"):
        dk.jvp(g, (3.0,), (1.0,))


def test_integer_input_held():
    n, x = sp.Symbol("n", integer=True), sp.Symbol("x")
    h = dk.from_sympy(x * n)  # inputs sorted by name: (n, x)
    assert h.inputs == ("n", "x")
    # ∂(x·n)/∂x = n by hand
    assert dk.grad(h, wrt="x")(2.0, 3.0) == (2.0,)
    assert dk.jvp(h, (2.0, 3.0), (None, 1.0)) == (6.0, 2.0)
    gx = dk.grad(h, wrt=1)
    for _ in range(4):
        assert gx(2.0, 3.0) == (2.0,)
    with pytest.raises(DomainError, match="not an integer"):
        gx(2.5, 3.0)
    with pytest.raises(DomainError, match="not an integer"):
        dk.jvp(h, (2.5, 3.0), (None, 1.0))


@pytest.mark.parametrize(("kw", "good", "bad", "label"), [
    ({"nonnegative": True}, 0.0, -1e-300, "nonnegative"),
    ({"negative": True}, -1.0, 0.0, "negative"),
    ({"nonpositive": True}, 0.0, 0.5, "nonpositive"),
    ({"nonzero": True}, -1.0, 0.0, "nonzero"),
    ({"zero": True}, 0.0, 1.0, "zero"),
    ({"even": True}, -4.0, 3.0, "even"),
    ({"odd": True}, -3.0, 4.0, "odd"),
    ({"prime": True}, 7.0, 9.0, "prime"),
    ({"positive": True}, 1.0, math.nan, "finite"),
    ({"real": True}, 1.0, math.inf, "finite"),
])
def test_each_assumption(kw, good, bad, label):
    y = sp.Symbol("y")
    v = sp.Symbol("v", **kw)
    f = dk.from_sympy(v + y)
    assert f(good, 1.0) == good + 1.0
    with pytest.raises(DomainError, match=f"is not {label}"):
        f(bad, 1.0)


def test_no_assumption_nothing_checked():
    x, y = sp.symbols("x y")
    f = dk.from_sympy(sp.sqrt(x**2) + y)
    assert f.domain is None
    assert f(-2.0, 0.0) == abs(-2.0)
    assert dk.grad(f)(-2.0, 0.0) == (np.sign(-2.0), 1.0)


def test_wrappers_keep_the_domain():
    x, y = sp.Symbol("x", positive=True), sp.Symbol("y")
    f = dk.from_sympy(sp.sqrt(x**2) * y)
    r = dk.function(f, inputs=["y", "x"])  # reordered: x is now second
    assert r(2.0, 3.0) == 6.0
    with pytest.raises(DomainError, match="x = -3.0 is not positive"):
        r(2.0, -3.0)
    with pytest.raises(DomainError, match="x = -3.0"):
        dk.grad(dk.jit(r))(2.0, -3.0)


def test_assumption_no_float_meets_is_refused_at_build():
    for kw in ({"irrational": True}, {"imaginary": True}):
        s = sp.Symbol("s", **kw)
        with pytest.raises(ParseError, match="no finite real float"):
            dk.from_sympy(s + 1)


# ----- finding 6: to_sympy gives the user's own symbols back -------------------------------

def test_round_trip_in_the_users_symbols():
    x, y = sp.symbols("x y")
    e = x**2 * y
    back = dk.from_sympy(e).to_sympy()
    assert back == e
    assert sp.diff(back, x) == sp.diff(e, x) == 2 * x * y  # it was 0 (another x)
    assert back.subs({x: 3, y: 2}) == 18
    p = sp.Symbol("p", positive=True)
    back = dk.from_sympy(sp.log(p) * y).to_sympy()
    assert back.free_symbols == {p, y}
    assert sp.diff(back, p) == y / p
    r = dk.function(dk.from_sympy(e), inputs=["y", "x"]).to_sympy()
    assert sp.diff(r, y) == x**2


def test_parsed_functions_keep_their_symbols():
    e = dk.parse("x*y").to_sympy()
    assert all(s.is_real for s in e.free_symbols)


# ----- finding 2: the round trip of diffkit's own special functions ------------------------

@pytest.mark.parametrize(("text", "args", "point", "value", "slope"), [
    ("digamma(x)", ["x"], (0.7,), lambda x: float(mpmath.digamma(x)),
     lambda x: (float(mpmath.psi(1, x)),)),
    ("polygamma(1, x)", ["x"], (0.7,), lambda x: float(mpmath.psi(1, x)),
     lambda x: (float(mpmath.psi(2, x)),)),
    ("sinc(x)", ["x"], (0.7,), lambda x: float(mpmath.sinpi(x) / (mpmath.pi * x)),
     lambda x: (float(mpmath.diff(lambda t: mpmath.sinpi(t) / (mpmath.pi * t), x)),)),
    ("betainc(x, y, z)", ["x", "y", "z"], (0.7, 1.5, 0.3),
     lambda a, b, z: float(mpmath.betainc(a, b, 0, z, regularized=True)), None),
])
def test_round_trip_of_special_functions(text, args, point, value, slope):
    e = dk.parse(text, inputs=args).to_sympy()
    g = dk.from_sympy(e, inputs=args)
    assert g(*point) == pytest.approx(value(*point), rel=1e-13)
    if slope is not None:
        assert dk.grad(g)(*point) == pytest.approx(slope(*point), rel=1e-9)
    else:  # betainc: its derivative in z by hand, z^(a−1)(1−z)^(b−1)/B(a, b)
        a, b, z = point
        (dz,) = dk.grad(g, wrt="z")(*point)
        assert dz == pytest.approx(z ** (a - 1) * (1 - z) ** (b - 1) / ss.beta(a, b), rel=1e-12)


def test_sympys_own_sinc_is_sin_u_over_u():
    x = sp.Symbol("x")
    f = dk.from_sympy(sp.sinc(x))
    assert f(0.7) == pytest.approx(np.sin(0.7) / 0.7, rel=1e-15)
    assert f(0.0) == 1.0
    (d,) = dk.grad(f)(0.7)
    assert d == pytest.approx((0.7 * np.cos(0.7) - np.sin(0.7)) / 0.7**2, rel=1e-13)
