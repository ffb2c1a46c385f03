"""The batched inference engine and the feature cache."""

from __future__ import annotations

import re
import warnings

import numpy as np
import pytest
import torch

from fairbridge.adapters._cache import FeatureCache, row_keys
from fairbridge.adapters._engine import (
    EngineSettings,
    ForwardStats,
    resolve_device,
    resolve_precision,
    run_batched,
)


def _settings(batch_size="auto", progress=False, budget=None):
    return EngineSettings(device=torch.device("cpu"), amp_dtype=None, batch_size=batch_size,
                          progress=progress, token_budget=budget)


def _toy(lengths):
    """Inputs are rows of ``value`` repeated ``length`` times; forward sums the unpadded part."""
    values = np.arange(len(lengths), dtype=np.float32) + 1
    widths = []

    def collate(idx):
        width = int(lengths[idx].max())
        widths.append((len(idx), width, int(lengths[idx].sum())))
        mask = np.arange(width)[None, :] < lengths[idx][:, None]
        x = np.where(mask, values[idx][:, None], 0.0).astype(np.float32)
        return {"x": torch.from_numpy(x), "mask": torch.from_numpy(mask)}

    def forward(batch):
        s = batch["x"].sum(1, keepdim=True)
        return s, torch.cat([s, -s], 1)

    return values, collate, forward, widths


def test_results_come_back_in_input_order_with_dynamic_padding():
    rng = np.random.default_rng(0)
    lengths = rng.integers(1, 200, size=500)
    values, collate, forward, widths = _toy(lengths)
    stats = ForwardStats()
    feats, logits = run_batched(500, collate=collate, forward=forward, lengths=lengths,
                                settings=_settings(budget=2048), stats=stats)
    np.testing.assert_allclose(feats[:, 0], values * lengths)
    np.testing.assert_allclose(logits[:, 1], -values * lengths)
    assert stats.rows == 500 and stats.batches == len(widths) and stats.calls == 1
    # every batch is padded only to its own longest row, and sorting keeps padding small
    padded = sum(n * w for n, w, _ in widths)
    real = sum(r for _, _, r in widths)
    assert padded / real < 1.1
    assert all(n * w <= 2048 or n == 1 for n, w, _ in widths)  # the token budget holds


def test_fixed_batch_size():
    lengths = np.full(10, 3)
    _, collate, forward, widths = _toy(lengths)
    run_batched(10, collate=collate, forward=forward, lengths=lengths, settings=_settings(batch_size=4))
    assert [n for n, _, _ in widths] == [4, 4, 2]


def test_out_of_memory_halves_the_batch_and_carries_on():
    lengths = np.full(64, 5)
    values, collate, inner, widths = _toy(lengths)

    def forward(batch):
        if batch["x"].shape[0] > 8:
            raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2 GiB")
        return inner(batch)

    settings = _settings(batch_size=32)
    stats = ForwardStats()
    with pytest.warns(RuntimeWarning, match=re.escape("out of memory on cpu with 32 rows per batch")):
        feats, _ = run_batched(64, collate=collate, forward=forward, lengths=lengths,
                               settings=settings, stats=stats)
    np.testing.assert_allclose(feats[:, 0], values * 5)
    assert settings.batch_size == 8 and stats.oom_backoffs == 2


def test_out_of_memory_on_one_row_is_an_error():
    lengths = np.full(2, 5)
    _, collate, _, _ = _toy(lengths)

    def forward(batch):
        raise RuntimeError("CUDA error: out of memory")

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        with pytest.raises(RuntimeError, match=re.escape("a single input does not fit in device memory")):
            run_batched(2, collate=collate, forward=forward, lengths=lengths, settings=_settings(batch_size=2))


def test_other_errors_pass_through():
    lengths = np.full(3, 2)
    _, collate, _, _ = _toy(lengths)

    def forward(batch):
        raise ValueError("boom")

    with pytest.raises(ValueError, match="boom"):
        run_batched(3, collate=collate, forward=forward, lengths=lengths, settings=_settings())


def test_progress_false_prints_nothing(capsys):
    lengths = np.full(20, 2)
    _, collate, forward, _ = _toy(lengths)
    run_batched(20, collate=collate, forward=forward, lengths=lengths, settings=_settings(progress=False))
    assert capsys.readouterr().err == ""


def test_device_and_precision_resolution():
    assert resolve_device("auto", who="t").type == ("cuda" if torch.cuda.is_available() else "cpu")
    assert resolve_precision("auto", torch.device("cpu"), who="t") is None
    assert resolve_precision("bf16", torch.device("cpu"), who="t") is torch.bfloat16
    with pytest.raises(ValueError, match=re.escape("fp16 autocast needs CUDA")):
        resolve_precision("fp16", torch.device("cpu"), who="t")
    with pytest.raises(ValueError, match=re.escape("argument 'precision' must be one of")):
        resolve_precision("fp64", torch.device("cpu"), who="t")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match=re.escape("CUDA is not available on this machine")):
            resolve_device("cuda", who="t")


def test_cache_stores_fetches_and_stays_bounded():
    cache = FeatureCache(max_bytes=10 * 3 * 4 * 2)  # room for 10 rows of 3 + 3 floats
    feats = np.arange(24, dtype=np.float32).reshape(8, 3)
    cache.put([f"k{i}" for i in range(8)], feats, -feats)
    found, f, lg = cache.fetch(["k3", "zz", "k0"])
    np.testing.assert_array_equal(found, [True, False, True])
    np.testing.assert_array_equal(f, feats[[3, 0]])
    np.testing.assert_array_equal(lg, -feats[[3, 0]])
    cache.put(["k0", "k0", "n1"], np.ones((3, 3)), np.ones((3, 3)))  # k0 keeps its first value
    assert cache.n_entries == 9
    np.testing.assert_array_equal(cache.fetch(["k0"])[1], feats[[0]])
    cache.put([f"m{i}" for i in range(4)], np.zeros((4, 3)), np.zeros((4, 3)))  # over the limit
    assert cache.n_resets == 1 and cache.n_entries == 4 and cache.nbytes <= 4096


def test_row_keys_tell_rows_apart():
    a = np.array([[1.0, 2.0], [1.0, 2.0], [2.0, 1.0]], dtype=np.float32)
    k = row_keys(a)
    assert k[0] == k[1] != k[2]
    assert row_keys(a.astype(np.float64))[0] != k[0]
