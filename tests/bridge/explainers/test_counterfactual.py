"""The counterfactual identity test: 0 for a model that ignores identity terms, the derived
change for one that uses them."""

from __future__ import annotations

import json

import numpy as np
import pytest

from fairbridge.explainers import counterfactual_test, identity_swaps, swap_terms

from .conftest import keyword_classifier, keyword_proba

TEXTS = [
    "He pays on time and the loan was great",
    "she has a great income",
    "A 40-year-old woman, owns her home.",
    "the bank approved the car loan",
    "HE and she both pay",
]


def test_swaps_are_whole_word_both_ways_and_keep_case():
    assert swap_terms("He said she owns her home; HE is a male, not female.") == \
        "She said he owns his home; SHE is a female, not male."
    assert swap_terms("the shepherd and the manager") == "the shepherd and the manager"
    assert swap_terms(["Mr Smith", "Mrs Smith"]) == ["Mrs Smith", "Mr Smith"]
    assert swap_terms("a cat", swaps=[("cat", "dog")]) == "a dog"


def test_model_ignoring_identity_terms_scores_zero(great_clf):
    cf = counterfactual_test(great_clf, TEXTS, swaps="gender", progress=False)
    assert cf.flip_rate == 0.0 and cf.mean_abs_change == 0.0
    changed = cf.pairs[cf.pairs["n_swaps"] > 0]
    assert len(changed) == 4 and (changed["counterfactual"] != changed["text"]).all()
    assert cf.table.set_index("group").loc[["female", "male", "mixed"], "n_changed"].tolist() == [2, 1, 1]
    # one call: the texts and their changed counterfactuals together
    assert cf.n_model_calls == 1 and cf.n_rows_scored == len(TEXTS) + 4
    assert any("1 of 5 texts contain no identity term" in n for n in cf.notes)


def test_model_using_identity_terms_flips(tokenizer):
    clf = keyword_classifier(tokenizer, "she")  # P(class 1) = sigmoid(3 * count(she) - 1.5)
    cf = counterfactual_test(clf, TEXTS, progress=False)
    t = cf.table.set_index("group")
    up = keyword_proba(1) - keyword_proba(0)
    # "He pays..." becomes "She pays...": from class 0 to class 1
    assert t.loc["male", "flip_rate"] == 1.0
    assert t.loc["male", "mean_change"] == pytest.approx(up)
    # "she has..." becomes "he has...", "woman/her" texts have no "she": one flip of two
    assert t.loc["female", "n_changed"] == 2 and t.loc["female", "flip_rate"] == 0.5
    assert t.loc["female", "mean_change"] == pytest.approx(-up / 2)
    # "HE and she": one "she" either way
    assert t.loc["mixed", "mean_abs_change"] == pytest.approx(0.0, abs=1e-12)
    assert cf.flip_rate == pytest.approx(2 / 4) and cf.mean_abs_change == pytest.approx(2 * up / 4)
    assert cf.examples(1)["text"].iloc[0] in (TEXTS[0], TEXTS[1])
    d = cf.to_dict()
    json.dumps(d, allow_nan=False)
    assert d["overall"]["flip_rate"] == pytest.approx(0.5)
    assert {g["group"] for g in d["groups"]} == {"female", "male", "mixed"}
    assert d["score_class"] == 1 and d["group_names"] == ["male", "female"]


def test_user_word_lists_and_groups(tokenizer):
    clf = keyword_classifier(tokenizer, "great")
    pairs = identity_swaps("gender")
    assert ("he", "she") in pairs
    pairs.append(("great", "fine"))  # edit a copy: the built-in list is unchanged
    assert ("great", "fine") not in identity_swaps("gender")
    cf = counterfactual_test(clf, ["a great loan", "a fine loan"], swaps={"great": "fine"},
                             group_names=("G", "F"), progress=False)
    t = cf.table.set_index("group")
    assert t.loc["G", "flip_rate"] == 1.0 and t.loc["F", "flip_rate"] == 1.0
    assert t.loc["G", "mean_change"] == pytest.approx(keyword_proba(0) - keyword_proba(1))
    by_label = counterfactual_test(clf, ["a great loan", "a fine loan"], swaps=[("great", "fine")],
                                   sensitive_features=["x", "y"], progress=False)
    assert sorted(by_label.table["group"]) == ["all", "x", "y"]


def test_multiclass_scores_the_predicted_class(sentiment3_clf):
    cf = counterfactual_test(sentiment3_clf, ["good loan", "bad loan"], swaps=[("good", "bad")],
                             progress=False)
    assert cf.score_class == "predicted"
    assert cf.pairs["flipped"].all()
    assert np.all(cf.pairs["change"] < 0)  # each text loses its predicted class's probability
