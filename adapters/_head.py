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
    X = X.reshape(X.shape[0], -1)
    y = torch.as_tensor(np.asarray(targets, dtype=np.int64), device=device)
    w = torch.as_tensor(np.asarray(sample_weight, dtype=np.float64), device=device).to(dtype)
    w = w / w.sum()
    W0 = torch.as_tensor(np.asarray(init[0], dtype=np.float32), device=device).to(dtype)
    b0 = torch.as_tensor(np.asarray(init[1], dtype=np.float32), device=device).to(dtype)
    k, d = W0.shape
    parts: dict[str, float] = {"fair": 0.0}

    if fairness_loss is None or fairness_weight <= 0:
        wcol = w[:, None]
        wY = torch.nn.functional.one_hot(y, k).to(dtype) * wcol  # w_i * onehot(y_i)

        def value_and_grad(theta: torch.Tensor) -> tuple[float, torch.Tensor]:
            # The gradient has a closed form, X^T (w * (P - Y)) + alpha (W - W0): no autograd
            # graph and no indexing, which keeps the many refits of a reduction cheap.
            Wt, bt = theta[: k * d].view(k, d), theta[k * d :]
            logp = torch.log_softmax(torch.addmm(bt, X, Wt.T), dim=1)
            diff = Wt - W0
            task = -(wY * logp).sum()
            loss = task + 0.5 * alpha * (diff * diff).sum()
            P = logp.exp_().mul_(wcol).sub_(wY)
            grad = torch.cat([torch.addmm(diff, P.T, X, beta=alpha).reshape(-1), P.sum(dim=0)])
            parts.update(task=float(task), loss=float(loss))
            return float(loss), grad

        with torch.no_grad():
            theta, n_iter = _lbfgs(value_and_grad, torch.cat([W0.reshape(-1), b0]), max_iter=max_iter)
            value_and_grad(theta)
        W_fit, b_fit = theta[: k * d].view(k, d), theta[k * d :]
    else:
        # With a penalty: autograd through it, and torch's L-BFGS with a strong-Wolfe search.
        assert groups is not None
        G = torch.as_tensor(np.asarray(groups, dtype=np.float32), device=device).to(dtype)
        W_fit = W0.clone().requires_grad_(True)
        b_fit = b0.clone().requires_grad_(True)
        opt = torch.optim.LBFGS([W_fit, b_fit], lr=1.0, max_iter=max_iter, history_size=20,
                                tolerance_grad=1e-7, tolerance_change=1e-10,
                                line_search_fn="strong_wolfe")

        def objective() -> torch.Tensor:
            logits = X @ W_fit.T + b_fit
            task = (torch.nn.functional.cross_entropy(logits, y, reduction="none") * w).sum()
            fair = fairness_loss(logits, y, G, w)
            loss = task + 0.5 * alpha * ((W_fit - W0) ** 2).sum() + fairness_weight * fair
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
        n_iter = int(opt.state[opt._params[0]].get("n_iter", 0))
    info = {"loss": parts["loss"], "task_loss": parts["task"], "fairness_loss": parts["fair"],
            "n_iter": n_iter}
    return (W_fit.detach().float().cpu().numpy(), b_fit.detach().float().cpu().numpy(), info)


def _lbfgs(value_and_grad: Callable[[torch.Tensor], tuple[float, torch.Tensor]], x0: torch.Tensor, *,
           max_iter: int, history: int = 10, tol_grad: float = 1e-7,
           tol_change: float = 1e-10) -> tuple[torch.Tensor, int]:
    """Minimise a smooth convex function with limited-memory BFGS and a backtracking line search.

    A lean loop (one evaluation per iteration as a rule, the two-loop recursion on a short
    history) for the small, strongly convex problem of a head refit, where the bookkeeping of a
    general-purpose optimiser would cost more than the arithmetic.

    Returns
    -------
    x : Tensor
        The minimiser found.
    n_iter : int
        Iterations made.
    """
    x = x0.clone()
    f, g = value_and_grad(x)
    S: list[torch.Tensor] = []
    Yh: list[torch.Tensor] = []
    rho: list[float] = []
    it = 0
    for it in range(1, max_iter + 1):
        if float(g.abs().max()) <= tol_grad:
            it -= 1
            break
        q = g.clone()
        coef = []
        for s_i, y_i, r_i in zip(reversed(S), reversed(Yh), reversed(rho)):
            a_i = r_i * float(s_i.dot(q))
            coef.append(a_i)
            q.add_(y_i, alpha=-a_i)
        if S:
            q.mul_(float(S[-1].dot(Yh[-1])) / float(Yh[-1].dot(Yh[-1])))
        else:
            q.mul_(min(1.0, 1.0 / max(float(g.abs().sum()), 1e-12)))
        for s_i, y_i, r_i, a_i in zip(S, Yh, rho, reversed(coef)):
            q.add_(s_i, alpha=a_i - r_i * float(y_i.dot(q)))
        direction = q.neg_()
        slope = float(g.dot(direction))
        if slope >= 0:  # not a descent direction (numerical trouble): restart from the gradient
            S.clear(), Yh.clear(), rho.clear()
            direction = -g
            slope = float(g.dot(direction))
        step = 1.0
        while True:
            x_new = x + step * direction
            f_new, g_new = value_and_grad(x_new)
            if f_new <= f + 1e-4 * step * slope or step < 1e-10:
                break
            step *= 0.5
        s_vec, y_vec = x_new - x, g_new - g
        sy = float(s_vec.dot(y_vec))
        if sy > 1e-12:
            S.append(s_vec)
            Yh.append(y_vec)
            rho.append(1.0 / sy)
            if len(S) > history:
                S.pop(0), Yh.pop(0), rho.pop(0)
        converged = abs(f - f_new) <= tol_change * max(1.0, abs(f))
        x, f, g = x_new, f_new, g_new
        if converged:
            break
    return x, it
