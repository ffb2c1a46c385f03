"""The explainer contract and the registry of explainers keyed by name.

An explainer is a small object in the spirit of InterpretML's ``explain_local`` /
``explain_global`` (``interpret/api/base.py``): :meth:`Explainer.prepare` builds the toolkit's
own explainer once per call of :func:`~fairbridge.explainers.explain`,
:meth:`Explainer.explain_local` explains one row, :meth:`Explainer.explain_global` gives a
table of global importance.  Every model evaluation goes through :class:`ExplainContext.model`,
the counting wrapper around the estimator's ``predict_proba`` (batched, de-duplicated and cached
by the adapters), so the toolkits never hold the network themselves.

Register a new explainer with :func:`register_explainer`, or pass its class (or an instance)
as ``method=`` to :func:`~fairbridge.explainers.explain`.
"""

from __future__ import annotations

import contextlib
import dataclasses
from abc import ABC
from collections.abc import Callable, Iterator
from typing import Any, ClassVar, Literal

import numpy as np
import pandas as pd

from fairbridge._validation import describe, problem

from ._model import InputType, ModelFunction

__all__ = [
    "Attribution",
    "ExplainContext",
    "Explainer",
    "available_explainers",
    "register_explainer",
    "resolve_explainer",
    "seeded_numpy",
]

ExplanationKind = Literal["local", "global"]


@dataclasses.dataclass(frozen=True)
class Attribution:
    """One token's or feature's contribution to one row's score.

    Attributes
    ----------
    feature : str
        The token (text) or feature name (tabular).
    value : float
        Its contribution towards the explained class (positive: for the class).
    position : int or None
        Text: character offset of the token in the row's text (its first occurrence for a
        bag-of-words method).  Tabular: column index.  ``None`` if unknown.
    """

    feature: str
    value: float
    position: int | None = None


@dataclasses.dataclass
class ExplainContext:
    """Everything an explainer needs, prepared once by :func:`~fairbridge.explainers.explain`.

    Attributes
    ----------
    model : ModelFunction
        ``model(inputs) -> probabilities (n, n_classes)``; counts calls and rows.  Texts are
        passed as a list of str, tabular rows as a 2-D float array.
    input_type : {"text", "tabular"}
        The kind of input.
    texts : list of str or None
        The rows to explain (text input).
    X : ndarray of shape (n_rows, n_features) or None
        The rows to explain (tabular input; flattened to 2-D).
    feature_names : list of str
        Column names (tabular input), else empty.
    background : ndarray or None
        Reference rows for tabular explainers (``background=`` or a sample of ``X``).
    classes : ndarray
        The estimator's ``classes_``.
    proba : ndarray of shape (n_rows, n_classes)
        The model's probabilities for the explained rows.
    num_samples : int or None
        Model evaluations per row (or the sampling budget of a global method); ``None`` for
        the toolkit's default.
    random_state : int or None
        Seed for the toolkit.
    tokenizer : object or None
        A Hugging Face tokenizer for token-level text maskers.
    progress : bool
        Whether progress bars are shown.
    notes : list of str
        Explainers append what the user should know (approximations, low fidelity).
    details : dict
        Extra JSON-safe results of a method (e.g. Morris' ``mu``/``sigma``, PDP curves).
    fidelity : dict or None
        How faithful a surrogate is to the model (set by surrogate explainers).
    """

    model: ModelFunction
    input_type: InputType
    texts: list[str] | None
    X: np.ndarray | None
    feature_names: list[str]
    background: np.ndarray | None
    classes: np.ndarray
    proba: np.ndarray
    num_samples: int | None
    random_state: int | None
    tokenizer: Any = None
    progress: bool = True
    notes: list[str] = dataclasses.field(default_factory=list)
    details: dict[str, Any] = dataclasses.field(default_factory=dict)
    fidelity: dict[str, Any] | None = None

    @property
    def n_rows(self) -> int:
        return len(self.texts) if self.texts is not None else int(self.X.shape[0])  # type: ignore[union-attr]

    @property
    def n_classes(self) -> int:
        return int(len(self.classes))

    @property
    def predicted(self) -> np.ndarray:
        """Index of the predicted class per row."""
        return np.argmax(self.proba, axis=1)

    def note(self, text: str) -> None:
        """Add a note once."""
        if text not in self.notes:
            self.notes.append(text)


class Explainer(ABC):
    """Base class of every explainer: a toolkit wrapped behind one small contract.

    Subclasses set the class attributes, build the toolkit's explainer in :meth:`prepare`
    and implement :meth:`explain_local` (per-row attributions), :meth:`explain_global` (a
    global table), or both.  Options are keyword arguments of :func:`explain` that are not
    its own; they land in :attr:`options` (checked against :attr:`default_options`).

    Parameters
    ----------
    **options
        Method-specific settings (see each explainer's ``default_options``).

    Attributes
    ----------
    name : str
        The registry name (``"lime"``, ``"shap"``, ...).
    input_types : tuple of {"text", "tabular"}
        The inputs the method can explain.
    available_explanations : tuple of {"local", "global"}
        ``"local"``: per-row attributions (the global table then defaults to the mean
        absolute attribution per token or feature); ``"global"`` only: one table.
    supports_multiclass : bool
        ``False`` where the toolkit only explains binary models.
    uses_background : bool
        Whether tabular explanations are relative to ``ctx.background`` (recorded in the
        settings).
    default_options : dict or None
        Accepted options and their defaults; ``None`` accepts anything.
    options : dict
        The options in effect (defaults filled in).

    Examples
    --------
    >>> class Occlusion(Explainer):
    ...     name = "occlusion"
    ...     input_types = ("tabular",)
    ...     default_options = {"fill": 0.0}
    ...     def explain_local(self, ctx, row, target):
    ...         x = ctx.X[row:row + 1]
    ...         masked = np.repeat(x, x.shape[1], axis=0)
    ...         np.fill_diagonal(masked, self.options["fill"])
    ...         drop = ctx.proba[row, target] - ctx.model(masked)[:, target]
    ...         return [Attribution(f, float(v), j) for j, (f, v) in
    ...                 enumerate(zip(ctx.feature_names, drop))]
    >>> explain(clf, X, method=Occlusion)  # doctest: +SKIP
    """

    name: ClassVar[str] = "custom"
    input_types: ClassVar[tuple[InputType, ...]] = ("text", "tabular")
    available_explanations: ClassVar[tuple[ExplanationKind, ...]] = ("local",)
    supports_multiclass: ClassVar[bool] = True
    uses_background: ClassVar[bool] = False
    default_options: ClassVar[dict[str, Any] | None] = None

    def __init__(self, **options: Any) -> None:
        allowed = type(self).default_options
        if allowed is not None:
            unknown = sorted(set(options) - set(allowed))
            if unknown:
                shown = ", ".join(repr(k) for k in sorted(allowed)) or "none"
                raise TypeError(problem(
                    f"explain(method={self.name!r})",
                    "keyword argument" + ("s " if len(unknown) > 1 else " ") + ", ".join(repr(k) for k in unknown),
                    f"must be an option of this method (accepted: {shown})", "an unknown option",
                    "Check the spelling, or pass the option to the method that takes it."))
            options = {**allowed, **options}
        self.options: dict[str, Any] = dict(options)

    @classmethod
    def check_contract(cls) -> None:
        """Raise ``TypeError`` if the class does not implement what it declares."""
        if "local" in cls.available_explanations and cls.explain_local is Explainer.explain_local:
            raise TypeError(f"{cls.__name__} declares local explanations but does not implement "
                            "explain_local(ctx, row, target).")
        if "local" not in cls.available_explanations and cls.explain_global is Explainer.explain_global:
            raise TypeError(f"{cls.__name__} gives global explanations only but does not implement "
                            "explain_global(ctx).")

    # -- the contract ------------------------------------------------------------------------
    def check(self, ctx: ExplainContext, who: str) -> None:
        """Raise a clear error if this method cannot explain ``ctx`` (called before any work)."""

    def prepare(self, ctx: ExplainContext) -> None:
        """Build the toolkit's explainer once for this call (background, tokenizer, seed)."""

    def explain_local(self, ctx: ExplainContext, row: int, target: int) -> list[Attribution]:
        """Attributions of row ``row`` towards class index ``target``."""
        raise NotImplementedError(f"{type(self).__name__} gives no local explanations")

    def explain_global(self, ctx: ExplainContext) -> pd.DataFrame | None:
        """A table with columns ``feature``, ``importance``, ``count`` (more allowed).

        ``None`` (the default) lets :func:`explain` aggregate the local attributions: mean
        absolute value per token or feature, with the number of attributions.
        """
        return None

    def settings(self, ctx: ExplainContext) -> dict[str, Any]:
        """The settings that produced the explanation (recorded in the result)."""
        return dict(self.options)

    @classmethod
    def gives_local(cls) -> bool:
        return "local" in cls.available_explanations


# -- the registry ----------------------------------------------------------------------------
_EXPLAINERS: dict[str, type[Explainer]] = {}


def register_explainer(name: str) -> Callable[[type[Explainer]], type[Explainer]]:
    """Class decorator: register an :class:`Explainer` subclass under ``name``.

    Raises
    ------
    ValueError
        If ``name`` is taken.
    """

    def deco(cls: type[Explainer]) -> type[Explainer]:
        if name in _EXPLAINERS:
            raise ValueError(f"register_explainer: explainer {name!r} is already registered "
                             f"(by {_EXPLAINERS[name].__name__}). Choose another name.")
        if not (isinstance(cls, type) and issubclass(cls, Explainer)):
            raise TypeError(f"register_explainer: {cls!r} must be a subclass of Explainer.")
        cls.check_contract()
        cls.name = name
        _EXPLAINERS[name] = cls
        return cls

    return deco


def available_explainers() -> list[str]:
    """The registered explainer names, sorted."""
    return sorted(_EXPLAINERS)


def explainers_for(input_type: InputType, *, local: bool = False, multiclass: bool = False) -> list[str]:
    """Registered names that explain ``input_type`` (optionally per row / multiclass), sorted."""
    return sorted(n for n, c in _EXPLAINERS.items()
                  if input_type in c.input_types and (not local or c.gives_local())
                  and (not multiclass or c.supports_multiclass))


def resolve_explainer(method: Any, options: dict[str, Any], *, who: str) -> Explainer:
    """Turn ``method`` (a registered name, an Explainer class or instance) into an instance."""
    if isinstance(method, str):
        cls = _EXPLAINERS.get(method)
        if cls is None:
            shown = ", ".join(repr(n) for n in available_explainers())
            raise ValueError(problem(
                who, "argument 'method'", f"must be one of {shown}", repr(method),
                "Pick one of those names, or pass an Explainer subclass or instance."))
        return cls(**options)
    if isinstance(method, type) and issubclass(method, Explainer):
        method.check_contract()
        return method(**options)
    if isinstance(method, Explainer):
        type(method).check_contract()
        if options:
            raise TypeError(problem(
                who, "keyword argument(s) " + ", ".join(repr(k) for k in sorted(options)),
                "cannot be combined with an Explainer instance", "an instance and options",
                "Pass the options to the explainer's constructor, or pass its class."))
        return method
    shown = ", ".join(repr(n) for n in available_explainers())
    raise TypeError(problem(
        who, "argument 'method'", f"must be a name ({shown}), an Explainer subclass or instance",
        describe(method), "Pass method='lime', for example."))


@contextlib.contextmanager
def seeded_numpy(seed: int | None) -> Iterator[None]:
    """Seed NumPy's global generator for the toolkits that use it (SHAP, InterpretML's PDP),
    then give the caller's generator state back."""
    if seed is None:
        yield
        return
    state = np.random.get_state()
    np.random.seed(seed)
    try:
        yield
    finally:
        np.random.set_state(state)
