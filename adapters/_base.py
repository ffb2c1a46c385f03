"""What both adapters share: the scikit-learn contract, refit modes, label encoding, scoring.

Subclasses (:class:`~fairbridge.adapters.HFTextClassifier`,
:class:`~fairbridge.adapters.TorchClassifier`) say how to validate their inputs, how to load
their backbone from its recipe and how to batch inputs for training; everything else, the three
refit modes included, lives here once.
"""

from __future__ import annotations

import copy
import numbers
from collections.abc import Callable, Hashable
from typing import Any, Literal

import numpy as np
import pandas as pd
import torch
from sklearn.base import BaseEstimator, ClassifierMixin

from fairbridge._validation import (
    MSG_NOT_FITTED,
    NotFittedError,
    Problems,
    check_int,
    check_labels,
    check_number,
    check_one_of,
    check_sample_weight,
    check_sensitive_features,
    describe,
    problem,
)

from ._backbone import Backbone
from ._engine import EngineSettings, check_batch_size, resolve_device, resolve_precision
from ._head import fit_linear_head
from ._labels import encode_labels
from fairbridge._scores import log_softmax, softmax
from ._shared import SharedModel
from ._training import train_network

__all__ = ["AdapterBase", "RefitMode"]

RefitMode = Literal["head", "full", "none"]


#: Head refits up to this many feature values run on the CPU in float64 even when the network
#: is on a GPU: for the sizes Fairlearn's reductions refit, kernel launches would cost more
#: than the arithmetic.
_HEAD_ON_CPU_MAX = 1 << 25


def _head_device(features: np.ndarray, device: torch.device) -> torch.device:
    return torch.device("cpu") if features.size <= _HEAD_ON_CPU_MAX else device


def _collect(problems: Problems, check: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
    try:
        check(*args, **kwargs)
    except (TypeError, ValueError) as exc:
        text = str(exc)
        who = problems.who + ": "
        problems.messages.append(text if text.startswith(who) else who + text)
        problems.type_error = problems.type_error or isinstance(exc, TypeError)


class AdapterBase(ClassifierMixin, BaseEstimator):
    """Shared implementation of the adapters; not used directly.

    Fitted attributes are documented on the subclasses.
    """

    # -- subclass hooks --------------------------------------------------------------------
    def _validate_inputs(self, X: Any, who: str, *, fitting: bool) -> Any:
        raise NotImplementedError

    def _load_backbone(self, device: torch.device | None, who: str, inputs: Any, y: np.ndarray) -> Backbone:
        raise NotImplementedError

    def _check_specific_params(self, problems: Problems) -> None:
        """Add subclass parameter problems to ``problems``."""

    def _cache_key(self, amp: torch.dtype | None, backbone: Backbone) -> Hashable:
        return ("outputs", str(amp))

    def _output_extra(self, backbone: Backbone) -> dict:
        return {}

    def _after_outputs(self, extra: dict, n: int, who: str) -> None:
        """Warn about what happened while scoring (e.g. truncated texts)."""

    def _training_io(self, backbone: Backbone, inputs: Any) -> tuple[Callable, Callable]:
        """``(collate, forward_logits)`` to fine-tune ``backbone.model`` on ``inputs``."""
        raise NotImplementedError

    def _spawn_backbone(self, backbone: Backbone, net: torch.nn.Module) -> Backbone:
        """A new backbone around ``net`` (a trainable copy of ``backbone.model``)."""
        raise NotImplementedError

    def _label_names(self, backbone: Backbone) -> list[str] | None:
        return None

    # -- parameters ----------------------------------------------------------------------
    def _who(self, method: str) -> str:
        return f"{type(self).__name__}.{method}"

    def _check_params(self, who: str) -> None:
        p = Problems(who)
        _collect(p, check_one_of, who, "refit", self.refit, ["head", "full", "none"])
        _collect(p, check_batch_size, self.batch_size, who=who)
        _collect(p, check_one_of, who, "precision", self.precision, ["auto", "fp32", "bf16", "fp16"])
        if not isinstance(self.progress, (bool, np.bool_)):
            p.add("argument 'progress'", "must be True or False", describe(self.progress),
                  "Pass progress=False to silence the bars.", type_error=True)
        if self.head is not None and not isinstance(self.head, str):
            p.add("argument 'head'", "must be None or the name of the final linear layer",
                  describe(self.head), "Pass e.g. head='classifier'.", type_error=True)
        _collect(p, check_number, who, "head_alpha", self.head_alpha, minimum=0.0)
        _collect(p, check_int, who, "head_max_iter", self.head_max_iter, minimum=1)
        _collect(p, check_int, who, "epochs", self.epochs, minimum=1)
        _collect(p, check_number, who, "learning_rate", self.learning_rate, minimum=0.0,
                 strict_minimum=True)
        _collect(p, check_int, who, "train_batch_size", self.train_batch_size, minimum=1)
        _collect(p, check_number, who, "weight_decay", self.weight_decay, minimum=0.0)
        _collect(p, check_number, who, "fairness_weight", self.fairness_weight, minimum=0.0)
        if self.fairness_loss is not None and not callable(self.fairness_loss):
            p.add("argument 'fairness_loss'", "must be None or a callable "
                  "(logits, y, groups, sample_weight) -> loss", describe(self.fairness_loss),
                  "Pass a differentiable penalty, e.g. from fairbridge's fair_loss method.",
                  type_error=True)
        if self.callbacks is not None and (
            isinstance(self.callbacks, (str, bytes)) or not hasattr(self.callbacks, "__iter__")
        ):
            p.add("argument 'callbacks'", "must be None or a list of Callback objects",
                  describe(self.callbacks), "Pass callbacks=[MyCallback()].", type_error=True)
        if self.random_state is not None and (
            isinstance(self.random_state, bool) or not isinstance(self.random_state, numbers.Integral)
        ):
            p.add("argument 'random_state'", "must be None or an int", describe(self.random_state),
                  "Pass an int seed.", type_error=True)
        if not isinstance(self.cache, (bool, np.bool_)):
            p.add("argument 'cache'", "must be True or False", describe(self.cache),
                  "Pass cache=False to turn the feature cache off.", type_error=True)
        self._check_specific_params(p)
        p.raise_if_any()

    def _groups_onehot(self, sensitive_features: Any, n: int, who: str) -> np.ndarray:
        frame = check_sensitive_features(sensitive_features, who=who, n_samples=n)
        keys = frame.astype(str).agg("|".join, axis=1) if frame.shape[1] > 1 else frame.iloc[:, 0]
        codes, _ = pd.factorize(keys)
        return np.eye(codes.max() + 1, dtype=np.float32)[codes]

    # -- fit ----------------------------------------------------------------------------------
    def fit(self, X: Any, y: Any, sample_weight: Any = None, *, sensitive_features: Any = None) -> AdapterBase:
        """Fit the adapter according to ``refit``.

        Parameters
        ----------
        X : array-like
            Training inputs (see the class docstring for the accepted containers).
        y : array-like of shape (n_samples,)
            Class labels.
        sample_weight : array-like of shape (n_samples,), optional
            Per-sample weights, honoured by ``refit="head"`` and ``refit="full"`` (weighted
            loss); ignored by ``refit="none"``, which learns nothing.
        sensitive_features : array-like, optional
            Group memberships; used only by a ``fairness_loss`` penalty.

        Returns
        -------
        self
        """
        who = self._who("fit")
        self._check_params(who)
        inputs = self._validate_inputs(X, who, fitting=True)
        n = len(inputs)
        y_arr = check_labels(y, who=who, n_samples=n)
        sw = check_sample_weight(sample_weight, who=who, n_samples=n)
        groups = None
        wants_fairness = self.fairness_loss is not None and self.fairness_weight > 0
        if wants_fairness and self.refit != "none":
            if sensitive_features is None:
                raise ValueError(problem(
                    who, "argument 'sensitive_features'", "is required when fairness_loss is set",
                    "None", "Pass fit(X, y, sensitive_features=A), or set fairness_weight=0."))
            groups = self._groups_onehot(sensitive_features, n, who)
        backbone = self._load_backbone(self._target_device(who), who, inputs, y_arr)
        amp = resolve_precision(self.precision, backbone.device, who=who)
        n_classes = max(2, int(backbone.n_outputs or 2))
        classes, targets = encode_labels(y_arr, n_classes, self._label_names(backbone), who=who)
        self.classes_ = classes
        self.head_coef_: np.ndarray | None = None
        self.head_intercept_: np.ndarray | None = None
        self.history_: list[dict] = []
        if self.refit == "none":
            self.backbone_ = backbone
        elif self.refit == "head":
            self.backbone_ = backbone
            feats, _ = self._outputs(inputs, who, backbone=backbone)
            W, b, info = fit_linear_head(
                feats, targets, sw, init=backbone.head_parameters(), alpha=self.head_alpha,
                max_iter=self.head_max_iter, device=_head_device(feats, backbone.device),
                fairness_loss=self.fairness_loss if wants_fairness else None,
                fairness_weight=self.fairness_weight, groups=groups)
            self.head_coef_, self.head_intercept_ = W, b
            self.history_ = [{"step": info["n_iter"], "epoch": 1, "loss": info["loss"],
                              "task_loss": info["task_loss"], "fairness_loss": info["fairness_loss"]}]
        else:
            net = copy.deepcopy(backbone.model)
            trained = self._spawn_backbone(backbone, net)
            self.backbone_ = trained  # callbacks score with the weights trained so far
            collate, forward_logits = self._training_io(trained, inputs)
            self.history_ = train_network(
                net, n=n, collate=collate, forward_logits=forward_logits, targets=targets,
                sample_weight=sw, epochs=self.epochs, learning_rate=self.learning_rate,
                weight_decay=self.weight_decay, batch_size=self.train_batch_size,
                device=trained.device, amp_dtype=amp, random_state=self.random_state,
                progress=self.progress, estimator=self, callbacks=list(self.callbacks or []),
                before_callbacks=trained.clear_caches,
                fairness_loss=self.fairness_loss if wants_fairness else None,
                fairness_weight=self.fairness_weight, groups=groups)
            trained.owns_model = True
            trained.clear_caches()
        return self

    def _target_device(self, who: str) -> torch.device | None:
        """The device asked for; ``None`` means "where an in-memory network already is"."""
        source = getattr(self, "model", getattr(self, "module", None))
        if self.device == "auto" and isinstance(source, SharedModel):
            return None
        return resolve_device(self.device, who=who)

    # -- scoring ----------------------------------------------------------------------------
    def _check_fitted(self, method: str) -> None:
        if not hasattr(self, "backbone_") or not hasattr(self, "classes_"):
            raise NotFittedError(MSG_NOT_FITTED.format(
                who=self._who(method), cls=type(self).__name__, method=f"{method}()"))

    def _outputs(self, inputs: Any, who: str, *, backbone: Backbone | None = None,
                 bar: Any = None) -> tuple[np.ndarray, np.ndarray]:
        bb = self.backbone_ if backbone is None else backbone
        amp = resolve_precision(self.precision, bb.device, who=who)
        settings = EngineSettings(device=bb.device, amp_dtype=amp, batch_size=self.batch_size,
                                  progress=bool(self.progress),
                                  token_budget=bb.token_budget)
        extra = self._output_extra(bb)
        cache_key = self._cache_key(amp, bb) if self.cache else None
        feats, logits = bb.outputs(inputs, settings=settings, cache_key=cache_key, bar=bar, extra=extra)
        bb.token_budget = settings.token_budget  # remember an out-of-memory back-off
        self._after_outputs(extra, len(inputs), who)
        return feats, logits

    def scores_from_outputs(self, features: np.ndarray, logits: np.ndarray) -> np.ndarray:
        """Class scores (logits, float64) from backbone outputs, applying a refitted head.

        Parameters
        ----------
        features : ndarray of shape (n_samples, n_features)
            Penultimate features, as :meth:`embed` returns them.
        logits : ndarray of shape (n_samples, n_classes)
            The network's own logits.

        Returns
        -------
        ndarray of shape (n_samples, n_classes)
        """
        if self.head_coef_ is not None and self.head_intercept_ is not None:
            return np.asarray(features, dtype=np.float64) @ self.head_coef_.T.astype(np.float64) \
                + self.head_intercept_.astype(np.float64)
        return np.asarray(logits, dtype=np.float64)

    def _scores(self, X: Any, method: str) -> np.ndarray:
        self._check_fitted(method)
        who = self._who(method)
        inputs = self._validate_inputs(X, who, fitting=False)
        feats, logits = self._outputs(inputs, who)
        return self.scores_from_outputs(feats, logits)

    def decision_function(self, X: Any) -> np.ndarray:
        """Logits of the (refitted) model.

        Returns
        -------
        ndarray
            Shape ``(n_samples,)`` for two classes (the margin ``logit_1 - logit_0``, as in
            scikit-learn), else ``(n_samples, n_classes)``.
        """
        z = self._scores(X, "decision_function")
        return z[:, 1] - z[:, 0] if z.shape[1] == 2 else z

    def predict_proba(self, X: Any) -> np.ndarray:
        """Class probabilities (softmax of the logits), float64, columns in ``classes_`` order."""
        return softmax(self._scores(X, "predict_proba"))

    def predict_log_proba(self, X: Any) -> np.ndarray:
        """Logarithm of :meth:`predict_proba`."""
        return log_softmax(self._scores(X, "predict_log_proba"))

    def predict(self, X: Any) -> np.ndarray:
        """Predicted class labels (from ``classes_``)."""
        z = self._scores(X, "predict")
        return self.classes_[np.argmax(z, axis=1)]

    def outputs(self, X: Any) -> tuple[np.ndarray, np.ndarray]:
        """Penultimate features and the network's own logits, from one (cached) forward pass.

        Returns
        -------
        features : ndarray of float32, shape (n_samples, n_features)
        logits : ndarray of float32, shape (n_samples, n_classes)
            The fine-tuned network's logits; :meth:`scores_from_outputs` turns the pair into
            this estimator's scores (applying a refitted head).
        """
        self._check_fitted("outputs")
        who = self._who("outputs")
        return self._outputs(self._validate_inputs(X, who, fitting=False), who)

    def embed(self, X: Any) -> np.ndarray:
        """Penultimate features (the input of the final linear layer), float32.

        These are what ``refit="head"`` trains on, and what the bridge's embedding-based
        mitigations (adversarial, correlation remover) use.
        """
        self._check_fitted("embed")
        who = self._who("embed")
        feats, _ = self._outputs(self._validate_inputs(X, who, fitting=False), who)
        return feats

    @property
    def forward_stats(self) -> dict[str, int]:
        """Counters of the shared backbone (rows through the network, batches, cache hits)."""
        self._check_fitted("forward_stats")
        return self.backbone_.stats.snapshot()
