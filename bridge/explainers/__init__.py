"""Explainers: LIME, SHAP and InterpretML on any wrapped model through one interface.

>>> import fairbridge.explainers as fx
>>> ex = fx.explain(clf, X_test[:20], method="shap")  # doctest: +SKIP
>>> ex.local(3)               # token / feature attributions of row 3  # doctest: +SKIP
>>> ex.global_importance      # a tidy DataFrame  # doctest: +SKIP
>>> gx = fx.explain_by_group(clf, X_test, sensitive_features=A_test, method="lime")  # doctest: +SKIP
>>> cf = fx.counterfactual_test(clf, texts, swaps="gender")  # doctest: +SKIP

Every toolkit's model calls go through the estimator's ``predict_proba`` (for a fairbridge
adapter: batched, de-duplicated and cached), and are counted in the result.
"""

from ._base import Attribution, ExplainContext, Explainer, available_explainers, register_explainer
from ._counterfactual import SWAP_LISTS, CounterfactualResult, counterfactual_test, identity_swaps, swap_terms
from ._ebm import EBMSurrogate
from ._explain import explain
from ._groups import GroupExplanation, explain_by_group
from ._interpret import InterpretLime, InterpretMorris, InterpretPDP, InterpretShap
from ._lime import LimeExplainer
from ._model import ModelFunction
from ._result import Explanation
from ._shap import ShapExplainer

__all__ = [
    "Attribution",
    "CounterfactualResult",
    "EBMSurrogate",
    "ExplainContext",
    "Explainer",
    "Explanation",
    "GroupExplanation",
    "InterpretLime",
    "InterpretMorris",
    "InterpretPDP",
    "InterpretShap",
    "LimeExplainer",
    "ModelFunction",
    "SWAP_LISTS",
    "ShapExplainer",
    "available_explainers",
    "counterfactual_test",
    "explain",
    "explain_by_group",
    "identity_swaps",
    "register_explainer",
    "swap_terms",
]
