"""Checkpoint files that are safe to load: a NumPy ``.npz`` zip, JSON metadata, a SHA-256.

A checkpoint is a zip written by ``numpy.savez`` (entries stored uncompressed):

* ``__meta__``: UTF-8 JSON bytes (a uint8 array) ``{"format": "diffkit-checkpoint",
  "version": 1, "arrays": n, "state": tree}``, where the state tree holds arrays as references
  ``{"__array__": "a3"}``;
* ``a0`` … ``a{n-1}``: the arrays (numeric and bool dtypes only);
* ``__sha256__``: 32 bytes, the SHA-256 of the JSON bytes and of every array's name, dtype,
  shape and bytes in entry order.

Values JSON cannot hold exactly are tagged by a one-key object: ``__tuple__`` (a list),
``__float__`` ("nan", "inf", "-inf"), ``__int__`` (the decimal digits of an int beyond ±2**53),
``__scalar__`` (a NumPy scalar, stored as a 0-d array entry) and ``__dict__`` (a list of
[key, value] pairs, for dicts with keys that are not strings).

Loading reads with ``numpy.load(..., allow_pickle=False)`` and never unpickles or runs code;
every problem with the file's content is a :class:`CheckpointError` naming the file.

Example:
    >>> import numpy as np, os, tempfile
    >>> from diffkit.nn.checkpoint import save_state, load_state
    >>> path = os.path.join(tempfile.mkdtemp(), "run.ckpt")
    >>> save_state(path, {"epoch": 3, "w": np.eye(2, dtype=np.float32), "betas": (0.9, 0.999)})
    >>> state = load_state(path)
    >>> state["epoch"], state["w"].dtype, state["betas"]
    (3, dtype('float32'), (0.9, 0.999))
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
import tempfile
import zipfile
from typing import Any

import numpy as np

from ..errors import DiffkitError

FORMAT = "diffkit-checkpoint"
VERSION = 1

_META, _DIGEST = "__meta__", "__sha256__"
_TAGS = ("__array__", "__scalar__", "__tuple__", "__float__", "__int__", "__dict__")
_ARRAY_NAME = re.compile(r"a(0|[1-9][0-9]*)")
_ARRAY_KINDS = "biufc"  # bool, signed, unsigned, float, complex
_EXACT_INT = 2**53  # beyond this, ints are stored as decimal strings (JSON readers use doubles)
_ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")


class CheckpointError(DiffkitError, ValueError):
    """A checkpoint that cannot be written or read: not a diffkit checkpoint, truncated,
    corrupted (checksum mismatch), from a newer format version, or holding unsupported values."""


# ----- writing


def save_state(path: str | os.PathLike[str], state: dict[str, Any]) -> None:
    """Write `state` (a tree of dicts, lists, tuples, scalars and NumPy arrays) to `path`.

    The file is written to a temporary file in the same folder (``.{name}.ckpt-XXXXXXXX.tmp``),
    flushed, fsynced and renamed over `path`, so a reader sees the old file or the new one,
    never half of one. Temporary files left by earlier writes of the same checkpoint that were
    killed are removed first (only those: other files in the folder are never touched). Two
    processes must not write the same checkpoint path at the same time.

    Raises:
        CheckpointError: a value that checkpoints cannot hold (object arrays, ndarray
            subclasses such as masked arrays — a np.memmap is saved as a plain array —, str
            with lone surrogates, other classes).
    """
    path = os.fspath(path)
    if not isinstance(state, dict):
        raise CheckpointError(f"{path}: the state to save must be a dict, got "
                              f"{type(state).__name__}")
    arrays: list[np.ndarray] = []
    tree = _encode(state, arrays, path, "state")
    meta = json.dumps({"format": FORMAT, "version": VERSION, "arrays": len(arrays), "state": tree},
                      allow_nan=False, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    names = [f"a{i}" for i in range(len(arrays))]
    digest = _digest(meta, zip(names, arrays))
    entries = {_META: np.frombuffer(meta, dtype=np.uint8), **dict(zip(names, arrays)),
               _DIGEST: np.frombuffer(digest, dtype=np.uint8)}

    folder = os.path.dirname(os.path.abspath(path))
    prefix = f".{os.path.basename(path)}.ckpt-"
    remove_stale_temp_files(path)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=prefix, suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, allow_pickle=False, **entries)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise
    _fsync_folder(folder)


def remove_stale_temp_files(path: str | os.PathLike[str]) -> list[str]:
    """Delete ``.{name}.ckpt-*.tmp`` files that killed writes of the checkpoint `path` left
    behind; returns their paths. Nothing else is touched: only regular files whose names are
    exactly this checkpoint's temporary-file pattern."""
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    own = re.compile(re.escape(f".{os.path.basename(path)}.ckpt-") + r"[A-Za-z0-9_]+\.tmp")
    removed = []
    with os.scandir(folder) as entries:
        for entry in entries:
            if own.fullmatch(entry.name) and entry.is_file(follow_symlinks=False):
                try:
                    os.remove(entry.path)
                except FileNotFoundError:  # another cleanup got there first
                    continue
                removed.append(entry.path)
    return removed


def _fsync_folder(folder: str) -> None:
    """Make the rename durable where the platform allows opening a folder."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _encode(x: Any, arrays: list[np.ndarray], path: str, where: str) -> Any:
    """The JSON form of `x`; arrays are appended to `arrays` and replaced by references."""
    if isinstance(x, str):
        return _text(x, path, where)
    if x is None or isinstance(x, bool):
        return x
    if isinstance(x, np.memmap):  # a file's bytes: nothing a checkpoint must keep
        x = np.asarray(x)
    if isinstance(x, np.ndarray) and type(x) is not np.ndarray:
        raise CheckpointError(
            f"{path}: cannot save {where}: a {type(x).__module__}.{type(x).__qualname__} would "
            "come back as a plain ndarray, losing what its class adds (a masked array's mask, "
            "a matrix's kind): pass a plain array (np.asarray(x), or x.filled(value) for a "
            "masked one)")
    if isinstance(x, np.ndarray | np.generic):
        a = np.asarray(x)
        if a.dtype.kind not in _ARRAY_KINDS or a.dtype.fields is not None:
            raise CheckpointError(
                f"{path}: cannot save {where}: arrays of dtype {a.dtype} are not supported "
                "(checkpoints hold numeric and bool arrays only; object arrays would need pickle)")
        arrays.append(np.array(a, copy=True) if isinstance(x, np.generic) else a)
        return {"__scalar__" if isinstance(x, np.generic) else "__array__": f"a{len(arrays) - 1}"}
    if isinstance(x, int):
        return x if -_EXACT_INT <= x <= _EXACT_INT else {"__int__": str(int(x))}
    if isinstance(x, float):
        return float(x) if math.isfinite(x) else {"__float__": repr(float(x))}
    if isinstance(x, tuple):
        return {"__tuple__": [_encode(v, arrays, path, f"{where}[{i}]") for i, v in enumerate(x)]}
    if isinstance(x, list):
        return [_encode(v, arrays, path, f"{where}[{i}]") for i, v in enumerate(x)]
    if isinstance(x, dict):
        plain = all(isinstance(k, str) for k in x) and not (len(x) == 1 and next(iter(x)) in _TAGS)
        if plain:
            return {_text(k, path, f"{where} key {k!r}"): _encode(v, arrays, path, f"{where}[{k!r}]")
                    for k, v in x.items()}
        return {"__dict__": [[_encode(k, arrays, path, f"{where} key {k!r}"),
                              _encode(v, arrays, path, f"{where}[{k!r}]")] for k, v in x.items()]}
    raise CheckpointError(
        f"{path}: cannot save {where}: {type(x).__module__}.{type(x).__qualname__} is not "
        "supported (checkpoints hold dicts, lists, tuples, None, bool, int, float, str, NumPy "
        "scalars and numeric or bool NumPy arrays; move CuPy arrays to NumPy first)")


def _text(x: str, path: str, where: str) -> str:
    """A str, checked to be UTF-8 text (the JSON is written as UTF-8): a lone surrogate (a
    file name decoded with ``surrogateescape``) is a CheckpointError naming the entry."""
    try:
        x.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise CheckpointError(
            f"{path}: cannot save {where}: the str holds {x[exc.start]!r}, a lone surrogate "
            "that UTF-8 cannot write (a name decoded with errors='surrogateescape'?): pass "
            "text, e.g. s.encode('utf-8', 'surrogateescape').decode('utf-8', 'replace')"
            ) from None
    return x


def _digest(meta: bytes, arrays: Any) -> bytes:
    """SHA-256 over the JSON bytes and each array's name, dtype, shape and bytes, length-prefixed
    so that no two different files hash the same stream."""
    h = hashlib.sha256(f"{FORMAT} {VERSION}\n".encode())

    def field(b: Any, nbytes: int) -> None:
        h.update(nbytes.to_bytes(8, "little"))
        h.update(b)

    field(meta, len(meta))
    for name, a in arrays:
        head = f"{name} {a.dtype.str} {list(a.shape)}".encode()
        field(head, len(head))
        field(np.ascontiguousarray(a).view(np.uint8), a.nbytes)
    return h.digest()


# ----- reading


def load_state(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read a checkpoint written by :func:`save_state`; verifies its format, version and SHA-256.

    Never unpickles and never runs code from the file.

    Raises:
        FileNotFoundError: no such file (and other OSErrors from opening it).
        CheckpointError: the file is not a diffkit checkpoint, is truncated or not a zip, fails
            the checksum (modified or corrupted), comes from a newer format version, lacks an
            array entry, or holds metadata that is not valid JSON.
    """
    path = os.fspath(path)
    with open(path, "rb") as f:
        size = os.fstat(f.fileno()).st_size
        head = f.read(4)
        f.seek(0)
        if not head.startswith(_ZIP_MAGIC):
            if len(head) < 4 and b"PK\x03\x04".startswith(head):
                raise CheckpointError(f"{path}: truncated or not a zip archive ({size} bytes)")
            what = " (it looks like a pickle; diffkit never unpickles)" if head[:1] == b"\x80" else ""
            raise CheckpointError(f"{path}: not a diffkit checkpoint: not a zip archive{what}")
        try:
            npz = np.load(f, allow_pickle=False)
        except Exception as e:
            raise CheckpointError(f"{path}: truncated or not a zip archive "
                                  f"({type(e).__name__}: {e})") from e
        with npz:
            return _read(path, npz, size)


def _read(path: str, npz: Any, size: int) -> dict[str, Any]:
    entries = npz.zip.namelist()
    odd = [n for n in entries if not n.endswith(".npy")]
    if odd or len(set(entries)) != len(entries):
        raise CheckpointError(f"{path}: not a diffkit checkpoint (unexpected or repeated zip "
                              f"entries {sorted(set(odd)) or entries})")
    files = {n.removesuffix(".npy") for n in entries}
    if _META not in files:
        raise CheckpointError(f"{path}: not a diffkit checkpoint (no {_META} entry)")
    meta_bytes = _byte_entry(path, npz, _META, size)
    try:
        meta = json.loads(meta_bytes.decode("utf-8"), parse_constant=_no_constant)
    except (UnicodeDecodeError, ValueError, RecursionError) as e:
        raise CheckpointError(f"{path}: bad JSON in {_META} ({e}): the file was modified or "
                              "corrupted") from e
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        found = meta.get("format") if isinstance(meta, dict) else None
        raise CheckpointError(f"{path}: not a diffkit checkpoint (format {found!r}, expected "
                              f"{FORMAT!r})")
    version = meta.get("version")
    if type(version) is not int or version < 1:
        raise CheckpointError(f"{path}: bad format version {version!r} in {_META}")
    if version > VERSION:
        raise CheckpointError(f"{path}: written by a newer format version {version} of "
                              f"{FORMAT} (this diffkit reads up to version {VERSION}); "
                              "upgrade diffkit to load it")
    count = meta.get("arrays")
    if type(count) is not int or count < 0 or "state" not in meta:
        raise CheckpointError(f"{path}: bad JSON in {_META}: no array count or no state")
    names = [f"a{i}" for i in range(min(count, len(files) + 1))]
    for name in names:
        if name not in files:
            raise CheckpointError(f"{path}: missing array entry {name!r} (the file is "
                                  "incomplete or was modified)")
    extra = files - set(names) - {_META, _DIGEST}
    if extra:
        raise CheckpointError(f"{path}: unexpected entries {sorted(extra)} (the file was "
                              "modified or is not a diffkit checkpoint)")
    if _DIGEST not in files:
        raise CheckpointError(f"{path}: no {_DIGEST} entry: the file was modified or corrupted")
    arrays = {name: _entry(path, npz, name, size) for name in names}
    if _byte_entry(path, npz, _DIGEST, size) != _digest(meta_bytes, arrays.items()):
        raise CheckpointError(f"{path}: checksum mismatch: the file was modified or corrupted")
    try:
        state = _decode(meta["state"], arrays, path)
    except RecursionError as e:
        raise CheckpointError(f"{path}: bad JSON in {_META}: nested too deeply") from e
    if not isinstance(state, dict):
        raise CheckpointError(f"{path}: bad JSON in {_META}: the state is not a dict")
    return state


def _byte_entry(path: str, npz: Any, name: str, size: int) -> bytes:
    a = _entry(path, npz, name, size)
    if a.dtype != np.uint8 or a.ndim != 1:
        raise CheckpointError(f"{path}: entry {name!r} is not a byte array ({a.dtype}, "
                              f"shape {a.shape}): the file was modified or corrupted")
    return a.tobytes()


def _no_constant(name: str) -> None:
    raise ValueError(f"{name} is not valid JSON")


def _entry(path: str, npz: Any, name: str, size: int) -> np.ndarray:
    """Read one array after checking that its zip entry is stored, fits in the file, and that its
    .npy header describes exactly the bytes present (no huge allocations from a damaged header)."""
    try:
        info = npz.zip.getinfo(name + ".npy")
        if (info.compress_type != zipfile.ZIP_STORED or info.compress_size != info.file_size
                or info.file_size > size):
            raise CheckpointError(f"{path}: entry {name!r} has a damaged zip record (sizes "
                                  f"{info.compress_size}/{info.file_size}, method "
                                  f"{info.compress_type}): the file is truncated or corrupted")
        with npz.zip.open(info) as fp:
            version = np.lib.format.read_magic(fp)
            if version == (1, 0):
                shape, _, dtype = np.lib.format.read_array_header_1_0(fp)
            elif version == (2, 0):
                shape, _, dtype = np.lib.format.read_array_header_2_0(fp)
            else:
                raise ValueError(f"unsupported .npy version {version}")
            header = fp.tell()
        if dtype.kind not in _ARRAY_KINDS or dtype.fields is not None or dtype.subdtype:
            raise CheckpointError(f"{path}: entry {name!r} has dtype {dtype}, which diffkit "
                                  "checkpoints never hold (not a diffkit checkpoint, or modified)")
        if header + math.prod(shape) * dtype.itemsize != info.file_size:
            raise CheckpointError(f"{path}: entry {name!r} claims shape {shape} of {dtype} but "
                                  f"holds {info.file_size - header} data bytes: the file is "
                                  "truncated or corrupted")
        a = npz[name + ".npy"]  # numpy.load's reader, allow_pickle=False
    except CheckpointError:
        raise
    except zipfile.BadZipFile as e:
        if "CRC" in str(e):
            raise CheckpointError(f"{path}: checksum mismatch in entry {name!r} (its zip CRC-32): "
                                  "the file was modified or corrupted") from e
        raise CheckpointError(f"{path}: cannot read entry {name!r} ({e}): the file is truncated "
                              "or corrupted") from e
    except Exception as e:
        raise CheckpointError(f"{path}: cannot read entry {name!r} ({type(e).__name__}: {e}): "
                              "the file is truncated or corrupted") from e
    if a.shape != tuple(shape) or a.dtype != dtype:
        raise CheckpointError(f"{path}: entry {name!r} does not match its header")
    return a


def _decode(x: Any, arrays: dict[str, np.ndarray], path: str) -> Any:
    """Inverse of :func:`_encode`."""
    if isinstance(x, list):
        return [_decode(v, arrays, path) for v in x]
    if not isinstance(x, dict):
        return x  # None, bool, int, float, str: JSON's own
    if len(x) == 1 and next(iter(x)) in _TAGS:
        ((tag, v),) = x.items()
        try:
            return _decode_tagged(tag, v, arrays, path)
        except CheckpointError:
            raise
        except (TypeError, ValueError) as e:
            raise CheckpointError(f"{path}: bad JSON in {_META}: malformed {tag} value "
                                  f"{v!r:.60} ({e})") from e
    return {k: _decode(v, arrays, path) for k, v in x.items()}


def _decode_tagged(tag: str, v: Any, arrays: dict[str, np.ndarray], path: str) -> Any:
    if tag in ("__array__", "__scalar__"):
        if not isinstance(v, str) or not _ARRAY_NAME.fullmatch(v) or v not in arrays:
            raise CheckpointError(f"{path}: missing array entry {v!r} referenced in {_META}")
        a = arrays[v]
        if tag == "__scalar__":
            if a.ndim != 0:
                raise ValueError(f"entry {v} of shape {a.shape} is not a scalar")
            return a[()]
        return a
    if tag == "__tuple__":
        if not isinstance(v, list):
            raise TypeError("not a list")
        return tuple(_decode(e, arrays, path) for e in v)
    if tag == "__float__":
        if v not in ("nan", "inf", "-inf"):
            raise ValueError("expected 'nan', 'inf' or '-inf'")
        return float(v)
    if tag == "__int__":
        if not isinstance(v, str) or not re.fullmatch(r"-?[0-9]{1,4300}", v):
            raise ValueError("expected decimal digits")
        return int(v)
    # __dict__: [[key, value], ...]
    if not isinstance(v, list) or not all(isinstance(p, list) and len(p) == 2 for p in v):
        raise TypeError("expected a list of [key, value] pairs")
    return {_decode(k, arrays, path): _decode(e, arrays, path) for k, e in v}


__all__ = ["FORMAT", "VERSION", "CheckpointError", "load_state", "remove_stale_temp_files",
           "save_state"]
