"""Migration steps that work on whole tables and names: renames, new tables, new columns.

Like Django's operations, each step is a small object that can describe itself,
knows whether it loses data and applies itself through Alembic's `Operations`.
Column-level changes that SQLite can only make by copying the table live in
`alterations.py`; the order of the phases below is the order a plan runs in
(renames first, so that later comparisons see the new names).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum
from typing import ClassVar

import sqlalchemy as sa
from alembic.operations import Operations
from alembic.operations.base import AbstractOperations

from .naming import BlueprintNames
from .rewrites import PlannedRewrite


class Phase(IntEnum):
    RENAME_TABLE = 0
    RENAME_COLUMN = 1
    REENCRYPT = 2
    CREATE_TABLE = 3
    ADD_COLUMN = 4
    ALTER_TABLE = 5  # column-level changes, one batch per table (see alterations.py)
    ENCRYPT = 6  # existing values of a newly encrypted field (the column is TEXT by now)
    FILL = 7  # empty rows of required fields get their default (see fills.py)
    DROP_TABLE = 8
    INDEX = 9  # search indexes and rebuilds; on PostgreSQL after the transaction, CONCURRENTLY (indexes.py)


def quote(ops: AbstractOperations, name: str) -> str:
    return ops.impl.dialect.identifier_preparer.quote(name)


@dataclass
class Step:
    """One change to the database. `examine` fills in what the current data implies."""

    table: str
    names: BlueprintNames = field(repr=False, compare=False)
    phase: ClassVar[Phase]
    loses_data: bool = field(default=False, init=False)
    blocked: str | None = field(default=None, init=False)  # why it cannot apply to the current data
    facts: str = field(default="", init=False)  # what the data says, e.g. "3 values stored"

    def describe(self) -> str:
        raise NotImplementedError

    def examine(self, connection: sa.Connection) -> None:
        """Look at the current data (inside the planning transaction, after renames)."""

    def apply(self, ops: Operations) -> None:
        raise NotImplementedError

    def concurrently(self) -> list[str]:
        """PostgreSQL statements that replace `apply` after the transaction (CREATE INDEX CONCURRENTLY), or none."""
        return []

    def deferred(self, dialect: str) -> PlannedRewrite | None:
        """The data rewrite this step leaves to committed batches after the commit (rewrites.py), or none."""
        return None

    def summary(self) -> str:
        """describe() plus the facts, for plans and refusals."""
        return f"{self.describe()} ({self.facts})" if self.facts else self.describe()


@dataclass
class RenameTable(Step):
    """An entity (or a child table field) renamed with `renamed_from`: rows stay."""

    old: str = ""
    phase: ClassVar[Phase] = Phase.RENAME_TABLE

    def describe(self) -> str:
        return f"rename {self.names.table(self.table)} (was table {self.old})"

    def apply(self, ops: Operations) -> None:
        ops.rename_table(self.old, self.table)


@dataclass
class RenameColumn(Step):
    """A field renamed with `renamed_from`: values stay."""

    old: str = ""
    new: str = ""
    phase: ClassVar[Phase] = Phase.RENAME_COLUMN

    def describe(self) -> str:
        return f"rename field {self.names.column(self.table, self.new)} (was {self.old})"

    def apply(self, ops: Operations) -> None:
        # Native on PostgreSQL and on SQLite >= 3.25; no table copy needed.
        ops.execute(
            f"ALTER TABLE {quote(ops, self.table)} RENAME COLUMN {quote(ops, self.old)} TO {quote(ops, self.new)}"
        )


@dataclass
class CreateTable(Step):
    """A new entity or child table, with its indexes."""

    definition: sa.Table = field(kw_only=True, repr=False)
    phase: ClassVar[Phase] = Phase.CREATE_TABLE

    def describe(self) -> str:
        return f"create {self.names.table(self.table)}"

    def apply(self, ops: Operations) -> None:
        ops.impl.create_table(self.definition)  # with its indexes


@dataclass
class AddColumn(Step):
    """A new field: an empty, nullable column (its index or constraint is a step of its own)."""

    column: sa.Column = field(kw_only=True, repr=False)
    phase: ClassVar[Phase] = Phase.ADD_COLUMN

    def describe(self) -> str:
        return f"add field {self.names.column(self.table, self.column.name, self.column.type)}"

    def plain_column(self) -> sa.Column:
        """The column without keys or indexes, which Alembic would otherwise add twice."""
        return sa.Column(self.column.name, self.column.type, nullable=True, server_default=self.column.server_default)

    def apply(self, ops: Operations) -> None:
        ops.add_column(self.table, self.plain_column())


@dataclass
class DropTable(Step):
    """An entity (or child table) gone from the blueprint: all its rows are lost."""

    definition: sa.Table | None = field(default=None, repr=False)
    phase: ClassVar[Phase] = Phase.DROP_TABLE

    def describe(self) -> str:
        return f"drop {self.names.table(self.table)}"

    def examine(self, connection: sa.Connection) -> None:
        rows = connection.execute(sa.select(sa.func.count()).select_from(sa.table(self.table))).scalar_one()
        self.loses_data = True
        self.facts = f"{rows} rows would be lost" if rows else "empty"

    def apply(self, ops: Operations) -> None:
        ops.drop_table(self.table)

    def references(self) -> set[str]:
        """Tables this one points at (a child is dropped before its parent)."""
        if self.definition is None:
            return set()
        return {fk.referred_table.name for fk in self.definition.foreign_key_constraints}
