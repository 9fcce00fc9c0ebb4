"""Scheduled report mails: a job the worker calls as `run_due_report_mails(service, reports, now)`.

Each report with a `schedule:` gets a `crm_schedule` row named `report:NAME`,
claimed and moved on like a scheduled automation's (`FOR UPDATE SKIP LOCKED` on
PostgreSQL, the write lock on SQLite), so a mail goes out once however many
workers there are. A due run writes one outbox row per role in `to_roles`, in
the same transaction: names only (the report, the role), no figures. The
workbook is built when the row is delivered (builder/delivery/report_mail.py),
so the mail carries the figures of its sending. A run found more than an hour
late (the worker was down) is recorded as missed, never sent late.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from builder.storage.database import is_sqlite, write_transaction
from builder.system_tables import outbox, schedules
from engines.workflows import due_verdict, next_run

from .outbox import outbox_key, utc

if TYPE_CHECKING:
    from .service import RecordService

PREFIX = "report:"
GRACE = dt.timedelta(hours=1)


def _scheduled(reports: Mapping[str, Any]) -> dict[str, Any]:
    return {name: spec for name, spec in reports.items() if getattr(spec, "schedule", None) is not None}


def run_due_report_mails(service: RecordService, reports: Mapping[str, Any], now: dt.datetime) -> int:
    """Queue the report mails due at `now` (aware, or naive UTC); how many runs were handled."""
    scheduled = _scheduled(reports)
    if not scheduled:
        return 0
    moment = now if now.tzinfo is not None else now.replace(tzinfo=dt.UTC)
    handled = 0
    with write_transaction(service.engine) as conn:
        known = set(conn.execute(sa.select(schedules.c.automation)).scalars())
        for name, spec in scheduled.items():
            if PREFIX + name not in known:
                first = next_run(spec.schedule.cron, moment, service.zone)
                try:
                    with conn.begin_nested():
                        conn.execute(schedules.insert().values(automation=PREFIX + name, next_run=utc(first)))
                except sa.exc.IntegrityError:
                    pass  # another worker added it first
    for name, spec in scheduled.items():
        with write_transaction(service.engine) as conn:
            query = sa.select(schedules).where(schedules.c.automation == PREFIX + name)
            query = query.where(schedules.c.next_run <= utc(moment))
            if not is_sqlite(conn):
                query = query.with_for_update(skip_locked=True)
            row = conn.execute(query).first()
            if row is None:
                continue
            due = row.next_run.replace(tzinfo=dt.UTC)
            if due_verdict(due, moment, GRACE) == "fire":
                queued = _queue(conn, name, spec, due, moment)
                result = f"{queued} mails queued"
            else:
                result = f"missed: found {moment - due} late, past its grace of {GRACE}"
            conn.execute(
                schedules.update()
                .where(schedules.c.automation == PREFIX + name)
                .values(
                    next_run=utc(next_run(spec.schedule.cron, moment, service.zone)),
                    last_run=utc(moment),
                    last_result=result[:200],
                )
            )
            handled += 1
    return handled


def _queue(conn: sa.Connection, name: str, spec: Any, due: dt.datetime, moment: dt.datetime) -> int:
    """One pending outbox row per role (keyed by report, role and due moment: never twice)."""
    queued = 0
    for index, role in enumerate(spec.schedule.to_roles):
        key = outbox_key(PREFIX + name, index, spec.source, 0, due.isoformat())
        if conn.execute(sa.select(outbox.c.id).where(outbox.c.key == key)).first() is not None:
            continue
        conn.execute(
            outbox.insert().values(
                key=key,
                automation=(PREFIX + name)[:80],
                channel=spec.schedule.channel,
                template=PREFIX + name,
                entity=spec.source,
                record_id=0,
                recipient=f"role:{role}",
                status="pending",
                attempts=0,
                next_attempt_at=utc(moment),
                created_at=utc(moment),
            )
        )
        queued += 1
    return queued
