"""Required fields with empty rows: fill them with the default, or refuse.

Columns are nullable in the database (a field hidden by `visible_if` may stay empty),
so `required` never shows up in Alembic's comparison. Instead the planner looks at
the data: every required field (child tables too) that has empty rows gets a step,
whether the field is new, newly required, or newly given a default. With a default
the rows are filled with it, the way the record service would have filled them on
creation; without one the plan is blocked, naming how many rows are empty, because
those records could not be saved again.

A default that is an expression is evaluated once, at migrate time, if it reads
nothing of the record (`today()`); one that reads the record or other rows is
refused with a message saying to give a constant default or fill the rows first.
Encrypted fields are written through the record codec (ciphertext plus keyed hash).
The rows are filled after the migration's transaction, in committed batches
(rewrites.py, kind `fill`): the value is worked out once and kept for a resumed run.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

import sqlalchemy as sa
from alembic.operations import Operations

from engines.forms import (
    EntitySpec,
    FieldSpec,
    FieldValueError,
    default_is_expression,
    field_type,
)
from engines.rules import ExpressionError, RuleError, compile_expression

from .encryption import KeyringStep, fields_by_table
from .naming import BlueprintNames
from .operations import Phase, Step
from .rewrites import PlannedRewrite


class NoFillValue(Exception):
    """The default cannot be worked out without a record; the text says what to do."""


def field_label(table: str, column: str) -> str:
    """`patient.channel`, or `visit.prescriptions.dose` for a child table's field."""
    return f"{table.replace('__', '.')}.{column}"


def _empty_rows(connection: sa.Connection, table: str, column: str) -> int:
    value: sa.ColumnClause[Any] = sa.column(column)
    return connection.execute(
        sa.select(sa.func.count()).select_from(sa.table(table, value)).where(value.is_(None))
    ).scalar_one()


def fill_value(spec: FieldSpec, timezone: str | None = None) -> Any:
    """The Python value existing rows get: the literal default, or the expression evaluated once."""
    kind = field_type(spec.type)
    default = spec.default
    if default_is_expression(spec):
        try:
            expression = compile_expression(default, names=())
        except ExpressionError:
            raise NoFillValue(
                f"its default `{default}` reads the record, which existing rows cannot give; "
                "give it a constant default or fill them first"
            ) from None
        try:
            default = expression.evaluate({}, timezone=timezone)
        except RuleError:
            raise NoFillValue(
                f"its default `{default}` cannot be worked out without a record; "
                "give it a constant default or fill them first"
            ) from None
    try:
        value = kind.coerce(default, spec)
    except FieldValueError:
        raise NoFillValue(f"its default `{spec.default}` is not a valid {spec.type}") from None
    if kind.is_empty(value):
        raise NoFillValue("its default is empty; give it a default or fill them first")
    return value


@dataclass(frozen=True)
class Fill:
    """What goes into the empty rows of one required field."""

    column: str
    spec: FieldSpec
    value: Any
    empty: int

    def describe(self, table: str) -> str:
        text = field_type(self.spec.type).to_json(self.value, self.spec)
        shown = repr(text) if isinstance(text, str) else str(text)
        return f"fill {self.empty} rows of {field_label(table, self.column)} with {shown}"

    def stored(self, table: str, cipher: Any = None) -> dict[str, Any]:
        """The column values, through the record codec (ciphertext and hash when encrypted)."""
        from builder.records.codec import encode
        from builder.records.compiled import CompiledField

        compiled = CompiledField(self.column, self.spec, field_type(self.spec.type))
        return encode([compiled], {self.column: self.value}, table, cipher)

    def planned(self, table: str) -> PlannedRewrite:
        """The batched fill (rewrite_kinds.Fill): the spec and the value, kept for a resumed run."""
        spec = self.spec.model_dump(mode="json", exclude_defaults=True)
        value = field_type(self.spec.type).to_json(self.value, self.spec)
        return PlannedRewrite("fill", table, self.column, {"spec": spec, "value": value})


@dataclass
class FillRequired(Step):
    """Empty rows of a required field get its default (a plain column), in batches after the commit."""

    fill: Fill | None = None
    column_type: Any = field(default=None, repr=False)
    phase: ClassVar[Phase] = Phase.FILL

    def _fill(self) -> Fill:
        assert self.fill is not None
        return self.fill

    def describe(self) -> str:
        return self._fill().describe(self.table)

    def deferred(self, dialect: str) -> PlannedRewrite:
        return self._fill().planned(self.table)

    def apply(self, ops: Operations) -> None:
        """Shown by --dry-run: the UPDATE the batches run, a range of ids at a time."""
        column = self._fill().column
        target = sa.table(self.table, sa.column(column, self.column_type))
        ops.execute(sa.update(target).where(target.c[column].is_(None)).values(self._fill().stored(self.table)))


@dataclass
class FillEncrypted(KeyringStep):
    """Empty rows of a required encrypted field: ciphertext and search hash, row by row, in batches."""

    fill: Fill | None = None
    phase: ClassVar[Phase] = Phase.FILL

    def _fill(self) -> Fill:
        assert self.fill is not None
        return self.fill

    def describe(self) -> str:
        return self._fill().describe(self.table)

    def deferred(self, dialect: str) -> PlannedRewrite:
        return self._fill().planned(self.table)

    def apply(self, ops: Operations) -> None:
        """Only shown by --dry-run: the rows are filled in batches after the commit."""
        ops.execute(
            f"-- fill {self.table}.{self.column} (and its search hash) where it is empty, row by row with the keyring"
        )


@dataclass
class RequiredButEmpty(Step):
    """A required field with empty rows and no usable default: always refused."""

    column: str = ""
    empty: int = 0
    reason: str = ""
    phase: ClassVar[Phase] = Phase.FILL

    def describe(self) -> str:
        return f"{field_label(self.table, self.column)} is required but {self.empty} rows are empty"

    def examine(self, connection: sa.Connection) -> None:
        self.blocked = self.reason

    def apply(self, ops: Operations) -> None:  # pragma: no cover - always blocked
        raise NotImplementedError(self.describe())


def _needs_value(spec: FieldSpec) -> bool:
    """Required fields every saved record must hold (not computed, not hidden by `visible_if`)."""
    return spec.required and spec.compute is None and spec.visible_if is None and field_type(spec.type).stored


def plan_fills(
    entities: dict[str, EntitySpec],
    connection: sa.Connection,
    names: BlueprintNames,
    target: sa.MetaData,
    timezone: str | None = None,
) -> list[Step]:
    """A step for every required field with empty rows (run after new tables and columns exist)."""
    inspector = sa.inspect(connection)
    existing = set(inspector.get_table_names())
    steps: list[Step] = []
    for table, fields in fields_by_table(entities).items():
        if table not in existing:
            continue
        columns = {c["name"] for c in inspector.get_columns(table)}
        for name, spec in fields.items():
            if name not in columns or not _needs_value(spec):
                continue
            empty = _empty_rows(connection, table, name)
            if not empty:
                continue
            if spec.default is None:
                reason = "give it a default or fill them first"
                steps.append(RequiredButEmpty(table, names, column=name, empty=empty, reason=reason))
                continue
            if spec.unique and empty > 1:
                reason = "it is unique, so one default cannot fill them; fill them first"
                steps.append(RequiredButEmpty(table, names, column=name, empty=empty, reason=reason))
                continue
            try:
                value = fill_value(spec, timezone)
            except NoFillValue as exc:
                steps.append(RequiredButEmpty(table, names, column=name, empty=empty, reason=str(exc)))
                continue
            fill = Fill(name, spec, value, empty)
            if spec.encrypted:
                steps.append(FillEncrypted(table, names, column=name, fill=fill))
            else:
                steps.append(FillRequired(table, names, fill=fill, column_type=target.tables[table].c[name].type))
    return steps
