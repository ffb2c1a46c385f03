"""``audit``: per-group rates and disparities of a model (or of precomputed predictions).

Two entry points share one core:

* :func:`audit_predictions` works on labels (and optionally scores) alone, without a model; the
  scale-out path calls it on scores computed elsewhere;
* :func:`audit` takes a fitted estimator with ``X, y`` (it calls ``predict``), or a DataFrame of
  precomputed scores or predictions with ``label_column=``, ``sensitive_column=`` and
  ``score_column=`` / ``prediction_column=``.

The metrics are the toolkits' own (see :mod:`fairbridge._metrics`).
"""

from __future__ import annotations

import inspect
import numbers
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ._report_writers import ReportWriters
from ._metrics import (
    DISPARITIES,
    Cells,
    GROUP_COLUMNS,
    bootstrap_disparities,
    group_features,
    group_table,
    indicator,
    json_safe,
    library_versions,
    now_iso,
    point_disparities,
    privileged_by_base_rate,
    resolve_pos_label,
)
from ._validation import (
    check_consistent_length,
    check_labels,
    check_number,
    check_sensitive_features,
    describe,
    problem,
)
from ._version import __version__

__all__ = ["AuditResult", "audit", "audit_predictions"]

SCHEMA_VERSION = "1.0"
DISPARITY_COLUMNS = ("feature", "metric", "value", "ci_low", "ci_high", "source")


@dataclass(eq=False)
class AuditResult(ReportWriters):
    """The outcome of :func:`audit`: a per-group table and the disparities with intervals.

    Attributes
    ----------
    table : DataFrame
        One row per group of each sensitive feature (and of their intersection, feature
        ``"a & b"``): ``feature, group, count, selection_rate, accuracy, balanced_accuracy,
        tpr, fpr, precision``.  Rates are about the favourable outcome ``pos_label``; a rate
        whose denominator is empty in a group (e.g. TPR of a group without positives) is NaN.
    disparities : DataFrame
        One row per feature and metric: ``feature, metric, value, ci_low, ci_high, source``
        (``"fairlearn"`` or ``"aif360"``).
    sensitive_features : list of str
        The sensitive columns.
    n_samples : int
        Rows audited.
    confidence : float
        Level of the bootstrap intervals.
    n_bootstrap : int
        Bootstrap replicates (0: no intervals).
    pos_label : object
        The favourable outcome.
    privileged_groups : dict
        Feature -> the group AIF360's metrics treat as privileged.
    overall : dict
        ``count``, ``accuracy``, ``balanced_accuracy`` and ``selection_rate`` over all rows.
    notes : list of str
        Choices made and caveats, in plain words.
    created : str
        ISO-8601 time of the audit.
    library_versions : dict
        Versions of fairbridge and the toolkits.
    """

    table: pd.DataFrame
    disparities: pd.DataFrame
    sensitive_features: list[str]
    n_samples: int
    confidence: float
    n_bootstrap: int
    pos_label: Any
    privileged_groups: dict[str, str]
    overall: dict[str, float | None]
    notes: list[str] = field(default_factory=list)
    created: str = field(default_factory=now_iso)
    library_versions: dict[str, str] = field(default_factory=library_versions)

    # -- access ----------------------------------------------------------------------------
    def _row(self, metric: str, feature: str | None) -> pd.Series:
        if metric not in DISPARITIES:
            raise ValueError(problem("AuditResult", "argument 'metric'",
                                     f"must be one of {', '.join(sorted(DISPARITIES))}",
                                     repr(metric), "Pass one of the listed names."))
        feats = self.disparities["feature"].unique().tolist()
        feature = feats[-1] if feature is None else feature
        rows = self.disparities[(self.disparities["metric"] == metric)
                                & (self.disparities["feature"] == feature)]
        if rows.empty:
            raise KeyError(f"AuditResult: no value of {metric!r} for feature {feature!r}; "
                           f"features: {feats}.")
        return rows.iloc[0]

    def disparity(self, metric: str, feature: str | None = None) -> float:
        """The value of one disparity (default feature: all sensitive columns together)."""
        return float(self._row(metric, feature)["value"])

    def interval(self, metric: str, feature: str | None = None) -> tuple[float, float]:
        """The bootstrap interval ``(low, high)`` of one disparity (NaN when not computed)."""
        row = self._row(metric, feature)
        return float(row["ci_low"]), float(row["ci_high"])

    # -- export ----------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe dict in fairbridge's versioned result schema (``kind: "audit"``)."""
        groups = [json_safe({c: r[c] for c in GROUP_COLUMNS}) for r in self.table.to_dict("records")]
        disp = [json_safe({"metric": r["metric"], "value": r["value"], "ci_low": r["ci_low"],
                           "ci_high": r["ci_high"], "source": r["source"],
                           "feature": r["feature"]})
                for r in self.disparities.to_dict("records")]
        return {
            "schema_version": SCHEMA_VERSION,
            "kind": "audit",
            "created": self.created,
            "fairbridge_version": __version__,
            "library_versions": dict(self.library_versions),
            "sensitive_features": list(self.sensitive_features),
            "n_samples": int(self.n_samples),
            "confidence": float(self.confidence),
            "n_bootstrap": int(self.n_bootstrap),
            "pos_label": str(self.pos_label),
            "privileged_groups": {str(k): str(v) for k, v in self.privileged_groups.items()},
            "overall": json_safe(self.overall),
            "groups": groups,
            "disparities": disp,
            "notes": list(self.notes),
        }

    def __repr__(self) -> str:
        feats = ", ".join(self.sensitive_features)
        return (f"AuditResult(n_samples={self.n_samples}, sensitive_features=[{feats}], "
                f"groups={len(self.table)}, disparities={len(self.disparities)})")


# -- checks ------------------------------------------------------------------------------------
def _check_settings(who: str, n_bootstrap: Any, confidence: Any, random_state: Any) -> None:
    if isinstance(n_bootstrap, bool) or not isinstance(n_bootstrap, numbers.Integral):
        raise TypeError(problem(who, "argument 'n_bootstrap'", "must be an integer >= 0",
                                describe(n_bootstrap), "Pass e.g. n_bootstrap=1000, or 0 for no intervals."))
    if n_bootstrap < 0:
        raise ValueError(problem(who, "argument 'n_bootstrap'", "must be an integer >= 0",
                                 describe(n_bootstrap), "Pass e.g. n_bootstrap=1000, or 0 for no intervals."))
    if isinstance(confidence, bool) or not isinstance(confidence, numbers.Real):
        raise TypeError(problem(who, "argument 'confidence'", "must be a number > 0 and < 1",
                                describe(confidence), "Pass e.g. confidence=0.95."))
    if not 0.0 < float(confidence) < 1.0:
        raise ValueError(problem(who, "argument 'confidence'", "must be a number > 0 and < 1",
                                 describe(confidence), "Pass e.g. confidence=0.95."))
    if random_state is not None and (isinstance(random_state, bool)
                                     or not isinstance(random_state, numbers.Integral)):
        raise TypeError(problem(who, "argument 'random_state'", "must be None or an int",
                                describe(random_state), "Pass an int seed."))


def _resolve_privileged(who: str, privileged_groups: Any, cells: Mapping[str, Cells],
                        notes: list[str]) -> dict[str, str]:
    names = list(cells)
    given: dict[str, Any]
    if privileged_groups is None:
        given = {}
    elif isinstance(privileged_groups, Mapping):
        given = {str(k): v for k, v in privileged_groups.items()}
        unknown = sorted(set(given) - set(names))
        if unknown:
            raise ValueError(problem(who, "argument 'privileged_groups'",
                                     f"must map feature names among {names} to a group",
                                     f"unknown feature(s) {unknown}",
                                     "Use the sensitive column names as keys."))
    elif len(names) == 1:
        given = {names[0]: privileged_groups}
    else:
        raise ValueError(problem(who, "argument 'privileged_groups'",
                                 "must be a dict {feature: group} when there are several "
                                 "sensitive features", describe(privileged_groups),
                                 f"Pass e.g. {{{names[0]!r}: <group>}}."))
    out: dict[str, str] = {}
    chosen = []
    for name in names:
        present = set(cells[name].groups.tolist())
        if name in given:
            value = str(given[name])
            if value not in present:
                raise ValueError(problem(who, f"privileged group of {name!r}",
                                         f"must be one of its groups {sorted(present)[:10]}",
                                         repr(given[name]), "Pass a group that occurs in the data."))
            out[name] = value
        else:
            out[name] = privileged_by_base_rate(cells[name])
            chosen.append(f"{out[name]!r} for {name!r}")
    if chosen:
        notes.append("AIF360's metrics compare each privileged group with all other rows "
                     "pooled; the privileged group was taken to be the one with the highest "
                     "observed rate of the favourable outcome: " + ", ".join(chosen)
                     + ". Pass privileged_groups= to choose.")
    return out


# -- the core ------------------------------------------------------------------------------------
def audit_predictions(
    y_true: Any,
    y_pred: Any = None,
    *,
    sensitive_features: Any,
    y_score: Any = None,
    threshold: float = 0.5,
    pos_label: Any = None,
    privileged_groups: Any = None,
    n_bootstrap: int = 1000,
    confidence: float = 0.95,
    random_state: int | None = 0,
) -> AuditResult:
    """Audit predictions against the truth, per group, without a model.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        True labels.
    y_pred : array-like of shape (n_samples,), optional
        Predicted labels.  If omitted, ``y_score > threshold`` predicts ``pos_label`` (the argmax rule of a binary classifier: a tie goes to the negative class).
    sensitive_features : array-like, Series, DataFrame or dict
        Group memberships; several columns are audited one by one and intersected.
    y_score : array-like of shape (n_samples,), optional
        Probability (or score) of ``pos_label``; used when ``y_pred`` is omitted.
    threshold : float, default=0.5
        Decision threshold on ``y_score``.
    pos_label : object, optional
        The favourable outcome; default ``1`` (or the larger of two labels).  Required with
        more than two labels (rates are then one-vs-rest).
    privileged_groups : object or dict, optional
        The group AIF360's metrics treat as privileged (a dict ``{feature: group}`` with several
        features); default: the group with the highest rate of ``pos_label`` in ``y_true``.
    n_bootstrap : int, default=1000
        Bootstrap replicates of the intervals (0 for none).  Vectorised over cell counts, so
        cheap even for millions of rows.
    confidence : float, default=0.95
        Level of the percentile intervals.
    random_state : int, optional, default=0
        Seeds the bootstrap.

    Returns
    -------
    AuditResult
    """
    who = "audit_predictions"
    _check_settings(who, n_bootstrap, confidence, random_state)
    check_consistent_length(
        who, y_true=y_true, y_pred=y_pred, y_score=y_score,
        sensitive_features=None if isinstance(sensitive_features, Mapping) else sensitive_features)
    yt = check_labels(y_true, who=who, name="y_true")
    n = yt.shape[0]
    if y_pred is None and y_score is None:
        raise ValueError(problem(who, "arguments 'y_pred' and 'y_score'", "must not both be None",
                                 "neither", "Pass the predicted labels, or scores of pos_label."))
    score = None
    if y_score is not None:
        try:
            score = np.array(y_score, dtype=np.float64, copy=True).reshape(-1)
        except (TypeError, ValueError) as exc:
            raise TypeError(problem(who, "argument 'y_score'", "must be numeric",
                                    describe(y_score), "Pass one probability per row.")) from exc
        if score.shape[0] != n or not np.all(np.isfinite(score)):
            raise ValueError(problem(who, "argument 'y_score'",
                                     f"must hold {n} finite scores (one per row of y_true)",
                                     f"{score.shape[0]} values, {int((~np.isfinite(score)).sum())} "
                                     "not finite", "Pass one finite score per row."))
    check_number(who, "threshold", threshold)
    if y_pred is None:
        assert score is not None
        labels = list(pd.unique(pd.Series(yt, dtype=object)))
        pos = resolve_pos_label(labels, pos_label, who=who)
        others = [v for v in labels if not (v == pos and isinstance(v, str) == isinstance(pos, str))]
        if len(others) > 1:
            raise ValueError(problem(who, "argument 'y_score'",
                                     "can only stand for predictions with two labels",
                                     f"{len(labels)} labels in y_true",
                                     "Pass y_pred (the predicted labels) instead."))
        negative = others[0] if others else (0 if pos == 1 else None)
        if negative is None:
            raise ValueError(problem(who, "argument 'y_true'", "must hold two labels to turn "
                                     "scores into predictions", f"only {pos!r}",
                                     "Pass y_pred instead of y_score."))
        yp = np.where(score > threshold, pos, negative)
        if isinstance(pos, str) or isinstance(negative, str):
            yp = yp.astype(object)
    else:
        yp = check_labels(y_pred, who=who, n_samples=n, name="y_pred")
    frame = check_sensitive_features(sensitive_features, who=who, n_samples=n)
    labels = list(pd.unique(pd.Series(np.concatenate([yt.astype(object), yp.astype(object)]),
                                      dtype=object)))
    pos = resolve_pos_label(labels, pos_label, who=who)
    y01_true, y01_pred = indicator(yt, pos), indicator(yp, pos)
    notes: list[str] = []
    feats = group_features(frame)
    cells = {f.name: Cells.build(f, y01_true, y01_pred) for f in feats}
    privileged = _resolve_privileged(who, privileged_groups, cells, notes)
    rng = np.random.default_rng(random_state)
    tables, rows = [], []
    for feat in feats:
        c = cells[feat.name]
        table, mf = group_table(c, yt, yp)
        tables.append(table)
        point = point_disparities(c, mf, privileged[feat.name], notes=notes)
        ci = bootstrap_disparities(c, privileged[feat.name], point, n_bootstrap=int(n_bootstrap),
                                   confidence=float(confidence), rng=rng, notes=notes)
        for metric, value in point.items():
            lo, hi = ci[metric]
            rows.append({"feature": feat.name, "metric": metric, "value": value,
                         "ci_low": np.nan if lo is None else lo,
                         "ci_high": np.nan if hi is None else hi,
                         "source": DISPARITIES[metric].source})
        for r in table.itertuples():
            if r.tpr is None:
                notes.append(f"Group {r.group!r} of {feat.name!r} has no rows with the favourable "
                             "outcome, so its TPR is undefined (Fairlearn and AIF360 count it as 0 "
                             "in their disparities).")
    table = pd.concat(tables, ignore_index=True)
    table = table.astype({c: "float64" for c in ("tpr", "fpr", "precision", "balanced_accuracy")})
    disparities = pd.DataFrame(rows, columns=list(DISPARITY_COLUMNS))
    from sklearn.metrics import accuracy_score, balanced_accuracy_score

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            acc = float(accuracy_score(yt, yp))
            bal = float(balanced_accuracy_score(yt, yp))
        except (TypeError, ValueError):  # labels of mixed types: compare them as text
            acc = float(accuracy_score(yt.astype(str), yp.astype(str)))
            bal = float(balanced_accuracy_score(yt.astype(str), yp.astype(str)))
    overall = {"count": int(n), "accuracy": acc, "balanced_accuracy": bal,
               "selection_rate": float(y01_pred.mean())}
    return AuditResult(table=table, disparities=disparities,
                       sensitive_features=[str(c) for c in frame.columns], n_samples=int(n),
                       confidence=float(confidence), n_bootstrap=int(n_bootstrap), pos_label=pos,
                       privileged_groups=privileged, overall=overall, notes=notes)


# -- the model / DataFrame front door ----------------------------------------------------------
def predict_with_groups(estimator: Any, X: Any, sensitive_features: Any = None) -> np.ndarray:
    """``estimator.predict(X)``, passing ``sensitive_features=`` where ``predict`` takes it."""
    predict = getattr(estimator, "predict", None)
    if not callable(predict):
        raise TypeError(problem("audit", "argument 'estimator'", "must have a predict method",
                                describe(estimator), "Pass a fitted classifier."))
    try:
        params = inspect.signature(predict).parameters
    except (TypeError, ValueError):
        params = {}
    if "sensitive_features" in params and sensitive_features is not None:
        return np.asarray(predict(X, sensitive_features=sensitive_features))
    return np.asarray(predict(X))


def _columns(who: str, df: pd.DataFrame, name: str, value: Any, *, many: bool = False) -> list[str]:
    cols = list(value) if many and isinstance(value, (list, tuple)) else [value]
    missing = [c for c in cols if c not in df.columns]
    if missing:
        raise ValueError(problem(who, f"argument {name!r}", "must name columns of the DataFrame",
                                 repr(missing[0] if len(missing) == 1 else missing),
                                 f"Choose among {list(df.columns)[:12]}."))
    return cols


def audit(
    estimator: Any,
    X: Any = None,
    y: Any = None,
    *,
    sensitive_features: Any = None,
    label_column: str | None = None,
    sensitive_column: str | Sequence[str] | None = None,
    score_column: str | None = None,
    prediction_column: str | None = None,
    threshold: float = 0.5,
    pos_label: Any = None,
    privileged_groups: Any = None,
    n_bootstrap: int = 1000,
    confidence: float = 0.95,
    random_state: int | None = 0,
) -> AuditResult:
    """Audit a fitted model on ``X, y``, or a DataFrame of precomputed scores.

    Parameters
    ----------
    estimator : fitted estimator, DataFrame or ray.data.Dataset
        A classifier with ``predict`` (``predict(X, sensitive_features=...)`` is used where it
        takes them, as mitigated predictors do); or a DataFrame holding labels, groups and
        scores or predictions (then ``X`` and ``y`` stay ``None`` and the ``*_column``
        arguments name its columns); or a Ray Dataset of such scores (as
        :func:`fairbridge.distributed.score` returns it), audited on the cluster by
        :func:`fairbridge.distributed.audit`: only per-group counts reach the driver.
    X : array-like or ray.data.Dataset, optional
        Inputs of the model; a Ray Dataset of raw rows is scored on the cluster first.
    y : array-like, optional
        True labels.
    sensitive_features : array-like, Series, DataFrame or dict, optional
        Group memberships (required with a model; with a DataFrame, ``sensitive_column`` may be
        used instead).
    label_column, sensitive_column, score_column, prediction_column : str, optional
        Columns of the DataFrame: the true label, the sensitive feature(s) (a list for
        several), the score of ``pos_label`` (thresholded at ``threshold``) or the predicted
        label.
    threshold, pos_label, privileged_groups, n_bootstrap, confidence, random_state :
        See :func:`audit_predictions`.

    Returns
    -------
    AuditResult

    Examples
    --------
    >>> result = fb.audit(clf, X_test, y_test, sensitive_features=A_test)  # doctest: +SKIP
    >>> result = fb.audit(scores, label_column="y", sensitive_column="sex",
    ...                   score_column="proba")  # doctest: +SKIP
    >>> scores_ds = fb.distributed.score(clf, ray_ds, text_column="text")  # doctest: +SKIP
    >>> result = fb.audit(clf, scores_ds, label_column="y", sensitive_column="sex")  # doctest: +SKIP
    """
    who = "audit"
    options = dict(threshold=threshold, pos_label=pos_label, privileged_groups=privileged_groups,
                   n_bootstrap=n_bootstrap, confidence=confidence, random_state=random_state)
    from .distributed._ray import is_dataset  # imports no ray

    if is_dataset(estimator) or is_dataset(X):
        # A Ray Dataset of scores (or of raw rows, with a model): counted on the cluster.
        from .distributed import audit as ray_audit

        model, data = (None, estimator) if is_dataset(estimator) else (estimator, X)
        if y is not None or sensitive_features is not None:
            raise ValueError(problem(who, "arguments 'y' and 'sensitive_features'",
                                     "must be None with a Ray Dataset",
                                     f"y={describe(y)}, sensitive_features={describe(sensitive_features)}",
                                     "Name the dataset's columns with label_column= and "
                                     "sensitive_column=."))
        return ray_audit(model, data, label_column=label_column, sensitive_column=sensitive_column,
                         score_column=score_column, prediction_column=prediction_column, **options)
    if isinstance(estimator, pd.DataFrame):
        df = estimator
        if X is not None or y is not None:
            raise ValueError(problem(who, "arguments 'X' and 'y'",
                                     "must be None when auditing a DataFrame of scores",
                                     f"X={describe(X)}, y={describe(y)}",
                                     "Name the columns with label_column=, sensitive_column= "
                                     "and score_column= or prediction_column=."))
        if label_column is None:
            raise ValueError(problem(who, "argument 'label_column'",
                                     "is required when auditing a DataFrame", "None",
                                     "Pass label_column='<true label column>'."))
        if score_column is None and prediction_column is None:
            raise ValueError(problem(who, "arguments 'score_column' and 'prediction_column'",
                                     "must not both be None when auditing a DataFrame", "neither",
                                     "Pass score_column='<probability of pos_label>' or "
                                     "prediction_column='<predicted label>'."))
        _columns(who, df, "label_column", label_column)
        if sensitive_column is not None:
            if sensitive_features is not None:
                raise ValueError(problem(who, "arguments 'sensitive_column' and "
                                         "'sensitive_features'", "must not both be given",
                                         "both", "Pass only one of them."))
            cols = _columns(who, df, "sensitive_column", sensitive_column, many=True)
            sensitive_features = df[cols]
        elif sensitive_features is None:
            raise ValueError(problem(who, "argument 'sensitive_column'",
                                     "is required when auditing a DataFrame", "None",
                                     "Pass sensitive_column='<group column>' (or a list)."))
        y_pred = y_score = None
        if prediction_column is not None:
            _columns(who, df, "prediction_column", prediction_column)
            y_pred = df[prediction_column]
        if score_column is not None:
            _columns(who, df, "score_column", score_column)
            y_score = df[score_column]
        return audit_predictions(df[label_column], y_pred, sensitive_features=sensitive_features,
                                 y_score=y_score, **options)
    given = [n for n, v in (("label_column", label_column), ("sensitive_column", sensitive_column),
                            ("score_column", score_column),
                            ("prediction_column", prediction_column)) if v is not None]
    if given:
        raise ValueError(problem(who, f"argument {given[0]!r}",
                                 "is only for auditing a DataFrame of scores",
                                 f"a {type(estimator).__name__} estimator",
                                 "Pass X, y and sensitive_features= with a model."))
    if X is None or y is None:
        raise ValueError(problem(who, "arguments 'X' and 'y'", "are required with a model",
                                 f"X={describe(X)}, y={describe(y)}",
                                 "Pass audit(model, X_test, y_test, sensitive_features=A_test)."))
    if sensitive_features is None:
        raise ValueError(problem(who, "argument 'sensitive_features'", "is required", "None",
                                 "Pass one group label per row of X (e.g. df['sex'])."))
    y_pred = predict_with_groups(estimator, X, sensitive_features)
    return audit_predictions(y, y_pred, sensitive_features=sensitive_features, **options)
