"""Scheduled automations: the monthly recall runs once per due moment, over the records `for_each` selects."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
from workflow_helpers import LOADED, Clinic, clinic_fixture, clinic_variant

from builder.records import SYSTEM, RecordService
from builder.records.schedule_jobs import run_due_schedules
from builder.storage.database import make_engine
from builder.system_tables import audit, outbox, schedules

UTC = dt.UTC
FIRST_OF_JANUARY_0905 = dt.datetime(2027, 1, 1, 1, 5, tzinfo=UTC)  # 09:05 in Shanghai


@pytest.fixture
def clinic(database_url):
    yield from clinic_fixture(database_url)


def patients(clinic: Clinic) -> dict[str, int]:
    """A dormant consenting patient, a recent one, one without consent (and the fixture's, never seen)."""
    made = {}
    for name, phone, consent, days_ago in [
        ("old", "13800000001", True, 400),
        ("recent", "13800000002", True, 30),
        ("silent", "13800000003", False, 400),
    ]:
        data = {"name": name, "phone": phone, "consent_sms": consent, "stage": "active"}
        made[name] = clinic.service.create(SYSTEM, "patient", data)["id"]
        visited = clinic.clock.now - dt.timedelta(days=days_ago)
        clinic.service.create(SYSTEM, "visit", {"patient": made[name], "visited_at": visited.isoformat()})
    return made


def test_the_monthly_recall_runs_once_over_the_selected_patients(clinic):
    made = patients(clinic)
    assert run_due_schedules(clinic.service, dt.datetime(2026, 12, 1, 2, 0, tzinfo=UTC)) == 0  # planned, not due
    [row] = clinic.rows(schedules)
    assert (row.automation, row.next_run) == ("monthly_recall", dt.datetime(2027, 1, 1, 1, 0))
    clinic.clock.now = dt.datetime(2027, 1, 1, 9, 5)
    assert run_due_schedules(clinic.service, FIRST_OF_JANUARY_0905) == 1
    assert run_due_schedules(clinic.service, FIRST_OF_JANUARY_0905 + dt.timedelta(minutes=1)) == 0
    recalls = clinic.rows(outbox, automation="monthly_recall")
    assert [(r.record_id, r.channel, r.template, r.recipient) for r in recalls] == [
        (made["old"], "sms", "recall", "record")
    ]
    assert clinic.service.get(SYSTEM, "patient", made["old"])["stage"] == "dormant"
    assert clinic.service.get(SYSTEM, "patient", made["recent"])["stage"] == "active"
    [row] = clinic.rows(schedules)
    assert (row.next_run, row.last_result) == (dt.datetime(2027, 2, 1, 1, 0), "1 records")


def test_a_run_missed_beyond_its_grace_is_recorded_not_made(clinic):
    patients(clinic)
    run_due_schedules(clinic.service, dt.datetime(2026, 12, 1, 2, 0, tzinfo=UTC))
    assert run_due_schedules(clinic.service, FIRST_OF_JANUARY_0905 + dt.timedelta(hours=3)) == 1
    [row] = clinic.rows(schedules)
    assert row.last_result.startswith("missed") and clinic.rows(outbox) == []


@pytest.mark.postgres
def test_two_workers_racing_run_the_schedule_once(postgres_url):
    clinic = next(clinic_fixture(postgres_url))
    patients(clinic)
    run_due_schedules(clinic.service, dt.datetime(2026, 12, 1, 2, 0, tzinfo=UTC))
    blueprint = LOADED.blueprint
    workers = [
        RecordService(
            blueprint.entities,
            make_engine(postgres_url),
            clock=clinic.clock,
            decision_tables=LOADED.decision_tables,
            timezone=blueprint.app.timezone,
            flows=LOADED.flows,
        )
        for _ in range(2)
    ]
    counts: list[int] = []
    barrier = threading.Barrier(2)

    def work(service: RecordService) -> None:
        barrier.wait()
        counts.append(run_due_schedules(service, FIRST_OF_JANUARY_0905))

    threads = [threading.Thread(target=work, args=(w,)) for w in workers]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(counts) == [0, 1] and len(clinic.rows(outbox, automation="monthly_recall")) == 1
    for w in workers:
        w.engine.dispose()
    clinic.service.engine.dispose()


def test_the_worker_job_reads_the_schedules_only_once_a_run_may_be_due(clinic):
    import sqlalchemy as sa

    from builder.records.schedule_jobs import schedules_job

    made = patients(clinic)
    job = schedules_job(clinic.service)
    reads: list[str] = []

    def count(conn, cursor, statement, *args):
        if "crm_schedule" in statement:
            reads.append(statement)

    sa.event.listen(clinic.service.engine, "before_cursor_execute", count)
    try:
        assert job(dt.datetime(2026, 12, 1, 2, 0, tzinfo=UTC)) == 0  # plans the first run (1 January, 09:00)
        assert job(dt.datetime(2026, 12, 1, 2, 1, tzinfo=UTC)) == 0  # and reads it
        planned = len(reads)
        assert planned > 0
        for day in range(2, 32):  # a busy worker's rounds all December: nothing can be due, nothing read
            assert job(dt.datetime(2026, 12, day, 2, 0, tzinfo=UTC)) == 0
        assert len(reads) == planned
        clinic.clock.now = dt.datetime(2027, 1, 1, 9, 5)
        assert job(FIRST_OF_JANUARY_0905) == 1  # due: read, run, and the next run (1 February) remembered
        ran = len(reads)
        assert job(FIRST_OF_JANUARY_0905 + dt.timedelta(days=3)) == 0
        assert len(reads) == ran
    finally:
        sa.event.remove(clinic.service.engine, "before_cursor_execute", count)
    assert [r.record_id for r in clinic.rows(outbox, automation="monthly_recall")] == [made["old"]]


def test_a_round_with_nothing_due_gives_the_earliest_next_run(clinic):
    from builder.records.schedule_jobs import _run_due

    patients(clinic)
    run_due_schedules(clinic.service, dt.datetime(2026, 12, 1, 2, 0, tzinfo=UTC))
    handled, earliest = _run_due(clinic.service, dt.datetime(2026, 12, 2, 2, 0, tzinfo=UTC))
    assert (handled, earliest) == (0, dt.datetime(2027, 1, 1, 1, 0))


NUDGE = """\
automations:
  nudge:                            # daily: a message to the assignee, then five more attempts (at most 20)
    entity: follow_up
    schedule: "0 9 * * *"
    for_each: "status == 'open'"
    do:
      - notify: {to: assignee, channel: inbox, template: follow_up_overdue}
      - update: {values: {attempts: "attempts + 5"}}
"""


def test_one_record_that_fails_is_counted_and_named_and_the_others_still_get_theirs(tmp_path, database_url):
    """Each selected record runs in its own savepoint: the refused one leaves no trace but its name in last_result."""
    clinic_gen = clinic_fixture(database_url, clinic_variant(tmp_path / "clinic", NUDGE))
    clinic = next(clinic_gen)
    try:
        made = {}
        for name, attempts in [("first", 0), ("full", 18), ("last", 1)]:  # 18 + 5 is past the field's max of 20
            values = {
                "patient": clinic.patient,
                "assignee": clinic.doctor,
                "due_on": "2027-01-15",
                "attempts": attempts,
            }
            made[name] = clinic.service.create(SYSTEM, "follow_up", values)["id"]
        assert run_due_schedules(clinic.service, dt.datetime(2026, 12, 1, 2, 0, tzinfo=UTC)) == 0  # planned
        clinic.clock.now = dt.datetime(2026, 12, 2, 9, 5)
        assert run_due_schedules(clinic.service, dt.datetime(2026, 12, 2, 1, 5, tzinfo=UTC)) == 1
        attempts = {name: clinic.service.get(SYSTEM, "follow_up", i)["attempts"] for name, i in made.items()}
        assert attempts == {"first": 5, "full": 18, "last": 6}
        messages = clinic.rows(outbox, automation="nudge")
        assert sorted(r.record_id for r in messages) == [made["first"], made["last"]]  # not the failed one's
        updates = [r.record_id for r in clinic.rows(audit, entity="follow_up", action="update")]
        assert sorted(updates) == [made["first"], made["last"]]
        [row] = clinic.rows(schedules, automation="nudge")
        assert row.last_result.startswith(f"2 records, 1 failed: follow_up {made['full']}: ")
        assert "attempts" in row.last_result
        assert row.next_run == dt.datetime(2026, 12, 3, 1, 0)  # moved on all the same
    finally:
        next(clinic_gen, None)
