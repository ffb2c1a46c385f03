"""JSON reports: the result dict as strict JSON (NaN -> null) and its versioned JSON Schema.

The schema files ship with the package (``fairbridge/reports/schema/<kind>-<version>.json``).
Writing never needs ``jsonschema``; :func:`validate` does (it is in the ``test`` extra).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any


from fairbridge._json import json_safe
from fairbridge._optional import MissingDependencyError
from fairbridge._validation import describe, problem

__all__ = [
    "KINDS",
    "SCHEMA_VERSION",
    "as_result_dict",
    "load_schema",
    "to_json",
    "to_jsonable",
    "validate",
    "write_json",
]

#: The version of the result dicts and of the JSON Schema files this module ships.
SCHEMA_VERSION = "1.0"
#: The kinds of result a report renders.
KINDS = ("audit", "comparison")


def as_result_dict(result: Any, *, who: str) -> dict[str, Any]:
    """The result dict of ``result``: the dict itself, or ``result.to_dict()``.

    Raises
    ------
    TypeError
        If ``result`` is neither a mapping nor has ``to_dict``.
    ValueError
        If its ``kind`` is not ``"audit"`` or ``"comparison"``.
    """
    if not isinstance(result, Mapping) and callable(getattr(result, "to_dict", None)):
        result = result.to_dict()
    if not isinstance(result, Mapping):
        raise TypeError(problem(who, "argument 'result'",
                                "must be a result dict or an AuditResult / ComparisonResult",
                                describe(result), "Pass fb.audit(...) or fb.compare(...), or "
                                "their .to_dict()."))
    kind = result.get("kind")
    if kind not in KINDS:
        raise ValueError(problem(who, "argument 'result'",
                                 "must have 'kind' equal to 'audit' or 'comparison'",
                                 f"kind={kind!r}", "Pass the dict made by to_dict()."))
    return dict(result)


#: The conversion every result uses (kept under this name as the module's public helper).
to_jsonable = json_safe


def to_json(result: Any, *, indent: int | None = 2) -> str:
    """The result as strict JSON text (no NaN: they are ``null``)."""
    d = as_result_dict(result, who="fairbridge.reports.to_json")
    return json.dumps(to_jsonable(d), indent=indent, allow_nan=False, ensure_ascii=False)


def write_json(result: Any, path: str | os.PathLike) -> Path:
    """Write the result as JSON following the versioned schema.

    Parameters
    ----------
    result : dict or AuditResult or ComparisonResult
        ``AuditResult.to_dict()`` or ``ComparisonResult.to_dict()`` (or the result itself).
    path : str or path
        The file to write (its folder is created if needed).

    Returns
    -------
    Path
        The file written.
    """
    text = to_json(result)
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text + "\n", encoding="utf-8")
    return out


@lru_cache(maxsize=None)
def _schema_text(kind: str, version: str) -> str:
    ref = resources.files("fairbridge.reports").joinpath(f"schema/{kind}-{version}.json")
    return ref.read_text(encoding="utf-8")


def load_schema(kind: str, version: str = SCHEMA_VERSION) -> dict[str, Any]:
    """The JSON Schema (a new dict) of ``kind`` (``"audit"`` or ``"comparison"``)."""
    who = "fairbridge.reports.load_schema"
    if kind not in KINDS:
        raise ValueError(problem(who, "argument 'kind'", "must be one of 'audit', 'comparison'",
                                 describe(kind), "Pass kind='comparison' or kind='audit'."))
    try:
        return json.loads(_schema_text(kind, version))
    except FileNotFoundError:
        raise ValueError(problem(who, "argument 'version'",
                                 f"must be a schema version this fairbridge ships ({SCHEMA_VERSION})",
                                 repr(version), "Upgrade fairbridge, or pass the current version."
                                 )) from None


def validate(result: Any) -> dict[str, Any]:
    """Check a result against its JSON Schema (after the NaN -> null conversion of the writer).

    Parameters
    ----------
    result : dict, result object, str or path
        A result dict (or object with ``to_dict``), or the path of a JSON report.

    Returns
    -------
    dict
        The JSON-ready dict that was validated.

    Raises
    ------
    MissingDependencyError
        If ``jsonschema`` is not installed (``pip install 'fairbridge[test]'``).
    jsonschema.ValidationError
        If the result does not follow the schema; the message names the failing path.
    """
    who = "fairbridge.reports.validate"
    if isinstance(result, (str, os.PathLike)):
        result = json.loads(Path(result).read_text(encoding="utf-8"))
    d = to_jsonable(as_result_dict(result, who=who))
    try:
        import jsonschema
    except ImportError as exc:
        raise MissingDependencyError(
            f"{who} needs the package 'jsonschema', which could not be imported ({exc}). "
            "Install it with: pip install 'fairbridge[test]'"
        ) from exc
    version = str(d.get("schema_version", SCHEMA_VERSION))
    try:  # the schema of the result's major version; an unknown one fails on schema_version
        schema = load_schema(d["kind"], f"{version.split('.')[0]}.0")
    except ValueError:
        schema = load_schema(d["kind"])
    jsonschema.Draft202012Validator.check_schema(schema)
    validator = jsonschema.Draft202012Validator(schema)
    errors = list(validator.iter_errors(d))
    if errors:
        first = jsonschema.exceptions.best_match(errors)
        where = "/".join(str(p) for p in first.absolute_path) or "<root>"
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        raise jsonschema.ValidationError(
            f"{who}: the {d['kind']} result does not follow schema {version} at {where}: "
            f"{first.message}{more}"
        )
    return d
