"""Check and compile the `workflows`, `automations` and `notifications` sections together.

`build_flows` runs every meaning check (all problems at once, located from the
blueprint root) and, when there are none, compiles the state machines and the
automations into `Flows`, the one object the builder keeps and hands to the
record service, the pages and the worker.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

from engines.forms import EntitySpec
from engines.rules import Expression, Problem, Scope

from .automation import DEFAULT_GRACE, Automation, CompiledAction
from .automation_spec import ActionSpec, AutomationSpec, EventSpec
from .checks_automations import check_automation
from .checks_notifications import check_notifications
from .checks_workflows import check_workflow
from .context import FlowContext
from .machine import StateMachine
from .notification_spec import NotificationSpec
from .tasks import TaskSource, check_task_states, task_sources
from .workflow_spec import WorkflowSpec


@dataclass
class Flows:
    """The compiled flows of a blueprint: state machines and automations, by name."""

    machines: dict[str, StateMachine] = field(default_factory=dict)
    automations: dict[str, Automation] = field(default_factory=dict)
    notifications: Mapping[str, NotificationSpec] = field(default_factory=dict)
    tasks: dict[str, TaskSource] = field(default_factory=dict)  # entities declaring `tasks:`

    def machine_for(self, entity: str, state_field: str | None = None) -> StateMachine | None:
        """The state machine driving `entity` (its `state_field`, when the entity has several)."""
        for machine in self.machines.values():
            if machine.spec.entity == entity and state_field in (None, machine.state_field):
                return machine
        return None

    def of_entity(self, entity: str) -> list[Automation]:
        """The automations of `entity`, in blueprint order."""
        return [a for a in self.automations.values() if a.entity == entity]


def build_flows(
    workflows: Mapping[str, WorkflowSpec],
    automations: Mapping[str, AutomationSpec],
    notifications: Mapping[str, NotificationSpec],
    entities: Mapping[str, EntitySpec],
    roles: Collection[str],
    *,
    decision_tables: Collection[str] = frozenset(),
    tables: Mapping[str, Any] | None = None,
    locales: Collection[str] | None = None,
) -> tuple[Flows | None, list[Problem]]:
    """The compiled Flows (None when there are problems) and every problem found.

    `decision_tables` are the table names expressions may decide(); `tables` the
    compiled tables, when the flows will run (not just be checked).
    """
    ctx = FlowContext(
        entities,
        frozenset(roles),
        workflows,
        automations,
        notifications,
        frozenset(decision_tables),
        tables,
        None if locales is None else frozenset(locales),
    )
    problems: list[Problem] = []
    for name, spec in workflows.items():
        problems.extend(check_workflow(ctx, name, spec))
    for name, automation in automations.items():
        problems.extend(check_automation(ctx, name, automation))
    problems.extend(check_notifications(ctx))
    problems.extend(check_task_states(ctx))
    if problems:
        return None, problems
    machines = {name: _machine(ctx, name, spec) for name, spec in workflows.items()}
    compiled = {name: _automation(ctx, name, spec) for name, spec in automations.items()}
    return Flows(machines, compiled, notifications, task_sources(entities, machines)), []


def _must(ctx: FlowContext, source: Any, scope: Scope) -> Expression:
    expression, problems = ctx.compile(source, scope, ())
    assert expression is not None, problems  # checked already
    return expression


def _writers(entity: EntitySpec, field: str) -> frozenset[str]:
    """The roles that may write `field`: who may make a transition that names no roles."""
    return frozenset(
        role
        for role, grant in entity.permissions.items()
        if grant.write == "all" or (isinstance(grant.write, list) and field in grant.write)
    )


def _machine(ctx: FlowContext, name: str, spec: WorkflowSpec) -> StateMachine:
    entity = ctx.entities[spec.entity]
    field = next(f for f, flow in ctx.state_fields(spec.entity).items() if flow == name)
    scope = ctx.scope(spec.entity, user=True)
    guards = {t: _must(ctx, s.if_, scope) for t, s in spec.transitions.items() if s.if_ is not None}
    roles = {
        t: frozenset(s.roles) if s.roles is not None else _writers(entity, field) for t, s in spec.transitions.items()
    }
    return StateMachine(name, spec, entity, field, guards, roles)


def _automation(ctx: FlowContext, name: str, spec: AutomationSpec) -> Automation:
    scope = ctx.scope(spec.entity)

    def compiled(source: str | None) -> Expression | None:
        return None if source is None else _must(ctx, source, scope)

    grace = DEFAULT_GRACE if spec.grace is None else _must(ctx, spec.grace, Scope({})).evaluate({})
    workflow, state_field = None, None
    if isinstance(spec.when, EventSpec) and spec.when.changed is None:
        fields = ctx.state_fields(spec.entity)
        workflow = spec.when.workflow or next(iter(fields.values()))
        state_field = next(f for f, flow in fields.items() if flow == workflow)
    actions = [_action(ctx, i, action, scope) for i, action in enumerate(spec.do)]
    return Automation(
        name,
        spec,
        compiled(spec.if_),
        compiled(spec.at),
        compiled(spec.after),
        compiled(spec.for_each),
        grace,
        workflow,
        state_field,
        actions,
    )


def _action(ctx: FlowContext, index: int, action: ActionSpec, scope: Scope) -> CompiledAction:
    raw: dict[str, Any] = {}
    if action.create is not None:
        raw = action.create.values
    elif action.update is not None:
        raw = action.update.values
    elif action.assign is not None:
        raw = {action.assign.field: action.assign.to}
    elif action.webhook is not None:
        raw = action.webhook.body or {}
    values = {k: _must(ctx, v, scope) if isinstance(v, str) else v for k, v in raw.items()}
    condition = None if action.body.if_ is None else _must(ctx, action.body.if_, scope)
    return CompiledAction(index, action, condition, values)
