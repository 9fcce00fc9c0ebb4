"""A blueprint evolving step by step over a database holding data, on SQLite and PostgreSQL."""

from __future__ import annotations

import decimal
import json
import sqlite3
from pathlib import Path

import pytest
import sqlalchemy as sa
from storage_helpers import column_names, insert, rows, table_names

from builder.storage.migrations import (
    MigrationError,
    MigrationRefused,
    applied_history,
    apply_migration,
    migration_sql,
    plan_migration,
)

BASE = """
patient:
  fields:
    name: {type: text, max_length: 40}
    age: {type: integer}
    notes: {type: long_text}
visit:
  fields:
    patient: {type: link, to: patient}
    prescriptions:
      type: table
      fields:
        drug: {type: text, max_length: 60}
"""


def migrate(engine, entities, **options):
    plan = plan_migration(engine, entities)
    result = apply_migration(engine, plan, **options)
    assert plan_migration(engine, entities).is_empty, "after a migration the database matches the blueprint"
    return plan, result


@pytest.fixture
def base(engine, entities_from):
    """The BASE blueprint applied, with two patients, a visit and two prescriptions."""
    migrate(engine, entities_from(BASE), applied_by="alice")
    insert(
        engine,
        "patient",
        {"name": "Ann Lee", "age": 34, "notes": "penicillin"},
        {"name": "Bob Wu", "age": 51, "notes": None},
    )
    insert(engine, "visit", {"patient": 1})
    insert(
        engine,
        "visit__prescriptions",
        {"parent_id": 1, "position": 0, "drug": "aspirin"},
        {"parent_id": 1, "position": 1, "drug": "metformin"},
    )
    return engine


def test_create_from_empty_records_history(engine, entities_from):
    entities = entities_from(BASE)
    plan = plan_migration(engine, entities)
    assert plan.describe() == [
        "           create entity patient",
        "           create entity visit",
        "           create child table visit.prescriptions",
    ]
    result = apply_migration(engine, plan, applied_by="alice", blueprint_hash="abc123")
    assert result.applied and result.backup is None
    assert {"patient", "visit", "visit__prescriptions"} <= table_names(engine)
    [entry] = applied_history(engine)
    assert (entry.blueprint_hash, entry.applied_by) == ("abc123", "alice")
    assert entry.applied_at is not None and "create entity patient" in entry.summary
    assert entry.tables == ["patient", "visit", "visit__prescriptions"]
    assert json.loads(entry.blueprint)["patient"]["fields"]["name"]["max_length"] == 40


def test_no_op_migration_records_nothing(base, entities_from):
    plan = plan_migration(base, entities_from(BASE))
    assert plan.is_empty and plan.describe() == []
    assert apply_migration(base, plan).applied is False
    assert len(applied_history(base)) == 1


def test_add_entity_and_field_keeps_values(base, entities_from):
    entities = entities_from(
        BASE.replace(
            "    notes: {type: long_text}\n",
            "    notes: {type: long_text}\n    blood_type: {type: text, max_length: 3}\n",
        )
        + "staff:\n  fields:\n    name: {type: text}\n"
    )
    plan, _ = migrate(base, entities, applied_by="bob")
    assert "add field patient.blood_type (text)" in [line.strip() for line in plan.describe()]
    assert "create entity staff" in [line.strip() for line in plan.describe()]
    assert rows(base, "patient", "name", "age", "notes", "blood_type") == [
        ("Ann Lee", 34, "penicillin", None),
        ("Bob Wu", 51, None, None),
    ]
    history = applied_history(base)
    assert [h.applied_by for h in history] == ["alice", "bob"]
    assert history[0].blueprint_hash != history[1].blueprint_hash
    assert "staff" in history[1].tables


def test_rename_field_keeps_values(base, entities_from):
    entities = entities_from(
        BASE.replace(
            "name: {type: text, max_length: 40}", "full_name: {type: text, max_length: 40, renamed_from: name}"
        )
    )
    plan, _ = migrate(base, entities)
    assert [line.strip() for line in plan.describe()] == ["rename field patient.full_name (text) (was name)"]
    assert rows(base, "patient", "full_name", "age") == [("Ann Lee", 34), ("Bob Wu", 51)]
    assert "name" not in column_names(base, "patient")


def test_rename_entities_keeps_rows_children_and_links(base, entities_from):
    renamed = (
        BASE.replace("patient:\n  fields:", "client:\n  renamed_from: patient\n  fields:")
        .replace("visit:\n  fields:", "encounter:\n  renamed_from: visit\n  fields:")
        .replace("to: patient", "to: client")
    )
    plan, _ = migrate(base, entities_from(renamed))
    described = "\n".join(plan.describe())
    assert "rename entity client (was table patient)" in described
    assert "rename child table encounter.prescriptions (was table visit__prescriptions)" in described
    assert not ({"patient", "visit", "visit__prescriptions"} & table_names(base))
    assert rows(base, "client", "name") == [("Ann Lee",), ("Bob Wu",)]
    assert rows(base, "encounter", "patient") == [(1,)]
    assert rows(base, "encounter__prescriptions", "parent_id", "drug") == [(1, "aspirin"), (1, "metformin")]
    # the child's foreign key follows the renamed parent: deleting the visit cascades
    with base.begin() as connection:
        foreign_keys = sa.inspect(connection).get_foreign_keys("encounter__prescriptions")
        assert [fk["referred_table"] for fk in foreign_keys] == ["encounter"]
        connection.execute(sa.text("DELETE FROM encounter"))
    assert rows(base, "encounter__prescriptions", "drug") == []


def test_widening_keeps_values(base, entities_from):
    widened = BASE.replace("max_length: 40", "max_length: 100").replace(
        "age: {type: integer}", "age: {type: decimal, precision: 8, scale: 2}"
    )
    plan, _ = migrate(base, entities_from(widened))
    assert not plan.data_losing and len(plan.steps) == 2
    insert(base, "patient", {"name": "x" * 100, "age": decimal.Decimal("12.5")})
    assert rows(base, "patient", "name", "age") == [
        ("Ann Lee", 34),
        ("Bob Wu", 51),
        ("x" * 100, decimal.Decimal("12.5")),
    ]


def test_narrowing_is_refused_and_changes_nothing(base, entities_from):
    migrate(base, entities_from(BASE.replace("max_length: 40", "max_length: 100")))
    plan = plan_migration(base, entities_from(BASE.replace("max_length: 40", "max_length: 4")))
    assert [s.loses_data for s in plan.steps] == [True]
    with pytest.raises(MigrationRefused) as refused:
        apply_migration(base, plan)
    assert refused.value.overridable and "narrow field patient.name" in str(refused.value)
    assert "2 values are longer and would be cut" in plan.describe()[0]
    assert rows(base, "patient", "name") == [("Ann Lee",), ("Bob Wu",)]
    assert len(applied_history(base)) == 2


def test_decimal_without_room_for_current_values_is_blocked(base, entities_from):
    plan = plan_migration(
        base, entities_from(BASE.replace("age: {type: integer}", "age: {type: decimal, precision: 2, scale: 1}"))
    )
    with pytest.raises(MigrationRefused) as refused:
        apply_migration(base, plan, allow_data_loss=True)
    assert not refused.value.overridable and "2 values have more than 1 digits" in str(refused.value)


def _backup_values(result, backup_dir: Path, dialect: str) -> list[str | None]:
    assert result.backup is not None and result.backup.exists()
    assert backup_dir in result.backup.parents
    if dialect == "sqlite":
        with sqlite3.connect(result.backup) as copy:
            return [r[0] for r in copy.execute("SELECT notes FROM patient ORDER BY id")]
    lines = (result.backup / "patient.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line)["notes"] for line in lines]


def test_dropping_a_field_with_data_needs_permission_and_is_backed_up(base, entities_from, tmp_path):
    dropped = entities_from(BASE.replace("    notes: {type: long_text}\n", ""))
    plan = plan_migration(base, dropped)
    assert plan.describe() == ["LOSES DATA drop field patient.notes (TEXT) (1 values would be lost)"]
    with pytest.raises(MigrationRefused, match=r"drop field patient\.notes"):
        apply_migration(base, plan)
    assert "notes" in column_names(base, "patient")

    backups = tmp_path / "backups"
    result = apply_migration(base, plan, allow_data_loss=True, backup_dir=backups)
    assert "notes" not in column_names(base, "patient")
    assert rows(base, "patient", "name", "age") == [("Ann Lee", 34), ("Bob Wu", 51)]
    assert _backup_values(result, backups, base.dialect.name) == ["penicillin", None]


def test_dropping_an_entity_drops_children_first(base, entities_from, tmp_path):
    only_patient = entities_from(BASE.split("visit:")[0])
    plan = plan_migration(base, only_patient)
    assert plan.describe() == [
        "LOSES DATA drop table visit__prescriptions (2 rows would be lost)",
        "LOSES DATA drop table visit (1 rows would be lost)",
    ]
    apply_migration(base, plan, allow_data_loss=True, backup_dir=tmp_path / "backups")
    assert not ({"visit", "visit__prescriptions"} & table_names(base))


def test_unique_with_duplicates_is_refused_even_with_data_loss_allowed(base, entities_from):
    insert(base, "patient", {"name": "Ann Lee", "age": 20})
    plan = plan_migration(base, entities_from(BASE.replace("max_length: 40", "max_length: 40, unique: true")))
    with pytest.raises(MigrationRefused) as refused:
        apply_migration(base, plan, allow_data_loss=True)
    assert not refused.value.overridable
    assert "1 values appear more than once (2 rows)" in str(refused.value)


def test_unique_without_duplicates_applies(base, entities_from):
    migrate(base, entities_from(BASE.replace("max_length: 40", "max_length: 40, unique: true")))
    with pytest.raises(sa.exc.IntegrityError):
        insert(base, "patient", {"name": "Ann Lee"})


def test_dry_run_prints_sql_and_changes_nothing(base, entities_from):
    evolved = entities_from(
        BASE.replace("max_length: 40", "max_length: 100").replace(
            "    notes: {type: long_text}\n", "    notes: {type: long_text}\n    phone: {type: text}\n"
        )
        + "staff:\n  fields:\n    name: {type: text}\n"
    )
    plan = plan_migration(base, evolved)
    sql = migration_sql(base, plan)
    assert "CREATE TABLE staff" in sql
    assert "ALTER TABLE patient ADD COLUMN phone VARCHAR(255)" in sql
    assert "VARCHAR(100)" in sql
    assert sql.startswith("-- create entity staff")
    assert "staff" not in table_names(base) and "phone" not in column_names(base, "patient")
    assert len(applied_history(base)) == 1
    apply_migration(base, plan)
    assert "phone" in column_names(base, "patient")


def test_tables_the_blueprint_does_not_own_are_left_alone(base, entities_from):
    with base.begin() as connection:
        connection.execute(sa.text("CREATE TABLE crm_user (id INTEGER PRIMARY KEY, name VARCHAR(20))"))
        connection.execute(sa.text("CREATE TABLE hand_made (id INTEGER PRIMARY KEY)"))
    assert plan_migration(base, entities_from(BASE)).is_empty
    plan = plan_migration(base, entities_from(BASE.split("visit:")[0]))
    assert {s.table for s in plan.steps} == {"visit", "visit__prescriptions"}


def test_renaming_an_encrypted_field_reencrypts_for_the_new_name(engine, entities_from, keyring):
    before = "patient:\n  fields:\n    id_number: {type: cn_resident_id, encrypted: true}\n"
    migrate(engine, entities_from(before))
    token = keyring.encrypt("110105194912310025", "patient.id_number")
    insert(engine, "patient", {"id_number": token, "id_number__hash": keyring.blind_index("110105194912310025")})
    after = entities_from(
        "person:\n  renamed_from: patient\n  fields:\n"
        "    resident_id: {type: cn_resident_id, encrypted: true, renamed_from: id_number}\n"
    )
    plan = plan_migration(engine, after)
    assert "re-encrypt person.resident_id (cn_resident_id, encrypted) for its new name (1 values)" in [
        line.strip() for line in plan.describe()
    ]
    with pytest.raises(MigrationError, match="encryption keys are needed"):
        apply_migration(engine, plan)
    apply_migration(engine, plan, keyring=keyring)
    [(stored, index)] = rows(engine, "person", "resident_id", "resident_id__hash")
    assert keyring.decrypt(stored, "person.resident_id") == "110105194912310025"
    assert index == keyring.blind_index("110105194912310025")


def test_a_field_becoming_encrypted_has_its_values_encrypted(base, entities_from, keyring):
    encrypted = entities_from(BASE.replace("notes: {type: long_text}", "notes: {type: long_text, encrypted: true}"))
    plan = plan_migration(base, encrypted)
    assert "encrypt the existing values of patient.notes (long_text, encrypted) (1 values)" in [
        line.strip() for line in plan.describe()
    ]
    with pytest.raises(MigrationError, match="encryption keys are needed"):
        apply_migration(base, plan)
    apply_migration(base, plan, keyring=keyring)
    [(token, index), (empty, no_index)] = rows(base, "patient", "notes", "notes__hash")
    assert keyring.decrypt(token, "patient.notes") == "penicillin" and index == keyring.blind_index("penicillin")
    assert empty is None and no_index is None
    assert plan_migration(base, encrypted).is_empty

    plain_again = plan_migration(base, entities_from(BASE))
    with pytest.raises(MigrationRefused, match="1 encrypted values would have to be decrypted"):
        apply_migration(base, plain_again, allow_data_loss=True)


def _rootpage(engine: sa.Engine, table: str) -> int:
    """SQLite: the first page of the table's b-tree; a table copy (batch mode) gives it another."""
    with engine.connect() as connection:
        query = sa.text("SELECT rootpage FROM sqlite_master WHERE type = 'table' AND name = :name")
        return int(connection.execute(query, {"name": table}).scalar_one())


def test_encrypting_a_text_field_on_sqlite_changes_its_declared_type_without_copying_the_table(
    base, entities_from, keyring
):
    """VARCHAR(40) -> TEXT for the ciphertext: same affinity, so only the schema's text changes."""
    encrypted = entities_from(BASE.replace("name: {type: text, max_length: 40}", "name: {type: text, encrypted: true}"))
    plan = plan_migration(base, encrypted)
    sqlite = base.dialect.name == "sqlite"
    copy_note = "; only the declared type changes, the table is not copied" if sqlite else ""
    assert f"widen field patient.name (text, encrypted): VARCHAR(40) -> TEXT (longer text{copy_note})" in [
        line.strip() for line in plan.describe()
    ]
    statements: list[str] = []
    if sqlite:
        sql = migration_sql(base, plan)
        assert "_alembic_tmp" not in sql and "UPDATE sqlite_master SET sql" in sql
        sa.event.listen(base, "before_cursor_execute", lambda *args: statements.append(args[2]))
        before = _rootpage(base, "patient")
    apply_migration(base, plan, keyring=keyring)
    [(ann, ann_index), (bob, _)] = rows(base, "patient", "name", "name__hash")
    assert keyring.decrypt(ann, "patient.name") == "Ann Lee" and ann_index == keyring.blind_index("Ann Lee")
    assert keyring.decrypt(bob, "patient.name") == "Bob Wu"
    if not sqlite:  # PostgreSQL widens VARCHAR to TEXT without a rewrite anyway
        assert plan_migration(base, encrypted).is_empty
        return
    assert _rootpage(base, "patient") == before, "the table was copied"
    assert statements and not [s for s in statements if "_alembic_tmp" in s or "INSERT INTO patient" in s]
    with base.connect() as connection:
        declared = connection.exec_driver_sql("SELECT sql FROM sqlite_master WHERE name = 'patient'").scalar_one()
        assert "name TEXT," in declared and connection.exec_driver_sql("PRAGMA integrity_check").scalar() == "ok"
    assert plan_migration(base, encrypted).is_empty
    # A real change of kind still copies the table: integer -> text.
    spelled_age = entities_from(
        BASE.replace("name: {type: text, max_length: 40}", "name: {type: text, encrypted: true}").replace(
            "age: {type: integer}", "age: {type: text, max_length: 5}"
        )
    )
    migrate(base, spelled_age, allow_data_loss=True, keyring=keyring)
    assert rows(base, "patient", "age") == [("34",), ("51",)]
    assert _rootpage(base, "patient") != before


def test_a_rename_applies_only_while_the_old_name_exists_and_the_new_one_does_not(base, entities_from):
    """migrations.md: `renamed_from` may stay in the blueprint afterwards, and never renames over a column."""
    renamed = BASE.replace(
        "name: {type: text, max_length: 40}", "full_name: {type: text, max_length: 40, renamed_from: name}"
    )
    migrate(base, entities_from(renamed))
    for blueprint in (renamed, renamed.replace(", renamed_from: name", "")):  # kept, then removed
        assert plan_migration(base, entities_from(blueprint)).is_empty
    assert rows(base, "patient", "full_name") == [("Ann Lee",), ("Bob Wu",)]
    # Both names exist (`name` added back by an earlier blueprint): no rename over `full_name`.
    plain = renamed.replace(", renamed_from: name", "")
    migrate(base, entities_from(plain.replace("    age:", "    name: {type: text}\n    age:", 1)))
    with base.begin() as connection:
        connection.execute(sa.text("UPDATE patient SET name = 'old ' || full_name"))
    plan = plan_migration(base, entities_from(renamed))
    described = [line.strip() for line in plan.describe()]
    assert not any(line.startswith("rename") for line in described), described
    assert any(line.startswith("LOSES DATA drop field patient.name") for line in described), described
    with pytest.raises(MigrationRefused):
        apply_migration(base, plan)
    assert rows(base, "patient", "full_name", "name") == [("Ann Lee", "old Ann Lee"), ("Bob Wu", "old Bob Wu")]
    # The old name never existed: the field is simply new.
    added = "    name: {type: text}\n    blood_type: {type: text, renamed_from: ghost}\n    age:"
    ghost = plain.replace("    age:", added, 1)
    assert [line.strip() for line in plan_migration(base, entities_from(ghost)).describe()] == [
        "add field patient.blood_type (text)"
    ]
