"""Run configuration for ``fairbridge compare``: a YAML or TOML file, overridden by CLI flags.

A config file holds the same options as the command-line flags, one key each (the flag's
name with ``_`` or ``-``: ``text_column`` and ``text-column`` are the same key)::

    # run.yaml
    model: models/credit-bert          # a checkpoint folder, an adapter saved by .save(), or a hub id
    data: data/credit.csv              # .csv, .tsv, .parquet or .jsonl
    test_size: 0.3                     # or test_data: data/test.csv
    text_column: text
    label_column: risk
    sensitive_columns: [sex, age_group]
    methods: [baseline, fairlearn.threshold_optimizer, aif360.reweighing]
    method_options:
      fairlearn.threshold_optimizer: {constraints: equalized_odds}
    seed: 0
    out: reports/report.html
    json: reports/report.json

Relative paths in a file (``model``, ``data``, ``test_data``, ``out``, ``json``,
``markdown``) are read relative to the file's folder, so a config travels with its data.  A
``model`` that does not exist as a folder there is taken as it stands (a hub id).  An unknown
key is an error that lists the valid keys.
"""

from __future__ import annotations

import dataclasses
import json
import numbers
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

__all__ = ["CONFIG_KEYS", "DISPARITY_NAMES", "ConfigError", "RunConfig", "load_config_file",
           "resolve_config"]

Engine = Literal["local", "ray"]
Refit = Literal["head", "full", "none"]


class ConfigError(ValueError):
    """A bad configuration value or file (the CLI exits with code 2)."""


@dataclasses.dataclass
class RunConfig:
    """Every option of ``fairbridge compare``, after the config file and the flags are merged.

    Attributes
    ----------
    model : str
        A checkpoint folder, a folder written by ``HFTextClassifier.save``, or a hub id.
    data : str
        The data file (``.csv``, ``.tsv``, ``.parquet``, ``.jsonl``).
    test_data : str or None
        A separate test file; without it ``data`` is split by ``test_size``.
    test_size : float
        Fraction of ``data`` held out for testing (stratified by label).
    text_column, label_column : str
        The columns holding the text and the label.
    sensitive_columns : list of str
        One or more columns holding the sensitive features.
    methods : list of str or None
        Mitigation methods by registry name; ``None`` runs fairbridge's default set.
    method_options : dict
        ``{method name: {option: value}}``.
    seed : int
        Seeds the split, the methods and the bootstrap.
    primary_disparity : str
        The disparity of the Pareto front and the verdicts.
    n_bootstrap : int
        Bootstrap replicates for the confidence intervals (0: no intervals).
    out : str
        The HTML report.
    json, markdown : str or None
        The JSON report and the Markdown summary, if wanted.
    refit : {"head", "full", "none"}
        What refitting methods retrain.
    batch_size : int or "auto"
        Inference batch size.
    device : str
        ``"auto"``, ``"cpu"``, ``"cuda"`` or ``"cuda:N"``.
    max_length : int or None
        Tokens per text.
    progress : bool
        Show progress.
    engine : {"local", "ray"}
        Where to run.
    ray_address : str or None
        The Ray cluster to join (``engine="ray"``).
    """

    model: str | None = None
    data: str | None = None
    test_data: str | None = None
    test_size: float = 0.3
    text_column: str = "text"
    label_column: str = "label"
    sensitive_columns: list[str] = dataclasses.field(default_factory=list)
    methods: list[str] | None = None
    method_options: dict[str, dict[str, Any]] = dataclasses.field(default_factory=dict)
    seed: int = 0
    primary_disparity: str = "demographic_parity_difference"
    n_bootstrap: int = 1000
    out: str = "report.html"
    json: str | None = None
    markdown: str | None = None
    refit: Refit = "head"
    batch_size: int | str = "auto"
    device: str = "auto"
    max_length: int | None = None
    progress: bool = True
    engine: Engine = "local"
    ray_address: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """The options as a plain dict (recorded in the report's ``config``)."""
        return dataclasses.asdict(self)


#: The valid keys of a config file, sorted.
CONFIG_KEYS: tuple[str, ...] = tuple(sorted(f.name for f in dataclasses.fields(RunConfig)))
_ALIASES = {"sensitive_column": "sensitive_columns", "method": "methods",
            "json_out": "json", "markdown_out": "markdown", "random_state": "seed"}
_PATH_KEYS = ("data", "test_data", "out", "json", "markdown")
#: The disparities a comparison can rank by (kept in step with fairbridge._metrics.DISPARITIES
#: by tests/bridge/test_config.py).
DISPARITY_NAMES = ("average_odds_difference", "demographic_parity_difference",
                   "demographic_parity_ratio", "disparate_impact_ratio",
                   "equal_opportunity_difference", "equalized_odds_difference",
                   "statistical_parity_difference")


def _who(source: str) -> str:
    return f"fairbridge compare ({source})"


def _bad(source: str, key: str, what: str, value: Any, fix: str) -> ConfigError:
    shown = json.dumps(value, default=str) if not isinstance(value, str) else repr(value)
    if len(shown) > 80:
        shown = shown[:77] + "..."
    return ConfigError(f"{_who(source)}: option {key!r} {what}, but got {shown}. {fix}")


def _str_list(source: str, key: str, value: Any) -> list[str]:
    if isinstance(value, str):
        value = [v for v in (s.strip() for s in value.split(",")) if v]
    if (not isinstance(value, (list, tuple)) or not value
            or not all(isinstance(v, str) and v for v in value)):
        raise _bad(source, key, "must be a non-empty list of names", value,
                   f"Write e.g. {key}: [a, b].")
    return list(value)


def _check(source: str, key: str, value: Any) -> Any:
    """Check and normalise one option."""
    if key in ("model", "data", "out", "text_column", "label_column", "device"):
        if not isinstance(value, str) or not value:
            raise _bad(source, key, "must be a non-empty string", value, f"Set {key} to a name.")
        return value
    if key in ("test_data", "json", "markdown", "ray_address"):
        if value is not None and (not isinstance(value, str) or not value):
            raise _bad(source, key, "must be a path or address string (or left out)", value,
                       f"Set {key} to a string, or remove it.")
        return value
    if key == "test_size":
        if (isinstance(value, bool) or not isinstance(value, numbers.Real)
                or not 0.0 < float(value) < 1.0):
            raise _bad(source, key, "must be a fraction strictly between 0 and 1", value,
                       "Use e.g. test_size: 0.3.")
        return float(value)
    if key == "sensitive_columns":
        return _str_list(source, key, value)
    if key == "methods":
        return None if value is None else _str_list(source, key, value)
    if key == "method_options":
        if isinstance(value, str):
            try:
                value = json.loads(value)
            except json.JSONDecodeError as exc:
                raise _bad(source, key, "must be JSON", value,
                           f'Write e.g. \'{{"aif360.reweighing": {{}}}}\' ({exc}).') from None
        if not isinstance(value, Mapping) or not all(
                isinstance(k, str) and isinstance(v, Mapping) for k, v in value.items()):
            raise _bad(source, key, "must map each method name to a mapping of its options",
                       value, 'Write e.g. {"fairlearn.threshold_optimizer": '
                              '{"constraints": "equalized_odds"}}.')
        return {k: dict(v) for k, v in value.items()}
    if key in ("seed", "n_bootstrap"):
        if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 0:
            raise _bad(source, key, "must be a non-negative integer", value,
                       f"Use e.g. {key}: {0 if key == 'seed' else 1000}.")
        return int(value)
    if key == "primary_disparity":
        if value not in DISPARITY_NAMES:
            raise _bad(source, key, f"must be one of {', '.join(map(repr, DISPARITY_NAMES))}",
                       value, "Use e.g. primary_disparity: demographic_parity_difference.")
        return value
    if key == "refit":
        if value not in ("head", "full", "none"):
            raise _bad(source, key, "must be one of 'full', 'head', 'none'", value,
                       "Use refit: head (cheap) unless a method must fine-tune the network.")
        return value
    if key == "engine":
        if value not in ("local", "ray"):
            raise _bad(source, key, "must be one of 'local', 'ray'", value, "Use engine: local.")
        return value
    if key == "batch_size":
        if value == "auto":
            return value
        if isinstance(value, str) and value.isdigit():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
            raise _bad(source, key, "must be 'auto' or an integer >= 1", value,
                       "Use batch_size: auto.")
        return int(value)
    if key == "max_length":
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 2:
            raise _bad(source, key, "must be an integer >= 2 (or left out)", value,
                       "Use e.g. max_length: 256.")
        return int(value)
    if key == "progress":
        if not isinstance(value, bool):
            raise _bad(source, key, "must be true or false", value, "Use progress: false.")
        return value
    raise AssertionError(key)  # pragma: no cover - every field is handled above


def load_config_file(path: str | os.PathLike) -> dict[str, Any]:
    """Read a YAML (``.yaml``, ``.yml``) or TOML (``.toml``) config into checked options.

    Parameters
    ----------
    path : str or path
        The config file.

    Returns
    -------
    dict
        ``{option: value}`` for the keys the file sets; relative paths are made relative to
        the file's folder.

    Raises
    ------
    ConfigError
        If the file is missing, cannot be parsed, is not a mapping, has an unknown key or a
        bad value.
    """
    p = Path(path)
    source = f"config {os.fspath(path)}"
    if not p.is_file():
        raise ConfigError(f"{_who(source)}: the config file does not exist. Check the path "
                          "passed to --config.")
    suffix = p.suffix.lower()
    text = p.read_text(encoding="utf-8")
    if suffix in (".yaml", ".yml"):
        import yaml

        try:
            raw = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise ConfigError(f"{_who(source)}: the file is not valid YAML ({exc}). Fix the "
                              "syntax.") from None
    elif suffix == ".toml":
        try:
            import tomllib
        except ModuleNotFoundError:  # pragma: no cover - Python 3.10
            try:
                import tomli as tomllib  # type: ignore[no-redef]
            except ModuleNotFoundError:
                raise ConfigError(f"{_who(source)}: reading TOML on Python 3.10 needs the "
                                  "package 'tomli'. Install it with: pip install tomli, or "
                                  "write the config as YAML.") from None
        try:
            raw = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{_who(source)}: the file is not valid TOML ({exc}). Fix the "
                              "syntax.") from None
    else:
        raise ConfigError(f"{_who(source)}: the config file must end in .yaml, .yml or .toml, "
                          f"but got {suffix or 'no suffix'!r}. Rename it.")
    if raw is None:
        raw = {}
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{_who(source)}: the file must hold a mapping of options (key: "
                          f"value), but got a {type(raw).__name__}. Valid keys: "
                          f"{', '.join(CONFIG_KEYS)}.")
    options: dict[str, Any] = {}
    unknown = []
    for key, value in raw.items():
        name = _ALIASES.get(str(key).replace("-", "_"), str(key).replace("-", "_"))
        if name not in CONFIG_KEYS:
            unknown.append(str(key))
            continue
        if name in options:
            raise ConfigError(f"{_who(source)}: option {name!r} is set twice (as {key!r} and "
                              "an alias). Keep one.")
        options[name] = _check(source, name, value)
    if unknown:
        raise ConfigError(f"{_who(source)}: unknown key(s) {', '.join(repr(k) for k in unknown)}. "
                          f"Valid keys: {', '.join(CONFIG_KEYS)}.")
    base = p.resolve().parent
    for key in _PATH_KEYS:
        if isinstance(options.get(key), str):
            options[key] = _relative_to(base, options[key])
    if isinstance(options.get("model"), str):
        candidate = base / os.path.expanduser(options["model"])
        if not Path(options["model"]).expanduser().is_absolute() and candidate.exists():
            options["model"] = str(candidate)
    return options


def _relative_to(base: Path, value: str) -> str:
    p = Path(os.path.expanduser(value))
    return str(p if p.is_absolute() else base / p)


def resolve_config(config_path: str | os.PathLike | None,
                   overrides: Mapping[str, Any]) -> RunConfig:
    """Merge a config file (if any) with command-line values; the command line wins.

    Parameters
    ----------
    config_path : str or path, optional
        A YAML or TOML file.
    overrides : mapping
        Options from the command line; ``None`` values mean "not given" and are ignored.

    Returns
    -------
    RunConfig
        The checked options.

    Raises
    ------
    ConfigError
        For a bad file, an unknown key, a bad value, or a required option (``model``,
        ``data``, ``sensitive_columns``) missing from both.
    """
    options: dict[str, Any] = {}
    if config_path is not None:
        options.update(load_config_file(config_path))
    for key, value in overrides.items():
        if value is None:
            continue
        name = _ALIASES.get(key, key)
        if name not in CONFIG_KEYS:
            raise ConfigError(f"{_who('command line')}: unknown option {key!r}. Valid options: "
                              f"{', '.join(CONFIG_KEYS)}.")
        options[name] = _check("command line", name, value)
    missing = [k for k in ("model", "data", "sensitive_columns") if not options.get(k)]
    if missing:
        flags = ", ".join("--" + k.replace("_", "-").replace("columns", "column") for k in missing)
        raise ConfigError(f"fairbridge compare: {', '.join(repr(k) for k in missing)} "
                          f"{'is' if len(missing) == 1 else 'are'} required, but "
                          f"{'it was' if len(missing) == 1 else 'they were'} given neither on "
                          f"the command line nor in a config file. Pass {flags}, or set "
                          f"{'it' if len(missing) == 1 else 'them'} in --config.")
    return RunConfig(**options)
