"""Refitting the classification head on frozen penultimate features.

``refit="head"`` retrains only the final linear layer, starting from the fine-tuned one, by
full-batch L-BFGS on the sample-weighted cross-entropy

    L(W, b) = sum_i w_i CE(W f_i + b, y_i) / sum_i w_i  +  alpha/2 * ||W - W0||^2
              [+ lambda * fairness_loss(logits, y, groups, w)]

The pull towards the fine-tuned weights ``W0`` (``head_alpha``) keeps an unweighted refit close
to the original model while letting sample weights, as Fairlearn's reductions and AIF360's
reweighing set them, move the decision boundary.  The loss is normalised by the total weight, so
scaling every weight by a constant changes nothing (as the reductions assume).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

__all__ = ["FairnessLoss", "fit_linear_head"]

#: ``fairness_loss(logits, y, groups, sample_weight) -> scalar tensor``: logits ``(n, k)``,
#: integer targets ``(n,)``, one-hot group memberships ``(n, g)`` and weights ``(n,)``.
FairnessLoss = Callable[[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]


def fit_linear_head(
    features: np.ndarray,
    targets: np.ndarray,
    sample_weight: np.ndarray,
    *,
    init: tuple[np.ndarray, np.ndarray],
    alpha: float,
    max_iter: int,
    device: torch.device,
    fairness_loss: FairnessLoss | None = None,
    fairness_weight: float = 0.0,
    groups: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, dict]:
    """Fit ``(W, b)`` of a linear head on fixed features.

    Parameters
    ----------
    features : ndarray of shape (n_samples, n_features)
        Penultimate features (not modified).
    targets : ndarray of int of shape (n_samples,)
        Class index of each sample.
    sample_weight : ndarray of shape (n_samples,)
        Non-negative weights.
    init : (ndarray, ndarray)
        The fine-tuned head ``(W0, b0)``; the fit starts there and is pulled towards ``W0``.
    alpha : float
        Strength of the pull towards ``W0``.
    max_iter : int
        L-BFGS iterations.
    device : torch.device
        Where to run (float64 on CPU, float32 on accelerators).
    fairness_loss : callable, optional
        A differentiable fairness penalty (see :data:`FairnessLoss`).
    fairness_weight : float
        Its weight lambda.
    groups : ndarray of shape (n_samples, n_groups), optional
        One-hot group memberships, required with a fairness loss.

    Returns
    -------
    W, b : ndarray of float32
        The refitted head.
    info : dict
        ``loss`` (final objective), ``task_loss``, ``fairness_loss`` and ``n_iter``.
    """
    dtype = torch.float64 if device.type == "cpu" else torch.float32
    X = torch.as_tensor(np.asarray(features, dtype=np.float32), device=device).to(dtype)
    y = torch.as_tensor(np.asarray(targets, dtype=np.int64), device=device)
    w = torch.as_tensor(np.asarray(sample_weight, dtype=np.float64), device=device).to(dtype)
    w = w / w.sum()
    W0 = torch.as_tensor(np.asarray(init[0], dtype=np.float32), device=device).to(dtype)
    b0 = torch.as_tensor(np.asarray(init[1], dtype=np.float32), device=device).to(dtype)
    W = W0.clone().requires_grad_(True)
    b = b0.clone().requires_grad_(True)
    G = None
    if fairness_loss is not None and fairness_weight > 0:
        assert groups is not None
        G = torch.as_tensor(np.asarray(groups, dtype=np.float32), device=device).to(dtype)
    opt = torch.optim.LBFGS([W, b], lr=1.0, max_iter=max_iter, history_size=20,
                            tolerance_grad=1e-9, tolerance_change=1e-12,
                            line_search_fn="strong_wolfe")
    parts: dict[str, float] = {}

    def objective() -> torch.Tensor:
        logits = X @ W.T + b
        task = (torch.nn.functional.cross_entropy(logits, y, reduction="none") * w).sum()
        loss = task + 0.5 * alpha * ((W - W0) ** 2).sum()
        fair = torch.zeros((), dtype=dtype, device=device)
        if G is not None and fairness_loss is not None:
            fair = fairness_loss(logits, y, G, w)
            loss = loss + fairness_weight * fair
        parts.update(task=float(task.detach()), fair=float(fair.detach()), loss=float(loss.detach()))
        return loss

    def closure() -> torch.Tensor:
        opt.zero_grad()
        loss = objective()
        loss.backward()
        return loss

    with torch.enable_grad():
        opt.step(closure)
        objective()
    state = opt.state[opt._params[0]]
    info = {"loss": parts["loss"], "task_loss": parts["task"], "fairness_loss": parts["fair"],
            "n_iter": int(state.get("n_iter", 0))}
    return (W.detach().float().cpu().numpy(), b.detach().float().cpu().numpy(), info)
