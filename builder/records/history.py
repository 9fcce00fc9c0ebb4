"""What happened to one record, for its page: its audit entries as the viewer may see them.

The trail is the admin's (`/audit`); a record's page shows the part of it about that
record — created, changed, moved by a workflow, touched by an automation — to anyone
who may read the record, with only the fields that person may read: a change to a
field their role cannot read is left out, a sensitive one they see masked reads
"changed" (the trail already keeps no values of PHI or encrypted fields).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from builder.system_tables import audit as audit_table

from .actor import Actor

HISTORY_ACTIONS = ("create", "update", "transition", "automation")
HISTORY_LIMIT = 30


@dataclass
class HistoryEntry:
    """One audit entry about the record; `changes` holds only fields the viewer may read."""

    at: Any  # naive UTC, as crm_audit stores it
    actor: str | None
    role: str | None
    action: str
    changes: dict[str, Any]
    detail: str | None


def record_history(
    service: Any, actor: Actor, entity_name: str, record_id: int, limit: int = HISTORY_LIMIT
) -> list[HistoryEntry]:
    """The newest `limit` entries about the record (NotFound when the actor may not see it): one query."""
    entity = service.entity(entity_name)
    grant = service.policy.require(actor, entity_name, "read")
    query = (
        sa.select(audit_table)
        .where(
            audit_table.c.entity == entity_name,
            audit_table.c.record_id == record_id,
            audit_table.c.action.in_(HISTORY_ACTIONS),
        )
        .order_by(audit_table.c.at.desc(), audit_table.c.id.desc())
        .limit(limit)
    )
    with service.engine.connect() as conn:
        service.visible_row(conn, actor, entity_name, grant, record_id)
        rows = conn.execute(query).all()
    entries = []
    for row in rows:
        stored = json.loads(row.changes) if row.changes else {}
        if isinstance(stored, list):  # names only (PHI)
            stored = {name: "changed" for name in stored if isinstance(name, str)}
        changes = {}
        for name, change in stored.items() if isinstance(stored, dict) else ():
            field = entity.fields.get(name)
            if field is None or name not in grant.readable:
                continue
            masked = (field.spec.sensitive or field.spec.encrypted or field.spec.phi) and not grant.full_access
            changes[name] = "changed" if masked else change
        if row.action == "update" and stored and not changes:
            continue  # only fields this viewer cannot read changed
        entries.append(HistoryEntry(row.at, row.actor, row.role, row.action, changes, row.detail))
    return entries
