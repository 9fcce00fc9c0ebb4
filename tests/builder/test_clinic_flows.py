"""The clinic template's flows: they load with the template and behave as a clinic expects.

Pure engine calls on the loaded template (no database): the state machines,
the 24 h reminder, the follow-up tasks, the blood-pressure alert and the recall.
"""

from __future__ import annotations

import datetime as dt
import xml.etree.ElementTree as ET
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from builder.loading import load_blueprint
from engines.rules import InMemoryRelated
from engines.workflows import Event, match_event, plan_timers, workflow_svg

ROOT = Path(__file__).resolve().parents[2]
SHANGHAI = ZoneInfo("Asia/Shanghai")
NOW = dt.datetime(2026, 12, 1, 9, 0, tzinfo=SHANGHAI)
PATIENT = {
    "id": 3,
    "name": "李娜",
    "consent_sms": True,
    "stage": "active",
    "primary_doctor": {"id": 9, "name": "王医生"},
}


@pytest.fixture(scope="module")
def flows():
    return load_blueprint(ROOT / "blueprints" / "clinic").flows


def test_the_template_has_its_flows(flows):
    assert set(flows.machines) == {"appointment_flow", "follow_up_flow"}
    assert set(flows.automations) == {
        "appointment_reminder",
        "no_show_after_30_minutes",
        "after_visit",
        "after_no_show",
        "count_attempt",
        "follow_up_overdue",
        "high_bp_alert",
        "monthly_recall",
    }
    assert set(flows.notifications["appointment_reminder"].channels["sms"].body) == {"zh-CN", "en"}


def test_appointment_path(flows):
    m = flows.machine_for("appointment")
    appointment = {"id": 7, "status": "requested", "starts_at": NOW + dt.timedelta(days=2)}
    assert [d.transition for d in m.available(appointment, ["front_desk"], now=NOW)] == ["confirm", "cancel"]
    assert m.decide(appointment, ["doctor"], "confirm", now=NOW).code == "role"
    assert m.decide({**appointment, "status": "checked_in"}, ["doctor"], "complete", now=NOW).allowed
    too_early = m.decide({**appointment, "status": "confirmed"}, ["front_desk"], "mark_no_show", now=NOW)
    assert too_early.code == "guard"


def test_unreachable_after_three_attempts(flows):
    m = flows.machine_for("follow_up")
    task = {"id": 5, "status": "open", "attempts": 2, "outcome": None}
    assert m.decide(task, ["nurse"], "give_up", now=NOW).code == "guard"
    assert m.decide({**task, "attempts": 3}, ["nurse"], "give_up", now=NOW).allowed
    assert m.decide(task, ["nurse"], "done", now=NOW).missing == ("outcome",)
    event = Event("follow_up", "transition", 5, task, task, transition="log_attempt", workflow="follow_up_flow")
    [firing] = match_event(flows.of_entity("follow_up"), event, now=NOW)
    assert firing.actions[0].values == {"attempts": 3}


def test_reminder_24_hours_before_a_confirmed_appointment(flows):
    booked = {"id": 7, "status": "requested", "starts_at": NOW + dt.timedelta(days=3), "patient": PATIENT}
    confirmed = {**booked, "status": "confirmed"}
    plans = {
        p.automation: p
        for p in plan_timers(
            flows.of_entity("appointment"), "appointment", 7, booked, confirmed, now=NOW, zone=SHANGHAI
        )
    }
    assert plans["appointment_reminder"].status == "planned"
    assert plans["appointment_reminder"].due == NOW + dt.timedelta(days=2)
    assert plans["no_show_after_30_minutes"].due == NOW + dt.timedelta(days=3, minutes=30)
    reminder = flows.automations["appointment_reminder"]
    assert [a.kind for a in reminder.ready_actions(confirmed, NOW)] == ["notify"]
    no_consent = {**confirmed, "patient": {**PATIENT, "consent_sms": False}}
    assert reminder.ready_actions(no_consent, NOW) == []


def test_a_completed_visit_makes_a_visit_and_two_follow_ups_for_the_primary_doctor(flows):
    before = {"id": 7, "status": "checked_in", "patient": PATIENT, "doctor": {"id": 9}, "starts_at": NOW}
    event = Event("appointment", "transition", 7, before, {**before, "status": "completed"}, transition="complete")
    [firing] = match_event(flows.of_entity("appointment"), event, now=NOW)
    creates = [(a.spec.create.entity, a.values.get("due_on"), a.values.get("assignee")) for a in firing.actions]
    assert creates == [
        ("visit", None, None),
        ("follow_up", dt.date(2026, 12, 4), PATIENT["primary_doctor"]),
        ("follow_up", dt.date(2026, 12, 31), PATIENT["primary_doctor"]),
    ]


@pytest.mark.parametrize(
    "reading, fires",
    [
        ({"systolic": 185, "diastolic": 100, "risk": "high"}, True),
        ({"systolic": 150, "diastolic": 85, "risk": "elevated"}, False),
    ],
)
def test_high_blood_pressure_alerts_the_doctor(flows, reading, fires):
    values = {"id": 1, "patient": PATIENT, "taken_at": NOW, **reading}
    firings = match_event(flows.of_entity("vital_reading"), Event("vital_reading", "created", 1, None, values), now=NOW)
    assert [f.automation for f in firings] == (["high_bp_alert"] if fires else [])
    if fires:
        assert [a.kind for a in firings[0].actions] == ["notify", "create"]


def test_monthly_recall_selects_consenting_patients_without_a_visit_for_a_year(flows):
    recall = flows.automations["monthly_recall"]
    related = InMemoryRelated(
        {
            "visit": [
                {"patient": 3, "visited_at": NOW - dt.timedelta(days=400)},
                {"patient": 4, "visited_at": NOW - dt.timedelta(days=30)},
            ]
        }
    )
    assert recall.selects(PATIENT, NOW, related)
    assert not recall.selects({**PATIENT, "consent_sms": False}, NOW, related)
    assert not recall.selects({**PATIENT, "id": 4}, NOW, related)
    assert [a.kind for a in recall.ready_actions(PATIENT, NOW, related)] == ["notify", "update"]


def test_both_diagrams_are_well_formed(flows):
    for machine in flows.machines.values():
        ET.fromstring(workflow_svg(machine.spec, "zh-CN", title=machine.name))
