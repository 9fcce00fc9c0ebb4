"""PostgreSQL: the backup of tables about to lose data, dumped before writers are held off.

Dumping `patient` as JSON lines inside the migration's transaction kept every writer
waiting for it (5.9 s at 100,000 rows). Instead, before that transaction, one statement
copies each table into a temporary table (one snapshot, in the server) and the slow
part, writing JSON lines, runs from that copy while servers go on writing. Then, under
the migration's lock, only the rows that differ from the copy (new, or changed since:
their whole row as text differs) are appended. So the file holds every row as the
migration finds it: for an id written twice, the later line is the one dropped. A row
deleted meanwhile keeps its line (it was not the migration that lost it).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from ..private_files import open_private
from .backup import jsonable

COPY_PREFIX = "crm_backup_copy_"


class DropBackup:
    """The tables' rows: most written before the writers' wait (`snapshot`), the rest under it (`catch_up`)."""

    def __init__(self, tables: list[str], folder: Path):
        self.folder = folder
        self.copies = {name: f"{COPY_PREFIX}{n}" for n, name in enumerate(sorted(set(tables)))}

    def snapshot(self, connection: sa.Connection) -> None:
        """Outside the migration's transaction: copy each table server-side, then write its lines from the copy."""
        quote = connection.dialect.identifier_preparer.quote
        with connection.begin():
            for name, copy in self.copies.items():
                connection.exec_driver_sql(f"DROP TABLE IF EXISTS {quote(copy)}")
                connection.exec_driver_sql(f"CREATE TEMP TABLE {quote(copy)} AS SELECT * FROM {quote(name)}")
        with connection.begin():
            for name, copy in self.copies.items():
                with open_private(self.folder / f"{name}.jsonl") as out:
                    rows = connection.exec_driver_sql(f"SELECT * FROM {quote(copy)} ORDER BY id")
                    out.writelines(_line(row._mapping) for row in rows)

    def catch_up(self, connection: sa.Connection) -> Path:
        """Under the migration's lock: append the rows that are new or changed since the copy, then drop it."""
        quote = connection.dialect.identifier_preparer.quote
        for name, copy in self.copies.items():
            changed = connection.exec_driver_sql(
                f"SELECT t.* FROM {quote(name)} t LEFT JOIN {quote(copy)} c ON c.id = t.id "
                "WHERE c.id IS NULL OR CAST(c AS text) <> CAST(t AS text) ORDER BY t.id"
            )
            with open(self.folder / f"{name}.jsonl", "a", encoding="utf-8") as out:
                out.writelines(_line(row._mapping) for row in changed)
            connection.exec_driver_sql(f"DROP TABLE {quote(copy)}")
        return self.folder

    def discard(self, connection: sa.Connection) -> None:
        """After a failed migration: the copies must not stay in a pooled session."""
        quote = connection.dialect.identifier_preparer.quote
        with connection.begin():
            for copy in self.copies.values():
                connection.exec_driver_sql(f"DROP TABLE IF EXISTS {quote(copy)}")


def has_ids(connection: sa.Connection, tables: list[str]) -> bool:
    """Whether every table has an `id` to match its rows by (the blueprint's tables all do)."""
    inspector = sa.inspect(connection)
    return all("id" in {c["name"] for c in inspector.get_columns(name)} for name in tables)


def _line(mapping: Any) -> str:
    return json.dumps({k: jsonable(v) for k, v in mapping.items()}, ensure_ascii=False) + "\n"
