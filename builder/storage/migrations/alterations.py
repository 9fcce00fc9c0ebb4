"""Column-level changes: types, drops, indexes, unique and foreign-key constraints.

SQLite can change most of these only by copying the table (Alembic's batch mode), so
all the alterations of one table run inside one `batch_alter_table` block, in the
`order` below: constraints are dropped before columns change and added after. Adding or
dropping an index needs no copy (Alembic runs CREATE/DROP INDEX); anything else does. A
type change within one SQLite affinity (text of any length) is made before the block, in
the schema alone (sqlite_retype.py), and adds nothing to it: no copy. The plan makes it
part of the copy instead when the table is copied for another change anyway, or when this
SQLite refuses to write its schema (defensive mode, found when planning; should it refuse
only at apply, the change joins the block there and the table is copied).
PostgreSQL runs the same block as plain ALTER statements.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

import sqlalchemy as sa
from alembic.operations import Operations
from alembic.operations.base import BatchOperations

from ..last4 import LAST4_SUFFIX
from .length_checks import LengthCheck, add_statement, check_name, drop_statement
from .naming import sql_type
from .operations import Phase, Step, quote
from .rewrites import PlannedRewrite
from .sqlite_retype import retype, retypes_in_place
from .types import TypeVerdict, kind_of


@dataclass
class Alteration(Step):
    """A change made inside the table's batch block."""

    phase: ClassVar[Phase] = Phase.ALTER_TABLE
    order: ClassVar[int] = 0

    def prepare(self, ops: Operations) -> None:
        """Work done before the batch block (e.g. cutting values that would not fit)."""

    def apply_batch(self, batch: BatchOperations) -> None:
        raise NotImplementedError

    def copies_table(self, dialect: str) -> bool:
        """Whether SQLite must copy the table for this change (its search indexes are then made again).

        Alembic's batch mode copies the table for every change but CREATE/DROP INDEX
        (`SQLiteImpl.requires_recreate_in_batch`).
        """
        return dialect == "sqlite"

    def apply(self, ops: Operations) -> None:
        with ops.batch_alter_table(self.table) as batch:
            self.apply_batch(batch)


def _count(connection: sa.Connection, table: str, condition: sa.ColumnElement[bool]) -> int:
    return connection.execute(sa.select(sa.func.count()).select_from(sa.table(table)).where(condition)).scalar_one()


@dataclass
class DropForeignKey(Alteration):
    name: str = ""
    columns: tuple[str, ...] = ()
    order: ClassVar[int] = 0

    def describe(self) -> str:
        return f"remove the link constraint on {self.table}.{', '.join(self.columns)}"

    def apply_batch(self, batch: BatchOperations) -> None:
        batch.drop_constraint(self.name, type_="foreignkey")


@dataclass
class DropUnique(Alteration):
    name: str = ""
    columns: tuple[str, ...] = ()
    order: ClassVar[int] = 1

    def describe(self) -> str:
        return f"no longer require unique {self.table}.{', '.join(self.columns)}"

    def apply_batch(self, batch: BatchOperations) -> None:
        batch.drop_constraint(self.name, type_="unique")


@dataclass
class DropIndex(Alteration):
    name: str = ""
    columns: tuple[str, ...] = ()
    order: ClassVar[int] = 2

    def describe(self) -> str:
        return f"drop index {self.name} on {self.table}"

    def copies_table(self, dialect: str) -> bool:
        return False  # DROP INDEX, also in SQLite's batch mode

    def apply_batch(self, batch: BatchOperations) -> None:
        batch.drop_index(self.name)


@dataclass
class ChangeType(Alteration):
    """A column's type changes; narrowing loses data, some widenings still check the values.

    `old_type` is what the column behaves as; on PostgreSQL a length check may make it
    shorter than `declared_type`, the type in the catalogue (length_checks.py).
    """

    column: str = ""
    old_type: Any = field(default=None, repr=False)
    new_type: Any = field(default=None, repr=False)
    verdict: TypeVerdict = field(kw_only=True)
    declared_type: Any = field(default=None, repr=False, kw_only=True)
    check: LengthCheck | None = field(default=None, kw_only=True)
    dialect: str = field(default="", kw_only=True)
    refused: bool = field(default=False, init=False, repr=False, compare=False)  # SQLite would not edit its schema
    copied: str = field(default="", init=False, compare=False)  # why SQLite copies the table though it need not
    order: ClassVar[int] = 3

    @property
    def declared(self) -> Any:
        return self.old_type if self.declared_type is None else self.declared_type

    def describe(self) -> str:
        change = "widen" if self.verdict.safe else "narrow"
        return (
            f"{change} field {self.names.column(self.table, self.column)}: "
            f"{sql_type(self.old_type)} -> {sql_type(self.new_type)} ({self.verdict.reason}{self._how()})"
        )

    @property
    def retypable(self) -> bool:
        """SQLite, same affinity (text of any length...): the declared type alone could change (sqlite_retype.py)."""
        return self.dialect == "sqlite" and retypes_in_place(self.declared, self.new_type)

    @property
    def in_place(self) -> bool:
        """Only the declared type changes, no copy: unless the plan has the table copied (`copied` says why)."""
        return self.retypable and not self.copied

    def copies_table(self, dialect: str) -> bool:
        return dialect == "sqlite" and not self.in_place

    def _how(self) -> str:
        """What is kept, what checks the length, what is copied (the plan says what really happens)."""
        if self.in_place:
            return "; only the declared type changes, the table is not copied"
        if self.copied:
            return f"; {self.copied}"
        if self.dialect != "postgresql" or not self._texts():
            return ""
        if self._checked_length() is not None:
            return f"; the column stays {sql_type(self.declared)}, a check holds it to {self._checked_length()}"
        if self.check is not None:
            return "; its length check is dropped"
        return ""

    def _texts(self) -> bool:
        return kind_of(self.old_type) in ("text", "long_text") and kind_of(self.new_type) in ("text", "long_text")

    def _checked_length(self) -> int | None:
        """PostgreSQL: the length a check must hold the column to, when its type cannot without a rewrite."""
        if self.dialect != "postgresql" or not self._texts() or isinstance(self.new_type, sa.Enum):
            return None
        wanted = getattr(self.new_type, "length", None)
        room = getattr(self.declared, "length", None) if kind_of(self.declared) == "text" else None
        if wanted is None or (room is not None and wanted >= room):
            return None  # the type itself holds it (after a widening that needs no rewrite)
        return int(wanted)

    def examine(self, connection: sa.Connection) -> None:
        column: sa.ColumnClause[Any] = sa.column(self.column)
        self.loses_data = not self.verdict.safe
        if self.verdict.cut_length is not None:
            longer = _count(connection, self.table, sa.func.length(sa.cast(column, sa.Text)) > self.verdict.cut_length)
            self.facts = f"{longer} values are longer and would be cut" if longer else "every value fits"
        elif self.verdict.integer_digits is not None:
            too_big = _count(connection, self.table, sa.func.abs(column) >= 10**self.verdict.integer_digits)
            if too_big:
                self.blocked = (
                    f"{too_big} values have more than {self.verdict.integer_digits} digits before "
                    "the decimal point; raise `precision`"
                )
            else:
                self.facts = "every value fits"
        elif self.loses_data:
            stored = _count(connection, self.table, column.is_not(None))
            self.facts = f"{stored} values stored"

    def deferred(self, dialect: str) -> PlannedRewrite | None:
        """Shorter text: longer values are cut in batches after the commit (rewrite_kinds.Cut).

        SQLite does not enforce lengths: the migration only changes the column's declared
        type (no table copy, sqlite_retype.py) and the batches cut the values afterwards;
        the record service holds new values to `max_length`. PostgreSQL keeps the column's
        type (changing it would rewrite the table) and, once the batches are done, holds the
        column to its length with a check constraint (length_checks.py); a widening that the
        type cannot hold without a rewrite replaces the check the same way (nothing is longer,
        nothing is cut).
        """
        cut = self.verdict.cut_length
        if dialect == "sqlite":
            if cut is None or kind_of(self.old_type) not in ("text", "long_text"):
                return None
            return PlannedRewrite("cut", self.table, self.column, {"length": cut}, in_transaction=True)
        length = self._checked_length()
        if length is None:
            return None
        detail: dict[str, Any] = {"length": length, "check": check_name(self.table, self.column)}
        if self.check is not None:
            detail["replaces"] = self.check.name
        if cut is None:  # the check is replaced in the transaction (prepare); only its validation waits
            detail["widen"] = True
            return PlannedRewrite("cut", self.table, self.column, detail, in_transaction=True)
        return PlannedRewrite("cut", self.table, self.column, detail)

    def prepare(self, ops: Operations) -> None:
        self.refused = False
        if self.in_place:
            # SQLite in defensive mode will not edit its schema: then the batch below copies the table.
            self.refused = not retype(ops, self.table, self.column, self.new_type)
            return
        self._widen_sequence(ops)
        length = self._checked_length()
        if length is not None and self.verdict.cut_length is None:
            # PostgreSQL, longer but still within the column's type: the new check at once (every value
            # fits the old, shorter one), NOT VALID so nothing is scanned under this transaction's locks.
            quote = ops.impl.dialect.identifier_preparer.quote
            name = check_name(self.table, self.column)
            for old in dict.fromkeys([self.check.name if self.check else None, name]):
                if old:
                    ops.execute(drop_statement(quote, self.table, old))
            ops.execute(add_statement(quote, self.table, self.column, name, length))

    def _widen_sequence(self, ops: Operations) -> None:
        """A PostgreSQL serial column keeps an INTEGER sequence when widened: widen it too."""
        bind = ops.get_bind()
        if (
            bind.dialect.name != "postgresql"
            or (kind_of(self.old_type), kind_of(self.new_type)) != ("integer", "integer")
            or not self.verdict.safe
        ):
            return
        sequence = bind.execute(
            sa.text("SELECT pg_get_serial_sequence(:table, :column)"),
            {"table": quote(ops, self.table), "column": self.column},
        ).scalar()
        if sequence:
            ops.execute(f"ALTER SEQUENCE {sequence} AS {self.new_type.compile(dialect=bind.dialect)}")

    def apply_batch(self, batch: BatchOperations) -> None:
        if self.in_place and not self.refused:
            return  # SQLite: done in prepare, without the batch's table copy
        if self._checked_length() is not None:
            return  # PostgreSQL: the length is a check (prepare, or the cut's batches); the type stays
        if self.check is not None:  # the type changes (or the check goes): a check on the old length must go first
            batch.drop_constraint(self.check.name, type_="check")
        declared = sql_type(self.declared)
        if self._texts() and self.check is not None and declared == sql_type(self.new_type):
            return  # widened back to the column's own type: dropping the check was all
        extra: dict[str, Any] = {}
        if kind_of(self.declared) != kind_of(self.new_type):
            compiled = self.new_type.compile(dialect=batch.impl.dialect)
            extra["postgresql_using"] = f"{quote(batch, self.column)}::{compiled}"
        batch.alter_column(
            self.column, type_=self.new_type, existing_type=self.declared, existing_nullable=True, **extra
        )


@dataclass
class ChangeNullable(Alteration):
    column: str = ""
    nullable: bool = True
    existing_type: Any = field(default=None, repr=False)
    order: ClassVar[int] = 3

    def describe(self) -> str:
        state = "optional" if self.nullable else "required (NOT NULL)"
        return f"make {self.table}.{self.column} {state} in the database"

    def examine(self, connection: sa.Connection) -> None:
        if not self.nullable:
            empty = _count(connection, self.table, sa.column(self.column).is_(None))
            if empty:
                self.blocked = f"{empty} rows have no value"

    def apply_batch(self, batch: BatchOperations) -> None:
        batch.alter_column(self.column, nullable=self.nullable, existing_type=self.existing_type)


@dataclass
class DropColumn(Alteration):
    """A field gone from the blueprint: its values are lost."""

    column: str = ""
    column_type: Any = field(default=None, repr=False)
    order: ClassVar[int] = 4

    def describe(self) -> str:
        return f"drop field {self.names.column(self.table, self.column, self.column_type)}"

    def examine(self, connection: sa.Connection) -> None:
        if self.column.endswith(LAST4_SUFFIX) and self.column[: -len(LAST4_SUFFIX)] in self.names.fields_of(self.table):
            self.facts = "hashes of the phone's last 4 digits, nothing else is lost"  # `last4_search` removed
            return
        stored = _count(connection, self.table, sa.column(self.column).is_not(None))
        self.loses_data = True
        self.facts = f"{stored} values would be lost" if stored else "no values stored"

    def apply_batch(self, batch: BatchOperations) -> None:
        batch.drop_column(self.column)


@dataclass
class AddUnique(Alteration):
    """A field becomes unique: refused while the current values have duplicates."""

    name: str = ""
    columns: tuple[str, ...] = ()
    order: ClassVar[int] = 5

    def describe(self) -> str:
        return f"make {', '.join(self.names.column(self.table, c) for c in self.columns)} unique"

    def examine(self, connection: sa.Connection) -> None:
        cols: list[sa.ColumnClause[Any]] = [sa.column(c) for c in self.columns]
        groups = (
            sa.select(*cols, sa.func.count().label("n"))
            .select_from(sa.table(self.table, *cols))
            .where(*[c.is_not(None) for c in cols])
            .group_by(*cols)
            .having(sa.func.count() > 1)
            .subquery()
        )
        found = connection.execute(sa.select(sa.func.count(), sa.func.coalesce(sa.func.sum(groups.c.n), 0))).one()
        if found[0]:
            self.blocked = f"{found[0]} values appear more than once ({found[1]} rows); remove the duplicates first"

    def apply_batch(self, batch: BatchOperations) -> None:
        batch.create_unique_constraint(self.name, list(self.columns))


@dataclass
class AddIndex(Alteration):
    name: str = ""
    columns: tuple[str, ...] = ()
    unique: bool = False
    order: ClassVar[int] = 6

    def describe(self) -> str:
        return f"add {'unique ' if self.unique else ''}index on {self.table}.{', '.join(self.columns)}"

    def copies_table(self, dialect: str) -> bool:
        return False  # CREATE INDEX, also in SQLite's batch mode

    def examine(self, connection: sa.Connection) -> None:
        if self.unique:
            AddUnique.examine(self, connection)  # type: ignore[arg-type]

    def apply_batch(self, batch: BatchOperations) -> None:
        batch.create_index(self.name, list(self.columns), unique=self.unique)

    def concurrently(self) -> list[str]:
        """A plain index on a live table is built without blocking writes (unique ones stay checked in the plan)."""
        if self.unique:
            return []
        columns = ", ".join(f'"{c}"' for c in self.columns)
        return [f'CREATE INDEX CONCURRENTLY IF NOT EXISTS "{self.name}" ON "{self.table}" ({columns})']


@dataclass
class AddForeignKey(Alteration):
    """A link field now points at another table: every current value must exist there."""

    name: str = ""
    columns: tuple[str, ...] = ()
    referred_table: str = ""
    referred_columns: tuple[str, ...] = ()
    ondelete: str | None = None
    order: ClassVar[int] = 7

    def describe(self) -> str:
        return f"link {self.table}.{', '.join(self.columns)} to {self.referred_table}"

    def examine(self, connection: sa.Connection) -> None:
        if len(self.columns) != 1:
            return
        column: sa.ColumnClause[Any] = sa.column(self.columns[0])
        target: sa.ColumnClause[Any] = sa.column(self.referred_columns[0])
        missing = _count(
            connection,
            self.table,
            column.is_not(None)
            & column.not_in(sa.select(target).select_from(sa.table(self.referred_table, target)).scalar_subquery()),
        )
        if missing:
            self.blocked = f"{missing} values point at {self.referred_table} rows that do not exist"

    def apply_batch(self, batch: BatchOperations) -> None:
        batch.create_foreign_key(
            self.name, self.referred_table, list(self.columns), list(self.referred_columns), ondelete=self.ondelete
        )


@dataclass
class Unsupported(Alteration):
    """A difference `crm migrate` does not know how to make safely: always refused."""

    detail: str = ""
    order: ClassVar[int] = 8

    def describe(self) -> str:
        return f"change {self.table}: {self.detail}"

    def examine(self, connection: sa.Connection) -> None:
        self.blocked = "crm migrate cannot make this change; make it by hand"

    def apply_batch(self, batch: BatchOperations) -> None:  # pragma: no cover - always blocked
        raise NotImplementedError(self.detail)
