"""The small contract every mitigation method follows, and the helpers they share.

A mitigation takes the *fitted baseline* model and the training split and becomes a predictor:

* ``fit(estimator, X, y, *, sensitive_features, context)``: ``y`` holds class **codes**
  ``0..k-1`` (the column order of ``estimator.classes_``; for two classes ``1`` is the second
  class), ``sensitive_features`` one group key (str) per row, ``X`` a 2-D container (a
  one-column DataFrame of text for text models);
* ``predict_proba(X, *, sensitive_features=None)`` -> ``(n, k)`` probabilities of the codes;
* ``predict(X, *, sensitive_features=None)`` -> codes.

Class attributes say what the method needs: ``needs`` (what it asks of the model: nothing,
``"refits"`` (weighted ``fit`` calls on clones), ``"scores"`` (``predict_proba`` of the fitted
model only) or ``"embeddings"`` (``embed(X)``)), ``requires`` (modules to import) and ``extra``
(the ``fairbridge[...]`` extra that installs them), ``binary_only``, and
``uses_sensitive_features`` (whether prediction needs the groups).

Subclass :class:`Mitigation` (and optionally register it by name with
:func:`~fairbridge.mitigations.register`) to add a method; pass the class or a configured
instance to :func:`fairbridge.compare`.  Implement :meth:`Mitigation._save_state` and
:meth:`Mitigation._load_state` to make it savable.
"""

from __future__ import annotations

import copy
import json
import math
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Literal

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin

from fairbridge._validation import NotFittedError, problem

__all__ = [
    "FitContext",
    "Mitigation",
    "Needs",
    "StateWriter",
    "coded",
    "decode_float",
    "encode_float",
    "label_codes",
    "load_estimator",
    "proba_codes",
    "save_estimator",
    "take_rows",
]

Needs = Literal["nothing", "refits", "scores", "embeddings"]


@dataclass
class FitContext:
    """What a mitigation may want to know beyond ``X, y, sensitive_features``.

    Attributes
    ----------
    classes : ndarray
        The baseline's classes; codes index into it.
    privileged_group : str
        The group AIF360's methods treat as privileged (the others are pooled).
    feature : str
        Name of the sensitive feature (``"a & b"`` for an intersection).
    random_state : int or None
        Seed for randomised steps.
    primary_disparity : str
        The disparity the comparison ranks by.
    """

    classes: np.ndarray
    privileged_group: str
    feature: str = "sensitive_feature"
    random_state: int | None = 0
    primary_disparity: str = "demographic_parity_difference"


class Mitigation(BaseEstimator, ABC):
    """Base class of the mitigation methods (their options are the constructor parameters).

    Attributes
    ----------
    estimator_ : estimator
        The model the mitigation predicts with (the baseline, or a refitted clone).
    n_refits_ : int
        Times the method fitted a model (Fairlearn oracle calls, reweighed refits, sweep points).
    details_ : dict
        Method-specific record for reports (e.g. the fair_loss sweep, reweighing factors).
    """

    #: Registry name (set by :func:`~fairbridge.mitigations.register`).
    name: ClassVar[str] = "custom"
    needs: ClassVar[Needs] = "refits"
    #: Modules that must import for the method to run.
    requires: ClassVar[tuple[str, ...]] = ()
    #: The fairbridge extra that installs ``requires`` (for the install hint).
    extra: ClassVar[str | None] = None
    binary_only: ClassVar[bool] = True
    uses_sensitive_features: ClassVar[bool] = False

    @abstractmethod
    def fit(self, estimator: Any, X: Any, y: np.ndarray, *, sensitive_features: np.ndarray,
            context: FitContext | None = None) -> Mitigation:
        """Fit the method on the training split, given the fitted baseline ``estimator``.

        Parameters
        ----------
        estimator : classifier
            The fitted baseline; methods that refit clone it (never refit it in place).
        X : 2-D container
            Training inputs, as the model takes them.
        y : ndarray of int
            Class codes ``0..k-1`` (indices into ``estimator.classes_``).
        sensitive_features : ndarray of str
            One group key per row (the intersection ``"a & b"`` of several features).
        context : FitContext, optional
            Classes, privileged group, seed; without one the privileged group is the largest.

        Returns
        -------
        self
        """

    def unsupported(self, estimator: Any) -> str | None:
        """Why this method cannot run with ``estimator`` (``None`` if it can).

        :func:`fairbridge.compare` records the answer as the reason of a skip.  The default
        accepts every estimator; ``needs``, ``requires`` and ``binary_only`` are checked apart.
        """
        return None

    @abstractmethod
    def predict_proba(self, X: Any, *, sensitive_features: np.ndarray | None = None) -> np.ndarray:
        """Probabilities of the class codes, shape ``(n_samples, n_classes)``."""

    def predict(self, X: Any, *, sensitive_features: np.ndarray | None = None) -> np.ndarray:
        """Class codes (default: the most probable)."""
        return np.argmax(self.predict_proba(X, sensitive_features=sensitive_features), axis=1)

    # -- helpers for subclasses -------------------------------------------------------------
    def _check_fitted(self) -> None:
        if not hasattr(self, "n_refits_"):
            raise NotFittedError(f"{type(self).__name__}: this mitigation is not fitted yet, but "
                                 "it was asked to predict. Call fit() first (fairbridge.compare "
                                 "does), or load a saved one.")

    def _groups(self, sensitive_features: np.ndarray | None, n: int) -> np.ndarray:
        if sensitive_features is None:
            raise ValueError(problem(f"{type(self).__name__}.predict", "argument 'sensitive_features'",
                                     "is required by this method", "None",
                                     "Pass the group of every row, as in training."))
        g = np.asarray(sensitive_features, dtype=object)
        if g.shape[0] != n:
            raise ValueError(problem(f"{type(self).__name__}.predict",
                                     "arguments 'X' and 'sensitive_features'",
                                     "must have the same number of rows",
                                     f"X has {n}, sensitive_features has {g.shape[0]}",
                                     "Pass one group per row."))
        return g

    def _context(self, context: FitContext | None, estimator: Any, y: np.ndarray,
                 groups: np.ndarray) -> FitContext:
        if context is not None:
            return context
        classes = getattr(estimator, "classes_", np.unique(y))
        values, counts = np.unique(np.asarray(groups, dtype=str), return_counts=True)
        return FitContext(classes=np.asarray(classes), privileged_group=str(values[np.argmax(counts)]))

    # -- persistence --------------------------------------------------------------------------
    def _save_state(self, writer: StateWriter) -> dict[str, Any]:
        """Store the fitted state (arrays through ``writer``); return a JSON-able dict."""
        raise NotImplementedError(
            f"{type(self).__name__} cannot be saved: it does not implement _save_state() and "
            "_load_state(). Keep the fitted object in memory, or implement them.")

    @classmethod
    def _load_state(cls, params: dict[str, Any], state: dict[str, Any], reader: StateWriter,
                    base: Any) -> Mitigation:
        """Rebuild a fitted mitigation from :meth:`_save_state`'s output."""
        raise NotImplementedError(f"{cls.__name__} cannot be loaded: it has no _load_state().")

    def _restored(self, n_refits: int = 0, details: dict | None = None) -> Mitigation:
        self.n_refits_ = n_refits
        self.details_ = details or {}
        return self


# -- coded view of a fitted classifier ------------------------------------------------------------
class _Coded(ClassifierMixin, BaseEstimator):
    """A fitted classifier seen through class codes: ``classes_ = [0, ..., k-1]``.

    Fairlearn's post-processing wants 0/1 labels and AIF360's post-processors take
    ``labels=estimator.classes_``; giving them codes keeps every toolkit on the same encoding
    whatever the user's labels are (strings, label names, ...).  The toolkits use it only in
    ``prefit`` mode; it is never refitted.

    Parameters
    ----------
    estimator : classifier
        The fitted model.
    """

    def __init__(self, estimator: Any = None) -> None:
        self.estimator = estimator

    @property
    def classes_(self) -> np.ndarray:
        return np.arange(len(self.estimator.classes_))

    def __sklearn_is_fitted__(self) -> bool:
        return True

    def fit(self, X: Any, y: Any = None, **kwargs: Any) -> _Coded:
        raise TypeError("fairbridge: the fitted baseline is used as is (prefit); it is not refitted.")

    def predict_proba(self, X: Any) -> np.ndarray:
        return np.asarray(self.estimator.predict_proba(X), dtype=np.float64)

    def predict(self, X: Any) -> np.ndarray:
        return label_codes(self.estimator.predict(X), self.estimator.classes_)


def label_codes(labels: Any, classes: Any) -> np.ndarray:
    """The index of each label in ``classes`` (``-1`` for a label not among them)."""
    index = pd.Index(list(np.asarray(classes, dtype=object)), dtype=object)
    return index.get_indexer(pd.Index(list(np.asarray(labels, dtype=object)), dtype=object)).astype(np.int64)


def proba_codes(estimator: Any, X: Any, n_classes: int) -> np.ndarray:
    """``estimator.predict_proba(X)`` as ``(n, n_classes)`` columns of the class codes.

    A model refitted on codes may have seen only some of them (Fairlearn's constant
    ``DummyClassifier`` sees one): its columns go to the codes in its ``classes_``.
    """
    p = np.asarray(estimator.predict_proba(X), dtype=np.float64)
    cls = np.asarray(estimator.classes_)
    if p.shape[1] == n_classes and np.array_equal(cls, np.arange(n_classes)):
        return p
    out = np.zeros((p.shape[0], n_classes))
    out[:, cls.astype(np.int64)] = p
    return out


def take_rows(X: Any, idx: np.ndarray) -> Any:
    """Rows ``idx`` of a DataFrame, array or list."""
    if isinstance(X, (pd.DataFrame, pd.Series)):
        return X.iloc[idx]
    if isinstance(X, (list, tuple)):
        return [X[i] for i in idx]
    return np.asarray(X)[idx]


def coded(estimator: Any) -> _Coded:
    """The fitted ``estimator`` answering in class codes (see :class:`_Coded`)."""
    return estimator if isinstance(estimator, _Coded) else _Coded(estimator)


# -- persistence helpers -------------------------------------------------------------------------
def encode_float(x: float) -> float | str:
    """A float for JSON: ``inf``/``-inf``/``nan`` as strings."""
    x = float(x)
    if math.isnan(x):
        return "nan"
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    return x


def decode_float(x: float | str) -> float:
    """Inverse of :func:`encode_float`."""
    return float(x)


class StateWriter:
    """Collects the arrays of a saved mitigation (one safetensors file) and its sub-folders.

    Parameters
    ----------
    folder : Path
        The folder of the saved predictor.
    arrays : dict, optional
        Arrays already read (when loading).
    """

    def __init__(self, folder: Path, arrays: dict[str, np.ndarray] | None = None) -> None:
        self.folder = Path(folder)
        self.arrays: dict[str, np.ndarray] = dict(arrays or {})

    def put(self, key: str, array: np.ndarray) -> str:
        if key in self.arrays:
            raise ValueError(f"fairbridge: array {key!r} written twice while saving")
        self.arrays[key] = np.ascontiguousarray(np.asarray(array))
        return key

    def get(self, key: str) -> np.ndarray:
        return self.arrays[key]

    def subfolder(self, name: str) -> Path:
        path = self.folder / "estimators" / name
        path.mkdir(parents=True, exist_ok=True)
        return path


def _classes_entry(classes: np.ndarray) -> dict[str, Any]:
    arr = np.asarray(classes)
    return {"values": arr.tolist(), "dtype": "object" if arr.dtype == object else arr.dtype.str}


def _classes_from(entry: dict[str, Any]) -> np.ndarray:
    dtype = object if entry["dtype"] == "object" else np.dtype(entry["dtype"])
    return np.array(entry["values"], dtype=dtype)


def save_estimator(est: Any, base: Any, writer: StateWriter, key: str) -> dict[str, Any]:
    """Describe a fitted model of a mitigation for saving, relative to the baseline ``base``.

    * the baseline itself -> ``{"kind": "base"}``;
    * a constant ``DummyClassifier`` (Fairlearn's reductions use them) -> its constant;
    * a fairbridge adapter that shares the baseline's network and refitted only its head ->
      the head's weights (the network is saved once, with the baseline);
    * any other fairbridge adapter (e.g. ``refit="full"``) -> saved whole in a sub-folder;
    * a scikit-learn ``LogisticRegression`` -> its coefficients.
    """
    from sklearn.dummy import DummyClassifier
    from sklearn.linear_model import LogisticRegression

    if est is base:
        return {"kind": "base"}
    if isinstance(est, DummyClassifier) and est.strategy == "constant":
        return {"kind": "constant", "constant": np.asarray(est.constant).item(),
                "classes": _classes_entry(est.classes_)}
    if isinstance(est, LogisticRegression):
        return {"kind": "logistic", "classes": _classes_entry(est.classes_),
                "coef": writer.put(f"{key}.coef", est.coef_),
                "intercept": writer.put(f"{key}.intercept", est.intercept_)}
    bb = getattr(est, "backbone_", None)
    if bb is not None and bb is getattr(base, "backbone_", None) and hasattr(est, "head_coef_"):
        entry: dict[str, Any] = {"kind": "head", "classes": _classes_entry(est.classes_)}
        if est.head_coef_ is not None:
            entry["coef"] = writer.put(f"{key}.coef", est.head_coef_)
            entry["intercept"] = writer.put(f"{key}.intercept", est.head_intercept_)
        return entry
    if callable(getattr(est, "save", None)) and type(est).__name__ in _ADAPTERS:
        est.save(writer.subfolder(key))
        return {"kind": "adapter", "class": type(est).__name__, "path": f"estimators/{key}"}
    raise TypeError(f"fairbridge: cannot save a fitted {type(est).__name__} inside a mitigation; "
                    "only fairbridge adapters, constant DummyClassifiers and LogisticRegression "
                    "heads are savable without pickle.")


_ADAPTERS = ("HFTextClassifier", "TorchClassifier")


def adapter_class(name: str) -> type:
    """The fairbridge adapter class called ``name`` (the only classes a saved folder may name)."""
    from fairbridge import adapters

    if name not in _ADAPTERS:
        raise ValueError(f"fairbridge: a saved predictor names the model class {name!r}, which is "
                         f"not a fairbridge adapter ({', '.join(_ADAPTERS)}); refusing to load it.")
    return getattr(adapters, name)


def load_estimator(entry: dict[str, Any], base: Any, reader: StateWriter) -> Any:
    """Inverse of :func:`save_estimator`."""
    kind = entry["kind"]
    if kind == "base":
        return base
    if kind == "constant":
        from sklearn.dummy import DummyClassifier

        classes = _classes_from(entry["classes"])
        dummy = DummyClassifier(strategy="constant", constant=entry["constant"])
        return dummy.fit(np.zeros((classes.size, 1)), classes)
    if kind == "logistic":
        from sklearn.linear_model import LogisticRegression

        lr = LogisticRegression()
        lr.classes_ = _classes_from(entry["classes"])
        lr.coef_ = reader.get(entry["coef"]).astype(np.float64)
        lr.intercept_ = reader.get(entry["intercept"]).astype(np.float64)
        lr.n_features_in_ = lr.coef_.shape[1]
        lr.n_iter_ = np.zeros(1, dtype=np.int32)
        return lr
    if kind == "head":
        est = copy.copy(base)
        est.classes_ = _classes_from(entry["classes"])
        if "coef" in entry:
            est.head_coef_ = reader.get(entry["coef"]).astype(np.float32)
            est.head_intercept_ = reader.get(entry["intercept"]).astype(np.float32)
        else:
            est.head_coef_ = est.head_intercept_ = None
        return est
    if kind == "adapter":
        return adapter_class(entry["class"]).load(reader.folder / entry["path"])
    raise ValueError(f"fairbridge: unknown saved estimator kind {kind!r}")


def jsonable_params(params: dict[str, Any]) -> dict[str, Any]:
    """``params`` with anything that is not JSON replaced by its ``repr``."""
    out: dict[str, Any] = {}
    for k, v in params.items():
        try:
            json.dumps(v)
            out[k] = v
        except (TypeError, ValueError):
            out[k] = repr(v)
    return out
