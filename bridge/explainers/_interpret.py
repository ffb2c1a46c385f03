"""InterpretML's black-box explainers (``interpret.blackbox``) through one interface.

``LimeTabular`` and ``ShapKernel`` explain rows, ``MorrisSensitivity`` and
``PartialDependence`` the model as a whole.  Their results are read as data
(``explain_local(...).data(i)``, ``explain_global().data()``); no dashboard is started.  All
four perturb numeric columns and explain the probability of the positive class of a binary
model: InterpretML refuses multiclass models and raw text, and so do these wrappers (with a
message naming what to use instead).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from fairbridge._optional import import_optional
from fairbridge._validation import problem

from ._base import Attribution, ExplainContext, Explainer, register_explainer
from ._result import label_safe

__all__ = ["InterpretLime", "InterpretMorris", "InterpretPDP", "InterpretShap"]


def _blackbox(purpose: str) -> Any:
    return import_optional("interpret.blackbox", purpose=purpose)


class _InterpretBlackbox(Explainer):
    """Shared by InterpretML's black-box wrappers: tabular, binary."""

    input_types = ("tabular",)
    supports_multiclass = False
    available_explanations = ("local",)

    def _sign(self, target: int) -> float:
        # InterpretML explains P(classes_[1]); towards classes_[0] the attribution flips sign
        # (P0 = 1 - P1, and LIME's and SHAP's attributions are linear in the output).
        return 1.0 if target == 1 else -1.0

    def _scores(self, ctx: ExplainContext, data: dict, target: int) -> list[Attribution]:
        index = {f: j for j, f in enumerate(ctx.feature_names)}
        sign = self._sign(target)
        out = [Attribution(str(f), sign * float(v), index.get(str(f)))
               for f, v in zip(data["names"], np.ravel(np.asarray(data["scores"], dtype=np.float64)))]
        return sorted(out, key=lambda a: (a.position is None, a.position))


@register_explainer("interpret.lime")
class InterpretLime(_InterpretBlackbox):
    """InterpretML's ``LimeTabular`` (LIME through InterpretML's API).

    Options
    -------
    discretize_continuous : bool, default=True
        LIME's quartile bins.
    kernel_width : float, optional
        LIME's kernel width.

    Attributes
    ----------
    explainer_ : interpret.blackbox.LimeTabular
        Built by :meth:`prepare` for the current call.
    """

    available_explanations = ("local",)
    uses_background = True
    default_options = {"discretize_continuous": True, "kernel_width": None}

    def prepare(self, ctx: ExplainContext) -> None:
        bb = _blackbox("the 'interpret.lime' explainer")
        import_optional("lime.lime_tabular", purpose="the 'interpret.lime' explainer")
        kw: dict[str, Any] = {"discretize_continuous": self.options["discretize_continuous"],
                              "random_state": ctx.random_state}
        if self.options["kernel_width"] is not None:
            kw["kernel_width"] = self.options["kernel_width"]
        self.explainer_ = bb.LimeTabular(ctx.model, ctx.background,
                                         feature_names=list(ctx.feature_names), **kw)

    def explain_local(self, ctx: ExplainContext, row: int, target: int) -> list[Attribution]:
        assert ctx.X is not None
        kw: dict[str, Any] = {"num_features": ctx.X.shape[1]}
        if ctx.num_samples is not None:
            kw["num_samples"] = ctx.num_samples
        exp = self.explainer_.explain_local(ctx.X[row:row + 1], **kw)
        return self._scores(ctx, exp.data(0), target)

    def settings(self, ctx: ExplainContext) -> dict[str, Any]:
        return {**self.options, "toolkit": "interpret.blackbox.LimeTabular",
                "num_samples_per_row": 5000 if ctx.num_samples is None else ctx.num_samples}


@register_explainer("interpret.shap")
class InterpretShap(_InterpretBlackbox):
    """InterpretML's ``ShapKernel`` (SHAP's KernelExplainer through InterpretML's API).

    Options
    -------
    l1_reg : str or float, optional
        SHAP Kernel's feature selection (default ``"num_features(10)"``).

    Attributes
    ----------
    explainer_ : interpret.blackbox.ShapKernel
        Built by :meth:`prepare` for the current call.
    """

    available_explanations = ("local",)
    uses_background = True
    default_options = {"l1_reg": None}

    def prepare(self, ctx: ExplainContext) -> None:
        bb = _blackbox("the 'interpret.shap' explainer")
        import_optional("shap", purpose="the 'interpret.shap' explainer")
        self.explainer_ = bb.ShapKernel(ctx.model, ctx.background, feature_names=list(ctx.feature_names))

    def explain_local(self, ctx: ExplainContext, row: int, target: int) -> list[Attribution]:
        assert ctx.X is not None
        kw: dict[str, Any] = {"silent": True}
        if ctx.num_samples is not None:
            kw["nsamples"] = ctx.num_samples
        if self.options["l1_reg"] is not None:
            kw["l1_reg"] = self.options["l1_reg"]
        exp = self.explainer_.explain_local(ctx.X[row:row + 1], **kw)
        return self._scores(ctx, exp.data(0), target)

    def settings(self, ctx: ExplainContext) -> dict[str, Any]:
        return {"l1_reg": self.options["l1_reg"] or "num_features(10)",
                "nsamples": "auto" if ctx.num_samples is None else ctx.num_samples,
                "toolkit": "interpret.blackbox.ShapKernel"}


@register_explainer("interpret.morris")
class InterpretMorris(_InterpretBlackbox):
    """InterpretML's ``MorrisSensitivity``: elementary effects over the range of ``X``.

    Global only: ``importance`` is Morris' ``mu_star`` (mean absolute elementary effect on
    the positive class's probability), with ``mu``, ``sigma`` and ``mu_star_conf``.
    ``num_samples`` is the number of trajectories ``N`` (default 1000; the model is called on
    ``N * (n_features + 1)`` rows).

    Options
    -------
    num_levels : int, default=4
        Grid levels of the Morris design.
    """

    available_explanations = ("global",)
    default_options = {"num_levels": 4}

    def explain_global(self, ctx: ExplainContext) -> pd.DataFrame:
        bb = _blackbox("the 'interpret.morris' explainer")
        import_optional("SALib", purpose="the 'interpret.morris' explainer")
        from interpret.blackbox._sensitivity import MorrisSampler

        assert ctx.X is not None
        n_traj = 1000 if ctx.num_samples is None else ctx.num_samples
        sampler = MorrisSampler(N=n_traj, num_levels=self.options["num_levels"], seed=ctx.random_state)
        try:
            ms = bb.MorrisSensitivity(ctx.model, ctx.X, feature_names=list(ctx.feature_names),
                                      sampler=sampler, num_levels=self.options["num_levels"],
                                      seed=ctx.random_state)
        except ValueError as exc:
            if "zero-size array" not in str(exc):
                raise
            raise ValueError(problem(
                "explain", "the model", "must respond to some feature for a Morris analysis",
                "an elementary effect of 0 for every feature on these rows",
                "Explain more varied rows, or check that the model is not constant.")) from exc
        data = ms.explain_global().data()
        ctx.details["convergence_index"] = float(ms.convergence_index_)
        ctx.note("Morris sensitivity: importance is mu* (mean absolute elementary effect on the "
                 f"probability of {label_safe(ctx.classes[1])!r}) over {n_traj} trajectories; convergence "
                 f"index {float(ms.convergence_index_):.3f} (lower is better).")
        return pd.DataFrame({
            "feature": [str(f) for f in data["names"]],
            "importance": np.asarray(ms.mu_star_, dtype=np.float64),
            "count": np.full(len(data["names"]), ctx.X.shape[0], dtype=np.int64),
            "mu": np.asarray(ms.mu_, dtype=np.float64),
            "sigma": np.asarray(ms.sigma_, dtype=np.float64),
            "mu_star_conf": np.asarray(ms.mu_star_conf_, dtype=np.float64),
        })

    def settings(self, ctx: ExplainContext) -> dict[str, Any]:
        return {**self.options, "trajectories": 1000 if ctx.num_samples is None else ctx.num_samples,
                "toolkit": "interpret.blackbox.MorrisSensitivity"}


@register_explainer("interpret.pdp")
class InterpretPDP(_InterpretBlackbox):
    """InterpretML's ``PartialDependence``: the mean predicted probability as each feature
    sweeps its grid.

    Global only: ``importance`` is the standard deviation of a feature's partial-dependence
    curve over its grid points (Greenwell et al., 2018); the curves are in ``details``.
    ``num_samples`` caps the rows averaged over (a seeded sample of ``X``; default all).
    InterpretML draws 10 ICE curves, so at least 10 rows are needed.

    Options
    -------
    num_points : int, default=10
        Grid points per feature.
    """

    available_explanations = ("global",)
    default_options = {"num_points": 10}

    def _rows(self, ctx: ExplainContext) -> np.ndarray:
        assert ctx.X is not None
        X = ctx.X
        if ctx.num_samples is not None and ctx.num_samples < X.shape[0]:
            rng = np.random.RandomState(ctx.random_state)
            X = X[np.sort(rng.choice(X.shape[0], ctx.num_samples, replace=False))]
        return X

    def check(self, ctx: ExplainContext, who: str) -> None:
        n = self._rows(ctx).shape[0]
        if n < 10:
            raise ValueError(problem(
                who, "argument 'X'", "must have at least 10 rows for 'interpret.pdp' "
                "(InterpretML draws 10 ICE curves from them)",
                f"{n} rows" + (" after num_samples" if ctx.num_samples is not None else ""),
                "Pass more rows (e.g. the test set), or a larger num_samples."))

    def explain_global(self, ctx: ExplainContext) -> pd.DataFrame:
        bb = _blackbox("the 'interpret.pdp' explainer")
        X = self._rows(ctx)
        pdp = bb.PartialDependence(ctx.model, X, feature_names=list(ctx.feature_names),
                                   num_points=self.options["num_points"])
        glob = pdp.explain_global()
        curves: dict[str, Any] = {}
        rows = []
        for j, f in enumerate(pdp.feature_names_in_):
            d = glob.data(j)
            mean = np.asarray(d["scores"], dtype=np.float64)
            curves[str(f)] = {"grid": np.asarray(d["names"], dtype=np.float64).tolist(),
                              "mean": mean.tolist()}
            rows.append((str(f), float(np.std(mean)), int(X.shape[0])))
        ctx.details["partial_dependence"] = curves
        ctx.note("Partial dependence: importance is the standard deviation of each feature's "
                 f"curve of the mean probability of {label_safe(ctx.classes[1])!r} over its grid; the "
                 "curves are in .details['partial_dependence'].")
        return pd.DataFrame(rows, columns=["feature", "importance", "count"])

    def settings(self, ctx: ExplainContext) -> dict[str, Any]:
        return {**self.options, "rows": int(self._rows(ctx).shape[0]),
                "toolkit": "interpret.blackbox.PartialDependence"}
