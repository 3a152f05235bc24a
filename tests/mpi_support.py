"""What the tests that launch MPI ranks share: the launcher (None where mpi4py or mpiexec is
missing), the skip mark, and the ranks' environment (this checkout first on the path, one BLAS
thread per rank, no display)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def find_launcher() -> str | None:
    """mpiexec's path where mpi4py imports and diffkit's launcher finds one, else None."""
    try:
        import mpi4py  # noqa: F401

        from diffkit.cli.common import CLIError
        from diffkit.cli.launch import find_mpiexec
    except ImportError:
        return None
    try:
        return find_mpiexec()
    except CLIError:
        return None


MPIEXEC = find_launcher()
needs_mpi = pytest.mark.skipif(MPIEXEC is None, reason="needs mpi4py and mpiexec (diffkit[mpi])")
ENV = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1",
       "OPENBLAS_NUM_THREADS": "1", "MPLBACKEND": "Agg"}
