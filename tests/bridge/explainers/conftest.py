"""Models built to depend on known tokens or features, for the explainer tests.

* :class:`KeywordNet`: a sequence-classifier-like module whose logits are a hand-set linear
  function of how often chosen token ids occur; wrapped as an ``HFTextClassifier`` with the
  real MiniLM tokenizer, so every explainer goes through the real adapter and engine.
* a ``TorchClassifier`` around a hand-set ``nn.Linear`` whose logit depends on one feature.
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn

from fairbridge.adapters import HFTextClassifier, SharedModel, TorchClassifier

FEATURES = ["age", "income", "debt", "tenure"]
DEBT_WEIGHT = 2.5


class KeywordNet(nn.Module):
    """``logits[c] = sum_t W[c, t] * count(token t) + b[c]``: attention-free, so batching and
    padding cannot change its output."""

    def __init__(self, token_ids: list[int], weight: list[list[float]], bias: list[float],
                 id2label: dict[int, str] | None = None) -> None:
        super().__init__()
        self.register_buffer("ids", torch.tensor(token_ids, dtype=torch.long))
        self.classifier = nn.Linear(len(token_ids), len(bias))
        with torch.no_grad():
            self.classifier.weight.copy_(torch.tensor(weight, dtype=torch.float32))
            self.classifier.bias.copy_(torch.tensor(bias, dtype=torch.float32))
        labels = id2label or {i: f"LABEL_{i}" for i in range(len(bias))}
        self.config = SimpleNamespace(num_labels=len(bias), id2label=labels)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None, **_: object) -> torch.Tensor:
        counts = (input_ids[:, :, None] == self.ids[None, None, :]).sum(1).float()
        return self.classifier(counts)


def keyword_classifier(tokenizer, word: str, *, weight: float = 3.0, bias: float = -1.5) -> HFTextClassifier:
    """Binary: P(class 1) = sigmoid(weight * count(word) + bias); nothing else matters."""
    tid = tokenizer.convert_tokens_to_ids(word)
    net = KeywordNet([tid], [[0.0], [weight]], [0.0, bias])
    clf = HFTextClassifier(SharedModel(net, tokenizer), refit="none", progress=False)
    return clf.fit(["a", "b"], [0, 1])


def keyword_proba(word_count: np.ndarray, *, weight: float = 3.0, bias: float = -1.5) -> np.ndarray:
    """P(class 1) of :func:`keyword_classifier` for texts with ``word_count`` occurrences."""
    return 1.0 / (1.0 + np.exp(-(weight * np.asarray(word_count, dtype=np.float64) + bias)))


@pytest.fixture(scope="module")
def great_clf(tokenizer) -> HFTextClassifier:
    """Leans on the token "great" only."""
    return keyword_classifier(tokenizer, "great")


@pytest.fixture(scope="module")
def sentiment3_clf(tokenizer) -> HFTextClassifier:
    """Three classes: "bad" drives negative, "good" drives positive, neutral is a constant."""
    ids = [tokenizer.convert_tokens_to_ids(w) for w in ("bad", "good")]
    net = KeywordNet(ids, [[3.0, 0.0], [0.0, 0.0], [0.0, 3.0]], [0.0, 1.0, 0.0],
                     id2label={0: "negative", 1: "neutral", 2: "positive"})
    clf = HFTextClassifier(SharedModel(net, tokenizer), refit="none", progress=False)
    return clf.fit(["a", "b", "c"], ["negative", "neutral", "positive"])


def debt_net() -> nn.Linear:
    net = nn.Linear(len(FEATURES), 1)
    with torch.no_grad():
        net.weight.copy_(torch.tensor([[0.0, 0.0, DEBT_WEIGHT, 0.0]]))
        net.bias.zero_()
    return net


@pytest.fixture(scope="module")
def tabular_data() -> pd.DataFrame:
    rng = np.random.default_rng(7)
    return pd.DataFrame(rng.normal(size=(40, len(FEATURES))), columns=FEATURES)


@pytest.fixture(scope="module")
def debt_clf(tabular_data) -> TorchClassifier:
    """Binary, P(class 1) = sigmoid(2.5 * debt): only the feature "debt" matters."""
    y = (tabular_data["debt"] > 0).astype(int)
    return TorchClassifier.from_module(debt_net(), refit="none", progress=False).fit(tabular_data, y)


@pytest.fixture(scope="module")
def tabular3_clf(tabular_data) -> TorchClassifier:
    """A three-class tabular model (for the binary-only InterpretML explainers)."""
    torch.manual_seed(0)
    net = nn.Linear(len(FEATURES), 3)
    y = np.arange(len(tabular_data)) % 3
    return TorchClassifier.from_module(net, refit="none", progress=False).fit(tabular_data, y)
