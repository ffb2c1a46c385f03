"""Explaining text models: attributions point the right way, batching changes nothing, calls
are counted, perturbations are de-duplicated and cached."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from fairbridge.adapters import HFTextClassifier, SharedModel
from fairbridge.explainers import explain

from .conftest import KeywordNet, keyword_proba

TEXTS = [
    "the loan was great and the bank will pay",
    "late payment on the car credit",
    "great income, great house and a steady job",
]


def unbatched(clf: HFTextClassifier, log: list | None = None):
    """The library's own call path: the network on one text at a time, no engine, no padding
    (distinct texts are remembered, which changes no number)."""
    net, tok = clf.backbone_.model, clf.backbone_.tokenizer
    seen: dict[str, np.ndarray] = {}

    def one(t: str) -> np.ndarray:
        if t not in seen:
            enc = tok(t, return_tensors="pt", truncation=True, max_length=512)
            with torch.inference_mode():
                logits = net(input_ids=enc["input_ids"], attention_mask=enc["attention_mask"])
            logits = getattr(logits, "logits", logits)
            seen[t] = torch.softmax(logits.double(), dim=-1)[0].numpy()
        return seen[t]

    def f(texts):
        texts = [str(t) for t in texts]
        if log is not None:
            log.append(texts)
        return np.vstack([one(t) for t in texts])

    return f


def _lime_direct(clf, texts, num_samples, targets, log=None):
    from lime.lime_text import IndexedString, LimeTextExplainer

    lime = LimeTextExplainer(class_names=[str(c) for c in clf.classes_], random_state=0)
    f = unbatched(clf, log)
    out = []
    for text, target in zip(texts, targets):
        n_words = IndexedString(text).num_words()
        exp = lime.explain_instance(text, f, labels=(target,), num_features=n_words,
                                    num_samples=num_samples)
        words = exp.domain_mapper.indexed_string
        out.append({words.word(i): w for i, w in exp.as_map()[target]})
    return out


# -- LIME ----------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def lime_great(great_clf):
    return explain(great_clf, TEXTS, method="lime", num_samples=200, random_state=0, progress=False)


def test_lime_points_at_the_driving_token(lime_great):
    for i, text in enumerate(TEXTS):
        local = lime_great.local(i)
        top = local.loc[local["value"].abs().idxmax()]
        if "great" in text:
            assert top["feature"] == "great"
            # towards the predicted class (1, since "great" is present): positive
            assert top["value"] > 0.3
        else:
            assert local["value"].abs().max() < 0.05  # nothing in this text matters
    assert lime_great.global_importance.iloc[0]["feature"] == "great"


def test_lime_batching_and_cache_change_nothing(great_clf, lime_great):
    targets = great_clf.predict_proba(TEXTS).argmax(axis=1)
    direct = _lime_direct(great_clf, TEXTS, 200, targets)
    for i, expected in enumerate(direct):
        got = dict(zip(lime_great.local(i)["feature"], lime_great.local(i)["value"]))
        assert got.keys() == expected.keys()
        for word, value in expected.items():
            assert got[word] == pytest.approx(value, abs=1e-10)


def test_batching_with_padding_changes_nothing_on_a_transformer(tokenizer, bert_builder):
    # a (tiny, random) BERT sees padded batches of different lengths through the engine; the
    # library's own path runs it on one unpadded text at a time
    clf = HFTextClassifier.from_model(bert_builder(tokenizer, seed=1), tokenizer, refit="none",
                                      progress=False).fit(["a", "b"], [0, 1])
    texts = ["good loan but late pay", "the bank house"]
    ex = explain(clf, texts, method="lime", num_samples=100, progress=False)
    direct = _lime_direct(clf, texts, 100, clf.predict_proba(texts).argmax(axis=1))
    for i, expected in enumerate(direct):
        got = dict(zip(ex.local(i)["feature"], ex.local(i)["value"]))
        assert got.keys() == expected.keys()
        scale = max(abs(v) for v in expected.values())
        assert max(abs(got[w] - v) for w, v in expected.items()) < 1e-3 * scale


def test_lime_call_counts(lime_great):
    n = len(TEXTS)
    # one call scores the rows, then LIME sends all num_samples strings of a row in one call
    assert lime_great.n_model_calls == 1 + n
    assert lime_great.n_rows_scored == n + n * 200
    assert lime_great.settings["num_samples"] == 200


def test_lime_positions_are_character_offsets(lime_great):
    for i, text in enumerate(TEXTS):
        for feature, pos in zip(lime_great.local(i)["feature"], lime_great.local(i)["position"]):
            assert text[pos:pos + len(feature)] == feature


def test_perturbations_are_deduplicated_and_cached(tokenizer):
    # a fresh backbone (fresh cache): the network runs once per distinct perturbed string
    tid = tokenizer.convert_tokens_to_ids("great")
    net = KeywordNet([tid], [[0.0], [3.0]], [0.0, -1.5])
    clf = HFTextClassifier(SharedModel(net, tokenizer), refit="none", progress=False).fit(["a", "b"], [0, 1])
    texts = ["great loan", "late pay now"]
    log: list = []
    targets = clf.predict_proba(texts).argmax(axis=1)
    _lime_direct(clf, texts, 300, targets, log=log)
    distinct = {t for call in log for t in call} | set(texts)
    before = clf.forward_stats
    ex = explain(clf, texts, method="lime", num_samples=300, progress=False)
    assert ex.n_rows_scored == 2 + 2 * 300
    # the predict_proba in _lime_direct cached the two texts themselves
    assert ex.engine_stats["network_rows"] == len(distinct - set(texts))
    assert ex.engine_stats["network_rows"] < ex.n_rows_scored / 10
    assert clf.forward_stats["rows"] - before["rows"] == ex.engine_stats["network_rows"]
    again = explain(clf, texts, method="lime", num_samples=300, progress=False)
    assert again.engine_stats["network_rows"] == 0
    assert again.engine_stats["cache_hits"] == again.n_rows_scored
    pd.testing.assert_frame_equal(again.attributions, ex.attributions)


def test_lime_multiclass(sentiment3_clf):
    texts = ["good loan and good pay", "bad credit, bad month", "a house"]
    ex = explain(sentiment3_clf, texts, method="lime", num_samples=200, progress=False)
    assert ex.predictions["predicted_class"].tolist() == ["positive", "negative", "neutral"]
    assert ex.local(0).set_index("feature")["value"].idxmax() == "good"
    assert ex.local(1).set_index("feature")["value"].idxmax() == "bad"
    assert ex.local(0)["class"].unique().tolist() == ["positive"]
    # towards a fixed class: "bad" pushes away from "positive"
    fixed = explain(sentiment3_clf, texts[1:2], method="lime", target="positive", num_samples=200,
                    progress=False)
    assert fixed.local(0).set_index("feature")["value"]["bad"] < 0


def test_input_containers_give_the_same_attributions(great_clf, lime_great):
    for X in (pd.Series(TEXTS), np.array(TEXTS, dtype=object), pd.DataFrame({"text": TEXTS})):
        ex = explain(great_clf, X, method="lime", num_samples=200, progress=False)
        pd.testing.assert_frame_equal(ex.attributions, lime_great.attributions)


def test_progress_false_is_silent(great_clf, capsys):
    explain(great_clf, TEXTS[:1], method="lime", num_samples=50, progress=False)
    assert capsys.readouterr().err == ""


# -- SHAP ----------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def shap_great(great_clf):
    return explain(great_clf, TEXTS, method="shap", num_samples=120, random_state=0, progress=False)


def test_shap_gives_the_token_its_exact_share(shap_great):
    # only "great" matters, so its Owen value is p(text) - p(text with "great" masked),
    # shared among its occurrences, and every other token gets 0
    for i, text in enumerate(TEXTS):
        local = shap_great.local(i)
        k = text.count("great")
        great = local[local["feature"] == "great"]["value"].sum()
        p1 = keyword_proba(k)
        sign = 1.0 if p1 >= 0.5 else -1.0  # towards the predicted class
        assert great == pytest.approx(sign * (p1 - keyword_proba(0)), abs=1e-9)
        assert local[local["feature"] != "great"]["value"].abs().max() == pytest.approx(0, abs=1e-12)


def test_shap_matches_the_library_call_path(great_clf, shap_great):
    import shap

    calls: list = []
    np.random.seed(0)
    explainer = shap.Explainer(unbatched(great_clf, calls), shap.maskers.Text(great_clf.backbone_.tokenizer),
                               output_names=["0", "1"])
    targets = great_clf.predict_proba(TEXTS).argmax(axis=1)
    for i, text in enumerate(TEXTS):
        sv = explainer([text], max_evals=120, batch_size=64, silent=True)
        tokens = [str(t).strip() for t in sv.data[0]]
        expected = [v for t, v in zip(tokens, sv.values[0][:, targets[i]]) if t]
        np.testing.assert_allclose(shap_great.local(i)["value"].to_numpy(), expected, atol=1e-10)
        assert shap_great.local(i)["feature"].tolist() == [t for t in tokens if t]
    # the same calls as the library's own path, plus the one that scored the rows
    assert shap_great.n_model_calls == len(calls) + 1
    assert shap_great.n_rows_scored == sum(len(c) for c in calls) + len(TEXTS)
    assert shap_great.settings["batch_size"] == 64


def test_shap_multiclass(sentiment3_clf):
    ex = explain(sentiment3_clf, ["good loan", "bad loan"], method="shap", num_samples=60, progress=False)
    assert ex.local(0).set_index("feature")["value"].idxmax() == "good"
    assert ex.local(1).set_index("feature")["value"].idxmax() == "bad"
    assert ex.classes == ["negative", "neutral", "positive"]


# -- EBM surrogate on a bag-of-words view ----------------------------------------------------------
def test_ebm_surrogate_on_text_is_faithful_and_finds_the_token(great_clf, text_maker):
    texts, _, _ = text_maker(60, seed=3)
    texts = [t + (" great" if i % 2 else "") for i, t in enumerate(texts)]
    ex = explain(great_clf, texts, method="ebm_surrogate", progress=False,
                 ebm_params={"outer_bags": 2})
    assert ex.global_importance.iloc[0]["feature"] == "great"
    assert ex.n_model_calls == 1 and ex.n_rows_scored == 60  # it learns from one scoring call
    fid = ex.fidelity
    assert fid["measured_on"] == "holdout" and fid["n_holdout"] == 15 and fid["n_fit"] == 45
    assert fid["agreement"] >= 0.9
    assert any(n.startswith("Fidelity: the EBM surrogate predicts the model's class on") for n in ex.notes)
    odd = ex.local(1)  # has "great"; attributions list only words present in the row
    assert set(odd["feature"]) <= set(texts[1].split())
    assert odd.set_index("feature")["value"]["great"] > 0
