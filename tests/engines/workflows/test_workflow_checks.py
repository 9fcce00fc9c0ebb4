"""Meaning checks of workflows: every way a state machine can be wrong or stuck, at its path."""

from __future__ import annotations

import copy

from flows_helpers import ENTITIES, codes, flow, problems, transitions

W = ("workflows", "appointment_flow")


def entities_with(**status):
    raw = copy.deepcopy(ENTITIES)
    raw["appointment"]["fields"]["status"].update(status)
    return raw


def test_the_sample_flow_has_no_problem():
    assert problems() == []


def test_unknown_entity():
    assert codes(workflows={"appointment_flow": flow(entity="apointment")}) == [
        ("workflow.unknown_entity", W + ("entity",))
    ]


def test_the_entity_needs_a_state_field_naming_the_workflow():
    raw = copy.deepcopy(ENTITIES)
    raw["appointment"]["fields"]["status"] = {"type": "state", "options": ["requested"]}
    found = problems(entities=raw, automations={})
    assert [(p.code, p.loc) for p in found] == [("workflow.no_state_field", W + ("entity",))]
    assert found[0].hint == "add `workflow: appointment_flow` to a field of type state"


def test_options_and_default_of_the_state_field_must_agree_with_the_workflow():
    found = codes(entities=entities_with(options=["requested", "done"], default="done"))
    assert found == [
        ("workflow.options_mismatch", ("entities", "appointment", "fields", "status", "options")),
        ("workflow.default_mismatch", ("entities", "appointment", "fields", "status", "default")),
    ]
    same = list(flow()["states"])
    assert problems(entities=entities_with(options=same, default="requested")) == []


def test_unknown_initial_state():
    found = problems(workflows={"appointment_flow": flow(initial="requestd")})
    assert [(p.code, p.loc) for p in found] == [("workflow.unknown_state", W + ("initial",))]
    assert found[0].hint == "did you mean `requested`?"


def test_transitions_from_and_to_unknown_states():
    found = codes(
        workflows={
            "appointment_flow": flow(
                transitions=transitions(
                    cancel={"from": ["requested", "confirmd"], "to": "cancelled"},
                    confirm={"from": "requested", "to": "confirmd"},
                )
            )
        }
    )
    assert ("workflow.unknown_state", W + ("transitions", "cancel", "from", 1)) in found
    assert ("workflow.unknown_state", W + ("transitions", "confirm", "to")) in found


def test_a_transition_may_not_leave_a_final_state():
    found = codes(
        workflows={"appointment_flow": flow(transitions=transitions(reopen={"from": "cancelled", "to": "requested"}))}
    )
    assert found == [("workflow.leaves_final", W + ("transitions", "reopen", "from"))]


def test_unknown_roles_and_required_fields():
    found = problems(
        workflows={
            "appointment_flow": flow(
                transitions=transitions(
                    confirm={"from": "requested", "to": "confirmed", "roles": ["frontdesk"], "requires": ["notes"]}
                )
            )
        }
    )
    assert [(p.code, p.loc) for p in found] == [
        ("workflow.unknown_role", W + ("transitions", "confirm", "roles", 0)),
        ("workflow.unknown_field", W + ("transitions", "confirm", "requires", 0)),
    ]
    assert [p.hint for p in found] == ["did you mean `front_desk`?", "did you mean `note`?"]


def test_guards_compile_against_the_entity_and_its_states():
    found = problems(
        workflows={
            "appointment_flow": flow(
                transitions=transitions(
                    confirm={"from": "requested", "to": "confirmed", "if": "status != 'confirmd'"},
                    cancel={"from": "requested", "to": "cancelled", "if": "starts_att > now()"},
                )
            )
        }
    )
    assert [(p.code, p.loc) for p in found] == [
        ("expression.choice", W + ("transitions", "confirm", "if")),
        ("expression.unknown_name", W + ("transitions", "cancel", "if")),
    ]
    assert found[1].column_offset == 0


def test_guards_may_read_links_and_the_user():
    assert (
        problems(
            workflows={
                "appointment_flow": flow(
                    transitions=transitions(
                        confirm={
                            "from": "requested",
                            "to": "confirmed",
                            "if": "patient.consent_sms and user.role == 'front_desk'",
                        }
                    )
                )
            }
        )
        == []
    )


def test_unreachable_states_and_dead_ends():
    states = {**flow()["states"], "lost": {}, "waiting": {}}
    found = codes(
        workflows={
            "appointment_flow": flow(
                states=states, transitions=transitions(wait={"from": "confirmed", "to": "waiting"})
            )
        }
    )
    assert found == [("workflow.unreachable", W + ("states", "lost")), ("workflow.dead_end", W + ("states", "waiting"))]


def test_labels_use_known_locales():
    states = {**flow()["states"], "requested": {"label": {"fr": "Demandé"}}}
    assert codes(workflows={"appointment_flow": flow(states=states)}) == [
        ("text.unknown_locale", W + ("states", "requested", "label", "fr"))
    ]
