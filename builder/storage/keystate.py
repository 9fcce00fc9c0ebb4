"""What every process must agree on about encryption keys, kept in the database.

- `crm_key_state` holds the active key id. A rotation changes it in a transaction of
  its own; each write transaction reads it first (with a share lock on PostgreSQL,
  inside SQLite's write lock), so a write either finishes before the change or sees it.
- `crm_key_user` holds one heartbeat per running process with the key it encrypts
  with; a heartbeat older than `STALE_AFTER` is a process that is gone.
- `count_values` counts stored ciphertexts per key id in SQL (`v1:<key id>:...`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from builder.system_tables import key_state, key_users

STATE_ROW = 1
STALE_AFTER = dt.timedelta(minutes=5)


def ensure_tables(engine: sa.Engine) -> None:
    """Create the two key tables if missing (rotation may run on a database no server opened yet)."""
    for table in (key_state, key_users):
        table.create(engine, checkfirst=True)


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None, microsecond=0)


def active_key_query(*, share_lock: bool = False) -> sa.Select[Any]:
    query = sa.select(key_state.c.active_key).where(key_state.c.id == STATE_ROW)
    if share_lock:
        query = query.with_for_update(read=True)  # PostgreSQL: FOR SHARE; SQLite: its write lock does it
    return query


def read_active_key(connection: sa.Connection, *, share_lock: bool = False) -> str | None:
    """The active key id, or None before any process recorded one."""
    return connection.execute(active_key_query(share_lock=share_lock)).scalar_one_or_none()


def set_active_key(connection: sa.Connection, key_id: str) -> None:
    """Make `key_id` the active key for every process (the caller commits)."""
    changed = connection.execute(
        sa.update(key_state).where(key_state.c.id == STATE_ROW).values(active_key=key_id, changed_at=utcnow())
    )
    if changed.rowcount == 0:
        connection.execute(sa.insert(key_state).values(id=STATE_ROW, active_key=key_id, changed_at=utcnow()))


def ensure_active_key(engine: sa.Engine, key_id: str) -> str:
    """The recorded active key id; records `key_id` first if none is (the first process to start)."""
    with engine.begin() as connection:
        recorded = read_active_key(connection)
        if recorded is not None:
            return recorded
    try:
        with engine.begin() as connection:
            connection.execute(sa.insert(key_state).values(id=STATE_ROW, active_key=key_id, changed_at=utcnow()))
    except sa.exc.IntegrityError:
        pass  # another process recorded one first: theirs counts
    with engine.connect() as connection:
        return read_active_key(connection) or key_id


def beat(engine: sa.Engine, process: str, active_key: str, key_ids: Iterable[str]) -> None:
    """Record that `process` is alive and encrypts with `active_key`."""
    values = {"active_key": active_key, "key_ids": ",".join(sorted(key_ids))[:1000], "seen_at": utcnow()}
    with engine.begin() as connection:
        updated = connection.execute(sa.update(key_users).where(key_users.c.process == process).values(**values))
        if updated.rowcount == 0:
            connection.execute(sa.insert(key_users).values(process=process, **values))


def forget(engine: sa.Engine, process: str) -> None:
    """A process that stops removes its heartbeat."""
    with engine.begin() as connection:
        connection.execute(sa.delete(key_users).where(key_users.c.process == process))


@dataclass(frozen=True)
class KeyUser:
    process: str
    active_key: str
    seen_at: dt.datetime


def live_users(connection: sa.Connection, stale_after: dt.timedelta = STALE_AFTER) -> list[KeyUser]:
    """Processes whose heartbeat is recent enough to count."""
    rows = connection.execute(
        sa.select(key_users.c.process, key_users.c.active_key, key_users.c.seen_at)
        .where(key_users.c.seen_at >= utcnow() - stale_after)
        .order_by(key_users.c.process)
    )
    return [KeyUser(*row) for row in rows]


def _token_prefix(key_id: str) -> str:
    escaped = key_id.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"v1:{escaped}:%"


def count_values(
    connection: sa.Connection, columns: Iterable[tuple[sa.Table, str]], key_ids: Iterable[str]
) -> dict[str, int]:
    """How many stored values each of `key_ids` encrypted, counted by the database."""
    counts: dict[str, int] = {}
    columns = list(columns)
    for key_id in key_ids:
        total = 0
        for table, column in columns:
            value = table.c[column]
            total += connection.execute(
                sa.select(sa.func.count()).select_from(table).where(value.like(_token_prefix(key_id), escape="\\"))
            ).scalar_one()
        if total:
            counts[key_id] = total
    return counts
