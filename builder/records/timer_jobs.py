"""Firing due timers: a job the worker calls as `fire_due_timers(service, now)`.

Due timers are claimed a batch at a time, in one transaction: on PostgreSQL with
`SELECT ... FOR UPDATE SKIP LOCKED` (workers on several machines share the work and
never take the same row), on SQLite under the write lock. Each timer's status changes
in the same transaction as its actions, so a timer is never fired twice: its actions
run in a savepoint of their own, and if they fail they roll back to it and the timer
is marked failed with the reason; if the transaction itself fails, the whole batch is
still planned and is claimed again. A batch costs one commit instead of one per timer,
which is most of the price of firing a reminder. `due_verdict` with the automation's
grace decides whether a late timer (after downtime) still fires or is recorded as missed.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from builder.storage.database import is_sqlite, write_transaction
from builder.storage.row_batches import update_rows
from builder.system_tables import timers
from engines.workflows import FlowError, due_verdict

from . import outbox
from .automations import context, perform
from .errors import RecordError
from .links import LinkLoader
from .outbox import utc
from .related import SqlRelated
from .timer_store import CANCELLED, FAILED, FIRED, MISSED, PLANNED

if TYPE_CHECKING:
    from .service import RecordService

LIMIT = 500  # timers handled per call at most, so one call never holds the worker for long
CLAIM = 100  # timers claimed (and committed) together on PostgreSQL
CLAIM_SQLITE = 20  # SQLite: the batch holds the single write lock, so keep web writes waiting briefly


def _aware(now: dt.datetime) -> dt.datetime:
    """The worker's clock: aware, or naive UTC."""
    return now if now.tzinfo is not None else now.replace(tzinfo=dt.UTC)


def claim_due(conn: sa.Connection, now_utc: dt.datetime, count: int = 1) -> list[Any]:
    """Up to `count` planned timers that are due, locked for this transaction (skipped if another worker has them)."""
    query = (
        sa.select(timers)
        .where(timers.c.status == PLANNED, timers.c.due_at <= now_utc)
        .order_by(timers.c.due_at, timers.c.id)
        .limit(count)
    )
    if not is_sqlite(conn):
        query = query.with_for_update(skip_locked=True)
    return list(conn.execute(query).all())


# The actions may have planned the timer again: a new moment is a new timer, kept; otherwise (still as
# claimed, or cancelled by the record's new state) the row records what was done.
_RECORD_TYPES = {
    "timer_id": timers.c.id.type,
    "claimed_due": timers.c.due_at.type,
    "new_status": timers.c.status.type,
    "new_reason": timers.c.reason.type,
    "new_fired_at": timers.c.fired_at.type,
    "new_updated_at": timers.c.updated_at.type,
}


def _record(value: Callable[[str], sa.ColumnElement[Any]]) -> sa.Update:
    return (
        timers.update()
        .where(
            timers.c.id == value("timer_id"),
            sa.not_(sa.and_(timers.c.status == PLANNED, timers.c.due_at != value("claimed_due"))),
        )
        .values(
            status=value("new_status"),
            reason=value("new_reason"),
            fired_at=value("new_fired_at"),
            updated_at=value("new_updated_at"),
        )
    )


class _Refused(Exception):
    """A timer's actions failed in a batch run without savepoints: the batch is rolled back and run carefully."""


def fire_due_timers(service: RecordService, now: dt.datetime, *, limit: int = LIMIT) -> int:
    """Fire (or record as missed) the timers due at `now`; how many were handled.

    A batch first runs without a savepoint per timer (two round trips each saved); should
    any timer's actions be refused, the whole transaction rolls back, nothing of it
    happened, and the next claim runs with a savepoint per timer, recording the failure.
    """
    moment = _aware(now)
    stamp = utc(moment)
    handled = 0
    careful = False
    while handled < limit:
        try:
            with write_transaction(service.engine) as conn:
                claim = CLAIM_SQLITE if is_sqlite(conn) else CLAIM
                rows = claim_due(conn, stamp, min(claim, limit - handled))
                if not rows:
                    break
                update_rows(conn, _fire_batch(service, conn, rows, moment, careful), _RECORD_TYPES, _record)
        except _Refused:
            careful = True
            continue
        handled += len(rows)
        careful = False
    return handled


def _fire_batch(
    service: RecordService, conn: sa.Connection, rows: list[Any], moment: dt.datetime, careful: bool
) -> list[dict[str, Any]]:
    """Fire each claimed timer within `conn`; the values recording what became of each."""
    stamp = utc(moment)
    loader = _prefetched(service, conn, rows)
    pending: list[dict[str, Any]] | None = None if careful else []  # outbox rows, inserted together at the end
    done = []
    stale = False  # a timer's actions wrote records: later timers of the batch may have been moved or cancelled
    for row in rows:
        if stale and not _still_as_claimed(conn, row):
            continue  # moved or cancelled by an earlier timer's actions: its row already says what it is now
        try:
            if careful:
                with conn.begin_nested():
                    status, reason, wrote = _handle(service, conn, loader, row, moment, None)
            else:
                status, reason, wrote = _handle(service, conn, loader, row, moment, pending)
        except (RecordError, FlowError) as exc:
            if not careful:
                raise _Refused() from exc
            status, reason, wrote = FAILED, str(exc), True  # the actions rolled back to the savepoint; recorded why
        if wrote:  # records may have changed: what was read ahead is stale, read afresh from here on
            loader = service.link_loader(conn)
            stale = True
        done.append(
            {
                "timer_id": row.id,
                "claimed_due": row.due_at,
                "new_status": status,
                "new_reason": None if reason is None else reason[:200],
                "new_fired_at": stamp if status == FIRED else None,
                "new_updated_at": stamp,
            }
        )
    if pending:
        outbox.write_rows(conn, pending)
    return done


def _still_as_claimed(conn: sa.Connection, row: Any) -> bool:
    """Whether a claimed timer is still planned for the moment it was claimed at."""
    now = conn.execute(sa.select(timers.c.status, timers.c.due_at).where(timers.c.id == row.id)).first()
    return now is not None and now.status == PLANNED and now.due_at == row.due_at


def _prefetched(service: RecordService, conn: sa.Connection, rows: list[Any]) -> LinkLoader:
    """A loader holding the batch's records and the records they link to, read with one query per entity."""
    loader = service.link_loader(conn)
    wanted: dict[str, set[int]] = {}
    for row in rows:
        if row.entity in service.entities:
            wanted.setdefault(row.entity, set()).add(row.record_id)
    for entity, ids in wanted.items():
        found = service.stored_records(conn, entity, ids)
        loader.prime(entity, found)
        for name, target in service.link_targets(entity).items():
            linked = {r[name] for r in found.values() if r is not None and isinstance(r.get(name), int)}
            loader.prime(target, service.stored_records(conn, target, linked))
    return loader


def _handle(
    service: RecordService,
    conn: sa.Connection,
    loader: LinkLoader,
    row: Any,
    moment: dt.datetime,
    pending: list[dict[str, Any]] | None,
) -> tuple[str, str | None, bool]:
    """Fire one claimed timer within `conn`: the status to record, why, and whether its actions may have
    written records (not only outbox rows)."""
    flows = service.flows
    automation = flows.automations.get(row.automation) if flows is not None else None
    if automation is None or row.entity not in service.entities:
        return CANCELLED, "the automation no longer exists", False
    due = row.due_at.replace(tzinfo=dt.UTC)
    if due_verdict(due, moment, automation.grace) != "fire":
        late = moment - due
        return MISSED, f"found {late} late, past its grace of {automation.grace} (the worker was down?)", False
    stored = loader.record(row.entity, row.record_id)
    if stored is None:
        return CANCELLED, "the record was deleted", False
    now = moment.astimezone(service.zone)
    values = context(service, conn, row.entity, row.record_id, stored, loader)
    related = SqlRelated(service, conn, (row.entity, row.record_id))
    if not automation.holds(values, now, related):
        return CANCELLED, f"the condition `{automation.spec.if_}` no longer held when it was due", False
    actions = tuple(automation.ready_actions(values, now, related))
    wrote = any(a.spec.notify is None and a.spec.webhook is None for a in actions)
    run = replace(service.new_run(conn, now), pending_outbox=pending)
    perform(service, run, row.entity, row.record_id, actions, due.isoformat())
    return FIRED, None, wrote
