"""Manual triggers: an automation's `manual:` button, run now on one record by the roles it names.

The actor must see the record (else 404) and hold one of the button's roles (else
403); the automation's own `if:` must hold on the record (a reminder for a cancelled
appointment is refused with a 422 saying so). The actions run as the system in one
transaction, like any automation, with an audit entry naming who pressed the button.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

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


def manual_automations(service: RecordService, actor: Actor, entity: str) -> list[Automation]:
    """The entity's automations with a button `actor`'s role may press."""
    flows = service.flows
    if flows is None:
        return []
    return [a for a in flows.of_entity(entity) if a.spec.manual is not None and a.allows_manual([actor.role])]


def run_manual(service: RecordService, actor: Actor, entity: str, record_id: int, name: str) -> int:
    """Run automation `name` on the record now; how many actions it performed."""
    flows = service.flows
    automation = flows.automations.get(name) if flows is not None else None
    if automation is None or automation.entity != entity or automation.spec.manual is None:
        raise NotFound(f"{entity} has no automation `{name}` to run by hand")
    grant = service.policy.grant(actor, entity)
    if not grant.readable:
        raise NotFound(f"{entity} {record_id} not found")
    with write_transaction(service.engine) as conn:
        service.visible_row(conn, actor, entity, grant, record_id)
        if not actor.system and not automation.allows_manual([actor.role]):
            raise PermissionDenied(f"role `{actor.role}` may not run `{name}`")
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
        detail = json.dumps({"automation": name, "actions": len(actions)})
        conn.execute(
            audit_table.insert().values(**audit_row(actor, "automation", entity, record_id, run.now, None, detail))
        )
    return len(actions)
