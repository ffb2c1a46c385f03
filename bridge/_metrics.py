"""Per-group metrics and disparities, taken from Fairlearn and AIF360, with bootstrap intervals.

Point values come from the toolkits themselves:

* the per-group table is one Fairlearn :class:`~fairlearn.metrics.MetricFrame` per sensitive
  feature (and one for their intersection), with Fairlearn's ``selection_rate``,
  ``true_positive_rate``, ``false_positive_rate`` and scikit-learn's ``accuracy_score``,
  ``balanced_accuracy_score`` and ``precision_score``;
* Fairlearn's disparities are read from that frame exactly as Fairlearn's own functions compute
  them (``demographic_parity_difference`` is ``MetricFrame(selection_rate).difference()``,
  ``demographic_parity_ratio`` its ``ratio()``, ``equalized_odds_difference`` the larger of the
  TPR and FPR differences); ``tests/bridge/test_metrics.py`` checks them against the functions;
* AIF360's are its ``aif360.sklearn.metrics`` functions (``statistical_parity_difference``,
  ``disparate_impact_ratio``, ``equal_opportunity_difference``, ``average_odds_difference``).
  These read the protected attribute from the index of ``y_true`` when ``prot_attr`` is
  ``None``; fairbridge passes the group of every row explicitly as a numpy array in
  ``prot_attr`` instead (a list would be read as index *names*), and names the privileged group
  with ``priv_group``.  AIF360 compares the privileged group with all other rows pooled.

Rows are first compressed, losslessly, into the distinct cells *group x true x predicted* with
their counts (:class:`Cells`), and every toolkit function is evaluated on the cells with the
counts as ``sample_weight``: the values are exactly those on the full rows (weighted
frequencies of integer counts), while the cost no longer grows with the number of rows.
Fairlearn's ``MetricFrame`` otherwise converts every element in Python (about three seconds per
metric and group on a million rows); with the cells a million-row audit takes a second or two.

Every rate is about the *favourable* outcome ``pos_label``: labels are turned into 0/1
indicators (``1 = pos_label``) before they reach the toolkits, so string labels and multiclass
labels (one-vs-rest on ``pos_label``) work with Fairlearn's 0/1 conventions.

Confidence intervals
--------------------
Every disparity above is a function of the counts of the cells *group x true label x predicted
label* (4 cells per group).  Resampling rows with replacement (the nonparametric bootstrap) is
therefore exactly the same as drawing the cell counts from a multinomial distribution with the
observed cell frequencies, so each replicate costs ``O(cells)`` instead of ``O(rows)``: a
1,000-replicate bootstrap of a million-row audit takes milliseconds.  The count formulas mirror
the toolkits' conventions (Fairlearn and scikit-learn return 0 for a rate whose denominator is
empty; AIF360's ``specificity_score`` returns 0, so its FPR is 1; a group absent from a replicate
is left out of that replicate, as it would be from a ``MetricFrame``), and they are checked
against the toolkit's point value on the observed data each time: if they ever disagreed, the
interval is dropped and a note says so.  Intervals are percentile intervals.  The
between-groups ``max - min`` differences are biased upwards near zero, so their interval can
sit slightly above a near-zero point value; a note says when that happens.
"""

from __future__ import annotations

import datetime as _dt
import importlib.metadata as _metadata
import math
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd

from ._json import json_safe
from ._optional import MissingDependencyError
from ._validation import problem

__all__ = [
    "Cells",
    "DISPARITIES",
    "DisparityName",
    "GROUP_COLUMNS",
    "GroupFeature",
    "INTERSECTION_SEP",
    "bootstrap_disparities",
    "cell_counts",
    "combined_feature",
    "disparities_from_counts",
    "group_features",
    "group_table",
    "indicator",
    "json_safe",
    "library_versions",
    "now_iso",
    "point_disparities",
    "privileged_by_base_rate",
    "resolve_pos_label",
    "unfairness",
]

DisparityName = Literal[
    "demographic_parity_difference",
    "demographic_parity_ratio",
    "equalized_odds_difference",
    "statistical_parity_difference",
    "disparate_impact_ratio",
    "equal_opportunity_difference",
    "average_odds_difference",
]


@dataclass(frozen=True)
class _Disparity:
    source: Literal["fairlearn", "aif360"]
    kind: Literal["spread", "ratio", "signed"]  # max-min >= 0; min/max or unpriv/priv; signed diff
    label: str


#: Every disparity fairbridge reports: name -> (toolkit, kind, readable label).
DISPARITIES: dict[str, _Disparity] = {
    "demographic_parity_difference": _Disparity("fairlearn", "spread", "demographic parity difference"),
    "demographic_parity_ratio": _Disparity("fairlearn", "ratio", "demographic parity ratio"),
    "equalized_odds_difference": _Disparity("fairlearn", "spread", "equalized odds difference"),
    "statistical_parity_difference": _Disparity("aif360", "signed", "statistical parity difference"),
    "disparate_impact_ratio": _Disparity("aif360", "ratio", "disparate impact ratio"),
    "equal_opportunity_difference": _Disparity("aif360", "signed", "equal opportunity difference"),
    "average_odds_difference": _Disparity("aif360", "signed", "average odds difference"),
}

#: Columns of the per-group table (and keys of each ``groups`` row of ``to_dict()``).
GROUP_COLUMNS = ("feature", "group", "count", "selection_rate", "accuracy", "balanced_accuracy",
                 "tpr", "fpr", "precision")

#: Packages whose versions results record.
_VERSIONED = ("fairbridge", "fairlearn", "aif360", "fairret", "scikit-learn", "numpy", "pandas",
              "scipy", "torch", "transformers")

INTERSECTION_SEP = " & "


# -- small helpers ---------------------------------------------------------------------------
def library_versions() -> dict[str, str]:
    """Installed versions of fairbridge and the toolkits it drives (without importing them)."""
    out: dict[str, str] = {}
    for name in _VERSIONED:
        try:
            out[name] = _metadata.version(name)
        except _metadata.PackageNotFoundError:
            continue
    if "fairbridge" not in out:
        from ._version import __version__

        out["fairbridge"] = __version__
    return out


def now_iso() -> str:
    """The current UTC time, ISO 8601, to the second."""
    return _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0).isoformat()


def unfairness(metric: str, value: float | None) -> float:
    """A "lower is fairer" score for ``value`` of ``metric``: ``|diff|`` or ``1 - min(r, 1/r)``."""
    if value is None or not np.isfinite(value):
        return float("nan")
    if DISPARITIES[metric].kind == "ratio":
        if value <= 0:
            return 1.0
        return 1.0 - min(value, 1.0 / value)
    return abs(float(value))


# -- groups ----------------------------------------------------------------------------------
@dataclass
class GroupFeature:
    """One way of grouping the rows: a sensitive column, or the intersection of several.

    Attributes
    ----------
    name : str
        The column name, or ``"a & b"`` for the intersection of columns ``a`` and ``b``.
    keys : ndarray of str
        The group of every row (``"x & y"`` for intersections).
    """

    name: str
    keys: np.ndarray

    def codes(self) -> tuple[np.ndarray, np.ndarray]:
        """``(groups, codes)``: the sorted distinct groups and each row's index among them."""
        codes, uniq = pd.factorize(pd.Series(self.keys, dtype=object), sort=True)
        return np.asarray(uniq, dtype=object).astype(str), codes.astype(np.int64)


def _keys_of(frame: pd.DataFrame) -> np.ndarray:
    cols = [frame[c].astype(str).to_numpy(dtype=object) for c in frame.columns]
    if len(cols) == 1:
        return cols[0]
    out = cols[0].astype(object)
    for c in cols[1:]:
        out = out + INTERSECTION_SEP + c
    return out


def group_features(frame: pd.DataFrame) -> list[GroupFeature]:
    """Each sensitive column, then their intersection when there are several.

    Group values are compared as strings (``1`` and ``"1"`` are the same group).
    """
    feats = [GroupFeature(str(c), _keys_of(frame[[c]])) for c in frame.columns]
    if frame.shape[1] > 1:
        feats.append(GroupFeature(INTERSECTION_SEP.join(map(str, frame.columns)), _keys_of(frame)))
    return feats


def combined_feature(frame: pd.DataFrame) -> GroupFeature:
    """The grouping that uses every sensitive column at once (the only one, or the intersection)."""
    return group_features(frame)[-1]


# -- cell counts: the lossless compression every metric is computed on ------------------------
@dataclass
class Cells:
    """Rows compressed to the distinct cells *group x true x predicted*, with their counts.

    Every metric fairbridge reports is a (weighted) frequency over these cells, so the
    toolkits' own functions evaluated on the cells with ``sample_weight=count`` return exactly
    what they return on the full rows, at a cost that does not grow with the number of rows
    (Fairlearn's ``MetricFrame`` otherwise loops over every element in Python).

    Attributes
    ----------
    feature : GroupFeature
        The grouping.
    groups : ndarray of str
        Distinct groups, sorted.
    counts : ndarray of shape (n_groups, 2, 2)
        Rows per group, true 0/1 indicator and predicted 0/1 indicator.
    group, y_true, y_pred, weight : ndarray
        One entry per non-empty cell (indicators for ``y_true``/``y_pred``), for the toolkits.
    """

    feature: GroupFeature
    groups: np.ndarray
    counts: np.ndarray
    group: np.ndarray
    y_true: np.ndarray
    y_pred: np.ndarray
    weight: np.ndarray

    @classmethod
    def build(cls, feature: GroupFeature, y01_true: np.ndarray, y01_pred: np.ndarray) -> Cells:
        groups, codes = feature.codes()
        counts = cell_counts(codes, groups.size, y01_true, y01_pred)
        g, t, p = np.nonzero(counts)
        return cls(feature, groups, counts, groups[g], t.astype(np.int64), p.astype(np.int64),
                   counts[g, t, p].astype(np.float64))

    def index_of(self, group: str) -> int:
        return int(np.flatnonzero(self.groups == str(group))[0])


def cell_counts(codes: np.ndarray, n_groups: int, y01_true: np.ndarray, y01_pred: np.ndarray) -> np.ndarray:
    """Counts of the cells group x true x predicted, shape ``(n_groups, 2, 2)``."""
    cells = codes * 4 + 2 * y01_true.astype(np.int64) + y01_pred.astype(np.int64)
    return np.bincount(cells, minlength=4 * n_groups).reshape(n_groups, 2, 2)


def privileged_by_base_rate(cells: Cells) -> str:
    """The group with the highest rate of the favourable label (ties: the larger, then by name)."""
    n_g = cells.counts.sum(axis=(1, 2))
    rate = cells.counts[:, 1].sum(axis=1) / np.maximum(n_g, 1)
    order = sorted(range(cells.groups.size), key=lambda i: (-rate[i], -n_g[i], cells.groups[i]))
    return str(cells.groups[order[0]])


# -- the per-group table -----------------------------------------------------------------------
def _weighted_count(y_true: np.ndarray, y_pred: np.ndarray, sample_weight: np.ndarray) -> float:
    """Fairlearn's ``count`` for rows compressed into weighted cells: the number of rows."""
    return float(np.sum(sample_weight))


def _precision(y_true: np.ndarray, y_pred: np.ndarray, sample_weight: np.ndarray) -> float:
    from sklearn.metrics import precision_score

    return precision_score(y_true, y_pred, sample_weight=sample_weight, zero_division=np.nan)


def group_table(cells: Cells, y_true: np.ndarray, y_pred: np.ndarray) -> tuple[pd.DataFrame, Any]:
    """The per-group rows of one grouping, from one Fairlearn MetricFrame over the cells.

    Parameters
    ----------
    cells : Cells
        The rows compressed to weighted cells.
    y_true, y_pred : ndarray
        The labels themselves (used for accuracy when there are more than two labels).

    Returns
    -------
    table : DataFrame
        Columns :data:`GROUP_COLUMNS`.  Rates whose denominator is empty in a group (TPR
        without positives, FPR without negatives, precision without predicted positives) are
        missing rather than Fairlearn's 0.
    frame : MetricFrame
        On the 0/1 indicators; its ``difference()``/``ratio()`` give Fairlearn's disparities.
    """
    from fairlearn.metrics import (
        MetricFrame,
        false_positive_rate,
        selection_rate,
        true_positive_rate,
    )
    from sklearn.metrics import accuracy_score, balanced_accuracy_score

    feature = cells.feature
    sf = pd.Series(cells.group, name=feature.name)
    labels = pd.unique(pd.Series(np.concatenate([np.asarray(y_true, dtype=object),
                                                 np.asarray(y_pred, dtype=object)])))
    binary = labels.size <= 2
    metrics: dict[str, Any] = {"count": _weighted_count, "selection_rate": selection_rate,
                               "tpr": true_positive_rate, "fpr": false_positive_rate,
                               "precision": _precision}
    if binary:
        metrics.update(accuracy=accuracy_score, balanced_accuracy=balanced_accuracy_score)
    weights = {"sample_weight": cells.weight}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # sklearn warns about single-class groups
        mf = MetricFrame(metrics=metrics, y_true=cells.y_true, y_pred=cells.y_pred,
                         sensitive_features=sf, sample_params={k: weights for k in metrics})
        table = mf.by_group.copy()
        if not binary:  # accuracy on the labels themselves, not on the pos_label indicator
            table = table.join(_label_accuracy(feature, y_true, y_pred))
    rows = []
    for group, row in table.iterrows():
        c = cells.counts[cells.index_of(str(group))]
        positives, negatives, predicted = c[1].sum(), c[0].sum(), c[:, 1].sum()
        rows.append({
            "feature": feature.name,
            "group": str(group),
            "count": int(round(row["count"])),
            "selection_rate": float(row["selection_rate"]),
            "accuracy": float(row["accuracy"]),
            "balanced_accuracy": _finite_or_none(row["balanced_accuracy"]),
            "tpr": float(row["tpr"]) if positives > 0 else None,
            "fpr": float(row["fpr"]) if negatives > 0 else None,
            "precision": _finite_or_none(row["precision"]) if predicted > 0 else None,
        })
    return pd.DataFrame(rows, columns=list(GROUP_COLUMNS)), mf


def _label_accuracy(feature: GroupFeature, y_true: np.ndarray, y_pred: np.ndarray) -> pd.DataFrame:
    """Accuracy and balanced accuracy per group on the labels, over weighted label cells."""
    from fairlearn.metrics import MetricFrame
    from sklearn.metrics import accuracy_score, balanced_accuracy_score

    _, g = feature.codes()
    t, t_uniq = pd.factorize(pd.Series(np.asarray(y_true, dtype=object)).astype(str), sort=True)
    p, p_uniq = pd.factorize(pd.Series(np.asarray(y_pred, dtype=object)).astype(str), sort=True)
    frame = pd.DataFrame({"g": g, "t": t, "p": p}).value_counts().reset_index(name="w")
    groups, _ = feature.codes()
    weights = {"sample_weight": frame["w"].to_numpy(dtype=np.float64)}
    mf = MetricFrame(metrics={"accuracy": accuracy_score, "balanced_accuracy": balanced_accuracy_score},
                     y_true=np.asarray(t_uniq)[frame["t"].to_numpy()],
                     y_pred=np.asarray(p_uniq)[frame["p"].to_numpy()],
                     sensitive_features=pd.Series(groups[frame["g"].to_numpy()], name=feature.name),
                     sample_params={"accuracy": weights, "balanced_accuracy": weights})
    return mf.by_group


def _finite_or_none(v: Any) -> float | None:
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None


# -- point disparities ----------------------------------------------------------------------
def point_disparities(cells: Cells, frame: Any, privileged: str, *, notes: list[str]) -> dict[str, float]:
    """The seven disparities of one grouping from the toolkits (AIF360's omitted if missing).

    Fairlearn's come from ``frame`` (the weighted-cell MetricFrame of :func:`group_table`),
    exactly as Fairlearn's ``demographic_parity_difference`` & co compute them; AIF360's from its
    ``aif360.sklearn.metrics`` functions on the cells, with the counts as ``sample_weight``.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        diff = frame.difference(method="between_groups")
        ratio = frame.ratio(method="between_groups")
    out: dict[str, float] = {
        "demographic_parity_difference": float(diff["selection_rate"]),
        "demographic_parity_ratio": float(ratio["selection_rate"]),
        "equalized_odds_difference": float(max(diff["tpr"], diff["fpr"])),
    }
    try:
        metrics = _aif360_metrics()
    except MissingDependencyError as exc:
        note = f"AIF360 metrics were not computed: {exc}"
        if note not in notes:
            notes.append(note)
        return out
    kwargs = {"prot_attr": np.asarray(cells.group, dtype=object), "priv_group": privileged,
              "pos_label": 1, "sample_weight": cells.weight}
    yt, yp = cells.y_true, cells.y_pred
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # zero-division warnings; the conventions are documented
        out["statistical_parity_difference"] = float(
            metrics.statistical_parity_difference(yt, yp, **kwargs))
        out["disparate_impact_ratio"] = float(
            metrics.disparate_impact_ratio(yt, yp, zero_division=np.nan, **kwargs))
        out["equal_opportunity_difference"] = float(
            metrics.equal_opportunity_difference(yt, yp, **kwargs))
        out["average_odds_difference"] = float(
            metrics.average_odds_difference(yt, yp, **kwargs))
    return out


def _aif360_metrics() -> Any:
    from ._aif360_compat import quiet_import

    return quiet_import("aif360.sklearn.metrics", purpose="the AIF360 disparity metrics")


# -- count formulas (vectorised over bootstrap replicates) ----------------------------------
def _rate(num: np.ndarray, den: np.ndarray, *, empty: float) -> np.ndarray:
    """``num / den`` with ``empty`` where ``den == 0``."""
    with np.errstate(divide="ignore", invalid="ignore"):
        r = num / den
    return np.where(den > 0, r, empty)


def disparities_from_counts(counts: np.ndarray, priv: int) -> dict[str, np.ndarray]:
    """The seven disparities from cell counts of shape ``(B, G, 2, 2)`` (``B`` replicates).

    ``counts[b, g, t, p]``: rows of group ``g`` with true indicator ``t`` and predicted ``p``.
    Mirrors the toolkits' conventions (see the module docstring); returns arrays of shape ``(B,)``.
    """
    counts = counts.astype(np.float64)
    tn, fp = counts[..., 0, 0], counts[..., 0, 1]
    fn, tp = counts[..., 1, 0], counts[..., 1, 1]
    n_g = tn + fp + fn + tp
    present = n_g > 0
    nan = np.nan
    sel = np.where(present, _rate(fp + tp, n_g, empty=nan), nan)
    tpr = np.where(present, _rate(tp, tp + fn, empty=0.0), nan)
    fpr = np.where(present, _rate(fp, fp + tn, empty=0.0), nan)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN replicates
        sel_max, sel_min = np.nanmax(sel, axis=1), np.nanmin(sel, axis=1)
        out = {
            "demographic_parity_difference": sel_max - sel_min,
            "demographic_parity_ratio": np.where(sel_max > 0, _rate(sel_min, sel_max, empty=nan), nan),
            "equalized_odds_difference": np.maximum(np.nanmax(tpr, axis=1) - np.nanmin(tpr, axis=1),
                                                    np.nanmax(fpr, axis=1) - np.nanmin(fpr, axis=1)),
        }
    mask = np.zeros(counts.shape[1], dtype=bool)
    mask[priv] = True
    p_cnt = counts[:, mask].sum(axis=1)
    u_cnt = counts[:, ~mask].sum(axis=1)

    def rates(c: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        tn_, fp_, fn_, tp_ = c[..., 0, 0], c[..., 0, 1], c[..., 1, 0], c[..., 1, 1]
        n = tn_ + fp_ + fn_ + tp_
        sel_ = np.where(n > 0, _rate(fp_ + tp_, n, empty=nan), nan)
        tpr_ = np.where(n > 0, _rate(tp_, tp_ + fn_, empty=0.0), nan)
        spec = np.where(n > 0, _rate(tn_, tn_ + fp_, empty=0.0), nan)
        return sel_, tpr_, 1.0 - spec, n

    sel_p, tpr_p, fpr_p, _ = rates(p_cnt)
    sel_u, tpr_u, fpr_u, _ = rates(u_cnt)
    out["statistical_parity_difference"] = sel_u - sel_p
    out["disparate_impact_ratio"] = np.where(sel_p > 0, _rate(sel_u, sel_p, empty=nan), nan)
    out["equal_opportunity_difference"] = tpr_u - tpr_p
    out["average_odds_difference"] = ((fpr_u - fpr_p) + (tpr_u - tpr_p)) / 2.0
    return out


def bootstrap_disparities(cells: Cells, privileged: str, point: Mapping[str, float], *,
                          n_bootstrap: int, confidence: float, rng: np.random.Generator,
                          notes: list[str]) -> dict[str, tuple[float | None, float | None]]:
    """Percentile intervals of the disparities in ``point``, by multinomial cell resampling."""
    if n_bootstrap <= 0:
        return {m: (None, None) for m in point}
    counts = cells.counts
    feature = cells.feature
    priv = cells.index_of(privileged)
    observed = disparities_from_counts(counts[None], priv)
    n = int(counts.sum())
    draws = rng.multinomial(n, counts.reshape(-1) / n, size=n_bootstrap)
    reps = disparities_from_counts(draws.reshape((n_bootstrap,) + counts.shape), priv)
    alpha = (1.0 - confidence) / 2.0
    out: dict[str, tuple[float | None, float | None]] = {}
    for metric, value in point.items():
        obs = float(observed[metric][0])
        if not _same(obs, value):
            notes.append(f"No interval for {metric} of {feature.name!r}: the toolkit's value "
                         f"{value!r} differs from fairbridge's count formula ({obs!r}).")
            out[metric] = (None, None)
            continue
        r = reps[metric]
        r = r[np.isfinite(r)]
        if r.size < max(10, n_bootstrap // 2):
            out[metric] = (None, None)
            continue
        lo, hi = np.quantile(r, [alpha, 1.0 - alpha])
        out[metric] = (float(lo), float(hi))
        if np.isfinite(value) and not (lo - 1e-12 <= value <= hi + 1e-12):
            notes.append(
                f"The {confidence:.0%} interval of {metric} for {feature.name!r} "
                f"([{lo:.3f}, {hi:.3f}]) does not contain its value {value:.3f}: bootstrap "
                "replicates of a between-groups gap are biased upwards when the gap is small.")
    return out


def _same(a: float, b: float) -> bool:
    if not np.isfinite(a) or not np.isfinite(b):
        return (not np.isfinite(a)) and (not np.isfinite(b))
    return abs(a - b) <= 1e-9 * max(1.0, abs(a), abs(b))


# -- labels --------------------------------------------------------------------------------------
def resolve_pos_label(labels: Sequence[Any], pos_label: Any, *, who: str) -> Any:
    """The favourable label: ``pos_label`` if given (must occur), else ``1`` or the larger label."""
    uniq = list(pd.unique(pd.Series(list(labels), dtype=object)))
    if pos_label is not None:
        if not any(_label_eq(pos_label, u) for u in uniq):
            raise ValueError(problem(who, "argument 'pos_label'", "must be one of the labels",
                                     f"{pos_label!r} (labels: {sorted(map(str, uniq))[:10]})",
                                     "Pass the favourable outcome, e.g. pos_label=1."))
        return pos_label
    if any(_label_eq(1, u) for u in uniq) and len(uniq) <= 2:
        return 1
    if len(uniq) <= 2:
        return sorted(uniq, key=lambda v: (str(type(v)), v))[-1]
    raise ValueError(problem(who, "argument 'pos_label'",
                             "is required when there are more than two labels",
                             f"None with {len(uniq)} labels {sorted(map(str, uniq))[:10]}",
                             "Pass pos_label=<the favourable outcome>; rates are one-vs-rest."))


def _label_eq(a: Any, b: Any) -> bool:
    """Label equality that keeps ``1`` and ``"1"`` apart."""
    if isinstance(a, str) != isinstance(b, str):
        return False
    try:
        return bool(a == b)
    except Exception:  # noqa: BLE001 - exotic label types
        return False


def indicator(values: np.ndarray, pos_label: Any) -> np.ndarray:
    """``1`` where ``values == pos_label`` else ``0`` (int64), vectorised."""
    arr = np.asarray(values)
    if arr.dtype.kind in "iufb" and not isinstance(pos_label, str):
        return (arr == pos_label).astype(np.int64)
    if arr.dtype.kind in "iufb":  # numbers never equal a str label
        return np.zeros(arr.shape[0], dtype=np.int64)
    obj = pd.Series(arr.astype(object))
    is_str = obj.map(type).eq(str).to_numpy()
    same_kind = is_str if isinstance(pos_label, str) else ~is_str
    return (same_kind & obj.eq(pos_label).to_numpy()).astype(np.int64)
