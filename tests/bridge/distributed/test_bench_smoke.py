"""Smoke run of benchmarks/bench_distributed.py at a tiny size (it starts its own Ray).

Slow on a loaded 2-core machine (Ray start-up and actor pools dominate), so marked ``slow``;
it still runs by default.  It checks that the script finishes, that every Ray run scored every
row as the local engine did, and that the table carries the ratio column.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]


@pytest.mark.slow
def test_bench_distributed_quick_runs_on_two_cores(tmp_path):
    out_json = tmp_path / "bench.json"
    env = dict(os.environ, HF_HUB_OFFLINE="1", RAY_DEDUP_LOGS="0")
    proc = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "bench_distributed.py"), "--quick",
         "--rows", "64", "--actors", "1", "--num-cpus", "2", "--json", str(out_json)],
        capture_output=True, text=True, timeout=540, env=env, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "| engine | actors | rows | wall s | rows/s | compute rows/s | vs local | note |" in proc.stdout
    result = json.loads(out_json.read_text())
    engines = [r["engine"] for r in result["rows"]]
    assert engines == ["local", "ray"]
    assert result["rows"][0]["vs local"] == 1.0
    ray_row = result["rows"][1]
    assert ray_row["rows"] == 64 and ray_row["rows/s"] > 0
    assert "max abs dp" in ray_row["note"]
    assert float(ray_row["note"].split("max abs dp ")[1]) < 1e-5  # same scores as the local engine
    assert result["overheads"][0]["blocks"] >= 4
