"""scipy.special: erf, erfc, erfinv, gammaln, digamma, polygamma, logit, expit, xlogy, …"""

from __future__ import annotations

from .declare import declared_in

__all__ = declared_in(__name__)
