"""A rule reading other rows gets the index its query needs: `overlaps()` by its equality and start.

`not overlaps('appointment', doctor=doctor, start=starts_at, ...)` runs on every booking.
With only single-column indexes, SQLite (and PostgreSQL without statistics) read every
appointment the doctor ever had; the migration plan adds `(doctor, starts_at)`. The test
captures the very statement the rule runs and asks the database for its plan (behaviour:
which access path it can take, not timing), as test_search_plans.py does for `q`.
"""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa

from builder.loading import load_blueprint
from builder.records import SYSTEM
from builder.storage.search_indexes import planned_search_indexes

LOADED = load_blueprint("blueprints/clinic")
CLINIC = LOADED.blueprint


@pytest.fixture
def booked(migrated_clinic):
    """A migrated clinic with one appointment; the overlaps() statement and parameters of a second booking."""
    records, plan = migrated_clinic
    engine = records.engine
    doctor = records.create(SYSTEM, "staff", {"name": "李医生", "department": "internal_medicine"})
    patient = records.create(SYSTEM, "patient", {"name": "王芳", "phone": "13912340000"})
    start = dt.datetime(2026, 12, 1, 9, 0)
    booking = {"patient": patient["id"], "doctor": doctor["id"], "minutes": 20}
    records.create(SYSTEM, "appointment", {**booking, "starts_at": start.isoformat()})
    seen: list[tuple[str, object]] = []

    def capture(conn, cursor, statement, parameters, context, executemany):
        if statement.lstrip().startswith("SELECT") and "FROM appointment" in statement and "minutes" in statement:
            seen.append((statement, parameters))

    sa.event.listen(engine, "before_cursor_execute", capture)
    later = records.create(SYSTEM, "appointment", {**booking, "starts_at": (start + dt.timedelta(hours=1)).isoformat()})
    sa.event.remove(engine, "before_cursor_execute", capture)
    assert later["id"] and len(seen) == 1  # the rule's one query
    return engine, plan, seen[0]


def test_the_plan_adds_the_overlaps_index(booked):
    _engine, plan, _ = booked
    assert "add overlaps() rule index on appointment (doctor, starts_at)" in "\n".join(plan.describe())


def test_the_rules_query_can_use_it(booked):
    engine, _plan, (statement, parameters) = booked
    with engine.connect() as conn:
        cursor = conn.connection.dbapi_connection.cursor()
        if conn.dialect.name == "postgresql":
            # Two rows: the planner would take any index on starts_at. The question is whether this one
            # can serve the equality and the range (its columns match): the others go for this EXPLAIN only.
            cursor.execute("SET enable_seqscan = off")
            cursor.execute("DROP INDEX sx_appointment_starts_at_sort_asc, ix_appointment_starts_at")
            cursor.execute("EXPLAIN " + statement, parameters)
        else:
            cursor.execute("EXPLAIN QUERY PLAN " + statement, parameters)
        text = "\n".join(str(row[-1]) for row in cursor.fetchall())
        cursor.connection.rollback()  # the indexes dropped for the EXPLAIN come back
    assert "sx_appointment_doctor_slots" in text, text


def test_another_vertical_gets_its_own():
    physio = load_blueprint("tests/blueprints/physio").blueprint
    found = [(i.table, i.field, i.then) for i in planned_search_indexes(physio.entities, "sqlite") if i.kind == "slots"]
    assert found == [("session", "therapist", "starts_at")]
    assert not [
        i for i in planned_search_indexes(CLINIC.entities, "sqlite") if i.kind == "slots" and i.table != "appointment"
    ]
