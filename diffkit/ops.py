"""The public operations: every primitive and composite of the table (``dk.sin``, ``dk.softmax``).

Every function works on plain NumPy/CuPy arrays (it evaluates), on traced values (it records nodes)
and on Python scalars::

    >>> import diffkit as dk
    >>> float(dk.sin(0.0) + dk.exp(0.0))
    1.0
"""

from __future__ import annotations

from .primitives import *
from .primitives import __all__ as __all__  # noqa: PLC0414 - the table's names are this module's
