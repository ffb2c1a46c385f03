"""The reports: offline HTML that escapes every user string, JSON that follows its schema,
and a Markdown summary, all rendered from the result dicts of the contract (schema 1.0)."""

from __future__ import annotations

import copy
import json
import math
import re
import sys
from html.parser import HTMLParser

import numpy as np
import pytest

from fairbridge.reports import (
    SCHEMA_VERSION,
    load_schema,
    render_html,
    render_markdown,
    to_jsonable,
    validate,
    write_html,
    write_json,
    write_markdown,
)

from ._report_fixtures import XSS, audit_dict, comparison_dict, hostile_comparison_dict

jsonschema = pytest.importorskip("jsonschema", reason="jsonschema is in the 'test' extra")


class Page(HTMLParser):
    """Collects tags, attributes and text of an HTML document."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[str] = []
        self.attrs: list[tuple[str, str, str | None]] = []
        self.text: list[str] = []
        self.ids: set[str] = set()
        self.classes: list[str] = []
        self._stack: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        for k, v in attrs:
            self.attrs.append((tag, k, v))
            if k == "id":
                self.ids.add(v)
            if k == "class":
                self.classes.extend((v or "").split())

    def handle_data(self, data):
        self.text.append(data)

    @property
    def all_text(self) -> str:
        return "".join(self.text)


def parse(html: str) -> Page:
    page = Page()
    page.feed(html)
    page.close()
    return page


# -- HTML -----------------------------------------------------------------------------------
def test_html_is_one_self_contained_document():
    html = render_html(comparison_dict())
    page = parse(html)
    assert html.startswith("<!DOCTYPE html>")
    assert page.tags.count("html") == 1 and page.tags.count("style") == 1
    # nothing is fetched: no script, no external link, image, font or stylesheet
    assert "script" not in page.tags and "link" not in page.tags and "img" not in page.tags
    for tag, key, value in page.attrs:
        if key in ("src", "href", "xlink:href"):
            assert value.startswith("#"), (tag, key, value)
    assert "@import" not in html and "url(" not in html and "http://" not in html
    assert "https://" not in html
    # a Content-Security-Policy forbids scripts even if something slipped through
    csp = [v for t, k, v in page.attrs if t == "meta" and k == "content" and "default-src" in (v or "")]
    assert csp and "script-src" not in csp[0] and "default-src 'none'" in csp[0]


def test_html_has_every_section_and_chart():
    d = comparison_dict()
    page = parse(render_html(d))
    assert {"summary", "tradeoff", "groups", "disparities", "cost", "explanations",
            "config"} <= page.ids
    assert page.tags.count("svg") >= 3  # trade-off, per-group rates, explanation bars
    text = page.all_text
    for m in d["methods"]:
        assert m["name"] in text
        if m["status"] == "ok":
            assert m["verdict"] in text
        else:
            assert m["reason"] in text  # skipped / failed methods show why
    for name, version in d["library_versions"].items():
        assert name in text and (version or "not installed") in text
    assert d["config"]["data"] in text


def test_pareto_front_marked_as_in_the_result():
    d = comparison_dict()
    n_front = sum(m["pareto"] for m in d["methods"] if m["status"] == "ok")
    n_ok = sum(m["status"] == "ok" for m in d["methods"])
    assert 0 < n_front < n_ok
    page = parse(render_html(d))
    assert page.classes.count("front-dot") == n_front
    assert page.classes.count("dot") == n_ok  # one point per method that ran
    assert page.classes.count("pareto") == n_front  # the badge in the summary table
    # flipping a flag in the result changes the plot: the report draws, it does not recompute
    d["methods"][4]["pareto"] = not d["methods"][4]["pareto"]
    delta = 1 if d["methods"][4]["pareto"] else -1
    assert parse(render_html(d)).classes.count("front-dot") == n_front + delta


def test_per_group_table_lists_every_group_row():
    d = comparison_dict(features=("sex",))
    page = parse(render_html(d))
    cells = [t.strip() for t in page.text if t.strip()]
    for m in d["methods"]:
        for r in m["groups"]:
            assert f"{r['selection_rate']:.3f}" in cells
            assert f"{r['tpr']:.3f}" in cells
    assert len(d["methods"][0]["groups"]) == 2


@pytest.mark.parametrize("where", ["method name", "method option", "group name", "sample text",
                                   "skip reason", "config value", "feature name", "library"])
def test_every_user_string_is_escaped(where):
    d = comparison_dict()
    if where == "method name":
        d["methods"][1]["name"] = XSS
    elif where == "method option":
        d["methods"][2]["options"] = {"note": XSS}
    elif where == "group name":
        for m in d["methods"]:
            for r in m["groups"][:1]:
                r["group"] = XSS
    elif where == "sample text":
        d["explanations"][0]["instances"][0]["text"] = f"{XSS} owns a home"
    elif where == "skip reason":
        d["methods"][5]["reason"] = XSS
    elif where == "config value":
        d["config"]["data"] = XSS
    elif where == "feature name":
        d["explanations"][1]["instances"][0]["attributions"][0]["feature"] = XSS
    else:
        d["library_versions"][XSS] = XSS
    html = render_html(d)
    page = parse(html)
    assert "script" not in page.tags
    assert "<script" not in html.lower()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert XSS in page.all_text  # shown to the reader as text


def test_hostile_everything_and_attribute_context():
    d = hostile_comparison_dict()
    d["methods"][0]["name"] = 'x" onmouseover="alert(1)'
    html = render_html(d)
    page = parse(html)
    assert "script" not in page.tags
    assert not any(k.startswith("on") for _, k, _ in page.attrs)  # no event handler attribute
    assert 'x" onmouseover="alert(1)' in page.all_text


def test_text_highlight_marks_attributed_tokens():
    d = comparison_dict()
    inst = d["explanations"][0]["instances"][0]
    page = parse(render_html(d))
    toks = [v for t, k, v in page.attrs if t == "span" and k == "title"]
    for a in inst["attributions"]:
        assert f"{a['feature']}: {a['value']:+.4g}" in toks
    # red for the class, blue against it
    styles = [v for t, k, v in page.attrs if t == "span" and k == "style"]
    assert any("192,57,43" in s for s in styles) and any("46,134,193" in s for s in styles)


def test_audit_report(tmp_path):
    d = audit_dict()
    path = write_html(d, tmp_path / "sub" / "audit.html")
    assert path.is_file()
    page = parse(path.read_text(encoding="utf-8"))
    assert {"summary", "disparities", "groups"} <= page.ids
    text = page.all_text
    for x in d["disparities"]:
        assert f"{x['value']:.3f}" in text
    assert d["notes"][0] in text


def test_render_accepts_result_objects_and_refuses_others():
    d = comparison_dict()

    class Result:
        def to_dict(self):
            return d

    assert render_html(Result()) == render_html(d)
    with pytest.raises(TypeError, match=re.escape(
            "fairbridge.reports.render_html: argument 'result' must be a result dict or an "
            "AuditResult / ComparisonResult, but got 42 (type int).")):
        render_html(42)
    with pytest.raises(ValueError, match=re.escape("must have 'kind' equal to 'audit' or "
                                                   "'comparison', but got kind='other'")):
        render_html({**d, "kind": "other"})


def test_nothing_ran_still_renders():
    d = comparison_dict(explanations=False)
    for m in d["methods"]:
        m.update(status="failed", reason="boom", metrics={}, intervals={}, groups=[], pareto=False)
    page = parse(render_html(d))
    assert "No method has both an accuracy and a disparity to plot." in page.all_text
    assert "explanations" not in page.ids


def test_ratio_disparity_is_plotted_as_distance_from_one():
    d = comparison_dict(explanations=False)
    d["primary_disparity"] = "disparate_impact"
    html = render_html(d)
    assert "distance from parity |value \u2212 1|" in html


# -- JSON -----------------------------------------------------------------------------------
def test_json_follows_the_schema_and_nan_is_null(tmp_path):
    d = comparison_dict()
    d["methods"][0]["metrics"]["accuracy"] = np.float64(0.75)
    d["methods"][0]["metrics"]["equal_opportunity_difference"] = float("nan")
    d["methods"][0]["groups"][0]["count"] = np.int64(120)
    d["methods"][0]["intervals"]["demographic_parity_difference"] = (np.float32(0.1), math.inf)
    before = copy.deepcopy(d)
    path = write_json(d, tmp_path / "r.json")
    assert d["methods"][0]["metrics"]["accuracy"] == before["methods"][0]["metrics"]["accuracy"]
    text = path.read_text(encoding="utf-8")
    assert "NaN" not in text and "Infinity" not in text
    loaded = json.loads(text)
    m0 = loaded["methods"][0]
    assert m0["metrics"]["equal_opportunity_difference"] is None
    assert m0["metrics"]["accuracy"] == 0.75 and m0["groups"][0]["count"] == 120
    assert m0["intervals"]["demographic_parity_difference"][1] is None
    assert loaded["schema_version"] == SCHEMA_VERSION
    validate(loaded)
    validate(path)  # a path works too
    validate(audit_dict())
    validate(hostile_comparison_dict())


@pytest.mark.parametrize("kind", ["audit", "comparison"])
def test_schemas_are_valid_draft_2020_12(kind):
    schema = load_schema(kind)
    jsonschema.Draft202012Validator.check_schema(schema)
    assert schema["properties"]["kind"] == {"const": kind}


@pytest.mark.parametrize("breakage, where", [
    (lambda d: d.pop("methods"), "<root>"),
    (lambda d: d["methods"][0].update(status="done"), "methods/0/status"),
    (lambda d: d["methods"][5].update(reason=None), "methods/5/reason"),
    (lambda d: d["methods"][0]["groups"][0].update(count=-1), "methods/0/groups/0/count"),
    (lambda d: d["methods"][0]["intervals"].update(x=[0.1]), "methods/0/intervals/x"),
    (lambda d: d.update(schema_version="one"), "schema_version"),
    (lambda d: d["explanations"][0].update(input_type="image"), "explanations/0/input_type"),
])
def test_schema_rejects_broken_results(breakage, where):
    d = comparison_dict()
    breakage(d)
    with pytest.raises(jsonschema.ValidationError,
                       match=re.escape("does not follow schema") + ".*" + re.escape(f"at {where}:")):
        validate(d)


def test_audit_schema_rejects_unknown_source():
    d = audit_dict()
    d["disparities"][0]["source"] = "sklearn"
    with pytest.raises(jsonschema.ValidationError, match=re.escape("at disparities/0/source:")):
        validate(d)


def test_validate_without_jsonschema_names_the_extra(monkeypatch):
    from fairbridge import MissingDependencyError

    monkeypatch.setitem(sys.modules, "jsonschema", None)
    with pytest.raises(MissingDependencyError, match=re.escape("pip install 'fairbridge[test]'")):
        validate(comparison_dict())
    # writing never needs it
    assert json.loads(json.dumps(to_jsonable(comparison_dict())))["kind"] == "comparison"


def test_to_jsonable_plain_types():
    from pathlib import Path

    out = to_jsonable({1: (np.int32(2), {np.bool_(True)}), "p": Path("a/b"), "t": int,
                       "nan": np.nan, "arr": np.array([[1.0, np.nan]])})
    assert out == {"1": [2, [True]], "p": "a/b", "t": "builtins.int", "nan": None,
                   "arr": [[1.0, None]]}


# -- Markdown -------------------------------------------------------------------------------
def test_markdown_has_the_table_and_verdicts(tmp_path):
    d = comparison_dict()
    md = write_markdown(d, tmp_path / "r.md").read_text(encoding="utf-8")
    lines = md.splitlines()
    header = next(i for i, l in enumerate(lines) if l.startswith("| Method |"))
    assert re.fullmatch(r"\|(---:?\|)+", lines[header + 1].replace(":---", "---"))
    rows = lines[header + 2: header + 2 + len(d["methods"])]
    assert all(r.startswith("| ") and r.endswith(" |") for r in rows)
    n_cols = lines[header].count("|")
    for m, row in zip(d["methods"], rows):
        assert row.count("|") - row.count("\\|") == n_cols
        assert m["name"] in row
        assert ("\u2605" in row) == m["pareto"]
        if m["status"] == "ok":
            assert f"{m['metrics']['accuracy']:.3f}" in row
        else:
            assert m["status"] in row


def test_markdown_escapes_pipes_and_html():
    d = hostile_comparison_dict()
    d["methods"][0]["name"] = "a|b"
    md = render_markdown(d)
    assert "<script>" not in md and "<" not in md.replace("<sub>", "").replace("</sub>", "")
    assert "&lt;script>alert(1)&lt;/script>" in md
    row = next(l for l in md.splitlines() if l.startswith("| a\\|b"))
    header = next(l for l in md.splitlines() if l.startswith("| Method |"))
    assert row.count("|") - row.count("\\|") == header.count("|")


def test_markdown_audit():
    d = audit_dict()
    md = render_markdown(d)
    assert "| Metric | Feature | Source | Value (95% CI) | Parity |" in md
    assert md.count("| fairlearn |") == sum(x["source"] == "fairlearn" for x in d["disparities"])
