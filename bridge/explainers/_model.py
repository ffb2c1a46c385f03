"""The model as every explainer sees it: one counting probability function, and its inputs.

LIME sends all its perturbations of a row in one call (5,000 strings by default), SHAP's text
masker a few at a time, InterpretML one call per grid point.  Whatever the toolkit, its calls
land in :class:`ModelFunction`, which hands them to the estimator's ``predict_proba``: for a
fairbridge adapter that is the shared inference engine (sorted by length, dynamically padded,
batched, de-duplicated against the per-backbone cache shared by clones, processed in chunks so
memory stays bounded).  The wrapper counts the calls and rows so that each explanation says
what it cost.
"""

from __future__ import annotations

import copy
import dataclasses
from typing import Any, Literal

import numpy as np
import pandas as pd
from sklearn.exceptions import NotFittedError as _SklearnNotFittedError
from sklearn.utils.validation import check_is_fitted

from fairbridge._validation import (
    MSG_NOT_FITTED,
    NotFittedError,
    check_array_input,
    check_text_input,
    describe,
    problem,
)

__all__ = ["InputType", "ModelFunction", "ModelInput", "check_classifier", "resolve_input"]

InputType = Literal["text", "tabular"]

MSG_NOT_FITTED_GENERIC = (
    "{who}: this {cls} is not fitted yet, but {method} was called. Call fit(X, y) first."
)


def _is_adapter(estimator: Any) -> bool:
    from fairbridge.adapters._base import AdapterBase

    return isinstance(estimator, AdapterBase)


def _declared_input_type(estimator: Any) -> InputType | None:
    from fairbridge.adapters import HFTextClassifier, TorchClassifier

    if isinstance(estimator, HFTextClassifier):
        return "text"
    if isinstance(estimator, TorchClassifier):
        return "tabular"
    return None


def check_classifier(estimator: Any, *, who: str, method: str = "explain()") -> np.ndarray:
    """Check that ``estimator`` is a fitted probabilistic classifier; return its ``classes_``."""
    if not callable(getattr(estimator, "predict_proba", None)):
        raise TypeError(problem(
            who, "argument 'estimator'", "must be a fitted classifier with predict_proba",
            describe(estimator),
            "Wrap a torch or Hugging Face model with fairbridge.adapters.TorchClassifier or "
            "HFTextClassifier and fit it."))
    template = MSG_NOT_FITTED if _is_adapter(estimator) else MSG_NOT_FITTED_GENERIC
    try:
        check_is_fitted(estimator)
    except _SklearnNotFittedError:
        raise NotFittedError(template.format(who=who, cls=type(estimator).__name__,
                                             method=method)) from None
    classes = getattr(estimator, "classes_", None)
    if classes is None:
        raise NotFittedError(template.format(who=who, cls=type(estimator).__name__, method=method))
    classes = np.asarray(classes)
    if classes.ndim != 1 or classes.size < 2:
        raise ValueError(problem(who, "argument 'estimator'", "must be a classifier with two or "
                                 "more classes", f"classes_ = {classes.tolist()!r}",
                                 "Fit it on labels of at least two classes."))
    return classes


@dataclasses.dataclass
class ModelInput:
    """Validated rows to explain.

    Attributes
    ----------
    input_type : {"text", "tabular"}
    texts : list of str or None
    X : ndarray of float64, shape (n_rows, n_features), or None
        Tabular rows flattened to 2-D.
    feature_names : list of str
    row_shape : tuple
        Shape of one row as the estimator takes it (tabular).
    frame_columns : list or None
        Columns to rebuild a DataFrame with, for an estimator fitted on one.
    """

    input_type: InputType
    texts: list[str] | None = None
    X: np.ndarray | None = None
    feature_names: list[str] = dataclasses.field(default_factory=list)
    row_shape: tuple[int, ...] = ()
    frame_columns: list[Any] | None = None

    @property
    def n_rows(self) -> int:
        return len(self.texts) if self.texts is not None else int(self.X.shape[0])  # type: ignore[union-attr]


def n_rows_of(X: Any) -> int | None:
    """Rows of a container without validating it (for early length checks)."""
    if isinstance(X, str):
        return None
    shape = getattr(X, "shape", None)
    if shape is not None and len(shape) > 0:
        return int(shape[0])
    try:
        return len(X)
    except TypeError:
        return None


def resolve_input(estimator: Any, X: Any, *, who: str, feature_names: Any = None) -> ModelInput:
    """Decide whether ``X`` is text or tabular for ``estimator`` and validate it.

    An :class:`~fairbridge.adapters.HFTextClassifier` takes text and a
    :class:`~fairbridge.adapters.TorchClassifier` numeric rows; for any other classifier,
    ``X`` holding only strings is text, anything else tabular.
    """
    n = n_rows_of(X)
    if n == 0:
        raise ValueError(problem(who, "argument 'X'", "must hold at least one row",
                                 "an empty container", "Pass one or more rows to explain."))
    kind = _declared_input_type(estimator)
    text_column = getattr(estimator, "text_column", None)
    if kind is None:
        try:
            texts = check_text_input(X, who=who, text_column=text_column)
        except (TypeError, ValueError):
            kind = "tabular"
        else:
            return ModelInput("text", texts=texts)
    if kind == "text":
        if feature_names is not None:
            raise ValueError(problem(who, "argument 'feature_names'", "applies to tabular input only",
                                     describe(feature_names), "Drop it: text rows are explained by token."))
        return ModelInput("text", texts=check_text_input(X, who=who, text_column=text_column))
    arr = check_array_input(X, who=who, allow_nd=True).astype(np.float64)
    row_shape = tuple(arr.shape[1:])
    flat = np.ascontiguousarray(arr.reshape(arr.shape[0], -1))
    d = flat.shape[1]
    frame_columns = None
    fitted_names = getattr(estimator, "feature_names_in_", None)
    if fitted_names is not None and len(fitted_names) == d and arr.ndim == 2:
        frame_columns = list(fitted_names)
    if feature_names is not None:
        if isinstance(feature_names, str) or len(list(feature_names)) != d:
            raise ValueError(problem(who, "argument 'feature_names'", f"must name each of the {d} features",
                                     describe(feature_names), f"Pass a list of {d} names."))
        names = [str(f) for f in feature_names]
    elif isinstance(X, pd.DataFrame):
        names = [str(c) for c in X.columns]
    elif frame_columns is not None:
        names = [str(c) for c in frame_columns]
    else:
        names = [f"x{j}" for j in range(d)]
    if len(set(names)) != len(names):
        dup = sorted({f for f in names if names.count(f) > 1})
        raise ValueError(problem(who, "argument 'feature_names'", "must be unique",
                                 f"duplicates {dup[:5]}", "Rename the duplicated columns."))
    return ModelInput("tabular", X=flat, feature_names=names, row_shape=row_shape,
                      frame_columns=frame_columns)


class ModelFunction:
    """``f(inputs) -> probabilities``: the estimator's ``predict_proba``, counted.

    Parameters
    ----------
    estimator : classifier
        A fitted classifier with ``predict_proba`` (a fairbridge adapter: batched and cached).
    data : ModelInput
        What kind of rows the toolkits will send (text or tabular), and their shape.
    progress : bool, default=True
        ``False`` also silences the adapter's own progress bars (on a shallow copy of the
        estimator; the caller's estimator is not touched).

    Attributes
    ----------
    n_calls : int
        Calls that reached ``predict_proba``.
    n_rows : int
        Rows passed to ``predict_proba`` in all (before the adapter's de-duplication and cache).
    n_classes : int
        Columns of the output.
    """

    def __init__(self, estimator: Any, data: ModelInput, *, progress: bool = True) -> None:
        if not progress and "progress" in getattr(estimator, "get_params", lambda **_: {})(deep=False):
            estimator = copy.copy(estimator)
            estimator.progress = False
        self.estimator = estimator
        self.input_type = data.input_type
        self.row_shape = data.row_shape
        self.frame_columns = data.frame_columns
        self.n_classes = int(len(estimator.classes_))
        self.n_calls = 0
        self.n_rows = 0
        backbone = getattr(estimator, "backbone_", None)
        self._stats = getattr(backbone, "stats", None)
        self._start = self._stats.snapshot() if self._stats is not None else None

    def _as_inputs(self, X: Any) -> Any:
        if self.input_type == "text":
            if isinstance(X, str):
                return [X]
            return [str(t) for t in (X.tolist() if isinstance(X, np.ndarray) else X)]
        arr = np.asarray(X, dtype=np.float64)
        if self.frame_columns is not None:
            return pd.DataFrame(arr.reshape(arr.shape[0], -1), columns=self.frame_columns)
        return arr.reshape((arr.shape[0],) + tuple(self.row_shape))

    def __call__(self, X: Any) -> np.ndarray:
        inputs = self._as_inputs(X)
        n = len(inputs)
        if n == 0:
            return np.empty((0, self.n_classes), dtype=np.float64)
        self.n_calls += 1
        self.n_rows += n
        return np.asarray(self.estimator.predict_proba(inputs), dtype=np.float64)

    def engine_stats(self) -> dict[str, int] | None:
        """What the adapter's backbone did meanwhile: rows through the network, cache hits."""
        if self._stats is None or self._start is None:
            return None
        now = self._stats.snapshot()
        return {"network_rows": now["rows"] - self._start["rows"],
                "network_batches": now["batches"] - self._start["batches"],
                "cache_hits": now["cache_hits"] - self._start["cache_hits"]}
