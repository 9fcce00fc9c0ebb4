"""The delivery job: claim due outbox rows, send them outside any transaction, record the outcome.

Three short steps per batch, in the shape of Oban, Solid Queue and GoodJob:

1. claim — in one transaction, select due rows (`pending`/`failed` whose time has come,
   or `sending` whose lease ran out) `FOR UPDATE SKIP LOCKED` on PostgreSQL (SQLite: the
   write lock), mark them `sending` with a lease, count the attempt, commit;
2. send — no transaction open, no lock held, while the gateway takes its time;
3. record — one short transaction for the batch: sent, skipped, failed (with its next
   attempt), dead, or back to pending (quiet hours), on each row still ours.

A worker killed between the gateway's acceptance and step 3 leaves its rows `sending`;
after the lease another worker sends them again with the same idempotency key: at least
once, and a duplicate only for messages that were in flight.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa

from ..storage.database import is_sqlite, write_transaction
from ..storage.row_batches import Build, update_rows
from ..system_tables import OUTBOX_QUEUED, outbox
from .deliver import Delivery, Outcome, deliver
from .reading import Reader

log = logging.getLogger("crm.delivery")


def due_rows(now: dt.datetime, batch: int) -> sa.Select[Any]:
    """The ids of the next `batch` rows due at `now`, oldest first (read through ix_crm_outbox_queue)."""
    return (
        sa.select(outbox.c.id)
        .where(OUTBOX_QUEUED, outbox.c.next_attempt_at <= now)
        .order_by(outbox.c.next_attempt_at, outbox.c.id)
        .limit(batch)
    )


def claim(engine: sa.Engine, now: dt.datetime, batch: int, lease_seconds: float) -> list[Any]:
    """Take up to `batch` due rows for this worker; nobody else gets them until the lease ends."""
    lease_end = now + dt.timedelta(seconds=lease_seconds)
    query = due_rows(now, batch)
    with write_transaction(engine, checks=False) as conn:
        if not is_sqlite(conn):
            query = query.with_for_update(skip_locked=True)
        claimed = conn.execute(  # one statement: the queue's usual UPDATE … WHERE id IN (SELECT … SKIP LOCKED)
            outbox.update()
            .where(outbox.c.id.in_(query.scalar_subquery()))
            .values(status="sending", attempts=outbox.c.attempts + 1, next_attempt_at=lease_end)
            .returning(*outbox.c)
        ).all()
        return sorted(claimed, key=lambda row: row.id)


def _values(outcome: Outcome, now: dt.datetime) -> dict[str, Any]:
    values: dict[str, Any] = {"status": outcome.status, "reason": outcome.reason}
    if outcome.status == "sent":
        values.update(sent_at=now, provider_ref=outcome.provider_ref)
    if outcome.next_attempt_at is not None:
        values["next_attempt_at"] = outcome.next_attempt_at
    if outcome.status == "pending":  # delayed (quiet hours): this was not an attempt
        values["attempts"] = outbox.c.attempts - 1
    return values


def record(engine: sa.Engine, results: list[tuple[Any, Outcome]], now: dt.datetime) -> int:
    """Write each outcome on its row if the row is still this claim's (same attempt, still sending).

    One transaction for the batch, and one statement per kind of outcome (storage/row_batches.py):
    a commit or a round trip per message would cost more than the sending.
    """
    groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for row, outcome in results:
        values = _values(outcome, now)
        params = {f"new_{k}": v for k, v in values.items() if k != "attempts"}
        params.update(row_id=row.id, row_attempts=row.attempts)
        groups.setdefault(tuple(sorted(values)), []).append(params)
    written = 0
    with write_transaction(engine, checks=False) as conn:
        for names, rows in groups.items():
            types = {"row_id": outbox.c.id.type, "row_attempts": outbox.c.attempts.type}
            types.update({f"new_{n}": outbox.c[n].type for n in names if n != "attempts"})
            written += update_rows(conn, rows, types, _outcome_update(names))
    return written


def _outcome_update(names: tuple[str, ...]) -> Build:
    """The UPDATE writing one kind of outcome (the columns `names`) on rows still this claim's."""

    def build(value: Callable[[str], sa.ColumnElement[Any]]) -> sa.Update:
        return (
            outbox.update()
            .where(
                outbox.c.id == value("row_id"),
                outbox.c.status == "sending",
                outbox.c.attempts == value("row_attempts"),
            )
            .values({n: outbox.c.attempts - 1 if n == "attempts" else value(f"new_{n}") for n in names})
        )

    return build


ROUND_ROWS = 500  # rows one call delivers at most (several claims of `batch`), like the timer job's limit
ROUND_SECONDS = 1.0  # and no new claim after this long, so the worker's other jobs get their turn


def delivery_job(delivery: Delivery, *, clock: Callable[[], dt.datetime] | None = None) -> Callable[[dt.datetime], int]:
    """A worker job (`job(now) -> rows handled`) delivering due outbox rows, a batch per claim.

    While claims come back full it claims again (up to ROUND_ROWS rows and ROUND_SECONDS): the
    worker's round also checks schedules and due timers, which a backlog of messages need not
    wait for batch after batch.
    """
    settings = delivery.settings

    def deliver_due(now: dt.datetime) -> int:
        started = time.monotonic()
        handled = 0
        while True:
            delivered, claimed = _deliver_batch(delivery, now, clock)
            handled += delivered
            if claimed < settings.batch or delivered < claimed:  # none left, or handed back to a slow gateway
                return handled
            if handled >= ROUND_ROWS or time.monotonic() - started > ROUND_SECONDS:
                return handled

    deliver_due.__name__ = "deliver_outbox"
    return deliver_due


def _deliver_batch(delivery: Delivery, now: dt.datetime, clock: Callable[[], dt.datetime] | None) -> tuple[int, int]:
    """Claim one batch, send it, record the outcomes: (rows delivered, rows claimed)."""
    engine = delivery.records.engine
    settings = delivery.settings
    rows = claim(engine, now, settings.batch, settings.lease_seconds)
    started = time.monotonic()
    results: list[tuple[Any, Outcome]] = []
    with Reader(delivery.records) as reader:
        reader.prefetch_rows(rows)
        for row in rows:
            # a slow gateway: hand back the rest, but only after one delivery, so a round always gets
            # somewhere (a slow read of the batch's records once handed everything back, round after round)
            if results and time.monotonic() - started > settings.lease_seconds / 2:
                release(engine, rows[len(results) :], now)
                break
            results.append((row, _outcome(row, delivery, reader, now)))
    if results:
        record(engine, results, clock() if clock is not None else now)
    return len(results), len(rows)


def _outcome(row: Any, delivery: Delivery, reader: Reader, now: dt.datetime) -> Outcome:
    settings = delivery.settings
    if row.attempts > settings.max_attempts:  # taken back from dead workers again and again
        return Outcome("dead", f"worker lost it {row.attempts - 1} times")
    try:
        return deliver(row, delivery, now, reader)
    except Exception as exc:  # noqa: BLE001 - one bad row must not stop the others
        log.error("outbox row %s: %s", row.id, type(exc).__name__)  # no message, no address
        reason = f"internal error ({type(exc).__name__})"
        if row.attempts >= settings.max_attempts:
            return Outcome("dead", reason)
        return Outcome("failed", reason, next_attempt_at=now + dt.timedelta(seconds=settings.lease_seconds))


def release(engine: sa.Engine, rows: list[Any], now: dt.datetime) -> None:
    """Give claimed rows back untried (due now, the attempt not counted), if they are still ours."""
    with write_transaction(engine, checks=False) as conn:
        for row in rows:
            conn.execute(
                outbox.update()
                .where(outbox.c.id == row.id, outbox.c.status == "sending", outbox.c.attempts == row.attempts)
                .values(status="pending", attempts=row.attempts - 1, next_attempt_at=now)
            )


def retry(engine: sa.Engine, row_id: int, now: dt.datetime) -> bool:
    """An admin's retry of a dead or failed row: due now, with a fresh count of attempts."""
    with write_transaction(engine, checks=False) as conn:
        result = conn.execute(
            outbox.update()
            .where(outbox.c.id == row_id, outbox.c.status.in_(("dead", "failed")))
            .values(status="pending", attempts=0, next_attempt_at=now, reason=None)
        )
    return result.rowcount == 1
