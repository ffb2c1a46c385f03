"""FairnessMonitor: metrics, alerts that people can trust, estimation without labels, errors."""

from __future__ import annotations

import json
import os
import re
import sys
import types

import numpy as np
import pandas as pd
import pytest

from fairbridge import MissingDependencyError
from fairbridge.monitor import Alert, FairnessMonitor, MonitorResult

from .conftest import simulate


def _monitor(reference, tmp_path, **kw) -> FairnessMonitor:
    kw.setdefault("store", tmp_path / "monitor.sqlite")
    return FairnessMonitor(reference, score_column="score", sensitive_column="sex",
                           label_column="y", **kw)


def _row(table: pd.DataFrame, metric: str, group: str = "*") -> pd.Series:
    hit = table[(table["metric"] == metric) & (table["group"] == group)]
    assert len(hit) == 1, (metric, group)
    return hit.iloc[0]


# -- alerts people can trust ----------------------------------------------------------------
@pytest.mark.slow
@pytest.mark.parametrize("min_effect", [0.05, 0.0])
def test_windows_from_the_reference_distribution_rarely_alert_and_a_drop_does(
        reference_frame, tmp_path, min_effect):
    # min_effect=0 shows that the statistics alone (bootstrap SE of window and reference,
    # Holm over ~30 tests) keep the false-alarm rate down, not only the effect-size floor.
    mon = _monitor(reference_frame, tmp_path, min_effect=min_effect, n_bootstrap=200)
    n_windows = 20
    alerting = [bool(mon.check(simulate(1500, 1000 + k), window=f"null-{k:02d}").alerts)
                for k in range(n_windows)]
    assert sum(alerting) <= n_windows // 10, alerting

    res = mon.check(simulate(1500, 5000, drop=0.15), window="drop")
    assert res.alerts
    by_metric = {(a.metric, a.groups): a for a in res.alerts}
    mean = by_metric[("mean_score", ("b",))]
    assert mean.kind == "group" and not mean.estimated
    # the drop is recovered: its interval holds the true change (-0.15 less what clipping at 0
    # takes away, from a large sample of group b's score distribution)
    big = np.random.default_rng(1).beta(3, 4, 200_000)
    true_change = float(np.mean(np.clip(big - 0.15, 0, 1) - big))
    assert mean.difference_interval[0] < true_change < mean.difference_interval[1]
    window = simulate(1500, 5000, drop=0.15)
    assert mean.current == pytest.approx(window.loc[window["sex"] == "b", "score"].mean())
    assert mean.interval[0] <= mean.current <= mean.interval[1]
    assert mean.n["b"] == int((window["sex"] == "b").sum())
    assert mean.n_reference["b"] == int((reference_frame["sex"] == "b").sum())
    assert "mean_score group 'b'" in mean.message and "adjusted p=" in mean.message
    assert ("score_drift_ks", ("b",)) in by_metric
    dp = [a for a in res.alerts if a.metric == "demographic_parity_difference"]
    assert dp and "b" in dp[0].groups
    # no group other than b is blamed for a per-group change
    assert all(a.groups == ("b",) for a in res.alerts if a.kind == "group")


@pytest.mark.slow
def test_without_labels_tpr_fpr_are_estimated_with_cbpe_and_a_drop_alerts(reference_frame, tmp_path):
    mon = _monitor(reference_frame, tmp_path, n_bootstrap=200)
    n_windows = 20
    alerting = [bool(mon.check(simulate(1500, 2000 + k, labels=False), window=f"u-{k:02d}").alerts)
                for k in range(n_windows)]
    assert sum(alerting) <= n_windows // 10, alerting

    res = mon.check(simulate(1500, 6000, labels=False, drop=0.15), window="drop")
    assert res.labels == "estimated"
    assert any("estimated with NannyML's CBPE" in n for n in res.notes)
    est = {(a.metric, a.groups): a for a in res.alerts if a.estimated}
    assert ("tpr", ("b",)) in est and "[estimated without labels]" in est[("tpr", ("b",))].message
    eo = [a for a in res.alerts if a.metric == "equalized_odds_difference"]
    assert eo and eo[0].estimated  # an equalized-odds regression shows before the labels arrive
    perf = res.table[res.table["metric"].isin(["tpr", "fpr", "accuracy"])]
    assert perf["estimated"].all()
    base = res.table[res.table["metric"].isin(["selection_rate", "mean_score"])]
    assert not base["estimated"].any()


@pytest.mark.filterwarnings("ignore::UserWarning:nannyml")
@pytest.mark.filterwarnings("ignore::DeprecationWarning:nannyml")
def test_estimates_are_nannymls_cbpe_per_group(reference_frame, tmp_path):
    mon = _monitor(reference_frame, tmp_path, n_bootstrap=60)
    window = simulate(1200, 7, labels=False)
    res = mon.check(window, window="w")
    assert set(mon.cbpe_) == {"a", "b", "c"}
    for group in ("a", "b", "c"):
        part = window[window["sex"] == group]
        frame = pd.DataFrame({"score": part["score"].to_numpy(),
                              "pred": (part["score"].to_numpy() > 0.5).astype(int)})
        nml = mon.cbpe_[group].estimate(frame).filter(period="analysis").data
        for ours, theirs in (("tpr", "recall"), ("fpr", "specificity"), ("accuracy", "accuracy")):
            value = float(nml[(theirs, "value")].iloc[-1])
            expected = 1 - value if ours == "fpr" else value
            assert _row(res.table, ours, group)["value"] == pytest.approx(expected, abs=1e-9)


def test_point_values_agree_with_fairlearn(reference_frame, tmp_path):
    from fairlearn.metrics import (
        MetricFrame,
        demographic_parity_difference,
        demographic_parity_ratio,
        equal_opportunity_difference,
        equalized_odds_difference,
        false_positive_rate,
        selection_rate,
        true_positive_rate,
    )
    from sklearn.metrics import accuracy_score

    mon = _monitor(reference_frame, tmp_path, n_bootstrap=60, threshold=0.45)
    window = simulate(2000, 3)
    res = mon.check(window, window="w")
    y, a = window["y"].to_numpy(), window["sex"].to_numpy()
    pred = (window["score"].to_numpy() > 0.45).astype(int)
    mf = MetricFrame(metrics={"selection_rate": selection_rate, "tpr": true_positive_rate,
                              "fpr": false_positive_rate, "accuracy": accuracy_score},
                     y_true=y, y_pred=pred, sensitive_features=a)
    for group, row in mf.by_group.iterrows():
        for metric in ("selection_rate", "tpr", "fpr", "accuracy"):
            assert _row(res.table, metric, group)["value"] == pytest.approx(row[metric], abs=1e-12)
        mean = window.loc[window["sex"] == group, "score"].mean()
        assert _row(res.table, "mean_score", group)["value"] == pytest.approx(mean, abs=1e-12)
    kw = {"sensitive_features": a}
    for name, fn in (("demographic_parity_difference", demographic_parity_difference),
                     ("demographic_parity_ratio", demographic_parity_ratio),
                     ("equalized_odds_difference", equalized_odds_difference),
                     ("equal_opportunity_difference", equal_opportunity_difference)):
        assert _row(res.table, name)["value"] == pytest.approx(fn(y, pred, **kw), abs=1e-12)
    # the reference column is the reference's own value
    ref_a = reference_frame[reference_frame["sex"] == "a"]
    assert _row(res.table, "selection_rate", "a")["reference"] == pytest.approx(
        (ref_a["score"] > 0.45).mean(), abs=1e-12)
    assert mon.reference_.loc["a", "selection_rate"] == pytest.approx((ref_a["score"] > 0.45).mean())
    # intervals bracket the values
    tested = res.table[res.table["tested"] & (res.table["kind"] != "drift")]
    assert ((tested["low"] <= tested["value"] + 1e-12) & (tested["value"] <= tested["high"] + 1e-12)).all()


def test_small_groups_get_a_note_and_new_groups_are_reported(reference_frame, tmp_path):
    mon = _monitor(reference_frame, tmp_path, n_bootstrap=60)
    base = simulate(1500, 11)
    small = base[base["sex"] != "c"].copy()
    extra_c = base[base["sex"] == "c"].head(12)
    new = simulate(50, 12).assign(sex="d")
    window = pd.concat([small, extra_c, new], ignore_index=True)
    res = mon.check(window, window="w")
    assert any("group 'c': not enough data (12 rows in the window" in n for n in res.notes)
    assert any(n.startswith("new group 'd' (50 rows)") for n in res.notes)
    t = res.table
    assert not t[t["group"].isin(["c", "d"])]["tested"].any()
    assert set(t.loc[t["group"] == "c", "note"]) == {"not enough data"}
    assert _row(t, "count", "d")["value"] == 50 and pd.isna(_row(t, "count", "d")["reference"])
    assert _row(t, "selection_rate", "d")["value"] == pytest.approx(
        (new["score"] > 0.5).mean())
    # disparities use only the groups with enough data (a and b)
    dp = _row(t, "demographic_parity_difference")
    assert dp["n"] == int(base["sex"].isin(["a", "b"]).sum())
    assert set(json.loads(dp["groups"])) == {"a", "b"}
    assert not any(set(a.groups) & {"c", "d"} for a in res.alerts if a.kind != "drift")
    # c's share fell from 10% to under 1%: that is a real drift of the group mix
    mix = [a for a in res.alerts if a.metric == "group_mix"]
    assert mix and mix[0].groups == ("a", "b", "c") and mix[0].current >= 0.05


def test_checking_a_window_again_is_deterministic(reference_frame, tmp_path):
    mon = _monitor(reference_frame, tmp_path, n_bootstrap=60)
    window = simulate(800, 21)
    first = mon.check(window, window="2026-11-01").table
    second = mon.check(window, window="2026-11-01").table
    cols = ["value", "low", "high", "p_value", "p_adjusted"]
    pd.testing.assert_frame_equal(first[cols], second[cols])
    assert (mon.history()["window"] == "2026-11-01").sum() == len(second)


def test_result_object(reference_frame, tmp_path):
    mon = _monitor(reference_frame, tmp_path, n_bootstrap=60)
    res = mon.check(simulate(900, 31, drop=0.3), window="2026-W47")
    assert isinstance(res, MonitorResult) and res.has_alerts
    assert all(isinstance(a, Alert) for a in res.alerts)
    d = res.to_dict()
    assert d["window"] == "2026-W47" and len(d["alerts"]) == len(res.alerts)
    assert len(d["table"]) == len(res.table)
    assert {"window", "kind", "metric", "group", "value", "low", "high", "reference", "p_adjusted",
            "alert", "estimated", "note"} <= set(res.table.columns)


def test_model_scores_raw_texts(tmp_path):
    from sklearn.feature_extraction.text import CountVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    rng = np.random.default_rng(0)
    words = np.array(["good", "bad", "loan", "pay", "late", "steady"])
    texts = [" ".join(rng.choice(words, 5)) for _ in range(400)]
    y = np.array([t.count("good") + t.count("steady") > t.count("bad") + t.count("late") for t in texts],
                 dtype=int)
    sex = rng.choice(["f", "m"], 400)
    clf = make_pipeline(CountVectorizer(), LogisticRegression()).fit(texts, y)
    frame = pd.DataFrame({"text": texts, "y": y, "sex": sex})
    scored = frame.assign(score=clf.predict_proba(frame["text"])[:, 1])
    mon = FairnessMonitor(scored.iloc[:200], sensitive_column="sex", label_column="y",
                          store=None, n_bootstrap=60)
    by_model = mon.check(frame.iloc[200:], window="w-model", model=clf, text_column="text")
    by_scores = mon.check(scored.iloc[200:], window="w-scores")
    pd.testing.assert_series_equal(by_model.table["value"], by_scores.table["value"])
    assert list(frame.columns) == ["text", "y", "sex"]  # the caller's frame is untouched


def test_inputs_are_not_modified(reference_frame, tmp_path):
    before = reference_frame.copy()
    window = simulate(500, 41)
    window_before = window.copy()
    _monitor(reference_frame, tmp_path, n_bootstrap=60).check(window, window="w")
    pd.testing.assert_frame_equal(reference_frame, before)
    pd.testing.assert_frame_equal(window, window_before)


def test_reads_windows_from_files(reference_frame, tmp_path):
    ref_path = tmp_path / "ref.csv"
    reference_frame.to_csv(ref_path, index=False)
    win_path = tmp_path / "week.parquet"
    simulate(500, 51).to_parquet(win_path)
    mon = FairnessMonitor(ref_path, sensitive_column="sex", label_column="y", store=None,
                          n_bootstrap=60)
    assert mon.check(win_path, window="w").n_rows == 500


# -- Ray ------------------------------------------------------------------------------------
class _FakeRayDataset:
    pass


_FakeRayDataset.__module__ = "ray.data.dataset"
_FakeRayDataset.__name__ = "Dataset"


def test_a_ray_dataset_without_ray_names_the_extra(reference_frame, monkeypatch):
    mon = FairnessMonitor(reference_frame, sensitive_column="sex", label_column="y", store=None,
                          n_bootstrap=60)
    monkeypatch.setitem(sys.modules, "ray", None)
    monkeypatch.setitem(sys.modules, "ray.data", None)
    with pytest.raises(MissingDependencyError, match=re.escape("pip install 'fairbridge[ray]'")):
        mon.check(_FakeRayDataset(), window="w")


def test_ray_dataset_is_reduced_to_the_needed_columns(reference_frame, monkeypatch):
    calls = {}

    class Schema:
        names = ["text", "score", "sex", "y"]

    class Dataset:
        def __init__(self, frame):
            self.frame = frame

        def schema(self):
            return Schema()

        def select_columns(self, cols):
            calls["columns"] = list(cols)
            return Dataset(self.frame[cols])

        def to_pandas(self):
            return self.frame

    Dataset.__module__ = "ray.data.dataset"
    fake = types.ModuleType("ray.data")
    fake.Dataset = Dataset
    monkeypatch.setitem(sys.modules, "ray", types.ModuleType("ray"))
    monkeypatch.setitem(sys.modules, "ray.data", fake)
    window = simulate(600, 61).assign(text="a long raw text")
    mon = FairnessMonitor(reference_frame, sensitive_column="sex", label_column="y", store=None,
                          n_bootstrap=60)
    res = mon.check(Dataset(window), window="w")
    assert "text" not in calls["columns"] and set(calls["columns"]) == {"score", "sex", "y"}
    direct = mon.check(window, window="w2")
    pd.testing.assert_series_equal(res.table["value"], direct.table["value"])


# -- bad input ------------------------------------------------------------------------------
def test_missing_columns_are_named(reference_frame):
    with pytest.raises(ValueError, match=re.escape(
            "FairnessMonitor: argument 'reference' must have the column(s) 'prob' (score_column), "
            "'gender' (sensitive_column)")):
        FairnessMonitor(reference_frame, score_column="prob", sensitive_column="gender", store=None)
    mon = FairnessMonitor(reference_frame, sensitive_column="sex", label_column="y", store=None,
                          n_bootstrap=60)
    with pytest.raises(ValueError, match=re.escape(
            "FairnessMonitor.check: argument 'data' must have the column(s) 'y' (label_column)")):
        mon.check(simulate(100, 1, labels=False), window="w", labeled=True)
    with pytest.raises(ValueError, match=re.escape("must have the column(s) 'sex' (sensitive_column)")):
        mon.check(simulate(100, 1).drop(columns="sex"), window="w")


@pytest.mark.parametrize("bad", [1.2, -0.1, np.nan])
def test_scores_outside_unit_interval_or_nan(reference_frame, bad):
    mon = FairnessMonitor(reference_frame, sensitive_column="sex", store=None, n_bootstrap=60)
    window = simulate(100, 1)
    window.loc[7, "score"] = bad
    with pytest.raises(ValueError, match=re.escape(
            "FairnessMonitor.check: column 'score' of 'data' must hold probabilities in [0, 1] "
            "without NaN, but got 1 value(s) outside [0, 1] or NaN, first at rows [7]")):
        mon.check(window, window="w")


def test_empty_window_and_missing_window_key(reference_frame):
    mon = FairnessMonitor(reference_frame, sensitive_column="sex", store=None, n_bootstrap=60)
    with pytest.raises(ValueError, match=re.escape(
            "FairnessMonitor.check: argument 'data' must have at least one row, but got an empty table")):
        mon.check(reference_frame.iloc[:0], window="w")
    with pytest.raises(ValueError, match=re.escape(
            "FairnessMonitor.check: argument 'window' is required: a non-empty key such as "
            "'2026-11-01' or '2026-W47'")):
        mon.check(simulate(100, 1))


def test_reference_with_one_group(reference_frame):
    with pytest.raises(ValueError, match=re.escape(
            "FairnessMonitor: column 'sex' of 'reference' must have at least 2 groups, but got "
            "1 group ('a')")):
        FairnessMonitor(reference_frame[reference_frame["sex"] == "a"], sensitive_column="sex",
                        store=None)


def test_other_bad_inputs(reference_frame):
    with pytest.raises(ValueError, match=re.escape(
            "FairnessMonitor: argument 'sensitive_column' must name a column, but got None")):
        FairnessMonitor(reference_frame, store=None)
    with pytest.raises(ValueError, match=re.escape(
            "FairnessMonitor: argument 'correction' must be one of 'bh', 'holm'")):
        FairnessMonitor(reference_frame, sensitive_column="sex", correction="bonferroni", store=None)
    bad = reference_frame.assign(y=reference_frame["y"].map({0: "no", 1: "yes"}))
    with pytest.raises(ValueError, match=re.escape(
            "column 'y' of 'reference' must hold binary labels 0/1")):
        FairnessMonitor(bad, sensitive_column="sex", label_column="y", store=None)
    mon = FairnessMonitor(reference_frame, sensitive_column="sex", label_column="y", store=None,
                          n_bootstrap=60)
    window = simulate(100, 1).astype({"y": float})
    window.loc[3, "y"] = np.nan
    with pytest.raises(ValueError, match=re.escape("pass labeled=False to estimate")):
        mon.check(window, window="w")
    window = simulate(100, 1).astype({"sex": object})
    window.loc[4, "sex"] = None
    with pytest.raises(ValueError, match=re.escape(
            "column 'sex' of 'data' must not contain missing groups, but got 1 missing, first at rows [4]")):
        mon.check(window, window="w")
    with pytest.raises(FileNotFoundError, match=re.escape("argument 'data' must be an existing file")):
        mon.check("no/such/window.csv", window="w")


def test_jensen_shannon_drift_and_benjamini_hochberg(reference_frame, tmp_path):
    from scipy.spatial.distance import jensenshannon

    mon = _monitor(reference_frame, tmp_path, drift_test="jensenshannon", correction="bh",
                   n_bootstrap=100)
    calm = mon.check(simulate(1500, 71), window="calm")
    assert not calm.alerts
    res = mon.check(simulate(1500, 72, drop=0.15), window="drop")
    js = {a.groups: a for a in res.alerts if a.metric == "score_drift_js"}
    assert ("b",) in js
    # the statistic is scipy's Jensen-Shannon distance of the 16-bin histograms
    window = simulate(1500, 72, drop=0.15)
    bins = np.linspace(0, 1, 17)
    ref_b = np.histogram(reference_frame.loc[reference_frame["sex"] == "b", "score"], bins)[0]
    win_b = np.histogram(window.loc[window["sex"] == "b", "score"], bins)[0]
    assert js[("b",)].current == pytest.approx(
        jensenshannon(ref_b / ref_b.sum(), win_b / win_b.sum(), base=2), abs=1e-9)


def test_multiple_testing_corrections_match_statsmodels():
    from statsmodels.stats.multitest import multipletests

    from fairbridge.monitor._stats import adjust

    rng = np.random.default_rng(0)
    for _ in range(5):
        p = rng.uniform(size=25) ** 3
        assert np.allclose(adjust(p, "holm"), multipletests(p, method="holm")[1])
        assert np.allclose(adjust(p, "bh"), multipletests(p, method="fdr_bh")[1])


def test_poisson_bootstrap_on_the_table_matches_the_row_level_bootstrap():
    from fairbridge.monitor._stats import group_metrics, tabulate

    # the identity behind the speed: summing Poisson(1) row weights over a cell is Poisson(count)
    rng = np.random.default_rng(0)
    n = 4000
    group = rng.integers(0, 2, n)
    score = rng.beta(2, 3, n)
    label = rng.binomial(1, score).astype(np.int8)
    pred = (score > 0.5).astype(np.int8)
    _, reps = tabulate(group, pred, label, score, None, n_groups=2, n_bootstrap=2000,
                       rng=np.random.default_rng(1))
    fast = group_metrics(reps, "labeled")
    w = np.random.default_rng(2).poisson(1.0, size=(2000, n))  # the textbook row-level version
    for g in (0, 1):
        m = group == g
        sel = (w[:, m] * pred[m]).sum(1) / w[:, m].sum(1)
        mean = (w[:, m] * score[m]).sum(1) / w[:, m].sum(1)
        pos = m & (label == 1)
        tpr = (w[:, pos] * pred[pos]).sum(1) / w[:, pos].sum(1)
        for ours, theirs in ((fast["selection_rate"][:, g], sel), (fast["mean_score"][:, g], mean),
                             (fast["tpr"][:, g], tpr)):
            assert ours.mean() == pytest.approx(theirs.mean(), abs=0.003)
            assert ours.std() == pytest.approx(theirs.std(), rel=0.1)


@pytest.mark.skipif(os.environ.get("FAIRBRIDGE_TEST_RAY") != "1",
                    reason="starts a local Ray cluster (~20 s); set FAIRBRIDGE_TEST_RAY=1")
def test_real_ray_dataset(reference_frame):
    ray = pytest.importorskip("ray")
    ray.init(num_cpus=1, include_dashboard=False, log_to_driver=False, ignore_reinit_error=True)
    try:
        window = simulate(1000, 81).assign(text="raw text that stays on the workers")
        mon = FairnessMonitor(reference_frame, sensitive_column="sex", label_column="y", store=None,
                              n_bootstrap=60)
        res = mon.check(ray.data.from_pandas(window), window="ray")
        pd.testing.assert_series_equal(res.table["value"], mon.check(window, window="pd").table["value"])
    finally:
        ray.shutdown()


def test_missing_nannyml_names_the_monitor_extra(reference_frame, monkeypatch):
    mon = FairnessMonitor(reference_frame, sensitive_column="sex", label_column="y", store=None,
                          n_bootstrap=60)
    monkeypatch.setitem(sys.modules, "nannyml", None)
    with pytest.raises(MissingDependencyError, match=re.escape(
            "fairbridge.monitor.FairnessMonitor (estimating TPR/FPR/accuracy without labels) needs "
            "the package 'nannyml'")):
        mon.check(simulate(300, 1, labels=False), window="w")
    assert mon.check(simulate(300, 1), window="w").labels == "labeled"  # labeled windows still work
