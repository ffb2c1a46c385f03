"""The feature cache: penultimate features and logits per distinct input, shared by all clones.

Fairlearn's ExponentiatedGradient refits a clone of the estimator up to 50 times, GridSearch
deep-copies it per grid point, LIME and SHAP send the same perturbed texts again and again.  The
backbone is frozen in all of these, so its output for an input never changes: the cache keeps
it, keyed by the input itself (the text, or a digest of a numeric row), in growable float32
arrays.  When it would pass its byte limit it starts afresh (results stay exact; only speed is
lost), so memory stays bounded.
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Hashable, Sequence

import numpy as np

__all__ = ["DEFAULT_CACHE_BYTES", "FeatureCache", "row_keys"]

#: Default byte limit of one cache; ``FAIRBRIDGE_CACHE_BYTES`` in the environment overrides it.
DEFAULT_CACHE_BYTES = int(os.environ.get("FAIRBRIDGE_CACHE_BYTES", 4 << 30))


def row_keys(rows: np.ndarray) -> list[bytes]:
    """Digest keys for the rows of a numeric array (shape and dtype included)."""
    rows = np.ascontiguousarray(rows)
    tag = f"{rows.dtype.str}{rows.shape[1:]}".encode()
    flat = rows.reshape(rows.shape[0], -1).view(np.uint8)
    return [hashlib.blake2b(tag + r.tobytes(), digest_size=16).digest() for r in flat]


class FeatureCache:
    """Maps an input key to its stored features and logits.

    Parameters
    ----------
    max_bytes : int
        The cache empties itself rather than grow past this many bytes.

    Attributes
    ----------
    n_entries : int
        Inputs stored now.
    n_resets : int
        Times the cache emptied itself to stay within ``max_bytes``.
    """

    def __init__(self, max_bytes: int = DEFAULT_CACHE_BYTES) -> None:
        self.max_bytes = int(max_bytes)
        self._index: dict[Hashable, int] = {}
        self._feats: np.ndarray | None = None
        self._logits: np.ndarray | None = None
        self._lock = threading.Lock()
        self.n_resets = 0

    @property
    def n_entries(self) -> int:
        return len(self._index)

    @property
    def nbytes(self) -> int:
        if self._feats is None or self._logits is None:
            return 0
        return self._feats.nbytes + self._logits.nbytes

    def clear(self) -> None:
        """Forget every entry."""
        with self._lock:
            self._index.clear()
            self._feats = self._logits = None

    def fetch(self, keys: Sequence[Hashable]) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
        """Look ``keys`` up: ``(found_mask, features_of_found, logits_of_found)``, atomically."""
        with self._lock:
            get = self._index.get
            rows = np.fromiter((get(k, -1) for k in keys), dtype=np.int64, count=len(keys))
            found = rows >= 0
            if not found.any() or self._feats is None or self._logits is None:
                return found, None, None
            hit = rows[found]
            return found, self._feats[hit], self._logits[hit]

    def put(self, keys: Sequence[Hashable], feats: np.ndarray, logits: np.ndarray) -> None:
        """Store features and logits for ``keys`` (duplicate keys keep their first value)."""
        feats = np.asarray(feats, dtype=np.float32)
        logits = np.asarray(logits, dtype=np.float32)
        with self._lock:
            new = [i for i, k in enumerate(keys) if k not in self._index]
            if not new:
                return
            row_bytes = feats[:1].nbytes + logits[:1].nbytes
            if (len(self._index) + len(new)) * row_bytes > self.max_bytes:
                self._index.clear()
                self._feats = self._logits = None
                self.n_resets += 1
                if len(new) * row_bytes > self.max_bytes:
                    return  # a single call larger than the whole cache: keep nothing
            start = len(self._index)
            need = start + len(new)
            max_rows = max(need, self.max_bytes // max(row_bytes, 1))
            if self._feats is None or self._logits is None:
                cap = min(max(need, 1024), max_rows)
                self._feats = np.empty((cap,) + feats.shape[1:], dtype=np.float32)
                self._logits = np.empty((cap,) + logits.shape[1:], dtype=np.float32)
            elif need > self._feats.shape[0]:
                cap = min(max(need, 2 * self._feats.shape[0]), max_rows)
                self._feats = _grow(self._feats, cap)
                self._logits = _grow(self._logits, cap)
            pos = start
            taken: list[int] = []
            for i in new:
                k = keys[i]
                if k in self._index:  # repeated inside this call
                    continue
                self._index[k] = pos
                taken.append(i)
                pos += 1
            sel = np.asarray(taken, dtype=np.int64)
            self._feats[start:pos] = feats[sel]
            self._logits[start:pos] = logits[sel]


def _grow(arr: np.ndarray, cap: int) -> np.ndarray:
    out = np.empty((cap,) + arr.shape[1:], dtype=arr.dtype)
    out[: arr.shape[0]] = arr
    return out
