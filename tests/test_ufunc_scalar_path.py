"""A NumPy binary ufunc applied to a traced scalar and a Python float (``np.multiply(x, 1.5)``)
is recorded on the Tensor's tape directly (``Tensor.__array_ufunc__``), skipping the primitive's
own call: it must give what the primitive's call gives — the same value, the same derivative by
every method, the same named error. The reference path is the same ufunc with the constant as a
NumPy float64 (which the shortcut leaves to the primitive's call), and NumPy's own value."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import diffkit as dk
from diffkit.primitive import NUMPY_OBJECTS, Primitive

BINARY = sorted((u for u, f in NUMPY_OBJECTS.items()
                 if isinstance(u, np.ufunc) and f.__class__ is Primitive and f.prepare is None
                 and f.nargs == 2 and u.__name__ not in ("bitwise_and", "bitwise_or",
                                                         "bitwise_xor")),
                key=lambda u: u.__name__)
POINTS = [(0.7, 1.5), (-2.0, 0.5), (0.0, 2.0), (3.0, 0.0), (1.5, 1.5), (-0.5, -3.0)]


def _outcome(call):
    """(value, gradient) of `call`, or the error's class where it raises."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return call()
        except Exception as exc:  # noqa: BLE001 - the class is compared
            return type(exc)


def _same(a, b) -> bool:
    if isinstance(a, type) or isinstance(b, type):
        return a is b
    return np.array_equal(np.asarray(a, dtype=float), np.asarray(b, dtype=float), equal_nan=True)


def test_the_shortcut_covers_the_table_binary_ufuncs():
    names = {u.__name__ for u in BINARY}
    assert {"add", "subtract", "multiply", "divide", "power", "maximum", "less"} <= names


@pytest.mark.parametrize("ufunc", BINARY, ids=lambda u: u.__name__)
@pytest.mark.parametrize("method", ["reverse", "forward"])
def test_a_python_float_operand_gives_what_a_numpy_float_gives(ufunc, method):
    for x, c in POINTS:
        for first in (True, False):
            def shortcut(x, c=c, first=first):
                return ufunc(x, c) * 1.0 if first else ufunc(c, x) * 1.0

            def general(x, c=c, first=first):
                k = np.float64(c)
                return ufunc(x, k) * 1.0 if first else ufunc(k, x) * 1.0

            got = _outcome(lambda f=shortcut, x=x: dk.value_and_grad(f, method=method)(x))
            want = _outcome(lambda f=general, x=x: dk.value_and_grad(f, method=method)(x))
            if isinstance(got, tuple) and isinstance(want, tuple):
                assert _same(got[0], want[0]) and _same(got[1], want[1]), (ufunc, x, c, first)
            else:
                assert got is want or (not isinstance(got, tuple) and not isinstance(want, tuple)
                                       and got == want), (ufunc, x, c, first, got, want)


@pytest.mark.parametrize("ufunc", BINARY, ids=lambda u: u.__name__)
def test_the_traced_value_is_numpys(ufunc):
    for x, c in POINTS:
        with np.errstate(all="ignore"):
            want = ufunc(np.float64(x), c)
        got = _outcome(lambda x=x, c=c: dk.function(lambda x: ufunc(x, c))(x))
        if isinstance(got, type):  # a named error where NumPy's value is not finite
            assert issubclass(got, dk.DiffkitError) and not np.isfinite(want), (ufunc, x, c)
        else:
            assert _same(got, want), (ufunc, x, c, got, want)


def test_hand_derivatives_through_the_shortcut():
    """d/dx of x·1.5, x − 2.5, 2.5 / x, x ** 3.0 and hypot(x, 4.0) at 3 (by hand)."""
    f = lambda x: (np.multiply(x, 1.5) + np.subtract(x, 2.5) + np.divide(2.5, x)
                   + np.power(x, 3.0) + np.hypot(x, 4.0))
    (g,) = dk.grad(f)(3.0)
    assert g == pytest.approx(1.5 + 1.0 - 2.5 / 9.0 + 27.0 + 3.0 / 5.0, rel=1e-15, abs=0)


def test_a_traced_value_from_an_outer_derivative_is_not_taken_for_a_constant():
    """np.multiply(x, y) with y of an outer trace: the shortcut is for Python floats only."""
    h = dk.grad(lambda y: dk.grad(lambda x: np.multiply(x, y) * x)(2.0)[0])(3.0)
    assert h == (pytest.approx(2.0 * 2.0, rel=0, abs=0),)
