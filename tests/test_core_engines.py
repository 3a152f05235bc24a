"""Engines against hand formulas and each other: FD convergence orders, the complex step, the
tanh(A @ x) Jacobian, Hessians and n-th derivatives, JVP/VJP products, check_grads, the corpus."""

from __future__ import annotations

import math

import numpy as np
import pytest
from conftest import ALL_METHODS, ENGINES, EXACT, assert_close, flat_grads
from corpus import CORPUS, Entry

import diffkit as dk

# ----- finite differences: convergence order (findiff's test_accuracy) ------------------------


def _slope(scheme: str, steps: np.ndarray) -> float:
    f = dk.parse("exp(x) * sin(x)")
    x = 0.7
    exact = math.exp(x) * (math.sin(x) + math.cos(x))
    errors = [abs(dk.grad(f, method="fd", scheme=scheme, step=float(h))(x)[0] - exact)
              for h in steps]
    slope, _ = np.polyfit(np.log(steps), np.log(errors), 1)
    return float(slope)


def test_fd_forward_converges_at_order_1() -> None:
    assert _slope("forward", np.logspace(-2, -5, 7)) == pytest.approx(1.0, abs=0.1)


def test_fd_central_converges_at_order_2() -> None:
    assert _slope("central", np.logspace(-1, -3, 7)) == pytest.approx(2.0, abs=0.1)


def test_fd_method_names_are_the_schemes() -> None:
    f = dk.parse("exp(x) * sin(x)")
    for scheme in ("forward", "central", "complex", "richardson"):
        assert dk.grad(f, method=f"fd-{scheme}")(0.7) == dk.grad(f, method="fd", scheme=scheme)(0.7)


@pytest.mark.parametrize("x", [0.7, 3.0, 25.0])
def test_complex_step_reaches_machine_precision(x: float) -> None:
    f = dk.parse("exp(x) * sin(x) / (1 + x^2)")
    exact = (math.exp(x) * (math.sin(x) + math.cos(x)) / (1 + x**2)
             - math.exp(x) * math.sin(x) * 2 * x / (1 + x**2) ** 2)
    (g,) = dk.grad(f, method="fd-complex")(x)
    assert abs(g - exact) <= 2e-15 * abs(exact)
    # central differences cannot get there at any step
    assert abs(dk.grad(f, method="fd-central")(x)[0] - exact) > 1e-13 * abs(exact)


def test_complex_step_is_step_independent() -> None:
    f = dk.parse("sin(x)^3")
    exact = 3 * math.sin(0.4) ** 2 * math.cos(0.4)
    for h in (1e-8, 1e-20, 1e-100):
        assert dk.grad(f, method="fd", scheme="complex", step=h)(0.4)[0] == pytest.approx(
            exact, rel=1e-15)


# ----- the array case: Jacobian of tanh(A @ x) ------------------------------------------------


@pytest.mark.parametrize("method", ALL_METHODS)
def test_jacobian_of_tanh_matvec(method: str) -> None:
    rng = np.random.default_rng(7)
    A = rng.normal(size=(4, 3))
    x = rng.normal(size=3)
    y = np.tanh(A @ x)
    expected = np.diag(1 - y**2) @ A
    J = dk.jacobian(lambda v: dk.tanh(A @ v), method=method)(x)
    assert J.shape == (4, 3)
    assert_close(J, expected, method)
    # with A an input too: the (4, 12 + 3) Jacobian; ∂y_i/∂A_ij = (1 − y_i²) x_j
    JA = dk.jacobian(lambda M, v: dk.tanh(M @ v), method=method)(A, x)
    expected_A = np.zeros((4, 12))
    for i in range(4):
        expected_A[i, 3 * i:3 * i + 3] = (1 - y[i] ** 2) * x
    assert_close(JA, np.hstack([expected_A, expected]), method)


# ----- higher order ---------------------------------------------------------------------------

HESSIANS = [
    ("x^2*y + y + 2", (3.0, 4.0), lambda x, y: [[2 * y, 2 * x], [2 * x, 0.0]]),
    ("ln(x1) + x1*x2 - sin(x2)", (2.0, 5.0),
     lambda a, b: [[-1 / a**2, 1.0], [1.0, math.sin(b)]]),
    ("exp(x*y)", (0.3, -0.7),
     lambda x, y: [[y * y * math.exp(x * y), (1 + x * y) * math.exp(x * y)],
                   [(1 + x * y) * math.exp(x * y), x * x * math.exp(x * y)]]),
    ("sigmoid(x) * sqrt(1 + y^2)", (0.4, 1.5), None),
]


def _sig(x: float) -> float:
    return 1 / (1 + math.exp(-x))


def _hess_sigmoid_sqrt(x: float, y: float) -> list[list[float]]:
    s = _sig(x)
    r = math.sqrt(1 + y * y)
    return [[s * (1 - s) * (1 - 2 * s) * r, s * (1 - s) * y / r],
            [s * (1 - s) * y / r, s / r**3]]


@pytest.mark.parametrize("method", ENGINES + ("fd-complex",))
@pytest.mark.parametrize(("text", "point", "hand"), HESSIANS, ids=[h[0] for h in HESSIANS])
def test_hessian_against_hand_formulas(text: str, point: tuple[float, ...], hand, method: str
                                       ) -> None:
    expected = (hand or _hess_sigmoid_sqrt)(*point)
    assert_close(dk.hessian(text, method=method)(*point), expected, method, 2, text)


DERIVATIVES = [
    ("sin(x)", 0.3, lambda n, x: math.sin(x + n * math.pi / 2)),
    ("exp(2*x)", -0.4, lambda n, x: 2**n * math.exp(2 * x)),
    ("x^5", 1.3, lambda n, x: math.perm(5, n) * x ** (5 - n)),
    ("log(x)", 1.7, lambda n, x: (-1) ** (n - 1) * math.factorial(n - 1) / x**n),
]


@pytest.mark.parametrize("method", ENGINES)
@pytest.mark.parametrize("n", [0, 1, 2, 3])
@pytest.mark.parametrize(("text", "x", "hand"), DERIVATIVES, ids=[d[0] for d in DERIVATIVES])
def test_nth_derivative(text: str, x: float, hand, n: int, method: str) -> None:
    got = dk.derivative(text, n, method=method)(x)
    expected = hand(n, x) if n else dk.parse(text)(x)
    if method in EXACT:
        assert got == pytest.approx(expected, rel=1e-12, abs=1e-12)
    else:  # the n-th central difference loses about 16/(n + 2) digits per order
        assert got == pytest.approx(expected, rel=[0, 1e-8, 1e-5, 1e-3][n], abs=1e-6)


def test_fourth_derivative_exact_engines() -> None:
    for m in EXACT:
        assert dk.derivative("x^5", 4, method=m)(1.3) == pytest.approx(120 * 1.3, rel=1e-12)
        assert dk.derivative("sin(x)", 4, method=m)(0.3) == pytest.approx(math.sin(0.3), rel=1e-12)


# ----- JVP and VJP against Jacobian products --------------------------------------------------


def _vector_fn(A: np.ndarray):
    return lambda x, w: dk.sin(A @ x) * w + dk.sum(x * x)


@pytest.mark.parametrize("method", ENGINES)
def test_jvp_and_vjp_are_jacobian_products(method: str) -> None:
    rng = np.random.default_rng(11)
    A = rng.normal(size=(3, 2))
    x, w = rng.normal(size=2), rng.normal(size=3)
    f = _vector_fn(A)
    J_hand = np.hstack([np.cos(A @ x)[:, None] * A * w[:, None] + 2 * x[None, :],
                        np.diag(np.sin(A @ x))])
    J = dk.jacobian(f, method=method)(x, w)
    assert_close(J, J_hand, method)
    tx, tw = rng.normal(size=2), rng.normal(size=3)
    out, tout = dk.jvp(f, (x, w), (tx, tw), method=method)
    assert_close(out, np.sin(A @ x) * w + x @ x, "reverse")
    assert_close(tout, J_hand @ np.concatenate([tx, tw]), method)
    _, pullback = dk.vjp(f, x, w, method=method)
    ct = rng.normal(size=3)
    cx, cw = pullback(ct)
    assert np.shape(cx) == (2,) and np.shape(cw) == (3,)
    assert_close(np.concatenate([cx, cw]), ct @ J_hand, method)


def test_jvp_vjp_scalar_examples() -> None:
    for m in EXACT:
        assert dk.jvp("x*y", (2.0, 3.0), (1.0, 0.0), method=m) == (6.0, 3.0)
        out, pull = dk.vjp("x*y", 2.0, 3.0, method=m)
        assert out == 6.0 and pull(1.0) == (3.0, 2.0)


def test_auto_method_picks_a_mode_and_agrees() -> None:
    A = np.arange(6.0).reshape(3, 2) / 7
    tall = dk.jacobian(lambda x: dk.tanh(A @ x), method="auto")
    assert_close(tall(np.ones(2)), dk.jacobian(lambda x: dk.tanh(A @ x))(np.ones(2)), "reverse")
    assert tall.engine.last_choice == "forward"
    wide = dk.grad(lambda x: dk.sum(dk.tanh(x)), method="auto")
    wide(np.ones(5))
    assert wide.engine.last_choice == "reverse"


# ----- check_grads --------------------------------------------------------------------------


def test_check_grads_passes_on_agreeing_engines() -> None:
    res = dk.check_grads("sin(x) * y + exp(x*y)", [0.5, 2.0])
    assert set(res) == {"reverse", "forward", "symbolic", "fd"}
    res2 = dk.check_grads("sin(x) * y + exp(x*y)", [0.5, 2.0], order=2)
    assert res2["reverse"] == pytest.approx(res2["symbolic"], rel=1e-12)


def test_check_grads_reports_both_numbers_when_engines_disagree() -> None:
    """relu at its kink: AD says 0 (documented), central differences say 1/2."""
    f = dk.Function(dk.relu, ["x"])
    with pytest.raises(AssertionError) as info:
        dk.check_grads(f, [0.0], methods=("reverse", "fd"))
    text = str(info.value)
    assert "fd" in text and "reverse" in text
    assert "0.5" in text and "0." in text


def test_check_grads_catches_a_wrong_rule() -> None:
    """A deliberately wrong sin rule (cos → sin) in a copy of the record is caught against FD."""
    import dataclasses

    from diffkit import primitives

    wrong = dataclasses.replace(primitives.REGISTRY["sin"],
                                partials=(lambda x, o: dk.sin(x),))
    f = dk.Function(lambda x: wrong(x) * 2.0, ["x"])
    with pytest.raises(AssertionError, match="disagree"):
        dk.check_grads(f, [0.4], methods=("reverse", "fd"))
    with pytest.raises(AssertionError, match="disagree"):
        dk.check_grads(f, [0.4], methods=("reverse", "symbolic"))


def test_check_grads_rejects_bad_order() -> None:
    with pytest.raises(ValueError, match="order"):
        dk.check_grads("x", [1.0], order=3)


# ----- the corpus -----------------------------------------------------------------------------


@pytest.mark.parametrize(("entry", "method"), [
    pytest.param(e, m, id=f"{e.name}-{m}") for e in CORPUS for m in ENGINES])
def test_corpus(entry: Entry, method: str) -> None:
    f = entry.function()
    if method == "fd" and not entry.black_box:  # the steps would move what stop_gradient stops
        with pytest.raises(dk.MissingRuleError, match="stop_gradient"):
            dk.grad(f, method=method)(*entry.args)
        return
    got = dk.grad(f, method=method)(*entry.args)
    reference = dk.grad(f, method="reverse")(*entry.args)
    for g, a in zip(got, entry.args, strict=True):
        assert np.shape(g) == np.shape(a)
    assert_close(flat_grads(got), flat_grads(reference), method, 1, entry.name)
    if entry.grad is not None:
        assert_close(flat_grads(got), flat_grads(entry.grad(*entry.args)), method, 1, entry.name)
    if method in EXACT:
        dk.check_grads(f, list(entry.args), methods=("reverse", method), order=2)
