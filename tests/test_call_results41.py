"""A call's result as the body made it; dead traced values refused; fd's complex check; constant
primal outputs copied (hunt 41, findings 1-4).

References: the plain body's own result (its pieces' types, dtypes and values, with the
documented rule that a 0-d float64/complex128/int64/bool value is a Python number), hand formulas
for derivatives."""

from __future__ import annotations

import collections
import warnings

import numpy as np
import pytest

import diffkit as dk

#: NumPy scalars a call gives as Python numbers (docs/design.md, dtypes): their value and
#: arithmetic are the Python number's
_PYTHON = (np.float64, np.complex128, np.int64, np.bool_)


def _expected(v):
    """The body's piece as a call gives it: containers as they are, NumPy scalars of _PYTHON as
    Python numbers, everything else unchanged (hand-written, not diffkit's)."""
    if isinstance(v, list | tuple):
        items = [_expected(e) for e in v]
        return v._make(items) if hasattr(v, "_make") else type(v)(items)
    if type(v) in _PYTHON:
        return v.item()
    if type(v) is np.ndarray and v.ndim == 0 and v.dtype.type in _PYTHON:
        return v.item()
    return v


def _same(got, want) -> None:
    assert type(got) is type(want), (got, want)
    if isinstance(want, list | tuple):
        assert len(got) == len(want)
        for g, w in zip(got, want, strict=True):
            _same(g, w)
        return
    if isinstance(want, np.ndarray | np.generic):
        assert got.dtype == want.dtype and np.shape(got) == np.shape(want)
        assert np.array_equal(got, want)
    else:
        assert got == want


def _pieces(x):
    return (np.sum(x), np.argmax(x), 2**60 + 1, True, np.arange(2),
            [np.float32(1.5), np.int8(100)], np.sum(x).astype(np.float32), x > 2.0)


def _replayable(x):  # no read of the values: dk.jit replays its first trace
    return (np.sum(x), 2**60 + 1, True, np.arange(2), [np.float32(1.5), np.int8(100)],
            (np.sum(x).astype(np.float32), (x * 2).astype(np.float32)), x * 3, 7, x > 2.0)


Pair = collections.namedtuple("Pair", "total index")


def _named(x):
    return Pair(np.sum(x), np.argmin(x))


POINTS = [np.array([3.0, 1.0]), np.array([1.0, 3.0]), np.array([-2.0, 5.0])]


@pytest.mark.parametrize("body", [_pieces, _replayable, _named, lambda x: 7,
                                  lambda x: 2**60 + 1, lambda x: bool(np.sum(x) > 0),
                                  lambda x: np.int8(100), lambda x: np.float32(1.5),
                                  lambda x: [np.sum(x), np.argmax(x)]])
def test_a_call_gives_the_bodys_pieces_types_dtypes_and_values(body) -> None:
    f, j = dk.function(body), dk.jit(body)
    for x in POINTS:  # the first call of the jit function, then later calls (replays)
        want = _expected(body(x))
        _same(f(x), want)
        _same(j(x), want)


def test_a_body_with_no_read_of_the_values_is_replayed() -> None:
    j = dk.jit(_replayable)
    j(POINTS[0])
    made = [v for k, v in j.cache.items() if k[0] == "frozen"]
    assert made and all(m is not j and m.pure for m in made)  # what the tests above replay


def test_a_jit_replay_recomputes_an_index_read_from_the_values() -> None:
    j = dk.jit(lambda x: (np.sum(x), np.argmax(x)))
    assert j(np.array([3.0, 1.0])) == (4.0, 0)
    assert j(np.array([1.0, 3.0])) == (4.0, 1)  # not frozen at the first trace's 0


def test_a_call_inside_a_derivative_keeps_integer_pieces() -> None:
    inner = dk.function(lambda x: (x * x, np.argmax(x), 3))

    def outer(x):
        sq, i, k = inner(x)
        assert type(k) is int and int(i) == 1
        return sq[i] * k

    (g,) = dk.grad(outer)(np.array([1.0, 2.0]))
    np.testing.assert_array_equal(g, [0.0, 12.0])  # d(3·x1²)/dx1 = 6·x1 = 12


def test_derivatives_still_see_one_flat_output() -> None:
    y, pull = dk.vjp(lambda x: (x * 2.0, np.sum(x) ** 2), np.array([1.0, 2.0]))
    np.testing.assert_array_equal(y, [2.0, 4.0, 9.0])
    (g,) = pull((np.array([1.0, 0.0]), 1.0))
    np.testing.assert_array_equal(g, [2.0 + 6.0, 6.0])  # 2·e0 + 2·(x0+x1)


# ----- 2: a traced value of a trace that has ended -------------------------------------------

@pytest.fixture(scope="module")
def dead():
    kept = {}

    def f(x):
        kept["x"], kept["s"] = x, np.sum(x)
        return np.sum(x ** 2)

    dk.grad(f)(np.array([5.0, 1.0]))
    return kept


READS = {
    "np.argmax": lambda d, s: np.argmax(d), "np.argmin": lambda d, s: np.argmin(d),
    "np.argsort": lambda d, s: np.argsort(d), "np.nonzero": lambda d, s: np.nonzero(d),
    "np.flatnonzero": lambda d, s: np.flatnonzero(d),
    "np.isclose": lambda d, s: np.isclose(d, 5.0), "d.argmax": lambda d, s: d.argmax(),
    "dk.argmax": lambda d, s: dk.argmax(d), "dk.argmin": lambda d, s: dk.argmin(d),
    "dk.argsort": lambda d, s: dk.argsort(d), "np.where": lambda d, s: np.where(d > 0),
    "int": lambda d, s: int(s), "round": lambda d, s: round(s), "float": lambda d, s: float(s),
    "format": lambda d, s: f"{s:.3f}", "tolist": lambda d, s: s.tolist(),
    "bool": lambda d, s: bool(s), "item": lambda d, s: s.item(),
}


@pytest.mark.parametrize("name", sorted(READS))
def test_a_read_of_a_dead_traced_value_says_the_trace_has_ended(dead, name) -> None:
    with pytest.raises(dk.TracingError, match="trace that has ended"):
        READS[name](dead["x"], dead["s"])


def test_a_derivative_reading_a_dead_index_is_refused(dead) -> None:
    with pytest.raises(dk.TracingError, match="trace that has ended"):
        dk.grad(lambda y: y[np.argmax(dead["x"])] * 3)(np.array([1.0, 2.0]))


def test_a_dead_value_still_prints(dead) -> None:
    assert "trace ended" in repr(dead["x"])


# ----- 3: finite differences of a complex output of real inputs ------------------------------

def test_fd_vjp_of_a_complex_output_of_real_inputs_does_not_warn() -> None:
    x = np.array([1.0, 2.0])
    for ct in (np.ones(2) + 0j, np.array([1.0 + 1.0j, 0.5 - 2.0j])):
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            (g,) = dk.vjp(lambda x: np.exp(1j * x), x, method="fd")[1](ct)
        # Re(ct · i·e^{ix}) by hand
        np.testing.assert_allclose(g, np.real(ct * 1j * np.exp(1j * x)), rtol=1e-7)


def test_fd_grad_of_a_complex_output_is_refused_without_a_warning() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(dk.InputTypeError, match="complex-valued"):
            dk.grad(lambda x: np.sum(x * 1j), method="fd")(np.array([1.0, 2.0]))


# ----- 4: a constant primal output is no caller's array --------------------------------------

@pytest.mark.parametrize("method", ["reverse", "forward", "symbolic", "fd", "auto"])
def test_a_derivatives_primal_output_is_not_the_callers_constant(method) -> None:
    C = np.array([1.0, 2.0])
    x = np.array([3.0, 4.0])
    y, t = dk.jvp(lambda x: C, (x,), (np.ones(2),), method=method)
    y2, _ = dk.vjp(lambda x: C, x, method=method)
    for out in (y, y2):
        np.testing.assert_array_equal(out, [1.0, 2.0])
        assert not np.shares_memory(out, C)
    np.testing.assert_array_equal(t, [0.0, 0.0])


def test_a_plain_call_returns_the_bodys_constant_itself() -> None:
    C = np.array([1.0, 2.0])
    assert dk.function(lambda x: C)(np.zeros(2)) is C  # as the body does


@pytest.mark.parametrize("method", ["fd-central", "fd-richardson"])
def test_fd_jacobian_of_a_complex_output_of_a_complex_and_a_real_input_does_not_warn(method):
    z, x = 1.0 + 1.0j, 2.0
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        jac = dk.jacobian(lambda z, x: z * x**2, method=method)(z, x)
    np.testing.assert_allclose(np.ravel(jac), [x**2, 2 * z * x], rtol=1e-8)  # (x², 2zx)
