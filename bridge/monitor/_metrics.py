"""Group metrics shared by the training-time monitors: names, Fairlearn computation, culprits.

Every training-time path (the Hugging Face ``compute_metrics``, the adapter callback and
:class:`~fairbridge.monitor.BatchMonitor`) reports the same keys:

* ``<prefix>/<metric>/<group>`` for the per-group rates ``selection_rate``, ``accuracy``,
  ``tpr``, ``fpr`` (and ``count``);
* ``<prefix>/<disparity>`` for ``demographic_parity_difference``,
  ``demographic_parity_ratio``, ``equalized_odds_difference`` and
  ``equal_opportunity_difference``.

With the default prefix ``"fairness"`` the Trainer logs them as ``eval_fairness/...``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

__all__ = [
    "DISPARITIES",
    "DISPARITY_SOURCES",
    "GROUP_RATES",
    "FairnessWarning",
    "culprit_groups",
    "fairlearn_metrics",
    "group_label",
]

class FairnessWarning(UserWarning):
    """A fairness bound was crossed (by :class:`~fairbridge.monitor.FairnessGuard`) or a
    monitoring window raised alerts."""


#: Per-group rates reported at training time.
GROUP_RATES: tuple[str, ...] = ("selection_rate", "accuracy", "tpr", "fpr")

#: The disparities reported everywhere in ``fairbridge.monitor``.
DISPARITIES: tuple[str, ...] = (
    "demographic_parity_difference",
    "demographic_parity_ratio",
    "equalized_odds_difference",
    "equal_opportunity_difference",
)

#: Which per-group rates each disparity is computed from (to name the groups behind it).
DISPARITY_SOURCES: dict[str, tuple[str, ...]] = {
    "demographic_parity_difference": ("selection_rate",),
    "demographic_parity_ratio": ("selection_rate",),
    "equalized_odds_difference": ("tpr", "fpr"),
    "equal_opportunity_difference": ("tpr",),
    "equal_opportunity_ratio": ("tpr",),
}


def group_label(value: Any) -> str:
    """The string used for a group in metric keys (tuples of several features joined by ``|``)."""
    if isinstance(value, tuple):
        return "|".join(str(v) for v in value)
    return str(value)


def fairlearn_metrics(y_true: np.ndarray, y_pred: np.ndarray, sensitive_features: pd.DataFrame,
                      *, prefix: str = "fairness") -> dict[str, float]:
    """Per-group rates and disparities computed by Fairlearn.

    Parameters
    ----------
    y_true, y_pred : ndarray of shape (n_samples,)
        Binary labels and predictions (0/1).
    sensitive_features : DataFrame
        One column per sensitive feature (several columns make intersectional groups).
    prefix : str, default="fairness"
        Key prefix.

    Returns
    -------
    dict of str to float
        ``<prefix>/<rate>/<group>``, ``<prefix>/count/<group>`` and ``<prefix>/<disparity>``.
    """
    from fairlearn.metrics import (
        MetricFrame,
        count,
        demographic_parity_difference,
        demographic_parity_ratio,
        equal_opportunity_difference,
        equalized_odds_difference,
        false_positive_rate,
        selection_rate,
        true_positive_rate,
    )
    from sklearn.metrics import accuracy_score

    y_true = np.asarray(y_true, dtype=np.int64)
    y_pred = np.asarray(y_pred, dtype=np.int64)
    sf = sensitive_features.iloc[:, 0] if sensitive_features.shape[1] == 1 else sensitive_features
    frame = MetricFrame(
        metrics={"selection_rate": selection_rate, "accuracy": accuracy_score,
                 "tpr": true_positive_rate, "fpr": false_positive_rate, "count": count},
        y_true=y_true, y_pred=y_pred, sensitive_features=sf)
    out: dict[str, float] = {}
    for group, row in frame.by_group.iterrows():
        name = group_label(group)
        for metric in (*GROUP_RATES, "count"):
            out[f"{prefix}/{metric}/{name}"] = float(row[metric])
    kw = {"sensitive_features": sf}
    out[f"{prefix}/demographic_parity_difference"] = float(
        demographic_parity_difference(y_true, y_pred, **kw))
    out[f"{prefix}/demographic_parity_ratio"] = float(demographic_parity_ratio(y_true, y_pred, **kw))
    out[f"{prefix}/equalized_odds_difference"] = float(
        equalized_odds_difference(y_true, y_pred, **kw))
    out[f"{prefix}/equal_opportunity_difference"] = float(
        equal_opportunity_difference(y_true, y_pred, **kw))
    return out


def culprit_groups(metrics: Mapping[str, Any], disparity: str, prefix: str) -> tuple[list[str], str]:
    """The groups behind a disparity: the lowest and highest group on its widest source rate.

    Parameters
    ----------
    metrics : mapping
        Logged metrics with per-group keys ``<prefix>/<rate>/<group>``.
    disparity : str
        A disparity name (e.g. ``"demographic_parity_difference"``).
    prefix : str
        The key prefix in ``metrics`` (``"eval_fairness"`` in Trainer metrics).

    Returns
    -------
    groups : list of str
        ``[lowest, highest]``, or ``[]`` when the per-group keys are not there.
    text : str
        E.g. ``"selection_rate: 'female' 0.210 vs 'male' 0.530"``.
    """
    best: tuple[float, str, str, str, float, float] | None = None
    for rate in DISPARITY_SOURCES.get(disparity, ()):
        head = f"{prefix}/{rate}/"
        values = {k[len(head):]: float(v) for k, v in metrics.items()
                  if k.startswith(head) and v is not None and np.isfinite(float(v))}
        if len(values) < 2:
            continue
        low = min(values, key=values.__getitem__)
        high = max(values, key=values.__getitem__)
        spread = values[high] - values[low]
        if best is None or spread > best[0]:
            best = (spread, rate, low, high, values[low], values[high])
    if best is None:
        return [], "per-group values not available"
    _, rate, low, high, vlow, vhigh = best
    return [low, high], f"{rate}: {low!r} {vlow:.3f} vs {high!r} {vhigh:.3f}"
