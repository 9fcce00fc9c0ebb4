"""An entity's `tasks:` declaration: which field says whose task a record is, and when it is due.

"My tasks" must follow the blueprint, not one clinic's names, so the declaration
names its fields and the rest is inferred from field types: the assignee is the one
field that points at a person (a `user` field, or a link to a staff-like entity, one
that has a `user` field), the due moment the first date or datetime field. Which
workflow states count is the workflows engine's to check (it knows the states).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from engines.rules import Problem

from .checks_common import unknown
from .models import EntitySpec

DUE_TYPES = ("date", "datetime")


@dataclass(frozen=True)
class TaskFields:
    """The resolved declaration: the assignee field (None: tasks go to roles) and the due field."""

    assignee: str | None
    due: str | None
    state_field: str | None  # the workflow-driven state field whose states make a record a task


def person_fields(entities: Mapping[str, EntitySpec], entity: str) -> list[str]:
    """The fields of `entity` that point at a person: `user` fields and links to staff-like entities."""
    return [
        name
        for name, field in entities[entity].fields.items()
        if field.type == "user" or (field.type == "link" and _has_user_field(entities.get(field.to or "")))
    ]


def _has_user_field(spec: EntitySpec | None) -> bool:
    return spec is not None and any(f.type == "user" for f in spec.fields.values())


def resolve_tasks(entities: Mapping[str, EntitySpec], entity: str) -> TaskFields | None:
    """The entity's task fields, explicit or inferred; None when it declares no `tasks:`."""
    spec = entities[entity]
    if spec.tasks is None:
        return None
    declared = spec.tasks.assignee
    if declared is None:
        people = person_fields(entities, entity)
        assignee = people[0] if len(people) == 1 else None
    else:
        assignee = declared or None
    due = spec.tasks.due
    if due is None:
        due = next((n for n, f in spec.fields.items() if f.type in DUE_TYPES), None)
    state = next((n for n, f in spec.fields.items() if f.type == "state" and f.workflow), None)
    return TaskFields(assignee, due, state)


def check_tasks(entities: Mapping[str, EntitySpec], entity: str) -> Iterator[Problem]:
    """The declaration's fields exist and have the right types; the entity has a workflow."""
    spec = entities[entity]
    if spec.tasks is None:
        return
    loc = ("entities", entity, "tasks")
    if not any(f.type == "state" and f.workflow for f in spec.fields.values()):
        yield Problem(
            loc,
            "tasks.no_workflow",
            f"`{entity}` has no `state` field driven by a workflow; a task is a record waiting for a move",
            "add a `state` field with `workflow: NAME`, or remove `tasks:`",
        )
    assignee = spec.tasks.assignee
    if isinstance(assignee, str):
        field = spec.fields.get(assignee)
        if field is None:
            yield unknown("field", assignee, spec.fields, loc + ("assignee",), "tasks.unknown_field")
        elif assignee not in person_fields(entities, entity):
            yield Problem(
                loc + ("assignee",),
                "tasks.bad_assignee",
                f"`{assignee}` does not point at a person",
                "use a `user` field or a link to an entity that has a `user` field (staff); "
                "`assignee: false` gives the tasks to the roles that may move the record",
            )
    due = spec.tasks.due
    if due is not None:
        field = spec.fields.get(due)
        if field is None:
            yield unknown("field", due, spec.fields, loc + ("due",), "tasks.unknown_field")
        elif field.type not in DUE_TYPES:
            yield Problem(
                loc + ("due",),
                "tasks.bad_due",
                f"`{due}` is a `{field.type}` field; a task is due on a date or datetime field",
            )
    if spec.tasks.states is not None and not spec.tasks.states:
        yield Problem(loc + ("states",), "tasks.no_states", "`states` is empty: no record would ever be a task")
