"""``compare(..., engine="ray")``: the comparison of mitigation methods, scored on Ray Data.

The network runs once, on the cluster: the training and test rows are scored in one
:func:`~fairbridge.distributed.score` run (one actor pool) with ``return_features=True``.  What
every method needs from the model is then on the driver in a few small columns (penultimate
features, label, groups; never the texts): head refits (reductions, reweighing, the fairness
loss) retrain the head on the features, post-processors work on the scores the head gives,
embedding methods use the features directly.  The methods run through
:func:`fairbridge._compare.compare` on a :class:`~fairbridge.distributed.HeadClassifier` that
scores the features as the adapter scores the texts, so the table is the one
``engine="local"`` gives (to float tolerance).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from fairbridge._validation import describe, problem

from ._collect import collect, stack_features
from ._head import HeadClassifier
from ._ray import import_ray

__all__ = ["compare", "compare_arrays"]

_WHO = "fairbridge.distributed.compare"
_SPLIT = "__fairbridge_split__"


def _labels(col: pd.Series) -> np.ndarray:
    vals = col.tolist()
    if all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in vals):
        return np.asarray(vals, dtype=np.int64)
    return np.asarray(vals, dtype=object)


def _as_dataset(ray: Any, data: Any, name: str) -> Any:
    if isinstance(data, ray.data.Dataset):
        return data
    if isinstance(data, pd.DataFrame):
        return ray.data.from_pandas(data)
    raise TypeError(problem(_WHO, f"argument {name!r}", "must be a ray.data.Dataset or a DataFrame",
                            describe(data), "Read the data with ray.data.read_parquet(path), or "
                            "pass compare_arrays(...) the arrays of a local comparison."))


def compare(
    estimator: Any,
    train: Any,
    test: Any,
    *,
    label_column: str,
    sensitive_column: str | Sequence[str],
    text_column: str = "text",
    methods: Sequence[Any] | None = None,
    drop_invalid: bool = False,
    concurrency: int = 2,
    num_gpus: float = 0,
    num_cpus: float | None = None,
    batch_size: int = 512,
    score_options: dict | None = None,
    **compare_options: Any,
) -> Any:
    """Compare mitigation methods with the model scored on Ray Data (``engine="ray"``).

    Parameters
    ----------
    estimator : HFTextClassifier
        The fitted baseline (``refit="head"`` or ``"none"``), loadable from a path or hub id
        on every worker.
    train, test : ray.data.Dataset or DataFrame
        The two splits, each with ``text_column``, ``label_column`` and the sensitive
        column(s).
    label_column : str
        The true label.
    sensitive_column : str or list of str
        The sensitive feature(s).
    text_column : str, default="text"
        The texts.
    methods : sequence, optional
        As for :func:`fairbridge.compare` (default: every registered method).
    drop_invalid : bool, default=False
        Rows that cannot be used (malformed text, missing label or group) raise a
        ``ValueError`` naming their ids; ``True`` leaves them out with a note.
    concurrency, num_gpus, num_cpus, batch_size :
        The scoring run (see :func:`~fairbridge.distributed.score`).
    score_options : dict, optional
        More arguments of :func:`~fairbridge.distributed.score`.
    **compare_options
        ``primary_disparity``, ``pos_label``, ``privileged_groups``, ``n_bootstrap``,
        ``confidence``, ``random_state``, ``progress``, ``config`` of
        :func:`fairbridge.compare`.

    Returns
    -------
    ComparisonResult
        The same table as ``engine="local"``.  Its predictors (``select(name)``) take the
        penultimate features as ``X``: apply them to new rows with
        ``predict_on_ray(result.select(name), score(clf, ds, return_features=True),
        inputs="features", sensitive_column=...)``.
    """
    from fairbridge._compare import compare as local_compare

    from ._score import score

    ray = import_ray(_WHO)
    groups = [sensitive_column] if isinstance(sensitive_column, str) else list(sensitive_column)
    parts = []
    for k, (name, data) in enumerate((("train", train), ("test", test))):
        ds = _as_dataset(ray, data, name)
        names = list(getattr(ds.schema(), "names", []) or [])
        for col in [text_column, label_column, *groups]:
            if names and col not in names:
                raise ValueError(problem(_WHO, f"argument {name!r}", f"must have the column {col!r}",
                                         f"columns {names[:10]}", "Pass the column names with "
                                         "text_column=, label_column= and sensitive_column=."))
        parts.append(ds.select_columns([text_column, label_column, *groups]).map_batches(
            _mark, fn_kwargs={"split": k}, batch_format="pandas"))
    t0 = time.perf_counter()
    scored = score(estimator, parts[0].union(parts[1]), text_column=text_column,
                   label_column=label_column, concurrency=concurrency, num_gpus=num_gpus,
                   num_cpus=num_cpus, batch_size=batch_size, return_features=True,
                   **(score_options or {})).materialize()
    scoring_s = time.perf_counter() - t0
    data = collect(scored, ["features", label_column, *groups, _SPLIT, "error"],
                   drop_invalid=False)
    bad = ~data["error"].isna().to_numpy()
    for col in [label_column, *groups]:
        bad |= pd.isna(data[col]).to_numpy()
    notes = []
    if bad.any():
        ids = data.loc[bad, "row_id"].tolist()
        shown = ", ".join(map(str, ids[:5]))
        if not drop_invalid:
            raise ValueError(problem(
                _WHO, "arguments 'train' and 'test'", "must hold only rows that can be used",
                f"{int(bad.sum())} invalid row(s) (row_id {shown} of the train rows followed by "
                "the test rows)", "Fix or filter them (fairbridge.distributed.invalid_rows "
                "lists them with the reason), or pass drop_invalid=True."))
        notes.append(f"{int(bad.sum())} rows could not be used and were left out "
                     f"(drop_invalid=True), e.g. row_id {shown}.")
    data = data.loc[~bad]
    split = data[_SPLIT].to_numpy()
    tr, te = data[split == 0], data[split == 1]
    options = dict(compare_options)
    config = dict(options.pop("config", None) or {})
    config["engine"] = "ray"
    config["ray"] = {"scoring_seconds": scoring_s, "rows_scored": int(len(split) + bad.sum()),
                     "concurrency": concurrency, "num_gpus": num_gpus,
                     "rows_left_out": int(bad.sum())}
    base = HeadClassifier.from_fitted(estimator)
    result = local_compare(base, stack_features(tr["features"]), _labels(tr[label_column]),
                           stack_features(te["features"]), _labels(te[label_column]),
                           sensitive_features_train=tr[groups].reset_index(drop=True),
                           sensitive_features_test=te[groups].reset_index(drop=True),
                           methods=methods, config=config, **options)
    result.notes.extend(notes + [
        f"Scored on Ray Data ({concurrency} actor(s), {scoring_s:.1f} s); the methods ran on the "
        "penultimate features and scores (the texts never left the cluster), so the forward "
        "counts of the driver are zero."])
    return result


def _mark(batch: pd.DataFrame, *, split: int) -> pd.DataFrame:
    out = batch.copy(deep=False)
    out[_SPLIT] = np.full(len(batch), split, dtype=np.int8)
    return out


def compare_arrays(estimator: Any, X_train: Any, y_train: Any, X_test: Any, y_test: Any, *,
                   sensitive_features_train: Any, sensitive_features_test: Any,
                   **options: Any) -> Any:
    """:func:`compare` for the arguments of a local :func:`fairbridge.compare` (texts in memory).

    The hook for ``fairbridge.compare(..., engine="ray")`` with arrays: the texts are put into
    Ray's object store as two datasets and scored there.
    """
    from fairbridge._validation import check_sensitive_features, check_text_input

    frames = []
    for name, X, y, A in (("train", X_train, y_train, sensitive_features_train),
                          ("test", X_test, y_test, sensitive_features_test)):
        texts = check_text_input(X, who=_WHO, text_column=getattr(estimator, "text_column", None),
                                 name=f"X_{name}")
        groups = check_sensitive_features(A, who=_WHO, n_samples=len(texts),
                                          name=f"sensitive_features_{name}")
        y_arr = np.asarray(y.tolist() if isinstance(y, pd.Series) else y)
        frame = pd.DataFrame({"__text__": pd.Series(texts, dtype=object), "__label__": y_arr})
        for col in groups.columns:
            frame[col] = groups[col].to_numpy()
        frames.append(frame)
    group_cols = [c for c in frames[0].columns if c not in ("__text__", "__label__")]
    return compare(estimator, frames[0], frames[1], label_column="__label__",
                   sensitive_column=group_cols, text_column="__text__", **options)
