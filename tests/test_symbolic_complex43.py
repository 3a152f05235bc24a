"""dk.symbolic(f)(z) at complex points, its input check, and the trace's complex constants.

hunt 43/r6: a derivation for real inputs answered abs(x)*x and conj(x)*x at 1+2j with its real
formula (0.894+1.789j, 2+4j) where no complex derivative exists; dk.symbolic(f)(None) was a bare
TypeError; dk.trace printed ∂(c·z)/∂z = 2 for c = 2+3j and crashed for c = 1j.
"""

from __future__ import annotations

import cmath
import warnings

import mpmath as mp
import numpy as np
import pytest

import diffkit as dk
from diffkit.errors import InputTypeError, MissingRuleError

Z = 1 + 2j


def _difference_quotients(f, z: complex, h: float = 1e-7) -> tuple[complex, complex]:
    """(f(z + h) − f(z))/h and (f(z + ih) − f(z))/(ih): equal only where f′(z) exists."""
    return (f(z + h) - f(z)) / h, (f(z + 1j * h) - f(z)) / (1j * h)


@pytest.mark.parametrize(
    "text, f",
    [
        ("abs(x)*x", lambda z: abs(z) * z),
        ("conj(x)*x", lambda z: z.conjugate() * z),
        ("abs(x)^2", lambda z: abs(z) ** 2),
    ],
)
def test_non_holomorphic_function_is_refused_at_a_complex_point(text, f):
    along_real, along_imag = _difference_quotients(f, Z)
    assert abs(along_real - along_imag) > 0.5  # no complex derivative (by hand: Cauchy-Riemann)
    d = dk.symbolic(text)
    for point in (Z, [Z], np.complex128(Z), np.array([Z]), [np.complex64(Z)]):
        with pytest.raises(MissingRuleError, match="holomorphic"):
            d(point)
    # the real derivative still answers at a real point (|x|·x: 2|x|; x̄·x = x²: 2x)
    assert d(1.5)[0, 0] == pytest.approx(3.0)


def test_holomorphic_function_still_answers_at_complex_points():
    d = dk.symbolic("x*y + sin(x)")
    x, y = 1 + 1j, 2 - 0.5j
    got = d([x, y])
    assert got[0, 0] == pytest.approx(y + cmath.cos(x), rel=1e-14)
    assert got[0, 1] == pytest.approx(x, rel=1e-14)
    ref = complex(mp.diff(lambda t: mp.sqrt(t), mp.mpc(Z)))
    assert dk.symbolic("sqrt(x)")(Z)[0, 0] == pytest.approx(ref, rel=1e-13)


def test_derivation_at_a_complex_point_answers_at_other_points():
    d = dk.symbolic(lambda z: z * z, 1 + 2j)
    assert d(3 + 1j)[0, 0] == pytest.approx(6 + 2j)  # 2z by hand
    assert d(2.0)[0, 0] == pytest.approx(4.0)


@pytest.mark.parametrize("bad", [None, [None], (None,), np.array(None), np.array([None])])
def test_none_is_a_named_input_type_error(bad):
    with pytest.raises(InputTypeError, match="flat sequence of 1 number"):
        dk.symbolic("abs(x)*x")(bad)


def test_none_among_several_inputs_is_a_named_input_type_error():
    with pytest.raises(InputTypeError, match="flat sequence of 2 number"):
        dk.symbolic("x*y")([None, 1.0])


def _partial(trace, name: str):
    (row,) = [r for r in trace.primal if r.name == name]
    (p,) = row.partials
    return p


@pytest.mark.parametrize("c", [np.complex128(2 + 3j), 1j, 1 - 2j])
@pytest.mark.parametrize("mode", ["reverse", "forward"])
def test_trace_keeps_a_complex_constant_complex(c, mode):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no ComplexWarning: the imaginary part is kept
        t = dk.trace(lambda z: z * c, 1 + 1j, mode=mode)
        text = t.to_text()
        t.to_latex()
        t.to_markdown()
    p = _partial(t, "v₁")
    assert complex(p.expr) == complex(c)  # ∂(c·z)/∂z = c, by hand
    assert complex(p.value) == complex(c)
    assert f"{complex(c).real:.3f}{complex(c).imag:+.3f}j" in text


def test_trace_complex_constant_in_a_sum_and_a_power():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        t = dk.trace(lambda z: (z + 1j) ** 2, 1 + 1j)
        t.to_text()
    p = _partial(t, "v₂")  # v₂ = v₁², v₁ = z + 1j: 2·v₁ = 2 + 4j at z = 1 + 1j
    assert complex(p.value) == pytest.approx(2 + 4j)


def test_numpy_complex_scalars_keep_their_imaginary_part():
    # review 43/r7 F0: the fast code's float() kept the real part of a NumPy complex scalar
    # (x³ at np.complex128(1+2j) gave 3 with a ComplexWarning): 3z² by hand
    z = 1 + 2j
    for given in (np.complex128(z), [np.complex128(z)], np.array([z])):
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            got = dk.symbolic("x*x*x")(given)
        np.testing.assert_allclose(np.ravel(got), [3 * z * z], rtol=1e-15)
    got = dk.symbolic("x*y")(np.array([z, 2.0]))
    np.testing.assert_allclose(np.ravel(got), [2.0, z], rtol=1e-15)
