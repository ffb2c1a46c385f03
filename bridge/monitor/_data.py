"""Reading the monitor's inputs: DataFrames, files, Ray datasets."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pandas as pd

from fairbridge._optional import import_optional
from fairbridge._validation import describe, problem

__all__ = ["READERS", "collect_ray", "is_ray_dataset", "read_table"]

#: File suffix -> reader.
def _read_json(path: Path) -> pd.DataFrame:
    try:
        return pd.read_json(path)
    except ValueError:  # JSON lines, as the main CLI writes them
        return pd.read_json(path, lines=True)


READERS: dict[str, Any] = {
    ".csv": pd.read_csv,
    ".tsv": lambda p: pd.read_csv(p, sep="\t"),
    ".parquet": pd.read_parquet,
    ".pq": pd.read_parquet,
    ".json": _read_json,
    ".jsonl": lambda p: pd.read_json(p, lines=True),
    ".ndjson": lambda p: pd.read_json(p, lines=True),
}


def is_ray_dataset(obj: Any) -> bool:
    """Whether ``obj`` is a ``ray.data.Dataset`` (checked without importing ray)."""
    return any(cls.__module__.startswith("ray.data") and cls.__name__ in ("Dataset", "MaterializedDataset")
               for cls in type(obj).__mro__)


def read_table(source: Any, *, who: str, name: str) -> pd.DataFrame:
    """A DataFrame as given (never modified), or read from a CSV, Parquet or JSON file."""
    if isinstance(source, pd.DataFrame):
        return source
    if isinstance(source, (str, os.PathLike)):
        path = Path(source)
        if not path.is_file():
            raise FileNotFoundError(problem(who, f"argument {name!r}", "must be an existing file",
                                            repr(str(path)), "Check the path."))
        reader = READERS.get(path.suffix.lower())
        if reader is None:
            shown = ", ".join(sorted(READERS))
            raise ValueError(problem(who, f"argument {name!r}", f"must be a file ending in one of {shown}",
                                     repr(str(path)), "Convert the file, or pass a DataFrame."))
        return reader(path)
    raise TypeError(problem(who, f"argument {name!r}",
                            "must be a DataFrame, a path to a CSV/Parquet/JSON file"
                            + (" or a ray.data.Dataset" if name == "data" else ""),
                            describe(source), "Load the data with pandas first."))


def collect_ray(dataset: Any, columns: list[str], *, who: str,
                optional: tuple[str, ...] = ()) -> pd.DataFrame:
    """Only ``columns`` (and those of ``optional`` it has) of a Ray dataset, as a DataFrame.

    The other columns (raw texts, features) are dropped by the Ray workers before anything is
    sent to the driver, so a window of texts costs a few numbers per row here.
    """
    ray_data = import_optional("ray.data", purpose=f"{who} on a ray.data.Dataset")
    if not isinstance(dataset, ray_data.Dataset):
        raise TypeError(problem(who, "argument 'data'", "must be a ray.data.Dataset",
                                describe(dataset), "Pass ray.data.from_pandas(df) or a read_*()."))
    names = list(dataset.schema().names)
    missing = [c for c in columns if c not in names]
    if missing:
        raise ValueError(problem(who, "argument 'data'", f"must have the column(s) {missing}",
                                 f"a ray dataset with columns {names[:10]}",
                                 "Score the dataset first, or name the right columns."))
    keep = list(columns) + [c for c in optional if c in names and c not in columns]
    return dataset.select_columns(keep).to_pandas()
