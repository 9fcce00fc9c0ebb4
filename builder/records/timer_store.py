"""Durable timers in `crm_timer`: what `plan_timers` decided, stored in the write's transaction.

One row per (automation, entity, record). A moved appointment moves its planned
reminder; a cancelled one cancels it; a moment that had passed when it was planned is
stored as skipped with its reason, never fired late. A fired row is only planned
again when the moment itself changes (the engine then says `planned`).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa

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


def store_plans(conn: sa.Connection, entity: str, record_id: int, plans: list[TimerPlan], now: dt.datetime) -> None:
    """Apply one record's TimerPlans with one read and at most one insert.

    planned / skipped: store or move the row; cancelled: cancel the pending one (with
    the reason); unchanged: leave it alone (it may have fired).
    """
    wanted = [p for p in plans if p.status != "unchanged"]
    if not wanted:
        return
    existing = dict(
        conn.execute(
            sa.select(timers.c.automation, timers.c.id).where(
                timers.c.entity == entity, timers.c.record_id == record_id
            )
        ).all()
    )
    new_rows = []
    for plan in wanted:
        found = existing.get(plan.automation)
        if plan.status == "cancelled":
            if found is not None:
                conn.execute(
                    timers.update()
                    .where(timers.c.id == found, timers.c.status == PLANNED)
                    .values(status=CANCELLED, reason=(plan.reason or "")[:200] or None, updated_at=utc(now))
                )
        elif found is None:
            new_rows.append(
                {
                    "automation": plan.automation,
                    "entity": entity,
                    "record_id": record_id,
                    **_values(plan.status, plan.due, plan.reason, now),
                }
            )
        else:
            conn.execute(
                timers.update().where(timers.c.id == found).values(**_values(plan.status, plan.due, plan.reason, now))
            )
    if new_rows:
        conn.execute(timers.insert(), new_rows)


def store_due(
    conn: sa.Connection, automation: str, entity: str, record_id: int, due: dt.datetime, now: dt.datetime
) -> None:
    """Plan an `after:` timer (a later event of the same kind plans it again from then)."""
    store_plans(conn, entity, record_id, [TimerPlan(automation, record_id, PLANNED, due)], now)
