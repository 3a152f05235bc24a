"""Running a trained model on data: :func:`predict` (eval mode, nothing recorded).

Its own module, below both the training loop and the plots, so that each may use it.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..backend import array_namespace, to_device, to_numpy
from .module import Module, no_grad, value_of


def predict(model: Module, X: Any, batch_size: int = 1024) -> Any:
    """Outputs of `model` for X (eval mode, no recording), on the model's device.

    Example:
        >>> import diffkit.nn as nn, numpy as np
        >>> nn.predict(nn.Linear(2, 3), np.zeros((5, 2), np.float32)).shape
        (5, 3)
    """
    was = model.training
    model.eval()
    device = model.device
    xp = array_namespace(to_device(np.zeros(1), device))
    X = np.asarray(to_numpy(value_of(X)), dtype=np.float32)
    try:
        with no_grad():
            outs = [model(to_device(X[i:i + batch_size], device)) for i in range(0, len(X), batch_size)]
    finally:
        model.train(was)
    return xp.concatenate([value_of(o) for o in outs]) if outs else xp.zeros((0,))


__all__ = ["predict"]
