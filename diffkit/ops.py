"""The public operations: every primitive and composite of the table (``dk.sin``, ``dk.softmax``).

Every function works on plain NumPy/CuPy arrays (it evaluates), on traced values (it records nodes)
and on Python scalars::

    >>> import diffkit as dk
    >>> float(dk.sin(0.0) + dk.exp(0.0))
    1.0
"""

from __future__ import annotations

import numpy as _np

from .errors import ShapeError as _ShapeError
from .primitive import PUBLIC as _PUBLIC
from .primitive import dispatch_numpy as _dispatch_numpy
from .primitives import *
from .primitives import __all__ as __all__  # noqa: PLC0414 - the table's names are this module's
from .primitives.declare import as_array as _as_array
from .primitives.declare import shape_of as _shape_of

# ----- NumPy 2's numpy.linalg aliases of array functions ------------------------------------------
# Each is a table function applied as numpy.linalg defines it (the last axes, vectors only), so
# np.linalg.trace(x) on traced values records what NumPy computes. (numpy.linalg's own functions —
# det, inv, solve, … — are declared with their primitives.)


def _linalg_trace(x: object, /, *, offset: int = 0, dtype: object = None) -> object:
    """numpy.linalg.trace: Σᵢ x[..., i, i + offset] over the LAST two axes (np.trace: the first)."""
    return _PUBLIC["trace"](x, offset, -2, -1, dtype)


def _linalg_diagonal(x: object, /, *, offset: int = 0) -> object:
    """numpy.linalg.diagonal: x[..., i, i + offset] of the LAST two axes (np.diagonal: the first)."""
    return _PUBLIC["diagonal"](x, offset, -2, -1)


def _linalg_outer(x1: object, x2: object, /) -> object:
    """numpy.linalg.outer: x1ᵢ·x2ⱼ of two vectors (np.outer flattens; this one refuses)."""
    x1, x2 = _as_array(x1), _as_array(x2)  # a list is read as NumPy reads it
    if len(_shape_of(x1)) != 1 or len(_shape_of(x2)) != 1:
        raise _ShapeError(f"numpy.linalg.outer takes two 1-d arrays, got shapes {_shape_of(x1)} "
                          f"and {_shape_of(x2)}: use np.outer to flatten")
    return _PUBLIC["outer"](x1, x2)


def _linalg_cross(x1: object, x2: object, /, *, axis: int = -1) -> object:
    """numpy.linalg.cross: x1 × x2 of 3-vectors along `axis` (np.cross also takes 2-vectors)."""
    x1, x2 = _as_array(x1), _as_array(x2)  # a list is read as NumPy reads it
    if _shape_of(x1)[axis:][:1] != (3,) or _shape_of(x2)[axis:][:1] != (3,):
        raise _ShapeError("numpy.linalg.cross takes (arrays of) 3-dimensional vectors, got "
                          f"shapes {_shape_of(x1)} and {_shape_of(x2)} along axis {axis}")
    return _PUBLIC["cross"](x1, x2, axis=axis)


def _linalg_vecdot(x1: object, x2: object, /, *, axis: int = -1) -> object:
    """numpy.linalg.vecdot: Σₖ conj(x1ₖ)·x2ₖ along `axis`, the other axes broadcast."""
    return _PUBLIC["sum"](_PUBLIC["conj"](x1) * x2, axis=axis)


def _linalg_matrix_transpose(x: object, /) -> object:
    """numpy.linalg.matrix_transpose: the last two axes swapped (a stack of matrices)."""
    if len(_shape_of(x)) < 2:
        raise _ShapeError(f"matrix_transpose needs at least 2 dimensions, got shape {_shape_of(x)}")
    return _PUBLIC["swapaxes"](x, -1, -2)


for _name, _fn in (("trace", _linalg_trace), ("diagonal", _linalg_diagonal),
                   ("outer", _linalg_outer), ("cross", _linalg_cross),
                   ("vecdot", _linalg_vecdot), ("matrix_transpose", _linalg_matrix_transpose)):
    if hasattr(_np.linalg, _name):  # NumPy 2
        _dispatch_numpy(f"linalg.{_name}", _fn)
