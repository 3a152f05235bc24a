"""Ready-made models: the multilayer perceptron and the seeds' small convolutional ``Net``."""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import numpy as np

from ..errors import ShapeError
from .layers import (
    ACTIVATIONS,
    BatchNorm1d,
    Conv2d,
    Dropout,
    Flatten,
    Linear,
    MaxPool2d,
    ReLU,
    Sequential,
)
from .module import Module

DType = type[np.floating]


class MLP(Sequential):
    """Linear layers of the given sizes with an activation between them (none after the last).

    Args:
        sizes: layer widths, input first, e.g. (64, 128, 64, 10).
        activation: "relu", "sigmoid", "tanh", "leaky_relu" or a Module class.
        dropout: dropout probability after each hidden activation (0: none).
        batch_norm: insert BatchNorm1d before each hidden activation.
        output_activation: optional activation after the last layer (e.g. "sigmoid").

    Example:
        >>> import diffkit.nn as nn
        >>> nn.MLP([64, 128, 64, 10])[0].weight.shape
        (128, 64)
    """

    def __init__(self, sizes: Sequence[int], activation: str | type[Module] = "relu",
                 dropout: float = 0.0, batch_norm: bool = False,
                 output_activation: str | type[Module] | None = None, bias: bool = True,
                 dtype: DType = np.float32) -> None:
        if len(sizes) < 2:
            raise ValueError(f"MLP needs at least an input and an output size, got {list(sizes)}")
        act = _activation(activation)
        layers: list[Module] = []
        for i, (a, b) in enumerate(itertools.pairwise(sizes)):
            layers.append(Linear(a, b, bias=bias, dtype=dtype))
            if i < len(sizes) - 2:
                if batch_norm:
                    layers.append(BatchNorm1d(b, dtype=dtype))
                layers.append(act())
                if dropout:
                    layers.append(Dropout(dropout))
        if output_activation is not None:
            layers.append(_activation(output_activation)())
        super().__init__(*layers)
        self.sizes = tuple(sizes)


def _activation(a: str | type[Module]) -> type[Module]:
    if isinstance(a, str):
        if a not in ACTIVATIONS:
            raise ValueError(f"unknown activation {a!r}: use one of {', '.join(ACTIVATIONS)}")
        return ACTIVATIONS[a]
    return a


class Net(Module):
    """The seeds' CNN: conv–relu–pool twice, then three linear layers.

    ``Net()`` is the seeds' network for 32×32 single-channel images (6 and 16 channels, 3×3 kernels,
    120 and 84 hidden units). ``Net(image_size=8, padding=1, channels=(8, 16), hidden=(64,))`` is a
    small, fast version for scikit-learn's 8×8 digits.

    Example:
        >>> import diffkit.nn as nn, numpy as np
        >>> nn.Net()(np.zeros((2, 1, 32, 32), np.float32)).shape
        (2, 10)
    """

    def __init__(self, in_channels: int = 1, num_classes: int = 10, image_size: int = 32,
                 channels: Sequence[int] = (6, 16), hidden: Sequence[int] = (120, 84),
                 kernel_size: int = 3, padding: int = 0, dtype: DType = np.float32) -> None:
        super().__init__()
        c1, c2 = channels
        self.conv1 = Conv2d(in_channels, c1, kernel_size, padding=padding, dtype=dtype)
        self.conv2 = Conv2d(c1, c2, kernel_size, padding=padding, dtype=dtype)
        self.pool, self.relu, self.flatten = MaxPool2d(2), ReLU(), Flatten()
        self.image_size, self.padding, self.kernel_size = image_size, padding, kernel_size
        size = self._pooled(image_size)
        if size < 1:
            raise ValueError(f"images of size {image_size} are too small for this Net (use padding)")
        self.head = MLP([c2 * size * size, *hidden, num_classes], dtype=dtype)

    def _pooled(self, size: int) -> int:
        """The side of the feature maps the head reads, for images of side `size`."""
        for _ in range(2):
            size = (size + 2 * self.padding - self.kernel_size + 1) // 2
        return size

    def forward(self, x: object) -> object:
        shape = tuple(getattr(x, "shape", ()))
        if len(shape) == 4 and (self._pooled(shape[2]), self._pooled(shape[3])) != \
                (self._pooled(self.image_size),) * 2:
            small = ("; for 8×8 digits: nn.Net(image_size=8, padding=1, channels=(8, 16), "
                     "hidden=(64,))") if shape[2] == shape[3] == 8 else ""
            raise ShapeError(
                f"Net: images of {shape[2]}×{shape[3]} pixels, but this Net was built for "
                f"{self.image_size}×{self.image_size} (image_size={self.image_size}): build "
                f"nn.Net(image_size={shape[2]}, ...) for them{small}")
        x = self.pool(self.relu(self.conv1(x)))
        x = self.pool(self.relu(self.conv2(x)))
        return self.head(self.flatten(x))
