"""Scale out on Ray Data: score millions of texts on a cluster, audit and mitigate from scores.

>>> import ray, fairbridge as fb  # doctest: +SKIP
>>> scores = fb.distributed.score(clf, ray.data.read_parquet("eval/"), concurrency=4,
...                               num_gpus=1).materialize()  # doctest: +SKIP
>>> result = fb.distributed.audit(None, scores, label_column="y",
...                               sensitive_column="sex")  # doctest: +SKIP

* :func:`score` runs the adapter's own engine on a pool of Ray actors (one network load per
  actor, from a path or hub id) and keeps every input column, adding logits, probabilities,
  the prediction, an ``error`` per malformed row and, on request, the penultimate features;
  a stable ``row_id`` goes in and comes out.
* :func:`audit` counts *groups x label x prediction* on the cluster and computes the same
  :class:`~fairbridge._audit.AuditResult` as a local audit from those counts.
* :func:`compare` is ``fairbridge.compare(..., engine="ray")``: one scoring run on the cluster,
  then every mitigation method on the returned features and scores (the same table as locally).
* :func:`fit_postprocessor` (ThresholdOptimizer, AIF360's post-processors) fits on three small
  columns; :class:`HeadClassifier` / :func:`fit_from_outputs` refit the head on the returned
  features (Fairlearn's reductions take it as their estimator); :func:`predict_on_ray` applies
  either to every row on the cluster.

Ray is optional (``pip install 'fairbridge[ray]'``) and imported only when one of these runs;
``import fairbridge`` never imports it.
"""

from ._audit import CellCounts, audit, cell_counts, invalid_rows
from ._collect import collect, predict_on_ray, stack_features
from ._compare import compare, compare_arrays
from ._head import HeadClassifier, fit_from_outputs
from ._postprocess import POSTPROCESSORS, ScoreClassifier, ScorePostprocessor, fit_postprocessor
from ._ray import RESERVED_CPUS, ResourcePlan, init_ray, is_dataset, plan_resources
from ._score import ScoreColumns, score, score_columns, score_frame

__all__ = [
    "CellCounts",
    "HeadClassifier",
    "POSTPROCESSORS",
    "RESERVED_CPUS",
    "ResourcePlan",
    "ScoreClassifier",
    "ScoreColumns",
    "ScorePostprocessor",
    "audit",
    "cell_counts",
    "collect",
    "compare",
    "compare_arrays",
    "fit_from_outputs",
    "fit_postprocessor",
    "init_ray",
    "invalid_rows",
    "is_dataset",
    "plan_resources",
    "predict_on_ray",
    "score",
    "score_columns",
    "score_frame",
    "stack_features",
]
