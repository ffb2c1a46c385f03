"""The registry: names, errors that list the choices, and the extension points."""

from __future__ import annotations

import re

import numpy as np
import pytest

from fairbridge.mitigations import (
    Baseline,
    GridSearchMitigation,
    Mitigation,
    available_mitigations,
    default_mitigations,
    register,
    resolve_mitigation,
)

EXPECTED = ["aif360.calibrated_equalized_odds", "aif360.reject_option", "aif360.reweighing",
            "baseline", "fair_loss", "fairlearn.adversarial", "fairlearn.correlation_remover",
            "fairlearn.exponentiated_gradient", "fairlearn.grid_search",
            "fairlearn.threshold_optimizer"]


def test_every_method_of_the_issue_is_registered():
    assert available_mitigations() == EXPECTED
    assert default_mitigations()[0] == "baseline"
    assert sorted(default_mitigations()) == EXPECTED


def test_each_entry_declares_what_it_needs():
    extras = {}
    for name in available_mitigations():
        cls = type(resolve_mitigation(name))
        assert cls.name == name
        assert cls.needs in ("nothing", "refits", "scores", "embeddings")
        extras[name] = cls.extra
    assert extras["aif360.reweighing"] == "aif360"
    assert extras["fair_loss"] == "fairret"
    assert extras["fairlearn.threshold_optimizer"] is None  # Fairlearn is a core dependency
    assert type(resolve_mitigation("fairlearn.threshold_optimizer")).needs == "scores"
    assert type(resolve_mitigation("aif360.reweighing")).needs == "refits"
    assert type(resolve_mitigation("fairlearn.adversarial")).needs == "embeddings"


def test_unknown_name_lists_the_sorted_choices():
    msg = (f"unknown mitigation 'fairlearn.magic'; choose one of {', '.join(EXPECTED)}, or pass "
           "a Mitigation class or instance")
    with pytest.raises(ValueError, match=re.escape(msg)):
        resolve_mitigation("fairlearn.magic")


def test_unknown_option_is_named():
    with pytest.raises(ValueError, match=re.escape("resolve_mitigation: option(s) ['gridsize'] of "
                                                   "'fairlearn.grid_search' must be among")):
        resolve_mitigation("fairlearn.grid_search", gridsize=3)


def test_specs_from_pairs_dicts_classes_and_instances():
    assert resolve_mitigation(("fairlearn.grid_search", {"grid_size": 3})).grid_size == 3
    assert resolve_mitigation({"name": "fairlearn.grid_search", "grid_size": 4}).grid_size == 4
    nested = resolve_mitigation({"name": "fairlearn.grid_search", "options": {"constraint": "equalized_odds"}})
    assert nested.constraint == "equalized_odds"
    assert isinstance(resolve_mitigation(GridSearchMitigation), GridSearchMitigation)
    mine = GridSearchMitigation(grid_size=7)
    got = resolve_mitigation(mine)
    assert got is not mine and got.grid_size == 7  # cloned: the caller's object is never fitted


def test_not_a_mitigation_is_a_type_error():
    with pytest.raises(TypeError, match=re.escape("resolve_mitigation: argument 'method' must be a "
                                                  "registered name, a Mitigation subclass or instance")):
        resolve_mitigation(42)


def test_register_refuses_duplicates_and_non_mitigations():
    with pytest.raises(ValueError, match=re.escape("mitigation 'baseline' is already registered")):
        register("baseline")(Baseline)
    with pytest.raises(TypeError, match=re.escape("register('x.y'): expected a Mitigation subclass")):
        register("x.y")(dict)


def test_a_mitigation_needs_fit_and_predict_proba():
    class Half(Mitigation):
        def fit(self, estimator, X, y, *, sensitive_features, context=None):
            return self._restored(0)

    with pytest.raises(TypeError):
        Half()  # predict_proba is abstract

    class Coin(Half):
        def predict_proba(self, X, *, sensitive_features=None):
            return np.full((len(X), 2), 0.5)

    with pytest.raises(Exception, match="not fitted yet"):
        Coin()._check_fitted()
    assert Coin().fit(None, [1, 2], np.array([0, 1]), sensitive_features=np.array(["a", "b"])).predict(
        [1, 2, 3]).tolist() == [0, 0, 0]
