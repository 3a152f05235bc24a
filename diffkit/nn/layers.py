"""Layers (PyTorch names and arguments), each a forward pass written with diffkit operations.

Every layer works on eager Tensors (recorded for ``backward()``, nothing recorded under
:func:`~diffkit.nn.no_grad`) and on Tensors of a traced function (so the forward engine and finite
differences can check it). Piecewise-constant factors (ReLU's mask, max-pool's arg-max weights,
dropout masks) are computed from values and enter the graph as constants, in the input's dtype.
"""

from __future__ import annotations

import math
import numbers
import operator
from collections.abc import Sequence
from typing import Any

import numpy as np

from .. import ops as dk
from ..backend import array_namespace, to_device
from ..errors import ShapeError
from ..primitive import plain_value
from ..primitives.declare import working_dtype
from ..tensor import holds_at_this_call
from . import init
from .module import Module, Parameter, get_rng, value_of

DType = Any


def _host_to(like: Any, host: np.ndarray) -> Any:
    """A host array moved to the device of `like`, in its dtype."""
    value = host.astype(getattr(like, "dtype", np.float32))
    return value if array_namespace(value_of(like)) is np else to_device(value, "cuda")


class Identity(Module):
    """Returns its input. Example: ``nn.Identity()(x) is x``."""

    def forward(self, x: Any) -> Any:
        return x


class Linear(Module):
    """y = x Wᵀ + b with W of shape (out_features, in_features); PyTorch's default init.

    Example:
        >>> import diffkit.nn as nn, numpy as np
        >>> nn.Linear(3, 2)(np.ones((4, 3), np.float32)).shape
        (4, 2)
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True,
                 dtype: DType = np.float32) -> None:
        super().__init__()
        if in_features <= 0 or out_features <= 0:
            raise ValueError(f"Invalid features: in={in_features}, out={out_features}")
        self.in_features, self.out_features = in_features, out_features
        self.weight = init.kaiming_uniform_(
            Parameter(np.empty((out_features, in_features), dtype), name="weight"), a=math.sqrt(5))
        self.bias = None
        if bias:
            bound = 1 / math.sqrt(in_features)
            self.bias = init.uniform_(Parameter(np.empty(out_features, dtype), name="bias"), -bound, bound)

    def _weight(self) -> Any:
        return self.weight

    def forward(self, x: Any) -> Any:
        w = self._weight()
        if self.bias is None:
            return dk.matmul(x, dk.transpose(w))
        return dk.linear(x, w, self.bias)

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}"


class DropConnect(Linear):
    """A Linear layer whose weights (not outputs) are zeroed with probability `p` in training,
    the kept ones scaled by 1/(1−p) (Wan et al. 2013); all weights are used in eval mode.

    Example:
        >>> import diffkit.nn as nn, numpy as np
        >>> nn.DropConnect(3, 2, p=0.5).eval()(np.ones((1, 3), np.float32)).shape
        (1, 2)
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True, p: float = 0.5,
                 dtype: DType = np.float32) -> None:
        if not 0.0 <= p < 1.0:
            raise ValueError(f"dropconnect probability has to be in [0, 1), but got {p}")
        super().__init__(in_features, out_features, bias, dtype)
        self.p = p

    def _weight(self) -> Any:
        if self.p > 0.0:  # random masks, and a mode: a trace holds at this call only
            holds_at_this_call()
        if not self.training or self.p == 0.0:
            return self.weight
        keep = (get_rng().random(self.weight.shape) >= self.p) / (1.0 - self.p)
        return dk.mul(self.weight, _host_to(value_of(self.weight), keep))


class Sequential(Module):
    """Modules applied in order. Example: ``nn.Sequential(nn.Linear(2, 8), nn.ReLU())``."""

    def __init__(self, *modules: Module) -> None:
        super().__init__()
        for i, m in enumerate(modules):
            setattr(self, str(i), m)

    def append(self, module: Module) -> Sequential:
        setattr(self, str(len(self._modules)), module)
        return self

    def __getitem__(self, i: int | slice) -> Module:
        """The i-th module; a slice is a Sequential of those modules (PyTorch's ``model[:-1]``)."""
        modules = list(self._modules.values())
        return Sequential(*modules[i]) if isinstance(i, slice) else modules[i]

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Any:
        return iter(self._modules.values())

    def forward(self, x: Any) -> Any:
        for m in self._modules.values():
            x = m(x)
        return x


def _dim(name: str, value: int) -> int:
    """An axis number for Flatten (an int, or anything with __index__); a ValueError names it."""
    try:
        return operator.index(value)
    except TypeError as e:
        raise ValueError(f"Flatten: {name} must be an int, got {value!r}") from e


class Flatten(Module):
    """Axes start_dim … end_dim (negative: from the end) merged into one, PyTorch's rule:
    (N, d1, d2, …) → (N, d1·d2·…) by default.

    Example:
        >>> import diffkit.nn as nn, numpy as np
        >>> nn.Flatten()(np.zeros((2, 3, 4))).shape, nn.Flatten(0, 1)(np.zeros((2, 3, 4))).shape
        ((2, 12), (6, 4))
    """

    def __init__(self, start_dim: int = 1, end_dim: int = -1) -> None:
        super().__init__()
        self.start_dim, self.end_dim = _dim("start_dim", start_dim), _dim("end_dim", end_dim)

    def forward(self, x: Any) -> Any:
        shape = tuple(np.shape(value_of(x)))
        start, end = self._dims(shape)
        # the size, not -1: for zero rows NumPy would make (0, -1) a (0, 0) array
        merged = math.prod(shape[start:end + 1])
        return dk.reshape(x, (*shape[:start], merged, *shape[end + 1:]))

    def _dims(self, shape: tuple[int, ...]) -> tuple[int, int]:
        """start_dim and end_dim as axes of `shape` (a 0-d input counts as one axis, as in
        PyTorch: it becomes shape (1,)); a ShapeError where one is out of range."""
        n = max(len(shape), 1)
        if self.start_dim == 1 and len(shape) < 2:  # PyTorch's IndexError; a (3,) input
            # became a (3, 1) batch
            raise ShapeError(f"Flatten keeps the first (batch) axis and flattens the others: an "
                             f"input of shape {shape} has no axis after it (reshape it to "
                             "(1, n) for one sample)")
        for name, d in (("start_dim", self.start_dim), ("end_dim", self.end_dim)):
            if not -n <= d < n:
                raise ShapeError(f"Flatten({self.extra_repr()}): {name}={d} is not an axis of "
                                 f"an input of shape {shape} (dims run from {-n} to {n - 1})")
        start, end = self.start_dim % n, self.end_dim % n
        if start > end:
            raise ShapeError(f"Flatten({self.extra_repr()}): start_dim cannot come after end_dim "
                             f"(axes {start} and {end} of an input of shape {shape})")
        return start, end

    def extra_repr(self) -> str:
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"


class ReLU(Module):
    """max(x, 0) (derivative 0 at 0, in x's dtype). Example: ``nn.ReLU()(np.array([-1., 2.]))``."""

    def forward(self, x: Any) -> Any:
        return dk.relu(x)


class LeakyReLU(Module):
    """x where x > 0, else negative_slope · x. Example: ``nn.LeakyReLU(0.1)(np.array([-1., 2.]))``."""

    def __init__(self, negative_slope: float = 0.01) -> None:
        super().__init__()
        self.negative_slope = negative_slope

    def forward(self, x: Any) -> Any:
        return dk.leaky_relu(x, self.negative_slope)


class Sigmoid(Module):
    """1 / (1 + e⁻ˣ) (stable). Example: ``nn.Sigmoid()(np.zeros(2))`` is [0.5, 0.5]."""

    def forward(self, x: Any) -> Any:
        return dk.sigmoid(x)


class Tanh(Module):
    """tanh x. Example: ``nn.Tanh()(np.zeros(2))``."""

    def forward(self, x: Any) -> Any:
        return dk.tanh(x)


class Softmax(Module):
    """exp(x) / Σ exp(x) along `dim` (stable). Example: ``nn.Softmax(dim=1)(np.zeros((1, 4)))``."""

    def __init__(self, dim: int = -1) -> None:
        super().__init__()
        self.dim = dim

    def forward(self, x: Any) -> Any:
        return dk.softmax(x, axis=self.dim)


class LogSoftmax(Softmax):
    """x − logsumexp(x) along `dim`. Example: ``nn.LogSoftmax(dim=1)(np.zeros((1, 4)))``."""

    def forward(self, x: Any) -> Any:
        return dk.log_softmax(x, axis=self.dim)


class Dropout(Module):
    """Inverted dropout: in training, zero each element with probability `p` and scale the rest by
    1/(1−p), so E[output] = input and eval mode is the identity (the seeds' "scale by the keep
    probability at test time", moved to training time).

    Example:
        >>> import diffkit.nn as nn, numpy as np
        >>> nn.Dropout(0.5).eval()(np.ones(3))
        array([1., 1., 1.])
    """

    def __init__(self, p: float = 0.5) -> None:
        super().__init__()
        if isinstance(p, bool) or not isinstance(p, numbers.Real) or not 0.0 <= p <= 1.0:
            raise ValueError(f"dropout probability has to be a number in [0, 1], but got {p!r}")
        self.p = float(p)

    def forward(self, x: Any) -> Any:
        if self.p > 0.0:  # random masks, and a mode: a trace holds at this call only
            holds_at_this_call()
        if not self.training or self.p == 0.0:
            return x
        if self.p == 1.0:  # every element dropped (PyTorch's p=1): zeros, and zero gradients
            keep = np.zeros(np.shape(value_of(x)))
        else:
            keep = (get_rng().random(x.shape) >= self.p) / (1.0 - self.p)
        return dk.mul(x, _host_to(value_of(x), keep))

    def extra_repr(self) -> str:
        return f"p={self.p}"


def _pair(k: int | Sequence[int]) -> tuple[int, int]:
    if isinstance(k, int | np.integer):
        return (int(k), int(k))
    if len(k) != 2:
        raise ValueError(f"expected one int or a pair of ints, got {k!r}")
    return (int(k[0]), int(k[1]))


def _sizes(layer: str, name: str, value: int | Sequence[int], low: int = 1) -> tuple[int, int]:
    """An (h, w) pair from one int or a pair, each ≥ `low`; a ValueError names the argument."""
    try:
        pair = _pair(value)
    except (TypeError, ValueError, IndexError) as e:
        raise ValueError(f"{layer}: {name} must be an int or a pair of ints, got {value!r}") from e
    if min(pair) < low:
        raise ValueError(f"{layer}: {name} must be >= {low}, got {value!r}")
    return pair


def _one(pair: tuple[int, int]) -> int | tuple[int, int]:
    """One int where H and W agree (what im2col records), else the pair."""
    return pair[0] if pair[0] == pair[1] else pair


def _channels(n: int) -> str:
    return f"{n} channel" if n == 1 else f"{n} channels"


#: Conv2d's padding modes and the np.pad mode each is (all have derivatives in dk.pad)
_PADDING_MODES = {"zeros": "constant", "reflect": "reflect", "replicate": "edge",
                  "circular": "wrap"}


def _padded(x: Any, sides: tuple[int, int, int, int], mode: str = "constant",
            value: float = 0.0) -> Any:
    """x (N, C, H, W) padded by (top, bottom, left, right) with np.pad's `mode` (`value` for
    'constant'); dk.pad's rules carry the gradient back (copies summed, the constant dropped)."""
    t, b, l, r = sides
    width = ((0, 0), (0, 0), (t, b), (l, r))
    if mode == "constant":
        return dk.pad(x, width, mode, constant_values=value)
    return dk.pad(x, width, mode)


def _span(kernel: tuple[int, int], dilation: int | tuple[int, int]) -> tuple[int, int]:
    """How far a dilated kernel reaches: d·(k − 1) + 1 along each axis."""
    (kh, kw), (dh, dw) = kernel, _pair(dilation)
    return dh * (kh - 1) + 1, dw * (kw - 1) + 1


def _conv_padding(padding: str | int | Sequence[int],
                  stride: int | tuple[int, int]) -> str | int | tuple[int, int]:
    """'same', 'valid' (kept as strings, as PyTorch keeps them) or one int or an (h, w) pair."""
    if not isinstance(padding, str):
        return _one(_sizes("Conv2d", "padding", padding, low=0))
    if padding not in ("same", "valid"):
        raise ValueError(f"Conv2d: invalid padding string {padding!r}, should be one of "
                         "'valid', 'same'")
    if padding == "same" and _pair(stride) != (1, 1):
        raise ValueError(f"Conv2d: padding='same' is not supported for strided convolutions "
                         f"(stride={stride})")
    return padding


def _check_groups(in_channels: int, out_channels: int, groups: int) -> int:
    """groups ≥ 1 dividing both channel counts (PyTorch's rules)."""
    if not isinstance(groups, numbers.Integral) or isinstance(groups, bool) or groups <= 0:
        raise ValueError(f"Conv2d: groups must be a positive integer, got {groups!r}")
    for name, n in (("in_channels", in_channels), ("out_channels", out_channels)):
        if n % groups:
            raise ValueError(f"Conv2d: {name} must be divisible by groups, got {name}={n} "
                             f"and groups={groups}")
    return int(groups)


class Conv2d(Module):
    """2-D cross-correlation of (N, C, H, W) batches: im2col, then one matrix product (one per
    group). kernel_size, stride, padding and dilation: one int, or an (h, w) pair as in
    PyTorch; the output is OH = ⌊(H + 2p_h − d_h·(k_h − 1) − 1)/s_h⌋ + 1 (likewise OW).
    padding='same' (stride 1) pads d·(k − 1) in all, the odd one at the bottom/right;
    'valid' is 0. padding_mode: 'zeros', 'reflect', 'replicate' or 'circular'. With `groups`
    g, output channels o·g … read input channels of group g only: weight (out, in/g, kh, kw).

    Example:
        >>> import diffkit.nn as nn, numpy as np
        >>> nn.Conv2d(1, 6, 3)(np.zeros((2, 1, 8, 8), np.float32)).shape
        (2, 6, 6, 6)
        >>> nn.Conv2d(1, 6, 3, stride=(2, 1), padding=(1, 0))(np.zeros((2, 1, 8, 8), np.float32)).shape
        (2, 6, 4, 6)
        >>> nn.Conv2d(4, 6, 3, padding="same", dilation=2, groups=2)(np.zeros((1, 4, 7, 7))).shape
        (1, 6, 7, 7)
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int | Sequence[int],
                 stride: int | Sequence[int] = 1, padding: str | int | Sequence[int] = 0,
                 dilation: int | Sequence[int] = 1, groups: int = 1, bias: bool = True,
                 padding_mode: str = "zeros", dtype: DType = np.float32) -> None:
        super().__init__()
        if in_channels <= 0 or out_channels <= 0:
            raise ValueError(f"Conv2d: in_channels and out_channels must be positive, got "
                             f"{in_channels} and {out_channels}")
        if padding_mode not in _PADDING_MODES:
            raise ValueError(f"Conv2d: padding_mode must be one of {list(_PADDING_MODES)}, "
                             f"got {padding_mode!r}")
        self.in_channels, self.out_channels = in_channels, out_channels
        self.groups = _check_groups(in_channels, out_channels, groups)
        self.kernel_size = _sizes("Conv2d", "kernel_size", kernel_size)
        self.stride = _one(_sizes("Conv2d", "stride", stride))
        self.padding = _conv_padding(padding, self.stride)
        self.dilation = _one(_sizes("Conv2d", "dilation", dilation))
        self.padding_mode = padding_mode
        shape = (out_channels, in_channels // self.groups, *self.kernel_size)
        self.weight = init.kaiming_uniform_(Parameter(np.empty(shape, dtype), name="weight"),
                                            a=math.sqrt(5))
        self.bias = None
        if bias:  # PyTorch's bound 1/√fan_in, fan_in = in/groups·kh·kw
            bound = 1 / math.sqrt(math.prod(shape[1:]))
            self.bias = init.uniform_(Parameter(np.empty(out_channels, dtype), name="bias"), -bound, bound)

    def forward(self, x: Any) -> Any:
        shape = tuple(x.shape)
        if len(shape) != 4 or shape[1] != self.in_channels:
            got = f" ({_channels(shape[1])})" if len(shape) == 4 else ""
            raise ShapeError(f"Conv2d({self.extra_repr()}) expects an (N, C, H, W) batch with "
                             f"C = in_channels = {self.in_channels}, got shape {shape}{got}")
        t, b, l, r = sides = self._sides()
        span = _span(self.kernel_size, self.dilation)
        if shape[2] + t + b < span[0] or shape[3] + l + r < span[1]:
            raise ShapeError(f"Conv2d({self.extra_repr()}): the (padded) input of shape {shape} "
                             f"is smaller than the (dilated) kernel {span}")
        if self.padding_mode == "zeros" and t == b and l == r:  # im2col pads with zeros itself
            cols = dk.im2col(x, self.kernel_size, self.stride, _one((t, l)), self.dilation)
        else:
            self._check_pad_fits(shape, sides)
            x = _padded(x, sides, _PADDING_MODES[self.padding_mode])
            cols = dk.im2col(x, self.kernel_size, self.stride, 0, self.dilation)
        return dk.transpose(self._mix(cols), (0, 3, 1, 2))  # (N, OH, OW, out) → (N, out, OH, OW)

    def _sides(self) -> tuple[int, int, int, int]:
        """(top, bottom, left, right) padding; 'same' pads d·(k − 1) per axis, ⌊·/2⌋ before and
        the rest after, as PyTorch does."""
        if self.padding == "valid":
            return 0, 0, 0, 0
        if self.padding == "same":
            th, tw = (s - 1 for s in _span(self.kernel_size, self.dilation))
            return th // 2, th - th // 2, tw // 2, tw - tw // 2
        ph, pw = _pair(self.padding)
        return ph, ph, pw, pw

    def _check_pad_fits(self, shape: tuple[int, ...], sides: tuple[int, int, int, int]) -> None:
        """PyTorch's limits: 'reflect' pads less than the axis's length (a mirror copies each
        entry once), 'circular' at most its length (it wraps around once)."""
        limit = {"reflect": -1, "circular": 0}.get(self.padding_mode)
        if limit is None:
            return
        for size, pad in ((shape[2], max(sides[:2])), (shape[3], max(sides[2:]))):
            if pad > size + limit:
                bound = "less than" if limit else "at most"
                raise ShapeError(f"Conv2d({self.extra_repr()}): padding_mode="
                                 f"{self.padding_mode!r} needs a padding {bound} the input's "
                                 f"size, got padding {pad} for size {size} (shape {shape})")

    def _mix(self, cols: Any) -> Any:
        """y[n, a, b, o] = Σ_k cols[n, a, b, k]·W[o, k] + bias[o]; with groups, k runs over the
        columns of o's group only: im2col orders columns by channel, so a group's are a block."""
        if self.groups == 1:
            w = dk.reshape(self.weight, (self.out_channels, -1))
            return (dk.matmul(cols, dk.transpose(w)) if self.bias is None
                    else dk.linear(cols, w, self.bias))
        n, oh, ow, k = cols.shape
        g = self.groups
        c = dk.transpose(dk.reshape(cols, (n * oh * ow, g, k // g)), (1, 0, 2))  # (G, M, K/G)
        wg = dk.reshape(self.weight, (g, self.out_channels // g, k // g))  # (G, O/G, K/G)
        y = dk.transpose(dk.matmul(c, dk.transpose(wg, (0, 2, 1))), (1, 0, 2))  # (M, G, O/G)
        y = dk.reshape(y, (n * oh * ow, self.out_channels))
        if self.bias is not None:  # on (M, out), so the bias's cotangent is a sum over one
            y = dk.add(y, self.bias)  # axis: over (N, OH, OW) the compiled step rounded it
            # differently from the eager tape
        return dk.reshape(y, (n, oh, ow, self.out_channels))

    def extra_repr(self) -> str:
        extra = "".join(f", {name}={value!r}" for name, value, default in (
            ("dilation", self.dilation, 1), ("groups", self.groups, 1),
            ("padding_mode", self.padding_mode, "zeros")) if value != default)
        return (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
                f"stride={self.stride}, padding={self.padding!r}{extra}")


def _pool_out(size: int, k: int, s: int, p: int, d: int, ceil_mode: bool) -> tuple[int, int]:
    """PyTorch's pooled length ⌊(size + 2p − d·(k − 1) − 1 [+ s − 1 in ceil mode])/s⌋ + 1,
    where in ceil mode the last window must start inside the input or the left padding; and
    how far the last window reaches past the right padding (pooled as −inf)."""
    span = d * (k - 1) + 1
    out = (size + 2 * p - span + (s - 1 if ceil_mode else 0)) // s + 1
    if ceil_mode and (out - 1) * s >= size + p:
        out -= 1
    return out, max(0, (out - 1) * s + span - (size + 2 * p))


class MaxPool2d(Module):
    """Maximum over windows of (N, C, H, W); the gradient goes to the arg-max (shared at ties).
    kernel_size, stride (default: kernel_size), padding and dilation: one int or an (h, w)
    pair, as in PyTorch. The input is padded with −inf (padding at most half the kernel);
    OH = ⌊(H + 2p − d·(k − 1) − 1)/s⌋ + 1, rounded up with ceil_mode (likewise OW).

    Example:
        >>> import diffkit.nn as nn, numpy as np
        >>> nn.MaxPool2d(2)(np.arange(16.0).reshape(1, 1, 4, 4))[0, 0]
        array([[ 5.,  7.],
               [13., 15.]])
        >>> nn.MaxPool2d(2, padding=1, ceil_mode=True)(np.zeros((1, 1, 4, 4))).shape
        (1, 1, 3, 3)
    """

    def __init__(self, kernel_size: int | Sequence[int], stride: int | Sequence[int] | None = None,
                 padding: int | Sequence[int] = 0, dilation: int | Sequence[int] = 1,
                 ceil_mode: bool = False) -> None:
        super().__init__()
        k = _sizes("MaxPool2d", "kernel_size", kernel_size)
        s = k if stride is None else _sizes("MaxPool2d", "stride", stride)
        p = _sizes("MaxPool2d", "padding", padding, low=0)
        if p[0] > k[0] // 2 or p[1] > k[1] // 2:
            raise ValueError(f"MaxPool2d: padding must be at most half of kernel_size, got "
                             f"padding={padding!r} and kernel_size={kernel_size!r}")
        self.kernel_size, self.stride, self.padding = _one(k), _one(s), _one(p)
        self.dilation = _one(_sizes("MaxPool2d", "dilation", dilation))
        self.ceil_mode = bool(ceil_mode)

    def forward(self, x: Any) -> Any:
        if len(x.shape) != 4:
            raise ShapeError(f"MaxPool2d({self.extra_repr()}) expects an (N, C, H, W) batch, "
                             f"got shape {tuple(x.shape)}")
        n, c, h, w = x.shape
        k, s, p, d = (_pair(v) for v in (self.kernel_size, self.stride, self.padding,
                                          self.dilation))
        (oh, eh), (ow, ew) = (_pool_out(size, *a, self.ceil_mode)
                              for size, a in zip((h, w), zip(k, s, p, d)))
        if oh < 1 or ow < 1:
            span = _span(k, d)
            raise ShapeError(f"MaxPool2d({self.extra_repr()}) expects H + 2·padding >= "
                             f"{span[0]} and W + 2·padding >= {span[1]} (the kernel), got shape "
                             f"{tuple(x.shape)}")
        if s == k and p == (0, 0) and d == (1, 1) and h % k[0] == 0 and w % k[1] == 0:
            windows, axes = dk.reshape(x, (n, c, h // k[0], k[0], w // k[1], k[1])), (3, 5)
            return dk.amax(windows, axis=axes)  # ties share the derivative equally
        sides = (p[0], p[0] + eh, p[1], p[1] + ew)
        if any(sides):  # −inf never wins a window that holds an entry of x
            x = _padded(x, sides, value=-np.inf)
        x = dk.reshape(x, (n * c, 1, h + sides[0] + sides[1], w + sides[2] + sides[3]))
        cols = dk.im2col(x, k, self.stride, 0, self.dilation)
        return dk.amax(dk.reshape(cols, (n, c, oh, ow, k[0] * k[1])), axis=(4,))

    def extra_repr(self) -> str:
        extra = "".join(f", {name}={value!r}" for name, value, default in (
            ("padding", self.padding, 0), ("dilation", self.dilation, 1),
            ("ceil_mode", self.ceil_mode, False)) if value != default)
        return f"kernel_size={self.kernel_size}, stride={self.stride}{extra}"


def _widened(*values: Any) -> tuple[list[Any], Any]:
    """Each value (an array, a Tensor or None) cast to its working dtype (float32 for float16:
    (x − μ)² overflows from |x − μ| = 256 on; PyTorch's half-precision norms accumulate in
    float32; the cast's cotangent is cast back, so gradients keep the values' dtypes), and the
    dtype NumPy gives the values together, to cast the result back to — None where none was
    widened (nothing to undo)."""
    dtypes = [v.dtype for v in values if v is not None]
    if all(working_dtype(dt) == dt for dt in dtypes):
        return list(values), None
    return ([v if v is None else dk.astype(v, working_dtype(v.dtype)) for v in values],
            np.result_type(*dtypes))


def _normalized(x: Any, axes: tuple[int, ...], eps: float, weight: Any = None, bias: Any = None,
                shape: tuple[int, ...] | None = None) -> tuple[Any, Any, Any]:
    """y = x̂·γ + β with x̂ = (x − μ)/√(σ² + ε), μ and σ² (biased) over `axes`; γ and β (None:
    none) reshaped to `shape` where given. Float16 values are computed in float32 and y rounded
    once back to float16 (μ and σ² are returned in float32); others as written, in their dtype."""
    (x, weight, bias), out = _widened(x, weight, bias)
    mu = dk.mean(x, axis=axes, keepdims=True)
    d = dk.sub(x, mu)
    var = dk.mean(dk.mul(d, d), axis=axes, keepdims=True)
    y = dk.mul(d, dk.pow(dk.add(var, eps), -0.5))
    return _affine(y, weight, bias, shape, out), mu, var


def _affine(y: Any, weight: Any, bias: Any, shape: tuple[int, ...] | None, out: Any) -> Any:
    """y·γ + β (γ, β reshaped to `shape` where given; no γ: y), cast to `out` (None: as is)."""
    if weight is not None:
        w, b = (weight, bias) if shape is None else (dk.reshape(weight, shape),
                                                     dk.reshape(bias, shape))
        y = dk.add(dk.mul(y, w), b)
    return y if out is None else dk.astype(y, out)


def _check_batch_values(x: Any, num_features: int) -> None:
    """Batch statistics need two or more values per channel (N·L or N·H·W): with one, x − μ_B = 0
    and the output would be β whatever the input (PyTorch's error)."""
    if math.prod(x.shape) // num_features <= 1:
        raise ValueError(f"Expected more than 1 value per channel when training, got input size "
                         f"{tuple(x.shape)}")


class _BatchNorm(Module):
    """BatchNorm1d/2d's common part. `momentum` weighs a training batch's statistics in the running
    ones; None gives PyTorch's cumulative average (weight 1/k for the k-th training batch, counted
    in the buffer ``num_batches_tracked``)."""

    optional_buffers = ("num_batches_tracked",)  # PyTorch loads states saved without it

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float | None = 0.1,
                 affine: bool = True, track_running_stats: bool = True,
                 dtype: DType = np.float32) -> None:
        super().__init__()
        if isinstance(num_features, bool) or not isinstance(num_features, numbers.Integral) \
                or num_features < 1:
            raise ValueError(f"{type(self).__name__}: num_features must be a positive integer "
                             f"(the channels), got {num_features!r}")
        self.num_features, self.eps, self.momentum = int(num_features), eps, momentum
        self.affine, self.track_running_stats = affine, track_running_stats
        if affine:
            self.weight = Parameter(np.ones(num_features, dtype), name="weight")
            self.bias = Parameter(np.zeros(num_features, dtype), name="bias")
        stats = working_dtype(dtype)  # a float16 running σ² overflows from σ = 256 on
        # without tracking, PyTorch's buffers are None: absent from state_dict, so the state
        # dicts of both load into each other strictly
        track = bool(track_running_stats)
        self.register_buffer("running_mean", np.zeros(num_features, stats) if track else None)
        self.register_buffer("running_var", np.ones(num_features, stats) if track else None)
        self.register_buffer("num_batches_tracked", np.array(0, np.int64) if track else None)

    def _check(self, x: Any) -> None:
        raise NotImplementedError

    def _running_weight(self) -> float:
        """Count this training batch in ``num_batches_tracked`` and return its weight m in the
        running statistics, r ← (1 − m)·r + m·batch: `momentum`, or for ``momentum=None`` the
        cumulative average's m = 1/k at the k-th batch. Without a counter (None: built without
        tracking, statistics assigned later; or set to None), PyTorch's rule: nothing is
        counted, and ``momentum=None`` weighs the batch 0 (the statistics stay)."""
        done = self.num_batches_tracked
        if done is None:
            return 0.0 if self.momentum is None else float(self.momentum)
        self.num_batches_tracked = array_namespace(done).asarray(done + 1)
        return 1.0 / float(done + 1) if self.momentum is None else float(self.momentum)

    def _stored(self) -> bool:
        """Whether running statistics exist (both buffers). One of them alone is refused where
        it would be updated or read, as PyTorch does: eval mode read batch statistics instead."""
        mean, var = self.running_mean is None, self.running_var is None
        if mean != var and (not self.training or self.track_running_stats):
            missing = "running_mean" if mean else "running_var"
            raise ValueError(
                f"{type(self).__name__}: {missing} is None but "
                f"{'running_var' if mean else 'running_mean'} is not: running_mean and "
                f"running_var must either both be None or neither be None (set {missing}, or "
                f"both to None to use batch statistics)")
        return not mean and not var

    def _counts(self) -> bool:
        """Whether this call is a training batch that ``num_batches_tracked`` counts: in training
        with tracking, whether or not running statistics are stored (PyTorch's
        ``_BatchNorm.forward``: a batch normalized by its own statistics while they are None is
        counted too, and a later ``momentum=None`` update weighs 1/k with that k)."""
        return bool(self.training and self.track_running_stats)

    def _update_running(self, mu: Any, var: Any, count: int) -> None:
        """Count this training batch (:meth:`_running_weight`) and, where running statistics are
        stored, r ← (1 − m)·r + m·batch for the mean and the unbiased variance of a batch of
        `count` values per channel; the buffers keep their dtype (a float64 batch through a
        float32 layer left float64 buffers, and eval outputs)."""
        m = self._running_weight()
        if not self._stored():
            return
        mu_v, var_v = plain_value(mu).reshape(-1), plain_value(var).reshape(-1)
        mean, var_ = self.running_mean, self.running_var
        self.running_mean = ((1 - m) * mean + m * mu_v).astype(mean.dtype, copy=False)
        self.running_var = ((1 - m) * var_ + m * var_v * (count / max(count - 1, 1))
                            ).astype(var_.dtype, copy=False)

    def forward(self, x: Any) -> Any:
        self._check(x)
        axes = (0, *range(2, len(x.shape)))
        bshape = (1, self.num_features) + (1,) * (len(x.shape) - 2)
        weight, bias = (self.weight, self.bias) if self.affine else (None, None)
        # PyTorch's modes: batch statistics in training or without running ones (None), which
        # are updated in training while tracked, and read in eval mode wherever they exist
        stored, counts = self._stored(), self._counts()
        if stored or (counts and self.num_batches_tracked is not None):
            # statistics it updates or reads, a counter it updates, and a mode: a trace
            holds_at_this_call()  # holds at this call only (dk.jit runs it afresh)
        if self.training or not stored:
            _check_batch_values(x, self.num_features)
            y, mu, var = _normalized(x, axes, self.eps, weight, bias, bshape)
            if counts:
                self._update_running(mu, var, x.size // self.num_features)
            return y
        (x, weight, bias), out = _widened(x, weight, bias)
        mean = self.running_mean.reshape(bshape)
        inv = ((self.running_var + self.eps) ** -0.5).reshape(bshape)
        return _affine(dk.mul(dk.sub(x, mean), inv), weight, bias, bshape, out)

    def extra_repr(self) -> str:
        return f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, affine={self.affine}"


class BatchNorm1d(_BatchNorm):
    """The seeds' Algorithm 1 over the batch of (N, C) or (N, C, L) inputs: x̂ = (x − μ_B)/√(σ²_B + ε),
    y = γ x̂ + β; running statistics (unbiased variance) are used in eval mode.

    Example:
        >>> import diffkit.nn as nn, numpy as np
        >>> y = nn.BatchNorm1d(2)(np.array([[1.0, 2.0], [3.0, 6.0]], np.float32))
        >>> np.round(y.value, 3).tolist()
        [[-1.0, -1.0], [1.0, 1.0]]
    """

    def _check(self, x: Any) -> None:
        if len(x.shape) not in (2, 3) or x.shape[1] != self.num_features:
            raise ValueError(f"BatchNorm1d({self.num_features}) expects (N, C) or (N, C, L), got {x.shape}")


class BatchNorm2d(_BatchNorm):
    """Algorithm 1 per channel of (N, C, H, W) inputs. Example: ``nn.BatchNorm2d(6)(x)``."""

    def _check(self, x: Any) -> None:
        if len(x.shape) != 4 or x.shape[1] != self.num_features:
            raise ValueError(f"BatchNorm2d({self.num_features}) expects (N, C, H, W), got {x.shape}")


class LayerNorm(Module):
    """Normalize over the last dims (`normalized_shape`) of each sample; per-element affine.

    Example:
        >>> import diffkit.nn as nn, numpy as np
        >>> nn.LayerNorm(4)(np.arange(8.0, dtype=np.float32).reshape(2, 4)).shape
        (2, 4)
    """

    def __init__(self, normalized_shape: int | Sequence[int], eps: float = 1e-5,
                 elementwise_affine: bool = True, dtype: DType = np.float32) -> None:
        super().__init__()
        shape = ((int(normalized_shape),) if isinstance(normalized_shape, numbers.Integral)
                 else tuple(int(n) for n in normalized_shape))
        self.normalized_shape, self.eps, self.elementwise_affine = shape, eps, elementwise_affine
        if elementwise_affine:
            self.weight = Parameter(np.ones(shape, dtype), name="weight")
            self.bias = Parameter(np.zeros(shape, dtype), name="bias")

    def forward(self, x: Any) -> Any:
        nd = len(self.normalized_shape)
        if tuple(x.shape[-nd:]) != self.normalized_shape:
            raise ValueError(f"LayerNorm{self.normalized_shape} got input of shape {x.shape}")
        weight, bias = (self.weight, self.bias) if self.elementwise_affine else (None, None)
        axes = tuple(range(len(x.shape) - nd, len(x.shape)))
        return _normalized(x, axes, self.eps, weight, bias)[0]


class GroupNorm(Module):
    """Normalize each sample over groups of channels; per-channel affine.

    Example:
        >>> import diffkit.nn as nn, numpy as np
        >>> nn.GroupNorm(2, 4)(np.random.rand(3, 4, 5, 5).astype(np.float32)).shape
        (3, 4, 5, 5)
    """

    def __init__(self, num_groups: int, num_channels: int, eps: float = 1e-5,
                 affine: bool = True, dtype: DType = np.float32) -> None:
        super().__init__()
        if num_groups <= 0 or num_channels <= 0:
            raise ValueError(f"GroupNorm: num_groups and num_channels must be positive, got "
                             f"num_groups={num_groups}, num_channels={num_channels}")
        if num_channels % num_groups:
            raise ValueError("num_channels must be divisible by num_groups")
        self.num_groups, self.num_channels, self.eps, self.affine = num_groups, num_channels, eps, affine
        if affine:
            self.weight = Parameter(np.ones(num_channels, dtype), name="weight")
            self.bias = Parameter(np.zeros(num_channels, dtype), name="bias")

    def forward(self, x: Any) -> Any:
        shape = tuple(x.shape)
        if len(shape) < 2 or shape[1] != self.num_channels:
            got = f" ({_channels(shape[1])})" if len(shape) >= 2 else ""
            raise ShapeError(f"GroupNorm({self.num_groups}, {self.num_channels}) expects input "
                             f"(N, C, ...) with C = num_channels = {self.num_channels}, got "
                             f"shape {shape}{got}")
        (x, weight, bias), out = _widened(x, *((self.weight, self.bias) if self.affine
                                               else (None, None)))
        y, _, _ = _normalized(dk.reshape(x, (shape[0], self.num_groups, -1)), (2,), self.eps)
        bshape = (1, self.num_channels) + (1,) * (len(shape) - 2)
        return _affine(dk.reshape(y, shape), weight, bias, bshape, out)


ACTIVATIONS: dict[str, type[Module]] = {"relu": ReLU, "sigmoid": Sigmoid, "tanh": Tanh,
                                        "leaky_relu": LeakyReLU, "identity": Identity}
