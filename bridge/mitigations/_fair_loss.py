"""``fair_loss``: in-training mitigation, ``L = L_task + lambda * L_fair``, with a lambda sweep.

The penalty is built from the maintained PyTorch package ``fairret``: a statistic per group
(``PositiveRate`` for demographic parity; ``TruePositiveRate`` and ``FalsePositiveRate`` stacked
for equalized odds) and ``NormLoss``, the p-norm of the relative gaps
``|stat_group / stat_overall - 1|``.  It is handed to the adapter's own training through its
``fairness_loss=`` / ``fairness_weight=`` parameters, so it is differentiated through the head
refit (default) or a full fine-tune (``refit="full"``), with the adapter's sample weights.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

import numpy as np
from sklearn.base import clone

from fairbridge._optional import import_optional
from fairbridge._validation import check_number, check_one_of, describe, problem

from ._base import (
    FitContext,
    Mitigation,
    StateWriter,
    load_estimator,
    proba_codes,
    save_estimator,
    take_rows,
)
from ._registry import register

if TYPE_CHECKING:
    import torch

__all__ = ["FairLossMitigation", "FairretPenalty"]

FairConstraint = Literal["demographic_parity", "equalized_odds"]

SELECTION_RULE = (
    "Each fairness weight is fitted on a training part and scored on a held-out validation part "
    "of the training data (validation_fraction; stratified by group and label); among the "
    "weights whose validation accuracy is within `tolerance` of the smallest weight's, the one "
    "with the smallest validation disparity (Fairlearn's demographic parity difference or "
    "equalized odds difference, matching the constraint) is chosen, ties going to the smaller "
    "weight; the chosen weight is then refitted on the whole training split. With "
    "validation_fraction=0 the same rule is applied to the training data itself and no extra "
    "refit is made."
)


class FairretPenalty:
    """A fairness penalty ``(logits, y, groups, sample_weight) -> scalar`` built with ``fairret``.

    Parameters
    ----------
    constraint : {"demographic_parity", "equalized_odds"}
        ``PositiveRate`` parity, or ``TruePositiveRate`` and ``FalsePositiveRate`` parity.
    p : int, default=1
        Order of ``fairret.loss.NormLoss``'s norm over groups.

    Notes
    -----
    fairret's statistics sum ``pred * sens`` over rows, so the sample weights are folded into
    the group indicators (``sens = groups * w``) and the overall target statistic is computed
    with ``sens = w``: both are then weighted averages, as the adapter's weighted task loss is.
    The binary margin ``logit_1 - logit_0`` is fairret's logit.  Where the target statistic is 0
    (e.g. no positive rows for a TPR) the penalty is 0.
    """

    def __init__(self, constraint: FairConstraint = "demographic_parity", p: int = 1) -> None:
        self.constraint = constraint
        self.p = p

    def __repr__(self) -> str:
        return f"FairretPenalty(constraint={self.constraint!r}, p={self.p})"

    def _build(self) -> tuple[Any, Any, bool]:
        cached = getattr(self, "_cache", None)
        if cached is not None:
            return cached
        fr_stat = import_optional("fairret.statistic", purpose="the 'fair_loss' mitigation")
        fr_loss = import_optional("fairret.loss", purpose="the 'fair_loss' mitigation")
        if self.constraint == "demographic_parity":
            stat, needs_label = fr_stat.PositiveRate(), False
        elif self.constraint == "equalized_odds":
            stat = fr_stat.StackedLinearFractionalStatistic(fr_stat.TruePositiveRate(),
                                                           fr_stat.FalsePositiveRate())
            needs_label = True
        else:
            check_one_of("FairretPenalty", "constraint", self.constraint,
                         ["demographic_parity", "equalized_odds"])
        self._cache = (stat, fr_loss.NormLoss(stat, p=self.p), needs_label)
        return self._cache

    def __call__(self, logits: torch.Tensor, y: torch.Tensor, groups: torch.Tensor,
                 sample_weight: torch.Tensor) -> torch.Tensor:
        import torch

        stat, loss, needs_label = self._build()
        if logits.shape[1] != 2:
            raise ValueError(problem("fair_loss", "the model's outputs", "must be two classes",
                                     f"{logits.shape[1]} outputs", "Use a binary model."))
        margin = (logits[:, 1] - logits[:, 0]).reshape(-1, 1)
        w = sample_weight.reshape(-1, 1).to(margin.dtype)
        sens = groups.to(margin.dtype) * w
        args = (y.reshape(-1, 1).to(margin.dtype),) if needs_label else ()
        with torch.no_grad():
            target = stat(torch.sigmoid(margin), w, *args)
        if bool((target.abs() < 1e-12).any()):
            return margin.sum() * 0.0
        return loss(margin, sens, *args, target_statistic=target.detach())

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        state.pop("_cache", None)
        return state

    def __deepcopy__(self, memo: dict) -> FairretPenalty:
        return FairretPenalty(self.constraint, self.p)


@register("fair_loss")
class FairLossMitigation(Mitigation):
    """In-training mitigation: the adapter refitted with a fairret penalty, lambda chosen by a sweep.

    Parameters
    ----------
    constraint : {"demographic_parity", "equalized_odds"}
        The penalty (see :class:`FairretPenalty`).
    fairness_weights : sequence of float, default=(0.0, 0.03, 0.1, 0.3, 1.0, 3.0)
        The values of lambda tried.
    p : int, default=1
        Norm of the penalty.
    validation_fraction : float, default=0.25
        Share of the training split held out to choose lambda (0: choose on the training data).
    tolerance : float, default=0.02
        Accuracy the selection may give up relative to the smallest lambda.
    random_state : int, default=0
        Seeds the validation split.

    Attributes
    ----------
    estimator_ : estimator
        The model refitted with the chosen weight on the whole training split.
    base_ : estimator
        The fitted baseline it was cloned from.
    fairness_weight_ : float
        The chosen lambda.
    sweep_ : list of dict
        One entry per lambda: ``fairness_weight``, ``accuracy``, ``disparity``, ``chosen``.
    n_refits_, details_ :
        See :class:`~fairbridge.mitigations.Mitigation`; ``details_`` holds the sweep, the
        disparity used and the selection rule in words.

    Notes
    -----
    Selection rule: """ + SELECTION_RULE

    needs = "refits"
    requires = ("fairret",)
    extra = "fairret"

    def __init__(self, *, constraint: FairConstraint = "demographic_parity",
                 fairness_weights: tuple[float, ...] = (0.0, 0.03, 0.1, 0.3, 1.0, 3.0), p: int = 1,
                 validation_fraction: float = 0.25, tolerance: float = 0.02,
                 random_state: int = 0) -> None:
        self.constraint = constraint
        self.fairness_weights = fairness_weights
        self.p = p
        self.validation_fraction = validation_fraction
        self.tolerance = tolerance
        self.random_state = random_state

    def _check(self, estimator: Any) -> list[float]:
        who = "fair_loss"
        check_one_of(who, "constraint", self.constraint, ["demographic_parity", "equalized_odds"])
        check_number(who, "validation_fraction", self.validation_fraction, minimum=0.0, maximum=0.9)
        check_number(who, "tolerance", self.tolerance, minimum=0.0)
        try:
            weights = sorted({float(check_number(who, "fairness_weights", w, minimum=0.0))
                              for w in self.fairness_weights})
        except TypeError as exc:
            raise TypeError(problem(who, "argument 'fairness_weights'",
                                    "must be a sequence of numbers >= 0",
                                    describe(self.fairness_weights),
                                    "Pass e.g. fairness_weights=(0.0, 1.0, 10.0).")) from exc
        if not weights:
            raise ValueError(problem(who, "argument 'fairness_weights'", "must not be empty", "()",
                                     "Pass e.g. fairness_weights=(0.0, 1.0, 10.0)."))
        params = estimator.get_params(deep=False) if hasattr(estimator, "get_params") else {}
        if "fairness_loss" not in params or "fairness_weight" not in params:
            raise TypeError(problem(who, "argument 'estimator'",
                                    "must take fairness_loss= and fairness_weight= (a fairbridge "
                                    "adapter)", type(estimator).__name__,
                                    "Wrap the model in HFTextClassifier or TorchClassifier."))
        return weights

    def unsupported(self, estimator: Any) -> str | None:
        params = estimator.get_params(deep=False) if hasattr(estimator, "get_params") else {}
        if "fairness_loss" not in params or "fairness_weight" not in params:
            return (f"fair_loss trains with a penalty through the model's fairness_loss= and "
                    f"fairness_weight= parameters, which {type(estimator).__name__} does not have; "
                    "wrap the model in HFTextClassifier or TorchClassifier.")
        return None

    def _fit_one(self, estimator: Any, weight: float, X: Any, y: np.ndarray, groups: np.ndarray) -> Any:
        est = clone(estimator).set_params(fairness_loss=FairretPenalty(self.constraint, self.p),
                                          fairness_weight=weight)
        return est.fit(X, y, sensitive_features=groups)

    def _disparity(self, y: np.ndarray, pred: np.ndarray, groups: np.ndarray) -> float:
        from fairlearn.metrics import demographic_parity_difference, equalized_odds_difference

        fn = (demographic_parity_difference if self.constraint == "demographic_parity"
              else equalized_odds_difference)
        return float(fn(y, pred, sensitive_features=groups))

    def fit(self, estimator: Any, X: Any, y: np.ndarray, *, sensitive_features: np.ndarray,
            context: FitContext | None = None) -> FairLossMitigation:
        weights = self._check(estimator)
        import_optional("fairret", purpose="the 'fair_loss' mitigation")
        ctx = self._context(context, estimator, y, sensitive_features)
        if len(ctx.classes) != 2:
            raise ValueError(problem("fair_loss", "argument 'y'", "must have two classes",
                                     f"{len(ctx.classes)} classes", "Use a binary model."))
        y = np.asarray(y, dtype=np.int64)
        groups = np.asarray(sensitive_features, dtype=object).astype(str)
        n = y.shape[0]
        if self.validation_fraction > 0:
            from sklearn.model_selection import train_test_split

            strata = np.char.add(np.char.add(groups.astype(str), "|"), y.astype(str))
            _, counts = np.unique(strata, return_counts=True)
            stratify = strata if counts.min() >= 2 else None
            fit_idx, val_idx = train_test_split(np.arange(n), test_size=self.validation_fraction,
                                                random_state=self.random_state, stratify=stratify)
        else:
            fit_idx = val_idx = np.arange(n)
        X_fit, X_val = take_rows(X, fit_idx), take_rows(X, val_idx)
        sweep, fitted = [], {}
        for w in weights:
            est = self._fit_one(estimator, w, X_fit, y[fit_idx], groups[fit_idx])
            pred = np.argmax(proba_codes(est, X_val, 2), axis=1)
            sweep.append({"fairness_weight": w, "accuracy": float(np.mean(pred == y[val_idx])),
                          "disparity": self._disparity(y[val_idx], pred, groups[val_idx]),
                          "chosen": False})
            fitted[w] = est
        reference = sweep[0]["accuracy"]
        eligible = [s for s in sweep if s["accuracy"] >= reference - self.tolerance]
        best = min(eligible, key=lambda s: (s["disparity"], s["fairness_weight"]))
        best["chosen"] = True
        self.fairness_weight_ = float(best["fairness_weight"])
        if self.validation_fraction > 0:
            self.estimator_ = self._fit_one(estimator, self.fairness_weight_, X, y, groups)
            n_refits = len(weights) + 1
        else:
            self.estimator_ = fitted[self.fairness_weight_]
            n_refits = len(weights)
        self.base_ = estimator
        self.sweep_ = sweep
        disparity = ("demographic_parity_difference" if self.constraint == "demographic_parity"
                     else "equalized_odds_difference")
        return self._restored(n_refits, {"sweep": sweep, "chosen_weight": self.fairness_weight_,
                                         "selection_disparity": disparity, "rule": SELECTION_RULE})

    def predict_proba(self, X: Any, *, sensitive_features: np.ndarray | None = None) -> np.ndarray:
        self._check_fitted()
        return proba_codes(self.estimator_, X, 2)

    def _save_state(self, writer: StateWriter) -> dict[str, Any]:
        return {"estimator": save_estimator(self.estimator_, self.base_, writer, "refit"),
                "fairness_weight": self.fairness_weight_, "n_refits": self.n_refits_,
                "details": self.details_}

    @classmethod
    def _load_state(cls, params: dict, state: dict, reader: StateWriter, base: Any) -> FairLossMitigation:
        inst = cls(**params)
        inst.base_ = base
        inst.estimator_ = load_estimator(state["estimator"], base, reader)
        inst.fairness_weight_ = float(state["fairness_weight"])
        inst.sweep_ = list(state["details"].get("sweep", []))
        return inst._restored(int(state["n_refits"]), state["details"])
