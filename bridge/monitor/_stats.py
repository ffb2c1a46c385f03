"""Vectorised statistics of the deployment monitor: tables, Poisson bootstrap, tests.

A window (or the reference) is summarised once, with ``np.bincount``, into a table of counts,
score sums and calibrated-probability sums per cell ``(group, prediction, label, score bin)``
(labels ``0``, ``1`` or ``2`` for "unknown"; 256 score bins).  Every metric is a function of
that table, so the bootstrap never touches the rows again:

*Poisson bootstrap on the table.*  The row-level Poisson bootstrap gives every row a weight
``w_i ~ Poisson(1)``; the weighted count of a cell with ``c`` rows is then a sum of ``c``
independent ``Poisson(1)`` variables, which is exactly ``Poisson(c)``.  Drawing one
``Poisson(c)`` weight per non-empty cell is therefore the row-level bootstrap, in ``O(cells)``
instead of ``O(rows)`` per replicate (score sums use the cell's mean score, which ignores only
the spread inside a 1/256-wide score bin).  A 1-million-row window costs one ``bincount``
pass plus a few milliseconds of bootstrap.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from statistics import NormalDist
from typing import Literal

import numpy as np

__all__ = [
    "N_BINS",
    "Tables",
    "compare",
    "disparities",
    "group_metrics",
    "interval",
    "tabulate",
]

#: Score bins of the summary table.
N_BINS = 256
#: Label codes in the table.
UNKNOWN = 2

PerfMode = Literal["labeled", "estimated", "none"]


@dataclass
class Tables:
    """Sums per cell, shape ``(B, groups, 2 predictions, 3 label codes)``.

    ``B`` is 1 for the point estimate and ``n_bootstrap`` for the replicates.
    """

    counts: np.ndarray
    scores: np.ndarray
    probs: np.ndarray | None
    histogram: np.ndarray | None = None  # (groups, N_BINS) counts, point table only


def tabulate(group: np.ndarray, pred: np.ndarray, label: np.ndarray, score: np.ndarray,
             prob: np.ndarray | None, *, n_groups: int, n_bootstrap: int,
             rng: np.random.Generator) -> tuple[Tables, Tables]:
    """Point table and Poisson-bootstrap replicates of one dataset.

    Parameters
    ----------
    group : int array (n,)
        Group codes ``0 .. n_groups - 1``.
    pred : int array (n,)
        Predictions 0/1.
    label : int array (n,)
        Labels 0/1, or 2 when unknown.
    score : float array (n,)
        Scores in [0, 1].
    prob : float array (n,) or None
        Calibrated probabilities (CBPE); NaN where a group has no calibrator.
    n_groups, n_bootstrap : int
        Table size and number of replicates.
    rng : Generator
        Source of the Poisson weights.

    Returns
    -------
    point, replicates : Tables
    """
    bins = np.minimum((score * N_BINS).astype(np.int64), N_BINS - 1)
    key = ((group.astype(np.int64) * 2 + pred) * 3 + label) * N_BINS + bins
    size = n_groups * 6 * N_BINS
    counts = np.bincount(key, minlength=size).astype(np.float64)
    ssum = np.bincount(key, weights=score, minlength=size)
    psum = None if prob is None else np.bincount(key, weights=prob, minlength=size)
    shape = (n_groups, 2, 3, N_BINS)
    point = Tables(
        counts=counts.reshape(shape).sum(-1)[None],
        scores=ssum.reshape(shape).sum(-1)[None],
        probs=None if psum is None else psum.reshape(shape).sum(-1)[None],
        histogram=counts.reshape(shape).sum(axis=(1, 2)),
    )
    nz = np.flatnonzero(counts)
    c = counts[nz]
    cell = nz // N_BINS  # sorted, so the cells are contiguous runs
    starts = np.flatnonzero(np.r_[True, cell[1:] != cell[:-1]])
    cells = cell[starts]
    mean_score = ssum[nz] / c
    mean_prob = None if psum is None else psum[nz] / c
    n_cells = n_groups * 6
    rc = np.zeros((n_bootstrap, n_cells))
    rs = np.zeros((n_bootstrap, n_cells))
    rp = None if psum is None else np.zeros((n_bootstrap, n_cells))
    block = max(1, min(n_bootstrap, 2_000_000 // max(1, nz.size)))
    for lo in range(0, n_bootstrap, block):  # blocks of replicates bound the memory
        w = rng.poisson(c, size=(min(block, n_bootstrap - lo), nz.size)).astype(np.float64)
        sl = slice(lo, lo + w.shape[0])
        rc[sl, cells] = np.add.reduceat(w, starts, axis=1)
        rs[sl, cells] = np.add.reduceat(w * mean_score, starts, axis=1)
        if rp is not None:
            rp[sl, cells] = np.add.reduceat(w * mean_prob, starts, axis=1)
    shape = (n_bootstrap, n_groups, 2, 3)
    reps = Tables(counts=rc.reshape(shape), scores=rs.reshape(shape),
                  probs=None if rp is None else rp.reshape(shape))
    return point, reps


def _div(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(b > 0, a / np.where(b > 0, b, 1.0), np.nan)


def group_metrics(t: Tables, mode: PerfMode) -> dict[str, np.ndarray]:
    """Per-group metrics of a table, each of shape ``(B, groups)``.

    ``mode="labeled"`` uses the label cells; ``"estimated"`` uses the calibrated-probability
    sums (CBPE: expected TP = sum of p over predicted positives, and so on); ``"none"`` gives
    no performance metric.  Also returns ``n``, ``positives`` and ``negatives`` (expected
    counts when estimated).
    """
    c = t.counts
    n = c.sum(axis=(2, 3))
    out = {"n": n, "selection_rate": _div(c[:, :, 1, :].sum(-1), n),
           "mean_score": _div(t.scores.sum(axis=(2, 3)), n)}
    if mode == "none":
        return out
    if mode == "labeled":
        tp, fn = c[:, :, 1, 1], c[:, :, 0, 1]
        fp, tn = c[:, :, 1, 0], c[:, :, 0, 0]
    else:
        assert t.probs is not None
        tp = t.probs[:, :, 1, :].sum(-1)
        fn = t.probs[:, :, 0, :].sum(-1)
        fp = c[:, :, 1, :].sum(-1) - tp
        tn = c[:, :, 0, :].sum(-1) - fn
    out.update(positives=tp + fn, negatives=fp + tn, tpr=_div(tp, tp + fn), fpr=_div(fp, fp + tn),
               accuracy=_div(tp + tn, tp + fn + fp + tn))
    return out


def _spread(a: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(max - min, min, max)`` over the columns, NaN-aware; NaN with fewer than two values."""
    if a.shape[1] == 0:
        nan = np.full(a.shape[0], np.nan)
        return nan, nan, nan
    with np.errstate(invalid="ignore"):
        hi = np.where(np.isnan(a), -np.inf, a).max(axis=1)
        lo = np.where(np.isnan(a), np.inf, a).min(axis=1)
    ok = np.isfinite(a).sum(axis=1) >= 2
    return np.where(ok, hi - lo, np.nan), np.where(ok, lo, np.nan), np.where(ok, hi, np.nan)


def disparities(m: dict[str, np.ndarray], eligible: np.ndarray,
                eligible_perf: np.ndarray | None) -> dict[str, np.ndarray]:
    """Disparities over the eligible groups, each of shape ``(B,)``.

    ``demographic_parity_difference`` (max - min selection rate), ``demographic_parity_ratio``
    (min / max), and with performance metrics ``equal_opportunity_difference`` (TPR spread) and
    ``equalized_odds_difference`` (the larger of the TPR and FPR spreads).
    """
    out: dict[str, np.ndarray] = {}
    sel = m["selection_rate"][:, eligible]
    diff, lo, hi = _spread(sel)
    out["demographic_parity_difference"] = diff
    out["demographic_parity_ratio"] = _div(lo, hi)
    if eligible_perf is not None and "tpr" in m:
        tpr, _, _ = _spread(m["tpr"][:, eligible_perf])
        fpr, _, _ = _spread(m["fpr"][:, eligible_perf])
        out["equal_opportunity_difference"] = tpr
        out["equalized_odds_difference"] = np.where(np.isnan(tpr), fpr,
                                                    np.where(np.isnan(fpr), tpr, np.fmax(tpr, fpr)))
    return out


@dataclass
class Comparison:
    """A window value against the reference, with intervals and a two-sided p-value."""

    value: float
    low: float
    high: float
    reference: float
    reference_low: float
    reference_high: float
    difference: float
    difference_low: float
    difference_high: float
    p_value: float


def interval(reps: np.ndarray, alpha: float) -> tuple[float, float]:
    """Percentile interval of bootstrap replicates at level ``1 - alpha`` (NaN if too few)."""
    r = reps[np.isfinite(reps)]
    if r.size < 2:
        return math.nan, math.nan
    lo, hi = np.quantile(r, [alpha / 2, 1 - alpha / 2])
    return float(lo), float(hi)


def _se(reps: np.ndarray) -> float:
    r = reps[np.isfinite(reps)]
    return float(r.std(ddof=1)) if r.size >= 2 else math.nan


def compare(value: float, reps: np.ndarray, reference: float, reference_reps: np.ndarray,
            alpha: float) -> Comparison:
    """Compare a window statistic with the reference's, both with bootstrap replicates.

    The difference's standard error adds the two bootstrap variances (window and reference
    are independent samples), so the reference's own sampling error is accounted for.
    The p-value is the two-sided normal test of "no change"; intervals are at level
    ``1 - alpha`` (percentile intervals for the values, normal for the difference).
    """
    low, high = interval(reps, alpha)
    rlow, rhigh = interval(reference_reps, alpha)
    diff = value - reference
    se = math.hypot(_se(reps), _se(reference_reps))
    z = NormalDist().inv_cdf(1 - alpha / 2)
    if not math.isfinite(diff) or math.isnan(se):
        p = math.nan
    elif se > 0:
        p = math.erfc(abs(diff) / se / math.sqrt(2))
    else:
        p = 0.0 if diff != 0 else 1.0
    return Comparison(value, low, high, reference, rlow, rhigh, diff, diff - z * se, diff + z * se, p)


def adjust(p_values: list[float], method: Literal["holm", "bh"]) -> np.ndarray:
    """Multiplicity-adjusted p-values: Holm's step-down (family-wise error) or
    Benjamini-Hochberg's step-up (false discovery rate); the same numbers as
    ``statsmodels.stats.multitest.multipletests(method="holm" | "fdr_bh")``."""
    p = np.asarray(p_values, dtype=np.float64)
    m = p.size
    if m == 0:
        return p
    order = np.argsort(p, kind="stable")
    ranked = p[order]
    if method == "holm":
        adj = np.maximum.accumulate(np.minimum(1.0, (m - np.arange(m)) * ranked))
    else:
        adj = np.minimum.accumulate((m / np.arange(1, m + 1) * ranked)[::-1])[::-1]
        adj = np.minimum(1.0, adj)
    out = np.empty(m)
    out[order] = adj
    return out
