"""Shapes and assembly: stack, split, pad, flip, repeat, tile, diag, take, …"""

from __future__ import annotations

from .declare import declared_in

__all__ = declared_in(__name__)
