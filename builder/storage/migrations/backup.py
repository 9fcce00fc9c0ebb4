"""Backups written by a migration that loses data.

SQLite: a consistent copy of the whole database file (sqlite3's online backup API).
PostgreSQL: the rows of each affected table as JSON lines, one file per table, which
is enough to restore dropped values by hand; a full `pg_dump` stays the operator's job
(written mostly before writers are held off: drop_backup.py).
Text cut to a shorter `max_length` (both databases): the original of every value cut,
`{"id": ..., "<field>": ...}` per line, appended by the batch that cuts it (LineBackup),
so this backup is written outside the migration's transaction and holds exactly the
values cut, also those written while the batches ran.
All hold encrypted fields as their ciphertext, never decrypted, and are readable by
their owner only (files 0600, folders 0700).
"""

from __future__ import annotations

import datetime as dt
import decimal
import json
import os
import sqlite3
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from ..private_files import create_private_file, open_private, private_folder
from .errors import MigrationError


def _stamp() -> str:
    return dt.datetime.now().strftime("%Y%m%d-%H%M%S-%f")


def default_backup_dir(engine: sa.Engine) -> Path:
    """`backups/` next to a SQLite file; `./backups` for other databases."""
    database = engine.url.database if engine.dialect.name == "sqlite" else None
    if database and database != ":memory:" and not database.startswith("file:"):
        return Path(database).resolve().parent / "backups"
    return Path.cwd() / "backups"


def backup_sqlite(engine: sa.Engine, backup_dir: Path) -> Path:
    """Copy the whole database, values as stored (ciphertext stays ciphertext), into `backup_dir`."""
    private_folder(backup_dir)
    stem = Path(engine.url.database or "memory").stem or "database"
    target = backup_dir / f"{stem}-{_stamp()}.sqlite3"
    create_private_file(target)
    raw = engine.raw_connection()
    try:
        destination = sqlite3.connect(target)
        try:
            driver = raw.driver_connection
            if driver is None:
                raise MigrationError("the database connection is closed")
            driver.backup(destination)
        finally:
            destination.close()
    finally:
        raw.close()
    return target


def jsonable(value: Any) -> Any:
    """A value as JSON can hold it: dates ISO, decimals as strings, bytes as hex."""
    if isinstance(value, (dt.date, dt.datetime, dt.time)):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, bytes):
        return value.hex()
    return value


def backup_folder(backup_dir: Path | str | None, engine: sa.Engine) -> Path:
    """A fresh folder for this migration's JSON lines; MigrationError (nothing changed) if it cannot be made."""
    directory = Path(backup_dir) if backup_dir is not None else default_backup_dir(engine)
    try:
        return private_folder(directory.resolve() / f"migration-{_stamp()}")
    except OSError as exc:
        raise MigrationError(f"could not write the backup into {directory}: {exc}; nothing was changed") from None


def backup_tables(connection: sa.Connection, tables: list[str], folder: Path) -> Path:
    """Dump every row of `tables`, values as stored, as JSON lines into `folder`."""
    for name in sorted(set(tables)):
        table = sa.Table(name, sa.MetaData(), autoload_with=connection)
        order = list(table.primary_key.columns) or list(table.columns)[:1]
        with open_private(folder / f"{name}.jsonl") as out:
            for row in connection.execute(sa.select(table).order_by(*order)):
                out.write(json.dumps({k: jsonable(v) for k, v in row._mapping.items()}, ensure_ascii=False))
                out.write("\n")
    return folder


def write_backup(
    engine: sa.Engine, connection: sa.Connection | None, tables: list[str], backup_dir: Path | str | None
) -> Path:
    """Back up before losing data; MigrationError (nothing changed) if the backup fails.

    `backup_dir` is the folder for SQLite's copy, or this migration's folder (backup_folder) on PostgreSQL.
    """
    directory = Path(backup_dir) if backup_dir is not None else default_backup_dir(engine)
    try:
        if engine.dialect.name == "sqlite":
            return backup_sqlite(engine, directory)
        assert connection is not None, "PostgreSQL backups are taken inside the migration transaction"
        return backup_tables(connection, tables, directory)
    except OSError as exc:
        raise MigrationError(f"could not write the backup into {directory}: {exc}; nothing was changed") from None


class LineBackup:
    """A JSON-lines file that batches append to, cut back to what the committed batches wrote.

    `committed` is the length the last committed batch recorded beside its done marker.
    Lines past it come from a batch that never committed (killed between its append and
    its commit): that batch runs again, so they are cut off here rather than kept twice.
    """

    def __init__(self, path: Path, committed: int):
        self.path = path
        try:
            if create_private_file(path) and committed:
                raise MigrationError(f"the backup {path} of the values cut so far is missing; restore it first")
            size = path.stat().st_size
            if size < committed:
                raise MigrationError(f"the backup {path} is shorter than its batches wrote; restore it first")
            if size > committed:
                os.truncate(path, committed)
        except OSError as exc:
            raise MigrationError(f"could not open the backup {path}: {exc}") from None

    def append(self, lines: list[dict[str, Any]]) -> int:
        """Write `lines` and make them durable (before the batch commits); returns the file's new length."""
        rendered = (json.dumps({k: jsonable(v) for k, v in line.items()}, ensure_ascii=False) for line in lines)
        text = "".join(f"{line}\n" for line in rendered)
        with open(self.path, "a", encoding="utf-8") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
            return os.fstat(out.fileno()).st_size
