"""What pages show of a record's workflows: the moves an actor may make now, and the history.

Both read through the actor's grant: a record the actor cannot see is NotFound here
too. Buttons are judged on the stored record (a guard may read fields the actor does
not see), but only the decision and its reason come back, never those values.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from builder.system_tables import workflow_history
from engines.workflows import Decision, StateMachine

from .actor import Actor
from .automations import context
from .codec import decode
from .errors import NotFound
from .related import SqlRelated
from .transitions import driven_fields

if TYPE_CHECKING:
    from .service import RecordService


@dataclass(frozen=True)
class WorkflowView:
    """One workflow of a record: its state, the actor's buttons (with disabled reasons), the history."""

    machine: StateMachine
    state: str
    moves: list[Decision]
    history: list[dict[str, Any]]


def workflow_views(service: RecordService, actor: Actor, entity: str, record_id: int) -> list[WorkflowView]:
    """The record's workflows as `actor` sees them (empty when the entity has none)."""
    machines = driven_fields(service.flows, entity)
    if not machines:
        return []
    grant = service.policy.grant(actor, entity)
    if not grant.readable:
        raise NotFound(f"{entity} {record_id} not found")
    compiled = service.entity(entity)
    now = service.moment()
    with service.engine.connect() as conn:  # a read: guards' queries take no scope locks, writers are not held up
        row = service.visible_row(conn, actor, entity, grant, record_id)
        stored = decode(compiled.stored_fields, row, entity, service.cipher)
        values = context(service, conn, entity, record_id, stored)
        values["user"] = actor.as_context()
        related = SqlRelated(service, conn, (entity, record_id))
        history = conn.execute(
            sa.select(workflow_history)
            .where(workflow_history.c.entity == entity, workflow_history.c.record_id == record_id)
            .order_by(workflow_history.c.id)
        ).all()
        views = []
        for machine in machines.values():
            moves = [] if actor.system else machine.available(values, [actor.role], now=now, related=related)
            lines = [_line(h, service.zone) for h in history if h.workflow == machine.name]
            views.append(WorkflowView(machine, machine.current(stored), moves, lines))
    return views


def _line(row: Any, zone: dt.tzinfo) -> dict[str, Any]:
    """One history row, its time in the app's timezone."""
    at = row.at.replace(tzinfo=dt.UTC).astimezone(zone).replace(tzinfo=None)
    return {
        "transition": row.transition,
        "from": row.from_state,
        "to": row.to_state,
        "actor": row.actor,
        "at": at,
        "comment": row.comment,
    }
