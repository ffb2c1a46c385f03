"""``compare``: one model, one split, every method side by side; one logit cache; bad input."""

from __future__ import annotations

import json
import re
import sys
import types

import numpy as np
import pandas as pd
import pytest

from fairbridge._compare import ComparisonResult, compare
from fairbridge.mitigations import Mitigation, ThresholdOptimizerMitigation, default_mitigations

from .mitigations._models import make_model, one_torch_thread, tabular

HF_FAST = {
    "fairlearn.exponentiated_gradient": {"max_iter": 2},
    "fairlearn.grid_search": {"grid_size": 3},
    "fairlearn.adversarial": {"epochs": 2},
    "aif360.reject_option": {"step": 0.25},
    "fair_loss": {"fairness_weights": (0.0, 1.0), "validation_fraction": 0.0},
}


@pytest.fixture(scope="module", autouse=True)
def _one_thread():
    with one_torch_thread():
        yield


@pytest.fixture(scope="module")
def text_split(text_maker):
    """Texts no other test scores (so the shared feature cache starts cold for them), with a
    duplicate inside the training split and a text shared by both splits."""
    texts, y, a = text_maker(100, seed=4242)
    texts = [f"compare {t}" for t in texts]
    texts[5], y[5], a[5] = texts[4], y[4], a[4]
    X_train, X_test = texts[:60], texts[60:]
    X_test[0], y[60], a[60] = X_train[0], y[0], a[0]
    return {"X_train": X_train, "y_train": y[:60], "A_train": pd.Series(a[:60], name="sex"),
            "X_test": X_test, "y_test": y[60:], "A_test": pd.Series(a[60:], name="sex")}


@pytest.fixture(scope="module")
def hf_comparison(tiny_model_dir, text_split):
    from fairbridge.adapters import HFTextClassifier

    clf = HFTextClassifier(tiny_model_dir, progress=False, head_alpha=1e-5)  # not fitted: compare fits it
    s = text_split
    return compare(clf, s["X_train"], s["y_train"], s["X_test"], s["y_test"],
                   sensitive_features_train=s["A_train"], sensitive_features_test=s["A_test"],
                   methods=[(n, HF_FAST.get(n, {})) for n in default_mitigations()],
                   n_bootstrap=100, progress=False)


@pytest.fixture(scope="module")
def tab():
    Xtr, ytr, atr = tabular(200, 10)
    Xte, yte, ate = tabular(120, 11)
    with one_torch_thread():
        model = make_model().fit(Xtr, ytr)
    return {"model": model, "X_train": Xtr, "y_train": ytr, "A_train": atr,
            "X_test": Xte, "y_test": yte, "A_test": ate}


def run(tab, methods, *, estimator=None, **kw):
    args = dict(sensitive_features_train=tab["A_train"], sensitive_features_test=tab["A_test"],
                methods=methods, n_bootstrap=50, progress=False)
    args.update(kw)
    model = tab["model"] if estimator is None else estimator
    return compare(model, tab["X_train"], tab["y_train"], tab["X_test"], tab["y_test"], **args)


# -- the text model, every method ------------------------------------------------------------
def test_every_method_runs_on_a_text_model(hf_comparison):
    assert [m.status for m in hf_comparison.methods] == ["ok"] * len(default_mitigations()), [
        (m.name, m.reason) for m in hf_comparison.methods if m.status != "ok"]


def test_one_logit_cache_for_the_whole_comparison(hf_comparison, text_split):
    distinct = len(set(text_split["X_train"]) | set(text_split["X_test"]))
    assert len(text_split["X_train"]) + len(text_split["X_test"]) > distinct  # duplicates exist
    rows = {m.name: m.cost["n_forward_rows"] for m in hf_comparison.methods}
    assert sum(rows.values()) == distinct
    assert rows["baseline"] == distinct  # the baseline's fit and predict scored every text once
    assert all(v == 0 for k, v in rows.items() if k != "baseline")
    refits = {m.name: m.cost["n_refits"] for m in hf_comparison.methods}
    assert refits["baseline"] == 1  # compare fitted the unfitted model once
    assert refits["fairlearn.exponentiated_gradient"] >= 1 and refits["fair_loss"] == 2
    assert refits["fairlearn.threshold_optimizer"] == 0
    assert hf_comparison.config["baseline_fitted_by_compare"] is True


def test_comparison_dict_follows_the_contract(hf_comparison):
    d = hf_comparison.to_dict()
    json.dumps(d, allow_nan=False)
    assert d["schema_version"] == "1.0" and d["kind"] == "comparison"
    assert d["primary_disparity"] == "demographic_parity_difference" and d["explanations"] == []
    assert {"created", "fairbridge_version", "library_versions", "config", "methods"} <= set(d)
    assert d["config"]["n_train"] == 60 and d["config"]["n_test"] == 40
    assert [m["name"] for m in d["config"]["methods"]] == default_mitigations()
    for m in d["methods"]:
        assert {"name", "status", "reason", "needs", "options", "metrics", "intervals", "groups",
                "cost", "pareto", "verdict"} <= set(m)
        assert set(m["cost"]) == {"fit_seconds", "predict_seconds", "n_refits", "n_forward_rows",
                                  "n_forward_batches"}
        assert {"accuracy", "balanced_accuracy", "demographic_parity_difference",
                "statistical_parity_difference"} <= set(m["metrics"])
        assert len(m["intervals"]["demographic_parity_difference"]) == 2
        assert {g["group"] for g in m["groups"]} == {"female", "male"}
        assert m["verdict"]
    assert sum(m["pareto"] for m in d["methods"]) >= 1


# -- the table, Pareto front and verdicts (tabular model: fast) -----------------------------------
def test_table_pareto_and_verdicts(tab):
    res = run(tab, ["baseline", "fairlearn.threshold_optimizer", ("fairlearn.grid_search", {"grid_size": 3})])
    table = res.table
    assert list(table.index) == ["baseline", "fairlearn.threshold_optimizer", "fairlearn.grid_search"]
    assert {"accuracy", "balanced_accuracy", "demographic_parity_difference",
            "demographic_parity_difference_ci_low", "fit_seconds", "n_refits", "pareto",
            "verdict"} <= set(table.columns)
    acc = table["accuracy"]
    u = table["demographic_parity_difference"].abs()
    for name in table.index:
        dominated = any(acc[o] >= acc[name] and u[o] <= u[name] and (acc[o] > acc[name] or u[o] < u[name])
                        for o in table.index if o != name)
        assert table.loc[name, "pareto"] == (not dominated)
    assert res.pareto_front == [n for n in table.index if table.loc[n, "pareto"]]
    assert table.loc["baseline", "verdict"].startswith("The model as it is: accuracy")
    to = table.loc["fairlearn.threshold_optimizer"]
    assert to["verdict"].startswith("Reduces the demographic parity difference")
    assert set(res.audits) == set(table.index)


def test_primary_disparity_and_intersections(tab):
    rng = np.random.default_rng(0)
    A_tr = pd.DataFrame({"sex": tab["A_train"], "age": rng.choice(["old", "young"], 200)})
    A_te = pd.DataFrame({"sex": tab["A_test"], "age": rng.choice(["old", "young"], 120)})
    res = run(tab, ["baseline", "fairlearn.threshold_optimizer"], sensitive_features_train=A_tr,
              sensitive_features_test=A_te, primary_disparity="disparate_impact_ratio")
    m = res["baseline"].metrics
    assert "disparate_impact_ratio" in m and "disparate_impact_ratio[sex]" in m
    assert "demographic_parity_difference[age]" in m
    assert res.to_dict()["primary_disparity"] == "disparate_impact_ratio"
    inter = res["baseline"].audit.table.query("feature == 'sex & age'")
    assert len(inter) == 4
    # The threshold optimiser was given the intersection of the two columns.
    groups = res["fairlearn.threshold_optimizer"].mitigation.groups_
    assert groups == ["f & old", "f & young", "m & old", "m & young"]


# -- skips and failures never lose the finished methods --------------------------------------------
def test_missing_package_is_a_recorded_skip(tab, monkeypatch):
    for mod in [m for m in list(sys.modules) if m == "aif360" or m.startswith("aif360.")]:
        monkeypatch.setitem(sys.modules, mod, None)
    monkeypatch.setitem(sys.modules, "fairret", None)
    res = run(tab, ["baseline", "aif360.reweighing", "fair_loss", "fairlearn.threshold_optimizer"])
    status = {m.name: m.status for m in res.methods}
    assert status == {"baseline": "ok", "aif360.reweighing": "skipped", "fair_loss": "skipped",
                      "fairlearn.threshold_optimizer": "ok"}
    assert "pip install 'fairbridge[aif360]'" in res["aif360.reweighing"].reason
    assert "pip install 'fairbridge[fairret]'" in res["fair_loss"].reason
    assert res["aif360.reweighing"].verdict.startswith("Not run: the 'aif360.reweighing' mitigation "
                                                       "needs the package 'aif360'")
    # The audits carry on with Fairlearn's metrics and say why AIF360's are missing.
    assert set(res["baseline"].audit.disparities.source) == {"fairlearn"}
    assert any("pip install 'fairbridge[aif360]'" in n for n in res["baseline"].audit.notes)


class Boom(Mitigation):
    needs = "scores"

    def fit(self, estimator, X, y, *, sensitive_features, context=None):
        raise RuntimeError("boom")

    def predict_proba(self, X, *, sensitive_features=None):  # pragma: no cover - never fitted
        raise AssertionError


class Sharper(Mitigation):
    """A custom post-processor: a stricter threshold on the model's probability."""

    needs = "scores"

    def __init__(self, *, threshold: float = 0.7) -> None:
        self.threshold = threshold

    def fit(self, estimator, X, y, *, sensitive_features, context=None):
        self.estimator_ = estimator
        return self._restored(0)

    def predict_proba(self, X, *, sensitive_features=None):
        p = self.estimator_.predict_proba(X)[:, 1]
        q = (p >= self.threshold).astype(float)
        return np.column_stack([1 - q, q])


def test_a_failing_method_does_not_lose_the_others(tab):
    mine = Sharper(threshold=0.8)
    res = run(tab, ["baseline", Boom, mine, ("fairlearn.threshold_optimizer", {})])
    status = {m.name: m.status for m in res.methods}
    assert status == {"baseline": "ok", "Boom": "failed", "Sharper": "ok",
                      "fairlearn.threshold_optimizer": "ok"}
    assert res["Boom"].reason == "RuntimeError: boom"
    assert "RuntimeError: boom" in res["Boom"].details["traceback"]
    assert res["Boom"].verdict == "Failed: RuntimeError: boom"
    assert not hasattr(mine, "n_refits_")  # the user's configured instance was cloned, not fitted
    assert res["Sharper"].options == {"threshold": 0.8}
    rate = res["Sharper"].audit.overall["selection_rate"]
    assert rate <= res["baseline"].audit.overall["selection_rate"]
    with pytest.raises(ValueError, match=re.escape("ComparisonResult.select: argument 'name' must name "
                                                   "a method that ran, but got 'Boom' (failed: "
                                                   "RuntimeError: boom).")):
        res.select("Boom")


def test_repeated_methods_get_distinct_names(tab):
    res = run(tab, ["baseline", ThresholdOptimizerMitigation(),
                    ("fairlearn.threshold_optimizer", {"constraint": "equalized_odds"})])
    assert [m.name for m in res.methods] == ["baseline", "fairlearn.threshold_optimizer",
                                             "fairlearn.threshold_optimizer#2"]


def test_more_than_two_classes_skips_binary_only_methods(monkeypatch):
    Xtr, ytr, atr = tabular(150, 20, n_classes=3)
    Xte, yte, ate = tabular(90, 21, n_classes=3)
    with one_torch_thread():
        model = make_model().fit(Xtr, ytr)
    res = compare(model, Xtr, ytr, Xte, yte, sensitive_features_train=atr, sensitive_features_test=ate,
                  methods=["baseline", "fairlearn.threshold_optimizer", "aif360.reweighing",
                           "fairlearn.correlation_remover"], pos_label=2, n_bootstrap=0,
                  progress=False)
    status = {m.name: m.status for m in res.methods}
    assert status == {"baseline": "ok", "fairlearn.threshold_optimizer": "skipped",
                      "aif360.reweighing": "ok", "fairlearn.correlation_remover": "ok"}
    assert res["fairlearn.threshold_optimizer"].reason == (
        "fairlearn.threshold_optimizer handles binary labels only, but the model has 3 classes "
        "(0, 1, 2).")
    proba = res.select("aif360.reweighing").predict_proba(Xte)
    assert proba.shape == (90, 3)


def test_a_model_that_cannot_refit_skips_refit_methods(tab):
    res = run(tab, ["baseline", ("fairlearn.grid_search", {"grid_size": 2}), "fairlearn.threshold_optimizer"],
              estimator=make_model(refit="none").fit(tab["X_train"], tab["y_train"]))
    assert res["fairlearn.grid_search"].status == "skipped"
    assert "refit='none'" in res["fairlearn.grid_search"].reason
    assert res["fairlearn.threshold_optimizer"].status == "ok"


def test_groups_missing_from_one_split(tab):
    A_te = tab["A_test"].copy()
    A_te.iloc[:5] = "x"  # a group the training split never saw
    res = run(tab, ["baseline", "fairlearn.threshold_optimizer", "aif360.calibrated_equalized_odds"],
              sensitive_features_test=A_te)
    assert res["baseline"].status == "ok"
    assert res["fairlearn.threshold_optimizer"].status == "skipped"
    assert "group(s) ['x'] that are not in the training split" in res["fairlearn.threshold_optimizer"].reason
    assert any("in the test split but not in the training split" in n for n in res.notes)
    A_tr = tab["A_train"].copy()
    A_tr.iloc[:5] = "z"  # a group with no test rows
    keep = run(tab, ["baseline", "fairlearn.threshold_optimizer"], sensitive_features_train=A_tr)
    assert [m.status for m in keep.methods] == ["ok", "ok"]
    assert any("Group(s) ['z'] of 'sex' are in the training split but not in the test split" in n
               for n in keep.notes)


# -- bad input: clear errors before any method runs ------------------------------------------------
def test_one_group_is_an_error(tab):
    msg = ("compare: column 'sex' of 'sensitive_features_test' must have at least 2 groups, but got "
           "1 group ('f'). Check that the right column was passed; disparities need two groups.")
    with pytest.raises(ValueError, match=re.escape(msg)):
        run(tab, ["baseline"], sensitive_features_test=pd.Series(["f"] * 120, name="sex"))


def test_missing_groups_are_an_error(tab):
    holes = tab["A_train"].copy()
    holes.iloc[2] = np.nan
    msg = ("compare: column 'sex' of 'sensitive_features_train' must not contain NaN or None, but got "
           "1 missing group(s), first at rows [2].")
    with pytest.raises(ValueError, match=re.escape(msg)):
        run(tab, ["baseline"], sensitive_features_train=holes)


def test_other_bad_input(tab):
    with pytest.raises(ValueError, match=re.escape("compare: argument 'methods' must be a non-empty "
                                                   "list of methods")):
        run(tab, [])
    with pytest.raises(ValueError, match=re.escape("unknown mitigation 'fairlearn.nope'; choose one of")):
        run(tab, ["baseline", "fairlearn.nope"])
    with pytest.raises(ValueError, match=re.escape("compare: argument 'primary_disparity' must be one of")):
        run(tab, ["baseline"], primary_disparity="parity")
    with pytest.raises(ValueError, match=re.escape("compare: arguments 'X_test', 'y_test', "
                                                   "'sensitive_features_test' must have the same "
                                                   "number of rows, but got X_test has 120, y_test "
                                                   "has 119, sensitive_features_test has 120.")):
        compare(tab["model"], tab["X_train"], tab["y_train"], tab["X_test"], tab["y_test"][:-1],
                sensitive_features_train=tab["A_train"], sensitive_features_test=tab["A_test"],
                methods=["baseline"], progress=False)
    with pytest.raises(ValueError, match=re.escape("compare: argument 'y_test' must only hold the "
                                                   "model's classes ['0', '1'], but got other labels "
                                                   "['7'].")):
        bad = tab["y_test"].copy()
        bad[0] = 7
        compare(tab["model"], tab["X_train"], tab["y_train"], tab["X_test"], bad,
                sensitive_features_train=tab["A_train"], sensitive_features_test=tab["A_test"],
                methods=["baseline"], progress=False)
    with pytest.raises(ValueError, match=re.escape("compare: arguments 'sensitive_features_train' and "
                                                   "'sensitive_features_test' must have the same "
                                                   "columns, but got ['sex'] and ['gender'].")):
        run(tab, ["baseline"], sensitive_features_test=tab["A_test"].rename("gender"))


def test_progress_bar_over_methods(tab, capsys):
    run(tab, ["baseline"], progress=True)
    assert "fairbridge compare" in capsys.readouterr().err
    run(tab, ["baseline"], progress=False)
    assert "fairbridge compare" not in capsys.readouterr().err


def test_exports_call_the_reports_module(tab, monkeypatch, tmp_path):
    res = run(tab, ["baseline"])
    assert isinstance(res, ComparisonResult)
    calls = []
    fake = types.ModuleType("fairbridge.reports")
    for name in ("write_html", "write_json", "write_markdown"):
        setattr(fake, name, lambda d, p, _n=name: calls.append((_n, d, p)) or p)
    monkeypatch.setitem(sys.modules, "fairbridge.reports", fake)
    assert res.to_html(tmp_path / "r.html") == tmp_path / "r.html"
    res.to_json(tmp_path / "r.json")
    res.to_markdown(tmp_path / "r.md")
    assert [c[0] for c in calls] == ["write_html", "write_json", "write_markdown"]
    assert all(c[1]["kind"] == "comparison" and c[1]["methods"][0]["name"] == "baseline" for c in calls)


def test_a_plain_scikit_learn_classifier_works_too(tab):
    from sklearn.linear_model import LogisticRegression

    res = run(tab, ["baseline", ("fairlearn.exponentiated_gradient", {"max_iter": 2}),
                    "fairlearn.correlation_remover", "fair_loss", "fairlearn.threshold_optimizer"],
              estimator=LogisticRegression())  # unfitted: compare fits it
    status = {m.name: m.status for m in res.methods}
    assert status == {"baseline": "ok", "fairlearn.exponentiated_gradient": "ok",
                      "fairlearn.correlation_remover": "ok", "fair_loss": "skipped",
                      "fairlearn.threshold_optimizer": "ok"}
    assert "does not have" in res["fair_loss"].reason
    assert res["baseline"].cost["n_refits"] == 1 and res["baseline"].cost["n_forward_rows"] == 0
    with pytest.raises(TypeError, match=re.escape("the model must be a fairbridge adapter to be saved")):
        res.select("baseline").save("unused")


def test_text_model_selection_saves_and_loads(hf_comparison, text_split, tmp_path):
    from fairbridge._compare import load_mitigated

    for name in ("fairlearn.threshold_optimizer", "fairlearn.exponentiated_gradient"):
        chosen = hf_comparison.select(name)
        X, A = text_split["X_test"], text_split["A_test"]
        kw = {"sensitive_features": A} if chosen.needs_sensitive_features else {}
        pred = chosen.predict(X, **kw)
        loaded = load_mitigated(chosen.save(tmp_path / name))
        assert (tmp_path / name / "model" / "backbone").is_dir()  # the network, as safetensors
        np.testing.assert_array_equal(loaded.predict(X, **kw), pred)
        np.testing.assert_allclose(loaded.predict_proba(X, **kw), chosen.predict_proba(X, **kw),
                                   rtol=1e-5, atol=1e-6)
