"""Refitting an adapter's head on features computed elsewhere (on Ray), without the texts.

``refit="head"`` retrains only the final linear layer on the frozen network's penultimate
features.  :func:`~fairbridge.distributed.score` with ``return_features=True`` returns exactly
those features, so the refit needs nothing else: :class:`HeadClassifier` is that refit as a
scikit-learn estimator whose ``X`` *is* the feature matrix.  Fairlearn's reductions
(ExponentiatedGradient, GridSearch) and AIF360's reweighing clone and refit it like any
estimator, on the driver, with the network never loaded for it and no text in sight; the
result goes back into a full adapter with :meth:`HeadClassifier.to_adapter` (or
:func:`fit_from_outputs`), or scores the features on Ray with
:func:`~fairbridge.distributed.predict_on_ray`.
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, clone

from fairbridge._scores import softmax
from fairbridge._validation import (
    MSG_NOT_FITTED,
    NotFittedError,
    check_array_input,
    check_labels,
    check_sample_weight,
    check_sensitive_features,
    describe,
    problem,
)

__all__ = ["HeadClassifier", "fit_from_outputs"]


class HeadClassifier(ClassifierMixin, BaseEstimator):
    """An adapter's ``refit="head"`` on precomputed penultimate features.

    ``fit(features, y, sample_weight)`` is what
    :meth:`HFTextClassifier.fit <fairbridge.adapters.HFTextClassifier.fit>` does after its
    forward pass: the same label encoding, the same weighted L-BFGS head fit starting from
    (and pulled towards) the fine-tuned head.  Given the features the adapter computes, the
    refitted head is the adapter's.  Build it with :meth:`from_adapter`.

    Parameters
    ----------
    coef_init : ndarray of shape (n_classes, n_features)
        The fine-tuned head's weight (the start of, and the pull of, every refit).
    intercept_init : ndarray of shape (n_classes,)
        The fine-tuned head's bias.
    label_names : list of str, optional
        The network's label names (``config.id2label``), to map string labels by name.
    refit : {"head", "none"}, default="head"
        ``"none"`` learns nothing: the fine-tuned head scores the features.
    head_alpha : float, default=1e-3
        Pull towards ``coef_init`` (as the adapter's parameter).
    head_max_iter : int, default=50
        L-BFGS iterations.
    fairness_loss : callable, optional
        A differentiable penalty added to the loss (see the adapters' ``fairness_loss``).
    fairness_weight : float, default=0.0
        Its weight.

    Attributes
    ----------
    classes_ : ndarray
        Class labels in output order.
    coef_ : ndarray of shape (n_classes, n_features)
        The (refitted) head's weight.
    intercept_ : ndarray of shape (n_classes,)
        Its bias.
    n_features_in_ : int
        Width of the features.
    history_ : list of dict
        The head fit's final losses (empty for ``refit="none"``).
    """

    def __init__(self, *, coef_init: np.ndarray | None = None, intercept_init: np.ndarray | None = None,
                 label_names: list[str] | None = None, refit: Literal["head", "none"] = "head",
                 head_alpha: float = 1e-3, head_max_iter: int = 50, fairness_loss: Any = None,
                 fairness_weight: float = 0.0) -> None:
        self.coef_init = coef_init
        self.intercept_init = intercept_init
        self.label_names = label_names
        self.refit = refit
        self.head_alpha = head_alpha
        self.head_max_iter = head_max_iter
        self.fairness_loss = fairness_loss
        self.fairness_weight = fairness_weight

    @classmethod
    def from_adapter(cls, estimator: Any, **overrides: Any) -> HeadClassifier:
        """The head refit of a fitted adapter (its fine-tuned head, label names and settings).

        Parameters
        ----------
        estimator : HFTextClassifier or TorchClassifier
            Fitted, with ``refit="head"`` or ``"none"``.
        **overrides
            Parameters to change (e.g. ``fairness_weight=0.5``).
        """
        who = "HeadClassifier.from_adapter"
        if not hasattr(estimator, "backbone_") or not hasattr(estimator, "classes_"):
            raise NotFittedError(MSG_NOT_FITTED.format(who=who, cls=type(estimator).__name__,
                                                       method="HeadClassifier.from_adapter()"))
        refit = getattr(estimator, "refit", None)
        if refit not in ("head", "none"):
            raise ValueError(problem(who, "argument 'estimator'",
                                     "must use refit='head' or refit='none' (a head on frozen "
                                     "features)", f"refit={refit!r}",
                                     "A full fine-tune needs the texts; refit it locally."))
        w, b = estimator.backbone_.head_parameters()
        params = dict(coef_init=w, intercept_init=b,
                      label_names=estimator._label_names(estimator.backbone_), refit=refit,
                      head_alpha=estimator.head_alpha, head_max_iter=estimator.head_max_iter,
                      fairness_loss=estimator.fairness_loss,
                      fairness_weight=estimator.fairness_weight)
        params.update(overrides)
        return cls(**params)

    @classmethod
    def from_fitted(cls, estimator: Any, **overrides: Any) -> HeadClassifier:
        """A fitted HeadClassifier that scores features exactly as ``estimator`` scores texts.

        Its head is the adapter's current one (the refitted ``head_coef_``, or the fine-tuned
        head for ``refit="none"``, whose logits equal the network's to the precision the
        adapter checks); its parameters are those of :meth:`from_adapter`, so a clone refits
        from the fine-tuned head as the adapter does.  This is the baseline a comparison on
        features starts from.
        """
        head = cls.from_adapter(estimator, **overrides)
        w0, b0 = head._init("HeadClassifier.from_fitted")
        coef = getattr(estimator, "head_coef_", None)
        intercept = getattr(estimator, "head_intercept_", None)
        head.classes_ = np.asarray(estimator.classes_).copy()
        head.coef_ = w0.copy() if coef is None else np.asarray(coef, dtype=np.float32).copy()
        head.intercept_ = b0.copy() if intercept is None else np.asarray(intercept, dtype=np.float32).copy()
        head.n_features_in_ = int(w0.shape[1])
        head.history_ = list(getattr(estimator, "history_", []) or [])
        return head

    def _init(self, who: str) -> tuple[np.ndarray, np.ndarray]:
        if self.coef_init is None or self.intercept_init is None:
            raise ValueError(problem(who, "arguments 'coef_init' and 'intercept_init'",
                                     "are required (the fine-tuned head)", "None",
                                     "Build it with HeadClassifier.from_adapter(fitted_adapter)."))
        w = np.asarray(self.coef_init, dtype=np.float32)
        b = np.asarray(self.intercept_init, dtype=np.float32)
        if w.ndim != 2 or b.shape != (w.shape[0],):
            raise ValueError(problem(who, "arguments 'coef_init' and 'intercept_init'",
                                     "must have shapes (n_classes, n_features) and (n_classes,)",
                                     f"{w.shape} and {b.shape}", "Pass the head's weight and bias."))
        if self.refit not in ("head", "none"):
            raise ValueError(problem(who, "argument 'refit'", "must be one of 'head', 'none'",
                                     describe(self.refit), "Pass refit='head' or refit='none'."))
        return w, b

    def _features(self, X: Any, who: str, width: int) -> np.ndarray:
        arr = check_array_input(X, who=who, allow_nd=False)
        if arr.shape[1] != width:
            raise ValueError(problem(who, "argument 'X'",
                                     f"must hold the network's {width} penultimate features per row",
                                     f"{arr.shape[1]} columns",
                                     "Pass the 'features' column of fairbridge.distributed.score("
                                     "..., return_features=True) or adapter.embed(X)."))
        return arr

    def fit(self, X: Any, y: Any, sample_weight: Any = None, *,
            sensitive_features: Any = None) -> HeadClassifier:
        """Refit the head on features ``X``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Penultimate features.
        y : array-like of shape (n_samples,)
            Class labels (encoded as the adapter encodes them).
        sample_weight : array-like of shape (n_samples,), optional
            Per-sample weights (weighted loss).
        sensitive_features : array-like, optional
            Group memberships, for ``fairness_loss``.

        Returns
        -------
        self
        """
        from fairbridge.adapters._labels import encode_labels
        from fairbridge.adapters._head import fit_linear_head

        who = "HeadClassifier.fit"
        w0, b0 = self._init(who)
        F = self._features(X, who, w0.shape[1])
        n = F.shape[0]
        y_arr = check_labels(y, who=who, n_samples=n)
        sw = check_sample_weight(sample_weight, who=who, n_samples=n)
        # the adapters' own label rule (ints 0..k-1, label names, or k sorted labels)
        classes, targets = encode_labels(y_arr, w0.shape[0], self.label_names, who=who)
        self.classes_ = classes
        self.n_features_in_ = int(w0.shape[1])
        self.history_: list[dict] = []
        if self.refit == "none":
            self.coef_, self.intercept_ = w0.copy(), b0.copy()
            return self
        wants = self.fairness_loss is not None and self.fairness_weight > 0
        groups = None
        if wants:
            frame = check_sensitive_features(sensitive_features, who=who, n_samples=n)
            keys = frame.astype(str).agg("|".join, axis=1) if frame.shape[1] > 1 else frame.iloc[:, 0]
            import pandas as pd

            codes, _ = pd.factorize(keys)
            groups = np.eye(codes.max() + 1, dtype=np.float32)[codes]
        import torch

        W, b, info = fit_linear_head(F, targets, sw, init=(w0, b0), alpha=self.head_alpha,
                                     max_iter=self.head_max_iter, device=torch.device("cpu"),
                                     fairness_loss=self.fairness_loss if wants else None,
                                     fairness_weight=self.fairness_weight, groups=groups)
        self.coef_, self.intercept_ = W, b
        self.history_ = [{"step": info["n_iter"], "epoch": 1, "loss": info["loss"],
                          "task_loss": info["task_loss"], "fairness_loss": info["fairness_loss"]}]
        return self

    def _check_fitted(self, method: str) -> None:
        if not hasattr(self, "coef_"):
            raise NotFittedError(MSG_NOT_FITTED.format(who=f"HeadClassifier.{method}",
                                                       cls="HeadClassifier", method=f"{method}()"))

    def _logits(self, X: Any, method: str) -> np.ndarray:
        self._check_fitted(method)
        F = self._features(X, f"HeadClassifier.{method}", self.n_features_in_)
        return F.astype(np.float64) @ self.coef_.T.astype(np.float64) + self.intercept_.astype(np.float64)

    def decision_function(self, X: Any) -> np.ndarray:
        """Logits; the margin ``logit_1 - logit_0`` for two classes."""
        z = self._logits(X, "decision_function")
        return z[:, 1] - z[:, 0] if z.shape[1] == 2 else z

    def predict_proba(self, X: Any) -> np.ndarray:
        """Class probabilities (softmax of the logits), float64."""
        return softmax(self._logits(X, "predict_proba"))

    def predict(self, X: Any) -> np.ndarray:
        """Predicted class labels."""
        z = self._logits(X, "predict")
        return self.classes_[np.argmax(z, axis=1)]

    def embed(self, X: Any) -> np.ndarray:
        """The features themselves (float32): what embedding-based mitigations use."""
        self._check_fitted("embed")
        return self._features(X, "HeadClassifier.embed", self.n_features_in_)

    def to_adapter(self, estimator: Any) -> Any:
        """A fitted copy of ``estimator`` (sharing its network) that uses this head.

        Parameters
        ----------
        estimator : HFTextClassifier or TorchClassifier
            The fitted adapter whose features this head was fitted on.

        Returns
        -------
        adapter
            Scores new texts with the refitted head (``head_coef_``/``head_intercept_``).
        """
        self._check_fitted("to_adapter")
        new = clone(estimator)
        new.backbone_ = estimator.backbone_
        for attr in ("n_features_in_", "input_shape_", "module_params_"):
            if hasattr(estimator, attr):
                setattr(new, attr, getattr(estimator, attr))
        new.classes_ = np.asarray(self.classes_).copy()
        if self.refit == "head":
            new.head_coef_, new.head_intercept_ = self.coef_.copy(), self.intercept_.copy()
        else:
            new.head_coef_ = new.head_intercept_ = None
        new.history_ = list(self.history_)
        return new


def fit_from_outputs(estimator: Any, features: Any, y: Any, sample_weight: Any = None, *,
                     sensitive_features: Any = None) -> Any:
    """Refit an adapter's head from precomputed features: ``fit`` without the forward pass.

    The stand-in for the adapter method ``fit_from_outputs`` (see the report of issue 9):
    ``fit_from_outputs(clf, F, y, w)`` equals ``clone(clf).fit(X, y, w)`` when ``F`` are the
    features of ``X`` (``clf.embed(X)``, or the ``features`` column of
    :func:`~fairbridge.distributed.score`).

    Parameters
    ----------
    estimator : HFTextClassifier or TorchClassifier
        Fitted with ``refit="head"`` or ``"none"``; not modified.
    features : array-like of shape (n_samples, n_features)
        Penultimate features.
    y : array-like of shape (n_samples,)
        Class labels.
    sample_weight : array-like, optional
        Per-sample weights.
    sensitive_features : array-like, optional
        Groups, for the adapter's ``fairness_loss``.

    Returns
    -------
    adapter
        A new fitted adapter sharing ``estimator``'s network, with the refitted head.
    """
    head = HeadClassifier.from_adapter(estimator)
    head.fit(features, y, sample_weight, sensitive_features=sensitive_features)
    return head.to_adapter(estimator)
