"""``explain``: one entry point for LIME, SHAP, InterpretML and an EBM surrogate."""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from fairbridge._validation import check_array_input, check_int, describe, problem

from ._base import Attribution, ExplainContext, Explainer, explainers_for, resolve_explainer, seeded_numpy
from ._model import ModelFunction, ModelInput, check_classifier, resolve_input
from ._result import Explanation, label_safe

__all__ = ["MethodName", "explain", "run_explain"]

MethodName = Literal["shap", "lime", "interpret.lime", "interpret.shap", "interpret.morris",
                     "interpret.pdp", "ebm_surrogate"]

#: Rows of ``X`` sampled as the background of tabular explainers when none is given.
DEFAULT_MAX_BACKGROUND = 100


def _check_common(who: str, num_samples: Any, random_state: Any, progress: Any) -> None:
    if num_samples is not None:
        check_int(who, "num_samples", num_samples, minimum=1)
    if random_state is not None:
        check_int(who, "random_state", random_state, minimum=0, maximum=2**32 - 1)
    if not isinstance(progress, (bool, np.bool_)):
        raise TypeError(problem(who, "argument 'progress'", "must be True or False",
                                describe(progress), "Pass progress=False to silence the bar."))


def _targets(target: Any, classes: np.ndarray, proba: np.ndarray, who: str) -> np.ndarray:
    if isinstance(target, str) and target == "predicted":
        return np.argmax(proba, axis=1)
    is_bool = isinstance(target, (bool, np.bool_))
    hits = [j for j, c in enumerate(classes.tolist()) if isinstance(c, bool) == is_bool and c == target]
    if not hits:
        raise ValueError(problem(
            who, "argument 'target'", f"must be 'predicted' or one of the model's classes "
            f"{classes.tolist()}", describe(target),
            "Pass target='predicted' (each row's predicted class) or a class label."))
    return np.full(proba.shape[0], hits[0], dtype=np.int64)


def _background(background: Any, data: ModelInput, random_state: int | None, max_rows: int,
                who: str) -> np.ndarray | None:
    if data.input_type == "text":
        if background is not None:
            raise ValueError(problem(who, "argument 'background'", "applies to tabular input only",
                                     describe(background),
                                     "Drop it: text explainers mask tokens instead."))
        return None
    assert data.X is not None
    if background is None:
        bg = data.X
    else:
        arr = check_array_input(background, who=who, name="background").astype(np.float64)
        bg = arr.reshape(arr.shape[0], -1)
        if bg.shape[1] != data.X.shape[1]:
            raise ValueError(problem(who, "arguments 'X' and 'background'",
                                     "must have the same number of features",
                                     f"X has {data.X.shape[1]}, background has {bg.shape[1]}",
                                     "Pass background rows shaped like X (e.g. X_train)."))
    if bg.shape[0] > max_rows:
        rng = np.random.RandomState(random_state)
        bg = bg[np.sort(rng.choice(bg.shape[0], max_rows, replace=False))]
    return np.ascontiguousarray(bg)


def _autocast_dtype(estimator: Any) -> str | None:
    """The reduced-precision autocast an adapter scores with (bf16/fp16 on CUDA), if any."""
    backbone = getattr(estimator, "backbone_", None)
    precision = getattr(estimator, "precision", None)
    if backbone is None or precision is None or not hasattr(backbone, "device"):
        return None
    from fairbridge.adapters._engine import resolve_precision

    try:
        amp = resolve_precision(precision, backbone.device, who="explain")
    except (TypeError, ValueError):
        return None
    return None if amp is None else str(amp).replace("torch.", "")


def _aggregate(attributions: pd.DataFrame) -> pd.DataFrame:
    """Mean absolute attribution per token or feature, with counts, most important first."""
    if attributions.empty:
        return pd.DataFrame({"feature": pd.Series(dtype=object), "importance": pd.Series(dtype=float),
                             "count": pd.Series(dtype=np.int64)})
    g = attributions.assign(abs_value=attributions["value"].abs()).groupby("feature", sort=False)
    table = pd.DataFrame({"importance": g["abs_value"].mean(), "count": g["value"].size()})
    table = table.reset_index().sort_values(["importance", "feature"], ascending=[False, True],
                                            kind="mergesort")
    return table.reset_index(drop=True)


def _check_support(explainer: Explainer, data: ModelInput, n_classes: int, classes: np.ndarray,
                   who: str, *, need_local: bool = False) -> None:
    name = explainer.name
    if data.input_type not in explainer.input_types:
        others = ", ".join(repr(n) for n in explainers_for(data.input_type, local=need_local))
        hint = (" InterpretML's black-box explainers perturb numeric columns and cannot take raw "
                "text." if data.input_type == "text" and name.startswith("interpret.") else "")
        raise ValueError(problem(
            who, "argument 'method'", f"must support {data.input_type} input",
            f"{name!r}, which explains {' and '.join(explainer.input_types)} input only",
            f"Use one of {others} for {data.input_type} input.{hint}"))
    if need_local and not explainer.gives_local():
        others = ", ".join(repr(n) for n in explainers_for(data.input_type, local=True))
        raise ValueError(problem(
            who, "argument 'method'", "must give per-row attributions to break them down by group",
            f"{name!r}, which explains the model globally only",
            f"Use one of {others}, or call explain() on each group's rows."))
    if n_classes > 2 and not explainer.supports_multiclass:
        others = ", ".join(repr(n) for n in explainers_for(data.input_type, local=need_local, multiclass=True))
        raise ValueError(problem(
            who, "argument 'method'", "must support multiclass models",
            f"{name!r}, which explains binary models only (the toolkit does not support "
            f"multiclass), and this model has {n_classes} classes {classes.tolist()}",
            f"Use one of {others}, which explain one class at a time."))


def explain(
    estimator: Any,
    X: Any,
    *,
    method: MethodName | str | type[Explainer] | Explainer = "shap",
    num_samples: int | None = None,
    random_state: int | None = 0,
    target: Any = "predicted",
    background: Any = None,
    tokenizer: Any = None,
    feature_names: Any = None,
    max_background: int = DEFAULT_MAX_BACKGROUND,
    progress: bool = True,
    **options: Any,
) -> Explanation:
    """Explain a fitted classifier's predictions on ``X`` with LIME, SHAP or InterpretML.

    Every model evaluation of the toolkit goes through the estimator's ``predict_proba``;
    for a fairbridge adapter that is the shared inference engine, so perturbations are
    batched, de-duplicated and cached, and memory stays bounded.

    Parameters
    ----------
    estimator : classifier
        A fitted classifier with ``predict_proba`` and ``classes_``: a
        :class:`~fairbridge.adapters.HFTextClassifier` (text),
        :class:`~fairbridge.adapters.TorchClassifier` (tabular), or any scikit-learn
        classifier (text if ``X`` holds strings).
    X : list of str, array-like or DataFrame
        The rows to explain.
    method : str, Explainer subclass or instance, default="shap"
        ``"lime"`` (``lime.lime_text`` / ``lime.lime_tabular``), ``"shap"`` (Partition with
        ``shap.maskers.Text`` for text, Permutation or Kernel for tabular),
        ``"interpret.lime"``, ``"interpret.shap"``, ``"interpret.morris"``,
        ``"interpret.pdp"`` (InterpretML's black-box explainers; tabular, binary),
        ``"ebm_surrogate"`` (an ExplainableBoostingClassifier fitted to the model's own
        predictions; text through a bag-of-words view), or a class or instance of
        :class:`Explainer`.
    num_samples : int, optional
        Model evaluations per row: LIME's neighbourhood size (default 5000), SHAP's
        ``max_evals`` (Partition: 500; Permutation: 10 permutations) or Kernel ``nsamples``;
        for Morris the number of trajectories (default 1000), for PDP the rows averaged
        over (default all).  Must be at least 1.
    random_state : int, optional, default=0
        Seed of the toolkit's sampling; the same seed gives the same attributions.
        ``None``: not seeded.
    target : "predicted" or class label, default="predicted"
        The class the attributions point towards: each row's predicted class, or one class
        for every row.
    background : array-like, optional
        Tabular reference rows (e.g. ``X_train``); defaults to ``X``.  At most
        ``max_background`` rows are kept (a seeded sample).
    tokenizer : tokenizer, optional
        For SHAP on text: the Hugging Face tokenizer whose tokens are masked; defaults to the
        adapter's (``clf.backbone_.tokenizer``), else words.
    feature_names : list of str, optional
        Tabular column names (defaults: DataFrame columns, ``feature_names_in_``, ``x0``...).
    max_background : int, default=100
        Rows of background kept for tabular explainers.
    progress : bool, default=True
        A progress bar over the rows; ``False`` also silences the adapter's bars.
    **options
        Method-specific options, e.g. LIME's ``num_features``, ``kernel_width``, ``bow``;
        SHAP's ``algorithm`` (``"permutation"``/``"kernel"`` for tabular), ``batch_size``;
        the surrogate's ``max_vocabulary``, ``ebm_params``.  Unknown options are an error
        that lists the accepted ones.

    Returns
    -------
    Explanation
        Per-row attributions (``.local(i)``, ``.attributions``), ``.global_importance``,
        the settings, ``.n_model_calls`` and ``.n_rows_scored``; ``.to_dict()`` for JSON.

    Raises
    ------
    NotFittedError
        If the estimator is not fitted.
    ValueError
        If the method does not support the input type or a multiclass model, or
        ``num_samples`` is below 1.

    Examples
    --------
    >>> ex = explain(clf, X_test[:20], method="lime", num_samples=1000)  # doctest: +SKIP
    >>> ex.local(3)  # doctest: +SKIP
    >>> ex.global_importance.head()  # doctest: +SKIP
    """
    return run_explain(estimator, X, method=method, num_samples=num_samples,
                       random_state=random_state, target=target, background=background,
                       tokenizer=tokenizer, feature_names=feature_names,
                       max_background=max_background, progress=progress, options=options,
                       who="explain")


def run_explain(estimator: Any, X: Any, *, method: Any, num_samples: int | None,
                random_state: int | None, target: Any, background: Any, tokenizer: Any,
                feature_names: Any, max_background: int, progress: bool, options: dict[str, Any],
                who: str, need_local: bool = False) -> Explanation:
    """:func:`explain` with the caller's name for error messages."""
    _check_common(who, num_samples, random_state, progress)
    check_int(who, "max_background", max_background, minimum=1)
    explainer = resolve_explainer(method, options, who=who)
    classes = check_classifier(estimator, who=who)
    data = resolve_input(estimator, X, who=who, feature_names=feature_names)
    _check_support(explainer, data, len(classes), classes, who, need_local=need_local)
    bg = _background(background, data, random_state, int(max_background), who)
    if tokenizer is None and data.input_type == "text":
        tokenizer = getattr(getattr(estimator, "backbone_", None), "tokenizer", None)
    model = ModelFunction(estimator, data, progress=bool(progress))
    proba = model(data.texts if data.input_type == "text" else data.X)
    if proba.ndim != 2 or proba.shape != (data.n_rows, len(classes)):
        raise ValueError(problem(who, "argument 'estimator'",
                                 f"must return probabilities of shape (n_rows, {len(classes)})",
                                 f"predict_proba output of shape {proba.shape}",
                                 "Check the estimator's predict_proba."))
    targets = _targets(target, classes, proba, who)
    ctx = ExplainContext(model=model, input_type=data.input_type, texts=data.texts, X=data.X,
                         feature_names=data.feature_names, background=bg, classes=classes,
                         proba=proba, num_samples=None if num_samples is None else int(num_samples),
                         random_state=random_state, tokenizer=tokenizer, progress=bool(progress))
    explainer.check(ctx, who)
    uses_bg = bg is not None and getattr(explainer, "uses_background", False)
    if uses_bg and background is None and bg.shape[0] < 20:  # type: ignore[union-attr]
        ctx.note(f"The background is the {bg.shape[0]} rows explained; pass background=X_train "
                 "for steadier tabular explanations.")
    amp = _autocast_dtype(estimator)
    if amp is not None:
        ctx.note(f"The model scored with {amp} autocast on the GPU: probabilities carry rounding "
                 "noise of about 1e-3, so smaller attributions are noise. Set precision='fp32' "
                 "on the adapter for exact attributions.")
    n = data.n_rows
    records: list[tuple[int, str, float, int | None, int]] = []
    with seeded_numpy(random_state):
        explainer.prepare(ctx)
        if explainer.gives_local():
            bar = tqdm(total=n, desc=f"explaining ({explainer.name})", unit="row",
                       disable=not progress, leave=False, dynamic_ncols=True)
            try:
                for row in range(n):
                    atts = explainer.explain_local(ctx, row, int(targets[row]))
                    for a in atts:
                        if not isinstance(a, Attribution):
                            raise TypeError(f"{type(explainer).__name__}.explain_local must return "
                                            f"Attribution objects, but returned {describe(a)}.")
                        records.append((row, a.feature, float(a.value), a.position, int(targets[row])))
                    bar.update(1)
            finally:
                bar.close()
        table = explainer.explain_global(ctx)
    attributions = pd.DataFrame({
        "row": pd.Series([r[0] for r in records], dtype=np.int64),
        "feature": pd.Series([r[1] for r in records], dtype=object),
        "value": pd.Series([r[2] for r in records], dtype=np.float64),
        "position": pd.Series([r[3] for r in records], dtype="Int64"),
        "class": pd.Series([classes[r[4]] for r in records], dtype=object),
    })
    aggregated = table is None
    if table is None:
        table = _aggregate(attributions)
    else:
        table = table.sort_values(["importance", "feature"], ascending=[False, True],
                                  kind="mergesort").reset_index(drop=True)
    pred_idx = np.argmax(proba, axis=1)
    predictions = pd.DataFrame({"row": np.arange(n, dtype=np.int64)})
    if data.input_type == "text":
        predictions["text"] = pd.Series(data.texts, dtype=object)
    predictions["predicted_class"] = pd.Series(classes[pred_idx], dtype=object)
    predictions["predicted_proba"] = proba[np.arange(n), pred_idx]
    predictions["explained_class"] = pd.Series(classes[targets], dtype=object)
    settings = {"num_samples": num_samples, "random_state": random_state,
                "target": label_safe(target), **explainer.settings(ctx)}
    if uses_bg:
        settings["background_rows"] = int(bg.shape[0])  # type: ignore[union-attr]
    if aggregated and not attributions.empty and data.input_type == "text":
        ctx.note("Text attributions are per token; the global table averages |value| over "
                 "every occurrence of a token in the rows explained.")
    if explainer.gives_local():
        if isinstance(target, str) and target == "predicted":
            ctx.note("Attributions point towards each row's predicted class.")
        else:
            ctx.note(f"Attributions point towards the class {label_safe(classes[targets[0]])!r}.")
    return Explanation(method=explainer.name, settings=settings, input_type=data.input_type,
                       classes=[label_safe(c) for c in classes], predictions=predictions, attributions=attributions,
                       global_importance=table, n_model_calls=model.n_calls,
                       n_rows_scored=model.n_rows, notes=ctx.notes,
                       engine_stats=model.engine_stats(), fidelity=ctx.fidelity,
                       details=ctx.details, has_local=explainer.gives_local())
