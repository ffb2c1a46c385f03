"""The parts of fairbridge.distributed that need no Ray cluster: the optional import, the
batch scorer each actor runs, the head refit on features, post-processing on scores."""

from __future__ import annotations

import re
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone

from fairbridge import MissingDependencyError, NotFittedError
from fairbridge.distributed import (
    HeadClassifier,
    ScorePostprocessor,
    fit_from_outputs,
    score_columns,
    score_frame,
)


@pytest.fixture(scope="module")
def model(tiny_multiclass_dir, toy_text_data):
    from fairbridge.adapters import HFTextClassifier

    texts = toy_text_data["text"].tolist()[:120]
    y = np.array(["negative", "neutral", "positive"])[np.arange(120) % 3]
    return HFTextClassifier(tiny_multiclass_dir, progress=False).fit(texts, y)


def test_import_fairbridge_does_not_import_ray():
    code = ("import sys, fairbridge, fairbridge.distributed, fairbridge.adapters; "
            "print(sorted(m for m in sys.modules if m == 'ray' or m.startswith('ray.')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_without_ray_the_error_names_the_extra(monkeypatch):
    from fairbridge.distributed import score

    for name in [m for m in sys.modules if m == "ray" or m.startswith("ray.")] + ["ray", "ray.data"]:
        monkeypatch.setitem(sys.modules, name, None)
    with pytest.raises(MissingDependencyError, match=re.escape(
            "Install it with: pip install 'fairbridge[ray]'")):
        score(None, None)


def test_score_frame_scores_good_rows_and_flags_bad_ones(model, toy_text_data):
    texts = toy_text_data["text"].tolist()[:30]
    frame = pd.DataFrame({"text": pd.Series(texts, dtype=object), "k": np.arange(30)})
    frame.loc[3, "text"] = 42
    frame.loc[7, "text"] = ""
    before = frame.copy()
    out = score_frame(model, frame, text_column="text", return_features=True)
    pd.testing.assert_frame_equal(frame, before)  # the batch is not modified
    cols = score_columns(model.classes_, return_features=True)
    assert cols.logits == ("logit_negative", "logit_neutral", "logit_positive")
    assert cols.score is None  # no single score for three classes
    assert list(out.columns) == ["text", "k", *cols.added]
    ok = np.array([i not in (3, 7) for i in range(30)])
    good = [t for t, keep in zip(texts, ok) if keep]
    np.testing.assert_allclose(out.loc[ok, list(cols.probabilities)].to_numpy(dtype=float),
                               model.predict_proba(good), rtol=1e-6, atol=1e-7)
    assert out.loc[ok, "prediction"].tolist() == model.predict(good).tolist()
    assert out["error"].tolist()[3] == "text is not a string (got int)"
    assert out["error"].tolist()[7] == "text is empty"
    assert pd.isna(out.loc[3, "prediction"]) and np.isnan(out.loc[7, "proba_neutral"])
    assert np.isnan(np.stack(out["features"].to_numpy())[[3, 7]]).all()


def test_head_refit_on_features_equals_the_adapter_fit_with_string_labels(model, toy_text_data):
    texts = toy_text_data["text"].tolist()[:120]
    y = np.array(["negative", "neutral", "positive"])[(np.arange(120) * 7) % 3]
    w = np.linspace(0.1, 2.0, 120)
    ref = clone(model).fit(texts, y, sample_weight=w)
    ours = fit_from_outputs(model, model.embed(texts), y, sample_weight=w)
    assert ours.classes_.tolist() == ref.classes_.tolist() == ["negative", "neutral", "positive"]
    np.testing.assert_allclose(ours.head_coef_, ref.head_coef_, rtol=1e-4, atol=1e-5)
    np.testing.assert_array_equal(ours.predict(texts), ref.predict(texts))
    head = HeadClassifier.from_adapter(model).fit(model.embed(texts), y, w)
    np.testing.assert_allclose(head.predict_proba(model.embed(texts)), ref.predict_proba(texts),
                               rtol=1e-4, atol=1e-6)


def test_head_classifier_refuses_bad_input(model):
    head = HeadClassifier.from_adapter(model)
    with pytest.raises(NotFittedError, match=re.escape("HeadClassifier.predict: this HeadClassifier "
                                                       "is not fitted yet")):
        head.predict(np.zeros((2, 32)))
    with pytest.raises(ValueError, match=re.escape(
            "HeadClassifier.fit: argument 'X' must hold the network's 32 penultimate features per "
            "row, but got 5 columns.")):
        head.fit(np.zeros((3, 5)), [0, 1, 2])
    full = clone(model).set_params(refit="full")
    full.backbone_, full.classes_ = model.backbone_, model.classes_
    with pytest.raises(ValueError, match=re.escape("must use refit='head' or refit='none'")):
        HeadClassifier.from_adapter(full)


def test_score_postprocessor_is_fairlearns_threshold_optimizer_on_scores():
    from fairlearn.postprocessing import ThresholdOptimizer
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(0)
    X = rng.normal(size=(600, 3))
    a = np.where(rng.random(600) < 0.5, "f", "m")
    y = (X[:, 0] + (a == "m") * 0.8 + rng.normal(scale=0.5, size=600) > 0.4).astype(int)
    lr = LogisticRegression().fit(X, y)
    ref = ThresholdOptimizer(estimator=lr, prefit=True, predict_method="predict_proba",
                             constraints="demographic_parity").fit(X, y, sensitive_features=a)
    s = lr.predict_proba(X)[:, 1]
    pp = ScorePostprocessor("fairlearn.threshold_optimizer").fit(s, y, sensitive_features=a)
    np.testing.assert_array_equal(pp.predict(s, sensitive_features=a),
                                  ref.predict(X, sensitive_features=a, random_state=0))
    with pytest.raises(ValueError, match=re.escape(
            "ScorePostprocessor.fit: argument 'method' must be one of aif360.calibrated_equalized_odds, "
            "aif360.reject_option, fairlearn.threshold_optimizer, but got 'nope' (type str).")):
        ScorePostprocessor("nope").fit(s, y, sensitive_features=a)


def test_score_postprocessor_maps_string_labels_and_a_chosen_pos_label():
    rng = np.random.default_rng(1)
    s = rng.random(400)
    a = np.where(rng.random(400) < 0.5, "f", "m")
    y = np.where(s + (a == "m") * 0.2 > 0.6, "approve", "deny")
    pp = ScorePostprocessor("aif360.reject_option", classes=["approve", "deny"],
                            pos_label="approve", privileged_group="m",
                            options={"margin": 0.1}).fit(1 - s, y, sensitive_features=a)
    pred = pp.predict(1 - s, sensitive_features=a)
    assert set(pred.tolist()) <= {"approve", "deny"}
    # outside the critical band around 0.5 the prediction is the plain threshold on P(approve)
    far = np.abs(s - 0.5) > 0.1
    np.testing.assert_array_equal(pred[far], np.where(s[far] > 0.5, "approve", "deny"))
    band = ~far
    assert (pred[band & (a == "f")] == np.where(s[band & (a == "f")] > 0.4, "approve", "deny")).all()
