"""Hunt 39's dtype and error findings: check_grads in float32/float16, a dtype a primitive's
NumPy/SciPy evaluation does not take, shifts of traced integers, Tensor methods tracing lacks."""

from __future__ import annotations

import dataclasses
import math
import re
from decimal import Decimal
from fractions import Fraction

import numpy as np
import pytest

import diffkit as dk
from diffkit.errors import InputTypeError

# ----- check_grads in a coarser dtype (finding 2) ----------------------------------------------

F = "sin(x)*y + x^2"


def _hand_directional(x: float, y: float, v: np.ndarray) -> float:
    """vᵀ∇f of sin(x)·y + x² by hand: ∂x = y·cos x + 2x, ∂y = sin x."""
    return float(v @ [y * math.cos(x) + 2 * x, math.sin(x)])


@pytest.mark.parametrize("dtype", [np.float32, np.float16])
def test_check_grads_passes_correct_low_precision_gradients(dtype: type) -> None:
    res = dk.check_grads(dk.parse(F), (dtype(0.5), dtype(2.0)))
    v = np.random.default_rng(0).normal(size=2)
    v /= np.linalg.norm(v)
    x, y = float(dtype(0.5)), float(dtype(2.0))
    tol = 10 * float(np.finfo(dtype).eps) ** 0.5
    assert res["reverse"] == pytest.approx(_hand_directional(x, y, v), rel=tol)


@pytest.mark.parametrize("dtype", [np.float32, np.float16])
def test_check_grads_passes_a_low_precision_array_function(dtype: type) -> None:
    x = np.array([0.5, 1.5], dtype=dtype)
    res = dk.check_grads(lambda x: np.sum(np.exp(x) * x), (x,))
    v = np.random.default_rng(0).normal(size=2)
    v /= np.linalg.norm(v)
    hand = float(v @ (np.exp(x.astype(float)) * (1 + x.astype(float))))
    assert res["symbolic"] == pytest.approx(hand, rel=1e-2)


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_check_grads_still_catches_a_wrong_float32_rule() -> None:
    from diffkit import primitives

    wrong = dataclasses.replace(primitives.REGISTRY["sin"], partials=(lambda x, o: dk.sin(x),))
    f = dk.Function(lambda x: wrong(x) * 2.0, ["x"])
    for methods in (("reverse", "fd"), ("reverse", "symbolic")):
        with pytest.raises(AssertionError, match="disagree"):
            dk.check_grads(f, [np.float32(0.4)], methods=methods)


# ----- dtypes a primitive's NumPy/SciPy evaluation does not take (finding 3) ----------------

@pytest.mark.parametrize("text", [
    "softplus(x)", "logaddexp(x, x)", "logaddexp2(x, x)", "hypot(x, x)", "arctan2(x, x)",
    "floor(x)", "ceil(x)", "trunc(x)", "cbrt(x)", "expit(x)", "logit(x)", "gammaln(x)",
    "erfinv(x)", "fmod(x, x)", "mod(x, x)", "copysign(x, x)", "heaviside(x, x)", "yv(x, x)",
    "jv(x, x)", "i0e(x)"])
def test_complex_input_to_a_real_function_is_named(text: str) -> None:
    name = text.split("(")[0]
    with pytest.raises(InputTypeError, match=rf"{name} does not take complex128"):
        dk.parse(text)(1 + 2j)


def test_complex_input_named_when_differentiated_and_traced() -> None:
    with pytest.raises(InputTypeError, match="j0 does not take complex128"):
        dk.j0(1 + 2j)
    with pytest.raises(InputTypeError, match="floor does not take complex128"):
        dk.grad(dk.parse("floor(x)"))(1 + 2j)
    with pytest.raises(InputTypeError, match="floor does not take complex128"):
        dk.grad(lambda x: np.sum(np.floor(x) * x))(np.array([1 + 2j, 3j]))


@pytest.mark.skipif(np.dtype(np.longdouble) == np.float64, reason="longdouble is float64 here")
def test_longdouble_into_erf_is_named() -> None:
    for call in (dk.parse("erf(x)"), dk.grad(dk.parse("erf(x)"))):
        with pytest.raises(InputTypeError, match=r"erf does not take float(128|96) .*astype"):
            call(np.longdouble(0.5))


def test_real_inputs_still_evaluate() -> None:
    assert dk.parse("floor(x)")(2.5) == 2.0
    (g,) = dk.grad(dk.parse("erf(x)"))(0.5)
    assert g == pytest.approx(2 / math.sqrt(math.pi) * math.exp(-0.25), rel=1e-14)


@pytest.mark.parametrize("f", [lambda x: x >> 1, lambda x: 1 << x, lambda x: x << 2,
                               lambda x: np.sum(x.astype(int) >> 1) * x[0]])
def test_shift_of_a_traced_value_is_named(f: object) -> None:
    with pytest.raises(InputTypeError, match=r"records no shift.*//|records no shift.*\*"):
        dk.grad(f)(np.array([3.0]))


# ----- Tensor methods tracing lacks (finding 5) --------------------------------------------

def test_nonzero_method_keeps_the_derivative() -> None:
    x = np.array([1.0, -2.0, 3.0])
    (g,) = dk.grad(lambda x: np.sum(x[(x > 0).nonzero()] ** 2))(x)
    np.testing.assert_array_equal(g, [2.0, 0.0, 6.0])  # d/dx Σ_{x>0} x² = 2x there, 0 else
    (g,) = dk.grad(lambda x: np.sum(x[x.nonzero()] ** 3))(np.array([2.0, 0.0]))
    np.testing.assert_array_equal(g, [12.0, 0.0])


def test_searchsorted_method() -> None:
    (g,) = dk.grad(lambda x: x[np.sort(x).searchsorted(2.5)] ** 2)(np.array([1.0, 3.0, 2.0]))
    np.testing.assert_array_equal(g, [0.0, 0.0, 4.0])  # index 2 of x: 2·x[2]


@pytest.mark.parametrize(("name", "hint"), [
    ("compress", "x[cond]"), ("choose", "np.where"), ("getfield", "astype"),
    ("tofile", "numpy()"), ("dump", "numpy()"), ("dumps", "numpy()"), ("device", "NumPy"),
    ("to_device", "NumPy")])
def test_missing_tensor_attribute_is_named(name: str, hint: str) -> None:
    def f(x: object) -> object:
        getattr(x, name)
        return np.sum(x)

    with pytest.raises(dk.errors.TracedAttributeError, match=rf"x\.{name} at .*{re.escape(hint)}"):
        dk.grad(f)(np.array([1.0, 2.0]))


# ----- inputs differentiated or held: dates, exact numbers, complex object arrays -----


@pytest.mark.parametrize("x", [np.array(["2020-01-01"], dtype="datetime64[D]"),
                               np.array([1, 2], dtype="timedelta64[s]"),
                               np.datetime64("2020-01-01")])
def test_dates_and_durations_are_refused(x: object) -> None:
    with pytest.raises(InputTypeError, match="dates or durations"):
        dk.value_and_grad(lambda x: np.sum(x**2))(x)


@pytest.mark.parametrize(("value", "name"), [(Fraction(1, 3), "Fraction"), (Decimal(1), "Decimal")])
def test_object_array_of_exact_numbers_is_refused(value: object, name: str) -> None:
    with pytest.raises(InputTypeError, match=f"object array of {name}"):
        dk.grad(lambda x: np.sum(x**2))(np.array([value], dtype=object))


def test_object_array_of_complex_numbers_says_so() -> None:
    with pytest.raises(InputTypeError, match=r"complex numbers: pass x\.astype\(complex\)"):
        dk.grad(lambda x: np.sum(x**2))(np.array([1 + 2j, 2.0], dtype=object))


def test_object_array_of_floats_still_differentiated() -> None:
    (g,) = dk.grad(lambda x: np.sum(x * x))(np.array([1.0, 2], dtype=object))
    np.testing.assert_array_equal(g, [2.0, 4.0])


def test_fraction_held_constant_in_a_parsed_function() -> None:
    (g,) = dk.grad(dk.parse("x*c"), wrt=0)(2.0, Fraction(1, 3))
    assert g == 1 / 3  # ∂(x·c)/∂x = c, as a Python function gives
