"""Every benchmark script still runs, at a tiny size (no timings are asserted)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "benchmarks"
pytestmark = pytest.mark.slow


def _run(args: list[str], tmp_path: Path, timeout: int = 600) -> dict:
    out = tmp_path / "out.json"
    env = {**os.environ, "FAIRBRIDGE_CACHE": str(tmp_path / "cache"), "PYTHONUNBUFFERED": "1"}
    proc = subprocess.run([sys.executable, *args, "--json", str(out)], capture_output=True, text=True,
                          timeout=timeout, env=env, cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-4000:]
    assert "| " in proc.stdout  # a table was printed
    return json.loads(out.read_text())


def test_bench_inference_tiny(tmp_path):
    d = _run([str(BENCH / "bench_inference.py"), "--quick", "--n", "24", "--naive-n", "4",
              "--batch-size", "8"], tmp_path)
    methods = {r["method"] for r in d["rows"]}
    assert {"transformers pipeline (batch 8)", "one text at a time"} <= methods
    engine = [r for r in d["rows"] if r["method"] == "fairbridge engine (batch 8)"][0]
    assert engine["texts"] == 24 and engine["padding"] < 0.6


def test_bench_explainers_tiny(tmp_path):
    d = _run([str(BENCH / "bench_explainers.py"), "--n", "1", "--batch1-n", "1",
              "--lime-samples", "40", "--shap-evals", "20"], tmp_path)
    fb_rows = [r for r in d["rows"] if r["path"] == "fairbridge"]
    assert len(fb_rows) == 4
    # fairbridge and the library's own path give the same LIME attributions for the same seed
    lime = [r for r in fb_rows if r["explainer"].startswith("LIME")]
    assert all(r["max diff / max attr"] < 1e-3 for r in lime)


def test_bench_mitigations_tiny(tmp_path):
    d = _run([str(BENCH / "bench_mitigations.py"), "--size", "60", "--max-iter", "3",
              "--methods", "baseline", "fairlearn.threshold_optimizer"], tmp_path)
    assert {r["method"] for r in d["mitigations"]} == {"baseline", "fairlearn.threshold_optimizer"}
    assert len(d["reduction"]) == 4


def test_run_all_runs_the_chosen_scripts(tmp_path):
    proc = subprocess.run([sys.executable, str(BENCH / "run_all.py"), "--quick", "--only", "monitor",
                           "--out", str(tmp_path / "res")], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert (tmp_path / "res" / "monitor.json").is_file() and (tmp_path / "res" / "monitor.log").is_file()
