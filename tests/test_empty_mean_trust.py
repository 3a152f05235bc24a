"""backward() through a mean over an empty axis (a (0, 3) tensor, as a chain of slices can
leave): a bare ZeroDivisionError from the mean's rule (1/0). The input has no elements, so its
gradient is an empty array of its shape, as PyTorch gives."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import diffkit as dk


@pytest.mark.parametrize("reduce", [lambda x: x.mean(axis=0), lambda x: np.mean(x, axis=0),
                                    lambda x: x.mean()])
def test_backward_through_an_empty_mean(reduce) -> None:
    x = dk.tensor(np.ones((0, 3)), requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # NumPy's "Mean of empty slice"
        y = reduce(x)
    y.sum().backward()
    assert x.grad.shape == (0, 3)


def test_the_ordinary_mean_is_unchanged() -> None:
    x = dk.tensor(np.arange(6.0).reshape(2, 3), requires_grad=True)
    x.mean(axis=0).sum().backward()
    np.testing.assert_array_equal(x.grad, np.full((2, 3), 0.5))
