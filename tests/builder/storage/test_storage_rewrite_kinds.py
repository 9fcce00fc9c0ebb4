"""Narrowing text with --allow-data-loss: values cut in committed batches after the commit, each batch backing up the
values it cuts; on PostgreSQL a length check instead of a type change (the table is never rewritten), replaced or
dropped when the field widens; a batch the database refuses stops with a clear error and a rerun finishes
(migrations/rewrite_kinds.py, migrations/length_checks.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import sqlalchemy as sa
from storage_helpers import insert, rows

from builder.storage.migrations import MigrationError, apply_migration, migration_sql, plan_migration
from builder.storage.migrations.length_checks import read_length_checks
from builder.storage.migrations.rewrites import pending_rewrites, run_pending_rewrites

WIDE = """
patient:
  fields:
    name: {type: text, max_length: 100}
    code: {type: text, max_length: 100, unique: true}
"""
NAMES = ["Ann Lee", "Bob Wu", "Cy", "Dora Mar", "Eli Tan"]


@pytest.fixture
def wide(engine, entities_from):
    apply_migration(engine, plan_migration(engine, entities_from(WIDE)))
    insert(engine, "patient", *[{"name": name, "code": f"{name}-code"} for name in NAMES])
    return engine


def _length(engine: sa.Engine, column: str) -> int | None:
    found = {c["name"]: c["type"] for c in sa.inspect(engine).get_columns("patient")}
    return getattr(found[column], "length", None)


def _table_file(engine: sa.Engine) -> int:
    """Where the table's rows are: a rewrite (PostgreSQL ALTER TYPE, a SQLite table copy) moves them elsewhere.

    PostgreSQL: the table's file; SQLite: the first page of its b-tree (`rootpage`)."""
    query = (
        "SELECT rootpage FROM sqlite_master WHERE type = 'table' AND name = 'patient'"
        if engine.dialect.name == "sqlite"
        else "SELECT relfilenode FROM pg_class WHERE relname = 'patient'"
    )
    with engine.connect() as connection:
        return int(connection.execute(sa.text(query)).scalar_one())


def _backup_lines(result, column: str) -> list[dict]:
    assert result.backup is not None
    path = result.backup / f"patient.{column}.jsonl"
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_shorter_text_is_cut_in_committed_batches_then_checked(wide, entities_from, tmp_path):
    entities = entities_from(WIDE.replace("name: {type: text, max_length: 100}", "name: {type: text, max_length: 4}"))
    plan = plan_migration(wide, entities)
    postgresql = wide.dialect.name == "postgresql"
    how = (
        "; the column stays VARCHAR(100), a check holds it to 4"
        if postgresql
        else "; only the declared type changes, the table is not copied"
    )
    assert plan.describe() == [
        "LOSES DATA narrow field patient.name (text): VARCHAR(100) -> VARCHAR(4) "
        f"(shorter text (100 -> 4 characters){how}) (4 values are longer and would be cut)"
    ]
    sql = migration_sql(wide, plan)
    transaction, data = sql.split("-- then the data, in committed batches by id (resumable after a kill):\n")
    assert "substr" not in transaction and data.startswith("-- cutting patient.name to 4 characters\n")
    if postgresql:  # no type change at all: a check added NOT VALID once the values are cut, then validated
        assert "ALTER COLUMN name" not in sql
        assert (
            "ALTER TABLE patient ADD CONSTRAINT ck_len_patient_name CHECK (char_length(name) <= 4) NOT VALID;\n"
            "ALTER TABLE patient VALIDATE CONSTRAINT ck_len_patient_name;\n"
        ) in data
    else:  # SQLite: the declared type alone, in the schema; no copy of the table
        assert "_alembic_tmp" not in transaction and "INSERT INTO" not in transaction
        assert "UPDATE sqlite_master SET sql" in transaction
    table_file = _table_file(wide)
    seen: list[tuple[int, list[str]]] = []

    def between_batches(description: str, done: int, total: int) -> None:
        assert (description, total) == ("cutting patient.name to 4 characters", 4)
        seen.append((done, [name for (name,) in rows(wide, "patient", "name")]))

    result = apply_migration(
        wide, plan, allow_data_loss=True, batch_size=2, on_progress=between_batches, backup_dir=tmp_path / "backups"
    )
    assert seen == [
        (0, NAMES),
        (2, ["Ann ", "Bob ", "Cy", "Dora Mar", "Eli Tan"]),  # committed batch by batch, the rest as it was
        (4, ["Ann ", "Bob ", "Cy", "Dora", "Eli "]),
    ]
    assert rows(wide, "patient", "name") == [("Ann ",), ("Bob ",), ("Cy",), ("Dora",), ("Eli ",)]
    assert pending_rewrites(wide) == [] and plan_migration(wide, entities).is_empty
    # The backup holds each value cut, as it was, once (and nothing for "Cy", which fitted).
    assert _backup_lines(result, "name") == [
        {"id": 1, "name": "Ann Lee"},
        {"id": 2, "name": "Bob Wu"},
        {"id": 4, "name": "Dora Mar"},
        {"id": 5, "name": "Eli Tan"},
    ]
    assert _table_file(wide) == table_file, "the table was rewritten"
    assert _length(wide, "name") == (100 if postgresql else 4)
    if postgresql:
        with pytest.raises(sa.exc.IntegrityError, match="ck_len_patient_name"), wide.begin() as connection:
            connection.execute(sa.text("UPDATE patient SET name = 'Anna' || name WHERE id = 3"))


def _checks(engine: sa.Engine) -> dict[tuple[str, str], tuple[int, bool]]:
    with engine.connect() as connection:
        return {key: (check.length, check.valid) for key, check in read_length_checks(connection).items()}


def _migrate(engine: sa.Engine, backups: Path, entities: dict) -> list[str]:
    plan = plan_migration(engine, entities)
    apply_migration(engine, plan, allow_data_loss=True, backup_dir=backups / "backups")
    assert plan_migration(engine, entities).is_empty, "after a migration the database matches the blueprint"
    return plan.describe()


def test_a_checked_length_widens_and_narrows_again_without_rewriting_the_table(wide, entities_from, tmp_path):
    def name_length(length: int | None) -> dict:
        spelled = "name: {type: long_text}" if length is None else f"name: {{type: text, max_length: {length}}}"
        return entities_from(WIDE.replace("name: {type: text, max_length: 100}", spelled))

    postgresql = wide.dialect.name == "postgresql"
    before = _table_file(wide)
    _migrate(wide, tmp_path, name_length(10))
    if postgresql:
        assert _checks(wide) == {("patient", "name"): (10, True)}
    # Wider, still within VARCHAR(100): the check is replaced (nothing is longer, nothing cut).
    if postgresql:  # in the migration's transaction, NOT VALID; validated after the commit
        sql = migration_sql(wide, plan_migration(wide, name_length(50)))
        transaction, data = sql.split("-- then the data, in committed batches by id (resumable after a kill):\n")
        assert "DROP CONSTRAINT IF EXISTS ck_len_patient_name" in transaction
        assert "CHECK (char_length(name) <= 50) NOT VALID" in transaction and "ALTER COLUMN" not in sql
        assert data.rstrip().endswith("\nALTER TABLE patient VALIDATE CONSTRAINT ck_len_patient_name;")
    plan = _migrate(wide, tmp_path, name_length(50))
    if postgresql:
        assert plan == [
            "           widen field patient.name (text): VARCHAR(10) -> VARCHAR(50) "
            "(longer text; the column stays VARCHAR(100), a check holds it to 50)"
        ]
        assert _checks(wide) == {("patient", "name"): (50, True)} and _length(wide, "name") == 100
    insert(wide, "patient", {"name": "x" * 50, "code": "wide"})
    # Narrower again: cut, checked.
    _migrate(wide, tmp_path, name_length(20))
    assert rows(wide, "patient", "name")[-1] == ("x" * 20,)
    # Back to the column's own type: the check is dropped, the type stays.
    plan = _migrate(wide, tmp_path, name_length(100))
    if postgresql:
        assert plan == [
            "           widen field patient.name (text): VARCHAR(20) -> VARCHAR(100) "
            "(longer text; its length check is dropped)"
        ]
        assert _checks(wide) == {} and _length(wide, "name") == 100
    _migrate(wide, tmp_path, name_length(30))
    # Wider than the type: the type widens (no rewrite either), the check goes.
    _migrate(wide, tmp_path, name_length(200))
    if postgresql:
        assert _checks(wide) == {} and _length(wide, "name") == 200
    _migrate(wide, tmp_path, name_length(30))
    _migrate(wide, tmp_path, name_length(None))  # unlimited text
    if postgresql:
        assert _checks(wide) == {}
    assert _length(wide, "name") is None
    assert _table_file(wide) == before, "the table was rewritten"
    insert(wide, "patient", {"name": "y" * 300, "code": "long"})


def test_a_batch_the_database_refuses_stops_clearly_and_a_rerun_finishes(wide, entities_from, tmp_path):
    entities = entities_from(WIDE.replace("code: {type: text, max_length: 100", "code: {type: text, max_length: 3"))
    insert(wide, "patient", {"name": "Ann Lee 2", "code": "Ann Lee-code-2"})  # "Ann" twice once cut
    plan = plan_migration(wide, entities)
    with pytest.raises(MigrationError) as stopped:
        apply_migration(wide, plan, allow_data_loss=True, batch_size=2, backup_dir=tmp_path / "backups")
    message = str(stopped.value)
    assert message.startswith("cutting patient.code to 3 characters stopped after 4 rows: ")
    assert "run crm migrate again to finish" in message
    assert [c for (c,) in rows(wide, "patient", "code")] == [
        "Ann",
        "Bob",
        "Cy-",
        "Dor",
        "Eli Tan-code",  # its batch (with the duplicate) was rolled back; the ones before stand
        "Ann Lee-code-2",
    ]
    [job] = pending_rewrites(wide)
    assert (job.step, job.rows_done) == ("cut", 4)
    [backup] = (tmp_path / "backups").glob("migration-*/patient.code.jsonl")
    assert backup.stat().st_size == job.backup_bytes
    with backup.open("a", encoding="utf-8") as out:  # as if killed after a batch wrote its lines, before its commit
        out.write('{"id": 5, "code": "Eli Tan-code"}\n{"id": 6, "co')

    with wide.begin() as connection:  # the clinic fixes the data
        connection.execute(sa.text("UPDATE patient SET code = 'Zed' WHERE code = 'Ann Lee-code-2'"))
    run_pending_rewrites(wide, None, batch_size=2)
    assert [c for (c,) in rows(wide, "patient", "code")] == ["Ann", "Bob", "Cy-", "Dor", "Eli", "Zed"]
    assert pending_rewrites(wide) == [] and plan_migration(wide, entities).is_empty
    # The uncommitted batch's lines were cut off: every value cut is in the backup exactly once.
    assert [json.loads(line) for line in backup.read_text(encoding="utf-8").splitlines()] == [
        {"id": n, "code": f"{name}-code"} for n, name in enumerate(NAMES, start=1)
    ]
