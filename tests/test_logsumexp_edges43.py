"""logsumexp / softmax at edge inputs (hunt 43/r2 findings 2 and 3): rows whose maximum is not
finite, empty reductions, 0-d arrays; references are PyTorch (float64), JAX x64 and hand values."""

import warnings

import mpmath as mp
import numpy as np
import pytest

import diffkit as dk
from diffkit.errors import DomainError, ShapeError

torch = pytest.importorskip("torch")

INF = np.inf


def _quiet(f, *args, **kwargs):
    """f(*args, **kwargs) with every warning an error (no RuntimeWarning from a branch not taken)."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        return f(*args, **kwargs)


ROWS = [[-INF, -INF, -INF], [-INF], [INF, 0.0, 1.0], [INF, -INF], [1.0, -INF, 0.0],
        [np.nan, 1.0], [INF, INF], [-1e308, -INF]]


@pytest.mark.parametrize("row", ROWS, ids=str)
def test_logsumexp_of_a_row_with_a_non_finite_maximum_is_torchs(row):
    x = np.array(row)
    want = torch.logsumexp(torch.tensor(x), 0).item()
    got = _quiet(dk.logsumexp, x)
    np.testing.assert_array_equal(got, want)


def test_logsumexp_of_masked_rows_on_the_eager_tape():
    x = np.array([[1.0, -INF, 0.0], [-INF, -INF, -INF], [INF, 0.0, -INF]])
    t = dk.tensor(x, requires_grad=True)
    y = _quiet(dk.logsumexp, t, axis=1)
    want = torch.logsumexp(torch.tensor(x), 1).numpy()
    np.testing.assert_array_equal(y.value, want)
    _quiet(y[0].backward)
    xt = torch.tensor(x[0], requires_grad=True)
    torch.logsumexp(xt, 0).backward()
    np.testing.assert_allclose(t.grad[0], xt.grad.numpy(), rtol=1e-15, atol=0)
    np.testing.assert_array_equal(t.grad[1:], 0.0)


@pytest.mark.parametrize("method", ["reverse", "forward", "compiled", "symbolic"])
def test_gradient_through_a_constant_mask_matches_jax(method):
    jax = pytest.importorskip("jax")
    jax.config.update("jax_enable_x64", True)
    from jax.scipy.special import logsumexp as jlse

    mask = np.array([0.0, -INF, 0.0])
    x = np.array([1.0, 2.0, 0.5])
    want = np.asarray(jax.grad(lambda v: jlse(v + mask))(x))
    (got,) = _quiet(dk.grad(lambda v: dk.logsumexp(v + mask), method=method), x)
    np.testing.assert_allclose(got, want, rtol=1e-15, atol=0)


def test_a_masked_row_under_jit_is_minus_infinity():
    mask = np.array([[0.0, -INF, 0.0], [-INF, -INF, -INF]])
    f = dk.jit(lambda v: dk.logsumexp(v + mask, axis=1))
    x = np.array([[1.0, 2.0, 0.0], [1.0, 2.0, 3.0]])
    want = torch.logsumexp(torch.tensor(x + mask), 1).numpy()
    for _ in range(2):
        np.testing.assert_array_equal(_quiet(f, x), want)


def test_differentiating_at_a_non_finite_point_is_still_refused():
    with pytest.raises(DomainError, match="finite points only"):
        dk.grad(lambda v: dk.logsumexp(v))(np.array([1.0, -INF]))


def test_finite_rows_keep_their_digits():
    x = np.array([40.0, 0.0, -1.0])
    with mp.workdps(50):  # (a local precision: mpmath's is global to the test process)
        s = mp.fsum(mp.exp(mp.mpf(v)) for v in x)
        want_v, want_g = float(mp.log(s)), [float(mp.exp(mp.mpf(v)) / s) for v in x]
    (g,) = dk.grad(dk.logsumexp)(x)
    assert dk.logsumexp(x) == want_v
    np.testing.assert_allclose(g, want_g, rtol=1e-15)


@pytest.mark.parametrize("shape, axis", [((0,), None), ((2, 0), 1), ((0, 3), 0), ((2, 0), (0, 1)),
                                         ((0, 0), 0), ((2, 0, 3), 1)])
@pytest.mark.parametrize("keepdims", [False, True])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_logsumexp_of_an_empty_reduction_is_minus_infinity(shape, axis, keepdims, dtype):
    x = np.zeros(shape, dtype=dtype)
    dim = tuple(range(len(shape))) if axis is None else axis
    want = torch.logsumexp(torch.tensor(x), dim, keepdim=keepdims).numpy()
    got = np.asarray(_quiet(dk.logsumexp, x, axis=axis, keepdims=keepdims))
    assert got.shape == want.shape and got.dtype == want.dtype
    np.testing.assert_array_equal(got, want)


def test_a_0d_array_is_a_row_of_one_element():
    for v in (2.0, -3.5):
        x = np.array(v)
        xt = torch.tensor(v, dtype=torch.float64)
        assert _quiet(dk.softmax, x) == torch.softmax(xt, -1).item() == 1.0
        assert _quiet(dk.log_softmax, x) == torch.log_softmax(xt, 0).item() == 0.0
        assert _quiet(dk.logsumexp, x, axis=-1) == torch.logsumexp(xt, -1).item() == v
    (g,) = dk.grad(lambda v: dk.log_softmax(v) + v)(np.array(2.0))
    assert g == 1.0  # d/dx (0 + x)


def test_softmax_of_an_empty_row_is_empty():
    x = np.zeros((2, 0))
    for f, ft in ((dk.softmax, torch.softmax), (dk.log_softmax, torch.log_softmax)):
        got = np.asarray(_quiet(f, x, axis=1))
        assert got.shape == tuple(ft(torch.tensor(x), 1).shape) == (2, 0)


@pytest.mark.parametrize("f, name", [(dk.logsumexp, "logsumexp"), (dk.softmax, "softmax"),
                                     (dk.log_softmax, "log_softmax")])
def test_an_axis_out_of_bounds_names_the_function_and_the_shape(f, name):
    with pytest.raises(ShapeError, match=rf"{name}: axis 2 .*shape \(2, 3\)"):
        f(np.zeros((2, 3)), axis=2)
    with pytest.raises(ShapeError, match=rf"{name}: axis 1 .*shape \(\)"):
        f(np.array(1.0), axis=1)


@pytest.mark.parametrize("a, b, want, sign", [
    ([-INF, -INF], [1.0, 2.0], -INF, 0.0),      # Σ b·0 = 0
    ([INF, 1.0], [1.0, 1.0], INF, 1.0),
    ([INF, 1.0], [-1.0, 1.0], INF, -1.0),      # Σ = −∞: |Σ| = ∞, sign −1
    ([INF, -INF], [2.0, 1.0], INF, 1.0),
    ([np.nan, 1.0], [1.0, 1.0], np.nan, np.nan),
])
def test_weighted_logsumexp_of_a_non_finite_maximum_is_the_sum_as_it_is(a, b, want, sign):
    out, sgn = _quiet(dk.weighted_logsumexp, np.array(a), b=np.array(b), return_sign=True)
    np.testing.assert_array_equal([out, sgn], [want, sign])
    if sign == 1.0 or np.isnan(sign) or want == -INF:
        np.testing.assert_array_equal(_quiet(dk.weighted_logsumexp, np.array(a), b=np.array(b)),
                                      want)
    out, sgn = _quiet(dk.weighted_logsumexp, np.array(a), return_sign=True)  # no weights
    np.testing.assert_array_equal(out, torch.logsumexp(torch.tensor(a), 0).item())


def test_weighted_logsumexp_edges_rows_and_empty():
    a = np.array([[0.5, 1.0], [-INF, -INF]])
    b = np.array([2.0, 1.0])
    out, sgn = _quiet(dk.weighted_logsumexp, a, b=b, axis=1, return_sign=True)
    with mp.workdps(30):
        want = float(mp.log(2 * mp.exp(0.5) + mp.exp(1)))
    assert out[0] == pytest.approx(want, rel=1e-15)
    np.testing.assert_array_equal([out[1], sgn[0], sgn[1]], [-INF, 1.0, 0.0])
    out, sgn = _quiet(dk.weighted_logsumexp, np.zeros((2, 0)), b=np.ones((2, 0)), axis=1,
                      return_sign=True)
    np.testing.assert_array_equal(out, [-INF, -INF])  # log of an empty sum; its sign is 0
    np.testing.assert_array_equal(sgn, [0.0, 0.0])
