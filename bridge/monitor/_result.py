"""What one monitoring check returns: alerts, notes and the full table."""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from fairbridge._json import json_safe

__all__ = ["Alert", "MonitorResult"]


def _fmt(x: float | None, digits: int = 3) -> str:
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "n/a"
    return f"{x:.{digits}f}"


@dataclass(frozen=True)
class Alert:
    """One fairness regression of a window against the reference.

    Attributes
    ----------
    window : str
        The window key.
    kind : {"group", "disparity", "drift"}
        A per-group metric, a disparity between groups, or a distribution drift.
    metric : str
        E.g. ``"mean_score"``, ``"demographic_parity_difference"``, ``"score_drift_ks"``.
    groups : tuple of str
        The group (per-group metric, score drift), the lowest and highest groups (disparity),
        or every tested group (group-mix drift).
    reference, current, difference : float
        Reference value, window value and their difference (for drift: the statistic).
    interval : tuple of float
        Interval of the window value (level ``1 - alpha``).
    difference_interval : tuple of float
        Interval of the difference.
    p_value, p_adjusted : float
        Raw and multiplicity-adjusted p-values.
    n, n_reference : dict of str to int
        Rows per group in the window and in the reference.
    estimated : bool
        Whether the window value is a CBPE estimate (no labels in the window).
    """

    window: str
    kind: str
    metric: str
    groups: tuple[str, ...]
    reference: float
    current: float
    difference: float
    interval: tuple[float, float]
    difference_interval: tuple[float, float]
    p_value: float
    p_adjusted: float
    n: dict[str, int] = field(default_factory=dict)
    n_reference: dict[str, int] = field(default_factory=dict)
    estimated: bool = False

    @property
    def message(self) -> str:
        """One sentence that names the metric, the groups, the values, the interval and counts."""
        counts = ", ".join(f"{g!r} n={self.n.get(g, 0)} (reference {self.n_reference.get(g, 0)})"
                           for g in self.groups)
        est = " [estimated without labels]" if self.estimated else ""
        if self.kind == "drift":
            return (f"{self.metric}{est}: statistic {_fmt(self.current)} for "
                    f"{', '.join(repr(g) for g in self.groups)} (adjusted p={self.p_adjusted:.2g}); "
                    f"{counts}")
        who = (f"group {self.groups[0]!r}" if self.kind == "group"
               else f"between {self.groups[0]!r} and {self.groups[-1]!r}" if self.groups else "")
        return (f"{self.metric}{est} {who}: {_fmt(self.current)} vs reference "
                f"{_fmt(self.reference)} (change {self.difference:+.3f}, interval "
                f"[{_fmt(self.interval[0])}, {_fmt(self.interval[1])}], difference interval "
                f"[{self.difference_interval[0]:+.3f}, {self.difference_interval[1]:+.3f}], "
                f"adjusted p={self.p_adjusted:.2g}); {counts}")

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe dict, with ``message``."""
        return json_safe({
            "window": self.window, "kind": self.kind, "metric": self.metric,
            "groups": list(self.groups), "reference": self.reference, "current": self.current,
            "difference": self.difference, "interval": list(self.interval),
            "difference_interval": list(self.difference_interval), "p_value": self.p_value,
            "p_adjusted": self.p_adjusted, "n": self.n, "n_reference": self.n_reference,
            "estimated": self.estimated, "message": self.message,
        })


@dataclass
class MonitorResult:
    """The outcome of :meth:`FairnessMonitor.check` for one window.

    Attributes
    ----------
    window : str
        The window key.
    monitor : str
        The monitor's name in the store.
    checked_at : str
        ISO timestamp (UTC).
    n_rows : int
        Rows in the window.
    labels : {"labeled", "estimated", "none"}
        Whether TPR/FPR/accuracy were measured, estimated with CBPE, or not available.
    alerts : list of Alert
        The regressions (empty when the window looks like the reference).
    notes : list of str
        "Not enough data", new groups, absent groups, estimation notes.
    table : DataFrame
        Every metric row (the columns of ``FairnessMonitor.history()``).
    settings : dict
        The monitor's settings used for this check.
    """

    window: str
    monitor: str
    checked_at: str
    n_rows: int
    labels: str
    alerts: list[Alert]
    notes: list[str]
    table: pd.DataFrame
    settings: dict[str, Any] = field(default_factory=dict)

    @property
    def has_alerts(self) -> bool:
        """Whether any alert was raised."""
        return bool(self.alerts)

    def summary(self) -> dict[str, Any]:
        """The JSON-safe summary stored with the window (everything but the table)."""
        return json_safe({"window": self.window, "monitor": self.monitor,
                           "checked_at": self.checked_at, "n_rows": self.n_rows,
                           "labels": self.labels, "alerts": [a.to_dict() for a in self.alerts],
                           "notes": list(self.notes), "settings": self.settings})

    def to_dict(self) -> dict[str, Any]:
        """Summary plus ``table`` as a list of records (JSON-safe)."""
        out = self.summary()
        out["table"] = json_safe(self.table.drop(columns=["checked_at"], errors="ignore")
                                  .astype(object).to_dict(orient="records"))
        return out

    def to_json(self, path: str | os.PathLike | None = None) -> str:
        """The :meth:`to_dict` as JSON text; also written to ``path`` if given."""
        text = json.dumps(self.to_dict(), indent=2, allow_nan=False)
        if path is not None:
            with open(path, "w", encoding="utf-8") as fh:
                fh.write(text)
        return text

    def to_markdown(self, path: str | os.PathLike | None = None) -> str:
        """A Markdown report of the window; also written to ``path`` if given."""
        from ._report import result_markdown

        text = result_markdown(self)
        if path is not None:
            with open(path, "w", encoding="utf-8") as fh:
                fh.write(text)
        return text

    def __repr__(self) -> str:
        return (f"MonitorResult(window={self.window!r}, n_rows={self.n_rows}, labels={self.labels!r}, "
                f"alerts={len(self.alerts)}, notes={len(self.notes)})")
