"""``audit`` and ``audit_predictions``: the result, the three front doors, and bad input."""

from __future__ import annotations

import json
import re
import sys
import types

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression

from fairbridge._audit import AuditResult, audit, audit_predictions

GROUP_KEYS = {"feature", "group", "count", "selection_rate", "accuracy", "balanced_accuracy",
              "tpr", "fpr", "precision"}
DISPARITY_KEYS = {"metric", "value", "ci_low", "ci_high", "source", "feature"}


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    n = 600
    sex = rng.choice(["female", "male"], n)
    X = rng.normal(size=(n, 3))
    X[:, 0] += (sex == "male") * 0.8
    y = (X[:, 0] + rng.normal(scale=0.7, size=n) > 0.4).astype(int)
    return X, y, pd.Series(sex, name="sex")


@pytest.fixture(scope="module")
def model(data):
    X, y, _ = data
    return LogisticRegression().fit(X, y)


def test_to_dict_follows_the_contract(data, model):
    X, y, sex = data
    res = audit(model, X, y, sensitive_features=sex, n_bootstrap=200)
    d = res.to_dict()
    assert d["schema_version"] == "1.0" and d["kind"] == "audit"
    assert set(d) >= {"schema_version", "kind", "created", "fairbridge_version", "library_versions",
                      "sensitive_features", "n_samples", "confidence", "groups", "disparities", "notes"}
    assert d["sensitive_features"] == ["sex"] and d["n_samples"] == 600 and d["confidence"] == 0.95
    assert {"fairlearn", "scikit-learn", "numpy"} <= set(d["library_versions"])
    assert all(set(g) == GROUP_KEYS for g in d["groups"])
    assert all(set(x) == DISPARITY_KEYS for x in d["disparities"])
    assert {x["metric"] for x in d["disparities"]} == {
        "demographic_parity_difference", "demographic_parity_ratio", "equalized_odds_difference",
        "statistical_parity_difference", "disparate_impact_ratio", "equal_opportunity_difference",
        "average_odds_difference"}
    json.dumps(d, allow_nan=False)  # JSON-safe: no NaN anywhere
    assert d["privileged_groups"] == {"sex": "male"}
    assert d["overall"]["accuracy"] == pytest.approx(model.score(X, y))


def test_model_and_predictions_and_scores_agree(data, model):
    X, y, sex = data
    by_model = audit(model, X, y, sensitive_features=sex, n_bootstrap=100)
    by_preds = audit_predictions(y, model.predict(X), sensitive_features=sex, n_bootstrap=100)
    pd.testing.assert_frame_equal(by_model.table, by_preds.table)
    pd.testing.assert_frame_equal(by_model.disparities, by_preds.disparities)
    proba = model.predict_proba(X)[:, 1]
    frame = pd.DataFrame({"y": y, "sex": sex, "proba": proba})
    by_scores = audit(frame, label_column="y", sensitive_column="sex", score_column="proba",
                      n_bootstrap=100)
    # sklearn predicts 1 where the probability exceeds 0.5; the threshold rule is ">= 0.5".
    assert np.array_equal(model.predict(X), (proba >= 0.5).astype(int))
    pd.testing.assert_frame_equal(by_scores.disparities, by_preds.disparities)
    by_column = audit(frame.assign(pred=model.predict(X)), label_column="y",
                      sensitive_column=["sex"], prediction_column="pred", n_bootstrap=100)
    pd.testing.assert_frame_equal(by_column.table, by_preds.table)


def test_a_predictor_that_takes_groups_gets_them(data, model):
    X, y, sex = data
    seen = {}

    class GroupAware:
        def predict(self, X, *, sensitive_features):
            seen["groups"] = sensitive_features
            return model.predict(X)

    audit(GroupAware(), X, y, sensitive_features=sex, n_bootstrap=0)
    assert seen["groups"] is sex


def test_access_helpers_and_privileged_override(data, model):
    X, y, sex = data
    res = audit(model, X, y, sensitive_features=sex, privileged_groups="female", n_bootstrap=200)
    spd = res.disparity("statistical_parity_difference")
    rates = res.table.set_index("group")["selection_rate"]
    assert spd == pytest.approx(rates["male"] - rates["female"])  # unprivileged minus privileged
    lo, hi = res.interval("statistical_parity_difference")
    assert lo <= spd <= hi
    assert not any("privileged group was taken" in n for n in res.notes)
    with pytest.raises(KeyError, match="no value of 'demographic_parity_difference' for feature 'age'"):
        res.disparity("demographic_parity_difference", "age")
    assert isinstance(res, AuditResult) and "n_samples=600" in repr(res)


def test_exports_call_the_reports_module(data, model, monkeypatch, tmp_path):
    X, y, sex = data
    res = audit(model, X, y, sensitive_features=sex, n_bootstrap=0)
    calls = []
    fake = types.ModuleType("fairbridge.reports")
    for name in ("write_html", "write_json", "write_markdown"):
        setattr(fake, name, lambda d, p, _n=name: calls.append((_n, d, p)) or p)
    monkeypatch.setitem(sys.modules, "fairbridge.reports", fake)
    res.to_html(tmp_path / "a.html")
    res.to_json(tmp_path / "a.json")
    res.to_markdown(tmp_path / "a.md")
    assert [c[0] for c in calls] == ["write_html", "write_json", "write_markdown"]
    assert all(c[1]["kind"] == "audit" and c[1]["groups"] == res.to_dict()["groups"] for c in calls)


def test_a_million_rows_is_a_cheap_audit():
    # Not timed: the cost is bounded by construction (cells, not rows); this checks it runs.
    rng = np.random.default_rng(1)
    n = 1_000_000
    res = audit_predictions(rng.integers(0, 2, n), rng.integers(0, 2, n),
                            sensitive_features=rng.choice(["a", "b", "c"], n), n_bootstrap=1000)
    assert res.n_samples == n and res.table["count"].sum() == n


# -- bad input --------------------------------------------------------------------------------------
def test_one_group_is_an_error(data):
    _, y, _ = data
    msg = ("audit_predictions: column 'sex' of 'sensitive_features' must have at least 2 groups, "
           "but got 1 group ('female'). Check that the right column was passed; disparities need "
           "two groups.")
    with pytest.raises(ValueError, match=re.escape(msg)):
        audit_predictions(y, y, sensitive_features=pd.Series(["female"] * y.size, name="sex"))


def test_missing_groups_are_an_error(data):
    _, y, sex = data
    holes = sex.copy()
    holes.iloc[[3, 7]] = None
    msg = ("audit_predictions: column 'sex' of 'sensitive_features' must not contain NaN or None, "
           "but got 2 missing group(s), first at rows [3, 7]. Fill them with an explicit group such "
           "as 'unknown', or drop those rows.")
    with pytest.raises(ValueError, match=re.escape(msg)):
        audit_predictions(y, y, sensitive_features=holes)
    assert sex.notna().all()  # the caller's Series is untouched


def test_lengths_and_settings_are_checked(data):
    _, y, sex = data
    with pytest.raises(ValueError, match=re.escape("audit_predictions: arguments 'y_true', 'y_pred', "
                                                   "'sensitive_features' must have the same number of "
                                                   "rows, but got y_true has 600, y_pred has 5, "
                                                   "sensitive_features has 600.")):
        audit_predictions(y, y[:5], sensitive_features=sex)
    with pytest.raises(ValueError, match=re.escape("audit_predictions: argument 'confidence' must be a "
                                                   "number > 0 and < 1")):
        audit_predictions(y, y, sensitive_features=sex, confidence=1.0)
    with pytest.raises(ValueError, match=re.escape("audit_predictions: argument 'n_bootstrap' must be "
                                                   "an integer >= 0")):
        audit_predictions(y, y, sensitive_features=sex, n_bootstrap=-1)
    with pytest.raises(ValueError, match=re.escape("audit_predictions: arguments 'y_pred' and 'y_score' "
                                                   "must not both be None")):
        audit_predictions(y, sensitive_features=sex)
    with pytest.raises(ValueError, match=re.escape("audit_predictions: privileged group of 'sex' must be "
                                                   "one of its groups ['female', 'male'], but got 'other'.")):
        audit_predictions(y, y, sensitive_features=sex, privileged_groups="other")


def test_dataframe_front_door_errors(data, model):
    X, y, sex = data
    frame = pd.DataFrame({"y": y, "sex": sex, "proba": model.predict_proba(X)[:, 1]})
    with pytest.raises(ValueError, match=re.escape("audit: argument 'label_column' is required when "
                                                   "auditing a DataFrame")):
        audit(frame, sensitive_column="sex", score_column="proba")
    with pytest.raises(ValueError, match=re.escape("audit: argument 'sensitive_column' must name "
                                                   "columns of the DataFrame, but got 'gender'.")):
        audit(frame, label_column="y", sensitive_column="gender", score_column="proba")
    with pytest.raises(ValueError, match=re.escape("audit: arguments 'score_column' and "
                                                   "'prediction_column' must not both be None")):
        audit(frame, label_column="y", sensitive_column="sex")
    with pytest.raises(ValueError, match=re.escape("audit: argument 'label_column' is only for auditing "
                                                   "a DataFrame of scores")):
        audit(model, X, y, sensitive_features=sex, label_column="y")
    with pytest.raises(ValueError, match=re.escape("audit: argument 'sensitive_features' is required")):
        audit(model, X, y)
