"""TorchClassifier: tabular and image-shaped inputs, checkpoints, single-logit networks."""

from __future__ import annotations

import copy
import re

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.base import clone
from torch import nn

from fairbridge.adapters import SharedModel, TorchClassifier

from .test_sklearn_contract import MLP


class TinyCNN(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(1, 4, 3, padding=1)
        self.pool = nn.AdaptiveAvgPool2d(2)
        self.fc = nn.Linear(16, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.pool(torch.relu(self.conv(x))).flatten(1))


class OneLogit(nn.Module):
    """A binary network with one output logit, trained with BCEWithLogits."""

    def __init__(self, n_features_in: int = 3) -> None:
        super().__init__()
        self.hidden = nn.Linear(n_features_in, 8)
        self.score = nn.Linear(8, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.score(torch.tanh(self.hidden(x))).squeeze(-1)


@pytest.fixture
def tabular():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 3)).astype(np.float32)
    y = (X[:, 0] + 0.5 * X[:, 1] > 0).astype(int)
    a = np.where(rng.random(300) < 0.5, "a", "b")
    return X, y, a


def test_shared_module_logits_and_head_refit(tabular):
    X, y, _ = tabular
    torch.manual_seed(0)
    net = MLP(3, 2)
    clf = TorchClassifier.from_module(net, refit="none", progress=False).fit(X, y)
    with torch.no_grad():
        ref = net(torch.from_numpy(X)).numpy()
    np.testing.assert_allclose(clf.decision_function(X), ref[:, 1] - ref[:, 0], rtol=1e-5, atol=1e-6)
    head = TorchClassifier(SharedModel(net), progress=False).fit(X, y)
    assert head.score(X, y) > 0.85  # the refitted head learns the task on the frozen features
    assert head.head_coef_.shape == (2, 32)


def test_single_logit_network_becomes_two_columns(tabular):
    X, y, _ = tabular
    torch.manual_seed(0)
    net = OneLogit(3)
    clf = TorchClassifier.from_module(net, refit="none", progress=False).fit(X, y)
    with torch.no_grad():
        z = net(torch.from_numpy(X)).numpy()
    np.testing.assert_allclose(clf.predict_proba(X)[:, 1], 1 / (1 + np.exp(-z)), rtol=1e-5)
    np.testing.assert_allclose(clf.decision_function(X), z, rtol=1e-5, atol=1e-6)
    head = TorchClassifier.from_module(net, progress=False, head_alpha=10.0).fit(X, y)
    np.testing.assert_allclose(head.predict_proba(X), clf.predict_proba(X), atol=0.1)


def test_image_shaped_input_and_shape_check():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 1, 6, 6)).astype(np.float32)
    y = np.arange(60) % 3
    torch.manual_seed(0)
    clf = TorchClassifier.from_module(TinyCNN(), progress=False).fit(X, y)
    assert clf.predict_proba(X).shape == (60, 3)
    assert clf.input_shape_ == (1, 6, 6)
    with pytest.raises(ValueError, match=re.escape("must have rows of shape (1, 6, 6) as in fit")):
        clf.predict(rng.normal(size=(4, 1, 5, 6)).astype(np.float32))


def test_checkpoints_load_safely(tabular, tmp_path):
    X, y, _ = tabular
    torch.manual_seed(1)
    net = MLP(3, 2)
    from safetensors.torch import save_model

    save_model(net, str(tmp_path / "w.safetensors"))
    torch.save(net.state_dict(), tmp_path / "w.pt")
    expected = TorchClassifier.from_module(net, refit="none", progress=False).fit(X, y).predict_proba(X)
    for name in ("w.safetensors", "w.pt"):
        clf = TorchClassifier(MLP, module_params={"n_features_in": 3, "n_classes": 2},
                              checkpoint=tmp_path / name, refit="none", progress=False).fit(X, y)
        np.testing.assert_allclose(clf.predict_proba(X), expected, rtol=1e-6)
    torch.save({"net": net}, tmp_path / "pickled.pt")  # a whole pickled object, not a state dict
    with pytest.raises(ValueError, match=re.escape("fairbridge never unpickles arbitrary objects")):
        TorchClassifier(MLP, checkpoint=tmp_path / "pickled.pt", progress=False).fit(X, y)
    with pytest.raises(ValueError, match=re.escape("does not fit the module")):
        TorchClassifier(MLP, module_params={"hidden": 5}, checkpoint=tmp_path / "w.safetensors",
                        progress=False).fit(X, y)


def test_recipe_clones_share_one_network(tabular):
    X, y, a = tabular
    clf = TorchClassifier(MLP, progress=False).fit(X, y)
    twin = clone(clf).fit(X, y)
    assert twin.backbone_ is clf.backbone_ and copy.deepcopy(clf).backbone_ is clf.backbone_
    from fairlearn.reductions import DemographicParity, ExponentiatedGradient

    eg = ExponentiatedGradient(TorchClassifier(MLP, progress=False), DemographicParity(), max_iter=20)
    eg.fit(X, y, sensitive_features=a)
    assert {id(p.backbone_) for p in eg.predictors_} == {id(clf.backbone_)}
    assert clf.backbone_.stats.rows == len(X)


def test_weighted_full_refit_changes_predictions(tabular):
    X, y, _ = tabular
    base = TorchClassifier(MLP, refit="full", epochs=5, progress=False)
    plain = clone(base).fit(X, y)
    w = np.where(y == 1, 20.0, 1.0)
    weighted = clone(base).fit(X, y, sample_weight=w)
    assert weighted.predict_proba(X)[:, 1].mean() > plain.predict_proba(X)[:, 1].mean() + 0.05


def test_dataframe_input_keeps_feature_names(tabular):
    X, y, _ = tabular
    df = pd.DataFrame(X, columns=["income", "debt", "age"])
    clf = TorchClassifier(MLP, progress=False).fit(df, y)
    assert list(clf.feature_names_in_) == ["income", "debt", "age"]
    with pytest.warns(UserWarning, match="does not have valid feature names"):
        from_array = clf.predict_proba(X)
    np.testing.assert_allclose(clf.predict_proba(df), from_array)


def test_module_instance_is_refused(tabular):
    X, y, _ = tabular
    with pytest.raises(TypeError, match=re.escape("Pass SharedModel(net) so that clones share it")):
        TorchClassifier(MLP(3, 2), progress=False).fit(X, y)


def test_bad_numeric_input(tabular):
    X, y, _ = tabular
    bad = X.copy()
    bad[3, 1] = np.nan
    with pytest.raises(ValueError, match=re.escape("Input X contains NaN")):
        TorchClassifier(MLP, progress=False).fit(bad, y)
    clf = TorchClassifier(MLP, progress=False).fit(X, y)
    with pytest.raises(ValueError, match=re.escape("X has 2 features, but TorchClassifier is expecting 3")):
        clf.predict(X[:, :2])


def test_save_and_load(tabular, tmp_path):
    X, y, _ = tabular
    clf = TorchClassifier(MLP, progress=False).fit(X, y, sample_weight=np.linspace(1, 2, len(y)))
    out = clf.save(tmp_path / "tc")
    again = TorchClassifier.load(out, progress=False)
    np.testing.assert_allclose(again.predict_proba(X), clf.predict_proba(X), rtol=1e-6)
    full = TorchClassifier(MLP, refit="full", epochs=2, progress=False).fit(X, y)
    again_full = TorchClassifier.load(full.save(tmp_path / "full"))
    np.testing.assert_allclose(again_full.predict_proba(X), full.predict_proba(X), rtol=1e-6)
