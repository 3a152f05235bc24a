"""Hunt 2 (compare / CLI / traces / distributed): each test asserts the right behaviour against an
independent reference (PyTorch float64, a hand count) and fails on the current code."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from mpi_support import ENV, MPIEXEC, needs_mpi

import diffkit as dk


def _ranks(tmp_path: Path, code: str, n: int = 2, timeout: float = 60):
    script = tmp_path / "w.py"
    script.write_text(textwrap.dedent(code))
    return subprocess.run([MPIEXEC, "-n", str(n), sys.executable, str(script), str(tmp_path)],
                          env=ENV, capture_output=True, text=True, timeout=timeout, check=False)


# Trainer data-parallel with a reduction="sum" loss scales each rank's SUM gradient by n_r/N:
# the step is 1/world_size of one process's (PyTorch reference: one SGD step on the summed loss)
@needs_mpi
def test_distributed_trainer_sum_loss_matches_single_process(tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")

    done = _ranks(tmp_path, """
        import sys, json, numpy as np
        from diffkit import nn
        nn.distributed.init(timeout=20)
        rng = np.random.default_rng(1)
        X = rng.normal(size=(8, 5)).astype(np.float32); y = rng.integers(0, 3, size=8)
        nn.manual_seed(0)
        model = nn.MLP([5, 8, 3])
        tr = nn.Trainer(model, loss_fn=nn.CrossEntropyLoss(reduction="sum"),
                        optimizer=nn.SGD(model.parameters(), lr=0.01), progress=False)
        tr.fit(nn.DataLoader(X, y, batch_size=8, shuffle=False), epochs=1)
        if nn.distributed.rank == 0:
            json.dump([p.value.astype(float).tolist() for p in model.parameters()],
                      open(sys.argv[1] + "/out.json", "w"))
    """)
    assert done.returncode == 0, done.stderr[-2000:]
    got = [np.array(a) for a in json.loads((tmp_path / "out.json").read_text())]

    from diffkit import nn
    rng = np.random.default_rng(1)
    X = rng.normal(size=(8, 5)).astype(np.float32)
    y = rng.integers(0, 3, size=8)
    nn.manual_seed(0)
    init = [torch.tensor(p.value.astype(np.float64), requires_grad=True)
            for p in nn.MLP([5, 8, 3]).parameters()]
    W1, b1, W2, b2 = init
    xt = torch.tensor(X.astype(np.float64))
    out = torch.relu(xt @ W1.T + b1) @ W2.T + b2
    loss = torch.nn.functional.cross_entropy(out, torch.tensor(y), reduction="sum")
    grads = torch.autograd.grad(loss, init)
    want = [(p - 0.01 * g).detach().numpy() for p, g in zip(init, grads)]
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=1e-5, atol=1e-6)


# all_reduce_gradients on ranks whose models differ in shape silently sums mismatched buffers:
# the ranks end with DIFFERENT "averaged" gradients and no error (should be a named error)
@needs_mpi
def test_all_reduce_gradients_shape_mismatch_is_a_named_error(tmp_path: Path) -> None:
    done = _ranks(tmp_path, """
        import numpy as np
        from diffkit import nn
        nn.distributed.init(timeout=10)
        r = nn.distributed.rank
        model = nn.MLP([4, 6 + r, 2])
        out = model(np.ones((3, 4), np.float32))
        nn.mse_loss(out, np.zeros(out.shape, np.float32)).backward()
        nn.distributed.all_reduce_gradients(model)
        print("rank", r, "reduced", [float(np.sum(p.grad)) for p in model.parameters()], flush=True)
    """)
    assert "reduced" not in done.stdout, done.stdout
    assert done.returncode != 0
    assert "RankMismatchError" in done.stderr or "DistributedError" in done.stderr


# broadcast_parameters on ranks whose models differ in shape: a bare mpi4py.MPI.Exception
# traceback ("See the MPI_ERROR field in MPI_Status") instead of a named diffkit error
@needs_mpi
def test_broadcast_parameters_shape_mismatch_is_a_named_error(tmp_path: Path) -> None:
    done = _ranks(tmp_path, """
        from diffkit import nn
        nn.distributed.init(timeout=10)
        model = nn.MLP([4, 6 + nn.distributed.rank, 2])
        nn.distributed.broadcast_parameters(model)
        print("rank", nn.distributed.rank, "broadcast done", flush=True)
    """)
    assert done.returncode != 0
    assert "mpi4py.MPI.Exception" not in done.stderr, done.stderr[-1500:]
    assert "RankMismatchError" in done.stderr or "DistributedError" in done.stderr


# dk.compare's "evals" column for finite differences under-counts the calls of the user's
# function: fd-forward reports n+1 = 3 but f runs 5 times per gradient (a value probe in
# _flat_function and a trace in _check_one_sided), fd-complex reports 2 but f runs 4 times
@pytest.mark.parametrize("method", ["fd-forward", "fd-complex"])
def test_compare_fd_evaluations_count_calls_of_user_function(method: str) -> None:
    calls = [0]

    def f(x, y):
        calls[0] += 1
        return dk.sin(x) * y + x ** 3 / y

    row = dk.compare(f, 1.3, 0.7, methods=[method], repeat=1, budget=1e-4).rows[0]
    calls[0] = 0
    dk.grad(f, method=method)(1.3, 0.7)
    assert row.evaluations == calls[0]


# the summed loss over several steps, with a short last batch (shards 3+2, then 2+1) and an l2
# penalty (once in the global sum: rank 0 adds it): parameters and loss history
# equal PyTorch's one-process training on the full batches
@needs_mpi
def test_distributed_trainer_sum_loss_with_penalty_history(tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")

    done = _ranks(tmp_path, """
        import sys, json, numpy as np
        from diffkit import nn
        nn.distributed.init(timeout=20)
        rng = np.random.default_rng(2)
        X = rng.normal(size=(8, 5)).astype(np.float32); y = rng.integers(0, 3, size=8)
        nn.manual_seed(0)
        model = nn.MLP([5, 8, 3])
        tr = nn.Trainer(model, loss_fn=nn.CrossEntropyLoss(reduction="sum"), l2=0.3,
                        optimizer=nn.SGD(model.parameters(), lr=0.01), progress=False)
        h = tr.fit(nn.DataLoader(X, y, batch_size=5, shuffle=False), epochs=2)
        if nn.distributed.rank == 0:
            json.dump({"params": [p.value.astype(float).tolist() for p in model.parameters()],
                       "loss": h["loss"]}, open(sys.argv[1] + "/out.json", "w"))
    """)
    assert done.returncode == 0, done.stderr[-2000:]
    got = json.loads((tmp_path / "out.json").read_text())

    from diffkit import nn
    rng = np.random.default_rng(2)
    X = torch.tensor(rng.normal(size=(8, 5)).astype(np.float32).astype(np.float64))
    y = torch.tensor(rng.integers(0, 3, size=8))
    nn.manual_seed(0)
    params = [torch.tensor(p.value.astype(np.float64), requires_grad=True)
              for p in nn.MLP([5, 8, 3]).parameters()]
    history = []
    for _ in range(2):
        total = 0.0
        for lo, hi in ((0, 5), (5, 8)):
            W1, b1, W2, b2 = params
            out = torch.relu(X[lo:hi] @ W1.T + b1) @ W2.T + b2
            loss = torch.nn.functional.cross_entropy(out, y[lo:hi], reduction="sum") \
                + 0.15 * ((W1 ** 2).sum() + (W2 ** 2).sum())
            grads = torch.autograd.grad(loss, params)
            params = [(p - 0.01 * g).detach().requires_grad_() for p, g in zip(params, grads)]
            total += float(loss.detach())
        history.append(total / 8)
    for g, w in zip(got["params"], params):
        np.testing.assert_allclose(np.array(g), w.detach().numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(got["loss"], history, rtol=1e-5)


# an MPI error inside a collective (buffers of other lengths on the ranks) is a DistributedError
# naming the operation, on the rank that sees it, never a bare mpi4py.MPI.Exception
@needs_mpi
def test_mpi_error_in_a_collective_is_a_named_error(tmp_path: Path) -> None:
    done = _ranks(tmp_path, """
        import numpy as np
        from diffkit import nn
        ctx = nn.distributed.init(timeout=10)
        ctx.broadcast([np.zeros(4 + 3 * ctx.rank)], what="broadcast of the test buffer")
        print("rank", ctx.rank, "broadcast done", flush=True)
    """)
    assert done.returncode != 0
    assert "mpi4py.MPI.Exception" not in done.stderr, done.stderr[-1500:]
    assert "DistributedError" in done.stderr and "broadcast of the test buffer" in done.stderr


# every finite-difference scheme: the comparison's count is the number of calls of the function
# (counted by the wrapper). The value's trace and one plain call that checks the function repeats
# it, which the forward difference reuses as f(x): n + 2 calls (plus the one-sided check's
# trace), not n + 3; the complex step traces its points and runs the same plain-call check;
# and two plain calls at one stencil point that check f repeats there (+ 2 in every scheme)
@pytest.mark.parametrize("method, want", [("fd-forward", 3 + 4), ("fd-central", 2 * 3 + 4),
                                          ("fd-complex", 3 + 4), ("fd-richardson", 2 * 3 * 5 + 4)])
def test_fd_counts_every_call_for_every_scheme(method: str, want: int) -> None:
    calls = [0]

    def f(a, b, c):
        calls[0] += 1
        return dk.sin(a) * b + c * c / b

    point = (1.0, 2.0, 3.0)
    row = dk.compare(f, *point, methods=[method], repeat=1, budget=1e-4).rows[0]
    calls[0] = 0
    got = dk.grad(f, method=method)(*point)
    assert calls[0] == row.evaluations == want
    exact = [2 * np.cos(1.0), np.sin(1.0) - 9 / 4, 3.0]
    np.testing.assert_allclose(got, exact, rtol=1e-6)


# ----- dk.derivative honours the finite-difference scheme (checked against mpmath, 50 digits)

MP_CASES = [("sin", dk.sin, "sin", (0.0, 0.7, 3.0, -10.0)),
            ("exp", dk.exp, "exp", (0.0, 0.7, 3.0, -10.0)),
            ("gamma", dk.gamma, "gamma", (0.3, 2.5, 150.0))]


def _mp_derivative(name: str, x: float, n: int) -> float:
    import mpmath

    mpmath.mp.dps = 50
    return float(mpmath.diff(getattr(mpmath, name), mpmath.mpf(x), n))


@pytest.mark.parametrize("method, tol", [("fd-central", 1e-4), ("fd-forward", 1e-4),
                                         ("fd-richardson", 1e-5)])
def test_fd_derivative_of_order_n_is_right_or_warns(method: str, tol: float) -> None:
    """Every answer is within the documented tolerance (SETTLED = 1e-4 relative to max(1, |f⁽ⁿ⁾|);
    Richardson's much better), or comes with a RuntimeWarning naming its error estimate."""
    import warnings

    for _, f, name, points in MP_CASES:
        for x in points:
            for n in range(1, 5):
                want = _mp_derivative(name, x, n)
                with warnings.catch_warnings(record=True) as caught:
                    warnings.simplefilter("always")
                    got = dk.derivative(f, n, method=method)(x)
                if any(issubclass(w.category, RuntimeWarning) for w in caught):
                    continue
                assert abs(got - want) <= tol * max(1.0, abs(want)), (method, name, x, n, got,
                                                                        want)


def test_fd_derivative_gamma_at_150_is_not_silently_wrong() -> None:
    """The plain 4th central difference with h = ε^(1/6)·150 = 5.5 was 74% off, silently."""
    import warnings

    want = _mp_derivative("gamma", 150.0, 4)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        d = dk.derivative(dk.gamma, 4, method="fd-central")
        got = d(150.0)
        assert abs(got - want) <= 1e-4 * abs(want)
        assert d.engine.error_estimate is not None and d.engine.error_estimate <= 1e-4 * abs(want)
        r = dk.derivative(dk.gamma, 4, method="fd-richardson")(150.0)
        assert abs(r - want) <= 1e-8 * abs(want)


def test_fd_derivative_richardson_extrapolates_order_n() -> None:
    """The n-th difference through Richardson's tableau: far beyond one central difference."""
    for n in (2, 3, 4):
        want = _mp_derivative("exp", 0.7, n)
        got = dk.derivative(dk.exp, n, method="fd-richardson")(0.7)
        assert abs(got - want) <= 1e-8 * want


def test_fd_derivative_complex_step() -> None:
    """n = 1 is the complex step with its checks (as grad); n ≥ 2 is refused by name."""
    assert dk.derivative(dk.sin, 1, method="fd-complex")(0.7) == pytest.approx(np.cos(0.7),
                                                                                 rel=1e-15)
    with pytest.raises(dk.MissingRuleError):
        dk.grad(lambda x: dk.abs(x) * x ** 2, method="fd-complex")(0.5)
    with pytest.raises(dk.MissingRuleError):
        dk.derivative(lambda x: dk.abs(x) * x ** 2, 1, method="fd-complex")(0.5)
    with pytest.raises(dk.MissingRuleError, match="first derivatives only"):
        dk.derivative(dk.sin, 2, method="fd-complex")(0.7)


def test_fd_derivative_forward_is_one_sided() -> None:
    """fd-forward's n-th difference reads f only at x, x + h, …, x + nh: x**3.5 at 0 (defined
    for x ≥ 0; f″ = 8.75·x^1.5 = 0 there) gets its derivative, where a central stencil steps
    outside the domain (a named DomainError)."""
    got = dk.derivative(lambda x: x ** 3.5, 2, method="fd-forward")(0.0)
    assert abs(got) <= 1e-6
    with pytest.raises(dk.DomainError, match="outside the domain"):
        dk.derivative(lambda x: x ** 3.5, 2, method="fd-central")(0.0)


# synchronized batch norm with a summed loss: its backward weights the ranks' cotangents by the
# gradient reduction's weight, which is 1 for a sum (it was n_r/N, the mean loss's)
@needs_mpi
def test_distributed_sync_batchnorm_sum_loss_matches_single_process(tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")

    done = _ranks(tmp_path, """
        import sys, json, numpy as np
        from diffkit import nn
        nn.distributed.init(timeout=20)
        rng = np.random.default_rng(3)
        X = rng.normal(size=(8, 5)).astype(np.float32); y = rng.integers(0, 3, size=8)
        nn.manual_seed(0)
        model = nn.distributed.convert_sync_batchnorm(nn.MLP([5, 8, 3], batch_norm=True))
        tr = nn.Trainer(model, loss_fn=nn.CrossEntropyLoss(reduction="sum"),
                        optimizer=nn.SGD(model.parameters(), lr=0.01), progress=False)
        tr.fit(nn.DataLoader(X, y, batch_size=8, shuffle=False), epochs=1)
        if nn.distributed.rank == 0:
            json.dump([p.value.astype(float).tolist() for p in model.parameters()],
                      open(sys.argv[1] + "/out.json", "w"))
    """, n=3)
    assert done.returncode == 0, done.stderr[-2000:]
    got = [np.array(a) for a in json.loads((tmp_path / "out.json").read_text())]

    from diffkit import nn
    rng = np.random.default_rng(3)
    X = torch.tensor(rng.normal(size=(8, 5)).astype(np.float32).astype(np.float64))
    y = torch.tensor(rng.integers(0, 3, size=8))
    nn.manual_seed(0)
    params = [torch.tensor(p.value.astype(np.float64), requires_grad=True)
              for p in nn.MLP([5, 8, 3], batch_norm=True).parameters()]
    W1, b1, g, b, W2, b2 = params
    hid = torch.nn.functional.batch_norm(X @ W1.T + b1, None, None, g, b, training=True,
                                         eps=1e-5)
    out = torch.relu(hid) @ W2.T + b2
    loss = torch.nn.functional.cross_entropy(out, y, reduction="sum")
    grads = torch.autograd.grad(loss, params)
    for got_p, p, gr in zip(got, params, grads):
        np.testing.assert_allclose(got_p, (p - 0.01 * gr).detach().numpy(), rtol=1e-5, atol=1e-6)
