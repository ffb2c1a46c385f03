"""The one validation module of fairbridge.

Every check of user input lives here, so that every error reads the same way: who complains,
about which argument, what was expected, what was received, and how to fix it.  ``ValueError``
is raised for bad values, ``TypeError`` for bad types and :class:`NotFittedError` (a subclass of
scikit-learn's) for use before ``fit``.  Where several problems are found at once they are
reported together in one message (:class:`Problems`).

Nothing here modifies its input: checks return new containers (or read-only views) and the
caller's ``X``, ``y`` and ``sample_weight`` are left as they were.
"""

from __future__ import annotations

import numbers
import warnings
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from sklearn.exceptions import DataConversionWarning
from sklearn.exceptions import NotFittedError as _SklearnNotFittedError

__all__ = [
    "NotFittedError",
    "Problems",
    "check_array_input",
    "check_consistent_length",
    "check_int",
    "check_labels",
    "check_number",
    "check_one_of",
    "check_sample_weight",
    "check_sensitive_features",
    "check_text_input",
    "describe",
    "problem",
]

# Message templates; tests match them exactly (with ``re.escape``).
MSG_PROBLEM = "{who}: {argument} {what}, but got {received}. {fix}"
MSG_NOT_FITTED = (
    "{who}: this {cls} is not fitted yet, but {method} was called. "
    "Call fit(X, y) first, or use refit='none' to take the model as fine-tuned."
)


class NotFittedError(_SklearnNotFittedError):
    """Raised when a fairbridge estimator or result is used before ``fit``.

    A subclass of :class:`sklearn.exceptions.NotFittedError`, so code that catches
    scikit-learn's error (and scikit-learn's own checks) catch this one too.
    """


def describe(value: Any, *, limit: int = 60) -> str:
    """A short description of ``value`` for error messages: its type and a truncated repr."""
    if isinstance(value, np.ndarray):
        return f"a numpy array of shape {value.shape} and dtype {value.dtype}"
    if isinstance(value, pd.DataFrame):
        cols = list(value.columns)
        shown = cols[:5] + (["..."] if len(cols) > 5 else [])
        return f"a DataFrame of shape {value.shape} with columns {shown}"
    if isinstance(value, pd.Series):
        return f"a Series of length {len(value)} and dtype {value.dtype}"
    text = repr(value)
    if len(text) > limit:
        text = text[: limit - 3] + "..."
    return f"{text} (type {type(value).__name__})"


def problem(who: str, argument: str, what: str, received: str, fix: str) -> str:
    """Format one problem as a sentence: who, which argument, expected, received, fix."""
    return MSG_PROBLEM.format(who=who, argument=argument, what=what, received=received, fix=fix)


class Problems:
    """Collect several problems and raise them as one error.

    Parameters
    ----------
    who : str
        The function or class that complains, e.g. ``"HFTextClassifier.fit"``.

    Examples
    --------
    >>> p = Problems("f")
    >>> p.add("argument 'a'", "must be positive", "-1", "Pass a > 0.")
    >>> p.raise_if_any()
    Traceback (most recent call last):
    ...
    ValueError: f: argument 'a' must be positive, but got -1. Pass a > 0.
    """

    def __init__(self, who: str) -> None:
        self.who = who
        self.messages: list[str] = []
        self.type_error = False

    def add(self, argument: str, what: str, received: str, fix: str, *, type_error: bool = False) -> None:
        """Record one problem; ``type_error=True`` if it is about a type rather than a value."""
        self.messages.append(problem(self.who, argument, what, received, fix))
        self.type_error = self.type_error or type_error

    def raise_if_any(self) -> None:
        """Raise ``TypeError`` (only type problems) or ``ValueError`` with every message."""
        if not self.messages:
            return
        if len(self.messages) == 1:
            text = self.messages[0]
        else:
            text = f"{self.who}: {len(self.messages)} problems:\n" + "\n".join(
                f"  - {m}" for m in self.messages
            )
        raise (TypeError if self.type_error and len(self.messages) == 1 else ValueError)(text)


def check_one_of(who: str, name: str, value: Any, choices: Iterable[Any]) -> Any:
    """Check that ``value`` is one of ``choices``; the error lists them sorted."""
    choices = list(choices)
    if value not in choices:
        shown = ", ".join(repr(c) for c in sorted(choices, key=str))
        raise ValueError(
            problem(who, f"argument {name!r}", f"must be one of {shown}", describe(value),
                    f"Pass one of {shown}.")
        )
    return value


def check_int(who: str, name: str, value: Any, *, minimum: int | None = None,
              maximum: int | None = None, allow: Sequence[Any] = ()) -> Any:
    """Check an integer parameter (``bool`` is refused) within ``[minimum, maximum]``."""
    if value in allow and not isinstance(value, (bool, np.bool_)):
        return value
    extra = f" or one of {list(allow)!r}" if allow else ""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise TypeError(problem(who, f"argument {name!r}", f"must be an integer{extra}",
                                describe(value), f"Pass an int for {name}."))
    if (minimum is not None and value < minimum) or (maximum is not None and value > maximum):
        bounds = _bounds(minimum, maximum)
        raise ValueError(problem(who, f"argument {name!r}", f"must be an integer {bounds}{extra}",
                                 describe(value), f"Pass {name} {bounds}."))
    return int(value)


def check_number(who: str, name: str, value: Any, *, minimum: float | None = None,
                 maximum: float | None = None, strict_minimum: bool = False) -> float:
    """Check a real-valued parameter within bounds (``strict_minimum`` excludes the minimum)."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(problem(who, f"argument {name!r}", "must be a real number",
                                describe(value), f"Pass a float for {name}."))
    value = float(value)
    low_bad = minimum is not None and (value <= minimum if strict_minimum else value < minimum)
    high_bad = maximum is not None and value > maximum
    if np.isnan(value) or low_bad or high_bad:
        bounds = _bounds(minimum, maximum, strict_minimum=strict_minimum)
        raise ValueError(problem(who, f"argument {name!r}", f"must be a number {bounds}",
                                 describe(value), f"Pass {name} {bounds}."))
    return value


def _bounds(minimum: float | None, maximum: float | None, *, strict_minimum: bool = False) -> str:
    low = ">" if strict_minimum else ">="
    if minimum is not None and maximum is not None:
        return f"{low} {minimum} and <= {maximum}"
    if minimum is not None:
        return f"{low} {minimum}"
    if maximum is not None:
        return f"<= {maximum}"
    return "(any value)"


def _n_samples(x: Any) -> int | None:
    if hasattr(x, "shape") and len(getattr(x, "shape", ())) > 0:
        return int(x.shape[0])
    try:
        return len(x)
    except TypeError:
        return None


def check_consistent_length(who: str, **arrays: Any) -> int:
    """Check that every non-``None`` argument has the same number of rows; return it."""
    lengths = {name: _n_samples(a) for name, a in arrays.items() if a is not None}
    distinct = set(lengths.values())
    if len(distinct) > 1:
        shown = ", ".join(f"{name} has {n}" for name, n in lengths.items())
        raise ValueError(problem(who, "arguments " + ", ".join(repr(k) for k in lengths),
                                 "must have the same number of rows", shown,
                                 "Pass one row (or label, weight, group) per sample."))
    return distinct.pop() if distinct else 0


def check_text_input(X: Any, *, who: str, text_column: str | int | None = None,
                     name: str = "X") -> list[str]:
    """Turn any accepted text container into a new ``list[str]``.

    Accepted: a list or tuple of str; a 1-D numpy array of str or object; a 2-D array with one
    column (what Fairlearn and AIF360 validation let through); a pandas Series; a DataFrame
    with one column, or any DataFrame with ``text_column`` naming the column to read.

    Parameters
    ----------
    X : list, tuple, ndarray, Series or DataFrame
        The texts.
    who : str
        Who asks, for error messages.
    text_column : str or int, optional
        The column of a DataFrame (or 2-D array) that holds the text.
    name : str, default="X"
        The argument name used in error messages.

    Returns
    -------
    texts : list of str
        A new list; ``X`` itself is not modified.

    Raises
    ------
    TypeError
        If ``X`` is not a text container or holds non-strings.
    ValueError
        If ``X`` is empty, has several columns and no ``text_column``, or the column is absent.
    """
    if isinstance(X, str):
        raise TypeError(problem(who, f"argument {name!r}", "must be a sequence of texts",
                                "a single str", f"Wrap it in a list: [{name}]."))
    if isinstance(X, pd.DataFrame):
        if text_column is not None:
            if text_column not in X.columns:
                raise ValueError(problem(who, "argument 'text_column'",
                                         f"must name a column of {name}", repr(text_column),
                                         f"Choose one of {list(X.columns)[:10]}."))
            values = X[text_column].tolist()
        elif X.shape[1] == 1:
            values = X.iloc[:, 0].tolist()
        else:
            raise ValueError(problem(who, f"argument {name!r}",
                                     "must have exactly one column of text", describe(X),
                                     "Pass text_column='<name>' to pick the text column."))
    elif isinstance(X, pd.Series):
        values = X.tolist()
    elif isinstance(X, np.ndarray):
        if X.ndim == 1:
            values = X.tolist()
        elif X.ndim == 2 and (X.shape[1] == 1 or text_column is not None):
            col = 0 if text_column is None else text_column
            if not isinstance(col, numbers.Integral) or not -X.shape[1] <= col < X.shape[1]:
                raise ValueError(problem(who, "argument 'text_column'",
                                         f"must be a column index of the {X.shape} array",
                                         repr(text_column), "Pass an int column index."))
            values = X[:, col].tolist()
        else:
            raise ValueError(problem(who, f"argument {name!r}",
                                     "must be 1-D or have exactly one column of text",
                                     describe(X), "Pass a 1-D array, or text_column=<index>."))
    elif isinstance(X, (list, tuple)):
        values = list(X)
    else:
        raise TypeError(problem(who, f"argument {name!r}",
                                "must be a list, tuple, numpy array, Series or DataFrame of str",
                                describe(X), "Convert it to a list of str."))
    if len(values) == 0:
        raise ValueError(problem(who, f"argument {name!r}", "must hold at least one text",
                                 "an empty container", "Pass one or more texts."))
    bad = [(i, v) for i, v in enumerate(values) if not isinstance(v, str)]
    if bad:
        shown = ", ".join(f"row {i}: {describe(v, limit=30)}" for i, v in bad[:3])
        more = f" and {len(bad) - 3} more" if len(bad) > 3 else ""
        raise TypeError(problem(who, f"argument {name!r}", "must hold only str",
                                f"{len(bad)} non-string value(s) ({shown}{more})",
                                "Drop or fill those rows (e.g. X.fillna('')), or convert them "
                                "with str()."))
    return values


def check_array_input(X: Any, *, who: str, allow_nd: bool = True, name: str = "X") -> np.ndarray:
    """Validate numeric input for a tensor model: a finite float32 array of at least 2-D.

    Returns a new C-contiguous ``float32`` array (a copy whenever a conversion happens), so the
    caller's array is never written to.
    """
    from sklearn.utils.validation import check_array

    if isinstance(X, (list, tuple)) and len(X) == 0:
        raise ValueError(problem(who, f"argument {name!r}", "must hold at least one sample",
                                 "an empty container", "Pass one or more rows."))
    try:
        arr = check_array(X, dtype=np.float32, allow_nd=allow_nd, ensure_2d=True,
                          ensure_all_finite=True, ensure_min_samples=1, copy=False)
    except ValueError as exc:
        raise ValueError(problem(who, f"argument {name!r}",
                                 "must be a finite numeric array of shape (n_samples, ...)",
                                 describe(X), f"Clean or encode the input ({exc}).")) from exc
    except TypeError as exc:
        raise TypeError(problem(who, f"argument {name!r}", "must be numeric", describe(X),
                                f"Encode non-numeric columns first ({exc}).")) from exc
    return np.ascontiguousarray(arr)


def check_labels(y: Any, *, who: str, n_samples: int | None = None, name: str = "y") -> np.ndarray:
    """Validate class labels: 1-D, no missing values, matching ``n_samples``.

    Returns a new 1-D numpy array.
    """
    if y is None:
        raise ValueError(problem(who, f"argument {name!r}",
                                 "is required (this estimator requires y to be passed, but the "
                                 "target y is None)", "None", "Pass one label per sample."))
    if isinstance(y, pd.DataFrame):
        if y.shape[1] != 1:
            raise ValueError(problem(who, f"argument {name!r}", "must be 1-D", describe(y),
                                     "Pass one label column."))
        y = y.iloc[:, 0]
    arr = np.array(y.tolist() if isinstance(y, pd.Series) else y, copy=True)
    if arr.ndim == 2 and arr.shape[1] == 1:
        warnings.warn(f"A column-vector {name} was passed when a 1d array was expected "
                      f"({who}); it was flattened. Pass {name}.ravel() to silence this.",
                      DataConversionWarning, stacklevel=3)
        arr = arr[:, 0]
    if arr.ndim != 1:
        raise ValueError(problem(who, f"argument {name!r}", "must be 1-D", describe(arr),
                                 "Pass one label per sample."))
    missing = pd.isna(arr)
    if missing.any():
        rows = np.flatnonzero(missing)
        raise ValueError(problem(who, f"argument {name!r}", "must not contain NaN or None",
                                 f"{rows.size} missing label(s), first at rows {rows[:5].tolist()}",
                                 "Drop or label those rows."))
    if n_samples is not None and arr.shape[0] != n_samples:
        raise ValueError(problem(who, f"arguments 'X' and {name!r}",
                                 "must have the same number of rows",
                                 f"X has {n_samples}, {name} has {arr.shape[0]}",
                                 "Pass one label per sample of X."))
    return arr


def check_sample_weight(sample_weight: Any, *, who: str, n_samples: int) -> np.ndarray:
    """Validate sample weights: ``None`` gives ones; else finite, non-negative, not all zero.

    Returns a new float64 array.
    """
    if sample_weight is None:
        return np.ones(n_samples, dtype=np.float64)
    if isinstance(sample_weight, numbers.Real) and not isinstance(sample_weight, bool):
        return np.full(n_samples, float(sample_weight))
    try:
        w = np.array(sample_weight, dtype=np.float64, copy=True).reshape(-1)
    except (TypeError, ValueError) as exc:
        raise TypeError(problem(who, "argument 'sample_weight'", "must be numeric",
                                describe(sample_weight), "Pass one float per sample.")) from exc
    if w.shape[0] != n_samples:
        raise ValueError(problem(who, "arguments 'X' and 'sample_weight'",
                                 "must have the same number of rows",
                                 f"X has {n_samples}, sample_weight has {w.shape[0]}",
                                 "Pass one weight per sample of X."))
    if not np.all(np.isfinite(w)) or (w < 0).any():
        raise ValueError(problem(who, "argument 'sample_weight'",
                                 "must be finite and non-negative",
                                 f"min {np.nanmin(w)!r}, {int((~np.isfinite(w)).sum())} non-finite",
                                 "Clip or drop the bad weights."))
    if w.sum() <= 0:
        raise ValueError(problem(who, "argument 'sample_weight'", "must not be all zero",
                                 "weights that sum to 0", "Give some samples a positive weight."))
    return w


def check_sensitive_features(sensitive_features: Any, *, who: str, n_samples: int | None = None,
                             name: str = "sensitive_features", min_groups: int = 2) -> pd.DataFrame:
    """Validate sensitive features and return them as a new DataFrame of string-typed columns.

    Accepted: a list, 1-D array or Series (one sensitive feature), a 2-D array, a DataFrame or
    a dict of name -> 1-D values (several features). Missing groups and features with fewer than
    ``min_groups`` groups are errors.

    Returns
    -------
    DataFrame
        One column per sensitive feature, a fresh ``RangeIndex``, values as in the input.
    """
    if sensitive_features is None:
        raise ValueError(problem(who, f"argument {name!r}", "is required", "None",
                                 "Pass one group label per sample (e.g. df['sex'])."))
    if isinstance(sensitive_features, pd.DataFrame):
        frame = sensitive_features.reset_index(drop=True).copy()
    elif isinstance(sensitive_features, pd.Series):
        frame = sensitive_features.reset_index(drop=True).to_frame(
            name=sensitive_features.name if sensitive_features.name is not None else "sensitive_feature")
    elif isinstance(sensitive_features, Mapping):
        frame = pd.DataFrame({k: list(v) for k, v in sensitive_features.items()})
    else:
        arr = np.asarray(sensitive_features, dtype=object)
        if arr.ndim == 1:
            frame = pd.DataFrame({"sensitive_feature": arr})
        elif arr.ndim == 2:
            frame = pd.DataFrame(arr, columns=[f"sensitive_feature_{i}" for i in range(arr.shape[1])])
        else:
            raise ValueError(problem(who, f"argument {name!r}", "must be 1-D or 2-D",
                                     describe(arr), "Pass one column per sensitive feature."))
    frame.columns = [str(c) for c in frame.columns]
    if n_samples is not None and len(frame) != n_samples:
        raise ValueError(problem(who, f"arguments 'X' and {name!r}",
                                 "must have the same number of rows",
                                 f"X has {n_samples}, {name} has {len(frame)}",
                                 "Pass one group label per sample of X."))
    problems = Problems(who)
    for col in frame.columns:
        missing = frame[col].isna().to_numpy()
        if missing.any():
            rows = np.flatnonzero(missing)
            problems.add(f"column {col!r} of {name!r}", "must not contain NaN or None",
                         f"{rows.size} missing group(s), first at rows {rows[:5].tolist()}",
                         "Fill them with an explicit group such as 'unknown', or drop those rows.")
            continue
        n_groups = frame[col].nunique()
        if n_groups < min_groups:
            problems.add(f"column {col!r} of {name!r}", f"must have at least {min_groups} groups",
                         f"{n_groups} group ({frame[col].iloc[0]!r})",
                         "Check that the right column was passed; disparities need two groups.")
    problems.raise_if_any()
    return frame
