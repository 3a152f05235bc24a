"""Messages name the function the user called: a SciPy ufunc without a rule is
scipy.special.<name>, not numpy.<name> (which does not exist)."""

from __future__ import annotations

import numpy as np
import pytest

import diffkit as dk

special = pytest.importorskip("scipy.special")


def test_a_scipy_ufunc_without_a_rule_is_named_by_its_module() -> None:
    with pytest.raises(dk.MissingRuleError, match=r"scipy\.special\.entr\b"):
        dk.grad(lambda x: special.entr(x).sum())(np.full(2, 0.5))


def test_a_numpy_ufunc_without_a_rule_stays_numpy() -> None:
    with pytest.raises(dk.MissingRuleError, match=r"numpy\.spacing\b"):
        dk.grad(lambda x: np.spacing(x).sum())(np.full(2, 0.5))
