"""Meaning checks of one automation: its entity, its trigger and each action.

A trigger is one kind (`when:` an event, `at:` a moment, `schedule:` with
`for_each:`), optionally with `after:` (a delay after `when:`) and `manual:`
(a button). Every expression is compiled against the automation entity's
scope; every field, role, state, transition and template it names must exist.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from engines.forms import fits
from engines.forms.scope import rule_type
from engines.rules import Loc, Problem, Scope

from .automation_spec import ActionSpec, AutomationSpec, EventSpec
from .context import FlowContext, unknown_name
from .schedule import cron_problem

LINK_TYPES = ("link", "user")


def check_automation(ctx: FlowContext, name: str, spec: AutomationSpec) -> Iterator[Problem]:
    """Every problem of automation `name`, located from the blueprint root."""
    loc: Loc = ("automations", name)
    if spec.entity not in ctx.entities:
        yield unknown_name("entity", spec.entity, ctx.entities, loc + ("entity",), "automation.unknown_entity")
        return
    yield from _trigger(ctx, spec, loc)
    scope = ctx.scope(spec.entity)
    for key in ("if_", "for_each"):
        if getattr(spec, key) is not None:
            yield from ctx.compile(getattr(spec, key), scope, loc + (key.rstrip("_"),))[1]
    for key, kinds, where in (
        ("at", ("date", "datetime"), scope),
        ("after", ("duration",), scope),
        ("grace", ("duration",), Scope({})),
    ):  # grace is a constant: it reads no field
        yield from _typed(ctx, getattr(spec, key), key, kinds, where, loc)
    if spec.manual is not None:
        for i, role in enumerate(spec.manual.roles):
            if role not in ctx.roles:
                yield unknown_name("role", role, ctx.roles, loc + ("manual", "roles", i), "automation.unknown_role")
    for i, action in enumerate(spec.do):
        yield from check_action(ctx, spec.entity, action, loc + ("do", i, action.kind))


def _trigger(ctx: FlowContext, spec: AutomationSpec, loc: Loc) -> Iterator[Problem]:
    kinds = [key for key in ("when", "at", "schedule") if getattr(spec, key) is not None]
    if not kinds and spec.manual is None:
        yield Problem(
            loc, "automation.no_trigger", "the automation never runs: give `when`, `at`, `schedule` or `manual`"
        )
    if len(kinds) > 1:
        yield Problem(
            loc + (kinds[1],),
            "automation.two_triggers",
            f"`{kinds[0]}` and `{kinds[1]}` cannot be combined; make two automations",
        )
    if spec.after is not None and spec.when is None:
        yield Problem(loc + ("after",), "automation.after_needs_when", "`after` is a delay after an `when:` event")
    if spec.for_each is not None and spec.schedule is None:
        yield Problem(
            loc + ("for_each",),
            "automation.for_each_needs_schedule",
            "`for_each` selects the records a `schedule` runs over",
        )
    if spec.grace is not None and spec.at is None and spec.after is None and spec.schedule is None:
        yield Problem(
            loc + ("grace",), "automation.grace_unused", "`grace` only applies to `at`, `after` and `schedule`"
        )
    if spec.schedule is not None:
        problem = cron_problem(spec.schedule)
        if problem:
            yield Problem(loc + ("schedule",), "automation.bad_schedule", problem)
    if isinstance(spec.when, EventSpec):
        yield from _event(ctx, spec.entity, spec.when, loc + ("when",))


def _event(ctx: FlowContext, entity: str, event: EventSpec, loc: Loc) -> Iterator[Problem]:
    fields = ctx.entities[entity].fields
    for i, field in enumerate(event.changed or []):
        if field not in fields:
            yield unknown_name("field", field, fields, loc + ("changed", i), "automation.unknown_field")
    if event.changed is not None:
        return
    flow, problem = workflow_of(ctx, entity, event.workflow, loc)
    if problem is not None:
        yield problem
        return
    spec = ctx.workflows[flow]
    for key in ("enter", "leave"):
        state = getattr(event, key)
        if state is not None and state not in spec.states:
            yield unknown_name("state", state, spec.states, loc + (key,), "automation.unknown_state")
    if event.transition is not None and event.transition not in spec.transitions:
        yield unknown_name(
            "transition", event.transition, spec.transitions, loc + ("transition",), "automation.unknown_transition"
        )


def workflow_of(ctx: FlowContext, entity: str, named: str | None, loc: Loc) -> tuple[str, Problem | None]:
    """The workflow an event or action means: the one named, or the entity's only one."""
    flows = sorted(set(ctx.state_fields(entity).values()))
    if named is not None:
        if named not in flows:
            return "", unknown_name("workflow", named, flows, loc + ("workflow",), "automation.unknown_workflow")
        return named, None
    if len(flows) != 1:
        why = (
            "has no workflow"
            if not flows
            else f"has several workflows ({', '.join(flows)}); say which with `workflow:`"
        )
        return "", Problem(loc, "automation.no_workflow", f"`{entity}` {why}")
    return flows[0], None


def _typed(
    ctx: FlowContext, source: Any, key: str, kinds: tuple[str, ...], scope: Scope, loc: Loc
) -> Iterator[Problem]:
    if source is None:
        return
    expression, problems = ctx.compile(source, scope, loc + (key,))
    yield from problems
    if expression is not None and expression.type not in kinds + ("any",):
        yield Problem(
            loc + (key,),
            "automation.wrong_type",
            f"`{key}` must give a {' or '.join(kinds)}, not a {expression.type}",
            "e.g. `starts_at - hours(24)`" if key == "at" else "e.g. `days(3)` or `hours(1)`",
        )


def link_target(ctx: FlowContext, entity: str, path: str, loc: Loc) -> tuple[str | None, Problem | None]:
    """The entity a path of link fields (`patient.primary_doctor`) leads to from `entity`."""
    current = entity
    parts = path.split(".")
    for i, part in enumerate(parts):
        fields = ctx.entities[current].fields
        field = fields.get(part)
        if field is None:
            return None, unknown_name("field", part, fields, loc, "automation.unknown_field")
        if field.type not in LINK_TYPES or (field.type == "link" and field.to not in ctx.entities):
            return None, Problem(loc, "automation.not_a_link", f"`{part}` of `{current}` is not a link to a record")
        if field.type == "user":
            if i != len(parts) - 1:
                return None, Problem(
                    loc, "automation.not_a_link", f"`{part}` is a login account; no field can be read through it"
                )
            return "", None  # a login account: a recipient, not a record
        current = field.to  # type: ignore[assignment]
    return current, None


def _values(ctx: FlowContext, source_entity: str, target: str, values: dict[str, Any], loc: Loc) -> Iterator[Problem]:
    """Each value names a field of `target` and is an expression on the source record that fits it."""
    fields = ctx.entities[target].fields
    scope = ctx.scope(source_entity)
    for field, value in values.items():
        if field not in fields:
            yield unknown_name("field", field, fields, loc + (field,), "automation.unknown_field")
            continue
        if not isinstance(value, str):
            continue  # a literal (number, true/false) is coerced by the field type when written
        expression, problems = ctx.compile(value, scope, loc + (field,))
        yield from problems
        expected = rule_type(fields[field], ctx.entities).type
        if expression is not None and not fits(expression.type, expected):
            yield Problem(
                loc + (field,),
                "automation.wrong_type",
                f"`{field}` of `{target}` takes a {expected}, but this gives a {expression.type}",
                "quote a text literal inside the expression: \"'Post-visit follow-up'\"",
            )


def _missing_required(ctx: FlowContext, target: str, values: dict[str, Any], loc: Loc) -> Iterator[Problem]:
    """A created record must get every required field that has no default (else every run would fail)."""
    for name, field in ctx.entities[target].fields.items():
        if field.required and field.default is None and field.compute is None and name not in values:
            yield Problem(
                loc + ("values",),
                "automation.missing_required",
                f"`{name}` is required on `{target}` and has no default; give it under `values`",
            )


def check_action(ctx: FlowContext, entity: str, action: ActionSpec, loc: Loc) -> Iterator[Problem]:
    """One action of an automation on `entity`."""
    body = action.body
    scope = ctx.scope(entity)
    if body.if_ is not None:
        yield from ctx.compile(body.if_, scope, loc + ("if",))[1]
    kind = action.kind
    if action.create is not None:
        if action.create.entity not in ctx.entities:
            yield unknown_name(
                "entity", action.create.entity, ctx.entities, loc + ("entity",), "automation.unknown_entity"
            )
        else:
            yield from _values(ctx, entity, action.create.entity, action.create.values, loc + ("values",))
            yield from _missing_required(ctx, action.create.entity, action.create.values, loc)
    elif action.update is not None:
        target: str | None = entity
        if action.update.record is not None:
            target, problem = link_target(ctx, entity, action.update.record, loc + ("record",))
            if problem:
                yield problem
        if target:
            yield from _values(ctx, entity, target, action.update.values, loc + ("values",))
    elif action.assign is not None:
        field = ctx.entities[entity].fields.get(action.assign.field)
        if field is None or field.type not in LINK_TYPES:
            yield Problem(
                loc + ("field",), "automation.not_a_link", f"`{action.assign.field}` is not a link field of `{entity}`"
            )
        yield from ctx.compile(action.assign.to, scope, loc + ("to",))[1]
    elif action.notify is not None:
        yield from _notify(ctx, entity, action, loc)
    elif action.webhook is not None:
        for key, value in (action.webhook.body or {}).items():
            if isinstance(value, str):
                yield from ctx.compile(value, scope, loc + ("body", key))[1]
    elif kind == "transition" and action.transition is not None:
        flow, problem = workflow_of(ctx, entity, action.transition.workflow, loc)
        if problem is not None:
            yield problem
        elif action.transition.name not in ctx.workflows[flow].transitions:
            yield unknown_name(
                "transition",
                action.transition.name,
                ctx.workflows[flow].transitions,
                loc + ("name",),
                "automation.unknown_transition",
            )


def _notify(ctx: FlowContext, entity: str, action: ActionSpec, loc: Loc) -> Iterator[Problem]:
    notify = action.notify
    assert notify is not None
    if notify.template not in ctx.notifications:
        yield unknown_name(
            "notification", notify.template, ctx.notifications, loc + ("template",), "automation.unknown_template"
        )
    if notify.to_role is not None and notify.to_role not in ctx.roles:
        yield unknown_name("role", notify.to_role, ctx.roles, loc + ("to_role",), "automation.unknown_role")
    if notify.to is not None and notify.to != "record":
        problem = link_target(ctx, entity, notify.to, loc + ("to",))[1]
        if problem:
            yield problem
