"""Finite differences answer right or refuse by name: the complex step through NumPy operations
that are not complex-analytic, float16 inputs, points where the derivative is infinite, and the
shapes of tangents and cotangents. Values are checked against hand formulas."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import diffkit as dk

FD = ("fd", "fd-forward", "fd-central", "fd-complex", "fd-richardson")
X = np.array([0.5, -1.2, 2.0])
C = np.array([1.0, 2.0, 3.0])
M = np.array([[2.0, 0.3], [0.3, 1.0]])  # symmetric positive definite
R = np.array([[2.0, 0.3], [0.1, 1.0], [0.5, -0.7]])

# ----- 1. the complex step needs every operation it performs to be complex-analytic ------------

# On real inputs each of these looks analytic; at x + ih NumPy conjugates, takes a modulus, reads a
# Hermitian matrix or drops the imaginary part, and Im f(x + ih)/h is silently wrong.
NOT_ANALYTIC = {
    "norm": (lambda x: np.linalg.norm(x), X, "euclidean_norm"),
    "vector_norm": (lambda x: np.linalg.vector_norm(x), X, "euclidean_norm"),
    "matrix_norm": (lambda a: np.linalg.matrix_norm(a), M, "euclidean_norm"),
    "var": (lambda x: np.var(x), X, "conj"),
    "std": (lambda x: np.std(x), X, "(conj|abs)"),  # |x − mean|: the spread norm_sqrt reads
    "astype": (lambda x: np.sum(x.astype(np.float64) ** 2), X, "astype"),
    "vdot": (lambda x: np.vdot(x, C), X, "conj"),  # vdot is inner(conj(a), b)
    "slogdet": (lambda a: np.linalg.slogdet(a)[1], M, "(logabsdet|slogdet)"),
    "cholesky": (lambda a: np.sum(np.linalg.cholesky(a)), M, "cholesky"),
    "eigvalsh": (lambda a: np.sum(np.linalg.eigvalsh(a) ** 2), M, "eigvalsh"),
    "eigh": (lambda a: np.sum(np.linalg.eigh(a)[1]), M, "eigh"),
    "svd_s": (lambda a: np.sum(np.linalg.svd(a, full_matrices=False)[1]), R, "svd"),
    "svd_u": (lambda a: np.sum(np.linalg.svd(a, full_matrices=False)[0] * C[:, None]), R,
              "svd"),
    "qr": (lambda a: np.sum(np.linalg.qr(a)[1]), R, "qr"),
    "pinv": (lambda a: np.sum(np.linalg.pinv(a)), R, "pinv"),
}


@pytest.mark.parametrize("name", NOT_ANALYTIC)
def test_complex_step_refuses_operations_that_are_not_analytic_on_complex_numbers(name):
    f, x, op = NOT_ANALYTIC[name]
    with pytest.raises(dk.MissingRuleError, match=f"complex-analytic.*{op}"):
        dk.grad(f, method="fd-complex")(x)
    with pytest.raises(dk.MissingRuleError, match="complex-analytic"):
        dk.jacobian(lambda x: f(x) * x, method="fd-complex")(x)


def test_complex_step_keeps_the_analytic_operations():
    """det′ = det·A⁻ᵀ, d Σ A⁻¹ = −A⁻ᵀ 1 1ᵀ A⁻ᵀ, d Σ A⁻¹c, vdot(c, x)′ = c (c real)."""
    inv = np.linalg.inv(M)
    ones = np.ones((2, 2))
    cases = [
        (lambda a: np.linalg.det(a), M, np.linalg.det(M) * inv.T),
        (lambda a: np.sum(np.linalg.inv(a)), M, -inv.T @ ones @ inv.T),
        (lambda a: np.sum(np.linalg.pinv(a)), M, -inv.T @ ones @ inv.T),
        (lambda a: np.sum(np.linalg.solve(a, C[:2])),
         M, -np.outer(inv.T @ np.ones(2), inv @ C[:2])),
        (lambda x: np.vdot(C, x), X, C),
        (lambda x: np.sum(np.sort(x) * C), X, np.array([2.0, 1.0, 3.0])),
    ]
    for f, x, expected in cases:
        (g,) = dk.grad(f, method="fd-complex")(x)
        np.testing.assert_allclose(g, expected, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("name", ["polygamma", "kn", "yn"])
def test_complex_step_names_functions_that_take_no_complex_numbers(name):
    op = getattr(dk, name)
    with pytest.raises(dk.MissingRuleError, match=f"complex-analytic.*{name}"):
        dk.grad(lambda x: op(1, x), method="fd-complex")(1.3)


# ----- 2. float16: differences in float32, the derivative in float16 -----------------------------


@pytest.mark.parametrize("method", FD)
def test_float16_inputs_get_float16_derivatives_that_are_right(method):
    f = dk.parse("x^2")
    x = np.float16(1.5)
    (g,) = dk.grad(f, method=method)(x)
    assert type(g) is np.float16 and g == np.float16(3.0)  # 2x, exact in float16
    (ga,) = dk.grad(lambda x: np.sum(x**2), method=method)(np.array([1.5, 0.25], np.float16))
    assert ga.dtype == np.float16
    np.testing.assert_allclose(ga.astype(float), [3.0, 0.5], rtol=1e-3)
    d = dk.derivative(f, method=method)(x)
    assert type(d) is np.float16 and d == np.float16(3.0)
    if method == "fd-forward":  # its own O(h) second differences, as derivative(f, 2) takes
        with pytest.warns(RuntimeWarning, match="did not settle"):  # them: ~ε^⅓ in float32
            H = dk.hessian(f, method=method)(x)
        np.testing.assert_allclose(H.astype(float), [[2.0]], rtol=1e-2)
    else:
        H = dk.hessian(f, method=method)(x)
        np.testing.assert_allclose(H.astype(float), [[2.0]], rtol=1e-3)
    assert H.dtype == np.float16
    _, t = dk.jvp(f, (x,), (np.float16(1.0),), method=method)
    assert t == 3.0
    _, t = dk.jvp(lambda x: x**2, (np.array([1.5], np.float16),), (np.ones(1, np.float16),),
                  method=method)
    assert t.dtype == np.float16 and t[0] == np.float16(3.0)


# ----- 3. where the derivative is infinite, the one-sided and complex steps refuse ------------

INFINITE = [("sqrt(x)", 0.0), ("arcsin(x)", 1.0), ("arccos(x)", -1.0), ("x^(1/3)", 0.0)]


@pytest.mark.parametrize("method", ["fd-forward", "fd-complex"])
@pytest.mark.parametrize(("text", "x"), INFINITE)
def test_infinite_derivatives_are_refused_by_name(method, text, x):
    f = dk.parse(text)
    with pytest.raises((dk.NonDifferentiableError, dk.DomainError)):
        dk.grad(f, method="reverse")(x)
    with pytest.raises((dk.NonDifferentiableError, dk.DomainError)):
        dk.grad(f, method=method)(x)
    with pytest.raises((dk.NonDifferentiableError, dk.DomainError)):
        dk.jvp(f, (x,), (1.0,), method=method)


def test_the_checks_keep_finite_derivatives_near_those_points():
    """relu(x)**0.5 at −1 is constant nearby (0·∞ = 0); sqrt(relu(x)) + x there has slope 1."""
    assert dk.grad(dk.parse("relu(x)^0.5"), method="fd-forward")(-1.0) == (0.0,)
    (g,) = dk.grad(dk.parse("sqrt(relu(x)) + x"), method="fd-forward")(-1.0)
    assert g == pytest.approx(1.0, rel=1e-7)
    for method, rel in (("fd-forward", 1e-4), ("fd-complex", 1e-12)):  # sqrt′ = 1/(2√x)
        (g,) = dk.grad(dk.parse("sqrt(x)"), method=method)(1e-4)
        assert g == pytest.approx(50.0, rel=rel)


# ----- 4. tangents and cotangents are checked as forward and reverse mode check them -----------


@pytest.mark.parametrize("method", FD)
def test_jvp_refuses_a_complex_tangent_for_a_real_input(method):
    with pytest.raises(dk.ShapeError, match="complex"):
        dk.jvp(dk.parse("x^2"), (1.5,), (1j,), method=method)
    with pytest.raises(dk.ShapeError, match="complex"):
        dk.jvp(lambda x: x**2, (np.ones(3),), (np.full(3, 1j),), method=method)


@pytest.mark.parametrize("method", FD)
def test_jvp_refuses_a_tangent_of_another_shape(method):
    with pytest.raises(dk.ShapeError, match="tangent of shape"):
        dk.jvp(lambda x: x**2, (np.ones(3),), (1.0,), method=method)
    _, t = dk.jvp(lambda x: x**2, (np.array([1.0, 2.0, 3.0]),), (np.array([1.0, 0.0, 2.0]),),
                  method=method)
    np.testing.assert_allclose(t, [2.0, 0.0, 12.0], rtol=1e-5)  # 2x·ẋ


@pytest.mark.parametrize("method", ["fd", "fd-forward", "fd-complex", "fd-richardson"])
def test_vjp_refuses_a_cotangent_of_another_shape(method):
    _, pullback = dk.vjp(lambda x: x**2, np.array([1.0, 2.0]), method=method)
    with pytest.raises(dk.ShapeError, match="cotangent of shape"):
        pullback(np.ones((1, 2)))
    np.testing.assert_allclose(pullback(np.array([1.0, 3.0]))[0], [2.0, 12.0], rtol=1e-5)
    _, pullback = dk.vjp(dk.parse("x^2"), 3.0, method=method)
    assert pullback(1.0)[0] == pytest.approx(6.0, rel=1e-5)  # a scalar output takes a number


def test_a_forward_difference_evaluates_the_function_n_plus_one_times() -> None:
    """f(x) is shared by the n columns of a forward difference: n + 1 difference evaluations of a
    Python function of n inputs, as `evaluations` (the comparison's column) counts them — it
    evaluated f(x) again for every column (2n)."""
    from diffkit.engines.finite import FiniteDifferenceEngine

    calls = []

    def f(a, b, c):
        calls.append(1)
        return a * b + dk.sin(c)

    engine = FiniteDifferenceEngine(scheme="forward")
    fn = dk.function(f)
    before = len(calls)
    value, jac = engine.jacobian(fn, [1.0, 2.0, 3.0], [0, 1, 2])
    # f(x) — the value call, reused as the differences' base — one step per input, the
    # trace the one-sided check reads, and two calls at one stencil point that check f repeats
    # there: every call of f is counted
    assert engine.evaluations == len(calls) - before == 7
    assert value == 2.0 + np.sin(3.0)
    np.testing.assert_allclose(np.ravel(jac), [2.0, 1.0, np.cos(3.0)], rtol=1e-6)


# ----- 5. a real input beside a complex one is stepped along its real axis only ----------------

Z0, X0 = 1.0 + 1.0j, 2.0


def _real_partial(f, z, x, h=1e-6):
    """∂f/∂x for the real input x by a plain NumPy central difference (x stays real)."""
    return (f(z, x + h) - f(z, x - h)) / (2 * h)


@pytest.mark.parametrize("method", ["fd-central", "fd-forward", "fd-richardson"])
@pytest.mark.parametrize("case", ["abs", "real"])
def test_a_real_input_beside_a_complex_one_is_not_stepped_along_the_imaginary_axis(method, case):
    """f(z, x + ih) read the derivative in x twice where f is analytic in x: ∂/∂x of
    x² + Re z came out 8, not 4."""
    f = {"abs": lambda z, x: np.abs(z) * x**2, "real": lambda z, x: x**2 + np.real(z)}[case]
    ref = {"abs": 2 * abs(Z0) * X0, "real": 2 * X0}[case]  # by hand
    assert abs(_real_partial(f, Z0, X0) - ref) < 1e-6
    tol = 1e-4 if method == "fd-forward" else 1e-6
    gz, gx = dk.grad(f, method=method)(Z0, X0)
    assert isinstance(gx, float) and abs(gx - ref) < tol * ref
    gz_ref = {"abs": X0**2 * np.conj(Z0) / abs(Z0), "real": 1.0}[case]  # ∂u/∂x − i∂u/∂y
    assert abs(gz - gz_ref) < tol * 4
    _, pullback = dk.vjp(f, Z0, X0, method=method)
    assert abs(pullback(1.0)[1] - ref) < tol * ref


@pytest.mark.parametrize("method", ["fd-central", "fd-richardson"])
def test_a_holomorphic_function_of_a_complex_and_a_real_input(method):
    """z·x²: the Jacobian row (x², 2zx) — the real input's column is not checked against the
    Cauchy–Riemann equations (it has no imaginary step)."""
    jac = dk.jacobian(lambda z, x: z * x**2, method=method)(Z0, X0)
    np.testing.assert_allclose(np.ravel(jac), [X0**2, 2 * Z0 * X0], rtol=1e-8)
    with pytest.raises(dk.MissingRuleError, match="Cauchy"):
        dk.jacobian(lambda z, x: np.conj(z) * x**2, method=method)(Z0, X0)


# ----- 6. Hessians follow the scheme, as derivative(f, 2) does ---------------------------------


def _hessian_by_hand(x):
    """f = exp(a)·sin(b) + a²·b."""
    a, b = x
    return np.array([[np.exp(a) * np.sin(b) + 2 * b, np.exp(a) * np.cos(b) + 2 * a],
                     [np.exp(a) * np.cos(b) + 2 * a, -np.exp(a) * np.sin(b)]])


@pytest.mark.parametrize(("method", "rtol"), [("fd-richardson", 1e-9), ("fd-central", 1e-6),
                                              ("fd", 1e-6), ("fd-complex", 1e-6),
                                              ("fd-forward", 1e-4)])
def test_hessians_have_their_schemes_accuracy(method, rtol):
    """fd-richardson's Hessian was the plain central stencil (relative error 6e-8 on
    (eˣ sin x)'' where derivative(f, 2) gave 5e-12); it extrapolates now, off the diagonal too."""
    x0 = 1.3
    ref = 2 * np.exp(x0) * np.cos(x0)  # (eˣ sin x)'' by hand
    f = lambda x: dk.exp(x) * dk.sin(x)
    H = dk.hessian(f, method=method)(x0)
    assert abs(H[0, 0] - ref) < rtol * abs(ref)
    if method != "fd-complex":  # the complex step has no second derivatives of its own
        d2 = dk.derivative(f, 2, method=method)(x0)
        assert abs(H[0, 0] - d2) < rtol * abs(ref)
    x = np.array([0.4, -2.5])
    g = lambda v: np.exp(v[0]) * np.sin(v[1]) + v[0] ** 2 * v[1]
    np.testing.assert_allclose(dk.hessian(g, method=method)(x), _hessian_by_hand(x),
                               rtol=rtol, atol=rtol)


def test_a_hessian_that_does_not_settle_says_so():
    """The same error-estimate policy as derivative(f, n): a noisy second difference warns."""
    f = dk.parse("x^2")
    with pytest.warns(RuntimeWarning, match="did not settle"):
        H = dk.hessian(f, method="fd-forward")(np.float32(1.5))
    assert H.dtype == np.float32 and H[0, 0] == pytest.approx(2.0, rel=2e-2)


# ----- 7. what a black box cannot honour is refused by name ------------------------------------


@pytest.mark.parametrize("method", FD)
def test_stop_gradient_is_refused_where_the_steps_would_move_it(method):
    """FD evaluates the plain function, where stop_gradient(x) is x: x·stop_gradient(x) gave 4
    at 2, where every other method gives 2 (the stopped factor is a constant)."""
    f = lambda x: x * dk.stop_gradient(x)
    assert dk.grad(f, method="reverse")(2.0) == (2.0,)
    with pytest.raises(dk.MissingRuleError, match="stop_gradient"):
        dk.grad(f, method=method)(2.0)
    with pytest.raises(dk.MissingRuleError, match="stop_gradient"):
        dk.jacobian(lambda x: np.sin(x) * dk.stop_gradient(x), method=method)(X)
    if method != "fd-complex":
        with pytest.raises(dk.MissingRuleError, match="stop_gradient"):
            dk.hessian(lambda x: x**2 * dk.stop_gradient(x), method=method)(2.0)


@pytest.mark.parametrize("method", FD)
def test_stops_the_value_does_not_depend_on_are_kept(method):
    """logsumexp and softmax stop their max (the value does not depend on it), and a stopped
    value that does not reach the derivative changes nothing: these keep their numbers."""
    x = np.array([0.1, 1.2, -0.3])
    soft = np.exp(x) / np.sum(np.exp(x))  # logsumexp′ by hand
    (g,) = dk.grad(lambda v: dk.logsumexp(v), method=method)(x)
    np.testing.assert_allclose(g, soft, rtol=1e-6)
    (g,) = dk.grad(lambda v: dk.softmax(v)[0], method=method)(x)
    np.testing.assert_allclose(g, soft[0] * (np.eye(3)[0] - soft), rtol=1e-6)
    (g,) = dk.grad(lambda v: np.sum(v**2) + 0 * dk.stop_gradient(v[0]), method=method)(x)
    np.testing.assert_allclose(g, 2 * x, rtol=1e-6)
    if method != "fd-complex":  # which refuses sign (not complex-analytic)
        (g,) = dk.grad(lambda v: np.sum(v * np.sign(v)), method=method)(x)  # sign: a constant
        np.testing.assert_allclose(g, np.sign(x), rtol=1e-6)


def test_the_corpus_entries_fd_cannot_see_are_refused_by_name():
    from corpus import CORPUS

    for entry in CORPUS:
        if not entry.black_box:
            with pytest.raises(dk.MissingRuleError, match="black box"):
                dk.grad(entry.function(), method="fd")(*entry.args)


@pytest.mark.parametrize("method", ["fd-forward", "fd-central", "fd-richardson", "fd-complex"])
def test_a_point_outside_the_domain_is_a_domain_error(method):
    """np.log(x) at −1 in a Python function was a NonDifferentiableError from the real-step
    methods (its value call ran outside the handler that names NumPy's errors)."""
    for f, x in ((lambda x: np.log(x), -1.0), (lambda x: np.sqrt(x), -1.0),
                 (lambda x: 1.0 / x, 0.0), (lambda x: np.arcsin(x), 2.0)):
        with pytest.raises(dk.DomainError):
            dk.grad(f, method=method)(x)
    with pytest.raises(dk.DomainError):
        dk.hessian(lambda x: np.log(x), method=method)(-1.0)


def test_a_step_outside_the_domain_is_named():
    """sqrt at 1e-12: the central difference steps to x − h < 0."""
    with pytest.raises(dk.DomainError, match="stepped outside the domain"):
        dk.grad(lambda x: np.sqrt(x), method="fd-central")(1e-12)


@pytest.mark.parametrize("inner", FD)
def test_finite_differences_inside_another_derivative_are_refused_by_name(inner):
    """FD answers numbers and does not nest: a traced value of an outer derivative handed to it —
    as its argument, a closure or an input not in wrt — was a bare TypeError (isfinite)."""
    with pytest.raises(dk.TracingError, match="reverse"):
        dk.grad(lambda x: dk.grad(dk.sin, method=inner)(x)[0])(0.5)

    def closing(x):
        return x * dk.grad(lambda y: x * y * y, method=inner)(1.0)[0]

    with pytest.raises(dk.TracingError, match="enclosing derivative"):
        dk.grad(closing)(1.0)
    g = lambda x, k: np.sum(x**3) * k + k**2 * x[1]
    with pytest.raises(dk.TracingError, match="enclosing derivative"):
        dk.grad(lambda k: dk.grad(g, method=inner, wrt=0)(np.array([0.3, -0.5]), k)[0][1])(3.0)
    with pytest.raises(dk.TracingError, match="enclosing derivative"):
        dk.grad(lambda x: dk.derivative(lambda y: x * y**3, 2, method="fd-central")(1.0))(1.0)
    # the inner AD methods nest (d/dx 2x² = 4x), and a plain eager Tensor is numbers to FD
    assert dk.grad(lambda x: x * dk.grad(lambda y: x * y * y)(1.0)[0])(1.0) == (4.0,)
    (ge,) = dk.grad(lambda x: np.sum(x**2), method=inner)(dk.tensor(np.array([1.0, 2.0])))
    np.testing.assert_allclose(ge, [2.0, 4.0], rtol=1e-6)


# derivative(f, n ≥ 2) by finite differences answered the first output's derivative (0.0 for
# [x, x², sin x] at 2, where f'' = [0, 2, −sin 2]) and a scalar f of an array x was a bare
# ValueError: one output per point, as in every method, or an element-wise f of an array
@pytest.mark.parametrize("method", ["fd-central", "fd-forward", "fd-richardson", "fd-complex"])
@pytest.mark.parametrize("n", [1, 2])
def test_fd_derivative_needs_one_output_per_point(method, n):
    if method == "fd-complex" and n == 2:
        pytest.skip("the complex step gives first derivatives only (refused by name)")
    with pytest.raises(dk.ShapeError, match="scalar output"):
        dk.derivative(lambda x: dk.stack([x, x**2, dk.sin(x)]), n, method=method)(2.0)
    with pytest.raises(dk.ShapeError, match="element-wise"):
        dk.derivative(lambda v: dk.sum(v**3), n, method=method)(np.array([1.0, 2.0, 3.0]))
    x = np.array([1.0, 2.0, 3.0])
    want = 3 * x**2 if n == 1 else 6 * x  # element-wise f = x³, by hand
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # fd-forward's estimate may not settle
        got = dk.derivative(lambda v: v**3, n, method=method)(x)
    np.testing.assert_allclose(got, want, rtol=1e-4)


# ----- Richardson's restarts, entry by entry ------------------------------------------------------

def _fifty(t):
    """sin(50 t): a fast feature at every point, so a step sized by |t| = 1000 is far too large."""
    return np.sin(50 * t)


def test_richardson_refines_each_element_of_a_derivative_at_an_array():
    """One shared restart kept the large element's garbage (4.7e-3 for −0.894): each element's
    tableau is its own limit and keeps its own best step. Reference: 50·cos(50t) by hand."""
    x = np.array([1000.0, 0.1])
    d = dk.derivative(_fifty, method="fd-richardson")(x)
    np.testing.assert_allclose(d, 50 * np.cos(50 * x), rtol=1e-8)


def test_richardson_jvp_refines_each_output_entry():
    """A JVP's restarts never improved (the error estimate kept the worst of every earlier try),
    so the answer was the first, unconverged tableau: −0.12 for 50·cos(5) = 14.18."""
    x = np.array([1000.0, 0.1])
    _, t = dk.jvp(_fifty, (x,), (np.ones(2),), method="fd-richardson")
    np.testing.assert_allclose(t, 50 * np.cos(50 * x), rtol=1e-8)


def test_richardson_gradient_keeps_each_columns_own_step():
    """A smooth input's column beside a fast one keeps the digits of its own step."""
    g = dk.grad(lambda a, b: np.sin(50 * a) + np.exp(b), argnums=(0, 1), method="fd-richardson")
    da, db = g(1000.0, 0.1)
    assert abs(da - 50 * np.cos(50_000.0)) <= 1e-8
    assert abs(db - np.exp(0.1)) <= 1e-13


def test_an_unsettled_richardson_derivative_warns_and_an_explicit_step_does_not():
    """Restarts that cannot settle an entry say so (never a silently wrong digit count); an
    explicit step is used as given, its estimate only recorded."""
    x = np.array([1000.0, 0.1])
    # (the trace check says it first: the entry lies far from the trace's derivative)
    with pytest.warns(RuntimeWarning,
                      match="(did not settle|lies far from the derivative).*1 of 2 entries"):
        dk.derivative(lambda t: np.sin(5e3 * t), method="fd-richardson")(x)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        dk.grad(lambda a: np.sin(50 * a), method="fd-richardson", step=1.0)(1000.0)


def test_the_complex_step_passes_a_comparison_away_from_its_tie():
    """NumPy orders complex numbers by their real parts first: x + ih compares as x wherever the
    operands differ, so the step keeps the real point's branch (logsumexp's dominance mask, a
    hand-written where); at a tie its imaginary part would pick a side: refused by name."""
    g = dk.grad(lambda v: dk.where(v > 0, v * v, -v), method="fd-complex")
    assert g(0.5) == (pytest.approx(1.0, rel=1e-14),)
    assert g(-0.5) == (pytest.approx(-1.0, rel=1e-14),)
    with pytest.raises(dk.errors.MissingRuleError, match="greater"):
        g(0.0)


# logsumexp's dominance masks compare stopped values: the complex step passes them also at a tie

def test_logsumexp_complex_step_at_equal_pair():
    x = np.zeros(2)
    (g,) = dk.grad(lambda x: dk.logsumexp(x), method="fd-complex")(x)  # MissingRuleError
    np.testing.assert_allclose(g, [0.5, 0.5], rtol=1e-12)  # softmax of equal entries


def _np_central_jvp(f, x, v):
    """Plain NumPy central difference of g(t) = f(x + t v) at t = 0 (float64, standard step)."""
    h = np.cbrt(np.finfo(float).eps)
    return (f(x + h * v) - f(x - h * v)) / (2 * h)


# an FD JVP's step is the most restrictive moved element's (the largest's was 0.885 for 1.54)

@pytest.mark.parametrize("method", ["fd-central", "fd-richardson"])
def test_fd_jvp_step_not_sized_by_the_largest_moved_element(method):
    f = lambda x: np.sin(x[0]) + x[1]
    x, v = np.array([1.0, 1e6]), np.array([1.0, 1.0])
    exact = np.cos(1.0) + 1.0                          # hand formula
    ref = _np_central_jvp(f, x, v)                     # plain NumPy central difference
    assert abs(ref - exact) < 1e-4
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # an unsettled Richardson answer must at least warn
        got = dk.jvp(f, (x,), (v,), method=method)[1]
    tol = 1e-4 if method == "fd-central" else 1e-6  # f is ~1e6: rounding allows no better
    assert abs(got - exact) <= tol * max(1.0, abs(exact))  # snapshot: 0.885 / 0.9995 for 1.5403


def test_fd_richardson_jvp_two_arguments_at_different_scales():
    f = lambda a, b: 2.0 * np.sin(a) + b
    exact = 2.0 * np.cos(1.0) + 1.0
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        got = dk.jvp(f, (1.0, 1e6), (1.0, 1.0), method="fd-richardson")[1]
    assert abs(got - exact) <= 1e-6 * abs(exact)  # snapshot: 0.99904 for 2.0806, no warning


def test_richardson_first_derivatives_restart_inside_the_domain_near_its_edge():
    """Richardson's first steps (0.05·max(1, |x|)) leave log's domain at x = 0.01; its n ≥ 2
    derivatives restarted from smaller steps, its first derivatives were a DomainError. Now
    they restart the same way. Reference: cos(x)·log x + sin(x)/x by hand."""
    x = 0.01
    want = np.cos(x) * np.log(x) + np.sin(x) / x
    (g,) = dk.grad(lambda t: np.sin(t) * np.log(t), method="fd-richardson")(x)
    assert g == pytest.approx(want, rel=1e-9)
    d = dk.derivative(lambda t: np.sin(t) * np.log(t), method="fd-richardson")(np.array([x, 2.0]))
    np.testing.assert_allclose(d, np.cos([x, 2.0]) * np.log([x, 2.0]) + np.sin([x, 2.0]) /
                               np.array([x, 2.0]), rtol=1e-9)


def test_an_unsettled_derivative_warns_at_the_users_line():
    """The warning points at the call in the user's file (errors.warn_user), however deep in
    diffkit it is raised — not at a line of diffkit."""
    with pytest.warns(RuntimeWarning, match="did not settle|lies far from") as record:
        dk.derivative(lambda t: np.sin(5e3 * t), method="fd-richardson")(np.array([1000.0, 0.1]))
    assert record[0].filename == __file__
