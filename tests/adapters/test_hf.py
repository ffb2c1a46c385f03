"""HFTextClassifier: inputs, refit modes, labels, scoring, sharing and bad input."""

from __future__ import annotations

import copy
import re
import warnings

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.base import clone

from fairbridge import NotFittedError
from fairbridge.adapters import HFTextClassifier, SharedModel


def direct_logits(model_dir: str, texts: list[str]) -> np.ndarray:
    """Logits from transformers directly, one text at a time (no batching, no padding)."""
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(model_dir)
    net = AutoModelForSequenceClassification.from_pretrained(model_dir).eval()
    out = []
    with torch.no_grad():
        for t in texts:
            enc = tok(t, return_tensors="pt", truncation=True, max_length=128)
            out.append(net(**enc).logits[0].numpy())
    return np.array(out, dtype=np.float64)


@pytest.fixture
def data(toy_text_data):
    df = toy_text_data
    return df["text"].tolist(), df["y"].to_numpy(), df["sex"].to_numpy()


def test_refit_none_equals_the_model_one_text_at_a_time(tiny_model_dir, data):
    X, y, _ = data
    clf = HFTextClassifier(tiny_model_dir, refit="none", progress=False).fit(X, y)
    ref = direct_logits(tiny_model_dir, X[:40])
    z = clf.decision_function(X[:40])
    np.testing.assert_allclose(z, ref[:, 1] - ref[:, 0], rtol=1e-4, atol=1e-5)
    proba = clf.predict_proba(X[:40])
    e = np.exp(ref - ref.max(1, keepdims=True))
    np.testing.assert_allclose(proba, e / e.sum(1, keepdims=True), rtol=1e-4, atol=1e-6)
    assert proba.dtype == np.float64
    np.testing.assert_array_equal(clf.predict(X[:40]), clf.classes_[ref.argmax(1)])


CONTAINERS = {
    "list": lambda t: list(t),
    "tuple": lambda t: tuple(t),
    "ndarray": lambda t: np.array(t, dtype=object),
    "ndarray_str": lambda t: np.array(t),
    "column": lambda t: np.array(t, dtype=object)[:, None],
    "series": lambda t: pd.Series(t, index=np.arange(len(t))[::-1]),
    "frame": lambda t: pd.DataFrame({"text": t}),
}


@pytest.mark.parametrize("container", sorted(CONTAINERS))
def test_every_text_container_gives_the_same_scores(tiny_model_dir, data, container):
    X, y, _ = data
    clf = HFTextClassifier(tiny_model_dir, refit="none", progress=False).fit(X, y)
    expected = clf.predict_proba(X[:30])
    np.testing.assert_allclose(clf.predict_proba(CONTAINERS[container](X[:30])), expected)


def test_wide_frame_needs_text_column(tiny_model_dir, data):
    X, y, a = data
    wide = pd.DataFrame({"id": np.arange(len(X)), "text": X, "sex": a})
    clf = HFTextClassifier(tiny_model_dir, refit="none", progress=False)
    with pytest.raises(ValueError, match=re.escape("Pass text_column='<name>' to pick the text column.")):
        clf.fit(wide, y)
    clf.set_params(text_column="text").fit(wide, y)
    np.testing.assert_allclose(clf.predict_proba(wide), clf.predict_proba(X))


def test_scores_come_back_in_the_callers_order_with_duplicates(tiny_model_dir, data):
    X, y, _ = data
    clf = HFTextClassifier(tiny_model_dir, refit="none", progress=False, batch_size=7).fit(X, y)
    base = clf.predict_proba(X[:50])
    perm = np.random.default_rng(1).permutation(50)
    shuffled = [X[i] for i in perm] + [X[3], X[3]]
    out = clf.predict_proba(shuffled)
    np.testing.assert_allclose(out[:50], base[perm])
    np.testing.assert_allclose(out[50], base[3])
    np.testing.assert_allclose(out[51], base[3])


def test_batch_size_and_cache_do_not_change_the_numbers(tiny_model_dir, data):
    X, y, _ = data
    a = HFTextClassifier(tiny_model_dir, refit="none", progress=False, batch_size=1, cache=False).fit(X, y)
    b = HFTextClassifier(tiny_model_dir, refit="none", progress=False, batch_size=64).fit(X, y)
    np.testing.assert_allclose(a.predict_proba(X[:60]), b.predict_proba(X[:60]), rtol=1e-5, atol=1e-6)


def test_forward_runs_once_per_distinct_text(tiny_model_dir, text_maker):
    X, y, _ = text_maker(120, seed=11)  # texts no other test scored
    clf = HFTextClassifier(tiny_model_dir, refit="none", progress=False).fit(X, y)
    before = clf.forward_stats["rows"]
    clf.predict_proba(X + X[:10])
    clf.predict(X)
    clf.decision_function(list(reversed(X)))
    assert clf.forward_stats["rows"] - before == len(set(X))


def test_head_refit_without_weights_reproduces_the_model_closely(tiny_model_dir, data):
    X, y, _ = data
    orig = HFTextClassifier(tiny_model_dir, refit="none", progress=False).fit(X, y)
    # A strong pull to the fine-tuned head: the refit stays on it.
    head = HFTextClassifier(tiny_model_dir, refit="head", head_alpha=10.0, progress=False).fit(X, y)
    assert np.abs(head.predict_proba(X) - orig.predict_proba(X)).max() < 0.02
    assert head.head_coef_.shape == (2, 32)
    assert head.history_[0]["loss"] > 0


def test_head_refit_honours_sample_weight(tiny_model_dir, data):
    X, y, _ = data
    plain = HFTextClassifier(tiny_model_dir, progress=False).fit(X, y)
    w = np.where(y == 1, 10.0, 0.1)
    w_before = w.copy()
    weighted = clone(plain).fit(X, y, sample_weight=w)
    np.testing.assert_array_equal(w, w_before)  # the caller's weights are untouched
    assert weighted.predict_proba(X)[:, 1].mean() > plain.predict_proba(X)[:, 1].mean() + 0.05
    # scaling every weight changes nothing (the loss is normalised by the total weight)
    scaled = clone(plain).fit(X, y, sample_weight=w * 7.0)
    np.testing.assert_allclose(scaled.predict_proba(X), weighted.predict_proba(X), atol=1e-6)
    # integer weights act like repeated rows
    reps = np.where(y == 1, 3, 1)
    rep_X = [t for t, r in zip(X, reps) for _ in range(r)]
    rep_y = np.repeat(y, reps)
    by_weight = clone(plain).fit(X, y, sample_weight=reps)
    by_repeat = clone(plain).fit(rep_X, rep_y)
    np.testing.assert_allclose(by_weight.predict_proba(X), by_repeat.predict_proba(X), atol=1e-5)


def test_full_refit_trains_a_private_copy(tiny_model_dir, data):
    X, y, _ = data
    base = HFTextClassifier(tiny_model_dir, refit="none", progress=False).fit(X, y)
    shared_before = {k: v.clone() for k, v in base.backbone_.model.state_dict().items()}
    full = HFTextClassifier(tiny_model_dir, refit="full", epochs=3, learning_rate=3e-3,
                            train_batch_size=32, progress=False).fit(X, y)
    assert full.backbone_ is not base.backbone_
    assert len(full.history_) == 3 and full.history_[2]["loss"] < full.history_[0]["loss"]
    assert full.score(X, y) > base.score(X, y)
    for k, v in base.backbone_.model.state_dict().items():  # the shared network is untouched
        torch.testing.assert_close(v, shared_before[k])


def test_clone_and_deepcopy_share_the_backbone(tiny_model_dir, data):
    X, y, _ = data
    clf = HFTextClassifier(tiny_model_dir, progress=False).fit(X, y)
    twin = clone(clf).fit(X, y)
    deep = copy.deepcopy(clf)
    assert twin.backbone_ is clf.backbone_ and deep.backbone_ is clf.backbone_
    p1 = next(clf.backbone_.model.parameters())
    assert next(deep.backbone_.model.parameters()).data_ptr() == p1.data_ptr()
    np.testing.assert_allclose(deep.predict_proba(X[:5]), clf.predict_proba(X[:5]))


def test_shared_model_is_neither_copied_nor_changed(bert_builder, tokenizer, data):
    X, y, _ = data
    net = bert_builder(tokenizer, seed=3).train()  # the user left it in training mode
    handle = SharedModel(net, tokenizer)
    clf = HFTextClassifier(handle, progress=False)
    assert clone(clf).model is handle and copy.deepcopy(clf).model is handle
    clf.fit(X, y)
    clf.predict_proba(X[:20])
    assert net.training  # flags restored
    assert clf.backbone_.model is net
    z1 = clf.predict_proba(X[:20])
    z2 = HFTextClassifier.from_model(net, tokenizer, refit="none", progress=False).fit(X, y).predict_proba(X[:20])
    assert z1.shape == z2.shape


def test_a_model_object_as_parameter_is_refused_with_the_fix(bert_builder, tokenizer, data):
    X, y, _ = data
    clf = HFTextClassifier(bert_builder(tokenizer), progress=False)
    with pytest.raises(TypeError, match=re.escape("pass SharedModel(model, tokenizer)")):
        clf.fit(X, y)


def test_labels_by_name_and_sorted_values(tiny_multiclass_dir, tiny_model_dir, data):
    X, y, _ = data
    names = np.array(["negative", "neutral", "positive"])[np.arange(len(X)) % 3]
    clf = HFTextClassifier(tiny_multiclass_dir, progress=False).fit(X, names)
    assert list(clf.classes_) == ["negative", "neutral", "positive"]
    assert clf.predict_proba(X[:4]).shape == (4, 3)
    assert set(clf.predict(X)) <= set(clf.classes_)
    assert clf.decision_function(X[:4]).shape == (4, 3)
    good_bad = np.where(y == 1, "good", "bad")
    clf2 = HFTextClassifier(tiny_model_dir, progress=False).fit(X, good_bad)
    assert list(clf2.classes_) == ["bad", "good"]
    assert (clf2.predict(X) == np.where(clf2.predict_proba(X)[:, 1] > 0.5, "good", "bad")).all()


def test_labels_that_do_not_fit_the_model(tiny_model_dir, data):
    X, y, _ = data
    three = np.arange(len(X)) % 3 + 5
    with pytest.raises(ValueError, match=re.escape("must match the model's 2 outputs")):
        HFTextClassifier(tiny_model_dir, progress=False).fit(X, three)
    with pytest.raises(ValueError, match=re.escape("Unknown label type: 'continuous'")):
        HFTextClassifier(tiny_model_dir, progress=False).fit(X, np.linspace(0, 1, len(X)))


def test_truncation_warns_once_with_the_count(tiny_model_dir, data):
    X, y, _ = data
    long_text = " ".join(["credit"] * 200)
    clf = HFTextClassifier(tiny_model_dir, refit="none", max_length=16, progress=False).fit(X[:5], y[:5])
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        clf.predict_proba([long_text, "short", long_text + " x"])
    msgs = [str(w.message) for w in rec if issubclass(w.category, UserWarning)]
    assert len([m for m in msgs if "truncated" in m]) == 1
    assert "2 of 3 texts are longer than max_length=16 tokens" in msgs[0]


def test_max_length_above_the_model_limit(tiny_model_dir, data):
    X, y, _ = data
    with pytest.raises(ValueError, match=re.escape("must be at most the model's limit of 128 tokens")):
        HFTextClassifier(tiny_model_dir, max_length=4096, progress=False).fit(X, y)


@pytest.mark.parametrize(
    ("X", "y", "kind", "message"),
    [
        (["a", "b"], [0, 1, 1], ValueError, "X has 2, y has 3"),
        ([], [], ValueError, "must hold at least one text"),
        (["a", 3, None], [0, 1, 0], TypeError, "2 non-string value(s) (row 1: 3 (type int), row 2: None (type NoneType))"),
        (["a", "b"], [0, np.nan], ValueError, "1 missing label(s), first at rows [1]"),
        ("just one text", [0], TypeError, "Wrap it in a list"),
        (pd.DataFrame({"a": ["x"], "b": ["y"]}), [0], ValueError, "must have exactly one column of text"),
    ],
)
def test_bad_input_is_named(tiny_model_dir, X, y, kind, message):
    with pytest.raises(kind, match=re.escape(message)):
        HFTextClassifier(tiny_model_dir, progress=False).fit(X, y)


def test_bad_sample_weight(tiny_model_dir, data):
    X, y, _ = data
    clf = HFTextClassifier(tiny_model_dir, progress=False)
    with pytest.raises(ValueError, match=re.escape("X has 400, sample_weight has 3")):
        clf.fit(X, y, sample_weight=[1, 2, 3])
    with pytest.raises(ValueError, match=re.escape("must be finite and non-negative")):
        clf.fit(X, y, sample_weight=-np.ones(len(X)))


def test_bad_parameters_are_reported_together(tiny_model_dir, data):
    X, y, _ = data
    clf = HFTextClassifier(tiny_model_dir, refit="partial", batch_size=0, precision="fp8",
                           epochs=0, progress="yes")
    with pytest.raises(ValueError) as err:
        clf.fit(X, y)
    text = str(err.value)
    assert text.startswith("HFTextClassifier.fit: 5 problems:")
    for piece in ("argument 'refit' must be one of 'full', 'head', 'none'", "argument 'batch_size'",
                  "argument 'precision'", "argument 'epochs'", "argument 'progress'"):
        assert piece in text


def test_predict_before_fit(tiny_model_dir):
    clf = HFTextClassifier(tiny_model_dir)
    with pytest.raises(NotFittedError, match=re.escape(
            "HFTextClassifier.predict_proba: this HFTextClassifier is not fitted yet")):
        clf.predict_proba(["text"])


def test_not_a_sequence_classifier(minilm_path, data):
    X, y, _ = data
    with pytest.raises(ValueError, match=re.escape("has no trained classification head")):
        HFTextClassifier(minilm_path, progress=False).fit(X[:4], y[:4])


def test_missing_checkpoint(tmp_path, data):
    X, y, _ = data
    with pytest.raises(ValueError, match=re.escape("must be a sequence-classification checkpoint")):
        HFTextClassifier(str(tmp_path / "nowhere"), progress=False).fit(X[:4], y[:4])


def test_user_inputs_are_not_modified(tiny_model_dir, data):
    X, y, _ = data
    frame = pd.DataFrame({"text": X})
    frame_before = frame.copy()
    y_before = y.copy()
    HFTextClassifier(tiny_model_dir, progress=False).fit(frame, y).predict(frame)
    pd.testing.assert_frame_equal(frame, frame_before)
    np.testing.assert_array_equal(y, y_before)


def test_save_and_load_round_trip(tiny_model_dir, data, tmp_path):
    X, y, _ = data
    clf = HFTextClassifier(tiny_model_dir, progress=False).fit(X, y, sample_weight=np.where(y == 1, 3.0, 1.0))
    expected = clf.predict_proba(X[:25])
    out = clf.save(tmp_path / "saved")
    assert (out / "head.safetensors").is_file() and (out / "backbone" / "model.safetensors").is_file()
    again = HFTextClassifier.load(out, progress=False)
    np.testing.assert_allclose(again.predict_proba(X[:25]), expected, rtol=1e-5, atol=1e-6)
    ref = clf.save(tmp_path / "ref", include_backbone=False)
    assert not (ref / "backbone").exists()
    np.testing.assert_allclose(HFTextClassifier.load(ref).predict_proba(X[:25]), expected, rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match=re.escape("must be a folder written by HFTextClassifier.save()")):
        HFTextClassifier.load(tmp_path / "empty")


def test_texts_beyond_one_tokenizer_slice_keep_their_order(tiny_model_dir, text_maker):
    from fairbridge.adapters._backbone import _TOKENIZE_CHUNK

    X, y, _ = text_maker(_TOKENIZE_CHUNK + 300, seed=21)
    X = [f"{i} {t}" for i, t in enumerate(X)]  # all distinct
    clf = HFTextClassifier(tiny_model_dir, refit="none", progress=False, cache=False).fit(X[:4], y[:4])
    before = clf.forward_stats
    whole = clf.predict_proba(X)  # two slices: the second is tokenised while the first runs
    after = clf.forward_stats
    assert after["rows"] - before["rows"] == len(X) and after["calls"] - before["calls"] == 1
    parts = np.vstack([clf.predict_proba(X[:1000]), clf.predict_proba(X[1000:])])
    np.testing.assert_allclose(whole, parts, rtol=1e-5, atol=1e-6)
