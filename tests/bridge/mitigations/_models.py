"""Helpers of the bridge tests: a tiny tabular network (importable by name, so it saves and
loads), a tabular split with a planted group gap, and a one-thread torch context."""

from __future__ import annotations

import contextlib

import numpy as np
import pandas as pd
import torch
from torch import nn

#: Small options that keep every method fast but real.
FAST = {
    "fairlearn.exponentiated_gradient": {"max_iter": 5},
    "fairlearn.grid_search": {"grid_size": 5},
    "fairlearn.threshold_optimizer": {},
    "fairlearn.adversarial": {"epochs": 5},
    "fairlearn.correlation_remover": {},
    "aif360.reweighing": {},
    "aif360.calibrated_equalized_odds": {},
    "aif360.reject_option": {"step": 0.1},
    "fair_loss": {"fairness_weights": (0.0, 0.3, 3.0)},
}


class TinyMLP(nn.Module):
    """``n_features_in`` -> ``hidden`` ReLU units -> ``n_classes`` logits."""

    def __init__(self, n_features_in: int = 4, n_classes: int = 2, hidden: int = 16) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.Linear(n_features_in, hidden), nn.ReLU())
        self.head = nn.Linear(hidden, n_classes)

    def forward(self, x):  # noqa: D102
        return self.head(self.body(x))


def tabular(n: int, seed: int, *, n_classes: int = 2) -> tuple[np.ndarray, np.ndarray, pd.Series]:
    """Rows whose first feature (and so the label) is shifted for group 'm'."""
    rng = np.random.default_rng(seed)
    a = rng.choice(["f", "m"], n, p=[0.4, 0.6])
    X = rng.normal(size=(n, 4)).astype(np.float32)
    X[:, 0] += (a == "m") * 1.0
    score = X[:, 0] + 0.5 * X[:, 1] + rng.normal(scale=0.5, size=n)
    if n_classes == 2:
        y = (score > 0.5).astype(int)
    else:
        y = np.digitize(score, np.quantile(score, np.linspace(0, 1, n_classes + 1)[1:-1]))
    return X, y, pd.Series(a, name="sex")


@contextlib.contextmanager
def one_torch_thread():
    """The test machine has two shared cores: one torch thread is far faster than two."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def make_model(**params):
    from fairbridge.adapters import TorchClassifier

    return TorchClassifier(TinyMLP, progress=False, head_alpha=1e-4, **params)
