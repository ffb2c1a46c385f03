"""Fairlearn's mitigations: reductions, threshold optimisation, adversarial learning, correlation removal.

How Fairlearn meets the model:

* ``ExponentiatedGradient`` and ``GridSearch`` need labels 0/1 and refit the estimator with
  ``sample_weight`` many times (``clone`` per oracle call, a ``deepcopy`` per grid point); with a
  fairbridge adapter every refit reuses the cached backbone features, and ``n_refits_`` counts
  the real fits (constant ``DummyClassifier`` answers of the reductions excluded).  Fairlearn
  passes the caller's ``X`` (here a one-column DataFrame of text) on to ``fit``/``predict``.
* ``ThresholdOptimizer`` runs with ``prefit=True`` and ``predict_method="predict_proba"`` on the
  fitted model, so it only reads the cached scores.
* ``AdversarialFairnessClassifier`` (PyTorch backend) and ``CorrelationRemover`` work on the
  backbone's penultimate features (``estimator.embed(X)``), or on ``X`` itself when it is
  numeric and the estimator has no ``embed``.
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
from sklearn.base import clone

from fairbridge._optional import import_optional
from fairbridge._validation import check_int, check_number, check_one_of, problem

from ._base import (
    FitContext,
    Mitigation,
    StateWriter,
    coded,
    decode_float,
    encode_float,
    load_estimator,
    proba_codes,
    save_estimator,
)
from ._registry import register

__all__ = [
    "AdversarialMitigation",
    "CorrelationRemoverMitigation",
    "ExponentiatedGradientMitigation",
    "GridSearchMitigation",
    "ThresholdOptimizerMitigation",
    "embedding_features",
]

ReductionConstraint = Literal["demographic_parity", "equalized_odds", "true_positive_rate_parity"]
_REDUCTION_CONSTRAINTS = ("demographic_parity", "equalized_odds", "true_positive_rate_parity")


def _moment(constraint: str, who: str) -> Any:
    check_one_of(who, "constraint", constraint, _REDUCTION_CONSTRAINTS)
    red = import_optional("fairlearn.reductions", purpose="Fairlearn's reductions")
    return {"demographic_parity": red.DemographicParity,
            "equalized_odds": red.EqualizedOdds,
            "true_positive_rate_parity": red.TruePositiveRateParity}[constraint]()


def _n_classes(context: FitContext | None, y: np.ndarray) -> int:
    return int(len(context.classes)) if context is not None else int(np.max(y)) + 1


# -- reductions -----------------------------------------------------------------------------------
@register("fairlearn.exponentiated_gradient")
class ExponentiatedGradientMitigation(Mitigation):
    """Fairlearn's ``ExponentiatedGradient`` reduction: a randomised mix of weighted refits.

    Parameters
    ----------
    constraint : {"demographic_parity", "equalized_odds", "true_positive_rate_parity"}
        The fairness constraint (Fairlearn moment).
    eps : float, default=0.01
        Allowed constraint violation.
    max_iter : int, default=50
        Iterations (each refits the estimator at least once).
    nu : float, optional
        Convergence threshold of the duality gap (Fairlearn's default when ``None``).
    eta0 : float, default=2.0
        Initial learning rate.
    random_state : int, default=0
        Seeds the randomised predictions.

    Attributes
    ----------
    model_ : ExponentiatedGradient or None
        The fitted Fairlearn object (``None`` after loading).
    predictors_ : list
        The fitted models with non-zero weight.
    weights_ : ndarray
        Their weights in the randomised classifier.
    estimator_, n_refits_, details_ :
        See :class:`~fairbridge.mitigations.Mitigation`.
    """

    needs = "refits"

    def __init__(self, *, constraint: ReductionConstraint = "demographic_parity", eps: float = 0.01,
                 max_iter: int = 50, nu: float | None = None, eta0: float = 2.0,
                 random_state: int = 0) -> None:
        self.constraint = constraint
        self.eps = eps
        self.max_iter = max_iter
        self.nu = nu
        self.eta0 = eta0
        self.random_state = random_state

    def fit(self, estimator: Any, X: Any, y: np.ndarray, *, sensitive_features: np.ndarray,
            context: FitContext | None = None) -> ExponentiatedGradientMitigation:
        who = "fairlearn.exponentiated_gradient"
        moment = _moment(self.constraint, who)
        check_number(who, "eps", self.eps, minimum=0.0, strict_minimum=True)
        check_int(who, "max_iter", self.max_iter, minimum=1)
        red = import_optional("fairlearn.reductions", purpose="Fairlearn's reductions")
        eg = red.ExponentiatedGradient(clone(estimator), constraints=moment, eps=self.eps,
                                       max_iter=self.max_iter, nu=self.nu, eta0=self.eta0)
        eg.fit(X, y, sensitive_features=sensitive_features)
        self.model_ = eg
        self.estimator_ = estimator
        keep = [t for t in eg.weights_.index if eg.weights_[t] > 0]
        self.predictors_ = [eg.predictors_[t] for t in keep]
        self.weights_ = np.array([float(eg.weights_[t]) for t in keep])
        self._n_classes = _n_classes(context, y)
        return self._restored(
            int(eg.n_oracle_calls_ - eg.n_oracle_calls_dummy_returned_),
            {"n_oracle_calls": int(eg.n_oracle_calls_), "n_predictors": len(eg.predictors_),
             "n_predictors_used": len(keep), "best_gap": float(eg.best_gap_),
             "weights": self.weights_.tolist()})

    def predict_proba(self, X: Any, *, sensitive_features: np.ndarray | None = None) -> np.ndarray:
        self._check_fitted()
        if self.model_ is not None:
            return np.asarray(self.model_._pmf_predict(X), dtype=np.float64)
        # After loading: the randomised classifier Q = sum_t w_t h_t, as Fairlearn's
        # ``_pmf_predict`` computes it for classification moments.
        pos = np.zeros(_len(X))
        for w, h in zip(self.weights_, self.predictors_):
            pos += w * np.asarray(h.predict(X), dtype=np.float64)
        return np.column_stack([1.0 - pos, pos])

    def predict(self, X: Any, *, sensitive_features: np.ndarray | None = None) -> np.ndarray:
        self._check_fitted()
        if self.model_ is not None:
            return np.asarray(self.model_.predict(X, random_state=self.random_state), dtype=np.int64)
        from sklearn.utils import check_random_state

        pos = self.predict_proba(X)[:, 1]
        rng = check_random_state(self.random_state)
        return (pos >= rng.rand(pos.size)).astype(np.int64)

    def _save_state(self, writer: StateWriter) -> dict[str, Any]:
        return {"weights": self.weights_.tolist(), "details": self.details_,
                "n_refits": self.n_refits_,
                "predictors": [save_estimator(h, self.estimator_, writer, f"predictor{i}")
                               for i, h in enumerate(self.predictors_)]}

    @classmethod
    def _load_state(cls, params: dict, state: dict, reader: StateWriter,
                    base: Any) -> ExponentiatedGradientMitigation:
        inst = cls(**params)
        inst.model_ = None
        inst.estimator_ = base
        inst.weights_ = np.array(state["weights"], dtype=np.float64)
        inst.predictors_ = [load_estimator(e, base, reader) for e in state["predictors"]]
        return inst._restored(state["n_refits"], state["details"])


def _len(X: Any) -> int:
    return int(X.shape[0]) if hasattr(X, "shape") else len(X)


@register("fairlearn.grid_search")
class GridSearchMitigation(Mitigation):
    """Fairlearn's ``GridSearch`` reduction: one weighted refit per Lagrange multiplier.

    Parameters
    ----------
    constraint : {"demographic_parity", "equalized_odds", "true_positive_rate_parity"}
        The fairness constraint.
    grid_size : int, default=10
        Grid points (refits).
    grid_limit : float, default=2.0
        Range of the multipliers.
    constraint_weight : float, default=0.5
        Weight of the constraint violation in Fairlearn's trade-off selection rule.

    Attributes
    ----------
    model_ : GridSearch or None
        The fitted Fairlearn object (``None`` after loading).
    best_ : estimator
        The selected model.
    estimator_, n_refits_, details_ :
        See :class:`~fairbridge.mitigations.Mitigation`.
    """

    needs = "refits"

    def __init__(self, *, constraint: ReductionConstraint = "demographic_parity", grid_size: int = 10,
                 grid_limit: float = 2.0, constraint_weight: float = 0.5) -> None:
        self.constraint = constraint
        self.grid_size = grid_size
        self.grid_limit = grid_limit
        self.constraint_weight = constraint_weight

    def fit(self, estimator: Any, X: Any, y: np.ndarray, *, sensitive_features: np.ndarray,
            context: FitContext | None = None) -> GridSearchMitigation:
        who = "fairlearn.grid_search"
        moment = _moment(self.constraint, who)
        check_int(who, "grid_size", self.grid_size, minimum=1)
        red = import_optional("fairlearn.reductions", purpose="Fairlearn's reductions")
        gs = red.GridSearch(clone(estimator), constraints=moment, grid_size=self.grid_size,
                            grid_limit=self.grid_limit, constraint_weight=self.constraint_weight)
        gs.fit(X, y, sensitive_features=sensitive_features)
        from sklearn.dummy import DummyClassifier

        self.model_ = gs
        self.estimator_ = estimator
        self.best_ = gs.predictors_[gs.best_idx_]
        self._n_classes = _n_classes(context, y)
        n_real = sum(not isinstance(p, DummyClassifier) for p in gs.predictors_)
        return self._restored(int(n_real), {"best_index": int(gs.best_idx_),
                                            "n_grid_points": len(gs.predictors_)})

    def predict_proba(self, X: Any, *, sensitive_features: np.ndarray | None = None) -> np.ndarray:
        self._check_fitted()
        return proba_codes(self.best_, X, self._n_classes)

    def predict(self, X: Any, *, sensitive_features: np.ndarray | None = None) -> np.ndarray:
        self._check_fitted()
        source = self.model_ if self.model_ is not None else self.best_
        return np.asarray(source.predict(X), dtype=np.int64)

    def _save_state(self, writer: StateWriter) -> dict[str, Any]:
        return {"best": save_estimator(self.best_, self.estimator_, writer, "best"),
                "n_classes": self._n_classes, "n_refits": self.n_refits_, "details": self.details_}

    @classmethod
    def _load_state(cls, params: dict, state: dict, reader: StateWriter, base: Any) -> GridSearchMitigation:
        inst = cls(**params)
        inst.model_ = None
        inst.estimator_ = base
        inst.best_ = load_estimator(state["best"], base, reader)
        inst._n_classes = int(state["n_classes"])
        return inst._restored(state["n_refits"], state["details"])


# -- post-processing -------------------------------------------------------------------------------
ThresholdConstraint = Literal["demographic_parity", "equalized_odds", "true_positive_rate_parity",
                              "false_positive_rate_parity", "true_negative_rate_parity",
                              "false_negative_rate_parity", "selection_rate_parity"]


@register("fairlearn.threshold_optimizer")
class ThresholdOptimizerMitigation(Mitigation):
    """Fairlearn's ``ThresholdOptimizer`` on the fitted model's cached scores (``prefit=True``).

    Group-specific (randomised) thresholds on ``predict_proba``; needs the groups at prediction.

    Parameters
    ----------
    constraint : str, default="demographic_parity"
        Fairlearn's ``constraints`` (``"demographic_parity"``, ``"equalized_odds"``,
        ``"true_positive_rate_parity"``, ...).
    objective : str, default="accuracy_score"
        What to maximise under the constraint.
    grid_size : int, default=1000
        Thresholds searched.
    flip : bool, default=False
        Allow flipped decisions.
    random_state : int, default=0
        Seeds the randomised predictions.

    Attributes
    ----------
    model_ : ThresholdOptimizer or InterpolatedThresholder
        The fitted Fairlearn object (its ``InterpolatedThresholder`` after loading).
    groups_ : list of str
        Groups seen in training (others cannot be predicted).
    estimator_, n_refits_, details_ :
        See :class:`~fairbridge.mitigations.Mitigation`.
    """

    needs = "scores"
    uses_sensitive_features = True

    def __init__(self, *, constraint: ThresholdConstraint = "demographic_parity",
                 objective: str = "accuracy_score", grid_size: int = 1000, flip: bool = False,
                 random_state: int = 0) -> None:
        self.constraint = constraint
        self.objective = objective
        self.grid_size = grid_size
        self.flip = flip
        self.random_state = random_state

    def fit(self, estimator: Any, X: Any, y: np.ndarray, *, sensitive_features: np.ndarray,
            context: FitContext | None = None) -> ThresholdOptimizerMitigation:
        post = import_optional("fairlearn.postprocessing", purpose="Fairlearn's ThresholdOptimizer")
        to = post.ThresholdOptimizer(estimator=coded(estimator), constraints=self.constraint,
                                     objective=self.objective, grid_size=self.grid_size,
                                     flip=self.flip, prefit=True, predict_method="predict_proba")
        to.fit(X, y, sensitive_features=np.asarray(sensitive_features, dtype=object).astype(str))
        self.model_ = to
        self.estimator_ = estimator
        self.groups_ = sorted(map(str, to.interpolated_thresholder_.interpolation_dict))
        return self._restored(0, {"thresholds": _interpolation_state(
            to.interpolated_thresholder_.interpolation_dict)})

    def _check_groups(self, groups: np.ndarray) -> np.ndarray:
        g = groups.astype(str)
        unseen = sorted(set(np.unique(g)) - set(self.groups_))
        if unseen:
            raise ValueError(problem("fairlearn.threshold_optimizer.predict",
                                     "argument 'sensitive_features'",
                                     f"must only hold groups seen in training {self.groups_}",
                                     f"unseen group(s) {unseen[:5]}",
                                     "The optimiser has no threshold for them; refit with data "
                                     "that includes them."))
        return g

    def predict_proba(self, X: Any, *, sensitive_features: np.ndarray | None = None) -> np.ndarray:
        self._check_fitted()
        g = self._check_groups(self._groups(sensitive_features, _len(X)))
        return np.asarray(self.model_._pmf_predict(X, sensitive_features=g), dtype=np.float64)

    def predict(self, X: Any, *, sensitive_features: np.ndarray | None = None) -> np.ndarray:
        self._check_fitted()
        g = self._check_groups(self._groups(sensitive_features, _len(X)))
        return np.asarray(self.model_.predict(X, sensitive_features=g,
                                              random_state=self.random_state), dtype=np.int64)

    def _save_state(self, writer: StateWriter) -> dict[str, Any]:
        return {"thresholds": self.details_["thresholds"]}

    @classmethod
    def _load_state(cls, params: dict, state: dict, reader: StateWriter,
                    base: Any) -> ThresholdOptimizerMitigation:
        post = import_optional("fairlearn.postprocessing", purpose="Fairlearn's ThresholdOptimizer")
        from fairlearn.postprocessing._threshold_operation import ThresholdOperation
        from sklearn.utils import Bunch

        inst = cls(**params)
        table = {}
        for group, entry in state["thresholds"].items():
            fields = {k: decode_float(v) for k, v in entry.items() if not k.startswith("operation")}
            for op in ("operation0", "operation1"):
                operator, threshold = entry[op]
                fields[op] = ThresholdOperation(operator, decode_float(threshold))
            table[group] = Bunch(**fields)
        inst.model_ = post._interpolated_thresholder.InterpolatedThresholder(
            estimator=coded(base), interpolation_dict=table, prefit=True,
            predict_method="predict_proba").fit(None, None)
        inst.estimator_ = base
        inst.groups_ = sorted(table)
        return inst._restored(0, {"thresholds": state["thresholds"]})


def _interpolation_state(table: dict) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for group, bunch in table.items():
        entry: dict[str, Any] = {}
        for key, value in bunch.items():
            if key.startswith("operation"):
                entry[key] = [value.operator, encode_float(value.threshold)]
            else:
                entry[key] = encode_float(value)
        out[str(group)] = entry
    return out


# -- embeddings ----------------------------------------------------------------------------------
def embedding_features(estimator: Any, X: Any) -> np.ndarray:
    """The backbone's penultimate features ``estimator.embed(X)``, or ``X`` itself if numeric."""
    embed = getattr(estimator, "embed", None)
    if callable(embed):
        return np.asarray(embed(X), dtype=np.float32)
    from sklearn.utils import check_array

    try:
        return check_array(X, dtype=np.float32)
    except (TypeError, ValueError) as exc:
        raise TypeError(problem("fairbridge", "argument 'estimator'",
                                "must have embed(X) (a fairbridge adapter) or take numeric X "
                                "for an embedding-based mitigation", type(estimator).__name__,
                                "Wrap the model in HFTextClassifier/TorchClassifier.")) from exc


def _head_of(estimator: Any) -> tuple[np.ndarray, np.ndarray] | None:
    coef = getattr(estimator, "head_coef_", None)
    if coef is not None:
        return np.asarray(coef), np.asarray(estimator.head_intercept_)
    bb = getattr(estimator, "backbone_", None)
    if bb is not None and getattr(bb, "head_name", None) is not None:
        try:
            return bb.head_parameters()
        except ValueError:
            return None
    return None


def _predictor_module(n_features: int, hidden: tuple[int, ...], head: tuple[np.ndarray, np.ndarray] | None) -> Any:
    """The adversarial predictor: an MLP ending in one sigmoid unit (Fairlearn's binary form).

    Without hidden layers and with the fine-tuned head known, the single linear layer starts as
    the head's binary margin (``w1 - w0``, ``b1 - b0``), so training starts from the model.
    """
    import torch
    from torch import nn

    layers: list[nn.Module] = []
    width = n_features
    for h in hidden:
        layers += [nn.Linear(width, int(h)), nn.LeakyReLU()]
        width = int(h)
    last = nn.Linear(width, 1)
    if not hidden and head is not None and head[0].shape[0] == 2 and head[0].shape[1] == n_features:
        with torch.no_grad():
            last.weight.copy_(torch.as_tensor(head[0][1] - head[0][0]).reshape(1, -1))
            last.bias.copy_(torch.as_tensor(head[1][1:2] - head[1][0:1]))
    layers += [last, nn.Sigmoid()]
    return nn.Sequential(*layers)


@register("fairlearn.adversarial")
class AdversarialMitigation(Mitigation):
    """Fairlearn's ``AdversarialFairnessClassifier`` (PyTorch backend) on the backbone's embeddings.

    A predictor network is trained on ``estimator.embed(X)`` against an adversary that tries to
    recover the group from its output (plus the label, for equalized odds).  With no hidden
    layers the predictor starts from the model's own head.

    Parameters
    ----------
    constraint : {"demographic_parity", "equalized_odds"}
        What the adversary sees.
    alpha : float, default=1.0
        Strength of the adversary.
    learning_rate : float, default=1e-3
        Adam learning rate.
    epochs : int, default=20
        Passes over the training data.
    batch_size : int, default=64
        Rows per step.
    hidden : tuple of int, default=()
        Hidden layers of the predictor (``()``: a linear head).
    adversary_hidden : tuple of int, default=()
        Hidden layers of the adversary.
    random_state : int, default=0
        Seeds Fairlearn's initialisation and shuffling.

    Attributes
    ----------
    predictor_ : torch.nn.Module
        The trained predictor (features -> probability of class code 1).
    model_ : AdversarialFairnessClassifier or None
        The fitted Fairlearn object (``None`` after loading).
    n_features_ : int
        Embedding width.
    estimator_, n_refits_, details_ :
        See :class:`~fairbridge.mitigations.Mitigation`.
    """

    needs = "embeddings"
    requires = ("torch",)

    def __init__(self, *, constraint: Literal["demographic_parity", "equalized_odds"] = "demographic_parity",
                 alpha: float = 1.0, learning_rate: float = 1e-3, epochs: int = 20,
                 batch_size: int = 64, hidden: tuple[int, ...] = (),
                 adversary_hidden: tuple[int, ...] = (), random_state: int = 0) -> None:
        self.constraint = constraint
        self.alpha = alpha
        self.learning_rate = learning_rate
        self.epochs = epochs
        self.batch_size = batch_size
        self.hidden = hidden
        self.adversary_hidden = adversary_hidden
        self.random_state = random_state

    def fit(self, estimator: Any, X: Any, y: np.ndarray, *, sensitive_features: np.ndarray,
            context: FitContext | None = None) -> AdversarialMitigation:
        who = "fairlearn.adversarial"
        check_one_of(who, "constraint", self.constraint, ["demographic_parity", "equalized_odds"])
        check_int(who, "epochs", self.epochs, minimum=1)
        check_int(who, "batch_size", self.batch_size, minimum=1)
        adv_mod = import_optional("fairlearn.adversarial", purpose="Fairlearn's adversarial mitigation")
        import torch

        feats = embedding_features(estimator, X)
        hidden = tuple(int(h) for h in self.hidden)
        state = torch.random.get_rng_state()  # Fairlearn reseeds torch's global generator
        try:
            torch.manual_seed(int(self.random_state))
            predictor = _predictor_module(feats.shape[1], hidden, _head_of(estimator))
            adv = adv_mod.AdversarialFairnessClassifier(
                backend="torch", predictor_model=predictor,
                adversary_model=[int(h) for h in self.adversary_hidden],
                constraints=self.constraint, alpha=self.alpha, learning_rate=self.learning_rate,
                epochs=self.epochs, batch_size=self.batch_size, shuffle=True,
                random_state=self.random_state)
            adv.fit(feats, np.asarray(y, dtype=np.int64),
                    sensitive_features=np.asarray(sensitive_features, dtype=object).astype(str))
        finally:
            torch.random.set_rng_state(state)
        self.model_ = adv
        self.predictor_ = adv.backendEngine_.predictor_model.eval()
        self.n_features_ = int(feats.shape[1])
        self.estimator_ = estimator
        return self._restored(0, {"n_iter": int(adv.n_iter_)})

    def predict_proba(self, X: Any, *, sensitive_features: np.ndarray | None = None) -> np.ndarray:
        self._check_fitted()
        import torch

        feats = embedding_features(self.estimator_, X)
        with torch.no_grad():
            p = self.predictor_(torch.as_tensor(feats, dtype=torch.float32)).reshape(-1).double().numpy()
        return np.column_stack([1.0 - p, p])

    def predict(self, X: Any, *, sensitive_features: np.ndarray | None = None) -> np.ndarray:
        # Fairlearn's binary rule: probability >= threshold_value (0.5).
        return (self.predict_proba(X)[:, 1] >= 0.5).astype(np.int64)

    def _save_state(self, writer: StateWriter) -> dict[str, Any]:
        names = []
        for name, tensor in self.predictor_.state_dict().items():
            names.append(name)
            writer.put(f"predictor.{name}", tensor.detach().cpu().numpy())
        return {"n_features": self.n_features_, "parameters": names, "details": self.details_}

    @classmethod
    def _load_state(cls, params: dict, state: dict, reader: StateWriter, base: Any) -> AdversarialMitigation:
        import torch

        inst = cls(**params)
        hidden = tuple(int(h) for h in inst.hidden)
        module = _predictor_module(int(state["n_features"]), hidden, None)
        module.load_state_dict({n: torch.as_tensor(reader.get(f"predictor.{n}"))
                                for n in state["parameters"]})
        inst.predictor_ = module.eval()
        inst.model_ = None
        inst.n_features_ = int(state["n_features"])
        inst.estimator_ = base
        return inst._restored(0, state["details"])


@register("fairlearn.correlation_remover")
class CorrelationRemoverMitigation(Mitigation):
    """Fairlearn's ``CorrelationRemover`` on the embeddings, then a logistic-regression head.

    The group indicators are appended to ``estimator.embed(X)``; the remover projects them out
    of the embedding (``alpha`` of the way) and drops them; a new head is fitted on the result.
    Needs the groups at prediction.

    Parameters
    ----------
    alpha : float, default=1.0
        How much of the correlation to remove (1: all).
    C : float, default=1.0
        Inverse regularisation of the logistic-regression head.
    max_iter : int, default=1000
        Iterations of the head's solver.

    Attributes
    ----------
    remover_ : CorrelationRemover
        The fitted remover.
    head_ : LogisticRegression
        The head on the decorrelated embeddings.
    groups_ : list of str
        Groups seen in training; the indicator columns are all but the first.
    estimator_, n_refits_, details_ :
        See :class:`~fairbridge.mitigations.Mitigation`.
    """

    needs = "embeddings"
    binary_only = False
    uses_sensitive_features = True

    def __init__(self, *, alpha: float = 1.0, C: float = 1.0, max_iter: int = 1000) -> None:
        self.alpha = alpha
        self.C = C
        self.max_iter = max_iter

    def _design(self, feats: np.ndarray, groups: np.ndarray) -> np.ndarray:
        g = np.asarray(groups, dtype=object).astype(str)
        unseen = sorted(set(np.unique(g)) - set(self.groups_))
        if unseen:
            raise ValueError(problem("fairlearn.correlation_remover", "argument 'sensitive_features'",
                                     f"must only hold groups seen in training {self.groups_}",
                                     f"unseen group(s) {unseen[:5]}",
                                     "Refit with data that includes them."))
        ind = (g[:, None] == np.asarray(self.groups_[1:], dtype=object)[None, :]).astype(np.float64)
        return np.hstack([feats.astype(np.float64), ind])

    def fit(self, estimator: Any, X: Any, y: np.ndarray, *, sensitive_features: np.ndarray,
            context: FitContext | None = None) -> CorrelationRemoverMitigation:
        who = "fairlearn.correlation_remover"
        check_number(who, "alpha", self.alpha, minimum=0.0, maximum=1.0)
        pre = import_optional("fairlearn.preprocessing", purpose="Fairlearn's CorrelationRemover")
        from sklearn.linear_model import LogisticRegression

        feats = embedding_features(estimator, X)
        self.groups_ = sorted(set(np.asarray(sensitive_features, dtype=object).astype(str)))
        design = self._design(feats, sensitive_features)
        d = feats.shape[1]
        self.remover_ = pre.CorrelationRemover(
            sensitive_feature_ids=list(range(d, design.shape[1])), alpha=self.alpha).fit(design)
        self.head_ = LogisticRegression(C=self.C, max_iter=self.max_iter).fit(
            self.remover_.transform(design), y)
        self.estimator_ = estimator
        self._n_classes = _n_classes(context, y)
        return self._restored(1, {"n_groups": len(self.groups_)})

    def predict_proba(self, X: Any, *, sensitive_features: np.ndarray | None = None) -> np.ndarray:
        self._check_fitted()
        feats = embedding_features(self.estimator_, X)
        g = self._groups(sensitive_features, feats.shape[0])
        return proba_codes(self.head_, self.remover_.transform(self._design(feats, g)), self._n_classes)

    def _save_state(self, writer: StateWriter) -> dict[str, Any]:
        return {"groups": self.groups_, "n_classes": self._n_classes,
                "n_features_in": int(self.remover_._n_features_in_),
                "beta": writer.put("remover.beta", self.remover_.beta_),
                "mean": writer.put("remover.mean", np.atleast_1d(self.remover_.sensitive_mean_)),
                "head": save_estimator(self.head_, self.estimator_, writer, "head")}

    @classmethod
    def _load_state(cls, params: dict, state: dict, reader: StateWriter,
                    base: Any) -> CorrelationRemoverMitigation:
        pre = import_optional("fairlearn.preprocessing", purpose="Fairlearn's CorrelationRemover")
        inst = cls(**params)
        inst.groups_ = list(state["groups"])
        n_in = int(state["n_features_in"])
        n_sens = len(inst.groups_) - 1
        remover = pre.CorrelationRemover(sensitive_feature_ids=list(range(n_in - n_sens, n_in)),
                                         alpha=inst.alpha)
        # The fitted state of CorrelationRemover (fairlearn 0.15): beta_, sensitive_mean_ and
        # the column lookup built in fit(); tests check predictions survive save/load.
        remover.beta_ = reader.get(state["beta"]).astype(np.float64)
        remover.sensitive_mean_ = reader.get(state["mean"]).astype(np.float64)
        remover.lookup_ = {i: i for i in range(n_in)}
        remover._columns_in_ = None
        remover._n_features_in_ = n_in
        remover.n_features_in_ = n_in
        inst.remover_ = remover
        inst.head_ = load_estimator(state["head"], base, reader)
        inst._n_classes = int(state["n_classes"])
        inst.estimator_ = base
        return inst._restored(1, {"n_groups": len(inst.groups_)})
