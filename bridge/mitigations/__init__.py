"""Mitigation methods, keyed by name, behind one small contract.

>>> import fairbridge as fb
>>> fb.mitigations.available_mitigations()  # doctest: +NORMALIZE_WHITESPACE
['aif360.calibrated_equalized_odds', 'aif360.reject_option', 'aif360.reweighing', 'baseline',
 'fair_loss', 'fairlearn.adversarial', 'fairlearn.correlation_remover',
 'fairlearn.exponentiated_gradient', 'fairlearn.grid_search', 'fairlearn.threshold_optimizer']

Each method says what it needs from the model (``needs``: ``"nothing"``, ``"refits"``,
``"scores"`` or ``"embeddings"``) and which ``fairbridge[...]`` extra installs its toolkit
(``extra``).  Pass a name, a :class:`Mitigation` subclass or a configured instance to
:func:`fairbridge.compare`.
"""

from ._base import FitContext, Mitigation, Needs
from ._registry import available_mitigations, default_mitigations, register, resolve_mitigation

# Registration order is the default comparison order.
from ._baseline import Baseline  # noqa: E402,I001
from ._fairlearn import (  # noqa: E402
    AdversarialMitigation,
    CorrelationRemoverMitigation,
    ExponentiatedGradientMitigation,
    GridSearchMitigation,
    ThresholdOptimizerMitigation,
)
from ._aif360 import (  # noqa: E402
    CalibratedEqualizedOddsMitigation,
    RejectOptionMitigation,
    ReweighingMitigation,
)
from ._fair_loss import FairLossMitigation, FairretPenalty  # noqa: E402

__all__ = [
    "AdversarialMitigation",
    "Baseline",
    "CalibratedEqualizedOddsMitigation",
    "CorrelationRemoverMitigation",
    "ExponentiatedGradientMitigation",
    "FairLossMitigation",
    "FairretPenalty",
    "FitContext",
    "GridSearchMitigation",
    "Mitigation",
    "Needs",
    "RejectOptionMitigation",
    "ReweighingMitigation",
    "ThresholdOptimizerMitigation",
    "available_mitigations",
    "default_mitigations",
    "register",
    "resolve_mitigation",
]
