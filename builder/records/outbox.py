"""Outbox rows: the messages and webhooks an automation sends, written in the write's transaction.

A row holds a reference to the recipient (`patient`, `role:doctor`), never an address
or a body: delivery (builder/worker) resolves and renders them from the current
record when it sends, so a withdrawn consent is honoured and no PHI sits here in clear.
The key is the idempotency key: the same event gives the same key, so a row is
never written twice for it, and gateways can drop a duplicate delivery.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from typing import Any

import sqlalchemy as sa

from builder.storage.row_batches import insert_rows
from builder.system_tables import outbox as outbox_table
from engines.workflows import ReadyAction

KEY_LENGTH = 120


def utc(moment: dt.datetime) -> dt.datetime:
    """An aware moment as the naive UTC the workflow tables store."""
    return moment.astimezone(dt.UTC).replace(tzinfo=None, microsecond=0)


def outbox_key(automation: str, index: int, entity: str, record_id: int, occurrence: str) -> str:
    """`automation:action:entity:record:occurrence`, hashed at the end when it would be too long."""
    key = f"{automation}:{index}:{entity}:{record_id}:{occurrence}"
    if len(key) <= KEY_LENGTH:
        return key
    return f"{key[: KEY_LENGTH - 41]}#{hashlib.sha256(key.encode()).hexdigest()[:40]}"


def add(
    conn: sa.Connection,
    action: ReadyAction,
    channel: str,
    template: str | None,
    entity: str,
    record_id: int,
    recipient: str,
    occurrence: str,
    now: dt.datetime,
    pending: list[dict[str, Any]] | None = None,
) -> None:
    """Write one pending row (nothing when this occurrence already has one).

    With `pending`, the row is only collected there, for `write_rows` to insert with the
    rest of a batch in the same transaction (a round trip per message saved).
    """
    stamp = utc(now)
    row = {
        "key": outbox_key(action.automation, action.index, entity, record_id, occurrence),
        "automation": action.automation,
        "channel": channel,
        "template": template,
        "entity": entity,
        "record_id": record_id,
        "recipient": recipient[:200],
        "status": "pending",
        "attempts": 0,
        "next_attempt_at": stamp,
        "created_at": stamp,
    }
    if pending is not None:
        pending.append(row)
    else:
        write_rows(conn, [row])


def write_rows(conn: sa.Connection, rows: list[dict[str, Any]]) -> None:
    """Insert outbox rows in one statement; a key already there (the same occurrence) is left as it is."""
    insert_rows(conn, outbox_table, rows, unique=["key"])
