"""Probabilities from logits: the one softmax every scorer uses (adapters, Ray actors, heads).

Kept out of the adapters package so that code which only needs it does not import torch.
"""

from __future__ import annotations

import numpy as np

__all__ = ["log_softmax", "softmax"]


def softmax(z: np.ndarray) -> np.ndarray:
    """Row-wise softmax of ``(n, k)`` logits, stable for large values (a new array)."""
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def log_softmax(z: np.ndarray) -> np.ndarray:
    """Row-wise log-softmax of ``(n, k)`` logits (a new array)."""
    z = z - z.max(axis=1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=1, keepdims=True))
