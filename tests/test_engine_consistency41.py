"""Engines agree on what they refuse (a fuzz of scalar programs, stop 41)."""

import numpy as np
import pytest
import sympy as sp

import diffkit as dk

METHODS = ("reverse", "forward", "symbolic", "auto")


@pytest.mark.parametrize("method", METHODS)
def test_grad_of_a_complex_constant_at_a_real_input_is_refused_by_every_engine(method):
    # acos(2) = 1.3169…·i: f is complex-valued; grad (a real input's space) refuses it in every
    # engine, as it does when x appears (x·acos(2.0)); reverse answered (1.317j, (0.0,))
    h = dk.from_sympy(sp.acos(sp.Float(2.0)), inputs=["x"])
    with pytest.raises(dk.InputTypeError, match="complex-valued"):
        dk.value_and_grad(h, method=method)(1.0)
    with pytest.raises(dk.InputTypeError, match="complex-valued"):
        dk.grad(lambda x: np.complex128(1j) + 0 * 1.0, method=method)(1.0)


@pytest.mark.parametrize("method", METHODS)
def test_vjp_of_a_complex_output_keeps_a_real_input_real(method):
    # f(x, y) = exp(iy): x unreached; vjp with a complex cotangent c gives Re(c·f′) per real input
    _, pull = dk.vjp(lambda x, y: np.exp(1j * y), 1.0, 2.0, method=method)
    gx, gy = pull(1.0 + 0.5j)
    c, d = 1.0 + 0.5j, 1j * np.exp(2j)
    assert gx == 0.0 and not np.iscomplexobj(gx)
    assert gy == pytest.approx((c * d).real, rel=1e-14)
