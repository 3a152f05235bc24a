"""Hunt 10, front h10b: higher-order derivatives through the eager Tensor API and nn modules.

References are PyTorch float64 runs (torch.autograd.grad(create_graph=True) /
torch.autograd.functional.hessian) whose numbers are hard-coded below, or hand formulas.
"""
import numpy as np
import pytest

import diffkit as dk
from diffkit import nn
from diffkit.tensor import Tensor


def _bn_model():
    nn.manual_seed(1)
    m = nn.Sequential(nn.Linear(3, 4, dtype=np.float64), nn.BatchNorm1d(4, dtype=np.float64),
                      nn.Tanh(), nn.Linear(4, 1, dtype=np.float64))
    return m


def _X():
    return np.random.default_rng(0).normal(size=(6, 3))


def test_batchnorm_running_stats_stay_arrays_after_hessian_of_functional_call():
    """dk.hessian of a loss that runs a training-mode BatchNorm through nn.functional_call
    stored a *traced* Tensor (of the hessian's outer trace) in running_mean/running_var
    (BatchNorm.forward takes ``value_of(mu)``, which unwraps one tape level only). The model is
    then broken for good: every later forward, state_dict() and a second dk.hessian raise
    "a traced value from a trace that has ended was used". PyTorch's running statistics are
    always plain (detached) tensors."""
    m = _bn_model()
    X = _X()
    names = [k for k, _ in m.named_parameters()]
    shapes = [p.shape for _, p in m.named_parameters()]
    th0 = np.concatenate([p.value.ravel() for _, p in m.named_parameters()])

    def f(th):
        params, i = {}, 0
        for n, s in zip(names, shapes):
            z = int(np.prod(s))
            params[n] = dk.reshape(th[i:i + z], s)
            i += z
        return dk.sum(nn.functional_call(m, params, X) ** 2)

    dk.hessian(f)(th0)
    bn = m[1]
    assert type(bn.running_mean) is np.ndarray and type(bn.running_var) is np.ndarray
    dk.hessian(f)(th0)  # a second call must work too
    m.eval()
    m(X)  # and the model must still run


def test_batchnorm_running_stats_do_not_keep_graph_after_input_gradient():
    """The WGAN-GP pattern: an input gradient dk.grad(lambda x: dk.sum(model(x)))(X) of a model
    whose BatchNorm is in training mode (eager parameters requiring grad) leaves running_mean
    as an eager *non-leaf Tensor that requires grad* (a graph back to the first Linear).
    state_dict() then raises TracingError, and in eval mode backward() sends gradient through
    the running mean into the earlier layer: a silent wrong .grad. PyTorch (same weights,
    float64, torch.autograd.grad(create_graph=True) then eval-mode backward) gives
    0.bias.grad = [-1.79917294, -0.4742758, -1.48315328, -1.17885758]; diffkit's is ~10% off."""
    m = _bn_model()
    X = _X()
    dk.grad(lambda x: dk.sum(m(x)))(X)
    m.eval()
    out = dk.sum(m(X))
    out.backward()
    # torch 2.13 float64 reference, same weights (copied), eval mode after one train forward
    want = np.array([-1.79917294, -0.4742758, -1.48315328, -1.17885758])
    np.testing.assert_allclose(m[0].bias.grad, want, rtol=1e-6)
    assert not isinstance(m[1].running_mean, Tensor)


def test_forward_mode_vjp_pullback_belongs_to_the_returned_primal():
    """dk.vjp(f, x, method='forward') runs f once for the primal and again at *every* pullback
    call (the pairing function Σ ȳ·f(x) is traced per cotangent). A module that draws random
    numbers (Dropout in training mode) or updates state (BatchNorm's running statistics) then
    gets a pullback of another draw than the primal it returned: for the linear
    f(x) = Σ mask·x/(1−p) the pullback must be the mask that gave the value (f(x) = ∇f·x, a
    hand identity), and two calls of the same pullback must agree. method='reverse' does this
    right (one trace); JAX's and torch.func's vjp linearize once."""
    x = np.arange(1.0, 9.0)
    drop = nn.Dropout(0.5)  # training mode: random masks
    nn.manual_seed(0)
    out, pb = dk.vjp(lambda x: dk.sum(drop(x)), x, method="forward")
    g1 = pb(1.0)[0]
    g2 = pb(1.0)[0]
    np.testing.assert_array_equal(g1, g2)
    assert float(np.dot(g1, x)) == pytest.approx(out)


def test_forward_mode_vjp_updates_batchnorm_statistics_once():
    """One dk.vjp(..., method='forward') call plus one pullback call advanced a training-mode
    BatchNorm's num_batches_tracked (and running mean/var) twice: the function ran twice.
    dk.vjp(method='reverse'), dk.value_and_grad and PyTorch's one forward pass count 1."""
    bn = nn.BatchNorm1d(2, dtype=np.float64)
    bn.weight.requires_grad = False
    bn.bias.requires_grad = False
    X = np.random.default_rng(0).normal(size=(4, 2))
    _, pb = dk.vjp(lambda X: dk.sum(bn(X) ** 3), X, method="forward")
    pb(1.0)
    assert int(bn.num_batches_tracked) == 1


def test_saliency_map_in_training_mode_does_not_break_state_dict():
    """An input-gradient (saliency map) of a model in training mode whose BatchNorm has
    parameters — dk.grad(lambda x: dk.sum(model(x)[:, 1]))(X) — turned the BatchNorm's
    running_mean/running_var into eager Tensors that require grad (graphs back to the
    parameters). From then on model.state_dict() and Trainer.save_checkpoint raise TracingError
    ("np.asarray() of a Tensor that requires grad"), even after further fit epochs (each step
    also chains the old graph into the new running mean). In PyTorch the statistics are plain
    tensors: state_dict() works. The running mean is the batch mean times the momentum 0.1."""
    nn.manual_seed(0)
    m = nn.Sequential(nn.Linear(2, 3, dtype=np.float64), nn.BatchNorm1d(3, dtype=np.float64))
    X = np.random.default_rng(1).normal(size=(5, 2))
    dk.grad(lambda x: dk.sum(m(x)[:, 1]))(X)
    sd = m.state_dict()
    z = X @ m[0].weight.value.T + m[0].bias.value
    np.testing.assert_allclose(np.asarray(sd["1.running_mean"]), 0.1 * z.mean(0), rtol=1e-12)
