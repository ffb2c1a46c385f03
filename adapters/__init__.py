"""Adapters: a fine-tuned torch or Hugging Face classifier becomes a scikit-learn estimator.

Wrap a model once and hand it to Fairlearn, AIF360, LIME, SHAP or InterpretML unchanged:

>>> from fairbridge.adapters import HFTextClassifier
>>> clf = HFTextClassifier("path/to/finetuned-bert").fit(X_train, y_train)  # doctest: +SKIP
"""

from ._backbone import Backbone
from ._engine import ForwardStats
from ._head import FairnessLoss
from ._hf import HFTextClassifier
from ._shared import SharedModel
from ._torch import TorchClassifier
from ._training import Callback, StopTraining

__all__ = [
    "Backbone",
    "Callback",
    "FairnessLoss",
    "ForwardStats",
    "HFTextClassifier",
    "SharedModel",
    "StopTraining",
    "TorchClassifier",
]
