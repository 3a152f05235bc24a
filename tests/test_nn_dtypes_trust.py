"""diffkit.nn in float16 and float32 (hunt h9c, findings 4–6): each test checks a number against
a reference independent of diffkit — the formula in float64, central differences of the plain
NumPy function in float64, or a hand computation of the optimizer's rule — and failed before.

* normalization layers compute float16 statistics in float32 and round y once to float16
  (PyTorch's half-precision norms accumulate in float32); BatchNorm keeps float32 running
  statistics for float16 layers;
* binary_cross_entropy clamps each log at −100 in every dtype (PyTorch's rule);
* optimizers update float16 parameters in float32 (their state too) and round θ once.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import diffkit as dk
from diffkit import nn
from diffkit.nn.compiled_step import CompiledStep
from diffkit.nn.module import assign_

EPS = 1e-5
F16 = np.float16

# ----- normalization layers -------------------------------------------------------------------


def _norm_ref(X: np.ndarray, kind: str, w: np.ndarray | None = None,
              b: np.ndarray | None = None) -> np.ndarray:
    """The layer's formula in float64: (x − μ)/√(σ² + ε)·γ + β over the layer's axes."""
    X = np.asarray(X, np.float64)
    shape = X.shape
    if kind == "GroupNorm":  # 2 groups of channels
        X = X.reshape(shape[0], 2, -1)
    axes = {"LayerNorm": (-1,), "GroupNorm": (2,)}.get(kind, (0, *range(2, X.ndim)))
    m = X.mean(axis=axes, keepdims=True)
    y = ((X - m) / np.sqrt(X.var(axis=axes, keepdims=True) + EPS)).reshape(shape)
    if w is not None:
        bshape = (-1,) if kind == "LayerNorm" else (1, -1) + (1,) * (len(shape) - 2)
        y = y * w.astype(np.float64).reshape(bshape) + b.astype(np.float64).reshape(bshape)
    return y


LAYERS = {
    "LayerNorm": (lambda: nn.LayerNorm(8, dtype=F16), (4, 8)),
    "BatchNorm1d": (lambda: nn.BatchNorm1d(8, dtype=F16), (4, 8)),
    "BatchNorm2d": (lambda: nn.BatchNorm2d(3, dtype=F16), (4, 3, 2, 2)),
    "GroupNorm": (lambda: nn.GroupNorm(2, 4, dtype=F16), (3, 4, 5)),
}


def _data(shape: tuple[int, ...], scale: float = 300.0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    return ((rng.standard_normal(shape) * scale).astype(F16),
            rng.standard_normal(shape).astype(F16))


def _affine_params(layer: nn.Module) -> tuple[np.ndarray, np.ndarray]:
    """Non-trivial γ, β (float16 values) so their gradients and the affine step are checked."""
    n = layer.weight.shape
    rng = np.random.default_rng(2)
    w, b = (rng.uniform(0.5, 1.5, n).astype(F16), rng.uniform(-1, 1, n).astype(F16))
    assign_(layer.weight, w)
    assign_(layer.bias, b)
    return w, b


@pytest.mark.parametrize("kind", list(LAYERS))
def test_norm_layers_float16_compute_statistics_without_overflow(kind):
    """(x − μ)² was computed in float16 and overflowed for deviations above 256: the output was
    silently all zeros (GroupNorm: 2.1 off). Now: the formula's value to float16's precision,
    in float16."""
    make, shape = LAYERS[kind]
    layer = make()
    X, _ = _data(shape)
    w, b = _affine_params(layer)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)  # no overflow on the way
        y = layer(X).numpy()
    assert y.dtype == F16
    np.testing.assert_allclose(y.astype(np.float64), _norm_ref(X, kind, w, b), atol=4e-3, rtol=2e-3)


def _central(f, x: np.ndarray, h: float) -> np.ndarray:
    """Central differences of a float64 NumPy function of one array."""
    x = x.astype(np.float64)
    g = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        e = np.zeros_like(x)
        e[i] = h
        g[i] = (f(x + e) - f(x - e)) / (2 * h)
    return g


def _close_grad(got, ref) -> None:
    got = np.asarray(got)
    assert got.dtype == F16 and np.isfinite(got).all()
    np.testing.assert_allclose(got.astype(np.float64), ref, atol=5e-3 * np.abs(ref).max())


@pytest.mark.parametrize("kind", list(LAYERS))
def test_norm_layers_float16_eager_gradients(kind):
    """backward() through a float16 layer at deviations of ~300: gradients of x, γ and β, in
    float16, against central differences of the float64 formula."""
    make, shape = LAYERS[kind]
    layer = make()
    X, C = _data(shape)
    w, b = _affine_params(layer)
    x = nn.Parameter(X)
    dk.sum(layer(x) * C).backward()
    c = C.astype(np.float64)
    _close_grad(x.grad, _central(lambda v: np.sum(_norm_ref(v, kind, w, b) * c), X, 1e-2))
    _close_grad(layer.weight.grad, _central(lambda v: np.sum(_norm_ref(X, kind, v, b) * c), w, 1e-3))
    _close_grad(layer.bias.grad, _central(lambda v: np.sum(_norm_ref(X, kind, w, v) * c), b, 1e-3))


@pytest.mark.parametrize("method", ["reverse", "forward", "compiled"])
def test_layer_norm_float16_gradient_every_method(method):
    """dk.grad through a float16 LayerNorm: a NumericOverflowError before (the variance's
    square overflowed); now the gradient, in float16, from each AD method."""
    layer = nn.LayerNorm(8, dtype=F16)
    X, C = _data((4, 8))
    (g,) = dk.grad(lambda x: dk.sum(layer(x) * C), method=method)(X)
    ref = _central(lambda v: np.sum(_norm_ref(v, "LayerNorm") * C.astype(np.float64)), X, 1e-2)
    _close_grad(g.numpy() if hasattr(g, "numpy") else g, ref)


@pytest.mark.parametrize("kind", ["LayerNorm", "GroupNorm"])
def test_norm_layers_float16_compiled_training_step(kind):
    """The Trainer's generated step (forward, MSE loss and backward as NumPy code) through a
    float16 norm layer: the same gradients as the eager tape, bit for bit, and right."""
    make, shape = LAYERS[kind]
    X, C = _data(shape)
    layer = make()
    w, b = _affine_params(layer)
    model = nn.Sequential(layer)
    step = CompiledStep(model, nn.mse_loss)
    assert step(X, C) is not None and step.reason is None
    compiled = [p.grad.copy() for p in model.parameters()]
    model.zero_grad()
    nn.mse_loss(model(X), C).backward()
    for a, e in zip(compiled, (p.grad for p in model.parameters()), strict=True):
        np.testing.assert_array_equal(a, e)
    c = C.astype(np.float64)

    def loss(wv, bv):
        return np.mean((_norm_ref(X, kind, wv, bv) - c) ** 2)

    _close_grad(compiled[0], _central(lambda v: loss(v, b), w, 1e-3))
    _close_grad(compiled[1], _central(lambda v: loss(w, v), b, 1e-3))


def test_batch_norm_float16_running_statistics_stay_finite_and_right():
    """A float16 BatchNorm's running σ² became inf (σ² ≈ 9·10⁴ > float16's 65504) and eval mode
    then output zeros. Its running statistics are float32 now: 0.9·init + 0.1·batch statistic
    (unbiased σ²), and eval normalizes with them."""
    layer = nn.BatchNorm1d(8, dtype=F16)
    X, _ = _data((4, 8))
    layer(X)
    X64 = X.astype(np.float64)
    mean, var = 0.1 * X64.mean(axis=0), 0.9 + 0.1 * X64.var(axis=0, ddof=1)
    np.testing.assert_allclose(layer.running_var, var, rtol=1e-5)
    np.testing.assert_allclose(layer.running_mean, mean, rtol=1e-5, atol=1e-4)
    assert layer.running_mean.dtype == layer.running_var.dtype == np.float32
    layer.eval()
    y = layer(X).numpy()
    assert y.dtype == F16
    np.testing.assert_allclose(y.astype(np.float64), (X64 - mean) / np.sqrt(var + EPS),
                               atol=4e-3, rtol=2e-3)


# ----- binary cross-entropy -------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [np.float16, np.float32])
def test_binary_cross_entropy_clamp_lost_in_low_precision(dtype):
    """log(max(p, e⁻¹⁰⁰)) with e⁻¹⁰⁰ rounded to the input's dtype: 0 in float16 ([inf, nan, nan,
    inf] for p ∈ {0, 1}), a subnormal in float32 (a clamp at −99.983). The definition (PyTorch:
    each log clamped at −100) gives [100, 0, 0, 100]."""
    p = np.array([0.0, 1.0, 0.0, 1.0], dtype=dtype)
    t = np.array([1.0, 1.0, 0.0, 0.0], dtype=dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        out = nn.binary_cross_entropy(p, t, reduction="none")
    out = np.asarray(out.numpy() if hasattr(out, "numpy") else out)
    assert out.dtype == dtype
    np.testing.assert_allclose(out.astype(np.float64), [100.0, 0.0, 0.0, 100.0],
                               rtol=4 * float(np.finfo(dtype).eps))


def test_binary_cross_entropy_float32_subnormal_probabilities():
    """max(log p, −100) at float32 subnormals around e⁻¹⁰⁰ = 3.7e-44 (hand formula in float64)."""
    p = np.array([1e-45, 3e-44, 4e-44, 6e-44, 1e-30], np.float32)
    out = nn.binary_cross_entropy(p, np.ones(5, np.float32), reduction="none")
    ref = -np.maximum(np.log(p.astype(np.float64)), -100.0)
    np.testing.assert_allclose(np.asarray(out, np.float64), ref, rtol=2e-7)


@pytest.mark.parametrize("method", ["reverse", "forward", "compiled"])
def test_binary_cross_entropy_float16_gradient(method):
    """Under dk.grad, float16 p ∈ {0, 1} was a DomainError naming a domain p is in. The
    derivative of the clamped definition: −y/p + (1 − y)/(1 − p), each term 0 where its log is
    clamped; ∂/∂y = L(1 − p) − L(p)."""
    p = np.array([0.0, 1.0, 0.0, 1.0, 0.25], F16)
    t = np.array([1.0, 1.0, 0.0, 0.0, 1.0], F16)
    (gp,) = dk.grad(lambda q: dk.sum(dk.binary_cross_entropy(q, t)), method=method)(p)
    (gt,) = dk.grad(lambda s: dk.sum(dk.binary_cross_entropy(p, s)), method=method)(t)
    assert gp.dtype == gt.dtype == F16
    np.testing.assert_array_equal(gp, np.array([0, -1, 1, 0, -4], F16))
    np.testing.assert_allclose(gt.astype(np.float64), [100, -100, 100, -100, np.log(3)],
                               rtol=1e-3)


# ----- optimizers -----------------------------------------------------------------------------

OPTIMIZERS = {
    "Adam": lambda ps: nn.Adam(ps, lr=1e-3), "AdamW": lambda ps: nn.AdamW(ps, lr=1e-3),
    "NAdam": lambda ps: nn.NAdam(ps), "RMSprop": lambda ps: nn.RMSprop(ps, lr=1e-3),
    "Adagrad": lambda ps: nn.Adagrad(ps, lr=1e-3),
}


@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_adaptive_optimizers_float16_zero_gradient_entry_becomes_nan(name):
    """eps (1e-8; Adagrad 1e-10) rounded to 0 in float16: an entry whose gradient is 0 got
    m/(√v + ε) = 0/0 = NaN. The rule in exact arithmetic leaves it unchanged."""
    p = nn.Parameter(np.array([1.0, 2.0], dtype=F16))
    opt = OPTIMIZERS[name]([p])
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        dk.sum(p[0:1] * 3.0).backward()
        opt.step()
    v = p.numpy()
    assert v.dtype == F16 and np.isfinite(v).all(), v
    assert v[1] == F16(2.0)


def _adam_ref(theta: np.ndarray, grads: list[np.ndarray], lr: float = 1e-2,
              b1: float = 0.9, b2: float = 0.999, eps: float = 1e-8) -> np.ndarray:
    """Adam by hand in float64, θ rounded to float16 after each step (as a float16 parameter)."""
    m = v = 0.0
    for t, g in enumerate(grads, 1):
        g = g.astype(np.float64)
        m, v = b1 * m + (1 - b1) * g, b2 * v + (1 - b2) * g * g
        step = lr / (1 - b1**t) * m / (np.sqrt(v / (1 - b2**t)) + eps)
        theta = (theta.astype(np.float64) - step).astype(F16)
    return theta


@pytest.mark.parametrize("alone", [True, False])
def test_adam_float16_steps_against_a_hand_computation(alone):
    """Gradients 0, 1e-4 (whose square underflows in float16: √v̂ = 0) and 1: three Adam steps
    equal the rule computed by hand (float64, θ rounded to float16 each step), in place or not
    (`alone`: no other reference to θ's array), and the optimizer's state is float32."""
    grads = [np.array([0.0, 1e-4, 1.0, -3.0], F16) * k for k in (1, -1, 2)]
    start = np.array([1.0, -2.0, 0.5, 3.0], F16)
    p = nn.Parameter(start.copy())
    opt = nn.Adam([p], lr=1e-2)
    held, same = [], []
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        for g in grads:
            p.grad = g
            if not alone:
                held.append((p.value, p.value.copy()))  # held outside: a new array each step
            before = id(p.node.value)
            opt.step()
            same.append(id(p.node.value) == before)
    assert same == [alone] * 3
    for array, numbers in held:
        np.testing.assert_array_equal(array, numbers)
    np.testing.assert_array_equal(p.numpy(), _adam_ref(start, grads))
    assert p.numpy().dtype == F16 and opt.state[0]["exp_avg_sq"].dtype == np.float32


def test_float16_optimizer_state_survives_a_checkpoint():
    """The float32 state of a float16 parameter loads back as float32 (not rounded to float16):
    two more steps after save/load equal two more steps without."""
    grads = [np.array([0.0, 1e-4, 1.0], F16) * k for k in (1, -2, 3, 1)]
    runs = []
    for reload in (False, True):
        p = nn.Parameter(np.array([1.0, -2.0, 0.5], F16))
        opt = nn.RMSprop([p], lr=1e-2, centered=True, momentum=0.9)
        for k, g in enumerate(grads):
            if reload and k == 2:
                sd = opt.state_dict()
                opt = nn.RMSprop([p], lr=1e-2, centered=True, momentum=0.9)
                opt.load_state_dict(sd)
            p.grad = g
            opt.step()
        runs.append(p.numpy())
        assert np.isfinite(runs[-1]).all()
        assert opt.state[0]["square_avg"].dtype == np.float32
    np.testing.assert_array_equal(*runs)


def test_float16_model_trains_with_adam():
    """A float16 model on the digits (constant pixels: zero gradients) with Adam: the 0/0 made
    Trainer.fit raise DivergenceError saying to lower the learning rate (which cannot help).
    Now it trains: finite loss decreasing over 3 epochs."""
    nn.manual_seed(0)
    X, y = nn.load_digits()
    model = nn.Sequential(nn.Linear(64, 10, dtype=F16))
    trainer = nn.Trainer(model, optimizer=nn.Adam(model.parameters(), lr=1e-2), progress=False)
    history = trainer.fit(nn.DataLoader(X[:256], y[:256], batch_size=32, dtype=F16), epochs=3)
    assert np.isfinite(history["loss"]).all() and history["loss"][-1] < history["loss"][0]
    assert model[0].weight.numpy().dtype == F16
