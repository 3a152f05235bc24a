"""A dk.jit function called with traced arguments — inside another function's derivative, in
a jit function that differentiates it, or with eager Tensors — ran its body live, reading the
outside as it is now, while its own call replayed its first trace (jit's contract): the
derivative of inner(x) − inner(1)·x³ was 48 where the function is 0 everywhere, and a jit
of dk.grad(inner) answered 60 for 12. Traced calls now replay the first trace at the
signature of their values."""

from __future__ import annotations

import numpy as np
import pytest

import diffkit as dk


def _inner(state: list[float]):
    f = dk.jit(lambda x: x**3 * state[0])
    assert f(1.0) == 1.0 * state[0]  # the first trace: state as it is now
    return f


@pytest.mark.parametrize("method", ["reverse", "forward", "auto"])
def test_derivative_of_a_function_calling_a_jit_function(method: str) -> None:
    state = [1.0]
    inner = _inner(state)
    state[0] = 5.0  # after the first trace: frozen out
    plain = lambda x: inner(x) - inner(1.0) * x**3  # 0 for every x
    assert plain(2.0) == 0.0
    assert dk.grad(plain, method=method)(2.0) == (0.0,)
    assert dk.value_and_grad(plain, method=method)(2.0) == (0.0, (0.0,))


def test_hessian_of_it() -> None:
    state = [1.0]
    inner = _inner(state)
    state[0] = 5.0
    np.testing.assert_array_equal(dk.hessian(lambda x: inner(x) - x**3)(2.0), [[0.0]])


def test_jit_of_the_gradient_of_a_jit_function() -> None:
    state = [1.0]
    inner = _inner(state)
    state[0] = 5.0
    outer = dk.jit(lambda x: dk.grad(inner)(x)[0])
    assert dk.grad(inner)(2.0) == (12.0,)  # 3x² at c = 1
    assert outer(2.0) == 12.0  # answered 60 (c = 5)


def test_eager_tensor_argument() -> None:
    state = [1.0]
    inner = _inner(state)
    state[0] = 5.0
    t = dk.tensor(2.0, requires_grad=True)
    y = inner(t)
    y.backward()
    assert float(y.value) == 8.0 and float(t.grad) == 12.0  # were 40 and 60


def test_first_use_inside_a_derivative_freezes_for_later_calls() -> None:
    state = [1.0]
    fresh = dk.jit(lambda x: x**2 * state[0])
    assert dk.grad(lambda x: fresh(x) * 1.0)(3.0) == (6.0,)
    state[0] = 10.0
    assert fresh(3.0) == 9.0  # the trace its first (nested) use made
    assert dk.grad(fresh)(3.0) == (6.0,)


def test_a_branching_jit_function_still_reads_the_outside_live() -> None:
    """A trace that branched on its inputs holds at its point only: every use traces afresh."""
    state = [1.0]
    f = dk.jit(lambda x: x * state[0] if x > 0 else -x)
    assert f(2.0) == 2.0
    state[0] = 3.0
    assert f(2.0) == 6.0
    assert dk.grad(lambda x: f(x) + 0.0)(2.0) == (3.0,)
