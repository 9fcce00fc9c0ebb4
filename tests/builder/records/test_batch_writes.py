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


def statements_about(service, table: str):
    """The SELECTs on `table` run while the block runs (a list filled by an engine event)."""
    seen: list[str] = []

    def count(conn, cursor, statement, parameters, context, executemany):
        if statement.lstrip().upper().startswith("SELECT") and f"FROM {table}" in statement:
            seen.append(statement)

    sa.event.listen(service.engine, "before_cursor_execute", count)
    return seen, lambda: sa.event.remove(service.engine, "before_cursor_execute", count)


def test_a_link_filter_passed_in_a_batch_is_judged_again_once_the_batch_writes_its_target(service, doctor_id):
    patient = service.create(SYSTEM, "patient", {"name": "王芳", "phone": "13900000001"})
    doctor = service.get(SYSTEM, "staff", doctor_id)
    visit = {"patient": patient["id"], "department": "internal_medicine", "doctor": doctor_id}
    seen, stop = statements_about(service, "staff")
    try:
        with service.batch(SYSTEM) as batch:
            first = batch.create("visit", visit)
            checked = len(seen)  # the doctor exists, and passes the visit's filter
            second = batch.create("visit", visit)
            checked_again = len(seen) - checked
            moved = batch.update("staff", doctor_id, {"department": "dental"}, doctor["version"])
            third = batch.create("visit", visit)  # the doctor no longer passes the filter
    finally:
        stop()
    assert first.ok and second.ok and moved.ok
    assert checked == 2 and checked_again == 0  # the same doctor, the same filter, the same values
    assert [(e.field, e.code) for e in third.errors] == [("doctor", "link_filter")]


def test_records_a_batch_makes_are_known_links_until_it_rolls_back(service):
    known: set = set()
    seen, stop = statements_about(service, "patient")
    try:
        with service.batch(SYSTEM, known_links=known) as batch:
            patient = batch.create("patient", {"name": "王芳", "phone": "13900000001"})
            lookups = len(seen)
            reading = batch.create("vital_reading", {"patient": patient.written.record_id, "systolic": 120})
    finally:
        stop()
    assert reading.ok and len(seen) == lookups  # no look-up of the patient just made
    made = ("patient", patient.written.record_id)
    assert made in known  # committed: later batches may trust it too
    with service.batch(SYSTEM, dry_run=True, known_links=known) as batch:
        rehearsed = batch.create("patient", {"name": "李娜", "phone": "13900000002"})
    assert rehearsed.ok and ("patient", rehearsed.written.record_id) not in known and made in known
    try:
        with service.batch(SYSTEM, known_links=known) as batch:
            ghost = batch.create("patient", {"name": "赵敏", "phone": "13900000003"}).written.record_id
            raise RuntimeError("the database failed")  # the whole batch rolls back
    except RuntimeError:
        pass
    assert ("patient", ghost) not in known
    with service.batch(SYSTEM, known_links=known) as batch:
        orphan = batch.create("vital_reading", {"patient": ghost, "systolic": 120})
    assert [(e.field, e.code) for e in orphan.errors] == [("patient", "invalid_link")]


def test_child_rows_of_mixed_columns_keep_their_order_and_ids(service):
    patient = service.create(SYSTEM, "patient", {"name": "王芳", "phone": "13900000001"})
    given = [{"drug": "阿司匹林", "dose": "100mg"}, {"drug": "二甲双胍"}, {"drug": "胰岛素", "dose": "8u", "days": 30}]
    with service.batch(SYSTEM) as batch:
        visit = batch.create("visit", {"patient": patient["id"], "prescriptions": given}).record
    table = service.schema.child("visit", "prescriptions")
    with service.engine.connect() as conn:
        stored = conn.execute(sa.select(table.c.id, table.c.position, table.c.drug).order_by(table.c.position)).all()
    shown = visit["prescriptions"]
    assert [row["drug"] for row in shown] == [row["drug"] for row in given]
    assert [(row["id"], i, row["drug"]) for i, row in enumerate(shown)] == [tuple(row) for row in stored]
    assert service.get(SYSTEM, "visit", visit["id"])["prescriptions"] == shown


def test_a_taken_value_in_a_batch_is_refused_by_its_constraint_with_the_unique_error(service):
    resident = "11010519491231002X"
    service.create(SYSTEM, "patient", {"name": "王芳", "phone": "13900000001", "id_number": resident})
    with service.batch(SYSTEM) as batch:
        phone = batch.create("patient", {"name": "李娜", "phone": "13900000001"})
        encrypted = batch.create("patient", {"name": "赵敏", "phone": "13900000002", "id_number": resident})
        kept = batch.create("patient", {"name": "钱军", "phone": "13900000003"})
    assert [(e.field, e.code) for e in phone.errors] == [("phone", "unique")]
    assert [(e.field, e.code) for e in encrypted.errors] == [("id_number", "unique")]  # by its keyed hash
    assert kept.ok and len(audit_entries(service, "patient")) == 2


def test_a_batch_row_is_presented_only_when_asked_and_then_as_the_actor_sees_it(service):
    """An import never looks at its rows as presented: none is worked out unless asked for, even after the commit."""
    desk = Actor(id=8, name="desk", role="front_desk")
    with service.batch(desk) as batch:
        made = batch.create("patient", {"name": "王芳", "phone": "13900000001", "gender": "female"})
        assert made.written is not None and "presented" not in vars(made.written)  # nothing decoded or masked yet
    assert made.record == service.get(desk, "patient", made.written.record_id)  # readable fields only, masked
    assert made.record is not None and "*" in made.record["phone"] and "allergies" not in made.record
