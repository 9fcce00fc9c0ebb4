"""Servers started together on an empty database create the missing tables once, without an error.

On PostgreSQL an advisory lock serialises them (storage/locks.py, hold_schema_setup). On SQLite
each takes the write lock at BEGIN (`write_transaction`): a deferred transaction read the
catalogue, found a table missing, and could not upgrade to write once another starting server
had created it ("database is locked": two `crm serve` processes started at once failed so in
tests/security/test_races_postgres.py).
"""

from __future__ import annotations

import threading

import sqlalchemy as sa

from builder.storage.blueprint_version import prepare_version_tracking
from builder.storage.database import make_engine
from builder.system_tables import create_system_tables


def test_six_processes_starting_at_once_create_every_table_once(database_url):
    engines = [make_engine(database_url) for _ in range(6)]
    start = threading.Barrier(len(engines))
    errors: list[BaseException] = []

    def start_up(engine: sa.Engine) -> None:
        try:
            start.wait()
            create_system_tables(engine)
            prepare_version_tracking(engine)
        except BaseException as exc:  # noqa: BLE001 - collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=start_up, args=(e,)) for e in engines]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        assert errors == []
        tables = set(sa.inspect(engines[0]).get_table_names())
        assert {"crm_user", "crm_outbox", "crm_blueprint_history"} <= tables
    finally:
        for engine in engines:
            engine.dispose()
