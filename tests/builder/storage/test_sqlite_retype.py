"""SQLite: a column's declared type rewritten in its CREATE TABLE text, nothing else (migrations/sqlite_retype.py)."""

from __future__ import annotations

import sqlite3

import pytest
import sqlalchemy as sa

from builder.storage.migrations import MigrationError
from builder.storage.migrations.sqlite_retype import affinity, retypes_in_place, with_column_type


def _declared(sql: str) -> list[tuple[str, str, int, str | None, int]]:
    """(name, type, notnull, default, pk) of each column, as SQLite reads `sql`."""
    scratch = sqlite3.connect(":memory:")
    try:
        scratch.execute(sql)
        table = scratch.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchone()[0]
        return [tuple(row[1:]) for row in scratch.execute(f'PRAGMA table_info("{table}")')]
    finally:
        scratch.close()


def _history_of_a_table() -> str:
    """A table made by SQLAlchemy, then given a column by ALTER TABLE and another renamed (SQLite quotes it)."""
    scratch = sqlite3.connect(":memory:")
    try:
        scratch.executescript(
            "CREATE TABLE patient (\n\tid INTEGER NOT NULL, \n\tname VARCHAR(40) NOT NULL DEFAULT 'x', \n"
            "\tname_alias VARCHAR(200), \n\tcode VARCHAR(20) COLLATE NOCASE, \n\tprice NUMERIC(10, 2), \n"
            "\tPRIMARY KEY (id), \n\tCONSTRAINT uq_patient_code UNIQUE (code), \n"
            "\tCHECK (length(name) > 0)\n);\n"
            "ALTER TABLE patient ADD COLUMN email VARCHAR(200);\n"
            "ALTER TABLE patient ADD COLUMN bare;\n"
            'ALTER TABLE patient RENAME COLUMN name_alias TO "order";\n'
        )
        return scratch.execute("SELECT sql FROM sqlite_master WHERE name = 'patient'").fetchone()[0]
    finally:
        scratch.close()


@pytest.mark.parametrize(
    ("column", "declared", "was", "becomes"),
    [
        ("name", "TEXT", "name VARCHAR(40) NOT NULL", "name TEXT NOT NULL"),
        ("email", "TEXT", "email VARCHAR(200),", "email TEXT,"),
        ("order", "VARCHAR(10)", '"order" VARCHAR(200)', '"order" VARCHAR(10)'),
        ("code", "TEXT", "code VARCHAR(20) COLLATE", "code TEXT COLLATE"),
        ("price", "NUMERIC(12, 4)", "price NUMERIC(10, 2),", "price NUMERIC(12, 4),"),
    ],
)
def test_only_the_named_columns_type_changes(column, declared, was, becomes):
    sql = _history_of_a_table()
    changed = with_column_type(sql, column, declared)
    expected = [(name, declared if name == column else kind, *rest) for name, kind, *rest in _declared(sql)]
    assert _declared(changed) == expected
    # everything but the type is kept character for character (constraints, collation, defaults)
    assert sql.count(was) == 1 and changed == sql.replace(was, becomes)


def test_a_column_without_a_declared_type_gets_one():
    sql = _history_of_a_table()
    assert dict((name, kind) for name, kind, *_ in _declared(with_column_type(sql, "bare", "TEXT")))["bare"] == "TEXT"


def test_an_unknown_column_is_refused():
    with pytest.raises(MigrationError, match="could not find column nope"):
        with_column_type(_history_of_a_table(), "nope", "TEXT")


def test_affinity_follows_sqlites_rules():
    assert [affinity(t) for t in ("VARCHAR(10)", "TEXT", "CLOB", "BIGINT", "NUMERIC(10, 2)", "REAL", "", "DATE")] == [
        "TEXT",
        "TEXT",
        "TEXT",
        "INTEGER",
        "NUMERIC",
        "REAL",
        "BLOB",
        "NUMERIC",
    ]


def test_only_changes_within_one_affinity_and_never_integers_go_in_place():
    assert retypes_in_place(sa.String(200), sa.Text())
    assert retypes_in_place(sa.Text(), sa.String(10))
    assert retypes_in_place(sa.Numeric(10, 2), sa.Numeric(12, 4))
    assert not retypes_in_place(sa.String(20), sa.Integer())  # a real conversion: the table is copied
    assert not retypes_in_place(sa.Integer(), sa.BigInteger())  # INTEGER PRIMARY KEY is the rowid, BIGINT's is not
    assert not retypes_in_place(sa.Date(), sa.DateTime())
