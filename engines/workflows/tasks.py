"""What makes a record someone's task: an entity's `tasks:` declaration joined with its workflow.

A record is a task while its state is one of the declared states (default: the
workflow's states that are not final). It is the task of the person its assignee
points at; an unassigned one (or one of an entity without an assignee) is a task
for every role that may make a transition from its state: an approval. Pure: the
builder turns this into queries run through the record service.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from engines.forms import EntitySpec, resolve_tasks
from engines.rules import Problem

from .context import FlowContext, unknown_name
from .machine import StateMachine


@dataclass(frozen=True)
class TaskSource:
    """One entity whose records may be tasks, with its fields resolved and its state machine."""

    entity: str
    machine: StateMachine
    states: tuple[str, ...]
    assignee: str | None
    due: str | None

    def role_states(self, role: str) -> tuple[str, ...]:
        """The task states from which `role` may make some transition (an unassigned task waits for it there)."""
        transitions = self.machine.spec.transitions
        return tuple(
            state
            for state in self.states
            if any(state in t.sources and role in self.machine.roles.get(n, ()) for n, t in transitions.items())
        )


def task_sources(entities: Mapping[str, EntitySpec], machines: Mapping[str, StateMachine]) -> dict[str, TaskSource]:
    """Every entity declaring `tasks:`, in blueprint order (checked already)."""
    sources = {}
    for name in entities:
        fields = resolve_tasks(entities, name)
        if fields is None:
            continue
        machine = next(
            (m for m in machines.values() if m.spec.entity == name and m.state_field == fields.state_field), None
        )
        if machine is None:
            continue
        declared = entities[name].tasks
        states = declared.states if declared is not None and declared.states is not None else None
        if states is None:
            states = [s for s, spec in machine.spec.states.items() if not spec.final]
        sources[name] = TaskSource(name, machine, tuple(states), fields.assignee, fields.due)
    return sources


def check_task_states(ctx: FlowContext) -> Iterator[Problem]:
    """A `tasks: states:` list names states of the entity's workflow."""
    for name, spec in ctx.entities.items():
        if spec.tasks is None or not spec.tasks.states:
            continue
        flows = list(ctx.state_fields(name).values())
        if not flows:
            continue  # the forms checks say the entity has no workflow
        states = ctx.workflows[flows[0]].states
        for index, state in enumerate(spec.tasks.states):
            if state not in states:
                loc = ("entities", name, "tasks", "states", index)
                yield unknown_name("state", state, states, loc, "tasks.unknown_state")
