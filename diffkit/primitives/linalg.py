"""Linear algebra: inv, solve, det, slogdet, cholesky, eigh, svd, pinv, qr, norm, …"""

from __future__ import annotations

from .declare import declared_in

__all__ = declared_in(__name__)
