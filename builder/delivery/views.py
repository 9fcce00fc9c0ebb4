"""What the outbox and inbox pages read and change: no message bodies of the outbox, ever.

The outbox holds no body and no address by design; the admin page shows what a row is
about (entity, record, template, channel), its status, reason and attempts.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from ..storage.database import reading, write_transaction
from ..system_tables import inbox, outbox

STATUSES = ("pending", "sending", "sent", "failed", "dead", "skipped")
PER_PAGE = 50


@dataclass(frozen=True)
class OutboxPage:
    rows: list[Any]
    counts: dict[str, int]
    total: int
    page: int
    pages: int


def outbox_page(engine: sa.Engine, status: str | None, page: int = 1) -> OutboxPage:
    """One page of outbox rows (newest first), optionally of one status, and the count per status."""
    query = sa.select(outbox)
    counting = sa.select(sa.func.count()).select_from(outbox)
    if status in STATUSES:
        query = query.where(outbox.c.status == status)
        counting = counting.where(outbox.c.status == status)
    with engine.connect() as conn:
        by_status = conn.execute(sa.select(outbox.c.status, sa.func.count()).group_by(outbox.c.status)).all()
        counts = {str(status): int(count) for status, count in by_status}
        total = int(conn.execute(counting).scalar_one())
        pages = max(1, -(-total // PER_PAGE))
        page = min(max(1, page), pages)
        rows = list(
            conn.execute(query.order_by(outbox.c.id.desc()).limit(PER_PAGE).offset((page - 1) * PER_PAGE)).all()
        )
    return OutboxPage(rows, counts, total, page, pages)


def unread_count(engine: sa.Engine, user_id: int) -> int:
    with reading(engine) as conn:
        query = sa.select(sa.func.count()).where(inbox.c.user_id == user_id, inbox.c.read_at.is_(None))
        return int(conn.execute(query).scalar_one())


def inbox_items(engine: sa.Engine, user_id: int, limit: int = 100) -> list[Any]:
    """The user's messages, unread first, newest first."""
    with engine.connect() as conn:
        query = (
            sa.select(inbox)
            .where(inbox.c.user_id == user_id)
            .order_by(inbox.c.read_at.is_not(None), inbox.c.id.desc())
            .limit(limit)
        )
        return list(conn.execute(query).all())


def mark_read(engine: sa.Engine, user_id: int, item_id: int | None, now: dt.datetime) -> int:
    """Mark one of the user's messages (or all, `item_id` None) read; another user's are never touched."""
    condition = sa.and_(inbox.c.user_id == user_id, inbox.c.read_at.is_(None))
    if item_id is not None:
        condition = sa.and_(condition, inbox.c.id == item_id)
    with write_transaction(engine) as conn:
        return conn.execute(inbox.update().where(condition).values(read_at=now)).rowcount


def outbox_for_record(engine: sa.Engine, entity: str, record_id: int, limit: int = 20) -> list[Any]:
    """The messages about one record, newest first: for its timeline (status, template, channel, when, why)."""
    columns = [outbox.c[name] for name in ("id", "automation", "channel", "template", "status", "attempts")]
    columns += [outbox.c[name] for name in ("created_at", "sent_at", "next_attempt_at", "reason")]
    with engine.connect() as conn:
        query = (
            sa.select(*columns)
            .where(outbox.c.entity == entity, outbox.c.record_id == record_id)
            .order_by(outbox.c.id.desc())
            .limit(limit)
        )
        return list(conn.execute(query).all())
