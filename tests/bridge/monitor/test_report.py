"""Reports of the monitor: offline HTML with interval bands and alert marks, JSON, Markdown."""

from __future__ import annotations

import html
import json
import re

import pytest

from fairbridge.monitor import FairnessMonitor

from .conftest import simulate

EVIL = '<script>alert("x")</script>|b, c'


@pytest.fixture()
def history(tmp_path):
    rename = {"b": EVIL}
    ref = simulate(2000, 0)
    ref["sex"] = ref["sex"].replace(rename)
    mon = FairnessMonitor(ref, sensitive_column="sex", label_column="y",
                          store=tmp_path / "m.sqlite", n_bootstrap=60)
    results = []
    for k, drop in enumerate([0.0, 0.0, 0.25, 0.0]):
        w = simulate(800, 10 + k, drop=drop)
        w["sex"] = w["sex"].replace(rename)
        results.append(mon.check(w, window=f"2026-W{45 + k}"))
    return mon, results


def test_html_is_offline_escaped_and_marks_alert_windows(history, tmp_path):
    mon, results = history
    path = tmp_path / "monitor.html"
    mon.to_html(path)
    text = path.read_text(encoding="utf-8")
    assert text.startswith("<!DOCTYPE html>")
    assert "<script" not in text and "&lt;script&gt;" in text  # user strings are escaped
    assert not re.search(r"(src|href)=", text)  # nothing to fetch: styles and charts are inline
    assert "http" not in text.replace('xmlns="http://www.w3.org/2000/svg"', "")
    hist = mon.history()
    dp = hist[(hist["kind"] == "disparity") & (hist["metric"] == "demographic_parity_difference")]
    alert_windows = list(dp.loc[dp["alert"], "window"])
    assert alert_windows == ["2026-W47"]  # only the window with the drop
    assert any(a.groups == (EVIL,) for a in results[2].alerts)  # names survive the store
    charts = re.findall(r"<figure><svg.*?</svg>", text, flags=re.S)
    assert len(charts) == 4  # one per disparity
    dp_chart = next(c for c in charts if "<title>demographic_parity_difference</title>" in c)
    assert dp_chart.count("<polygon") == 1  # the interval band
    assert dp_chart.count('class="alert-window"') == len(alert_windows)
    assert dp_chart.count('class="window"') == len(dp) - len(alert_windows)
    assert "alert windows in red: 2026-W47" in text
    for alert in results[2].alerts:
        assert html.escape(alert.message, quote=True) in text


def test_json_report_is_valid_and_complete(history, tmp_path):
    mon, results = history
    doc = json.loads(mon.to_json(tmp_path / "m.json"))
    assert json.loads((tmp_path / "m.json").read_text()) == doc
    assert [w["window"] for w in doc["windows"]] == [r.window for r in results]
    assert [w["n_alerts"] for w in doc["windows"]] == [len(r.alerts) for r in results]
    assert doc["schema_version"] == 1 and len(doc["rows"]) == len(mon.history())
    assert doc["windows"][2]["alerts"][0]["message"] == results[2].alerts[0].message
    one = json.loads(results[2].to_json())
    assert one["alerts"] and one["table"]
    json.dumps(results[2].to_dict(), allow_nan=False)  # NaN written as null


def test_markdown_reports(history, tmp_path):
    mon, results = history
    text = mon.to_markdown(tmp_path / "m.md")
    assert text == (tmp_path / "m.md").read_text()
    assert "| window | checked at | rows | labels | alerts |" in text
    assert "- **2026-W47**:" in text
    assert "\\|b, c" in text and "</script>|b" not in text  # pipes in group names are escaped
    one = results[2].to_markdown()
    assert one.startswith("# Fairness check: window 2026-W47")
    assert "**ALERT**" in one
