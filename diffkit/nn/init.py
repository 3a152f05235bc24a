"""Weight initialisers (``torch.nn.init`` names): each draws on the host and assigns a new value.

Draws come from NumPy's generator on the CPU and are then moved to the tensor's device, so a seed
gives the same network on NumPy and on CuPy.
"""

from __future__ import annotations

import math

import numpy as np

from ..backend import array_namespace, to_device
from ..tensor import Tensor
from .module import assign_, get_rng

_LINEAR = ("linear", "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d",
           "conv_transpose3d", "sigmoid", "identity")


def calculate_gain(nonlinearity: str, param: float | None = None) -> float:
    """The recommended gain for a nonlinearity (PyTorch's table).

    Example:
        >>> import diffkit.nn as nn
        >>> round(nn.init.calculate_gain("relu"), 4)
        1.4142
    """
    if nonlinearity in _LINEAR:
        return 1.0
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        slope = 0.01 if param is None else float(param)
        return math.sqrt(2.0 / (1 + slope**2))
    if nonlinearity == "selu":
        return 3.0 / 4
    raise ValueError(f"Unsupported nonlinearity: {nonlinearity}")


def calculate_fan_in_and_fan_out(t: Tensor) -> tuple[int, int]:
    """(fan_in, fan_out) of a weight shaped (out, in, *kernel).

    Example:
        >>> import diffkit.nn as nn, numpy as np
        >>> nn.init.calculate_fan_in_and_fan_out(nn.Parameter(np.zeros((6, 1, 3, 3))))
        (9, 54)
    """
    shape = t.shape
    if len(shape) < 2:
        raise ValueError("fan in and fan out need a tensor with at least 2 dimensions")
    receptive = math.prod(shape[2:])
    return shape[1] * receptive, shape[0] * receptive


def _put(t: Tensor, host: np.ndarray) -> Tensor:
    xp = array_namespace(t.value)
    value = host.astype(t.dtype)
    return assign_(t, value if xp is np else to_device(value, "cuda"))


def _gen(generator: np.random.Generator | None) -> np.random.Generator:
    return generator if generator is not None else get_rng()


def zeros_(t: Tensor) -> Tensor:
    """Fill with 0. Example: ``nn.init.zeros_(layer.bias)``."""
    return _put(t, np.zeros(t.shape))


def ones_(t: Tensor) -> Tensor:
    """Fill with 1. Example: ``nn.init.ones_(bn.weight)``."""
    return _put(t, np.ones(t.shape))


def constant_(t: Tensor, val: float) -> Tensor:
    """Fill with `val`.

    Example:
        >>> import diffkit.nn as nn, numpy as np
        >>> float(nn.init.constant_(nn.Parameter(np.zeros(2, np.float32)), 0.5).value[0])
        0.5
    """
    return _put(t, np.full(t.shape, val))


def normal_(t: Tensor, mean: float = 0.0, std: float = 1.0,
            generator: np.random.Generator | None = None) -> Tensor:
    """Draw from N(mean, std²). Example: ``nn.init.normal_(w, std=0.01)``."""
    return _put(t, _gen(generator).normal(mean, std, size=t.shape))


def uniform_(t: Tensor, a: float = 0.0, b: float = 1.0,
             generator: np.random.Generator | None = None) -> Tensor:
    """Draw from U(a, b). Example: ``nn.init.uniform_(w, -0.1, 0.1)``."""
    return _put(t, _gen(generator).uniform(a, b, size=t.shape))


def xavier_uniform_(t: Tensor, gain: float = 1.0,
                    generator: np.random.Generator | None = None) -> Tensor:
    """Glorot: U(−a, a) with a = gain·√(6 / (fan_in + fan_out)).

    Example:
        >>> import diffkit.nn as nn, numpy as np
        >>> w = nn.init.xavier_uniform_(nn.Parameter(np.zeros((20, 30), np.float32)))
        >>> bool(abs(w.value).max() <= np.sqrt(6 / 50))
        True
    """
    fan_in, fan_out = calculate_fan_in_and_fan_out(t)
    a = gain * math.sqrt(6.0 / (fan_in + fan_out))
    return uniform_(t, -a, a, generator)


def xavier_normal_(t: Tensor, gain: float = 1.0,
                   generator: np.random.Generator | None = None) -> Tensor:
    """Glorot: N(0, σ²) with σ = gain·√(2 / (fan_in + fan_out)). Example: see xavier_uniform_."""
    fan_in, fan_out = calculate_fan_in_and_fan_out(t)
    return normal_(t, 0.0, gain * math.sqrt(2.0 / (fan_in + fan_out)), generator)


def _kaiming_std(t: Tensor, a: float, mode: str, nonlinearity: str) -> float:
    """gain/√fan; 0 for a tensor with no elements (nothing is drawn: PyTorch's no-op, where
    the fan of 0 was a ZeroDivisionError)."""
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"Mode {mode} not supported, please use one of fan_in, fan_out")
    fan_in, fan_out = calculate_fan_in_and_fan_out(t)
    fan = fan_in if mode == "fan_in" else fan_out
    if not math.prod(t.shape):
        return 0.0
    return calculate_gain(nonlinearity, a) / math.sqrt(fan)


def kaiming_uniform_(t: Tensor, a: float = 0.0, mode: str = "fan_in",
                     nonlinearity: str = "leaky_relu",
                     generator: np.random.Generator | None = None) -> Tensor:
    """He: U(−b, b) with b = gain·√(3 / fan) (fan_in or fan_out).

    Example:
        >>> import diffkit.nn as nn, numpy as np
        >>> w = nn.Parameter(np.zeros((3, 5), np.float32))
        >>> _ = nn.init.kaiming_uniform_(w, mode="fan_in", nonlinearity="relu")
        >>> bool(abs(w.value).max() <= np.sqrt(6 / 5))
        True
    """
    bound = math.sqrt(3.0) * _kaiming_std(t, a, mode, nonlinearity)
    return uniform_(t, -bound, bound, generator)


def kaiming_normal_(t: Tensor, a: float = 0.0, mode: str = "fan_in",
                    nonlinearity: str = "leaky_relu",
                    generator: np.random.Generator | None = None) -> Tensor:
    """He: N(0, σ²) with σ = gain / √fan. Example: see kaiming_uniform_."""
    return normal_(t, 0.0, _kaiming_std(t, a, mode, nonlinearity), generator)


__all__ = [
    "calculate_fan_in_and_fan_out",
    "calculate_gain",
    "constant_",
    "kaiming_normal_",
    "kaiming_uniform_",
    "normal_",
    "ones_",
    "uniform_",
    "xavier_normal_",
    "xavier_uniform_",
    "zeros_",
]
