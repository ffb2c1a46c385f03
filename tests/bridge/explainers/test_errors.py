"""Bad input gets a clear error that names the argument, what was expected, what came, and
the fix."""

from __future__ import annotations

import re

import numpy as np
import pytest

from fairbridge import NotFittedError
from fairbridge.adapters import HFTextClassifier, TorchClassifier
from fairbridge.explainers import counterfactual_test, explain, explain_by_group, identity_swaps

TEXTS = ["great loan", "late pay"]
CHOICES = ("'ebm_surrogate', 'interpret.lime', 'interpret.morris', 'interpret.pdp', "
           "'interpret.shap', 'lime', 'shap'")


def test_unfitted_model(tiny_model_dir):
    with pytest.raises(NotFittedError, match=re.escape(
            "explain: this HFTextClassifier is not fitted yet, but explain() was called. Call "
            "fit(X, y) first, or use refit='none' to take the model as fine-tuned.")):
        explain(HFTextClassifier(tiny_model_dir), TEXTS, method="lime")
    with pytest.raises(NotFittedError, match=re.escape(
            "counterfactual_test: this HFTextClassifier is not fitted yet, but "
            "counterfactual_test() was called.")):
        counterfactual_test(HFTextClassifier(tiny_model_dir), TEXTS)


@pytest.mark.parametrize("method", ["interpret.lime", "interpret.shap", "interpret.morris", "interpret.pdp"])
def test_interpret_blackbox_on_raw_text(great_clf, method):
    with pytest.raises(ValueError, match=re.escape(
            f"explain: argument 'method' must support text input, but got '{method}', which "
            "explains tabular input only. Use one of 'ebm_surrogate', 'lime', 'shap' for text "
            "input. InterpretML's black-box explainers perturb numeric columns and cannot take "
            "raw text.")):
        explain(great_clf, TEXTS, method=method, progress=False)


def test_row_index_out_of_range(great_clf):
    ex = explain(great_clf, TEXTS, method="lime", num_samples=20, progress=False)
    with pytest.raises(IndexError, match=re.escape(
            "Explanation.local: argument 'i' must be a row index from 0 to 1 (2 rows were "
            "explained), but got 2. Pass the position of the row in the X that was explained.")):
        ex.local(2)
    with pytest.raises(IndexError, match=re.escape("but got -1.")):
        ex.local(-1)
    with pytest.raises(TypeError, match=re.escape(
            "Explanation.local: argument 'i' must be an int row index, but got '0' (type str).")):
        ex.local("0")


@pytest.mark.parametrize("bad, exc, text", [
    (0, ValueError, "explain: argument 'num_samples' must be an integer >= 1, but got 0 (type int). "
                    "Pass num_samples >= 1."),
    (-5, ValueError, "explain: argument 'num_samples' must be an integer >= 1, but got -5"),
    (2.5, TypeError, "explain: argument 'num_samples' must be an integer, but got 2.5 (type float)."),
])
def test_num_samples_below_one(great_clf, bad, exc, text):
    with pytest.raises(exc, match=re.escape(text)):
        explain(great_clf, TEXTS, method="lime", num_samples=bad, progress=False)


def test_multiclass_where_the_toolkit_is_binary_only(tabular3_clf, tabular_data):
    with pytest.raises(ValueError, match=re.escape(
            "explain: argument 'method' must support multiclass models, but got "
            "'interpret.lime', which explains binary models only (the toolkit does not support "
            "multiclass), and this model has 3 classes [0, 1, 2]. Use one of 'ebm_surrogate', "
            "'lime', 'shap', which explain one class at a time.")):
        explain(tabular3_clf, tabular_data, method="interpret.lime", progress=False)


def test_unknown_method_lists_sorted_choices(great_clf):
    with pytest.raises(ValueError, match=re.escape(
            f"explain: argument 'method' must be one of {CHOICES}, but got 'anchors'. Pick one "
            "of those names, or pass an Explainer subclass or instance.")):
        explain(great_clf, TEXTS, method="anchors")
    with pytest.raises(TypeError, match=re.escape("explain: argument 'method' must be a name (")):
        explain(great_clf, TEXTS, method=42)


def test_unknown_option(great_clf):
    with pytest.raises(TypeError, match=re.escape(
            "explain(method='shap'): keyword argument 'nsample' must be an option of this "
            "method (accepted: 'algorithm', 'batch_size', 'l1_reg', 'mask_token'), but got an "
            "unknown option.")):
        explain(great_clf, TEXTS, method="shap", nsample=10)


def test_bad_target_and_progress(great_clf):
    with pytest.raises(ValueError, match=re.escape(
            "explain: argument 'target' must be 'predicted' or one of the model's classes [0, 1], "
            "but got 'yes' (type str).")):
        explain(great_clf, TEXTS, method="lime", target="yes")
    with pytest.raises(TypeError, match=re.escape("explain: argument 'progress' must be True or False")):
        explain(great_clf, TEXTS, method="lime", progress="no")


def test_global_only_explanations_have_no_rows(debt_clf, tabular_data):
    ex = explain(debt_clf, tabular_data, method="interpret.morris", num_samples=5, progress=False)
    with pytest.raises(ValueError, match=re.escape(
            "Explanation.local: method must give per-row attributions, but got "
            "'interpret.morris', which explains the model globally only.")):
        ex.local(0)


def test_method_specific_limits(debt_clf, tabular_data, great_clf):
    with pytest.raises(ValueError, match=re.escape(
            "explain: argument 'num_samples' must be at least 2 * n_features + 1 = 9 for SHAP's "
            "Permutation algorithm")):
        explain(debt_clf, tabular_data.iloc[:2], method="shap", num_samples=8, progress=False)
    with pytest.raises(ValueError, match=re.escape(
            "explain: option 'algorithm' must be one of 'auto', 'kernel', 'permutation' for "
            "tabular input, but got 'partition'.")):
        explain(debt_clf, tabular_data.iloc[:2], method="shap", algorithm="partition", progress=False)
    with pytest.raises(ValueError, match=re.escape(
            "explain: argument 'X' must have at least 10 rows for 'interpret.pdp'")):
        explain(debt_clf, tabular_data.iloc[:9], method="interpret.pdp", progress=False)
    with pytest.raises(ValueError, match=re.escape(
            "explain: argument 'X' must have at least 20 rows for 'ebm_surrogate'")):
        explain(debt_clf, tabular_data.iloc[:19], method="ebm_surrogate", progress=False)
    with pytest.raises(ValueError, match=re.escape(
            "explain: argument 'X' must contain rows the model assigns to at least two classes, "
            "for a surrogate to learn from, but got 20 rows all predicted 0.")):
        explain(great_clf, ["late pay"] * 20, method="ebm_surrogate", progress=False)


def test_bad_inputs(great_clf, debt_clf, tabular_data):
    with pytest.raises(ValueError, match=re.escape(
            "explain: argument 'X' must hold at least one row, but got an empty container.")):
        explain(great_clf, [], method="lime")
    with pytest.raises(TypeError, match=re.escape("explain: argument 'X' must hold only str")):
        explain(great_clf, ["ok", 3], method="lime")
    with pytest.raises(ValueError, match=re.escape(
            "explain: argument 'background' applies to tabular input only")):
        explain(great_clf, TEXTS, method="lime", background=np.zeros((2, 2)))
    with pytest.raises(ValueError, match=re.escape(
            "explain: arguments 'X' and 'background' must have the same number of features, but "
            "got X has 4, background has 3.")):
        explain(debt_clf, tabular_data.iloc[:2], method="lime", background=np.zeros((5, 3)))
    with pytest.raises(ValueError, match=re.escape(
            "explain: argument 'feature_names' must name each of the 4 features")):
        explain(debt_clf, tabular_data.iloc[:2], method="lime", feature_names=["a"])
    with pytest.raises(TypeError, match=re.escape(
            "explain: argument 'estimator' must be a fitted classifier with predict_proba, but "
            "got 'model' (type str).")):
        explain("model", TEXTS)


def test_explain_by_group_errors(great_clf, debt_clf, tabular_data):
    with pytest.raises(ValueError, match=re.escape(
            "explain_by_group: argument 'method' must give per-row attributions to break them "
            "down by group, but got 'interpret.pdp', which explains the model globally only. Use "
            "one of 'ebm_surrogate', 'interpret.lime', 'interpret.shap', 'lime', 'shap', or call "
            "explain() on each group's rows.")):
        explain_by_group(debt_clf, tabular_data, sensitive_features=["a", "b"] * 20,
                         method="interpret.pdp", progress=False)
    with pytest.raises(ValueError, match=re.escape(
            "explain_by_group: arguments 'X' and 'sensitive_features' must have the same number "
            "of rows, but got X has 2, sensitive_features has 3.")):
        explain_by_group(great_clf, TEXTS, sensitive_features=["a", "b", "a"], method="lime")
    with pytest.raises(ValueError, match=re.escape(
            "explain_by_group: argument 'min_count' must be an integer >= 1, but got 0")):
        explain_by_group(great_clf, TEXTS, sensitive_features=["a", "b"], min_count=0)


def test_counterfactual_errors(great_clf, debt_clf):
    with pytest.raises(ValueError, match=re.escape(
            "counterfactual_test: argument 'estimator' must be a text classifier, but got a "
            "TorchClassifier (numeric input).")):
        counterfactual_test(debt_clf, TEXTS)
    with pytest.raises(ValueError, match=re.escape(
            "counterfactual_test: argument 'swaps' must be one of 'gender', a dict or a list of "
            "(term, counterpart) pairs, but got 'race'.")):
        counterfactual_test(great_clf, TEXTS, swaps="race")
    with pytest.raises(ValueError, match=re.escape(
            "counterfactual_test: argument 'swaps' must hold (term, counterpart) pairs of "
            "non-empty strings")):
        counterfactual_test(great_clf, TEXTS, swaps=[("he", "she", "they")])
    with pytest.raises(ValueError, match=re.escape(
            "counterfactual_test: argument 'score_class' must be one of the model's classes [0, 1]")):
        counterfactual_test(great_clf, TEXTS, score_class=7)
    with pytest.raises(ValueError, match=re.escape(
            "identity_swaps: argument 'name' must be one of 'gender', but got 'age'.")):
        identity_swaps("age")


def test_torch_classifier_needs_numeric_rows(debt_clf):
    with pytest.raises(ValueError, match=re.escape(
            "explain: argument 'X' must be a finite numeric array of shape (n_samples, ...), but "
            "got [['a', 'b', 'c', 'd']] (type list). Clean or encode the input")):
        explain(debt_clf, [["a", "b", "c", "d"]], method="lime")


def test_unfitted_torch_classifier():
    with pytest.raises(NotFittedError, match=re.escape(
            "explain: this TorchClassifier is not fitted yet, but explain() was called.")):
        explain(TorchClassifier(module=object), np.zeros((2, 4)), method="lime")
