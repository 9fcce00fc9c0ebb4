"""Automations run in the write's own transaction: follow-ups created, outbox rows written, all or nothing."""

from __future__ import annotations

import datetime as dt

import pytest
from workflow_helpers import ADMIN, DOCTOR, FRONT, NURSE, Clinic, clinic_fixture, clinic_variant

from builder.records import ValidationFailed
from builder.system_tables import outbox

EXTRA = """
automations:
  broken_follow_up:              # a follow-up whose attempts (the systolic value) break the field's max of 20
    entity: vital_reading
    when: created
    if: "systolic == 199"
    do:
      - notify: {to: patient.primary_doctor, channel: inbox, template: high_bp_alert}
      - create: {entity: follow_up, values: {patient: patient, due_on: "today()", attempts: "systolic"}}
  ping_pong:                     # sets itself off again: stopped by the depth limit
    entity: follow_up
    when: updated
    if: "reason == 'loop'"
    do:
      - update: {values: {attempts: "attempts + 1"}}
  survey_after_visit:           # a week after the visit, on the appointment as it is then
    entity: appointment
    when: {enter: completed}
    after: "days(7)"
    do:
      - notify: {to: patient, channel: sms, template: appointment_reminder}
  tell_the_lab:
    entity: vital_reading
    when: created
    if: "systolic == 150"
    do:
      - webhook: {url: "https://lab.example/hook", secret_env: LAB_SECRET}
"""


@pytest.fixture
def clinic(database_url):
    yield from clinic_fixture(database_url)


@pytest.fixture
def variant(database_url, tmp_path):
    yield from clinic_fixture(database_url, clinic_variant(tmp_path / "clinic", EXTRA))


def completed(clinic: Clinic) -> dict:
    appt = clinic.move(FRONT, "appointment", clinic.appointment(), "confirm")
    appt = clinic.move(NURSE, "appointment", appt, "check_in")
    return clinic.move(DOCTOR, "appointment", appt, "complete")


def test_completing_a_visit_creates_the_visit_and_two_follow_ups_assigned_to_the_primary_doctor(clinic):
    completed(clinic)
    visits = clinic.service.list(ADMIN, "visit").items
    assert [(v["patient"], v["doctor"]) for v in visits] == [(clinic.patient, clinic.doctor)]
    tasks = clinic.service.list(ADMIN, "follow_up", sort="due_on").items
    assert [(t["due_on"], t["assignee"], t["status"]) for t in tasks] == [
        (dt.date(2026, 12, 4), clinic.doctor, "open"),
        (dt.date(2026, 12, 31), clinic.doctor, "open"),
    ]
    assert tasks[0]["created_by"] == "system"


def test_an_automation_on_a_transition_updates_the_record_and_the_caller_sees_it(clinic):
    task = clinic.service.create(ADMIN, "follow_up", {"patient": clinic.patient, "due_on": "2026-12-04"})
    after = clinic.move(NURSE, "follow_up", task, "log_attempt", comment="no answer")
    assert (after["attempts"], after["version"]) == (1, 3)  # the transition, then count_attempt
    for _ in range(2):
        after = clinic.move(NURSE, "follow_up", after, "log_attempt")
    assert clinic.move(NURSE, "follow_up", after, "give_up")["status"] == "unreachable"


def test_a_high_reading_alerts_the_doctor_through_the_outbox_and_opens_a_follow_up(clinic):
    reading = clinic.service.create(
        NURSE, "vital_reading", {"patient": clinic.patient, "systolic": 185, "diastolic": 100}
    )
    [row] = clinic.rows(outbox)
    assert (row.automation, row.channel, row.template, row.recipient, row.status) == (
        "high_bp_alert",
        "inbox",
        "high_bp_alert",
        "patient.primary_doctor",
        "pending",
    )
    assert (row.entity, row.record_id, row.key) == (
        "vital_reading",
        reading["id"],
        f"high_bp_alert:0:vital_reading:{reading['id']}:v1",
    )
    assert row.next_attempt_at == dt.datetime(2026, 12, 1, 1, 0)  # now, in UTC
    [task] = clinic.service.list(ADMIN, "follow_up").items
    assert task["reason"] == "High blood pressure reading"
    clinic.service.create(NURSE, "vital_reading", {"patient": clinic.patient, "systolic": 120, "diastolic": 80})
    assert len(clinic.rows(outbox)) == 1  # a normal reading alerts nobody


def test_a_failing_action_rolls_the_whole_write_back_and_names_the_automation(variant):
    with pytest.raises(ValidationFailed) as failed:
        variant.service.create(NURSE, "vital_reading", {"patient": variant.patient, "systolic": 199, "diastolic": 80})
    [error] = failed.value.errors
    assert error.code == "automation" and "broken_follow_up" in error.message and "attempts" in error.message
    assert variant.service.list(ADMIN, "vital_reading").total == 0  # the reading itself is not kept
    assert variant.service.list(ADMIN, "follow_up").total == 0  # nor the high-BP follow-up before it
    assert variant.rows(outbox) == []  # nor any message


def test_automations_setting_each_other_off_stop_at_the_depth_limit(variant):
    task = variant.service.create(ADMIN, "follow_up", {"patient": variant.patient, "due_on": "2026-12-04"})
    with pytest.raises(ValidationFailed) as loop:
        variant.service.update(ADMIN, "follow_up", task["id"], {"reason": "loop"}, task["version"])
    assert "ping_pong" in str(loop.value) and "levels deep" in str(loop.value)
    assert variant.service.get(ADMIN, "follow_up", task["id"])["version"] == 1


def test_webhooks_go_to_the_outbox_too(variant):
    reading = variant.service.create(
        NURSE, "vital_reading", {"patient": variant.patient, "systolic": 150, "diastolic": 80}
    )
    [row] = variant.rows(outbox)
    assert (row.automation, row.channel, row.template, row.recipient) == (
        "tell_the_lab",
        "webhook",
        None,
        "https://lab.example/hook",
    )
    assert row.record_id == reading["id"]


def test_seeded_history_plans_timers_but_sets_off_no_event_automations(clinic):
    from builder.records import SEEDING
    from builder.system_tables import timers

    starts = (clinic.clock.now + dt.timedelta(hours=48)).isoformat()
    base = {"patient": clinic.patient, "doctor": clinic.doctor}
    clinic.service.create(SEEDING, "appointment", {**base, "starts_at": "2026-11-01T09:00", "status": "completed"})
    clinic.service.create(SEEDING, "appointment", {**base, "starts_at": starts, "status": "confirmed"})
    assert clinic.service.list(ADMIN, "visit").total == 0 and clinic.service.list(ADMIN, "follow_up").total == 0
    assert {(t.automation, t.status) for t in clinic.rows(timers)} >= {("appointment_reminder", "planned")}


def test_after_an_event_a_timer_is_planned_and_fires_once_a_week_later(variant):
    from builder.records.timer_jobs import fire_due_timers
    from builder.system_tables import timers

    appt = completed(variant)
    [survey] = variant.rows(timers, automation="survey_after_visit")
    assert (survey.status, survey.due_at) == ("planned", dt.datetime(2026, 12, 8, 1, 0))  # 7 days on, UTC
    assert variant.rows(outbox, automation="survey_after_visit") == []
    week_later = dt.datetime(2026, 12, 8, 1, 1, tzinfo=dt.UTC)
    assert fire_due_timers(variant.service, week_later) == 2  # and the 3-day follow-up's overdue alert, missed
    assert variant.rows(timers, automation="survey_after_visit")[0].status == "fired"
    assert [t.status for t in variant.rows(timers, automation="follow_up_overdue")] == ["missed", "planned"]
    [message] = variant.rows(outbox, automation="survey_after_visit")
    assert (message.record_id, message.recipient) == (appt["id"], "patient")
    assert fire_due_timers(variant.service, week_later) == 0


def test_a_manual_button_runs_the_automation_now_for_its_roles_only(clinic):
    from workflow_helpers import ANALYST

    from builder.records import NotFound, PermissionDenied
    from builder.system_tables import audit

    run = clinic.service.run_automation
    appt = clinic.appointment()
    with pytest.raises(ValidationFailed) as not_now:  # requested: the reminder's `if:` does not hold
        run(FRONT, "appointment", appt["id"], "appointment_reminder")
    assert "does not apply" in str(not_now.value)
    clinic.move(FRONT, "appointment", appt, "confirm")
    with pytest.raises(PermissionDenied):
        run(NURSE, "appointment", appt["id"], "appointment_reminder")
    with pytest.raises(NotFound):
        run(ANALYST, "appointment", appt["id"], "appointment_reminder")
    with pytest.raises(NotFound):  # no button on this one
        run(FRONT, "appointment", appt["id"], "after_visit")
    assert run(FRONT, "appointment", appt["id"], "appointment_reminder") == 1
    [row] = clinic.rows(outbox, automation="appointment_reminder")
    assert row.key.startswith(f"appointment_reminder:0:appointment:{appt['id']}:manual:") and row.recipient == "patient"
    [entry] = clinic.rows(audit, action="automation")
    assert (entry.actor, entry.record_id) == ("fay", appt["id"])
