"""A Tensor answers NumPy's names as methods (what NumPy's object loops call: x.arcsinh()) from
the registry — a name registered again is followed, as np.<name> follows it — and the array
attributes it lacks are named AttributeErrors. (These were a __getattr__, which kept CPython from
specializing any attribute access on a Tensor.)"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import diffkit as dk
from diffkit.primitive import NUMPY_NAMES, dispatch_numpy


def test_a_name_registered_again_is_what_the_method_calls() -> None:
    original = NUMPY_NAMES["arcsinh"]
    calls: list[int] = []

    def counted(x: Any, *args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        return original(x, *args, **kwargs)

    dispatch_numpy("arcsinh", counted)
    try:
        (g,) = dk.grad(lambda x: x.arcsinh())(0.5)
    finally:
        dispatch_numpy("arcsinh", original)
    assert calls and g == pytest.approx(1 / np.sqrt(1.25), rel=1e-15)  # by hand: 1/√(1+x²)


def test_missing_array_attributes_are_named_attribute_errors() -> None:
    seen: dict[str, bool] = {}

    def f(x: Any) -> Any:
        seen["base"] = hasattr(x, "base")
        with pytest.raises(dk.TracingError, match="fills the array in place"):
            x.fill(0.0)
        return x.sum()

    dk.grad(f)(np.ones(2))
    assert seen == {"base": False}


def test_the_classes_own_methods_win() -> None:
    (g,) = dk.grad(lambda x: x.reshape(2, 1).sum() * 2)(np.ones(2))
    np.testing.assert_array_equal(g, [2.0, 2.0])
