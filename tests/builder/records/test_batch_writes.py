"""The bulk write path (records/batch.py): every rule per row, a refused row undone alone, audit in bulk."""

from __future__ import annotations

import sqlalchemy as sa

from builder.records import SEEDING, SYSTEM, Actor, PermissionDenied
from builder.system_tables import audit

NURSE = Actor(id=7, name="nurse", role="nurse")


def audit_entries(service, entity: str) -> list[tuple]:
    columns = (audit.c.actor, audit.c.role, audit.c.action, audit.c.entity, audit.c.changes, audit.c.detail)
    with service.engine.connect() as conn:
        query = sa.select(audit.c.record_id, *columns).where(audit.c.entity == entity).order_by(audit.c.id)
        return [tuple(row) for row in conn.execute(query)]


def test_each_row_gets_the_rules_and_its_own_result(service, doctor_id):
    with service.batch(SYSTEM) as batch:
        made = batch.create("patient", {"name": "王芳", "phone": "13900000001", "birth_date": "1980-05-01"})
        taken = batch.create("patient", {"name": "李娜", "phone": "13900000001"})  # unique within the batch too
        missing = batch.create("patient", {"gender": "female"})
        dangling = batch.create("patient", {"name": "赵敏", "phone": "13900000003", "primary_doctor": 9999})
        linked = batch.create("patient", {"name": "钱军", "phone": "13900000004", "primary_doctor": doctor_id})
    assert made.outcome == "created" and made.record is not None and made.record["age"] is not None  # computed
    assert [e.code for e in taken.errors] == ["unique"] and taken.outcome == "refused"
    assert {e.field for e in missing.errors} == {"name", "phone"}
    assert [(e.field, e.code) for e in dangling.errors] == [("primary_doctor", "invalid_link")]
    assert linked.ok and linked.written is not None and linked.written.after["primary_doctor"] == doctor_id
    assert [row[0] for row in audit_entries(service, "patient")] == [made.record["id"], linked.written.record_id]


def test_audit_entries_in_bulk_are_those_of_single_writes(service):
    one = service.create(SEEDING, "patient", {"name": "王芳", "phone": "13900000001", "allergies": "青霉素"})
    with service.batch(SEEDING) as batch:
        two = batch.create("patient", {"name": "王芳", "phone": "13900000002", "allergies": "青霉素"})
        assert not batch.create("patient", {"name": ""}).ok
        updated = batch.update("patient", one["id"], {"gender": "female"}, one["version"])
    entries = audit_entries(service, "patient")
    assert two.record is not None and updated.outcome == "updated"
    assert entries[1] == (two.record["id"], *entries[0][1:])  # the same entry, PHI kept out alike
    assert entries[2][0] == one["id"] and entries[2][3] == "update" and "female" in entries[2][5]
    assert len(entries) == 3


def test_a_role_writes_in_a_batch_with_its_own_rights(service):
    with service.batch(NURSE) as batch:
        refused = batch.create("staff", {"name": "王医生"})
    assert isinstance(refused.refused, PermissionDenied) and refused.outcome == "refused"
    with service.batch(SYSTEM) as batch:
        backdated = batch.create("staff", {"name": "李医生"}, made_at=service.clock())  # sets things off: now
    assert isinstance(backdated.refused, PermissionDenied) and "only seeding" in str(backdated.refused)
    assert audit_entries(service, "staff") == []


def test_a_dry_run_batch_checks_everything_and_writes_nothing(service):
    with service.batch(SYSTEM, dry_run=True) as batch:
        first = batch.create("patient", {"name": "王芳", "phone": "13900000001"})
        again = batch.create("patient", {"name": "李娜", "phone": "13900000001"})
    assert first.ok and [e.code for e in again.errors] == ["unique"]
    with service.engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(service.schema.table("patient"))).scalar() == 0
    assert audit_entries(service, "patient") == []


def test_links_known_from_an_earlier_batch_still_meet_the_foreign_key(service):
    known: set = set()
    doctor = service.create(SYSTEM, "staff", {"name": "王医生", "department": "dental"})
    with service.batch(SYSTEM, known_links=known) as batch:
        patient = batch.create("patient", {"name": "王芳", "phone": "13900000001", "primary_doctor": doctor["id"]})
    assert patient.record is not None and ("staff", doctor["id"]) in known  # not looked up again
    service.delete(SYSTEM, "patient", patient.record["id"], patient.record["version"])  # another writer
    service.delete(SYSTEM, "staff", doctor["id"], doctor["version"])
    with service.batch(SYSTEM, known_links=known) as batch:
        orphan = batch.create("patient", {"name": "李娜", "phone": "13900000002", "primary_doctor": doctor["id"]})
        kept = batch.create("patient", {"name": "赵敏", "phone": "13900000003"})
    assert [e.code for e in orphan.errors] == ["conflict"] and kept.ok  # undone alone, by the database
    assert [row[0] for row in audit_entries(service, "patient")[-1:]] == [kept.written.record_id]
