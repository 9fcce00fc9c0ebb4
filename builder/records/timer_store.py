"""Durable timers in `crm_timer`: what `plan_timers` decided, stored in the write's transaction.

One row per (automation, entity, record). A moved appointment moves its planned
reminder; a cancelled one cancels it; a moment that had passed when it was planned is
stored as skipped with its reason, never fired late. A fired row is only planned
again when the moment itself changes (the engine then says `planned`).
"""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa

from builder.system_tables import timers
from engines.workflows import TimerPlan

from .outbox import utc

PLANNED, FIRED, MISSED, SKIPPED, CANCELLED, FAILED = "planned", "fired", "missed", "skipped", "cancelled", "failed"


def _key(automation: str, entity: str, record_id: int) -> sa.ColumnElement[bool]:
    return sa.and_(timers.c.automation == automation, timers.c.entity == entity, timers.c.record_id == record_id)


def _upsert(
    conn: sa.Connection,
    automation: str,
    entity: str,
    record_id: int,
    status: str,
    due: dt.datetime | None,
    reason: str | None,
    now: dt.datetime,
) -> None:
    values = {
        "due_at": None if due is None else utc(due),
        "status": status,
        "reason": None if reason is None else reason[:200],
        "fired_at": None,
        "updated_at": utc(now),
    }
    found = conn.execute(sa.select(timers.c.id).where(_key(automation, entity, record_id))).first()
    if found is None:
        conn.execute(timers.insert().values(automation=automation, entity=entity, record_id=record_id, **values))
    else:
        conn.execute(timers.update().where(timers.c.id == found.id).values(**values))


def store_plan(conn: sa.Connection, entity: str, plan: TimerPlan, now: dt.datetime) -> None:
    """Apply one TimerPlan: store or move, cancel the pending one, record a skip; unchanged is left alone."""
    if plan.status == "unchanged":
        return
    if plan.status == "cancelled":
        conn.execute(
            timers.update()
            .where(_key(plan.automation, entity, plan.record_id), timers.c.status == PLANNED)
            .values(status=CANCELLED, reason=(plan.reason or "")[:200] or None, updated_at=utc(now))
        )
        return
    _upsert(conn, plan.automation, entity, plan.record_id, plan.status, plan.due, plan.reason, now)


def store_due(
    conn: sa.Connection, automation: str, entity: str, record_id: int, due: dt.datetime, now: dt.datetime
) -> None:
    """Plan an `after:` timer (a later event of the same kind plans it again from then)."""
    _upsert(conn, automation, entity, record_id, PLANNED, due, None, now)
