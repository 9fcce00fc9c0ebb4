"""Many rows, each updated with its own values, as one statement where the database allows it.

A worker records what became of a batch of 100 timers or messages: one value set per row.
An executemany sends PostgreSQL 100 UPDATE statements (pipelined, but each planned and run
on its own). Here it is one, `UPDATE … FROM unnest(:ids, :statuses, …)`: an array per
column, so the statement's text is the same whatever the batch size, compiled once and
prepared by the driver (a `VALUES` list would be a new statement, 600 parameters long, for
every batch). SQLite runs in-process, where an executemany is already the cheap way.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

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
    return conn.execute(
        _unnested(build, types), {f"{name}_each": [row[name] for row in rows] for name in names}
    ).rowcount


def _unnested(build: Build, types: Mapping[str, sa.types.TypeEngine[Any]]) -> sa.Update:
    arrays = [sa.cast(sa.bindparam(f"{name}_each"), postgresql.ARRAY(kind)) for name, kind in types.items()]
    each = (
        sa.func.unnest(*arrays)
        .table_valued(*(sa.column(name, kind) for name, kind in types.items()), name="each_row")
        .render_derived()
    )  # AS each_row(name, …)
    return build(lambda name: each.c[name])
