"""Data: a seeded mini-batch loader, datasets that need no download, and image augmentation."""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np

from ..backend import device_module, to_device
from .inference import check_batch_size

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
            With a sampler it is applied to the whole global batch (the shared generator draws
            what one process draws) and this process keeps its rows: the augmented rows are
            one process's, whatever the number of processes.
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
        check_batch_size("DataLoader", batch_size)
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
        # on a GPU the epoch's order is copied there once and sliced per batch (a slice is a
        # view: no copy and no kernel per step); a sampler's shards are cut on the host
        d_order = to_device(order, self.device) if self.device != "cpu" and \
            self.transform is None and self.sampler is None else None
        for start in range(0, n, self.batch_size):
            idx = order[start:start + self.batch_size]
            if self.drop_last and len(idx) < self.batch_size:
                break
            if self.transform is not None:
                yield self._transformed(X, y, idx)
                continue
            if self.sampler is not None:
                idx = self.sampler.shard(idx)
            d_idx = idx if self.device == "cpu" else to_device(idx, self.device) \
                if d_order is None else d_order[start:start + self.batch_size]
            # rows by take: X[idx]'s copy without fancy indexing's set-up (~1 µs a batch)
            yield dev_X.take(d_idx, axis=0), dev_y[d_idx]

    def _transformed(self, X: np.ndarray, y: np.ndarray, idx: np.ndarray) -> Batch:
        """The augmented batch of rows `idx`. With a sampler, the transform sees the whole global
        batch X[idx] with the shared generator, as one process does, and this process keeps its
        rows of the result: every process's generator draws the same numbers (no drift, so the
        processes keep cutting the same order), and the rows' augmentations are one process's
        (not the same noise repeated in every process)."""
        xb = self.transform(X[idx], self.rng)  # type: ignore[misc]
        if self.sampler is not None:  # the rows it keeps, by their positions in the batch
            kept = np.asarray(self.sampler.shard(idx))
            by_index = np.argsort(idx, kind="stable")
            keep = by_index[np.searchsorted(idx[by_index], kept)]
            xb, idx = xb[keep], idx[keep]
        return to_device(xb.astype(X.dtype), self.device), to_device(y[idx], self.device)

    def state_dict(self) -> dict[str, Any]:
        return {"rng": self.rng.bit_generator.state}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore the shuffling generator of a :meth:`state_dict`; a state that is not one
        (of this loader's kind of generator) is a TypeError or ValueError naming the entry, and
        nothing changes."""
        check_loader_state(state, kind=type(self.rng.bit_generator).__name__)
        self.rng.bit_generator.state = state["rng"]


#: NumPy's bit generators by the name their state gives: a fixed table, so nothing a saved
#: state says picks the code that runs
_BIT_GENERATORS: dict[str, Callable[[], Any]] = {
    "PCG64": np.random.PCG64, "PCG64DXSM": np.random.PCG64DXSM, "MT19937": np.random.MT19937,
    "Philox": np.random.Philox, "SFC64": np.random.SFC64}


def check_loader_state(state: Any, kind: str | None = None) -> None:
    """TypeError or ValueError unless `state` is a :meth:`DataLoader.state_dict`: ``{"rng": the state of a
    NumPy bit generator}`` (of the kind `kind` names, when given), checked by
    :func:`check_rng_state`, so that a loader's own generator never holds a bad state."""
    where = "DataLoader.load_state_dict"
    if not isinstance(state, dict):
        raise TypeError(f"{where}: the state is a {type(state).__name__}, not a dict")
    unknown = [k for k in state if k != "rng"]
    if unknown:
        raise ValueError(f"{where}: unknown entry {unknown[0]!r} (a DataLoader state has 'rng')")
    if "rng" not in state:
        raise ValueError(f"{where}: the state has no 'rng'")
    check_rng_state(state["rng"], f"{where}: 'rng'", kind, "this loader's generator")


def check_rng_state(rng: Any, what: str, kind: str | None = None,
                    owner: str = "the generator") -> None:
    """TypeError or ValueError, naming `what` and the value as it is, unless `rng` is the state
    of a NumPy bit generator (``bit_generator.state``) that a fresh generator of its kind takes
    and gives back unchanged; of the kind `kind` names, when given (the kind of `owner`, the
    generator it is for). Checked here, not left to NumPy's setter, which reports a state of -5
    as "-1 out of bounds" (its high word) and truncates 1.5 to 1.

    Example:
        >>> import numpy as np
        >>> from diffkit.nn.data import check_rng_state
        >>> check_rng_state(np.random.default_rng(0).bit_generator.state, "rng")
    """
    name = rng.get("bit_generator") if isinstance(rng, dict) else None
    if not isinstance(rng, dict):
        raise TypeError(f"{what} is a {type(rng).__name__}, not the state of a NumPy bit "
                        "generator")
    if not isinstance(name, str) or name not in _BIT_GENERATORS:
        raise ValueError(f"{what} names {str(name)[:40]!r}, which is not a NumPy bit "
                         f"generator ({', '.join(_BIT_GENERATORS)})")
    if kind is not None and name != kind:
        raise ValueError(f"{what} is a {name} state, but {owner} is a {kind}")
    fresh = _BIT_GENERATORS[name]()
    bad = _form_error(rng, fresh.state, "")
    if bad:
        raise ValueError(f"{what} is not the state of a NumPy {name} generator: {bad}")
    try:
        fresh.state = rng
    except (TypeError, ValueError, KeyError, OverflowError, AttributeError) as exc:
        raise ValueError(f"{what} is not the state of a NumPy {name} generator "
                         f"({type(exc).__name__}: {exc})") from None
    if not _same_values(fresh.state, rng):
        raise ValueError(f"{what} is not the state of a NumPy {name} generator (it reads back "
                         "as another state)")


def _form_error(saved: Any, model: Any, path: str) -> str:
    """What keeps `saved` from having the form of the state `model`: other keys, or another
    value than an integer of 0 or more where `model` holds a Python int (every integer of a NumPy
    bit generator's state is unsigned); "" where nothing does."""
    if isinstance(model, dict):
        if not isinstance(saved, dict) or saved.keys() != model.keys():
            keys = sorted(map(str, saved)) if isinstance(saved, dict) else type(saved).__name__
            return f"{path or 'it'} has {keys}, not {sorted(model)}"
        return next((e for k in model if k != "bit_generator"
                     for e in [_form_error(saved[k], model[k], f"{path}[{k!r}]")] if e), "")
    if isinstance(model, int) and not (
            isinstance(saved, numbers.Integral) and not isinstance(saved, bool) and saved >= 0):
        return f"{path} is {saved!r:.60}, not an integer of 0 or more"
    return ""


def _same_values(a: Any, b: Any) -> bool:
    """Whether two bit generator states hold the same values (arrays compared element-wise)."""
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(
            _same_values(a[k], b[k]) for k in a)
    if isinstance(a, np.ndarray):
        return np.shape(b) == a.shape and bool(np.all(np.asarray(b) == a))
    return bool(a == b)


def split_test_rows(test_size: Any, n: int) -> int:
    """Rows in the test set, as scikit-learn counts them: ``ceil(test_size · n)`` for a float
    in (0, 1), the int itself for an int in [1, n − 1]; anything else, or a split that leaves no
    training row, is a ValueError naming `test_size` (a bool is refused)."""
    if not isinstance(test_size, bool) and isinstance(test_size, numbers.Integral):
        if 1 <= test_size <= n - 1:
            return int(test_size)
    elif not isinstance(test_size, bool) and isinstance(test_size, numbers.Real) \
            and 0.0 < float(test_size) < 1.0:
        n_test = math.ceil(float(test_size) * n)
        if n_test < n:
            return n_test
    raise ValueError(f"train_test_split: test_size={test_size!r} with n_samples={n}: use a "
                     f"fraction in (0, 1) that leaves training rows (ceil(test_size·n) < n) "
                     f"or a row count in [1, {n - 1}]")


def _class_ids(y: np.ndarray) -> np.ndarray:
    """A class id per row: the label itself for 1-D y, the distinct row for 2-D y (one-hot or
    multi-label rows: each distinct row is one class, as scikit-learn's ``stratify=y`` does)."""
    if y.ndim <= 1:
        return np.unique(y, return_inverse=True)[1].reshape(-1)
    return np.unique(y.reshape(len(y), -1), axis=0, return_inverse=True)[1].reshape(-1)


def _stratified_counts(counts: np.ndarray, n_test: int, rng: np.random.Generator) -> np.ndarray:
    """Test rows per class, proportional to the class sizes and summing to `n_test`: each class
    gets ⌊n_test · count / n⌋, and the rows left over go one each to the classes with the
    largest remainders (ties broken by `rng`), the largest-remainder method."""
    quota = n_test * counts / counts.sum()
    take = np.floor(quota).astype(int)
    rest = quota - take
    order = sorted(rng.permutation(len(counts)), key=lambda c: -rest[c])
    take[order[:n_test - int(take.sum())]] += 1
    return take


def _check_strata(y: np.ndarray, ids: np.ndarray, counts: np.ndarray, n_test: int,
                  n: int) -> None:
    """scikit-learn's refusals for a stratified split: a class with one row cannot be in both
    parts, and each part needs at least one row of every class (ValueError naming which)."""
    few = np.flatnonzero(counts < 2)
    if len(few):
        first = y[np.flatnonzero(ids == few[0])[0]]
        raise ValueError(f"train_test_split(stratify=True): {len(few)} class(es) of y have a "
                         f"single row (the first: {first!r}); a stratified split needs at least "
                         "2 rows of each class")
    for part, rows in (("test", n_test), ("train", n - n_test)):
        if rows < len(counts):
            raise ValueError(f"train_test_split(stratify=True): the {part} set would have "
                             f"{rows} rows for {len(counts)} classes; each part needs at least "
                             "one row of every class")


def train_test_split(X: Any, y: Any, test_size: float = 0.2, seed: int = 0,
                     stratify: bool = False) -> tuple[Any, Any, Any, Any]:
    """Seeded split (optionally stratified by label) → X_train, X_test, y_train, y_test.

    Args:
        X, y: arrays with the same number of rows.
        test_size: a float in (0, 1) is the test fraction, ``ceil(test_size · n)`` rows; an int
            in [1, n − 1] is the test row count (scikit-learn's rules); other values are a
            ValueError.
        seed: the generator's seed. stratify: keep the class proportions in both parts; the
            test set still has exactly the rows above (each class ⌊share⌋, the rest to the
            largest remainders). A 2-D y (one-hot or multi-label) is stratified by its rows.
            As in scikit-learn, each class needs two rows and each part at least one row per
            class (else a ValueError).

    Example:
        >>> import diffkit.nn as nn, numpy as np
        >>> Xtr, Xte, ytr, yte = nn.train_test_split(np.zeros((10, 2)), np.arange(10) % 2)
        >>> len(Xtr), len(Xte)
        (8, 2)
    """
    rng = np.random.default_rng(seed)
    y = np.asarray(y)
    X = X if hasattr(X, "shape") else np.asarray(X)
    n = len(y)
    if len(X) != n:
        raise ValueError(f"train_test_split: X has {len(X)} rows but y has {n} "
                         f"(the samples must match)")
    n_test = split_test_rows(test_size, n)
    if stratify:
        ids = _class_ids(y)
        counts = np.bincount(ids)
        _check_strata(y, ids, counts, n_test, n)
        take = _stratified_counts(counts, n_test, rng)
        test_idx = np.concatenate([rng.permutation(np.flatnonzero(ids == c))[:k]
                                   for c, k in enumerate(take)])
    else:
        test_idx = rng.permutation(n)[:n_test]
    mask = np.zeros(n, bool)
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
    """Interleaved spiral arms, one per class (CS231n's toy problem), exactly `n_samples` rows:
    each class gets ⌊n_samples / n_classes⌋ and the first ``n_samples % n_classes`` classes one
    more. Example: ``nn.make_spirals()``."""
    rng = np.random.default_rng(seed)
    base, extra = divmod(n_samples, n_classes)
    X, y = [], []
    for c in range(n_classes):
        per = base + (c < extra)
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

    Images are the last two axes of X, or of each row reshaped to `image_shape`. A `max_shift`
    that is not a non-negative int, flat rows without `image_shape`, or a shift as large as the
    image (it would blank it) is a ValueError naming the argument.

    Example:
        >>> import diffkit.nn as nn, numpy as np
        >>> nn.RandomShift(1, image_shape=(8, 8))(np.ones((2, 64)), np.random.default_rng(0)).shape
        (2, 64)
    """

    def __init__(self, max_shift: int = 1, image_shape: Sequence[int] | None = None) -> None:
        if isinstance(max_shift, bool) or not isinstance(max_shift, numbers.Integral) or max_shift < 0:
            raise ValueError(f"RandomShift: max_shift must be an int >= 0, got {max_shift!r}")
        self.max_shift, self.image_shape = int(max_shift), image_shape

    def _images(self, X: np.ndarray) -> np.ndarray:
        """X as (N, …, H, W) images, checked against `max_shift`."""
        if self.image_shape:
            X = X.reshape(len(X), *self.image_shape)
        if X.ndim < 3:
            raise ValueError(f"RandomShift: rows of shape {X.shape[1:]} are not images; pass "
                             f"image_shape=(H, W) (or (C, H, W)) to reshape flat rows")
        h, w = X.shape[-2:]
        if self.max_shift >= min(h, w):
            raise ValueError(f"RandomShift: max_shift={self.max_shift} must be smaller than the "
                             f"{h}×{w} images (a shift that large leaves a blank image)")
        return X

    def __call__(self, X: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        shape = X.shape
        imgs = self._images(X)
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
