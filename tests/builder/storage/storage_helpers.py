"""Plain helpers for the storage tests: rows in and out, table and column names."""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa

NOW = dt.datetime(2024, 5, 1, 9, 30)


def insert(engine: sa.Engine, table: str, *rows: dict[str, Any]) -> None:
    """Insert rows with the system columns filled in."""
    with engine.begin() as connection:
        target = sa.Table(table, sa.MetaData(), autoload_with=connection)
        stamped = []
        for row in rows:
            if "created_at" in target.c:
                row = {"created_at": NOW, "updated_at": NOW, **row}
            stamped.append(row)
        connection.execute(target.insert(), stamped)


def rows(engine: sa.Engine, table: str, *columns: str) -> list[tuple]:
    """The chosen columns of every row, by id."""
    with engine.connect() as connection:
        target = sa.Table(table, sa.MetaData(), autoload_with=connection)
        return [tuple(r) for r in connection.execute(sa.select(*[target.c[c] for c in columns]).order_by(target.c.id))]


def table_names(engine: sa.Engine) -> set[str]:
    return set(sa.inspect(engine).get_table_names())


def column_names(engine: sa.Engine, table: str) -> set[str]:
    return {c["name"] for c in sa.inspect(engine).get_columns(table)}
