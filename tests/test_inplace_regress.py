"""In-place updates of leaves and modules, and optimizer checkpoints (hunt 3 regressions): each test
asserts the right behaviour against an independent reference (PyTorch float64 or a hand formula)."""
import numpy as np
import pytest

import diffkit as dk
from diffkit import nn


def test_no_grad_update_between_forward_and_backward_does_not_drop_gradient():
    p = dk.tensor(np.array([1.0, 2.0]), requires_grad=True)
    q = dk.tensor(np.array([3.0, 4.0]), requires_grad=True)
    y = (p * p + q * q).sum()
    with nn.no_grad():
        p += 1.0
    try:
        y.backward()
    except dk.TracingError:
        return  # PyTorch's behaviour: a named error
    # docs: "graphs recorded before keep their values" -> d/dp = 2 * p_old
    assert p.grad is not None
    np.testing.assert_allclose(p.grad, [2.0, 4.0])


# dk.grad(method='symbolic'/'fd-central') refuses an eager Tensor that requires grad (worked before; reverse/forward accept)


def test_adam_state_from_json_lists_loads_or_is_refused_by_name():
    nn.manual_seed(0)
    m = nn.Linear(2, 1)
    o = nn.Adam(m.parameters(), lr=0.1)
    X, Y = np.array([[1.0, 2.0], [3.0, -1.0]]), np.array([[1.0], [0.0]])
    nn.mse_loss(m(X), Y).backward()
    o.step()
    sd = o.state_dict()
    for st in sd["state"].values():
        st["exp_avg"] = st["exp_avg"].tolist()
        st["exp_avg_sq"] = st["exp_avg_sq"].tolist()
    o2 = nn.Adam(m.parameters(), lr=0.1)
    try:
        o2.load_state_dict(sd)
    except (ValueError, TypeError) as e:
        assert "state" in str(e)
        return
    o2.zero_grad()
    nn.mse_loss(m(X), Y).backward()
    o2.step()  # must not be "can't multiply sequence by non-int of type 'float'"


# `with nn.no_grad(): layer.weight *= c` (PyTorch's idiom): the attribute reads as the bare ndarray, which
# NumPy scales in place (under the live graph), then Module.__setattr__ raises TypeError: half-applied + crash
def test_no_grad_inplace_on_module_attribute():
    nn.manual_seed(0)
    lin = nn.Linear(2, 2)
    w0 = np.array(lin.weight.value, dtype=np.float64, copy=True)
    x = dk.tensor(np.ones((1, 2)), requires_grad=True)
    out = lin(x).sum()  # a graph recorded before: d out/dx = column sums of W0 (hand formula)
    with nn.no_grad():
        lin.weight *= 0.0  # must work as for `p = lin.weight; p *= 0.0`
    np.testing.assert_array_equal(lin.weight.value, 0.0)
    out.backward()  # docs: graphs recorded before keep their values
    np.testing.assert_allclose(x.grad, w0.sum(axis=0, keepdims=True), rtol=1e-6)


def test_gradients_of_old_and_new_value_add_as_pytorch():
    """y = 3p (recorded), p += 1 under no_grad, z = y + p·p: PyTorch (which allows this, 3p saves
    nothing) gives dz/dp = 3 + 2·p_new; the hand formula the same."""
    p = dk.tensor(np.array([1.0, -2.0]), requires_grad=True)
    y = (3.0 * p).sum()
    with nn.no_grad():
        p += 1.0
    (y + (p * p).sum()).backward()
    np.testing.assert_allclose(p.grad, 3.0 + 2.0 * np.array([2.0, -1.0]))


def test_backward_after_a_reshaping_assign_is_a_named_error():
    p = dk.tensor(np.array([1.0, 2.0]), requires_grad=True)
    y = (p * p).sum()
    nn.assign_(p, np.zeros(3))
    with pytest.raises(dk.TracingError, match="shape"):
        y.backward()


def test_no_grad_forward_still_runs_on_read_only_arrays():
    nn.manual_seed(0)
    lin = nn.Linear(2, 2)
    with nn.no_grad():
        out = lin(np.ones((1, 2)))
        assert not out.requires_grad  # recorded nothing (PyTorch's no_grad)
        assert lin.weight is lin._parameters["weight"]  # outside forward: the Parameter
    np.testing.assert_allclose(out.value, lin.weight.value.sum(axis=1)[None] + lin.bias.value,
                               rtol=1e-6)


class _Scaler(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.w = nn.Parameter(np.ones(2))

    def forward(self, x):
        self.w *= 2.0  # writing into the value a recorded graph holds
        return x


def test_writing_a_parameter_inside_forward_under_no_grad_keeps_a_recorded_graph():
    """Under no_grad the write updates the parameter (PyTorch); a graph recorded before still
    gives the gradient at the values it recorded."""
    m = _Scaler()
    y = (m.w * m.w).sum()
    with nn.no_grad():
        m(np.ones(2))
    np.testing.assert_array_equal(m.w.value, [2.0, 2.0])
    y.backward()
    np.testing.assert_array_equal(m.w.grad, [2.0, 2.0])


def test_adam_flags_and_betas_as_pytorch_accepts_them():
    """PyTorch: Adam(amsgrad=1) and Adam(betas=np.array([.9, .99])) are accepted; the state
    saved loads back into an Adam(amsgrad=True)."""
    m = nn.Linear(2, 1)
    o = nn.Adam(m.parameters(), betas=np.array([0.9, 0.99]), amsgrad=1)
    assert o.param_groups[0]["betas"] == (0.9, 0.99) and o.param_groups[0]["amsgrad"] is True
    nn.Adam(m.parameters(), amsgrad=True).load_state_dict(o.state_dict())
    with pytest.raises(ValueError, match="betas"):
        nn.Adam(m.parameters(), betas=np.array([0.9, 0.99, 0.5]))


def test_optimizer_state_list_of_wrong_shape_or_text_is_refused_by_name():
    m = nn.Linear(2, 1)
    o = nn.SGD(m.parameters(), lr=0.1, momentum=0.9)
    nn.mse_loss(m(np.ones((1, 2))), np.zeros((1, 1))).backward()
    o.step()
    sd = o.state_dict()
    sd["state"][0]["momentum_buffer"] = [1.0, 2.0, 3.0]
    with pytest.raises(ValueError, match="momentum_buffer.*shape"):
        o.load_state_dict(sd)
    sd["state"][0]["momentum_buffer"] = "abc"
    with pytest.raises(ValueError, match="momentum_buffer"):
        o.load_state_dict(sd)
