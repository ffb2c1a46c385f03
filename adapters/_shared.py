"""``SharedModel``: a handle on an in-memory network that clones share instead of copying."""

from __future__ import annotations

import threading
from collections.abc import Hashable
from typing import TYPE_CHECKING, Any

from torch import nn

if TYPE_CHECKING:
    from ._backbone import Backbone

__all__ = ["SharedModel"]


class SharedModel:
    """A handle on an in-memory network that every clone of an adapter shares.

    ``copy.copy`` and ``copy.deepcopy`` return the handle itself, so ``sklearn.base.clone``,
    Fairlearn's per-iteration clones and GridSearch's deep copies never duplicate the weights.
    fairbridge never moves or modifies the wrapped network: it runs it in eval mode inside a
    context that restores its training flag, on the device where it already is (unless an
    adapter asks for another device explicitly, in which case one copy is made there, once).

    Parameters
    ----------
    model : torch.nn.Module
        The fine-tuned network, e.g. a ``transformers`` sequence classifier.
    tokenizer : transformers tokenizer, optional
        Its tokenizer (text models only).
    name : str, optional
        A readable name for reports; defaults to the class name of ``model``.

    Examples
    --------
    >>> from fairbridge.adapters import HFTextClassifier, SharedModel
    >>> clf = HFTextClassifier(SharedModel(model, tokenizer))  # doctest: +SKIP
    """

    def __init__(self, model: nn.Module, tokenizer: Any = None, *, name: str | None = None) -> None:
        if not isinstance(model, nn.Module):
            raise TypeError(
                "SharedModel: argument 'model' must be a torch.nn.Module, but got "
                f"{type(model).__name__}. Pass the network object itself."
            )
        self.model = model
        self.tokenizer = tokenizer
        self.name = name or type(model).__name__
        self._backbones: dict[Hashable, Backbone] = {}
        self._lock = threading.Lock()

    def __copy__(self) -> SharedModel:
        return self

    def __deepcopy__(self, memo: dict) -> SharedModel:
        return self

    def __repr__(self) -> str:
        return f"SharedModel({self.name})"

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        state["_backbones"] = {}
        del state["_lock"]
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._lock = threading.Lock()
