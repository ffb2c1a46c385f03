"""AIF360's mitigations through ``aif360.sklearn``: reweighing and two post-processors.

AIF360 reads the protected attribute from the pandas index (see
:mod:`fairbridge._aif360_compat` for exactly what it does to ``X``): these wrappers hand it a
one-column DataFrame of text (or the numeric frame) whose index is the group.  The
post-processors need exactly two groups, so they get ``1`` for the privileged group and ``0`` for
all others, AIF360's own default ``priv_group=1`` and the pooling its metrics use.
``PostProcessingMeta`` runs in ``prefit=True`` mode on the fitted model's cached scores, with the
scikit-learn tags shim of :func:`fairbridge._aif360_compat.legacy_tags`.
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
import pandas as pd
from sklearn.base import clone

from fairbridge._aif360_compat import indexed_frame, legacy_tags, quiet_import
from fairbridge._validation import check_number, check_one_of, problem

from ._base import (
    FitContext,
    Mitigation,
    StateWriter,
    coded,
    load_estimator,
    proba_codes,
    save_estimator,
)
from ._registry import register

__all__ = ["CalibratedEqualizedOddsMitigation", "RejectOptionMitigation", "ReweighingMitigation"]


def _privileged_indicator(groups: np.ndarray, privileged: str) -> np.ndarray:
    return (np.asarray(groups, dtype=object).astype(str) == str(privileged)).astype(np.int64)


@register("aif360.reweighing")
class ReweighingMitigation(Mitigation):
    """AIF360's ``Reweighing``: weights per group x label, then one weighted refit of the model.

    The weights make group and label independent in the weighted training data
    (Kamiran & Calders); the refit is the adapter's weighted ``fit`` (a head refit on cached
    features by default, or a weighted fine-tune with ``refit="full"``).

    Attributes
    ----------
    weights_ : ndarray
        The training weights AIF360 computed.
    base_ : estimator
        The fitted baseline the refit was cloned from.
    estimator_ : estimator
        The refitted model.
    n_refits_, details_ :
        See :class:`~fairbridge.mitigations.Mitigation` (``details_["factors"]`` holds the
        reweighing factor of each group and class).
    """

    needs = "refits"
    requires = ("aif360",)
    extra = "aif360"
    binary_only = False

    def fit(self, estimator: Any, X: Any, y: np.ndarray, *, sensitive_features: np.ndarray,
            context: FitContext | None = None) -> ReweighingMitigation:
        ctx = self._context(context, estimator, y, sensitive_features)
        pre = quiet_import("aif360.sklearn.preprocessing", purpose="the 'aif360.reweighing' mitigation")
        groups = np.asarray(sensitive_features, dtype=object).astype(str)
        Xi = indexed_frame(X, groups, ctx.feature)
        yi = pd.Series(np.asarray(y), index=Xi.index)
        rw = pre.Reweighing(prot_attr=ctx.feature)
        _, weights = rw.fit_transform(Xi, yi)
        self.weights_ = np.asarray(weights, dtype=np.float64)
        self.base_ = estimator
        self.estimator_ = clone(estimator).fit(X, y, sample_weight=self.weights_)
        self._n_classes = int(len(ctx.classes))
        factors = {str(g): {str(c): float(rw.reweigh_factors_[i, j])
                            for j, c in enumerate(rw.classes_) if np.isfinite(rw.reweigh_factors_[i, j])}
                   for i, g in enumerate(rw.groups_)}
        return self._restored(1, {"factors": factors})

    def predict_proba(self, X: Any, *, sensitive_features: np.ndarray | None = None) -> np.ndarray:
        self._check_fitted()
        return proba_codes(self.estimator_, X, self._n_classes)

    def _save_state(self, writer: StateWriter) -> dict[str, Any]:
        return {"estimator": save_estimator(self.estimator_, self.base_, writer, "refit"),
                "n_classes": self._n_classes, "details": self.details_}

    @classmethod
    def _load_state(cls, params: dict, state: dict, reader: StateWriter, base: Any) -> ReweighingMitigation:
        inst = cls(**params)
        inst.base_ = base
        inst.estimator_ = load_estimator(state["estimator"], base, reader)
        inst._n_classes = int(state["n_classes"])
        return inst._restored(1, state["details"])


class _PostProcessor(Mitigation):
    """Shared code of AIF360's post-processors run through ``PostProcessingMeta(prefit=True)``."""

    needs = "scores"
    requires = ("aif360",)
    extra = "aif360"
    uses_sensitive_features = True

    def _make(self, post: Any) -> Any:  # pragma: no cover - abstract
        raise NotImplementedError

    def fit(self, estimator: Any, X: Any, y: np.ndarray, *, sensitive_features: np.ndarray,
            context: FitContext | None = None) -> _PostProcessor:
        ctx = self._context(context, estimator, y, sensitive_features)
        if len(ctx.classes) != 2:
            raise ValueError(problem(self.name, "argument 'y'", "must have two classes",
                                     f"{len(ctx.classes)} classes", "Use a binary model."))
        post = quiet_import("aif360.sklearn.postprocessing", purpose=f"the {self.name!r} mitigation")
        self.feature_ = ctx.feature
        self.privileged_group_ = str(ctx.privileged_group)
        Xi = indexed_frame(X, _privileged_indicator(sensitive_features, self.privileged_group_),
                           self.feature_)
        yi = pd.Series(np.asarray(y, dtype=np.int64), index=Xi.index)
        meta = post.PostProcessingMeta(coded(estimator), legacy_tags(self._make(post)), prefit=True)
        meta.fit(Xi, yi)
        self.model_ = meta
        self.estimator_ = estimator
        return self._restored(0, self._describe())

    def _describe(self) -> dict[str, Any]:
        return {"privileged_group": self.privileged_group_}

    def _frame(self, X: Any, sensitive_features: np.ndarray | None) -> Any:
        g = self._groups(sensitive_features, int(X.shape[0]) if hasattr(X, "shape") else len(X))
        return indexed_frame(X, _privileged_indicator(g, self.privileged_group_), self.feature_)

    def predict_proba(self, X: Any, *, sensitive_features: np.ndarray | None = None) -> np.ndarray:
        self._check_fitted()
        return np.asarray(self.model_.predict_proba(self._frame(X, sensitive_features)), dtype=np.float64)

    def predict(self, X: Any, *, sensitive_features: np.ndarray | None = None) -> np.ndarray:
        self._check_fitted()
        return np.asarray(self.model_.predict(self._frame(X, sensitive_features)), dtype=np.int64)

    # -- persistence: the fitted post-processor's attributes, restored onto a new instance ------
    _FITTED: tuple[str, ...] = ()

    def _fitted_postprocessor(self) -> Any:
        return self.model_.postprocessor_

    def _save_state(self, writer: StateWriter) -> dict[str, Any]:
        pp = self._fitted_postprocessor()
        attrs = {a: _plain(getattr(pp, a)) for a in self._FITTED}
        return {"feature": self.feature_, "privileged_group": self.privileged_group_,
                "params": _plain(pp.get_params(deep=False)), "attributes": attrs}

    @classmethod
    def _load_state(cls, params: dict, state: dict, reader: StateWriter, base: Any) -> _PostProcessor:
        post = quiet_import("aif360.sklearn.postprocessing", purpose=f"the {cls.name!r} mitigation")
        inst = cls(**params)
        inst.feature_ = state["feature"]
        inst.privileged_group_ = state["privileged_group"]
        pp = legacy_tags(inst._unfitted(post, state["params"]))
        for name, value in state["attributes"].items():
            keep_list = name == "prot_attr_"  # index level names: a list, as check_groups wants
            setattr(pp, name, np.asarray(value) if isinstance(value, list) and not keep_list else value)
        meta = post.PostProcessingMeta(coded(base), pp, prefit=True)
        meta.estimator_ = coded(base)
        meta.postprocessor_ = pp
        inst.model_ = meta
        inst.estimator_ = base
        return inst._restored(0, inst._describe())

    def _unfitted(self, post: Any, params: dict) -> Any:  # pragma: no cover - abstract
        raise NotImplementedError


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, np.ndarray, pd.Index)):
        return [_plain(v) for v in list(value)]
    if isinstance(value, np.generic):
        return value.item()
    return value


@register("aif360.calibrated_equalized_odds")
class CalibratedEqualizedOddsMitigation(_PostProcessor):
    """AIF360's ``CalibratedEqualizedOdds`` (Pleiss et al.) on the model's scores.

    Mixes each group's scores with its base rate to equalise a generalised error rate.

    Parameters
    ----------
    cost_constraint : {"weighted", "fpr", "fnr"}, default="weighted"
        Which generalised rate to equalise.
    random_state : int, default=0
        Seeds the random mixing at prediction.

    Attributes
    ----------
    model_ : PostProcessingMeta
        The fitted AIF360 meta-estimator.
    feature_ : str
        Name of the protected attribute in the index.
    privileged_group_ : str
        The group given ``1``; every other group is ``0``.
    estimator_, n_refits_, details_ :
        See :class:`~fairbridge.mitigations.Mitigation`.
    """

    _FITTED = ("prot_attr_", "groups_", "classes_", "pos_label_", "mix_rates_", "base_rates_")

    def __init__(self, *, cost_constraint: Literal["weighted", "fpr", "fnr"] = "weighted",
                 random_state: int = 0) -> None:
        self.cost_constraint = cost_constraint
        self.random_state = random_state

    def _make(self, post: Any) -> Any:
        check_one_of(self.name, "cost_constraint", self.cost_constraint, ["weighted", "fpr", "fnr"])
        return post.CalibratedEqualizedOdds(prot_attr=self.feature_, cost_constraint=self.cost_constraint,
                                            random_state=self.random_state)

    def _describe(self) -> dict[str, Any]:
        out = super()._describe()
        pp = getattr(getattr(self, "model_", None), "postprocessor_", None)
        if pp is not None:
            out["mix_rates"] = [float(v) for v in pp.mix_rates_]
        return out

    def _unfitted(self, post: Any, params: dict) -> Any:
        return post.CalibratedEqualizedOdds(**params)


@register("aif360.reject_option")
class RejectOptionMitigation(_PostProcessor):
    """AIF360's reject option classification (Kamiran et al.) on the model's scores.

    In a band of width ``2 * margin`` around ``threshold`` the privileged group gets the
    unfavourable and the others the favourable outcome.  By default ``threshold`` and ``margin``
    are searched by AIF360's ``RejectOptionClassifierCV`` on the training scores (best balanced
    accuracy whose fairness score passes AIF360's bound).

    Parameters
    ----------
    scoring : {"statistical_parity", "average_odds", "equal_opportunity", "disparate_impact"}
        The fairness score of the search.
    step : float, default=0.05
        Grid step of threshold and margin.
    threshold, margin : float, optional
        Fixed values instead of a search (both or neither).

    Attributes
    ----------
    model_ : PostProcessingMeta
        The fitted AIF360 meta-estimator.
    feature_, privileged_group_, estimator_, n_refits_, details_ :
        See :class:`CalibratedEqualizedOddsMitigation`.
    """

    _FITTED = ("prot_attr_", "groups_", "classes_", "pos_label_", "priv_group_")

    def __init__(self, *, scoring: Literal["statistical_parity", "average_odds", "equal_opportunity",
                                           "disparate_impact"] = "statistical_parity",
                 step: float = 0.05, threshold: float | None = None,
                 margin: float | None = None) -> None:
        self.scoring = scoring
        self.step = step
        self.threshold = threshold
        self.margin = margin

    def _make(self, post: Any) -> Any:
        who = self.name
        if (self.threshold is None) != (self.margin is None):
            raise ValueError(problem(who, "arguments 'threshold' and 'margin'",
                                     "must be given together or not at all",
                                     f"threshold={self.threshold!r}, margin={self.margin!r}",
                                     "Pass both, or neither to search them."))
        if self.threshold is not None:
            return post.RejectOptionClassifier(prot_attr=self.feature_, threshold=self.threshold,
                                               margin=self.margin)
        check_one_of(who, "scoring", self.scoring,
                     ["statistical_parity", "average_odds", "equal_opportunity", "disparate_impact"])
        check_number(who, "step", self.step, minimum=0.0, maximum=0.5, strict_minimum=True)
        return post.RejectOptionClassifierCV(prot_attr=self.feature_, scoring=self.scoring,
                                             step=self.step)

    def _fitted_postprocessor(self) -> Any:
        pp = self.model_.postprocessor_
        return getattr(pp, "best_estimator_", pp)

    def _describe(self) -> dict[str, Any]:
        out = super()._describe()
        if getattr(self, "model_", None) is not None:
            pp = self._fitted_postprocessor()
            out.update(threshold=float(pp.threshold), margin=float(pp.margin))
        return out

    def _unfitted(self, post: Any, params: dict) -> Any:
        return post.RejectOptionClassifier(**params)
