"""``TorchClassifier``: a plain ``torch.nn.Module`` classifier as a scikit-learn estimator."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from sklearn.utils.validation import validate_data

from fairbridge._validation import Problems, describe, problem

from ._backbone import Backbone, TensorBackbone, class_logits
from ._base import AdapterBase, RefitMode
from ._engine import BatchSize, Precision
from ._head import FairnessLoss
from ._loading import load_torch_backbone, module_factory_arguments
from ._persist import PersistMixin, class_path, import_class
from ._shared import SharedModel
from ._training import Callback

__all__ = ["TorchClassifier"]


class TorchClassifier(PersistMixin, AdapterBase):
    """A ``torch.nn.Module`` classifier on numeric or tensor input as a scikit-learn classifier.

    For a tabular MLP, an image model whose inputs are arrays, or any network that maps a
    float tensor of shape ``(n, ...)`` to logits ``(n, n_classes)`` (or a single binary logit
    ``(n,)``/``(n, 1)``).  Shares the engine, refit modes and feature cache of
    :class:`HFTextClassifier`.

    Parameters
    ----------
    module : nn.Module class, factory or SharedModel
        A recipe: the class (or factory) built with ``module_params`` and, if given, the
        weights in ``checkpoint``; built once per process and shared by clones.  If its
        signature has ``n_features_in`` or ``n_classes`` and ``module_params`` does not set
        them, they are filled from the training data.  Or :class:`SharedModel` wrapping a
        trained network in memory (see :meth:`from_module`).
    module_params : dict, optional
        Keyword arguments of ``module``.
    checkpoint : str or path, optional
        A state dict: ``.safetensors`` (preferred), or a torch file read with
        ``weights_only=True``.  Without one the network starts from a seeded initialisation
        (useful with ``refit="full"``).
    refit : {"head", "full", "none"}, default="head"
        See :class:`HFTextClassifier`.
    batch_size, device, precision, progress, head, head_alpha, head_max_iter :
        See :class:`HFTextClassifier`.
    epochs : int, default=10
        Epochs of a full refit.
    learning_rate : float, default=1e-3
        AdamW learning rate of a full refit.
    train_batch_size : int, default=64
        Batch size of a full refit.
    weight_decay : float, default=0.0
        AdamW weight decay of a full refit.
    fairness_loss, fairness_weight, callbacks, random_state, cache :
        See :class:`HFTextClassifier`.

    Attributes
    ----------
    classes_ : ndarray
        Class labels in output order.
    n_features_in_ : int
        Columns (``X.shape[1]``) seen in ``fit``.
    feature_names_in_ : ndarray of str
        Column names, when ``X`` was a DataFrame with string column names.
    input_shape_ : tuple
        Shape of one input row (``X.shape[1:]``).
    backbone_, head_coef_, head_intercept_, history_ :
        See :class:`HFTextClassifier`.
    """

    def __init__(
        self,
        module: Any = None,
        *,
        module_params: dict | None = None,
        checkpoint: str | os.PathLike | None = None,
        refit: RefitMode = "head",
        batch_size: BatchSize = "auto",
        device: str | torch.device = "auto",
        precision: Precision = "auto",
        progress: bool = True,
        head: str | None = None,
        head_alpha: float = 1e-3,
        head_max_iter: int = 50,
        epochs: int = 10,
        learning_rate: float = 1e-3,
        train_batch_size: int = 64,
        weight_decay: float = 0.0,
        fairness_loss: FairnessLoss | None = None,
        fairness_weight: float = 0.0,
        callbacks: Sequence[Callback] | None = None,
        random_state: int | None = 0,
        cache: bool = True,
    ) -> None:
        self.module = module
        self.module_params = module_params
        self.checkpoint = checkpoint
        self.refit = refit
        self.batch_size = batch_size
        self.device = device
        self.precision = precision
        self.progress = progress
        self.head = head
        self.head_alpha = head_alpha
        self.head_max_iter = head_max_iter
        self.epochs = epochs
        self.learning_rate = learning_rate
        self.train_batch_size = train_batch_size
        self.weight_decay = weight_decay
        self.fairness_loss = fairness_loss
        self.fairness_weight = fairness_weight
        self.callbacks = callbacks
        self.random_state = random_state
        self.cache = cache

    @classmethod
    def from_module(cls, module: torch.nn.Module, **params: Any) -> TorchClassifier:
        """Wrap a trained network already in memory (shared by clones, never copied)."""
        return cls(SharedModel(module), **params)

    def __sklearn_tags__(self):  # noqa: D105
        tags = super().__sklearn_tags__()
        tags.input_tags.three_d_array = True
        return tags

    # -- hooks ---------------------------------------------------------------------------
    def _check_specific_params(self, problems: Problems) -> None:
        if self.module is None:
            problems.add("argument 'module'", "is required", "None",
                         "Pass an nn.Module class (with module_params) or SharedModel(net).")
        if self.module_params is not None and not isinstance(self.module_params, dict):
            problems.add("argument 'module_params'", "must be None or a dict",
                         describe(self.module_params), "Pass module_params={'hidden': 64}.",
                         type_error=True)

    def _validate_inputs(self, X: Any, who: str, *, fitting: bool) -> np.ndarray:
        if isinstance(X, torch.Tensor):
            X = X.detach().cpu().numpy()
        try:
            arr = validate_data(self, X, reset=fitting, dtype=np.float32, allow_nd=True,
                                ensure_all_finite=True, ensure_min_samples=1)
        except ValueError as exc:
            raise ValueError(problem(who, "argument 'X'",
                                     "must be a finite numeric array of shape (n_samples, ...)",
                                     describe(X), f"{exc}")) from exc
        except TypeError as exc:
            raise TypeError(problem(who, "argument 'X'", "must be numeric", describe(X),
                                    f"Encode non-numeric columns first ({exc}).")) from exc
        arr = np.ascontiguousarray(arr, dtype=np.float32)
        if fitting:
            self.input_shape_ = tuple(arr.shape[1:])
        elif hasattr(self, "input_shape_") and tuple(arr.shape[1:]) != tuple(self.input_shape_):
            raise ValueError(problem(who, "argument 'X'",
                                     f"must have rows of shape {self.input_shape_} as in fit",
                                     f"rows of shape {arr.shape[1:]}",
                                     "Pass inputs shaped like the training data."))
        return arr

    def _module_params(self, inputs: np.ndarray | None, y: np.ndarray) -> dict:
        params = dict(self.module_params or {})
        if isinstance(self.module, SharedModel) or not callable(self.module):
            return params
        names = module_factory_arguments(self.module)
        if "n_features_in" in names and "n_features_in" not in params and inputs is not None:
            params["n_features_in"] = int(inputs.shape[1])
        if "n_classes" in names and "n_classes" not in params:
            params["n_classes"] = max(2, int(np.unique(y).size))
        return params

    def _load_backbone(self, device: torch.device | None, who: str, inputs: Any, y: np.ndarray) -> Backbone:
        params = self._module_params(inputs, y)
        self.module_params_ = params
        bb = load_torch_backbone(self.module, module_params=params, checkpoint=self.checkpoint,
                                 random_state=self.random_state, device=device, head=self.head, who=who)
        if inputs is not None and len(inputs):
            bb.probe(inputs[:1])
        return bb

    def _spawn_backbone(self, backbone: Backbone, net: torch.nn.Module) -> Backbone:
        trained = TensorBackbone(net, device=backbone.device, recipe=None, owns_model=False,
                                 head=self.head, who=self._who("fit"))
        if backbone.n_outputs is not None:
            trained._locate_head(backbone.n_outputs)
        return trained

    def _training_io(self, backbone: Backbone, inputs: Any) -> tuple[Callable, Callable]:
        net = backbone.model

        def collate(idx: np.ndarray) -> dict[str, torch.Tensor]:
            return {"x": torch.from_numpy(inputs[idx])}

        def forward_logits(batch: dict[str, torch.Tensor]) -> torch.Tensor:
            return class_logits(net(batch["x"]))

        return collate, forward_logits

    # -- persistence ------------------------------------------------------------------------
    def _write_backbone(self, bb: Any, out: Path) -> dict[str, Any]:
        from safetensors.torch import save_model

        save_model(bb.model, str(out / "backbone.safetensors"))
        module = self.module.model.__class__ if isinstance(self.module, SharedModel) else self.module
        return {"source": "saved", "path": "backbone.safetensors", "module": class_path(module),
                "module_params": getattr(self, "module_params_", self.module_params) or {}}

    @classmethod
    def _backbone_params(cls, entry: dict, folder: Path, who: str, overrides: dict) -> dict:
        module = overrides.get("module")
        if module is None:
            if not entry.get("module"):
                raise ValueError(problem(who, "argument 'module'",
                                         "is needed: the saved module class was defined locally",
                                         "no importable class name",
                                         "Pass load(path, module=YourModuleClass)."))
            module = import_class(entry["module"], who=who)
        path = entry.get("path")
        ckpt = str(folder / path) if entry["source"] == "saved" else entry.get("checkpoint")
        return {"module": module, "module_params": entry.get("module_params") or None,
                "checkpoint": ckpt}
