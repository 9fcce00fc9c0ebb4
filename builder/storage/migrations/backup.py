"""Backups written before a migration that loses data.

SQLite: a consistent copy of the whole database file (sqlite3's online backup API).
PostgreSQL: the rows of each affected table as JSON lines, one file per table, which
is enough to restore dropped values by hand; a full `pg_dump` stays the operator's job.
Both hold encrypted fields as their ciphertext, never decrypted, and are readable by
their owner only (files 0600, folders 0700).
"""

from __future__ import annotations

import datetime as dt
import decimal
import json
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


def _jsonable(value: Any) -> Any:
    if isinstance(value, (dt.date, dt.datetime, dt.time)):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, bytes):
        return value.hex()
    return value


def backup_tables(connection: sa.Connection, tables: list[str], backup_dir: Path) -> Path:
    """Dump every row of `tables`, values as stored, as JSON lines into a fresh folder in `backup_dir`."""
    folder = private_folder(backup_dir / f"migration-{_stamp()}")
    for name in sorted(set(tables)):
        table = sa.Table(name, sa.MetaData(), autoload_with=connection)
        order = list(table.primary_key.columns) or list(table.columns)[:1]
        with open_private(folder / f"{name}.jsonl") as out:
            for row in connection.execute(sa.select(table).order_by(*order)):
                out.write(json.dumps({k: _jsonable(v) for k, v in row._mapping.items()}, ensure_ascii=False))
                out.write("\n")
    return folder


def write_backup(
    engine: sa.Engine, connection: sa.Connection | None, tables: list[str], backup_dir: Path | str | None
) -> Path:
    """Back up before losing data; MigrationError (nothing changed) if the backup fails."""
    directory = Path(backup_dir) if backup_dir is not None else default_backup_dir(engine)
    try:
        if engine.dialect.name == "sqlite":
            return backup_sqlite(engine, directory)
        assert connection is not None, "PostgreSQL backups are taken inside the migration transaction"
        return backup_tables(connection, tables, directory)
    except OSError as exc:
        raise MigrationError(f"could not write the backup into {directory}: {exc}; nothing was changed") from None
