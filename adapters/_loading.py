"""Loading backbones from their recipes, once per process.

A recipe (a checkpoint folder or hub id; a module class, its arguments and a weights file) is
loaded the first time an adapter fits and kept in a process-wide registry while any adapter or
fitted clone holds it; an in-memory network behind a :class:`SharedModel` is used where it is.
Weights are only ever read with safetensors or ``torch.load(weights_only=True)``.
"""

from __future__ import annotations

import contextlib
import copy
import inspect
import os
import threading
import warnings
import weakref
from collections.abc import Callable, Hashable, Iterator
from typing import Any

import torch
from torch import nn

from ._backbone import Backbone, TensorBackbone, TextBackbone
from ._shared import SharedModel

__all__ = ["load_hf_backbone", "load_torch_backbone", "load_weights", "module_factory_arguments"]

#: Loaded backbones by recipe; an entry lives while some adapter (or fitted clone) holds it.
_REGISTRY: "weakref.WeakValueDictionary[Hashable, Backbone]" = weakref.WeakValueDictionary()
_REGISTRY_LOCK = threading.Lock()


def _registered(key: Hashable, load: Callable[[], Backbone]) -> Backbone:
    with _REGISTRY_LOCK:
        bb = _REGISTRY.get(key)
        if bb is None:
            bb = load()
            _REGISTRY[key] = bb
        return bb


def _model_device(model: nn.Module) -> torch.device:
    for p in model.parameters():
        return p.device
    return torch.device("cpu")


def _shared_backbone(handle: SharedModel, device: torch.device | None, make: Callable[[nn.Module, torch.device, bool], Backbone]) -> Backbone:
    """The backbone of an in-memory network: used where it is, or copied once to ``device``."""
    here = _model_device(handle.model)
    target = here if device is None else device
    key = str(target)
    with handle._lock:
        bb = handle._backbones.get(key)
        if bb is None:
            if target == here:
                bb = make(handle.model, here, False)
            else:
                bb = make(copy.deepcopy(handle.model).to(target), target, True)
            handle._backbones[key] = bb
        return bb


def load_hf_backbone(model: str | os.PathLike | SharedModel, *, tokenizer: Any = None,
                     device: torch.device | None, head: str | None, who: str) -> TextBackbone:
    """Load (once per process) a ``transformers`` sequence classifier and its tokenizer.

    Parameters
    ----------
    model : str, path or SharedModel
        A checkpoint folder or hub id (loaded with ``AutoModelForSequenceClassification``), or
        a handle on a loaded model.
    tokenizer : str, path or tokenizer, optional
        Defaults to the checkpoint's own tokenizer (or the handle's).
    device : torch.device or None
        Where to run; ``None`` keeps a handle's network where it is.
    head : str, optional
        Name of the final linear layer, if it cannot be found automatically.
    who : str
        For error messages.
    """
    if isinstance(model, SharedModel):
        tok = tokenizer if tokenizer is not None and not isinstance(tokenizer, (str, os.PathLike)) else None
        if tok is None:
            tok = _load_tokenizer(tokenizer, who=who) if tokenizer is not None else model.tokenizer
        if tok is None:
            raise ValueError(
                f"{who}: argument 'model' is a SharedModel without a tokenizer, and argument "
                "'tokenizer' is None. Pass SharedModel(model, tokenizer) or tokenizer='<path>'."
            )
        return _shared_backbone(  # type: ignore[return-value]
            model, device,
            lambda m, d, owns: TextBackbone(m, tok, device=d, recipe=None, owns_model=owns,
                                            head=head, who=who))
    if not isinstance(model, (str, os.PathLike)):
        raise TypeError(
            f"{who}: argument 'model' must be a checkpoint path, a hub id or a SharedModel, but got "
            f"{type(model).__name__}. For a model object already in memory, pass "
            "SharedModel(model, tokenizer) (clones then share it instead of copying its weights), "
            "or save it with model.save_pretrained(path) and pass the path."
        )
    name = os.fspath(model)
    resolved = os.path.abspath(name) if os.path.exists(name) else name
    tok_id = None if tokenizer is None else (os.fspath(tokenizer) if isinstance(tokenizer, (str, os.PathLike)) else id(tokenizer))
    dev = device if device is not None else torch.device("cpu")
    key = ("hf", resolved, tok_id, str(dev), head)

    def load() -> TextBackbone:
        net = _load_sequence_classifier(resolved, who=who)
        tok = tokenizer if tokenizer is not None and not isinstance(tokenizer, (str, os.PathLike)) \
            else _load_tokenizer(tokenizer if tokenizer is not None else resolved, who=who)
        net.to(dev)
        recipe = {"kind": "hf", "model": resolved,
                  "tokenizer": os.fspath(tokenizer) if isinstance(tokenizer, (str, os.PathLike)) else None}
        return TextBackbone(net, tok, device=dev, recipe=recipe, owns_model=True, head=head, who=who)

    return _registered(key, load)  # type: ignore[return-value]


@contextlib.contextmanager
def _quiet_transformers() -> Iterator[None]:
    from transformers.utils import logging as hf_logging

    level = hf_logging.get_verbosity()
    bars_were_on = hf_logging.is_progress_bar_enabled()
    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        hf_logging.set_verbosity(level)
        if bars_were_on:
            hf_logging.enable_progress_bar()


def _load_sequence_classifier(path: str, *, who: str) -> nn.Module:
    from transformers import AutoModelForSequenceClassification

    try:
        with _quiet_transformers(), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            net, info = AutoModelForSequenceClassification.from_pretrained(path, output_loading_info=True)
    except (OSError, ValueError, KeyError) as exc:
        where = "a folder on this machine" if os.path.isdir(path) else "not a folder on this machine"
        raise ValueError(
            f"{who}: argument 'model' must be a sequence-classification checkpoint (a folder with "
            f"config.json and weights, or a hub id), but {path!r} ({where}) could not be loaded: "
            f"{exc}. Pass the folder written by save_pretrained() of your fine-tuned model."
        ) from exc
    missing = [k for k in info.get("missing_keys", [])]
    if missing:
        raise ValueError(
            f"{who}: argument 'model' must be a fine-tuned sequence classifier, but the checkpoint "
            f"{path!r} has no trained classification head (missing weights: {sorted(missing)[:4]}). "
            "It looks like a base model; fine-tune it first (e.g. HFTextClassifier(SharedModel("
            "AutoModelForSequenceClassification.from_pretrained(path, num_labels=2), tokenizer), "
            "refit='full')) and save it, then pass the saved folder."
        )
    return net


def _load_tokenizer(path: Any, *, who: str) -> Any:
    from transformers import AutoTokenizer

    try:
        with _quiet_transformers():
            return AutoTokenizer.from_pretrained(os.fspath(path))
    except (OSError, ValueError) as exc:
        raise ValueError(
            f"{who}: no tokenizer could be loaded from {os.fspath(path)!r} ({exc}). Pass "
            "tokenizer='<folder or hub id>' naming the model's tokenizer."
        ) from exc


def module_factory_arguments(factory: Callable[..., nn.Module]) -> set[str]:
    """Parameter names of a module class or factory (to fill ``n_features_in``/``n_classes``)."""
    try:
        sig = inspect.signature(factory)
    except (TypeError, ValueError):
        return set()
    return set(sig.parameters)


def load_torch_backbone(module: Any, *, module_params: dict, checkpoint: str | os.PathLike | None,
                        random_state: int | None, device: torch.device | None, head: str | None,
                        who: str) -> TensorBackbone:
    """Build (once per process and recipe) a ``torch.nn.Module`` backbone.

    ``module`` is a :class:`SharedModel` or a class/factory called with ``module_params``; its
    weights come from ``checkpoint`` (safetensors, or a torch file read with
    ``weights_only=True``) or from a seeded initialisation.
    """
    if isinstance(module, SharedModel):
        return _shared_backbone(  # type: ignore[return-value]
            module, device,
            lambda m, d, owns: TensorBackbone(m, device=d, recipe=None, owns_model=owns, head=head, who=who))
    if isinstance(module, nn.Module):
        raise TypeError(
            f"{who}: argument 'module' must be a module class (a recipe) or a SharedModel, but got "
            f"an instance of {type(module).__name__}. Pass SharedModel(net) so that clones share "
            "it, or pass the class with module_params=... and checkpoint='weights.safetensors'."
        )
    if not callable(module):
        raise TypeError(
            f"{who}: argument 'module' must be an nn.Module class, a factory or a SharedModel, but "
            f"got {module!r}. Pass e.g. module=MyNet, module_params={{...}}."
        )
    dev = device if device is not None else torch.device("cpu")
    ckpt = None if checkpoint is None else os.path.abspath(os.fspath(checkpoint))
    stamp = os.path.getmtime(ckpt) if ckpt is not None and os.path.exists(ckpt) else None
    key = ("torch", module, repr(sorted(module_params.items())), ckpt, stamp, random_state, str(dev), head)

    def load() -> TensorBackbone:
        with torch.random.fork_rng(devices=[]):
            if random_state is not None:
                torch.manual_seed(random_state)
            try:
                net = module(**module_params)
            except TypeError as exc:
                raise TypeError(
                    f"{who}: module {getattr(module, '__name__', module)!r} could not be built with "
                    f"module_params={module_params!r} ({exc}). Pass the arguments its constructor needs."
                ) from exc
        if not isinstance(net, nn.Module):
            raise TypeError(f"{who}: argument 'module' must build an nn.Module, but it returned "
                            f"{type(net).__name__}. Pass an nn.Module class or factory.")
        if ckpt is not None:
            load_weights(net, ckpt, who=who)
        net.to(dev)
        recipe = {"kind": "torch", "checkpoint": ckpt}
        return TensorBackbone(net, device=dev, recipe=recipe, owns_model=True, head=head, who=who)

    return _registered(key, load)  # type: ignore[return-value]


def load_weights(net: nn.Module, path: str, *, who: str) -> None:
    """Load weights into ``net`` safely: safetensors, or ``torch.load(weights_only=True)``.

    fairbridge never unpickles arbitrary objects from a file.
    """
    if not os.path.exists(path):
        raise ValueError(f"{who}: argument 'checkpoint' names {path!r}, which does not exist. "
                         "Pass the path of a .safetensors (or .pt) state dict.")
    try:
        if path.endswith(".safetensors"):
            from safetensors.torch import load_model

            load_model(net, path)  # also restores tensors that save_model de-duplicated
            return
        try:
            state = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as exc:  # noqa: BLE001 - any unpickling refusal
            raise ValueError(
                f"{who}: the checkpoint {path!r} is not a plain state dict that loads with "
                f"weights_only=True ({exc}). Save it with safetensors.torch.save_model(net, "
                "'weights.safetensors'); fairbridge never unpickles arbitrary objects."
            ) from exc
        net.load_state_dict(state)
    except RuntimeError as exc:
        raise ValueError(f"{who}: the checkpoint {path!r} does not fit the module: {exc}. "
                         "Pass the checkpoint saved from this architecture.") from exc
