"""Trust (hunt 17): nn losses and layers against PyTorch's documented behaviour, dk.jit of
stateful and random layers, the symbolic Hessian's cached path and min's second derivative.

Every expected number is computed here by hand (NumPy formulas), never by diffkit."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

import diffkit as dk
from diffkit import nn

X = np.array([[1.0, 2.0], [3.0, 6.0]])


# ----- losses ----------------------------------------------------------------------------------


@pytest.mark.parametrize("make", [
    lambda p: nn.binary_cross_entropy(p, np.array([1.0, 0.0])),
    lambda p: nn.BCELoss()(p, np.array([1.0, 0.0])),
])
def test_bce_of_a_nan_probability_is_a_domain_error_not_a_loss_of_100(make):
    p = dk.tensor(np.array([np.nan, 0.5]), requires_grad=True)
    with pytest.raises(dk.DomainError, match="NaN"):
        make(p)


@pytest.mark.parametrize("eps", [1.5, -0.5, float("nan"), True])
def test_label_smoothing_outside_zero_one_is_refused(eps):
    z, y = np.array([[0.0, 5.0, 1.0]]), np.array([1])
    with pytest.raises(ValueError, match="label_smoothing"):
        nn.cross_entropy(z, y, label_smoothing=eps)
    with pytest.raises(ValueError, match="label_smoothing"):
        nn.CrossEntropyLoss(label_smoothing=eps)


@pytest.mark.parametrize("eps", [0.0, 0.3, 1.0])
def test_label_smoothing_in_range_is_the_hand_formula(eps):
    z, y = np.array([[0.0, 5.0, 1.0], [2.0, -1.0, 0.5]]), np.array([1, 0])
    logp = z - np.log(np.exp(z).sum(-1, keepdims=True))
    t = np.eye(3)[y] * (1 - eps) + eps / 3
    want = -(t * logp).sum(-1).mean()
    assert float(nn.cross_entropy(z, y, label_smoothing=eps)) == pytest.approx(want, rel=1e-13)


@pytest.mark.parametrize("call", [
    lambda w: nn.cross_entropy(np.zeros((2, 3)), np.array([0, 1]), w),
    lambda w: nn.nll_loss(np.zeros((2, 3)), np.array([0, 1]), w),
    lambda w: nn.CrossEntropyLoss(w),
    lambda w: nn.MSELoss(w),
])
def test_pytorch_positional_class_weights_are_a_named_error(call):
    with pytest.raises(dk.InputTypeError, match="reduction"):
        call(np.ones(3))


def test_an_unknown_reduction_string_is_a_value_error():
    with pytest.raises(ValueError, match="'avg'"):
        nn.MSELoss("avg")
    with pytest.raises(ValueError, match="'avg'"):
        nn.mse_loss(np.zeros(2), np.zeros(2), "avg")


def test_losses_read_lists_as_numpy_does():
    z, y = [[0.0, 1.0], [2.0, 0.0]], [1, 0]
    want = float(nn.cross_entropy(np.array(z), np.array(y)))
    assert float(nn.cross_entropy(z, y)) == want
    assert float(nn.mse_loss([0.0, 1.0], [1.0, 1.0])) == 0.5


# ----- dk.jit of layers with state, randomness or a mode ----------------------------------------


def _running_by_hand(batches, momentum=0.1):
    mean, var = np.zeros(2), np.ones(2)
    for b in batches:
        n = b.shape[0]
        mean = (1 - momentum) * mean + momentum * b.mean(0)
        var = (1 - momentum) * var + momentum * b.var(0) * n / (n - 1)
    return mean, var


def test_jit_of_batchnorm_updates_running_statistics_at_every_call_once():
    bn = nn.BatchNorm1d(2, dtype=np.float64)
    f = dk.jit(lambda x: bn(x))
    batches = [X, X * 2.0, X - 1.0]
    for b in batches:
        f(b)
    mean, var = _running_by_hand(batches)
    assert int(bn.num_batches_tracked) == 3
    np.testing.assert_allclose(bn.running_mean, mean, rtol=1e-14)
    np.testing.assert_allclose(bn.running_var, var, rtol=1e-14)


def test_jit_of_batchnorm_follows_eval_mode():
    bn = nn.BatchNorm1d(2, dtype=np.float64)
    f = dk.jit(lambda x: bn(x))
    f(X)
    bn.eval()
    mean, var = _running_by_hand([X])
    want = (X - mean) / np.sqrt(var + 1e-5)
    np.testing.assert_allclose(np.asarray(dk.tensor(f(X)).value), want, rtol=1e-12)


def test_jit_of_dropout_draws_a_fresh_mask_per_call_and_follows_eval():
    d = nn.Dropout(0.5)
    x = np.ones(64)
    nn.manual_seed(7)
    eager = [np.asarray(d(x)) for _ in range(3)]
    nn.manual_seed(7)
    h = dk.jit(lambda v: d(v))
    jitted = [np.asarray(h(x)) for _ in range(3)]
    for a, b in zip(eager, jitted, strict=True):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(jitted[0], jitted[1])
    d.eval()
    np.testing.assert_array_equal(np.asarray(h(x)), x)


def test_a_jit_function_that_holds_at_one_call_runs_its_body_once_at_its_first_call():
    calls = []

    def f(x):
        calls.append(x)
        return x * 2.0 if x > 0 else -x

    g = dk.jit(f)
    assert g(3.0) == 6.0
    assert len(calls) == 1
    assert g(-2.0) == 2.0
    assert len(calls) == 2


def test_batchnorm_buffers_keep_their_dtype_under_a_float64_batch():
    bn = nn.BatchNorm1d(2)  # float32
    bn(X)
    assert bn.running_mean.dtype == np.float32 and bn.running_var.dtype == np.float32
    bn.eval()
    assert np.asarray(bn(X.astype(np.float32)).value).dtype == np.float32


# ----- modules ---------------------------------------------------------------------------------


def test_load_state_dict_is_strict_by_default():
    bn = nn.BatchNorm1d(2)
    bn(X)
    state = bn.state_dict()
    del state["running_mean"]
    fresh = nn.BatchNorm1d(2)
    with pytest.raises(KeyError, match="missing key.*running_mean"):
        fresh.load_state_dict(state)
    extra = {**bn.state_dict(), "runing_var": np.ones(2)}
    with pytest.raises(KeyError, match="unexpected key.*runing_var"):
        fresh.load_state_dict(extra)
    assert int(fresh.num_batches_tracked) == 0  # nothing loaded
    missing, unexpected = fresh.load_state_dict(extra, strict=False)
    assert missing == [] and unexpected == ["runing_var"]
    np.testing.assert_array_equal(fresh.running_mean, bn.running_mean)
    result = nn.BatchNorm1d(2).load_state_dict(state, strict=False)
    assert result.missing_keys == ["running_mean"]


def test_layer_norm_takes_a_numpy_integer():
    x = np.arange(8.0).reshape(2, 4)
    want = (x - x.mean(-1, keepdims=True)) / np.sqrt(x.var(-1, keepdims=True) + 1e-5)
    got = nn.LayerNorm(np.int64(4), dtype=np.float64)(x)
    np.testing.assert_allclose(np.asarray(got.value), want, rtol=1e-12)


def test_layers_read_lists_as_numpy_does():
    conv = nn.Conv2d(1, 1, 2, dtype=np.float64)
    x = np.arange(9.0).reshape(1, 1, 3, 3)
    np.testing.assert_array_equal(np.asarray(conv(x.tolist()).value), np.asarray(conv(x).value))
    lin = nn.Linear(2, 1, dtype=np.float64)
    np.testing.assert_array_equal(np.asarray(lin([[1.0, 2.0]]).value),
                                  np.asarray(lin(np.array([[1.0, 2.0]])).value))


@pytest.mark.parametrize("x", [np.float64(3.0), np.ones(3)])
def test_flatten_needs_an_axis_after_the_batch(x):
    with pytest.raises(dk.ShapeError, match="Flatten"):
        nn.Flatten()(x)


def test_batchnorm_of_no_features_is_refused_at_construction():
    with pytest.raises(ValueError, match="num_features"):
        nn.BatchNorm1d(0)


def test_kaiming_of_a_zero_size_weight_is_a_no_op():
    w = nn.Parameter(np.zeros((3, 0)))
    assert nn.init.kaiming_uniform_(w).shape == (3, 0)
    assert nn.init.kaiming_normal_(nn.Parameter(np.zeros((0, 2)))).shape == (0, 2)


def test_del_removes_a_submodule_parameter_or_buffer():
    m = nn.Sequential(nn.Linear(2, 2), nn.ReLU())
    delattr(m, "1")
    assert len(m) == 1
    bn = nn.BatchNorm1d(2)
    del bn.running_var
    assert "running_var" not in bn.state_dict()
    lin = nn.Linear(2, 2)
    del lin.bias
    assert [k for k, _ in lin.named_parameters()] == ["weight"]


# ----- the symbolic Hessian, min's second derivative -------------------------------------------


@pytest.mark.parametrize("text, good, bad", [("log(x)", 2.0, -1.0), ("sqrt(x)", 4.0, -4.0)])
def test_a_cached_symbolic_hessian_is_a_domain_error_outside_the_domain(text, good, bad):
    f = dk.parse(text)
    h = dk.hessian(f, method="symbolic")
    h(good)
    with pytest.raises(dk.DomainError):
        h(bad)
    with pytest.raises(dk.DomainError):
        dk.hessian(f, method="symbolic")(bad)


@pytest.mark.parametrize("method", ["reverse", "forward"])
@pytest.mark.parametrize("body", [
    lambda x: np.min(x) ** 2, lambda x: x.min() * x[0], lambda x: np.ptp(x) ** 2,
    lambda x: np.nanmin(x) ** 2, lambda x: np.min(x, keepdims=True).sum() ** 2,
])
def test_a_second_derivative_through_min_at_a_tie_is_refused(method, body):
    with pytest.raises(dk.NonDifferentiableError, match="tied"):
        dk.hessian(body, method=method)(np.array([1.0, 1.0, 3.0]))


@pytest.mark.parametrize("method", ["reverse", "forward"])
def test_min_squared_off_a_tie_has_the_hand_hessian(method):
    got = dk.hessian(lambda x: np.min(x) ** 2, method=method)(np.array([2.0, 1.0, 3.0]))
    want = np.zeros((3, 3))
    want[1, 1] = 2.0
    np.testing.assert_array_equal(got, want)


def test_reverse_jacobian_of_min_over_an_axis_shares_ties():
    a = np.array([[1.0, 2.0], [1.0, 0.0]])
    got = dk.jacobian(lambda x: np.min(x, axis=0), method="reverse")(a)
    want = np.array([[0.5, 0.0, 0.5, 0.0], [0.0, 0.0, 0.0, 1.0]])
    np.testing.assert_array_equal(got, want)


def test_symbolic_formulas_show_max_norm_and_log_not_helper_names():
    f = dk.function(lambda x: np.max(x) * np.linalg.norm(x))
    shown = dk.symbolic(f, np.array([1.0, 2.0]))
    text = " ".join(map(str, shown.expressions)) + " ".join(shown.latex())
    for helper in ("TieMax", "Norm2", "NonZero"):
        assert helper not in text
    assert r"\max" in " ".join(shown.latex()) and r"\rVert_2" in " ".join(shown.latex())
    g = dk.symbolic(dk.parse("x^y"))
    assert "NonZero" not in str(g.expressions) and "NonZero" not in " ".join(g.latex())
    # the values are unchanged: the gradient by the symbolic program, against the hand formula
    x = np.array([1.0, 2.0])
    want = np.array([x[1] * x[0] / np.hypot(*x), np.hypot(*x) + x[1] * x[1] / np.hypot(*x)])
    np.testing.assert_allclose(dk.grad(f, method="symbolic")(x)[0], want, rtol=1e-14)


# ----- np.diff of order 0 ----------------------------------------------------------------------


@pytest.mark.parametrize("method", ["reverse", "forward"])
def test_diff_of_order_zero_ignores_prepend_and_append_as_numpy(method):
    x = np.array([1.0, 2.0, 4.0])

    def f(z):
        return np.sum(np.diff(z, n=0, append=z[:1] * 2.0, prepend=0.5) * np.array([1.0, 10.0, 100.0]))

    assert dk.function(f)(x) == pytest.approx(421.0)
    value, (g,) = dk.value_and_grad(f, method=method)(x)
    assert value == pytest.approx(421.0)
    np.testing.assert_array_equal(g, [1.0, 10.0, 100.0])
    jf = dk.jit(f)
    assert jf(x) == pytest.approx(421.0)
    np.testing.assert_array_equal(dk.grad(jf)(x)[0], [1.0, 10.0, 100.0])


def test_value_assignment_is_data_assignment():
    w = dk.tensor(np.array([1.0, 2.0]), requires_grad=True)
    w.value -= 1.0  # wrote into the array, then a bare AttributeError (no setter)
    np.testing.assert_array_equal(w.value, [0.0, 1.0])
    s = dk.tensor(3.0, requires_grad=True)
    s.value = 7.0
    (s * s).backward()
    assert float(s.grad) == 14.0

    def f(x):
        x.value = 2.0
        return x

    with pytest.raises(dk.TracingError, match="value"):
        dk.grad(f)(1.0)


# ----- the Trainer across fits, weighted losses, clipping (hunt 17e) ---------------------------


def _moons_trainer(**kwargs):
    nn.manual_seed(0)
    model = nn.MLP([2, 16, 2])
    return nn.Trainer(model, optimizer=nn.SGD(model.parameters(), lr=0.1), progress=False,
                      **kwargs)


def test_history_loss_of_a_class_weighted_loss_is_the_weighted_mean_of_the_set():
    X = np.array([[0.0], [1.0], [2.0], [3.0]], np.float32)
    y = np.array([0, 1, 1, 1])
    w = np.array([10.0, 1.0], np.float32)
    nn.manual_seed(0)
    m = nn.Linear(1, 2)
    t = nn.Trainer(m, loss_fn=nn.CrossEntropyLoss(weight=w), optimizer=nn.SGD(m.parameters(), lr=0.0),
                   progress=False)
    h = t.fit(nn.DataLoader(X, y, batch_size=2, shuffle=False), val_data=(X, y), epochs=1)
    z = np.asarray(m(X).value, np.float64)
    logp = z - np.log(np.exp(z).sum(-1, keepdims=True))
    want = -(w[y] * logp[np.arange(4), y]).sum() / w[y].sum()
    assert h["loss"][0] == pytest.approx(want, rel=1e-6)
    assert h["val_loss"][0] == pytest.approx(want, rel=1e-6)


def test_reduce_lr_on_plateau_reads_this_fits_metric():
    X, y = nn.make_moons(128, seed=0)
    t = _moons_trainer()
    t.scheduler = nn.ReduceLROnPlateau(t.optimizer, patience=0, factor=0.5)
    loader = nn.DataLoader(X, y, batch_size=16, seed=0)
    t.fit(loader, val_data=(X[:32], y[:32]), epochs=1)
    h = t.fit(loader, epochs=4)
    losses, lrs = h["loss"][1:], h["lr"][1:]
    assert all(b < a for a, b in itertools.pairwise(losses))  # the training loss improves ...
    assert lrs[-1] == lrs[0]  # ... so the rate is never cut (it was halved at every epoch)


def test_early_stopping_starts_afresh_when_its_default_metric_changes():
    X, y = nn.make_moons(128, seed=0)
    stop = nn.EarlyStopping(patience=2)
    t = _moons_trainer(early_stopping=stop)
    loader = nn.DataLoader(X, y, batch_size=16, seed=0)
    t.fit(loader, epochs=1)
    out = np.asarray(t.predict(X))
    sure = np.argsort(-np.abs(out[:, 1] - out[:, 0]))[:16]  # its most confident rows, with the
    h = t.fit(loader, val_data=(X[sure], out[sure].argmax(-1)), epochs=2)  # labels it gives
    assert h["val_loss"][-1] < min(h["loss"])  # (what makes the old best misleading)
    h = t.fit(loader, epochs=8)
    assert len(h["loss"]) == 8  # the training loss improves: no stop after two epochs
    assert stop.best == pytest.approx(min(h["loss"][2:]))


def test_grad_norms_are_taken_before_clipping():
    X, y = nn.make_moons(16, seed=0)
    norms = []
    for clip in (None, 1e-3):
        t = _moons_trainer(clip_grad_norm=clip)
        h = t.fit(nn.DataLoader(X, y, batch_size=16, shuffle=False), epochs=1)
        norms.append(h["grad_norms"])
    assert norms[0].keys() == norms[1].keys()
    for k in norms[0]:
        assert norms[1][k][0] == pytest.approx(norms[0][k][0], rel=1e-6)
        assert norms[1][k][0] > 1e-2


def test_empty_val_data_is_refused():
    X, y = nn.make_moons(32, seed=0)
    t = _moons_trainer()
    with pytest.raises(ValueError, match="val_data holds no rows"):
        t.fit(nn.DataLoader(X, y, batch_size=16), val_data=(X[:0], y[:0]), epochs=1)


# ----- symbolic over a traced derivative whose rule adds a comparison (hunt 17f) --------------


@pytest.mark.parametrize("name, second", [
    ("tanh", lambda x: -2.0 * np.tanh(x) / np.cosh(x) ** 2),
    ("sigmoid", lambda x: (s := 1.0 / (1.0 + np.exp(-x))) * (1 - s) * (1 - 2 * s)),
])
@pytest.mark.parametrize("inner", ["reverse", "forward"])
def test_symbolic_derivative_of_a_traced_gradient_through_tanh_and_sigmoid(name, second, inner):
    fn = getattr(dk, name)

    def g(x):
        return dk.grad(fn, method=inner)(x)[0]

    for x in (0.3, -1.2, 0.0):
        got = dk.derivative(g, method="symbolic")(x)
        assert got == pytest.approx(second(x), rel=1e-13, abs=1e-300)


# ----- a call returns what the body returns (hunt 17f) ----------------------------------------


def test_a_jit_of_a_gradient_returns_the_gradients_tuple():
    x, y = np.array([1.0, 2.0]), np.array([3.0, 4.0])
    g = dk.grad(lambda a: np.sum(a ** 3))
    for call in (dk.jit(g), dk.function(g)):
        for _ in range(2):  # the first call (traced) and a warm one (generated code)
            (got,) = call(x)
            np.testing.assert_array_equal(got, 3.0 * x ** 2)
    h = dk.jit(dk.grad(lambda a, b: np.sum(a ** 2 * b)))
    ga, gb = h(x, y)
    np.testing.assert_array_equal(ga, 2.0 * x * y)
    np.testing.assert_array_equal(gb, x ** 2)
    assert dk.jit(dk.grad(lambda t: t ** 3))(2.0) == (12.0,)


def test_a_branching_jit_function_returns_its_tuple_at_every_call():
    def f(x):
        return (x, x * 2.0) if x > 0 else (x, -x)

    g = dk.jit(f)
    assert g(1.5) == (1.5, 3.0)
    assert g(-1.0) == (-1.0, 1.0)
    assert g(2.0) == (2.0, 4.0)
    # the derivatives still see one flat output
    np.testing.assert_array_equal(dk.jacobian(f)(1.5), [[1.0], [2.0]])


# ----- hunts 17g and 17h: the new features read again, dict parameters, the CLI ---------------


@pytest.mark.parametrize("make", [lambda f: dk.grad(dk.jit(f)),
                                  lambda f: dk.value_and_grad(dk.jit(f))])
def test_the_first_derivative_of_a_jitted_batchnorm_runs_it_once(make):
    x = np.random.default_rng(0).standard_normal((5, 3))
    nn.manual_seed(0)
    eager_bn = nn.BatchNorm1d(3, dtype=np.float64)
    want = dk.grad(lambda v: dk.sum(eager_bn(v) ** 2))(x)[0]
    nn.manual_seed(0)
    bn = nn.BatchNorm1d(3, dtype=np.float64)
    out = make(lambda v: dk.sum(bn(v) ** 2))(x)
    got = out[1][0] if len(out) == 2 else out[0]

    def plain(v):  # (a Tensor of the eager tape: the parameters require grad)
        return v.detach().numpy() if isinstance(v, dk.Tensor) else np.asarray(v)

    np.testing.assert_allclose(plain(got), plain(want), rtol=1e-12, atol=1e-15)
    assert int(bn.num_batches_tracked) == 1
    np.testing.assert_array_equal(bn.running_mean, eager_bn.running_mean)


def test_the_trainer_refuses_an_ignore_index_that_is_a_class_in_the_labels():
    X = np.random.default_rng(0).standard_normal((8, 2))
    y = np.array([0, 1, 2, 1, 0, 1, 2, 2])
    m = nn.Linear(2, 3, dtype=np.float64)
    t = nn.Trainer(m, loss_fn=nn.CrossEntropyLoss(ignore_index=1), progress=False,
                   optimizer=nn.SGD(m.parameters(), lr=0.0))
    with pytest.raises(ValueError, match="ignore_index"):
        t.fit(nn.DataLoader(X, y, batch_size=4, shuffle=False), epochs=1)


def test_a_grouped_conv_trains_eagerly_bit_for_bit():
    rng = np.random.default_rng(1)
    X, y = rng.standard_normal((12, 4, 7, 7)), rng.integers(0, 3, 12)
    runs = []
    for compile_ in (None, False):
        nn.manual_seed(0)
        m = nn.Sequential(nn.Conv2d(4, 4, 2, groups=4, dtype=np.float64), nn.ReLU(),
                          nn.Flatten(), nn.Linear(144, 3, dtype=np.float64))
        t = nn.Trainer(m, optimizer=nn.SGD(m.parameters(), lr=0.1), compile=compile_,
                       progress=False)
        h = t.fit(nn.DataLoader(X, y, batch_size=5, shuffle=False, dtype=np.float64), epochs=3)
        runs.append((h["loss"], [np.asarray(v) for v in m.state_dict().values()]))
    assert runs[0][0] == runs[1][0]
    for a, b in zip(runs[0][1], runs[1][1], strict=True):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("loss", [nn.cross_entropy, nn.nll_loss])
def test_every_row_ignored_is_nan_with_a_zero_gradient_as_pytorch(loss):
    z = dk.tensor(np.array([[0.3, -0.2], [1.0, 2.0]]), requires_grad=True)
    value = loss(z, np.array([1, 1]), ignore_index=1)
    value.backward()
    assert np.isnan(float(value))
    np.testing.assert_array_equal(z.grad, np.zeros((2, 2)))


def test_loss_weights_are_copied_buffers():
    w = [1.0, 2.0, 3.0]
    loss = nn.CrossEntropyLoss(weight=w)
    z, y = np.array([[0.0, 1.0, 2.0], [1.0, 0.0, 0.0]]), np.array([2, 0])
    before = float(loss(z, y))
    w[0] = 100.0
    assert float(loss(z, y)) == before
    np.testing.assert_array_equal(loss.state_dict()["weight"], [1.0, 2.0, 3.0])
    other = nn.CrossEntropyLoss(weight=np.ones(3))
    other.load_state_dict(loss.state_dict())
    assert float(other(z, y)) == before
    assert "pos_weight" in nn.BCEWithLogitsLoss(pos_weight=np.array([2.0])).state_dict()
    assert nn.CrossEntropyLoss().state_dict() == {}


def test_a_dict_leaf_is_named_by_its_keys_and_never_as_another_input():
    def f(p, p_a):
        return p["a"] * p_a

    with pytest.raises(dk.DomainError, match=r"dict entry p\['a'\]"):
        dk.grad(f)({"a": np.nan}, 2.0)
    with pytest.raises(dk.DomainError, match="input 'p_a' of f"):
        dk.grad(f)({"a": 2.0}, np.nan)
    ga, gb = dk.grad(f, wrt=[0, 1])({"a": 3.0}, 2.0)
    assert ga == {"a": 2.0} and gb == 3.0


def test_a_dict_into_a_parsed_function_is_named():
    with pytest.raises(dk.InputTypeError, match="dict"):
        dk.grad(dk.parse("x*y"))({"a": 1.0}, 2.0)


def _cli(*args):
    import subprocess
    import sys

    return subprocess.run([sys.executable, "-m", "diffkit", *args], capture_output=True, check=False,
                          text=True, timeout=120)


def test_cli_prints_every_element_of_a_long_gradient_on_one_line():
    n = 1200
    run = _cli("grad", "sum(x)", "--at", "x=" + ",".join(["1"] * n), "--method", "reverse")
    assert run.returncode == 0, run.stderr
    line = next(ln for ln in run.stdout.splitlines() if "d/dx" in ln)
    assert "..." not in line and line.count("1.") == n


def test_cli_point_names_are_read_as_the_parser_reads_names():
    run = _cli("grad", "\u00b5*2", "--at", "\u00b5=1", "--method", "reverse")  # micro sign
    assert run.returncode == 0, run.stderr
    assert "2.0" in run.stdout
