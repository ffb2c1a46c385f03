"""A fitted adapter as a small recipe that travels to Ray actors, and back into an adapter there.

The recipe holds what :meth:`~fairbridge.adapters.HFTextClassifier.save` writes to its JSON
manifest and ``head.safetensors``: the adapter class, its plain parameters, the checkpoint path
or hub id (never the weights), the fitted ``classes_`` and the refitted head's arrays (a few
kilobytes).  Each actor rebuilds the adapter from it and loads the backbone once, through the
adapter's own loading code, so the actor's constructor arguments stay small enough for Ray to
restart it after a crash.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from fairbridge._validation import MSG_NOT_FITTED, NotFittedError, describe, problem

__all__ = ["AdapterRecipe", "adapter_recipe", "rebuild_adapter"]

#: Parameters that hold objects (or training-only settings) and never travel.
_NOT_SENT = {"model", "module", "tokenizer", "callbacks", "fairness_loss"}

AdapterRecipe = dict


def _is_path(value: Any) -> bool:
    return isinstance(value, (str, os.PathLike))


def adapter_recipe(estimator: Any, *, device: str, who: str) -> AdapterRecipe:
    """The small, picklable recipe of a fitted text adapter.

    Parameters
    ----------
    estimator : HFTextClassifier
        Fitted; its network must have been loaded from a path or hub id.
    device : str
        Where the actors run the network (``"cpu"`` or ``"cuda"``).
    who : str
        For error messages.

    Returns
    -------
    dict
        ``{"cls", "params", "classes", "head_coef", "head_intercept", "model", "tokenizer"}``.

    Raises
    ------
    TypeError
        If ``estimator`` is not a text adapter.
    NotFittedError
        If it is not fitted.
    ValueError
        If its network exists only in memory (a :class:`SharedModel`, or a ``refit="full"``
        fine-tune): there is no recipe for a worker to load it from.
    """
    from fairbridge.adapters import HFTextClassifier, SharedModel

    if not isinstance(estimator, HFTextClassifier):
        raise TypeError(problem(
            who, "argument 'estimator'", "must be a fitted HFTextClassifier (a text adapter)",
            describe(estimator),
            "Wrap the model with fairbridge.adapters.HFTextClassifier(path) and fit it (refit='none' "
            "takes the model as fine-tuned); TorchClassifier models are scored locally."))
    if not hasattr(estimator, "backbone_") or not hasattr(estimator, "classes_"):
        raise NotFittedError(MSG_NOT_FITTED.format(who=who, cls=type(estimator).__name__,
                                                   method="fairbridge.distributed.score()"))
    recipe = getattr(estimator.backbone_, "recipe", None)
    if isinstance(estimator.model, SharedModel) or recipe is None:
        what = ("wraps a model in memory (SharedModel)" if isinstance(estimator.model, SharedModel)
                else "was fine-tuned in memory by refit='full'")
        raise ValueError(problem(
            who, "argument 'estimator'",
            "must load its network from a path or hub id that Ray workers can load again "
            "(actors never receive pickled weights)",
            f"an adapter that {what}",
            "Save it first, clf.save('model-dir/'), and pass "
            "HFTextClassifier.load('model-dir/') (the folder must be visible to every worker)."))
    if estimator.tokenizer is not None and not _is_path(estimator.tokenizer):
        raise ValueError(problem(
            who, "argument 'estimator'",
            "must name its tokenizer by path or hub id (a tokenizer object cannot be rebuilt "
            "on the workers)", f"tokenizer={describe(estimator.tokenizer)}",
            "Pass tokenizer='<folder or hub id>', or save the adapter with clf.save(path) and "
            "load it back."))
    params = {k: v for k, v in estimator.get_params(deep=False).items() if k not in _NOT_SENT}
    params.update(device=device, progress=False, cache=False)
    coef = getattr(estimator, "head_coef_", None)
    intercept = getattr(estimator, "head_intercept_", None)
    return {
        "cls": type(estimator),
        "params": params,
        "model": recipe["model"],
        "tokenizer": recipe.get("tokenizer"),
        "classes": np.asarray(estimator.classes_).copy(),
        "head_coef": None if coef is None else np.asarray(coef, dtype=np.float32).copy(),
        "head_intercept": None if intercept is None else np.asarray(intercept, dtype=np.float32).copy(),
    }


def rebuild_adapter(recipe: AdapterRecipe, *, who: str = "fairbridge.distributed scorer") -> Any:
    """The fitted adapter of ``recipe``, its backbone loaded once in this process.

    Mirrors :meth:`~fairbridge.adapters.HFTextClassifier.load`: the class is built from the
    parameters, the backbone is loaded by the adapter's own loader (cached per process), and
    the fitted attributes are set from the recipe.
    """
    model = recipe["model"]
    if os.path.isabs(model) and not os.path.exists(model):
        import socket

        raise ValueError(problem(
            who, "the model path", "must be visible on every Ray worker",
            f"{model!r}, which does not exist on node {socket.gethostname()!r}",
            "Put the model on a filesystem shared by all nodes (same path everywhere), or pass "
            "a hub id that workers can download; see 'Running on an existing Ray cluster'."))
    cls = recipe["cls"]
    est = cls(model=model, tokenizer=recipe["tokenizer"], **recipe["params"])
    est._check_params(who)
    device = est._target_device(who)
    est.backbone_ = est._load_backbone(device, who, None, np.zeros(1))
    est.classes_ = np.asarray(recipe["classes"]).copy()
    est.head_coef_ = recipe["head_coef"]
    est.head_intercept_ = recipe["head_intercept"]
    est.history_ = []
    return est
