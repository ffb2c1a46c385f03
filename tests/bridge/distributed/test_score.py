"""fairbridge.distributed.score on a 2-CPU local Ray: parity with the local engine, ids, no stall,
actor crashes, malformed rows, bad arguments."""

from __future__ import annotations

import pickle
import re

import numpy as np
import pandas as pd
import pytest

from fairbridge.adapters import HFTextClassifier, SharedModel
from fairbridge.distributed import (
    invalid_rows,
    plan_resources,
    score,
    score_columns,
)
from fairbridge.distributed._recipe import adapter_recipe
from fairbridge.distributed._score import prepare_blocks

from . import _probes
from .conftest import MALFORMED, N_ROWS


def test_scores_equal_the_local_engine_and_keep_every_column(scored_frame, frame, clf, valid):
    out = scored_frame
    cols = score_columns(clf.classes_, return_features=True)
    assert list(out.columns) == ["text", "y", "sex", "age", "row_id", *cols.added]
    # exactly one row per input row, numbered by position
    np.testing.assert_array_equal(out["row_id"].to_numpy(), np.arange(N_ROWS))
    assert out["text"].tolist()[:5] == frame["text"].tolist()[:5]
    np.testing.assert_array_equal(out["sex"].to_numpy(dtype=object), frame["sex"].to_numpy(dtype=object))
    texts = frame["text"].iloc[valid].tolist()
    np.testing.assert_allclose(out.loc[valid, list(cols.probabilities)].to_numpy(dtype=float),
                               clf.predict_proba(texts), rtol=1e-5, atol=1e-6)
    z = clf.decision_function(texts)
    logits = out.loc[valid, list(cols.logits)].to_numpy(dtype=float)
    np.testing.assert_allclose(logits[:, 1] - logits[:, 0], z, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(out.loc[valid, "score"].to_numpy(dtype=float),
                               clf.predict_proba(texts)[:, 1], rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(out.loc[valid, "prediction"].to_numpy(dtype=int), clf.predict(texts))
    feats = np.stack(out.loc[valid, "features"].to_numpy())
    np.testing.assert_allclose(feats, clf.embed(texts), rtol=1e-5, atol=1e-5)


def test_malformed_rows_are_reported_with_their_id_not_dropped(scored_frame, scored):
    out = scored_frame.set_index("row_id")
    expected = {5: "text is empty", 17: "text is missing", 33: "text is empty",
                48: "label is missing"}
    got = {int(i): str(r) for i, r in out["error"].dropna().items()}
    assert got == expected
    assert np.isnan(out.loc[[5, 17, 33], "score"].to_numpy(dtype=float)).all()
    assert np.isfinite(out.loc[48, "score"])  # a missing label does not stop scoring
    listed = invalid_rows(scored, label_column="y", sensitive_column="sex")
    assert listed["row_id"].tolist() == sorted(MALFORMED)
    assert listed["reason"].tolist() == [expected[i] for i in sorted(MALFORMED)]


def test_default_plan_leaves_a_cpu_free_on_two_cpus(ray_session):
    plan = plan_resources(concurrency=2, num_cpus=None, num_gpus=0)
    assert plan.cluster_cpus == 2
    assert plan.num_cpus * plan.concurrency <= plan.cluster_cpus - 1
    assert plan.torch_threads == 1


def test_a_plan_that_would_stall_is_refused_before_the_run(ray_session, clf, frame):
    ds = ray_session.data.from_pandas(frame.head(50))
    msg = ("fairbridge.distributed.score: arguments 'concurrency' and 'num_cpus' must leave 1 of "
           "the cluster's 2 CPUs free for Ray Data's read and split tasks (when the actors take "
           "every CPU the run stalls silently), but got concurrency=2 x num_cpus=1 = 2 CPUs. "
           "Pass num_cpus=0.5 (or leave num_cpus=None to choose it), lower concurrency, or add "
           "CPUs; on an autoscaling cluster pass check_resources=False.")
    with pytest.raises(ValueError, match=re.escape(msg)):
        score(clf, ds, concurrency=2, num_cpus=1)
    gpu_msg = ("fairbridge.distributed.score: arguments 'concurrency' and 'num_gpus' must fit the "
               "cluster's 0 GPUs (at most 0 on one node); an actor pool that waits for GPUs that "
               "do not exist never starts, but got concurrency=1 x num_gpus=1. Pass num_gpus=0 to "
               "score on CPUs, or check_resources=False on an autoscaling cluster.")
    with pytest.raises(ValueError, match=re.escape(gpu_msg)):
        score(clf, ds, concurrency=1, num_gpus=1)


def test_one_block_is_split_so_that_every_actor_works_and_a_killed_actor_loses_no_row(
        ray_session, tiny_model_dir, frame, valid, tmp_path):
    """One run, two proofs: both actors score rows of a one-block dataset, and an actor that
    dies mid-run (os._exit) is restarted and the run still yields exactly one score per row."""
    ray_session.cloudpickle.register_pickle_by_value(_probes)
    texts = frame["text"].iloc[valid].tolist()[:600]
    y = frame["y"].iloc[valid].to_numpy(dtype=int)[:600]
    probe = _probes.ProbedClassifier(tiny_model_dir, progress=False, refit="none").fit(texts[:50], y[:50])
    ds = ray_session.data.from_pandas(pd.DataFrame({"text": texts, "y": y}))
    assert ds.num_blocks() == 1
    record, marker = tmp_path / "record", tmp_path / "died"
    record.mkdir()
    out = score(probe, ds, concurrency=2, batch_size=50,
                runtime_env={"env_vars": {"FAIRBRIDGE_TEST_RECORD_DIR": str(record),
                                          "FAIRBRIDGE_TEST_DIE_MARKER": str(marker)}}).to_pandas()
    assert marker.exists()  # an actor did die mid-run
    assert len(out) == len(texts)
    assert sorted(out["row_id"].tolist()) == list(range(len(texts)))  # none lost, none twice
    out = out.sort_values("row_id")
    assert out["text"].tolist() == texts
    np.testing.assert_allclose(out[["proba_0", "proba_1"]].to_numpy(dtype=float),
                               probe.predict_proba(texts), rtol=1e-5, atol=1e-6)
    pids = {p.name.split("-")[0] for p in record.iterdir()}
    dead = marker.read_text()
    assert len(pids - {dead}) >= 2  # two live actors scored rows (the restarted one included)


def test_prepare_blocks_numbers_rows_in_order_and_splits_big_blocks(ray_session):
    df = pd.DataFrame({"a": np.arange(1000)})
    ds = prepare_blocks(ray_session.data.from_pandas(df), add_id="row_id", concurrency=2)
    assert ds.num_blocks() >= 8
    out = ds.to_pandas()
    np.testing.assert_array_equal(out["row_id"].to_numpy(), out["a"].to_numpy())
    assert sorted(out["row_id"].tolist()) == list(range(1000))


def test_an_id_column_streams_through_unchanged(ray_session, clf, frame, valid):
    sub = frame.iloc[valid[:300]].assign(doc=lambda d: [f"doc-{i}" for i in range(len(d))])
    parts = [sub.iloc[i::4] for i in range(4)]
    lazy = ray_session.data.from_pandas(parts).map_batches(
        lambda b: b, batch_format="pandas")  # a lazy dataset, as a file read makes
    out = score(clf, lazy, id_column="doc", concurrency=1).to_pandas()
    assert "row_id" not in out.columns
    assert sorted(out["doc"]) == sorted(sub["doc"])
    got = out.set_index("doc").loc[sub["doc"], "score"].to_numpy(dtype=float)
    np.testing.assert_allclose(got, clf.predict_proba(sub["text"].tolist())[:, 1], rtol=1e-5, atol=1e-6)


def test_the_recipe_is_small_and_holds_no_weights(clf):
    recipe = adapter_recipe(clf, device="cpu", who="t")
    assert len(pickle.dumps(recipe)) < 20_000
    assert recipe["model"] == clf.backbone_.recipe["model"]
    assert recipe["params"]["cache"] is False and recipe["params"]["progress"] is False


def test_an_in_memory_model_is_refused_with_the_fix(ray_session, tokenizer, bert_builder, frame):
    mem = HFTextClassifier(SharedModel(bert_builder(tokenizer), tokenizer), progress=False)
    mem.fit(["good loan", "bad loan"], [1, 0])
    ds = ray_session.data.from_pandas(frame.head(10))
    msg = ("fairbridge.distributed.score: argument 'estimator' must load its network from a "
           "path or hub id that Ray workers can load again (actors never receive pickled "
           "weights), but got an adapter that wraps a model in memory (SharedModel). Save it "
           "first, clf.save('model-dir/'), and pass HFTextClassifier.load('model-dir/')")
    with pytest.raises(ValueError, match=re.escape(msg)):
        score(mem, ds)


def test_bad_arguments_are_refused_before_the_run(ray_session, clf, frame, tiny_model_dir):
    ds = ray_session.data.from_pandas(frame.head(10))
    with pytest.raises(TypeError, match=re.escape(
            "fairbridge.distributed.score: argument 'ds' must be a ray.data.Dataset, but got a "
            "DataFrame of shape (10, 4)")):
        score(clf, frame.head(10))
    with pytest.raises(ValueError, match=re.escape(
            "argument 'text_column' must name a column of ds, but got 'body'. Choose one of "
            "['text', 'y', 'sex', 'age'].")):
        score(clf, ds, text_column="body")
    clash = ray_session.data.from_pandas(frame.head(10).assign(score=1.0))
    with pytest.raises(ValueError, match=re.escape(
            "argument 'ds' must not already have the columns that score() adds, but got "
            "columns ['score']")):
        score(clf, clash)
    with pytest.raises(ValueError, match=re.escape("argument 'concurrency' must be an integer >= 1")):
        score(clf, ds, concurrency=0)
    from fairbridge import NotFittedError

    with pytest.raises(NotFittedError, match=re.escape("this HFTextClassifier is not fitted yet")):
        score(HFTextClassifier(tiny_model_dir), ds)


def test_init_ray_joins_the_running_ray(ray_session):
    from fairbridge.distributed import init_ray

    assert init_ray() is ray_session
    assert ray_session.cluster_resources()["CPU"] == 2  # not restarted with other resources


def test_a_model_path_the_workers_cannot_see_fails_fast_with_the_reason(ray_session, tiny_model_dir,
                                                                       frame, tmp_path):
    import shutil

    gone = tmp_path / "model"
    shutil.copytree(tiny_model_dir, gone)
    lost = HFTextClassifier(str(gone), progress=False, refit="none").fit(["good", "bad"], [1, 0])
    shutil.rmtree(gone)  # the driver has it loaded; a worker has to load it again
    ds = ray_session.data.from_pandas(frame.head(20))
    with pytest.raises(Exception, match=re.escape(
            f"the model path must be visible on every Ray worker, but got {str(gone)!r}, which "
            "does not exist on node")):
        score(lost, ds, concurrency=1).materialize()
