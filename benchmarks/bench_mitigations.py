"""What each mitigation costs on the demo data, and what refit="head" saves in a reduction.

1. Every registered mitigation through ``fb.compare`` on the demo split (German Credit loan notes,
   all-MiniLM-L6-v2 fine-tuned by ``fairbridge demo``, sex as the sensitive feature): wall time
   to fit and to predict, refits, and rows that went through the network (one shared cache:
   a text is scored once across the whole comparison, by the first method that needs it).
2. Fairlearn's ExponentiatedGradient (50 iterations) with ``refit="head"`` against one
   inference pass over the training texts (measured, cold cache), and against ``refit="full"``:
   one weighted full fine-tune is measured and multiplied out to 50 iterations (each also
   needing an inference pass over the training texts with the new weights), stated as such.

    python benchmarks/bench_mitigations.py --quick      # 200 rows, cheap methods
    python benchmarks/bench_mitigations.py              # the whole demo data, every method
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import warnings

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import numpy as np
import pandas as pd

from _common import describe_machine, print_table, versions, write_json


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="200 rows and the cheap methods")
    p.add_argument("--size", type=int, default=None, help="rows of the German Credit data to use")
    p.add_argument("--methods", nargs="+", default=None)
    p.add_argument("--max-iter", type=int, default=50, help="ExponentiatedGradient iterations")
    p.add_argument("--device", default="auto")
    p.add_argument("--json", default=None)
    args = p.parse_args(argv)

    import fairbridge as fb
    from fairbridge._demo import demo_model
    from fairbridge.adapters import HFTextClassifier
    from fairlearn.reductions import DemographicParity, ExponentiatedGradient
    from sklearn.base import clone

    size = args.size or (200 if args.quick else None)
    methods = args.methods or (["baseline", "fairlearn.threshold_optimizer",
                                "fairlearn.exponentiated_gradient", "aif360.reweighing"]
                               if args.quick else None)
    print(f"machine: {describe_machine()}")
    print(f"versions: {versions(['torch', 'transformers', 'fairlearn', 'aif360', 'fairret', 'fairbridge'])}")
    model_dir, train, test = demo_model(size=size, progress=False)
    X_tr, y_tr, A_tr = train["text"].tolist(), train["risk"].to_numpy(), train[["sex"]]
    X_te, y_te, A_te = test["text"].tolist(), test["risk"].to_numpy(), test[["sex"]]
    print(f"demo model: {model_dir}; {len(X_tr)} training and {len(X_te)} test notes")

    # 1. every mitigation, one shared cache ---------------------------------------------------
    clf = HFTextClassifier.load(model_dir, refit="head", progress=False, device=args.device)
    clf.backbone_.clear_caches()
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = fb.compare(clf, X_tr, y_tr, X_te, y_te, sensitive_features_train=A_tr,
                            sensitive_features_test=A_te, methods=methods, progress=False,
                            n_bootstrap=200)
    total = time.perf_counter() - t0
    rows = []
    for m in result.to_dict()["methods"]:
        c = m.get("cost") or {}
        rows.append({"method": m["name"], "status": m["status"],
                     "fit s": c.get("fit_seconds"), "predict s": c.get("predict_seconds"),
                     "refits": c.get("n_refits"), "network rows": c.get("n_forward_rows"),
                     "network batches": c.get("n_forward_batches"),
                     "accuracy": (m.get("metrics") or {}).get("accuracy"),
                     "DP difference": (m.get("metrics") or {}).get("demographic_parity_difference")})
    distinct = len(set(X_tr) | set(X_te))
    t1 = print_table(rows, ["method", "status", "fit s", "predict s", "refits", "network rows",
                            "network batches", "accuracy", "DP difference"],
                     title=f"Every mitigation on the demo split ({total:.1f} s in all; "
                           f"{distinct} distinct texts)")

    # 2. ExponentiatedGradient: head refits vs one inference pass vs full refits -----------------
    fresh = HFTextClassifier.load(model_dir, refit="none", progress=False, device=args.device, cache=False)
    fresh.predict_proba(X_tr[:8])  # warm-up
    t0 = time.perf_counter()
    fresh.predict_proba(X_tr)
    t_pass = time.perf_counter() - t0
    head = HFTextClassifier.load(model_dir, refit="head", progress=False, device=args.device)
    head.backbone_.clear_caches()
    rows_before = head.backbone_.stats.rows
    # nu=1e-6: run all max_iter iterations instead of stopping at Fairlearn's default duality gap
    eg = ExponentiatedGradient(clone(head), DemographicParity(), max_iter=args.max_iter, nu=1e-6)
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        eg.fit(pd.DataFrame({"text": X_tr}), y_tr, sensitive_features=A_tr["sex"].to_numpy())
    t_eg = time.perf_counter() - t0
    eg_rows = head.backbone_.stats.rows - rows_before
    full = HFTextClassifier.load(model_dir, refit="full", epochs=1, progress=False, device=args.device)
    w = np.where(A_tr["sex"].to_numpy() == "female", 2.0, 1.0)
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        full.fit(X_tr, y_tr, sample_weight=w)
    t_full = time.perf_counter() - t0
    n_calls = eg.n_oracle_calls_
    est_full = n_calls * (t_full + t_pass)
    rows2 = [
        {"what": "one inference pass over the training texts (cold, measured)", "seconds": t_pass,
         "x one pass": 1.0, "network rows": len(X_tr)},
        {"what": f"ExponentiatedGradient, refit='head', {n_calls} oracle calls (measured, cold cache)",
         "seconds": t_eg, "x one pass": t_eg / t_pass, "network rows": eg_rows},
        {"what": "one weighted refit='full' fine-tune, 1 epoch (measured)", "seconds": t_full,
         "x one pass": t_full / t_pass, "network rows": None},
        {"what": f"ExponentiatedGradient, refit='full': {n_calls} x (fine-tune + pass) "
                 "(estimated from the measured refit)",
         "seconds": est_full, "x one pass": est_full / t_pass, "network rows": None},
    ]
    t2 = print_table(rows2, ["what", "seconds", "x one pass", "network rows"],
                     title=f"ExponentiatedGradient(max_iter={args.max_iter}) on {len(X_tr)} notes: "
                           f"head refits vs full refits (x {est_full / t_eg:.0f} saved)")
    write_json(args.json, {"machine": describe_machine(), "mitigations": rows, "reduction": rows2,
                           "tables": [t1, t2], "args": vars(args)})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
