"""A dk.jit call's pieces are each the replay's own value, in its own dtype (hunt G41, findings
1-2): exact int64/uint64 pieces above 2**53 (never cut out of one float64 or complex128 flat
output), and inside a derivative a bool, integer or float32 piece stays a traced value of that
dtype, as dk.function and the plain body give it.

References: the plain body's own result (type, dtype, exact value), Python integers, hand
formulas for the derivatives (and JAX, where installed)."""

from __future__ import annotations

import numpy as np
import pytest

import diffkit as dk


def _same(got, want) -> None:
    """`got` is the body's `want`: same type, dtype, shape and exact values (0-d int64/float64
    pieces of the body are arrays; a call gives them as Python numbers, docs/design.md)."""
    if isinstance(want, tuple | list):
        assert type(got) is type(want) and len(got) == len(want)
        for g, w in zip(got, want, strict=True):
            _same(g, w)
        return
    if isinstance(want, np.ndarray) and want.ndim:
        assert type(got) is np.ndarray, (got, want)
        assert got.dtype == want.dtype and got.shape == want.shape, (got, want)
        assert got.tolist() == want.tolist(), (got, want)  # exact, as Python numbers
        return
    assert np.asarray(got).dtype == np.asarray(want).dtype or isinstance(got, int | float), \
        (got, want)
    assert got == want, (got, want)


BIG = [
    lambda x: (np.sum(x), x.astype(np.int64) + 2**60),
    lambda x: (np.sum(x), x.astype(np.int64) ** 3),
    lambda x: (x.astype(np.int64) + 2**55 + 1, x * 1j),
    lambda x: (x * 2.0, x.astype(np.uint64) + np.uint64(2**63 + 1)),
    lambda x: [x * 2.0, (x.astype(np.int64) * (2**40 + 1), x > 1.5), (x * 3).astype(np.float32)],
]


@pytest.mark.parametrize("f", BIG)
def test_jit_pieces_exact_first_call_and_replays(f):
    j = dk.jit(f)
    for x in (np.array([1.0, 2.0]), np.array([1000001.0, 3.0]), np.array([7.0, 1.0])):
        want = f(x)
        _same(j(x), want)
        _same(dk.function(f)(x), want)


def test_jit_int64_pieces_hand_values():
    """The hunt's reproducers against Python integers."""
    x = np.array([1.0, 2.0])
    got = dk.jit(lambda v: (np.sum(v), v.astype(np.int64) + 2**60))(x)[1]
    assert got.tolist() == [2**60 + 1, 2**60 + 2]
    cube = dk.jit(lambda v: (np.sum(v), v.astype(np.int64) ** 3))
    cube(np.array([2.0]))  # the first call at this signature
    assert cube(np.array([1000001.0]))[1].tolist() == [1000001**3]  # a replay
    mixed = dk.jit(lambda v: (v.astype(np.int64) + 2**55 + 1, v * 1j))(x)
    assert mixed[0].dtype == np.int64 and mixed[0].tolist() == [2**55 + 2, 2**55 + 3]
    assert mixed[1].tolist() == [1j, 2j]


def _mask_user(g):
    def f(v):
        a, m = g(v)
        return np.sum(a * (m + m))  # bool + bool is logical or: m, not 2 m
    return f


def test_jit_bool_piece_in_derivative():
    """The hunt's finding 2: value sum(v[v > 1.5]), gradient the mask (hand formula)."""
    j = dk.jit(lambda v: (v * 1.0, v > 1.5))
    for x in (np.array([1.0, 2.0, 3.0]), np.array([4.0, 0.5, 2.0])):
        value, (grad,) = dk.value_and_grad(_mask_user(j))(x)
        assert value == np.sum(x[x > 1.5])
        assert grad.tolist() == (x > 1.5).astype(float).tolist()
        for method in ("forward", "symbolic"):
            assert dk.grad(_mask_user(j), method=method)(x)[0].tolist() == grad.tolist()


def test_jit_bool_piece_in_derivative_against_jax():
    jax = pytest.importorskip("jax")
    jax.config.update("jax_enable_x64", True)
    jj = jax.jit(lambda v: (v * 1.0, v > 1.5))
    x = np.array([1.0, 2.0, 3.0])
    want_v, want_g = jax.value_and_grad(_mask_user(jj))(x)
    value, (grad,) = dk.value_and_grad(_mask_user(dk.jit(lambda v: (v * 1.0, v > 1.5))))(x)
    assert value == float(want_v) and grad.tolist() == np.asarray(want_g).tolist()


def test_jit_int8_piece_in_derivative_keeps_its_dtype():
    """k * k wraps in int8 (100 * 100 = 16): the piece must stay int8 inside the derivative."""
    seen = []
    j = dk.jit(lambda v: (v * 1.0, v.astype(np.int8) * np.int8(100)))

    def f(v):
        a, k = j(v)
        seen.append(k.dtype)
        return np.sum(a * (k * k))

    for x in (np.array([1.0, 2.0, 3.0]), np.array([3.0, 1.0, 5.0])):
        kk = [((int(e) * 100 + 128) % 256 - 128) ** 2 for e in x]
        kk = [(e + 128) % 256 - 128 for e in kk]  # k * k in int8, by hand
        value, (grad,) = dk.value_and_grad(f)(x)
        assert value == sum(float(e) * w for e, w in zip(x, kk, strict=True))
        assert grad.tolist() == [float(w) for w in kk]
    assert set(seen) == {np.dtype(np.int8)}


def test_jit_float32_and_int64_pieces_in_derivative():
    seen = []
    j = dk.jit(lambda v: (v * 2.0, (v * 3.0).astype(np.float32), v.astype(np.int64)))

    def f(v):
        a, b, n = j(v)
        seen.append((b.dtype, n.dtype))
        return np.sum(a * b) + np.sum(a * n)

    for x in (np.array([1.0, 2.5]), np.array([0.5, 4.0])):
        value, (grad,) = dk.value_and_grad(f)(x)
        n = np.floor(x)  # int64 of a positive float, a constant of the derivative
        assert value == np.sum(6.0 * x**2) + np.sum(2.0 * x * n)
        assert grad.tolist() == (12.0 * x + 2.0 * n).tolist()  # d/dx 6x^2 and 2x n
    assert set(seen) == {(np.dtype(np.float32), np.dtype(np.int64))}


def test_derivatives_of_tuple_valued_jit_function_itself():
    """The flat output stays where a derivative needs the function as one vector."""
    j = dk.jit(lambda v: (v * 2.0, v**2))
    x = np.array([1.0, 3.0])
    jac = dk.jacobian(j)(x)
    jac = jac[0] if isinstance(jac, tuple) else jac
    assert np.asarray(jac).tolist() == [[2.0, 0.0], [0.0, 2.0], [2.0, 0.0], [0.0, 6.0]]


@pytest.mark.parametrize("method", ["reverse", "forward", "symbolic"])
def test_bool_arithmetic_stays_bool_in_every_engine(method):
    """NumPy's m + m of two masks is logical or (True, not 2), m * m logical and: the symbolic
    engine summed their 0/1 values (gradient [0, 2, 2] for [0, 1, 1]); hand formulas."""
    x = np.array([1.0, 2.0, 3.0])
    cases = [(lambda v: np.sum(v * ((v > 1.5) + (v > 1.5))), [0.0, 1.0, 1.0]),
             (lambda v: np.sum(v**2 * ((v > 1.5) + (v > 2.5) + (v < 0.5))), [0.0, 4.0, 6.0]),
             (lambda v: np.sum(v * ((v > 1.5) * (v > 2.5))), [0.0, 0.0, 1.0])]
    for f, want in cases:
        assert dk.grad(f, method=method)(x)[0].tolist() == want


@pytest.mark.parametrize("method", ["reverse", "forward", "symbolic"])
def test_comparisons_of_masks_are_numpys_in_every_engine(method):
    # hand: masks m = v > 1.5, n = v < 2.5 at v = [1, 2, 3, 0.2]: m > n is [F, F, T, F],
    # m >= True is m, (m + m) > 0.5 is m
    v = np.array([1.0, 2.0, 3.0, 0.2])
    cases = [(lambda v: np.sum(v * ((v > 1.5) > (v < 2.5))), [0, 0, 1, 0]),
             (lambda v: np.sum(v * ((v > 1.5) >= True)), [0, 1, 1, 0]),
             (lambda v: np.sum(v * (((v > 1.5) + (v > 1.5)) > 0.5)), [0, 1, 1, 0]),
             (lambda v: np.sum(np.where((v > 1.5) > (v < 2.5), v**2, v)), [1, 1, 6, 1])]
    for f, expected in cases:
        np.testing.assert_array_equal(dk.grad(f, method=method)(v)[0], expected)
