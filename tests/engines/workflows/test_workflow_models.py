"""The section models refuse what is malformed: unknown keys, missing parts, several kinds at once."""

from __future__ import annotations

import pytest
from flows_helpers import APPOINTMENT_FLOW, REMINDER
from pydantic import ValidationError

from engines.workflows import ActionSpec, AutomationSpec, NotificationSpec, WorkflowSpec


def test_the_sample_sections_are_accepted():
    spec = WorkflowSpec.model_validate(APPOINTMENT_FLOW)
    assert spec.transitions["cancel"].sources == ["requested", "confirmed"]
    assert spec.transitions["confirm"].sources == ["requested"]
    assert spec.transitions["complete"].if_ == "starts_at <= now()"
    assert AutomationSpec.model_validate(REMINDER).do[0].kind == "notify"


@pytest.mark.parametrize(
    "raw",
    [
        {**APPOINTMENT_FLOW, "stats": {}},  # unknown key
        {**APPOINTMENT_FLOW, "states": {}},  # no state
        {**APPOINTMENT_FLOW, "states": {"a": {"color": "pink"}}},  # unknown colour
        {**APPOINTMENT_FLOW, "transitions": {"x": {"from": [], "to": "a"}}},  # from nothing
        {**APPOINTMENT_FLOW, "transitions": {"x": {"to": "a"}}},  # no from
        {k: v for k, v in APPOINTMENT_FLOW.items() if k != "initial"},
    ],
)
def test_malformed_workflows_are_refused(raw):
    with pytest.raises(ValidationError):
        WorkflowSpec.model_validate(raw)


def test_colours_may_be_named_or_hex():
    spec = WorkflowSpec.model_validate({**APPOINTMENT_FLOW, "states": {"a": {"color": "#12ab9F"}}})
    assert spec.states["a"].color == "#12ab9F"


@pytest.mark.parametrize(
    "raw",
    [
        {"notify": {"to": "patient", "channel": "sms", "template": "t"}, "update": {"values": {"a": "1"}}},  # two kinds
        {},  # none
        {"notify": {"channel": "sms", "template": "t"}},  # no recipient
        {"notify": {"to": "patient", "to_role": "doctor", "channel": "sms", "template": "t"}},  # two recipients
        {"webhook": {"url": "ftp://example.org"}},  # not http(s)
        {"webhook": {"url": "https://example.org", "secret_env": "lower_case"}},
        {"update": {"values": {}}},  # nothing to set
        {"create": {"entity": "x", "valeus": {}}},  # typo
    ],
)
def test_malformed_actions_are_refused(raw):
    with pytest.raises(ValidationError):
        ActionSpec.model_validate(raw)


@pytest.mark.parametrize("when", [{}, {"enter": "a", "leave": "b"}, {"changed": []}, "inserted"])
def test_an_event_is_exactly_one_thing(when):
    with pytest.raises(ValidationError):
        AutomationSpec.model_validate({**REMINDER, "at": None, "when": when})


def test_an_automation_needs_actions():
    with pytest.raises(ValidationError):
        AutomationSpec.model_validate({**REMINDER, "do": []})


def test_on_is_not_a_key_because_yaml_reads_it_as_true():
    with pytest.raises(ValidationError):
        AutomationSpec.model_validate({**REMINDER, "on": "created"})


def test_a_notification_needs_a_body_per_channel():
    with pytest.raises(ValidationError):
        NotificationSpec.model_validate({"channels": {"sms": {"subject": "x"}}})
    with pytest.raises(ValidationError):
        NotificationSpec.model_validate({"channels": {}})
