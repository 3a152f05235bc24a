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
from collections.abc import Sequence
from pathlib import Path

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


def launch(workers: int, argv: Sequence[str], command: str = "train") -> int:
    """Run ``python -m diffkit <argv>`` as `workers` ranks; returns the exit status (0, or 1
    after an error, which the ranks or this launcher printed as one line)."""
    mpiexec = find_mpiexec()
    with tempfile.TemporaryDirectory(prefix="diffkit-ranks-") as folder:
        env = {**os.environ, "DIFFKIT_LAUNCH_DIR": folder, **_threads(workers)}
        cmd = [mpiexec, "-n", str(workers), sys.executable, "-m", "diffkit", *argv]
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env,
                                text=True, errors="replace")
        seen: set[str] = set()
        dead_pid, how = None, None
        try:
            assert proc.stderr is not None
            for line in proc.stderr:
                if m := _PID.search(line):
                    dead_pid = int(m.group(1))
                elif m := _EXIT_STRING.search(line):
                    how = m.group(1)
                elif not _BANNER.match(line.rstrip("\n")) and line not in seen:
                    seen.add(line)  # each rank says the same error: once is enough
                    sys.stderr.write(line)
                    sys.stderr.flush()
            status = proc.wait()
        except KeyboardInterrupt:
            proc.send_signal(signal.SIGINT)  # mpiexec passes it on to every rank
            proc.wait()
            raise
        if status and how is not None:
            rank = _rank_of(folder, dead_pid)
            who = f"rank {rank}" if rank is not None else "a rank"
            raise CLIError(f"{who} of {workers} ended abnormally ({how}); MPI stopped the other "
                           "ranks")
    return 1 if status else 0


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
