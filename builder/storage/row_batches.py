"""Many rows, each inserted or updated with its own values, as one statement where the database allows it.

A worker records what became of a batch of 100 timers or messages: one value set per row.
An executemany sends PostgreSQL 100 UPDATE statements (pipelined, but each planned and run
on its own). Here it is one, `UPDATE … FROM unnest(:ids, :statuses, …)`: an array per
column, so the statement's text is the same whatever the batch size, compiled once and
prepared by the driver (a `VALUES` list would be a new statement, 600 parameters long, for
every batch). Inserts go the same way: `INSERT … SELECT * FROM unnest(…)`. SQLite runs
in-process, where an executemany is already the cheap way.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

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
    each = _each(types)
    return build(lambda name: each.c[name])


def _each(types: Mapping[str, sa.types.TypeEngine[Any]]) -> sa.TableValuedAlias:
    """`unnest(:a_each, :b_each, …) AS each_row(a, b, …)`: one row per position of the arrays."""
    arrays = [sa.cast(sa.bindparam(f"{name}_each"), postgresql.ARRAY(kind)) for name, kind in types.items()]
    columns = (sa.column(name, kind) for name, kind in types.items())
    return sa.func.unnest(*arrays).table_valued(*columns, name="each_row").render_derived()


def insert_rows(conn: sa.Connection, table: sa.Table, rows: list[dict[str, Any]], *, unique: list[str]) -> None:
    """Insert `rows` (dicts with the same keys); one whose `unique` columns match a stored row is left out."""
    if not rows:
        return
    names = list(rows[0])
    if is_sqlite(conn) or any(row.keys() != rows[0].keys() for row in rows):
        dialect = sqlite if is_sqlite(conn) else postgresql
        conn.execute(dialect.insert(table).on_conflict_do_nothing(index_elements=unique), rows)
        return
    types = {name: table.c[name].type for name in names}
    each = _each(types)
    statement = (
        postgresql.insert(table)
        .from_select(names, sa.select(*(each.c[name] for name in names)))
        .on_conflict_do_nothing(index_elements=unique)
    )
    conn.execute(statement, {f"{name}_each": [row[name] for row in rows] for name in names})
