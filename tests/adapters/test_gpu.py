"""CUDA paths of the engine; skipped on machines without a GPU."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from fairbridge.adapters import HFTextClassifier, SharedModel

pytestmark = [pytest.mark.gpu,
              pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")]


def test_auto_device_bf16_matches_fp32(trained_model_dir, toy_text_data):
    X, y = toy_text_data["text"].tolist(), toy_text_data["y"].to_numpy()
    gpu = HFTextClassifier(trained_model_dir, refit="none", progress=False).fit(X, y)
    assert gpu.backbone_.device.type == "cuda"
    fp32 = HFTextClassifier(trained_model_dir, refit="none", precision="fp32", device="cuda",
                            progress=False, cache=False).fit(X, y)
    cpu = HFTextClassifier(trained_model_dir, refit="none", device="cpu", progress=False).fit(X, y)
    np.testing.assert_allclose(fp32.predict_proba(X), cpu.predict_proba(X), atol=1e-4)
    np.testing.assert_allclose(gpu.predict_proba(X), cpu.predict_proba(X), atol=3e-2)
    head = HFTextClassifier(trained_model_dir, progress=False).fit(X, y)
    assert head.score(X, y) > 0.7


def test_shared_model_on_cpu_is_copied_once_to_the_gpu(bert_builder, tokenizer, toy_text_data):
    X, y = toy_text_data["text"].tolist(), toy_text_data["y"].to_numpy()
    net = bert_builder(tokenizer)
    clf = HFTextClassifier(SharedModel(net, tokenizer), device="cuda", progress=False).fit(X, y)
    assert next(net.parameters()).device.type == "cpu"  # the user's network stays where it was
    assert clf.backbone_.device.type == "cuda" and clf.backbone_.model is not net
