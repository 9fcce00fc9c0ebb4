"""Durable timers in `crm_timer`: what `plan_timers` decided, stored in the write's transaction.

One row per (automation, entity, record), written by an upsert on that key. A moved
appointment moves its planned reminder; a cancelled one cancels it; a moment that had
passed when it was planned is stored as skipped with its reason, never fired late. A fired row is only planned
again when the moment itself changes (the engine then says `planned`).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from builder.system_tables import timers
from engines.workflows import TimerPlan

from .outbox import utc

PLANNED, FIRED, MISSED, SKIPPED, CANCELLED, FAILED = "planned", "fired", "missed", "skipped", "cancelled", "failed"


def _values(status: str, due: dt.datetime | None, reason: str | None, now: dt.datetime) -> dict[str, Any]:
    return {
        "due_at": None if due is None else utc(due),
        "status": status,
        "reason": None if reason is None else reason[:200],
        "fired_at": None,
        "updated_at": utc(now),
    }


def store_plans(
    conn: sa.Connection,
    entity: str,
    record_id: int,
    plans: list[TimerPlan],
    now: dt.datetime,
    *,
    created: bool = False,
) -> None:
    """Apply one record's TimerPlans in at most two statements, with no read first.

    planned / skipped: store or move the row (one upsert on the timer's key for all of
    them); cancelled: cancel the pending one, with the reason (one statement, a batch of
    parameters); unchanged: leave it alone (it may have fired). A record just `created`
    has no pending timer to cancel, so a create planning none (a requested appointment)
    costs nothing.
    """
    stored = [p for p in plans if p.status in (PLANNED, SKIPPED)]
    if stored:
        rows = [
            {
                "automation": p.automation,
                "entity": entity,
                "record_id": record_id,
                **_values(p.status, p.due, p.reason, now),
            }
            for p in stored
        ]
        conn.execute(_upsert(conn.dialect.name), rows)
    cancelled = [p for p in plans if p.status == CANCELLED and not created]
    if cancelled:
        conn.execute(
            _CANCEL,
            [
                {
                    "key_automation": p.automation,
                    "key_entity": entity,
                    "key_record": record_id,
                    "new_reason": (p.reason or "")[:200] or None,
                    "new_updated_at": utc(now),
                }
                for p in cancelled
            ],
        )


_UPSERTS: dict[str, Any] = {}


def _upsert(dialect: str) -> Any:
    """The timer upsert for this database, built once (so compiled once): moves the row on its key."""
    if dialect not in _UPSERTS:
        statement = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(timers)
        moved = {name: statement.excluded[name] for name in ("due_at", "status", "reason", "fired_at", "updated_at")}
        _UPSERTS[dialect] = statement.on_conflict_do_update(
            index_elements=["automation", "entity", "record_id"], set_=moved
        )
    return _UPSERTS[dialect]


_CANCEL = (
    timers.update()
    .where(
        timers.c.automation == sa.bindparam("key_automation"),
        timers.c.entity == sa.bindparam("key_entity"),
        timers.c.record_id == sa.bindparam("key_record"),
        timers.c.status == PLANNED,
    )
    .values(status=CANCELLED, reason=sa.bindparam("new_reason"), updated_at=sa.bindparam("new_updated_at"))
)


def store_due(
    conn: sa.Connection, automation: str, entity: str, record_id: int, due: dt.datetime, now: dt.datetime
) -> None:
    """Plan an `after:` timer (a later event of the same kind plans it again from then)."""
    store_plans(conn, entity, record_id, [TimerPlan(automation, record_id, PLANNED, due)], now)
