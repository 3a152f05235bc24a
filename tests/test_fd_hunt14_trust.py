"""Finite differences, hunt 14: the complex step checks that the function repeats, a float32
function's fd-complex J·t is float32, the fd pullbacks difference the outputs before contracting
them with the cotangent, and a step below the input's resolution is named as such.

Each reference is independent of diffkit: a hand-derived derivative evaluated in NumPy."""

from __future__ import annotations

import math

import numpy as np
import pytest

import diffkit as dk

# ----- 1. fd-complex runs the repeatability check (the traced call against the plain one) -------

#: branches that a traced value (or a complex one) takes differently from a plain float: the plain
#: function is x² (derivative 2x = 1.4 at 0.7), the traced or complex-stepped one 3x
BRANCHES = {
    "isinstance-float": lambda x: x**2 if isinstance(x, float) else 3 * x,
    "isscalar": lambda x: x**2 if np.isscalar(x) else 3 * x,
    "isinstance-floating": lambda x: x**2 if isinstance(x, float | np.floating) else 3 * x,
    "dtype-kind-f": lambda x: x**2 if np.asarray(x).dtype.kind == "f" else 3 * x,
}


@pytest.mark.parametrize("name", list(BRANCHES))
@pytest.mark.parametrize("api", ["grad", "derivative", "jacobian"])
def test_fd_complex_refuses_a_function_whose_traced_call_is_another(name, api):
    f = BRANCHES[name]
    assert f(0.7) == pytest.approx(0.49)  # the plain function, whose derivative is 1.4, not 3
    with pytest.raises(dk.NotRepeatableError):
        getattr(dk, api)(f, method="fd-complex")(0.7)


def test_fd_complex_refuses_a_function_that_formats_its_input():
    """x·len(f"{x:.3f}") is 5x near 1.5 (k′ = 5); at x + ih the f-string is '1.500+0.000j', 12
    characters, and Im f(x + ih)/h read 12. The real part of the complex evaluation (18) is not
    f(x) (7.5): refused by name — now already at the format spec, which reads the number of a
    value being differentiated as float(x) does (TracingError); a format of a value the trace
    does not follow still gives NotRepeatableError (the tests above). fd-central
    differentiates the plain function."""
    k = lambda x: x * len(f"{x:.3f}")
    assert dk.derivative(k, method="fd-central")(1.5) == pytest.approx(5.0, rel=1e-8)
    with pytest.raises(dk.TracingError, match="format spec"):
        dk.derivative(k, method="fd-complex")(1.5)
    with pytest.raises(dk.TracingError, match="format spec"):
        dk.grad(k, method="fd-complex")(1.5)


def test_fd_complex_with_a_large_step_compares_at_a_small_one():
    """An explicit step of 1e-4 moves Re f(x + ih) by h²f″/2 (not compared there); one more
    evaluation at x + 1e-20i still tells the formatting function apart. A smooth function keeps
    its answer: d/dx x³ = 3x² (the complex step's own error h²f‴/6 = 1e-8 here)."""
    k = lambda x: x * len(f"{x:.3f}")
    with pytest.raises(dk.TracingError, match="format spec"):
        dk.derivative(k, method="fd-complex", step=1e-4)(1.5)
    assert dk.derivative(lambda x: x**3, method="fd-complex", step=1e-4)(1.5) == pytest.approx(
        6.75, rel=1e-8)


def test_fd_complex_refuses_a_formatting_function_in_a_jvp():
    k = lambda x: x * len(f"{x[0]:.3f}")
    with pytest.raises(dk.TracingError, match="format spec"):
        dk.jvp(k, (np.array([1.5, 2.5]),), (np.array([1.0, 0.0]),), method="fd-complex")


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_fd_complex_still_answers_a_repeatable_function(dtype):
    """The checks do not refuse an analytic function (float32 too, whose plain value is rounded
    in float32 while the complex step computes in complex128): d/dx eˣ sin x = eˣ(sin x + cos x)."""
    x = np.array([0.3, 1.7, -2.2], dtype)
    f = lambda x: np.exp(x) * np.sin(x)
    xd = x.astype(np.float64)
    want = np.exp(xd) * (np.sin(xd) + np.cos(xd))
    tol = 1e-12 if dtype == np.float64 else 1e-5
    jac = dk.jacobian(f, method="fd-complex")(x)
    np.testing.assert_allclose(np.diag(jac), want, rtol=tol)
    _, jt = dk.jvp(f, (x,), (np.ones(3, dtype),), method="fd-complex")
    np.testing.assert_allclose(jt, want, rtol=tol)
    (g,) = dk.grad(lambda x: np.sum(f(x)), method="fd-complex")(x)
    np.testing.assert_allclose(g, want, rtol=tol)
    assert dk.grad(lambda t: t * t * 3.0, method="fd-complex")(0.7) == pytest.approx((4.2,))


# ----- 2. a float32 function's fd-complex J·t is float32 ----------------------------------------


def test_fd_complex_jvp_of_a_float32_function_is_float32():
    x = np.array([0.3, 1.7], np.float32)
    t = np.ones(2, np.float32)
    out, jt = dk.jvp(lambda x: np.exp(x), (x,), (t,), method="fd-complex")
    assert out.dtype == np.float32
    assert jt.dtype == np.float32
    np.testing.assert_allclose(jt, np.exp(x.astype(np.float64)), rtol=1e-6)
    out, jt = dk.jvp(lambda x: np.sum(np.exp(x)), (x,), (t,), method="fd-complex")
    assert type(jt) is np.float32
    assert float(jt) == pytest.approx(math.exp(0.3) + math.exp(1.7), rel=1e-6)


@pytest.mark.parametrize("method", ["fd", "fd-forward", "fd-richardson", "fd-complex", "reverse"])
def test_every_method_answers_a_float32_jvp_in_float32(method):
    x = np.array([0.3, 1.7], np.float32)
    _, jt = dk.jvp(lambda x: np.sin(x) * 2.0, (x,), (np.ones(2, np.float32),), method=method)
    assert jt.dtype == np.float32
    np.testing.assert_allclose(jt, 2 * np.cos(x.astype(np.float64)), atol=2e-3)  # fd-forward: O(√ε)


# ----- 3. the fd pullbacks difference the outputs first ------------------------------------------

FD = ["fd", "fd-forward", "fd-central", "fd-richardson", "fd-complex"]


@pytest.mark.parametrize("method", FD)
def test_fd_vjp_keeps_a_column_below_the_rounding_of_the_sum(method):
    """f(x) = (x₀, 1e17·x₁): ȳᵀJ at ȳ = (1, 1) is (1, 1e17). Differencing Σ ȳ·f(x) lost x₀'s
    change (≈ 1e-5) in the rounding of a sum of 1e17: the first component was 0."""
    f = lambda x: x * np.array([1.0, 1e17])
    (v,) = dk.vjp(f, np.array([1.0, 1.0]), method=method)[1](np.ones(2))
    np.testing.assert_allclose(v, [1.0, 1e17], rtol=1e-6)
    (v,) = dk.vjp(f, np.array([1.0, 1.0]), method=method)[1](np.array([2.0, -3.0]))
    np.testing.assert_allclose(v, [2.0, -3e17], rtol=1e-6)


@pytest.mark.parametrize("method", ["fd", "fd-central", "fd-richardson"])
def test_fd_vjp_of_a_float32_input_cast_to_float64(method):
    """f(x) = exp(30·x) computed in float64 from float32 x = (0.1, 0.7, 1.3): ȳᵀJ at ȳ = 1 is
    30·exp(30·xᵢ) at the float32 points (602.57…, 3.9e10, 2.6e18), a float32 result. The first
    component was 0.0 (its change below the rounding of the sum with 2.6e18)."""
    x = np.array([0.1, 0.7, 1.3], np.float32)
    f = lambda x: np.exp(x.astype(np.float64) * 30)
    want = 30 * np.exp(30 * x.astype(np.float64))
    (v,) = dk.vjp(f, x, method=method)[1](np.ones(3))
    assert v.dtype == np.float32
    # central differences in float32 steps (h ≈ ε^⅓·max(1, |x|)): O((30h)²) relative error
    np.testing.assert_allclose(v, want, rtol=1e-2 if method != "fd-richardson" else 1e-4)
    assert v[0] == pytest.approx(602.57, rel=1e-2)


def test_fd_vjp_of_a_holomorphic_function_of_complex_inputs():
    """The complex path too: f(z) = z·(1, 1e17) at z = (1+i, 1+i), ȳ = (1, 1): (1, 1e17)."""
    f = lambda z: z * np.array([1.0, 1e17])
    z = np.array([1 + 1j, 1 + 1j])
    (v,) = dk.vjp(f, z, method="fd")[1](np.ones(2, complex))
    np.testing.assert_allclose(v, [1.0, 1e17], rtol=1e-6)


@pytest.mark.parametrize("method", FD)
def test_fd_vjp_agrees_with_the_formula_on_a_mixed_function(method):
    """f(x, y) = (sin(x)·y, x²·eʸ); ȳᵀJ by hand: x̄ = ȳ₀ cos(x) y + 2ȳ₁ x eʸ, ȳ = ȳ₀ sin x + ȳ₁ x² eʸ."""
    f = lambda x, y: np.stack([np.sin(x) * y, x**2 * np.exp(y)])
    x, y, ct = 0.8, -0.4, np.array([1.5, -2.0])
    xb, yb = dk.vjp(f, x, y, method=method)[1](ct)
    assert xb == pytest.approx(ct[0] * math.cos(x) * y + 2 * ct[1] * x * math.exp(y), rel=1e-6)
    assert yb == pytest.approx(ct[0] * math.sin(x) + ct[1] * x**2 * math.exp(y), rel=1e-6)


# ----- 4. a step below the input's resolution is named ------------------------------------------


@pytest.mark.parametrize("x, step", [(np.float32(2.0), 1e-9), (2.0, 1e-20)])
@pytest.mark.parametrize("method", ["fd", "fd-forward", "fd-richardson"])
def test_a_step_the_dtype_rounds_away_is_named(x, step, method):
    with pytest.raises(dk.DomainError, match="resolution"):
        dk.grad(np.sin, method=method, step=step)(x)


def test_a_step_below_resolution_is_named_in_every_fd_question():
    x = np.float32(2.0)
    xs = np.array([2.0, 3.0], np.float32)
    calls = [
        lambda: dk.jvp(np.sin, (x,), (np.float32(1.0),), method="fd", step=1e-9),
        lambda: dk.jvp(np.sin, (np.array([2.0, 1e-3], np.float32),),
                       (np.ones(2, np.float32),), method="fd", step=1e-9),
        lambda: dk.derivative(np.sin, method="fd", step=1e-9)(xs),
        lambda: dk.derivative(np.sin, 2, method="fd", step=1e-9)(x),
        lambda: dk.hessian(lambda v: np.sum(np.sin(v)), method="fd", step=1e-9)(xs),
        lambda: dk.jacobian(np.sin, method="fd", step=1e-20)(np.array([2.0, 3.0])),
        lambda: dk.vjp(np.sin, xs, method="fd", step=1e-9)[1](np.ones(2, np.float32)),
        # Richardson's smallest step h/16 is below float32's resolution at 2 (h = 1e-6): its
        # one-sided rounding made the answer −0.576 for cos 2 = −0.416
        lambda: dk.grad(np.sin, method="fd-richardson", step=1e-6)(x),
    ]
    for call in calls:
        with pytest.raises(dk.DomainError, match="resolution"):
            call()


def test_a_step_above_resolution_still_answers():
    assert dk.grad(np.sin, method="fd", step=1e-3)(np.float32(2.0))[0] == pytest.approx(
        math.cos(2.0), abs=1e-3)
    assert dk.grad(np.sin, method="fd", step=1e-6)(2.0)[0] == pytest.approx(math.cos(2.0),
                                                                             rel=1e-9)
    # the complex step's 1e-20 is an imaginary part, which no real rounding removes
    assert dk.grad(np.sin, method="fd-complex", step=1e-20)(np.float32(2.0))[0] == \
        pytest.approx(math.cos(2.0), rel=1e-6)


def test_review_fd_complex_of_float16_inputs_is_not_a_false_repeatability_error():
    x = np.array([1.0, 2.0], np.float16)
    (g,) = dk.grad(lambda x: dk.sum(dk.exp(x)), method="fd-complex")(x)
    np.testing.assert_allclose(g.astype(np.float64), np.exp(x.astype(np.float64)), rtol=2e-3)


def test_review_a_negligible_tangent_entry_below_the_step_is_not_an_error():
    x = np.array([1.0, 2.0])
    _, jt = dk.jvp(lambda x: dk.sum(dk.sin(x) * x), (x,), (np.array([1.0, 1e-20]),),
                   method="fd", step=1e-6)
    assert jt == pytest.approx(np.sin(1.0) + np.cos(1.0), rel=1e-6)


def test_review_a_tangent_entry_that_matters_and_does_not_move_is_named():
    # x = [1, 1e12], t = [1, 1]: the step sized for 1 does not move 1e12, whose term is 2e12
    with pytest.raises(dk.DomainError, match="below the resolution"):
        dk.jvp(lambda x: dk.sum(x * x), (np.array([1.0, 1e12]),), (np.ones(2),), method="fd")


@pytest.mark.parametrize("method", ["fd", "fd-forward", "fd-richardson"])
def test_review_an_output_with_a_zero_cotangent_is_not_differenced(method):
    # exp(1000·x₀) at x₀ = 0.7097 overflows when differenced; its cotangent is 0, so the VJP is
    # (0, 2·x₁) = (0, 4) by hand (the pairing's gradient gave it; the first output-wise version
    # raised an overflow)
    f = lambda x: dk.stack([dk.exp(x[0] * 1000.0), x[1] ** 2])
    (g,) = dk.vjp(f, np.array([0.7097, 2.0]), method=method)[1](np.array([0.0, 1.0]))
    np.testing.assert_allclose(g, [0.0, 4.0], rtol=1e-6, atol=0)
