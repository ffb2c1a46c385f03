"""One local Ray (2 CPUs) for the whole distributed test package, and its shared data."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
import pytest

ray = pytest.importorskip("ray", reason="the distributed tests need the 'ray' extra")

N_ROWS = 2000
#: Rows made malformed on purpose: position -> (column, value).
MALFORMED = {5: ("text", ""), 17: ("text", None), 33: ("text", "   "), 48: ("y", None)}


@pytest.fixture(scope="package")
def ray_session():
    """A local Ray with 2 CPUs, started once for the package and shut down after it."""
    started = False
    if not ray.is_initialized():
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False,
                 configure_logging=False)
        started = True
    from ray.data import DataContext

    DataContext.get_current().enable_progress_bars = False
    for name in ("ray", "ray.data"):  # keep failure reports readable
        logging.getLogger(name).setLevel(logging.WARNING)
    yield ray
    if started:
        ray.shutdown()


@pytest.fixture(scope="package")
def frame(text_maker) -> pd.DataFrame:
    """2,000 short texts, a label ``y`` (nullable int), groups ``sex`` and ``age``; a few malformed."""
    texts, y, groups = text_maker(N_ROWS, seed=3)
    age = np.random.default_rng(3).choice(["young", "old"], size=N_ROWS)
    df = pd.DataFrame({"text": pd.Series(texts, dtype=object),
                       "y": pd.array(y, dtype="Int64"), "sex": groups, "age": age})
    for pos, (col, value) in MALFORMED.items():
        df.loc[pos, col] = value if value is not None else (pd.NA if col == "y" else None)
    return df


@pytest.fixture(scope="package")
def clf(tiny_model_dir, frame):
    """The tiny model with a refitted head (so scores differ from the raw network's)."""
    from fairbridge.adapters import HFTextClassifier

    ok = frame.index[~frame.index.isin(list(MALFORMED))][:300]
    return HFTextClassifier(tiny_model_dir, progress=False).fit(
        frame.loc[ok, "text"].tolist(), frame.loc[ok, "y"].to_numpy(dtype=int))


@pytest.fixture(scope="package")
def valid(frame) -> np.ndarray:
    """Positions of the rows that are neither malformed text nor missing label."""
    return np.array([i for i in range(len(frame)) if i not in MALFORMED])


@pytest.fixture(scope="package")
def scored(ray_session, clf, frame):
    """``score`` of the whole frame on 2 actors, materialised once (features included)."""
    from fairbridge.distributed import score

    ds = ray_session.data.from_pandas(frame)
    return score(clf, ds, label_column="y", concurrency=2, return_features=True,
                 batch_size=128).materialize()


@pytest.fixture(scope="package")
def scored_frame(scored) -> pd.DataFrame:
    """The scored rows on the driver, by ``row_id`` (small test data only)."""
    return scored.to_pandas().sort_values("row_id").reset_index(drop=True)
