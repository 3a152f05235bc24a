"""Running a trained model on data: :func:`predict` (eval mode, nothing recorded).

Its own module, below both the training loop and the plots, so that each may use it.
"""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np

from ..backend import array_namespace, to_device, to_numpy
from .module import Module, no_grad, value_of


def check_batch_size(name: str, batch_size: Any) -> int:
    """`batch_size` as an int ≥ 1; a ValueError naming it otherwise (bools and floats too)."""
    if isinstance(batch_size, bool) or not isinstance(batch_size, numbers.Integral) or batch_size < 1:
        raise ValueError(f"{name}: batch_size must be an integer >= 1, got {batch_size!r}")
    return int(batch_size)


def model_dtype(model: Module) -> np.dtype:
    """The floating dtype of the model's first floating parameter (float32 when it has none):
    the dtype its inputs are converted to, as a float64 PyTorch model is fed float64."""
    for p in model.parameters():
        dt = np.dtype(value_of(p).dtype)
        if dt.kind == "f":
            return dt
    return np.dtype(np.float32)


def predict(model: Module, X: Any, batch_size: int = 1024) -> Any:
    """Outputs of `model` for X (eval mode, no recording), on the model's device.

    X is converted to the model's floating dtype (:func:`model_dtype`: a float64 model sees
    float64 inputs) and run in batches of `batch_size` rows; zero rows still run the model once,
    so the result keeps the output's trailing shape, e.g. (0, 3) for ``Linear(2, 3)``. Every
    module's own train/eval mode is restored afterwards (a layer frozen in eval mode inside a
    training model stays so), also when the input cannot be converted.

    Example:
        >>> import diffkit.nn as nn, numpy as np
        >>> nn.predict(nn.Linear(2, 3), np.zeros((5, 2), np.float32)).shape
        (5, 3)
        >>> nn.predict(nn.Linear(2, 3), np.zeros((0, 2), np.float32)).shape
        (0, 3)
    """
    batch_size = check_batch_size("predict", batch_size)
    X = np.asarray(to_numpy(value_of(X)), dtype=model_dtype(model))
    modes = [(m, m.training) for m in model.modules()]  # each its own: a frozen Dropout stays off
    try:
        model.eval()
        device = model.device
        starts = range(0, len(X), batch_size) if len(X) else [0]
        with no_grad():
            outs = [value_of(model(to_device(X[i:i + batch_size], device))) for i in starts]
    finally:
        for m, training in modes:
            m.training = training
    return array_namespace(outs[0]).concatenate(outs)  # a copy, also of a single batch


__all__ = ["predict"]
