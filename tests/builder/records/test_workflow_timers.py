"""Durable timers: planned in the write's transaction, moved, cancelled, skipped; fired once, or missed."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
from workflow_helpers import ADMIN, FRONT, LOADED, Clinic, clinic_fixture, clinic_variant

from builder.records import SYSTEM
from builder.records.timer_jobs import fire_due_timers
from builder.system_tables import outbox, timers, workflow_history

UTC = dt.UTC


@pytest.fixture
def clinic(database_url):
    yield from clinic_fixture(database_url)


def timer(clinic: Clinic, automation: str = "appointment_reminder"):
    [row] = clinic.rows(timers, automation=automation)
    return row


def utc_of(local: dt.datetime) -> dt.datetime:
    return local - dt.timedelta(hours=8)  # Asia/Shanghai has no daylight saving


def confirmed(clinic: Clinic, hours_ahead: float = 48) -> dict:
    return clinic.move(FRONT, "appointment", clinic.appointment(hours_ahead), "confirm")


def fire_at(clinic: Clinic, local: dt.datetime) -> int:
    clinic.clock.now = local
    return fire_due_timers(clinic.service, utc_of(local).replace(tzinfo=UTC))


def test_confirming_plans_the_reminder_moving_moves_it_cancelling_cancels_it(clinic):
    appt = clinic.appointment(48)
    assert clinic.rows(timers) == []  # requested: the reminder's `if:` does not hold yet
    appt = clinic.move(FRONT, "appointment", appt, "confirm")
    starts = clinic.clock.now + dt.timedelta(hours=48)
    assert (timer(clinic).status, timer(clinic).due_at) == ("planned", utc_of(starts - dt.timedelta(hours=24)))
    later = starts + dt.timedelta(hours=5)
    appt = clinic.service.update(FRONT, "appointment", appt["id"], {"starts_at": later.isoformat()}, appt["version"])
    assert (timer(clinic).status, timer(clinic).due_at) == ("planned", utc_of(later - dt.timedelta(hours=24)))
    clinic.move(FRONT, "appointment", appt, "cancel")
    assert (timer(clinic).status, timer(clinic).due_at) == ("cancelled", utc_of(later - dt.timedelta(hours=24)))
    assert "no longer holds" in timer(clinic).reason


def test_a_reminder_whose_moment_has_passed_when_planned_is_skipped_with_its_reason(clinic):
    confirmed(clinic, hours_ahead=10)
    row = timer(clinic)
    assert row.status == "skipped" and "already passed" in row.reason
    assert fire_at(clinic, clinic.clock.now + dt.timedelta(hours=1)) == 0  # never fired late


def test_a_due_reminder_fires_once_into_the_outbox(clinic):
    appt = confirmed(clinic)
    due = clinic.clock.now + dt.timedelta(hours=24)
    assert fire_at(clinic, due - dt.timedelta(minutes=1)) == 0
    assert fire_at(clinic, due + dt.timedelta(minutes=5)) == 1
    row = timer(clinic)
    assert (row.status, row.fired_at) == ("fired", utc_of(due + dt.timedelta(minutes=5)))
    [message] = clinic.rows(outbox)
    assert (message.automation, message.channel, message.template, message.recipient) == (
        "appointment_reminder",
        "sms",
        "appointment_reminder",
        "patient",
    )
    assert message.key == f"appointment_reminder:0:appointment:{appt['id']}:{utc_of(due).isoformat()}+00:00"
    assert fire_at(clinic, due + dt.timedelta(minutes=6)) == 0  # never twice
    assert len(clinic.rows(outbox)) == 1


def test_a_timer_found_after_its_grace_is_recorded_as_missed(clinic):
    confirmed(clinic)
    due = clinic.clock.now + dt.timedelta(hours=24)
    assert fire_at(clinic, due + dt.timedelta(hours=3)) >= 1  # the reminder's grace is 2 hours
    row = timer(clinic)
    assert row.status == "missed" and "grace" in row.reason
    assert clinic.rows(outbox) == []


def test_a_timer_can_make_a_transition_as_the_system_which_sets_off_more(clinic):
    appt = confirmed(clinic, hours_ahead=2)  # too close for the reminder, not for the no-show check
    starts = clinic.clock.now + dt.timedelta(hours=2)
    assert fire_at(clinic, starts + dt.timedelta(minutes=31)) == 1
    assert clinic.service.get(ADMIN, "appointment", appt["id"])["status"] == "no_show"
    last = clinic.rows(workflow_history)[-1]
    assert (last.transition, last.actor) == ("mark_no_show", None)
    assert clinic.service.get(SYSTEM, "patient", clinic.patient)["stage"] == "follow_up"  # after_no_show
    assert timer(clinic, "no_show_after_30_minutes").status == "fired"


def test_deleting_the_record_cancels_its_timers(clinic):
    appt = confirmed(clinic)
    clinic.service.delete(FRONT, "appointment", appt["id"])
    assert {r.status for r in clinic.rows(timers)} == {"cancelled"}


@pytest.mark.postgres
def test_two_workers_racing_fire_each_timer_exactly_once(postgres_url):
    from builder.records import RecordService
    from builder.storage.database import make_engine

    clinic = next(clinic_fixture(postgres_url))
    count = 40
    for i in range(count):  # reminders due within 24 minutes of each other, so none is past its grace
        doctor = clinic.service.create(SYSTEM, "staff", {"name": f"Dr {i}"})["id"]
        appt = clinic.appointment(48 + i * 0.01, doctor=doctor)
        clinic.move(FRONT, "appointment", appt, "confirm")
    assert len(clinic.rows(timers, status="planned")) == 2 * count  # reminder and no-show check each
    moment = utc_of(clinic.clock.now + dt.timedelta(hours=24, minutes=30)).replace(tzinfo=UTC)
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

    def work(service):
        barrier.wait()
        counts.append(fire_due_timers(service, moment))

    threads = [threading.Thread(target=work, args=(w,)) for w in workers]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    reminders = clinic.rows(timers, automation="appointment_reminder")
    assert sum(counts) == count and {r.status for r in reminders} == {"fired"}
    assert len(clinic.rows(outbox)) == count  # one message per timer, none doubled
    for w in workers:
        w.engine.dispose()
    clinic.service.engine.dispose()


OVERSTRETCH = """\
automations:
  overstretch:                      # its update is refused (minutes are at most 240): the timer fails
    entity: appointment
    at: "starts_at - hours(24)"
    if: "status == 'confirmed'"
    do:
      - update: {values: {minutes: "500"}}
"""


def test_a_timer_whose_actions_fail_is_recorded_failed_and_the_rest_of_its_batch_fires(tmp_path, database_url):
    """Timers are fired a batch per transaction: one refused leaves no trace but its reason, the others fire once."""
    clinic_gen = clinic_fixture(database_url, clinic_variant(tmp_path / "clinic", OVERSTRETCH))
    clinic = next(clinic_gen)
    try:
        appts = [confirmed(clinic, hours_ahead=48 + 0.4 * i) for i in range(3)]
        assert fire_at(clinic, clinic.clock.now + dt.timedelta(hours=24, minutes=50)) == 6
        failed = clinic.rows(timers, automation="overstretch")
        assert [r.status for r in failed] == ["failed"] * 3
        assert all("overstretch" in r.reason and "minutes" in r.reason for r in failed)
        assert [r.status for r in clinic.rows(timers, automation="appointment_reminder")] == ["fired"] * 3
        assert sorted(r.record_id for r in clinic.rows(outbox)) == sorted(a["id"] for a in appts)
        assert {clinic.service.get(ADMIN, "appointment", a["id"])["minutes"] for a in appts} == {20}
        assert fire_at(clinic, clinic.clock.now + dt.timedelta(minutes=1)) == 0  # neither fires again
        assert len(clinic.rows(outbox)) == 3
    finally:
        next(clinic_gen, None)


POSTPONE = """\
automations:
  postpone:                         # due an hour before the reminder: moves the appointment (and so its reminder)
    entity: appointment
    at: "starts_at - hours(25)"
    if: "status == 'confirmed' and minutes == 20"
    grace: "hours(3)"
    do:
      - update: {values: {starts_at: "starts_at + days(1)", minutes: "30"}}
"""


def test_a_timer_moved_by_an_earlier_timer_of_its_batch_waits_for_its_new_moment(tmp_path, database_url):
    """Both due in one batch: the first moves the appointment, so the reminder is not sent now but a day later."""
    clinic_gen = clinic_fixture(database_url, clinic_variant(tmp_path / "clinic", POSTPONE))
    clinic = next(clinic_gen)
    try:
        appt = confirmed(clinic, hours_ahead=48)
        starts = clinic.clock.now + dt.timedelta(hours=48)
        assert fire_at(clinic, starts - dt.timedelta(hours=24) + dt.timedelta(minutes=5)) == 2  # claimed together
        assert timer(clinic, "postpone").status == "fired"
        moved = starts + dt.timedelta(days=1)
        assert (timer(clinic).status, timer(clinic).due_at) == ("planned", utc_of(moved - dt.timedelta(hours=24)))
        assert clinic.rows(outbox) == []
        assert fire_at(clinic, moved - dt.timedelta(hours=24) + dt.timedelta(minutes=5)) == 1
        [message] = clinic.rows(outbox)
        assert message.key.endswith(f"{appt['id']}:{utc_of(moved - dt.timedelta(hours=24)).isoformat()}+00:00")
    finally:
        next(clinic_gen, None)
