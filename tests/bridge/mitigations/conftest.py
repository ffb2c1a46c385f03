"""Fixtures of the mitigation tests: a tabular split with a group gap and one shared comparison.

The model is a tiny :class:`TinyMLP` wrapped in ``TorchClassifier`` (random hidden layer, head
refitted on the training split), which learns the group gap planted in the data; every method
runs once, on one comparison shared by the tests of this folder.
"""

from __future__ import annotations

import pytest

from ._models import FAST, make_model, one_torch_thread, tabular


@pytest.fixture(scope="module", autouse=True)
def _one_torch_thread():
    with one_torch_thread():
        yield


@pytest.fixture(scope="session")
def split():
    Xtr, ytr, atr = tabular(300, 0)
    Xte, yte, ate = tabular(200, 1)
    return {"X_train": Xtr, "y_train": ytr, "A_train": atr,
            "X_test": Xte, "y_test": yte, "A_test": ate}


@pytest.fixture(scope="session")
def fitted_model(split):
    with one_torch_thread():  # session fixtures are set up before module-scoped ones
        return make_model().fit(split["X_train"], split["y_train"])


@pytest.fixture(scope="session")
def comparison(split, fitted_model):
    """Every registered method, once, on the shared split."""
    from fairbridge._compare import compare
    from fairbridge.mitigations import default_mitigations

    methods = [(name, FAST.get(name, {})) for name in default_mitigations()]
    with one_torch_thread():
        return compare(fitted_model, split["X_train"], split["y_train"], split["X_test"],
                       split["y_test"], sensitive_features_train=split["A_train"],
                       sensitive_features_test=split["A_test"], methods=methods, n_bootstrap=200,
                       progress=False)
