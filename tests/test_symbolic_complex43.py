"""dk.symbolic(f)(z) at complex points, its input check, and the trace's complex constants.

hunt 43/r6: a derivation for real inputs answered abs(x)*x and conj(x)*x at 1+2j with its real
formula (0.894+1.789j, 2+4j) where no complex derivative exists; dk.symbolic(f)(None) was a bare
TypeError; dk.trace printed ∂(c·z)/∂z = 2 for c = 2+3j and crashed for c = 1j.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import diffkit as dk


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
