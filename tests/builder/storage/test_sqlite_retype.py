"""SQLite: a column's declared type rewritten in its CREATE TABLE text, nothing else (migrations/sqlite_retype.py).

When SQLite refuses to write its schema (defensive mode), the migration copies the table instead.
"""

from __future__ import annotations

import _sqlite3
import ctypes
import sqlite3
import struct
import sys

import pytest
import sqlalchemy as sa
from storage_helpers import insert, rows

from builder.storage.database import make_engine
from builder.storage.migrations import MigrationError, apply_migration, migration_sql, plan_migration
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


def _deny_writable_schema(dbapi_connection, _record) -> None:
    """An authorizer refusing `PRAGMA writable_schema = ON` (SQLite's own schema writes stay allowed)."""

    def authorize(action, name, value, _database, _source):
        switched_on = value is not None and value.upper() not in ("OFF", "0", "FALSE", "NO")
        if action == sqlite3.SQLITE_PRAGMA and name.lower() == "writable_schema" and switched_on:
            return sqlite3.SQLITE_DENY
        return sqlite3.SQLITE_OK

    dbapi_connection.set_authorizer(authorize)


SQLITE_DBCONFIG_DEFENSIVE = 1010


def _defensive(dbapi_connection, _record) -> None:
    """SQLITE_DBCONFIG_DEFENSIVE on, through the connection's `sqlite3 *` (first field after CPython's object head)."""
    library = ctypes.CDLL(_sqlite3.__file__)
    handle = ctypes.c_void_p.from_address(id(dbapi_connection) + object.__basicsize__).value
    library.sqlite3_db_filename.restype = ctypes.c_char_p
    file = library.sqlite3_db_filename(ctypes.c_void_p(handle), b"main").decode()
    assert file == dbapi_connection.execute("PRAGMA database_list").fetchone()[2], "not the connection's handle"
    state = ctypes.c_int(-1)
    assert library.sqlite3_db_config(ctypes.c_void_p(handle), SQLITE_DBCONFIG_DEFENSIVE, 1, ctypes.byref(state)) == 0
    assert state.value == 1


def _defensive_available() -> bool:
    if sys.implementation.name != "cpython" or hasattr(sys, "gettotalrefcount") or struct.calcsize("P") != 8:
        return False  # the handle's place in the connection object is known for release CPython only
    try:
        return hasattr(ctypes.CDLL(_sqlite3.__file__), "sqlite3_db_config")
    except OSError:
        return False


def _rootpage(engine: sa.Engine) -> int:
    with engine.connect() as connection:
        query = "SELECT rootpage FROM sqlite_master WHERE type = 'table' AND name = 'patient'"
        return int(connection.exec_driver_sql(query).scalar_one())


def _indexes(engine: sa.Engine) -> dict[str, str]:
    """Each index of patient by name, with its definition (the copy must keep the search indexes as they were)."""
    with engine.connect() as connection:
        found = connection.exec_driver_sql(
            "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'patient' AND sql IS NOT NULL"
        )
        return dict(found.all())


BEFORE = """
patient:
  search: [city, phone]
  fields:
    name: {type: text, max_length: 40}
    city: {type: text, max_length: 30}
    phone: {type: phone, region: CN}
"""


@pytest.mark.parametrize(
    "refuse",
    [
        pytest.param(_deny_writable_schema, id="authorizer"),
        pytest.param(
            _defensive,
            id="defensive",
            marks=pytest.mark.skipif(not _defensive_available(), reason="no sqlite3_db_config through ctypes"),
        ),
    ],
)
def test_a_sqlite_that_will_not_edit_its_schema_gets_the_table_copied(tmp_path, entities_from, keyring, refuse):
    """Encrypting a field (VARCHAR(40) -> TEXT): the plan finds the schema edit refused and copies the table."""
    engine = make_engine(f"sqlite:///{tmp_path / 'crm.sqlite3'}", check=False)  # no connection before `refuse`
    sa.event.listen(engine, "connect", refuse)
    try:
        apply_migration(engine, plan_migration(engine, entities_from(BEFORE)))
        insert(engine, "patient", {"name": "Ann Lee", "city": "Lyon"}, {"name": None, "city": "Oslo"})
        with engine.connect() as connection:  # the refusal is real
            with pytest.raises(sa.exc.DatabaseError, match=r"not authorized|may not be modified"):
                connection.exec_driver_sql("PRAGMA writable_schema = ON")
                connection.exec_driver_sql("UPDATE sqlite_master SET sql = sql WHERE name = 'patient'")
            connection.exec_driver_sql("PRAGMA writable_schema = OFF")
        before, indexes = _rootpage(engine), _indexes(engine)
        assert {"sx_patient_city_prefix", "sx_patient_phone_last4"} <= set(indexes)
        encrypted = entities_from(BEFORE.replace("max_length: 40", "encrypted: true"))
        plan = plan_migration(engine, encrypted)
        assert [line.strip() for line in plan.describe()] == [
            "add field search index of patient.name",
            "widen field patient.name (text, encrypted): VARCHAR(40) -> TEXT (longer text; this SQLite does not "
            "allow editing its schema, so the table is copied)",
            "add index on patient.name__hash",
            "encrypt the existing values of patient.name (text, encrypted) (1 values)",
            "add prefix search index on patient.city (again: the table is copied)",
            "add last 4 digits search index on patient.phone (again: the table is copied)",
        ]
        sql = migration_sql(engine, plan)
        assert "UPDATE sqlite_master" not in sql and "_alembic_tmp_patient" in sql

        result = _apply_as_planned(engine, plan, keyring=keyring)

        assert result.summary == [line.strip() for line in plan.describe()]  # nothing the plan did not say
        assert _rootpage(engine) != before, "the table was not copied"
        [(ann, ann_index, lyon), (none, no_index, oslo)] = rows(engine, "patient", "name", "name__hash", "city")
        assert keyring.decrypt(ann, "patient.name") == "Ann Lee" and ann_index == keyring.blind_index("Ann Lee")
        assert (none, no_index, lyon, oslo) == (None, None, "Lyon", "Oslo")
        with engine.connect() as connection:
            declared = connection.exec_driver_sql("SELECT sql FROM sqlite_master WHERE name = 'patient'").scalar_one()
            assert connection.exec_driver_sql("PRAGMA integrity_check").scalar() == "ok"
        assert "name TEXT" in declared and "VARCHAR(40)" not in declared
        assert _indexes(engine) == {**indexes, "ix_patient_name__hash": _indexes(engine)["ix_patient_name__hash"]}
        assert plan_migration(engine, encrypted).is_empty
    finally:
        engine.dispose()


def test_a_schema_edit_refused_only_at_apply_copies_the_table_and_keeps_its_indexes_as_they_were(
    tmp_path, entities_from
):
    """Planned where SQLite writes its schema, applied where it does not (the apply step falls back to a copy).

    Only the type changes, so the plan makes no index again: the copy itself must keep them, collation and all,
    and the summary says the table was copied after all.
    """
    url = f"sqlite:///{tmp_path / 'crm.sqlite3'}"
    planner, engine = make_engine(url, check=False), make_engine(url, check=False)
    sa.event.listen(engine, "connect", _deny_writable_schema)
    try:
        apply_migration(engine, plan_migration(engine, entities_from(BEFORE)))
        insert(engine, "patient", {"name": "Ann Lee", "city": "Lyon", "phone": "+8613912345678"})
        before, indexes = _rootpage(engine), _indexes(engine)
        longer = entities_from(BEFORE.replace("max_length: 30", "max_length: 60"))
        plan = plan_migration(planner, longer)
        assert [line.strip() for line in plan.describe()] == [
            "widen field patient.city (text): VARCHAR(30) -> VARCHAR(60) (longer text; only the declared type changes, "
            "the table is not copied)"
        ]

        result = apply_migration(engine, plan)

        assert (
            result.summary[-1]
            == "patient: copied to change the type of city (SQLite does not allow editing its schema)"
        )
        assert _rootpage(engine) != before
        assert rows(engine, "patient", "name", "city", "phone") == [("Ann Lee", "Lyon", "+8613912345678")]
        assert _indexes(engine) == indexes
        with engine.connect() as connection:
            declared = connection.exec_driver_sql("SELECT sql FROM sqlite_master WHERE name = 'patient'").scalar_one()
        assert "city VARCHAR(60)" in declared
        assert plan_migration(engine, longer).is_empty
    finally:
        planner.dispose()
        engine.dispose()


def _says_copied(lines: list[str]) -> bool:
    """Whether the plan's lines say patient's table is copied (and none says it is not, at the same time)."""
    text = "\n".join(lines)
    copied, kept = "the table is copied" in text, "the table is not copied" in text
    assert not (copied and kept), text
    return copied


def _apply_as_planned(engine: sa.Engine, plan, **options):
    """Apply `plan`; the table must have been copied (another rootpage) exactly when the plan and summary said so."""
    before = _rootpage(engine)
    result = apply_migration(engine, plan, **options)
    copied = _rootpage(engine) != before
    assert _says_copied(plan.describe()) == copied, (copied, plan.describe())
    assert _says_copied(result.summary) == copied, (copied, result.summary)
    return result


PLANS = {
    # encrypting: the declared type in place, the hash column added, its index made: nothing copies
    "encrypt": (
        {"max_length: 40": "encrypted: true"},
        [
            "add field search index of patient.name",
            "widen field patient.name (text, encrypted): VARCHAR(40) -> TEXT (longer text; only the declared type "
            "changes, the table is not copied)",
            "add index on patient.name__hash",
            "encrypt the existing values of patient.name (text, encrypted) (1 values)",
        ],
    ),
    # a new index alone: CREATE INDEX, no copy, so no search index is made again
    "index": (
        {"max_length: 40}": "max_length: 40, index: true}"},
        ["add index on patient.name"],
    ),
    # a unique constraint copies the table: the longer text goes with the copy, the search indexes are made again
    "unique": (
        {"max_length: 30}": "max_length: 60, unique: true}"},
        [
            "drop index ix_patient_city on patient",
            "widen field patient.city (text): VARCHAR(30) -> VARCHAR(60) (longer text; the table is copied for its "
            "other changes)",
            "make patient.city (text) unique",
            "add prefix search index on patient.city (again: the table is copied)",
            "add last 4 digits search index on patient.phone (again: the table is copied)",
        ],
    ),
}


@pytest.mark.parametrize("change", list(PLANS))
def test_the_plan_says_which_changes_copy_the_table(tmp_path, entities_from, keyring, change):
    """Plan, --dry-run and summary say "copied" exactly when the rootpage changes (a SQLite that edits its schema)."""
    engine = make_engine(f"sqlite:///{tmp_path / 'crm.sqlite3'}", check=False)
    try:
        apply_migration(engine, plan_migration(engine, entities_from(BEFORE)))
        insert(engine, "patient", {"name": "Ann Lee", "city": "Lyon", "phone": "+8613912345678"})
        indexes = _indexes(engine)
        replacements, expected = PLANS[change]
        blueprint = BEFORE
        for old, new in replacements.items():
            blueprint = blueprint.replace(old, new)
        after = entities_from(blueprint)
        plan = plan_migration(engine, after)
        assert [line.strip() for line in plan.describe()] == expected
        sql = migration_sql(engine, plan)
        assert ("_alembic_tmp_patient" in sql) == _says_copied(plan.describe())
        assert ("UPDATE sqlite_master" in sql) == ("only the declared type changes" in "\n".join(plan.describe()))

        result = _apply_as_planned(engine, plan, keyring=keyring)

        assert result.summary == expected
        search = {name: sql for name, sql in _indexes(engine).items() if name.startswith("sx_")}
        assert search == {name: sql for name, sql in indexes.items() if name.startswith("sx_")}  # copied or not
        assert plan_migration(engine, after).is_empty
    finally:
        engine.dispose()
