"""The adapters inside Fairlearn's and AIF360's own algorithms, unchanged."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone

from fairbridge.adapters import HFTextClassifier


@pytest.fixture(scope="module")
def split(text_maker):
    X, y, a = text_maker(240, seed=5)
    return X, y, a


def _dp_difference(y_pred, a) -> float:
    rates = pd.Series(y_pred).groupby(np.asarray(a)).mean()
    return float(rates.max() - rates.min())


def test_exponentiated_gradient_50_iterations_shares_one_backbone(trained_model_dir, split):
    from fairlearn.reductions import DemographicParity, ExponentiatedGradient

    X, y, a = split
    clf = HFTextClassifier(trained_model_dir, progress=False)
    # Clones inside the reduction start from scratch: count from the backbone they all share.
    eg = ExponentiatedGradient(clf, DemographicParity(difference_bound=0.01), max_iter=50, nu=1e-6)
    eg.fit(pd.DataFrame({"text": X}), y, sensitive_features=a)
    predictors = list(eg.predictors_)
    assert eg.n_oracle_calls_ >= 10  # the reduction really iterated, cloning and refitting
    backbones = {id(p.backbone_) for p in predictors}
    assert len(backbones) == 1
    params = [next(p.backbone_.model.parameters()).data_ptr() for p in predictors]
    assert len(set(params)) == 1  # the same tensors: same storage
    stats = predictors[0].backbone_.stats
    # The network ran once per distinct text, however many refits and predictions were made.
    assert stats.rows == len(set(X))
    assert stats.cache_hits >= len(X) * eg.n_oracle_calls_
    # Heads differ between iterations: the reweighting really reached fit().
    coefs = np.stack([p.head_coef_ for p in predictors])
    assert np.ptp(coefs, axis=0).max() > 1e-4
    pred = eg.predict(pd.DataFrame({"text": X}), random_state=0)
    assert set(np.unique(pred)) <= {0, 1}


@pytest.mark.parametrize("constraint", ["demographic_parity", "equalized_odds"])
def test_grid_search_deep_copies_share_the_backbone(trained_model_dir, split, constraint):
    from fairlearn.reductions import DemographicParity, EqualizedOdds, GridSearch

    X, y, a = split
    cons = DemographicParity() if constraint == "demographic_parity" else EqualizedOdds()
    gs = GridSearch(HFTextClassifier(trained_model_dir, progress=False), cons, grid_size=5)
    X2d = np.array(X, dtype=object)[:, None]  # an (n, 1) object array passes Fairlearn's check
    gs.fit(X2d, y, sensitive_features=a)
    assert len(gs.predictors_) == 5
    assert len({id(p.backbone_) for p in gs.predictors_}) == 1
    assert gs.predictors_[0].backbone_.stats.rows <= len(set(X)) + 0  # no text scored twice
    assert gs.predict(X2d).shape == (len(X),)


def test_threshold_optimizer_prefit_uses_the_model_as_given(trained_model_dir, split):
    from fairlearn.postprocessing import ThresholdOptimizer

    X, y, a = split
    clf = HFTextClassifier(trained_model_dir, refit="none", progress=False).fit(X, y)
    rows_before = clf.forward_stats["rows"]
    to = ThresholdOptimizer(estimator=clf, constraints="demographic_parity", prefit=True,
                            predict_method="predict_proba")
    frame = pd.DataFrame({"text": X})
    to.fit(frame, y, sensitive_features=a)
    assert to.estimator_ is clf
    mitigated = to.predict(frame, sensitive_features=a, random_state=0)
    assert _dp_difference(mitigated, a) <= _dp_difference(clf.predict(X), a) + 0.05
    assert clf.forward_stats["rows"] - rows_before <= len(set(X))


def test_aif360_reweighing_meta_refits_with_weights(trained_model_dir, split):
    from aif360.sklearn.preprocessing import Reweighing, ReweighingMeta

    X, y, a = split
    index = pd.MultiIndex.from_arrays([np.arange(len(X)), a], names=["id", "sex"])
    Xdf = pd.DataFrame({"text": X}, index=index)  # AIF360 reads 'sex' from the index
    ys = pd.Series(y, index=index)
    base = HFTextClassifier(trained_model_dir, progress=False, head_alpha=1e-4)
    meta = ReweighingMeta(estimator=base, reweigher=Reweighing("sex")).fit(Xdf, ys)
    factors = meta.reweigher_.reweigh_factors_
    assert np.ptp(factors) > 0.05  # the groups really got different weights
    plain = clone(base).fit(Xdf, ys)
    assert meta.estimator_.backbone_ is plain.backbone_
    diff = np.abs(meta.predict_proba(Xdf) - plain.predict_proba(Xdf)).max()
    assert diff > 1e-4  # the reweighed refit moved the model


def test_aif360_postprocessors_on_the_adapter_scores(trained_model_dir, split):
    from aif360.sklearn.postprocessing import CalibratedEqualizedOdds, RejectOptionClassifier

    X, y, a = split
    index = pd.MultiIndex.from_arrays([np.arange(len(X)), a], names=["id", "sex"])
    clf = HFTextClassifier(trained_model_dir, refit="none", progress=False).fit(X, y)
    scores = pd.DataFrame(clf.predict_proba(pd.DataFrame({"text": X}, index=index)), index=index)
    ys = pd.Series(y, index=index)
    ceo = CalibratedEqualizedOdds("sex", random_state=0).fit(scores, ys, labels=clf.classes_)
    assert ceo.predict_proba(scores).shape == (len(X), 2)
    roc = RejectOptionClassifier("sex", threshold=0.5, margin=0.1).fit(scores, ys, labels=clf.classes_,
                                                                        priv_group="male")
    assert set(np.unique(roc.predict(scores))) <= {0, 1}


@pytest.mark.parametrize("post", ["calibrated_equalized_odds", "reject_option"])
def test_aif360_postprocessing_meta_with_the_tags_shim(trained_model_dir, split, post):
    from aif360.sklearn.postprocessing import (
        CalibratedEqualizedOdds,
        PostProcessingMeta,
        RejectOptionClassifier,
    )

    from fairbridge._aif360_compat import legacy_tags

    X, y, a = split
    index = pd.MultiIndex.from_arrays([np.arange(len(X)), (a == "male").astype(int)], names=["id", "sex"])
    Xdf, ys = pd.DataFrame({"text": X}, index=index), pd.Series(y, index=index)
    clf = HFTextClassifier(trained_model_dir, refit="none", progress=False).fit(X, y)
    pp = (CalibratedEqualizedOdds("sex", random_state=0) if post == "calibrated_equalized_odds"
          else RejectOptionClassifier("sex", threshold=0.5, margin=0.2))
    meta = PostProcessingMeta(clf, legacy_tags(pp), prefit=True).fit(Xdf, ys)
    assert meta.estimator_ is clf
    out = meta.predict(Xdf)
    assert out.shape == (len(X),) and set(np.unique(out)) <= {0, 1}
    assert meta.predict_proba(Xdf).shape == (len(X), 2)
    # without prefit the meta-estimator clones and refits the adapter on its own split
    refit = PostProcessingMeta(HFTextClassifier(trained_model_dir, progress=False), legacy_tags(pp),
                               random_state=0).fit(Xdf, ys)
    assert refit.estimator_.backbone_ is clf.backbone_
