"""Calling a ``dk.jit`` function runs generated code, one per signature, under jit's contract.

References are the same function run as plain Python (not jit) and hand-written NumPy."""

from __future__ import annotations

import numpy as np
import pytest

import diffkit as dk

RNG = np.random.default_rng(11)
X = RNG.normal(size=(32, 4))
Y = X @ np.array([1.0, -2.0, 0.5, 3.0]) + 0.05 * RNG.normal(size=32)


def _loss(w, X, y):
    return dk.mean((X @ w - y) ** 2)


def _step(w, X, y):
    (g,) = dk.grad(_loss, wrt=0)(w, X, y)
    return w - 0.1 * g


def _compiled(fn) -> list:
    return [k for k, v in fn.cache.items() if k[0] == "evaluate" and v is not False]


def test_a_functional_training_step_compiles_forward_backward_and_update() -> None:
    step = dk.jit(_step)
    w_jit = w_py = np.zeros(4)
    for _ in range(40):
        w_jit, w_py = step(w_jit, X, Y), _step(w_py, X, Y)
    np.testing.assert_allclose(w_jit, w_py, rtol=1e-13, atol=1e-15)
    hand = np.zeros(4)
    for _ in range(40):  # the hand-written gradient of the mean squared error
        hand = hand - 0.1 * (2 / len(Y)) * X.T @ (X @ hand - Y)
    np.testing.assert_allclose(w_jit, hand, rtol=1e-12, atol=1e-14)
    assert len(_compiled(step)) == 1  # one generated function for the one signature


def test_jit_freezes_what_it_does_not_take_as_arguments_when_called_too() -> None:
    state = {"w": 2.0}
    f = dk.jit(lambda x: x * state["w"])
    assert f(np.float64(1.0)) == 2.0
    state["w"] = 5.0
    assert f(np.float64(1.0)) == 2.0  # the contract: a constant of the first trace
    assert f(np.array([1.0, 1.0])).tolist() == [5.0, 5.0]  # a new signature traces again
    assert dk.function(lambda x: x * state["w"])(1.0) == 5.0  # plain functions read it each call


def test_a_jit_function_that_branches_is_run_at_every_call() -> None:
    @dk.jit
    def f(x):
        return x * x if x > 0 else -x * x * x

    for _ in range(3):
        assert f(3.0) == 9.0 and f(-2.0) == 8.0
    assert not _compiled(f)


def test_errors_and_dtypes_are_those_of_the_function() -> None:
    f = dk.jit(lambda x: dk.sum(dk.log(x)))
    assert f(np.array([1.0, np.e])) == pytest.approx(1.0, rel=1e-15)
    with pytest.raises(dk.DomainError, match="log"):
        f(np.array([1.0, -1.0]))
    g = dk.jit(lambda x: dk.tanh(x) * 2.0)
    out = g(np.ones(3, np.float32))
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, 2 * np.tanh(np.ones(3, np.float32)), rtol=1e-6)


def test_other_arguments_and_constant_outputs_still_evaluate() -> None:
    f = dk.jit(lambda x: x[np.array([2, 0])] * 2.0)
    assert f(np.array([1.0, 2.0, 3.0])).tolist() == [6.0, 2.0]
    c = dk.jit(lambda x: np.ones(2))
    assert c(np.float64(1.0)).tolist() == [1.0, 1.0]
    h = dk.jit(lambda x: x * 2.0)
    assert h(np.array([1.0, 2.0])).tolist() == [2.0, 4.0]
    # a plain call differentiates nothing: a list reaches the body as the list it is, as in
    # Python and JAX (list * 2.0 is Python's TypeError; ninth hunt: c + [1.0] appends)
    with pytest.raises(TypeError):
        h([1.0, 2.0])


def test_a_jit_function_compiles_in_a_fresh_interpreter() -> None:
    """Right after ``import diffkit``, calling a jit function that never asks for a derivative
    runs generated code from its second call: the body is traced once per signature. (Before,
    the evaluator was registered only when an engine was first imported, so such a function was
    traced at every call: 3 traces here.)"""
    import subprocess
    import sys

    code = ("import numpy as np, diffkit as dk\n"
            "traces = []\n"
            "def f(x):\n"
            "    traces.append(1)\n"
            "    return dk.sum(dk.sin(x) * 2.0)\n"
            "g = dk.jit(f)\n"
            "x = np.linspace(0.0, 1.0, 5)\n"
            "values = [g(x) for _ in range(3)]\n"
            # ×2 is exact in binary floating point, so Σ 2·sin x = 2·Σ sin x to the bit
            "assert all(v == 2 * np.sin(x).sum() for v in values), values\n"
            "print(len(traces))\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120, check=True)
    assert done.stdout.split() == ["1"]


@pytest.mark.parametrize("dtype", [np.int8, np.int16, np.int32, np.uint8, np.uint16, np.uint32,
                                   np.uint64, np.float32, np.float16])
@pytest.mark.parametrize("make", [dk.jit, dk.function])
def test_a_0d_result_keeps_numpys_scalar_type_where_a_python_number_would_not(make, dtype
                                                                            ) -> None:
    # an int8 result came back as a Python int: the next NumPy operation then stopped wrapping
    # at 127 (NumPy's int8 arithmetic), a silent change of meaning
    def f(x):
        return x * x + x

    x = np.array(20, dtype=dtype)
    want = f(x)  # NumPy itself: np.int8(-60) for int8 (420 wraps), np.float16(420.0), ...
    for _ in range(3):  # traced, then generated code (jit)
        got = make(f)(x)
        assert type(got) is type(want) and got == want
        assert type(got * x) is type(want * x) and got * x == want * x


@pytest.mark.parametrize("x, kind", [(np.array(3), int), (np.array(True), bool),
                                     (np.array(2.5), float), (np.array(1j), complex)])
def test_a_0d_result_of_a_dtype_python_carries_is_a_python_number(x, kind) -> None:
    got = dk.jit(lambda v: v + v)(x)
    assert isinstance(got, kind) and got == x + x
