"""BatchMonitor: torchmetrics' group metrics over batches agree with Fairlearn on the whole."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest
import torch

from fairbridge.monitor import BatchMonitor
from fairbridge.monitor._metrics import fairlearn_metrics


def _batches(seed: int = 0):
    rng = np.random.default_rng(seed)
    out = []
    for size in (40, 25, 60, 33, 50):
        groups = rng.integers(0, 3, size)
        labels = rng.integers(0, 2, size)
        probs = np.clip(rng.beta(2, 2, size) + 0.15 * labels - 0.1 * (groups == 2), 0, 1)
        out.append((probs, labels, groups))
    # a batch without group 0 (torchmetrics alone would credit group 1's counts to group 0)
    out.append((np.array([0.9, 0.2, 0.7, 0.6]), np.array([1, 0, 0, 1]), np.array([1, 2, 1, 2])))
    return out


def test_agrees_with_fairlearn_on_the_concatenated_batches():
    from fairlearn.metrics import demographic_parity_ratio, equal_opportunity_ratio

    names = ["female", "male", "other"]
    mon = BatchMonitor(num_groups=3, group_names=names)
    batches = _batches()
    for p, y, g in batches:
        mon.update(torch.tensor(p, dtype=torch.float32), torch.tensor(y), torch.tensor(g))
    assert mon.n_updates_ == len(batches)
    ours = mon.compute()
    p = np.concatenate([b[0] for b in batches]).astype(np.float32)
    y = np.concatenate([b[1] for b in batches])
    g = np.array(names)[np.concatenate([b[2] for b in batches])]
    pred = (p > 0.5).astype(int)
    theirs = fairlearn_metrics(y, pred, pd.DataFrame({"group": g}))
    assert set(theirs) <= set(ours)
    for key, value in theirs.items():
        assert ours[key] == pytest.approx(value, abs=1e-6), key
    kw = {"sensitive_features": g}
    assert ours["fairness/demographic_parity_ratio"] == pytest.approx(
        demographic_parity_ratio(y, pred, **kw), abs=1e-6)
    assert ours["fairness/equal_opportunity_ratio"] == pytest.approx(
        equal_opportunity_ratio(y, pred, **kw), abs=1e-6)
    table = mon.by_group()
    assert list(table.index) == names and table["count"].sum() == len(y)


def test_numpy_inputs_softmax_columns_reset_and_threshold():
    mon = BatchMonitor(num_groups=2, threshold=0.3)
    probs = np.array([[0.8, 0.2], [0.6, 0.4], [0.1, 0.9], [0.5, 0.5]])
    mon.update(probs, [0, 1, 1, 0], [0, 0, 1, 1])
    out = mon.compute()
    # positive column 1 > 0.3: group 0 -> [no, yes], group 1 -> [yes, yes]
    assert out["fairness/selection_rate/0"] == 0.5 and out["fairness/selection_rate/1"] == 1.0
    assert out["fairness/demographic_parity_difference"] == 0.5
    mon.reset()
    assert mon.n_updates_ == 0
    with pytest.raises(ValueError, match=re.escape("BatchMonitor: the monitor must have seen a batch")):
        mon.compute()


def test_a_group_without_examples_gives_nan_ratios_not_zero():
    mon = BatchMonitor(num_groups=3)
    mon.update([0.9, 0.1, 0.8], [1, 0, 1], [0, 0, 1])
    out = mon.compute()
    assert np.isnan(out["fairness/selection_rate/2"])
    assert np.isnan(out["fairness/demographic_parity_ratio"])
    assert out["fairness/demographic_parity_difference"] == pytest.approx(0.5)


def test_bad_batches():
    mon = BatchMonitor(num_groups=2)
    with pytest.raises(ValueError, match=re.escape(
            "BatchMonitor: argument 'probs' must be probabilities in [0, 1], but got 1 value(s) "
            "outside [0, 1] or NaN. Apply torch.sigmoid (or softmax) to logits first.")):
        mon.update(torch.tensor([0.2, 3.0]), torch.tensor([0, 1]), torch.tensor([0, 1]))
    with pytest.raises(ValueError, match=re.escape(
            "BatchMonitor: argument 'groups' must hold group ids 0..1, but got values [0, 2]")):
        mon.update(torch.tensor([0.2, 0.3]), torch.tensor([0, 1]), torch.tensor([0, 2]))
    with pytest.raises(ValueError, match=re.escape(
            "BatchMonitor: arguments 'probs', 'labels' and 'groups' must have the same length, "
            "but got 2, 3 and 2")):
        mon.update([0.2, 0.3], [0, 1, 1], [0, 1])
    with pytest.raises(ValueError, match=re.escape("argument 'num_groups' must be an integer >= 2")):
        BatchMonitor(num_groups=1)
    assert mon.n_updates_ == 0


def test_missing_torchmetrics_names_the_monitor_extra(monkeypatch):
    import sys

    from fairbridge import MissingDependencyError

    monkeypatch.setitem(sys.modules, "torchmetrics", None)
    monkeypatch.setitem(sys.modules, "torchmetrics.classification", None)
    with pytest.raises(MissingDependencyError, match=re.escape("pip install 'fairbridge[monitor]'")):
        BatchMonitor(num_groups=2)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_states_on_cuda_agree_with_the_cpu():
    cpu, gpu = BatchMonitor(num_groups=3), BatchMonitor(num_groups=3).to("cuda")
    for p, y, g in _batches():
        cpu.update(torch.tensor(p, dtype=torch.float32), torch.tensor(y), torch.tensor(g))
        gpu.update(torch.tensor(p, dtype=torch.float32, device="cuda"),
                   torch.tensor(y, device="cuda"), torch.tensor(g, device="cuda"))
    assert gpu.rates_metric_.tp.device.type == "cuda"
    assert gpu.compute() == pytest.approx(cpu.compute(), nan_ok=True)
