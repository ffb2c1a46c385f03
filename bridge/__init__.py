"""fairbridge: wrap a fine-tuned classifier once, then audit, mitigate, explain and monitor it."""

from . import distributed, explainers, mitigations, monitor
from ._audit import AuditResult, audit, audit_predictions
from ._compare import ComparisonResult, MethodResult, MitigatedPredictor, compare, load_mitigated
from ._datasets import load_german_credit
from ._demo import DemoResult, run_demo
from ._optional import MissingDependencyError
from ._validation import NotFittedError
from .explainers import (
    CounterfactualResult,
    Explanation,
    GroupExplanation,
    counterfactual_test,
    explain,
    explain_by_group,
)
from ._version import __version__

__all__ = [
    "AuditResult",
    "ComparisonResult",
    "CounterfactualResult",
    "DemoResult",
    "Explanation",
    "GroupExplanation",
    "MethodResult",
    "MissingDependencyError",
    "MitigatedPredictor",
    "NotFittedError",
    "__version__",
    "audit",
    "audit_predictions",
    "compare",
    "counterfactual_test",
    "distributed",
    "explain",
    "explain_by_group",
    "explainers",
    "load_german_credit",
    "load_mitigated",
    "mitigations",
    "monitor",
    "run_demo",
]
