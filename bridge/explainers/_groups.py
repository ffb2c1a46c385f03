"""Explanations broken down by sensitive group: which tokens or features the model leans on
more for one group than another."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from fairbridge._validation import check_int, check_sensitive_features, problem

from ._explain import DEFAULT_MAX_BACKGROUND, MethodName, run_explain
from ._model import n_rows_of
from ._result import Explanation, json_safe, label_safe

__all__ = ["GroupExplanation", "explain_by_group", "group_labels"]


def group_labels(frame: pd.DataFrame) -> pd.Series:
    """One label per row: the value of a single sensitive feature, or ``"a|b"`` for several."""
    if frame.shape[1] == 1:
        return frame.iloc[:, 0].astype(str).rename("group")
    return frame.astype(str).agg("|".join, axis=1).rename("group")


class GroupExplanation:
    """Attributions aggregated per sensitive group.

    Built by :func:`explain_by_group`.

    Attributes
    ----------
    explanation : Explanation
        The per-row explanation of every row.
    groups : Series
        The group of each row (``"a|b"`` for several sensitive features).
    sensitive_features : list of str
        The names of the sensitive features.
    table : DataFrame
        One row per group and token or feature: ``group``, ``feature``, ``importance`` (mean
        absolute attribution), ``mean_value`` (signed mean), ``count`` (attributions),
        ``n_rows`` (rows of the group where it had an attribution), ``group_size`` (rows in
        the group); by group, then most important first.
    differences : DataFrame
        One row per token or feature present in at least two groups (at least ``min_count``
        attributions in each): ``feature``, ``group_max``, ``importance_max``,
        ``group_min``, ``importance_min``, ``difference`` (max minus min), ``ratio``
        (max over min; NaN when min is 0), ``n_groups``; largest difference first.
    min_count : int
        The minimum number of attributions per group for a feature to be compared.
    """

    def __init__(self, *, explanation: Explanation, groups: pd.Series, sensitive_features: list[str],
                 table: pd.DataFrame, differences: pd.DataFrame, min_count: int) -> None:
        self.explanation = explanation
        self.groups = groups
        self.sensitive_features = sensitive_features
        self.table = table
        self.differences = differences
        self.min_count = min_count

    def top_differences(self, k: int = 10) -> pd.DataFrame:
        """The ``k`` features whose importance differs most between groups."""
        return self.differences.head(int(k)).reset_index(drop=True)

    def wide(self) -> pd.DataFrame:
        """Importance as a features-by-groups table (NaN where a group has no attribution)."""
        return self.table.pivot(index="feature", columns="group", values="importance")

    def to_dict(self, *, max_instances: int | None = 0, max_features: int | None = None) -> dict[str, Any]:
        """JSON-safe data.

        Parameters
        ----------
        max_instances : int or None, default=0
            Per-row attributions of the embedded explanation to keep (``None``: all).
        max_features : int, optional
            Rows of ``table`` kept per group and of ``differences`` (``None``: all).

        Returns
        -------
        dict
            ``{"method", "sensitive_features", "min_count", "groups": [{"group",
            "n_rows"}], "table": [{"group", "feature", "importance", "mean_value", "count",
            "n_rows", "group_size"}], "differences": [{"feature", "group_max",
            "importance_max", "group_min", "importance_min", "difference", "ratio",
            "n_groups"}], "explanation": Explanation.to_dict()}``.
        """
        table = self.table
        diffs = self.differences
        if max_features is not None:
            table = table.groupby("group", sort=False).head(int(max_features))
            diffs = diffs.head(int(max_features))
        sizes = self.groups.value_counts(sort=False)
        return {
            "method": self.explanation.method,
            "sensitive_features": list(self.sensitive_features),
            "min_count": int(self.min_count),
            "groups": [{"group": label_safe(g), "n_rows": int(n)} for g, n in sizes.items()],
            "table": [{k: (label_safe(v) if k in ("group", "feature") else json_safe(v))
                       for k, v in r.items()} for r in table.to_dict("records")],
            "differences": [{k: (label_safe(v) if k in ("feature", "group_max", "group_min")
                                 else json_safe(v)) for k, v in r.items()}
                            for r in diffs.to_dict("records")],
            "explanation": self.explanation.to_dict(max_instances=max_instances),
        }

    def __repr__(self) -> str:
        top = ", ".join(f"{f} ({d:.3g})" for f, d in
                        zip(self.differences["feature"].head(5), self.differences["difference"].head(5)))
        return (f"GroupExplanation(method={self.explanation.method!r}, "
                f"groups={sorted(self.groups.unique().tolist())}, top_differences=[{top}])")


def group_table(attributions: pd.DataFrame, groups: pd.Series) -> pd.DataFrame:
    """Mean |value|, mean value and counts per (group, feature)."""
    att = attributions.assign(group=groups.to_numpy()[attributions["row"].to_numpy()],
                              abs_value=attributions["value"].abs())
    g = att.groupby(["group", "feature"], sort=False)
    table = pd.DataFrame({"importance": g["abs_value"].mean(), "mean_value": g["value"].mean(),
                          "count": g["value"].size(), "n_rows": g["row"].nunique()}).reset_index()
    sizes = groups.value_counts()
    table["group_size"] = table["group"].map(sizes).astype(np.int64)
    table = table.sort_values(["group", "importance", "feature"], ascending=[True, False, True],
                              kind="mergesort")
    return table.reset_index(drop=True)


def group_differences(table: pd.DataFrame, min_count: int) -> pd.DataFrame:
    """For each feature seen in two or more groups: the largest gap in importance."""
    cols = ["feature", "group_max", "importance_max", "group_min", "importance_min",
            "difference", "ratio", "n_groups"]
    kept = table[table["count"] >= min_count]
    rows = []
    for feature, sub in kept.groupby("feature", sort=False):
        if len(sub) < 2:
            continue
        hi = sub.loc[sub["importance"].idxmax()]
        lo = sub.loc[sub["importance"].idxmin()]
        diff = float(hi["importance"] - lo["importance"])
        ratio = float(hi["importance"] / lo["importance"]) if lo["importance"] > 0 else np.nan
        rows.append((feature, hi["group"], float(hi["importance"]), lo["group"],
                     float(lo["importance"]), diff, ratio, int(len(sub))))
    out = pd.DataFrame(rows, columns=cols)
    out = out.sort_values(["difference", "feature"], ascending=[False, True], kind="mergesort")
    return out.reset_index(drop=True)


def explain_by_group(
    estimator: Any,
    X: Any,
    *,
    sensitive_features: Any,
    method: MethodName | str | Any = "lime",
    min_count: int = 1,
    num_samples: int | None = None,
    random_state: int | None = 0,
    target: Any = "predicted",
    background: Any = None,
    tokenizer: Any = None,
    feature_names: Any = None,
    max_background: int = DEFAULT_MAX_BACKGROUND,
    progress: bool = True,
    **options: Any,
) -> GroupExplanation:
    """Explain every row of ``X`` and aggregate the attributions per sensitive group.

    None of the toolkits does this; it shows an auditor *why* a disparity exists: which
    tokens or features the model leans on more for one group than another.

    Parameters
    ----------
    estimator : classifier
        A fitted classifier (see :func:`explain`).
    X : list of str, array-like or DataFrame
        The rows to explain (all of them are explained).
    sensitive_features : array-like, Series, DataFrame or dict
        One group label per row (several columns: intersectional groups ``"a|b"``).
    method : str, Explainer subclass or instance, default="lime"
        A method with per-row attributions: ``"lime"``, ``"shap"``, ``"interpret.lime"``,
        ``"interpret.shap"`` or ``"ebm_surrogate"``.
    min_count : int, default=1
        Attributions a feature needs in a group to be compared in ``differences``.
    num_samples, random_state, target, background, tokenizer, feature_names, max_background, progress, **options
        As in :func:`explain`.

    Returns
    -------
    GroupExplanation
        ``.table`` (mean |value| per token or feature per group, with counts),
        ``.differences`` (features whose importance differs most between groups),
        ``.explanation`` (the per-row explanation), ``.to_dict()``.
    """
    who = "explain_by_group"
    check_int(who, "min_count", min_count, minimum=1)
    frame = check_sensitive_features(sensitive_features, who=who, n_samples=n_rows_of(X))
    groups = group_labels(frame).reset_index(drop=True)
    ex = run_explain(estimator, X, method=method, num_samples=num_samples,
                     random_state=random_state, target=target, background=background,
                     tokenizer=tokenizer, feature_names=feature_names,
                     max_background=max_background, progress=progress, options=options,
                     who=who, need_local=True)
    if len(groups) != ex.n_rows:  # pragma: no cover - n_rows_of agrees with validation
        raise ValueError(problem(who, "arguments 'X' and 'sensitive_features'",
                                 "must have the same number of rows",
                                 f"X has {ex.n_rows}, sensitive_features has {len(groups)}",
                                 "Pass one group label per row of X."))
    table = group_table(ex.attributions, groups)
    return GroupExplanation(explanation=ex, groups=groups, sensitive_features=list(frame.columns),
                            table=table, differences=group_differences(table, int(min_count)),
                            min_count=int(min_count))
