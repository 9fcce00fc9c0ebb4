"""Audit entries: who did what to which record, written in the same transaction.

Ordinary fields keep their old and new values; PHI and encrypted fields keep only
their names, so the audit trail never becomes a second copy of patient secrets.
Every entry is stamped in UTC, whoever writes it, so sign-ins and record events sort
together; pages show them in the app's timezone.
"""

from __future__ import annotations

import datetime as dt
import decimal
import json
from typing import Any

import sqlalchemy as sa

from builder.system_tables import audit as audit_table
from engines.rules import get_timezone

from .actor import Actor
from .compiled import CompiledEntity

PENDING_AUDIT = "crm_pending_audit"  # conn.info key: a batch's entries, inserted together before it commits
_INSERT = audit_table.insert()  # built once: every write runs it


def add_audit(conn: sa.Connection, entry: dict[str, Any]) -> None:
    """Write one audit entry in `conn`'s transaction, or keep it for the batch's one insert (batch.py)."""
    pending: list[dict[str, Any]] | None = conn.info.get(PENDING_AUDIT)
    if pending is None:
        conn.execute(_INSERT, entry)
    else:
        pending.append(entry)


_AS_IS = frozenset({str, int, float, bool, type(None)})  # most values: no isinstance chain (16 a created patient)


def _jsonable(value: Any) -> Any:
    if type(value) in _AS_IS:
        return value
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    return value


def audit_changes(
    entity: CompiledEntity, before: dict[str, Any], after: dict[str, Any], given: dict[str, Any]
) -> dict[str, Any]:
    """{field: [old, new]} for changed ordinary fields, {field: "changed"} for secret ones."""
    changes: dict[str, Any] = {}
    for name, field in entity.fields.items():
        old, new = before.get(name), after.get(name)
        if old == new:
            continue
        if field.spec.phi or field.spec.encrypted or field.spec.sensitive:
            changes[name] = "changed"
        else:
            changes[name] = [_jsonable(old), _jsonable(new)]
    return changes


def utc_stamp(at: dt.datetime) -> dt.datetime:
    """`at` as naive UTC, how `crm_audit.at` is stored.

    An aware time is converted; a naive one is app-timezone time, the record
    service's convention (its clock and every datetime field).
    """
    aware = at if at.tzinfo is not None else at.replace(tzinfo=get_timezone())
    return aware.astimezone(dt.UTC).replace(tzinfo=None, microsecond=0)


def audit_row(
    actor: Actor,
    action: str,
    entity: str | None,
    record_id: int | None,
    at: dt.datetime,
    changes: dict[str, Any] | None = None,
    detail: str | None = None,
) -> dict[str, Any]:
    """The column values of one audit entry (`at`: see `utc_stamp`)."""
    return {
        "at": utc_stamp(at),
        "actor": actor.name,
        "role": actor.role,
        "address": actor.address,
        "action": action,
        "entity": entity,
        "record_id": record_id,
        "changes": json.dumps(changes, ensure_ascii=False) if changes else None,
        "detail": detail,
    }
