"""``select(name)`` gives a predictor that predicts on new data, saves and loads without pickle."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest

from fairbridge._compare import MitigatedPredictor, load_mitigated
from fairbridge.mitigations import Mitigation, default_mitigations


@pytest.mark.parametrize("name", default_mitigations())
def test_save_load_round_trip(name, comparison, split, tmp_path):
    chosen = comparison.select(name)
    X, A = split["X_test"], split["A_test"]
    kwargs = {"sensitive_features": A} if chosen.needs_sensitive_features else {}
    proba = chosen.predict_proba(X, **kwargs)
    pred = chosen.predict(X, **kwargs)
    assert proba.shape == (X.shape[0], 2) and np.allclose(proba.sum(axis=1), 1.0)
    assert set(np.unique(pred)) <= set(chosen.classes_.tolist())
    # The predictions of the comparison's audit are the selected predictor's.
    audit_rate = comparison[name].audit.overall["selection_rate"]
    assert np.isclose(np.mean(pred == 1), audit_rate)

    folder = chosen.save(tmp_path / name)
    manifest = json.loads((folder / "fairbridge-mitigated.json").read_text())
    assert manifest["method"] == name and manifest["model_class"] == "TorchClassifier"
    assert not list(folder.rglob("*.pkl")) and not list(folder.rglob("*.pickle"))
    loaded = load_mitigated(folder)
    assert loaded.needs_sensitive_features == chosen.needs_sensitive_features
    np.testing.assert_allclose(loaded.predict_proba(X, **kwargs), proba, rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(loaded.predict(X, **kwargs), pred)


def test_groups_are_required_where_the_method_needs_them(comparison, split):
    chosen = comparison.select("fairlearn.threshold_optimizer")
    msg = ("MitigatedPredictor('fairlearn.threshold_optimizer').predict: argument "
           "'sensitive_features' is required by 'fairlearn.threshold_optimizer', but got None.")
    with pytest.raises(ValueError, match=re.escape(msg)):
        chosen.predict(split["X_test"])
    # One person at a time works: a single group is fine at prediction.
    one = chosen.predict(split["X_test"][:1], sensitive_features=["m"])
    assert one.shape == (1,)


def test_groups_must_have_the_training_columns(comparison, split):
    import pandas as pd

    chosen = comparison.select("fairlearn.threshold_optimizer")
    two = pd.DataFrame({"sex": split["A_test"], "age": "old"})
    with pytest.raises(ValueError, match=re.escape("argument 'sensitive_features' must have the "
                                                   "columns ['sex'], but got columns ['sex', 'age']")):
        chosen.predict(split["X_test"], sensitive_features=two)


def test_select_refuses_unknown_and_unfinished_methods(comparison):
    with pytest.raises(KeyError, match=re.escape("no method 'nope'")):
        comparison.select("nope")


def test_load_refuses_a_folder_it_did_not_write(tmp_path):
    msg = "MitigatedPredictor.load: argument 'path' must be a folder written by MitigatedPredictor.save()"
    with pytest.raises(ValueError, match=re.escape(msg)):
        MitigatedPredictor.load(tmp_path)


def test_custom_method_needs_its_class_to_load(comparison, split, tmp_path):
    folder = comparison.select("baseline").save(tmp_path / "b")
    manifest = json.loads((folder / "fairbridge-mitigated.json").read_text())
    manifest["method"] = "my.custom"
    (folder / "fairbridge-mitigated.json").write_text(json.dumps(manifest))
    with pytest.raises(ValueError, match=re.escape("argument 'mitigation_class' is needed for a "
                                                   "method that is not registered by name")):
        load_mitigated(folder)
    from fairbridge.mitigations import Baseline

    loaded = load_mitigated(folder, mitigation_class=Baseline)
    assert np.array_equal(loaded.predict(split["X_test"]), comparison.select("baseline").predict(split["X_test"]))


def test_a_method_without_state_says_so(tmp_path, fitted_model):
    class Plain(Mitigation):
        def fit(self, estimator, X, y, *, sensitive_features, context=None):
            self.estimator_ = estimator
            return self._restored(0)

        def predict_proba(self, X, *, sensitive_features=None):
            return self.estimator_.predict_proba(X)

    m = Plain().fit(fitted_model, None, np.array([0, 1]), sensitive_features=np.array(["a", "b"]))
    chosen = MitigatedPredictor(name="plain", mitigation=m, classes=fitted_model.classes_,
                                sensitive_columns=["sex"], base=fitted_model)
    with pytest.raises(NotImplementedError, match="Plain cannot be saved"):
        chosen.save(tmp_path / "p")


def test_a_saved_folder_names_only_fairbridge_adapters(comparison, tmp_path):
    folder = comparison.select("baseline").save(tmp_path / "b")
    manifest = json.loads((folder / "fairbridge-mitigated.json").read_text())
    manifest["model_class"] = "os:system"
    (folder / "fairbridge-mitigated.json").write_text(json.dumps(manifest))
    with pytest.raises(ValueError, match=re.escape("which is not a fairbridge adapter")):
        load_mitigated(folder)
