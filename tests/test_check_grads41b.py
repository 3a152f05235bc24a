"""Fix 41g: dk.check_grads holds each output entry to its own rounding floor (a large output does
not loosen a small one's check) and names the worst entry; a held input's dtype does not coarsen
the tolerance; a second quotient that leaves f's domain is taken at half the steps instead; a
finite difference that cannot resolve the derivative warns that it verifies nothing;
step_scale= takes any real number and is documented with the fd options; nn.l2_penalty of
complex weights is the real (λ/2)Σ|w|². References: hand formulas (and JAX/PyTorch where
installed for the complex gradient's convention)."""

from __future__ import annotations

import math
import warnings
from pathlib import Path

import numpy as np
import pytest

import diffkit as dk
from diffkit import nn


def _drifting(body, held=False):
    """f whose evaluations after the first are `body(..., 2.0)` instead of `body(..., 1.0)`: its
    finite differences (and any later evaluation) answer a different derivative."""
    calls = [0]

    def factor():
        calls[0] += 1
        return 1.0 if calls[0] == 1 else 2.0

    if held:
        return lambda x, h: body(x, h, factor())
    return lambda x: body(x, factor())


def _quiet_check(*args, **kwargs):
    """check_grads with every warning an error (a check that should verify something)."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        return dk.check_grads(*args, **kwargs)


# ----- F1: the rounding floor per output entry --------------------------------------------------

def test_a_large_output_does_not_hide_an_error_in_a_small_one() -> None:
    f = _drifting(lambda x, c: np.stack([1e8 + 0 * x, 1e-3 * c * np.sin(x)]))
    with pytest.raises(AssertionError, match="disagree") as info:
        dk.check_grads(f, [0.3], methods=("reverse", "fd"))
    text = str(info.value)
    assert "worst entry of fd: [1]" in text
    assert repr(1e-3 * math.cos(0.3))[:10] in text  # the reference at that entry (by hand)


def test_a_right_vector_with_a_large_output_still_passes() -> None:
    f = lambda x: np.stack([1e8 + 0 * x, 1e-3 * np.sin(x)])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # entry 0 is fd-blind (F8)
        report = dk.check_grads(f, [0.3], methods=("reverse", "fd"))
    assert report["reverse"] == 0.0  # the first element, as documented


def test_the_message_names_the_worst_entry_not_the_first() -> None:
    f = _drifting(lambda x, c: np.stack([np.sin(x), c * np.exp(x), np.cos(x)]))
    with pytest.raises(AssertionError) as info:
        dk.check_grads(f, [0.3], methods=("reverse", "symbolic"))
    assert "worst entry of symbolic: [1]" in str(info.value)
    assert repr(math.exp(0.3))[:10] in str(info.value)


# ----- F2: held inputs do not coarsen the tolerance ----------------------------------------------

@pytest.mark.parametrize("held", [np.float16(1), np.float32(1)], ids=["f16", "f32"])
def test_a_held_coarse_input_does_not_loosen_a_float64_check(held) -> None:
    # 1e-7 off: inside float32's tolerance (16ε ≈ 2e-6) and float16's, far outside float64's
    f = _drifting(lambda x, h, c: np.sin(x) * (1.0 if c == 1.0 else 1 + 1e-7) + 0 * h, held=True)
    with pytest.raises(AssertionError, match="disagree"):
        dk.check_grads(f, [0.3, held], methods=("reverse", "symbolic"), argnums=0)


def test_a_differentiated_float16_input_keeps_its_tolerance() -> None:
    x = np.array([0.3, 1.2], np.float16)
    report = dk.check_grads(lambda x: np.sum(np.sin(x) * x), [x])
    xs = x.astype(float)
    v = np.random.default_rng(0).normal(size=2)
    v /= np.linalg.norm(v)
    exact = float(np.dot(np.sin(xs) + xs * np.cos(xs), v))
    assert abs(report["reverse"] - exact) < 1e-2


# ----- F5: the second quotient at half the steps where twice fails -------------------------------

def test_log_near_its_domain_edge_is_checked_not_refused() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        report = dk.check_grads(np.log, [8e-6])
    assert report["reverse"] == pytest.approx(1 / 8e-6, rel=1e-14)


def _edge(x, c=1.0):
    """sin(x) with a domain edge 1e-5 below 1: at x = 1 the default central step (≈6e-6) stays
    inside, twice it does not; its derivative there is c·cos(1)."""
    return c * np.sin(x) + 0 * np.log(x - 0.99999)


def test_a_domain_edge_inside_twice_the_step_passes_a_right_gradient() -> None:
    report = _quiet_check(_edge, [1.0], methods=("reverse", "fd"))
    assert report["reverse"] == pytest.approx(math.cos(1.0), rel=1e-15)
    assert report["fd"] == pytest.approx(math.cos(1.0), rel=1e-8)


def test_a_domain_edge_inside_twice_the_step_fails_a_wrong_gradient() -> None:
    with pytest.raises(AssertionError, match="disagree"):
        dk.check_grads(_drifting(_edge), [1.0], methods=("reverse", "fd"))


# ----- F6/F7: step_scale= -------------------------------------------------------------------------

@pytest.mark.parametrize("scale", [np.int64(2), np.float32(2.0), np.int32(3), 2])
def test_step_scale_takes_any_real_number(scale) -> None:
    (g,) = dk.grad(np.sin, method="fd", step_scale=scale)(0.3)
    assert g == pytest.approx(math.cos(0.3), rel=1e-8)


@pytest.mark.parametrize("scale", [True, np.bool_(True), "2", 0, -1.0, float("nan"), np.inf])
def test_step_scale_refuses_what_is_no_positive_number(scale) -> None:
    with pytest.raises(ValueError, match="step_scale"):
        dk.grad(np.sin, method="fd", step_scale=scale)(0.3)


def test_step_scale_is_documented_with_the_fd_options() -> None:
    assert "step_scale=" in dk.grad.__doc__
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    row = next(line for line in readme.splitlines() if line.startswith('| `"fd"`'))
    assert "step_scale=" in row


# ----- F8: a check that verifies nothing warns ----------------------------------------------------

def test_fd_that_cannot_resolve_the_derivative_warns() -> None:
    with pytest.warns(RuntimeWarning, match="verifies nothing for fd") as record:
        report = dk.check_grads(lambda x: 1e8 + np.sin(x), [0.3], order=2,
                                methods=("reverse", "fd"))
    assert report["reverse"] == pytest.approx(-math.sin(0.3), rel=1e-15)
    text = " ".join(str(w.message) for w in record if "verifies nothing" in str(w.message))
    assert "entry [0]" in text and repr(-math.sin(0.3))[:8] in text and "tolerance" in text


def test_a_fd_reference_that_cannot_resolve_warns_too() -> None:
    # every method a finite difference: fd is the reference, its own estimate in every bound
    with pytest.warns(RuntimeWarning, match="verifies nothing for fd-forward"):
        dk.check_grads(lambda x: 1e8 + np.sin(x), [0.3], methods=("fd", "fd-forward"))


def test_a_resolved_check_does_not_warn() -> None:
    _quiet_check(lambda x: np.sin(x) * np.exp(x), [0.3])
    _quiet_check(lambda x: np.sum(np.sin(x) * x ** 3), [np.array([0.3, 1.2])], order=2)


def test_an_exact_zero_with_a_tiny_tolerance_does_not_warn() -> None:
    # sin(x) − sin(x): the reference's terms cancel to an exact 0 and fd resolves them
    _quiet_check(lambda x: np.stack([np.sin(x) - np.sin(x), np.cos(x)]), [0.3],
                 methods=("reverse", "fd"))
    _quiet_check(lambda x: 3.0 * x, [0.3], order=2, methods=("reverse", "fd"))  # every entry 0


# ----- F3: nn.l2_penalty of complex weights ------------------------------------------------------

W0 = np.array([[1 + 2j, -0.5 + 0.3j], [0.25j, -2.0 + 0j]])


def test_l2_penalty_of_complex_weights_is_real_half_lambda_sum_of_squared_moduli() -> None:
    w = nn.Parameter(W0.copy())
    pen = nn.l2_penalty([w], 0.2)
    value = np.asarray(pen.value)
    assert value.dtype.kind == "f"
    assert float(value) == pytest.approx(0.1 * sum(abs(z) ** 2 for z in W0.ravel()), rel=1e-15)
    pen.backward()
    assert np.allclose(w.grad, 0.2 * np.conj(W0), rtol=1e-15, atol=0)  # JAX's convention


def test_l2_penalty_gradient_convention_matches_jax() -> None:
    jax = pytest.importorskip("jax")
    jax.config.update("jax_enable_x64", True)
    jnp = jax.numpy
    ref = np.asarray(jax.grad(lambda w: 0.1 * jnp.sum(jnp.abs(w) ** 2))(jnp.asarray(W0)))
    w = nn.Parameter(W0.copy())
    nn.l2_penalty([w], 0.2).backward()
    assert np.allclose(w.grad, ref, rtol=1e-15, atol=0)


def test_sgd_on_the_penalty_decays_like_pytorch() -> None:
    torch = pytest.importorskip("torch")
    t = torch.tensor(W0.copy(), requires_grad=True)
    (0.1 * (t.abs() ** 2).sum()).backward()
    torch.optim.SGD([t], lr=0.3).step()
    w = nn.Parameter(W0.copy())
    nn.l2_penalty([w], 0.2).backward()
    nn.SGD([w], lr=0.3).step()
    assert np.allclose(np.asarray(w.value), t.detach().numpy(), rtol=1e-15, atol=1e-15)
    assert np.allclose(np.asarray(w.value), W0 * (1 - 0.3 * 0.2), rtol=1e-15, atol=0)  # by hand


def test_trainer_l2_on_a_complex_model_takes_the_hand_step() -> None:
    m = nn.Linear(2, 1)
    m.weight = nn.Parameter(np.array([[1 + 2j, -0.5 + 0.3j]]))
    m.bias = nn.Parameter(np.array([0.1 + 0j]))
    X, Y = np.array([[1.0, 2.0], [0.5, -1.0]]), np.array([[1.0], [2.0]])

    def loss(out, y):
        return dk.mean(dk.real(dk.mul(dk.conj(out - y), out - y)))

    W, b = m.weight.value.copy(), m.bias.value.copy()
    trainer = nn.Trainer(m, optimizer=nn.SGD(m.parameters(), lr=0.1), loss_fn=loss, l2=0.5,
                         progress=False)
    trainer.fit([(X, Y)], epochs=1)
    r = X @ W.T + b - Y  # residuals; d/dRe + i·d/dIm of mean|r|² is mean 2·r·x, of the penalty λW
    step = (2 * r * X).mean(axis=0, keepdims=True) + 0.5 * W
    assert np.allclose(m.weight.value, W - 0.1 * step, rtol=1e-14, atol=1e-15)
