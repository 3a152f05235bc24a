"""The public call's float entry (generated code a gradient object runs on Python floats once it
has learned the signature) refuses exactly where the full path refuses: the same named error,
no RuntimeWarning on the way, also with warnings turned into errors."""

from __future__ import annotations

import math
import warnings

import pytest

import diffkit as dk
from diffkit.api import GradientFunction
from diffkit.primitive import REGISTRY

# (text, a point inside the domain, a point where the full path raises, the error)
CASES = [
    ("logit(x)", (0.3,), (2.0,), dk.DomainError),
    ("xlogy(2, x)", (0.5,), (-1.0,), dk.DomainError),
    ("xlog1py(2, x)", (0.5,), (-3.0,), dk.DomainError),
    ("exp(-1/x^2)", (0.7,), (0.0,), dk.DomainError),
    ("x*y", (0.7, 0.7), (1e200, 1e200), dk.NumericOverflowError),
]
# the gradient of x·y at 1e200 is finite and exact where only f's value overflows: gradient-only
# code does not compute f (pruned), so it answers — see the test below
PAIRS = [pytest.param(make, *case, id=f"{case[0]}-{make.__name__}")
         for make in (dk.grad, dk.value_and_grad) for case in CASES
         if not (make is dk.grad and case[0] == "x*y")]


def test_warm_gradient_where_only_the_value_overflows_is_the_exact_gradient():
    """A decision: gradient-only code computes what the gradient needs (and each restricted
    domain's check), not f's value; where only f overflows, the warm call answers the exact
    gradient (y, x) of x·y (JAX's answer), while a first call, which evaluates f, names the
    overflow. value_and_grad, which returns f, refuses both times."""
    g = _warm(dk.grad, "x*y", (0.7, 0.7))
    assert g(1e200, 3e150) == (3e150, 1e200)
    with pytest.raises(dk.NumericOverflowError):
        _warm(dk.value_and_grad, "x*y", (0.7, 0.7))(1e200, 3e150)


def _warm(make, text, good):
    g = make(dk.parse(text))
    for _ in range(3):
        g(*good)
    assert type(g) is not GradientFunction, "the float entry was not installed"
    return g


def _outcome(call, mode="always"):
    """('ok', numbers) or (error class name,), with the RuntimeWarnings the call emitted
    (`mode`: the warnings filter, "error" to turn them into exceptions)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter(mode)
        try:
            out = call()
        except Exception as exc:  # noqa: BLE001 - compared by class name
            got = (type(exc).__name__,)
        else:
            flat = [out[0], *out[1]] if isinstance(out[-1], tuple) else list(out)
            got = ("ok", tuple(v if not math.isfinite(v) else round(v, 9) for v in flat))
    return got, [w for w in caught if issubclass(w.category, RuntimeWarning)]


@pytest.mark.parametrize(("make", "text", "good", "bad", "error"), PAIRS)
def test_warm_raises_the_cold_error_without_warnings(make, text, good, bad, error):
    with pytest.raises(error):
        make(dk.parse(text))(*bad)
    g = _warm(make, text, good)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with pytest.raises(error):
            g(*bad)
    assert not [w for w in caught if issubclass(w.category, RuntimeWarning)], \
        [str(w.message) for w in caught]
    assert g(*good) == make(dk.parse(text))(*good)  # and it still answers good points


@pytest.mark.parametrize(("make", "text", "good", "bad", "error"), PAIRS)
def test_warm_raises_the_cold_error_with_warnings_as_errors(make, text, good, bad, error):
    g = _warm(make, text, good)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(error):
            make(dk.parse(text))(*bad)
        with pytest.raises(error):
            g(*bad)


POINTS = [-1e300, -800.0, -50.0, -3.0, -1.0, -0.5, 0.0, 0.5, 1.0, 2.0, 3.0, 50.0, 800.0, 1e300]


def _registry_cases():
    for name, prim in sorted(REGISTRY.items()):
        if prim.kind != "elementwise" or not prim.parseable or not prim.differentiable or \
                prim.nargs not in (1, 2):
            continue
        mids = [(lo + hi) / 2 for lo, hi in prim.domain]
        for k in range(prim.nargs):
            args = ["x" if j == k else repr(mids[j]) for j in range(prim.nargs)]
            yield f"{name}({', '.join(args)})", mids[k]


@pytest.mark.parametrize("make", [dk.grad, dk.value_and_grad], ids=["grad", "value_and_grad"])
def test_every_elementwise_primitive_warm_agrees_with_cold(make):
    """For every element-wise primitive of the table, at points inside and outside its domain:
    the warm object gives the fresh object's number or error, and emits no RuntimeWarning."""
    wrong = []
    tried = 0
    for text, inside in _registry_cases():
        try:
            g = make(dk.parse(text))
            for _ in range(3):
                g(inside)
        except dk.DiffkitError:
            continue
        if type(g) is GradientFunction:  # no float entry for this one
            continue
        for x in POINTS:
            tried += 1
            cold, _ = _outcome(lambda: make(dk.parse(text))(x))  # noqa: B023
            warm, caught = _outcome(lambda: g(x))  # noqa: B023
            if warm != cold or caught:
                wrong.append((text, x, warm, cold, [str(w.message) for w in caught]))
            strict, _ = _outcome(lambda: g(x), "error")  # noqa: B023
            if strict != cold:
                wrong.append((text, x, "warnings as errors", strict, cold))
    assert tried > 500
    assert not wrong, wrong[:10]
