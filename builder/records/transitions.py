"""Workflow transitions: the only way a workflow-driven state field changes.

A transition is granted by the workflow (the transition's roles), not by write
access to the record: an approver needs the right to `approve`, not to edit. The
actor must still see the record (else 404, like any hidden record). The engine's
`decide` judges role, state, guard and `requires`; values sent with the transition
may fill required fields the role may write. The move is written through the
record service's own write path (validation, audit, optimistic lock), with a
history row, and what it sets off runs in the same transaction.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from builder.system_tables import workflow_history
from engines.workflows import Flows, StateMachine

from .actor import Actor
from .automations import context, react
from .codec import decode
from .errors import Conflict, FieldError, NotFound, PermissionDenied, ValidationFailed
from .outbox import utc
from .preparing import coerce_input
from .related import SqlRelated

if TYPE_CHECKING:
    from .automations import Run
    from .service import RecordService

COMMENT_LENGTH = 2000


@dataclass(frozen=True)
class Move:
    """The transition a write makes: it alone may change the state field, and it is audited as one."""

    machine: StateMachine
    transition: str
    from_state: str
    to_state: str
    comment: str | None

    @property
    def detail(self) -> str:
        return json.dumps(
            {
                "workflow": self.machine.name,
                "transition": self.transition,
                "from": self.from_state,
                "to": self.to_state,
            },
            ensure_ascii=False,
        )


def driven_fields(flows: Flows | None, entity: str) -> dict[str, StateMachine]:
    """The entity's state fields driven by a workflow: field -> its state machine."""
    if flows is None:
        return {}
    return {m.state_field: m for m in flows.machines.values() if m.spec.entity == entity}


def state_writes(
    flows: Flows | None,
    entity: str,
    actor: Actor,
    typed: Mapping[str, Any],
    stored: Mapping[str, Any],
    creating: bool,
    move: Move | None,
    locale: str,
) -> list[FieldError]:
    """Refuse a direct change of a workflow-driven state field: it moves only by a transition.

    Sending the value it already has (an edit form posting it back) is harmless. The
    system actor (seeding, imports, an automation's `update`) may set it.
    """
    errors = []
    for name, machine in driven_fields(flows, entity).items():
        if name not in typed or actor.system or (move is not None and move.machine is machine):
            continue
        current = machine.spec.initial if creating else machine.current(stored)
        if typed[name] == current:
            continue
        names = ", ".join(machine.label(t, locale) for t in machine.spec.transitions)
        text = (
            f"状态只能通过流程操作改变({names}),不能直接修改。"
            if locale.startswith("zh")
            else f"This status changes only through the workflow's actions ({names}), not by editing it."
        )
        errors.append(FieldError(name, "workflow_state", text))
    return errors


def start_state(flows: Flows | None, entity: str, record: dict[str, Any]) -> None:
    """A new record starts in its workflow's initial state (unless the system gave it one)."""
    for name, machine in driven_fields(flows, entity).items():
        if not record.get(name):
            record[name] = machine.spec.initial


def make_transition(
    service: RecordService,
    run: Run,
    actor: Actor,
    entity_name: str,
    record_id: int,
    name: str,
    version: int | None,
    comment: str | None = None,
    values: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Decide and make one transition within `run`'s transaction; the record as the actor now sees it."""
    entity = service.entity(entity_name)
    machine = _machine(service.flows, entity_name, name)
    grant = service.policy.grant(actor, entity_name)
    if not grant.readable:
        raise NotFound(f"{entity_name} {record_id} not found")
    conn, locale = run.conn, actor.locale
    row = service.visible_row(conn, actor, entity_name, grant, record_id)
    if version is None:
        raise ValidationFailed([FieldError("version", "required", "give the version of the record you read")])
    if row.version != version:
        raise Conflict("the record changed since you read it; reload it and try again", row.version)
    if values is not None and not isinstance(values, Mapping):
        raise ValidationFailed([FieldError("values", "invalid", "expected an object of field values")])
    if comment is not None and (not isinstance(comment, str) or len(comment) > COMMENT_LENGTH):
        raise ValidationFailed([FieldError("comment", "invalid", f"a text of at most {COMMENT_LENGTH} characters")])
    given = {k: v for k, v in (values or {}).items() if k != machine.state_field}
    typed, errors = coerce_input(entity.fields, given, locale)
    if machine.state_field in (values or {}):
        errors.append(FieldError(machine.state_field, "workflow_state", "the transition sets the state itself"))
    errors += [
        FieldError(k, "not_writable", "your role may not write this field") for k in typed if k not in grant.writable
    ]
    if errors:
        raise ValidationFailed(errors)
    stored = decode(entity.stored_fields, row, entity_name, service.cipher)
    trial = context(service, conn, entity_name, record_id, {**stored, **typed})
    trial["user"] = actor.as_context()
    decision = machine.decide(
        trial,
        [actor.role],
        name,
        now=run.now,
        actor=actor.id,
        comment=comment or None,
        system=actor.system,
        related=SqlRelated(service, conn, (entity_name, record_id)),
    )
    if not decision.allowed:
        raise _refusal(decision.code, decision.reason or "", decision.missing)
    assert decision.from_state is not None and decision.to_state is not None
    move = Move(machine, name, decision.from_state, decision.to_state, comment or None)
    moving = replace(grant, writable=grant.writable | {machine.state_field})
    written = service.write_in(
        conn, actor, entity, moving, record_id, {**typed, machine.state_field: move.to_state}, version, move=move
    )
    conn.execute(
        workflow_history.insert().values(
            entity=entity_name,
            record_id=record_id,
            workflow=machine.name,
            transition=name,
            from_state=move.from_state,
            to_state=move.to_state,
            actor=None if actor.system else actor.name,
            actor_id=None if actor.system else actor.id,
            at=utc(run.now),
            comment=move.comment,
        )
    )
    acted = react(service, run, written.change("transition", name, machine.name))
    return service.reread(conn, actor, entity, grant, written) if acted else written.presented


def _machine(flows: Flows | None, entity: str, transition: str) -> StateMachine:
    machines = list(driven_fields(flows, entity).values())
    for machine in machines:
        if transition in machine.spec.transitions:
            return machine
    raise NotFound(f"{entity} has no workflow transition `{transition}`")


def _refusal(code: str | None, reason: str, missing: tuple[str, ...]) -> Exception:
    """Not your transition: 403; not now (state, guard, empty required fields): 422 saying why."""
    if code == "role":
        return PermissionDenied(reason)
    if code == "required":
        return ValidationFailed([FieldError(name, "required", reason) for name in missing])
    return ValidationFailed([FieldError("__all__", f"transition.{code}", reason)])
