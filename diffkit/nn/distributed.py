"""Data-parallel training across processes: the communication engine and the public API.

The only module of diffkit that imports ``mpi4py`` (MPI, for NumPy arrays and for setting up) and
``cupy.cuda.nccl`` (NCCL, for CuPy arrays), and only when :func:`init` runs: ``import diffkit.nn``
works without them. Launch with ``mpiexec -n 4 python script.py`` (or ``diffkit train digits
--workers 4``); every process calls :func:`init` and learns its :data:`rank` and
:data:`world_size`.

Every collective operation is started non-blocking and waited for with a deadline, so that a rank
that died or hangs stops the others with a :class:`~diffkit.errors.DistributedError` instead of
a silent hang:

* a rank that fails (an exception) tells the others at once, on a communicator of its own;
* a rank that is killed or crashes: MPICH's launcher ends the others at once (``diffkit train
  --workers`` then names the rank); under ``mpiexec -disable-auto-cleanup`` the launcher signals
  SIGUSR1 instead, and the next wait raises;
* a rank that hangs makes the others' wait run out: :class:`~diffkit.errors.
  DistributedTimeoutError` after ``timeout`` seconds.

A rank that stopped with an error ends the whole job (``MPI_Abort``) a moment after saying why,
so that no rank is left waiting.

Example (one process, no launcher: rank 0 of 1):
    >>> import diffkit.nn as nn
    >>> nn.distributed.rank, nn.distributed.world_size
    (0, 1)
"""

from __future__ import annotations

import atexit
import faulthandler
import math
import os
import signal
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from ..backend import array_namespace
from ..errors import DistributedError, DistributedTimeoutError, RankMismatchError
from .parallel import (
    DataParallel,
    DistributedSampler,
    LossReductionError,
    SyncBatchNorm1d,
    SyncBatchNorm2d,
    all_reduce_gradients,
    backward,
    broadcast_buffers,
    broadcast_parameters,
    check_consistent,
    convert_sync_batchnorm,
    session,
)
from .ranks import context, get_rank, get_world_size, launched, set_context

#: seconds a rank waits for the others in one collective operation, unless init(timeout=) says
DEFAULT_TIMEOUT = 60.0
#: seconds a failed rank waits, after telling the others, before it ends the job
GRACE = 1.0
INSTALL = 'pip install "diffkit[mpi]" (mpi4py and the MPICH wheel: no system MPI needed)'

_NOTICE_TAG, _NOTICE_BYTES = 17, 1024


def init(backend: str = "auto", timeout: float | None = None) -> Context:
    """Join the job: MPI for the ranks (and NumPy arrays), NCCL for CuPy arrays.

    Args:
        backend: "auto" (NCCL for CuPy arrays when a GPU is there, MPI otherwise), "mpi" or
            "nccl" (CuPy arrays must then be on GPUs; MPI hands out the NCCL id only).
        timeout: seconds a collective operation may wait for the other ranks (default
            ``DIFFKIT_DISTRIBUTED_TIMEOUT`` or 60).

    Calling it again returns the same context. Without a launcher the process is rank 0 of 1.

    Raises:
        DistributedError: mpi4py or the MPI library is missing, or the backend is unknown.
    """
    ctx = context()
    if ctx is not None:
        return ctx
    if backend not in ("auto", "mpi", "nccl"):
        raise DistributedError(f"unknown backend {backend!r}: use 'auto', 'mpi' or 'nccl'")
    seconds = _timeout(timeout)
    ctx = Context(_import_mpi(seconds), backend, seconds)
    set_context(ctx)
    return ctx


def is_initialized() -> bool:
    """True after :func:`init`."""
    return context() is not None


def __getattr__(name: str) -> Any:
    """``nn.distributed.rank`` and ``nn.distributed.world_size`` read as ints."""
    if name == "rank":
        return get_rank()
    if name == "world_size":
        return get_world_size()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _timeout(timeout: float | None) -> float:
    if timeout is None:
        text = os.environ.get("DIFFKIT_DISTRIBUTED_TIMEOUT", "")
        try:
            timeout = float(text) if text else DEFAULT_TIMEOUT
        except ValueError:
            raise DistributedError(f"DIFFKIT_DISTRIBUTED_TIMEOUT={text!r} is not a number of "
                                   "seconds") from None
    if not (math.isfinite(timeout) and timeout > 0):
        raise DistributedError(f"the timeout must be a positive number of seconds, got {timeout}")
    return float(timeout)


def _import_mpi(timeout: float = DEFAULT_TIMEOUT) -> Any:
    """mpi4py's MPI module, initialized. MPI_Init waits inside C, holding the GIL, for every
    rank of the job; a rank that failed before init() never comes. So faulthandler's watchdog
    (a C thread) ends this process when the start has not completed within `timeout` seconds:
    exit status 1, which makes the launcher end the job, after printing "Timeout" and the
    stack, which ends in :func:`_mpi_start_waits_for_every_rank`. (It replaces a
    ``faulthandler.dump_traceback_later`` of your own that is pending then.)"""
    try:
        import mpi4py
    except ImportError:
        raise DistributedError(f"distributed training needs mpi4py: {INSTALL}") from None
    mpi4py.rc.threads = False  # one thread talks to MPI
    mpi4py.rc.finalize = False  # Context finalizes, or aborts the job after a failure
    faulthandler.dump_traceback_later(timeout, exit=True)
    try:
        return _mpi_start_waits_for_every_rank()
    except Exception as exc:  # noqa: BLE001 (mpi4py's wheel finds no MPI library: several types)
        raise DistributedError(f"mpi4py found no MPI library ({exc}): {INSTALL}") from None
    finally:
        faulthandler.cancel_dump_traceback_later()


def _mpi_start_waits_for_every_rank() -> Any:
    """Import mpi4py's MPI (MPI_Init: every rank of the job must get here; named so, as the
    stack that :func:`_import_mpi`'s watchdog prints ends here)."""
    from mpi4py import MPI

    return MPI


class Pending:
    """Collective operations under way; :meth:`wait` finishes them (or raises, never hangs)."""

    def __init__(self, ctx: Context, reqs: list[Any], what: str,
                 device_done: Callable[[], bool] | None = None) -> None:
        self.ctx, self.reqs, self.what, self.device_done = ctx, reqs, what, device_done

    def wait(self) -> None:
        if self.reqs or self.device_done is not None:
            self.ctx._wait(self.reqs, self.what, self.device_done)
            self.reqs, self.device_done = [], None


class Context:
    """One process's place in the job: rank, world size, and the collective operations.

    Each operation sums or copies arrays in place and waits with the deadline (``timeout``);
    NumPy arrays go through MPI, CuPy arrays through NCCL (on a stream of its own).
    """

    def __init__(self, mpi: Any, backend: str, timeout: float) -> None:
        self.MPI, self.backend, self.timeout = mpi, backend, timeout
        if not mpi.Is_initialized():
            mpi.Init()
        self.comm = mpi.COMM_WORLD.Dup()  # collectives
        self._ctl = mpi.COMM_WORLD.Dup()  # notices of failure, never blocking the collectives
        for comm in (self.comm, self._ctl):  # a failed peer: an exception here, not an abort
            comm.Set_errhandler(mpi.ERRORS_RETURN)
        self.rank, self.world_size = self.comm.Get_rank(), self.comm.Get_size()
        local = self.comm.Split_type(mpi.COMM_TYPE_SHARED)
        self.local_rank = local.Get_rank()
        local.Free()
        self._write_pid()
        self.broken = False  # this rank failed: the job is ended at exit
        #: this step's parallel.StepWeight (declared before its backward pass, None otherwise)
        #: and the weights synchronized batch norm's backward used since the last reduction
        self.step_weight: Any = None
        self.batchnorm_weights: list[float] = []
        self._told_by_peer = False
        self._peer_lost = False
        self._nccl: Any = None
        self._stream: Any = None
        self._notice = np.zeros(_NOTICE_BYTES, np.uint8)
        self._notice_req = self._ctl.Irecv(self._notice, source=mpi.ANY_SOURCE, tag=_NOTICE_TAG)
        self._listen_for_lost_peers()
        if backend in ("auto", "nccl"):
            self._pick_gpu(required=backend == "nccl")
        self._previous_hook = sys.excepthook
        sys.excepthook = self._excepthook
        atexit.register(self._at_exit)

    def _write_pid(self) -> None:
        """Under ``diffkit train --workers``: tell the launcher this rank's process id (so that it
        can say which rank died)."""
        folder = os.environ.get("DIFFKIT_LAUNCH_DIR")
        if folder and os.path.isdir(folder):
            with open(os.path.join(folder, f"rank-{self.rank}.pid"), "w") as f:
                f.write(str(os.getpid()))

    @property
    def is_main(self) -> bool:
        """True on rank 0, the rank that prints and writes checkpoints."""
        return self.rank == 0

    def __repr__(self) -> str:
        return (f"Context(rank={self.rank}, world_size={self.world_size}, backend="
                f"{self.backend!r}, timeout={self.timeout:g})")

    # ----- collective operations

    def all_reduce(self, arrays: Sequence[Any], what: str = "all-reduce") -> list[Any]:
        """Sum each array over the ranks, in place; returns them (all started, then waited for)."""
        arrays = list(arrays)
        self.start_all_reduce(arrays, what).wait()
        return arrays

    def start_all_reduce(self, arrays: Sequence[Any], what: str = "all-reduce") -> Pending:
        """Start summing each array over the ranks, in place (NumPy arrays through MPI, CuPy
        arrays through NCCL); ``.wait()`` on the result finishes it, with the deadline."""
        if self.world_size == 1:
            return Pending(self, [], what)
        host = [a for a in arrays if array_namespace(a) is np]
        device = [a for a in arrays if array_namespace(a) is not np]
        reqs = [self._start(what, self.comm.Iallreduce, self.MPI.IN_PLACE, a, op=self.MPI.SUM)
                for a in host]
        return Pending(self, reqs, what, self._nccl_all_reduce(device) if device else None)

    def all_reduce_numbers(self, values: Sequence[float], what: str = "sum") -> list[float]:
        """Sums over the ranks of a few numbers (float64, on the host)."""
        buf = np.array([float(v) for v in values], np.float64)
        self.all_reduce([buf], what)
        return [float(v) for v in buf]

    def broadcast(self, arrays: Sequence[Any], root: int = 0, what: str = "broadcast") -> None:
        """Copy each array from rank `root` to every rank, in place."""
        if self.world_size == 1:
            return
        reqs = []
        for a in arrays:
            if array_namespace(a) is np:
                reqs.append(self._start(what, self.comm.Ibcast, a, root=root))
            else:  # a CuPy array: through the host (used once, at the start)
                host = a.get()
                self._wait([self._start(what, self.comm.Ibcast, host, root=root)], what)
                a.set(host)
        self._wait(reqs, what)

    def all_gather_bytes(self, data: bytes, what: str = "all-gather") -> list[bytes]:
        """Every rank's bytes, in rank order (two collectives: the lengths, then the bytes)."""
        if self.world_size == 1:
            return [bytes(data)]
        sizes = np.zeros(self.world_size, np.int64)
        self._wait([self._start(what, self.comm.Iallgather, np.array([len(data)], np.int64),
                                sizes)], what)
        out = np.zeros(int(sizes.sum()), np.uint8)
        offsets = np.concatenate([[0], np.cumsum(sizes)[:-1]])
        mine = np.frombuffer(data, np.uint8) if data else np.zeros(0, np.uint8)
        self._wait([self._start(what, self.comm.Iallgatherv, mine,
                                [out, sizes, offsets, self.MPI.BYTE])], what)
        return [out[o:o + s].tobytes() for o, s in zip(offsets, sizes)]

    def barrier(self, what: str = "barrier") -> None:
        """Wait until every rank got here (with the deadline)."""
        if self.world_size > 1:
            self._wait([self._start(what, self.comm.Ibarrier)], what)

    # ----- waiting with a deadline

    def _wait(self, reqs: list[Any], what: str, device_done: Callable[[], bool] | None = None
              ) -> None:
        """Wait for MPI requests (and the NCCL work `device_done` polls); raise instead of
        hanging. Spins briefly (collectives of small buffers take microseconds), then sleeps
        at most a millisecond between polls."""
        self._check_peers(what)
        deadline = time.monotonic() + self.timeout
        polls = 0
        while True:
            try:
                mpi_done = self.MPI.Request.Testall(reqs) if reqs else True
            except self.MPI.Exception as exc:
                raise self._mpi_error(what, exc) from None
            if mpi_done and (device_done is None or device_done()):
                return
            polls += 1
            if polls % 64 == 0:
                self._check_peers(what)
                if time.monotonic() > deadline:
                    raise self._failed(DistributedTimeoutError(
                        f"rank {self.rank}: the {what} did not complete within {self.timeout:g} s:"
                        " another rank hangs, died, or runs different code (raise the timeout "
                        "with init(timeout=...) or --timeout if a rank is only slow)"))
            if polls > 256:
                time.sleep(min(1e-3, 1e-6 * polls))

    def _start(self, what: str, call: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
        """Start a non-blocking MPI operation; an MPI error is a DistributedError naming it."""
        try:
            return call(*args, **kwargs)
        except self.MPI.Exception as exc:
            raise self._mpi_error(what, exc) from None

    def _mpi_error(self, what: str, exc: Any) -> DistributedError:
        """MPI's own error (buffers of other lengths on another rank, …) as a DistributedError
        naming the operation; the other ranks are told, as for any failure."""
        try:
            text = exc.Get_error_string()
        except Exception:  # noqa: BLE001 (the MPI library may not describe it)
            text = str(exc)
        return self._failed(DistributedError(
            f"rank {self.rank}: the {what} failed in MPI ({text.strip()}): the ranks disagree on "
            "what to send (different models or code?)"))

    def _check_peers(self, what: str) -> None:
        if self._notice_req is not None and self._notice_req.Test(status := self.MPI.Status()):
            self._notice_req = None
            source = status.Get_source()
            text = bytes(self._notice).rstrip(b"\0").decode("utf-8", "replace")
            self._told_by_peer = True
            raise self._failed(DistributedError(f"rank {self.rank} stops: rank {source} failed "
                                                f"during the {what} ({text})"))
        if self._peer_lost:
            self._told_by_peer = True
            raise self._failed(DistributedError(
                f"rank {self.rank} stops: another rank of the job ended unexpectedly (killed, or "
                f"exited without a word) during the {what}; the launcher reported it"))

    # ----- failures

    def fail(self, exc: BaseException) -> None:
        """This rank stops because of `exc`: tell the other ranks (once), and end the job at
        exit, after a moment for them to say why they stop too."""
        if self.broken:
            return
        self.broken = True
        if self._told_by_peer or self.world_size == 1:
            return
        text = f"{type(exc).__name__}: {exc}".encode()[:_NOTICE_BYTES - 1]
        buf = np.zeros(_NOTICE_BYTES, np.uint8)
        buf[:len(text)] = np.frombuffer(text, np.uint8)
        reqs = [self._ctl.Isend(buf, dest=r, tag=_NOTICE_TAG)
                for r in range(self.world_size) if r != self.rank]
        deadline = time.monotonic() + GRACE
        while not self.MPI.Request.Testall(reqs) and time.monotonic() < deadline:
            time.sleep(1e-3)

    def _failed(self, exc: DistributedError) -> DistributedError:
        self.fail(exc)
        return exc

    def _excepthook(self, kind: type[BaseException], exc: BaseException, tb: Any) -> None:
        self.fail(exc)  # a script's uncaught exception: the other ranks hear of it at once
        self._previous_hook(kind, exc, tb)

    def _listen_for_lost_peers(self) -> None:
        """mpiexec -disable-auto-cleanup signals SIGUSR1 when a rank of the job ended without
        MPI_Finalize (killed, crashed): note it, for the next wait to raise."""
        if not hasattr(signal, "SIGUSR1") or signal.getsignal(signal.SIGUSR1) not in (
                signal.SIG_DFL, None):
            return

        def lost(signum: int, frame: Any) -> None:
            self._peer_lost = True

        try:
            signal.signal(signal.SIGUSR1, lost)
        except ValueError:  # not the main thread
            pass

    def _at_exit(self) -> None:
        if self.broken and self.world_size > 1:
            sys.stdout.flush()
            sys.stderr.flush()
            time.sleep(GRACE)  # the other ranks print why they stop
            if self._nccl is not None:
                self._nccl.abort()
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, 2)  # MPI_Abort's own banner: the error was said already
            self.MPI.COMM_WORLD.Abort(1)  # (a duplicate communicator would not end the job)
        if self._notice_req is not None:
            self._notice_req.Cancel()
            self._notice_req.Wait()
        if self._nccl is not None:
            self._nccl.destroy()
        self.MPI.Finalize()

    # ----- NCCL

    def _pick_gpu(self, required: bool) -> None:
        """Each rank of a machine takes its own GPU (local rank modulo the GPUs)."""
        from ..backend import cupy_module, gpu_available
        from ..errors import BackendError

        if not required and not gpu_available():
            return
        try:
            cp = cupy_module()
        except BackendError as exc:
            raise DistributedError(f"backend 'nccl' needs CuPy and a GPU: {exc}") from None
        cp.cuda.Device(self.local_rank % cp.cuda.runtime.getDeviceCount()).use()

    def _nccl_all_reduce(self, arrays: list[Any]) -> Callable[[], bool]:
        """Sum CuPy arrays over the ranks with NCCL on a stream of its own; returns the poll."""
        if self.backend == "mpi":
            raise DistributedError("backend 'mpi' reduces NumPy arrays only: init(backend='auto')"
                                   " or 'nccl' for arrays on GPUs")
        import cupy as cp
        from cupy.cuda import nccl

        if self._nccl is None:
            uid = np.zeros(128, np.int64)  # NCCL_UNIQUE_ID_BYTES
            if self.rank == 0:
                uid[:] = nccl.get_unique_id()
            self.broadcast([uid], what="hand-out of the NCCL id")
            self._nccl = nccl.NcclCommunicator(self.world_size, tuple(int(v) for v in uid),
                                               self.rank)
            self._stream = cp.cuda.Stream(non_blocking=True)
        types = {np.dtype(np.float64): nccl.NCCL_FLOAT64, np.dtype(np.float32): nccl.NCCL_FLOAT32}
        ready = cp.cuda.Event()
        ready.record()  # the arrays' values are computed on the current stream
        self._stream.wait_event(ready)
        for a in arrays:
            if a.dtype not in types:
                raise DistributedError(f"NCCL reduces float32 or float64 arrays, not {a.dtype}")
            self._nccl.allReduce(a.data.ptr, a.data.ptr, a.size, types[a.dtype], nccl.NCCL_SUM,
                                 self._stream.ptr)
        done = cp.cuda.Event()
        done.record(self._stream)
        cp.cuda.get_current_stream().wait_event(done)  # later kernels see the sums
        return lambda: done.done


def data_parallel(setting: Any, trainer: Any, loader: Any) -> DataParallel | None:
    """What ``Trainer(distributed=...)`` means: False: one process; None: the context of
    :func:`init` if one was made; True: init() now; a Context: that one."""
    if setting is False:
        return None
    if setting is None:
        ctx = context()
        if ctx is None:
            return None
    elif setting is True:
        ctx = init()
    elif isinstance(setting, Context):
        ctx = setting
    else:
        raise TypeError(f"Trainer: distributed must be None, True, False or a Context from "
                        f"nn.distributed.init(), got {setting!r}")
    return DataParallel(ctx, trainer, loader)


__all__ = [
    "DEFAULT_TIMEOUT",
    "Context",
    "DistributedError",
    "DistributedSampler",
    "DistributedTimeoutError",
    "LossReductionError",
    "Pending",
    "RankMismatchError",
    "SyncBatchNorm1d",
    "SyncBatchNorm2d",
    "all_reduce_gradients",
    "backward",
    "broadcast_buffers",
    "broadcast_parameters",
    "check_consistent",
    "context",
    "convert_sync_batchnorm",
    "data_parallel",
    "get_rank",
    "get_world_size",
    "init",
    "is_initialized",
    "launched",
    "session",
]
