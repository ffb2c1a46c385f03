"""The HTML report: one self-contained file a person reads offline.

No script, no external font, stylesheet or image: the CSS is inline, the charts are inline SVG
(:mod:`._plots`), and a Content-Security-Policy forbids scripts outright.  Every string that
comes from the result (method names, options, group names, sample texts, configuration) goes
through :func:`html.escape` before it reaches the page.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping, Sequence
from html import escape
from pathlib import Path
from typing import Any

from ._json import as_result_dict, to_jsonable
from ._plots import Point, attribution_bars_svg, grouped_bars_svg, scatter_svg

__all__ = ["describe_metric", "ideal_value", "render_html", "write_html"]

_MAX_INSTANCES = 12
_DOT = " \u00b7 "
_NAME = "\x00"  # marks a card value that is a method name (smaller type)
_MAX_FEATURES = 15

_METRIC_NAMES = {
    "accuracy": "Accuracy",
    "balanced_accuracy": "Balanced accuracy",
    "demographic_parity_difference": "Demographic parity difference",
    "demographic_parity_ratio": "Demographic parity ratio",
    "equalized_odds_difference": "Equalized odds difference",
    "equalized_odds_ratio": "Equalized odds ratio",
    "equal_opportunity_difference": "Equal opportunity difference",
    "true_positive_rate_difference": "True positive rate difference",
    "statistical_parity_difference": "Statistical parity difference",
    "disparate_impact": "Disparate impact ratio",
    "disparate_impact_ratio": "Disparate impact ratio",
    "average_odds_difference": "Average odds difference",
    "selection_rate": "Selection rate",
    "tpr": "True positive rate",
    "fpr": "False positive rate",
    "precision": "Precision",
}

_CSS = """
:root{--fg:#1d2330;--muted:#5b6475;--line:#e4e7ec;--bg:#f5f6f9;--card:#fff;--accent:#0b5cad;
--ok:#16734a;--skip:#8a5a00;--fail:#b42318;--head:#14233c}
*{box-sizing:border-box}
body{margin:0;background:var(--bg);color:var(--fg);
font:14px/1.55 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif}
.wrap{max-width:1120px;margin:0 auto;padding:0 28px}
header{background:var(--head);color:#fff;padding:26px 0 0}
header .kicker{font-size:12px;letter-spacing:.08em;text-transform:uppercase;color:#9fb3d1}
header h1{margin:2px 0 0;font-size:26px;font-weight:650;letter-spacing:-.01em}
header .meta{color:#c9d3e3;margin-top:6px;font-size:13px}
nav{margin-top:18px;display:flex;flex-wrap:wrap;gap:4px}
nav a{color:#dbe4f3;text-decoration:none;font-size:13px;padding:7px 12px;border-radius:6px 6px 0 0}
nav a:hover{background:#22365a;color:#fff}
main{padding:8px 0 30px}
section{background:var(--card);border:1px solid var(--line);border-radius:10px;
padding:20px 24px;margin:18px 0;box-shadow:0 1px 2px rgba(16,24,40,.04)}
h2{font-size:18px;margin:0 0 4px;font-weight:650}
h3{font-size:15px;margin:22px 0 6px;font-weight:650}
p.lead{font-size:15px;margin:10px 0 14px;max-width:80ch}
.caption,.muted{color:var(--muted)}
.caption{font-size:12.5px;margin:6px 0 12px;max-width:95ch}
.sub{color:var(--muted);font-size:13px;margin:0 0 12px}
table{border-collapse:collapse;width:100%;font-size:13px;margin:6px 0 4px}
th,td{padding:6px 10px;border-bottom:1px solid var(--line);text-align:left;vertical-align:top}
thead th{background:#f2f4f7;font-weight:600;color:#344054;font-size:11.5px;
text-transform:uppercase;letter-spacing:.03em;vertical-align:bottom}
.scroll{overflow-x:auto}
tbody tr:hover td{background:#fafbfd}
td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}
td.num{white-space:nowrap}
td.method{font-weight:600;min-width:110px}
td.nw{white-space:nowrap}
td.verdict{min-width:220px;color:#344054}
tr.sep td{border-top:2px solid #d0d5dd}
.na{color:#98a2b3}
.ci{color:var(--muted);font-size:11.5px;display:block}
code{font:12px/1.4 ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;background:#f2f4f7;
padding:1px 5px;border-radius:4px;word-break:break-word}
.badge{display:inline-block;padding:1px 9px;border-radius:999px;font-size:11.5px;font-weight:600;
white-space:nowrap}
.badge.ok{background:#e3f4ea;color:var(--ok)}
.badge.skipped{background:#fff3d6;color:var(--skip)}
.badge.failed{background:#fde8e6;color:var(--fail)}
.badge.pareto{background:#e6effa;color:var(--accent)}
.cards{display:grid;grid-template-columns:repeat(auto-fit,minmax(190px,1fr));gap:12px;margin:14px 0}
.card{border:1px solid var(--line);border-radius:8px;padding:12px 14px;background:#fcfcfd}
.card .k{font-size:12px;color:var(--muted);text-transform:uppercase;letter-spacing:.04em}
.card .v{font-size:20px;font-weight:650;margin-top:2px;overflow-wrap:anywhere;line-height:1.25}
.card .v.name{font-size:15px}
.card .d{font-size:12.5px;color:var(--muted)}
.callout{border-left:4px solid #f0b429;background:#fffaeb;padding:10px 14px;border-radius:6px;
margin:12px 0;font-size:13px}
.callout.fail{border-color:var(--fail);background:#fef3f2}
.callout.info{border-color:#98a2b3;background:#f8f9fc}
.callout ul{margin:4px 0 0;padding-left:18px}
svg.chart{display:block;width:100%;height:auto;max-width:900px;margin:8px 0}
svg .grid{stroke:#eceff3;stroke-width:1}
svg .axis{stroke:#98a2b3;stroke-width:1}
svg .tick{font-size:11px;fill:#667085}
svg .lbl{font-size:12px;fill:#344054}
svg .lbl.strong{font-weight:650;fill:#0b3d75}
svg .lbl.muted{fill:#667085}
svg .ttl{font-size:13px;font-weight:650;fill:#1d2330}
svg .axlbl{font-size:12.5px;fill:#344054;font-weight:600}
svg .frontline{fill:none;stroke:var(--accent);stroke-width:2;stroke-opacity:.55}
svg .dot{fill:#fff;stroke:#667085;stroke-width:2}
svg .front-dot{fill:var(--accent);stroke:#fff;stroke-width:1.5}
svg .ideal{stroke:var(--ok);stroke-dasharray:5 4;stroke-width:1.5}
.two{display:grid;grid-template-columns:1fr 1fr;gap:18px}
@media (max-width:900px){.two{grid-template-columns:1fr}}
.explain{border:1px solid var(--line);border-radius:8px;padding:10px 14px;margin:10px 0;
background:#fcfcfd}
.explain .hdr{font-size:12.5px;color:var(--muted);margin-bottom:6px}
.tokens{font-size:14.5px;line-height:2.1}
.tok{padding:2px 0;border-radius:2px}
.legend{display:flex;align-items:center;gap:8px;font-size:12px;color:var(--muted);margin:6px 0 10px}
.legend .bar{width:180px;height:10px;border-radius:5px;
background:linear-gradient(90deg,rgba(46,134,193,.85),rgba(46,134,193,.1) 45%,
rgba(192,57,43,.1) 55%,rgba(192,57,43,.85))}
dl.kv{display:grid;grid-template-columns:max-content 1fr;gap:4px 16px;margin:8px 0;font-size:13px}
dl.kv dt{color:var(--muted)}
dl.kv dd{margin:0}
dl.kv.inner{margin:2px 0 4px;font-size:12.5px}
.versions{display:grid;grid-template-columns:repeat(auto-fill,minmax(210px,1fr));gap:4px 18px;
font-size:13px;margin:8px 0}
.versions span{color:var(--muted)}
footer{color:var(--muted);font-size:12px;padding:0 0 30px}
pre{font:11.5px/1.45 ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;background:#f8f9fc;
border:1px solid var(--line);padding:8px 10px;border-radius:6px;overflow:auto;max-height:320px;
white-space:pre-wrap;word-break:break-word;margin:6px 0}
details summary{cursor:pointer;color:var(--accent);font-size:12.5px}
details.fold{margin-top:18px}
details.fold>summary{font-size:15px;font-weight:650;color:var(--fg)}
@media print{header{background:#fff;color:#000}nav{display:none}section{break-inside:avoid}}
"""


# -- small formatting helpers -------------------------------------------------------------
def _e(value: Any) -> str:
    return escape(str(value), quote=True)


def _finite(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _num(v: Any, digits: int = 3) -> str:
    if not _finite(v):
        return '<span class="na">\u2014</span>'
    return f"{v:.{digits}f}"


def _int(v: Any) -> str:
    if not _finite(v):
        return '<span class="na">\u2014</span>'
    return f"{int(v):,}"


def _secs(v: Any) -> str:
    if not _finite(v):
        return '<span class="na">\u2014</span>'
    return f"{v:.2f}" if v < 100 else f"{v:,.0f}"


def _ci(interval: Any, *, inline: bool = False) -> str:
    if (isinstance(interval, Sequence) and not isinstance(interval, str) and len(interval) == 2
            and _finite(interval[0]) and _finite(interval[1])):
        if inline:
            return f" [{interval[0]:.3f}, {interval[1]:.3f}]"
        return f' <span class="ci">[{interval[0]:.3f}, {interval[1]:.3f}]</span>'
    return ""


def _interval(low: Any, high: Any) -> str:
    if _finite(low) and _finite(high):
        return f"{low:.3f} \u2013 {high:.3f}"
    return '<span class="na">\u2014</span>'


def describe_metric(name: str) -> str:
    """A readable name for a metric key (``"demographic_parity_difference"`` -> words)."""
    if name in _METRIC_NAMES:
        return _METRIC_NAMES[name]
    text = str(name).replace("_", " ").strip()
    return text[:1].upper() + text[1:]


def ideal_value(name: str) -> float:
    """The value of a disparity at perfect parity: 1 for ratios, 0 for differences."""
    n = str(name).lower()
    return 1.0 if ("ratio" in n or n.startswith("disparate_impact")) else 0.0


def _distance(name: str, value: Any) -> float:
    return abs(float(value) - ideal_value(name)) if _finite(value) else math.nan


def _json_value(v: Any) -> str:
    if isinstance(v, str):
        return _e(v)
    if isinstance(v, float):
        return f"<code>{v:.4g}</code>"
    return f"<code>{_e(json.dumps(to_jsonable(v), ensure_ascii=False))}</code>"


def _config_value(v: Any, depth: int = 0) -> str:
    """A configuration value: nested mappings as nested lists (long ones folded), else JSON."""
    if isinstance(v, Mapping) and v and depth < 2:
        inner = "".join(f"<dt>{_e(k)}</dt><dd>{_config_value(x, depth + 1)}</dd>"
                        for k, x in v.items())
        dl = f'<dl class="kv inner">{inner}</dl>'
        if len(v) > 6:
            return f"<details><summary>{len(v)} entries</summary>{dl}</details>"
        return dl
    if (isinstance(v, (list, tuple)) and v
            and all(isinstance(x, (str, int, float)) and not isinstance(x, bool) for x in v)):
        return ", ".join(_json_value(x) if not isinstance(x, str) else _e(x) for x in v)
    return _json_value(v)


def _mname(name: Any) -> str:
    """A method name, escaped, that may wrap after each dot."""
    return _e(name).replace(".", ".<wbr>")


def _badge(status: str) -> str:
    cls = status if status in ("ok", "skipped", "failed") else "failed"
    return f'<span class="badge {cls}">{_e(status)}</span>'


def _group_label(row: Mapping[str, Any], n_features: int) -> str:
    group = str(row.get("group", ""))
    return group if n_features <= 1 else f"{row.get('feature', '')}={group}"


def _page(title: str, kicker: str, meta: str, nav: Sequence[tuple[str, str]], body: str,
          footer: str) -> str:
    links = "".join(f'<a href="#{_e(anchor)}">{_e(text)}</a>' for anchor, text in nav)
    # every table scrolls sideways on a narrow screen (user strings are escaped: no "<table>")
    body = body.replace("<table>", '<div class="scroll"><table>').replace("</table>", "</table></div>")
    return (
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
        "style-src 'unsafe-inline'; img-src data:\">\n"
        f"<title>{_e(title)}</title>\n<style>{_CSS}</style>\n</head>\n<body>\n"
        f"<header><div class=\"wrap\"><div class=\"kicker\">{_e(kicker)}</div>"
        f"<h1>{_e(title)}</h1><div class=\"meta\">{meta}</div><nav>{links}</nav></div></header>\n"
        f"<main class=\"wrap\">\n{body}\n</main>\n"
        f"<footer class=\"wrap\">{footer}</footer>\n</body>\n</html>\n"
    )


def _footer(d: Mapping[str, Any]) -> str:
    return (f"Generated by fairbridge {_e(d.get('fairbridge_version', '?'))} on "
            f"{_e(d.get('created', '?'))} \u00b7 result schema {_e(d.get('kind', ''))} "
            f"{_e(d.get('schema_version', '?'))} \u00b7 a self-contained file: it loads nothing "
            "from the network.")


def _versions_section(d: Mapping[str, Any], config: Mapping[str, Any] | None,
                      methods: Sequence[Mapping[str, Any]] = ()) -> str:
    heading = "Run configuration" if config is not None else "Versions"
    parts = [f'<section id="config"><h2>{heading}</h2>']
    if config:
        parts.append('<p class="sub">What was run, as recorded by fairbridge.</p><dl class="kv">')
        for k, v in config.items():
            if k == "methods" and methods:
                continue  # the table below has them
            parts.append(f"<dt>{_e(k)}</dt><dd>{_config_value(v)}</dd>")
        parts.append("</dl>")
    elif config is not None:
        parts.append('<p class="sub">No configuration was recorded.</p>')
    if methods:
        parts.append('<h3>Methods and their options</h3><table><thead><tr><th>Method</th>'
                     '<th>Needs from the model</th><th>Options</th><th>Details</th></tr></thead>'
                     '<tbody>')
        for m in methods:
            opts = m.get("options") or {}
            details = m.get("details") if isinstance(m.get("details"), Mapping) else {}
            details = {k: v for k, v in details.items() if k != "traceback" and v not in (None, [], {})}
            shown = (f"<details><summary>{len(details)} entr{'y' if len(details) == 1 else 'ies'}"
                     f"</summary><pre>{_e(json.dumps(to_jsonable(details), indent=1, ensure_ascii=False))}"
                     "</pre></details>" if details else '<span class="na">\u2014</span>')
            parts.append(f'<tr><td class="method">{_mname(m.get("name", ""))}</td>'
                         f'<td>{_e(m.get("needs", "") or "")}</td>'
                         f'<td>{_json_value(opts) if opts else "<span class=na>defaults</span>"}'
                         f"</td><td>{shown}</td></tr>")
        parts.append("</tbody></table>")
    versions = d.get("library_versions") or {}
    parts.append("<h3>Library versions</h3>")
    if versions:
        parts.append('<div class="versions">')
        for name, ver in sorted(versions.items(), key=lambda kv: str(kv[0]).lower()):
            parts.append(f"<div>{_e(name)} <span>{_e(ver if ver is not None else 'not installed')}"
                         "</span></div>")
        parts.append("</div>")
    else:
        parts.append('<p class="sub">Not recorded.</p>')
    parts.append("</section>")
    return "".join(parts)


def _groups_table(rows_by_method: Sequence[tuple[str | None, Sequence[Mapping[str, Any]]]]) -> str:
    with_method = any(name is not None for name, _ in rows_by_method)
    head = ("<table><thead><tr>" + ("<th>Method</th>" if with_method else "")
            + "<th>Feature</th><th>Group</th><th class=num>Count</th><th class=num>Selection rate</th>"
            "<th class=num>Accuracy</th><th class=num>Balanced acc.</th><th class=num>TPR</th>"
            "<th class=num>FPR</th><th class=num>Precision</th></tr></thead><tbody>")
    out = [head]
    for i, (name, rows) in enumerate(rows_by_method):
        for j, r in enumerate(rows):
            cls = ' class="sep"' if with_method and j == 0 and i > 0 else ""
            cells = []
            if with_method:
                cells.append(f'<td class="method">{_mname(name) if j == 0 else ""}</td>')
            cells.append(f"<td class=nw>{_e(r.get('feature', ''))}</td>"
                         f"<td class=nw>{_e(r.get('group', ''))}</td>"
                         f"<td class=num>{_int(r.get('count'))}</td>"
                         f"<td class=num>{_num(r.get('selection_rate'))}</td>"
                         f"<td class=num>{_num(r.get('accuracy'))}</td>"
                         f"<td class=num>{_num(r.get('balanced_accuracy'))}</td>"
                         f"<td class=num>{_num(r.get('tpr'))}</td>"
                         f"<td class=num>{_num(r.get('fpr'))}</td>"
                         f"<td class=num>{_num(r.get('precision'))}</td>")
            out.append(f"<tr{cls}>{''.join(cells)}</tr>")
    out.append("</tbody></table>")
    return "".join(out)


def _collapsible(title: str, table: str, n_rows: int, *, open_below: int = 25) -> str:
    """A table under an h3 when short; folded into a details element when long."""
    if n_rows < open_below:
        return f"<h3>{_e(title)}</h3>{table}"
    return (f'<details class="fold"><summary>{_e(title)} ({n_rows} rows; click to show)</summary>'
            f"{table}</details>")


def _notes(notes: Sequence[Any], *, kind: str = "warn") -> str:
    if not notes:
        return ""
    items = "".join(f"<li>{_e(n)}</li>" for n in notes)
    cls = "callout info" if kind == "info" else "callout"
    return f'<div class="{cls}"><strong>Notes</strong><ul>{items}</ul></div>'


# -- explanations -------------------------------------------------------------------------
def _token_span(text: str, value: Any, vmax: float, feature: str) -> str:
    if not _finite(value) or vmax <= 0:
        return _e(text)
    share = min(1.0, abs(value) / vmax)
    alpha = 0.0 if share < 0.04 else 0.08 + 0.77 * share
    rgb = "192,57,43" if value >= 0 else "46,134,193"
    ink = ";color:#fff" if alpha > 0.6 else ""
    return (f'<span class="tok" style="background:rgba({rgb},{alpha:.2f}){ink}" '
            f'title="{_e(feature)}: {value:+.4g}">{_e(text)}</span>')


def highlight_text(text: str | None, attributions: Sequence[Mapping[str, Any]]) -> str:
    """The text with each attributed token highlighted (red: for, blue: against the class).

    Tokens are found in the text in the order of their ``position`` (sub-word ``##`` marks
    removed); a token that cannot be found is left out of the highlighting.  Without a text the
    tokens are shown in order.
    """
    atts = [a for a in attributions if isinstance(a, Mapping)]
    vmax = max((abs(a["value"]) for a in atts if _finite(a.get("value"))), default=0.0)
    positioned = all(isinstance(a.get("position"), int) for a in atts) and atts
    ordered = sorted(atts, key=lambda a: a["position"]) if positioned else atts
    if not text:
        return " ".join(_token_span(str(a.get("feature", "")), a.get("value"), vmax,
                                    str(a.get("feature", ""))) for a in ordered)
    lower = text.lower()
    spans: list[tuple[int, int, Any, str]] = []
    cursor = 0
    for a in ordered:
        feature = str(a.get("feature", ""))
        token = feature.replace("##", "").replace("\u0120", "").replace("\u2581", "").strip()
        if not token:
            continue
        start = cursor if positioned else 0
        idx = lower.find(token.lower(), start)
        while idx >= 0 and any(idx < e and idx + len(token) > s for s, e, _, _ in spans):
            idx = lower.find(token.lower(), idx + 1)
        if idx < 0:
            continue
        spans.append((idx, idx + len(token), a.get("value"), feature))
        if positioned:
            cursor = idx + len(token)
    spans.sort()
    out, pos = [], 0
    for s, e, value, feature in spans:
        out.append(_e(text[pos:s]))
        out.append(_token_span(text[s:e], value, vmax, feature))
        pos = e
    out.append(_e(text[pos:]))
    return "".join(out)


def _proba_text(p: Any) -> str:
    if _finite(p):
        return f"{p:.3f}"
    if isinstance(p, Sequence) and not isinstance(p, str) and p and all(_finite(x) for x in p):
        return f"{max(p):.3f}"
    return ""


def _explanations_section(explanations: Sequence[Mapping[str, Any]]) -> str:
    parts = ['<section id="explanations"><h2>Explanations</h2>'
             '<p class="sub">Why the model predicted what it did, for a few test rows, and which '
             'features matter across the rows explained.</p>']
    for ex in explanations:
        method = ex.get("method", "explainer")
        kind = ex.get("input_type", "")
        facts = []
        if _finite(ex.get("n_model_calls")):
            facts.append(f"{int(ex['n_model_calls']):,} model calls")
        if _finite(ex.get("n_rows_scored")):
            facts.append(f"{int(ex['n_rows_scored']):,} rows scored")
        if ex.get("classes"):
            facts.append("classes " + ", ".join(_e(c) for c in ex["classes"]))
        parts.append(f"<h3>{_e(method)} <span class=muted>({_e(kind)} input)</span></h3>")
        if facts:
            parts.append('<p class="sub">' + _DOT.join(facts) + "</p>")
        settings = ex.get("settings") or {}
        if settings:
            parts.append(f'<p class="sub">Settings: {_json_value(settings)}</p>')
        instances = list(ex.get("instances") or [])
        if kind == "text" and instances:
            parts.append('<div class="legend"><span>against the predicted class</span>'
                         '<span class="bar"></span><span>for the predicted class</span></div>')
        for inst in instances[:_MAX_INSTANCES]:
            atts = list(inst.get("attributions") or [])
            hdr = []
            if inst.get("row") is not None:
                hdr.append(f"row {_e(inst['row'])}")
            if inst.get("predicted_class") is not None:
                hdr.append(f"predicted <strong>{_e(inst['predicted_class'])}</strong>")
            proba = _proba_text(inst.get("predicted_proba"))
            if proba:
                hdr.append(f"probability {proba}")
            parts.append('<div class="explain"><div class="hdr">' + _DOT.join(hdr) + "</div>")
            if kind == "text":
                parts.append(f'<div class="tokens">{highlight_text(inst.get("text"), atts)}</div>')
            else:
                top = sorted((a for a in atts if _finite(a.get("value"))),
                             key=lambda a: -abs(a["value"]))[:_MAX_FEATURES]
                items = [(str(a.get("feature")), a["value"]) for a in top]
                parts.append(attribution_bars_svg(items))
            parts.append("</div>")
        if len(instances) > _MAX_INSTANCES:
            parts.append(f'<p class="caption">{len(instances) - _MAX_INSTANCES} more rows are in '
                         "the JSON report.</p>")
        imp = [g for g in ex.get("global_importance") or [] if _finite(g.get("importance"))]
        if imp:
            imp = sorted(imp, key=lambda g: -abs(g["importance"]))[:_MAX_FEATURES]
            signed = any(g["importance"] < 0 for g in imp)
            parts.append(attribution_bars_svg([(str(g.get("feature")), g["importance"]) for g in imp],
                                              title="Global importance (largest first)",
                                              signed=signed))
        parts.append(_notes(ex.get("notes") or [], kind="info"))
    parts.append("</section>")
    return "".join(parts)


# -- comparison ---------------------------------------------------------------------------
def _fallback_verdict(m: Mapping[str, Any], primary: str, base: Mapping[str, Any] | None) -> str:
    status = m.get("status")
    if status != "ok":
        return f"Not run: {m.get('reason') or 'no reason recorded'}."
    metrics = m.get("metrics") or {}
    if base is None or m is base:
        return "The reference point for the other methods." if m is base else ""
    bm = base.get("metrics") or {}
    acc, bacc = metrics.get("accuracy"), bm.get("accuracy")
    dis, bdis = _distance(primary, metrics.get(primary)), _distance(primary, bm.get(primary))
    if not (_finite(acc) and _finite(bacc) and math.isfinite(dis) and math.isfinite(bdis)):
        return ""
    fairer = "closer to parity" if dis < bdis else "further from parity"
    return (f"{fairer.capitalize()} than the baseline ({dis:.3f} vs {bdis:.3f}) at accuracy "
            f"{acc:.3f} ({acc - bacc:+.3f}).")


def _traceback(m: Mapping[str, Any]) -> str:
    tb = (m.get("details") or {}).get("traceback") if isinstance(m.get("details"), Mapping) else None
    if not tb:
        return ""
    return f"<details><summary>traceback</summary><pre>{_e(tb)}</pre></details>"


def _comparison_summary(d: Mapping[str, Any], methods: Sequence[Mapping[str, Any]],
                        primary: str) -> str:
    ok = [m for m in methods if m.get("status") == "ok"]
    not_run = [m for m in methods if m.get("status") != "ok"]
    base = next((m for m in ok if m.get("name") == "baseline"), None)
    pname = describe_metric(primary)
    sentences = [f"{len(methods)} method{'s' if len(methods) != 1 else ''} compared on the same "
                 f"test split: {len(ok)} ran"]
    if not_run:
        n_skip = sum(m.get("status") == "skipped" for m in not_run)
        n_fail = len(not_run) - n_skip
        extra = []
        if n_skip:
            extra.append(f"{n_skip} skipped")
        if n_fail:
            extra.append(f"{n_fail} failed")
        sentences[0] += ", " + " and ".join(extra)
    sentences[0] += "."
    cards = []

    def metric(m: Mapping[str, Any], key: str) -> Any:
        return (m.get("metrics") or {}).get(key)

    if base is not None:
        sentences.append(f"The unmitigated baseline reaches accuracy {_num(metric(base, 'accuracy'))} "
                         f"with a {_e(pname.lower())} of {_num(metric(base, primary))}.")
        cards.append(("Baseline accuracy", _num(metric(base, "accuracy")),
                      f"{_e(pname)} {_num(metric(base, primary))}"))
    scored = [m for m in ok if _finite(metric(m, "accuracy")) and _finite(metric(m, primary))]
    if scored:
        fairest = min(scored, key=lambda m: (_distance(primary, metric(m, primary)),
                                              -metric(m, "accuracy")))
        best = max(scored, key=lambda m: (metric(m, "accuracy"),
                                          -_distance(primary, metric(m, primary))))
        cards.append(("Closest to parity", _mname(fairest.get("name")) + _NAME,
                      f"{_e(pname)} {_num(metric(fairest, primary))}, accuracy "
                      f"{_num(metric(fairest, 'accuracy'))}"))
        cards.append(("Most accurate", _mname(best.get("name")) + _NAME,
                      f"accuracy {_num(metric(best, 'accuracy'))}, {_e(pname.lower())} "
                      f"{_num(metric(best, primary))}"))
    front = [m for m in ok if m.get("pareto")]
    if front:
        names = ", ".join(f"<strong>{_e(m.get('name'))}</strong>" for m in front)
        sentences.append(f"On the Pareto front (no other method is both more accurate and closer "
                         f"to parity): {names}.")
        cards.append(("Pareto front", str(len(front)), "of " + str(len(ok)) + " methods that ran"))
    out = ['<section id="summary"><h2>Summary</h2>',
           f'<p class="lead">{" ".join(sentences)}</p>']
    if cards:
        html_cards = []
        for k, v, desc in cards:
            cls = "v name" if v.endswith(_NAME) else "v"
            html_cards.append(f'<div class="card"><div class="k">{_e(k)}</div>'
                              f'<div class="{cls}">{v.removesuffix(_NAME)}</div>'
                              f'<div class="d">{desc}</div></div>')
        out.append('<div class="cards">' + "".join(html_cards) + "</div>")
    out.append('<table><thead><tr><th>Method</th><th>Status</th><th class=num>Accuracy</th>'
               f'<th class=num>Balanced acc.</th><th class=num>{_e(pname)} (95% CI)</th>'
               '<th>Verdict</th></tr></thead><tbody>')
    for m in methods:
        metrics = m.get("metrics") or {}
        intervals = m.get("intervals") or {}
        badges = _badge(str(m.get("status", "")))
        if m.get("pareto"):
            badges += ' <span class="badge pareto">Pareto</span>'
        verdict = m.get("verdict") or _fallback_verdict(m, primary, base)
        if m.get("status") != "ok" and m.get("reason") and str(m.get("reason")) not in verdict:
            verdict = f"{verdict} {m.get('reason')}".strip()
        out.append(f'<tr><td class="method">{_mname(m.get("name", ""))}</td><td>{badges}</td>'
                   f'<td class=num>{_num(metrics.get("accuracy"))}</td>'
                   f'<td class=num>{_num(metrics.get("balanced_accuracy"))}</td>'
                   f'<td class=num>{_num(metrics.get(primary))}{_ci(intervals.get(primary))}</td>'
                   f'<td class="verdict">{_e(verdict)}</td></tr>')
    out.append("</tbody></table>")
    if not_run:
        failed = any(m.get("status") == "failed" for m in not_run)
        items = "".join(f"<li><strong>{_e(m.get('name'))}</strong> ({_e(m.get('status'))}): "
                        f"{_e(m.get('reason') or 'no reason recorded')}{_traceback(m)}</li>"
                        for m in not_run)
        out.append(f'<div class="callout{" fail" if failed else ""}"><strong>Methods that did not '
                   f"run</strong> \u2014 their rows above are empty; the other methods' results "
                   f"are complete.<ul>{items}</ul></div>")
    out.append(_notes([str(n) for n in d.get("notes") or []], kind="info"))
    out.append("</section>")
    return "".join(out)


def _tradeoff_section(methods: Sequence[Mapping[str, Any]], primary: str) -> str:
    ideal = ideal_value(primary)
    pname = describe_metric(primary)
    pts = []
    for m in methods:
        metrics = m.get("metrics") or {}
        if m.get("status") == "ok" and _finite(metrics.get("accuracy")) and _finite(metrics.get(primary)):
            pts.append(Point(label=str(m.get("name")), x=_distance(primary, metrics[primary]),
                             y=float(metrics["accuracy"]), front=bool(m.get("pareto")),
                             baseline=m.get("name") == "baseline"))
    x_label = (f"{pname}: distance from parity |value \u2212 {ideal:g}| (lower is fairer)"
               if any(_finite((m.get("metrics") or {}).get(primary))
                      and (m["metrics"][primary] - ideal) < 0 for m in methods)
               else f"{pname} (lower is fairer; parity = {ideal:g})")
    if ideal == 1.0:
        x_label = f"{pname}: distance from parity |value \u2212 1| (lower is fairer)"
    svg = scatter_svg(pts, x_label=x_label, y_label="Accuracy", x_ideal=0.0)
    return ('<section id="tradeoff"><h2>Accuracy vs fairness</h2>'
            '<p class="sub">Each method is a point; filled points joined by the line form the '
            'Pareto front \u2014 for each of them, no other method is both more accurate and closer '
            'to parity. The diamond is the baseline; the dashed green line is perfect parity.</p>'
            f"{svg}</section>")


def _features_in_order(methods: Sequence[Mapping[str, Any]]) -> list[str]:
    """Sensitive features in the order the group rows give them (the combined one last)."""
    out: list[str] = []
    for m in methods:
        for r in m.get("groups") or []:
            f = str(r.get("feature"))
            if f not in out:
                out.append(f)
    return out


def _rates_section(methods: Sequence[Mapping[str, Any]]) -> str:
    ok = [m for m in methods if m.get("status") == "ok" and m.get("groups")]
    if not ok:
        return ""
    features = _features_in_order(ok)
    # The chart shows the groups of the last feature: the one feature, or the intersection
    # of several (each feature alone is in the table below).
    shown = features[-1]
    series: list[str] = []
    for m in ok:
        for r in m["groups"]:
            if str(r.get("feature")) == shown and str(r.get("group")) not in series:
                series.append(str(r.get("group")))
    panels = []
    for key, title in (("selection_rate", "Selection rate"), ("tpr", "True positive rate")):
        values = []
        for m in ok:
            by = {str(r.get("group")): r.get(key) for r in m["groups"]
                  if str(r.get("feature")) == shown}
            values.append([by.get(g) if _finite(by.get(g)) else None for g in series])
        if any(v is not None for row in values for v in row):
            panels.append((title, values))
    chart = grouped_bars_svg([str(m.get("name")) for m in ok], series, panels) if panels else ""
    which = (f"Bars: the groups of <strong>{_e(shown)}</strong>"
             + (" (every combination of the sensitive features)." if len(features) > 1 else ".")
             + (" The table lists each feature on its own as well." if len(features) > 1 else ""))
    rows = [(str(m.get("name")), m.get("groups") or []) for m in ok]
    return ('<section id="groups"><h2>Per-group rates</h2>'
            '<p class="sub">How often each group is selected (predicted positive) and, among its '
            'truly positive members, how many are found. Equal bars within a method mean parity. '
            f'{which}</p>{chart}'
            + _collapsible("Per-group table", _groups_table(rows),
                           sum(len(r) for _, r in rows)) + "</section>")


def _split_metric(key: str) -> tuple[str, str]:
    """``"name[feature]"`` -> ``("name", "feature")``; a bare name -> ``("name", "")``."""
    if key.endswith("]") and "[" in key:
        base, _, scope = key[:-1].partition("[")
        return base, scope
    return key, ""


def _disparities_section(methods: Sequence[Mapping[str, Any]], primary: str,
                         features: Sequence[str]) -> str:
    ok = [m for m in methods if m.get("status") == "ok"]
    bases: list[str] = []
    scopes: list[str] = []
    for m in ok:
        for k in (m.get("metrics") or {}):
            if k in ("accuracy", "balanced_accuracy"):
                continue
            base, scope = _split_metric(k)
            if base not in bases:
                bases.append(base)
            if scope not in scopes:
                scopes.append(scope)
    if not bases:
        return ""
    bases.sort(key=lambda k: (k != primary, ""))
    scopes.sort(key=lambda sc: sc != "")  # the bare (combined) metrics first
    several = len(scopes) > 1
    out = ['<section id="disparities"><h2>Disparities</h2><p class="sub">Every disparity measured, '
           'with its bootstrap 95% interval. Differences are 0 at parity, ratios 1.'
           + (" First for the sensitive features together (their intersection), then for each "
              "feature on its own." if several else "") + "</p>"]
    combined = " & ".join(f for f in features if " & " not in f) if several else ""
    for scope in scopes:
        table = ["<table><thead><tr><th>Method</th>"]
        table.extend(f"<th class=num>{_e(describe_metric(k))}</th>" for k in bases)
        table.append("</tr></thead><tbody>")
        for m in ok:
            metrics, intervals = m.get("metrics") or {}, m.get("intervals") or {}
            keys = [k if not scope else f"{k}[{scope}]" for k in bases]
            cells = "".join(f"<td class=num>{_num(metrics.get(k))}{_ci(intervals.get(k))}</td>"
                            for k in keys)
            table.append(f'<tr><td class="method">{_mname(m.get("name"))}</td>{cells}</tr>')
        table.append("</tbody></table>")
        if not several:
            out.extend(table)
        elif scope == "":
            out.append(f"<h3>{_e(combined) or 'All sensitive features'} (together)</h3>")
            out.extend(table)
        else:  # each feature on its own: folded, the combined table says most
            out.append(_collapsible(f"{scope} on its own", "".join(table), len(ok), open_below=0))
    out.append("</section>")
    return "".join(out)


def _cost_section(methods: Sequence[Mapping[str, Any]]) -> str:
    out = ['<section id="cost"><h2>Cost</h2><p class="sub">Time spent fitting and predicting, '
           'refits of the estimator, and rows the network itself had to score. All methods share '
           'one cache of the network\u2019s outputs, so a method that reuses rows scored earlier '
           'shows none.</p><table><thead><tr><th>Method</th><th>Status</th>'
           '<th class=num>Fit (s)</th><th class=num>Predict (s)</th><th class=num>Refits</th>'
           '<th class=num>Forward rows</th><th class=num>Forward batches</th></tr></thead><tbody>']
    for m in methods:
        c = m.get("cost") or {}
        out.append(f'<tr><td class="method">{_mname(m.get("name"))}</td>'
                   f'<td>{_badge(str(m.get("status", "")))}</td>'
                   f'<td class=num>{_secs(c.get("fit_seconds"))}</td>'
                   f'<td class=num>{_secs(c.get("predict_seconds"))}</td>'
                   f'<td class=num>{_int(c.get("n_refits"))}</td>'
                   f'<td class=num>{_int(c.get("n_forward_rows"))}</td>'
                   f'<td class=num>{_int(c.get("n_forward_batches"))}</td></tr>')
    out.append("</tbody></table></section>")
    return "".join(out)


def _render_comparison(d: Mapping[str, Any]) -> str:
    methods = [m for m in d.get("methods") or [] if isinstance(m, Mapping)]
    primary = str(d.get("primary_disparity") or "demographic_parity_difference")
    config = d.get("config") or {}
    meta_bits = [f"{len(methods)} methods", f"primary disparity: {_e(describe_metric(primary))}"]
    for key in ("sensitive_features", "sensitive_columns", "sensitive_column"):
        if config.get(key):
            val = config[key]
            val = ", ".join(map(str, val)) if isinstance(val, (list, tuple)) else str(val)
            meta_bits.append(f"sensitive: {_e(val)}")
            break
    for key in ("n_test", "n_test_samples"):
        if _finite(config.get(key)):
            meta_bits.append(f"{int(config[key]):,} test rows")
            break
    meta_bits.append(f"created {_e(d.get('created', '?'))}")
    body = [_comparison_summary(d, methods, primary), _tradeoff_section(methods, primary),
            _rates_section(methods), _disparities_section(methods, primary, _features_in_order(methods)),
            _cost_section(methods)]
    nav = [("summary", "Summary"), ("tradeoff", "Trade-off"), ("groups", "Groups"),
           ("disparities", "Disparities"), ("cost", "Cost")]
    explanations = [x for x in d.get("explanations") or [] if isinstance(x, Mapping)]
    if explanations:
        body.append(_explanations_section(explanations))
        nav.append(("explanations", "Explanations"))
    body.append(_versions_section(d, config, methods))
    nav.append(("config", "Configuration"))
    return _page("Fairness mitigation comparison", "fairbridge report",
                 " \u00b7 ".join(meta_bits), nav, "\n".join(b for b in body if b), _footer(d))


# -- audit --------------------------------------------------------------------------------
def _render_audit(d: Mapping[str, Any]) -> str:
    groups = [g for g in d.get("groups") or [] if isinstance(g, Mapping)]
    disparities = [x for x in d.get("disparities") or [] if isinstance(x, Mapping)]
    features = [str(f) for f in d.get("sensitive_features") or []]
    conf = d.get("confidence")
    conf_txt = f"{conf * 100:g}%" if _finite(conf) else "95%"
    meta = " \u00b7 ".join([f"{_int(d.get('n_samples'))} samples",
                            f"sensitive: {_e(', '.join(features) or '?')}",
                            f"created {_e(d.get('created', '?'))}"])
    body = []
    lead = []
    worst = None
    for x in disparities:
        dist = _distance(str(x.get("metric")), x.get("value"))
        if math.isfinite(dist) and (worst is None or dist > worst[0]):
            worst = (dist, x)
    if worst is not None:
        x = worst[1]
        lead.append(f"The largest disparity measured is the {_e(describe_metric(x.get('metric', '')).lower())} "
                    f"for {_e(x.get('feature'))}: {_num(x.get('value'))}{_ci([x.get('ci_low'), x.get('ci_high')], inline=True)} "
                    f"(parity is {ideal_value(str(x.get('metric'))):g}).")
    n_groups = len(groups)
    lead.insert(0, f"{n_groups} group{'s' if n_groups != 1 else ''} across "
                   f"{len(features)} sensitive feature{'s' if len(features) != 1 else ''}.")
    cards = []
    overall = d.get("overall") if isinstance(d.get("overall"), Mapping) else {}
    for key, label in (("accuracy", "Accuracy"), ("balanced_accuracy", "Balanced accuracy"),
                       ("selection_rate", "Selection rate")):
        if _finite(overall.get(key)):
            cards.append(f'<div class="card"><div class="k">{label}</div>'
                         f'<div class="v">{_num(overall[key])}</div><div class="d">all '
                         f'{_int(overall.get("count", d.get("n_samples")))} samples</div></div>')
    if worst is not None:
        x = worst[1]
        cards.append(f'<div class="card"><div class="k">Largest disparity</div><div class="v">'
                     f'{_num(x.get("value"))}</div><div class="d">'
                     f'{_e(describe_metric(str(x.get("metric", ""))))}, {_e(x.get("feature"))}'
                     "</div></div>")
    privileged = d.get("privileged_groups")
    if isinstance(privileged, Mapping) and privileged:
        lead.append("Privileged groups for AIF360's metrics: " + ", ".join(
            f"{_e(v)} ({_e(k)})" for k, v in privileged.items()) + ".")
    body.append(f'<section id="summary"><h2>Summary</h2><p class="lead">{" ".join(lead)}</p>'
                + (f'<div class="cards">{"".join(cards)}</div>' if cards else "")
                + _notes(d.get("notes") or [], kind="info") + "</section>")
    if disparities:
        rows = "".join(
            f'<tr><td>{_e(describe_metric(str(x.get("metric", ""))))} <code>{_e(x.get("metric", ""))}</code></td>'
            f'<td>{_e(x.get("feature", ""))}</td><td>{_e(x.get("source", ""))}</td>'
            f'<td class=num>{_num(x.get("value"))}</td>'
            f'<td class=num>{_interval(x.get("ci_low"), x.get("ci_high"))}</td>'
            f'<td class=num>{ideal_value(str(x.get("metric"))):g}</td></tr>' for x in disparities)
        body.append('<section id="disparities"><h2>Disparities</h2><p class="sub">Computed by the '
                    f'toolkit named in the source column, with a bootstrap {conf_txt} interval.</p>'
                    '<table><thead><tr><th>Metric</th><th>Feature</th><th>Source</th>'
                    f'<th class=num>Value</th><th class=num>{conf_txt} interval</th>'
                    f'<th class=num>Parity</th></tr></thead><tbody>{rows}</tbody></table></section>')
    if groups:
        n_features = len({str(g.get("feature")) for g in groups})
        labels = [_group_label(g, max(n_features, 2)).replace("=", " = ") for g in groups]
        panels = [(title, [[g.get(k) if _finite(g.get(k)) else None] for g in groups])
                  for k, title in (("selection_rate", "Selection rate"), ("tpr", "True positive rate"),
                                   ("fpr", "False positive rate"))]
        chart = grouped_bars_svg(labels, [""], panels)
        body.append('<section id="groups"><h2>Per-group rates</h2><p class="sub">Equal bars across '
                    f'groups mean parity on that rate.</p>{chart}<h3>Per-group table</h3>'
                    + _groups_table([(None, groups)]) + "</section>")
    body.append(_versions_section(d, None))
    nav = [("summary", "Summary"), ("disparities", "Disparities"), ("groups", "Groups"),
           ("config", "Versions")]
    return _page("Fairness audit", "fairbridge report", meta, nav, "\n".join(body), _footer(d))


def render_html(result: Any) -> str:
    """The HTML report of an audit or comparison result, as a string.

    Parameters
    ----------
    result : dict or AuditResult or ComparisonResult
        ``to_dict()`` of a result (or the result itself).

    Returns
    -------
    str
        One self-contained HTML document: inline CSS and SVG, no script, nothing fetched.
    """
    d = to_jsonable(as_result_dict(result, who="fairbridge.reports.render_html"))
    return _render_comparison(d) if d["kind"] == "comparison" else _render_audit(d)


def write_html(result: Any, path: str | os.PathLike) -> Path:
    """Write the HTML report of ``result`` to ``path`` (folders created); return the path."""
    text = render_html(result)
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text, encoding="utf-8")
    return out
