"""Weighted fine-tuning of a whole network (``refit="full"``) and its callbacks.

The loop is the one place where fairbridge trains a network end to end: AdamW with a linear
warm-up and decay, sample-weighted cross-entropy (weights normalised per batch by the total
weight of the training set, so the weighting of AIF360's reweighing is honoured exactly), an
optional differentiable fairness penalty, autocast on CUDA, a progress bar, and skorch-style
callbacks that can log metrics into ``history_`` or stop the run.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from ._head import FairnessLoss

__all__ = ["Callback", "StopTraining", "train_network"]


class StopTraining(Exception):
    """Raise from a callback to end ``refit="full"`` training after the current step."""


class Callback:
    """Base class of training callbacks (skorch-style); override what you need.

    Every method receives the estimator being fitted.  ``on_epoch_end`` receives the epoch's
    log entry (a dict with ``step``, ``epoch`` and ``loss``) and may add metrics to it; they
    end up in the estimator's ``history_``.  Raise :class:`StopTraining` to stop.  While a
    callback runs, the estimator's ``predict_proba`` scores with the weights trained so far.
    """

    def on_train_begin(self, estimator: Any) -> None:
        """Called once before the first step."""

    def on_epoch_begin(self, estimator: Any, epoch: int) -> None:
        """Called before each epoch (``epoch`` counts from 1)."""

    def on_batch_end(self, estimator: Any, step: int, loss: float) -> None:
        """Called after each optimiser step with the batch loss."""

    def on_epoch_end(self, estimator: Any, epoch: int, logs: dict) -> None:
        """Called after each epoch; add metrics to ``logs`` to record them."""

    def on_train_end(self, estimator: Any, history: list[dict]) -> None:
        """Called once after the last step (also after a stop)."""


def train_network(
    model: torch.nn.Module,
    *,
    n: int,
    collate: Callable[[np.ndarray], Mapping[str, torch.Tensor]],
    forward_logits: Callable[[dict[str, torch.Tensor]], torch.Tensor],
    targets: np.ndarray,
    sample_weight: np.ndarray,
    epochs: int,
    learning_rate: float,
    weight_decay: float,
    batch_size: int,
    device: torch.device,
    amp_dtype: torch.dtype | None,
    random_state: int | None,
    progress: bool,
    estimator: Any = None,
    callbacks: Sequence[Callback] = (),
    before_callbacks: Callable[[], None] | None = None,
    fairness_loss: FairnessLoss | None = None,
    fairness_weight: float = 0.0,
    groups: np.ndarray | None = None,
) -> list[dict]:
    """Fine-tune ``model`` in place on ``n`` samples; return the per-epoch history.

    Parameters
    ----------
    model : torch.nn.Module
        The network (a private copy: its weights change).
    n : int
        Number of training samples.
    collate : callable
        ``collate(index_array) -> {name: cpu tensor}``.
    forward_logits : callable
        ``forward_logits(batch_on_device) -> logits (rows, n_classes)``.
    targets, sample_weight : ndarray
        Class indices and weights of the samples.
    epochs, learning_rate, weight_decay, batch_size :
        Optimisation settings.
    device, amp_dtype :
        Where to train and the autocast dtype (``None`` for float32).
    random_state : int or None
        Seeds the shuffling (and dropout through torch's generator).
    progress : bool
        Show a progress bar over steps.
    estimator : object
        Passed to callbacks.
    callbacks : sequence of Callback
        Called around epochs and steps.
    before_callbacks : callable, optional
        Run before the epoch-end callbacks (the adapter clears its stale feature cache here).
    fairness_loss, fairness_weight, groups :
        Optional differentiable fairness penalty, its weight and one-hot groups ``(n, g)``.

    Returns
    -------
    history : list of dict
        One entry per epoch: ``step``, ``epoch``, ``loss`` and what callbacks added.
    """
    rng = np.random.default_rng(random_state)
    gen_state = None
    if random_state is not None:
        gen_state = torch.random.get_rng_state()
        torch.manual_seed(random_state)
    params = [p for p in model.parameters()]
    for p in params:
        p.requires_grad_(True)
    opt = torch.optim.AdamW(params, lr=learning_rate, weight_decay=weight_decay)
    steps_per_epoch = math.ceil(n / batch_size)
    total = max(1, steps_per_epoch * epochs)
    warmup = max(1, int(0.06 * total))
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min((s + 1) / warmup, max(0.0, (total - s) / max(1, total - warmup))))
    y_all = torch.as_tensor(np.asarray(targets, dtype=np.int64))
    w_all = torch.as_tensor(np.asarray(sample_weight, dtype=np.float32))
    w_all = w_all * (n / w_all.sum())  # mean weight 1: per-batch losses stay on one scale
    g_all = None if groups is None else torch.as_tensor(np.asarray(groups, dtype=np.float32))
    autocast = (torch.autocast(device_type=device.type, dtype=amp_dtype) if amp_dtype is not None
                else contextlib.nullcontext())
    history: list[dict] = []
    step = 0
    bar = tqdm(total=total, desc="fine-tuning", unit="step", delay=2.0, leave=False,
               disable=not progress, dynamic_ncols=True)
    for cb in callbacks:
        cb.on_train_begin(estimator)
    model.train()
    try:
        for epoch in range(1, epochs + 1):
            for cb in callbacks:
                cb.on_epoch_begin(estimator, epoch)
            perm = rng.permutation(n)
            losses = []
            for start in range(0, n, batch_size):
                idx = perm[start : start + batch_size]
                batch = {k: v.to(device, non_blocking=True) for k, v in collate(idx).items()}
                y = y_all[idx].to(device)
                w = w_all[idx].to(device)
                with torch.enable_grad(), autocast:
                    logits = forward_logits(batch).float()
                    loss = (torch.nn.functional.cross_entropy(logits, y, reduction="none") * w).mean()
                    if fairness_loss is not None and fairness_weight > 0 and g_all is not None:
                        loss = loss + fairness_weight * fairness_loss(
                            logits, y, g_all[idx].to(device), w / w.sum())
                opt.zero_grad(set_to_none=True)
                loss.backward()
                torch.nn.utils.clip_grad_norm_(params, 1.0)
                opt.step()
                sched.step()
                step += 1
                losses.append(float(loss.detach()))
                bar.update(1)
                for cb in callbacks:
                    cb.on_batch_end(estimator, step, losses[-1])
            logs = {"step": step, "epoch": epoch, "loss": float(np.mean(losses))}
            history.append(logs)
            if callbacks:
                model.eval()
                if before_callbacks is not None:
                    before_callbacks()
                try:
                    for cb in callbacks:
                        cb.on_epoch_end(estimator, epoch, logs)
                finally:
                    model.train()
    except StopTraining:
        if history:
            history[-1]["stopped"] = True
    finally:
        bar.close()
        model.eval()
        for p in params:
            p.requires_grad_(False)
        if gen_state is not None:
            torch.random.set_rng_state(gen_state)
    for cb in callbacks:
        cb.on_train_end(estimator, history)
    return history
