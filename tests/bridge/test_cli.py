"""The ``fairbridge`` command line: help texts, exit codes 0/1/2, config files, a real run."""

from __future__ import annotations

import importlib.util
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from fairbridge._cli import build_parser, main

from ._report_fixtures import comparison_dict

CHEAP = ["baseline", "fairlearn.threshold_optimizer"]
HAS_MONITOR = importlib.util.find_spec("fairbridge.monitor._cli") is not None


@pytest.fixture(scope="module")
def data_csv(tmp_path_factory, text_maker) -> Path:
    texts, y, a = text_maker(90, seed=1)
    path = tmp_path_factory.mktemp("cli-data") / "data.csv"
    pd.DataFrame({"note": texts, "y": y, "sex": a}).to_csv(path, index=False)
    return path


def args_for(model: str, data: Path, out: Path, *extra: str) -> list[str]:
    return ["compare", "--model", model, "--data", str(data), "--text-column", "note",
            "--label-column", "y", "--sensitive-column", "sex", "--methods", *CHEAP,
            "--n-bootstrap", "20", "--no-progress", "--out", str(out), *extra]


# -- help -----------------------------------------------------------------------------------
def test_top_level_help_lists_the_commands(capsys):
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    for command in ("demo", "compare", "report"):
        assert re.search(rf"^\s+{command}\s+\S", out, re.M), command
    assert "exit codes: 0 ok, 1 the run failed, 2 bad arguments" in out
    assert ("monitor" in out) == HAS_MONITOR


@pytest.mark.parametrize("command", ["compare", "demo", "report"])
def test_every_option_is_explained(command, capsys):
    assert main([command, "--help"]) == 0
    out = capsys.readouterr().out
    sub = build_parser([command])._subparsers._group_actions[0].choices[command]
    for action in sub._actions:
        for flag in action.option_strings:
            assert flag in out
        assert action.help and len(action.help) > 10, action.dest  # a sentence, not a stub
    if command == "compare":
        for flag in ("--config", "--model", "--data", "--test-data", "--test-size",
                     "--text-column", "--label-column", "--sensitive-column", "--methods",
                     "--method-options", "--seed", "--out", "--json", "--markdown", "--refit",
                     "--engine", "--ray-address"):
            assert flag in out


def test_no_command_is_a_usage_error(capsys):
    assert main([]) == 2
    assert "usage: fairbridge" in capsys.readouterr().err


def test_unknown_flag_is_a_usage_error(capsys):
    assert main(["compare", "--modle", "x"]) == 2
    assert "unrecognized arguments: --modle" in capsys.readouterr().err


# -- bad arguments: exit 2 with the reason --------------------------------------------------
def test_missing_data_file(tmp_path, tiny_model_dir, capsys):
    code = main(args_for(tiny_model_dir, tmp_path / "nope.csv", tmp_path / "r.html"))
    assert code == 2
    err = capsys.readouterr().err
    assert re.search(re.escape(f"fairbridge compare: error: --data: the file "
                               f"'{tmp_path / 'nope.csv'}' does not exist."), err)


def test_missing_column_is_named(data_csv, tmp_path, tiny_model_dir, capsys):
    args = args_for(tiny_model_dir, data_csv, tmp_path / "r.html")
    args[args.index("--label-column") + 1] = "label"
    assert main(args) == 2
    err = capsys.readouterr().err
    assert ("--data: no column for --label-column 'label' in the file. Its columns are: "
            "'note', 'y', 'sex'. Name an existing column.") in err
    assert not (tmp_path / "r.html").exists()


def test_missing_values_are_named(tmp_path, tiny_model_dir, capsys):
    path = tmp_path / "d.jsonl"
    pd.DataFrame({"note": ["a b", "c d", "e f"], "y": [0, 1, 0],
                  "sex": ["f", None, "m"]}).to_json(path, orient="records", lines=True)
    assert main(args_for(tiny_model_dir, path, tmp_path / "r.html")) == 2
    assert ("column 'sex' (--sensitive-column) has 1 missing value(s) (first rows: [1])"
            in capsys.readouterr().err)


def test_unknown_method_lists_the_choices(data_csv, tmp_path, tiny_model_dir, capsys):
    from fairbridge.mitigations import available_mitigations

    args = args_for(tiny_model_dir, data_csv, tmp_path / "r.html")
    args[args.index("fairlearn.threshold_optimizer")] = "fairlearn.magic"
    assert main(args) == 2
    assert (f"--methods: unknown method(s) 'fairlearn.magic'. Choose from: "
            f"{', '.join(available_mitigations())}.") in capsys.readouterr().err


def test_bad_method_option(data_csv, tmp_path, tiny_model_dir, capsys):
    opts = json.dumps({"fairlearn.threshold_optimizer": {"colour": "red"}})
    assert main(args_for(tiny_model_dir, data_csv, tmp_path / "r.html",
                         "--method-options", opts)) == 2
    err = capsys.readouterr().err
    assert "--method-options: " in err and "['colour']" in err
    opts = json.dumps({"aif360.reweighing": {}})
    assert main(args_for(tiny_model_dir, data_csv, tmp_path / "r.html",
                         "--method-options", opts)) == 2
    assert "options for 'aif360.reweighing', which is not among the methods run" in (
        capsys.readouterr().err)


def test_missing_model_folder(data_csv, tmp_path, capsys):
    assert main(args_for(str(tmp_path / "no-model"), data_csv, tmp_path / "r.html")) == 2
    assert f"--model: the folder '{tmp_path / 'no-model'}' does not exist." in capsys.readouterr().err


def test_engine_ray_without_ray_installed(data_csv, tmp_path, tiny_model_dir, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "ray", None)
    monkeypatch.setitem(sys.modules, "ray.data", None)
    assert main(args_for(tiny_model_dir, data_csv, tmp_path / "r.html", "--engine", "ray")) == 2
    err = capsys.readouterr().err
    assert ("--engine ray needs Ray Data, which is not installed. Install it with: "
            "pip install 'fairbridge[ray]', or use --engine local.") in err


def test_ray_address_needs_engine_ray(data_csv, tmp_path, tiny_model_dir, capsys):
    assert main(args_for(tiny_model_dir, data_csv, tmp_path / "r.html",
                         "--ray-address", "auto")) == 2
    assert "--ray-address is only used with --engine ray" in capsys.readouterr().err


def test_config_unknown_key(tmp_path, capsys):
    cfg = tmp_path / "run.yaml"
    cfg.write_text("model: m\ndata: d.csv\nsensitive_columns: [sex]\ncolour: red\n")
    assert main(["compare", "--config", str(cfg)]) == 2
    err = capsys.readouterr().err
    assert "unknown key(s) 'colour'. Valid keys: batch_size, data, device" in err


def test_missing_required_options(capsys):
    assert main(["compare", "--model", "m"]) == 2
    assert "'data', 'sensitive_columns' are required" in capsys.readouterr().err


def test_usage_error_through_a_real_process(tmp_path):
    """The console entry point's behaviour, end to end: exit status 2 and the reason."""
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    proc = subprocess.run([sys.executable, "-m", "fairbridge", "compare", "--model", "m",
                           "--data", str(tmp_path / "missing.parquet"), "--sensitive-column",
                           "sex"], capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 2, proc.stderr
    assert "--data: the file" in proc.stderr and "missing.parquet' does not exist" in proc.stderr
    assert proc.stdout == ""


# -- a real run: exit 0, then a failure: exit 1 ---------------------------------------------
@pytest.fixture(scope="module")
def compared(tmp_path_factory, data_csv, tiny_model_dir):
    """One real comparison through a YAML config with command-line overrides."""
    folder = tmp_path_factory.mktemp("cli-run")
    cfg = folder / "run.yaml"
    cfg.write_text(
        f"model: {tiny_model_dir}\ndata: {data_csv}\ntext_column: note\nlabel_column: y\n"
        "sensitive_columns: [sex]\nmethods: [baseline]\nseed: 5\nn_bootstrap: 20\n"
        "progress: false\nout: from-config.html\n")
    overrides = ["--methods", *CHEAP, "--json", str(folder / "r.json"), "--markdown",
                 str(folder / "r.md"), "--out", str(folder / "r.html"), "--method-options",
                 json.dumps({"fairlearn.threshold_optimizer": {"constraint": "equalized_odds"}})]
    code = main(["compare", "--config", str(cfg), *overrides])
    return code, folder


def test_compare_end_to_end(compared, capsys):
    jsonschema = pytest.importorskip("jsonschema")
    from fairbridge.reports import validate

    code, folder = compared
    assert code == 0
    assert not (folder / "from-config.html").exists()  # --out overrode the file's out
    d = json.loads((folder / "r.json").read_text())
    validate(d)
    assert [m["name"] for m in d["methods"]] == CHEAP  # --methods overrode the file's list
    assert all(m["status"] == "ok" for m in d["methods"]), [m["reason"] for m in d["methods"]]
    assert d["methods"][1]["options"]["constraint"] == "equalized_odds"
    assert d["config"]["text_column"] == "note" and d["config"]["random_state"] == 5
    assert d["config"]["n_train"] + d["config"]["n_test"] == 90
    assert d["config"]["n_test"] == 27  # the default test_size of 0.3
    html = (folder / "r.html").read_text()
    assert "fairlearn.<wbr>threshold_optimizer" in html
    md = (folder / "r.md").read_text()
    assert "| Method |" in md and "fairlearn.threshold_optimizer" in md


def test_report_command_rerenders_the_json(compared, tmp_path, capsys):
    code, folder = compared
    assert code == 0
    out, md = tmp_path / "again.html", tmp_path / "again.md"
    assert main(["report", str(folder / "r.json"), "--out", str(out), "--markdown", str(md)]) == 0
    assert out.read_text() == (folder / "r.html").read_text()
    assert md.read_text() == (folder / "r.md").read_text()
    assert f"html: {out}" in capsys.readouterr().out


def test_unwritable_output_is_refused_before_the_run(data_csv, tmp_path, tiny_model_dir, capsys):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    assert main(args_for(tiny_model_dir, data_csv, blocker / "r.html")) == 2
    assert (f"--out: cannot write '{blocker / 'r.html'}', because '{blocker}' is a file, not a "
            "folder.") in capsys.readouterr().err


def test_separate_test_file_and_failure_exit_code(data_csv, tmp_path, tiny_model_dir, capsys):
    """A run that breaks after the arguments were accepted exits 1 with the reason: here the
    test file's labels are not the model's classes, which fb.compare finds."""
    test = pd.read_csv(data_csv)
    test["y"] = test["y"].map({0: "bad", 1: "good"})
    test_csv = tmp_path / "test.csv"
    test.to_csv(test_csv, index=False)
    args = args_for(tiny_model_dir, data_csv, tmp_path / "r.html", "--test-data", str(test_csv))
    args[args.index("--methods") + 1: args.index("--methods") + 3] = ["baseline"]
    assert main(args) == 1
    err = capsys.readouterr().err
    assert re.search(r"fairbridge compare: failed: ValueError: .*argument 'y_test' must only hold "
                     r"the model's classes", err), err
    assert "(run with --traceback for the full Python traceback)" in err
    assert not (tmp_path / "r.html").exists()


def test_report_command_bad_input(tmp_path, capsys):
    bad = tmp_path / "x.json"
    bad.write_text("{not json")
    assert main(["report", str(bad)]) == 2
    assert "is not JSON" in capsys.readouterr().err
    other = tmp_path / "y.json"
    other.write_text(json.dumps({"kind": "comparison", **{k: v for k, v in comparison_dict().items()
                                                         if k != "kind"}, "schema_version": "7.0"}))
    assert main(["report", str(other)]) == 2
    assert "schema version '7.0' is not readable" in capsys.readouterr().err
    assert main(["report", str(tmp_path / "missing.json")]) == 2


def test_demo_bad_size(capsys):
    assert main(["demo", "--size", "0", "--no-progress"]) == 2
    assert "--size must be a number of rows from 20 to 1000, but got 0." in capsys.readouterr().err


@pytest.mark.skipif(not HAS_MONITOR, reason="fairbridge.monitor is not part of this checkout")
def test_monitor_is_registered(capsys):
    assert main(["monitor", "--help"]) == 0
    assert "--reference" in capsys.readouterr().out
