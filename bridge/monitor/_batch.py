"""``BatchMonitor``: per-group rates accumulated over batches with torchmetrics."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from fairbridge._optional import import_optional
from fairbridge._validation import check_int, check_number, describe, problem

from ._metrics import group_label

__all__ = ["BatchMonitor"]

_WHO = "BatchMonitor"


class BatchMonitor:
    """Group fairness accumulated over the batches of a plain PyTorch loop.

    The counts live in torchmetrics' group-fairness metrics
    (``BinaryGroupStatRates`` for the per-group confusion rates, ``BinaryFairness`` for the
    demographic-parity and equal-opportunity ratios), so they follow the metrics' device and
    are synchronised across processes under distributed training.

    Parameters
    ----------
    num_groups : int
        Number of groups; group ids are ``0 .. num_groups - 1``.
    threshold : float, default=0.5
        A probability above the threshold is a positive prediction.
    group_names : sequence of str, optional
        Names of the groups in the output keys (default ``"0"``, ``"1"``, ...).
    prefix : str, default="fairness"
        Key prefix of :meth:`compute`.

    Attributes
    ----------
    n_updates_ : int
        Batches seen since the last :meth:`reset`.
    rates_metric_ : torchmetrics.classification.BinaryGroupStatRates
        The underlying per-group rates metric.
    fairness_metric_ : torchmetrics.classification.BinaryFairness
        The underlying ratio metric.

    Notes
    -----
    Each update adds one ignored row per group (target ``-1``, torchmetrics' ``ignore_index``):
    torchmetrics numbers the groups present *in the batch*, so a batch without group 0 would
    otherwise credit group 1's counts to group 0 (torchmetrics 1.9).

    Examples
    --------
    >>> mon = BatchMonitor(num_groups=2)                      # doctest: +SKIP
    >>> for x, y, a in loader:                                # doctest: +SKIP
    ...     mon.update(torch.sigmoid(model(x)), y, a)
    >>> mon.compute()["fairness/demographic_parity_difference"]  # doctest: +SKIP
    """

    def __init__(self, num_groups: int, *, threshold: float = 0.5,
                 group_names: Sequence[str] | None = None, prefix: str = "fairness") -> None:
        self.num_groups = check_int(_WHO, "num_groups", num_groups, minimum=2)
        self.threshold = check_number(_WHO, "threshold", threshold, minimum=0.0, maximum=1.0)
        if group_names is not None:
            names = [str(g) for g in group_names]
            if len(names) != self.num_groups or len(set(names)) != len(names):
                raise ValueError(problem(_WHO, "argument 'group_names'",
                                         f"must hold {self.num_groups} distinct names",
                                         describe(group_names), "Pass one name per group id."))
            self.group_names = names
        else:
            self.group_names = [str(i) for i in range(self.num_groups)]
        self.prefix = prefix
        tm = import_optional("torchmetrics.classification", purpose="fairbridge.monitor.BatchMonitor")
        kw = {"num_groups": self.num_groups, "threshold": self.threshold, "ignore_index": -1,
              "validate_args": False}
        self.rates_metric_ = tm.BinaryGroupStatRates(**kw)
        self.fairness_metric_ = tm.BinaryFairness(task="all", **kw)
        self.n_updates_ = 0

    # -- input ---------------------------------------------------------------------------------
    def _tensors(self, probs: Any, labels: Any, groups: Any) -> tuple[Any, Any, Any]:
        import torch

        def as_tensor(x: Any, name: str) -> torch.Tensor:
            if isinstance(x, torch.Tensor):
                return x.detach()
            try:
                return torch.as_tensor(np.asarray(x))
            except (TypeError, ValueError) as exc:
                raise TypeError(problem(_WHO, f"argument {name!r}", "must be a tensor or array",
                                        describe(x), "Pass a torch tensor.")) from exc

        p, y, g = as_tensor(probs, "probs"), as_tensor(labels, "labels"), as_tensor(groups, "groups")
        if p.ndim == 2 and p.shape[1] == 2:
            p = p[:, 1]  # softmax output: the positive column
        p, y, g = p.reshape(-1), y.reshape(-1), g.reshape(-1)
        if not (p.shape[0] == y.shape[0] == g.shape[0]):
            raise ValueError(problem(_WHO, "arguments 'probs', 'labels' and 'groups'",
                                     "must have the same length",
                                     f"{p.shape[0]}, {y.shape[0]} and {g.shape[0]}",
                                     "Pass one probability, label and group per example."))
        if p.shape[0] == 0:
            raise ValueError(problem(_WHO, "argument 'probs'", "must hold at least one example",
                                     "an empty batch", "Skip empty batches."))
        if not p.is_floating_point():
            raise TypeError(problem(_WHO, "argument 'probs'", "must hold probabilities (floats)",
                                    f"dtype {p.dtype}", "Pass torch.sigmoid(logits) or "
                                    "softmax(logits)[:, 1]."))
        p = p.float()
        bad = ~torch.isfinite(p) | (p < 0) | (p > 1)
        if bool(bad.any()):
            raise ValueError(problem(_WHO, "argument 'probs'", "must be probabilities in [0, 1]",
                                     f"{int(bad.sum())} value(s) outside [0, 1] or NaN",
                                     "Apply torch.sigmoid (or softmax) to logits first."))
        if y.is_floating_point():
            if bool(((y != 0) & (y != 1)).any()):
                raise ValueError(problem(_WHO, "argument 'labels'", "must be 0 or 1",
                                         "other values", "Pass binary labels."))
        y = y.long()
        if bool(((y != 0) & (y != 1)).any()):
            raise ValueError(problem(_WHO, "argument 'labels'", "must be 0 or 1",
                                     f"values {torch.unique(y)[:6].tolist()}", "Pass binary labels."))
        if g.is_floating_point() or g.dtype == torch.bool:
            g = g.long()
        g = g.long()
        if bool(((g < 0) | (g >= self.num_groups)).any()):
            raise ValueError(problem(_WHO, "argument 'groups'",
                                     f"must hold group ids 0..{self.num_groups - 1}",
                                     f"values {torch.unique(g)[:6].tolist()}",
                                     "Encode groups as integers, or raise num_groups."))
        return p, y, g

    # -- metric API ------------------------------------------------------------------------------
    def update(self, probs: Any, labels: Any, groups: Any) -> None:
        """Add one batch.

        Parameters
        ----------
        probs : tensor or array of shape (n,) or (n, 2)
            Probabilities of the positive class (or both columns of a softmax).
        labels : tensor or array of shape (n,)
            Binary labels.
        groups : tensor or array of shape (n,)
            Group ids ``0 .. num_groups - 1``.
        """
        import torch

        p, y, g = self._tensors(probs, labels, groups)
        device = self.rates_metric_.tp.device
        pad = torch.arange(self.num_groups, device=device)
        p = torch.cat([p.to(device), torch.zeros(self.num_groups, device=device)])
        y = torch.cat([y.to(device), torch.full((self.num_groups,), -1, device=device)])
        g = torch.cat([g.to(device), pad])
        self.rates_metric_.update(p, y, g)
        self.fairness_metric_.update(p, y, g)
        self.n_updates_ += 1

    def to(self, device: Any) -> BatchMonitor:
        """Move the metric states to ``device``; returns ``self``."""
        self.rates_metric_ = self.rates_metric_.to(device)
        self.fairness_metric_ = self.fairness_metric_.to(device)
        return self

    def reset(self) -> None:
        """Forget every batch seen so far."""
        self.rates_metric_.reset()
        self.fairness_metric_.reset()
        self.n_updates_ = 0

    def by_group(self) -> pd.DataFrame:
        """Per-group ``count``, ``selection_rate``, ``accuracy``, ``tpr`` and ``fpr``.

        Rates come from ``BinaryGroupStatRates.compute()`` (fractions ``tp, fp, tn, fn`` of
        each group's examples); a group with no example has NaN rates.
        """
        if self.n_updates_ == 0:
            raise ValueError(problem(_WHO, "the monitor", "must have seen a batch",
                                     "no update since the last reset", "Call update() first."))
        rates = self.rates_metric_.compute()
        counts = (self.rates_metric_.tp + self.rates_metric_.fp + self.rates_metric_.tn
                  + self.rates_metric_.fn).cpu().numpy()
        rows = []
        for i, name in enumerate(self.group_names):
            tp, fp, tn, fn = (float(v) for v in rates[f"group_{i}"].double().cpu().numpy())
            with np.errstate(invalid="ignore", divide="ignore"):
                rows.append({"group": name, "count": int(counts[i]),
                             "selection_rate": tp + fp, "accuracy": tp + tn,
                             "tpr": np.float64(tp) / (tp + fn), "fpr": np.float64(fp) / (fp + tn)})
        return pd.DataFrame(rows).set_index("group")

    def compute(self) -> dict[str, float]:
        """Per-group rates and disparities, keyed like :func:`trainer_metrics`.

        Returns
        -------
        dict of str to float
            ``<prefix>/<rate>/<group>`` (``selection_rate``, ``accuracy``, ``tpr``, ``fpr``,
            ``count``), the differences ``demographic_parity_difference``,
            ``equalized_odds_difference``, ``equal_opportunity_difference`` (max - min over
            groups with examples), and the ratios ``demographic_parity_ratio`` and
            ``equal_opportunity_ratio`` from ``BinaryFairness`` (min / max; NaN while a
            group has no example).
        """
        table = self.by_group()
        out: dict[str, float] = {}
        for name, row in table.iterrows():
            for col in ("selection_rate", "accuracy", "tpr", "fpr", "count"):
                out[f"{self.prefix}/{col}/{group_label(name)}"] = float(row[col])

        def spread(col: str) -> float:
            v = table[col].to_numpy(dtype=np.float64)
            v = v[np.isfinite(v)]
            return float(v.max() - v.min()) if v.size >= 2 else float("nan")

        out[f"{self.prefix}/demographic_parity_difference"] = spread("selection_rate")
        out[f"{self.prefix}/equal_opportunity_difference"] = spread("tpr")
        both = [v for v in (spread("tpr"), spread("fpr")) if np.isfinite(v)]
        out[f"{self.prefix}/equalized_odds_difference"] = max(both) if both else float("nan")
        ratios = self.fairness_metric_.compute()
        complete = bool((table["count"] > 0).all())
        for key, value in ratios.items():
            name = ("demographic_parity_ratio" if key.startswith("DP_")
                    else "equal_opportunity_ratio")
            # torchmetrics counts a group without examples as rate 0: report NaN instead
            out[f"{self.prefix}/{name}"] = float(value) if complete else float("nan")
        return out
