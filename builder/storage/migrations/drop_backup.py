"""PostgreSQL: the backup of tables about to lose data, dumped before writers are held off.

Dumping `patient` as JSON lines inside the migration's transaction kept every writer
waiting for it (5.9 s at 100,000 rows). Instead, before that transaction, each table is
copied into a temporary table (one snapshot, in the server) and the slow part, writing
JSON lines, runs from that copy while servers go on writing. Then only the rows written
since are appended: once more outside the lock, then under the migration's lock for what
came in meanwhile. So the file holds every row as the migration finds it: for an id
written twice, the later line is the one dropped. A row deleted meanwhile keeps its line
(it was not the migration that lost it).

"Written since" is told by the row version's `xmin` (the transaction that wrote it), not
by comparing whole rows with the copy: that comparison read and joined the whole table
under the lock (943 ms at 100,000 rows). A version written by a transaction older than
the oldest one running at the snapshot (`pg_snapshot_xmin`) was committed before it, so
the backup has it. A newer one may be in the backup too (committed before the snapshot,
beside a long transaction still running), so each pass notes, in a small temporary table
from the same snapshot, which of those newer versions (`id`, `xmin`) it saw; the next
pass appends every row with a newer `xmin` that is not among them. The test is not
"invisible to the snapshot" (`pg_visible_in_snapshot`): a savepoint's rows carry the
subtransaction's id, which the snapshot's list of running transactions leaves out.
`xmin` is 32 bits, so it is compared by `age()` in a window ending at the scan's own
snapshot: a frozen row keeps its old `xmin`, and one wrapped around into the window only
adds a harmless duplicate line. (`pg_current_snapshot`: PostgreSQL 13 or later.)
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from ..private_files import open_private
from .backup import jsonable

COPY_PREFIX = "crm_backup_copy_"
SNAPSHOT = "SELECT CAST(pg_current_snapshot() AS text)"
REPEATABLE = "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ"  # one snapshot for every statement


class DropBackup:
    """The tables' rows: most written before the writers' wait (`snapshot`), the rest under it (`catch_up`)."""

    def __init__(self, tables: list[str], folder: Path):
        self.folder = folder
        names = sorted(set(tables))
        self.copies = {name: f"{COPY_PREFIX}{n}" for n, name in enumerate(names)}
        self.seen = {name: f"{COPY_PREFIX}{n}_seen" for n, name in enumerate(names)}
        self.since = ""  # the snapshot the lines are complete for (pg_snapshot as text)

    def snapshot(self, connection: sa.Connection) -> None:
        """Outside the migration's transaction: copy each table, write its lines, then append what changed."""
        quote = connection.dialect.identifier_preparer.quote
        with connection.begin():
            connection.exec_driver_sql(REPEATABLE)
            since = connection.exec_driver_sql(SNAPSHOT).scalar_one()
            for name, copy in self.copies.items():
                connection.exec_driver_sql(f"DROP TABLE IF EXISTS {quote(copy)}")
                connection.exec_driver_sql(f"CREATE TEMP TABLE {quote(copy)} AS SELECT * FROM {quote(name)}")
            self._note_seen(connection, since)
        with connection.begin():
            for name, copy in self.copies.items():
                with open_private(self.folder / f"{name}.jsonl") as out:
                    rows = connection.exec_driver_sql(f"SELECT * FROM {quote(copy)} ORDER BY id")
                    out.writelines(_line(row._mapping) for row in rows)
                connection.exec_driver_sql(f"DROP TABLE {quote(copy)}")
        with connection.begin():  # the rows written during the dump, so few are left for the lock
            connection.exec_driver_sql(REPEATABLE)
            since = connection.exec_driver_sql(SNAPSHOT).scalar_one()
            self._append_written_since(connection)
            self._note_seen(connection, since)

    def catch_up(self, connection: sa.Connection) -> Path:
        """Under the migration's lock: append the rows written since the last pass (one scan, no comparison)."""
        quote = connection.dialect.identifier_preparer.quote
        self._append_written_since(connection)
        for seen in self.seen.values():
            connection.exec_driver_sql(f"DROP TABLE {quote(seen)}")
        return self.folder

    def discard(self, connection: sa.Connection) -> None:
        """After a failed migration: the copies must not stay in a pooled session."""
        quote = connection.dialect.identifier_preparer.quote
        with connection.begin():
            for copy in [*self.copies.values(), *self.seen.values()]:
                connection.exec_driver_sql(f"DROP TABLE IF EXISTS {quote(copy)}")

    def _note_seen(self, connection: sa.Connection, since: str) -> None:
        """In the snapshot `since`: the row versions it holds that a transaction not older than its oldest wrote."""
        quote = connection.dialect.identifier_preparer.quote
        for name, seen in self.seen.items():
            connection.exec_driver_sql(f"DROP TABLE IF EXISTS {quote(seen)}")
            connection.exec_driver_sql(
                f"CREATE TEMP TABLE {quote(seen)} AS SELECT t.id, t.xmin AS written_by FROM {quote(name)} t "
                f"WHERE {_newer_than('%(since)s')}",
                {"since": since},
            )
            connection.exec_driver_sql(f"ANALYZE {quote(seen)}")
        self.since = since

    def _append_written_since(self, connection: sa.Connection) -> None:
        """Append every row whose version the snapshot `since` may not hold (see the module's docstring)."""
        quote = connection.dialect.identifier_preparer.quote
        for name, seen in self.seen.items():
            written = connection.exec_driver_sql(
                f"SELECT t.* FROM {quote(name)} t WHERE {_newer_than('%(since)s')} AND NOT EXISTS "
                f"(SELECT 1 FROM {quote(seen)} s WHERE s.id = t.id AND s.written_by = t.xmin) ORDER BY t.id",
                {"since": self.since},
            )
            with open(self.folder / f"{name}.jsonl", "a", encoding="utf-8") as out:
                out.writelines(_line(row._mapping) for row in written)


def _newer_than(since: str) -> str:
    """Rows of `t` written by a transaction not older than the oldest running at snapshot `since`.

    By `age()`, the 32-bit distance back from now, bounded by this statement's own snapshot:
    what it can see was written before its `xmax`.
    """
    oldest = f"pg_snapshot_xmin(CAST({since} AS pg_snapshot))"
    return (
        f"age(t.xmin) <= (SELECT age(CAST({oldest} AS xid))) "
        "AND age(t.xmin) > (SELECT age(CAST(pg_snapshot_xmax(pg_current_snapshot()) AS xid)))"
    )


def has_ids(connection: sa.Connection, tables: list[str]) -> bool:
    """Whether every table has an `id` to order its rows by (the blueprint's tables all do)."""
    inspector = sa.inspect(connection)
    return all("id" in {c["name"] for c in inspector.get_columns(name)} for name in tables)


def _line(mapping: Any) -> str:
    return json.dumps({k: jsonable(v) for k, v in mapping.items()}, ensure_ascii=False) + "\n"
