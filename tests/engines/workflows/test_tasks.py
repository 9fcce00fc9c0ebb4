"""An entity's `tasks:`: its fields inferred from types, checked at their paths, joined with the workflow."""

from __future__ import annotations

import copy

from flows_helpers import ENTITIES, codes, flows

from engines.forms import EntitySpec, check_entities_and_forms, resolve_tasks

TASKS = ("entities", "appointment", "tasks")


def entities_with(tasks, entity="appointment", **fields):
    raw = copy.deepcopy(ENTITIES)
    raw[entity]["tasks"] = tasks
    raw[entity]["fields"].update(fields)
    return raw


def form_codes(raw) -> list[tuple[str, tuple]]:
    models = {n: EntitySpec.model_validate(e) for n, e in raw.items()}
    found = check_entities_and_forms(
        models, {}, {"admin", "doctor", "nurse", "front_desk"}, workflows={"appointment_flow"}
    )
    return [(p.code, p.loc) for p in found]


def test_absent_keys_are_inferred_from_field_types():
    models = {n: EntitySpec.model_validate(e) for n, e in entities_with({}).items()}
    fields = resolve_tasks(models, "appointment")
    assert (fields.assignee, fields.due, fields.state_field) == ("doctor", "starts_at", "status")  # doctor: staff
    assert resolve_tasks(models, "patient") is None  # no `tasks:`, no tasks
    two = {n: EntitySpec.model_validate(e) for n, e in entities_with({}, nurse={"type": "user"}).items()}
    assert resolve_tasks(two, "appointment").assignee is None  # two people: none guessed, tasks go to roles
    none = {n: EntitySpec.model_validate(e) for n, e in entities_with({"assignee": False}).items()}
    assert resolve_tasks(none, "appointment").assignee is None


def test_states_default_to_the_non_final_ones_and_roles_wait_where_they_may_move():
    source = flows(entities=entities_with({})).tasks["appointment"]
    assert source.states == ("requested", "confirmed", "checked_in")
    assert source.role_states("front_desk") == ("requested", "confirmed")  # confirm, cancel, check_in (writer)
    assert source.role_states("doctor") == ("checked_in",)
    assert source.role_states("nurse") == ()  # nurses may not write `status`: no move, no approval
    chosen = flows(entities=entities_with({"states": ["requested"], "assignee": False})).tasks["appointment"]
    assert (chosen.states, chosen.assignee) == (("requested",), None)


def test_an_unknown_state_is_refused_at_its_path():
    assert codes(entities=entities_with({"states": ["requested", "confirmd"]})) == [
        ("tasks.unknown_state", TASKS + ("states", 1))
    ]


def test_fields_must_exist_and_point_at_a_person_or_a_moment():
    assert form_codes(entities_with({"assignee": "doctr"})) == [("tasks.unknown_field", TASKS + ("assignee",))]
    assert form_codes(entities_with({"assignee": "patient"})) == [("tasks.bad_assignee", TASKS + ("assignee",))]
    assert form_codes(entities_with({"due": "note"})) == [("tasks.bad_due", TASKS + ("due",))]
    assert form_codes(entities_with({"due": "stars_at"})) == [("tasks.unknown_field", TASKS + ("due",))]
    assert form_codes(entities_with({"states": []})) == [("tasks.no_states", TASKS + ("states",))]
    assert form_codes(entities_with({"assignee": "doctor", "due": "starts_at"})) == []


def test_tasks_need_a_workflow_and_tasks_is_no_entity_name():
    assert form_codes(entities_with({}, entity="follow_up")) == [
        ("tasks.no_workflow", ("entities", "follow_up", "tasks"))
    ]
    raw = copy.deepcopy(ENTITIES)
    raw["tasks"] = raw.pop("patient")
    raw["follow_up"]["fields"]["patient"]["to"] = "tasks"
    raw["appointment"]["fields"]["patient"]["to"] = "tasks"
    assert ("name.reserved", ("entities", "tasks")) in form_codes(raw)
    raw = copy.deepcopy(ENTITIES)
    raw["search"] = raw.pop("staff")
    assert ("name.reserved", ("entities", "search")) in form_codes(raw)  # /search, /api/search
