"""Benchmark of ``fairbridge.monitor.FairnessMonitor.check``: rows per second.

Each window is checked end to end (validation, per-group metrics, Poisson bootstrap with
intervals, KS and chi-square drift tests, Holm correction, SQLite write).  The baseline,
measured in the same run on the same window, is a bare Fairlearn ``MetricFrame`` (per-group
selection rate, TPR, FPR, accuracy: point estimates only, no interval, test or storage).

Usage::

    python benchmarks/bench_monitor.py            # 100k and 1M-row windows
    python benchmarks/bench_monitor.py --quick    # 10k and 100k
    python benchmarks/bench_monitor.py --rows 2000 --reference-rows 1000 --bootstrap 50 --modes labeled

Prints one table; nothing is written outside a temporary folder.
"""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
import time
import warnings

import numpy as np
import pandas as pd


def make_window(n: int, seed: int, *, labels: bool = True) -> pd.DataFrame:
    """Scored rows of three groups; labels drawn from the (calibrated) scores."""
    rng = np.random.default_rng(seed)
    group = rng.choice(np.array(["a", "b", "c"]), size=n, p=[0.5, 0.4, 0.1])
    score = np.where(group == "a", rng.beta(4, 3, n),
                     np.where(group == "b", rng.beta(3, 4, n), rng.beta(3, 3, n)))
    frame = pd.DataFrame({"score": score, "group": group})
    if labels:
        frame["y"] = rng.binomial(1, score)
    return frame


def fairlearn_baseline(frame: pd.DataFrame, threshold: float) -> float:
    from fairlearn.metrics import MetricFrame, false_positive_rate, selection_rate, true_positive_rate
    from sklearn.metrics import accuracy_score

    start = time.perf_counter()
    y_pred = (frame["score"].to_numpy() > threshold).astype(int)
    MetricFrame(metrics={"selection_rate": selection_rate, "tpr": true_positive_rate,
                         "fpr": false_positive_rate, "accuracy": accuracy_score},
                y_true=frame["y"].to_numpy(), y_pred=y_pred, sensitive_features=frame["group"])
    return time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="10k and 100k-row windows")
    parser.add_argument("--rows", type=int, nargs="+", help="window sizes (overrides the defaults)")
    parser.add_argument("--reference-rows", type=int, default=50_000, help="reference size")
    parser.add_argument("--bootstrap", type=int, default=400, help="bootstrap replicates")
    parser.add_argument("--repeat", type=int, default=1, help="checks per size (best time kept)")
    parser.add_argument("--baseline-max-rows", type=int, default=200_000,
                        help="time the (slow) baseline on at most this many rows of the window")
    parser.add_argument("--modes", nargs="+", default=["labeled", "estimated"],
                        choices=["labeled", "estimated"],
                        help="windows with labels, and without (TPR/FPR estimated with CBPE)")
    parser.add_argument("--json", default=None, help="also write the numbers to this JSON file")
    args = parser.parse_args(argv)
    sizes = args.rows or ([10_000, 100_000] if args.quick else [100_000, 1_000_000])

    from fairbridge.monitor import FairnessMonitor

    reference = make_window(args.reference_rows, 0)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        mon = FairnessMonitor(reference, score_column="score", sensitive_column="group",
                              label_column="y", store=os.path.join(tmp, "bench.sqlite"),
                              n_bootstrap=args.bootstrap)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for mode in args.modes:  # warm-up: imports, CBPE fit (once per monitor)
                mon.check(make_window(500, 99, labels=mode == "labeled"), window=f"warm-{mode}")
        for n in sizes:
            window = make_window(n, 1)
            n_base = min(n, args.baseline_max_rows)
            base = min(fairlearn_baseline(window.iloc[:n_base], mon.threshold)
                       for _ in range(args.repeat))
            for mode in args.modes:
                data = window if mode == "labeled" else window.drop(columns=["y"])
                best = float("inf")
                for r in range(args.repeat):
                    start = time.perf_counter()
                    result = mon.check(data, window=f"{mode}-{n}-{r}")
                    best = min(best, time.perf_counter() - start)
                rows.append((n, mode, best, n / best, n_base, base, n_base / base,
                             len(result.alerts)))
    print(f"fairbridge.monitor benchmark: reference {args.reference_rows:,} rows, "
          f"{args.bootstrap} bootstrap replicates, {os.cpu_count()} CPU(s), "
          f"Python {platform.python_version()}")
    head = ("rows", "labels", "check s", "rows/s", "baseline rows", "baseline s",
            "baseline rows/s", "alerts")
    print("| " + " | ".join(head) + " |")
    print("|" + "|".join("---" for _ in head) + "|")
    for n, mode, t, rate, nb, b, brate, alerts in rows:
        print(f"| {n:,} | {mode} | {t:.3f} | {rate:,.0f} | {nb:,} | {b:.3f} | {brate:,.0f} "
              f"| {alerts} |")
    print("baseline: Fairlearn MetricFrame point estimates on the first 'baseline rows' of the "
          "same window (no intervals, tests or storage)")
    if args.json:
        import json

        with open(args.json, "w") as fh:
            json.dump({"columns": head, "rows": rows, "args": vars(args)}, fh, indent=2)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
