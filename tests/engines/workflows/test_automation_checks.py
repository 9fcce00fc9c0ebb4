"""Meaning checks of automations: triggers, expressions and every name an action uses."""

from __future__ import annotations

from flows_helpers import REMINDER, codes

A = ("automations", "a")


def auto(**spec):
    """Problems of one automation `a` on appointment (the reminder's text stays defined)."""
    return codes(automations={"a": {"entity": "appointment", "do": [{"update": {"values": {"note": "'x'"}}}], **spec}})


def test_the_sample_reminder_has_no_problem():
    assert codes(automations={"a": REMINDER}) == []


def test_unknown_entity():
    assert auto(entity="apointment", when="created") == [("automation.unknown_entity", A + ("entity",))]


def test_triggers_that_never_fire_or_clash():
    assert auto() == [("automation.no_trigger", A)]
    assert auto(when="created", at="starts_at") == [("automation.two_triggers", A + ("at",))]
    assert auto(at="starts_at", after="days(1)") == [("automation.after_needs_when", A + ("after",))]
    assert auto(when="created", for_each="true") == [("automation.for_each_needs_schedule", A + ("for_each",))]
    assert auto(when="created", grace="hours(1)") == [("automation.grace_unused", A + ("grace",))]


def test_a_manual_automation_needs_no_other_trigger_but_known_roles():
    assert auto(manual={"roles": ["front_desk"]}) == []
    assert auto(manual={"roles": ["frontdesk"]}) == [("automation.unknown_role", A + ("manual", "roles", 0))]


def test_cron_syntax():
    assert auto(schedule="0 9 1 * *", for_each="not is_empty(note)") == []
    assert auto(schedule="0 25 * * *") == [("automation.bad_schedule", A + ("schedule",))]
    assert auto(schedule="every monday") == [("automation.bad_schedule", A + ("schedule",))]


def test_moments_and_delays_are_typed():
    assert auto(at="starts_at - hours(24)") == []
    assert auto(at="note") == [("automation.wrong_type", A + ("at",))]
    assert auto(when="created", after="starts_at") == [("automation.wrong_type", A + ("after",))]
    assert auto(at="starts_at", grace="note") == [("expression.unknown_name", A + ("grace",))]


def test_events_name_fields_states_and_transitions_that_exist():
    assert auto(when={"changed": ["starts_at", "start"]}) == [("automation.unknown_field", A + ("when", "changed", 1))]
    assert auto(when={"enter": "confirmd"}) == [("automation.unknown_state", A + ("when", "enter"))]
    assert auto(when={"leave": "confirmed"}) == []
    assert auto(when={"transition": "confirmm"}) == [("automation.unknown_transition", A + ("when", "transition"))]
    assert auto(when={"enter": "confirmed", "workflow": "other"}) == [
        ("automation.unknown_workflow", A + ("when", "workflow"))
    ]


def test_state_events_need_an_entity_with_a_workflow():
    found = codes(
        automations={
            "a": {"entity": "patient", "when": {"enter": "x"}, "do": [{"update": {"values": {"name": "'x'"}}}]}
        }
    )
    assert found == [("automation.no_workflow", A + ("when",))]


def test_conditions_compile_against_the_entity():
    assert auto(when="created", **{"if": "status == 'confirmd'"}) == [("expression.choice", A + ("if",))]
    assert auto(schedule="0 9 * * *", for_each="nte == 'x'") == [("expression.unknown_name", A + ("for_each",))]


def act(action, entity="appointment"):
    return codes(automations={"a": {"entity": entity, "when": "created", "do": [action]}})


def test_create_names_an_entity_and_its_fields_with_fitting_values():
    assert (
        act(
            {
                "create": {
                    "entity": "follow_up",
                    "values": {
                        "patient": "patient",
                        "assignee": "patient.primary_doctor",
                        "due_on": "today() + days(3)",
                        "reason": "'Post-visit'",
                    },
                }
            }
        )
        == []
    )
    assert act({"create": {"entity": "folow_up"}}) == [("automation.unknown_entity", A + ("do", 0, "create", "entity"))]
    assert act({"create": {"entity": "follow_up", "values": {"reasn": "'x'", "due_on": "today()"}}}) == [
        ("automation.unknown_field", A + ("do", 0, "create", "values", "reasn"))
    ]
    assert act({"create": {"entity": "follow_up", "values": {"reason": "'x'"}}}) == [
        ("automation.missing_required", A + ("do", 0, "create", "values"))
    ]
    assert act({"create": {"entity": "follow_up", "values": {"due_on": "note"}}}) == [
        ("automation.wrong_type", A + ("do", 0, "create", "values", "due_on"))
    ]
    unquoted = {"reason": "Post-visit follow-up", "due_on": "today()"}
    assert act({"create": {"entity": "follow_up", "values": unquoted}}) == [
        ("expression.syntax", A + ("do", 0, "create", "values", "reason"))
    ]


def test_update_follows_a_link_to_its_record():
    assert act({"update": {"record": "patient", "values": {"stage": "'dormant'"}}}) == []
    assert act({"update": {"record": "patient", "values": {"stag": "'dormant'"}}}) == [
        ("automation.unknown_field", A + ("do", 0, "update", "values", "stag"))
    ]
    assert act({"update": {"record": "note", "values": {"x": "1"}}}) == [
        ("automation.not_a_link", A + ("do", 0, "update", "record"))
    ]
    assert act({"update": {"record": "patint", "values": {"x": "1"}}}) == [
        ("automation.unknown_field", A + ("do", 0, "update", "record"))
    ]


def test_assign_sets_a_link():
    assert act({"assign": {"field": "doctor", "to": "patient.primary_doctor"}}) == []
    assert act({"assign": {"field": "note", "to": "patient.primary_doctor"}}) == [
        ("automation.not_a_link", A + ("do", 0, "assign", "field"))
    ]


def test_notify_names_a_template_a_recipient_and_a_role():
    assert act({"notify": {"to": "patient.primary_doctor.user", "channel": "wecom", "template": "reminder"}}) == []
    assert act({"notify": {"to": "record", "channel": "any_channel", "template": "reminder"}}) == []
    assert act({"notify": {"to": "patient", "channel": "sms", "template": "remider"}}) == [
        ("automation.unknown_template", A + ("do", 0, "notify", "template"))
    ]
    assert act({"notify": {"to_role": "doctr", "channel": "inbox", "template": "reminder"}}) == [
        ("automation.unknown_role", A + ("do", 0, "notify", "to_role"))
    ]
    assert act({"notify": {"to": "patient.primary_doctor.user.name", "channel": "sms", "template": "reminder"}}) == [
        ("automation.not_a_link", A + ("do", 0, "notify", "to"))
    ]


def test_action_conditions_and_webhook_bodies_compile():
    assert act({"notify": {"to": "patient", "channel": "sms", "template": "reminder", "if": "patient.consent"}}) == [
        ("expression.unknown_name", A + ("do", 0, "notify", "if"))
    ]
    assert act({"webhook": {"url": "https://example.org/hook", "body": {"when": "starts_at", "n": "nte"}}}) == [
        ("expression.unknown_name", A + ("do", 0, "webhook", "body", "n"))
    ]


def test_transition_actions_name_a_transition_of_the_workflow():
    assert act({"transition": {"name": "cancel"}}) == []
    assert act({"transition": {"name": "cancl"}}) == [
        ("automation.unknown_transition", A + ("do", 0, "transition", "name"))
    ]
    assert act({"transition": {"name": "cancel"}}, entity="patient") == [
        ("automation.no_workflow", A + ("do", 0, "transition"))
    ]
