"""Many rows, each inserted or updated with its own values, as one statement where the database allows it.

A worker records what became of a batch of 100 timers or messages: one value set per row.
An executemany sends PostgreSQL 100 UPDATE statements (pipelined, but each planned and run
on its own). Here it is one, `UPDATE … FROM unnest(:ids, :statuses, …)`: an array per
column, so the statement's text is the same whatever the batch size, compiled once and
prepared by the driver (a `VALUES` list would be a new statement, 600 parameters long, for
every batch). Inserts go the same way: `INSERT … SELECT * FROM unnest(…)`. A column
holding one value for the whole batch (every timer fired at the same moment, every
message sent) is one parameter, not an array of a hundred copies: the driver quotes each
array element in Python, which was most of what a worker spent on these statements.
SQLite runs in-process, where an executemany is already the cheap way.
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
    varying, same = _split(rows, names)
    each = _each({name: types[name] for name in varying})
    statement = build(lambda name: each.c[name] if name in varying else sa.bindparam(name, type_=types[name]))
    return conn.execute(statement, _parameters(rows, varying, same)).rowcount


def _split(rows: list[dict[str, Any]], names: list[str]) -> tuple[list[str], dict[str, Any]]:
    """The columns whose values differ between rows, and the value of each column that holds one value.

    At least one column stays an array (the first varying, else the first), so unnest still
    gives one row per row of the batch.
    """
    first = rows[0]
    same = {name: first[name] for name in names if all(row[name] == first[name] for row in rows)}
    varying = [name for name in names if name not in same]
    if not varying:
        varying = [names[0]]
        del same[names[0]]
    return varying, same


def _parameters(rows: list[dict[str, Any]], varying: list[str], same: dict[str, Any]) -> dict[str, Any]:
    return {**same, **{f"{name}_each": [row[name] for row in rows] for name in varying}}


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
    varying, same = _split(rows, names)
    each = _each({name: table.c[name].type for name in varying})
    values = (each.c[name] if name in varying else sa.bindparam(name, type_=table.c[name].type) for name in names)
    statement = (
        postgresql.insert(table)
        .from_select(names, sa.select(*values).select_from(each))
        .on_conflict_do_nothing(index_elements=unique)
    )
    conn.execute(statement, _parameters(rows, varying, same))
