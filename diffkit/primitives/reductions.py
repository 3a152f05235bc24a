"""Reductions with axis and keepdims (prod, var, std, cumsum, …), sorting and selection."""

from __future__ import annotations

from .declare import declared_in

__all__ = declared_in(__name__)
