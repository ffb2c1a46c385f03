"""``baseline``: the model as it is, the reference every method is compared with."""

from __future__ import annotations

from typing import Any

import numpy as np

from ._base import FitContext, Mitigation, StateWriter, coded
from ._registry import register

__all__ = ["Baseline"]


@register("baseline")
class Baseline(Mitigation):
    """No mitigation: the fitted model's own predictions.

    Attributes
    ----------
    estimator_ : estimator
        The fitted model.
    n_refits_ : int
        Always 0 (``fairbridge.compare`` counts the baseline's own fit, if it made one).
    details_ : dict
        Empty.
    """

    needs = "nothing"
    binary_only = False

    def fit(self, estimator: Any, X: Any, y: np.ndarray, *, sensitive_features: np.ndarray,
            context: FitContext | None = None) -> Baseline:
        self.estimator_ = estimator
        self._coded = coded(estimator)
        return self._restored(0)

    def predict_proba(self, X: Any, *, sensitive_features: np.ndarray | None = None) -> np.ndarray:
        self._check_fitted()
        return self._coded.predict_proba(X)

    def predict(self, X: Any, *, sensitive_features: np.ndarray | None = None) -> np.ndarray:
        self._check_fitted()
        return self._coded.predict(X)

    def _save_state(self, writer: StateWriter) -> dict[str, Any]:
        return {}

    @classmethod
    def _load_state(cls, params: dict, state: dict, reader: StateWriter, base: Any) -> Baseline:
        inst = cls(**params)
        inst.estimator_ = base
        inst._coded = coded(base)
        return inst._restored(0)
