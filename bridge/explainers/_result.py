"""``Explanation``: the one result type of every explainer, as tidy tables and as JSON."""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from fairbridge._json import json_safe
from fairbridge._validation import describe, problem

__all__ = ["Explanation", "json_safe", "label_safe"]


def label_safe(value: Any) -> Any:
    """A class or group label as JSON: str, int, float or bool kept, anything else as str."""
    v = json_safe(value)
    return v if isinstance(v, (str, int, float, bool)) or v is None else str(v)


class Explanation:
    """Attributions of a model's predictions, from any of fairbridge's explainers.

    Built by :func:`~fairbridge.explainers.explain`; not meant to be created directly.

    Attributes
    ----------
    method : str
        The explainer's name (``"lime"``, ``"shap"``, ``"interpret.morris"``, ...).
    settings : dict
        The settings that produced it (samples, seed, toolkit options).
    input_type : {"text", "tabular"}
        What was explained.
    classes : list
        The model's classes, in output order.
    predictions : DataFrame
        One row per explained input: ``row``, ``text`` (text input), ``predicted_class``,
        ``predicted_proba`` (probability of the predicted class) and ``explained_class``
        (the class the attributions point towards).
    attributions : DataFrame
        Tidy per-row attributions: ``row``, ``feature`` (token or feature name), ``value``
        (contribution towards ``class``), ``position`` (character offset of the token in the
        text, or column index), ``class``.  Empty for global-only methods.
    global_importance : DataFrame
        ``feature``, ``importance``, ``count`` (plus method-specific columns), most
        important first.  For per-row methods: the mean absolute attribution of each token or
        feature over the rows explained, and how many attributions it had.
    n_model_calls : int
        Calls made into the classifier's ``predict_proba`` (including the one that scored
        the rows themselves).
    n_rows_scored : int
        Rows passed in those calls, before the adapter's de-duplication and cache.
    engine_stats : dict or None
        For a fairbridge adapter: rows that really went through the network, batches, and
        rows answered from the cache.
    fidelity : dict or None
        For a surrogate: how often it agrees with the model (see ``notes``).
    details : dict
        Method-specific extras (e.g. Morris ``mu``/``sigma``, partial-dependence curves).
    notes : list of str
        What the reader should know about this explanation.
    has_local : bool
        Whether the method gives per-row attributions.
    """

    def __init__(self, *, method: str, settings: dict[str, Any], input_type: str,
                 classes: Sequence[Any], predictions: pd.DataFrame, attributions: pd.DataFrame,
                 global_importance: pd.DataFrame, n_model_calls: int, n_rows_scored: int,
                 notes: Sequence[str] = (), engine_stats: dict[str, int] | None = None,
                 fidelity: dict[str, Any] | None = None, details: dict[str, Any] | None = None,
                 has_local: bool = True) -> None:
        self.method = method
        self.settings = dict(settings)
        self.input_type = input_type
        self.classes = list(classes)
        self.predictions = predictions
        self.attributions = attributions
        self.global_importance = global_importance
        self.n_model_calls = int(n_model_calls)
        self.n_rows_scored = int(n_rows_scored)
        self.notes = list(notes)
        self.engine_stats = engine_stats
        self.fidelity = fidelity
        self.details = dict(details or {})
        self.has_local = bool(has_local)

    @property
    def n_rows(self) -> int:
        """Number of rows explained."""
        return int(len(self.predictions))

    def local(self, i: int) -> pd.DataFrame:
        """Attributions of row ``i`` (0-based, in the order of the ``X`` passed to explain).

        Returns
        -------
        DataFrame
            ``feature``, ``value``, ``position``, ``class``; tokens in text order, features in
            column order.
        """
        who = "Explanation.local"
        if not self.has_local:
            raise ValueError(problem(
                who, "method", "must give per-row attributions",
                f"{self.method!r}, which explains the model globally only",
                "Read .global_importance, or explain with method='lime' or 'shap' for per-row "
                "attributions."))
        if isinstance(i, (bool, np.bool_)) or not isinstance(i, numbers.Integral):
            raise TypeError(problem(who, "argument 'i'", "must be an int row index",
                                    describe(i), "Pass e.g. ex.local(0)."))
        if not 0 <= int(i) < self.n_rows:
            raise IndexError(problem(
                who, "argument 'i'", f"must be a row index from 0 to {self.n_rows - 1} "
                f"({self.n_rows} rows were explained)", repr(int(i)),
                "Pass the position of the row in the X that was explained."))
        sub = self.attributions[self.attributions["row"] == int(i)]
        return sub.drop(columns="row").reset_index(drop=True)

    def top(self, k: int = 10) -> pd.DataFrame:
        """The ``k`` most important tokens or features of :attr:`global_importance`."""
        return self.global_importance.head(int(k)).reset_index(drop=True)

    def to_dict(self, *, max_instances: int | None = None) -> dict[str, Any]:
        """The explanation as JSON-safe data (the contract the reports render).

        Parameters
        ----------
        max_instances : int, optional
            Keep only the first rows' attributions (the global table keeps all).

        Returns
        -------
        dict
            ``{"method", "settings", "input_type", "n_model_calls", "n_rows_scored",
            "classes", "instances": [{"row", "text", "predicted_class", "predicted_proba",
            "explained_class", "attributions": [{"feature", "value", "position"}]}],
            "global_importance": [{"feature", "importance", "count"}], "notes",
            "fidelity", "engine_stats", "details"}``; NaN and infinity become ``None``.
        """
        instances: list[dict[str, Any]] = []
        if self.has_local:
            by_row = {r: g for r, g in self.attributions.groupby("row", sort=False)}
            preds = self.predictions if max_instances is None else self.predictions.head(int(max_instances))
            for rec in preds.to_dict("records"):
                g = by_row.get(rec["row"])
                atts = [] if g is None else [
                    {"feature": str(f), "value": json_safe(v),
                     "position": None if p is None or (isinstance(p, float) and math.isnan(p)) else int(p)}
                    for f, v, p in zip(g["feature"], g["value"], g["position"])]
                instances.append({
                    "row": int(rec["row"]),
                    "text": rec.get("text") if self.input_type == "text" else None,
                    "predicted_class": label_safe(rec["predicted_class"]),
                    "predicted_proba": json_safe(rec["predicted_proba"]),
                    "explained_class": label_safe(rec["explained_class"]),
                    "attributions": atts,
                })
        gi = [{"feature": str(r["feature"]), "importance": json_safe(r["importance"]),
               "count": None if pd.isna(r["count"]) else int(r["count"])}
              for r in self.global_importance.to_dict("records")]
        return {
            "method": self.method,
            "settings": json_safe(self.settings),
            "input_type": self.input_type,
            "n_model_calls": self.n_model_calls,
            "n_rows_scored": self.n_rows_scored,
            "classes": [label_safe(c) for c in self.classes],
            "instances": instances,
            "global_importance": gi,
            "notes": list(self.notes),
            "fidelity": json_safe(self.fidelity),
            "engine_stats": json_safe(self.engine_stats),
            "details": json_safe(self.details),
        }

    def __repr__(self) -> str:
        top = ", ".join(f"{f} ({v:.3g})" for f, v in
                        zip(self.global_importance["feature"].head(5), self.global_importance["importance"].head(5)))
        return (f"Explanation(method={self.method!r}, input_type={self.input_type!r}, "
                f"rows={self.n_rows}, model_calls={self.n_model_calls}, "
                f"rows_scored={self.n_rows_scored}, top=[{top}])")
