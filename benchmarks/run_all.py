"""Run every benchmark in turn and keep their tables.

    python benchmarks/run_all.py --quick              # CPU-sized, a few minutes
    python benchmarks/run_all.py --out bench-results  # full sizes
    python benchmarks/run_all.py --device cuda --only inference explainers --minilm-config DIR

Each script runs in its own process (so one's memory and threads do not bleed into the next);
its output goes to ``<out>/<name>.log`` and its raw numbers to ``<out>/<name>.json``.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
BENCHES = {
    "inference": "bench_inference.py",
    "explainers": "bench_explainers.py",
    "mitigations": "bench_mitigations.py",
    "distributed": "bench_distributed.py",
    "monitor": "bench_monitor.py",
}
#: Which scripts take --device / --minilm-config.
_DEVICE = {"inference", "explainers", "mitigations"}
_MINILM = {"inference", "explainers"}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="CPU-sized runs of every script")
    p.add_argument("--only", nargs="+", choices=sorted(BENCHES), default=sorted(BENCHES))
    p.add_argument("--device", default=None, help="passed to the scripts that take it")
    p.add_argument("--minilm-config", default=None)
    p.add_argument("--out", default="bench-results")
    args = p.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    failed = []
    for name in args.only:
        cmd = [sys.executable, str(HERE / BENCHES[name]), "--json", str(out / f"{name}.json")]
        if args.quick:
            cmd.append("--quick")
        if args.device and name in _DEVICE:
            cmd += ["--device", args.device]
        if args.minilm_config and name in _MINILM:
            cmd += ["--minilm-config", args.minilm_config]
        print(f"\n=== {name}: {' '.join(cmd[1:])}", flush=True)
        t0 = time.perf_counter()
        with open(out / f"{name}.log", "w") as log:
            proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                    env={**os.environ, "PYTHONUNBUFFERED": "1"})
            assert proc.stdout is not None
            for line in proc.stdout:
                log.write(line)
                if line.startswith(("|", "###", "machine:", "versions:")) or "TFLOP" in line:
                    print(line, end="", flush=True)
            code = proc.wait()
        print(f"=== {name}: exit {code} in {time.perf_counter() - t0:.0f} s (log: {out / (name + '.log')})")
        if code:
            failed.append(name)
    if failed:
        print(f"failed: {failed}")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
