"""Timer planning: a reminder follows its appointment, and a missed moment is never fired late."""

from __future__ import annotations

import datetime as dt

from flows_helpers import NOW, REMINDER, SHANGHAI, flows

from engines.workflows import due_verdict, plan_timers

H = dt.timedelta(hours=1)
OVERDUE = {"entity": "follow_up", "at": "due_on + days(1)", "do": [{"update": {"values": {"reason": "'late'"}}}]}


def plan(before, after, now=NOW, automations=None):
    built = flows(automations=automations or {"reminder": REMINDER})
    return [
        (p.automation, p.record_id, p.status, p.due, p.reason)
        for p in plan_timers(
            built.automations.values(),
            "appointment" if "starts_at" in (after or before or {}) else "follow_up",
            7,
            before,
            after,
            now=now,
            zone=SHANGHAI,
        )
    ]


def appointment(hours_ahead: float, status="confirmed"):
    return {"id": 7, "starts_at": NOW + hours_ahead * H, "status": status, "patient": {"consent_sms": True}}


def test_a_confirmed_appointment_gets_its_reminder_24_hours_before():
    assert plan(None, appointment(48)) == [("reminder", 7, "planned", NOW + 24 * H, None)]


def test_a_moved_appointment_moves_its_reminder():
    assert plan(appointment(48), appointment(72)) == [("reminder", 7, "planned", NOW + 48 * H, None)]


def test_an_unchanged_moment_leaves_the_stored_timer_alone():
    before, after = appointment(48), {**appointment(48), "note": "parking"}
    assert plan(before, after) == [("reminder", 7, "unchanged", NOW + 24 * H, None)]


def test_a_cancelled_appointment_cancels_its_reminder():
    [found] = plan(appointment(48), appointment(48, status="cancelled"))
    assert found[:4] == ("reminder", 7, "cancelled", None)
    assert found[4] == "the condition `status == 'confirmed'` no longer holds"


def test_a_deleted_appointment_cancels_its_reminder():
    assert plan(appointment(48), None) == [("reminder", 7, "cancelled", None, "the record was deleted")]


def test_an_empty_moment_cancels():
    [found] = plan(appointment(48), {**appointment(48), "starts_at": None})
    assert found[2:4] == ("cancelled", None)
    assert "gives no moment" in found[4]


def test_a_moment_already_passed_when_planned_is_skipped_with_a_reason():
    [found] = plan(None, appointment(10))  # booked 10 h ahead: the 24 h reminder moment is gone
    assert found[2:4] == ("skipped", NOW - 14 * H)
    assert found[4].startswith("its moment (2026-11-30T19:00:00+08:00) had already passed when it was planned")


def test_confirming_late_skips_rather_than_fires():
    assert plan(appointment(10, "requested"), appointment(10))[0][2] == "skipped"


def test_naive_datetimes_and_dates_are_local_to_the_app():
    naive = {**appointment(48), "starts_at": dt.datetime(2026, 12, 5, 10, 0)}
    assert plan(None, naive)[0][3] == dt.datetime(2026, 12, 4, 10, 0, tzinfo=SHANGHAI)
    task = {"id": 7, "due_on": dt.date(2026, 12, 3)}
    assert plan(None, task, automations={"overdue": OVERDUE}) == [
        ("overdue", 7, "planned", dt.datetime(2026, 12, 4, tzinfo=SHANGHAI), None)
    ]


def test_grace_decides_fire_or_missed():
    due = NOW
    assert due_verdict(due, NOW - dt.timedelta(seconds=1), H) == "wait"
    assert due_verdict(due, NOW, H) == "fire"
    assert due_verdict(due, NOW + H, H) == "fire"
    assert due_verdict(due, NOW + H + dt.timedelta(seconds=1), H) == "missed"


def test_grace_comes_from_the_automation():
    built = flows(automations={"reminder": {**REMINDER, "grace": "hours(2)"}, "plain": {**REMINDER}})
    assert built.automations["reminder"].grace == 2 * H
    assert built.automations["plain"].grace == H  # the default
