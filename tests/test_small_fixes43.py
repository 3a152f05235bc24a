"""Small fixes of hunt 42's findings: BatchNorm's batch counter, jit(grad) of a 0-d array,
compile_gradient at a removable 0·∞, Richardson's domain message."""

import math
import re

import numpy as np
import pytest

import diffkit as dk
from diffkit import nn

# -- BatchNorm counts training batches while its running statistics are None (PyTorch) -------


def _batches() -> list[np.ndarray]:
    rng = np.random.default_rng(0)
    return [rng.normal(size=(5, 3)).astype(np.float32) * s + o
            for s, o in [(1, 0), (2, 1), (0.5, -1)]]


def _run_with_statistics_removed(bn, tensor=lambda x: x):
    """Batch 0 with statistics, batch 1 with them set to None, batch 2 with them restored."""
    X = _batches()
    bn(tensor(X[0]))
    saved = (bn.running_mean, bn.running_var)
    saved = tuple(s.copy() if hasattr(s, "copy") else s.clone() for s in saved)
    bn.running_mean = bn.running_var = None
    bn(tensor(X[1]))
    bn.running_mean, bn.running_var = saved
    bn(tensor(X[2]))
    return X


def test_batchnorm_counts_batches_while_statistics_are_none_by_hand():
    bn = nn.BatchNorm1d(3, momentum=None)
    X = _run_with_statistics_removed(bn)
    assert int(bn.num_batches_tracked) == 3  # was 2: batch 1 was not counted
    # cumulative average, weight 1/k at the k-th batch: batch 0 at 1/1, batch 2 at 1/3
    mean = (2 / 3) * X[0].mean(0, dtype=np.float64) + (1 / 3) * X[2].mean(0, dtype=np.float64)
    var = (2 / 3) * X[0].var(0, ddof=1, dtype=np.float64) + \
        (1 / 3) * X[2].var(0, ddof=1, dtype=np.float64)
    np.testing.assert_allclose(bn.running_mean, mean, rtol=1e-5)
    np.testing.assert_allclose(bn.running_var, var, rtol=1e-5)


def test_batchnorm_counter_and_statistics_match_pytorch():
    torch = pytest.importorskip("torch")
    for momentum in (None, 0.1):
        # float32 as the data (another test module sets torch's default dtype to float64)
        d = nn.BatchNorm1d(3, momentum=momentum)
        t = torch.nn.BatchNorm1d(3, momentum=momentum, dtype=torch.float32)
        _run_with_statistics_removed(d)
        _run_with_statistics_removed(t, torch.tensor)
        assert int(d.num_batches_tracked) == int(t.num_batches_tracked) == 3
        np.testing.assert_allclose(d.running_mean, t.running_mean.numpy(), rtol=1e-5)
        np.testing.assert_allclose(d.running_var, t.running_var.numpy(), rtol=1e-5)


def test_batchnorm_counts_under_jit_while_statistics_are_none():
    # the counter is state the forward pass updates: a jit replay would skip it
    bn = nn.BatchNorm1d(3)
    bn.running_mean = bn.running_var = None
    step = dk.jit(lambda x: dk.sum(bn(x)))
    X = _batches()[0]
    for _ in range(3):
        step(X)
    assert int(bn.num_batches_tracked) == 3
    bn.eval()  # eval mode counts nothing (PyTorch)
    bn(X)
    assert int(bn.num_batches_tracked) == 3


# -- dk.jit(dk.grad(f)) keeps the input's form (a 0-d array's gradient is a 0-d array) --------


def _g(x):
    return np.sin(x) * x


@pytest.mark.parametrize("x", [1.5, np.float64(1.5), np.float32(1.5), np.array(1.5),
                               np.array(1.5, np.float32), np.array([1.5])])
@pytest.mark.parametrize("wrap", [dk.jit, dk.function])
def test_wrapped_gradient_keeps_the_input_form(x, wrap):
    want = math.cos(1.5) * 1.5 + math.sin(1.5)  # by hand
    for make in (dk.grad, dk.value_and_grad):
        f = wrap(make(_g))
        for _ in range(3):  # the first trace and the replays
            out = f(x)
            (g,) = out[1] if make is dk.value_and_grad else out
            assert type(g) is type(x)
            assert np.shape(g) == np.shape(x)
            assert getattr(g, "dtype", None) == getattr(x, "dtype", None)
            tol = 1e-6 if getattr(x, "dtype", np.float64) == np.float32 else 1e-15
            assert float(np.reshape(g, ())) == pytest.approx(want, rel=tol)


# -- compile_gradient answers a removable 0·∞ as every dk.grad method does --------------------


@pytest.mark.parametrize("text", ["sqrt(0*x) + y", "sqrt(x*0.0) + y", "cbrt(x*0.0) + y",
                                  "abs(x*0.0) + y"])
@pytest.mark.parametrize("point", [(2.0, 3.0), (0.0, 3.0), (-1.0, 3.0)])
def test_compile_gradient_strong_zero_where_it_holds_near_the_point(text, point):
    f = dk.parse(text)  # f(x, y) = y: gradient (0, 1) by hand
    for at in (point, (2.0, 3.0)):  # compiled at this point, and at another one
        cg = dk.compile_gradient(f, *at)
        value, grads = cg(*point)
        assert (value, grads) == (3.0, (0.0, 1.0))
        assert type(value) is float and all(type(g) is float for g in grads)
        assert cg.grad(*point) == (0.0, 1.0)


@pytest.mark.parametrize("text", ["sqrt(x) + y", "x*sqrt(x) + y", "sqrt(relu(x)) + y"])
def test_compile_gradient_still_refuses_a_live_zero(text):
    # the zero does not hold near 0 (x·sqrt(x) is refused by every engine: a decision)
    f = dk.parse(text)
    with pytest.raises(dk.NonDifferentiableError):
        dk.compile_gradient(f, 0.0, 3.0)
    with pytest.raises(dk.NonDifferentiableError):
        dk.compile_gradient(f, 2.0, 3.0)(0.0, 3.0)


def test_compile_gradient_types_as_value_and_grad():
    f = dk.parse("x**2 * y")
    for args in [(3.0, 2.0), (np.float64(3.0), 2.0), (np.float32(3.0), np.float32(2.0))]:
        got, want = dk.compile_gradient(f, *args)(*args), (9.0 * 2.0, (12.0, 9.0))
        ref = dk.value_and_grad(f)(*args)
        assert type(got[0]) is type(ref[0])
        assert [type(g) for g in got[1]] == [type(a) for a in args]
        assert got[0] == want[0] and got[1] == want[1]


# -- Richardson's domain message shows the values it stepped to ------------------------------


def test_richardson_domain_message_shows_values():
    with pytest.raises(dk.DomainError) as info:
        dk.grad(dk.parse("log(x) + x"), method="fd-richardson")(1e-9)
    text = str(info.value)
    assert "array(" not in text
    inside = re.search(r"log\(\[([^\]]*)\]\)", text)
    assert inside is not None
    values = [float(v) for v in inside.group(1).split()]
    assert len(values) == 10 and min(values) < 0  # the steps below 0 that log refuses
