"""Meaning checks of one workflow: its entity and state field, its states and transitions.

Finds what makes a state machine wrong or stuck: transitions from or to unknown
states, states no transition reaches, dead ends that are not marked final, roles
and `requires` fields that do not exist, guards that do not compile.
"""

from __future__ import annotations

from collections.abc import Iterator

from engines.forms import check_localized
from engines.rules import Loc, Problem

from .context import FlowContext, unknown_name
from .workflow_spec import WorkflowSpec


def check_workflow(ctx: FlowContext, name: str, spec: WorkflowSpec) -> Iterator[Problem]:
    """Every problem of workflow `name`, located from the blueprint root."""
    loc: Loc = ("workflows", name)
    if spec.entity not in ctx.entities:
        yield unknown_name("entity", spec.entity, ctx.entities, loc + ("entity",), "workflow.unknown_entity")
        return
    yield from _state_field(ctx, name, spec, loc)
    yield from _states(ctx, spec, loc)
    for transition, t in spec.transitions.items():
        at = loc + ("transitions", transition)
        for i, source in enumerate(t.sources):
            if source not in spec.states:
                where = at + (("from", i) if isinstance(t.from_, list) else ("from",))
                yield unknown_name("state", source, spec.states, where, "workflow.unknown_state")
            elif spec.states[source].final:
                yield Problem(
                    at + ("from",),
                    "workflow.leaves_final",
                    f"transition `{transition}` leaves `{source}`, which is marked final",
                    "remove `final: true` from the state or the state from `from`",
                )
        if t.to not in spec.states:
            yield unknown_name("state", t.to, spec.states, at + ("to",), "workflow.unknown_state")
        for i, role in enumerate(t.roles or []):
            if role not in ctx.roles:
                yield unknown_name("role", role, ctx.roles, at + ("roles", i), "workflow.unknown_role")
        fields = ctx.entities[spec.entity].fields
        for i, field in enumerate(t.requires):
            if field not in fields:
                yield unknown_name("field", field, fields, at + ("requires", i), "workflow.unknown_field")
        if t.if_ is not None:
            yield from ctx.compile(t.if_, ctx.scope(spec.entity, user=True), at + ("if",))[1]
        for key in ("label", "confirm"):
            if getattr(t, key) is not None:
                yield from check_localized(getattr(t, key), at + (key,), ctx.locales)
    yield from _reachability(spec, loc)


def _state_field(ctx: FlowContext, name: str, spec: WorkflowSpec, loc: Loc) -> Iterator[Problem]:
    """The entity must have exactly one `state` field naming this workflow, agreeing with its states."""
    fields = ctx.entities[spec.entity].fields
    driven = [f for f, s in fields.items() if s.type == "state" and s.workflow == name]
    if not driven:
        yield Problem(
            loc + ("entity",),
            "workflow.no_state_field",
            f"no `state` field of `{spec.entity}` names workflow `{name}`",
            f"add `workflow: {name}` to a field of type state",
        )
        return
    for extra in driven[1:]:
        yield Problem(
            ("entities", spec.entity, "fields", extra, "workflow"),
            "workflow.two_state_fields",
            f"`{driven[0]}` already names workflow `{name}`; a workflow drives one field",
        )
    field = fields[driven[0]]
    at = ("entities", spec.entity, "fields", driven[0])
    if field.options is not None and set(field.options) != set(spec.states):
        yield Problem(
            at + ("options",),
            "workflow.options_mismatch",
            f"the options of `{driven[0]}` differ from the states of workflow `{name}`",
            "remove `options:` (the workflow lists the states) or list the same states",
        )
    if isinstance(field.default, str) and field.default != spec.initial:
        yield Problem(
            at + ("default",),
            "workflow.default_mismatch",
            f"the default `{field.default}` is not the workflow's initial state `{spec.initial}`",
            "remove `default:`; a new record starts in the workflow's `initial` state",
        )


def _states(ctx: FlowContext, spec: WorkflowSpec, loc: Loc) -> Iterator[Problem]:
    if spec.initial not in spec.states:
        yield unknown_name("state", spec.initial, spec.states, loc + ("initial",), "workflow.unknown_state")
    for state, s in spec.states.items():
        if not 0 < len(state) <= 64:
            yield Problem(loc + ("states", state), "workflow.state_name", "a state name must be 1 to 64 characters")
        if s.label is not None:
            yield from check_localized(s.label, loc + ("states", state, "label"), ctx.locales)


def reachable_states(spec: WorkflowSpec) -> set[str]:
    """The states a record can get to from the initial state."""
    seen = {spec.initial}
    frontier = [spec.initial]
    while frontier:
        state = frontier.pop()
        for t in spec.transitions.values():
            if state in t.sources and t.to not in seen:
                seen.add(t.to)
                frontier.append(t.to)
    return seen


def _reachability(spec: WorkflowSpec, loc: Loc) -> Iterator[Problem]:
    if spec.initial not in spec.states:
        return  # already reported; reachability would only add noise
    reached = reachable_states(spec)
    leaving = {source for t in spec.transitions.values() for source in t.sources}
    for state, s in spec.states.items():
        if state not in reached:
            yield Problem(
                loc + ("states", state),
                "workflow.unreachable",
                f"no transition leads from `{spec.initial}` to state `{state}`",
                "add a transition to it, or remove the state",
            )
        elif state not in leaving and not s.final:
            yield Problem(
                loc + ("states", state),
                "workflow.dead_end",
                f"state `{state}` has no way out and is not marked final",
                "add `final: true` to it, or a transition from it",
            )
