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
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, env=env, text=True, errors="replace")
        report = _Report()
        assert proc.stdout is not None and proc.stderr is not None
        readers = [threading.Thread(target=report.relay, args=(src, dst, dedupe), daemon=True)
                   for src, dst, dedupe in ((proc.stdout, sys.stdout, False),
                                            (proc.stderr, sys.stderr, True))]
        try:
            for t in readers:
                t.start()
            status = proc.wait()
            for t in readers:
                t.join()
        except KeyboardInterrupt:
            proc.send_signal(signal.SIGINT)  # mpiexec passes it on to every rank
            proc.wait()
            raise
        if status and report.how is not None:
            rank = _rank_of(folder, report.pid)
            who = f"rank {rank}" if rank is not None else "a rank"
            raise CLIError(f"{who} of {workers} ended abnormally ({report.how}); MPI stopped "
                           "the other ranks")
    return 1 if status else 0


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
