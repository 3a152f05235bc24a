"""The strong zero (0·∞ = 0) and its neighbours, against references independent of diffkit.

* the eager tape takes the strong zero whatever NumPy's global errstate (hand values; PyTorch
  where installed);
* complex sign(z) = z/|z| being differentiated is refused by name (it was silently a constant);
  real sign has derivative 0;
* symbolic second derivatives through an infinite partial: the true value or the named error,
  never a silent 0 (hand formulas);
* ``.grad`` of a 0-d leaf is a writable 0-d array;
* a symbolic derivative inside an outer trace is refused by name (it answers numbers).
"""

import warnings

import numpy as np
import pytest

import diffkit as dk

# ----- the eager tape's strong zero does not depend on np.errstate -------------------------------


def _eager_grad(fn, value, mode):
    with np.errstate(all=mode), warnings.catch_warnings():
        warnings.simplefilter("error")  # the strong zero is an answer, not a NaN with a warning
        t = dk.tensor(np.array(value, dtype=float), requires_grad=True)
        fn(t).backward()
    return t.grad


@pytest.mark.parametrize("mode", ["warn", "ignore", "raise"])
def test_eager_relu_pow_half_at_negative_point_is_zero_under_any_errstate(mode):
    # relu(x)**0.5 is identically 0 near x = -1 (hand: derivative 0; PyTorch gives 0 too)
    assert _eager_grad(lambda t: dk.relu(t) ** 0.5, -1.0, mode) == 0.0
    # with a smooth term beside it: d/dx (0 + 2x) = 2
    assert _eager_grad(lambda t: dk.relu(t) ** 0.5 + 2.0 * t, -1.0, mode) == 2.0


@pytest.mark.parametrize("mode", ["warn", "ignore", "raise"])
def test_eager_std_of_equal_elements_has_derivative_zero_under_any_errstate(mode):
    # docs/design.md: std where all elements are equal has derivative 0 (as PyTorch float64)
    g = _eager_grad(lambda t: t.std(), [1.0, 1.0, 1.0], mode)
    np.testing.assert_array_equal(g, np.zeros(3))
    # np.where(x > 1, sqrt(|x|), 0) at 0: the strong zero too (hand: 0); with x > 0 the mask
    # flips at 0 and the derivative does not exist (NaN: tests/test_unsteady_masks41.py)
    assert _eager_grad(lambda t: np.where(t > 1, np.sqrt(np.abs(t)), 0.0), 0.0, mode) == 0.0


def test_eager_infinite_minus_infinite_is_still_nan_as_in_pytorch():
    # sqrt(x) - sqrt(x) at 0: ∞ − ∞ where the paths merge has no finite answer; the eager tape
    # keeps NumPy's (and PyTorch's) NaN rather than an error or a made-up number
    with np.errstate(all="ignore"):
        t = dk.tensor(0.0, requires_grad=True)
        (np.sqrt(t) - np.sqrt(t)).backward()
    assert np.isnan(t.grad)
    t = dk.tensor(0.0, requires_grad=True)
    with np.errstate(all="ignore"):
        np.sqrt(t).backward()
    assert t.grad == np.inf  # sqrt′(0), as PyTorch


def test_eager_strong_zero_matches_torch():
    torch = pytest.importorskip("torch")
    x = torch.tensor(-1.0, dtype=torch.float64, requires_grad=True)
    (torch.relu(x) ** 0.5).backward()
    y = torch.ones(3, dtype=torch.float64, requires_grad=True)
    y.std().backward()
    assert _eager_grad(lambda t: dk.relu(t) ** 0.5, -1.0, "warn") == float(x.grad)
    np.testing.assert_array_equal(_eager_grad(lambda t: t.std(), [1.0] * 3, "warn"),
                                  y.grad.numpy())


# ----- complex sign(z) = z/|z| ------------------------------------------------------------------


def _central_grad(u, z, h=1e-6):
    """JAX's convention ∂u/∂x − i·∂u/∂y for a real-valued u, by NumPy central differences."""
    return (u(z + h) - u(z - h)) / (2 * h) - 1j * (u(z + 1j * h) - u(z - 1j * h)) / (2 * h)


@pytest.mark.parametrize("method", ["reverse", "forward", "auto", "compiled", "symbolic"])
def test_complex_sign_being_differentiated_is_refused_by_name(method):
    # sign(z) = z/|z| is not complex-analytic; differentiating it as a constant gave 0.447+0.894j
    # for Re(sign(z)·z) at 1+2i (hand: 1.16276+1.25220j). A named refusal, as round's
    z = 1.0 + 2.0j
    with pytest.raises(dk.MissingRuleError, match="sign"):
        dk.grad(lambda w: np.real(np.sign(w) * w), method=method)(z)
    with pytest.raises(dk.MissingRuleError, match="sign"):
        dk.grad(lambda w: np.sign(w), method=method)(z)


def test_complex_sign_written_as_z_over_abs_z_is_differentiated():
    # the refusal's suggestion gives the hand value (u = (x² − y²)/r)
    z = 1.0 + 2.0j
    x, y, r = 1.0, 2.0, np.sqrt(5.0)
    hand = (2 * x / r - (x * x - y * y) * x / r**3) - 1j * (-2 * y / r - (x * x - y * y) * y / r**3)
    assert abs(_central_grad(lambda w: np.real(np.sign(w) * w), z) - hand) < 1e-8
    (g,) = dk.grad(lambda w: np.real(w / np.abs(w) * w))(z)
    assert abs(g - hand) < 1e-12


def test_complex_sign_of_a_constant_and_eager_tensors():
    # sign of a complex constant is a constant: d/dx x·Re sign(c) = Re sign(c) = 0.6 (c = 3+4i)
    c = 3.0 + 4.0j
    assert dk.grad(lambda x: x * np.real(np.sign(c)))(2.0)[0] == pytest.approx(0.6)
    t = dk.tensor(np.array([3.0 + 4.0j]))  # not differentiated: NumPy's value
    np.testing.assert_allclose(np.sign(t).value, [0.6 + 0.8j])
    with pytest.raises(dk.MissingRuleError, match="sign"):
        np.sign(dk.tensor(np.array([3.0 + 4.0j]), requires_grad=True))


@pytest.mark.parametrize("method", ["reverse", "forward", "symbolic", "compiled"])
def test_real_sign_has_derivative_zero(method):
    # d/dx sign(x)·x² = sign(x)·2x (hand), 0 at 0
    x = np.array([-2.0, 0.0, 3.0])
    (g,) = dk.grad(lambda x: np.sum(np.sign(x) * x**2), method=method)(x)
    np.testing.assert_array_equal(g, [4.0, 0.0, 6.0])


# ----- symbolic second derivatives through an infinite partial ----------------------------------


@pytest.mark.parametrize("n", [2, 3])
def test_symbolic_derivative_through_sqrt_at_zero_is_not_silently_zero(n):
    # sqrt(x²)² = x²: f'' = 2, f''' = 0 (hand); reverse and forward raise NonDifferentiableError
    f = lambda x: np.sqrt(x**2) ** 2
    try:
        d = dk.derivative(f, n, method="symbolic")(0.0)
    except dk.NonDifferentiableError:
        return
    assert d == pytest.approx([None, None, 2.0, 0.0][n])


@pytest.mark.parametrize("f, x, hand", [
    (lambda x: np.std(x) ** 2, np.ones(2), np.eye(2) - 0.5),  # var: (2/n)(I − 11ᵀ/n)
    (lambda x: np.sqrt(np.sum(x**2)) ** 2, np.zeros(2), 2.0 * np.eye(2)),  # ‖x‖²
])
def test_symbolic_hessian_through_sqrt_at_zero_is_not_silently_zero(f, x, hand):
    try:
        h = dk.hessian(f, method="symbolic")(x)
    except dk.NonDifferentiableError:
        return
    np.testing.assert_allclose(h, hand, atol=1e-12)


def test_symbolic_second_derivative_keeps_the_strong_zero_of_a_constant_piece():
    # relu(x)**0.5 + x³ is x³ near −1: f'' = 6x = −6 (hand), and the first derivative is 3
    f = lambda x: dk.relu(x) ** 0.5 + x**3
    assert dk.derivative(f, 1, method="symbolic")(-1.0) == pytest.approx(3.0)
    assert dk.derivative(f, 2, method="symbolic")(-1.0) == pytest.approx(-6.0)


# ----- .grad of a 0-d leaf ----------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("body", [lambda t: t * t, lambda t: (t[None] * t).sum()],
                         ids=["scalar-sweep", "general-sweep"])
def test_eager_0d_grad_is_a_writable_array(dtype, body):
    t = dk.tensor(np.array(3.0, dtype=dtype), requires_grad=True)
    body(t).backward()
    assert type(t.grad) is np.ndarray and t.grad.shape == () and t.grad.dtype == dtype
    assert t.grad == 6.0  # 2·3 (hand)
    t.grad.fill(0.0)  # zeroing in place works (a NumPy scalar would silently ignore it)
    body(t).backward()
    assert t.grad == 6.0
    body(t).backward()  # accumulation keeps an array
    assert type(t.grad) is np.ndarray and t.grad.dtype == dtype and t.grad == 12.0
    t.grad[...] = 1.0
    assert t.grad == 1.0


# ----- symbolic does not nest ---------------------------------------------------------------------


@pytest.mark.parametrize("outer", ["reverse", "forward"])
def test_symbolic_inside_an_outer_trace_is_a_tracing_error(outer):
    def f(x):  # closes over the outer traced x
        return x * dk.grad(lambda y: x * y * y, method="symbolic")(1.0)[0]

    with pytest.raises(dk.TracingError, match="symbolic"):
        dk.grad(f, method=outer)(1.0)
    with pytest.raises(dk.TracingError, match="symbolic"):
        dk.grad(lambda x: dk.derivative(dk.sin, 2, method="symbolic")(x), method=outer)(0.5)
    # the same derivative with a nesting method: d/dx 2x² = 4x (hand)
    g = lambda x: x * dk.grad(lambda y: x * y * y, method="reverse")(1.0)[0]
    assert dk.grad(g, method=outer)(1.0)[0] == pytest.approx(4.0)
