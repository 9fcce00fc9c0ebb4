"""The state machine decides transitions purely: who, from where, with what filled in, under which condition."""

from __future__ import annotations

import datetime as dt

from flows_helpers import NOW, flow, flows, transitions

from engines.workflows import HistoryEntry

EARLIER = NOW - dt.timedelta(hours=1)


def machine(**changes):
    return flows(workflows={"appointment_flow": flow(**changes)}).machine_for("appointment")


def record(**values):
    return {"id": 7, "starts_at": EARLIER, "note": None, "status": "requested", **values}


def test_an_allowed_transition_gives_the_new_state_and_the_history_entry():
    decision = machine().decide(record(), ["front_desk"], "confirm", now=NOW, actor=12, comment="by phone")
    assert decision.allowed and decision.code is None
    assert (decision.from_state, decision.to_state) == ("requested", "confirmed")
    assert decision.entry == HistoryEntry("appointment_flow", "confirm", "requested", "confirmed", 12, NOW, "by phone")


def test_a_record_without_a_state_is_in_the_initial_state():
    assert machine().decide(record(status=None), ["front_desk"], "confirm", now=NOW).allowed


def test_unknown_transition():
    decision = machine().decide(record(), ["front_desk"], "approve", now=NOW)
    assert (decision.allowed, decision.code) == (False, "unknown_transition")


def test_wrong_role():
    decision = machine().decide(record(), ["nurse", "doctor"], "confirm", now=NOW)
    assert (decision.allowed, decision.code, decision.entry) == (False, "role", None)


def test_roles_default_to_those_that_may_write_the_state_field():
    m = machine()
    assert m.roles["check_in"] == {"front_desk"}  # nurse may write `note` only
    confirmed = record(status="confirmed")
    assert m.decide(confirmed, ["front_desk"], "check_in", now=NOW).allowed
    assert m.decide(confirmed, ["nurse"], "check_in", now=NOW).code == "role"


def test_wrong_from_state():
    decision = machine().decide(record(status="completed"), ["front_desk"], "cancel", now=NOW)
    assert (decision.allowed, decision.code) == (False, "wrong_state")
    assert decision.reason == "the record is `completed`; `cancel` starts from requested, confirmed"


def test_required_fields_must_be_filled():
    decision = machine().decide(record(status="checked_in", note=""), ["doctor"], "complete", now=NOW)
    assert (decision.allowed, decision.code, decision.missing) == (False, "required", ("note",))


def test_a_false_guard_refuses_with_the_condition():
    later = record(status="checked_in", note="fine", starts_at=NOW + dt.timedelta(hours=2))
    decision = machine().decide(later, ["doctor"], "complete", now=NOW)
    assert (decision.allowed, decision.code) == (False, "guard")
    assert decision.reason == "the condition `starts_at <= now()` is not met"
    assert machine().decide(later, ["doctor"], "complete", now=NOW + dt.timedelta(hours=3)).allowed


def test_a_guard_that_fails_on_the_data_is_a_refusal_not_an_exception():
    m = machine(
        transitions=transitions(
            confirm={
                "from": "requested",
                "to": "confirmed",
                "roles": ["front_desk"],
                "if": "count('appointment', patient=patient) < 3",
            }
        )
    )
    decision = m.decide(record(), ["front_desk"], "confirm", now=NOW)  # no related-records port given
    assert (decision.allowed, decision.code) == (False, "guard_error")


def test_the_system_is_not_asked_for_a_role_but_for_everything_else():
    m = machine()
    assert m.decide(record(), [], "confirm", now=NOW, system=True, actor=5).entry.actor is None
    assert m.decide(record(status="completed"), [], "cancel", now=NOW, system=True).code == "wrong_state"


def test_available_transitions_are_the_buttons_for_this_record_and_actor():
    m = machine()
    assert [d.transition for d in m.available(record(), ["front_desk"], now=NOW)] == ["confirm", "cancel"]
    assert [d.transition for d in m.available(record(), ["admin"], now=NOW)] == ["cancel"]
    assert m.available(record(), ["doctor"], now=NOW) == []
    buttons = m.available(record(status="checked_in"), ["doctor"], now=NOW)
    assert [(d.transition, d.allowed, d.code) for d in buttons] == [("complete", False, "required")]


def test_labels_per_locale():
    m = machine()
    assert m.label("requested", "zh-CN") == "待确认"
    assert m.label("checked_in", "en") == "checked in"
