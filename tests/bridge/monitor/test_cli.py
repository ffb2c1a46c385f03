"""``fairbridge monitor`` (standalone: ``python -m fairbridge.monitor``): exit codes 0, 3, 2, 1."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

import pytest

from fairbridge.monitor._cli import EXIT_ALERT, EXIT_BAD_ARGUMENTS, EXIT_FAILURE, EXIT_OK, add_parser, main

from .conftest import simulate

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture()
def files(tmp_path):
    ref, ok, bad = tmp_path / "ref.csv", tmp_path / "week46.csv", tmp_path / "week47.parquet"
    simulate(2000, 0).to_csv(ref, index=False)
    simulate(800, 1).to_csv(ok, index=False)
    simulate(800, 2, drop=0.25).to_parquet(bad)
    return {"ref": str(ref), "ok": str(ok), "bad": str(bad), "store": str(tmp_path / "m.sqlite"),
            "dir": tmp_path}


def _args(files, data, window, *extra):
    return ["--reference", files["ref"], "--data", data, "--window", window, "--score-column",
            "score", "--sensitive-column", "sex", "--label-column", "y", "--store", files["store"],
            "--n-bootstrap", "80", *extra]


def test_exit_0_without_alert_and_reports_written(files, capsys):
    html, js, md = (str(files["dir"] / f"monitor.{ext}") for ext in ("html", "json", "md"))
    code = main(_args(files, files["ok"], "2026-W46", "--fail-on-alert", "--out", html,
                      "--out", js, "--out", md))
    out = capsys.readouterr().out
    assert code == EXIT_OK == 0
    assert "window 2026-W46: 800 rows, labels labeled, 0 alert(s)" in out
    assert all(Path(p).is_file() for p in (html, js, md))


def test_exit_3_on_alert_only_with_fail_on_alert(files, capsys):
    assert main(_args(files, files["bad"], "2026-W47")) == EXIT_OK
    capsys.readouterr()
    assert main(_args(files, files["bad"], "2026-W47", "--fail-on-alert")) == EXIT_ALERT == 3
    out = capsys.readouterr().out
    assert "ALERT mean_score group 'b'" in out


@pytest.mark.parametrize("change, reason", [
    (["--sensitive-column", "gender"], "must have the column(s) 'gender' (sensitive_column)"),
    (["--correction", "bonferroni"], "invalid choice: 'bonferroni'"),
    (["--min-effect", "-1"], "argument 'min_effect' must be a number >= 0.0"),
    (["--out", "report.pdf"], "--out 'report.pdf' must end in one of .html, .htm, .json, .md"),
    (["--data", "missing.csv"], "--data 'missing.csv' is not an existing file"),
])
def test_exit_2_on_bad_arguments_with_the_reason(files, capsys, change, reason):
    assert main(_args(files, files["ok"], "w") + change) == EXIT_BAD_ARGUMENTS == 2
    assert reason in capsys.readouterr().err


def test_exit_2_when_a_required_argument_is_missing(files, capsys):
    assert main(["--reference", files["ref"], "--data", files["ok"]]) == EXIT_BAD_ARGUMENTS
    assert "the following arguments are required: --window, --sensitive-column" in capsys.readouterr().err


def test_exit_1_on_failure(files, capsys):
    Path(files["store"]).write_text("this is not an SQLite database\n" * 100)
    assert main(_args(files, files["ok"], "w")) == EXIT_FAILURE == 1
    assert "fairbridge monitor: failed: DatabaseError" in capsys.readouterr().err


def test_add_parser_registers_the_subcommand(files):
    parser = argparse.ArgumentParser(prog="fairbridge")
    sub = parser.add_subparsers(dest="command")
    assert add_parser(sub).prog == "fairbridge monitor"
    args = parser.parse_args(["monitor", *_args(files, files["ok"], "w")])
    assert args.command == "monitor" and args.func(args) == EXIT_OK


@pytest.mark.slow
def test_python_dash_m_runs_standalone(files):
    env = {**os.environ, "NML_DISABLE_USAGE_LOGGING": "1"}
    proc = subprocess.run([sys.executable, "-m", "fairbridge.monitor",
                           *_args(files, files["bad"], "2026-W47", "--fail-on-alert", "--quiet")],
                          capture_output=True, text=True, cwd=ROOT, env=env, timeout=300)
    assert proc.returncode == EXIT_ALERT, proc.stderr
    assert proc.stdout.startswith("  ALERT ")
