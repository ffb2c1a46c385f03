"""The Markdown summary: a compact table and the verdicts, for a pull-request comment.

Cells are escaped for GitHub-flavoured Markdown: ``|`` cannot break the table, line breaks
are folded, and ``<`` becomes ``&lt;`` so that no user string turns into an HTML tag.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from ._html import _distance, describe_metric, ideal_value
from ._json import as_result_dict, to_jsonable

__all__ = ["render_markdown", "write_markdown"]


def _cell(value: Any) -> str:
    # "<" is what could open an HTML tag; ">" and "&" are left readable ("0.1 -> 0.2").
    text = str(value).replace("<", "&lt;")
    text = " ".join(text.split())  # no line breaks inside a table cell
    return text.replace("|", "\\|").replace("`", "'")


def _finite(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _num(v: Any) -> str:
    return f"{v:.3f}" if _finite(v) else "\u2014"


def _ci(interval: Any) -> str:
    if (isinstance(interval, Sequence) and not isinstance(interval, str) and len(interval) == 2
            and all(_finite(x) for x in interval)):
        return f" [{interval[0]:.3f}, {interval[1]:.3f}]"
    return ""


def _comparison(d: Mapping[str, Any]) -> str:
    methods = [m for m in d.get("methods") or [] if isinstance(m, Mapping)]
    primary = str(d.get("primary_disparity") or "demographic_parity_difference")
    pname = describe_metric(primary)
    ok = [m for m in methods if m.get("status") == "ok"]
    lines = ["### fairbridge: fairness mitigation comparison", ""]
    lines.append(f"{len(methods)} methods on the same test split, {len(ok)} ran. Primary "
                 f"disparity: **{_cell(pname)}** (`{_cell(primary)}`, parity = "
                 f"{ideal_value(primary):g}). \u2605 = on the Pareto front of accuracy vs "
                 "distance from parity.")
    lines += ["", f"| Method | Status | Accuracy | Balanced acc. | {_cell(pname)} (95% CI) | Verdict |",
              "|---|---|---:|---:|---:|---|"]
    for m in methods:
        metrics, intervals = m.get("metrics") or {}, m.get("intervals") or {}
        name = _cell(m.get("name", ""))
        if m.get("pareto"):
            name += " \u2605"
        verdict = m.get("verdict") or ""
        if m.get("status") != "ok":
            reason = m.get("reason") or "no reason recorded"
            verdict = verdict if str(reason) in str(verdict) else f"{verdict} {reason}".strip()
        lines.append(f"| {name} | {_cell(m.get('status', ''))} | {_num(metrics.get('accuracy'))} | "
                     f"{_num(metrics.get('balanced_accuracy'))} | {_num(metrics.get(primary))}"
                     f"{_ci(intervals.get(primary))} | {_cell(verdict)} |")
    scored = [m for m in ok if _finite((m.get("metrics") or {}).get("accuracy"))
              and math.isfinite(_distance(primary, (m.get("metrics") or {}).get(primary)))]
    if scored:
        fairest = min(scored, key=lambda m: (_distance(primary, m["metrics"][primary]),
                                              -m["metrics"]["accuracy"]))
        best = max(scored, key=lambda m: (m["metrics"]["accuracy"],
                                          -_distance(primary, m["metrics"][primary])))
        lines += ["", f"- Closest to parity: **{_cell(fairest.get('name'))}** "
                      f"({_num(fairest['metrics'][primary])}, accuracy "
                      f"{_num(fairest['metrics']['accuracy'])})",
                  f"- Most accurate: **{_cell(best.get('name'))}** (accuracy "
                  f"{_num(best['metrics']['accuracy'])}, {_cell(pname.lower())} "
                  f"{_num(best['metrics'][primary])})"]
    lines += ["", f"<sub>fairbridge {_cell(d.get('fairbridge_version', '?'))} \u00b7 "
                  f"{_cell(d.get('created', ''))} \u00b7 the HTML report has the per-group "
                  "rates, cost and configuration.</sub>", ""]
    return "\n".join(lines)


def _audit(d: Mapping[str, Any]) -> str:
    features = ", ".join(str(f) for f in d.get("sensitive_features") or [])
    lines = ["### fairbridge: fairness audit", "",
             f"{d.get('n_samples', '?')} samples; sensitive features: {_cell(features or '?')}.",
             "", "| Metric | Feature | Source | Value (95% CI) | Parity |", "|---|---|---|---:|---:|"]
    for x in d.get("disparities") or []:
        metric = str(x.get("metric", ""))
        lines.append(f"| {_cell(describe_metric(metric))} | {_cell(x.get('feature', ''))} | "
                     f"{_cell(x.get('source', ''))} | {_num(x.get('value'))}"
                     f"{_ci([x.get('ci_low'), x.get('ci_high')])} | {ideal_value(metric):g} |")
    groups = d.get("groups") or []
    if groups:
        lines += ["", "| Feature | Group | Count | Selection rate | Accuracy | TPR | FPR |",
                  "|---|---|---:|---:|---:|---:|---:|"]
        for g in groups:
            lines.append(f"| {_cell(g.get('feature', ''))} | {_cell(g.get('group', ''))} | "
                         f"{g.get('count', '')} | {_num(g.get('selection_rate'))} | "
                         f"{_num(g.get('accuracy'))} | {_num(g.get('tpr'))} | {_num(g.get('fpr'))} |")
    notes = d.get("notes") or []
    if notes:
        lines += [""] + [f"- {_cell(n)}" for n in notes]
    lines += ["", f"<sub>fairbridge {_cell(d.get('fairbridge_version', '?'))} \u00b7 "
                  f"{_cell(d.get('created', ''))}</sub>", ""]
    return "\n".join(lines)


def render_markdown(result: Any) -> str:
    """A Markdown summary of an audit or comparison result (a table and the verdicts).

    Parameters
    ----------
    result : dict or AuditResult or ComparisonResult
        ``to_dict()`` of a result (or the result itself).

    Returns
    -------
    str
        GitHub-flavoured Markdown, short enough for a pull-request comment.
    """
    d = to_jsonable(as_result_dict(result, who="fairbridge.reports.render_markdown"))
    return _comparison(d) if d["kind"] == "comparison" else _audit(d)


def write_markdown(result: Any, path: str | os.PathLike) -> Path:
    """Write the Markdown summary of ``result`` to ``path`` (folders created); return the path."""
    text = render_markdown(result)
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text, encoding="utf-8")
    return out
