"""The counterfactual identity test for text: swap identity terms, see what the model does.

A text that says "she" is scored again with "he" (and "woman" with "man", "Mary" with
"John", ...).  A model that ignores identity terms gives every counterfactual the same score:
a flip rate and a mean change of 0.  The word lists are plain lists of pairs, copied out by
:func:`identity_swaps` for editing, or replaced by the user's own.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from fairbridge._validation import check_sensitive_features, check_text_input, describe, problem

from ._groups import group_labels
from ._model import ModelFunction, ModelInput, check_classifier
from ._result import json_safe, label_safe

__all__ = ["CounterfactualResult", "SWAP_LISTS", "counterfactual_test", "identity_swaps", "swap_terms"]

#: Built-in swap lists: name -> ((group of the left terms, group of the right terms), pairs).
#: "her" maps to "his" (its first pair); "hers" to "his".
SWAP_LISTS: dict[str, tuple[tuple[str, str], tuple[tuple[str, str], ...]]] = {
    "gender": (("male", "female"), (
        ("he", "she"), ("his", "her"), ("him", "her"), ("his", "hers"), ("himself", "herself"),
        ("man", "woman"), ("men", "women"), ("boy", "girl"), ("boys", "girls"),
        ("male", "female"), ("males", "females"), ("gentleman", "lady"), ("gentlemen", "ladies"),
        ("father", "mother"), ("fathers", "mothers"), ("son", "daughter"), ("sons", "daughters"),
        ("brother", "sister"), ("brothers", "sisters"), ("husband", "wife"), ("husbands", "wives"),
        ("boyfriend", "girlfriend"), ("uncle", "aunt"), ("nephew", "niece"), ("king", "queen"),
        ("mr", "mrs"), ("sir", "madam"), ("grandfather", "grandmother"), ("dad", "mom"),
        ("john", "mary"), ("james", "patricia"), ("robert", "jennifer"), ("michael", "linda"),
        ("william", "elizabeth"), ("david", "barbara"), ("richard", "susan"), ("thomas", "sarah"),
    )),
}


class _Swapper:
    """Case-preserving, whole-word, both-ways replacement of identity terms."""

    def __init__(self, pairs: Sequence[tuple[str, str]]) -> None:
        self.pairs = [(a, b) for a, b in pairs]
        mapping: dict[str, str] = {}
        self.side: dict[str, int] = {}
        for a, b in self.pairs:
            la, lb = a.lower(), b.lower()
            mapping.setdefault(la, lb)
            mapping.setdefault(lb, la)
            self.side.setdefault(la, 0)
            self.side.setdefault(lb, 1)
        self.mapping = mapping
        words = sorted(mapping, key=lambda w: (-len(w), w))
        self.pattern = re.compile(r"\b(" + "|".join(re.escape(w) for w in words) + r")\b",
                                  flags=re.IGNORECASE)

    @staticmethod
    def _case(src: str, dst: str) -> str:
        if len(src) > 1 and src.isupper():
            return dst.upper()
        if src[:1].isupper():
            return dst[:1].upper() + dst[1:]
        return dst

    def swap(self, text: str) -> tuple[str, int, set[int]]:
        """``(counterfactual, number of swaps, sides of the terms found)``."""
        sides: set[int] = set()
        count = 0

        def repl(m: re.Match) -> str:
            nonlocal count
            word = m.group(0)
            count += 1
            sides.add(self.side[word.lower()])
            return self._case(word, self.mapping[word.lower()])

        return self.pattern.sub(repl, text), count, sides


def identity_swaps(name: str = "gender") -> list[tuple[str, str]]:
    """A fresh, editable copy of a built-in swap list (pairs of identity terms).

    Examples
    --------
    >>> pairs = identity_swaps("gender")
    >>> pairs.append(("Herr", "Frau"))
    >>> counterfactual_test(clf, texts, swaps=pairs)  # doctest: +SKIP
    """
    if name not in SWAP_LISTS:
        shown = ", ".join(repr(n) for n in sorted(SWAP_LISTS))
        raise ValueError(problem("identity_swaps", "argument 'name'", f"must be one of {shown}",
                                 repr(name), "Pass one of those names, or build your own pairs."))
    return [tuple(p) for p in SWAP_LISTS[name][1]]  # type: ignore[misc]


def _resolve_swaps(swaps: Any, group_names: Any, who: str) -> tuple[list[tuple[str, str]], tuple[str, str]]:
    if isinstance(swaps, str):
        if swaps not in SWAP_LISTS:
            shown = ", ".join(repr(n) for n in sorted(SWAP_LISTS))
            raise ValueError(problem(who, "argument 'swaps'", f"must be one of {shown}, a dict or "
                                     "a list of (term, counterpart) pairs", repr(swaps),
                                     "Pass swaps='gender' or your own pairs."))
        names, pairs = SWAP_LISTS[swaps]
        pairs_l = [tuple(p) for p in pairs]
    else:
        names = ("group_a", "group_b")
        if isinstance(swaps, Mapping):
            items = list(swaps.items())
        elif isinstance(swaps, Sequence) and not isinstance(swaps, (str, bytes)):
            items = list(swaps)
        else:
            raise TypeError(problem(who, "argument 'swaps'", "must be a name, a dict or a list of "
                                    "(term, counterpart) pairs", describe(swaps),
                                    "Pass swaps=[('he', 'she'), ('man', 'woman')]."))
        bad = [p for p in items if not (isinstance(p, (tuple, list)) and len(p) == 2
                                        and all(isinstance(w, str) and w.strip() for w in p))]
        if bad or not items:
            raise ValueError(problem(who, "argument 'swaps'", "must hold (term, counterpart) pairs "
                                     "of non-empty strings", describe(bad[0] if bad else items),
                                     "Pass swaps=[('he', 'she'), ('man', 'woman')]."))
        pairs_l = [(str(a).strip(), str(b).strip()) for a, b in items]
    if group_names is not None:
        if (isinstance(group_names, (str, bytes)) or not isinstance(group_names, Sequence)
                or len(group_names) != 2):
            raise ValueError(problem(who, "argument 'group_names'", "must be two names (left terms, "
                                     "right terms)", describe(group_names),
                                     "Pass group_names=('male', 'female')."))
        names = (str(group_names[0]), str(group_names[1]))
    return pairs_l, names  # type: ignore[return-value]


def swap_terms(texts: Sequence[str] | str, swaps: Any = "gender") -> list[str] | str:
    """Swap identity terms in a text or texts (whole words, both ways, case kept).

    Parameters
    ----------
    texts : str or list of str
    swaps : str, dict or list of pairs, default="gender"
        A built-in list name or the user's pairs.
    """
    pairs, _ = _resolve_swaps(swaps, None, "swap_terms")
    sw = _Swapper(pairs)
    if isinstance(texts, str):
        return sw.swap(texts)[0]
    return [sw.swap(t)[0] for t in check_text_input(texts, who="swap_terms", name="texts")]


class CounterfactualResult:
    """What happened when identity terms were swapped.

    Built by :func:`counterfactual_test`.

    Attributes
    ----------
    table : DataFrame
        One row per group and one ``"all"`` row: ``group``, ``n_texts``, ``n_changed``
        (texts with at least one identity term), ``n_flipped``, ``flip_rate`` (share of
        changed texts whose predicted class flips), ``mean_change`` (mean of the
        counterfactual's score minus the original's), ``mean_abs_change``,
        ``max_abs_change``.  Rates are over changed texts (NaN when none changed).
    pairs : DataFrame
        One row per text: ``row``, ``group``, ``text``, ``counterfactual``, ``n_swaps``,
        ``original_class``, ``counterfactual_class``, ``flipped``, ``score``,
        ``counterfactual_score``, ``change``.
    swaps : list of (str, str)
        The pairs used.
    group_names : tuple of str
        The groups of the left and right terms.
    score_class : label
        The class whose probability is the score (binary: the positive class; multiclass:
        each text's originally predicted class, recorded as ``"predicted"``).
    n_model_calls, n_rows_scored : int
        Calls into ``predict_proba`` and rows passed.
    notes : list of str
    """

    def __init__(self, *, table: pd.DataFrame, pairs: pd.DataFrame, swaps: list[tuple[str, str]],
                 group_names: tuple[str, str], score_class: Any, n_model_calls: int,
                 n_rows_scored: int, notes: list[str]) -> None:
        self.table = table
        self.pairs = pairs
        self.swaps = swaps
        self.group_names = group_names
        self.score_class = score_class
        self.n_model_calls = n_model_calls
        self.n_rows_scored = n_rows_scored
        self.notes = notes

    def _overall(self, column: str) -> float:
        return float(self.table.loc[self.table["group"] == "all", column].iloc[0])

    @property
    def flip_rate(self) -> float:
        """Share of changed texts whose predicted class flips (all groups)."""
        return self._overall("flip_rate")

    @property
    def mean_abs_change(self) -> float:
        """Mean absolute change of the score over changed texts (all groups)."""
        return self._overall("mean_abs_change")

    def examples(self, k: int = 5) -> pd.DataFrame:
        """The ``k`` changed texts whose score moved most."""
        changed = self.pairs[self.pairs["n_swaps"] > 0]
        order = changed["change"].abs().sort_values(ascending=False, kind="mergesort").index
        return changed.loc[order].head(int(k)).reset_index(drop=True)

    def to_dict(self, *, max_examples: int = 10) -> dict[str, Any]:
        """JSON-safe data.

        Returns
        -------
        dict
            ``{"swaps": [[term, counterpart]], "group_names", "score_class",
            "n_model_calls", "n_rows_scored", "overall": {table columns},
            "groups": [{table columns}], "examples": [{"row", "group", "text",
            "counterfactual", "original_class", "counterfactual_class", "flipped", "score",
            "counterfactual_score", "change"}], "notes"}``.
        """
        def rec(r: dict) -> dict:
            return {k: (label_safe(v) if k == "group" else json_safe(v)) for k, v in r.items()}

        rows = [rec(r) for r in self.table.to_dict("records")]
        ex = self.examples(max_examples)
        keep = ["row", "group", "text", "counterfactual", "original_class", "counterfactual_class",
                "flipped", "score", "counterfactual_score", "change"]
        return {
            "swaps": [[a, b] for a, b in self.swaps],
            "group_names": list(self.group_names),
            "score_class": label_safe(self.score_class),
            "n_model_calls": int(self.n_model_calls),
            "n_rows_scored": int(self.n_rows_scored),
            "overall": next(r for r in rows if r["group"] == "all"),
            "groups": [r for r in rows if r["group"] != "all"],
            "examples": [{k: (label_safe(v) if k in ("group", "original_class", "counterfactual_class")
                              else json_safe(v)) for k, v in r.items() if k in keep}
                         for r in ex.to_dict("records")],
            "notes": list(self.notes),
        }

    def __repr__(self) -> str:
        return (f"CounterfactualResult(flip_rate={self.flip_rate:.3g}, "
                f"mean_abs_change={self.mean_abs_change:.3g}, "
                f"changed={int(self.table.loc[self.table['group'] == 'all', 'n_changed'].iloc[0])})")


def _summary(df: pd.DataFrame, group: Any) -> dict[str, Any]:
    changed = df[df["n_swaps"] > 0]
    k = len(changed)
    return {"group": group, "n_texts": int(len(df)), "n_changed": int(k),
            "n_flipped": int(changed["flipped"].sum()),
            "flip_rate": float(changed["flipped"].mean()) if k else np.nan,
            "mean_change": float(changed["change"].mean()) if k else np.nan,
            "mean_abs_change": float(changed["change"].abs().mean()) if k else np.nan,
            "max_abs_change": float(changed["change"].abs().max()) if k else np.nan}


def counterfactual_test(
    estimator: Any,
    texts: Any,
    *,
    swaps: Any = "gender",
    group_names: Sequence[str] | None = None,
    sensitive_features: Any = None,
    score_class: Any = None,
    progress: bool = True,
) -> CounterfactualResult:
    """Swap identity terms in each text and measure how the model's prediction moves.

    Parameters
    ----------
    estimator : classifier
        A fitted text classifier with ``predict_proba`` (e.g. an ``HFTextClassifier``).
    texts : list of str, array, Series or one-column DataFrame
        The texts to test.
    swaps : str, dict or list of (term, counterpart) pairs, default="gender"
        ``"gender"`` (he/she, his/her, man/woman, father/mother, common first names...; see
        :data:`SWAP_LISTS` and :func:`identity_swaps` for an editable copy), or the user's
        pairs.  Terms are swapped both ways, as whole words, keeping their case; a term in
        several pairs maps to its first counterpart.
    group_names : (str, str), optional
        Names of the groups of the left and right terms (``("male", "female")`` for
        ``"gender"``; ``("group_a", "group_b")`` for the user's pairs).
    sensitive_features : array-like, optional
        Group each text by these labels instead of by the terms it contains.
    score_class : class label, optional
        The class whose probability is the score.  Default: the positive class
        (``classes_[1]``) of a binary model, each text's predicted class for a multiclass one.
    progress : bool, default=True
        ``False`` silences the adapter's progress bar.

    Returns
    -------
    CounterfactualResult
        ``.table`` per group (flip rate, mean change of the score), ``.pairs`` per text,
        ``.flip_rate``, ``.mean_abs_change``, ``.to_dict()``.  Without
        ``sensitive_features``, a text's group is that of the identity terms it contains
        (``"mixed"`` if both, ``"none"`` if neither; texts without terms are not changed).
    """
    who = "counterfactual_test"
    if not isinstance(progress, (bool, np.bool_)):
        raise TypeError(problem(who, "argument 'progress'", "must be True or False",
                                describe(progress), "Pass progress=False to silence the bar."))
    classes = check_classifier(estimator, who=who, method="counterfactual_test()")
    from fairbridge.adapters import TorchClassifier

    if isinstance(estimator, TorchClassifier):
        raise ValueError(problem(who, "argument 'estimator'", "must be a text classifier",
                                 "a TorchClassifier (numeric input)",
                                 "Swapping identity terms needs a model of text, e.g. an "
                                 "HFTextClassifier; for tabular data compare groups with "
                                 "explain_by_group."))
    data = check_text_input(texts, who=who, name="texts")
    pairs, names = _resolve_swaps(swaps, group_names, who)
    sw = _Swapper(pairs)
    swapped = [sw.swap(t) for t in data]
    cf = [s[0] for s in swapped]
    n_swaps = np.array([s[1] for s in swapped], dtype=np.int64)
    if sensitive_features is not None:
        frame = check_sensitive_features(sensitive_features, who=who, n_samples=len(data))
        groups = group_labels(frame).tolist()
    else:
        def side(s: set[int]) -> str:
            return "mixed" if len(s) > 1 else names[next(iter(s))] if s else "none"
        groups = [side(s[2]) for s in swapped]
    if score_class is not None:
        hits = [j for j, c in enumerate(classes.tolist()) if c == score_class]
        if not hits:
            raise ValueError(problem(who, "argument 'score_class'", f"must be one of the model's "
                                     f"classes {classes.tolist()}", describe(score_class),
                                     "Pass a class label, or None for the default."))
    model = ModelFunction(estimator, ModelInput("text"), progress=bool(progress))
    changed = np.flatnonzero(n_swaps > 0)
    proba_all = model(list(data) + [cf[i] for i in changed])
    p0 = proba_all[: len(data)]
    p1 = p0.copy()
    p1[changed] = proba_all[len(data):]
    pred0, pred1 = p0.argmax(axis=1), p1.argmax(axis=1)
    if score_class is not None:
        col = np.full(len(data), hits[0])
        recorded: Any = score_class
    elif len(classes) == 2:
        col = np.full(len(data), 1)
        recorded = classes[1]
    else:
        col = pred0
        recorded = "predicted"
    rows = np.arange(len(data))
    s0, s1 = p0[rows, col], p1[rows, col]
    df = pd.DataFrame({
        "row": rows, "group": pd.Series(groups, dtype=object), "text": pd.Series(data, dtype=object),
        "counterfactual": pd.Series(cf, dtype=object), "n_swaps": n_swaps,
        "original_class": pd.Series(classes[pred0], dtype=object),
        "counterfactual_class": pd.Series(classes[pred1], dtype=object),
        "flipped": pred0 != pred1, "score": s0, "counterfactual_score": s1, "change": s1 - s0,
    })
    order = sorted(df["group"].unique(), key=str)
    summary = [_summary(df[df["group"] == g], g) for g in order if not (g == "none" and sensitive_features is None)]
    summary.append(_summary(df, "all"))
    table = pd.DataFrame(summary)
    notes = []
    n_none = int((n_swaps == 0).sum())
    if n_none:
        notes.append(f"{n_none} of {len(data)} texts contain no identity term of the swap list "
                     "and were not changed.")
    if len(changed) == 0:
        notes.append("No text contained an identity term; nothing was tested. Check the swap list.")
    what = (f"the probability of {label_safe(recorded)!r}" if recorded != "predicted"
            else "the probability of each text's originally predicted class")
    notes.append(f"Scores are {what}; a model that ignores the identity terms has a flip rate "
                 "and a mean change of 0.")
    return CounterfactualResult(table=table, pairs=df, swaps=pairs, group_names=names,
                                score_class=recorded, n_model_calls=model.n_calls,
                                n_rows_scored=model.n_rows, notes=notes)
