"""A glass-box surrogate: an ``ExplainableBoostingClassifier`` fitted to the model's own
predictions, reporting how faithful it is."""

from __future__ import annotations

import re
import warnings
from typing import Any

import numpy as np
import pandas as pd

from fairbridge._optional import import_optional
from fairbridge._validation import problem

from ._base import Attribution, ExplainContext, Explainer, register_explainer
from ._result import label_safe

__all__ = ["EBM_DEFAULTS", "EBMSurrogate", "LOW_FIDELITY", "MIN_ROWS"]

#: Below this agreement with the model, the surrogate's explanation carries a warning.
LOW_FIDELITY = 0.8

#: Rows needed before a part of them is held out to measure fidelity honestly.
MIN_ROWS_FOR_HOLDOUT = 40

#: Rows a surrogate needs at all (with fewer, boosting never stops early and learns nothing).
MIN_ROWS = 20

#: fairbridge's EBM defaults (fast, no worker processes); ``ebm_params`` overrides them.
EBM_DEFAULTS = {"interactions": 0, "outer_bags": 8, "max_rounds": 2000, "n_jobs": 1}


@register_explainer("ebm_surrogate")
class EBMSurrogate(Explainer):
    """Explain the model by an Explainable Boosting Machine that imitates it.

    The model scores ``X`` once; an ``interpret.glassbox.ExplainableBoostingClassifier`` is
    fitted to its predicted classes (on a bag-of-words view for text: a ``CountVectorizer``
    with a capped vocabulary, word presence as features).  Its global term importances are
    the global table, its local term contributions (log-odds) the per-row attributions (for
    text: the words present in the row).  Fidelity, the share of rows on which the surrogate
    predicts what the model predicts, is measured on held-out rows when ``X`` has at least 40
    rows (a quarter is held out), else in-sample (optimistic), and reported in ``fidelity``,
    the notes and, below 80 %, a warning.

    Options
    -------
    max_vocabulary : int, default=200
        Text: the most frequent words kept as features.
    holdout : float, default=0.25
        Share of rows held out to measure fidelity (0 to fit on every row).
    ebm_params : dict, optional
        Parameters of the EBM (defaults: ``interactions=0, outer_bags=8, max_rounds=2000,
        n_jobs=1``).  At least 20 rows are needed.

    Attributes
    ----------
    ebm_ : ExplainableBoostingClassifier
        The surrogate, fitted by :meth:`prepare`.
    ebm_classes_ : list
        Its classes (the model's classes that it predicted on ``X``).
    vectorizer_ : CountVectorizer
        Text only: the bag-of-words view.
    view_ : ndarray of shape (n_rows, n_features)
        What the surrogate sees (word presence for text, the columns for tabular).
    names_ : list of str
        Its feature names (words for text).
    local_ : list of dict
        The EBM's local explanation of each row (``explain_local(view_).data(i)``).
    """

    input_types = ("text", "tabular")
    available_explanations = ("local", "global")
    supports_multiclass = True
    default_options = {"max_vocabulary": 200, "holdout": 0.25, "ebm_params": None}

    def check(self, ctx: ExplainContext, who: str) -> None:
        o = self.options
        mv = o["max_vocabulary"]
        if isinstance(mv, bool) or not isinstance(mv, (int, np.integer)) or mv < 1:
            raise ValueError(problem(who, "option 'max_vocabulary'", "must be an int >= 1", repr(mv),
                                     "Pass max_vocabulary=200, for example."))
        h = o["holdout"]
        if isinstance(h, bool) or not isinstance(h, (int, float)) or not 0 <= h < 1:
            raise ValueError(problem(who, "option 'holdout'", "must be a number in [0, 1)", repr(h),
                                     "Pass holdout=0.25, or 0 to fit on every row."))
        if o["ebm_params"] is not None and not isinstance(o["ebm_params"], dict):
            raise TypeError(problem(who, "option 'ebm_params'", "must be None or a dict",
                                    repr(o["ebm_params"]), "Pass ebm_params={'outer_bags': 8}."))
        if ctx.n_rows < MIN_ROWS:
            raise ValueError(problem(
                who, "argument 'X'", f"must have at least {MIN_ROWS} rows for 'ebm_surrogate' "
                "(the surrogate learns the model's behaviour from them)", f"{ctx.n_rows} rows",
                "Pass more rows (e.g. the test set), or use method='lime' or 'shap' for a few rows."))
        if np.unique(ctx.predicted).size < 2:
            raise ValueError(problem(
                who, "argument 'X'", "must contain rows the model assigns to at least two classes, "
                "for a surrogate to learn from", f"{ctx.n_rows} rows all predicted "
                f"{label_safe(ctx.classes[ctx.predicted[0]])!r}", "Explain more, or more varied, rows."))

    # -- the view the surrogate sees --------------------------------------------------------------
    def _view(self, ctx: ExplainContext) -> tuple[np.ndarray, list[str]]:
        if ctx.input_type == "tabular":
            assert ctx.X is not None
            return ctx.X, list(ctx.feature_names)
        from sklearn.feature_extraction.text import CountVectorizer

        vec = CountVectorizer(max_features=int(self.options["max_vocabulary"]), binary=True)
        try:
            view = vec.fit_transform(ctx.texts).toarray().astype(np.float64)
        except ValueError as exc:  # empty vocabulary
            raise ValueError(problem("explain", "argument 'X'", "must contain words for a "
                                     "bag-of-words surrogate", "texts without any word",
                                     "Explain texts with words, or use method='shap'.")) from exc
        self.vectorizer_ = vec
        return view, [str(w) for w in vec.get_feature_names_out()]

    def prepare(self, ctx: ExplainContext) -> None:
        glassbox = import_optional("interpret.glassbox", purpose="the 'ebm_surrogate' explainer")
        view, names = self._view(ctx)
        self.view_, self.names_ = view, names
        y = ctx.classes[ctx.predicted]
        n = view.shape[0]
        rng = np.random.RandomState(ctx.random_state)
        fit_idx = np.arange(n)
        hold_idx = np.empty(0, dtype=np.int64)
        h = float(self.options["holdout"])
        if h > 0 and n >= MIN_ROWS_FOR_HOLDOUT:
            perm = rng.permutation(n)
            n_hold = max(1, int(round(h * n)))
            hold_idx, fit_idx = np.sort(perm[:n_hold]), np.sort(perm[n_hold:])
            if np.unique(ctx.predicted[fit_idx]).size < 2:  # keep both classes in the fit
                fit_idx, hold_idx = np.arange(n), np.empty(0, dtype=np.int64)
        params = {**EBM_DEFAULTS, "random_state": ctx.random_state, **(self.options["ebm_params"] or {})}
        ebm = glassbox.ExplainableBoostingClassifier(feature_names=names, **params)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            ebm.fit(view[fit_idx], y[fit_idx])
        self.ebm_ = ebm
        self.ebm_classes_ = list(ebm.classes_)
        agree_fit = float(np.mean(ebm.predict(view[fit_idx]) == y[fit_idx]))
        agree_hold = float(np.mean(ebm.predict(view[hold_idx]) == y[hold_idx])) if hold_idx.size else None
        majority = float(pd.Series(y).value_counts(normalize=True).iloc[0])
        agreement = agree_hold if agree_hold is not None else agree_fit
        ctx.fidelity = {
            "agreement": agreement,
            "measured_on": "holdout" if agree_hold is not None else "training rows",
            "holdout_agreement": agree_hold, "n_holdout": int(hold_idx.size),
            "in_sample_agreement": agree_fit, "n_fit": int(fit_idx.size),
            "majority_class_agreement": majority,
        }
        where = (f"{agree_hold:.1%} of {hold_idx.size} held-out rows (and {agree_fit:.1%} of the "
                 f"{fit_idx.size} rows it was fitted on)" if agree_hold is not None else
                 f"{agree_fit:.1%} of the {fit_idx.size} rows it was fitted on (in-sample, so "
                 f"optimistic: {MIN_ROWS_FOR_HOLDOUT}+ rows allow a held-out measure)")
        ctx.note(f"Fidelity: the EBM surrogate predicts the model's class on {where}; always "
                 f"predicting the most common class would agree on {majority:.1%}. Its "
                 "explanation describes the model only as far as it agrees with it.")
        if agreement < LOW_FIDELITY:
            msg = (f"explain: the EBM surrogate agrees with the model on only {agreement:.1%} of "
                   "rows, so its explanation may not reflect the model. Explain more rows, raise "
                   "max_vocabulary (text), or use method='lime' or 'shap'.")
            ctx.note(msg)
            warnings.warn(msg, UserWarning, stacklevel=4)
        if ctx.input_type == "text":
            ctx.note(f"The surrogate sees word presence over a vocabulary of {len(names)} words; "
                     "per-row attributions list the words present in the row (absent words also "
                     "shift its score). Values are log-odds contributions.")
        else:
            ctx.note("Surrogate attributions are the EBM's log-odds contributions per feature.")
        local = ebm.explain_local(view)
        self.local_ = [local.data(i) for i in range(n)]

    def _class_column(self, target_label: Any) -> tuple[int | None, float]:
        """(column of the EBM's per-class scores, sign) for the explained class."""
        if len(self.ebm_classes_) == 2:
            return None, (1.0 if target_label == self.ebm_classes_[1] else -1.0)
        if target_label in self.ebm_classes_:
            return self.ebm_classes_.index(target_label), 1.0
        return -1, 0.0  # a class the model never predicted on X: no surrogate score for it

    def explain_local(self, ctx: ExplainContext, row: int, target: int) -> list[Attribution]:
        data = self.local_[row]
        col, sign = self._class_column(ctx.classes[target])
        if col == -1:
            ctx.note("Rows explained towards a class the model never predicted on X have no "
                     "surrogate attributions.")
            return []
        scores = np.asarray(data["scores"], dtype=np.float64)
        if col is not None:
            scores = scores[:, col]
        out: list[Attribution] = []
        if ctx.input_type == "text":
            assert ctx.texts is not None
            text = ctx.texts[row]
            present = self.view_[row] > 0
            for j, (name, v) in enumerate(zip(self.names_, scores * sign)):
                if present[j]:
                    m = re.search(r"\b" + re.escape(name) + r"\b", text, flags=re.IGNORECASE)
                    out.append(Attribution(name, float(v), m.start() if m else None))
        else:
            out = [Attribution(name, float(v), j) for j, (name, v) in enumerate(zip(self.names_, scores * sign))]
        return sorted(out, key=lambda a: (a.position is None, a.position if a.position is not None else 0))

    def explain_global(self, ctx: ExplainContext) -> pd.DataFrame:
        data = self.ebm_.explain_global().data()
        names = [str(f) for f in data["names"]]
        if ctx.input_type == "text":
            counts = dict(zip(self.names_, (self.view_ > 0).sum(axis=0).astype(np.int64)))
        else:
            counts = {f: self.view_.shape[0] for f in self.names_}
        return pd.DataFrame({"feature": names,
                             "importance": np.asarray(data["scores"], dtype=np.float64),
                             "count": np.asarray([counts.get(f, 0) for f in names], dtype=np.int64)})

    def settings(self, ctx: ExplainContext) -> dict[str, Any]:
        s = {"holdout": self.options["holdout"],
             "ebm_params": {**EBM_DEFAULTS, **(self.options["ebm_params"] or {})},
             "toolkit": "interpret.glassbox.ExplainableBoostingClassifier"}
        if ctx.input_type == "text":
            s["max_vocabulary"] = self.options["max_vocabulary"]
            s["vocabulary_size"] = len(getattr(self, "names_", []))
            s["view"] = "CountVectorizer(binary=True)"
        return s
