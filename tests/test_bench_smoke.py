"""benchmarks/bench.py still runs: --quick with tiny counts (no timing is checked)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parent.parent / "benchmarks" / "bench.py"


def test_bench_quick_runs_and_reports_every_measurement(tmp_path):
    figures = tmp_path / "figures.json"
    result = subprocess.run(
        [sys.executable, str(BENCH), "--quick", "--n", "30", "--modes", "unpinned", "--no-plot", "--json", str(figures)],
        capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    assert "socket echo (floor)" in result.stdout and "targets" in result.stdout
    rows = {row["name"]: row for row in json.loads(figures.read_text())["unpinned"]}
    for name in ("socket echo (floor)", "minirpc json tcp", "minirpc json unix", "xmlrpc (keep-alive)"):
        assert rows[name]["p50_us"] > 0, name
    assert rows["minirpc json tcp"]["inflight_per_s"] > 0
