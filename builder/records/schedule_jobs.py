"""Scheduled (cron) automations: a job the worker calls as `run_due_schedules(service, now)`.

`crm_schedule` holds each scheduled automation's next run. A worker claims a due run
and moves `next_run` on in the same transaction as the run's actions (PostgreSQL:
`FOR UPDATE SKIP LOCKED`; SQLite: the write lock), so a run happens once however
many workers and machines there are. After downtime a missed run still happens once
if it is at most the automation's `grace` late, else it is recorded as missed. Each
selected record's actions run in a savepoint: one record that fails is counted and
named in `last_result`, the others still get their message.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from builder.storage.database import is_sqlite, write_transaction
from builder.system_tables import schedules
from engines.workflows import Automation, FlowError, due_verdict, next_run

from .automations import context, perform
from .errors import RecordError
from .outbox import utc
from .related import SqlRelated

if TYPE_CHECKING:
    from .service import RecordService


def _aware(now: dt.datetime) -> dt.datetime:
    return now if now.tzinfo is not None else now.replace(tzinfo=dt.UTC)


def ensure_schedules(service: RecordService, now: dt.datetime) -> None:
    """Give every scheduled automation a row (its first run is the next one after `now`)."""
    flows = service.flows
    if flows is None:
        return
    with write_transaction(service.engine) as conn:
        known = set(conn.execute(sa.select(schedules.c.automation)).scalars())
        for name, automation in flows.automations.items():
            if automation.spec.schedule is None or name in known:
                continue
            first = next_run(automation.spec.schedule, now, service.zone)
            try:
                with conn.begin_nested():
                    conn.execute(schedules.insert().values(automation=name, next_run=utc(first)))
            except sa.exc.IntegrityError:
                pass  # another worker added it first


def schedules_job(service: RecordService) -> Callable[[dt.datetime], int]:
    """`run_due_schedules` as a worker job that reads `crm_schedule` only once a run may be due.

    It remembers the earliest next run it saw: until then nothing can be due (runs only move
    later, whoever makes them; a blueprint that adds or changes a schedule reloads the worker's
    runtime, and with it this job), so a busy worker's rounds skip the read.
    """
    quiet_until: dt.datetime | None = None

    def run_schedules(now: dt.datetime) -> int:
        nonlocal quiet_until
        if quiet_until is not None and utc(_aware(now)) < quiet_until:
            return 0
        handled, quiet_until = _run_due(service, now)
        return handled

    return run_schedules


def run_due_schedules(service: RecordService, now: dt.datetime) -> int:
    """Run the scheduled automations due at `now` (aware, or naive UTC); how many runs were handled."""
    return _run_due(service, now)[0]


def _run_due(service: RecordService, now: dt.datetime) -> tuple[int, dt.datetime | None]:
    """Run what is due: (runs handled, the earliest next run now known, or None when unknown)."""
    flows = service.flows
    if flows is None:
        return 0, dt.datetime.max
    moment = _aware(now)
    scheduled = {name: a for name, a in flows.automations.items() if a.spec.schedule is not None}
    if not scheduled:
        return 0, dt.datetime.max
    # One read decides whether there is anything to do: an idle worker asks this every round.
    with service.engine.connect() as conn:
        rows = conn.execute(sa.select(schedules.c.automation, schedules.c.next_run)).all()
    rows = [row for row in rows if row.automation in scheduled]  # report mails have rows here too
    if not scheduled.keys() <= {row.automation for row in rows}:
        ensure_schedules(service, moment)
        wanted = set(scheduled)
    else:
        wanted = {row.automation for row in rows if row.next_run <= utc(moment)}
    upcoming: list[dt.datetime | None] = [row.next_run for row in rows if row.automation not in wanted]
    handled = 0
    for name, automation in scheduled.items():
        if name not in wanted:
            continue
        assert automation.spec.schedule is not None
        with write_transaction(service.engine) as conn:
            query = sa.select(schedules).where(schedules.c.automation == name, schedules.c.next_run <= utc(moment))
            if not is_sqlite(conn):
                query = query.with_for_update(skip_locked=True)
            row = conn.execute(query).first()
            if row is None:  # another worker has it (or just ran it): its next run is not known here
                upcoming.append(None)
                continue
            due = row.next_run.replace(tzinfo=dt.UTC)
            if due_verdict(due, moment, automation.grace) == "fire":
                result = _run(service, conn, automation, moment, due)
            else:
                result = f"missed: found {moment - due} late, past its grace of {automation.grace}"
            following = utc(next_run(automation.spec.schedule, moment, service.zone))
            conn.execute(
                schedules.update()
                .where(schedules.c.automation == name)
                .values(next_run=following, last_run=utc(moment), last_result=result[:200])
            )
            upcoming.append(following)
            handled += 1
    known = [u for u in upcoming if u is not None]
    earliest = None if len(known) < len(upcoming) or not known else min(known)
    return handled, earliest


def _run(service: RecordService, conn: sa.Connection, automation: Automation, moment: dt.datetime, due: Any) -> str:
    """Perform the automation on every record `for_each` selects; a summary for `last_result`."""
    entity = automation.entity
    table = service.schema.table(entity)
    now = moment.astimezone(service.zone)
    occurrence = due.isoformat()
    done, failures = 0, []
    for record_id in conn.execute(sa.select(table.c.id).order_by(table.c.id)).scalars().all():
        try:
            with conn.begin_nested():
                stored = service.link_loader(conn).record(entity, record_id)
                values = context(service, conn, entity, record_id, stored)
                related = SqlRelated(service, conn, (entity, record_id))
                if not automation.selects(values, now, related):
                    continue
                actions = tuple(automation.ready_actions(values, now, related))
                perform(service, service.new_run(conn, now), entity, record_id, actions, occurrence)
                done += 1
        except (RecordError, FlowError) as exc:
            failures.append(f"{entity} {record_id}: {exc}")
    summary = f"{done} records"
    if failures:
        summary += f", {len(failures)} failed: {failures[0]}"
    return summary
