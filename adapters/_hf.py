"""``HFTextClassifier``: a fine-tuned ``transformers`` sequence classifier as a scikit-learn estimator."""

from __future__ import annotations

import os
import re
from pathlib import Path
import warnings
from collections.abc import Callable, Hashable, Sequence
from typing import Any

import numpy as np
import torch

from fairbridge._validation import Problems, check_int, check_text_input, describe, problem

from ._backbone import Backbone, TextBackbone, class_logits
from ._base import AdapterBase, RefitMode, _collect
from ._engine import BatchSize, Precision
from ._head import FairnessLoss
from ._loading import load_hf_backbone
from ._persist import PersistMixin
from ._shared import SharedModel
from ._training import Callback

__all__ = ["HFTextClassifier"]

_DEFAULT_LABEL = re.compile(r"^LABEL_\d+$")


class HFTextClassifier(PersistMixin, AdapterBase):
    """A fine-tuned Hugging Face text classifier as a scikit-learn classifier.

    Wrap any ``AutoModelForSequenceClassification`` checkpoint once, then hand it to Fairlearn
    (ExponentiatedGradient, GridSearch, ThresholdOptimizer), AIF360 (reweighing,
    post-processing), LIME, SHAP or InterpretML unchanged.  Clones share the loaded network and
    its feature cache (see ``refit``), so a reduction that refits the estimator 50 times runs
    the network once per distinct text.

    Parameters
    ----------
    model : str, path or SharedModel
        A checkpoint folder or hub id of a fine-tuned sequence classifier (a recipe: loaded
        once per process, never copied by ``clone``), or :class:`SharedModel` wrapping a model
        already in memory.  See also :meth:`from_model`.
    tokenizer : str, path or tokenizer, optional
        Defaults to the checkpoint's (or the handle's) tokenizer.
    text_column : str or int, optional
        The column that holds the text when ``X`` is a DataFrame (or 2-D array) with several
        columns, as AIF360 and Fairlearn pass it.
    max_length : int, optional
        Tokens per text; longer texts are truncated with one warning per call that says how
        many.  Defaults to the model's limit, at most 512.
    refit : {"head", "full", "none"}, default="head"
        What ``fit`` learns.  ``"head"``: the fine-tuned network stays frozen; its penultimate
        features are computed once per distinct text (cached, shared by every clone) and only
        the final linear layer is retrained on them by weighted L-BFGS, starting from (and
        pulled towards, ``head_alpha``) the fine-tuned head, so an unweighted refit reproduces
        the model closely.  ``"full"``: weighted fine-tuning of the whole network (``epochs``,
        ``learning_rate``, ``train_batch_size``), for a single reweighing refit.  ``"none"``:
        the model as fine-tuned; ``fit`` validates and sets ``classes_`` only (for
        post-processing with ``prefit=True``).
    batch_size : int or "auto", default="auto"
        Rows per inference batch; ``"auto"`` sizes batches by a token budget (short texts make
        bigger batches) and halves it when the device runs out of memory.
    device : {"auto", "cpu", "cuda", "cuda:N"} or torch.device, default="auto"
        ``"auto"`` picks CUDA when present (for a :class:`SharedModel`: where the model is).
    precision : {"auto", "fp32", "bf16", "fp16"}, default="auto"
        Inference autocast: bf16 (or fp16) on CUDA, float32 on the CPU.
    progress : bool, default=True
        Show tqdm bars on runs longer than two seconds.
    head : str, optional
        Name of the final linear layer, if not found automatically.
    head_alpha : float, default=1e-3
        Pull of a head refit towards the fine-tuned head (L2 on the weight difference).
    head_max_iter : int, default=50
        L-BFGS iterations of a head refit.
    epochs : int, default=1
        Epochs of a full refit.
    learning_rate : float, default=2e-5
        AdamW learning rate of a full refit.
    train_batch_size : int, default=16
        Batch size of a full refit.
    weight_decay : float, default=0.01
        AdamW weight decay of a full refit.
    fairness_loss : callable, optional
        A differentiable penalty ``(logits, y, groups, sample_weight) -> loss`` added to the
        training loss of a head or full refit (``L = L_task + fairness_weight * L_fair``); needs
        ``fit(..., sensitive_features=...)``.
    fairness_weight : float, default=0.0
        The weight lambda of ``fairness_loss``.
    callbacks : list of Callback, optional
        Called during a full refit; they may log metrics into ``history_`` or stop training.
    random_state : int, optional, default=0
        Seeds training.
    cache : bool, default=True
        Keep features and logits per distinct text (shared by every clone).

    Attributes
    ----------
    classes_ : ndarray
        Class labels, one per model output, in output order.
    backbone_ : Backbone
        The loaded network, shared with every clone (a private fine-tuned copy after a full
        refit); ``backbone_.stats`` counts forward passes.
    head_coef_ : ndarray of shape (n_classes, n_features) or None
        The refitted head's weight (``refit="head"``), else ``None``.
    head_intercept_ : ndarray of shape (n_classes,) or None
        The refitted head's bias, else ``None``.
    history_ : list of dict
        Training log: one entry per epoch of a full refit (with callback metrics), or the
        head fit's final loss.

    Notes
    -----
    Inputs: a list or tuple of str, a 1-D array, a Series, a one-column DataFrame or (n, 1)
    array (what Fairlearn's and AIF360's 2-D validation lets through), or a wider DataFrame
    with ``text_column``.  Fairlearn passes the caller's own ``X`` on to ``fit`` and
    ``predict``; AIF360's ``aif360.sklearn`` keeps the protected attribute in the index, which
    is ignored here.  Labels: integers ``0..num_labels-1``, the checkpoint's label names
    (``config.id2label``), or exactly ``num_labels`` distinct values mapped in sorted order.

    Examples
    --------
    >>> clf = HFTextClassifier("path/to/finetuned-bert").fit(X_train, y_train)  # doctest: +SKIP
    >>> clf.predict_proba(X_test)  # doctest: +SKIP
    """

    def __init__(
        self,
        model: str | os.PathLike | SharedModel | None = None,
        *,
        tokenizer: Any = None,
        text_column: str | int | None = None,
        max_length: int | None = None,
        refit: RefitMode = "head",
        batch_size: BatchSize = "auto",
        device: str | torch.device = "auto",
        precision: Precision = "auto",
        progress: bool = True,
        head: str | None = None,
        head_alpha: float = 1e-3,
        head_max_iter: int = 50,
        epochs: int = 1,
        learning_rate: float = 2e-5,
        train_batch_size: int = 16,
        weight_decay: float = 0.01,
        fairness_loss: FairnessLoss | None = None,
        fairness_weight: float = 0.0,
        callbacks: Sequence[Callback] | None = None,
        random_state: int | None = 0,
        cache: bool = True,
    ) -> None:
        self.model = model
        self.tokenizer = tokenizer
        self.text_column = text_column
        self.max_length = max_length
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
    def from_model(cls, model: torch.nn.Module, tokenizer: Any, **params: Any) -> HFTextClassifier:
        """Wrap a model already in memory (shared by clones, never copied).

        Parameters
        ----------
        model : transformers model
            A sequence classifier (e.g. right after your own fine-tuning).
        tokenizer : transformers tokenizer
            Its tokenizer.
        **params
            Any other parameter of the class.
        """
        return cls(SharedModel(model, tokenizer), **params)

    def __sklearn_tags__(self):  # noqa: D105
        tags = super().__sklearn_tags__()
        tags.input_tags.string = True
        tags.input_tags.one_d_array = True
        tags.input_tags.two_d_array = True
        return tags

    # -- hooks ---------------------------------------------------------------------------
    def _check_specific_params(self, problems: Problems) -> None:
        who = problems.who
        if self.model is None:
            problems.add("argument 'model'", "is required", "None",
                         "Pass a checkpoint folder, a hub id or SharedModel(model, tokenizer).")
        if self.max_length is not None:
            _collect(problems, check_int, who, "max_length", self.max_length, minimum=2)
        if self.text_column is not None and not isinstance(self.text_column, (str, int, np.integer)):
            problems.add("argument 'text_column'", "must be None, a column name or an index",
                         describe(self.text_column), "Pass text_column='text'.", type_error=True)

    def _validate_inputs(self, X: Any, who: str, *, fitting: bool) -> list[str]:
        return check_text_input(X, who=who, text_column=self.text_column)

    def _load_backbone(self, device: torch.device | None, who: str, inputs: Any, y: np.ndarray) -> Backbone:
        bb = load_hf_backbone(self.model, tokenizer=self.tokenizer, device=device, head=self.head, who=who)
        limit = self._limit(bb)
        if self.max_length is not None and self.max_length > limit:
            raise ValueError(problem(
                who, "argument 'max_length'", f"must be at most the model's limit of {limit} tokens",
                repr(self.max_length), f"Pass max_length={limit} or less."))
        return bb

    @staticmethod
    def _limit(bb: Backbone) -> int:
        """The longest input the network takes (position embeddings, tokenizer limit)."""
        tok_max = getattr(getattr(bb, "tokenizer", None), "model_max_length", None) or 1 << 30
        pos_max = getattr(getattr(bb.model, "config", None), "max_position_embeddings", None) or 1 << 30
        return int(min(tok_max, pos_max))

    def _resolved_max_length(self, bb: Backbone) -> int:
        return min(self._limit(bb), 512) if self.max_length is None else int(self.max_length)

    def _cache_key(self, amp: torch.dtype | None, backbone: Backbone) -> Hashable:
        return ("text", self._resolved_max_length(backbone), str(amp))

    def _output_extra(self, backbone: Backbone) -> dict:
        return {"max_length": self._resolved_max_length(backbone)}

    def _after_outputs(self, extra: dict, n: int, who: str) -> None:
        k = int(extra.get("n_truncated", 0))
        if k:
            warnings.warn(
                f"{who}: {k} of {n} texts are longer than max_length={extra['max_length']} tokens "
                "and were truncated. Raise max_length (up to the model's limit) to keep more of "
                "each text, or shorten the texts.",
                UserWarning,
                stacklevel=4,
            )

    def _label_names(self, backbone: Backbone) -> list[str] | None:
        id2label = getattr(getattr(backbone.model, "config", None), "id2label", None) or {}
        names = [str(id2label[i]) for i in sorted(id2label)]
        if not names or all(_DEFAULT_LABEL.match(n) for n in names):
            return None
        return names

    def _spawn_backbone(self, backbone: Backbone, net: torch.nn.Module) -> Backbone:
        assert isinstance(backbone, TextBackbone)
        return TextBackbone(net, backbone.tokenizer, device=backbone.device, recipe=None,
                            owns_model=False, head=self.head, who=self._who("fit"))

    def _training_io(self, backbone: Backbone, inputs: Any) -> tuple[Callable, Callable]:
        assert isinstance(backbone, TextBackbone)
        flat, lengths, n_trunc = backbone.tokenize(inputs, self._resolved_max_length(backbone))
        self._after_outputs({"n_truncated": n_trunc,
                             "max_length": self._resolved_max_length(backbone)},
                            len(inputs), self._who("fit"))
        net = backbone.model

        def forward_logits(batch: dict[str, torch.Tensor]) -> torch.Tensor:
            return class_logits(net(**batch))

        return backbone.collate_fn(flat, lengths), forward_logits

    # -- persistence ------------------------------------------------------------------------
    def _write_backbone(self, bb: Any, out: Path) -> dict[str, Any]:
        target = out / "backbone"
        bb.model.save_pretrained(target)  # safetensors
        bb.tokenizer.save_pretrained(target)
        return {"source": "saved", "path": "backbone"}

    @classmethod
    def _backbone_params(cls, entry: dict, folder: Path, who: str, overrides: dict) -> dict:
        if entry["source"] == "saved":
            return {"model": str(folder / entry["path"]), "tokenizer": None}
        return {"model": entry["model"], "tokenizer": entry.get("tokenizer")}
