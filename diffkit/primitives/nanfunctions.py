"""Reductions that ignore NaN, and quantiles, as composites of the table's primitives."""

from __future__ import annotations

from .declare import declared_in

__all__ = declared_in(__name__)
