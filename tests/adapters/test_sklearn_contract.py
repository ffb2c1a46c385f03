"""scikit-learn's own estimator checks on the adapters.

``TorchClassifier`` runs the full common checks (numeric input).  ``HFTextClassifier`` takes
text, which scikit-learn's data-driven checks cannot generate (they feed numeric arrays), so it
runs every check that needs no data through ``parametrize_with_checks`` and text versions of the
data-driven API checks below.
"""

from __future__ import annotations

import copy
import pickle

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.utils.estimator_checks import (
    check_do_not_raise_errors_in_init_or_set_params,
    check_estimator_cloneable,
    check_estimator_repr,
    check_estimator_tags_renamed,
    check_get_params_invariance,
    check_mixin_order,
    check_no_attributes_set_in_init,
    check_parameters_default_constructible,
    check_set_params,
    check_valid_tag_types,
    parametrize_with_checks,
)
from torch import nn

from fairbridge import NotFittedError
from fairbridge.adapters import HFTextClassifier, TorchClassifier


class MLP(nn.Module):
    """A small MLP whose sizes come from the data (``n_features_in``, ``n_classes``)."""

    def __init__(self, n_features_in: int = 2, n_classes: int = 2, hidden: int = 32) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.Linear(n_features_in, hidden), nn.ReLU())
        self.out = nn.Linear(hidden, n_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.out(self.body(x.reshape(x.shape[0], -1)))


_FULL_REFIT_WEIGHTS = (
    "refit='full' trains with shuffled mini-batches of AdamW, so weighting a row by 2 and "
    "repeating it put different rows in each batch and end at different weights; the "
    "deterministic full-batch refit='head' passes this check"
)


@parametrize_with_checks(
    [
        TorchClassifier(MLP, refit="full", epochs=30, learning_rate=1e-2, progress=False),
        TorchClassifier(MLP, refit="head", progress=False),
    ],
    expected_failed_checks=lambda est: (
        {"check_sample_weight_equivalence_on_dense_data": _FULL_REFIT_WEIGHTS}
        if est.refit == "full" else {}
    ),
)
def test_torch_classifier_passes_sklearn_checks(estimator, check):
    check(estimator)


_DATA_FREE_CHECKS = [
    check_estimator_cloneable,
    check_estimator_repr,
    check_no_attributes_set_in_init,
    check_parameters_default_constructible,
    check_get_params_invariance,
    check_set_params,
    check_mixin_order,
    check_valid_tag_types,
    check_estimator_tags_renamed,
    check_do_not_raise_errors_in_init_or_set_params,
]


@pytest.mark.parametrize("check", _DATA_FREE_CHECKS, ids=lambda c: c.__name__)
def test_hf_classifier_passes_sklearn_api_checks(check, tiny_model_dir):
    check(type(HFTextClassifier).__name__, HFTextClassifier(tiny_model_dir))


# Text versions of the data-driven API checks ------------------------------------------------

@pytest.fixture
def text_xy(toy_text_data):
    return toy_text_data["text"].tolist()[:80], toy_text_data["y"].to_numpy()[:80]


@pytest.mark.parametrize("refit", ["head", "none", "full"])
def test_fit_returns_self_and_leaves_params_alone(tiny_model_dir, text_xy, refit):
    X, y = text_xy
    est = HFTextClassifier(tiny_model_dir, refit=refit, epochs=1, progress=False)
    params_before = copy.deepcopy(est.get_params())
    assert est.fit(X, y) is est
    assert est.get_params() == params_before  # fit does not rewrite a constructor parameter
    assert "classes_" in est.__dict__ and "backbone_" in est.__dict__


def test_unfitted_methods_raise_not_fitted(tiny_model_dir, text_xy):
    X, _ = text_xy
    est = HFTextClassifier(tiny_model_dir)
    for method in ("predict", "predict_proba", "decision_function", "predict_log_proba", "embed"):
        with pytest.raises(NotFittedError):
            getattr(est, method)(X)


def test_predict_methods_agree(tiny_model_dir, text_xy):
    X, y = text_xy
    est = HFTextClassifier(tiny_model_dir, progress=False).fit(X, y)
    proba = est.predict_proba(X)
    np.testing.assert_allclose(proba.sum(1), 1.0)
    np.testing.assert_allclose(np.exp(est.predict_log_proba(X)), proba, atol=1e-12)
    np.testing.assert_array_equal(est.predict(X), est.classes_[proba.argmax(1)])
    np.testing.assert_array_equal(est.decision_function(X) > 0, proba[:, 1] > 0.5)
    assert 0.0 <= est.score(X, y) <= 1.0


def test_fit_is_idempotent_and_pickles(tiny_model_dir, text_xy):
    X, y = text_xy
    est = HFTextClassifier(tiny_model_dir, progress=False)
    first = est.fit(X, y).predict_proba(X)
    np.testing.assert_allclose(est.fit(X, y).predict_proba(X), first)
    again = pickle.loads(pickle.dumps(est))
    np.testing.assert_allclose(again.predict_proba(X), first, rtol=1e-6)


def test_clone_of_fitted_is_unfitted(tiny_model_dir, text_xy):
    X, y = text_xy
    est = HFTextClassifier(tiny_model_dir, progress=False).fit(X, y)
    fresh = clone(est)
    assert not hasattr(fresh, "classes_") and fresh.get_params() == est.get_params()
