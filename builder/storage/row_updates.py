"""Many rows, each updated with its own values, as one statement where the database allows it.

A worker records what became of a batch of 100 timers or messages: one value set per row.
An executemany sends PostgreSQL 100 UPDATE statements (pipelined, but each planned and run
on its own); `UPDATE … FROM (VALUES …)` is one, which is what a hand-written loop would do.
SQLite runs in-process, where an executemany is already the cheap way.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import sqlalchemy as sa

from .database import is_sqlite

# `build(value)` makes the UPDATE; `value(name)` stands for that row's value of `name` in it.
Build = Callable[[Callable[[str], sa.ColumnElement[Any]]], sa.Update]


def update_rows(
    conn: sa.Connection, rows: list[dict[str, Any]], types: Mapping[str, sa.types.TypeEngine[Any]], build: Build
) -> int:
    """Run `build`'s UPDATE once per row of `rows` (dicts keyed by the names in `types`); rows changed."""
    if not rows:
        return 0
    names = list(types)
    if is_sqlite(conn):
        statement = build(lambda name: sa.bindparam(name, type_=types[name]))
        return conn.execute(statement, rows).rowcount
    values = sa.values(*(sa.column(name, types[name]) for name in names), name="each_row").data(
        [tuple(row[name] for name in names) for row in rows]
    )
    # a column that is NULL in every row has no type PostgreSQL can infer: each use says its type
    return conn.execute(build(lambda name: sa.cast(values.c[name], types[name]))).rowcount
