"""The strong zero 0·∞ = 0 only where the zero holds near the point.

Every engine took 0·∞ = 0 wherever an exact zero met an infinite local derivative. That is the
limit where the zero holds on a neighbourhood (relu′ left of 0, a mask, a constant factor 0) and
a wrong number where it holds at the point alone: sqrt(x)**2 is x for x ≥ 0, derivative 1 at 0
(by hand), and every engine answered 0; so did cbrt(x**3) (the identity) and sqrt(x)*sqrt(x).
Now such a product is a NonDifferentiableError naming the primitive (as PyTorch and JAX answer
NaN there), and the flat zeros keep their answers (each checked against a hand value)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import diffkit as dk

ENGINES = ["reverse", "forward", "symbolic", "compiled", "auto"]

# derivatives whose zero side holds at the point only: each was 0 in every engine (the hand
# values: sqrt(x)² = x and cbrt(x³) = x have derivative 1 at 0; x·sqrt(x) = x^1.5 has 0 there,
# which the engines cannot tell from the others without evaluating nearby — refused alike)
ACCIDENTAL = {
    "sqrt(x)**2": lambda x: np.sqrt(x) ** 2,
    "sqrt(x)*sqrt(x)": lambda x: np.sqrt(x) * np.sqrt(x),
    "cbrt(x**3)": lambda x: np.cbrt(x**3),
    "x*sqrt(x)": lambda x: x * np.sqrt(x),
}


@pytest.mark.parametrize("method", ENGINES)
@pytest.mark.parametrize("name", list(ACCIDENTAL))
def test_an_infinite_derivative_times_a_zero_at_the_point_only_is_refused(name, method):
    with pytest.raises(dk.NonDifferentiableError, match="not differentiable at 0"):
        dk.grad(ACCIDENTAL[name], method=method)(0.0)


@pytest.mark.parametrize("method", ["reverse", "forward", "symbolic"])
def test_jacobians_jvps_and_vjps_refuse_it_too(method):
    x = np.array([0.0, 4.0])
    with pytest.raises(dk.NonDifferentiableError):
        dk.jacobian(lambda x: np.sqrt(x) ** 2, method=method)(x)
    with pytest.raises(dk.NonDifferentiableError):
        dk.jvp(lambda x: np.sqrt(x) ** 2, (x,), (np.array([1.0, 0.0]),), method=method)
    # the entry at 0 not asked for (a zero tangent, a zero cotangent: nothing moves there)
    _, t = dk.jvp(lambda x: np.sqrt(x) ** 2, (x,), (np.array([0.0, 1.0]),), method=method)
    np.testing.assert_allclose(t, [0.0, 1.0], rtol=1e-15)


def test_eager_backward_gives_nan_as_pytorch_not_a_number_that_looks_right():
    x = dk.tensor(0.0, requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        (dk.sqrt(x) ** 2).backward()
    assert np.isnan(x.grad)  # was 0.0; the hand value is 1, PyTorch gives nan


X3 = np.array([1.0, 0.0, 4.0])
# zeros that hold near the point: answered, with the hand values
FLAT = {
    "relu(x)**0.5 at -1": (lambda x: dk.relu(x) ** 0.5, -1.0, 0.0),
    "maximum(x, 0)**0.5 at -1": (lambda x: np.maximum(x, 0.0) ** 0.5, -1.0, 0.0),
    "clip(x, 0, 1)**0.5 at -1": (lambda x: np.clip(x, 0.0, 1.0) ** 0.5, -1.0, 0.0),
    "0*sqrt(x) at 0": (lambda x: 0.0 * np.sqrt(x), 0.0, 0.0),
    # (a mask away from its threshold: at it, x > 0 at 0 flips, and the derivative does not
    # exist — refused, tests/test_unsteady_masks41.py)
    "where(x > 1, sqrt(x), 0) at 0": (lambda x: np.where(x > 1, np.sqrt(x), 0.0), 0.0, 0.0),
    "sum(mask*sqrt(x))": (lambda x: np.sum(np.array([1.0, 0.0, 1.0]) * np.sqrt(x)), X3,
                          [0.5, 0.0, 0.25]),
    "sqrt(x)[0]": (lambda x: np.sqrt(x)[0], X3, [0.5, 0.0, 0.0]),
    "sum(sqrt(x)[[0, 2]])": (lambda x: np.sum(np.sqrt(x)[[0, 2]]), X3, [0.5, 0.0, 0.25]),
    "sum(sqrt(x) * where(x > 0.5, 1, 0))": (
        lambda x: np.sum(np.sqrt(x) * np.where(x > 0.5, 1.0, 0.0)), X3, [0.5, 0.0, 0.25]),
    "std of equal elements": (lambda x: np.std(x), np.full(3, 2.0), [0.0, 0.0, 0.0]),
}


@pytest.mark.parametrize("method", ENGINES)
@pytest.mark.parametrize("name", list(FLAT))
def test_a_zero_that_holds_near_the_point_still_wins(name, method):
    f, x, want = FLAT[name]
    (g,) = dk.grad(f, method=method)(x)
    np.testing.assert_array_equal(np.asarray(g), want)


def test_the_reverse_jacobian_audits_each_row():
    # rows of the identity: row 0 asks about the entry at 0, row 1 does not
    def f(x):
        return np.stack([np.sqrt(x[0]) * 0.0 + x[1], np.sqrt(x[1]) ** 2])

    J = dk.jacobian(f, method="reverse")(np.array([0.0, 4.0]))
    np.testing.assert_allclose(J, [[0.0, 1.0], [0.0, 1.0]], rtol=1e-15)
    with pytest.raises(dk.NonDifferentiableError):
        dk.jacobian(f, method="reverse")(np.array([4.0, 0.0]))


@pytest.mark.parametrize("method", ENGINES)
def test_std_whose_variance_underflows_is_refused_not_zero(method):
    # distinct elements (the derivative exists: (x − mean)/(n·std), ~±1) whose variance
    # underflows to 0: no finite derivative in float64 arithmetic — a named error, as before
    # std had its own root; not the zero-variance convention's 0
    x = np.array([1e-200, 2e-200, 4e-200])
    with pytest.raises((dk.NonDifferentiableError, dk.DomainError)):
        dk.grad(lambda x: np.std(x), method=method)(x)


@pytest.mark.parametrize("method", ["reverse", "forward", "symbolic"])
def test_a_zero_weight_before_sqrt_of_relu_is_not_refused(method):
    # zero-initialised weights times sqrt(relu(z)): where z < 0, relu′ = 0 holds near the point,
    # so nothing moves sqrt's input and sqrt′(0) = ∞ meets nothing (hand: ∂/∂w = sqrt(relu(z)),
    # ∂/∂z = w/(2 sqrt(z)) on z > 0, 0 on z < 0)
    z = np.array([-1.0, 4.0, -2.0])
    gw, gz = dk.grad(lambda w, z: np.sum(w * np.sqrt(dk.relu(z))), wrt=(0, 1),
                     method=method)(np.zeros(3), z)
    np.testing.assert_array_equal(gw, [0.0, 2.0, 0.0])
    np.testing.assert_array_equal(gz, [0.0, 0.0, 0.0])


@pytest.mark.parametrize("method", ["reverse", "forward", "symbolic"])
def test_norm_sqrt_broadcasts_like_every_elementwise_record(method) -> None:
    """norm_sqrt(v, s) is element-wise: its value has the broadcast shape of v and s (it had
    v's, so Σ norm_sqrt(v, s) over a wider s counted each root once, and the derivative failed
    with NumPy's broadcast error from inside the sweep)."""
    s = np.array([0.5, 2.0, 1.0])

    def f(x):
        return dk.sum(dk.norm_sqrt(dk.reshape(x * x + 0.25, (1, 1)), s))

    x = 0.7
    want_value = 3 * np.sqrt(x * x + 0.25)
    assert dk.function(f)(x) == pytest.approx(want_value, rel=1e-15)
    assert np.shape(dk.norm_sqrt(np.ones((2, 1)), s)) == (2, 3)
    (g,) = dk.grad(f, method=method)(x)
    assert g == pytest.approx(3 * x / np.sqrt(x * x + 0.25), rel=1e-13)  # 3 · d√(x²+¼)/dx
