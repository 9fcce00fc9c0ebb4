"""SQLite: a column type change within one type affinity, without copying the table.

SQLite stores a value by the column's affinity only (TEXT, NUMERIC, INTEGER, REAL,
BLOB): VARCHAR(200), VARCHAR(10) and TEXT store the same bytes and enforce no length.
Alembic's batch mode would still copy the whole table to change the declared type,
holding the write lock for the copy (1.5-3 s at 100,000 rows). So when the affinity
stays the same (text of any length; decimals of any precision) only the declared type
in the table's `CREATE TABLE` text changes, the way SQLite's documentation describes
for changes that leave the stored rows as they are ("Making Other Kinds Of Table Schema
Changes", lang_altertable.html): `PRAGMA writable_schema`, an UPDATE of `sqlite_master`,
and `schema_version` raised so every other connection reads the schema again. All in
the migration's transaction; the new text is first checked in a scratch database to
define the same columns, keys and indexes with only that one type changed.

A SQLite in defensive mode (SQLITE_DBCONFIG_DEFENSIVE, or an authorizer) refuses to
write its schema: the plan asks it first (`accepts_schema_edits`) and plans a table copy
instead. Should it refuse at apply all the same, the edit, in a savepoint, is rolled back
and `retype` says so; the caller then copies the table the ordinary way, in the same
transaction (alterations.py).

Integers never go this way: `INTEGER PRIMARY KEY` is the rowid and `BIGINT PRIMARY KEY`
is not, so the declared type can change how rows are stored.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from alembic.operations import Operations

from .errors import MigrationError
from .types import kind_of

# Kinds whose values SQLite stores alike whatever their declared size (same affinity).
_FAMILIES = ({"text", "long_text"}, {"decimal"}, {"float"})
# Words that end a column's type in `CREATE TABLE` (its constraints begin).
_CONSTRAINT_WORDS = {
    "CONSTRAINT",
    "PRIMARY",
    "NOT",
    "NULL",
    "UNIQUE",
    "CHECK",
    "DEFAULT",
    "COLLATE",
    "REFERENCES",
    "GENERATED",
    "AS",
}
_TABLE_CONSTRAINTS = {"CONSTRAINT", "PRIMARY", "UNIQUE", "CHECK", "FOREIGN"}
_QUOTES = {'"': '"', "`": "`", "[": "]", "'": "'"}


def affinity(declared: str) -> str:
    """SQLite's rules for a declared type's affinity (datatype3.html, 3.1), in their order."""
    name = declared.upper()
    if "INT" in name:
        return "INTEGER"
    if any(word in name for word in ("CHAR", "CLOB", "TEXT")):
        return "TEXT"
    if "BLOB" in name or not name.strip():
        return "BLOB"
    if any(word in name for word in ("REAL", "FLOA", "DOUB")):
        return "REAL"
    return "NUMERIC"


def sqlite_sql(column_type: Any) -> str:
    return str(column_type.compile(dialect=sa.dialects.sqlite.dialect()))


def retypes_in_place(old: Any, new: Any) -> bool:
    """Whether SQLite can change `old` to `new` by its declared type alone (same family, same affinity)."""
    if isinstance(new, sa.Enum) and new.create_constraint:
        return False  # a CHECK constraint would come with it
    if not any(kind_of(old) in family and kind_of(new) in family for family in _FAMILIES):
        return False
    return affinity(sqlite_sql(old)) == affinity(sqlite_sql(new))


def _skip_quoted(sql: str, index: int) -> int:
    """The index just after the quoted name or string starting at `index` (doubled quotes escape)."""
    close = _QUOTES[sql[index]]
    index += 1
    while index < len(sql):
        if sql[index] == close:
            if close != "]" and index + 1 < len(sql) and sql[index + 1] == close:
                index += 2
                continue
            return index + 1
        index += 1
    raise MigrationError("could not read the table's definition (an unclosed quote)")


def _definitions(sql: str) -> list[tuple[int, int]]:
    """(start, end) of each column or table constraint between the outer parentheses of `CREATE TABLE`."""
    index, depth, start = 0, 0, 0
    spans: list[tuple[int, int]] = []
    while index < len(sql):
        char = sql[index]
        if char in _QUOTES:
            index = _skip_quoted(sql, index)
            continue
        if char == "(":
            depth += 1
            if depth == 1:
                start = index + 1
        elif char == ")":
            depth -= 1
            if depth == 0:
                spans.append((start, index))
                return spans
        elif char == "," and depth == 1:
            spans.append((start, index))
            start = index + 1
        index += 1
    raise MigrationError("could not read the table's definition (unbalanced parentheses)")


def _token(sql: str, index: int, end: int) -> tuple[str, int, bool]:
    """The word or quoted name at `index` (after spaces), where it ends, and whether it was quoted."""
    while index < end and sql[index].isspace():
        index += 1
    if index < end and sql[index] in _QUOTES:
        after = _skip_quoted(sql, index)
        return sql[index + 1 : after - 1], after, True
    after = index
    while after < end and (sql[after].isalnum() or sql[after] in "_$"):
        after += 1
    return sql[index:after], after, False


def _type_span(sql: str, start: int, end: int) -> tuple[int, int]:
    """Where the declared type of the column definition sql[start:end] lies (its name skipped)."""
    _, index, _ = _token(sql, start, end)
    type_start = type_end = index
    while True:
        word, after, quoted = _token(sql, type_end, end)
        if not word or quoted or word.upper() in _CONSTRAINT_WORDS:
            break
        type_end = after
        probe = type_end
        while probe < end and sql[probe].isspace():
            probe += 1
        if probe < end and sql[probe] == "(":  # VARCHAR(200), NUMERIC(10, 2)
            closing = sql.index(")", probe)
            type_end = closing + 1
    while type_start < type_end and sql[type_start].isspace():
        type_start += 1
    return type_start, type_end


def with_column_type(sql: str, column: str, declared: str) -> str:
    """`sql` (a CREATE TABLE) with `column` declared as `declared`, every other character kept."""
    found: list[tuple[int, int]] = []
    for start, end in _definitions(sql):
        name, _, quoted = _token(sql, start, end)
        if not quoted and name.upper() in _TABLE_CONSTRAINTS:
            continue
        if name.lower() == column.lower():
            found.append(_type_span(sql, start, end))
    if len(found) != 1:
        raise MigrationError(f"could not find column {column} in the table's definition")
    type_start, type_end = found[0]
    if type_start == type_end:  # no declared type: one is added after the name
        return f"{sql[:type_start]} {declared}{sql[type_end:]}"
    return f"{sql[:type_start]}{declared}{sql[type_end:]}"


def _shape(sql: str, table: str) -> tuple[list[tuple], list[tuple], list[tuple]]:
    """Columns, indexes and foreign keys that `sql` defines, read back by SQLite itself."""
    scratch = sqlite3.connect(":memory:")
    try:
        scratch.execute(sql)
        quoted = table.replace('"', '""')
        columns = scratch.execute(f'PRAGMA table_xinfo("{quoted}")').fetchall()
        indexes = [row[1:] for row in scratch.execute(f'PRAGMA index_list("{quoted}")').fetchall()]
        keys = scratch.execute(f'PRAGMA foreign_key_list("{quoted}")').fetchall()
    except sqlite3.Error as exc:
        raise MigrationError(f"could not change the declared type in {table}'s definition: {exc}") from None
    finally:
        scratch.close()
    return columns, indexes, keys


def _check_same_but_type(old_sql: str, new_sql: str, table: str, column: str, declared: str) -> None:
    old_columns, old_indexes, old_keys = _shape(old_sql, table)
    new_columns, new_indexes, new_keys = _shape(new_sql, table)
    expected = [(*row[:2], declared, *row[3:]) if row[1].lower() == column.lower() else row for row in old_columns]
    if new_columns != expected or new_indexes != old_indexes or new_keys != old_keys:
        raise MigrationError(f"changing the declared type of {table}.{column} would change more than its type")


# What SQLite says when it will not let the schema be written: defensive mode, an authorizer.
_REFUSALS = ("may not be modified", "not authorized")


def _refused(exc: sa.exc.DBAPIError) -> bool:
    return isinstance(exc.orig, sqlite3.DatabaseError) and any(words in str(exc.orig) for words in _REFUSALS)


def accepts_schema_edits(connection: sa.Connection) -> bool:
    """Whether this SQLite lets `retype` write its schema: the statements it runs, changing nothing.

    In defensive mode `PRAGMA writable_schema = ON` is ignored (it reads back 0) and
    sqlite_master stays read-only; an authorizer may refuse the pragma or the UPDATE.
    In a savepoint of the caller's transaction, `writable_schema` off again at once.
    """

    def edit() -> bool:
        if not connection.exec_driver_sql("PRAGMA writable_schema").scalar():
            return False
        connection.exec_driver_sql("UPDATE sqlite_master SET sql = sql WHERE 0")
        return True

    return _with_writable_schema(connection, edit)


def _with_writable_schema(connection: sa.Connection, edit: Callable[[], bool]) -> bool:
    """`edit()` in a savepoint with `PRAGMA writable_schema` on; False, rolled back, when SQLite refuses it."""
    try:
        with connection.begin_nested():
            connection.exec_driver_sql("PRAGMA writable_schema = ON")
            try:
                return edit()
            finally:
                connection.exec_driver_sql("PRAGMA writable_schema = OFF")
    except sa.exc.DBAPIError as exc:
        if not _refused(exc):
            raise
        return False


def index_definitions(connection: sa.Connection, table: str) -> dict[str, str]:
    """Name -> CREATE INDEX of each of `table`'s indexes made by a statement (not a constraint's own)."""
    found = connection.exec_driver_sql(
        "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = ? AND sql IS NOT NULL", (table,)
    )
    return dict(found.all())


def retype(ops: Operations, table: str, column: str, new_type: Any) -> bool:
    """Declare `table.column` as `new_type` in the schema only (the caller checked `retypes_in_place`).

    False, with nothing changed, when SQLite refuses to write its schema (defensive mode):
    the table must then be copied.
    """
    declared = sqlite_sql(new_type)
    if ops.migration_context.as_sql:  # --dry-run: the statements, with the definition as it will be
        ops.execute(f"-- SQLite: only the declared type of {table}.{column} changes, to {declared} (no table copy):")
        ops.execute("PRAGMA writable_schema = ON")
        ops.execute(
            f"UPDATE sqlite_master SET sql = '<the definition with {column} {declared}>' "
            f"WHERE type = 'table' AND name = '{table}'"
        )
        ops.execute("PRAGMA schema_version = <schema_version + 1>")
        ops.execute("PRAGMA writable_schema = OFF")
        return True
    connection = ops.get_bind()
    found = connection.exec_driver_sql(
        "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?", (table,)
    ).scalar_one()
    new_sql = with_column_type(found, column, declared)
    if new_sql == found:
        return True
    _check_same_but_type(found, new_sql, table, column, declared)
    version = connection.exec_driver_sql("PRAGMA schema_version").scalar_one()

    def edit() -> bool:
        connection.exec_driver_sql(
            "UPDATE sqlite_master SET sql = ? WHERE type = 'table' AND name = ?", (new_sql, table)
        )
        connection.exec_driver_sql(f"PRAGMA schema_version = {int(version) + 1}")
        return True

    return _with_writable_schema(connection, edit)
