"""The ``fairbridge`` command line: ``demo``, ``compare``, ``report`` (and ``monitor``).

``main(argv)`` returns the exit code instead of exiting, so tests and other programs can call
it: 0 when the run succeeded, 2 for bad arguments (the reason goes to stderr: a missing file,
a missing column, an unknown config key, ...), 1 when the run itself failed.  The console
script ``fairbridge`` calls ``sys.exit(main())``.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import json
import os
import sys
import textwrap
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

__all__ = ["UsageError", "build_parser", "main"]

EXIT_OK, EXIT_FAILURE, EXIT_USAGE = 0, 1, 2
_MONITOR_CLI = "fairbridge.monitor._cli"
_DATA_SUFFIXES = (".csv", ".tsv", ".parquet", ".pq", ".jsonl", ".ndjson")


class UsageError(ValueError):
    """Bad arguments: the command exits with code 2 and prints the reason."""


def _stage(message: str, *, quiet: bool = False) -> None:
    if not quiet:
        print(f"[fairbridge] {message}", file=sys.stderr, flush=True)


# -- parser -------------------------------------------------------------------------------
class _Formatter(argparse.RawDescriptionHelpFormatter):
    """Keeps the descriptions' line breaks; each help text states its own default."""


_EPILOG_COMPARE = textwrap.dedent("""\
    examples:
      fairbridge compare --model models/credit-bert --data credit.csv \\
          --text-column text --label-column risk --sensitive-column sex \\
          --methods baseline fairlearn.threshold_optimizer aif360.reweighing --out report.html
      fairbridge compare --config run.yaml --seed 1      # flags override the file

    config file (YAML or TOML): the same options as the flags, with '_' for '-'
    (sensitive_columns and methods are lists, method_options a mapping); relative
    paths are read from the file's folder. Unknown keys are an error.

    exit codes: 0 ok, 1 the run failed, 2 bad arguments (reason on stderr).""")


def _disparity_names() -> list[str]:
    from ._config import DISPARITY_NAMES

    return list(DISPARITY_NAMES)


def _common() -> argparse.ArgumentParser:
    """Options every subcommand takes too (so they may follow the command name)."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--traceback", action="store_true", default=argparse.SUPPRESS,
                        help="print the full Python traceback when the command fails")
    return common


def _add_demo(sub: Any) -> None:
    p = sub.add_parser(
        "demo", formatter_class=_Formatter, parents=[_common()],
        help="run the embedded demo offline (German Credit + MiniLM, every method)",
        description=textwrap.dedent("""\
            Run the embedded default, offline: the German Credit data shipped with fairbridge
            (each applicant written as a short loan note), the bundled all-MiniLM-L6-v2
            fine-tuned briefly into a classifier (cached, so a second run reuses it), every
            registered mitigation method compared with sex as the sensitive feature, and
            report.html, report.json and report.md written to --out."""),
        epilog="exit codes: 0 ok, 1 the run failed, 2 bad arguments.")
    p.add_argument("--out", default="fairbridge-demo", metavar="DIR",
                   help="folder for report.html, report.json and report.md (default: %(default)s)")
    p.add_argument("--size", type=int, default=None, metavar="N",
                   help="use N rows of the 1,000 (stratified) for a quicker, smaller demo; "
                        "below 1,000 the fine-tuning is also shortened")
    p.add_argument("--methods", nargs="+", default=None, metavar="NAME",
                   help="compare only these methods (registry names); default: every "
                        "registered method")
    p.add_argument("--seed", type=int, default=0,
                   help="seeds the split, training and methods (default: %(default)s)")
    p.add_argument("--cache-dir", default=None, metavar="DIR",
                   help="where the fine-tuned demo model is cached (default: "
                        "$FAIRBRIDGE_CACHE or ~/.cache/fairbridge)")
    p.add_argument("--no-progress", action="store_true",
                   help="no stage messages or progress bars")
    p.set_defaults(func=_cmd_demo)


def _add_compare(sub: Any) -> None:
    p = sub.add_parser(
        "compare", formatter_class=_Formatter, parents=[_common()],
        help="compare mitigation methods on your model and data, write the reports",
        description=textwrap.dedent("""\
            Wrap a fine-tuned text classifier, split the data (or take a separate test file),
            run each mitigation method on the same split and write one HTML report (plus JSON
            and Markdown if asked). Every option can come from --config instead; a flag given
            on the command line overrides the file."""),
        epilog=_EPILOG_COMPARE)
    g = p.add_argument_group("run configuration")
    g.add_argument("--config", default=None, metavar="FILE",
                   help="a YAML (.yaml/.yml) or TOML (.toml) file with any of the options below")
    g = p.add_argument_group("model and data")
    g.add_argument("--model", default=None, metavar="DIR_OR_HUB_ID",
                   help="a fine-tuned AutoModelForSequenceClassification folder, a folder "
                        "written by HFTextClassifier.save(), or a Hugging Face hub id")
    g.add_argument("--data", default=None, metavar="FILE",
                   help="the data: .csv, .tsv, .parquet or .jsonl (one JSON object a line)")
    g.add_argument("--test-data", default=None, metavar="FILE",
                   help="a separate test file with the same columns; then --data is all training")
    g.add_argument("--test-size", type=float, default=None, metavar="FRACTION",
                   help="fraction of --data held out for testing, stratified by label "
                        "(default 0.3; ignored with --test-data)")
    g.add_argument("--text-column", default=None, metavar="NAME",
                   help="the column holding the text (default 'text')")
    g.add_argument("--label-column", default=None, metavar="NAME",
                   help="the column holding the label (default 'label')")
    g.add_argument("--sensitive-column", dest="sensitive_columns", action="append", default=None,
                   metavar="NAME",
                   help="a column holding a sensitive feature; repeat for several "
                        "(intersectional groups are reported too)")
    g = p.add_argument_group("methods")
    g.add_argument("--methods", nargs="+", default=None, metavar="NAME",
                   help="mitigation methods by registry name (default: fairbridge's default set)")
    g.add_argument("--method-options", default=None, metavar="JSON",
                   help='options per method as JSON, e.g. \'{"fairlearn.threshold_optimizer": '
                        '{"constraints": "equalized_odds"}}\'')
    g.add_argument("--refit", choices=["head", "full", "none"], default=None,
                   help="what refitting methods retrain: the classification head on cached "
                        "features (head, cheap), the whole network (full), or nothing (none; "
                        "post-processing only) (default head)")
    g.add_argument("--seed", type=int, default=None,
                   help="seeds the split, the methods and the bootstrap (default 0)")
    g.add_argument("--primary-disparity", default=None, choices=_disparity_names(),
                   metavar="METRIC",
                   help="the disparity of the Pareto front and the verdicts, one of: "
                        + ", ".join(_disparity_names()) + " (default "
                        "demographic_parity_difference)")
    g.add_argument("--n-bootstrap", type=int, default=None, metavar="N",
                   help="bootstrap replicates for the 95%% intervals; 0 for none (default 1000)")
    g = p.add_argument_group("outputs")
    g.add_argument("--out", default=None, metavar="FILE",
                   help="the HTML report (default report.html)")
    g.add_argument("--json", default=None, metavar="FILE",
                   help="also write the result as JSON (versioned schema)")
    g.add_argument("--markdown", default=None, metavar="FILE",
                   help="also write a Markdown summary (for a pull-request comment)")
    g = p.add_argument_group("execution")
    g.add_argument("--batch-size", default=None, metavar="N|auto",
                   help="inference batch size; auto backs off on out-of-memory (default auto)")
    g.add_argument("--device", default=None, metavar="DEVICE",
                   help="auto, cpu, cuda or cuda:N (default auto)")
    g.add_argument("--max-length", type=int, default=None, metavar="TOKENS",
                   help="tokens per text (default: the model's limit, at most 512)")
    g.add_argument("--engine", choices=["local", "ray"], default=None,
                   help="run here (local) or on a Ray cluster (ray; needs "
                        "pip install 'fairbridge[ray]') (default local)")
    g.add_argument("--ray-address", default=None, metavar="ADDRESS",
                   help="the Ray cluster to join with --engine ray (default: start a local one)")
    g.add_argument("--no-progress", dest="progress", action="store_const", const=False,
                   default=None, help="no stage messages or progress bars")
    p.set_defaults(func=_cmd_compare)


def _add_report(sub: Any) -> None:
    p = sub.add_parser(
        "report", formatter_class=_Formatter, parents=[_common()],
        help="render a saved JSON result as HTML and/or Markdown",
        description="Re-render the JSON written by 'compare --json' (or an audit's JSON) as the "
                    "offline HTML report and/or the Markdown summary, after checking its schema "
                    "version.",
        epilog="exit codes: 0 ok, 1 the run failed, 2 bad arguments.")
    p.add_argument("result", metavar="RESULT_JSON", help="a JSON result written by fairbridge")
    p.add_argument("--out", default=None, metavar="FILE",
                   help="the HTML report (default: RESULT_JSON with .html)")
    p.add_argument("--markdown", default=None, metavar="FILE",
                   help="also write the Markdown summary here")
    p.set_defaults(func=_cmd_report)


def _add_monitor(sub: Any, argv: Sequence[str]) -> None:
    """Register ``monitor`` from :mod:`fairbridge.monitor._cli`, importing it only when used."""
    try:
        present = importlib.util.find_spec(_MONITOR_CLI) is not None
    except ImportError:
        present = False
    if not present:
        return
    if "monitor" in argv:
        module = importlib.import_module(_MONITOR_CLI)
        module.add_parser(sub)
        sub.choices["monitor"].set_defaults(func=module.run)
    else:  # a light stand-in so that `fairbridge --help` lists it without importing it
        sub.add_parser("monitor", help="watch a deployed model for drift and fairness over time "
                                       "(see fairbridge monitor --help)", add_help=False)


def build_parser(argv: Sequence[str] = ()) -> argparse.ArgumentParser:
    """The ``fairbridge`` argument parser (``argv`` decides whether ``monitor`` is loaded)."""
    from ._version import __version__

    parser = argparse.ArgumentParser(
        prog="fairbridge", formatter_class=_Formatter,
        description=textwrap.dedent("""\
            fairbridge: wrap a fine-tuned classifier once, then audit it, compare fairness
            mitigations (Fairlearn, AIF360, fair losses) side by side and write one report."""),
        epilog="Run 'fairbridge COMMAND --help' for the options of a command.\n"
               "exit codes: 0 ok, 1 the run failed, 2 bad arguments (reason on stderr).")
    parser.add_argument("--version", action="version", version=f"fairbridge {__version__}")
    parser.add_argument("--traceback", action="store_true",
                        help="print the full Python traceback when a command fails")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    _add_demo(sub)
    _add_compare(sub)
    _add_report(sub)
    _add_monitor(sub, argv)
    return parser


# -- data ---------------------------------------------------------------------------------
def read_table(path: str | os.PathLike, *, option: str = "--data") -> Any:
    """Read a CSV, TSV, Parquet or JSON-lines file into a DataFrame (errors are UsageError)."""
    import pandas as pd

    p = Path(path)
    if not p.is_file():
        raise UsageError(f"{option}: the file {os.fspath(path)!r} does not exist. Check the path.")
    suffix = p.suffix.lower()
    if suffix not in _DATA_SUFFIXES:
        raise UsageError(f"{option}: the file must end in {', '.join(_DATA_SUFFIXES)}, but got "
                         f"{os.fspath(path)!r}. Convert it, e.g. df.to_csv('data.csv').")
    try:
        if suffix == ".csv":
            return pd.read_csv(p)
        if suffix == ".tsv":
            return pd.read_csv(p, sep="\t")
        if suffix in (".parquet", ".pq"):
            return pd.read_parquet(p)
        return pd.read_json(p, lines=True)
    except ImportError as exc:
        raise UsageError(f"{option}: reading {suffix} files needs a package that is not "
                         f"installed ({exc}). Install pyarrow, or convert the file to CSV.") from None
    except Exception as exc:  # a parse error in the user's file
        raise UsageError(f"{option}: {os.fspath(path)!r} could not be read as {suffix[1:]} "
                         f"({type(exc).__name__}: {exc}). Fix the file.") from None


def check_columns(df: Any, *, option: str, text: str, label: str,
                  sensitive: Sequence[str]) -> None:
    """Check that the columns exist and hold usable values; raise UsageError naming them."""
    import pandas as pd

    wanted = [("--text-column", text), ("--label-column", label)]
    wanted += [("--sensitive-column", s) for s in sensitive]
    missing = [(flag, name) for flag, name in wanted if name not in df.columns]
    if missing:
        cols = list(map(str, df.columns))
        shown = ", ".join(repr(c) for c in cols[:20]) + (", ..." if len(cols) > 20 else "")
        what = "; ".join(f"{flag} {name!r}" for flag, name in missing)
        raise UsageError(f"{option}: no column for {what} in the file. Its columns are: {shown}. "
                         "Name an existing column.")
    if len(df) == 0:
        raise UsageError(f"{option}: the file has no rows. Pass a file with data.")
    bad_text = df[text].map(lambda v: not isinstance(v, str))
    if bad_text.any():
        rows = list(df.index[bad_text][:5])
        raise UsageError(f"{option}: column {text!r} (--text-column) must hold text in every row, "
                         f"but {int(bad_text.sum())} row(s) do not (first: {rows}). Drop or fill "
                         "those rows.")
    for flag, name in [("--label-column", label)] + [("--sensitive-column", s) for s in sensitive]:
        na = pd.isna(df[name])
        if na.any():
            rows = list(df.index[na][:5])
            raise UsageError(f"{option}: column {name!r} ({flag}) has {int(na.sum())} missing "
                             f"value(s) (first rows: {rows}). Drop or fill those rows.")


def check_output(path: str | os.PathLike, *, option: str) -> None:
    """Refuse an output path that cannot be written (checked before the long run starts)."""
    p = Path(path)
    if p.is_dir():
        raise UsageError(f"{option}: {os.fspath(path)!r} is a folder. Pass a file name, e.g. "
                         f"{os.fspath(p / 'report.html')!r}.")
    for parent in p.parents:
        if parent.exists():
            if not parent.is_dir():
                raise UsageError(f"{option}: cannot write {os.fspath(path)!r}, because "
                                 f"{os.fspath(parent)!r} is a file, not a folder. Choose another "
                                 "path.")
            if not os.access(parent, os.W_OK):
                raise UsageError(f"{option}: cannot write into {os.fspath(parent)!r} (no "
                                 "permission). Choose another path.")
            break


def _looks_like_path(model: str) -> bool:
    return (os.path.isabs(model) or model.startswith(("./", "../", "~", ".\\")) or "\\" in model
            or model.count("/") > 1)


def load_estimator(cfg: Any) -> Any:
    """The ``HFTextClassifier`` for ``cfg.model``: a saved adapter, a checkpoint or a hub id."""
    from fairbridge.adapters import HFTextClassifier

    params = {"refit": cfg.refit, "progress": cfg.progress, "batch_size": cfg.batch_size,
              "device": cfg.device, "max_length": cfg.max_length}
    model = os.path.expanduser(cfg.model)
    if os.path.isdir(model):
        if os.path.isfile(os.path.join(model, "fairbridge-adapter.json")):
            return HFTextClassifier.load(model, **params)
        if not os.path.isfile(os.path.join(model, "config.json")):
            raise UsageError(f"--model: the folder {cfg.model!r} holds neither a fine-tuned "
                             "checkpoint (config.json) nor a saved adapter "
                             "(fairbridge-adapter.json). Pass the folder you saved with "
                             "save_pretrained() or HFTextClassifier.save().")
    elif _looks_like_path(cfg.model) or os.path.exists(model):
        raise UsageError(f"--model: the folder {cfg.model!r} does not exist. Check the path, or "
                         "pass a hub id such as 'org/model'.")
    return HFTextClassifier(model, **params)


# -- compare ------------------------------------------------------------------------------
def _split(df: Any, cfg: Any) -> tuple[Any, Any]:
    from sklearn.model_selection import train_test_split

    y = df[cfg.label_column]
    counts = y.value_counts()
    stratify = y if len(counts) > 1 and counts.min() >= 2 else None
    n_test = int(round(cfg.test_size * len(df)))
    if n_test < 1 or len(df) - n_test < 1:
        raise UsageError(f"--test-size: {cfg.test_size} of {len(df)} rows leaves an empty train "
                         "or test set. Pass more data or another --test-size.")
    if stratify is not None and (n_test < len(counts) or len(df) - n_test < len(counts)):
        stratify = None
    train, test = train_test_split(df, test_size=cfg.test_size, random_state=cfg.seed,
                                   stratify=stratify)
    return train, test


def method_specs(methods: Sequence[str] | None, options: dict[str, dict[str, Any]]) -> list[Any] | None:
    """``(name, options)`` pairs for :func:`fairbridge.compare`, checked before any model loads.

    Raises
    ------
    UsageError
        For an unknown method name, a bad option, or options for a method not being run.
    """
    from fairbridge.mitigations import available_mitigations, default_mitigations, resolve_mitigation

    names = list(methods) if methods else None
    known = available_mitigations()
    unknown = [m for m in (names or []) if m not in known]
    if unknown:
        raise UsageError(f"--methods: unknown method(s) {', '.join(map(repr, unknown))}. Choose "
                         f"from: {', '.join(known)}.")
    run = names or default_mitigations()
    stray = sorted(set(options) - set(run))
    if stray:
        raise UsageError(f"--method-options: options for {', '.join(map(repr, stray))}, which "
                         f"{'is' if len(stray) == 1 else 'are'} not among the methods run "
                         f"({', '.join(run)}). Add it to --methods or drop its options.")
    for name, opts in options.items():
        try:
            resolve_mitigation(name, **opts)
        except (TypeError, ValueError) as exc:
            raise UsageError(f"--method-options: {exc}") from None
    if names is None and not options:
        return None
    return [(name, dict(options.get(name, {}))) for name in run]


def _compare_function(cfg: Any) -> Any:
    """``fairbridge.compare``, after checking that the chosen engine can run here."""
    if cfg.ray_address and cfg.engine != "ray":
        raise UsageError("--ray-address is only used with --engine ray. Add --engine ray, or "
                         "drop --ray-address.")
    if cfg.engine == "ray":
        from fairbridge._optional import is_available

        if not is_available("ray.data"):
            raise UsageError("--engine ray needs Ray Data, which is not installed. Install it "
                             "with: pip install 'fairbridge[ray]', or use --engine local.")
    import fairbridge

    return fairbridge.compare


def run_compare(cfg: Any) -> tuple[Any, dict[str, Path]]:
    """Run ``fairbridge compare`` for a :class:`~fairbridge._config.RunConfig`.

    Returns
    -------
    (result, paths)
        The comparison result and ``{"html": ..., "json": ..., "markdown": ...}`` written.
    """
    from fairbridge.reports import write_html, write_json, write_markdown

    quiet = not cfg.progress
    compare = _compare_function(cfg)
    methods = method_specs(cfg.methods, cfg.method_options)
    for option, path in (("--out", cfg.out), ("--json", cfg.json), ("--markdown", cfg.markdown)):
        if path:
            check_output(path, option=option)
    _stage(f"reading {cfg.data}", quiet=quiet)
    data = read_table(cfg.data, option="--data")
    check_columns(data, option="--data", text=cfg.text_column, label=cfg.label_column,
                  sensitive=cfg.sensitive_columns)
    if cfg.test_data:
        test = read_table(cfg.test_data, option="--test-data")
        check_columns(test, option="--test-data", text=cfg.text_column, label=cfg.label_column,
                      sensitive=cfg.sensitive_columns)
        train = data
    else:
        train, test = _split(data, cfg)
    _stage(f"{len(train):,} training and {len(test):,} test rows; sensitive: "
           f"{', '.join(cfg.sensitive_columns)}", quiet=quiet)
    _stage(f"loading the model {cfg.model}", quiet=quiet)
    estimator = load_estimator(cfg)
    # what only the command line knows; fb.compare records the model, methods, sizes and seed
    config = {"command": "fairbridge compare", "model_source": cfg.model,
              "data_file": cfg.data, "test_data_file": cfg.test_data,
              "test_size": None if cfg.test_data else cfg.test_size,
              "text_column": cfg.text_column, "label_column": cfg.label_column,
              "refit": cfg.refit, "engine": cfg.engine}
    config = {k: v for k, v in config.items() if v is not None}
    kwargs: dict[str, Any] = {
        "sensitive_features_train": train[cfg.sensitive_columns].reset_index(drop=True),
        "sensitive_features_test": test[cfg.sensitive_columns].reset_index(drop=True),
    }
    optional = {"methods": methods, "random_state": cfg.seed, "progress": cfg.progress,
                "config": config, "primary_disparity": cfg.primary_disparity,
                "n_bootstrap": cfg.n_bootstrap}
    if cfg.engine == "ray":
        import fairbridge.distributed as fd

        _stage("connecting to Ray" + (f" at {cfg.ray_address}" if cfg.ray_address
                                       else " (starting a local one)"), quiet=quiet)
        fd.init_ray(cfg.ray_address)
        optional["engine"] = "ray"
    kwargs.update({k: v for k, v in optional.items() if v is not None})
    _stage("comparing methods", quiet=quiet)
    t0 = time.perf_counter()
    result = compare(estimator, train[cfg.text_column].tolist(),
                     train[cfg.label_column].to_numpy(), test[cfg.text_column].tolist(),
                     test[cfg.label_column].to_numpy(), **kwargs)
    _stage(f"compared in {time.perf_counter() - t0:.1f}s", quiet=quiet)
    d = result.to_dict()
    paths = {"html": write_html(d, cfg.out)}
    if cfg.json:
        paths["json"] = write_json(d, cfg.json)
    if cfg.markdown:
        paths["markdown"] = write_markdown(d, cfg.markdown)
    return result, paths


def summary_lines(d: dict[str, Any]) -> list[str]:
    """A plain-text table of a comparison result for the terminal."""
    primary = d.get("primary_disparity", "")
    rows = [("method", "status", "accuracy", primary or "disparity", "pareto")]
    for m in d.get("methods", []):
        metrics = m.get("metrics") or {}

        def fmt(v: Any) -> str:
            return f"{v:.3f}" if isinstance(v, (int, float)) and v == v else "-"

        rows.append((str(m.get("name")), str(m.get("status")), fmt(metrics.get("accuracy")),
                     fmt(metrics.get(primary)), "*" if m.get("pareto") else ""))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return ["  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows]


def _cmd_compare(args: argparse.Namespace) -> int:
    from ._config import resolve_config

    overrides = {k: getattr(args, k) for k in (
        "model", "data", "test_data", "test_size", "text_column", "label_column",
        "sensitive_columns", "methods", "method_options", "seed", "primary_disparity",
        "n_bootstrap", "out", "json", "markdown",
        "refit", "batch_size", "device", "max_length", "progress", "engine", "ray_address")}
    cfg = resolve_config(args.config, overrides)
    result, paths = run_compare(cfg)
    d = result.to_dict() if hasattr(result, "to_dict") else result
    if cfg.progress:
        for line in summary_lines(d):
            print(line, file=sys.stderr)
    for kind, path in paths.items():
        print(f"{kind}: {path}")
    return EXIT_OK


def _cmd_demo(args: argparse.Namespace) -> int:
    from ._demo import run_demo

    if args.size is not None and not 20 <= args.size <= 1000:
        raise UsageError(f"--size must be a number of rows from 20 to 1000, but got {args.size}.")
    demo = run_demo(out=args.out, size=args.size, methods=args.methods, seed=args.seed,
                    cache_dir=args.cache_dir, progress=not args.no_progress)
    print(f"report: {demo.html}")
    return EXIT_OK


def _cmd_report(args: argparse.Namespace) -> int:
    from fairbridge.reports import SCHEMA_VERSION, write_html, write_markdown

    src = Path(args.result)
    if not src.is_file():
        raise UsageError(f"RESULT_JSON: the file {args.result!r} does not exist. Check the path.")
    try:
        d = json.loads(src.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise UsageError(f"RESULT_JSON: {args.result!r} is not JSON ({exc}). Pass the file "
                         "written by 'fairbridge compare --json'.") from None
    if not isinstance(d, dict) or d.get("kind") not in ("audit", "comparison"):
        raise UsageError(f"RESULT_JSON: {args.result!r} is not a fairbridge result (no 'kind' "
                         "of 'audit' or 'comparison'). Pass the file written by "
                         "'fairbridge compare --json'.")
    major = str(d.get("schema_version", "")).split(".")[0]
    if major != SCHEMA_VERSION.split(".")[0]:
        raise UsageError(f"RESULT_JSON: schema version {d.get('schema_version')!r} is not "
                         f"readable by this fairbridge (schema {SCHEMA_VERSION}). Re-render it "
                         "with the fairbridge version that wrote it.")
    out = Path(args.out) if args.out else src.with_suffix(".html")
    print(f"html: {write_html(d, out)}")
    if args.markdown:
        print(f"markdown: {write_markdown(d, args.markdown)}")
    return EXIT_OK


# -- entry point --------------------------------------------------------------------------
def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``fairbridge`` command line; return the exit code.

    Parameters
    ----------
    argv : sequence of str, optional
        The arguments (default: ``sys.argv[1:]``).

    Returns
    -------
    int
        0 ok, 1 the run failed, 2 bad arguments.
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        parser = build_parser(argv)
    except ImportError as exc:  # the monitor module failed to import
        print(f"fairbridge: error: {exc}", file=sys.stderr)
        return EXIT_FAILURE
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version (0) or a parse error (2)
        return int(exc.code) if isinstance(exc.code, int) else EXIT_USAGE
    if not args.command:
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    name = f"fairbridge {args.command}"
    try:
        return int(args.func(args))
    except UsageError as exc:
        print(f"{name}: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print(f"{name}: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:
        from ._config import ConfigError

        if isinstance(exc, ConfigError):
            print(f"{name}: error: {exc}", file=sys.stderr)
            return EXIT_USAGE
        if args.traceback:
            import traceback

            traceback.print_exc()
        print(f"{name}: failed: {type(exc).__name__}: {exc}", file=sys.stderr)
        if not args.traceback:
            print("(run with --traceback for the full Python traceback)", file=sys.stderr)
        return EXIT_FAILURE


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
