"""Hunt 15 (re-entrancy, threads, caches; users' SciPy code): silent wrong answers and misleading
errors of dk.jit's frozen traces, eager accumulation and returned arrays. References are hand
formulas and NumPy on plain arrays, never diffkit itself."""

from __future__ import annotations

import math
import threading
import time

import numpy as np
import pytest

import diffkit as dk

# ----- an error raised inside a trace decides a branch: the trace holds at its point only ------


def _safe_log(x):
    try:
        return np.log(x - 1.0) * 2.0
    except (dk.DomainError, FloatingPointError):
        return x * 3.0


def test_jit_branch_taken_by_a_caught_domain_error_is_not_replayed():
    f = dk.jit(_safe_log)
    assert f(0.5) == pytest.approx(1.5)  # the except branch, by hand 3·0.5
    assert f(2.0) == pytest.approx(0.0, abs=1e-15)  # 2·log(1)
    assert dk.grad(f)(2.0)[0] == pytest.approx(2.0)  # 2/(x − 1)
    assert dk.grad(f, method="forward")(2.0)[0] == pytest.approx(2.0)


def test_jit_branch_taken_by_a_caught_overflow_is_not_replayed():
    def capped(x):
        try:
            return np.exp(x)
        except (dk.NumericOverflowError, FloatingPointError):
            return x * 0.0 + 1e300

    h = dk.jit(capped)
    assert h(800.0) == 1e300
    assert h(1.0) == pytest.approx(math.e)
    assert dk.grad(h)(1.0)[0] == pytest.approx(math.e)


def test_jit_branch_taken_by_a_caught_linalg_error_is_not_replayed():
    def logdet_or_trace(a):
        try:
            c = np.linalg.cholesky(a)
            return 2.0 * np.sum(np.log(np.diag(c)))
        except np.linalg.LinAlgError:
            return np.trace(a)

    f = dk.jit(logdet_or_trace)
    bad = np.array([[1.0, 2.0], [2.0, 1.0]])
    good = np.array([[2.0, 1.0], [1.0, 1.5]])
    assert f(bad) == pytest.approx(2.0)
    assert f(good) == pytest.approx(np.log(np.linalg.det(good)))
    (g,) = dk.grad(f)(good)
    inv = np.linalg.inv(good)  # cholesky reads the lower triangle: d logdet = 2·tril(A⁻¹) − diag
    np.testing.assert_allclose(g, 2.0 * np.tril(inv) - np.diag(np.diag(inv)), rtol=1e-12)


# ----- a frozen trace that fails at a point: its named error, never the live function -----------


def test_jit_call_at_a_pole_of_its_frozen_trace_is_the_named_error():
    state = {"c": 0.0}

    @dk.jit
    def f(x):
        return 1.0 / (x - state["c"])

    assert f(2.0) == 0.5
    state["c"] = 5.0
    assert f(4.0) == 0.25  # frozen c = 0, as documented
    with pytest.raises(dk.DomainError):  # the frozen 1/x at 0; the live one gave −0.2
        f(0.0)
    with pytest.raises(dk.DomainError):
        dk.grad(f)(0.0)


def test_jit_call_that_overflows_in_its_frozen_trace_is_the_named_error():
    state = {"c": 1.0}

    @dk.jit
    def f(x):
        return np.exp(state["c"] * x)

    assert f(1.0) == pytest.approx(math.e)
    state["c"] = 0.001
    with pytest.raises(dk.NumericOverflowError):  # exp(800) frozen; the live one gave e^0.8
        f(800.0)


# ----- first traces published once: threads and a body calling itself ---------------------------


def _racing_body(barrier):
    """k·x² with k the number of times the body has run; the "grad" thread's run ends last."""
    counter = iter(range(1, 100))

    def body(x):
        k = next(counter)
        try:
            barrier.wait(timeout=2)
        except threading.BrokenBarrierError:
            pass
        if threading.current_thread().name == "grad":
            time.sleep(0.02)  # the derivative's trace finishes second
        return k * x**2

    return body


def test_concurrent_first_uses_share_one_frozen_trace():
    """A plain call and dk.grad make the first trace at one signature at once, the derivative's
    finishing second; the body reads state outside its arguments (a counter: frozen at the first
    trace). Before, the call kept one trace and the derivatives another."""
    for _ in range(3):
        barrier = threading.Barrier(2)
        f = dk.jit(_racing_body(barrier))
        threads = [threading.Thread(target=f, args=(3.0,), name="call"),
                   threading.Thread(target=dk.grad(f), args=(3.0,), name="grad")]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        barrier.abort()  # later traces (none should run) do not wait
        value, (grad,) = f(3.0), dk.grad(f)(3.0)
        k = value / 9.0  # the one frozen k: f = k·x², f′ = 2k·x
        assert grad == pytest.approx(6.0 * k)
        v, (g,) = dk.value_and_grad(f)(3.0)
        assert (v, g) == pytest.approx((value, grad))


def test_jit_body_calling_itself_during_its_first_trace_freezes_the_outer_call():
    depth = {"d": 0}

    def body(x):
        if depth["d"] >= 2:
            return x
        depth["d"] += 1
        try:
            c = f(1.0)  # a plain call of the same jit function, same signature
        finally:
            depth["d"] -= 1
        return x * x + c * x  # as plain Python runs it: x² + 2x

    f = dk.jit(body)
    assert dk.grad(f)(3.0)[0] == pytest.approx(8.0)  # 2x + 2
    assert f(3.0) == pytest.approx(15.0)
    v, (g,) = dk.value_and_grad(f)(3.0)
    assert (v, g) == pytest.approx((15.0, 8.0))
    assert dk.jvp(f, (3.0,), (1.0,), method="forward") == pytest.approx((15.0, 8.0))


def test_jit_body_that_raises_runs_at_most_twice_per_call():
    runs = {"n": 0}

    def body(x):
        runs["n"] += 1
        raise ValueError("never ready")

    f = dk.jit(body)
    with pytest.raises(ValueError, match="never ready"):
        f(0.5)
    assert runs["n"] <= 2  # the first trace, then the function itself (was 3)


# ----- eager .grad: threads, temporaries -----------------------------------------------------------


def test_backward_from_threads_onto_one_leaf_loses_no_sum():
    p = dk.tensor(np.ones(1000), requires_grad=True)
    barrier = threading.Barrier(4)

    def work():
        barrier.wait()
        for _ in range(200):
            (p * 2.0).sum().backward()

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    np.testing.assert_array_equal(p.grad, np.full(1000, 1600.0))  # 4·200·2


def test_backward_of_a_graph_whose_leaf_was_a_temporary_runs():
    y = (dk.tensor(np.array([1.0, 2.0]), requires_grad=True) ** 2).sum()
    y.backward()  # PyTorch runs it: the gradient goes to a leaf nobody holds
    p = dk.tensor(np.array([1.0, 2.0]), requires_grad=True)
    z = (p * 2.0).sum()
    p.requires_grad_(False)
    with pytest.raises(dk.ShapeError, match="nothing in this graph requires a gradient"):
        z.backward()
    with pytest.raises(dk.ShapeError, match="nothing in this graph requires a gradient"):
        (dk.tensor(np.array([1.0, 2.0])) * 2.0).sum().backward()


# ----- results are the caller's own arrays ----------------------------------------------------------


@pytest.mark.parametrize("body", [lambda x: np.zeros_like(x), lambda x: np.ones(2) * 3.0,
                                  lambda x: np.eye(2)])
def test_jit_constant_output_is_a_fresh_array_each_call(body):
    f = dk.jit(body)
    x = np.array([1.0, 2.0])
    want = np.array(body(x), copy=True)
    y1 = f(x)
    y1 += 5.0
    np.testing.assert_array_equal(f(np.array([3.0, 4.0])), want)
    y, _ = dk.jvp(f, (x,), (np.ones(2),))
    y += 7.0
    np.testing.assert_array_equal(f(x), want)


@pytest.mark.parametrize("method", ["forward", "auto", "fd", "fd-complex"])
def test_jvp_value_of_the_identity_is_not_the_callers_input(method):
    x = np.array([1.0, 2.0])
    y, _ = dk.jvp(lambda x: x, (x,), (np.array([1.0, 0.0]),), method=method)
    y += 10.0
    np.testing.assert_array_equal(x, [1.0, 2.0])
    y, _ = dk.jvp(lambda x: x[:1], (x,), (np.array([1.0, 0.0]),), method=method)
    y += 10.0
    np.testing.assert_array_equal(x, [1.0, 2.0])


def test_identity_value_of_a_0d_array_is_still_a_python_number():
    """A review mend: the fresh copy of a result that aliases its input skipped to_python."""
    for method in ("reverse", "forward"):
        value, _ = dk.value_and_grad(lambda x: x, method=method)(np.array(2.0))
        assert type(value) is float and value == 2.0
        out, _ = dk.vjp(lambda x: x, np.array(2.0), method=method)
        assert type(out) is float and out == 2.0
