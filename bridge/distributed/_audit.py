"""Auditing a Ray Dataset of scores: counts aggregate on the cluster, metrics on the driver.

Every metric of an audit (per-group rates, the Fairlearn and AIF360 disparities and their
bootstrap intervals) is a function of the counts of the cells *groups x true label x
predicted label*.  :func:`cell_counts` computes those counts on the dataset: each block is
reduced to its own small table of cells by a Ray task (a combiner), and the driver adds up the
partial tables, whose size is (blocks x cells), not rows.  No text, score or feature column
ever reaches the driver.  :func:`audit` then hands the cells to
:func:`fairbridge._audit.audit_predictions`, the same core as a local audit, so the result
is the same :class:`~fairbridge._audit.AuditResult` a local audit of the same rows gives.

Rows that cannot be audited (a scoring ``error``, a missing label, group or prediction) are
counted and reported with their ids: :func:`audit` refuses them unless ``drop_invalid=True``
(then a note in the result lists them), and :func:`invalid_rows` returns all of them.
"""

from __future__ import annotations

import pickle
from collections import Counter
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from fairbridge._validation import describe, problem

from ._ray import import_ray

__all__ = ["CellCounts", "audit", "cell_counts", "invalid_rows"]

_WHO = "fairbridge.distributed.audit"
#: Ids of invalid rows kept per block (and in total) for error messages and notes.
_IDS_SHOWN = 20


class CellCounts:
    """The cells *groups x true label x prediction* of a dataset, and its invalid rows.

    Attributes
    ----------
    cells : DataFrame
        One row per distinct combination: the sensitive columns (as str), ``y_true``,
        ``y_pred`` and ``count``.
    n_rows : int
        Rows seen.
    n_invalid : int
        Rows left out (see ``invalid_examples``).
    invalid_examples : list of (id, reason)
        Up to 20 of them, with their ids.
    sensitive_columns : list of str
        The sensitive columns.
    """

    def __init__(self, cells: pd.DataFrame, n_rows: int, n_invalid: int,
                 invalid_examples: list[tuple[Any, str]], sensitive_columns: list[str]) -> None:
        self.cells = cells
        self.n_rows = n_rows
        self.n_invalid = n_invalid
        self.invalid_examples = invalid_examples
        self.sensitive_columns = sensitive_columns

    def expand(self) -> tuple[np.ndarray, np.ndarray, pd.DataFrame]:
        """Per-row ``(y_true, y_pred, sensitive_frame)`` rebuilt from the counts (no texts)."""
        reps = self.cells["count"].to_numpy(dtype=np.int64)
        yt = np.repeat(_values(self.cells["y_true"]), reps)
        yp = np.repeat(_values(self.cells["y_pred"]), reps)
        groups = pd.DataFrame({c: np.repeat(self.cells[c].to_numpy(dtype=object), reps)
                               for c in self.sensitive_columns})
        return yt, yp, groups

    def __repr__(self) -> str:
        return (f"CellCounts(n_rows={self.n_rows}, cells={len(self.cells)}, "
                f"n_invalid={self.n_invalid})")


def _values(col: pd.Series) -> np.ndarray:
    """Labels as one numpy array: ints stay ints, strings stay strings."""
    vals = col.tolist()
    if all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in vals):
        return np.asarray(vals, dtype=np.int64)
    if all(isinstance(v, (float, np.floating)) for v in vals):
        return np.asarray(vals, dtype=np.float64)
    return np.asarray(vals, dtype=object)


def _plain(v: Any) -> Any:
    """numpy / pyarrow scalars as plain Python values (so 1 and np.int64(1) are one label)."""
    if isinstance(v, np.generic):
        return v.item()
    return v


def _partial(batch: pd.DataFrame, *, label: str, groups: list[str], pred: str | None,
             score: str | None, threshold: float, id_column: str | None,
             error_column: str | None) -> pd.DataFrame:
    """One block's cells and invalid rows, as one pickled row (schema-free, tiny)."""
    n = len(batch)
    bad = np.zeros(n, dtype=bool)
    reasons: list[list[str]] = [[] for _ in range(n)]

    def flag(mask: np.ndarray, why: str) -> None:
        for i in np.flatnonzero(mask):
            reasons[i].append(why)
        bad[mask] = True

    if error_column is not None and error_column in batch.columns:
        err = batch[error_column]
        has = ~pd.isna(err).to_numpy()
        for i in np.flatnonzero(has):
            reasons[i].append(str(err.iloc[i]))
        bad[has] = True
    flag(pd.isna(batch[label]).to_numpy(), "label is missing")
    for g in groups:
        flag(pd.isna(batch[g]).to_numpy(), f"group {g!r} is missing")
    # a missing prediction is only news when no scoring error explains it already
    if pred is not None:
        flag(pd.isna(batch[pred]).to_numpy() & ~bad, "prediction is missing")
        yp_all = batch[pred]
    else:
        s = pd.to_numeric(batch[score], errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
        flag(~np.isfinite(s) & ~bad, "score is missing")
        yp_all = pd.Series(np.where(np.isfinite(s), (s > threshold).astype(np.int64), -1))
    good = ~bad
    keys = [batch[g].astype(str).to_numpy(dtype=object)[good] for g in groups]
    yt = [_plain(v) for v in batch[label].to_numpy(dtype=object)[good]]
    yp = [_plain(v) for v in yp_all.to_numpy(dtype=object)[good]]
    counter: Counter = Counter(zip(*keys, yt, yp))
    ids = (batch[id_column].to_numpy(dtype=object) if id_column is not None
           else np.full(n, None, dtype=object))
    examples = [(_plain(ids[i]), "; ".join(dict.fromkeys(reasons[i])))
                for i in np.flatnonzero(bad)[:_IDS_SHOWN]]
    payload = {"cells": dict(counter), "n": n, "n_bad": int(bad.sum()), "examples": examples}
    return pd.DataFrame({"partial": [pickle.dumps(payload)]})


def _check_columns(who: str, names: list[str], **columns: Any) -> None:
    for arg, cols in columns.items():
        for col in ([cols] if isinstance(cols, str) or cols is None else list(cols)):
            if col is not None and names and col not in names:
                raise ValueError(problem(who, f"argument {arg!r}", "must name a column of the dataset",
                                         repr(col), f"Choose one of {names[:12]}."))


def _sensitive_list(who: str, sensitive_column: Any) -> list[str]:
    if isinstance(sensitive_column, str):
        return [sensitive_column]
    if isinstance(sensitive_column, (list, tuple)) and sensitive_column and all(
            isinstance(c, str) for c in sensitive_column):
        return list(sensitive_column)
    raise TypeError(problem(who, "argument 'sensitive_column'",
                            "must be a column name or a non-empty list of them",
                            describe(sensitive_column), "Pass sensitive_column='sex'."))


def cell_counts(
    scores: Any,
    *,
    label_column: str,
    sensitive_column: str | Sequence[str],
    prediction_column: str | None = "prediction",
    score_column: str | None = None,
    threshold: float = 0.5,
    id_column: str | None = "row_id",
    error_column: str | None = "error",
    who: str = "fairbridge.distributed.cell_counts",
) -> CellCounts:
    """Count the cells *groups x label x prediction* of a scored dataset, on Ray.

    Parameters
    ----------
    scores : ray.data.Dataset
        Rows with labels, groups and predictions (or scores), e.g. from :func:`score`.
    label_column : str
        The true label.
    sensitive_column : str or list of str
        The sensitive feature(s).
    prediction_column : str or None, default="prediction"
        The predicted label.  ``None`` thresholds ``score_column`` instead.
    score_column : str, optional
        Probability of the positive class, used (with ``threshold``) when
        ``prediction_column`` is ``None``; the prediction is then ``1`` (at or above) or ``0``.
    threshold : float, default=0.5
        Threshold on ``score_column``.
    id_column : str or None, default="row_id"
        Column that identifies rows in reports of invalid rows.
    error_column : str or None, default="error"
        Rows with a non-null value here are invalid (ignored when the column is absent).
    who : str
        For error messages.

    Returns
    -------
    CellCounts
    """
    ray = import_ray(who)
    if not isinstance(scores, ray.data.Dataset):
        raise TypeError(problem(who, "argument 'scores'", "must be a ray.data.Dataset",
                                describe(scores), "Pass the dataset returned by "
                                "fairbridge.distributed.score()."))
    groups = _sensitive_list(who, sensitive_column)
    if prediction_column is None and score_column is None:
        raise ValueError(problem(who, "arguments 'prediction_column' and 'score_column'",
                                 "must not both be None", "neither",
                                 "Pass prediction_column='prediction' or score_column='score'."))
    names = list(getattr(scores.schema(), "names", []) or [])
    _check_columns(who, names, label_column=label_column, sensitive_column=groups,
                   prediction_column=prediction_column, score_column=score_column,
                   id_column=id_column)
    err = error_column if error_column is not None and error_column in names else None
    needed = list(dict.fromkeys([label_column, *groups]
                                + ([prediction_column] if prediction_column else [score_column])
                                + ([id_column] if id_column else []) + ([err] if err else [])))
    partials = scores.select_columns(needed).map_batches(
        _partial, batch_format="pandas", batch_size=None,
        fn_kwargs=dict(label=label_column, groups=groups, pred=prediction_column,
                       score=score_column if prediction_column is None else None,
                       threshold=float(threshold), id_column=id_column, error_column=err),
    ).to_pandas()
    total: Counter = Counter()
    n_rows = n_bad = 0
    examples: list[tuple[Any, str]] = []
    for blob in partials["partial"].tolist():
        part = pickle.loads(blob)
        total.update(part["cells"])
        n_rows += part["n"]
        n_bad += part["n_bad"]
        if len(examples) < _IDS_SHOWN:
            examples.extend(part["examples"][: _IDS_SHOWN - len(examples)])
    examples.sort(key=lambda e: (str(type(e[0])), e[0]) if e[0] is not None else ("", 0))
    rows = [(*key, count) for key, count in total.items()]
    cells = pd.DataFrame(rows, columns=[*groups, "y_true", "y_pred", "count"])
    if not cells.empty:
        cells = cells.sort_values([*groups, "count"], kind="stable").reset_index(drop=True)
    return CellCounts(cells, n_rows, n_bad, examples, groups)


def invalid_rows(scores: Any, *, label_column: str | None = None,
                 sensitive_column: str | Sequence[str] | None = None,
                 id_column: str = "row_id", error_column: str = "error") -> pd.DataFrame:
    """Every row that cannot be audited, with its id and the reason (only those rows return).

    Parameters
    ----------
    scores : ray.data.Dataset
        The output of :func:`score`.
    label_column : str, optional
        Also report rows whose label is missing.
    sensitive_column : str or list of str, optional
        Also report rows whose group is missing.
    id_column : str, default="row_id"
        The id column.
    error_column : str, default="error"
        The column :func:`score` fills for rows it could not score.

    Returns
    -------
    DataFrame
        Columns ``id_column`` and ``"reason"``, sorted by id.
    """
    who = "fairbridge.distributed.invalid_rows"
    ray = import_ray(who)
    if not isinstance(scores, ray.data.Dataset):
        raise TypeError(problem(who, "argument 'scores'", "must be a ray.data.Dataset",
                                describe(scores), "Pass the dataset returned by score()."))
    groups = [] if sensitive_column is None else _sensitive_list(who, sensitive_column)
    names = list(getattr(scores.schema(), "names", []) or [])
    _check_columns(who, names, id_column=id_column, label_column=label_column,
                   sensitive_column=groups)
    cols = [c for c in dict.fromkeys([id_column, error_column, label_column, *groups])
            if c is not None and c in names]

    def reasons(batch: pd.DataFrame) -> pd.DataFrame:
        why = [[] for _ in range(len(batch))]
        if error_column in batch.columns:
            for i, v in enumerate(batch[error_column].tolist()):
                if not pd.isna(v):
                    why[i].append(str(v))
        checks = ([(label_column, "label is missing")] if label_column else []) + [
            (g, f"group {g!r} is missing") for g in groups]
        for col, text in checks:
            for i in np.flatnonzero(pd.isna(batch[col]).to_numpy()):
                why[i].append(text)
        keep = [i for i, w in enumerate(why) if w]
        return pd.DataFrame({id_column: batch[id_column].iloc[keep].to_numpy(),
                             "reason": pd.array(["; ".join(dict.fromkeys(why[i])) for i in keep],
                                                dtype="string")})

    out = scores.select_columns(cols).map_batches(reasons, batch_format="pandas").to_pandas()
    out = out.sort_values(id_column, kind="stable").reset_index(drop=True)
    out["reason"] = out["reason"].astype(str)
    return out


def audit(
    estimator: Any,
    scores: Any,
    *,
    label_column: str,
    sensitive_column: str | Sequence[str],
    prediction_column: str | None = None,
    score_column: str | None = None,
    threshold: float = 0.5,
    pos_label: Any = None,
    privileged_groups: Any = None,
    n_bootstrap: int = 1000,
    confidence: float = 0.95,
    random_state: int | None = 0,
    id_column: str = "row_id",
    drop_invalid: bool = False,
    text_column: str = "text",
    **score_options: Any,
) -> Any:
    """Audit a model on a Ray Dataset: the same :class:`AuditResult` as ``fb.audit`` locally.

    The counts aggregate on the cluster (see :func:`cell_counts`); only the small table of
    cells reaches the driver, where Fairlearn's and AIF360's own metrics and the bootstrap
    intervals are computed by :func:`fairbridge._audit.audit_predictions`.

    Parameters
    ----------
    estimator : HFTextClassifier or None
        The fitted adapter.  Used to score ``scores`` first when it has no prediction or score
        column yet (then ``score_options`` go to :func:`score`); ``None`` when ``scores``
        already holds predictions.
    scores : ray.data.Dataset
        The output of :func:`score`, or raw rows to score with ``estimator``.
    label_column : str
        The true label.
    sensitive_column : str or list of str
        The sensitive feature(s); several are audited one by one and intersected.
    prediction_column : str, optional
        The predicted label; default ``"prediction"`` when present (what ``predict`` gives).
    score_column : str, optional
        Audit ``score > threshold`` instead of ``prediction_column``.
    threshold, pos_label, privileged_groups, n_bootstrap, confidence, random_state :
        See :func:`fairbridge._audit.audit_predictions`.
    id_column : str, default="row_id"
        Identifies the rows reported as invalid (when ``scores`` is scored here and has this
        column, it is also the id column of :func:`score`; else ``row_id`` is added).
    drop_invalid : bool, default=False
        Rows that cannot be audited (scoring error, missing label, group or prediction) raise
        a ``ValueError`` listing their ids; ``True`` leaves them out and says so in
        ``notes``.
    text_column : str, default="text"
        The text column, when ``estimator`` scores ``scores`` first.
    **score_options
        Passed to :func:`score` when it runs (``concurrency``, ``num_gpus``, ...).

    Returns
    -------
    AuditResult
    """
    from fairbridge._audit import audit_predictions

    ray = import_ray(_WHO)
    if not isinstance(scores, ray.data.Dataset):
        raise TypeError(problem(_WHO, "argument 'scores'", "must be a ray.data.Dataset",
                                describe(scores), "Pass the dataset returned by "
                                "fairbridge.distributed.score(), or use fairbridge.audit for "
                                "data in memory."))
    names = list(getattr(scores.schema(), "names", []) or [])
    if prediction_column is None and score_column is None:
        if "prediction" not in names:
            if estimator is None:
                raise ValueError(problem(
                    _WHO, "argument 'estimator'", "is required when the dataset has no "
                    "'prediction' column", "None",
                    "Pass the fitted adapter to score the rows first, or name the columns with "
                    "prediction_column= / score_column=."))
            from ._score import score as _score

            own_id = id_column if id_column in names else None
            scores = _score(estimator, scores, text_column=text_column, id_column=own_id,
                            label_column=label_column, **score_options)
            names = list(getattr(scores.schema(), "names", []) or [])
            if id_column not in names and "row_id" in names:
                id_column = "row_id"
        prediction_column = "prediction"
    elif score_options:
        raise TypeError(problem(_WHO, "arguments " + ", ".join(map(repr, score_options)),
                                "are only for scoring the dataset first", "them with "
                                "an already scored dataset", "Drop them."))
    if id_column not in names:
        id_column = None  # type: ignore[assignment]
    counts = cell_counts(scores, label_column=label_column, sensitive_column=sensitive_column,
                         prediction_column=prediction_column,
                         score_column=score_column if prediction_column is None else None,
                         threshold=threshold, id_column=id_column, who=_WHO)
    shown = ", ".join(f"{i!r} ({why})" for i, why in counts.invalid_examples[:5])
    if counts.n_invalid and not drop_invalid:
        raise ValueError(problem(
            _WHO, "argument 'scores'", "must hold only rows that can be audited",
            f"{counts.n_invalid} invalid row(s) of {counts.n_rows}, e.g. {id_column or 'row'} {shown}",
            "Fix or filter them (fairbridge.distributed.invalid_rows lists them all), or pass "
            "drop_invalid=True to leave them out."))
    if counts.cells.empty:
        raise ValueError(problem(_WHO, "argument 'scores'", "must hold at least one valid row",
                                 f"{counts.n_rows} rows, none valid", "Check the columns."))
    yt, yp, groups = counts.expand()
    options = dict(sensitive_features=groups, pos_label=pos_label,
                   privileged_groups=privileged_groups, n_bootstrap=n_bootstrap,
                   confidence=confidence, random_state=random_state)
    if prediction_column is None:
        # cells hold 1 (score > threshold) / 0: as scores of 1.0 / 0.0 at threshold 0.5 they
        # give audit_predictions exactly the predictions it would make from the raw scores.
        result = audit_predictions(yt, None, y_score=yp.astype(np.float64), threshold=0.5, **options)
    else:
        result = audit_predictions(yt, yp, **options)
    if counts.n_invalid:
        result.notes.append(
            f"{counts.n_invalid} of {counts.n_rows} rows could not be audited and were left out "
            f"(drop_invalid=True), e.g. {id_column or 'row'} {shown}. "
            "fairbridge.distributed.invalid_rows lists them all.")
    result.notes.append(f"Counted on Ray Data: {counts.n_rows} rows reduced to "
                        f"{len(counts.cells)} cells (groups x label x prediction) on the cluster.")
    return result

