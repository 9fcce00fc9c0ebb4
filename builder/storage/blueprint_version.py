"""Which migrated blueprint the database holds, and the guard that keeps stale processes from writing.

`crm migrate` records every applied change in `crm_blueprint_history`, in the same
transaction as the change. A server or worker started before a migration would
otherwise go on with the old blueprint: return a newly encrypted e-mail as its
ciphertext, or write plain text into it. Each process remembers the history id it
opened at; each write transaction first checks that the database is still there
(`guard_writes`: the BEGIN of every writing transaction), and its requests and job rounds check it first
(builder/following.py) and reopen the project when a migration has landed.

On PostgreSQL the check takes a shared advisory lock that `crm migrate` takes
exclusively before its first step: a migration waits for the writes in flight, and
writes that start during it wait for it and then find the new version, so no
write of the old blueprint lands beside the new one. Both take this lock before
any table lock, so they cannot deadlock. SQLite needs nothing: a migration and a
write each hold the database's write lock for their whole transaction.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from .database import WritePreamble, add_write_preamble, is_sqlite, literal_sql, write_transaction
from .locks import MIGRATION_LOCK
from .migrations.history import ensure_history_table, history


class StaleBlueprint(Exception):
    """The database was migrated since this process loaded its blueprint; the write was rolled back."""


@dataclass(frozen=True)
class AppliedVersion:
    """The latest applied migration: its history id (0 before any) and the hash of its entities."""

    id: int
    blueprint_hash: str | None


_NEWEST = sa.select(history.c.id, history.c.blueprint_hash).order_by(history.c.id.desc()).limit(1)


def applied_version(connection: sa.Connection) -> AppliedVersion:
    """One indexed read: the newest row of the migration history."""
    row = connection.execute(_NEWEST).first()
    return AppliedVersion(row.id, row.blueprint_hash) if row else AppliedVersion(0, None)


def read_applied_version(engine: sa.Engine) -> AppliedVersion:
    with engine.connect() as connection:
        return applied_version(connection)


def prepare_version_tracking(engine: sa.Engine) -> AppliedVersion:
    """Make sure the history table exists (an empty database has none yet) and read where it stands.

    Under the write lock from BEGIN on SQLite: servers starting together on a new database would
    otherwise read the catalogue, and all but one fail to upgrade to write ("database is locked").
    """
    with write_transaction(engine, checks=False) as connection:
        ensure_history_table(connection)
    return read_applied_version(engine)


def guard_writes(engine: sa.Engine, expected: Callable[[], int]) -> None:
    """Every `write_transaction` on `engine` checks, before it commits, that no migration landed meanwhile."""

    def check(row: Any) -> None:
        if (row[0] if row is not None else 0) != expected():
            raise StaleBlueprint("the database was migrated to a newer blueprint; this write was not made")

    if not is_sqlite(engine):  # wait while a migration runs, and hold the next one off (storage/locks.py)
        lock = sa.select(sa.func.pg_advisory_xact_lock_shared(MIGRATION_LOCK))
        add_write_preamble(engine, "migration lock", WritePreamble(0, literal_sql(engine, lock), lambda _row: None))
    add_write_preamble(engine, "blueprint version", WritePreamble(10, literal_sql(engine, _NEWEST), check))
