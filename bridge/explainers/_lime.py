"""LIME through one interface: ``lime.lime_text.LimeTextExplainer`` and ``lime.lime_tabular``."""

from __future__ import annotations

from typing import Any

from fairbridge._optional import import_optional

from ._base import Attribution, ExplainContext, Explainer, register_explainer

__all__ = ["LimeExplainer"]


@register_explainer("lime")
class LimeExplainer(Explainer):
    """LIME: a weighted linear model fitted to the model's outputs around each row.

    Text rows are perturbed by removing words (``LimeTextExplainer``; one model call with
    ``num_samples`` strings per row), tabular rows by sampling around the row with the
    background's statistics (``LimeTabularExplainer``).  One LIME explainer, seeded with
    ``random_state``, explains the rows in order, exactly as LIME's own loop would.  Multiclass
    models are supported (the explained class is fitted).

    Options
    -------
    num_features : int, optional
        Tokens or features kept per row (default: all of them).
    kernel_width : float, optional
        LIME's kernel width (default: 25 for text, ``0.75 * sqrt(n_features)`` for tabular).
    feature_selection : str, default="auto"
        LIME's feature selection.
    bow : bool, default=True
        Text: a word counts once wherever it appears (``False``: per position).
    split_expression : str, default=r"\\W+"
        Text: how words are split.
    mask_string : str, optional
        Text with ``bow=False``: the replacement of a removed word.
    discretize_continuous : bool, default=True
        Tabular: explain quartile bins rather than raw values (LIME's default).
    categorical_features : list of int, optional
        Tabular: columns to treat as categorical.

    Attributes
    ----------
    lime_ : LimeTextExplainer or LimeTabularExplainer
        The toolkit's explainer, built by :meth:`prepare` for the current call.
    """

    input_types = ("text", "tabular")
    available_explanations = ("local",)
    supports_multiclass = True
    uses_background = True
    default_options = {"num_features": None, "kernel_width": None, "feature_selection": "auto",
                       "bow": True, "split_expression": r"\W+", "mask_string": None,
                       "discretize_continuous": True, "categorical_features": None}

    def prepare(self, ctx: ExplainContext) -> None:
        o = self.options
        names = [str(c) for c in ctx.classes]
        kw: dict[str, Any] = {}
        if o["kernel_width"] is not None:
            kw["kernel_width"] = o["kernel_width"]
        if ctx.input_type == "text":
            lime_text = import_optional("lime.lime_text", purpose="the 'lime' explainer")
            self._indexed = lime_text.IndexedString
            self.lime_ = lime_text.LimeTextExplainer(
                class_names=names, feature_selection=o["feature_selection"],
                split_expression=o["split_expression"], bow=o["bow"], mask_string=o["mask_string"],
                random_state=ctx.random_state, **kw)
        else:
            lime_tabular = import_optional("lime.lime_tabular", purpose="the 'lime' explainer")
            self.lime_ = lime_tabular.LimeTabularExplainer(
                ctx.background, mode="classification", feature_names=list(ctx.feature_names),
                class_names=names, discretize_continuous=o["discretize_continuous"],
                categorical_features=o["categorical_features"],
                feature_selection=o["feature_selection"], random_state=ctx.random_state, **kw)

    def _sample_kw(self, ctx: ExplainContext) -> dict[str, Any]:
        return {} if ctx.num_samples is None else {"num_samples": ctx.num_samples}

    def explain_local(self, ctx: ExplainContext, row: int, target: int) -> list[Attribution]:
        o = self.options
        if ctx.input_type == "text":
            assert ctx.texts is not None
            text = ctx.texts[row]
            words = self._indexed(text, bow=o["bow"], split_expression=o["split_expression"],
                                  mask_string=o["mask_string"])
            n_words = words.num_words()
            if n_words == 0:
                ctx.note("Rows without any word have no attributions.")
                return []
            exp = self.lime_.explain_instance(
                text, ctx.model, labels=(target,), num_features=o["num_features"] or n_words,
                **self._sample_kw(ctx))
            mapper = exp.domain_mapper.indexed_string
            out = [Attribution(str(mapper.word(i)), float(w), int(mapper.string_position(i)[0]))
                   for i, w in exp.as_map()[target]]
        else:
            assert ctx.X is not None
            exp = self.lime_.explain_instance(
                ctx.X[row], ctx.model, labels=(target,),
                num_features=o["num_features"] or ctx.X.shape[1], **self._sample_kw(ctx))
            out = [Attribution(ctx.feature_names[j], float(w), int(j)) for j, w in exp.as_map()[target]]
        return sorted(out, key=lambda a: (a.position is None, a.position))

    def settings(self, ctx: ExplainContext) -> dict[str, Any]:
        s = {k: v for k, v in self.options.items()
             if ctx.input_type == "text" or k not in ("bow", "split_expression", "mask_string")}
        if ctx.input_type == "text":
            s.pop("discretize_continuous", None)
            s.pop("categorical_features", None)
        s["num_samples_per_row"] = 5000 if ctx.num_samples is None else ctx.num_samples
        s["toolkit"] = "lime.lime_text.LimeTextExplainer" if ctx.input_type == "text" \
            else "lime.lime_tabular.LimeTabularExplainer"
        return s
