"""Moving small columns to the driver, and fitted predictors back out to the dataset.

:func:`collect` brings chosen columns of a scored dataset to the driver (scores, labels, groups,
features: never the texts unless asked for by name), in row-id order.  :func:`predict_on_ray`
goes the other way: it applies a fitted predictor (a refitted head, an ExponentiatedGradient
over heads, a post-processor) to the features or scores of every row, on the cluster, and
adds its predictions as a column.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
import pandas as pd

from fairbridge._validation import describe, problem

from ._ray import import_ray

__all__ = ["collect", "predict_on_ray", "stack_features"]


def stack_features(column: Any) -> np.ndarray:
    """A ``features`` column (one array per row) as a float32 matrix ``(n_rows, n_features)``."""
    values = list(column)
    if not values:
        return np.zeros((0, 0), dtype=np.float32)
    return np.stack([np.asarray(v, dtype=np.float32) for v in values])


def _names(ds: Any) -> list[str]:
    return list(getattr(ds.schema(), "names", []) or [])


def collect(scores: Any, columns: Sequence[str], *, id_column: str | None = "row_id",
            drop_invalid: bool = True, error_column: str = "error") -> pd.DataFrame:
    """Bring ``columns`` of a scored dataset to the driver, sorted by ``id_column``.

    Only the named columns travel (``select_columns`` runs on the cluster), so e.g.
    ``["score", "y", "sex"]`` costs a few bytes per row whatever the texts weigh.

    Parameters
    ----------
    scores : ray.data.Dataset
        The output of :func:`score` (or any dataset).
    columns : sequence of str
        Columns to bring back (``id_column`` is added).
    id_column : str or None, default="row_id"
        Sorts the rows (``None``: the dataset's order, which Ray does not guarantee).
    drop_invalid : bool, default=True
        Leave out rows with a non-null ``error_column`` or a null in ``columns``.
    error_column : str, default="error"
        Rows the scorer could not score.

    Returns
    -------
    DataFrame
    """
    who = "fairbridge.distributed.collect"
    ray = import_ray(who)
    if not isinstance(scores, ray.data.Dataset):
        raise TypeError(problem(who, "argument 'scores'", "must be a ray.data.Dataset",
                                describe(scores), "Pass the dataset returned by score()."))
    if isinstance(columns, str):
        columns = [columns]
    names = _names(scores)
    cols = list(dict.fromkeys(([id_column] if id_column else []) + list(columns)))
    missing = [c for c in cols if c not in names]
    if missing:
        raise ValueError(problem(who, "argument 'columns'", "must name columns of the dataset",
                                 repr(missing), f"Choose among {names[:12]}."))
    wanted = cols + ([error_column] if drop_invalid and error_column in names
                     and error_column not in cols else [])
    ds = scores.select_columns(wanted)
    if drop_invalid:
        check = [c for c in cols if c != id_column]

        def keep(batch: pd.DataFrame) -> pd.DataFrame:
            ok = np.ones(len(batch), dtype=bool)
            if error_column in batch.columns:
                ok &= pd.isna(batch[error_column]).to_numpy()
            for c in check:
                col = batch[c]
                if col.dtype == object:
                    ok &= ~np.array([v is None or (isinstance(v, float) and np.isnan(v))
                                     for v in col.tolist()], dtype=bool)
                else:
                    ok &= ~pd.isna(col).to_numpy()
            return batch.loc[ok, cols]

        ds = ds.map_batches(keep, batch_format="pandas")
    out = ds.to_pandas()
    if id_column:
        out = out.sort_values(id_column, kind="stable")
    return out.reset_index(drop=True)


def _apply(batch: pd.DataFrame, *, predictor: Any, inputs: str, column: str,
           sensitive_column: str | None, method: str, output_column: str,
           proba_index: int | None, kind: str) -> pd.DataFrame:
    """One batch: predictions of the rows whose inputs (and group) are present, else null."""
    if inputs == "features":
        values = batch[column].tolist()
        ok = np.array([v is not None and bool(np.all(np.isfinite(np.asarray(v, dtype=np.float32))))
                       for v in values], dtype=bool)
    else:
        s = pd.to_numeric(batch[column], errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
        ok = np.isfinite(s)
    kwargs: dict[str, Any] = {}
    if sensitive_column is not None:
        ok &= ~pd.isna(batch[sensitive_column]).to_numpy()
    rows = np.flatnonzero(ok)
    result: list[Any] = [None] * len(batch)
    if rows.size:
        if inputs == "features":
            X: Any = stack_features([values[i] for i in rows])
        else:
            X = pd.DataFrame({column: s[rows]})
        if sensitive_column is not None:
            kwargs["sensitive_features"] = (
                batch[sensitive_column].astype(str).to_numpy(dtype=object)[rows])
        pred = np.asarray(getattr(predictor, method)(X, **kwargs))
        if proba_index is not None and pred.ndim == 2:
            pred = pred[:, proba_index]
        for j, i in enumerate(rows):
            result[i] = pred[j].item() if isinstance(pred[j], np.generic) else pred[j]
    out = batch.copy(deep=False)
    if kind == "int":
        out[output_column] = pd.array([None if v is None else int(v) for v in result], dtype="Int64")
    elif kind == "float":
        out[output_column] = np.array([np.nan if v is None else float(v) for v in result])
    else:
        out[output_column] = pd.array([None if v is None else str(v) for v in result],
                                      dtype="string")
    return out


def _output_kind(predictor: Any, method: str) -> str:
    """The column type, fixed on the driver so that every block agrees."""
    if method == "predict_proba":
        return "float"
    classes = getattr(predictor, "classes_", None)
    if classes is None:
        inner = getattr(predictor, "estimator", None)
        classes = getattr(inner, "classes_", None)
    kind = np.asarray(classes).dtype.kind if classes is not None else "i"
    return "int" if kind in "iub" else "float" if kind == "f" else "str"


def predict_on_ray(predictor: Any, scores: Any, *, inputs: Literal["features", "score"] = "features",
                   column: str | None = None, sensitive_column: str | None = None,
                   method: Literal["predict", "predict_proba"] = "predict",
                   output_column: str = "mitigated_prediction",
                   proba_index: int | None = None) -> Any:
    """Apply a fitted predictor to every row of a scored dataset, on the cluster.

    The predictor is small (a head, an ensemble of heads, a post-processor) and travels to the
    tasks once; the features or scores stay where they are.

    Parameters
    ----------
    predictor : fitted estimator
        Called as ``predictor.<method>(X[, sensitive_features=groups])``.  ``X`` is the feature
        matrix (``inputs="features"``) or a one-column DataFrame of scores (``"score"``).
    scores : ray.data.Dataset
        The output of :func:`score` (with ``return_features=True`` for ``"features"``).
    inputs : {"features", "score"}, default="features"
        What ``X`` is.
    column : str, optional
        Its column (default ``"features"`` or ``"score"``).
    sensitive_column : str, optional
        Passed as ``sensitive_features`` (post-processors need it).
    method : {"predict", "predict_proba"}, default="predict"
        Which method to call.
    output_column : str, default="mitigated_prediction"
        The column added (null where the inputs are missing).
    proba_index : int, optional
        With ``predict_proba``, keep this column of the probabilities.

    Returns
    -------
    ray.data.Dataset
        Lazy; every input column kept.
    """
    who = "fairbridge.distributed.predict_on_ray"
    ray = import_ray(who)
    if not isinstance(scores, ray.data.Dataset):
        raise TypeError(problem(who, "argument 'scores'", "must be a ray.data.Dataset",
                                describe(scores), "Pass the dataset returned by score()."))
    if inputs not in ("features", "score"):
        raise ValueError(problem(who, "argument 'inputs'", "must be one of 'features', 'score'",
                                 describe(inputs), "Pass inputs='features' or inputs='score'."))
    if method not in ("predict", "predict_proba"):
        raise ValueError(problem(who, "argument 'method'", "must be one of 'predict', 'predict_proba'",
                                 describe(method), "Pass method='predict'."))
    column = column or inputs
    names = _names(scores)
    for arg, col in (("column", column), ("sensitive_column", sensitive_column)):
        if col is not None and col not in names:
            raise ValueError(problem(who, f"argument {arg!r}", "must name a column of the dataset",
                                     repr(col), "Score with return_features=True for 'features', "
                                     f"or choose among {names[:12]}."))
    if method == "predict_proba" and proba_index is None:
        raise ValueError(problem(who, "argument 'proba_index'", "is required with "
                                 "method='predict_proba' (one column is added)", "None",
                                 "Pass proba_index=1 for the positive class."))
    return scores.map_batches(
        _apply, batch_format="pandas",
        fn_kwargs=dict(predictor=predictor, inputs=inputs, column=column,
                       sensitive_column=sensitive_column, method=method,
                       output_column=output_column, proba_index=proba_index,
                       kind=_output_kind(predictor, method)))
