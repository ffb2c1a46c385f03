"""Fairness while fine-tuning: a Trainer ``compute_metrics``, a guard, and adapter callbacks.

* :func:`trainer_metrics` returns a ``compute_metrics`` function for the Hugging Face
  ``Trainer``: per-group rates and disparities computed by Fairlearn from the
  ``EvalPrediction``, keyed ``fairness/<metric>`` (logged as ``eval_fairness/<metric>``).
* :class:`FairnessGuard` stops training (or warns) when a disparity stays out of bounds for
  ``patience`` evaluations.  It is at once a ``transformers.TrainerCallback`` and a
  :class:`fairbridge.adapters.Callback` for the adapters' own ``refit="full"`` loop.
* :class:`FairnessCallback` computes the same metrics in the adapters' loop after each epoch
  (scoring a held-out set with the weights trained so far) and records them in ``history_``.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping
from typing import Any, Literal

import numpy as np
import pandas as pd
from transformers.trainer_callback import TrainerCallback

from fairbridge._validation import (
    check_int,
    check_labels,
    check_number,
    check_one_of,
    check_sensitive_features,
    describe,
    problem,
)
from fairbridge.adapters import Callback, StopTraining

from ._metrics import DISPARITIES, FairnessWarning, culprit_groups, fairlearn_metrics

__all__ = ["FairnessCallback", "FairnessGuard", "trainer_metrics"]

_WHO_METRICS = "fairbridge.monitor.trainer_metrics"


def _to_numpy(x: Any) -> np.ndarray:
    if isinstance(x, (tuple, list)) and x and not np.isscalar(x[0]):
        x = x[0]  # models that return (logits, hidden_states, ...): the logits come first
    if hasattr(x, "detach"):  # a torch tensor (batch_eval_metrics passes tensors)
        x = x.detach()
        if x.is_floating_point():
            x = x.float()
        x = x.cpu().numpy()
    return np.asarray(x)


def _check_prefix(who: str, prefix: Any) -> str:
    if not isinstance(prefix, str) or not prefix or prefix.endswith("/"):
        raise ValueError(problem(who, "argument 'prefix'", "must be a non-empty str without a "
                                 "trailing '/'", describe(prefix), "Pass prefix='fairness'."))
    return prefix


def _check_threshold(who: str, threshold: Any) -> float | None:
    if threshold is None:
        return None
    return check_number(who, "threshold", threshold, minimum=0.0, maximum=1.0)


def binary_outcomes(predictions: Any, label_ids: Any, *, threshold: float | None, pos_label: int,
                    who: str) -> tuple[np.ndarray, np.ndarray]:
    """``(y_true, y_pred)`` as 0/1 arrays from logits (Trainer) and label ids.

    Two or more logit columns are turned into probabilities by a softmax; the positive class
    is column ``pos_label``.  A single column is a binary logit (sigmoid).  Without a
    ``threshold`` the prediction is the argmax (the model's own decision); with one it is
    ``p(pos_label) > threshold``.
    """
    logits = _to_numpy(predictions).astype(np.float64)
    labels = _to_numpy(label_ids).reshape(-1)
    if logits.ndim == 1 or (logits.ndim == 2 and logits.shape[1] == 1):
        z = logits.reshape(-1)
        p = 1.0 / (1.0 + np.exp(-z))
        y_pred = p > (0.5 if threshold is None else threshold)
    elif logits.ndim == 2:
        if not 0 <= pos_label < logits.shape[1]:
            raise ValueError(problem(who, "argument 'pos_label'",
                                     f"must index one of the model's {logits.shape[1]} outputs",
                                     repr(pos_label), "Pass the id of the positive class."))
        z = logits - logits.max(axis=1, keepdims=True)
        probs = np.exp(z)
        probs /= probs.sum(axis=1, keepdims=True)
        y_pred = (probs[:, pos_label] > threshold if threshold is not None
                  else probs.argmax(axis=1) == pos_label)
    else:
        raise ValueError(problem(who, "the predictions", "must be logits of shape (n,) or "
                                 "(n, n_classes)", f"shape {logits.shape}",
                                 "Use a sequence classifier, or preprocess_logits_for_metrics."))
    if labels.shape[0] != y_pred.shape[0]:
        raise ValueError(problem(who, "the label ids", "must have one label per prediction",
                                 f"{labels.shape[0]} labels for {y_pred.shape[0]} predictions",
                                 "Check the evaluation dataset's labels."))
    return (labels == pos_label).astype(np.int64), y_pred.astype(np.int64)


class _TrainerMetrics:
    """The callable returned by :func:`trainer_metrics` (a class so that it pickles)."""

    def __init__(self, frame: pd.DataFrame, compute_metrics: Callable | None,
                 threshold: float | None, pos_label: int, prefix: str) -> None:
        self.frame = frame
        self.compute_metrics = compute_metrics
        self.threshold = threshold
        self.pos_label = pos_label
        self.prefix = prefix
        self._parts: list[tuple[np.ndarray, np.ndarray]] = []

    def _fairness(self, y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, float]:
        if y_true.shape[0] != len(self.frame):
            raise ValueError(problem(
                _WHO_METRICS, "argument 'sensitive_features'",
                f"must have one row per evaluation example ({y_true.shape[0]} predictions)",
                f"{len(self.frame)} rows",
                "Pass the sensitive features of eval_dataset, in its order (the Trainer "
                "evaluates it sequentially); with several evaluation datasets, use one Trainer "
                "metrics function per dataset."))
        return fairlearn_metrics(y_true, y_pred, self.frame, prefix=self.prefix)

    def __call__(self, eval_pred: Any, compute_result: bool | None = None) -> dict[str, float]:
        user: dict[str, float] = {}
        if self.compute_metrics is not None:
            out = (self.compute_metrics(eval_pred) if compute_result is None
                   else self.compute_metrics(eval_pred, compute_result=compute_result))
            user = dict(out or {})
        predictions, label_ids = eval_pred.predictions, eval_pred.label_ids
        y_true, y_pred = binary_outcomes(predictions, label_ids, threshold=self.threshold,
                                         pos_label=self.pos_label, who=_WHO_METRICS)
        if compute_result is None:  # the whole evaluation set at once
            return {**user, **self._fairness(y_true, y_pred)}
        # batch_eval_metrics=True: one call per batch, in order; compute on the last one
        self._parts.append((y_true, y_pred))
        if not compute_result:
            return user
        parts, self._parts = self._parts, []
        return {**user, **self._fairness(np.concatenate([p[0] for p in parts]),
                                         np.concatenate([p[1] for p in parts]))}


def trainer_metrics(
    *,
    sensitive_features: Any,
    compute_metrics: Callable[..., Mapping[str, float]] | None = None,
    threshold: float | None = None,
    pos_label: int = 1,
    prefix: str = "fairness",
) -> Callable[..., dict[str, float]]:
    """A ``compute_metrics`` function for the Hugging Face ``Trainer`` that adds group fairness.

    At every evaluation it turns the ``EvalPrediction`` into binary predictions and computes,
    with Fairlearn, per group: selection rate, accuracy, TPR, FPR and count; and the
    disparities demographic parity difference and ratio, equalized odds difference and equal
    opportunity difference.  Keys are ``<prefix>/<metric>`` (disparities) and
    ``<prefix>/<metric>/<group>``; the Trainer logs them as ``eval_<prefix>/...`` in
    ``state.log_history`` and every ``report_to`` backend, and they can be
    ``metric_for_best_model`` (with ``greater_is_better=False`` for differences).

    Parameters
    ----------
    sensitive_features : array-like, Series, DataFrame or dict
        The group of every example of the evaluation dataset, **in its order** (the Trainer
        evaluates sequentially).  Several columns make intersectional groups.
    compute_metrics : callable, optional
        Your own ``compute_metrics``; its metrics are returned alongside.
    threshold : float, optional
        Predict positive when ``p(pos_label) > threshold``; default: the argmax.
    pos_label : int, default=1
        The id of the positive (favourable) class.
    prefix : str, default="fairness"
        Key prefix.

    Returns
    -------
    callable
        ``compute_metrics(eval_pred, compute_result=None) -> dict``; works with
        ``batch_eval_metrics=True`` too (it accumulates batches and computes on the last).

    Examples
    --------
    >>> trainer = Trainer(model=model, args=args, eval_dataset=eval_ds,   # doctest: +SKIP
    ...                   compute_metrics=trainer_metrics(sensitive_features=A_eval))
    """
    frame = check_sensitive_features(sensitive_features, who=_WHO_METRICS)
    if compute_metrics is not None and not callable(compute_metrics):
        raise TypeError(problem(_WHO_METRICS, "argument 'compute_metrics'",
                                "must be None or a callable(EvalPrediction) -> dict",
                                describe(compute_metrics), "Pass your compute_metrics function."))
    threshold = _check_threshold(_WHO_METRICS, threshold)
    pos_label = check_int(_WHO_METRICS, "pos_label", pos_label, minimum=0)
    prefix = _check_prefix(_WHO_METRICS, prefix)
    return _TrainerMetrics(frame, compute_metrics, threshold, pos_label, prefix)


class FairnessGuard(TrainerCallback, Callback):
    """Stop training (or warn) when a fairness metric stays out of bounds.

    One object serves both training loops:

    * the Hugging Face ``Trainer`` (``callbacks=[FairnessGuard(...)]``), reading the metrics of
      :func:`trainer_metrics` at each evaluation and setting ``control.should_training_stop``;
    * the adapters' ``refit="full"`` loop (``callbacks=[FairnessCallback(...),
      FairnessGuard(...)]``), reading what :class:`FairnessCallback` added to the epoch's log
      and raising :class:`fairbridge.adapters.StopTraining`.

    Parameters
    ----------
    metric : str, default="demographic_parity_difference"
        A disparity name (one of ``DISPARITIES``), a per-group key such as
        ``"tpr/female"``, or a full logged key such as ``"eval_fairness/..."``.
    max_value : float, optional
        Upper bound (for differences).
    min_value : float, optional
        Lower bound (for ratios).  At least one bound is required.
    patience : int, default=1
        Consecutive out-of-bound evaluations before acting.
    action : {"stop", "warn"}, default="stop"
        Stop training, or only warn (:class:`FairnessWarning`).  A stop warns too.
    prefix : str, default="fairness"
        The metrics' key prefix.

    Attributes
    ----------
    events_ : list of dict
        One entry per trigger: ``key``, ``value``, ``bound``, ``step`` (or ``epoch``),
        ``groups`` (lowest and highest group), ``action`` and ``message``.

    Notes
    -----
    A NaN value (e.g. a TPR with no positive example) neither counts as out of bounds nor
    resets the count.  A metric absent from the evaluation is an error that lists the logged
    fairness keys.
    """

    def __init__(self, metric: str = "demographic_parity_difference", max_value: float | None = None,
                 *, min_value: float | None = None, patience: int = 1,
                 action: Literal["stop", "warn"] = "stop", prefix: str = "fairness") -> None:
        who = "FairnessGuard"
        if not isinstance(metric, str) or not metric:
            raise TypeError(problem(who, "argument 'metric'", "must be a metric name",
                                    describe(metric), f"Pass one of {', '.join(DISPARITIES)}."))
        if max_value is None and min_value is None:
            raise ValueError(problem(who, "arguments 'max_value' and 'min_value'",
                                     "must not both be None", "no bound",
                                     "Pass max_value=0.1 (a difference) or min_value=0.8 (a ratio)."))
        self.metric = metric
        self.max_value = None if max_value is None else check_number(who, "max_value", max_value)
        self.min_value = None if min_value is None else check_number(who, "min_value", min_value)
        self.patience = check_int(who, "patience", patience, minimum=1)
        self.action = check_one_of(who, "action", action, ["stop", "warn"])
        self.prefix = _check_prefix(who, prefix)
        self.events_: list[dict[str, Any]] = []
        self._strikes = 0

    # -- shared logic -------------------------------------------------------------------------
    def _find(self, metrics: Mapping[str, Any]) -> tuple[str, str]:
        """``(key, key_prefix)`` of the guarded metric in ``metrics``."""
        head = f"{self.prefix}/"
        wanted = self.metric if self.metric.startswith(head) else head + self.metric
        for key in metrics:
            if key == wanted or key.endswith("_" + wanted) or key == self.metric:
                cut = key.find(self.prefix + "/")
                return key, key[: cut + len(self.prefix)] if cut >= 0 else self.prefix
        shown = sorted(k for k in metrics if f"{self.prefix}/" in k)[:12]
        raise ValueError(problem(
            "FairnessGuard", "argument 'metric'", "must name a logged fairness metric",
            f"{self.metric!r}; logged fairness keys: {shown or 'none'}",
            "Add compute_metrics=fairbridge.monitor.trainer_metrics(...) to the Trainer (or a "
            "FairnessCallback before the guard in the adapter's callbacks), and check the name."))

    def _observe(self, metrics: Mapping[str, Any], where: dict[str, Any]) -> str | None:
        """Count a violation; return the message when the guard fires."""
        key, key_prefix = self._find(metrics)
        value = float(metrics[key])
        if np.isnan(value):
            return None
        above = self.max_value is not None and value > self.max_value
        below = self.min_value is not None and value < self.min_value
        self._strikes = self._strikes + 1 if (above or below) else 0
        if self._strikes < self.patience:
            return None
        base = key[len(key_prefix) + 1:]
        groups, detail = culprit_groups(metrics, base, key_prefix)
        bound = f"> max_value={self.max_value}" if above else f"< min_value={self.min_value}"
        at = ", ".join(f"{k} {v}" for k, v in where.items())
        outcome = "Training stopped." if self.action == "stop" else "Training continues (action='warn')."
        message = (f"FairnessGuard: {key} = {value:.4f} {bound} for {self._strikes} evaluation(s) "
                   f"in a row (patience={self.patience}) at {at}; groups {detail}. {outcome}")
        self.events_.append({"key": key, "value": value,
                             "bound": self.max_value if above else self.min_value, **where,
                             "groups": groups, "action": self.action, "message": message})
        self._strikes = 0
        warnings.warn(message, FairnessWarning, stacklevel=3)
        return message

    # -- Hugging Face Trainer -----------------------------------------------------------------
    def on_evaluate(self, args: Any, state: Any, control: Any, metrics: Mapping[str, Any] | None = None,
                    **kwargs: Any) -> Any:
        """Check the evaluation's metrics; set ``control.should_training_stop`` on a stop."""
        if metrics is None:
            return control
        message = self._observe(metrics, {"step": int(state.global_step)})
        if message is not None and self.action == "stop":
            control.should_training_stop = True
        return control

    # -- both loops ---------------------------------------------------------------------------
    def on_train_begin(self, *args: Any, **kwargs: Any) -> None:
        """Reset the count of consecutive violations (both loops call this)."""
        self._strikes = 0

    def on_epoch_begin(self, *args: Any, **kwargs: Any) -> None:
        """Nothing to do (both loops call this, with different arguments)."""

    def on_train_end(self, *args: Any, **kwargs: Any) -> None:
        """Nothing to do (both loops call this, with different arguments)."""

    def on_epoch_end(self, *args: Any, **kwargs: Any) -> None:
        """Adapter loop: check the epoch's log; the Trainer's own call is ignored."""
        if kwargs or len(args) != 3 or not isinstance(args[2], dict):
            return None  # a TrainerCallback event (args, state, control, **kwargs)
        _, epoch, logs = args
        message = self._observe(logs, {"epoch": int(epoch)})
        if message is not None and self.action == "stop":
            logs["stopped_by"] = message
            raise StopTraining(message)
        return None


class FairnessCallback(Callback):
    """Adapter callback: fairness metrics of a held-out set after every epoch of a full refit.

    After each epoch of ``refit="full"`` it scores ``X`` with the weights trained so far
    (``estimator.predict_proba``), computes the same metrics as :func:`trainer_metrics` with
    Fairlearn, and adds them to the epoch's log, so they land in the estimator's ``history_``.
    Put a :class:`FairnessGuard` after it to stop on a bound.

    Parameters
    ----------
    X : array-like
        Held-out inputs, in the estimator's input format.
    y : array-like of shape (n_samples,)
        Their labels.
    sensitive_features : array-like, Series, DataFrame or dict
        Their groups.
    threshold : float, optional
        Predict positive when ``p(pos_label) > threshold``; default: the argmax.
    pos_label : default=1
        The positive class (a value of ``estimator.classes_``).
    prefix : str, default="fairness"
        Key prefix.
    """

    def __init__(self, X: Any, y: Any, *, sensitive_features: Any, threshold: float | None = None,
                 pos_label: Any = 1, prefix: str = "fairness") -> None:
        who = "FairnessCallback"
        self.X = X
        self.y = check_labels(y, who=who)
        self.sensitive_features = check_sensitive_features(
            sensitive_features, who=who, n_samples=self.y.shape[0])
        self.threshold = _check_threshold(who, threshold)
        self.pos_label = pos_label
        self.prefix = _check_prefix(who, prefix)

    def on_epoch_end(self, estimator: Any, epoch: int, logs: dict) -> None:
        """Score the held-out set and add ``<prefix>/...`` metrics to ``logs``."""
        proba = np.asarray(estimator.predict_proba(self.X), dtype=np.float64)
        classes = list(np.asarray(estimator.classes_).tolist())
        if self.pos_label not in classes:
            raise ValueError(problem("FairnessCallback", "argument 'pos_label'",
                                     f"must be one of the estimator's classes {classes}",
                                     repr(self.pos_label), "Pass the favourable class label."))
        col = classes.index(self.pos_label)
        y_pred = (proba[:, col] > self.threshold if self.threshold is not None
                  else proba.argmax(axis=1) == col)
        y_true = self.y == self.pos_label
        logs.update(fairlearn_metrics(y_true.astype(np.int64), y_pred.astype(np.int64),
                                      self.sensitive_features, prefix=self.prefix))
