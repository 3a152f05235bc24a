"""Signed zeros and branch cuts read by value at the point; steps in dk.compare's exact reference.

SymPy has one unsigned 0 and its own sides of a branch cut, so the symbolic engine refuses by name
at a point where an argument that reads the sign of a zero (the table's ``signed_zero``) holds a
zero, whatever made it (x·0.0 at x < 0, −(x − x), ceil of a small negative, −relu(x)), or a
complex value on the op's cut — also where a derivation made at another point is reused (parsed
text). Elsewhere it answers as before, also with data holding −0.0. dk.compare's exact reference
takes every step (floor, round, sign, heaviside, //) as float64 decides it at the point.
References: hand formulas, NumPy's own values, mpmath at 50 digits.
"""

from __future__ import annotations

import math

import mpmath
import numpy as np
import pytest

import diffkit as dk
from diffkit.errors import MissingRuleError


def _refused(call: object) -> None:
    with pytest.raises(MissingRuleError, match="method='reverse'"):
        call()


# ----- finding 3: a -0.0 made from an input by an operation ----------------------------------

MADE_ZEROS = {  # g(x) at x = -1, each -0.0 in float64 (NumPy)
    "x*0.0": lambda x: x * 0.0,
    "-(x - x)": lambda x: -(x - x),
    "ceil(x/2)": lambda x: np.ceil(x * 0.5),
    "trunc(x/2)": lambda x: np.trunc(x * 0.5),
    "round(x*1e-9)": lambda x: np.round(x * 1e-9),
    "-relu(x)": lambda x: -dk.relu(x),
    "sqrt(x*0.0)": lambda x: np.sqrt(x * 0.0),
}


@pytest.mark.parametrize("name", sorted(MADE_ZEROS))
def test_copysign_of_a_made_negative_zero_is_refused(name: str) -> None:
    g = MADE_ZEROS[name]
    assert math.copysign(1.0, float(g(np.float64(-1.0)))) == -1.0  # NumPy makes -0.0 there
    f = dk.function(lambda x, y: np.copysign(y, g(x)))
    # hand: copysign(y, -0.0) = -y near y = 2, so d/dy = -1 (symbolic answered +1)
    assert dk.grad(f, method="reverse")(-1.0, 2.0)[1] == -1.0
    _refused(lambda: dk.grad(f, method="symbolic")(-1.0, 2.0))


def test_other_sign_readers_of_a_made_negative_zero_are_refused() -> None:
    at = dk.function(lambda x, y: np.arctan2(x * 0.0, -1.0) * y)
    assert dk.grad(at, method="reverse")(-1.0, 2.0)[1] == np.arctan2(-0.0, -1.0) == -math.pi
    _refused(lambda: dk.grad(at, method="symbolic")(-1.0, 2.0))
    g = dk.function(lambda x: np.arctan2(-(x - x), -1.0) * x)  # -pi·x (hand): -pi at 2
    assert dk.grad(g, method="reverse")(2.0)[0] == -math.pi
    _refused(lambda: dk.grad(g, method="symbolic")(2.0))
    sb = dk.function(lambda x, y: np.where(np.signbit(x * 0.0), y, 2 * y))  # y at x < 0: 1
    assert dk.grad(sb, method="reverse")(-1.0, 2.0)[1] == 1.0
    _refused(lambda: dk.grad(sb, method="symbolic")(-1.0, 2.0))
    an = dk.function(lambda x, y: np.angle(x * 0.0) * y)  # angle(-0.0) = pi (NumPy)
    assert dk.grad(an, method="reverse")(-1.0, 2.0)[1] == np.angle(-0.0) == math.pi
    _refused(lambda: dk.grad(an, method="symbolic")(-1.0, 2.0))


def test_sqrt_of_a_negated_complex_input_is_refused() -> None:
    # d/dz sqrt(-z) = -1/(2 sqrt(-z)), NumPy's sqrt(-4 - 0j) = -2j: -0.25j (symbolic: +0.25j)
    s = dk.function(lambda z: np.sqrt(-z))
    want = -1.0 / (2.0 * np.sqrt(-(4.0 + 0j)))
    assert want == -0.25j
    assert dk.derivative(s, method="reverse")(4.0 + 0j) == want
    _refused(lambda: dk.derivative(s, method="symbolic")(4.0 + 0j))


def test_a_derivation_reused_at_another_point_is_checked_there() -> None:
    # a parsed function is derived once per signature; at x = -1, ceil(x/2) is -0.0 and
    # copysign(1, -0.0)·y has d/dy = -1 (hand), where the reused derivation answered +1
    f = dk.function("copysign(1, ceil(x*0.5))*y")
    assert dk.grad(f, method="symbolic")(3.0, 2.0) == (0.0, 1.0)  # ceil(1.5) = 2: derived here
    assert dk.grad(f, method="reverse")(-1.0, 2.0)[1] == -1.0
    _refused(lambda: dk.grad(f, method="symbolic")(-1.0, 2.0))
    _refused(lambda: dk.hessian(f, method="symbolic")(-1.0, 2.0))
    assert dk.grad(f, method="symbolic")(5.0, 2.0) == (0.0, 1.0)  # and away from it, as before


# ----- finding 4: complex points on a branch cut ----------------------------------------------

def _mp_slope(name: str, z: complex) -> complex:
    """mpmath's derivative of the principal branch (50 digits): 1/√(1 − z²) and friends, on a
    cut (a zero imaginary part) from the side the zero's sign picks, at z ± 1e-30 i."""
    with mpmath.workdps(50):
        side = mpmath.mpf("1e-30") * (1 if math.copysign(1.0, z.imag) > 0 else -1)
        w = mpmath.mpc(z.real, side) if z.imag == 0 else mpmath.mpc(z.real, z.imag)
        d = {"arcsin": 1 / mpmath.sqrt(1 - w**2), "arccos": -1 / mpmath.sqrt(1 - w**2),
             "arccosh": 1 / (mpmath.sqrt(w - 1) * mpmath.sqrt(w + 1))}[name]
        return complex(d)


@pytest.mark.parametrize(("name", "z"), [("arcsin", complex(1.5, 0.0)),
                                         ("arccos", complex(2.5, 0.0)),
                                         ("arccosh", complex(0.5, -0.0))])
def test_symbolic_on_a_branch_cut_is_refused(name: str, z: complex) -> None:
    fn = getattr(np, name)
    h = 1e-6  # NumPy's own slope along the real axis, the zero part's sign held
    numpy_slope = (fn(complex(z.real + h, z.imag)) - fn(complex(z.real - h, z.imag))) / (2 * h)
    want = _mp_slope(name, z)
    assert abs(numpy_slope - want) < 1e-8 * abs(want)
    f = dk.function(fn)
    assert abs(dk.derivative(f, method="reverse")(z) - want) < 1e-14 * abs(want)
    _refused(lambda: dk.derivative(f, method="symbolic")(z))


def test_symbolic_off_a_cut_still_answers() -> None:
    z = complex(0.5, 0.5)
    got = dk.derivative(dk.function(np.arcsin), method="symbolic")(z)
    assert abs(got - _mp_slope("arcsin", z)) < 1e-14  # the side is no question off the cut
    assert dk.derivative(dk.function(np.sqrt), method="symbolic")(4.0 + 0j) == 0.25


# ----- finding 5: data holding -0.0 away from any sign reader ---------------------------------

def test_data_holding_negative_zero_is_not_refused() -> None:
    c = -np.array([0.0, 1.0, 2.0])  # [-0., -1., -2.]
    sq = dk.function(lambda x: np.sum((x - c) ** 2))
    assert dk.grad(sq, method="symbolic")(5.0)[0] == 2 * (5.0 + 6.0 + 7.0)  # hand: 2·Σ(x − c)
    quo = dk.function(lambda x: np.sum(x / (x - c)))
    want = sum(-ci / (5.0 - ci) ** 2 for ci in c)  # hand: d/dx x/(x − c) = −c/(x − c)²
    assert dk.grad(quo, method="symbolic")(5.0)[0] == pytest.approx(want, rel=1e-15)
    cube = dk.function(lambda x: (x + -0.0) ** 3)
    assert dk.grad(cube, method="symbolic")(2.0)[0] == 12.0
    # a zero base with a positive exponent reads no sign: (x²)′ = 0 at 0
    assert dk.grad(dk.function(lambda x: x**2), method="symbolic")(0.0)[0] == 0.0


# ----- finding 2: steps in dk.compare's exact reference ---------------------------------------

STEPS = [  # f(x, y) with ∂f/∂x by hand from float64's step at y (fl(10·0.7) = 7 exactly)
    ("floor", lambda x, y: np.floor(10 * y) * x, 0.7, math.floor(10 * 0.7)),
    ("ceil", lambda x, y: np.ceil(10 * y) * x, 0.1, math.ceil(10 * 0.1)),  # exact: 2
    ("trunc", lambda x, y: np.trunc(10 * y) * x, 0.7, math.trunc(10 * 0.7)),
    ("floor_divide", lambda x, y: ((10 * y) // 1) * x, 0.7, (10 * 0.7) // 1),
    ("round", lambda x, y: np.round(10 * y) * x, 0.35, 4.0),  # fl: 3.5 to even, 4 (exact: 3)
    ("rint", lambda x, y: np.rint(10 * y) * x, 0.45, 4.0),  # fl(4.5) to even: 4 (exact: 5)
    ("sign", lambda x, y: np.sign(y + 1e-17 - y) * x, 0.7, 0.0),  # fl: y + 1e-17 - y = 0
    ("heaviside", lambda x, y: np.heaviside(y + 1e-17 - y, 0.5) * x, 0.7, 0.5),
]


@pytest.mark.parametrize(("name", "f", "y", "dfdx"), STEPS, ids=[s[0] for s in STEPS])
def test_compare_reference_takes_steps_from_float64(name: str, f: object, y: float,
                                                     dfdx: float) -> None:
    fn = dk.function(f)
    assert float(f(np.float64(2.0), np.float64(y))) == 2.0 * dfdx  # NumPy's own value
    cmp = dk.compare(fn, 2.0, y, methods=["reverse", "symbolic"])
    assert cmp.reference_kind.startswith("exact")
    np.testing.assert_array_equal(np.reshape(cmp.reference, -1), [dfdx, 0.0])
    assert cmp.row("reverse").abs_error == 0.0


def test_compare_reference_keeps_a_step_that_passes_a_value_on() -> None:
    # heaviside(y + 1e-17 - y, x)·3: float64's x1 is 0, so the value is x2 = x and d/dx = 3
    # (hand); exact arithmetic had x1 = 1e-17 > 0, value 1, d/dx = 0
    fn = dk.function(lambda x, y: np.heaviside(y + 1e-17 - y, x) * 3.0)
    cmp = dk.compare(fn, 2.0, 0.7, methods=["reverse"])
    np.testing.assert_array_equal(np.reshape(cmp.reference, -1), [3.0, 0.0])
    # clip(x, 10y, 9)·x at x = 2, y = 0.7: 10y·x, so (10y, 10x) = (7, 20) (hand)
    g = dk.function(lambda x, y: np.clip(x, 10 * y, 9.0) * x)
    cmp = dk.compare(g, 2.0, 0.7, methods=["reverse"])
    np.testing.assert_array_equal(np.reshape(cmp.reference, -1), [7.0, 20.0])
