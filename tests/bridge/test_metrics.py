"""The metrics are the toolkits' own values; the bootstrap is vectorised and behaves like one."""

from __future__ import annotations

import logging
import re

import numpy as np
import pandas as pd
import pytest
from fairlearn.metrics import (
    MetricFrame,
    demographic_parity_difference,
    demographic_parity_ratio,
    equalized_odds_difference,
    false_positive_rate,
    selection_rate,
    true_positive_rate,
)
from sklearn.metrics import accuracy_score, balanced_accuracy_score, precision_score

from fairbridge._aif360_compat import quiet_import
from fairbridge._audit import audit_predictions
from fairbridge._metrics import (
    DISPARITIES,
    Cells,
    GroupFeature,
    disparities_from_counts,
    group_features,
    indicator,
    json_safe,
    resolve_pos_label,
    unfairness,
)

aif = quiet_import("aif360.sklearn.metrics")


def gapped(n: int, seed: int, *, groups=("f", "m", "x"), p=(0.3, 0.6, 0.1)):
    """Labels and predictions where group 'm' is selected more often."""
    rng = np.random.default_rng(seed)
    a = rng.choice(list(groups), n, p=list(p))
    yt = rng.integers(0, 2, n)
    yp = np.where(rng.random(n) < 0.75, yt, 1 - yt)
    lift = (a == "m") & (rng.random(n) < 0.25)
    yp[lift] = 1
    return yt, yp, a


def row(result, feature, metric):
    d = result.disparities
    return d[(d.feature == feature) & (d.metric == metric)].iloc[0]


def test_group_table_equals_a_fairlearn_metricframe_on_the_rows():
    yt, yp, a = gapped(3000, 0)
    res = audit_predictions(yt, yp, sensitive_features=pd.Series(a, name="sex"), n_bootstrap=0)
    mf = MetricFrame(metrics={"selection_rate": selection_rate, "tpr": true_positive_rate,
                              "fpr": false_positive_rate, "accuracy": accuracy_score,
                              "balanced_accuracy": balanced_accuracy_score,
                              "precision": precision_score},
                     y_true=yt, y_pred=yp, sensitive_features=a).by_group
    table = res.table.set_index("group")
    for col in mf.columns:
        np.testing.assert_allclose(table.loc[mf.index, col].to_numpy(), mf[col].to_numpy(), rtol=1e-12)
    assert table.loc[mf.index, "count"].tolist() == pd.Series(a).value_counts()[mf.index].tolist()


def test_fairlearn_disparities_equal_fairlearns_functions():
    yt, yp, a = gapped(3000, 1)
    res = audit_predictions(yt, yp, sensitive_features=pd.Series(a, name="sex"), n_bootstrap=0)
    assert row(res, "sex", "demographic_parity_difference").value == pytest.approx(
        demographic_parity_difference(yt, yp, sensitive_features=a), rel=1e-12)
    assert row(res, "sex", "demographic_parity_ratio").value == pytest.approx(
        demographic_parity_ratio(yt, yp, sensitive_features=a), rel=1e-12)
    assert row(res, "sex", "equalized_odds_difference").value == pytest.approx(
        equalized_odds_difference(yt, yp, sensitive_features=a), rel=1e-12)
    assert set(res.disparities.source) == {"fairlearn", "aif360"}


def test_aif360_disparities_equal_aif360s_functions():
    yt, yp, a = gapped(3000, 2)
    res = audit_predictions(yt, yp, sensitive_features=pd.Series(a, name="sex"),
                            privileged_groups="m", n_bootstrap=0)
    # AIF360's own convention: the protected attribute in the index of y_true.
    idx = pd.Index(a, name="sex")
    y_true, y_pred = pd.Series(yt, index=idx), pd.Series(yp, index=idx)
    kw = {"prot_attr": "sex", "priv_group": "m"}
    expected = {
        "statistical_parity_difference": aif.statistical_parity_difference(y_true, y_pred, **kw),
        "disparate_impact_ratio": aif.disparate_impact_ratio(y_true, y_pred, **kw),
        "equal_opportunity_difference": aif.equal_opportunity_difference(y_true, y_pred, **kw),
        "average_odds_difference": aif.average_odds_difference(y_true, y_pred, **kw),
    }
    for metric, value in expected.items():
        assert row(res, "sex", metric).value == pytest.approx(value, rel=1e-12)
        assert row(res, "sex", metric).source == "aif360"


def test_string_labels_use_pos_label_and_intersections_are_reported():
    yt, yp, a = gapped(2000, 3, groups=("f", "m"), p=(0.5, 0.5))
    age = np.where(np.random.default_rng(99).random(2000) < 0.4, "young", "old")
    names = np.array(["bad", "good"])
    res = audit_predictions(names[yt], names[yp], sensitive_features={"sex": a, "age": age},
                            pos_label="good", n_bootstrap=0)
    assert res.pos_label == "good"
    assert list(res.table.feature.unique()) == ["sex", "age", "sex & age"]
    inter = res.table[res.table.feature == "sex & age"]
    assert sorted(inter.group) == ["f & old", "f & young", "m & old", "m & young"]
    key = np.char.add(np.char.add(a.astype(str), " & "), age)
    assert row(res, "sex & age", "demographic_parity_difference").value == pytest.approx(
        demographic_parity_difference(yt, yp, sensitive_features=key))
    assert res.overall["accuracy"] == pytest.approx(accuracy_score(yt, yp))


def test_multiclass_rates_are_one_vs_rest_and_accuracy_is_on_labels():
    rng = np.random.default_rng(4)
    yt = rng.integers(0, 3, 900)
    yp = np.where(rng.random(900) < 0.6, yt, rng.integers(0, 3, 900))
    a = rng.choice(["f", "m"], 900)
    res = audit_predictions(yt, yp, sensitive_features=a, pos_label=2, n_bootstrap=0)
    table = res.table.set_index("group")
    for g in ("f", "m"):
        sel = a == g
        assert table.loc[g, "selection_rate"] == pytest.approx(np.mean(yp[sel] == 2))
        assert table.loc[g, "accuracy"] == pytest.approx(accuracy_score(yt[sel], yp[sel]))
        assert table.loc[g, "balanced_accuracy"] == pytest.approx(balanced_accuracy_score(yt[sel], yp[sel]))
    msg = ("audit_predictions: argument 'pos_label' is required when there are more than two labels, "
           "but got None with 3 labels ['0', '1', '2']. Pass pos_label=<the favourable outcome>; "
           "rates are one-vs-rest.")
    with pytest.raises(ValueError, match=re.escape(msg)):
        audit_predictions(yt, yp, sensitive_features=a)


@pytest.mark.parametrize("seed", range(6))
def test_count_formulas_match_the_toolkits_on_edge_cases(seed):
    rng = np.random.default_rng(seed)
    n = 60
    a = rng.choice(["f", "m", "x"], n)
    yt = rng.integers(0, 2, n)
    yp = rng.integers(0, 2, n)
    if seed % 3 == 0:
        yt[a == "x"] = 0  # a group without positives: TPR conventions
    if seed % 3 == 1:
        yp[a == "m"] = 0  # privileged group never selected: disparate impact undefined
    if seed % 3 == 2:
        yt[a == "f"] = 1  # a group without negatives: AIF360's FPR convention
    feat = GroupFeature("g", a.astype(object))
    cells = Cells.build(feat, yt, yp)
    formula = disparities_from_counts(cells.counts[None], cells.index_of("m"))
    res = audit_predictions(yt, yp, sensitive_features=a, privileged_groups="m", n_bootstrap=0)
    for metric in DISPARITIES:
        value = row(res, "sensitive_feature", metric).value
        got = float(formula[metric][0])
        assert (np.isnan(value) and np.isnan(got)) or got == pytest.approx(value, rel=1e-12, abs=1e-15)


def test_intervals_contain_the_estimate_and_shrink_with_n():
    widths = []
    for n in (500, 20000):
        yt, yp, a = gapped(n, 5)
        res = audit_predictions(yt, yp, sensitive_features=pd.Series(a, name="sex"),
                                n_bootstrap=400, random_state=0)
        d = res.disparities
        assert (d.ci_low <= d.value + 1e-12).all() and (d.value <= d.ci_high + 1e-12).all()
        widths.append((d.ci_high - d.ci_low).to_numpy())
    assert (widths[1] < widths[0] / 3).all()  # ~sqrt(40) narrower


def test_bootstrap_is_seeded_and_matches_row_resampling():
    yt, yp, a = gapped(400, 6, groups=("f", "m"), p=(0.5, 0.5))
    one = audit_predictions(yt, yp, sensitive_features=a, n_bootstrap=300, random_state=1)
    two = audit_predictions(yt, yp, sensitive_features=a, n_bootstrap=300, random_state=1)
    pd.testing.assert_frame_equal(one.disparities, two.disparities)
    # Multinomial cell draws are the row bootstrap: same spread as resampling rows by hand.
    rng = np.random.default_rng(2)
    code = (a == "m").astype(int)
    rows = []
    for _ in range(1000):  # resample rows; the gap of the two selection rates
        i = rng.integers(0, yt.size, yt.size)
        rates = np.bincount(code[i], weights=yp[i], minlength=2) / np.bincount(code[i], minlength=2)
        rows.append(abs(rates[1] - rates[0]))
    cells = Cells.build(GroupFeature("g", a.astype(object)), yt, yp)
    draws = np.random.default_rng(3).multinomial(yt.size, cells.counts.reshape(-1) / yt.size, 2000)
    reps = disparities_from_counts(draws.reshape((2000,) + cells.counts.shape), 0)
    assert np.std(reps["demographic_parity_difference"]) == pytest.approx(np.std(rows), rel=0.15)
    assert np.mean(reps["demographic_parity_difference"]) == pytest.approx(np.mean(rows), rel=0.1)


def test_cells_compress_rows_losslessly():
    yt, yp, a = gapped(5000, 7)
    cells = Cells.build(group_features(pd.DataFrame({"sex": a}))[0], yt, yp)
    assert cells.weight.sum() == 5000 and cells.group.size <= 4 * 3
    assert cells.counts.sum() == 5000


def test_a_gap_near_zero_gets_a_note_when_its_interval_misses_it():
    rng = np.random.default_rng(8)
    a = rng.choice(["f", "m"], 300)
    yt = rng.integers(0, 2, 300)
    yp = rng.integers(0, 2, 300)
    res = audit_predictions(yt, yp, sensitive_features=a, n_bootstrap=500)
    d = res.disparities.set_index("metric")
    lo, hi, v = d.loc["demographic_parity_difference", ["ci_low", "ci_high", "value"]]
    missed = not (lo <= v <= hi)
    assert missed == any("does not contain its value" in n for n in res.notes)


def test_small_helpers():
    assert json_safe({"a": np.float64("nan"), "b": [np.int64(3), float("inf")], "c": np.bool_(True)}) == {
        "a": None, "b": [3, None], "c": True}
    assert unfairness("demographic_parity_ratio", 0.8) == pytest.approx(0.2)
    assert unfairness("disparate_impact_ratio", 1.25) == pytest.approx(0.2)
    assert unfairness("statistical_parity_difference", -0.3) == pytest.approx(0.3)
    assert np.isnan(unfairness("demographic_parity_difference", None))
    assert indicator(np.array(["1", 1, "good"], dtype=object), 1).tolist() == [0, 1, 0]
    assert indicator(np.array([0, 1, 1]), "1").tolist() == [0, 0, 0]
    assert resolve_pos_label(["bad", "good"], None, who="t") == "good"
    assert resolve_pos_label([0, 1], None, who="t") == 1
    with pytest.raises(ValueError, match=re.escape("t: argument 'pos_label' must be one of the labels, "
                                                   "but got 'yes' (labels: ['0', '1'])")):
        resolve_pos_label([0, 1], "yes", who="t")


def test_quiet_import_leaves_logging_alone():
    root = logging.getLogger()
    handlers, filters = list(root.handlers), list(root.filters)
    quiet_import("aif360.sklearn.metrics")
    assert root.handlers == handlers and root.filters == filters
