"""Downstream of the scores on Ray: audits from counts, post-processing on scores, head refits
on features; each compared with the same computation done locally on the texts."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone

from fairbridge._audit import audit as local_audit
from fairbridge._audit import audit_predictions
from fairbridge.distributed import (
    HeadClassifier,
    audit,
    cell_counts,
    collect,
    fit_from_outputs,
    fit_postprocessor,
    predict_on_ray,
    stack_features,
)


@pytest.fixture(scope="module")
def local(frame, valid, clf):
    """The valid rows on the driver, with the model's own local outputs."""
    texts = frame["text"].iloc[valid].tolist()
    return {"texts": texts, "y": frame["y"].iloc[valid].to_numpy(dtype=int),
            "sex": frame["sex"].iloc[valid].to_numpy(dtype=object),
            "age": frame["age"].iloc[valid].to_numpy(dtype=object),
            "proba": clf.predict_proba(texts), "pred": clf.predict(texts)}


def _same_audit(got, ref) -> None:
    pd.testing.assert_frame_equal(got.table, ref.table)
    pd.testing.assert_frame_equal(got.disparities, ref.disparities, rtol=1e-12)
    assert got.overall == ref.overall
    assert got.privileged_groups == ref.privileged_groups
    assert got.n_samples == ref.n_samples


def test_audit_on_ray_equals_the_local_audit_of_the_model(scored, clf, local):
    got = audit(None, scored, label_column="y", sensitive_column=["sex", "age"],
                drop_invalid=True, n_bootstrap=300)
    ref = local_audit(clf, pd.DataFrame({"text": local["texts"]}), local["y"],
                      sensitive_features=pd.DataFrame({"sex": local["sex"], "age": local["age"]}),
                      n_bootstrap=300)
    _same_audit(got, ref)  # intervals included: the same cells give the same bootstrap draws
    assert any("4 of 2000 rows could not be audited" in n and "row_id 5 (text is empty)" in n
               for n in got.notes)


def test_audit_of_thresholded_scores_equals_the_local_one(scored, local):
    got = audit(None, scored, label_column="y", sensitive_column="sex", score_column="score",
                threshold=0.4, drop_invalid=True, n_bootstrap=100)
    ref = audit_predictions(local["y"], y_score=local["proba"][:, 1], threshold=0.4,
                            sensitive_features=pd.Series(local["sex"], name="sex"), n_bootstrap=100)
    _same_audit(got, ref)


def test_audit_refuses_invalid_rows_naming_their_ids(scored):
    msg = ("fairbridge.distributed.audit: argument 'scores' must hold only rows that can be "
           "audited, but got 4 invalid row(s) of 2000, e.g. row_id 5 (text is empty), 17 (text "
           "is missing), 33 (text is empty), 48 (label is missing). Fix or filter them")
    with pytest.raises(ValueError, match=re.escape(msg)):
        audit(None, scored, label_column="y", sensitive_column="sex", n_bootstrap=0)


def test_cells_are_the_crosstab_of_the_scored_rows(scored, scored_frame):
    counts = cell_counts(scored, label_column="y", sensitive_column="sex")
    ok = scored_frame["error"].isna()
    ref = (scored_frame[ok].groupby(["sex", "y", "prediction"]).size()
           .rename("count").reset_index())
    got = counts.cells.rename(columns={"y_true": "y", "y_pred": "prediction"})
    merged = ref.astype({"y": int, "prediction": int}).merge(
        got.astype({"y": int, "prediction": int}), on=["sex", "y", "prediction"], how="outer")
    np.testing.assert_array_equal(merged["count_x"].to_numpy(), merged["count_y"].to_numpy())
    assert counts.n_rows == 2000 and counts.n_invalid == 4


def test_collect_brings_only_the_named_columns_in_id_order(scored, local):
    got = collect(scored, ["score", "y"])
    assert list(got.columns) == ["row_id", "score", "y"]
    np.testing.assert_allclose(got["score"].to_numpy(dtype=float), local["proba"][:, 1],
                               rtol=1e-5, atol=1e-6)


def test_threshold_optimizer_on_scores_equals_it_on_the_model(scored, clf, local):
    from fairlearn.postprocessing import ThresholdOptimizer

    pp = fit_postprocessor("fairlearn.threshold_optimizer", scored, label_column="y",
                           sensitive_column="sex", estimator=clf, constraints="equalized_odds")
    X = pd.DataFrame({"text": local["texts"]})
    ref = ThresholdOptimizer(estimator=clf, prefit=True, predict_method="predict_proba",
                             constraints="equalized_odds").fit(X, local["y"],
                                                               sensitive_features=local["sex"])
    ours = pp.predict(pd.DataFrame({"score": local["proba"][:, 1]}), sensitive_features=local["sex"])
    theirs = ref.predict(X, sensitive_features=local["sex"], random_state=0)
    np.testing.assert_array_equal(ours, theirs)


def test_reject_option_on_ray_equals_aif360_on_the_model_scores(scored, clf, local):
    from aif360.sklearn.postprocessing import RejectOptionClassifier

    pp = fit_postprocessor("aif360.reject_option", scored, label_column="y",
                           sensitive_column="sex", estimator=clf, privileged_group="male",
                           margin=0.2)
    out = predict_on_ray(pp, scored, inputs="score", sensitive_column="sex").to_pandas()
    out = out.sort_values("row_id")
    got = out.loc[out["error"].isna(), "mitigated_prediction"].to_numpy(dtype=int)
    index = pd.Index((local["sex"] == "male").astype(int), name="privileged")
    probas = pd.DataFrame(local["proba"], index=index)
    roc = RejectOptionClassifier(prot_attr=None, margin=0.2).fit(
        probas, pd.Series(local["y"], index=index), labels=[0, 1], pos_label=1, priv_group=1)
    np.testing.assert_array_equal(got, roc.predict(probas))
    assert not np.array_equal(got, local["pred"])  # it did change some predictions


def test_calibrated_equalized_odds_fits_the_same_mixing_rates(scored, clf, local):
    from aif360.sklearn.postprocessing import CalibratedEqualizedOdds

    pp = fit_postprocessor("aif360.calibrated_equalized_odds", scored, label_column="y",
                           sensitive_column="sex", estimator=clf, privileged_group="male")
    index = pd.Index((local["sex"] == "male").astype(int), name="privileged")
    ref = CalibratedEqualizedOdds(prot_attr=None, random_state=0).fit(
        pd.DataFrame(local["proba"], index=index), pd.Series(local["y"], index=index),
        labels=[0, 1], pos_label=1)
    np.testing.assert_allclose(pp.model_.mix_rates_, ref.mix_rates_, rtol=1e-4)
    np.testing.assert_allclose(pp.model_.base_rates_, ref.base_rates_, rtol=1e-12)


def test_a_head_refit_on_returned_features_equals_the_adapter_refit(scored, clf, local):
    got = collect(scored, ["features", "y"])
    F = stack_features(got["features"])
    w = np.random.default_rng(1).uniform(0.2, 3.0, len(F))
    ours = fit_from_outputs(clf, F, local["y"], sample_weight=w)
    ref = clone(clf).fit(local["texts"], local["y"], sample_weight=w)
    np.testing.assert_allclose(ours.head_coef_, ref.head_coef_, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(ours.predict_proba(local["texts"][:100]),
                               ref.predict_proba(local["texts"][:100]), rtol=1e-4, atol=1e-6)
    assert ours.backbone_ is clf.backbone_  # the network is shared, not copied


def test_exponentiated_gradient_on_features_equals_it_on_texts(scored, clf, local):
    from fairlearn.reductions import ExponentiatedGradient, TruePositiveRateParity

    n = 400  # a few refits on a slice: what is compared is the estimator, not the scale
    F = stack_features(collect(scored, ["features"])["features"])[:n]
    X = pd.DataFrame({"text": local["texts"][:n]})
    y, sex = local["y"][:n], local["sex"][:n]
    kw = dict(constraints=TruePositiveRateParity(), max_iter=3, eps=0.01)
    ours = ExponentiatedGradient(HeadClassifier.from_adapter(clf, head_max_iter=20), **kw).fit(
        F, y, sensitive_features=sex)
    ref = ExponentiatedGradient(clone(clf).set_params(head_max_iter=20), **kw).fit(
        X, y, sensitive_features=sex)
    np.testing.assert_allclose(ours.weights_.to_numpy(), ref.weights_.to_numpy(), atol=1e-4)
    np.testing.assert_allclose(ours._pmf_predict(F), ref._pmf_predict(X), atol=1e-4)


def test_a_grid_search_predictor_applied_on_ray_equals_it_locally(scored, clf, local):
    from fairlearn.reductions import DemographicParity, GridSearch

    F = stack_features(collect(scored, ["features"])["features"])
    gs = GridSearch(HeadClassifier.from_adapter(clf), DemographicParity(), grid_size=5).fit(
        F, local["y"], sensitive_features=local["sex"])
    out = predict_on_ray(gs, scored, inputs="features", output_column="gs").to_pandas()
    out = out.sort_values("row_id")
    valid = out["error"].isna().to_numpy()
    np.testing.assert_array_equal(out.loc[valid, "gs"].to_numpy(dtype=int), gs.predict(F))
    assert out.loc[~valid & out["score"].isna(), "gs"].isna().all()  # unscored rows stay null


def test_audit_scores_raw_rows_first_when_given_the_model(ray_session, clf, frame, local):
    sub = frame.iloc[60:260]
    ds = ray_session.data.from_pandas(sub)
    got = audit(clf, ds, label_column="y", sensitive_column="sex", concurrency=1, n_bootstrap=50)
    ref = local_audit(clf, sub[["text"]], sub["y"].to_numpy(dtype=int),
                      sensitive_features=sub["sex"], n_bootstrap=50)
    _same_audit(got, ref)


def test_compare_on_ray_gives_the_table_of_the_local_comparison(clf, frame, valid):
    from fairbridge._compare import compare as local_compare
    from fairbridge.distributed import compare

    tr, te = valid[:400], valid[400:700]
    methods = ["baseline", "fairlearn.threshold_optimizer", "aif360.reweighing",
               ("fairlearn.exponentiated_gradient", {"max_iter": 5}), "aif360.reject_option"]
    kw = dict(methods=methods, n_bootstrap=50, progress=False)
    got = compare(clf, frame.iloc[tr], frame.iloc[te], label_column="y", sensitive_column="sex",
                  concurrency=1, **kw)
    ref = local_compare(clf, frame["text"].iloc[tr].tolist(), frame["y"].iloc[tr].to_numpy(dtype=int),
                        frame["text"].iloc[te].tolist(), frame["y"].iloc[te].to_numpy(dtype=int),
                        sensitive_features_train=frame["sex"].iloc[tr].rename("sex"),
                        sensitive_features_test=frame["sex"].iloc[te].rename("sex"), **kw)
    keep = [c for c in ref.table.columns
            if not c.endswith("_seconds") and not c.startswith("n_forward")]
    assert (got.table["status"] == "ok").all(), got.table["reason"].tolist()
    pd.testing.assert_frame_equal(got.table[keep], ref.table[keep], rtol=1e-6, atol=1e-9)
    assert got.config["engine"] == "ray"
    assert (got.table["n_forward_rows"] == 0).all()  # the network ran on the cluster only


def test_the_public_entry_points_take_ray_datasets(ray_session, clf, frame, valid, scored, local):
    import fairbridge as fb

    # fb.audit on a Dataset of scores counts on the cluster (same numbers as the local audit)
    got = fb.audit(scored.filter(lambda r: r["error"] is None), label_column="y",
                   sensitive_column="sex", n_bootstrap=60)
    ref = local_audit(clf, pd.DataFrame({"text": local["texts"]}), local["y"],
                      sensitive_features=pd.Series(local["sex"], name="sex"), n_bootstrap=60)
    _same_audit(got, ref)
    with pytest.raises(ValueError, match=re.escape("must be None with a Ray Dataset")):
        fb.audit(clf, scored, local["y"], label_column="y", sensitive_column="sex")
    # fb.compare(engine="ray") on in-memory arrays runs the network on the cluster
    tr, te = valid[:200], valid[200:320]
    arrays = (frame["text"].iloc[tr].tolist(), frame["y"].iloc[tr].to_numpy(dtype=int),
              frame["text"].iloc[te].tolist(), frame["y"].iloc[te].to_numpy(dtype=int))
    kw = dict(sensitive_features_train=frame["sex"].iloc[tr].rename("sex"),
              sensitive_features_test=frame["sex"].iloc[te].rename("sex"),
              methods=["baseline", "fairlearn.threshold_optimizer"], n_bootstrap=30, progress=False)
    on_ray = fb.compare(clf, *arrays, engine="ray", ray_options={"concurrency": 1}, **kw)
    here = fb.compare(clf, *arrays, **kw)
    assert on_ray.config["engine"] == "ray"
    np.testing.assert_allclose(on_ray.table["accuracy"], here.table["accuracy"])
