"""Event matching: which automations a write sets off, with `if:` evaluated on the record."""

from __future__ import annotations

import datetime as dt

import pytest
from flows_helpers import NOW, flows

from engines.workflows import Event, FlowError, match_event

NOTE = [{"update": {"values": {"note": "'touched'"}}}]
AUTOMATIONS = {
    "on_create": {"entity": "appointment", "when": "created", "do": NOTE},
    "on_update": {"entity": "appointment", "when": "updated", "do": NOTE},
    "on_delete": {"entity": "appointment", "when": "deleted", "do": NOTE},
    "on_move": {"entity": "appointment", "when": {"changed": ["starts_at"]}, "do": NOTE},
    "on_confirmed": {"entity": "appointment", "when": {"enter": "confirmed"}, "do": NOTE},
    "on_left_requested": {"entity": "appointment", "when": {"leave": "requested"}, "do": NOTE},
    "on_cancel": {"entity": "appointment", "when": {"transition": "cancel"}, "do": NOTE},
    "on_patient": {"entity": "patient", "when": "created", "do": [{"update": {"values": {"name": "'x'"}}}]},
}
PATIENT = {"id": 3, "name": "Li Na", "consent_sms": True, "primary_doctor": {"id": 9, "name": "Dr Wang"}}
BEFORE = {"id": 7, "patient": PATIENT, "starts_at": NOW, "status": "requested", "note": None}


def fired(event, automations=AUTOMATIONS):
    return [f.automation for f in match_event(flows(automations=automations).of_entity(event.entity), event, now=NOW)]


def test_created_matches_created_and_entering_the_first_state():
    assert fired(Event("appointment", "created", 7, None, BEFORE)) == ["on_create"]
    assert fired(Event("appointment", "created", 7, None, {**BEFORE, "status": "confirmed"})) == [
        "on_create",
        "on_confirmed",
    ]


def test_an_update_matches_updated_and_the_changed_fields():
    moved = {**BEFORE, "starts_at": NOW + dt.timedelta(days=1)}
    assert fired(Event("appointment", "updated", 7, BEFORE, moved)) == ["on_update", "on_move"]
    assert fired(Event("appointment", "updated", 7, BEFORE, {**BEFORE, "note": "x"})) == ["on_update"]


def test_a_transition_matches_its_name_and_the_states_entered_and_left():
    confirmed = {**BEFORE, "status": "confirmed"}
    event = Event("appointment", "transition", 7, BEFORE, confirmed, transition="confirm", workflow="appointment_flow")
    assert event.changed == {"status"}
    assert fired(event) == ["on_update", "on_confirmed", "on_left_requested"]
    cancelled = Event(
        "appointment", "transition", 7, confirmed, {**confirmed, "status": "cancelled"}, transition="cancel"
    )
    assert fired(cancelled) == ["on_update", "on_cancel"]


def test_deleted_matches_deleted_only():
    assert fired(Event("appointment", "deleted", 7, BEFORE, None)) == ["on_delete"]


def test_other_entities_do_not_match():
    assert fired(Event("patient", "created", 3, None, PATIENT)) == ["on_patient"]


def test_an_unknown_event_kind_is_a_programming_error():
    with pytest.raises(ValueError):
        Event("appointment", "inserted", 7)


def test_conditions_are_evaluated_on_the_record_and_actions_get_their_values():
    automations = {
        "follow": {
            "entity": "appointment",
            "when": {"enter": "completed"},
            "if": "patient.consent_sms",
            "do": [
                {
                    "create": {
                        "entity": "follow_up",
                        "values": {
                            "patient": "patient.id",
                            "assignee": "patient.primary_doctor.id",
                            "due_on": "today() + days(3)",
                            "reason": "'Post-visit'",
                        },
                    }
                },
                {"notify": {"to": "patient", "channel": "sms", "template": "reminder", "if": "not is_empty(note)"}},
            ],
        }
    }
    done = {**BEFORE, "status": "completed"}
    event = Event("appointment", "transition", 7, {**BEFORE, "status": "checked_in"}, done, transition="complete")
    [firing] = match_event(flows(automations=automations).of_entity("appointment"), event, now=NOW)
    assert [a.kind for a in firing.actions] == ["create"]  # the notify's `if:` is false: no note
    assert firing.actions[0].values == {
        "patient": 3,
        "assignee": 9,
        "due_on": dt.date(2026, 12, 4),
        "reason": "Post-visit",
    }
    no_consent = {**done, "patient": {**PATIENT, "consent_sms": False}}
    assert (
        match_event(
            flows(automations=automations).of_entity("appointment"),
            Event("appointment", "transition", 7, BEFORE, no_consent),
            now=NOW,
        )
        == []
    )


def test_after_gives_a_due_timer_instead_of_actions():
    automations = {"survey": {"entity": "appointment", "when": {"enter": "completed"}, "after": "days(7)", "do": NOTE}}
    event = Event("appointment", "transition", 7, {**BEFORE, "status": "checked_in"}, {**BEFORE, "status": "completed"})
    [firing] = match_event(flows(automations=automations).of_entity("appointment"), event, now=NOW)
    assert (firing.due, firing.actions, firing.record_id) == (NOW + dt.timedelta(days=7), (), 7)


def test_a_failing_expression_names_the_automation():
    automations = {
        "bad": {"entity": "appointment", "when": "created", "if": "count('follow_up', patient=patient) > 0", "do": NOTE}
    }
    with pytest.raises(FlowError) as caught:
        match_event(
            flows(automations=automations).of_entity("appointment"),
            Event("appointment", "created", 7, None, BEFORE),
            now=NOW,
        )
    assert caught.value.automation == "bad"


def test_a_manual_run_is_for_the_roles_it_names_and_still_obeys_if():
    automations = {
        "remind_now": {
            "entity": "appointment",
            "manual": {"roles": ["front_desk"]},
            "if": "status == 'confirmed'",
            "do": NOTE,
        }
    }
    remind = flows(automations=automations).automations["remind_now"]
    assert remind.allows_manual(["nurse", "front_desk"]) and not remind.allows_manual(["nurse"])
    assert not remind.holds(BEFORE, NOW)
    assert [a.values for a in remind.ready_actions({**BEFORE, "status": "confirmed"}, NOW)] == [{"note": "touched"}]
    assert flows(automations={"plain": AUTOMATIONS["on_create"]}).automations["plain"].allows_manual(["admin"]) is False


def test_today_is_the_date_in_the_timezone_of_now():
    automations = {
        "follow": {
            "entity": "appointment",
            "when": "created",
            "do": [{"create": {"entity": "follow_up", "values": {"due_on": "today() + days(3)"}}}],
        }
    }
    early = dt.datetime(2026, 12, 1, 7, 0, tzinfo=NOW.tzinfo)  # still 30 November in UTC
    [firing] = match_event(
        flows(automations=automations).of_entity("appointment"),
        Event("appointment", "created", 7, None, BEFORE),
        now=early,
    )
    assert firing.actions[0].values == {"due_on": dt.date(2026, 12, 4)}
