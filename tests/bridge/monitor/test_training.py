"""Fairness while fine-tuning: Trainer compute_metrics, FairnessGuard, adapter callbacks."""

from __future__ import annotations

import re
import warnings

import numpy as np
import pandas as pd
import pytest
import torch

from fairbridge.monitor import FairnessCallback, FairnessGuard, FairnessWarning, trainer_metrics
from fairbridge.monitor._metrics import fairlearn_metrics


class _Pred:
    def __init__(self, predictions, label_ids):
        self.predictions, self.label_ids = predictions, label_ids


def _toy_eval(n: int = 60, seed: int = 0):
    rng = np.random.default_rng(seed)
    logits = rng.normal(size=(n, 2))
    labels = rng.integers(0, 2, n)
    groups = rng.choice(["f", "m", "x"], n)
    return logits, labels, groups


# -- trainer_metrics ------------------------------------------------------------------------
def test_trainer_metrics_are_fairlearns_on_the_eval_set_order():
    logits, labels, groups = _toy_eval()
    fn = trainer_metrics(sensitive_features=groups)
    out = fn(_Pred(logits, labels))
    expected = fairlearn_metrics(labels, logits.argmax(axis=1), pd.DataFrame({"g": groups}))
    assert out == pytest.approx(expected)
    for key in ("demographic_parity_difference", "demographic_parity_ratio",
                "equalized_odds_difference", "equal_opportunity_difference",
                "selection_rate/f", "tpr/m", "fpr/x", "accuracy/f", "count/m"):
        assert f"fairness/{key}" in out
    from fairlearn.metrics import demographic_parity_difference

    assert out["fairness/demographic_parity_difference"] == pytest.approx(
        demographic_parity_difference(labels, logits.argmax(axis=1), sensitive_features=groups))
    # a threshold on p(class 1) instead of the argmax
    p1 = np.exp(logits[:, 1]) / np.exp(logits).sum(axis=1)
    with_thr = trainer_metrics(sensitive_features=groups, threshold=0.3)(_Pred(logits, labels))
    assert with_thr == pytest.approx(
        fairlearn_metrics(labels, (p1 > 0.3).astype(int), pd.DataFrame({"g": groups})))


def test_trainer_metrics_batch_mode_wrapping_and_length_check():
    logits, labels, groups = _toy_eval()

    def mine(eval_pred, compute_result=None):
        return {"my_metric": 1.0}

    whole = trainer_metrics(sensitive_features=groups, compute_metrics=mine)(_Pred(logits, labels))
    assert whole["my_metric"] == 1.0
    batched = trainer_metrics(sensitive_features=groups, compute_metrics=mine)
    for start in range(0, 60, 16):  # batch_eval_metrics=True passes tensors batch by batch
        sl = slice(start, start + 16)
        last = start + 16 >= 60
        out = batched(_Pred(torch.tensor(logits[sl]), torch.tensor(labels[sl])), compute_result=last)
    assert out == pytest.approx(whole)
    with pytest.raises(ValueError, match=re.escape(
            "fairbridge.monitor.trainer_metrics: argument 'sensitive_features' must have one row "
            "per evaluation example (50 predictions), but got 60 rows")):
        trainer_metrics(sensitive_features=groups)(_Pred(logits[:50], labels[:50]))
    with pytest.raises(ValueError, match=re.escape("must have at least 2 groups")):
        trainer_metrics(sensitive_features=["a"] * 10)


# -- FairnessGuard units --------------------------------------------------------------------
def _control():
    from transformers import TrainerControl

    return TrainerControl()


class _State:
    global_step = 7


def test_guard_counts_consecutive_violations_and_names_the_groups():
    guard = FairnessGuard("demographic_parity_difference", max_value=0.1, patience=2)
    high = {"eval_fairness/demographic_parity_difference": 0.3,
            "eval_fairness/selection_rate/f": 0.2, "eval_fairness/selection_rate/m": 0.5}
    low = {**high, "eval_fairness/demographic_parity_difference": 0.05}
    control = _control()
    guard.on_evaluate(None, _State(), control, metrics=high)
    guard.on_evaluate(None, _State(), control, metrics=low)  # resets the count
    guard.on_evaluate(None, _State(), control, metrics=high)
    assert not control.should_training_stop and not guard.events_
    with pytest.warns(FairnessWarning, match=re.escape(
            "FairnessGuard: eval_fairness/demographic_parity_difference = 0.3000 > max_value=0.1 "
            "for 2 evaluation(s) in a row (patience=2) at step 7; groups selection_rate: "
            "'f' 0.200 vs 'm' 0.500. Training stopped.")):
        guard.on_evaluate(None, _State(), control, metrics=high)
    assert control.should_training_stop
    assert guard.events_[0]["groups"] == ["f", "m"] and guard.events_[0]["step"] == 7


def test_guard_warn_only_and_ratio_bounds_and_missing_metric():
    guard = FairnessGuard("demographic_parity_ratio", min_value=0.8, action="warn")
    control = _control()
    with pytest.warns(FairnessWarning, match=re.escape("< min_value=0.8")):
        guard.on_evaluate(None, _State(), control,
                          metrics={"eval_fairness/demographic_parity_ratio": 0.5})
    assert not control.should_training_stop
    with pytest.raises(ValueError, match=re.escape(
            "FairnessGuard: argument 'metric' must name a logged fairness metric, but got "
            "'demographic_parity_ratio'; logged fairness keys: none")):
        guard.on_evaluate(None, _State(), control, metrics={"eval_loss": 0.3})
    with pytest.raises(ValueError, match=re.escape(
            "FairnessGuard: arguments 'max_value' and 'min_value' must not both be None")):
        FairnessGuard("demographic_parity_difference")
    with pytest.raises(ValueError, match=re.escape("argument 'action' must be one of 'stop', 'warn'")):
        FairnessGuard(max_value=0.1, action="halt")


# -- a real Trainer run ------------------------------------------------------------------------
class _TextSet(torch.utils.data.Dataset):
    def __init__(self, enc, labels):
        self.enc, self.labels = enc, labels

    def __len__(self):
        return len(self.labels)

    def __getitem__(self, i):
        return {"input_ids": self.enc["input_ids"][i], "attention_mask": self.enc["attention_mask"][i],
                "labels": int(self.labels[i])}


@pytest.mark.slow
def test_trainer_logs_eval_fairness_at_each_evaluation_and_the_guard_stops_it(
        tiny_model_dir, text_maker, tmp_path):
    from transformers import AutoModelForSequenceClassification, AutoTokenizer, Trainer, TrainingArguments

    tok = AutoTokenizer.from_pretrained(tiny_model_dir)
    model = AutoModelForSequenceClassification.from_pretrained(tiny_model_dir)
    texts, y, _ = text_maker(48, seed=3)
    enc = tok(texts, padding="max_length", truncation=True, max_length=24, return_tensors="pt")
    train, evals = _TextSet({k: v[:32] for k, v in enc.items()}, y[:32]), \
        _TextSet({k: v[32:] for k, v in enc.items()}, y[32:])
    # groups split by the untrained model's own score, and a threshold at its median: the
    # disparity starts near 1 and a learning rate of 1e-9 keeps it there
    with torch.no_grad():
        p1 = torch.softmax(model(input_ids=enc["input_ids"][32:],
                                 attention_mask=enc["attention_mask"][32:]).logits, -1)[:, 1].numpy()
    threshold = float(np.median(p1))
    groups = np.where(p1 > threshold, "high", "low")
    guard = FairnessGuard("demographic_parity_difference", max_value=0.5, patience=2)
    args = TrainingArguments(
        output_dir=str(tmp_path / "out"), max_steps=6, learning_rate=1e-9,
        per_device_train_batch_size=8, per_device_eval_batch_size=8, eval_strategy="steps",
        eval_steps=1, logging_steps=1, save_strategy="no", report_to=[], use_cpu=True,
        disable_tqdm=True, dataloader_num_workers=0, seed=0,
        metric_for_best_model="fairness/demographic_parity_difference", greater_is_better=False)
    trainer = Trainer(model=model, args=args, train_dataset=train, eval_dataset=evals,
                      compute_metrics=trainer_metrics(sensitive_features=groups, threshold=threshold),
                      callbacks=[guard])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        trainer.train()
    evals_logged = [e for e in trainer.state.log_history if "eval_loss" in e]
    assert [e["step"] for e in evals_logged] == [1, 2]  # stopped after 2 of 6 steps
    assert trainer.state.global_step == 2
    for entry in evals_logged:
        for key in ("demographic_parity_difference", "demographic_parity_ratio",
                    "equalized_odds_difference", "equal_opportunity_difference",
                    "selection_rate/high", "selection_rate/low", "tpr/low", "fpr/high"):
            assert f"eval_fairness/{key}" in entry
        assert entry["eval_fairness/demographic_parity_difference"] > 0.5
    assert trainer.state.best_metric == min(
        e["eval_fairness/demographic_parity_difference"] for e in evals_logged)
    assert guard.events_ and guard.events_[0]["step"] == 2
    assert set(guard.events_[0]["groups"]) == {"high", "low"}
    assert any(issubclass(w.category, FairnessWarning) and "Training stopped" in str(w.message)
               for w in caught)


# -- the adapters' refit="full" loop --------------------------------------------------------------
class _MLP(torch.nn.Module):
    def __init__(self, n_features_in: int, n_classes: int = 2):
        super().__init__()
        self.body = torch.nn.Sequential(torch.nn.Linear(n_features_in, 16), torch.nn.ReLU())
        self.out = torch.nn.Linear(16, n_classes)

    def forward(self, x):
        return self.out(self.body(x))


@pytest.mark.slow
def test_adapter_full_refit_records_fairness_in_history_and_the_guard_stops_it():
    from fairbridge.adapters import TorchClassifier

    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 4)).astype(np.float32)
    y = (X[:, 0] > 0).astype(int)
    group = np.where(X[:, 0] > 0, "g1", "g0")  # the label is the group: a fitted model is unfair
    X_eval, y_eval, a_eval = X[200:], y[200:], group[200:]
    guard = FairnessGuard("demographic_parity_difference", max_value=0.6, patience=2)
    clf = TorchClassifier(_MLP, refit="full", epochs=12, learning_rate=0.05, train_batch_size=32,
                          device="cpu", progress=False, random_state=0,
                          callbacks=[FairnessCallback(X_eval, y_eval, sensitive_features=a_eval),
                                     guard])
    with pytest.warns(FairnessWarning, match=re.escape("Training stopped.")):
        clf.fit(X[:200], y[:200])
    hist = clf.history_
    assert 2 <= len(hist) < 12 and hist[-1]["stopped"] is True
    for entry in hist:
        for key in ("demographic_parity_difference", "equalized_odds_difference",
                    "selection_rate/g0", "selection_rate/g1", "tpr/g1"):
            assert f"fairness/{key}" in entry
    assert hist[-1]["fairness/demographic_parity_difference"] > 0.6
    assert hist[-2]["fairness/demographic_parity_difference"] > 0.6
    assert "FairnessGuard" in hist[-1]["stopped_by"]
    # the metrics are those of the weights at the end of that epoch (not of the initial net)
    final = clf.predict_proba(X_eval).argmax(axis=1)
    assert hist[-1]["fairness/selection_rate/g1"] == pytest.approx(final[a_eval == "g1"].mean())
