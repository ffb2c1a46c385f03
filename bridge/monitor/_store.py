"""The monitor's history: an embedded SQLite database (standard library ``sqlite3``).

* WAL journal, ``synchronous=FULL``, a busy timeout: several processes (cron jobs, CI) can
  write windows to one file at once without corrupting it; readers never block writers.
* One window is written in one ``BEGIN IMMEDIATE`` transaction that first deletes the
  window's old rows: re-checking a window replaces it, and a failure half-way rolls back to
  the previous content (nothing lost, nothing duplicated).
* The schema carries a version (table ``meta``); a store written by a newer schema is refused.
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from fairbridge._validation import describe, problem

__all__ = ["METRIC_COLUMNS", "SCHEMA_VERSION", "MonitorStore"]

#: Version of the database layout written by this fairbridge.
SCHEMA_VERSION = 1

#: Columns of one metric row, in order (``group``/``groups`` are ``grp``/``grps`` in SQL).
METRIC_COLUMNS: tuple[str, ...] = (
    "kind", "metric", "group", "groups", "value", "low", "high", "reference", "reference_low",
    "reference_high", "difference", "difference_low", "difference_high", "p_value", "p_adjusted",
    "n", "n_reference", "estimated", "tested", "alert", "note",
)
_SQL_NAMES = {"group": "grp", "groups": "grps"}
_TYPES = {"kind": "TEXT", "metric": "TEXT", "group": "TEXT", "groups": "TEXT", "note": "TEXT",
          "n": "INTEGER", "n_reference": "INTEGER", "estimated": "INTEGER", "tested": "INTEGER",
          "alert": "INTEGER"}

_SCHEMA = [
    "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS windows (monitor TEXT NOT NULL, window TEXT NOT NULL, "
    "checked_at TEXT NOT NULL, n_rows INTEGER NOT NULL, labels TEXT NOT NULL, "
    "n_alerts INTEGER NOT NULL, summary TEXT NOT NULL, PRIMARY KEY (monitor, window))",
    "CREATE TABLE IF NOT EXISTS metrics (monitor TEXT NOT NULL, window TEXT NOT NULL, "
    + ", ".join(f"{_SQL_NAMES.get(c, c)} {_TYPES.get(c, 'REAL')}" for c in METRIC_COLUMNS)
    + ")",
    "CREATE INDEX IF NOT EXISTS metrics_by_window ON metrics (monitor, window)",
]


def _sql_value(v: Any) -> Any:
    if v is None:
        return None
    if isinstance(v, (bool, np.bool_)):
        return int(v)
    if isinstance(v, (np.integer,)):
        return int(v)
    if isinstance(v, (float, np.floating)):
        return None if not np.isfinite(v) else float(v)
    return v


class MonitorStore:
    """The SQLite history of one or more monitors.

    Parameters
    ----------
    path : str, path or None
        The database file (created with its folder if absent); ``None`` keeps the history in
        memory for this object's lifetime.
    timeout : float, default=60.0
        Seconds to wait for another writer's lock.
    """

    def __init__(self, path: str | os.PathLike | None, *, timeout: float = 60.0) -> None:
        self.path = None if path is None else Path(path)
        self.timeout = timeout
        self._memory: sqlite3.Connection | None = None
        if self.path is None:
            self._memory = sqlite3.connect(":memory:", isolation_level=None, check_same_thread=False)
        else:
            if self.path.exists() and self.path.is_dir():
                raise ValueError(problem("FairnessMonitor", "argument 'store'",
                                         "must be a database file path", f"the folder {str(self.path)!r}",
                                         "Pass a file name such as 'monitor.sqlite'."))
            self.path.parent.mkdir(parents=True, exist_ok=True)
        self._init_schema()

    # -- connections ------------------------------------------------------------------------
    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        if self._memory is not None:
            yield self._memory
            return
        con = sqlite3.connect(str(self.path), timeout=self.timeout, isolation_level=None)
        try:
            con.execute(f"PRAGMA busy_timeout = {int(self.timeout * 1000)}")
            con.execute("PRAGMA synchronous = FULL")
            yield con
        finally:
            con.close()

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with self._connect() as con:
            con.execute("BEGIN IMMEDIATE")
            try:
                yield con
            except BaseException:
                con.execute("ROLLBACK")
                raise
            con.execute("COMMIT")

    def _init_schema(self) -> None:
        if self._memory is None:
            deadline = time.monotonic() + self.timeout
            while True:  # switching to WAL needs a moment without other writers
                try:
                    with self._connect() as con:
                        mode = con.execute("PRAGMA journal_mode = WAL").fetchone()[0]
                    break
                except sqlite3.OperationalError as exc:
                    if "locked" not in str(exc) or time.monotonic() > deadline:
                        raise
                    time.sleep(0.05)
            if str(mode).lower() != "wal":  # pragma: no cover - e.g. a network file system
                raise sqlite3.OperationalError(f"could not switch {self.path} to WAL (got {mode})")
        with self._transaction() as con:
            for statement in _SCHEMA:
                con.execute(statement)
            con.execute("INSERT OR IGNORE INTO meta (key, value) VALUES ('schema_version', ?)",
                        (str(SCHEMA_VERSION),))
            found = int(con.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()[0])
        if found > SCHEMA_VERSION:
            raise ValueError(problem("FairnessMonitor", "argument 'store'",
                                     f"must use monitor schema version {SCHEMA_VERSION} or older",
                                     f"version {found} in {str(self.path)!r}",
                                     "Upgrade fairbridge, or use another store file."))
        self.schema_version = found

    # -- writing ------------------------------------------------------------------------------
    def _insert_metrics(self, con: sqlite3.Connection, monitor: str, window: str,
                        rows: Sequence[dict[str, Any]]) -> None:
        cols = ["monitor", "window"] + [_SQL_NAMES.get(c, c) for c in METRIC_COLUMNS]
        sql = f"INSERT INTO metrics ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})"
        con.executemany(sql, [(monitor, window, *(_sql_value(r.get(c)) for c in METRIC_COLUMNS))
                              for r in rows])

    def write_window(self, monitor: str, window: str, *, checked_at: str, n_rows: int, labels: str,
                     summary: dict[str, Any], rows: Sequence[dict[str, Any]]) -> None:
        """Replace one window's rows, atomically.

        Parameters
        ----------
        monitor, window : str
            The monitor's name and the window key.
        checked_at : str
            ISO timestamp of the check.
        n_rows : int
            Rows in the window.
        labels : str
            ``"labeled"``, ``"estimated"`` or ``"none"``.
        summary : dict
            JSON-serialisable summary (alerts and notes).
        rows : sequence of dict
            Metric rows with the keys of :data:`METRIC_COLUMNS`.
        """
        text = json.dumps(summary, allow_nan=False)
        n_alerts = len(summary.get("alerts", []))
        with self._transaction() as con:
            con.execute("DELETE FROM metrics WHERE monitor = ? AND window = ?", (monitor, window))
            con.execute("INSERT OR REPLACE INTO windows (monitor, window, checked_at, n_rows, labels, "
                        "n_alerts, summary) VALUES (?, ?, ?, ?, ?, ?, ?)",
                        (monitor, window, checked_at, int(n_rows), labels, n_alerts, text))
            self._insert_metrics(con, monitor, window, rows)

    # -- reading ------------------------------------------------------------------------------
    def windows(self, monitor: str) -> pd.DataFrame:
        """One row per window: ``window``, ``checked_at``, ``n_rows``, ``labels``, ``n_alerts``,
        ``summary`` (a dict), sorted by window key."""
        with self._connect() as con:
            cur = con.execute("SELECT window, checked_at, n_rows, labels, n_alerts, summary "
                              "FROM windows WHERE monitor = ? ORDER BY window", (monitor,))
            records = cur.fetchall()
        frame = pd.DataFrame(records, columns=["window", "checked_at", "n_rows", "labels",
                                               "n_alerts", "summary"])
        frame["summary"] = [json.loads(s) for s in frame["summary"]]
        return frame

    def history(self, monitor: str) -> pd.DataFrame:
        """Every metric row of every window, with ``window`` and ``checked_at`` columns."""
        cols = [_SQL_NAMES.get(c, c) for c in METRIC_COLUMNS]
        sql = (f"SELECT m.window, w.checked_at, {', '.join('m.' + c for c in cols)} FROM metrics m "
               "JOIN windows w ON w.monitor = m.monitor AND w.window = m.window "
               "WHERE m.monitor = ? ORDER BY m.window, m.rowid")
        with self._connect() as con:
            records = con.execute(sql, (monitor,)).fetchall()
        frame = pd.DataFrame(records, columns=["window", "checked_at", *METRIC_COLUMNS])
        for col in ("estimated", "tested", "alert"):
            frame[col] = frame[col].fillna(0).astype(bool)
        for col in ("n", "n_reference"):
            frame[col] = frame[col].astype("Int64")
        for col in ("value", "low", "high", "reference", "reference_low", "reference_high",
                    "difference", "difference_low", "difference_high", "p_value", "p_adjusted"):
            frame[col] = frame[col].astype(np.float64)
        return frame

    def integrity_check(self) -> str:
        """SQLite's ``PRAGMA integrity_check`` (``"ok"`` when sound)."""
        with self._connect() as con:
            return str(con.execute("PRAGMA integrity_check").fetchone()[0])

    def __repr__(self) -> str:
        return f"MonitorStore({describe(str(self.path) if self.path else None)})"
