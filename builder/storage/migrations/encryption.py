"""Steps that touch encrypted values: they need the keyring when the migration runs.

- after a rename, ciphertexts are re-encrypted for the new "table.field" context
  (the associated data), or they would no longer decrypt under the new name;
- a field that becomes `encrypted` has its existing plaintext encrypted and its
  search hash filled in, once its column is TEXT;
  both in committed batches after the migration's transaction (rewrites.py);
- an encrypted phone given `last4_search` has the keyed hash of its last 4 digits
  filled in for the rows already stored, in batches too (after any encryption);
- switching encryption off for a field holding values is refused: it would need the
  values decrypted into a narrower column, which `crm migrate` does not do.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

import sqlalchemy as sa
from alembic.operations import Operations

from engines.forms import EntitySpec, FieldSpec, field_type

from ..last4 import has_last4, last4_column
from ..tables import child_table_name, hash_column
from .errors import MigrationError
from .naming import BlueprintNames
from .operations import Phase, Step
from .rewrites import PlannedRewrite


def _stored_count(connection: sa.Connection, table: str, column: str) -> int:
    value: sa.ColumnClause[Any] = sa.column(column)
    return connection.execute(
        sa.select(sa.func.count()).select_from(sa.table(table, value)).where(value.is_not(None))
    ).scalar_one()


@dataclass
class KeyringStep(Step):
    """A step that reads or writes ciphertexts; `apply_migration` hands it the keyring."""

    column: str = ""
    keyring: Any = field(default=None, repr=False, compare=False)

    def _require_keyring(self) -> Any:
        if self.keyring is None:
            raise MigrationError(
                f"{self.describe()}: the encryption keys are needed (set CRM_ENCRYPTION_KEYS or the key file)"
            )
        return self.keyring


@dataclass
class Reencrypt(KeyringStep):
    """Encrypted values of a renamed field or entity, re-encrypted for their new name."""

    old_context: str = ""
    new_context: str = ""
    phase: ClassVar[Phase] = Phase.REENCRYPT

    def describe(self) -> str:
        return f"re-encrypt {self.names.column(self.table, self.column)} for its new name"

    def examine(self, connection: sa.Connection) -> None:
        self.facts = f"{_stored_count(connection, self.table, self.column)} values"

    def deferred(self, dialect: str) -> PlannedRewrite:
        detail = {"old_context": self.old_context, "new_context": self.new_context}
        return PlannedRewrite("reencrypt", self.table, self.column, detail)

    def apply(self, ops: Operations) -> None:
        """Only shown by --dry-run: the values are re-encrypted in batches after the commit."""
        ops.execute(f"-- re-encrypt {self.table}.{self.column} row by row with the keyring")


@dataclass
class EncryptValues(KeyringStep):
    """A field newly marked `encrypted`: its plaintext values are encrypted and indexed."""

    phase: ClassVar[Phase] = Phase.ENCRYPT

    def describe(self) -> str:
        return f"encrypt the existing values of {self.names.column(self.table, self.column)}"

    def examine(self, connection: sa.Connection) -> None:
        self.facts = f"{_stored_count(connection, self.table, self.column)} values"

    def deferred(self, dialect: str) -> PlannedRewrite:
        return PlannedRewrite("encrypt", self.table, self.column)

    def apply(self, ops: Operations) -> None:
        """Only shown by --dry-run: the values are encrypted in batches after the commit."""
        ops.execute(f"-- encrypt {self.table}.{self.column} row by row with the keyring")


@dataclass
class FillLast4(KeyringStep):
    """An encrypted phone given `last4_search`: the keyed hash of each stored value's last 4 digits."""

    phase: ClassVar[Phase] = Phase.ENCRYPT
    order: ClassVar[int] = 1  # after EncryptValues of the same field: it reads what that wrote

    def describe(self) -> str:
        return f"fill the last 4 digits search index of {self.table.replace('__', '.')}.{self.column}"

    def examine(self, connection: sa.Connection) -> None:
        self.facts = f"{_stored_count(connection, self.table, self.column)} values"

    def deferred(self, dialect: str) -> PlannedRewrite:
        return PlannedRewrite("last4", self.table, self.column)

    def apply(self, ops: Operations) -> None:
        """Only shown by --dry-run: the hashes are filled in batches after the commit."""
        ops.execute(f"-- hash the last 4 digits of {self.table}.{self.column} row by row with the keyring")


@dataclass
class StopEncrypting(Step):
    """A field no longer marked `encrypted`: refused while it holds values."""

    column: str = ""
    phase: ClassVar[Phase] = Phase.ENCRYPT

    def describe(self) -> str:
        return f"stop encrypting {self.table.replace('__', '.')}.{self.column}"

    def examine(self, connection: sa.Connection) -> None:
        stored = _stored_count(connection, self.table, self.column)
        if stored:
            self.blocked = (
                f"{stored} encrypted values would have to be decrypted, which crm migrate does not do; "
                "keep `encrypted: true` (or export, empty the field and import again)"
            )

    def apply(self, ops: Operations) -> None:
        """Nothing to do for an empty field: the column changes are steps of their own."""


def fields_by_table(entities: dict[str, EntitySpec]) -> dict[str, dict[str, FieldSpec]]:
    """Each table's fields: entities, and the child tables of their `table` fields."""
    tables: dict[str, dict[str, FieldSpec]] = {}
    for entity, spec in entities.items():
        tables[entity] = spec.fields
        for name, child in spec.fields.items():
            if child.type == "table":
                tables[child_table_name(entity, name)] = child.fields or {}
    return tables


def plan_encryption_changes(
    entities: dict[str, EntitySpec], connection: sa.Connection, names: BlueprintNames
) -> list[Step]:
    """Fields switching encryption on or off (looked at after the renames)."""
    inspector = sa.inspect(connection)
    existing = set(inspector.get_table_names())
    steps: list[Step] = []
    for table, fields in fields_by_table(entities).items():
        if table not in existing:
            continue
        columns = {c["name"] for c in inspector.get_columns(table)}
        for name, spec in fields.items():
            if name not in columns or not field_type(spec.type).stored:
                continue
            encrypted_now = hash_column(name) in columns
            if spec.encrypted and not encrypted_now:
                steps.append(EncryptValues(table, names, column=name))
            elif not spec.encrypted and encrypted_now:
                steps.append(StopEncrypting(table, names, column=name))
            if has_last4(spec) and last4_column(name) not in columns:
                steps.append(FillLast4(table, names, column=name))
    return steps
