"""Post-processing fitted on scores alone: Fairlearn's ThresholdOptimizer, AIF360's post-processors.

A post-processor needs, per row, the model's probability of the positive class, the true label
and the group: three small columns, whatever the texts weigh.  :func:`fit_postprocessor`
brings exactly those to the driver (:func:`~fairbridge.distributed.collect`) and fits a
:class:`ScorePostprocessor` on them; :func:`~fairbridge.distributed.predict_on_ray` then
applies it to every row of a dataset on the cluster (``inputs="score"``).

The toolkits see a prefit model whose input *is* its score (:class:`ScoreClassifier`), so they
run unchanged: ``ThresholdOptimizer(estimator=ScoreClassifier(), prefit=True,
predict_method="predict_proba")`` and AIF360's ``CalibratedEqualizedOdds`` /
``RejectOptionClassifier`` on a ``(1 - s, s)`` frame whose index holds the group (1 for the
privileged group, 0 for the rest, as AIF360 needs exactly two).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin

from fairbridge._metrics import _label_eq, indicator
from fairbridge._validation import (
    MSG_NOT_FITTED,
    NotFittedError,
    check_labels,
    check_sensitive_features,
    describe,
    problem,
)

__all__ = ["POSTPROCESSORS", "ScoreClassifier", "ScorePostprocessor", "fit_postprocessor"]


def _score_vector(X: Any) -> np.ndarray:
    if isinstance(X, pd.DataFrame):
        arr = X.to_numpy(dtype=np.float64)
    else:
        arr = np.asarray(X, dtype=np.float64)
    return arr.reshape(arr.shape[0], -1)[:, -1]


class ScoreClassifier(ClassifierMixin, BaseEstimator):
    """A prefit classifier whose input is its own probability of the positive class.

    ``predict_proba(X)`` is ``[1 - s, s]`` for the scores ``s`` in the (last) column of ``X``.
    It lets post-processors that wrap a prefit estimator run on precomputed scores.

    Parameters
    ----------
    classes : sequence, default=(0, 1)
        The two class labels; ``s`` is the probability of ``classes[1]``.
    threshold : float, default=0.5
        ``predict`` gives ``classes[1]`` where ``s > threshold`` (the argmax rule; a tie is negative).

    Attributes
    ----------
    classes_ : ndarray of shape (2,)
        ``classes``.
    n_features_in_ : int
        Always 1.
    """

    def __init__(self, *, classes: Sequence[Any] = (0, 1), threshold: float = 0.5) -> None:
        self.classes = classes
        self.threshold = threshold

    def fit(self, X: Any = None, y: Any = None) -> ScoreClassifier:
        """Nothing to learn: sets ``classes_``."""
        self.classes_ = np.asarray(self.classes)
        if self.classes_.shape != (2,):
            raise ValueError(problem("ScoreClassifier.fit", "argument 'classes'",
                                     "must hold exactly two labels", describe(self.classes),
                                     "Scores stand for binary models only."))
        self.n_features_in_ = 1
        return self

    def predict_proba(self, X: Any) -> np.ndarray:
        """``[1 - s, s]`` per row."""
        s = _score_vector(X)
        return np.c_[1.0 - s, s]

    def predict(self, X: Any) -> np.ndarray:
        """``classes[1]`` where the score reaches ``threshold``, else ``classes[0]``."""
        if not hasattr(self, "classes_"):
            raise NotFittedError(MSG_NOT_FITTED.format(who="ScoreClassifier.predict",
                                                       cls="ScoreClassifier", method="predict()"))
        return self.classes_[(_score_vector(X) > self.threshold).astype(int)]


def _threshold_optimizer(options: dict, random_state: int | None) -> Any:
    from fairlearn.postprocessing import ThresholdOptimizer

    params = {"constraints": "demographic_parity", "objective": "accuracy_score"}
    params.update(options)
    return ThresholdOptimizer(estimator=ScoreClassifier().fit(), prefit=True,
                              predict_method="predict_proba", **params)


def _aif360(name: str) -> Callable[[dict, int | None], Any]:
    def build(options: dict, random_state: int | None) -> Any:
        from fairbridge._optional import import_optional

        post = import_optional("aif360.sklearn.postprocessing",
                               purpose=f"the post-processor 'aif360.{name}'")
        if name == "calibrated_equalized_odds":
            params: dict[str, Any] = {"cost_constraint": "weighted", "random_state": random_state}
            params.update(options)
            return post.CalibratedEqualizedOdds(prot_attr=None, **params)
        params = {"threshold": 0.5, "margin": 0.1}
        params.update(options)
        return post.RejectOptionClassifier(prot_attr=None, **params)

    return build


#: Post-processors that run on scores: name -> builder ``(options, random_state) -> model``.
POSTPROCESSORS: dict[str, Callable[[dict, int | None], Any]] = {
    "aif360.calibrated_equalized_odds": _aif360("calibrated_equalized_odds"),
    "aif360.reject_option": _aif360("reject_option"),
    "fairlearn.threshold_optimizer": _threshold_optimizer,
}


def _aif360_frame(s: np.ndarray, priv: np.ndarray) -> pd.DataFrame:
    """AIF360's input: ``(1 - s, s)`` with the group (1 privileged, 0 the rest) as the index."""
    return pd.DataFrame({0: 1.0 - s, 1: s}, index=pd.Index(priv.astype(int), name="privileged"))


def _fit_model(method: str, model: Any, s: np.ndarray, y01: np.ndarray, groups: np.ndarray,
               priv: np.ndarray) -> None:
    if method == "fairlearn.threshold_optimizer":
        model.fit(pd.DataFrame({"score": s}), y01, sensitive_features=groups)
        return
    X = _aif360_frame(s, priv)
    y = pd.Series(y01, index=X.index)
    if method == "aif360.calibrated_equalized_odds":
        model.fit(X, y, labels=[0, 1], pos_label=1)
    else:
        model.fit(X, y, labels=[0, 1], pos_label=1, priv_group=1)


def _predict_with(method: str, model: Any, s: np.ndarray, groups: np.ndarray, priv: np.ndarray,
                  random_state: int | None) -> np.ndarray:
    if method == "fairlearn.threshold_optimizer":
        return np.asarray(model.predict(pd.DataFrame({"score": s}), sensitive_features=groups,
                                        random_state=random_state)).astype(int)
    return np.asarray(model.predict(_aif360_frame(s, priv))).astype(int)


class ScorePostprocessor:
    """A fairness post-processor fitted on scores, labels and groups only.

    Parameters
    ----------
    method : str
        One of :data:`POSTPROCESSORS`: ``"fairlearn.threshold_optimizer"``,
        ``"aif360.calibrated_equalized_odds"``, ``"aif360.reject_option"``.
    classes : sequence, default=(0, 1)
        The model's two classes; scores are probabilities of ``classes[1]``.
    pos_label : object, optional
        The favourable outcome (default ``classes[1]``).
    privileged_group : object, optional
        AIF360's privileged group (the rest are pooled); default: the group with the highest
        rate of ``pos_label``.
    random_state : int, optional, default=0
        Seeds the randomised predictions (ThresholdOptimizer, calibrated equalized odds).
    options : dict, optional
        Parameters of the post-processor (e.g. ``{"constraints": "equalized_odds"}``).

    Attributes
    ----------
    model_ : estimator
        The fitted toolkit object.
    classes_ : ndarray
        ``classes``.
    pos_label_ : object
        The favourable outcome.
    privileged_group_ : str
        The privileged group (groups compared as str).
    n_samples_ : int
        Rows it was fitted on.
    """

    def __init__(self, method: str, *, classes: Sequence[Any] = (0, 1), pos_label: Any = None,
                 privileged_group: Any = None, random_state: int | None = 0,
                 options: dict | None = None) -> None:
        self.method = method
        self.classes = classes
        self.pos_label = pos_label
        self.privileged_group = privileged_group
        self.random_state = random_state
        self.options = options

    def _who(self, m: str) -> str:
        return f"ScorePostprocessor.{m}"

    def _s_pos(self, X: Any) -> np.ndarray:
        s = _score_vector(X)
        return s if self._pos_index == 1 else 1.0 - s

    def fit(self, X: Any, y: Any, *, sensitive_features: Any) -> ScorePostprocessor:
        """Fit on scores ``X`` (probabilities of ``classes[1]``), labels and groups."""
        who = self._who("fit")
        if self.method not in POSTPROCESSORS:
            choices = ", ".join(sorted(POSTPROCESSORS))
            raise ValueError(problem(who, "argument 'method'", f"must be one of {choices}",
                                     describe(self.method), f"Pass one of {choices}."))
        classes = np.asarray(self.classes)
        if classes.shape != (2,):
            raise ValueError(problem(who, "argument 'classes'", "must hold exactly two labels "
                                     "(post-processors are binary)", describe(self.classes),
                                     "Use a binary model."))
        pos = classes[1] if self.pos_label is None else self.pos_label
        matches = [i for i, c in enumerate(classes.tolist()) if _label_eq(_py(pos), c)]
        if not matches:
            raise ValueError(problem(who, "argument 'pos_label'", f"must be one of {classes.tolist()}",
                                     repr(pos), "Pass one of the model's classes."))
        self._pos_index = matches[0]
        s = self._s_pos(X)
        n = s.shape[0]
        if not np.all(np.isfinite(s)):
            raise ValueError(problem(who, "argument 'X'", "must hold finite scores",
                                     f"{int((~np.isfinite(s)).sum())} missing", "Drop those rows."))
        yt = check_labels(y, who=who, n_samples=n)
        frame = check_sensitive_features(sensitive_features, who=who, n_samples=n)
        groups = frame.astype(str).agg(" & ".join, axis=1).to_numpy(dtype=object)
        y01 = indicator(yt, _py(pos))

        if self.privileged_group is None:
            priv = _privileged_by_base_rate(groups, y01)
        else:
            priv = str(self.privileged_group)
            if priv not in set(groups.tolist()):
                raise ValueError(problem(who, "argument 'privileged_group'",
                                         f"must be one of the groups {sorted(set(groups))[:10]}",
                                         repr(self.privileged_group), "Pass a group in the data."))
        model = POSTPROCESSORS[self.method](dict(self.options or {}), self.random_state)
        _fit_model(self.method, model, s, y01, groups, groups == priv)
        self.model_ = model
        self.classes_ = classes
        self.pos_label_ = pos
        self.privileged_group_ = priv
        self.n_samples_ = int(n)
        return self

    def predict(self, X: Any, *, sensitive_features: Any) -> np.ndarray:
        """Mitigated labels for scores ``X`` of rows in groups ``sensitive_features``."""
        if not hasattr(self, "model_"):
            raise NotFittedError(MSG_NOT_FITTED.format(who=self._who("predict"),
                                                       cls="ScorePostprocessor", method="predict()"))
        s = self._s_pos(X)
        frame = check_sensitive_features(sensitive_features, who=self._who("predict"),
                                         n_samples=s.shape[0], min_groups=1)
        groups = frame.astype(str).agg(" & ".join, axis=1).to_numpy(dtype=object)
        y01 = _predict_with(self.method, self.model_, s, groups, groups == self.privileged_group_,
                            self.random_state)
        neg = self.classes_[1 - self._pos_index]
        return np.where(y01 == 1, self.pos_label_, neg).astype(self.classes_.dtype)

    def __repr__(self) -> str:
        return f"ScorePostprocessor({self.method!r})"


def _privileged_by_base_rate(groups: np.ndarray, y01: np.ndarray) -> str:
    """The group with the highest rate of the favourable label (ties: the larger, then by name),
    the rule of ``fairbridge.audit``."""
    stats = pd.DataFrame({"g": groups.astype(str), "y": y01}).groupby("g")["y"].agg(["mean", "size"])
    stats = stats.reset_index().sort_values(["mean", "size", "g"], ascending=[False, False, True])
    return str(stats["g"].iloc[0])


def _py(v: Any) -> Any:
    return v.item() if isinstance(v, np.generic) else v


def fit_postprocessor(method: str, scores: Any, *, label_column: str,
                      sensitive_column: str | Sequence[str], score_column: str = "score",
                      classes: Sequence[Any] | None = None, estimator: Any = None,
                      pos_label: Any = None, privileged_group: Any = None,
                      random_state: int | None = 0, id_column: str | None = "row_id",
                      **options: Any) -> ScorePostprocessor:
    """Fit a post-processor on the scores of a Ray Dataset (three small columns to the driver).

    Parameters
    ----------
    method : str
        ``"fairlearn.threshold_optimizer"``, ``"aif360.calibrated_equalized_odds"`` or
        ``"aif360.reject_option"``.
    scores : ray.data.Dataset
        The output of :func:`score`.
    label_column : str
        True labels.
    sensitive_column : str or list of str
        Groups (several columns are intersected).
    score_column : str, default="score"
        Probability of ``classes[1]``.
    classes : sequence, optional
        The model's two classes; default ``estimator.classes_``, else ``(0, 1)``.
    estimator : adapter, optional
        The scored model (for its ``classes_``).
    pos_label, privileged_group, random_state :
        See :class:`ScorePostprocessor`.
    id_column : str or None, default="row_id"
        Orders the rows brought back (so fits are reproducible).
    **options
        Parameters of the post-processor (e.g. ``constraints="equalized_odds"``).

    Returns
    -------
    ScorePostprocessor
        Fitted; apply it with ``predict_on_ray(pp, scores, inputs="score",
        sensitive_column=...)``.
    """
    from ._collect import collect

    groups = [sensitive_column] if isinstance(sensitive_column, str) else list(sensitive_column)
    if classes is None:
        classes = getattr(estimator, "classes_", (0, 1))
    names = list(getattr(scores.schema(), "names", []) or [])
    frame = collect(scores, [score_column, label_column, *groups],
                    id_column=id_column if id_column in names else None)
    pp = ScorePostprocessor(method, classes=classes, pos_label=pos_label,
                            privileged_group=privileged_group, random_state=random_state,
                            options=options or None)
    return pp.fit(frame[[score_column]], frame[label_column], sensitive_features=frame[groups])
