"""Loaded networks shared by every clone of an adapter.

An adapter's parameters are *recipes* (a checkpoint path or hub id, a module class and its
arguments) or a :class:`~fairbridge.adapters.SharedModel` handle whose copy is itself.  Whatever
the recipe, the network is loaded once per process (``_loading.py``) into a :class:`Backbone`,
which also owns the feature cache and the forward counters; ``copy.deepcopy`` and
``sklearn.base.clone`` of an adapter never copy weights, and every fitted clone points at the
same backbone object.

The penultimate features are the input of the network's final linear layer (the *head*),
captured with a forward pre-hook; this works for BERT-, RoBERTa- and DistilBERT-style heads and
for plain ``nn.Module`` classifiers alike, and it is checked once per backbone: the head applied
to the captured features must reproduce the network's logits.
"""

from __future__ import annotations

import contextlib
import itertools
import threading
from concurrent.futures import ThreadPoolExecutor
import warnings
from collections.abc import Callable, Hashable, Iterator, Sequence
from typing import Any

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from ._cache import FeatureCache, row_keys
from ._engine import EngineSettings, ForwardStats, run_batched

__all__ = ["Backbone", "TensorBackbone", "TextBackbone", "class_logits"]

_CHUNK = 1 << 16  # inputs scored per engine call (bounds the memory of one call)
#: Texts tokenised at once; the next slice is tokenised while the current one is scored.
_TOKENIZE_CHUNK = 4096


def _find_head(model: nn.Module, n_outputs: int | None, head: str | None, *, who: str) -> tuple[str, nn.Linear] | None:
    """The final linear layer: the one named ``head``, or the last ``nn.Linear`` in the module."""
    modules = dict(model.named_modules())
    if head is not None:
        if head not in modules:
            linear = [n for n, m in modules.items() if isinstance(m, nn.Linear)]
            raise ValueError(
                f"{who}: argument 'head' must name a submodule of the network, but got {head!r}. "
                f"Its linear layers are {linear[-5:]}; pass the one that outputs the logits."
            )
        if not isinstance(modules[head], nn.Linear):
            raise TypeError(
                f"{who}: argument 'head' must name an nn.Linear, but {head!r} is a "
                f"{type(modules[head]).__name__}. Pass the final linear layer's name."
            )
        return head, modules[head]
    found = None
    for name, m in modules.items():
        if isinstance(m, nn.Linear) and (n_outputs is None or m.out_features == n_outputs):
            found = (name, m)
    return found


@contextlib.contextmanager
def _eval_mode(model: nn.Module) -> Iterator[None]:
    """Run in eval mode and restore the caller's training flags afterwards."""
    flags = [(m, m.training) for m in model.modules()]
    model.eval()
    try:
        yield
    finally:
        for m, was in flags:
            m.training = was


class Backbone:
    """A loaded network with its head locator, feature cache and forward counters.

    Shared, never copied: ``copy.deepcopy`` returns the object itself.  Subclasses say how to
    key, batch and run their inputs (:class:`TextBackbone`, :class:`TensorBackbone`).

    Attributes
    ----------
    model : torch.nn.Module
        The network.
    device : torch.device
        Where it runs.
    head_name : str or None
        Dotted name of the final linear layer (``None`` if none was found).
    stats : ForwardStats
        Forward-pass counters, shared by every adapter that uses this backbone.
    recipe : dict or None
        How to load the network again (a path or hub id), ``None`` for an in-memory network.
    """

    kind = "base"

    def __init__(self, model: nn.Module, *, device: torch.device, recipe: dict | None,
                 owns_model: bool, head: str | None = None, who: str = "fairbridge") -> None:
        self.model = model
        self.device = device
        self.recipe = recipe
        self.owns_model = owns_model
        self._head_arg = head
        self._who = who
        self.stats = ForwardStats()
        self._caches: dict[Hashable, FeatureCache] = {}
        self._lock = threading.RLock()
        self._head: tuple[str, nn.Linear] | None = None
        self._head_checked = False
        self.n_outputs: int | None = None
        #: The engine's token budget after an out-of-memory back-off (``None``: the default).
        self.token_budget: int | None = None
        if owns_model:
            model.eval()
            for p in model.parameters():
                p.requires_grad_(False)

    # Shared, never copied ---------------------------------------------------------------
    def __copy__(self) -> Backbone:
        return self

    def __deepcopy__(self, memo: dict) -> Backbone:
        return self

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        state["_caches"] = {}
        state["stats"] = ForwardStats()
        del state["_lock"]
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._lock = threading.RLock()

    # Head -----------------------------------------------------------------------------------
    @property
    def head_name(self) -> str | None:
        return None if self._head is None else self._head[0]

    def head_parameters(self) -> tuple[np.ndarray, np.ndarray]:
        """The fine-tuned head as ``(weight, bias)`` float32 arrays, expanded to 2 outputs for
        a single-logit binary network (logit ``z`` becomes the pair ``(0, z)``)."""
        if self._head is None:
            raise ValueError(
                f"{self._who}: refit='head' needs the network's final linear layer, but no "
                f"nn.Linear with {self.n_outputs} outputs was found. Name it with head='...', or "
                "use refit='full' or refit='none'."
            )
        lin = self._head[1]
        w = lin.weight.detach().float().cpu().numpy()
        b = (lin.bias.detach().float().cpu().numpy() if lin.bias is not None
             else np.zeros(lin.out_features, dtype=np.float32))
        if w.shape[0] == 1:
            w = np.vstack([np.zeros_like(w), w])
            b = np.concatenate([[0.0], b]).astype(np.float32)
        return w, b

    def _locate_head(self, n_outputs: int) -> None:
        self.n_outputs = n_outputs
        self._head = _find_head(self.model, n_outputs, self._head_arg, who=self._who)

    def _check_head(self, feats: np.ndarray, logits: np.ndarray, amp: bool) -> None:
        """Once: the head applied to the captured features must give the network's logits."""
        if self._head_checked or self._head is None:
            return
        self._head_checked = True
        w, b = self.head_parameters()
        approx = feats.reshape(feats.shape[0], -1) @ w.T + b
        err = np.linalg.norm(approx - logits) / max(np.linalg.norm(logits), 1e-6)
        if err > (5e-2 if amp else 1e-3):
            name = self._head[0]
            self._head = None
            warnings.warn(
                f"{self._who}: the layer {name!r} is not the network's last step (its output "
                f"differs from the logits by {err:.1%}), so refit='head' is unavailable. Name the "
                "final linear layer with head='...', or use refit='full' or refit='none'.",
                RuntimeWarning,
                stacklevel=3,
            )

    # Caching --------------------------------------------------------------------------------
    def cache(self, key: Hashable) -> FeatureCache:
        with self._lock:
            if key not in self._caches:
                self._caches[key] = FeatureCache()
            return self._caches[key]

    def clear_caches(self) -> None:
        """Forget every cached output (after the weights change)."""
        with self._lock:
            for c in self._caches.values():
                c.clear()

    @contextlib.contextmanager
    def running(self) -> Iterator[None]:
        """Eval mode for the duration; the caller's network gets its flags back afterwards."""
        if self.owns_model:
            yield
        else:
            with self._lock, _eval_mode(self.model):
                yield

    def _capture_forward(self, call: Callable[[], torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        """Run ``call`` (the network) and capture the head's input as the features."""
        box: dict[str, torch.Tensor] = {}
        handle = None
        if self._head is not None:
            def hook(_module: nn.Module, args: tuple) -> None:
                box["x"] = args[0]
            handle = self._head[1].register_forward_pre_hook(hook)
        try:
            out = call()
        finally:
            if handle is not None:
                handle.remove()
        logits = class_logits(out)
        feats = box.get("x", logits)
        if feats.ndim > 2:
            feats = feats.reshape(feats.shape[0], -1)
        return feats, logits

    # Scoring --------------------------------------------------------------------------------
    def keys(self, inputs: Any) -> Sequence[Hashable]:
        raise NotImplementedError

    def _compute(self, inputs: Any, settings: EngineSettings, extra: dict, bar: Any) -> tuple[np.ndarray, np.ndarray]:
        raise NotImplementedError

    def _take(self, inputs: Any, idx: np.ndarray) -> Any:
        raise NotImplementedError

    def outputs(self, inputs: Any, *, settings: EngineSettings, cache_key: Hashable | None,
                bar: Any = None, extra: dict | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Penultimate features and logits for ``inputs``, in order, from the cache or the network.

        Parameters
        ----------
        inputs : list of str or ndarray
            The inputs, already validated.
        settings : EngineSettings
            How to run the network.
        cache_key : hashable or None
            The settings that change the outputs (e.g. max length, precision); ``None`` turns
            the cache off.
        bar : tqdm, optional
            A progress bar to advance.
        extra : dict, optional
            Per-call information filled by subclasses (e.g. ``"n_truncated"``).

        Returns
        -------
        features, logits : ndarray of float32
        """
        extra = {} if extra is None else extra
        n = len(inputs)
        keys = self.keys(inputs)
        if cache_key is None:
            found = np.zeros(n, dtype=bool)
            f_hit = l_hit = None
        else:
            cache = self.cache(cache_key)
            found, f_hit, l_hit = cache.fetch(keys)
        self.stats.cache_hits += int(found.sum())
        miss = np.flatnonzero(~found)
        if miss.size == 0:
            assert f_hit is not None and l_hit is not None
            return f_hit, l_hit
        # De-duplicate the misses: each distinct input goes through the network once.
        first: dict[Hashable, int] = {}
        inverse = np.empty(miss.size, dtype=np.int64)
        uniq_list: list[int] = []
        for j, i in enumerate(miss):
            u = first.get(keys[i])
            if u is None:
                u = first[keys[i]] = len(uniq_list)
                uniq_list.append(int(i))
            inverse[j] = u
        uniq_rows = np.asarray(uniq_list, dtype=np.int64)
        f_parts, l_parts = [], []
        own_bar = bar is None and settings.progress
        if own_bar:
            bar = tqdm(total=int(uniq_rows.size), desc=f"scoring ({self.kind})", unit="row",
                       delay=2.0, leave=False, dynamic_ncols=True)
        try:
            with self.running():
                for start in range(0, uniq_rows.size, _CHUNK):
                    sel = uniq_rows[start : start + _CHUNK]
                    f, lg = self._compute(self._take(inputs, sel), settings, extra, bar)
                    f_parts.append(f)
                    l_parts.append(lg)
        finally:
            if own_bar:
                bar.close()
        f_new = np.concatenate(f_parts) if len(f_parts) > 1 else f_parts[0]
        l_new = np.concatenate(l_parts) if len(l_parts) > 1 else l_parts[0]
        self._check_head(f_new, l_new, settings.amp_dtype is not None)
        if cache_key is not None:
            cache.put([keys[i] for i in uniq_rows], f_new, l_new)
        feats = np.empty((n,) + f_new.shape[1:], dtype=np.float32)
        logits = np.empty((n,) + l_new.shape[1:], dtype=np.float32)
        feats[miss] = f_new[inverse]
        logits[miss] = l_new[inverse]
        if f_hit is not None and l_hit is not None:
            feats[found] = f_hit
            logits[found] = l_hit
        return feats, logits


def class_logits(out: Any) -> torch.Tensor:
    """The ``(n, n_classes)`` logits of a network's output; a single logit ``z`` becomes ``(0, z)``."""
    logits = _logits_of(out)
    if logits.ndim == 1:
        logits = logits[:, None]
    if logits.shape[1] == 1:
        logits = torch.cat([torch.zeros_like(logits), logits], dim=1)
    return logits


def _logits_of(out: Any) -> torch.Tensor:
    if isinstance(out, torch.Tensor):
        return out
    logits = getattr(out, "logits", None)
    if isinstance(logits, torch.Tensor):
        return logits
    if isinstance(out, (tuple, list)) and out and isinstance(out[0], torch.Tensor):
        return out[0]
    raise TypeError(
        "fairbridge: the network must return a logits tensor of shape (n, n_classes), an object "
        f"with a .logits tensor, or a tuple starting with one, but it returned {type(out).__name__}. "
        "Wrap it in a module whose forward returns the logits."
    )


class TextBackbone(Backbone):
    """A ``transformers`` sequence classifier with its tokenizer.

    Inputs are texts; the cache key is the text itself.  Tokenisation runs once per distinct
    text on a private copy of the fast tokenizer's backend (the user's tokenizer is never
    reconfigured), and rows are collated from one flat id array with vectorised padding.
    """

    kind = "text"

    def __init__(self, model: nn.Module, tokenizer: Any, **kwargs: Any) -> None:
        super().__init__(model, **kwargs)
        self.tokenizer = tokenizer
        n_labels = int(getattr(getattr(model, "config", None), "num_labels", 0) or 0)
        self._locate_head(n_labels if n_labels > 0 else None)  # type: ignore[arg-type]
        self.n_outputs = n_labels if n_labels > 0 else None
        pad = getattr(tokenizer, "pad_token_id", None)
        self.pad_id = int(pad) if pad is not None else 0
        backend = getattr(tokenizer, "backend_tokenizer", None)
        self._backend = None
        if backend is not None:
            from tokenizers import Tokenizer

            self._backend = Tokenizer.from_str(backend.to_str())
            self._backend.no_padding()
        self._tok_lock = threading.Lock()

    def __getstate__(self) -> dict:
        state = super().__getstate__()
        state["_backend"] = None if self._backend is None else self._backend.to_str()
        del state["_tok_lock"]
        return state

    def __setstate__(self, state: dict) -> None:
        backend = state.pop("_backend")
        super().__setstate__(state)
        self._tok_lock = threading.Lock()
        self._backend = None
        if backend is not None:
            from tokenizers import Tokenizer

            self._backend = Tokenizer.from_str(backend)

    def keys(self, inputs: Sequence[str]) -> Sequence[Hashable]:
        return inputs

    def _take(self, inputs: Sequence[str], idx: np.ndarray) -> list[str]:
        return [inputs[i] for i in idx]

    def tokenize(self, texts: Sequence[str], max_length: int) -> tuple[np.ndarray, np.ndarray, int]:
        """Token ids of ``texts`` truncated to ``max_length``: ``(flat_ids, lengths, n_truncated)``."""
        if self._backend is not None:
            with self._tok_lock:
                self._backend.enable_truncation(max_length=max_length)
                encode = getattr(self._backend, "encode_batch_fast", self._backend.encode_batch)
                encs = encode(list(texts), add_special_tokens=True)
            ids = [e.ids for e in encs]
            n_trunc = sum(1 for e in encs if e.overflowing)
        else:  # a slow (Python) tokenizer
            full = self.tokenizer(list(texts), truncation=False, add_special_tokens=True)["input_ids"]
            n_trunc = sum(1 for x in full if len(x) > max_length)
            ids = self.tokenizer(list(texts), truncation=True, max_length=max_length,
                                 add_special_tokens=True)["input_ids"]
        lengths = np.fromiter((len(x) for x in ids), dtype=np.int64, count=len(ids))
        flat = np.fromiter(itertools.chain.from_iterable(ids), dtype=np.int64, count=int(lengths.sum()))
        return flat, lengths, n_trunc

    def collate_fn(self, flat: np.ndarray, lengths: np.ndarray) -> Callable[[np.ndarray], dict[str, torch.Tensor]]:
        """A collate function over one tokenised chunk: dynamic padding to the batch's longest row."""
        offsets = np.zeros(lengths.size, dtype=np.int64)
        np.cumsum(lengths[:-1], out=offsets[1:])
        last = max(flat.size - 1, 0)
        pad_id = self.pad_id

        def collate(idx: np.ndarray) -> dict[str, torch.Tensor]:
            lens = lengths[idx]
            width = int(lens.max())
            cols = np.arange(width)
            mask = cols[None, :] < lens[:, None]
            pos = np.minimum(offsets[idx][:, None] + cols[None, :], last)
            ids = np.where(mask, flat[pos] if flat.size else pad_id, pad_id)
            return {"input_ids": torch.from_numpy(ids),
                    "attention_mask": torch.from_numpy(mask.astype(np.int64))}

        return collate

    def _compute(self, texts: Sequence[str], settings: EngineSettings, extra: dict, bar: Any) -> tuple[np.ndarray, np.ndarray]:
        """Tokenise and score ``texts``, tokenising the next slice while the network runs.

        Texts go through in slices of :data:`_TOKENIZE_CHUNK`; a worker thread tokenises slice
        ``k + 1`` (the Rust tokenizer releases the GIL) while slice ``k`` is on the device, so
        tokenisation hides behind the forward passes instead of preceding them.
        """
        max_length = int(extra.get("max_length", 512))
        model = self.model

        def forward(batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
            return self._capture_forward(lambda: model(**batch))

        slices = [texts[i : i + _TOKENIZE_CHUNK] for i in range(0, len(texts), _TOKENIZE_CHUNK)]
        f_parts, l_parts = [], []
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="fairbridge-tokenize") as pool:
            pending = pool.submit(self.tokenize, slices[0], max_length)
            for k, part in enumerate(slices):
                flat, lengths, n_trunc = pending.result()
                if k + 1 < len(slices):
                    pending = pool.submit(self.tokenize, slices[k + 1], max_length)
                extra["n_truncated"] = extra.get("n_truncated", 0) + n_trunc
                f, lg = run_batched(len(part), collate=self.collate_fn(flat, lengths),
                                    forward=forward, settings=settings, lengths=lengths,
                                    stats=self.stats, desc="scoring texts", bar=bar,
                                    count_call=k == 0)
                f_parts.append(f)
                l_parts.append(lg)
        if len(f_parts) == 1:
            return f_parts[0], l_parts[0]
        return np.concatenate(f_parts), np.concatenate(l_parts)


class TensorBackbone(Backbone):
    """A plain ``torch.nn.Module`` on numeric or tensor input (tabular rows, images).

    Inputs are float32 arrays of shape ``(n, ...)``; the cache key is a digest of each row.
    """

    kind = "tensor"

    def __init__(self, model: nn.Module, **kwargs: Any) -> None:
        super().__init__(model, **kwargs)

    def keys(self, inputs: np.ndarray) -> Sequence[Hashable]:
        return row_keys(inputs)

    def probe(self, x: np.ndarray) -> None:
        """Learn the number of outputs (and find the head) from one row, once."""
        if self.n_outputs is not None:
            return
        with self.running(), torch.inference_mode():
            out = _logits_of(self.model(torch.from_numpy(np.ascontiguousarray(x[:1])).to(self.device)))
        self._locate_head(int(out.shape[-1]) if out.ndim > 1 else 1)

    def _take(self, inputs: np.ndarray, idx: np.ndarray) -> np.ndarray:
        return inputs[idx]

    def _compute(self, X: np.ndarray, settings: EngineSettings, extra: dict, bar: Any) -> tuple[np.ndarray, np.ndarray]:
        model = self.model
        per_row = int(np.prod(X.shape[1:])) if X.ndim > 1 else 1
        lengths = np.full(X.shape[0], max(1, per_row // 64), dtype=np.int64)

        def collate(idx: np.ndarray) -> dict[str, torch.Tensor]:
            return {"x": torch.from_numpy(np.ascontiguousarray(X[idx]))}

        def forward(batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
            return self._capture_forward(lambda: model(batch["x"]))

        self.probe(X[:1])
        return run_batched(X.shape[0], collate=collate, forward=forward, settings=settings,
                           lengths=lengths, stats=self.stats, desc="scoring rows", bar=bar)
