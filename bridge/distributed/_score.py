"""Scoring a Ray Dataset of texts with a fitted adapter: ``fairbridge.distributed.score``.

How a run goes
--------------
1. On the driver: the arguments and the cluster's resources are checked (:mod:`._ray`), and the
   adapter is turned into a small recipe (:mod:`._recipe`).
2. Without ``id_column``, the input is materialised once in Ray's object store, in its logical
   order, and numbered: ``row_id`` is the row's position (0 .. n-1), fixed before any scoring
   starts, so a retried task or a restarted actor scores the same rows under the same ids, and
   every later execution of the returned (lazy) dataset sees the same ids.  Blocks larger than
   an even share are split at the same time so that every actor gets work (a
   ``ray.data.from_pandas`` frame arrives as one block).  The driver holds object references
   and row counts only, never the rows.
3. ``map_batches`` with a callable class: each actor rebuilds the adapter from the recipe, loads
   the backbone once, and scores its batches with the adapter's own engine (length sorting,
   dynamic padding, autocast on CUDA).  Ray Data restarts a dead actor and retries its task
   (``max_restarts=-1``, ``max_task_retries=-1`` are its defaults for actor pools).

The output keeps every input column and adds, per row: ``logit_<class>`` and ``proba_<class>``
for every class, ``score`` (the probability of the positive class, binary models only),
``prediction``, ``error`` (why a row could not be used, else null) and, with
``return_features=True``, ``features`` (the penultimate features that head refits train on).
"""

from __future__ import annotations

import dataclasses
import inspect
import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from fairbridge._scores import softmax
from fairbridge._validation import describe, problem

from ._ray import check_nonnegative, check_positive_int, import_ray, init_ray, plan_resources
from ._recipe import adapter_recipe, rebuild_adapter

__all__ = ["ScoreColumns", "score", "score_columns", "score_frame"]

_WHO = "fairbridge.distributed.score"
#: The largest block the input is split into (rows), so that one retry redoes little work.
MAX_ROWS_PER_BLOCK = 50_000


@dataclasses.dataclass(frozen=True)
class ScoreColumns:
    """The names of the columns that :func:`score` adds.

    Attributes
    ----------
    classes : tuple
        The model's classes, in output order.
    logits : tuple of str
        ``logit_<class>`` per class: the (refitted) model's logits.
    probabilities : tuple of str
        ``proba_<class>`` per class: softmax of the logits, as ``predict_proba`` returns them.
    score : str or None
        ``"score"``: probability of ``classes[1]`` (binary models), else ``None``.
    prediction : str
        ``"prediction"``: the predicted class label.
    error : str
        ``"error"``: why a row was not scored or cannot be audited (null when fine).
    features : str or None
        ``"features"`` with ``return_features=True``.
    row_id : str
        The id column: ``id_column``, or ``"row_id"`` when :func:`score` adds it.
    """

    classes: tuple
    logits: tuple[str, ...]
    probabilities: tuple[str, ...]
    score: str | None
    prediction: str
    error: str
    features: str | None
    row_id: str

    @property
    def added(self) -> tuple[str, ...]:
        """Every column :func:`score` adds (the id column included when it adds it)."""
        cols = [*self.logits, *self.probabilities]
        if self.score is not None:
            cols.append(self.score)
        cols += [self.prediction, self.error]
        if self.features is not None:
            cols.append(self.features)
        return tuple(cols)


def score_columns(classes: Sequence[Any], *, return_features: bool = False,
                  id_column: str | None = None) -> ScoreColumns:
    """The output column names for a model with ``classes``.

    Parameters
    ----------
    classes : sequence
        The fitted ``classes_`` of the adapter.
    return_features : bool, default=False
        Whether the ``features`` column is added.
    id_column : str, optional
        The id column the input already has (``None``: ``"row_id"`` is added).

    Returns
    -------
    ScoreColumns
    """
    classes = tuple(np.asarray(classes).tolist())
    names = [str(c) for c in classes]
    return ScoreColumns(
        classes=classes,
        logits=tuple(f"logit_{n}" for n in names),
        probabilities=tuple(f"proba_{n}" for n in names),
        score="score" if len(classes) == 2 else None,
        prediction="prediction",
        error="error",
        features="features" if return_features else None,
        row_id="row_id" if id_column is None else id_column,
    )


def _text_problem(value: Any) -> str | None:
    if isinstance(value, str):
        return None if value.strip() else "text is empty"
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA:
        return "text is missing"
    return f"text is not a string (got {type(value).__name__})"


def _prediction_array(classes: np.ndarray, idx: np.ndarray, ok: np.ndarray) -> Any:
    """Predicted labels, null where a row was not scored; one dtype whatever the batch."""
    n = ok.size
    if classes.dtype.kind in "iub":
        out = pd.array(np.zeros(n, dtype=np.int64), dtype="Int64")
        out[ok] = classes[idx].astype(np.int64)
        out[~ok] = pd.NA
        return out
    if classes.dtype.kind == "f":
        vals = np.full(n, np.nan)
        vals[ok] = classes[idx]
        return vals
    vals = pd.array([None] * n, dtype="string")
    vals[ok] = [str(c) for c in classes[idx]]
    return vals


def score_frame(estimator: Any, frame: pd.DataFrame, *, text_column: str,
                label_column: str | None = None, return_features: bool = False,
                columns: ScoreColumns | None = None) -> pd.DataFrame:
    """Score one pandas batch with a fitted text adapter: what each Ray actor runs.

    Rows whose text is missing, empty or not a string are not scored (null scores) and get a
    reason in the ``error`` column; with ``label_column``, a missing label is reported there
    too (the row is still scored).  ``frame`` is not modified.

    Parameters
    ----------
    estimator : HFTextClassifier
        Fitted.
    frame : DataFrame
        The batch; every column is kept.
    text_column : str
        The column of texts.
    label_column : str, optional
        A label column to check for missing values.
    return_features : bool, default=False
        Add the ``features`` column.
    columns : ScoreColumns, optional
        Output names (default: from ``estimator.classes_``).

    Returns
    -------
    DataFrame
        ``frame``'s columns followed by the score columns, same rows in the same order.
    """
    cols = columns or score_columns(estimator.classes_, return_features=return_features)
    n = len(frame)
    reasons: list[str | None] = [_text_problem(v) for v in frame[text_column].tolist()]
    if label_column is not None:
        missing = pd.isna(frame[label_column]).to_numpy()
        for i in np.flatnonzero(missing):
            reasons[i] = "label is missing" if reasons[i] is None else reasons[i] + "; label is missing"
    bad_text = np.array([r is not None and r.startswith("text") for r in reasons], dtype=bool)
    ok = ~bad_text
    k = len(cols.classes)
    z = np.full((n, k), np.nan)
    feats = None
    rows = np.flatnonzero(ok)
    if rows.size:
        texts = [frame[text_column].iat[i] for i in rows]
        f, lg = estimator.outputs(texts)
        z[rows] = estimator.scores_from_outputs(f, lg)
        if return_features:
            feats = np.full((n, f.shape[1]), np.nan, dtype=np.float32)
            feats[rows] = f
    proba = np.full_like(z, np.nan)
    if rows.size:
        proba[rows] = softmax(z[rows])
    idx = np.argmax(np.where(np.isnan(z), -np.inf, z), axis=1)
    new: dict[str, Any] = {}
    for j, name in enumerate(cols.logits):
        new[name] = z[:, j]
    for j, name in enumerate(cols.probabilities):
        new[name] = proba[:, j]
    if cols.score is not None:
        new[cols.score] = proba[:, 1]
    classes = np.asarray(cols.classes)
    new[cols.prediction] = _prediction_array(classes, idx[ok], ok)
    new[cols.error] = pd.array(reasons, dtype="string")
    out = pd.DataFrame(new, index=frame.index)
    if return_features and cols.features is not None:
        if feats is None:  # nothing scored in this batch: keep the column's shape
            width = _feature_width(estimator)
            feats = np.full((n, width), np.nan, dtype=np.float32)
        out[cols.features] = list(feats)
    return pd.concat([frame, out], axis=1)


def _feature_width(estimator: Any) -> int:
    if getattr(estimator, "head_coef_", None) is not None:
        return int(estimator.head_coef_.shape[1])
    try:
        return int(estimator.backbone_.head_parameters()[0].shape[1])
    except ValueError:  # no linear head found: the features are the logits
        return len(estimator.classes_)


class _TextScorer:
    """The callable class Ray Data runs in each actor: one adapter, loaded once, many batches."""

    def __init__(self, recipe: dict, *, text_column: str, label_column: str | None,
                 return_features: bool, columns: ScoreColumns, torch_threads: int | None) -> None:
        if torch_threads:
            import torch

            torch.set_num_threads(int(torch_threads))
        self._estimator = rebuild_adapter(recipe)
        self._text_column = text_column
        self._label_column = label_column
        self._return_features = return_features
        self._columns = columns

    def __call__(self, batch: pd.DataFrame) -> pd.DataFrame:
        return score_frame(self._estimator, batch, text_column=self._text_column,
                           label_column=self._label_column,
                           return_features=self._return_features, columns=self._columns)


# -- preparing the input -------------------------------------------------------------------
_REMOTE: dict[str, Any] = {}


def _remote_functions(ray: Any) -> dict[str, Any]:
    if not _REMOTE:
        @ray.remote(num_cpus=0.25)
        def block_rows(block: Any) -> int:
            return int(block.num_rows) if hasattr(block, "num_rows") else len(block)

        @ray.remote(num_cpus=0.25)
        def split_block(block: Any, offset: int, pieces: int, id_name: str | None) -> Any:
            import pyarrow as pa

            table = block if isinstance(block, pa.Table) else pa.Table.from_pandas(block, preserve_index=False)
            if id_name is not None:
                ids = pa.array(np.arange(offset, offset + table.num_rows, dtype=np.int64))
                table = table.append_column(id_name, ids)
            if pieces == 1:
                return table
            bounds = np.linspace(0, table.num_rows, pieces + 1).round().astype(int)
            return tuple(table.slice(int(a), int(b - a)) for a, b in zip(bounds[:-1], bounds[1:]))

        _REMOTE.update(block_rows=block_rows, split_block=split_block)
    return _REMOTE


def _materialize_in_order(ds: Any) -> Any:
    """``ds.materialize()`` in the dataset's logical order (``preserve_order`` on a copy)."""
    try:
        staged = type(ds).copy(ds, _deep_copy=True)
        staged.context.execution_options.preserve_order = True
    except Exception:  # noqa: BLE001 - an older/newer Ray without this private helper
        staged = ds
    return staged.materialize()


def prepare_blocks(ds: Any, *, add_id: str | None, concurrency: int, blocks_per_actor: int = 4,
                   max_rows_per_block: int = MAX_ROWS_PER_BLOCK, who: str = _WHO) -> Any:
    """Materialise ``ds`` in order, optionally number its rows, and split big blocks.

    Returns a materialised dataset with at least ``concurrency * blocks_per_actor`` blocks (when
    there are that many rows), each at most ``max_rows_per_block`` rows, and, with ``add_id``,
    a column of that name holding each row's position ``0 .. n-1``.
    """
    ray = import_ray(who)
    fns = _remote_functions(ray)
    mat = _materialize_in_order(ds)
    refs = mat.to_arrow_refs()
    counts = ray.get([fns["block_rows"].remote(r) for r in refs])
    total = int(sum(counts))
    if total == 0:
        raise ValueError(problem(who, "argument 'ds'", "must hold at least one row",
                                 "an empty dataset", "Pass a dataset with rows to score."))
    expected = mat.count()
    if expected != total:  # pragma: no cover - would be a Ray bug; never number rows twice
        raise RuntimeError(f"{who}: the dataset reports {expected} rows but its blocks hold "
                           f"{total}; refusing to number rows that could be lost or duplicated.")
    target = max(1, min(max_rows_per_block, math.ceil(total / (concurrency * blocks_per_actor))))
    out, offset = [], 0
    for ref, count in zip(refs, counts):
        if count == 0:
            continue
        pieces = max(1, math.ceil(count / target))
        if pieces == 1 and add_id is None:
            out.append(ref)
        else:
            res = fns["split_block"].options(num_returns=pieces).remote(ref, offset, pieces, add_id)
            out.extend(res if pieces > 1 else [res])
        offset += count
    return ray.data.from_arrow_refs(out)


# -- the public entry point ------------------------------------------------------------------
def _schema_names(ds: Any) -> list[str]:
    schema = ds.schema()
    names = getattr(schema, "names", None)
    return list(names) if names is not None else []


def score(
    estimator: Any,
    ds: Any,
    *,
    text_column: str = "text",
    id_column: str | None = None,
    label_column: str | None = None,
    concurrency: int = 2,
    num_gpus: float = 0,
    num_cpus: float | None = None,
    batch_size: int = 512,
    return_features: bool = False,
    check_resources: bool = True,
    blocks_per_actor: int = 4,
    runtime_env: dict | None = None,
    ray_remote_args: dict | None = None,
) -> Any:
    """Score a Ray Dataset of texts with a fitted adapter, on a pool of Ray actors.

    Each actor loads the adapter's network once (from its path or hub id, never from pickled
    weights) and scores its batches with the adapter's own batched engine, so the results are
    those of ``estimator.predict_proba`` on one machine (to float tolerance).

    Parameters
    ----------
    estimator : HFTextClassifier
        A fitted adapter whose network loads from a path or hub id that every worker can
        read.  An in-memory :class:`~fairbridge.adapters.SharedModel` (or a ``refit="full"``
        fine-tune) is refused: ``clf.save(path)`` it and pass ``HFTextClassifier.load(path)``.
    ds : ray.data.Dataset
        The rows to score (``read_parquet``, ``read_csv``, ``from_pandas``, ...).  Without a
        running Ray, a local one is started first (:func:`~fairbridge.distributed.init_ray`).
    text_column : str, default="text"
        The column of texts.
    id_column : str, optional
        A column that identifies each row.  ``None`` adds ``row_id``: the row's position in
        ``ds`` (its logical order), fixed before scoring starts by materialising ``ds`` once
        in the object store (not on the driver).  With an id column the input streams
        through without that extra pass.
    label_column : str, optional
        Report rows whose label is missing in the ``error`` column.
    concurrency : int, default=2
        Actors in the pool (``ActorPoolStrategy(size=concurrency)``).
    num_gpus : float, default=0
        GPUs per actor (``num_gpus=1``: one GPU each; the adapter runs on CUDA there).
    num_cpus : float, optional
        CPUs per actor.  ``None`` leaves one CPU of the cluster to Ray Data's read and split
        tasks and shares the rest (fractional where needed), so the run cannot stall; an
        explicit value that would take every CPU is refused with the fix.
    batch_size : int, default=512
        Rows per call of the scorer (the engine sorts by length and pads within it; the
        adapter's own ``batch_size`` sizes the forward passes).  On GPUs pass several
        thousand so that each call fills the device with well-sorted batches.
    return_features : bool, default=False
        Add the ``features`` column (float32 penultimate features), for head refits.
    check_resources : bool, default=True
        Check the plan against the cluster's resources before starting (see
        :func:`~fairbridge.distributed.plan_resources`); ``False`` on an autoscaling cluster.
    blocks_per_actor : int, default=4
        Split the input into at least ``concurrency * blocks_per_actor`` blocks.
    runtime_env : dict, optional
        Ray runtime environment of the actors (``env_vars``, ``pip``, ...).
    ray_remote_args : dict, optional
        More options for the actors (e.g. ``{"max_restarts": 3}``; Ray Data's defaults
        restart dead actors and retry their tasks without limit).

    Returns
    -------
    ray.data.Dataset
        Lazy: it runs when consumed (``write_parquet``, ``materialize``, :func:`audit`).
        Materialise it (``.materialize()``) if you consume it more than once, or the model
        runs again each time.  Every input column is kept; the added columns are described
        by :func:`score_columns`.

    Examples
    --------
    >>> scores = fb.distributed.score(clf, ray.data.read_parquet("eval/"), concurrency=4,
    ...                               num_gpus=1)  # doctest: +SKIP
    >>> scores.write_parquet("scores/")  # doctest: +SKIP
    """
    ray = import_ray(_WHO)
    if not isinstance(ds, ray.data.Dataset):
        raise TypeError(problem(_WHO, "argument 'ds'", "must be a ray.data.Dataset", describe(ds),
                                "Wrap the data with ray.data.from_pandas(df) or read it with "
                                "ray.data.read_parquet(path)."))
    concurrency = check_positive_int(_WHO, "concurrency", concurrency)
    batch_size = check_positive_int(_WHO, "batch_size", batch_size)
    blocks_per_actor = check_positive_int(_WHO, "blocks_per_actor", blocks_per_actor)
    gpus = check_nonnegative(_WHO, "num_gpus", num_gpus)
    cpus = check_nonnegative(_WHO, "num_cpus", num_cpus, allow_none=True)
    for name, value in (("text_column", text_column), ("id_column", id_column),
                        ("label_column", label_column)):
        if value is not None and not isinstance(value, str):
            raise TypeError(problem(_WHO, f"argument {name!r}", "must be a column name (str)",
                                    describe(value), f"Pass {name}='<column>'."))
    if text_column is None:
        raise TypeError(problem(_WHO, "argument 'text_column'", "must be a column name (str)",
                                "None", "Pass text_column='<column>'."))
    recipe = adapter_recipe(estimator, device="cuda" if gpus > 0 else "cpu", who=_WHO)
    if not ray.is_initialized():
        # Ray Data would start a local Ray on first use; start it now so that the plan below
        # sees the real CPUs (a plan made without them could take every CPU and stall).
        init_ray()
    plan = plan_resources(concurrency=concurrency, num_cpus=cpus, num_gpus=gpus,
                          check=bool(check_resources), who=_WHO)
    columns = score_columns(estimator.classes_, return_features=bool(return_features),
                            id_column=id_column)
    names = _schema_names(ds)
    wanted = {"text_column": text_column, "id_column": id_column, "label_column": label_column}
    for arg, col in wanted.items():
        if col is not None and names and col not in names:
            raise ValueError(problem(_WHO, f"argument {arg!r}", "must name a column of ds",
                                     repr(col), f"Choose one of {names[:10]}."))
    taken = sorted(set(columns.added + (() if id_column else (columns.row_id,))) & set(names))
    if taken:
        fix = "Rename them first with ds.rename_columns({old: new})"
        if id_column is None and columns.row_id in taken:
            fix += f", or pass id_column={columns.row_id!r} if that column identifies the rows"
        raise ValueError(problem(_WHO, "argument 'ds'",
                                 "must not already have the columns that score() adds",
                                 f"columns {taken}", fix + "."))
    from ray.data.dataset import MaterializedDataset

    materialized = isinstance(ds, MaterializedDataset)
    if id_column is None or materialized:
        ds = prepare_blocks(ds, add_id=None if id_column else columns.row_id,
                            concurrency=concurrency, blocks_per_actor=blocks_per_actor)
    options: dict[str, Any] = dict(
        fn_constructor_kwargs=dict(recipe=recipe, text_column=text_column,
                                   label_column=label_column,
                                   return_features=bool(return_features), columns=columns,
                                   torch_threads=plan.torch_threads),
        compute=ray.data.ActorPoolStrategy(size=concurrency),
        batch_size=batch_size,
        batch_format="pandas",
        num_cpus=plan.num_cpus,
    )
    if gpus > 0:
        options["num_gpus"] = gpus
    if runtime_env is not None:
        options["runtime_env"] = runtime_env
    if "udf_modifying_row_count" in inspect.signature(ds.map_batches).parameters:
        options["udf_modifying_row_count"] = False
    extra = dict(ray_remote_args or {})
    if extra:
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            warnings.filterwarnings("ignore", message=".*ray_remote_args.*")
            return ds.map_batches(_TextScorer, **options, **extra)
    return ds.map_batches(_TextScorer, **options)
