"""Narrowing text with --allow-data-loss: values cut in committed batches after the commit, then (PostgreSQL) the
type; a batch the database refuses stops with a clear error and a rerun finishes (migrations/rewrite_kinds.py)."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from storage_helpers import insert, rows

from builder.storage.migrations import MigrationError, apply_migration, migration_sql, plan_migration
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


def test_shorter_text_is_cut_in_committed_batches_then_the_type_changes(wide, entities_from):
    entities = entities_from(WIDE.replace("name: {type: text, max_length: 100}", "name: {type: text, max_length: 4}"))
    plan = plan_migration(wide, entities)
    assert plan.describe() == [
        "LOSES DATA narrow field patient.name (text): VARCHAR(100) -> VARCHAR(4) "
        "(shorter text (100 -> 4 characters)) (4 values are longer and would be cut)"
    ]
    sql = migration_sql(wide, plan)
    transaction, data = sql.split("-- then the data, in committed batches by id (resumable after a kill):\n")
    assert "substr" not in transaction and data.startswith("-- cutting patient.name to 4 characters\n")
    if wide.dialect.name == "postgresql":  # the type changes after the cut (it refuses longer values)
        assert "ALTER COLUMN name TYPE VARCHAR(4)" in data and "ALTER COLUMN name" not in transaction
    seen: list[tuple[int, list[str]]] = []

    def between_batches(description: str, done: int, total: int) -> None:
        assert (description, total) == ("cutting patient.name to 4 characters", 4)
        seen.append((done, [name for (name,) in rows(wide, "patient", "name")]))

    apply_migration(wide, plan, allow_data_loss=True, batch_size=2, on_progress=between_batches)
    assert seen == [
        (0, NAMES),
        (2, ["Ann ", "Bob ", "Cy", "Dora Mar", "Eli Tan"]),  # committed batch by batch, the rest as it was
        (4, ["Ann ", "Bob ", "Cy", "Dora", "Eli "]),
    ]
    assert rows(wide, "patient", "name") == [("Ann ",), ("Bob ",), ("Cy",), ("Dora",), ("Eli ",)]
    assert pending_rewrites(wide) == [] and plan_migration(wide, entities).is_empty
    if wide.dialect.name == "postgresql":
        assert _length(wide, "name") == 4


def test_a_batch_the_database_refuses_stops_clearly_and_a_rerun_finishes(wide, entities_from):
    entities = entities_from(WIDE.replace("code: {type: text, max_length: 100", "code: {type: text, max_length: 3"))
    insert(wide, "patient", {"name": "Ann Lee 2", "code": "Ann Lee-code-2"})  # "Ann" twice once cut
    plan = plan_migration(wide, entities)
    with pytest.raises(MigrationError) as stopped:
        apply_migration(wide, plan, allow_data_loss=True, batch_size=2)
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

    with wide.begin() as connection:  # the clinic fixes the data
        connection.execute(sa.text("UPDATE patient SET code = 'Zed' WHERE code = 'Ann Lee-code-2'"))
    run_pending_rewrites(wide, None, batch_size=2)
    assert [c for (c,) in rows(wide, "patient", "code")] == ["Ann", "Bob", "Cy-", "Dor", "Eli", "Zed"]
    assert pending_rewrites(wide) == [] and plan_migration(wide, entities).is_empty
