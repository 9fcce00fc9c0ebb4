"""Renames come first: `renamed_from` turns what would be drop + create into a rename.

Without it, renaming `patient.phone_number` to `phone` would look like a dropped
column and a new empty one; with it, the values stay. A rename applies only while
the old name exists and the new one does not, so a blueprint keeping its
`renamed_from` after the migration is harmless.
"""

from __future__ import annotations

import sqlalchemy as sa

from engines.forms import EntitySpec, FieldSpec

from ..last4 import has_last4, last4_column
from ..tables import child_table_name, hash_column
from .encryption import Reencrypt
from .naming import BlueprintNames
from .operations import RenameColumn, RenameTable, Step


def _context(table: str, field: str) -> str:
    return f"{table}.{field}"


class _RenamePlanner:
    def __init__(self, entities: dict[str, EntitySpec], inspector: sa.Inspector, names: BlueprintNames):
        self.entities = entities
        self.inspector = inspector
        self.names = names
        self.existing = set(inspector.get_table_names())
        self.steps: list[Step] = []

    def _rename_table(self, old: str, new: str) -> str:
        """The table's current name: `old` if it is renamed to `new` in this plan."""
        if old != new and old in self.existing and new not in self.existing:
            self.steps.append(RenameTable(new, self.names, old=old))
            return old
        return new

    def _rename_columns(self, table: str, current: str, fields: dict[str, FieldSpec]) -> None:
        """Column renames in `table` (called `current` before this plan), and re-encryption."""
        if current not in self.existing:
            return
        columns = {c["name"] for c in self.inspector.get_columns(current)}
        for name, spec in fields.items():
            if spec.type == "table":
                continue
            old = spec.renamed_from if spec.renamed_from and spec.renamed_from in columns else name
            if old != name and name not in columns:
                self.steps.append(RenameColumn(table, self.names, old=old, new=name))
                if spec.encrypted and hash_column(old) in columns and hash_column(name) not in columns:
                    self.steps.append(RenameColumn(table, self.names, old=hash_column(old), new=hash_column(name)))
                if has_last4(spec) and last4_column(old) in columns and last4_column(name) not in columns:
                    self.steps.append(RenameColumn(table, self.names, old=last4_column(old), new=last4_column(name)))
            was_encrypted = hash_column(old) in columns and old in columns
            if spec.encrypted and was_encrypted and (current, old) != (table, name):
                self.steps.append(
                    Reencrypt(
                        table,
                        self.names,
                        column=name,
                        old_context=_context(current, old),
                        new_context=_context(table, name),
                    )
                )

    def plan(self) -> list[Step]:
        for entity, spec in self.entities.items():
            current = self._rename_table(spec.renamed_from or entity, entity)
            if current not in self.existing:
                current = entity
            self._rename_columns(entity, current, spec.fields)
            for name, field in spec.fields.items():
                if field.type != "table":
                    continue
                child = child_table_name(entity, name)
                candidates = [child_table_name(current, field.renamed_from or name), child_table_name(current, name)]
                old_child = next((c for c in candidates if c in self.existing), child)
                current_child = self._rename_table(old_child, child)
                if current_child not in self.existing:
                    current_child = child
                self._rename_columns(child, current_child, field.fields or {})
        return sorted(self.steps, key=lambda s: s.phase)


def plan_renames(entities: dict[str, EntitySpec], connection: sa.Connection, names: BlueprintNames) -> list[Step]:
    """Table renames, then column renames, then re-encryption of renamed encrypted fields."""
    return _RenamePlanner(entities, sa.inspect(connection), names).plan()
