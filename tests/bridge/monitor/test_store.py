"""The SQLite history: replace-on-recheck, two writers, atomic windows, schema version."""

from __future__ import annotations

import multiprocessing as mp
import re
import sqlite3

import pandas as pd
import pytest

from fairbridge.monitor import SCHEMA_VERSION, FairnessMonitor, MonitorStore

from .conftest import simulate


def _monitor(reference, store, **kw) -> FairnessMonitor:
    return FairnessMonitor(reference, sensitive_column="sex", label_column="y", store=store,
                           n_bootstrap=60, **kw)


def test_rechecking_a_window_replaces_its_rows(reference_frame, tmp_path):
    mon = _monitor(reference_frame, tmp_path / "m.sqlite")
    mon.check(simulate(600, 1), window="2026-11-01")
    mon.check(simulate(700, 2), window="2026-11-08")
    second = mon.check(simulate(800, 3, drop=0.3), window="2026-11-01")
    hist = mon.history()
    assert list(hist["window"].unique()) == ["2026-11-01", "2026-11-08"]
    again = hist[hist["window"] == "2026-11-01"].reset_index(drop=True)
    assert len(again) == len(second.table)
    pd.testing.assert_series_equal(again["value"], second.table["value"], check_names=False)
    wins = mon.windows()
    assert wins.set_index("window").loc["2026-11-01", "n_rows"] == 800
    assert wins.set_index("window").loc["2026-11-01", "n_alerts"] == len(second.alerts) > 0
    # a second monitor object on the same file sees the same history
    assert len(_monitor(reference_frame, tmp_path / "m.sqlite").history()) == len(hist)


def test_monitors_with_different_names_share_a_file(reference_frame, tmp_path):
    one = _monitor(reference_frame, tmp_path / "m.sqlite", name="model-a")
    two = _monitor(reference_frame, tmp_path / "m.sqlite", name="model-b")
    one.check(simulate(300, 1), window="w")
    assert two.history().empty and len(one.history()) > 0


_SEEDS = {"p": 100, "q": 200}


def _writer(path: str, reference: pd.DataFrame, tag: str, n_windows: int, start) -> None:
    mon = _monitor(reference, path)
    start.wait(120)  # a barrier: both processes begin writing together
    for k in range(n_windows):
        mon.check(simulate(300, _SEEDS[tag] + k), window=f"{tag}-{k:02d}")
        mon.check(simulate(300, k), window="shared")  # both processes rewrite this one


@pytest.mark.slow
def test_two_processes_writing_at_once_corrupt_nothing(reference_frame, tmp_path):
    path = str(tmp_path / "shared.sqlite")
    ctx = mp.get_context("spawn")
    start = ctx.Barrier(2)
    small_ref = reference_frame.iloc[:600]
    procs = [ctx.Process(target=_writer, args=(path, small_ref, tag, 6, start)) for tag in ("p", "q")]
    for p in procs:
        p.start()
    for p in procs:
        p.join(240)
    assert [p.exitcode for p in procs] == [0, 0]
    mon = _monitor(small_ref, path)
    assert mon.store_.integrity_check() == "ok"
    with sqlite3.connect(path) as con:
        assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    wins = mon.windows()
    expected = {f"{t}-{k:02d}" for t in ("p", "q") for k in range(6)} | {"shared"}
    assert set(wins["window"]) == expected and len(wins) == len(expected)
    # every window holds exactly one complete check (the same rows a fresh check computes)
    hist = mon.history()
    fresh = _monitor(small_ref, None)
    for key in sorted(expected):
        seed = 5 if key == "shared" else _SEEDS[key[0]] + int(key[2:])
        table = fresh.check(simulate(300, seed), window=key).table
        stored = hist[hist["window"] == key].reset_index(drop=True)
        assert list(stored["metric"]) == list(table["metric"])
        pd.testing.assert_series_equal(stored["value"], table["value"], check_names=False)


def test_nothing_is_lost_when_a_check_fails_halfway(reference_frame, tmp_path, monkeypatch):
    mon = _monitor(reference_frame, tmp_path / "m.sqlite")
    mon.check(simulate(500, 1), window="w1")
    before, wins_before = mon.history(), mon.windows()

    def half_then_fail(self, con, monitor, window, rows):
        original(self, con, monitor, window, rows[: len(rows) // 2])
        raise RuntimeError("disk pulled out")

    original = MonitorStore._insert_metrics
    monkeypatch.setattr(MonitorStore, "_insert_metrics", half_then_fail)
    with pytest.raises(RuntimeError, match="disk pulled out"):
        mon.check(simulate(900, 2, drop=0.3), window="w1")  # the old rows were deleted first...
    with pytest.raises(RuntimeError, match="disk pulled out"):
        mon.check(simulate(900, 3), window="w2")
    monkeypatch.undo()
    pd.testing.assert_frame_equal(mon.history(), before)  # ...and come back with the rollback
    pd.testing.assert_frame_equal(mon.windows(), wins_before)
    with pytest.raises(ValueError):
        mon.check(simulate(100, 4).assign(score=2.0), window="w1")  # bad input: store untouched
    pd.testing.assert_frame_equal(mon.history(), before)


def test_schema_carries_a_version_and_newer_ones_are_refused(reference_frame, tmp_path):
    path = tmp_path / "m.sqlite"
    store = MonitorStore(path)
    assert store.schema_version == SCHEMA_VERSION
    with sqlite3.connect(path) as con:
        assert con.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()[0] == str(
            SCHEMA_VERSION)
        con.execute("UPDATE meta SET value='99' WHERE key='schema_version'")
    with pytest.raises(ValueError, match=re.escape(
            f"argument 'store' must use monitor schema version {SCHEMA_VERSION} or older, but got "
            "version 99")):
        _monitor(reference_frame, path)


def test_store_path_checks_and_memory_store(reference_frame, tmp_path):
    with pytest.raises(ValueError, match=re.escape("argument 'store' must be a database file path")):
        _monitor(reference_frame, tmp_path)
    mon = _monitor(reference_frame, None)
    mon.check(simulate(300, 1), window="w")
    assert set(mon.history()["window"]) == {"w"}
    nested = tmp_path / "a" / "b" / "m.sqlite"
    _monitor(reference_frame, nested).check(simulate(300, 1), window="w")
    assert nested.is_file()
