"""The monitor's reports: self-contained HTML (inline SVG), JSON and Markdown.

The HTML needs nothing from the network: styles are inline and every chart is an inline SVG.
Every string that comes from the user or the data (group names, window keys, column names,
notes) is escaped with :func:`html.escape`.
"""

from __future__ import annotations

import html
import json
import math
from typing import Any

import numpy as np
import pandas as pd

from fairbridge._json import json_safe

from ._result import MonitorResult
from ._store import SCHEMA_VERSION

__all__ = ["history_html", "history_json", "history_markdown", "result_markdown"]

_DISPARITIES = ("demographic_parity_difference", "demographic_parity_ratio",
                "equalized_odds_difference", "equal_opportunity_difference")

_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2rem;color:#222;max-width:60rem}
table{border-collapse:collapse;margin:.5rem 0 1.5rem}th,td{border:1px solid #ccc;padding:.25rem .5rem;
text-align:left;font-size:.9rem}th{background:#f3f3f3}.alert{color:#b00020;font-weight:600}
.note{color:#555}figure{margin:0 0 1.5rem}figcaption{font-size:.85rem;color:#444}
code{background:#f6f6f6;padding:0 .2rem}
"""


def _e(value: Any) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def _num(x: Any, digits: int = 3) -> str:
    try:
        x = float(x)
    except (TypeError, ValueError):
        return "n/a"
    return "n/a" if not math.isfinite(x) else f"{x:.{digits}f}"


def _who(row: Any) -> str:
    """The group (per-group rows) or the groups compared (disparities, group mix)."""
    if row["kind"] == "group" or not row["groups"]:
        return str(row["group"])
    return " vs ".join(json.loads(row["groups"])) if row["kind"] == "disparity" else \
        ", ".join(json.loads(row["groups"]))


def _svg_chart(title: str, windows: list[str], value: np.ndarray, low: np.ndarray, high: np.ndarray,
               reference: np.ndarray, alert: np.ndarray) -> str:
    """One disparity over the windows: line, interval band, reference (dashed), alerts (red)."""
    width, height, left, right, top, bottom = 660, 230, 56, 40, 24, 56
    finite = [a[np.isfinite(a)] for a in (value, low, high, reference)]
    allv = np.concatenate(finite) if any(f.size for f in finite) else np.array([0.0, 1.0])
    lo, hi = float(allv.min()), float(allv.max())
    pad = max(0.05, 0.1 * (hi - lo))
    lo, hi = lo - pad, hi + pad
    n = len(windows)

    def x(i: int) -> float:
        return left + (width - left - right) * (0.5 if n == 1 else i / (n - 1))

    def y(v: float) -> float:
        return top + (height - top - bottom) * (1 - (v - lo) / (hi - lo))

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
             f'viewBox="0 0 {width} {height}" role="img" aria-label="{_e(title)}">',
             f'<title>{_e(title)}</title>',
             f'<rect x="{left}" y="{top}" width="{width - left - right}" '
             f'height="{height - top - bottom}" fill="#fff" stroke="#ccc"/>']
    for k in range(5):  # y ticks
        v = lo + (hi - lo) * k / 4
        parts.append(f'<line x1="{left - 4}" x2="{width - right}" y1="{y(v):.1f}" y2="{y(v):.1f}" '
                     f'stroke="#eee"/><text x="{left - 6}" y="{y(v) + 4:.1f}" font-size="10" '
                     f'text-anchor="end">{v:.2f}</text>')
    band = [i for i in range(n) if np.isfinite(low[i]) and np.isfinite(high[i])]
    if band:
        pts = [f"{x(i):.1f},{y(high[i]):.1f}" for i in band]
        pts += [f"{x(i):.1f},{y(low[i]):.1f}" for i in reversed(band)]
        parts.append(f'<polygon points="{" ".join(pts)}" fill="#4a7bd0" fill-opacity="0.18" '
                     'stroke="none"><title>interval</title></polygon>')
    ref = [i for i in range(n) if np.isfinite(reference[i])]
    if ref:
        parts.append('<polyline fill="none" stroke="#777" stroke-dasharray="5,4" points="'
                     + " ".join(f"{x(i):.1f},{y(reference[i]):.1f}" for i in ref)
                     + '"><title>reference</title></polyline>')
    line = [i for i in range(n) if np.isfinite(value[i])]
    if line:
        parts.append('<polyline fill="none" stroke="#1f4fa3" stroke-width="2" points="'
                     + " ".join(f"{x(i):.1f},{y(value[i]):.1f}" for i in line) + '"/>')
    for i in line:
        color, r = ("#b00020", 6) if alert[i] else ("#1f4fa3", 3.5)
        tip = f"{windows[i]}: {_num(value[i])} [{_num(low[i])}, {_num(high[i])}]" + (
            " ALERT" if alert[i] else "")
        parts.append(f'<circle cx="{x(i):.1f}" cy="{y(value[i]):.1f}" r="{r}" fill="{color}" '
                     f'class="{"alert-window" if alert[i] else "window"}"><title>{_e(tip)}</title></circle>')
    step = max(1, math.ceil(n / 10))
    for i in range(0, n, step):
        parts.append(f'<text x="{x(i):.1f}" y="{height - bottom + 16}" font-size="10" '
                     f'text-anchor="middle">{_e(windows[i])}</text>')
    parts.append(f'<text x="{left}" y="14" font-size="12" font-weight="600">{_e(title)}</text>')
    parts.append("</svg>")
    return "".join(parts)


def _disparity_series(history: pd.DataFrame, windows: list[str], metric: str) -> dict[str, np.ndarray]:
    sub = history[(history["kind"] == "disparity") & (history["metric"] == metric)]
    sub = sub.set_index("window").reindex(windows)
    return {c: sub[c].to_numpy(dtype=np.float64) for c in ("value", "low", "high", "reference")} | {
        "alert": sub["alert"].fillna(False).to_numpy(dtype=bool),
        "estimated": sub["estimated"].fillna(False).to_numpy(dtype=bool)}


def history_html(history: pd.DataFrame, windows: pd.DataFrame, *, title: str,
                 settings: dict[str, Any]) -> str:
    """A self-contained HTML page of a monitor's history."""
    keys = windows["window"].tolist()
    out = ['<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">',
           f"<title>{_e(title)}</title><style>{_CSS}</style></head><body>",
           f"<h1>{_e(title)}</h1>"]
    shown = {k: settings.get(k) for k in ("sensitive_column", "score_column", "label_column",
                                          "threshold", "min_effect", "min_group_size",
                                          "correction", "alpha", "drift_test", "n_reference")}
    out.append("<p>" + ", ".join(f"<code>{_e(k)}</code>={_e(v)}" for k, v in shown.items()) + "</p>")
    out.append("<h2>Windows</h2><table><tr><th>window</th><th>checked at</th><th>rows</th>"
               "<th>labels</th><th>alerts</th></tr>")
    for _, w in windows.iterrows():
        cls = ' class="alert"' if w["n_alerts"] else ""
        out.append(f"<tr><td>{_e(w['window'])}</td><td>{_e(w['checked_at'])}</td>"
                   f"<td>{int(w['n_rows'])}</td><td>{_e(w['labels'])}</td>"
                   f"<td{cls}>{int(w['n_alerts'])}</td></tr>")
    out.append("</table>")
    if not keys:
        out.append("<p class='note'>No window checked yet.</p></body></html>")
        return "".join(out)
    out.append("<h2>Disparities over the windows</h2>")
    for metric in _DISPARITIES:
        s = _disparity_series(history, keys, metric)
        if not np.isfinite(s["value"]).any():
            continue
        marked = [k for k, a in zip(keys, s["alert"]) if a]
        est = " (estimated without labels in some windows)" if s["estimated"].any() else ""
        out.append("<figure>" + _svg_chart(metric, keys, s["value"], s["low"], s["high"],
                                           s["reference"], s["alert"]))
        out.append(f"<figcaption>{_e(metric)}{_e(est)}: value per window with its interval "
                   f"(band), reference (dashed); alert windows in red: "
                   f"{_e(', '.join(marked) or 'none')}.</figcaption></figure>")
    out.append("<h2>Alerts</h2>")
    any_alert = False
    for _, w in windows.iterrows():
        alerts = w["summary"].get("alerts", [])
        if alerts:
            any_alert = True
            out.append(f"<h3>{_e(w['window'])}</h3><ul>")
            out += [f'<li class="alert">{_e(a.get("message"))}</li>' for a in alerts]
            out.append("</ul>")
    if not any_alert:
        out.append("<p>No alert in any window.</p>")
    last = windows.iloc[-1]
    out.append(f"<h2>Latest window: {_e(last['window'])}</h2>")
    notes = last["summary"].get("notes", [])
    if notes:
        out.append("<ul>" + "".join(f'<li class="note">{_e(n)}</li>' for n in notes) + "</ul>")
    rows = history[history["window"] == last["window"]]
    out.append("<table><tr><th>kind</th><th>metric</th><th>group(s)</th><th>value</th>"
               "<th>interval</th><th>reference</th><th>change</th><th>adj. p</th><th>n</th>"
               "<th>note</th></tr>")
    for _, r in rows.iterrows():
        if r["metric"] in ("count",):
            continue
        cls = ' class="alert"' if r["alert"] else ""
        est = " (estimated)" if r["estimated"] else ""
        out.append(f"<tr{cls}><td>{_e(r['kind'])}</td><td>{_e(r['metric'])}{est}</td>"
                   f"<td>{_e(_who(r))}</td>"
                   f"<td>{_num(r['value'])}</td><td>[{_num(r['low'])}, {_num(r['high'])}]</td>"
                   f"<td>{_num(r['reference'])}</td><td>{_num(r['difference'])}</td>"
                   f"<td>{_num(r['p_adjusted'], 4)}</td><td>{_e(r['n'])}</td>"
                   f"<td>{_e(r['note'])}</td></tr>")
    out.append("</table></body></html>")
    return "".join(out)


def history_json(history: pd.DataFrame, windows: pd.DataFrame, *, monitor: str,
                 settings: dict[str, Any]) -> str:
    """The history as JSON text (NaN written as null)."""
    doc = {
        "monitor": monitor,
        "schema_version": SCHEMA_VERSION,
        "settings": settings,
        "windows": [{"window": w["window"], "checked_at": w["checked_at"], "n_rows": int(w["n_rows"]),
                     "labels": w["labels"], "n_alerts": int(w["n_alerts"]),
                     "alerts": w["summary"].get("alerts", []), "notes": w["summary"].get("notes", [])}
                    for _, w in windows.iterrows()],
        "rows": history.astype(object).to_dict(orient="records"),
    }
    return json.dumps(json_safe(doc), indent=2, allow_nan=False)


def _md(value: Any) -> str:
    return str(value).replace("|", "\\|").replace("\n", " ")


def history_markdown(history: pd.DataFrame, windows: pd.DataFrame, *, title: str) -> str:
    """The history as Markdown: windows, alerts, and every disparity per window."""
    lines = [f"# {_md(title)}", "", "| window | checked at | rows | labels | alerts |",
             "|---|---|---|---|---|"]
    for _, w in windows.iterrows():
        lines.append(f"| {_md(w['window'])} | {_md(w['checked_at'])} | {int(w['n_rows'])} | "
                     f"{_md(w['labels'])} | {int(w['n_alerts'])} |")
    lines += ["", "## Alerts", ""]
    found = False
    for _, w in windows.iterrows():
        for a in w["summary"].get("alerts", []):
            found = True
            lines.append(f"- **{_md(w['window'])}**: {_md(a.get('message'))}")
    if not found:
        lines.append("No alert in any window.")
    lines += ["", "## Disparities", "", "| window | metric | value | interval | reference | alert |",
              "|---|---|---|---|---|---|"]
    sub = history[history["kind"] == "disparity"]
    for _, r in sub.iterrows():
        lines.append(f"| {_md(r['window'])} | {_md(r['metric'])}{' (estimated)' if r['estimated'] else ''} "
                     f"| {_num(r['value'])} | [{_num(r['low'])}, {_num(r['high'])}] | "
                     f"{_num(r['reference'])} | {'**yes**' if r['alert'] else ''} |")
    return "\n".join(lines) + "\n"


def result_markdown(result: MonitorResult) -> str:
    """One window's check as Markdown."""
    t = result.table
    lines = [f"# Fairness check: window {_md(result.window)}", "",
             f"{result.n_rows} rows, labels: {result.labels}, {len(result.alerts)} alert(s).", "",
             "## Alerts", ""]
    lines += [f"- {_md(a.message)}" for a in result.alerts] or ["None."]
    if result.notes:
        lines += ["", "## Notes", ""] + [f"- {_md(n)}" for n in result.notes]
    lines += ["", "## Metrics", "", "| kind | metric | group(s) | value | interval | reference | "
              "change | adjusted p | n | note |", "|---|---|---|---|---|---|---|---|---|---|"]
    for _, r in t.iterrows():
        if r["metric"] == "count":
            continue
        who = _who(r)
        lines.append(f"| {_md(r['kind'])} | {_md(r['metric'])}{' (estimated)' if r['estimated'] else ''} "
                     f"| {_md(who)} | {_num(r['value'])} | [{_num(r['low'])}, {_num(r['high'])}] | "
                     f"{_num(r['reference'])} | {_num(r['difference'])} | {_num(r['p_adjusted'], 4)} "
                     f"| {_md(r['n'])} | {_md(r['note'] or '')}{' **ALERT**' if r['alert'] else ''} |")
    return "\n".join(lines) + "\n"
