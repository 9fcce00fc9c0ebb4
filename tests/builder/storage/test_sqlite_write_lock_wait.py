"""SQLite: a writer waiting for the write lock gets in at the first gap between another's transactions.

SQLite's own busy handler tries again less and less often (every 100 ms after 0.2 s), so
behind back-to-back write transactions (a migration's batches) a request waited until a
try happened to fall in a gap: over a second at a million rows. `write_transaction` now
tries every millisecond (database.py, `_begin_immediate`).
"""

from __future__ import annotations

import sqlite3
import threading
import time

import pytest
import sqlalchemy as sa

from builder.storage.database import SQLITE_BUSY_TIMEOUT_MS, make_engine, write_transaction

HOLD_SECONDS = 0.1  # each of the other's transactions holds the lock this long
GAP_SECONDS = 0.001  # then lets it go this long before taking it again
CYCLES = 40


def test_a_writer_gets_in_between_back_to_back_transactions(tmp_path):
    path = tmp_path / "lock.sqlite3"
    engine = make_engine(f"sqlite:///{path}")
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE t (id INTEGER PRIMARY KEY, v INTEGER)")
        conn.exec_driver_sql("INSERT INTO t VALUES (1, 0)")
    cycles_done = 0
    first_cycle = threading.Event()

    def batches() -> None:  # like a migration's batches: hold the lock, commit, at once again
        nonlocal cycles_done
        other = sqlite3.connect(path, isolation_level=None, timeout=SQLITE_BUSY_TIMEOUT_MS / 1000)
        try:
            for _ in range(CYCLES):
                other.execute("BEGIN IMMEDIATE")
                other.execute("UPDATE t SET v = v + 1 WHERE id = 1")
                first_cycle.set()
                time.sleep(HOLD_SECONDS)
                other.execute("COMMIT")
                cycles_done += 1
                time.sleep(GAP_SECONDS)
        finally:
            other.close()

    worker = threading.Thread(target=batches)
    worker.start()
    try:
        assert first_cycle.wait(5)
        started_at = cycles_done
        with write_transaction(engine) as conn:
            conn.execute(sa.text("INSERT INTO t VALUES (2, 0)"))
            waited_cycles = cycles_done - started_at
    finally:
        worker.join(timeout=CYCLES * (HOLD_SECONDS + GAP_SECONDS) + 10)
        engine.dispose()
    # Trying every millisecond it got in after 1 or 2 (at a load of 3 too); SQLite's own handler, within 10
    # (a second) in about half the runs.
    assert waited_cycles < 10, f"the writer waited {waited_cycles} of the other's transactions"


def test_a_writer_still_gives_up_at_the_busy_timeout(tmp_path, monkeypatch):
    import builder.storage.database as database

    monkeypatch.setattr(database, "SQLITE_BUSY_TIMEOUT_MS", 300)
    path = tmp_path / "held.sqlite3"
    engine = make_engine(f"sqlite:///{path}")
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE t (id INTEGER PRIMARY KEY)")
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        started = time.monotonic()
        with pytest.raises(sa.exc.OperationalError, match="locked"), write_transaction(engine) as conn:
            conn.execute(sa.text("INSERT INTO t VALUES (1)"))
        assert time.monotonic() - started >= 0.3  # it waited the timeout, then gave up
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    try:
        with engine.connect() as conn:  # the pooled connection's own busy timeout is back afterwards
            assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 300
    finally:
        engine.dispose()
