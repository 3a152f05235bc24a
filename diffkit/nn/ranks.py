"""Which rank this process is: the context :func:`diffkit.nn.distributed.init` made, or what an
MPI launcher put in the environment. Imports nothing of MPI (the state both
:mod:`~diffkit.nn.distributed` and :mod:`~diffkit.nn.parallel` read).
"""

from __future__ import annotations

import os
from typing import Any

#: environment variables by which MPI launchers tell a process its rank and the number of ranks
LAUNCHER_ENV = (("PMI_RANK", "PMI_SIZE"), ("OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_SIZE"),
                ("PMIX_RANK", "PMIX_SIZE"))

_CONTEXT: dict[str, Any] = {"ctx": None}


def context() -> Any:
    """The Context of :func:`nn.distributed.init`, or None before it."""
    return _CONTEXT["ctx"]


def set_context(ctx: Any) -> None:
    _CONTEXT["ctx"] = ctx


def launched() -> tuple[int, int] | None:
    """(rank, world size) that an MPI launcher put in the environment, or None without one."""
    for r, s in LAUNCHER_ENV:
        if s in os.environ and r in os.environ:
            try:
                return int(os.environ[r]), int(os.environ[s])
            except ValueError:
                continue
    return None


def get_rank() -> int:
    """This process's rank: the context's after init(), else the launcher's, else 0."""
    ctx = _CONTEXT["ctx"]
    if ctx is not None:
        return ctx.rank
    found = launched()
    return found[0] if found else 0


def get_world_size() -> int:
    """The number of ranks (1 without a launcher)."""
    ctx = _CONTEXT["ctx"]
    if ctx is not None:
        return ctx.world_size
    found = launched()
    return found[1] if found else 1
