"""``diffkit train … --workers N``: start N ranks of the same command with the pip-installed
``mpiexec`` (the MPICH wheel), pass their output through, and say which rank died if one did.

The ranks are ``python -m diffkit train …`` under ``mpiexec -n N``; each finds itself launched
(:func:`diffkit.nn.distributed.launched`) and joins the job. Each rank writes its process id into
a temporary folder (``DIFFKIT_LAUNCH_DIR``), so that when MPICH reports a process that was
killed, the error line names its rank. Nothing here imports mpi4py.
"""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import signal
import subprocess
import sys
import sysconfig
import tempfile
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

from .common import CLIError

INSTALL = 'pip install "diffkit[mpi]"'
#: lines of MPICH's launcher about a process that ended abnormally (the rest of its banner is
#: dropped: the error line says it)
_PID = re.compile(r"PID (\d+) RUNNING AT")
_EXIT_STRING = re.compile(r"EXIT STRING: (.+?)\s*$")
_BANNER = re.compile(r"^(=+|=\s.*|\s*|YOUR APPLICATION TERMINATED.*|This typically refers.*|"
                     r"Please see the FAQ.*)$")


def find_mpiexec() -> str:
    """The mpiexec beside this Python (where pip puts the MPICH wheel's), else on PATH."""
    if importlib.util.find_spec("mpi4py") is None:
        raise CLIError(f"--workers needs mpi4py and MPI: {INSTALL}")
    here = Path(sysconfig.get_path("scripts")) / "mpiexec"
    if here.is_file() and os.access(here, os.X_OK):
        return str(here)
    found = shutil.which("mpiexec")
    if found is None:
        raise CLIError(f"--workers needs an mpiexec (none beside {sys.executable} nor on PATH): "
                       f"{INSTALL}")
    return found


def launch(workers: int, argv: Sequence[str]) -> int:
    """Run ``python -m diffkit <argv>`` as `workers` ranks; returns the exit status (0, or 1
    after an error, which the ranks or this launcher printed as one line)."""
    mpiexec = find_mpiexec()
    with tempfile.TemporaryDirectory(prefix="diffkit-ranks-") as folder:
        env = {**os.environ, "DIFFKIT_LAUNCH_DIR": folder, **_threads(workers)}
        cmd = [mpiexec, "-n", str(workers), sys.executable, "-m", "diffkit", *argv]
        # a session of its own: the job is one process group, which a signal reaches whole
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, env=env, text=True, errors="replace",
                                start_new_session=True)
        report = _Report()
        assert proc.stdout is not None and proc.stderr is not None
        readers = [threading.Thread(target=report.relay, args=(src, dst, dedupe), daemon=True)
                   for src, dst, dedupe in ((proc.stdout, sys.stdout, False),
                                            (proc.stderr, sys.stderr, True))]
        previous = _catch(STOP_SIGNALS)
        try:
            for t in readers:
                t.start()
            status = proc.wait()
            for t in readers:
                t.join()
        except KeyboardInterrupt:
            stop_job(proc, signal.SIGINT)  # mpiexec passes it on to every rank
            raise
        except Stopped as exc:  # SIGTERM or SIGHUP: the job stops too, and so does this
            stop_job(proc, exc.signum)
            raise SystemExit(128 + exc.signum) from None
        finally:
            _restore(previous)
            stop_job(proc, signal.SIGTERM)  # nothing of the job outlives its launcher
        if status and report.how is not None:
            rank = _rank_of(folder, report.pid)
            who = f"rank {rank}" if rank is not None else "a rank"
            raise CLIError(f"{who} of {workers} ended abnormally ({report.how}); MPI stopped "
                           "the other ranks")
    return 1 if status else 0


#: signals that stop the launcher and, passed on to its process group, the whole job
STOP_SIGNALS = (signal.SIGTERM, signal.SIGHUP)
#: seconds the job gets to stop after a signal before it is killed
GRACE = 5.0


class Stopped(Exception):
    """The launcher received a signal that stops it (raised by its handler)."""

    def __init__(self, signum: int) -> None:
        super().__init__(f"stopped by signal {signum}")
        self.signum = signum


def _raise_stopped(signum: int, frame: object) -> None:
    raise Stopped(signum)


def _catch(signums: Sequence[int]) -> dict[int, object]:
    """Handle `signums` by raising :class:`Stopped` (in the main thread only: elsewhere Python
    cannot); returns the handlers they replace."""
    if threading.current_thread() is not threading.main_thread():
        return {}
    return {s: signal.signal(s, _raise_stopped) for s in signums}


def _restore(previous: dict[int, object]) -> None:
    for signum, handler in previous.items():
        signal.signal(signum, handler)  # type: ignore[arg-type]


def stop_job(proc: subprocess.Popen, signum: int, grace: float = GRACE) -> None:
    """Send `signum` to the job's process group (mpiexec and every rank) unless it has ended,
    wait up to `grace` seconds, then kill what is left of the group."""
    if proc.poll() is None:
        _signal_group(proc.pid, signum)
        try:
            proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            pass
    _signal_group(proc.pid, signal.SIGKILL)  # ranks left behind by an mpiexec that ended
    proc.wait()


def _signal_group(pgid: int, signum: int) -> None:
    try:
        os.killpg(pgid, signum)
    except (ProcessLookupError, PermissionError):  # the group has ended
        pass


class _Report:
    """Relays the ranks' output, keeping back MPICH's banner about a process that ended
    abnormally (its process id and exit string are kept for the one error line)."""

    def __init__(self) -> None:
        self.pid: int | None = None
        self.how: str | None = None
        self.seen: set[str] = set()
        self.lock = threading.Lock()

    def relay(self, src: TextIO, dst: TextIO, dedupe: bool) -> None:
        blank = ""  # a blank line is held back: MPICH's banner starts with one
        for line in src:
            with self.lock:
                if not line.strip():
                    blank += line
                    continue
                if _BANNER.match(line.rstrip("\n")) or _PID.search(line) or \
                        _EXIT_STRING.search(line):
                    blank = ""
                dst.write(blank)
                blank = ""
                if m := _PID.search(line):
                    self.pid = int(m.group(1))
                elif m := _EXIT_STRING.search(line):
                    self.how = m.group(1)
                elif _BANNER.match(line.rstrip("\n")) and (self.how or self.pid or
                                                           line.startswith("=")):
                    continue
                elif not (dedupe and line in self.seen):
                    self.seen.add(line)  # the ranks all say the same error: once is enough
                    dst.write(line)
                    dst.flush()


def _threads(workers: int) -> dict[str, str]:
    """BLAS threads per rank so that the ranks share this machine's cores instead of each
    taking them all (unless the environment says otherwise)."""
    per = str(max(1, (os.cpu_count() or 1) // workers))
    names = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
    return {} if any(n in os.environ for n in names) else dict.fromkeys(names, per)


def _rank_of(folder: str, pid: int | None) -> int | None:
    if pid is None:
        return None
    for f in Path(folder).glob("rank-*.pid"):
        try:
            if int(f.read_text()) == pid:
                return int(f.stem.removeprefix("rank-"))
        except ValueError:
            continue
    return None
