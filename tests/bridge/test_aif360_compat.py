"""The scikit-learn tags shim for AIF360, and what AIF360 does to X on its way to the model."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
import pytest
from sklearn.base import BaseEstimator, clone
from sklearn.linear_model import LogisticRegression

from fairbridge._aif360_compat import (
    _DropAif360ExtrasNotices,
    indexed_frame,
    legacy_tags,
    needs_legacy_tags,
    quiet_import,
)

post = quiet_import("aif360.sklearn.postprocessing")
pre = quiet_import("aif360.sklearn.preprocessing")


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    n = 300
    prot = rng.integers(0, 2, n)
    X = rng.normal(size=(n, 3))
    X[:, 0] += prot
    y = (X[:, 0] + rng.normal(size=n) > 0.5).astype(int)
    index = pd.Index(prot, name="sex")
    return pd.DataFrame(X, index=index), pd.Series(y, index=index), X, y


class Recorder(BaseEstimator):
    """A fitted classifier that records what it is given."""

    def __init__(self, inner=None):
        self.inner = inner

    def fit(self, X, y, sample_weight=None):
        self.fit_X_, self.fit_weight_ = X, sample_weight
        self.inner_ = LogisticRegression().fit(np.asarray(X, dtype=float) if not _is_text(X) else
                                               np.zeros((len(X), 1)), y, sample_weight=sample_weight)
        self.classes_ = self.inner_.classes_
        return self

    def predict_proba(self, X):
        self.seen_ = X
        return self.inner_.predict_proba(np.asarray(X, dtype=float) if not _is_text(X) else
                                         np.zeros((len(X), 1)))

    def predict(self, X):
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]


def _is_text(X):
    return isinstance(X, pd.DataFrame) and not pd.api.types.is_numeric_dtype(X.iloc[:, 0])


def test_postprocessing_meta_needs_the_shim_on_this_scikit_learn(data):
    Xi, yi, X, y = data
    ceo = post.CalibratedEqualizedOdds(prot_attr="sex", random_state=0)
    assert needs_legacy_tags(ceo) == (not hasattr(BaseEstimator, "_get_tags"))
    model = Recorder().fit(X, y)
    if needs_legacy_tags(ceo):
        with pytest.raises(AttributeError, match="_get_tags"):
            post.PostProcessingMeta(model, ceo, prefit=True).fit(Xi, yi)
    meta = post.PostProcessingMeta(model, legacy_tags(ceo), prefit=True).fit(Xi, yi)
    proba = meta.predict_proba(Xi)
    assert proba.shape == (300, 2) and np.allclose(proba.sum(axis=1), 1)
    assert model.seen_ is Xi  # X reaches the estimator unchanged, index and all


def test_the_shim_keeps_parameters_and_survives_clone():
    ceo = post.CalibratedEqualizedOdds(prot_attr="sex", cost_constraint="fpr", random_state=3)
    shimmed = legacy_tags(ceo)
    assert shimmed.get_params() == ceo.get_params()
    assert isinstance(shimmed, post.CalibratedEqualizedOdds)
    assert shimmed._get_tags()["requires_proba"] is True
    again = clone(shimmed)
    assert type(again) is type(shimmed) and again._get_tags()["requires_proba"] is True
    assert type(legacy_tags(post.RejectOptionClassifier())) is type(legacy_tags(post.RejectOptionClassifier()))
    assert ceo.get_params() == {"prot_attr": "sex", "cost_constraint": "fpr", "random_state": 3}


def test_the_shim_is_a_no_op_where_get_tags_exists():
    class Old(BaseEstimator):
        def _get_tags(self):
            return {"requires_proba": True}

    old = Old()
    assert legacy_tags(old) is old


def test_reject_option_search_through_the_shim(data):
    Xi, yi, X, y = data
    roc = legacy_tags(post.RejectOptionClassifierCV(prot_attr="sex", scoring="statistical_parity", step=0.2))
    meta = post.PostProcessingMeta(Recorder().fit(X, y), roc, prefit=True).fit(Xi, yi)
    best = meta.postprocessor_.best_estimator_
    assert 0 < best.threshold < 1 and set(meta.predict(Xi)) <= {0, 1}


def test_a_one_column_text_frame_passes_aif360(data):
    _, _, _, y = data
    texts = [f"text {i}" for i in range(300)]
    groups = np.where(np.arange(300) % 3 == 0, "female", "male")
    Xi = indexed_frame(texts, groups, "sex")
    assert list(Xi.columns) == ["text"] and Xi.index.name == "sex"
    assert Xi["text"].tolist() == texts
    yi = pd.Series(y, index=Xi.index)
    # Reweighing reads the groups from the index and returns X itself, unchanged.
    X_out, w = pre.Reweighing(prot_attr="sex").fit_transform(Xi, yi)
    assert X_out is Xi and w.shape == (300,)
    # ... but a 1-D container of texts is refused (AIF360 checks X.ndim == 2).
    with pytest.raises(ValueError, match="Expected X to be 2D"):
        pre.Reweighing(prot_attr="sex").fit_transform(pd.Series(texts, index=Xi.index), yi)
    model = Recorder().fit(Xi, y)
    meta = post.PostProcessingMeta(model, legacy_tags(post.CalibratedEqualizedOdds("sex")), prefit=True)
    meta.fit(indexed_frame(texts, (groups == "male").astype(int), "sex"), yi.set_axis(
        pd.Index((groups == "male").astype(int), name="sex")))
    assert isinstance(model.seen_, pd.DataFrame) and model.seen_.shape == (300, 1)


def test_indexed_frame_never_touches_the_input():
    frame = pd.DataFrame({"text": ["a", "b"]})
    out = indexed_frame(frame, np.array([1, 0]), "g")
    assert frame.index.tolist() == [0, 1] and out.index.tolist() == [1, 0]
    arr = np.arange(6.0).reshape(3, 2)
    assert indexed_frame(arr, np.array(["x", "y", "x"]), "g").shape == (3, 2)
    with pytest.raises(ValueError, match="AIF360 needs 2-D inputs"):
        indexed_frame(np.zeros((2, 2, 2)), np.array([0, 1]), "g")


def test_aif360s_import_notices_are_filtered():
    keep = _DropAif360ExtrasNotices()

    def record(msg):
        return logging.LogRecord("root", logging.WARNING, __file__, 1, msg, None, None)

    assert not keep.filter(record("No module named 'ot': ot_distance will be unavailable. To install, "
                                  "run:\npip install 'aif360[OptimalTransport]'"))
    assert keep.filter(record("something else entirely"))
