"""One row's INSERT, compiled once per table and set of columns to the driver's own SQL.

Every create in the record service inserts one row. Through `conn.execute(table.insert(), values)`
SQLAlchemy looks the compiled form up in its cache (a cache key walked per call), builds an execution
context and works out the primary key: about 30 µs a row on SQLite, as much as everything else an
import does to a row's values. Here the statement is compiled once per (dialect, table, columns), its
bind processors are taken once (dates and booleans as each driver stores them), and each row is sent with
`exec_driver_sql`: still SQLAlchemy's connection, so its error translation (an IntegrityError the record
service turns into a field message), its hidden parameters in errors and its invalidation of a connection
lost mid-statement (Ctrl-C) all hold. The id is the driver's `lastrowid` on SQLite (fetching a `RETURNING`
row there costs as much as the insert), `RETURNING id` on PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import sqlalchemy as sa

Processor = Callable[[Any], Any] | None


class RowInsert:
    """`INSERT INTO table (columns) VALUES (...)` for one dialect, ready for the driver, and how its id comes back."""

    def __init__(self, table: sa.Table, columns: Sequence[str], dialect: sa.Dialect):
        # SQLite's driver says the new rowid by itself; fetching a RETURNING row costs as much as the insert
        self.by_rowid = dialect.name == "sqlite"
        insert = table.insert() if self.by_rowid else table.insert().returning(table.c.id)
        compiled = insert.compile(dialect=dialect, column_keys=list(columns))
        self.sql = str(compiled)
        names = {bind.key: name for bind, name in compiled.bind_names.items()}
        if set(names) != set(columns):  # a column the table lacks: SQLAlchemy's own path says which
            raise sa.exc.CompileError(f"unknown columns for {table.name}: {sorted(set(columns) - set(names))}")
        processors = {key: _processor(table.c[key].type, dialect) for key in columns}
        self.positional = compiled.positional
        if self.positional:  # SQLite's qmark: values in the statement's order
            key_of = {name: key for key, name in names.items()}
            self.order = [(key_of[name], processors[key_of[name]]) for name in compiled.positiontup or ()]
        else:  # psycopg's pyformat: values by their bind names
            self.named = [(key, names[key], processors[key]) for key in columns]

    def parameters(self, values: Mapping[str, Any]) -> tuple[Any, ...] | dict[str, Any]:
        if self.positional:
            return tuple(values[key] if process is None else process(values[key]) for key, process in self.order)
        return {name: values[key] if process is None else process(values[key]) for key, name, process in self.named}

    def run(self, conn: sa.Connection, values: Mapping[str, Any]) -> int:
        """Insert `values` (exactly this statement's columns) and return the new row's id."""
        result = conn.exec_driver_sql(self.sql, self.parameters(values))
        return int(result.lastrowid if self.by_rowid else result.scalar_one())


def _processor(column_type: sa.types.TypeEngine[Any], dialect: sa.Dialect) -> Processor:
    """What SQLAlchemy applies to a value of this type before the driver sees it (None: nothing)."""
    return column_type.dialect_impl(dialect).bind_processor(dialect)


class RowInserts:
    """The `RowInsert`s of one record service, by table and column set (a table has few shapes;
    emptied when full, should a caller vary its columns without end)."""

    KEPT = 256

    def __init__(self) -> None:
        self._kept: dict[tuple[str, str, tuple[str, ...]], RowInsert] = {}

    def insert(self, conn: sa.Connection, table: sa.Table, values: Mapping[str, Any]) -> int:
        key = (conn.dialect.name, table.name, tuple(values))
        statement = self._kept.get(key)
        if statement is None:
            if len(self._kept) >= self.KEPT:
                self._kept.clear()
            statement = self._kept[key] = RowInsert(table, key[2], conn.dialect)
        return statement.run(conn, values)
