"""How class labels map to a network's output columns."""

from __future__ import annotations

import numpy as np
from sklearn.utils.multiclass import type_of_target

from fairbridge._validation import problem

__all__ = ["encode_labels"]


def encode_labels(y: np.ndarray, n_classes: int, names: list[str] | None, *,
                  who: str) -> tuple[np.ndarray, np.ndarray]:
    """Map labels to the network's output columns: ``(classes_, target_indices)``.

    Parameters
    ----------
    y : ndarray of shape (n_samples,)
        Validated labels.
    n_classes : int
        Outputs of the network (at least 2).
    names : list of str or None
        The network's label names (``config.id2label``), if meaningful.
    who : str
        For error messages.

    Rules, in order:

    * integer labels within ``0..n_classes-1`` are the output indices themselves;
    * labels that are all among the network's label names (``config.id2label``) map by name;
    * otherwise exactly ``n_classes`` distinct labels map in sorted order.
    """
    kind = type_of_target(y)
    if kind not in ("binary", "multiclass"):
        raise ValueError(problem(
            who, "argument 'y'", "must hold class labels (binary or multiclass)",
            f"Unknown label type: {kind!r}",
            "Pass discrete labels; a classifier cannot fit continuous targets."))
    uniq = np.unique(y)
    if uniq.dtype.kind in "iub" or (uniq.dtype.kind == "f" and np.all(np.mod(uniq, 1) == 0)):
        ints = uniq.astype(np.int64)
        if ints.min() >= 0 and ints.max() < n_classes:
            return np.arange(n_classes), y.astype(np.int64)
    if names is not None and all(isinstance(v, str) and v in names for v in uniq):
        lookup = {name: i for i, name in enumerate(names)}
        return np.array(names, dtype=object), np.array([lookup[v] for v in y], dtype=np.int64)
    if uniq.size == n_classes:
        return uniq, np.searchsorted(uniq, y).astype(np.int64)
    named = f" named {names}" if names is not None else ""
    raise ValueError(problem(
        who, "argument 'y'",
        f"must match the model's {n_classes} outputs{named}: integers 0..{n_classes - 1}, "
        f"the label names, or exactly {n_classes} distinct labels",
        f"{uniq.size} distinct labels {uniq[:6].tolist()}",
        "Encode y as the model's label ids, or load a checkpoint with as many labels as y has."))
