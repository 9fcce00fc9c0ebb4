"""PostgreSQL: a dropped field's backup is dumped before writers are held off, and still holds every value dropped.

A writer is in flight (it holds the migration lock shared, as every server write does)
when `crm migrate` starts dropping `patient.notes`: the migration copies and dumps the
table, then waits for the writer; the writer changes a row, adds one and deletes one,
and commits; the migration appends what changed under its lock (drop_backup.py).
"""

from __future__ import annotations

import json
import threading
import time

import pytest
import sqlalchemy as sa
from storage_helpers import insert, rows

from builder.storage.database import make_engine
from builder.storage.locks import MIGRATION_LOCK
from builder.storage.migrations import apply_migration, plan_migration

BASE = """
patient:
  fields:
    name: {type: text, max_length: 40}
    notes: {type: long_text}
"""
WAITING = sa.text(
    "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"
    " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
)
COPIES = sa.text("SELECT count(*) FROM pg_class WHERE relname LIKE 'crm_backup_copy_%'")


@pytest.mark.postgres
def test_values_written_while_the_backup_was_dumped_are_in_it(postgres_url, entities_from, tmp_path):
    engine = make_engine(postgres_url)
    try:
        apply_migration(engine, plan_migration(engine, entities_from(BASE)))
        insert(engine, "patient", *[{"name": f"P{n}", "notes": f"note {n}"} for n in (1, 2, 3)])
        plan = plan_migration(engine, entities_from(BASE.replace("    notes: {type: long_text}\n", "")))
        found: dict = {}

        with engine.connect() as writer:
            writer.begin()
            writer.execute(sa.select(sa.func.pg_advisory_xact_lock_shared(MIGRATION_LOCK)))  # a write in flight
            migrating = threading.Thread(
                target=lambda: found.update(
                    result=apply_migration(engine, plan, allow_data_loss=True, backup_dir=tmp_path / "backups")
                )
            )
            migrating.start()
            deadline = time.monotonic() + 60
            while not writer.execute(WAITING).scalar_one():  # the dump is written; the migration waits for us
                assert time.monotonic() < deadline, "the migration never waited for the writer"
                time.sleep(0.01)
            writer.execute(sa.text("UPDATE patient SET notes = 'changed 1' WHERE id = 1"))
            writer.execute(sa.text("DELETE FROM patient WHERE id = 3"))
            new = "INSERT INTO patient (name, notes, created_at, updated_at) VALUES ('P4', 'note 4', now(), now())"
            writer.execute(sa.text(new))
            dropped_now = {1: "changed 1", 2: "note 2", 4: "note 4"}  # what the drop will find
            writer.commit()
        migrating.join(timeout=60)

        result = found["result"]
        lines = [json.loads(line) for line in (result.backup / "patient.jsonl").read_text("utf-8").splitlines()]
        last = {line["id"]: line["notes"] for line in lines}  # a later line of an id supersedes an earlier one
        assert {row_id: last[row_id] for row_id in dropped_now} == dropped_now
        assert last[3] == "note 3"  # deleted by the writer, not by the migration: its line stays
        assert [line["id"] for line in lines] == [1, 2, 3, 1, 4]  # the dump by id, then what changed since
        assert rows(engine, "patient", "name") == [("P1",), ("P2",), ("P4",)]
        with engine.connect() as connection:
            assert connection.execute(COPIES).scalar_one() == 0, "the server-side copies were dropped"
    finally:
        engine.dispose()


@pytest.mark.postgres
def test_rows_written_in_savepoints_of_a_transaction_open_during_the_copy_are_in_it(
    postgres_url, entities_from, tmp_path
):
    """The backup tells rows written since the copy by their `xmin`: a savepoint's rows carry a subtransaction's id.

    The writer's transaction has its id, and a savepoint's update, before the copy is made;
    another transaction ends after them, so the copy's snapshot lists the writer as running
    but not its subtransaction, and "invisible to the copy's snapshot" would miss the row
    (pg_visible_in_snapshot says visible). Frozen rows (an old `xmin`) are not appended again.
    """
    engine = make_engine(postgres_url)
    try:
        apply_migration(engine, plan_migration(engine, entities_from(BASE)))
        insert(engine, "patient", *[{"name": f"P{n}", "notes": f"note {n}"} for n in (1, 2, 3)])
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.execute(sa.text("VACUUM FREEZE patient"))
        plan = plan_migration(engine, entities_from(BASE.replace("    notes: {type: long_text}\n", "")))
        found: dict = {}

        with engine.connect() as writer:
            writer.begin()
            writer.execute(sa.select(sa.func.pg_advisory_xact_lock_shared(MIGRATION_LOCK)))
            with writer.begin_nested():  # a subtransaction id, taken before the copy
                writer.execute(sa.text("UPDATE patient SET notes = 'changed 1' WHERE id = 1"))
            with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as other:
                other.execute(sa.text("SELECT txid_current()"))  # a later transaction ends: the copy's xmax passes ours
            migrating = threading.Thread(
                target=lambda: found.update(
                    result=apply_migration(engine, plan, allow_data_loss=True, backup_dir=tmp_path / "backups")
                )
            )
            migrating.start()
            deadline = time.monotonic() + 60
            while not writer.execute(WAITING).scalar_one():
                assert time.monotonic() < deadline, "the migration never waited for the writer"
                time.sleep(0.01)
            with writer.begin_nested():
                new = "INSERT INTO patient (name, notes, created_at, updated_at) VALUES ('P4', 'note 4', now(), now())"
                writer.execute(sa.text(new))
            writer.commit()
        migrating.join(timeout=60)

        backup = found["result"].backup / "patient.jsonl"
        lines = [json.loads(line) for line in backup.read_text("utf-8").splitlines()]
        assert [(line["id"], line["notes"]) for line in lines] == [
            (1, "note 1"),
            (2, "note 2"),
            (3, "note 3"),
            (1, "changed 1"),
            (4, "note 4"),
        ]
    finally:
        engine.dispose()
