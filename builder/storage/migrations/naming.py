"""Tables and columns in the words of the blueprint: entities and fields.

A plan is read by clinic staff and blueprint authors, so `patient.blood_type (text)`
beats `ALTER TABLE patient ADD COLUMN blood_type VARCHAR(255)`.
"""

from __future__ import annotations

import sqlalchemy as sa

from engines.forms import EntitySpec, FieldSpec

from ..last4 import LAST4_SUFFIX
from ..tables import HASH_SUFFIX, SYSTEM_COLUMNS, child_table_name


class BlueprintNames:
    """Looks up the entity or child table, and the field, behind a table and column."""

    def __init__(self, entities: dict[str, EntitySpec]):
        self._fields: dict[str, dict[str, FieldSpec]] = {}
        self._titles: dict[str, str] = {}
        for entity, spec in entities.items():
            self._fields[entity] = spec.fields
            self._titles[entity] = f"entity {entity}"
            for name, field_spec in spec.fields.items():
                if field_spec.type == "table":
                    child = child_table_name(entity, name)
                    self._fields[child] = field_spec.fields or {}
                    self._titles[child] = f"child table {entity}.{name}"

    def table(self, table: str) -> str:
        """`entity patient`, `child table visit.prescriptions`, or `table x` if unknown."""
        return self._titles.get(table, f"table {table}")

    def fields_of(self, table: str) -> dict[str, FieldSpec]:
        return self._fields.get(table, {})

    def field(self, table: str, column: str) -> FieldSpec | None:
        return self._fields.get(table, {}).get(column)

    def column(self, table: str, column: str, column_type: sa.types.TypeEngine | None = None) -> str:
        """`patient.blood_type (text)`; the search index of an encrypted field says so."""
        owner = table.replace("__", ".")
        if column.endswith(HASH_SUFFIX) and column not in SYSTEM_COLUMNS:
            return f"search index of {owner}.{column[: -len(HASH_SUFFIX)]}"
        if column.endswith(LAST4_SUFFIX) and column not in SYSTEM_COLUMNS:
            return f"last 4 digits search index of {owner}.{column[: -len(LAST4_SUFFIX)]}"
        spec = self.field(table, column)
        if spec is not None:
            kind = spec.type + (", encrypted" if spec.encrypted else "")
        elif column_type is not None:
            kind = sql_type(column_type)
        else:
            return f"{owner}.{column}"
        return f"{owner}.{column} ({kind})"


def sql_type(column_type: sa.types.TypeEngine) -> str:
    """A short SQL spelling of a type, for messages: VARCHAR(40), NUMERIC(6, 2)."""
    try:
        return str(column_type.compile())
    except Exception:  # noqa: BLE001 - a type the generic dialect cannot render
        return type(column_type).__name__.upper()
