"""Manual triggers: an automation's `manual:` button, run now on one record by the roles it names.

The actor must see the record (else 404) and hold one of the button's roles (else
403); the automation's own `if:` must hold on the record (a reminder for a cancelled
appointment is refused with a 422 saying so). The actions run as the system in one
transaction, like any automation, with an audit entry naming who pressed the button.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from builder.storage.database import write_transaction
from builder.system_tables import audit as audit_table
from engines.workflows import Automation, FlowError

from .actor import Actor
from .auditing import audit_row
from .automations import AutomationFailed, context, perform
from .errors import FieldError, NotFound, PermissionDenied, ValidationFailed
from .outbox import utc
from .related import SqlRelated

if TYPE_CHECKING:
    from .service import RecordService

MAX_BULK_IDS = 100  # rows one press may run on: each is a savepoint in one transaction


def manual_automations(service: RecordService, actor: Actor, entity: str) -> list[Automation]:
    """The entity's automations with a button `actor`'s role may press."""
    flows = service.flows
    if flows is None:
        return []
    return [a for a in flows.of_entity(entity) if a.spec.manual is not None and a.allows_manual([actor.role])]


def _manual(service: RecordService, actor: Actor, entity: str, name: str) -> Automation:
    """The automation `name` with a button on `entity` that the actor may press (404 / 403 otherwise)."""
    flows = service.flows
    automation = flows.automations.get(name) if flows is not None else None
    if automation is None or automation.entity != entity or automation.spec.manual is None:
        raise NotFound(f"{entity} has no automation `{name}` to run by hand")
    if not service.policy.grant(actor, entity).readable:
        raise NotFound(f"{entity} has no automation `{name}` to run by hand")
    if not actor.system and not automation.allows_manual([actor.role]):
        raise PermissionDenied(f"role `{actor.role}` may not run `{name}`")
    return automation


def _run_on(service: RecordService, conn: Any, actor: Actor, automation: Automation, record_id: int) -> int:
    """Run the automation on one record the actor sees, within `conn`'s transaction; how many actions ran."""
    entity, name = automation.entity, automation.name
    service.visible_row(conn, actor, entity, service.policy.grant(actor, entity), record_id)
    run = service.new_run(conn)
    values = context(service, conn, entity, record_id, service.link_loader(conn).record(entity, record_id))
    related = SqlRelated(service, conn, (entity, record_id))
    try:
        if not automation.holds(values, run.now, related):
            reason = f"`{name}` does not apply to this record now (`{automation.spec.if_}` is not met)"
            raise ValidationFailed([FieldError("__all__", "automation.condition", reason)])
        actions = tuple(automation.ready_actions(values, run.now, related))
    except FlowError as exc:
        raise AutomationFailed(name, str(exc).split(": ", 1)[-1]) from None
    perform(service, run, entity, record_id, actions, f"manual:{utc(run.now).isoformat()}")
    return len(actions)


def run_manual(service: RecordService, actor: Actor, entity: str, record_id: int, name: str) -> int:
    """Run automation `name` on the record now; how many actions it performed."""
    if not service.policy.grant(actor, entity).readable:
        raise NotFound(f"{entity} {record_id} not found")
    automation = _manual(service, actor, entity, name)
    with write_transaction(service.engine) as conn:
        count = _run_on(service, conn, actor, automation, record_id)
        detail = json.dumps({"automation": name, "actions": count})
        conn.execute(
            audit_table.insert().values(
                **audit_row(actor, "automation", entity, record_id, service.clock(), None, detail)
            )
        )
    return count


@dataclass(frozen=True)
class Refusal:
    """A selected row the automation did not run on, and why (`not_found` covers rows the actor cannot see)."""

    record_id: int
    code: str  # not_found | condition | failed (and conflict, wrong_state, guard, invalid: see bulk_*.py)
    message: str
    errors: tuple[FieldError, ...] = ()  # the field errors of an `invalid` row, for words beside each field


@dataclass
class BulkRun:
    """What pressing a button on selected rows did: the records it ran on, the actions, the refusals."""

    automation: str
    ran: list[int] = field(default_factory=list)
    actions: int = 0
    refused: list[Refusal] = field(default_factory=list)


def run_manual_many(service: RecordService, actor: Actor, entity: str, ids: list[int], name: str) -> BulkRun:
    """Run automation `name` on each selected record, each in its own savepoint, with one audit entry in all.

    The role must be one the button names (else 403 for the whole request). Each row is
    then judged on its own: a row the actor cannot see (or that is gone), whose
    automation condition does not hold, or whose actions fail is reported and rolled
    back alone; the others run. The audit entry names who pressed it, the ids it ran
    on and the refused ones with their codes.
    """
    automation = _manual(service, actor, entity, name)
    if not ids or len(ids) > MAX_BULK_IDS:
        raise ValidationFailed([FieldError("ids", "invalid", f"select 1 to {MAX_BULK_IDS} records")])
    done = BulkRun(name)
    with write_transaction(service.engine) as conn:
        for record_id in dict.fromkeys(ids):
            try:
                with conn.begin_nested():
                    done.actions += _run_on(service, conn, actor, automation, record_id)
                done.ran.append(record_id)
            except NotFound:
                done.refused.append(Refusal(record_id, "not_found", f"{entity} {record_id} not found"))
            except ValidationFailed as exc:
                code = "condition" if exc.errors and exc.errors[0].code == "automation.condition" else "failed"
                done.refused.append(Refusal(record_id, code, str(exc).split(": ", 1)[-1]))
        detail = {
            "automation": name,
            "actions": done.actions,
            "ids": done.ran,
            "refused": [[r.record_id, r.code] for r in done.refused],
        }
        conn.execute(
            audit_table.insert().values(
                **audit_row(actor, "automation", entity, None, service.clock(), None, json.dumps(detail))
            )
        )
    return done
