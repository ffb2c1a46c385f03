"""Group-disaggregated explanations match a direct pandas aggregation."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from fairbridge.explainers import explain, explain_by_group


@pytest.fixture(scope="module")
def text_groups(great_clf):
    # the model leans on "great"; it appears mostly in the texts of group "b"
    texts = ["great loan and great pay", "great house", "a great car", "late pay",
             "bad credit month", "the bank loan", "great income", "pay the loan late"]
    groups = ["b", "b", "b", "a", "a", "a", "b", "a"]
    gx = explain_by_group(great_clf, texts, sensitive_features=pd.Series(groups, name="sex"),
                          method="lime", num_samples=100, progress=False)
    return texts, groups, gx


def test_table_matches_a_direct_groupby(text_groups):
    texts, groups, gx = text_groups
    att = gx.explanation.attributions.copy()
    att["group"] = np.asarray(groups)[att["row"]]
    direct = att.groupby(["group", "feature"]).agg(
        importance=("value", lambda v: v.abs().mean()), mean_value=("value", "mean"),
        count=("value", "size"), n_rows=("row", "nunique"))
    got = gx.table.set_index(["group", "feature"]).sort_index()
    direct = direct.sort_index()
    np.testing.assert_allclose(got["importance"], direct["importance"])
    np.testing.assert_allclose(got["mean_value"], direct["mean_value"])
    assert got["count"].tolist() == direct["count"].tolist()
    assert got["n_rows"].tolist() == direct["n_rows"].tolist()
    sizes = pd.Series(groups).value_counts()
    assert (got["group_size"] == got.index.get_level_values("group").map(sizes)).all()
    assert gx.sensitive_features == ["sex"]


def test_differences_are_the_largest_gaps(text_groups):
    _, _, gx = text_groups
    wide = gx.wide()
    both = wide.dropna()
    gaps = (both.max(axis=1) - both.min(axis=1)).sort_values(ascending=False)
    diffs = gx.differences.set_index("feature")
    assert set(diffs.index) == set(both.index)
    np.testing.assert_allclose(diffs.loc[gaps.index, "difference"], gaps.to_numpy())
    assert gx.differences["difference"].is_monotonic_decreasing
    # "great" appears only in group "b"'s texts, so it has no gap to compare
    assert "great" not in set(diffs.index)
    assert wide.loc["great", "b"] > 0.3 and np.isnan(wide.loc["great", "a"])
    top = gx.top_differences(1).iloc[0]
    assert top["importance_max"] - top["importance_min"] == pytest.approx(top["difference"])


def test_min_count_filters_rare_features(text_groups, great_clf):
    texts, groups, gx = text_groups
    strict = explain_by_group(great_clf, texts, sensitive_features=groups, method="lime",
                              num_samples=100, progress=False, min_count=2)
    kept = gx.table[gx.table["count"] >= 2]
    multi = kept.groupby("feature")["group"].nunique()
    assert set(strict.differences["feature"]) == set(multi[multi >= 2].index)


def test_tabular_groups_and_intersections(debt_clf, tabular_data):
    A = pd.DataFrame({"sex": ["f", "m"] * 10, "age": ["young"] * 10 + ["old"] * 10})
    gx = explain_by_group(debt_clf, tabular_data.iloc[:20], sensitive_features=A,
                          method="interpret.shap", num_samples=60, background=tabular_data.iloc[:10],
                          progress=False)
    assert sorted(gx.groups.unique()) == ["f|old", "f|young", "m|old", "m|young"]
    assert gx.table.groupby("group")["importance"].idxmax().map(gx.table["feature"]).eq("debt").all()
    d = gx.to_dict(max_features=2)
    json.dumps(d, allow_nan=False)
    assert d["sensitive_features"] == ["sex", "age"]
    assert {g["group"] for g in d["groups"]} == {"f|old", "f|young", "m|old", "m|young"}
    assert len(d["differences"]) <= 2 and d["explanation"]["instances"] == []


def test_group_explanation_reuses_explain(great_clf, text_groups):
    texts, _, gx = text_groups
    ex = explain(great_clf, texts, method="lime", num_samples=100, progress=False)
    pd.testing.assert_frame_equal(ex.attributions, gx.explanation.attributions)
