"""arcsin and arccos of a complex value on their branch cuts (|x| > 1 with a zero imaginary
part, reached from a real input: ``np.arcsin(x + 0j)``) take the side NumPy's functions take;
their derivatives must be that side's slope. The slope 1/√(1 − z²) had the other sign for
x > 1 (NumPy's 1 − z gives +0 as the imaginary part where −0 is meant), so every AD engine gave
−1/√(x² − 1) for d Im arcsin(x + 0j)/dx. References: a central difference of NumPy's own
function along the real axis (smooth there) and the hand formula ±1/√(x² − 1)."""
import numpy as np
import pytest

import diffkit as dk

POINTS = [1.5, 2.9, 1.0001, 40.0, -1.5, -2.9, -40.0]
PARTS = {"imag": np.imag, "real": np.real}
FUNCS = {"arcsin": np.arcsin, "arccos": np.arccos}


def numpys_slope(fn, part, x: float) -> float:
    h = 1e-7 * max(1.0, abs(x)) * min(1.0, abs(abs(x) - 1.0) * 100)
    return float((part(fn(x + h + 0j)) - part(fn(x - h + 0j))) / (2 * h))


@pytest.mark.parametrize("method", ["reverse", "forward", "compiled"])
@pytest.mark.parametrize("name", sorted(FUNCS))
@pytest.mark.parametrize("x", POINTS)
def test_real_function_through_the_cut(method, name, x):
    fn = FUNCS[name]
    f = lambda v: np.imag(fn(v + 0j))
    got = dk.grad(f, method=method)(x)[0]
    want = numpys_slope(fn, np.imag, x)
    hand = np.sign(x) / np.sqrt(x * x - 1.0) * (1 if name == "arcsin" else -1)
    assert abs(want - hand) <= 1e-5 * abs(hand)  # (the difference quotient agrees by hand)
    assert got == pytest.approx(hand, rel=1e-12)


@pytest.mark.parametrize("name", sorted(FUNCS))
@pytest.mark.parametrize("x", POINTS)
def test_holomorphic_derivative_on_the_cut(name, x):
    fn = FUNCS[name]
    got = complex(dk.derivative(lambda v: fn(v + 0j))(x))
    hand = 1j * np.sign(x) / np.sqrt(x * x - 1.0) * (1 if name == "arcsin" else -1)
    assert got.real == pytest.approx(0.0, abs=1e-15)
    assert got.imag == pytest.approx(hand.imag, rel=1e-12)
    assert numpys_slope(fn, np.imag, x) == pytest.approx(hand.imag, rel=1e-5)


def test_jit_and_arrays_agree():
    xs = np.array([1.5, -2.9, 0.3, 3.0])
    f = dk.jit(lambda v: np.sum(np.imag(np.arcsin(v.astype(complex)))))
    want = np.where(np.abs(xs) > 1, np.sign(xs) / np.sqrt(np.abs(xs * xs - 1)), 0.0)
    for _ in range(3):
        np.testing.assert_allclose(dk.grad(f)(xs)[0], want, rtol=1e-12, atol=0)


def test_real_slope_inside_the_domain_keeps_its_digits():
    """The rewrite −(x − 1)(1 + x) is 1 − x exactly for a real x: arcsin′ near ±1 and inside."""
    for x in (0.5, 0.75, 0.999999, -0.999999, 0.3):
        got = dk.grad(np.arcsin)(x)[0]
        assert got == pytest.approx(1.0 / np.sqrt((1 - x) * (1 + x)), rel=4e-16)
