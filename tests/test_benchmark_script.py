"""benchmarks/bench_speed.py runs (a smoke run: it times nothing here and asserts no speed).

The script checks every implementation's answer against the hand-written gradient before timing
it; this run makes sure that check, the tables and the JSON keep working as diffkit changes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_speed_benchmark_runs_and_every_answer_is_right(tmp_path: Path) -> None:
    out = tmp_path / "speed.json"
    run = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "bench_speed.py"), "--quick",
                          "--only", "1,4", "--json", str(out)],
                         capture_output=True, text=True, timeout=300, cwd=tmp_path, check=False)
    assert run.returncode == 0, run.stderr[-2000:]
    assert "Summary" in run.stdout
    assert "WRONG ANSWER" not in run.stdout
    data = json.loads(out.read_text())
    assert data, "the JSON holds the rows"
