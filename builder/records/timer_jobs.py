"""Firing due timers: a job the worker calls as `fire_due_timers(service, now)`.

Each due timer is claimed and handled in a transaction of its own: on PostgreSQL
with `SELECT ... FOR UPDATE SKIP LOCKED` (workers on several machines share the work
and never take the same row), on SQLite under the write lock. The timer's status
changes in the same transaction as its actions, so a timer is never fired twice: if
the actions fail, they roll back to a savepoint and the timer is marked failed with
the reason, in the same transaction. `due_verdict` with the
automation's grace decides whether a late timer (after downtime) still fires or is
recorded as missed.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from builder.storage.database import is_sqlite, write_transaction
from builder.system_tables import timers
from engines.workflows import FlowError, due_verdict

from .automations import context, perform
from .errors import RecordError
from .outbox import utc
from .related import SqlRelated
from .timer_store import CANCELLED, FAILED, FIRED, MISSED, PLANNED

if TYPE_CHECKING:
    from .service import RecordService

BATCH = 500  # timers handled per call at most, so one call never holds the worker for long


def _aware(now: dt.datetime) -> dt.datetime:
    """The worker's clock: aware, or naive UTC."""
    return now if now.tzinfo is not None else now.replace(tzinfo=dt.UTC)


def claim_due(conn: sa.Connection, now_utc: dt.datetime) -> Any:
    """The next planned timer that is due, locked for this transaction (skipped if another worker has it)."""
    query = (
        sa.select(timers)
        .where(timers.c.status == PLANNED, timers.c.due_at <= now_utc)
        .order_by(timers.c.due_at, timers.c.id)
        .limit(1)
    )
    if not is_sqlite(conn):
        query = query.with_for_update(skip_locked=True)
    return conn.execute(query).first()


def fire_due_timers(service: RecordService, now: dt.datetime, *, limit: int = BATCH) -> int:
    """Fire (or record as missed) the timers due at `now`; how many were handled."""
    moment = _aware(now)
    handled = 0
    while handled < limit:
        with write_transaction(service.engine) as conn:
            row = claim_due(conn, utc(moment))
            if row is None:
                break
            try:
                with conn.begin_nested():
                    status, reason = _handle(service, conn, row, moment)
            except (RecordError, FlowError) as exc:
                status, reason = FAILED, str(exc)  # the actions rolled back to the savepoint; recorded why
            # The actions may have planned this very timer again: a new moment is a new timer, kept;
            # otherwise (still as claimed, or cancelled by the record's new state) it is what we did.
            replanned = sa.and_(timers.c.status == PLANNED, timers.c.due_at != row.due_at)
            conn.execute(
                timers.update()
                .where(timers.c.id == row.id, sa.not_(replanned))
                .values(
                    status=status,
                    reason=None if reason is None else reason[:200],
                    fired_at=utc(moment) if status == FIRED else None,
                    updated_at=utc(moment),
                )
            )
        handled += 1
    return handled


def _handle(service: RecordService, conn: sa.Connection, row: Any, moment: dt.datetime) -> tuple[str, str | None]:
    """Fire one claimed timer within `conn`: the status to record and why."""
    flows = service.flows
    automation = flows.automations.get(row.automation) if flows is not None else None
    if automation is None or row.entity not in service.entities:
        return CANCELLED, "the automation no longer exists"
    due = row.due_at.replace(tzinfo=dt.UTC)
    if due_verdict(due, moment, automation.grace) != "fire":
        late = moment - due
        return MISSED, f"found {late} late, past its grace of {automation.grace} (the worker was down?)"
    stored = service.link_loader(conn).record(row.entity, row.record_id)
    if stored is None:
        return CANCELLED, "the record was deleted"
    now = moment.astimezone(service.zone)
    values = context(service, conn, row.entity, row.record_id, stored)
    related = SqlRelated(service, conn, (row.entity, row.record_id))
    if not automation.holds(values, now, related):
        return CANCELLED, f"the condition `{automation.spec.if_}` no longer held when it was due"
    actions = tuple(automation.ready_actions(values, now, related))
    perform(service, service.new_run(conn, now), row.entity, row.record_id, actions, due.isoformat())
    return FIRED, None
