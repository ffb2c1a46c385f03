"""JSON-safe copies of results: the one conversion every ``to_dict()`` and writer uses."""

from __future__ import annotations

import datetime as _dt
import math
import numbers
import os
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["json_safe"]


def json_safe(value: Any) -> Any:
    """A copy of ``value`` made of JSON types only.

    NaN, infinities, ``pd.NA`` and ``pd.NaT`` become ``None`` (JSON ``null``); NumPy scalars and
    arrays, tuples, sets, paths, dates and pandas objects become their plain equivalents; a
    class becomes its dotted name; any other object becomes its ``str``.  The input is not
    modified.
    """
    if value is None or isinstance(value, (bool, str)):
        return value
    if value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        f = float(value)
        return f if math.isfinite(f) else None
    if isinstance(value, Mapping):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, np.ndarray):
        return [json_safe(v) for v in value.tolist()]
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    if isinstance(value, (set, frozenset)):
        return sorted((json_safe(v) for v in value), key=str)
    if isinstance(value, (_dt.datetime, _dt.date)):
        return value.isoformat()
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    if isinstance(value, pd.DataFrame):
        return json_safe(value.to_dict(orient="records"))
    if isinstance(value, type):
        return f"{value.__module__}.{value.__qualname__}"
    if hasattr(value, "tolist"):  # pandas Series / Index, torch tensors
        try:
            return json_safe(value.tolist())
        except Exception:  # noqa: BLE001 - exotic objects fall back to str
            pass
    return str(value)
