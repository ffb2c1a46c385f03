"""Making ``aif360.sklearn`` work with current scikit-learn, and what AIF360 does to ``X``.

The scikit-learn tags shim
--------------------------
AIF360 0.6.1 (the current release) reads estimator tags the pre-1.6 way:
``PostProcessingMeta.fit``, ``.predict``, ``.predict_proba`` and ``.predict_log_proba`` call
``self.postprocessor._get_tags()['requires_proba']``.  scikit-learn 1.6 replaced that API by
``__sklearn_tags__`` and deprecated ``BaseEstimator._get_tags``, which is gone from 1.7 on, so
with scikit-learn >= 1.7 every ``PostProcessingMeta`` call fails with ``AttributeError``.
:func:`legacy_tags` fixes it without touching scikit-learn or AIF360 globally: it returns the
post-processor as an instance of a subclass (made once per class) whose ``_get_tags`` answers
from the post-processor's own ``_more_tags()`` (``{'requires_proba': True}`` for AIF360's
``CalibratedEqualizedOdds``, ``RejectOptionClassifier`` and ``RejectOptionClassifierCV``).  It is a
no-op where ``_get_tags`` still exists.  Remove this module once an AIF360 release reads
``__sklearn_tags__`` (or no longer calls ``_get_tags``) and fairbridge requires it.

What AIF360 does to ``X`` (aif360 0.6.1, ``aif360.sklearn``)
-----------------------------------------------------------
* **Protected attributes live in the index.**  ``check_groups(arr, prot_attr)`` reads the groups
  from ``arr.index`` (all index levels when ``prot_attr is None``, else the named levels), or
  from explicit arrays passed as ``prot_attr``.
* ``PostProcessingMeta(estimator, postprocessor, prefit=True).fit(X, y)`` passes ``X`` to
  ``estimator.predict_proba(X)`` **unchanged**, then wraps the scores as
  ``pd.DataFrame(scores, index=X.index)`` for the post-processor: ``X`` must be a pandas object
  whose index holds the protected attribute, and ``y`` a Series with that index
  (``CalibratedEqualizedOdds.fit`` reads the groups from ``y.index``,
  ``RejectOptionClassifier.fit`` from the score frame's).  ``labels=estimator.classes_`` is
  passed to the post-processor, whose ``pos_label`` defaults to ``1``.  ``predict``/``predict_proba``
  repeat the wrapping.  With ``prefit=False`` it first ``train_test_split``s ``X`` and ``y``
  (rows and index kept) and fits a clone of the estimator on one part.
* ``Reweighing().fit_transform(X, y)`` requires ``X.ndim == 2`` (a one-column DataFrame of text
  passes; a Series or list does not), reads the groups from ``X.index`` and returns ``X``
  unchanged with new sample weights.
* Both post-processors need exactly two groups (``ensure_binary=True``) and take ``1`` as the
  privileged one by default.

So a text model receives a **one-column DataFrame of text** whose index is the protected
attribute: :class:`~fairbridge.adapters.HFTextClassifier` reads the column and ignores the
index.  fairbridge's AIF360 mitigations build exactly that with :func:`indexed_frame`, putting
``1`` for the privileged group and ``0`` for every other group in the index (AIF360's own
convention for its "unprivileged = everyone else" metrics), so that the binary-only
post-processors also work with a sensitive feature of more than two groups.

Importing AIF360 quietly
------------------------
Importing ``aif360.sklearn`` logs warnings about optional extras (TensorFlow, inFairness, POT)
through the *root* logger, and ``logging.warning`` on an unconfigured root logger calls
``logging.basicConfig()`` as a side effect.  :func:`quiet_import` imports through
:func:`fairbridge._optional.import_optional` with those records filtered and a temporary
handler in place, so neither the messages nor the logging configuration leak into the user's
program.
"""

from __future__ import annotations

import logging
import threading
from types import ModuleType
from typing import Any

import numpy as np
import pandas as pd

from ._optional import import_optional

__all__ = ["indexed_frame", "legacy_tags", "needs_legacy_tags", "quiet_import"]

_IMPORT_LOCK = threading.Lock()
_SUBCLASSES: dict[type, type] = {}


class _DropAif360ExtrasNotices(logging.Filter):
    """Drop AIF360's import-time "X will be unavailable" notices."""

    def filter(self, record: logging.LogRecord) -> bool:  # noqa: A003 - logging API
        msg = record.getMessage()
        return not ("will be unavailable" in msg and "pip install 'aif360" in msg)


def quiet_import(name: str, *, purpose: str | None = None) -> ModuleType:
    """Import an ``aif360`` module without its import-time log noise.

    Parameters
    ----------
    name : str
        The module, e.g. ``"aif360.sklearn.postprocessing"``.
    purpose : str, optional
        What needs it, for the install hint of a missing package.

    Returns
    -------
    ModuleType

    Raises
    ------
    fairbridge.MissingDependencyError
        If AIF360 is not installed (the message names ``pip install 'fairbridge[aif360]'``).
    """
    root = logging.getLogger()
    filt = _DropAif360ExtrasNotices()
    handler = logging.NullHandler()
    with _IMPORT_LOCK:
        root.addFilter(filt)
        root.addHandler(handler)  # keeps logging.warning() from calling basicConfig()
        try:
            return import_optional(name, purpose=purpose)
        finally:
            root.removeHandler(handler)
            root.removeFilter(filt)


def needs_legacy_tags(estimator: Any) -> bool:
    """Whether ``estimator`` lacks the pre-1.6 ``_get_tags`` that AIF360 0.6.1 calls."""
    return not callable(getattr(estimator, "_get_tags", None))


class _LegacyTagsMixin:
    """Answers AIF360's ``_get_tags()['requires_proba']`` from ``_more_tags()``."""

    def _get_tags(self) -> dict[str, Any]:
        tags: dict[str, Any] = {"requires_proba": False}
        more = getattr(self, "_more_tags", None)
        if callable(more):
            tags.update(more())
        return tags


def legacy_tags(postprocessor: Any) -> Any:
    """``postprocessor`` with the ``_get_tags`` method that ``PostProcessingMeta`` calls.

    Parameters
    ----------
    postprocessor : estimator
        An AIF360 post-processor, e.g. ``CalibratedEqualizedOdds(prot_attr="sex")``.

    Returns
    -------
    estimator
        ``postprocessor`` itself where ``_get_tags`` exists (scikit-learn < 1.7); otherwise a new,
        unfitted instance of a subclass of its class with the same parameters (``clone`` keeps
        the subclass).  The subclass is made once per class.

    Examples
    --------
    >>> from aif360.sklearn.postprocessing import CalibratedEqualizedOdds, PostProcessingMeta
    >>> pp = PostProcessingMeta(clf, legacy_tags(CalibratedEqualizedOdds("sex")), prefit=True)  # doctest: +SKIP
    """
    if not needs_legacy_tags(postprocessor):
        return postprocessor
    cls = type(postprocessor)
    with _IMPORT_LOCK:
        sub = _SUBCLASSES.get(cls)
        if sub is None:
            sub = type(cls.__name__, (_LegacyTagsMixin, cls),
                       {"__module__": __name__, "__doc__": cls.__doc__})
            _SUBCLASSES[cls] = sub
    return sub(**postprocessor.get_params(deep=False))


def indexed_frame(X: Any, groups: np.ndarray, name: str) -> Any:
    """``X`` as a pandas object whose index is ``groups`` (named ``name``), as AIF360 reads it.

    A 1-D sequence of texts becomes a one-column DataFrame; a DataFrame or 2-D array keeps its
    columns.  ``X`` itself is not modified.
    """
    index = pd.Index(np.asarray(groups), name=name)
    if isinstance(X, pd.DataFrame):
        return X.set_axis(index, axis=0)
    if isinstance(X, pd.Series):
        return X.to_frame(name=X.name if X.name is not None else "text").set_axis(index, axis=0)
    arr = np.asarray(X, dtype=object) if isinstance(X, (list, tuple)) else np.asarray(X)
    if arr.ndim == 1:
        return pd.DataFrame({"text": arr}, index=index)
    if arr.ndim == 2:
        return pd.DataFrame(arr, index=index)
    raise ValueError(
        f"fairbridge: AIF360 needs 2-D inputs with the protected attribute in the index, but got "
        f"an array of shape {arr.shape}. Flatten the inputs, or use a Fairlearn mitigation.")
