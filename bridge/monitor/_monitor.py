"""``FairnessMonitor``: production windows checked against the reference taken at release."""

from __future__ import annotations

import datetime as _dt
import json
import numbers
import os
import warnings
import zlib
from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
import pandas as pd

from fairbridge._optional import import_optional
from fairbridge._validation import (
    Problems,
    check_int,
    check_number,
    check_one_of,
    describe,
    problem,
)

from ._data import collect_ray, is_ray_dataset, read_table
from ._metrics import group_label
from ._result import Alert, MonitorResult
from ._stats import UNKNOWN, adjust, compare, disparities, group_metrics, interval, tabulate
from ._store import METRIC_COLUMNS, MonitorStore

__all__ = ["FairnessMonitor"]

_WHO = "FairnessMonitor"
Correction = Literal["holm", "bh"]
DriftTest = Literal["ks", "jensenshannon"]

#: Per-group metrics tested in every window, and those that need labels (or CBPE).
_BASE_METRICS = ("selection_rate", "mean_score")
_PERF_METRICS = ("tpr", "fpr", "accuracy")
_DENOMINATOR = {"selection_rate": "n", "mean_score": "n", "accuracy": "n", "tpr": "positives",
                "fpr": "negatives"}
#: Which per-group metric names the groups behind a disparity.
_SOURCE = {"demographic_parity_difference": "selection_rate",
           "demographic_parity_ratio": "selection_rate",
           "equal_opportunity_difference": "tpr", "equalized_odds_difference": "tpr"}


def _import_nannyml() -> Any:
    # NannyML sends usage statistics to a remote service unless this variable is set; a
    # library must not phone home on its users' behalf (set it to "" yourself to opt in).
    os.environ.setdefault("NML_DISABLE_USAGE_LOGGING", "1")
    return import_optional("nannyml", purpose="fairbridge.monitor.FairnessMonitor (estimating "
                           "TPR/FPR/accuracy without labels)")


def _window_key(window: Any, who: str) -> str:
    if isinstance(window, (_dt.date, pd.Timestamp)):
        return window.isoformat()
    if isinstance(window, (int, np.integer)) and not isinstance(window, bool):
        return str(int(window))
    if not isinstance(window, str) or not window.strip():
        raise ValueError(problem(who, "argument 'window'",
                                 "is required: a non-empty key such as '2026-11-01' or '2026-W47'",
                                 describe(window),
                                 "Pass window='<key>'; checking the same key again replaces its rows."))
    return window.strip()


def _labels_array(series: pd.Series, who: str, name: str, column: str) -> np.ndarray:
    missing = series.isna().to_numpy()
    if missing.any():
        rows = np.flatnonzero(missing)
        raise ValueError(problem(
            who, f"column {column!r} of {name!r}", "must not contain missing labels",
            f"{rows.size} missing, first at rows {rows[:5].tolist()}",
            "Drop the unlabeled rows, or pass labeled=False to estimate TPR/FPR/accuracy instead."))
    values = series.to_numpy()
    if values.dtype == bool:
        return values.astype(np.int8)
    uniq = pd.unique(values)

    def binary(u: Any) -> bool:
        return isinstance(u, (numbers.Real, np.number)) and float(u) in (0.0, 1.0)

    if not all(binary(u) for u in uniq):
        raise ValueError(problem(who, f"column {column!r} of {name!r}", "must hold binary labels 0/1",
                                 f"values {[str(u) for u in uniq[:6]]}",
                                 "Encode the favourable outcome as 1 and the other as 0."))
    return (values == 1).astype(np.int8)


class FairnessMonitor:
    """Watch a deployed classifier's fairness window by window, with alerts people can trust.

    The reference is the scored data at release (the audit's data set).  Each window of
    production scores gets, per group: counts, share, selection rate and mean score; with
    labels, TPR, FPR and accuracy; without labels, the same three *estimated* with NannyML's
    confidence-based performance estimation (CBPE, fitted per group on the reference) and
    marked ``estimated``.  Disparities (demographic parity difference and ratio, equalized
    odds difference, equal opportunity difference) come with intervals; the drift of the
    group mix (chi-square) and of each group's score distribution (Kolmogorov-Smirnov, or
    Jensen-Shannon on a histogram) is tested.

    An **alert** needs both a change of at least ``min_effect`` from the reference and
    statistical evidence: a two-sided test whose standard error adds the window's and the
    reference's bootstrap variances (the reference is a sample too), adjusted for all the
    metrics and groups tested in the window (Holm, or Benjamini-Hochberg).  Groups with
    fewer than ``min_group_size`` rows get a "not enough data" note instead of tests; groups
    never seen in the reference are reported as new.  Every check is stored in an SQLite
    database (see ``store``).

    Parameters
    ----------
    reference : DataFrame or path
        Scored reference data (CSV, Parquet or JSON file, or a DataFrame, never modified).
    score_column : str, default="score"
        Probability of the positive (favourable) outcome, in [0, 1].
    sensitive_column : str
        The group column.
    label_column : str, optional
        True outcomes (0/1).  Required in the reference for TPR, FPR and accuracy (measured or
        estimated).
    store : str, path or None, default="monitor.sqlite"
        SQLite file of the history (created if absent); ``None`` keeps it in memory.
    name : str, default="default"
        The monitor's name in the store (several monitors can share one file).
    threshold : float, default=0.5
        A score above the threshold is a positive prediction (as in torchmetrics).
    min_effect : float, default=0.05
        Smallest change (absolute, on the metric's own scale) that can raise an alert.
    min_group_size : int, default=30
        Fewer rows (or positives/negatives, for TPR/FPR) than this: reported, not tested.
    correction : {"holm", "bh"}, default="holm"
        Family-wise (Holm) or false-discovery-rate (Benjamini-Hochberg) adjustment.
    alpha : float, default=0.05
        Level of the tests; intervals are at level ``1 - alpha``.
    drift_test : {"ks", "jensenshannon"}, default="ks"
        Score-distribution drift per group: the KS statistic and test, or the Jensen-Shannon
        distance of 16-bin histograms with a chi-square test of the binned counts.
    n_bootstrap : int, default=400
        Poisson-bootstrap replicates.
    random_state : int, default=0
        Seeds the bootstrap (a window's replicates are also seeded by its key, so checking the
        same window twice gives the same numbers).

    Attributes
    ----------
    groups_ : list of str
        The reference's groups, sorted.
    reference_ : DataFrame
        Per reference group: ``n``, ``share``, ``selection_rate``, ``mean_score`` and, with
        labels, ``tpr``, ``fpr`` and ``accuracy``.
    n_reference_ : int
        Rows in the reference.
    notes_ : list of str
        Notes about the reference (e.g. groups too small to test).
    store_ : MonitorStore
        The history database.
    cbpe_ : dict of str to nannyml.CBPE or None
        Per reference group, the CBPE estimator fitted on the reference (``None``: not enough
        data or a single class); filled at the first window without labels.

    Examples
    --------
    >>> mon = FairnessMonitor(reference, score_column="score", sensitive_column="sex",
    ...                       label_column="y", store="monitor.sqlite")   # doctest: +SKIP
    >>> res = mon.check(window_df, window="2026-11-01")                  # doctest: +SKIP
    >>> res.alerts, res.table, mon.history()                             # doctest: +SKIP
    """

    def __init__(
        self,
        reference: Any,
        *,
        score_column: str = "score",
        sensitive_column: str | None = None,
        label_column: str | None = None,
        store: str | os.PathLike | None = "monitor.sqlite",
        name: str = "default",
        threshold: float = 0.5,
        min_effect: float = 0.05,
        min_group_size: int = 30,
        correction: Correction = "holm",
        alpha: float = 0.05,
        drift_test: DriftTest = "ks",
        n_bootstrap: int = 400,
        random_state: int = 0,
    ) -> None:
        self.score_column = score_column
        self.sensitive_column = sensitive_column
        self.label_column = label_column
        self.store = store
        self.name = name
        self.threshold = threshold
        self.min_effect = min_effect
        self.min_group_size = min_group_size
        self.correction = correction
        self.alpha = alpha
        self.drift_test = drift_test
        self.n_bootstrap = n_bootstrap
        self.random_state = random_state
        self._check_params()
        frame = read_table(reference, who=_WHO, name="reference")
        score, groups, labels = self._extract(frame, who=_WHO, name="reference",
                                              use_labels=label_column is not None)
        codes, uniques = pd.factorize(groups, sort=True)
        names = [group_label(u) for u in uniques]
        if len(names) < 2:
            shown = repr(names[0]) if names else "none"
            raise ValueError(problem(
                _WHO, f"column {sensitive_column!r} of 'reference'", "must have at least 2 groups",
                f"1 group ({shown})",
                "Check that the right column was passed; disparities need two groups."))
        self.groups_ = names
        self._index = {g: i for i, g in enumerate(names)}
        self._ref_codes = codes.astype(np.int64)
        self._ref_score = score
        self._ref_pred = (score > self.threshold).astype(np.int8)
        self._ref_label = labels
        self.n_reference_ = int(score.shape[0])
        lab = np.full(score.shape[0], UNKNOWN, np.int8) if labels is None else labels
        rng = np.random.default_rng([self.random_state, 0])
        self._ref_tables = tabulate(self._ref_codes, self._ref_pred, lab, score, None,
                                    n_groups=len(names), n_bootstrap=self.n_bootstrap, rng=rng)
        self._ref_est_tables: tuple[Any, Any] | None = None
        self._ref_sorted = [np.sort(score[self._ref_codes == g]) for g in range(len(names))]
        self.cbpe_: dict[str, Any] = {}
        point = group_metrics(self._ref_tables[0], "labeled" if labels is not None else "none")
        n = point["n"][0]
        summary = {"n": n.astype(np.int64), "share": n / n.sum()}
        for key in ("selection_rate", "mean_score", "tpr", "fpr", "accuracy"):
            if key in point:
                summary[key] = point[key][0]
        self.reference_ = pd.DataFrame(summary, index=pd.Index(names, name="group"))
        self.notes_ = [f"group {g!r} has {int(n[i])} rows in the reference (< min_group_size="
                       f"{self.min_group_size}): reported, never tested" for i, g in enumerate(names)
                       if n[i] < self.min_group_size]
        self.store_ = MonitorStore(store)

    # -- validation -------------------------------------------------------------------------
    def _check_params(self) -> None:
        p = Problems(_WHO)
        for arg in ("score_column", "sensitive_column"):
            value = getattr(self, arg)
            if not isinstance(value, str) or not value:
                p.add(f"argument {arg!r}", "must name a column", describe(value),
                      f"Pass {arg}='<column>'.", type_error=value is not None)
        if self.label_column is not None and (not isinstance(self.label_column, str) or not self.label_column):
            p.add("argument 'label_column'", "must be None or a column name",
                  describe(self.label_column), "Pass label_column='y'.", type_error=True)
        if not isinstance(self.name, str) or not self.name:
            p.add("argument 'name'", "must be a non-empty str", describe(self.name),
                  "Pass name='my-model'.", type_error=True)
        checks = [
            (check_number, "threshold", {"minimum": 0.0, "maximum": 1.0}),
            (check_number, "min_effect", {"minimum": 0.0}),
            (check_int, "min_group_size", {"minimum": 2}),
            (check_number, "alpha", {"minimum": 0.0, "maximum": 0.5, "strict_minimum": True}),
            (check_int, "n_bootstrap", {"minimum": 50}),
            (check_int, "random_state", {"minimum": 0}),
        ]
        for fn, arg, kw in checks:
            try:
                fn(_WHO, arg, getattr(self, arg), **kw)
            except (TypeError, ValueError) as exc:
                p.messages.append(str(exc))
                p.type_error = p.type_error or isinstance(exc, TypeError)
        for arg, choices in (("correction", ["holm", "bh"]), ("drift_test", ["ks", "jensenshannon"])):
            try:
                check_one_of(_WHO, arg, getattr(self, arg), choices)
            except ValueError as exc:
                p.messages.append(str(exc))
        p.raise_if_any()

    def _extract(self, frame: pd.DataFrame, *, who: str, name: str, use_labels: bool,
                 scores: np.ndarray | None = None) -> tuple[np.ndarray, pd.Series, np.ndarray | None]:
        """Validated ``(scores, groups, labels)`` of a reference or a window."""
        needed = [self.sensitive_column]
        if scores is None:
            needed.insert(0, self.score_column)
        if use_labels:
            needed.append(self.label_column)
        missing = [c for c in needed if c not in frame.columns]
        if missing:
            roles = {self.score_column: "score_column", self.sensitive_column: "sensitive_column",
                     self.label_column: "label_column"}
            which = ", ".join(f"{c!r} ({roles.get(c)})" for c in missing)
            raise ValueError(problem(who, f"argument {name!r}", f"must have the column(s) {which}",
                                     f"columns {list(frame.columns)[:10]}",
                                     "Add the column(s), or name the right ones in FairnessMonitor(...)."))
        if len(frame) == 0:
            raise ValueError(problem(who, f"argument {name!r}", "must have at least one row",
                                     "an empty table", "Pass a window with data (skip empty windows)."))
        if scores is None:
            try:
                scores = frame[self.score_column].to_numpy(dtype=np.float64, na_value=np.nan)
            except (TypeError, ValueError) as exc:
                raise TypeError(problem(who, f"column {self.score_column!r} of {name!r}",
                                        "must be numeric (probabilities)",
                                        f"dtype {frame[self.score_column].dtype}",
                                        "Store scores as floats in [0, 1].")) from exc
            column = self.score_column
        else:
            column = "scores of model"
        bad = ~np.isfinite(scores) | (scores < 0) | (scores > 1)
        if bad.any():
            rows = np.flatnonzero(bad)
            raise ValueError(problem(
                who, f"column {column!r} of {name!r}", "must hold probabilities in [0, 1] without NaN",
                f"{rows.size} value(s) outside [0, 1] or NaN, first at rows {rows[:5].tolist()} "
                f"({scores[rows[:3]].tolist()})",
                "Pass the probability of the favourable class (predict_proba(X)[:, 1]; a sigmoid "
                "of logits), and drop or fill missing scores."))
        groups = frame[self.sensitive_column]
        absent = groups.isna().to_numpy()
        if absent.any():
            rows = np.flatnonzero(absent)
            raise ValueError(problem(
                who, f"column {self.sensitive_column!r} of {name!r}", "must not contain missing groups",
                f"{rows.size} missing, first at rows {rows[:5].tolist()}",
                "Fill them with an explicit group such as 'unknown', or drop those rows."))
        labels = None
        if use_labels:
            labels = _labels_array(frame[self.label_column], who, name, self.label_column)
        return np.ascontiguousarray(scores), groups, labels

    # -- CBPE -------------------------------------------------------------------------------
    def _ensure_cbpe(self) -> None:
        if self._ref_est_tables is not None:
            return
        nml = _import_nannyml()
        for i, g in enumerate(self.groups_):
            mask = self._ref_codes == i
            y = self._ref_label[mask]
            if mask.sum() < self.min_group_size or y.min() == y.max():
                self.cbpe_[g] = None
                continue
            frame = pd.DataFrame({"score": self._ref_score[mask], "pred": self._ref_pred[mask],
                                  "label": y})
            est = nml.CBPE(metrics=["recall", "specificity", "accuracy"], y_pred_proba="score",
                           y_pred="pred", y_true="label", problem_type="classification_binary",
                           chunk_number=1)
            with warnings.catch_warnings():
                # NannyML's own chunking and pandas-deprecation notices, not about the data
                warnings.filterwarnings("ignore", message="The resulting number of chunks is too low")
                warnings.filterwarnings("ignore", module=r"nannyml(\.|$)")
                est.fit(frame)
            self.cbpe_[g] = est
        prob = self._calibrate(self._ref_codes, self._ref_score)
        lab = np.full(self._ref_score.shape[0], UNKNOWN, np.int8)
        rng = np.random.default_rng([self.random_state, 1])
        self._ref_est_tables = tabulate(self._ref_codes, self._ref_pred, lab, self._ref_score, prob,
                                        n_groups=len(self.groups_), n_bootstrap=self.n_bootstrap,
                                        rng=rng)

    def _calibrate(self, codes: np.ndarray, scores: np.ndarray) -> np.ndarray:
        """CBPE's calibrated probabilities per row (NaN for groups without an estimator)."""
        prob = np.full(scores.shape[0], np.nan)
        for i, g in enumerate(self.groups_):
            est = self.cbpe_.get(g)
            if est is None:
                continue
            mask = codes == i
            if mask.any():
                s = scores[mask]
                prob[mask] = est.calibrator.calibrate(s) if est.needs_calibration else s
        return prob

    # -- checking a window --------------------------------------------------------------------
    def check(self, data: Any, *, window: Any = None, model: Any = None,
              text_column: str | None = None, labeled: bool | None = None) -> MonitorResult:
        """Check one window against the reference, store it, and return the result.

        Parameters
        ----------
        data : DataFrame, path or ray.data.Dataset
            The window's rows (never modified).  A Ray dataset is reduced to the needed
            columns by the workers before it reaches the driver.
        window : str, date or int
            The window key (e.g. ``"2026-11-01"``, ``"2026-W47"``).  Checking a key again
            replaces its stored rows.
        model : fitted classifier, optional
            Score the window's raw texts with ``model.predict_proba`` (positive class ``1``,
            else the last column) instead of reading ``score_column``.
        text_column : str, optional
            The text column for ``model`` (default ``"text"``).
        labeled : bool, optional
            ``None`` (default): use ``label_column`` if the window has it, else estimate
            TPR/FPR/accuracy with CBPE.  ``True``: the labels are required.  ``False``:
            estimate even if labels are present.

        Returns
        -------
        MonitorResult
        """
        who = f"{_WHO}.check"
        key = _window_key(window, who)
        if labeled not in (None, True, False):
            raise TypeError(problem(who, "argument 'labeled'", "must be None, True or False",
                                    describe(labeled), "Pass labeled=None to decide from the data."))
        if labeled and self.label_column is None:
            raise ValueError(problem(who, "argument 'labeled'", "needs a label_column on the monitor",
                                     "labeled=True", "Create the monitor with label_column='<column>'."))
        text_column = text_column or "text"
        if is_ray_dataset(data):
            if model is not None:
                raise ValueError(problem(who, "argument 'model'", "cannot score a ray.data.Dataset",
                                         describe(model), "Score the dataset with Ray first "
                                         "(map_batches), then pass its score column."))
            needed = [self.score_column, self.sensitive_column]
            if labeled and self.label_column:
                needed.append(self.label_column)
            optional = (self.label_column,) if self.label_column and labeled is None else ()
            frame = collect_ray(data, needed, who=who, optional=optional)
        else:
            frame = read_table(data, who=who, name="data")
        use_labels = self.label_column is not None and (
            labeled is True or (labeled is None and self.label_column in frame.columns))
        scores = None
        if model is not None:
            scores = self._score_with_model(model, frame, text_column, who)
        score, groups, labels = self._extract(frame, who=who, name="data", use_labels=use_labels,
                                              scores=scores)
        mode = "labeled" if use_labels else ("estimated" if self.label_column is not None else "none")
        rows, alerts, notes = self._evaluate(key, score, groups, labels, mode)
        checked_at = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
        table = pd.DataFrame(rows, columns=["window", *METRIC_COLUMNS])
        table.insert(1, "checked_at", checked_at)
        settings = {k: getattr(self, k) for k in (
            "score_column", "sensitive_column", "label_column", "threshold", "min_effect",
            "min_group_size", "correction", "alpha", "drift_test", "n_bootstrap", "random_state")}
        result = MonitorResult(window=key, monitor=self.name, checked_at=checked_at,
                               n_rows=int(score.shape[0]), labels=mode, alerts=alerts, notes=notes,
                               table=table, settings=settings)
        self.store_.write_window(self.name, key, checked_at=checked_at, n_rows=result.n_rows,
                                 labels=mode, summary=result.summary(), rows=rows)
        return result

    def _score_with_model(self, model: Any, frame: pd.DataFrame, text_column: str,
                          who: str) -> np.ndarray:
        if not hasattr(model, "predict_proba"):
            raise TypeError(problem(who, "argument 'model'", "must have predict_proba",
                                    describe(model), "Pass a fitted classifier (e.g. HFTextClassifier)."))
        if text_column not in frame.columns:
            raise ValueError(problem(who, "argument 'text_column'", "must name a column of data",
                                     repr(text_column), f"Choose one of {list(frame.columns)[:10]}."))
        proba = np.asarray(model.predict_proba(frame[text_column]), dtype=np.float64)
        if proba.ndim == 1:
            return proba
        classes = list(getattr(model, "classes_", []))
        col = classes.index(1) if 1 in classes else proba.shape[1] - 1
        return np.ascontiguousarray(proba[:, col])

    def _evaluate(self, key: str, score: np.ndarray, groups: pd.Series, labels: np.ndarray | None,
                  mode: str) -> tuple[list[dict], list[Alert], list[str]]:
        G = len(self.groups_)
        codes_w, uniques = pd.factorize(groups)
        names_w = [group_label(u) for u in uniques]
        new = sorted({n for n in names_w if n not in self._index})
        all_names = self.groups_ + new
        index = {g: i for i, g in enumerate(all_names)}
        g = np.asarray([index[n] for n in names_w], dtype=np.int64)[codes_w]
        pred = (score > self.threshold).astype(np.int8)
        lab = labels if labels is not None else np.full(score.shape[0], UNKNOWN, np.int8)
        notes: list[str] = list(self.notes_)
        prob = None
        if mode == "estimated":
            self._ensure_cbpe()
            prob = self._calibrate(g, score)
            notes.append("no labels in this window: tpr, fpr and accuracy are estimated with "
                         "NannyML's CBPE (fitted per group on the reference) and marked estimated")
            notes += [f"group {name!r}: no CBPE estimate (too few rows or one class in the "
                      "reference)" for name, est in self.cbpe_.items() if est is None]
        seed = [self.random_state, 2, zlib.crc32(key.encode("utf-8"))]
        point_w, reps_w = tabulate(g, pred, lab, score, prob, n_groups=len(all_names),
                                   n_bootstrap=self.n_bootstrap, rng=np.random.default_rng(seed))
        ref_tables = self._ref_est_tables if mode == "estimated" else self._ref_tables
        mw, mw_b = group_metrics(point_w, mode), group_metrics(reps_w, mode)
        mr, mr_b = group_metrics(ref_tables[0], mode), group_metrics(ref_tables[1], mode)
        n_w, n_r = mw["n"][0], mr["n"][0]
        min_n = self.min_group_size
        metrics = _BASE_METRICS + (_PERF_METRICS if mode != "none" else ())
        estimated = mode == "estimated"

        status = []
        for i, name in enumerate(all_names):
            if i >= G:
                status.append("new")
                notes.append(f"new group {name!r} ({int(n_w[i])} rows): not in the reference; "
                             "reported, not tested")
            elif n_w[i] == 0:
                status.append("absent")
                notes.append(f"group {name!r} is absent from this window")
            elif n_w[i] < min_n or n_r[i] < min_n:
                status.append("small")
                notes.append(f"group {name!r}: not enough data ({int(n_w[i])} rows in the window, "
                             f"{int(n_r[i])} in the reference; min_group_size={min_n})")
            else:
                status.append("ok")
        ok = np.array([s == "ok" for s in status[:G]])

        def enough(metric: str, i: int) -> tuple[bool, str]:
            den = _DENOMINATOR[metric]
            if den == "n":
                return True, ""
            a, b = mw[den][0, i], mr[den][0, i]
            if not (np.isfinite(a) and np.isfinite(b)):
                return False, "not estimable (no CBPE estimator for this group)"
            if a >= min_n and b >= min_n:
                return True, ""
            what = "positives" if den == "positives" else "negatives"
            return False, (f"not enough data: {a:.0f} {what} in the window, {b:.0f} in the "
                           f"reference (min_group_size={min_n})")

        rows: list[dict[str, Any]] = []

        def row(**kw: Any) -> dict[str, Any]:
            base = {c: None for c in METRIC_COLUMNS}
            base.update(window=key, estimated=False, tested=False, alert=False, note="")
            base.update(kw)
            rows.append(base)
            return base

        shares_w = n_w / n_w.sum()
        shares_r = n_r / n_r.sum()
        for i, name in enumerate(all_names):
            known = i < G
            note = {"new": "new group", "absent": "absent from this window",
                    "small": "not enough data"}.get(status[i], "")
            row(kind="group", metric="count", group=name, groups=_names([name]),
                value=float(n_w[i]), reference=float(n_r[i]) if known else None, n=int(n_w[i]),
                n_reference=int(n_r[i]) if known else None, note=note)
            row(kind="group", metric="share", group=name, groups=_names([name]),
                value=float(shares_w[i]), reference=float(shares_r[i]) if known else None, n=int(n_w[i]),
                n_reference=int(n_r[i]) if known else None, note=note)
            for metric in metrics:
                est = estimated and metric in _PERF_METRICS
                value = float(mw[metric][0, i])
                if status[i] != "ok":
                    low, high = interval(mw_b[metric][:, i], self.alpha)
                    row(kind="group", metric=metric, group=name, groups=_names([name]),
                        value=value, low=low, high=high,
                        reference=float(mr[metric][0, i]) if known else None,
                        n=int(n_w[i]), n_reference=int(n_r[i]) if known else None,
                        estimated=est, note=note)
                    continue
                good, why = enough(metric, i)
                cmp = compare(value, mw_b[metric][:, i], float(mr[metric][0, i]),
                              mr_b[metric][:, i], self.alpha)
                testable = good and np.isfinite(cmp.p_value)
                row(kind="group", metric=metric, group=name, groups=_names([name]),
                    **_cmp_fields(cmp), n=int(n_w[i]), n_reference=int(n_r[i]), estimated=est, tested=bool(testable),
                    note=why if not good else ("" if testable else "not testable (undefined value)"))

        # disparities over the groups with enough data in both
        perf_ok = None
        if mode != "none":
            perf_ok = ok & np.array([enough("tpr", i)[0] and enough("fpr", i)[0] for i in range(G)])
        dw = disparities({k: v[:, :G] for k, v in mw.items()}, ok, perf_ok)
        dw_b = disparities({k: v[:, :G] for k, v in mw_b.items()}, ok, perf_ok)
        dr = disparities(mr, ok, perf_ok)
        dr_b = disparities(mr_b, ok, perf_ok)
        for metric in ("demographic_parity_difference", "demographic_parity_ratio",
                       "equalized_odds_difference", "equal_opportunity_difference"):
            if metric not in dw:
                continue
            mask = perf_ok if metric.startswith("equal") else ok
            members = [self.groups_[i] for i in np.flatnonzero(mask)]
            est = estimated and metric.startswith("equal")
            if len(members) < 2:
                row(kind="disparity", metric=metric, group="*", estimated=est,
                    note="fewer than two groups with enough data")
                continue
            src = mw[_SOURCE[metric]][0, :G]
            if metric == "equalized_odds_difference":
                spread_t = np.nanmax(mw["tpr"][0, :G][mask]) - np.nanmin(mw["tpr"][0, :G][mask])
                spread_f = np.nanmax(mw["fpr"][0, :G][mask]) - np.nanmin(mw["fpr"][0, :G][mask])
                src = mw["fpr"][0, :G] if spread_f > spread_t else src
            idx = np.flatnonzero(mask)
            low_g = self.groups_[idx[np.nanargmin(src[idx])]]
            high_g = self.groups_[idx[np.nanargmax(src[idx])]]
            cmp = compare(float(dw[metric][0]), dw_b[metric], float(dr[metric][0]), dr_b[metric],
                          self.alpha)
            testable = np.isfinite(cmp.p_value)
            row(kind="disparity", metric=metric, group="*", groups=_names([low_g, high_g]),
                **_cmp_fields(cmp), n=int(n_w[:G][mask].sum()), n_reference=int(n_r[mask].sum()),
                estimated=est, tested=bool(testable),
                note="" if testable else "not testable (undefined value)")

        # drift of the group mix and of each group's scores
        self._drift_rows(row, g, score, point_w, n_w, n_r, ok)

        # multiple testing, alerts
        tested = [r for r in rows if r["tested"]]
        adjusted = adjust([r["p_value"] for r in tested], self.correction)
        alerts: list[Alert] = []
        for r, p_adj in zip(tested, adjusted):
            r["p_adjusted"] = float(p_adj)
            effect = abs(r["difference"]) if r["kind"] != "drift" else abs(r["value"])
            r["alert"] = bool(p_adj < self.alpha and effect >= self.min_effect)
            if r["alert"]:
                alerts.append(self._alert(key, r, all_names, n_w, n_r))
        return rows, alerts, notes

    def _drift_rows(self, row: Any, g: np.ndarray, score: np.ndarray, point_w: Any,
                    n_w: np.ndarray, n_r: np.ndarray, ok: np.ndarray) -> None:
        from scipy import stats
        from scipy.spatial.distance import jensenshannon

        mix = np.flatnonzero(n_r >= self.min_group_size)
        if mix.size >= 2 and n_w[mix].sum() > 0:
            table = np.vstack([n_r[mix], n_w[mix]])
            chi2, p, _, _ = stats.chi2_contingency(table[:, table.sum(axis=0) > 0])
            share_r = n_r[mix] / n_r[mix].sum()
            share_w = n_w[mix] / n_w[mix].sum()
            tvd = float(0.5 * np.abs(share_w - share_r).sum())
            row(kind="drift", metric="group_mix", group="*",
                groups=_names([self.groups_[i] for i in mix]), value=tvd, reference=0.0,
                difference=tvd, p_value=float(p), n=int(n_w[mix].sum()),
                n_reference=int(n_r[mix].sum()), tested=True,
                note=f"total variation distance of the group shares; chi-square {chi2:.1f}")
        ref_hist = self._ref_tables[0].histogram
        for i in np.flatnonzero(ok):
            name = self.groups_[i]
            if self.drift_test == "ks":
                res = stats.ks_2samp(self._ref_sorted[i], score[g == i])
                stat, p, metric, note = float(res.statistic), float(res.pvalue), "score_drift_ks", \
                    "Kolmogorov-Smirnov statistic"
            else:
                a = ref_hist[i].reshape(16, -1).sum(axis=1)
                b = point_w.histogram[i].reshape(16, -1).sum(axis=1)
                stat = float(jensenshannon(a / a.sum(), b / b.sum(), base=2))
                keep = (a + b) > 0
                p = float(stats.chi2_contingency(np.vstack([a[keep], b[keep]]))[1]) \
                    if keep.sum() >= 2 else 1.0
                metric, note = "score_drift_js", "Jensen-Shannon distance (16 bins); chi-square test"
            row(kind="drift", metric=metric, group=name, groups=_names([name]), value=stat,
                reference=0.0, difference=stat, p_value=p, n=int(n_w[i]), n_reference=int(n_r[i]), tested=True,
                note=note)

    def _alert(self, key: str, r: dict[str, Any], names: Sequence[str], n_w: np.ndarray,
               n_r: np.ndarray) -> Alert:
        groups = tuple(json.loads(r["groups"])) if r["groups"] else ()
        idx = {n: i for i, n in enumerate(names)}
        n = {x: int(n_w[idx[x]]) for x in groups if x in idx}
        n_ref = {x: int(n_r[idx[x]]) for x in groups if x in idx and idx[x] < len(n_r)}
        nan = float("nan")

        def f(v: Any) -> float:
            return nan if v is None else float(v)

        return Alert(window=key, kind=r["kind"], metric=r["metric"], groups=groups,
                     reference=f(r["reference"]), current=f(r["value"]),
                     difference=f(r["difference"]), interval=(f(r["low"]), f(r["high"])),
                     difference_interval=(f(r["difference_low"]), f(r["difference_high"])),
                     p_value=f(r["p_value"]), p_adjusted=f(r["p_adjusted"]), n=n, n_reference=n_ref,
                     estimated=bool(r["estimated"]))

    # -- history and reports --------------------------------------------------------------------
    def history(self) -> pd.DataFrame:
        """Every stored metric row of this monitor, one block per window (sorted by key).

        Columns: ``window``, ``checked_at``, then ``kind`` (``group``, ``disparity``,
        ``drift``), ``metric``, ``group`` (``"*"`` for disparities and the group mix),
        ``groups`` (a JSON list: the group, or the lowest and highest group), ``value``, ``low``, ``high``,
        ``reference``, ``reference_low``, ``reference_high``, ``difference``,
        ``difference_low``, ``difference_high``, ``p_value``, ``p_adjusted``, ``n``,
        ``n_reference``, ``estimated``, ``tested``, ``alert``, ``note``.
        """
        return self.store_.history(self.name)

    def windows(self) -> pd.DataFrame:
        """One row per stored window: key, time, rows, label mode, alert count and summary."""
        return self.store_.windows(self.name)

    def to_html(self, path: str | os.PathLike) -> str:
        """Write a self-contained HTML report of the history (each disparity over the windows
        with its interval band, alert windows marked); returns the path."""
        from ._report import history_html

        text = history_html(self.history(), self.windows(), title=f"Fairness monitor: {self.name}",
                            settings=self._settings())
        with open(path, "w", encoding="utf-8") as fh:
            fh.write(text)
        return str(path)

    def to_json(self, path: str | os.PathLike | None = None) -> str:
        """The history as JSON (``windows`` with their alerts and notes, and ``rows``)."""
        from ._report import history_json

        text = history_json(self.history(), self.windows(), monitor=self.name,
                            settings=self._settings())
        if path is not None:
            with open(path, "w", encoding="utf-8") as fh:
                fh.write(text)
        return text

    def to_markdown(self, path: str | os.PathLike | None = None) -> str:
        """The history as Markdown (alerts per window and the disparities table)."""
        from ._report import history_markdown

        text = history_markdown(self.history(), self.windows(), title=f"Fairness monitor: {self.name}")
        if path is not None:
            with open(path, "w", encoding="utf-8") as fh:
                fh.write(text)
        return text

    def _settings(self) -> dict[str, Any]:
        return {"store": None if self.store is None else str(self.store), "name": self.name,
                "score_column": self.score_column, "sensitive_column": self.sensitive_column,
                "label_column": self.label_column, "threshold": self.threshold,
                "min_effect": self.min_effect, "min_group_size": self.min_group_size,
                "correction": self.correction, "alpha": self.alpha, "drift_test": self.drift_test,
                "groups": list(self.groups_), "n_reference": self.n_reference_}

    def __repr__(self) -> str:
        return (f"FairnessMonitor(groups={self.groups_}, n_reference={self.n_reference_}, "
                f"store={str(self.store)!r}, name={self.name!r})")


def _names(groups: Sequence[str]) -> str:
    """The ``groups`` column: a JSON list, so that any group name survives the round trip."""
    return json.dumps([str(g) for g in groups], ensure_ascii=False)


def _cmp_fields(cmp: Any) -> dict[str, float]:
    return {"value": cmp.value, "low": cmp.low, "high": cmp.high, "reference": cmp.reference,
            "reference_low": cmp.reference_low, "reference_high": cmp.reference_high,
            "difference": cmp.difference, "difference_low": cmp.difference_low,
            "difference_high": cmp.difference_high, "p_value": cmp.p_value}
