"""Fixes of the array fuzzer's findings 3, 4 and 5 (hunt 43_z): each test failed before its fix.
References: hand formulas evaluated in float64, and NumPy's own calls."""

import numpy as np
import pytest

import diffkit as dk

# ----- finding 3: finite differences refused float32 logsumexp (moved_constant's fixed 1e-8) ---


def _lse_grad(y, x):
    """d/dx logsumexp(y·x²) = Σ softmax(y·x²)ᵢ · 2yᵢx, by hand in float64."""
    y, x = np.asarray(y, np.float64), float(x)
    z = y * x * x
    w = np.exp(z - z.max())
    return float(np.sum(w / w.sum() * 2 * y * x))


@pytest.mark.parametrize("method", ["fd-central", "fd-richardson"])
@pytest.mark.parametrize("x0", [0.7, 0.5, 1.3])
def test_fd_answers_float32_logsumexp(method, x0):
    y = np.array([0.3, -0.7, 1.1], dtype=np.float32)
    (g,) = dk.grad(lambda x: dk.logsumexp(y * (x * x)), method=method)(np.float32(x0))
    assert g.dtype == np.float32
    assert float(g) == pytest.approx(_lse_grad(y, x0), rel=2e-3)


@pytest.mark.parametrize("method", ["fd-central", "fd-richardson"])
def test_fd_answers_float32_log_softmax_of_many_entries(method):
    y = np.random.default_rng(3).standard_normal(1000).astype(np.float32)
    (g,) = dk.grad(lambda x: dk.logsumexp(y * (x * x)), method=method)(np.float32(0.8))
    assert float(g) == pytest.approx(_lse_grad(y, 0.8), rel=2e-3)


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64, np.longdouble])
def test_fd_still_refuses_a_stop_gradient_the_steps_move_in_every_dtype(dtype):
    """x·stop_gradient(x) at 0.5 (derivative 0.5 by every AD method; fd would count 1.0), and
    a small genuine dependence beside a large partial of another input."""
    with pytest.raises(dk.MissingRuleError, match="stop_gradient"):
        dk.grad(lambda x: x * dk.stop_gradient(x), method="fd-central")(dtype(0.5))
    with pytest.raises(dk.MissingRuleError, match="stop_gradient"):
        dk.grad(lambda x, y: dtype(1e-3) * x * dk.stop_gradient(x) + dtype(100) * y,
                method="fd-central")(dtype(0.5), dtype(1.0))


# ----- finding 4: dk.function computed on a compact copy of a strided argument -----------------


def _strided_draws(n=40):
    rng = np.random.default_rng(71113)
    for _ in range(n):
        yield rng.standard_normal((3, 1)), rng.standard_normal((2, 6))[:, ::2]


@pytest.mark.parametrize("name, f", [
    ("matmul", lambda x, y: y @ x),
    ("einsum", lambda x, y: np.einsum("ij,jk->ik", y, x)),
    ("dot", lambda x, y: np.dot(y, x)),
])
def test_strided_operands_give_numpys_bits_on_every_path(name, f):
    """NumPy's matmul runs its own loop on a strided operand and BLAS on a compact one (other
    last bits in about half the draws): each path computes on the caller's layout."""
    jf = dk.jit(f)
    for x, y in _strided_draws():
        ref = f(x, y)
        assert np.array_equal(dk.function(f)(x, y), ref), name
        assert np.array_equal(jf(x, y), ref), name
        v, _ = dk.value_and_grad(lambda x, y: np.sum(f(x, y)))(x, y)
        assert v == np.sum(ref), name


def test_the_body_still_gets_its_own_copy_of_a_strided_argument():
    base = np.arange(12.0).reshape(2, 6)
    y = base[:, ::2]

    def f(y):
        y += 1.0  # an in-place update moves the body's copy only
        return y @ np.ones(3)

    np.testing.assert_array_equal(dk.function(f)(y), np.arange(12.0).reshape(2, 6)[:, ::2].sum(1)
                                  + 3.0)
    np.testing.assert_array_equal(base, np.arange(12.0).reshape(2, 6))


def test_dot_of_strided_operands_differentiates_as_before():
    rng = np.random.default_rng(0)
    a, v = rng.standard_normal((2, 6))[:, ::2], rng.standard_normal(3)
    f = lambda a, v: np.sum(np.sin(np.dot(a, v)))
    c = np.cos(np.ascontiguousarray(a) @ v)
    for method in ["reverse", "forward", "symbolic"]:
        ga, gv = dk.grad(f, method=method)(a, v)
        np.testing.assert_allclose(ga, np.outer(c, v), rtol=1e-12, atol=1e-15)
        np.testing.assert_allclose(gv, np.ascontiguousarray(a).T @ c, rtol=1e-12, atol=1e-15)
