"""Search indexes in the plan, and indexes built without blocking writers on PostgreSQL.

`CREATE INDEX` takes a lock that stops every write to the table until the index is
built: minutes on a million patients. On PostgreSQL, a new plain index on an existing
table (`index: true`, a searched field) and every search index (search_indexes.py) are
therefore built `CONCURRENTLY`, which cannot run inside a transaction: they run after
the migration's transaction has committed, one by one, in autocommit (apply.py). An
interrupted concurrent build leaves an INVALID index behind; the next plan finds it
in the catalogue and drops and rebuilds it. SQLite builds them in the transaction.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

import sqlalchemy as sa
from alembic.operations import Operations

from engines.forms import EntitySpec

from ..search_indexes import SearchIndex, invalid_index_definitions, live_indexes, planned_search_indexes
from .naming import BlueprintNames
from .operations import Phase, Step


@dataclass
class EnableTrigram(Step):
    """`CREATE EXTENSION pg_trgm`, for substring search on an index (in the transaction)."""

    phase: ClassVar[Phase] = Phase.INDEX

    def describe(self) -> str:
        return "enable the pg_trgm extension (substring search on an index)"

    def apply(self, ops: Operations) -> None:
        ops.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")


@dataclass
class CreateSearchIndex(Step):
    """One expression index for `q` (search_indexes.py); CONCURRENTLY on PostgreSQL."""

    index: SearchIndex = field(kw_only=True)
    dialect: str = field(kw_only=True)
    rebuild: bool = field(default=False, kw_only=True)  # an INVALID one is there: drop it first
    copied: bool = field(default=False, kw_only=True)  # SQLite copies the table (alterations.py): made again
    phase: ClassVar[Phase] = Phase.INDEX

    def describe(self) -> str:
        again = " (rebuilding an invalid one left by an interrupted build)" if self.rebuild else ""
        if self.copied:
            again = " (again: the table is copied)"
        return self.index.describe() + again

    def apply(self, ops: Operations) -> None:
        if self.rebuild or (self.copied and self._changed_by_copy(ops)):
            ops.execute(f'DROP INDEX IF EXISTS "{self.index.name}"')
        ops.execute(self.index.create_sql(self.dialect))

    def _changed_by_copy(self, ops: Operations) -> bool:
        """SQLite: the table copy kept this index (SQLAlchemy reads it back) but not all of it (`COLLATE NOCASE`)."""
        if self.dialect != "sqlite" or ops.migration_context.as_sql:
            return False
        found = (
            ops.get_bind()
            .exec_driver_sql("SELECT sql FROM sqlite_master WHERE type = 'index' AND name = ?", (self.index.name,))
            .scalar()
        )
        return found is not None and found != self.index.create_sql("sqlite").replace(" IF NOT EXISTS", "", 1)

    def concurrently(self) -> list[str]:
        drop = [f'DROP INDEX CONCURRENTLY IF EXISTS "{self.index.name}"'] if self.rebuild else []
        return drop + [self.index.create_sql("postgresql", concurrently=True)]


@dataclass
class RebuildIndex(Step):
    """Any other INVALID index on the blueprint's tables (PostgreSQL), made again from its own definition."""

    name: str = field(kw_only=True)
    definition: str = field(kw_only=True)  # pg_get_indexdef: CREATE [UNIQUE] INDEX name ON ...
    phase: ClassVar[Phase] = Phase.INDEX

    def describe(self) -> str:
        return f"rebuild index {self.name} on {self.table} (invalid: an interrupted build left it)"

    def apply(self, ops: Operations) -> None:
        ops.execute(f'DROP INDEX IF EXISTS "{self.name}"')
        ops.execute(self.definition)

    def concurrently(self) -> list[str]:
        create = self.definition.replace(" INDEX ", " INDEX CONCURRENTLY ", 1)
        return [f'DROP INDEX CONCURRENTLY IF EXISTS "{self.name}"', create]


def _trigram_state(connection: sa.Connection) -> str:
    """`installed`, `available` or `missing` (PostgreSQL)."""
    if connection.exec_driver_sql("SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm'").first():
        return "installed"
    if connection.exec_driver_sql("SELECT 1 FROM pg_available_extensions WHERE name = 'pg_trgm'").first():
        return "available"
    return "missing"


def plan_indexes(
    entities: dict[str, EntitySpec],
    connection: sa.Connection,
    names: BlueprintNames,
    owned: set[str],
    copied: set[str] | None = None,
) -> tuple[list[Step], list[str]]:
    """Steps for missing or invalid search indexes (and other invalid indexes), and notes for the plan.

    `copied`: tables SQLite will copy to alter a column; the copy keeps only the indexes
    SQLAlchemy can reflect, not these expression indexes, so they are made again after.
    """
    copied = copied or set()
    dialect = connection.dialect.name
    steps: list[Step] = []
    notes: list[str] = []
    trigram = False
    if dialect == "postgresql" and planned_search_indexes(entities, dialect):
        state = _trigram_state(connection)
        trigram = state != "missing"
        if state == "available":
            steps.append(EnableTrigram("", names))
        elif state == "missing":
            notes.append("pg_trgm is not available on this server: substring search (3+ characters) scans the table")
    live = live_indexes(connection)
    wanted = planned_search_indexes(entities, dialect, trigram=trigram)
    for index in wanted:
        if index.name not in live or not live[index.name]:
            steps.append(
                CreateSearchIndex(index.table, names, index=index, dialect=dialect, rebuild=index.name in live)
            )
        elif index.table in copied:
            steps.append(CreateSearchIndex(index.table, names, index=index, dialect=dialect, copied=True))
    search_names = {index.name for index in wanted}
    for name, (table, definition) in sorted(invalid_index_definitions(connection, owned).items()):
        if name not in search_names:
            steps.append(RebuildIndex(table, names, name=name, definition=definition))
    return steps, notes
