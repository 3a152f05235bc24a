"""The diffkit error hierarchy: one base class, concrete classes that are also builtin errors."""

from __future__ import annotations

import os
import sys
import warnings
from typing import Any


class DiffkitError(Exception):
    """Base class of every error diffkit raises on purpose."""


class ParseError(DiffkitError, ValueError):
    """Math text that diffkit will not parse (syntax, forbidden construct, unknown name)."""

    def __init__(self, message: str, *, token: str | None = None, column: int | None = None):
        where = ""
        if token is not None:
            where = f" (at {token!r}" + (f", column {column})" if column is not None else ")")
        super().__init__(message + where)
        self.token = token
        self.column = column


class ShapeError(DiffkitError, ValueError):
    """Arrays whose shapes do not fit the operation."""


class IndexOutOfRangeError(ShapeError, IndexError):
    """An index outside the array (also an IndexError, so iteration and ``for`` loops end there)."""


class ArityError(DiffkitError, TypeError):
    """A function called with the wrong number of arguments."""


class DomainError(DiffkitError, ValueError):
    """A point outside the domain of a primitive (log of a negative number, ...)."""


class NonDifferentiableError(DiffkitError, ValueError):
    """A point where the derivative does not exist or is infinite (sqrt at 0, ...)."""


#: why a derivative taken by a convention at a kink is not differentiated again (the message of
#: the NonDifferentiableError of ``dk.subgradient`` and of the symbolic engine's KinkCheck)
KINK = ("the derivative there is a convention at a kink (tied values sharing it equally, the "
        "subgradient 0 of abs, a norm or hypot at 0, a clip bound), not the derivative of any "
        "nearby piece, so the function has no second derivative at this point")


class MissingRuleError(DiffkitError, NotImplementedError):
    """An engine cannot differentiate through a primitive or a case; the message names the alternative."""


class TracingError(DiffkitError, RuntimeError):
    """A traced Python function did something tracing cannot record (float() of a traced value,
    math.sin on it, ...): the value would silently leave the graph."""


class NotRepeatableError(TracingError):
    """A function gave another value when called again at the same point — x, or a point the
    finite differences use — (it draws random numbers, keeps state between calls, or updates in
    place an array another name holds): finite differences subtract values of several calls,
    which such a function does not make comparable."""


class TracedHashError(TracingError, TypeError):
    """``hash()`` of a traced value (``x in {3.0}``, a dict key): sets and dicts would compare
    identities, not numbers, and silently miss. Also a TypeError, Python's "unhashable"."""


class TracedMutationError(TracingError, TypeError):
    """Item assignment on a Tensor (``x[i] = v``): a value in the graph never changes; the message
    says how to write the new array."""


class TracedAttributeError(TracingError, AttributeError):
    """A NumPy array attribute or method a Tensor does not have (``x.base``, ``x.flat``,
    ``x.view(dtype)``): the message says what to write instead. Also an AttributeError, so
    ``hasattr`` gives False."""


class TracedMutationAttributeError(TracedMutationError, AttributeError):
    """A NumPy in-place method or setter a Tensor does not have (``x.fill(v)``, ``x.resize``,
    ``x.shape = s``): the message says how to write the new array. Also an AttributeError, so
    ``hasattr`` gives False."""


class MemoryOrderError(ShapeError):
    """order='A' or 'K' (the memory order) of a traced value whose C and F orders differ: a
    traced value has no memory layout (its trace serves C- and F-ordered arguments alike)."""


class ObjectArrayError(TracingError, TypeError):
    """A NumPy function got an object array of traced values (``np.array([[x, y], [y, 2.0]])``
    of traced numbers) where it computes on numbers only (``np.linalg.det``, a ``float``
    element's missing ``sin``): the message says how to build one traced array instead."""


class InputTypeError(TracingError, TypeError):
    """An argument of a kind diffkit does not take (a string, an ndarray subclass whose operators
    mean other things: masked arrays, np.matrix)."""


class BackendError(DiffkitError, RuntimeError):
    """An array backend that is missing or mixed (NumPy with CuPy)."""


class NumericOverflowError(DiffkitError, OverflowError):
    """A value or a derivative that overflows its floating-point type (exp(710) in float64, ...)."""


class InvalidNameError(DiffkitError, ValueError):
    """An input or function name diffkit will not use (not an identifier, a keyword, ...)."""


class DistributedError(DiffkitError, RuntimeError):
    """Data-parallel training that cannot go on: MPI missing, a rank that stopped or died."""


class RankMismatchError(DistributedError, ValueError):
    """Ranks that disagree at the start: model, data or loader differ (the message names what)."""


class DistributedTimeoutError(DistributedError, TimeoutError):
    """A collective operation that not every rank reached within the timeout (a rank hangs,
    died without its launcher telling, or runs different code)."""


_PACKAGE = os.path.dirname(os.path.abspath(__file__))


def user_frame(skip: int) -> tuple[Any, int]:
    """The innermost frame outside diffkit (the user's call), searched outwards from the frame
    `skip` levels above this function, and how many frames further out it is (the frame None
    where every one is diffkit's)."""
    frame, further = sys._getframe(skip), 0
    while frame is not None and os.path.abspath(frame.f_code.co_filename).startswith(_PACKAGE):
        frame, further = frame.f_back, further + 1
    return frame, further


def warn_user(message: str, category: type[Warning] = RuntimeWarning) -> None:
    """Warn, pointing at the first frame outside diffkit (the user's call), however deep in
    diffkit the warning is raised."""
    _, further = user_frame(2)  # from this function's caller, which is stacklevel 2
    warnings.warn(message, category, stacklevel=2 + further)
