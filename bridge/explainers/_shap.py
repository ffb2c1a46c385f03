"""SHAP through one interface: Partition with ``shap.maskers.Text`` for text, Permutation or
Kernel for tabular rows."""

from __future__ import annotations

from typing import Any

import numpy as np

from fairbridge._optional import import_optional
from fairbridge._validation import problem

from ._base import Attribution, ExplainContext, Explainer, register_explainer

__all__ = ["ShapExplainer", "token_offsets"]

_PURPOSE = "the 'shap' explainer"


def token_offsets(text: str, tokens: Any) -> list[int | None]:
    """Character offset of each token (whitespace stripped) in ``text``, searched left to right;
    ``None`` for empty tokens (special tokens) and tokens not found."""
    out: list[int | None] = []
    cursor = 0
    for tok in tokens:
        core = str(tok).strip()
        idx = text.find(core, cursor) if core else -1
        if idx < 0:
            out.append(None)
            continue
        out.append(idx)
        cursor = idx + len(core)
    return out


@register_explainer("shap")
class ShapExplainer(Explainer):
    """SHAP values: each token's or feature's share of the model's output.

    Text: ``shap.Explainer(f, shap.maskers.Text(tokenizer))`` (the Partition algorithm;
    Owen values over the tokenizer's tokens, masked with its mask token), where the tokenizer
    is the adapter's own.  Tabular: ``shap.explainers.Permutation`` with an
    ``Independent`` masker over the background (default), or ``shap.KernelExplainer``.  SHAP
    uses NumPy's global generator; it is seeded with ``random_state`` for the call and given
    back afterwards.  Multiclass models are supported.

    Options
    -------
    algorithm : {"auto", "partition", "permutation", "kernel"}, default="auto"
        ``"auto"``: Partition for text, Permutation for tabular.  Text accepts
        ``"partition"`` and ``"permutation"``; tabular ``"permutation"`` and ``"kernel"``.
    batch_size : int, optional
        Masked inputs SHAP gathers before calling the model (SHAP's text default is 5;
        ours 64 for text, so far fewer, larger calls; all of a permutation for tabular).
    mask_token : str, optional
        Text: the replacement of a masked token (default: the tokenizer's mask token).
    l1_reg : str or float, optional
        Kernel: SHAP's feature selection (default ``"num_features(10)"``).

    Attributes
    ----------
    explainer_ : shap.Explainer, shap.explainers.Permutation or shap.KernelExplainer
        The toolkit's explainer, built by :meth:`prepare` for the current call.
    algorithm_ : str
        The algorithm in use.
    masker_ : shap.maskers.Text
        Text only: the masker (its ``mask_token`` is recorded in the settings).
    batch_size_ : int or None
        Masked inputs gathered per model call (``None`` for Kernel).
    max_evals_ : int
        Permutation only: model evaluations per row.
    """

    input_types = ("text", "tabular")
    available_explanations = ("local",)
    supports_multiclass = True
    uses_background = True
    default_options = {"algorithm": "auto", "batch_size": None, "mask_token": None, "l1_reg": None}

    def _algorithm(self, ctx: ExplainContext) -> str:
        algo = self.options["algorithm"]
        allowed = ("partition", "permutation") if ctx.input_type == "text" else ("permutation", "kernel")
        if algo == "auto":
            return allowed[0]
        return algo

    def check(self, ctx: ExplainContext, who: str) -> None:
        algo = self.options["algorithm"]
        allowed = ("partition", "permutation") if ctx.input_type == "text" else ("permutation", "kernel")
        if algo != "auto" and algo not in allowed:
            shown = ", ".join(repr(a) for a in sorted(("auto",) + allowed))
            raise ValueError(problem(who, "option 'algorithm'", f"must be one of {shown} for "
                                     f"{ctx.input_type} input", repr(algo),
                                     f"Pass algorithm='auto' or one of {shown}."))
        bs = self.options["batch_size"]
        if bs is not None and (isinstance(bs, bool) or not isinstance(bs, (int, np.integer)) or bs < 1):
            raise ValueError(problem(who, "option 'batch_size'", "must be None or an int >= 1",
                                     repr(bs), "Pass batch_size=64, for example."))
        if ctx.input_type == "tabular" and self._algorithm(ctx) == "permutation" \
                and ctx.num_samples is not None:
            assert ctx.X is not None
            need = 2 * ctx.X.shape[1] + 1
            if ctx.num_samples < need:
                raise ValueError(problem(
                    who, "argument 'num_samples'",
                    f"must be at least 2 * n_features + 1 = {need} for SHAP's Permutation "
                    "algorithm (one forward and one backward pass over the features)",
                    repr(ctx.num_samples), f"Pass num_samples={need} or more (default: 10 permutations)."))

    def prepare(self, ctx: ExplainContext) -> None:
        shap = import_optional("shap", purpose=_PURPOSE)
        algo = self._algorithm(ctx)
        self.algorithm_ = algo
        names = [str(c) for c in ctx.classes]
        if ctx.input_type == "text":
            tok = ctx.tokenizer
            kw = {} if self.options["mask_token"] is None else {"mask_token": self.options["mask_token"]}
            masker = shap.maskers.Text(tok, **kw)
            self.masker_ = masker
            self.explainer_ = shap.Explainer(ctx.model, masker, output_names=names, algorithm=algo)
            self.batch_size_ = self.options["batch_size"] or 64
            if tok is None:
                ctx.note("SHAP masked words (no tokenizer was given or found on the estimator).")
        elif algo == "permutation":
            masker = shap.maskers.Independent(ctx.background, max_samples=ctx.background.shape[0])
            self.explainer_ = shap.explainers.Permutation(
                ctx.model, masker, feature_names=list(ctx.feature_names), seed=ctx.random_state)
            d = ctx.X.shape[1]  # type: ignore[union-attr]
            evals = ctx.num_samples if ctx.num_samples is not None else 10 * 2 * d
            self.batch_size_ = self.options["batch_size"] or (2 * d + 1)
            self.max_evals_ = evals
        else:
            self.explainer_ = shap.KernelExplainer(ctx.model, ctx.background)
            self.batch_size_ = None

    def explain_local(self, ctx: ExplainContext, row: int, target: int) -> list[Attribution]:
        if ctx.input_type == "text":
            assert ctx.texts is not None
            text = ctx.texts[row]
            if not text.strip():
                ctx.note("Empty texts have no attributions.")
                return []
            evals: Any = "auto" if ctx.num_samples is None else ctx.num_samples
            sv = self.explainer_([text], max_evals=evals, batch_size=self.batch_size_, silent=True)
            values = np.asarray(sv.values[0])
            values = values[:, target] if values.ndim == 2 else values
            tokens = [str(t) for t in sv.data[0]]
            offsets = token_offsets(text, tokens)
            return [Attribution(tok.strip(), float(v), off)
                    for tok, v, off in zip(tokens, values, offsets) if tok.strip()]
        assert ctx.X is not None
        x = ctx.X[row:row + 1]
        if self.algorithm_ == "permutation":
            sv = self.explainer_(x, max_evals=self.max_evals_, batch_size=self.batch_size_, silent=True)
            values = np.asarray(sv.values[0])
        else:
            kw: dict[str, Any] = {"silent": True}
            if ctx.num_samples is not None:
                kw["nsamples"] = ctx.num_samples
            if self.options["l1_reg"] is not None:
                kw["l1_reg"] = self.options["l1_reg"]
            values = np.asarray(self.explainer_.shap_values(x, **kw))[0]
        values = values[:, target] if values.ndim == 2 else values
        return [Attribution(f, float(v), j) for j, (f, v) in enumerate(zip(ctx.feature_names, values))]

    def settings(self, ctx: ExplainContext) -> dict[str, Any]:
        algo = self._algorithm(ctx)
        s: dict[str, Any] = {"algorithm": algo}
        if ctx.input_type == "text":
            s["max_evals"] = 500 if ctx.num_samples is None else ctx.num_samples
            s["batch_size"] = self.options["batch_size"] or 64
            s["masker"] = "shap.maskers.Text"
            s["mask_token"] = getattr(getattr(self, "masker_", None), "mask_token", self.options["mask_token"])
            s["tokenizer"] = type(ctx.tokenizer).__name__ if ctx.tokenizer is not None else "words"
        elif algo == "permutation":
            s["max_evals"] = getattr(self, "max_evals_", ctx.num_samples)
            s["masker"] = "shap.maskers.Independent"
        else:
            s["nsamples"] = "auto" if ctx.num_samples is None else ctx.num_samples
            s["l1_reg"] = self.options["l1_reg"] or "num_features(10)"
        return s
