"""The batched inference engine shared by every adapter.

One implementation runs every forward pass of fairbridge: the adapters' ``predict_proba``, the
feature extraction behind head refits, the explainers' perturbations and the distributed
scorer's blocks.  What it does, in order:

* sorts the inputs by length (longest first, so an out-of-memory shows on the first batch) and
  pads each batch only to its own longest row (*dynamic padding*);
* sizes batches by a token budget when ``batch_size="auto"`` (short rows make big batches), and
  halves the budget and carries on when the device runs out of memory;
* runs under :func:`torch.inference_mode`, with bf16 or fp16 autocast on CUDA;
* copies inputs from pinned host memory with ``non_blocking=True`` on CUDA and gathers outputs
  on the device, copying them back in large chunks rather than once per batch;
* shows a tqdm bar once a run has lasted two seconds (``progress=False`` silences it);
* returns float32 arrays in the caller's order (the adapters widen to float64).
"""

from __future__ import annotations

import contextlib
import dataclasses
import warnings
from collections.abc import Callable, Mapping
from typing import Literal, Union

import numpy as np
import torch
from tqdm.auto import tqdm

from fairbridge._validation import check_int, check_one_of

__all__ = ["EngineSettings", "ForwardStats", "resolve_device", "resolve_precision", "run_batched"]

Precision = Literal["auto", "fp32", "bf16", "fp16"]
BatchSize = Union[int, Literal["auto"]]

#: Tokens (rows x padded length) per batch that ``batch_size="auto"`` starts from.
AUTO_TOKEN_BUDGET = {"cuda": 1 << 17, "cpu": 1 << 13, "mps": 1 << 14}
#: The most rows ``batch_size="auto"`` puts in one batch, however short they are.
AUTO_MAX_ROWS = {"cuda": 4096, "cpu": 256, "mps": 512}
#: Output bytes gathered on the device before one copy back to the host.
_FLUSH_BYTES = 64 << 20


@dataclasses.dataclass
class ForwardStats:
    """Counters of the work a backbone did; every clone of an adapter shares one.

    Attributes
    ----------
    rows : int
        Inputs that went through the network's forward pass.
    batches : int
        Forward calls (batches) made.
    calls : int
        Calls of the engine that reached the network (cache misses).
    cache_hits : int
        Inputs answered from the feature cache without a forward pass.
    oom_backoffs : int
        Times a batch was split after the device ran out of memory.
    """

    rows: int = 0
    batches: int = 0
    calls: int = 0
    cache_hits: int = 0
    oom_backoffs: int = 0

    def snapshot(self) -> dict[str, int]:
        """The counters as a plain dict (to diff before and after some work)."""
        return dataclasses.asdict(self)


@dataclasses.dataclass
class EngineSettings:
    """How the engine runs: resolved device, autocast dtype, batch sizing and progress."""

    device: torch.device
    amp_dtype: torch.dtype | None
    batch_size: BatchSize = "auto"
    progress: bool = True
    token_budget: int | None = None  # the auto budget; shrinks after out-of-memory

    def budget(self) -> int:
        if self.token_budget is None:
            self.token_budget = AUTO_TOKEN_BUDGET.get(self.device.type, 1 << 13)
        return self.token_budget


def resolve_device(device: str | torch.device, *, who: str) -> torch.device:
    """Turn ``"auto"``, ``"cpu"``, ``"cuda"``, ``"cuda:1"`` or a device into a torch device."""
    if isinstance(device, torch.device):
        return device
    if device == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda", torch.cuda.current_device())
        return torch.device("cpu")
    if not isinstance(device, str):
        raise TypeError(
            f"{who}: argument 'device' must be 'auto', 'cpu', 'cuda', 'cuda:N' or a torch.device, "
            f"but got {device!r}. Pass device='auto' to use CUDA when present."
        )
    try:
        dev = torch.device(device)
    except RuntimeError as exc:
        raise ValueError(
            f"{who}: argument 'device' must be 'auto', 'cpu', 'cuda' or 'cuda:N', but got "
            f"{device!r} ({exc}). Pass device='auto'."
        ) from exc
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(
            f"{who}: argument 'device' asks for {device!r}, but CUDA is not available on this "
            "machine. Pass device='auto' (CUDA when present, else CPU) or device='cpu'."
        )
    return dev


def resolve_precision(precision: Precision, device: torch.device, *, who: str) -> torch.dtype | None:
    """The autocast dtype for ``precision`` on ``device`` (``None``: plain float32)."""
    check_one_of(who, "precision", precision, ["auto", "fp32", "bf16", "fp16"])
    if precision == "fp32":
        return None
    if device.type != "cuda":
        if precision == "auto":
            return None
        if precision == "fp16":
            raise ValueError(
                f"{who}: argument 'precision' is 'fp16', but fp16 autocast needs CUDA and the "
                f"device is {device}. Pass precision='fp32' or 'bf16', or use a CUDA device."
            )
        return torch.bfloat16
    if precision == "auto":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return torch.bfloat16 if precision == "bf16" else torch.float16


def check_batch_size(batch_size: BatchSize, *, who: str) -> BatchSize:
    """Check ``batch_size``: a positive int or ``"auto"``."""
    return check_int(who, "batch_size", batch_size, minimum=1, allow=("auto",))


def _is_oom(exc: BaseException) -> bool:
    if isinstance(exc, torch.cuda.OutOfMemoryError):
        return True
    return isinstance(exc, RuntimeError) and "out of memory" in str(exc).lower()


def _rows_for(settings: EngineSettings, padded_len: int) -> int:
    if settings.batch_size != "auto":
        return int(settings.batch_size)
    cap = AUTO_MAX_ROWS.get(settings.device.type, 256)
    return max(1, min(cap, settings.budget() // max(1, padded_len)))


def _to_device(batch: Mapping[str, torch.Tensor], device: torch.device) -> dict[str, torch.Tensor]:
    if device.type != "cuda":
        return {k: v.to(device) for k, v in batch.items()}
    return {k: v.pin_memory().to(device, non_blocking=True) for k, v in batch.items()}


def run_batched(
    n: int,
    *,
    collate: Callable[[np.ndarray], Mapping[str, torch.Tensor]],
    forward: Callable[[dict[str, torch.Tensor]], tuple[torch.Tensor, torch.Tensor]],
    settings: EngineSettings,
    lengths: np.ndarray | None = None,
    stats: ForwardStats | None = None,
    desc: str = "scoring",
    bar: tqdm | None = None,
    count_call: bool = True,
) -> tuple[np.ndarray, np.ndarray]:
    """Run ``forward`` over ``n`` inputs in batches; return features and logits in input order.

    Parameters
    ----------
    n : int
        Number of inputs.
    collate : callable
        ``collate(index_array) -> {name: cpu tensor}``: builds the (padded) batch of those rows.
    forward : callable
        ``forward(batch_on_device) -> (features, logits)``, each of shape ``(rows, ...)``.
    settings : EngineSettings
        Device, autocast dtype, batch sizing and progress.
    lengths : ndarray of int, optional
        Length of each input in tokens; inputs are sorted by it and batches sized from it.
        ``None`` treats every input as length 1 (fixed-size rows).
    stats : ForwardStats, optional
        Counters to update.
    desc : str
        Label of the progress bar.
    bar : tqdm, optional
        An outer progress bar to advance instead of opening one.
    count_call : bool, default=True
        Count this run in ``stats.calls`` (a caller that splits one call into several runs
        counts only the first).

    Returns
    -------
    features, logits : ndarray of float32
        ``features[i]`` and ``logits[i]`` belong to input ``i``.
    """
    if lengths is None:
        order = np.arange(n)
        sorted_lengths = np.ones(n, dtype=np.int64)
    else:
        lengths = np.asarray(lengths, dtype=np.int64)
        order = np.argsort(-lengths, kind="stable")
        sorted_lengths = lengths[order]
    device = settings.device
    own_bar = bar is None and settings.progress
    if own_bar:
        bar = tqdm(total=n, desc=desc, unit="row", delay=2.0, leave=False, dynamic_ncols=True)
    autocast = (
        torch.autocast(device_type=device.type, dtype=settings.amp_dtype)
        if settings.amp_dtype is not None
        else contextlib.nullcontext()
    )
    feats_out: np.ndarray | None = None
    logits_out: np.ndarray | None = None
    pending: list[tuple[np.ndarray, torch.Tensor, torch.Tensor]] = []
    pending_bytes = 0

    def flush() -> None:
        nonlocal feats_out, logits_out, pending_bytes
        if not pending:
            return
        idx = np.concatenate([p[0] for p in pending])
        f = torch.cat([p[1] for p in pending]).float().cpu().numpy()
        lg = torch.cat([p[2] for p in pending]).float().cpu().numpy()
        if feats_out is None:
            feats_out = np.empty((n,) + f.shape[1:], dtype=np.float32)
            logits_out = np.empty((n,) + lg.shape[1:], dtype=np.float32)
        feats_out[idx] = f
        logits_out[idx] = lg
        pending.clear()
        pending_bytes = 0

    pos = 0
    try:
        with torch.inference_mode(), autocast:
            while pos < n:
                rows = min(_rows_for(settings, int(sorted_lengths[pos])), n - pos)
                idx = order[pos : pos + rows]
                try:
                    batch = _to_device(collate(idx), device)
                    feats, logits = forward(batch)
                except Exception as exc:  # noqa: BLE001 - re-raised unless out of memory
                    if not _is_oom(exc):
                        raise
                    del exc
                    if device.type == "cuda":
                        torch.cuda.empty_cache()
                    if rows == 1:
                        raise RuntimeError(
                            "fairbridge engine: a single input does not fit in device memory "
                            f"on {device}. Lower max_length, use precision='bf16', or use a "
                            "device with more memory."
                        ) from None
                    half = max(1, rows // 2)
                    if settings.batch_size == "auto":
                        settings.token_budget = max(1, half * int(sorted_lengths[pos]))
                    else:
                        settings.batch_size = half
                    if stats is not None:
                        stats.oom_backoffs += 1
                    warnings.warn(
                        f"fairbridge engine: out of memory on {device} with {rows} rows per "
                        f"batch; carrying on with {half}.",
                        RuntimeWarning,
                        stacklevel=2,
                    )
                    continue
                if feats.ndim == 1:
                    feats = feats[:, None]
                pending.append((idx, feats.detach(), logits.detach()))
                pending_bytes += feats.numel() * feats.element_size() + logits.numel() * 4
                if stats is not None:
                    stats.rows += rows
                    stats.batches += 1
                pos += rows
                if bar is not None:
                    bar.update(rows)
                if pending_bytes >= _FLUSH_BYTES:
                    flush()
            flush()
    finally:
        if own_bar and bar is not None:
            bar.close()
    if stats is not None and count_call:
        stats.calls += 1
    assert feats_out is not None and logits_out is not None
    return feats_out, logits_out
