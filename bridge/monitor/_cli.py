"""``fairbridge monitor``: check one window of production scores from the shell (cron, CI).

Exit codes: 0 no alert (or alerts without ``--fail-on-alert``), 3 alert with
``--fail-on-alert``, 2 bad arguments (the reason is printed), 1 any other failure.
"""

from __future__ import annotations

import argparse
import sys
import traceback
from pathlib import Path
from typing import Any, Sequence

__all__ = ["EXIT_ALERT", "EXIT_BAD_ARGUMENTS", "EXIT_FAILURE", "EXIT_OK", "add_parser", "main", "run"]

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_BAD_ARGUMENTS = 2
EXIT_ALERT = 3

_OUT_SUFFIXES = (".html", ".htm", ".json", ".md")
_DESCRIPTION = (
    "Check one window of scored production data against the reference taken at release: "
    "per-group rates, disparities with intervals, drift, and alerts that need both a change of "
    "at least --min-effect and statistical evidence (Holm or Benjamini-Hochberg). The result is "
    "stored in an SQLite history; --out writes an HTML, JSON or Markdown report of it. "
    "Exit codes: 0 no alert, 3 alert (with --fail-on-alert), 2 bad arguments, 1 failure."
)


def _add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--reference", required=True, help="scored reference data (CSV, Parquet, JSON)")
    p.add_argument("--data", required=True, help="the window's scored data (CSV, Parquet, JSON)")
    p.add_argument("--window", required=True, help="window key, e.g. 2026-W47 (re-checking replaces it)")
    p.add_argument("--score-column", default="score", help="probability column (default: score)")
    p.add_argument("--sensitive-column", required=True, help="group column")
    p.add_argument("--label-column", default=None, help="true outcome column (0/1), optional")
    p.add_argument("--require-labels", action="store_true",
                   help="fail if the window has no label column (default: estimate TPR/FPR with CBPE)")
    p.add_argument("--store", default="monitor.sqlite", help="SQLite history file (default: monitor.sqlite)")
    p.add_argument("--name", default="default", help="monitor name inside the store")
    p.add_argument("--out", action="append", default=[], metavar="PATH",
                   help="report of the history: .html, .json or .md (repeatable)")
    p.add_argument("--fail-on-alert", action="store_true", help="exit with code 3 when a window alerts")
    p.add_argument("--threshold", type=float, default=0.5, help="decision threshold (default 0.5)")
    p.add_argument("--min-effect", type=float, default=0.05, help="smallest alerting change (0.05)")
    p.add_argument("--min-group-size", type=int, default=30, help="rows needed to test a group (30)")
    p.add_argument("--correction", choices=["holm", "bh"], default="holm",
                   help="multiple-testing correction (default holm)")
    p.add_argument("--alpha", type=float, default=0.05, help="test level (default 0.05)")
    p.add_argument("--drift-test", choices=["ks", "jensenshannon"], default="ks",
                   help="score drift test per group (default ks)")
    p.add_argument("--n-bootstrap", type=int, default=400, help="bootstrap replicates (default 400)")
    p.add_argument("--seed", type=int, default=0, help="bootstrap seed (default 0)")
    p.add_argument("--quiet", action="store_true", help="print only alerts")


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add the ``monitor`` subcommand to a main CLI's subparsers; its default ``func`` is :func:`run`.

    Parameters
    ----------
    subparsers : argparse._SubParsersAction
        What ``ArgumentParser.add_subparsers()`` returned.

    Returns
    -------
    argparse.ArgumentParser
    """
    p = subparsers.add_parser("monitor", help="check a window of production scores for fairness "
                              "regressions", description=_DESCRIPTION)
    _add_arguments(p)
    p.set_defaults(func=run)
    return p


def build_parser() -> argparse.ArgumentParser:
    """The standalone parser of ``python -m fairbridge.monitor``."""
    p = argparse.ArgumentParser(prog="fairbridge monitor", description=_DESCRIPTION)
    _add_arguments(p)
    return p


def _bad(message: str) -> int:
    print(f"fairbridge monitor: error: {message}", file=sys.stderr)
    return EXIT_BAD_ARGUMENTS


def run(args: argparse.Namespace) -> int:
    """Run the check described by parsed ``args``; return the exit code."""
    from fairbridge._optional import MissingDependencyError

    for path in args.out:
        if Path(path).suffix.lower() not in _OUT_SUFFIXES:
            return _bad(f"--out {path!r} must end in one of {', '.join(_OUT_SUFFIXES)}")
    for flag, path in (("--reference", args.reference), ("--data", args.data)):
        if not Path(path).is_file():
            return _bad(f"{flag} {path!r} is not an existing file")
    try:
        from ._monitor import FairnessMonitor

        mon = FairnessMonitor(
            args.reference, score_column=args.score_column, sensitive_column=args.sensitive_column,
            label_column=args.label_column, store=args.store, name=args.name,
            threshold=args.threshold, min_effect=args.min_effect,
            min_group_size=args.min_group_size, correction=args.correction, alpha=args.alpha,
            drift_test=args.drift_test, n_bootstrap=args.n_bootstrap, random_state=args.seed)
        result = mon.check(args.data, window=args.window,
                           labeled=True if args.require_labels else None)
        for path in args.out:
            suffix = Path(path).suffix.lower()
            if suffix in (".html", ".htm"):
                mon.to_html(path)
            elif suffix == ".json":
                mon.to_json(path)
            else:
                mon.to_markdown(path)
    except MissingDependencyError as exc:
        print(f"fairbridge monitor: failed: {exc}", file=sys.stderr)
        return EXIT_FAILURE
    except (ValueError, TypeError, FileNotFoundError) as exc:
        return _bad(str(exc))
    except Exception as exc:  # noqa: BLE001 - the CLI's contract: any other failure is exit 1
        if getattr(args, "traceback", False):  # the main CLI's --traceback
            traceback.print_exc()
        print(f"fairbridge monitor: failed: {type(exc).__name__}: {exc}", file=sys.stderr)
        return EXIT_FAILURE
    if not args.quiet:
        print(f"window {result.window}: {result.n_rows} rows, labels {result.labels}, "
              f"{len(result.alerts)} alert(s)")
        for note in result.notes:
            print(f"  note: {note}")
    for alert in result.alerts:
        print(f"  ALERT {alert.message}")
    for path in args.out:
        if not args.quiet:
            print(f"  report: {path}")
    return EXIT_ALERT if (result.alerts and args.fail_on_alert) else EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    """Standalone entry point: ``python -m fairbridge.monitor --reference ... --data ...``."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse already printed the reason (exit 2) or the help (0)
        return int(exc.code or 0)
    return run(args)
