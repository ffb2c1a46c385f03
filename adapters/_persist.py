"""Saving and loading a fitted adapter: JSON for the recipe, safetensors for every weight.

A saved adapter is a folder::

    fairbridge-adapter.json   format version, class, parameters, classes, what was refitted
    head.safetensors          the refitted head (refit="head")
    backbone/                 the network (HF: save_pretrained + tokenizer), or
    backbone.safetensors      (torch modules: the state dict)

Nothing is pickled and nothing is unpickled: weights go through safetensors (or, for a
checkpoint the user points at, ``torch.load(weights_only=True)``), everything else is JSON.
"""

from __future__ import annotations

import importlib
import json
import os
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from fairbridge._validation import problem
from fairbridge._version import __version__

__all__ = ["FORMAT_VERSION", "PersistMixin", "class_path", "import_class"]

FORMAT_VERSION = 1
_MANIFEST = "fairbridge-adapter.json"
#: Parameters that hold objects rather than settings; not saved (training-time only).
_OBJECT_PARAMS = {"model", "module", "tokenizer", "callbacks", "fairness_loss"}


def _jsonable(value: Any) -> bool:
    try:
        json.dumps(value)
    except (TypeError, ValueError):
        return False
    return True


def class_path(obj: Any) -> str | None:
    """``"package.module:QualName"`` of a class, or ``None`` for a local class."""
    module = getattr(obj, "__module__", None)
    qual = getattr(obj, "__qualname__", None)
    if module is None or qual is None or "<locals>" in qual:
        return None
    return f"{module}:{qual}"


def import_class(path: str, *, who: str) -> Any:
    """Import ``"package.module:QualName"`` (the saved class of a torch module)."""
    module, _, qual = path.partition(":")
    try:
        obj: Any = importlib.import_module(module)
        for part in qual.split("."):
            obj = getattr(obj, part)
    except (ImportError, AttributeError) as exc:
        raise ValueError(problem(who, "argument 'module'",
                                 "is needed because the saved module class cannot be imported",
                                 f"{path!r} ({exc})", "Pass load(path, module=YourModuleClass).")) from exc
    return obj


class PersistMixin:
    """``save(path)`` and ``load(path)`` for the adapters."""

    def save(self, path: str | os.PathLike, *, include_backbone: bool = True) -> Path:
        """Save the fitted adapter to a folder.

        Parameters
        ----------
        path : str or path
            The folder (created if needed; files in it are overwritten).
        include_backbone : bool, default=True
            Copy the network into the folder (safetensors), making it self-contained.  With
            ``False`` only the checkpoint path is recorded (the network is not copied), which
            needs the original checkpoint at load time; a network that exists only in memory
            or was fine-tuned by ``refit="full"`` is always written.

        Returns
        -------
        Path
            The folder.
        """
        who = f"{type(self).__name__}.save"
        self._check_fitted("save")  # type: ignore[attr-defined]
        out = Path(path)
        out.mkdir(parents=True, exist_ok=True)
        params = self.get_params(deep=False)  # type: ignore[attr-defined]
        saved, dropped = {}, []
        for k, v in params.items():
            if k in _OBJECT_PARAMS:
                continue
            if _jsonable(v):
                saved[k] = v
            else:
                dropped.append(k)
        if dropped:
            warnings.warn(f"{who}: parameters {dropped} are not JSON and were not saved; the "
                          "loaded adapter uses their defaults.", UserWarning, stacklevel=2)
        for k in ("fairness_loss", "callbacks"):
            if params.get(k):
                saved.setdefault("_not_saved", []).append(k)
        bb = self.backbone_  # type: ignore[attr-defined]
        recipe = bb.recipe
        write_backbone = include_backbone or recipe is None
        backbone_entry: dict[str, Any]
        if write_backbone:
            backbone_entry = self._write_backbone(bb, out)
        else:
            backbone_entry = {"source": "recipe", **recipe}
        classes = self.classes_  # type: ignore[attr-defined]
        manifest = {
            "format_version": FORMAT_VERSION,
            "fairbridge_version": __version__,
            "class": type(self).__name__,
            "params": saved,
            "classes": classes.tolist(),
            "classes_dtype": classes.dtype.str if classes.dtype != object else "object",
            "has_head": self.head_coef_ is not None,  # type: ignore[attr-defined]
            "history": self.history_,  # type: ignore[attr-defined]
            "backbone": backbone_entry,
            "n_features_in": getattr(self, "n_features_in_", None),
            "input_shape": list(getattr(self, "input_shape_", []) or []) or None,
        }
        if self.head_coef_ is not None:  # type: ignore[attr-defined]
            from safetensors.numpy import save_file

            save_file({"coef": np.ascontiguousarray(self.head_coef_),  # type: ignore[attr-defined]
                       "intercept": np.ascontiguousarray(self.head_intercept_)},  # type: ignore[attr-defined]
                      str(out / "head.safetensors"))
        (out / _MANIFEST).write_text(json.dumps(manifest, indent=2, default=str))
        return out

    def _write_backbone(self, bb: Any, out: Path) -> dict[str, Any]:
        raise NotImplementedError

    @classmethod
    def load(cls, path: str | os.PathLike, **overrides: Any) -> Any:
        """Load an adapter saved with :meth:`save`.

        Parameters
        ----------
        path : str or path
            The folder written by :meth:`save`.
        **overrides
            Parameters to set on the loaded adapter (e.g. ``device="cpu"``, or
            ``module=MyNet`` for a torch module class that cannot be imported by name).

        Returns
        -------
        adapter
            Fitted, ready to predict.
        """
        who = f"{cls.__name__}.load"
        folder = Path(path)
        manifest_path = folder / _MANIFEST
        if not manifest_path.is_file():
            raise ValueError(problem(who, "argument 'path'",
                                     f"must be a folder written by {cls.__name__}.save()",
                                     f"{os.fspath(path)!r} (no {_MANIFEST} in it)",
                                     "Pass the folder you saved to."))
        manifest = json.loads(manifest_path.read_text())
        if manifest.get("format_version") != FORMAT_VERSION or manifest.get("class") != cls.__name__:
            raise ValueError(problem(
                who, "argument 'path'",
                f"must hold a {cls.__name__} in format {FORMAT_VERSION}",
                f"a {manifest.get('class')} in format {manifest.get('format_version')}",
                f"Load it with {manifest.get('class')}.load(), or re-save it with this version."))
        params = {k: v for k, v in manifest["params"].items() if not k.startswith("_")}
        params.update(cls._backbone_params(manifest["backbone"], folder, who, overrides))
        params.update(overrides)
        est = cls(**params)
        est._check_params(who)  # type: ignore[attr-defined]
        device = est._target_device(who)  # type: ignore[attr-defined]
        y_dummy = np.zeros(1)
        inputs = None
        if manifest.get("input_shape"):
            inputs = np.zeros([1, *manifest["input_shape"]], dtype=np.float32)
        est.backbone_ = est._load_backbone(device, who, inputs, y_dummy)  # type: ignore[attr-defined]
        dtype = object if manifest["classes_dtype"] == "object" else np.dtype(manifest["classes_dtype"])
        est.classes_ = np.array(manifest["classes"], dtype=dtype)
        est.history_ = manifest.get("history", [])
        est.head_coef_ = est.head_intercept_ = None
        if manifest.get("n_features_in") is not None:
            est.n_features_in_ = int(manifest["n_features_in"])
        if manifest.get("input_shape"):
            est.input_shape_ = tuple(manifest["input_shape"])
        if manifest["has_head"]:
            from safetensors.numpy import load_file

            head = load_file(str(folder / "head.safetensors"))
            est.head_coef_, est.head_intercept_ = head["coef"], head["intercept"]
        return est

    @classmethod
    def _backbone_params(cls, entry: dict, folder: Path, who: str, overrides: dict) -> dict:
        raise NotImplementedError
