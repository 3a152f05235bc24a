"""Data: a seeded mini-batch loader, datasets that need no download, and image augmentation."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np

from ..backend import device_module, to_device

Batch = tuple[Any, Any]


def check_finite(name: str, values: Any, original: Any = None) -> None:
    """ValueError when a float array holds NaN or ±inf (a host-side check, once per data set).

    Example:
        >>> import diffkit.nn as nn, numpy as np
        >>> nn.data.check_finite("X", np.array([1.0, np.nan, np.inf]))
        Traceback (most recent call last):
        ...
        ValueError: X has 2 entries that are not finite (NaN or ±inf) out of 3; clean or impute the data first
    """
    a = np.asarray(values)
    if a.dtype.kind not in "fc":
        return
    bad = a.size - int(np.count_nonzero(np.isfinite(a)))
    if bad:
        note = ""
        o = None if original is None else np.asarray(original)
        if o is not None and o.dtype.kind in "iufc" and bool(np.isfinite(o).all()):
            note = f" (values beyond the range of {a.dtype} became inf)"
        what = "entry that is" if bad == 1 else "entries that are"
        raise ValueError(f"{name} has {bad} {what} not finite (NaN or ±inf) out of "
                         f"{a.size}{note}; clean or impute the data first")


class DataLoader:
    """Mini-batches of (X, y) on a device, reshuffled each epoch by its own seeded generator.

    Args:
        X, y: NumPy arrays with the same first dimension; NaN or ±inf in them is a ValueError.
        batch_size: rows per batch; shuffle: new order every epoch; seed: the generator's seed.
        drop_last: skip a final short batch; device: 'cpu' or 'cuda' (batches are moved there).
        transform: optional augmentation ``(X_batch, rng) -> X_batch`` applied on the host.
        sampler: optional ``shard(global_batch_indices) -> indices`` keeping this process's part
            of every batch (:class:`nn.distributed.DistributedSampler`): ``batch_size`` is then
            the global batch, and the order the same in every process.

    ``loader.X`` and ``loader.y`` may be replaced between epochs (converted and checked as in
    the constructor): the next epoch batches the arrays the loader holds then.

    Example:
        >>> import diffkit.nn as nn, numpy as np
        >>> loader = nn.DataLoader(np.zeros((10, 2)), np.arange(10), batch_size=4, seed=0)
        >>> [len(yb) for _, yb in loader]
        [4, 4, 2]
    """

    def __init__(self, X: Any, y: Any, batch_size: int = 32, shuffle: bool = True, seed: int = 0,
                 drop_last: bool = False, device: str = "cpu",
                 transform: Callable[[np.ndarray, np.random.Generator], np.ndarray] | None = None,
                 dtype: Any = np.float32, sampler: Any = None) -> None:
        if len(X) != len(y):
            raise ValueError(f"X has {len(X)} rows but y has {len(y)}")
        if batch_size <= 0:
            raise ValueError(f"Invalid batch_size: {batch_size}")
        device_module(device)
        self._dtype = dtype
        self._dev: tuple[Any, Any, Any, Any] | None = None  # (X, y, device X, device y)
        self.X, self.y = X, y
        self.batch_size, self.shuffle, self.drop_last = batch_size, shuffle, drop_last
        self.device, self.transform, self.sampler = device, transform, sampler
        self.rng = np.random.default_rng(seed)

    @property
    def X(self) -> np.ndarray:
        """The inputs, as an array of the loader's dtype (assigning one converts and checks it)."""
        return self._X

    @X.setter
    def X(self, X: Any) -> None:
        with np.errstate(over="ignore"):  # values too big for dtype: check_finite explains
            a = np.asarray(X, dtype=self._dtype)
        check_finite("DataLoader: X", a, X)
        self._X = a

    @property
    def y(self) -> np.ndarray:
        """The targets (assigning an array checks it for NaN and ±inf)."""
        return self._y

    @y.setter
    def y(self, y: Any) -> None:
        a = np.asarray(y)
        check_finite("DataLoader: y", a)
        self._y = a

    def __len__(self) -> int:
        n = len(self.X)
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    def __iter__(self) -> Iterator[Batch]:
        X, y = self._X, self._y
        n = len(X)
        if len(y) != n:
            raise ValueError(f"DataLoader: X has {n} rows but y has {len(y)}")
        order = self.rng.permutation(n) if self.shuffle else np.arange(n)
        dev = self._dev
        if self.transform is None and (dev is None or dev[0] is not X or dev[1] is not y):
            # the data stays on the device, copied again only when X or y is replaced
            dev = self._dev = (X, y, to_device(X, self.device), to_device(y, self.device))
        dev_X, dev_y = (dev[2], dev[3]) if dev is not None else (None, None)
        for start in range(0, n, self.batch_size):
            idx = order[start:start + self.batch_size]
            if self.drop_last and len(idx) < self.batch_size:
                break
            if self.sampler is not None:
                idx = self.sampler.shard(idx)
            if self.transform is None:
                d_idx = idx if self.device == "cpu" else to_device(idx, self.device)
                # rows by take: X[idx]'s copy without fancy indexing's set-up (~1 µs a batch)
                yield dev_X.take(d_idx, axis=0), dev_y[d_idx]
            else:
                xb = self.transform(X[idx], self.rng).astype(X.dtype)
                yield to_device(xb, self.device), to_device(y[idx], self.device)

    def state_dict(self) -> dict[str, Any]:
        return {"rng": self.rng.bit_generator.state}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.rng.bit_generator.state = state["rng"]


def train_test_split(X: Any, y: Any, test_size: float = 0.2, seed: int = 0,
                     stratify: bool = False) -> tuple[Any, Any, Any, Any]:
    """Seeded split (optionally stratified by label) → X_train, X_test, y_train, y_test.

    Example:
        >>> import diffkit.nn as nn, numpy as np
        >>> Xtr, Xte, ytr, yte = nn.train_test_split(np.zeros((10, 2)), np.arange(10) % 2)
        >>> len(Xtr), len(Xte)
        (8, 2)
    """
    rng = np.random.default_rng(seed)
    y = np.asarray(y)
    if stratify:
        test = []
        for c in np.unique(y):
            idx = rng.permutation(np.flatnonzero(y == c))
            test.extend(idx[:round(test_size * len(idx))])
        test_idx = np.sort(np.array(test, dtype=int))
    else:
        test_idx = np.sort(rng.permutation(len(y))[:round(test_size * len(y))])
    mask = np.zeros(len(y), bool)
    mask[test_idx] = True
    return X[~mask], X[mask], y[~mask], y[mask]


def load_digits(images: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's bundled 8×8 digits (1797 samples, no download), scaled to [0, 1].

    Args:
        images: return X as (N, 1, 8, 8) for CNNs instead of (N, 64).

    Example:
        >>> import diffkit.nn as nn
        >>> X, y = nn.load_digits(); X.shape, y.shape
        ((1797, 64), (1797,))
    """
    from sklearn.datasets import load_digits as _load

    d = _load()
    X = (d.data / 16.0).astype(np.float32)
    return (X.reshape(-1, 1, 8, 8) if images else X), d.target.astype(np.int64)


def make_moons(n_samples: int = 200, noise: float = 0.1, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Two interleaving half circles. Example: ``X, y = nn.make_moons(200, noise=0.2)``."""
    rng = np.random.default_rng(seed)
    n1 = n_samples // 2
    t0, t1 = np.linspace(0, np.pi, n_samples - n1), np.linspace(0, np.pi, n1)
    X = np.concatenate([np.c_[np.cos(t0), np.sin(t0)], np.c_[1 - np.cos(t1), 0.5 - np.sin(t1)]])
    y = np.r_[np.zeros(n_samples - n1), np.ones(n1)].astype(np.int64)
    return _shuffle(X + rng.normal(0, noise, X.shape), y, rng)


def make_circles(n_samples: int = 200, noise: float = 0.05, factor: float = 0.5,
                 seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A small circle inside a large one. Example: ``X, y = nn.make_circles(200)``."""
    rng = np.random.default_rng(seed)
    n1 = n_samples // 2
    t0 = np.linspace(0, 2 * np.pi, n_samples - n1, endpoint=False)
    t1 = np.linspace(0, 2 * np.pi, n1, endpoint=False)
    X = np.concatenate([np.c_[np.cos(t0), np.sin(t0)], factor * np.c_[np.cos(t1), np.sin(t1)]])
    y = np.r_[np.zeros(n_samples - n1), np.ones(n1)].astype(np.int64)
    return _shuffle(X + rng.normal(0, noise, X.shape), y, rng)


def make_xor(n_samples: int = 200, noise: float = 0.1, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Points in four quadrants labelled by the XOR of their signs. Example: ``nn.make_xor(200)``."""
    rng = np.random.default_rng(seed)
    X = rng.uniform(-1, 1, (n_samples, 2))
    y = ((X[:, 0] > 0) ^ (X[:, 1] > 0)).astype(np.int64)
    return (X + rng.normal(0, noise, X.shape)).astype(np.float32), y


def make_spirals(n_samples: int = 300, n_classes: int = 3, noise: float = 0.2,
                 seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Interleaved spiral arms, one per class (CS231n's toy problem). Example: ``nn.make_spirals()``."""
    rng = np.random.default_rng(seed)
    per = n_samples // n_classes
    X, y = [], []
    for c in range(n_classes):
        r = np.linspace(0.0, 1.0, per)
        t = np.linspace(c * 4.0, (c + 1) * 4.0, per) + rng.normal(0, noise, per)
        X.append(np.c_[r * np.sin(t), r * np.cos(t)])
        y.append(np.full(per, c))
    return _shuffle(np.concatenate(X), np.concatenate(y).astype(np.int64), rng)


def _shuffle(X: np.ndarray, y: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    order = rng.permutation(len(y))
    return X[order].astype(np.float32), y[order]


DATASETS: dict[str, Callable[..., tuple[np.ndarray, np.ndarray]]] = {
    "moons": make_moons, "circles": make_circles, "xor": make_xor, "spirals": make_spirals,
}


# ----- augmentation: callables (X_batch, rng) -> X_batch, applied by DataLoader(transform=...)


class AddGaussianNoise:
    """Add N(0, std²) noise. Example: ``nn.DataLoader(X, y, transform=nn.AddGaussianNoise(0.05))``."""

    def __init__(self, std: float = 0.05) -> None:
        self.std = std

    def __call__(self, X: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        return X + rng.normal(0.0, self.std, X.shape)


class RandomShift:
    """Shift each image by up to `max_shift` pixels (zero fill); flat rows need `image_shape`.

    Example:
        >>> import diffkit.nn as nn, numpy as np
        >>> nn.RandomShift(1, image_shape=(8, 8))(np.ones((2, 64)), np.random.default_rng(0)).shape
        (2, 64)
    """

    def __init__(self, max_shift: int = 1, image_shape: Sequence[int] | None = None) -> None:
        self.max_shift, self.image_shape = max_shift, image_shape

    def __call__(self, X: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        shape = X.shape
        imgs = X.reshape(len(X), *self.image_shape) if self.image_shape else X
        out = np.zeros_like(imgs)
        k = self.max_shift
        h, w = imgs.shape[-2:]
        for i, (dy, dx) in enumerate(rng.integers(-k, k + 1, size=(len(X), 2))):
            src = imgs[i, ..., max(0, -dy):h - max(0, dy), max(0, -dx):w - max(0, dx)]
            out[i, ..., max(0, dy):max(0, dy) + src.shape[-2], max(0, dx):max(0, dx) + src.shape[-1]] = src
        return out.reshape(shape)


class Compose:
    """Apply augmentations in order. Example: ``nn.Compose([nn.RandomShift(1), nn.AddGaussianNoise()])``."""

    def __init__(self, transforms: Sequence[Callable[[np.ndarray, np.random.Generator], np.ndarray]]) -> None:
        self.transforms = list(transforms)

    def __call__(self, X: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        for t in self.transforms:
            X = t(X, rng)
        return X
