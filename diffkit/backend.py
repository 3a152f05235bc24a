"""Array-module selection: NumPy on the CPU, CuPy on a GPU. The only module that imports CuPy."""

from __future__ import annotations

import sys
from types import ModuleType
from typing import Any

import numpy as np

from .errors import BackendError

_cupy: ModuleType | None = None


def cupy_module() -> ModuleType:
    """Import CuPy and check that a GPU answers; raise BackendError saying what is missing."""
    global _cupy
    if _cupy is None:
        try:
            import cupy
        except ImportError as exc:
            raise BackendError(
                "device='cuda' needs CuPy: pip install 'diffkit[gpu]' (cupy-cuda12x; cupy-cuda13x "
                "for CUDA 13) on a machine "
                "with an NVIDIA GPU; use device='cpu' otherwise"
            ) from exc
        try:
            if cupy.cuda.runtime.getDeviceCount() < 1:
                raise BackendError("CuPy is installed but sees no GPU; use device='cpu'")
        except Exception as exc:  # CUDA driver errors come in several types
            if isinstance(exc, BackendError):
                raise
            raise BackendError(f"CuPy is installed but no GPU is usable ({exc}); use device='cpu'") from exc
        _cupy = cupy
    return _cupy


def gpu_available() -> bool:
    """True when CuPy imports and sees at least one GPU."""
    try:
        cupy_module()
    except BackendError:
        return False
    return True


def _is_cupy(x: Any) -> bool:
    return type(x).__module__.startswith("cupy")


def array_namespace(*values: Any) -> ModuleType:
    """The array module (numpy or cupy) of `values`; mixing the two is an error that says so."""
    if "cupy" not in sys.modules:
        return np
    found = None
    for v in values:
        if _is_cupy(v):
            found = sys.modules["cupy"]
        elif isinstance(v, np.ndarray) and v.ndim > 0 and found is not None:
            raise BackendError("cannot mix NumPy and CuPy arrays in one operation; move both to one device")
    if found is not None:
        for v in values:
            if isinstance(v, np.ndarray) and v.ndim > 0:
                raise BackendError(
                    "cannot mix NumPy and CuPy arrays in one operation; move both to one device"
                )
        return found
    return np


def device_module(device: str) -> ModuleType:
    """The array module for a device name: 'cpu' -> numpy, 'cuda'/'gpu' -> cupy."""
    if device in ("cpu", "numpy"):
        return np
    if device in ("cuda", "gpu", "cupy"):
        return cupy_module()
    raise BackendError(f"unknown device {device!r}: use 'cpu' or 'cuda'")


def to_device(x: Any, device: str) -> Any:
    """Copy an array to `device` ('cpu' or 'cuda')."""
    xp = device_module(device)
    if xp is np:
        return x.get() if _is_cupy(x) else np.asarray(x)
    return xp.asarray(x)


def to_numpy(x: Any) -> Any:
    """A NumPy copy of a NumPy or CuPy array (scalars pass through)."""
    return x.get() if _is_cupy(x) else x


def special_module(xp: ModuleType) -> ModuleType:
    """The special-functions module for array module `xp`: ``scipy.special`` for NumPy,
    ``cupyx.scipy.special`` for CuPy, imported on first use (``import diffkit`` loads no SciPy).
    Any other module is a TypeError (the code generator's stand-in module is one)."""
    if xp is np:
        import scipy.special

        return scipy.special
    if xp is _cupy or getattr(xp, "__name__", None) == "cupy":
        import cupyx.scipy.special

        return cupyx.scipy.special
    raise TypeError(f"no special-functions module for the array module {xp!r}")


def scatter_add(xp: ModuleType, z: Any, index: Any, values: Any) -> Any:
    """z[index] += values, accumulating repeated indices; returns z."""
    if xp is np:
        np.add.at(z, index, values)
    else:
        import cupyx

        cupyx.scatter_add(z, index, values)
    return z


class _Reducing:
    """A CuPy ufunc with NumPy's ``reduce`` written as the reduction function that computes it
    (CuPy 14 reduces with ``add`` and ``multiply`` only: ``maximum.reduce`` is
    ``NotImplementedError`` there; and its ``add.reduce`` took 25 µs of host time per call on
    an H200's host, the reductions' own entry points are its usual path); calls and other
    attributes are the ufunc's own."""

    __slots__ = ("_reduce", "ufunc")

    def __init__(self, ufunc: Any, reduce: Any) -> None:
        self.ufunc, self._reduce = ufunc, reduce

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.ufunc(*args, **kwargs)

    def reduce(self, x: Any, axis: Any = 0, dtype: Any = None, keepdims: bool = False) -> Any:
        if dtype is None:
            return self._reduce(x, axis=axis, keepdims=keepdims)
        return self._reduce(x, axis=axis, dtype=dtype, keepdims=keepdims)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.ufunc, name)


class _CodeModule:
    """What ``np`` names in generated code run on another array module: that module's
    attributes, with NumPy's ufunc reductions where the module lacks them (see _Reducing)."""

    def __init__(self, xp: ModuleType) -> None:
        self._xp = xp
        self.__name__ = xp.__name__
        for name, reduce in (("maximum", xp.max), ("minimum", xp.min), ("add", xp.sum),
                             ("multiply", xp.prod), ("logical_and", xp.all),
                             ("logical_or", xp.any)):
            setattr(self, name, _Reducing(getattr(xp, name), reduce))

    def __getattr__(self, name: str) -> Any:  # only for names not set yet: looked up once
        value = getattr(self._xp, name)
        setattr(self, name, value)
        return value


def generated_code_module(xp: ModuleType) -> Any:
    """The module generated code calls ``np`` when its arrays are `xp`'s: NumPy itself, or
    `xp` (CuPy) completed where its API differs from NumPy's."""
    return np if xp is np else _CodeModule(xp)
