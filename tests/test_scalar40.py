"""Hunt 40 (scalars): pow's float form at (−0.0, ½), pow's zero-base conventions differentiated
again, and infinite constants in the symbolic engine. References are independent of diffkit:
Python's own float arithmetic, hand formulas and mpmath."""

from __future__ import annotations

import math

import mpmath
import numpy as np
import pytest

import diffkit as dk
from diffkit.errors import MissingRuleError, NonDifferentiableError

AD = ("reverse", "forward", "symbolic")


# ----- 1. pow(−0.0, ½): one pow in the IR, np.power's, by every method -------------------------

def _g(x):
    """x·arctan2(np.power(x·0, ½), −1): for x < 0, x·0.0 is −0.0 and NumPy's power keeps sqrt's
    −0.0 (for a Python float, a float64 and a 0-d array alike), so arctan2 is −π and
    g(x) = −π·x there: g(−1) = π, g′(−1) = −π."""
    return x * np.arctan2(np.power(x * 0.0, 0.5), -1.0)


def test_numpy_itself_gives_the_reference():
    for z in (-0.0, np.float64(-0.0), np.array(-0.0)):
        assert math.copysign(1.0, float(np.power(z, 0.5))) == -1.0
    assert _g(-1.0) == math.pi


@pytest.mark.parametrize("method", ["reverse", "forward", "auto"])  # (symbolic: SymPy folds
def test_np_power_at_a_negative_zero_gives_numpys_value_and_derivative(method):  # x·0.0 to 0)
    """This stop first made pow's float form C's pow there (+0.0, as Python's `**` on a float):
    then np.power's spelling answered (−π, π) for (π, −π) by every method (a hunt of it). The IR
    has one pow, np.power's; Python's `(-0.0) ** 0.5` on a traced float follows it (documented).
    The symbolic engine's x·0.0 is SymPy's 0, whose sign is lost (a known limitation)."""
    value, (d,) = dk.value_and_grad(_g, method=method)(-1.0)
    assert (value, d) == (math.pi, -math.pi)


def test_jit_function_and_dk_power_agree_with_numpy():
    jitted = dk.jit(_g)
    for _ in range(3):
        assert jitted(-1.0) == math.pi
    assert dk.function(_g)(-1.0) == math.pi
    h = lambda x: x * np.arctan2(dk.power(x * 0.0, 0.5), -1.0)
    assert h(-1.0) == dk.function(h)(-1.0) == dk.value_and_grad(h)(-1.0)[0] == math.pi
    assert math.copysign(1.0, dk.power(-0.0, 0.5)) == -1.0


# ----- 2. pow's zero-base conventions are not differentiated again -------------------------------

def _tt(t):
    return t ** (1.0 + t)


def test_the_reference_second_derivative_of_t_to_the_1_plus_t_does_not_exist():
    """f′(t) = tᵗ⁺¹((1 + t)/t + ln t), f′(0) = 1: (f′(h) − 1)/h → −∞ (mpmath)."""
    def fp(h):
        return h ** (1 + h) * ((1 + h) / h + mpmath.log(h))

    with mpmath.workdps(40):
        q = [(fp(h) - 1) / h for h in map(mpmath.mpf, ("1e-3", "1e-6", "1e-9"))]
    assert q[0] < -12 and q[1] < -26 and q[2] < -40


@pytest.mark.parametrize("method", [*AD, "auto"])
def test_t_to_the_1_plus_t_first_derivative_kept_second_refused(method):
    assert dk.derivative(_tt, method=method)(0.0) == 1.0  # f(h)/h = hʰ → 1
    with pytest.raises(NonDifferentiableError):
        dk.derivative(_tt, n=2, method=method)(0.0)  # was 1.0


@pytest.mark.parametrize("method", [*AD, "auto"])
def test_t_to_the_1_plus_t_second_derivative_away_from_zero(method):
    t = 0.5
    f = t ** (1 + t)
    g = (1 + t) / t + math.log(t)
    want = f * g * g + f * (-1 / t ** 2 + 1 / t)  # (f·g)′ = f·g² + f·g′
    assert math.isclose(dk.derivative(_tt, n=2, method=method)(t), want, rel_tol=1e-12)


@pytest.mark.parametrize("method", [*AD, "auto"])
@pytest.mark.parametrize("point", [(0.0, 1.0), (0.0, 0.0), (0.0, 0.5)])
def test_hessian_of_x_to_the_y_at_a_zero_base_with_y_at_most_1_is_refused(method, point):
    """f_yx = xʸ⁻¹(1 + y·ln x) → −∞ at (0, 1) (JAX: NaN); diffkit said [[0, 1], [0, 0]]."""
    with pytest.raises(NonDifferentiableError):
        dk.hessian(lambda x, y: x ** y, method=method)(*point)


@pytest.mark.parametrize("method", [*AD, "auto"])
@pytest.mark.parametrize(("point", "want"), [
    ((0.0, 2.0), [[2.0, 0.0], [0.0, 0.0]]),  # y(y−1)xʸ⁻², xʸ⁻¹(1 + y ln x), xʸ ln²x at x → 0
    ((0.0, 3.0), [[0.0, 0.0], [0.0, 0.0]]),
    ((2.0, 0.0), [[0.0, 0.5], [0.5, math.log(2.0) ** 2]]),
    ((3.0, 2.0), [[2.0, 3.0 * (1 + 2 * math.log(3.0))],
                  [3.0 * (1 + 2 * math.log(3.0)), 9.0 * math.log(3.0) ** 2]])])
def test_hessian_of_x_to_the_y_where_it_exists(method, point, want):
    got = dk.hessian(lambda x, y: x ** y, method=method)(*point)
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("method", [*AD, "auto"])
@pytest.mark.parametrize(("e", "d1", "d2"), [
    (2.0, 0.0, 2.0), (3.0, 0.0, 0.0), (1.0, 1.0, 0.0), (0.0, 0.0, 0.0), (2, 0.0, 2.0),
    (3, 0.0, 0.0)])
def test_a_constant_exponent_at_zero_keeps_its_derivatives(method, e, d1, d2):
    assert dk.derivative(lambda x: x ** e, method=method)(0.0) == d1
    assert dk.derivative(lambda x: x ** e, n=2, method=method)(0.0) == d2


@pytest.mark.parametrize("method", [*AD, "auto"])
def test_a_constant_zero_base_is_flat_in_a_positive_exponent(method):
    assert dk.derivative(lambda y: 0.0 ** y, n=2, method=method)(0.5) == 0.0  # 0**y = 0, y > 0


# ----- 3. an infinite constant that absorbs the variable: the symbolic engine refuses -----------

@pytest.mark.parametrize(("f", "d"), [
    (lambda x: (x - np.inf) * 2.0, 2.0), (lambda x: x + np.inf, 1.0),
    (lambda x: np.where(x > 0.0, x - np.inf, 0.0), 1.0)])
def test_symbolic_refuses_an_infinite_constant_that_absorbs_the_variable(f, d):
    for m in ("reverse", "forward"):  # the reference: d/dx of x ± ∞ is 1 (JAX: 2.0 for ·2)
        assert dk.grad(f, method=m)(1.0) == (d,)
    with pytest.raises(MissingRuleError, match="method='reverse'"):
        dk.value_and_grad(f, method="symbolic")(1.0)  # was (±inf, (0.0,))
    with pytest.raises(MissingRuleError, match="oo"):
        dk.derivative(f, n=2, method="symbolic")(1.0)
    with pytest.raises(MissingRuleError):
        dk.hessian(f, method="symbolic")(1.0)


def test_symbolic_refuses_a_nan_that_absorbs_the_variable():
    with pytest.raises(MissingRuleError, match="nan"):
        dk.grad(lambda x: (x + np.nan) * 0.0 + x, method="symbolic")(1.0)


@pytest.mark.parametrize(("f", "d"), [
    (lambda x: np.minimum(x, np.inf) * 3.0, 3.0),  # Min(x, oo) is x
    (lambda x: np.where(x > 0.0, 2.0 * x, -np.inf), 2.0),  # a branch value beside x
    (lambda x: np.heaviside(x, np.inf) * x ** 2, 2.0)])  # the value at the jump only
def test_an_infinity_that_stays_beside_the_variable_still_answers(f, d):
    assert dk.grad(f, method="symbolic")(1.0) == (d,)


def test_a_nan_comparison_is_still_named():
    with pytest.raises(MissingRuleError):
        f = lambda x: np.where(x < np.nan, x, 2.0 * x)  # noqa: PLW0177 (the point)
        dk.grad(f, method="symbolic")(1.0)


# ----- 5. ∂(x**y)/∂y at 0**0 is −∞, not the convention's 0 -------------------------------------
@pytest.mark.parametrize("method", [*AD, "auto", "compiled"])
def test_x_to_the_x_at_zero_is_refused_not_zero(method):
    """(hʰ − 1)/h ≈ ln h → −∞ (mpmath: −11.5, −23.0, −46.1 at h = 1e-5, 1e-10, 1e-20): x**x has
    no derivative at 0; every engine answered 0 (both of pow's conventions, ∂/∂x = 0 at y = 0 and
    ∂/∂y = 0 at x = 0, hold at 0**0 together). Away from 0, xˣ(ln x + 1) by hand."""
    with mpmath.workdps(30):
        h = mpmath.mpf("1e-20")
        assert (h ** h - 1) / h < -40
    for f in ("x^x", lambda x: x ** (2.0 * x), lambda y: 0.0 ** y):
        with pytest.raises(NonDifferentiableError):
            dk.grad(f, method=method)(0.0)
    (d,) = dk.grad("x^x", method=method)(0.5)
    assert d == pytest.approx(0.5 ** 0.5 * (math.log(0.5) + 1.0), rel=1e-14, abs=0)


@pytest.mark.parametrize("method", [*AD, "auto"])
def test_pow_at_zero_where_the_limit_exists_keeps_answering(method):
    """0**y for y > 0 is flat (∂/∂y = 0, its limit); x**0 at 0 has ∂/∂x = 0 (x**0 = 1); x**y
    with only x differentiated at (0, 0): 0; x**2 at 0: 0 (all by hand)."""
    assert dk.grad(lambda y: 0.0 ** y, method=method)(1.5) == (0.0,)
    assert dk.grad(lambda x: x ** 0.0, method=method)(0.0) == (0.0,)
    assert dk.grad(lambda x, y: x ** y, wrt=0, method=method)(0.0, 0.0) == (0.0,)
    assert dk.grad(lambda x, y: x ** y, method=method)(0.0, 2.0) == (0.0, 0.0)
