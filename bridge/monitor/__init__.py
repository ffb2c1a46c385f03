"""Monitor fairness while fine-tuning and after deployment.

Three paths, one vocabulary of metrics (``fairness/<metric>``):

* **Fine-tuning with the Hugging Face Trainer**: :func:`trainer_metrics` (a ``compute_metrics``
  with per-group rates and disparities computed by Fairlearn) and :class:`FairnessGuard` (stop
  or warn when a disparity stays above its bound).  In the adapters' own ``refit="full"`` loop,
  :class:`FairnessCallback` and the same :class:`FairnessGuard`.
* **A plain PyTorch loop**: :class:`BatchMonitor` accumulates per-group rates over batches with
  torchmetrics.
* **After deployment**: :class:`FairnessMonitor` checks one window of production scores at a
  time against the reference taken at release, raises alerts only on changes that are both
  large (``min_effect``) and statistically established (bootstrap, Holm or
  Benjamini-Hochberg), and keeps the history in SQLite.  From the shell:
  ``fairbridge monitor ...`` (or ``python -m fairbridge.monitor ...``).

The training-time names import ``transformers``/``torch`` on first use only.
"""

from __future__ import annotations

import importlib as _importlib
from typing import TYPE_CHECKING as _TYPE_CHECKING
from typing import Any as _Any

from ._metrics import DISPARITIES, FairnessWarning
from ._monitor import FairnessMonitor
from ._result import Alert, MonitorResult
from ._store import SCHEMA_VERSION, MonitorStore

if _TYPE_CHECKING:  # pragma: no cover
    from ._batch import BatchMonitor
    from ._training import FairnessCallback, FairnessGuard, trainer_metrics

__all__ = [
    "Alert",
    "BatchMonitor",
    "DISPARITIES",
    "FairnessCallback",
    "FairnessGuard",
    "FairnessMonitor",
    "FairnessWarning",
    "MonitorResult",
    "MonitorStore",
    "SCHEMA_VERSION",
    "trainer_metrics",
]

#: Names whose module imports torch / transformers: loaded on first access.
_LAZY = {
    "BatchMonitor": "._batch",
    "FairnessCallback": "._training",
    "FairnessGuard": "._training",
    "trainer_metrics": "._training",
}


def __getattr__(name: str) -> _Any:
    if name in _LAZY:
        value = getattr(_importlib.import_module(_LAZY[name], __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
