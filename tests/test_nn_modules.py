"""Every nn layer and loss: backward() gradients against the forward engine and finite differences
(through functional_call on a flat parameter vector), and the seeds' formulas by hand."""

from __future__ import annotations

import numpy as np
import pytest

import diffkit as dk
from diffkit import nn
from diffkit.errors import ShapeError

F64 = np.float64
RNG = np.random.default_rng(1)


def _grads_three_ways(module, x, loss_fn, seed=3):
    """(reverse via backward, forward engine, finite differences) over [params..., input]."""
    names, params = zip(*module.named_parameters())
    shapes = [p.shape for p in params]
    theta0 = np.concatenate([p.value.ravel() for p in params])

    def f(theta, xin):
        nn.manual_seed(seed)
        d, start = {}, 0
        for n, s in zip(names, shapes):
            size = int(np.prod(s))
            d[n] = dk.reshape(theta[start:start + size], s)
            start += size
        return loss_fn(nn.functional_call(module, d, xin))

    nn.manual_seed(seed)
    module.zero_grad()
    xt = dk.tensor(x, requires_grad=True)
    loss_fn(module(xt)).backward()
    rev = (np.concatenate([p.grad.ravel() for p in params]), xt.grad)
    fwd = dk.grad(f, method="forward")(theta0, x)
    fd = dk.grad(f, method="fd")(theta0, x)
    return rev, fwd, fd


def _weighted_sum(shape_seed=0):
    cache = {}

    def loss(out):
        if out.shape not in cache:
            cache[out.shape] = np.random.default_rng(shape_seed).normal(size=out.shape)
        return dk.sum(dk.tanh(out) * cache[out.shape])

    return loss


MODULES = {
    "linear": (lambda: nn.Linear(3, 4, dtype=F64), (5, 3)),
    "linear_nobias": (lambda: nn.Linear(3, 2, bias=False, dtype=F64), (4, 3)),
    "mlp_sigmoid": (lambda: nn.MLP([3, 4, 2], activation="sigmoid", dtype=F64), (5, 3)),
    "mlp_relu_bn_dropout": (lambda: nn.MLP([3, 4, 2], batch_norm=True, dropout=0.3, dtype=F64), (6, 3)),
    "leaky_relu": (lambda: nn.Sequential(nn.Linear(3, 4, dtype=F64), nn.LeakyReLU(0.1)), (5, 3)),
    "tanh_softmax": (lambda: nn.Sequential(nn.Linear(3, 4, dtype=F64), nn.Tanh(), nn.Softmax(1)), (5, 3)),
    "dropconnect": (lambda: nn.DropConnect(3, 4, p=0.4, dtype=F64), (5, 3)),
    "conv2d": (lambda: nn.Conv2d(2, 3, 3, dtype=F64), (2, 2, 5, 5)),
    "conv2d_stride_pad": (lambda: nn.Conv2d(2, 2, 3, stride=2, padding=1, dtype=F64), (2, 2, 5, 5)),
    "conv_pool_flatten": (lambda: nn.Sequential(nn.Conv2d(1, 2, 3, padding=1, dtype=F64), nn.ReLU(),
                                                nn.MaxPool2d(2), nn.Flatten(),
                                                nn.Linear(8, 3, dtype=F64)), (2, 1, 4, 4)),
    "maxpool_overlapping": (lambda: nn.Sequential(nn.Conv2d(1, 2, 2, dtype=F64),
                                                  nn.MaxPool2d(2, stride=1)), (2, 1, 5, 5)),
    "batchnorm1d": (lambda: nn.BatchNorm1d(3, dtype=F64), (6, 3)),
    "batchnorm2d": (lambda: nn.BatchNorm2d(2, dtype=F64), (3, 2, 3, 3)),
    "layernorm": (lambda: nn.LayerNorm(4, dtype=F64), (3, 4)),
    "groupnorm": (lambda: nn.GroupNorm(2, 4, dtype=F64), (2, 4, 3)),
    "net_small": (lambda: nn.Net(image_size=6, padding=1, channels=(2, 2), hidden=(4,), num_classes=3,
                                 dtype=F64), (2, 1, 6, 6)),
}


@pytest.mark.parametrize("name", sorted(MODULES))
def test_module_gradients_reverse_vs_forward_vs_fd(name):
    make, shape = MODULES[name]
    nn.manual_seed(0)
    module = make()
    x = RNG.normal(size=shape)
    (rp, rx), (fp, fx), (dp, dx) = _grads_three_ways(module, x, _weighted_sum())
    np.testing.assert_allclose(rp, fp, rtol=1e-9, atol=1e-11)
    np.testing.assert_allclose(rx, fx, rtol=1e-9, atol=1e-11)
    np.testing.assert_allclose(rp, dp, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(rx, dx, rtol=1e-5, atol=1e-7)


LOSSES = {
    "cross_entropy": (lambda z: nn.cross_entropy(z, np.array([0, 2, 1, 2])), (4, 3)),
    "cross_entropy_probs": (lambda z: nn.cross_entropy(z, np.full((4, 3), 1 / 3)), (4, 3)),
    "nll": (lambda z: nn.nll_loss(dk.log_softmax(z, axis=1), np.array([0, 2, 1, 2])), (4, 3)),
    "mse": (lambda z: nn.mse_loss(z, np.ones((4, 3))), (4, 3)),
    "bce": (lambda z: nn.binary_cross_entropy(dk.sigmoid(z), np.array([[0.0], [1.0], [1.0], [0.0]])),
            (4, 1)),
    "bce_logits": (lambda z: nn.binary_cross_entropy_with_logits(z, np.array([[0.0], [1.0], [1.0], [0.0]])),
                   (4, 1)),
}


@pytest.mark.parametrize("name", sorted(LOSSES))
@pytest.mark.parametrize("penalty", ["none", "l1", "l2"])
def test_loss_gradients_reverse_vs_forward_vs_fd(name, penalty):
    loss, (n, c) = LOSSES[name]
    nn.manual_seed(0)
    model = nn.Linear(3, c, dtype=F64)
    extra = {"none": lambda m: 0.0, "l1": lambda m: nn.l1_penalty(m, 0.1),
             "l2": lambda m: nn.l2_penalty(m, 0.1)}[penalty]
    x = RNG.normal(size=(n, 3))
    (rp, _), (fp, _), (dp, _) = _grads_three_ways(model, x, loss)
    np.testing.assert_allclose(rp, fp, rtol=1e-9, atol=1e-11)
    np.testing.assert_allclose(rp, dp, rtol=1e-5, atol=1e-7)
    if penalty != "none":  # the penalty's gradient: λW (l2) or λ sign W (l1); bias untouched
        model.zero_grad()
        extra(model).backward()
        w = model.weight.value
        expect = 0.1 * (w if penalty == "l2" else np.sign(w))
        np.testing.assert_allclose(model.weight.grad, expect, rtol=1e-12)
        assert model.bias.grad is None


def test_sigmoid_mlp_matches_the_seeds_delta_recursion():
    """δ^(L+1) = a^(L+1) − y, δ^(l) = a(1 − a) ⊙ Θᵀδ^(l+1), Δ += δ aᵀ, D = Δ/n + λΘ (bias excluded)."""
    nn.manual_seed(0)
    sizes, n, lam = [4, 5, 3, 1], 7, 0.05
    model = nn.MLP(sizes, activation="sigmoid", output_activation="sigmoid", dtype=F64)
    X = RNG.normal(size=(n, 4))
    y = (RNG.random(size=(n, 1)) > 0.5).astype(F64)
    loss = nn.binary_cross_entropy(model(X), y) + nn.l2_penalty(model, lam)
    loss.backward()
    layers = [m for m in model if isinstance(m, nn.Linear)]
    Theta = [m.weight.value for m in layers]
    bias = [m.bias.value for m in layers]
    Delta = [np.zeros_like(t) for t in Theta]
    Delta_b = [np.zeros_like(b) for b in bias]
    g = lambda z: 1 / (1 + np.exp(-z))
    for i in range(n):
        a = [X[i]]
        for t, b in zip(Theta, bias):
            a.append(g(t @ a[-1] + b))
        delta = a[-1] - y[i]
        for l in reversed(range(len(Theta))):
            Delta[l] += np.outer(delta, a[l])
            Delta_b[l] += delta
            delta = a[l] * (1 - a[l]) * (Theta[l].T @ delta)
    for l, m in enumerate(layers):
        np.testing.assert_allclose(m.weight.grad, Delta[l] / n + lam * Theta[l], rtol=1e-10, atol=1e-14)
        np.testing.assert_allclose(m.bias.grad, Delta_b[l] / n, rtol=1e-10, atol=1e-14)


def test_batchnorm_matches_algorithm_1_and_running_stats():
    x = RNG.normal(2.0, 3.0, size=(8, 3)).astype(np.float32)
    bn = nn.BatchNorm1d(3, momentum=0.1)
    nn.init.constant_(bn.weight, 1.5)
    nn.init.constant_(bn.bias, -0.5)
    y = bn(x).value
    mu = x.mean(0)
    var = ((x - mu) ** 2).mean(0)
    xhat = (x - mu) / np.sqrt(var + bn.eps)
    np.testing.assert_allclose(y, 1.5 * xhat - 0.5, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(bn.running_mean, 0.1 * mu, rtol=1e-5)
    np.testing.assert_allclose(bn.running_var, 0.9 + 0.1 * x.var(0, ddof=1), rtol=1e-5)
    bn.eval()
    expect = 1.5 * (x - bn.running_mean) / np.sqrt(bn.running_var + bn.eps) - 0.5
    np.testing.assert_allclose(bn(x).value, expect, rtol=1e-5, atol=1e-5)
    x4 = RNG.normal(size=(4, 2, 3, 3)).astype(np.float32)
    y4 = nn.BatchNorm2d(2)(x4).value
    np.testing.assert_allclose(y4.mean(axis=(0, 2, 3)), 0, atol=1e-5)
    np.testing.assert_allclose(y4.var(axis=(0, 2, 3)), 1, atol=1e-3)


def test_dropout_scales_as_documented():
    nn.manual_seed(0)
    x = np.ones((200, 500), np.float32)
    d = nn.Dropout(0.3)
    y = d(x)
    np.testing.assert_allclose(np.unique(y), [0.0, 1 / 0.7], rtol=1e-6)  # kept scaled by 1/(1-p)
    assert abs((y == 0).mean() - 0.3) < 0.01
    assert abs(y.mean() - 1.0) < 0.01  # E[output] = input
    assert d.eval()(x) is x  # identity at eval time
    dc = nn.DropConnect(500, 4, p=0.3)
    dc.eval()
    np.testing.assert_allclose(dc(x).value, nn.Linear.forward(dc, x).value)


def test_dropout_of_one_drops_everything_as_pytorch_does():
    # p = 1 was refused (PyTorch gives zeros); a NaN or a string p was a bare comparison error
    x = dk.tensor(np.arange(1.0, 7.0).reshape(2, 3), requires_grad=True)
    y = nn.Dropout(1.0)(x)
    assert np.array_equal(y.value, np.zeros((2, 3)))
    dk.sum(y * 3.0).backward()
    assert np.array_equal(x.grad, np.zeros((2, 3)))
    assert nn.Dropout(1.0).eval()(x.value) is x.value
    for bad in (1.5, -0.1, float("nan"), "0.5", True):
        with pytest.raises(ValueError, match="dropout probability"):
            nn.Dropout(bad)


def test_losses_stable_at_large_logits():
    z = dk.tensor(np.array([[1000.0], [-1000.0], [1000.0]], np.float32), requires_grad=True)
    y = np.array([[0.0], [1.0], [1.0]], np.float32)
    loss = nn.binary_cross_entropy_with_logits(z, y, reduction="sum")
    assert float(loss.value) == pytest.approx(2000.0)
    loss.backward()
    np.testing.assert_allclose(z.grad, [[1.0], [-1.0], [0.0]])
    p = nn.binary_cross_entropy(dk.sigmoid(np.array([1000.0, -1000.0])), np.array([0.0, 1.0]),
                                reduction="none")
    np.testing.assert_allclose(p, [100.0, 100.0])  # PyTorch's clamp of log at -100
    ce = nn.cross_entropy(np.array([[1000.0, -1000.0]]), np.array([1]))
    assert float(ce) == pytest.approx(2000.0)


def test_activations_values():
    x = np.array([-2.0, 0.0, 3.0])
    np.testing.assert_allclose(nn.ReLU()(x), [0, 0, 3])
    np.testing.assert_allclose(nn.LeakyReLU(0.1)(x), [-0.2, 0, 3])
    np.testing.assert_allclose(nn.Sigmoid()(x), 1 / (1 + np.exp(-x)))
    np.testing.assert_allclose(nn.Tanh()(x), np.tanh(x))
    np.testing.assert_allclose(nn.Softmax()(x), np.exp(x) / np.exp(x).sum())


def test_initialisers():
    nn.manual_seed(0)
    w = nn.Parameter(np.zeros((400, 300), np.float32))
    nn.init.xavier_uniform_(w)
    assert np.abs(w.value).max() <= np.sqrt(6 / 700) and w.value.std() == pytest.approx(
        np.sqrt(2 / 700), rel=0.02)
    nn.init.xavier_normal_(w, gain=2.0)
    assert w.value.std() == pytest.approx(2 * np.sqrt(2 / 700), rel=0.02)
    nn.init.kaiming_normal_(w, mode="fan_in", nonlinearity="relu")
    assert w.value.std() == pytest.approx(np.sqrt(2 / 300), rel=0.02)
    nn.init.kaiming_uniform_(w, mode="fan_out", nonlinearity="tanh")
    assert np.abs(w.value).max() <= (5 / 3) * np.sqrt(3 / 400)
    assert w.value.std() == pytest.approx((5 / 3) / np.sqrt(400), rel=0.02)
    nn.init.normal_(w, 1.0, 0.5)
    assert w.value.mean() == pytest.approx(1.0, abs=0.01)
    nn.init.uniform_(w, -1, 1)
    assert -1 <= w.value.min() and w.value.max() <= 1
    nn.init.zeros_(w)
    assert not w.value.any() and w.dtype == np.float32
    nn.init.constant_(w, 0.25)
    assert (w.value == 0.25).all()
    k = nn.Parameter(np.zeros((6, 1, 3, 3)))
    assert nn.init.calculate_fan_in_and_fan_out(k) == (9, 54)
    with pytest.raises(ValueError, match="Mode"):
        nn.init.kaiming_normal_(w, mode="fan_avg")


def test_module_api_and_no_grad():
    model = nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 2))
    assert [n for n, _ in model.named_parameters()] == ["0.weight", "0.bias", "2.weight", "2.bias"]
    with nn.no_grad():
        out = model(np.ones((1, 4), np.float32))
    assert not out.requires_grad  # a Tensor that records nothing (PyTorch's no_grad)
    sd = model.state_dict()
    other = nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 2))
    other.load_state_dict(sd)
    np.testing.assert_array_equal(other(np.ones((1, 4), np.float32)).value, model(np.ones((1, 4), np.float32)).value)
    assert "Linear(in_features=4" in repr(model)
    assert not model.eval()[1].training


def _tied_model(across_modules: bool) -> nn.Module:
    nn.manual_seed(0)
    first = nn.Linear(4, 4)
    second = first if not across_modules else nn.Linear(4, 4)
    if across_modules:
        second.weight = first.weight  # one Tensor in two modules (an embedding and its output)
    return nn.Sequential(first, nn.Tanh(), second)


@pytest.mark.parametrize("across_modules", [False, True], ids=["shared-module", "tied-tensor"])
def test_tied_weights_are_listed_once_and_updated_once(across_modules: bool) -> None:
    """A module used twice, or one weight Tensor in two modules, is one parameter (PyTorch's
    rule): model.parameters() lists it once, so one SGD step moves it by lr times its whole
    gradient — checked against forward mode through functional_call, another engine. (It was
    listed twice and updated twice a step.) state_dict keeps it under each name."""
    model = _tied_model(across_modules)
    x = np.random.default_rng(1).normal(size=(5, 4))
    n_unique = 3 if across_modules else 2
    assert len(model.parameters()) == n_unique
    assert sorted(model.state_dict()) == ['0.bias', '0.weight', '2.bias', '2.weight']
    w = model[0].weight
    w0 = w.value.copy()

    def loss_of(weight):
        return dk.sum(dk.tanh(nn.functional_call(model, {"0.weight": weight}, x)) ** 2)

    (g,) = dk.grad(loss_of, method="forward")(w0)
    opt = nn.SGD(model.parameters(), lr=0.1)
    opt.zero_grad()
    dk.sum(dk.tanh(model(x)) ** 2).backward()
    opt.step()
    np.testing.assert_allclose(w.value, w0 - 0.1 * g.value, rtol=1e-6, atol=1e-7)
    with pytest.raises(ValueError, match="same parameter more than once"):
        nn.SGD([w, w], lr=0.1)
    if across_modules:
        with pytest.raises(ValueError, match="one parameter"):
            nn.functional_call(model, {"0.weight": w0, "2.weight": w0.copy()}, x)


def test_assigning_an_array_to_a_parameter_is_refused() -> None:
    """`layer.weight = array` made the weight a constant (no longer trained, silently); as in
    PyTorch it is a TypeError that says how to set the values. A Parameter, or None, is fine."""
    lin = nn.Linear(3, 2)
    with pytest.raises(TypeError, match=r"parameter 'weight' of Linear.*assign_"):
        lin.weight = np.zeros((2, 3), np.float32)
    with pytest.raises(TypeError, match="parameter 'bias'"):
        lin.bias = dk.tensor(np.zeros(2, np.float32))  # a Tensor that is not trained
    assert len(lin.parameters()) == 2
    nn.assign_(lin.weight, np.ones((2, 3), np.float32))
    lin.bias = nn.Parameter(np.full(2, 0.5, np.float32))
    np.testing.assert_array_equal(lin(np.ones((1, 3), np.float32)).value, [[3.5, 3.5]])
    assert len(lin.parameters()) == 2


@pytest.mark.parametrize("side", [8, 28])
def test_net_names_an_image_size_it_was_not_built_for(side):
    """nn.Net() is built for 32×32 images; 8×8 digits failed deep inside im2col and 28×28
    ones in the head's Linear, neither naming image_size. A size that pools to the same
    feature maps (33×33) still runs, as before."""
    with pytest.raises(ShapeError, match=rf"images of {side}×{side} pixels.*image_size=32.*"
                                         rf"nn.Net\(image_size={side}"):
        nn.Net()(np.zeros((2, 1, side, side), np.float32))
    assert nn.Net()(np.zeros((2, 1, 33, 33), np.float32)).shape == (2, 10)
    small = nn.Net(image_size=8, padding=1, channels=(8, 16), hidden=(64,))
    assert small(np.zeros((2, 1, 8, 8), np.float32)).shape == (2, 10)
