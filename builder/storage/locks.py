"""Transaction-level advisory locks: serialise writers of one scope across every process.

A check that reads rows and then writes (a slot is free, so book it; fewer than five
failed sign-ins, so try the password) is only sound if no other writer of the same
scope runs between the read and the commit. PostgreSQL gives us named locks held
until the transaction ends (`pg_advisory_xact_lock`); the name of a scope is hashed
to the signed 64-bit key they take. SQLite needs nothing: a transaction that reads
before it writes takes the database's write lock up front (`write_transaction`).
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Iterable
from typing import Any

import sqlalchemy as sa

WAIT_STEP_SECONDS = 0.01
WAIT_LIMIT_SECONDS = 10.0


class ScopeBusy(Exception):
    """A further scope lock stayed taken too long (two writers each waiting for the other's scope)."""


def scope_key(*parts: Any) -> int:
    """A deterministic signed 64-bit key for a scope named by `parts` (same in every process)."""
    text = json.dumps(parts, default=str, ensure_ascii=False, separators=(",", ":"))
    digest = hashlib.blake2b(text.encode("utf-8"), digest_size=8, person=b"crm-scope").digest()
    return int.from_bytes(digest, "big", signed=True)


def takes_locks(conn: sa.Connection) -> bool:
    """Whether scope locks mean anything here: PostgreSQL, inside a transaction."""
    return conn.dialect.name == "postgresql" and conn.in_transaction()


def lock_scopes(conn: sa.Connection, keys: Iterable[int]) -> None:
    """Wait for and hold (until commit or rollback) the locks of `keys`, in one fixed order.

    Taking a set of keys sorted, all at once, cannot deadlock with another caller
    doing the same. A no-op on SQLite.
    """
    if takes_locks(conn):
        for key in sorted(set(keys)):
            conn.execute(sa.select(sa.func.pg_advisory_xact_lock(key)))


def lock_scope_without_deadlock(
    conn: sa.Connection, key: int, holding: bool, wait_limit: float = WAIT_LIMIT_SECONDS
) -> None:
    """Hold the lock of `key`; when the transaction already holds others, never wait forever.

    A first lock may be waited for: its holder holds no lock of ours that waits on us.
    A further one, taken in whatever order the rules ask, could close a cycle; it is
    polled for `wait_limit` seconds and then given up with ScopeBusy, so writers never
    deadlock (and no statement fails, which would abort the transaction).
    """
    if not takes_locks(conn):
        return
    if not holding:
        conn.execute(sa.select(sa.func.pg_advisory_xact_lock(key)))
        return
    deadline = time.monotonic() + wait_limit
    while not conn.execute(sa.select(sa.func.pg_try_advisory_xact_lock(key))).scalar_one():
        if time.monotonic() > deadline:
            raise ScopeBusy("another write to the same records is still in progress; try again")
        time.sleep(WAIT_STEP_SECONDS)


MIGRATION_LOCK = scope_key("crm.migration")


def hold_off_writers(conn: sa.Connection) -> None:
    """For a migration's transaction: wait for writes in flight, keep new ones waiting until the commit.

    See storage/blueprint_version.py: writers take the same lock shared, first thing.
    """
    if takes_locks(conn):
        conn.execute(sa.select(sa.func.pg_advisory_xact_lock(MIGRATION_LOCK)))


SCHEMA_SETUP_LOCK = scope_key("crm.schema_setup")


def hold_schema_setup(conn: sa.Connection) -> None:
    """For a transaction creating missing tables: one process at a time.

    Two servers started together both find a table missing and both CREATE it; the second
    fails on PostgreSQL's catalogue ("duplicate key … pg_type"). Under this lock the second
    waits, then finds the table there. A no-op on SQLite: its write lock, taken at BEGIN
    (`write_transaction`), does it.
    """
    if takes_locks(conn):
        conn.execute(sa.select(sa.func.pg_advisory_xact_lock(SCHEMA_SETUP_LOCK)))
