"""How much of HIPS autograd's NumPy test suite diffkit gets right (the peer suite).

Run: ``python benchmarks/peer_coverage.py [--wrong] [--clear N] [--crashes N]``. It classifies
every case of tests/peer_cases.py with tests/peer_check.py and prints: per peer test file, the
cases that are correct / a clear error / wrong / a crash; the totals with percentages; every wrong
case (the worst outcome: always listed); and the crashes and clear errors grouped by message, the
most common first — what to implement next.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# this checkout's diffkit (not an installed one) and the cases, which live with the tests
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from peer_cases import CASES, FILES, Case
from peer_check import STATUSES, CaseError, classify

import diffkit


def run(cases: list[Case]) -> dict[str, tuple[str, str]]:
    """(status, detail) of every case; a bad case (CaseError) is reported as status "bad case"."""
    results = {}
    for case in cases:
        try:
            results[case.id] = classify(case)
        except CaseError as exc:
            results[case.id] = ("bad case", str(exc))
    return results


def table(cases: list[Case], results: dict[str, tuple[str, str]]) -> None:
    """Cases and statuses per peer file, then the totals."""
    columns = list(STATUSES) + (["bad case"] if any(s == "bad case" for s, _ in results.values())
                                else [])
    head = f"{'peer file':<18}{'cases':>7}" + "".join(f"{c:>13}" for c in columns)
    print(head)
    print("-" * len(head))
    totals: Counter[str] = Counter()
    for name in FILES:
        mine = [c for c in cases if c.file == name]
        counts = Counter(results[c.id][0] for c in mine)
        totals.update(counts)
        print(f"{name:<18}{len(mine):>7}" + "".join(f"{counts[c]:>13}" for c in columns))
    print("-" * len(head))
    n = len(cases)
    print(f"{'total':<18}{n:>7}" + "".join(f"{totals[c]:>13}" for c in columns))
    print(f"{'':<18}{'':>7}" + "".join(f"{100 * totals[c] / n:>12.1f}%" for c in columns))


def groups(results: dict[str, tuple[str, str]], status: str, limit: int) -> None:
    """The cases of one status grouped by their message, the most common first."""
    by_message: dict[str, list[str]] = defaultdict(list)
    for cid, (s, detail) in results.items():
        if s == status:
            by_message[detail].append(cid)
    if not by_message:
        return
    total = sum(len(v) for v in by_message.values())
    print(f"\n{status}: {total} case(s), {len(by_message)} distinct message(s)"
          + (f", the {limit} most common" if len(by_message) > limit else ""))
    ranked = sorted(by_message.items(), key=lambda kv: (-len(kv[1]), kv[0]))
    for message, ids in ranked[:limit]:
        print(f"  {len(ids):4d}  {message[:150]}")
        print(f"        e.g. {ids[0]}" + (f" (+{len(ids) - 1} more)" if len(ids) > 1 else ""))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--crashes", type=int, default=25, help="crash groups to show")
    parser.add_argument("--clear", type=int, default=15, help="clear-error groups to show")
    parser.add_argument("-k", default="", help="only the cases whose id contains this text")
    args = parser.parse_args()
    cases = [c for c in CASES if args.k in c.id]
    start = time.perf_counter()
    results = run(cases)
    print(f"peer suite: {len(cases)} cases from HIPS autograd's tests, diffkit "
          f"{diffkit.__version__} at {Path(diffkit.__file__).parent} "
          f"({time.perf_counter() - start:.1f} s)\n")
    table(cases, results)
    wrong = [(cid, detail) for cid, (s, detail) in results.items() if s == "wrong"]
    print(f"\nwrong: {len(wrong)} case(s)")
    for cid, detail in wrong:
        print(f"  {cid}\n      {detail}")
    groups(results, "bad case", 1000)
    groups(results, "crash", args.crashes)
    groups(results, "clear error", args.clear)


if __name__ == "__main__":
    main()
