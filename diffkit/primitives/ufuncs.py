"""Element-wise NumPy ufuncs beyond the elementary functions (exp2, hypot, mod, clip, rounding, …)."""

from __future__ import annotations

from .declare import declared_in

__all__ = declared_in(__name__)
