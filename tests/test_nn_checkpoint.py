"""Checkpoint files (diffkit.nn.checkpoint): every supported value round-trips exactly, a Trainer
resumes bit-identically, and damaged, crafted or foreign files are refused with CheckpointError,
never unpickled: truncation at every offset, byte flips, appended garbage, pickles that would
run code, object arrays, wrong format names and future versions. Atomic writes clean up after
killed writes of the same checkpoint and touch nothing else."""

from __future__ import annotations

import json
import math
import os
import pathlib
import pickle
import zipfile

import numpy as np
import pytest

from diffkit import nn
from diffkit.errors import DiffkitError
from diffkit.nn import checkpoint as ckpt
from diffkit.nn.checkpoint import CheckpointError, load_state, save_state


def _assert_same(a, b, where="state"):
    """Deep equality that also compares types, dtypes, shapes, nan and the sign of zero."""
    assert type(a) is type(b), f"{where}: {type(a).__name__} != {type(b).__name__}"
    if isinstance(a, dict):
        assert list(a) == list(b), f"{where}: keys {list(a)} != {list(b)}"
        for k in a:
            _assert_same(a[k], b[k], f"{where}[{k!r}]")
    elif isinstance(a, list | tuple):
        assert len(a) == len(b), f"{where}: length {len(a)} != {len(b)}"
        for i, (x, y) in enumerate(zip(a, b)):
            _assert_same(x, y, f"{where}[{i}]")
    elif isinstance(a, np.ndarray | np.generic):
        assert a.dtype == b.dtype and a.shape == b.shape, f"{where}: {a.dtype}{a.shape}"
        assert np.asarray(a).tobytes() == np.asarray(b).tobytes(), f"{where}: values differ"
    elif isinstance(a, float):
        assert repr(a) == repr(b), f"{where}: {a!r} != {b!r}"
    else:
        assert a == b, f"{where}: {a!r} != {b!r}"


def _every_type():
    rng_state = np.random.default_rng(12345).bit_generator.state
    return {
        "none": None, "true": True, "false": False, "zero": 0, "int": -7, "small": 2**53,
        "big": 2**100 + 1, "negbig": -(2**64) - 3, "pcg64": rng_state,
        "floats": [0.1, -0.0, 1e-310, 1.7976931348623157e308, math.nan, math.inf, -math.inf],
        "str": "héllo\n\"wörld\"", "empty_str": "", "list": [1, [2, [3, []]]], "tuple": (1, (2.5, "x"), ()),
        "list_of_tuples": [(0.9, 0.999)],
        "int_keys": {0: {"step": 3}, 1: {}}, "mixed_keys": {(1, 2): "pair", None: 1, 2.5: "f"},
        "tag_named_key": {"__array__": "a0"}, "tag_and_more": {"__tuple__": 1, "x": 2},
        "np_scalars": [np.float32(1.5), np.float64(-2.25), np.int64(-3), np.uint8(255),
                       np.bool_(True), np.complex128(1 - 2j), np.float16(np.nan)],
        "arrays": {
            "f32": np.arange(6, dtype=np.float32).reshape(2, 3),
            "f64_nan": np.array([np.nan, np.inf, -np.inf, -0.0]),
            "f16": np.linspace(0, 1, 5, dtype=np.float16),
            "i8": np.array([-128, 127], np.int8), "u64": np.array([2**64 - 1], np.uint64),
            "bool": np.array([[True, False]]), "c64": np.array([1 + 1j], np.complex64),
            "zero_d": np.array(3.0), "empty": np.zeros((0, 4), np.float32),
            "fortran": np.asfortranarray(np.arange(12.0).reshape(3, 4)),
            "strided": np.arange(20, dtype=np.int32)[::3],
            "big_endian": np.arange(3, dtype=">f8"),
        },
    }


def test_round_trip_of_every_supported_type(tmp_path):
    state = _every_type()
    save_state(tmp_path / "all.ckpt", state)
    back = load_state(tmp_path / "all.ckpt")
    _assert_same(state, back)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["all.ckpt"]


def test_file_layout_is_a_plain_npz_with_json_metadata(tmp_path):
    save_state(tmp_path / "x.ckpt", {"w": np.ones(2), "t": (1, 2)})
    with np.load(tmp_path / "x.ckpt", allow_pickle=False) as z:
        assert sorted(z.files) == ["__meta__", "__sha256__", "a0"]
        meta = json.loads(z["__meta__"].tobytes().decode("utf-8"))
        assert z["__sha256__"].shape == (32,)
    assert meta == {"format": "diffkit-checkpoint", "version": 1, "arrays": 1,
                    "state": {"w": {"__array__": "a0"}, "t": {"__tuple__": [1, 2]}}}


@pytest.mark.parametrize("bad, words", [
    (np.array([1, None], dtype=object), "dtype object"),
    (np.array(["a", "b"]), "dtype <U1"),
    (object(), "builtins.object is not supported"),
    ({1, 2}, "builtins.set is not supported"),
])
def test_save_refuses_what_it_cannot_hold(tmp_path, bad, words):
    path = tmp_path / "x.ckpt"
    with pytest.raises(CheckpointError, match="cannot save") as err:
        save_state(path, {"model": {"w": bad}})
    assert words in str(err.value) and str(path) in str(err.value)
    assert "state['model']['w']" in str(err.value)
    assert not list(tmp_path.iterdir())  # nothing written


def test_checkpoint_error_is_a_diffkit_value_error():
    assert issubclass(CheckpointError, DiffkitError) and issubclass(CheckpointError, ValueError)
    assert nn.CheckpointError is CheckpointError


# ----- Trainer


def _small_trainer(path=None, seed=0):
    nn.manual_seed(seed)
    model = nn.MLP([2, 3, 2], batch_norm=True)
    opt = nn.Adam(model.parameters(), lr=0.05, amsgrad=True)
    return nn.Trainer(model, optimizer=opt, scheduler=nn.ReduceLROnPlateau(opt, patience=0),
                      early_stopping=nn.EarlyStopping(patience=5), progress=False,
                      checkpoint=None if path is None else str(path))


def _loader(seed=3):
    X, y = nn.make_moons(48, noise=0.2)
    return nn.DataLoader(X, y, 16, seed=seed, transform=nn.AddGaussianNoise(0.01))


def test_trainer_resume_is_bit_identical_with_adam_and_plateau(tmp_path):
    val = nn.make_moons(32, noise=0.2, seed=1)
    straight = _small_trainer()
    straight.fit(_loader(), val, epochs=4)
    path = tmp_path / "run.ckpt"
    first = _small_trainer(path)
    first.fit(_loader(), val, epochs=2)
    nn.manual_seed(99)
    resumed = _small_trainer(seed=7)
    resumed.load_checkpoint(str(path))
    assert type(resumed.history) is nn.History and resumed.epoch == 2
    resumed.fit(_loader(seed=42), val, epochs=4)
    _assert_same(straight.model.state_dict(), resumed.model.state_dict())
    _assert_same(straight.optimizer.state_dict(), resumed.optimizer.state_dict())
    for h in straight.history, resumed.history:
        del h["time"]  # wall-clock seconds
    _assert_same(dict(straight.history), dict(resumed.history))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run.ckpt"]


def test_trainer_checkpoint_holds_every_part_in_its_own_types(tmp_path):
    trainer = _small_trainer(tmp_path / "run.ckpt")
    trainer.fit(_loader(), epochs=1)
    state = load_state(tmp_path / "run.ckpt")
    assert set(state) == {"epoch", "history", "model", "optimizer", "rng", "scheduler",
                          "early_stopping", "loader", "best_state"}
    assert state["optimizer"]["param_groups"][0]["betas"] == (0.9, 0.999)  # tuple stays a tuple
    assert set(state["optimizer"]["state"]) == {0, 1, 2, 3, 4, 5}  # int keys stay ints
    assert state["rng"] == nn.get_rng().bit_generator.state  # 128-bit ints intact
    assert type(state["early_stopping"]["best"]) is float and state["history"]["grad_norms"]


def test_trainer_refuses_a_checkpoint_of_something_else(tmp_path):
    save_state(tmp_path / "x.ckpt", {"epoch": 1})
    with pytest.raises(CheckpointError, match=r"not a Trainer checkpoint \(no history"):
        _small_trainer().load_checkpoint(str(tmp_path / "x.ckpt"))


# ----- damaged files


@pytest.fixture(scope="module")
def real_checkpoint(tmp_path_factory):
    """A real Trainer checkpoint (about 5 KB) and the state it holds."""
    path = tmp_path_factory.mktemp("real") / "run.ckpt"
    trainer = _small_trainer(path)
    trainer.fit(_loader(), val_data=nn.make_moons(16, seed=1), epochs=1)
    return path.read_bytes(), load_state(path)


def _outcome(path, original):
    """'error' (CheckpointError) or 'same' (loads exactly the original state); anything else
    fails the test."""
    try:
        state = load_state(path)
    except CheckpointError as e:
        assert str(path) in str(e)
        return "error"
    _assert_same(original, state)
    return "same"


def test_truncation_at_every_offset_is_refused(tmp_path, real_checkpoint):
    data, original = real_checkpoint
    path = tmp_path / "cut.ckpt"
    for n in range(len(data)):
        path.write_bytes(data[:n])
        assert _outcome(path, original) == "error", f"truncated to {n} of {len(data)} bytes"


def test_single_byte_flips_are_refused_or_harmless(tmp_path, real_checkpoint):
    data, original = real_checkpoint
    rng = np.random.default_rng(2024)
    path = tmp_path / "flip.ckpt"
    outcomes = {"error": 0, "same": 0}
    for pos in rng.choice(len(data), size=400, replace=False):
        damaged = bytearray(data)
        damaged[pos] ^= int(rng.integers(1, 256))
        path.write_bytes(bytes(damaged))
        outcomes[_outcome(path, original)] += 1
    assert outcomes["error"] > 200  # most bytes are content; the rest is zip metadata
    start = data.index(b'{"format"')
    for pos in range(start, start + 300, 3):  # every flip in the JSON is caught
        damaged = bytearray(data)
        damaged[pos] ^= 0x01
        path.write_bytes(bytes(damaged))
        assert _outcome(path, original) == "error", f"flip at {pos} in the JSON"


@pytest.mark.parametrize("garbage", [b"\x00", b"junk" * 100, b"PK\x05\x06" + b"\x00" * 18,
                                     b"PK\x03\x04" + bytes(range(256)), "copy"],
                         ids=["nul", "text", "empty-zip-end", "local-header", "second-copy"])
def test_appended_garbage_is_refused_or_harmless(tmp_path, real_checkpoint, garbage):
    data, original = real_checkpoint
    path = tmp_path / "tail.ckpt"
    path.write_bytes(data + (data if garbage == "copy" else garbage))
    assert _outcome(path, original) in ("error", "same")


def _rezip(path, change):
    """Rewrite the zip at `path` with change(name, bytes) -> bytes applied to each entry; the
    zip's own CRC-32s are recomputed, so only the SHA-256 can notice."""
    with zipfile.ZipFile(path) as z:
        entries = [(info.filename, z.read(info)) for info in z.infolist()]
    with zipfile.ZipFile(path, "w") as z:
        for name, data in entries:
            z.writestr(name, change(name, data))


def test_flipped_weight_byte_is_a_checksum_mismatch(tmp_path):
    w = np.full(8, 1.2345678, np.float64)
    path = tmp_path / "w.ckpt"
    save_state(path, {"w": w})
    data = bytearray(path.read_bytes())
    data[data.index(w.tobytes()) + 13] ^= 0x40
    path.write_bytes(bytes(data))
    with pytest.raises(CheckpointError,
                       match=r"checksum mismatch in entry 'a0' \(its zip CRC-32\): the file was "
                             "modified or corrupted"):
        load_state(path)
    save_state(path, {"w": w})
    _rezip(path, lambda name, b: b.replace(w.tobytes(), (w * 2).tobytes()))
    assert load_state_unchecked(path)["w"][0] == 2 * 1.2345678  # the zip itself is valid
    with pytest.raises(CheckpointError, match="checksum mismatch: the file was modified or corrupted"):
        load_state(path)
    save_state(path, {"w": w, "epoch": 3})
    _rezip(path, lambda name, b: b.replace(b'"epoch":3', b'"epoch":4'))
    with pytest.raises(CheckpointError, match="checksum mismatch: the file was modified or corrupted"):
        load_state(path)


def load_state_unchecked(path):
    with np.load(path, allow_pickle=False) as z:
        return {"w": z["a0"]}


def test_trainer_load_refuses_truncated_and_flipped_files(tmp_path, real_checkpoint):
    data, original = real_checkpoint
    path = tmp_path / "run.ckpt"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="truncated or not a zip"):
        _small_trainer().load_checkpoint(str(path))
    path.write_bytes(b"")
    with pytest.raises(CheckpointError, match="truncated"):
        _small_trainer().load_checkpoint(str(path))
    weights = original["model"]["0.weight"]
    damaged = bytearray(data)
    damaged[data.index(weights.tobytes()) + 2] ^= 0x10  # a weight changes: must not load silently
    path.write_bytes(bytes(damaged))
    with pytest.raises(CheckpointError, match="checksum mismatch.*modified or corrupted"):
        _small_trainer().load_checkpoint(str(path))


def test_missing_file_is_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError):
        load_state(tmp_path / "nope.ckpt")
    with pytest.raises(FileNotFoundError):
        _small_trainer().load_checkpoint(str(tmp_path / "nope.ckpt"))


# ----- crafted files


class _Touch:
    """Unpickling this calls pathlib.Path.touch(target): harmless, but visible."""

    def __init__(self, target):
        self.target = pathlib.Path(target)

    def __reduce__(self):
        return pathlib.Path.touch, (self.target,)


def test_pickle_that_would_run_code_is_refused(tmp_path):
    control = tmp_path / "control"
    pickle.loads(pickle.dumps(_Touch(control)))
    assert control.exists()  # the payload is live: unpickling it runs code
    sentinel = tmp_path / "sentinel"
    path = tmp_path / "evil.ckpt"
    path.write_bytes(pickle.dumps({"epoch": 1, "model": _Touch(sentinel)}, protocol=4))
    with pytest.raises(CheckpointError, match=r"not a diffkit checkpoint.*pickle.*never unpickles"):
        _small_trainer().load_checkpoint(str(path))
    assert not sentinel.exists()
    with pytest.raises(CheckpointError, match=r"not a diffkit checkpoint.*pickle.*never unpickles"):
        load_state(path)
    path.write_bytes(pickle.dumps(_Touch(sentinel), protocol=0))
    with pytest.raises(CheckpointError, match="not a diffkit checkpoint: not a zip archive"):
        load_state(path)
    assert not sentinel.exists()


def _craft(path, meta, arrays, digest=None, allow_pickle=False):
    """Write a zip in the checkpoint layout by hand; the digest is right unless given."""
    meta_bytes = json.dumps(meta).encode() if isinstance(meta, dict) else meta
    if digest is None:
        digest = ckpt._digest(meta_bytes, arrays.items())
    with open(path, "wb") as f:  # (np.savez would add .npz to a path)
        np.savez(f, __meta__=np.frombuffer(meta_bytes, np.uint8), **arrays,
                 __sha256__=np.frombuffer(digest, np.uint8), allow_pickle=allow_pickle)


def _meta(state, n=0, **changes):
    return {"format": "diffkit-checkpoint", "version": 1, "arrays": n, "state": state, **changes}


def test_object_array_in_a_zip_is_refused_without_unpickling(tmp_path):
    sentinel = tmp_path / "sentinel"
    path = tmp_path / "obj.ckpt"
    obj = np.array([_Touch(sentinel)], dtype=object)  # saving pickles it; loading would run it
    meta = json.dumps(_meta({"w": {"__array__": "a0"}}, 1)).encode()
    with open(path, "wb") as f:
        np.savez(f, __meta__=np.frombuffer(meta, np.uint8), a0=obj,
                 __sha256__=np.zeros(32, np.uint8), allow_pickle=True)
    with pytest.raises(CheckpointError, match="entry 'a0' has dtype object"):
        load_state(path)
    with open(path, "wb") as f:  # a plain .npz with an object array
        np.savez(f, w=obj, allow_pickle=True)
    with pytest.raises(CheckpointError, match="not a diffkit checkpoint"):
        load_state(path)
    assert not sentinel.exists()


def test_wrong_format_name_and_future_version_are_refused(tmp_path):
    path = tmp_path / "x.ckpt"
    _craft(path, _meta({}, format="someone-elses-format"), {})
    with pytest.raises(CheckpointError, match=r"not a diffkit checkpoint \(format 'someone-else"):
        load_state(path)
    _craft(path, _meta({}, version=2), {})
    with pytest.raises(CheckpointError, match="written by a newer format version 2"):
        load_state(path)
    _craft(path, _meta({}, version="1"), {})
    with pytest.raises(CheckpointError, match="bad format version '1'"):
        load_state(path)
    with open(path, "wb") as f:
        np.savez(f, weights=np.ones(3))
    with pytest.raises(CheckpointError, match=r"not a diffkit checkpoint \(no __meta__ entry\)"):
        load_state(path)
    np.save(tmp_path / "plain.npy", np.ones(3))
    with pytest.raises(CheckpointError, match="not a diffkit checkpoint: not a zip archive"):
        load_state(tmp_path / "plain.npy")


def test_missing_entry_bad_json_and_bad_checksum_are_named(tmp_path):
    path = tmp_path / "x.ckpt"
    _craft(path, _meta({"w": {"__array__": "a0"}}, 2), {"a0": np.ones(2)})
    with pytest.raises(CheckpointError, match="missing array entry 'a1'"):
        load_state(path)
    _craft(path, _meta({"w": {"__array__": "a7"}}, 1), {"a0": np.ones(2)})
    with pytest.raises(CheckpointError, match="missing array entry 'a7'"):
        load_state(path)
    _craft(path, b'{"format": "diffkit-checkpoint", "version": 1, ', {})
    with pytest.raises(CheckpointError, match="bad JSON in __meta__"):
        load_state(path)
    _craft(path, json.dumps(_meta({"x": float("nan")})).encode(), {})  # NaN is not JSON
    with pytest.raises(CheckpointError, match="bad JSON in __meta__"):
        load_state(path)
    _craft(path, _meta({"x": {"__float__": "1.5"}}), {})
    with pytest.raises(CheckpointError, match="bad JSON in __meta__: malformed __float__"):
        load_state(path)
    _craft(path, _meta({"w": {"__array__": "a0"}}, 1), {"a0": np.ones(2)}, digest=bytes(32))
    with pytest.raises(CheckpointError, match="checksum mismatch: the file was modified or corrupted"):
        load_state(path)


def test_a_header_claiming_a_huge_array_is_refused_before_allocating(tmp_path):
    path = tmp_path / "x.ckpt"
    save_state(path, {"w": np.zeros(4)})
    old = b"'shape': (4,), }" + b" " * 12  # the .npy header is padded with spaces
    new = b"'shape': (" + b"9" * (len(old) - 15) + b",), }"  # 10**13 float64: 80 TB
    assert len(new) == len(old)
    _rezip(path, lambda name, b: b.replace(old, new) if name == "a0.npy" else b)
    with pytest.raises(CheckpointError, match=r"entry 'a0' claims shape \(9999999999999,\) of "
                                              r"float64 but holds 32 data bytes"):
        load_state(path)


# ----- atomic writes


def test_stale_temp_files_of_this_checkpoint_are_removed_and_nothing_else(tmp_path):
    stale = tmp_path / ".run.ckpt.ckpt-abc_1234.tmp"
    keep = {
        ".other.ckpt.ckpt-abc_1234.tmp": b"another checkpoint's temp file",
        ".run.ckpt.ckpt-abc_1234.tmp.bak": b"not our pattern",
        "run.ckpt.ckpt-abc_1234.tmp": b"no leading dot",
        ".run.ckpt.ckpt-a.b.tmp": b"dots are never in our random part",
        "notes.txt": b"user data",
    }
    stale.write_bytes(b"half a checkpoint")
    for name, content in keep.items():
        (tmp_path / name).write_bytes(content)
    (tmp_path / ".run.ckpt.ckpt-folder123.tmp").mkdir()  # a folder is never removed
    save_state(tmp_path / "run.ckpt", {"epoch": 1})
    assert not stale.exists()
    for name, content in keep.items():
        assert (tmp_path / name).read_bytes() == content
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [*keep, ".run.ckpt.ckpt-folder123.tmp", "run.ckpt"])
    assert load_state(tmp_path / "run.ckpt") == {"epoch": 1}


def test_trainer_save_removes_its_stale_temp_files(tmp_path):
    stale = tmp_path / ".run.ckpt.ckpt-k1ll3d_0.tmp"
    stale.write_bytes(b"left by a write that was killed")
    old_style = tmp_path / ".ckpt-abcd1234.tmp"  # whose? the name does not say: left alone
    old_style.write_bytes(b"?")
    trainer = _small_trainer(tmp_path / "run.ckpt")
    trainer.fit(_loader(), epochs=1)
    assert sorted(p.name for p in tmp_path.iterdir()) == [".ckpt-abcd1234.tmp", "run.ckpt"]


def test_a_write_killed_midway_leaves_the_old_checkpoint(tmp_path, monkeypatch):
    path = tmp_path / "run.ckpt"
    save_state(path, {"epoch": 1})

    def dies(f, *args, **kwargs):
        f.write(b"PK\x03\x04 partial")
        raise KeyboardInterrupt

    monkeypatch.setattr(ckpt.np, "savez", dies)
    with pytest.raises(KeyboardInterrupt):
        save_state(path, {"epoch": 2})
    monkeypatch.undo()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run.ckpt"]
    assert load_state(path) == {"epoch": 1}


def test_temp_file_is_named_after_its_checkpoint(tmp_path, monkeypatch):
    seen = []
    real_replace = os.replace

    def spy(src, dst):
        seen.append(os.path.basename(src))
        real_replace(src, dst)

    monkeypatch.setattr(ckpt.os, "replace", spy)
    save_state(tmp_path / "run.ckpt", {})
    assert len(seen) == 1 and seen[0].startswith(".run.ckpt.ckpt-") and seen[0].endswith(".tmp")
