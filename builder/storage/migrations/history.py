"""`crm_blueprint_history`: one row per applied migration.

Besides telling an operator what changed and when, the history is how the planner
knows which tables are the blueprint's: a table dropped from the blueprint is
still "ours" (and may be dropped) only if an earlier migration recorded it, so
tables made by hand or by other parts of the builder are never touched.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from ..database import inserted_id
from ..locks import hold_schema_setup

HISTORY_TABLE = "crm_blueprint_history"
HISTORY_METADATA = sa.MetaData()

history = sa.Table(
    HISTORY_TABLE,
    HISTORY_METADATA,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("blueprint_hash", sa.String(64), nullable=False),
    sa.Column("applied_at", sa.DateTime, nullable=False),
    sa.Column("applied_by", sa.String(64), nullable=False),
    sa.Column("summary", sa.Text, nullable=False),
    sa.Column("tables", sa.Text, nullable=False),  # JSON list: the blueprint's tables after this migration
    sa.Column("blueprint", sa.Text, nullable=True),  # JSON: the blueprint (or its entities) applied
)


@dataclass(frozen=True)
class HistoryEntry:
    """One applied migration, as `crm migrate --history` shows it."""

    id: int
    blueprint_hash: str
    applied_at: dt.datetime
    applied_by: str
    summary: str
    tables: list[str]
    blueprint: str | None


def ensure_history_table(connection: sa.Connection) -> None:
    hold_schema_setup(connection)
    HISTORY_METADATA.create_all(connection, checkfirst=True)


def _exists(connection: sa.Connection) -> bool:
    return sa.inspect(connection).has_table(HISTORY_TABLE)


def recorded_tables(connection: sa.Connection) -> set[str]:
    """The blueprint's tables as the last applied migration left them (empty if none)."""
    if not _exists(connection):
        return set()
    row = connection.execute(sa.select(history.c.tables).order_by(history.c.id.desc()).limit(1)).first()
    return set(json.loads(row[0])) if row else set()


def record(
    connection: sa.Connection,
    *,
    blueprint_hash: str,
    applied_by: str,
    summary: list[str],
    tables: list[str],
    blueprint_json: str | None,
) -> int:
    """Add the row for a migration just applied (same transaction); returns its id."""
    ensure_history_table(connection)
    result = connection.execute(
        history.insert().values(
            blueprint_hash=blueprint_hash,
            applied_at=dt.datetime.now(dt.UTC).replace(tzinfo=None),
            applied_by=applied_by[:64],
            summary="\n".join(summary),
            tables=json.dumps(sorted(tables)),
            blueprint=blueprint_json,
        )
    )
    return inserted_id(result)


def _entry(row: Any) -> HistoryEntry:
    return HistoryEntry(
        row.id, row.blueprint_hash, row.applied_at, row.applied_by, row.summary, json.loads(row.tables), row.blueprint
    )


def applied_history(engine: sa.Engine) -> list[HistoryEntry]:
    """Every applied migration, oldest first (times are UTC)."""
    with engine.connect() as connection:
        if not _exists(connection):
            return []
        return [_entry(row) for row in connection.execute(sa.select(history).order_by(history.c.id))]
