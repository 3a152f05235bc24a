"""jvp, vjp and Jacobians agree across engines on complex inputs, zero seeds and tangent shapes.

Before: reverse and compiled jvp of a real function of complex inputs answered a complex number
(Re right, Im made up); reverse Jacobians gave a real input's column an imaginary part; the
compiled engine answered numbers for non-holomorphic complex-valued Jacobians, JVPs and Hessians
that reverse and forward mode refuse; methods that built J·t or uᵀJ from a whole Jacobian raised
at sqrt′(0) where the seed entry is exactly zero (0·∞ = 0 is the convention); a transposed tangent
was read reshaped; and a forward-mode pullback called with a traced cotangent was a bare TypeError.
References are hand formulas (Wirtinger calculus written out) and plain NumPy central differences.
"""

import numpy as np
import pytest

import diffkit as dk

Z = np.array([0.3 + 0.4j, -0.2 + 0.1j])
T = np.array([1.0 + 0.5j, -0.3 + 2.0j])


def _fd_directional(f, z, t, h=1e-6):
    """d/de f(z + e t) at e = 0 by a plain NumPy central difference (e real)."""
    return (f(z + h * t) - f(z - h * t)) / (2 * h)


# --- the JVP of a real-valued function of a complex input is real -----------------------------


@pytest.mark.parametrize("method", ["reverse", "compiled", "forward", "auto"])
@pytest.mark.parametrize("case", ["abs2", "re_im"])
def test_jvp_of_a_real_function_of_a_complex_input_is_real(method, case):
    f, ref = {
        "abs2": (lambda z: np.sum(np.abs(z) ** 2), 2 * np.real(np.conj(Z) * T).sum()),
        "re_im": (lambda z: np.sum(np.real(z) * np.imag(z)),
                  np.sum(T.real * Z.imag + Z.real * T.imag)),
    }[case]
    assert abs(_fd_directional(f, Z, T) - ref) < 1e-8  # the hand formula agrees with NumPy
    _, jt = dk.jvp(f, (Z,), (T,), method=method)
    assert not np.iscomplexobj(jt), f"complex JVP {jt!r} for a real output"
    assert abs(jt - ref) < 1e-12


@pytest.mark.parametrize("method", ["reverse", "auto", "compiled"])
def test_jacobian_column_of_a_real_input_beside_a_complex_one_is_real(method):
    f = lambda z, x: np.real(z * x)
    z0, x0 = 1.0 + 1.0j, 2.0
    assert abs((f(z0, x0 + 1e-6) - f(z0, x0 - 1e-6)) / 2e-6 - 1.0) < 1e-8
    J = dk.jacobian(f, method=method)(z0, x0).ravel()
    assert J[0] == pytest.approx(2.0, abs=1e-12)
    assert J[1] == 1.0, f"column of the real input x: {J[1]}"
    _, jt = dk.jvp(f, (z0, x0), (0.0, 1.0), method=method)
    assert jt == 1.0 and not np.iscomplexobj(jt)


# --- the compiled engine refuses what reverse and forward refuse --------------------------------


def test_compiled_jvp_of_a_non_holomorphic_complex_function_is_refused_or_right():
    f = lambda z: np.abs(z) ** 2 * z
    ref = 2 * Z * np.conj(Z) * T + Z * Z * np.conj(T)  # Wirtinger: ∂f·t + ∂̄f·conj(t)
    assert np.allclose(_fd_directional(f, Z, T), ref, atol=1e-8)
    try:
        _, jt = dk.jvp(f, (Z,), (T,), method="compiled")
    except dk.MissingRuleError:
        return  # the reverse engine's named refusal
    np.testing.assert_allclose(jt, ref, atol=1e-12)


@pytest.mark.parametrize("method", ["reverse", "forward", "compiled"])
def test_jacobian_of_conj_is_refused(method):
    with pytest.raises(dk.MissingRuleError, match="holomorphic"):
        dk.jacobian(lambda z: np.conj(z), method=method)(Z)


@pytest.mark.parametrize("method", ["reverse", "compiled"])
def test_hessian_of_a_real_function_of_a_complex_input_is_refused(method):
    # its gradient 2·conj(z) is not holomorphic: no complex Jacobian of it
    with pytest.raises(dk.MissingRuleError):
        dk.hessian(lambda z: np.sum(np.abs(z) ** 2), method=method)(Z)


# --- an exactly zero seed entry times an infinite partial gives zero ---------------------------


def _sqrt_and_line(x):
    return dk.stack([np.sqrt(x[0]), 2.0 * x[1]])


@pytest.mark.parametrize("method", ["reverse", "symbolic", "compiled", "forward", "auto",
                                    "fd-central"])
def test_jvp_with_a_zero_tangent_entry_into_sqrt_at_zero(method):
    # f(x + s·v) = (0, 2(1 + s)) for v = (0, 1): J·v = (0, 2) (hand)
    x, v = np.array([0.0, 1.0]), np.array([0.0, 1.0])
    tol = 1e-9 if method.startswith("fd") else 0.0  # a difference along v: sqrt is not moved
    _, jv = dk.jvp(_sqrt_and_line, (x,), (v,), method=method)
    np.testing.assert_allclose(np.asarray(jv), [0.0, 2.0], rtol=tol, atol=0)
    _, d = dk.jvp(lambda x, y: np.sqrt(x) + y, (0.0, 1.0), (0.0, 1.0), method=method)
    assert d == pytest.approx(1.0, rel=tol, abs=0)


@pytest.mark.parametrize("method", ["forward", "symbolic", "reverse", "auto", "compiled"])
def test_vjp_with_a_zero_cotangent_entry_into_sqrt_at_zero(method):
    x = np.array([0.0, 1.0])
    _, pull = dk.vjp(_sqrt_and_line, x, method=method)
    (g,) = pull(np.array([0.0, 1.0]))  # uᵀJ for u = (0, 1): (0, 2) (hand)
    np.testing.assert_array_equal(np.asarray(g), [0.0, 2.0])
    with pytest.raises(dk.NonDifferentiableError):  # a nonzero entry meets sqrt′(0) = ∞
        pull(np.array([1.0, 1.0]))


@pytest.mark.parametrize("method", ["reverse", "symbolic", "compiled", "forward"])
def test_a_zero_tangent_leaves_a_negative_zero_input_as_it_is(method):
    # copysign(x, y) at y = −0.0 is −x: ∂/∂x = −1 (hand); the line x + s·t must not turn −0.0
    # into +0.0 where t is 0
    if method == "symbolic":  # SymPy has no signed zero: a zero copysign reads is refused
        with pytest.raises(dk.MissingRuleError, match="method='reverse'"):
            dk.jvp(lambda x, y: np.copysign(x, y), (3.0, -0.0), (1.0, 0.0), method=method)
        return
    out, d = dk.jvp(lambda x, y: np.copysign(x, y), (3.0, -0.0), (1.0, 0.0), method=method)
    assert out == -3.0 and d == -1.0


# --- tangents: the input's shape or the flat vector ---------------------------------------------


@pytest.mark.parametrize("method", ["reverse", "forward", "symbolic", "compiled", "auto",
                                    "fd-central"])
def test_a_tangent_of_another_shape_of_the_same_size_is_refused(method):
    x = np.arange(6.0).reshape(2, 3)
    f = lambda x: x * 2.0
    for bad in (np.arange(6.0).reshape(3, 2), np.arange(6.0).reshape(2, 3, 1)):
        with pytest.raises(dk.ShapeError, match="tangent of shape"):
            dk.jvp(f, (x,), (bad,), method=method)
    flat = np.arange(6.0)  # the flat vector of its elements: documented, accepted
    _, jt = dk.jvp(f, (x,), (flat,), method=method)
    np.testing.assert_allclose(jt, 2.0 * flat.reshape(2, 3), rtol=1e-9)


# --- a pullback called with a traced cotangent ---------------------------------------------------


@pytest.mark.parametrize("method", ["forward", "reverse", "auto", "compiled", "symbolic",
                                    "fd-central"])
def test_pullback_with_a_traced_cotangent(method):
    x0 = np.array([0.3, -0.6, 1.1])
    c0 = np.array([0.5, 2.0, -1.0])
    J = np.diag(np.cos(x0)) * np.sum(x0 ** 2) + np.outer(np.sin(x0), 2 * x0)  # hand Jacobian
    _, pb = dk.vjp(lambda x: np.sin(x) * np.sum(x ** 2), x0, method=method)
    outer = dk.grad(lambda c: np.sum(pb(c)[0] ** 2))
    if method in ("symbolic", "fd-central"):  # they answer numbers: they do not nest
        with pytest.raises(dk.TracingError, match="cotangent is a traced value"):
            outer(c0)
        return
    np.testing.assert_allclose(outer(c0)[0], 2 * J @ (J.T @ c0), rtol=1e-12)
