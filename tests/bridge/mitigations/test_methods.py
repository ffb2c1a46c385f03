"""Each mitigation end to end on a tiny model, and the real effect each one is supposed to have."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from fairlearn.metrics import demographic_parity_difference

from fairbridge.mitigations import (
    AdversarialMitigation,
    CorrelationRemoverMitigation,
    ExponentiatedGradientMitigation,
    FairLossMitigation,
    FairretPenalty,
    FitContext,
    RejectOptionMitigation,
    ThresholdOptimizerMitigation,
)
from fairbridge.mitigations._base import coded
from fairbridge.mitigations._fair_loss import SELECTION_RULE
from fairbridge.mitigations._fairlearn import _head_of, _predictor_module

from ._models import FAST


def context(model, privileged="m"):
    return FitContext(classes=model.classes_, privileged_group=privileged, feature="sex")


def groups(split, part="train"):
    return split[f"A_{part}"].to_numpy(dtype=object)


def expected_dp(proba, g):
    """Demographic parity difference of the expected selection rates (no randomness)."""
    rates = pd.Series(proba[:, 1]).groupby(np.asarray(g)).mean()
    return float(rates.max() - rates.min())


def test_every_method_ran_on_the_shared_split(comparison):
    assert {m.name: m.status for m in comparison.methods} == {
        "baseline": "ok", **{name: "ok" for name in FAST}}
    for m in comparison.methods:
        assert 0.0 <= m.metrics["accuracy"] <= 1.0
        assert m.cost["n_refits"] >= 0 and m.cost["fit_seconds"] >= 0.0
        assert m.mitigation is not None and m.audit is not None


def test_the_model_learned_the_planted_gap(comparison):
    base = comparison["baseline"].metrics
    assert base["accuracy"] > 0.75
    assert base["demographic_parity_difference"] > 0.2


def test_threshold_optimizer_reduces_the_gap_on_the_data_it_was_fit_on(split, fitted_model):
    g = groups(split)
    X, y = split["X_train"], split["y_train"]
    before = demographic_parity_difference(y, fitted_model.predict(X), sensitive_features=g)
    to = ThresholdOptimizerMitigation().fit(fitted_model, X, y, sensitive_features=g,
                                            context=context(fitted_model))
    after = demographic_parity_difference(y, to.predict(X, sensitive_features=g), sensitive_features=g)
    assert before > 0.2
    assert after < before / 3
    assert expected_dp(to.predict_proba(X, sensitive_features=g), g) < 0.02
    # Prefit: it scores the fitted model and refits nothing.
    assert to.n_refits_ == 0 and to.model_.estimator_.estimator is fitted_model


def test_threshold_optimizer_needs_known_groups(split, fitted_model):
    g = groups(split)
    to = ThresholdOptimizerMitigation().fit(fitted_model, split["X_train"], split["y_train"],
                                            sensitive_features=g)
    with pytest.raises(ValueError, match="must only hold groups seen in training"):
        to.predict(split["X_test"][:3], sensitive_features=np.array(["f", "x", "m"], dtype=object))
    with pytest.raises(ValueError, match="argument 'sensitive_features' is required by this method"):
        to.predict(split["X_test"][:3])


def test_exponentiated_gradient_mixes_weighted_refits(comparison, split, fitted_model):
    eg = comparison["fairlearn.exponentiated_gradient"].mitigation
    model = eg.model_
    assert eg.n_refits_ == model.n_oracle_calls_ - model.n_oracle_calls_dummy_returned_ > 0
    assert np.isclose(eg.weights_.sum(), 1.0)
    X, g = split["X_train"], groups(split)
    proba = eg.predict_proba(X)
    assert np.allclose(proba.sum(axis=1), 1.0)
    base = fitted_model.predict_proba(X)
    assert expected_dp(proba, g) < expected_dp(np.eye(2)[np.argmax(base, axis=1)], g)
    # Every refit shares the baseline's network (no copy of the weights).
    for h in eg.predictors_:
        if hasattr(h, "backbone_"):
            assert h.backbone_ is fitted_model.backbone_


def test_grid_search_counts_its_refits(comparison):
    gs = comparison["fairlearn.grid_search"].mitigation
    assert gs.best_ is gs.model_.predictors_[gs.model_.best_idx_]
    assert 1 <= gs.n_refits_ <= FAST["fairlearn.grid_search"]["grid_size"]


def test_reweighing_weights_are_aif360s_and_change_predictions(comparison, split, fitted_model):
    rw = comparison["aif360.reweighing"].mitigation
    g, y = groups(split), split["y_train"]
    n = y.size
    for gv in ("f", "m"):
        for c in (0, 1):
            cell = (g == gv) & (y == c)
            expected = (g == gv).sum() / n * (y == c).sum() / cell.sum()  # Kamiran & Calders
            assert np.allclose(rw.weights_[cell], expected)
            assert np.isclose(rw.details_["factors"][gv][str(c)], expected)
    X = split["X_test"]
    assert not np.allclose(rw.predict_proba(X), fitted_model.predict_proba(X))
    assert rw.estimator_ is not fitted_model and rw.estimator_.backbone_ is fitted_model.backbone_


def test_calibrated_equalized_odds_mixes_only_one_group(comparison, split, fitted_model):
    ceo = comparison["aif360.calibrated_equalized_odds"].mitigation
    pp = ceo.model_.postprocessor_
    assert min(pp.mix_rates_) == 0  # AIF360 leaves the group with the higher cost alone
    X, g = split["X_test"], groups(split, "test")
    proba = ceo.predict_proba(X, sensitive_features=g)
    base = fitted_model.predict_proba(X)
    untouched = int(np.argmin(pp.mix_rates_))  # index into groups_ (0 = not privileged, 1 = privileged)
    rows = (g == "m") if pp.groups_[untouched] == 1 else (g != "m")
    assert np.allclose(proba[rows], base[rows])
    assert ceo.n_refits_ == 0


def test_reject_option_flips_only_inside_the_band(comparison, split, fitted_model):
    roc = comparison["aif360.reject_option"].mitigation
    t, m = roc.details_["threshold"], roc.details_["margin"]
    X, g = split["X_test"], groups(split, "test")
    p = fitted_model.predict_proba(X)[:, 1]
    pred = roc.predict(X, sensitive_features=g)
    band = np.abs(p - t) < m
    assert np.array_equal(pred[~band], (p[~band] > t).astype(int))
    assert (pred[band & (g == "m")] == 0).all() and (pred[band & (g != "m")] == 1).all()


def test_reject_option_fixed_band_and_bad_band(split, fitted_model):
    g = groups(split)
    fixed = RejectOptionMitigation(threshold=0.5, margin=0.1).fit(
        fitted_model, split["X_train"], split["y_train"], sensitive_features=g,
        context=context(fitted_model))
    assert fixed.details_["threshold"] == 0.5 and fixed.details_["margin"] == 0.1
    with pytest.raises(ValueError, match="arguments 'threshold' and 'margin' must be given together"):
        RejectOptionMitigation(threshold=0.5).fit(fitted_model, split["X_train"], split["y_train"],
                                                  sensitive_features=g, context=context(fitted_model))


def test_adversarial_predictor_starts_from_the_model_head(split, fitted_model):
    feats = fitted_model.embed(split["X_test"])
    module = _predictor_module(feats.shape[1], (), _head_of(fitted_model))
    with torch.no_grad():
        p = module(torch.as_tensor(feats)).reshape(-1).numpy()
    assert np.allclose(p, fitted_model.predict_proba(split["X_test"])[:, 1], atol=1e-5)


def test_adversarial_training_moves_the_predictor(split, fitted_model):
    g = groups(split)
    state = torch.random.get_rng_state()
    adv = AdversarialMitigation(epochs=3, alpha=5.0).fit(
        fitted_model, split["X_train"], split["y_train"], sensitive_features=g)
    # Fairlearn reseeds torch's global generator; the mitigation puts the caller's state back.
    assert torch.equal(torch.random.get_rng_state(), state)
    X = split["X_test"]
    proba = adv.predict_proba(X)
    assert proba.shape == (X.shape[0], 2) and np.allclose(proba.sum(axis=1), 1.0)
    assert not np.allclose(proba, fitted_model.predict_proba(X), atol=1e-4)


def test_correlation_remover_decorrelates_embeddings_from_groups(split, fitted_model):
    g = groups(split)
    cr = CorrelationRemoverMitigation().fit(fitted_model, split["X_train"], split["y_train"],
                                            sensitive_features=g)
    design = cr._design(fitted_model.embed(split["X_train"]), g)
    out = cr.remover_.transform(design)
    indicator = (g == "m").astype(float)
    centred = out - out.mean(axis=0)
    cov = centred.T @ (indicator - indicator.mean())
    assert np.abs(cov).max() < 1e-6
    raw = design[:, :-1] - design[:, :-1].mean(axis=0)
    assert np.abs(raw.T @ (indicator - indicator.mean())).max() > 1.0  # there was a correlation
    with pytest.raises(ValueError, match="argument 'sensitive_features' is required"):
        cr.predict_proba(split["X_test"])


def test_fair_loss_sweep_follows_its_rule(comparison):
    fl = comparison["fair_loss"].mitigation
    sweep = fl.details_["sweep"]
    assert [s["fairness_weight"] for s in sweep] == sorted(FAST["fair_loss"]["fairness_weights"])
    assert sum(s["chosen"] for s in sweep) == 1
    eligible = [s for s in sweep if s["accuracy"] >= sweep[0]["accuracy"] - fl.tolerance]
    best = min(eligible, key=lambda s: (s["disparity"], s["fairness_weight"]))
    assert best["chosen"] and fl.fairness_weight_ == best["fairness_weight"]
    assert fl.n_refits_ == len(sweep) + 1  # the chosen weight is refitted on all training data
    assert fl.details_["rule"] == SELECTION_RULE
    # A heavy penalty really closes the gap on the held-out part.
    assert sweep[-1]["disparity"] < sweep[0]["disparity"] / 2


def test_fair_loss_in_sample_without_validation(split, fitted_model):
    g = groups(split)
    fl = FairLossMitigation(fairness_weights=(0.0, 3.0), validation_fraction=0.0, tolerance=1.0).fit(
        fitted_model, split["X_train"], split["y_train"], sensitive_features=g)
    assert fl.n_refits_ == 2 and fl.fairness_weight_ == 3.0  # tolerance 1: smallest gap wins
    assert fl.estimator_.fairness_weight == 3.0
    assert fl.estimator_.history_[0]["fairness_loss"] >= 0.0


def test_fair_loss_needs_an_adapter(split):
    from sklearn.linear_model import LogisticRegression

    lr = LogisticRegression().fit(split["X_train"], split["y_train"])
    with pytest.raises(TypeError, match="must take fairness_loss= and fairness_weight="):
        FairLossMitigation().fit(lr, split["X_train"], split["y_train"], sensitive_features=groups(split))


class TestFairretPenalty:
    def test_zero_when_groups_have_equal_rates(self):
        logits = torch.tensor([[0.0, 1.0], [0.0, -1.0], [0.0, 1.0], [0.0, -1.0]], dtype=torch.float64)
        G = torch.tensor([[1, 0], [1, 0], [0, 1], [0, 1]], dtype=torch.float64)
        w = torch.full((4,), 0.25, dtype=torch.float64)
        y = torch.tensor([1, 0, 1, 0])
        assert float(FairretPenalty()(logits, y, G, w)) == pytest.approx(0.0, abs=1e-12)
        assert float(FairretPenalty("equalized_odds")(logits, y, G, w)) == pytest.approx(0.0, abs=1e-12)

    def test_positive_and_differentiable_when_rates_differ(self):
        logits = torch.tensor([[0.0, 2.0], [0.0, 1.0], [0.0, -1.0], [0.0, -2.0]],
                              dtype=torch.float64, requires_grad=True)
        G = torch.tensor([[1, 0], [1, 0], [0, 1], [0, 1]], dtype=torch.float64)
        w = torch.full((4,), 0.25, dtype=torch.float64)
        loss = FairretPenalty()(logits, torch.tensor([1, 1, 0, 0]), G, w)
        assert float(loss.detach()) > 0.1
        loss.backward()
        assert logits.grad is not None and float(logits.grad.abs().sum()) > 0

    def test_integer_weights_equal_duplicated_rows(self):
        gen = torch.Generator().manual_seed(0)
        logits = torch.randn(6, 2, generator=gen, dtype=torch.float64)
        G = torch.eye(2, dtype=torch.float64)[torch.tensor([0, 0, 0, 1, 1, 1])]
        y = torch.tensor([1, 0, 1, 1, 0, 0])
        counts = torch.tensor([1, 2, 3, 1, 1, 2])
        w = counts.double() / counts.sum()
        rows = torch.repeat_interleave(torch.arange(6), counts)
        flat = torch.full((rows.numel(),), 1.0 / rows.numel(), dtype=torch.float64)
        for constraint in ("demographic_parity", "equalized_odds"):
            pen = FairretPenalty(constraint)
            assert float(pen(logits, y, G, w)) == pytest.approx(
                float(pen(logits[rows], y[rows], G[rows], flat)), rel=1e-9)


def test_coded_view_answers_in_codes(fitted_model, split):
    view = coded(fitted_model)
    assert view.classes_.tolist() == [0, 1]
    assert np.array_equal(view.predict(split["X_test"]),
                          np.searchsorted(fitted_model.classes_, fitted_model.predict(split["X_test"])))
    with pytest.raises(TypeError, match="it is not refitted"):
        view.fit(split["X_test"], split["y_test"])


def test_exponentiated_gradient_can_run_alone(split, fitted_model):
    eg = ExponentiatedGradientMitigation(max_iter=2, constraint="equalized_odds").fit(
        fitted_model, split["X_train"], split["y_train"], sensitive_features=groups(split))
    assert set(np.unique(eg.predict(split["X_test"]))) <= {0, 1}
