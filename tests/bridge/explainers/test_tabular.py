"""Explaining tabular models: every method finds the one feature the model uses, matches the
toolkit's own call path, and counts its calls."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from fairbridge.explainers import explain

from .conftest import DEBT_WEIGHT, FEATURES


def p_debt(X: np.ndarray) -> np.ndarray:
    """P(class 1) of the debt model, computed by hand."""
    z = DEBT_WEIGHT * np.asarray(X, dtype=np.float64)[:, FEATURES.index("debt")]
    return 1.0 / (1.0 + np.exp(-z))


def unbatched(clf, log: list | None = None):
    """The toolkit's own call path: the network row by row, no engine, no cache."""
    net = clf.backbone_.model

    def f(X):
        X = np.asarray(X, dtype=np.float32)
        if log is not None:
            log.append(len(X))
        with torch.inference_mode():
            z = np.array([net(torch.from_numpy(row[None]))[0, 0].item() for row in X], dtype=np.float64)
        p1 = 1.0 / (1.0 + np.exp(-z))
        return np.column_stack([1.0 - p1, p1])

    return f


def test_shap_permutation_gives_the_exact_shapley_value(debt_clf, tabular_data):
    X = tabular_data.iloc[:4]
    ex = explain(debt_clf, X, method="shap", target=1, background=tabular_data, progress=False)
    # one relevant feature: its SHAP value is p(x) - mean over the background of p
    expected = p_debt(X.to_numpy()) - p_debt(tabular_data.to_numpy()).mean()
    got = ex.attributions[ex.attributions["feature"] == "debt"]["value"].to_numpy()
    np.testing.assert_allclose(got, expected, atol=1e-6)
    others = ex.attributions[ex.attributions["feature"] != "debt"]["value"]
    assert others.abs().max() == pytest.approx(0, abs=1e-12)
    assert ex.global_importance.iloc[0]["feature"] == "debt"
    assert ex.settings["background_rows"] == 40 and ex.settings["max_evals"] == 10 * 2 * 4


def test_shap_permutation_matches_the_library_call_path(debt_clf, tabular_data):
    import shap

    X = tabular_data.iloc[:3]
    ex = explain(debt_clf, X, method="shap", num_samples=27, random_state=5,
                 background=tabular_data, progress=False)
    calls: list = []
    state = np.random.get_state()
    masker = shap.maskers.Independent(tabular_data.to_numpy(), max_samples=40)
    explainer = shap.explainers.Permutation(unbatched(debt_clf, calls), masker, seed=5)
    targets = debt_clf.predict_proba(X).argmax(axis=1)
    for i in range(3):
        sv = explainer(X.to_numpy()[i:i + 1], max_evals=27, batch_size=9, silent=True)
        np.testing.assert_allclose(ex.local(i)["value"], sv.values[0][:, targets[i]], atol=1e-6)
    np.random.set_state(state)
    assert ex.n_model_calls == len(calls) + 1
    assert ex.n_rows_scored == sum(calls) + 3


def test_shap_kernel(debt_clf, tabular_data):
    X = tabular_data.iloc[:3]
    ex = explain(debt_clf, X, method="shap", algorithm="kernel", num_samples=100, target=1,
                 background=tabular_data.iloc[:10], progress=False)
    expected = p_debt(X.to_numpy()) - p_debt(tabular_data.iloc[:10].to_numpy()).mean()
    got = ex.attributions[ex.attributions["feature"] == "debt"]["value"].to_numpy()
    np.testing.assert_allclose(got, expected, atol=1e-6)
    assert ex.settings["algorithm"] == "kernel" and ex.settings["background_rows"] == 10


def _lime_direct(clf, X, background, targets, num_samples, seed):
    from lime.lime_tabular import LimeTabularExplainer

    lime = LimeTabularExplainer(background, mode="classification", feature_names=FEATURES,
                                class_names=["0", "1"], random_state=seed)
    f = unbatched(clf)
    return [dict(lime.explain_instance(row, f, labels=(t,), num_features=len(FEATURES),
                                       num_samples=num_samples).as_map()[t])
            for row, t in zip(X, targets)]


@pytest.mark.parametrize("method", ["lime", "interpret.lime"])
def test_lime_tabular_finds_the_feature_and_matches_lime(debt_clf, tabular_data, method):
    X = tabular_data.iloc[:4]
    ex = explain(debt_clf, X, method=method, num_samples=300, random_state=3,
                 background=tabular_data, progress=False)
    targets = debt_clf.predict_proba(X).argmax(axis=1)
    direct = _lime_direct(debt_clf, X.to_numpy(), tabular_data.to_numpy(), targets, 300, 3)
    for i in range(4):
        local = ex.local(i).set_index("feature")["value"]
        assert local.abs().idxmax() == "debt"
        assert local["debt"] > 0  # towards the predicted class, which debt decides
        # InterpretML explains P(class 1) with LIME in regression mode; flipped towards class 0,
        # the coefficients are LIME's own (P0 = 1 - P1).
        np.testing.assert_allclose([local[f] for f in FEATURES],
                                   [direct[i][j] for j in range(len(FEATURES))], atol=1e-8)
    calls_per_row = 1 if method == "lime" else 3  # InterpretML also re-scores the row twice
    assert ex.n_model_calls == 1 + 4 * calls_per_row
    assert ex.n_rows_scored == 4 + 4 * 300 + 4 * (calls_per_row - 1)


def test_interpret_shap(debt_clf, tabular_data):
    X = tabular_data.iloc[:3]
    ex = explain(debt_clf, X, method="interpret.shap", num_samples=100,
                 background=tabular_data.iloc[:10], progress=False)
    p = p_debt(X.to_numpy())
    sign = np.where(p >= 0.5, 1.0, -1.0)  # towards the predicted class
    expected = sign * (p - p_debt(tabular_data.iloc[:10].to_numpy()).mean())
    got = ex.attributions[ex.attributions["feature"] == "debt"]["value"].to_numpy()
    np.testing.assert_allclose(got, expected, atol=1e-6)


def test_interpret_morris_is_global(debt_clf, tabular_data):
    ex = explain(debt_clf, tabular_data, method="interpret.morris", num_samples=20, progress=False)
    gi = ex.global_importance.set_index("feature")
    assert gi.index[0] == "debt" and gi.loc["debt", "importance"] > 0
    assert (gi.drop(index="debt")["importance"] == 0).all()
    assert set(gi.columns) >= {"importance", "count", "mu", "sigma", "mu_star_conf"}
    # our scoring call, InterpretML's own look at the data (to find the classes), then SALib's
    # Morris design in one call: N trajectories of (n_features + 1) points
    assert ex.n_model_calls == 3 and ex.n_rows_scored == 40 + 40 + 20 * (len(FEATURES) + 1)
    assert ex.attributions.empty and not ex.has_local
    assert ex.to_dict()["instances"] == []


def test_interpret_pdp_is_global(debt_clf, tabular_data):
    ex = explain(debt_clf, tabular_data, method="interpret.pdp", progress=False)
    gi = ex.global_importance.set_index("feature")
    assert gi.index[0] == "debt"
    curve = ex.details["partial_dependence"]["debt"]
    # with one relevant feature the partial dependence is p(grid point) itself
    grid = np.zeros((len(curve["grid"]), len(FEATURES)))
    grid[:, FEATURES.index("debt")] = curve["grid"]
    np.testing.assert_allclose(curve["mean"], p_debt(grid), atol=1e-6)
    assert gi.loc["debt", "importance"] == pytest.approx(np.std(curve["mean"]))
    assert gi.drop(index="debt")["importance"].max() < 1e-9


def test_ebm_surrogate_tabular(debt_clf, tabular_data):
    ex = explain(debt_clf, tabular_data, method="ebm_surrogate", progress=False,
                 ebm_params={"outer_bags": 2})
    assert ex.global_importance.iloc[0]["feature"] == "debt"
    assert ex.fidelity["agreement"] >= 0.8
    assert ex.fidelity["n_fit"] + ex.fidelity["n_holdout"] == 40
    assert ex.local(0)["position"].tolist() == [0, 1, 2, 3]


def test_multiclass_tabular_lime(tabular3_clf, tabular_data):
    ex = explain(tabular3_clf, tabular_data.iloc[:2], method="lime", num_samples=100, progress=False)
    assert ex.classes == [0, 1, 2]
    assert ex.local(0)["class"].iloc[0] == ex.predictions["predicted_class"].iloc[0]


def test_ndarray_input_and_feature_names(debt_clf, tabular_data):
    X = tabular_data.iloc[:2]
    before = X.copy()
    a = explain(debt_clf, X, method="lime", num_samples=100, progress=False)
    b = explain(debt_clf, X.to_numpy(), method="lime", num_samples=100, progress=False)
    pd.testing.assert_frame_equal(X, before)  # the caller's X is untouched
    assert a.local(0)["feature"].tolist() == FEATURES
    assert b.local(0)["feature"].tolist() == FEATURES  # from feature_names_in_
    np.testing.assert_allclose(a.attributions["value"], b.attributions["value"])
    named = explain(debt_clf, X.to_numpy(), method="lime", num_samples=100, progress=False,
                    feature_names=["a", "b", "c", "d"])
    assert named.local(0)["feature"].tolist() == ["a", "b", "c", "d"]
