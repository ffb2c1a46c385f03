"""Hand-built result dicts that follow the contract of ``AuditResult.to_dict()`` and
``ComparisonResult.to_dict()`` (schema 1.0), for the report, CLI and schema tests.

The numbers are made up but consistent (rates in [0, 1], intervals around their values, a
Pareto flag computed from the points), so the renderers see what a real run gives them.
"""

from __future__ import annotations

import copy
from typing import Any

XSS = "<script>alert(1)</script>"


def group_rows(seed: float = 0.0, *, features: tuple[str, ...] = ("sex",),
               groups: dict[str, tuple[str, ...]] | None = None) -> list[dict[str, Any]]:
    groups = groups or {"sex": ("female", "male"), "age_group": ("young", "older")}
    rows = []
    for f in features:
        for i, g in enumerate(groups[f]):
            rows.append({"feature": f, "group": g, "count": 120 + 40 * i,
                         "selection_rate": round(0.55 + 0.12 * i - seed, 4),
                         "accuracy": round(0.70 + 0.03 * i, 4),
                         "balanced_accuracy": round(0.64 + 0.02 * i, 4),
                         "tpr": round(0.80 + 0.05 * i - seed, 4),
                         "fpr": round(0.40 + 0.06 * i - seed, 4) if i else None,
                         "precision": round(0.75 + 0.01 * i, 4)})
    return rows


def _pareto(methods: list[dict[str, Any]], primary: str) -> None:
    ok = [m for m in methods if m["status"] == "ok"]
    for m in methods:
        m["pareto"] = False
    for m in ok:
        a, d = m["metrics"]["accuracy"], abs(m["metrics"][primary])
        m["pareto"] = not any(
            (o["metrics"]["accuracy"] >= a and abs(o["metrics"][primary]) <= d)
            and (o["metrics"]["accuracy"] > a or abs(o["metrics"][primary]) < d) for o in ok)


def method(name: str, acc: float, dpd: float, *, status: str = "ok", reason: str | None = None,
           options: dict | None = None, needs: str = "refits", features=("sex",)) -> dict[str, Any]:
    if status != "ok":
        return {"name": name, "status": status, "reason": reason, "needs": needs,
                "options": options or {}, "metrics": {}, "intervals": {}, "groups": [],
                "cost": {"fit_seconds": 0.0, "predict_seconds": 0.0, "n_refits": 0,
                         "n_forward_rows": 0, "n_forward_batches": 0},
                "pareto": False, "verdict": f"Not run: {reason}"}
    eod = round(dpd * 1.3, 4)
    return {
        "name": name, "status": "ok", "reason": None, "needs": needs, "options": options or {},
        "metrics": {"accuracy": acc, "balanced_accuracy": round(acc - 0.06, 4),
                    "demographic_parity_difference": dpd, "equalized_odds_difference": eod,
                    "statistical_parity_difference": -dpd, "disparate_impact": round(1 - dpd * 1.4, 4),
                    "equal_opportunity_difference": round(-dpd * 0.8, 4),
                    "average_odds_difference": round(-dpd * 0.9, 4)},
        "intervals": {"demographic_parity_difference": [max(0.0, dpd - 0.05), dpd + 0.05],
                      "equalized_odds_difference": [max(0.0, eod - 0.06), eod + 0.06]},
        "groups": group_rows(0.12 - dpd, features=features),
        "cost": {"fit_seconds": 1.5 + acc, "predict_seconds": 0.2, "n_refits": 1,
                 "n_forward_rows": 300 if name == "baseline" else 0,
                 "n_forward_batches": 5 if name == "baseline" else 0},
        "pareto": False,
        "verdict": f"{name}: accuracy {acc:.3f}, demographic parity difference {dpd:.3f}.",
    }


def comparison_dict(*, explanations: bool = True, features=("sex",)) -> dict[str, Any]:
    """A comparison of seven methods (two not run), with a text and a tabular explanation."""
    primary = "demographic_parity_difference"
    methods = [
        method("baseline", 0.742, 0.152, needs="scores only", features=features),
        method("fairlearn.exponentiated_gradient", 0.721, 0.041,
               options={"constraints": "demographic_parity", "eps": 0.01}, features=features),
        method("fairlearn.threshold_optimizer", 0.735, 0.022, needs="scores only",
               options={"constraints": "demographic_parity"}, features=features),
        method("aif360.reweighing", 0.738, 0.118, features=features),
        method("fair_loss", 0.729, 0.064, options={"lambdas": [0.5, 1.0, 2.0]}, features=features),
        method("aif360.reject_option", 0, 0, status="skipped",
               reason="aif360 is not installed: pip install 'fairbridge[aif360]'"),
        method("fairlearn.adversarial", 0, 0, status="failed",
               reason="RuntimeError: the adversary diverged (loss = nan) after 3 epochs"),
    ]
    _pareto(methods, primary)
    d: dict[str, Any] = {
        "schema_version": "1.0", "kind": "comparison", "created": "2025-01-02T03:04:05+00:00",
        "fairbridge_version": "0.1.0",
        "library_versions": {"fairlearn": "0.15.0", "aif360": "0.6.1", "torch": "2.13.0",
                             "transformers": "5.24.0", "scikit-learn": "1.9.0", "shap": None},
        "config": {"model": "models/demo", "data": "credit.csv", "sensitive_features": list(features),
                   "test_size": 0.3, "seed": 0, "n_train": 700, "n_test": 300,
                   "methods": [m["name"] for m in methods]},
        "primary_disparity": primary,
        "methods": methods,
        "explanations": [],
    }
    if explanations:
        d["explanations"] = [
            {"method": "lime", "settings": {"num_samples": 500}, "input_type": "text",
             "n_model_calls": 2, "n_rows_scored": 1000, "classes": ["bad", "good"],
             "instances": [
                 {"row": 3, "text": "A 35-year-old woman, skilled worker, owns her home. "
                                    "Savings: little; checking account: unknown.",
                  "predicted_class": "good", "predicted_proba": 0.81,
                  "attributions": [{"feature": "woman", "value": -0.12, "position": 2},
                                   {"feature": "owns", "value": 0.2, "position": 5},
                                   {"feature": "little", "value": -0.3, "position": 9},
                                   {"feature": "unknown", "value": 0.41, "position": 12}]}],
             "global_importance": [{"feature": "unknown", "importance": 0.41, "count": 1},
                                   {"feature": "little", "importance": 0.3, "count": 1}],
             "notes": ["Attributions towards the predicted class."]},
            {"method": "shap", "settings": {"max_evals": 200}, "input_type": "tabular",
             "n_model_calls": 4, "n_rows_scored": 800, "classes": [0, 1],
             "instances": [
                 {"row": 0, "text": None, "predicted_class": 1, "predicted_proba": [0.3, 0.7],
                  "attributions": [{"feature": "duration", "value": -0.21, "position": None},
                                   {"feature": "credit_amount", "value": 0.08, "position": None},
                                   {"feature": "age", "value": 0.05, "position": None}]}],
             "global_importance": [{"feature": "duration", "importance": 0.21, "count": 1},
                                   {"feature": "credit_amount", "importance": 0.08, "count": 1}],
             "notes": []},
        ]
    return d


def hostile_comparison_dict() -> dict[str, Any]:
    """The comparison with a ``<script>`` in every kind of user-supplied string."""
    d = comparison_dict()
    d = copy.deepcopy(d)
    d["methods"][1]["name"] = XSS
    d["methods"][1]["options"] = {"note": XSS}
    d["methods"][0]["groups"][0]["group"] = XSS
    d["methods"][5]["reason"] = XSS
    d["config"]["data"] = XSS
    d["explanations"][0]["instances"][0]["text"] = f"{XSS} owns a home"
    d["explanations"][0]["instances"][0]["attributions"].append(
        {"feature": "script", "value": 0.5, "position": 0})
    d["explanations"][1]["instances"][0]["attributions"][0]["feature"] = XSS
    d["library_versions"][XSS] = XSS
    return d


def audit_dict() -> dict[str, Any]:
    """An audit over two sensitive features with NaN-able values left as None."""
    groups = group_rows(0.0, features=("sex", "age_group"))
    disparities = []
    for f in ("sex", "age_group"):
        disparities += [
            {"metric": "demographic_parity_difference", "value": 0.12, "ci_low": 0.05,
             "ci_high": 0.19, "source": "fairlearn", "feature": f},
            {"metric": "equalized_odds_difference", "value": 0.08, "ci_low": None,
             "ci_high": None, "source": "fairlearn", "feature": f},
            {"metric": "statistical_parity_difference", "value": -0.12, "ci_low": -0.19,
             "ci_high": -0.05, "source": "aif360", "feature": f},
            {"metric": "disparate_impact", "value": 0.81, "ci_low": 0.7, "ci_high": 0.93,
             "source": "aif360", "feature": f},
        ]
    return {"schema_version": "1.0", "kind": "audit", "created": "2025-01-02T03:04:05+00:00",
            "fairbridge_version": "0.1.0", "library_versions": {"fairlearn": "0.15.0"},
            "sensitive_features": ["sex", "age_group"], "n_samples": 320, "confidence": 0.95,
            "groups": groups, "disparities": disparities,
            "notes": ["age_group: 1 group has fewer than 30 samples."]}
