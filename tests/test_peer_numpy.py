"""The peer suite: HIPS autograd's NumPy test cases, re-expressed for diffkit (tests/peer_cases.py),
judged by tests/peer_check.py.

One test per case: it passes when diffkit is correct (values, gradients by reverse and forward
mode, and Hessians where checked) or refuses with a clear diffkit error; it fails on a wrong number
or any other exception. ``test_peer_summary`` holds the yardstick: no wrong answer at all, and at
least 95 % of the cases correct. ``python benchmarks/peer_coverage.py`` prints the table.
"""

from __future__ import annotations

from collections import Counter

import pytest
from peer_cases import CASES, FILES, Case
from peer_check import STATUSES, classify

#: the yardstick: the share of cases that must be correct
CORRECT_SHARE = 0.95
#: np.row_stack is a deprecated alias that the peer still tests: its warning is NumPy's
pytestmark = pytest.mark.filterwarnings("ignore:`row_stack` alias is deprecated:DeprecationWarning")

_RESULTS: dict[str, tuple[str, str]] = {}


def _result(case: Case) -> tuple[str, str]:
    """classify(case), once per session (the summary reuses the per-case runs)."""
    if case.id not in _RESULTS:
        _RESULTS[case.id] = classify(case)
    return _RESULTS[case.id]


def test_cases_are_well_formed() -> None:
    ids = [c.id for c in CASES]
    assert len(ids) == len(set(ids)), "case ids must be unique"
    assert FILES == ["test_numpy", "test_systematic", "test_linalg", "test_scipy",
                     "test_binary_ops", "test_scalar_ops", "test_complex"]
    for c in CASES:
        assert c.id.split("::")[1].startswith("test_"), c.id
        assert c.wrt and all(0 <= i < len(c.args) for i in c.wrt), c.id


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_peer_case(case: Case) -> None:
    status, detail = _result(case)
    assert status in ("correct", "clear error"), f"{case.id}: {status}: {detail}"


def test_peer_summary() -> None:
    results = {c.id: _result(c) for c in CASES}
    counts = Counter(status for status, _ in results.values())
    table = ", ".join(f"{s} {counts[s]}" for s in STATUSES)
    wrong = [f"{cid}: {detail}" for cid, (status, detail) in results.items() if status == "wrong"]
    assert not wrong, f"{len(wrong)} wrong answer(s) ({table}):\n" + "\n".join(wrong)
    assert counts["correct"] >= CORRECT_SHARE * len(CASES), (
        f"{counts['correct']} of {len(CASES)} cases correct "
        f"({100 * counts['correct'] / len(CASES):.1f} %, the yardstick is "
        f"{100 * CORRECT_SHARE:.0f} %): {table}")
