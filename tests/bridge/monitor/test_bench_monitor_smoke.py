"""The monitor benchmark runs end to end at a tiny size (its numbers are not asserted)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[3] / "benchmarks" / "bench_monitor.py"


@pytest.mark.slow
def test_bench_monitor_runs_at_a_tiny_size():
    proc = subprocess.run([sys.executable, str(SCRIPT), "--rows", "1500", "--reference-rows", "1000",
                           "--bootstrap", "50", "--modes", "labeled"],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert "| rows | labels | check s | rows/s | baseline rows | baseline s | baseline rows/s | alerts |" in lines
    row = next(line for line in lines if line.startswith("| 1,500 | labeled |"))
    assert float(row.split("|")[4].replace(",", "")) > 0  # rows/s
