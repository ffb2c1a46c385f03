"""The public surface: exports, registry, the Explainer contract, the JSON contract."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest

import fairbridge.explainers as fx
from fairbridge.explainers import Attribution, Explainer, explain, register_explainer


def test_exports_are_sorted_and_public():
    assert fx.__all__ == sorted(fx.__all__)
    for name in fx.__all__:
        assert not name.startswith("_") and hasattr(fx, name)


def test_registry_lists_every_method():
    assert fx.available_explainers() == ["ebm_surrogate", "interpret.lime", "interpret.morris",
                                         "interpret.pdp", "interpret.shap", "lime", "shap"]
    with pytest.raises(ValueError, match=re.escape(
            "register_explainer: explainer 'lime' is already registered (by LimeExplainer).")):
        register_explainer("lime")(type("Other", (fx.LimeExplainer,), {}))


class Occlusion(Explainer):
    """Drop in probability when one feature is set to 0 (a user's own explainer)."""

    name = "occlusion"
    input_types = ("tabular",)
    default_options = {"fill": 0.0}

    def explain_local(self, ctx, row, target):
        x = ctx.X[row:row + 1]
        masked = np.repeat(x, x.shape[1], axis=0)
        np.fill_diagonal(masked, self.options["fill"])
        drop = ctx.proba[row, target] - ctx.model(masked)[:, target]
        return [Attribution(f, float(v), j) for j, (f, v) in enumerate(zip(ctx.feature_names, drop))]


def test_a_class_or_instance_is_the_extension_point(debt_clf, tabular_data):
    X = tabular_data.iloc[:3]
    by_class = explain(debt_clf, X, method=Occlusion, progress=False)
    by_instance = explain(debt_clf, X, method=Occlusion(fill=0.0), progress=False)
    assert by_class.method == "occlusion"
    assert by_class.n_model_calls == 1 + 3 and by_class.n_rows_scored == 3 + 3 * 4
    np.testing.assert_allclose(by_class.attributions["value"], by_instance.attributions["value"])
    assert by_class.global_importance.iloc[0]["feature"] == "debt"
    with pytest.raises(TypeError, match=re.escape(
            "explain: keyword argument(s) 'fill' cannot be combined with an Explainer instance")):
        explain(debt_clf, X, method=Occlusion(), fill=1.0)


def test_the_contract_is_checked():
    class NoLocal(Explainer):
        pass

    with pytest.raises(TypeError, match=re.escape(
            "NoLocal declares local explanations but does not implement explain_local")):
        explain(None, [], method=NoLocal)


def test_to_dict_follows_the_report_contract(great_clf):
    texts = ["the loan was great", "late pay"]
    ex = explain(great_clf, texts, method="lime", num_samples=50, progress=False)
    d = ex.to_dict()
    json.dumps(d, allow_nan=False)
    assert set(d) >= {"method", "settings", "input_type", "n_model_calls", "n_rows_scored",
                      "classes", "instances", "global_importance", "notes"}
    assert d["method"] == "lime" and d["input_type"] == "text" and d["classes"] == [0, 1]
    assert d["n_model_calls"] == ex.n_model_calls == 3
    inst = d["instances"][0]
    assert inst["row"] == 0 and inst["text"] == texts[0]
    assert inst["predicted_class"] == 1
    assert inst["predicted_proba"] == pytest.approx(great_clf.predict_proba(texts[:1])[0, 1])
    assert {a["feature"] for a in inst["attributions"]} == {"the", "loan", "was", "great"}
    assert all(isinstance(a["position"], int) and isinstance(a["value"], float)
               for a in inst["attributions"])
    assert d["global_importance"][0] == {"feature": "great",
                                         "importance": pytest.approx(ex.global_importance.iloc[0]["importance"]),
                                         "count": 1}
    assert len(ex.to_dict(max_instances=1)["instances"]) == 1


def test_to_dict_validates_against_the_report_schema(great_clf, debt_clf, tabular_data):
    jsonschema = pytest.importorskip("jsonschema")
    reports = pytest.importorskip("fairbridge.reports")
    schema = reports.load_schema("comparison")
    spec = {**schema["$defs"]["explanation"], "$defs": schema["$defs"]}
    for ex in (explain(great_clf, ["a great loan"], method="lime", num_samples=30, progress=False),
               explain(debt_clf, tabular_data, method="interpret.morris", num_samples=5, progress=False)):
        jsonschema.validate(ex.to_dict(), spec)


def test_any_scikit_learn_classifier_works(text_maker):
    from sklearn.feature_extraction.text import CountVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    texts, y, _ = text_maker(120, seed=2)
    pipe = make_pipeline(CountVectorizer(), LogisticRegression()).fit(texts, y)
    ex = explain(pipe, texts[:3], method="lime", num_samples=100, progress=False)
    assert ex.input_type == "text" and ex.engine_stats is None
    coef = dict(zip(pipe[0].get_feature_names_out(), pipe[1].coef_[0]))
    for i in range(3):
        local = ex.local(i).set_index("feature")["value"]
        top = local.abs().idxmax()
        # the word LIME finds most important is among the model's three strongest of that text
        strongest = sorted(local.index, key=lambda w: -abs(coef.get(w, 0.0)))[:3]
        assert top in strongest


def test_progress_bar_over_rows(great_clf, capsys):
    explain(great_clf, ["a great loan", "late pay"], method="lime", num_samples=20, progress=True)
    err = capsys.readouterr().err
    assert "explaining (lime)" in err and "/2 [" in err
