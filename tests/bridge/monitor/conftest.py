"""Fixtures of the monitor tests: a seeded generator of scored, labeled windows."""

from __future__ import annotations

import os

os.environ.setdefault("NML_DISABLE_USAGE_LOGGING", "1")  # NannyML must not phone home in tests

import numpy as np
import pandas as pd
import pytest

GROUPS = np.array(["a", "b", "c"])
SHARES = [0.5, 0.4, 0.1]


def simulate(n: int, seed: int, *, labels: bool = True, drop: float = 0.0, drop_group: str = "b",
             shares: list[float] | None = None) -> pd.DataFrame:
    """Scores of three groups (Beta per group), labels drawn from the scores (calibrated).

    ``drop`` lowers the scores of ``drop_group`` by that much (clipped to [0, 1]) after the
    labels were drawn: the model got worse for that group while the population did not change.
    """
    rng = np.random.default_rng(seed)
    group = rng.choice(GROUPS, size=n, p=shares or SHARES)
    score = np.where(group == "a", rng.beta(4, 3, n),
                     np.where(group == "b", rng.beta(3, 4, n), rng.beta(3, 3, n)))
    y = rng.binomial(1, score)
    score = np.where(group == drop_group, np.clip(score - drop, 0.0, 1.0), score)
    frame = pd.DataFrame({"score": score, "sex": group})
    if labels:
        frame["y"] = y
    return frame


@pytest.fixture(scope="session")
def make_window():
    """The :func:`simulate` generator."""
    return simulate


@pytest.fixture(scope="session")
def reference_frame() -> pd.DataFrame:
    """A 3,000-row reference drawn from :func:`simulate`."""
    return simulate(3000, 0)
