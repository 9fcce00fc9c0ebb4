"""Servers started together on a new database each create the missing `crm_*` tables: none fails.

What a starting server does first: `create_system_tables` (runtime.py), then, following
migrations, `prepare_version_tracking` (following.py) creates the history table if missing.

On SQLite a deferred transaction read the catalogue, found a table missing and could not upgrade
to write once another starting server had created it ("database is locked": two `crm serve`
processes started at once, tests/security/test_races_postgres.py). It now takes the write lock
at BEGIN; on PostgreSQL an advisory lock serialises them (storage/locks.py, hold_schema_setup).
"""

from __future__ import annotations

import threading

import sqlalchemy as sa

from builder.storage.blueprint_version import prepare_version_tracking
from builder.storage.database import make_engine
from builder.storage.migrations.history import HISTORY_TABLE
from builder.system_tables import SYSTEM_METADATA, create_system_tables

STARTING = 3


def test_servers_starting_together_all_create_the_system_tables(database_url):
    engines = [make_engine(database_url) for _ in range(STARTING)]
    together = threading.Barrier(STARTING)
    failures: list[BaseException] = []

    def start(engine: sa.Engine) -> None:
        together.wait()
        try:
            create_system_tables(engine)
            prepare_version_tracking(engine)
        except BaseException as exc:  # noqa: BLE001 - what each starting server met, asserted below
            failures.append(exc)

    threads = [threading.Thread(target=start, args=(engine,)) for engine in engines]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        assert failures == []
        with engines[0].connect() as conn:
            assert {*SYSTEM_METADATA.tables, HISTORY_TABLE} <= set(sa.inspect(conn).get_table_names())
    finally:
        for engine in engines:
            engine.dispose()
