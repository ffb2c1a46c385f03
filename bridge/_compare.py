"""``compare``: run mitigation methods on one model and one split, side by side.

Every method gets the same fitted baseline model, the same training split and the same test
split.  With a fairbridge adapter the backbone's feature cache is shared by the baseline, every
clone a method refits and every post-processor, so the network's forward pass runs once per
distinct input over the whole comparison; the result records per method what it cost (fit and
predict seconds, refits, rows and batches through the network).

A method that cannot run (missing package, labels with more than two classes for a binary-only
method, a model that cannot be refitted, groups unseen in training) is recorded as *skipped*
with the reason; a method that raises is recorded as *failed* with the error; the comparison
carries on with the others either way.
"""

from __future__ import annotations

import json
import os
import time
import traceback
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.exceptions import NotFittedError as _SklearnNotFittedError
from sklearn.utils.validation import check_is_fitted, has_fit_parameter

from ._report_writers import ReportWriters
from ._audit import SCHEMA_VERSION, AuditResult, _check_settings, _resolve_privileged, audit_predictions
from ._metrics import (
    DISPARITIES,
    Cells,
    combined_feature,
    group_features,
    indicator,
    json_safe,
    library_versions,
    now_iso,
    resolve_pos_label,
    unfairness,
)
from ._optional import MissingDependencyError, import_optional
from ._validation import (
    check_consistent_length,
    check_labels,
    check_one_of,
    check_sensitive_features,
    describe,
    problem,
)
from ._version import __version__
from .mitigations._base import (
    FitContext,
    Mitigation,
    StateWriter,
    _classes_entry,
    _classes_from,
    adapter_class,
    jsonable_params,
    label_codes,
)
from .mitigations._registry import _METHODS, default_mitigations, resolve_mitigation

__all__ = ["ComparisonResult", "MethodResult", "MitigatedPredictor", "compare", "load_mitigated"]

_FORMAT_VERSION = 1
_MANIFEST = "fairbridge-mitigated.json"
_ARRAYS = "state.safetensors"


# -- inputs ------------------------------------------------------------------------------------
def model_frame(X: Any, estimator: Any) -> Any:
    """``X`` as the 2-D container the toolkits pass on to the model.

    Texts (a list, 1-D array or Series) become a one-column DataFrame (column ``text``, or the
    adapter's ``text_column``), which Fairlearn's and AIF360's 2-D input checks let through and
    the adapters read back; DataFrames and numeric arrays are returned as they are.
    """
    col = getattr(estimator, "text_column", None)
    col = col if isinstance(col, str) else "text"
    if isinstance(X, pd.DataFrame):
        return X
    if isinstance(X, pd.Series):
        return X.to_frame(name=col).reset_index(drop=True)
    if isinstance(X, (list, tuple)):
        if all(isinstance(v, str) for v in X):
            return pd.DataFrame({col: list(X)})
        X = np.asarray(X)
    if isinstance(X, np.ndarray):
        if X.ndim == 1 and X.dtype.kind in "OUS":
            return pd.DataFrame({col: X})
        if X.ndim == 2 and X.shape[1] == 1 and X.dtype.kind in "OUS":
            return pd.DataFrame({col: X[:, 0]})
    return X


def _n_rows(X: Any) -> int:
    return int(X.shape[0]) if hasattr(X, "shape") else len(X)


def _is_fitted(estimator: Any) -> bool:
    try:
        check_is_fitted(estimator)
    except (_SklearnNotFittedError, TypeError):
        return False
    return hasattr(estimator, "classes_")


def _stats(backbone: Any) -> dict[str, int]:
    stats = getattr(backbone, "stats", None)
    return stats.snapshot() if stats is not None else {"rows": 0, "batches": 0}


def _delta(after: dict[str, int], before: dict[str, int]) -> tuple[int, int]:
    return (int(after.get("rows", 0) - before.get("rows", 0)),
            int(after.get("batches", 0) - before.get("batches", 0)))


def _own_backbones(mitigation: Mitigation, shared: Any) -> list[Any]:
    """Backbones of models the method made itself (e.g. a ``refit="full"`` copy)."""
    out, seen = [], {id(shared)}
    for name in ("estimator_", "best_", "predictors_"):
        value = getattr(mitigation, name, None)
        for est in value if isinstance(value, list) else [value]:
            bb = getattr(est, "backbone_", None)
            if bb is not None and id(bb) not in seen:
                seen.add(id(bb))
                out.append(bb)
    return out


def _describe_model(estimator: Any) -> dict[str, Any]:
    params = estimator.get_params(deep=False) if hasattr(estimator, "get_params") else {}
    return {"class": type(estimator).__name__, "params": jsonable_params(params)}


# -- results ----------------------------------------------------------------------------------
@dataclass
class MethodResult:
    """What happened to one method of a comparison.

    Attributes
    ----------
    name : str
        Its name in the comparison (registry name; ``#2`` appended for a repeat).
    status : {"ok", "skipped", "failed"}
    reason : str or None
        Why it was skipped or how it failed.
    needs : str
        What it asks of the model.
    options : dict
        Its parameters (JSON-safe).
    metrics : dict
        ``accuracy``, ``balanced_accuracy`` and every disparity (for all sensitive features
        together; ``"<metric>[<feature>]"`` for each one when there are several).
    intervals : dict
        Disparity name -> ``[low, high]``.
    cost : dict
        ``fit_seconds``, ``predict_seconds``, ``n_refits``, ``n_forward_rows``,
        ``n_forward_batches``.
    audit : AuditResult or None
        The audit of its test predictions.
    mitigation : Mitigation or None
        The fitted method (``None`` unless ok).
    pareto : bool
        On the accuracy-fairness Pareto front.
    verdict : str
        A plain-language summary.
    details : dict
        Method-specific record (e.g. the fair_loss sweep); a failure's traceback.
    """

    name: str
    status: str
    needs: str
    options: dict[str, Any]
    reason: str | None = None
    metrics: dict[str, float | None] = field(default_factory=dict)
    intervals: dict[str, list[float | None]] = field(default_factory=dict)
    cost: dict[str, float | int] = field(default_factory=lambda: {
        "fit_seconds": 0.0, "predict_seconds": 0.0, "n_refits": 0, "n_forward_rows": 0,
        "n_forward_batches": 0})
    audit: AuditResult | None = None
    mitigation: Mitigation | None = None
    pareto: bool = False
    verdict: str = ""
    details: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return json_safe({
            "name": self.name, "status": self.status, "reason": self.reason, "needs": self.needs,
            "options": self.options, "metrics": self.metrics, "intervals": self.intervals,
            "groups": self.audit.to_dict()["groups"] if self.audit is not None else [],
            "cost": self.cost, "pareto": self.pareto, "verdict": self.verdict,
            "details": self.details,
        })


class ComparisonResult(ReportWriters):
    """The outcome of :func:`compare`.

    Attributes
    ----------
    methods : list of MethodResult
        One per method, in the order run.
    primary_disparity : str
        The disparity of the Pareto front and the verdicts.
    config : dict
        The run's configuration (model, data sizes, methods and options, seed, ...).
    notes : list of str
        Caveats about the data (e.g. groups absent from the test split).
    created : str
        ISO-8601 time.
    library_versions : dict
        Versions of fairbridge and the toolkits.
    """

    def __init__(self, *, methods: list[MethodResult], primary_disparity: str, config: dict[str, Any],
                 notes: list[str], classes: np.ndarray, sensitive_columns: list[str],
                 baseline: Any) -> None:
        self.methods = methods
        self.primary_disparity = primary_disparity
        self.config = config
        self.notes = notes
        self.created = now_iso()
        self.library_versions = library_versions()
        self._classes = classes
        self._sensitive_columns = sensitive_columns
        self._baseline = baseline

    # -- access ------------------------------------------------------------------------------
    @property
    def audits(self) -> dict[str, AuditResult]:
        """Method name -> the audit of its test predictions (methods that ran)."""
        return {m.name: m.audit for m in self.methods if m.audit is not None}

    @property
    def pareto_front(self) -> list[str]:
        """Names of the methods on the accuracy-fairness Pareto front."""
        return [m.name for m in self.methods if m.pareto]

    def __getitem__(self, name: str) -> MethodResult:
        for m in self.methods:
            if m.name == name:
                return m
        raise KeyError(f"ComparisonResult: no method {name!r}; the methods are "
                       f"{[m.name for m in self.methods]}.")

    @property
    def table(self) -> pd.DataFrame:
        """One row per method: status, accuracy, disparities with intervals, cost, Pareto, verdict."""
        rows = []
        for m in self.methods:
            row: dict[str, Any] = {"method": m.name, "status": m.status,
                                   "accuracy": m.metrics.get("accuracy"),
                                   "balanced_accuracy": m.metrics.get("balanced_accuracy")}
            for metric in [self.primary_disparity] + [d for d in DISPARITIES if d != self.primary_disparity]:
                row[metric] = m.metrics.get(metric)
                low, high = m.intervals.get(metric, [None, None])
                row[f"{metric}_ci_low"], row[f"{metric}_ci_high"] = low, high
            row.update(m.cost)
            row.update(pareto=m.pareto, verdict=m.verdict, reason=m.reason)
            rows.append(row)
        table = pd.DataFrame(rows).set_index("method")
        floats = [c for c in table.columns if c not in ("status", "pareto", "verdict", "reason")
                  and not c.startswith("n_")]
        return table.astype({c: "float64" for c in floats})

    def select(self, name: str) -> MitigatedPredictor:
        """The fitted method ``name`` as a predictor for new data (see :class:`MitigatedPredictor`)."""
        m = self[name]
        if m.status != "ok" or m.mitigation is None:
            raise ValueError(problem("ComparisonResult.select", "argument 'name'",
                                     "must name a method that ran", f"{name!r} ({m.status}: {m.reason})",
                                     f"Choose one of {[x.name for x in self.methods if x.status == 'ok']}."))
        return MitigatedPredictor(name=name, mitigation=m.mitigation, classes=self._classes,
                                  sensitive_columns=self._sensitive_columns, base=self._baseline)

    # -- export ------------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe dict in fairbridge's versioned result schema (``kind: "comparison"``)."""
        return {
            "schema_version": SCHEMA_VERSION,
            "kind": "comparison",
            "created": self.created,
            "fairbridge_version": __version__,
            "library_versions": dict(self.library_versions),
            "config": json_safe(self.config),
            "primary_disparity": self.primary_disparity,
            "methods": [m.to_dict() for m in self.methods],
            "notes": list(self.notes),
            "explanations": [],
        }

    def __repr__(self) -> str:
        status = ", ".join(f"{m.name}: {m.status}" for m in self.methods)
        return f"ComparisonResult({status})"


# -- the mitigated predictor ------------------------------------------------------------------------
class MitigatedPredictor:
    """A fitted mitigation method, ready to predict on new data, save and load.

    Parameters
    ----------
    name : str
        The method's name in the comparison.
    mitigation : Mitigation
        The fitted method.
    classes : ndarray
        The model's classes (predictions are labels from it).
    sensitive_columns : list of str
        Names of the sensitive features, in the order the method saw them.
    base : estimator
        The fitted baseline model.

    Attributes
    ----------
    classes_ : ndarray
        As ``classes``.
    needs_sensitive_features : bool
        Whether ``predict`` needs ``sensitive_features=``.
    """

    def __init__(self, *, name: str, mitigation: Mitigation, classes: np.ndarray,
                 sensitive_columns: list[str], base: Any) -> None:
        self.name = name
        self.mitigation = mitigation
        self.classes_ = np.asarray(classes)
        self.sensitive_columns = list(sensitive_columns)
        self.base = base

    @property
    def needs_sensitive_features(self) -> bool:
        return bool(self.mitigation.uses_sensitive_features)

    def __repr__(self) -> str:
        return f"MitigatedPredictor({self.name!r})"

    def _prepare(self, X: Any, sensitive_features: Any, who: str) -> tuple[Any, np.ndarray | None]:
        Xf = model_frame(X, self.base)
        n = _n_rows(Xf)
        if sensitive_features is None:
            if self.needs_sensitive_features:
                raise ValueError(problem(who, "argument 'sensitive_features'",
                                         f"is required by {self.name!r}", "None",
                                         f"Pass the groups of every row ({self.sensitive_columns})."))
            return Xf, None
        frame = check_sensitive_features(sensitive_features, who=who, n_samples=n, min_groups=1)
        cols = list(frame.columns)
        if set(cols) == set(self.sensitive_columns):
            frame = frame[self.sensitive_columns]
        elif len(cols) != len(self.sensitive_columns):
            raise ValueError(problem(who, "argument 'sensitive_features'",
                                     f"must have the columns {self.sensitive_columns}",
                                     f"columns {cols}", "Pass the same sensitive features as in training."))
        return Xf, combined_feature(frame).keys

    def predict_proba(self, X: Any, sensitive_features: Any = None) -> np.ndarray:
        """Class probabilities, columns in ``classes_`` order."""
        Xf, keys = self._prepare(X, sensitive_features, f"{self!r}.predict_proba")
        return self.mitigation.predict_proba(Xf, sensitive_features=keys)

    def predict(self, X: Any, sensitive_features: Any = None) -> np.ndarray:
        """Predicted labels (randomised methods use their ``random_state``)."""
        Xf, keys = self._prepare(X, sensitive_features, f"{self!r}.predict")
        return self.classes_[self.mitigation.predict(Xf, sensitive_features=keys)]

    # -- persistence ---------------------------------------------------------------------------
    def save(self, path: str | os.PathLike) -> Path:
        """Save to a folder: the model through its adapter's ``save`` (safetensors), the method's
        state as JSON plus one safetensors file.  Nothing is pickled.

        Returns
        -------
        Path
            The folder.
        """
        who = f"{self!r}.save"
        if type(self.base).__name__ not in ("HFTextClassifier", "TorchClassifier"):
            raise TypeError(problem(who, "the model", "must be a fairbridge adapter to be saved",
                                    type(self.base).__name__,
                                    "Wrap it in HFTextClassifier or TorchClassifier."))
        out = Path(path)
        out.mkdir(parents=True, exist_ok=True)
        self.base.save(out / "model")
        writer = StateWriter(out)
        state = self.mitigation._save_state(writer)
        if writer.arrays:
            from safetensors.numpy import save_file

            save_file(writer.arrays, str(out / _ARRAYS))
        cls = type(self.mitigation)
        manifest = {
            "format_version": _FORMAT_VERSION,
            "fairbridge_version": __version__,
            "name": self.name,
            "method": cls.name,
            "class": f"{cls.__module__}:{cls.__qualname__}",
            "params": jsonable_params(self.mitigation.get_params(deep=False)),
            "classes": _classes_entry(self.classes_),
            "sensitive_columns": self.sensitive_columns,
            "model_class": type(self.base).__name__,
            "state": json_safe_state(state),
        }
        (out / _MANIFEST).write_text(json.dumps(manifest, indent=2))
        return out

    @classmethod
    def load(cls, path: str | os.PathLike, *, mitigation_class: type[Mitigation] | None = None,
             **model_overrides: Any) -> MitigatedPredictor:
        """Load a predictor written by :meth:`save`.

        Parameters
        ----------
        path : str or path
            The folder.
        mitigation_class : Mitigation subclass, optional
            Needed only for a custom (unregistered) method: the class to rebuild it with.
        **model_overrides
            Passed to the adapter's ``load`` (e.g. ``device="cpu"``).
        """
        who = "MitigatedPredictor.load"
        folder = Path(path)
        manifest_path = folder / _MANIFEST
        if not manifest_path.is_file():
            raise ValueError(problem(who, "argument 'path'",
                                     "must be a folder written by MitigatedPredictor.save()",
                                     f"{os.fspath(path)!r} (no {_MANIFEST} in it)",
                                     "Pass the folder you saved to."))
        manifest = json.loads(manifest_path.read_text())
        if manifest.get("format_version") != _FORMAT_VERSION:
            raise ValueError(problem(who, "argument 'path'", f"must hold format {_FORMAT_VERSION}",
                                     f"format {manifest.get('format_version')!r}",
                                     "Re-save it with this version of fairbridge."))
        method_cls = mitigation_class
        if method_cls is None:
            registered = _METHODS.get(manifest["method"])
            method_cls = registered() if registered is not None else None
            if method_cls is None or f"{method_cls.__module__}:{method_cls.__qualname__}" != manifest["class"]:
                raise ValueError(problem(who, "argument 'mitigation_class'",
                                         "is needed for a method that is not registered by name",
                                         f"None for {manifest['class']!r}",
                                         "Pass load(path, mitigation_class=YourMitigation)."))
        base = adapter_class(manifest["model_class"]).load(folder / "model", **model_overrides)
        arrays: dict[str, np.ndarray] = {}
        if (folder / _ARRAYS).is_file():
            from safetensors.numpy import load_file

            arrays = load_file(str(folder / _ARRAYS))
        reader = StateWriter(folder, arrays)
        mitigation = method_cls._load_state(dict(manifest["params"]), manifest["state"], reader, base)
        return cls(name=manifest["name"], mitigation=mitigation,
                   classes=_classes_from(manifest["classes"]),
                   sensitive_columns=manifest["sensitive_columns"], base=base)


def json_safe_state(state: Any) -> Any:
    """``state`` with numpy values turned into Python ones (floats are already encoded)."""
    if isinstance(state, dict):
        return {str(k): json_safe_state(v) for k, v in state.items()}
    if isinstance(state, (list, tuple)):
        return [json_safe_state(v) for v in state]
    if isinstance(state, np.ndarray):
        return [json_safe_state(v) for v in state.tolist()]
    if isinstance(state, np.generic):
        return state.item()
    return state


def load_mitigated(path: str | os.PathLike, **kwargs: Any) -> MitigatedPredictor:
    """Load a predictor saved with ``MitigatedPredictor.save`` (see :meth:`MitigatedPredictor.load`)."""
    return MitigatedPredictor.load(path, **kwargs)


# -- the comparison ----------------------------------------------------------------------------------
def _skip_reason(name: str, method: Mitigation, base: Any, X: Any, n_classes: int,
                 classes: np.ndarray, unseen: list[str]) -> str | None:
    if method.binary_only and n_classes != 2:
        shown = ", ".join(str(c) for c in list(classes)[:6])
        return (f"{name} handles binary labels only, but the model has {n_classes} classes "
                f"({shown}).")
    for module in method.requires:
        try:
            if module.split(".")[0] == "aif360":
                from ._aif360_compat import quiet_import

                quiet_import(module, purpose=f"the {name!r} mitigation")
            else:
                import_optional(module, purpose=f"the {name!r} mitigation")
        except MissingDependencyError as exc:
            return str(exc)
    if method.needs == "refits":
        if getattr(base, "refit", None) == "none":
            return (f"{name} refits the model, but the adapter has refit='none', whose fit learns "
                    "nothing. Use refit='head' (the default) or refit='full'.")
        if not has_fit_parameter(base, "sample_weight"):
            return (f"{name} refits the model with sample weights, but "
                    f"{type(base).__name__}.fit takes no sample_weight.")
    if method.needs == "embeddings" and not callable(getattr(base, "embed", None)):
        kind = getattr(X, "dtype", None)
        if kind is None or getattr(kind, "kind", "O") not in "iuf":
            return (f"{name} works on embeddings, but {type(base).__name__} has no embed() and "
                    "X is not numeric. Wrap the model in a fairbridge adapter.")
    own = method.unsupported(base)
    if own is not None:
        return own
    if method.uses_sensitive_features and unseen:
        return (f"{name} needs the group at prediction time, but the test split has group(s) "
                f"{unseen[:5]} that are not in the training split.")
    return None


def _display_names(specs: list[tuple[Any, Mitigation]]) -> list[str]:
    names, seen = [], {}
    for spec, method in specs:
        base = method.name if method.name != "custom" else type(method).__name__
        seen[base] = seen.get(base, 0) + 1
        names.append(base if seen[base] == 1 else f"{base}#{seen[base]}")
    return names


def _label(metric: str) -> str:
    return DISPARITIES[metric].label


def _verdicts(records: list[MethodResult], primary: str) -> None:
    ok = [r for r in records if r.status == "ok"]
    points = {r.name: (r.metrics.get("accuracy"), unfairness(primary, r.metrics.get(primary)))
              for r in ok}
    for r in ok:
        acc, u = points[r.name]
        if acc is None or not np.isfinite(u):
            continue
        dominated_by = [o.name for o in ok if o.name != r.name and points[o.name][0] is not None
                        and np.isfinite(points[o.name][1])
                        and points[o.name][0] >= acc and points[o.name][1] <= u
                        and (points[o.name][0] > acc or points[o.name][1] < u)]
        r.pareto = not dominated_by
        r.details["dominated_by"] = dominated_by
    base = next((r for r in ok if r.name == "baseline"), None)
    label = _label(primary)
    for r in records:
        if r.status == "skipped":
            r.verdict = f"Not run: {r.reason}"
            continue
        if r.status == "failed":
            r.verdict = f"Failed: {r.reason}"
            continue
        acc, value = r.metrics.get("accuracy"), r.metrics.get(primary)
        lo, hi = r.intervals.get(primary, [None, None])
        shown = "n/a" if value is None else f"{value:.3f}"
        ci = f" [{lo:.3f}, {hi:.3f}]" if lo is not None and hi is not None else ""
        if r is base or base is None or base.metrics.get(primary) is None:
            text = f"Accuracy {acc:.3f}; {label} {shown}{ci}."
            if r is base:
                text = "The model as it is: " + text[0].lower() + text[1:]
        else:
            b_acc, b_val = base.metrics["accuracy"], base.metrics[primary]
            u, u0 = unfairness(primary, value), unfairness(primary, b_val)
            kind = DISPARITIES[primary].kind
            goal = {"spread": "", "signed": " closer to 0", "ratio": " closer to 1"}[kind]
            away = {"spread": "", "signed": " further from 0", "ratio": " further from 1"}[kind]
            d_acc = (acc - b_acc) * 100
            if abs(d_acc) < 0.05:
                cost = "accuracy unchanged"
            elif d_acc < 0:
                cost = f"accuracy down {-d_acc:.1f} points ({b_acc:.3f} -> {acc:.3f})"
            else:
                cost = f"accuracy up {d_acc:.1f} points ({b_acc:.3f} -> {acc:.3f})"
            if not np.isfinite(u):
                text = f"Leaves the {label} undefined; {cost}."
            else:
                if abs(u - u0) < 0.005:
                    change = f"Leaves the {label} about where it was"
                elif u < u0:
                    change = f"Reduces the {label}" if kind == "spread" else f"Moves the {label}{goal}"
                else:
                    change = f"Increases the {label}" if kind == "spread" else f"Moves the {label}{away}"
                text = f"{change}: {b_val:.3f} -> {shown}{ci}; {cost}."
            b_lo, b_hi = base.intervals.get(primary, [None, None])
            if None not in (lo, hi, b_lo, b_hi) and np.isfinite(u) and abs(u - u0) >= 0.005:
                if lo <= b_hi and b_lo <= hi:
                    text += " The intervals overlap the baseline's, so the change may be noise."
                else:
                    text += " The intervals do not overlap the baseline's."
        rate = (r.audit.overall.get("selection_rate") if r.audit is not None else None)
        if rate is not None and rate in (0.0, 1.0):
            text += (f" It predicts the same class for every test row (selection rate {rate:.0f}): "
                     "parity by ignoring the input, not a usable model.")
        if r.pareto:
            text += " On the accuracy-fairness Pareto front."
        elif r.details.get("dominated_by"):
            text += f" Dominated by {', '.join(r.details['dominated_by'][:3])}."
        r.verdict = text


def _metric_dicts(audit: AuditResult, combined: str) -> tuple[dict[str, float | None], dict[str, list]]:
    metrics: dict[str, float | None] = {"accuracy": audit.overall["accuracy"],
                                        "balanced_accuracy": audit.overall["balanced_accuracy"]}
    intervals: dict[str, list] = {}
    for row in audit.disparities.itertuples():
        key = row.metric if row.feature == combined else f"{row.metric}[{row.feature}]"
        metrics[key] = json_safe(row.value)
        intervals[key] = [json_safe(row.ci_low), json_safe(row.ci_high)]
    return metrics, intervals


def compare(
    estimator: Any,
    X_train: Any,
    y_train: Any = None,
    X_test: Any = None,
    y_test: Any = None,
    *,
    sensitive_features_train: Any = None,
    sensitive_features_test: Any = None,
    methods: Sequence[Any] | None = None,
    primary_disparity: str = "demographic_parity_difference",
    pos_label: Any = None,
    privileged_groups: Any = None,
    n_bootstrap: int = 1000,
    confidence: float = 0.95,
    random_state: int | None = 0,
    progress: bool = True,
    config: dict[str, Any] | None = None,
    engine: Literal["local", "ray"] = "local",
    label_column: str | None = None,
    sensitive_column: str | None = None,
    text_column: str = "text",
    ray_options: dict[str, Any] | None = None,
) -> ComparisonResult:
    """Compare mitigation methods on one model and one train/test split.

    Parameters
    ----------
    estimator : classifier
        The model: a fairbridge adapter (``HFTextClassifier``, ``TorchClassifier``) or any
        scikit-learn classifier.  Used as it is if fitted (the baseline), else a clone is fitted
        on the training split first (recorded as the baseline's cost).
    X_train, y_train, X_test, y_test : array-like
        The split.  Texts may be a list, array, Series or one-column DataFrame.
    sensitive_features_train, sensitive_features_test : array-like, Series, DataFrame or dict
        Group memberships (several columns: methods use their intersection; the audit reports
        each column and the intersection).
    methods : sequence, optional
        Method names (:func:`fairbridge.mitigations.available_mitigations`), ``(name, options)``
        pairs, dicts ``{"name": ..., **options}``, Mitigation classes or configured instances.
        Default: every registered method.
    primary_disparity : str, default="demographic_parity_difference"
        The disparity of the Pareto front (against accuracy) and of the verdicts.
    pos_label : object, optional
        The favourable outcome for the rates (default: ``1`` or the second class).
    privileged_groups : object or dict, optional
        The group AIF360 treats as privileged (default: the highest rate of ``pos_label`` in
        the training labels).
    n_bootstrap, confidence, random_state :
        See :func:`fairbridge.audit_predictions`; ``random_state`` also seeds the methods'
        randomised parts through :class:`~fairbridge.mitigations.FitContext`.
    progress : bool, default=True
        A progress bar over the methods.
    config : dict, optional
        Extra entries for the result's ``config`` (e.g. the data file of a CLI run).
    engine : {"local", "ray"}, default="local"
        ``"ray"`` scores both splits on Ray Data (:func:`fairbridge.distributed.compare`): the
        network runs on the cluster, and the methods run on the returned features and scores,
        giving the same table as ``"local"``.  Passing Ray Datasets as ``X_train`` and
        ``y_train`` (the test split: ``compare(clf, train_ds, test_ds, label_column=...,
        sensitive_column=...)``) implies it.
    label_column, sensitive_column, text_column : str, optional
        The columns of Ray Datasets.
    ray_options : dict, optional
        Passed to :func:`fairbridge.distributed.score` (``concurrency``, ``num_gpus``,
        ``num_cpus``, ``batch_size``, ...).

    Returns
    -------
    ComparisonResult

    Raises
    ------
    ValueError, TypeError
        For bad input found before any method runs (mismatched lengths, NaN labels or groups, a
        sensitive feature with one group, an unknown method name or option).  Problems of a
        single method never raise: they are recorded as ``skipped`` or ``failed``.
    """
    who = "compare"
    check_one_of(who, "engine", engine, ["local", "ray"])
    from .distributed._ray import is_dataset  # imports no ray

    if engine == "ray" or is_dataset(X_train):
        import fairbridge.distributed as fd

        opts = dict(methods=methods, primary_disparity=primary_disparity, pos_label=pos_label,
                    privileged_groups=privileged_groups, n_bootstrap=n_bootstrap,
                    confidence=confidence, random_state=random_state, progress=progress,
                    config=config, **(ray_options or {}))
        if is_dataset(X_train) or label_column is not None:
            # compare(clf, train_ds, test_ds, label_column=..., sensitive_column=...)
            return fd.compare(estimator, X_train, y_train, label_column=label_column,
                              sensitive_column=sensitive_column, text_column=text_column, **opts)
        return fd.compare_arrays(estimator, X_train, y_train, X_test, y_test,
                                 sensitive_features_train=sensitive_features_train,
                                 sensitive_features_test=sensitive_features_test, **opts)
    _check_settings(who, n_bootstrap, confidence, random_state)
    check_one_of(who, "primary_disparity", primary_disparity, list(DISPARITIES))
    if not isinstance(progress, (bool, np.bool_)):
        raise TypeError(problem(who, "argument 'progress'", "must be True or False",
                                describe(progress), "Pass progress=False to silence the bar."))
    n_tr = check_consistent_length(who, X_train=X_train, y_train=y_train,
                                   sensitive_features_train=sensitive_features_train)
    n_te = check_consistent_length(who, X_test=X_test, y_test=y_test,
                                   sensitive_features_test=sensitive_features_test)
    y_tr = check_labels(y_train, who=who, n_samples=n_tr, name="y_train")
    y_te = check_labels(y_test, who=who, n_samples=n_te, name="y_test")
    A_tr = check_sensitive_features(sensitive_features_train, who=who, n_samples=n_tr,
                                    name="sensitive_features_train")
    A_te = check_sensitive_features(sensitive_features_test, who=who, n_samples=n_te,
                                    name="sensitive_features_test")
    if list(A_tr.columns) != list(A_te.columns):
        raise ValueError(problem(who, "arguments 'sensitive_features_train' and "
                                 "'sensitive_features_test'", "must have the same columns",
                                 f"{list(A_tr.columns)} and {list(A_te.columns)}",
                                 "Pass the same sensitive features for both splits."))
    specs = list(default_mitigations() if methods is None else methods)
    if isinstance(methods, (str, bytes)) or not specs:
        raise ValueError(problem(who, "argument 'methods'", "must be a non-empty list of methods",
                                 describe(methods), "Pass e.g. methods=['baseline', "
                                 "'fairlearn.threshold_optimizer'], or None for all."))
    resolved = [(spec, resolve_mitigation(spec)) for spec in specs]
    names = _display_names(resolved)
    Xtr, Xte = model_frame(X_train, estimator), model_frame(X_test, estimator)

    # The baseline: the model as given, or fitted once here.
    base_cost = {"fit_seconds": 0.0, "n_refits": 0, "rows": 0, "batches": 0}
    if _is_fitted(estimator):
        base = estimator
    else:
        before = {"rows": 0, "batches": 0}
        from fairbridge.adapters._base import AdapterBase

        if isinstance(estimator, AdapterBase):
            # An adapter: load its (shared) backbone without a forward pass to read its counters.
            probe = clone(estimator).set_params(refit="none").fit(Xtr, y_tr)
            before = _stats(getattr(probe, "backbone_", None))
        t0 = time.perf_counter()
        base = clone(estimator).fit(Xtr, y_tr)
        base_cost["fit_seconds"] = time.perf_counter() - t0
        base_cost["n_refits"] = 1
        after = _stats(getattr(base, "backbone_", None))
        base_cost["rows"], base_cost["batches"] = _delta(after, before)
    classes = np.asarray(base.classes_)
    n_classes = len(classes)
    codes_tr, codes_te = label_codes(y_tr, classes), label_codes(y_te, classes)
    for split, codes, y in (("y_train", codes_tr, y_tr), ("y_test", codes_te, y_te)):
        if (codes < 0).any():
            bad = sorted({str(v) for v in np.asarray(y, dtype=object)[codes < 0]})[:5]
            raise ValueError(problem(who, f"argument {split!r}", "must only hold the model's classes "
                                     f"{[str(c) for c in classes[:10]]}", f"other labels {bad}",
                                     "Encode the labels as the model's classes."))
    pos = resolve_pos_label(list(classes), pos_label, who=who)

    notes: list[str] = []
    if n_classes == 2 and str(pos) != str(classes[1]):
        notes.append(f"The favourable outcome {pos!r} is the model's first class; the methods' "
                     f"constraints and AIF360's post-processors treat its second class "
                     f"{classes[1]!r} as the positive one (symmetric constraints such as "
                     "demographic parity and equalized odds are unaffected).")
    feats_tr, feats_te = group_features(A_tr), group_features(A_te)
    comb_tr, comb_te = feats_tr[-1], feats_te[-1]
    y01_tr = indicator(y_tr, pos)
    cells_tr = {f.name: Cells.build(f, y01_tr, np.zeros_like(y01_tr)) for f in feats_tr}
    privileged = _resolve_privileged(who, privileged_groups, cells_tr, notes)
    for f_tr, f_te in zip(feats_tr, feats_te):
        g_tr, g_te = set(map(str, f_tr.keys)), set(map(str, f_te.keys))
        missing, extra = sorted(g_tr - g_te), sorted(g_te - g_tr)
        if missing:
            notes.append(f"Group(s) {missing[:5]} of {f_tr.name!r} are in the training split but "
                         "not in the test split: no test metrics are reported for them.")
        if extra:
            notes.append(f"Group(s) {extra[:5]} of {f_tr.name!r} are in the test split but not in "
                         "the training split: methods that need groups at prediction are skipped.")
    priv_test = {k: v for k, v in privileged.items()
                 if v in set(map(str, next(f for f in feats_te if f.name == k).keys))}
    for k in sorted(set(privileged) - set(priv_test)):
        notes.append(f"The privileged group {privileged[k]!r} of {k!r} is absent from the test "
                     "split; the test audits choose their own.")
    unseen = sorted(set(map(str, comb_te.keys)) - set(map(str, comb_tr.keys)))
    context = FitContext(classes=classes, privileged_group=privileged[comb_tr.name],
                         feature=comb_tr.name, random_state=random_state,
                         primary_disparity=primary_disparity)
    shared = getattr(base, "backbone_", None)
    audit_options = dict(pos_label=pos, privileged_groups=priv_test or None,
                         n_bootstrap=n_bootstrap, confidence=confidence, random_state=random_state)

    from tqdm.auto import tqdm

    records: list[MethodResult] = []
    bar = tqdm(list(zip(names, resolved)), desc="fairbridge compare", unit="method",
               disable=not progress)
    for name, (_, method) in bar:
        bar.set_postfix_str(name)
        rec = MethodResult(name=name, status="ok", needs=method.needs,
                           options=jsonable_params(method.get_params(deep=False)))
        records.append(rec)
        reason = _skip_reason(name, method, base, Xtr, n_classes, classes, unseen)
        if reason is not None:
            rec.status, rec.reason = "skipped", reason
            continue
        try:
            s0 = _stats(shared)
            t0 = time.perf_counter()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", FutureWarning)
                method.fit(base, Xtr, codes_tr, sensitive_features=comb_tr.keys, context=context)
            t1 = time.perf_counter()
            pred = np.asarray(method.predict(Xte, sensitive_features=comb_te.keys), dtype=np.int64)
            t2 = time.perf_counter()
            rows, batches = _delta(_stats(shared), s0)
            for bb in _own_backbones(method, shared):
                extra = _stats(bb)
                rows, batches = rows + extra["rows"], batches + extra["batches"]
            rec.cost = {"fit_seconds": t1 - t0, "predict_seconds": t2 - t1,
                        "n_refits": int(method.n_refits_), "n_forward_rows": rows,
                        "n_forward_batches": batches}
            if name == "baseline" or (method.name == "baseline" and name.startswith("baseline")):
                rec.cost["fit_seconds"] += base_cost["fit_seconds"]
                rec.cost["n_refits"] += base_cost["n_refits"]
                rec.cost["n_forward_rows"] += base_cost["rows"]
                rec.cost["n_forward_batches"] += base_cost["batches"]
                base_cost = {"fit_seconds": 0.0, "n_refits": 0, "rows": 0, "batches": 0}
            rec.audit = audit_predictions(y_te, classes[pred], sensitive_features=A_te, **audit_options)
            rec.metrics, rec.intervals = _metric_dicts(rec.audit, comb_te.name)
            rec.mitigation = method
            rec.details = json_safe(dict(getattr(method, "details_", {}) or {}))
        except Exception as exc:  # noqa: BLE001 - one method's failure must not lose the others
            rec.status = "failed"
            rec.reason = f"{type(exc).__name__}: {exc}"
            rec.details = {"traceback": traceback.format_exc(limit=20)}
            rec.audit = rec.mitigation = None
            rec.metrics, rec.intervals = {}, {}
    bar.close()
    _verdicts(records, primary_disparity)
    run_config = {
        "model": _describe_model(estimator),
        "baseline_fitted_by_compare": base is not estimator,
        "n_train": n_tr, "n_test": n_te, "n_classes": n_classes,
        "classes": [str(c) for c in classes], "pos_label": str(pos),
        "sensitive_features": list(A_tr.columns),
        "privileged_groups": privileged,
        "methods": [{"name": r.name, "options": r.options} for r in records],
        "primary_disparity": primary_disparity, "n_bootstrap": int(n_bootstrap),
        "confidence": float(confidence), "random_state": random_state,
    }
    if base_cost["n_refits"]:  # fitted here, but no "baseline" row took the cost
        run_config["baseline_fit"] = {"fit_seconds": base_cost["fit_seconds"],
                                      "n_forward_rows": base_cost["rows"],
                                      "n_forward_batches": base_cost["batches"]}
    run_config.update(config or {})
    return ComparisonResult(methods=records, primary_disparity=primary_disparity, config=run_config,
                            notes=notes, classes=classes, sensitive_columns=list(A_tr.columns),
                            baseline=base)
